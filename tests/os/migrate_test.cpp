// Page migration through migration entries (os/migrate.cpp): try_to_migrate
// leaves a writable, readable-exclusive or readable migration entry in every
// PTE of the page (keeping the accessed and dirty bits) with the old page
// locked, each mm flushed once; a fault on the page in the middle of the
// migration (stopped between unmap and copy through KernelTestAccess) sees the
// entry, waits for the migration to complete and then finds the new page;
// remove_migration_ptes gives every mapping back its bits on the new page; a
// munmap in the middle leaves the old page to be freed by the migration.
#include <gtest/gtest.h>

#include "os/swapops.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/kernel_test_access.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MigrateTest : public KernelTest {
 protected:
  pteval_t leaf(task_struct* t, VirtAddr a) { return k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL).value(); }
  page* page_at(task_struct* t, VirtAddr a) { return pm().phys_to_page(pte_phys(leaf(t, a))); }
  task_struct* fork(task_struct* t) {
    const long pid = k().sys_fork(t, cost_);
    return pid > 0 ? k().find_task_by_pid(static_cast<int>(pid)) : nullptr;
  }
};

TEST_F(MigrateTest, FaultDuringMigrationSeesTheEntryAndCompletesAfter) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, kPageSize));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  page* old_pg = page_at(t, a);
  const std::uint64_t old_pfn = pm().page_to_pfn(old_pg).value();
  const pteval_t before = leaf(t, a);
  ASSERT_TRUE(before & _PAGE_RW);
  ASSERT_TRUE(before & _PAGE_DIRTY);
  const std::uint64_t success = pm().sum_vm_event(PGMIGRATE_SUCCESS);

  int hooks = 0, waits = 0;
  KernelTestAccess::set_migration_waiter(k(), [&](task_struct* wt, VirtAddr wa) {
    EXPECT_EQ(wt, t);
    EXPECT_EQ(wa, a);  // vmf.address: the page
    ++waits;
    KernelTestAccess::complete_migration(k(), scratch_);
  });
  KernelTestAccess::set_migration_unmapped_hook(k(), [&](page* pg) {
    ++hooks;
    EXPECT_EQ(pg, old_pg);
    const pteval_t v = leaf(t, a);
    ASSERT_TRUE(is_swap_pte(v));
    const swp_entry_t e = pte_to_swp_entry(v);
    EXPECT_TRUE(is_writable_migration_entry(e));
    EXPECT_EQ(swp_offset_pfn(e), old_pfn);
    EXPECT_EQ(v & (_PAGE_ACCESSED | _PAGE_DIRTY), _PAGE_ACCESSED | _PAGE_DIRTY);  // kept in the entry
    EXPECT_TRUE(pg->test(PG_locked));
    EXPECT_EQ(pg->mapcount, 0);
    EXPECT_EQ(pg->_refcount, 1);  // only the migration's
    EXPECT_EQ(t->mm->get_mm_counter(MM_ANONPAGES), 1);  // the entry keeps the RSS
    EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success);
    k().check_consistency();  // entries point at the locked page
    // The racing access: faults on the entry, waits, then succeeds.
    EXPECT_EQ(touch(t, a + 8, /*write=*/true), Kernel::FaultResult::Handled);
    EXPECT_EQ(waits, 1);
    EXPECT_FALSE(KernelTestAccess::migration_in_flight(k()));
    EXPECT_EQ(pm().page_to_nid(page_at(t, a)).value(), 1);
    k().check_consistency();
  });
  const std::vector<int> r = k().migrate_pages({old_pg}, 1, t, cost_);
  KernelTestAccess::set_migration_unmapped_hook(k(), nullptr);
  KernelTestAccess::set_migration_waiter(k(), nullptr);
  EXPECT_EQ(r, std::vector<int>{1});
  EXPECT_EQ(hooks, 1);
  EXPECT_EQ(waits, 1);  // the outer migration found it completed: no second copy
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success + 1);
  page* new_pg = page_at(t, a);
  EXPECT_NE(new_pg, old_pg);
  EXPECT_EQ(leaf(t, a) & ~PTE_PFN_MASK, before & ~PTE_PFN_MASK);  // same bits on the new page
  EXPECT_EQ(new_pg->mapcount, 1);
  EXPECT_FALSE(old_pg->test(PG_locked));
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 1);
  EXPECT_EQ(pm().node_page_state(NodeId(0), NR_ANON_MAPPED), 0);
  k().check_consistency();
}

TEST_F(MigrateTest, EntryKindsFollowThePteAndTheMappings) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 2 * kPageSize));
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(p, a + kPageSize, /*write=*/false), Kernel::FaultResult::Handled);  // zero page
  ASSERT_EQ(touch(p, a + kPageSize), Kernel::FaultResult::Handled);
  // a + kPageSize: read-only and mapped once -> readable-exclusive.
  ASSERT_EQ(k().sys_mprotect(p, a + kPageSize, kPageSize, PROT_READ, cost_), 0);
  // a: shared copy-on-write with a child -> readable in both.
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(k().sys_munmap(c, a + kPageSize, kPageSize, cost_), 0);
  page* shared = page_at(p, a);
  page* alone = page_at(p, a + kPageSize);
  ASSERT_EQ(shared->mapcount, 2);
  ASSERT_EQ(alone->mapcount, 1);
  const pteval_t child_before = leaf(c, a);

  std::vector<unsigned> kinds;
  KernelTestAccess::set_migration_unmapped_hook(k(), [&](page* pg) {
    if (pg == shared) {
      kinds.push_back(swp_type(pte_to_swp_entry(leaf(p, a))));
      kinds.push_back(swp_type(pte_to_swp_entry(leaf(c, a))));
    } else {
      kinds.push_back(swp_type(pte_to_swp_entry(leaf(p, a + kPageSize))));
    }
    k().check_consistency();
  });
  platform_.calls.clear();
  EXPECT_EQ(k().migrate_pages({shared, alone}, 1, p, cost_), (std::vector<int>{1, 1}));
  KernelTestAccess::set_migration_unmapped_hook(k(), nullptr);
  EXPECT_EQ(kinds, (std::vector<unsigned>{SWP_MIGRATION_READ, SWP_MIGRATION_READ, SWP_MIGRATION_READ_EXCLUSIVE}));
  // migrate_pages_batch: both pages unmapped, then one flush per mm for the batch.
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 0u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushMm), 2u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 2u);
  EXPECT_EQ(page_at(p, a), page_at(c, a));
  EXPECT_EQ(pm().page_to_nid(page_at(c, a)).value(), 1);
  EXPECT_EQ(leaf(c, a) & ~PTE_PFN_MASK, child_before & ~PTE_PFN_MASK);
  EXPECT_FALSE(leaf(p, a + kPageSize) & _PAGE_RW);
  EXPECT_EQ(page_at(c, a)->mapcount, 2);
  k().check_consistency();
  // Copy-on-write still breaks the shared page; the read-only page stays read-only.
  ASSERT_EQ(touch(c, a), Kernel::FaultResult::Handled);
  EXPECT_NE(page_at(c, a), page_at(p, a));
  EXPECT_EQ(touch(p, a + kPageSize), Kernel::FaultResult::Sigsegv);
  k().check_consistency();
}

TEST_F(MigrateTest, MunmapDuringMigrationDropsTheEntryAndTheNewPage) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, kPageSize));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  page* old_pg = page_at(t, a);
  KernelTestAccess::set_migration_unmapped_hook(k(), [&](page*) {
    ASSERT_EQ(k().sys_munmap(t, a, kPageSize, scratch_), 0);
    EXPECT_EQ(t->mm->get_mm_counter(MM_ANONPAGES), 0);
  });
  EXPECT_EQ(k().migrate_pages({old_pg}, 1, t, cost_), std::vector<int>{1});
  KernelTestAccess::set_migration_unmapped_hook(k(), nullptr);
  EXPECT_FALSE(old_pg->test(PG_locked));
  EXPECT_TRUE(PageBuddy(old_pg) || old_pg->test(PG_pcp));
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 0);
  k().check_consistency();
}

}  // namespace
