// Shared set-up for the SLUB/kmalloc/kmemleak/slabinfo tests: a small
// two-node machine (PhysMem over the fake Platform) with a Slub on top, and
// helpers to compare free-page counts before and after.
#pragma once

#include <memory>
#include <vector>

#include "os/kmalloc.h"
#include "os/page_alloc.h"
#include "os/slub.h"
#include "tests/os/fake_platform.h"

namespace numasim::os::testing {

struct SlubMachine {
  // `nodes` nodes of `mib` MiB each, `cpus_per_node` CPUs on each, SLIT 10/21.
  explicit SlubMachine(int nodes = 2, int cpus_per_node = 2, std::uint64_t mib = 64, SlubParams sp = {}) {
    platform.record = false;
    std::vector<NodeLayout> layout;
    int cpu = 0;
    for (int n = 0; n < nodes; ++n) {
      NodeLayout l;
      l.id = NodeId(n);
      l.base = static_cast<PhysAddr>(n) * (mib << 20);
      l.memory = Bytes(mib << 20);
      for (int c = 0; c < cpus_per_node; ++c) l.cpus.push_back(CpuId(cpu++));
      layout.push_back(l);
    }
    std::vector<std::vector<int>> dist(static_cast<std::size_t>(nodes),
                                       std::vector<int>(static_cast<std::size_t>(nodes), 21));
    for (int n = 0; n < nodes; ++n) dist[n][n] = 10;
    pm = std::make_unique<PhysMem>(layout, dist, PhysMemParams{}, platform);
    slub = std::make_unique<Slub>(*pm, sp);
  }
  // Free pages of a node counting per-cpu lists as free (they belong to the buddy).
  std::int64_t free_pages(int nid) {
    KernelCost c;
    pm->drain_all_pages(c);
    return pm->node_zone_page_state(NodeId(nid), NR_FREE_PAGES);
  }
  std::int64_t slab_bytes(int nid) const {
    return pm->node_page_state(NodeId(nid), NR_SLAB_UNRECLAIMABLE_B) +
           pm->node_page_state(NodeId(nid), NR_SLAB_RECLAIMABLE_B);
  }

  FakePlatform platform;
  std::unique_ptr<PhysMem> pm;
  std::unique_ptr<Slub> slub;
};

}  // namespace numasim::os::testing
