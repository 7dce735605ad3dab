// TLB reach on the small machine: with 4 KiB pages the chase latency steps up
// when the working set passes the L1 DTLB reach (64 x 4 KiB = 256 KiB) and
// again past the STLB reach (1536 x 4 KiB = 6 MiB); with 2 MiB pages those
// working sets stay within the TLBs, so the steps move out.
#include "studies/studies.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

using namespace studies;

std::map<std::uint64_t, double> curve(bool huge) {
  auto doc = testing::small_machine();
  TlbReachOptions o;
  o.huge_pages = huge;
  o.min_working_set = Bytes(64ull << 10);
  o.max_working_set = Bytes(32ull << 20);
  o.loads = 3000;
  o.max_warmup_loads = 20000;  // two laps of the largest chase (8192 regions)
  TlbReachResult r = tlb_reach(doc->root(), o);
  EXPECT_EQ(r.page_size, huge ? "2M" : "4K");
  std::map<std::uint64_t, double> out;
  for (const auto& p : r.points) out[p.working_set_bytes] = p.latency_ns;
  EXPECT_EQ(out.size(), 10u) << r.to_table();  // 64K .. 32M
  return out;
}

TEST(TlbReach, StepsPastL1AndStlbReachWith4KAndMoveOutWith2M) {
  const auto small = curve(false);
  const auto huge = curve(true);
  const std::uint64_t K = 1024, M = 1024 * 1024;
  auto diff = [&](std::uint64_t ws) { return small.at(ws) - huge.at(ws); };
  // Inside the L1 DTLB reach of both page sizes: the same latency.
  EXPECT_NEAR(small.at(128 * K), huge.at(128 * K), 1.0);
  // Past the 4K L1 DTLB reach (256 KiB), inside the STLB: an STLB hit per load (9 cycles).
  EXPECT_GT(small.at(512 * K), small.at(128 * K) + 2.0);
  EXPECT_GT(diff(1 * M), 2.0);
  EXPECT_NEAR(huge.at(512 * K), huge.at(128 * K), 1.0);  // 2M pages: no step there
  // Past the STLB reach (6 MiB): page walks on every load with 4K pages, not with 2M.
  EXPECT_GT(diff(16 * M), diff(1 * M) + 2.0);
  EXPECT_GT(diff(32 * M), diff(1 * M) + 2.0);
  EXPECT_GT(small.at(16 * M) - small.at(4 * M), huge.at(16 * M) - huge.at(4 * M) + 2.0);
}

}  // namespace
}  // namespace numasim::hw
