// os::Kernel as the hardware enters it (os/kernel_entry.h): each entry sets the
// CPU's kernel-time cursor on the Platform, then runs the Linux-named handler.
#include "os/kernel.h"
#include "os/syscalls.h"

namespace numasim::os {

// exc_page_fault -> do_user_addr_fault -> handle_mm_fault for a user access.
// pagefault_out_of_memory (mm/oom_kill.c, 6.1): a VM_FAULT_OOM after which nobody
// was killed (the allocation failed without the OOM killer: fail_page_alloc, a
// request that may not kill) is not fatal; the task returns to user space and
// the access faults again. Linux retries for as long as it takes; the simulator
// retries kPagefaultOomRetries times and then ends the task as OOM-killed, so
// that an injected failure rate of 100% cannot hang a run.
EntryResult Kernel::page_fault(task_struct* t, VirtAddr addr, bool write, Picoseconds now, KernelCost& cost) {
  if (!t) return EntryResult::Sigsegv;
  platform_.enter_kernel(t->cpu, now);
  const unsigned flags = FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0u);
  FaultResult r = handle_mm_fault(t, addr, flags, cost);
  for (int retry = 0; r == FaultResult::Oom && !t->oom_killed && retry < kPagefaultOomRetries; ++retry)
    r = handle_mm_fault(t, addr, flags, cost);
  return r;
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
