// Property test of the page allocator: long seeded random sequences of
// allocations and frees (random orders, GFP flags, CPUs, preferred nodes and
// nodemasks), with check_consistency() after every step and independent checks
// of each result: blocks never overlap, respect their zone limit, node
// restrictions and alignment; freeing everything restores the boot state.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "os/mempolicy.h"
#include "os/page_alloc.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

struct Held {
  page* pg;
  unsigned order;
  bool comp;
};

void run_property(std::uint64_t seed, int steps, int check_every) {
  FakePlatform plat;
  plat.record = false;
  // node 0: [0, 32 MiB) = DMA + DMA32, CPUs 0-1; node 1: [4 GiB, +32 MiB) Normal, CPUs 2-3;
  // node 2: [4 GiB + 32 MiB, +16 MiB) Normal, no CPUs.
  std::vector<NodeLayout> nodes{{NodeId(0), 0, Bytes(32 << 20), {CpuId(0), CpuId(1)}},
                                {NodeId(1), 4ull << 30, Bytes(32 << 20), {CpuId(2), CpuId(3)}},
                                {NodeId(2), (4ull << 30) + (32 << 20), Bytes(16 << 20), {}}};
  PhysMemParams params;
  params.pcp_high = 24;  // small lists so that draining happens often
  params.pcp_batch = 5;
  PhysMem pm(nodes, {{10, 21, 30}, {21, 10, 30}, {30, 30, 10}}, params, plat);
  std::vector<std::int64_t> boot_free;
  for (int n = 0; n < 3; ++n) boot_free.push_back(pm.node_zone_page_state(NodeId(n), NR_FREE_PAGES));

  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> used(pm.max_pfn(), 0);
  std::vector<Held> held;
  const gfp_t gfps[] = {GFP_KERNEL,
                        GFP_USER,
                        GFP_HIGHUSER_MOVABLE,
                        GFP_DMA,
                        GFP_DMA32,
                        GFP_ATOMIC,
                        GFP_NOWAIT,
                        GFP_KERNEL | __GFP_THISNODE,
                        GFP_KERNEL | __GFP_RECLAIMABLE,
                        GFP_HIGHUSER_MOVABLE | __GFP_COMP,
                        GFP_KERNEL | __GFP_ZERO};
  KernelCost cost;
  std::uint64_t allocs = 0, failures = 0;
  for (int step = 0; step < steps; ++step) {
    const CpuId cpu(static_cast<int>(rng() % 4));
    const unsigned action = rng() % 100;
    if (action < 55 || held.empty()) {
      // Orders: mostly small, sometimes up to MAX_ORDER - 1.
      unsigned order = (rng() % 4 == 0) ? rng() % MAX_ORDER : rng() % 3;
      gfp_t gfp = gfps[rng() % std::size(gfps)];
      NodeId nid(static_cast<int>(rng() % 4) - 1);  // -1: NUMA_NO_NODE (local)
      nodemask_t mask{};
      const bool use_mask = rng() % 5 == 0;
      if (use_mask) mask.bits = 1 + rng() % 7;
      page* pg = pm.alloc_pages(cpu, gfp, order, nid, use_mask ? &mask : nullptr, cost);
      if (!pg) {
        ++failures;
      } else {
        ++allocs;
        const std::uint64_t pfn = pm.page_to_pfn(pg).value();
        ASSERT_EQ(pfn & ((1ull << order) - 1), 0u) << "misaligned block";
        for (std::uint64_t i = 0; i < (1ull << order); ++i) {
          ASSERT_EQ(used[pfn + i], 0) << "pfn " << pfn + i << " handed out twice";
          used[pfn + i] = 1;
        }
        const zone* z = pm.page_zone(pg);
        ASSERT_LE(z->idx, gfp_zone(gfp)) << "zone above the GFP limit";
        ASSERT_TRUE(z->zone_spans_pfn(pfn + (1ull << order) - 1)) << "block crosses its zone";
        const int pnid = pm.page_to_nid(pg).value();
        if (gfp & __GFP_THISNODE) {
          const int want = nid.value() < 0 ? pm.cpu_to_node(cpu).value() : nid.value();
          ASSERT_EQ(pnid, want) << "__GFP_THISNODE left the node";
        }
        if (use_mask) {
          ASSERT_TRUE(node_isset(pnid, mask)) << "nodemask violated";
        }
        ASSERT_EQ(page_ref_count(pg), 1);
        held.push_back({pg, order, (gfp & __GFP_COMP) && order > 0});
      }
    } else {
      const std::size_t i = rng() % held.size();
      Held h = held[i];
      held[i] = held.back();
      held.pop_back();
      const std::uint64_t pfn = pm.page_to_pfn(h.pg).value();
      for (std::uint64_t k = 0; k < (1ull << h.order); ++k) used[pfn + k] = 0;
      pm.free_pages(cpu, h.pg, h.order, cost);
    }
    if (action == 99) pm.drain_local_pages(cpu, cost);
    if (step % check_every == 0) pm.check_consistency();
  }
  pm.check_consistency();
  EXPECT_GT(allocs, static_cast<std::uint64_t>(steps) / 3);
  EXPECT_GT(failures, 0u) << "the machine never ran full; the test explores too little";
  // Tear down: free everything and drain; every node returns to its boot state.
  for (const Held& h : held) pm.free_pages(CpuId(0), h.pg, h.order, cost);
  pm.drain_all_pages(cost);
  pm.check_consistency();
  for (int n = 0; n < 3; ++n) EXPECT_EQ(pm.node_zone_page_state(NodeId(n), NR_FREE_PAGES), boot_free[n]);
  for (int n = 0; n < 3; ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) {
      if (!z.populated()) continue;
      std::uint64_t pages = 0;
      for (unsigned o = 0; o < MAX_ORDER; ++o) pages += z.free_area[o].nr_free << o;
      EXPECT_EQ(pages, z.managed_pages);
      // Fully merged again: only order-10 blocks (all zones here are 4 MiB multiples).
      EXPECT_EQ(z.free_area[MAX_ORDER - 1].nr_free << (MAX_ORDER - 1), z.managed_pages) << z.name;
    }
  EXPECT_EQ(pm.sum_vm_event(PGFREE), pm.sum_vm_event(PGALLOC_DMA) + pm.sum_vm_event(PGALLOC_DMA32) +
                                         pm.sum_vm_event(PGALLOC_NORMAL) + pm.sum_vm_event(PGALLOC_MOVABLE));
  std::uint64_t hits = 0, misses = 0, foreign = 0, local = 0, other = 0;
  for (int n = 0; n < 3; ++n) {
    hits += pm.node_numa_event_state(NodeId(n), NUMA_HIT);
    misses += pm.node_numa_event_state(NodeId(n), NUMA_MISS);
    foreign += pm.node_numa_event_state(NodeId(n), NUMA_FOREIGN);
    local += pm.node_numa_event_state(NodeId(n), NUMA_LOCAL);
    other += pm.node_numa_event_state(NodeId(n), NUMA_OTHER);
  }
  EXPECT_EQ(hits + misses, allocs);
  EXPECT_EQ(misses, foreign);
  EXPECT_EQ(local + other, allocs);
}

TEST(PhysMemProperty, RandomAllocFree100kCheckedEveryStep) { run_property(0x5eed1, 100000, 1); }

TEST(PhysMemProperty, OtherSeeds) {
  for (std::uint64_t seed : {2u, 3u, 4u}) run_property(seed, 20000, 7);
}

// Interleave through the policy layer under the same random churn.
TEST(PhysMemProperty, InterleaveUnderChurnStaysBalanced) {
  FakePlatform plat;
  plat.record = false;
  PhysMem pm({{NodeId(0), 4ull << 30, Bytes(16 << 20), {CpuId(0)}},
              {NodeId(1), (4ull << 30) + (16 << 20), Bytes(16 << 20), {CpuId(1)}}},
             {{10, 21}, {21, 10}}, {}, plat);
  mempolicy pol;
  nodemask_t both{3};
  ASSERT_EQ(mpol_new(MPOL_INTERLEAVE, 0, both, pol, pm), 0);
  std::mt19937_64 rng(9);
  KernelCost cost;
  std::vector<page*> held;
  int per_node[2] = {0, 0};
  for (int i = 0; i < 20000; ++i) {
    if (held.size() < 1000 || rng() % 2) {
      page* pg = alloc_pages_mpol(pm, CpuId(static_cast<int>(rng() % 2)), GFP_HIGHUSER_MOVABLE, 0, &pol,
                                  NO_INTERLEAVE_INDEX, cost);
      ASSERT_NE(pg, nullptr);
      per_node[pm.page_to_nid(pg).value()]++;
      held.push_back(pg);
    } else {
      std::size_t k = rng() % held.size();
      pm.free_pages(CpuId(static_cast<int>(rng() % 2)), held[k], 0, cost);
      held[k] = held.back();
      held.pop_back();
    }
    if (i % 97 == 0) pm.check_consistency();
  }
  EXPECT_LE(std::abs(per_node[0] - per_node[1]), 1);
  EXPECT_EQ(pm.node_numa_event_state(NodeId(0), NUMA_INTERLEAVE_HIT) +
                pm.node_numa_event_state(NodeId(1), NUMA_INTERLEAVE_HIT),
            static_cast<std::uint64_t>(per_node[0] + per_node[1]));
}

}  // namespace
}  // namespace numasim::os
