// The hardware side of the os/hw seam (os::Platform, DESIGN.md): the kernel's
// own memory traffic (page-table writes, clearing and copying pages) is timed
// through the same caches, controllers and links as user traffic
// (MemorySystem::access_range) at the calling CPU's kernel time; TLB
// shootdowns send IPIs whose latency grows with the path latency between the
// initiator's and each target's node and whose handlers invalidate the target
// CPUs' TLBs (and charge them the handler time); block I/O goes to a simple
// device (hw::BlockDevice when attached); now(cpu) is the CPU's kernel-time cursor.
//
// Kernel time: when a fault or system call enters the kernel on a CPU, the
// machine sets that CPU's cursor to the entry time (enter_kernel); every
// platform call issues its traffic at the cursor and advances it by its
// latency, so consecutive kernel operations do not overlap.
// Large kernel stores (clearing huge pages) stream past the caches (see
// MachinePlatformParams::streaming_store_bytes).
// Kernel threads and timers: wake_up_process hands the thread to the machine's
// scheduler (set_wake_handler), which queues it on its CPU's core; timers wait
// in a deterministic queue per CPU (os::TimerQueue) that the core checks at its
// quantum boundaries and scheduling points (never per memory reference), firing
// each due timer in kernel context at the core's local time.
// Simplifications: kernel CPU cycles do not advance the cursor (the kernel adds
// them to its KernelCost); a copy reads the whole source, then writes the
// destination; IPIs are delivered point to point (no broadcast), acknowledged
// in parallel; without an attached device, block I/O is latency + size / bandwidth.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "common/units.h"
#include "os/platform.h"
#include "os/timer.h"

namespace numasim {
class Config;
class Topology;
}  // namespace numasim

namespace numasim::hw {

class BlockDevice;
class Core;
class MemorySystem;
class Mmu;

struct MachinePlatformParams {
  Picoseconds ipi_latency = Picoseconds(700'000);     // APIC send to handler entry on the same node
  std::uint32_t ipi_send_cycles = 200;                // initiator's cost per target (ICR write)
  std::uint32_t flush_handler_cycles = 1200;          // target: interrupt entry, flush, ack, iret
  std::uint32_t invlpg_cycles = 150;                  // per page flushed individually
  std::uint32_t full_flush_cycles = 500;              // CR3 reload / INVPCID of a whole ASID
  // Kernel stores of at least this many bytes (clearing a 2 MiB huge page) are timed as
  // non-temporal streaming stores that bypass the caches, as clear_huge_page's large
  // `rep stosb` avoids read-for-ownership; 0: always through the caches.
  Bytes streaming_store_bytes = Bytes(2ull << 20);
  // How the memory system runs kernel range traffic (MemorySystem::TransferPath):
  // true: one bulk request per transfer (the default); false: line by line, the reference.
  bool bulk_transfers = true;
  Picoseconds bio_latency = Picoseconds(80'000'000);  // NVMe 4 KiB read ~80 us
  Bandwidth bio_bandwidth = Bandwidth(3'000'000'000); // 3 GB/s

  // [platform] ipi_latency, ipi_send_cycles, flush_handler_cycles, invlpg_cycles,
  // full_flush_cycles, streaming_store_bytes, kernel_transfers, bio_latency, bio_bandwidth. (When a range
  // flush becomes a full one is the kernel's tlb_single_page_flush_ceiling.)
  static MachinePlatformParams from_config(Config platform);
};

struct MachinePlatformStats {
  std::uint64_t kernel_read_bytes = 0, kernel_write_bytes = 0, kernel_copy_bytes = 0, streaming_write_bytes = 0;
  std::uint64_t kernel_memory_ps = 0;
  std::uint64_t shootdowns = 0, ipis = 0, ipi_wait_ps = 0, pages_flushed = 0, full_flushes = 0;
  std::uint64_t bios = 0, bio_bytes = 0, bio_ps = 0;
  std::uint64_t wakeups = 0, timers_armed = 0, timers_fired = 0;
};

class MachinePlatform final : public os::Platform {
 public:
  MachinePlatform(const Topology& topo, MemorySystem& memory, Frequency core_clock,
                  const MachinePlatformParams& params);

  // The CPUs' MMUs and cores (indexed by CPU id), once built. Cores may be null.
  void attach(std::vector<Mmu*> mmus, std::vector<Core*> cores);
  // The swap/file device (hw::BlockDevice); without one, bio_latency and bio_bandwidth time I/O.
  void attach_block_device(BlockDevice* device) { block_device_ = device; }
  // A fault or system call enters the kernel on `cpu` at `t`.
  void enter_kernel(CpuId cpu, Picoseconds t) override { cursor_[static_cast<std::size_t>(cpu.value())] = t; }

  Picoseconds kernel_read(CpuId cpu, PhysAddr addr, Bytes len) override;
  Picoseconds kernel_write(CpuId cpu, PhysAddr addr, Bytes len) override;
  Picoseconds kernel_copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) override;
  Picoseconds flush_tlb_range(CpuId initiator, const os::CpuMask& targets, os::Asid asid, VirtAddr start,
                              VirtAddr end) override;
  Picoseconds flush_tlb_mm(CpuId initiator, const os::CpuMask& targets, os::Asid asid) override;
  Picoseconds submit_bio(CpuId cpu, os::BioOp op, std::uint64_t sector, Bytes len) override;
  Picoseconds submit_bio_nowait(CpuId cpu, os::BioOp op, std::uint64_t sector, Bytes len) override;
  Bytes block_capacity() const override;
  Picoseconds now(CpuId cpu) const override { return cursor_[static_cast<std::size_t>(cpu.value())]; }
  Picoseconds cycles_to_time(CpuId, Cycles c) const override { return clock_.to_time(c); }
  void wake_up_process(os::task_struct* t) override;
  void mod_timer(os::timer_list* timer, Picoseconds expires) override;
  bool del_timer(os::timer_list* timer) override;

  // Who queues a woken kernel thread on its CPU (hw::Machine's scheduler).
  void set_wake_handler(std::function<void(os::task_struct*)> handler) { wake_handler_ = std::move(handler); }
  // Expiry of `cpu`'s first pending timer (os::TimerQueue::kNever when none).
  Picoseconds next_timer(CpuId cpu) const { return timers_[static_cast<std::size_t>(cpu.value())].next(); }
  // run_timer_softirq on `cpu` at `now`: fires the timers due by then that were armed
  // before this call, in order, each entering the kernel at `now`; returns what they cost.
  os::KernelCost run_timers(CpuId cpu, Picoseconds now);

  // One-way IPI delivery time from `from` to `to`.
  Picoseconds ipi_delivery(CpuId from, CpuId to) const;
  const MachinePlatformStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  // Invalidate on `cpu`; returns the CPU time the flush takes there.
  Picoseconds flush_on(CpuId cpu, os::Asid asid, VirtAddr start, VirtAddr end, bool whole_asid);
  Picoseconds shootdown(CpuId initiator, const os::CpuMask& targets, os::Asid asid, VirtAddr start, VirtAddr end,
                        bool whole_asid);
  Picoseconds advance(CpuId cpu, Picoseconds latency);

  const Topology& topo_;
  MemorySystem& memory_;
  Frequency clock_;
  MachinePlatformParams params_;
  std::vector<Picoseconds> cursor_;
  std::vector<Mmu*> mmus_;
  std::vector<Core*> cores_;
  BlockDevice* block_device_ = nullptr;
  std::vector<os::TimerQueue> timers_;  // per CPU
  std::uint64_t timer_seq_ = 0;         // arming order
  std::function<void(os::task_struct*)> wake_handler_;
  MachinePlatformStats stats_;
};

}  // namespace numasim::hw
