// The reverse map (mm/rmap.c): anon_vma records and chains (see rmap.h), and
// the kernel's page-table side: rmap_walk, try_to_unmap, page_referenced,
// page_add_new_anon_rmap, page_remove_rmap. Every PTE the walk looks at is
// read as an 8-byte kernel_read from the walking CPU; every PTE changed is a
// set_entry (an 8-byte kernel_write plus pte_update_cycles).
// rmap_walk finds the PMD mappings of a THP (os/huge_memory.h) too; try_to_unmap
// splits a THP first, then replaces the PTEs of a swap-cache page by its swap
// entry and clears those of other pages.
// Page-cache pages mapped by file-backed VMAs have their own side: page_add_file_rmap
// / the file branch of page_remove_rmap (MM_FILEPAGES, NR_FILE_MAPPED, one
// reference per mapping besides the cache's), rmap_walk_file over the VMAs that
// map the page's address_space, page_mkclean (writeback write-protects shared
// mappings again) and unmap_mapping_range (truncate).
// put_user_page: the mapping's reference dropped, the page freed on the last
// (mm/swap.c put_page; a swap-cache page through mm/swap_state.c's
// free_pages_and_swap_cache), here beside page_remove_rmap so it inlines there.
// shmem pages (os/shmem.h) take the same file walk over the VMAs of their object.
// Simplified: no mlock handling; the file rmap has no i_mmap interval tree:
// rmap_walk_file visits every mm's VMAs of that file (in mm order), and only
// for a mapped page (folio_mapped).
#include "os/rmap.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/kernel.h"
#include "os/kernel_caches.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/swapops.h"

namespace numasim::os {

namespace {
[[noreturn]] void rmap_bug(const char* what, std::uint64_t a) {
  std::fprintf(stderr, "numasim: rmap invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}

// anon_vma_chain_link: vma and av now know each other through avc.
void chain_link(vm_area_struct& vma, anon_vma_chain* avc, anon_vma* av) {
  avc->vma = &vma;
  avc->anon_vma = av;
  vma.anon_vma_chain.push_back(avc);
  av->rb_root.push_back(avc);
}

void tree_remove(anon_vma* av, anon_vma_chain* avc) {
  auto it = std::find(av->rb_root.begin(), av->rb_root.end(), avc);
  if (it == av->rb_root.end()) rmap_bug("chain record not on its anon_vma", avc->obj);
  av->rb_root.erase(it);
}

// anon_vma_compatible: a and b could be one VMA but for their access rights.
bool anon_vma_compatible(const vm_area_struct& a, const vm_area_struct& b) {
  return a.vm_end == b.vm_start && vma_policy_equal(a, b) && a.vm_file_id == b.vm_file_id &&
         !((a.vm_flags ^ b.vm_flags) & ~VM_ACCESS_FLAGS) && b.vm_pgoff == a.vm_pgoff + (a.size() >> kPageShift);
}

// reusable_anon_vma: old's anon_vma when old was never forked (a single chain record).
anon_vma* reusable_anon_vma(const vm_area_struct* old, const vm_area_struct& a, const vm_area_struct& b) {
  if (old && anon_vma_compatible(a, b) && old->anon_vma && old->anon_vma_chain.size() == 1) return old->anon_vma;
  return nullptr;
}

// find_mergeable_anon_vma: a neighbour's anon_vma this VMA may share.
anon_vma* find_mergeable_anon_vma(vm_area_struct& vma) {
  if (!vma.vm_mm) return nullptr;
  mm_struct& mm = *vma.vm_mm;
  if (vm_area_struct* next = vma_next(mm, vma))
    if (anon_vma* av = reusable_anon_vma(next, vma, *next)) return av;
  if (vm_area_struct* prev = vma_prev(mm, vma))
    if (anon_vma* av = reusable_anon_vma(prev, *prev, vma)) return av;
  return nullptr;
}
}  // namespace

// ---------------------------------------------------------------------------
// anon_vma records
// ---------------------------------------------------------------------------

AnonVmas::~AnonVmas() {
  for (anon_vma* av : by_id_) delete av;
}

anon_vma* AnonVmas::alloc(CpuId cpu, KernelCost& cost) {
  const PhysAddr obj = kc_.anon_vma_alloc(cpu, cost, AllocSite::tag("anon_vma_alloc"));
  if (!obj) return nullptr;
  auto* av = new anon_vma;
  av->obj = obj;
  av->root = av->parent = av;
  av->refcount = 1;
  if (free_ids_.empty()) {
    av->id = static_cast<std::uint32_t>(by_id_.size());
    by_id_.push_back(av);
  } else {
    av->id = free_ids_.back();
    free_ids_.pop_back();
    by_id_[av->id] = av;
  }
  ++live_;
  return av;
}

// put_anon_vma / __put_anon_vma.
void AnonVmas::put(anon_vma* av, CpuId cpu, KernelCost& cost) {
  if (av->refcount <= 0) rmap_bug("put of an anon_vma without references", av->id);
  if (--av->refcount > 0) return;
  if (!av->rb_root.empty()) rmap_bug("freeing an anon_vma that still has chains", av->id);
  anon_vma* root = av->root;
  kc_.anon_vma_free(cpu, av->obj, cost);
  by_id_[av->id] = nullptr;
  free_ids_.insert(std::upper_bound(free_ids_.begin(), free_ids_.end(), av->id, std::greater<>()), av->id);
  --live_;
  delete av;
  if (root != av) put(root, cpu, cost);
}

anon_vma_chain* AnonVmas::avc_alloc(CpuId cpu, KernelCost& cost) {
  const PhysAddr obj = kc_.anon_vma_chain_alloc(cpu, cost, AllocSite::tag("anon_vma_chain_alloc"));
  return obj ? avc_from(obj) : nullptr;
}

anon_vma_chain* AnonVmas::avc_from(PhysAddr obj) {
  auto* avc = new anon_vma_chain;
  avc->obj = obj;
  ++live_chains_;
  return avc;
}

void AnonVmas::avc_free(anon_vma_chain* avc, CpuId cpu, KernelCost& cost) {
  kc_.anon_vma_chain_free(cpu, avc->obj, cost);
  --live_chains_;
  delete avc;
}

void AnonVmas::for_each(const std::function<void(const anon_vma&)>& fn) const {
  for (const anon_vma* av : by_id_)
    if (av) fn(*av);
}

// ---------------------------------------------------------------------------
// VMA side
// ---------------------------------------------------------------------------

// __anon_vma_prepare.
int anon_vma_prepare(AnonVmas& avs, vm_area_struct& vma, CpuId cpu, KernelCost& cost) {
  if (vma.anon_vma) return 0;
  anon_vma_chain* avc = avs.avc_alloc(cpu, cost);
  if (!avc) return -ENOMEM;
  anon_vma* av = find_mergeable_anon_vma(vma);
  if (!av) {
    av = avs.alloc(cpu, cost);
    if (!av) {
      avs.avc_free(avc, cpu, cost);
      return -ENOMEM;
    }
    ++av->num_children;  // self-parent link of a new root
  }
  vma.anon_vma = av;
  chain_link(vma, avc, av);
  ++av->num_active_vmas;
  return 0;
}

void anon_vma_clone(AnonVmas& avs, vm_area_struct& dst, const vm_area_struct& src,
                    const std::function<PhysAddr()>& take_obj) {
  dst.anon_vma_chain.clear();
  for (anon_vma_chain* pavc : src.anon_vma_chain) chain_link(dst, avs.avc_from(take_obj()), pavc->anon_vma);
  if (dst.anon_vma) ++dst.anon_vma->num_active_vmas;  // split: the copy uses the same anon_vma
}

int anon_vma_fork(AnonVmas& avs, vm_area_struct& vma, const vm_area_struct& pvma, CpuId cpu, KernelCost& cost) {
  vma.anon_vma = nullptr;
  vma.anon_vma_chain.clear();
  if (!pvma.anon_vma) return 0;
  // anon_vma_clone, allocating: the child may map every page the parent may.
  for (anon_vma_chain* pavc : pvma.anon_vma_chain) {
    anon_vma_chain* avc = avs.avc_alloc(cpu, cost);
    if (!avc) {
      unlink_anon_vmas(avs, vma, cpu, cost);
      return -ENOMEM;
    }
    chain_link(vma, avc, pavc->anon_vma);
  }
  // Then its own anon_vma for the pages it will COW.
  anon_vma* av = avs.alloc(cpu, cost);
  anon_vma_chain* avc = av ? avs.avc_alloc(cpu, cost) : nullptr;
  if (!avc) {
    if (av) avs.put(av, cpu, cost);
    unlink_anon_vmas(avs, vma, cpu, cost);
    return -ENOMEM;
  }
  av->num_active_vmas++;
  av->root = pvma.anon_vma->root;
  av->parent = pvma.anon_vma;
  ++av->root->refcount;  // get_anon_vma(anon_vma->root)
  vma.anon_vma = av;
  chain_link(vma, avc, av);
  ++av->parent->num_children;
  return 0;
}

void unlink_anon_vmas(AnonVmas& avs, vm_area_struct& vma, CpuId cpu, KernelCost& cost) {
  std::vector<anon_vma_chain*> emptied;
  for (anon_vma_chain* avc : vma.anon_vma_chain) {
    anon_vma* av = avc->anon_vma;
    tree_remove(av, avc);
    if (av->rb_root.empty()) {  // nobody maps its pages any more: put it below
      --av->parent->num_children;
      emptied.push_back(avc);
      continue;
    }
    avs.avc_free(avc, cpu, cost);
  }
  vma.anon_vma_chain.clear();
  if (vma.anon_vma) {
    --vma.anon_vma->num_active_vmas;
    vma.anon_vma = nullptr;
  }
  for (anon_vma_chain* avc : emptied) {
    anon_vma* av = avc->anon_vma;
    avs.avc_free(avc, cpu, cost);
    avs.put(av, cpu, cost);
  }
}

void anon_vma_merge(vm_area_struct& into, vm_area_struct& gone) {
  if (into.anon_vma || !gone.anon_vma) return;  // gone's records are unlinked when it is erased
  into.anon_vma = gone.anon_vma;
  gone.anon_vma = nullptr;
  for (anon_vma_chain* avc : gone.anon_vma_chain) avc->vma = &into;
  into.anon_vma_chain = std::move(gone.anon_vma_chain);
  gone.anon_vma_chain.clear();
}

bool anon_vmas_mergeable(const vm_area_struct& a, const vm_area_struct& b) {
  if (a.anon_vma == b.anon_vma) return true;
  if (!a.anon_vma) return b.anon_vma_chain.size() == 1;
  if (!b.anon_vma) return a.anon_vma_chain.size() == 1;
  return false;
}

std::size_t max_anon_vma_chain(const mm_struct& mm) {
  std::size_t n = 0;
  for (const auto& [start, v] : mm.mm_mt) n = std::max(n, v.anon_vma_chain.size());
  return n;
}

anon_vma* page_anon_vma(const AnonVmas& avs, const page* pg) { return PageAnon(pg) ? avs.lookup(pg->owner) : nullptr; }

VirtAddr vma_address(const vm_area_struct& vma, std::uint64_t pgoff) {
  const std::uint64_t pages = vma.size() >> kPageShift;
  if (pgoff < vma.vm_pgoff || pgoff - vma.vm_pgoff >= pages) return 0;
  return vma.vm_start + ((pgoff - vma.vm_pgoff) << kPageShift);
}

// ---------------------------------------------------------------------------
// Kernel side: pages and their mappings
// ---------------------------------------------------------------------------

void Kernel::page_add_new_anon_rmap(page* pg, vm_area_struct& vma, VirtAddr addr) {
  if (!vma.anon_vma) rmap_bug("new anonymous page in a VMA without anon_vma", addr);
  pg->mapcount = 1;
  pg->owner = vma.anon_vma->id;
  pg->index = vma.pgoff_of(addr);
  pg->set(PG_anon);
  pg->set(PG_swapbacked);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_ANON_MAPPED, 1);
}

// put_page on a user page after one of its mappings went away: the page holds
// one reference per mapping; the last one frees it. Beside page_remove_rmap, its
// caller on every zap, so that the compiler can inline it there.
void Kernel::put_user_page(CpuId cpu, page* pg, KernelCost& cost) {
  if (pg->mapcount != 0) {
    --pg->_refcount;
    return;
  }
  if (pg->test(PG_swapcache)) {  // free_pages_and_swap_cache: free_swap_cache, then the mapping's put
    swap_->free_swap_cache(pg, cpu, cost);
    if (pg->test(PG_swapcache)) {  // still needed by swap PTEs or under writeback: the cache keeps it
      --pg->_refcount;
      return;
    }
  }
  if (pg->_refcount == 1) lru_page_release(pg);  // the last reference: off its LRU list or lru_add batch
  pg->clear(PG_anon);
  pg->clear(PG_swapbacked);
  pg->clear(PG_dirty);
  pg->owner = 0;
  pm_.free_pages(cpu, pg, 0, cost);
}

void Kernel::page_remove_rmap(CpuId cpu, mm_struct& mm, page* pg, bool huge, KernelCost& cost) {
  if (!huge && PageCompound(pg)) return page_remove_rmap_thp_pte(cpu, mm, pg, cost);  // a THP subpage
  if (pg->mapcount <= 0) rmap_bug("removing a mapping of an unmapped page", pm_.page_to_pfn(pg).value());
  --pg->mapcount;
  if (huge) {  // hugetlb: the page goes back to the pool with its last mapping
    mm.hugetlb_usage -= 1;
    if (pg->mapcount == 0) {
      pg->owner = 0;
      hugetlb_->enqueue(pg);
    } else {
      --pg->_refcount;
    }
    return;
  }
  const NodeId nid = pm_.page_to_nid(pg);
  const bool last = pg->mapcount == 0;
  if (PageAnon(pg)) {
    mm.add_mm_counter(MM_ANONPAGES, -1);
    if (last) pm_.mod_node_page_state(nid, NR_ANON_MAPPED, -1);
  } else if (!PageSwapBacked(pg)) {  // a page-cache page: the cache keeps its own reference
    mm.add_mm_counter(MM_FILEPAGES, -1);
    if (last) pm_.mod_node_page_state(nid, NR_FILE_MAPPED, -1);
    if (pg->_refcount > 1) {
      --pg->_refcount;
    } else {  // left the cache while mapped (not expected: truncation unmaps first)
      lru_page_release(pg);
      pg->owner = 0;
      pg->flags &= ~((1u << PG_dirty) | (1u << PG_uptodate));
      pm_.free_pages(cpu, pg, 0, cost);
    }
    return;
  } else {  // shmem: its object keeps its own reference (os/shmem.h)
    mm.add_mm_counter(MM_SHMEMPAGES, -1);
    if (last) pm_.mod_node_page_state(nid, NR_FILE_MAPPED, -1);
    if (pg->_refcount > 1) {
      --pg->_refcount;
      return;
    }
  }
  put_user_page(cpu, pg, cost);
}

void Kernel::rmap_walk(page* pg, CpuId cpu, KernelCost& cost, const std::function<bool(const RmapMapping&)>& fn,
                       bool migration) {
  if (!PageAnon(pg)) {  // a page-cache or shmem page (no migration entries for them)
    if (!migration) rmap_walk_file(pg, cpu, cost, fn);
    return;
  }
  anon_vma* av = page_anon_vma(*anon_vmas_, pg);
  if (!av) return;
  const PhysAddr phys = pm_.page_to_phys(pg);
  // A THP's PMD mappings map its head's address (page_vma_mapped_walk's pmd case).
  const page* head = PageCompound(pg) ? thp_head(pg) : nullptr;
  const bool thp = head && PageTransHuge(head);  // (a THP at PFN 0 has physical address 0: no sentinel)
  const PhysAddr head_phys = thp ? pm_.page_to_phys(head) : 0;
  const std::uint64_t index = pg->index;
  // rmap_walk_anon: the chains of the page's anon_vma, in order; fn must not
  // change them (it unmaps or references the page, never a VMA).
  for (anon_vma_chain* avc : av->rb_root) {
    vm_area_struct* vma = avc->vma;
    const VirtAddr addr = vma_address(*vma, index);
    if (!addr) continue;
    // page_vma_mapped_walk: the leaf at addr, if it maps this page.
    PteRef ref = pgtables_.walk(vma->vm_mm->pgd, addr, PTE_LEVEL);
    if (ref && thp && !migration && ref.level == PMD_LEVEL && pte_huge(ref.value()) &&
        !(ref.value() & _PAGE_SPECIAL) && pte_phys(ref.value()) == head_phys) {
      cost.add_memory(platform_.kernel_read(cpu, ref.addr, Bytes(8)));
      if (!fn(RmapMapping{vma, addr & ~(HPAGE_PMD_SIZE - 1), ref})) return;
      continue;
    }
    if (!ref || ref.level != PTE_LEVEL) continue;
    cost.add_memory(platform_.kernel_read(cpu, ref.addr, Bytes(8)));
    const pteval_t v = ref.value();
    if (migration) {
      if (!is_swap_pte(v)) continue;
      const swp_entry_t e = pte_to_swp_entry(v);
      if (!is_migration_entry(e) || swp_offset_pfn(e) != (phys >> kPageShift)) continue;
    } else if (!(pte_present(v) || pte_protnone(v)) || (v & _PAGE_SPECIAL) || pte_phys(v) != phys) {
      continue;
    }
    if (!fn(RmapMapping{vma, addr, ref})) return;
  }
}

bool Kernel::try_to_unmap(page* pg, CpuId cpu, KernelCost& cost) {
  // TTU_SPLIT_HUGE_PMD: a THP is split first, then its subpage unmapped as a small page.
  if (PageCompound(pg) && !thp_head(pg)->test(PG_hugetlb)) {
    if (pg->mapcount == 0 && entire_mapcount(thp_head(pg)) == 0) return true;
    if (!split_huge_page(thp_head(pg), cpu, cost)) return false;
  }
  get_page(pg);         // the caller's isolation reference: the page survives its last unmap
  const bool swapcache = pg->test(PG_swapcache);
  const swp_entry_t entry = swapcache ? private_to_swp(pg->private_) : swp_entry_t{};
  const bool file = !PageAnon(pg);  // a page-cache or shmem page stays in its cache
  rmap_walk(pg, cpu, cost, [&](const RmapMapping& m) {
    mm_struct& mm = *m.vma->vm_mm;
    const pteval_t old = m.pte.value();
    if (swapcache) {
      // try_to_unmap_one for an anonymous page in the swap cache: swap_duplicate, the
      // PTE becomes the swap entry, the dirty bit goes to the page (folio_mark_dirty).
      if (swap_->swap_duplicate(entry) != 0) return false;  // count at its maximum: keep the rest mapped
      if (old & _PAGE_DIRTY) pg->set(PG_dirty);
      pgtables_.set_entry(cpu, m.pte, swp_entry_to_pte(entry), cost);
      mm.add_mm_counter(MM_SWAPENTS, 1);
    } else {
      // A file page: the dirty bit of its entry goes to the page (folio_mark_dirty).
      if (file && (old & _PAGE_DIRTY)) {
        if (PageSwapBacked(pg))
          pg->set(PG_dirty);  // shmem
        else
          fs_->mark_page_dirty(pg, cpu);
      }
      pgtables_.set_entry(cpu, m.pte, 0, cost);  // ptep_clear_flush
    }
    flush_tlb_range(cpu, mm, m.addr, m.addr + kPageSize, cost);
    page_remove_rmap(cpu, mm, pg, false, cost);
    return true;
  });
  const bool unmapped = pg->mapcount == 0;
  if (unmapped && !swapcache && !file) {
    pg->clear(PG_anon);
    pg->clear(PG_swapbacked);
    pg->clear(PG_dirty);
    pg->owner = 0;
  }
  pm_.free_pages(cpu, pg, 0, cost);  // drop the isolation reference (frees the page if it was the last)
  return unmapped;
}

int Kernel::page_referenced(page* pg, CpuId cpu, KernelCost& cost) {
  int referenced = 0;
  rmap_walk(pg, cpu, cost, [&](const RmapMapping& m) {
    const pteval_t v = m.pte.value();
    if (v & _PAGE_ACCESSED) {  // ptep_clear_flush_young: x86 does not flush
      pgtables_.set_entry(cpu, m.pte, v & ~_PAGE_ACCESSED, cost);
      ++referenced;
    }
    return true;
  });
  return referenced;
}

// page_add_file_rmap: one more mapping of a page-cache page and its reference.
void Kernel::page_add_file_rmap(page* pg, mm_struct& mm) {
  if (pg->mapcount++ == 0) pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_FILE_MAPPED, 1);
  ++pg->_refcount;
  mm.add_mm_counter(MM_FILEPAGES, 1);
}

// rmap_walk_file: the VMAs of the page's address_space that cover its index
// (vma_address), each PTE read, those mapping this very page passed to fn (a
// private mapping's copy-on-write page at that address is not this page).
void Kernel::rmap_walk_file(page* pg, CpuId cpu, KernelCost& cost, const std::function<bool(const RmapMapping&)>& fn) {
  if (pg->mapcount <= 0 || !fs_) return;  // folio_mapped: nothing to find
  std::uint64_t id = 0;
  if (PageSwapBacked(pg)) {  // shmem: the VMAs of its object
    const shmem_inode_info* info = shmem_ ? shmem_->page_mapping(pg) : nullptr;
    if (!info) return;
    id = kShmemVmaIdBase + info->id;
  } else {
    const inode* ino = fs_->page_mapping(pg);
    if (!ino) return;
    id = kFileVmaIdBase + ino->i_mapping.id;
  }
  const PhysAddr phys = pm_.page_to_phys(pg);
  for (const auto& mmp : mms_) {
    for (auto& [start, vma] : mmp->mm_mt) {
      if (vma.vm_file_id != id) continue;
      const VirtAddr addr = vma_address(vma, pg->index);
      if (!addr) continue;
      const PteRef ref = pgtables_.walk(mmp->pgd, addr, PTE_LEVEL);
      if (!ref || ref.level != PTE_LEVEL) continue;
      cost.add_memory(platform_.kernel_read(cpu, ref.addr, Bytes(8)));
      const pteval_t v = ref.value();
      if (!(pte_present(v) || pte_protnone(v)) || (v & _PAGE_SPECIAL) || pte_phys(v) != phys) continue;
      if (!fn(RmapMapping{&vma, addr, ref})) return;
    }
  }
}

// page_mkclean (folio_mkclean -> page_mkclean_one): every writable or dirty
// entry mapping the page becomes read-only and clean, its TLB entry flushed;
// the next write faults (wp_page_shared) and dirties the page again.
bool Kernel::page_mkclean(page* pg, CpuId cpu, KernelCost& cost) {
  bool dirty = false;
  rmap_walk_file(pg, cpu, cost, [&](const RmapMapping& m) {
    const pteval_t v = m.pte.value();
    if (!(v & (_PAGE_RW | _PAGE_DIRTY)) || !pte_present(v)) return true;
    dirty |= (v & _PAGE_DIRTY) != 0;
    pgtables_.set_entry(cpu, m.pte, v & ~(_PAGE_RW | _PAGE_DIRTY), cost);
    flush_tlb_range(cpu, *m.vma->vm_mm, m.addr, m.addr + kPageSize, cost);
    return true;
  });
  return dirty;
}

// unmap_mapping_range(mapping, first_index << PAGE_SHIFT, 0, even_cows = 1):
// the entries of every VMA of the file for pages from first_index on, page-cache
// pages and private copies alike, are zapped (truncate_pagecache).
void Kernel::unmap_mapping_range(inode& ino, std::uint64_t first_index, CpuId cpu, KernelCost& cost) {
  const std::uint64_t id = kFileVmaIdBase + ino.i_mapping.id;
  for (const auto& mmp : mms_) {
    for (auto& [start, vma] : mmp->mm_mt) {
      if (vma.vm_file_id != id) continue;
      const std::uint64_t pages = vma.size() >> kPageShift;
      if (vma.vm_pgoff + pages <= first_index) continue;
      const VirtAddr from =
          first_index > vma.vm_pgoff ? vma.vm_start + ((first_index - vma.vm_pgoff) << kPageShift) : vma.vm_start;
      if (zap_range(cpu, vma, from, vma.vm_end, cost)) flush_tlb_range(cpu, *mmp, from, vma.vm_end, cost);
    }
  }
}

}  // namespace numasim::os
