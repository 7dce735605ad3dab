// The seam between the simulated kernel (os/) and the simulated hardware (hw/):
// everything the kernel needs from the machine it runs on. Declared here, in os/,
// implemented by hw/ (hw::MachinePlatform); os/ unit tests use a fake.
// Every call returns how long the operation takes, as seen by the CPU that
// issued it, measured from that CPU's current local time. hw/ times the traffic
// through the same caches, controllers and links as user traffic.
// Kernel threads and timers: wake_up_process makes a kernel thread runnable on
// its CPU, and timers run a kernel callback at a simulated time on one CPU;
// hw/ runs both on its simulated CPUs, the fake in tests/os on a manual clock.
// Not modelled here: interrupts other than TLB-shootdown IPIs, DMA ordering.
#pragma once

#include <bitset>
#include <cstdint>

#include "common/units.h"
#include "os/kernel_cost.h"

namespace numasim::os {

inline constexpr int kMaxCpus = 512;
using CpuMask = std::bitset<kMaxCpus>;
using Asid = std::uint16_t;  // PCID the hardware TLBs are tagged with

enum class BioOp : std::uint8_t { Read, Write };

struct task_struct;

// struct timer_list (include/linux/timer.h): a callback the platform runs at a
// simulated time on one CPU's timer queue. Timers of one CPU fire in the order of
// (expires, arming order), so equal times are deterministic. The callback runs in
// kernel context on `cpu` (a softirq) and charges its work to `cost`; the CPU
// running it pays that cost.
struct timer_list {
  void (*function)(timer_list* timer, KernelCost& cost) = nullptr;
  void* data = nullptr;  // the owner (from_timer)
  CpuId cpu{0};          // the CPU whose queue holds it
  // Owned by the platform.
  Picoseconds expires{0};
  std::uint64_t seq = 0;  // arming order (ties of equal `expires`)
  bool pending = false;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // Kernel loads from [addr, addr+len), e.g. reading a page-table page or a struct.
  virtual Picoseconds kernel_read(CpuId cpu, PhysAddr addr, Bytes len) = 0;
  // Kernel stores to [addr, addr+len): page-table entry updates, zeroing a page (clear_page).
  virtual Picoseconds kernel_write(CpuId cpu, PhysAddr addr, Bytes len) = 0;
  // copy_page / migrate: read src and write dst.
  virtual Picoseconds kernel_copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) = 0;

  // TLB shootdown: invalidate translations of `asid` in [start, end) on every CPU
  // in `targets` (the initiator flushes locally too when it is in the mask).
  // Returns the initiator's wait: IPI latency by distance plus acknowledgements.
  virtual Picoseconds flush_tlb_range(CpuId initiator, const CpuMask& targets, Asid asid,
                                      VirtAddr start, VirtAddr end) = 0;
  // Invalidate every translation of `asid` on `targets` (e.g. on exit or a large unmap).
  virtual Picoseconds flush_tlb_mm(CpuId initiator, const CpuMask& targets, Asid asid) = 0;

  // Block I/O to the swap/file device; returns the completion latency seen by the submitter.
  virtual Picoseconds submit_bio(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) = 0;
  // The same, submitted without waiting (writeback, readahead): the device queues it at
  // the CPU's current time and the call returns its completion latency, but the CPU's
  // time does not advance by it (the submitter goes on; completion is the caller's timer).
  virtual Picoseconds submit_bio_nowait(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) {
    return submit_bio(cpu, op, sector, len);
  }
  // Capacity of the block device swap partitions are laid out on.
  virtual Bytes block_capacity() const { return Bytes(~0ull); }

  // Current simulated time of `cpu` (its local time, including time it ran ahead).
  virtual Picoseconds now(CpuId cpu) const = 0;
  // A fault, system call, exit or kernel-thread pass enters the kernel on `cpu` at `t`:
  // the kernel's traffic from `cpu` is issued from there on.
  virtual void enter_kernel(CpuId cpu, Picoseconds t) = 0;
  // How long `c` cycles of kernel work take on `cpu` (its core clock). 0 when the
  // platform does not say (then kernel cycles do not move the kernel's own clock).
  virtual Picoseconds cycles_to_time(CpuId cpu, Cycles c) const {
    (void)cpu, (void)c;
    return Picoseconds(0);
  }

  // ---- kernel threads and timers (os/kthread.h decides; the platform runs) ----
  // Kernel thread `t` (PF_KTHREAD, already TASK_RUNNING) becomes runnable on t->cpu:
  // its work (Kthreads::run) runs there at that CPU's next scheduling point.
  virtual void wake_up_process(task_struct* t) = 0;
  // mod_timer: (re)arm `timer` to fire at `expires` on timer->cpu (a pending timer moves).
  // It fires at the CPU's first check point at or after `expires`.
  virtual void mod_timer(timer_list* timer, Picoseconds expires) = 0;
  // del_timer: disarm; true when it was pending.
  virtual bool del_timer(timer_list* timer) = 0;
};


}  // namespace numasim::os
