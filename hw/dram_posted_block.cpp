// The posted write block (issue 16 item 2 with issue 15): DramController::stream
// of writes with a write queue, timed without one scheduling call per line.
// The initiator's lines are posted as post_write() posts them (each accepted
// once its queue entry is free, its window slot freed at acceptance, a drain
// at the high watermark), but the queue holds runs (a granule's lines: one
// bank and row) instead of entries, and each drain is timed as one batch:
// its runs in FR-FCFS order (the runs of one bank and row together, in the
// order of their oldest write), each run's first write paying the bank (row
// hit, activate after tRAS/tWR recovery and tRP, tRRD/tFAW through the rank's
// activate calendar, a refresh window), its writes a column spacing apart on
// their bank group, every write's burst placed at the earliest free place of a
// picture of the channel's data bus kept in tCK units (a bit per tCK), as the
// calendars place one write after another (a run that fits whole is placed in
// one step). The entries are freed at their column commands, so back-pressure
// follows as on the line path.
// Simplifications (against stream_posted, which drains through schedule()):
// times are rounded up to whole tCK from the drain's start; a run's writes
// share one mean latency, and the histogram gets the block's latencies once
// per bucket at their mean (counts and sums exact); the bank-group calendars of
// requests made before the block are consulted once per bank group; the
// calendars keep only each channel's last drain (later requests meet it, as
// they meet a read block's last bursts); a batch that mixes ranks spaces every
// burst by tRTRS; a write stamped before its bank's latest request (another
// core ahead within a quantum) goes through schedule() as on the line path.
// tests/hw/dram_write_queue_stream_test.cpp holds it within 2% of stream_posted.
#include <algorithm>

#include "hw/dram_controller.h"

namespace numasim::hw {

namespace {
Picoseconds later(Picoseconds a, Picoseconds b) { return a < b ? b : a; }
}  // namespace

Picoseconds DramController::stream_posted_block(PhysAddr pa, std::uint64_t n, Picoseconds issue, Picoseconds to_ctrl,
                                                Picoseconds round_trip, Picoseconds min_period, int window,
                                                Picoseconds issue_gap) {
  // The granules' coordinates by the digits below the column (their period),
  // tabulated once per block of period x columns granules (row fixed).
  std::size_t kc = 0;
  while (steps_[kc].field != DramField::Column) ++kc;
  std::uint64_t period = 1;
  for (std::size_t k = 0; k < kc; ++k) period *= steps_[k].radix.divisor();
  if (period > 4096 || p_.page_policy != PagePolicy::Open)
    return stream_posted(pa, n, issue, to_ctrl, round_trip, min_period, window, issue_gap);
  const std::uint64_t cols = steps_[kc].radix.divisor();
  const auto nch = static_cast<std::size_t>(p_.channels);
  const std::uint32_t cap = p_.write_queue;
  constexpr std::size_t kRing = DramParams::kMaxWriteQueue;
  if (posted_runs_.size() < nch * kRing) {
    posted_runs_.resize(nch * kRing);
    drained_.resize(nch * kRing);
    posted_head_.resize(nch);
    posted_count_.resize(nch);
    drained_count_.resize(nch);
    bus_pictures_.resize(nch);
    bus_busy_until_.resize(nch);
    templates_.resize(nch);
    template_runs_.resize(nch * kRing);
  }
  if (granule_table_.size() < period) granule_table_.resize(period);
  if (posted_batch_.size() < kRing) posted_batch_.resize(kRing);
  tck_div_ = FastDivider(p_.tck.value());
  posted_hist_n_.fill(0);
  posted_hist_sum_.fill(0);
  bg_free_.assign(ranks_.size() * static_cast<std::size_t>(p_.bank_groups), Picoseconds(0));
  auto bank_of = [&](const DramCoord& c, GranuleBank& g) {
    g.c = c;
    g.rank_index = c.channel * static_cast<std::uint32_t>(p_.ranks) + c.rank;
    g.bank = g.rank_index * static_cast<std::uint32_t>(p_.banks_per_rank()) +
             c.bank_group * static_cast<std::uint32_t>(p_.banks_per_group) + c.bank;
  };
  // The writes queued before the block become runs of one write each.
  for (std::size_t ch = 0; ch < nch; ++ch) {
    posted_head_[ch] = posted_count_[ch] = drained_count_[ch] = 0;
    bus_pictures_[ch].valid = false;
    bus_busy_until_[ch] = 0;
    templates_[ch] = DrainTemplate{};
    const Channel& q = channels_[ch];
    for (std::uint32_t k = 0; k < q.wq_count; ++k) {
      std::uint32_t pos = q.wq_head + k;
      if (pos >= cap) pos -= cap;
      GranuleBank g;
      bank_of(q.wq[pos].c, g);
      posted_runs_[ch * kRing + k] =
          PostedRun{g.c, g.bank, g.rank_index, pos, 1, q.wq[pos].arrival.value(), q.wq[pos].accept};
      ++posted_count_[ch];
    }
  }

  const std::uint64_t x0 = (pa - base_) >> 6;
  std::uint64_t granule = x0 >> il_shift_;
  std::uint64_t q = granule / period;
  std::uint64_t low = granule - q * period;
  std::uint64_t col = q % cols, blk = q / cols;
  auto tabulate = [&] {
    for (std::uint64_t l = 0; l < period; ++l) {
      DramCoord c;
      decode_uncached(((blk * cols * period) + l) << il_shift_, c);
      bank_of(c, granule_table_[l]);
    }
  };
  tabulate();

  const std::size_t w = static_cast<std::size_t>(std::max(window, 1));
  if (stream_slots_.size() < w) stream_slots_.resize(w);
  std::fill_n(stream_slots_.begin(), w, issue);
  const Picoseconds back = round_trip > to_ctrl ? round_trip - to_ctrl : Picoseconds(0);
  const Picoseconds step = later(issue_gap, min_period);
  const Picoseconds fe = p_.frontend_latency;
  const std::uint64_t il = p_.interleave_lines();
  Picoseconds t = issue, end = issue;
  std::size_t slot = 0;
  std::uint64_t full = 0, full_wait = 0;
  for (std::uint64_t i = 0; i < n;) {
    const std::uint64_t cnt = std::min(il - ((x0 + i) & (il - 1)), n - i);
    const GranuleBank& g = granule_table_[low];
    const std::uint32_t chn = g.c.channel;
    Channel& ch = channels_[chn];
    PostedRun* ring = &posted_runs_[chn * kRing];
    std::uint32_t& head = posted_head_[chn];
    std::uint32_t& count = posted_count_[chn];
    for (std::uint64_t k = 0; k < cnt;) {
      // A run for this granule's lines (after a drain, a new one for the rest).
      std::uint32_t ri = head + count;
      if (ri >= kRing) ri -= kRing;
      std::uint32_t pos = ch.wq_head + ch.wq_count;
      if (pos >= cap) pos -= cap;
      const std::uint32_t pos0 = pos;
      // Kept in registers while the run fills (the queue's count too).
      std::uint32_t queued = ch.wq_count, added = 0;
      std::uint64_t arrival_sum = 0;
      Picoseconds last_accept(0), latest(0);  // the run's latest acceptance; the last line's
      bool drain = false;
      for (; k < cnt && !drain; ++k) {
        if (i + k > 0) t += step;
        t = later(t, stream_slots_[slot]);
        const Picoseconds arrival = t + to_ctrl, ready = arrival + fe;
        const Picoseconds accept = later(ready, ch.wq_free[pos]);
        if (accept > ready) [[unlikely]] {
          ++full;
          full_wait += (accept - ready).value();
        }
        ++added;
        arrival_sum += arrival.value();
        last_accept = later(last_accept, accept);
        latest = accept;
        const Picoseconds done = accept + back;
        stream_slots_[slot] = done;
        if (++slot == w) slot = 0;
        end = later(end, done);
        if (++pos == cap) pos = 0;
        drain = ++queued >= p_.write_high;
      }
      ring[ri] = PostedRun{g.c, g.bank, g.rank_index, pos0, added, arrival_sum, last_accept};
      ++count;
      ch.wq_count = queued;
      if (drain) posted_drain(chn, latest);
    }
    i += cnt;
    if (++low == period) {
      low = 0;
      if (++col == cols) {
        col = 0;
        ++blk;
        tabulate();
      }
    }
  }

  // Each channel's last drain stays in the calendars for the requests after
  // the block (bursts, bank-group column commands, the rank's write direction).
  const Picoseconds cwl = p_.to_ps(p_.cwl);
  for (std::size_t c = 0; c < nch; ++c) {
    for (std::uint32_t k = 0; k < drained_count_[c]; ++k) {
      const DrainedRun& d = drained_[c * kRing + k];
      Rank& r = ranks_[d.rank_index];
      for (std::uint32_t j = 0; j < d.n; ++j) {
        const Picoseconds cas = d.cas0 + d.step * j;
        channels_[c].bus.reserve(cas + cwl, static_cast<int>(d.rank));
        r.cas_by_bg[d.bank_group].reserve(cas, 0);
        r.rw.reserve(cas, 1);
      }
    }
    // The writes still queued go back into the channel's entries.
    Channel& ch = channels_[c];
    for (std::uint32_t k = 0, h = posted_head_[c]; k < posted_count_[c]; ++k) {
      const PostedRun& run = posted_runs_[c * kRing + h];
      for (std::uint32_t j = 0; j < run.n; ++j) {
        std::uint32_t pos = run.pos + j;
        if (pos >= cap) pos -= cap;
        ch.wq[pos] = Channel::PendingWrite{run.c, Picoseconds(run.arrival_sum / run.n), run.accept};
      }
      if (++h == kRing) h = 0;
    }
  }
  for (std::size_t k = 0; k < posted_hist_n_.size(); ++k)
    if (posted_hist_n_[k] != 0) hist_.record(Picoseconds(posted_hist_sum_[k] / posted_hist_n_[k]), posted_hist_n_[k]);
  stats_.writes += n;
  stats_.bytes_written += n * kCacheLineBytes;
  stats_.write_queue_full += full;
  stats_.write_accept_wait_ps += full_wait;
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, (issue + to_ctrl).value());
  return end;
}

void DramController::posted_drain(std::uint32_t channel, Picoseconds start) {
  constexpr std::size_t kRing = DramParams::kMaxWriteQueue;
  Channel& ch = channels_[channel];
  const std::uint32_t cap = p_.write_queue;
  const std::uint32_t ndrain = ch.wq_count - p_.write_low;
  PostedRun* ring = &posted_runs_[channel * kRing];
  std::uint32_t& head = posted_head_[channel];
  std::uint32_t& count = posted_count_[channel];
  // The oldest ndrain writes (a run cut at the low watermark leaves its rest queued).
  PostedRun* const batch = posted_batch_.data();
  std::uint32_t nb = 0;
  bool multi_rank = false;
  for (std::uint32_t taken = 0; taken < ndrain;) {
    PostedRun& r = ring[head];
    if (taken + r.n <= ndrain) {
      batch[nb] = r;
      taken += r.n;
      if (++head == kRing) head = 0;
      --count;
    } else {
      const std::uint32_t part = ndrain - taken;
      batch[nb] = r;
      batch[nb].n = part;
      batch[nb].arrival_sum = r.arrival_sum / r.n * part;
      r.n -= part;
      r.arrival_sum -= batch[nb].arrival_sum;
      r.pos += part;
      if (r.pos >= cap) r.pos -= cap;
      taken = ndrain;
    }
    multi_rank |= r.c.rank != batch[0].c.rank;  // (the ring's field: the copy's is not forwarded yet)
    ++nb;
  }
  ch.wq_head += ndrain;
  if (ch.wq_head >= cap) ch.wq_head -= cap;
  ch.wq_count -= ndrain;
  ++stats_.write_drains;

  const std::uint64_t tck = p_.tck.value();
  const Picoseconds cwl = p_.to_ps(p_.cwl), burst = p_.to_ps(p_.tburst);
  const Picoseconds trcd = p_.to_ps(p_.trcd), trp = p_.to_ps(p_.trp), twr = p_.to_ps(p_.twr), tras = p_.to_ps(p_.tras);
  const Picoseconds sp = column_spacing_ps_;
  const std::uint32_t stride = same_group_column_spacing();
  // A burst holds the bus one slot (tBURST or tCCD_S), and tRTRS more where ranks alternate.
  const std::uint32_t occupancy = std::min(std::max(p_.tburst, p_.tccd_s) + (multi_rank ? p_.trtrs : 0), 64u);
  const std::uint64_t len_mask = occupancy >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << occupancy) - 1;
  const Picoseconds hit_service = idle_latency(RowOutcome::Hit, true);
  BusPicture& bus = bus_pictures_[channel];
  if (!bus.valid) {
    bus.bits.fill(0);
    bus.origin = start;
    bus.low_word = 0;
    bus.valid = true;
  }
  auto position = [&](Picoseconds x) -> std::uint64_t {  // first whole tCK at or after x
    const std::uint64_t d = x > bus.origin ? (x - bus.origin).value() : 0;
    return tck_div_.divide(d + tck - 1);
  };
  // The picture from a few words before the drain's start.
  const std::uint64_t p0 = position(start);
  bus.move_to((p0 >> 6) > 4 ? (p0 >> 6) - 4 : 0);
  drained_count_[channel] = 0;
  DrainedRun* tail = &drained_[channel * kRing];
  // The column command at place p (x itself beyond the picture: unknown there, taken as free).
  auto at = [&](std::uint64_t p, Picoseconds x) {
    return bus.pictured(p >> 6) ? bus.origin + Picoseconds(p * tck) : x;
  };
  auto bank_group_free = [&](const PostedRun& s) -> Picoseconds& {
    return bg_free_[static_cast<std::size_t>(s.rank_index) * static_cast<std::size_t>(p_.bank_groups) +
                    s.c.bank_group];
  };
  auto chain = [&](std::uint32_t n) {  // the bus bits of n bursts a column spacing apart
    std::uint64_t pattern = 0;
    for (std::uint32_t j = 0; j < n; ++j) pattern |= len_mask << (stride * j);
    return pattern;
  };
  // The end of a run's placement: the bank's and bank group's next column
  // command, its precharge, and the statistics as schedule() keeps them.
  auto finish = [&](const PostedRun& s, Bank& b, Picoseconds cas_sum, Picoseconds last_cas, std::uint64_t hits,
                    std::uint64_t closed, std::uint64_t conflicts) {
    bank_group_free(s) = last_cas + sp;
    b.next_cas = last_cas + sp;
    const Picoseconds last_done = last_cas + cwl + burst;
    b.next_pre = later(b.next_pre, later(last_done + twr, b.last_act + tras));
    const std::uint64_t done_sum = cas_sum.value() + (cwl + burst).value() * s.n;
    const std::uint64_t lat_sum = done_sum > s.arrival_sum ? done_sum - s.arrival_sum : 0;
    const std::uint64_t service =
        hit_service.value() * s.n + (trcd.value() * (closed + conflicts)) + trp.value() * conflicts;
    stats_.row_hits += hits;
    stats_.row_closed += closed;
    stats_.row_conflicts += conflicts;
    stats_.total_latency_ps += lat_sum;
    stats_.total_queueing_ps += lat_sum > service ? lat_sum - service : 0;
    stats_.bus_busy_ps += burst.value() * s.n;
    stats_.last_done_ps = std::max(stats_.last_done_ps, last_done.value());
    const std::uint64_t mean = s.n == 1 ? lat_sum : (s.n & (s.n - 1)) == 0 ? lat_sum >> __builtin_ctz(s.n) : lat_sum / s.n;
    const std::size_t bucket = hist_.bucket_of(mean);
    posted_hist_n_[bucket] += s.n;
    posted_hist_sum_[bucket] += lat_sum;
  };
  // A run's writes as one chain of bursts from place f (column command `first`).
  auto place_whole = [&](const PostedRun& s, std::uint64_t f, Picoseconds first, std::uint64_t pattern) {
    bus.mark(f, pattern);
    bus_busy_until_[channel] = std::max(bus_busy_until_[channel], f + std::uint64_t{stride} * (s.n - 1) + occupancy);
    for (std::uint32_t j = 0; j < s.n; ++j) {
      std::uint32_t pos = s.pos + j;
      if (pos >= cap) pos -= cap;
      ch.wq_free[pos] = first + sp * j;
    }
    tail[drained_count_[channel]++] = DrainedRun{first, sp, s.n, s.rank_index, s.c.rank, s.c.bank_group};
  };

  // The same drain as the channel's last, shifted in time: the same runs
  // (banks, rows, sizes) in the queue, each free to start when the drain
  // does, their banks' rows open and free, no refresh in reach and nothing
  // on the bus picture after the start. The last drain was placed free of
  // anything before it (its template), so this one is that placement moved
  // to its start: each run where the template had it.
  DrainTemplate& tp = templates_[channel];
  TemplateRun* const tr = &template_runs_[channel * kRing];
  bool replay = tp.ok && tp.runs == nb && bus_busy_until_[channel] <= p0 && bus.pictured((p0 + tp.span) >> 6);
  for (std::uint32_t a = 0; a < nb && replay; ++a)
    replay = batch[a].bank == tr[a].bank && batch[a].c.row == tr[a].row && batch[a].n == tr[a].n &&
             batch[a].accept <= start;
  for (std::uint32_t a = 0; a < nb && replay; ++a) {
    if (!tr[a].first) continue;
    const Bank& b = banks_[batch[a].bank];
    const Picoseconds bgf = bank_group_free(batch[a]);
    replay = b.open_row == batch[a].c.row && b.next_cas <= start && b.last_t <= start && bgf.value() != 0 &&
             bgf <= start;
    if (replay && p_.refresh) {
      const std::uint32_t ri = batch[a].rank_index;
      bool in_window = false;
      refresh_adjust(ri, start, &in_window);
      const Picoseconds end = at(p0 + tp.span, start);
      refresh_adjust(ri, end, &in_window);
      replay = !in_window && refresh_epoch(ri, start) == b.refresh_epoch && refresh_epoch(ri, end) == b.refresh_epoch;
    }
  }
  if (replay) {
    for (std::uint32_t a = 0; a < nb; ++a) {
      const PostedRun& s = batch[a];
      Bank& b = banks_[s.bank];
      b.last_t = start;
      b.hist_n = 0;
      const std::uint64_t f = p0 + tr[a].off;
      const Picoseconds first = at(f, start);
      place_whole(s, f, first, chain(s.n));
      finish(s, b, first * s.n + sp * (std::uint64_t{s.n} * (s.n - 1) / 2), first + sp * (s.n - 1), s.n, 0, 0);
    }
    return;
  }

  // FR-FCFS within the batch: the runs of one bank and row together, banks in
  // the order of their oldest write.
  std::array<std::uint8_t, kRing> order;
  std::array<std::uint64_t, kRing / 64> used{};  // a bit per run of the batch
  std::uint32_t no = 0;
  for (std::uint32_t a = 0; a < nb; ++a) {
    if (used[a >> 6] >> (a & 63) & 1) continue;
    order[no++] = static_cast<std::uint8_t>(a);
    for (std::uint32_t b = a + 1; b < nb; ++b)
      if (batch[b].bank == batch[a].bank && batch[b].c.row == batch[a].c.row && !(used[b >> 6] >> (b & 63) & 1)) {
        used[b >> 6] |= std::uint64_t{1} << (b & 63);
        order[no++] = static_cast<std::uint8_t>(b);
      }
  }

  // This drain is a template for the next when nothing before it moved it.
  bool free_of_before = !multi_rank && bus_busy_until_[channel] <= p0;
  std::uint32_t tspan = 0;
  std::uint32_t prev_bank = ~0u;  // the bank and row of the run placed before
  std::uint64_t prev_row = kNoRow;
  for (std::uint32_t o = 0; o < no; ++o) {
    const PostedRun& s = batch[order[o]];
    const std::uint32_t ri = s.rank_index;
    Bank& b = banks_[s.bank];
    Rank& r = ranks_[ri];
    const Picoseconds want = later(start, s.accept);
    free_of_before &= want == start;
    if (want < b.last_t) {
      // Another initiator's later requests own the bank: each write as the line path times it.
      free_of_before = false;
      for (std::uint32_t j = 0; j < s.n; ++j) {
        const DramResult res = schedule(s.c, true, Picoseconds(s.arrival_sum / s.n), want, true);
        const Picoseconds cas = res.done - cwl - burst;
        std::uint32_t pos = s.pos + j;
        if (pos >= cap) pos -= cap;
        ch.wq_free[pos] = cas;
        tail[drained_count_[channel]++] = DrainedRun{cas, Picoseconds(0), 1, ri, s.c.rank, s.c.bank_group};
      }
      continue;
    }
    b.last_t = want;
    b.hist_n = 0;
    // The run's first write: its bank's row, or an activate (after a refresh window it falls in).
    std::uint64_t hits = s.n, closed = 0, conflicts = 0;
    Picoseconds& bgf = bank_group_free(s);
    struct Open {
      Picoseconds pre{0}, act{0};
    };
    // An activate of s's row from tt (after the precharge of another open row), not yet made.
    auto plan_open = [&](Picoseconds tt) {
      Open o;
      if (b.open_row == kNoRow) {
        o.act = later(tt, b.next_act);
      } else {
        o.pre = later(tt, b.next_pre);
        o.act = later(o.pre + trp, b.next_act);
      }
      o.act = earliest_activate(r, s.c.bank_group, o.act);
      return o;
    };
    auto make_open = [&](const Open& o) {
      if (b.open_row == kNoRow) {
        ++closed;
      } else {
        ++conflicts;
        ++stats_.precharges;
        b.prev_row = b.open_row;
        b.prev_act = b.last_act;
        b.prev_pre = o.pre;
      }
      --hits;
      r.acts.reserve(o.act, static_cast<int>(s.c.bank_group));
      ++stats_.activates;
      b.last_act = o.act;
      b.open_row = s.c.row;
    };
    auto refresh_closes = [&](Picoseconds x) {  // the rank's refresh at x closes the bank's row
      bool in_window = false;
      refresh_adjust(ri, x, &in_window);
      return in_window || refresh_epoch(ri, x) > b.refresh_epoch;
    };
    // Past the refresh window x falls in (`writes` delayed by it); a refresh
    // since the bank's last use closed its row.
    auto past_refresh = [&](Picoseconds x, std::uint64_t writes) {
      bool delayed = false;
      const Picoseconds tt = refresh_adjust(ri, x, &delayed);
      if (delayed) stats_.refresh_delays += writes;
      const std::uint64_t epoch = refresh_epoch(ri, tt);
      if (epoch > b.refresh_epoch) {
        b.open_row = kNoRow;
        b.prev_row = kNoRow;
        b.refresh_epoch = epoch;
      }
      return tt;
    };
    // The first write's earliest column command from tt: the bank's open row,
    // or a planned activate; its bank group; the rank's reads before the block
    // (tRTW) and the channel's bursts.
    Open open;
    bool opens = false;
    auto first_column = [&](Picoseconds tt) {
      opens = b.open_row != s.c.row;
      Picoseconds c = tt;
      if (opens) {
        open = plan_open(tt);
        c = open.act + trcd;
      }
      c = later(c, b.next_cas);
      c = bgf.value() == 0 ? r.cas_by_bg[s.c.bank_group].earliest(c, 0) : later(c, bgf);
      c = r.rw.earliest(c, 1);
      return ch.bus.earliest(c + cwl, static_cast<int>(s.c.rank)) - cwl;
    };
    Picoseconds lo = want;
    if (p_.refresh) lo = past_refresh(lo, s.n);
    std::uint64_t f;
    const bool continues = s.bank == prev_bank && s.c.row == prev_row && b.open_row == s.c.row;
    if (continues) {
      // The rest of the run the previous writes began: behind them on the bank (a
      // refresh among them is found at the last write below).
      lo = later(lo, b.next_cas);
      f = bus.first_free(position(lo), occupancy);
    } else {
      free_of_before &= lo == want && bgf.value() != 0;
      lo = first_column(lo);
      free_of_before &= lo == want && !opens;
      // The first write's place on the bus; a refresh before it closes the row,
      // opened again after the window (the activate planned before it is not made).
      f = bus.first_free(position(lo), occupancy);
      for (int attempt = 0; attempt < 2 && p_.refresh && refresh_closes(at(f, lo)); ++attempt) {
        lo = first_column(past_refresh(at(f, lo), 1));
        f = bus.first_free(position(lo), occupancy);
        free_of_before = false;
      }
      if (opens) make_open(open);
    }
    prev_bank = s.bank;
    prev_row = s.c.row;

    // The whole run at the first free place, when its chain of bursts fits there.
    const std::uint64_t span = std::uint64_t{stride} * (s.n - 1) + occupancy;
    const std::uint64_t pattern = span <= 64 ? chain(s.n) : 0;
    bool whole = span <= 64 && bus.pictured((f + span) >> 6) && (bus.window(f) & pattern) == 0;
    const Picoseconds first = at(f, lo), last = first + sp * (s.n - 1);
    if (whole && p_.refresh) whole = !refresh_closes(last);
    if (whole) {
      place_whole(s, f, first, pattern);
      finish(s, b, first * s.n + sp * (std::uint64_t{s.n} * (s.n - 1) / 2), last, hits, closed, conflicts);
      tr[order[o]] = TemplateRun{s.bank, s.n, s.c.row, static_cast<std::uint32_t>(f - p0), !continues};
      tspan = std::max<std::uint32_t>(tspan, static_cast<std::uint32_t>(f + span - p0));
      continue;
    }
    // One write after another, each at the first free place after the one before.
    free_of_before = false;
    Picoseconds x = lo, cas_sum(0), last_cas(0);
    for (std::uint32_t j = 0; j < s.n; ++j) {
      std::uint64_t p = bus.first_free(position(x), occupancy);
      Picoseconds cas = at(p, x);
      if (p_.refresh && refresh_closes(cas)) {
        Picoseconds y = past_refresh(cas, 1);
        if (b.open_row != s.c.row) {
          const Open o = plan_open(y);
          make_open(o);
          y = o.act + trcd;
        }
        y = later(y, b.next_cas);
        p = bus.first_free(position(y), occupancy);
        cas = at(p, y);
      }
      bus.mark(p, len_mask);
      bus_busy_until_[channel] = std::max(bus_busy_until_[channel], p + occupancy);
      std::uint32_t pos = s.pos + j;
      if (pos >= cap) pos -= cap;
      ch.wq_free[pos] = cas;
      cas_sum += cas;
      last_cas = cas;
      tail[drained_count_[channel]++] = DrainedRun{cas, Picoseconds(0), 1, ri, s.c.rank, s.c.bank_group};
      x = cas + sp;
    }
    finish(s, b, cas_sum, last_cas, hits, closed, conflicts);
  }
  tp = DrainTemplate{nb, tspan, free_of_before};
}

}  // namespace numasim::hw
