// Memory compaction (os/compaction.h): a node fragmented by user pages (three
// quarters of every 2 MiB chunk freed) gets order-9 blocks back from
// compact_node, direct compaction and kcompactd's proactive pass, with every
// moved page's mappings, counts and identity token intact; the fragmentation
// index, compaction_suitable, deferral and the debugfs views on crafted free
// lists; async direct compaction leaves non-movable pageblocks alone.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "os/compaction.h"
#include "os/kthread.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/kernel_test_access.h"

namespace numasim::os {
namespace {

using testing::KernelTest;

class CompactionTest : public KernelTest {
 protected:
  CompactionTest() : KernelTest({0, 0}) {}

  zone& dma32() { return pm().NODE_DATA(NodeId(0)).node_zones[ZONE_DMA32]; }

  // Binds a task to node 0, maps and writes `bytes`, tags each page with a
  // token (its address), then MADV_DONTNEEDs three of every four pages.
  void fragment(std::uint64_t bytes) {
    t_ = spawn(0);
    unsigned long mask = 1;
    ASSERT_EQ(k().sys_set_mempolicy(t_, MPOL_BIND, &mask, 2, cost_), 0);
    k().page_tokens().enable(pm().max_pfn());
    const long a = mmap_anon(t_, bytes);
    ASSERT_GT(a, 0);
    base_ = static_cast<VirtAddr>(a);
    len_ = bytes;
    for (VirtAddr va = base_; va < base_ + bytes; va += kPageSize) {
      ASSERT_EQ(touch(t_, va), Kernel::FaultResult::Handled);
      k().page_tokens().set(pfn_of(va), va);
    }
    for (VirtAddr va = base_; va < base_ + bytes; va += 4 * kPageSize)
      ASSERT_EQ(k().sys_madvise(t_, va + kPageSize, 3 * kPageSize, MADV_DONTNEED, cost_), 0);
    pm().drain_all_pages(scratch_);
    run_woken();  // kswapd and friends back to sleep
  }
  std::uint64_t pfn_of(VirtAddr va) {
    auto f = k().follow_page(*t_->mm, va);
    EXPECT_TRUE(f.has_value());
    return f ? pm().page_to_pfn(f->pg).value() : 0;
  }
  // Every kept page still mapped, once, with its token.
  // After the lru_add batches drain, each is on an LRU list (moved pages on
  // their new frames too) and nothing is left isolated.
  void expect_kept_pages_intact() {
    k().lru_add_drain_all();
    for (VirtAddr va = base_; va < base_ + len_; va += 4 * kPageSize) {
      auto f = k().follow_page(*t_->mm, va);
      ASSERT_TRUE(f.has_value()) << std::hex << va;
      EXPECT_EQ(f->pg->mapcount, 1);
      EXPECT_EQ(f->pg->_refcount, 1);
      EXPECT_TRUE(PageLRU(f->pg)) << std::hex << va;
      EXPECT_FALSE(f->pg->test(PG_locked));
      EXPECT_EQ(k().page_tokens().get(pm().page_to_pfn(f->pg).value()), va) << std::hex << va;
    }
    EXPECT_EQ(pm().node_page_state(NodeId(0), NR_ISOLATED_ANON), 0);
    k().check_consistency();
  }
  // PFN of every kept page before compaction, to tell the moved ones.
  std::map<VirtAddr, std::uint64_t> kept_pfns() {
    std::map<VirtAddr, std::uint64_t> m;
    for (VirtAddr va = base_; va < base_ + len_; va += 4 * kPageSize) m[va] = pfn_of(va);
    return m;
  }
  // Order-9 allocations that may not compact (THP's defrag=never request).
  page* try_order9() {
    return pm().alloc_pages(CpuId(0), GFP_TRANSHUGE_LIGHT | __GFP_THISNODE, 9, NodeId(0), nullptr, scratch_);
  }
  // An order-9 block is free again; then the held blocks go back and the kept pages are checked.
  void expect_order9_then_release(const std::vector<page*>& big) {
    page* p = try_order9();
    ASSERT_NE(p, nullptr);
    pm().free_pages(CpuId(0), p, 9, scratch_);
    for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
    expect_kept_pages_intact();
  }
  void run_woken() {
    while (!platform_.woken.empty()) {
      task_struct* t = platform_.woken.front();
      platform_.woken.erase(platform_.woken.begin());
      KernelCost c;
      while (k().kthreads().run(t, c)) {
      }
    }
  }
  std::uint64_t ev(vm_event_item i) const { return kernel_->physmem().sum_vm_event(i); }

  task_struct* t_ = nullptr;
  VirtAddr base_ = 0;
  std::uint64_t len_ = 0;
};

TEST_F(CompactionTest, CompactNodeRecoversOrder9AndKeepsEveryPage) {
  fragment(200ull << 20);
  // No free block of order 9 or more left in DMA32 below the untouched rest: the
  // allocation takes what is left, then fails.
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  EXPECT_GT(k().compaction().fragmentation_score_node(NodeId(0)), 70u);
  const std::uint64_t migrated_before = ev(PGMIGRATE_SUCCESS);
  KernelCost c;
  ASSERT_EQ(k().compact_node(NodeId(0), CpuId(1), c), 0);
  EXPECT_GT(ev(PGMIGRATE_SUCCESS), migrated_before);
  EXPECT_GT(ev(COMPACTMIGRATE_SCANNED), 0u);
  EXPECT_GT(ev(COMPACTFREE_SCANNED), 0u);
  EXPECT_GT(ev(COMPACTISOLATED), 0u);
  EXPECT_GT(c.cycles.value(), 0u);
  EXPECT_GT(platform_.count(testing::FakePlatform::Kind::Copy), 0u);  // pages copied through the hardware
  EXPECT_LT(k().compaction().fragmentation_score_node(NodeId(0)), 10u);
  expect_kept_pages_intact();
  page* p = try_order9();
  ASSERT_NE(p, nullptr);
  pm().free_pages(CpuId(0), p, 9, scratch_);
  for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
  k().check_consistency();
  EXPECT_EQ(k().compact_node(NodeId(7), CpuId(0), c), -ENODEV);
  EXPECT_EQ(k().compact_node(NodeId(0), CpuId(99), c), -EINVAL);
}

// Linux's isolation rule: only PageLRU pages are isolated. A pinned page (an
// extra reference) and a page taken off the LRU stay on their frames; moved
// pages land on the LRU on their new frames with their active state.
TEST_F(CompactionTest, IsolatesOnlyLruPagesAndPutsMovedPagesOnTheLru) {
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  k().lru_add_drain_all();
  const auto before = kept_pfns();
  auto it = before.begin();
  const auto [pinned_va, pinned_pfn] = *it++;
  const auto [offlru_va, offlru_pfn] = *it++;
  const auto [active_va, active_pfn] = *it++;
  page* pinned = pm().pfn_to_page(Pfn(pinned_pfn));
  page* offlru = pm().pfn_to_page(Pfn(offlru_pfn));
  page* active = pm().pfn_to_page(Pfn(active_pfn));
  ASSERT_TRUE(PageLRU(pinned) && PageLRU(offlru) && PageLRU(active));
  ++pinned->_refcount;  // a GUP pin
  KernelTestAccess::isolate_lru_page(k(), offlru);
  ASSERT_FALSE(PageLRU(offlru));
  k().mark_page_accessed(active);
  k().mark_page_accessed(active);
  ASSERT_TRUE(active->test(PG_active));
  KernelCost c;
  ASSERT_EQ(k().compact_node(NodeId(0), CpuId(1), c), 0);
  EXPECT_EQ(pfn_of(pinned_va), pinned_pfn);
  EXPECT_EQ(pfn_of(offlru_va), offlru_pfn);
  EXPECT_FALSE(PageLRU(offlru));  // left alone: not put on a list by compaction
  EXPECT_TRUE(PageLRU(pinned));   // looked at, not isolated
  const std::uint64_t active_now = pfn_of(active_va);
  EXPECT_NE(active_now, active_pfn);  // the first blocks are compacted
  k().lru_add_drain_all();
  EXPECT_TRUE(pm().pfn_to_page(Pfn(active_now))->test(PG_active));
  std::size_t moved = 0;
  for (auto [va, pfn] : before) {
    const std::uint64_t now = pfn_of(va);
    if (now == pfn) continue;
    ++moved;
    EXPECT_TRUE(PageLRU(pm().pfn_to_page(Pfn(now)))) << std::hex << va;
    EXPECT_FALSE(PageLRU(pm().pfn_to_page(Pfn(pfn))));  // the old frame is free
  }
  EXPECT_GT(moved, before.size() / 2);
  --pinned->_refcount;
  KernelTestAccess::putback_lru_page(k(), offlru);
  for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
  expect_kept_pages_intact();
}

// Compound pages are stepped over whole (isolate_migratepages_block without
// alloc_contig): a THP in the compacted zone stays on its frames, PMD-mapped.
TEST_F(CompactionTest, ThpsAreNotCompacted) {
  fragment(200ull << 20);
  const long a = mmap_anon(t_, 4ull << 20);
  ASSERT_GT(a, 0);
  const VirtAddr huge = (static_cast<VirtAddr>(a) + (2ull << 20) - 1) & ~((2ull << 20) - 1);
  ASSERT_EQ(k().sys_madvise(t_, static_cast<VirtAddr>(a), 4ull << 20, MADV_HUGEPAGE, cost_), 0);
  ASSERT_EQ(touch(t_, huge), Kernel::FaultResult::Handled);
  const std::uint64_t thp_pfn = pfn_of(huge);
  page* head = pm().pfn_to_page(Pfn(thp_pfn));
  ASSERT_TRUE(PageHead(head)) << "the fault got a THP";
  ASSERT_EQ(pm().page_to_nid(head), NodeId(0));
  KernelCost c;
  ASSERT_EQ(k().compact_node(NodeId(0), CpuId(1), c), 0);
  EXPECT_GT(ev(PGMIGRATE_SUCCESS), 0u);
  EXPECT_EQ(pfn_of(huge), thp_pfn);
  EXPECT_EQ(pfn_of(huge + kPageSize), thp_pfn);  // still one PMD leaf: follow_page gives its head
  EXPECT_TRUE(PageHead(head));
  EXPECT_EQ(ev(THP_MIGRATION_SUCCESS), 0u);
  expect_kept_pages_intact();
}

TEST_F(CompactionTest, DirectCompactionInTheSlowPath) {
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  const std::uint64_t stall = ev(COMPACTSTALL);
  page* p = pm().alloc_pages(CpuId(0), GFP_TRANSHUGE | __GFP_THISNODE, 9, NodeId(0), nullptr, scratch_);
  ASSERT_NE(p, nullptr);
  EXPECT_GT(ev(COMPACTSTALL), stall);
  EXPECT_EQ(ev(COMPACTSUCCESS), 1u);
  EXPECT_GT(ev(COMPACTMIGRATE_SCANNED), 0u);
  EXPECT_EQ(ev(KCOMPACTD_MIGRATE_SCANNED), 0u);
  pm().free_pages(CpuId(0), p, 9, scratch_);
  for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
  expect_kept_pages_intact();
}

TEST_F(CompactionTest, ProactiveCompactionLowersTheScore) {
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);  // the rest of the node is taken in order-9 blocks
  ASSERT_EQ(k().compaction().set_compaction_proactiveness(101), -EINVAL);
  ASSERT_EQ(k().compaction().set_compaction_proactiveness(20), 0);
  const unsigned before = k().compaction().fragmentation_score_node(NodeId(0));
  ASSERT_GT(before, k().compaction().fragmentation_score_wmark(false));  // above 90: kcompactd must act
  EXPECT_TRUE(k().compaction().should_proactive_compact_node(NodeId(0)));
  // kcompactd0 sleeps HPAGE_FRAG_CHECK_INTERVAL_MSEC, then checks the score.
  platform_.advance_to(Picoseconds(500'000'000'000ull));
  Kthread* kc = k().kthreads().kcompactd(NodeId(0));
  ASSERT_EQ(platform_.woken.size(), 2u);  // kcompactd0 and kcompactd1
  ASSERT_EQ(platform_.woken.front(), &kc->task);
  run_woken();
  EXPECT_EQ(kc->nr_runs, 1u);
  const unsigned after = k().compaction().fragmentation_score_node(NodeId(0));
  EXPECT_LE(after, k().compaction().fragmentation_score_wmark(true)) << before;
  EXPECT_GT(ev(KCOMPACTD_MIGRATE_SCANNED), 0u);
  EXPECT_GT(ev(KCOMPACTD_FREE_SCANNED), 0u);
  EXPECT_EQ(ev(COMPACTSTALL), 0u);
  EXPECT_GT(kc->cost.cycles.value(), 0u);
  expect_kept_pages_intact();
  for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
  // Proactiveness 0 turns it off.
  ASSERT_EQ(k().compaction().set_compaction_proactiveness(0), 0);
  EXPECT_FALSE(k().compaction().should_proactive_compact_node(NodeId(0)));
}

TEST_F(CompactionTest, WakeupKcompactdCompactsForTheOrder) {
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  k().wakeup_kcompactd(NodeId(0), 0, ZONE_NORMAL);  // order 0: nothing
  EXPECT_TRUE(platform_.woken.empty());
  k().wakeup_kcompactd(NodeId(0), 9, ZONE_NORMAL);
  ASSERT_EQ(platform_.woken.size(), 1u);
  EXPECT_EQ(platform_.woken.front(), &k().kthreads().kcompactd(NodeId(0))->task);
  run_woken();
  EXPECT_EQ(ev(KCOMPACTD_WAKE), 1u);
  EXPECT_GT(ev(KCOMPACTD_MIGRATE_SCANNED), 0u);
  expect_order9_then_release(big);
}

// kswapd_try_to_sleep: kswapd woken for order 9 on a fragmented node cannot
// balance it by reclaim (no swap, nothing reclaimable: it gives up after
// MAX_RECLAIM_RETRIES passes); going to sleep it wakes kcompactd for the order,
// which compacts an order-9 block free.
TEST_F(CompactionTest, KswapdWakesKcompactdBeforeSleeping) {
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  ASSERT_EQ(ev(KCOMPACTD_WAKE), 0u);
  // THP's defrag=defer request: wake kswapd, do not compact directly.
  ASSERT_EQ(pm().alloc_pages(CpuId(0), GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM | __GFP_THISNODE, 9, NodeId(0),
                             nullptr, scratch_),
            nullptr);
  Kthread* ks = k().kthreads().kswapd(NodeId(0));
  ASSERT_EQ(platform_.woken.size(), 1u);
  ASSERT_EQ(platform_.woken.front(), &ks->task);
  run_woken();  // kswapd's passes, then kcompactd0 it woke
  EXPECT_GT(ks->nr_runs, 0u);
  EXPECT_EQ(ev(KCOMPACTD_WAKE), 1u);
  EXPECT_GT(ev(KCOMPACTD_MIGRATE_SCANNED), 0u);
  EXPECT_EQ(ev(COMPACTSTALL), 0u);
  expect_order9_then_release(big);
}

TEST_F(CompactionTest, AsyncDirectCompactionSkipsNonMovableBlocks) {
  fragment(200ull << 20);
  // Take every free movable block of order >= 2 so that unmovable allocations
  // must steal fragmented movable pageblocks (and the user pages in them).
  std::vector<std::pair<page*, unsigned>> held;
  for (int order = MAX_ORDER - 1; order >= 2; --order)
    while (page* p = pm().alloc_pages(CpuId(0), (GFP_HIGHUSER_MOVABLE | __GFP_THISNODE) & ~__GFP_RECLAIM,
                                      static_cast<unsigned>(order), NodeId(0), nullptr, scratch_))
      held.push_back({p, static_cast<unsigned>(order)});
  std::vector<page*> kernel_pages;
  for (int i = 0; i < 3000; ++i) {
    page* p = pm().alloc_pages(CpuId(0), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(0), nullptr, scratch_);
    ASSERT_NE(p, nullptr);
    kernel_pages.push_back(p);
  }
  std::size_t anon_in_unmovable = 0;
  for (std::uint64_t pfn = dma32().zone_start_pfn; pfn < dma32().zone_end_pfn(); ++pfn) {
    const page* pg = pm().pfn_to_page(Pfn(pfn));
    if (PageAnon(pg) && pg->mapcount > 0 && pm().get_pageblock_migratetype(pg) != MIGRATE_MOVABLE) ++anon_in_unmovable;
  }
  ASSERT_GT(anon_in_unmovable, 0u);  // the set-up worked
  std::map<std::uint64_t, std::uint64_t> stay;  // pfn -> token of the user pages in non-movable blocks
  for (std::uint64_t pfn = dma32().zone_start_pfn; pfn < dma32().zone_end_pfn(); ++pfn) {
    const page* pg = pm().pfn_to_page(Pfn(pfn));
    if (PageAnon(pg) && pg->mapcount > 0 && pm().get_pageblock_migratetype(pg) != MIGRATE_MOVABLE)
      stay[pfn] = k().page_tokens().get(pfn);
  }
  for (auto [p, order] : held) pm().free_pages(CpuId(0), p, order, scratch_);
  std::map<migratetype, int> moved_from;
  KernelTestAccess::set_migration_unmapped_hook(
      k(), [&](page* old_pg) { moved_from[pm().get_pageblock_migratetype(old_pg)]++; });
  auto run = [&](migrate_mode mode, bool whole_zone) {
    compact_control cc;
    cc.order = -1;  // until the scanners meet
    cc.gfp_mask = GFP_HIGHUSER_MOVABLE;
    cc.mode = mode;
    cc.direct_compaction = true;
    cc.whole_zone = whole_zone;
    cc.zone = &dma32();
    cc.cpu = CpuId(0);
    cc.cost = &scratch_;
    cc.ignore_block_suitable = !whole_zone;
    k().compaction().compact_zone(cc);
    return cc.nr_migrated;
  };
  EXPECT_GT(run(MIGRATE_ASYNC, true), 0u);
  EXPECT_GT(moved_from[MIGRATE_MOVABLE], 0);
  EXPECT_EQ(moved_from[MIGRATE_UNMOVABLE] + moved_from[MIGRATE_RECLAIMABLE], 0);
  for (auto [pfn, token] : stay) {
    const page* pg = pm().pfn_to_page(Pfn(pfn));
    EXPECT_TRUE(PageAnon(pg) && pg->mapcount == 1 && k().page_tokens().get(pfn) == token) << std::hex << pfn;
  }
  // Sync compaction started at the lowest such block (with targets anywhere, as
  // MIN_COMPACT_PRIORITY allows) does move them.
  for (page* p : kernel_pages) pm().free_pages(CpuId(0), p, 0, scratch_);
  kernel_pages.clear();
  pm().drain_all_pages(scratch_);
  moved_from.clear();
  const std::uint64_t blk = stay.begin()->first & ~(pageblock_nr_pages - 1);
  ZoneCompactState& s = k().compaction().state(dma32());
  s.compact_cached_migrate_pfn = {blk, blk};
  s.compact_cached_free_pfn = (dma32().zone_end_pfn() - 1) & ~(pageblock_nr_pages - 1);
  run(MIGRATE_SYNC_LIGHT, false);
  EXPECT_GT(moved_from[MIGRATE_UNMOVABLE] + moved_from[MIGRATE_RECLAIMABLE], 0);
  KernelTestAccess::set_migration_unmapped_hook(k(), nullptr);
  for (page* p : kernel_pages) pm().free_pages(CpuId(0), p, 0, scratch_);
  expect_kept_pages_intact();
}

// A zone with hand-written free-list counts (fill_contig_page_info reads nr_free).
zone crafted_zone(std::initializer_list<std::pair<unsigned, std::uint64_t>> blocks) {
  zone z;
  z.name = "Normal";
  z.idx = ZONE_NORMAL;
  std::int64_t free = 0;
  for (auto [order, n] : blocks) {
    z.free_area[order].nr_free = n;
    free += static_cast<std::int64_t>(n << order);
  }
  z.stats.vm_stat[NR_FREE_PAGES] = free;
  z._watermark = {50, 100, 150, 150};
  return z;
}

TEST_F(CompactionTest, FragmentationIndexAndSuitabilityOnCraftedLists) {
  // 2000 free single pages: failure would be fragmentation (index 0.998).
  zone scattered = crafted_zone({{0, 2000}});
  EXPECT_EQ(fragmentation_index(scattered, 9), 998);
  EXPECT_EQ(unusable_free_index(9, fill_contig_page_info(scattered, 9)), 1000);
  EXPECT_EQ(extfrag_for_order(scattered, 9), 100u);
  EXPECT_EQ(k().compaction().compaction_suitable(scattered, 9, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_CONTINUE);
  // Ten order-8 blocks: index 0.400 <= extfrag_threshold 500: a lack of memory, skipped.
  zone halves = crafted_zone({{8, 10}});
  EXPECT_EQ(fragmentation_index(halves, 9), 400);
  EXPECT_EQ(unusable_free_index(8, fill_contig_page_info(halves, 8)), 0);
  EXPECT_EQ(k().compaction().compaction_suitable(halves, 9, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_SKIPPED);
  ASSERT_EQ(k().compaction().set_extfrag_threshold(300), 0);
  EXPECT_EQ(k().compaction().compaction_suitable(halves, 9, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_CONTINUE);
  EXPECT_EQ(k().compaction().set_extfrag_threshold(1001), -EINVAL);
  // Too little free memory for the targets (low watermark + compact_gap): skipped.
  zone low = crafted_zone({{0, 1000}});
  EXPECT_EQ(k().compaction().compaction_suitable(low, 9, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_SKIPPED);
  // compact_memory's order -1 always continues; non-costly orders ignore the index.
  EXPECT_EQ(k().compaction().compaction_suitable(low, -1, 0, ZONE_NORMAL), compact_result::COMPACT_CONTINUE);
  EXPECT_EQ(k().compaction().compaction_suitable(halves, 3, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_CONTINUE);
  // A suitable block exists: -1000; nothing free: 0.
  contig_page_info some{1024, 1, 1};
  EXPECT_EQ(__fragmentation_index(9, some), -1000);
  EXPECT_EQ(__fragmentation_index(9, contig_page_info{}), 0);
  // A live zone whose watermark is met: COMPACT_SUCCESS (nothing to do).
  EXPECT_EQ(k().compaction().compaction_suitable(dma32(), 9, ALLOC_WMARK_MIN, ZONE_NORMAL),
            compact_result::COMPACT_SUCCESS);
}

TEST_F(CompactionTest, DeferralBacksOffAndResets) {
  Compaction& c = k().compaction();
  const zone& z = dma32();
  EXPECT_FALSE(c.compaction_deferred(z, 9));
  c.defer_compaction(z, 9);  // shift 1: one attempt skipped
  EXPECT_TRUE(c.compaction_deferred(z, 9));
  EXPECT_FALSE(c.compaction_deferred(z, 9));
  EXPECT_FALSE(c.compaction_deferred(z, 8));  // below compact_order_failed: never deferred
  for (int i = 0; i < 10; ++i) c.defer_compaction(z, 9);
  EXPECT_EQ(c.state(z).compact_defer_shift, COMPACT_MAX_DEFER_SHIFT);
  int skipped = 0;
  while (c.compaction_deferred(z, 9)) ++skipped;
  EXPECT_EQ(skipped, (1 << COMPACT_MAX_DEFER_SHIFT) - 1);
  EXPECT_TRUE(c.compaction_restarting(z, 9));
  // try_to_compact_pages reports the deferral (and does no work) below MIN priority.
  c.defer_compaction(z, 9);
  const zone& dma = pm().NODE_DATA(NodeId(0)).node_zones[ZONE_DMA];
  c.defer_compaction(dma, 9);
  const zonelist& zl = pm().NODE_DATA(NodeId(0)).node_zonelists[ZONELIST_NOFALLBACK];
  KernelCost cost;
  nodemask_t node0 = nodemask_of_node(0);
  EXPECT_EQ(c.try_to_compact_pages(GFP_TRANSHUGE | __GFP_DMA32, 9, ALLOC_WMARK_MIN, zl, &node0,
                                   COMPACT_PRIO_SYNC_LIGHT, CpuId(0), cost),
            compact_result::COMPACT_DEFERRED);
  EXPECT_EQ(ev(COMPACTMIGRATE_SCANNED), 0u);
  c.compaction_defer_reset(z, 9, true);
  EXPECT_EQ(c.state(z).compact_defer_shift, 0u);
  EXPECT_EQ(c.state(z).compact_order_failed, 10);
  EXPECT_FALSE(c.compaction_deferred(z, 9));
  // Without __GFP_IO compaction is not allowed at all.
  EXPECT_EQ(c.try_to_compact_pages(GFP_NOIO, 9, ALLOC_WMARK_MIN, zl, nullptr, COMPACT_PRIO_SYNC_LIGHT, CpuId(0), cost),
            compact_result::COMPACT_SKIPPED);
}

TEST_F(CompactionTest, DebugfsViewsAndPagetypeinfoBlockCounts) {
  const std::string u = debugfs_unusable_index(pm());
  EXPECT_NE(u.find("Node 0, zone      DMA "), std::string::npos) << u;
  EXPECT_NE(u.find("Node 1, zone    DMA32 "), std::string::npos) << u;
  const std::string e = debugfs_extfrag_index(pm());
  EXPECT_NE(e.find("-1.000 "), std::string::npos) << e;  // fresh memory: every order is available
  // Per zone one line, eleven orders each.
  std::size_t lines = 0;
  for (char ch : u) lines += ch == '\n';
  EXPECT_EQ(lines, 3u);
  fragment(200ull << 20);
  std::vector<page*> big;
  while (page* p = try_order9()) big.push_back(p);
  const std::string frag = debugfs_unusable_index(pm());
  // DMA32 of node 0: free memory all in blocks below order 9.
  const auto at = frag.find("Node 0, zone    DMA32 ");
  ASSERT_NE(at, std::string::npos);
  const std::string line = frag.substr(at, frag.find('\n', at) - at);
  EXPECT_NE(line.find("1.000 1.000 "), std::string::npos) << line;  // orders 9 and 10 unusable
  // The pagetypeinfo block counts add up to the zone's pageblocks.
  const std::string pti = proc_pagetypeinfo(pm());
  EXPECT_NE(pti.find("Number of blocks type     Unmovable      Movable  Reclaimable   HighAtomic      Isolate "),
            std::string::npos)
      << pti;
  for (page* b : big) pm().free_pages(CpuId(0), b, 9, scratch_);
}

}  // namespace
}  // namespace numasim::os
