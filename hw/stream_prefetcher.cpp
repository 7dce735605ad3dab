// L2 stream prefetcher (see stream_prefetcher.h): per-page stream training,
// the prefetch frontier and the superqueue entries of prefetches in flight.
#include "hw/stream_prefetcher.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

StreamPrefetcherParams StreamPrefetcherParams::from_config(Config c) {
  StreamPrefetcherParams d;
  StreamPrefetcherParams p;
  p.enabled = c.get<bool>("enabled", d.enabled, "prefetch ahead of ascending/descending line streams in a 4 KiB page");
  p.streams = c.get<unsigned>("streams", d.streams, "pages tracked at once", {1u, 256u});
  p.distance = c.get<unsigned>("distance", d.distance, "lines ahead of the demand stream", {1u, 63u});
  p.degree = c.get<unsigned>("degree", d.degree, "prefetches per L2 request of a trained stream", {1u, kMaxDegree});
  p.queue = c.get<unsigned>("queue", d.queue, "superqueue entries prefetches may hold (dropped when all are busy)",
                            {1u, 256u});
  p.train = c.get<unsigned>("train", d.train, "requests in one direction before a stream prefetches", {1u, 64u});
  p.demand_reserve = c.get<unsigned>("demand_reserve", d.demand_reserve,
                                     "super-queue entries the streamer leaves free for demand misses", {0u, 255u});
  p.adaptive_distance =
      c.get<bool>("adaptive_distance", d.adaptive_distance,
                  "scale the distance by the free share of the super queue (less far ahead when many requests are "
                  "outstanding, as Intel's optimization manual describes the L2 streamer)");
  return p;
}

PrefetchesInFlight::PrefetchesInFlight(std::uint32_t entries) : entries_(entries) {
  if (entries == 0 || entries > kMaxEntries)
    throw std::invalid_argument("prefetches in flight: entries must be 1.." + std::to_string(kMaxEntries));
  clear();
}

void PrefetchesInFlight::clear() {
  live_ = 0;
  order_.reset(0);
  nfree_ = entries_;
  for (std::uint32_t i = 0; i < entries_; ++i) free_[i] = entries_ - 1 - i;  // slot 0 first
  chain_.fill(kNone);
}

void PrefetchesInFlight::die_too_late(Picoseconds ready) {
  std::fprintf(
      stderr,
      "numasim: internal error: a prefetch arriving at %llu ps is beyond the in-flight queue's reach (2^56 ps)\n",
      static_cast<unsigned long long>(ready.value()));
  std::abort();
}

void PrefetchesInFlight::drop_oldest() {
  std::uint32_t oldest = 0;
  for (std::uint32_t i = 1; i < live_; ++i)
    if (slot_[order_.at(i) & 0xff].issue < slot_[order_.at(oldest) & 0xff].issue) oldest = i;
  release(static_cast<std::uint32_t>(order_.at(oldest) & 0xff));
  order_.erase(live_, oldest);
  --live_;
}

StreamPrefetcher::StreamPrefetcher(const StreamPrefetcherParams& params)
    : p_(params), in_flight_(std::clamp(params.queue, 1u, PrefetchesInFlight::kMaxEntries)) {
  if (p_.streams == 0 || p_.queue == 0 || p_.train == 0 || p_.distance == 0)
    throw std::invalid_argument("stream prefetcher: streams, queue, train and distance must be positive");
  if (p_.degree == 0 || p_.degree > StreamPrefetcherParams::kMaxDegree)
    throw std::invalid_argument("stream prefetcher: degree must be 1.." +
                                std::to_string(StreamPrefetcherParams::kMaxDegree));
  if (p_.queue > PrefetchesInFlight::kMaxEntries)
    throw std::invalid_argument("stream prefetcher: queue must be 1.." +
                                std::to_string(PrefetchesInFlight::kMaxEntries));
  streams_.resize(p_.streams);
  // Eight slots per stream (256 for Intel's 32 streams, 4 KiB): a probe
  // nearly always ends at its first slot, so a new page's look-up and its
  // victim's removal seldom loop (at two slots per stream, GUPS, a new page
  // per request, paid a mispredicted probe or shift loop on most requests).
  std::size_t slots = 4;
  slot_shift_ = 62;
  while (slots < 8 * static_cast<std::size_t>(p_.streams)) {
    slots *= 2;
    --slot_shift_;
  }
  slots_.assign(slots, Slot{});
  slot_mask_ = slots - 1;
  stream_slot_.resize(p_.streams);
  lru_prev_.resize(p_.streams);
  lru_next_.resize(p_.streams);
  reset_state();
}

void StreamPrefetcher::reset_state() {
  std::fill(streams_.begin(), streams_.end(), Stream{});
  in_flight_.clear();
  last_used_ = 0;
  last_page_ = kNoPage;
  std::fill(slots_.begin(), slots_.end(), Slot{});
  std::fill(stream_slot_.begin(), stream_slot_.end(), kNone);
  const auto n = static_cast<std::uint32_t>(streams_.size());
  for (std::uint32_t i = 0; i < n; ++i) {
    lru_prev_[i] = i == 0 ? kNone : i - 1;
    lru_next_[i] = i + 1 < n ? i + 1 : kNone;
  }
  lru_head_ = 0;
  lru_tail_ = n - 1;
}

bool StreamPrefetcher::switch_stream(std::uint64_t page, int index) {
  Slot* const t = slots_.data();
  const std::size_t mask = slot_mask_;
  const std::size_t home = slot_of(page);
  std::size_t free = home;
  for (; t[free].page != kNoPage; free = (free + 1) & mask) {
    if (t[free].page == page) {
      last_used_ = t[free].stream;
      last_page_ = page;
      return true;
    }
  }
  // A new page: it replaces the least recently used stream.
  ++stats_.streams_allocated;
  const std::uint32_t victim = lru_head_;
  const std::uint32_t old = stream_slot_[victim];
  if (old != kNone) {
    // The victim's page leaves (backward-shift deletion: later entries of its
    // probe run move into the hole unless that would put them before their home).
    std::size_t hole = old;
    for (std::size_t j = (hole + 1) & mask; t[j].page != kNoPage; j = (j + 1) & mask) {
      if (((j - slot_of(t[j].page)) & mask) >= ((j - hole) & mask)) {
        t[hole] = t[j];
        stream_slot_[t[hole].stream] = static_cast<std::uint32_t>(hole);
        hole = j;
      }
    }
    t[hole].page = kNoPage;
    // The one slot that became free: the new page's first free slot if it
    // lies on its probe run, before the free slot the look-up ended at.
    if (((hole - home) & mask) < ((free - home) & mask)) free = hole;
  }
  t[free] = Slot{page, victim};
  stream_slot_[victim] = static_cast<std::uint32_t>(free);
  streams_[victim] = Stream{index, index, 0, 0};
  touch(victim);
  last_used_ = victim;
  last_page_ = page;
  return false;
}

void StreamPrefetcher::dump(StatsVisitor& v, const std::string& prefix) const {
  const StreamPrefetcherStats& s = stats_;
  v.counter(prefix + ".requests", s.requests, "count", "L2 requests (L1D misses) observed");
  v.counter(prefix + ".streams_allocated", s.streams_allocated, "count", "page streams started");
  v.counter(prefix + ".issued", s.issued, "count", "prefetches sent below L2");
  v.counter(prefix + ".redundant", s.redundant, "count", "prefetch candidates already in L2");
  v.counter(prefix + ".dropped", s.dropped, "count", "trained-stream requests that found every queue entry busy");
  v.counter(prefix + ".throttled", s.throttled, "count",
            "trained-stream requests held back because the super queue was (nearly) full of demand misses");
  v.counter(prefix + ".late", s.late, "count", "demand accesses that waited for a prefetch in flight");
  v.formula(prefix + ".avg_late_wait_ns",
            safe_ratio(static_cast<double>(s.late_wait_ps), static_cast<double>(s.late)) / 1000.0, "ns",
            "mean wait of a demand access for its late prefetch");
}

}  // namespace numasim::hw
