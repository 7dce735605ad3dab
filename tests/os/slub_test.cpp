// SLUB unit tests: slab order selection, object layout, per-CPU fast path,
// node requests and fallback, remote frees, min_partial, slabs returned to
// the buddy, accounting, costs, constructors, host storage, bad frees.
#include "os/slub.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "common/config.h"
#include "os/page.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

TEST(SlubOrder, MatchesLinuxOnA36CpuMachine) {
  // min_objects = 4 * (fls(36) + 1) = 28; figures as /proc/slabinfo shows them
  // on such machines (objperslab, pagesperslab).
  struct Case {
    unsigned size, order, objects;
  } cases[] = {{8, 0, 512},  {64, 0, 64},   {96, 0, 42},   {192, 1, 42}, {256, 1, 32},
               {512, 2, 32}, {1024, 3, 32}, {2048, 3, 16}, {4096, 3, 8}, {8192, 3, 4}};
  for (const auto& c : cases) {
    auto oo = Slub::calculate_order(c.size, 0, 0, 3, 36);
    EXPECT_EQ(oo.order, c.order) << "size " << c.size;
    EXPECT_EQ(oo.objects, c.objects) << "size " << c.size;
  }
}

TEST(SlubOrder, RespectsMinObjectsAndMaxOrder) {
  // 4 CPUs: min_objects = 4 * (fls(4) + 1) = 16.
  EXPECT_EQ(Slub::calculate_order(1024, 0, 0, 3, 4).order, 2u);  // 16 KiB holds 16
  EXPECT_EQ(Slub::calculate_order(1024, 4, 0, 3, 4).order, 0u);  // slub_min_objects=4
  EXPECT_EQ(Slub::calculate_order(1024, 0, 0, 1, 4).order, 1u);  // slub_max_order=1
  EXPECT_EQ(Slub::calculate_order(64, 0, 2, 3, 4).order, 2u);    // slub_min_order=2
  // An object larger than a max_order slab gets get_order(size).
  auto big = Slub::calculate_order(40000, 0, 0, 3, 4);
  EXPECT_EQ(big.order, 4u);
  EXPECT_EQ(big.objects, 1u);
  // Leftover rule: 700-byte objects waste <= 1/16 of the slab.
  auto oo = Slub::calculate_order(700, 0, 0, 3, 4);
  unsigned slab = 4096u << oo.order;
  EXPECT_LE(slab % 700, slab / 16);
}

TEST(SlubLayout, AlignmentCtorAndDerivedFields) {
  SlubMachine m;
  auto* a = m.slub->kmem_cache_create("a", 20, 0, 0);
  EXPECT_EQ(a->size, 24u);   // aligned to 8
  EXPECT_EQ(a->offset, 8u);  // free pointer in the middle
  auto* hw = m.slub->kmem_cache_create("hw", 40, 0, SLAB_HWCACHE_ALIGN);
  EXPECT_EQ(hw->size, 64u);
  auto* hw_small = m.slub->kmem_cache_create("hws", 20, 0, SLAB_HWCACHE_ALIGN);
  EXPECT_EQ(hw_small->size, 32u);  // ralign halves while size <= ralign / 2
  auto* al = m.slub->kmem_cache_create("al", 100, 128, 0);
  EXPECT_EQ(al->size, 128u);
  auto* ct = m.slub->kmem_cache_create("ct", 64, 0, 0, [](void*) {});
  EXPECT_EQ(ct->size, 72u);  // free pointer moved behind the object
  EXPECT_EQ(ct->offset, 64u);
  // min_partial = ilog2(size) / 2 clamped to [5, 10]; cpu_partial by size.
  EXPECT_EQ(a->min_partial, 5u);
  EXPECT_EQ(a->cpu_partial, 120u);
  auto* big = m.slub->kmem_cache_create("big", 5000, 0, 0);
  EXPECT_EQ(big->cpu_partial, 6u);
  EXPECT_THROW(m.slub->kmem_cache_create("zero", 0, 0, 0), std::invalid_argument);
  EXPECT_THROW(m.slub->kmem_cache_create("odd", 64, 24, 0), std::invalid_argument);
  EXPECT_THROW(m.slub->kmem_cache_create("huge", 8u << 20, 0, 0), std::invalid_argument);
}

TEST(Slub, ObjectsAreDistinctInsideSlabPagesOnTheLocalNode) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("obj64", 64, 0, 0);
  KernelCost cost;
  std::set<PhysAddr> seen;
  for (int i = 0; i < 1000; ++i) {
    PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(2), GFP_KERNEL, cost);  // CPU 2 is on node 1
    ASSERT_NE(a, 0u);
    EXPECT_TRUE(seen.insert(a).second) << "object handed out twice";
    EXPECT_EQ(a % 64, 0u);
    const page* pg = m.pm->phys_to_page(a);
    EXPECT_TRUE(PageSlab(pg));
    EXPECT_EQ(m.pm->page_to_nid(pg), NodeId(1));
    EXPECT_TRUE(m.slub->is_allocated(a));
  }
  m.slub->check_consistency();
  auto info = m.slub->cache_info(*s);
  EXPECT_EQ(info.inuse_objs, 1000u);
  EXPECT_EQ(info.num_objs, info.num_slabs * s->oo.objects);
  EXPECT_EQ(m.slab_bytes(1), static_cast<std::int64_t>(info.num_slabs * (4096u << s->oo.order)));
  EXPECT_EQ(m.slab_bytes(0), 0);
  for (PhysAddr a : seen) m.slub->kmem_cache_free(s, CpuId(2), a, cost);
  m.slub->check_consistency();
  EXPECT_EQ(m.slub->cache_info(*s).inuse_objs, 0u);
}

TEST(Slub, FastPathReusesTheLastFreedObjectAndChargesLess) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("lifo", 128, 0, 0);
  KernelCost first;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, first);  // new slab: slow path
  KernelCost c1;
  PhysAddr b = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, c1);
  EXPECT_EQ(b, a + 128);  // freelist runs in address order in a new slab
  KernelCost f;
  m.slub->kmem_cache_free(s, CpuId(0), a, f);
  KernelCost c2;
  EXPECT_EQ(m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, c2), a);  // LIFO
  EXPECT_EQ(c1.cycles.value(), m.slub->params().costs.alloc_fastpath_cycles);
  EXPECT_GT(first.cycles.value(), c1.cycles.value() + m.slub->params().costs.new_slab_cycles);
  EXPECT_EQ(f.cycles.value(), m.slub->params().costs.free_fastpath_cycles);
  EXPECT_GT(c1.memory.value(), 0u);  // free-pointer load timed through Platform
  EXPECT_EQ(s->stats.alloc_fastpath, 2u);
  EXPECT_EQ(s->stats.alloc_slowpath, 1u);
  EXPECT_EQ(s->stats.alloc_slab, 1u);
}

TEST(Slub, FreePointerTrafficGoesToTheObjectsAddress) {
  SlubMachine m;
  m.platform.record = true;
  auto* s = m.slub->kmem_cache_create("traffic", 256, 0, 0);
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  m.platform.calls.clear();
  m.slub->kmem_cache_free(s, CpuId(1), a, cost);
  ASSERT_EQ(m.platform.calls.size(), 1u);
  EXPECT_EQ(m.platform.calls[0].kind, testing::FakePlatform::Kind::Write);
  EXPECT_EQ(m.platform.calls[0].addr, a + s->offset);
  EXPECT_EQ(m.platform.calls[0].cpu, CpuId(1));
  m.platform.calls.clear();
  PhysAddr z = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL | __GFP_ZERO, cost);
  EXPECT_EQ(m.platform.count(testing::FakePlatform::Kind::Write), 1u);
  EXPECT_EQ(m.platform.bytes(testing::FakePlatform::Kind::Write), Bytes(256));
  m.slub->kmem_cache_free(s, CpuId(0), z, cost);
}

TEST(Slub, AllocNodeServesTheRequestedNode) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("pernode", 512, 0, 0);
  KernelCost cost;
  std::vector<PhysAddr> objs;
  for (int i = 0; i < 200; ++i) {
    int node = i % 2;
    PhysAddr a = m.slub->kmem_cache_alloc_node(s, CpuId(0), GFP_KERNEL, node, cost);
    ASSERT_NE(a, 0u);
    EXPECT_EQ(m.pm->page_to_nid(m.pm->phys_to_page(a)), NodeId(node));
    objs.push_back(a);
  }
  EXPECT_GT(s->stats.alloc_node_mismatch, 0u);
  EXPECT_GT(s->node[0].nr_slabs, 0u);
  EXPECT_GT(s->node[1].nr_slabs, 0u);
  m.slub->check_consistency();
  for (PhysAddr a : objs) m.slub->kmem_cache_free(s, CpuId(0), a, cost);
  m.slub->check_consistency();
}

TEST(Slub, NodeRequestFallsBackUnlessThisNode) {
  SlubMachine m(2, 2, 32);
  auto* s = m.slub->kmem_cache_create("fill", 4096, 0, 0);
  KernelCost cost;
  // Exhaust node 1 with order-0 pages held outside SLUB.
  std::vector<page*> held;
  while (page* pg = m.pm->alloc_pages(CpuId(2), GFP_KERNEL | __GFP_THISNODE, 0, NodeId(1), nullptr, cost))
    held.push_back(pg);
  EXPECT_EQ(m.slub->kmem_cache_alloc_node(s, CpuId(2), GFP_KERNEL | __GFP_THISNODE, 1, cost), 0u);
  EXPECT_EQ(s->stats.alloc_failed, 1u);
  m.slub->check_consistency();
  PhysAddr a = m.slub->kmem_cache_alloc_node(s, CpuId(2), GFP_KERNEL, 1, cost);
  ASSERT_NE(a, 0u);
  EXPECT_EQ(m.pm->page_to_nid(m.pm->phys_to_page(a)), NodeId(0));
  m.slub->kmem_cache_free(s, CpuId(2), a, cost);
  for (page* pg : held) m.pm->free_pages(CpuId(2), pg, 0, cost);
  m.slub->check_consistency();
}

TEST(Slub, RemoteFreeOfAFullSlabMovesItToTheFreeingCpusPartialList) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("remote", 256, 0, 0);
  KernelCost cost;
  unsigned per_slab = s->oo.objects;
  std::vector<PhysAddr> objs;
  for (unsigned i = 0; i < per_slab * 3; ++i) objs.push_back(m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost));
  // Two full slabs off every list, the third is CPU 0's active slab (full too).
  Slab* first = m.slub->addr_to_slab(objs[0]);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->state, Slab::State::Full);
  EXPECT_EQ(first->nid, 0);
  // CPU 3 (node 1) frees one object of the first slab: __slab_free puts the
  // slab on CPU 3's partial list.
  m.slub->kmem_cache_free(s, CpuId(3), objs[0], cost);
  EXPECT_EQ(first->state, Slab::State::CpuPartial);
  EXPECT_EQ(first->cpu, 3);
  EXPECT_EQ(s->stats.free_remote, 1u);
  EXPECT_EQ(s->stats.cpu_partial_free, 1u);
  m.slub->check_consistency();
  // More remote frees land on the slab's own freelist.
  m.slub->kmem_cache_free(s, CpuId(2), objs[1], cost);
  EXPECT_EQ(first->state, Slab::State::CpuPartial);
  EXPECT_EQ(first->nr_free_list, 2u);
  // CPU 3 allocating without a node preference uses that (remote) slab first.
  PhysAddr again = m.slub->kmem_cache_alloc(s, CpuId(3), GFP_KERNEL, cost);
  EXPECT_EQ(m.slub->addr_to_slab(again), first);
  EXPECT_EQ(s->stats.cpu_partial_alloc, 1u);
  // Remote frees into CPU 0's active slab wait on the slab freelist until
  // CPU 0's own freelist runs dry (get_freelist refill).
  Slab* active = s->cpu_slab[0].slab;
  ASSERT_NE(active, nullptr);
  m.slub->kmem_cache_free(s, CpuId(2), objs.back(), cost);
  EXPECT_EQ(active->nr_free_list, 1u);
  PhysAddr refill = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  EXPECT_EQ(refill, objs.back());
  EXPECT_EQ(s->stats.alloc_refill, 1u);
  m.slub->check_consistency();
}

TEST(Slub, EmptySlabsBeyondMinPartialReturnToTheBuddy) {
  SlubMachine m;
  std::int64_t free0 = m.free_pages(0);
  auto* s = m.slub->kmem_cache_create("minpartial", 1024, 0, 0);
  KernelCost cost;
  std::vector<PhysAddr> objs;
  const unsigned slabs = 40;
  for (unsigned i = 0; i < slabs * s->oo.objects; ++i)
    objs.push_back(m.slub->kmem_cache_alloc(s, CpuId(1), GFP_KERNEL, cost));
  EXPECT_EQ(s->node[0].nr_slabs, slabs);
  EXPECT_EQ(m.free_pages(0), free0 - static_cast<std::int64_t>(slabs << s->oo.order));
  // Free everything from another CPU of the same node, slab by slab.
  for (PhysAddr a : objs) {
    m.slub->kmem_cache_free(s, CpuId(0), a, cost);
    m.slub->check_consistency();
  }
  EXPECT_GT(s->stats.free_slab, 0u);
  m.slub->flush_all(s, CpuId(0), cost);
  m.slub->check_consistency();
  // What stays is at most min_partial empty slabs on the node partial list.
  EXPECT_LE(s->node[0].nr_slabs, s->min_partial);
  EXPECT_EQ(s->node[0].nr_partial, s->node[0].nr_slabs);
  EXPECT_EQ(m.free_pages(0), free0 - static_cast<std::int64_t>(s->node[0].nr_slabs << s->oo.order));
  // Destroying the cache gives back every frame; slab accounting is zero again.
  EXPECT_TRUE(m.slub->kmem_cache_destroy(s, cost));
  EXPECT_EQ(m.free_pages(0), free0);
  EXPECT_EQ(m.slab_bytes(0), 0);
  m.pm->check_consistency();
}

TEST(Slub, DestroyRefusesACacheWithObjects) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("busy", 64, 0, 0);
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  EXPECT_FALSE(m.slub->kmem_cache_destroy(s, cost));
  EXPECT_EQ(m.slub->find_cache("busy"), s);
  m.slub->kmem_cache_free(s, CpuId(0), a, cost);
  EXPECT_TRUE(m.slub->kmem_cache_destroy(s, cost));
  EXPECT_EQ(m.slub->find_cache("busy"), nullptr);
}

TEST(Slub, ReclaimableCachesCountAsSReclaimable) {
  SlubMachine m;
  auto* r = m.slub->kmem_cache_create("dentry", 192, 8, SLAB_RECLAIM_ACCOUNT);
  auto* u = m.slub->kmem_cache_create("plain", 192, 8, 0);
  EXPECT_EQ(r->allocflags & __GFP_RECLAIMABLE, __GFP_RECLAIMABLE);
  EXPECT_EQ(u->allocflags & __GFP_RECLAIMABLE, 0u);
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(r, CpuId(0), GFP_KERNEL, cost);
  std::int64_t slab_bytes = static_cast<std::int64_t>(4096u << r->oo.order);
  EXPECT_EQ(m.pm->node_page_state(NodeId(0), NR_SLAB_RECLAIMABLE_B), slab_bytes);
  EXPECT_EQ(m.pm->node_page_state(NodeId(0), NR_SLAB_UNRECLAIMABLE_B), 0);
  EXPECT_EQ(m.pm->get_pageblock_migratetype(m.pm->phys_to_page(a)), MIGRATE_RECLAIMABLE);
  PhysAddr b = m.slub->kmem_cache_alloc(u, CpuId(0), GFP_KERNEL, cost);
  EXPECT_EQ(m.pm->node_page_state(NodeId(0), NR_SLAB_UNRECLAIMABLE_B), slab_bytes);
  EXPECT_EQ(m.pm->get_pageblock_migratetype(m.pm->phys_to_page(b)), MIGRATE_UNMOVABLE);
  m.slub->check_consistency();
}

TEST(Slub, ConstructorRunsOnEveryObjectOfANewSlabWithHostStorage) {
  SlubMachine m;
  int calls = 0;
  auto* s = m.slub->kmem_cache_create(
      "ctor", 100, 0, 0,
      [&](void* host) {
        ++calls;
        *static_cast<int*>(host) = 42;
      },
      sizeof(int), alignof(int));
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  EXPECT_EQ(calls, static_cast<int>(s->oo.objects));
  EXPECT_EQ(*static_cast<int*>(m.slub->host_ptr(a)), 42);
  EXPECT_GE(cost.cycles.value(), std::uint64_t{m.slub->params().costs.ctor_cycles} * s->oo.objects);
  m.slub->kmem_cache_free(s, CpuId(0), a, cost);
}

struct Tracked {
  static inline int live = 0;
  int value;
  explicit Tracked(int v) : value(v) { ++live; }
  ~Tracked() { --live; }
};

TEST(Slub, KmemCacheOfKeepsHostObjectsInTheirSlots) {
  SlubMachine m;
  {
    KmemCacheOf<Tracked> cache(*m.slub, "tracked", 200);
    KernelCost cost;
    std::vector<Tracked*> objs;
    for (int i = 0; i < 100; ++i) {
      Tracked* t = cache.alloc(CpuId(i % 4), GFP_KERNEL, NUMA_NO_NODE, cost, AllocSite::here(), i);
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(cache.from_phys(KmemCacheOf<Tracked>::phys(t)), t);
      objs.push_back(t);
    }
    EXPECT_EQ(Tracked::live, 100);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(objs[static_cast<std::size_t>(i)]->value, i);
    for (int i = 0; i < 50; ++i) cache.free(CpuId(0), objs[static_cast<std::size_t>(i)], cost);
    EXPECT_EQ(Tracked::live, 50);
    m.slub->check_consistency();
  }
  EXPECT_EQ(Tracked::live, 0);  // the wrapper destroys what is left
}

TEST(SlubDeathTest, DoubleFreeAndForeignFreeAbort) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("df", 64, 0, 0);
  auto* t = m.slub->kmem_cache_create("other", 64, 0, 0);
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  PhysAddr b = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  m.slub->kmem_cache_free(s, CpuId(0), a, cost);
  EXPECT_DEATH(m.slub->kmem_cache_free(s, CpuId(0), a, cost), "double free");
  EXPECT_DEATH(m.slub->kmem_cache_free(t, CpuId(0), b, cost), "belongs to cache df");
  EXPECT_DEATH(m.slub->kmem_cache_free(s, CpuId(0), b + 8, cost), "not the start of an object");
  EXPECT_DEATH(m.slub->kmem_cache_free(s, CpuId(0), 3ull << 20, cost), "not in a slab page");
}

TEST(Failslab, FivePercentFailsCleanly) {
  SlubParams sp;
  sp.failslab.probability = 5;
  sp.failslab.seed = 7;
  SlubMachine m(2, 2, 64, sp);
  auto* s = m.slub->kmem_cache_create("fs", 64, 0, 0);
  KernelCost cost;
  std::vector<PhysAddr> objs;
  int failed = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    auto before = m.slub->cache_info(*s).inuse_objs;
    PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(i % 4), GFP_KERNEL, cost);
    if (a == 0) {
      ++failed;
      EXPECT_EQ(m.slub->cache_info(*s).inuse_objs, before);  // nothing half-done
    } else {
      objs.push_back(a);
    }
  }
  EXPECT_EQ(static_cast<std::uint64_t>(failed), s->stats.failslab);
  EXPECT_EQ(static_cast<std::uint64_t>(failed), m.slub->failslab().nr_failed());
  EXPECT_NEAR(failed / double(n), 0.05, 0.01);
  m.slub->check_consistency();
  // __GFP_NOFAIL is never failed.
  for (int i = 0; i < 500; ++i) {
    PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL | __GFP_NOFAIL, cost);
    ASSERT_NE(a, 0u);
    objs.push_back(a);
  }
  for (PhysAddr a : objs) m.slub->kmem_cache_free(s, CpuId(1), a, cost);
  m.slub->check_consistency();
}

TEST(Failslab, IntervalTimesAndFilters) {
  FailslabParams p;
  p.probability = 100;
  p.interval = 3;
  p.times = 2;
  Failslab f(p);
  std::vector<bool> got;
  for (int i = 0; i < 9; ++i) got.push_back(f.should_failslab(GFP_KERNEL, false));
  EXPECT_EQ(got, (std::vector<bool>{false, false, true, false, false, true, false, false, false}));
  p = {};
  p.probability = 100;
  p.ignore_gfp_reclaim = true;
  f.configure(p);
  EXPECT_FALSE(f.should_failslab(GFP_KERNEL, false));
  EXPECT_TRUE(f.should_failslab(GFP_NOWAIT, false));
  p.ignore_gfp_reclaim = false;
  p.cache_filter = true;
  f.configure(p);
  EXPECT_FALSE(f.should_failslab(GFP_KERNEL, false));
  EXPECT_TRUE(f.should_failslab(GFP_KERNEL, true));
  // Same seed, same sequence.
  p = {};
  p.probability = 30;
  p.seed = 99;
  Failslab a(p), b(p);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.should_failslab(GFP_KERNEL, false), b.should_failslab(GFP_KERNEL, false));
}

}  // namespace
}  // namespace numasim::os

namespace numasim::os {
namespace {

TEST(SlubConfig, ReadsSlubCostsAndFailslabTables) {
  auto doc = ConfigDocument::from_string(
      "[os.slub]\nmax_order = 2\nmin_objects = 8\ncpu_partial = false\n"
      "[os.slub.costs]\nalloc_fastpath_cycles = 11\n"
      "[os.failslab]\nprobability = 5\ninterval = 2\ntimes = 100\nseed = 42\n",
      "slub.toml");
  SlubParams p = SlubParams::from_config(doc->root().table("os"));
  EXPECT_NO_THROW(doc->finish());
  EXPECT_EQ(p.slub_max_order, 2u);
  EXPECT_EQ(p.slub_min_objects, 8u);
  EXPECT_FALSE(p.cpu_partial);
  EXPECT_EQ(p.costs.alloc_fastpath_cycles, 11u);
  EXPECT_EQ(p.failslab.probability, 5u);
  EXPECT_EQ(p.failslab.interval, 2u);
  EXPECT_EQ(p.failslab.times, 100);
  EXPECT_EQ(p.failslab.seed, 42u);
}

TEST(SlubConfig, BadValuesAreReportedTogether) {
  auto doc = ConfigDocument::from_string(
      "[os.slub]\nmax_order = 11\nmin_order = 12\n[os.failslab]\nprobability = 150\ninterval = 0\n", "bad.toml");
  SlubParams::from_config(doc->root().table("os"));
  try {
    doc->finish();
    FAIL() << "expected ConfigErrors";
  } catch (const ConfigErrors& e) {
    EXPECT_GE(e.diagnostics().size(), 4u);
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str() + "\n";
    EXPECT_NE(all.find("probability"), std::string::npos) << all;
    EXPECT_NE(all.find("max_order"), std::string::npos) << all;
    EXPECT_NE(all.find("interval"), std::string::npos) << all;
  }
}

TEST(SlubConfig, ParamsKeepingCpuPartialOffStillWork) {
  SlubParams sp;
  sp.cpu_partial = false;
  testing::SlubMachine m(2, 2, 64, sp);
  auto* s = m.slub->kmem_cache_create("nocpupartial", 256, 0, 0);
  EXPECT_EQ(s->cpu_partial_slabs, 0u);
  KernelCost cost;
  std::vector<PhysAddr> objs;
  for (unsigned i = 0; i < 5 * s->oo.objects; ++i)
    objs.push_back(m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost));
  for (PhysAddr a : objs) {
    m.slub->kmem_cache_free(s, CpuId(3), a, cost);
    m.slub->check_consistency();
  }
  EXPECT_EQ(s->stats.cpu_partial_free, 0u);
  EXPECT_GT(s->stats.free_add_partial, 0u);
}

}  // namespace
}  // namespace numasim::os
