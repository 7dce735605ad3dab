// Posted write-backs in runs (issue 15): DramController::post_writes, the
// LLC write-backs of a cached clear handed to the controller together instead
// of one access() each. A clear's write-backs are the lines of a page cleared
// earlier, in line order, so nearly every one follows the previous one's line:
// runs of one interleave granule (one bank and row), mostly row hits, in time
// order. Each run is decoded once and its bank, rank, channel and calendars
// found once (hit_site); each write that is an in-order row hit clear of
// refresh is timed by the row-hit path access() uses too (serve_row_hit), every
// other write (a row to open, a write stamped before the bank's latest
// request, a refresh in reach) through schedule() as access() sends it. With a
// write queue or the closed-page policy every write goes through access().
// Simplifications: none; the same state and statistics as access() per line
// (tests/hw/dram_write_run_test.cpp).
#include <algorithm>

#include "hw/dram_controller.h"

namespace numasim::hw {

void DramController::post_writes(const PhysAddr* pa, const Picoseconds* arrival, std::size_t n) {
  if (p_.write_queue > 0 || p_.page_policy != PagePolicy::Open) {
    for (std::size_t i = 0; i < n; ++i) access(pa[i], true, arrival[i]);
    return;
  }
  std::size_t i = 0;
  while (i < n) {
    const std::uint64_t line = (pa[i] - base_) >> 6;
    const std::uint64_t granule = line >> il_shift_;
    std::size_t end = i + 1;
    while (end < n && (((pa[end] - base_) >> 6) >> il_shift_) == granule) ++end;
    const DramCoord c = decode_line(line);  // schedule() reads no column: one coordinate for the run
    write_run(c, arrival + i, end - i);
    i = end;
  }
}

void DramController::write_run(const DramCoord& c, const Picoseconds* arrival, std::size_t n) {
  const HitSite site = hit_site(c);
  DramResult res;
  for (std::size_t k = 0; k < n; ++k) {
    const Picoseconds a = arrival[k], t = a + p_.frontend_latency;
    if (!row_hit_path_ || !serve_row_hit(site, c, true, a, t, res)) schedule(c, true, a, t, false);
  }
}

}  // namespace numasim::hw
