// The L2 super queue (SQ) of one core: the entries that track every request
// the core's L2 sends to the uncore (demand misses of L1D that also miss L2,
// and the L2 streamer's prefetches) until its data returns. Intel 64 and IA-32
// Architectures Optimization Reference Manual: the L1D has 10 line-fill buffers
// and the L2 a 16-entry super queue on Skylake (server and client; WikiChip
// "Skylake (server)"); 12 fill buffers and a 32-entry queue on Sunny Cove (Ice
// Lake-SP), 16 and 48 on Golden Cove (Sapphire Rapids). With every entry busy a
// new L2 miss waits for the first one to free, so a core never has more than
// `entries` requests outstanding beyond its L2, however many fill buffers and
// prefetches it has: that, not a fitted constant, bounds a core's memory-level
// parallelism. The streamer's throttle (stream_prefetcher.h) reads busy().
// Each entry keeps only the completion time of the request that holds it (as
// the core's fill buffers do): the entry that frees first is taken next.
// Simplifications: an entry is held from the request's issue until its data
// arrives (no early release of write-backs, no separate write queue); requests
// of one core are assumed to come nearly in time order (a request stamped
// earlier than one already queued still counts the later one as busy only from
// its own issue time on, which it is: the array keeps completion times).
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>

#include "common/units.h"
#include "hw/completion_ring.h"

namespace numasim::hw {

struct SuperQueueStats {
  std::uint64_t requests = 0;   // entries taken (demand misses and prefetches)
  std::uint64_t full = 0;       // demand requests that found every entry busy
  std::uint64_t full_wait_ps = 0;
};

class SuperQueue {
 public:
  static constexpr std::uint32_t kMaxEntries = CompletionRing<Picoseconds>::kMaxEntries;

  // Throws std::invalid_argument unless 1 <= entries <= kMaxEntries.
  explicit SuperQueue(std::uint32_t entries = 16) : done_(entries, Picoseconds(0), "super queue") {}

  std::uint32_t entries() const { return done_.size(); }
  // Entries whose request is still outstanding at `now`: the sorted tail above
  // `now`, found by a binary search with conditional moves (log2 entries
  // steps, a loop whose length is fixed per queue): a walk down from the
  // tail ended on a branch the host mispredicted on most calls.
  std::uint32_t busy(Picoseconds now) const {
    const std::uint32_t n = done_.size();
    std::uint32_t first = 0, len = n;  // the first time above `now`: in [first, first + len]
    while (len > 1) {
      const std::uint32_t half = len / 2;
      first = done_.at(first + half) <= now ? first + half : first;
      len -= half;
    }
    first += done_.at(first) <= now ? 1u : 0u;
    return n - first;
  }
  // min(entries() - busy(now), cap): the free entries counted only up to
  // `cap`, at one compare each (for a reader that cannot tell more apart: the
  // L2 streamer's throttle asks on every L1D miss, where busy()'s binary
  // search was about 45 host instructions).
  std::uint32_t free_up_to(Picoseconds now, std::uint32_t cap) const {
    const std::uint32_t n = std::min(cap, done_.size());
    std::uint32_t free = 0;
    while (free < n && done_.at(free) <= now) ++free;
    return free;
  }
  // When a request arriving at `now` gets an entry: `now`, or when the first busy one frees.
  Picoseconds available(Picoseconds now) const { return std::max(now, done_.at(0)); }
  // A demand request that arrived at `now` waits until available(now) (counted
  // when it waits), then holds the entry that frees first until `done`.
  void take(Picoseconds now, Picoseconds start, Picoseconds done) {
    if (start > now) {
      ++stats_.full;
      stats_.full_wait_ps += (start - now).value();
    }
    hold(done);
  }
  // take() of a demand request arriving at `now` that completes `latency`
  // after it gets its entry (the bulk clear's LLC-latency lines); returns the
  // completion, available(now) + latency.
  Picoseconds serve(Picoseconds now, Picoseconds latency) {
    const Picoseconds start = available(now);
    take(now, start, start + latency);
    return start + latency;
  }
  // The i-th earliest completion time of the entries (i < entries(); 0: what available() reads).
  Picoseconds entry(std::uint32_t i) const { return done_.at(i); }
  // m demand requests timed by the caller that found an entry free (none
  // waited), each taking the entry that frees first as take() would: request
  // i completes at done[i], ascending, never before the entry it took freed
  // (so the i-th of them took the i-th earliest of the entries' times and
  // done[0, i)). The entries left are those m take() calls leave: the latest
  // entries() of the old times and done[], the old times leaving earliest
  // first. Only the requests that stay are inserted (at most entries() of them, not m).
  void took_run(const std::uint64_t* done, std::size_t m) {
    assert(std::is_sorted(done, done + m) && (m == 0 || done[0] >= done_.at(0).value()));
    stats_.requests += m;
    const std::uint32_t n = done_.size();
    std::size_t kept = 0, d = m;  // requests among the latest n, counted from the last
    if (m >= n && done[m - n] >= done_.at(n - 1).value()) kept = n;  // the last n requests: all old times leave
    for (std::uint32_t i = 0, s = n; i < n && kept < n; ++i) {
      if (d > 0 && (s == 0 || done[d - 1] >= done_.at(s - 1).value())) {
        --d;
        ++kept;
      } else {
        --s;
      }
    }
    // Each leaves an old time that is no later than it and than the old times
    // kept: one merge of the kept run with the old times that stay.
    done_.replace_earliest_run(done + (m - kept), static_cast<std::uint32_t>(kept));
  }
  // A prefetch (issued only when an entry is free) holds the entry that frees first until `done`.
  void hold(Picoseconds done) {
    ++stats_.requests;
    // The entries are interchangeable (available() reads the earliest
    // completion time, busy() counts the times above `now`): a sorted ring.
    done_.replace_earliest(done);
  }

  const SuperQueueStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  CompletionRing<Picoseconds> done_;  // the entries' completion times
  SuperQueueStats stats_;
};

}  // namespace numasim::hw
