// The kernel's own caches: Linux names and geometry, accounting in meminfo
// (Slab/SReclaimable/SUnreclaim, per node), all-or-nothing VMA reservations
// under failslab, and a kmemleak root over kernel records finding a VMA
// object that was dropped without vm_area_free.
#include "os/kernel_caches.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <vector>

#include "os/kmemleak.h"
#include "os/proc_format.h"
#include "os/slabinfo.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

std::uint64_t meminfo_kb(const std::string& text, const std::string& key) {
  auto pos = text.find("\n" + key);
  if (pos == std::string::npos) pos = text.rfind(key, 0) == 0 ? 0 : std::string::npos;
  EXPECT_NE(pos, std::string::npos) << key;
  if (pos == std::string::npos) return ~0ull;
  return std::strtoull(text.c_str() + pos + key.size() + 1, nullptr, 10);
}

TEST(KernelCaches, LinuxNamesAndGeometry) {
  SlubMachine m;  // 4 CPUs
  KernelCaches kc(*m.slub);
  EXPECT_EQ(kc.vm_area_cachep->name, "vm_area_struct");
  EXPECT_EQ(kc.vm_area_cachep->size, 200u);
  EXPECT_EQ(kc.vm_area_cachep->oo.objects, 20u);
  EXPECT_EQ(kc.mm_cachep->name, "mm_struct");
  EXPECT_EQ(kc.mm_cachep->size % 64, 0u);  // SLAB_HWCACHE_ALIGN
  EXPECT_EQ(kc.task_struct_cachep->name, "task_struct");
  EXPECT_EQ(kc.task_struct_cachep->oo.order, 3u);  // 16 * 6.5 KiB > 32 KiB: capped at slub_max_order
  EXPECT_EQ(kc.anon_vma_cachep->size, 112u);       // constructor: free pointer behind the object
  EXPECT_EQ(kc.anon_vma_chain_cachep->name, "anon_vma_chain");
  EXPECT_EQ(kc.policy_cache->name, "numa_policy");
  ASSERT_NE(kc.page_ptl_cachep, nullptr);
  EXPECT_EQ(kc.page_ptl_cachep->name, "page->ptl");
  std::string info = proc_slabinfo(*m.slub);
  EXPECT_NE(info.find("\nvm_area_struct         0      0    200   20    1 : tunables"), std::string::npos) << info;
  KernelCachesParams p;
  p.split_ptlock_cache = false;
  SlubMachine m2;
  KernelCaches kc2(*m2.slub, p);
  EXPECT_EQ(kc2.page_ptl_cachep, nullptr);
  KernelCost cost;
  PhysAddr ptl = kc2.ptlock_alloc(CpuId(0), cost);
  EXPECT_NE(ptl, 0u);  // success without an object
  kc2.ptlock_free(CpuId(0), ptl, cost);
}

TEST(KernelCaches, ObjectsAreAccountedOnTheAllocatingCpusNodeInMeminfo) {
  SlubMachine m;
  KernelCaches kc(*m.slub);
  KernelCost cost;
  std::vector<PhysAddr> tasks, vmas;
  for (int i = 0; i < 10; ++i) tasks.push_back(kc.alloc_task_struct_node(CpuId(2), NUMA_NO_NODE, cost));
  for (int i = 0; i < 100; ++i) vmas.push_back(kc.vm_area_alloc(CpuId(0), cost));
  std::int64_t n0 = m.pm->node_page_state(NodeId(0), NR_SLAB_UNRECLAIMABLE_B);
  std::int64_t n1 = m.pm->node_page_state(NodeId(1), NR_SLAB_UNRECLAIMABLE_B);
  EXPECT_EQ(n0, 5 * 4096);      // 100 VMAs in 5 order-0 slabs
  EXPECT_EQ(n1, 2 * 8 * 4096);  // 10 task_structs, 5 per order-3 slab
  std::string meminfo = proc_meminfo(*m.pm);
  EXPECT_EQ(meminfo_kb(meminfo, "Slab:"), static_cast<std::uint64_t>((n0 + n1) / 1024));
  EXPECT_EQ(meminfo_kb(meminfo, "SUnreclaim:"), static_cast<std::uint64_t>((n0 + n1) / 1024));
  EXPECT_EQ(meminfo_kb(meminfo, "SReclaimable:"), 0u);
  std::string node1 = node_meminfo(*m.pm, NodeId(1));
  EXPECT_NE(node1.find("Node 1 SUnreclaim:"), std::string::npos) << node1;
  EXPECT_GT(cost.cycles.value(), 0u);
  for (PhysAddr a : tasks) kc.free_task_struct(CpuId(3), a, cost);
  for (PhysAddr a : vmas) kc.vm_area_free(CpuId(1), a, cost);
  m.slub->check_consistency();
}

TEST(KernelCaches, VmaReserveIsAllOrNothingUnderFailslab) {
  SlubParams sp;
  sp.failslab.probability = 30;
  sp.failslab.seed = 3;
  SlubMachine m(2, 2, 64, sp);
  KernelCaches kc(*m.slub);
  KernelCost cost;
  int ok = 0, failed = 0;
  std::vector<PhysAddr> kept;
  for (int i = 0; i < 500; ++i) {
    std::uint64_t before = kc.vm_area_cachep->inuse_objects;
    KernelCaches::VmaReserve r(kc, CpuId(i % 4), cost);
    if (!r.reserve(3)) {
      ++failed;
      EXPECT_EQ(r.available(), 0u);
      EXPECT_EQ(kc.vm_area_cachep->inuse_objects, before);  // nothing half-done
      continue;
    }
    ++ok;
    EXPECT_EQ(kc.vm_area_cachep->inuse_objects, before + 3);
    kept.push_back(r.take());  // the operation used one; the other two go back
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(failed, 0);
  EXPECT_EQ(kc.vm_area_cachep->inuse_objects, kept.size());
  m.slub->check_consistency();
  for (PhysAddr a : kept) kc.vm_area_free(CpuId(0), a, cost);
}

TEST(KernelCaches, KmemleakRootsOverKernelRecordsFindADroppedVma) {
  SlubMachine m;
  KernelCaches kc(*m.slub);
  Kmemleak leak(*m.slub);
  KernelCost cost;
  struct Vma {
    PhysAddr obj;
  };
  std::vector<Vma> tree;  // stands for an mm's VMA tree
  for (int i = 0; i < 50; ++i) tree.push_back({kc.vm_area_alloc(CpuId(0), cost, AllocSite::tag("mmap_region"))});
  leak.register_root("mm VMAs", [&](const Kmemleak::RefFn& ref) {
    for (const Vma& v : tree) ref(v.obj);
  });
  EXPECT_TRUE(leak.scan().leaks.empty());
  PhysAddr dropped = tree[17].obj;
  tree.erase(tree.begin() + 17);  // removed from the tree without vm_area_free
  auto r = leak.scan();
  ASSERT_EQ(r.leaks.size(), 1u);
  EXPECT_EQ(r.leaks[0].addr, dropped);
  EXPECT_EQ(r.leaks[0].cache, "vm_area_struct");
  EXPECT_EQ(r.leaks[0].site.str(), "mmap_region");
}

}  // namespace
}  // namespace numasim::os

namespace numasim::os {
namespace {

// A stand-in for the VMA tree wired as proposed for OS-B: records take an
// object on creation and release it on erase through VmaObjects.
struct FakeMm {
  std::map<VirtAddr, PhysAddr> vmas;  // vm_start -> slab object
  VmaObjects* vma_objects = nullptr;
  void insert(VirtAddr start) { vmas[start] = vma_objects->take(); }
  void erase(VirtAddr start) {
    vma_objects->release(vmas[start]);
    vmas.erase(start);
  }
};

TEST(KernelCaches, VmaObjectsProtocolKeepsRecordsAndObjectsInStep) {
  SlubParams sp;
  sp.failslab.probability = 5;
  SlubMachine m(2, 2, 64, sp);
  KernelCaches kc(*m.slub);
  KernelCost cost;
  FakeMm mm;
  std::mt19937 rng(5);
  int enomem = 0;
  for (int op = 0; op < 3000; ++op) {
    KernelCaches::VmaReserve res(kc, CpuId(op % 4), cost);
    if (rng() % 3 || mm.vmas.empty()) {  // "mmap": one record, maybe a split of a neighbour
      int need = 1 + static_cast<int>(rng() % 3);
      if (!res.reserve(need)) {
        ++enomem;  // -ENOMEM: nothing changed
      } else {
        mm.vma_objects = &res;
        for (int i = 0; i < need; ++i) mm.insert(static_cast<VirtAddr>(rng()) << 12);
        mm.vma_objects = nullptr;
      }
    } else {  // "munmap": erase one record
      mm.vma_objects = &res;
      mm.erase(mm.vmas.begin()->first);
      mm.vma_objects = nullptr;
    }
    ASSERT_EQ(kc.vm_area_cachep->inuse_objects, mm.vmas.size()) << "records and objects out of step";
  }
  EXPECT_GT(enomem, 0);
  m.slub->check_consistency();
  KernelCaches::VmaReserve res(kc, CpuId(0), cost);
  mm.vma_objects = &res;
  while (!mm.vmas.empty()) mm.erase(mm.vmas.begin()->first);
  EXPECT_EQ(kc.vm_area_cachep->inuse_objects, 0u);
}

}  // namespace
}  // namespace numasim::os
