// KernelParams::from_config: the [os] table (kept apart from kernel.cpp so that
// code using Kernel with hand-built params does not pull in the config reader).
#include "common/config.h"
#include "os/kernel.h"

namespace numasim::os {

KernelParams KernelParams::from_config(Config os) {
  KernelParams p;
  p.phys = PhysMemParams::from_config(os);
  p.slub = SlubParams::from_config(os);  // [os.slub], [os.slub.costs], [os.failslab]
  p.caches = KernelCachesParams::from_config(os);  // [os.kernel_caches]
  p.kthreads = KthreadParams::from_config(os);     // [os.kthreads]
  p.swap = SwapParams::from_config(os);            // [[os.swap]], page_cluster, swap_vma_readahead
  p.reclaim = ReclaimParams::from_config(os);      // [os.vm] swappiness & co., reclaim costs
  p.thp = ThpParams::from_config(os);              // [os.thp]
  p.compaction = CompactionParams::from_config(os);  // [os.vm] compaction_*, [os.costs] compact_*
  p.numab = NumaBalancingParams::from_config(os);    // [os.kernel] numa_balancing*
  p.fs = FsParams::from_config(os);                  // [[os.file]], [os.fs], [os.vm] dirty_*
  p.memtier = MemoryTierParams::from_config(os);     // [os.memory_tiers]
  Config c = os.table("costs", "kernel CPU costs in cycles");
  auto cyc = [&](const char* key, std::uint64_t def, const char* what) {
    return static_cast<std::uint64_t>(
        c.get<std::int64_t>(key, static_cast<std::int64_t>(def), what, {std::int64_t{0}, std::int64_t{100000000}}));
  };
  p.costs.fault_entry_cycles = cyc("fault_entry_cycles", p.costs.fault_entry_cycles, "page-fault exception entry");
  p.costs.fault_exit_cycles = cyc("fault_exit_cycles", p.costs.fault_exit_cycles, "return from a page fault");
  p.costs.fault_handle_cycles =
      cyc("fault_handle_cycles", p.costs.fault_handle_cycles, "handle_mm_fault bookkeeping per fault");
  p.costs.syscall_entry_cycles = cyc("syscall_entry_cycles", p.costs.syscall_entry_cycles, "system-call entry");
  p.costs.syscall_exit_cycles = cyc("syscall_exit_cycles", p.costs.syscall_exit_cycles, "system-call exit");
  p.costs.pte_update_cycles =
      cyc("pte_update_cycles", p.costs.pte_update_cycles, "CPU work per page-table entry written");
  p.costs.vma_op_cycles = cyc("vma_op_cycles", p.costs.vma_op_cycles, "per VMA created, split, merged or removed");
  p.costs.zap_pte_cycles = cyc("zap_pte_cycles", p.costs.zap_pte_cycles, "per page-table leaf torn down");
  p.costs.tlb_flush_cycles = cyc("tlb_flush_cycles", p.costs.tlb_flush_cycles, "preparing a TLB flush");
  p.costs.migrate_page_cycles =
      cyc("migrate_page_cycles", p.costs.migrate_page_cycles, "per page migrated, besides the copy");
  p.pgtable_levels = os.get<int>("pgtable_levels", 4, "page-table levels (5 = LA57)", {4, 5});
  p.max_map_count = os.get<int>("max_map_count", p.max_map_count, "vm.max_map_count", {1, 1 << 30});
  p.tlb_single_page_flush_ceiling = static_cast<unsigned>(os.get<int>(
      "tlb_single_page_flush_ceiling", 33, "pages above which a range flush becomes a full flush", {0, 1 << 20}));
  p.zero_page = os.get<bool>("zero_page", true, "map the shared zero page on read faults of private anon memory");
  Config h = os.table("hugetlb", "hugetlb pool");
  std::vector<std::int64_t> per_node =
      h.get<std::vector<std::int64_t>>("nr_hugepages", {}, "2 MiB huge pages reserved at boot, per node");
  for (std::size_t i = 0; i < per_node.size(); ++i) {
    if (per_node[i] < 0) {
      h.error("nr_hugepages", "entry " + std::to_string(i) + " is negative (" + std::to_string(per_node[i]) +
                                  "); expected a page count >= 0");
      per_node[i] = 0;
    }
    p.nr_hugepages_node.push_back(static_cast<std::uint64_t>(per_node[i]));
  }
  p.nr_overcommit_hugepages = static_cast<std::uint64_t>(h.get<std::int64_t>(
      "nr_overcommit_hugepages", 0, "surplus 2 MiB huge pages the pool may take from the buddy (vm.nr_overcommit_hugepages)",
      {std::int64_t{0}, std::int64_t{1} << 40}));
  // hugepagesz=1G hugepages=N: the gigantic pool per node, [os.hugetlb.1G].
  p.hugepagesz_1g = h.has("1G");
  Config g = h.table("1G", "1 GiB hugetlb pool (hugepagesz=1G)");
  std::vector<std::int64_t> per_node_1g =
      g.get<std::vector<std::int64_t>>("nr_hugepages", {}, "1 GiB huge pages reserved at boot, per node");
  for (std::size_t i = 0; i < per_node_1g.size(); ++i) {
    if (per_node_1g[i] < 0) {
      std::string msg = "entry ";
      msg += std::to_string(i);
      msg += " is negative (";
      msg += std::to_string(per_node_1g[i]);
      msg += "); expected a page count >= 0";
      g.error("nr_hugepages", msg);
      per_node_1g[i] = 0;
    }
    p.nr_hugepages_1g_node.push_back(static_cast<std::uint64_t>(per_node_1g[i]));
  }
  return p;
}

}  // namespace numasim::os
