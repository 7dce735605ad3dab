// Demotion in reclaim (mm/vmscan.c shrink_folio_list + demote_folio_list,
// MR_DEMOTION) on a small machine shaped as configs/cxl-tiered.toml: two DRAM
// sockets and a CPU-less CXL node in the lower tier. A task bound to node 0
// writes more than node 0 holds; with demotion enabled its cold pages move to
// the CXL node instead of going to swap, every page keeps its identity token,
// and the checker holds; when the CXL node is full reclaim falls back to swap;
// with demotion off nothing demotes.
#include <gtest/gtest.h>

#include <map>

#include "os/kthread.h"
#include "os/memory_tiers.h"
#include "tests/os/swap_test_util.h"

namespace numasim::os::testing {
namespace {

Topology tiered_topology(const char* cxl_mem) {
  auto doc = ConfigDocument::from_string(
      std::string("[machine]\nsockets = 2\ncores_per_socket = 2\ndistances = [[10, 21, 14], [21, 10, 24], [14, 24, 10]]\n"
                  "[[node]]\nsocket = 0\nmemory = \"16MiB\"\n[[node]]\nsocket = 1\nmemory = \"16MiB\"\n"
                  "[[node]]\ncpus = 0\nmemory = \"") +
          cxl_mem +
          "\"\n[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = \"34.3GB/s\"\n"
          "[[link]]\nnodes = [0, 2]\nlatency = \"5ns\"\nbandwidth = \"256GB/s\"\n",
      "cxl_small.toml");
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

class DemotionTest : public SwapTest {
 protected:
  void boot(const char* cxl_mem, bool demotion, bool with_swap = true) {
    kernel_.reset();
    topo_ = tiered_topology(cxl_mem);
    params_.nr_hugepages_node = {0, 0, 0};
    params_.memtier.adistance = {MEMTIER_ADISTANCE_DRAM, MEMTIER_ADISTANCE_DRAM, MEMTIER_DEFAULT_DAX_ADISTANCE};
    params_.memtier.demotion_enabled = demotion;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
    if (with_swap) {
      ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 64 << 20), 0);
    }
    t_ = spawn(0);
    const unsigned long node0 = 1;
    ASSERT_EQ(k().sys_set_mempolicy(t_, MPOL_BIND, &node0, 64, cost_), 0);
  }
  // Writes n pages (token per page), kswapd of node 0 running now and then.
  void write_pages(int n) {
    k().check_consistency();
    const long a = mmap_anon(t_, static_cast<std::uint64_t>(n) * kPageSize);
    ASSERT_GT(a, 0);
    for (int i = 0; i < n; ++i) {
      const VirtAddr va = static_cast<VirtAddr>(a) + static_cast<VirtAddr>(i) * kPageSize;
      ASSERT_EQ(touch(t_, va, true), Kernel::FaultResult::Handled) << i;
      set_token(t_, va, 1000 + static_cast<std::uint64_t>(i));
      tokens_[va] = 1000 + static_cast<std::uint64_t>(i);
      if (i % 32 == 31) run_kswapd();  // swap writes complete, kswapd keeps the node above its watermarks
    }
    run_kswapd();
    k().check_consistency();
  }
  void run_kswapd() {
    complete_io();
    for (int n = 0; n < 3; ++n) {
      Kthread* ks = k().kthreads().kswapd(NodeId(n));
      KernelCost kc;
      for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
      }
    }
    complete_io();
  }
  // Pages resident per node (present PTEs of the task).
  std::map<int, int> resident() {
    std::map<int, int> r;
    for (const auto& [va, tok] : tokens_)
      if (page* pg = page_at(t_, va)) ++r[pm().page_to_nid(pg).value()];
    return r;
  }
  // Every page read back (swapped-out ones fault in) with its token.
  void verify_all() {
    int i = 0;
    for (const auto& [va, tok] : tokens_) {
      if (++i % 32 == 0) run_kswapd();
      ASSERT_EQ(touch(t_, va, false), Kernel::FaultResult::Handled);
      ASSERT_EQ(token_at(t_, va), tok) << std::hex << va;
    }
    k().check_consistency();
  }
  task_struct* t_ = nullptr;
  std::map<VirtAddr, std::uint64_t> tokens_;
  std::uint64_t phys_tok_ = 0;
};

TEST_F(DemotionTest, ColdPagesAreDemotedInsteadOfSwapped) {
  boot("64MiB", true);
  ASSERT_TRUE(k().can_demote(0));
  write_pages(8192);  // 32 MiB through a 16 MiB node
  const std::uint64_t demoted = ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT);
  EXPECT_GT(demoted, 2000u);
  EXPECT_EQ(ev(PSWPOUT), 0u);  // the CXL node had room for all of them
  EXPECT_EQ(ev(PGDEMOTE_KHUGEPAGED), 0u);
  EXPECT_GE(ev(PGMIGRATE_SUCCESS), demoted);
  std::map<int, int> r = resident();
  EXPECT_EQ(r[0] + r[2], 8192);  // nothing swapped, nothing on the other socket (demotion targets node 2 only)
  EXPECT_EQ(r[1], 0);
  EXPECT_GT(r[2], 2000);
  EXPECT_EQ(static_cast<std::uint64_t>(r[2]), demoted);
  // The first pages written are the coldest: they are the ones on the CXL node.
  EXPECT_EQ(pm().page_to_nid(page_at(t_, tokens_.begin()->first)).value(), 2);
  verify_all();
}

// With no swap at all, anonymous pages are still reclaimable on a node that can
// demote (can_reclaim_anon_pages counts can_demote, Linux 6.1): kswapd scans the
// anon lists and demotes instead of leaving node 0 to the OOM killer.
TEST_F(DemotionTest, WithoutSwapColdPagesAreStillDemoted) {
  boot("64MiB", true, false);
  ASSERT_EQ(k().total_swap_pages(), 0u);
  ASSERT_TRUE(k().can_demote(0));
  write_pages(8192);  // 32 MiB through a 16 MiB node
  EXPECT_GT(ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT), 2000u);
  EXPECT_TRUE(k().oom_kills().empty());
  std::map<int, int> r = resident();
  EXPECT_EQ(r[0] + r[2], 8192);
  verify_all();
}

TEST_F(DemotionTest, FullLowerTierFallsBackToSwap) {
  boot("16MiB", true);
  write_pages(12288);  // 48 MiB: more than node 0 and node 2 together (32 MiB)
  EXPECT_GT(ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT), 1000u);
  EXPECT_GT(ev(PSWPOUT), 1000u);  // demote_folio_list failed: the second pass swapped
  EXPECT_GT(ev(PGMIGRATE_FAIL), 0u);
  verify_all();
}

TEST_F(DemotionTest, NothingDemotesWhenDisabled) {
  boot("64MiB", false);
  EXPECT_FALSE(k().can_demote(0));
  write_pages(8192);
  EXPECT_EQ(ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT), 0u);
  EXPECT_GT(ev(PSWPOUT), 2000u);
  EXPECT_EQ(resident()[2], 0);
  // Switched on at run time (the sysfs knob): the next reclaim demotes.
  ASSERT_EQ(k().memory_tiers_sysfs_store("/sys/kernel/mm/numa/demotion_enabled", "1"), 0);
  write_pages(2048);
  EXPECT_GT(ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT), 0u);
  verify_all();
}

// THPs are demoted whole: a THP kswapd chooses to evict moves to the CXL node as
// one huge page (thp_migration_success, still PMD-mapped there), pgdemote_*
// counting its 512 base pages as Linux's nr_succeeded; no page is swapped and
// every subpage keeps its contents.
TEST_F(DemotionTest, ThpsAreDemotedWhole) {
  params_.thp.enabled = ThpEnabled::Always;
  boot("64MiB", true);
  auto phys_token = [&](VirtAddr va) -> std::uint64_t* {
    static std::uint64_t none = ~0ull;
    auto fr = k().follow_page(*t_->mm, va);
    if (!fr) return &none;
    phys_tok_ = k().page_tokens().get(fr->phys >> kPageShift);
    return &phys_tok_;
  };
  const std::uint64_t len = 32ull << 20;  // through a 16 MiB node
  const long m = mmap_anon(t_, len + HPAGE_PMD_SIZE);
  ASSERT_GT(m, 0);
  const VirtAddr a = (static_cast<VirtAddr>(m) + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);
  std::map<VirtAddr, std::uint64_t> toks;
  for (std::uint64_t off = 0; off < len; off += kPageSize) {
    ASSERT_EQ(touch(t_, a + off, true), Kernel::FaultResult::Handled) << off;
    auto fr = k().follow_page(*t_->mm, a + off);
    ASSERT_TRUE(fr.has_value());
    k().page_tokens().set(fr->phys >> kPageShift, 5000 + off / kPageSize);
    toks[a + off] = 5000 + off / kPageSize;
    if ((off / kPageSize) % 64 == 63) run_kswapd();
  }
  run_kswapd();
  k().check_consistency();
  const std::uint64_t demoted = ev(PGDEMOTE_KSWAPD) + ev(PGDEMOTE_DIRECT);
  std::printf("thp_fault_alloc %llu, thp_migration_success %llu, pgdemote %llu, pswpout %llu, node 2 AnonHugePages %ld kB\n",
              (unsigned long long)ev(THP_FAULT_ALLOC), (unsigned long long)ev(THP_MIGRATION_SUCCESS),
              (unsigned long long)demoted, (unsigned long long)ev(PSWPOUT),
              pm().node_page_state(NodeId(2), NR_ANON_THPS) * 4);
  EXPECT_GT(ev(THP_MIGRATION_SUCCESS), 0u);
  EXPECT_GE(demoted, ev(THP_MIGRATION_SUCCESS) * HPAGE_PMD_NR);
  EXPECT_GT(pm().node_page_state(NodeId(2), NR_ANON_THPS), 0);  // huge on the lower tier
  EXPECT_EQ(ev(PSWPOUT), 0u);
  bool huge_on_cxl = false;
  for (std::uint64_t off = 0; off < len; off += HPAGE_PMD_SIZE) {
    auto fr = k().follow_page(*t_->mm, a + off);
    huge_on_cxl |= fr && fr->level == PMD_LEVEL && pm().page_to_nid(fr->pg).value() == 2;
  }
  EXPECT_TRUE(huge_on_cxl);
  int i = 0;
  for (const auto& [va, tok] : toks) {
    if (++i % 64 == 0) run_kswapd();
    ASSERT_EQ(touch(t_, va, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(*phys_token(va), tok) << std::hex << va;
  }
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os::testing
