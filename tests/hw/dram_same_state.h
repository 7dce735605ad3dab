// Two DramControllers that timed the same requests by different paths (a fast
// path against schedule() alone, post_writes against access() line by line)
// must hold the same statistics and latency histogram: every DramStats field,
// and the histogram bucket by bucket with its count, sum, min and max; and
// every bank's in-order state (DramController::bank_state: rows, activate,
// precharge and column times), which a later request may read.
#pragma once

#include <gtest/gtest.h>

#include "hw/dram_controller.h"

namespace numasim::hw::testing {

inline void expect_same_dram_state(const DramController& a, const DramController& b, const char* what) {
  const DramStats& x = a.stats();
  const DramStats& y = b.stats();
  EXPECT_EQ(x.reads, y.reads) << what;
  EXPECT_EQ(x.writes, y.writes) << what;
  EXPECT_EQ(x.row_hits, y.row_hits) << what;
  EXPECT_EQ(x.row_closed, y.row_closed) << what;
  EXPECT_EQ(x.row_conflicts, y.row_conflicts) << what;
  EXPECT_EQ(x.activates, y.activates) << what;
  EXPECT_EQ(x.precharges, y.precharges) << what;
  EXPECT_EQ(x.bytes_read, y.bytes_read) << what;
  EXPECT_EQ(x.bytes_written, y.bytes_written) << what;
  EXPECT_EQ(x.refresh_delays, y.refresh_delays) << what;
  EXPECT_EQ(x.reordered_hits, y.reordered_hits) << what;
  EXPECT_EQ(x.write_drains, y.write_drains) << what;
  EXPECT_EQ(x.write_queue_full, y.write_queue_full) << what;
  EXPECT_EQ(x.write_accept_wait_ps, y.write_accept_wait_ps) << what;
  EXPECT_EQ(x.late_requests, y.late_requests) << what;
  EXPECT_EQ(x.total_latency_ps, y.total_latency_ps) << what;
  EXPECT_EQ(x.total_queueing_ps, y.total_queueing_ps) << what;
  EXPECT_EQ(x.bus_busy_ps, y.bus_busy_ps) << what;
  EXPECT_EQ(x.first_arrival_ps, y.first_arrival_ps) << what;
  EXPECT_EQ(x.last_done_ps, y.last_done_ps) << what;
  const Histogram& hx = a.latency_histogram();
  const Histogram& hy = b.latency_histogram();
  EXPECT_EQ(hx.buckets(), hy.buckets()) << what;
  EXPECT_EQ(hx.count(), hy.count()) << what;
  EXPECT_EQ(hx.sum_ps(), hy.sum_ps()) << what;
  EXPECT_EQ(hx.min_ps(), hy.min_ps()) << what;
  EXPECT_EQ(hx.max_ps(), hy.max_ps()) << what;
  ASSERT_EQ(a.bank_count(), b.bank_count()) << what;
  for (std::size_t i = 0; i < a.bank_count(); ++i) {
    const DramController::BankState s = a.bank_state(i), t = b.bank_state(i);
    if (s == t) continue;
    EXPECT_EQ(s.open_row, t.open_row) << what << ", bank " << i;
    EXPECT_EQ(s.prev_row, t.prev_row) << what << ", bank " << i;
    EXPECT_EQ(s.refresh_epoch, t.refresh_epoch) << what << ", bank " << i;
    EXPECT_EQ(s.prev_act, t.prev_act) << what << ", bank " << i;
    EXPECT_EQ(s.prev_pre, t.prev_pre) << what << ", bank " << i;
    EXPECT_EQ(s.last_act, t.last_act) << what << ", bank " << i;
    EXPECT_EQ(s.next_act, t.next_act) << what << ", bank " << i;
    EXPECT_EQ(s.next_pre, t.next_pre) << what << ", bank " << i;
    EXPECT_EQ(s.next_cas, t.next_cas) << what << ", bank " << i;
    EXPECT_EQ(s.last_t, t.last_t) << what << ", bank " << i;
    return;  // the first bank that differs is enough
  }
}

}  // namespace numasim::hw::testing
