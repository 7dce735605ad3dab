// Set-associative cache array (see cache.h): geometry, fills with victim
// selection, write-back bookkeeping, invalidation and statistics.
#include "hw/cache.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

CacheParams CacheParams::from_config(Config c, const CacheParams& d, bool allow_inclusive) {
  CacheParams p = d;
  p.size = c.get<Bytes>("size", d.size, "capacity", {Bytes(64), {}});
  p.ways = c.get<int>("ways", d.ways, "associativity (ways per set)", {1, 64});
  p.line = c.get<Bytes>("line", d.line, "line size (only 64B is supported)", {Bytes(64), Bytes(64)});
  p.latency = Cycles(c.get<std::uint64_t>("latency", d.latency.value(),
                                          "load-to-use latency of a hit at this level, core cycles", {1, 10000}));
  static const char* names[] = {"lru", "fifo", "random"};
  std::string r = c.get_choice("replacement", names[static_cast<int>(d.replacement)], {"lru", "fifo", "random"},
                               "replacement policy");
  p.replacement = r == "fifo" ? Replacement::Fifo : r == "random" ? Replacement::Random : Replacement::Lru;
  if (p.replacement == Replacement::Random)
    p.seed = c.get<std::uint64_t>("seed", d.seed, "seed of the random replacement policy");
  if (allow_inclusive)
    p.inclusive = c.get<bool>("inclusive", d.inclusive, "inclusive of the private caches (back-invalidation)");
  const std::uint64_t lines = p.size.value() / kCacheLineBytes;
  if (p.ways >= 1 && (p.size.value() % kCacheLineBytes != 0 || lines % static_cast<std::uint64_t>(p.ways) != 0))
    c.error("size", "size " + format_size(p.size) + " is not a whole number of sets of " + std::to_string(p.ways) +
                        " ways of 64B lines");
  return p;
}

CacheArray::CacheArray(const CacheParams& params, std::string name)
    : params_(params), name_(std::move(name)), replacement_(params.replacement), rng_(params.seed | 1) {
  if (params.line.value() != kCacheLineBytes)
    throw std::invalid_argument(name_ + ": line size must be 64 B, got " + std::to_string(params.line.value()));
  if (params.ways < 1) throw std::invalid_argument(name_ + ": ways must be >= 1");
  const std::uint64_t lines = params.size.value() / kCacheLineBytes;
  const auto ways = static_cast<std::uint64_t>(params.ways);
  if (lines == 0 || params.size.value() % kCacheLineBytes != 0 || lines % ways != 0)
    throw std::invalid_argument(name_ + ": size " + std::to_string(params.size.value()) +
                                " B is not a whole number of sets of " + std::to_string(params.ways) +
                                " ways of 64 B lines");
  ways_ = static_cast<std::size_t>(ways);
  sets_ = static_cast<std::size_t>(lines / ways);
  pow2_sets_ = (sets_ & (sets_ - 1)) == 0;
  set_mask_ = sets_ - 1;
  ways_data_.assign(sets_ * ways_, Way{});
}

long CacheArray::find(std::uint64_t line) const {
  const std::size_t base = set_of(line) * ways_;
  for (std::size_t w = 0; w < ways_; ++w)
    if (ways_data_[base + w].tag == line) return static_cast<long>(base + w);
  return -1;
}

LineState CacheArray::state(PhysAddr pa) const {
  long i = find(pa >> kLineShift);
  return i < 0 ? LineState::Invalid : ways_data_[static_cast<std::size_t>(i)].state;
}

LineState CacheArray::set_state(PhysAddr pa, LineState st) {
  long i = find(pa >> kLineShift);
  if (i < 0) return LineState::Invalid;
  Way& w = ways_data_[static_cast<std::size_t>(i)];
  const LineState old = w.state;
  w.state = st;
  return old;
}

std::uint64_t CacheArray::next_random() {
  // xorshift64*: deterministic per seed.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1Dull;
}

Eviction CacheArray::fill(PhysAddr pa, LineState st) {
  const std::uint64_t line = pa >> kLineShift;
  Way* set = &ways_data_[set_of(line) * ways_];
  std::size_t victim = ways_;
  for (std::size_t w = 0; w < ways_; ++w) {
    if (set[w].tag == line) {
      // Already present (caller raced a fill): just update state.
      if (st == LineState::Modified) set[w].state = st;
      return {};
    }
    if (victim == ways_ && set[w].tag == kInvalidTag) victim = w;
  }
  Eviction ev;
  if (victim == ways_) {
    if (replacement_ == Replacement::Random) {
      victim = static_cast<std::size_t>(next_random() % ways_);
    } else {
      victim = 0;
      for (std::size_t w = 1; w < ways_; ++w)
        if (set[w].stamp < set[victim].stamp) victim = w;
    }
    ev.valid = true;
    ev.dirty = set[victim].state == LineState::Modified;
    ev.addr = set[victim].tag << kLineShift;
    ++stats_.evictions;
    if (ev.dirty) ++stats_.dirty_evictions;
  }
  set[victim].tag = line;
  set[victim].state = st;
  set[victim].stamp = ++clock_;
  ++stats_.fills;
  return ev;
}

bool CacheArray::write_back_into(PhysAddr pa) {
  long i = find(pa >> kLineShift);
  if (i < 0) return false;
  Way& w = ways_data_[static_cast<std::size_t>(i)];
  w.state = LineState::Modified;
  if (replacement_ == Replacement::Lru) w.stamp = ++clock_;
  ++stats_.writebacks_received;
  return true;
}

Eviction CacheArray::invalidate(PhysAddr pa) {
  long i = find(pa >> kLineShift);
  if (i < 0) return {};
  Way& w = ways_data_[static_cast<std::size_t>(i)];
  Eviction ev{true, w.state == LineState::Modified, w.tag << kLineShift};
  w = Way{};
  ++stats_.invalidations;
  return ev;
}

void CacheArray::clear() { std::fill(ways_data_.begin(), ways_data_.end(), Way{}); }

std::vector<PhysAddr> CacheArray::set_contents(std::size_t set) const {
  std::vector<std::size_t> idx;
  for (std::size_t w = 0; w < ways_; ++w)
    if (ways_data_[set * ways_ + w].tag != kInvalidTag) idx.push_back(set * ways_ + w);
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return ways_data_[a].stamp > ways_data_[b].stamp; });
  std::vector<PhysAddr> out;
  for (std::size_t i : idx) out.push_back(ways_data_[i].tag << kLineShift);
  return out;
}

void CacheArray::dump(StatsVisitor& v) const {
  const std::string& n = name_;
  const auto& s = stats_;
  v.counter(n + ".read_hits", s.read_hits, "count", "demand reads that hit");
  v.counter(n + ".read_misses", s.read_misses, "count", "demand reads that missed");
  v.counter(n + ".write_hits", s.write_hits, "count", "demand writes that hit");
  v.counter(n + ".write_misses", s.write_misses, "count", "demand writes that missed (write-allocate)");
  v.counter(n + ".fills", s.fills, "count", "lines installed");
  v.counter(n + ".evictions", s.evictions, "count", "valid lines replaced");
  v.counter(n + ".dirty_evictions", s.dirty_evictions, "count", "modified lines replaced (written back)");
  v.counter(n + ".writebacks_received", s.writebacks_received, "count",
            "dirty lines written back into this level from above");
  v.counter(n + ".invalidations", s.invalidations, "count", "lines removed by invalidation");
  v.counter(n + ".upgrades", s.upgrades, "count", "writes that found the line Shared (ownership requested)");
  const double hits = static_cast<double>(s.read_hits + s.write_hits);
  const double misses = static_cast<double>(s.read_misses + s.write_misses);
  v.formula(n + ".miss_ratio", safe_ratio(misses, hits + misses), "ratio", "demand misses / demand accesses");
}

}  // namespace numasim::hw
