// The bandwidth matrix's measurement window (bytes of every CPU between the
// first start marker and the last end marker; the first CPU to finish stops
// the others) on a saturated link: a remote cell reads the link's payload rate.
// STUDYQ checked this window on epyc-genoa-nps4, whose remote cells read 28
// GB/s against the links' 40 (every CPU starts within 0.4 us of the barrier
// and ends within 2 us, over a 1.5 ms window): the missing bytes are lines
// fetched twice (snoop-filter back-invalidations of prefetched lines, README
// "Quantum fairness"), not the window. This test holds the window itself.
#include <gtest/gtest.h>

#include "studies/studies.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

using namespace studies;

TEST(BandwidthStudyWindow, ASaturatedRemoteCellReadsTheLinksPayloadRate) {
  // Two CPUs per node with 10 fill buffers and 16 prefetches each keep far
  // more than a 5 GB/s link's worth of reads in flight.
  auto doc = testing::small_machine();
  doc->apply_override("link[0].bandwidth=5GB/s");
  BandwidthMatrixOptions o;
  o.buffer_per_cpu = Bytes(4ull << 20);
  o.lines_per_cpu = 4000;
  const MatrixResult r = bandwidth_matrix(doc->root(), o);
  ASSERT_EQ(r.matrix.size(), 2u);
  // Each 64-byte line crosses as an 80-byte response (16-byte header).
  const double payload_gbps = 5.0 * 64.0 / 80.0;
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(r.matrix[i][1 - i], payload_gbps, 0.02 * payload_gbps) << r.to_table();
    EXPECT_GT(r.matrix[i][i], 3 * payload_gbps) << r.to_table();  // local cells are not link-bound
  }
}

}  // namespace
}  // namespace numasim::hw
