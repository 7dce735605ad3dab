// The kernel's own object caches (kernel/fork.c proc_caches_init, mm/mmap.c,
// mm/rmap.c anon_vma_init, mm/mempolicy.c numa_policy_init, mm/memory.c
// ptlock_cache_init): vm_area_struct, mm_struct, task_struct, anon_vma,
// anon_vma_chain, numa_policy and page->ptl, created on SLUB with Linux's
// names, flags and (configurable) object sizes, with the allocation functions
// the memory manager calls: vm_area_alloc/vm_area_free, mm_alloc/mm_free,
// alloc_task_struct_node/free_task_struct, anon_vma_alloc/anon_vma_free,
// anon_vma_chain_alloc/free, mpol_alloc/mpol_free, ptlock_alloc/ptlock_free.
// Each returns the simulated object's address or 0 on failure (failslab or no
// memory); the caller keeps that address in its own record and must back out
// cleanly on 0. VmaReserve takes the VMA objects an operation may need before
// it changes anything (Linux preallocates maple-tree nodes and duplicates
// VMAs before committing), so an operation either has all its objects or
// fails with ENOMEM having done nothing.
// Simplified: sizes are those of a typical x86-64 distribution kernel
// (Linux 5.15/6.x, NODES_SHIFT=10), not derived from the simulator's structs;
// no SLAB_TYPESAFE_BY_RCU semantics. The SLAB_ACCOUNT caches (task_struct,
// mm_struct, vm_area_struct, anon_vma, anon_vma_chain) are charged to the
// allocating task's memory cgroup (os/memcontrol: obj_cgroup); numa_policy and
// page->ptl are not accounted, as in Linux 6.1.
#pragma once

#include <cstdint>
#include <vector>

#include "os/slub.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct vm_area_struct;  // os/mm_types.h

// What the VMA-tree code calls, through a pointer the kernel sets for the
// duration of one operation (mm_struct::vma_objects), when it creates a VMA
// record (vma_insert, split_vma: take) or erases one (vma_erase, merges,
// exit_mmap: release), and the reverse-map hooks that keep anon_vma chains
// right (os/rmap.h). KernelCaches::VmaReserve implements it.
class VmaObjects {
 public:
  virtual ~VmaObjects() = default;
  virtual PhysAddr take() = 0;             // a reserved vm_area_struct object
  virtual void release(PhysAddr obj) = 0;  // vm_area_free of an erased record
  // __split_vma's anon_vma_clone: `upper` (a copy of `lower`) gets its own chain.
  virtual void vma_split(vm_area_struct& lower, vm_area_struct& upper) = 0;
  // vma_merge: `into` absorbs `gone` (which is erased next).
  virtual void vma_merged(vm_area_struct& into, vm_area_struct& gone) = 0;
  // unlink_anon_vmas of a record about to be erased.
  virtual void vma_unlink(vm_area_struct& vma) = 0;
};

class AnonVmas;  // os/rmap.h

struct KernelCachesParams {
  unsigned vm_area_struct_size = 200;
  unsigned mm_struct_size = 1088;    // with cpumask and mm_cid storage
  unsigned task_struct_size = 6528;  // with the x86 FPU state tail
  unsigned anon_vma_size = 104;
  unsigned anon_vma_chain_size = 64;
  unsigned numa_policy_size = 264;  // struct mempolicy with two 1024-bit nodemasks
  unsigned ptlock_size = 64;        // spinlock_t of a split page-table lock (ALLOC_SPLIT_PTLOCKS)
  bool split_ptlock_cache = true;   // create page->ptl and allocate one per page-table page

  // Reads [os.kernel_caches]: *_size in bytes and split_ptlock_cache.
  static KernelCachesParams from_config(Config os);
};

class KernelCaches {
 public:
  KernelCaches(Slub& slub, const KernelCachesParams& params = {});

  // vm_area_alloc / vm_area_free (kernel/fork.c).
  PhysAddr vm_area_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc(vm_area_cachep, cpu, GFP_KERNEL, cost, site);
  }
  void vm_area_free(CpuId cpu, PhysAddr vma, KernelCost& cost) { free(vm_area_cachep, cpu, vma, cost); }
  // mm_alloc (allocate_mm) / __mmdrop (free_mm).
  PhysAddr mm_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc(mm_cachep, cpu, GFP_KERNEL, cost, site);
  }
  void mm_free(CpuId cpu, PhysAddr mm, KernelCost& cost) { free(mm_cachep, cpu, mm, cost); }
  // alloc_task_struct_node / free_task_struct.
  PhysAddr alloc_task_struct_node(CpuId cpu, int node, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc_node(task_struct_cachep, cpu, GFP_KERNEL, node, cost, site);
  }
  void free_task_struct(CpuId cpu, PhysAddr tsk, KernelCost& cost) { free(task_struct_cachep, cpu, tsk, cost); }
  // anon_vma_alloc / anon_vma_free, anon_vma_chain_alloc / anon_vma_chain_free (mm/rmap.c).
  PhysAddr anon_vma_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc(anon_vma_cachep, cpu, GFP_KERNEL, cost, site);
  }
  void anon_vma_free(CpuId cpu, PhysAddr av, KernelCost& cost) { free(anon_vma_cachep, cpu, av, cost); }
  PhysAddr anon_vma_chain_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc(anon_vma_chain_cachep, cpu, GFP_KERNEL, cost, site);
  }
  void anon_vma_chain_free(CpuId cpu, PhysAddr avc, KernelCost& cost) { free(anon_vma_chain_cachep, cpu, avc, cost); }
  // mpol_new's kmem_cache_alloc(policy_cache) / __mpol_put's kmem_cache_free.
  PhysAddr mpol_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return slub_.kmem_cache_alloc(policy_cache, cpu, GFP_KERNEL, cost, site);
  }
  void mpol_free(CpuId cpu, PhysAddr pol, KernelCost& cost) { free(policy_cache, cpu, pol, cost); }
  // ptlock_alloc / ptlock_free for a page-table page (pagetable_pte_ctor and
  // pmd_ptlock_init). Returns ZERO_SIZE_PTR-like 1 when the cache is disabled
  // (success without an object); ptlock_free ignores that value.
  PhysAddr ptlock_alloc(CpuId cpu, KernelCost& cost, AllocSite site = AllocSite::here());
  void ptlock_free(CpuId cpu, PhysAddr ptl, KernelCost& cost);

  // Objects for one VMA operation, all reserved up front. reserve(n, avcs)
  // either holds n more vm_area_struct and `avcs` more anon_vma_chain objects
  // or frees what it took and returns false (ENOMEM). take() hands one over
  // (aborts if none is left: the caller under-reserved); the destructor frees
  // what was not taken. With an AnonVmas, splits, merges and erases keep the
  // VMAs' anon_vma chains right (the split's chain records come from the
  // reserve); without one (bare VMA trees) VMAs must have no anon_vma.
  class VmaReserve final : public VmaObjects {
   public:
    VmaReserve(KernelCaches& kc, CpuId cpu, KernelCost& cost, AnonVmas* avs = nullptr)
        : kc_(kc), cpu_(cpu), cost_(cost), avs_(avs) {}
    ~VmaReserve() override;
    VmaReserve(const VmaReserve&) = delete;
    VmaReserve& operator=(const VmaReserve&) = delete;
    bool reserve(int n, std::size_t avcs = 0, AllocSite site = AllocSite::here());
    bool reserve(int n, AllocSite site) { return reserve(n, 0, site); }
    PhysAddr take() override;
    // vm_area_free at once, charged to this operation's CPU and cost.
    void release(PhysAddr obj) override { kc_.vm_area_free(cpu_, obj, cost_); }
    void vma_split(vm_area_struct& lower, vm_area_struct& upper) override;
    void vma_merged(vm_area_struct& into, vm_area_struct& gone) override;
    void vma_unlink(vm_area_struct& vma) override;
    std::size_t available() const { return objs_.size(); }
    std::size_t avcs_available() const { return avcs_.size(); }

   private:
    KernelCaches& kc_;
    CpuId cpu_;
    KernelCost& cost_;
    AnonVmas* avs_;
    std::vector<PhysAddr> objs_;
    std::vector<PhysAddr> avcs_;
  };

  Slub& slub() { return slub_; }
  const KernelCachesParams& params() const { return params_; }

  kmem_cache* vm_area_cachep = nullptr;
  kmem_cache* mm_cachep = nullptr;
  kmem_cache* task_struct_cachep = nullptr;
  kmem_cache* anon_vma_cachep = nullptr;
  kmem_cache* anon_vma_chain_cachep = nullptr;
  kmem_cache* policy_cache = nullptr;
  kmem_cache* page_ptl_cachep = nullptr;  // nullptr unless split_ptlock_cache

 private:
  void free(kmem_cache* s, CpuId cpu, PhysAddr obj, KernelCost& cost) {
    if (obj) slub_.kmem_cache_free(s, cpu, obj, cost);
  }
  Slub& slub_;
  KernelCachesParams params_;
};

}  // namespace numasim::os
