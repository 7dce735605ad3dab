// VMA tree: lookup, split, merge and the top-down free-area search, drawn as
// /proc/PID/maps-like address maps; then the same shapes produced by the real
// system calls (mmap next to mmap, mprotect in the middle, munmap of a hole).
#include <gtest/gtest.h>

#include "os/mmap.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

constexpr unsigned long RW = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
constexpr unsigned long RO = VM_READ | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;

mm_struct make_mm() {
  mm_struct mm;
  mm.task_size = TASK_SIZE_4LEVEL;
  mm.mmap_base = TASK_SIZE_4LEVEL - MMAP_MIN_GAP;
  return mm;
}

vm_area_struct anon(VirtAddr s, VirtAddr e, unsigned long flags) {
  vm_area_struct v;
  v.vm_start = s;
  v.vm_end = e;
  v.vm_flags = flags;
  v.vm_pgoff = s >> kPageShift;
  return v;
}

TEST(Vma, FindVmaReturnsContainingOrNextMapping) {
  mm_struct mm = make_mm();
  vma_insert(mm, anon(0x10000, 0x12000, RW));
  vma_insert(mm, anon(0x20000, 0x21000, RO));
  EXPECT_EQ(find_vma(mm, 0x0)->vm_start, 0x10000u);
  EXPECT_EQ(find_vma(mm, 0x11fff)->vm_start, 0x10000u);
  EXPECT_EQ(find_vma(mm, 0x12000)->vm_start, 0x20000u);  // in the gap: the next one
  EXPECT_EQ(find_vma(mm, 0x21000), nullptr);
  EXPECT_EQ(vma_lookup(mm, 0x12000), nullptr);
  EXPECT_EQ(vma_lookup(mm, 0x20fff)->vm_start, 0x20000u);
  EXPECT_EQ(find_vma_intersection(mm, 0x12000, 0x20000), nullptr);
  EXPECT_EQ(find_vma_intersection(mm, 0x12000, 0x20001)->vm_start, 0x20000u);
  EXPECT_FALSE(range_fully_mapped(mm, 0x11000, 0x20001));
  EXPECT_TRUE(range_fully_mapped(mm, 0x10000, 0x12000));
  EXPECT_EQ(mm.map_count, 2);
}

TEST(Vma, SplitKeepsFlagsAndOffsets) {
  mm_struct mm = make_mm();
  vm_area_struct& v = vma_insert(mm, anon(0x1000, 0x5000, RW));
  vm_area_struct& upper = split_vma(mm, v, 0x3000);
  EXPECT_EQ(vma_map_string(mm), "[0x1000-0x3000 rw-p] [0x3000-0x5000 rw-p]");
  EXPECT_EQ(upper.vm_pgoff, 0x3u);
  EXPECT_EQ(mm.map_count, 2);
  // Two identical neighbours merge back into one.
  vma_merge_neighbours(mm, upper);
  EXPECT_EQ(vma_map_string(mm), "[0x1000-0x5000 rw-p]");
  EXPECT_EQ(mm.map_count, 1);
}

TEST(Vma, MergeNeedsSameFlagsContiguityAndObject) {
  mm_struct mm = make_mm();
  vma_insert(mm, anon(0x1000, 0x2000, RW));
  vma_insert(mm, anon(0x2000, 0x3000, RO));
  vm_area_struct& c = vma_insert(mm, anon(0x3000, 0x4000, RW));
  vma_merge_neighbours(mm, c);  // differs from its previous neighbour
  EXPECT_EQ(vma_map_string(mm), "[0x1000-0x2000 rw-p] [0x2000-0x3000 r--p] [0x3000-0x4000 rw-p]");
  vm_area_struct& mid = *vma_lookup(mm, 0x2000);
  mid.vm_flags = RW;  // as mprotect would do
  vma_merge_neighbours(mm, mid);
  EXPECT_EQ(vma_map_string(mm), "[0x1000-0x4000 rw-p]");

  // Shared objects never merge with private memory or another object.
  vm_area_struct s = anon(0x4000, 0x5000, RW | VM_SHARED | VM_MAYSHARE);
  s.vm_file_id = 7;
  s.vm_pgoff = 0;
  vm_area_struct& sv = vma_insert(mm, s);
  vma_merge_neighbours(mm, sv);
  EXPECT_EQ(vma_map_string(mm), "[0x1000-0x4000 rw-p] [0x4000-0x5000 rw-s]");
  // Hugetlb never merges.
  vm_area_struct h1 = anon(0x200000, 0x400000, RW | VM_HUGETLB), h2 = anon(0x400000, 0x600000, RW | VM_HUGETLB);
  h1.vm_file_id = h2.vm_file_id = 9;
  h1.vm_pgoff = 0;
  h2.vm_pgoff = 0x200;
  vma_insert(mm, h1);
  EXPECT_FALSE(vmas_mergeable(*vma_lookup(mm, 0x200000), vma_insert(mm, h2)));
}

TEST(Vma, SplitAtBoundariesCountsSplits) {
  mm_struct mm = make_mm();
  vma_insert(mm, anon(0x10000, 0x20000, RW));
  EXPECT_EQ(splits_needed(mm, 0x12000, 0x14000), 2);
  EXPECT_EQ(splits_needed(mm, 0x10000, 0x14000), 1);
  EXPECT_EQ(splits_needed(mm, 0x10000, 0x20000), 0);
  EXPECT_EQ(splits_needed(mm, 0x8000, 0x30000), 0);
  split_at_boundaries(mm, 0x12000, 0x14000);
  EXPECT_EQ(vma_map_string(mm), "[0x10000-0x12000 rw-p] [0x12000-0x14000 rw-p] [0x14000-0x20000 rw-p]");
}

TEST(Vma, GetUnmappedAreaIsTopDownBelowMmapBase) {
  mm_struct mm = make_mm();
  const VirtAddr base = mm.mmap_base;
  EXPECT_EQ(base, 0x7ffff7fff000ull);
  VirtAddr a = get_unmapped_area(mm, 0, 0x3000, kPageSize);
  EXPECT_EQ(a, base - 0x3000);
  vma_insert(mm, anon(a, a + 0x3000, RW));
  VirtAddr b = get_unmapped_area(mm, 0, 0x1000, kPageSize);
  EXPECT_EQ(b, a - 0x1000);
  // A usable hint is taken as is; an occupied one is not.
  EXPECT_EQ(get_unmapped_area(mm, 0x40000000, 0x1000, kPageSize), 0x40000000u);
  EXPECT_EQ(get_unmapped_area(mm, a, 0x1000, kPageSize), b);
  // Alignment: a 2 MiB-aligned request lands on a 2 MiB boundary below the rest.
  VirtAddr h = get_unmapped_area(mm, 0, 2 << 20, 2 << 20);
  EXPECT_EQ(h % (2 << 20), 0u);
  EXPECT_LE(h + (2 << 20), a);
  // A hole between mappings is found when it is the highest that fits.
  vma_insert(mm, anon(b, a, RW));
  vma_insert(mm, anon(b - 0x5000, b - 0x2000, RW));  // leaves a 0x2000 hole below b
  EXPECT_EQ(get_unmapped_area(mm, 0, 0x2000, kPageSize), b - 0x2000);
  // Too large: nothing.
  EXPECT_EQ(get_unmapped_area(mm, 0, mm.task_size, kPageSize), 0u);
}

// The same shapes through the system calls.
class VmaSyscallTest : public KernelTest {};

TEST_F(VmaSyscallTest, AdjacentAnonymousMmapsMergeIntoOneVma) {
  task_struct* t = spawn();
  long a = mmap_anon(t, 0x2000);
  long b = mmap_anon(t, 0x1000);
  ASSERT_GT(a, 0);
  EXPECT_EQ(b, a - 0x1000);  // top-down, directly below
  char buf[160];
  std::snprintf(buf, sizeof buf, "[0x%lx-0x%lx rw-p]", b, a + 0x2000);
  EXPECT_EQ(maps(t), buf);
  long c = mmap_anon(t, 0x1000, PROT_READ);  // different protection: a new VMA
  std::snprintf(buf, sizeof buf, "[0x%lx-0x%lx r--p] [0x%lx-0x%lx rw-p]", c, b, b, a + 0x2000);
  EXPECT_EQ(maps(t), buf);
  k().check_consistency();
}

TEST_F(VmaSyscallTest, MprotectMiddleSplitsInThreeAndRestoringMerges) {
  task_struct* t = spawn();
  const VirtAddr a = 0x10000000;
  ASSERT_EQ(mmap_anon(t, 0x4000, PROT_READ | PROT_WRITE, MAP_FIXED, a), static_cast<long>(a));
  ASSERT_EQ(k().sys_mprotect(t, a + 0x1000, 0x2000, PROT_READ, cost_), 0);
  EXPECT_EQ(maps(t), "[0x10000000-0x10001000 rw-p] [0x10001000-0x10003000 r--p] [0x10003000-0x10004000 rw-p]");
  ASSERT_EQ(k().sys_mprotect(t, a + 0x2000, 0x1000, PROT_NONE, cost_), 0);
  EXPECT_EQ(maps(t),
            "[0x10000000-0x10001000 rw-p] [0x10001000-0x10002000 r--p] [0x10002000-0x10003000 ---p] "
            "[0x10003000-0x10004000 rw-p]");
  ASSERT_EQ(k().sys_mprotect(t, a, 0x4000, PROT_READ | PROT_WRITE, cost_), 0);
  EXPECT_EQ(maps(t), "[0x10000000-0x10004000 rw-p]");
  EXPECT_EQ(t->mm->map_count, 1);
  k().check_consistency();
}

TEST_F(VmaSyscallTest, MunmapPunchesHolesAndRemapFillsThem) {
  task_struct* t = spawn();
  const VirtAddr a = 0x20000000;
  ASSERT_EQ(mmap_anon(t, 0x5000, PROT_READ | PROT_WRITE, MAP_FIXED, a), static_cast<long>(a));
  ASSERT_EQ(k().sys_munmap(t, a + 0x1000, 0x1000, cost_), 0);
  ASSERT_EQ(k().sys_munmap(t, a + 0x3000, 0x1000, cost_), 0);
  EXPECT_EQ(maps(t), "[0x20000000-0x20001000 rw-p] [0x20002000-0x20003000 rw-p] [0x20004000-0x20005000 rw-p]");
  ASSERT_EQ(mmap_anon(t, 0x1000, PROT_READ | PROT_WRITE, MAP_FIXED, a + 0x1000), static_cast<long>(a + 0x1000));
  EXPECT_EQ(maps(t), "[0x20000000-0x20003000 rw-p] [0x20004000-0x20005000 rw-p]");
  ASSERT_EQ(mmap_anon(t, 0x1000, PROT_READ | PROT_WRITE, MAP_FIXED, a + 0x3000), static_cast<long>(a + 0x3000));
  EXPECT_EQ(maps(t), "[0x20000000-0x20005000 rw-p]");
  // MAP_FIXED over the middle with another protection replaces that part.
  ASSERT_EQ(mmap_anon(t, 0x2000, PROT_READ, MAP_FIXED, a + 0x2000), static_cast<long>(a + 0x2000));
  EXPECT_EQ(maps(t), "[0x20000000-0x20002000 rw-p] [0x20002000-0x20004000 r--p] [0x20004000-0x20005000 rw-p]");
  k().check_consistency();
}

TEST_F(VmaSyscallTest, MadviseFlagsSplitLikeLinux) {
  task_struct* t = spawn();
  const VirtAddr a = 0x30000000;
  ASSERT_EQ(mmap_anon(t, 0x4000, PROT_READ | PROT_WRITE, MAP_FIXED, a), static_cast<long>(a));
  ASSERT_EQ(k().sys_madvise(t, a + 0x1000, 0x1000, MADV_RANDOM, cost_), 0);
  EXPECT_EQ(t->mm->map_count, 3);
  EXPECT_TRUE(vma_lookup(*t->mm, a + 0x1000)->vm_flags & VM_RAND_READ);
  ASSERT_EQ(k().sys_madvise(t, a, 0x4000, MADV_NORMAL, cost_), 0);
  EXPECT_EQ(t->mm->map_count, 1);
  k().check_consistency();
}

}  // namespace
