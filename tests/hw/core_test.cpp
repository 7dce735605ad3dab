// Core timing with a stub memory and stub page tables under SystemC: issue
// cost, compute cycles, fill-buffer overlap of independent misses, serialised
// dependent misses, system calls in program order with their cost, SIGSEGV,
// quantum synchronisation and round-robin tasks with PCID.
#include "hw/core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <systemc>
#include <vector>

#include "tests/hw/hw_fakes.h"
#include "tests/hw/vector_source.h"

namespace numasim::hw {
namespace {

using testing::FakePageTables;
using testing::RecordingMemory;

constexpr Frequency kClock(2'000'000'000);  // 500 ps per cycle
constexpr Picoseconds kCycle(500);
constexpr Picoseconds kMiss(100'000);

using testing::VectorSource;

Op load(VirtAddr a, bool dep = false) { return Op{a, 8, OpKind::Load, dep ? kOpDependent : std::uint8_t{0}, 0}; }
Op compute(std::uint32_t c) { return Op{0, c, OpKind::Compute, 0, 0}; }
Op marker(std::uint32_t id) { return Op{0, id, OpKind::Marker, 0, 0}; }

// The kernel entry for system calls and exit: records each mmap with its entry time.
struct FakeOs : FakePageTables {
  struct MmapCall {
    std::uint64_t len;
    int fd;
  };
  std::vector<std::pair<MmapCall, Picoseconds>> calls;
  Picoseconds entered{0};
  int exits = 0;
  void syscall_enter(os::task_struct*, Picoseconds now) override { entered = now; }
  long sys_mmap(os::task_struct*, VirtAddr, std::uint64_t len, int, int, int fd, std::uint64_t,
                os::KernelCost& cost) override {
    calls.push_back({{len, fd}, entered});
    cost.add_cycles(2000);
    cost.add_memory(Picoseconds(10'000));
    return 0x7000'0000;
  }
  void task_exit(os::task_struct*, Picoseconds, os::KernelCost& cost) override {
    ++exits;
    cost.add_cycles(100);
  }
};

struct CoreFixture : ::testing::Test {
  RecordingMemory mem;
  FakePageTables pt;
  FakeOs os;
  MmuParams mmu_params;
  CoreParams params;
  std::unique_ptr<Mmu> mmu;
  std::unique_ptr<Core> core;
  std::vector<std::unique_ptr<TaskRun>> runs;

  void SetUp() override {
    params.clock = kClock;
    params.line_fill_buffers = 10;
    // Identity-like demand mapping with zero fault cost keeps page faults out of the timings;
    // walks are warmed up before the measured intervals.
    pt.fault_cost = {};
    pt.on_fault = [this](VirtAddr va, bool) {
      if (va >= 0x4000'0000'0000ull) return false;  // "outside every VMA"
      pt.map(va & ~0xfffull, 0x1'0000'0000ull + (va & ~0xfffull), PageSize::k4K, pte::kRw);
      return true;
    };
    set_global_quantum(Picoseconds(1'000'000));  // 1 us
  }
  void build() {
    mmu = std::make_unique<Mmu>(CpuId(0), kClock, mmu_params, mem, pt);
    core = std::make_unique<Core>(CpuId(0), NodeId(0), params, *mmu, mem, &os);
  }
  TaskRun* add(OpSource& src, Asid asid = 1) {
    runs.push_back(std::make_unique<TaskRun>());
    TaskRun* r = runs.back().get();
    r->name = "t";
    r->source = &src;
    r->mmu_context = {pt.cr3, asid, nullptr};
    core->add_task(r);
    return r;
  }
  void run() {
    core->spawn();
    sc_core::sc_start();
  }
};

// Warm-up: touch every page of [base, base + pages*4K) so that the measured part hits the TLB.
std::vector<Op> warm(VirtAddr base, int pages) {
  std::vector<Op> ops;
  for (int i = 0; i < pages; ++i) ops.push_back(load(base + i * 4096ull));
  return ops;
}

TEST_F(CoreFixture, L1HitsIssueOnePerCycleComputeCountsCycles) {
  build();
  mem.level = 1;
  mem.latency = Picoseconds(2'000);  // 4 cycles
  std::vector<Op> ops = warm(0x10000, 1);
  ops.push_back(marker(1));
  for (int i = 0; i < 100; ++i) ops.push_back(load(0x10000 + (i % 8) * 8));
  ops.push_back(marker(2));
  ops.push_back(compute(1000));
  ops.push_back(marker(3));
  VectorSource src(ops, 7);  // odd batch sizes
  TaskRun* r = add(src);
  run();
  ASSERT_TRUE(r->finished);
  EXPECT_FALSE(r->killed);
  // 100 independent hits: 100 issue cycles, then the last one's latency.
  EXPECT_EQ(r->marker_interval(1, 2), kCycle * 100 + Picoseconds(2'000));
  EXPECT_EQ(r->marker_interval(2, 3), kCycle * 1000);
  EXPECT_EQ(r->loads, 101u);
  EXPECT_EQ(core->stats().l1_misses, 0u);
}

TEST_F(CoreFixture, IndependentMissesOverlapUpToTheFillBuffers) {
  build();
  std::vector<Op> ops = warm(0x20000, 4);
  ops.push_back(marker(1));
  for (int i = 0; i < 8; ++i) ops.push_back(load(0x20000 + i * 64ull));  // 8 <= 10 buffers
  ops.push_back(marker(2));
  for (int i = 0; i < 20; ++i) ops.push_back(load(0x21000 + i * 64ull));  // 20 = 2 rounds of 10
  ops.push_back(marker(3));
  VectorSource src(ops);
  TaskRun* r = add(src);
  run();
  ASSERT_TRUE(r->finished);
  EXPECT_EQ(r->marker_interval(1, 2), kCycle * 8 + kMiss);
  EXPECT_EQ(r->marker_interval(2, 3), kCycle * 10 + kMiss * 2);
  // The 11th miss waits for the first buffer; the later ones find theirs just freed.
  EXPECT_GE(core->stats().lfb_stalls, 1u);
  EXPECT_EQ(core->stats().l1_misses, 4u + 28u);
}

// With every fill buffer busy, a miss waits for the one that frees first, and
// the miss after it for the next earliest: three buffers, misses of 300, 100
// and 200 ns issued a cycle apart, then two more of 100 ns. The fourth waits
// for the 100 ns one (99 ns); the fifth, issued a cycle after the fourth, for
// the fourth's own buffer (done 200.5 ns after the first issue), not the
// 200 ns miss's (201 ns): 99.5 ns.
TEST_F(CoreFixture, AMissWithEveryFillBufferBusyWaitsForTheNextEarliest) {
  params.line_fill_buffers = 3;
  const PhysAddr base = 0x1'0000'0000ull + 0x24000;  // pa of va 0x24000 (the fixture's mapping)
  mem.latency_of = [base](PhysAddr pa) {
    if (pa == base + 64) return Picoseconds(300'000);
    if (pa == base + 3 * 64) return Picoseconds(200'000);
    return Picoseconds(0);  // the default 100 ns
  };
  build();
  std::vector<Op> ops = warm(0x24000, 1);
  ops.push_back(compute(1000));  // the warm-up's miss done
  ops.push_back(marker(1));
  for (int i = 1; i <= 5; ++i) ops.push_back(load(0x24000 + static_cast<VirtAddr>(i) * 64));
  ops.push_back(marker(2));
  VectorSource src(ops);
  TaskRun* r = add(src);
  run();
  ASSERT_TRUE(r->finished);
  EXPECT_EQ(core->stats().lfb_stalls, 2u);
  EXPECT_EQ(core->stats().lfb_stall_ps, 99'000u + 99'500u);
}

TEST_F(CoreFixture, DependentMissesSerialise) {
  build();
  std::vector<Op> ops = warm(0x30000, 1);
  ops.push_back(marker(1));
  for (int i = 0; i < 8; ++i) ops.push_back(load(0x30000 + i * 64ull, /*dep=*/true));
  ops.push_back(marker(2));
  VectorSource src(ops);
  TaskRun* r = add(src);
  run();
  EXPECT_EQ(r->marker_interval(1, 2), kCycle + kMiss * 8);
  EXPECT_EQ(core->stats().dependent_waits, 7u);
}

TEST_F(CoreFixture, WideAccessTouchesEveryLineItCovers) {
  build();
  std::vector<Op> ops = warm(0x40000, 1);
  ops.push_back(Op{0x40000 + 32, 128, OpKind::Store, 0, 0});  // lines 0x40000, 0x40040, 0x40080
  VectorSource src(ops);
  TaskRun* r = add(src);
  mem.log.clear();
  run();
  std::vector<PhysAddr> data;
  for (const auto& a : mem.log)
    if (a.write && a.pa >= 0x1'0000'0000ull) data.push_back(a.pa);
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[0], 0x1'0004'0020ull);
  EXPECT_EQ(data[1], 0x1'0004'0040ull);
  EXPECT_EQ(data[2], 0x1'0004'0080ull);
  EXPECT_EQ(r->line_accesses, 4u);
}

TEST_F(CoreFixture, SyscallRunsAfterEarlierOpsAndChargesItsCost) {
  build();
  VectorSource src({load(0x50000), marker(1), marker(2)});
  long got = 0;
  Picoseconds before_call{0};
  src.before_fill = [&](OpBatch& b, ThreadContext& ctx) {
    if (got != 0) return;
    b.load(0x60000);  // appended before the call: must run before it
    before_call = Picoseconds(0);
    got = ctx.sys_mmap(0, 1 << 20, 3, 0x22, -1, 0);
    before_call = ctx.now();
  };
  TaskRun* r = add(src);
  run();
  EXPECT_EQ(got, 0x7000'0000);
  ASSERT_EQ(os.calls.size(), 1u);
  EXPECT_EQ(os.calls[0].first.len, 1u << 20);
  EXPECT_EQ(os.calls[0].first.fd, -1);
  // The load of 0x60000 completed before the call was made.
  bool seen = false;
  for (const auto& a : mem.log)
    if (a.pa == 0x1'0006'0000ull) {
      seen = true;
      EXPECT_LT(a.at, os.calls[0].second);
    }
  EXPECT_TRUE(seen);
  // The call's cost (2000 cycles + 10 ns) is on the core's clock.
  EXPECT_EQ(before_call - os.calls[0].second, kCycle * 2000 + Picoseconds(10'000));
  EXPECT_EQ(r->syscalls, 1u);
  EXPECT_EQ(os.exits, 1);
}

TEST_F(CoreFixture, SigsegvKillsTheTaskAndIsCounted) {
  build();
  VectorSource src({load(0x50000), load(0x5000'0000'0000ull), load(0x51000)});
  TaskRun* r = add(src);
  run();
  EXPECT_TRUE(r->finished);
  EXPECT_TRUE(r->killed);
  EXPECT_EQ(r->fault_addr, 0x5000'0000'0000ull);
  EXPECT_EQ(core->stats().tasks_killed, 1u);
  for (const auto& a : mem.log) EXPECT_NE(a.pa, 0x1'0005'1000ull) << "op after the SIGSEGV ran";
}

TEST_F(CoreFixture, SystemCTimeCatchesUpWithTheCore) {
  build();
  std::vector<Op> ops;
  for (int i = 0; i < 50; ++i) ops.push_back(compute(10'000));  // 50 x 5 us
  VectorSource src(ops);
  const Picoseconds start(sc_core::sc_time_stamp().value());
  TaskRun* r = add(src);
  run();
  const Picoseconds end(sc_core::sc_time_stamp().value());
  EXPECT_EQ(r->end_time - r->start_time, kCycle * 500'000 + kCycle * 100 /*exit cost*/);
  EXPECT_GE(end - start, kCycle * 500'000);
  EXPECT_GE(core->stats().syncs, 50u);  // 250 us at a 1 us quantum, one sync per op at most
}

TEST_F(CoreFixture, QuantumZeroSynchronisesEveryAccessWithSameTiming) {
  set_global_quantum(Picoseconds(0));
  build();
  std::vector<Op> ops = warm(0x70000, 2);
  ops.push_back(marker(1));
  for (int i = 0; i < 30; ++i) ops.push_back(load(0x70000 + i * 64ull, i % 3 == 0));
  ops.push_back(marker(2));
  VectorSource src(ops);
  TaskRun* r = add(src);
  run();
  const Picoseconds q0 = r->marker_interval(1, 2);
  EXPECT_GE(core->stats().syncs, 30u);

  // Same program in default mode.
  set_global_quantum(Picoseconds(1'000'000));
  RecordingMemory mem2;
  FakePageTables pt2;
  pt2.fault_cost = {};
  pt2.on_fault = [&](VirtAddr va, bool) {
    pt2.map(va & ~0xfffull, 0x1'0000'0000ull + (va & ~0xfffull));
    return true;
  };
  Mmu mmu2(CpuId(0), kClock, mmu_params, mem2, pt2);
  Core core2(CpuId(0), NodeId(0), params, mmu2, mem2, &os);
  VectorSource src2(ops);
  TaskRun r2;
  r2.source = &src2;
  r2.mmu_context = {pt2.cr3, 1, nullptr};
  core2.add_task(&r2);
  core2.spawn();
  sc_core::sc_start();
  EXPECT_EQ(r2.marker_interval(1, 2), q0);
  EXPECT_LT(core2.stats().syncs, core->stats().syncs);
}

TEST_F(CoreFixture, TwoTasksRoundRobinKeepTheirTranslationsWithPcid) {
  params.timeslice = Picoseconds(1'000'000);  // 1 us
  build();
  std::vector<Op> a, b;
  for (int i = 0; i < 400; ++i) a.push_back(load(0x80000 + (i % 4) * 4096ull)), a.push_back(compute(20));
  for (int i = 0; i < 400; ++i) b.push_back(load(0x90000 + (i % 4) * 4096ull)), b.push_back(compute(20));
  VectorSource sa(a, 16), sb(b, 16);
  TaskRun* ra = add(sa, 1);
  TaskRun* rb = add(sb, 2);
  run();
  EXPECT_TRUE(ra->finished && rb->finished);
  EXPECT_GT(core->stats().context_switches, 2u);
  // Each task walked only for its 4 pages: PCID kept the entries across switches.
  EXPECT_EQ(mmu->stats().walks - mmu->stats().faults, 8u);
}

// The fill buffers' sorted ring (hw/completion_ring.h) against the search it
// replaced in Core::access: on each miss the first least completion time in a
// plain array is replaced by the new one. The earliest time (the stall check)
// and the multiset must agree after every miss, for 1, 2, 10 and 256 buffers,
// on completion times mostly in order with jitter and some far out of order.
TEST(CoreFillBuffers, TheSortedRingEqualsReplacingTheFirstLeast) {
  std::mt19937_64 rng(10);
  for (const std::uint32_t n : {1u, 2u, 10u, 256u}) {
    CompletionRing<std::uint64_t> ring(n, 0, "test");
    std::vector<std::uint64_t> ref(n, 0);
    std::uint64_t issue = 0;
    for (int miss = 0; miss < 20000; ++miss) {
      issue = std::max(issue + rng() % 4000, *std::min_element(ref.begin(), ref.end()));
      const std::uint64_t done = issue + (miss % 17 == 0 ? rng() % 2'000'000 : 90'000 + rng() % 200'000);
      *std::min_element(ref.begin(), ref.end()) = done;  // the first least, as before
      ring.replace_earliest(done);
      ASSERT_EQ(ring.at(0), *std::min_element(ref.begin(), ref.end())) << n << " " << miss;
      if (miss % 97 == 0) {
        std::vector<std::uint64_t> sorted = ref;
        std::sort(sorted.begin(), sorted.end());
        for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(ring.at(i), sorted[i]) << n << " " << miss << " " << i;
      }
    }
  }
  EXPECT_THROW(CompletionRing<std::uint64_t>(0, 0, "test"), std::invalid_argument);
  EXPECT_THROW(CompletionRing<std::uint64_t>(257, 0, "test"), std::invalid_argument);
}

}  // namespace
}  // namespace numasim::hw
