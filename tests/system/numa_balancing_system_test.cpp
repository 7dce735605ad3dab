// Automatic NUMA balancing end to end on a two-socket machine (the small
// Skylake-SP machine of small_machine.h): a task on socket 0 whose 16 MiB
// working set was first touched on node 1 converges (numa_pages_migrated
// approaches the working set, the share of its DRAM accesses served by local
// memory rises toward 1, the time per access falls toward the local latency);
// with numa_balancing = 0 nothing moves; two threads on different sockets
// sharing one buffer form a numa group and do not ping-pong its pages; the same
// configuration twice gives the same statistics.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "hw/hw_stats.h"
#include "hw/machine.h"
#include "os/mempolicy.h"
#include "os/numa_balancing.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kWs = 16ull << 20;  // working set
constexpr std::uint64_t kPages = kWs >> 12;

// The LLC of the small machine's two cores per socket (2 x 1.375 MiB), so that
// the working set misses it.
const char* kLlc = R"(
[cache.llc]
size = "2816KiB"
)";
const char* kNumab = R"(
[os.kernel]
numa_balancing = 1
numa_balancing_scan_delay_ms = 1
numa_balancing_scan_period_min_ms = 1
numa_balancing_scan_period_max_ms = 16
numa_balancing_scan_size_mb = 4
)";

// First touches its buffer under set_mempolicy(MPOL_BIND, node 1), returns to the
// default policy, then makes random dependent loads over it; every `chunk`
// loads it records the time per load and the local share of DRAM accesses.
class RemoteInit final : public OpSource {
 public:
  RemoteInit(Machine& m, std::uint64_t loads, std::uint64_t chunk) : m_(m), loads_(loads), chunk_(chunk) {}
  struct Sample {
    double ns_per_load;
    double local_share;
  };
  std::vector<Sample> samples;
  VirtAddr base = 0;

  void start(ThreadContext& ctx) override {
    const long a = ctx.sys_mmap(0, kWs, 3, 0x22, -1, 0);
    ASSERT_GT(a, 0);
    base = static_cast<VirtAddr>(a);
    unsigned long node1 = 2;
    ASSERT_EQ(ctx.sys_set_mempolicy(os::MPOL_BIND, &node1, 3), 0);
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (pending_) {  // the batch holding the chunk's last load has run
      pending_ = false;
      mark(ctx);
      if (done_ >= loads_) {
        b.compute(1);
        return b.size();
      }
    }
    if (touched_ < kPages) {
      while (!b.full() && touched_ < kPages) b.store(base + (touched_++ << 12));
      return b.size();
    }
    if (!policy_reset_) {
      EXPECT_EQ(ctx.sys_set_mempolicy(os::MPOL_DEFAULT, nullptr, 0), 0);
      policy_reset_ = true;
      mark(ctx);
    }
    while (!b.full() && done_ < loads_) {
      x_ = x_ * 6364136223846793005ull + 1442695040888963407ull;
      b.load(base + ((x_ >> 20) % (kWs >> 6)) * 64, 8, true);
      if (++done_ % chunk_ == 0) {
        b.compute(1);  // the chunk ends here; measured at the next fill
        break;
      }
    }
    if (done_ % chunk_ == 0 && done_ > 0 && done_ != last_mark_) {
      last_mark_ = done_;
      pending_ = true;
    }
    return b.size();
  }
  bool done() const override { return touched_ >= kPages && done_ >= loads_ && !pending_; }

 private:
  void mark(ThreadContext& ctx) {
    ctx.flush();
    const Picoseconds now = ctx.now();
    MapStatsVisitor v;
    m_.memory().dump_stats(v);
    const double local = v.values.at("system.mem.local_dram"), remote = v.values.at("system.mem.remote_dram");
    if (have_prev_)
      samples.push_back({static_cast<double>((now - prev_t_).value()) / 1000.0 / static_cast<double>(chunk_),
                         (local - prev_local_) / std::max(1.0, (local - prev_local_) + (remote - prev_remote_))});
    have_prev_ = true;
    prev_t_ = now;
    prev_local_ = local;
    prev_remote_ = remote;
  }
  Machine& m_;
  std::uint64_t loads_, chunk_;
  std::uint64_t touched_ = 0, done_ = 0, last_mark_ = 0;
  std::uint64_t x_ = 12345;
  bool policy_reset_ = false, pending_ = false, have_prev_ = false;
  Picoseconds prev_t_{0};
  double prev_local_ = 0, prev_remote_ = 0;
};

struct NbRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<Machine> m;
  TaskRun* t = nullptr;
  RemoteInit* prog = nullptr;
};

NbRun run_remote_init(const std::string& extra, std::uint64_t loads = 240'000) {
  NbRun r;
  r.doc = testing::small_machine(std::string(kLlc) + extra);
  r.m = std::make_unique<Machine>(r.doc->root());
  r.doc->finish();
  auto inner = std::make_unique<RemoteInit>(*r.m, loads, 20'000);
  r.prog = inner.get();
  r.t = r.m->add_task("remote-init", std::move(inner), CpuId(0));
  r.m->run();
  return r;
}

std::uint64_t vm_event(Machine& m, os::vm_event_item item) { return m.kernel().physmem().all_vm_events()[item]; }

TEST(NumaBalancingSystem, ARemotelyInitialisedWorkingSetConvergesToTheTasksNode) {
  NbRun r = run_remote_init(kNumab);
  ASSERT_TRUE(r.t->finished);
  Machine& m = *r.m;
  const auto migrated = vm_event(m, os::NUMA_PAGE_MIGRATE);
  EXPECT_GE(migrated, kPages * 9 / 10);
  EXPECT_LE(migrated, kPages);  // each page moved once: no ping-pong for a private working set
  EXPECT_GT(vm_event(m, os::NUMA_HINT_FAULTS), 0u);
  EXPECT_GE(vm_event(m, os::NUMA_PTE_UPDATES), vm_event(m, os::NUMA_HINT_FAULTS));
  const auto& s = r.prog->samples;
  ASSERT_GE(s.size(), 8u);
  for (std::size_t i = 0; i < s.size(); ++i)
    std::printf("chunk %zu: %.1f ns/load, local share %.3f\n", i, s[i].ns_per_load, s[i].local_share);
  EXPECT_LT(s.front().local_share, 0.3);
  EXPECT_GT(s.back().local_share, 0.95);
  EXPECT_LT(s.back().ns_per_load, s.front().ns_per_load * 0.8);
  const os::task_numa* n = r.t->task->numa.get();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->numa_preferred_nid, 0);
  EXPECT_GE(n->numa_pages_migrated, kPages * 9 / 10);
}

TEST(NumaBalancingSystem, OffByDefaultNothingMoves) {
  NbRun r = run_remote_init("", 60'000);
  ASSERT_TRUE(r.t->finished);
  EXPECT_EQ(vm_event(*r.m, os::NUMA_PTE_UPDATES), 0u);
  EXPECT_EQ(vm_event(*r.m, os::NUMA_PAGE_MIGRATE), 0u);
  EXPECT_EQ(r.t->task->numa, nullptr);
  const auto& s = r.prog->samples;
  ASSERT_FALSE(s.empty());
  EXPECT_LT(s.back().local_share, 0.05);
}

TEST(NumaBalancingSystem, SameConfigurationTwiceGivesTheSameStatistics) {
  NbRun a = run_remote_init(kNumab, 30'000);
  NbRun b = run_remote_init(kNumab, 30'000);
  EXPECT_EQ(a.m->stats_json(), b.m->stats_json());
  EXPECT_EQ(vm_event(*a.m, os::NUMA_PAGE_MIGRATE), vm_event(*b.m, os::NUMA_PAGE_MIGRATE));
}


// A thread of a process sharing one buffer with the others: the first touches
// every page, the others wait a little; then each makes random reads and
// writes over the whole buffer.
class SharedWorker final : public OpSource {
 public:
  SharedWorker(std::uint64_t pages, bool toucher, std::uint64_t ops, std::uint64_t seed)
      : pages_(pages), toucher_(toucher), ops_(ops), x_(seed) {}
  VirtAddr base = 0;
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    if (toucher_ && touched_ < pages_) {
      while (!b.full() && touched_ < pages_) b.store(base + (touched_++ << 12));
      return b.size();
    }
    if (!toucher_ && wait_ > 0) {
      --wait_;
      b.compute(50'000);
      return b.size();
    }
    while (!b.full() && done_ < ops_) {
      x_ = x_ * 6364136223846793005ull + 1442695040888963407ull;
      const VirtAddr a = base + ((x_ >> 20) % (pages_ << 6)) * 64;
      if ((x_ >> 8) % 4 == 0)
        b.store(a);
      else
        b.load(a, 8, true);
      ++done_;
    }
    return b.size();
  }
  bool done() const override { return done_ >= ops_; }

 private:
  std::uint64_t pages_;
  bool toucher_;
  std::uint64_t ops_, x_;
  std::uint64_t touched_ = 0, done_ = 0;
  int wait_ = 40;
};

TEST(NumaBalancingSystem, ThreadsOnTwoSocketsSharingMemoryFormAGroupAndDoNotPingPong) {
  auto doc = testing::small_machine(std::string(kLlc) + kNumab);
  Machine m(doc->root());
  doc->finish();
  constexpr std::uint64_t kShared = 2048;  // 8 MiB shared by both threads
  auto p0 = std::make_unique<SharedWorker>(kShared, true, 200'000, 1);
  auto p1 = std::make_unique<SharedWorker>(kShared, false, 200'000, 2);
  SharedWorker* w0 = p0.get();
  SharedWorker* w1 = p1.get();
  TaskRun* a = m.add_task("shared", std::move(p0), CpuId(0));
  TaskRun* b = m.add_thread(a, std::move(p1), CpuId(2));  // the other socket
  os::KernelCost cost;
  const long base = m.kernel().sys_mmap(a->task, 0, kShared << 12, 3, 0x22, -1, 0, cost);
  ASSERT_GT(base, 0);
  w0->base = w1->base = static_cast<VirtAddr>(base);
  m.run();
  ASSERT_TRUE(a->finished && b->finished);
  const auto migrated = vm_event(m, os::NUMA_PAGE_MIGRATE);
  const auto scanned = vm_event(m, os::NUMA_PTE_UPDATES);
  const auto faults = vm_event(m, os::NUMA_HINT_FAULTS);
  std::printf("pte updates %llu, hint faults %llu, migrated %llu\n", (unsigned long long)scanned,
              (unsigned long long)faults, (unsigned long long)migrated);
  ASSERT_NE(a->task->numa, nullptr);
  ASSERT_NE(a->task->numa->group, nullptr);
  EXPECT_EQ(a->task->numa->group, b->task->numa->group);  // one numa group (each made its own first)
  EXPECT_EQ(a->task->numa->group->nr_tasks, 0);           // both left it as they exited
  EXPECT_GE(scanned, kShared * 3);                        // every page scanned several times
  // The group spreads the shared pages over the two nodes its CPUs use (Linux's
  // 3/4 hysteresis), each page moving at most about once: fewer moves than pages,
  // where ping-pong would move most pages at every scan.
  EXPECT_LT(migrated, kShared);
  EXPECT_LT(migrated * 2, faults);
}

}  // namespace
}  // namespace numasim::hw
