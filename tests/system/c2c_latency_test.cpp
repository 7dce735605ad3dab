// End to end: the c2c-latency study (MLC --c2c_latency style) on the shipped
// Skylake-SP configuration and on a ring of four sockets: a modified line
// moves within a socket at about 50 ns, across one link at 114-123 ns
// (DESIGN.md), and farther across two links; without coherence there is no
// transfer to measure and the reads cost what a clean miss does.
#include <gtest/gtest.h>

#include <string>

#include "common/config.h"
#include "studies/studies.h"

namespace numasim::hw {
namespace {

using namespace studies;

std::unique_ptr<ConfigDocument> shipped(const std::string& name, const std::string& extra = "") {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/" + name);
  doc->apply_override("machine.memory_per_node=\"1GiB\"");
  if (!extra.empty()) doc->apply_override(extra);
  return doc;
}

TEST(C2cLatency, SkylakeSp2sMatchesThePublishedHitmFigures) {
  auto doc = shipped("skylake-sp-2s.toml");
  C2cOptions o;
  o.lines = 500;
  const MatrixResult r = c2c_latency(doc->root(), o);
  ASSERT_EQ(r.matrix.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(r.matrix[i][i], 50.0, 5.0) << r.to_table();
    EXPECT_GE(r.matrix[i][1 - i], 114.0 * 0.95) << r.to_table();
    EXPECT_LE(r.matrix[i][1 - i], 123.0 * 1.05) << r.to_table();
  }
  EXPECT_EQ(r.to_json().rfind("{\"unit\": \"ns\", \"matrix\": [[", 0), 0u);
}

TEST(C2cLatency, TwoLinksCostMoreThanOneAndCoherenceOffMeansNoTransfer) {
  auto doc = shipped("ring-4s.toml");
  C2cOptions o;
  o.lines = 300;
  const MatrixResult r = c2c_latency(doc->root(), o);
  ASSERT_EQ(r.matrix.size(), 4u);
  EXPECT_LT(r.matrix[0][0], r.matrix[0][1]) << r.to_table();
  EXPECT_LT(r.matrix[0][1], r.matrix[0][2]) << r.to_table();  // the opposite corner of the ring
  EXPECT_NEAR(r.matrix[0][1], r.matrix[1][0], 0.5) << r.to_table();
  auto off = shipped("ring-4s.toml", "coherence.enabled=false");
  const MatrixResult n = c2c_latency(off->root(), o);
  // Same socket: the reader finds the (stale) line in the shared LLC, which the
  // writer's fill put there, instead of snooping the writer's core.
  EXPECT_LT(n.matrix[0][0], r.matrix[0][0] - 20.0) << n.to_table();
}

}  // namespace
}  // namespace numasim::hw
