// reclaim_throttle (os/vmscan.cpp, Linux 6.1 mm/vmscan.c): direct reclaim that
// finds the tail of the LRU under swap writeback sleeps (the task's io_wait)
// until writes complete instead of failing at once, so a hog larger than its
// node completes through swap with every page's token intact; without swap the
// same hog still ends in the OOM killer. The fake clock is never advanced by
// these tests: only the throttled task's own sleeps let the writes complete.
#include <gtest/gtest.h>

#include <cstdio>

#include "os/mm_inline.h"
#include "os/swapfile.h"
#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {
namespace {

constexpr std::uint64_t kHogBytes = 384ull << 20;  // on a 256 MiB node

class ReclaimThrottleTest : public KernelTest {
 protected:
  ReclaimThrottleTest() : KernelTest({0, 0}, "256MiB") { k().page_tokens().enable(pm().max_pfn()); }
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  long swapon(std::uint64_t bytes) {
    SwapAreaParams a;
    a.name = "/dev/nvme0n1p2";
    a.size_bytes = bytes;
    return k().sys_swapon(a, cost_);
  }
  // A task bound to node 0 writes `len` bytes, page i with token i + 1. Returns
  // the first fault that was not handled (Handled when all were), with `done`
  // the pages written and the task's sleeps summed in `slept`.
  Kernel::FaultResult hog(task_struct* t, std::uint64_t len, long& base, std::uint64_t& done, Picoseconds& slept) {
    const unsigned long node0 = 1;
    EXPECT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 2, cost_), 0);
    base = mmap_anon(t, len);
    EXPECT_GT(base, 0);
    done = 0;
    for (std::uint64_t off = 0; off < len; off += kPageSize) {
      KernelCost c;
      const Kernel::FaultResult r = k().touch(t, static_cast<VirtAddr>(base) + off, true, c);
      slept += c.io_wait;
      if (r != Kernel::FaultResult::Handled) return r;
      auto fr = k().follow_page(*t->mm, static_cast<VirtAddr>(base) + off);
      EXPECT_TRUE(fr && fr->pg);
      if (!fr || !fr->pg) return Kernel::FaultResult::Oom;
      k().page_tokens().set(pm().page_to_pfn(fr->pg).value(), off / kPageSize + 1);
      ++done;
    }
    return Kernel::FaultResult::Handled;
  }
};

TEST_F(ReclaimThrottleTest, HogLargerThanItsNodeCompletesThroughSwapAndEveryPageReadsBack) {
  ASSERT_EQ(swapon(512ull << 20), 0);
  task_struct* t = spawn();
  long base = 0;
  std::uint64_t done = 0;
  Picoseconds slept{0};
  ASSERT_EQ(hog(t, kHogBytes, base, done, slept), Kernel::FaultResult::Handled) << "after " << done << " pages";
  EXPECT_TRUE(k().oom_kills().empty());
  EXPECT_EQ(ev(OOM_KILL), 0u);
  EXPECT_GT(ev(PSWPOUT), (kHogBytes - (256ull << 20)) / kPageSize) << "the excess went to swap";
  EXPECT_GT(pm().global_node_page_state(NR_THROTTLED_WRITTEN), 0) << "writes completed while the task was throttled";
  EXPECT_GT(slept.value(), 0u) << "the task slept in reclaim_throttle";
  const ReclaimThrottleState& st = k().reclaim_throttle_state(NodeId(0));
  EXPECT_GT(st.nr_throttled[VMSCAN_THROTTLE_WRITEBACK], 0u);
  EXPECT_EQ(st.nr_writeback_throttled, 0) << "every sleeper woke";
  std::printf("384 MiB on 256 MiB: %llu writeback sleeps, %llu noprogress, slept %.3f ms, nr_throttled_written %lld\n",
              static_cast<unsigned long long>(st.nr_throttled[VMSCAN_THROTTLE_WRITEBACK]),
              static_cast<unsigned long long>(st.nr_throttled[VMSCAN_THROTTLE_NOPROGRESS]),
              static_cast<double>(slept.value()) / 1e9,
              static_cast<long long>(pm().global_node_page_state(NR_THROTTLED_WRITTEN)));
  k().check_consistency();
  // Every page reads back with its token (swap-ins for those written out).
  std::uint64_t bad = 0;
  for (std::uint64_t off = 0; off < kHogBytes; off += kPageSize) {
    KernelCost c;
    ASSERT_EQ(k().touch(t, static_cast<VirtAddr>(base) + off, false, c), Kernel::FaultResult::Handled);
    auto fr = k().follow_page(*t->mm, static_cast<VirtAddr>(base) + off);
    ASSERT_TRUE(fr && fr->pg);
    if (k().page_tokens().get(pm().page_to_pfn(fr->pg).value()) != off / kPageSize + 1) ++bad;
  }
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(ev(PSWPIN), 0u);
  EXPECT_TRUE(k().oom_kills().empty());
  k().check_consistency();
}

TEST_F(ReclaimThrottleTest, WithoutSwapTheHogStillEndsInTheOomKiller) {
  task_struct* t = spawn();
  long base = 0;
  std::uint64_t done = 0;
  Picoseconds slept{0};
  EXPECT_EQ(hog(t, kHogBytes, base, done, slept), Kernel::FaultResult::Oom);
  EXPECT_LT(done * kPageSize, 256ull << 20);
  ASSERT_EQ(k().oom_kills().size(), 1u);
  EXPECT_EQ(ev(OOM_KILL), 1u);
  EXPECT_EQ(ev(PGSCAN_DIRECT), 0u);  // nothing was reclaimable: no anonymous page scanned
  EXPECT_EQ(slept.value(), 0u) << "nothing under writeback: no throttling before the OOM";
  EXPECT_EQ(pm().global_node_page_state(NR_THROTTLED_WRITTEN), 0);
  EXPECT_EQ(k().reclaim_throttle_state(NodeId(0)).nr_throttled[VMSCAN_THROTTLE_WRITEBACK], 0u);
}

}  // namespace
}  // namespace numasim::os::testing
