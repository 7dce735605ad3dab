// Swap-in I/O waits on the whole machine: the default machine's shape (2 nodes,
// 2 CPUs each, scaled down to 128 MiB per node so that the test runs in
// seconds) with an NVMe swap area. A hog bound to node 0 writes more than the
// node holds, then reads it back (major faults, swap-ins); a compute-bound task
// shares its CPU. The hog sleeps during each swap-in and the compute task runs
// meanwhile (the CPU stays busy), every page read back carries its token, and
// the same configuration twice gives the same statistics.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/config.h"
#include "hw/hw_stats.h"
#include "hw/machine.h"
#include "os/page_token.h"
#include "os/vmstat.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

// The default machine's shape (tests/system/small_machine.h) at 128 MiB per node, with NVMe swap.
const char* kSwap = "\n[[os.swap]]\nsize = \"512MiB\"\ndevice = \"nvme\"\n";

// Binds itself to node 0, writes every page of `bytes` with its token, then reads every page back
// (verified: a page that came back from swap must hold what was written).
class Hog final : public OpSource {
 public:
  explicit Hog(std::uint64_t bytes) : pages_(bytes / 4096) {}
  void start(ThreadContext& ctx) override {
    const unsigned long node0 = 1;
    ASSERT_EQ(ctx.sys_set_mempolicy(2 /*MPOL_BIND*/, &node0, 64), 0);
    const long a = ctx.sys_mmap(0, pages_ * 4096, 3, 0x22, -1, 0);
    ASSERT_GT(a, 0);
    base_ = static_cast<VirtAddr>(a);
  }
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    while (!b.full() && !done()) {
      const std::uint64_t p = pos_ % pages_;
      const VirtAddr va = base_ + p * 4096;
      if (pos_ < pages_)
        b.store_verified(va, 0, token(p));
      else
        b.load_verified(va, token(p));
      ++pos_;
    }
    return b.size();
  }
  bool done() const override { return base_ == 0 || pos_ >= 2 * pages_; }

 private:
  static std::uint64_t token(std::uint64_t p) { return 0x5eed'0000'0000ull | (p + 1); }
  std::uint64_t pages_;
  std::uint64_t pos_ = 0;
  VirtAddr base_ = 0;
};

// Pure computation: `ops` ops of 2000 cycles, 64 per batch.
class Compute final : public OpSource {
 public:
  explicit Compute(std::uint64_t ops) : left_(ops) {}
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    for (int i = 0; i < 64 && left_; ++i, --left_) b.compute(2000);
    return b.size();
  }
  bool done() const override { return left_ == 0; }

 private:
  std::uint64_t left_;
};

struct SwapRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<Machine> m;
  TaskRun* hog = nullptr;
  TaskRun* compute = nullptr;
};

// Both tasks on CPU 0 (node 0); the compute task has work for longer than the hog runs.
SwapRun run_pair(std::uint64_t compute_ops) {
  SwapRun r;
  r.doc = testing::small_machine(kSwap);
  r.doc->apply_override("machine.memory_per_node=\"128MiB\"");
  r.m = std::make_unique<Machine>(r.doc->root());
  r.doc->finish();
  os::PageTokens& tokens = r.m->kernel().page_tokens();
  tokens.enable(r.m->kernel().physmem().max_pfn());
  for (int c = 0; c < r.m->num_cpus(); ++c) r.m->core(CpuId(c)).set_page_tokens(&tokens);
  r.hog = r.m->add_task("hog", std::make_unique<Hog>(192ull << 20), CpuId(0));
  if (compute_ops) r.compute = r.m->add_task("compute", std::make_unique<Compute>(compute_ops), CpuId(0));
  r.m->run();
  return r;
}

double stat(const Machine& m, const std::string& name) {
  MapStatsVisitor v;
  m.dump_stats(v);
  return v.values.at(name);
}

TEST(IoWaitSystem, ComputeTaskRunsDuringTheHogsSwapInWaits) {
  SwapRun alone = run_pair(0);
  SwapRun both = run_pair(2'000'000);  // 4e9 cycles: about 1.74 s at 2.3 GHz, longer than the hog
  for (SwapRun* r : {&alone, &both}) {
    os::Kernel& k = r->m->kernel();
    ASSERT_TRUE(r->hog->finished);
    EXPECT_FALSE(r->hog->killed);
    EXPECT_GT(k.physmem().sum_vm_event(os::PSWPIN), 1000u);
    EXPECT_GT(k.physmem().sum_vm_event(os::PGMAJFAULT), 100u);
    EXPECT_GT(r->hog->iowait_count, 100u);
    EXPECT_GT(r->hog->iowait_sum, Picoseconds(0));
    EXPECT_EQ(r->m->core(CpuId(0)).stats().verify_mismatches, 0u);
    EXPECT_GT(r->m->core(CpuId(0)).stats().verify_loads, 40'000u);
  }
  std::printf("hog alone: %.3f ms, iowait_sum %.3f ms (%llu sleeps), cpu0 iowait %.3f ms; with the compute task: "
              "hog %.3f ms, iowait_sum %.3f ms, cpu0 iowait %.3f ms, compute task ends at %.3f ms\n",
              alone.hog->end_time.value() / 1e9, alone.hog->iowait_sum.value() / 1e9,
              static_cast<unsigned long long>(alone.hog->iowait_count),
              stat(*alone.m, "system.cpu0.core.iowait_time") / 1e9, both.hog->end_time.value() / 1e9,
              both.hog->iowait_sum.value() / 1e9, stat(*both.m, "system.cpu0.core.iowait_time") / 1e9,
              both.compute->end_time.value() / 1e9);
  // Alone, CPU 0 idles through the hog's waits (iowait), except while kswapd runs there.
  const double alone_iowait = stat(*alone.m, "system.cpu0.core.iowait_time");
  EXPECT_GT(alone_iowait, 0.0);
  EXPECT_LE(alone_iowait, double(alone.hog->iowait_sum.value()));
  // With the compute task, CPU 0 hardly idles while the hog waits: the compute task ran.
  ASSERT_TRUE(both.compute->finished);
  ASSERT_GT(both.compute->end_time, both.hog->end_time);
  const double both_iowait = stat(*both.m, "system.cpu0.core.iowait_time");
  EXPECT_LT(both_iowait, 0.05 * double(both.hog->iowait_sum.value()));
  EXPECT_GT(stat(*both.m, "system.cpu0.core.preemptions"), 0.0);
  // Both tasks' work fits in about the hog's time plus the compute task's, minus the waits the
  // compute task filled (not one after the other).
  const Picoseconds compute_work = Picoseconds(2'000'000ull * 2000 * 1'000'000 / 2300);
  EXPECT_LT(both.compute->end_time,
            alone.hog->end_time + compute_work - Picoseconds(static_cast<std::uint64_t>(0.8 * alone_iowait)));
  // The hog, woken at each completion, is not held up by the compute task's timeslices much.
  EXPECT_LT(both.hog->end_time, alone.hog->end_time + alone.hog->end_time / 4);
}

TEST(IoWaitSystem, Deterministic) {
  SwapRun a = run_pair(20'000);
  SwapRun b = run_pair(20'000);
  EXPECT_EQ(a.m->stats_json(), b.m->stats_json());
  EXPECT_EQ(a.hog->iowait_sum, b.hog->iowait_sum);
  EXPECT_EQ(a.hog->end_time, b.hog->end_time);
  EXPECT_EQ(a.compute->end_time, b.compute->end_time);
}

}  // namespace
}  // namespace numasim::hw
