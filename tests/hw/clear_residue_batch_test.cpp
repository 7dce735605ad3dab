// The deferred clear residue's batched paths held to the line-at-a-time ones
// they replace: CacheArray::write_back_or_fill_page (a recorded page's
// lines entering the LLC as it leaves L2, CacheHierarchy::install_residue_page_in_llc)
// against write_back_or_fill of the same lines one by one, on random pages,
// masks and array contents: the same dirty victims in the same order, the same
// set contents, states and replacement order, statistics, and region and page counts.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "hw/cache.h"
#include "hw/hw_stats.h"
#include "hw/way_scan.h"

namespace numasim::hw {
namespace {

void page_install_equals_one_line_at_a_time() {
  struct Case {
    std::size_t sets;
    int ways;
    Replacement r;
    std::uint32_t stamp_limit;   // 0: the default
    unsigned region_shift = 21;  // count_regions' shift: the residue's 2 MiB regions
  };
  const Case cases[] = {
      {2048, 11, Replacement::Lru, 0},   // an LLC slice's shape (sets a multiple of 64, not a power of two)
      {1344, 12, Replacement::Lru, 0},   // sets a multiple of 64
      {1000, 11, Replacement::Lru, 0},   // not a multiple of 64: a page's sets wrap around
      {1024, 16, Replacement::Lru, 0},   // a power of two
      {64, 8, Replacement::Lru, 0},      // one page fills every set
      {40, 8, Replacement::Lru, 0},      // fewer sets than a page's lines: a page visits a set twice
      {96, 20, Replacement::Fifo, 0},    // FIFO, a way count without its own copy
      {96, 11, Replacement::Random, 0},  // random victims: one line at a time
      {96, 11, Replacement::Lru, 6000},  // stamps renumbered during some pages
      // 1 KiB regions, below a page: a page spans four regions, so each line's
      // region is counted on its own (page_in_one_region false)
      {1344, 12, Replacement::Lru, 0, 10},
  };
  for (const Case& c : cases) {
    CacheParams p;
    p.size = Bytes(c.sets * static_cast<std::uint64_t>(c.ways) * 64);
    p.ways = c.ways;
    p.replacement = c.r;
    const std::string name = "case of " + std::to_string(c.sets) + " sets x " + std::to_string(c.ways) + " ways";
    CacheArray paged(p, "llc"), single(p, "llc");  // one name: their statistics are compared by name
    for (CacheArray* a : {&paged, &single})
      if (c.stamp_limit != 0) a->set_stamp_limit(c.stamp_limit);
    // Lines of 4x the capacity, in whole pages; regions of the case's shift and
    // 4 KiB pages, the last quarter of each left uncounted.
    const std::uint64_t pages = (4 * c.sets * static_cast<std::uint64_t>(c.ways) + 63) / 64;
    const std::size_t regions = static_cast<std::size_t>((pages * 4096 >> c.region_shift) * 3 / 4 + 1);
    const std::size_t counted_pages = static_cast<std::size_t>(pages * 3 / 4);
    std::vector<std::uint32_t> regions_paged(regions, 0), regions_single(regions, 0);
    std::vector<std::uint32_t> pages_paged(counted_pages, 0), pages_single(counted_pages, 0);
    paged.count_regions(regions_paged.data(), regions, c.region_shift);
    single.count_regions(regions_single.data(), regions, c.region_shift);
    paged.count_pages(pages_paged.data(), counted_pages);
    single.count_pages(pages_single.data(), counted_pages);
    std::mt19937_64 rng(31);
    std::array<PhysAddr, 64> dirty;
    std::array<std::uint8_t, 64> from;
    std::uint64_t received = 0, evicted_dirty = 0, page_installs = 0;
    for (int op = 0; op < 12'000; ++op) {
      const std::string where = name + ", op " + std::to_string(op);
      const PhysAddr page = (rng() % pages) * 4096;
      const PhysAddr pa = page + (rng() % 64) * 64;
      const unsigned kind = static_cast<unsigned>(rng() % 8);
      if (kind < 3) {  // demand accesses and clean fills: lines of every state and age around the pages
        if (!paged.access(pa, kind == 0)) {
          ASSERT_FALSE(single.access(pa, kind == 0)) << where;
          const Eviction a = paged.fill(pa, kind == 0 ? LineState::Modified : LineState::Exclusive);
          const Eviction b = single.fill(pa, kind == 0 ? LineState::Modified : LineState::Exclusive);
          ASSERT_EQ(a.valid, b.valid) << where;
          ASSERT_EQ(a.addr, b.addr) << where;
        } else {
          ASSERT_TRUE(single.access(pa, kind == 0)) << where;
        }
      } else if (kind < 4) {
        ASSERT_EQ(paged.invalidate(pa).valid, single.invalidate(pa).valid) << where;
      } else {
        // A page's lines still virtual: all of them, most of them, or a few.
        const unsigned shape = static_cast<unsigned>(rng() % 3);
        std::uint64_t mask = shape == 0 ? ~std::uint64_t{0} : rng();
        if (shape == 2) mask &= rng() & rng();
        const std::size_t n = paged.write_back_or_fill_page(page, mask, dirty.data(), from.data());
        ++page_installs;
        std::size_t d = 0;
        for (std::uint64_t m = mask; m != 0; m &= m - 1) {
          const auto i = static_cast<unsigned>(__builtin_ctzll(m));
          bool got;
          const Eviction e = single.write_back_or_fill(page + i * 64, got);
          received += got;
          if (!(e.valid && e.dirty)) continue;
          ++evicted_dirty;
          ASSERT_LT(d, n) << where << ", line " << i;
          ASSERT_EQ(dirty[d], e.addr) << where << ", line " << i;
          ASSERT_EQ(from[d], i) << where << ", line " << i;
          ++d;
        }
        ASSERT_EQ(d, n) << where;
      }
    }
    for (std::size_t s = 0; s < paged.sets(); ++s) {
      const std::vector<PhysAddr> a = paged.set_contents(s), b = single.set_contents(s);
      ASSERT_EQ(a, b) << name << ", set " << s;
      for (PhysAddr l : a) {
        ASSERT_EQ(paged.state(l), single.state(l)) << name;
      }
    }
    EXPECT_EQ(paged.stamp_clock(), single.stamp_clock()) << name;
    EXPECT_EQ(paged.renumberings(), single.renumberings()) << name;
    if (c.stamp_limit) {
      EXPECT_GT(paged.renumberings(), 0u) << name;
    }
    MapStatsVisitor stats_paged, stats_single;
    paged.dump(stats_paged);
    single.dump(stats_single);
    EXPECT_EQ(stats_paged.values, stats_single.values) << name;
    EXPECT_EQ(regions_paged, regions_single) << name;
    EXPECT_EQ(pages_paged, pages_single) << name;
    EXPECT_GT(page_installs, 5000u) << name;
    EXPECT_GT(received, 10'000u) << name;
    EXPECT_GT(evicted_dirty, 10'000u) << name;
  }
}

TEST(ClearResidueBatch, PageInstallEqualsOneLineAtATime) {
#if defined(__x86_64__)
  // On this host's copy, then on the one a host without SSE4.1 runs (plain victim searches).
  const bool host = sse41_in_use;
  for (const bool sse41 : {host, false}) {
    sse41_in_use = sse41;
    page_install_equals_one_line_at_a_time();
  }
  sse41_in_use = host;
#else
  page_install_equals_one_line_at_a_time();
#endif
}

}  // namespace
}  // namespace numasim::hw
