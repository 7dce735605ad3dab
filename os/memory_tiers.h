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
//
// Until tiers are built every node is top tier and nothing demotes.
#pragma once

namespace numasim::os {

// Abstract distance of a memory device (include/linux/memory-tiers.h): DRAM's is
// MEMTIER_ADISTANCE_DRAM; a tier spans MEMTIER_CHUNK_SIZE of distance.
inline constexpr int MEMTIER_CHUNK_BITS = 7;
inline constexpr int MEMTIER_CHUNK_SIZE = 1 << MEMTIER_CHUNK_BITS;
inline constexpr int MEMTIER_ADISTANCE_DRAM = 4 * MEMTIER_CHUNK_SIZE + MEMTIER_CHUNK_SIZE / 2;  // 576

}  // namespace numasim::os
