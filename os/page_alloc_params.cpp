// PhysMemParams::from_config: the page allocator's tunables, read like Linux's
// sysctls (vm.min_free_kbytes, vm.watermark_scale_factor, the per-cpu list
// sizes, /sys/kernel/mm/mempolicy/weighted_interleave/nodeN) from [os.vm], its
// cycle costs from [os.costs] and its fault injection from [os.fail_page_alloc].
#include <cstdint>
#include <string>

#include "common/config.h"
#include "os/page_alloc.h"

namespace numasim::os {

PhysMemParams PhysMemParams::from_config(Config os) {
  PhysMemParams p;
  Config vm = os.table("vm", "virtual-memory tunables (Linux sysctl vm.*)");
  p.min_free_kbytes = vm.get<std::uint64_t>(
      "min_free_kbytes", 0, "reserve below WMARK_MIN in kB; 0 = Linux's default sqrt(lowmem_kB * 16)", {0, 1ull << 40});
  p.watermark_scale_factor =
      vm.get<unsigned>("watermark_scale_factor", 10, "distance min->low->high in 1/10000 of a zone's pages", {1, 3000});
  p.pcp_high =
      vm.get<unsigned>("percpu_pagelist_high", 0,
                       "pages a per-cpu list may hold before draining; 0 = from the low watermark", {0, 1u << 24});
  p.pcp_batch =
      vm.get<unsigned>("percpu_pagelist_batch", 0,
                       "pages moved between per-cpu lists and the buddy at once; 0 = Linux's formula", {0, 1u << 16});
  if (p.pcp_high && p.pcp_batch && p.pcp_high < p.pcp_batch)
    vm.error("percpu_pagelist_high", "must be at least percpu_pagelist_batch (" + std::to_string(p.pcp_batch) + ")");
  p.movable_zone = vm.get<bool>("movable_zone", false,
                                "memory of CPU-less nodes is onlined as ZONE_MOVABLE (like CXL online_movable)");
  std::vector<std::int64_t> w = vm.get<std::vector<std::int64_t>>(
      "weighted_interleave", {}, "per-node weights for MPOL_WEIGHTED_INTERLEAVE (1..255); empty = all 1");
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (w[i] < 1 || w[i] > 255) {
      vm.error("weighted_interleave",
               "weight of node " + std::to_string(i) + " is " + std::to_string(w[i]) + ", expected 1..255");
      w.clear();
      break;
    }
  }
  for (std::int64_t v : w) p.interleave_weights.push_back(static_cast<std::uint8_t>(v));

  Config c = os.table("costs", "kernel cycle costs");
  PageAllocCosts& k = p.costs;
  k.pcp_alloc_cycles = c.get<unsigned>("pcp_alloc_cycles", k.pcp_alloc_cycles,
                                       "cycles of an allocation served by a per-cpu list", {0, 1u << 20});
  k.pcp_free_cycles =
      c.get<unsigned>("pcp_free_cycles", k.pcp_free_cycles, "cycles of a free onto a per-cpu list", {0, 1u << 20});
  k.buddy_alloc_cycles = c.get<unsigned>("buddy_alloc_cycles", k.buddy_alloc_cycles,
                                         "cycles to take one block from the buddy (zone lock included)", {0, 1u << 20});
  k.buddy_free_cycles = c.get<unsigned>("buddy_free_cycles", k.buddy_free_cycles,
                                        "cycles to return one block to the buddy", {0, 1u << 20});
  k.buddy_step_cycles =
      c.get<unsigned>("buddy_step_cycles", k.buddy_step_cycles, "cycles per buddy split or merge step", {0, 1u << 20});
  k.zone_check_cycles = c.get<unsigned>("zone_check_cycles", k.zone_check_cycles,
                                        "cycles per zone visited on the zonelist", {0, 1u << 20});
  p.fail_page_alloc = FailPageAllocParams::from_config(
      os.table("fail_page_alloc", "page allocation fault injection (Linux fail_page_alloc)"));
  return p;
}

}  // namespace numasim::os
