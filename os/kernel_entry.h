// The one way into the simulated kernel from the hardware (DESIGN.md, the
// seam): the page walker reads and updates page-table entries, a #PF enters the
// fault handler, a task makes system calls with typed arguments (Linux's
// signatures; no marshalling through numbered argument arrays), and a task
// exits. Declared in os/, implemented by os::Kernel directly, called by hw::Core
// and hw::Mmu. Each entry says when it happens (`now`, the CPU's local time: the
// kernel's memory traffic is issued from there) and charges its work to a
// KernelCost that the caller adds to its CPU's time: kernel time is accounted
// that one way. The task's fate comes back as one result type.
// Simplified: the system calls are the memory-management and file ones the workloads use.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>

#include "common/units.h"
#include "os/kernel_cost.h"

namespace numasim::os {

struct task_struct;
struct shmid_ds;  // os/shmem.h

// How an entry ends for the task: it goes on, or a signal or the OOM killer ends it.
// The one result type of faults at every level above vm_fault_t (os/vm_fault.h):
// the kernel's handle_mm_fault returns it (as Kernel::FaultResult, whose names
// Handled and Oom are the same values as Ok and OomKill) and hw reads it.
enum class EntryResult : std::uint8_t { Ok, Sigsegv, Sigbus, OomKill, Handled = Ok, Oom = OomKill };
// "ok", "SIGSEGV", "SIGBUS", "oom-kill".
inline const char* entry_result_name(EntryResult r) {
  switch (r) {
    case EntryResult::Ok: return "ok";
    case EntryResult::Sigsegv: return "SIGSEGV";
    case EntryResult::Sigbus: return "SIGBUS";
    case EntryResult::OomKill: return "oom-kill";
  }
  return "?";
}

// x86-64 numbers of the system calls below (arch/x86/entry/syscalls/syscall_64.tbl), for traces.
inline constexpr long NR_mmap = 9, NR_mprotect = 10, NR_munmap = 11, NR_brk = 12, NR_madvise = 28;
inline constexpr long NR_msync = 26;
inline constexpr long NR_mbind = 237, NR_set_mempolicy = 238, NR_get_mempolicy = 239, NR_move_pages = 279;
inline constexpr long NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_lseek = 8, NR_pread64 = 17,
                      NR_pwrite64 = 18, NR_fsync = 74, NR_fdatasync = 75, NR_ftruncate = 77, NR_creat = 85,
                      NR_unlink = 87, NR_fadvise64 = 221;
inline constexpr long NR_shmget = 29, NR_shmat = 30, NR_shmctl = 31, NR_shmdt = 67, NR_memfd_create = 319;

// How many times a #PF that ran out of memory without killing anyone is retried
// before the task is ended as OOM-killed (Linux retries without bound).
inline constexpr int kPagefaultOomRetries = 64;

class KernelEntry {
 public:
  virtual ~KernelEntry() = default;

  // ---- the hardware walker's view of the page tables (entries in simulated memory) ----
  virtual std::uint64_t read_pte(PhysAddr entry_addr) const = 0;
  // A hint, no effect on the simulation: brings the host memory holding the
  // entry at entry_addr into the host's caches ahead of a walk that will read it.
  virtual void prefetch_pte(PhysAddr /*entry_addr*/) const {}
  // The walker's locked update of the accessed/dirty bits.
  virtual void set_pte_bits(PhysAddr entry_addr, std::uint64_t bits) = 0;

  // ---- exceptions ----
  // exc_page_fault -> do_user_addr_fault on `t`'s CPU at `now`. Ok: retry the access.
  virtual EntryResult page_fault(task_struct* t, VirtAddr addr, bool write, Picoseconds now, KernelCost& cost) = 0;

  // ---- system calls: entry_SYSCALL_64 on t's CPU at `now`; then the call itself ----
  // Every system call starts with this (the entry code: the kernel's traffic is timed from `now`).
  virtual void syscall_enter(task_struct* t, Picoseconds now) = 0;
  // Linux signatures; >= 0 or -errno. Defaults: -ENOSYS (a kernel without the call).
  virtual long sys_mmap(task_struct*, VirtAddr, std::uint64_t, int, int, int, std::uint64_t, KernelCost&) {
    return -ENOSYS;
  }
  virtual long sys_munmap(task_struct*, VirtAddr, std::uint64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_mprotect(task_struct*, VirtAddr, std::uint64_t, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_brk(task_struct*, VirtAddr, KernelCost&) { return -ENOSYS; }
  virtual long sys_madvise(task_struct*, VirtAddr, std::uint64_t, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_msync(task_struct*, VirtAddr, std::uint64_t, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_mbind(task_struct*, VirtAddr, std::uint64_t, int, const unsigned long*, unsigned long, unsigned,
                         KernelCost&) {
    return -ENOSYS;
  }
  virtual long sys_set_mempolicy(task_struct*, int, const unsigned long*, unsigned long, KernelCost&) {
    return -ENOSYS;
  }
  virtual long sys_get_mempolicy(task_struct*, int*, unsigned long*, unsigned long, VirtAddr, unsigned long,
                                 KernelCost&) {
    return -ENOSYS;
  }
  virtual long sys_move_pages(task_struct*, int, unsigned long, const VirtAddr*, const int*, int*, int, KernelCost&) {
    return -ENOSYS;
  }
  // Files (os/fs.h; os::Kernel's members of the same signatures implement them).
  virtual long sys_open(task_struct*, const std::string&, int, unsigned, KernelCost&) { return -ENOSYS; }
  virtual long sys_creat(task_struct*, const std::string&, unsigned, KernelCost&) { return -ENOSYS; }
  virtual long sys_close(task_struct*, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_read(task_struct*, int, VirtAddr, std::uint64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_write(task_struct*, int, VirtAddr, std::uint64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_pread64(task_struct*, int, VirtAddr, std::uint64_t, std::int64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_pwrite64(task_struct*, int, VirtAddr, std::uint64_t, std::int64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_lseek(task_struct*, int, std::int64_t, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_ftruncate(task_struct*, int, std::int64_t, KernelCost&) { return -ENOSYS; }
  virtual long sys_fsync(task_struct*, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_fdatasync(task_struct*, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_unlink(task_struct*, const std::string&, KernelCost&) { return -ENOSYS; }
  virtual long sys_fadvise64(task_struct*, int, std::int64_t, std::int64_t, int, KernelCost&) { return -ENOSYS; }
  // shared memory (os/shmem.h)
  virtual long sys_memfd_create(task_struct*, const char*, unsigned, KernelCost&) { return -ENOSYS; }
  virtual long sys_shmget(task_struct*, int, std::uint64_t, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_shmat(task_struct*, int, VirtAddr, int, KernelCost&) { return -ENOSYS; }
  virtual long sys_shmdt(task_struct*, VirtAddr, KernelCost&) { return -ENOSYS; }
  virtual long sys_shmctl(task_struct*, int, int, struct shmid_ds*, KernelCost&) { return -ENOSYS; }

  // ---- exit ----
  // do_exit of `t` (ran to its end or killed) on its CPU at `now`: its address space goes.
  virtual void task_exit(task_struct* t, Picoseconds now, KernelCost& cost) = 0;
};

}  // namespace numasim::os
