// File-backed mmap (os/memory.cpp do_fault, os/filemap.cpp filemap_fault,
// os/rmap.cpp file rmap, os/msync.cpp): mmap's errno cases with nothing
// changed, major and minor faults with fault-around, MAP_SHARED's
// dirty -> writeback -> clean cycle through msync, MAP_PRIVATE copy-on-write
// kept separate across fork, reclaim unmapping mapped file pages, truncation
// (SIGBUS beyond EOF), page tokens surviving writeback + reclaim + refault,
// msync's errnos, and a random property test with the checker after every step.
#include <gtest/gtest.h>

#include <cerrno>
#include <random>

#include "os/mmap.h"
#include "os/syscalls.h"
#include "tests/os/file_test_util.h"
#include "tests/os/lru_test_access.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class FileMmapTest : public FileTest {
 protected:
  long open_data(task_struct* t, int flags = O_RDWR) {
    return k().sys_open(t, "/cfg/data", flags, 0, cost_);
  }
  long map(task_struct* t, std::uint64_t len, int prot, int flags, long fd, std::uint64_t off = 0) {
    return k().sys_mmap(t, 0, len, prot, flags, static_cast<int>(fd), off, cost_);
  }
  pteval_t pte(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->leaf : 0;
  }
  page* page_at(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->pg : nullptr;
  }
  inode& data() { return *k().fs().lookup("/cfg/data"); }
  // Everything a failed call must leave as it was (snapshot drains the per-cpu lists first).
  std::string state(task_struct* t) {
    std::string s = snapshot(t);
    return s + fs_snapshot(t);
  }
  std::uint64_t vm_event(vm_event_item e) { return pm().sum_vm_event(e); }
  // Direct-reclaim scans of node 0's file lists until nothing more is freed.
  void reclaim_file() {
    scan_control sc;
    sc.gfp_mask = GFP_KERNEL;
    sc.kswapd = true;
    KernelCost c;
    for (int i = 0; i < 8; ++i) {
      settle();
      LruTestAccess::shrink_inactive_list(k(), NodeId(0), 1024, sc, LRU_INACTIVE_FILE, CpuId(0), c);
      LruTestAccess::shrink_active_list(k(), NodeId(0), 1024, sc, LRU_ACTIVE_FILE, CpuId(0), c);
    }
    settle();
  }
};

TEST_F(FileMmapTest, MmapOfAFileHasTheManPageErrnosAndChangesNothingOnError) {
  task_struct* t = spawn();
  const long ro = open_data(t, O_RDONLY);
  const long wo = k().sys_open(t, "/cfg/data", O_WRONLY, 0, cost_);
  ASSERT_GE(ro, 0);
  ASSERT_GE(wo, 0);
  const std::string before = state(t);
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_PRIVATE, -1), -EBADF);
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_PRIVATE, 77), -EBADF);
  EXPECT_EQ(map(t, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro), -EACCES);  // shared writable on O_RDONLY
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_PRIVATE, wo), -EACCES);              // not open for reading
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_SHARED, wo), -EACCES);
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_PRIVATE | MAP_HUGETLB, ro), -EINVAL);  // not a hugetlbfs file
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_PRIVATE, ro, 100), -EINVAL);           // unaligned offset
  EXPECT_EQ(map(t, 0, PROT_READ, MAP_PRIVATE, ro), -EINVAL);
  EXPECT_EQ(map(t, 4096, PROT_READ, MAP_SHARED | MAP_PRIVATE, ro), -EINVAL);
  EXPECT_EQ(state(t), before);
  // What is allowed: private writable and shared read-only mappings of an O_RDONLY file.
  const long a = map(t, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro);
  const long b = map(t, 8192, PROT_READ, MAP_SHARED, ro);
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  // A shared mapping of an O_RDONLY file can never become writable (VM_MAYWRITE cleared).
  EXPECT_EQ(k().sys_mprotect(t, static_cast<VirtAddr>(b), 8192, PROT_READ | PROT_WRITE, cost_), -EACCES);
  k().check_consistency();
}

TEST_F(FileMmapTest, FirstTouchIsAMajorFaultAndFaultAroundMapsCachedNeighbours) {
  task_struct* t = spawn();
  const long fd = open_data(t, O_RDONLY);
  // At a 2 MiB-aligned address: the fault-around windows are aligned in the address space.
  const long a = k().sys_mmap(t, 0x40000000, kFileSize, PROT_READ, MAP_PRIVATE | MAP_FIXED, static_cast<int>(fd), 0, cost_);
  ASSERT_EQ(a, 0x40000000);
  const auto base = static_cast<VirtAddr>(a);
  ASSERT_EQ(touch(t, base, false), Kernel::FaultResult::Handled);
  // Nothing was cached: filemap_fault read the page and the read-around window (32 pages from 0).
  EXPECT_EQ(t->maj_flt, 1u);
  EXPECT_EQ(t->min_flt, 0u);
  EXPECT_EQ(vm_event(PGMAJFAULT), 1u);
  EXPECT_EQ(data().i_mapping.nrpages, 32u);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 1);
  EXPECT_FALSE(pte(t, base) & _PAGE_RW);
  settle();
  // The neighbour is cached now: a minor fault, and fault-around maps the 64 KiB window.
  ASSERT_EQ(touch(t, base + 5 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->maj_flt, 1u);
  EXPECT_EQ(t->min_flt, 1u);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 16);
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 16);
  // Inside the window: no fault at all.
  const std::uint64_t faults = t->min_flt;
  ASSERT_EQ(touch(t, base + 15 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->min_flt, faults);
  // The next window skips the readahead marker (page 24); touching the marker
  // starts the async readahead, still a minor fault.
  ASSERT_EQ(touch(t, base + 16 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 31);
  EXPECT_EQ(pte(t, base + 24 * kPageSize), 0u);
  ASSERT_EQ(touch(t, base + 24 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->maj_flt, 1u);
  EXPECT_GT(data().i_mapping.nrpages, 32u);
  k().check_consistency();
  // Beyond EOF inside the mapping: SIGBUS.
  const long big = map(t, 2 * kFileSize, PROT_READ, MAP_SHARED, fd);
  ASSERT_GT(big, 0);
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(big) + kFileSize, false), Kernel::FaultResult::Sigbus);
  // munmap drops the mappings and their references, the cache keeps the pages.
  const std::uint64_t cached = data().i_mapping.nrpages;
  ASSERT_EQ(k().sys_munmap(t, base, kFileSize, cost_), 0);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 0);
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 0);
  EXPECT_EQ(data().i_mapping.nrpages, cached);
  k().check_consistency();
}

TEST_F(FileMmapTest, SharedWritesDirtyTheCacheAndMsyncCleansAndWriteProtects) {
  task_struct* t = spawn();
  const long fd = open_data(t);
  const long a = map(t, 16 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  ASSERT_GT(a, 0);
  const auto base = static_cast<VirtAddr>(a);
  ASSERT_EQ(touch(t, base, false), Kernel::FaultResult::Handled);
  settle();
  // A read maps the clean page read-only (write notification).
  EXPECT_FALSE(pte(t, base) & _PAGE_RW);
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  // The first write faults, dirties the page and makes the entry writable.
  const std::uint64_t f0 = t->min_flt;
  ASSERT_EQ(touch(t, base, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->min_flt, f0 + 1);
  EXPECT_TRUE(pte(t, base) & _PAGE_RW);
  EXPECT_TRUE(pte(t, base) & _PAGE_DIRTY);
  EXPECT_EQ(data().i_mapping.nr_dirty, 1u);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 1);
  // A write fault on a page not mapped yet (do_shared_fault) dirties it too.
  ASSERT_EQ(touch(t, base + 3 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(data().i_mapping.nr_dirty, 2u);
  k().check_consistency();
  // msync(MS_ASYNC) starts nothing (Linux 6.1); MS_SYNC writes and waits.
  ASSERT_EQ(k().sys_msync(t, base, 16 * kPageSize, MS_ASYNC, cost_), 0);
  EXPECT_EQ(data().i_mapping.nr_dirty, 2u);
  const std::uint64_t out = vm_event(PGPGOUT);
  ASSERT_EQ(k().sys_msync(t, base, 16 * kPageSize, MS_SYNC, cost_), 0);
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  EXPECT_EQ(data().i_mapping.nr_writeback, 0u);
  EXPECT_EQ(vm_event(PGPGOUT), out + 8);  // two 4 KiB pages
  // page_mkclean: read-only and clean again, so the next write faults and dirties.
  EXPECT_FALSE(pte(t, base) & (_PAGE_RW | _PAGE_DIRTY));
  EXPECT_FALSE(pte(t, base + 3 * kPageSize) & (_PAGE_RW | _PAGE_DIRTY));
  k().check_consistency();
  const std::uint64_t f1 = t->min_flt;
  ASSERT_EQ(touch(t, base + 3 * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->min_flt, f1 + 1);
  EXPECT_EQ(data().i_mapping.nr_dirty, 1u);
  // fsync's writeback write-protects the mapping as well.
  ASSERT_EQ(k().sys_fsync(t, static_cast<int>(fd), cost_), 0);
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  EXPECT_FALSE(pte(t, base + 3 * kPageSize) & _PAGE_RW);
  // Writes to a hole of a grown file allocate its block at the write fault.
  const long w = k().sys_open(t, "/w", O_RDWR | O_CREAT, 0644, cost_);
  ASSERT_EQ(k().sys_ftruncate(t, static_cast<int>(w), 8 * kPageSize, cost_), 0);
  const std::uint64_t free_before = k().fs().free_blocks();
  const long m = map(t, 8 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, w);
  ASSERT_EQ(touch(t, static_cast<VirtAddr>(m) + kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().fs().free_blocks(), free_before - 1);
  EXPECT_EQ(k().fs().lookup("/w")->nr_blocks, 1u);
  ASSERT_EQ(k().sys_msync(t, static_cast<VirtAddr>(m), 8 * kPageSize, MS_SYNC, cost_), 0);
  EXPECT_EQ(k().fs().lookup("/w")->i_mapping.nr_dirty, 0u);
  k().check_consistency();
}

TEST_F(FileMmapTest, MsyncErrnos) {
  task_struct* t = spawn();
  const long fd = open_data(t);
  const long a = map(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  ASSERT_GT(a, 0);
  const auto base = static_cast<VirtAddr>(a);
  ASSERT_EQ(touch(t, base, true), Kernel::FaultResult::Handled);
  const std::string before = state(t);
  EXPECT_EQ(k().sys_msync(t, base, kPageSize, 8, cost_), -EINVAL);                   // unknown flag
  EXPECT_EQ(k().sys_msync(t, base + 1, kPageSize, MS_SYNC, cost_), -EINVAL);         // unaligned
  EXPECT_EQ(k().sys_msync(t, base, kPageSize, MS_SYNC | MS_ASYNC, cost_), -EINVAL);  // both
  EXPECT_EQ(k().sys_msync(t, ~0ull & ~(kPageSize - 1), 2 * kPageSize, MS_SYNC, cost_), -ENOMEM);  // wraps
  EXPECT_EQ(k().sys_msync(t, 0x10000, kPageSize, MS_ASYNC, cost_), -ENOMEM);          // nothing mapped
  EXPECT_EQ(k().sys_msync(t, base + 4 * kPageSize, kPageSize, MS_ASYNC, cost_), -ENOMEM);
  EXPECT_EQ(state(t), before);
  EXPECT_EQ(k().sys_msync(t, base, 0, MS_SYNC, cost_), 0);  // empty range
  EXPECT_EQ(k().sys_msync(t, base, kPageSize, MS_INVALIDATE, cost_), 0);
  // A locked mapping refuses MS_INVALIDATE.
  ASSERT_EQ(k().sys_mlock(t, base, kPageSize, cost_), 0);
  EXPECT_EQ(k().sys_msync(t, base, kPageSize, MS_INVALIDATE, cost_), -EBUSY);
  // A range with a hole: the mapped part is synced, ENOMEM reported.
  ASSERT_EQ(k().sys_munmap(t, base + kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(k().sys_msync(t, base, 4 * kPageSize, MS_SYNC, cost_), -ENOMEM);
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  k().check_consistency();
}

TEST_F(FileMmapTest, PrivateMappingWrittenByTwoProcessesAfterForkKeepsSeparateCopies) {
  k().page_tokens().enable(pm().max_pfn());
  task_struct* p = spawn();
  const long fd = open_data(p);
  const long a = map(p, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
  ASSERT_GT(a, 0);
  const auto base = static_cast<VirtAddr>(a);
  ASSERT_EQ(touch(p, base, false), Kernel::FaultResult::Handled);
  page* cache_pg = k().fs().find_get_page(data(), 0);
  ASSERT_EQ(page_at(p, base), cache_pg);
  const long pid = k().sys_fork(p, cost_);
  ASSERT_GT(pid, 0);
  task_struct* c = k().find_task_by_pid(static_cast<int>(pid));
  EXPECT_EQ(page_at(c, base), cache_pg);  // both map the cache page read-only
  EXPECT_EQ(cache_pg->mapcount, 2);
  EXPECT_EQ(c->mm->get_mm_counter(MM_FILEPAGES), 1);
  k().check_consistency();
  ASSERT_EQ(touch(p, base, true), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(c, base, true), Kernel::FaultResult::Handled);
  page* pp = page_at(p, base);
  page* cp = page_at(c, base);
  ASSERT_NE(pp, cache_pg);
  ASSERT_NE(cp, cache_pg);
  ASSERT_NE(pp, cp);
  EXPECT_TRUE(PageAnon(pp) && PageAnon(cp));
  k().page_tokens().set(pm().page_to_pfn(pp).value(), 111);
  k().page_tokens().set(pm().page_to_pfn(cp).value(), 222);
  // A write to a page neither mapped yet: do_cow_fault, again one copy each.
  ASSERT_EQ(touch(p, base + kPageSize, true), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(c, base + kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_NE(page_at(p, base + kPageSize), page_at(c, base + kPageSize));
  EXPECT_TRUE(PageAnon(page_at(p, base + kPageSize)));
  // The file is unchanged: nothing dirty, the cache page unmapped and holding no token.
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  EXPECT_EQ(cache_pg->mapcount, 0);
  EXPECT_EQ(k().page_tokens().get(pm().page_to_pfn(cache_pg).value()), 0u);
  EXPECT_EQ(k().page_tokens().get(pm().page_to_pfn(page_at(p, base)).value()), 111u);
  EXPECT_EQ(k().page_tokens().get(pm().page_to_pfn(page_at(c, base)).value()), 222u);
  EXPECT_EQ(p->mm->get_mm_counter(MM_ANONPAGES), 2);
  EXPECT_EQ(p->mm->get_mm_counter(MM_FILEPAGES), 0);
  k().check_consistency();
}

TEST_F(FileMmapTest, ReclaimUnmapsMappedFilePagesAndTokensSurviveWritebackAndRefault) {
  k().page_tokens().enable(pm().max_pfn());
  task_struct* t = spawn();
  const long fd = open_data(t);
  const long a = map(t, 16 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  ASSERT_GT(a, 0);
  const auto base = static_cast<VirtAddr>(a);
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(touch(t, base + i * kPageSize, true), Kernel::FaultResult::Handled);
    k().page_tokens().set(pm().page_to_pfn(page_at(t, base + i * kPageSize)).value(), 1000 + i);
  }
  EXPECT_EQ(data().i_mapping.nr_dirty, 16u);
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 16);
  k().check_consistency();
  // kswapd-style reclaim: unmaps them (the rmap walk finds the PTEs), writes the
  // dirty ones, frees them once written.
  reclaim_file();
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 0);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 0);
  EXPECT_EQ(data().i_mapping.nr_dirty, 0u);
  EXPECT_LT(data().i_mapping.nrpages, 16u);
  k().check_consistency();
  // Refault: the data comes back from disk with every token.
  const std::uint64_t maj = t->maj_flt;
  for (int i = 0; i < 16; ++i) {
    ASSERT_EQ(touch(t, base + i * kPageSize, false), Kernel::FaultResult::Handled);
    EXPECT_EQ(k().page_tokens().get(pm().page_to_pfn(page_at(t, base + i * kPageSize)).value()),
              static_cast<std::uint64_t>(1000 + i))
        << i;
  }
  EXPECT_GT(t->maj_flt, maj);
  k().check_consistency();
}

TEST_F(FileMmapTest, TruncateUnmapsBeyondTheNewEndAndLaterAccessIsSigbus) {
  task_struct* t = spawn();
  const long fd = k().sys_open(t, "/w", O_RDWR | O_CREAT, 0644, cost_);
  ASSERT_EQ(k().sys_ftruncate(t, static_cast<int>(fd), 8 * kPageSize, cost_), 0);
  const long s = map(t, 8 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  const long p = map(t, 8 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
  ASSERT_GT(s, 0);
  ASSERT_GT(p, 0);
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(touch(t, static_cast<VirtAddr>(s) + i * kPageSize, true), Kernel::FaultResult::Handled);
    ASSERT_EQ(touch(t, static_cast<VirtAddr>(p) + i * kPageSize, true), Kernel::FaultResult::Handled);
  }
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 8);
  EXPECT_EQ(t->mm->get_mm_counter(MM_ANONPAGES), 8);
  ASSERT_EQ(k().sys_ftruncate(t, static_cast<int>(fd), 2 * kPageSize + 100, cost_), 0);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 3);  // pages 0..2 stay mapped
  EXPECT_EQ(t->mm->get_mm_counter(MM_ANONPAGES), 3);  // private copies beyond go too (even_cows)
  k().check_consistency();
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(s) + 2 * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(s) + 3 * kPageSize, false), Kernel::FaultResult::Sigbus);
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(p) + 5 * kPageSize, true), Kernel::FaultResult::Sigbus);
  // The unlinked, closed file lives while mapped and goes with its last mapping.
  const std::uint64_t free_blocks = k().fs().free_blocks();
  ASSERT_EQ(k().sys_unlink(t, "/w", cost_), 0);
  ASSERT_EQ(k().sys_close(t, static_cast<int>(fd), cost_), 0);
  EXPECT_EQ(k().fs().free_blocks(), free_blocks);
  ASSERT_EQ(touch(t, static_cast<VirtAddr>(s), true), Kernel::FaultResult::Handled);
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(s), 8 * kPageSize, cost_), 0);
  EXPECT_EQ(k().fs().free_blocks(), free_blocks);  // the private mapping still holds it
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(p), 8 * kPageSize, cost_), 0);
  EXPECT_EQ(k().fs().free_blocks(), free_blocks + 3);
  EXPECT_EQ(node_stat(NR_FILE_PAGES), 0);
  k().check_consistency();
}

TEST_F(FileMmapTest, MadviseDontneedDropsFileMappingsKeepingTheDirtyData) {
  task_struct* t = spawn();
  const long fd = open_data(t);
  const long a = map(t, 8 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  const auto base = static_cast<VirtAddr>(a);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(t, base + i * kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().sys_madvise(t, base, 8 * kPageSize, MADV_FREE, cost_), -EINVAL);  // anonymous memory only
  ASSERT_EQ(k().sys_madvise(t, base, 8 * kPageSize, MADV_DONTNEED, cost_), 0);
  EXPECT_EQ(t->mm->get_mm_counter(MM_FILEPAGES), 0);
  EXPECT_EQ(data().i_mapping.nr_dirty, 8u);  // the data stays in the page cache
  EXPECT_EQ(node_stat(NR_FILE_MAPPED), 0);
  k().check_consistency();
}

// Random mmap/munmap/touch/msync/truncate/fork/reclaim over two files, the
// checker after every step.
TEST_F(FileMmapTest, RandomFileMappingOperationsKeepTheKernelConsistent) {
  k().page_tokens().enable(pm().max_pfn());
  std::mt19937_64 rng(12);
  std::vector<task_struct*> tasks{spawn(0)};
  const long fa = open_data(tasks[0]);
  const long fb = k().sys_open(tasks[0], "/w", O_RDWR | O_CREAT, 0644, cost_);
  ASSERT_EQ(k().sys_ftruncate(tasks[0], static_cast<int>(fb), 64 * kPageSize, cost_), 0);
  std::vector<std::pair<task_struct*, VirtAddr>> maps;
  for (int step = 0; step < 600; ++step) {
    task_struct* t = tasks[rng() % tasks.size()];
    const int op = static_cast<int>(rng() % 9);
    if (op == 0 && t == tasks[0]) {
      const long fd = rng() % 2 ? fa : fb;
      const int flags = rng() % 2 ? MAP_SHARED : MAP_PRIVATE;
      const long r = map(t, (1 + rng() % 32) * kPageSize, PROT_READ | PROT_WRITE, flags, fd, (rng() % 32) * kPageSize);
      ASSERT_GT(r, 0);
      maps.push_back({t, static_cast<VirtAddr>(r)});
    } else if (op <= 3 && !maps.empty()) {
      auto [mt, va] = maps[rng() % maps.size()];
      if (!mt->exited) {
        const VirtAddr addr = va + (rng() % 32) * kPageSize;
        if (vma_lookup(*mt->mm, addr)) k().touch(mt, addr, rng() % 2, cost_);  // SIGBUS beyond EOF is fine
      }
    } else if (op == 4 && !maps.empty()) {
      const std::size_t i = rng() % maps.size();
      auto [mt, va] = maps[i];
      if (!mt->exited) k().sys_munmap(mt, va, (1 + rng() % 8) * kPageSize, cost_);
      maps.erase(maps.begin() + static_cast<long>(i));
    } else if (op == 5 && !maps.empty()) {
      auto [mt, va] = maps[rng() % maps.size()];
      if (!mt->exited) k().sys_msync(mt, va, (1 + rng() % 32) * kPageSize, rng() % 2 ? MS_SYNC : MS_ASYNC, cost_);
    } else if (op == 6 && t == tasks[0]) {
      k().sys_ftruncate(t, static_cast<int>(fb), static_cast<std::int64_t>((rng() % 80) * kPageSize), cost_);
    } else if (op == 7 && tasks.size() < 4) {
      const long pid = k().sys_fork(t, cost_);
      ASSERT_GT(pid, 0);
      task_struct* c = k().find_task_by_pid(static_cast<int>(pid));
      tasks.push_back(c);
      std::vector<std::pair<task_struct*, VirtAddr>> more;
      for (auto [mt, va] : maps)
        if (mt == t) more.push_back({c, va});
      maps.insert(maps.end(), more.begin(), more.end());
    } else if (op == 8) {
      if (rng() % 4 == 0) {
        reclaim_file();
      } else if (tasks.size() > 1 && rng() % 3 == 0) {
        task_struct* c = tasks.back();
        tasks.pop_back();
        k().exit_task(c);
      } else {
        settle();
      }
    }
    k().check_consistency();
  }
}

}  // namespace
