// mlock(2), mlock2(2), munlock(2), mlockall(2), munlockall(2) (mm/mlock.c,
// Linux 6.1): VM_LOCKED (and VM_LOCKONFAULT) on the VMAs of a range, split and
// merged as mlock_fixup does; every page present in a newly locked VMA is
// mlocked (PG_mlocked, nr_mlock, unevictable_pgs_mlocked) and moved to the
// unevictable list, the rest faulted in (__mm_populate, write faults for
// private writable mappings) unless MLOCK_ONFAULT/MCL_ONFAULT; pages faulted
// into a VM_LOCKED VMA later are mlocked at the fault (mlock_new_folio);
// munlock clears the flags and returns each page no other VM_LOCKED mapping
// holds to the inactive list (unevictable_pgs_munlocked, _rescued).
// mlockall(MCL_FUTURE) sets mm->def_flags (kept per mm here) that later mmaps
// inherit. Errors: EINVAL (bad flags, overflowing range), ENOMEM (a hole in the
// range, or too many VMAs), EAGAIN (population ran out of memory).
// Simplified: no RLIMIT_MEMLOCK / CAP_IPC_LOCK (every caller may lock any
// amount), no mlock_count (a page stays mlocked while any VM_LOCKED VMA maps
// it, found through the reverse map at munlock; shmem pages have none and are
// munlocked at once); the whole range is checked for holes before anything
// changes (Linux locks the VMAs before the hole); hugetlb VMAs are left alone
// as Linux does, but a range splitting one off a 2 MiB boundary is EINVAL; brk
// areas do not inherit MCL_FUTURE; fork does not clear VM_LOCKED in the child.
#include <cerrno>

#include "os/kernel.h"
#include "os/mm_inline.h"
#include "os/mmap.h"
#include "os/pgtable.h"
#include "os/syscalls.h"

namespace numasim::os {

void Kernel::mlock_page(page* pg) {
  if (!pg->test(PG_mlocked)) {
    pg->set(PG_mlocked);
    pm_.mod_zone_page_state(*pm_.page_zone(pg), NR_MLOCK, 1);
    pm_.count_vm_events(ctx_.cpu, UNEVICTABLE_PGMLOCKED);
  }
  if (pg->test(PG_lru) && !pg->test(PG_unevictable)) {  // in a batch: lru_add_fn culls it
    del_page_from_lru_list(pm_, pg);
    pg->clear(PG_active);
    pg->set(PG_unevictable);
    add_page_to_lru_list(pm_, pg);
    pm_.count_vm_events(ctx_.cpu, UNEVICTABLE_PGCULLED);
  }
}

void Kernel::munlock_page(page* pg, CpuId cpu, KernelCost& cost) {
  if (!pg->test(PG_mlocked)) return;
  bool still_locked = false;
  rmap_walk(pg, cpu, cost, [&](const RmapMapping& m) {
    still_locked = (m.vma->vm_flags & VM_LOCKED) != 0;
    return !still_locked;
  });
  if (still_locked) return;
  pg->clear(PG_mlocked);
  pm_.mod_zone_page_state(*pm_.page_zone(pg), NR_MLOCK, -1);
  pm_.count_vm_events(cpu, UNEVICTABLE_PGMUNLOCKED);
  if (pg->test(PG_lru) && pg->test(PG_unevictable)) {
    del_page_from_lru_list(pm_, pg);
    pg->clear(PG_unevictable);
    add_page_to_lru_list(pm_, pg);
    pm_.count_vm_events(cpu, UNEVICTABLE_PGRESCUED);
  }
}

// mlock_vma_pages_range: every page present in [start, end) of vma.
void Kernel::mlock_range_pages(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end, bool lock,
                               KernelCost& cost) {
  mm_struct& mm = *vma.vm_mm;
  for (VirtAddr a = start; a < end; a += kPageSize) {
    const PteRef r = pgtables_.walk(mm.pgd, a, PTE_LEVEL);
    if (!r || r.level != PTE_LEVEL) continue;
    const pteval_t v = r.value();
    if (!pte_present(v) || (v & _PAGE_SPECIAL)) continue;
    page* pg = pm_.phys_to_page(pte_phys(v));
    if (lock)
      mlock_page(pg);
    else
      munlock_page(pg, t->cpu, cost);
  }
}

unsigned long Kernel::mm_def_flags(const mm_struct& mm) const {
  auto it = mm_def_flags_.find(mm.mm_id);
  return it == mm_def_flags_.end() ? 0 : it->second;
}

// apply_vma_lock_flags + mlock_fixup for [start, end), then __mm_populate when locking.
long Kernel::apply_mlock(task_struct* t, VirtAddr start, std::uint64_t len, unsigned long lock_flags,
                         KernelCost& cost) {
  mm_struct& mm = *t->mm;
  len = page_align(len + offset_in_page(start));
  start &= ~(kPageSize - 1);
  const VirtAddr end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;
  if (end > mm.task_size || !range_fully_mapped(mm, start, end)) return -ENOMEM;
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    if (v.is_hugetlb() && ((v.vm_start < start && (start & (HPAGE_SIZE - 1))) ||
                           (v.vm_end > end && (end & (HPAGE_SIZE - 1)))))
      return -EINVAL;
  }
  if (mm.map_count + splits_needed(mm, start, end) > params_.max_map_count) return -ENOMEM;
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("mlock_fixup"))) return -ENOMEM;
  // Which parts change from unlocked to locked or back (before the flags do).
  struct Change {
    VirtAddr start, end;
    bool lock;
  };
  std::vector<Change> changes;
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    if (v.is_hugetlb()) continue;
    const bool was = v.vm_flags & VM_LOCKED, will = lock_flags & VM_LOCKED;
    if (was != will) changes.push_back({std::max(v.vm_start, start), std::min(v.vm_end, end), will});
  }
  modify_range(
      mm, start, end,
      [&](vm_area_struct& v) {
        if (!v.is_hugetlb()) v.vm_flags = (v.vm_flags & ~VM_LOCKED_MASK) | lock_flags;
      },
      cost);
  for (const Change& c : changes)
    for (VirtAddr a = c.start; a < c.end;) {
      vm_area_struct* v = vma_lookup(mm, a);
      const VirtAddr e = std::min(v->vm_end, c.end);
      mlock_range_pages(t, *v, a, e, c.lock, cost);
      a = e;
    }
  if ((lock_flags & VM_LOCKED) && !(lock_flags & VM_LOCKONFAULT)) {
    // __mm_populate: write faults where the mapping is private and writable.
    for (VirtAddr a = start; a < end;) {
      vm_area_struct* v = vma_lookup(mm, a);
      const VirtAddr e = std::min(v->vm_end, end);
      const bool write = (v->vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE;
      if (!v->is_hugetlb()) populate_range(t, a, e, write, cost);
      if (t->oom_killed) return -EAGAIN;
      a = e;
    }
  }
  return 0;
}

long Kernel::sys_mlock(task_struct* t, VirtAddr start, std::uint64_t len, KernelCost& cost) {
  return sys_mlock2(t, start, len, 0, cost);
}

long Kernel::sys_mlock2(task_struct* t, VirtAddr start, std::uint64_t len, int flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  if (flags & ~MLOCK_ONFAULT) return -EINVAL;
  return apply_mlock(t, start, len, VM_LOCKED | ((flags & MLOCK_ONFAULT) ? VM_LOCKONFAULT : 0), cost);
}

long Kernel::sys_munlock(task_struct* t, VirtAddr start, std::uint64_t len, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  return apply_mlock(t, start, len, 0, cost);
}

// apply_mlockall_flags: def_flags for future mappings, then every VMA (MCL_CURRENT).
long Kernel::sys_mlockall(task_struct* t, int flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  if (!flags || (flags & ~(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT)) || flags == MCL_ONFAULT) return -EINVAL;
  mm_struct& mm = *t->mm;
  unsigned long def = 0;
  if (flags & MCL_FUTURE) def = VM_LOCKED | ((flags & MCL_ONFAULT) ? VM_LOCKONFAULT : 0);
  if (flags & MCL_CURRENT) {
    const unsigned long to_add = VM_LOCKED | ((flags & MCL_ONFAULT) ? VM_LOCKONFAULT : 0);
    std::vector<std::pair<VirtAddr, VirtAddr>> ranges;
    for (const auto& [s, v] : mm.mm_mt) ranges.emplace_back(v.vm_start, v.vm_end);
    for (const auto& [s, e] : ranges) {
      const long r = apply_mlock(t, s, e - s, to_add, cost);
      if (r == -EAGAIN) return r;
    }
  }
  if (def)
    mm_def_flags_[mm.mm_id] = def;
  else
    mm_def_flags_.erase(mm.mm_id);
  return 0;
}

long Kernel::sys_munlockall(task_struct* t, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  mm_def_flags_.erase(mm.mm_id);
  std::vector<std::pair<VirtAddr, VirtAddr>> ranges;
  for (const auto& [s, v] : mm.mm_mt)
    if (v.vm_flags & VM_LOCKED_MASK) ranges.emplace_back(v.vm_start, v.vm_end);
  for (const auto& [s, e] : ranges) apply_mlock(t, s, e - s, 0, cost);
  return 0;
}

}  // namespace numasim::os
