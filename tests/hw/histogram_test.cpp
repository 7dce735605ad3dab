// Histogram (hw/hw_stats.h): buckets by a compare and a reciprocal multiply
// must be the buckets of a plain division, capped at the overflow bucket.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>

#include "hw/hw_stats.h"

namespace numasim::hw {
namespace {

// The bucket a plain division gives: v / width, values from kBuckets x width on in the overflow.
std::size_t divided_bucket(std::uint64_t v, std::uint64_t width) {
  const std::uint64_t b = v / width;
  return b > Histogram::kBuckets ? Histogram::kBuckets : static_cast<std::size_t>(b);
}

TEST(Histogram, BucketsEqualTheDivisionAtEveryBoundaryAndAtRandom) {
  std::mt19937_64 rng(15);
  // Widths whose buckets end below 2^31 ps take the 64-bit reciprocal (up to
  // 2^25 ps, whose 64 buckets end at 2^31 exactly, and 2^25 - 1, the widest
  // that is not a power of two), wider ones FastDivider's.
  for (std::uint64_t width : {1ull, 7ull, 1000ull, 10000ull, 65536ull, 10'000'000ull, 33'554'431ull, 33'554'432ull,
                              33'554'433ull, 999'999'937ull}) {
    Histogram h{Picoseconds(width)};
    std::array<std::uint64_t, Histogram::kBuckets + 1> expected{};
    auto add = [&](std::uint64_t v) {
      h.record(Picoseconds(v));
      ++expected[divided_bucket(v, width)];
    };
    for (std::uint64_t i = 0; i <= Histogram::kBuckets + 2; ++i) {
      add(i * width);                 // a bucket's first value
      if (i > 0) add(i * width - 1);  // the last value of the bucket before
    }
    for (int k = 0; k < 20000; ++k) add(rng() % ((Histogram::kBuckets + 3) * width));
    add(~std::uint64_t{0} >> 1);  // far beyond the last bucket
    EXPECT_EQ(h.buckets(), expected) << "width " << width;
  }
}

TEST(Histogram, RecordOfNSamplesEqualsNRecords) {
  Histogram one{Picoseconds(10000)}, many{Picoseconds(10000)};
  for (std::uint64_t v : {0ull, 9999ull, 10000ull, 639'999ull, 640'000ull, 5'000'000ull}) {
    for (int i = 0; i < 3; ++i) one.record(Picoseconds(v));
    many.record(Picoseconds(v), 3);
  }
  EXPECT_EQ(one.buckets(), many.buckets());
  EXPECT_EQ(one.count(), many.count());
  EXPECT_EQ(one.sum_ps(), many.sum_ps());
  EXPECT_EQ(one.min_ps(), many.min_ps());
  EXPECT_EQ(one.max_ps(), many.max_ps());
  EXPECT_EQ(one.buckets()[Histogram::kBuckets], 6u);  // 640 000 and 5 000 000 ps overflow 64 x 10 ns
}

}  // namespace
}  // namespace numasim::hw
