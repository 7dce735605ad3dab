// khugepaged (mm/khugepaged.c, Linux 6.1): the kernel thread that collapses
// 2 MiB ranges of small anonymous pages into THPs. An mm is registered
// (khugepaged_enter: __khugepaged_enter's mm_slot) at a THP-eligible fault, at
// MADV_HUGEPAGE and at fork of a registered mm; the first registration wakes
// the thread. Each pass (khugepaged_do_scan) scans up to pages_to_scan PTEs
// (HPAGE_PMD_NR per PMD range scanned, one per VMA skipped), walking the mm
// slots round-robin from where the last pass stopped and passing the list head
// at most twice; a full turn over the list counts full_scans. A PMD range is
// collapsed (hpage_collapse_scan_pmd + collapse_huge_page) when its PTE table
// has at most max_ptes_none empty or zero-page entries, at most max_ptes_swap
// swap entries, at most max_ptes_shared pages mapped more than once, at least
// one writable and one young entry; the new page is allocated on the node most
// of the small pages are on (khugepaged_find_target_node), with GFP_TRANSHUGE
// when khugepaged/defrag is set, else GFP_TRANSHUGE_LIGHT. Each small page is
// copied (kernel_copy of 4 KiB) and each empty entry cleared (kernel_write)
// through the hardware from khugepaged's CPU, the small pages are unmapped and
// freed, the PTE table freed and the PMD installed. Sleeps scan_sleep_millisecs
// ([os.kthreads] khugepaged_scan_sleep) between passes, alloc_sleep_millisecs
// after a failed huge allocation. With no mm registered the thread keeps the
// boot stub's periodic pass (Linux waits for a registration without a timeout).
// Simplified: swap entries are counted against max_ptes_swap but not read in
// (a range with any swap entry is not collapsed: swap-in is the swap issue's);
// PTE-mapped THPs are not re-collapsed (a range with a compound page is
// skipped); no file/shmem collapse; no MADV_COLLAPSE.
#include <algorithm>
#include <vector>

#include "common/trace.h"
#include "os/gfp.h"
#include "os/huge_memory.h"
#include "os/kernel.h"
#include "os/mmap.h"
#include "os/rmap.h"
#include "os/swapops.h"

namespace numasim::os {

// khugepaged_enter_vma / __khugepaged_enter.
void Kernel::khugepaged_enter(const vm_area_struct& vma) {
  mm_struct* mm = vma.vm_mm;
  if (!mm || mm->khugepaged_slot || !thp_vma_allowed(vma)) return;
  mm->khugepaged_slot = true;
  const bool wakeup = khugepaged_mms_.empty();
  khugepaged_mms_.push_back(mm->mm_id);
  if (wakeup) kthreads_->wakeup_khugepaged();
}

int Kernel::collapse_huge_page(mm_struct& mm, vm_area_struct& vma, VirtAddr haddr, int node, CpuId cpu,
                               KernelCost& cost) {
  page* head = pm_.alloc_pages(cpu, thp_gfp_mask(vma, true), HPAGE_PMD_ORDER, NodeId(node), nullptr, cost);
  if (!head) {
    pm_.count_vm_events(cpu, THP_COLLAPSE_ALLOC_FAILED);
    return -ENOMEM;
  }
  if (mem_cgroup_charge(head, &mm, thp_gfp_mask(vma, true), cost)) {  // alloc_charge_hpage: SCAN_CGROUP_CHARGE_FAIL
    pm_.free_pages(cpu, head, HPAGE_PMD_ORDER, cost);
    return -ENOMEM;
  }
  pm_.count_vm_events(cpu, THP_COLLAPSE_ALLOC);
  count_memcg_events(mm.memcg_id, MEMCG_THP_COLLAPSE_ALLOC);
  cost.add_cycles(params_.thp.collapse_cycles);
  // Page tables freed here are this mm's (pgtables_bytes): run as one of its tasks.
  task_struct* owner = nullptr;
  for (auto it = tasks_.begin(); !owner && it != tasks_.end(); ++it)
    if (!it->second->exited && it->second->mm == &mm) owner = it->second.get();
  KernelEntryGuard guard(ctx_, owner, cpu, cost, false);
  const PteRef pmd = pgtables_.walk(mm.pgd, haddr, PMD_LEVEL);
  const PhysAddr table = pte_phys(pmd.value());
  unsigned used = 0;
  pteval_t* e = pgtables_.table_entries(table, &used);
  const PhysAddr new_phys = pm_.page_to_phys(head);
  // __collapse_huge_page_copy: each small page copied, each hole cleared.
  std::vector<pteval_t> old(e, e + PTRS_PER_TABLE);
  for (unsigned i = 0; i < PTRS_PER_TABLE; ++i) {
    const PhysAddr dst = new_phys + (static_cast<PhysAddr>(i) << kPageShift);
    const pteval_t v = old[i];
    if (v == 0 || (v & _PAGE_SPECIAL)) {
      cost.add_memory(platform_.kernel_write(cpu, dst, Bytes(kPageSize)));
      page_tokens_.clear(dst >> kPageShift);
    } else {
      cost.add_memory(platform_.kernel_copy(cpu, dst, pte_phys(v), Bytes(kPageSize)));
      page_tokens_.copy(dst >> kPageShift, pte_phys(v) >> kPageShift);
    }
  }
  // pmdp_collapse_flush + release of the small pages.
  for (unsigned i = 0; i < PTRS_PER_TABLE; ++i) {
    const pteval_t v = old[i];
    if (v == 0) continue;
    pgtables_.set_entry(cpu, PteRef{table + 8ull * i, &e[i], PTE_LEVEL}, 0, cost);
    if (!(v & _PAGE_SPECIAL)) page_remove_rmap(cpu, mm, pm_.phys_to_page(pte_phys(v)), false, cost);
  }
  pgtables_.free_pgd_range(cpu, mm.pgd, haddr, haddr + HPAGE_PMD_SIZE, haddr, haddr + HPAGE_PMD_SIZE, cost);
  const PteRef npmd = pgtables_.walk(mm.pgd, haddr, PMD_LEVEL);
  prep_anon_thp(head, vma, haddr);
  const NodeId nid = pm_.page_to_nid(head);
  pm_.mod_node_page_state(nid, NR_ANON_MAPPED, static_cast<long>(HPAGE_PMD_NR));
  pm_.mod_node_page_state(nid, NR_ANON_THPS, static_cast<long>(HPAGE_PMD_NR));
  mm.add_mm_counter(MM_ANONPAGES, static_cast<long>(HPAGE_PMD_NR));
  pgtables_.set_entry(cpu, npmd, make_pte(new_phys, vma.vm_flags, (vma.vm_flags & VM_WRITE) != 0) | _PAGE_PSE, cost);
  lru_cache_add(head, cpu);  // lru_cache_add_inactive_or_unevictable(hpage)
  flush_tlb_range(cpu, mm, haddr, haddr + HPAGE_PMD_SIZE, cost);
  ++khugepaged_stats_.pages_collapsed;
  NUMASIM_TRACE(thp, platform_.now(cpu), cpu.value(), "khugepaged collapse mm=%u addr=%#llx node=%d", mm.mm_id,
                static_cast<unsigned long long>(haddr), nid.value());
  return 0;
}

KthreadResult Kernel::khugepaged_scan(CpuId cpu, KernelCost& cost) {
  const ThpParams& p = params_.thp;
  const unsigned long pages = p.pages_to_scan;
  unsigned long progress = 0;
  int pass_through_head = 0;
  bool alloc_failed = false;
  while (progress < pages && !alloc_failed) {
    if (khugepaged_cursor_mm_ >= khugepaged_mms_.size()) {
      khugepaged_cursor_mm_ = 0;
      khugepaged_cursor_addr_ = 0;
    }
    if (khugepaged_cursor_mm_ == 0 && khugepaged_cursor_addr_ == 0) ++pass_through_head;
    if (khugepaged_mms_.empty() || pass_through_head >= 2) break;
    // The slot's mm, or drop a slot whose mm exited (collect_mm_slot).
    mm_struct* mm = nullptr;
    for (const auto& m : mms_)
      if (m->mm_id == khugepaged_mms_[khugepaged_cursor_mm_]) mm = m.get();
    if (!mm || mm->thp_disabled) {
      if (mm) mm->khugepaged_slot = false;
      khugepaged_mms_.erase(khugepaged_mms_.begin() + static_cast<long>(khugepaged_cursor_mm_));
      khugepaged_cursor_addr_ = 0;
      continue;
    }
    // khugepaged_scan_mm_slot: from the cursor to the end of the mm.
    bool mm_done = true;
    for (vm_area_struct* vma = find_vma(*mm, khugepaged_cursor_addr_); vma; vma = vma_next(*mm, *vma)) {
      if (progress >= pages || alloc_failed) {
        mm_done = false;
        break;
      }
      if (!thp_vma_allowed(*vma)) {
        ++progress;
        khugepaged_cursor_addr_ = vma->vm_end;
        continue;
      }
      VirtAddr a = std::max(vma->vm_start, khugepaged_cursor_addr_);
      a = (a + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);
      const VirtAddr hend = vma->vm_end & ~(HPAGE_PMD_SIZE - 1);
      for (; a < hend && progress < pages && !alloc_failed; a += HPAGE_PMD_SIZE) {
        khugepaged_cursor_addr_ = a + HPAGE_PMD_SIZE;
        progress += HPAGE_PMD_NR;
        khugepaged_stats_.pages_scanned += HPAGE_PMD_NR;
        // hpage_collapse_scan_pmd.
        const PteRef pmd = pgtables_.walk(mm->pgd, a, PMD_LEVEL);
        if (pmd.level != PMD_LEVEL || !pte_present(pmd.value()) || pte_huge(pmd.value())) continue;
        const PhysAddr table = pte_phys(pmd.value());
        cost.add_memory(platform_.kernel_read(cpu, table, Bytes(kPageSize)));  // the 512 PTEs
        unsigned used = 0;
        const pteval_t* e = pgtables_.table_entries(table, &used);
        unsigned none = 0, swap = 0, shared = 0, referenced = 0;
        bool writable = false, ok = true;
        std::vector<unsigned> per_node(static_cast<std::size_t>(pm_.nr_node_ids()), 0);
        for (unsigned i = 0; i < PTRS_PER_TABLE && ok; ++i) {
          const pteval_t v = e[i];
          if (v == 0 || (pte_present(v) && (v & _PAGE_SPECIAL))) {  // pte_none or is_zero_pfn
            if (++none > p.max_ptes_none) {
              pm_.count_vm_events(cpu, THP_SCAN_EXCEED_NONE_PTE);
              ok = false;
            }
            continue;
          }
          if (is_swap_pte(v)) {
            if (non_swap_entry(pte_to_swp_entry(v)) || ++swap > p.max_ptes_swap) {
              if (swap > p.max_ptes_swap) pm_.count_vm_events(cpu, THP_SCAN_EXCEED_SWAP_PTE);
            }
            ok = false;  // no swap-in here (see the header)
            continue;
          }
          if (!pte_present(v)) {
            ok = false;
            continue;
          }
          const page* pg = pm_.phys_to_page(pte_phys(v));
          if (PageCompound(pg) || !PageAnon(pg)) {
            ok = false;
            continue;
          }
          if (pg->mapcount > 1 && ++shared > p.max_ptes_shared) {
            pm_.count_vm_events(cpu, THP_SCAN_EXCEED_SHARED_PTE);
            ok = false;
            continue;
          }
          writable |= pte_write(v);
          referenced += (v & _PAGE_ACCESSED) != 0;
          ++per_node[static_cast<std::size_t>(pm_.page_to_nid(pg).value())];
        }
        if (!ok || !writable || !referenced) continue;
        // khugepaged_find_target_node: the node with most of the pages (lowest on ties).
        int node = 0;
        for (std::size_t n = 1; n < per_node.size(); ++n)
          if (per_node[n] > per_node[static_cast<std::size_t>(node)]) node = static_cast<int>(n);
        if (collapse_huge_page(*mm, *vma, a, node, cpu, cost) == -ENOMEM) alloc_failed = true;
      }
      if (progress >= pages || alloc_failed) {
        mm_done = a >= hend && vma_next(*mm, *vma) == nullptr;
        if (!mm_done) break;
      } else {
        khugepaged_cursor_addr_ = vma->vm_end;
      }
    }
    if (mm_done) {  // next slot; a turn over the whole list is a full scan
      khugepaged_cursor_addr_ = 0;
      if (++khugepaged_cursor_mm_ >= khugepaged_mms_.size()) {
        khugepaged_cursor_mm_ = 0;
        ++khugepaged_stats_.full_scans;
      }
    }
  }
  cost.add_cycles(kthreads_->params().pass_cycles);
  if (alloc_failed) return KthreadResult{true, Picoseconds(p.alloc_sleep_ms * 1'000'000'000ull)};
  return KthreadResult{true, kthreads_->params().khugepaged_scan_sleep};
}

}  // namespace numasim::os
