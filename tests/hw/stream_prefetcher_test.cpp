// The L2 streamer: training on ascending and descending line streams inside a
// 4 KiB page, the prefetch frontier (distance, degree, page boundary),
// retraining on a direction change, stream-table replacement, the queue of
// prefetches in flight; and in the memory system: a sequential miss stream
// turns into L2 hits that wait for their prefetch, a random one does not, and
// the prefetches are counted where the data came from; the L2 super queue
// bounds a core's requests beyond L2 and is shared with the prefetches.
#include "hw/stream_prefetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "hw/memory_system.h"

namespace numasim::hw {
namespace {

constexpr PhysAddr kPage = 0x40000;  // a 4 KiB-aligned page

std::vector<PhysAddr> lines(const PrefetchCandidates& c) { return {c.line.begin(), c.line.begin() + c.count}; }
PhysAddr line(PhysAddr page, int i) { return page + static_cast<PhysAddr>(i) * 64; }

StreamPrefetcherParams params(std::uint32_t distance, std::uint32_t degree) {
  StreamPrefetcherParams p;
  p.distance = distance;
  p.degree = degree;
  p.train = 2;
  p.queue = 64;
  return p;
}

TEST(StreamPrefetcher, AscendingStreamPrefetchesAheadAfterTraining) {
  StreamPrefetcher pf(params(4, 2));
  PrefetchCandidates c;
  pf.observe(line(kPage, 0), Picoseconds(0), c);  // allocates the stream
  EXPECT_EQ(c.count, 0u);
  pf.observe(line(kPage, 1), Picoseconds(0), c);  // first step: direction known, confidence 1
  EXPECT_EQ(c.count, 0u);
  pf.observe(line(kPage, 2), Picoseconds(0), c);  // trained: the next `degree` lines
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 3), line(kPage, 4)}));
  c = {};
  pf.observe(line(kPage, 3), Picoseconds(0), c);  // frontier 4 -> up to 3 + distance = 7, two per request
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 5), line(kPage, 6)}));
  c = {};
  pf.observe(line(kPage, 4), Picoseconds(0), c);  // target 8: frontier 6 -> 7, 8
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 7), line(kPage, 8)}));
  c = {};
  pf.observe(line(kPage, 5), Picoseconds(0), c);  // target 9: only one line left to reach it
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 9)}));
  EXPECT_EQ(pf.stats().requests, 6u);
  EXPECT_EQ(pf.stats().streams_allocated, 1u);
}

TEST(StreamPrefetcher, DescendingStreamAndThePageBoundary) {
  StreamPrefetcher pf(params(8, 4));
  PrefetchCandidates c;
  for (int i : {63, 62}) pf.observe(line(kPage, i), Picoseconds(0), c);
  EXPECT_EQ(c.count, 0u);
  pf.observe(line(kPage, 61), Picoseconds(0), c);
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 60), line(kPage, 59), line(kPage, 58), line(kPage, 57)}));
  // Near the start of the page the stream stops at line 0: never the previous page.
  StreamPrefetcher up(params(8, 8));
  for (int i : {56, 58, 60}) {
    c = {};
    up.observe(line(kPage, i), Picoseconds(0), c);
  }
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 61), line(kPage, 62), line(kPage, 63)}));
  c = {};
  up.observe(line(kPage, 61), Picoseconds(0), c);
  EXPECT_EQ(c.count, 0u);
}

TEST(StreamPrefetcher, DirectionChangeRetrains) {
  StreamPrefetcher pf(params(4, 1));
  PrefetchCandidates c;
  for (int i : {10, 11, 12}) pf.observe(line(kPage, i), Picoseconds(0), c);
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 13)}));
  c = {};
  pf.observe(line(kPage, 9), Picoseconds(0), c);  // turned round: confidence 1 again
  EXPECT_EQ(c.count, 0u);
  pf.observe(line(kPage, 8), Picoseconds(0), c);
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 7)}));
  // A repeated request to the same line neither trains nor prefetches.
  c = {};
  pf.observe(line(kPage, 8), Picoseconds(0), c);
  EXPECT_EQ(c.count, 0u);
}

TEST(StreamPrefetcher, LeastRecentlyUsedStreamIsReplaced) {
  auto interleave = [](std::uint32_t streams) {
    StreamPrefetcherParams p = params(4, 1);
    p.streams = streams;
    StreamPrefetcher pf(p);
    std::uint32_t issued = 0;
    // Three pages walked in turn, one line each time.
    for (int i = 0; i < 8; ++i)
      for (int page = 0; page < 3; ++page) {
        PrefetchCandidates c;
        pf.observe(line(kPage + static_cast<PhysAddr>(page) * 4096, i), Picoseconds(0), c);
        issued += c.count;
      }
    return std::pair{issued, pf.stats().streams_allocated};
  };
  const auto [thrash_issued, thrash_allocated] = interleave(2);
  EXPECT_EQ(thrash_issued, 0u);  // each page's stream is evicted before its next request
  EXPECT_EQ(thrash_allocated, 24u);
  const auto [fit_issued, fit_allocated] = interleave(3);
  EXPECT_GT(fit_issued, 0u);
  EXPECT_EQ(fit_allocated, 3u);
}

TEST(StreamPrefetcher, FullQueueHoldsTheFrontierUntilEntriesRetire) {
  StreamPrefetcherParams p = params(20, 4);
  p.queue = 2;
  StreamPrefetcher pf(p);
  PrefetchCandidates c;
  for (int i : {0, 1}) pf.observe(line(kPage, i), Picoseconds(0), c);
  pf.observe(line(kPage, 2), Picoseconds(0), c);
  ASSERT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 3), line(kPage, 4)}));  // only two entries
  pf.issued(line(kPage, 3), Picoseconds(100'000));
  pf.issued(line(kPage, 4), Picoseconds(200'000));
  EXPECT_EQ(pf.pending(line(kPage, 3), Picoseconds(50'000)), Picoseconds(100'000));
  EXPECT_EQ(pf.pending(line(kPage, 3) + 8, Picoseconds(50'000)), Picoseconds(100'000));  // any byte of the line
  EXPECT_EQ(pf.pending(line(kPage, 3), Picoseconds(100'000)), Picoseconds(0));           // arrived
  EXPECT_EQ(pf.pending(line(kPage, 5), Picoseconds(50'000)), Picoseconds(0));
  c = {};
  pf.observe(line(kPage, 3), Picoseconds(50'000), c);  // both entries busy: dropped, frontier kept
  EXPECT_EQ(c.count, 0u);
  EXPECT_EQ(pf.stats().dropped, 1u);
  c = {};
  pf.observe(line(kPage, 4), Picoseconds(150'000), c);  // line 3's entry retired: one more, the next line
  EXPECT_EQ(lines(c), (std::vector<PhysAddr>{line(kPage, 5)}));
}

// Load-adaptive distance: with every super-queue entry free the streamer runs
// the full distance ahead; with a quarter free, a quarter of it; with none
// free the target is one line ahead (and nothing is issued: no room).
TEST(StreamPrefetcher, AdaptiveDistanceShrinksAsTheSuperQueueFills) {
  StreamPrefetcherParams p = params(20, 8);
  p.queue = 48;
  p.adaptive_distance = true;
  auto frontier_after = [&](std::uint32_t sq_free) {
    StreamPrefetcher pf(p);
    PrefetchCandidates c;
    for (int i : {0, 1}) pf.observe(line(kPage, i), Picoseconds(0), c, sq_free);
    int furthest = 2;
    for (int i = 2; i < 8; ++i) {  // several requests: the frontier reaches its target
      c = {};
      pf.observe(line(kPage, i), Picoseconds(0), c, sq_free);
      for (PhysAddr a : lines(c)) furthest = std::max(furthest, static_cast<int>((a - kPage) / 64));
    }
    return furthest - 7;  // lines ahead of the last request (line 7)
  };
  EXPECT_EQ(frontier_after(48), 20);
  EXPECT_EQ(frontier_after(12), 5);    // 20 x 12 / 48
  EXPECT_EQ(frontier_after(100), 20);  // more free than the streamer's queue counts as all
  p.adaptive_distance = false;
  EXPECT_EQ(frontier_after(12), 20);  // off: the fixed distance (room permitting)
}

TEST(StreamPrefetcher, RejectsImpossibleParameters) {
  StreamPrefetcherParams p;
  p.degree = StreamPrefetcherParams::kMaxDegree + 1;
  EXPECT_THROW(StreamPrefetcher{p}, std::invalid_argument);
  p = {};
  p.queue = 0;
  EXPECT_THROW(StreamPrefetcher{p}, std::invalid_argument);
}

MemoryLayout one_node() {
  MemoryLayout l;
  l.num_sockets = 1;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), {CpuId(0)}});
  l.interconnect.num_nodes = 1;
  l.interconnect.paths = {{}};
  return l;
}

struct StreamRun {
  Picoseconds elapsed{0};
  MapStatsVisitor stats;
};

// A core with `mlp` misses in flight reading `n` addresses in order, one issue per ns.
StreamRun read_stream(bool prefetch, const std::vector<PhysAddr>& addrs, std::size_t mlp = 10,
                      std::uint32_t super_queue = 16) {
  MemorySystemParams p;
  p.l2_prefetch.enabled = prefetch;
  p.super_queue = super_queue;
  MemorySystem ms(one_node(), p);
  std::vector<Picoseconds> slot(mlp, Picoseconds(0));
  Picoseconds t(0), end(0);
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    t = std::max(t + Picoseconds(1000), slot[i % mlp]);
    const Picoseconds done = t + ms.access(CpuId(0), addrs[i], false, t);
    slot[i % mlp] = done;
    end = std::max(end, done);
  }
  StreamRun r;
  r.elapsed = end;
  ms.dump_stats(r.stats);
  return r;
}

TEST(StreamPrefetcherInMemorySystem, SequentialReadsBecomeL2HitsAndRunFaster) {
  std::vector<PhysAddr> seq;
  for (PhysAddr a = 0; a < (4u << 20); a += 64) seq.push_back(a);
  const StreamRun off = read_stream(false, seq);
  const StreamRun on = read_stream(true, seq);
  EXPECT_EQ(off.stats.get("system.mem.l2_hits"), 0.0);
  EXPECT_EQ(off.stats.get("system.mem.local_dram"), static_cast<double>(seq.size()));
  // Most lines were fetched ahead of the demand stream; every line reached L2 once.
  EXPECT_GT(on.stats.get("system.mem.l2_hits"), 0.8 * static_cast<double>(seq.size()));
  EXPECT_EQ(on.stats.get("system.mem.l2_hits") + on.stats.get("system.mem.local_dram"),
            static_cast<double>(seq.size()));
  EXPECT_EQ(on.stats.get("system.mem.prefetches_from_dram"), on.stats.get("system.cpu0.l2_prefetcher.issued"));
  EXPECT_EQ(on.stats.get("system.node0.mc.reads"), static_cast<double>(seq.size()));  // nothing fetched twice
  EXPECT_GT(on.stats.get("system.cpu0.l2_prefetcher.late"), 0.0);                     // the stream outruns memory
  // 10 fill buffers alone bound the stream by latency; the prefetches fill the 16-entry super queue.
  EXPECT_LT(static_cast<double>(on.elapsed.value()), 0.75 * static_cast<double>(off.elapsed.value()));
}

TEST(StreamPrefetcherInMemorySystem, RandomReadsAreNotPrefetched) {
  std::mt19937_64 rng(7);
  std::vector<PhysAddr> rnd;
  for (int i = 0; i < 20000; ++i) rnd.push_back((rng() % (1u << 30)) & ~PhysAddr(63));
  const StreamRun on = read_stream(true, rnd);
  EXPECT_LT(on.stats.get("system.cpu0.l2_prefetcher.issued"), 0.01 * static_cast<double>(rnd.size()));
  const StreamRun off = read_stream(false, rnd);
  EXPECT_NEAR(static_cast<double>(on.elapsed.value()), static_cast<double>(off.elapsed.value()),
              0.02 * static_cast<double>(off.elapsed.value()));
}

// The super queue (uncore_super_queue.h) in the memory system.
TEST(SuperQueue, BoundsTheDemandMissesOfACoreWithMoreFillBuffers) {
  // A sequential stream without prefetcher (row hits across the channels: latency-bound).
  std::vector<PhysAddr> seq_lines;
  for (PhysAddr a = 0; a < 3000 * 64; a += 64) seq_lines.push_back(a);
  // 32 fill buffers (as if): the 16-entry queue halves what is in flight.
  const StreamRun q16 = read_stream(false, seq_lines, 32, 16);
  const StreamRun q64 = read_stream(false, seq_lines, 32, 64);
  EXPECT_GT(q16.stats.get("system.cpu0.l2_super_queue.full"), 0.5 * static_cast<double>(seq_lines.size()));
  EXPECT_EQ(q64.stats.get("system.cpu0.l2_super_queue.full"), 0.0);
  EXPECT_GT(q16.stats.get("system.cpu0.l2_super_queue.full_wait_latency"), 0.0);
  EXPECT_EQ(q16.stats.get("system.cpu0.l2_super_queue.requests"), static_cast<double>(seq_lines.size()));
  // Little's law: 16 in flight, each beyond L2 for at least the LLC miss and a
  // DRAM row hit (more than 40 ns), bound the run from below; 32 go faster.
  EXPECT_GT(q16.elapsed.value(), seq_lines.size() * 40'000 / 16);
  EXPECT_GT(static_cast<double>(q16.elapsed.value()), 1.5 * static_cast<double>(q64.elapsed.value()));
  // With 10 fill buffers the 16 entries never fill on demand misses alone.
  const StreamRun lfb10 = read_stream(false, seq_lines, 10, 16);
  EXPECT_EQ(lfb10.stats.get("system.cpu0.l2_super_queue.full"), 0.0);
}

TEST(SuperQueue, PrefetchesShareTheQueueWithDemandMisses) {
  std::vector<PhysAddr> seq;
  for (PhysAddr a = 0; a < (2u << 20); a += 64) seq.push_back(a);
  // The streamer's own limit (queue = 16) is not what stops it when the shared
  // queue is small: the queue's entries are, and it is throttled.
  const StreamRun small = read_stream(true, seq, 10, 12);
  const StreamRun big = read_stream(true, seq, 10, 64);
  EXPECT_GT(small.stats.get("system.cpu0.l2_prefetcher.throttled"), 0.0);
  EXPECT_EQ(big.stats.get("system.cpu0.l2_prefetcher.throttled"), 0.0);
  EXPECT_GT(static_cast<double>(small.elapsed.value()), static_cast<double>(big.elapsed.value()));
  // Every DRAM read (demand or prefetch) took an entry.
  EXPECT_EQ(small.stats.get("system.cpu0.l2_super_queue.requests"), small.stats.get("system.node0.mc.reads"));
}

}  // namespace
}  // namespace numasim::hw
