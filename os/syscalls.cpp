// The memory system calls' argument checking (mm/mmap.c ksys_mmap_pgoff /
// do_mmap / __get_unmapped_area, mm/vma.c do_vmi_munmap): every error of the
// mmap(2) and munmap(2) man pages is detected before anything changes, then the
// work is done by do_mmap / do_munmap (mmap.cpp). mprotect, madvise and the NUMA
// calls live in mprotect.cpp, madvise.cpp and mempolicy_syscalls.cpp.
// A mapping that is not MAP_ANONYMOUS maps the open file fd (EBADF when it is
// none; EACCES when the file is not open for reading, or for a shared writable
// mapping not open for writing; EINVAL for MAP_HUGETLB on a regular file);
// every file of the file system can be mapped (no ENODEV case arises).
// Simplified: tasks hold every
// capability except CAP_SYS_RAWIO (MAP_FIXED below mmap_min_addr is EPERM);
// MAP_32BIT, MAP_SYNC, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_UNINITIALIZED and
// MAP_STACK are accepted and ignored; no overcommit accounting (ENOMEM only when
// the address space, the map count or the hugetlb pool runs out).
#include "os/syscalls.h"

#include <cerrno>

#include "os/kernel.h"
#include "os/mm_inline.h"
#include "os/mmap.h"

namespace numasim::os {

long Kernel::sys_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, int prot, int flags, int fd, std::uint64_t off,
                      KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  if (off & (kPageSize - 1)) return -EINVAL;    // arch sys_mmap
  // ksys_mmap_pgoff: fget(fd) for a file mapping; MAP_HUGETLB needs a hugetlbfs file.
  file* f = nullptr;
  shmem_inode_info* memfd = !(flags & MAP_ANONYMOUS) && fd >= 0 ? shmem_->fd_object(t->tgid, fd) : nullptr;
  if (memfd && (flags & MAP_HUGETLB)) return -EINVAL;
  if (memfd && (flags & MAP_TYPE) == MAP_PRIVATE) return -ENODEV;  // private memfd mappings: not modelled
  if (!(flags & MAP_ANONYMOUS) && !memfd) {
    f = fd >= 0 ? fs_->fget(t->tgid, fd) : nullptr;
    if (!f) return -EBADF;
    if (flags & MAP_HUGETLB) return -EINVAL;
  }
  std::uint64_t align = kPageSize;
  const bool huge = flags & MAP_HUGETLB;
  std::uint64_t hsize = HPAGE_SIZE;
  if (huge) {
    // hstate_sizelog: 0 (the default, 2 MiB), 21 (2 MiB) or 30 (1 GiB); any other size has no hstate.
    const int hstate = hstate_sizelog((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK);
    if (hstate < 0 || !hugetlb_->hstate_exists(hstate)) return -EINVAL;
    hsize = hstate_size(hstate);
    if (len > ~0ull - (hsize - 1)) return -ENOMEM;
    len = (len + hsize - 1) & ~(hsize - 1);
    align = hsize;
  }
  if (!len) return -EINVAL;
  const std::uint64_t plen = page_align(len);
  if (!plen) return -ENOMEM;
  len = plen;
  const std::uint64_t pgoff = off >> kPageShift;
  if (pgoff + (len >> kPageShift) < pgoff) return -EOVERFLOW;
  if (mm.map_count > params_.max_map_count) return -ENOMEM;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  const bool fixed = flags & MAP_FIXED;
  if (!fixed && addr && addr < MMAP_MIN_ADDR) addr = page_align(MMAP_MIN_ADDR);  // round_hint_to_min

  unsigned long vm_flags = ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
                           ((prot & PROT_EXEC) ? VM_EXEC : 0) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (flags & MAP_GROWSDOWN) vm_flags |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) vm_flags |= VM_LOCKED;
  if (const unsigned long def = mm_def_flags(mm)) {  // mm->def_flags after mlockall(MCL_FUTURE)
    vm_flags |= def;
    if (!(def & VM_LOCKONFAULT)) flags |= MAP_LOCKED;  // populated like a MAP_LOCKED mapping
  }
  switch (flags & MAP_TYPE) {
    case MAP_SHARED:
      if (vm_flags & VM_GROWSDOWN) return -EINVAL;
      vm_flags |= VM_SHARED | VM_MAYSHARE;
      break;
    case MAP_PRIVATE:
      break;
    default:
      return -EINVAL;
  }
  if (f) {  // do_mmap's file checks
    if (!f->readable) return -EACCES;
    if ((flags & MAP_TYPE) == MAP_SHARED) {
      if ((prot & PROT_WRITE) && !f->writable) return -EACCES;
      if (!f->writable) vm_flags &= ~(VM_MAYWRITE | VM_SHARED);  // a read-only shared mapping
    }
  }
  if (huge) vm_flags |= VM_HUGETLB | VM_DONTEXPAND;
  // MAP_NORESERVE: no swap accounting, and for hugetlb no pool reservation
  // (hugetlb_reserve_pages is skipped; a fault that finds no page is SIGBUS).
  if (flags & MAP_NORESERVE) vm_flags |= VM_NORESERVE;

  // __get_unmapped_area checks.
  if (len > mm.task_size - MMAP_MIN_ADDR) return -ENOMEM;
  if (fixed) {
    if (addr > mm.task_size - len) return -ENOMEM;
    if (offset_in_page(addr)) return -EINVAL;
    if (huge && (addr & (hsize - 1))) return -EINVAL;  // prepare_hugepage_range
  } else if (huge && addr) {
    addr = (addr + hsize - 1) & ~(hsize - 1);
  }
  if (f) return do_mmap(t, addr, len, vm_flags, flags, align, fs_->mmap_file(*f), pgoff, cost);
  if (memfd) return do_mmap(t, addr, len, vm_flags, flags, align, nullptr, pgoff, cost, shmem_->get(memfd));
  return do_mmap(t, addr, len, vm_flags, flags, align, cost);
}

long Kernel::sys_munmap(task_struct* t, VirtAddr start, std::uint64_t len, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  if (offset_in_page(start) || start > mm.task_size || len > mm.task_size - start) return -EINVAL;
  len = page_align(len);
  if (len == 0) return -EINVAL;
  const VirtAddr end = start + len;
  // A split in the middle of one VMA needs a free map slot (__split_vma).
  vm_area_struct* v = vma_lookup(mm, start);
  if (v && v->vm_start < start && end < v->vm_end && mm.map_count >= params_.max_map_count) return -ENOMEM;
  for (VirtAddr edge : {start, end}) {
    vm_area_struct* w = vma_lookup(mm, edge);
    if (w && w->is_hugetlb() && w->vm_start < edge && (edge & (vma_hpage_size(*w) - 1))) return -EINVAL;
  }
  // do_vmi_align_munmap's split VMA records, reserved first (ENOMEM otherwise).
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("do_vmi_munmap"))) return -ENOMEM;
  // vma_adjust_trans_huge: THP PMDs straddling the edges split (ENOMEM, nothing changed, otherwise).
  if (!thp_split_range_edges(t->cpu, mm, start, end, cost)) return -ENOMEM;
  do_munmap(t, start, end, cost);
  return 0;
}

}  // namespace numasim::os
