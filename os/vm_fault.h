// Fault results inside the kernel (include/linux/mm_types.h vm_fault_t and
// enum vm_fault_reason, Linux 6.1 values) and the per-fault descriptor the
// dispatch functions pass down (struct vm_fault). Kernel::handle_mm_fault, the
// entry hw calls, maps these bits to Kernel::FaultResult at its boundary
// (mm_fault_error). Simplified: no HWPOISON index bits in use, no
// VM_FAULT_NOPAGE/LOCKED/DONE_COW users yet (files, DAX and fault-around are not
// modelled); the names exist so that the coming paths return them.
#pragma once

#include <cstdint>

#include "common/units.h"
#include "os/pgtable.h"

namespace numasim::os {

struct vm_area_struct;

using vm_fault_t = unsigned;

// enum vm_fault_reason.
inline constexpr vm_fault_t VM_FAULT_OOM = 0x000001;             // allocation failed: out of memory
inline constexpr vm_fault_t VM_FAULT_SIGBUS = 0x000002;          // bad access to a mapped object
inline constexpr vm_fault_t VM_FAULT_MAJOR = 0x000004;           // the fault did I/O (swap-in, file read)
inline constexpr vm_fault_t VM_FAULT_HWPOISON = 0x000010;        // poisoned small page
inline constexpr vm_fault_t VM_FAULT_HWPOISON_LARGE = 0x000020;  // poisoned huge page
inline constexpr vm_fault_t VM_FAULT_SIGSEGV = 0x000040;         // no mapping for the access
inline constexpr vm_fault_t VM_FAULT_NOPAGE = 0x000100;          // the handler installed the entry itself
inline constexpr vm_fault_t VM_FAULT_LOCKED = 0x000200;          // the handler returns a locked page
inline constexpr vm_fault_t VM_FAULT_RETRY = 0x000400;           // the fault must be retried (lock dropped)
inline constexpr vm_fault_t VM_FAULT_FALLBACK = 0x000800;        // huge entry impossible: use small pages
inline constexpr vm_fault_t VM_FAULT_DONE_COW = 0x001000;        // the COW was done by the handler
inline constexpr vm_fault_t VM_FAULT_NEEDDSYNC = 0x002000;       // DAX: sync needed before mapping
inline constexpr vm_fault_t VM_FAULT_COMPLETED = 0x004000;       // finished while the lock was dropped
inline constexpr vm_fault_t VM_FAULT_HINDEX_MASK = 0x0f0000;     // hstate index for HWPOISON_LARGE

// VM_FAULT_ERROR: any of these ends the fault without a mapping.
inline constexpr vm_fault_t VM_FAULT_ERROR =
    VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV | VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE | VM_FAULT_FALLBACK;

// FAULT_FLAG_TRIED (enum fault_flag): this is a retry after VM_FAULT_RETRY.
inline constexpr unsigned FAULT_FLAG_TRIED = 1u << 5;

// struct vm_fault: what one fault attempt knows about itself as it goes down.
struct vm_fault {
  vm_area_struct* vma = nullptr;
  VirtAddr address = 0;       // faulting address, page aligned
  VirtAddr real_address = 0;  // the address as the MMU reported it
  unsigned flags = 0;         // FAULT_FLAG_*
  PteRef pmd;                 // the PMD entry covering address (set by the huge-page stage)
  PteRef pte;                 // the PTE, once the PTE table exists
  pteval_t orig_pte = 0;      // the PTE's value when the fault looked at it
};

}  // namespace numasim::os
