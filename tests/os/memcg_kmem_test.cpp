// Kernel memory charged to memory cgroups (Linux 6.1 obj_cgroup, os/memcontrol.h):
// SLAB_ACCOUNT objects (vm_area_struct, anon_vma, mm_struct ...) and user page
// tables count in memory.current and in memory.stat "kernel", "slab",
// "slab_unreclaimable", "pagetables" (memory.numa_stat per node), rise and
// fall with the objects, go at exit, are not charged for root-cgroup tasks,
// and memory.max stops a cgroup that creates many accounted objects (-ENOMEM,
// nothing changed). The checker (charged object bytes = pages charged for
// objects + stock bytes; MEMCG_KMEM = those pages + page tables) runs after
// every step.
#include <gtest/gtest.h>

#include "os/fs.h"
#include "os/syscalls.h"
#include "tests/os/file_test_util.h"
#include "tests/os/memcg_test_util.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class MemcgKmemTest : public SwapTest {
 protected:
  std::uint64_t stat(const std::string& path, const std::string& key, const char* file = "memory.stat") {
    return memcg_keyed(k(), path, file, key);
  }
  std::uint64_t current(const std::string& path) { return std::stoull(*k().cgroup_file_read(path, "memory.current")); }
  task_struct* spawn_in(const char* path, int cpu = 0) {
    task_struct* t = spawn(cpu);
    EXPECT_EQ(k().cgroup_attach_task(t->tgid, path), 0);
    return t;
  }
  MemCgroupParams cg(const char* path, std::uint64_t max_bytes = 0) {
    MemCgroupParams p;
    p.path = path;
    if (max_bytes) p.max = max_bytes / kPageSize;
    return p;
  }
  // n separate one-page mappings (a gap between each: no merging): n vm_area_structs.
  std::vector<long> map_many(task_struct* t, int n, VirtAddr base = 0x100000000ull) {
    std::vector<long> out;
    for (int i = 0; i < n; ++i) {
      const long a = mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE, base + 2 * i * kPageSize);
      if (a < 0) break;
      out.push_back(a);
    }
    return out;
  }
};

TEST_F(MemcgKmemTest, SlabObjectsAndPageTablesRiseAndFallInMemoryStat) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/a")), 1);
  ASSERT_EQ(k().mem_cgroup_create(cg("/a/b")), 2);
  task_struct* t = spawn_in("/a/b");
  EXPECT_EQ(stat("/a/b", "slab"), 0u);
  EXPECT_EQ(stat("/a/b", "kernel"), 0u);
  const std::vector<long> maps = map_many(t, 200);
  ASSERT_EQ(maps.size(), 200u);
  k().check_consistency();
  // 200 vm_area_structs at obj_full_size each, charged to /a/b (and seen in /a).
  const kmem_cache* vma = k().slub().find_cache("vm_area_struct");
  ASSERT_NE(vma, nullptr);
  const std::uint64_t vma_bytes = obj_full_size(vma->size);
  EXPECT_GE(stat("/a/b", "slab_unreclaimable"), 200 * vma_bytes);
  EXPECT_EQ(stat("/a/b", "slab_reclaimable"), 0u);
  EXPECT_EQ(stat("/a/b", "slab"), stat("/a/b", "slab_unreclaimable"));
  EXPECT_EQ(stat("/a", "slab"), stat("/a/b", "slab"));  // hierarchical
  // "kernel" counts whole pages charged for the objects: at least their bytes, at most a page more.
  EXPECT_GE(stat("/a/b", "kernel"), stat("/a/b", "slab"));
  EXPECT_LE(stat("/a/b", "kernel"), stat("/a/b", "slab") + 2 * kPageSize);
  EXPECT_EQ(stat("/a/b", "pagetables"), 0u);  // nothing touched yet
  // Touching the mappings builds page tables (PUD, PMD, PTE frames) charged to the cgroup.
  for (long a : maps) ASSERT_EQ(touch(t, static_cast<VirtAddr>(a)), Kernel::FaultResult::Handled);
  k().check_consistency();
  const std::uint64_t pt = stat("/a/b", "pagetables");
  EXPECT_GE(pt, 3 * kPageSize);
  EXPECT_EQ(pt, static_cast<std::uint64_t>(t->mm->pgtables_bytes) - kPageSize);  // all but the PGD (allocated before attach)
  const std::string numa = *k().cgroup_file_read("/a/b", "memory.numa_stat");
  EXPECT_NE(numa.find("pagetables N0=" + std::to_string(pt) + " N1=0\n"), std::string::npos) << numa;
  EXPECT_NE(numa.find("slab_unreclaimable N0=" + std::to_string(stat("/a/b", "slab_unreclaimable")) + " N1=0\n"),
            std::string::npos)
      << numa;
  EXPECT_GE(stat("/a/b", "kernel"), stat("/a/b", "slab") + pt);
  // memory.current holds the anon pages, the kernel memory and the stocks.
  EXPECT_GE(current("/a/b"), stat("/a/b", "anon") + stat("/a/b", "kernel"));
  // Unmapping frees the VMAs and their page tables: the stats fall back.
  const std::uint64_t slab_before = stat("/a/b", "slab");
  for (std::size_t i = 0; i < 100; ++i) ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(maps[i]), kPageSize, cost_), 0);
  k().check_consistency();
  // Each touched mapping had its VMA, its anon_vma and one anon_vma_chain.
  const std::uint64_t per_mapping = vma_bytes + obj_full_size(k().slub().find_cache("anon_vma")->size) +
                                    obj_full_size(k().slub().find_cache("anon_vma_chain")->size);
  EXPECT_EQ(stat("/a/b", "slab"), slab_before - 100 * per_mapping);
  EXPECT_EQ(stat("/a/b", "pagetables"), pt);  // the tables stay until the range's tables are freed
  // Exit: every object and table uncharged; what is left is at most a page of stock.
  k().exit_task(t);
  k().check_consistency();
  EXPECT_EQ(stat("/a/b", "slab"), 0u);
  EXPECT_EQ(stat("/a/b", "pagetables"), 0u);
  EXPECT_LE(stat("/a/b", "kernel"), kPageSize);
  EXPECT_LE(current("/a/b"), MEMCG_CHARGE_BATCH * kPageSize + kPageSize);
}

TEST_F(MemcgKmemTest, RootCgroupTasksChargeNoKernelMemory) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/a")), 1);
  task_struct* t = spawn();  // in the root cgroup
  const std::vector<long> maps = map_many(t, 50);
  ASSERT_EQ(maps.size(), 50u);
  for (long a : maps) ASSERT_EQ(touch(t, static_cast<VirtAddr>(a)), Kernel::FaultResult::Handled);
  k().check_consistency();
  const mem_cgroup& a = *k().memcgs().by_id[1];
  EXPECT_EQ(a.kmem, 0);
  EXPECT_EQ(a.memory.usage, 0);
  EXPECT_EQ(stat("/a", "kernel"), 0u);
  EXPECT_EQ(k().slub().object_memcg(static_cast<PhysAddr>(t->mm->mm_obj)), 0u);
}

// A fork inside a cgroup charges the child's mm_struct, VMAs and anon_vma
// chains to it; the child's exit uncharges them.
TEST_F(MemcgKmemTest, ForkChargesTheChildsKernelObjectsAndExitReturnsThem) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/a")), 1);
  task_struct* t = spawn_in("/a");
  const std::vector<long> maps = map_many(t, 20);
  for (long a : maps) ASSERT_EQ(touch(t, static_cast<VirtAddr>(a)), Kernel::FaultResult::Handled);
  const std::uint64_t slab1 = stat("/a", "slab");
  const std::uint64_t pt1 = stat("/a", "pagetables");
  const long child = k().sys_fork(t, cost_);
  ASSERT_GT(child, 0);
  k().check_consistency();
  EXPECT_GT(stat("/a", "slab"), slab1 + 20 * obj_full_size(k().slub().find_cache("vm_area_struct")->size));
  EXPECT_GT(stat("/a", "pagetables"), pt1);  // the child's copied tables
  task_struct* c = k().find_task_by_pid(static_cast<int>(child));
  ASSERT_NE(c, nullptr);
  k().exit_task(c);
  k().check_consistency();
  // The zombie's task_struct stays (charged) until release_task; the rest is back.
  EXPECT_EQ(stat("/a", "slab"), slab1 + obj_full_size(k().slub().find_cache("task_struct")->size));
  EXPECT_EQ(stat("/a", "pagetables"), pt1);
}

// The done criterion: a cgroup creating many accounted objects hits memory.max
// with kernel memory alone; the failing mmap returns ENOMEM and changes nothing;
// memory.events max counts it; freeing objects lets mmap succeed again.
TEST_F(MemcgKmemTest, MemoryMaxIsReachedByKernelMemory) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/small", 512 * 1024)), 1);  // 128 pages
  task_struct* t = spawn_in("/small");
  std::vector<long> vmas = map_many(t, 10000);
  ASSERT_LT(vmas.size(), 10000u);  // stopped by memory.max
  ASSERT_GT(vmas.size(), 1000u);   // ~19 VMAs per page up to 128 pages
  const std::string before = maps(t);
  const long r = mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE, 0x100000000ull + 2 * 10000 * kPageSize);
  EXPECT_EQ(r, -ENOMEM);
  EXPECT_EQ(maps(t), before);
  k().check_consistency();
  EXPECT_LE(current("/small"), 512u * 1024);
  EXPECT_GE(stat("/small", "kernel") + MEMCG_CHARGE_BATCH * kPageSize, 512u * 1024);
  EXPECT_GT(stat("/small", "max", "memory.events"), 0u);
  EXPECT_EQ(stat("/small", "anon"), 0u);
  // Free some VMAs: the cgroup has room for objects again.
  for (std::size_t i = 0; i < 200; ++i) ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(vmas[i]), kPageSize, cost_), 0);
  EXPECT_GT(mmap_anon(t, kPageSize), 0);
  k().check_consistency();
  k().exit_task(t);
  k().check_consistency();
  EXPECT_EQ(stat("/small", "slab"), 0u);
}

// memory.max lowered below what kernel memory holds: drain_all_stock returns
// the stocked bytes and pages, the rest stays charged (kernel memory is not reclaimable here).
TEST_F(MemcgKmemTest, StocksDrainWhenTheLimitIsLowered) {
  ASSERT_EQ(k().mem_cgroup_create(cg("/a")), 1);
  task_struct* t = spawn_in("/a");
  ASSERT_EQ(map_many(t, 30).size(), 30u);
  k().check_consistency();
  const std::uint64_t kernel = stat("/a", "kernel");
  ASSERT_GT(current("/a"), kernel);  // the page stock holds the rest of the batch
  EXPECT_EQ(k().cgroup_file_write("/a", "memory.max", std::to_string(kernel), t->cpu, cost_), 0);
  k().check_consistency();
  EXPECT_LE(current("/a"), kernel);  // stocks drained: only what objects hold
  EXPECT_EQ(k().memcgs().obj_stock[0].cached, 0u);
}

// memory.stat / memory.numa_stat file_mapped and file_writeback: the cgroup's
// page-cache pages mapped by a MAP_SHARED mapping and under writeback.
class MemcgFileStatTest : public FileTest {
 protected:
  std::uint64_t stat(const char* key, const char* file = "memory.stat") { return memcg_keyed(k(), "/a", file, key); }
};

TEST_F(MemcgFileStatTest, FileMappedAndFileWritebackFollowThePageCache) {
  MemCgroupParams a;
  a.path = "/a";
  ASSERT_EQ(k().mem_cgroup_create(a), 1);
  task_struct* t = spawn();
  ASSERT_EQ(k().cgroup_attach_task(t->tgid, "/a"), 0);
  const long fd = k().sys_open(t, "/cfg/data", O_RDWR, 0, cost_);
  ASSERT_GE(fd, 0);
  const long m = k().sys_mmap(t, 0, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, static_cast<int>(fd), 0, cost_);
  ASSERT_GT(m, 0);
  ASSERT_EQ(touch(t, static_cast<VirtAddr>(m), false), Kernel::FaultResult::Handled);
  settle();
  k().check_consistency();
  // The fault mapped its page and fault-around's cached neighbours: as many as the mm's file RSS.
  const std::uint64_t mapped = stat("file_mapped");
  EXPECT_GT(mapped, 0u);
  EXPECT_EQ(mapped, static_cast<std::uint64_t>(t->mm->get_mm_counter(MM_FILEPAGES)) * kPageSize);
  EXPECT_GE(stat("file"), mapped);  // the readahead window is charged too
  EXPECT_NE(k().cgroup_file_read("/a", "memory.numa_stat")->find("file_mapped N0=" + std::to_string(mapped) + " N1=0\n"),
            std::string::npos);
  EXPECT_EQ(stat("file_writeback"), 0u);
  ASSERT_EQ(k().sys_munmap(t, static_cast<VirtAddr>(m), kFileSize, cost_), 0);
  EXPECT_EQ(stat("file_mapped"), 0u);
  // Four dirty pages whose writeback fadvise(DONTNEED) starts: under writeback until the device completes.
  const long buf = mmap_anon(t, 4 * kPageSize);
  ASSERT_GT(buf, 0);
  ASSERT_EQ(k().sys_pwrite64(t, static_cast<int>(fd), static_cast<VirtAddr>(buf), 4 * kPageSize, 0, cost_),
            static_cast<long>(4 * kPageSize));
  k().lru_add_drain_all();
  EXPECT_EQ(stat("file_dirty"), 4 * kPageSize);
  ASSERT_EQ(k().sys_fadvise64(t, static_cast<int>(fd), 0, 4 * kPageSize, POSIX_FADV_DONTNEED, cost_), 0);
  EXPECT_EQ(stat("file_writeback"), 4 * kPageSize);
  EXPECT_NE(k().cgroup_file_read("/a", "memory.numa_stat")->find("file_writeback N0=" + std::to_string(4 * kPageSize)),
            std::string::npos);
  settle();
  EXPECT_EQ(stat("file_writeback"), 0u);
  k().check_consistency();
}

}  // namespace
