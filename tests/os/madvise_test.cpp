// madvise(2) advice that Linux 6.1 accepts (issue 17: the model returned EINVAL
// for MADV_COLD, MADV_PAGEOUT, MADV_MERGEABLE/UNMERGEABLE, MADV_WIPEONFORK/
// KEEPONFORK, MADV_DONTDUMP/DODUMP and MADV_POPULATE_READ/WRITE): each succeeds
// where Linux's does, fails with Linux's errno where it does (changing nothing),
// and has the effect the model can have today.
#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MadviseTest : public KernelTest {
 protected:
  long ma(VirtAddr a, std::uint64_t len, int adv) { return k().sys_madvise(t, a, len, adv, cost_); }
  unsigned long flags_at(VirtAddr a) { return find_vma(*t->mm, a)->vm_flags; }
  task_struct* t = spawn(0);
};

TEST_F(MadviseTest, FlagAdviceSetsAndClearsLinuxsVmaFlags) {
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  struct Case {
    int set_advice, clear_advice;
    unsigned long flag;
  };
  for (Case c : {Case{MADV_DONTDUMP, MADV_DODUMP, VM_DONTDUMP}, Case{MADV_WIPEONFORK, MADV_KEEPONFORK, VM_WIPEONFORK},
                 Case{MADV_MERGEABLE, MADV_UNMERGEABLE, VM_MERGEABLE}}) {
    EXPECT_EQ(ma(a + kPageSize, kPageSize, c.set_advice), 0) << c.set_advice;
    EXPECT_TRUE(flags_at(a + kPageSize) & c.flag) << c.set_advice;
    EXPECT_FALSE(flags_at(a) & c.flag) << c.set_advice;  // the VMA was split
    EXPECT_EQ(t->mm->map_count, 3) << c.set_advice;
    EXPECT_EQ(ma(a + kPageSize, kPageSize, c.clear_advice), 0) << c.clear_advice;
    EXPECT_FALSE(flags_at(a + kPageSize) & c.flag) << c.clear_advice;
    EXPECT_EQ(t->mm->map_count, 1) << c.clear_advice;  // merged back
    k().check_consistency();
  }
}

TEST_F(MadviseTest, ColdAndPageoutWithoutSwapKeepThePagesAndClearTheirAccessedBits) {
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_POPULATE));
  const std::uint64_t free0 = free_pages();
  EXPECT_EQ(ma(a, 4 * kPageSize, MADV_COLD), 0);
  EXPECT_EQ(ma(a, 4 * kPageSize, MADV_PAGEOUT), 0);
  // No swap: the pages stay mapped (shmem_test.cpp pages them out with swap).
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 4);
  EXPECT_EQ(free_pages(), free0);
  for (VirtAddr p = a; p < a + 4 * kPageSize; p += kPageSize) {
    auto tr = k().pgtables().translate(t->mm->pgd, p);
    ASSERT_TRUE(tr);
    EXPECT_FALSE(tr->leaf & _PAGE_ACCESSED) << std::hex << p;  // ptep_test_and_clear_young
  }
  k().check_consistency();
}

TEST_F(MadviseTest, PopulateFaultsTheRangeInLikeMapPopulate) {
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 8 * kPageSize));
  const auto rss0 = t->mm->rss_stat[MM_ANONPAGES];
  EXPECT_EQ(ma(a, 4 * kPageSize, MADV_POPULATE_WRITE), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], rss0 + 4);
  for (VirtAddr p = a; p < a + 4 * kPageSize; p += kPageSize) {
    auto tr = k().pgtables().translate(t->mm->pgd, p);
    ASSERT_TRUE(tr) << std::hex << p;
    EXPECT_TRUE(pte_write(tr->leaf)) << std::hex << p;
  }
  EXPECT_FALSE(k().pgtables().translate(t->mm->pgd, a + 4 * kPageSize));
  // A read populate maps the rest readable (the shared zero page or a new page).
  EXPECT_EQ(ma(a + 4 * kPageSize, 4 * kPageSize, MADV_POPULATE_READ), 0);
  for (VirtAddr p = a + 4 * kPageSize; p < a + 8 * kPageSize; p += kPageSize)
    EXPECT_TRUE(k().pgtables().translate(t->mm->pgd, p)) << std::hex << p;
  k().check_consistency();
}

TEST_F(MadviseTest, LinuxsValidationFailsAndChangesNothing) {
  const VirtAddr priv = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize));
  const VirtAddr ro = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize, PROT_READ));
  const VirtAddr none = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize, PROT_NONE));
  const VirtAddr locked = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_LOCKED));
  const long shared = k().sys_mmap(t, 0, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_);
  const long huge = k().sys_mmap(t, 0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1,
                                 0, cost_);
  ASSERT_GT(shared, 0);
  ASSERT_GT(huge, 0);
  (void)priv;
  const std::string before = snapshot(t);
  EXPECT_EQ(ma(static_cast<VirtAddr>(shared), kPageSize, MADV_WIPEONFORK), -EINVAL);  // private anonymous only
  EXPECT_EQ(ma(static_cast<VirtAddr>(huge), 2 << 20, MADV_WIPEONFORK), -EINVAL);     // hugetlb is a file
  EXPECT_EQ(ma(locked, kPageSize, MADV_COLD), -EINVAL);                               // can_madv_lru_vma
  EXPECT_EQ(ma(locked, kPageSize, MADV_PAGEOUT), -EINVAL);
  EXPECT_EQ(ma(static_cast<VirtAddr>(huge), 2 << 20, MADV_PAGEOUT), -EINVAL);
  EXPECT_EQ(ma(ro, kPageSize, MADV_POPULATE_WRITE), -EINVAL);  // check_vma_flags, reported as EINVAL
  EXPECT_EQ(ma(none, kPageSize, MADV_POPULATE_READ), -EINVAL);
  EXPECT_EQ(snapshot(t), before);
  // KSM leaves mappings it cannot merge alone, without an error.
  EXPECT_EQ(ma(static_cast<VirtAddr>(shared), kPageSize, MADV_MERGEABLE), 0);
  EXPECT_FALSE(flags_at(static_cast<VirtAddr>(shared)) & VM_MERGEABLE);
  EXPECT_EQ(ma(ro, kPageSize, MADV_POPULATE_READ), 0);
  k().check_consistency();
}

}  // namespace
