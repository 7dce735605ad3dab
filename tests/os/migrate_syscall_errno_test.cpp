// The errno cases of move_pages(2), migrate_pages(2) and mbind(2) with
// MPOL_MF_MOVE from their man pages, each leaving everything unchanged (the
// fixture's snapshot: maps, RSS, free pages, page tables, every leaf), and
// move_pages' per-page status: the node, -EFAULT (no mapping, the zero page),
// -ENOENT (not present), -EACCES (mapped twice without MPOL_MF_MOVE_ALL),
// -EBUSY (named twice in one batch); an mlocked page moves with its mlock; a
// batch of pages costs one TLB flush per mm.
#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {
namespace {

using MigrateSyscallErrnoTest = KernelTest;

TEST_F(MigrateSyscallErrnoTest, MovePagesErrnosChangeNothing) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  const std::string before = snapshot(t);
  VirtAddr pages[2] = {a, a + kPageSize};
  int status[2] = {7, 7};
  auto call = [&](int n0, int n1, int flags, int pid = 0, VirtAddr* p = nullptr, int* st = nullptr) {
    int nodes[2] = {n0, n1};
    return k().sys_move_pages(t, pid, 2, p ? p : pages, nodes, st ? st : status, flags, cost_);
  };
  EXPECT_EQ(call(1, 1, MPOL_MF_STRICT), -EINVAL);      // flags other than MOVE / MOVE_ALL
  EXPECT_EQ(call(1, 1, MPOL_MF_MOVE, 99999), -ESRCH);  // no such process
  EXPECT_EQ(call(1, -1, MPOL_MF_MOVE), -EINVAL);       // a node below 0
  EXPECT_EQ(call(1, MAX_NUMNODES, MPOL_MF_MOVE), -EINVAL);
  EXPECT_EQ(call(1, 5, MPOL_MF_MOVE), -ENODEV);  // a node the machine does not have
  int nodes[2] = {1, 1};
  EXPECT_EQ(k().sys_move_pages(t, 0, 2, nullptr, nodes, status, MPOL_MF_MOVE, cost_), -EFAULT);
  EXPECT_EQ(k().sys_move_pages(t, 0, 2, pages, nodes, nullptr, MPOL_MF_MOVE, cost_), -EFAULT);
  EXPECT_EQ(status[0], 7);  // not written on error
  EXPECT_EQ(snapshot(t), before);
  EXPECT_EQ(nid_of(t, a), 0);
  k().check_consistency();
}

TEST_F(MigrateSyscallErrnoTest, MovePagesStatusPerPage) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 8 * kPageSize));
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);                         // page 0: written
  ASSERT_EQ(touch(t, a + kPageSize, false), Kernel::FaultResult::Handled);      // page 1: the zero page
  ASSERT_EQ(touch(t, a + 3 * kPageSize), Kernel::FaultResult::Handled);         // page 3: shared after fork
  ASSERT_EQ(touch(t, a + 4 * kPageSize), Kernel::FaultResult::Handled);         // page 4: named twice
  ASSERT_EQ(touch(t, a + 5 * kPageSize), Kernel::FaultResult::Handled);         // page 5: already there
  ASSERT_EQ(touch(t, a + 6 * kPageSize), Kernel::FaultResult::Handled);         // page 6: mlocked
  ASSERT_EQ(k().sys_mlock(t, a + 6 * kPageSize, kPageSize, cost_), 0);
  const long pid = k().sys_fork(t, cost_);
  ASSERT_GT(pid, 0);
  task_struct* child = k().find_task_by_pid(static_cast<int>(pid));
  // The child writes all but page 3 (copy-on-write): only page 3 stays shared.
  for (int i : {0, 4, 5, 6}) ASSERT_EQ(touch(child, a + i * kPageSize), Kernel::FaultResult::Handled);
  int five = 0;
  {
    int s = 0;
    VirtAddr p = a + 5 * kPageSize;
    int n = 1;
    ASSERT_EQ(k().sys_move_pages(t, 0, 1, &p, &n, &s, MPOL_MF_MOVE, cost_), 0);
    ASSERT_EQ(s, 1);
    five = 1;
  }
  VirtAddr pages[] = {a,  a + kPageSize, a + 2 * kPageSize, a + 3 * kPageSize, a + 4 * kPageSize, a + 4 * kPageSize,
                      a + 5 * kPageSize, a + 6 * kPageSize, a + 64 * kPageSize};
  constexpr int n = 9;
  int nodes[n], status[n];
  for (int i = 0; i < n; ++i) nodes[i] = 1, status[i] = 99;
  platform_.calls.clear();
  EXPECT_EQ(k().sys_move_pages(t, 0, n, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(status[1], -EFAULT);  // the zero page
  EXPECT_EQ(status[2], -ENOENT);  // never touched
  EXPECT_EQ(status[3], -EACCES);  // mapped by both processes, no MPOL_MF_MOVE_ALL
  EXPECT_EQ(status[4], 1);
  EXPECT_EQ(status[5], -EBUSY);  // the same page again in the same batch: already isolated
  EXPECT_EQ(status[6], five);    // already on node 1
  EXPECT_EQ(status[7], 1);       // mlocked pages move (with their mlock)
  EXPECT_EQ(status[8], -EFAULT);  // no VMA
  // Pages 0, 4 and 6 in one batch: one flush of the mm, not one per page.
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushMm), 1u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 0u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 3u);
  auto fr = k().follow_page(*t->mm, a + 6 * kPageSize);
  ASSERT_TRUE(fr.has_value());
  EXPECT_TRUE(fr->pg->test(PG_mlocked));
  EXPECT_EQ(pm().page_to_nid(fr->pg).value(), 1);
  EXPECT_EQ(nid_of(t, a + 3 * kPageSize), 0);
  EXPECT_EQ(nid_of(child, a), 0);  // the child's own copies did not move
  k().check_consistency();
  // With MPOL_MF_MOVE_ALL the shared page moves, for both processes.
  VirtAddr p3 = a + 3 * kPageSize;
  int one = 1, s3 = 0;
  EXPECT_EQ(k().sys_move_pages(t, 0, 1, &p3, &one, &s3, MPOL_MF_MOVE_ALL, cost_), 0);
  EXPECT_EQ(s3, 1);
  EXPECT_EQ(nid_of(child, p3), 1);
  k().check_consistency();
}

TEST_F(MigrateSyscallErrnoTest, MbindMoveErrnosChangeNothing) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 8 * kPageSize));
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_munmap(t, a + 4 * kPageSize, kPageSize, cost_), 0);  // a hole
  const std::string before = snapshot(t);
  const unsigned long node1 = 2;
  EXPECT_EQ(k().sys_mbind(t, a, 8 * kPageSize, MPOL_BIND, &node1, 3, MPOL_MF_MOVE, cost_), -EFAULT);  // the hole
  EXPECT_EQ(k().sys_mbind(t, a + 1, kPageSize, MPOL_BIND, &node1, 3, MPOL_MF_MOVE, cost_), -EINVAL);  // unaligned
  EXPECT_EQ(k().sys_mbind(t, a, kPageSize, MPOL_BIND, &node1, 3, 0x80, cost_), -EINVAL);  // unknown flag
  const unsigned long none = 0;
  EXPECT_EQ(k().sys_mbind(t, a, kPageSize, MPOL_BIND, &none, 3, MPOL_MF_MOVE, cost_), -EINVAL);  // empty mask
  EXPECT_EQ(snapshot(t), before);
  // The mapped part moves.
  EXPECT_EQ(k().sys_mbind(t, a, 4 * kPageSize, MPOL_BIND, &node1, 3, MPOL_MF_MOVE | MPOL_MF_STRICT, cost_), 0);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(nid_of(t, a + i * kPageSize), 1);
  EXPECT_EQ(nid_of(t, a + 5 * kPageSize), 0);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
