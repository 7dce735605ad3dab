// User memory as the kernel copies to and from it: copy_to_user /
// copy_from_user (arch/x86/lib/copy_user_64.S) through the task's page tables,
// with the kernel-mode branch of the x86 page-fault handler
// (arch/x86/mm/fault.c do_user_addr_fault from kernel mode, the exception-table
// fixup of the copy). read(), write(), pread64 and pwrite64 copy through here:
// a buffer page not present, or read-only for a store (a fresh buffer, a
// copy-on-write page after fork, a NUMA-hinting entry), is faulted in exactly
// as the user's own access would fault it (PGFAULT, min_flt, COW, swap-in); an
// address that cannot be served (above TASK_SIZE, no VMA, no permission, a
// failed fault) ends the copy there through the exception table, without a
// signal, and the call returns what it copied or -EFAULT. The accessed and
// dirty bits are set as the CPU sets them on the kernel's access through the
// user mapping.
// Simplified: one software walk per page of the copy (the hardware's TLB and
// walk are not timed; the copy's cache and memory traffic is, by the caller
// through Platform::kernel_copy); no stack expansion; SMAP's stac/clac are not
// modelled; the fault is charged the exception entry and exit cycles of a user
// fault.
#include <algorithm>

#include "os/kernel.h"
#include "os/mmap.h"
#include "os/pgtable.h"
#include "os/syscalls.h"
#include "os/vm_fault.h"

namespace numasim::os {

// copy_to_user / copy_from_user's view of one user address (see os/kernel.h).
PhysAddr Kernel::uaccess_phys(task_struct* t, VirtAddr addr, bool write, KernelCost& cost, bool* faulted) {
  if (!t->mm) return 0;
  mm_struct& mm = *t->mm;
  // A handled fault leaves the entry in place; a few passes cover a fault that
  // had to be retried (the page was under migration, a swap-in raced reclaim).
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (addr >= mm.task_size) return 0;  // access_ok
    const PteRef r = pgtables_.walk(mm.pgd, addr, PTE_LEVEL);
    if (r) {
      const pteval_t v = r.value();
      const bool leaf = r.level == PTE_LEVEL || pte_huge(v);
      if (leaf && pte_present(v) && (v & _PAGE_USER) && (!write || pte_write(v))) {
        pgtables_.set_pte_bits(r.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
        const std::uint64_t mask = level_size(r.level) - 1;  // a huge leaf maps addr's offset in it
        return (pte_phys(v) & ~mask) | (addr & mask);
      }
    }
    // A kernel-mode fault on a user address: do_user_addr_fault's VMA lookup
    // and access_error come first, so that what cannot be served goes to the
    // fixup (-EFAULT) and never to a signal; then the fault itself.
    vm_area_struct* vma = vma_lookup(mm, addr);
    if (!vma || (write ? !(vma->vm_flags & VM_WRITE) : !vma->is_accessible())) return 0;
    if (faulted) *faulted = true;
    cost.add_cycles(params_.costs.fault_entry_cycles);
    const FaultResult f = fault_core(t, addr, write ? FAULT_FLAG_WRITE : 0u, cost);
    cost.add_cycles(params_.costs.fault_exit_cycles);
    if (f != FaultResult::Handled) return 0;  // OOM, SIGBUS: the fixup's -EFAULT
  }
  return 0;
}

Kernel::UserPieces Kernel::user_pieces(task_struct* t, VirtAddr ubuf, std::uint64_t n, bool write, KernelCost& cost) {
  UserPieces u;
  while (u.bytes < n && u.nr < 2) {
    const VirtAddr a = ubuf + u.bytes;
    const std::uint64_t len = std::min(n - u.bytes, kPageSize - (a & (kPageSize - 1)));
    const PhysAddr pa = uaccess_phys(t, a, write, cost);
    if (!pa) break;
    u.phys[u.nr] = pa;
    u.len[u.nr++] = len;
    u.bytes += len;
  }
  return u;
}

Picoseconds Kernel::copy_from_user_pieces(CpuId cpu, PhysAddr kdst, const UserPieces& up) {
  Picoseconds t(0);
  for (int i = 0; i < up.nr; ++i) {
    t += platform_.kernel_copy(cpu, kdst, up.phys[i], Bytes(up.len[i]));
    kdst += up.len[i];
  }
  return t;
}

bool Kernel::access_ok(const task_struct* t, VirtAddr buf, std::uint64_t count) {
  const VirtAddr top = t->mm ? t->mm->task_size : 0;
  return buf <= top && count <= top - buf;
}

}  // namespace numasim::os
