// SuperQueue::free_up_to against the exact count of free entries, capped.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

}  // namespace
}  // namespace numasim::hw
