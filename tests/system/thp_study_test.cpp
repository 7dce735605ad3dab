// Transparent huge pages end to end on the small machine: GUPS over 64 MiB
// (16384 4 KiB pages, far past the STLB's 1536 entries; 32 THPs, well inside
// it). With THP always the hardware walker meets 2 MiB PMD leaves and fills 2M
// TLB entries, so STLB misses per 1000 accesses fall by far more than 10x,
// walk cycles and time per access fall, and the table faults in 2 MiB at a
// time. madvise without MADV_HUGEPAGE behaves as never. Deterministic.
#include <gtest/gtest.h>

#include "studies/studies.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

using namespace studies;

ThpStudyResult run(bool madvise) {
  auto doc = testing::small_machine();
  ThpStudyOptions o;
  o.table = Bytes(64ull << 20);
  o.updates = 20000;
  o.warmup = 5000;
  o.madvise = madvise;
  return thp_study(doc->root(), o);
}

TEST(ThpStudy, AlwaysCutsStlbMissesAndWalksAgainstNever) {
  const ThpStudyResult r = run(false);
  ASSERT_EQ(r.rows.size(), 3u) << r.to_table();
  const auto& never = r.rows[0];
  const auto& madvise = r.rows[1];
  const auto& always = r.rows[2];
  EXPECT_EQ(never.mode, "never");
  EXPECT_EQ(always.mode, "always");
  EXPECT_GT(never.stlb_misses_per_1k, 100.0) << r.to_table();
  EXPECT_LT(always.stlb_misses_per_1k * 10, never.stlb_misses_per_1k) << r.to_table();
  EXPECT_LT(always.walk_cycles_per_access, never.walk_cycles_per_access) << r.to_table();
  EXPECT_LT(always.ns_per_access, never.ns_per_access) << r.to_table();
  EXPECT_GE(always.anon_huge_bytes, 60ull << 20) << r.to_table();
  EXPECT_EQ(never.anon_huge_bytes, 0u);
  EXPECT_LT(always.faults * 10, never.faults);
  EXPECT_EQ(madvise.stlb_misses_per_1k, never.stlb_misses_per_1k);
  EXPECT_EQ(madvise.faults, never.faults);
  EXPECT_GT(always.thp_fault_alloc, 0u);
}

TEST(ThpStudy, MadviseModeWithMadvHugepageGetsThps) {
  const ThpStudyResult r = run(true);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_GE(r.rows[1].anon_huge_bytes, 60ull << 20) << r.to_table();
  EXPECT_EQ(r.rows[0].anon_huge_bytes, 0u) << r.to_table();
  // Deterministic: the same run twice gives the same figures.
  EXPECT_EQ(run(true).to_json(), r.to_json());
}

}  // namespace
}  // namespace numasim::hw
