// configs/emerald-rapids-cxl.toml, an Emerald Rapids socket (Xeon 8592+,
// DDR5-5600) with the CXL Type-3 expander preset on its root port, against
// Mess's figures for that machine (MICRO'24, as quoted in issue 16): DDR5 at
// 114 ns unloaded and 248 GB/s; the expander at 216 ns unloaded, 51.9 GB/s of
// reads, 230/255/338 ns at 50/80/95% of that maximum. Idle latency within 10%,
// bandwidth within 15%, the expander's loaded shape (latency over unloaded)
// within 15%, where the model holds them; where it does not, the assertion
// holds the model's current value, says so and names the gap, with a guard
// that fails when the gap closes (the README's fidelity table has every figure).
// Cheap: the quick latency matrix and bandwidth of config_fidelity_test.cpp;
// the expander's loaded curve drives the device directly (cxl_drive.h) and
// adds the host's part of its idle latency, which the model does not load.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/config.h"
#include "common/topology.h"
#include "hw/memory_system.h"
#include "hw/uncore_mesh.h"
#include "studies/studies.h"
#include "tests/system/cxl_drive.h"
#include "tests/system/quick_studies.h"

namespace numasim::hw {
namespace {

using namespace studies;

const std::string kEmerald = std::string(NUMASIM_SOURCE_DIR) + "/configs/emerald-rapids-cxl.toml";
const std::string kTiered = std::string(NUMASIM_SOURCE_DIR) + "/configs/cxl-tiered.toml";

// Mess, Emerald Rapids (issue 16).
constexpr double kDdr5IdleNs = 114.0, kDdr5Gbps = 248.0;
constexpr double kCxlIdleNs = 216.0, kCxlReadGbps = 51.9;
constexpr double kCxlLoadedNs[3] = {230.0, 255.0, 338.0};  // at 50/80/95% of the maximum

// The machine restates the expander's table (it inherits the DDR5-5600 preset,
// and a file has one base): it must be configs/devices/cxl-type3.toml's device.
// Equal idle latencies, peak rates and the same loaded point (a deterministic
// drive) fail on any difference in port, link, flits, controller or media.
TEST(EmeraldRapidsCxl, ExpanderIsTheCxlType3Preset) {
  const CxlDeviceParams emr = testing::cxl_device_of(kEmerald, "cxl-type3");
  const CxlDeviceParams preset = testing::cxl_device_of(kTiered, "cxl-type3");
  const CxlMemoryDevice a(emr, 0, "emr"), b(preset, 0, "preset");
  for (bool w : {false, true}) {
    EXPECT_EQ(a.unloaded_latency(w).value(), b.unloaded_latency(w).value()) << (w ? "write" : "read");
    EXPECT_EQ(a.peak_bytes_per_second(w), b.peak_bytes_per_second(w)) << (w ? "write" : "read");
  }
  EXPECT_EQ(emr.media_same_bank_refresh, preset.media_same_bank_refresh);
  EXPECT_EQ(testing::drive_cxl(emr, 45.0, 0.7, 8000), testing::drive_cxl(preset, 45.0, 0.7, 8000));
}

// The expander sits on the I/O stop at row 0, column 3 ([[node]] io_tile): a
// core's read of it goes core -> the line's slice (LLC lookup) -> the I/O stop
// -> the I/O stack -> the device -> the stack -> the stop -> the core, held by
// the socket's home tracker; no [[link]] and no lumped LLC latency carry it.
// Each idle read from CPU 0 is exactly the mesh's route for its slice plus
// the device's own time; the mean of that route over the lines is the
// host's part the latency matrix sees (IdleLatency). Fails when the path
// leaves the mesh (a link, a lumped latency) or the stop moves.
double expander_host_ns() {
  auto doc = ConfigDocument::from_file(kEmerald);
  Config root = doc->root();
  const Topology topo = Topology::from_config(root);
  const MemorySystemParams params = MemorySystemParams::from_config(root);
  EXPECT_TRUE(topo.links().empty());
  EXPECT_TRUE(topo.node(NodeId(1)).on_io_stop);
  const auto stop = static_cast<std::uint32_t>(params.node_io_tiles.at(1));
  EXPECT_EQ(stop, 0u * params.uncore.cols + 3u);
  MemorySystem ms(topo, params);
  const UncoreMesh mesh(params.uncore, static_cast<std::uint32_t>(topo.node(NodeId(0)).cpus.size()));
  const Picoseconds device = ms.device(NodeId(1)).unloaded_latency(false);
  constexpr int kReads = 512;
  double host_ps = 0;
  for (int i = 0; i < kReads; ++i) {
    // Lines spread over the expander's 4 GiB, one read every 10 us: idle.
    const PhysAddr pa =
        topo.node(NodeId(1)).base + static_cast<PhysAddr>(i) * 8'388'608 + static_cast<PhysAddr>(i) * 64;
    AccessBreakdown b;
    const Picoseconds lat = ms.access(CpuId(0), pa, false, Picoseconds(10'000'000ull * (i + 1)), &b);
    EXPECT_EQ(b.cache, mesh.to_io(0, pa, stop) + mesh.from_io(0, stop)) << i;
    EXPECT_EQ(b.interconnect, Picoseconds(0)) << i;
    // The device: its own unloaded latency, or more when the line's media bank
    // is refreshing or its row open (the media's timing, not the host's).
    EXPECT_GE((b.dram + b.queueing).value() + 5'000, device.value()) << i;
    EXPECT_EQ(lat, b.cache + b.dram + b.queueing) << i;
    host_ps += static_cast<double>(b.cache.value());
  }
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.node0.home_agent.requests"), static_cast<double>(kReads));  // the socket's CHAs
  return host_ps / kReads / 1000.0;
}

TEST(EmeraldRapidsCxl, ExpanderReadsGoThroughTheMeshToTheirIoStop) {
  const double host = expander_host_ns();
  std::printf("emerald: expander's host path from CPU 0, mean over slices: %.1f ns\n", host);
  // 2 x 10 cycles of I/O stack, 62 of lookup, 6 of core stop and CPU 0's routes at 2.5 GHz: about 43 ns.
  EXPECT_GT(host, (62 + 6 + 2 * 10) / 2.5);
  EXPECT_LT(host, 50.0);
}

TEST(EmeraldRapidsCxl, IdleLatency) {
  auto doc = ConfigDocument::from_file(kEmerald);
  const MatrixResult r = latency_matrix(doc->root(), testing::quick_latency_matrix());
  ASSERT_EQ(r.matrix.size(), 1u);
  ASSERT_EQ(r.matrix[0].size(), 2u);
  const double ddr5 = r.matrix[0][0], cxl = r.matrix[0][1];
  std::printf("emerald: DDR5 %.1f ns, expander %.1f ns (+%.1f)\n", ddr5, cxl, cxl - ddr5);
  // DDR5: about 106 ns (-7%): the mesh's route to the IMCs of two dies, the
  // front end as Sapphire Rapids' and DDR5-5600's timing.
  EXPECT_NEAR(ddr5, kDdr5IdleNs, 0.10 * kDdr5IdleNs) << r.to_table();
  // Expander: MISS, about 174.5 ns (-19% of 216). Its parts: the device alone
  // (printed; 127.8 ns: the preset's port 25 ns each way (host root port,
  // flits, PHY, device port), device controller 40 ns, a closed row of its
  // DDR5-4800 media 36.3 ns, the flits' wire time 1.5 ns) and the host (the
  // rest, about 47 ns: CPU 0's mean route through the mesh to the I/O stop
  // and back with the LLC lookup, the I/O stack both ways and the core's stop,
  // 43.3 ns (ExpanderReadsGoThroughTheMeshToTheirIoStop), and the media's own
  // mix of open rows and refreshes in a chase, a few ns). Unexplained: about
  // 41 ns, which no published component of Mess's device accounts for here
  // (its vendor, controller and any retimer on its path are not known). An
  // honest band narrow enough to be its own guard: its top (183 ns) is below
  // 90% of Mess's 216 ns, so it fails when the gap closes (then assert Mess's
  // figure within 10%) or widens.
  const double device = testing::cxl_idle_ns(testing::cxl_device_of(kEmerald, "cxl-type3"));
  std::printf("emerald: expander = device %.1f ns + host %.1f ns\n", device, cxl - device);
  EXPECT_NEAR(cxl, 174.5, 0.05 * 174.5) << r.to_table();
  EXPECT_NEAR(cxl - device, expander_host_ns(), 5.0) << "the host's part is the mesh's path to the I/O stop";
  // Over DDR5: about +68 ns against Mess's +102 ns (the same unexplained
  // part), just below Pond/TPP's 70-100 ns band.
  EXPECT_GT(cxl - ddr5, 60.0) << r.to_table();
  EXPECT_LT(cxl - ddr5, 0.9 * (kCxlIdleNs - kDdr5IdleNs)) << r.to_table();
}

TEST(EmeraldRapidsCxl, ReadBandwidth) {
  auto doc = ConfigDocument::from_file(kEmerald);
  // At the studies' default, quantum 0 (time order); at the 1 us quantum the
  // DDR5 cell reads about 289 GB/s (STUDYQ).
  BandwidthMatrixOptions o;
  o.buffer_per_cpu = Bytes(2ull << 20);  // one 2 MiB page per CPU, as config_fidelity_test's quick_bandwidth()
  o.lines_per_cpu = 8000;
  const MatrixResult r = bandwidth_matrix(doc->root(), o);
  ASSERT_EQ(r.matrix.size(), 1u);
  ASSERT_EQ(r.matrix[0].size(), 2u);
  std::printf("emerald: DDR5 %.1f GB/s, expander %.1f GB/s\n", r.matrix[0][0], r.matrix[0][1]);
  // Expander: Mess 51.9 GB/s; the x16 link's payload rate bounds it (53.5 GB/s).
  EXPECT_NEAR(r.matrix[0][1], kCxlReadGbps, 0.15 * kCxlReadGbps) << r.to_table();
  // DDR5: MISS, about 310 GB/s here (+25% of 248; 289 at the 1 us quantum;
  // 85-87% of DDR5-5600's 358.4 GB/s peak). Mess's 248 GB/s is 69% of that peak, below
  // the 70-90% Mess finds on servers; which DIMM speed Mess's machine ran is not known here (81% of DDR5-4800's peak,
  // 88% of 2-DIMM-per-channel DDR5-4400's). The model's DDR5 controller also reads +13% above Mess on Sapphire Rapids
  // (config_fidelity_test). Held between Mess's band's top (285.2 GB/s, 15%
  // above 248: fails when the gap closes, then assert Mess within 15%) and 5%
  // above today's figure (fails when it widens):
  EXPECT_GT(r.matrix[0][0], 1.15 * kDdr5Gbps) << "the gap to Mess's 248 GB/s closed: assert it within 15%";
  EXPECT_LT(r.matrix[0][0], 1.05 * 310.0) << r.to_table();
}

// The expander's loaded curve as a core sees it: the host's part of its idle
// latency (the latency matrix's minus the device's own) plus the device's
// latency at 50/80/95% of its maximum read rate. Mess: 230/255/338 ns, i.e.
// x1.06/1.18/1.56 of its 216 ns.
TEST(EmeraldRapidsCxl, ExpanderLoadedShape) {
  auto doc = ConfigDocument::from_file(kEmerald);
  const MatrixResult m = latency_matrix(doc->root(), testing::quick_latency_matrix());
  const double idle = m.matrix[0][1];
  const CxlDeviceParams p = testing::cxl_device_of(kEmerald, "cxl-type3");
  const double host_part = idle - testing::cxl_idle_ns(p);
  const double max_read = testing::drive_cxl(p, 200, 1.0).first;
  const double frac[3] = {0.50, 0.80, 0.95};
  for (int i = 0; i < 3; ++i) {
    const double at = host_part + testing::drive_cxl(p, frac[i] * max_read, 1.0).second;
    const double mess_ratio = kCxlLoadedNs[i] / kCxlIdleNs;
    std::printf("emerald: expander at %.0f%% of %.1f GB/s: %.0f ns (x%.2f; Mess %.0f ns, x%.2f)\n", 100 * frac[i],
                max_read, at, at / idle, kCxlLoadedNs[i], mess_ratio);
    // The shape holds (x1.12/1.18/1.41 of idle).
    EXPECT_NEAR(at / idle, mess_ratio, 0.15 * mess_ratio) << frac[i];
    // The absolute latency carries the idle gap above (about -15/-19/-27%):
    // below Mess's figure by more than the band, a guard that fails when it closes.
    EXPECT_LT(at, 0.9 * kCxlLoadedNs[i]) << frac[i];
  }
}

}  // namespace
}  // namespace numasim::hw
