// The L2 super queue (uncore_super_queue.h): entries held until their request
// completes, the wait of a request that finds them all busy; the streamer's
// throttle on the entries left free; and in the memory system: a core's
// requests beyond L2 never exceed the queue, whatever its fill buffers.
#include "hw/uncore_super_queue.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/memory_system.h"
#include "hw/stream_prefetcher.h"

namespace numasim::hw {
namespace {

TEST(SuperQueue, EntriesAreHeldUntilTheirRequestCompletes) {
  SuperQueue q(2);
  EXPECT_EQ(q.entries(), 2u);
  EXPECT_EQ(q.busy(Picoseconds(0)), 0u);
  EXPECT_EQ(q.available(Picoseconds(10)), Picoseconds(10));
  q.take(Picoseconds(0), Picoseconds(0), Picoseconds(100));
  EXPECT_EQ(q.available(Picoseconds(10)), Picoseconds(10));  // one entry still free
  q.hold(Picoseconds(300));
  EXPECT_EQ(q.busy(Picoseconds(50)), 2u);
  EXPECT_EQ(q.available(Picoseconds(50)), Picoseconds(100));  // full: the first entry frees at 100
  EXPECT_EQ(q.busy(Picoseconds(100)), 1u);
  // A request arriving at 50 waits until 100 and takes the entry that freed.
  q.take(Picoseconds(50), Picoseconds(100), Picoseconds(400));
  EXPECT_EQ(q.stats().full, 1u);
  EXPECT_EQ(q.stats().full_wait_ps, 50u);
  EXPECT_EQ(q.stats().requests, 3u);
  EXPECT_EQ(q.available(Picoseconds(100)), Picoseconds(300));
  EXPECT_THROW(SuperQueue(0), std::invalid_argument);
  EXPECT_THROW(SuperQueue(SuperQueue::kMaxEntries + 1), std::invalid_argument);
}

constexpr PhysAddr kPage = 0x40000;
PhysAddr line(int i) { return kPage + static_cast<PhysAddr>(i) * 64; }

TEST(SuperQueue, StreamerUsesOnlyTheEntriesBeyondItsDemandReserve) {
  StreamPrefetcherParams p;
  p.distance = 20;
  p.degree = 4;
  p.queue = 64;
  p.demand_reserve = 2;
  StreamPrefetcher pf(p);
  PrefetchCandidates c;
  for (int i : {0, 1}) pf.observe(line(i), Picoseconds(0), c, 16);
  pf.observe(line(2), Picoseconds(0), c, 2);  // trained, but only the reserve is free: throttled
  EXPECT_EQ(c.count, 0u);
  EXPECT_EQ(pf.stats().throttled, 1u);
  EXPECT_EQ(pf.stats().dropped, 0u);
  pf.observe(line(3), Picoseconds(0), c, 4);  // two entries beyond the reserve
  EXPECT_EQ(c.count, 2u);
  c = {};
  pf.observe(line(4), Picoseconds(0), c, 16);  // room for the whole degree
  EXPECT_EQ(c.count, 4u);
}

MemoryLayout one_node() {
  MemoryLayout l;
  l.num_sockets = 1;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), {CpuId(0)}});
  l.interconnect.num_nodes = 1;
  l.interconnect.paths = {{}};
  return l;
}

struct SqRun {
  Picoseconds elapsed{0};
  MapStatsVisitor stats;
};

// A core with `mlp` misses in flight (its fill buffers) reading `addrs` in order.
SqRun read(std::uint32_t super_queue, bool prefetch, const std::vector<PhysAddr>& addrs, std::size_t mlp) {
  MemorySystemParams p;
  p.l2_prefetch.enabled = prefetch;
  p.super_queue = super_queue;
  MemorySystem ms(one_node(), p);
  std::vector<Picoseconds> slot(mlp, Picoseconds(0));
  Picoseconds t(0), end(0);
  SqRun r;
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    t = std::max(t + Picoseconds(1000), slot[i % mlp]);
    const Picoseconds done = t + ms.access(CpuId(0), addrs[i], false, t);
    slot[i % mlp] = done;
    end = std::max(end, done);
  }
  r.elapsed = end;
  ms.dump_stats(r.stats);
  return r;
}

TEST(SuperQueue, BoundsTheDemandMissesOfACoreWithMoreFillBuffers) {
  // A sequential stream without prefetcher (row hits across the channels: latency-bound).
  std::vector<PhysAddr> seq_lines;
  for (PhysAddr a = 0; a < 3000 * 64; a += 64) seq_lines.push_back(a);
  // 32 fill buffers (as if): the 16-entry queue halves what is in flight.
  const SqRun q16 = read(16, false, seq_lines, 32);
  const SqRun q64 = read(64, false, seq_lines, 32);
  EXPECT_GT(q16.stats.get("system.cpu0.l2_super_queue.full"), 0.5 * static_cast<double>(seq_lines.size()));
  EXPECT_EQ(q64.stats.get("system.cpu0.l2_super_queue.full"), 0.0);
  EXPECT_GT(q16.stats.get("system.cpu0.l2_super_queue.full_wait_latency"), 0.0);
  EXPECT_EQ(q16.stats.get("system.cpu0.l2_super_queue.requests"), static_cast<double>(seq_lines.size()));
  // Little's law: 16 in flight, each beyond L2 for at least the LLC miss and a
  // DRAM row hit (more than 40 ns), bound the run from below; 32 go faster.
  EXPECT_GT(q16.elapsed.value(), seq_lines.size() * 40'000 / 16);
  EXPECT_GT(static_cast<double>(q16.elapsed.value()), 1.5 * static_cast<double>(q64.elapsed.value()));
  // With 10 fill buffers the 16 entries never fill on demand misses alone.
  const SqRun lfb10 = read(16, false, seq_lines, 10);
  EXPECT_EQ(lfb10.stats.get("system.cpu0.l2_super_queue.full"), 0.0);
}

TEST(SuperQueue, PrefetchesShareTheQueueWithDemandMisses) {
  std::vector<PhysAddr> seq;
  for (PhysAddr a = 0; a < (2u << 20); a += 64) seq.push_back(a);
  // The streamer's own limit (queue = 16) is not what stops it when the shared
  // queue is small: the queue's entries are, and it is throttled.
  const SqRun small = read(12, true, seq, 10);
  const SqRun big = read(64, true, seq, 10);
  EXPECT_GT(small.stats.get("system.cpu0.l2_prefetcher.throttled"), 0.0);
  EXPECT_EQ(big.stats.get("system.cpu0.l2_prefetcher.throttled"), 0.0);
  EXPECT_GT(static_cast<double>(small.elapsed.value()), static_cast<double>(big.elapsed.value()));
  // Every DRAM read (demand or prefetch) took an entry.
  EXPECT_EQ(small.stats.get("system.cpu0.l2_super_queue.requests"), small.stats.get("system.node0.mc.reads"));
}

}  // namespace
}  // namespace numasim::hw
