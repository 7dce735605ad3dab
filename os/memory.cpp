// Page faults (arch/x86/mm/fault.c do_user_addr_fault, mm/memory.c
// handle_mm_fault / handle_pte_fault / do_anonymous_page / do_wp_page, and
// mm/hugetlb.c hugetlb_fault). A fault costs entry and exit cycles from the cost
// table, the page allocation (charged by the allocator), clear_page of the new
// page as a 4 KiB (2 MiB for hugetlb) kernel_write on the page's node, and every
// page-table entry written. Accesses outside any VMA or against its protection
// become a SIGSEGV counted on the task, never an abort. A user page or
// page-table page the buddy cannot give invokes the OOM killer (oom_kill.cpp),
// which frees another process's memory (the allocation is retried) or kills the
// faulting task (FaultResult::Oom); a task the OOM killer chose faults Oom.
// Simplified: no stack growth (VM_GROWSDOWN is not expanded), no swap or file
// faults (no major faults yet), no THP, no fault-around; private anonymous read
// faults map the shared zero page like Linux; shared anonymous (shmem) pages are
// allocated at the first fault of either kind and belong to the mapping only.
#include <cstdio>
#include <cstdlib>

#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/syscalls.h"

namespace numasim::os {

namespace {
[[noreturn]] void fault_bug(const char* what, VirtAddr a) {
  std::fprintf(stderr, "numasim: fault-path invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}
}  // namespace

// The VMA policy, else the task's, else default (vma_policy / get_task_policy).
const mempolicy* Kernel::effective_policy(const task_struct* t, const vm_area_struct* vma) const {
  if (vma && vma->vm_policy) return vma->vm_policy.get();
  if (t && t->mempolicy) return t->mempolicy.get();
  return nullptr;
}

// mk_pte with vm_get_page_prot: user, present, accessed, NX unless VM_EXEC.
pteval_t Kernel::make_pte(PhysAddr phys, unsigned long vm_flags, bool writable) const {
  pteval_t v = (phys & PTE_PFN_MASK) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
  if (writable) v |= _PAGE_RW | _PAGE_DIRTY;
  if (!(vm_flags & VM_EXEC)) v |= _PAGE_NX;
  return v;
}

Kernel::FaultResult Kernel::segv(task_struct* t, VirtAddr addr, int code, KernelCost& cost) {
  ++t->nr_sigsegv;
  t->last_sigsegv_addr = addr;
  t->last_sigsegv_code = code;
  return FaultResult::Sigsegv;
}

// vma_alloc_folio: policy (VMA, else task) with the interleave index of the page.
page* Kernel::alloc_user_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, KernelCost& cost) {
  mempolicy* pol = const_cast<mempolicy*>(effective_policy(t, &vma));
  std::uint64_t ilx = vma.pgoff_of(addr);
  return alloc_pages_mpol(pm_, t->cpu, GFP_HIGHUSER_MOVABLE, 0, pol, ilx, cost);  // may OOM-kill in the slow path
}

// put_page on a user page whose last mapping went away.
void Kernel::put_user_page(CpuId cpu, page* pg, KernelCost& cost) {
  if (pg->mapcount != 0) return;
  pg->clear(PG_anon);
  pg->clear(PG_swapbacked);
  pg->clear(PG_dirty);
  pg->owner = 0;
  pm_.free_pages(cpu, pg, 0, cost);
}

Kernel::FaultResult Kernel::handle_mm_fault(task_struct* t, VirtAddr addr, unsigned fault_flags, KernelCost& cost) {
  cost.add_cycles(params_.costs.fault_entry_cycles);
  if (t->oom_killed) return FaultResult::Oom;  // SIGKILL pending: the task does not return to user
  if (t->exited) return segv(t, addr, SEGV_MAPERR, cost);
  FaultResult r = fault_core(t, addr, fault_flags, cost);
  cost.add_cycles(params_.costs.fault_exit_cycles);
  return r;
}

Kernel::FaultResult Kernel::fault_core(task_struct* t, VirtAddr addr, unsigned flags, KernelCost& cost) {
  const KernelEntryGuard ctx_guard = fault_enter(t, cost);  // allocations of this fault may OOM-kill
  mm_struct& mm = *t->mm;
  const bool write = flags & FAULT_FLAG_WRITE;
  const bool instr = flags & FAULT_FLAG_INSTRUCTION;
  // do_user_addr_fault: bad_area when no VMA covers addr (no stack expansion).
  if (addr >= mm.task_size) return segv(t, addr, SEGV_MAPERR, cost);
  vm_area_struct* vma = vma_lookup(mm, addr);
  if (!vma) return segv(t, addr, SEGV_MAPERR, cost);
  // access_error.
  if (write ? !(vma->vm_flags & VM_WRITE) : instr ? !(vma->vm_flags & VM_EXEC) : !vma->is_accessible())
    return segv(t, addr, SEGV_ACCERR, cost);

  pm_.count_vm_events(t->cpu, PGFAULT);
  cost.add_cycles(params_.costs.fault_handle_cycles);
  FaultResult r;
  if (vma->is_hugetlb()) {
    r = hugetlb_fault(t, *vma, addr, flags, cost);
  } else {
    PteRef pte = pgtables_.walk_alloc(t->cpu, mm.pgd, addr, PTE_LEVEL, cost);
    if (!pte) return FaultResult::Oom;
    if (pte.level != PTE_LEVEL) fault_bug("huge leaf in a non-hugetlb VMA", addr);
    pteval_t v = pte.value();
    if (!pte_present(v)) {
      if (v != 0) fault_bug("non-present, non-none PTE in an accessible VMA", addr);
      r = do_anonymous_page(t, *vma, addr, pte, flags, cost);
    } else if (write && !pte_write(v)) {
      r = do_wp_page(t, *vma, addr, pte, cost);
    } else {
      // Spurious (another CPU fixed it, or a stale TLB entry): just mark young/dirty.
      pgtables_.set_pte_bits(pte.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
      r = FaultResult::Handled;
    }
  }
  if (r == FaultResult::Handled) ++t->min_flt;  // mm_account_fault: no major faults without swap/files
  return r;
}

// do_anonymous_page: zero page for private read faults, else a new zeroed page.
Kernel::FaultResult Kernel::do_anonymous_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte,
                                              unsigned flags, KernelCost& cost) {
  const bool write = flags & FAULT_FLAG_WRITE;
  const bool shared = vma.vm_flags & VM_SHARED;
  if (!write && !shared && params_.zero_page) {
    pgtables_.set_entry(t->cpu, pte, make_pte(zero_page_phys(), vma.vm_flags, false) | _PAGE_SPECIAL, cost);
    return FaultResult::Handled;
  }
  page* pg = alloc_user_page(t, vma, addr, cost);
  if (!pg) return FaultResult::Oom;
  PhysAddr phys = pm_.page_to_phys(pg);
  cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(kPageSize)));  // clear_page
  mm_struct& mm = *t->mm;
  pg->mapcount = 1;
  pg->owner = mm.mm_id;
  pg->set(PG_swapbacked);
  const int nid = pm_.page_to_nid(pg).value();
  if (shared) {
    mm.add_mm_counter(MM_SHMEMPAGES, 1);
    pm_.mod_node_page_state(NodeId(nid), NR_SHMEM, 1);
    pm_.mod_node_page_state(NodeId(nid), NR_FILE_PAGES, 1);
    pm_.mod_node_page_state(NodeId(nid), NR_FILE_MAPPED, 1);
  } else {
    pg->set(PG_anon);
    mm.add_mm_counter(MM_ANONPAGES, 1);
    pm_.mod_node_page_state(NodeId(nid), NR_ANON_MAPPED, 1);
  }
  pgtables_.set_entry(t->cpu, pte, make_pte(phys, vma.vm_flags, (vma.vm_flags & VM_WRITE) != 0), cost);
  return FaultResult::Handled;
}

// do_wp_page: a write to a present read-only PTE of a writable VMA. The zero
// page is replaced by a new zeroed page (wp_page_copy); an exclusive anonymous
// page is reused in place (wp_page_reuse); a shared one is copied.
Kernel::FaultResult Kernel::do_wp_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte,
                                       KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const pteval_t old = pte.value();
  const PhysAddr old_phys = pte_phys(old);
  if (old_phys != zero_page_phys()) {
    page* old_pg = pm_.phys_to_page(old_phys);
    if (old_pg->mapcount <= 1 || (vma.vm_flags & VM_SHARED)) {
      pgtables_.set_entry(t->cpu, pte, old | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
      pm_.count_vm_events(t->cpu, PGREUSE);
      return FaultResult::Handled;
    }
  }
  page* pg = alloc_user_page(t, vma, addr, cost);
  if (!pg) return FaultResult::Oom;
  PhysAddr phys = pm_.page_to_phys(pg);
  if (old_phys == zero_page_phys())
    cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(kPageSize)));  // clear_user_highpage
  else
    cost.add_memory(platform_.kernel_copy(t->cpu, phys, old_phys, Bytes(kPageSize)));  // copy_user_highpage
  pg->mapcount = 1;
  pg->owner = mm.mm_id;
  pg->set(PG_anon);
  pg->set(PG_swapbacked);
  mm.add_mm_counter(MM_ANONPAGES, 1);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_ANON_MAPPED, 1);
  // ptep_clear_flush + set_pte: other CPUs may cache the read-only translation.
  pgtables_.set_entry(t->cpu, pte, make_pte(phys, vma.vm_flags, true), cost);
  if (old_phys != zero_page_phys()) {
    page* old_pg = pm_.phys_to_page(old_phys);
    --old_pg->mapcount;
    mm.add_mm_counter(MM_ANONPAGES, -1);
    pm_.mod_node_page_state(pm_.page_to_nid(old_pg), NR_ANON_MAPPED, -1);
    put_user_page(t->cpu, old_pg, cost);
  }
  flush_tlb_range(t, mm, addr & ~(kPageSize - 1), (addr & ~(kPageSize - 1)) + kPageSize, cost);
  return FaultResult::Handled;
}

// hugetlb_fault / hugetlb_no_page / hugetlb_wp for a 2 MiB page.
Kernel::FaultResult Kernel::hugetlb_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags,
                                          KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const bool write = flags & FAULT_FLAG_WRITE;
  const VirtAddr haddr = addr & ~(HPAGE_SIZE - 1);
  PteRef pmd = pgtables_.walk_alloc(t->cpu, mm.pgd, haddr, PMD_LEVEL, cost);
  if (!pmd) return FaultResult::Oom;
  if (pmd.level != PMD_LEVEL) fault_bug("unexpected leaf above PMD in a hugetlb VMA", addr);
  pteval_t v = pmd.value();
  if (v == 0) {
    // huge_node + dequeue_hugetlb_folio_nodemask: policy decides the node.
    mempolicy* pol = const_cast<mempolicy*>(effective_policy(t, &vma));
    int nid = cpu_to_node(t->cpu).value();
    std::uint64_t ilx = vma.pgoff_of(haddr) >> HUGETLB_PAGE_ORDER;
    const nodemask_t* mask = policy_nodemask(GFP_HIGHUSER_MOVABLE, pol, ilx, &nid, pm_);
    page* pg = hugetlb_->dequeue(nid, mask, true);
    if (!pg) return FaultResult::Sigbus;  // VM_FAULT_SIGBUS: no huge page where the policy allows
    PhysAddr phys = pm_.page_to_phys(pg);
    cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(HPAGE_SIZE)));  // clear_huge_page
    pg->mapcount = 1;
    pg->owner = mm.mm_id;
    mm.hugetlb_usage += 1;
    const bool writable = (vma.vm_flags & VM_WRITE) && (write || (vma.vm_flags & VM_SHARED));
    pgtables_.set_entry(t->cpu, pmd, make_pte(phys, vma.vm_flags, writable) | _PAGE_PSE, cost);
    return FaultResult::Handled;
  }
  if (!pte_present(v) || !pte_huge(v)) fault_bug("hugetlb PMD is neither none nor a present huge leaf", addr);
  if (write && !pte_write(v)) {
    // hugetlb_wp: the page is exclusive to this mapping (no fork), reuse it.
    pgtables_.set_entry(t->cpu, pmd, v | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
    return FaultResult::Handled;
  }
  pgtables_.set_pte_bits(pmd.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  return FaultResult::Handled;
}

Kernel::FaultResult Kernel::touch(task_struct* t, VirtAddr addr, bool write, KernelCost& cost) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (t->mm && addr < t->mm->task_size) {
      PteRef r = pgtables_.walk(t->mm->pgd, addr, PTE_LEVEL);
      pteval_t v = r.value();
      bool leaf = r.level == PTE_LEVEL || pte_huge(v);
      if (leaf && pte_present(v) && (v & _PAGE_USER) && (!write || pte_write(v))) {
        pgtables_.set_pte_bits(r.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
        return FaultResult::Handled;
      }
    }
    FaultResult fr = handle_mm_fault(t, addr, (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_USER, cost);
    if (fr != FaultResult::Handled) return fr;
  }
  fault_bug("access still faults after the fault was handled", addr);
}

}  // namespace numasim::os
