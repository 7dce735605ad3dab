// madvise (mm/madvise.c do_madvise / madvise_vma_behavior / madvise_dontneed_free).
// MADV_DONTNEED (and MADV_FREE, here freed at once as if reclaim came right
// away) zap the range's pages, keeping VMAs and page tables, then shoot down the
// TLBs; hugetlb ranges must start huge-aligned and their end is rounded down.
// MADV_NORMAL/RANDOM/SEQUENTIAL, HUGEPAGE/NOHUGEPAGE and DONTFORK/DOFORK change
// VMA flags (splitting and merging VMAs as Linux does); MADV_WILLNEED is accepted
// (no swap or page cache to read ahead yet). Other advice values are EINVAL.
// Simplified: every check is done before anything changes (Linux applies advice
// to the mapped parts and then reports ENOMEM for a hole).
#include <cerrno>

#include "os/kernel.h"
#include "os/mmap.h"
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
      return true;
    default:
      return false;
  }
}
}  // namespace

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
    default:
      break;
  }
  const bool flags_change = set || clear;
  // Validate every VMA before touching anything.
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    if (zap) {
      if (v.vm_flags & VM_LOCKED) return -EINVAL;
      if (v.is_hugetlb()) {
        if (advice == MADV_FREE) return -EINVAL;
        VirtAddr s = v.vm_start > start ? v.vm_start : start;
        if (s & (HPAGE_SIZE - 1)) return -EINVAL;
      }
      if (advice == MADV_FREE && (v.vm_flags & VM_SHARED)) return -EINVAL;
    }
    if (flags_change && v.is_hugetlb()) {
      if ((v.vm_start < start && (start & (HPAGE_SIZE - 1))) || (v.vm_end > end && (end & (HPAGE_SIZE - 1))))
        return -EINVAL;
    }
  }
  if (flags_change && mm.map_count + splits_needed(mm, start, end) > params_.max_map_count) return -ENOMEM;

  if (flags_change) {
    // madvise_update_vma: the split VMA records, all reserved first (ENOMEM otherwise).
    VmaOp op(*this, mm, t->cpu, cost);
    if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("madvise_update_vma"))) return -ENOMEM;
    modify_range(
        mm, start, end, [&](vm_area_struct& v) { v.vm_flags = (v.vm_flags & ~clear) | set; }, cost);
    return 0;
  }
  if (!zap) return 0;  // MADV_WILLNEED

  std::size_t zapped = 0;
  VirtAddr cur = start;
  while (cur < end) {
    vm_area_struct* v = vma_lookup(mm, cur);
    VirtAddr vend = v->vm_end < end ? v->vm_end : end;
    VirtAddr zend = vend;
    if (v->is_hugetlb()) zend &= ~(HPAGE_SIZE - 1);
    if (zend > cur) {
      std::size_t n = zap_range(t, *v, cur, zend, cost);
      zapped += n;
      if (advice == MADV_FREE) {
        pm_.count_vm_events(t->cpu, PGLAZYFREE, n);
        pm_.count_vm_events(t->cpu, PGLAZYFREED, n);
      }
      // A hugetlb mapping keeps its reservation for pages it dropped.
      if (v->is_hugetlb() && n) hugetlb_->reserve(n);
    }
    cur = vend;
  }
  if (zapped) flush_tlb_range(t, mm, start, end, cost);
  return 0;
}

}  // namespace numasim::os
