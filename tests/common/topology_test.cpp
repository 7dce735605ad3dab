// Topology: node layout, CPU numbering, shortest paths, hop counts, bottleneck
// bandwidth and SLIT distances for the machine shapes users configure.
#include "common/topology.h"

#include <gtest/gtest.h>

#include "common/config.h"

using namespace numasim;

namespace {
Topology build(const std::string& text, std::vector<std::string>* errors = nullptr) {
  auto doc = ConfigDocument::from_string(text, "topo.toml");
  Topology t = Topology::from_config(doc->root());
  try {
    doc->finish();
  } catch (const ConfigErrors& e) {
    if (!errors) throw;
    for (const auto& d : e.diagnostics()) errors->push_back(d.str());
  }
  return t;
}

std::string links_full_mesh(int n, const char* latency) {
  std::string s;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b)
      s += "[[link]]\nnodes = [" + std::to_string(a) + ", " + std::to_string(b) + "]\nlatency = \"" + latency +
           "\"\nbandwidth = \"20GB/s\"\n";
  return s;
}
}  // namespace

TEST(Topology, TwoSocketsWithExplicitSlit) {
  Topology t = build(
      "[machine]\nsockets = 2\ncores_per_socket = 4\nmemory_per_node = \"1GiB\"\n"
      "distances = [[10, 21], [21, 10]]\n" +
      links_full_mesh(2, "50ns"));
  ASSERT_EQ(t.num_nodes(), 2);
  EXPECT_EQ(t.num_cpus(), 8);
  EXPECT_EQ(t.cpu_node(CpuId(5)).value(), 1);
  EXPECT_EQ(t.node(NodeId(1)).base, 1ull << 30);
  EXPECT_EQ(t.phys_node((1ull << 30) + 4096).value(), 1);
  EXPECT_EQ(t.distance(NodeId(0), NodeId(1)), 21);
  EXPECT_EQ(t.hops(NodeId(0), NodeId(1)), 1);
  EXPECT_EQ(t.path_latency(NodeId(1), NodeId(0)).value(), 50000u);
  std::string hw = t.numactl_hardware();
  EXPECT_NE(hw.find("available: 2 nodes (0-1)\n"), std::string::npos) << hw;
  EXPECT_NE(hw.find("node 1 cpus: 4 5 6 7\n"), std::string::npos) << hw;
  EXPECT_NE(hw.find("node distances:\nnode   0   1 \n  0:  10  21 \n  1:  21  10 \n"), std::string::npos) << hw;
}

TEST(Topology, FullyConnectedFourSocketsAreOneHopApart) {
  Topology t =
      build("[machine]\nsockets = 4\ncores_per_socket = 2\nmemory_per_node = \"1GiB\"\n" + links_full_mesh(4, "60ns"));
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b) {
      EXPECT_EQ(t.hops(NodeId(a), NodeId(b)), a == b ? 0 : 1);
      EXPECT_EQ(t.distance(NodeId(a), NodeId(b)), a == b ? 10 : 23);  // 10 * (90 + 2 * 60) / 90
    }
}

TEST(Topology, RingOfFourHasTwoHopDiagonals) {
  std::string links;
  for (int a = 0; a < 4; ++a)
    links += "[[link]]\nnodes = [" + std::to_string(a) + ", " + std::to_string((a + 1) % 4) +
             "]\nlatency = \"40ns\"\nbandwidth = \"" + (a == 0 ? "10GB/s" : "20GB/s") + "\"\n";
  Topology t = build("[machine]\nsockets = 4\ncores_per_socket = 1\nmemory_per_node = \"1GiB\"\n" + links);
  EXPECT_EQ(t.hops(NodeId(0), NodeId(2)), 2);
  EXPECT_EQ(t.path_latency(NodeId(0), NodeId(2)).value(), 80000u);
  EXPECT_EQ(t.hops(NodeId(1), NodeId(3)), 2);
  EXPECT_GT(t.distance(NodeId(0), NodeId(2)), t.distance(NodeId(0), NodeId(1)));
  // 0 -> 1 uses the slow link 0-1 (the only one-hop path): its bottleneck is 10 GB/s.
  EXPECT_EQ(t.path_bandwidth(NodeId(0), NodeId(1)).bytes_per_second(), 10000000000u);
  EXPECT_EQ(t.path_links(NodeId(0), NodeId(1)), std::vector<int>{0});
}

TEST(Topology, EightSocketsWithTwoHopPairs) {
  // Two fully connected quads (0-3, 4-7) joined by links i <-> i+4.
  std::string links;
  auto link = [&](int a, int b) {
    links += "[[link]]\nnodes = [" + std::to_string(a) + ", " + std::to_string(b) +
             "]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n";
  };
  for (int q = 0; q < 2; ++q)
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b) link(q * 4 + a, q * 4 + b);
  for (int i = 0; i < 4; ++i) link(i, i + 4);
  Topology t = build("[machine]\nsockets = 8\ncores_per_socket = 1\nmemory_per_node = \"1GiB\"\n" + links);
  EXPECT_EQ(t.hops(NodeId(0), NodeId(4)), 1);
  EXPECT_EQ(t.hops(NodeId(0), NodeId(5)), 2);
  EXPECT_EQ(t.path_links(NodeId(0), NodeId(5)).size(), 2u);
  EXPECT_EQ(t.distance(NodeId(0), NodeId(5)), 32);  // 10 * (90 + 2 * 100) / 90 rounded
}

TEST(Topology, CpuLessNodeAndNpsSplit) {
  Topology t = build(
      "[machine]\nsockets = 1\ncores_per_socket = 8\n"
      "[[node]]\nsocket = 0\nmemory = \"1GiB\"\n"
      "[[node]]\nsocket = 0\nmemory = \"1GiB\"\n"
      "[[node]]\ncpus = 0\nmemory = \"4GiB\"\n"
      "[[link]]\nnodes = [0, 1]\nlatency = \"10ns\"\nbandwidth = \"50GB/s\"\n"
      "[[link]]\nnodes = [0, 2]\nlatency = \"80ns\"\nbandwidth = \"32GB/s\"\n");
  ASSERT_EQ(t.num_nodes(), 3);
  EXPECT_EQ(t.node(NodeId(0)).cpus.size(), 4u);
  EXPECT_EQ(t.node(NodeId(1)).cpus.size(), 4u);
  EXPECT_FALSE(t.node(NodeId(2)).has_cpus());
  EXPECT_EQ(t.node(NodeId(2)).socket, -1);
  EXPECT_EQ(t.hops(NodeId(1), NodeId(2)), 2);
  EXPECT_EQ(t.path_latency(NodeId(1), NodeId(2)).value(), 90000u);
}

TEST(Topology, ErrorsDisconnectedNodesAndBadDistances) {
  std::vector<std::string> errors;
  build(
      "[machine]\nsockets = 2\ncores_per_socket = 1\nmemory_per_node = \"1GiB\"\n"
      "distances = [[10, 5], [21, 10]]\n",
      &errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("topo.toml:5:13: error: machine.distances: expected a 2x2 matrix"), std::string::npos)
      << errors[0];
  EXPECT_NE(errors[1].find("nodes 0 and 1 are not connected"), std::string::npos) << errors[1];
}
