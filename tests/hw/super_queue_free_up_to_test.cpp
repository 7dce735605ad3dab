// The L2 streamer's throttle reads the super queue's free entries only up to
// what it can tell apart (SuperQueue::free_up_to with
// StreamPrefetcher::sq_free_told_apart): free_up_to against the exact count,
// and the streamer given the capped count against the same streamer given the
// exact one, on random request sequences (same candidates and statistics),
// with and without a demand reserve and the load-adaptive distance.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "hw/stream_prefetcher.h"
#include "hw/uncore_super_queue.h"

namespace numasim::hw {
namespace {

TEST(SuperQueue, FreeUpToIsTheFreeCountCapped) {
  std::mt19937_64 rng(11);
  for (std::uint32_t n : {1u, 2u, 16u, 48u}) {
    SuperQueue q(n);
    std::uint64_t t = 0;
    for (int step = 0; step < 20000; ++step) {
      t += rng() % 60;
      q.hold(Picoseconds(t + rng() % 2000));
      const Picoseconds at(t > 500 ? t - 500 + rng() % 2500 : rng() % 2500);
      const std::uint32_t cap = static_cast<std::uint32_t>(rng() % (n + 3));
      ASSERT_EQ(q.free_up_to(at, cap), std::min(n - q.busy(at), cap)) << n << " " << step;
    }
  }
}

TEST(StreamPrefetcher, CappedFreeEntriesDecideAsTheExactCount) {
  for (const bool adaptive : {false, true})
    for (const std::uint32_t reserve : {0u, 3u}) {
      StreamPrefetcherParams p;
      p.queue = 16;
      p.degree = 4;
      p.demand_reserve = reserve;
      p.adaptive_distance = adaptive;
      StreamPrefetcher exact(p), capped(p);
      std::mt19937_64 rng(reserve + (adaptive ? 100 : 0));
      std::uint64_t issued = 0;
      for (int i = 0; i < 200'000; ++i) {
        // Runs over a few pages, and super-queue loads from empty to full.
        const PhysAddr pa = ((rng() % 4) << 12) | ((i % 64) << 6);
        const Picoseconds now(static_cast<std::uint64_t>(i) * 1000);
        const auto sq_free = static_cast<std::uint32_t>(rng() % 30);
        PrefetchCandidates a, b;
        exact.observe(pa, now, a, sq_free);
        capped.observe(pa, now, b, std::min(sq_free, capped.sq_free_told_apart()));
        ASSERT_EQ(a.count, b.count) << i;
        for (std::uint32_t c = 0; c < a.count; ++c) {
          ASSERT_EQ(a.line[c], b.line[c]) << i;
          const Picoseconds ready = now + Picoseconds(rng() % 40'000);
          exact.issued(a.line[c], ready);
          capped.issued(b.line[c], ready);
          ++issued;
        }
      }
      const StreamPrefetcherStats &x = exact.stats(), &y = capped.stats();
      EXPECT_EQ(x.dropped, y.dropped);
      EXPECT_EQ(x.throttled, y.throttled);
      EXPECT_GT(issued, 1000u);
      EXPECT_GT(x.dropped + x.throttled, 100u);
    }
}

}  // namespace
}  // namespace numasim::hw
