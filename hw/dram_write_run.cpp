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
// appends and bank state written once per prefix, their statistics and
// latency histogram summed over the call and added once at its end
// (add_settle_totals: sums, counts and extremes, in any order the same;
// the histogram's samples counted by place in the prefix, where a clear's
// runs repeat one pattern of latencies). Any other write
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
[[gnu::always_inline]] inline void DramController::write_run(const DramCoord& c, const Picoseconds* arrival,
                                                             std::size_t n, const SettleConsts& kc, SettleTotals& tot) {
  const HitSite site = hit_site(c);
  DramResult res;
  for (std::size_t k = 0; k < n;) {
    if (row_hit_path_) {
      const std::size_t settled = settle_write_hits(site, c, arrival + k, n - k, kc, tot);
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
  // (Every calendar of a kind has the same reach.)
  const bool chained = channels_.front().bus.reach() <= column_spacing_ps_ &&
                       ranks_.front().cas_by_bg.front().reach() <= column_spacing_ps_;
  const SettleConsts kc{p_.frontend_latency,
                        ps_.cwl,
                        ps_.cwl + ps_.tburst,
                        ps_.cwl + ps_.tburst + ps_.twr,
                        column_spacing_ps_,
                        ps_.tras,
                        chained};
  // A settled write's queueing is its latency less this (its latency is at
  // least the front end, CWL and the burst: add_settle_totals sums them so).
  assert(ps_.idle[static_cast<std::size_t>(RowOutcome::Hit)][1] == kc.fe + kc.cwl_burst);
  SettleTotals tot;
  std::size_t i = 0;
  const DramCoord* prev = nullptr;  // the run before's coordinate (in the memo)
  std::uint64_t prev_granule = 0;
  const std::uint64_t granule_bytes = kCacheLineBytes << il_shift_;
  while (i < n) {
    const std::uint64_t off = pa[i] - base_;
    const std::uint64_t line = off >> 6;
    const std::uint64_t granule = line >> il_shift_;
    // The run's end: the lines from the granule's first address on. The
    // usual run, the four lines of a 256 B granule (the default interleave),
    // by three compares at once; a longer run (a line written twice) is
    // split there, which times every write as before (each run's writes in
    // order, as access() would). Otherwise line by line.
    const PhysAddr first = pa[i] - (off & (granule_bytes - 1));
    std::size_t end = i + 1;
    if (il_shift_ == 2 && i + 4 <= n && ((pa[i + 1] - first) | (pa[i + 2] - first) | (pa[i + 3] - first)) < 256) {
      end = i + 4;
    } else {
      while (end < n && pa[end] - first < granule_bytes) ++end;
    }
    // schedule() reads no column: one coordinate for the run, read in the
    // decode memo (nothing in the run decodes, so the entry stays as it is;
    // the run before's too, which the next run's decode reads).
    const DramCoord& c = prev && granule == prev_granule + 1 ? decode_after(*prev, line) : decode_line(line);
    write_run(c, arrival + i, end - i, kc, tot);
    prev = &c;
    prev_granule = granule;
    i = end;
  }
  if (tot.writes > 0) add_settle_totals(tot);
}

void DramController::add_settle_totals(const SettleTotals& tot) {
  const std::uint64_t m = tot.writes;
  // count_served() and serve_row_hit()'s counts, for the settled writes at once.
  stats_.row_hits += m;
  stats_.writes += m;
  stats_.bytes_written += m * kCacheLineBytes;
  stats_.total_latency_ps += tot.latency_sum;
  // (Each write's latency is at least its service time, idle_latency(Hit, write).)
  stats_.total_queueing_ps += tot.latency_sum - m * ps_.idle[static_cast<std::size_t>(RowOutcome::Hit)][1].value();
  stats_.bus_busy_ps += m * ps_.tburst.value();
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, tot.first_arrival);
  stats_.last_done_ps = std::max(stats_.last_done_ps, tot.last_done);
  row_hit_path_requests_ += m;
  settled_writes_ += m;
  for (std::size_t k = 0; k < tot.lat.size(); ++k)
    if (tot.lat_n[k] != 0) hist_.record(Picoseconds(tot.lat[k]), tot.lat_n[k]);
}

[[gnu::always_inline]] inline std::size_t DramController::settle_write_hits(const HitSite& s, const DramCoord& c,
                                                                            const Picoseconds* arrival, std::size_t n,
                                                                            const SettleConsts& kc, SettleTotals& tot) {
  Bank& b = s.b;
  Channel& ch = s.ch;
  SlotCalendar& bus = ch.bus;
  SlotCalendar& columns = s.columns;
  const Picoseconds t0 = arrival[0] + kc.fe;
  // What holds for the whole prefix once it holds for its first write: the
  // row stays open, no debt arises (nothing is displaced), the refresh memo
  // and the bank's epoch stay as they are (no slow refresh path runs), and
  // the stamps only grow (each at or after the one before).
  if (b.open_row != c.row || ch.debt_n != 0 || t0 < b.last_t || t0 < bus.max_stamp() || t0 < columns.max_stamp())
    return 0;
  // The span between two refresh windows t0 falls in (everything without refresh).
  std::uint64_t span_end = ~std::uint64_t{0};
  if (s.memo) {
    if (!s.memo->covers(t0)) {
      // Another span than the rank's memo holds: t0's found (the memo then
      // covers it); t0 in a refresh window is a refresh delay (serve_row_hit
      // or serve_row_miss).
      bool delayed = false;
      if (refresh_start(static_cast<std::uint32_t>(s.rank_index), t0, &delayed) != t0) return 0;
    }
    assert(s.memo->covers(t0));  // (refresh_start leaves the memo on the span of the time it returns)
    if (s.memo->epoch != b.refresh_epoch) return 0;
    span_end = s.memo->hi;
  }
  // A command at or past the calendars' stamp limit is not settled (never
  // in practice: 20 hours), so the stamps before it go in unsaturated.
  span_end = std::min(span_end, SlotCalendar::Appender::kStampLimit.value());
  // The first write's column command and burst clear of the calendars
  // (serve_row_hit's test); each later one's, a column spacing or more after
  // the one before (the latest reservation by then), is clear of that one's
  // when no reach exceeds the spacing (kc.chained).
  Picoseconds next_cas = b.next_cas;
  const Picoseconds cas0 = std::max(t0, next_cas);
  if (!columns.clear_at(cas0) || !bus.clear_at(cas0 + kc.cwl)) return 0;
  n = std::min({n, kc.chained ? kSettleMax : std::size_t{1}, bus.append_room(), columns.append_room()});
  const std::uint64_t rank_bits = SlotCalendar::Appender::tag_bits(c.rank), column_bits = 0;
  constexpr auto ring = static_cast<std::uint32_t>(std::tuple_size_v<decltype(b.hist)>);
  // Each write's precharge readiness is at least the row's tRAS, the same
  // for the whole prefix: taken into the running maximum at once.
  Picoseconds next_pre = std::max(b.next_pre, b.last_act + kc.tras);
  const SlotCalendar::Appender bus_slots = bus.appender(), column_slots = columns.appender();
  Picoseconds last_a = arrival[0], done{0};
  std::uint64_t latency_sum = 0;
  std::size_t m = 0;
  for (; m < n; ++m) {
    const Picoseconds a = arrival[m], t = a + kc.fe;
    // At or after the write before (so inside the span from t0 on, and
    // after the calendars' latest stamps); its command in the span.
    if (a < last_a) break;
    const Picoseconds cas = std::max(t, next_cas);
    if (cas.value() >= span_end) break;
    last_a = a;
    done = cas + kc.cwl_burst;
    next_cas = cas + kc.spacing;
    next_pre = std::max(next_pre, cas + kc.cas_to_pre);
    bus_slots.put_below_limit(m, cas + kc.cwl, rank_bits, t);  // (t <= cas, below span_end)
    column_slots.put_below_limit(m, cas, column_bits, t);
    // keep_snapshot(b, t) (a prefix longer than the ring overwrites its own first snapshots).
    keep_snapshot_at(b, b.hist[(b.hist_next + m) % ring], t, next_pre, next_cas);
    const std::uint64_t latency = (done - a).value();
    latency_sum += latency;
    // The histogram's sample: counted at its place when the place's first value.
    if (latency == tot.lat[m]) {
      ++tot.lat_n[m];
    } else if (tot.lat_n[m] == 0) {
      tot.lat[m] = latency;
      tot.lat_n[m] = 1;
    } else {
      hist_.record(Picoseconds(latency));
    }
  }
  if (m == 0) return 0;
  const Picoseconds last_t = last_a + kc.fe;
  bus.commit_puts(m, last_t);
  columns.commit_puts(m, last_t);
  b.last_t = last_t;
  b.next_cas = next_cas;
  b.next_pre = next_pre;
  b.hist_next = static_cast<std::uint32_t>((b.hist_next + m) % ring);
  b.hist_n = static_cast<std::uint32_t>(std::min<std::size_t>(b.hist_n + m, ring));
  tot.writes += m;
  tot.latency_sum += latency_sum;
  tot.first_arrival = std::min(tot.first_arrival, arrival[0].value());  // arrivals ascend in the prefix
  tot.last_done = std::max(tot.last_done, done.value());                // so do the bursts
  return m;
}

}  // namespace numasim::hw
