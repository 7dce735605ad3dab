// The L2 streamer of one core, after Intel's "L2 hardware prefetcher" (Intel 64
// and IA-32 Optimization Reference Manual, "Data prefetching"): it watches the
// core's L2 requests (L1D misses), keeps one stream per 4 KiB page, learns the
// stream's direction from consecutive requests and, once trained, runs ahead of
// the demand stream by up to `distance` lines, a few lines per request, never
// crossing the page. Each prefetch holds an entry of the L2's request queue
// (the superqueue) until its line arrives; with every entry busy, new
// prefetches are dropped. The super queue is shared with the core's demand
// misses (uncore_super_queue.h): the streamer only takes an entry while more
// than `demand_reserve` of them are free (prefetch throttling when the queue
// fills: Intel's manual says the streamer backs off when L2 is "heavily loaded
// with missing demand requests"), and `queue` caps its own entries. A demand
// access that finds a line still on its way waits for it (a late prefetch).
// This class decides what to prefetch and keeps the in-flight entries;
// MemorySystem times the fetches and fills the caches.
// Simplifications: ascending and descending unit strides only (no stride or
// IP-based detection, no L1 DCU prefetchers, no adjacent-line pair); prefetches
// throttled by the queue are dropped (not sent to the LLC only); the distance
// adapts to memory load only with adaptive_distance (off by default);
// prefetched lines always fill L2 and the LLC.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/completion_ring.h"
#include "hw/hw_stats.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

struct StreamPrefetcherParams {
  static constexpr std::uint32_t kMaxDegree = 8;
  bool enabled = true;          // on by default, as on shipped Skylake-SP servers
  std::uint32_t streams = 32;   // pages tracked at once (Intel: 32 streams)
  std::uint32_t distance = 20;  // lines ahead of the demand stream (Intel: up to 20)
  std::uint32_t degree = 2;     // prefetches issued per L2 request of a trained stream
  std::uint32_t queue = 16;     // superqueue entries prefetches may hold (Skylake L2: 16)
  std::uint32_t train = 2;      // requests in one direction before the stream prefetches
  std::uint32_t demand_reserve = 0;  // super-queue entries left to demand misses (throttle)
  // distance x (free super-queue entries, at most `queue`) / `queue`: the free
  // share of the super queue where `queue` is its size, as on the shipped configurations
  bool adaptive_distance = false;

  // The [prefetch.l2_streamer] table.
  static StreamPrefetcherParams from_config(Config c);
};

// Lines to prefetch, decided by one observed request (at most kMaxDegree).
// Only line[0, count) is meaningful (left uninitialised: one per L1D miss).
struct PrefetchCandidates {
  std::array<PhysAddr, StreamPrefetcherParams::kMaxDegree> line;
  std::uint32_t count = 0;
};

// The streamer's prefetches in flight, each holding a queue entry until its
// line arrives: what a vector in issue order, scanned on every request, gave
// (retire the arrived ones; drop the oldest-issued when full; a line's
// earliest-issued prefetch still on its way), at a few steps per request.
// Each prefetch sits in a slot that does not move; the slots' arrival times
// are kept sorted in a ring (arrival << 8 | slot; a SortedRing of
// hw/completion_ring.h), so the arrived ones leave from its head; the slots
// of the lines of one bucket (line number mod 64) are chained, so pending()
// looks at the one or two slots of the line's bucket; an issue number per
// slot keeps the issue order where it matters (which prefetch a full queue
// drops, which of two of one line pending() reports). Host bookkeeping only.
// Arrival times below 2^56 ps (20 hours).
class PrefetchesInFlight {
 public:
  static constexpr std::uint32_t kMaxEntries = SortedRing<std::uint64_t>::kMaxEntries;
  // Up to `entries` (1..kMaxEntries) prefetches.
  explicit PrefetchesInFlight(std::uint32_t entries);
  // Retires the prefetches whose lines arrived by `now`; returns how many entries are free.
  std::uint32_t retire(Picoseconds now) {
    while (live_ != 0 && (order_.at(0) >> 8) <= now.value()) {
      release(static_cast<std::uint32_t>(order_.at(0) & 0xff));
      order_.pop_head();
      --live_;
    }
    return entries_ - live_;
  }
  // A prefetch of line-aligned `line` arriving at `ready` takes an entry (the
  // oldest-issued one's, when every entry is busy).
  // (Inline, with the rare steps out of line: one per prefetch sent.)
  void add(PhysAddr line, Picoseconds ready) {
    if (ready.value() >> 56) [[unlikely]]
      die_too_late(ready);
    if (live_ >= entries_) [[unlikely]]
      drop_oldest();
    const std::uint32_t s = free_[--nfree_];
    const std::size_t b = bucket_of(line);
    slot_[s] = Slot{line, ready, next_issue_++, chain_[b]};
    chain_[b] = s;
    // Arrival times come nearly in issue order: the new key goes in from the tail.
    order_.insert_from_tail(live_, ready.value() << 8 | s);
    ++live_;
  }
  // When the earliest-issued prefetch of line-aligned `line` still on its way at `now` arrives, or 0 if none is.
  Picoseconds pending(PhysAddr line, Picoseconds now) const {
    std::uint64_t best_issue = ~0ull;
    Picoseconds best(0);
    for (std::uint32_t s = chain_[bucket_of(line)]; s != kNone; s = slot_[s].next) {
      const Slot& e = slot_[s];
      if (e.line == line && e.ready > now && e.issue < best_issue) {
        best_issue = e.issue;
        best = e.ready;
      }
    }
    return best;
  }
  std::uint32_t size() const { return live_; }
  void clear();

 private:
  static constexpr std::size_t kBuckets = 64;
  static constexpr std::uint32_t kNone = kMaxEntries;
  struct Slot {
    PhysAddr line = 0;
    Picoseconds ready{0};
    std::uint64_t issue = 0;     // issue order
    std::uint32_t next = kNone;  // the next slot of the bucket's chain
  };
  static std::size_t bucket_of(PhysAddr line) { return static_cast<std::size_t>(line >> 6) & (kBuckets - 1); }
  // Frees slot `s` (unchained; its place in order_ is the caller's).
  void release(std::uint32_t s) {
    std::uint32_t* link = &chain_[bucket_of(slot_[s].line)];
    while (*link != s) link = &slot_[*link].next;
    *link = slot_[s].next;
    free_[nfree_++] = s;
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void die_too_late(Picoseconds ready);
  // add() with every entry busy: the oldest-issued prefetch leaves (only when
  // more was issued than retire() offered).
  [[gnu::noinline]] void drop_oldest();

  std::uint32_t entries_, live_ = 0, nfree_ = 0;
  std::uint64_t next_issue_ = 0;
  SortedRing<std::uint64_t> order_;  // live_ keys, ascending arrival
  std::array<Slot, kMaxEntries> slot_;
  std::array<std::uint32_t, kMaxEntries> free_;  // free slots, free_[0, nfree_)
  std::array<std::uint32_t, kBuckets> chain_;    // first slot of each bucket's chain
};

struct StreamPrefetcherStats {
  std::uint64_t requests = 0;           // L2 requests observed
  std::uint64_t streams_allocated = 0;  // new page streams (a victim replaced when full)
  std::uint64_t issued = 0;             // prefetches sent below L2
  std::uint64_t redundant = 0;          // candidates already in L2
  std::uint64_t dropped = 0;            // requests of a trained stream that found every queue entry busy
  std::uint64_t throttled = 0;          // requests of a trained stream held back by a busy super queue
  std::uint64_t late = 0;               // demand accesses that waited for a prefetch in flight
  std::uint64_t late_wait_ps = 0;
};

class StreamPrefetcher {
 public:
  // Throws std::invalid_argument on zero streams, queue or train, or degree > kMaxDegree.
  explicit StreamPrefetcher(const StreamPrefetcherParams& params);

  // An L2 request at `now` for the line holding `pa`: updates its page's
  // stream and appends the lines the trained stream now wants (ahead of the
  // request, in its direction, inside the page, not requested before by this
  // stream), at most one per free queue entry; with none free the stream
  // stays where it is and the request counts as dropped. `sq_free` is the
  // number of super-queue entries free at `now` (shared with demand misses):
  // only those beyond `demand_reserve` may be used; when that leaves none the
  // request counts as throttled.
  void observe(PhysAddr pa, Picoseconds now, PrefetchCandidates& out, std::uint32_t sq_free = ~0u) {
    observe_with(pa, now, out, [sq_free] { return sq_free; });
  }
  // observe() with `sq_free()` giving the free super-queue entries, asked
  // only when a trained stream wants prefetches (not on a new page's request,
  // every request of a GUPS stream).
  template <class SqFree>
  void observe_with(PhysAddr pa, Picoseconds now, PrefetchCandidates& out, SqFree&& sq_free);

  // The most free super-queue entries observe() tells apart: an `sq_free` of
  // at least this many decides what any larger one would (degree plus
  // demand_reserve; with adaptive_distance at least `queue`).
  std::uint32_t sq_free_told_apart() const {
    const std::uint32_t room = p_.degree + p_.demand_reserve;
    return p_.adaptive_distance ? std::max(room, p_.queue) : room;
  }

  // A candidate sent below L2 at `now`, whose data arrives at `ready`; it
  // holds a queue entry until then.
  void issued(PhysAddr line, Picoseconds ready) {
    ++stats_.issued;
    in_flight_.add(line & ~(kCacheLineBytes - 1), ready);
  }
  // When a prefetch of `line` still on its way at `now` arrives, or 0 if none is.
  Picoseconds pending(PhysAddr line, Picoseconds now) const {
    return in_flight_.pending(line & ~(kCacheLineBytes - 1), now);
  }

  void count_redundant() { ++stats_.redundant; }
  void count_late(Picoseconds wait) {
    ++stats_.late;
    stats_.late_wait_ps += wait.value();
  }

  const StreamPrefetcherParams& params() const { return p_; }
  const StreamPrefetcherStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  // Forget streams and in-flight entries.
  void reset_state();
  // <prefix>.requests, .issued, .redundant, .dropped, .throttled, .late, .avg_late_wait_ns
  void dump(StatsVisitor& v, const std::string& prefix) const;

 private:
  static constexpr unsigned kPageShift = 12, kLineShift = 6;
  static constexpr int kLinesPerPage = 1 << (kPageShift - kLineShift);
  static constexpr std::uint64_t kNoPage = ~0ull;
  static constexpr std::uint32_t kNone = ~0u;  // no stream (LRU list ends), no slot
  // A stream's training (its page is in the page index: last_page_ for the latest stream).
  struct Stream {
    int last = 0;             // line index of the latest request in the page
    int frontier = 0;         // furthest line already prefetched (in the direction)
    int dir = 0;              // +1 ascending, -1 descending, 0 unknown
    std::uint32_t confidence = 0;
  };
  // Lines ahead of the demand stream with `sq_free` super-queue entries free
  // (`distance`, or with adaptive_distance distance x free / queue, at least 1).
  std::uint32_t distance_at(std::uint32_t sq_free) const {
    if (!p_.adaptive_distance) return p_.distance;
    const std::uint64_t free = std::min(sq_free, p_.queue);
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(p_.distance * free / p_.queue));
  }
  // observe() of a request to `page` (line `index`) that is not the latest
  // stream's: last_used_ becomes its page's stream, which returns true, or a
  // new stream replacing the least recently used one, which returns false
  // (a new stream has nothing to train yet).
  bool switch_stream(std::uint64_t page, int index);

  StreamPrefetcherParams p_;
  // Host bookkeeping (no simulated effect): which stream tracks a page, and
  // the streams in LRU order, so a request finds its stream or the victim
  // without scanning them all. The victim is the least recently used stream,
  // never-used streams first in index order. The page index is open
  // addressing with linear probing whose slots hold the page itself (a probe
  // reads no stream), and each stream knows its page's slot (the victim's
  // removal does not search for it): on a request to a page no stream tracks
  // (every GUPS miss) the look-up, the victim's removal and the new page's
  // insertion are a few loads each.
  struct Slot {
    std::uint64_t page = kNoPage;  // kNoPage: free
    std::uint32_t stream = kNone;
  };
  std::size_t slot_of(std::uint64_t page) const {
    return static_cast<std::size_t>((page * 0x9E3779B97F4A7C15ull) >> slot_shift_);
  }
  void touch(std::size_t stream);  // most recently used now

  std::vector<Stream> streams_;
  PrefetchesInFlight in_flight_;     // at most p_.queue entries
  std::size_t last_used_ = 0;        // stream of the latest request
  std::uint64_t last_page_ = kNoPage;  // its page
  std::vector<Slot> slots_;          // page -> stream, a power of two of them
  std::size_t slot_mask_ = 0;        // slots_.size() - 1
  unsigned slot_shift_ = 64;
  std::vector<std::uint32_t> stream_slot_;  // by stream: its page's slot, kNone before its first page
  std::vector<std::uint32_t> lru_prev_, lru_next_;  // doubly linked (kNone ends it), least recently used at lru_head_
  std::uint32_t lru_head_ = 0, lru_tail_ = 0;
  StreamPrefetcherStats stats_;
};

// observe_with() and touch() inline: the L2 streamer is trained on every L1D miss,
// and the call into another file cost about an eighth of observe()'s host
// instructions (switch_stream, another page's look-up or a new stream, stays out of line).
inline void StreamPrefetcher::touch(std::size_t stream) {
  const auto s = static_cast<std::uint32_t>(stream);
  if (s == lru_tail_) return;
  // Unlink (s is not the tail, so it has a successor).
  const std::uint32_t prev = lru_prev_[s], next = lru_next_[s];
  if (prev == kNone) lru_head_ = next;
  else lru_next_[prev] = next;
  lru_prev_[next] = prev;
  // Append as most recently used.
  lru_prev_[s] = lru_tail_;
  lru_next_[s] = kNone;
  lru_next_[lru_tail_] = s;
  lru_tail_ = s;
}

template <class SqFree>
inline void StreamPrefetcher::observe_with(PhysAddr pa, Picoseconds now, PrefetchCandidates& out, SqFree&& sq_free) {
  ++stats_.requests;
  const std::uint64_t page = pa >> kPageShift;
  const int index = static_cast<int>((pa >> kLineShift) & (kLinesPerPage - 1));
  // Most requests continue the stream of the request before.
  if (page != last_page_ && !switch_stream(page, index)) return;
  Stream* const s = &streams_[last_used_];
  touch(last_used_);
  const int step = index - s->last;
  if (step == 0) return;
  const int dir = step > 0 ? 1 : -1;
  if (dir != s->dir) {
    // A new direction (or the first step): train again from here.
    s->dir = dir;
    s->confidence = 1;
    s->frontier = index;
  } else {
    ++s->confidence;
  }
  s->last = index;
  if (s->confidence < p_.train) return;
  // The frontier never lags the demand stream.
  if ((s->frontier - index) * dir < 0) s->frontier = index;
  // (The free entries are asked once: before the distance when it adapts to them.)
  std::uint32_t free = p_.adaptive_distance ? sq_free() : 0;
  const int target = std::clamp(index + dir * static_cast<int>(distance_at(free)), 0, kLinesPerPage - 1);
  if ((target - s->frontier) * dir <= 0) return;  // far enough ahead already
  if (!p_.adaptive_distance) free = sq_free();
  const std::uint32_t own = in_flight_.retire(now);
  const std::uint32_t shared = free > p_.demand_reserve ? free - p_.demand_reserve : 0;
  const std::uint32_t room = std::min({p_.degree, own, shared});
  if (room == 0) {
    ++(own == 0 ? stats_.dropped : stats_.throttled);
    return;
  }
  const PhysAddr page_base = page << kPageShift;
  while (out.count < room && (target - s->frontier) * dir > 0) {
    s->frontier += dir;
    out.line[out.count++] = page_base + (static_cast<PhysAddr>(s->frontier) << kLineShift);
  }
}

}  // namespace numasim::hw
