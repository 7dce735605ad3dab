// fork(2) and clone(2) without CLONE_VM (kernel/fork.c copy_process, dup_mm,
// dup_mmap; mm/memory.c copy_page_range / copy_present_pte; mm/hugetlb.c
// copy_hugetlb_page_range; mm/rmap.c anon_vma_fork). The child gets a
// task_struct, an mm_struct and a PGD (create_task), a copy of the parent's
// task policy, a copy of every VMA but VM_DONTCOPY ones (MADV_DONTFORK) with
// its own vm_area_struct and policy objects and its anon_vma chain, and a copy
// of the page tables: private anonymous pages become read-only in both (one
// more mapping and reference each: copy-on-write, do_wp_page), swap entries
// are shared (swap_duplicate, as copy_nonpresent_pte), zero-page
// entries are copied, shared (MAP_SHARED) pages and MAP_SHARED hugetlb pages
// are shared. Child entries are old (accessed clear), and clean for shared
// mappings, as Linux's. The parent's TLB is flushed once at the end (dup_mmap's
// flush_tlb_mm). Costs: vma_op_cycles per VMA, each parent leaf read as an
// 8-byte kernel_read, each entry written (child, and the parent's
// write-protect) through set_entry, private hugetlb copies as kernel_copy.
// All-or-nothing: everything the child needs (objects, page-table pages,
// hugetlb pages and reservations) is taken before any parent entry changes;
// ENOMEM frees it all and leaves the parent as it was.
// THP PMDs are shared copy-on-write (copy_huge_pmd: write-protected in both,
// one more entire mapping); the huge zero page is copied as is.
// File-backed VMAs are copied with their file (the VMA's shared reference);
// their present entries are copied too (Linux leaves them to refault from the
// page cache): each page-cache page gets one more mapping (MM_FILEPAGES), a
// private mapping's copy-on-write copies are shared copy-on-write like any
// anonymous page, so each process writing after the fork gets its own copy.
// Simplified: shmem VMAs have their present entries copied (Linux leaves them
// to be faulted from the object; the VMA copy shares the shmem object, so a page
// first faulted after the fork is shared all the same, os/shmem.h); private hugetlb
// pages are copied at fork (Linux shares them copy-on-write and copies only
// pinned ones); the child of a MAP_SHARED hugetlb mapping reserves pages for
// the entries not yet present (Linux reserves per file, not per mapping); the
// child runs on the parent's CPU; no VM_WIPEONFORK, no OOM kill during fork.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>
#include <vector>

#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/rmap.h"
#include "os/swapops.h"

namespace numasim::os {

namespace {
constexpr unsigned long kCloneExitSignal = 0xff;  // CSIGNAL: the exit-signal bits of clone flags
}

long Kernel::sys_fork(task_struct* t, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  auto entry = syscall_enter(t, cost);
  task_struct* child = copy_process(t, cost);
  return child ? child->pid : -ENOMEM;
}

long Kernel::sys_clone(task_struct* t, unsigned long flags, KernelCost& cost) {
  if (flags & ~kCloneExitSignal) {  // CLONE_VM, CLONE_THREAD...: threads come from create_thread
    syscall_cost(cost);
    return -EINVAL;
  }
  return sys_fork(t, cost);
}

// copy_process: dup_task_struct + mm (create_task), mpol_dup, copy_mm (dup_mmap).
task_struct* Kernel::copy_process(task_struct* t, KernelCost& cost) {
  task_struct* child = create_task(t->comm, t->cpu, t->cpus_allowed, cost);
  if (!child) return nullptr;
  child->oom_score_adj = t->oom_score_adj;  // copy_signal
  auto abort_child = [&] {
    exit_task(child);
    release_task(child);
    return nullptr;
  };
  if (t->mempolicy) {
    child->mempolicy = mpol_object_new(*t->mempolicy, t->cpu, cost, AllocSite::tag("mpol_dup"));
    if (!child->mempolicy) return abort_child();
  }
  mm_struct& cmm = *child->mm;
  const mm_struct& pmm = *t->mm;
  cmm.mmap_base = pmm.mmap_base;
  cmm.memcg_id = pmm.memcg_id;  // the child starts in its parent's cgroup
  cmm.start_brk = pmm.start_brk;
  cmm.brk = pmm.brk;
  if (!dup_mmap(t, child, cost)) return abort_child();
  return child;
}

bool Kernel::dup_mmap(task_struct* parent, task_struct* child, KernelCost& cost) {
  mm_struct& pmm = *parent->mm;
  mm_struct& cmm = *child->mm;
  const CpuId cpu = parent->cpu;
  struct Pair {
    vm_area_struct* pvma;
    vm_area_struct* cvma;
    std::uint64_t resv;  // hugetlb pages reserved for the child's VMA
  };
  std::vector<Pair> pairs;
  std::vector<page*> huge_copies;  // private hugetlb pages for the child, in leaf order
  std::map<const mempolicy*, std::shared_ptr<mempolicy>> dup_pol;
  // Page-table pages allocated from here on are the child's (its pgtables_bytes).
  KernelEntryGuard child_context(ctx_, child, cpu, cost, false);
  bool ok = true;
  {
    VmaOp op(*this, cmm, cpu, cost);
    int n = 0;
    for (const auto& [start, v] : pmm.mm_mt) n += !(v.vm_flags & VM_DONTCOPY);
    ok = op.reserve(n, AllocSite::tag("vm_area_dup"));
    // Phase 1: everything the child needs, nothing of the parent changed.
    for (auto it = pmm.mm_mt.begin(); ok && it != pmm.mm_mt.end(); ++it) {
      vm_area_struct& pvma = it->second;
      if (pvma.vm_flags & VM_DONTCOPY) continue;
      vm_area_struct c = pvma;  // vm_area_dup
      c.vm_obj = 0;
      c.anon_vma = nullptr;
      c.anon_vma_chain.clear();
      if (pvma.vm_policy) {  // vma_dup_policy (one copy per parent policy object)
        auto& np = dup_pol[pvma.vm_policy.get()];
        if (!np) np = mpol_object_new(*pvma.vm_policy, cpu, cost, AllocSite::tag("vma_dup_policy"));
        if (!np) {
          ok = false;
          break;
        }
        c.vm_policy = np;
      }
      vm_area_struct& cvma = vma_insert(cmm, std::move(c));
      cmm.total_vm += cvma.size() >> kPageShift;
      cost.add_cycles(params_.costs.vma_op_cycles);
      pairs.push_back({&pvma, &cvma, 0});
      if (anon_vma_fork(*anon_vmas_, cvma, pvma, cpu, cost) != 0) {
        ok = false;
        break;
      }
      // Page-table pages for every leaf the child will get.
      std::uint64_t present = 0;
      auto reserve_tables = [&](VirtAddr va, const PteRef& ref) {
        if (!ok) return;
        ++present;
        PteRef cref = pgtables_.walk_alloc(cpu, cmm.pgd, va, ref.level, cost);
        if (!cref) ok = false;
      };
      walk_leaves(pgtables_, &pmm, pmm.pgd, pvma.vm_start, pvma.vm_end, reserve_tables);
      if (!ok || !pvma.is_hugetlb()) continue;
      if (!(pvma.vm_flags & VM_SHARED)) {  // private hugetlb: the child's own copies
        for (std::uint64_t i = 0; i < present && ok; ++i) {
          page* hp = hugetlb_->alloc_huge_page(hstate_vma(pvma), cpu_to_node(cpu).value(), nullptr, false, cpu, cost);
          if (hp)
            huge_copies.push_back(hp);
          else
            ok = false;
        }
      }
      const std::uint64_t resv = pvma.hugetlb_reserves() ? pvma.size() / vma_hpage_size(pvma) - present : 0;
      if (ok && hugetlb_->reserve(resv, hstate_vma(pvma)))
        pairs.back().resv = resv;
      else
        ok = false;
    }
    if (!ok) {
      // Undo what the exit of the child would not: its hugetlb reservations
      // (its VMAs are erased here, unmapped, so exit_mmap does not unreserve) and copies.
      for (page* hp : huge_copies) hugetlb_->enqueue(hp);
      for (const Pair& p : pairs) {
        if (!p.cvma->is_hugetlb()) continue;
        hugetlb_->unreserve(p.resv, hstate_vma(*p.cvma));
        cmm.total_vm -= p.cvma->size() >> kPageShift;
        vma_erase(cmm, *p.cvma);
      }
    }
  }
  if (!ok) return false;

  // Phase 2: copy_page_range, which cannot fail.
  std::size_t next_copy = 0;
  for (const Pair& p : pairs) {
    const vm_area_struct& pvma = *p.pvma;
    const bool shared = pvma.vm_flags & VM_SHARED;
    auto copy_leaf = [&](VirtAddr va, const PteRef& ref) {  // copy_pte_range / copy_hugetlb_page_range per leaf
      cost.add_memory(platform_.kernel_read(cpu, ref.addr, Bytes(8)));
      const pteval_t v = ref.value();
      PteRef cref = pgtables_.walk(cmm.pgd, va, ref.level);
      pteval_t cv;
      if (ref.level != PTE_LEVEL && !pvma.is_hugetlb()) {  // copy_huge_pmd: a THP or the huge zero page
        if (v & _PAGE_SPECIAL) {
          cv = v & ~_PAGE_ACCESSED;
        } else {
          page* head = pm_.phys_to_page(pte_phys(v));
          set_entire_mapcount(head, entire_mapcount(head) + 1);  // page_dup_compound_rmap
          ++head->_refcount;
          if (pte_write(v)) pgtables_.set_entry(cpu, ref, v & ~_PAGE_RW, cost);  // pmdp_set_wrprotect
          cv = v & ~(_PAGE_RW | _PAGE_ACCESSED);
          cmm.add_mm_counter(MM_ANONPAGES, static_cast<long>(HPAGE_PMD_NR));
        }
      } else if (ref.level != PTE_LEVEL) {  // hugetlb leaf
        page* hp = pm_.phys_to_page(pte_phys(v));
        if (shared) {  // page_dup_file_rmap + get_page
          ++hp->mapcount;
          ++hp->_refcount;
          cv = v;
        } else {
          page* np = huge_copies[next_copy++];
          const PhysAddr nphys = pm_.page_to_phys(np);
          cost.add_memory(platform_.kernel_copy(cpu, nphys, pte_phys(v), Bytes(vma_hpage_size(pvma))));  // copy_user_huge_page
          page_tokens_.copy(nphys >> kPageShift, pte_phys(v) >> kPageShift,
                            static_cast<unsigned>(__builtin_ctzll(vma_hpage_size(pvma) >> kPageShift)));
          np->mapcount = 1;
          np->owner = cmm.mm_id;
          cv = (v & ~PTE_PFN_MASK) | nphys;
        }
        cmm.hugetlb_usage += 1;
      } else if (is_swap_pte(v)) {  // copy_nonpresent_pte: the child shares the swap slot
        const swp_entry_t e = pte_to_swp_entry(v);
        if (!non_swap_entry(e)) {
          if (swap_->swap_duplicate(e) != 0) {  // Linux adds a count continuation page here
            std::fprintf(stderr, "numasim: swap count of a slot at its maximum during fork\n");
            std::abort();
          }
          cmm.add_mm_counter(MM_SWAPENTS, 1);
        }
        cv = v;
      } else if (v & _PAGE_SPECIAL) {  // the zero page
        cv = v & ~_PAGE_ACCESSED;
      } else {
        page* pg = pm_.phys_to_page(pte_phys(v));
        ++pg->mapcount;  // page_dup_anon_rmap / page_dup_file_rmap
        ++thp_head(pg)->_refcount;  // a THP subpage's reference is its head's
        if (shared) {
          cv = v & ~(_PAGE_ACCESSED | _PAGE_DIRTY);  // pte_mkclean, pte_mkold
          cmm.add_mm_counter(PageSwapBacked(pg) ? MM_SHMEMPAGES : MM_FILEPAGES, 1);  // shmem or a file page
        } else {
          if (pte_write(v)) pgtables_.set_entry(cpu, ref, v & ~_PAGE_RW, cost);  // ptep_set_wrprotect
          cv = v & ~(_PAGE_RW | _PAGE_ACCESSED);
          cmm.add_mm_counter(PageAnon(pg) ? MM_ANONPAGES : MM_FILEPAGES, 1);  // a private file mapping's cache page
        }
      }
      pgtables_.set_entry(cpu, cref, cv, cost);
    };
    walk_leaves(pgtables_, &pmm, pmm.pgd, pvma.vm_start, pvma.vm_end, copy_leaf);
  }
  flush_tlb_mm(parent->cpu, pmm, cost);  // dup_mmap: the parent's write-protected entries
  cmm.thp_disabled = pmm.thp_disabled;   // MMF_DISABLE_THP is inherited
  if (pmm.khugepaged_slot) {             // khugepaged_fork
    for (const auto& [start, v] : cmm.mm_mt) khugepaged_enter(v);
  }
  return true;
}

// can_change_pte_writable (mprotect): a private page may become writable only
// when this mapping holds it alone (Linux: PageAnonExclusive).
bool Kernel::can_change_pte_writable(const vm_area_struct& vma, pteval_t pte) const {
  // A shared file mapping write-notifies: only an already dirty entry may be writable.
  if (vma.is_file() && (vma.vm_flags & VM_SHARED)) return pte_present(pte) && (pte & _PAGE_DIRTY);
  if (vma.vm_flags & VM_SHARED) return true;
  if (!pte_present(pte) && !pte_protnone(pte)) return false;
  const page* pg = pm_.pfn_to_page(Pfn(pte_phys(pte) >> kPageShift));
  if (PageCompound(pg)) return thp_subpage_exclusive(pg);  // a THP subpage: references are the head's
  return pg->mapcount <= 1 && pg->_refcount <= 1;
}

}  // namespace numasim::os
