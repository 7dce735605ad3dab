// Posted write-backs in runs (issue 15): DramController::post_writes, the
// LLC write-backs of a cached clear handed to the controller together instead
// of one access() each. A clear's write-backs are the lines of a page cleared
// earlier, in line order, so nearly every one follows the previous one's line:
// runs of one interleave granule (one bank and row), mostly row hits, in time
// order. Each run's bank, rank and channel are found once; each write that is
// a row hit in time order, clear of refresh (its arrival and its column
// command between two refresh windows of the bank's epoch), is timed by the
// row-hit path of schedule() alone (the column command after the bank's
// previous one and the bank group's and data bus's calendars, the data burst
// and column command reserved, the channel's displacement debt paid, the
// bank's in-order history kept); its statistics are summed over the run.
// Every other write (a row to open, a write stamped before the bank's latest
// request, a refresh in reach, a write queue, the closed-page policy) goes
// through schedule() as access() sends it; a row hit whose column command a
// bus or bank-group reservation pushes on stays on the run path and takes
// earliest_column()'s full search, as schedule() does.
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
  const std::size_t rank_index = static_cast<std::size_t>(c.channel) * static_cast<std::size_t>(p_.ranks) + c.rank;
  const auto ri = static_cast<std::uint32_t>(rank_index);
  Bank& b = banks_[rank_index * static_cast<std::size_t>(p_.banks_per_rank()) +
                   static_cast<std::size_t>(c.bank_group) * static_cast<std::size_t>(p_.banks_per_group) + c.bank];
  Rank& r = ranks_[rank_index];
  SlotCalendar& cas_calendar = r.cas_by_bg[c.bank_group];
  Channel& ch = channels_[c.channel];
  const std::int64_t bus_tag = c.rank;
  const bool blackout = p_.refresh && p_.trfc.value() > 0;
  SlotCalendar::Blackout refresh_blackout;
  if (blackout)
    refresh_blackout = {p_.trefi, p_.trfc + ps_.trcd, ps_.cl, refresh_offsets_.data() + rank_index - c.rank};
  // The constraints the loop reads, held apart from the state it writes (the
  // compiler reloaded each after every store to a bank or a statistic).
  const Picoseconds service = ps_.idle[static_cast<std::size_t>(RowOutcome::Hit)][1];
  const Picoseconds frontend = p_.frontend_latency, cwl = ps_.cwl, tburst = ps_.tburst, twr = ps_.twr, tras = ps_.tras,
                    spacing = column_spacing_ps_;
  // Whether a time falls between two refresh windows of the rank in the bank's
  // epoch (no window, no row closed): the rank's memo of its current span read
  // inline, as refresh_adjust() and refresh_epoch() read it, else they decide.
  const RefreshMemo* memo = p_.refresh ? &refresh_memo_[ri] : nullptr;
  auto clear_of_refresh = [&](Picoseconds t) {
    if (!memo) return true;
    if (t.value() - memo->lo < memo->hi - memo->lo) return memo->epoch == b.refresh_epoch;
    bool in_window = false;
    refresh_adjust(ri, t, &in_window);
    return !in_window && refresh_epoch(ri, t) == b.refresh_epoch;
  };
  std::uint64_t hits = 0, latency_sum = 0, queueing_sum = 0, first_arrival = ~0ull, last_done = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const Picoseconds a = arrival[k], t = a + frontend;
    if (t < b.last_t || b.open_row != c.row || !clear_of_refresh(t)) {
      schedule(c, true, a, t, false);
      continue;
    }
    // earliest_column's first step; the whole search when the calendars push the command on.
    const Picoseconds from = std::max(t, b.next_cas);
    Picoseconds cas = cas_calendar.earliest(from, 0, t);
    if (ch.bus.earliest(cas + cwl, static_cast<int>(bus_tag), t) != cas + cwl)
      cas = earliest_column(r, ch, c.rank, c.bank_group, from, cwl, false, t);
    if (!clear_of_refresh(cas)) {
      schedule(c, true, a, t, false);
      continue;
    }
    b.last_t = t;
    const Picoseconds data = cas + cwl, done = data + tburst;
    SlotCalendar::Moves mv;
    const std::uint64_t moved =
        ch.bus.reserve_displacing(data, bus_tag, t, &mv, blackout ? &refresh_blackout : nullptr);
    const Picoseconds share = settle_debt(ch, t, moved, mv);
    cas_calendar.reserve_displacing(cas, 0, t);
    b.next_cas = cas + spacing;
    b.next_pre = std::max(b.next_pre, std::max(done + twr, b.last_act + tras));
    keep_snapshot(b, t);
    const Picoseconds latency = done + share - a;
    ++hits;
    ++run_path_writes_;
    latency_sum += latency.value();
    queueing_sum += latency > service ? (latency - service).value() : 0;
    first_arrival = std::min(first_arrival, a.value());
    last_done = std::max(last_done, done.value());
    hist_.record(latency);
  }
  stats_.writes += hits;
  stats_.bytes_written += hits * kCacheLineBytes;
  stats_.row_hits += hits;
  stats_.total_latency_ps += latency_sum;
  stats_.total_queueing_ps += queueing_sum;
  stats_.bus_busy_ps += hits * tburst.value();
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, first_arrival);
  stats_.last_done_ps = std::max(stats_.last_done_ps, last_done);
}

}  // namespace numasim::hw
