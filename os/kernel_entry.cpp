// os::Kernel as the hardware enters it (os/kernel_entry.h): each entry sets the
// CPU's kernel-time cursor on the Platform, then runs the Linux-named handler.
#include "os/kernel.h"
#include "os/syscalls.h"

namespace numasim::os {

// exc_page_fault -> do_user_addr_fault -> handle_mm_fault for a user access.
EntryResult Kernel::page_fault(task_struct* t, VirtAddr addr, bool write, Picoseconds now, KernelCost& cost) {
  if (!t) return EntryResult::Sigsegv;
  platform_.enter_kernel(t->cpu, now);
  const unsigned flags = FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0u);
  switch (handle_mm_fault(t, addr, flags, cost)) {
    case FaultResult::Handled: return EntryResult::Ok;
    case FaultResult::Sigbus: return EntryResult::Sigbus;
    case FaultResult::Oom: return EntryResult::OomKill;
    case FaultResult::Sigsegv: break;
  }
  return EntryResult::Sigsegv;
}

// entry_SYSCALL_64: the call that follows is timed from `now`.
void Kernel::syscall_enter(task_struct* t, Picoseconds now) {
  if (t) platform_.enter_kernel(t->cpu, now);
}

// do_exit from the hardware: the time of the teardown's memory traffic is its cost.
void Kernel::task_exit(task_struct* t, Picoseconds now, KernelCost& cost) {
  if (!t) return;
  platform_.enter_kernel(t->cpu, now);
  const Picoseconds before = platform_.now(t->cpu);
  exit_task(t);
  cost.add_memory(platform_.now(t->cpu) - before);
}

}  // namespace numasim::os
