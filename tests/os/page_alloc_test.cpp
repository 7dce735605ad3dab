// Unit tests of the page allocator (os/page_alloc.*): buddy split and merge,
// zones and watermarks against Linux's formulas, zonelist order, GFP zone
// selection, migratetype stealing, per-cpu lists, numastat semantics.
#include "os/page_alloc.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr PhysAddr k4G = 4ull << 30;

NodeLayout node(int id, PhysAddr base, Bytes mem, std::vector<int> cpus) {
  NodeLayout n{NodeId(id), base, mem, {}};
  for (int c : cpus) n.cpus.push_back(CpuId(c));
  return n;
}

std::vector<std::vector<int>> two_node_distance() { return {{10, 21}, {21, 10}}; }

// One node, Normal zone only: `mib` MiB above 4 GiB, CPU 0.
struct OneNode {
  FakePlatform plat;
  PhysMemParams params;
  std::unique_ptr<PhysMem> pm;
  explicit OneNode(std::uint64_t mib, PhysMemParams p = {}) : params(p) {
    pm = std::make_unique<PhysMem>(std::vector<NodeLayout>{node(0, k4G, Bytes(mib << 20), {0})},
                                   std::vector<std::vector<int>>{{10}}, params, plat);
  }
  zone& normal() { return pm->NODE_DATA(NodeId(0)).node_zones[ZONE_NORMAL]; }
};

std::vector<std::uint64_t> nr_free(const zone& z) {
  std::vector<std::uint64_t> v;
  for (unsigned o = 0; o < MAX_ORDER; ++o) v.push_back(z.free_area[o].nr_free);
  return v;
}

TEST(PageAlloc, PageDescriptorIs48Bytes) { EXPECT_EQ(sizeof(page), 48u); }

TEST(PageAlloc, BringUpFreesWholeMaxOrderBlocks) {
  OneNode m(16);  // 4096 pages = 4 blocks of order 10
  zone& z = m.normal();
  EXPECT_EQ(z.managed_pages, 4096u);
  EXPECT_EQ(z.zone_start_pfn, k4G >> 12);
  EXPECT_EQ(nr_free(z), (std::vector<std::uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4}));
  EXPECT_EQ(zone_page_state(z, NR_FREE_PAGES), 4096);
  EXPECT_EQ(z.free_area[10].nr_free_mt[MIGRATE_MOVABLE], 4u);  // boot pageblocks are movable
  m.pm->check_consistency();
}

TEST(PageAlloc, NodeRemembersItsLowestFreeMemory) {
  OneNode m(16);
  EXPECT_EQ(m.pm->node_min_free_pages(NodeId(0)), 4096);
  KernelCost cost;
  page* a = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 10, NodeId(0), nullptr, cost);
  page* b = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 9, NodeId(0), nullptr, cost);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(m.pm->node_min_free_pages(NodeId(0)), 4096 - 1024 - 512);
  m.pm->free_pages(CpuId(0), a, 10, cost);
  m.pm->free_pages(CpuId(0), b, 9, cost);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 4096);        // all back
  EXPECT_EQ(m.pm->node_min_free_pages(NodeId(0)), 4096 - 1024 - 512);  // the low-water mark stays
  // Order-0 pages through the per-cpu list: a batch leaves the buddy at once.
  page* c = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 0, NodeId(0), nullptr, cost);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(m.pm->node_min_free_pages(NodeId(0)), 4096 - 1024 - 512);  // higher than the mark
  m.pm->free_pages(CpuId(0), c, 0, cost);
}

TEST(PageAlloc, BootBlocksAreHandedOutInPfnOrderAndFreedBlocksFirst) {
  OneNode m(16);
  KernelCost cost;
  const std::uint64_t base = k4G >> 12;
  std::vector<page*> b;
  for (int i = 0; i < 3; ++i) {
    b.push_back(m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 10, NodeId(0), nullptr, cost));
    ASSERT_NE(b.back(), nullptr);
    EXPECT_EQ(m.pm->page_to_pfn(b.back()).value(), base + 1024u * i);
  }
  // The fourth would leave 1 page: below the low (and min) watermark.
  EXPECT_EQ(m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 10, NodeId(0), nullptr, cost), nullptr);
  m.pm->free_pages(CpuId(0), b[1], 10, cost);
  m.pm->check_consistency();
  page* again = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 10, NodeId(0), nullptr, cost);
  EXPECT_EQ(again, b[1]);  // freed blocks go to the head of the list
  m.pm->check_consistency();
}

TEST(PageAlloc, BuddySplitTakesLowerHalvesAndLeavesOneBlockPerOrder) {
  OneNode m(4);  // exactly one order-10 block
  KernelCost cost;
  page* pg = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 4, NodeId(0), nullptr, cost);
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(m.pm->page_to_pfn(pg).value(), k4G >> 12);  // expand keeps the lower half
  EXPECT_EQ(nr_free(m.normal()), (std::vector<std::uint64_t>{0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0}));
  // The order-4 buddy of the allocated block is the free one at pfn ^ 16.
  page* buddy = m.pm->pfn_to_page(Pfn((k4G >> 12) ^ 16));
  EXPECT_TRUE(PageBuddy(buddy));
  EXPECT_EQ(buddy->order, 4);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 1024 - 16);
  EXPECT_EQ(page_ref_count(pg), 1);
  m.pm->check_consistency();
  m.pm->free_pages(CpuId(0), pg, 4, cost);
  EXPECT_EQ(nr_free(m.normal()), (std::vector<std::uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  m.pm->check_consistency();
  EXPECT_GT(cost.cycles.value(), 0u);
}

TEST(PageAlloc, MergeHappensOnlyWithTheBuddyPfn) {
  OneNode m(8);  // two order-10 blocks; the first is split, the second stays whole
  KernelCost cost;
  std::vector<page*> b;
  for (int i = 0; i < 4; ++i)
    b.push_back(m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 8, NodeId(0), nullptr, cost));
  const std::uint64_t base = k4G >> 12;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m.pm->page_to_pfn(b[i]).value(), base + 256u * i);
  EXPECT_EQ(m.normal().free_area[8].nr_free + m.normal().free_area[9].nr_free, 0u);
  // Free blocks 1 and 2: adjacent but not buddies (1 ^ 256 = 0, 2 ^ 256 = 3).
  m.pm->free_pages(CpuId(0), b[1], 8, cost);
  m.pm->free_pages(CpuId(0), b[2], 8, cost);
  EXPECT_EQ(m.normal().free_area[8].nr_free, 2u);
  EXPECT_EQ(m.normal().free_area[9].nr_free, 0u);
  m.pm->check_consistency();
  // Freeing 0 merges with its buddy 1 into an order-9 block at pfn base.
  m.pm->free_pages(CpuId(0), b[0], 8, cost);
  EXPECT_EQ(m.normal().free_area[8].nr_free, 1u);
  EXPECT_EQ(m.normal().free_area[9].nr_free, 1u);
  EXPECT_TRUE(PageBuddy(m.pm->pfn_to_page(Pfn(base))));
  EXPECT_EQ(m.pm->pfn_to_page(Pfn(base))->order, 9);
  // Freeing 3 merges with 2, then with the order-9 block: one order-10 block.
  m.pm->free_pages(CpuId(0), b[3], 8, cost);
  EXPECT_EQ(nr_free(m.normal()), (std::vector<std::uint64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}));
  m.pm->check_consistency();
}

TEST(PageAlloc, ZonesFollowThePhysicalRanges) {
  FakePlatform plat;
  // node 0: [0, 4 GiB + 64 MiB) -> DMA, DMA32, Normal; node 1: [8 GiB, +64 MiB) -> Normal only.
  PhysMem pm({node(0, 0, Bytes(k4G + (64ull << 20)), {0}), node(1, 2 * k4G, Bytes(64ull << 20), {1})},
             two_node_distance(), {}, plat);
  const pglist_data& n0 = pm.NODE_DATA(NodeId(0));
  EXPECT_EQ(n0.node_zones[ZONE_DMA].spanned_pages, 4096u);
  EXPECT_EQ(n0.node_zones[ZONE_DMA32].zone_start_pfn, 4096u);
  EXPECT_EQ(n0.node_zones[ZONE_DMA32].spanned_pages, (k4G >> 12) - 4096);
  EXPECT_EQ(n0.node_zones[ZONE_NORMAL].zone_start_pfn, k4G >> 12);
  EXPECT_EQ(n0.node_zones[ZONE_NORMAL].spanned_pages, 16384u);
  EXPECT_FALSE(n0.node_zones[ZONE_MOVABLE].populated());
  const pglist_data& n1 = pm.NODE_DATA(NodeId(1));
  EXPECT_FALSE(n1.node_zones[ZONE_DMA].populated());
  EXPECT_FALSE(n1.node_zones[ZONE_DMA32].populated());
  EXPECT_EQ(n1.node_zones[ZONE_NORMAL].present_pages, 16384u);
  // Zonelist of node 0: its zones highest first, then node 1.
  const auto& zl = n0.node_zonelists[ZONELIST_FALLBACK]._zonerefs;
  ASSERT_EQ(zl.size(), 4u);
  EXPECT_EQ(zl[0].nid, 0);
  EXPECT_EQ(zl[0].zone_idx, ZONE_NORMAL);
  EXPECT_EQ(zl[1].zone_idx, ZONE_DMA32);
  EXPECT_EQ(zl[2].zone_idx, ZONE_DMA);
  EXPECT_EQ(zl[3].nid, 1);
  EXPECT_EQ(n1.node_zonelists[ZONELIST_NOFALLBACK]._zonerefs.size(), 1u);
  EXPECT_EQ(pm.page_to_nid(pm.pfn_to_page(Pfn(5))).value(), 0);
  EXPECT_EQ(pm.page_zone(pm.pfn_to_page(Pfn(5)))->idx, ZONE_DMA);
  EXPECT_EQ(pm.page_to_nid(pm.pfn_to_page(Pfn((2 * k4G >> 12) + 7))).value(), 1);
  pm.check_consistency();
}

// 8 GiB + 8 GiB: min_free_kbytes = sqrt(16 GiB in kB * 16) = 16384 kB = 4096 pages,
// split by managed pages; low/high add max(min/4, managed * 10 / 10000).
TEST(PageAlloc, WatermarksMatchLinuxFormula) {
  FakePlatform plat;
  PhysMem pm({node(0, 0, Bytes(8 * (1ull << 30)), {0}), node(1, 8 * (1ull << 30), Bytes(8 * (1ull << 30)), {1})},
             two_node_distance(), {}, plat);
  EXPECT_EQ(pm.min_free_kbytes(), 16384u);
  const zone& dma = pm.NODE_DATA(NodeId(0)).node_zones[ZONE_DMA];      // 4096 pages
  const zone& dma32 = pm.NODE_DATA(NodeId(0)).node_zones[ZONE_DMA32];  // 1044480 pages
  const zone& n0 = pm.NODE_DATA(NodeId(0)).node_zones[ZONE_NORMAL];    // 1048576 pages
  const zone& n1 = pm.NODE_DATA(NodeId(1)).node_zones[ZONE_NORMAL];    // 2097152 pages
  // min = 4096 * managed / 4194304
  EXPECT_EQ(min_wmark_pages(dma), 4u);
  EXPECT_EQ(min_wmark_pages(dma32), 1020u);
  EXPECT_EQ(min_wmark_pages(n0), 1024u);
  EXPECT_EQ(min_wmark_pages(n1), 2048u);
  // delta = max(min / 4, managed * 10 / 10000)
  EXPECT_EQ(low_wmark_pages(dma), 4u + 4u);
  EXPECT_EQ(high_wmark_pages(dma), 4u + 8u);
  EXPECT_EQ(low_wmark_pages(dma32), 1020u + 1044u);
  EXPECT_EQ(high_wmark_pages(dma32), 1020u + 2 * 1044u);
  EXPECT_EQ(low_wmark_pages(n0), 1024u + 1048u);
  EXPECT_EQ(low_wmark_pages(n1), 2048u + 2097u);
  EXPECT_EQ(high_wmark_pages(n1), 2048u + 2 * 2097u);
  // lowmem_reserve: ratios 256 (DMA, DMA32) and 32 (Normal) of the zones above.
  EXPECT_EQ(dma.lowmem_reserve[ZONE_DMA32], 1044480 / 256);
  EXPECT_EQ(dma.lowmem_reserve[ZONE_NORMAL], (1044480 + 1048576) / 256);
  EXPECT_EQ(dma32.lowmem_reserve[ZONE_NORMAL], 1048576 / 256);
  EXPECT_EQ(dma32.lowmem_reserve[ZONE_DMA32], 0);
  EXPECT_EQ(n0.lowmem_reserve[ZONE_MOVABLE], 0);
}

TEST(PageAlloc, MinFreeKbytesClampAndOverride) {
  OneNode small(64);  // 16384 pages = 65536 kB -> sqrt(1048576) = 1024 kB
  EXPECT_EQ(small.pm->min_free_kbytes(), 1024u);
  OneNode tiny(4);  // 4096 kB -> sqrt(65536) = 256
  EXPECT_EQ(tiny.pm->min_free_kbytes(), 256u);
  PhysMemParams p;
  p.min_free_kbytes = 4096;
  p.watermark_scale_factor = 100;
  OneNode set(64, p);
  EXPECT_EQ(set.pm->min_free_kbytes(), 4096u);
  EXPECT_EQ(min_wmark_pages(set.normal()), 1024u);
  EXPECT_EQ(low_wmark_pages(set.normal()), 1024u + 256u);  // max(256, 16384 * 100 / 10000 = 163)
}

TEST(PageAlloc, ZonelistOrderFollowsLinuxFindNextBestNode) {
  FakePlatform plat;
  std::vector<NodeLayout> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(node(i, k4G + i * (64ull << 20), Bytes(64ull << 20), {i}));
  std::vector<std::vector<int>> d(4, std::vector<int>(4, 20));
  for (int i = 0; i < 4; ++i) d[i][i] = 10;
  PhysMem pm(nodes, d, {}, plat);
  // Equal distances: lower ids are penalised and node_load spreads the choice.
  EXPECT_EQ(pm.node_order(NodeId(0)), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(pm.node_order(NodeId(1)), (std::vector<int>{1, 2, 3, 0}));
  EXPECT_EQ(pm.node_order(NodeId(2)), (std::vector<int>{2, 3, 0, 1}));
  // Distinct distances: nearest first.
  PhysMem pm2({node(0, k4G, Bytes(8 << 20), {0}), node(1, k4G + (8 << 20), Bytes(8 << 20), {1}),
               node(2, k4G + (16 << 20), Bytes(8 << 20), {})},
              {{10, 30, 20}, {30, 10, 20}, {20, 20, 10}}, {}, plat);
  EXPECT_EQ(pm2.node_order(NodeId(0)), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(pm2.node_order(NodeId(2)), (std::vector<int>{2, 0, 1}));
}

struct ThreeNodes {
  FakePlatform plat;
  std::unique_ptr<PhysMem> pm;
  ThreeNodes() {
    pm = std::make_unique<PhysMem>(
        std::vector<NodeLayout>{node(0, k4G, Bytes(8 << 20), {0}), node(1, k4G + (8 << 20), Bytes(8 << 20), {1}),
                                node(2, k4G + (16 << 20), Bytes(8 << 20), {2})},
        std::vector<std::vector<int>>{{10, 20, 30}, {20, 10, 20}, {30, 20, 10}}, PhysMemParams{}, plat);
  }
};

TEST(PageAlloc, FallsBackToTheNextNodeInDistanceOrder) {
  ThreeNodes m;
  KernelCost cost;
  std::vector<int> seq;
  for (;;) {
    page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
    if (!pg) break;
    int nid = m.pm->page_to_nid(pg).value();
    if (seq.empty() || seq.back() != nid) seq.push_back(nid);
  }
  // First pass at WMARK_LOW walks 0 -> 1 -> 2; once every node is at its low
  // watermark the slow path's WMARK_MIN pass walks the same order again.
  EXPECT_EQ(seq, (std::vector<int>{0, 1, 2, 0, 1, 2}));
  // Every zone stopped at its min watermark (the slow path's limit), not below.
  for (int n = 0; n < 3; ++n) {
    const zone& z = m.pm->NODE_DATA(NodeId(n)).node_zones[ZONE_NORMAL];
    EXPECT_LE(zone_page_state(z, NR_FREE_PAGES), static_cast<long>(min_wmark_pages(z)));
    EXPECT_GE(zone_page_state(z, NR_FREE_PAGES) + 1, static_cast<long>(min_wmark_pages(z)) / 2);
  }
  m.pm->check_consistency();
}

TEST(PageAlloc, ThisNodeFailsInsteadOfFallingBack) {
  ThreeNodes m;
  KernelCost cost;
  int n = 0;
  while (page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(0), nullptr, cost)) {
    ASSERT_EQ(m.pm->page_to_nid(pg).value(), 0);
    ++n;
  }
  EXPECT_GT(n, 1500);
  EXPECT_EQ(m.pm->alloc_pages(CpuId(0), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(0), nullptr, cost), nullptr);
  page* other = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(m.pm->page_to_nid(other).value(), 1);
  // A nodemask restricts too.
  nodemask_t only2 = nodemask_of_node(2);
  page* p2 = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), &only2, cost);
  ASSERT_NE(p2, nullptr);
  EXPECT_EQ(m.pm->page_to_nid(p2).value(), 2);
  m.pm->check_consistency();
}

TEST(PageAlloc, GfpSelectsTheHighestUsableZone) {
  EXPECT_EQ(gfp_zone(GFP_KERNEL), ZONE_NORMAL);
  EXPECT_EQ(gfp_zone(GFP_DMA), ZONE_DMA);
  EXPECT_EQ(gfp_zone(GFP_DMA32), ZONE_DMA32);
  EXPECT_EQ(gfp_zone(GFP_HIGHUSER), ZONE_NORMAL);
  EXPECT_EQ(gfp_zone(GFP_HIGHUSER_MOVABLE), ZONE_MOVABLE);
  EXPECT_EQ(gfp_zone(GFP_KERNEL | __GFP_MOVABLE), ZONE_NORMAL);
  EXPECT_EQ(gfp_migratetype(GFP_HIGHUSER_MOVABLE), MIGRATE_MOVABLE);
  EXPECT_EQ(gfp_migratetype(GFP_KERNEL | __GFP_RECLAIMABLE), MIGRATE_RECLAIMABLE);
  EXPECT_EQ(gfp_migratetype(GFP_KERNEL), MIGRATE_UNMOVABLE);

  FakePlatform plat;
  PhysMem pm({node(0, 0, Bytes(k4G + (64ull << 20)), {0})}, {{10}}, {}, plat);
  KernelCost cost;
  auto zone_of = [&](gfp_t gfp) {
    page* pg = pm.alloc_pages(CpuId(0), gfp, 0, NodeId(0), nullptr, cost);
    EXPECT_NE(pg, nullptr);
    return pg ? pm.page_zone(pg)->idx : MAX_NR_ZONES;
  };
  EXPECT_EQ(zone_of(GFP_DMA), ZONE_DMA);
  EXPECT_EQ(zone_of(GFP_DMA32), ZONE_DMA32);
  EXPECT_EQ(zone_of(GFP_KERNEL), ZONE_NORMAL);
  EXPECT_EQ(zone_of(GFP_HIGHUSER_MOVABLE), ZONE_NORMAL);
  EXPECT_EQ(pm.sum_vm_event(PGALLOC_DMA), 1u);
  EXPECT_EQ(pm.sum_vm_event(PGALLOC_DMA32), 1u);
  EXPECT_EQ(pm.sum_vm_event(PGALLOC_NORMAL), 2u);
  pm.check_consistency();
}

TEST(PageAlloc, MovableZoneOnCpulessNodeOnlyServesMovableRequests) {
  FakePlatform plat;
  PhysMemParams p;
  p.movable_zone = true;
  PhysMem pm({node(0, k4G, Bytes(64ull << 20), {0}), node(1, 2 * k4G, Bytes(64ull << 20), {})}, two_node_distance(), p,
             plat);
  EXPECT_TRUE(pm.NODE_DATA(NodeId(1)).node_zones[ZONE_MOVABLE].populated());
  EXPECT_FALSE(pm.NODE_DATA(NodeId(1)).node_zones[ZONE_NORMAL].populated());
  // Movable zones get the capped minimum: clamp(managed / 1024, 32, 128).
  EXPECT_EQ(min_wmark_pages(pm.NODE_DATA(NodeId(1)).node_zones[ZONE_MOVABLE]), 32u);
  KernelCost cost;
  page* mov = pm.alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 0, NodeId(1), nullptr, cost);
  ASSERT_NE(mov, nullptr);
  EXPECT_EQ(pm.page_zone(mov)->idx, ZONE_MOVABLE);
  page* ker = pm.alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(1), nullptr, cost);
  ASSERT_NE(ker, nullptr);
  EXPECT_EQ(pm.page_to_nid(ker).value(), 0);
  EXPECT_EQ(pm.alloc_pages(CpuId(0), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(1), nullptr, cost), nullptr);
  pm.check_consistency();
}

TEST(PageAlloc, UnmovableRequestStealsWholePageblocks) {
  OneNode m(8);  // two order-10 blocks = four movable pageblocks
  KernelCost cost;
  page* u = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 4, NodeId(0), nullptr, cost);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(m.pm->get_pageblock_migratetype(u), MIGRATE_UNMOVABLE);
  int unmovable_blocks = 0;
  const std::uint64_t base = k4G >> 12;
  for (int b = 0; b < 4; ++b)
    unmovable_blocks +=
        m.pm->get_pageblock_migratetype(m.pm->pfn_to_page(Pfn(base + b * pageblock_nr_pages))) == MIGRATE_UNMOVABLE;
  EXPECT_EQ(unmovable_blocks, 2);  // the whole order-10 block was claimed
  // The split remainder sits on the unmovable lists now.
  EXPECT_EQ(m.normal().free_area[4].nr_free_mt[MIGRATE_UNMOVABLE], 1u);
  EXPECT_EQ(m.normal().free_area[10].nr_free_mt[MIGRATE_MOVABLE], 1u);
  // A movable request takes the remaining movable block.
  page* mv = m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 4, NodeId(0), nullptr, cost);
  ASSERT_NE(mv, nullptr);
  EXPECT_EQ(m.pm->get_pageblock_migratetype(mv), MIGRATE_MOVABLE);
  EXPECT_NE(m.pm->page_to_pfn(mv).value() >> 10, m.pm->page_to_pfn(u).value() >> 10);
  m.pm->check_consistency();
}

// A 4 MiB zone (two pageblocks) with a 1-page minimum watermark: after unmovable
// requests claim both pageblocks, movable requests must fall back.
struct StealSetup {
  PhysMemParams p;
  std::unique_ptr<OneNode> m;
  KernelCost cost;
  StealSetup() {
    p.min_free_kbytes = 4;
    m = std::make_unique<OneNode>(4, p);
    // Order 9 from the single order-10 block claims both pageblocks for unmovable.
    page* a = m->pm->alloc_pages(CpuId(0), GFP_KERNEL, 9, NodeId(0), nullptr, cost);
    page* b = m->pm->alloc_pages(CpuId(0), GFP_KERNEL, 8, NodeId(0), nullptr, cost);
    EXPECT_NE(a, nullptr);
    EXPECT_NE(b, nullptr);
    EXPECT_EQ(m->pm->get_pageblock_migratetype(a), MIGRATE_UNMOVABLE);
    EXPECT_EQ(m->pm->get_pageblock_migratetype(b), MIGRATE_UNMOVABLE);
  }
  zone& z() { return m->normal(); }
};

TEST(PageAlloc, MovableFallbackClaimsAPageblockThatIsMostlyFree) {
  StealSetup s;  // free: one order-8 unmovable block = half of pageblock 2
  page* mv = s.m->pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 5, NodeId(0), nullptr, s.cost);
  ASSERT_NE(mv, nullptr);
  // 256 free pages >= half a pageblock: the block changes type.
  EXPECT_EQ(s.m->pm->get_pageblock_migratetype(mv), MIGRATE_MOVABLE);
  EXPECT_EQ(s.z().free_area[5].nr_free_mt[MIGRATE_MOVABLE], 1u);
  s.m->pm->check_consistency();
}

TEST(PageAlloc, MovableFallbackMovesFreeBlocksWithoutClaimingABusyPageblock) {
  StealSetup s;
  page* u7 = s.m->pm->alloc_pages(CpuId(0), GFP_KERNEL, 7, NodeId(0), nullptr, s.cost);
  ASSERT_NE(u7, nullptr);  // free: one order-7 unmovable block (128 pages < 256)
  page* mv = s.m->pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 1, NodeId(0), nullptr, s.cost);
  ASSERT_NE(mv, nullptr);
  EXPECT_EQ(s.m->pm->get_pageblock_migratetype(mv), MIGRATE_UNMOVABLE);
  // The rest of the stolen block went to the movable lists (orders 1..6).
  for (unsigned o = 1; o < 7; ++o) EXPECT_EQ(s.z().free_area[o].nr_free_mt[MIGRATE_MOVABLE], 1u) << o;
  EXPECT_EQ(s.z().free_area[7].nr_free, 0u);
  s.m->pm->check_consistency();
}

TEST(PageAlloc, MovableFallbackFromSmallBlocksTakesTheSmallestOne) {
  StealSetup s;
  for (unsigned o : {7u, 6u, 5u, 4u, 2u})
    ASSERT_NE(s.m->pm->alloc_pages(CpuId(0), GFP_KERNEL, o, NodeId(0), nullptr, s.cost), nullptr);
  // Free now: unmovable orders 3 and 2 only.
  ASSERT_EQ(s.z().free_area[3].nr_free_mt[MIGRATE_UNMOVABLE], 1u);
  ASSERT_EQ(s.z().free_area[2].nr_free_mt[MIGRATE_UNMOVABLE], 1u);
  page* mv = s.m->pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 0, NodeId(0), nullptr, s.cost);
  ASSERT_NE(mv, nullptr);
  // Order 3 < pageblock_order / 2 cannot be claimed by a movable request:
  // find_smallest steals the order-2 block alone and splits it.
  EXPECT_EQ(s.z().free_area[3].nr_free_mt[MIGRATE_UNMOVABLE], 1u);
  EXPECT_EQ(s.z().free_area[2].nr_free, 0u);
  EXPECT_EQ(s.z().free_area[1].nr_free_mt[MIGRATE_MOVABLE], 1u);
  EXPECT_EQ(s.z().free_area[0].nr_free_mt[MIGRATE_MOVABLE], 1u);
  EXPECT_EQ(s.m->pm->get_pageblock_migratetype(mv), MIGRATE_UNMOVABLE);
  s.m->pm->check_consistency();
}

TEST(PageAlloc, PcpListsRefillByBatchAndDrainWithGrowingBatches) {
  PhysMemParams p;
  p.pcp_high = 16;
  p.pcp_batch = 4;
  OneNode m(16, p);
  KernelCost cost;
  per_cpu_pages& pcp = m.normal().per_cpu_pageset[0];
  EXPECT_EQ(pcp.high, 16);
  EXPECT_EQ(pcp.batch, 4);
  page* first = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(pcp.count, 3);  // rmqueue_bulk moved a batch of 4, one handed out
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 4096 - 4);
  std::vector<page*> pages{first};
  for (int i = 0; i < 59; ++i) pages.push_back(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost));
  m.pm->check_consistency();
  const int before = pcp.count;
  std::vector<int> drained;
  for (page* pg : pages) {
    int c = pcp.count;
    m.pm->free_pages(CpuId(0), pg, 0, cost);
    if (pcp.count < c + 1) drained.push_back(c + 1 - pcp.count);
    ASSERT_LT(pcp.count, 16);
  }
  // nr_pcp_free: batch << free_factor, clamped to [batch, high - batch].
  ASSERT_GE(drained.size(), 3u);
  EXPECT_EQ(drained[0], 4);
  EXPECT_EQ(drained[1], 8);
  EXPECT_EQ(drained[2], 12);
  (void)before;
  m.pm->check_consistency();
  m.pm->drain_all_pages(cost);
  EXPECT_EQ(pcp.count, 0);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 4096);
  EXPECT_EQ(nr_free(m.normal())[10], 4u);
  EXPECT_EQ(m.pm->sum_vm_event(PGFREE), 60u);
  EXPECT_EQ(m.pm->sum_vm_event(PGALLOC_NORMAL), 60u);
}

// free_pcppages_bulk adds its charge and NR_FREE_PAGES once per batch: the sum
// must still be buddy_free_cycles per block and buddy_step_cycles per merge
// (each merge leaves one free block fewer), and every page drained counted free.
TEST(PageAlloc, PcpDrainChargesEveryBlockAndMerge) {
  PhysMemParams p;
  p.pcp_high = 16;
  p.pcp_batch = 4;
  p.costs.buddy_free_cycles = 1000;
  p.costs.buddy_step_cycles = 1;
  OneNode m(16, p);
  KernelCost cost;
  std::vector<page*> pages;
  for (int i = 0; i < 40; ++i) pages.push_back(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost));
  for (page* pg : pages) m.pm->free_pages(CpuId(0), pg, 0, cost);
  const std::uint64_t drained = static_cast<std::uint64_t>(m.normal().per_cpu_pageset[0].count);
  ASSERT_GT(drained, 1u);
  auto blocks = [&] {
    std::uint64_t n = 0;
    for (std::uint64_t f : nr_free(m.normal())) n += f;
    return n;
  };
  const std::uint64_t blocks_before = blocks();
  const std::int64_t zone_free = zone_page_state(m.normal(), NR_FREE_PAGES);
  const std::int64_t node_free = m.pm->NODE_DATA(NodeId(0)).nr_free_pages;
  KernelCost drain;
  m.pm->drain_all_pages(drain);
  const std::uint64_t merges = blocks_before + drained - blocks();
  EXPECT_GT(merges, 0u);
  EXPECT_EQ(drain.cycles.value(), drained * 1000 + merges);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), zone_free + static_cast<std::int64_t>(drained));
  EXPECT_EQ(m.pm->NODE_DATA(NodeId(0)).nr_free_pages, node_free + static_cast<std::int64_t>(drained));
  m.pm->check_consistency();
}

TEST(PageAlloc, DefaultPcpSizesFollowZoneBatchsizeAndHighsize) {
  FakePlatform plat;
  // 1 GiB Normal zone, two CPUs on the node: batch = rounddown_pow2(64 + 32) - 1 = 63;
  // high = low_wmark / 2 CPUs.
  PhysMem pm({node(0, k4G, Bytes(1ull << 30), {0, 1})}, {{10}}, {}, plat);
  const zone& z = pm.NODE_DATA(NodeId(0)).node_zones[ZONE_NORMAL];
  EXPECT_EQ(z.per_cpu_pageset[1].batch, 63);
  EXPECT_EQ(z.per_cpu_pageset[1].high, std::max<int>(static_cast<int>(low_wmark_pages(z) / 2), 63 * 4));
  OneNode small(16);  // 4096 pages: 4 / 4 = 1 -> rounddown_pow2(1) - 1 = 0 -> at least 1
  EXPECT_EQ(small.normal().per_cpu_pageset[0].batch, 1);
  // high = low watermark / 1 CPU (min 128 + max(32, 4) = 160), at least 4 * batch.
  EXPECT_EQ(small.normal().per_cpu_pageset[0].high, 160);
  EXPECT_EQ(low_wmark_pages(small.normal()), 160u);
}

TEST(PageAlloc, ZeroingIsChargedThroughThePlatform) {
  OneNode m(16);
  KernelCost cost;
  page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL | __GFP_ZERO, 2, NodeId(0), nullptr, cost);
  ASSERT_NE(pg, nullptr);
  ASSERT_EQ(m.plat.count(FakePlatform::Kind::Write), 1u);
  const auto& c = m.plat.calls.back();
  EXPECT_EQ(c.addr, m.pm->page_to_phys(pg));
  EXPECT_EQ(c.len.value(), 4u * 4096);
  EXPECT_EQ(cost.memory, m.plat.line_latency * (4 * 4096 / 64));
  page* nz = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
  ASSERT_NE(nz, nullptr);
  EXPECT_EQ(m.plat.count(FakePlatform::Kind::Write), 1u);
}

TEST(PageAlloc, CompoundPagesHaveHeadAndTails) {
  OneNode m(16);
  KernelCost cost;
  page* head = m.pm->alloc_pages(CpuId(0), GFP_KERNEL | __GFP_COMP, 3, NodeId(0), nullptr, cost);
  ASSERT_NE(head, nullptr);
  EXPECT_TRUE(PageHead(head));
  EXPECT_EQ(compound_order(head), 3u);
  for (int i = 1; i < 8; ++i) {
    EXPECT_TRUE(PageTail(head + i));
    EXPECT_EQ(m.pm->compound_head(head + i), head);
  }
  m.pm->free_pages(CpuId(0), head, 3, cost);
  for (int i = 1; i < 8; ++i) EXPECT_FALSE(PageTail(head + i));
  m.pm->check_consistency();
}

TEST(PageAlloc, ReferencesDelayTheFree) {
  OneNode m(16);
  KernelCost cost;
  page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
  get_page(pg);
  m.pm->free_pages(CpuId(0), pg, 0, cost);
  EXPECT_EQ(page_ref_count(pg), 1);
  EXPECT_FALSE(pg->test(PG_pcp));
  m.pm->free_pages(CpuId(0), pg, 0, cost);
  EXPECT_TRUE(pg->test(PG_pcp));
  m.pm->check_consistency();
}

// 16 MiB zone: min_free_kbytes 512 -> min 128 pages. GFP_KERNEL stops at min;
// __GFP_HIGH may use half of it (64); GFP_ATOMIC, also non-blocking, a quarter
// of the rest as well (48); GFP_NOWAIT has no access to the reserve.
TEST(PageAlloc, ReservesBelowMinFollowTheGfpFlags) {
  OneNode m(16);
  KernelCost cost;
  ASSERT_EQ(min_wmark_pages(m.normal()), 128u);
  auto fill = [&](gfp_t gfp) {
    int n = 0;
    while (m.pm->alloc_pages(CpuId(0), gfp, 0, NodeId(0), nullptr, cost)) ++n;
    return n;
  };
  EXPECT_GT(fill(GFP_KERNEL), 3900);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 128);
  EXPECT_EQ(fill(GFP_NOWAIT), 0);
  EXPECT_EQ(fill(GFP_KERNEL | __GFP_HIGH), 64);
  EXPECT_EQ(fill(GFP_ATOMIC), 16);
  EXPECT_EQ(zone_page_state(m.normal(), NR_FREE_PAGES), 48);
  m.pm->check_consistency();
}

TEST(PageAllocDeathTest, FreeingWithLruOrSlabFlagAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        OneNode m(16);
        KernelCost cost;
        page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
        pg->set(PG_slab);
        m.pm->free_pages(CpuId(0), pg, 0, cost);
      },
      "PAGE_FLAGS_CHECK_AT_FREE");
}

TEST(PageAllocDeathTest, DoubleFreeAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        OneNode m(16);
        KernelCost cost;
        page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
        m.pm->free_pages(CpuId(0), pg, 0, cost);
        m.pm->free_pages(CpuId(0), pg, 0, cost);
      },
      "double free");
}

TEST(PageAlloc, OrderTooLargeFailsCleanly) {
  OneNode m(16);
  KernelCost cost;
  EXPECT_EQ(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, MAX_ORDER, NodeId(0), nullptr, cost), nullptr);
}

TEST(PageAlloc, BadLayoutsAreRejectedWithAMessage) {
  FakePlatform plat;
  auto msg = [&](std::vector<NodeLayout> n, std::vector<std::vector<int>> d) -> std::string {
    try {
      PhysMem pm(std::move(n), std::move(d), {}, plat);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(msg({}, {}).find("no memory node"), std::string::npos);
  EXPECT_NE(msg({node(0, 0, Bytes(1 << 20), {0})}, {{10}}).find("pageblock"), std::string::npos);
  EXPECT_NE(msg({node(0, 0, Bytes(64 << 20), {0}), node(1, 32 << 20, Bytes(64 << 20), {1})}, two_node_distance())
                .find("overlaps"),
            std::string::npos);
  EXPECT_NE(msg({node(0, 0, Bytes(64 << 20), {0})}, {{10, 20}}).find("distance"), std::string::npos);
  EXPECT_NE(msg({node(0, 0, Bytes(64 << 20), {0}), node(1, 64 << 20, Bytes(64 << 20), {0})}, two_node_distance())
                .find("two nodes"),
            std::string::npos);
}

// numastat semantics (issue 3): preferred node full -> numa_miss where the page
// landed and numa_foreign on the preferred node.
TEST(PageAlloc, FullPreferredNodeCountsMissAndForeign) {
  FakePlatform plat;
  PhysMem pm({node(0, k4G, Bytes(8 << 20), {0}), node(1, k4G + (8 << 20), Bytes(8 << 20), {1})}, two_node_distance(),
             {}, plat);
  KernelCost cost;
  while (pm.alloc_pages(CpuId(1), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(1), nullptr, cost)) {
  }
  pm.reset_events();
  page* pg = pm.alloc_pages(CpuId(1), GFP_KERNEL, 0, NodeId(1), nullptr, cost);
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(pm.page_to_nid(pg).value(), 0);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_MISS), 1u);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_OTHER), 1u);  // CPU 1 is on node 1
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_HIT), 0u);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(1), NUMA_FOREIGN), 1u);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(1), NUMA_MISS), 0u);
  // A local hit for comparison.
  page* local = pm.alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_HIT), 1u);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_LOCAL), 1u);
}

}  // namespace
}  // namespace numasim::os
