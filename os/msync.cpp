// msync(2) (mm/msync.c) and the range writeback it uses (vfs_fsync_range ->
// file_write_and_wait_range over the mapped part of the file).
// As Linux 6.1: MS_ASYNC starts nothing (dirty pages of shared mappings are
// already tracked: the first write to a clean page faults and dirties it, and
// the flusher writes them); MS_SYNC writes the dirty pages of the range of each
// shared file mapping and waits for them (writeback's page_mkclean makes their
// mappings read-only again, so the next write dirties the page anew);
// MS_INVALIDATE only checks for locked mappings (EBUSY).
// Errors as the man page: EINVAL for unknown flags, an unaligned address or
// MS_ASYNC with MS_SYNC; ENOMEM when part of the range is unmapped (the mapped
// parts are still synced, as Linux does); EBUSY for MS_INVALIDATE on a
// VM_LOCKED mapping. Simplified: the wait for writeback is charged to the
// caller's cost (no task blocking), as fsync.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "os/fs.h"
#include "os/kernel.h"
#include "os/mmap.h"
#include "os/syscalls.h"

namespace numasim::os {

// file_write_and_wait_range over pages [first, last] of ino.
void FileSystem::write_and_wait_range(inode& ino, std::uint64_t first, std::uint64_t last, bool wait, CpuId cpu,
                                      KernelCost& cost) {
  complete_io(cpu, cost);
  writeback_range(ino, first, last, ~0ull, cpu, cost);
  if (!wait) return;
  std::vector<page*> wb;  // filemap_fdatawait_range
  for_each_cached_page(ino, first, last, [&](page* pg) {
    if (pg->test(PG_writeback)) wb.push_back(pg);
  });
  for (page* pg : wb) wait_on_page_writeback(pg, cpu, cost);
}

// SYSCALL_DEFINE3(msync).
long Kernel::sys_msync(task_struct* t, VirtAddr start, std::uint64_t len, int flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return -EINVAL;
  if (offset_in_page(start)) return -EINVAL;
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return -EINVAL;
  len = (len + kPageSize - 1) & ~(kPageSize - 1);
  const VirtAddr end = start + len;
  if (end < start) return -ENOMEM;
  if (end == start) return 0;
  long error = -ENOMEM, unmapped_error = 0;
  vm_area_struct* vma = find_vma(mm, start);
  for (;;) {
    if (!vma) return error ? error : unmapped_error;  // the range runs past the last mapping
    if (start < vma->vm_start) {  // a hole
      if (flags == MS_ASYNC) return error ? error : unmapped_error;
      start = vma->vm_start;
      if (start >= end) return error ? error : unmapped_error;
      unmapped_error = -ENOMEM;
    }
    if ((flags & MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) return -EBUSY;
    const std::uint64_t first = vma->pgoff_of(start);
    const std::uint64_t last = vma->pgoff_of(std::min(end, vma->vm_end) - 1);
    start = vma->vm_end;
    if ((flags & MS_SYNC) && vma->is_file() && (vma->vm_flags & VM_SHARED)) {
      cost.add_cycles(params_.costs.vma_op_cycles);
      fs_->write_and_wait_range(*vma->vm_file->f_inode, first, last, true, t->cpu, cost);  // vfs_fsync_range
      error = 0;
      if (start >= end) return unmapped_error;
    } else if (start >= end) {
      return unmapped_error;
    }
    vma = find_vma(mm, start);
  }
}

}  // namespace numasim::os
