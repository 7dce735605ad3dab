// Tests of memory-policy objects and node choice (os/mempolicy.*): mpol_new's
// errors as set_mempolicy(2)/mbind(2) list them, interleave and weighted
// interleave distribution, bind/preferred/preferred-many placement and the
// numastat counters each produces.
#include "os/mempolicy.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>

#include "os/page_alloc.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr PhysAddr k4G = 4ull << 30;

nodemask_t mask(std::initializer_list<int> nodes) {
  nodemask_t m{};
  for (int n : nodes) node_set(n, m);
  return m;
}

// Three nodes of 16 MiB: CPUs 0,1 on node 0, CPU 2 on node 1, node 2 CPU-less.
struct Machine {
  FakePlatform plat;
  std::unique_ptr<PhysMem> pm;
  explicit Machine(PhysMemParams p = {}) {
    std::vector<NodeLayout> nodes{{NodeId(0), k4G, Bytes(16 << 20), {CpuId(0), CpuId(1)}},
                                  {NodeId(1), k4G + (16 << 20), Bytes(16 << 20), {CpuId(2)}},
                                  {NodeId(2), k4G + (32 << 20), Bytes(16 << 20), {}}};
    pm = std::make_unique<PhysMem>(nodes, std::vector<std::vector<int>>{{10, 21, 30}, {21, 10, 30}, {30, 30, 10}}, p,
                                   plat);
  }
};

TEST(Mempolicy, NodemaskHelpers) {
  nodemask_t m = mask({1, 3, 5});
  EXPECT_EQ(nodes_weight(m), 3);
  EXPECT_EQ(first_node(m), 1);
  EXPECT_EQ(next_node(1, m), 3);
  EXPECT_EQ(next_node(5, m), MAX_NUMNODES);
  EXPECT_EQ(next_node_in(5, m), 1);
  EXPECT_EQ(next_node_in(MAX_NUMNODES - 1, m), 1);
  EXPECT_EQ(node_nth(m, 2), 5);
  EXPECT_EQ(node_nth(m, 3), MAX_NUMNODES);
  EXPECT_EQ(first_node(nodemask_t{}), MAX_NUMNODES);
  EXPECT_EQ(next_node_in(0, nodemask_t{}), MAX_NUMNODES);
  // Relative: user node i -> the (i mod 2)-th of {4, 6}.
  EXPECT_EQ(nodes_relative(mask({0, 3}), mask({4, 6})), mask({4, 6}));
  EXPECT_EQ(nodes_relative(mask({2}), mask({4, 6})), mask({4}));
}

TEST(Mempolicy, SanitizeFlagsSplitsModeAndRejectsBadCombinations) {
  int mode = MPOL_BIND | MPOL_F_STATIC_NODES;
  unsigned short flags = 0;
  EXPECT_EQ(sanitize_mpol_flags(&mode, &flags), 0);
  EXPECT_EQ(mode, MPOL_BIND);
  EXPECT_EQ(flags, MPOL_F_STATIC_NODES);
  mode = MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES;
  EXPECT_EQ(sanitize_mpol_flags(&mode, &flags), -EINVAL);
  mode = MPOL_MAX;
  EXPECT_EQ(sanitize_mpol_flags(&mode, &flags), -EINVAL);
  mode = MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING;
  EXPECT_EQ(sanitize_mpol_flags(&mode, &flags), -EINVAL);
  mode = MPOL_BIND | MPOL_F_NUMA_BALANCING;
  EXPECT_EQ(sanitize_mpol_flags(&mode, &flags), 0);
  EXPECT_TRUE(flags & MPOL_F_MOF);
}

// set_mempolicy(2), ERRORS: EINVAL for an invalid mode, MPOL_DEFAULT with a
// non-empty nodemask, an empty nodemask for BIND/INTERLEAVE/PREFERRED_MANY/
// WEIGHTED_INTERLEAVE, both STATIC and RELATIVE, STATIC/RELATIVE with an empty
// MPOL_PREFERRED set, MPOL_LOCAL with nodes, and no node of the mask allowed.
TEST(Mempolicy, MpolNewErrorsFromTheManPage) {
  Machine m;
  mempolicy pol;
  EXPECT_EQ(mpol_new(MPOL_MAX, 0, mask({0}), pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(-1, 0, mask({0}), pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_DEFAULT, 0, mask({0}), pol, *m.pm), -EINVAL);
  for (int mode : {MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED_MANY, MPOL_WEIGHTED_INTERLEAVE})
    EXPECT_EQ(mpol_new(mode, 0, nodemask_t{}, pol, *m.pm), -EINVAL) << mode;
  EXPECT_EQ(mpol_new(MPOL_BIND, MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, mask({0}), pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_PREFERRED, MPOL_F_STATIC_NODES, nodemask_t{}, pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_PREFERRED, MPOL_F_RELATIVE_NODES, nodemask_t{}, pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_LOCAL, 0, mask({1}), pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_LOCAL, MPOL_F_STATIC_NODES, nodemask_t{}, pol, *m.pm), -EINVAL);
  EXPECT_EQ(mpol_new(MPOL_BIND, 0, mask({7}), pol, *m.pm), -EINVAL);  // node 7 does not exist
  EXPECT_EQ(mpol_new(MPOL_INTERLEAVE, MPOL_F_NUMA_BALANCING, mask({0}), pol, *m.pm), -EINVAL);
}

TEST(Mempolicy, MpolNewAcceptsValidPolicies) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_DEFAULT, 0, nodemask_t{}, pol, *m.pm), 0);
  EXPECT_EQ(pol.mode, MPOL_DEFAULT);
  ASSERT_EQ(mpol_new(MPOL_PREFERRED, 0, nodemask_t{}, pol, *m.pm), 0);
  EXPECT_EQ(pol.mode, MPOL_LOCAL);  // empty preferred set means local allocation
  ASSERT_EQ(mpol_new(MPOL_PREFERRED, 0, mask({2, 1}), pol, *m.pm), 0);
  EXPECT_EQ(pol.nodes, mask({1}));  // the first node of the set
  ASSERT_EQ(mpol_new(MPOL_BIND, 0, mask({1, 2, 9}), pol, *m.pm), 0);
  EXPECT_EQ(pol.nodes, mask({1, 2}));  // nodes without memory dropped
  EXPECT_EQ(mpol_get_nodemask(pol), mask({1, 2}));
  ASSERT_EQ(mpol_new(MPOL_INTERLEAVE, MPOL_F_STATIC_NODES, mask({0, 9}), pol, *m.pm), 0);
  EXPECT_EQ(pol.nodes, mask({0}));
  EXPECT_EQ(mpol_get_nodemask(pol), mask({0, 9}));  // get_mempolicy reports the user's mask
  ASSERT_EQ(mpol_new(MPOL_INTERLEAVE, MPOL_F_RELATIVE_NODES, mask({4}), pol, *m.pm), 0);
  EXPECT_EQ(pol.nodes, mask({1}));  // 4 mod 3 nodes = the 2nd node
  ASSERT_EQ(mpol_new(MPOL_LOCAL, 0, nodemask_t{}, pol, *m.pm), 0);
  EXPECT_EQ(mpol_get_nodemask(pol), nodemask_t{});
}

TEST(Mempolicy, BindFromAnotherNodeCountsOtherNode) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_BIND, 0, mask({1}), pol, *m.pm), 0);
  KernelCost cost;
  for (int i = 0; i < 10; ++i) {
    page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost);
    ASSERT_NE(pg, nullptr);
    EXPECT_EQ(m.pm->page_to_nid(pg).value(), 1);
  }
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(1), NUMA_HIT), 10u);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(1), NUMA_OTHER), 10u);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(1), NUMA_LOCAL), 0u);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(0), NUMA_FOREIGN), 0u);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(0), NUMA_HIT), 0u);
}

TEST(Mempolicy, BindNeverLeavesItsNodes) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_BIND, 0, mask({2}), pol, *m.pm), 0);
  KernelCost cost;
  int n = 0;
  while (page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost)) {
    ASSERT_EQ(m.pm->page_to_nid(pg).value(), 2);
    ++n;
  }
  EXPECT_GT(n, 3500);
  // Node 0 is untouched and still serves the default policy.
  page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, nullptr, NO_INTERLEAVE_INDEX, cost);
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(m.pm->page_to_nid(pg).value(), 0);
}

TEST(Mempolicy, PreferredFallsBackWhenFull) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_PREFERRED, 0, mask({2}), pol, *m.pm), 0);
  KernelCost cost;
  std::map<int, int> per_node;
  for (int i = 0; i < 5000; ++i) {
    page* pg = alloc_pages_mpol(*m.pm, CpuId(2), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost);
    ASSERT_NE(pg, nullptr);
    per_node[m.pm->page_to_nid(pg).value()]++;
  }
  EXPECT_GT(per_node[2], 3500);
  // Node 2's zonelist is 2, then 0 and 1 (equal distance, equal penalties and
  // node_load: the lower id wins), so the overflow lands on node 0.
  EXPECT_GT(per_node[0], 0);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(2), NUMA_FOREIGN), static_cast<std::uint64_t>(per_node[0]));
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(0), NUMA_MISS), static_cast<std::uint64_t>(per_node[0]));
}

TEST(Mempolicy, PreferredManyTriesItsNodesThenAnywhere) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_PREFERRED_MANY, 0, mask({1, 2}), pol, *m.pm), 0);
  KernelCost cost;
  std::map<int, int> per_node;
  for (int i = 0; i < 9000; ++i) {
    page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost);
    ASSERT_NE(pg, nullptr);
    per_node[m.pm->page_to_nid(pg).value()]++;
    if (per_node[0] == 0) {
      ASSERT_NE(m.pm->page_to_nid(pg).value(), 0) << "node 0 used while 1 and 2 had memory";
    }
  }
  EXPECT_GT(per_node[1], 3000);
  EXPECT_GT(per_node[2], 3000);
  EXPECT_GT(per_node[0], 0);
}

TEST(Mempolicy, InterleaveByCursorRoundRobinsAndCountsHits) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_INTERLEAVE, 0, mask({0, 1, 2}), pol, *m.pm), 0);
  KernelCost cost;
  std::vector<int> first;
  std::map<int, int> per_node;
  for (int i = 0; i < 300; ++i) {
    page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost);
    ASSERT_NE(pg, nullptr);
    int nid = m.pm->page_to_nid(pg).value();
    if (i < 6) first.push_back(nid);
    per_node[nid]++;
  }
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2, 0, 1, 2}));
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(per_node[n], 100);
    EXPECT_EQ(m.pm->node_numa_event_state(NodeId(n), NUMA_INTERLEAVE_HIT), 100u);
    EXPECT_EQ(m.pm->node_numa_event_state(NodeId(n), NUMA_HIT), 100u);  // the target is the preferred node
  }
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(0), NUMA_LOCAL), 100u);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(1), NUMA_OTHER), 100u);
}

TEST(Mempolicy, InterleaveByIndexUsesTheOffset) {
  Machine m;
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_INTERLEAVE, 0, mask({1, 2}), pol, *m.pm), 0);
  EXPECT_EQ(interleave_nid(pol, 0), 1);
  EXPECT_EQ(interleave_nid(pol, 1), 2);
  EXPECT_EQ(interleave_nid(pol, 7), 2);
  EXPECT_EQ(interleave_nid(pol, 100), 1);
  KernelCost cost;
  page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, 5, cost);
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(m.pm->page_to_nid(pg).value(), 2);
  EXPECT_EQ(pol.il_prev, MAX_NUMNODES - 1);  // index-based choice leaves the cursor alone
}

TEST(Mempolicy, WeightedInterleaveFollowsTheWeights) {
  PhysMemParams p;
  p.interleave_weights = {3, 1, 2};
  Machine m(p);
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_WEIGHTED_INTERLEAVE, 0, mask({0, 1, 2}), pol, *m.pm), 0);
  // By index: total weight 6 -> 0,0,0,1,2,2.
  std::vector<int> by_index;
  for (int i = 0; i < 12; ++i) by_index.push_back(weighted_interleave_nid(pol, i, *m.pm));
  EXPECT_EQ(by_index, (std::vector<int>{0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 2, 2}));
  // By cursor: the same pattern.
  KernelCost cost;
  std::vector<int> by_cursor;
  std::map<int, int> per_node;
  for (int i = 0; i < 600; ++i) {
    page* pg = alloc_pages_mpol(*m.pm, CpuId(0), GFP_HIGHUSER_MOVABLE, 0, &pol, NO_INTERLEAVE_INDEX, cost);
    ASSERT_NE(pg, nullptr);
    int nid = m.pm->page_to_nid(pg).value();
    if (i < 12) by_cursor.push_back(nid);
    per_node[nid]++;
  }
  EXPECT_EQ(by_cursor, (std::vector<int>{0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 2, 2}));
  EXPECT_EQ(per_node[0], 300);
  EXPECT_EQ(per_node[1], 100);
  EXPECT_EQ(per_node[2], 200);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(2), NUMA_INTERLEAVE_HIT), 200u);
}

TEST(Mempolicy, SysfsWeightWritesChangeEveryWeightedPolicy) {
  Machine m;  // three nodes, weights unset (all 1)
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_WEIGHTED_INTERLEAVE, 0, mask({0, 1, 2}), pol, *m.pm), 0);
  EXPECT_EQ(weighted_interleave_nid(pol, 1, *m.pm), 1);
  EXPECT_EQ(m.pm->set_interleave_weight(NodeId(0), 2), 0);
  EXPECT_EQ(m.pm->params().interleave_weights, (std::vector<std::uint8_t>{2, 1, 1}));
  EXPECT_EQ(weighted_interleave_nid(pol, 1, *m.pm), 0);  // 0,0,1,2: the existing policy sees it
  EXPECT_EQ(m.pm->set_interleave_weight(NodeId(1), 0), -EINVAL);
  EXPECT_EQ(m.pm->set_interleave_weight(NodeId(1), 256), -EINVAL);
  EXPECT_EQ(m.pm->set_interleave_weight(NodeId(3), 1), -EINVAL);
  EXPECT_EQ(m.pm->params().interleave_weights, (std::vector<std::uint8_t>{2, 1, 1}));  // unchanged
}

TEST(Mempolicy, DefaultAndLocalAllocateOnTheCpusNode) {
  Machine m;
  mempolicy local;
  ASSERT_EQ(mpol_new(MPOL_LOCAL, 0, nodemask_t{}, local, *m.pm), 0);
  KernelCost cost;
  page* a = alloc_pages_mpol(*m.pm, CpuId(2), GFP_KERNEL, 0, nullptr, NO_INTERLEAVE_INDEX, cost);
  page* b = alloc_pages_mpol(*m.pm, CpuId(2), GFP_KERNEL, 0, &local, NO_INTERLEAVE_INDEX, cost);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(m.pm->page_to_nid(a).value(), 1);
  EXPECT_EQ(m.pm->page_to_nid(b).value(), 1);
  EXPECT_EQ(m.pm->node_numa_event_state(NodeId(1), NUMA_LOCAL), 2u);
}

TEST(Mempolicy, BindDoesNotApplyBelowPolicyZone) {
  FakePlatform plat;
  // Node 0 has DMA/DMA32/Normal, node 1 Normal: policy_zone is Normal, so a
  // GFP_DMA32 request ignores a bind to node 1 (apply_policy_zone).
  PhysMem pm({{NodeId(0), 0, Bytes(k4G + (64 << 20)), {CpuId(0)}}, {NodeId(1), 2 * k4G, Bytes(64 << 20), {CpuId(1)}}},
             {{10, 21}, {21, 10}}, {}, plat);
  EXPECT_EQ(pm.policy_zone(), ZONE_NORMAL);
  mempolicy pol;
  ASSERT_EQ(mpol_new(MPOL_BIND, 0, mask({1}), pol, pm), 0);
  KernelCost cost;
  page* pg = alloc_pages_mpol(pm, CpuId(0), GFP_DMA32, 0, &pol, NO_INTERLEAVE_INDEX, cost);
  ASSERT_NE(pg, nullptr);
  EXPECT_EQ(pm.page_zone(pg)->idx, ZONE_DMA32);
  EXPECT_EQ(pm.page_to_nid(pg).value(), 0);
}

}  // namespace
}  // namespace numasim::os
