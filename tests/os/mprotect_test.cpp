// mprotect: PTEs follow the VMA's new protection (read-only, PROT_NONE as
// non-present _PAGE_PROTNONE entries, NX), downgrades shoot down the TLBs of the
// mm's CPUs while upgrades do not, a private writable upgrade makes exclusive
// anonymous pages writable at once but leaves the zero page read-only.
#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MprotectTest : public KernelTest {};

TEST_F(MprotectTest, DowngradeRewritesPtesAndShootsDown) {
  task_struct* t = spawn(0);
  k().create_thread(t, CpuId(2));
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  platform_.calls.clear();
  ASSERT_EQ(k().sys_mprotect(t, a, 2 * kPageSize, PROT_READ, cost_), 0);
  EXPECT_FALSE(k().follow_page(*t->mm, a)->leaf & _PAGE_RW);
  EXPECT_FALSE(k().follow_page(*t->mm, a + kPageSize)->leaf & _PAGE_RW);
  EXPECT_TRUE(k().follow_page(*t->mm, a + 2 * kPageSize)->leaf & _PAGE_RW);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Write), 2u);  // two PTEs rewritten
  ASSERT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 1u);
  EXPECT_EQ(platform_.calls.back().targets.count(), 2u);
  // A write there is now a SIGSEGV; reads still work.
  EXPECT_EQ(touch(t, a, true), Kernel::FaultResult::Sigsegv);
  EXPECT_EQ(touch(t, a, false), Kernel::FaultResult::Handled);
  // Upgrade: writable at once, no shootdown.
  platform_.calls.clear();
  ASSERT_EQ(k().sys_mprotect(t, a, 2 * kPageSize, PROT_READ | PROT_WRITE, cost_), 0);
  EXPECT_TRUE(k().follow_page(*t->mm, a)->leaf & _PAGE_RW);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 0u);
  EXPECT_EQ(t->mm->map_count, 1);
  k().check_consistency();
}

TEST_F(MprotectTest, ProtNoneKeepsThePageButMakesItNonPresent) {
  task_struct* t = spawn(0);
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  const PhysAddr phys = k().follow_page(*t->mm, a)->phys;
  ASSERT_EQ(k().sys_mprotect(t, a, kPageSize, PROT_NONE, cost_), 0);
  EXPECT_FALSE(k().follow_page(*t->mm, a));  // the walker sees nothing present
  PteRef r = k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL);
  EXPECT_TRUE(pte_protnone(r.value()));
  EXPECT_EQ(pte_phys(r.value()), phys);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 1);
  ASSERT_EQ(k().sys_mprotect(t, a, kPageSize, PROT_READ | PROT_EXEC, cost_), 0);
  auto fr = k().follow_page(*t->mm, a);
  ASSERT_TRUE(fr);
  EXPECT_EQ(fr->phys, phys);  // same page back, now executable and read-only
  EXPECT_FALSE(fr->leaf & _PAGE_NX);
  EXPECT_FALSE(fr->leaf & _PAGE_RW);
  k().check_consistency();
}

TEST_F(MprotectTest, ZeroPageStaysReadOnlyAfterUpgrade) {
  task_struct* t = spawn(0);
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED, a), static_cast<long>(a));
  ASSERT_EQ(touch(t, a, false), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().sys_mprotect(t, a, kPageSize, PROT_READ | PROT_WRITE, cost_), 0);
  EXPECT_FALSE(k().follow_page(*t->mm, a)->leaf & _PAGE_RW);
  ASSERT_EQ(touch(t, a, true), Kernel::FaultResult::Handled);  // wp fault allocates
  EXPECT_NE(k().follow_page(*t->mm, a)->phys, k().zero_page_phys());
  k().check_consistency();
}

TEST_F(MprotectTest, MadviseDontneedDropsPagesKeepsVmaAndShootsDown) {
  task_struct* t = spawn(0);
  k().create_thread(t, CpuId(1));
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  platform_.calls.clear();
  ASSERT_EQ(k().sys_madvise(t, a + kPageSize, 2 * kPageSize, MADV_DONTNEED, cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 2);
  EXPECT_FALSE(k().follow_page(*t->mm, a + kPageSize));
  EXPECT_EQ(t->mm->map_count, 1);
  ASSERT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 1u);
  EXPECT_EQ(platform_.calls.back().targets.count(), 2u);
  // Touching again gives a fresh zero-filled page.
  ASSERT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 3);
  k().check_consistency();
}

}  // namespace
