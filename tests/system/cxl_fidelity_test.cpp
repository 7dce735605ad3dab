// Fidelity of the CXL Type-3 expander preset (configs/devices/cxl-type3.toml)
// against Mess's published figures for a CXL expander on Emerald Rapids
// (DESIGN.md, Reference figures; Mess, MICRO'24): 216 ns unloaded against
// 114 ns for the same host's DDR5 (+102 ns), 51.9 GB/s maximum at 100% reads,
// about 60 GB/s at 50% reads, 230/255/338 ns at 50/80/95% of the maximum.
// The device is driven directly (random lines, Poisson arrivals at a given
// rate, one 64 B line per request) for bandwidth and the loaded curve; its
// latency as a core sees it comes from configs/cxl-tiered.toml's latency
// matrix. Mess measures from a core, so the loaded curve is compared as
// (host part + device latency) with the host part = the expander's idle
// latency in the matrix minus the device's unloaded latency.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/config.h"
#include "studies/studies.h"
#include "tests/system/cxl_drive.h"
#include "tests/system/quick_studies.h"

namespace numasim::hw {
namespace {

using testing::drive_cxl;

const std::string kTiered = std::string(NUMASIM_SOURCE_DIR) + "/configs/cxl-tiered.toml";

TEST(CxlFidelity, ExpanderAgainstMessEmeraldRapidsFigures) {
  const CxlDeviceParams p = testing::cxl_device_of(kTiered, "cxl-type3");
  const double max_read = drive_cxl(p, 200, 1.0).first;
  const double max_mixed = drive_cxl(p, 200, 0.5).first;
  auto doc = ConfigDocument::from_file(kTiered);
  studies::MatrixResult m = studies::latency_matrix(doc->root(), testing::quick_latency_matrix());
  const double local = m.matrix[0][0], cxl = m.matrix[0][2];
  const double device_idle = testing::cxl_idle_ns(p);
  const double host_part = cxl - device_idle;
  double at[3];
  const double frac[3] = {0.50, 0.80, 0.95};
  for (int i = 0; i < 3; ++i) at[i] = host_part + drive_cxl(p, frac[i] * max_read, 1.0).second;
  std::printf(
      "cxl: local %.1f ns, expander %.1f ns (+%.1f), device idle %.1f ns; max read %.1f GB/s, 50%% read "
      "%.1f GB/s; loaded 50/80/95%%: %.0f/%.0f/%.0f ns (x%.2f/%.2f/%.2f of idle)\n",
      local, cxl, cxl - local, device_idle, max_read, max_mixed, at[0], at[1], at[2], at[0] / cxl, at[1] / cxl,
      at[2] / cxl);

  // Model (this preset): max read 53.5 GB/s, 50% reads 62 GB/s, +78 ns over
  // local DRAM, loaded x1.13/1.19/1.44 of idle.
  // Maximum read bandwidth: Mess 51.9 GB/s (within 15%); the x16 link's payload rate bounds it.
  EXPECT_NEAR(max_read, 51.9, 0.15 * 51.9);
  // Mess: about 60 GB/s at 50% reads (both link directions carry data).
  EXPECT_NEAR(max_mixed, 60.0, 0.15 * 60.0);
  // Loaded latency relative to unloaded, Mess: 230/216 = 1.06, 255/216 = 1.18, 338/216 = 1.56 (within 15%).
  // With all-bank refresh in the media (tRFC1 295 ns per rank) the 95% point was x2.3:
  // the preset's same-bank refresh (JESD79-5 REFsb) is what keeps the curve's top half.
  EXPECT_NEAR(at[0] / cxl, 230.0 / 216.0, 0.15 * 230.0 / 216.0);
  EXPECT_NEAR(at[1] / cxl, 255.0 / 216.0, 0.15 * 255.0 / 216.0);
  EXPECT_NEAR(at[2] / cxl, 338.0 / 216.0, 0.15 * 338.0 / 216.0);
  // Expander minus local DRAM: Pond/TPP/"Demystifying CXL" 70-100 ns; the preset sits in that band.
  EXPECT_GT(cxl - local, 70.0);
  EXPECT_LT(cxl - local, 100.0);
  // Mess's Emerald Rapids expander is +102 ns over its DDR5. MISS: the model gives
  // about +78 ns (-23%). Gap: the preset's port latency (25 ns each way) and device
  // controller (40 ns) are chosen for the 70-100 ns band of the ASIC expanders in
  // Pond/TPP/Demystifying; no per-component latency of Mess's device is published,
  // so it is not fitted to it. Honest current band, and a guard that says when it closes:
  EXPECT_LT(cxl - local, 0.9 * 102.0);
}

}  // namespace
}  // namespace numasim::hw
