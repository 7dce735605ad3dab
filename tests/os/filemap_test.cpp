// The page cache (os/filemap.cpp, readahead.cpp, page_writeback.cpp): a second
// read served from the cache, the readahead window ramping to read_ahead_kb,
// placement under the task's policy, the file LRU, reclaim of clean pages with
// workingset shadows and refaults, dirty pages written by fsync (which waits),
// by reclaim's pageout and by the flusher, and balance_dirty_pages' throttling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

#include "os/mm_inline.h"
#include "tests/os/file_test_util.h"
#include "tests/os/lru_test_access.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

std::vector<std::uint64_t> read_bio_sizes(const FakePlatform& p, std::size_t from = 0) {
  std::vector<std::uint64_t> v;
  for (std::size_t i = from; i < p.calls.size(); ++i)
    if (p.calls[i].kind == FakePlatform::Kind::Bio && p.calls[i].src == static_cast<PhysAddr>(BioOp::Read))
      v.push_back(p.calls[i].len.value());
  return v;
}

TEST_F(FileTest, SecondReadIsServedFromThePageCache) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  platform_.record = true;
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  const std::uint64_t pgpgin0 = pm().sum_vm_event(PGPGIN);
  for (std::uint64_t off = 0; off < kFileSize; off += 4096)
    ASSERT_EQ(k().sys_read(t, f, buf, 4096, cost_), 4096);
  const auto first = read_bio_sizes(platform_);
  std::uint64_t bytes = 0;
  for (auto b : first) bytes += b;
  EXPECT_EQ(bytes, kFileSize);  // every page read once
  EXPECT_EQ(pm().sum_vm_event(PGPGIN) - pgpgin0, kFileSize / 1024);
  // Ondemand readahead: 16 KiB initial window for a 4 KiB read at 0, ramping to 128 KiB.
  ASSERT_GE(first.size(), 3u);
  EXPECT_EQ(first[0], 16u * 1024);
  EXPECT_EQ(*std::max_element(first.begin(), first.end()), 128u * 1024);
  EXPECT_LE(first.size(), 12u);
  settle();
  EXPECT_EQ(node_stat(NR_FILE_PAGES), static_cast<long>(kFileSize / kPageSize));
  EXPECT_EQ(node_stat(NR_INACTIVE_FILE) + node_stat(NR_ACTIVE_FILE), static_cast<long>(kFileSize / kPageSize));
  // Second pass: no bio at all.
  const std::size_t calls = platform_.calls.size();
  ASSERT_EQ(k().sys_lseek(t, f, 0, OS_SEEK_SET, cost_), 0);
  KernelCost c2;
  for (std::uint64_t off = 0; off < kFileSize; off += 64 * 1024)
    ASSERT_EQ(k().sys_read(t, f, buf, 64 * 1024, c2), 64 * 1024);
  EXPECT_TRUE(read_bio_sizes(platform_, calls).empty());
  EXPECT_EQ(pm().sum_vm_event(PGPGIN) - pgpgin0, kFileSize / 1024);
  // Read twice: the pages are active now.
  settle();
  EXPECT_EQ(node_stat(NR_ACTIVE_FILE), static_cast<long>(kFileSize / kPageSize));
  k().check_consistency();
}

TEST_F(FileTest, AReaderWaitsForItsPageButNotForTheAsyncWindow) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  KernelCost c;
  ASSERT_EQ(k().sys_read(t, f, buf, 4096, c), 4096);
  EXPECT_GE(c.io_wait, platform_.bio_latency);  // the first page's read was waited for (the task sleeps)
  inode* ino = k().fs().lookup("/cfg/data");
  EXPECT_EQ(ino->i_mapping.nrpages, 4u);
  page* marker = k().fs().find_get_page(*ino, 1);  // async_size 3: the marker on page 1
  ASSERT_NE(marker, nullptr);
  EXPECT_TRUE(marker->test(PG_readahead));
  // The next call enters when the task resumed, at the completion it waited for (the
  // fake's clock does not follow the kernel's cursor: moved by hand).
  platform_.advance_to(platform_.clock + c.io_wait);
  KernelCost c2;
  ASSERT_EQ(k().sys_read(t, f, buf, 4096, c2), 4096);  // hits the marker: the next window starts
  EXPECT_LT(c2.memory + c2.io_wait, platform_.bio_latency);            // page 1 came with the first bio (already waited)
  EXPECT_EQ(ino->i_mapping.nrpages, 4u + 8u);  // the window ramps 4 -> 8 pages
  EXPECT_FALSE(marker->test(PG_readahead));
}

TEST_F(FileTest, PageCacheFollowsTheTaskPolicy) {
  task_struct* t = spawn(0);  // on node 0, bound to node 1
  const VirtAddr buf = user_buf(t);
  unsigned long n1 = 1ul << 1;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &n1, 3, cost_), 0);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_EQ(k().sys_read(t, f, buf, kFileSize, cost_), static_cast<long>(kFileSize));
  EXPECT_EQ(node_stat(NR_FILE_PAGES, 1), static_cast<long>(kFileSize / kPageSize));
  EXPECT_EQ(node_stat(NR_FILE_PAGES, 0), 0);
  // Without a policy: the reading CPU's node.
  task_struct* u = spawn(2);  // CPU 2 is on node 1
  task_struct* v = spawn(0);
  const VirtAddr vbuf = user_buf(v);
  const int g = static_cast<int>(k().sys_creat(v, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(v, g, vbuf, 8192, cost_), 8192);
  EXPECT_EQ(node_stat(NR_FILE_PAGES, 0), 2);
  (void)u;
  k().check_consistency();
}

TEST_F(FileTest, WriteDirtiesFsyncWritesAndWaits) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  platform_.record = true;
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, f, buf, 40 * 1024, cost_), 40 * 1024);
  EXPECT_EQ(k().sys_lseek(t, f, 0, OS_SEEK_CUR, cost_), 40 * 1024);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 10);
  EXPECT_EQ(node_stat(NR_DIRTIED), 10);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), 0u);  // nothing written yet
  EXPECT_NE(k().proc_meminfo().find("Dirty:                40 kB"), std::string::npos) << k().proc_meminfo();
  // Rewriting a dirty page does not dirty it again.
  ASSERT_EQ(k().sys_pwrite64(t, f, buf, 100, 0, cost_), 100);
  EXPECT_EQ(node_stat(NR_DIRTIED), 10);
  KernelCost c;
  ASSERT_EQ(k().sys_fsync(t, f, c), 0);
  EXPECT_GE(c.io_wait, platform_.bio_latency);  // fsync waited for its write (the task sleeps)
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 0);
  EXPECT_EQ(node_stat(NR_WRITEBACK), 0);
  EXPECT_EQ(node_stat(NR_WRITTEN), 10);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), 1u);  // one bio: the blocks are contiguous
  EXPECT_EQ(platform_.bytes(FakePlatform::Kind::Bio).value(), 40u * 1024);
  EXPECT_EQ(pm().sum_vm_event(PGPGOUT), 40u);
  // A clean file: fdatasync writes nothing.
  ASSERT_EQ(k().sys_fdatasync(t, f, cost_), 0);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), 1u);
  // The data is on disk: read back after dropping the cache, it needs I/O.
  settle();
  ASSERT_EQ(k().sys_fadvise64(t, f, 0, 0, POSIX_FADV_DONTNEED, cost_), 0);
  EXPECT_EQ(k().fs().lookup("/w")->i_mapping.nrpages, 0u);
  k().check_consistency();
}

TEST_F(FileTest, PartialWriteOfACachedlessPageReadsItFirst) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  platform_.record = true;
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDWR, 0, cost_));
  ASSERT_EQ(k().sys_pwrite64(t, f, buf, 100, 8192 + 10, cost_), 100);
  EXPECT_EQ(read_bio_sizes(platform_).size(), 1u);  // write_begin read the page
  ASSERT_EQ(k().sys_pwrite64(t, f, buf, 4096, 4 * 4096, cost_), 4096);
  EXPECT_EQ(read_bio_sizes(platform_).size(), 1u);  // a whole page needs no read
  EXPECT_EQ(k().fs().lookup("/cfg/data")->i_size, kFileSize);
  k().check_consistency();
}

TEST_F(FileTest, TheFlusherWritesExpiredAndBackgroundDirtyData) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, f, buf, 64 * 1024, cost_), 64 * 1024);
  Kthread* fl = k().kthreads().flusher();
  ASSERT_NE(fl, nullptr);
  KernelCost c;
  fl->threadfn(k().kthreads(), *fl, c);  // young and below the background threshold: not written
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 16);
  platform_.advance_to(platform_.clock + Picoseconds(30'000'000'000'000ull));  // dirty_expire_centisecs
  fl->threadfn(k().kthreads(), *fl, c);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 0);
  EXPECT_EQ(node_stat(NR_WRITEBACK), 16);
  settle();
  EXPECT_EQ(node_stat(NR_WRITEBACK), 0);
  EXPECT_EQ(node_stat(NR_WRITTEN), 16);
  k().check_consistency();
}

TEST_F(FileTest, ADirtyHeavyWriterIsThrottledAndWakesTheFlusher) {
  rebuild_with("[os.vm]\ndirty_bytes = \"1MiB\"\ndirty_background_bytes = \"512KiB\"\n");
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  std::uint64_t bg = 0, thresh = 0;
  k().fs().dirty_limits(bg, thresh);
  EXPECT_EQ(thresh, 256u);
  EXPECT_EQ(bg, 128u);
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  platform_.woken.clear();
  KernelCost c;
  ASSERT_EQ(k().sys_write(t, f, buf, 512 * 1024, c), 512 * 1024);  // 128 pages: at the background line
  EXPECT_EQ(k().fs().nr_dirty_throttled(), 0u);
  ASSERT_EQ(k().sys_write(t, f, buf, 512 * 1024, c), 512 * 1024);  // past freerun (192): paused
  EXPECT_GT(k().fs().nr_dirty_throttled(), 0u);
  EXPECT_GT(k().fs().dirty_pause_total().value(), 0u);
  EXPECT_LE(k().fs().dirty_pause_total().value(), 200'000'000'000ull * k().fs().nr_dirty_throttled());
  Kthread* fl = k().kthreads().flusher();
  EXPECT_NE(std::find(platform_.woken.begin(), platform_.woken.end(), &fl->task), platform_.woken.end());
  // The flusher brings the dirty pages under the background threshold.
  KernelCost fc;
  fl->threadfn(k().kthreads(), *fl, fc);
  EXPECT_LE(node_stat(NR_FILE_DIRTY), 128);
  EXPECT_GT(node_stat(NR_WRITEBACK), 0);
  settle();
  k().check_consistency();
}

class FileReclaimTest : public FileTest {
 protected:
  FileReclaimTest() : FileTest("64MiB") {}
};

TEST_F(FileReclaimTest, CleanPagesAreReclaimedWithShadowsAndRefaultsCounted) {
  rebuild_with("");
  params_.fs.files = {{"/cfg/data", kFileSize, 0, "test"}, {"/big", 96ull << 20, 0, "test"}};
  platform_.drop_timers();
  kernel_.reset();
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  task_struct* t = spawn(0);
  const VirtAddr buf = user_buf(t);
  unsigned long n0 = 1ul;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &n0, 2, cost_), 0);  // node 0 only: 64 MiB for 96 MiB of file
  const int f = static_cast<int>(k().sys_open(t, "/big", O_RDONLY, 0, cost_));
  for (std::uint64_t off = 0; off < (96ull << 20); off += 128 * 1024) {
    ASSERT_EQ(k().sys_read(t, f, buf, 128 * 1024, cost_), 128 * 1024) << off;
    if ((off & ((8 << 20) - 1)) == 0) settle();
  }
  settle();
  inode* ino = k().fs().lookup("/big");
  EXPECT_LT(ino->i_mapping.nrpages, (64ull << 20) / kPageSize);
  EXPECT_GT(pm().sum_vm_event(PGSTEAL_FILE), 0u);
  EXPECT_GT(k().fs().shadow_at(*ino, 0), 0u);  // the first pages went, leaving shadows
  EXPECT_EQ(k().fs().find_get_page(*ino, 0), nullptr);
  k().check_consistency();
  // Read the start again: a refault.
  ASSERT_EQ(k().sys_pread64(t, f, buf, 4096, 0, cost_), 4096);
  EXPECT_GT(node_stat(WORKINGSET_REFAULT_FILE), 0);
  EXPECT_EQ(k().fs().shadow_at(*ino, 0), 0u);
  settle();
  k().check_consistency();
}

TEST_F(FileReclaimTest, DirtyPagesAreWrittenBeforeReclaimFreesThem) {
  task_struct* t = spawn(0);
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, f, buf, 64 * 1024, cost_), 64 * 1024);
  settle();
  inode* ino = k().fs().lookup("/w");
  // kswapd's shrink_folio_list on the node's inactive file list.
  page* pg = k().fs().find_get_page(*ino, 0);
  ASSERT_NE(pg, nullptr);
  ASSERT_TRUE(pg->test(PG_dirty));
  // Reclaim's pageout of the page.
  KernelCost c;
  EXPECT_TRUE(k().fs().pageout(pg, CpuId(0), c));
  EXPECT_TRUE(pg->test(PG_writeback));
  EXPECT_FALSE(pg->test(PG_dirty));
  EXPECT_EQ(node_stat(NR_VMSCAN_WRITE), 1);
  EXPECT_FALSE(k().fs().pageout(pg, CpuId(0), c));  // under writeback already
  settle();
  EXPECT_FALSE(pg->test(PG_writeback));
  EXPECT_EQ(node_stat(NR_WRITTEN), 1);
  k().check_consistency();
}

}  // namespace

namespace {

// shrink_folio_list's file branch on node 0's inactive file list: clean pages
// freed with shadows; dirty pages left to the flusher by direct reclaim, written
// by kswapd (kept under writeback) and freed by its next scan.
TEST_F(FileTest, ShrinkFolioListReclaimsCleanAndWritesDirtyFilePages) {
  task_struct* t = spawn(0);
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_EQ(k().sys_read(t, f, buf, 64 * 1024, cost_), 64 * 1024);
  settle();
  inode* ino = k().fs().lookup("/cfg/data");
  scan_control sc;
  sc.gfp_mask = GFP_KERNEL;
  KernelCost c;
  // 32 pages cached (a 16-page first read gets the full 32-page window); direct reclaim frees
  // them all: read once (FOLIOREF_RECLAIM_CLEAN) or only read ahead.
  EXPECT_EQ(ino->i_mapping.nrpages, 32u);
  EXPECT_EQ(LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_FILE, CpuId(0), c), 32u);
  EXPECT_EQ(ino->i_mapping.nrpages, 0u);
  EXPECT_NE(k().fs().shadow_at(*ino, 3), 0u);
  EXPECT_EQ(node_stat(NR_FILE_PAGES), 0);
  k().check_consistency();
  // Dirty pages: direct reclaim activates them and wakes the flusher.
  const int w = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, w, buf, 64 * 1024, cost_), 64 * 1024);
  settle();
  platform_.woken.clear();
  EXPECT_EQ(LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_FILE, CpuId(0), c), 0u);
  EXPECT_EQ(node_stat(NR_VMSCAN_IMMEDIATE), 16);
  EXPECT_EQ(node_stat(NR_ACTIVE_FILE), 16);
  EXPECT_EQ(platform_.woken.size(), 1u);
  // kswapd writes dirty pages of the inactive list; written, its next scan frees them.
  const int v = static_cast<int>(k().sys_creat(t, "/v", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, v, buf, 32 * 1024, cost_), 32 * 1024);
  settle();
  sc.kswapd = true;
  // Written pages were marked accessed once by write(): the first scan clears PG_referenced
  // (FOLIOREF_RECLAIM_CLEAN keeps a dirty page), the second writes them.
  LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_FILE, CpuId(0), c);
  LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_FILE, CpuId(0), c);
  EXPECT_EQ(node_stat(NR_VMSCAN_WRITE), 8);
  EXPECT_EQ(node_stat(NR_WRITEBACK), 8);
  k().check_consistency();
  settle();
  EXPECT_EQ(node_stat(NR_WRITEBACK), 0);
  EXPECT_EQ(LruTestAccess::shrink_inactive_list(k(), NodeId(0), 32, sc, LRU_INACTIVE_FILE, CpuId(0), c), 8u);
  EXPECT_EQ(k().fs().lookup("/v")->i_mapping.nrpages, 0u);
  k().check_consistency();
}

}  // namespace
