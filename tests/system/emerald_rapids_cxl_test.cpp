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

// The expander's host side is built in the configuration from the mesh (the
// mesh has no I/O stop for a CPU-less node): [cache.llc] latency is the mesh's
// mean LLC hit in core cycles, and the link's one-way latency the mean route
// from a slice to the root port's stop (row 0, column 3) and from it to the
// core, less the LLC hit's slice -> core route, halved, plus one I/O-stack
// crossing (assumed as a UPI agent's). Fails when the mesh is edited and the
// derived constants are not.
TEST(EmeraldRapidsCxl, HostSideOfTheExpanderFollowsTheMesh) {
  auto doc = ConfigDocument::from_file(kEmerald);
  Config root = doc->root();
  const UncoreParams up = UncoreParams::from_config(root.table("uncore"));
  const std::uint32_t cores = root.table("machine").require<unsigned>("cores_per_socket", "cores");
  const UncoreMesh mesh(up, cores);
  const Frequency core_clock = root.table("cpu").require<Frequency>("frequency", "core clock");
  const double cycle_ns = 1.0 / static_cast<double>(up.clock.hz()) * 1e9;
  const double llc_cycles =
      static_cast<double>(mesh.mean_llc_hit().value()) / 1000.0 * static_cast<double>(core_clock.hz()) / 1e9;
  EXPECT_NEAR(root.table("cache").table("llc").require<unsigned>("latency", "LLC latency"), llc_cycles, 0.5);
  const std::uint32_t root_port = 0 * up.cols + 3;
  double to_port = 0, core_slice = 0;
  for (std::uint32_t i = 0; i < cores; ++i) {
    to_port += mesh.route_cycles(mesh.core_tile(i), root_port);
    for (std::uint32_t j = 0; j < cores; ++j) core_slice += mesh.route_cycles(mesh.core_tile(i), mesh.core_tile(j));
  }
  to_port /= cores;
  core_slice /= static_cast<double>(cores) * cores;
  const double link_ns = ((2 * to_port - core_slice) / 2 + up.upi_agent_cycles) * cycle_ns;
  const auto links = root.tables("link");
  ASSERT_EQ(links.size(), 1u);
  Config link = links[0];
  EXPECT_NEAR(static_cast<double>(link.require<Picoseconds>("latency", "one-way latency").value()) / 1000.0, link_ns,
              0.05);
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
  // Expander: MISS, about 175 ns (-19% of 216). Its parts: the device alone
  // (printed; 127.8 ns: the preset's port 25 ns each way (host root port,
  // flits, PHY, device port), device controller 40 ns, a closed row of its
  // DDR5-4800 media 36.3 ns, the flits' wire time 1.5 ns) and the host (the
  // rest, about 47.5 ns: the LLC lookup on the mesh 32 ns, the mesh to the
  // root port's stop and the I/O stack's crossing 5.9 ns each way, the core's
  // own miss path). Unexplained: about 41 ns, which no published component of
  // Mess's device accounts for here (its vendor, controller and any retimer on
  // its path are not known). An honest band narrow enough to be its own
  // guard: its top (184 ns) is below 90% of Mess's 216 ns, so it fails when
  // the gap closes (then assert Mess's figure within 10%) or widens.
  const double device = testing::cxl_idle_ns(testing::cxl_device_of(kEmerald, "cxl-type3"));
  std::printf("emerald: expander = device %.1f ns + host %.1f ns\n", device, cxl - device);
  EXPECT_NEAR(cxl, 175.3, 0.05 * 175.3) << r.to_table();
  // Over DDR5: about +69 ns against Mess's +102 ns (the same unexplained
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
