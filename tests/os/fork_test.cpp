// fork(2) with copy-on-write (os/fork.cpp, do_wp_page in os/memory.cpp):
// private anonymous pages shared read-only by parent and child until one
// writes (a copy) or is the last mapping left (reused in place), zero-page
// entries copied, MAP_SHARED and hugetlb mappings shared or copied as the
// header of fork.cpp says, MADV_DONTFORK VMAs left out, the costs charged,
// and a fork that runs out of slab objects at any allocation leaves the
// parent exactly as it was, with nothing leaked.
#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "os/kmemleak.h"
#include "os/rmap.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class ForkTest : public KernelTest {
 protected:
  PhysAddr phys(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->phys : 0;
  }
  pteval_t leaf(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->leaf : 0;
  }
  page* page_at(task_struct* t, VirtAddr a) { return pm().phys_to_page(phys(t, a) & ~(kPageSize - 1)); }
  task_struct* fork(task_struct* t) {
    long pid = k().sys_fork(t, cost_);
    return pid > 0 ? k().find_task_by_pid(static_cast<int>(pid)) : nullptr;
  }
  // Every (mm, address) whose PTE maps pg, found by rmap_walk.
  std::set<std::pair<const mm_struct*, VirtAddr>> walk(page* pg) {
    std::set<std::pair<const mm_struct*, VirtAddr>> r;
    k().rmap_walk(pg, CpuId(0), scratch_, [&](const Kernel::RmapMapping& m) {
      r.insert({m.vma->vm_mm, m.addr});
      return true;
    });
    return r;
  }
};

TEST_F(ForkTest, PrivatePagesAreSharedReadOnlyThenCopiedOnWrite) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->pid, p->pid);
  EXPECT_EQ(c->tgid, c->pid);
  EXPECT_NE(c->mm, p->mm);
  EXPECT_EQ(maps(c), maps(p));
  EXPECT_EQ(c->mm->rss_stat[MM_ANONPAGES], 4);
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 4);  // pages, not mappings
  for (int i = 0; i < 4; ++i) {
    const VirtAddr va = a + i * kPageSize;
    EXPECT_EQ(phys(c, va), phys(p, va));
    EXPECT_FALSE(leaf(p, va) & _PAGE_RW);
    EXPECT_FALSE(leaf(c, va) & _PAGE_RW);
    EXPECT_FALSE(leaf(c, va) & _PAGE_ACCESSED);  // the child's entries are old
    EXPECT_EQ(page_at(p, va)->mapcount, 2);
    EXPECT_EQ(page_at(p, va)->_refcount, 2);
    EXPECT_EQ(walk(page_at(p, va)), (std::set<std::pair<const mm_struct*, VirtAddr>>{{p->mm, va}, {c->mm, va}}));
  }
  // The child's VMA has its own anon_vma whose parent is the parent's.
  const vm_area_struct* pv = vma_lookup(*p->mm, a);
  const vm_area_struct* cv = vma_lookup(*c->mm, a);
  ASSERT_NE(cv->anon_vma, nullptr);
  EXPECT_NE(cv->anon_vma, pv->anon_vma);
  EXPECT_EQ(cv->anon_vma->parent, pv->anon_vma);
  EXPECT_EQ(cv->anon_vma->root, pv->anon_vma);
  EXPECT_EQ(cv->anon_vma_chain.size(), 2u);
  k().check_consistency();

  // The parent writes page 0: its own copy; the child keeps the original.
  const PhysAddr orig0 = phys(p, a);
  const std::uint64_t reuse0 = pm().sum_vm_event(PGREUSE);
  platform_.calls.clear();
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  EXPECT_NE(phys(p, a), orig0);
  EXPECT_EQ(phys(c, a), orig0);
  EXPECT_TRUE(leaf(p, a) & _PAGE_RW);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 1u);  // copy_user_highpage
  EXPECT_EQ(pm().phys_to_page(orig0)->mapcount, 1);
  EXPECT_EQ(page_at(p, a)->mapcount, 1);
  EXPECT_EQ(page_at(p, a)->owner, pv->anon_vma->id);
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 5);
  EXPECT_EQ(p->mm->rss_stat[MM_ANONPAGES], 4);
  k().check_consistency();
  // The child writes page 0: it is the last mapping, so the page is reused in place
  // and moves to the child's anon_vma (page_move_anon_rmap).
  platform_.calls.clear();
  ASSERT_EQ(touch(c, a), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(c, a), orig0);
  EXPECT_TRUE(leaf(c, a) & _PAGE_RW);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Copy), 0u);
  EXPECT_EQ(pm().sum_vm_event(PGREUSE), reuse0 + 1);
  EXPECT_EQ(page_at(c, a)->owner, cv->anon_vma->id);
  k().check_consistency();
  // A read of a shared page changes nothing.
  ASSERT_EQ(touch(c, a + kPageSize, /*write=*/false), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(c, a + kPageSize), phys(p, a + kPageSize));
  EXPECT_FALSE(leaf(c, a + kPageSize) & _PAGE_RW);
}

TEST_F(ForkTest, ExitOrUnmapOfTheOtherSideLeavesPagesExclusive) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 2 * kPageSize));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  // The child unmaps page 1: the parent's write reuses it.
  ASSERT_EQ(k().sys_munmap(c, a + kPageSize, kPageSize, cost_), 0);
  EXPECT_EQ(page_at(p, a + kPageSize)->mapcount, 1);
  const PhysAddr p1 = phys(p, a + kPageSize);
  ASSERT_EQ(touch(p, a + kPageSize), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(p, a + kPageSize), p1);
  k().check_consistency();
  // The child exits: page 0 is the parent's alone; its write allocates nothing.
  const std::uint64_t anon_vmas = k().anon_vmas().nr_anon_vmas();
  k().exit_task(c);
  EXPECT_EQ(k().anon_vmas().nr_anon_vmas(), anon_vmas - 1);  // the child's anon_vma went with its VMAs
  EXPECT_EQ(page_at(p, a)->mapcount, 1);
  EXPECT_EQ(page_at(p, a)->_refcount, 1);
  const PhysAddr p0 = phys(p, a);
  const std::uint64_t free_before = free_pages();
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(p, a), p0);
  EXPECT_EQ(free_pages(), free_before);
  k().check_consistency();
  // And the parent's exit frees everything.
  k().exit_task(p);
  EXPECT_EQ(k().anon_vmas().nr_anon_vmas(), 0u);
  EXPECT_EQ(k().anon_vmas().nr_chains(), 0u);
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_MAPPED), 0);
  EXPECT_TRUE(k().kmemleak_scan().leaks.empty());
  k().check_consistency();
}

TEST_F(ForkTest, ParentExitFirstLeavesTheChildConsistent) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 3 * kPageSize));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  task_struct* c = fork(p);
  task_struct* g = fork(c);  // a grandchild: three levels of anon_vmas
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(vma_lookup(*g->mm, a)->anon_vma_chain.size(), 3u);
  EXPECT_EQ(page_at(p, a)->mapcount, 3);
  k().exit_task(p);
  EXPECT_EQ(page_at(c, a)->mapcount, 2);
  k().check_consistency();
  // The root anon_vma (the parent's) lives on while descendants map its pages.
  EXPECT_EQ(walk(page_at(c, a)).size(), 2u);
  ASSERT_EQ(touch(g, a), Kernel::FaultResult::Handled);  // copy: c still maps it
  EXPECT_NE(phys(g, a), phys(c, a));
  ASSERT_EQ(touch(c, a), Kernel::FaultResult::Handled);  // reuse
  k().check_consistency();
  k().exit_task(c);
  k().exit_task(g);
  EXPECT_EQ(k().anon_vmas().nr_anon_vmas(), 0u);
  EXPECT_TRUE(k().kmemleak_scan().leaks.empty());
  k().check_consistency();
}

TEST_F(ForkTest, ZeroPageSharedMappingsAndDontforkVmas) {
  task_struct* p = spawn(0);
  const VirtAddr z = static_cast<VirtAddr>(mmap_anon(p, kPageSize));
  ASSERT_EQ(touch(p, z, /*write=*/false), Kernel::FaultResult::Handled);  // the zero page
  const VirtAddr s = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_));
  ASSERT_EQ(touch(p, s), Kernel::FaultResult::Handled);
  const VirtAddr d = static_cast<VirtAddr>(mmap_anon(p, kPageSize, PROT_READ));
  ASSERT_EQ(k().sys_madvise(p, d, kPageSize, MADV_DONTFORK, cost_), 0);
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(phys(c, z), k().zero_page_phys());
  EXPECT_EQ(phys(c, s), phys(p, s));
  EXPECT_TRUE(leaf(c, s) & _PAGE_RW);  // shared: stays writable, no copy-on-write
  EXPECT_FALSE(leaf(c, s) & _PAGE_DIRTY);
  EXPECT_EQ(page_at(p, s)->mapcount, 2);
  EXPECT_EQ(c->mm->rss_stat[MM_SHMEMPAGES], 1);
  EXPECT_EQ(vma_lookup(*c->mm, d), nullptr);  // VM_DONTCOPY
  EXPECT_EQ(c->mm->map_count, p->mm->map_count - 1);
  k().check_consistency();
  // A write through the child's shared mapping is the parent's page.
  ASSERT_EQ(touch(c, s), Kernel::FaultResult::Handled);
  EXPECT_EQ(phys(c, s), phys(p, s));
  // A write to the zero page in the child gets the child a page.
  ASSERT_EQ(touch(c, z), Kernel::FaultResult::Handled);
  EXPECT_NE(phys(c, z), k().zero_page_phys());
  EXPECT_EQ(phys(p, z), k().zero_page_phys());
  k().exit_task(p);
  EXPECT_EQ(page_at(c, s)->mapcount, 1);
  EXPECT_EQ(pm().global_node_page_state(NR_SHMEM), 1);
  k().check_consistency();
}

TEST_F(ForkTest, HugetlbSharedIsSharedAndPrivateIsCopied) {
  task_struct* p = spawn(0);
  const VirtAddr sh = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_));
  const VirtAddr pr = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_));
  ASSERT_EQ(touch(p, sh), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(p, pr), Kernel::FaultResult::Handled);
  const std::uint64_t hfree = k().hugetlb().free_huge_pages();
  task_struct* c = fork(p);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(phys(c, sh), phys(p, sh));
  EXPECT_EQ(page_at(p, sh)->mapcount, 2);
  EXPECT_NE(phys(c, pr), phys(p, pr));  // the private huge page was copied for the child
  EXPECT_EQ(k().hugetlb().free_huge_pages(), hfree - 1);
  EXPECT_EQ(c->mm->hugetlb_usage, 2u);
  k().check_consistency();
  k().exit_task(p);
  EXPECT_EQ(page_at(c, sh)->mapcount, 1);  // still mapped: not back in the pool
  EXPECT_EQ(k().hugetlb().free_huge_pages(), hfree);
  k().check_consistency();
  k().exit_task(c);
  k().check_consistency();
}

TEST_F(ForkTest, CostsAreChargedAndTheParentTlbFlushed) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 8 * kPageSize));
  for (int i = 0; i < 8; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  platform_.calls.clear();
  KernelCost c;
  const long pid = k().sys_fork(p, c);
  ASSERT_GT(pid, 0);
  EXPECT_GE(c.cycles.value(), k().params().costs.vma_op_cycles);
  EXPECT_GT(c.memory.value(), 0u);
  // Each parent PTE read once; the parent's write-protect and the child's copy written.
  std::size_t pte_reads = 0;
  for (const auto& call : platform_.calls) pte_reads += call.kind == FakePlatform::Kind::Read && call.len.value() == 8;
  EXPECT_GE(pte_reads, 8u);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::FlushMm) + platform_.count(FakePlatform::Kind::FlushRange), 1u);
}

TEST_F(ForkTest, CloneWithoutCloneVmForksAndOtherFlagsAreRejected) {
  task_struct* p = spawn(0);
  constexpr unsigned long SIGCHLD_ = 17, CLONE_VM_ = 0x100;
  EXPECT_EQ(k().sys_clone(p, CLONE_VM_ | SIGCHLD_, cost_), -EINVAL);
  const long pid = k().sys_clone(p, SIGCHLD_, cost_);
  ASSERT_GT(pid, 0);
  EXPECT_NE(k().find_task_by_pid(static_cast<int>(pid)), nullptr);
  k().exit_task(p);
  EXPECT_EQ(k().sys_fork(p, cost_), -ESRCH);
}

// failslab at every allocation point of fork in turn: the fork fails with
// ENOMEM, the parent is exactly as before, nothing leaks; then it succeeds.
TEST_F(ForkTest, EnomemAtAnyAllocationLeavesTheParentUnchanged) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 6 * kPageSize));
  for (int i = 0; i < 6; ++i) ASSERT_EQ(touch(p, a + i * kPageSize), Kernel::FaultResult::Handled);
  unsigned long n1 = 2;
  ASSERT_EQ(k().sys_mbind(p, a + 2 * kPageSize, kPageSize, MPOL_BIND, &n1, 3, 0, cost_), 0);
  ASSERT_EQ(k().sys_set_mempolicy(p, MPOL_PREFERRED, &n1, 3, cost_), 0);
  const VirtAddr h = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, 4 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_));
  ASSERT_EQ(touch(p, h), Kernel::FaultResult::Handled);
  task_struct* c1 = fork(p);  // the chains get deeper
  ASSERT_NE(c1, nullptr);
  const std::size_t tasks = k().nr_tasks();
  int failures = 0;
  for (unsigned long nth = 1;; ++nth) {
    FailslabParams fp;
    fp.probability = 100;
    fp.interval = nth;  // the nth slab allocation fails
    fp.times = 1;
    k().slub().failslab().configure(fp);
    const std::string before = snapshot(p);
    const std::size_t anon_vmas = k().anon_vmas().nr_anon_vmas();
    const std::uint64_t failed_before = k().slub().failslab().nr_failed();
    const long r = k().sys_fork(p, cost_);
    const bool injected = k().slub().failslab().nr_failed() == failed_before + 1;
    k().slub().failslab().configure(FailslabParams{});
    if (r > 0) {
      EXPECT_FALSE(injected) << nth;
      break;
    }
    ++failures;
    EXPECT_TRUE(injected) << nth;
    EXPECT_EQ(r, -ENOMEM) << nth;
    EXPECT_EQ(snapshot(p), before) << nth;
    EXPECT_EQ(k().nr_tasks(), tasks);
    EXPECT_EQ(k().anon_vmas().nr_anon_vmas(), anon_vmas);
    EXPECT_TRUE(k().kmemleak_scan().leaks.empty()) << nth;
    k().check_consistency();
    ASSERT_LT(nth, 200u);
  }
  EXPECT_GT(failures, 10);  // task, mm, PGD lock, policies, VMAs, chains, anon_vmas, table locks...
  k().check_consistency();
}

TEST_F(ForkTest, HugetlbPoolExhaustionFailsTheFork) {
  task_struct* p = spawn(0);
  // 4 pages per node: a private mapping of 14 MiB fully touched leaves one page for 7 copies.
  const VirtAddr pr = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, 14 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_));
  ASSERT_GT(static_cast<long>(pr), 0);
  for (int i = 0; i < 7; ++i) ASSERT_EQ(touch(p, pr + i * (2ull << 20)), Kernel::FaultResult::Handled);
  const std::string before = snapshot(p);
  EXPECT_EQ(k().sys_fork(p, cost_), -ENOMEM);
  EXPECT_EQ(snapshot(p), before);
  EXPECT_TRUE(k().kmemleak_scan().leaks.empty());
  k().check_consistency();
}

}  // namespace
