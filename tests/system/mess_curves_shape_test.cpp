// The saturated end of skylake-sp-2s's Mess family of curves (issue 16 item
// 2) with the DRAM controller's write queue (32 entries, Intel's WPQ; posted
// writes, drains, read/write turnarounds): one socket's 17 injectors at delay
// 0, 100% and 50% memory reads (50%: every line stored, read for ownership
// and written back), short runs (1000 chase loads; the injectors first fill
// the caches with dirty lines so that the write-backs fall inside the
// measurement). Mess measures every server's maximum falling as writes grow;
// this holds its two ends only: the maximum at 50% reads is not above the one
// at 100%, and both stay below the six DDR4-2666 channels' peak (128 GB/s);
// without the write queue (writes timed like reads, no turnarounds) the 50%
// mix carries more than with it.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/config.h"
#include "hw/memory_system.h"
#include "studies/studies.h"

namespace numasim::hw {
namespace {

using namespace studies;

double maximum_gbps(const LoadedLatencyResult& curve) {
  double m = 0;
  for (const auto& p : curve.points) m = std::max(m, p.bandwidth_gbps);
  return m;
}

TEST(MessCurvesShape, SkylakeSp2sMaximumAtHalfReadsNotAboveAllReadsBothBelowThePeak) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  doc->apply_override("dram.write_queue=32");  // Intel's WPQ depth (off by default for DDR4: see README)
  // At the 1 us quantum, where this shape was measured: at the studies'
  // default, quantum 0, the 50% mix's maximum is 104.1 GB/s against 103.0 for
  // all reads (STUDYQ; issue 16 item 6), so Mess's falling family fails there.
  doc->apply_override("sim.quantum=1us");
  const DramParams dram = MemorySystemParams::from_config(doc->root()).dram;
  ASSERT_EQ(dram.write_queue, 32u);
  ASSERT_EQ(dram.write_high, 32u);
  const double peak_gbps = dram.channel_peak_bytes_per_second() * dram.channels / 1e9;
  EXPECT_NEAR(peak_gbps, 128.0, 0.5);
  LoadedLatencyOptions o;
  o.delays = {0};
  o.loads = 1000;
  const MessCurvesResult r = mess_curves(doc->root(), {100, 50}, o);
  ASSERT_EQ(r.curves.size(), 2u);
  const double max100 = maximum_gbps(r.curves[0]), max50 = maximum_gbps(r.curves[1]);
  EXPECT_LT(max100, peak_gbps) << r.to_table();
  EXPECT_LT(max50, peak_gbps) << r.to_table();
  // Mess's shape: the maximum falls (or stays) as writes grow.
  EXPECT_LE(max50, max100) << r.to_table();
  EXPECT_GT(max100, 0.7 * peak_gbps) << r.to_table();
  // Without the write queue (writes timed like reads, no turnarounds) the 50%
  // mix carries more: the queue's drains and turnarounds are what cost it.
  auto plain = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  plain->apply_override("dram.write_queue=0");
  plain->apply_override("sim.quantum=1us");
  const MessCurvesResult q = mess_curves(plain->root(), {50}, o);
  EXPECT_GT(maximum_gbps(q.curves[0]), max50) << q.to_table();

  // MISS at the studies' default, quantum 0 (time order): the 50% mix's maximum
  // comes out about 1% above all reads' (104.1 against 103.0 GB/s), so Mess's
  // falling family does not hold there. Held both ways: it fails when the
  // shape holds at quantum 0 (then assert it there, as above) or when the gap
  // grows beyond 3%.
  auto q0 = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  q0->apply_override("dram.write_queue=32");
  const MessCurvesResult t = mess_curves(q0->root(), {100, 50}, o);
  ASSERT_EQ(t.quantum.quantum.value(), 0u) << "the studies' default quantum is no longer 0";
  EXPECT_GT(maximum_gbps(t.curves[1]), maximum_gbps(t.curves[0]))
      << "Mess's falling family now holds at quantum 0: assert it there\n"
      << t.to_table();
  EXPECT_LT(maximum_gbps(t.curves[1]), 1.03 * maximum_gbps(t.curves[0])) << t.to_table();
}

}  // namespace
}  // namespace numasim::hw
