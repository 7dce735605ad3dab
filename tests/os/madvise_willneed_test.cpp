// madvise(MADV_WILLNEED) on file mappings (Linux 6.1 madvise_willneed ->
// vfs_fadvise(POSIX_FADV_WILLNEED) -> force_page_cache_ra): the mapped range of
// the file is read into the page cache at the mapping's offset, clipped to the
// file's size, nothing mapped; an anonymous range changes nothing; an unmapped
// range is -ENOMEM with nothing read.
#include <gtest/gtest.h>

#include "tests/os/file_test_util.h"

namespace numasim::os::testing {
namespace {

using MadviseWillneedTest = FileTest;

TEST_F(MadviseWillneedTest, ReadsTheMappedRangeAheadAtTheMappingsOffset) {
  task_struct* t = spawn();
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_GE(f, 0);
  // Pages 16.. of the file mapped (vm_pgoff 16).
  const long a = k().sys_mmap(t, 0, 32 * kPageSize, PROT_READ, MAP_PRIVATE, f, 16 * kPageSize, cost_);
  ASSERT_GT(a, 0);
  inode& ino = *k().fs().lookup("/cfg/data");
  ASSERT_EQ(ino.i_mapping.nrpages, 0u);
  const std::size_t bios = platform_.bio_times.size();
  ASSERT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(a) + 4 * kPageSize, 8 * kPageSize, MADV_WILLNEED, cost_), 0);
  EXPECT_EQ(ino.i_mapping.nrpages, 8u);
  for (std::uint64_t i = 0; i < 256; ++i)
    EXPECT_EQ(k().fs().find_get_page(ino, i) != nullptr, i >= 20 && i < 28) << i;
  EXPECT_GT(platform_.bio_times.size(), bios) << "read from the device";
  for (int i = 0; i < 32; ++i) EXPECT_FALSE(k().follow_page(*t->mm, static_cast<VirtAddr>(a) + i * kPageSize)) << i;
  settle();
  // A fault on an advised page is minor now: the page is in the cache and up to date.
  const std::uint64_t majflt = t->maj_flt;
  ASSERT_EQ(touch(t, static_cast<VirtAddr>(a) + 5 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->maj_flt, majflt);
  k().check_consistency();
}

TEST_F(MadviseWillneedTest, StopsAtEndOfFileAndSkipsAnonymousAndFailsOnHoles) {
  task_struct* t = spawn();
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  // A mapping longer than the 256-page file: the part beyond EOF reads nothing.
  const long a = k().sys_mmap(t, 0, 300 * kPageSize, PROT_READ, MAP_SHARED, f, 250 * kPageSize, cost_);
  ASSERT_GT(a, 0);
  inode& ino = *k().fs().lookup("/cfg/data");
  ASSERT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(a), 300 * kPageSize, MADV_WILLNEED, cost_), 0);
  EXPECT_EQ(ino.i_mapping.nrpages, 6u);  // pages 250..255
  // Anonymous memory: accepted, nothing read, nothing faulted.
  const long anon = mmap_anon(t, 4 * kPageSize);
  const std::size_t bios = platform_.bio_times.size();
  ASSERT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(anon), 4 * kPageSize, MADV_WILLNEED, cost_), 0);
  EXPECT_EQ(platform_.bio_times.size(), bios);
  EXPECT_FALSE(k().follow_page(*t->mm, static_cast<VirtAddr>(anon)));
  // A range with a hole: -ENOMEM, nothing read (the VMAs are checked first).
  const long b = k().sys_mmap(t, 0, 8 * kPageSize, PROT_READ, MAP_PRIVATE, f, 0, cost_);
  ASSERT_GT(b, 0);
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(b) + 4 * kPageSize, kPageSize, cost_), 0);
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(b), 8 * kPageSize, MADV_WILLNEED, cost_), -ENOMEM);
  EXPECT_EQ(fs_snapshot(t), before);
  EXPECT_EQ(platform_.bio_times.size(), bios);
  settle();
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
