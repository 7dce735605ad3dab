// Page faults (arch/x86/mm/fault.c do_user_addr_fault and mm_fault_error,
// mm/memory.c handle_mm_fault / __handle_mm_fault / handle_pte_fault /
// do_anonymous_page / do_wp_page / do_swap_page / do_numa_page, and
// mm/hugetlb.c hugetlb_fault). Inside the kernel a fault's outcome is a
// vm_fault_t (os/vm_fault.h), turned into Kernel::FaultResult at the entry.
// handle_pte_fault dispatches on the entry: none (first touch), present
// (write-protect or spurious), PROT_NONE in an accessible VMA (NUMA hint), or a
// swap entry (os/swapops.h: migration entries wait for the migration; swap
// entries are read back by do_swap_page, os/swap_state.cpp). A fault costs entry and exit cycles
// from the cost table, the page allocation (charged by the allocator),
// clear_page of the new page as a 4 KiB (2 MiB for hugetlb) kernel_write on the
// page's node, and every page-table entry written. Accesses outside any VMA or
// against its protection become a SIGSEGV counted on the task, never an abort.
// A user page or page-table page the buddy cannot give goes down the
// allocator's one slow path (page_alloc_slowpath.cpp), whose OOM killer
// (oom_kill.cpp) frees another process's memory (the allocation is retried) or
// kills the faulting task (FaultResult::Oom); a task the OOM killer chose
// faults Oom; a VM_FAULT_OOM that killed nobody is retried at the entry
// (kernel_entry.cpp, pagefault_out_of_memory).
// File-backed VMAs (mmap with an fd) take do_fault: do_read_fault (fault-around
// first: filemap_map_pages maps the cached neighbours within fault_around_bytes,
// then filemap_fault reads a missing page: a major fault), do_cow_fault (a
// private mapping's write: a new anonymous copy of the cache page) and
// do_shared_fault (a shared mapping's write: the cache page dirtied and mapped
// writable); a read fault maps a cache page read-only, so the first write to a
// clean shared page faults (vma_wants_writenotify) and wp_page_shared dirties it.
// Simplified: no stack growth (VM_GROWSDOWN is not expanded); THP faults are in
// huge_memory.cpp; private anonymous read faults map the shared zero page like
// Linux; shared anonymous (shmem) VMAs take shmem_fault (os/shmem.cpp): their
// pages belong to the VMA's shmem object, shared by every mapping of it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/trace.h"
#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/rmap.h"
#include "os/swapops.h"
#include "os/syscalls.h"
#include "os/vm_fault.h"

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

namespace {
const char* fault_result_name(Kernel::FaultResult r) {
  switch (r) {
    case Kernel::FaultResult::Handled: return "handled";
    case Kernel::FaultResult::Sigsegv: return "SIGSEGV";
    case Kernel::FaultResult::Sigbus: return "SIGBUS";
    case Kernel::FaultResult::Oom: return "OOM";
  }
  return "?";
}
}  // namespace

Kernel::FaultResult Kernel::handle_mm_fault(task_struct* t, VirtAddr addr, unsigned fault_flags, KernelCost& cost) {
  cost.add_cycles(params_.costs.fault_entry_cycles);
  if (t->oom_killed) return FaultResult::Oom;  // SIGKILL pending: the task does not return to user
  if (t->exited) return segv(t, addr, SEGV_MAPERR, cost);
  FaultResult r = fault_core(t, addr, fault_flags, cost);
  cost.add_cycles(params_.costs.fault_exit_cycles);
  NUMASIM_TRACE(mm, platform_.now(t->cpu), static_cast<int>(t->cpu.value()), "page_fault pid=%d addr=%#llx %s%s -> %s",
                t->pid, static_cast<unsigned long long>(addr), fault_flags & FAULT_FLAG_WRITE ? "write" : "read",
                fault_flags & FAULT_FLAG_INSTRUCTION ? ",instr" : "", fault_result_name(r));
  return r;
}

// do_user_addr_fault after the exception entry: find the VMA (no stack
// expansion), check the access (access_error), handle_mm_fault, start again on
// VM_FAULT_RETRY with FAULT_FLAG_TRIED, and turn the vm_fault_t into what the
// entry returns (mm_fault_error).
Kernel::FaultResult Kernel::fault_core(task_struct* t, VirtAddr addr, unsigned flags, KernelCost& cost) {
  const KernelEntryGuard ctx_guard = fault_enter(t, cost);  // allocations of this fault may OOM-kill
  mm_struct& mm = *t->mm;
  const bool write = flags & FAULT_FLAG_WRITE;
  const bool instr = flags & FAULT_FLAG_INSTRUCTION;
  for (;;) {
    if (addr >= mm.task_size) return segv(t, addr, SEGV_MAPERR, cost);
    vm_area_struct* vma = vma_lookup(mm, addr);
    if (!vma) return segv(t, addr, SEGV_MAPERR, cost);
    // access_error.
    if (write ? !(vma->vm_flags & VM_WRITE) : instr ? !(vma->vm_flags & VM_EXEC) : !vma->is_accessible())
      return segv(t, addr, SEGV_ACCERR, cost);
    const vm_fault_t r = handle_mm_fault(t, *vma, addr, flags, cost);
    if (r == 0) return FaultResult::Handled;
    if (r & VM_FAULT_RETRY) {  // the handler dropped the lock: look the VMA up again
      flags |= FAULT_FLAG_TRIED;
      continue;
    }
    return mm_fault_error(t, addr, r, cost);
  }
}

// mm_fault_error (arch/x86/mm/fault.c): an error bit becomes the signal the
// task gets; pagefault_out_of_memory has nothing left to do, the allocator's
// slow path already ran the OOM killer.
inline Kernel::FaultResult Kernel::mm_fault_error(task_struct* t, VirtAddr addr, vm_fault_t r, KernelCost& cost) {
  if (!(r & VM_FAULT_ERROR)) return FaultResult::Handled;
  if (r & VM_FAULT_OOM) return FaultResult::Oom;
  if (r & (VM_FAULT_SIGBUS | VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE)) return FaultResult::Sigbus;
  if (r & VM_FAULT_SIGSEGV) return segv(t, addr, SEGV_MAPERR, cost);
  fault_bug("VM_FAULT_FALLBACK escaped the huge-page path", addr);
}

// mm_account_fault: a completed fault is major when it did I/O or was retried.
inline void Kernel::mm_account_fault(task_struct* t, unsigned flags, vm_fault_t r) {
  if (r & (VM_FAULT_ERROR | VM_FAULT_RETRY)) return;
  if ((r & VM_FAULT_MAJOR) || (flags & FAULT_FLAG_TRIED))
    ++t->maj_flt;
  else
    ++t->min_flt;
}

namespace {
// The FaultResult of a handler that still reports one, as a vm_fault_t.
vm_fault_t to_vm_fault(Kernel::FaultResult r) {
  switch (r) {
    case Kernel::FaultResult::Handled: return 0;
    case Kernel::FaultResult::Oom: return VM_FAULT_OOM;
    case Kernel::FaultResult::Sigbus: return VM_FAULT_SIGBUS;
    case Kernel::FaultResult::Sigsegv: return VM_FAULT_SIGSEGV;
  }
  return VM_FAULT_SIGBUS;
}

}  // namespace

// handle_mm_fault (mm/memory.c): count the fault, take the hugetlb or the
// generic path, account it on the task.
inline vm_fault_t Kernel::handle_mm_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags,
                                   KernelCost& cost) {
  pm_.count_vm_events(t->cpu, PGFAULT);
  if (t->mm) count_memcg_events(t->mm->memcg_id, MEMCG_PGFAULT);  // count_memcg_event_mm
  cost.add_cycles(params_.costs.fault_handle_cycles);
  const vm_fault_t r =
      vma.is_hugetlb() ? hugetlb_fault(t, vma, addr, flags, cost) : __handle_mm_fault(t, vma, addr, flags, cost);
  mm_account_fault(t, flags, r);
  return r;
}

// __handle_mm_fault: the PMD stage (a none PMD of a THP-eligible VMA goes to
// do_huge_pmd_anonymous_page first: create_huge_pmd), then the PTE table
// (__pte_alloc) and handle_pte_fault. A huge PMD met on the way to the PTE
// (a THP or the huge zero page, whatever the VMA's eligibility now) takes
// do_huge_pmd_fault; its VM_FAULT_FALLBACK (the PMD was split) continues with
// the PTEs. One walk: to the PMD (allocating the upper tables, as __pte_alloc's
// walk would for a VMA not eligible for THP), continued below it to the PTE.
// No PUD-sized pages outside hugetlb.
inline vm_fault_t Kernel::__handle_mm_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags,
                                     KernelCost& cost) {
  const PteRef pmd = pgtables_.walk_alloc(t->cpu, t->mm->pgd, addr, PMD_LEVEL, cost);
  if (!pmd) return VM_FAULT_OOM;
  if (pmd.level == PMD_LEVEL && pmd_none(pmd.value()) && thp_vma_allowed(vma)) {  // hugepage_vma_check
    vm_fault vmf{&vma, addr & ~(kPageSize - 1), addr, flags, pmd, PteRef{}, 0};
    const vm_fault_t r = do_huge_pmd_anonymous_page(t, vmf, cost);
    if (!(r & VM_FAULT_FALLBACK)) return r;
  }
  // A NUMA-hinting huge PMD (change_prot_numa): do_huge_pmd_numa_page (huge_memory.cpp).
  if (pmd.level == PMD_LEVEL && pte_huge(pmd.value()) && pte_protnone(pmd.value()))
    return do_huge_pmd_fault(t, vma, addr, pmd, flags, cost);
  PteRef pte = pgtables_.walk_alloc_below(t->cpu, pmd, addr, PTE_LEVEL, cost);
  if (!pte) return VM_FAULT_OOM;
  if (pte.level == PMD_LEVEL && pte_huge(pte.value())) {  // pmd_trans_huge
    const vm_fault_t r = do_huge_pmd_fault(t, vma, addr, pte, flags, cost);
    if (!(r & VM_FAULT_FALLBACK)) return r;
    pte = pgtables_.walk_alloc_below(t->cpu, pmd, addr, PTE_LEVEL, cost);
    if (!pte) return VM_FAULT_OOM;
  }
  // A PMD migration entry or a NUMA-hinting huge PMD: nothing makes them.
  if (pte.level != PTE_LEVEL) fault_bug("huge or non-present PMD in a non-hugetlb VMA", addr);
  vm_fault vmf{&vma, addr & ~(kPageSize - 1), addr, flags, pmd, pte, pte.value()};
  return handle_pte_fault(t, vmf, cost);
}

// handle_pte_fault: dispatch on what the PTE holds.
inline vm_fault_t Kernel::handle_pte_fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  const pteval_t entry = vmf.orig_pte;
  // None: a first touch. Private anonymous VMAs go to do_anonymous_page here,
  // file-backed VMAs to do_fault, shmem VMAs to shmem_fault.
  if (pte_none(entry) && vmf.vma->is_file()) return do_fault(t, vmf, cost);
  if (pte_none(entry) && vmf.vma->vm_shmem) return shmem_->fault(t, vmf, cost);  // shmem_fault (os/shmem.cpp)
  if (pte_none(entry)) return to_vm_fault(do_anonymous_page(t, *vmf.vma, vmf.real_address, vmf.pte, vmf.flags, cost));
  if (!pte_present(entry)) {
    // Linux tests pte_protnone after !pte_present because its pte_present
    // includes PROT_NONE entries; here they are not present, so test them first.
    if (pte_protnone(entry)) return do_numa_page(t, vmf, cost);
    return do_swap_page(t, vmf, cost);
  }
  if ((vmf.flags & FAULT_FLAG_WRITE) && !pte_write(entry) && vmf.vma->is_file() && (vmf.vma->vm_flags & VM_SHARED))
    return wp_page_shared(t, vmf, cost);
  if ((vmf.flags & FAULT_FLAG_WRITE) && !pte_write(entry))
    return to_vm_fault(do_wp_page(t, *vmf.vma, vmf.real_address, vmf.pte, cost));
  // Spurious (another CPU fixed it, or a stale TLB entry): just mark young/dirty.
  pgtables_.set_pte_bits(vmf.pte.addr, _PAGE_ACCESSED | ((vmf.flags & FAULT_FLAG_WRITE) ? _PAGE_DIRTY : 0));
  return 0;
}

// do_swap_page (a swap or migration entry) is in swap_state.cpp.

// migration_entry_wait: sleep until the page under migration is unlocked
// (remove_migration_ptes restored the entry). Migration is synchronous in this
// model, so no migration can be in flight while a fault runs: the wait calls
// migration_waiter_ (set by tests; migrate.c's completion when migration runs in
// kernel threads) and finding the entry unchanged afterwards is a kernel bug
// (the access would fault for ever).
void Kernel::migration_entry_wait(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  (void)cost;  // the sleep is the migration's time, charged where it runs
  if (migration_waiter_) migration_waiter_(t, vmf.address);
  const PteRef now = pgtables_.walk(t->mm->pgd, vmf.address, PTE_LEVEL);
  if (now.level == PTE_LEVEL && now.value() == vmf.orig_pte)
    fault_bug("migration entry never restored (nothing completes a synchronous migration)", vmf.address);
}

// do_numa_page: a NUMA hinting fault on a PROT_NONE entry of an accessible VMA
// (made by change_prot_numa, NUMA balancing's scanner). The entry is made
// present again first, with its saved write bit (Linux restores it after a
// failed migration or when no migration is wanted; migrating here from the
// restored entry moves the same page with the same result). Then
// numa_migrate_prep counts numa_hint_faults(_local) and asks mpol_misplaced
// (the last_cpupid two-reference filter, or in MEMORY_TIERING mode the hot
// threshold and rate limit of a slow-tier page) where the page belongs;
// migrate_misplaced_page moves it; task_numa_fault records the fault for the
// task's placement and scan period.
vm_fault_t Kernel::do_numa_page(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  const pteval_t old = vmf.orig_pte;
  const unsigned long f = vmf.vma->vm_flags;
  const bool was_writable = (old & _PAGE_RW) && (f & VM_WRITE);  // pte_savedwrite
  pteval_t n = (old & (PTE_PFN_MASK | _PAGE_DIRTY | _PAGE_SPECIAL)) | _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
  if (!(f & VM_EXEC)) n |= _PAGE_NX;
  // The saved write bit, or (as Linux 6.2's do_numa_page) a writable VMA's page this
  // mapping holds alone (can_change_pte_writable).
  if (!(old & _PAGE_SPECIAL) && (was_writable || ((f & VM_WRITE) && can_change_pte_writable(*vmf.vma, old))))
    n |= _PAGE_RW;
  pgtables_.set_entry(t->cpu, vmf.pte, n, cost);
  // A PROT_NONE entry a former mprotect left is no hint (nothing to learn), nor is the zero page.
  if (!numab_->enabled() || !t->numa || (old & _PAGE_SPECIAL)) return 0;
  page* pg = pm_.phys_to_page(pte_phys(old));
  int flags = 0;
  if (!was_writable) flags |= TNF_NO_GROUP;
  if (pg->mapcount > 1 && (f & VM_SHARED)) flags |= TNF_SHARED;
  int page_nid = pm_.page_to_nid(pg).value();
  const int last_cpupid = numab_->fault_last_cpupid(pg, page_nid);
  const int target_nid = numab_->numa_migrate_prep(t, pg, page_nid, effective_policy(t, vmf.vma) == nullptr, flags);
  if (target_nid >= 0) {
    const int cpupid = page_cpupid_last(pg);
    if (numab_->migrate_misplaced_page(t, pg, target_nid, cost)) {
      page_nid = target_nid;
      flags |= TNF_MIGRATED;
      if (auto now = follow_page(*t->mm, vmf.address); now && now->pg) page_cpupid_xchg_last(now->pg, cpupid);
    } else {
      flags |= TNF_MIGRATE_FAIL;
    }
  }
  numab_->task_numa_fault(t, last_cpupid, page_nid, 1, flags);
  return 0;
}

// do_anonymous_page: zero page for private read faults, else a new zeroed page.
Kernel::FaultResult Kernel::do_anonymous_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte,
                                              unsigned flags, KernelCost& cost) {
  const bool write = flags & FAULT_FLAG_WRITE;
  const bool shared = vma.vm_flags & VM_SHARED;
  if (shared) fault_bug("shared anonymous VMA without its shmem object", addr);  // shmem_zero_setup gave it one
  if (!write && params_.zero_page) {
    pgtables_.set_entry(t->cpu, pte, make_pte(zero_page_phys(), vma.vm_flags, false) | _PAGE_SPECIAL, cost);
    return FaultResult::Handled;
  }
  // anon_vma_prepare before the page (VM_FAULT_OOM when its objects cannot be had).
  if (anon_vma_prepare(*anon_vmas_, vma, t->cpu, cost) != 0) return FaultResult::Oom;
  page* pg = alloc_user_page(t, vma, addr, cost);
  if (!pg) return FaultResult::Oom;
  if (mem_cgroup_charge(pg, t->mm, GFP_HIGHUSER_MOVABLE, cost)) {  // over memory.max after reclaim and OOM
    pm_.free_pages(t->cpu, pg, 0, cost);
    return FaultResult::Oom;
  }
  PhysAddr phys = pm_.page_to_phys(pg);
  cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(kPageSize)));  // clear_page
  page_tokens_.clear(phys >> kPageShift);
  mm_struct& mm = *t->mm;
  page_add_new_anon_rmap(pg, vma, addr);
  mm.add_mm_counter(MM_ANONPAGES, 1);
  lru_cache_add_inactive_or_unevictable(pg, vma, t->cpu);
  pgtables_.set_entry(t->cpu, pte, make_pte(phys, vma.vm_flags, (vma.vm_flags & VM_WRITE) != 0), cost);
  return FaultResult::Handled;
}

// do_wp_page: a write to a present read-only PTE of a writable VMA. A shared
// mapping's page is reused (wp_page_shared); an anonymous page this mapping
// alone holds is reused in place (wp_page_reuse, after page_move_anon_rmap);
// the zero page or an anonymous page still shared with another process after
// fork is copied (wp_page_copy: new page, page_remove_rmap of the old one,
// flush of the old translation).
Kernel::FaultResult Kernel::do_wp_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte,
                                       KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const pteval_t old = pte.value();
  const PhysAddr old_phys = pte_phys(old);
  const bool zero = old_phys == zero_page_phys();
  page* old_pg = zero ? nullptr : pm_.phys_to_page(old_phys);
  // do_wp_page's folio_free_swap: a swap-cache page only this mapping holds leaves the cache.
  if (old_pg && old_pg->test(PG_swapcache) && old_pg->mapcount <= 1 && old_pg->_refcount == 2)
    swap_->try_to_free_swap(old_pg, t->cpu, cost);
  // A THP subpage is exclusive when no other entry maps it (its references are the head's).
  const bool exclusive = old_pg && (PageCompound(old_pg) ? thp_subpage_exclusive(old_pg)
                                                         : old_pg->mapcount <= 1 && old_pg->_refcount <= 1);
  if (old_pg && ((vma.vm_flags & VM_SHARED) || exclusive)) {
    // page_move_anon_rmap: an exclusive page now belongs to this VMA's own anon_vma.
    if (PageAnon(old_pg) && vma.anon_vma) old_pg->owner = vma.anon_vma->id;
    pgtables_.set_entry(t->cpu, pte, old | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
    pm_.count_vm_events(t->cpu, PGREUSE);
    return FaultResult::Handled;
  }
  if (anon_vma_prepare(*anon_vmas_, vma, t->cpu, cost) != 0) return FaultResult::Oom;
  page* pg = alloc_user_page(t, vma, addr, cost);
  if (!pg) return FaultResult::Oom;
  if (mem_cgroup_charge(pg, t->mm, GFP_HIGHUSER_MOVABLE, cost)) {  // wp_page_copy's charge
    pm_.free_pages(t->cpu, pg, 0, cost);
    return FaultResult::Oom;
  }
  PhysAddr phys = pm_.page_to_phys(pg);
  if (zero) {
    cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(kPageSize)));  // clear_user_highpage
    page_tokens_.clear(phys >> kPageShift);
  } else {
    cost.add_memory(platform_.kernel_copy(t->cpu, phys, old_phys, Bytes(kPageSize)));  // copy_user_highpage
    page_tokens_.copy(phys >> kPageShift, old_phys >> kPageShift);
  }
  page_add_new_anon_rmap(pg, vma, addr);
  mm.add_mm_counter(MM_ANONPAGES, 1);
  lru_cache_add_inactive_or_unevictable(pg, vma, t->cpu);
  // ptep_clear_flush + set_pte: other CPUs may cache the read-only translation.
  pgtables_.set_entry(t->cpu, pte, make_pte(phys, vma.vm_flags, true), cost);
  if (old_pg) page_remove_rmap(t->cpu, mm, old_pg, false, cost);
  flush_tlb_range(t->cpu, mm, addr & ~(kPageSize - 1), (addr & ~(kPageSize - 1)) + kPageSize, cost);
  return FaultResult::Handled;
}

// hugetlb_fault / hugetlb_no_page / hugetlb_wp for a 2 MiB (PMD leaf) or
// 1 GiB (PUD leaf) page of the VMA's hstate.
vm_fault_t Kernel::hugetlb_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags, KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const bool write = flags & FAULT_FLAG_WRITE;
  const int h = hstate_vma(vma);
  const std::uint64_t hsize = hstate_size(h);
  const int level = vma_hpage_level(vma);
  const VirtAddr haddr = addr & ~(hsize - 1);
  PteRef hpte = pgtables_.walk_alloc(t->cpu, mm.pgd, haddr, level, cost);  // huge_pte_alloc
  if (!hpte) return VM_FAULT_OOM;
  if (hpte.level != level) fault_bug("unexpected leaf above the huge level in a hugetlb VMA", addr);
  pteval_t v = hpte.value();
  if (v == 0) {
    // huge_node + alloc_hugetlb_folio: policy decides the node; a page without
    // a reservation may be a surplus one from the buddy.
    mempolicy* pol = const_cast<mempolicy*>(effective_policy(t, &vma));
    int nid = cpu_to_node(t->cpu).value();
    std::uint64_t ilx = vma.pgoff_of(haddr) >> hstate_order(h);
    const nodemask_t* mask = policy_nodemask(GFP_HIGHUSER_MOVABLE, pol, ilx, &nid, pm_);
    page* pg = hugetlb_->alloc_huge_page(h, nid, mask, vma.hugetlb_reserves(), t->cpu, cost);
    if (!pg) return VM_FAULT_SIGBUS;  // no huge page where the policy allows
    PhysAddr phys = pm_.page_to_phys(pg);
    cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(hsize)));  // clear_huge_page
    page_tokens_.clear(phys >> kPageShift, static_cast<unsigned>(__builtin_ctzll(hsize >> kPageShift)));
    pg->mapcount = 1;
    pg->owner = mm.mm_id;
    mm.hugetlb_usage += 1;
    const bool writable = (vma.vm_flags & VM_WRITE) && (write || (vma.vm_flags & VM_SHARED));
    pgtables_.set_entry(t->cpu, hpte, make_pte(phys, vma.vm_flags, writable) | _PAGE_PSE, cost);
    return 0;
  }
  if (!pte_present(v) || !pte_huge(v)) fault_bug("hugetlb entry is neither none nor a present huge leaf", addr);
  if (write && !pte_write(v)) {
    // hugetlb_wp: the page is exclusive to this mapping (fork copies private
    // hugetlb pages at once), reuse it.
    pgtables_.set_entry(t->cpu, hpte, v | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
    return 0;
  }
  pgtables_.set_pte_bits(hpte.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
  return 0;
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

// ---------------------------------------------------------------------------
// File-backed faults (mm/memory.c do_fault and friends, mm/filemap.c filemap_map_pages)
// ---------------------------------------------------------------------------

// do_set_pte for a page-cache page: page_add_file_rmap, MM_FILEPAGES, the entry
// (writable and dirty only for a shared mapping's write fault).
void Kernel::map_file_pte(task_struct* t, vm_area_struct& vma, const PteRef& pte, page* pg, bool writable,
                          KernelCost& cost) {
  page_add_file_rmap(pg, *t->mm);
  pgtables_.set_entry(t->cpu, pte, make_pte(pm_.page_to_phys(pg), vma.vm_flags, writable), cost);
}

// do_fault: a none PTE of a file-backed VMA.
vm_fault_t Kernel::do_fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  if (!(vmf.flags & FAULT_FLAG_WRITE)) return do_read_fault(t, vmf, cost);
  if (!(vmf.vma->vm_flags & VM_SHARED)) return do_cow_fault(t, vmf, cost);
  return do_shared_fault(t, vmf, cost);
}

// do_fault_around + filemap_map_pages: fault_around_bytes from the address rounded
// down to them (or the VMA's start), clipped to the VMA, the PTE table and EOF; each cached,
// up-to-date, unlocked page that is no readahead marker and whose PTE is none
// is mapped read-only (an entry written per page).
unsigned Kernel::do_fault_around(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  const std::uint64_t bytes = fs_->params().fault_around_bytes;
  const VirtAddr addr = vmf.address;
  const VirtAddr pmd_start = addr & ~((kPageSize << 9) - 1), pmd_end = pmd_start + (kPageSize << 9);
  const VirtAddr from = std::max<VirtAddr>({addr & ~(bytes - 1), vma.vm_start, pmd_start});
  const VirtAddr to = std::min<VirtAddr>({from + bytes, vma.vm_end, pmd_end});
  const inode& ino = *vma.vm_file->f_inode;
  const std::uint64_t max_idx = (ino.i_size + kPageSize - 1) / kPageSize;
  unsigned mapped = 0;
  for (VirtAddr a = from; a < to; a += kPageSize) {
    const std::uint64_t pgoff = vma.pgoff_of(a);
    if (pgoff >= max_idx) break;
    page* pg = fs_->find_get_page(ino, pgoff);
    if (!pg || pg->test(PG_locked) || !pg->test(PG_uptodate) || pg->test(PG_readahead)) continue;
    const PteRef pte = pgtables_.walk(t->mm->pgd, a, PTE_LEVEL);
    if (!pte || pte.level != PTE_LEVEL || pte.value() != 0) continue;
    map_file_pte(t, vma, pte, pg, false, cost);
    ++mapped;
  }
  return mapped;
}

// do_read_fault: fault-around first (should_fault_around: more than one page);
// when it did not map the address, filemap_fault and the page mapped read-only.
vm_fault_t Kernel::do_read_fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  if ((fs_->params().fault_around_bytes >> kPageShift) > 1) {
    do_fault_around(t, vmf, cost);
    if (vmf.pte.value() != 0) return 0;
  }
  page* pg = nullptr;
  const vm_fault_t r = fs_->filemap_fault(t, *vma.vm_file, vma.pgoff_of(vmf.address), vma.vm_flags & VM_SEQ_READ,
                                          vma.vm_flags & VM_RAND_READ, pg, cost);
  if (r & VM_FAULT_ERROR) return r;
  map_file_pte(t, vma, vmf.pte, pg, false, cost);
  return r;
}

// do_cow_fault: a private mapping's write to a page not mapped yet: a new
// anonymous page (anon_vma_prepare, the policy's node, memcg charge) holding a
// copy of the cache page (copy_user_highpage), mapped writable; the file page
// is not mapped.
vm_fault_t Kernel::do_cow_fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  if (anon_vma_prepare(*anon_vmas_, vma, t->cpu, cost) != 0) return VM_FAULT_OOM;
  page* cow = alloc_user_page(t, vma, vmf.address, cost);
  if (!cow) return VM_FAULT_OOM;
  if (mem_cgroup_charge(cow, t->mm, GFP_HIGHUSER_MOVABLE, cost)) {
    pm_.free_pages(t->cpu, cow, 0, cost);
    return VM_FAULT_OOM;
  }
  page* pg = nullptr;
  const vm_fault_t r = fs_->filemap_fault(t, *vma.vm_file, vma.pgoff_of(vmf.address), vma.vm_flags & VM_SEQ_READ,
                                          vma.vm_flags & VM_RAND_READ, pg, cost);
  if (r & VM_FAULT_ERROR) {
    mem_cgroup_uncharge(cow);
    pm_.free_pages(t->cpu, cow, 0, cost);
    return r;
  }
  const PhysAddr phys = pm_.page_to_phys(cow), src = pm_.page_to_phys(pg);
  cost.add_memory(platform_.kernel_copy(t->cpu, phys, src, Bytes(kPageSize)));  // copy_user_highpage
  page_tokens_.copy(phys >> kPageShift, src >> kPageShift);
  page_add_new_anon_rmap(cow, vma, vmf.address);
  t->mm->add_mm_counter(MM_ANONPAGES, 1);
  lru_cache_add_inactive_or_unevictable(cow, vma, t->cpu);
  pgtables_.set_entry(t->cpu, vmf.pte, make_pte(phys, vma.vm_flags, true), cost);
  return r;
}

// do_shared_fault: a shared mapping's write to a page not mapped yet:
// filemap_fault, page_mkwrite (folio_mark_dirty), the page mapped writable and
// dirty, then fault_dirty_shared_page (balance_dirty_pages_ratelimited).
vm_fault_t Kernel::do_shared_fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  page* pg = nullptr;
  const vm_fault_t r = fs_->filemap_fault(t, *vma.vm_file, vma.pgoff_of(vmf.address), vma.vm_flags & VM_SEQ_READ,
                                          vma.vm_flags & VM_RAND_READ, pg, cost);
  if (r & VM_FAULT_ERROR) return r;
  bool dirtied = false;
  if (const vm_fault_t e = fs_->page_mkwrite(pg, t->cpu, dirtied)) return e;
  map_file_pte(t, vma, vmf.pte, pg, true, cost);
  if (dirtied) fs_->balance_dirty_pages_ratelimited(t, 1, cost);
  return r;
}

// wp_page_shared: a write to a read-only (clean, write-notified) page of a
// shared file mapping: page_mkwrite dirties the page, the entry becomes
// writable and dirty (wp_page_reuse), then fault_dirty_shared_page.
vm_fault_t Kernel::wp_page_shared(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  const pteval_t old = vmf.orig_pte;
  page* pg = pm_.phys_to_page(pte_phys(old));
  bool dirtied = false;
  if (const vm_fault_t e = fs_->page_mkwrite(pg, t->cpu, dirtied)) return e;
  pgtables_.set_entry(t->cpu, vmf.pte, old | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
  pm_.count_vm_events(t->cpu, PGREUSE);
  if (dirtied) fs_->balance_dirty_pages_ratelimited(t, 1, cost);
  return 0;
}

}  // namespace numasim::os
