// Transparent huge pages (os/huge_memory.cpp): fault-time THP under each
// enabled mode, madvise and prctl; fallback without an order-9 block; the huge
// zero page and a write to it; partial munmap/mprotect/madvise splits with the
// deferred split queue and its shrinker; fork sharing and copy-on-write of a
// THP; THP migration; the knobs. check_consistency after each step.
#include <gtest/gtest.h>

#include "os/gfp.h"
#include "os/huge_memory.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

constexpr VirtAddr kBase = 0x200000000ull;  // 2 MiB (and 1 GiB) aligned
constexpr std::uint64_t kHuge = HPAGE_PMD_SIZE;

class ThpTest : public KernelTest {
 protected:
  explicit ThpTest(ThpEnabled mode = ThpEnabled::Always) : KernelTest({0, 0}) {
    kernel_.reset();
    params_.thp.enabled = mode;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    t_ = spawn(0);
  }
  VirtAddr map(std::uint64_t len, VirtAddr at = kBase, int prot = PROT_READ | PROT_WRITE) {
    long r = mmap_anon(t_, len, prot, MAP_FIXED, at);
    EXPECT_EQ(r, static_cast<long>(at));
    return at;
  }
  int leaf_level(VirtAddr a) {
    auto f = k().follow_page(*t_->mm, a);
    return f ? f->level : 0;
  }
  std::uint64_t ev(vm_event_item i) const { return kernel_->physmem().sum_vm_event(i); }
  // Takes every free order-9 block, then gives one back and takes half of it
  // (order 8): no order-9 block can form again, 256 small pages are free.
  // release() gives everything back.
  void fragment() {
    KernelCost c;
    pm().drain_all_pages(c);  // no per-cpu pages that a later drain could merge into a block
    for (;;) {
      page* pg = pm().alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE | __GFP_NORETRY | __GFP_NOWARN, 9, NodeId(0), nullptr, c);
      if (!pg) break;
      held_.push_back(pg);
    }
    ASSERT_FALSE(held_.empty());
    pm().free_pages(CpuId(0), held_.back(), 9, c);
    held_.pop_back();
    small_ = pm().alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE | __GFP_NOWARN, 8, NodeId(0), nullptr, c);
    ASSERT_NE(small_, nullptr);
  }
  void release() {
    KernelCost c;
    for (page* pg : held_) pm().free_pages(CpuId(0), pg, 9, c);
    pm().free_pages(CpuId(0), small_, 8, c);
    held_.clear();
  }
  std::vector<page*> held_;
  page* small_ = nullptr;
  long anon_thps() const { return kernel_->physmem().global_node_page_state(NR_ANON_THPS); }
  long rss() const { return t_->mm->rss_stat[MM_ANONPAGES]; }
  task_struct* t_ = nullptr;
};

class ThpMadviseTest : public ThpTest {
 protected:
  ThpMadviseTest() : ThpTest(ThpEnabled::Madvise) {}
};
class ThpNeverTest : public ThpTest {
 protected:
  ThpNeverTest() : ThpTest(ThpEnabled::Never) {}
};

TEST_F(ThpTest, AlwaysWriteFaultMapsOnePmdLeaf) {
  map(2 * kHuge);
  ASSERT_EQ(touch(t_, kBase + 5 * kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_EQ(leaf_level(kBase + kHuge - 1), PMD_LEVEL);
  EXPECT_EQ(leaf_level(kBase + kHuge), 0);  // the second 2 MiB is untouched
  EXPECT_EQ(ev(THP_FAULT_ALLOC), 1u);
  EXPECT_EQ(rss(), 512);
  EXPECT_EQ(anon_thps(), 512);
  EXPECT_EQ(t_->min_flt, 1u);
  // The 2 MiB clear is one kernel_write of 2 MiB.
  bool cleared = false;
  for (const auto& w : platform_.calls) cleared |= w.kind == FakePlatform::Kind::Write && w.len.value() == kHuge;
  EXPECT_TRUE(cleared);
  // Every other access in the range hits the leaf without faulting.
  ASSERT_EQ(touch(t_, kBase + kHuge - kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(t_->min_flt, 1u);
  k().check_consistency();
  // /proc/meminfo and /proc/vmstat show it.
  EXPECT_NE(k().proc_meminfo().find("AnonHugePages:      2048 kB"), std::string::npos) << k().proc_meminfo();
  // The second 2 MiB (its page tables exist): pgalloc counts 512 base pages, numa_hit one event.
  auto pgalloc = [&] { return ev(PGALLOC_DMA) + ev(PGALLOC_DMA32) + ev(PGALLOC_NORMAL) + ev(PGALLOC_MOVABLE); };
  const std::uint64_t pgalloc0 = pgalloc(), hit0 = pm().global_numa_event_state(NUMA_HIT);
  ASSERT_EQ(touch(t_, kBase + kHuge), Kernel::FaultResult::Handled);
  EXPECT_EQ(pgalloc() - pgalloc0, 512u);
  EXPECT_EQ(pm().global_numa_event_state(NUMA_HIT) - hit0, 1u);
  k().check_consistency();
  EXPECT_EQ(k().sys_munmap(t_, kBase, 2 * kHuge, cost_), 0);
  EXPECT_EQ(anon_thps(), 0);
  EXPECT_EQ(rss(), 0);
  k().check_consistency();
}

TEST_F(ThpTest, UnalignedOrSmallVmaFallsBackToSmallPages) {
  map(kHuge, kBase + kPageSize);  // no aligned 2 MiB inside
  ASSERT_EQ(touch(t_, kBase + kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase + kPageSize), PTE_LEVEL);
  EXPECT_EQ(ev(THP_FAULT_ALLOC), 0u);
  EXPECT_EQ(rss(), 1);
  k().check_consistency();
}

TEST_F(ThpMadviseTest, MadviseModeNeedsMadvHugepage) {
  map(4 * kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  ASSERT_EQ(k().sys_madvise(t_, kBase + 2 * kHuge, 2 * kHuge, MADV_HUGEPAGE, cost_), 0);
  ASSERT_EQ(touch(t_, kBase + 2 * kHuge), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase + 2 * kHuge), PMD_LEVEL);
  ASSERT_EQ(k().sys_madvise(t_, kBase + 3 * kHuge, kHuge, MADV_NOHUGEPAGE, cost_), 0);
  ASSERT_EQ(touch(t_, kBase + 3 * kHuge), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase + 3 * kHuge), PTE_LEVEL);
  EXPECT_EQ(ev(THP_FAULT_ALLOC), 1u);
  k().check_consistency();
}

TEST_F(ThpNeverTest, NeverModeIgnoresMadvise) {
  map(kHuge);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_HUGEPAGE, cost_), 0);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  // Switching the sysfs knob at run time enables it.
  EXPECT_EQ(k().thp_sysfs_store("enabled", "always"), 0);
  EXPECT_EQ(k().thp_sysfs_show("enabled"), "[always] madvise never");
  map(kHuge, kBase + kHuge);
  ASSERT_EQ(touch(t_, kBase + kHuge), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase + kHuge), PMD_LEVEL);
  k().check_consistency();
}

TEST_F(ThpTest, PrctlDisablesThpForTheMmAndForkInheritsIt) {
  EXPECT_EQ(k().sys_prctl(t_, PR_GET_THP_DISABLE, 0, cost_), 0);
  EXPECT_EQ(k().sys_prctl(t_, PR_SET_THP_DISABLE, 1, cost_), 0);
  EXPECT_EQ(k().sys_prctl(t_, PR_GET_THP_DISABLE, 0, cost_), 1);
  EXPECT_EQ(k().sys_prctl(t_, 9999, 0, cost_), -EINVAL);
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  long child = k().sys_fork(t_, cost_);
  ASSERT_GT(child, 0);
  EXPECT_EQ(k().sys_prctl(k().find_task_by_pid(static_cast<int>(child)), PR_GET_THP_DISABLE, 0, cost_), 1);
  k().check_consistency();
}

TEST_F(ThpTest, SysfsRejectsBadValuesAndChangesNothing) {
  EXPECT_EQ(k().thp_sysfs_store("enabled", "sometimes"), -EINVAL);
  EXPECT_EQ(k().thp_sysfs_store("defrag", "defer+madvise"), 0);
  EXPECT_EQ(k().thp_sysfs_show("defrag"), "always defer [defer+madvise] madvise never");
  EXPECT_EQ(k().thp_sysfs_store("khugepaged/max_ptes_none", "512"), -EINVAL);
  EXPECT_EQ(k().thp_sysfs_store("khugepaged/max_ptes_none", "12"), 0);
  EXPECT_EQ(k().thp_sysfs_show("khugepaged/max_ptes_none"), "12");
  EXPECT_EQ(k().thp_sysfs_store("nonsense", "1"), -EINVAL);
  EXPECT_EQ(k().thp_sysfs_store("use_zero_page", "2"), -EINVAL);
  EXPECT_EQ(k().thp_sysfs_show("enabled"), "[always] madvise never");
}

TEST_F(ThpTest, NoOrder9BlockFallsBackAndCountsIt) {
  fragment();
  const std::uint64_t compactions = pm().slowpath_stats().direct_compact;
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  EXPECT_EQ(ev(THP_FAULT_FALLBACK), 1u);
  EXPECT_EQ(ev(THP_FAULT_ALLOC), 0u);
  // defrag=madvise without MADV_HUGEPAGE: GFP_TRANSHUGE_LIGHT, no direct compaction.
  EXPECT_EQ(pm().slowpath_stats().direct_compact, compactions);
  k().check_consistency();
  release();
  // With blocks back, the next aligned range gets its THP.
  map(kHuge, kBase + kHuge);
  ASSERT_EQ(touch(t_, kBase + kHuge), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase + kHuge), PMD_LEVEL);
  k().check_consistency();
}

// vma_thp_gfp_mask: direct compaction (and reclaim) only where the defrag mode allows it.
TEST_F(ThpTest, DefragModeDecidesWhetherTheFaultCompacts) {
  fragment();
  struct Case {
    const char* defrag;
    bool madvised;
    bool compacts;
  } cases[] = {{"never", true, false},  {"defer", true, false},         {"madvise", false, false},
               {"madvise", true, true}, {"defer+madvise", false, false}, {"defer+madvise", true, true},
               {"always", false, true}};
  VirtAddr at = kBase;
  for (const Case& cs : cases) {
    ASSERT_EQ(k().thp_sysfs_store("defrag", cs.defrag), 0);
    map(kHuge, at);
    if (cs.madvised) {
      ASSERT_EQ(k().sys_madvise(t_, at, kHuge, MADV_HUGEPAGE, cost_), 0);
    }
    const std::uint64_t before = pm().slowpath_stats().direct_compact;
    ASSERT_EQ(touch(t_, at), Kernel::FaultResult::Handled);
    EXPECT_EQ(pm().slowpath_stats().direct_compact > before, cs.compacts) << cs.defrag << " " << cs.madvised;
    EXPECT_EQ(leaf_level(at), PTE_LEVEL) << cs.defrag << " " << cs.madvised;  // compaction makes no progress: fallback
    at += 2 * kHuge;
  }
  EXPECT_EQ(ev(THP_FAULT_FALLBACK), std::size(cases));
  k().check_consistency();
  release();
}

TEST_F(ThpTest, HugeZeroPageOnReadThenWriteSplitsAndCopiesOneSmallPage) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase + 3 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_EQ(ev(THP_ZERO_PAGE_ALLOC), 1u);
  EXPECT_NE(k().huge_zero_page_phys(), 0u);
  EXPECT_EQ(rss(), 0);
  k().check_consistency();
  // A second process reading shares the same huge zero page (no second allocation).
  ASSERT_EQ(touch(t_, kBase, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(THP_ZERO_PAGE_ALLOC), 1u);
  // Linux 6.1: a write to the huge zero page splits the PMD and copies 4 KiB.
  ASSERT_EQ(touch(t_, kBase + 3 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  EXPECT_EQ(leaf_level(kBase + 3 * kPageSize), PTE_LEVEL);
  auto f = k().follow_page(*t_->mm, kBase);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->phys, k().zero_page_phys());
  EXPECT_EQ(rss(), 1);
  k().check_consistency();
}

TEST_F(ThpTest, PartialMunmapSplitsThenDeferredSplitFreesTheHole) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  k().physmem().drain_all_pages(scratch_);
  const std::uint64_t free0 = free_pages();
  ASSERT_EQ(k().sys_munmap(t_, kBase + 8 * kPageSize, 4 * kPageSize, cost_), 0);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  EXPECT_EQ(leaf_level(kBase), PTE_LEVEL);
  EXPECT_EQ(leaf_level(kBase + 12 * kPageSize), PTE_LEVEL);
  EXPECT_EQ(rss(), 508);
  EXPECT_EQ(anon_thps(), 0);
  EXPECT_EQ(ev(THP_DEFERRED_SPLIT_PAGE), 1u);
  EXPECT_EQ(k().deferred_split_count(NodeId(0)), 1u);
  k().check_consistency();
  // The shrinker splits it: the four unmapped subpages go back to the buddy.
  KernelCost c;
  EXPECT_EQ(k().deferred_split_scan(NodeId(0), 16, c), 1u);
  EXPECT_EQ(ev(THP_SPLIT_PAGE), 1u);
  EXPECT_EQ(k().deferred_split_count(NodeId(0)), 0u);
  k().physmem().drain_all_pages(scratch_);
  EXPECT_EQ(free_pages(), free0 + 4 - 1);  // minus the PTE table the split took
  k().check_consistency();
  // Unmapping the rest frees the small pages one by one.
  ASSERT_EQ(k().sys_munmap(t_, kBase, kHuge, cost_), 0);
  EXPECT_EQ(rss(), 0);
  k().check_consistency();
}

TEST_F(ThpTest, UnmapOfAPteMappedThpFreesItWhole) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_mprotect(t_, kBase, kPageSize, PROT_READ, cost_), 0);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t_, kBase, kHuge, cost_), 0);
  EXPECT_EQ(k().deferred_split_count(NodeId(0)), 0u);
  EXPECT_EQ(rss(), 0);
  k().check_consistency();
}

TEST_F(ThpTest, MprotectWholePmdKeepsTheLeafPartialSplits) {
  map(2 * kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(t_, kBase + kHuge), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_mprotect(t_, kBase, kHuge, PROT_READ, cost_), 0);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_FALSE(pte_write(k().follow_page(*t_->mm, kBase)->leaf));
  EXPECT_EQ(ev(THP_SPLIT_PMD), 0u);
  k().check_consistency();
  ASSERT_EQ(k().sys_mprotect(t_, kBase + kHuge + 16 * kPageSize, kPageSize, PROT_NONE, cost_), 0);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  EXPECT_EQ(leaf_level(kBase + kHuge + 16 * kPageSize), 0);  // PROT_NONE: not present
  EXPECT_TRUE(pte_write(k().follow_page(*t_->mm, kBase + kHuge)->leaf));
  EXPECT_EQ(rss(), 1024);
  k().check_consistency();
  // A write to the read-only THP is SIGSEGV; mprotect back makes it writable at the next write.
  EXPECT_EQ(touch(t_, kBase, true), Kernel::FaultResult::Sigsegv);
  ASSERT_EQ(k().sys_mprotect(t_, kBase, kHuge, PROT_READ | PROT_WRITE, cost_), 0);
  ASSERT_EQ(touch(t_, kBase, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_TRUE(pte_write(k().follow_page(*t_->mm, kBase)->leaf));
  k().check_consistency();
}

TEST_F(ThpTest, MadvDontneedWholeFreesPartialSplits) {
  map(2 * kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(t_, kBase + kHuge), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_madvise(t_, kBase, kHuge, MADV_DONTNEED, cost_), 0);
  EXPECT_EQ(leaf_level(kBase), 0);
  EXPECT_EQ(rss(), 512);
  ASSERT_EQ(k().sys_madvise(t_, kBase + kHuge + kPageSize, 2 * kPageSize, MADV_DONTNEED, cost_), 0);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  EXPECT_EQ(rss(), 510);
  EXPECT_EQ(leaf_level(kBase + kHuge + kPageSize), 0);
  EXPECT_EQ(leaf_level(kBase + kHuge), PTE_LEVEL);
  EXPECT_EQ(k().deferred_split_count(NodeId(0)), 1u);
  k().check_consistency();
  // Touching the hole again gets a small page (the PMD is a table now).
  ASSERT_EQ(touch(t_, kBase + kHuge + kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(rss(), 511);
  k().check_consistency();
}

TEST_F(ThpTest, ForkSharesTheThpAndCopyOnWriteSplits) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  long cpid = k().sys_fork(t_, cost_);
  ASSERT_GT(cpid, 0);
  task_struct* child = k().find_task_by_pid(static_cast<int>(cpid));
  auto pf = k().follow_page(*t_->mm, kBase);
  auto cf = k().follow_page(*child->mm, kBase);
  ASSERT_TRUE(pf && cf);
  EXPECT_EQ(pf->phys, cf->phys);
  EXPECT_EQ(pf->level, PMD_LEVEL);
  EXPECT_FALSE(pte_write(pf->leaf));
  EXPECT_FALSE(pte_write(cf->leaf));
  EXPECT_EQ(entire_mapcount(pf->pg), 2);
  EXPECT_EQ(child->mm->rss_stat[MM_ANONPAGES], 512);
  k().check_consistency();
  // The child writes: its PMD splits and the one subpage is copied.
  ASSERT_EQ(touch(child, kBase + 7 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 1u);
  auto c7 = k().follow_page(*child->mm, kBase + 7 * kPageSize);
  EXPECT_NE(c7->phys, pf->phys + 7 * kPageSize);
  EXPECT_EQ(k().follow_page(*child->mm, kBase)->phys, pf->phys);  // still shared
  k().check_consistency();
  // The parent writes: still shared with the child's PTEs, so split and copy too.
  ASSERT_EQ(touch(t_, kBase, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 2u);
  EXPECT_NE(k().follow_page(*t_->mm, kBase)->phys, pf->phys);
  k().check_consistency();
  // The parent's subpage 7 is now its alone (the child copied it): reused in place.
  const std::uint64_t reuse0 = ev(PGREUSE);
  ASSERT_EQ(touch(t_, kBase + 7 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(PGREUSE), reuse0 + 1);
  EXPECT_EQ(k().follow_page(*t_->mm, kBase + 7 * kPageSize)->phys, pf->phys + 7 * kPageSize);
  k().check_consistency();
  k().exit_task(child);
  k().check_consistency();
}

TEST_F(ThpTest, ExclusiveThpWriteAfterForkedChildExitsIsReused) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  long cpid = k().sys_fork(t_, cost_);
  k().exit_task(k().find_task_by_pid(static_cast<int>(cpid)));
  ASSERT_EQ(touch(t_, kBase, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(THP_SPLIT_PMD), 0u);
  EXPECT_EQ(leaf_level(kBase), PMD_LEVEL);
  EXPECT_TRUE(pte_write(k().follow_page(*t_->mm, kBase)->leaf));
  k().check_consistency();
}

TEST_F(ThpTest, MovePagesMigratesAPmdMappedThpWhole) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  k().page_tokens().enable(k().physmem().max_pfn());
  const PhysAddr old_phys = k().follow_page(*t_->mm, kBase)->phys;
  k().page_tokens().set((old_phys >> kPageShift) + 5, 0xabc);
  VirtAddr pages[1] = {kBase + 5 * kPageSize};
  int nodes[1] = {1};
  int status[1] = {-1};
  ASSERT_EQ(k().sys_move_pages(t_, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(ev(THP_MIGRATION_SUCCESS), 1u);
  auto f = k().follow_page(*t_->mm, kBase);
  EXPECT_EQ(f->level, PMD_LEVEL);
  EXPECT_EQ(k().physmem().page_to_nid(f->pg).value(), 1);
  EXPECT_EQ(k().page_tokens().get((f->phys >> kPageShift) + 5), 0xabcu);
  EXPECT_EQ(k().physmem().node_page_state(NodeId(1), NR_ANON_THPS), 512);
  k().check_consistency();
}

TEST_F(ThpTest, MovePagesSplitsAPteMappedThp) {
  map(kHuge);
  ASSERT_EQ(touch(t_, kBase), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_mprotect(t_, kBase, kPageSize, PROT_READ, cost_), 0);
  VirtAddr pages[1] = {kBase + 5 * kPageSize};
  int nodes[1] = {1};
  int status[1] = {-1};
  ASSERT_EQ(k().sys_move_pages(t_, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(ev(THP_MIGRATION_SPLIT), 1u);
  EXPECT_EQ(ev(THP_SPLIT_PAGE), 1u);
  k().check_consistency();
}

}  // namespace
