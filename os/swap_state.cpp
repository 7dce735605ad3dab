// The swap cache (mm/swap_state.c) and the swap side of the reclaim <-> swap
// seam (os/swap.h), plus do_swap_page's swap-in (mm/memory.c). Each area's
// cache is an array indexed by slot (swapfile.h); a page in it has
// PG_swapcache, its entry in page->private_ (swp_to_private) and one reference
// held by the cache; once it leaves, the workingset shadow stays in the slot
// while PTEs still use it. Readahead: Linux 6.1's VMA-based swap_vma_readahead
// (default) or the slot-cluster swap_cluster_readahead, both with the
// __swapin_nr_pages window that grows with readahead hits (swap_ra,
// swap_ra_hit). A zram area with a single user skips the swap cache
// (SWP_SYNCHRONOUS_IO).
// Reference contract with reclaim (vmscan.cpp): remove_swapcache_mapping expects
// the reclaimer's isolation reference besides the cache's (page_ref_count == 2,
// as __remove_mapping's freeze of 1 + nr_pages); it drops the cache's and the
// caller frees the page with its own. try_to_unmap (rmap.cpp) takes and drops
// its own reference.
// Simplified: readahead pages are usable as soon as the fault that read them
// returns (their own completion is not waited for); the target page is read
// after its readahead window, and the fault's task sleeps until that read
// completes (KernelCost::io_wait: its CPU runs something else); no swap-in of large
// folios; a page is "exclusive" (may be mapped writable at once) when its slot
// has no other user and it has no other mapping (Linux 6.1 carries an
// exclusive bit in the swap PTE instead).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/swapfile.h"
#include "os/syscalls.h"
#include "os/zram.h"

namespace numasim::os {

// ---------------------------------------------------------------------------
// The seam (os/swap.h)
// ---------------------------------------------------------------------------

bool Kernel::add_to_swap(page* pg, CpuId cpu, KernelCost& cost) { return swap_->add_to_swap(pg, cpu, cost); }

pageout_t Kernel::pageout(page* pg, CpuId cpu, KernelCost& cost) {
  if (!pg->test(PG_swapcache) || pg->test(PG_writeback)) return PAGE_KEEP;
  if (!PageDirty(pg)) return PAGE_CLEAN;
  const int r = swap_->swap_writepage(pg, cpu, cost);
  if (r == PAGE_SUCCESS) pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_VMSCAN_WRITE, 1);
  return static_cast<pageout_t>(r);
}

bool Kernel::remove_swapcache_mapping(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost) {
  return swap_->remove_swapcache_mapping(pg, shadow, cpu, cost);
}

bool Kernel::try_to_free_swap(page* pg) {
  KernelCost& cost = ctx_.cost ? *ctx_.cost : free_cost_;
  return swap_->try_to_free_swap(pg, ctx_.cpu, cost);
}

std::uint64_t Kernel::total_swap_pages() const { return swap_->total_swap_pages(); }
std::uint64_t Kernel::nr_swap_pages() const { return swap_->nr_swap_pages(); }

// ---------------------------------------------------------------------------
// The swap cache
// ---------------------------------------------------------------------------

bool Swap::add_to_swap(page* pg, CpuId cpu, KernelCost& cost) {
  (void)cost;
  if (!PageAnon(pg) || pg->test(PG_swapcache) || PageCompound(pg)) return false;
  const std::optional<swp_entry_t> e = get_swap_page(cpu);  // folio_alloc_swap
  if (!e) return false;
  if (!k_.mem_cgroup_try_charge_swap(pg, *e)) {  // over memory.swap.max: the slot goes back
    swap_entry_free(*areas_[swp_type(*e)], swp_offset(*e), SWAP_HAS_CACHE);
    return false;
  }
  add_to_swap_cache(pg, *e);
  pg->set(PG_dirty);  // folio_mark_dirty: the slot holds nothing yet
  return true;
}

std::uint64_t Swap::add_to_swap_cache(page* pg, swp_entry_t e) {
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint64_t off = swp_offset(e);
  const std::uint64_t old = si.cache[off];
  const std::uint64_t pfn = k_.pm_.page_to_pfn(pg).value();
  si.cache[off] = (pfn + 1) << 2;
  pg->set(PG_swapcache);
  pg->set(PG_swapbacked);
  pg->private_ = swp_to_private(e);
  get_page(pg);  // the cache's reference
  ++si.nr_cached;
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_SWAPCACHE, 1);
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_FILE_PAGES, 1);  // Linux counts the swap cache there too
  return (old & 1) ? old >> 1 : 0;
}

page* Swap::swap_cache_page(swp_entry_t e) const {
  if (!valid(e)) return nullptr;
  const std::uint64_t c = areas_[swp_type(e)]->cache[swp_offset(e)];
  if (!c || (c & 1)) return nullptr;
  return k_.pm_.pfn_to_page(Pfn((c >> 2) - 1));
}

std::uint64_t Swap::nr_swapcache() const {
  std::uint64_t n = 0;
  for (const auto& a : areas_)
    if (a) n += a->nr_cached;
  return n;
}

// put_page of a reference that may be the last (the page is then freed as an
// anonymous page: its flags cleared first).
void Swap::put_cache_ref(page* pg, CpuId cpu, KernelCost& cost) {
  if (pg->_refcount == 1) {
    if (pg->mapcount != 0) {
      std::fprintf(stderr, "numasim: swap invariant broken: last reference of a mapped page dropped\n");
      std::abort();
    }
    k_.lru_page_release(pg);  // off its LRU list or lru_add batch (__folio_put)
    pg->flags &= ~((1u << PG_anon) | (1u << PG_swapbacked) | (1u << PG_dirty) | (1u << PG_uptodate) |
                   (1u << PG_referenced) | (1u << PG_workingset));
    pg->owner = 0;
  }
  k_.pm_.free_pages(cpu, pg, 0, cost);
}

void Swap::delete_from_swap_cache(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost) {
  const swp_entry_t e = private_to_swp(pg->private_);
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint64_t off = swp_offset(e);
  si.cache[off] = shadow ? (shadow << 1) | 1 : 0;
  pg->clear(PG_swapcache);
  pg->private_ = 0;
  --si.nr_cached;
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_SWAPCACHE, -1);
  k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_FILE_PAGES, -1);
  swap_entry_free(si, off, SWAP_HAS_CACHE);  // put_swap_folio (clears the shadow when the slot is freed)
  put_cache_ref(pg, cpu, cost);
}

page* Swap::lookup_swap_cache(swp_entry_t e, vm_area_struct* vma, VirtAddr addr) {
  page* pg = swap_cache_page(e);
  if (!pg) return nullptr;
  get_page(pg);
  std::uint64_t& c = areas_[swp_type(e)]->cache[swp_offset(e)];
  const bool readahead = c & 2;  // folio_test_clear_readahead
  c &= ~std::uint64_t{2};
  const bool vma_ra = params_.vma_ra_enabled;
  if (vma && vma_ra) {
    RaInfo& ra = vma_ra_[{vma->vm_mm ? vma->vm_mm->mm_id : 0, vma->vm_start}];
    if (readahead) ra.hits = std::min(ra.hits + 1, 63u);  // SWAP_RA_HITS_MAX
    (void)addr;
  }
  if (readahead) {
    k_.pm_.count_vm_event(SWAP_RA_HIT);
    if (!vma || !vma_ra) ++swapin_readahead_hits_;
  }
  return pg;
}

bool Swap::remove_swapcache_mapping(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost) {
  if (!pg->test(PG_swapcache) || pg->mapcount != 0 || PageDirty(pg) || pg->test(PG_writeback) ||
      pg->test(PG_locked) || pg->_refcount != 2)
    return false;
  delete_from_swap_cache(pg, shadow, cpu, cost);
  return true;
}

// folio_free_swap: the slot of a swap-cache page that no PTE uses any more is
// freed and the page, now the only copy of its data, is dirty.
bool Swap::try_to_free_swap(page* pg, CpuId cpu, KernelCost& cost) {
  if (!pg->test(PG_swapcache) || pg->test(PG_writeback)) return false;
  if (swap_count(private_to_swp(pg->private_)) != 0) return false;
  pg->set(PG_dirty);
  delete_from_swap_cache(pg, 0, cpu, cost);
  return true;
}

void Swap::free_swap_cache(page* pg, CpuId cpu, KernelCost& cost) {
  if (pg->test(PG_swapcache) && pg->mapcount == 0 && !pg->test(PG_locked)) try_to_free_swap(pg, cpu, cost);
}

// ---------------------------------------------------------------------------
// Swap-in and readahead
// ---------------------------------------------------------------------------

page* Swap::read_swap_cache_async(swp_entry_t e, task_struct* t, vm_area_struct* vma, VirtAddr addr, bool ra,
                                  bool& allocated, KernelCost& cost) {
  allocated = false;
  if (page* pg = swap_cache_page(e)) {
    get_page(pg);
    return pg;
  }
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint64_t off = swp_offset(e);
  if ((si.swap_map[off] & ~SWAP_HAS_CACHE) == 0 || si.swap_map[off] == SWAP_MAP_BAD) return nullptr;
  const CpuId cpu = t ? t->cpu : k_.ctx_.cpu;
  mempolicy* pol = const_cast<mempolicy*>(k_.effective_policy(t, vma));
  // Readahead pages are speculative: they give up rather than reclaim hard or kill.
  const gfp_t gfp = GFP_HIGHUSER_MOVABLE | (ra ? __GFP_NORETRY | __GFP_NOWARN : 0);
  page* pg = alloc_pages_mpol(k_.pm_, cpu, gfp, 0, pol, vma ? vma->pgoff_of(addr) : NO_INTERLEAVE_INDEX, cost);
  if (!pg) return nullptr;
  if (k_.mem_cgroup_swapin_charge_folio(pg, t ? t->mm : nullptr, gfp, e, cost)) {  // the entry's cgroup is full
    put_cache_ref(pg, cpu, cost);
    return nullptr;
  }
  // The allocation may have entered reclaim: the slot may have been cached or freed meanwhile.
  if (page* cached = swap_cache_page(e)) {
    put_cache_ref(pg, cpu, cost);
    get_page(cached);
    return cached;
  }
  if ((si.swap_map[off] & ~SWAP_HAS_CACHE) == 0) {
    put_cache_ref(pg, cpu, cost);
    return nullptr;
  }
  si.swap_map[off] |= SWAP_HAS_CACHE;  // swapcache_prepare
  const std::uint64_t shadow = add_to_swap_cache(pg, e);
  if (shadow) k_.workingset_refault(pg, shadow);
  k_.lru_cache_add(pg, cpu);
  allocated = true;
  return pg;
}

namespace {
// __swapin_nr_pages: the readahead window from the hits since the last fault.
unsigned swapin_window(std::uint64_t prev_offset, std::uint64_t offset, unsigned hits, unsigned max_pages,
                       unsigned prev_win) {
  unsigned pages = hits + 2;
  if (pages == 2) {
    if (offset != prev_offset + 1 && offset + 1 != prev_offset) pages = 1;
  } else {
    unsigned roundup = 4;
    while (roundup < pages) roundup <<= 1;
    pages = roundup;
  }
  if (pages > max_pages) pages = max_pages;
  const unsigned last_ra = prev_win / 2;  // don't shrink readahead too fast
  if (pages < last_ra) pages = last_ra;
  return pages;
}
}  // namespace

unsigned Swap::swapin_nr_pages(std::uint64_t offset) {
  const unsigned max_pages = 1u << params_.page_cluster;
  if (max_pages <= 1) return 1;
  const unsigned hits = swapin_readahead_hits_;
  swapin_readahead_hits_ = 0;
  const unsigned pages = swapin_window(prev_offset_, offset, hits, max_pages, last_readahead_pages_);
  if (!hits) prev_offset_ = offset;
  last_readahead_pages_ = pages;
  return pages;
}

page* Swap::swapin_readahead(swp_entry_t e, task_struct* t, vm_fault& vmf, KernelCost& cost) {
  const CpuId cpu = t->cpu;
  const unsigned type = swp_type(e);
  swap_info_struct& si = *areas_[type];
  const std::uint64_t off = swp_offset(e);
  vm_area_struct* vma = vmf.vma;
  auto read_ahead = [&](swp_entry_t re) {
    bool allocated = false;
    page* pg = read_swap_cache_async(re, t, vma, vmf.address, true, allocated, cost);
    if (!pg) return;
    if (allocated) {
      swap_readpage(pg, re, false, cpu, cost);
      areas_[swp_type(re)]->cache[swp_offset(re)] |= 2;  // SetPageReadahead
      k_.pm_.count_vm_event(SWAP_RA);
    }
    --pg->_refcount;  // put_page: the cache keeps it
  };
  if (params_.vma_ra_enabled) {
    // swap_vma_readahead with swap_ra_info.
    const unsigned max_win = 1u << std::min(params_.page_cluster, 5u);  // SWAP_RA_ORDER_CEILING
    if (max_win > 1) {
      RaInfo& ra = vma_ra_[{vma->vm_mm ? vma->vm_mm->mm_id : 0, vma->vm_start}];
      const std::uint64_t fpfn = vmf.address >> kPageShift, pfn = ra.addr >> kPageShift;
      const unsigned win = swapin_window(pfn, fpfn, ra.hits, max_win, ra.win);
      ra = RaInfo{vmf.address, win, 0};
      if (win > 1) {
        std::uint64_t lpfn, rpfn;
        if (fpfn == pfn + 1) {
          lpfn = fpfn;
          rpfn = fpfn + win;
        } else if (pfn == fpfn + 1) {
          lpfn = fpfn - win + 1;
          rpfn = fpfn + 1;
        } else {
          const unsigned left = (win - 1) / 2;
          lpfn = fpfn - left;
          rpfn = fpfn + win - left;
        }
        const VirtAddr pmd = vmf.address & ~((1ull << 21) - 1);
        const std::uint64_t start = std::max<std::uint64_t>({lpfn, vma->vm_start >> kPageShift, pmd >> kPageShift});
        const std::uint64_t end =
            std::min<std::uint64_t>({rpfn, vma->vm_end >> kPageShift, (pmd + (1ull << 21)) >> kPageShift});
        // The PTEs are copied in one go (one table, contiguous entries).
        if (end > start)
          cost.add_memory(k_.platform_.kernel_read(cpu, vmf.pte.addr - (fpfn - start) * 8, Bytes((end - start) * 8)));
        for (std::uint64_t p = start; p < end; ++p) {
          if (p == fpfn) continue;
          const PteRef r = k_.pgtables_.walk(vma->vm_mm->pgd, p << kPageShift, PTE_LEVEL);
          if (!r || r.level != PTE_LEVEL || !is_swap_pte(r.value())) continue;
          const swp_entry_t re = pte_to_swp_entry(r.value());
          if (non_swap_entry(re) || !valid(re)) continue;
          read_ahead(re);
        }
      }
    }
  } else {
    // swap_cluster_readahead: the aligned block of slots around the target.
    const std::uint64_t mask = swapin_nr_pages(off) - 1;
    if (mask) {
      std::uint64_t start = off & ~mask, end = off | mask;
      if (!start) start = 1;  // the header
      if (end >= si.max) end = si.max - 1;
      for (std::uint64_t o = start; o <= end; ++o)
        if (o != off) read_ahead(swp_entry(type, o));
    }
  }
  bool allocated = false;
  page* pg = read_swap_cache_async(e, t, vma, vmf.address, false, allocated, cost);
  if (pg && allocated) swap_readpage(pg, e, true, cpu, cost);
  return pg;
}

// ---------------------------------------------------------------------------
// do_swap_page (mm/memory.c) and the mapping it shares with swapoff's unuse_pte.
// ---------------------------------------------------------------------------

bool Kernel::map_swapped_page(vm_area_struct& vma, VirtAddr va, const PteRef& pte, page* pg, swp_entry_t e, bool write,
                              CpuId cpu, KernelCost& cost) {
  mm_struct& mm = *vma.vm_mm;
  const bool exclusive = swap_->swap_count(e) == 1 && pg->mapcount == 0;
  mm.add_mm_counter(MM_ANONPAGES, 1);
  mm.add_mm_counter(MM_SWAPENTS, -1);
  swap_->swap_free(e);
  // should_try_to_free_swap: swap full, mlocked, or a write to a page only we hold.
  if (pg->test(PG_swapcache) &&
      (swap_->vm_swap_full() || (vma.vm_flags & VM_LOCKED) || (write && exclusive && pg->_refcount == 2)))
    swap_->try_to_free_swap(pg, cpu, cost);
  // page_add_anon_rmap: the first mapping sets the owner (this VMA's anon_vma
  // when exclusive, else the root every relative's chain holds).
  if (pg->mapcount == 0) {
    pg->owner = exclusive ? vma.anon_vma->id : vma.anon_vma->root->id;
    pg->index = vma.pgoff_of(va);
    pg->set(PG_anon);
    pg->set(PG_swapbacked);
    pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_ANON_MAPPED, 1);
  }
  ++pg->mapcount;  // the caller's reference becomes the mapping's
  const bool writable = write && exclusive && (vma.vm_flags & VM_WRITE);
  pteval_t v = make_pte(pm_.page_to_phys(pg), vma.vm_flags, writable);
  if (!write) v &= ~_PAGE_ACCESSED;
  if (write) v |= _PAGE_ACCESSED;
  pgtables_.set_entry(cpu, pte, v, cost);
  return writable;
}

vm_fault_t Kernel::do_swap_page(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  const swp_entry_t entry = pte_to_swp_entry(vmf.orig_pte);
  if (non_swap_entry(entry)) {
    if (!is_migration_entry(entry)) {
      std::fprintf(stderr, "numasim: unknown special swap entry at 0x%llx\n",
                   static_cast<unsigned long long>(vmf.address));
      std::abort();
    }
    migration_entry_wait(t, vmf, cost);
    return 0;
  }
  if (!swap_->valid(entry)) return VM_FAULT_SIGBUS;  // get_swap_device: no such area
  vm_area_struct& vma = *vmf.vma;
  const bool write = vmf.flags & FAULT_FLAG_WRITE;
  vm_fault_t ret = 0;
  if (!vma.anon_vma && anon_vma_prepare(*anon_vmas_, vma, t->cpu, cost) != 0) return VM_FAULT_OOM;
  page* pg = swap_->lookup_swap_cache(entry, &vma, vmf.address);
  if (!pg) {
    swap_info_struct& si = *swap_->info(swp_type(entry));
    if (si.zram && swap_->swap_count(entry) == 1) {
      // SWP_SYNCHRONOUS_IO with one user: read straight into a new page, no swap cache.
      pg = alloc_user_page(t, vma, vmf.address, cost);
      if (!pg) return VM_FAULT_OOM;
      if (mem_cgroup_swapin_charge_folio(pg, t->mm, GFP_HIGHUSER_MOVABLE, entry, cost)) {
        pm_.free_pages(t->cpu, pg, 0, cost);
        return VM_FAULT_OOM;
      }
      pg->set(PG_swapbacked);
      const std::uint64_t c = si.cache[swp_offset(entry)];
      if (c & 1) workingset_refault(pg, c >> 1);
      lru_cache_add(pg, t->cpu);
      swap_->swap_readpage(pg, entry, true, t->cpu, cost);
    } else {
      pg = swap_->swapin_readahead(entry, t, vmf, cost);
      if (!pg) return VM_FAULT_OOM;
    }
    ret = VM_FAULT_MAJOR;
    pm_.count_vm_events(t->cpu, PGMAJFAULT);
    count_memcg_events(t->mm->memcg_id, MEMCG_PGMAJFAULT);
  }
  // The PTE may have changed while the page was read (reclaim in the allocator's slow path
  // cannot touch it: it is a swap entry; only this task changes its own tables).
  if (vmf.pte.value() != vmf.orig_pte) {
    swap_->put_cache_ref(pg, t->cpu, cost);
    return ret;
  }
  const bool writable = map_swapped_page(vma, vmf.address, vmf.pte, pg, entry, write, t->cpu, cost);
  if (write && !writable) {  // do_wp_page for a page others may still read
    const FaultResult r = do_wp_page(t, vma, vmf.real_address, vmf.pte, cost);
    if (r != FaultResult::Handled) ret |= r == FaultResult::Oom ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
  }
  return ret;
}

}  // namespace numasim::os
