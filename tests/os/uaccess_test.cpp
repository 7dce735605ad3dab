// read()/write()/pread64/pwrite64 copy to and from the user's buffer through the
// task's page tables (os/uaccess.cpp, Kernel::uaccess_phys; filemap_read and
// generic_perform_write in os/filemap.cpp), as copy_to_user/copy_from_user do:
// a buffer page not present is faulted in from kernel mode (PGFAULT, min_flt),
// copy-on-write is broken in the reader only, the accessed and dirty bits are set
// as the CPU sets them; an unmapped or wrong-permission buffer ends the copy
// (what was copied, or -EFAULT with nothing changed) and no signal is sent.
#include <gtest/gtest.h>

#include <cerrno>

#include "tests/os/file_test_util.h"

namespace numasim::os::testing {
namespace {

class UaccessTest : public FileTest {
 protected:
  // What maps a (leaf 0 and page null when nothing does).
  Kernel::FollowResult at(task_struct* t, VirtAddr a) { return k().follow_page(*t->mm, a).value_or(Kernel::FollowResult{}); }
  pteval_t leaf(task_struct* t, VirtAddr a) { return at(t, a).leaf; }
  page* page_at(task_struct* t, VirtAddr a) { return at(t, a).pg; }
  std::uint64_t pgfault() { return pm().sum_vm_event(PGFAULT); }
  long f_pos(task_struct* t, int fd) { return k().sys_lseek(t, fd, 0, OS_SEEK_CUR, cost_); }
  int open_data(task_struct* t, int flags = O_RDONLY) {
    const long fd = k().sys_open(t, "/cfg/data", flags, 0, cost_);
    EXPECT_GE(fd, 0);
    return static_cast<int>(fd);
  }
  // Clears _PAGE_ACCESSED and _PAGE_DIRTY of the leaf mapping a (as the tests' ptep_test_and_clear_young would).
  void clear_young_dirty(task_struct* t, VirtAddr a) {
    const PteRef r = k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL);
    ASSERT_TRUE(r);
    k().pgtables().set_entry(t->cpu, r, r.value() & ~(_PAGE_ACCESSED | _PAGE_DIRTY), scratch_);
  }
};

constexpr std::uint64_t kPages = 16;

TEST_F(UaccessTest, ReadIntoAFreshBufferFaultsItsPagesInFromKernelMode) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t, kPages * kPageSize, false);  // mapped, never touched
  for (std::uint64_t i = 0; i < kPages; ++i) ASSERT_EQ(page_at(t, buf + i * kPageSize), nullptr);
  const int f = open_data(t);
  const std::uint64_t flt0 = pgfault(), min0 = t->min_flt;
  KernelCost c;
  ASSERT_EQ(k().sys_read(t, f, buf, kPages * kPageSize, c), static_cast<long>(kPages * kPageSize));
  EXPECT_EQ(pgfault() - flt0, kPages) << "one kernel-mode fault per buffer page";
  EXPECT_EQ(t->min_flt - min0, kPages);
  EXPECT_EQ(t->nr_sigsegv, 0u);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], static_cast<long>(kPages));
  for (std::uint64_t i = 0; i < kPages; ++i) {
    const pteval_t v = leaf(t, buf + i * kPageSize);
    ASSERT_TRUE(pte_present(v)) << i;
    EXPECT_TRUE(v & _PAGE_DIRTY) << i;  // the kernel's stores through the user mapping
    EXPECT_TRUE(v & _PAGE_ACCESSED) << i;
    EXPECT_TRUE(pte_write(v)) << i;  // a private page of its own, not the zero page
  }
  EXPECT_EQ(f_pos(t, f), static_cast<long>(kPages * kPageSize));
  // A second read into the same buffer: nothing to fault.
  ASSERT_EQ(k().sys_read(t, f, buf, kPages * kPageSize, c), static_cast<long>(kPages * kPageSize));
  EXPECT_EQ(pgfault() - flt0, kPages);
  k().check_consistency();
}

TEST_F(UaccessTest, AnUnalignedReadFaultsEveryPageItSpansAndMarksEachFilePageOnce) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t, 4 * kPageSize, false);
  const int f = open_data(t);
  const std::uint64_t flt0 = pgfault();
  // 2 file pages into the buffer at offset 100: three buffer pages, faulted one by one.
  ASSERT_EQ(k().sys_read(t, f, buf + 100, 2 * kPageSize, cost_), static_cast<long>(2 * kPageSize));
  EXPECT_EQ(pgfault() - flt0, 3u);
  settle();
  // Each file page was read once: referenced, still on the inactive list (a
  // second folio_mark_accessed after a fault's re-lookup would have activated it).
  inode* ino = k().fs().lookup("/cfg/data");
  for (std::uint64_t idx = 0; idx < 2; ++idx) {
    page* pg = k().fs().find_get_page(*ino, idx);
    ASSERT_NE(pg, nullptr);
    EXPECT_FALSE(pg->test(PG_active)) << idx;
    EXPECT_TRUE(pg->test(PG_referenced)) << idx;
  }
  k().check_consistency();
}

// A write() whose buffer is not aligned as the file position is: each file page
// is one piece of write_begin/copy/write_end however many user pages it spans
// (generic_perform_write); it is marked accessed once (referenced, not
// activated) and a whole-page write of a new page reads nothing first.
TEST_F(UaccessTest, AnUnalignedWriteTreatsEachFilePageOnce) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t, 4 * kPageSize);
  const int f = static_cast<int>(k().sys_creat(t, "/u", 0644, cost_));
  ASSERT_GE(f, 0);
  const std::uint64_t pgpgin0 = pm().sum_vm_event(PGPGIN);
  ASSERT_EQ(k().sys_write(t, f, buf + 100, 2 * kPageSize, cost_), static_cast<long>(2 * kPageSize));
  EXPECT_EQ(pm().sum_vm_event(PGPGIN), pgpgin0);
  settle();
  inode* ino = k().fs().lookup("/u");
  ASSERT_NE(ino, nullptr);
  for (std::uint64_t idx = 0; idx < 2; ++idx) {
    page* pg = k().fs().find_get_page(*ino, idx);
    ASSERT_NE(pg, nullptr);
    EXPECT_FALSE(pg->test(PG_active)) << idx;
    EXPECT_TRUE(pg->test(PG_referenced)) << idx;
  }
  // A buffer whose second page is a hole: only the bytes before it are written.
  ASSERT_EQ(k().sys_munmap(t, buf + 2 * kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(k().sys_pwrite64(t, f, buf + kPageSize + 100, kPageSize, 0, cost_), static_cast<long>(kPageSize - 100));
  k().check_consistency();
}

TEST_F(UaccessTest, WriteReadsThePresentBufferWithoutAFault) {
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t, kPages * kPageSize);  // touched: present, writable
  for (std::uint64_t i = 0; i < kPages; ++i) clear_young_dirty(t, buf + i * kPageSize);
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_GE(f, 0);
  const std::uint64_t flt0 = pgfault();
  ASSERT_EQ(k().sys_write(t, f, buf, kPages * kPageSize, cost_), static_cast<long>(kPages * kPageSize));
  EXPECT_EQ(pgfault(), flt0);
  for (std::uint64_t i = 0; i < kPages; ++i) {
    const pteval_t v = leaf(t, buf + i * kPageSize);
    EXPECT_TRUE(v & _PAGE_ACCESSED) << i;  // copy_from_user loaded it
    EXPECT_FALSE(v & _PAGE_DIRTY) << i;    // and stored nothing into it
  }
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), static_cast<long>(kPages));
  // From a fresh buffer, write() faults it in for reading (the zero page): no anonymous page.
  const VirtAddr fresh = user_buf(t, 4 * kPageSize, false);
  const long anon = t->mm->rss_stat[MM_ANONPAGES];
  ASSERT_EQ(k().sys_write(t, f, fresh, 4 * kPageSize, cost_), static_cast<long>(4 * kPageSize));
  EXPECT_EQ(pgfault() - flt0, 4u);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], anon);
  EXPECT_TRUE(pte_present(leaf(t, fresh)));
  EXPECT_FALSE(pte_write(leaf(t, fresh)));
  k().check_consistency();
}

TEST_F(UaccessTest, ReadIntoABufferSharedAfterForkBreaksCopyOnWriteInTheReaderOnly) {
  task_struct* p = spawn(0);
  const VirtAddr buf = user_buf(p, 4 * kPageSize);
  long pid = k().sys_fork(p, cost_);
  ASSERT_GT(pid, 0);
  task_struct* c = k().find_task_by_pid(static_cast<int>(pid));
  ASSERT_NE(c, nullptr);
  page* shared = page_at(p, buf);
  ASSERT_EQ(page_at(c, buf), shared);
  ASSERT_FALSE(pte_write(leaf(c, buf)));  // both read-only: COW
  const int f = open_data(c);
  const std::uint64_t flt0 = pgfault();
  ASSERT_EQ(k().sys_read(c, f, buf, 2 * kPageSize, cost_), static_cast<long>(2 * kPageSize));
  EXPECT_EQ(pgfault() - flt0, 2u);  // two write-protect faults, in the child
  for (std::uint64_t i = 0; i < 2; ++i) {
    const VirtAddr a = buf + i * kPageSize;
    EXPECT_NE(page_at(c, a), page_at(p, a)) << i;  // the child has its copy
    EXPECT_TRUE(pte_write(leaf(c, a))) << i;
    EXPECT_TRUE(leaf(c, a) & _PAGE_DIRTY) << i;
  }
  EXPECT_EQ(page_at(p, buf), shared);           // the parent keeps the original
  EXPECT_FALSE(pte_write(leaf(p, buf)));        // still write-protected until it writes
  EXPECT_EQ(page_at(c, buf + 2 * kPageSize), page_at(p, buf + 2 * kPageSize));  // not copied into: shared
  EXPECT_EQ(c->nr_sigsegv + p->nr_sigsegv, 0u);
  k().check_consistency();
}

TEST_F(UaccessTest, AnUnmappedOrReadOnlyBufferIsEfaultWithNothingReadAndNoSignal) {
  task_struct* t = spawn();
  const int f = open_data(t);
  const VirtAddr ro = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize, PROT_READ));
  const VirtAddr none = static_cast<VirtAddr>(mmap_anon(t, 2 * kPageSize, PROT_NONE));
  const VirtAddr hole = user_buf(t, 2 * kPageSize);
  ASSERT_EQ(k().sys_munmap(t, hole, 2 * kPageSize, cost_), 0);
  ASSERT_EQ(k().sys_lseek(t, f, 8192, OS_SEEK_SET, cost_), 8192);
  const std::uint64_t flt0 = pgfault();
  const std::string maps0 = maps(t);
  const long anon0 = t->mm->rss_stat[MM_ANONPAGES];
  const auto min0 = t->min_flt;
  EXPECT_EQ(k().sys_read(t, f, hole, 4096, cost_), -EFAULT);
  EXPECT_EQ(k().sys_read(t, f, ro, 4096, cost_), -EFAULT);  // read() stores: PROT_READ is not enough
  EXPECT_EQ(k().sys_read(t, f, none, 4096, cost_), -EFAULT);
  EXPECT_EQ(k().sys_pread64(t, f, hole, 4096, 0, cost_), -EFAULT);
  EXPECT_EQ(f_pos(t, f), 8192);
  EXPECT_EQ(pgfault(), flt0);  // nothing to fault: access_error before handle_mm_fault
  EXPECT_EQ(t->nr_sigsegv, 0u);
  EXPECT_EQ(t->min_flt, min0);
  EXPECT_EQ(maps(t), maps0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], anon0);
  // write() loads from its buffer: PROT_READ is enough, PROT_NONE and a hole are not.
  const int w = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_GE(w, 0);
  const std::string fs_before = fs_snapshot(t);
  EXPECT_EQ(k().sys_write(t, w, hole, 4096, cost_), -EFAULT);
  EXPECT_EQ(k().sys_write(t, w, none, 4096, cost_), -EFAULT);
  EXPECT_EQ(k().sys_pwrite64(t, w, hole, 4096, 0, cost_), -EFAULT);
  EXPECT_EQ(fs_snapshot(t), fs_before);  // no size, no block, no dirty page, f_pos 0
  EXPECT_EQ(k().sys_write(t, w, ro, 4096, cost_), 4096);
  EXPECT_EQ(t->nr_sigsegv, 0u);
  k().check_consistency();
}

TEST_F(UaccessTest, ABufferWhoseSecondPageIsUnmappedGetsAShortCopy) {
  task_struct* t = spawn();
  const int f = open_data(t);
  const VirtAddr buf = user_buf(t, 2 * kPageSize, false);
  ASSERT_EQ(k().sys_munmap(t, buf + kPageSize, kPageSize, cost_), 0);
  ASSERT_EQ(k().sys_read(t, f, buf, 2 * kPageSize, cost_), static_cast<long>(kPageSize));  // the first page's bytes
  EXPECT_EQ(f_pos(t, f), static_cast<long>(kPageSize));
  EXPECT_TRUE(pte_present(leaf(t, buf)));
  // Unaligned: the bytes up to the hole.
  ASSERT_EQ(k().sys_read(t, f, buf + 100, 2 * kPageSize, cost_), static_cast<long>(kPageSize - 100));
  EXPECT_EQ(f_pos(t, f), static_cast<long>(2 * kPageSize - 100));
  // write() stops at the hole too: the first page's bytes are written.
  const int w = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, w, buf, 2 * kPageSize, cost_), static_cast<long>(kPageSize));
  EXPECT_EQ(k().fs().lookup("/w")->i_size, kPageSize);
  EXPECT_EQ(f_pos(t, w), static_cast<long>(kPageSize));
  EXPECT_EQ(t->nr_sigsegv, 0u);
  k().check_consistency();
}

TEST_F(UaccessTest, ASharedFileMappingAsTheBufferOfAReadOfAnotherFileIsDirtiedThroughIt) {
  task_struct* t = spawn();
  const VirtAddr src = user_buf(t, 4 * kPageSize);
  const int w = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, w, src, 4 * kPageSize, cost_), static_cast<long>(4 * kPageSize));
  ASSERT_EQ(k().sys_fsync(t, w, cost_), 0);
  settle();
  ASSERT_EQ(node_stat(NR_FILE_DIRTY), 0);
  const int rw = static_cast<int>(k().sys_open(t, "/w", O_RDWR, 0, cost_));  // MAP_SHARED writable needs O_RDWR
  ASSERT_GE(rw, 0);
  const long m = k().sys_mmap(t, 0, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0, cost_);
  ASSERT_GT(m, 0);
  const auto map = static_cast<VirtAddr>(m);
  const int f = open_data(t);
  ASSERT_EQ(k().sys_read(t, f, map, 4 * kPageSize, cost_), static_cast<long>(4 * kPageSize));
  inode* ino = k().fs().lookup("/w");
  for (std::uint64_t i = 0; i < 4; ++i) {
    const VirtAddr a = map + i * kPageSize;
    EXPECT_EQ(page_at(t, a), k().fs().find_get_page(*ino, i)) << i;  // /w's cache page itself
    EXPECT_TRUE(leaf(t, a) & _PAGE_DIRTY) << i;
  }
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 4);  // only src: no private copy
  // msync(MS_SYNC) finds the pages dirtied through the mapping and writes them.
  const long written = node_stat(NR_WRITTEN);
  ASSERT_EQ(k().sys_msync(t, map, 4 * kPageSize, MS_SYNC, cost_), 0);
  EXPECT_EQ(node_stat(NR_WRITTEN) - written, 4);
  k().check_consistency();
}

TEST_F(UaccessTest, ReadIntoATransparentHugePageBufferCopiesToTheRightPlaceInIt) {
  ASSERT_EQ(k().thp_sysfs_store("enabled", "always"), 0);
  task_struct* t = spawn();
  constexpr VirtAddr kBase = 0x40000000;  // 2 MiB aligned: two huge pages
  constexpr std::uint64_t kHuge = 2ull << 20;
  ASSERT_EQ(mmap_anon(t, 2 * kHuge, PROT_READ | PROT_WRITE, MAP_FIXED, kBase), static_cast<long>(kBase));
  const int f = open_data(t);
  const std::uint64_t flt0 = pgfault(), thp0 = pm().sum_vm_event(THP_FAULT_ALLOC);
  platform_.record = true;
  platform_.calls.clear();
  // Two pages across the boundary of the huge pages: one kernel-mode fault each, a THP each.
  const VirtAddr buf = kBase + kHuge - kPageSize;
  ASSERT_EQ(k().sys_read(t, f, buf, 2 * kPageSize, cost_), static_cast<long>(2 * kPageSize));
  EXPECT_EQ(pgfault() - flt0, 2u);
  EXPECT_EQ(pm().sum_vm_event(THP_FAULT_ALLOC) - thp0, 2u);
  std::vector<PhysAddr> dst;
  for (const auto& c : platform_.calls)
    if (c.kind == FakePlatform::Kind::Copy && c.len.value() == kPageSize) dst.push_back(c.addr);
  ASSERT_FALSE(dst.empty());
  // The last copies of the call went to the last 4 KiB of the first huge page and the first of the second.
  ASSERT_GE(dst.size(), 2u);
  EXPECT_EQ(dst[dst.size() - 2], at(t, buf).phys);
  EXPECT_EQ(dst.back(), at(t, kBase + kHuge).phys);
  EXPECT_EQ(at(t, buf).level, PMD_LEVEL);
  EXPECT_TRUE(at(t, buf).leaf & _PAGE_DIRTY);
  EXPECT_TRUE(at(t, kBase + kHuge).leaf & _PAGE_DIRTY);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
