// The cache and snoop-filter statistics of a deferred clear residue
// ([cache] clear_residue = "deferred", hw/clear_residue.h) against the exact
// model's, on a memory_hog-like run (configs/workloads/memory_hog.toml's touch:
// one store to each page of a fresh mapping, so every page faults and the
// kernel clears it): the virtual lines are counted as the exact clears' installs
// would count them (L1D write misses and fills, lines leaving L1D for L2 and L2
// for the LLC, snoop-filter evictions), and the page walks' reads of the
// cleared page-table pages hit L2 and the LLC as often as in the exact model.
// Simplified: one task on CPU 0 of configs/default.toml, not the workload
// itself (hw_tests link no workloads); fewer pages than the hog's, still well
// past the LLC.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "common/config.h"
#include "hw/cache.h"
#include "hw/clear_residue.h"
#include "hw/coherence_directory.h"
#include "hw/machine.h"
#include "hw/memory_system.h"
#include "os/syscalls.h"

namespace numasim::hw {
namespace {

// One store to the first line of each of `pages` pages of a fresh anonymous mapping.
class PageToucher final : public OpSource {
 public:
  explicit PageToucher(std::uint64_t pages) : pages_(pages) {}
  void start(ThreadContext& ctx) override {
    const long r = ctx.sys_mmap(0, pages_ * kPageSize, os::PROT_READ | os::PROT_WRITE,
                                os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    ASSERT_GT(r, 0);
    base_ = static_cast<VirtAddr>(r);
  }
  std::size_t fill(OpBatch& b, ThreadContext&) override {
    while (touched_ < pages_ && !b.full()) b.store(base_ + kPageSize * touched_++);
    return b.size();
  }
  bool done() const override { return touched_ >= pages_; }

 private:
  std::uint64_t pages_, touched_ = 0;
  VirtAddr base_ = 0;
};

struct Counters {
  CacheStats l1d, l2, llc;
  std::uint64_t snoop_filter_evictions = 0, deferred_pages = 0;
};

Counters touch_pages(const std::string& residue, std::uint64_t pages) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/default.toml");
  doc->apply_override("cache.clear_residue=" + residue);
  auto m = std::make_unique<Machine>(doc->root());
  TaskRun* run = m->add_task("hog", std::make_unique<PageToucher>(pages), CpuId(0));
  m->run();
  EXPECT_FALSE(run->killed);
  CacheHierarchy& caches = m->memory().caches();
  Counters c;
  c.l1d = caches.l1d(CpuId(0)).stats();
  c.l2 = caches.l2(CpuId(0)).stats();
  c.llc = caches.llc(0).stats();
  c.snoop_filter_evictions = caches.directory()->evictions();
  if (const ClearResidue* r = m->memory().clear_residue()) c.deferred_pages = r->stats().pages_deferred;
  return c;
}

void expect_within(std::uint64_t exact, std::uint64_t deferred, double fraction, const std::string& what) {
  const double e = static_cast<double>(exact), d = static_cast<double>(deferred);
  EXPECT_LE(std::fabs(d - e), fraction * e)
      << what << ": exact " << exact << ", deferred " << deferred << " (" << 100 * (d - e) / e << "%)";
}

TEST(ClearResidueStats, AFaultOnEveryPageCountsTheClearsLinesAsTheExactModelDoesWithinTwoPercent) {
  // 12 000 pages: past L2 (256 pages) and the LLC (6 336 pages).
  constexpr std::uint64_t kPages = 12'000;
  const Counters e = touch_pages("exact", kPages);
  const Counters d = touch_pages("deferred", kPages);
  EXPECT_EQ(e.deferred_pages, 0u);
  EXPECT_GE(d.deferred_pages, kPages);
  // The clears' lines dominate every counter below (64 a page).
  EXPECT_GT(e.l1d.write_misses, 64 * kPages);
  expect_within(e.l1d.write_misses, d.l1d.write_misses, 0.02, "L1D write misses");
  // The task's store to each cleared line: an L1D hit in both modes (in
  // deferred mode the line is made real by the miss path, which counts it a hit).
  EXPECT_GE(e.l1d.write_hits, kPages);
  expect_within(e.l1d.write_hits, d.l1d.write_hits, 0.02, "L1D write hits");
  expect_within(e.l1d.fills, d.l1d.fills, 0.02, "L1D fills");
  expect_within(e.l1d.evictions, d.l1d.evictions, 0.02, "L1D evictions");
  expect_within(e.l1d.dirty_evictions, d.l1d.dirty_evictions, 0.02, "L1D dirty evictions");
  expect_within(e.l2.fills, d.l2.fills, 0.02, "L2 fills");
  expect_within(e.l2.evictions, d.l2.evictions, 0.02, "L2 evictions");
  expect_within(e.l2.dirty_evictions, d.l2.dirty_evictions, 0.02, "L2 dirty evictions");
  expect_within(e.llc.fills, d.llc.fills, 0.02, "LLC fills");
  expect_within(e.llc.dirty_evictions, d.llc.dirty_evictions, 0.02, "LLC dirty evictions");
  expect_within(e.snoop_filter_evictions, d.snoop_filter_evictions, 0.02, "snoop-filter evictions");
}

TEST(ClearResidueStats, PageWalksAfterTheClearsHitL2AndTheLlcAsOftenAsInTheExactModelWithinTwoPercent) {
  // Each fault's walk reads a line of the page-table page the kernel cleared
  // (one PTE line per 8 pages touched), and the L2 streamer runs ahead of the
  // walker into that page's later lines while they are still in L2: a
  // prefetch the exact model finds redundant, which leaves the line's L2 age
  // alone, so it goes on to the LLC on schedule and later walks hit there.
  constexpr std::uint64_t kPages = 12'000;
  const Counters e = touch_pages("exact", kPages);
  const Counters d = touch_pages("deferred", kPages);
  // The walks' reads that miss L1D: thousands reach L2, hundreds the LLC.
  EXPECT_GT(e.l2.read_hits, kPages / 8);
  EXPECT_GT(e.llc.read_hits, kPages / 32);
  expect_within(e.l2.read_hits, d.l2.read_hits, 0.02, "L2 read hits");
  expect_within(e.l2.read_misses, d.l2.read_misses, 0.02, "L2 read misses");
  expect_within(e.llc.read_hits, d.llc.read_hits, 0.02, "LLC read hits");
}

TEST(ClearResidueStats, VirtualLinesCountedInAnArrayLeaveItsInsertionsAlone) {
  CacheArray a(CacheParams{}, "l1d");
  EXPECT_FALSE(a.access(0x1000, true));
  a.fill(0x1000, LineState::Modified);
  // 64 stores of a recorded page, 10 lines received from above, 5 pushed out.
  a.count_virtual(64, 10, 5);
  EXPECT_EQ(a.stats().write_misses, 65u);
  EXPECT_EQ(a.stats().fills, 75u);
  EXPECT_EQ(a.stats().evictions, 5u);
  EXPECT_EQ(a.stats().dirty_evictions, 5u);
  EXPECT_EQ(a.insertions(), 1u);  // the residue's clocks count real fills only
  a.count_virtual(-1, 0, 0);      // an install of a line made real, counted twice
  EXPECT_EQ(a.stats().fills, 74u);
  EXPECT_EQ(a.insertions(), 1u);
  a.reset_stats();
  EXPECT_EQ(a.insertions(), 1u);
  // A demand store that missed, served by a line made real here: a hit.
  EXPECT_FALSE(a.access(0x2000, true));
  a.count_miss_as_hit(true);
  EXPECT_EQ(a.stats().write_misses, 0u);
  EXPECT_EQ(a.stats().write_hits, 1u);
}

TEST(ClearResidueStats, TheSnoopFilterCountsVirtualClaimsAsEvictionsOnceItWouldBeFull) {
  CoherenceDirectory dir(64, 8, 2);
  dir.count_virtual_claims(60);
  EXPECT_EQ(dir.evictions(), 0u);
  dir.count_virtual_claims(10);  // 6 of them find it full
  EXPECT_EQ(dir.evictions(), 6u);
  dir.uncount_evictions(2);
  EXPECT_EQ(dir.evictions(), 4u);
}

}  // namespace
}  // namespace numasim::hw
