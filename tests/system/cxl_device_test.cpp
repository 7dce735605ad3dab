// End to end: configs/cxl-tiered.toml's expander node modelled as a CXL
// Type-3 device (configs/devices/cxl-type3.toml) has its own latency in the
// latency matrix, in the 70-100 ns above local DRAM the configuration cites,
// while the same node modelled as DDR4 behind the same on-die link is barely
// slower than local memory: the device, not the link, makes the difference.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/config.h"
#include "hw/cxl_memory_device.h"
#include "studies/studies.h"
#include "tests/system/cxl_drive.h"
#include "tests/system/quick_studies.h"

namespace numasim::hw {
namespace {

using namespace studies;

LatencyMatrixOptions quick() { return testing::quick_latency_matrix(); }

const std::string kConfig = std::string(NUMASIM_SOURCE_DIR) + "/configs/cxl-tiered.toml";

TEST(CxlDevice, ExpanderHasItsOwnLatencyInTheCitedRange) {
  auto doc = ConfigDocument::from_file(kConfig);
  MatrixResult r = latency_matrix(doc->root(), quick());
  ASSERT_EQ(r.memory_nodes, (std::vector<int>{0, 1, 2}));
  ASSERT_EQ(r.cpu_nodes, (std::vector<int>{0, 1}));
  const double local = r.matrix[0][0], cxl = r.matrix[0][2];
  // The expander is 70-100 ns above local DRAM (Pond, TPP, "Demystifying CXL Memory").
  EXPECT_GT(cxl - local, 70.0) << r.to_table();
  EXPECT_LT(cxl - local, 100.0) << r.to_table();
  // From the other socket: the UPI crossing on top (both ways, about 55 ns).
  EXPECT_GT(r.matrix[1][2] - cxl, 45.0) << r.to_table();
  EXPECT_LT(r.matrix[1][2] - cxl, 75.0) << r.to_table();

  // The same node as DDR4 behind the same link: local DRAM plus two short link crossings.
  auto ddr = ConfigDocument::from_file(kConfig);
  ddr->apply_override("node[2].device=ddr4");
  ddr->root().table("device").ignore("cxl-type3");  // the preset is inherited but unused here
  MatrixResult d = latency_matrix(ddr->root(), quick());
  EXPECT_LT(d.matrix[0][2] - d.matrix[0][0], 20.0) << d.to_table();
  EXPECT_GT(cxl - d.matrix[0][2], 55.0) << r.to_table() << d.to_table();
  // Local DDR4 is not affected by the expander's device (measured first, on a fresh machine).
  EXPECT_DOUBLE_EQ(d.matrix[0][0], local);
}

// Retimers on the expander's link (CXLIO; none in the preset): their one-way
// latency is paid on the way down and on the way up, and nothing else moves
// (no bandwidth limit of their own). Out of range: a located error.
TEST(CxlDevice, RetimersAddTheirLatencyBothWaysAndNothingElse) {
  const CxlDeviceParams plain = testing::cxl_device_of(kConfig, "cxl-type3");
  EXPECT_EQ(plain.retimer_latency, Picoseconds(0));
  CxlDeviceParams retimed = plain;
  retimed.retimer_latency = Picoseconds(9'000);  // one low-latency retimer: under 10 ns each way
  EXPECT_NEAR(testing::cxl_idle_ns(retimed) - testing::cxl_idle_ns(plain), 18.0, 1e-9);
  CxlMemoryDevice a(plain, 0, "plain"), b(retimed, 0, "retimed");
  const Picoseconds t(1'000'000);
  EXPECT_EQ(b.access_line(0x1000, false, t).done - a.access_line(0x1000, false, t).done, Picoseconds(18'000));
  EXPECT_EQ(b.peak_bytes_per_second(false), a.peak_bytes_per_second(false));
  const auto [gbps_plain, lat_plain] = testing::drive_cxl(plain, 45.0, 1.0, 8000);
  const auto [gbps_retimed, lat_retimed] = testing::drive_cxl(retimed, 45.0, 1.0, 8000);
  EXPECT_NEAR(gbps_retimed, gbps_plain, 0.01 * gbps_plain);
  EXPECT_NEAR(lat_retimed - lat_plain, 18.0, 0.5);

  auto bad = ConfigDocument::from_string("[device.x]\nimpl = \"cxl\"\nretimer_latency = \"20ms\"\n", "retimer.toml");
  Config x = bad->root().table("device").table("x");
  x.ignore("impl");
  CxlDeviceParams::from_config(x);
  try {
    bad->check();
    FAIL() << "expected a configuration error";
  } catch (const ConfigErrors& e) {
    const std::string all = e.what();
    EXPECT_NE(all.find("retimer.toml:3"), std::string::npos) << all;
    EXPECT_NE(all.find("retimer_latency"), std::string::npos) << all;
  }
}

}  // namespace
}  // namespace numasim::hw
