// The reverse map of anonymous pages (mm/rmap.c): anon_vma and
// anon_vma_chain. Every private anonymous VMA that has had an anonymous fault
// points to an anon_vma (anon_vma_prepare); a forked VMA gets a new anon_vma
// whose parent and root are its parent VMA's (anon_vma_fork), and one
// anon_vma_chain record per anon_vma of its hierarchy, so that the anon_vma a
// page belongs to (page->owner, with page->index its linear page index) lists,
// through its chains, every VMA that may map the page (rmap_walk in
// os/kernel.h). anon_vma and anon_vma_chain objects come from their SLUB
// caches (os/kernel_caches.h); the host records here keep their addresses.
// The page-table side (rmap_walk, try_to_unmap, page_referenced) is in
// Kernel (rmap.cpp); this header holds the VMA-side structures.
// Simplified: the anon_vma's interval tree of chains is a vector scanned in
// order (the walk checks each VMA's page-offset range); no anon_vma locking;
// anon_vma_clone never reuses an idle anon_vma of the hierarchy (Linux's
// num_children < 2 && num_active_vmas == 0 reuse), so a fork always makes one
// new anon_vma per anonymous VMA; merging a VMA into a neighbour without an
// anon_vma moves its chain records over instead of freeing and cloning them;
// hugetlb pages have no rmap here (their owner is the mapping's id); shmem
// pages are found through the file walk over their object's VMAs (os/shmem.h).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "os/kernel_cost.h"
#include "os/mm_types.h"
#include "os/slub.h"

namespace numasim::os {

class KernelCaches;
class PhysMem;
struct page;

struct anon_vma {
  anon_vma* root = nullptr;              // root of the hierarchy (itself for a root)
  anon_vma* parent = nullptr;            // the anon_vma it was forked from (itself for a root)
  int refcount = 0;                      // 1 while chains exist, plus one per descendant that has it as root
  int num_children = 0;                  // anon_vmas whose parent this is
  int num_active_vmas = 0;               // VMAs with vma->anon_vma == this
  std::uint32_t id = 0;                  // the handle stored in page->owner
  PhysAddr obj = 0;                      // its anon_vma slab object
  std::vector<anon_vma_chain*> rb_root;  // chains of every VMA that may map its pages (Linux: interval tree)
};

// One link between a VMA and an anon_vma of its hierarchy (on vma->anon_vma_chain
// and on av->rb_root).
struct anon_vma_chain {
  vm_area_struct* vma = nullptr;
  struct anon_vma* anon_vma = nullptr;
  PhysAddr obj = 0;  // its anon_vma_chain slab object
};

// The kernel's anon_vma records, by id (ids are reused lowest-free-first, so
// runs are deterministic), with their slab objects.
class AnonVmas {
 public:
  explicit AnonVmas(KernelCaches& kc) : kc_(kc) {}
  ~AnonVmas();
  AnonVmas(const AnonVmas&) = delete;
  AnonVmas& operator=(const AnonVmas&) = delete;

  // anon_vma_alloc: refcount 1, its own root and parent; nullptr on failure.
  anon_vma* alloc(CpuId cpu, KernelCost& cost);
  // put_anon_vma: drop a reference; the last one frees it and puts its root.
  void put(anon_vma* av, CpuId cpu, KernelCost& cost);
  // anon_vma_chain_alloc / free with the record.
  anon_vma_chain* avc_alloc(CpuId cpu, KernelCost& cost);
  anon_vma_chain* avc_from(PhysAddr obj);  // a record for a reserved object
  void avc_free(anon_vma_chain* avc, CpuId cpu, KernelCost& cost);

  anon_vma* lookup(std::uint32_t id) const { return id < by_id_.size() ? by_id_[id] : nullptr; }
  std::size_t nr_anon_vmas() const { return live_; }
  std::size_t nr_chains() const { return live_chains_; }
  // Every live anon_vma, in id order (kmemleak root, checker).
  void for_each(const std::function<void(const anon_vma&)>& fn) const;
  KernelCaches& caches() { return kc_; }

 private:
  KernelCaches& kc_;
  std::vector<anon_vma*> by_id_{nullptr};  // id 0 = none
  std::vector<std::uint32_t> free_ids_;    // kept sorted descending: back() is the lowest
  std::size_t live_ = 0, live_chains_ = 0;
};

// anon_vma_prepare: give vma an anon_vma at its first anonymous fault, reusing
// a compatible neighbour's (find_mergeable_anon_vma) or a new one, with its
// chain record. 0, or -ENOMEM with nothing changed.
int anon_vma_prepare(AnonVmas& avs, vm_area_struct& vma, CpuId cpu, KernelCost& cost);
// anon_vma_clone: dst gets a chain record for every anon_vma on src's chain,
// each object from take_obj (reserved by the caller: cannot fail).
void anon_vma_clone(AnonVmas& avs, vm_area_struct& dst, const vm_area_struct& src,
                    const std::function<PhysAddr()>& take_obj);
// anon_vma_fork: the child VMA (a copy of pvma without chains) gets pvma's
// chains plus a new anon_vma whose parent is pvma's. -ENOMEM (child VMA left
// without chains or anon_vma) on failure.
int anon_vma_fork(AnonVmas& avs, vm_area_struct& vma, const vm_area_struct& pvma, CpuId cpu, KernelCost& cost);
// unlink_anon_vmas: free vma's chain records and put anon_vmas nobody uses any more.
void unlink_anon_vmas(AnonVmas& avs, vm_area_struct& vma, CpuId cpu, KernelCost& cost);
// vma_merge's anon_vma side: `into` absorbs `gone`; when into has no anon_vma,
// gone's anon_vma and chain records move over (re-pointed, nothing allocated).
void anon_vma_merge(vm_area_struct& into, vm_area_struct& gone);
// is_mergeable_anon_vma for two adjacent VMAs: the same anon_vma, or one has
// none and the other's chain is a single record (it was never forked).
bool anon_vmas_mergeable(const vm_area_struct& a, const vm_area_struct& b);
// How many chain records the split of one of mm's VMAs may need (its longest chain).
std::size_t max_anon_vma_chain(const mm_struct& mm);

// The anon_vma an anonymous page belongs to (page_anon_vma), or nullptr.
anon_vma* page_anon_vma(const AnonVmas& avs, const page* pg);
// vma_address: the user address of page index `pgoff` in vma, or 0 when outside it.
VirtAddr vma_address(const vm_area_struct& vma, std::uint64_t pgoff);

}  // namespace numasim::os
