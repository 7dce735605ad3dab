// Reclaim (os/vmscan.cpp) on a small two-node machine without swap: kswapd is
// woken when node 0 falls below its low watermark, balances (nothing
// reclaimable: anon pages need swap), gives up after MAX_RECLAIM_RETRIES
// failed runs, and once memory is freed sleeps (short HZ/10 nap, then for
// good; kswapd_low/high_wmark_hit_quickly); direct reclaim counts
// allocstall_movable and finds nothing to scan, so the allocation ends in the
// OOM killer; the [os.vm] knobs are read and range-checked; node_reclaim has
// no page cache to reclaim.
// Not testable before swap lands (integration): anon eviction through
// add_to_swap/pageout, pgsteal_* > 0, should_reclaim_retry's 16 no-progress
// rounds (they need a reclaimable estimate > 0), the anon/file split under
// swappiness.
#include <gtest/gtest.h>

#include "os/mm_inline.h"
#include "os/numa_balancing.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/lru_test_access.h"
#include "os/oom_kill.h"
#include "os/swapfile.h"

namespace numasim::os::testing {
namespace {

class ReclaimTest : public KernelTest {
 protected:
  ReclaimTest() : KernelTest({0, 0}, "64MiB") {}
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  Kthread* kswapd0() { return k().kthreads().kswapd(NodeId(0)); }
  // Woken by an allocation below the low watermark (the slow path's
  // wake_all_kswapds; a fallback steal's watermark boost wakes it too).
  bool kswapd_woken() const {
    if (kernel_->physmem().slowpath_stats().kswapd_wakeups == wakeups0_) return false;
    for (task_struct* w : platform_.woken)
      if (w == &kernel_->kthreads().kswapd(NodeId(0))->task) return true;
    return false;
  }
  std::uint64_t wakeups0_ = 0;
  // A task bound to node 0 touching pages until node 0's kswapd is woken.
  VirtAddr fill_node0_until_kswapd(task_struct* t, std::uint64_t& len) {
    const unsigned long node0 = 1;
    EXPECT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 3, cost_), 0);
    len = 64ull << 20;
    const long a = mmap_anon(t, len);
    EXPECT_GT(a, 0);
    for (VirtAddr p = static_cast<VirtAddr>(a); p < static_cast<VirtAddr>(a) + len; p += kPageSize) {
      EXPECT_EQ(touch(t, p), Kernel::FaultResult::Handled);
      if (kswapd_woken()) break;
    }
    return static_cast<VirtAddr>(a);
  }
};

TEST_F(ReclaimTest, KswapdWakesBelowLowFailsWithoutSwapAndSleepsOnceBalanced) {
  task_struct* t = spawn();
  std::uint64_t len = 0;
  const VirtAddr a = fill_node0_until_kswapd(t, len);
  ASSERT_TRUE(kswapd_woken());
  Kthread* ks = kswapd0();
  EXPECT_EQ(ks->task.__state, TASK_RUNNING);
  EXPECT_FALSE(LruTestAccess::pgdat_balanced(k(), NodeId(0), 0));
  // Nothing is reclaimable: each run fails, kswapd stays runnable, and after
  // MAX_RECLAIM_RETRIES failures the node is hopeless and kswapd naps.
  KernelCost c;
  int runs = 0;
  while (k().kthreads().run(&ks->task, c)) ++runs;
  EXPECT_EQ(runs, MAX_RECLAIM_RETRIES - 1);
  EXPECT_EQ(pm().NODE_DATA(NodeId(0)).kswapd_failures, MAX_RECLAIM_RETRIES);
  EXPECT_EQ(ev(PAGEOUTRUN), static_cast<std::uint64_t>(MAX_RECLAIM_RETRIES));
  EXPECT_EQ(ev(PGSTEAL_KSWAPD), 0u);
  EXPECT_EQ(ev(KSWAPD_HIGH_WMARK_HIT_QUICKLY), static_cast<std::uint64_t>(MAX_RECLAIM_RETRIES - 1));
  EXPECT_GT(ks->cost.cycles.value(), 0u);  // its work is timed on its CPU
  EXPECT_TRUE(ks->timer.pending);          // the HZ/10 nap
  // A hopeless node is not woken again.
  const std::size_t woken = platform_.woken.size();
  touch(t, a + len - kPageSize);
  EXPECT_EQ(platform_.woken.size(), woken);
  // The nap's timeout with the node still hopeless: kswapd sleeps for good.
  platform_.advance_to(platform_.clock + Picoseconds(200'000'000'000ull));
  EXPECT_EQ(ks->task.__state, TASK_RUNNING);
  EXPECT_FALSE(k().kthreads().run(&ks->task, c));
  EXPECT_EQ(ks->task.__state, TASK_INTERRUPTIBLE);
  EXPECT_FALSE(ks->timer.pending);
  k().check_consistency();
}

// kernel.numa_balancing with MEMORY_TIERING: kswapd balances a node to its
// PROMO watermark (high + the gap), so a node whose free memory is above the
// high watermark but below PROMO is not balanced yet (Linux's pgdat_balanced).
TEST_F(ReclaimTest, MemoryTieringModeBalancesToThePromoWatermark) {
  params_.numab.mode = NUMA_BALANCING_MEMORY_TIERING;
  params_.phys.watermark_scale_factor = 500;  // a 5% gap between the watermarks: wider than a pcp refill
  kernel_.reset();
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  task_struct* t = spawn();
  const unsigned long node0 = 1;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 3, cost_), 0);
  const std::uint64_t len = 64ull << 20;
  const long a = mmap_anon(t, len);
  ASSERT_GT(a, 0);
  ASSERT_TRUE(LruTestAccess::pgdat_balanced(k(), NodeId(0), 0));
  bool seen = false;
  for (VirtAddr p = static_cast<VirtAddr>(a); p < static_cast<VirtAddr>(a) + len && !seen; p += kPageSize) {
    ASSERT_EQ(touch(t, p), Kernel::FaultResult::Handled);
    if (LruTestAccess::pgdat_balanced(k(), NodeId(0), 0)) continue;
    // Not balanced: some zone of node 0 must still be above its high watermark
    // (balanced by the high-watermark rule), or the test proves nothing.
    for (const zone& z : pm().NODE_DATA(NodeId(0)).node_zones)
      if (z.managed_pages && pm().zone_watermark_ok(z, 0, z._watermark[WMARK_HIGH] + z.watermark_boost, ZONE_MOVABLE))
        seen = true;
    ASSERT_TRUE(seen) << "node 0 fell below its high watermark without a step between high and promo";
  }
  EXPECT_TRUE(seen);
}

TEST_F(ReclaimTest, KswapdNapsWhenBalancedAndCountsAnEarlyWakeup) {
  task_struct* t = spawn();
  std::uint64_t len = 0;
  const VirtAddr a = fill_node0_until_kswapd(t, len);
  ASSERT_TRUE(kswapd_woken());
  Kthread* ks = kswapd0();
  // Memory comes back before kswapd runs: its first run finds the node balanced.
  ASSERT_EQ(k().sys_munmap(t, a, len, cost_), 0);
  pm().drain_all_pages(cost_);
  ASSERT_TRUE(LruTestAccess::pgdat_balanced(k(), NodeId(0), 0));
  KernelCost c;
  EXPECT_FALSE(k().kthreads().run(&ks->task, c));
  // Fallback steals while filling boosted node 0's watermarks: balanced but
  // boosted, kswapd tried to reclaim the boost (without swap it cannot: one
  // failure) and cleared it.
  for (const zone& z : pm().NODE_DATA(NodeId(0)).node_zones) EXPECT_EQ(z.watermark_boost, 0u);
  EXPECT_LE(pm().NODE_DATA(NodeId(0)).kswapd_failures, 1);
  EXPECT_EQ(ev(PAGEOUTRUN), 1u);
  EXPECT_TRUE(ks->timer.pending);
  // Woken again during the nap (below low once more): kswapd_low_wmark_hit_quickly.
  const long b = mmap_anon(t, len);
  ASSERT_GT(b, 0);
  platform_.woken.clear();
  wakeups0_ = pm().slowpath_stats().kswapd_wakeups;
  for (VirtAddr p = static_cast<VirtAddr>(b); p < static_cast<VirtAddr>(b) + len && !kswapd_woken(); p += kPageSize)
    touch(t, p);
  ASSERT_TRUE(kswapd_woken());
  EXPECT_TRUE(k().kthreads().run(&ks->task, c));  // not balanced: runs on
  EXPECT_EQ(ev(KSWAPD_LOW_WMARK_HIT_QUICKLY), 1u);
  k().check_consistency();
}

TEST_F(ReclaimTest, DirectReclaimWithoutSwapEndsInTheOomKiller) {
  task_struct* t = spawn();
  const unsigned long node0 = 1;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 3, cost_), 0);
  const std::uint64_t len = 64ull << 20;
  const long a = mmap_anon(t, len);
  ASSERT_GT(a, 0);
  Kernel::FaultResult r = Kernel::FaultResult::Handled;
  for (VirtAddr p = static_cast<VirtAddr>(a); p < static_cast<VirtAddr>(a) + len; p += kPageSize) {
    r = touch(t, p);
    if (r != Kernel::FaultResult::Handled) break;
  }
  EXPECT_EQ(r, Kernel::FaultResult::Oom);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_GE(ev(ALLOCSTALL_MOVABLE), 1u);
  EXPECT_GE(pm().slowpath_stats().direct_reclaim, 1u);
  EXPECT_EQ(ev(PGSCAN_DIRECT), 0u);  // no swap: no anonymous page is even scanned
  EXPECT_EQ(ev(PGSTEAL_DIRECT), 0u);
  // should_reclaim_retry saw nothing reclaimable: no retry before the OOM killer.
  EXPECT_EQ(pm().slowpath_stats().reclaim_retries, 0u);
  EXPECT_EQ(ev(OOM_KILL), 1u);
}

TEST_F(ReclaimTest, FallbackStealsBoostTheWatermarkUpToTheFactorAndWakeKswapd) {
  zone& z = pm().NODE_DATA(NodeId(1)).node_zones[ZONE_DMA32];
  ASSERT_GT(z.managed_pages, 4 * pageblock_nr_pages);
  const unsigned long max_boost =
      std::max(pageblock_nr_pages, z._watermark[WMARK_HIGH] * k().reclaim_params().watermark_boost_factor / 10000);
  LruTestAccess::boost_watermark(k(), z);
  EXPECT_EQ(z.watermark_boost, std::min(pageblock_nr_pages, max_boost));
  Kthread* ks1 = k().kthreads().kswapd(NodeId(1));
  EXPECT_EQ(ks1->task.__state, TASK_RUNNING);  // woken although the node is balanced
  for (int i = 0; i < 10; ++i) LruTestAccess::boost_watermark(k(), z);
  EXPECT_EQ(z.watermark_boost, max_boost);  // capped
  // kswapd tries to reclaim the boost (nothing reclaimable without swap) and clears it.
  KernelCost c;
  EXPECT_FALSE(k().kthreads().run(&ks1->task, c));
  EXPECT_EQ(z.watermark_boost, 0u);
  EXPECT_EQ(ev(PAGEOUTRUN), 1u);
}

TEST_F(ReclaimTest, NodeReclaimHasNoPageCacheToReclaim) {
  KernelCost c;
  EXPECT_EQ(k().node_reclaim(NodeId(0), GFP_HIGHUSER_MOVABLE, 0, CpuId(0), c), 0u);  // zone_reclaim_mode 0
}

TEST(ReclaimConfig, KnobsComeFromOsVm) {
  auto doc = ConfigDocument::from_string(
      "[os.vm]\nswappiness = 133\nwatermark_boost_factor = 0\nzone_reclaim_mode = 1\nmin_unmapped_ratio = 5\n"
      "[os.costs]\nshrink_page_cycles = 99\n",
      "reclaim.toml");
  KernelParams kp = KernelParams::from_config(doc->root().table("os"));
  doc->finish();
  EXPECT_EQ(kp.reclaim.swappiness, 133);
  EXPECT_EQ(kp.reclaim.watermark_boost_factor, 0u);
  EXPECT_EQ(kp.reclaim.zone_reclaim_mode, 1);
  EXPECT_EQ(kp.reclaim.min_unmapped_ratio, 5u);
  EXPECT_EQ(kp.reclaim.costs.shrink_page_cycles, 99u);
  Topology topo = two_node_topology();
  FakePlatform platform;
  Kernel k(topo, kp, platform);
  KernelCost c;
  EXPECT_EQ(k.node_reclaim(NodeId(0), GFP_HIGHUSER_MOVABLE, 0, CpuId(0), c), 0u);  // NODE_RECLAIM_FULL
}

TEST(ReclaimConfig, SwappinessOutOfRangeIsALocatedError) {
  auto doc = ConfigDocument::from_string("[os.vm]\nswappiness = 201\n", "swp.toml");
  KernelParams::from_config(doc->root().table("os"));
  try {
    doc->finish();
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("swp.toml:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("swappiness"), std::string::npos) << e.what();
  }
}


// oom_score_adj: -1000 (OOM_SCORE_ADJ_MIN) protects the bigger process, whose
// place the smaller one takes; +1000 makes a small process the victim; the
// value is per process (threads and fork children share or inherit it) and the
// kernel log prints it.
class OomScoreAdjTest : public KernelTest {
 protected:
  OomScoreAdjTest() : KernelTest({0, 0}, "32MiB") {}
  // Touches up to `pages` pages of a fresh mapping; the first fault that does not succeed.
  Kernel::FaultResult fill(task_struct* t, std::uint64_t pages) {
    const long a = mmap_anon(t, pages * kPageSize);
    EXPECT_GT(a, 0);
    for (std::uint64_t i = 0; i < pages; ++i)
      if (auto r = touch(t, static_cast<VirtAddr>(a) + i * kPageSize); r != Kernel::FaultResult::Handled) return r;
    return Kernel::FaultResult::Handled;
  }
};

TEST_F(OomScoreAdjTest, MinusOneThousandIsNeverChosen) {
  task_struct* big = spawn(0);
  task_struct* small = spawn(1);
  ASSERT_EQ(k().set_oom_score_adj(big->tgid, -1000), 0);
  ASSERT_EQ(fill(big, 10240), Kernel::FaultResult::Handled);  // 40 MiB of 64
  EXPECT_EQ(fill(small, 16384), Kernel::FaultResult::Oom);    // runs out: it is its own victim
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, small->tgid);
  EXPECT_TRUE(small->oom_killed);
  EXPECT_FALSE(big->oom_killed);
  EXPECT_EQ(k().oom_kills()[0].invoker_oom_score_adj, 0);
  EXPECT_NE(oom_kill_message(k().oom_kills()[0]).find("kB oom_score_adj:0"), std::string::npos);
  k().check_consistency();
}

TEST_F(OomScoreAdjTest, WithoutAdjustmentTheBiggerDiesAndPlusOneThousandPicksTheSmall) {
  task_struct* big = spawn(0);
  task_struct* small = spawn(1);
  ASSERT_EQ(fill(big, 10240), Kernel::FaultResult::Handled);
  EXPECT_EQ(fill(small, 6144), Kernel::FaultResult::Handled);  // the big one is killed, small goes on
  ASSERT_GE(k().oom_kills().size(), 1u);
  EXPECT_EQ(k().oom_kills()[0].pid, big->tgid);
  k().exit_task(big);
  // Now a tiny process at +1000 beats a big one at 0.
  task_struct* tiny = spawn(0);
  ASSERT_EQ(k().set_oom_score_adj(tiny->tgid, 1000), 0);
  ASSERT_EQ(fill(tiny, 16), Kernel::FaultResult::Handled);
  task_struct* filler = spawn(1);  // protected: it only asks for the memory
  ASSERT_EQ(k().set_oom_score_adj(filler->tgid, -1000), 0);
  const std::size_t kills = k().oom_kills().size();
  fill(filler, 16384);  // the tiny one dies first, then the bigger one at 0
  ASSERT_GE(k().oom_kills().size(), kills + 2);
  EXPECT_EQ(k().oom_kills()[kills].pid, tiny->tgid);
  EXPECT_EQ(k().oom_kills()[kills + 1].pid, small->tgid);
  EXPECT_EQ(k().oom_kills()[kills].invoker_oom_score_adj, -1000);
  EXPECT_EQ(k().oom_kills()[kills].oom_score_adj, 1000);
  EXPECT_NE(oom_kill_message(k().oom_kills()[kills]).find("kB oom_score_adj:1000"), std::string::npos);
  k().check_consistency();
}

TEST_F(OomScoreAdjTest, PerProcessInheritedAndRangeChecked) {
  task_struct* t = spawn(0);
  KernelCost c;
  EXPECT_EQ(k().set_oom_score_adj(t->tgid, 1001), -EINVAL);
  EXPECT_EQ(k().set_oom_score_adj(t->tgid, -1001), -EINVAL);
  EXPECT_EQ(k().set_oom_score_adj(12345, 0), -ESRCH);
  EXPECT_EQ(t->oom_score_adj, 0);
  ASSERT_EQ(k().set_oom_score_adj(t->tgid, -500), 0);
  task_struct* thread = k().create_thread(t, CpuId(1));
  ASSERT_NE(thread, nullptr);
  EXPECT_EQ(thread->oom_score_adj, -500);
  const long child = k().sys_fork(t, c);
  ASSERT_GT(child, 0);
  EXPECT_EQ(k().find_task_by_pid(static_cast<int>(child))->oom_score_adj, -500);
  ASSERT_EQ(k().set_oom_score_adj(t->tgid, 300), 0);
  EXPECT_EQ(thread->oom_score_adj, 300);  // the thread group shares it
  EXPECT_EQ(k().find_task_by_pid(static_cast<int>(child))->oom_score_adj, -500);  // the child has its own
}

// An NVMe swap area of `bytes` and a task "hog" on CPU 0 (null if swapon failed).
task_struct* swapon_and_spawn(Kernel& k, std::uint64_t bytes, KernelCost& c) {
  SwapAreaParams a;
  a.name = "/dev/nvme0n1p2";
  a.size_bytes = bytes;
  if (k.sys_swapon(a, c) != 0) return nullptr;
  CpuMask all;
  all.set();
  return k.create_task("hog", CpuId(0), all);
}

// zone_reclaim_mode (mode 1 and mode 1|4): get_page_from_freelist calls
// node_reclaim before spilling to node 1, but Linux 6.1 reclaims there only
// page cache beyond min_unmapped_ratio; with anonymous memory alone (and swap
// present) nothing is reclaimed and the spill, numa_miss, is the same as mode 0.
TEST(ZoneReclaimMode, WithoutPageCacheNodeReclaimChangesNoPlacement) {
  std::uint64_t miss[3] = {};
  const int modes[3] = {0, 1, 1 | 4};
  for (int m = 0; m < 3; ++m) {
    Topology topo = two_node_topology("64MiB");
    KernelParams kp;
    kp.nr_hugepages_node = {0, 0};
    kp.reclaim.zone_reclaim_mode = modes[m];
    FakePlatform platform;
    Kernel k(topo, kp, platform);
    EXPECT_EQ(k.physmem().node_reclaim_enabled(), modes[m] != 0);
    KernelCost c;
    task_struct* t = swapon_and_spawn(k, 128 << 20, c);
    ASSERT_NE(t, nullptr);
    const std::uint64_t len = 96ull << 20;  // more than node 0
    const long base = k.sys_mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
    ASSERT_GT(base, 0);
    for (std::uint64_t off = 0; off < len; off += kPageSize)
      ASSERT_EQ(k.touch(t, static_cast<VirtAddr>(base) + off, true, c), Kernel::FaultResult::Handled);
    miss[m] = k.physmem().node_numa_event_state(NodeId(1), NUMA_MISS);
    EXPECT_EQ(k.physmem().sum_vm_event(PGSCAN_ZONE_RECLAIM_FAILED), 0u);  // NODE_RECLAIM_FULL: no scan
    k.check_consistency();
  }
  EXPECT_GT(miss[0], 0u) << "node 0 cannot hold it: it spills";
  EXPECT_EQ(miss[1], miss[0]);
  EXPECT_EQ(miss[2], miss[0]);
}

// Swap full: direct reclaim can free nothing more (every anonymous page would
// need a slot). As in Linux, zone_reclaimable_pages then leaves the anonymous
// LRU out (can_reclaim_anon_pages: no free slot), so should_reclaim_retry sees
// nothing to hope for and stops at once, well inside its 16 loops without
// progress, and the OOM killer runs (the task bound to node 0 is its own victim).
TEST(SwapFull, ReclaimGivesUpWithoutRetryingAndTheOomKillerRuns) {
  Topology topo = two_node_topology("32MiB");
  KernelParams kp;
  kp.nr_hugepages_node = {0, 0};
  FakePlatform platform;
  Kernel k(topo, kp, platform);
  KernelCost c;
  task_struct* t = swapon_and_spawn(k, 4 << 20, c);
  ASSERT_NE(t, nullptr);
  const unsigned long node0 = 1;
  ASSERT_EQ(k.sys_set_mempolicy(t, MPOL_BIND, &node0, 2, c), 0);
  const std::uint64_t len = 48ull << 20;
  const long base = k.sys_mmap(t, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, c);
  ASSERT_GT(base, 0);
  Kernel::FaultResult r = Kernel::FaultResult::Handled;
  SlowpathStats before{};
  std::uint64_t off = 0;
  for (; off < len && r == Kernel::FaultResult::Handled; off += kPageSize) {
    before = k.physmem().slowpath_stats();
    r = k.touch(t, static_cast<VirtAddr>(base) + off, true, c);
    platform.advance_to(platform.clock + platform.bio_latency);  // swap writes complete
  }
  ASSERT_EQ(r, Kernel::FaultResult::Oom);
  EXPECT_LT(off, len);
  EXPECT_EQ(k.nr_swap_pages(), 0u) << "the swap area filled before the OOM";
  EXPECT_GE(k.physmem().sum_vm_event(PSWPOUT), k.total_swap_pages() - 8);
  const SlowpathStats& after = k.physmem().slowpath_stats();
  // The failing fault: direct reclaim, no retry (nothing reclaimable), then the OOM killer.
  EXPECT_GE(after.direct_reclaim - before.direct_reclaim, 1u);
  EXPECT_EQ(after.reclaim_retries - before.reclaim_retries, 0u);
  EXPECT_GE(after.oom_calls - before.oom_calls, 1u);
  EXPECT_EQ(k.physmem().sum_vm_event(OOM_KILL), 1u);
  std::printf("swap full after %llu pages: %llu direct reclaims, %llu retries in the failing fault\n",
              static_cast<unsigned long long>(off / kPageSize),
              static_cast<unsigned long long>(after.direct_reclaim - before.direct_reclaim),
              static_cast<unsigned long long>(after.reclaim_retries - before.reclaim_retries));
  k.check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
