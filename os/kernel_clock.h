// os::KernelClock: the task's own clock inside one kernel entry, over the
// platform's CPU cursor (os/platform.h) and the entry's KernelCost.
#pragma once

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/platform.h"

namespace numasim::os {

// The task's own clock inside one kernel entry (a fault, a system call, a kernel
// thread's pass, a timer run): one mechanism for every call that submits I/O or
// sleeps partway through itself (filemap_read and its readahead, fsync/fdatasync
// and msync(MS_SYNC) writeback and their waits, swap-in and swap readahead in a
// fault, reclaim and MADV_PAGEOUT writeback, balance_dirty_pages' pause,
// reclaim_throttle). The platform's cursor (Platform::now) follows the kernel's
// memory traffic; kernel cycles go to KernelCost::cycles, which hw::Core adds
// after the entry. Before a bio leaves or a wait starts, sync() moves the cycles
// `cost` charged and not yet in the cursor (KernelCost::cycles_in_clock) into it,
// so the bio leaves at the task's time; wait_until() charges the sleep from there
// to the completion as KernelCost::io_wait and moves the cursor to the completion,
// so later bios and waits of the same entry start where the task resumes. hw::Core
// adds cycles + memory + io_wait to the entry time: the task ends at the last
// completion plus the work after it, nothing counted twice. An entry without bios
// or waits never moves the cursor (its statistics do not depend on this).
// A platform whose clock does not follow enter_kernel (the fake of tests/os
// without its cursor_clock) gets the completion remembered in the entry's cost
// (KernelCost::waited_to), so consecutive waits of one entry still add up to the
// last completion.
// Simplified: the cycles are folded in only at these points (traffic issued
// between two of them is timed from before the cycles spent between them).
class KernelClock {
 public:
  explicit KernelClock(Platform& p) : p_(p) {}
  // The task's time on `cpu` in the entry charging `cost`.
  Picoseconds now(CpuId cpu, const KernelCost& cost) const {
    const Picoseconds t = p_.now(cpu);
    return cost.waited_to > t ? cost.waited_to : t;
  }
  // Before a bio is submitted or a wait starts: the cycles of `cost` not yet in the cursor.
  void sync(CpuId cpu, KernelCost& cost) {
    if (cost.cycles.value() <= cost.cycles_in_clock.value()) return;
    const Picoseconds dt = p_.cycles_to_time(cpu, Cycles(cost.cycles.value() - cost.cycles_in_clock.value()));
    cost.cycles_in_clock = cost.cycles;
    if (dt.value()) p_.enter_kernel(cpu, p_.now(cpu) + dt);
  }
  // io_schedule until `done` (a bio's completion or a timeout): the task sleeps from its
  // own time (after sync) to `done`, charged as io_wait; the cursor moves to `done`.
  void wait_until(CpuId cpu, Picoseconds done, KernelCost& cost) {
    sync(cpu, cost);
    const Picoseconds from = now(cpu, cost);
    if (done <= from) return;
    cost.add_io_wait(done - from);
    cost.waited_to = done;
    p_.enter_kernel(cpu, done);
  }

 private:
  Platform& p_;
};

}  // namespace numasim::os
