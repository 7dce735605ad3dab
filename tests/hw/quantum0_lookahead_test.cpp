// Quantum 0's lookahead (core.h, "Time order at quantum 0"): a core skips its wait for
// SystemC time when no other process can act before the access, and the memory system
// still sees exactly the accesses, order and stamps it sees when every wait is real (both
// with the lookahead's order at equal stamps). Checked on cores sharing an order-sensitive
// stub memory (ties included: cores running the same program issue accesses at equal
// stamps) and on a whole machine with its kernel, an idle CPU and shared pages.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <systemc>
#include <vector>

#include "common/config.h"
#include "hw/core.h"
#include "hw/machine.h"
#include "os/syscalls.h"
#include "tests/hw/hw_fakes.h"
#include "tests/hw/vector_source.h"

namespace numasim::hw {
namespace {

using testing::FakePageTables;
using testing::VectorSource;

constexpr Frequency kClock(2'000'000'000);        // 500 ps per cycle
constexpr PhysAddr kDataBase = 0x1'0000'0000ull;  // data frames; page tables lie below

// Restores the defaults whatever a test does.
struct Quantum0Guard {
  Quantum0Guard() { set_global_quantum(Picoseconds(0)); }
  ~Quantum0Guard() {
    set_quantum0_lookahead(false);
    disable_quantum0_skipped_waits(false);
    set_global_quantum(Picoseconds(1'000'000));
  }
};

// One memory shared by every core whose answers depend on the order it is called in: a
// line is a hit once any core touched it, and misses queue on one channel (next free time).
struct OrderSensitiveMemory : MemoryPort {
  struct Access {
    int cpu;
    PhysAddr pa;
    bool write;
    Picoseconds at;
    bool operator==(const Access& o) const { return cpu == o.cpu && pa == o.pa && write == o.write && at == o.at; }
  };
  std::vector<Access> log;
  std::vector<PhysAddr> touched;
  Picoseconds channel_free{0};

  Picoseconds access(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, std::uint8_t* level_hit) override {
    log.push_back({cpu.value(), pa, is_write, now});
    const PhysAddr line = pa / kCacheLineBytes;
    for (PhysAddr t : touched)
      if (t == line) {
        if (level_hit) *level_hit = kLevelL1;
        return Picoseconds(2'000);
      }
    touched.push_back(line);
    if (level_hit) *level_hit = 4;
    const Picoseconds start = std::max(now, channel_free);
    channel_free = start + Picoseconds(5'000);
    return start - now + Picoseconds(60'000);
  }
};

// A seeded mix of loads (some dependent), stores and compute over 16 pages.
std::vector<Op> program(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Op> ops;
  for (int i = 0; i < 600; ++i) {
    const VirtAddr a = 0x100000 + (rng() % (16 * 4096)) / 8 * 8;
    switch (rng() % 4) {
      case 0:
        ops.push_back(Op{a, 8, OpKind::Store, 0, 0});
        break;
      case 1:
        ops.push_back(Op{a, 8, OpKind::Load, kOpDependent, 0});
        break;
      case 2:
        ops.push_back(Op{0, static_cast<std::uint32_t>(1 + rng() % 40), OpKind::Compute, 0, 0});
        break;
      default:
        ops.push_back(Op{a, 8, OpKind::Load, 0, 0});
        break;
    }
  }
  return ops;
}

struct CoreRun {
  std::vector<OrderSensitiveMemory::Access> log;
  std::vector<Picoseconds> end_times;
  std::uint64_t accesses = 0, skipped = 0;
};

std::uint64_t accesses_of(const std::vector<Op>& ops) {
  std::uint64_t n = 0;
  for (const Op& op : ops) n += op.kind == OpKind::Load || op.kind == OpKind::Store;
  return n;
}

// Four cores on one memory; cores 0 and 1 run the same program (equal stamps), 2 and 3 others.
constexpr std::uint64_t kSeeds[] = {7, 7, 11, 13};

// Both with take_turn's order at equal stamps; without `lookahead` every wait is real.
CoreRun run_cores(bool lookahead) {
  set_quantum0_lookahead(true);
  disable_quantum0_skipped_waits(!lookahead);
  OrderSensitiveMemory mem;
  FakePageTables pt;
  pt.fault_cost = {};
  pt.on_fault = [&pt](VirtAddr va, bool) {
    pt.map(va & ~0xfffull, kDataBase + (va & ~0xfffull), PageSize::k4K, pte::kRw);
    return true;
  };
  CoreParams params;
  params.clock = kClock;
  params.line_fill_buffers = 4;
  const Picoseconds epoch(sc_core::sc_time_stamp().value());
  std::vector<std::unique_ptr<Mmu>> mmus;
  std::vector<std::unique_ptr<Core>> cores;
  std::vector<std::unique_ptr<VectorSource>> sources;
  std::vector<std::unique_ptr<TaskRun>> runs;
  for (int c = 0; c < 4; ++c) {
    mmus.push_back(std::make_unique<Mmu>(CpuId(c), kClock, MmuParams{}, mem, pt));
    cores.push_back(std::make_unique<Core>(CpuId(c), NodeId(0), params, *mmus.back(), mem, &pt));
    cores.back()->set_epoch(epoch);
    sources.push_back(std::make_unique<VectorSource>(program(kSeeds[c]), 64));
    runs.push_back(std::make_unique<TaskRun>());
    runs.back()->source = sources.back().get();
    runs.back()->mmu_context = {pt.cr3, 1, nullptr};
    cores.back()->add_task(runs.back().get());
    cores.back()->spawn();
  }
  sc_core::sc_start();
  CoreRun r;
  r.log = mem.log;
  for (int c = 0; c < 4; ++c) {
    r.end_times.push_back(runs[c]->end_time);
    r.accesses += cores[c]->stats().line_accesses;
    r.skipped += cores[c]->stats().skipped_waits;
  }
  return r;
}

TEST(Quantum0Lookahead, CoresOnASharedMemoryIssueTheSameAccessesInTheSameOrder) {
  Quantum0Guard guard;
  const CoreRun plain = run_cores(false);
  const CoreRun ahead = run_cores(true);
  std::uint64_t programs = 0;
  for (std::uint64_t seed : kSeeds) programs += accesses_of(program(seed));
  ASSERT_EQ(plain.accesses, programs);  // every core ran its whole program
  ASSERT_EQ(ahead.accesses, programs);
  EXPECT_EQ(plain.skipped, 0u);
  // The lookahead left out waits (a quarter at least), else this test checks nothing.
  EXPECT_GT(ahead.skipped, plain.accesses / 4);
  ASSERT_EQ(ahead.log.size(), plain.log.size());
  std::size_t first_diff = plain.log.size();
  for (std::size_t i = 0; i < plain.log.size() && first_diff == plain.log.size(); ++i)
    if (!(ahead.log[i] == plain.log[i])) first_diff = i;
  EXPECT_EQ(first_diff, plain.log.size()) << "first access in another order or with another stamp";
  EXPECT_EQ(ahead.end_times, plain.end_times);
  // Equal stamps did occur (cores 0 and 1 run the same program), and not always in CPU order
  // (data accesses: page walks are not synchronised at quantum 0, see core.h).
  std::size_t ties = 0, lower_first = 0;
  const OrderSensitiveMemory::Access* a = nullptr;
  for (const auto& b : plain.log) {
    if (b.pa < kDataBase) continue;
    const bool tie = a && a->at == b.at && a->cpu != b.cpu;
    const int before = a ? a->cpu : -1;
    a = &b;
    if (!tie) continue;
    ++ties;
    lower_first += before < b.cpu;
  }
  EXPECT_GT(ties, 10u);
  EXPECT_GT(lower_first, 0u);
  EXPECT_LT(lower_first, ties);
}

// Two processes on two nodes, one of them with a second thread (shared pages: coherence
// traffic), each a seeded mix of loads, stores and compute; the fourth CPU idles.
class Mix final : public OpSource {
 public:
  Mix(std::uint64_t seed, VirtAddr* shared_base) : rng_(seed), base_(shared_base) {}
  void start(ThreadContext& ctx) override {
    if (*base_ != 0) return;  // a thread of a process that mapped already
    const long a = ctx.sys_mmap(0, kBytes, os::PROT_READ | os::PROT_WRITE, os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    ASSERT_GT(a, 0);
    *base_ = static_cast<VirtAddr>(a);
  }
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    while (left_ > 0 && !b.full()) {
      --left_;
      const VirtAddr a = *base_ + (rng_() % kBytes) / 8 * 8;
      const std::uint64_t k = rng_() % 8;
      if (k < 3)
        b.store(a);
      else if (k < 4)
        b.compute(static_cast<std::uint32_t>(1 + rng_() % 200));
      else
        b.load(a, 8, k == 4);
    }
    return b.size();
  }
  bool done() const override { return left_ == 0; }

 private:
  static constexpr std::uint64_t kBytes = 2ull << 20;
  std::mt19937_64 rng_;
  VirtAddr* base_;
  int left_ = 20'000;
};

struct MachineRun {
  std::string stats;
  Picoseconds simulated{0};
  std::vector<Picoseconds> end_times;
  std::uint64_t skipped = 0;
  std::uint64_t idle_waits = 0;  // summed over the CPUs: a path that must settle skipped waits first
  std::uint64_t timers = 0;      // timer checks that fired timers, summed over the CPUs
  std::uint64_t kthread_runs = 0;
};

// The lookahead on; without `lookahead` its waits are all real. With `khugepaged`, THP is
// on and khugepaged sleeps 20 us between passes on CPU 0, which has no user task: its
// timer wakes an idle core while the others run ahead with skipped waits.
MachineRun run_machine(bool lookahead, bool khugepaged = false) {
  disable_quantum0_skipped_waits(!lookahead);
  std::string text =
      "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"64MiB\"\n"
      "distances = [[10, 21], [21, 10]]\n"
      "[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = \"34.3GB/s\"\n"
      "[sim]\nquantum = \"0ns\"\nquantum0_lookahead = true\n";
  if (khugepaged) text += "[os.thp]\nenabled = \"always\"\n[os.kthreads]\nkhugepaged_scan_sleep = \"20us\"\n";
  auto doc = ConfigDocument::from_string(text, "quantum0-machine.toml");
  Machine m(doc->root());
  doc->finish();
  VirtAddr base_a = 0, base_b = 0;
  const int first = khugepaged ? 1 : 0;  // keep CPU 0 free for khugepaged
  TaskRun* a = m.add_task("a", std::make_unique<Mix>(1, &base_a), CpuId(first));
  m.add_thread(a, std::make_unique<Mix>(2, &base_a), CpuId(first + 1));
  m.add_task("b", std::make_unique<Mix>(3, &base_b), CpuId(first + 2));
  MachineRun r;
  r.simulated = m.run();
  // Every statistic but the count of skipped waits itself.
  r.stats = std::regex_replace(m.stats_json(), std::regex("\n  \"[^\"]*skipped_waits\": [0-9]+,?"), "");
  for (const auto& t : m.tasks()) r.end_times.push_back(t->end_time);
  for (int c = 0; c < m.num_cpus(); ++c) {
    r.skipped += m.core(CpuId(c)).stats().skipped_waits;
    r.idle_waits += m.core(CpuId(c)).stats().idle_waits;
    r.timers += m.core(CpuId(c)).stats().timers;
    r.kthread_runs += m.core(CpuId(c)).stats().kthread_runs;
  }
  return r;
}

TEST(Quantum0Lookahead, AMachineRunGivesTheSameStatisticsAsThePlainWaits) {
  Quantum0Guard guard;
  const MachineRun plain = run_machine(false);
  const MachineRun ahead = run_machine(true);
  EXPECT_EQ(plain.skipped, 0u);
  EXPECT_GT(ahead.skipped, 10'000u);
  EXPECT_EQ(ahead.simulated, plain.simulated);
  EXPECT_EQ(ahead.end_times, plain.end_times);
  EXPECT_EQ(ahead.stats, plain.stats);
  EXPECT_NE(plain.stats.find("core.line_accesses"), std::string::npos);
  // The run reaches a path where a core with skipped waits must settle them before others
  // may act: an idle CPU's waits (CPU 3 has no task). (No timer fires in this run.)
  EXPECT_GT(ahead.idle_waits, 0u);
}

// An idle CPU woken by its timer (khugepaged's sleep) while the other cores run with
// skipped waits: the waker must settle them first, and the statistics stay the same.
TEST(Quantum0Lookahead, ATimerWakingAnIdleCpuGivesTheSameStatisticsAsThePlainWaits) {
  Quantum0Guard guard;
  const MachineRun plain = run_machine(false, true);
  const MachineRun ahead = run_machine(true, true);
  EXPECT_EQ(plain.skipped, 0u);
  EXPECT_GT(ahead.skipped, 10'000u);
  EXPECT_GT(plain.timers, 0u);
  EXPECT_GT(plain.kthread_runs, 0u);
  EXPECT_EQ(ahead.timers, plain.timers);
  EXPECT_EQ(ahead.kthread_runs, plain.kthread_runs);
  EXPECT_EQ(ahead.simulated, plain.simulated);
  EXPECT_EQ(ahead.end_times, plain.end_times);
  EXPECT_EQ(ahead.stats, plain.stats);
}

}  // namespace
}  // namespace numasim::hw
