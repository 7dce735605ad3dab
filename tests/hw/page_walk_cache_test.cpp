// Paging-structure caches: deepest level hit, ASID tagging, LRU, invalidation.
#include "hw/page_walk_cache.h"

#include <gtest/gtest.h>

namespace numasim::hw {
namespace {

TEST(PageWalkCache, MissThenDeepestLevelHit) {
  PageWalkCache c(PageWalkCacheParams{});
  const VirtAddr va = 0x7f12'3456'7000;
  EXPECT_EQ(c.lookup(1, va).next_level, 0);
  c.insert(1, va, 1, 0x1000);  // PDPT table
  c.insert(1, va, 2, 0x2000);  // PD table
  PageWalkCache::Hit h = c.lookup(1, va);
  EXPECT_EQ(h.next_level, 2);
  EXPECT_EQ(h.table, 0x2000u);
  c.insert(1, va, 3, 0x3000);  // PT table
  h = c.lookup(1, va + 0x1000);  // same 2 MiB region
  EXPECT_EQ(h.next_level, 3);
  EXPECT_EQ(h.table, 0x3000u);
  // Another 2 MiB region in the same 1 GiB: PDPTE-cache hit only (the PD).
  h = c.lookup(1, va + (4ull << 20));
  EXPECT_EQ(h.next_level, 2);
  // Another 1 GiB region in the same 512 GiB: PML4E hit (the PDPT).
  h = c.lookup(1, va + (4ull << 30));
  EXPECT_EQ(h.next_level, 1);
  EXPECT_EQ(h.table, 0x1000u);
  EXPECT_EQ(c.stats().misses, 1u);
  EXPECT_EQ(c.stats().hits[0], 1u);
  EXPECT_EQ(c.stats().hits[1], 2u);
  EXPECT_EQ(c.stats().hits[2], 1u);
}

TEST(PageWalkCache, TaggedByAsidAndInvalidatedPerAsid) {
  PageWalkCache c(PageWalkCacheParams{});
  c.insert(1, 0x400000, 3, 0x3000);
  c.insert(2, 0x400000, 3, 0x4000);
  EXPECT_EQ(c.lookup(1, 0x400000).table, 0x3000u);
  EXPECT_EQ(c.lookup(2, 0x400000).table, 0x4000u);
  c.invalidate_asid(1);
  EXPECT_EQ(c.lookup(1, 0x400000).next_level, 0);
  EXPECT_EQ(c.lookup(2, 0x400000).next_level, 3);
  c.invalidate_all();
  EXPECT_EQ(c.lookup(2, 0x400000).next_level, 0);
}

TEST(PageWalkCache, CapacityLimitsPdeEntriesWithLru) {
  PageWalkCacheParams p;
  p.pde_entries = 4;
  PageWalkCache c(p);
  for (int i = 0; i < 4; ++i) c.insert(1, VirtAddr(i) << 21, 3, 0x1000 * (i + 1));
  EXPECT_EQ(c.lookup(1, 0).next_level, 3);        // region 0 most recent now
  c.insert(1, VirtAddr(4) << 21, 3, 0x9000);      // evicts region 1 (LRU)
  EXPECT_EQ(c.lookup(1, VirtAddr(1) << 21).next_level, 0);
  EXPECT_EQ(c.lookup(1, 0).next_level, 3);
  EXPECT_EQ(c.lookup(1, VirtAddr(4) << 21).table, 0x9000u);
}

TEST(PageWalkCache, ZeroEntriesDisablesALevel) {
  PageWalkCacheParams p;
  p.pde_entries = 0;
  PageWalkCache c(p);
  c.insert(1, 0x400000, 3, 0x3000);
  c.insert(1, 0x400000, 2, 0x2000);
  EXPECT_EQ(c.lookup(1, 0x400000).next_level, 2);
}

}  // namespace
}  // namespace numasim::hw
