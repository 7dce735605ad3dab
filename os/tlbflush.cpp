// TLB shootdowns (arch/x86/mm/tlb.c flush_tlb_mm_range / flush_tlb_func /
// native_flush_tlb_multi): after a mapping is removed or downgraded, every CPU in
// the mm's cpumask must drop the translations. The Platform sends the IPIs and
// returns the initiator's wait; counters as Linux counts them: the initiator's
// local flush counts nr_tlb_local_flush_one per page (up to
// tlb_single_page_flush_ceiling pages) or nr_tlb_local_flush_all; a shootdown of
// other CPUs counts nr_tlb_remote_flush once on the initiator and
// nr_tlb_remote_flush_received on each target.
// Simplified: no lazy-TLB mode (a CPU stays in mm_cpumask once it ran the mm),
// no batching across calls (one flush per operation), no INVLPGB broadcast.
#include "os/kernel.h"

namespace numasim::os {

void Kernel::flush_tlb_range(CpuId cpu, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost) {
  cost.add_cycles(params_.costs.tlb_flush_cycles);
  const std::size_t self = static_cast<std::size_t>(cpu.value());
  const std::uint64_t pages = (end - start) >> kPageShift;
  const bool full = pages > params_.tlb_single_page_flush_ceiling;
  if (mm.cpumask.test(self)) {
    if (full)
      pm_.count_vm_events(cpu, NR_TLB_LOCAL_FLUSH_ALL);
    else
      pm_.count_vm_events(cpu, NR_TLB_LOCAL_FLUSH_ONE, pages);
  }
  CpuMask others = mm.cpumask;
  others.reset(self);
  if (others.any()) {
    pm_.count_vm_events(cpu, NR_TLB_REMOTE_FLUSH);
    for (std::size_t c = others._Find_first(); c < others.size(); c = others._Find_next(c))
      pm_.count_vm_events(CpuId(static_cast<int>(c)), NR_TLB_REMOTE_FLUSH_RECEIVED);
  }
  if (full)
    cost.add_memory(platform_.flush_tlb_mm(cpu, mm.cpumask, mm.asid));
  else
    cost.add_memory(platform_.flush_tlb_range(cpu, mm.cpumask, mm.asid, start, end));
}

void Kernel::flush_tlb_mm(CpuId cpu, mm_struct& mm, KernelCost& cost) {
  flush_tlb_range(cpu, mm, 0, mm.task_size, cost);
}

}  // namespace numasim::os
