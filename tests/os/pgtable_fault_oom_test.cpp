// A first-touch fault whose page-table allocation fails, at each level the
// fault's walk allocates (the PUD, PMD and PTE tables): the fault
// returns VM_FAULT_OOM with nothing half-done (the tables allocated above the
// failing one stay, empty and linked, as Linux's __pud_alloc/__pmd_alloc/
// __pte_alloc leave them; no PTE is set, no frame leaks), and the retried fault
// ends with the same tables, NR_PAGETABLE and pgtables_bytes as a fault that
// never failed. Failures are injected with fail_page_alloc (interval k, one
// failure: the k-th page allocation after configure fails).
#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

// A 4 KiB anonymous VMA in an untouched PGD slot: its first touch allocates
// the PUD, PMD and PTE tables and then the data page, one page allocation each
// (a 4 KiB VMA is never THP-eligible).
constexpr VirtAddr kFresh = 0x7f0000000000ull;

struct Counts {
  int tables = 0;               // for_each_table, the PGD included
  std::size_t nr_tables = 0;    // PageTables' own count
  long nr_pagetable = 0;        // NR_PAGETABLE of node 0
  std::uint64_t pgtables_bytes = 0;
  std::uint64_t anon_rss = 0;
};

class PgtableFaultOomTest : public KernelTest {
 protected:
  Counts counts(task_struct* t) {
    Counts c;
    k().pgtables().for_each_table(t->mm->pgd, [&](PhysAddr, int) { ++c.tables; });
    c.nr_tables = k().pgtables().nr_tables();
    c.nr_pagetable = pm().node_page_state(NodeId(0), NR_PAGETABLE);
    c.pgtables_bytes = t->mm->pgtables_bytes;
    c.anon_rss = t->mm->rss_stat[MM_ANONPAGES];
    return c;
  }
  task_struct* task_with_fresh_vma() {
    task_struct* t = spawn(0);
    EXPECT_EQ(mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, kFresh), static_cast<long>(kFresh));
    return t;
  }
  // `after` holds `tables` more page-table pages than `before` (by every count
  // that keeps them) and `pages` more anonymous pages.
  static void expect_added(const Counts& before, const Counts& after, int tables, std::uint64_t pages) {
    EXPECT_EQ(after.tables - before.tables, tables);
    EXPECT_EQ(after.nr_tables - before.nr_tables, static_cast<std::size_t>(tables));
    EXPECT_EQ(after.nr_pagetable - before.nr_pagetable, tables);
    EXPECT_EQ(after.pgtables_bytes - before.pgtables_bytes, static_cast<std::uint64_t>(tables) * kPageSize);
    EXPECT_EQ(after.anon_rss - before.anon_rss, pages);
  }
  void fail_nth_allocation(unsigned long n) {
    FailPageAllocParams p;
    p.probability = 100;
    p.interval = n;
    p.times = 1;
    pm().fail_page_alloc().configure(p);
  }
};

// The reference: the same first touch with no failure.
TEST_F(PgtableFaultOomTest, AFirstTouchInAFreshPgdSlotAllocatesThreeTablesAndOnePage) {
  task_struct* t = task_with_fresh_vma();
  const Counts before = counts(t);
  ASSERT_EQ(touch(t, kFresh), Kernel::FaultResult::Handled);
  expect_added(before, counts(t), 3, 1);
}

// Allocation k of the fault fails: 1 the PUD table, 2 the PMD table, 3 the PTE
// table. The tables above it stay; the retry allocates only what is missing,
// and ends where an unfailed fault ends. (The data page's failure is
// do_anonymous_page's, tested with the OOM paths: kernel_entry_test.cpp.)
TEST_F(PgtableFaultOomTest, EachLevelsAllocationFailureIsVmFaultOomAndTheRetryEndsLikeAnUnfailedFault) {
  for (unsigned long failing = 1; failing <= 3; ++failing) {
    SCOPED_TRACE("failing allocation " + std::to_string(failing));
    task_struct* t = task_with_fresh_vma();
    const Counts before = counts(t);
    k().physmem().drain_all_pages(cost_);
    const std::uint64_t free_before = free_pages();
    fail_nth_allocation(failing);
    const std::uint64_t failed0 = pm().fail_page_alloc().nr_failed();
    EXPECT_EQ(touch(t, kFresh), Kernel::FaultResult::Oom);
    EXPECT_EQ(pm().fail_page_alloc().nr_failed(), failed0 + 1);
    // Nothing half-done: the tables allocated before the failure are linked and
    // counted, nothing is mapped, and no frame is lost.
    const int kept = static_cast<int>(failing - 1);
    expect_added(before, counts(t), kept, 0);
    EXPECT_FALSE(k().follow_page(*t->mm, kFresh).has_value());
    k().physmem().drain_all_pages(cost_);
    EXPECT_EQ(free_before - free_pages(), static_cast<std::uint64_t>(kept));
    k().check_consistency();
    // The retry (no more failures: times = 1) completes the walk.
    ASSERT_EQ(touch(t, kFresh), Kernel::FaultResult::Handled);
    expect_added(before, counts(t), 3, 1);
    EXPECT_TRUE(k().follow_page(*t->mm, kFresh).has_value());
    k().check_consistency();
  }
}

}  // namespace
