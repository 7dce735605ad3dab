// shmem (os/shmem.h): MAP_SHARED|MAP_ANONYMOUS, memfd_create and SysV segments
// shared across fork (pages faulted before and after it), the counters
// (NR_SHMEM, NR_FILE_PAGES, NR_FILE_MAPPED, MM_SHMEMPAGES), swap-out through
// the swap cache and swap-in on fault and read with page tokens verified,
// IPC_RMID lifetime, every errno case with nothing changed, and a random
// property test with the checker after every step. Also MADV_COLD/MADV_PAGEOUT
// on anonymous, shmem and file pages.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "os/shmem.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class ShmemTest : public SwapTest {
 protected:
  task_struct* fork(task_struct* t) {
    long pid = k().sys_fork(t, cost_);
    return pid > 0 ? k().find_task_by_pid(static_cast<int>(pid)) : nullptr;
  }
  long shared_anon(task_struct* t, std::uint64_t len) {
    return k().sys_mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_);
  }
  long map_fd(task_struct* t, int fd, std::uint64_t len, std::uint64_t off = 0, int type = MAP_SHARED) {
    return k().sys_mmap(t, 0, len, PROT_READ | PROT_WRITE, type, fd, off, cost_);
  }
  std::int64_t node_sum(node_stat_item i) { return pm().global_node_page_state(i); }
  // Every page written by `t` at [a, a + n pages) gets token base + i.
  void write_tokens(task_struct* t, VirtAddr a, int n, std::uint64_t base) {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(touch(t, a + i * kPageSize, true), Kernel::FaultResult::Handled);
      set_token(t, a + i * kPageSize, base + i);
    }
  }
  void expect_tokens(task_struct* t, VirtAddr a, int n, std::uint64_t base) {
    for (int i = 0; i < n; ++i) {
      ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
      EXPECT_EQ(token_at(t, a + i * kPageSize), base + i) << i;
    }
  }
  // Full reclaim of the inactive anon lists of both nodes (what kswapd's pass would do).
  unsigned long shrink_anon(bool deactivate = false) {
    unsigned long n = 0;
    for (int nid = 0; nid < 2; ++nid) {
      scan_control sc;
      sc.gfp_mask = GFP_KERNEL;
      sc.nr_to_reclaim = 1 << 20;
      if (deactivate) LruTestAccess::shrink_active_list(k(), NodeId(nid), 1 << 20, sc, LRU_ACTIVE_ANON, CpuId(0), cost_);
      n += LruTestAccess::shrink_inactive_list(k(), NodeId(nid), 1 << 20, sc, LRU_INACTIVE_ANON, CpuId(0), cost_);
    }
    return n;
  }
};

TEST_F(ShmemTest, SharedAnonymousPagesAreSharedAcrossForkBeforeAndAfter) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(shared_anon(p, 4 * kPageSize));
  write_tokens(p, a, 1, 100);  // page 0 faulted before the fork
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  // Page 1 first faulted by the child after the fork: the parent sees the same page.
  ASSERT_EQ(touch(c, a + kPageSize, true), Kernel::FaultResult::Handled);
  set_token(c, a + kPageSize, 201);
  ASSERT_EQ(touch(p, a + kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(token_at(p, a + kPageSize), 201u);
  EXPECT_EQ(page_at(p, a + kPageSize), page_at(c, a + kPageSize));
  EXPECT_EQ(token_at(c, a), 100u);
  EXPECT_EQ(node_sum(NR_SHMEM), 2);
  EXPECT_EQ(node_sum(NR_FILE_MAPPED), 2);
  EXPECT_EQ(p->mm->rss_stat[MM_SHMEMPAGES], 2);
  EXPECT_EQ(c->mm->rss_stat[MM_SHMEMPAGES], 2);
  k().check_consistency();
  // Unmapped by the parent, the pages stay in the object the child maps.
  ASSERT_EQ(k().sys_munmap(p, a, 4 * kPageSize, cost_), 0);
  EXPECT_EQ(node_sum(NR_SHMEM), 2);
  EXPECT_EQ(node_sum(NR_FILE_MAPPED), 2);
  k().check_consistency();
  k().exit_task(c);  // the last mapping: the object and its pages go
  EXPECT_EQ(node_sum(NR_SHMEM), 0);
  EXPECT_EQ(node_sum(NR_FILE_MAPPED), 0);
  EXPECT_EQ(k().shmem().nr_objects(), 0u);
  k().check_consistency();
}

TEST_F(ShmemTest, ShmemPagesCountAsCachedAndInactiveAnon) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(shared_anon(p, 8 * kPageSize));
  const std::int64_t file0 = node_sum(NR_FILE_PAGES);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  k().lru_add_drain_all();
  EXPECT_EQ(node_sum(NR_SHMEM), 8);
  EXPECT_EQ(node_sum(NR_FILE_PAGES) - file0, 8);  // Cached includes Shmem
  std::int64_t inactive_anon = 0, file_lru = 0;
  for (int n = 0; n < 2; ++n) {
    inactive_anon += pm().node_page_state(NodeId(n), NR_INACTIVE_ANON);
    file_lru += pm().node_page_state(NodeId(n), NR_INACTIVE_FILE) + pm().node_page_state(NodeId(n), NR_ACTIVE_FILE);
  }
  EXPECT_EQ(inactive_anon, 8);  // swap-backed: the anon LRU (folio_is_file_lru is false)
  EXPECT_EQ(file_lru, 0);
  const std::string meminfo = k().proc_meminfo();
  const auto at = meminfo.find("\nShmem:");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::stol(meminfo.substr(at + 7)), 32) << meminfo;  // kB
  k().check_consistency();
}

TEST_F(ShmemTest, SwapOutAndInThroughTheSwapCacheLosesNothing) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 16 << 20), 0);
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(shared_anon(p, 8 * kPageSize));
  write_tokens(p, a, 8, 1000);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  k().lru_add_drain_all();
  const std::uint64_t pswpout0 = ev(PSWPOUT), pswpin0 = ev(PSWPIN);
  // Mapped twice: MADV_PAGEOUT leaves them (page_mapcount != 1).
  ASSERT_EQ(k().sys_madvise(p, a, 8 * kPageSize, MADV_PAGEOUT, cost_), 0);
  EXPECT_EQ(ev(PSWPOUT), pswpout0);
  ASSERT_EQ(k().sys_munmap(c, a, 8 * kPageSize, cost_), 0);
  // Mapped once now: paged out through the swap cache, the object keeps the entries.
  ASSERT_EQ(k().sys_madvise(p, a, 8 * kPageSize, MADV_PAGEOUT, cost_), 0);
  EXPECT_EQ(ev(PSWPOUT) - pswpout0, 8u);
  EXPECT_EQ(p->mm->rss_stat[MM_SHMEMPAGES], 0);
  EXPECT_EQ(node_sum(NR_SHMEM), 0);
  EXPECT_EQ(node_sum(NR_SWAPCACHE), 8);
  EXPECT_EQ(k().shmem().nr_swapped(), 8u);
  k().check_consistency();
  complete_io();
  EXPECT_EQ(shrink_anon(), 8u);  // clean swap-cache pages freed
  EXPECT_EQ(node_sum(NR_SWAPCACHE), 0);
  EXPECT_EQ(k().total_swap_pages() - k().nr_swap_pages(), 8u);
  k().check_consistency();
  // A fault reads each back (major), the slot is freed, the token is the one written.
  const std::uint64_t maj0 = ev(PGMAJFAULT);
  expect_tokens(p, a, 8, 1000);
  EXPECT_EQ(ev(PSWPIN) - pswpin0, 8u);
  EXPECT_EQ(ev(PGMAJFAULT) - maj0, 8u);
  EXPECT_EQ(k().shmem().nr_swapped(), 0u);
  EXPECT_EQ(node_sum(NR_SHMEM), 8);
  expect_swap_empty();
}

TEST_F(ShmemTest, MemfdReadWriteMmapFtruncateAndSwapInByRead) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 16 << 20), 0);
  task_struct* p = spawn(0);
  const long fd = k().sys_memfd_create(p, "buf", MFD_CLOEXEC | MFD_ALLOW_SEALING, cost_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fd, 0);  // the lowest free fd
  const int f = static_cast<int>(fd);
  const VirtAddr wbuf = user_buf(p, 3 * kPageSize);
  EXPECT_EQ(k().sys_write(p, f, wbuf, 3 * kPageSize, cost_), static_cast<long>(3 * kPageSize));
  ASSERT_EQ(k().sys_munmap(p, wbuf, 3 * kPageSize, cost_), 0);  // kept out of the swap checks below
  EXPECT_EQ(k().sys_lseek(p, f, 0, OS_SEEK_END, cost_), static_cast<long>(3 * kPageSize));
  EXPECT_EQ(node_sum(NR_SHMEM), 3);
  ASSERT_EQ(k().sys_ftruncate(p, f, 4 * kPageSize, cost_), 0);
  const VirtAddr a = static_cast<VirtAddr>(map_fd(p, f, 4 * kPageSize));
  ASSERT_GT(a, 0u);
  EXPECT_EQ(page_at(p, a), nullptr);
  write_tokens(p, a, 4, 500);  // the first three pages are the written ones, the fourth is new
  EXPECT_EQ(node_sum(NR_SHMEM), 4);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  expect_tokens(c, a, 4, 500);
  k().exit_task(c);
  // Beyond EOF: SIGBUS.
  const VirtAddr big = static_cast<VirtAddr>(map_fd(p, f, 8 * kPageSize));
  EXPECT_EQ(touch(p, big + 5 * kPageSize, false), Kernel::FaultResult::Sigbus);
  ASSERT_EQ(k().sys_munmap(p, big, 8 * kPageSize, cost_), 0);
  // Paged out, then read(): swap-in by the read path, no mapping needed.
  k().lru_add_drain_all();
  ASSERT_EQ(k().sys_madvise(p, a, 4 * kPageSize, MADV_PAGEOUT, cost_), 0);
  complete_io();
  shrink_anon();
  EXPECT_EQ(k().shmem().nr_swapped(), 4u);
  const std::uint64_t pswpin0 = ev(PSWPIN);
  const VirtAddr rbuf = user_buf(p, 2 * kPageSize);
  EXPECT_EQ(k().sys_pread64(p, f, rbuf, 2 * kPageSize, 0, cost_), static_cast<long>(2 * kPageSize));
  EXPECT_EQ(ev(PSWPIN) - pswpin0, 2u);
  k().check_consistency();
  expect_tokens(p, a, 4, 500);
  // ftruncate shrinking: the mapped tail is unmapped and freed.
  ASSERT_EQ(k().sys_ftruncate(p, f, kPageSize, cost_), 0);
  EXPECT_EQ(node_sum(NR_SHMEM), 1);
  EXPECT_EQ(p->mm->rss_stat[MM_SHMEMPAGES], 1);
  EXPECT_EQ(touch(p, a + kPageSize, false), Kernel::FaultResult::Sigbus);
  k().check_consistency();
  // close keeps the object while mapped; munmap then drops it.
  ASSERT_EQ(k().sys_close(p, f, cost_), 0);
  EXPECT_EQ(k().shmem().nr_objects(), 1u);
  ASSERT_EQ(k().sys_munmap(p, a, 4 * kPageSize, cost_), 0);
  EXPECT_EQ(k().shmem().nr_objects(), 0u);
  expect_swap_empty();
}

// read()/write() of a memfd copy through the user's page tables (os/uaccess.cpp)
// as those of a file do: a fresh buffer is faulted in from kernel mode, a buffer
// without the access the copy needs is -EFAULT with nothing changed and no
// signal, a buffer that ends at a hole gets a short count.
TEST_F(ShmemTest, MemfdReadAndWriteCopyThroughTheUsersPageTables) {
  task_struct* p = spawn(0);
  const int f = static_cast<int>(k().sys_memfd_create(p, "buf", 0, cost_));
  ASSERT_EQ(f, 0);
  // write() from a present buffer: no fault; from an unmapped one: -EFAULT, size unchanged.
  const VirtAddr src = user_buf(p, 4 * kPageSize);
  const std::uint64_t flt0 = ev(PGFAULT);
  ASSERT_EQ(k().sys_write(p, f, src, 4 * kPageSize, cost_), static_cast<long>(4 * kPageSize));
  EXPECT_EQ(ev(PGFAULT), flt0);
  EXPECT_EQ(k().sys_pwrite64(p, f, 0x1000, kPageSize, 4 * kPageSize, cost_), -EFAULT);
  EXPECT_EQ(k().sys_lseek(p, f, 0, OS_SEEK_END, cost_), static_cast<long>(4 * kPageSize));
  EXPECT_EQ(node_sum(NR_SHMEM), 4);
  // read() into a fresh buffer: one kernel-mode fault per buffer page, its pages dirty.
  const VirtAddr dst = user_buf(p, 4 * kPageSize, false);
  const std::uint64_t flt1 = ev(PGFAULT);
  const long anon0 = p->mm->rss_stat[MM_ANONPAGES];
  ASSERT_EQ(k().sys_pread64(p, f, dst, 4 * kPageSize, 0, cost_), static_cast<long>(4 * kPageSize));
  EXPECT_EQ(ev(PGFAULT) - flt1, 4u);
  EXPECT_EQ(p->mm->rss_stat[MM_ANONPAGES] - anon0, 4);
  EXPECT_EQ(p->nr_sigsegv, 0u);
  // A read-only buffer: -EFAULT, the file position unchanged, no signal.
  ASSERT_EQ(k().sys_lseek(p, f, kPageSize, OS_SEEK_SET, cost_), static_cast<long>(kPageSize));
  const long ro = mmap_anon(p, 2 * kPageSize, PROT_READ, MAP_POPULATE);
  ASSERT_GT(ro, 0);
  EXPECT_EQ(k().sys_read(p, f, static_cast<VirtAddr>(ro), kPageSize, cost_), -EFAULT);
  EXPECT_EQ(k().sys_lseek(p, f, 0, OS_SEEK_CUR, cost_), static_cast<long>(kPageSize));
  EXPECT_EQ(p->nr_sigsegv, 0u);
  // A buffer whose second page is a hole: the first page's bytes, the position after them.
  const VirtAddr two = user_buf(p, 2 * kPageSize);
  ASSERT_EQ(k().sys_munmap(p, two + kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(k().sys_read(p, f, two, 2 * kPageSize, cost_), static_cast<long>(kPageSize));
  EXPECT_EQ(k().sys_lseek(p, f, 0, OS_SEEK_CUR, cost_), static_cast<long>(2 * kPageSize));
  // The same hole for write(): a short write, i_size grows by what was written only.
  EXPECT_EQ(k().sys_pwrite64(p, f, two, 2 * kPageSize, 4 * kPageSize, cost_), static_cast<long>(kPageSize));
  EXPECT_EQ(k().sys_lseek(p, f, 0, OS_SEEK_END, cost_), static_cast<long>(5 * kPageSize));
  k().check_consistency();
}

TEST_F(ShmemTest, MemfdSharesTheFdSpaceWithFiles) {
  task_struct* p = spawn(0);
  ASSERT_EQ(k().fs().create_file("/data/a", kPageSize, 0), 0);
  EXPECT_EQ(k().sys_memfd_create(p, "x", 0, cost_), 0);
  EXPECT_EQ(k().sys_open(p, "/data/a", O_RDONLY, 0, cost_), 1);
  EXPECT_EQ(k().sys_memfd_create(p, "y", 0, cost_), 2);
  ASSERT_EQ(k().sys_close(p, 0, cost_), 0);
  EXPECT_EQ(k().sys_open(p, "/data/a", O_RDONLY, 0, cost_), 0);
}

TEST_F(ShmemTest, MemfdErrnosChangeNothing) {
  task_struct* p = spawn(0);
  const std::string before = snapshot(p);
  EXPECT_EQ(k().sys_memfd_create(p, nullptr, 0, cost_), -EFAULT);
  EXPECT_EQ(k().sys_memfd_create(p, "x", 0x100, cost_), -EINVAL);
  EXPECT_EQ(k().sys_memfd_create(p, std::string(250, 'n').c_str(), 0, cost_), -EINVAL);
  EXPECT_EQ(k().sys_memfd_create(p, "x", MFD_HUGETLB, cost_), -EINVAL);
  EXPECT_EQ(k().shmem().nr_objects(), 0u);
  EXPECT_EQ(snapshot(p), before);
  const int f = static_cast<int>(k().sys_memfd_create(p, std::string(249, 'n').c_str(), 0, cost_));
  ASSERT_EQ(f, 0);
  EXPECT_EQ(k().sys_ftruncate(p, f, -1, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(p, f, -1, OS_SEEK_SET, cost_), -EINVAL);
  EXPECT_EQ(k().sys_lseek(p, f, 0, 7, cost_), -EINVAL);
  EXPECT_EQ(k().sys_pread64(p, f, 0, 1, -1, cost_), -EINVAL);
  EXPECT_EQ(map_fd(p, f, kPageSize, 0, MAP_PRIVATE), -ENODEV);
  EXPECT_EQ(k().sys_read(p, 9, 0, 1, cost_), -EBADF);
  EXPECT_EQ(k().sys_read(p, f, 0, 10, cost_), 0);  // empty
  k().check_consistency();
}

TEST_F(ShmemTest, SysvSegmentSharedAcrossForkAndDestroyedAfterRmidAndLastDetach) {
  task_struct* p = spawn(0);
  const long id = k().sys_shmget(p, 0x1234, 3 * kPageSize, IPC_CREAT | 0600, cost_);
  ASSERT_GE(id, 0);
  EXPECT_EQ(k().sys_shmget(p, 0x1234, kPageSize, 0, cost_), id);  // the key finds it
  const VirtAddr a = static_cast<VirtAddr>(k().sys_shmat(p, static_cast<int>(id), 0, 0, cost_));
  ASSERT_GT(a, 0u);
  write_tokens(p, a, 1, 70);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  shmid_ds ds;
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_STAT, &ds, cost_), 0);
  EXPECT_EQ(ds.shm_nattch, 2u);
  EXPECT_EQ(ds.shm_segsz, 3 * kPageSize);
  EXPECT_EQ(ds.shm_cpid, p->tgid);
  // The child attaches it a second time and writes there: the parent reads it.
  const VirtAddr b = static_cast<VirtAddr>(k().sys_shmat(c, static_cast<int>(id), 0, SHM_RDONLY, cost_));
  ASSERT_GT(b, 0u);
  EXPECT_EQ(touch(c, b + kPageSize, true), Kernel::FaultResult::Sigsegv);  // read-only attach
  write_tokens(c, a + 2 * kPageSize, 1, 72);
  expect_tokens(p, a + 2 * kPageSize, 1, 72);
  expect_tokens(c, b, 1, 70);
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_STAT, &ds, cost_), 0);
  EXPECT_EQ(ds.shm_nattch, 3u);
  k().check_consistency();
  // IPC_RMID: the key is gone at once, the segment lives while attached.
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_RMID, nullptr, cost_), 0);
  EXPECT_EQ(k().sys_shmget(p, 0x1234, kPageSize, 0, cost_), -ENOENT);
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_STAT, &ds, cost_), 0);
  EXPECT_TRUE(ds.mode & SHM_DEST);
  EXPECT_EQ(k().shmem().nr_segments(), 1u);
  ASSERT_EQ(k().sys_shmdt(p, a, cost_), 0);
  ASSERT_EQ(k().sys_shmdt(c, b, cost_), 0);
  EXPECT_EQ(k().shmem().nr_segments(), 1u);  // the child's fork copy of the first attach remains
  expect_tokens(c, a, 1, 70);
  k().exit_task(c);
  EXPECT_EQ(k().shmem().nr_segments(), 0u);
  EXPECT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_STAT, &ds, cost_), -EINVAL);
  EXPECT_EQ(node_sum(NR_SHMEM), 0);
  k().check_consistency();
}

TEST_F(ShmemTest, SysvErrnosChangeNothing) {
  task_struct* p = spawn(0);
  const long id = k().sys_shmget(p, 42, 2 * kPageSize, IPC_CREAT, cost_);
  ASSERT_GE(id, 0);
  const std::string before = snapshot(p);
  EXPECT_EQ(k().sys_shmget(p, 42, kPageSize, IPC_CREAT | IPC_EXCL, cost_), -EEXIST);
  EXPECT_EQ(k().sys_shmget(p, 42, 3 * kPageSize, 0, cost_), -EINVAL);  // larger than the segment
  EXPECT_EQ(k().sys_shmget(p, 43, kPageSize, 0, cost_), -ENOENT);
  EXPECT_EQ(k().sys_shmget(p, IPC_PRIVATE, 0, IPC_CREAT, cost_), -EINVAL);  // below SHMMIN
  EXPECT_EQ(k().sys_shmget(p, IPC_PRIVATE, SHMMAX + 1, IPC_CREAT, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmget(p, IPC_PRIVATE, kPageSize, IPC_CREAT | SHM_HUGETLB, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmat(p, -1, 0, 0, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmat(p, static_cast<int>(id) + 1, 0, 0, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmat(p, static_cast<int>(id), 0x10000123, 0, cost_), -EINVAL);  // not SHMLBA-aligned
  EXPECT_EQ(k().sys_shmat(p, static_cast<int>(id), 0, SHM_REMAP, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmdt(p, 0x10000000, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmdt(p, 0x10000001, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_STAT, nullptr, cost_), -EFAULT);
  EXPECT_EQ(k().sys_shmctl(p, static_cast<int>(id), 99, nullptr, cost_), -EINVAL);
  EXPECT_EQ(k().sys_shmctl(p, static_cast<int>(id) + 1, IPC_RMID, nullptr, cost_), -EINVAL);
  EXPECT_EQ(snapshot(p), before);
  EXPECT_EQ(k().shmem().nr_segments(), 1u);
  // SHM_RND rounds an unaligned address down.
  const long r = k().sys_shmat(p, static_cast<int>(id), 0x10000123, SHM_RND, cost_);
  EXPECT_EQ(r, 0x10000000);
  // An IPC_PRIVATE segment removed without attaches goes at once.
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(id), IPC_RMID, nullptr, cost_), 0);
  EXPECT_EQ(k().shmem().nr_segments(), 1u);
  ASSERT_EQ(k().sys_shmdt(p, 0x10000000, cost_), 0);
  EXPECT_EQ(k().shmem().nr_segments(), 0u);
  const long q = k().sys_shmget(p, IPC_PRIVATE, kPageSize, 0, cost_);
  ASSERT_GE(q, 0);
  ASSERT_EQ(k().sys_shmctl(p, static_cast<int>(q), IPC_RMID, nullptr, cost_), 0);
  EXPECT_EQ(k().shmem().nr_segments(), 0u);
  k().check_consistency();
}

TEST_F(ShmemTest, MigratingAShmemPageMovesItsObjectSlot) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(shared_anon(p, kPageSize));
  write_tokens(p, a, 1, 9);
  const page* before = page_at(p, a);
  ASSERT_EQ(pm().page_to_nid(before).value(), 0);
  int node = 1, status = -1;
  const VirtAddr pages[1] = {a};
  EXPECT_EQ(k().sys_move_pages(p, 0, 1, pages, &node, &status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status, 1);
  EXPECT_EQ(pm().page_to_nid(page_at(p, a)).value(), 1);
  EXPECT_EQ(token_at(p, a), 9u);
  k().check_consistency();
}

TEST_F(ShmemTest, MadviseColdDeactivatesAndPageoutSwapsPrivateAnonymous) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 16 << 20), 0);
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(map_touched(p, 6, 300));
  k().lru_add_drain_all();
  for (int i = 0; i < 6; ++i) k().mark_page_accessed(page_at(p, a + i * kPageSize));
  for (int i = 0; i < 6; ++i) k().mark_page_accessed(page_at(p, a + i * kPageSize));  // active now
  ASSERT_TRUE(page_at(p, a)->test(PG_active));
  const std::uint64_t deact0 = ev(PGDEACTIVATE);
  ASSERT_EQ(k().sys_madvise(p, a, 3 * kPageSize, MADV_COLD, cost_), 0);
  EXPECT_EQ(ev(PGDEACTIVATE) - deact0, 3u);
  EXPECT_FALSE(page_at(p, a)->test(PG_active));
  EXPECT_FALSE(page_at(p, a)->test(PG_referenced));
  EXPECT_FALSE(pte_at(p, a) & _PAGE_ACCESSED);
  EXPECT_TRUE(page_at(p, a + 3 * kPageSize)->test(PG_active));
  k().check_consistency();
  const std::uint64_t out0 = ev(PSWPOUT);
  ASSERT_EQ(k().sys_madvise(p, a, 6 * kPageSize, MADV_PAGEOUT, cost_), 0);
  EXPECT_EQ(ev(PSWPOUT) - out0, 6u);
  EXPECT_EQ(p->mm->rss_stat[MM_ANONPAGES], 0);
  EXPECT_EQ(p->mm->rss_stat[MM_SWAPENTS], 6);
  k().check_consistency();
  complete_io();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(token_at(p, a + i * kPageSize), ~0ull);  // not mapped
  for (int i = 0; i < 6; ++i) ASSERT_EQ(touch(p, a + i * kPageSize, false), Kernel::FaultResult::Handled);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(token_at(p, a + i * kPageSize), 300u + i);
  k().check_consistency();
}

TEST_F(ShmemTest, MadvisePageoutSkipsPagesMappedTwiceAndDropsCleanFilePages) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 16 << 20), 0);
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(map_touched(p, 2, 10));
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  const std::uint64_t out0 = ev(PSWPOUT);
  ASSERT_EQ(k().sys_madvise(p, a, 2 * kPageSize, MADV_PAGEOUT, cost_), 0);
  EXPECT_EQ(ev(PSWPOUT), out0);  // shared copy-on-write with the child: left alone
  EXPECT_EQ(p->mm->rss_stat[MM_ANONPAGES], 2);
  // A clean page-cache page mapped once is dropped from the cache.
  ASSERT_EQ(k().fs().create_file("/data/f", 4 * kPageSize, 0), 0);
  const int fd = static_cast<int>(k().sys_open(p, "/data/f", O_RDONLY, 0, cost_));
  ASSERT_GE(fd, 0);
  const VirtAddr f = static_cast<VirtAddr>(k().sys_mmap(p, 0, 4 * kPageSize, PROT_READ, MAP_SHARED, fd, 0, cost_));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(p, f + i * kPageSize, false), Kernel::FaultResult::Handled);
  k().fs().complete_io(CpuId(0), cost_);
  platform_.advance_to(platform_.clock + 10 * platform_.bio_latency);
  k().lru_add_drain_all();
  const std::int64_t cached = node_sum(NR_FILE_PAGES);
  ASSERT_EQ(k().sys_madvise(p, f, 4 * kPageSize, MADV_PAGEOUT, cost_), 0);
  EXPECT_EQ(p->mm->rss_stat[MM_FILEPAGES], 0);
  EXPECT_EQ(node_sum(NR_FILE_PAGES), cached - 4);
  k().check_consistency();
}

// Random shared-memory work with the checker after every step: shared anonymous,
// memfd and SysV mappings, writes with tokens, fork, exit, munmap, MADV_PAGEOUT and
// reclaim; every read checks the token last written at that object offset.
class ShmemPropertyTest : public ShmemTest, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(ShmemPropertyTest, RandomSharingForkReclaimLosesNothing) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 32 << 20), 0);
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  struct Map {
    VirtAddr a;
    int pages;
    const shmem_inode_info* obj;
  };
  struct Proc {
    task_struct* t;
    std::vector<Map> maps;
  };
  std::vector<Proc> procs{{spawn(0), {}}};
  std::map<std::pair<std::uint32_t, int>, std::uint64_t> tokens;  // (object id, page) -> token
  std::uint64_t next = 1, verified = 0;
  std::vector<int> shmids;
  for (int step = 0; step < 600; ++step) {
    if (procs.empty()) procs.push_back({spawn(static_cast<int>(rnd(4))), {}});
    Proc& pr = procs[rnd(procs.size())];
    task_struct* t = pr.t;
    const int op = static_cast<int>(rnd(100));
    if (op < 15) {  // a new mapping: shared anonymous, memfd or SysV
      int pages = 1 + static_cast<int>(rnd(8));
      long a = -1;
      const int kind = static_cast<int>(rnd(3));
      if (kind == 0) {
        a = shared_anon(t, pages * kPageSize);
      } else if (kind == 1) {
        const long fd = k().sys_memfd_create(t, "m", 0, cost_);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(k().sys_ftruncate(t, static_cast<int>(fd), pages * kPageSize, cost_), 0);
        a = map_fd(t, static_cast<int>(fd), pages * kPageSize);
        ASSERT_EQ(k().sys_close(t, static_cast<int>(fd), cost_), 0);
      } else {
        long id = shmids.empty() || rnd(2) ? k().sys_shmget(t, IPC_PRIVATE, pages * kPageSize, 0600, cost_)
                                            : shmids[rnd(shmids.size())];
        if (id >= 0) {
          shmid_ds ds;
          if (k().sys_shmctl(t, static_cast<int>(id), IPC_STAT, &ds, cost_) == 0) {
            pages = static_cast<int>(ds.shm_segsz / kPageSize);
            a = k().sys_shmat(t, static_cast<int>(id), 0, 0, cost_);
            if (rnd(3) == 0) k().sys_shmctl(t, static_cast<int>(id), IPC_RMID, nullptr, cost_);
            else shmids.push_back(static_cast<int>(id));
          }
        }
      }
      if (a > 0) {
        const vm_area_struct* v = find_vma(*t->mm, static_cast<VirtAddr>(a));
        pr.maps.push_back({static_cast<VirtAddr>(a), pages, v->vm_shmem.get()});
      }
    } else if (op < 55 && !pr.maps.empty()) {  // write or read a page
      const Map& m = pr.maps[rnd(pr.maps.size())];
      const int i = static_cast<int>(rnd(static_cast<std::uint64_t>(m.pages)));
      const bool write = rnd(2);
      ASSERT_EQ(touch(t, m.a + i * kPageSize, write), Kernel::FaultResult::Handled);
      if (write) {
        set_token(t, m.a + i * kPageSize, next);
        tokens[{m.obj->id, i}] = next++;
      } else {
        auto it = tokens.find({m.obj->id, i});
        EXPECT_EQ(token_at(t, m.a + i * kPageSize), it == tokens.end() ? 0 : it->second) << "step " << step;
        ++verified;
      }
    } else if (op < 63 && procs.size() < 4) {  // fork
      task_struct* c = fork(t);
      if (c) procs.push_back({c, pr.maps});
    } else if (op < 68 && procs.size() > 1) {  // exit
      const std::size_t idx = static_cast<std::size_t>(&pr - procs.data());
      k().exit_task(t);
      procs.erase(procs.begin() + static_cast<long>(idx));
    } else if (op < 76 && !pr.maps.empty()) {  // munmap or shmdt
      const std::size_t mi = rnd(pr.maps.size());
      const Map m = pr.maps[mi];
      if (m.obj->shm_id >= 0 && find_vma(*t->mm, m.a)->vm_pgoff == 0)
        ASSERT_EQ(k().sys_shmdt(t, m.a, cost_), 0);
      else
        ASSERT_EQ(k().sys_munmap(t, m.a, m.pages * kPageSize, cost_), 0);
      pr.maps.erase(pr.maps.begin() + static_cast<long>(mi));
    } else if (op < 88 && !pr.maps.empty()) {  // MADV_PAGEOUT of a mapping
      const Map& m = pr.maps[rnd(pr.maps.size())];
      k().lru_add_drain_all();
      ASSERT_EQ(k().sys_madvise(t, m.a, m.pages * kPageSize, rnd(3) ? MADV_PAGEOUT : MADV_COLD, cost_), 0);
    } else {  // the writes complete; reclaim frees clean swap-cache pages
      complete_io();
      shrink_anon();
    }
    k().check_consistency();
  }
  for (Proc& pr : procs) k().exit_task(pr.t);
  task_struct* last = spawn(0);
  for (int id : shmids) k().sys_shmctl(last, id, IPC_RMID, nullptr, cost_);
  EXPECT_GT(verified, 50u);
  complete_io();  // a swap-cache page whose object died under writeback is reclaimed later
  shrink_anon(/*deactivate=*/true);
  EXPECT_EQ(k().shmem().nr_objects(), 0u);  // every object went with its last user
  EXPECT_EQ(node_sum(NR_SHMEM), 0);
  expect_swap_empty();
}

INSTANTIATE_TEST_SUITE_P(Seeds, ShmemPropertyTest, ::testing::Values(1u, 2u, 3u, 4u));

}  // namespace
