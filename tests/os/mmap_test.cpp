// mmap, munmap and brk through os::Kernel: addresses chosen top-down, MAP_FIXED
// replacing, MAP_FIXED_NOREPLACE, MAP_POPULATE faulting everything in, shared
// anonymous memory, frames and page tables returned on unmap, the heap growing
// and shrinking, and TLB shootdowns sent to exactly the CPUs in mm_cpumask.
#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MmapTest : public KernelTest {};

TEST_F(MmapTest, AnonymousMappingsGoTopDownFromMmapBase) {
  task_struct* t = spawn();
  long a = mmap_anon(t, 3 * kPageSize);
  EXPECT_EQ(a, static_cast<long>(t->mm->mmap_base - 3 * kPageSize));
  long b = mmap_anon(t, 100);  // rounded up to a page
  EXPECT_EQ(b, a - static_cast<long>(kPageSize));
  EXPECT_EQ(t->mm->total_vm, 4u);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);  // nothing faulted yet
  k().check_consistency();
}

TEST_F(MmapTest, FixedNoReplaceRefusesOverlapAndFixedReplaces) {
  task_struct* t = spawn();
  const VirtAddr a = 0x40000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE, a), static_cast<long>(a));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 4);
  EXPECT_EQ(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED_NOREPLACE, a + kPageSize), -EEXIST);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 4);
  // MAP_FIXED throws the old pages of the overlapped part away.
  ASSERT_EQ(mmap_anon(t, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, a + kPageSize),
            static_cast<long>(a + kPageSize));
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 2);
  EXPECT_EQ(maps(t), "[0x40000000-0x40004000 rw-p]");  // same flags: merged again
  k().check_consistency();
}

TEST_F(MmapTest, PopulateFaultsEveryPageWritable) {
  task_struct* t = spawn();
  const std::uint64_t n = 64;
  long a = mmap_anon(t, n * kPageSize, PROT_READ | PROT_WRITE, MAP_POPULATE);
  ASSERT_GT(a, 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], static_cast<long>(n));
  EXPECT_EQ(pm().sum_vm_event(PGFAULT), n);
  for (std::uint64_t i = 0; i < n; ++i) {
    auto fr = k().follow_page(*t->mm, a + i * kPageSize);
    ASSERT_TRUE(fr);
    EXPECT_TRUE(fr->leaf & _PAGE_RW);  // populated with write faults: no zero page
  }
  // Read-only populate maps the zero page and allocates nothing.
  std::uint64_t before = free_pages();
  long r = mmap_anon(t, 8 * kPageSize, PROT_READ, MAP_POPULATE);
  ASSERT_GT(r, 0);
  EXPECT_EQ(k().follow_page(*t->mm, r)->phys, k().zero_page_phys());
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], static_cast<long>(n));
  EXPECT_LE(before - free_pages(), 2u);  // at most a page-table page
  k().check_consistency();
}

TEST_F(MmapTest, MunmapReturnsFramesAndPageTablesToTheBuddy) {
  task_struct* t = spawn();
  KernelCost c;
  pm().drain_all_pages(c);
  const std::uint64_t free_before = free_pages() + slab_pages();  // slab caches may keep empty slabs
  const std::size_t tables_before = k().pgtables().nr_tables();  // the PGD
  const VirtAddr a = 0x7f0000000000;
  ASSERT_EQ(mmap_anon(t, 16 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  EXPECT_EQ(k().pgtables().nr_tables(), tables_before + 3);  // PUD, PMD, PTE tables
  EXPECT_EQ(pm().global_node_page_state(NR_PAGETABLE), 4);
  ASSERT_EQ(k().sys_munmap(t, a, 16 * kPageSize, cost_), 0);
  EXPECT_EQ(k().pgtables().nr_tables(), tables_before);
  EXPECT_EQ(pm().global_node_page_state(NR_PAGETABLE), 1);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  pm().drain_all_pages(c);
  EXPECT_EQ(free_pages() + slab_pages(), free_before);
  k().check_consistency();
}

TEST_F(MmapTest, PartialUnmapKeepsSharedTables) {
  task_struct* t = spawn();
  const VirtAddr a = 0x50000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  const std::size_t tables = k().pgtables().nr_tables();
  ASSERT_EQ(k().sys_munmap(t, a, 2 * kPageSize, cost_), 0);
  EXPECT_EQ(k().pgtables().nr_tables(), tables);  // the PTE table still maps the rest
  EXPECT_FALSE(k().follow_page(*t->mm, a));
  EXPECT_TRUE(k().follow_page(*t->mm, a + 2 * kPageSize));
  k().check_consistency();
}

TEST_F(MmapTest, SharedAnonymousPagesAreShmem) {
  task_struct* t = spawn();
  long a = k().sys_mmap(t, 0, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_);
  ASSERT_GT(a, 0);
  EXPECT_EQ(maps(t).substr(maps(t).size() - 5), "rw-s]");
  ASSERT_EQ(touch(t, a, /*write=*/false), Kernel::FaultResult::Handled);  // read fault still allocates
  EXPECT_NE(k().follow_page(*t->mm, a)->phys, k().zero_page_phys());
  EXPECT_EQ(t->mm->rss_stat[MM_SHMEMPAGES], 1);
  EXPECT_EQ(pm().global_node_page_state(NR_SHMEM), 1);
  // Two shared mappings never merge.
  long b = k().sys_mmap(t, 0, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_);
  EXPECT_EQ(b, a - static_cast<long>(kPageSize));
  EXPECT_EQ(t->mm->map_count, 2);
  k().check_consistency();
  ASSERT_EQ(k().sys_munmap(t, b, 5 * kPageSize, cost_), 0);
  EXPECT_EQ(pm().global_node_page_state(NR_SHMEM), 0);
  k().check_consistency();
}

TEST_F(MmapTest, BrkGrowsMergesAndShrinks) {
  task_struct* t = spawn();
  const VirtAddr start = t->mm->start_brk;
  EXPECT_EQ(k().sys_brk(t, 0, cost_), static_cast<long>(start));  // query
  EXPECT_EQ(k().sys_brk(t, start + 100, cost_), static_cast<long>(start + 100));
  EXPECT_EQ(t->mm->map_count, 1);
  EXPECT_EQ(k().sys_brk(t, start + 3 * kPageSize, cost_), static_cast<long>(start + 3 * kPageSize));
  EXPECT_EQ(t->mm->map_count, 1);  // the heap grew in place
  ASSERT_EQ(touch(t, start + 2 * kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().sys_brk(t, start + kPageSize, cost_), static_cast<long>(start + kPageSize));
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);  // the touched page went away
  char buf[160];
  std::snprintf(buf, sizeof buf, "[0x%llx-0x%llx rw-p]", static_cast<unsigned long long>(start),
                static_cast<unsigned long long>(start + kPageSize));
  EXPECT_EQ(maps(t), buf);
  // Growing into another mapping fails and leaves the break alone.
  ASSERT_EQ(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED, start + 4 * kPageSize),
            static_cast<long>(start + 4 * kPageSize));
  EXPECT_EQ(k().sys_brk(t, start + 4 * kPageSize, cost_), static_cast<long>(start + kPageSize));  // guard page
  EXPECT_EQ(k().sys_brk(t, start + 3 * kPageSize, cost_), static_cast<long>(start + 3 * kPageSize));
  // Below start_brk: refused.
  EXPECT_EQ(k().sys_brk(t, start - kPageSize, cost_), static_cast<long>(start + 3 * kPageSize));
  k().check_consistency();
}

TEST_F(MmapTest, UnmapShootsDownExactlyTheCpusThatRanTheMm) {
  task_struct* t = spawn(0);
  task_struct* th = k().create_thread(t, CpuId(3));  // a thread on the other socket
  task_struct* other = spawn(1);                     // another process: not a target
  (void)other;
  const VirtAddr a = 0x60000000;
  ASSERT_EQ(mmap_anon(t, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, a), static_cast<long>(a));
  platform_.calls.clear();
  const auto remote_before = pm().sum_vm_event(NR_TLB_REMOTE_FLUSH);
  ASSERT_EQ(k().sys_munmap(t, a, 2 * kPageSize, cost_), 0);
  ASSERT_EQ(platform_.count(FakePlatform::Kind::FlushRange), 1u);
  const auto& call = *std::find_if(platform_.calls.begin(), platform_.calls.end(),
                                   [](const auto& c) { return c.kind == FakePlatform::Kind::FlushRange; });
  EXPECT_EQ(call.cpu.value(), 0);
  EXPECT_EQ(call.targets.count(), 2u);
  EXPECT_TRUE(call.targets.test(0));
  EXPECT_TRUE(call.targets.test(3));
  EXPECT_EQ(call.asid, k().asid(*t->mm));
  EXPECT_EQ(call.start, a);
  EXPECT_EQ(call.end, a + 2 * kPageSize);
  EXPECT_EQ(pm().sum_vm_event(NR_TLB_REMOTE_FLUSH), remote_before + 1);
  EXPECT_EQ(pm().sum_vm_event(NR_TLB_REMOTE_FLUSH_RECEIVED), 1u);
  EXPECT_EQ(pm().sum_vm_event(NR_TLB_LOCAL_FLUSH_ONE), 2u);
  // The thread migrating to CPU 1 joins the mask.
  k().migrate_task(th, CpuId(1));
  platform_.calls.clear();
  ASSERT_EQ(k().sys_munmap(t, a + 2 * kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(platform_.calls.back().targets.count(), 3u);
  // Unmapping something never touched needs no shootdown.
  ASSERT_GT(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED, 0x70000000), 0);
  platform_.calls.clear();
  ASSERT_EQ(k().sys_munmap(t, 0x70000000, kPageSize, cost_), 0);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushRange) + platform_.count(FakePlatform::Kind::FlushMm), 0u);
  // A large range becomes a full flush.
  ASSERT_GT(mmap_anon(t, 64 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, 0x71000000), 0);
  platform_.calls.clear();
  ASSERT_EQ(k().sys_munmap(t, 0x71000000, 64 * kPageSize, cost_), 0);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushMm), 1u);
  EXPECT_EQ(pm().sum_vm_event(NR_TLB_LOCAL_FLUSH_ALL), 1u);
  k().check_consistency();
}

TEST_F(MmapTest, ExitFreesEverything) {
  KernelCost c;
  pm().drain_all_pages(c);
  const std::uint64_t free_before = free_pages();
  task_struct* t = spawn(2);
  task_struct* th = k().create_thread(t, CpuId(0));
  ASSERT_GT(mmap_anon(t, 32 * kPageSize, PROT_READ | PROT_WRITE, MAP_POPULATE), 0);
  ASSERT_GT(k().sys_mmap(t, 0, 2 << 20, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0, cost_),
            0);
  EXPECT_EQ(k().hugetlb().free_huge_pages(), 7u);
  k().exit_task(t);  // the thread still holds the mm
  EXPECT_EQ(th->mm->rss_stat[MM_ANONPAGES], 32);
  k().check_consistency();
  k().exit_task(th);
  EXPECT_EQ(k().nr_tasks(), 0u);
  // Zombies: the descriptors stay readable; they can do nothing any more.
  EXPECT_TRUE(th->exited);
  EXPECT_EQ(th->cpu.value(), 0);
  EXPECT_EQ(th->mm, nullptr);
  EXPECT_EQ(mmap_anon(th, kPageSize), -ESRCH);
  EXPECT_EQ(k().touch(th, 0x10000000, true, cost_), Kernel::FaultResult::Sigsegv);
  EXPECT_FALSE(k().migrate_task(th, CpuId(1)));
  EXPECT_EQ(k().find_task_by_pid(th->pid), nullptr);
  k().release_task(th);
  k().release_task(t);
  EXPECT_EQ(k().pgtables().nr_tables(), 0u);
  EXPECT_EQ(k().hugetlb().free_huge_pages(), 8u);
  EXPECT_EQ(k().hugetlb().resv_huge_pages(), 0u);
  pm().drain_all_pages(c);
  // The kernel's slab caches may keep empty slabs (min_partial); shrunk, every frame is back.
  EXPECT_EQ(free_pages() + slab_pages(), free_before);
  for (const auto& cache : k().slub().caches()) k().slub().flush_all(cache.get(), CpuId(0), c, true);
  pm().drain_all_pages(c);
  EXPECT_EQ(slab_pages(), 0u);
  EXPECT_EQ(free_pages(), free_before);
  k().check_consistency();
}

}  // namespace
