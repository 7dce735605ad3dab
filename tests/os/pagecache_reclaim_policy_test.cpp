// Reclaim policy once page cache exists (issue 11's last two criteria, in the
// OS layer): vm.swappiness moving get_scan_count's split between the anon and
// file lists in the direction Linux documents (0: file only while there is
// file to reclaim, higher: more anon), and zone_reclaim_mode 1 keeping an
// allocation on its node by reclaiming the node's clean page cache
// (node_reclaim) where mode 0 spills it to the other node (numa_miss).
#include <gtest/gtest.h>

#include "tests/os/file_test_util.h"

namespace numasim::os::testing {
namespace {

class ReclaimPolicyTest : public FileTest {
 protected:
  ReclaimPolicyTest() : FileTest("64MiB") {}
  // A kernel with /big (size on node 0) and the given knobs; the task on CPU 0 (node 0).
  task_struct* boot(std::uint64_t file_bytes, int swappiness, int zone_reclaim_mode, bool swap) {
    params_.reclaim.swappiness = swappiness;
    params_.reclaim.zone_reclaim_mode = zone_reclaim_mode;
    params_.nr_hugepages_node = {0, 0};
    platform_.drop_timers();
    params_.fs.files = {{"/big", file_bytes, 0, "test"}};
    kernel_.reset();
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    if (swap) {
      SwapAreaParams a;
      a.name = "/dev/nvme0n1p2";
      a.size_bytes = 256ull << 20;
      EXPECT_EQ(k().sys_swapon(a, cost_), 0);
    }
    return spawn(0);
  }
  // Reads the whole of /big once (page cache on the reader's node).
  void read_file(task_struct* t, std::uint64_t bytes) {
    const int f = static_cast<int>(k().sys_open(t, "/big", O_RDONLY, 0, cost_));
    ASSERT_GE(f, 0);
    const VirtAddr buf = user_buf(t, 128 * 1024);
    for (std::uint64_t off = 0; off < bytes; off += 128 * 1024) {
      ASSERT_EQ(k().sys_read(t, f, buf, 128 * 1024, cost_), 128 * 1024) << off;
      if ((off & ((4 << 20) - 1)) == 0) settle();
    }
    settle();
    ASSERT_EQ(k().sys_close(t, f, cost_), 0);
  }
  // Writes `bytes` of anonymous memory, I/O completing and kswapd of node 0 running now and then.
  void write_anon(task_struct* t, std::uint64_t bytes) {
    const long a = mmap_anon(t, bytes);
    ASSERT_GT(a, 0);
    for (std::uint64_t off = 0; off < bytes; off += kPageSize) {
      ASSERT_EQ(touch(t, static_cast<VirtAddr>(a) + off, true), Kernel::FaultResult::Handled) << off;
      if ((off & ((1 << 20) - 1)) == 0) {
        settle();
        KernelCost kc;
        Kthread* ks = k().kthreads().kswapd(NodeId(0));
        for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
        }
      }
    }
    settle();
  }
  std::uint64_t ev(vm_event_item e) { return pm().sum_vm_event(e); }
};

// Mixed memory under pressure: 24 MiB of clean page cache read twice (active,
// so reclaim does not just trim an idle cache first), then 56 MiB of anonymous
// memory bound to the 64 MiB node 0 with swap available. The share of anon
// pages among the pages reclaim scanned grows with swappiness.
TEST_F(ReclaimPolicyTest, SwappinessMovesTheAnonFileSplitAsLinuxDocuments) {
  const int settings[3] = {0, 100, 200};
  double anon_share[3] = {};
  std::uint64_t scanned_anon[3] = {}, scanned_file[3] = {};
  for (int i = 0; i < 3; ++i) {
    task_struct* t = boot(24ull << 20, settings[i], 0, true);
    const unsigned long node0 = 1;
    ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 2, cost_), 0);
    read_file(t, 24ull << 20);
    read_file(t, 24ull << 20);  // read twice: the cache is active, not trimmed first (cache_trim_mode)
    write_anon(t, 56ull << 20);
    scanned_anon[i] = ev(PGSCAN_ANON);
    scanned_file[i] = ev(PGSCAN_FILE);
    ASSERT_GT(scanned_anon[i] + scanned_file[i], 0u) << "no reclaim at swappiness " << settings[i];
    anon_share[i] = static_cast<double>(scanned_anon[i]) / static_cast<double>(scanned_anon[i] + scanned_file[i]);
    EXPECT_TRUE(k().oom_kills().empty());
    k().check_consistency();
  }
  EXPECT_GT(scanned_file[0], 0u);
  EXPECT_LT(anon_share[0], anon_share[1]) << scanned_anon[0] << "/" << scanned_file[0] << " vs " << scanned_anon[1]
                                          << "/" << scanned_file[1];
  EXPECT_LT(anon_share[1], anon_share[2]) << scanned_anon[1] << "/" << scanned_file[1] << " vs " << scanned_anon[2]
                                          << "/" << scanned_file[2];
}

// A node full of clean page cache: an anonymous allocation of a task on that
// node spills to the other node with zone_reclaim_mode 0 (numa_miss), and stays
// local with mode 1, node_reclaim freeing the node's unmapped page cache first.
TEST_F(ReclaimPolicyTest, ZoneReclaimModeKeepsAllocationsLocalByReclaimingPageCache) {
  std::uint64_t miss[2] = {}, file_left[2] = {};
  for (int mode = 0; mode < 2; ++mode) {
    task_struct* t = boot(48ull << 20, 60, mode, false);
    read_file(t, 48ull << 20);
    write_anon(t, 24ull << 20);
    miss[mode] = pm().node_numa_event_state(NodeId(1), NUMA_MISS);
    file_left[mode] = static_cast<std::uint64_t>(node_stat(NR_FILE_PAGES, 0));
    k().check_consistency();
  }
  EXPECT_GT(miss[0], 1000u) << "mode 0: node 0 is full of page cache, the anon pages go to node 1";
  EXPECT_LT(miss[1] * 4, miss[0]) << "mode 1: node_reclaim frees page cache on node 0 first";
  EXPECT_LT(file_left[1], file_left[0]);
}

}  // namespace
}  // namespace numasim::os::testing
