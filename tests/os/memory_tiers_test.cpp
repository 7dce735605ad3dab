// Memory tiers (os/memory_tiers.cpp, mm/memory-tiers.c): tiers from the
// abstract distance per node, establish_demotion_targets on the examples of
// Linux's memory-tiers.c comment, node_is_toptier, the sysfs files and the
// [os.memory_tiers] configuration errors.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "os/kernel.h"
#include "os/memory_tiers.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {
using testing::FakePlatform;

// Nodes with `cpus` cores each (0: CPU-less), 64 MiB each, the given SLIT.
Topology topology(const std::vector<int>& cpus, const std::string& distances) {
  int sockets = 0;
  for (int c : cpus) sockets += c != 0;
  std::string text =
      "[machine]\nsockets = " + std::to_string(sockets) + "\ncores_per_socket = 2\ndistances = " + distances + "\n";
  for (std::size_t i = 0; i < cpus.size(); ++i)
    text += cpus[i] ? "[[node]]\nsocket = " + std::to_string(i) + "\nmemory = \"64MiB\"\n"
                    : "[[node]]\ncpus = 0\nmemory = \"64MiB\"\n";
  text += "[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = \"34.3GB/s\"\n";
  for (std::size_t i = 2; i < cpus.size(); ++i)
    text += "[[link]]\nnodes = [" + std::to_string(i % 2) + ", " + std::to_string(i) +
            "]\nlatency = \"40ns\"\nbandwidth = \"32GB/s\"\n";
  auto doc = ConfigDocument::from_string(text, "tiers.toml");
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

struct Machine {
  Machine(Topology topo, std::vector<int> adistance) : topo_(std::move(topo)) {
    params_.memtier.adistance = std::move(adistance);
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
  Kernel& k() { return *kernel_; }
  std::string nodelist(int tier) {
    return k().memory_tiers_sysfs_show("/sys/devices/virtual/memory_tiering/memory_tier" + std::to_string(tier) +
                                       "/nodelist")
        .value_or("<none>");
  }
  Topology topo_;
  KernelParams params_;
  FakePlatform platform_;
  std::unique_ptr<Kernel> kernel_;
};

TEST(MemoryTiersTest, EveryNodeIsDramByDefault) {
  Machine m(topology({2, 2, 0}, "[[10, 21, 14], [21, 10, 24], [14, 24, 10]]"), {});
  ASSERT_EQ(m.k().memory_tiers().tiers.size(), 1u);
  EXPECT_EQ(m.nodelist(4), "0-2\n");  // 576 / 128
  for (int n = 0; n < 3; ++n) {
    EXPECT_TRUE(m.k().node_is_toptier(n));
    EXPECT_EQ(m.k().next_demotion_node(n), NUMA_NO_NODE);
  }
}

// configs/cxl-tiered.toml: two sockets and a CXL expander attached to socket 0.
TEST(MemoryTiersTest, CxlExpanderIsTheLowerTierOfBothSockets) {
  Machine m(topology({2, 2, 0}, "[[10, 21, 14], [21, 10, 24], [14, 24, 10]]"),
            {MEMTIER_ADISTANCE_DRAM, MEMTIER_ADISTANCE_DRAM, MEMTIER_DEFAULT_DAX_ADISTANCE});
  EXPECT_EQ(m.nodelist(4), "0-1\n");
  EXPECT_EQ(m.nodelist(22), "2\n");  // 2880 / 128
  EXPECT_EQ(m.nodelist(5), "<none>");
  EXPECT_TRUE(m.k().node_is_toptier(0));
  EXPECT_TRUE(m.k().node_is_toptier(1));
  EXPECT_FALSE(m.k().node_is_toptier(2));
  EXPECT_EQ(m.k().next_demotion_node(0), 2);
  EXPECT_EQ(m.k().next_demotion_node(1), 2);
  EXPECT_EQ(m.k().next_demotion_node(2), NUMA_NO_NODE);  // the last tier
  EXPECT_EQ(m.k().node_get_allowed_targets(0).bits, 0b100u);
  EXPECT_EQ(m.k().node_get_allowed_targets(2).bits, 0u);
  EXPECT_FALSE(m.k().node_demotion_enabled());  // off at boot, as Linux
}

// memory-tiers.c, example 1: nodes 2 and 3 are PMEM, each nearer one socket.
TEST(MemoryTiersTest, EachNodeDemotesToTheNearestNodeOfTheNextTier) {
  Machine m(topology({2, 2, 0, 0}, "[[10, 20, 30, 40], [20, 10, 40, 30], [30, 40, 10, 40], [40, 30, 40, 10]]"),
            {576, 576, 2880, 2880});
  EXPECT_EQ(m.nodelist(22), "2-3\n");
  EXPECT_EQ(m.k().next_demotion_node(0), 2);
  EXPECT_EQ(m.k().next_demotion_node(1), 3);
  EXPECT_EQ(m.k().memory_tiers().node_demotion[0].bits, 0b0100u);
  EXPECT_EQ(m.k().memory_tiers().node_demotion[1].bits, 0b1000u);
  // Both at the same distance: both preferred.
  Machine eq(topology({2, 2, 0, 0}, "[[10, 20, 30, 30], [20, 10, 30, 30], [30, 30, 10, 40], [30, 30, 40, 10]]"),
             {576, 576, 2880, 2880});
  EXPECT_EQ(eq.k().memory_tiers().node_demotion[0].bits, 0b1100u);
}

// Example 3: node 1 is CPU-less HBM (faster than DRAM), node 2 PMEM: three
// tiers; the top tier reaches down to the lowest tier with CPUs (node 0's).
TEST(MemoryTiersTest, ThreeTiersDemoteOneStepAtATime) {
  Machine m(topology({2, 0, 0}, "[[10, 20, 30], [20, 10, 40], [30, 40, 10]]"), {576, 300, 2880});
  EXPECT_EQ(m.nodelist(2), "1\n");
  EXPECT_EQ(m.nodelist(4), "0\n");
  EXPECT_EQ(m.nodelist(22), "2\n");
  EXPECT_EQ(m.k().next_demotion_node(1), 0);
  EXPECT_EQ(m.k().next_demotion_node(0), 2);
  EXPECT_EQ(m.k().next_demotion_node(2), NUMA_NO_NODE);
  EXPECT_TRUE(m.k().node_is_toptier(1));
  EXPECT_TRUE(m.k().node_is_toptier(0));
  EXPECT_FALSE(m.k().node_is_toptier(2));
  EXPECT_EQ(m.k().node_get_allowed_targets(1).bits, 0b101u);  // every node below
}

TEST(MemoryTiersTest, DemotionEnabledStoreAndShow) {
  Machine m(topology({2, 2, 0}, "[[10, 21, 14], [21, 10, 24], [14, 24, 10]]"), {576, 576, 2880});
  const std::string f = "/sys/kernel/mm/numa/demotion_enabled";
  EXPECT_EQ(m.k().memory_tiers_sysfs_show(f), "false\n");
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "1\n"), 0);
  EXPECT_EQ(m.k().memory_tiers_sysfs_show(f), "true\n");
  EXPECT_TRUE(m.k().node_demotion_enabled());
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "maybe"), -EINVAL);  // kstrtobool: nothing changes
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, ""), -EINVAL);
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "ox"), -EINVAL);
  EXPECT_TRUE(m.k().node_demotion_enabled());
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "off"), 0);
  EXPECT_FALSE(m.k().node_demotion_enabled());
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "N"), 0);
  EXPECT_EQ(m.k().memory_tiers_sysfs_store(f, "on"), 0);
  EXPECT_TRUE(m.k().node_demotion_enabled());
  EXPECT_EQ(m.k().memory_tiers_sysfs_store("/sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0"), -EACCES);
  EXPECT_EQ(m.k().memory_tiers_sysfs_store("/sys/kernel/mm/numa/nothing", "1"), -ENOENT);
  EXPECT_FALSE(m.k().memory_tiers_sysfs_show("/sys/devices/virtual/memory_tiering/memory_tier4/x").has_value());
  EXPECT_FALSE(m.k().memory_tiers_sysfs_show("/sys/devices/virtual/memory_tiering/memory_tier/nodelist").has_value());
}

TEST(MemoryTiersTest, ConfigurationErrorsAreLocated) {
  {
    auto doc = ConfigDocument::from_string("[memory_tiers]\nadistance = [576, -1]\ndemotion_enabled = true\n", "os.toml");
    const MemoryTierParams p = MemoryTierParams::from_config(doc->root());
    EXPECT_TRUE(p.demotion_enabled);
    EXPECT_THROW(doc->finish(), ConfigErrors);
  }
  {
    auto doc = ConfigDocument::from_string("[memory_tiers]\nadistance = [576, 576, 2880, 2880]\n", "os.toml");
    KernelParams params;
    params.memtier = MemoryTierParams::from_config(doc->root());
    doc->finish();
    Topology topo = topology({2, 2, 0}, "[[10, 21, 14], [21, 10, 24], [14, 24, 10]]");
    FakePlatform platform;
    try {
      Kernel k(topo, params, platform);
      FAIL() << "a list longer than the machine's nodes was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()),
                "os.toml:2:13: error: [os.memory_tiers] adistance has 4 entries; the machine has 3 nodes");
    }
  }
}

}  // namespace
}  // namespace numasim::os
