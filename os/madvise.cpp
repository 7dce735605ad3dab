// madvise (mm/madvise.c do_madvise / madvise_vma_behavior / madvise_dontneed_free).
// MADV_DONTNEED (and MADV_FREE, here freed at once as if reclaim came right
// away) zap the range's pages, keeping VMAs and page tables, then shoot down the
// TLBs; hugetlb ranges must start huge-aligned and their end is rounded down.
// THP PMDs straddling the range's edges are split first (huge_memory.cpp);
// MADV_HUGEPAGE registers the mm with khugepaged.
// MADV_NORMAL/RANDOM/SEQUENTIAL, HUGEPAGE/NOHUGEPAGE, DONTFORK/DOFORK,
// DONTDUMP/DODUMP, WIPEONFORK/KEEPONFORK and MERGEABLE/UNMERGEABLE change VMA
// flags (splitting and merging VMAs as Linux does); MADV_WILLNEED reads a file
// mapping's range ahead into the page cache (force_page_cache_ra; no swap
// readahead of anonymous or shmem ranges); MADV_POPULATE_READ/WRITE fault the
// range in as MAP_POPULATE does. The advice Linux 6.1 accepts is accepted here,
// with its validation; other values are EINVAL.
// KSM: the model follows a kernel built with CONFIG_KSM=y (as Debian's is), so
// MADV_MERGEABLE/UNMERGEABLE succeed and set or clear VM_MERGEABLE; there is no
// ksmd, so nothing is ever merged.
// MADV_COLD and MADV_PAGEOUT (madvise_cold_or_pageout_pte_range, Linux 6.1):
// EINVAL on locked or hugetlb VMAs (can_madv_lru_vma); each present page mapped
// exactly once (page_mapcount == 1: private anonymous, page cache or shmem) has
// its PTE's accessed bit and PG_referenced cleared, then COLD deactivates it
// (deactivate_page: active -> inactive, pgdeactivate) and PAGEOUT isolates it and
// hands the pages to reclaim_pages (shrink_folio_list per node without
// demotion: anonymous and shmem pages go to swap, clean page-cache pages are
// dropped, dirty ones are left to the flusher as direct reclaim does).
// Simplified: THPs (PMD-mapped or PTE-mapped subpages) are skipped (they are not
// on the LRU lists here).
// File mappings: MADV_DONTNEED zaps their entries (a dirty entry's page stays dirty
// in the page cache); MADV_FREE is EINVAL (anonymous memory only).
// Simplified: every check is done before anything changes (Linux applies advice
// to the mapped parts and then reports ENOMEM for a hole).
#include <algorithm>
#include <cerrno>
#include <vector>

#include "os/fs.h"
#include "os/kernel.h"
#include "os/mm_inline.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/syscalls.h"

namespace numasim::os {

namespace {
bool madvise_behavior_valid(int advice) {
  switch (advice) {
    case MADV_NORMAL:
    case MADV_RANDOM:
    case MADV_SEQUENTIAL:
    case MADV_WILLNEED:
    case MADV_DONTNEED:
    case MADV_FREE:
    case MADV_DONTFORK:
    case MADV_DOFORK:
    case MADV_HUGEPAGE:
    case MADV_NOHUGEPAGE:
    case MADV_MERGEABLE:
    case MADV_UNMERGEABLE:
    case MADV_DONTDUMP:
    case MADV_DODUMP:
    case MADV_WIPEONFORK:
    case MADV_KEEPONFORK:
    case MADV_COLD:
    case MADV_PAGEOUT:
    case MADV_POPULATE_READ:
    case MADV_POPULATE_WRITE:
      return true;
    default:
      return false;
  }
}

// ksm_madvise (mm/ksm.c): VMAs KSM cannot merge are left as they are, without error.
bool ksm_mergeable_vma(const vm_area_struct& v) {
  return !(v.vm_flags & (VM_SHARED | VM_MAYSHARE | VM_DONTEXPAND | VM_HUGETLB));
}

// The per-VMA validation of madvise_vma_behavior for one VMA; 0 or -errno.
int madvise_vma_valid(const vm_area_struct& v, int advice) {
  switch (advice) {
    case MADV_COLD:
    case MADV_PAGEOUT:  // can_madv_lru_vma
      return v.vm_flags & (VM_LOCKED | VM_HUGETLB) ? -EINVAL : 0;
    case MADV_WIPEONFORK:  // private anonymous memory only
      return v.vm_file_id != 0 || (v.vm_flags & VM_SHARED) ? -EINVAL : 0;
    case MADV_DODUMP:  // VM_SPECIAL mappings stay undumpable (VM_DONTEXPAND is the one modelled)
      return !v.is_hugetlb() && (v.vm_flags & VM_DONTEXPAND) ? -EINVAL : 0;
    case MADV_POPULATE_READ:  // faultin_vma_page_range: check_vma_flags, reported as EINVAL
      return v.vm_flags & VM_READ ? 0 : -EINVAL;
    case MADV_POPULATE_WRITE:
      return v.vm_flags & VM_WRITE ? 0 : -EINVAL;
    default:
      return 0;
  }
}
}  // namespace

// madvise_cold / madvise_pageout over [start, end) (validated: every VMA may take it).
void Kernel::madvise_cold_or_pageout(task_struct* t, VirtAddr start, VirtAddr end, bool pageout, KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const CpuId cpu = t->cpu;
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  lru_add_drain(cpu);  // madvise_pageout's lru_add_drain: the pages reach their lists
  std::vector<PageList> lists(static_cast<std::size_t>(pm_.nr_node_ids()));
  std::vector<std::uint64_t> taken(static_cast<std::size_t>(pm_.nr_node_ids()), 0);
  bool flush = false;
  unsigned long nr_deactivate = 0;
  VirtAddr cur = start;
  while (cur < end) {
    vm_area_struct* v = vma_lookup(mm, cur);
    const VirtAddr vend = std::min(v->vm_end, end);
    auto leaf = [&](VirtAddr va, const PteRef& ref) {
      if (ref.level != PTE_LEVEL) return;  // a THP's PMD: skipped
      const pteval_t e = ref.value();
      if (!pte_present(e) || (e & _PAGE_SPECIAL)) return;
      page* pg = pm_.phys_to_page(pte_phys(e));
      if (PageCompound(pg) || pg->mapcount != 1 || pg->test(PG_hugetlb)) return;
      cost.add_memory(platform_.kernel_read(cpu, ref.addr, Bytes(8)));
      if (e & _PAGE_ACCESSED) {  // ptep_test_and_clear_young + tlb_remove_tlb_entry
        pgtables_.set_entry(cpu, ref, e & ~_PAGE_ACCESSED, cost);
        flush = true;
      }
      (void)va;
      pg->clear(PG_referenced);  // folio_clear_referenced
      if (!pg->test(PG_lru) || !page_evictable(pg)) return;
      if (pageout) {  // folio_isolate_lru
        del_page_from_lru_list(pm_, pg);
        pg->clear(PG_lru);
        get_page(pg);
        const auto nid = static_cast<std::size_t>(pm_.page_to_nid(pg).value());
        list_add(mem_map, lists[nid], pg);
        ++taken[nid];
      } else if (pg->test(PG_active)) {  // deactivate_page -> lru_deactivate_fn
        del_page_from_lru_list(pm_, pg);
        pg->clear(PG_active);
        add_page_to_lru_list(pm_, pg);
        ++nr_deactivate;
        count_memcg_events(pg->memcg_id, MEMCG_PGDEACTIVATE);
      }
      cost.add_cycles(params_.reclaim.costs.lru_scan_cycles);
    };
    walk_leaves(pgtables_, &mm, mm.pgd, cur, vend, leaf);
    cur = vend;
  }
  if (flush) flush_tlb_range(cpu, mm, start, end, cost);
  if (nr_deactivate) pm_.count_vm_events(cpu, PGDEACTIVATE, nr_deactivate);
  if (!pageout) return;
  // reclaim_pages -> reclaim_folio_list per node: shrink_folio_list with
  // may_writepage/may_unmap/may_swap and no demotion, then the putback.
  for (std::size_t n = 0; n < lists.size(); ++n) {
    if (lists[n].empty()) continue;
    scan_control sc;
    sc.gfp_mask = GFP_KERNEL;
    sc.may_writepage = sc.may_unmap = sc.may_swap = true;
    sc.no_demotion = true;
    sc.nr_to_reclaim = taken[n];
    reclaim_stat stat;
    pglist_data& pgdat = pm_.NODE_DATA(NodeId(static_cast<int>(n)));
    shrink_folio_list(lists[n], pgdat, sc, stat, cpu, cost);
    move_pages_to_lru(lists[n], cpu, cost);
  }
}

long Kernel::sys_madvise(task_struct* t, VirtAddr start, std::uint64_t len_in, int advice, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  if (!madvise_behavior_valid(advice)) return -EINVAL;
  if (offset_in_page(start)) return -EINVAL;
  const std::uint64_t len = page_align(len_in);
  if (len_in && !len) return -EINVAL;
  const VirtAddr end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;
  if (!range_fully_mapped(mm, start, end)) return -ENOMEM;

  const bool zap = advice == MADV_DONTNEED || advice == MADV_FREE;
  unsigned long set = 0, clear = 0;
  switch (advice) {
    case MADV_NORMAL:
      clear = VM_RAND_READ | VM_SEQ_READ;
      break;
    case MADV_RANDOM:
      set = VM_RAND_READ;
      clear = VM_SEQ_READ;
      break;
    case MADV_SEQUENTIAL:
      set = VM_SEQ_READ;
      clear = VM_RAND_READ;
      break;
    case MADV_DONTFORK:
      set = VM_DONTCOPY;
      break;
    case MADV_DOFORK:
      clear = VM_DONTCOPY;
      break;
    case MADV_HUGEPAGE:
      set = VM_HUGEPAGE;
      clear = VM_NOHUGEPAGE;
      break;
    case MADV_NOHUGEPAGE:
      set = VM_NOHUGEPAGE;
      clear = VM_HUGEPAGE;
      break;
    case MADV_DONTDUMP:
      set = VM_DONTDUMP;
      break;
    case MADV_DODUMP:
      clear = VM_DONTDUMP;
      break;
    case MADV_WIPEONFORK:
      set = VM_WIPEONFORK;
      break;
    case MADV_KEEPONFORK:
      clear = VM_WIPEONFORK;
      break;
    case MADV_MERGEABLE:
      set = VM_MERGEABLE;
      break;
    case MADV_UNMERGEABLE:
      clear = VM_MERGEABLE;
      break;
    default:
      break;
  }
  const bool flags_change = set || clear;
  // Validate every VMA before touching anything.
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    if (int err = madvise_vma_valid(v, advice)) return err;
    if (zap) {
      if (v.vm_flags & VM_LOCKED) return -EINVAL;
      if (v.is_hugetlb()) {
        if (advice == MADV_FREE) return -EINVAL;
        VirtAddr s = v.vm_start > start ? v.vm_start : start;
        if (s & (vma_hpage_size(v) - 1)) return -EINVAL;
      }
      if (advice == MADV_FREE && (v.vm_flags & VM_SHARED)) return -EINVAL;
      if (advice == MADV_FREE && v.is_file()) return -EINVAL;  // madvise_free_single_vma: anonymous only
    }
    if (flags_change && v.is_hugetlb()) {
      const std::uint64_t hmask = vma_hpage_size(v) - 1;
      if ((v.vm_start < start && (start & hmask)) || (v.vm_end > end && (end & hmask)))
        return -EINVAL;
    }
  }
  if (flags_change && mm.map_count + splits_needed(mm, start, end) > params_.max_map_count) return -ENOMEM;

  if (flags_change) {
    // madvise_update_vma: the split VMA records, all reserved first (ENOMEM otherwise).
    VmaOp op(*this, mm, t->cpu, cost);
    if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("madvise_update_vma"))) return -ENOMEM;
    // THP PMDs straddling the edges split (ENOMEM, nothing changed, otherwise).
    if (!thp_split_range_edges(t->cpu, mm, start, end, cost)) return -ENOMEM;
    modify_range(
        mm, start, end,
        [&](vm_area_struct& v) {
          if (advice == MADV_MERGEABLE && !ksm_mergeable_vma(v)) return;
          v.vm_flags = (v.vm_flags & ~clear) | set;
          if (advice == MADV_HUGEPAGE) khugepaged_enter(v);  // hugepage_madvise
        },
        cost);
    return 0;
  }
  if (advice == MADV_POPULATE_READ || advice == MADV_POPULATE_WRITE) {
    // madvise_populate: fault every page in, readable or writable; a fault that
    // fails reports ENOMEM (out of memory) or EFAULT (SIGBUS/SIGSEGV).
    const bool write = advice == MADV_POPULATE_WRITE;
    VirtAddr a = start;
    while (a < end) {
      const vm_area_struct* v = vma_lookup(mm, a);
      const std::uint64_t step = v->is_hugetlb() ? vma_hpage_size(*v) : kPageSize;
      auto tr = pgtables_.translate(mm.pgd, a);
      if (!tr || (write && !pte_write(tr->leaf))) {
        switch (fault_core(t, a, write ? FAULT_FLAG_WRITE : 0, cost)) {
          case FaultResult::Handled:
            break;
          case FaultResult::Oom:
            return -ENOMEM;
          default:
            return -EFAULT;
        }
      }
      a = (a & ~(step - 1)) + step;
    }
    return 0;
  }
  if (advice == MADV_COLD || advice == MADV_PAGEOUT) {
    madvise_cold_or_pageout(t, start, end, advice == MADV_PAGEOUT, cost);
    return 0;
  }
  if (advice == MADV_WILLNEED) {
    // madvise_willneed: a file mapping's range read ahead into the page cache
    // (vfs_fadvise(POSIX_FADV_WILLNEED) -> force_page_cache_ra). Not modelled: swap
    // readahead of anonymous or shmem ranges (nothing happens there).
    for (VirtAddr cur = start; cur < end;) {
      vm_area_struct* v = vma_lookup(mm, cur);
      const VirtAddr vend = v->vm_end < end ? v->vm_end : end;
      if (v->is_file() && v->vm_file->f_inode->i_size) {
        // force_page_cache_ra in chunks of the file's window, clipped to i_size.
        const file& f = *v->vm_file;
        const std::uint64_t last = std::min<std::uint64_t>(v->pgoff_of(vend - 1), (f.f_inode->i_size - 1) / kPageSize);
        const std::uint64_t chunk = std::max<std::uint64_t>(1, f.f_ra.ra_pages);
        for (std::uint64_t i = v->pgoff_of(cur); i <= last; i += chunk)
          fs_->do_page_cache_ra(t, *f.f_inode, i, std::min(chunk, last - i + 1), 0, t->cpu, cost);
      }
      cur = vend;
    }
    return 0;
  }
  if (!zap) return 0;

  // A zap splits THP PMDs straddling its edges (ENOMEM, nothing changed, otherwise).
  if (!thp_split_range_edges(t->cpu, mm, start, end, cost)) return -ENOMEM;
  std::size_t zapped = 0;
  VirtAddr cur = start;
  while (cur < end) {
    vm_area_struct* v = vma_lookup(mm, cur);
    VirtAddr vend = v->vm_end < end ? v->vm_end : end;
    VirtAddr zend = vend;
    if (v->is_hugetlb()) zend &= ~(vma_hpage_size(*v) - 1);
    if (zend > cur) {
      std::size_t n = zap_range(t, *v, cur, zend, cost);
      zapped += n;
      if (advice == MADV_FREE) {
        pm_.count_vm_events(t->cpu, PGLAZYFREE, n);
        pm_.count_vm_events(t->cpu, PGLAZYFREED, n);
      }
      // A hugetlb mapping keeps its reservation for pages it dropped.
      if (v->hugetlb_reserves() && n) hugetlb_->reserve(n, hstate_vma(*v));
    }
    cur = vend;
  }
  if (zapped) flush_tlb_range(t->cpu, mm, start, end, cost);
  return 0;
}

}  // namespace numasim::os
