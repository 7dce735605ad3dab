// The L2 super queue (uncore_super_queue.h): entries held until their request
// completes, the wait of a request that finds them all busy; the streamer's
// throttle on the entries left free. In the memory system (a core's requests
// beyond L2 bounded by the queue, prefetches sharing it): stream_prefetcher_test.cpp.
#include "hw/uncore_super_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

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

// The sorted ring against the plain model it stands for: an array of
// completion times where a request replaces the smallest. Requests nearly in
// time order (the ring's usual case: inserted at or near the tail) and out of
// order (a shift through the whole ring), for 1, 16 and 48 entries.
TEST(SuperQueue, SortedRingMatchesAnArrayOfCompletionTimes) {
  std::mt19937_64 rng(7);
  for (std::uint32_t n : {1u, 2u, 3u, 5u, 16u, 48u}) {
    SuperQueue q(n);
    std::vector<std::uint64_t> ref(n, 0);
    std::uint64_t t = 0;
    for (int step = 0; step < 20000; ++step) {
      t += rng() % 50;
      const Picoseconds now(t);
      const std::uint64_t lat = step % 7 == 0 ? rng() % 5000 : 100 + rng() % 30;
      const auto first = std::min_element(ref.begin(), ref.end());
      ASSERT_EQ(q.available(now), Picoseconds(std::max(t, *first))) << n << " " << step;
      std::uint32_t busy = 0;
      for (const std::uint64_t d : ref) busy += d > t ? 1u : 0u;
      ASSERT_EQ(q.busy(now), busy) << n << " " << step;
      // busy() at any time, before, among and after the completion times.
      const std::uint64_t probe = t > 3000 ? t - 3000 + rng() % 9000 : rng() % 9000;
      std::uint32_t busy_then = 0;
      for (const std::uint64_t d : ref) busy_then += d > probe ? 1u : 0u;
      ASSERT_EQ(q.busy(Picoseconds(probe)), busy_then) << n << " " << step << " at " << probe;
      // An earlier-stamped request now and then (a prefetch or a copy's store behind a load).
      const std::uint64_t at = step % 11 == 0 && t > 1000 ? t - 1000 : t;
      const std::uint64_t start = std::max(at, *first);
      q.take(Picoseconds(at), Picoseconds(start), Picoseconds(start + lat));
      *first = start + lat;
    }
  }
}

// A run of k replacements merged at once (SuperQueue::took_run's kept
// requests) against k replace_earliest() calls, for k from 0 to every entry:
// the values coming in ascend and none is less than the k earliest times
// (some equal to the k-th), the rest of the time single replacements out of
// order too (earlier than every time held: the whole ring moves up). Enough
// operations that the values move back to the storage's front many times.
TEST(SuperQueue, SortedRunMergeEqualsOneReplacementAtATime) {
  std::mt19937_64 rng(11);
  for (std::uint32_t n : {1u, 2u, 10u, 16u, 48u, 256u}) {
    CompletionRing<std::uint64_t> merged(n, 0, "test"), single(n, 0, "test");
    std::uint64_t t = 0;
    for (int step = 0; step < 6000; ++step) {
      t += rng() % 40;
      if (step % 3 != 0) {
        const std::uint64_t done = step % 17 == 0 ? rng() % (t + 1) : t + rng() % 300;
        merged.replace_earliest(done);
        single.replace_earliest(done);
      } else {
        const auto k = static_cast<std::uint32_t>(rng() % (n + 1));
        std::vector<std::uint64_t> in(k);
        std::uint64_t v = k == 0 ? 0 : single.at(k - 1);  // the latest time that leaves
        for (std::uint64_t& x : in) x = v += (rng() % 3 == 0 ? 0 : rng() % 200);
        merged.replace_earliest_run(in.data(), k);
        for (const std::uint64_t x : in) single.replace_earliest(x);
      }
      for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(merged.at(i), single.at(i)) << n << " " << step << " " << i;
    }
  }
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

}  // namespace
}  // namespace numasim::hw
