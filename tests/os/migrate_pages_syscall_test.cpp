// migrate_pages(2) (Kernel::sys_migrate_pages, do_migrate_pages): every page of
// a process on the old nodes moves to the node of the same rank in the new
// nodes; pages elsewhere stay; the man page's errnos (EPERM not modelled).
#include <gtest/gtest.h>

#include <cerrno>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

using MigratePagesSyscallTest = KernelTest;

TEST_F(MigratePagesSyscallTest, MovesOnlyThePagesOnTheOldNodes) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 6 * kPageSize));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_TRUE(k().migrate_task(t, CpuId(2)));  // node 1: the next first touches land there
  for (int i = 4; i < 6; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(nid_of(t, a), 0);
  ASSERT_EQ(nid_of(t, a + 5 * kPageSize), 1);
  const std::uint64_t success = pm().sum_vm_event(PGMIGRATE_SUCCESS);
  // old {1} -> new {0}: the two pages of node 1 come back to node 0.
  unsigned long from = 1ul << 1, to = 1ul << 0;
  EXPECT_EQ(k().sys_migrate_pages(t, 0, 3, &from, &to, cost_), 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(nid_of(t, a + i * kPageSize), 0) << i;
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success + 2);
  k().check_consistency();
  // old {0} -> new {1} by pid from another process: all six move.
  task_struct* other = spawn(0);
  from = 1ul << 0;
  to = 1ul << 1;
  EXPECT_EQ(k().sys_migrate_pages(other, t->pid, 3, &from, &to, cost_), 0);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(nid_of(t, a + i * kPageSize), 1) << i;
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success + 8);
  // Old nodes holding none of its pages: nothing to do.
  EXPECT_EQ(k().sys_migrate_pages(t, 0, 3, &from, &to, cost_), 0);
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), success + 8);
  k().check_consistency();
}

TEST_F(MigratePagesSyscallTest, ManPageErrnos) {
  task_struct* t = spawn(0);
  unsigned long from = 1ul << 0, to = 1ul << 1;
  EXPECT_EQ(k().sys_migrate_pages(t, 99999, 3, &from, &to, cost_), -ESRCH);  // no such process
  unsigned long far = 1ul << 5;  // a node the machine does not have
  EXPECT_EQ(k().sys_migrate_pages(t, 0, 8, &from, &far, cost_), -EINVAL);
  unsigned long big[2] = {1ul << 0, 1ul};  // bit 64: beyond MAX_NUMNODES
  EXPECT_EQ(k().sys_migrate_pages(t, 0, 66, big, &to, cost_), -EINVAL);
  EXPECT_EQ(k().sys_migrate_pages(t, 0, kPageSize * 8 + 2, &from, &to, cost_), -EINVAL);  // maxnode too large
}

}  // namespace
