// CacheArray::age_out (the deferred clear residue's displacement sweep, which
// takes its sets in runs up to the last set): a sweep of n sets at once against
// the same sweep one set per call, on arrays of each way count with its own
// copy (8, 11, 16) and one without (12), power-of-two and other set counts,
// sweeps that start past the last set, stop short of it, and wrap around it
// more than once: the same set returned, the same dirty lines in the same
// order, the same set contents and statistics. And, where the host has
// SSE4.1 (whose copy tests a set by the unsigned minimum), the same sweep as a
// host without it runs it.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "hw/cache.h"
#include "hw/hw_stats.h"

namespace numasim::hw {
namespace {

TEST(CacheAgeOut, ASweepOfManySetsEqualsOneSetAtATime) {
  struct Case {
    std::size_t sets;
    int ways;
  };
  const Case cases[] = {{64, 8}, {40, 8}, {1024, 16}, {96, 16}, {1000, 11}, {96, 12}};
  std::mt19937_64 rng(15);
  for (const Case& c : cases) {
    CacheParams p;
    p.size = Bytes(c.sets * static_cast<std::uint64_t>(c.ways) * 64);
    p.ways = c.ways;
    p.replacement = Replacement::Lru;
    const std::string name = std::to_string(c.sets) + " sets x " + std::to_string(c.ways) + " ways";
    CacheArray once(p, "l2"), by_set(p, "l2"), plain(p, "l2");
    const std::uint64_t span = 8 * c.sets * static_cast<std::uint64_t>(c.ways);  // lines
    std::size_t s_once = 0, s_by_set = 0, evicted = 0, dirty_lines = 0;
    for (int round = 0; round < 30; ++round) {
      // Fills, some dirty; the stamp read part-way through: what was filled
      // (or used) before it is old, what comes after is kept.
      std::uint32_t stamp = 0;
      const int fills = static_cast<int>(c.sets) * c.ways / 2;
      for (int i = 0; i < fills; ++i) {
        if (i == fills / 2) stamp = once.stamp_clock();
        const PhysAddr pa = (rng() % span) * 64;
        const LineState st = rng() % 3 == 0 ? LineState::Modified : LineState::Exclusive;
        if (!once.contains(pa)) {
          once.fill(pa, st);
          by_set.fill(pa, st);
          plain.fill(pa, st);
        }
      }
      ASSERT_EQ(once.stamp_clock(), by_set.stamp_clock()) << name;
      // Sweeps from inside the sets and from beyond them, shorter than the sets and up to 2.5 times them.
      const std::size_t first = static_cast<std::size_t>(rng() % (3 * c.sets));
      const std::size_t n = static_cast<std::size_t>(rng() % (5 * c.sets / 2 + 1));
      std::vector<PhysAddr> d_once(c.sets * c.ways + 1), d_by_set(c.sets * c.ways + 1);
      std::size_t nd_once = 0, nd_by_set = 0;
      s_once = once.age_out(first, n, stamp, d_once.data(), nd_once);
      s_by_set = first % c.sets;
      for (std::size_t k = 0; k < n; ++k) s_by_set = by_set.age_out(s_by_set, 1, stamp, d_by_set.data(), nd_by_set);
      ASSERT_EQ(s_once, s_by_set) << name << ", round " << round;
      ASSERT_EQ(nd_once, nd_by_set) << name << ", round " << round;
      for (std::size_t i = 0; i < nd_once; ++i) ASSERT_EQ(d_once[i], d_by_set[i]) << name << ", dirty " << i;
      dirty_lines += nd_once;
      std::vector<PhysAddr> d_plain(c.sets * c.ways + 1);
      std::size_t nd_plain = 0, s_plain;
      {
#if defined(__x86_64__)
        struct Restore {
          bool was = sse41_in_use;
          ~Restore() { sse41_in_use = was; }
        } restore;
        sse41_in_use = false;
#endif
        s_plain = plain.age_out(first, n, stamp, d_plain.data(), nd_plain);
      }
      ASSERT_EQ(s_plain, s_once) << name << ", round " << round;
      ASSERT_EQ(nd_plain, nd_once) << name << ", round " << round;
      for (std::size_t i = 0; i < nd_once; ++i) ASSERT_EQ(d_plain[i], d_once[i]) << name << ", dirty " << i;
    }
    for (std::size_t s = 0; s < c.sets; ++s) {
      ASSERT_EQ(once.set_contents(s), by_set.set_contents(s)) << name;
      ASSERT_EQ(plain.set_contents(s), once.set_contents(s)) << name;
    }
    MapStatsVisitor a, b, c_plain;
    once.dump(a);
    by_set.dump(b);
    plain.dump(c_plain);
    EXPECT_EQ(a.values, b.values) << name;
    EXPECT_EQ(c_plain.values, a.values) << name;
    evicted = static_cast<std::size_t>(a.values.at("l2.evictions"));
    EXPECT_GT(evicted, c.sets) << name;  // the sweeps did remove lines
    EXPECT_GT(dirty_lines, 0u) << name;
  }
}

}  // namespace
}  // namespace numasim::hw
