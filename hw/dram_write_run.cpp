// Posted write-backs in runs (issue 15): DramController::post_writes, the
// LLC write-backs of a cached clear handed to the controller together instead
// of one access() each. A clear's write-backs are the lines of a page cleared
// earlier, in line order, so nearly every one follows the previous one's line:
// runs of one interleave granule (one bank and row), mostly row hits, in time
// order. Each run is decoded once (from the run before's coordinate when its
// granule follows) and its bank, rank, channel and calendars found once
// (hit_site). The in-order row hits clear of refresh, of every reservation
// and of the channel's debt are settled a prefix at a time
// (settle_write_hits): each computed from the one before, their calendar
// appends, bank state, history and statistics written once. Any other write
// that is an in-order row hit (or one a refresh window delays) is timed by
// the row-hit path access() uses too (serve_row_hit), every other write
// through schedule() as access() sends it (an in-order row miss, delayed by
// a refresh window or not, by its row-miss path, serve_row_miss). With a
// write queue or the closed-page policy every write goes through access().
// Simplifications: none; the same state and statistics as access() per line
// (tests/hw/dram_write_run_test.cpp).
#include <algorithm>
#include <tuple>

#include "hw/dram_controller.h"

namespace numasim::hw {

// Inline in post_writes(), its one caller: a call per run of about three lines.
[[gnu::always_inline]] inline void DramController::write_run(const DramCoord& c, const Picoseconds* arrival, std::size_t n) {
  const HitSite site = hit_site(c);
  DramResult res;
  for (std::size_t k = 0; k < n;) {
    if (row_hit_path_) {
      const std::size_t settled = settle_write_hits(site, c, arrival + k, n - k);
      if (settled > 0) {
        k += settled;
        continue;
      }
    }
    const Picoseconds a = arrival[k], t = a + p_.frontend_latency;
    if (!row_hit_path_ || !serve_row_hit(site, c, true, a, t, res)) schedule_at(site, c, true, a, t, false);
    ++k;
  }
}

void DramController::post_writes(const PhysAddr* pa, const Picoseconds* arrival, std::size_t n) {
  if (p_.write_queue > 0 || p_.page_policy != PagePolicy::Open) {
    for (std::size_t i = 0; i < n; ++i) access(pa[i], true, arrival[i]);
    return;
  }
  std::size_t i = 0;
  const DramCoord* prev = nullptr;  // the run before's coordinate (in the memo)
  std::uint64_t prev_granule = 0;
  while (i < n) {
    const std::uint64_t line = (pa[i] - base_) >> 6;
    const std::uint64_t granule = line >> il_shift_;
    std::size_t end = i + 1;
    while (end < n && (((pa[end] - base_) >> 6) >> il_shift_) == granule) ++end;
    // schedule() reads no column: one coordinate for the run, read in the
    // decode memo (nothing in the run decodes, so the entry stays as it is;
    // the run before's too, which the next run's decode reads).
    const DramCoord& c = prev && granule == prev_granule + 1 ? decode_after(*prev, line) : decode_line(line);
    write_run(c, arrival + i, end - i);
    prev = &c;
    prev_granule = granule;
    i = end;
  }
}

[[gnu::always_inline]] inline std::size_t DramController::settle_write_hits(const HitSite& s, const DramCoord& c,
                                                                            const Picoseconds* arrival, std::size_t n) {
  Bank& b = s.b;
  Channel& ch = s.ch;
  SlotCalendar& bus = ch.bus;
  SlotCalendar& columns = s.columns;
  const Picoseconds fe = p_.frontend_latency, cwl = ps_.cwl;
  const Picoseconds t0 = arrival[0] + fe;
  // What holds for the whole prefix once it holds for its first write: the
  // row stays open, no debt arises (nothing is displaced), the refresh memo
  // and the bank's epoch stay as they are (no slow refresh path runs), and
  // the stamps only grow (each at or after the one before).
  if (b.open_row != c.row || ch.debt_n != 0 || t0 < b.last_t || t0 < bus.max_stamp() || t0 < columns.max_stamp())
    return 0;
  if (s.memo && !s.memo->covers(t0)) {
    // Another span than the rank's memo holds: t0's found; t0 in a refresh
    // window is a refresh delay (serve_row_hit or serve_row_miss).
    bool delayed = false;
    if (refresh_start(static_cast<std::uint32_t>(s.rank_index), t0, &delayed) != t0) return 0;
  }
  const RefreshMemo span = s.memo ? *s.memo : RefreshMemo{0, ~std::uint64_t{0}, 0};
  if (!span.covers(t0) || (s.memo && span.epoch != b.refresh_epoch)) return 0;
  // The first write's column command and burst clear of the calendars
  // (serve_row_hit's test); each later one's only needs to be clear of the
  // write before it, the latest reservation by then.
  Picoseconds next_cas = b.next_cas;
  if (!columns.clear_at(std::max(t0, next_cas)) || !bus.clear_at(std::max(t0, next_cas) + cwl)) return 0;
  n = std::min({n, kSettleMax, bus.append_room(), columns.append_room()});
  const Picoseconds tburst = ps_.tburst, twr = ps_.twr, spacing = column_spacing_ps_;
  const Picoseconds reach = std::max(columns.reach(), bus.reach());
  const std::uint64_t service = ps_.idle[static_cast<std::size_t>(RowOutcome::Hit)][1].value();
  const auto rank_tag = static_cast<std::int64_t>(c.rank);
  constexpr auto ring = static_cast<std::uint32_t>(std::tuple_size_v<decltype(b.hist)>);
  // Each write's precharge readiness is at least the row's tRAS, the same
  // for the whole prefix: taken into the running maximum at once.
  Picoseconds next_pre = std::max(b.next_pre, b.last_act + ps_.tras);
  const SlotCalendar::Appender bus_slots = bus.appender(), column_slots = columns.appender();
  Picoseconds last_t = t0, min_cas{0}, done{0};
  std::uint64_t latency_sum = 0, queueing_sum = 0;
  std::size_t m = 0;
  for (; m < n; ++m) {
    const Picoseconds a = arrival[m], t = a + fe;
    // At or after the write before (so inside the span from t0 on, and
    // after the calendars' latest stamps); its command in the span.
    if (t < last_t) break;
    const Picoseconds cas = std::max(t, next_cas);
    if (cas < min_cas || !span.covers(cas)) break;
    last_t = t;
    min_cas = cas + reach;
    done = cas + cwl + tburst;
    next_cas = cas + spacing;
    next_pre = std::max(next_pre, done + twr);
    bus_slots.put(m, cas + cwl, rank_tag, t);
    column_slots.put(m, cas, 0, t);
    // keep_snapshot(b, t) (a prefix longer than the ring overwrites its own first snapshots).
    keep_snapshot_at(b, b.hist[(b.hist_next + m) % ring], t, next_pre, next_cas);
    const std::uint64_t latency = (done - a).value();
    latency_sum += latency;
    queueing_sum += latency > service ? latency - service : 0;
    hist_.record(Picoseconds(latency));
  }
  if (m == 0) return 0;
  bus.commit_puts(m, last_t);
  columns.commit_puts(m, last_t);
  b.last_t = last_t;
  b.next_cas = next_cas;
  b.next_pre = next_pre;
  b.hist_next = static_cast<std::uint32_t>((b.hist_next + m) % ring);
  b.hist_n = static_cast<std::uint32_t>(std::min<std::size_t>(b.hist_n + m, ring));
  // count_served() and serve_row_hit()'s counts, for the m writes at once.
  stats_.row_hits += m;
  stats_.writes += m;
  stats_.bytes_written += m * kCacheLineBytes;
  stats_.total_latency_ps += latency_sum;
  stats_.total_queueing_ps += queueing_sum;
  stats_.bus_busy_ps += m * tburst.value();
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, arrival[0].value());  // arrivals ascend
  stats_.last_done_ps = std::max(stats_.last_done_ps, done.value());                // so do the bursts
  row_hit_path_requests_ += m;
  settled_writes_ += m;
  return m;
}

}  // namespace numasim::hw
