// Page identity tokens (os/page_token.h) carried by the kernel wherever Linux
// carries a page's data: clear_page on a first touch (private and shmem),
// clear_user_highpage / copy_user_highpage in do_wp_page (zero page and COW
// after fork), clear_huge_page and the private hugetlb copy at fork,
// folio_copy in migration (move_pages, mbind MPOL_MF_MOVE, shmem and hugetlb
// pages), and __GFP_ZERO in the page allocator. A property test runs random
// mmap / write / read / fork / exit / munmap / madvise(DONTNEED) / move_pages /
// mbind(MPOL_MF_MOVE) with 5% of page allocations failing and checks that every
// read finds the token last written by its own process (nothing lost).
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "os/hugetlb.h"
#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class PageTokenTest : public KernelTest {
 protected:
  PageTokenTest() { k().page_tokens().enable(pm().max_pfn()); }
  std::uint64_t pfn(task_struct* t, VirtAddr a) {
    auto fr = k().follow_page(*t->mm, a);
    return fr ? fr->phys >> kPageShift : 0;
  }
  // What a workload store leaves in the page (hw::Core::verify_access).
  void write_token(task_struct* t, VirtAddr a, std::uint64_t token) {
    ASSERT_EQ(touch(t, a, true), Kernel::FaultResult::Handled);
    k().page_tokens().set(pfn(t, a), token);
  }
  std::uint64_t token_at(task_struct* t, VirtAddr a) { return k().page_tokens().get(pfn(t, a)); }
  int node_of(task_struct* t, VirtAddr a) { return pm().page_to_nid(pm().pfn_to_page(Pfn(pfn(t, a)))).value(); }
};

TEST(PageTokens, DisabledTableHoldsNothing) {
  PageTokens t;
  EXPECT_FALSE(t.enabled());
  t.set(5, 7);
  EXPECT_EQ(t.get(5), 0u);
  t.enable(16);
  t.set(5, 7);
  t.copy(9, 5);
  EXPECT_EQ(t.get(9), 7u);
  t.clear(8, 1);  // frames 8 and 9
  EXPECT_EQ(t.get(9), 0u);
  EXPECT_EQ(t.get(5), 7u);
}

TEST_F(PageTokenTest, FreshPagesAreClearedEvenWhenTheFrameHeldAnOldToken) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  write_token(t, a, 0x1111);
  const std::uint64_t old = pfn(t, a);
  ASSERT_EQ(k().sys_munmap(t, a, 4 * kPageSize, cost_), 0);
  EXPECT_EQ(k().page_tokens().get(old), 0x1111u);  // freeing does not clear; the next user's clear_page does
  const VirtAddr b = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  bool reused = false;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(touch(t, b + i * kPageSize, true), Kernel::FaultResult::Handled);
    EXPECT_EQ(token_at(t, b + i * kPageSize), 0u) << "page " << i;
    reused |= pfn(t, b + i * kPageSize) == old;
  }
  EXPECT_TRUE(reused) << "the per-cpu list should hand the freed frame back";
  k().exit_task(t);
}

TEST_F(PageTokenTest, ZeroPageReadsZeroAndTheWriteFaultClearsTheNewPage) {
  task_struct* t = spawn(0);
  // A freed frame with a token, which the write fault below takes again.
  const VirtAddr old = static_cast<VirtAddr>(mmap_anon(t, kPageSize));
  write_token(t, old, 0x2222);
  const std::uint64_t old_pfn = pfn(t, old);
  ASSERT_EQ(k().sys_munmap(t, old, kPageSize, cost_), 0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, kPageSize));
  ASSERT_EQ(touch(t, a, false), Kernel::FaultResult::Handled);
  EXPECT_EQ(pfn(t, a), k().zero_page_phys() >> kPageShift);
  EXPECT_EQ(token_at(t, a), 0u);
  ASSERT_EQ(touch(t, a, true), Kernel::FaultResult::Handled);  // do_wp_page on the zero page
  EXPECT_EQ(pfn(t, a), old_pfn);
  EXPECT_EQ(token_at(t, a), 0u);  // clear_user_highpage
  k().exit_task(t);
}

TEST_F(PageTokenTest, ForkSharesTheTokenAndCopyOnWriteCopiesIt) {
  task_struct* p = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(p, 2 * kPageSize));
  write_token(p, a, 0xAAAA);
  write_token(p, a + kPageSize, 0xBBBB);
  const long pid = k().sys_fork(p, cost_);
  ASSERT_GT(pid, 0);
  task_struct* c = k().find_task_by_pid(static_cast<int>(pid));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(token_at(c, a), 0xAAAAu);  // same frame
  // The child writes: copy_user_highpage gives it a copy holding the parent's token ...
  ASSERT_EQ(touch(c, a, true), Kernel::FaultResult::Handled);
  ASSERT_NE(pfn(c, a), pfn(p, a));
  EXPECT_EQ(token_at(c, a), 0xAAAAu);
  // ... which it then overwrites without touching the parent's page.
  k().page_tokens().set(pfn(c, a), 0xCCCC);
  EXPECT_EQ(token_at(p, a), 0xAAAAu);
  // The parent's write to the second page copies too (the child still maps it).
  ASSERT_EQ(touch(p, a + kPageSize, true), Kernel::FaultResult::Handled);
  EXPECT_EQ(token_at(p, a + kPageSize), 0xBBBBu);
  EXPECT_EQ(token_at(c, a + kPageSize), 0xBBBBu);
  k().check_consistency();
  k().exit_task(c);
  k().exit_task(p);
}

TEST_F(PageTokenTest, MovePagesAndMbindMoveCarryTheToken) {
  task_struct* t = spawn(0);
  const VirtAddr a = static_cast<VirtAddr>(mmap_anon(t, 4 * kPageSize));
  for (int i = 0; i < 4; ++i) write_token(t, a + i * kPageSize, 0x100 + i);
  ASSERT_EQ(node_of(t, a), 0);
  VirtAddr pages[2] = {a, a + kPageSize};
  int nodes[2] = {1, 1};
  int status[2] = {-1, -1};
  ASSERT_EQ(k().sys_move_pages(t, 0, 2, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(status[0], 1);
  EXPECT_EQ(node_of(t, a), 1);
  EXPECT_EQ(token_at(t, a), 0x100u);
  EXPECT_EQ(token_at(t, a + kPageSize), 0x101u);
  unsigned long mask = 1ul << 1;
  ASSERT_EQ(k().sys_mbind(t, a + 2 * kPageSize, 2 * kPageSize, MPOL_BIND, &mask, 3, MPOL_MF_MOVE, cost_), 0);
  EXPECT_EQ(node_of(t, a + 3 * kPageSize), 1);
  EXPECT_EQ(token_at(t, a + 2 * kPageSize), 0x102u);
  EXPECT_EQ(token_at(t, a + 3 * kPageSize), 0x103u);
  k().exit_task(t);
}

TEST_F(PageTokenTest, SharedAnonymousPagesAreClearedAndMigratedWithTheirToken) {
  task_struct* t = spawn(0);
  const VirtAddr s = static_cast<VirtAddr>(
      k().sys_mmap(t, 0, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_));
  ASSERT_EQ(touch(t, s, false), Kernel::FaultResult::Handled);  // shmem: a real page even for a read
  EXPECT_EQ(token_at(t, s), 0u);
  k().page_tokens().set(pfn(t, s), 0x5EED);
  VirtAddr pages[1] = {s};
  int nodes[1] = {1};
  int status[1] = {-1};
  ASSERT_EQ(k().sys_move_pages(t, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  ASSERT_EQ(status[0], 1);
  EXPECT_EQ(token_at(t, s), 0x5EEDu);
  k().exit_task(t);
}

TEST_F(PageTokenTest, HugetlbPagesAreClearedCopiedAtForkAndMigratedPerSubpage) {
  task_struct* p = spawn(0);
  const VirtAddr h = static_cast<VirtAddr>(
      k().sys_mmap(p, 0, HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost_));
  ASSERT_EQ(touch(p, h, true), Kernel::FaultResult::Handled);
  const std::uint64_t head = pfn(p, h) & ~((1ull << HUGETLB_PAGE_ORDER) - 1);
  for (std::uint64_t i = 0; i < 512; ++i) EXPECT_EQ(k().page_tokens().get(head + i), 0u);
  k().page_tokens().set(head + 0, 0xA0);
  k().page_tokens().set(head + 511, 0xA1);
  const long pid = k().sys_fork(p, cost_);
  ASSERT_GT(pid, 0);
  task_struct* c = k().find_task_by_pid(static_cast<int>(pid));
  const std::uint64_t chead = pfn(c, h) & ~((1ull << HUGETLB_PAGE_ORDER) - 1);
  ASSERT_NE(chead, head);  // private hugetlb pages are copied at fork
  EXPECT_EQ(k().page_tokens().get(chead), 0xA0u);
  EXPECT_EQ(k().page_tokens().get(chead + 511), 0xA1u);
  VirtAddr pages[1] = {h};
  int nodes[1] = {1};
  int status[1] = {-1};
  ASSERT_EQ(k().sys_move_pages(p, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_), 0);
  ASSERT_EQ(status[0], 1);
  const std::uint64_t moved = pfn(p, h) & ~((1ull << HUGETLB_PAGE_ORDER) - 1);
  EXPECT_NE(moved, head);
  EXPECT_EQ(k().page_tokens().get(moved), 0xA0u);
  EXPECT_EQ(k().page_tokens().get(moved + 511), 0xA1u);
  k().exit_task(c);
  k().exit_task(p);
}

TEST_F(PageTokenTest, GfpZeroClearsTheTokensOfTheWholeBlock) {
  KernelCost cost;
  page* pg = pm().alloc_pages(CpuId(0), GFP_KERNEL, 2, NodeId(0), nullptr, cost);
  ASSERT_NE(pg, nullptr);
  const std::uint64_t base = pm().page_to_pfn(pg).value();
  for (int i = 0; i < 4; ++i) k().page_tokens().set(base + i, 0x77);
  pm().free_pages(CpuId(0), pg, 2, cost);
  page* again = pm().alloc_pages(CpuId(0), GFP_KERNEL | __GFP_ZERO, 2, NodeId(0), nullptr, cost);
  ASSERT_EQ(again, pg);  // the buddy hands the same block back
  for (int i = 0; i < 4; ++i) EXPECT_EQ(k().page_tokens().get(base + i), 0u);
  pm().free_pages(CpuId(0), again, 2, cost);
}

// "Nothing lost" under random address-space operations with injected
// allocation failures: a model of each process's pages (virtual page -> token
// last written; absent: never written or discarded, reads 0) is checked on
// every read, and the kernel's consistency after every step.
class PageTokenPropertyTest : public PageTokenTest, public ::testing::WithParamInterface<std::uint64_t> {};

TEST_P(PageTokenPropertyTest, EveryReadFindsWhatItsProcessLastWrote) {
  std::mt19937_64 rng(GetParam());
  auto rnd = [&](std::uint64_t n) { return n ? rng() % n : 0; };
  FailPageAllocParams fp;
  fp.probability = 5;
  fp.seed = GetParam();
  pm().fail_page_alloc().configure(fp);
  struct Proc {
    task_struct* t;
    std::vector<std::pair<VirtAddr, std::uint64_t>> regions;  // (start, pages)
    std::map<VirtAddr, std::uint64_t> tokens;                 // page -> last token written
  };
  std::vector<Proc> procs{{spawn(0), {}, {}}};
  std::uint64_t next_token = 1, reads_checked = 0, writes = 0, forks = 0, moves = 0;
  auto erase_range = [](Proc& p, VirtAddr a, std::uint64_t len) {
    for (auto it = p.tokens.lower_bound(a); it != p.tokens.end() && it->first < a + len;) it = p.tokens.erase(it);
  };
  for (int step = 0; step < 3000; ++step) {
    Proc& p = procs[rnd(procs.size())];
    const int op = static_cast<int>(rnd(100));
    VirtAddr page = 0;
    if (!p.regions.empty()) {
      const auto& [start, pages] = p.regions[rnd(p.regions.size())];
      page = start + rnd(pages) * kPageSize;
    }
    if (op < 10 || p.regions.empty()) {  // mmap
      if (p.regions.size() >= 12) continue;
      const std::uint64_t pages = 1 + rnd(16);
      const long r = mmap_anon(p.t, pages * kPageSize);
      if (r > 0) p.regions.emplace_back(static_cast<VirtAddr>(r), pages);
    } else if (op < 40) {  // write: the rest of the page must have survived (a COW copy, a migration)
      if (touch(p.t, page, true) == Kernel::FaultResult::Handled) {
        auto it = p.tokens.find(page);
        ASSERT_EQ(token_at(p.t, page), it == p.tokens.end() ? 0u : it->second)
            << "step " << step << ": pid " << p.t->pid << " writes page " << std::hex << page;
        k().page_tokens().set(pfn(p.t, page), next_token);
        p.tokens[page] = next_token++;
        ++writes;
      }
    } else if (op < 75) {  // read
      if (touch(p.t, page, false) == Kernel::FaultResult::Handled) {
        auto it = p.tokens.find(page);
        ASSERT_EQ(token_at(p.t, page), it == p.tokens.end() ? 0u : it->second)
            << "step " << step << ": pid " << p.t->pid << " page " << std::hex << page;
        ++reads_checked;
      }
    } else if (op < 80) {  // fork: the child inherits every private page's contents
      if (procs.size() >= 6) continue;
      const long pid = k().sys_fork(p.t, cost_);
      if (pid > 0) {
        procs.push_back(Proc{k().find_task_by_pid(static_cast<int>(pid)), p.regions, p.tokens});
        ++forks;
      }
    } else if (op < 83) {  // exit
      if (procs.size() < 2) continue;
      k().exit_task(p.t);
      procs.erase(procs.begin() + (&p - procs.data()));
    } else if (op < 86) {  // munmap a whole region
      const std::size_t i = rnd(p.regions.size());
      const auto [start, pages] = p.regions[i];
      if (k().sys_munmap(p.t, start, pages * kPageSize, cost_) == 0) {
        erase_range(p, start, pages * kPageSize);
        p.regions.erase(p.regions.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else if (op < 89) {  // madvise(MADV_DONTNEED): private anonymous pages read zero afterwards
      if (k().sys_madvise(p.t, page, kPageSize, MADV_DONTNEED, cost_) == 0) erase_range(p, page, kPageSize);
    } else if (op < 96) {  // move_pages of one page to the other node
      const int from = pfn(p.t, page) ? node_of(p.t, page) : 0;
      VirtAddr pages[1] = {page};
      int nodes[1] = {1 - from};
      int status[1] = {0};
      if (k().sys_move_pages(p.t, 0, 1, pages, nodes, status, MPOL_MF_MOVE, cost_) == 0 && status[0] == 1 - from)
        ++moves;
    } else {  // mbind(MPOL_MF_MOVE) of one page
      unsigned long mask = 1ul << rnd(2);
      k().sys_mbind(p.t, page, kPageSize, MPOL_BIND, &mask, 3, MPOL_MF_MOVE, cost_);
    }
    k().check_consistency();
  }
  EXPECT_GT(reads_checked, 500u);
  EXPECT_GT(writes, 500u);
  EXPECT_GT(forks, 5u);
  EXPECT_GT(moves, 20u);
  EXPECT_GT(pm().fail_page_alloc().nr_failed(), 0u);
  for (Proc& p : procs) k().exit_task(p.t);
  k().check_consistency();
}

INSTANTIATE_TEST_SUITE_P(Seeds, PageTokenPropertyTest, ::testing::Values(1u, 2u, 3u));

}  // namespace
