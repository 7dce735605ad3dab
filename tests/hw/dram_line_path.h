// The line-by-line reference that DramController::stream (the analytic or
// posted sequential burst) is compared with: the burst through access(), one
// line at a time, by an initiator that keeps `window` lines in flight and
// issues one line per `gap`, as the memory system's range pipeline does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "hw/dram_controller.h"

namespace numasim::hw::testing {

// The burst [first, first + 64 n) from `start`: when the last line is done.
inline Picoseconds line_path_end(DramController& mc, std::uint64_t first, std::uint64_t n, bool write,
                                 Picoseconds start, Picoseconds gap, std::size_t window = 10) {
  std::vector<Picoseconds> slot(window, start);
  Picoseconds issue = start, last = start;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i > 0) issue += gap;
    issue = std::max(issue, slot[i % window]);
    const Picoseconds done = mc.access(first + i * 64, write, issue).done;
    slot[i % window] = done;
    last = std::max(last, done);
  }
  return last;
}

}  // namespace numasim::hw::testing
