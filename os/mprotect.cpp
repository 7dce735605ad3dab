// mprotect (mm/mprotect.c do_mprotect_pkey / mprotect_fixup / change_protection)
// and the shared "change flags of a range of VMAs" step (vma_modify: split at
// the range ends, change, merge with neighbours) that madvise and mbind reuse.
// PTEs of the range are rewritten to the new protection; PROT_NONE makes them
// non-present _PAGE_PROTNONE entries like Linux. A private writable upgrade makes
// exclusive anonymous pages writable at once (can_change_pte_writable); the zero
// page and hugetlb pages stay read-only until a write-protect fault. A TLB
// shootdown follows whenever a present entry lost a permission (pte_needs_flush).
// Simplified: all checks are made before anything changes (Linux may change
// leading VMAs before it meets a hole); no pkeys; PROT_SEM is accepted and ignored.
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/kernel.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/swapops.h"
#include "os/syscalls.h"

namespace numasim::os {

void Kernel::modify_range(mm_struct& mm, VirtAddr start, VirtAddr end, const std::function<void(vm_area_struct&)>& fn,
                          KernelCost& cost) {
  int splits = splits_needed(mm, start, end);
  split_at_boundaries(mm, start, end);
  std::vector<VirtAddr> starts;
  for (auto it = mm.mm_mt.lower_bound(start); it != mm.mm_mt.end() && it->first < end; ++it) {
    fn(it->second);
    starts.push_back(it->first);
  }
  std::size_t before = static_cast<std::size_t>(mm.map_count);
  for (VirtAddr s : starts)
    if (vm_area_struct* v = vma_lookup(mm, s)) vma_merge_neighbours(mm, *v);
  std::size_t merges = before - static_cast<std::size_t>(mm.map_count);
  cost.add_cycles(params_.costs.vma_op_cycles * (static_cast<std::uint64_t>(splits) + merges + starts.size()));
}

namespace {
// x86 pte_needs_flush: a present entry lost a right or changed frame.
bool pte_needs_flush(pteval_t o, pteval_t n) {
  if (!pte_present(o)) return false;
  if (!pte_present(n)) return true;
  if (pte_phys(o) != pte_phys(n)) return true;
  if ((o & _PAGE_RW) && !(n & _PAGE_RW)) return true;
  if (!(o & _PAGE_NX) && (n & _PAGE_NX)) return true;
  return false;
}
}  // namespace

// change_protection (change_pte_range / hugetlb_change_protection) over
// [start, end), whose VMAs already carry their new flags, on the page walker.
// Swap entries keep their slot; a writable migration entry becomes a readable
// one, as Linux does whatever the new protection. True when a present entry lost
// a permission (a TLB flush is needed).
bool Kernel::change_protection(task_struct* t, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost) {
  struct Change {
    Kernel& k;
    CpuId cpu;
    KernelCost& cost;
    bool flush;
  } c{*this, t->cpu, cost, false};
  static constexpr auto change = [](const PteRef& ref, mm_walk& w) -> int {
    Change& c = *static_cast<Change*>(w.priv);
    const pteval_t o = ref.value();
    pteval_t n;
    if (is_swap_pte(o)) {
      const swp_entry_t entry = pte_to_swp_entry(o);
      if (!is_writable_migration_entry(entry)) return 0;
      const page* pg = c.k.pm_.pfn_to_page(Pfn(swp_offset_pfn(entry)));
      n = swp_entry_to_pte(PageAnon(pg) ? make_readable_exclusive_migration_entry(swp_offset(entry))
                                        : make_readable_migration_entry(swp_offset(entry)));
    } else {
      const unsigned long f = w.vma->vm_flags;
      n = o & (PTE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_PSE | _PAGE_SPECIAL);
      if (w.vma->is_accessible()) {
        n |= _PAGE_PRESENT | _PAGE_USER;
        if (!(f & VM_EXEC)) n |= _PAGE_NX;
        const bool special = o & _PAGE_SPECIAL;
        const bool huge = ref.level != PTE_LEVEL;
        if ((f & VM_WRITE) && !special && ((o & _PAGE_RW) || (!huge && c.k.can_change_pte_writable(*w.vma, o))))
          n |= _PAGE_RW;
      } else {
        n |= _PAGE_PROTNONE;
      }
    }
    if (n != o) {
      c.flush |= pte_needs_flush(o, n);
      c.k.pgtables_.set_entry(c.cpu, ref, n, c.cost);
    }
    return 0;
  };
  mm_walk_ops ops;
  ops.pte_entry = [](const PteRef& ref, VirtAddr, VirtAddr, mm_walk& w) -> int { return change(ref, w); };
  // change_huge_pmd for a THP PMD the range covers whole, else split it first.
  ops.pmd_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    if (!pte_huge(ref.value())) return 0;
    Change& c = *static_cast<Change*>(w.priv);
    const VirtAddr haddr = addr & ~(HPAGE_PMD_SIZE - 1);
    if (addr == haddr && next == haddr + HPAGE_PMD_SIZE) {
      w.action = ACTION_CONTINUE;
      return change(ref, w);
    }
    if (!c.k.__split_huge_pmd(c.cpu, *w.vma, ref, haddr, c.cost)) {
      std::fprintf(stderr, "numasim: no page table to split a huge PMD (0x%llx)\n", static_cast<unsigned long long>(addr));
      std::abort();
    }
    return 0;
  };
  ops.hugetlb_entry = [](const PteRef& ref, std::uint64_t, VirtAddr, VirtAddr, mm_walk& w) -> int {
    return change(ref, w);
  };
  walk_page_range(pgtables_, mm, start, end, ops, &c);
  return c.flush;
}

// change_prot_numa (change_protection with MM_CP_PROT_NUMA): every present
// 4 KiB PTE of [start, end) in vma becomes a PROT_NONE hint entry keeping its
// frame, accessed/dirty bits and write bit (pte_savedwrite), unless NUMA
// balancing's filter leaves it (the zero page, pages shared copy-on-write,
// NumaBalancing::prot_numa_page). A THP's huge PMD the range covers whole
// becomes one PROT_NONE hint PMD (change_huge_pmd with MM_CP_PROT_NUMA: its
// HPAGE_PMD_NR pages counted, numa_huge_pte_updates); one the range covers in
// part is split first, as change_pmd_range does. The huge zero page is skipped.
unsigned long Kernel::change_prot_numa(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end,
                                       KernelCost& cost) {
  struct Numa {
    Kernel& k;
    CpuId cpu;
    KernelCost& cost;
    bool single_user_private;
    bool cow;
    unsigned long updated;
    unsigned long huge_updated;
  } c{*this, t->cpu, cost, !(vma.vm_flags & VM_SHARED) && t->mm->mm_users == 1,
      !(vma.vm_flags & VM_SHARED) && (vma.vm_flags & VM_MAYWRITE), 0, 0};
  mm_walk_ops ops;
  ops.pmd_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    const pteval_t o = ref.value();
    if (!pte_present(o)) {  // a hint PMD already
      w.action = ACTION_CONTINUE;
      return 0;
    }
    if (!pte_huge(o)) return 0;
    Numa& c = *static_cast<Numa*>(w.priv);
    w.action = ACTION_CONTINUE;
    if (o & _PAGE_SPECIAL) return 0;  // is_huge_zero_pmd
    const VirtAddr haddr = addr & ~(HPAGE_PMD_SIZE - 1);
    if (addr != haddr || next != haddr + HPAGE_PMD_SIZE) {  // in part: split, then the PTEs
      if (!c.k.__split_huge_pmd(c.cpu, *w.vma, ref, haddr, c.cost)) return 0;  // no table: left alone
      w.action = ACTION_SUBTREE;
      return 0;
    }
    page* head = c.k.pm_.phys_to_page(pte_phys(o));
    if (c.cow && entire_mapcount(head) > 1) return 0;  // shared copy-on-write
    if (!c.k.numab_->prot_numa_page(head, c.k.pm_.page_to_nid(head).value(), c.single_user_private, c.cpu)) return 0;
    const pteval_t n = (o & (PTE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_RW | _PAGE_PSE)) | _PAGE_PROTNONE;
    c.k.pgtables_.set_entry(c.cpu, ref, n, c.cost);
    c.updated += HPAGE_PMD_NR;
    ++c.huge_updated;
    return 0;
  };
  ops.pte_entry = [](const PteRef& ref, VirtAddr, VirtAddr, mm_walk& w) -> int {
    Numa& c = *static_cast<Numa*>(w.priv);
    const pteval_t o = ref.value();
    if (!pte_present(o) || (o & _PAGE_SPECIAL)) return 0;  // swap/migration/hint entries, the zero page
    page* pg = c.k.pm_.phys_to_page(pte_phys(o));
    if (c.cow && pg->mapcount > 1) return 0;  // shared copy-on-write
    if (!c.k.numab_->prot_numa_page(pg, c.k.pm_.page_to_nid(pg).value(), c.single_user_private, c.cpu)) return 0;
    const pteval_t n = (o & (PTE_PFN_MASK | _PAGE_ACCESSED | _PAGE_DIRTY | _PAGE_RW)) | _PAGE_PROTNONE;
    c.k.pgtables_.set_entry(c.cpu, ref, n, c.cost);
    ++c.updated;
    return 0;
  };
  walk_page_range(pgtables_, *t->mm, start, end, ops, &c);
  if (c.huge_updated) pm_.count_vm_events(t->cpu, NUMA_HUGE_PTE_UPDATES, c.huge_updated);
  return c.updated;
}

long Kernel::sys_mprotect(task_struct* t, VirtAddr start, std::uint64_t len, int prot, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  const int grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows == (PROT_GROWSDOWN | PROT_GROWSUP)) return -EINVAL;
  if (offset_in_page(start)) return -EINVAL;
  if (!len) return 0;
  len = page_align(len);
  VirtAddr end = start + len;
  if (len == 0 || end <= start) return -ENOMEM;
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return -EINVAL;

  vm_area_struct* first = find_vma(mm, start);
  if (!first) return -ENOMEM;
  if (grows & PROT_GROWSDOWN) {
    if (first->vm_start >= end) return -ENOMEM;
    if (!(first->vm_flags & VM_GROWSDOWN)) return -EINVAL;
    start = first->vm_start;
  } else {
    if (first->vm_start > start) return -ENOMEM;
    if (grows & PROT_GROWSUP) return -EINVAL;  // x86 has no VM_GROWSUP
  }
  if (end > mm.task_size) return -ENOMEM;
  if (!range_fully_mapped(mm, start, end)) return -ENOMEM;
  const unsigned long newprot =
      ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) | ((prot & PROT_EXEC) ? VM_EXEC : 0);
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    unsigned long newflags = newprot | (v.vm_flags & ~VM_ACCESS_FLAGS);
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) return -EACCES;  // VM_MAY* missing
    if (v.is_hugetlb()) {
      const std::uint64_t hmask = vma_hpage_size(v) - 1;
      if ((v.vm_start < start && (start & hmask)) || (v.vm_end > end && (end & hmask)))
        return -EINVAL;  // hugetlb_split refuses
    }
  }
  if (mm.map_count + splits_needed(mm, start, end) > params_.max_map_count) return -ENOMEM;

  // mprotect_fixup's split VMA records, all reserved first (ENOMEM otherwise).
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("mprotect_fixup"))) return -ENOMEM;
  // THP PMDs straddling the edges split (ENOMEM, nothing changed, otherwise).
  if (!thp_split_range_edges(t->cpu, mm, start, end, cost)) return -ENOMEM;
  // Apply: flags first (with splits and merges), then the page tables.
  modify_range(
      mm, start, end, [&](vm_area_struct& v) { v.vm_flags = newprot | (v.vm_flags & ~VM_ACCESS_FLAGS); }, cost);
  bool flush = change_protection(t, mm, start, end, cost);
  if (flush) flush_tlb_range(t->cpu, mm, start, end, cost);
  return 0;
}

}  // namespace numasim::os
