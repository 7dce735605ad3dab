// LRU lists (os/swap.cpp, os/mm_inline.h, os/vmscan.cpp's list shrinking,
// os/workingset.cpp): lru_add batching and drain, freeing, mark_page_accessed,
// aging by shrink_active_list / shrink_inactive_list, get_scan_count without
// swap, inactive_is_low, workingset shadows, migration putback, and the
// checker catching corrupted lists.
#include <gtest/gtest.h>

#include "os/mm_inline.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/lru_test_access.h"

namespace numasim::os::testing {
namespace {

class LruTest : public KernelTest {
 protected:
  LruTest() : KernelTest({0, 0}) {}
  std::int64_t node(int nid, node_stat_item i) { return pm().node_page_state(NodeId(nid), i); }
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  page* page_at(task_struct* t, VirtAddr a) {
    auto f = k().follow_page(*t->mm, a);
    return f ? f->pg : nullptr;
  }
  // A task on CPU 0 with n private pages touched on node 0.
  VirtAddr populate(task_struct* t, int n) {
    const long a = mmap_anon(t, static_cast<std::uint64_t>(n) * kPageSize);
    EXPECT_GT(a, 0);
    for (int i = 0; i < n; ++i) EXPECT_EQ(touch(t, static_cast<VirtAddr>(a) + i * kPageSize), Kernel::FaultResult::Handled);
    return static_cast<VirtAddr>(a);
  }
  pteval_t pte_of(task_struct* t, VirtAddr a) { return k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL).value(); }
};

TEST_F(LruTest, NewPagesWaitInTheLruAddBatchUntilItFills) {
  task_struct* t = spawn();
  populate(t, 14);
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 14u);
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 0);
  k().check_consistency();
  const long b = mmap_anon(t, kPageSize);
  touch(t, static_cast<VirtAddr>(b));  // the 15th fills the batch: all move to the list
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 0u);
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 15);
  EXPECT_EQ(pm().node_zone_page_state(NodeId(0), NR_ZONE_INACTIVE_ANON), 15);
  EXPECT_EQ(node(0, NR_ACTIVE_ANON), 0);
  populate(t, 3);
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 3u);
  k().lru_add_drain(CpuId(0));
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 18);
  EXPECT_NE(k().proc_meminfo().find("Inactive(anon):       72 kB"), std::string::npos) << k().proc_meminfo();
  k().check_consistency();
}

TEST_F(LruTest, FreedPagesLeaveTheirListAndTheBatch) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 20);  // 15 on the list, 5 in the batch
  ASSERT_EQ(node(0, NR_INACTIVE_ANON), 15);
  ASSERT_EQ(k().lru_add_batch_size(CpuId(0)), 5u);
  ASSERT_EQ(k().sys_munmap(t, a, 20 * kPageSize, cost_), 0);
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 0);
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 0u);
  k().check_consistency();
}

TEST_F(LruTest, CopyOnWritePagesJoinTheListAndTheOldOneLeaves) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, kPageSize);
  touch(t, static_cast<VirtAddr>(a), false);  // zero page: not on any list
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 0u);
  touch(t, static_cast<VirtAddr>(a), true);  // wp copy of the zero page
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 1u);
  k().check_consistency();
}

TEST_F(LruTest, MarkPageAccessedReferencesThenActivates) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 15);
  page* pg = page_at(t, a);
  ASSERT_TRUE(pg->test(PG_lru));
  const std::uint64_t act0 = ev(PGACTIVATE);
  k().mark_page_accessed(pg);
  EXPECT_TRUE(pg->test(PG_referenced));
  EXPECT_FALSE(pg->test(PG_active));
  k().mark_page_accessed(pg);
  EXPECT_TRUE(pg->test(PG_active));
  EXPECT_FALSE(pg->test(PG_referenced));
  EXPECT_EQ(ev(PGACTIVATE), act0 + 1);
  EXPECT_EQ(node(0, NR_ACTIVE_ANON), 1);
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 14);
  k().check_consistency();
}

TEST_F(LruTest, ShrinkActiveListDeactivatesAndClearsTheAccessedBits) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 30);
  for (int i = 0; i < 30; ++i) {
    page* pg = page_at(t, a + i * kPageSize);
    k().mark_page_accessed(pg);
    k().mark_page_accessed(pg);
  }
  ASSERT_EQ(node(0, NR_ACTIVE_ANON), 30);
  ASSERT_TRUE(pte_of(t, a) & _PAGE_ACCESSED);
  scan_control sc;
  sc.kswapd = true;
  KernelCost c;
  const std::uint64_t refill0 = ev(PGREFILL), deact0 = ev(PGDEACTIVATE);
  LruTestAccess::shrink_active_list(k(), NodeId(0), 20, sc, LRU_ACTIVE_ANON, CpuId(0), c);
  EXPECT_EQ(ev(PGREFILL), refill0 + 20);
  EXPECT_EQ(ev(PGDEACTIVATE), deact0 + 20);
  EXPECT_EQ(node(0, NR_ACTIVE_ANON), 10);
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 20);
  EXPECT_EQ(node(0, NR_ISOLATED_ANON), 0);
  int cleared = 0, workingset = 0;
  for (int i = 0; i < 30; ++i) {
    cleared += !(pte_of(t, a + i * kPageSize) & _PAGE_ACCESSED);
    workingset += page_at(t, a + i * kPageSize)->test(PG_workingset);
  }
  EXPECT_EQ(cleared, 20);
  EXPECT_EQ(workingset, 20);
  EXPECT_GT(c.cycles.value(), 0u);
  EXPECT_GT(c.memory.value(), 0u);  // the PTE reads through the platform
  k().check_consistency();
}

TEST_F(LruTest, ShrinkInactiveListActivatesReferencedAndKeepsOnceReferenced) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 15);  // all inactive, PTEs young
  KernelCost c;
  // Page 0: young PTE and PG_referenced -> activate. Page 1: young PTE only ->
  // keep (PG_referenced set). The rest: old PTEs -> reclaim candidates, which
  // without swap space add_to_swap refuses -> activated.
  page* p0 = page_at(t, a);
  page* p1 = page_at(t, a + kPageSize);
  for (int i = 1; i < 15; ++i) k().page_referenced(page_at(t, a + i * kPageSize), CpuId(0), c);
  touch(t, a + kPageSize);
  p0->set(PG_referenced);
  scan_control sc;
  sc.gfp_mask = GFP_KERNEL;
  const std::uint64_t scan0 = ev(PGSCAN_DIRECT), steal0 = ev(PGSTEAL_DIRECT), anon0 = ev(PGSCAN_ANON);
  const unsigned long reclaimed = LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_ANON,
                                                                      CpuId(0), c);
  EXPECT_EQ(reclaimed, 0u);  // no swap: anonymous pages cannot go
  EXPECT_EQ(ev(PGSCAN_DIRECT), scan0 + 15);
  EXPECT_EQ(ev(PGSCAN_ANON), anon0 + 15);
  EXPECT_EQ(ev(PGSTEAL_DIRECT), steal0);
  EXPECT_EQ(sc.nr_scanned, 15u);
  EXPECT_TRUE(p0->test(PG_active));
  EXPECT_FALSE(p1->test(PG_active));
  EXPECT_TRUE(p1->test(PG_referenced));
  EXPECT_EQ(node(0, NR_INACTIVE_ANON), 1);
  EXPECT_EQ(node(0, NR_ACTIVE_ANON), 14);
  EXPECT_EQ(node(0, NR_ISOLATED_ANON), 0);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(page_at(t, a + i * kPageSize)->_refcount, 1) << i;  // isolation ref dropped
  k().check_consistency();
}

TEST_F(LruTest, GetScanCountScansNoAnonWithoutSwap) {
  task_struct* t = spawn();
  populate(t, 300);
  k().lru_add_drain(CpuId(0));
  for (int prio : {12, 2, 0}) {
    scan_control sc;
    sc.priority = prio;
    unsigned long nr[NR_LRU_LISTS];
    LruTestAccess::get_scan_count(k(), NodeId(0), sc, nr);
    for (int l = 0; l < NR_LRU_LISTS; ++l) EXPECT_EQ(nr[l], 0u) << "prio " << prio << " list " << l;
  }
  EXPECT_EQ(LruTestAccess::zone_reclaimable_pages(k(), pm().NODE_DATA(NodeId(0)).node_zones[ZONE_DMA32]), 0u);
}

TEST_F(LruTest, InactiveIsLowFollowsTheSqrtRatio) {
  pglist_data pgdat;
  auto set = [&](std::uint64_t inactive, std::uint64_t active) {
    pgdat.__lruvec.nr_pages[LRU_INACTIVE_ANON] = inactive;
    pgdat.__lruvec.nr_pages[LRU_ACTIVE_ANON] = active;
    return LruTestAccess::inactive_is_low(k(), pgdat, LRU_INACTIVE_ANON);
  };
  EXPECT_TRUE(set(100, 101));   // < 1 GB: ratio 1
  EXPECT_FALSE(set(100, 100));
  const std::uint64_t gb = 1ull << 18;  // pages per GB
  // 10 GB: ratio sqrt(100) = 10.
  EXPECT_FALSE(set(gb, 9 * gb));
  EXPECT_TRUE(set(gb * 9 / 10, 9 * gb + gb / 10));
  // 1 GB: ratio sqrt(10) = 3.
  EXPECT_TRUE(set(gb / 5, gb * 4 / 5));
  EXPECT_FALSE(set(gb / 4, gb * 3 / 4));
}

TEST_F(LruTest, WorkingsetRefaultActivatesWithinTheWorkingsetAndRestores) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 2);
  page* pg = page_at(t, a);
  pg->set(PG_workingset);
  const std::uint64_t shadow = k().workingset_eviction(pg);
  pg->clear(PG_workingset);
  EXPECT_EQ(shadow & 1, 1u);  // an xarray value entry
  page* back = page_at(t, a + kPageSize);
  back->clear(PG_active);
  // Refault distance 1 (the eviction ticked the clock) against a workingset of
  // 0 pages (no file pages, no swap): too far, no activation.
  k().workingset_refault(back, shadow);
  EXPECT_EQ(node(0, WORKINGSET_REFAULT_ANON), 1);
  EXPECT_EQ(node(0, WORKINGSET_ACTIVATE_ANON), 0);
  EXPECT_FALSE(back->test(PG_active));
  // A shadow taken now has distance 0: activated, and restored (it was workingset).
  pg->set(PG_workingset);
  auto& lv = pm().NODE_DATA(NodeId(0)).__lruvec;
  const std::uint64_t shadow2 = k().workingset_eviction(pg);
  lv.nonresident_age -= 1;  // as if nothing was evicted since
  pg->clear(PG_workingset);
  k().workingset_refault(back, shadow2);
  EXPECT_EQ(node(0, WORKINGSET_REFAULT_ANON), 2);
  EXPECT_EQ(node(0, WORKINGSET_ACTIVATE_ANON), 1);
  EXPECT_EQ(node(0, WORKINGSET_RESTORE_ANON), 1);
  EXPECT_TRUE(back->test(PG_active));
  EXPECT_TRUE(back->test(PG_workingset));
  back->clear(PG_active);  // it is on the inactive list
  back->clear(PG_workingset);
  k().check_consistency();
}

TEST_F(LruTest, MigratedPagesMoveToTheNewNodesList) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 15);
  k().mark_page_accessed(page_at(t, a));
  k().mark_page_accessed(page_at(t, a));
  ASSERT_EQ(node(0, NR_ACTIVE_ANON), 1);
  int nodes[2] = {1, 1};
  int status[2] = {-1, -1};
  VirtAddr pages[2] = {a, a + kPageSize};
  ASSERT_EQ(k().sys_move_pages(t, 0, 2, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 1);
  k().lru_add_drain_all();
  EXPECT_EQ(node(0, NR_ACTIVE_ANON) + node(0, NR_INACTIVE_ANON), 13);
  EXPECT_EQ(node(1, NR_ACTIVE_ANON), 1);  // the active state moved with it
  EXPECT_EQ(node(1, NR_INACTIVE_ANON), 1);
  k().check_consistency();
}

using LruDeathTest = LruTest;

TEST_F(LruDeathTest, CheckerCatchesAWrongListLength) {
  task_struct* t = spawn();
  populate(t, 15);
  pm().NODE_DATA(NodeId(0)).__lruvec.nr_pages[LRU_INACTIVE_ANON] += 1;
  EXPECT_DEATH(k().check_consistency(), "LRU list length");
}

TEST_F(LruDeathTest, CheckerCatchesAPageOnTheWrongList) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 15);
  page_at(t, a)->set(PG_active);  // flags say active, the page sits on the inactive list
  EXPECT_DEATH(k().check_consistency(), "wrong LRU list");
}

TEST_F(LruDeathTest, CheckerCatchesAMappedPageOffTheLists) {
  task_struct* t = spawn();
  const VirtAddr a = populate(t, 15);
  page* pg = page_at(t, a);
  del_page_from_lru_list(pm(), pg);
  pg->clear(PG_lru);
  EXPECT_DEATH(k().check_consistency(), "neither on an LRU list");
}

}  // namespace
}  // namespace numasim::os::testing
