// Host-speed helpers of the cache and snoop-filter searches (hw/way_scan.h):
// least_way's SSE4.1 form against the plain loop (the same way and word on
// random sets of 1..64 ways, with ties among empty ways, the largest word, and
// garbage in the padding beyond the last way), and the dispatching least_way.
// Models nothing; the simulated victims depend on these being exact.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>

#include "hw/way_scan.h"

namespace numasim::hw {
namespace {

TEST(WayScanSpeed, LeastWayMatchesLoop) {
  std::mt19937_64 rng(7);
  // 64 ways plus a padded group, as the set blocks allow.
  alignas(64) std::array<std::uint32_t, 72> words{};
  const bool sse41 = least_way_sse41_available();
  for (int round = 0; round < 20000; ++round) {
    const std::size_t n = 1 + static_cast<std::size_t>(rng() % 64);
    for (std::uint32_t& w : words) w = static_cast<std::uint32_t>(rng());
    const int kind = static_cast<int>(rng() % 4);
    for (std::size_t w = 0; w < n; ++w) {
      if (kind == 0) words[w] = static_cast<std::uint32_t>(rng() % 4);  // many ties (empty ways hold 0)
      if (kind == 1 && rng() % 3 == 0) words[w] = 0;
      if (kind == 2) words[w] = ~std::uint32_t{0} - static_cast<std::uint32_t>(rng() % 2);  // the top of the range
    }
    // Padding beyond n: a word smaller than any way's must not win.
    for (std::size_t w = n; w < words.size(); ++w) words[w] = 0;
    if (kind == 1 || kind == 3)
      for (std::size_t w = 0; w < n; ++w) words[w] |= 1;  // no way below the padding's 0
    std::uint32_t least_loop = 0, least = 0;
    const std::size_t want = least_way_loop(words.data(), n, least_loop);
    const std::size_t got = least_way(words.data(), n, least, sse41);
    ASSERT_EQ(got, want) << "n=" << n << " kind=" << kind;
    ASSERT_EQ(least, least_loop) << "n=" << n << " kind=" << kind;
#if defined(NUMASIM_LEAST_WAY_SSE41)
    if (sse41) {
      std::uint32_t least_simd = 0;
      ASSERT_EQ(least_way_sse41(words.data(), n, least_simd), want) << "n=" << n;
      ASSERT_EQ(least_simd, least_loop);
    }
#endif
  }
}

TEST(WayScanSpeed, LeastWayFirstOfEqualWords) {
  alignas(64) std::array<std::uint32_t, 20> words{};
  for (std::uint32_t& w : words) w = 9;
  words[5] = 3;
  words[11] = 3;
  words[13] = 1;  // beyond n = 11: ignored
  std::uint32_t least = 0;
  EXPECT_EQ(least_way(words.data(), 11, least, least_way_sse41_available()), 5u);
  EXPECT_EQ(least, 3u);
  EXPECT_EQ(least_way(words.data(), 11, least, false), 5u);
  EXPECT_EQ(least, 3u);
}

}  // namespace
}  // namespace numasim::hw
