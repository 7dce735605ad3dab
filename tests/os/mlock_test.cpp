// mlock(2) & co. (os/mlock.cpp): locked pages are PG_mlocked on the
// unevictable list and counted in nr_mlock / Mlocked; munlock returns them to
// the inactive list; MLOCK_ONFAULT and MCL_FUTURE; errno semantics; munmap of
// locked pages clears them.
#include <gtest/gtest.h>

#include "os/mm_inline.h"
#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {
namespace {

class MlockTest : public KernelTest {
 protected:
  MlockTest() : KernelTest({0, 0}) {}
  std::int64_t node(node_stat_item i) { return pm().node_page_state(NodeId(0), i); }
  std::int64_t mlocked() { return pm().global_zone_page_state(NR_MLOCK); }
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  page* page_at(task_struct* t, VirtAddr a) {
    auto f = k().follow_page(*t->mm, a);
    return f ? f->pg : nullptr;
  }
};

TEST_F(MlockTest, MlockPopulatesAndMakesPagesUnevictableMunlockReturnsThem) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, 16 * kPageSize);
  ASSERT_GT(a, 0);
  const VirtAddr va = static_cast<VirtAddr>(a);
  for (int i = 0; i < 4; ++i) touch(t, va + i * kPageSize);  // four present before the mlock
  ASSERT_EQ(k().sys_mlock(t, va, 16 * kPageSize, cost_), 0);
  EXPECT_TRUE(vma_lookup(*t->mm, va)->vm_flags & VM_LOCKED);
  k().lru_add_drain(CpuId(0));
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 16);
  EXPECT_EQ(node(NR_UNEVICTABLE), 16);
  EXPECT_EQ(node(NR_INACTIVE_ANON), 0);
  EXPECT_EQ(mlocked(), 16);
  EXPECT_EQ(ev(UNEVICTABLE_PGMLOCKED), 16u);
  EXPECT_TRUE(page_at(t, va)->test(PG_mlocked));
  EXPECT_NE(k().proc_meminfo().find("Mlocked:              64 kB"), std::string::npos) << k().proc_meminfo();
  EXPECT_NE(k().proc_meminfo().find("Unevictable:          64 kB"), std::string::npos);
  k().check_consistency();

  ASSERT_EQ(k().sys_munlock(t, va + 8 * kPageSize, 8 * kPageSize, cost_), 0);
  EXPECT_EQ(t->mm->map_count, 2);  // split at the boundary
  EXPECT_EQ(node(NR_UNEVICTABLE), 8);
  EXPECT_EQ(node(NR_INACTIVE_ANON), 8);
  EXPECT_EQ(mlocked(), 8);
  EXPECT_EQ(ev(UNEVICTABLE_PGMUNLOCKED), 8u);
  EXPECT_FALSE(page_at(t, va + 8 * kPageSize)->test(PG_mlocked));
  k().check_consistency();
  ASSERT_EQ(k().sys_munlock(t, va, 16 * kPageSize, cost_), 0);
  EXPECT_EQ(t->mm->map_count, 1);  // merged again
  EXPECT_EQ(mlocked(), 0);
  EXPECT_EQ(node(NR_UNEVICTABLE), 0);
  k().check_consistency();
}

TEST_F(MlockTest, OnFaultLocksOnlyWhatIsTouched) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, 8 * kPageSize);
  const VirtAddr va = static_cast<VirtAddr>(a);
  ASSERT_EQ(k().sys_mlock2(t, va, 8 * kPageSize, MLOCK_ONFAULT, cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  EXPECT_EQ(vma_lookup(*t->mm, va)->vm_flags & VM_LOCKED_MASK, VM_LOCKED | VM_LOCKONFAULT);
  touch(t, va + kPageSize);
  EXPECT_EQ(mlocked(), 1);
  k().lru_add_drain(CpuId(0));
  EXPECT_EQ(node(NR_UNEVICTABLE), 1);
  EXPECT_EQ(ev(UNEVICTABLE_PGCULLED), 1u);
  k().check_consistency();
}

TEST_F(MlockTest, MlockallFutureLocksNewMappingsAndMunlockallUndoes) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, 4 * kPageSize);
  ASSERT_EQ(k().sys_mlockall(t, MCL_CURRENT | MCL_FUTURE, cost_), 0);
  EXPECT_EQ(mlocked(), 4);
  const long b = mmap_anon(t, 4 * kPageSize);
  ASSERT_GT(b, 0);
  EXPECT_TRUE(vma_lookup(*t->mm, static_cast<VirtAddr>(b))->vm_flags & VM_LOCKED);
  EXPECT_EQ(mlocked(), 8);  // populated like MAP_LOCKED
  ASSERT_EQ(k().sys_munlockall(t, cost_), 0);
  EXPECT_EQ(mlocked(), 0);
  const long c = mmap_anon(t, 4 * kPageSize);
  EXPECT_FALSE(vma_lookup(*t->mm, static_cast<VirtAddr>(c))->vm_flags & VM_LOCKED);
  EXPECT_EQ(mlocked(), 0);
  (void)a;
  k().check_consistency();
}

TEST_F(MlockTest, MunmapOfLockedPagesClearsThem) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, 20 * kPageSize);
  ASSERT_EQ(k().sys_mlock(t, static_cast<VirtAddr>(a), 20 * kPageSize, cost_), 0);
  ASSERT_EQ(mlocked(), 20);
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(a), 20 * kPageSize, cost_), 0);
  EXPECT_EQ(mlocked(), 0);
  EXPECT_EQ(node(NR_UNEVICTABLE), 0);
  EXPECT_EQ(ev(UNEVICTABLE_PGCLEARED), 20u);
  k().check_consistency();
}

TEST_F(MlockTest, ErrnoSemanticsAndNothingChangesOnError) {
  task_struct* t = spawn();
  const long a = mmap_anon(t, 4 * kPageSize);
  const VirtAddr va = static_cast<VirtAddr>(a);
  const std::string before = snapshot(t);
  EXPECT_EQ(k().sys_mlock2(t, va, kPageSize, 2, cost_), -EINVAL);
  EXPECT_EQ(k().sys_mlockall(t, 0, cost_), -EINVAL);
  EXPECT_EQ(k().sys_mlockall(t, MCL_ONFAULT, cost_), -EINVAL);
  EXPECT_EQ(k().sys_mlockall(t, 8, cost_), -EINVAL);
  EXPECT_EQ(k().sys_mlock(t, va, 8 * kPageSize, cost_), -ENOMEM);  // runs past the mapping
  EXPECT_EQ(k().sys_mlock(t, va - 16 * kPageSize, kPageSize, cost_), -ENOMEM);
  EXPECT_EQ(k().sys_munlock(t, va, 8 * kPageSize, cost_), -ENOMEM);
  EXPECT_EQ(k().sys_mlock(t, va, ~0ull - 2 * kPageSize, cost_), -EINVAL);  // wraps
  EXPECT_EQ(snapshot(t), before);
  EXPECT_EQ(k().sys_mlock(t, va, 0, cost_), 0);
  EXPECT_EQ(mlocked(), 0);
  // An unaligned start covers its whole page.
  EXPECT_EQ(k().sys_mlock(t, va + 100, 10, cost_), 0);
  EXPECT_EQ(mlocked(), 1);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
