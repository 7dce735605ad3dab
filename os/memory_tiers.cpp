// Memory tiering (mm/memory-tiers.c): the entry points of the memory tiers
// seam (os/memory_tiers.h). Simplified: no tiers yet, every node is top tier
// and no node has a demotion target.
#include "os/kernel.h"
#include "os/memory_tiers.h"

namespace numasim::os {

bool Kernel::node_is_toptier(int /*nid*/) const { return true; }

int Kernel::next_demotion_node(int /*nid*/) const { return NUMA_NO_NODE; }

bool Kernel::node_demotion_enabled() const { return false; }

}  // namespace numasim::os
