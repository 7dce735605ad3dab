// The NUMA system calls as a program sees them: set_mempolicy then
// get_mempolicy round trips (mode flags, nodemask copy-out, MPOL_F_NODE for
// interleave and for an address, MPOL_F_MEMS_ALLOWED), mbind splitting VMAs and
// moving misplaced pages with MPOL_MF_MOVE, and move_pages querying and moving.
#include <gtest/gtest.h>

#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MempolicySyscallTest : public KernelTest {};

int node_of(Kernel& k, task_struct* t, VirtAddr a) {
  return k.topology().phys_node(k.follow_page(*t->mm, a)->phys).value();
}

TEST_F(MempolicySyscallTest, SetThenGetRoundTrips) {
  task_struct* t = spawn(0);
  KernelCost c;
  int mode = -1;
  unsigned long mask = ~0ul;
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 64, 0, 0, c), 0);
  EXPECT_EQ(mode, MPOL_DEFAULT);
  EXPECT_EQ(mask, 0u);
  unsigned long n1 = 2;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_PREFERRED | MPOL_F_STATIC_NODES, &n1, 3, c), 0);
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 64, 0, 0, c), 0);
  EXPECT_EQ(mode, MPOL_PREFERRED | MPOL_F_STATIC_NODES);
  EXPECT_EQ(mask, 2u);
  // MPOL_PREFERRED with no nodes is local allocation.
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_PREFERRED, nullptr, 0, c), 0);
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 64, 0, 0, c), 0);
  EXPECT_EQ(mode, MPOL_LOCAL);
  // Back to default.
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_DEFAULT, nullptr, 0, c), 0);
  EXPECT_EQ(t->mempolicy, nullptr);
  // Allowed nodes: both.
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 64, 0, MPOL_F_MEMS_ALLOWED, c), 0);
  EXPECT_EQ(mask, 3u);
  // The copy-out is cut to maxnode-1 bits: maxnode 2 reports node 0 only.
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 2, 0, MPOL_F_MEMS_ALLOWED, c), 0);
  EXPECT_EQ(mask, 1u);
}

TEST_F(MempolicySyscallTest, InterleaveNextNodeAndNodeOfAddress) {
  task_struct* t = spawn(0);
  KernelCost c;
  unsigned long both = 3;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_INTERLEAVE, &both, 3, c), 0);
  int next = -1;
  ASSERT_EQ(k().sys_get_mempolicy(t, &next, nullptr, 0, 0, MPOL_F_NODE, c), 0);
  EXPECT_EQ(next, 0);
  // Faults under the task's interleave policy alternate by page offset.
  long a = mmap_anon(t, 4 * kPageSize);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  int nodes[4];
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(k().sys_get_mempolicy(t, &nodes[i], nullptr, 0, a + i * kPageSize, MPOL_F_NODE | MPOL_F_ADDR, c), 0);
    EXPECT_EQ(nodes[i], node_of(k(), t, a + i * kPageSize));
  }
  EXPECT_NE(nodes[0], nodes[1]);
  EXPECT_EQ(nodes[0], nodes[2]);
  // MPOL_F_ADDR on a VMA without policy reports MPOL_DEFAULT (not the task's).
  int mode = -1;
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, nullptr, 0, a, MPOL_F_ADDR, c), 0);
  EXPECT_EQ(mode, MPOL_DEFAULT);
  // MPOL_F_NODE|MPOL_F_ADDR on a page never touched faults it in (zero page, node 0).
  long b = mmap_anon(t, kPageSize);
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, nullptr, 0, b, MPOL_F_NODE | MPOL_F_ADDR, c), 0);
  EXPECT_EQ(mode, 0);
  EXPECT_EQ(k().follow_page(*t->mm, b)->phys, k().zero_page_phys());
  k().check_consistency();
}

TEST_F(MempolicySyscallTest, MbindSplitsVmasAndReportsThePolicyPerAddress) {
  task_struct* t = spawn(0);
  KernelCost c;
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, a), long(a));
  unsigned long n1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a + kPageSize, kPageSize, MPOL_BIND, &n1, 3, 0, c), 0);
  EXPECT_EQ(t->mm->map_count, 3);  // same flags, different policy: no merge
  int mode = -1;
  unsigned long mask = 0;
  ASSERT_EQ(k().sys_get_mempolicy(t, &mode, &mask, 64, a + kPageSize, MPOL_F_ADDR, c), 0);
  EXPECT_EQ(mode, MPOL_BIND);
  EXPECT_EQ(mask, 2u);
  ASSERT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(node_of(k(), t, a + kPageSize), 1);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  EXPECT_EQ(node_of(k(), t, a), 0);
  // The same policy on the neighbour merges the VMAs again; MPOL_DEFAULT removes it.
  ASSERT_EQ(k().sys_mbind(t, a + 2 * kPageSize, kPageSize, MPOL_BIND, &n1, 3, 0, c), 0);
  EXPECT_EQ(t->mm->map_count, 3);
  ASSERT_EQ(k().sys_mbind(t, a, 4 * kPageSize, MPOL_DEFAULT, nullptr, 0, 0, c), 0);
  // [a, a+1p) and [a+1p, a+3p) got different anon_vmas at their first faults
  // (different policies then): like Linux, they no longer merge; the rest does.
  EXPECT_EQ(t->mm->map_count, 2);
  EXPECT_NE(vma_lookup(*t->mm, a)->anon_vma, vma_lookup(*t->mm, a + kPageSize)->anon_vma);
  EXPECT_EQ(vma_lookup(*t->mm, a + kPageSize)->vm_end, a + 4 * kPageSize);
  k().check_consistency();
}

TEST_F(MempolicySyscallTest, MbindMoveMigratesMisplacedPages) {
  task_struct* t = spawn(0);
  KernelCost c;
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), long(a));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(node_of(k(), t, a + i * kPageSize), 0);
  platform_.calls.clear();
  unsigned long n1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a, 4 * kPageSize, MPOL_BIND, &n1, 3, MPOL_MF_MOVE | MPOL_MF_STRICT, c), 0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(node_of(k(), t, a + i * kPageSize), 1);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 4u);
  EXPECT_EQ(pm().sum_vm_event(PGMIGRATE_SUCCESS), 4u);
  EXPECT_EQ(pm().node_page_state(NodeId(1), NR_ANON_MAPPED), 4);
  EXPECT_EQ(pm().node_page_state(NodeId(0), NR_ANON_MAPPED), 0);
  k().check_consistency();
}

TEST_F(MempolicySyscallTest, MovePagesQueriesAndMoves) {
  task_struct* t = spawn(0);
  KernelCost c;
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, a), long(a));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(t, a + kPageSize, false), Kernel::FaultResult::Handled);  // zero page
  VirtAddr pages[4] = {a, a + kPageSize, a + 2 * kPageSize, 0x30000000};
  int status[4] = {9, 9, 9, 9};
  ASSERT_EQ(k().sys_move_pages(t, 0, 4, pages, nullptr, status, 0, c), 0);
  EXPECT_EQ(status[0], 0);
  EXPECT_EQ(status[1], -EFAULT);  // the zero page
  EXPECT_EQ(status[2], -ENOENT);  // not faulted in
  EXPECT_EQ(status[3], -EFAULT);  // no VMA
  // Another task may query by pid.
  task_struct* other = spawn(2);
  int s = 9;
  ASSERT_EQ(k().sys_move_pages(other, t->pid, 1, pages, nullptr, &s, 0, c), 0);
  EXPECT_EQ(s, 0);
  // Move: the page goes to node 1, the others report why not.
  int nodes[4] = {1, 1, 1, 1};
  ASSERT_EQ(k().sys_move_pages(t, 0, 4, pages, nodes, status, MPOL_MF_MOVE, c), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(status[1], -EFAULT);
  EXPECT_EQ(status[2], -ENOENT);
  EXPECT_EQ(status[3], -EFAULT);
  EXPECT_EQ(node_of(k(), t, a), 1);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 1);
  // Already there: status is the node, nothing copied.
  platform_.calls.clear();
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, pages, nodes, status, MPOL_MF_MOVE, c), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 0u);
  k().check_consistency();
}

TEST_F(MempolicySyscallTest, MovePagesMovesHugetlbPagesBetweenPools) {
  task_struct* t = spawn(0);
  KernelCost c;
  long a = k().sys_mmap(t, 0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
                        -1, 0, c);
  ASSERT_GT(a, 0);
  VirtAddr p = a + 4096;
  int node = 1, status = 9;
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, &p, &node, &status, MPOL_MF_MOVE, c), 0);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(node_of(k(), t, a), 1);
  EXPECT_EQ(k().hugetlb().free_huge_pages_node(0), 4u);
  EXPECT_EQ(k().hugetlb().free_huge_pages_node(1), 3u);
  k().check_consistency();
}

}  // namespace
