// move_pages(2) on pages whose PTE is a PROT_NONE NUMA-hinting entry (Linux 6.1:
// add_page_for_migration and do_pages_stat call follow_page without FOLL_NUMA,
// so the page is found and moved, then mapped present as remove_migration_pte
// does), and shmem
// pages mapped by two processes: -EACCES under MPOL_MF_MOVE (page_mapcount > 1),
// moved with every mapping under MPOL_MF_MOVE_ALL.
#include <gtest/gtest.h>

#include <cerrno>

#include "os/mmap.h"
#include "os/numa_balancing.h"
#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {
namespace {

class MigrateProtnoneTest : public KernelTest {
 protected:
  pteval_t pte_of(task_struct* t, VirtAddr a) { return k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL).value(); }
};

TEST_F(MigrateProtnoneTest, AHintingEntryIsFoundQueriedAndMoved) {
  params_.numab.mode = NUMA_BALANCING_NORMAL;  // change_prot_numa makes hinting entries
  kernel_.reset();
  platform_.drop_timers();
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  task_struct* t = spawn(0);  // runs on node 0, its pages on node 1 (hinting entries are
  unsigned long node1 = 1ul << 1;  // made only for pages away from the task's node)
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node1, 3, cost_), 0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_DEFAULT, nullptr, 0, cost_), 0);
  ASSERT_EQ(k().change_prot_numa(t, *find_vma(*t->mm, a), a, a + 2 * kPageSize, cost_), 2u);
  ASSERT_TRUE(pte_protnone(pte_of(t, a)));
  EXPECT_FALSE(k().follow_page(*t->mm, a).has_value());  // the hardware view: not present
  EXPECT_EQ(nid_of(t, a), -1);                            // FOLL_NUMA (the default): not followed
  EXPECT_EQ(nid_of(t, a, 0), 1);                          // without FOLL_NUMA: its page
  EXPECT_EQ(k().follow_page(*t->mm, a, 0)->phys & (kPageSize - 1), 0u);
  // The status query (nodes == NULL) names the node of a hinting page.
  VirtAddr pages[3] = {a, a + kPageSize, a + 2 * kPageSize};
  int status[3] = {-99, -99, -99};
  ASSERT_EQ(k().sys_move_pages(t, 0, 3, pages, nullptr, status, 0, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(status[1], 1);
  EXPECT_EQ(status[2], 1);
  // Moving: hinting and present pages alike go to node 0.
  const std::uint64_t moved0 = pm().sum_vm_event(PGMIGRATE_SUCCESS);
  int nodes[3] = {0, 0, 0};
  ASSERT_EQ(k().sys_move_pages(t, 0, 3, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 0);
  EXPECT_EQ(status[1], 0);
  EXPECT_EQ(status[2], 0);
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), moved0 + 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(nid_of(t, pages[i], 0), 0) << i;
  EXPECT_EQ(nid_of(t, a + 3 * kPageSize, 0), 1) << "not named: stays";
  // remove_migration_pte builds the new entry from vm_page_prot: present again, as in Linux.
  EXPECT_FALSE(pte_protnone(pte_of(t, a)));
  EXPECT_TRUE(k().follow_page(*t->mm, a).has_value());
  ASSERT_EQ(k().sys_move_pages(t, 0, 3, pages, nullptr, status, 0, cost_), 0);
  EXPECT_EQ(status[0], 0);
  EXPECT_EQ(status[1], 0);
  k().check_consistency();
  EXPECT_EQ(touch(t, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(nid_of(t, a, 0), 0);
  k().check_consistency();
}

TEST_F(MigrateProtnoneTest, ASharedShmemPageMovesOnlyUnderMoveAll) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(
      k().sys_mmap(t, 0, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  const long pid = k().sys_fork(t, cost_);
  ASSERT_GT(pid, 0);
  task_struct* child = k().find_task_by_pid(static_cast<int>(pid));
  ASSERT_EQ(touch(child, a, false), Kernel::FaultResult::Handled);  // the child maps the same page
  ASSERT_EQ(k().follow_page(*t->mm, a)->pg, k().follow_page(*child->mm, a)->pg);
  ASSERT_EQ(k().follow_page(*t->mm, a)->pg->mapcount, 2);
  VirtAddr pages[1] = {a};
  int nodes[1] = {1};
  int status[1] = {-99};
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], -EACCES);  // page_mapcount > 1 without MPOL_MF_MOVE_ALL
  EXPECT_EQ(nid_of(t, a, 0), 0);
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, pages, nodes, status, MPOL_MF_MOVE_ALL, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(nid_of(t, a, 0), 1);
  EXPECT_EQ(nid_of(child, a, 0), 1);
  EXPECT_EQ(k().follow_page(*t->mm, a)->pg, k().follow_page(*child->mm, a)->pg) << "both map the new page";
  EXPECT_EQ(k().follow_page(*t->mm, a)->pg->mapcount, 2);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
