// The seam between memory tiering (mm/memory-tiers.c: tiers from each node's
// memory device, demotion targets) and its users, NUMA balancing's promotion
// (MEMORY_TIERING mode) and reclaim's demotion, built separately and meeting
// here. The functions are Kernel members (declared in kernel.h under "memory
// tiers seam"), implemented in memory_tiers.cpp:
//
//   node_is_toptier(nid)      the node is in the top tier (the fastest memory
//                             with CPUs); promotion moves pages onto such nodes.
//   next_demotion_node(nid)   the node reclaim demotes nid's pages to, or
//                             NUMA_NO_NODE when nid has no lower tier.
//   node_demotion_enabled()   /sys/kernel/mm/numa/demotion_enabled.
//   node_get_allowed_targets  every node of the tiers below nid's (demotion's
//                             fallback when the preferred target is full).
//
// Each node's memory device has an abstract distance (adistance): DRAM is
// MEMTIER_ADISTANCE_DRAM (576); Linux 6.1's dax/kmem driver, which onlines a
// CXL Type-3 expander's memory as a CPU-less node, registers it with
// MEMTIER_DEFAULT_DAX_ADISTANCE (5 x DRAM = 2880). The os layer does not see
// the hardware's device table, so the distance per node is given in the
// [os.memory_tiers] table (configs/cxl-tiered.toml gives its CXL node 2880);
// nodes not listed are DRAM. Nodes whose distances fall in the same
// MEMTIER_CHUNK_SIZE chunk share a tier, memory_tier<adistance / 128> in sysfs.
#pragma once

#include <string>
#include <vector>

#include "os/mmzone.h"

namespace numasim {
class Config;
}

namespace numasim::os {

// Abstract distance of a memory device (include/linux/memory-tiers.h): DRAM's is
// MEMTIER_ADISTANCE_DRAM; a tier spans MEMTIER_CHUNK_SIZE of distance.
inline constexpr int MEMTIER_CHUNK_BITS = 7;
inline constexpr int MEMTIER_CHUNK_SIZE = 1 << MEMTIER_CHUNK_BITS;
inline constexpr int MEMTIER_ADISTANCE_DRAM = 4 * MEMTIER_CHUNK_SIZE + MEMTIER_CHUNK_SIZE / 2;  // 576
// drivers/dax/kmem.c: the distance of memory onlined by dax/kmem (a CXL expander).
inline constexpr int MEMTIER_DEFAULT_DAX_ADISTANCE = MEMTIER_ADISTANCE_DRAM * 5;  // 2880

// [os.memory_tiers]: adistance = [per node] (missing entries: DRAM),
// demotion_enabled = false (the sysfs knob's boot value, as Linux's default).
struct MemoryTierParams {
  std::vector<int> adistance;
  bool demotion_enabled = false;
  std::string origin;  // file:line:column of adistance, for errors found against the topology
  static MemoryTierParams from_config(Config os);
};

// struct memory_tier: the nodes whose adistance rounds down to adistance_start.
struct memory_tier {
  int adistance_start = 0;
  nodemask_t nodes{};            // get_memtier_nodemask
  nodemask_t lower_tier_mask{};  // every node of the tiers below this one
  int dev_id() const { return adistance_start >> MEMTIER_CHUNK_BITS; }  // memory_tier<N>
};

// The tiers as establish_demotion_targets leaves them.
struct MemoryTiers {
  std::vector<memory_tier> tiers;        // the memory_tiers list, fastest first
  std::vector<int> node_tier;            // pgdat->memtier: index into tiers, -1 for a node without memory
  std::vector<nodemask_t> node_demotion;  // node_demotion[nid].preferred
  int top_tier_adistance = 0;
  bool demotion_enabled = false;  // numa_demotion_enabled
};

}  // namespace numasim::os
