// Anonymous THPs on the LRU (os/huge_memory.cpp, os/swap.cpp, os/vmscan.cpp):
// a faulted THP joins its node's inactive anon list as one folio counting 512
// pages and leaves it when freed; reclaim meeting it without THP swap splits it
// (thp_swpout_fallback), the subpages are swapped out as small pages and read
// back with their page tokens; page_referenced reads and clears the PMD's
// accessed bit; a split outside reclaim puts the mapped subpages on the head's
// list. check_consistency after each step.
#include <gtest/gtest.h>

#include "os/huge_memory.h"
#include "os/mm_inline.h"
#include "tests/os/swap_test_util.h"

namespace numasim::os::testing {
namespace {

constexpr VirtAddr kBase = 0x200000000ull;  // 2 MiB aligned
constexpr std::uint64_t kHuge = HPAGE_PMD_SIZE;

class ThpReclaimTest : public SwapTest {
 protected:
  ThpReclaimTest() {
    kernel_.reset();
    params_.thp.enabled = ThpEnabled::Always;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
    t_ = spawn(0);
  }
  // One 2 MiB THP at kBase, every subpage given token kTok + i.
  page* fault_thp() {
    EXPECT_EQ(mmap_anon(t_, kHuge, PROT_READ | PROT_WRITE, MAP_FIXED, kBase), static_cast<long>(kBase));
    EXPECT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
    page* head = page_at(t_, kBase);
    EXPECT_NE(head, nullptr);
    if (!head) return nullptr;
    EXPECT_TRUE(PageTransHuge(head));
    const std::uint64_t pfn = pm().page_to_pfn(head).value();  // follow_page of a PMD leaf gives the head
    for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) k().page_tokens().set(pfn + i, kTok + i);
    return head;
  }
  std::uint64_t lru(lru_list l) const { return kernel_->physmem().NODE_DATA(NodeId(0)).__lruvec.nr_pages[l]; }
  long gauge(node_stat_item i) const { return kernel_->physmem().NODE_DATA(NodeId(0)).stats.vm_stat[i]; }
  pteval_t pmd_at(VirtAddr a) {
    PteRef r = k().pgtables().walk(t_->mm->pgd, a, PMD_LEVEL);
    return r && r.level == PMD_LEVEL ? r.value() : 0;
  }
  unsigned long shrink_inactive(unsigned long nr, bool may_unmap = true) {
    scan_control sc;
    sc.gfp_mask = GFP_KERNEL;
    sc.may_unmap = may_unmap;
    KernelCost c;
    return LruTestAccess::shrink_inactive_list(k(), NodeId(0), nr, sc, LRU_INACTIVE_ANON, CpuId(0), c);
  }
  static constexpr std::uint64_t kTok = 0x7000;
  task_struct* t_ = nullptr;
};

TEST_F(ThpReclaimTest, FaultedThpIsOneFolioOf512OnInactiveAnonAndLeavesWhenFreed) {
  page* head = fault_thp();
  ASSERT_NE(head, nullptr);
  EXPECT_TRUE(head->test(PG_lru));
  EXPECT_FALSE(head[1].test(PG_lru));
  EXPECT_EQ(lru(LRU_INACTIVE_ANON), HPAGE_PMD_NR);
  EXPECT_EQ(gauge(NR_INACTIVE_ANON), static_cast<long>(HPAGE_PMD_NR));
  EXPECT_EQ(k().lru_add_batch_size(CpuId(0)), 0u);  // a large folio is not left in the batch
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t_, kBase, kHuge, cost_), 0);
  EXPECT_EQ(lru(LRU_INACTIVE_ANON), 0u);
  EXPECT_EQ(gauge(NR_INACTIVE_ANON), 0);
  k().check_consistency();
}

TEST_F(ThpReclaimTest, PageReferencedReadsAndClearsThePmdAccessedBit) {
  page* head = fault_thp();
  ASSERT_NE(head, nullptr);
  ASSERT_TRUE(pmd_at(kBase) & _PAGE_ACCESSED);
  EXPECT_EQ(k().page_referenced(head, CpuId(0), cost_), 1);
  EXPECT_FALSE(pmd_at(kBase) & _PAGE_ACCESSED);
  EXPECT_EQ(k().page_referenced(head, CpuId(0), cost_), 0);
  k().check_consistency();
}

TEST_F(ThpReclaimTest, SplitOutsideReclaimPutsTheMappedSubpagesOnTheHeadsList) {
  page* head = fault_thp();
  ASSERT_NE(head, nullptr);
  ASSERT_TRUE(k().split_huge_page(head, CpuId(0), cost_));
  EXPECT_EQ(lru(LRU_INACTIVE_ANON), HPAGE_PMD_NR);  // 512 small pages in place of the one folio
  EXPECT_TRUE(head[0].test(PG_lru));
  EXPECT_TRUE(head[511].test(PG_lru));
  k().check_consistency();
}

TEST_F(ThpReclaimTest, ReclaimSplitsTheThpSwapsItOutAndReadsTokensBack) {
  ASSERT_EQ(swapon_nvme("nvme0", 64ull << 20), 0);
  page* head = fault_thp();
  ASSERT_NE(head, nullptr);
  const std::uint64_t fallback0 = ev(THP_SWPOUT_FALLBACK), split0 = ev(THP_SPLIT_PAGE), out0 = ev(PSWPOUT);
  // Pass 1: the PMD was young -> kept (PG_referenced), the accessed bit cleared.
  EXPECT_EQ(shrink_inactive(32), 0u);
  EXPECT_TRUE(head->test(PG_lru));
  EXPECT_TRUE(PageTransHuge(head));
  EXPECT_EQ(lru(LRU_INACTIVE_ANON), HPAGE_PMD_NR);
  k().check_consistency();
  // Pass 2: old -> reclaim: no THP swap, so split; the subpages are written out.
  shrink_inactive(32);
  EXPECT_EQ(ev(THP_SWPOUT_FALLBACK), fallback0 + 1);
  EXPECT_EQ(ev(THP_SWPOUT), 0u);
  EXPECT_EQ(ev(THP_SPLIT_PAGE), split0 + 1);
  EXPECT_FALSE(PageTransHuge(head));
  EXPECT_EQ(ev(PSWPOUT), out0 + HPAGE_PMD_NR);
  EXPECT_EQ(gauge(NR_ISOLATED_ANON), 0);
  k().check_consistency();
  // The writes complete; the next pass frees the clean swap-cache pages.
  complete_io();
  const unsigned long freed = shrink_inactive(HPAGE_PMD_NR);
  EXPECT_EQ(freed, HPAGE_PMD_NR);
  EXPECT_EQ(lru(LRU_INACTIVE_ANON) + lru(LRU_ACTIVE_ANON), 0u);
  EXPECT_EQ(k().total_swap_pages() - k().nr_swap_pages(), HPAGE_PMD_NR);
  int swapped = 0;
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) swapped += !pte_present(pte_at(t_, kBase + i * kPageSize));
  EXPECT_EQ(swapped, static_cast<int>(HPAGE_PMD_NR));
  k().check_consistency();
  // Read back: every subpage's token intact.
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    ASSERT_EQ(touch(t_, kBase + i * kPageSize, false), Kernel::FaultResult::Handled);
    EXPECT_EQ(token_at(t_, kBase + i * kPageSize), kTok + i) << i;
  }
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t_, kBase, kHuge, cost_), 0);
  expect_swap_empty();
}

TEST_F(ThpReclaimTest, ReclaimThatMayNotUnmapKeepsAPmdMappedThpWhole) {
  ASSERT_EQ(swapon_nvme("nvme0", 64ull << 20), 0);
  page* head = fault_thp();
  ASSERT_NE(head, nullptr);
  k().page_referenced(head, CpuId(0), cost_);  // old: reclaim would take it
  const std::uint64_t split0 = ev(THP_SPLIT_PAGE);
  EXPECT_EQ(shrink_inactive(32, /*may_unmap=*/false), 0u);
  EXPECT_EQ(ev(THP_SPLIT_PAGE), split0);
  EXPECT_EQ(ev(THP_SWPOUT_FALLBACK), 0u);
  EXPECT_TRUE(PageTransHuge(head));
  EXPECT_TRUE(head->test(PG_lru));
  EXPECT_EQ(lru(LRU_INACTIVE_ANON), HPAGE_PMD_NR);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
