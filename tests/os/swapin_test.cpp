// Swap-out and swap-in (os/swap_state.cpp, os/page_io.cpp, do_swap_page): a
// page written out by add_to_swap + try_to_unmap + pageout +
// remove_swapcache_mapping comes back on fault with its token (a major fault,
// pswpin, a read bio); PG_writeback lasts until the write's completion timer;
// fork shares swap entries and both processes read the right token; a write
// fault on an exclusive page maps it writable and frees its slot; munmap and
// exit free slots; zram takes frames on its node; readahead counts swap_ra and
// swap_ra_hit and saves bios; the OOM reaper releases a victim's swap slots.
// The checker runs after every step.
#include <gtest/gtest.h>

#include "tests/os/swap_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class SwapinTest : public SwapTest {
 protected:
  std::int64_t node_free(int nid) {
    std::int64_t n = 0;
    for (const zone& z : pm().NODE_DATA(NodeId(nid)).node_zones) n += z.stats.vm_stat[NR_FREE_PAGES];
    return n;
  }
};

TEST_F(SwapinTest, PageWrittenOutComesBackOnFaultWithItsToken) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 4 * kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  set_token(t, a, 0xfeed);
  page* pg = page_at(t, a);
  const NodeId nid = pm().page_to_nid(pg);
  pm().drain_all_pages(scratch_);
  const std::uint64_t free_before = free_pages();

  // Step by step, checking what each stage leaves.
  get_page(pg);
  ASSERT_TRUE(k().add_to_swap(pg, t->cpu, cost_));
  EXPECT_TRUE(pg->test(PG_swapcache));
  EXPECT_TRUE(PageDirty(pg));
  EXPECT_EQ(pm().node_page_state(nid, NR_SWAPCACHE), 1);
  const swp_entry_t e = private_to_swp(pg->private_);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages() - 1);
  ASSERT_TRUE(k().try_to_unmap(pg, t->cpu, cost_));
  EXPECT_EQ(pte_at(t, a), swp_entry_to_pte(e));
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 1);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 0);
  EXPECT_EQ(k().swap().swap_count(e), 1u);
  const std::size_t bios = platform_.count(FakePlatform::Kind::Bio);
  ASSERT_EQ(k().pageout(pg, t->cpu, cost_), PAGE_SUCCESS);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), bios + 1);
  EXPECT_EQ(platform_.calls.back().src, static_cast<PhysAddr>(BioOp::Write));
  EXPECT_TRUE(pg->test(PG_writeback));
  EXPECT_FALSE(PageDirty(pg));
  EXPECT_EQ(pm().node_page_state(nid, NR_WRITEBACK), 1);
  EXPECT_EQ(pm().node_page_state(nid, NR_VMSCAN_WRITE), 1);
  EXPECT_EQ(ev(PSWPOUT), 1u);
  EXPECT_FALSE(k().remove_swapcache_mapping(pg, 0, t->cpu, cost_));  // still under writeback
  k().check_consistency();
  platform_.advance_to(platform_.clock + platform_.bio_latency - Picoseconds(1));
  EXPECT_TRUE(pg->test(PG_writeback));  // not done yet
  complete_io();
  EXPECT_FALSE(pg->test(PG_writeback));
  EXPECT_EQ(pm().node_page_state(nid, NR_WRITEBACK), 0);
  ASSERT_TRUE(k().remove_swapcache_mapping(pg, 0, t->cpu, cost_));
  pm().free_pages(t->cpu, pg, 0, cost_);
  EXPECT_EQ(pm().node_page_state(nid, NR_SWAPCACHE), 0);
  k().check_consistency();
  pm().drain_all_pages(scratch_);
  EXPECT_EQ(free_pages(), free_before + 1);  // the frame went back

  // The fault reads it back: major, a read bio, the token restored.
  const auto maj = t->maj_flt;
  const std::uint64_t majfault = ev(PGMAJFAULT);
  auto reads = [&] {
    std::size_t n = 0;
    for (const auto& c : platform_.calls) n += c.kind == FakePlatform::Kind::Bio && c.src == static_cast<PhysAddr>(BioOp::Read);
    return n;
  };
  const std::size_t reads_before = reads();
  ASSERT_EQ(touch(t, a, /*write=*/false), Kernel::FaultResult::Handled);
  EXPECT_EQ(t->maj_flt, maj + 1);
  EXPECT_EQ(ev(PGMAJFAULT), majfault + 1);
  EXPECT_EQ(ev(PSWPIN), 1u);
  EXPECT_EQ(reads(), reads_before + 1);
  EXPECT_EQ(token_at(t, a), 0xfeedu);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 0);
  EXPECT_EQ(t->mm->rss_stat[MM_ANONPAGES], 1);
  EXPECT_FALSE(pte_write(pte_at(t, a)));  // a read fault maps it read-only, the page stays cached
  EXPECT_TRUE(page_at(t, a)->test(PG_swapcache));
  k().check_consistency();
  // A write then reuses the exclusive page (do_wp_page frees its slot), no copy.
  const PhysAddr phys = k().follow_page(*t->mm, a)->phys;
  ASSERT_EQ(touch(t, a, /*write=*/true), Kernel::FaultResult::Handled);
  EXPECT_EQ(k().follow_page(*t->mm, a)->phys, phys);
  EXPECT_FALSE(page_at(t, a)->test(PG_swapcache));
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());
  k().check_consistency();
}

TEST_F(SwapinTest, WriteFaultOnAnExclusivePageMapsItWritableAndFreesTheSlot) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  set_token(t, a, 42);
  swap_out(t, a);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages() - 1);
  ASSERT_EQ(touch(t, a, /*write=*/true), Kernel::FaultResult::Handled);
  EXPECT_TRUE(pte_write(pte_at(t, a)));
  EXPECT_TRUE(pte_at(t, a) & _PAGE_DIRTY);
  EXPECT_EQ(token_at(t, a), 42u);
  EXPECT_FALSE(page_at(t, a)->test(PG_swapcache));
  EXPECT_TRUE(PageDirty(page_at(t, a)));  // the only copy of its data now
  expect_swap_empty();
}

TEST_F(SwapinTest, ForkSharesSwapEntriesAndBothReadTheRightToken) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* p = spawn(0);
  const long a = mmap_anon(p, 2 * kPageSize);
  ASSERT_EQ(touch(p, a), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(p, a + kPageSize), Kernel::FaultResult::Handled);
  set_token(p, a, 111);
  set_token(p, a + kPageSize, 222);
  const swp_entry_t e = swap_out(p, a);
  const long cpid = k().sys_fork(p, cost_);
  ASSERT_GT(cpid, 0);
  task_struct* c = k().find_task_by_pid(static_cast<int>(cpid));
  EXPECT_EQ(pte_at(c, a), swp_entry_to_pte(e));
  EXPECT_EQ(k().swap().swap_count(e), 2u);
  EXPECT_EQ(c->mm->rss_stat[MM_SWAPENTS], 1);
  k().check_consistency();
  // Swap out the second page while both map it (two PTEs become the entry).
  const swp_entry_t e2 = swap_out(p, a + kPageSize);
  EXPECT_EQ(k().swap().swap_count(e2), 2u);
  EXPECT_EQ(pte_at(c, a + kPageSize), swp_entry_to_pte(e2));
  k().check_consistency();

  // The child reads first: one read; the parent then hits the swap cache.
  const std::size_t reads = platform_.count(FakePlatform::Kind::Bio);
  ASSERT_EQ(touch(c, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(token_at(c, a), 111u);
  EXPECT_EQ(k().swap().swap_count(e), 1u);
  k().check_consistency();
  const std::size_t after_child = platform_.count(FakePlatform::Kind::Bio);
  EXPECT_GE(after_child, reads + 1);
  const auto pmaj = p->maj_flt;
  ASSERT_EQ(touch(p, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(p->maj_flt, pmaj);  // a swap-cache hit is a minor fault
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), after_child);
  EXPECT_EQ(token_at(p, a), 111u);
  EXPECT_EQ(page_at(p, a), page_at(c, a));  // one page, two mappings
  EXPECT_EQ(page_at(p, a)->mapcount, 2);
  k().check_consistency();
  // The child writes: copy-on-write gives it its own page with the same token.
  ASSERT_EQ(touch(c, a, true), Kernel::FaultResult::Handled);
  EXPECT_NE(page_at(p, a), page_at(c, a));
  k().check_consistency();
  ASSERT_EQ(touch(c, a + kPageSize, false), Kernel::FaultResult::Handled);
  ASSERT_EQ(touch(p, a + kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(token_at(c, a + kPageSize), 222u);
  EXPECT_EQ(token_at(p, a + kPageSize), 222u);
  ASSERT_EQ(touch(p, a + kPageSize, true), Kernel::FaultResult::Handled);  // copy-on-write
  k().check_consistency();
  k().exit_task(c);
  k().exit_task(p);
  expect_swap_empty();
}

TEST_F(SwapinTest, MunmapAndExitFreeSlots) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 32);
  for (int i = 0; i < 32; ++i) swap_out(t, a + i * kPageSize);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages() - 32);
  ASSERT_EQ(k().sys_munmap(t, a, 16 * kPageSize, cost_), 0);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages() - 16);
  EXPECT_EQ(t->mm->rss_stat[MM_SWAPENTS], 16);
  k().check_consistency();
  // One page read back into the swap cache, then the exit: its slot and page go too.
  ASSERT_EQ(touch(t, a + 20 * kPageSize, false), Kernel::FaultResult::Handled);
  k().exit_task(t);
  expect_swap_empty();
}

TEST_F(SwapinTest, ZramTakesFramesOnItsNodeAndCostsCycles) {
  ASSERT_EQ(swapon_zram("/dev/zram0", 8 << 20, 1, 3.0), 0);  // 1366-byte objects: 2 per frame
  task_struct* t = spawn(0);
  const long a = map_touched(t, 30, 500);
  pm().drain_all_pages(scratch_);
  const std::int64_t node1_free = node_free(1);
  const std::size_t bios = platform_.count(FakePlatform::Kind::Bio);
  KernelCost before = cost_;
  for (int i = 0; i < 30; ++i) swap_out(t, a + i * kPageSize);
  pm().drain_all_pages(scratch_);
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio), bios);  // no block I/O
  const std::int64_t node1_after = node_free(1);
  EXPECT_EQ(node1_free - node1_after, 15);  // 30 objects, 2 per frame
  EXPECT_GE(cost_.cycles.value() - before.cycles.value(), 30u * 12000u);  // compression
  EXPECT_EQ(ev(PSWPOUT), 30u);
  k().check_consistency();
  // A single-user zram page skips the swap cache and frees its slot and object at once.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
    EXPECT_EQ(token_at(t, a + i * kPageSize), 500u + i);
    EXPECT_FALSE(page_at(t, a + i * kPageSize)->test(PG_swapcache));
  }
  EXPECT_EQ(ev(PSWPIN), 30u);
  EXPECT_EQ(ev(SWAP_RA), 0u);  // no readahead on a synchronous device with one user
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());
  pm().drain_all_pages(scratch_);
  EXPECT_EQ(node_free(1), node1_free);
  k().check_consistency();
}

TEST_F(SwapinTest, MbindSkipsSwapEntriesAndMovePagesLeavesSwapCachePages) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 4, 60);
  const swp_entry_t e = swap_out(t, a);              // page 0: only a swap entry
  swap_out(t, a + kPageSize);
  ASSERT_EQ(touch(t, a + kPageSize, false), Kernel::FaultResult::Handled);  // page 1: mapped and cached
  ASSERT_TRUE(page_at(t, a + kPageSize)->test(PG_swapcache));
  unsigned long n1 = 2;
  ASSERT_EQ(k().sys_mbind(t, a, 4 * kPageSize, MPOL_BIND, &n1, 3, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(pte_at(t, a), swp_entry_to_pte(e));  // not a page: nothing to move
  EXPECT_EQ(pm().page_to_nid(page_at(t, a + 2 * kPageSize)).value(), 1);
  EXPECT_EQ(pm().page_to_nid(page_at(t, a + kPageSize)).value(), 0);  // swap-cache pages stay (-EBUSY)
  k().check_consistency();
  ASSERT_EQ(touch(t, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(pm().page_to_nid(page_at(t, a)).value(), 1);  // read back under the new policy
  EXPECT_EQ(token_at(t, a), 60u);
  EXPECT_EQ(token_at(t, a + kPageSize), 61u);
  k().check_consistency();
}

class SwapReadaheadTest : public SwapTest, public ::testing::WithParamInterface<bool> {
 protected:
  SwapReadaheadTest() {
    params_.swap.vma_ra_enabled = GetParam();
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
    k().page_tokens().enable(pm().max_pfn());
  }
};

TEST_P(SwapReadaheadTest, SequentialSwapInsReadAheadAndHit) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  constexpr int kPages = 64;
  const long a = map_touched(t, kPages, 9000);
  for (int i = 0; i < kPages; ++i) swap_out(t, a + i * kPageSize);
  const std::size_t bios = platform_.count(FakePlatform::Kind::Bio);
  for (int i = 0; i < kPages; ++i) {
    ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(token_at(t, a + i * kPageSize), 9000u + i) << i;
  }
  EXPECT_EQ(ev(PSWPIN), static_cast<std::uint64_t>(kPages));  // every page read once
  EXPECT_EQ(platform_.count(FakePlatform::Kind::Bio) - bios, static_cast<std::size_t>(kPages));
  EXPECT_GT(ev(SWAP_RA), static_cast<std::uint64_t>(kPages / 2));  // most were read ahead
  EXPECT_GT(ev(SWAP_RA_HIT), static_cast<std::uint64_t>(kPages / 2));
  EXPECT_LT(t->maj_flt, static_cast<unsigned long>(kPages / 2));  // hits are minor faults
  k().check_consistency();
  k().exit_task(t);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());
  k().check_consistency();
}

TEST_P(SwapReadaheadTest, PageClusterZeroReadsNoMore) {
  params_.swap.page_cluster = 0;
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 16);
  for (int i = 0; i < 16; ++i) swap_out(t, a + i * kPageSize);
  for (int i = 0; i < 16; ++i) ASSERT_EQ(touch(t, a + i * kPageSize, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(ev(SWAP_RA), 0u);
  EXPECT_EQ(t->maj_flt, 16u);
  k().check_consistency();
}

INSTANTIATE_TEST_SUITE_P(VmaAndCluster, SwapReadaheadTest, ::testing::Bool());

TEST_F(SwapinTest, OomReaperReleasesTheVictimsSwapSlots) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 8 << 20), 0);
  task_struct* victim = spawn(0);
  constexpr std::uint64_t kVictim = 320ull << 20;  // most of the 512 MiB machine
  const long a = mmap_anon(victim, kVictim);
  ASSERT_GT(a, 0);
  for (std::uint64_t off = 0; off < kVictim; off += kPageSize)
    ASSERT_EQ(touch(victim, a + off), Kernel::FaultResult::Handled);
  for (int i = 0; i < 32; ++i) swap_out(victim, a + i * kPageSize);
  EXPECT_EQ(victim->mm->rss_stat[MM_SWAPENTS], 32);
  // A smaller task exhausts memory: the OOM killer picks the victim and reaps it.
  task_struct* hog = spawn(0);
  const long big = mmap_anon(hog, 512ull << 20);
  ASSERT_GT(big, 0);
  for (std::uint64_t off = 0; !victim->oom_killed && off < (512ull << 20); off += kPageSize)
    ASSERT_EQ(touch(hog, big + off), Kernel::FaultResult::Handled);
  ASSERT_TRUE(victim->oom_killed);
  EXPECT_EQ(victim->mm->rss_stat[MM_SWAPENTS], 0);
  // Reclaim swapped the hog's pages out too (the area is small): once it exits, the
  // only slots still in use are those of pages left in the swap cache (written back
  // or under writeback, freed by later reclaim as in Linux).
  k().exit_task(hog);
  EXPECT_EQ(k().total_swap_pages() - k().nr_swap_pages(),
            static_cast<std::uint64_t>(pm().global_node_page_state(NR_SWAPCACHE)));
  k().check_consistency();
}

}  // namespace

namespace {

// Random mmap/touch/fork/munmap/exit with pages reclaimed through the swap seam
// (as shrink_folio_list would: add_to_swap unless cached, try_to_unmap, pageout
// when dirty, remove_swapcache_mapping) on two areas of equal priority, the
// checker after every step; at the end every slot is free again.
TEST_F(SwapinTest, RandomOperationsKeepSwapCountsConsistent) {
  ASSERT_EQ(swapon_nvme("/dev/nvme0n1p2", 2 << 20, 1), 0);
  ASSERT_EQ(swapon_zram("/dev/zram0", 2 << 20, 1), 1);
  k().swap().info(1)->prio = 1;  // equal priorities: round robin between NVMe and zram
  std::uint64_t rng = 12345;
  auto next = [&](std::uint64_t n) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (rng >> 33) % n;
  };
  constexpr std::uint64_t kLen = 64 * kPageSize;
  std::vector<std::pair<task_struct*, long>> tasks;
  auto add_task = [&] {
    task_struct* t = spawn(static_cast<int>(next(4)));
    const long a = mmap_anon(t, kLen);
    ASSERT_GT(a, 0);
    tasks.push_back({t, a});
  };
  add_task();
  auto reclaim = [&](page* pg, CpuId cpu) {
    LruTestAccess::isolate_lru_page(k(), pg);  // isolate_lru_folios: off the LRU, with the reclaimer's reference
    get_page(pg);
    auto putback = [&] {  // putback_lru_page for a page that stays, then the reclaimer's put
      if (pg->_refcount > 1) k().lru_cache_add(pg, cpu);
      pm().free_pages(cpu, pg, 0, cost_);
    };
    if (!pg->test(PG_swapcache) && !k().add_to_swap(pg, cpu, cost_)) return putback();
    k().try_to_unmap(pg, cpu, cost_);
    if (PageDirty(pg) && k().pageout(pg, cpu, cost_) == PAGE_SUCCESS) complete_io();
    if (k().remove_swapcache_mapping(pg, 0, cpu, cost_)) return pm().free_pages(cpu, pg, 0, cost_);
    putback();
  };
  for (int step = 0; step < 3000; ++step) {
    auto& [t, a] = tasks[next(tasks.size())];
    const VirtAddr va = a + next(kLen / kPageSize) * kPageSize;
    switch (next(10)) {
      case 0:
      case 1:
      case 2: {
        const auto r = touch(t, va, next(2) == 0);  // SIGSEGV where munmap left a hole
        ASSERT_TRUE(r == Kernel::FaultResult::Handled || r == Kernel::FaultResult::Sigsegv);
        break;
      }
      case 3:
      case 4:
      case 5:
        if (page* pg = page_at(t, va); pg && PageAnon(pg)) reclaim(pg, t->cpu);
        break;
      case 6:
        if (tasks.size() < 6) {
          const long pid = k().sys_fork(t, cost_);
          ASSERT_GT(pid, 0);
          tasks.push_back({k().find_task_by_pid(static_cast<int>(pid)), a});
        }
        break;
      case 7:
        ASSERT_EQ(k().sys_munmap(t, va, kPageSize * (1 + next(4)), cost_), 0);
        break;
      case 8:
        if (tasks.size() > 1) {
          const std::size_t i = next(tasks.size());
          k().exit_task(tasks[i].first);
          tasks.erase(tasks.begin() + static_cast<long>(i));
        } else {
          add_task();
        }
        break;
      default: {
        const auto r = touch(t, va, true);
        ASSERT_TRUE(r == Kernel::FaultResult::Handled || r == Kernel::FaultResult::Sigsegv);
        break;
      }
    }
    k().check_consistency();
  }
  EXPECT_GT(ev(PSWPOUT), 50u);
  EXPECT_GT(ev(PSWPIN), 20u);
  for (auto& [t, a] : tasks) k().exit_task(t);
  EXPECT_EQ(k().nr_swap_pages(), k().total_swap_pages());
  k().check_consistency();
}

}  // namespace
