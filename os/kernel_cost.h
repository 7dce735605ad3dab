// What a piece of kernel work costs the CPU that runs it: core cycles of kernel
// code (from the cost table, [os.costs] in the configuration) plus the time of
// the memory traffic it caused, as returned by os::Platform. Accumulated along a
// fault or a system call and handed back to hw::Core, which adds both to its
// local time. Simplification: the two parts are serial (no overlap of kernel
// compute with its own memory traffic).
//
// io_wait: the general "sleep until the I/O completes" of a task in a fault or a
// system call (Linux: io_schedule in TASK_UNINTERRUPTIBLE, e.g. folio_wait_locked
// after swap_readpage). The kernel adds the time from its cursor to the
// completion the block device gave (latency and queueing included); waits add up
// (each starts where the previous ended: Platform::submit_bio advances the CPU's
// kernel cursor). It is not CPU time. hw::Core blocks a user task that faulted
// until entry + cycles + memory + io_wait and runs other tasks of its CPU
// meanwhile (the task's iowait_sum, the CPU's idle/iowait time); a caller that
// cannot schedule (a kernel thread's pass, a timer, a bare hw::Mmu) adds it to
// its CPU's time like `memory`. Users: do_swap_page's swap-in; page-cache reads.
// Every wait goes through os::KernelClock (os/kernel_clock.h), which also keeps the
// cursor at the task's own time before each bio.
#pragma once

#include "common/units.h"

namespace numasim::os {

struct KernelCost {
  Cycles cycles{0};
  Picoseconds memory{0};
  Picoseconds io_wait{0};  // sleeping on I/O after the work above (see the header comment)
  // Of `cycles`, those already moved into the CPU's kernel cursor (os::KernelClock,
  // os/platform.h) before a bio or a wait of this entry; hw::Core still adds all of `cycles`.
  Cycles cycles_in_clock{0};
  // The completion this entry last waited for, for a platform whose clock does not
  // follow enter_kernel (os::KernelClock::now).
  Picoseconds waited_to{0};

  KernelCost& operator+=(const KernelCost& o) {
    cycles += o.cycles;
    memory += o.memory;
    io_wait += o.io_wait;
    cycles_in_clock += o.cycles_in_clock;
    if (o.waited_to > waited_to) waited_to = o.waited_to;
    return *this;
  }
  void add_cycles(std::uint64_t c) { cycles += Cycles(c); }
  void add_memory(Picoseconds t) { memory += t; }
  void add_io_wait(Picoseconds t) { io_wait += t; }
};

}  // namespace numasim::os
