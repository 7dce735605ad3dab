// The page-table walker with callbacks (os/pagewalk.cpp), against brute force:
// on random mappings (touched, partly unmapped, partly PROT_NONE) the PTE
// callback sees exactly the non-none 4 KiB leaves of [start, end) in address
// order, holes and PMD tables tile the range, VMA walks report the gaps between
// VMAs as depth -1 holes, a hugetlb VMA goes to hugetlb_entry, a callback's
// non-zero return stops the walk and ACTION_CONTINUE skips a PTE table.
#include "os/pagewalk.h"

#include <gtest/gtest.h>

#include <random>
#include <tuple>
#include <vector>

#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

struct Seen {
  std::vector<std::pair<VirtAddr, pteval_t>> ptes;
  std::vector<std::tuple<VirtAddr, VirtAddr, int>> holes;  // addr, next, depth
  std::vector<std::pair<VirtAddr, VirtAddr>> tiles;        // holes and PMD tables, in walk order
  std::vector<std::tuple<VirtAddr, VirtAddr, std::uint64_t>> huge;
  VirtAddr last_pte = 0;
  bool order_ok = true;
};

mm_walk_ops recording_ops() {
  mm_walk_ops ops;
  ops.pte_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    Seen& s = *static_cast<Seen*>(w.priv);
    if (next != addr + kPageSize || (!s.ptes.empty() && addr <= s.last_pte)) s.order_ok = false;
    s.last_pte = addr;
    s.ptes.emplace_back(addr, ref.value());
    return 0;
  };
  ops.pte_hole = [](VirtAddr addr, VirtAddr next, int depth, mm_walk& w) -> int {
    Seen& s = *static_cast<Seen*>(w.priv);
    s.holes.emplace_back(addr, next, depth);
    s.tiles.emplace_back(addr, next);
    return 0;
  };
  ops.pmd_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    if (pte_present(ref.value()) && !pte_huge(ref.value())) static_cast<Seen*>(w.priv)->tiles.emplace_back(addr, next);
    return 0;
  };
  ops.hugetlb_entry = [](const PteRef& ref, std::uint64_t hmask, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    EXPECT_EQ(ref.level, PMD_LEVEL);
    static_cast<Seen*>(w.priv)->huge.emplace_back(addr, next, hmask);
    return 0;
  };
  return ops;
}

class PageWalkTest : public KernelTest {
 protected:
  // Brute force: every non-none 4 KiB PTE of [start, end).
  std::vector<std::pair<VirtAddr, pteval_t>> scan(task_struct* t, VirtAddr start, VirtAddr end) {
    std::vector<std::pair<VirtAddr, pteval_t>> out;
    for (VirtAddr va = start & ~(kPageSize - 1); va < end; va += kPageSize) {
      PteRef r = k().pgtables().walk(t->mm->pgd, va, PTE_LEVEL);
      if (r.level == PTE_LEVEL && r.value() != 0) out.emplace_back(va < start ? start : va, r.value());
    }
    return out;
  }
  // Random mappings in two windows far apart (different PGD entries): touched,
  // partly unmapped again (leaving empty tables) and partly PROT_NONE.
  task_struct* random_address_space(std::mt19937_64& rng, VirtAddr* lo, VirtAddr* hi) {
    task_struct* t = spawn(0);
    const VirtAddr windows[2] = {0x7f0000000000ull - (1ull << 28), 1ull << 32};
    for (VirtAddr w : windows) {
      for (int i = 0; i < 6; ++i) {
        const std::uint64_t pages = 1 + rng() % 700;
        const VirtAddr at = w + (rng() % 60000) * kPageSize;
        const long a = k().sys_mmap(t, at, pages * kPageSize, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0, cost_);
        if (a < 0) continue;
        for (std::uint64_t p = 0; p < pages; ++p) {
          if (rng() % 3) {
            EXPECT_EQ(touch(t, a + p * kPageSize, rng() % 2), Kernel::FaultResult::Handled);
          }
        }
        const std::uint64_t cut = rng() % pages, cut_len = 1 + rng() % 200;
        k().sys_munmap(t, a + cut * kPageSize, cut_len * kPageSize, cost_);
        const std::uint64_t np = rng() % pages, np_len = 1 + rng() % 50;
        k().sys_mprotect(t, a + np * kPageSize, np_len * kPageSize, PROT_NONE, cost_);
      }
    }
    k().check_consistency();
    *lo = windows[1];
    *hi = windows[0] + (1ull << 29);
    return t;
  }
  void check_tiles(const Seen& s, VirtAddr start, VirtAddr end) {
    ASSERT_FALSE(s.tiles.empty());
    EXPECT_EQ(s.tiles.front().first, start);
    for (std::size_t i = 1; i < s.tiles.size(); ++i) ASSERT_EQ(s.tiles[i].first, s.tiles[i - 1].second) << i;
    EXPECT_EQ(s.tiles.back().second, end);
  }
};

TEST_F(PageWalkTest, NovmaWalkSeesExactlyTheLeavesOfRandomRangesInOrder) {
  std::mt19937_64 rng(7);
  VirtAddr lo, hi;
  task_struct* t = random_address_space(rng, &lo, &hi);
  const mm_walk_ops ops = recording_ops();
  const VirtAddr windows[2] = {lo, 0x7f0000000000ull - (1ull << 28)};
  for (int round = 0; round < 40; ++round) {
    const VirtAddr w = windows[round % 2];
    VirtAddr start = w + (rng() % 70000) * kPageSize;
    VirtAddr end = start + (1 + rng() % 70000) * kPageSize;
    if (round % 4 == 3) {  // unaligned to pages and at table boundaries
      start += rng() % kPageSize;
      end = (end & ~(PMD_SIZE - 1)) + PMD_SIZE;
    }
    Seen s;
    ASSERT_EQ(walk_page_range_novma(k().pgtables(), t->mm, t->mm->pgd, start, end, ops, &s), 0);
    EXPECT_TRUE(s.order_ok);
    EXPECT_EQ(s.ptes, scan(t, start, end)) << round;
    check_tiles(s, start, end);
    // Each hole is a none entry at the level its depth names, cut to the range.
    for (const auto& [addr, next, depth] : s.holes) {
      const int level = depth == 0 ? 4 : 5 - depth;
      ASSERT_GE(depth, 0);
      PteRef r = k().pgtables().walk(t->mm->pgd, addr, PTE_LEVEL);
      EXPECT_EQ(r.level, level);
      EXPECT_EQ(r.value(), 0u);
      const VirtAddr entry_end = (addr & ~(level_size(level) - 1)) + level_size(level);
      EXPECT_EQ(next, entry_end < end ? entry_end : end);
      EXPECT_GE(addr, start);
    }
    EXPECT_FALSE(s.holes.empty());
  }
}

TEST_F(PageWalkTest, VmaWalkReportsGapsAsDepthMinusOneAndLeavesInsideVmas) {
  std::mt19937_64 rng(11);
  VirtAddr lo, hi;
  task_struct* t = random_address_space(rng, &lo, &hi);
  const mm_walk_ops ops = recording_ops();
  const VirtAddr w = 0x7f0000000000ull - (1ull << 28);
  const VirtAddr start = w, end = w + 70000 * kPageSize;
  Seen s;
  ASSERT_EQ(walk_page_range(k().pgtables(), *t->mm, start, end, ops, &s), 0);
  EXPECT_EQ(s.ptes, scan(t, start, end));
  // Gaps between VMAs, from the VMA tree.
  std::vector<std::pair<VirtAddr, VirtAddr>> gaps, seen_gaps;
  VirtAddr cur = start;
  for (const auto& [vs, v] : t->mm->mm_mt) {
    if (v.vm_end <= start || vs >= end) continue;
    if (vs > cur) gaps.emplace_back(cur, vs);
    cur = v.vm_end;
  }
  if (cur < end) gaps.emplace_back(cur, end);
  for (const auto& [addr, next, depth] : s.holes)
    if (depth == -1) seen_gaps.emplace_back(addr, next);
  EXPECT_EQ(seen_gaps, gaps);
  check_tiles(s, start, end);
}

TEST_F(PageWalkTest, HugetlbVmaGoesToHugetlbEntryOnly) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 3 * HPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_HUGETLB);
  ASSERT_GT(a, 0);
  ASSERT_EQ(touch(t, a + HPAGE_SIZE + 5 * kPageSize), Kernel::FaultResult::Handled);
  const mm_walk_ops ops = recording_ops();
  Seen s;
  const VirtAddr start = a + kPageSize, end = a + 3 * HPAGE_SIZE - kPageSize;
  ASSERT_EQ(walk_page_range(k().pgtables(), *t->mm, start, end, ops, &s), 0);
  EXPECT_TRUE(s.ptes.empty());
  ASSERT_EQ(s.huge.size(), 1u);
  EXPECT_EQ(std::get<0>(s.huge[0]), a + HPAGE_SIZE);
  EXPECT_EQ(std::get<1>(s.huge[0]), a + 2 * HPAGE_SIZE);
  EXPECT_EQ(std::get<2>(s.huge[0]), ~(HPAGE_SIZE - 1));
  // The two untouched huge pages are holes, cut to [start, end).
  using H = std::tuple<VirtAddr, VirtAddr, int>;
  EXPECT_EQ(s.holes, (std::vector<H>{H{start, a + HPAGE_SIZE, -1}, H{a + 2 * HPAGE_SIZE, end, -1}}));
  // Without hugetlb_entry the VMA is not walked at all.
  mm_walk_ops no_huge = ops;
  no_huge.hugetlb_entry = nullptr;
  Seen s2;
  ASSERT_EQ(walk_page_range(k().pgtables(), *t->mm, start, end, no_huge, &s2), 0);
  EXPECT_TRUE(s2.holes.empty() && s2.huge.empty() && s2.ptes.empty());
  // The raw walk sees the huge leaf through pmd_entry.
  mm_walk_ops raw;
  raw.pmd_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr, mm_walk& w) -> int {
    if (pte_huge(ref.value())) static_cast<std::vector<VirtAddr>*>(w.priv)->push_back(addr);
    return 0;
  };
  std::vector<VirtAddr> leaves;
  ASSERT_EQ(walk_page_range_novma(k().pgtables(), t->mm, t->mm->pgd, 0, 1ull << 47, raw, &leaves), 0);
  EXPECT_EQ(leaves, std::vector<VirtAddr>{a + HPAGE_SIZE});
}

TEST_F(PageWalkTest, NonZeroReturnStopsAndActionContinueSkipsTheTable) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, 64 * kPageSize);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(touch(t, a + i * kPageSize), Kernel::FaultResult::Handled);
  mm_walk_ops stop;
  stop.pte_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk& w) -> int {
    int& n = *static_cast<int*>(w.priv);
    return ++n == 3 ? 42 : 0;
  };
  int n = 0;
  EXPECT_EQ(walk_page_range(k().pgtables(), *t->mm, a, a + 64 * kPageSize, stop, &n), 42);
  EXPECT_EQ(n, 3);

  mm_walk_ops skip;
  skip.pmd_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk& w) -> int {
    w.action = ACTION_CONTINUE;
    ++*static_cast<int*>(w.priv);
    return 0;
  };
  skip.pte_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk&) -> int {
    ADD_FAILURE() << "pte_entry under ACTION_CONTINUE";
    return 0;
  };
  int pmds = 0;
  EXPECT_EQ(walk_page_range(k().pgtables(), *t->mm, a, a + 64 * kPageSize, skip, &pmds), 0);
  EXPECT_GE(pmds, 1);
}

// 5-level tables: P4D entries go to p4d_entry, PGD ones to pgd_entry, a none
// P4D is a depth-1 hole.
class PageWalk5LevelTest : public KernelTest {
 protected:
  PageWalk5LevelTest() {
    params_.pgtable_levels = 5;
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
};

TEST_F(PageWalk5LevelTest, EveryLevelHasItsCallbackAndHoleDepth) {
  task_struct* t = spawn(0);
  const long a = mmap_anon(t, kPageSize);
  ASSERT_EQ(touch(t, a), Kernel::FaultResult::Handled);
  struct Count {
    int pgd = 0, p4d = 0, pud = 0, pmd = 0, pte = 0;
    std::vector<int> depths;
  } c;
  mm_walk_ops ops;
  ops.pgd_entry = [](const PteRef& r, VirtAddr, VirtAddr, mm_walk& w) -> int {
    EXPECT_EQ(r.level, 5);
    ++static_cast<Count*>(w.priv)->pgd;
    return 0;
  };
  ops.p4d_entry = [](const PteRef& r, VirtAddr, VirtAddr, mm_walk& w) -> int {
    EXPECT_EQ(r.level, 4);
    ++static_cast<Count*>(w.priv)->p4d;
    return 0;
  };
  ops.pud_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk& w) -> int {
    ++static_cast<Count*>(w.priv)->pud;
    return 0;
  };
  ops.pmd_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk& w) -> int {
    ++static_cast<Count*>(w.priv)->pmd;
    return 0;
  };
  ops.pte_entry = [](const PteRef&, VirtAddr, VirtAddr, mm_walk& w) -> int {
    ++static_cast<Count*>(w.priv)->pte;
    return 0;
  };
  ops.pte_hole = [](VirtAddr, VirtAddr, int depth, mm_walk& w) -> int {
    static_cast<Count*>(w.priv)->depths.push_back(depth);
    return 0;
  };
  // From the P4D entry's first address to the end of the next P4D entry's range.
  const VirtAddr p4d_size = level_size(4);
  const VirtAddr start = a & ~(p4d_size - 1);
  ASSERT_EQ(walk_page_range_novma(k().pgtables(), t->mm, t->mm->pgd, start, start + 2 * p4d_size, ops, &c), 0);
  EXPECT_EQ(c.pgd, 1);
  EXPECT_EQ(c.p4d, 1);
  EXPECT_EQ(c.pud, 1);
  EXPECT_EQ(c.pmd, 1);
  EXPECT_EQ(c.pte, 1);
  // 511 none PTEs are not holes; none PMD, PUD and P4D entries are (depths 3, 2, 1).
  int d1 = 0, d2 = 0, d3 = 0;
  for (int d : c.depths) (d == 1 ? d1 : d == 2 ? d2 : d == 3 ? d3 : d1) += 1;
  EXPECT_EQ(d3, 511);
  EXPECT_EQ(d2, 511);
  EXPECT_EQ(d1, 1);
  EXPECT_EQ(c.depths.size(), 1023u);
}

}  // namespace
