// The explicit kernel context of one entry into the kernel (what Linux reads
// from `current` and the per-CPU area): the task the kernel works for (null at
// boot and for a kernel thread without an mm), the CPU it runs on, the
// KernelCost being charged, and whether an allocation that finds no memory may
// invoke the OOM killer. A KernelEntryGuard sets it at each fault and system
// call entry and restores the previous one on return, so nested entries
// (MAP_POPULATE faulting from inside mmap) and exits leave nothing behind.
// Simplified: OOM kills are allowed from faults (and populate) only; system
// calls see ENOMEM, which keeps today's behaviour of the memory calls (Linux's
// GFP_KERNEL allocations in a system call may OOM-kill too).
#pragma once

#include "common/units.h"
#include "os/kernel_cost.h"

namespace numasim::os {

struct task_struct;

struct KernelContext {
  task_struct* task = nullptr;  // current; null: boot or a kernel thread without mm
  CpuId cpu{0};                 // smp_processor_id()
  KernelCost* cost = nullptr;   // what this entry charges (null: not charged)
  bool may_oom = false;         // an allocation failure may invoke out_of_memory
};

// The entry guard: installs a context in `slot` for its scope.
class KernelEntryGuard {
 public:
  KernelEntryGuard(KernelContext& slot, task_struct* task, CpuId cpu, KernelCost& cost, bool may_oom)
      : slot_(slot), prev_(slot) {
    slot_ = KernelContext{task, cpu, &cost, may_oom};
  }
  ~KernelEntryGuard() { slot_ = prev_; }
  KernelEntryGuard(const KernelEntryGuard&) = delete;
  KernelEntryGuard& operator=(const KernelEntryGuard&) = delete;

 private:
  KernelContext& slot_;
  KernelContext prev_;
};

}  // namespace numasim::os
