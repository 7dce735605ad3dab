// way_scan.h's searches against plain loops: ways_equal_padded's bit per
// matching way, and least_word_sse41's first way with the least word (the
// victim search of the caches and the snoop filter on hosts with SSE4.1), for
// every way count up to 64, words with repeated values and the top bit set,
// and garbage beyond the n ways (read in groups of four, ignored).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>

#include "hw/way_scan.h"

namespace numasim::hw {
namespace {

TEST(WayScan, WholeSetSearchesFindWhatThePlainLoopsFind) {
  std::mt19937_64 rng(3);
  alignas(64) std::array<std::uint32_t, 72> words{};
  int checked_least = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t n = 1 + static_cast<std::size_t>(rng() % 64);
    // Few distinct values (so that the least repeats) spread over the whole 32 bits.
    for (auto& w : words)
      w = static_cast<std::uint32_t>(rng() % 5) * 0x3fffffffu + static_cast<std::uint32_t>(rng() % 2);
    const std::uint32_t probe = words[rng() % n];
    std::uint64_t expect_eq = 0;
    std::size_t expect_way = 0;
    std::uint32_t expect_least = words[0];
    for (std::size_t w = 0; w < n; ++w) {
      expect_eq |= static_cast<std::uint64_t>(words[w] == probe) << w;
      if (words[w] < expect_least) {
        expect_least = words[w];
        expect_way = w;
      }
    }
    ASSERT_EQ(ways_equal_padded(words.data(), n, probe), expect_eq) << "n " << n;
#if defined(__x86_64__)
    if (kHostSse41) {
      std::uint32_t least = 0;
      ASSERT_EQ(least_word_sse41(words.data(), n, least), expect_way) << "n " << n;
      ASSERT_EQ(least, expect_least) << "n " << n;
      ++checked_least;
    }
#endif
  }
#if defined(__x86_64__)
  if (kHostSse41) {
    EXPECT_EQ(checked_least, 2000);
  } else {
    GTEST_SKIP() << "host without SSE4.1: least_word_sse41 not checked (ways_equal_padded was)";
  }
#else
  GTEST_SKIP() << "not x86-64: least_word_sse41 not built (ways_equal_padded was checked)";
#endif
}

}  // namespace
}  // namespace numasim::hw
