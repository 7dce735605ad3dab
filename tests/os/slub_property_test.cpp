// Property test: long random mixes of allocations and frees over several
// caches, CPUs and nodes (node requests, remote frees, kmalloc of every size
// class and large blocks, failslab on or off), with SLUB's and the page
// allocator's consistency checkers after each step and a shadow record of
// live objects: no object is handed out twice, objects never overlap, every
// live object stays allocated, and once everything is freed and the caches
// are shrunk every frame is back in the buddy allocator.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "os/kmalloc.h"
#include "os/slub.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

struct Live {
  std::size_t size;
  int cache;  // -1: kmalloc
};

void run_mix(unsigned seed, int steps, unsigned failslab_percent, int check_every) {
  SlubParams sp;
  sp.failslab.probability = failslab_percent;
  sp.failslab.seed = seed;
  SlubMachine m(3, 2, 64, sp);  // 3 nodes, 6 CPUs
  std::int64_t free_before[3] = {m.free_pages(0), m.free_pages(1), m.free_pages(2)};
  std::vector<kmem_cache*> caches = {
      m.slub->kmem_cache_create("p24", 24, 0, 0),
      m.slub->kmem_cache_create("p200", 200, 0, SLAB_HWCACHE_ALIGN),
      m.slub->kmem_cache_create("p700r", 700, 0, SLAB_RECLAIM_ACCOUNT),
      m.slub->kmem_cache_create("p3000", 3000, 0, 0),
      m.slub->kmem_cache_create("ctor", 96, 0, 0, [](void*) {}),
  };
  Kmalloc km(*m.slub);
  std::mt19937_64 rng(seed);
  std::map<PhysAddr, Live> live;  // ordered: overlap check with neighbours
  std::vector<PhysAddr> order;    // for picking a random live object
  KernelCost cost;
  std::uint64_t failures = 0, allocs = 0;
  for (int step = 0; step < steps; ++step) {
    CpuId cpu(static_cast<std::int32_t>(rng() % 6));
    bool do_alloc = order.empty() || rng() % 100 < (step < steps / 2 ? 60u : 40u);
    if (do_alloc) {
      int node = rng() % 4 == 0 ? static_cast<int>(rng() % 3) : NUMA_NO_NODE;
      gfp_t gfp = GFP_KERNEL | (rng() % 8 == 0 ? __GFP_THISNODE : 0u);
      PhysAddr a;
      Live l;
      int which = static_cast<int>(rng() % (caches.size() + 1));
      if (which < static_cast<int>(caches.size())) {
        l = {caches[static_cast<std::size_t>(which)]->size, which};
        a = m.slub->kmem_cache_alloc_node(caches[static_cast<std::size_t>(which)], cpu, gfp, node, cost);
      } else {
        std::size_t size = rng() % 50 == 0 ? 8193 + rng() % 60000 : 1 + rng() % 8192;
        a = km.kmalloc_node(cpu, size, gfp, node, cost);
        l = {km.ksize(a), -1};
      }
      ++allocs;
      if (a == 0) {
        ++failures;
      } else {
        ASSERT_TRUE(live.find(a) == live.end()) << "object handed out twice at step " << step;
        auto next = live.upper_bound(a);
        if (next != live.end()) {
          ASSERT_LE(a + l.size, next->first) << "overlaps the next object";
        }
        if (next != live.begin()) {
          auto prev = std::prev(next);
          ASSERT_LE(prev->first + prev->second.size, a) << "overlaps the previous object";
        }
        if (node != NUMA_NO_NODE && (gfp & __GFP_THISNODE)) {
          ASSERT_EQ(m.pm->page_to_nid(m.pm->phys_to_page(a)), NodeId(node));
        }
        live[a] = l;
        order.push_back(a);
      }
    } else {
      std::size_t i = rng() % order.size();
      PhysAddr a = order[i];
      order[i] = order.back();
      order.pop_back();
      Live l = live[a];
      live.erase(a);
      ASSERT_TRUE(m.slub->is_allocated(a));
      if (l.cache >= 0)
        m.slub->kmem_cache_free(caches[static_cast<std::size_t>(l.cache)], cpu, a, cost);
      else
        km.kfree(cpu, a, cost);
      ASSERT_FALSE(m.slub->is_allocated(a));
    }
    if (step % check_every == 0) {
      m.slub->check_consistency();
      ASSERT_EQ(m.slub->nr_allocated_objects(), live.size());
    }
    if (step % (check_every * 50) == 0) m.pm->check_consistency();
  }
  if (failslab_percent) {
    double rate = double(failures) / double(allocs);
    // Large kmalloc blocks (about 1 in 300 allocations) never fail.
    EXPECT_NEAR(rate, failslab_percent / 100.0, 0.01);
  } else {
    EXPECT_EQ(failures, 0u);
  }
  // The mix reached every path worth checking.
  SlubStats sum;
  for (const auto& c : m.slub->caches()) {
    sum.free_slab += c->stats.free_slab;
    sum.free_remote += c->stats.free_remote;
    sum.alloc_node_mismatch += c->stats.alloc_node_mismatch;
    sum.cpu_partial_drain += c->stats.cpu_partial_drain;
    sum.alloc_from_partial += c->stats.alloc_from_partial;
    sum.alloc_refill += c->stats.alloc_refill;
    sum.cpu_partial_alloc += c->stats.cpu_partial_alloc;
  }
  EXPECT_GT(sum.free_slab, 0u);
  EXPECT_GT(sum.free_remote, 0u);
  EXPECT_GT(sum.alloc_node_mismatch, 0u);
  EXPECT_GT(sum.cpu_partial_drain, 0u);
  EXPECT_GT(sum.alloc_from_partial, 0u);
  EXPECT_GT(sum.alloc_refill, 0u);
  EXPECT_GT(sum.cpu_partial_alloc, 0u);
  for (PhysAddr a : order) {
    Live l = live[a];
    if (l.cache >= 0)
      m.slub->kmem_cache_free(caches[static_cast<std::size_t>(l.cache)], CpuId(0), a, cost);
    else
      km.kfree(CpuId(0), a, cost);
  }
  m.slub->check_consistency();
  EXPECT_EQ(m.slub->nr_allocated_objects(), 0u);
  for (const auto& c : m.slub->caches()) m.slub->flush_all(c.get(), CpuId(0), cost, /*all_empty=*/true);
  m.slub->check_consistency();
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(m.free_pages(n), free_before[n]) << "node " << n << ": slab frames not returned";
    EXPECT_EQ(m.slab_bytes(n), 0);
  }
  m.pm->check_consistency();
}

TEST(SlubProperty, RandomMixAcrossCpusAndNodes) { run_mix(1, 20000, 0, 1); }
TEST(SlubProperty, RandomMixOtherSeed) { run_mix(12345, 20000, 0, 1); }
TEST(SlubProperty, RandomMixUnderFivePercentFailslab) { run_mix(99, 20000, 5, 1); }

}  // namespace
}  // namespace numasim::os
