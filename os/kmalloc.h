// kmalloc (include/linux/slab.h, mm/slab_common.c): general-purpose kernel
// allocations served by size-class kmem_caches kmalloc-8 ... kmalloc-8k (with
// kmalloc-96 and kmalloc-192), one set per kmalloc type as Linux has them
// (kmalloc-*, kmalloc-rcl-* for __GFP_RECLAIMABLE, kmalloc-cg-* for
// __GFP_ACCOUNT, dma-kmalloc-* for __GFP_DMA); requests above 8 KiB go straight
// to the buddy allocator (kmalloc_large). kzalloc, kfree, ksize, kmalloc_node.
// Simplified: no kmalloc_size_roundup, krealloc or kvmalloc; kmalloc(0)
// returns ZERO_SIZE_PTR (16) as Linux does; failslab applies to the slab
// classes only (Linux's fail_page_alloc would cover large ones).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "os/slub.h"

namespace numasim::os {

inline constexpr PhysAddr ZERO_SIZE_PTR = 16;
inline constexpr bool ZERO_OR_NULL_PTR(PhysAddr p) { return p <= ZERO_SIZE_PTR; }

inline constexpr unsigned KMALLOC_SHIFT_LOW = 3;    // kmalloc-8
inline constexpr unsigned KMALLOC_SHIFT_HIGH = 13;  // kmalloc-8k (PAGE_SHIFT + 1)
inline constexpr std::size_t KMALLOC_MAX_CACHE_SIZE = std::size_t{1} << KMALLOC_SHIFT_HIGH;
inline constexpr std::size_t KMALLOC_MAX_SIZE = kPageSize << (MAX_ORDER - 1);  // 4 MiB

enum kmalloc_cache_type { KMALLOC_NORMAL, KMALLOC_RECLAIM, KMALLOC_CGROUP, KMALLOC_DMA, NR_KMALLOC_TYPES };

class Kmalloc {
 public:
  // create_kmalloc_caches: every size class of every type, in Linux's order.
  explicit Kmalloc(Slub& slub);

  // kmalloc_node / kmalloc: 0 on failure, ZERO_SIZE_PTR for size 0.
  PhysAddr kmalloc_node(CpuId cpu, std::size_t size, gfp_t gfp, int node, KernelCost& cost,
                        AllocSite site = AllocSite::here());
  PhysAddr kmalloc(CpuId cpu, std::size_t size, gfp_t gfp, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return kmalloc_node(cpu, size, gfp, NUMA_NO_NODE, cost, site);
  }
  PhysAddr kzalloc(CpuId cpu, std::size_t size, gfp_t gfp, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return kmalloc_node(cpu, size, gfp | __GFP_ZERO, NUMA_NO_NODE, cost, site);
  }
  PhysAddr kzalloc_node(CpuId cpu, std::size_t size, gfp_t gfp, int node, KernelCost& cost,
                        AllocSite site = AllocSite::here()) {
    return kmalloc_node(cpu, size, gfp | __GFP_ZERO, node, cost, site);
  }
  // kfree: NULL and ZERO_SIZE_PTR are ignored; anything that is not an
  // allocated kmalloc object aborts (a kernel bug).
  void kfree(CpuId cpu, PhysAddr obj, KernelCost& cost);
  // ksize: usable size of an allocated object (its cache's object size, or
  // the whole block for large allocations); 0 for NULL/ZERO_SIZE_PTR.
  std::size_t ksize(PhysAddr obj) const;

  // kmalloc_slab: the cache serving `size` with `gfp` (nullptr above 8 KiB).
  kmem_cache* kmalloc_slab(std::size_t size, gfp_t gfp) const;
  // kmalloc_index: size class index (1 = 96, 2 = 192, 3..13 = 2^i).
  static unsigned kmalloc_index(std::size_t size);
  static kmalloc_cache_type kmalloc_type(gfp_t gfp);
  kmem_cache* cache(kmalloc_cache_type type, unsigned index) const { return caches_[type][index]; }
  Slub& slub() { return slub_; }

 private:
  Slub& slub_;
  std::array<std::array<kmem_cache*, KMALLOC_SHIFT_HIGH + 1>, NR_KMALLOC_TYPES> caches_{};
};

}  // namespace numasim::os
