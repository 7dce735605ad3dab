// Fault dispatch by entry kind (os/memory.cpp handle_pte_fault): a swap entry
// of no swap area faults SIGBUS; one of a real area is kept by mprotect and
// dropped by munmap (MM_SWAPENTS back to 0, the slot freed);
// a migration entry makes the fault wait for the migration and the access
// succeed once the entry is restored; mprotect keeps swap entries and turns a
// writable migration entry into a readable one; a PROT_NONE entry in an
// accessible VMA (a NUMA hint) gets its VMA's protection back. The checker runs
// with those entries in place.
#include <gtest/gtest.h>

#include "os/swapops.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/kernel_test_access.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class FaultDispatchTest : public KernelTest {
 protected:
  PteRef pte_of(task_struct* t, VirtAddr a) {
    PteRef r = k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL);
    EXPECT_EQ(r.level, PTE_LEVEL);
    return r;
  }
  // Put a swap entry where `a` (whose PTE table exists) has none, as swap-out would.
  void plant_swap_entry(task_struct* t, VirtAddr a, swp_entry_t e) {
    PteRef r = pte_of(t, a);
    ASSERT_EQ(r.value(), 0u);
    k().pgtables().set_entry(t->cpu, r, swp_entry_to_pte(e), scratch_);
    t->mm->add_mm_counter(MM_SWAPENTS, 1);
  }
  // try_to_migrate_one for the anonymous page at `a`: lock the page, drop its
  // mapping (mapcount, NR_ANON_MAPPED; RSS stays) and leave a migration entry.
  page* start_migration(task_struct* t, VirtAddr a, pteval_t* saved) {
    auto fr = k().follow_page(*t->mm, a);
    EXPECT_TRUE(fr);
    page* pg = fr->pg;
    PteRef r = pte_of(t, a);
    *saved = r.value();
    const std::uint64_t pfn = pm().page_to_pfn(pg).value();
    pg->set(PG_locked);
    --pg->mapcount;
    pm().mod_node_page_state(pm().page_to_nid(pg), NR_ANON_MAPPED, -1);
    const swp_entry_t e = (*saved & _PAGE_RW) ? make_writable_migration_entry(pfn) : make_readable_migration_entry(pfn);
    k().pgtables().set_entry(t->cpu, r, swp_entry_to_pte(e), scratch_);
    return pg;
  }
  // remove_migration_pte + unlock: the page is back where it was.
  void finish_migration(task_struct* t, VirtAddr a, page* pg, pteval_t saved) {
    k().pgtables().set_entry(t->cpu, pte_of(t, a), saved, scratch_);
    ++pg->mapcount;
    pm().mod_node_page_state(pm().page_to_nid(pg), NR_ANON_MAPPED, 1);
    pg->clear(PG_locked);
  }
};

TEST_F(FaultDispatchTest, SwapEntryOfNoAreaFaultsSigbusAndMunmapDropsIt) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 4 * kPageSize);
  ASSERT_GT(a, 0);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);  // builds the PTE table
  plant_swap_entry(t, a + kPageSize, swp_entry(2, 12345));  // no area 2: a lost page (the checker rejects it)
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 1);

  const auto flt = t->min_flt;
  const auto pgfault = pm().sum_vm_event(PGFAULT);
  EXPECT_EQ(touch(t, a + kPageSize, /*write=*/false), Kernel::FaultResult::Sigbus);
  KernelCost c;
  EXPECT_EQ(k().handle_mm_fault(t, a + kPageSize, FAULT_FLAG_WRITE | FAULT_FLAG_USER, c), Kernel::FaultResult::Sigbus);
  EXPECT_EQ(t->min_flt, flt);  // an error is not accounted as a fault on the task
  EXPECT_EQ(t->maj_flt, 0u);
  EXPECT_EQ(t->nr_sigsegv, 0u);
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), pgfault + 2);  // but counted as PGFAULT, as Linux does
  EXPECT_EQ(pte_of(t, a + kPageSize).value(), swp_entry_to_pte(swp_entry(2, 12345)));

  // mprotect leaves the swap slot alone, also when the VMA becomes PROT_NONE.
  ASSERT_EQ(k().sys_mprotect(t, a, 4 * kPageSize, PROT_READ, cost_), 0);
  EXPECT_EQ(pte_of(t, a + kPageSize).value(), swp_entry_to_pte(swp_entry(2, 12345)));
  ASSERT_EQ(k().sys_mprotect(t, a, 4 * kPageSize, PROT_NONE, cost_), 0);
  EXPECT_EQ(pte_of(t, a + kPageSize).value(), swp_entry_to_pte(swp_entry(2, 12345)));

  const std::size_t tables_before = k().pgtables().nr_tables();
  ASSERT_EQ(k().sys_munmap(t, a, 4 * kPageSize, cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  EXPECT_LT(k().pgtables().nr_tables(), tables_before);  // the PTE table went with them
  k().check_consistency();
}

TEST_F(FaultDispatchTest, SwapEntryOnlyTableIsZappedAtExit) {
  task_struct* t = spawn(1);
  const long a = mmap_anon(t, 2 * kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  SwapAreaParams area;
  area.name = "/dev/nvme0n1p2";
  area.size_bytes = 1 << 20;
  ASSERT_EQ(k().sys_swapon(area, cost_), 0);
  const auto e = k().swap().alloc_swap_entry(t->cpu);
  ASSERT_TRUE(e);
  plant_swap_entry(t, a + kPageSize, *e);
  k().check_consistency();  // a swap entry counts in MM_SWAPENTS and in its slot's swap_map
  ASSERT_EQ(k().sys_mprotect(t, a, 2 * kPageSize, PROT_NONE, cost_), 0);  // mprotect leaves the slot alone
  EXPECT_EQ(pte_of(t, a + kPageSize).value(), swp_entry_to_pte(*e));
  ASSERT_EQ(k().sys_munmap(t, a, kPageSize, cost_), 0);  // the table now holds only the swap entry
  k().check_consistency();
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 1);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages() - 1);
  ASSERT_EQ(k().sys_munmap(t, a + kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 0);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());  // free_swap_and_cache freed the slot
  EXPECT_EQ(k().pgtables().nr_tables(), 1u);  // only the PGD is left
  k().check_consistency();
}

TEST_F(FaultDispatchTest, MigrationEntryWaitsForTheMigrationThenTheAccessSucceeds) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 2 * kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  const PhysAddr phys = k().follow_page(*t->mm, a)->phys;
  pteval_t saved = 0;
  page* pg = start_migration(t, a, &saved);
  k().check_consistency();  // a migration entry points at a locked page and keeps its RSS

  int waits = 0;
  KernelTestAccess::set_migration_waiter(k(), [&](task_struct* wt, VirtAddr wa) {
    EXPECT_EQ(wt, t);
    EXPECT_EQ(wa, static_cast<VirtAddr>(a));
    ++waits;
    finish_migration(t, a, pg, saved);
  });
  const auto flt = t->min_flt;
  const auto pgfault = pm().sum_vm_event(PGFAULT);
  EXPECT_EQ(touch(t, a + 100, /*write=*/true), Kernel::FaultResult::Handled);
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(t->min_flt, flt + 1);  // one fault: the access made again found the page
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), pgfault + 1);
  auto fr = k().follow_page(*t->mm, a);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->phys, phys);
  EXPECT_TRUE(fr->leaf & _PAGE_DIRTY);
  EXPECT_FALSE(pg->test(PG_locked));
  k().check_consistency();
}

TEST_F(FaultDispatchTest, MprotectTurnsAWritableMigrationEntryIntoAReadableOne) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  pteval_t saved = 0;
  page* pg = start_migration(t, a, &saved);
  ASSERT_TRUE(is_writable_migration_entry(pte_to_swp_entry(pte_of(t, a).value())));
  ASSERT_EQ(k().sys_mprotect(t, a, kPageSize, PROT_READ, cost_), 0);
  const swp_entry_t e = pte_to_swp_entry(pte_of(t, a).value());
  EXPECT_TRUE(is_readable_exclusive_migration_entry(e));  // anonymous page: exclusive
  EXPECT_EQ(swp_offset_pfn(e), pm().page_to_pfn(pg).value());
  k().check_consistency();
  finish_migration(t, a, pg, saved & ~_PAGE_RW);
  k().check_consistency();
}

TEST_F(FaultDispatchTest, MunmapOfAMigrationEntryDropsItsRssAndLeavesThePageToTheMigration) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  pteval_t saved = 0;
  page* pg = start_migration(t, a, &saved);
  ASSERT_EQ(t->mm->rss_stat[MM_ANONPAGES], 1);
  const auto free_before = free_pages();
  ASSERT_EQ(k().sys_munmap(t, a, kPageSize, cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  EXPECT_TRUE(pg->test(PG_locked));  // still the migration's
  // The migration finds its PTE gone and drops the page.
  pg->clear(PG_locked);
  KernelTestAccess::put_user_page(k(), CpuId(0), pg, scratch_);
  pm().drain_all_pages(scratch_);
  EXPECT_GT(free_pages(), free_before);
  k().check_consistency();
}

TEST_F(FaultDispatchTest, ProtNoneEntryInAnAccessibleVmaGetsItsProtectionBack) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  PteRef r = pte_of(t, a);
  const pteval_t present = r.value();
  // change_prot_numa would leave this: the frame kept, not present, _PAGE_PROTNONE.
  k().pgtables().set_entry(t->cpu, r, (present & ~(_PAGE_PRESENT | _PAGE_RW | _PAGE_USER)) | _PAGE_PROTNONE, scratch_);
  const auto flt = t->min_flt;
  EXPECT_EQ(touch(t, a, /*write=*/false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->min_flt, flt + 1);
  const pteval_t now = pte_of(t, a).value();
  EXPECT_TRUE(pte_present(now));
  EXPECT_TRUE(now & _PAGE_RW);
  EXPECT_TRUE(now & _PAGE_USER);
  EXPECT_EQ(pte_phys(now), pte_phys(present));
  k().check_consistency();
}

TEST_F(FaultDispatchTest, HugetlbSigbusIsNotAccountedAsAFault) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 10 << 20, PROT_READ | PROT_WRITE, MAP_HUGETLB);
  ASSERT_GT(a, 0);
  unsigned long node1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a, 10 << 20, MPOL_BIND, &node1, 3, 0, cost_), 0);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + (i << 21)), Kernel::FaultResult::Handled);
  const auto pgfault = pm().sum_vm_event(PGFAULT);
  EXPECT_EQ(touch(t, a + (4 << 21)), Kernel::FaultResult::Sigbus);  // node 1's pool is empty
  EXPECT_EQ(t->min_flt, 4u);
  EXPECT_EQ(t->maj_flt, 0u);
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), pgfault + 1);
  k().check_consistency();
}

}  // namespace
