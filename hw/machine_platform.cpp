// os::Platform on the simulated hardware (see machine_platform.h).
#include "hw/machine_platform.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/config.h"
#include "common/topology.h"
#include "hw/block_device.h"
#include "hw/core.h"
#include "hw/memory_system.h"
#include "hw/mmu.h"

namespace numasim::hw {

MachinePlatformParams MachinePlatformParams::from_config(Config c) {
  MachinePlatformParams p;
  p.ipi_latency = c.get<Picoseconds>("ipi_latency", p.ipi_latency, "IPI delivery on the same node",
                                     {Picoseconds(0), Picoseconds(1'000'000'000)});
  p.ipi_send_cycles = c.get<unsigned>("ipi_send_cycles", p.ipi_send_cycles, "initiator cycles per IPI", {0u, 1u << 24});
  p.flush_handler_cycles = c.get<unsigned>("flush_handler_cycles", p.flush_handler_cycles,
                                           "target cycles to take the flush interrupt", {0u, 1u << 24});
  p.invlpg_cycles = c.get<unsigned>("invlpg_cycles", p.invlpg_cycles, "cycles per page invalidated", {0u, 1u << 20});
  p.full_flush_cycles = c.get<unsigned>("full_flush_cycles", p.full_flush_cycles, "cycles to flush a whole ASID",
                                        {0u, 1u << 24});
  p.streaming_store_bytes = c.get<Bytes>("streaming_store_bytes", p.streaming_store_bytes,
                                        "kernel stores this large bypass the caches (0: never)");
  p.bulk_transfers = c.get_choice("kernel_transfers", "bulk", {"bulk", "lines"},
                                  "bulk: a page clear or copy is one request through the memory system; "
                                  "lines: line by line (the reference, same timing)") == "bulk";
  p.bio_latency = c.get<Picoseconds>("bio_latency", p.bio_latency, "block device access latency",
                                     {Picoseconds(0), Picoseconds(1'000'000'000'000ull)});
  p.bio_bandwidth = c.get<Bandwidth>("bio_bandwidth", p.bio_bandwidth, "block device bandwidth",
                                     {Bandwidth(1), std::nullopt});
  return p;
}

MachinePlatform::MachinePlatform(const Topology& topo, MemorySystem& memory, Frequency core_clock,
                                 const MachinePlatformParams& params)
    : topo_(topo), memory_(memory), clock_(core_clock), params_(params),
      cursor_(static_cast<std::size_t>(std::max(1, topo.num_cpus())), Picoseconds(0)),
      timers_(static_cast<std::size_t>(std::max(1, topo.num_cpus()))) {
  memory_.set_transfer_path(params_.bulk_transfers ? MemorySystem::TransferPath::Bulk
                                                   : MemorySystem::TransferPath::Lines);
}

void MachinePlatform::attach(std::vector<Mmu*> mmus, std::vector<Core*> cores) {
  mmus_ = std::move(mmus);
  cores_ = std::move(cores);
}

Picoseconds MachinePlatform::advance(CpuId cpu, Picoseconds latency) {
  cursor_[static_cast<std::size_t>(cpu.value())] += latency;
  stats_.kernel_memory_ps += latency.value();
  return latency;
}

Picoseconds MachinePlatform::kernel_read(CpuId cpu, PhysAddr addr, Bytes len) {
  stats_.kernel_read_bytes += len.value();
  return advance(cpu, memory_.access_range(cpu, addr, len, false, now(cpu)));
}

Picoseconds MachinePlatform::kernel_write(CpuId cpu, PhysAddr addr, Bytes len) {
  stats_.kernel_write_bytes += len.value();
  if (params_.streaming_store_bytes.value() != 0 && len >= params_.streaming_store_bytes) {
    stats_.streaming_write_bytes += len.value();
    return advance(cpu, memory_.access_range_nontemporal(cpu, addr, len, true, now(cpu)));
  }
  return advance(cpu, memory_.access_range(cpu, addr, len, true, now(cpu)));
}

Picoseconds MachinePlatform::kernel_copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) {
  stats_.kernel_copy_bytes += len.value();
  // A string move (rep movsb): source loads and destination stores overlap
  // (MemorySystem::copy_range), not a read pass followed by a write pass.
  return advance(cpu, memory_.copy_range(cpu, dst, src, len, now(cpu)));
}

Picoseconds MachinePlatform::ipi_delivery(CpuId from, CpuId to) const {
  const NodeId a = topo_.cpu_node(from), b = topo_.cpu_node(to);
  return params_.ipi_latency + (a == b ? Picoseconds(0) : topo_.path_latency(a, b));
}

Picoseconds MachinePlatform::flush_on(CpuId cpu, os::Asid asid, VirtAddr start, VirtAddr end, bool whole_asid) {
  const std::size_t i = static_cast<std::size_t>(cpu.value());
  const std::uint64_t pages = end > start ? (end - start + kPageSize - 1) / kPageSize : 0;
  // Whether a range is flushed page by page or as a whole ASID is the kernel's
  // policy ([os] tlb_single_page_flush_ceiling, os/tlbflush.cpp): hw does what it is asked.
  const bool full = whole_asid;
  if (i < mmus_.size() && mmus_[i]) {
    if (full) mmus_[i]->invalidate_asid(asid);
    else mmus_[i]->invalidate_range(asid, start, end);
  }
  if (full) {
    ++stats_.full_flushes;
    return clock_.to_time(Cycles(params_.full_flush_cycles));
  }
  stats_.pages_flushed += pages;
  return clock_.to_time(Cycles(params_.invlpg_cycles * pages));
}

Picoseconds MachinePlatform::shootdown(CpuId initiator, const os::CpuMask& targets, os::Asid asid, VirtAddr start,
                                       VirtAddr end, bool whole_asid) {
  ++stats_.shootdowns;
  Picoseconds local(0), wait(0);
  std::uint64_t sent = 0;
  for (int c = 0; c < topo_.num_cpus() && c < os::kMaxCpus; ++c) {
    if (!targets.test(static_cast<std::size_t>(c))) continue;
    const CpuId cpu(c);
    const Picoseconds flush = flush_on(cpu, asid, start, end, whole_asid);
    if (cpu == initiator) {
      local = flush;
      continue;
    }
    ++sent;
    const Picoseconds handler = clock_.to_time(Cycles(params_.flush_handler_cycles)) + flush;
    const std::size_t ci = static_cast<std::size_t>(c);
    if (ci < cores_.size() && cores_[ci] && cores_[ci]->busy()) cores_[ci]->charge(handler);
    // Send, deliver, handle, acknowledge; sends are serial, the rest overlaps across targets.
    const Picoseconds send_done = clock_.to_time(Cycles(params_.ipi_send_cycles * sent));
    wait = std::max(wait, send_done + ipi_delivery(initiator, cpu) * 2 + handler);
  }
  stats_.ipis += sent;
  const Picoseconds total = local + wait;
  stats_.ipi_wait_ps += wait.value();
  cursor_[static_cast<std::size_t>(initiator.value())] += total;
  return total;
}

Picoseconds MachinePlatform::flush_tlb_range(CpuId initiator, const os::CpuMask& targets, os::Asid asid,
                                             VirtAddr start, VirtAddr end) {
  return shootdown(initiator, targets, asid, start, end, false);
}

Picoseconds MachinePlatform::flush_tlb_mm(CpuId initiator, const os::CpuMask& targets, os::Asid asid) {
  return shootdown(initiator, targets, asid, 0, 0, true);
}

Picoseconds MachinePlatform::submit_bio(CpuId cpu, os::BioOp op, std::uint64_t sector, Bytes len) {
  ++stats_.bios;
  stats_.bio_bytes += len.value();
  Picoseconds t = params_.bio_latency + params_.bio_bandwidth.transfer_time(len);
  if (block_device_) {
    try {
      t = block_device_->submit(op == os::BioOp::Read ? BlockOp::Read : BlockOp::Write, sector, len, now(cpu)).latency;
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "numasim: internal error: the kernel submitted an invalid bio: %s\n", e.what());
      std::abort();
    }
  }
  stats_.bio_ps += t.value();
  cursor_[static_cast<std::size_t>(cpu.value())] += t;
  return t;
}

Picoseconds MachinePlatform::submit_bio_nowait(CpuId cpu, os::BioOp op, std::uint64_t sector, Bytes len) {
  const Picoseconds t = submit_bio(cpu, op, sector, len);
  cursor_[static_cast<std::size_t>(cpu.value())] -= t;  // the submitter does not wait
  return t;
}

Bytes MachinePlatform::block_capacity() const {
  return block_device_ ? block_device_->params().capacity : Bytes(~0ull);
}

void MachinePlatform::wake_up_process(os::task_struct* t) {
  ++stats_.wakeups;
  if (!wake_handler_) {
    std::fprintf(stderr, "numasim: internal error: a kernel thread was woken with no scheduler attached\n");
    std::abort();
  }
  wake_handler_(t);
}

void MachinePlatform::mod_timer(os::timer_list* timer, Picoseconds expires) {
  const std::size_t i = static_cast<std::size_t>(timer->cpu.value());
  if (timer->pending) del_timer(timer);
  ++stats_.timers_armed;
  timers_.at(i).add(timer, expires, timer_seq_++);
  if (i < cores_.size() && cores_[i]) cores_[i]->timer_armed(timers_[i].next());
}

bool MachinePlatform::del_timer(os::timer_list* timer) {
  if (!timer->pending) return false;
  return timers_.at(static_cast<std::size_t>(timer->cpu.value())).remove(timer);
}

os::KernelCost MachinePlatform::run_timers(CpuId cpu, Picoseconds now) {
  os::KernelCost cost;
  os::TimerQueue& q = timers_[static_cast<std::size_t>(cpu.value())];
  const std::uint64_t limit = timer_seq_;
  enter_kernel(cpu, now);
  while (os::timer_list* t = q.pop_due(now, limit)) {
    ++stats_.timers_fired;
    t->function(t, cost);
  }
  return cost;
}

}  // namespace numasim::hw
