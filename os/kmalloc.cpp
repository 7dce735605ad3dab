// kmalloc size classes and kmalloc_large (mm/slab_common.c, mm/slub.c).
#include "os/kmalloc.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace numasim::os {

namespace {

// size_index[]: class of sizes up to 192 bytes, by (size - 1) / 8.
constexpr std::uint8_t kSizeIndex[24] = {3, 4, 5, 5, 6, 6, 6, 6, 1, 1, 1, 1, 7, 7, 7, 7, 2, 2, 2, 2, 2, 2, 2, 2};

unsigned class_size(unsigned index) { return index == 1 ? 96 : index == 2 ? 192 : 1u << index; }

std::string class_name(kmalloc_cache_type type, unsigned index) {
  static const char* prefix[NR_KMALLOC_TYPES] = {"kmalloc-", "kmalloc-rcl-", "kmalloc-cg-", "dma-kmalloc-"};
  unsigned sz = class_size(index);
  std::string s = prefix[type];
  if (sz >= 1024 && sz % 1024 == 0) return s + std::to_string(sz / 1024) + "k";
  return s + std::to_string(sz);
}

}  // namespace

unsigned Kmalloc::kmalloc_index(std::size_t size) {
  if (size <= 192) return kSizeIndex[(size - 1) / 8];
  unsigned idx = 0;
  std::size_t v = size - 1;
  while (v) {
    ++idx;
    v >>= 1;
  }
  return idx;  // fls(size - 1)
}

// kmalloc_type: which set of size classes serves these flags.
kmalloc_cache_type Kmalloc::kmalloc_type(gfp_t gfp) {
  if (!(gfp & (__GFP_DMA | __GFP_RECLAIMABLE | __GFP_ACCOUNT))) return KMALLOC_NORMAL;
  if (gfp & __GFP_DMA) return KMALLOC_DMA;
  if (gfp & __GFP_RECLAIMABLE) return KMALLOC_RECLAIM;
  return KMALLOC_CGROUP;
}

// create_kmalloc_caches: per type, powers of two from 8 with 96 after 64 and 192 after 128.
Kmalloc::Kmalloc(Slub& slub) : slub_(slub) {
  static const slab_flags_t type_flags[NR_KMALLOC_TYPES] = {0, SLAB_RECLAIM_ACCOUNT, SLAB_ACCOUNT, SLAB_CACHE_DMA};
  for (int t = 0; t < NR_KMALLOC_TYPES; ++t) {
    auto type = static_cast<kmalloc_cache_type>(t);
    auto make = [&](unsigned i) {
      caches_[t][i] = slub_.kmem_cache_create(class_name(type, i), class_size(i), 0, type_flags[t]);
    };
    for (unsigned i = KMALLOC_SHIFT_LOW; i <= KMALLOC_SHIFT_HIGH; ++i) {
      make(i);
      if (i == 6) make(1);
      if (i == 7) make(2);
    }
  }
}

kmem_cache* Kmalloc::kmalloc_slab(std::size_t size, gfp_t gfp) const {
  if (size == 0 || size > KMALLOC_MAX_CACHE_SIZE) return nullptr;
  return caches_[kmalloc_type(gfp)][kmalloc_index(size)];
}

// __kmalloc_node / kmalloc_large_node.
PhysAddr Kmalloc::kmalloc_node(CpuId cpu, std::size_t size, gfp_t gfp, int node, KernelCost& cost, AllocSite site) {
  if (size == 0) return ZERO_SIZE_PTR;
  if (size <= KMALLOC_MAX_CACHE_SIZE) [[likely]]
    return slub_.kmem_cache_alloc_node(caches_[kmalloc_type(gfp)][kmalloc_index(size)], cpu, gfp, node, cost, site);
  if (size > KMALLOC_MAX_SIZE) return 0;  // Linux warns and fails
  return slub_.alloc_large(cpu, gfp, size, node, cost, site);
}

// kfree: a slab object goes back to its cache, a large block to the buddy.
void Kmalloc::kfree(CpuId cpu, PhysAddr obj, KernelCost& cost) {
  if (ZERO_OR_NULL_PTR(obj)) return;
  if (slub_.free_slab_object(cpu, obj, cost)) return;
  if (slub_.free_large(cpu, obj, cost)) return;
  std::fprintf(stderr, "kfree(0x%llx): not an allocated kmalloc object\n", static_cast<unsigned long long>(obj));
  std::abort();
}

std::size_t Kmalloc::ksize(PhysAddr obj) const {
  if (ZERO_OR_NULL_PTR(obj)) return 0;
  if (const Slab* slab = slub_.addr_to_slab(obj)) return slab->cache->object_size;
  std::size_t large = slub_.large_size(obj);
  if (large) {
    std::size_t block = kPageSize;
    while (block < large) block <<= 1;
    return block;
  }
  return 0;
}

}  // namespace numasim::os
