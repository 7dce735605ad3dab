// The one allocation slow path (page_alloc_slowpath.cpp) and fail_page_alloc:
// each request class takes Linux 6.1's way through __alloc_pages_slowpath
// (kswapd wake-ups, compaction, reclaim, retries, OOM), seen through a
// recording AllocHooks; user pages, page tables, slab pages and the hugetlb
// pool all reach it; injected failures fail at prepare_alloc_pages and leave
// nothing half done.
#include <gtest/gtest.h>

#include <vector>

#include "common/config.h"
#include "os/hugetlb.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os::testing {
namespace {

// Counts every hook call; out_of_memory gives back `release_per_oom` pages of
// the hog's (progress) while it has some.
struct RecordingHooks : AllocHooks {
  struct OomCall {
    gfp_t gfp;
    int order;
    bool constrained;
  };
  void wakeup_kswapd(zone& z, gfp_t, unsigned, zone_type) override { woken_nodes.push_back(z.zone_pgdat->node_id); }
  compact_result try_to_compact_pages(gfp_t, unsigned, const zonelist&, const nodemask_t*, compact_priority prio,
                                      KernelCost&) override {
    compact_prios.push_back(prio);
    return compact;
  }
  unsigned long try_to_free_pages(const zonelist&, unsigned, gfp_t, const nodemask_t*, KernelCost&) override {
    ++reclaims;
    return 0;
  }
  unsigned long zone_reclaimable_pages(const zone&) const override { return reclaimable; }
  bool out_of_memory(oom_control& oc, KernelCost& cost) override {
    oom.push_back({oc.gfp_mask, oc.order, oc.nodemask != nullptr});
    if (!pm || held.empty() || release_per_oom == 0) return false;
    for (unsigned i = 0; i < release_per_oom && !held.empty(); ++i) {
      pm->free_pages(CpuId(0), held.back(), 0, cost);
      held.pop_back();
    }
    pm->drain_all_pages(cost);  // the victim's pages reach the buddy
    return true;
  }

  PhysMem* pm = nullptr;
  std::vector<page*> held;  // the "victim's" pages
  unsigned release_per_oom = 0;
  unsigned long reclaimable = 0;
  compact_result compact = compact_result::COMPACT_SKIPPED;
  std::vector<int> woken_nodes;
  std::vector<compact_priority> compact_prios;
  int reclaims = 0;
  std::vector<OomCall> oom;
};

// A two-node, 64 MiB-per-node PhysMem whose memory is eaten by GFP_NOWAIT
// allocations down to WMARK_MIN (the slow path's retry cannot succeed).
class SlowpathTest : public ::testing::Test {
 protected:
  SlowpathTest() { m_.pm->set_alloc_hooks(&hooks_); }
  ~SlowpathTest() override {
    m_.pm->set_alloc_hooks(nullptr);
    KernelCost c;
    for (page* pg : eaten_) pm().free_pages(CpuId(0), pg, 0, c);
    for (page* pg : hooks_.held) pm().free_pages(CpuId(0), pg, 0, c);
  }
  PhysMem& pm() { return *m_.pm; }
  void exhaust() {
    KernelCost c;
    while (page* pg = pm().alloc_pages(CpuId(0), GFP_NOWAIT & ~__GFP_KSWAPD_RECLAIM, 0, NodeId(0), nullptr, c))
      eaten_.push_back(pg);
    hooks_ = RecordingHooks{};
    stats0_ = pm().slowpath_stats();
  }
  page* alloc(gfp_t gfp, unsigned order = 0) {
    KernelCost c;
    return pm().alloc_pages(CpuId(0), gfp, order, NodeId(0), nullptr, c);
  }
  SlowpathStats delta() const {
    SlowpathStats s = m_.pm->slowpath_stats();
    s.slowpath -= stats0_.slowpath;
    s.kswapd_wakeups -= stats0_.kswapd_wakeups;
    s.direct_compact -= stats0_.direct_compact;
    s.direct_reclaim -= stats0_.direct_reclaim;
    s.reclaim_retries -= stats0_.reclaim_retries;
    s.may_oom -= stats0_.may_oom;
    s.oom_calls -= stats0_.oom_calls;
    s.oom_progress -= stats0_.oom_progress;
    s.failed -= stats0_.failed;
    s.injected -= stats0_.injected;
    return s;
  }

  SlubMachine m_;
  RecordingHooks hooks_;
  std::vector<page*> eaten_;
  SlowpathStats stats0_;
};

TEST_F(SlowpathTest, KernelAllocationWakesKswapdReclaimsThenOoms) {
  exhaust();
  EXPECT_EQ(alloc(GFP_KERNEL), nullptr);
  const SlowpathStats d = delta();
  EXPECT_EQ(d.slowpath, 1u);
  // wake_all_kswapds before the first retry and again at retry:, once per node.
  EXPECT_EQ(hooks_.woken_nodes, (std::vector<int>{0, 1, 0, 1}));
  EXPECT_EQ(d.kswapd_wakeups, 4u);
  // Order 0: direct compaction is not even attempted; reclaim is, once.
  EXPECT_EQ(hooks_.compact_prios.size(), 0u);
  EXPECT_EQ(hooks_.reclaims, 1);
  // Nothing reclaimable: should_reclaim_retry gives up at once; the OOM killer is asked.
  EXPECT_EQ(d.reclaim_retries, 0u);
  ASSERT_EQ(hooks_.oom.size(), 1u);
  EXPECT_EQ(hooks_.oom[0].gfp, GFP_KERNEL);
  EXPECT_EQ(hooks_.oom[0].order, 0);
  EXPECT_FALSE(hooks_.oom[0].constrained);
  EXPECT_EQ(d.failed, 1u);
  pm().check_consistency();
}

TEST_F(SlowpathTest, ReclaimableMemoryRetriesSixteenTimesWithoutProgressBeforeOom) {
  exhaust();
  hooks_.reclaimable = 1ul << 20;  // "reclaim could free it all" but never does
  EXPECT_EQ(alloc(GFP_KERNEL), nullptr);
  EXPECT_EQ(delta().reclaim_retries, static_cast<std::uint64_t>(MAX_RECLAIM_RETRIES));
  EXPECT_EQ(hooks_.reclaims, MAX_RECLAIM_RETRIES + 1);
  EXPECT_EQ(hooks_.oom.size(), 1u);
}

TEST_F(SlowpathTest, OomProgressRetriesUntilTheAllocationSucceeds) {
  exhaust();
  // The "victim" holds pages the OOM killer frees, a batch per call.
  hooks_.pm = &pm();
  for (int i = 0; i < 256 && !eaten_.empty(); ++i) {
    hooks_.held.push_back(eaten_.back());
    eaten_.pop_back();
  }
  hooks_.release_per_oom = 64;
  page* pg = alloc(GFP_HIGHUSER_MOVABLE);
  ASSERT_NE(pg, nullptr);
  EXPECT_GE(hooks_.oom.size(), 1u);
  EXPECT_EQ(delta().oom_progress, hooks_.oom.size());
  EXPECT_EQ(delta().failed, 0u);
  KernelCost c;
  pm().free_pages(CpuId(0), pg, 0, c);
  pm().check_consistency();
}

TEST_F(SlowpathTest, RequestsThatMayNotKillNeverReachTheOomKiller) {
  exhaust();
  // No direct reclaim: kswapd is woken, nothing else.
  EXPECT_EQ(alloc(GFP_NOWAIT), nullptr);
  EXPECT_EQ(hooks_.reclaims, 0);
  // __GFP_NORETRY: one reclaim round, no retry, no OOM.
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_NORETRY), nullptr);
  EXPECT_EQ(hooks_.reclaims, 1);
  // __GFP_RETRY_MAYFAIL and __GFP_THISNODE: the OOM killer may not help.
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_RETRY_MAYFAIL), nullptr);
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_THISNODE), nullptr);
  // Costly orders: compaction first, then no retries and no OOM.
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_COMP, 4), nullptr);
  EXPECT_EQ(hooks_.oom.size(), 0u);
  EXPECT_EQ(delta().may_oom, 2u);  // RETRY_MAYFAIL and THISNODE got as far as __alloc_pages_may_oom
  EXPECT_EQ(delta().failed, 5u);
  EXPECT_EQ(hooks_.compact_prios.front(), INIT_COMPACT_PRIORITY);
}

TEST_F(SlowpathTest, CostlyRetryMayfailRetriesCompactionAtRisingPriority) {
  exhaust();
  hooks_.compact = compact_result::COMPACT_COMPLETE;  // compaction ran and failed
  hooks_.reclaimable = 1ul << 20;
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_COMP | __GFP_RETRY_MAYFAIL, 4), nullptr);
  // Costly orders never count reclaim as progress: 16 reclaim retries, then no OOM.
  EXPECT_EQ(hooks_.reclaims, MAX_RECLAIM_RETRIES + 1);
  EXPECT_EQ(hooks_.oom.size(), 0u);
  // The first compaction (before reclaim) at INIT priority, then DEF priority in the loop.
  ASSERT_GE(hooks_.compact_prios.size(), 2u);
  EXPECT_EQ(hooks_.compact_prios[0], INIT_COMPACT_PRIORITY);
  EXPECT_EQ(hooks_.compact_prios[1], DEF_COMPACT_PRIORITY);
  EXPECT_GT(pm().sum_vm_event(COMPACTSTALL), 0u);
  EXPECT_EQ(pm().sum_vm_event(COMPACTFAIL), pm().sum_vm_event(COMPACTSTALL));
}

TEST_F(SlowpathTest, SlabPagesGoThroughTheSameSlowPath) {
  kmem_cache* s = m_.slub->kmem_cache_create("slowpath_test", 256, 0, 0);
  exhaust();
  KernelCost c;
  const auto free0 = pm().node_zone_page_state(NodeId(0), NR_FREE_PAGES);
  // GFP_KERNEL: the preferred order without retries, then the minimum order with
  // the caller's flags, which goes all the way to the OOM killer.
  EXPECT_EQ(m_.slub->kmem_cache_alloc_node(s, CpuId(0), GFP_KERNEL, 0, c), 0u);
  ASSERT_EQ(hooks_.oom.size(), 1u);
  EXPECT_EQ(hooks_.oom[0].order, static_cast<int>(s->min.order));
  EXPECT_EQ(hooks_.oom[0].gfp & __GFP_HIGHMEM, 0u);
  // ___slab_alloc first tries the node opportunistically (GFP_NOWAIT | __GFP_THISNODE,
  // both orders: no OOM), then with the caller's flags (both orders: the second OOMs).
  EXPECT_EQ(delta().slowpath, 4u);
  // GFP_NOWAIT slab allocations fail without reclaim or OOM.
  EXPECT_EQ(m_.slub->kmem_cache_alloc_node(s, CpuId(0), GFP_NOWAIT, 0, c), 0u);
  EXPECT_EQ(hooks_.oom.size(), 1u);
  // Nothing half done: no slab, no page taken.
  EXPECT_EQ(m_.slab_bytes(0), 0);
  EXPECT_EQ(pm().node_zone_page_state(NodeId(0), NR_FREE_PAGES), free0);
  pm().check_consistency();
}

TEST_F(SlowpathTest, HugetlbPoolGrowthStopsWithoutOom) {
  // Ask node 0 for more 2 MiB pages than it has: __GFP_NORETRY | __GFP_THISNODE
  // costly requests compact once (skipped), then give up: no reclaim loop, no OOM.
  const std::uint64_t before_fail = pm().sum_vm_event(HTLB_BUDDY_PGALLOC_FAIL);
  stats0_ = pm().slowpath_stats();
  HugetlbPool pool(pm(), {1000, 0}, {{0, 1}, {1, 0}}, CpuId(0));
  EXPECT_GT(pool.nr_huge_pages_node(0), 0u);
  EXPECT_LT(pool.nr_huge_pages_node(0), 32u);
  EXPECT_EQ(pm().sum_vm_event(HTLB_BUDDY_PGALLOC_FAIL), before_fail + 1);
  EXPECT_EQ(pm().sum_vm_event(HTLB_BUDDY_PGALLOC), pool.nr_huge_pages());
  EXPECT_EQ(hooks_.reclaims, 0);
  EXPECT_EQ(hooks_.oom.size(), 0u);
  EXPECT_GE(delta().direct_compact, 1u);
  EXPECT_GE(delta().failed, 1u);
  pm().check_consistency();
}

// ---------------------------------------------------------------------------
// fail_page_alloc.

TEST_F(SlowpathTest, InjectedFailureFailsAtPrepareAllocPagesWithoutTheSlowPath) {
  FailPageAllocParams p;
  p.probability = 100;
  p.times = 1;
  pm().fail_page_alloc().configure(p);
  stats0_ = pm().slowpath_stats();
  EXPECT_EQ(alloc(GFP_KERNEL), nullptr);  // Linux's should_fail_alloc_page: NULL at once
  EXPECT_EQ(delta().injected, 1u);
  EXPECT_EQ(delta().slowpath, 0u);
  EXPECT_TRUE(hooks_.woken_nodes.empty());
  page* pg = alloc(GFP_KERNEL);  // `times` used up
  ASSERT_NE(pg, nullptr);
  KernelCost c;
  pm().free_pages(CpuId(0), pg, 0, c);
  EXPECT_EQ(pm().fail_page_alloc().nr_failed(), 1u);
}

TEST_F(SlowpathTest, InjectedSlabPageFailureIsNullAndNothingHalfDone) {
  kmem_cache* s = m_.slub->kmem_cache_create("fpa_slab", 256, 0, 0);
  FailPageAllocParams p;
  p.probability = 100;
  pm().fail_page_alloc().configure(p);
  stats0_ = pm().slowpath_stats();
  const auto free0 = m_.free_pages(0);
  KernelCost c;
  EXPECT_EQ(m_.slub->kmem_cache_alloc_node(s, CpuId(0), GFP_KERNEL, 0, c), 0u);
  // Every page request of ___slab_alloc (this node, then any; preferred, then minimum order) failed at once.
  EXPECT_EQ(delta().injected, 4u);
  EXPECT_EQ(delta().slowpath, 0u);
  EXPECT_TRUE(hooks_.oom.empty());
  EXPECT_EQ(m_.slab_bytes(0) + m_.slab_bytes(1), 0);
  EXPECT_EQ(m_.free_pages(0), free0);
  pm().fail_page_alloc().configure({});
  EXPECT_NE(m_.slub->kmem_cache_alloc_node(s, CpuId(0), GFP_KERNEL, 0, c), 0u);
  pm().check_consistency();
}

TEST_F(SlowpathTest, InjectedHugetlbPoolPageFailureStopsThePoolLikeLinux) {
  FailPageAllocParams p;
  p.probability = 100;
  p.times = 1;
  pm().fail_page_alloc().configure(p);
  stats0_ = pm().slowpath_stats();
  const std::uint64_t fail0 = pm().sum_vm_event(HTLB_BUDDY_PGALLOC_FAIL);
  {
    HugetlbPool pool(pm(), {4, 0}, {{0, 1}, {1, 0}}, CpuId(0));
    EXPECT_EQ(pool.nr_huge_pages(), 0u);  // the first failure ends the pool's growth
    EXPECT_EQ(pm().sum_vm_event(HTLB_BUDDY_PGALLOC_FAIL), fail0 + 1);
    EXPECT_EQ(delta().injected, 1u);
    EXPECT_EQ(delta().slowpath, 0u);
  }
  HugetlbPool pool(pm(), {4, 0}, {{0, 1}, {1, 0}}, CpuId(0));  // `times` used up
  EXPECT_EQ(pool.nr_huge_pages_node(0), 4u);
  pm().check_consistency();
}

TEST_F(SlowpathTest, FailPageAllocFilters) {
  FailPageAllocParams p;
  p.probability = 100;
  p.min_order = 1;
  pm().fail_page_alloc().configure(p);
  KernelCost c;
  page* pg = alloc(GFP_KERNEL);  // order 0 < min_order
  ASSERT_NE(pg, nullptr);
  pm().free_pages(CpuId(0), pg, 0, c);
  EXPECT_EQ(alloc(GFP_KERNEL | __GFP_COMP, 1), nullptr);
  pg = alloc(GFP_KERNEL | __GFP_COMP | __GFP_NOFAIL, 1);  // never failed
  ASSERT_NE(pg, nullptr);
  pm().free_pages(CpuId(0), pg, 1, c);
  p.min_order = 0;
  p.ignore_gfp_highmem = true;
  pm().fail_page_alloc().configure(p);
  pg = alloc(GFP_HIGHUSER_MOVABLE);
  ASSERT_NE(pg, nullptr);
  pm().free_pages(CpuId(0), pg, 0, c);
  EXPECT_EQ(alloc(GFP_KERNEL), nullptr);
  p.ignore_gfp_highmem = false;
  p.ignore_gfp_wait = true;
  pm().fail_page_alloc().configure(p);
  pg = alloc(GFP_KERNEL);
  ASSERT_NE(pg, nullptr);
  pm().free_pages(CpuId(0), pg, 0, c);
  EXPECT_EQ(alloc(GFP_NOWAIT), nullptr);
  pm().check_consistency();
}

TEST(FailPageAllocConfig, ReadFromOsFailPageAlloc) {
  auto doc = ConfigDocument::from_string(
      "[os.fail_page_alloc]\nprobability = 10\ninterval = 3\ntimes = 7\nseed = 5\nignore_gfp_highmem = true\n"
      "ignore_gfp_wait = true\nmin_order = 2\n",
      "fpa.toml");
  KernelParams kp = KernelParams::from_config(doc->root().table("os"));
  doc->finish();
  const PhysMemParams& p = kp.phys;
  EXPECT_EQ(p.fail_page_alloc.probability, 10u);
  EXPECT_EQ(p.fail_page_alloc.interval, 3u);
  EXPECT_EQ(p.fail_page_alloc.times, 7);
  EXPECT_EQ(p.fail_page_alloc.seed, 5u);
  EXPECT_TRUE(p.fail_page_alloc.ignore_gfp_highmem);
  EXPECT_TRUE(p.fail_page_alloc.ignore_gfp_wait);
  EXPECT_EQ(p.fail_page_alloc.min_order, 2u);
  Topology topo = two_node_topology();
  FakePlatform platform;
  Kernel k(topo, kp, platform);
  EXPECT_EQ(k.physmem().fail_page_alloc().params().probability, 10u);
}

TEST(FailPageAllocConfig, OutOfRangeIsALocatedError) {
  auto doc = ConfigDocument::from_string("[os.fail_page_alloc]\nprobability = 101\n", "fpa.toml");
  KernelParams::from_config(doc->root().table("os"));
  try {
    doc->finish();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("fpa.toml:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("probability"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------
// The kernel: every fault-time allocation reaches the OOM killer through the
// slow path; the kill names the request that failed.

class KernelSlowpathTest : public KernelTest {
 protected:
  KernelSlowpathTest() : KernelTest({0, 0}, "32MiB") {}
  // Eat node memory (both nodes) down to the watermarks, as a kernel user would.
  void exhaust() {
    KernelCost c;
    while (page* pg = pm().alloc_pages(CpuId(0), GFP_NOWAIT & ~__GFP_KSWAPD_RECLAIM, 0, NodeId(0), nullptr, c))
      eaten_.push_back(pg);
  }
  ~KernelSlowpathTest() override {
    KernelCost c;
    for (page* pg : eaten_) pm().free_pages(CpuId(0), pg, 0, c);
  }
  std::vector<page*> eaten_;
};

TEST_F(KernelSlowpathTest, UserPageInAFaultOomKillsThroughTheSlowPath) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 1 << 20);
  ASSERT_GT(a, 0);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);  // page tables exist now
  exhaust();
  const SlowpathStats s0 = pm().slowpath_stats();
  EXPECT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Oom);
  EXPECT_EQ(pm().slowpath_stats().oom_calls, s0.oom_calls + 1);
  EXPECT_GT(pm().slowpath_stats().kswapd_wakeups, s0.kswapd_wakeups);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].gfp_mask, GFP_HIGHUSER_MOVABLE);
  EXPECT_EQ(k().oom_kills()[0].constraint, OomConstraint::None);
  EXPECT_EQ(pm().sum_vm_event(OOM_KILL), 1u);
  EXPECT_TRUE(t->oom_killed);
  EXPECT_EQ(k().context().task, nullptr);  // the guard restored the empty context
  k().check_consistency();
}

TEST_F(KernelSlowpathTest, PageTablePageInAFaultOomKillsThroughTheSlowPath) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 1 << 20);
  ASSERT_GT(a, 0);
  const std::uint64_t tables0 = k().pgtables().nr_tables();
  exhaust();
  EXPECT_EQ(touch(t, a), Kernel::FaultResult::Oom);  // the first table of the walk fails
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].gfp_mask, GFP_PGTABLE_USER);
  EXPECT_EQ(k().pgtables().nr_tables(), tables0);  // nothing half built
  k().check_consistency();
}

TEST_F(KernelSlowpathTest, SystemCallsAndBootNeverOomKill) {
  task_struct* t = spawn(0);
  exhaust();
  // MAP_POPULATE faults (may kill); a plain mmap of a new region allocates only
  // slab objects, and a failure there is ENOMEM.
  const SlowpathStats s0 = pm().slowpath_stats();
  KernelCost c;
  for (int i = 0; i < 64; ++i) {
    long r = k().sys_mmap(t, 0, kPageSize, PROT_READ | (i % 2 ? PROT_WRITE : 0), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
    if (r < 0) {
      EXPECT_EQ(r, -ENOMEM);
      break;
    }
  }
  EXPECT_TRUE(k().oom_kills().empty());
  EXPECT_EQ(pm().slowpath_stats().oom_progress, s0.oom_progress);
  // Outside any entry (boot-like): the slow path runs, the OOM killer declines.
  EXPECT_EQ(pm().alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, c), nullptr);
  EXPECT_TRUE(k().oom_kills().empty());
  k().check_consistency();
}

TEST_F(KernelSlowpathTest, OomOfAnotherProcessFreesItsMemoryAndTheFaultSucceeds) {
  task_struct* big = spawn(0);
  long b = mmap_anon(big, 24 << 20);
  ASSERT_GT(b, 0);
  std::uint64_t i = 0;
  while (touch(big, b + i * kPageSize) == Kernel::FaultResult::Handled && i < (24 << 20) / kPageSize) ++i;
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 1 << 20);
  ASSERT_GT(a, 0);
  exhaust();
  EXPECT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, big->tgid);
  EXPECT_TRUE(big->oom_killed);
  EXPECT_FALSE(t->oom_killed);
  k().check_consistency();
}

TEST_F(KernelSlowpathTest, InjectedUserPageFailureIsVmFaultOomWithoutAKill) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 1 << 20);
  ASSERT_GT(a, 0);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  FailPageAllocParams p;
  p.probability = 100;
  p.times = 1;
  pm().fail_page_alloc().configure(p);
  const SlowpathStats s0 = pm().slowpath_stats();
  const std::uint64_t rss = static_cast<std::uint64_t>(t->mm->get_mm_counter(MM_ANONPAGES));
  EXPECT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Oom);
  EXPECT_EQ(pm().slowpath_stats().injected, s0.injected + 1);
  EXPECT_EQ(pm().slowpath_stats().slowpath, s0.slowpath);  // Linux: NULL from prepare_alloc_pages
  EXPECT_TRUE(k().oom_kills().empty());
  EXPECT_FALSE(t->oom_killed);
  EXPECT_EQ(static_cast<std::uint64_t>(t->mm->get_mm_counter(MM_ANONPAGES)), rss);
  k().check_consistency();
  // The retried fault (pagefault_out_of_memory returns to user) succeeds.
  EXPECT_EQ(touch(t, a + kPageSize), Kernel::FaultResult::Handled);
}

TEST_F(KernelSlowpathTest, InjectedPageTableFailureLeavesNoHalfBuiltTables) {
  task_struct* t = spawn(0);
  long a = mmap_anon(t, 1 << 20);
  ASSERT_GT(a, 0);
  const std::uint64_t tables0 = k().pgtables().nr_tables();
  FailPageAllocParams p;
  p.probability = 100;
  p.times = 1;
  pm().fail_page_alloc().configure(p);
  EXPECT_EQ(touch(t, a), Kernel::FaultResult::Oom);
  EXPECT_EQ(pm().fail_page_alloc().nr_failed(), 1u);
  EXPECT_EQ(k().pgtables().nr_tables(), tables0);
  EXPECT_TRUE(k().oom_kills().empty());
  k().check_consistency();
  EXPECT_EQ(touch(t, a), Kernel::FaultResult::Handled);
}

TEST_F(KernelSlowpathTest, TheSlowPathWakesTheKswapdThreadOfEachNodeItTried) {
  // An allocation below the low watermark wakes kswapd0 and kswapd1 (the
  // zonelist's nodes), which become runnable on their nodes' CPUs; the order
  // and zone the allocation needed are left for them in the pgdat.
  Kthread* kswapd0 = k().kthreads().kswapd(NodeId(0));
  Kthread* kswapd1 = k().kthreads().kswapd(NodeId(1));
  ASSERT_NE(kswapd0, nullptr);
  ASSERT_NE(kswapd1, nullptr);
  const std::uint64_t w0 = kswapd0->nr_wakeups, w1 = kswapd1->nr_wakeups;
  EXPECT_NE(kswapd0->task.__state, TASK_RUNNING);
  exhaust();
  EXPECT_EQ(kswapd0->nr_wakeups, w0) << "eating memory with __GFP_KSWAPD_RECLAIM cleared wakes nobody";
  KernelCost c;
  page* pg = pm().alloc_pages(CpuId(0), GFP_KERNEL, 2, NodeId(0), nullptr, c);
  EXPECT_EQ(kswapd0->nr_wakeups, w0 + 1);
  EXPECT_EQ(kswapd1->nr_wakeups, w1 + 1);
  EXPECT_EQ(kswapd0->task.__state, TASK_RUNNING);
  EXPECT_EQ(pm().NODE_DATA(NodeId(0)).kswapd_order, 2u);
  EXPECT_EQ(pm().NODE_DATA(NodeId(0)).kswapd_highest_zoneidx, ZONE_NORMAL);
  if (pg) pm().free_pages(CpuId(0), pg, 2, c);
}

}  // namespace
}  // namespace numasim::os::testing
