// The private caches' residency counts (CacheHierarchy::private_clean), by
// which a snoop-filter eviction's back-invalidation skips a CPU holding no line
// of the evicted line's region: the counts follow fills, evictions and
// invalidations, and a hierarchy that skips ends every step of random traffic
// (reads, writes, whole-line stores, over more regions than the caches hold,
// with a snoop filter small enough to evict constantly) with the same cache
// contents, write-backs and statistics as one that never counts.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "hw/cache_hierarchy.h"
#include "hw/hw_stats.h"

namespace numasim::hw {
namespace {

CacheHierarchyParams small_caches() {
  CacheHierarchyParams p;
  p.l1d.size = Bytes(4096);
  p.l1d.ways = 4;
  p.l2.size = Bytes(32 * 1024);
  p.l2.ways = 8;
  p.llc.size = Bytes(128 * 1024);
  p.llc.ways = 8;
  p.directory_coverage = 0.25;
  return p;
}

TEST(PrivateRegionCounts, FollowFillsEvictionsAndInvalidations) {
  CacheHierarchy h(small_caches(), {0, 0}, 1, Frequency(2'000'000'000));
  h.count_regions(PhysAddr(64) << 20);
  const PhysAddr a = PhysAddr(3) << 16;  // region 3 of 64 KiB
  EXPECT_TRUE(h.private_clean(0, a));
  WritebackList wb;
  SnoopResult sn;
  h.write_full_line(CpuId(0), a, wb, sn);
  EXPECT_FALSE(h.private_clean(0, a));
  EXPECT_FALSE(h.private_clean(0, a + 0x8000));  // the same region
  EXPECT_TRUE(h.private_clean(0, a + 0x10000));  // the next one
  EXPECT_TRUE(h.private_clean(1, a));            // another CPU's caches
  EXPECT_TRUE(h.invalidate_private(a));          // the dirty copy leaves
  EXPECT_TRUE(h.private_clean(0, a));
  EXPECT_FALSE(h.private_clean(0, PhysAddr(64) << 20));  // beyond the counted range: never skipped
}

TEST(PrivateRegionCounts, SkippingBackInvalidationsChangesNothing) {
  const CacheHierarchyParams p = small_caches();
  CacheHierarchy counted(p, {0, 0, 1}, 2, Frequency(2'000'000'000));
  CacheHierarchy plain(p, {0, 0, 1}, 2, Frequency(2'000'000'000));
  const PhysAddr end = PhysAddr(4) << 20;
  counted.count_regions(end);
  std::mt19937_64 rng(11);
  for (int step = 0; step < 60000; ++step) {
    const int cpu = static_cast<int>(rng() % 3);
    // Mostly a few hot 64 KiB regions, now and then anywhere in 4 MiB.
    const PhysAddr region = rng() % 8 == 0 ? rng() % 64 : rng() % 4;
    const PhysAddr pa = (region << 16) + (rng() % 1024) * 64;
    const int op = static_cast<int>(rng() % 3);
    WritebackList wa, wb;
    SnoopResult sa, sb;
    int la = 0, lb = 0;
    if (op == 2) {
      la = counted.write_full_line(CpuId(cpu), pa, wa, sa);
      lb = plain.write_full_line(CpuId(cpu), pa, wb, sb);
    } else {
      const bool write = op == 1;
      if (!counted.l1_access(CpuId(cpu), pa, write)) la = counted.access_below_l1(CpuId(cpu), pa, write, wa, sa);
      if (!plain.l1_access(CpuId(cpu), pa, write)) lb = plain.access_below_l1(CpuId(cpu), pa, write, wb, sb);
    }
    ASSERT_EQ(la, lb) << step;
    ASSERT_EQ(sa.kind, sb.kind) << step;
    ASSERT_EQ(wa.count, wb.count) << step;
    for (int i = 0; i < wa.count; ++i) ASSERT_EQ(wa.addr[static_cast<std::size_t>(i)], wb.addr[static_cast<std::size_t>(i)]);
  }
  for (int c = 0; c < 3; ++c)
    for (PhysAddr a = 0; a < end; a += 64) {
      ASSERT_EQ(counted.l1d(CpuId(c)).state(a), plain.l1d(CpuId(c)).state(a));
      ASSERT_EQ(counted.l2(CpuId(c)).state(a), plain.l2(CpuId(c)).state(a));
    }
  MapStatsVisitor va, vb;
  counted.dump(va);
  plain.dump(vb);
  EXPECT_EQ(va.values, vb.values);
  EXPECT_GT(va.get("system.coherence.snoop_filter_evictions"), 10000.0);
  EXPECT_GT(va.get("system.coherence.snoop_filter_back_invalidations"), 100.0);
}

}  // namespace
}  // namespace numasim::hw
