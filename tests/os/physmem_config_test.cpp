// PhysMem built from a real configuration (configs/cxl-tiered.toml through
// Topology::from_config) and PhysMemParams::from_config with its errors.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/topology.h"
#include "os/page_alloc.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

TEST(PhysMemConfig, CxlTieredMachineFromTopology) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/cxl-tiered.toml");
  Topology topo = Topology::from_config(doc->root());
  FakePlatform plat;
  PhysMem pm(topo, PhysMemParams{}, plat);
  ASSERT_EQ(pm.nr_node_ids(), 3);
  EXPECT_TRUE(pm.NODE_DATA(NodeId(2)).cpus.empty());
  EXPECT_EQ(nodes_weight(pm.node_states_memory()), 3);
  EXPECT_EQ(nodes_weight(pm.node_states_cpu()), 2);
  for (int n = 0; n < 3; ++n) {
    const NodeDesc& d = topo.node(NodeId(n));
    EXPECT_EQ(pm.NODE_DATA(NodeId(n)).node_start_pfn, d.base >> 12);
    EXPECT_EQ(pm.NODE_DATA(NodeId(n)).node_spanned_pages, d.memory.value() >> 12);
  }
  // The expander is nearer to node 0 than node 1 is (SLIT 14 < 21).
  EXPECT_EQ(pm.node_order(NodeId(0)), (std::vector<int>{0, 2, 1}));
  EXPECT_EQ(pm.node_order(NodeId(1)), (std::vector<int>{1, 0, 2}));
  EXPECT_EQ(pm.node_order(NodeId(2)), (std::vector<int>{2, 0, 1}));
  // Every CPU belongs to the node the topology says.
  for (int c = 0; c < topo.num_cpus(); ++c) EXPECT_EQ(pm.cpu_to_node(CpuId(c)), topo.cpu_node(CpuId(c)));
  std::uint64_t pages = 0;
  for (int n = 0; n < 3; ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) pages += z.managed_pages;
  EXPECT_EQ(pages, pm.totalram_pages());
  pm.check_consistency();
}

TEST(PhysMemConfig, ParamsFromConfig) {
  auto doc = ConfigDocument::from_string(
      "[os.vm]\nmin_free_kbytes = 2048\nwatermark_scale_factor = 50\npercpu_pagelist_high = 64\n"
      "percpu_pagelist_batch = 8\nmovable_zone = true\nweighted_interleave = [3, 1]\n"
      "[os.costs]\npcp_alloc_cycles = 99\nbuddy_step_cycles = 7\n",
      "vm.toml");
  PhysMemParams p = PhysMemParams::from_config(doc->root().table("os"));
  EXPECT_NO_THROW(doc->finish());
  EXPECT_EQ(p.min_free_kbytes, 2048u);
  EXPECT_EQ(p.watermark_scale_factor, 50u);
  EXPECT_EQ(p.pcp_high, 64u);
  EXPECT_EQ(p.pcp_batch, 8u);
  EXPECT_TRUE(p.movable_zone);
  EXPECT_EQ(p.interleave_weights, (std::vector<std::uint8_t>{3, 1}));
  EXPECT_EQ(p.costs.pcp_alloc_cycles, 99u);
  EXPECT_EQ(p.costs.buddy_step_cycles, 7u);
  EXPECT_EQ(p.costs.buddy_free_cycles, PageAllocCosts{}.buddy_free_cycles);
}

TEST(PhysMemConfig, BadParamsAreReportedTogether) {
  auto doc = ConfigDocument::from_string(
      "[os.vm]\nwatermark_scale_factor = 0\nweighted_interleave = [2, 0]\n"
      "percpu_pagelist_high = 4\npercpu_pagelist_batch = 8\n",
      "bad.toml");
  PhysMemParams p = PhysMemParams::from_config(doc->root().table("os"));
  std::vector<std::string> errors;
  try {
    doc->finish();
  } catch (const ConfigErrors& e) {
    for (const auto& d : e.diagnostics()) errors.push_back(d.str());
  }
  ASSERT_EQ(errors.size(), 3u);
  auto mentions = [&](const std::string& what) {
    for (const auto& e : errors)
      if (e.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(mentions("watermark_scale_factor"));
  EXPECT_TRUE(mentions("weight of node 1 is 0"));
  EXPECT_TRUE(mentions("percpu_pagelist_high"));
  EXPECT_TRUE(p.interleave_weights.empty());
}

}  // namespace
}  // namespace numasim::os
