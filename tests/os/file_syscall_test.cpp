// The file system calls (os/fs.h, fs.cpp): open/creat/close/read/write/pread64/
// pwrite64/lseek/ftruncate/fsync/fdatasync/unlink/fadvise64 with every man-page
// errno case and nothing changed on error; [[os.file]] configuration with located
// errors; extents and ENOSPC.
#include <gtest/gtest.h>

#include <cerrno>

#include "common/config.h"
#include "tests/os/file_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

TEST_F(FileTest, OpenCreatesAndFindsFilesWithManPageErrnos) {
  task_struct* t = spawn();
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDONLY, 0, cost_), -ENOENT);  // no O_CREAT
  EXPECT_EQ(k().sys_open(t, "", O_RDONLY | O_CREAT, 0644, cost_), -ENOENT);
  EXPECT_EQ(k().sys_open(t, std::string(5000, 'x'), O_RDONLY | O_CREAT, 0644, cost_), -ENAMETOOLONG);
  EXPECT_EQ(k().sys_open(t, "/" + std::string(300, 'x'), O_RDONLY | O_CREAT, 0644, cost_), -ENAMETOOLONG);
  EXPECT_EQ(k().sys_open(t, "/data/", O_RDONLY | O_CREAT, 0644, cost_), -EISDIR);
  EXPECT_EQ(k().sys_open(t, "/data/a", 3 | O_CREAT, 0644, cost_), -EINVAL);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDWR | O_TMPFILE, 0644, cost_), -EINVAL);
  EXPECT_EQ(fs_snapshot(t), before);
  EXPECT_EQ(k().fs().lookup("/data/a"), nullptr);
  const long fd = k().sys_open(t, "/data/a", O_RDWR | O_CREAT, 0644, cost_);
  EXPECT_EQ(fd, 0);  // the lowest free fd
  EXPECT_NE(k().fs().lookup("/data/a"), nullptr);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDWR | O_CREAT | O_EXCL, 0644, cost_), -EEXIST);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDONLY | O_DIRECTORY, 0, cost_), -ENOTDIR);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDONLY, 0, cost_), 1);
  EXPECT_EQ(k().sys_close(t, 0, cost_), 0);
  EXPECT_EQ(k().sys_open(t, "/data/a", O_RDONLY, 0, cost_), 0);  // 0 is free again
  EXPECT_EQ(k().sys_creat(t, "/data/b", 0644, cost_), 2);
  k().check_consistency();
}

TEST_F(FileTest, OpenFailsWithEmfileAtTheFdLimit) {
  task_struct* t = spawn();
  ASSERT_EQ(k().sys_creat(t, "/f", 0644, cost_), 0);
  for (int i = 1; i < NR_OPEN_DEFAULT; ++i) ASSERT_EQ(k().sys_open(t, "/f", O_RDONLY, 0, cost_), i);
  EXPECT_EQ(k().sys_open(t, "/f", O_RDONLY, 0, cost_), -EMFILE);
  EXPECT_EQ(k().sys_open(t, "/g", O_RDONLY | O_CREAT, 0644, cost_), -EMFILE);
  EXPECT_EQ(k().fs().lookup("/g"), nullptr);  // nothing created
}

TEST_F(FileTest, CloseAndIoOnBadDescriptorsAreEbadf) {
  task_struct* t = spawn();
  const long ro = k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_);
  ASSERT_GE(ro, 0);
  const long wo = k().sys_creat(t, "/w", 0644, cost_);
  ASSERT_GE(wo, 0);
  const VirtAddr buf = user_buf(t);
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_close(t, -1, cost_), -EBADF);
  EXPECT_EQ(k().sys_close(t, 77, cost_), -EBADF);
  EXPECT_EQ(k().sys_read(t, 77, buf, 10, cost_), -EBADF);
  EXPECT_EQ(k().sys_read(t, static_cast<int>(wo), buf, 10, cost_), -EBADF);   // not open for reading
  EXPECT_EQ(k().sys_write(t, static_cast<int>(ro), buf, 10, cost_), -EBADF);  // not open for writing
  EXPECT_EQ(k().sys_pread64(t, 77, buf, 10, 0, cost_), -EBADF);
  EXPECT_EQ(k().sys_pwrite64(t, 77, buf, 10, 0, cost_), -EBADF);
  // A negative position is EINVAL before the descriptor is looked up (ksys_pread64, ksys_pwrite64).
  EXPECT_EQ(k().sys_pread64(t, 77, buf, 10, -1, cost_), -EINVAL);
  EXPECT_EQ(k().sys_pwrite64(t, 77, buf, 10, -1, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(t, 77, 0, OS_SEEK_SET, cost_), -EBADF);
  EXPECT_EQ(k().sys_ftruncate(t, 77, 0, cost_), -EBADF);
  EXPECT_EQ(k().sys_fsync(t, 77, cost_), -EBADF);
  EXPECT_EQ(k().sys_fdatasync(t, 77, cost_), -EBADF);
  EXPECT_EQ(k().sys_fadvise64(t, 77, 0, 0, POSIX_FADV_DONTNEED, cost_), -EBADF);
  EXPECT_EQ(fs_snapshot(t), before);
  // Another process does not see these fds.
  task_struct* u = spawn(1);
  EXPECT_EQ(k().sys_close(u, static_cast<int>(ro), cost_), -EBADF);
}

TEST_F(FileTest, ReadWriteArgumentErrorsChangeNothing) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const long fd = k().sys_open(t, "/cfg/data", O_RDWR, 0, cost_);
  ASSERT_GE(fd, 0);
  const int f = static_cast<int>(fd);
  const std::string before = fs_snapshot(t);
  const std::uint64_t bios = platform_.count(FakePlatform::Kind::Bio);
  EXPECT_EQ(k().sys_read(t, f, ~0ull - 5, 100, cost_), -EFAULT);  // beyond TASK_SIZE
  EXPECT_EQ(k().sys_write(t, f, t->mm->task_size - 4, 100, cost_), -EFAULT);
  EXPECT_EQ(k().sys_pread64(t, f, buf, 10, -1, cost_), -EINVAL);
  EXPECT_EQ(k().sys_pwrite64(t, f, buf, 10, -4096, cost_), -EINVAL);
  EXPECT_EQ(k().sys_pwrite64(t, f, buf, 10, static_cast<std::int64_t>(MAX_FILE_SIZE), cost_), -EFBIG);
  EXPECT_EQ(fs_snapshot(t), before);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), bios);
  // A write crossing s_maxbytes is cut there.
  EXPECT_EQ(k().sys_pwrite64(t, f, buf, 8192, static_cast<std::int64_t>(MAX_FILE_SIZE - 100), cost_), 100);
  EXPECT_EQ(k().fs().lookup("/cfg/data")->i_size, MAX_FILE_SIZE);
  k().check_consistency();
}

TEST_F(FileTest, LseekWhenceAndItsErrors) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_GE(f, 0);
  const auto size = static_cast<long>(kFileSize);
  EXPECT_EQ(k().sys_lseek(t, f, 100, OS_SEEK_SET, cost_), 100);
  EXPECT_EQ(k().sys_lseek(t, f, 50, OS_SEEK_CUR, cost_), 150);
  EXPECT_EQ(k().sys_lseek(t, f, -10, OS_SEEK_END, cost_), size - 10);
  EXPECT_EQ(k().sys_lseek(t, f, 10, OS_SEEK_DATA, cost_), 10);
  EXPECT_EQ(k().sys_lseek(t, f, 10, OS_SEEK_HOLE, cost_), size);
  EXPECT_EQ(k().sys_lseek(t, f, 0, 7, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(t, f, -1, OS_SEEK_SET, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(t, f, -size - 1, OS_SEEK_END, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(t, f, size, OS_SEEK_DATA, cost_), -ENXIO);
  EXPECT_EQ(k().sys_lseek(t, f, 0, OS_SEEK_CUR, cost_), size);  // unchanged by the failures
  // Reading at EOF returns 0.
  EXPECT_EQ(k().sys_read(t, f, buf, 4096, cost_), 0);
}

TEST_F(FileTest, FtruncateShrinksGrowsAndReportsErrors) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int ro = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  const int rw = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDWR, 0, cost_));
  inode* ino = k().fs().lookup("/cfg/data");
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_ftruncate(t, 99, -1, cost_), -EINVAL);  // the length is checked before the fd
  EXPECT_EQ(k().sys_ftruncate(t, rw, -1, cost_), -EINVAL);
  EXPECT_EQ(k().sys_ftruncate(t, ro, 0, cost_), -EINVAL);  // not open for writing
  EXPECT_EQ(k().sys_ftruncate(t, rw, static_cast<std::int64_t>(MAX_FILE_SIZE + 1), cost_), -EFBIG);
  EXPECT_EQ(fs_snapshot(t), before);
  // Read it all in, then cut it to 5 pages and a half.
  ASSERT_EQ(k().sys_read(t, rw, buf, kFileSize, cost_), static_cast<long>(kFileSize));
  settle();
  EXPECT_EQ(ino->i_mapping.nrpages, kFileSize / kPageSize);
  const std::uint64_t free_blocks = k().fs().free_blocks();
  EXPECT_EQ(k().sys_ftruncate(t, rw, 5 * 4096 + 100, cost_), 0);
  EXPECT_EQ(ino->i_size, 5u * 4096 + 100);
  EXPECT_EQ(ino->i_mapping.nrpages, 6u);
  EXPECT_EQ(ino->nr_blocks, 6u);
  EXPECT_EQ(k().fs().free_blocks(), free_blocks + kFileSize / kPageSize - 6);
  k().check_consistency();
  // Growing leaves a hole: it reads without I/O.
  EXPECT_EQ(k().sys_ftruncate(t, rw, 1 << 20, cost_), 0);
  const std::uint64_t bios = platform_.count(FakePlatform::Kind::Bio);
  EXPECT_EQ(k().sys_pread64(t, rw, buf, 4096, 512 * 1024, cost_), 4096);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), bios);
  k().check_consistency();
}

TEST_F(FileTest, UnlinkKeepsAnOpenFileUntilItsLastClose) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  EXPECT_EQ(k().sys_unlink(t, "/nope", cost_), -ENOENT);
  EXPECT_EQ(k().sys_unlink(t, "", cost_), -ENOENT);
  EXPECT_EQ(k().sys_unlink(t, std::string(5000, 'y'), cost_), -ENAMETOOLONG);
  const std::uint64_t free0 = k().fs().free_blocks();
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_EQ(k().sys_read(t, f, buf, 64 * 1024, cost_), 64 * 1024);
  EXPECT_EQ(k().sys_unlink(t, "/cfg/data", cost_), 0);
  EXPECT_EQ(k().fs().lookup("/cfg/data"), nullptr);
  EXPECT_EQ(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_), -ENOENT);
  EXPECT_EQ(k().sys_read(t, f, buf, 4096, cost_), 4096);  // still readable
  EXPECT_EQ(k().fs().free_blocks(), free0);
  settle();
  const long cached = node_stat(NR_FILE_PAGES);
  EXPECT_GT(cached, 0);
  EXPECT_EQ(k().sys_close(t, f, cost_), 0);
  EXPECT_EQ(k().fs().free_blocks(), free0 + kFileSize / kPageSize);  // its blocks are free
  EXPECT_EQ(node_stat(NR_FILE_PAGES), 0);                            // and its pages
  k().check_consistency();
}

TEST_F(FileTest, ExitClosesTheProcessFilesAndFreesAnUnlinkedOne) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const std::uint64_t free0 = k().fs().free_blocks();
  const int f = static_cast<int>(k().sys_creat(t, "/tmp/x", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, f, buf, 64 * 1024, cost_), 64 * 1024);
  EXPECT_EQ(k().fs().free_blocks(), free0 - 16);
  ASSERT_EQ(k().sys_unlink(t, "/tmp/x", cost_), 0);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 16);
  k().exit_task(t);  // exit_files: the last reference goes, dirty pages and blocks are dropped
  EXPECT_EQ(k().fs().fget(t->tgid, f), nullptr);
  EXPECT_EQ(k().fs().free_blocks(), free0);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 0);
  EXPECT_EQ(node_stat(NR_FILE_PAGES), 0);
  k().check_consistency();
}

TEST_F(FileTest, FadviseAdviceAndErrors) {
  task_struct* t = spawn();
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, -1, POSIX_FADV_WILLNEED, cost_), -EINVAL);
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, 0, 6, cost_), -EINVAL);
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, 0, -1, cost_), -EINVAL);
  EXPECT_EQ(fs_snapshot(t), before);
  // WILLNEED reads the range in without a read(2).
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, 256 * 1024, POSIX_FADV_WILLNEED, cost_), 0);
  inode* ino = k().fs().lookup("/cfg/data");
  EXPECT_EQ(ino->i_mapping.nrpages, 64u);
  settle();
  // DONTNEED drops the clean pages of whole pages in the range only.
  EXPECT_EQ(k().sys_fadvise64(t, f, 100, 128 * 1024, POSIX_FADV_DONTNEED, cost_), 0);
  EXPECT_NE(k().fs().find_get_page(*ino, 0), nullptr);  // page 0 only partly covered
  EXPECT_EQ(k().fs().find_get_page(*ino, 1), nullptr);
  EXPECT_EQ(k().fs().find_get_page(*ino, 31), nullptr);
  EXPECT_NE(k().fs().find_get_page(*ino, 32), nullptr);
  EXPECT_EQ(ino->i_mapping.nrpages, 33u);
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, 0, POSIX_FADV_RANDOM, cost_), 0);
  EXPECT_EQ(k().sys_fadvise64(t, f, 0, 0, POSIX_FADV_SEQUENTIAL, cost_), 0);
  EXPECT_EQ(k().fs().fget(t->tgid, f)->f_ra.ra_pages, 64u);  // twice read_ahead_kb
  k().check_consistency();
}

TEST_F(FileTest, WriteReportsEnospcAndChangesNothing) {
  rebuild_with("[os.fs]\nsize = \"2MiB\"\n");  // 512 blocks, 256 of them /cfg/data's
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_creat(t, "/big", 0644, cost_));
  ASSERT_GE(f, 0);
  EXPECT_EQ(k().sys_write(t, f, buf, 1 << 20, cost_), 1 << 20);
  EXPECT_EQ(k().fs().free_blocks(), 0u);
  const std::string before = fs_snapshot(t);
  EXPECT_EQ(k().sys_write(t, f, buf, 4096, cost_), -ENOSPC);
  EXPECT_EQ(fs_snapshot(t), before);
  EXPECT_EQ(k().fs().lookup("/big")->i_size, 1u << 20);
  // Overwriting allocated blocks still works.
  EXPECT_EQ(k().sys_pwrite64(t, f, buf, 4096, 0, cost_), 4096);
  k().check_consistency();
}

TEST(FileConfig, FilesFromConfigurationWithLocatedErrors) {
  auto doc = ConfigDocument::from_string(
      "[[os.file]]\npath = \"/a\"\nsize = \"1MiB\"\nnode = 1\n[[os.file]]\npath = \"/a\"\nsize = \"4KiB\"\n"
      "[[os.file]]\npath = \"/c\"\n",  // no size
      "files.toml");
  FsParams p = FsParams::from_config(doc->root().table("os"));
  ASSERT_EQ(p.files.size(), 3u);
  EXPECT_EQ(p.files[0].size, 1u << 20);
  EXPECT_EQ(p.files[0].node, 1);
  const auto& d = doc->diagnostics();
  ASSERT_EQ(d.size(), 2u);  // the duplicate, then the third file's missing size
  EXPECT_NE(d[0].str().find("files.toml:6"), std::string::npos) << d[0].str();
  EXPECT_NE(d[0].str().find("configured twice"), std::string::npos) << d[0].str();
  EXPECT_NE(d[1].str().find("size"), std::string::npos) << d[1].str();
}

TEST_F(FileTest, ConfiguredFileOnANodeThatDoesNotExistIsAnError) {
  params_.fs.files.push_back({"/x", 4096, 5, "x.toml:3:1"});
  kernel_.reset();
  try {
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("x.toml:3:1: error: [[os.file]] /x: no node 5"), std::string::npos)
        << e.what();
  }
  params_.fs.files.back().node = 0;
  params_.fs.files.back().size = 1ull << 40;  // larger than the region
  try {
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos) << e.what();
  }
  params_.fs.files.pop_back();
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
}

}  // namespace
