// L2 stream prefetcher (see stream_prefetcher.h): per-page stream training,
// the prefetch frontier and the superqueue entries of prefetches in flight.
#include "hw/stream_prefetcher.h"

#include <algorithm>
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
  return p;
}

StreamPrefetcher::StreamPrefetcher(const StreamPrefetcherParams& params) : p_(params) {
  if (p_.streams == 0 || p_.queue == 0 || p_.train == 0 || p_.distance == 0)
    throw std::invalid_argument("stream prefetcher: streams, queue, train and distance must be positive");
  if (p_.degree == 0 || p_.degree > StreamPrefetcherParams::kMaxDegree)
    throw std::invalid_argument("stream prefetcher: degree must be 1.." +
                                std::to_string(StreamPrefetcherParams::kMaxDegree));
  streams_.resize(p_.streams);
  in_flight_.reserve(p_.queue);
}

void StreamPrefetcher::reset_state() {
  std::fill(streams_.begin(), streams_.end(), Stream{});
  in_flight_.clear();
  clock_ = 0;
  last_used_ = 0;
}

void StreamPrefetcher::observe(PhysAddr pa, Picoseconds now, PrefetchCandidates& out) {
  ++stats_.requests;
  const std::uint64_t page = pa >> kPageShift;
  const int index = static_cast<int>((pa >> kLineShift) & (kLinesPerPage - 1));
  // Most requests continue the stream of the request before.
  Stream* s = streams_[last_used_].page == page ? &streams_[last_used_] : nullptr;
  if (!s) {
    std::size_t victim = 0;
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      if (streams_[i].page == page) {
        s = &streams_[i];
        last_used_ = i;
        break;
      }
      if (streams_[i].stamp < streams_[victim].stamp) victim = i;
    }
    if (!s) {
      ++stats_.streams_allocated;
      streams_[victim] = Stream{page, ++clock_, index, index, 0, 0};
      last_used_ = victim;
      return;
    }
  }
  s->stamp = ++clock_;
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
  const int target = std::clamp(index + dir * static_cast<int>(p_.distance), 0, kLinesPerPage - 1);
  if ((target - s->frontier) * dir <= 0) return;  // far enough ahead already
  const std::uint32_t room = std::min(p_.degree, free_entries(now));
  if (room == 0) {
    ++stats_.dropped;
    return;
  }
  const PhysAddr page_base = page << kPageShift;
  while (out.count < room && (target - s->frontier) * dir > 0) {
    s->frontier += dir;
    out.line[out.count++] = page_base + (static_cast<PhysAddr>(s->frontier) << kLineShift);
  }
}

std::uint32_t StreamPrefetcher::free_entries(Picoseconds now) {
  std::erase_if(in_flight_, [now](const InFlight& f) { return f.ready <= now; });
  return p_.queue - static_cast<std::uint32_t>(in_flight_.size());
}

void StreamPrefetcher::issued(PhysAddr line, Picoseconds ready) {
  ++stats_.issued;
  if (in_flight_.size() >= p_.queue) in_flight_.erase(in_flight_.begin());  // only more than observe() offered
  in_flight_.push_back({line & ~(kCacheLineBytes - 1), ready});
}

Picoseconds StreamPrefetcher::pending(PhysAddr line, Picoseconds now) const {
  const PhysAddr l = line & ~(kCacheLineBytes - 1);
  for (const InFlight& f : in_flight_)
    if (f.line == l && f.ready > now) return f.ready;
  return Picoseconds(0);
}

void StreamPrefetcher::dump(StatsVisitor& v, const std::string& prefix) const {
  const StreamPrefetcherStats& s = stats_;
  v.counter(prefix + ".requests", s.requests, "count", "L2 requests (L1D misses) observed");
  v.counter(prefix + ".streams_allocated", s.streams_allocated, "count", "page streams started");
  v.counter(prefix + ".issued", s.issued, "count", "prefetches sent below L2");
  v.counter(prefix + ".redundant", s.redundant, "count", "prefetch candidates already in L2");
  v.counter(prefix + ".dropped", s.dropped, "count", "trained-stream requests that found every queue entry busy");
  v.counter(prefix + ".late", s.late, "count", "demand accesses that waited for a prefetch in flight");
  v.formula(prefix + ".avg_late_wait_ns",
            safe_ratio(static_cast<double>(s.late_wait_ps), static_cast<double>(s.late)) / 1000.0, "ns",
            "mean wait of a demand access for its late prefetch");
}

}  // namespace numasim::hw
