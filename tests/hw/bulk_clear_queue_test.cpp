// The bulk path's timing of a clear's common lines (MemorySystem::
// bulk_write_lines: a local chunk whose every line needs the LLC or the home
// without a snoop) against the line-by-line reference (TransferPath::Lines,
// each line's write_full_line asking the super queue): the same clears on two
// identical memory systems of the shipped Skylake-SP configuration must end at
// the same time and leave the clearing core's L2 super queue with the same
// completion times, entry by entry, and the same statistics. Covered: a queue
// free at the clear's start (the run whose lines cannot wait, taken by
// SuperQueue::took_run), a queue still busy with the core's own misses (lines
// wait for entries, asked line by line), 2 MiB clears (chunks after the first
// start with the queue full of the previous chunk's lines), clears shorter
// than a chunk, and a queue with fewer entries than the core has fill buffers.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hw/memory_system.h"
#include "tests/hw/same_stats.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

struct Twins {
  testing::Shipped shipped = testing::load_shipped();
  std::unique_ptr<MemorySystem> bulk, lines;
  explicit Twins(std::uint32_t super_queue = 0, std::uint32_t fill_buffers = 0) {
    if (super_queue != 0) shipped.params.super_queue = super_queue;
    if (fill_buffers != 0) shipped.params.line_fill_buffers = fill_buffers;
    bulk = std::make_unique<MemorySystem>(shipped.topo, shipped.params);
    lines = std::make_unique<MemorySystem>(shipped.topo, shipped.params);
    lines->set_transfer_path(MemorySystem::TransferPath::Lines);
  }
  // A clear of `len` at `pa` by `cpu` at `now` on both: equal latencies and
  // equal super queues after it.
  Picoseconds clear(CpuId cpu, PhysAddr pa, Bytes len, Picoseconds now) {
    const Picoseconds a = bulk->access_range(cpu, pa, len, true, now);
    const Picoseconds b = lines->access_range(cpu, pa, len, true, now);
    EXPECT_EQ(a, b) << "clear of " << len.value() << " bytes at " << pa << " from " << now.value() << " ps";
    expect_same_queue(cpu);
    return b;
  }
  // `n` demand reads of cold lines from `first` by `cpu`, all at `now` (each holds a super queue entry).
  void misses(CpuId cpu, PhysAddr first, int n, Picoseconds now) {
    for (int i = 0; i < n; ++i) {
      const PhysAddr a = first + static_cast<PhysAddr>(i) * 4096;
      EXPECT_EQ(bulk->access(cpu, a, false, now), lines->access(cpu, a, false, now));
    }
  }
  void expect_same_queue(CpuId cpu) {
    const SuperQueue& a = bulk->super_queue(cpu);
    const SuperQueue& b = lines->super_queue(cpu);
    ASSERT_EQ(a.entries(), b.entries());
    for (std::uint32_t i = 0; i < a.entries(); ++i) EXPECT_EQ(a.entry(i), b.entry(i)) << "entry " << i;
    EXPECT_EQ(a.stats().requests, b.stats().requests);
    EXPECT_EQ(a.stats().full, b.stats().full);
    EXPECT_EQ(a.stats().full_wait_ps, b.stats().full_wait_ps);
  }
  void expect_same_stats() { testing::expect_same_stats(*bulk, *lines); }
};

TEST(BulkClearQueue, ClearsWithTheQueueFreeLeaveTheSameEntries) {
  Twins p;
  ASSERT_GE(p.shipped.params.super_queue, p.shipped.params.line_fill_buffers);  // the run's condition
  Picoseconds t{1'000'000};
  for (int i = 0; i < 40; ++i) {
    // Cold pages, then pages cleared before (in L2 or the LLC by now): levels 1 to 4.
    const PhysAddr page = 1 * kGiB + static_cast<PhysAddr>(i % 30) * 4096;
    t += p.clear(CpuId(0), page, Bytes(4096), t) + Picoseconds(1'000'000);
  }
  // A queue every entry of which frees exactly at the clear's start still counts as free.
  const Picoseconds at = p.clear(CpuId(2), 2 * kGiB, Bytes(4096), t);
  p.clear(CpuId(2), 2 * kGiB + 4096, Bytes(4096), t + at);
  EXPECT_EQ(p.lines->super_queue(CpuId(0)).stats().full, 0u);
  EXPECT_GE(p.lines->super_queue(CpuId(0)).stats().requests, 30u * 64);
  p.expect_same_stats();
}

// Clears of 1 to 3 kernel_mlp() lines with the queue free: fewer lines than
// fill buffers, exactly as many, and a few rounds (the run's issue times are
// worked out in closed form from the first line's, RangePipeline::run_fixed).
TEST(BulkClearQueue, ShortClearsLeaveTheSameEntries) {
  Twins p;
  const std::uint32_t mlp = p.shipped.params.line_fill_buffers;
  Picoseconds t{1'000'000};
  PhysAddr at = 6 * kGiB;
  for (std::uint32_t lines = 1; lines <= 3 * mlp + 1; ++lines) {
    t += p.clear(CpuId(3), at, Bytes(lines * 64), t) + Picoseconds(1'000'000);
    at += 4096;
  }
  p.expect_same_stats();
}

TEST(BulkClearQueue, ClearsThatWaitForTheCoresOwnMissesLeaveTheSameEntries) {
  Twins p;
  Picoseconds t{1'000'000};
  for (int i = 0; i < 20; ++i) {
    // 4 to 16 misses in flight when the clear starts, 0 to 60 ns after them.
    p.misses(CpuId(1), 3 * kGiB + static_cast<PhysAddr>(i) * (1u << 20), 4 + i % 13, t);
    const Picoseconds start = t + Picoseconds(static_cast<std::uint64_t>(i % 7) * 10'000);
    t = start + p.clear(CpuId(1), 1 * kGiB + static_cast<PhysAddr>(i) * 4096, Bytes(4096), start) +
        Picoseconds(1'000'000);
  }
  EXPECT_GT(p.lines->super_queue(CpuId(1)).stats().full, 0u);  // lines did wait
  p.expect_same_stats();
}

TEST(BulkClearQueue, ClearsOf2MiBLeaveTheSameEntries) {
  Twins p;
  Picoseconds t{1'000'000};
  t += p.clear(CpuId(0), 4 * kGiB, Bytes(2u << 20), t) + Picoseconds(1'000'000);
  p.misses(CpuId(0), 5 * kGiB, 10, t);
  t += p.clear(CpuId(0), 4 * kGiB + (2u << 20), Bytes(2u << 20), t + Picoseconds(5'000));
  p.expect_same_stats();
}

// As many fill buffers as the LLC's latency in cycles or more (and as many
// queue entries): each round of kernel_mlp() lines issues a cycle apart for
// at least the latency, so the next round waits for its fill buffer no
// longer (RangePipeline::run_fixed's period n gap, not the latency; the
// shipped configurations all have the latency's period).
TEST(BulkClearQueue, ClearsWithAsManyFillBuffersAsTheLlcLatencyLeaveTheSameEntries) {
  for (const std::uint32_t buffers : {50u, 64u}) {
    Twins p(buffers, buffers);
    ASSERT_EQ(p.bulk->kernel_mlp(), buffers);
    // The LLC's latency (50 cycles on Skylake-SP) against the round's n gap.
    ASSERT_LE(p.shipped.params.caches.llc.latency.value(), buffers);
    Picoseconds t{1'000'000};
    for (int i = 0; i < 12; ++i) {
      // 4 KiB and 2 MiB clears (cold lines, then lines cleared before), short ones.
      const Bytes len(i % 4 == 3 ? (2u << 20) : i % 4 == 2 ? (3 * buffers + 5) * 64 : 4096);
      const PhysAddr pa = 7 * kGiB + static_cast<PhysAddr>(i % 6) * (4u << 20);
      t += p.clear(CpuId(0), pa, len, t) + Picoseconds(1'000'000);
    }
    EXPECT_EQ(p.lines->super_queue(CpuId(0)).stats().full, 0u);
    p.expect_same_stats();
  }
}

TEST(BulkClearQueue, AQueueWithFewerEntriesThanFillBuffersLeavesTheSameEntries) {
  Twins p(4);
  ASSERT_LT(p.shipped.params.super_queue, p.shipped.params.line_fill_buffers);
  Picoseconds t{1'000'000};
  for (int i = 0; i < 8; ++i)
    t += p.clear(CpuId(0), 1 * kGiB + static_cast<PhysAddr>(i) * 4096, Bytes(4096), t) + Picoseconds(1'000'000);
  EXPECT_GT(p.lines->super_queue(CpuId(0)).stats().full, 0u);
  p.expect_same_stats();
}

}  // namespace
}  // namespace numasim::hw
