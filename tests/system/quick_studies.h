// Study options small enough for system tests: a latency matrix over 128 MiB
// buffers with 3000 measured loads per cell (seconds, not minutes).
#pragma once

#include "studies/studies.h"

namespace numasim::testing {

inline studies::LatencyMatrixOptions quick_latency_matrix() {
  studies::LatencyMatrixOptions o;
  o.buffer = Bytes(128ull << 20);
  o.loads = 3000;
  o.warmup_loads = 500;
  return o;
}

}  // namespace numasim::testing
