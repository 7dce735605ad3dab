// The kernel's own object caches on SLUB (kernel/fork.c, mm/rmap.c, mm/mempolicy.c, mm/memory.c).
#include "os/kernel_caches.h"

#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "os/rmap.h"

namespace numasim::os {

KernelCachesParams KernelCachesParams::from_config(Config os) {
  KernelCachesParams p;
  Config c = os.table("kernel_caches", "object sizes of the kernel's own slab caches");
  auto size = [&](const char* key, unsigned& v, const char* what) {
    v = c.get<unsigned>(key, v, what, {8u, 1u << 20});
  };
  size("vm_area_struct_size", p.vm_area_struct_size, "bytes of a vm_area_struct");
  size("mm_struct_size", p.mm_struct_size, "bytes of an mm_struct (with cpumask)");
  size("task_struct_size", p.task_struct_size, "bytes of a task_struct (with FPU state)");
  size("anon_vma_size", p.anon_vma_size, "bytes of an anon_vma");
  size("anon_vma_chain_size", p.anon_vma_chain_size, "bytes of an anon_vma_chain");
  size("numa_policy_size", p.numa_policy_size, "bytes of a struct mempolicy");
  size("ptlock_size", p.ptlock_size, "bytes of a split page-table lock");
  p.split_ptlock_cache =
      c.get<bool>("split_ptlock_cache", p.split_ptlock_cache, "allocate a page->ptl object per page-table page");
  return p;
}

// proc_caches_init, vma_state_init, anon_vma_init, numa_policy_init, ptlock_cache_init.
KernelCaches::KernelCaches(Slub& slub, const KernelCachesParams& params) : slub_(slub), params_(params) {
  task_struct_cachep = slub_.kmem_cache_create("task_struct", params_.task_struct_size, 64, SLAB_PANIC | SLAB_ACCOUNT);
  mm_cachep =
      slub_.kmem_cache_create("mm_struct", params_.mm_struct_size, 0, SLAB_HWCACHE_ALIGN | SLAB_PANIC | SLAB_ACCOUNT);
  vm_area_cachep = slub_.kmem_cache_create("vm_area_struct", params_.vm_area_struct_size, 0, SLAB_PANIC | SLAB_ACCOUNT);
  anon_vma_cachep = slub_.kmem_cache_create("anon_vma", params_.anon_vma_size, 0, SLAB_PANIC | SLAB_ACCOUNT,
                                            [](void*) {});  // anon_vma_ctor
  anon_vma_chain_cachep =
      slub_.kmem_cache_create("anon_vma_chain", params_.anon_vma_chain_size, 0, SLAB_PANIC | SLAB_ACCOUNT);
  policy_cache = slub_.kmem_cache_create("numa_policy", params_.numa_policy_size, 0, SLAB_PANIC);
  if (params_.split_ptlock_cache)
    page_ptl_cachep = slub_.kmem_cache_create("page->ptl", params_.ptlock_size, 0, SLAB_PANIC);
}

PhysAddr KernelCaches::ptlock_alloc(CpuId cpu, KernelCost& cost, AllocSite site) {
  if (!page_ptl_cachep) return 1;
  return slub_.kmem_cache_alloc(page_ptl_cachep, cpu, GFP_KERNEL, cost, site);
}

void KernelCaches::ptlock_free(CpuId cpu, PhysAddr ptl, KernelCost& cost) {
  if (!page_ptl_cachep || ptl <= 1) return;
  slub_.kmem_cache_free(page_ptl_cachep, cpu, ptl, cost);
}

KernelCaches::VmaReserve::~VmaReserve() {
  for (PhysAddr a : objs_) kc_.vm_area_free(cpu_, a, cost_);
  for (PhysAddr a : avcs_) kc_.anon_vma_chain_free(cpu_, a, cost_);
}

bool KernelCaches::VmaReserve::reserve(int n, std::size_t avcs, AllocSite site) {
  const std::size_t had = objs_.size(), had_avcs = avcs_.size();
  auto undo = [&] {
    while (objs_.size() > had) {
      kc_.vm_area_free(cpu_, objs_.back(), cost_);
      objs_.pop_back();
    }
    while (avcs_.size() > had_avcs) {
      kc_.anon_vma_chain_free(cpu_, avcs_.back(), cost_);
      avcs_.pop_back();
    }
    return false;
  };
  for (int i = 0; i < n; ++i) {
    PhysAddr a = kc_.vm_area_alloc(cpu_, cost_, site);
    if (!a) return undo();
    objs_.push_back(a);
  }
  for (std::size_t i = 0; i < avcs; ++i) {
    PhysAddr a = kc_.anon_vma_chain_alloc(cpu_, cost_, site);
    if (!a) return undo();
    avcs_.push_back(a);
  }
  return true;
}

void KernelCaches::VmaReserve::vma_split(vm_area_struct& lower, vm_area_struct& upper) {
  upper.anon_vma_chain.clear();  // the copy's pointers are lower's records
  if (lower.anon_vma_chain.empty()) return;
  if (!avs_) {
    std::fprintf(stderr, "KernelCaches::VmaReserve: split of a VMA with an anon_vma outside a kernel operation\n");
    std::abort();
  }
  anon_vma_clone(*avs_, upper, lower, [this] {
    if (avcs_.empty()) {
      std::fprintf(stderr, "KernelCaches::VmaReserve: no reserved anon_vma_chain left\n");
      std::abort();
    }
    PhysAddr a = avcs_.back();
    avcs_.pop_back();
    return a;
  });
}

void KernelCaches::VmaReserve::vma_merged(vm_area_struct& into, vm_area_struct& gone) { anon_vma_merge(into, gone); }

void KernelCaches::VmaReserve::vma_unlink(vm_area_struct& vma) {
  if (vma.anon_vma_chain.empty() && !vma.anon_vma) return;
  if (!avs_) {
    std::fprintf(stderr, "KernelCaches::VmaReserve: erase of a VMA with an anon_vma outside a kernel operation\n");
    std::abort();
  }
  unlink_anon_vmas(*avs_, vma, cpu_, cost_);
}

PhysAddr KernelCaches::VmaReserve::take() {
  if (objs_.empty()) {
    std::fprintf(stderr, "KernelCaches::VmaReserve::take: no reserved vm_area_struct left\n");
    std::abort();
  }
  PhysAddr a = objs_.back();
  objs_.pop_back();
  return a;
}

}  // namespace numasim::os
