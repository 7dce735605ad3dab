// THPs under real memory pressure (no injected reclaim): a small two-node
// machine (32 MiB per node) with THP enabled=always and 96 MiB of NVMe swap; a
// task bound to node 0 faults in more 2 MiB-aligned anonymous memory than the
// node holds, writing an identity token into every subpage. The allocator's
// slow path (direct reclaim) and kswapd find the THPs on the inactive anon
// list; without THP swap-out they split them (thp_swpout_fallback) and swap
// the subpages out as small pages. Reading everything back (swap-ins) finds
// every token; check_consistency holds after every 2 MiB and at the end, and
// nothing is left in swap once the task exits. Time passes (writes complete,
// kswapd runs) every 32 pages: the fake clock does not move inside a fault, so
// direct reclaim alone cannot wait for its writes (Linux throttles on them).
#include <gtest/gtest.h>

#include <cstdio>

#include "os/huge_memory.h"
#include "os/kthread.h"
#include "tests/os/swap_test_util.h"

namespace numasim::os::testing {
namespace {

constexpr VirtAddr kBase = 0x200000000ull;  // 2 MiB aligned
constexpr std::uint64_t kBytes = 56ull << 20;  // node 0 has 32 MiB

class ThpPressureTest : public SwapTest {
 protected:
  ThpPressureTest() {
    kernel_.reset();
    topo_ = two_node_topology("32MiB");
    params_.nr_hugepages_node = {0, 0};
    params_.thp.enabled = ThpEnabled::Always;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
    platform_.record = false;
  }
  std::uint64_t pfn_at(task_struct* t, VirtAddr va) {
    auto f = k().follow_page(*t->mm, va);
    if (!f || !f->pg || !pte_present(f->leaf)) return ~0ull;
    return f->phys >> kPageShift;
  }
  // Time passes: writes complete, kswapd runs its passes (bounded).
  void let_kswapd_run() {
    complete_io();
    for (int n = 0; n < 2; ++n) {
      Kthread* ks = k().kthreads().kswapd(NodeId(n));
      KernelCost kc;
      for (int runs = 0; runs < 8 && k().kthreads().run(&ks->task, kc); ++runs) {
      }
    }
    platform_.woken.clear();
  }
  static std::uint64_t token(VirtAddr va) { return 0x7400'0000'0000ull | (va >> kPageShift); }
};

TEST_F(ThpPressureTest, ThpsSplitAndSwapUnderRealPressureAndComeBackIntact) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 96 << 20), 0);
  task_struct* t = spawn(0);
  unsigned long node0 = 1;
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_BIND, &node0, 2, cost_), 0);
  ASSERT_EQ(mmap_anon(t, kBytes, PROT_READ | PROT_WRITE, MAP_FIXED, kBase), static_cast<long>(kBase));
  std::uint64_t thp_at_fault = 0;
  for (VirtAddr va = kBase; va < kBase + kBytes; va += kPageSize) {
    ASSERT_EQ(touch(t, va, true), Kernel::FaultResult::Handled) << std::hex << va;
    if ((va & (HPAGE_PMD_SIZE - 1)) == 0) {
      auto f = k().follow_page(*t->mm, va);
      if (f && f->level == PMD_LEVEL) ++thp_at_fault;
    }
    const std::uint64_t pfn = pfn_at(t, va);
    ASSERT_NE(pfn, ~0ull);
    k().page_tokens().set(pfn, token(va));
    if ((va & (32 * kPageSize - 1)) == 31 * kPageSize) let_kswapd_run();  // time passes
    if ((va & (HPAGE_PMD_SIZE - 1)) == HPAGE_PMD_SIZE - kPageSize) k().check_consistency();
  }
  EXPECT_FALSE(t->oom_killed);
  // Real pressure: THPs were faulted, then split by reclaim and their subpages swapped.
  EXPECT_GT(thp_at_fault, 4u);
  EXPECT_GT(pm().sum_vm_event(THP_FAULT_ALLOC), 4u);
  EXPECT_GT(pm().sum_vm_event(THP_SWPOUT_FALLBACK), 0u);
  EXPECT_EQ(pm().sum_vm_event(THP_SWPOUT), 0u);  // no THP swap
  EXPECT_GT(pm().sum_vm_event(THP_SPLIT_PAGE), 0u);
  EXPECT_GT(pm().sum_vm_event(PSWPOUT), 512u);
  // Read everything back: every subpage holds its token, wherever it went.
  std::uint64_t verified = 0;
  for (VirtAddr va = kBase; va < kBase + kBytes; va += kPageSize) {
    ASSERT_EQ(touch(t, va, false), Kernel::FaultResult::Handled) << std::hex << va;
    ASSERT_EQ(k().page_tokens().get(pfn_at(t, va)), token(va)) << std::hex << va;
    ++verified;
    if ((va & (32 * kPageSize - 1)) == 31 * kPageSize) let_kswapd_run();  // time passes
    if ((va & (HPAGE_PMD_SIZE - 1)) == HPAGE_PMD_SIZE - kPageSize) k().check_consistency();
  }
  EXPECT_FALSE(t->oom_killed);
  EXPECT_EQ(verified, kBytes / kPageSize);
  EXPECT_GT(pm().sum_vm_event(PSWPIN), 512u);
  std::printf("thp_fault_alloc %llu, thp_swpout_fallback %llu, thp_split_page %llu, pswpout %llu, pswpin %llu\n",
              static_cast<unsigned long long>(pm().sum_vm_event(THP_FAULT_ALLOC)),
              static_cast<unsigned long long>(pm().sum_vm_event(THP_SWPOUT_FALLBACK)),
              static_cast<unsigned long long>(pm().sum_vm_event(THP_SPLIT_PAGE)),
              static_cast<unsigned long long>(pm().sum_vm_event(PSWPOUT)),
              static_cast<unsigned long long>(pm().sum_vm_event(PSWPIN)));
  k().exit_task(t);
  complete_io();
  k().check_consistency();
  // Nothing leaked: a slot still in use belongs to a page left in the swap cache.
  EXPECT_EQ(k().total_swap_pages() - k().nr_swap_pages(),
            static_cast<std::uint64_t>(pm().global_node_page_state(NR_SWAPCACHE)));
  EXPECT_EQ(pm().global_node_page_state(NR_ANON_THPS), 0);
}

}  // namespace
}  // namespace numasim::os::testing
