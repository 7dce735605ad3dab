// Swap areas (os/swapfile.cpp): slot allocation by per-CPU clusters,
// priorities with round robin among equals, swapon's bad input (-errno,
// nothing changed), swapoff bringing every page back or failing with ENOMEM
// and losing nothing, /proc/swaps in Linux's layout, SwapTotal/SwapFree, and
// [[os.swap]] configuration with located errors.
#include <gtest/gtest.h>

#include <cerrno>

#include "common/config.h"
#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

using SwapfileTest = SwapTest;

TEST_F(SwapfileTest, SlotsComeFromThePerCpuClusterAndEachCpuGetsItsOwn) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64ull << 20), 0);  // 16384 slots, 64 clusters
  Swap& s = k().swap();
  EXPECT_EQ(s.total_swap_pages(), 16383u);  // the header slot is not swap space
  auto a = s.alloc_swap_entry(CpuId(0));
  auto b = s.alloc_swap_entry(CpuId(0));
  auto c = s.alloc_swap_entry(CpuId(1));
  auto d = s.alloc_swap_entry(CpuId(0));
  ASSERT_TRUE(a && b && c && d);
  // Cluster 0 holds the header, so it is not free: CPU 0 starts on cluster 1.
  EXPECT_EQ(swp_offset(*a), SWAPFILE_CLUSTER);
  EXPECT_EQ(swp_offset(*b), SWAPFILE_CLUSTER + 1);
  EXPECT_EQ(swp_offset(*c), 2 * SWAPFILE_CLUSTER);  // CPU 1 takes the next free cluster
  EXPECT_EQ(swp_offset(*d), SWAPFILE_CLUSTER + 2);
  EXPECT_EQ(s.nr_swap_pages(), s.total_swap_pages() - 4);
  EXPECT_EQ(s.swap_count(*a), 1u);
  EXPECT_EQ(s.swap_duplicate(*a), 0);
  EXPECT_EQ(s.swap_count(*a), 2u);
  s.swap_free(*a);
  s.swap_free(*a);
  EXPECT_EQ(s.nr_swap_pages(), s.total_swap_pages() - 3);
  EXPECT_EQ(s.swap_duplicate(*a), -ENOENT);  // a free slot has no users to duplicate
  // The freed slot is reused by CPU 0's cluster only after the cluster runs out; a cluster
  // filled completely moves CPU 0 on to a fresh one.
  for (unsigned i = 0; i < SWAPFILE_CLUSTER - 3; ++i) ASSERT_TRUE(s.alloc_swap_entry(CpuId(0)));
  auto e = s.alloc_swap_entry(CpuId(0));
  ASSERT_TRUE(e);
  EXPECT_EQ(swp_offset(*e), 3 * SWAPFILE_CLUSTER);
}

TEST_F(SwapfileTest, HigherPriorityFirstEqualPrioritiesRoundRobin) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 4 << 20, 5), 0);
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p3", 4 << 20, 5), 1);
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p4", 8 << 12, 10), 2);  // 7 slots
  Swap& s = k().swap();
  std::vector<unsigned> types;
  for (int i = 0; i < 11; ++i) {
    auto e = s.alloc_swap_entry(CpuId(0));
    ASSERT_TRUE(e);
    types.push_back(swp_type(*e));
  }
  EXPECT_EQ(types, (std::vector<unsigned>{2, 2, 2, 2, 2, 2, 2, 0, 1, 0, 1}));
  // Automatic priorities count down from -2 in swapon order.
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p5", 1 << 20), 3);
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p6", 1 << 20), 4);
  EXPECT_EQ(s.info(3)->prio, -2);
  EXPECT_EQ(s.info(4)->prio, -3);
}

TEST_F(SwapfileTest, SwaponRejectsBadInputAndChangesNothing) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 1 << 20), 0);
  const std::string before = k().proc_swaps();
  const std::uint64_t total = k().total_swap_pages(), free = free_pages();
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p3", 4096), -EINVAL);           // only a header
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p3", 1ull << 40), -EINVAL);     // beyond 2^27 slots
  EXPECT_EQ(swapon_nvme("", 1 << 20), -EINVAL);                       // no name
  EXPECT_EQ(swapon_nvme("/dev/a b", 1 << 20), -EINVAL);               // a blank in the name
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p2", 1 << 20), -EBUSY);          // already on
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p3", 1 << 20, 40000), -EINVAL);  // priority beyond 32767
  EXPECT_EQ(swapon_zram("/dev/zram0", 1 << 20, 7), -EINVAL);          // no node 7
  EXPECT_EQ(swapon_zram("/dev/zram0", 1 << 20, 0, 0.5), -EINVAL);     // expands the data
  platform_.capacity = Bytes(2 << 20);                                 // a 2 MiB device holds 1 MiB more
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p3", 2 << 20), -EINVAL);
  EXPECT_EQ(k().proc_swaps(), before);
  EXPECT_EQ(k().total_swap_pages(), total);
  EXPECT_EQ(free_pages(), free);
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p3", 1 << 20), 1);  // fits after the first area
  k().check_consistency();
  // All MAX_SWAPFILES types in use.
  for (unsigned i = 2; i < MAX_SWAPFILES; ++i)
    ASSERT_EQ(swapon_zram("/dev/zram" + std::to_string(i), 1 << 16, 0), static_cast<long>(i));
  EXPECT_EQ(swapon_zram("/dev/zram99", 1 << 16, 0), -EPERM);
  EXPECT_EQ(k().sys_swapoff("/dev/nope", CpuId(0), cost_), -EINVAL);
}

TEST_F(SwapfileTest, ProcSwapsHasLinuxLayout) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 2ull << 30), 0);
  ASSERT_EQ(swapon_zram("/dev/zram0", 64ull << 20, 1), 1);
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p3", 16ull << 30, 7), 2);
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 2 * kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  swap_out(t, a);  // onto the priority 7 area
  auto pad = [](const std::string& name) { return name + std::string(40 - name.size(), ' '); };  // %*s to column 40
  EXPECT_EQ(k().proc_swaps(), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" + pad("/dev/nvme0n1p2") +
                                  "partition\t2097148\t\t0\t\t-2\n" + pad("/dev/zram0") +
                                  "partition\t65532\t\t0\t\t-3\n" + pad("/dev/nvme0n1p3") +
                                  "partition\t16777212\t4\t\t7\n");
  const std::string mi = k().proc_meminfo();
  EXPECT_NE(mi.find("SwapTotal:      18939892 kB\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("SwapFree:       18939888 kB\n"), std::string::npos) << mi;
}

TEST_F(SwapfileTest, SwapoffReadsEveryPageBackWithItsToken) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 16, 1000);
  for (int i = 0; i < 16; i += 2) swap_out(t, a + i * kPageSize);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 8);
  k().check_consistency();
  ASSERT_EQ(k().sys_swapoff("/dev/nvme0n1p2", CpuId(0), cost_), 0);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 16);
  EXPECT_EQ(k().total_swap_pages(), 0u);
  EXPECT_EQ(pm().global_node_page_state(NR_SWAPCACHE), 0);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(token_at(t, a + i * kPageSize), 1000u + i) << i;
  EXPECT_EQ(k().proc_swaps(), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
  k().check_consistency();
  // The name is free again.
  EXPECT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
}

TEST_F(SwapfileTest, SwapoffWaitsForWritesInFlight) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(1);
  const long a = map_touched(t, 2, 300);
  page* pg = page_at(t, a);
  get_page(pg);  // reclaim's reference, held across the write
  ASSERT_TRUE(k().add_to_swap(pg, t->cpu, cost_));
  ASSERT_TRUE(k().try_to_unmap(pg, t->cpu, cost_));
  ASSERT_EQ(k().pageout(pg, t->cpu, cost_), PAGE_SUCCESS);
  ASSERT_TRUE(pg->test(PG_writeback));
  ASSERT_EQ(k().sys_swapoff("/dev/nvme0n1p2", CpuId(1), cost_), 0);
  EXPECT_FALSE(pg->test(PG_writeback));
  EXPECT_EQ(pm().global_node_page_state(NR_WRITEBACK), 0);
  EXPECT_EQ(page_at(t, a), pg);  // mapped again, out of the swap cache
  EXPECT_FALSE(pg->test(PG_swapcache));
  pm().free_pages(t->cpu, pg, 0, cost_);
  EXPECT_EQ(token_at(t, a), 300u);
  complete_io();  // the stale timer finds nothing to do
  EXPECT_EQ(pm().global_node_page_state(NR_WRITEBACK), 0);
  k().check_consistency();
}

TEST_F(SwapfileTest, SwapoffWithoutMemoryFailsWithEnomemAndLosesNothing) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 8, 77);
  for (int i = 0; i < 8; ++i) swap_out(t, a + i * kPageSize);
  FailPageAllocParams p;
  p.probability = 100;
  p.interval = 4;  // the 4th allocation fails
  pm().fail_page_alloc().configure(p);
  EXPECT_EQ(k().sys_swapoff("/dev/nvme0n1p2", CpuId(0), cost_), -ENOMEM);
  pm().fail_page_alloc().configure(FailPageAllocParams{});
  EXPECT_GT(k().total_swap_pages(), 0u);  // still on
  EXPECT_NE(k().proc_swaps().find("/dev/nvme0n1p2"), std::string::npos);
  EXPECT_GT(t->mm->rss_stat[MM_SWAPENTS], 0);
  EXPECT_GT(t->mm->rss_stat[MM_ANONPAGES], 0);  // what was read back stays in memory
  k().check_consistency();
  for (int i = 0; i < 8; ++i) {  // every page still readable with its token
    ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
    EXPECT_EQ(token_at(t, a + i * kPageSize), 77u + i);
  }
  k().check_consistency();
}

TEST(SwapConfig, AreasFromConfigAndLocatedErrors) {
  auto doc = ConfigDocument::from_string(
      "[os]\npage_cluster = 4\nswap_vma_readahead = false\n"
      "[[os.swap]]\nsize = \"2GiB\"\n"
      "[[os.swap]]\nsize = \"512MiB\"\ndevice = \"zram\"\nnode = 1\ncompression_ratio = 2.5\npriority = 100\n",
      "swap.toml");
  SwapParams p = SwapParams::from_config(doc->root().table("os"));
  EXPECT_NO_THROW(doc->finish());
  ASSERT_EQ(p.areas.size(), 2u);
  EXPECT_EQ(p.page_cluster, 4u);
  EXPECT_FALSE(p.vma_ra_enabled);
  EXPECT_EQ(p.areas[0].name, "/dev/nvme0n1p2");
  EXPECT_EQ(p.areas[0].size_bytes, 2ull << 30);
  EXPECT_FALSE(p.areas[0].priority);
  EXPECT_EQ(p.areas[1].name, "/dev/zram0");
  EXPECT_EQ(p.areas[1].device, SwapDevice::Zram);
  EXPECT_EQ(p.areas[1].node, 1);
  EXPECT_DOUBLE_EQ(p.areas[1].compression_ratio, 2.5);
  EXPECT_EQ(p.areas[1].priority, 100);

  auto bad = ConfigDocument::from_string(
      "[[os.swap]]\nsize = \"4KiB\"\n"
      "[[os.swap]]\nsize = \"1GiB\"\ndevice = \"floppy\"\n"
      "[[os.swap]]\nsize = \"1GiB\"\ncompression_ratio = 2.0\n",
      "bad_swap.toml");
  SwapParams q = SwapParams::from_config(bad->root().table("os"));
  try {
    bad->finish();
    FAIL() << "bad [[os.swap]] entries accepted";
  } catch (const ConfigErrors& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad_swap.toml:2"), std::string::npos) << what;  // the size
    EXPECT_NE(what.find("floppy"), std::string::npos) << what;
    EXPECT_NE(what.find("compression_ratio"), std::string::npos) << what;
  }
}

}  // namespace
