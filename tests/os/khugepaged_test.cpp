// khugepaged (os/khugepaged.cpp): registration at MADV_HUGEPAGE, a pass
// collapsing a 2 MiB range populated with 4 KiB pages (contents carried as page
// tokens, the copies timed through the platform), the max_ptes_none limit,
// shared pages, the alloc failure sleep, full_scans, and its threadfn.
#include <gtest/gtest.h>

#include "os/gfp.h"
#include "os/huge_memory.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

constexpr VirtAddr kBase = 0x200000000ull;
constexpr std::uint64_t kHuge = HPAGE_PMD_SIZE;

class KhugepagedTest : public KernelTest {
 protected:
  KhugepagedTest() : KernelTest({0, 0}) {
    t_ = spawn(0);
    EXPECT_EQ(mmap_anon(t_, 2 * kHuge, PROT_READ | PROT_WRITE, MAP_FIXED, kBase), static_cast<long>(kBase));
  }
  std::uint64_t ev(vm_event_item i) const { return kernel_->physmem().sum_vm_event(i); }
  int leaf_level(VirtAddr a) {
    auto f = k().follow_page(*t_->mm, a);
    return f ? f->level : 0;
  }
  task_struct* t_ = nullptr;
};

TEST_F(KhugepagedTest, CollapsesSmallPagesKeepingTheirContents) {
  k().page_tokens().enable(k().physmem().max_pfn());
  for (unsigned i = 0; i < 300; ++i) {  // 212 holes: fewer than max_ptes_none
    ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
    k().page_tokens().set(k().follow_page(*t_->mm, kBase + i * kPageSize)->phys >> kPageShift, 1000 + i);
  }
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  EXPECT_EQ(t_->mm->rss_stat[MM_ANONPAGES], 300);
  EXPECT_FALSE(t_->mm->khugepaged_slot);
  ASSERT_EQ(k().sys_madvise(t_, kBase, 2 * kHuge, MADV_HUGEPAGE, cost_), 0);
  EXPECT_TRUE(t_->mm->khugepaged_slot);
  EXPECT_FALSE(platform_.woken.empty());  // the first mm wakes khugepaged
  k().check_consistency();
  platform_.calls.clear();
  KernelCost c;
  const KthreadResult r = k().khugepaged_scan(CpuId(1), c);
  EXPECT_TRUE(r.sleep);
  EXPECT_EQ(r.timeout, k().kthreads().params().khugepaged_scan_sleep);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 1u);
  EXPECT_EQ(ev(THP_COLLAPSE_ALLOC), 1u);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_EQ(t_->mm->rss_stat[MM_ANONPAGES], 512);
  EXPECT_EQ(k().physmem().global_node_page_state(NR_ANON_THPS), 512);
  const PhysAddr phys = k().follow_page(*t_->mm, kBase)->phys;
  for (unsigned i = 0; i < 512; ++i)
    EXPECT_EQ(k().page_tokens().get((phys >> kPageShift) + i), i < 300 ? 1000u + i : 0u) << i;
  // 300 copies of 4 KiB and 212 clears from khugepaged's CPU.
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 300u);
  EXPECT_GT(c.cycles.value(), 0u);
  EXPECT_EQ(k().thp_sysfs_show("khugepaged/pages_collapsed"), "1");
  k().check_consistency();
  // The second range has no page at all: nothing to collapse; the list was fully scanned.
  EXPECT_GE(k().khugepaged_stats().full_scans, 1u);
}

TEST_F(KhugepagedTest, TooManyEmptyPtesAreNotCollapsed) {
  ASSERT_EQ(k().thp_sysfs_store("khugepaged/max_ptes_none", "500"), 0);
  for (unsigned i = 0; i < 10; ++i) ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_HUGEPAGE, cost_), 0);
  KernelCost c;
  k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 0u);
  EXPECT_EQ(ev(THP_SCAN_EXCEED_NONE_PTE), 1u);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  k().check_consistency();
}

TEST_F(KhugepagedTest, SharedPagesAboveMaxPtesSharedBlockTheCollapse) {
  for (unsigned i = 0; i < 512; ++i) ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
  long cpid = k().sys_fork(t_, cost_);
  ASSERT_GT(cpid, 0);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_HUGEPAGE, cost_), 0);
  ASSERT_EQ(k().thp_sysfs_store("khugepaged/max_ptes_shared", "100"), 0);
  KernelCost c;
  k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(ev(THP_SCAN_EXCEED_SHARED_PTE), 1u);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 0u);
  // The parent writes to 300 of its pages (copies them: its own, writable); 212 stay
  // shared, still above 100...
  for (unsigned i = 0; i < 300; ++i) ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
  k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(ev(THP_SCAN_EXCEED_SHARED_PTE), 2u);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 0u);
  // ...raising the limit lets the range collapse; the child keeps the old pages.
  ASSERT_EQ(k().thp_sysfs_store("khugepaged/max_ptes_shared", "511"), 0);
  k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 1u);
  task_struct* child = k().find_task_by_pid(static_cast<int>(cpid));
  EXPECT_EQ(child->mm->rss_stat[MM_ANONPAGES], 512);
  EXPECT_EQ(k().follow_page(*child->mm, kBase)->level, PTE_LEVEL);
  k().check_consistency();
}

TEST_F(KhugepagedTest, FailedAllocationSleepsAllocSleepMillisecs) {
  for (unsigned i = 0; i < 64; ++i) ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_HUGEPAGE, cost_), 0);
  ASSERT_EQ(k().thp_sysfs_store("khugepaged/defrag", "0"), 0);
  std::vector<page*> held;
  KernelCost c;
  for (int nid = 0; nid < 2; ++nid)
    for (;;) {
      page* pg = pm().alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NORETRY | __GFP_NOWARN, 9,
                                  NodeId(nid), nullptr, c);
      if (!pg) break;
      held.push_back(pg);
    }
  const KthreadResult r = k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(ev(THP_COLLAPSE_ALLOC_FAILED), 1u);
  EXPECT_EQ(r.timeout, Picoseconds(60000ull * 1'000'000'000ull));
  for (page* pg : held) pm().free_pages(CpuId(0), pg, 9, c);
  k().check_consistency();
}

TEST_F(KhugepagedTest, ThreadfnRunsAPassAndExitedMmsLeaveTheList) {
  for (unsigned i = 0; i < 512; ++i) ASSERT_EQ(touch(t_, kBase + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_HUGEPAGE, cost_), 0);
  Kthread* kh = k().kthreads().khugepaged();
  ASSERT_NE(kh, nullptr);
  KernelCost c;
  k().kthreads().run(&kh->task, c);
  EXPECT_EQ(k().khugepaged_stats().pages_collapsed, 1u);
  k().check_consistency();
  k().exit_task(t_);
  k().khugepaged_scan(CpuId(0), c);
  EXPECT_EQ(k().thp_sysfs_show("khugepaged/pages_collapsed"), "1");
  k().check_consistency();
}

}  // namespace
