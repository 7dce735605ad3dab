// The kernel's own bookkeeping on SLUB (issue 6 items 3, 5, 6): VMA records,
// mm_structs, task_structs, numa_policy objects and page-table locks come from
// the kernel's slab caches (charged to the operation's KernelCost, visible in
// meminfo on the node they came from); failslab makes every VMA-changing call
// fail with ENOMEM having changed nothing; kmemleak finds nothing after a run
// of every kind of call, and finds a deliberately dropped object with its site.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "os/kernel_caches.h"
#include "os/kmemleak.h"
#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class KernelSlabTest : public KernelTest {
 protected:
  unsigned long inuse(const char* cache) {
    kmem_cache* s = k().slub().find_cache(cache);
    EXPECT_NE(s, nullptr) << cache;
    return s ? k().slub().cache_info(*s).inuse_objs : 0;
  }
  void fail_all_slab_allocations(bool on) {
    FailslabParams p;
    p.probability = on ? 100 : 0;
    k().slub().failslab().configure(p);
  }
  std::uint64_t meminfo_kb(const std::string& text, const std::string& key) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      auto pos = line.find(key);
      if (pos != std::string::npos) return std::stoull(line.substr(pos + key.size()));
    }
    ADD_FAILURE() << key << " not in\n" << text;
    return 0;
  }
};

TEST_F(KernelSlabTest, TasksMmsAndVmasAreSlabObjects) {
  const unsigned long tasks0 = inuse("task_struct"), mms0 = inuse("mm_struct"), vmas0 = inuse("vm_area_struct");
  KernelCost c;
  CpuMask all;
  all.set();
  task_struct* t = k().create_task("a", CpuId(2), all, c);  // CPU 2 is on node 1
  ASSERT_NE(t, nullptr);
  EXPECT_GT(c.cycles.value(), 0u);
  EXPECT_EQ(inuse("task_struct"), tasks0 + 1);
  EXPECT_EQ(inuse("mm_struct"), mms0 + 1);
  // alloc_task_struct_node: the task_struct is on the node of the CPU it was created on.
  EXPECT_EQ(topo_.phys_node(t->task_obj), NodeId(1));
  EXPECT_TRUE(k().slub().is_allocated(t->mm->mm_obj));

  KernelCost m;
  long a = k().sys_mmap(t, 0, 16 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, m);
  ASSERT_GT(a, 0);
  EXPECT_EQ(inuse("vm_area_struct"), vmas0 + 1);
  const PhysAddr obj = t->mm->mm_mt.begin()->second.vm_obj;
  EXPECT_TRUE(k().slub().is_allocated(obj));
  // A split in the middle takes two more records, a merge back gives them up.
  KernelCost p;
  ASSERT_EQ(k().sys_mprotect(t, static_cast<VirtAddr>(a) + 4 * kPageSize, 4 * kPageSize, PROT_READ, p), 0);
  EXPECT_EQ(t->mm->map_count, 3);
  EXPECT_EQ(inuse("vm_area_struct"), vmas0 + 3);
  ASSERT_EQ(k().sys_mprotect(t, static_cast<VirtAddr>(a), 16 * kPageSize, PROT_READ | PROT_WRITE, p), 0);
  EXPECT_EQ(t->mm->map_count, 1);
  EXPECT_EQ(inuse("vm_area_struct"), vmas0 + 1);
  k().check_consistency();

  // Threads: one task_struct each, on their CPU's node.
  task_struct* th = k().create_thread(t, CpuId(0), c);
  ASSERT_NE(th, nullptr);
  EXPECT_EQ(topo_.phys_node(th->task_obj), NodeId(0));
  EXPECT_EQ(inuse("task_struct"), tasks0 + 2);
  EXPECT_EQ(inuse("mm_struct"), mms0 + 1);

  k().exit_task(th);
  k().exit_task(t);
  EXPECT_EQ(inuse("mm_struct"), mms0);
  EXPECT_EQ(inuse("vm_area_struct"), vmas0);
  EXPECT_EQ(inuse("task_struct"), tasks0 + 2);  // zombies keep their descriptor
  k().release_task(th);
  k().release_task(t);
  EXPECT_EQ(inuse("task_struct"), tasks0);
  k().check_consistency();
}

TEST_F(KernelSlabTest, SlabCostIsChargedToTheOperation) {
  task_struct* t = spawn(0);
  // The first mmap of a fresh kernel needs a new vm_area_struct slab; a later
  // one takes an object from the CPU's slab: both pay more than the bare
  // syscall + VMA cost, the first the most.
  const auto base = k().params().costs.syscall_entry_cycles + k().params().costs.syscall_exit_cycles +
                    k().params().costs.vma_op_cycles;
  KernelCost first, second;
  ASSERT_GT(k().sys_mmap(t, 0, kPageSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, first), 0);
  ASSERT_GT(k().sys_mmap(t, 0, kPageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, second), 0);
  EXPECT_GE(second.cycles.value(), base + k().slub().params().costs.alloc_fastpath_cycles);
  EXPECT_GT(first.cycles.value(), second.cycles.value());
}

TEST_F(KernelSlabTest, SlabMemoryShowsInMeminfoOnItsNode) {
  const std::uint64_t slab0 = meminfo_kb(k().node_meminfo(NodeId(1)), "Slab:");
  const std::uint64_t sunreclaim0 = meminfo_kb(k().node_meminfo(NodeId(1)), "SUnreclaim:");
  std::vector<task_struct*> tasks;
  for (int i = 0; i < 8; ++i) tasks.push_back(spawn(3));  // node 1: 8 task_structs of 6.5 KiB
  const std::uint64_t slab1 = meminfo_kb(k().node_meminfo(NodeId(1)), "Slab:");
  EXPECT_GE(slab1, slab0 + 8 * 6528 / 1024);
  EXPECT_EQ(meminfo_kb(k().node_meminfo(NodeId(1)), "SUnreclaim:") - sunreclaim0, slab1 - slab0);
  EXPECT_EQ(meminfo_kb(k().node_meminfo(NodeId(1)), "SReclaimable:"), 0u);
  const std::string mi = k().proc_meminfo();
  EXPECT_GE(meminfo_kb(mi, "Slab:"), slab1);
  EXPECT_EQ(meminfo_kb(mi, "Slab:"), meminfo_kb(mi, "SReclaimable:") + meminfo_kb(mi, "SUnreclaim:"));
  // The node stat in bytes equals the slab frames SLUB holds on that node.
  EXPECT_EQ(static_cast<std::uint64_t>(pm().node_page_state(NodeId(1), NR_SLAB_UNRECLAIMABLE_B) +
                                       pm().node_page_state(NodeId(1), NR_SLAB_RECLAIMABLE_B)),
            k().slub().slab_pages(NodeId(1)) * kPageSize);
}

TEST_F(KernelSlabTest, PageTablePagesGetALockObject) {
  ASSERT_NE(k().kernel_caches().page_ptl_cachep, nullptr);
  task_struct* t = spawn(0);
  const unsigned long ptl0 = inuse("page->ptl");
  const std::size_t tables0 = k().pgtables().nr_tables();
  long a = mmap_anon(t, kPageSize);
  ASSERT_GT(a, 0);
  ASSERT_EQ(touch(t, static_cast<VirtAddr>(a)), Kernel::FaultResult::Handled);
  const std::size_t new_tables = k().pgtables().nr_tables() - tables0;
  EXPECT_GT(new_tables, 0u);
  EXPECT_EQ(inuse("page->ptl") - ptl0, new_tables);
  // A failed lock allocation fails the fault (VM_FAULT_OOM) and leaks no frame.
  const long b = mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED, 0x7f0000000000ull);
  ASSERT_EQ(b, 0x7f0000000000ll);  // far from `a`: its fault needs new page tables
  k().physmem().drain_all_pages(scratch_);
  const std::uint64_t free0 = free_pages() + slab_pages();
  const std::size_t tables1 = k().pgtables().nr_tables();
  fail_all_slab_allocations(true);
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(b)), Kernel::FaultResult::Oom);
  fail_all_slab_allocations(false);
  k().physmem().drain_all_pages(scratch_);
  EXPECT_EQ(free_pages() + slab_pages(), free0);
  EXPECT_EQ(k().pgtables().nr_tables(), tables1);
  k().check_consistency();
  EXPECT_EQ(touch(t, static_cast<VirtAddr>(b)), Kernel::FaultResult::Handled);
  k().check_consistency();
}

TEST_F(KernelSlabTest, FailslabMakesEveryVmaChangeFailWithEnomemAndChangeNothing) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 64 * kPageSize);
  ASSERT_GT(a, 0);
  const VirtAddr va = static_cast<VirtAddr>(a);
  for (VirtAddr p = va; p < va + 64 * kPageSize; p += 8 * kPageSize) ASSERT_EQ(touch(t, p), Kernel::FaultResult::Handled);
  unsigned long nodes = 2;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_PREFERRED, &nodes, 3, cost_), 0);
  const std::string before = snapshot(t);
  fail_all_slab_allocations(true);
  KernelCost c;
  EXPECT_EQ(mmap_anon(t, kPageSize), -ENOMEM);
  EXPECT_EQ(mmap_anon(t, kPageSize, PROT_READ, MAP_FIXED, va + 8 * kPageSize), -ENOMEM);
  EXPECT_EQ(k().sys_munmap(t, va + 8 * kPageSize, kPageSize, c), -ENOMEM);
  EXPECT_EQ(k().sys_mprotect(t, va + 8 * kPageSize, kPageSize, PROT_READ, c), -ENOMEM);
  EXPECT_EQ(k().sys_mbind(t, va, 64 * kPageSize, MPOL_BIND, &nodes, 3, 0, c), -ENOMEM);  // the policy object
  EXPECT_EQ(k().sys_mbind(t, va + kPageSize, kPageSize, MPOL_BIND, &nodes, 3, 0, c), -ENOMEM);  // splits
  EXPECT_EQ(k().sys_madvise(t, va + kPageSize, kPageSize, MADV_RANDOM, c), -ENOMEM);
  EXPECT_EQ(k().sys_set_mempolicy(t, MPOL_INTERLEAVE, &nodes, 3, c), -ENOMEM);
  const long brk0 = static_cast<long>(t->mm->brk);
  EXPECT_EQ(k().sys_brk(t, t->mm->brk + 4 * kPageSize, c), brk0);
  EXPECT_EQ(k().create_thread(t, CpuId(1), c), nullptr);
  CpuMask all;
  all.set();
  const std::size_t ntasks = k().nr_tasks();
  EXPECT_EQ(k().create_task("x", CpuId(1), all, c), nullptr);
  EXPECT_EQ(k().nr_tasks(), ntasks);
  EXPECT_EQ(snapshot(t), before);
  k().check_consistency();
  // Calls that need no new object still work: unmapping a whole VMA, madvise without a split.
  EXPECT_EQ(k().sys_madvise(t, va, 64 * kPageSize, MADV_DONTNEED, c), 0);
  EXPECT_EQ(k().sys_munmap(t, va, 64 * kPageSize, c), 0);
  EXPECT_GE(k().slub().failslab().nr_failed(), 10u);
  fail_all_slab_allocations(false);
  k().check_consistency();
  EXPECT_GT(mmap_anon(t, kPageSize), 0);
}

TEST(KernelSlabConfig, FailslabAndCacheKnobsReachTheKernel) {
  auto doc = ConfigDocument::from_string(
      "[os.failslab]\nprobability = 5\nseed = 42\ntimes = 3\n"
      "[os.kernel_caches]\nvm_area_struct_size = 176\nsplit_ptlock_cache = false\n",
      "failslab.toml");
  KernelParams p = KernelParams::from_config(doc->root().table("os"));
  doc->finish();
  EXPECT_EQ(p.slub.failslab.probability, 5u);
  EXPECT_EQ(p.slub.failslab.seed, 42u);
  EXPECT_EQ(p.slub.failslab.times, 3);
  EXPECT_EQ(p.caches.vm_area_struct_size, 176u);
  EXPECT_FALSE(p.caches.split_ptlock_cache);
  Topology topo = two_node_topology();
  FakePlatform platform;
  Kernel k(topo, p, platform);
  EXPECT_EQ(k.slub().failslab().params().probability, 5u);
  EXPECT_EQ(k.slub().find_cache("vm_area_struct")->object_size, 176u);
  EXPECT_EQ(k.kernel_caches().page_ptl_cachep, nullptr);
  // times = 3: at most three injected failures, whatever the number of calls.
  CpuMask all;
  all.set();
  task_struct* t = nullptr;
  while (!t) t = k.create_task("t", CpuId(0), all);
  KernelCost c;
  int enomem = 0;
  for (int i = 0; i < 400; ++i) {
    long r = k.sys_mmap(t, 0, kPageSize, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
    enomem += r == -ENOMEM;
  }
  EXPECT_LE(enomem, 3);
  EXPECT_EQ(k.slub().failslab().nr_failed(), 3u);
  k.check_consistency();
}

// Every kind of call, then every task exits: kmemleak finds nothing while the
// run goes on (all objects reachable from the kernel's owner records) and no
// kernel slab object is left at the end.
TEST_F(KernelSlabTest, KmemleakFindsNothingAfterEveryKindOfCallAndAllObjectsAreFreed) {
  std::mt19937_64 rng(5);
  auto rnd = [&](std::uint64_t n) { return rng() % n; };
  std::vector<task_struct*> tasks{spawn(0), spawn(2)};
  tasks.push_back(k().create_thread(tasks[0], CpuId(1)));
  ASSERT_NE(tasks.back(), nullptr);
  KernelCost c;
  for (int step = 0; step < 600; ++step) {
    task_struct* t = tasks[rnd(tasks.size())];
    const VirtAddr addr = 0x10000000 + rnd(2048) * kPageSize;
    const std::uint64_t len = (1 + rnd(32)) * kPageSize;
    unsigned long mask = 1 + rnd(3);
    switch (rnd(9)) {
      case 0:
        k().sys_mmap(t, rnd(2) ? addr : 0, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | (rnd(2) ? MAP_FIXED : 0) | (rnd(4) ? 0 : MAP_POPULATE), -1, 0, c);
        break;
      case 1:
        k().sys_munmap(t, addr, len, c);
        break;
      case 2:
        k().sys_mprotect(t, addr, len, static_cast<int>(rnd(4)), c);
        break;
      case 3:
        k().sys_madvise(t, addr, len, rnd(2) ? MADV_DONTNEED : MADV_RANDOM, c);
        break;
      case 4:
        k().sys_mbind(t, addr, len, rnd(2) ? MPOL_BIND : MPOL_DEFAULT, &mask, 3, rnd(2) ? MPOL_MF_MOVE : 0, c);
        break;
      case 5:
        k().sys_set_mempolicy(t, rnd(2) ? MPOL_INTERLEAVE : MPOL_DEFAULT, &mask, 3, c);
        break;
      case 6:
        k().sys_brk(t, t->mm->start_brk + rnd(40) * kPageSize, c);
        break;
      case 7:
        for (int i = 0; i < 8; ++i) k().touch(t, addr + rnd(64) * kPageSize, rnd(2), c);
        break;
      case 8: {
        VirtAddr pages[2] = {addr, addr + kPageSize};
        int nodes[2] = {static_cast<int>(rnd(2)), static_cast<int>(rnd(2))}, status[2];
        k().sys_move_pages(t, 0, 2, pages, nodes, status, MPOL_MF_MOVE, c);
        break;
      }
    }
    if (step % 100 == 0) {
      auto scan = k().kmemleak_scan();
      ASSERT_TRUE(scan.leaks.empty()) << Kmemleak::report(scan);
      EXPECT_EQ(scan.dangling_refs, 0u);
      EXPECT_GT(scan.referenced, 5u);
      k().check_consistency();
    }
  }
  EXPECT_GT(inuse("numa_policy"), 0u);
  for (task_struct* t : tasks) k().exit_task(t);
  auto scan = k().kmemleak_scan();
  EXPECT_TRUE(scan.leaks.empty()) << Kmemleak::report(scan);
  for (task_struct* t : tasks) k().release_task(t);
  k().check_consistency();
  scan = k().kmemleak_scan();
  EXPECT_TRUE(scan.leaks.empty()) << Kmemleak::report(scan);
  EXPECT_EQ(scan.scanned_objects, 0u);
  for (const char* cache : {"vm_area_struct", "mm_struct", "task_struct", "numa_policy", "page->ptl"})
    EXPECT_EQ(inuse(cache), 0u) << cache;
  EXPECT_EQ(k().slub().nr_allocated_objects(), 0u);
}

TEST_F(KernelSlabTest, KmemleakReportsADeliberatelyDroppedObjectWithItsSite) {
  task_struct* t = spawn(0);
  ASSERT_GT(mmap_anon(t, 4 * kPageSize), 0);
  KernelCost c;
  const PhysAddr lost = k().kernel_caches().vm_area_alloc(CpuId(1), c, AllocSite::tag("deliberate_leak"));
  ASSERT_NE(lost, 0u);
  auto scan = k().kmemleak_scan();
  ASSERT_EQ(scan.leaks.size(), 1u) << Kmemleak::report(scan);
  EXPECT_EQ(scan.leaks[0].addr, lost);
  EXPECT_EQ(scan.leaks[0].cache, "vm_area_struct");
  EXPECT_EQ(scan.leaks[0].site.str(), "deliberate_leak");
  EXPECT_NE(Kmemleak::report(scan).find("deliberate_leak"), std::string::npos);
  k().kernel_caches().vm_area_free(CpuId(1), lost, c);
  EXPECT_TRUE(k().kmemleak_scan().leaks.empty());
}

}  // namespace
