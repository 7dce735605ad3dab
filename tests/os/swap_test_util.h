// Shared set-up for the swap tests: the two-node kernel fixture with page
// identity tokens on, swapon helpers, and swap_out, which drives reclaim's
// sequence for one page by hand (shrink_folio_list is not in this branch):
// isolate (a reference), add_to_swap, try_to_unmap, pageout, the write's
// completion (the fake clock advanced past the bio), remove_swapcache_mapping
// and the final put.
#pragma once

#include <gtest/gtest.h>

#include "os/swapfile.h"
#include "os/swapops.h"
#include "tests/os/kernel_fixture.h"
#include "tests/os/lru_test_access.h"

namespace numasim::os::testing {

class SwapTest : public KernelTest {
 protected:
  SwapTest() { k().page_tokens().enable(pm().max_pfn()); }

  long swapon_nvme(const std::string& name, std::uint64_t bytes, std::optional<int> prio = std::nullopt) {
    SwapAreaParams a;
    a.name = name;
    a.size_bytes = bytes;
    a.priority = prio;
    return k().sys_swapon(a, cost_);
  }
  long swapon_zram(const std::string& name, std::uint64_t bytes, int node, double ratio = 3.0) {
    SwapAreaParams a;
    a.name = name;
    a.size_bytes = bytes;
    a.device = SwapDevice::Zram;
    a.node = node;
    a.compression_ratio = ratio;
    return k().sys_swapon(a, cost_);
  }
  page* page_at(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr && fr->pg && pte_present(fr->leaf) ? fr->pg : nullptr;
  }
  pteval_t pte_at(task_struct* t, VirtAddr a) {
    PteRef r = k().pgtables().walk(t->mm->pgd, a, PTE_LEVEL);
    return r && r.level == PTE_LEVEL ? r.value() : 0;
  }
  void set_token(task_struct* t, VirtAddr a, std::uint64_t token) {
    page* pg = page_at(t, a);
    ASSERT_NE(pg, nullptr);
    k().page_tokens().set(pm().page_to_pfn(pg).value(), token);
  }
  std::uint64_t token_at(task_struct* t, VirtAddr a) {
    page* pg = page_at(t, a);
    return pg ? k().page_tokens().get(pm().page_to_pfn(pg).value()) : ~0ull;
  }
  // Write-back completes: the fake clock passes every bio's latency (timers fire).
  void complete_io() { platform_.advance_to(platform_.clock + platform_.bio_latency); }

  // Reclaim of the page mapped at `a` (every mapping of it), as shrink_folio_list does.
  // Returns the swap entry its PTEs now hold.
  swp_entry_t swap_out(task_struct* t, VirtAddr a) {
    page* pg = page_at(t, a);
    EXPECT_NE(pg, nullptr);
    if (!pg) return {};
    const CpuId cpu = t->cpu;
    LruTestAccess::isolate_lru_page(k(), pg);  // isolate_lru_folios: off the LRU,
    get_page(pg);                              // with the reclaimer's reference
    EXPECT_TRUE(k().add_to_swap(pg, cpu, cost_));
    const swp_entry_t e = private_to_swp(pg->private_);
    EXPECT_TRUE(k().try_to_unmap(pg, cpu, cost_));
    EXPECT_EQ(k().pageout(pg, cpu, cost_), PAGE_SUCCESS);
    complete_io();
    EXPECT_FALSE(pg->test(PG_writeback));
    EXPECT_TRUE(k().remove_swapcache_mapping(pg, /*shadow=*/0, cpu, cost_));
    pm().free_pages(cpu, pg, 0, cost_);  // the reclaimer frees it
    return e;
  }
  std::uint64_t ev(vm_event_item i) { return pm().sum_vm_event(i); }
  // n private anonymous pages mapped and written; page i gets token `token_base + i` (0: none).
  long map_touched(task_struct* t, int n, std::uint64_t token_base = 0) {
    const long a = mmap_anon(t, static_cast<std::uint64_t>(n) * kPageSize);
    EXPECT_GT(a, 0);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
      if (token_base) set_token(t, a + i * kPageSize, token_base + i);
    }
    return a;
  }
  // Nothing left in swap: every slot free, the swap cache empty, the checker content.
  void expect_swap_empty() {
    EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());
    EXPECT_EQ(pm().global_node_page_state(NR_SWAPCACHE), 0);
    k().check_consistency();
  }
};

}  // namespace numasim::os::testing
