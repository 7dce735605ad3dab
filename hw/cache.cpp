// Set-associative cache array (see cache.h): geometry, fills with victim
// selection, write-back bookkeeping, invalidation and statistics.
#include "hw/cache.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>

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
  if (params.ways < 1 || params.ways > 64) throw std::invalid_argument(name_ + ": ways must be 1..64");
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
  sets_div_ = FastDivider(sets_);
  while ((std::uint64_t{1} << set_shift_) < sets_) ++set_shift_;
  block_shift_ = block_shift_for(ways_);
  data_.assign((sets_ << block_shift_) + 32, 0);
  const auto addr = reinterpret_cast<std::uintptr_t>(data_.data());
  blocks_ = data_.data() + ((128 - addr % 128) % 128) / sizeof(std::uint32_t);
  clear();
}

LineState CacheArray::state(PhysAddr pa) const {
  const std::uint32_t* tag = find(pa >> kLineShift);
  return tag ? state_of(tag[ways_]) : LineState::Invalid;
}

LineState CacheArray::set_state(PhysAddr pa, LineState st) {
  std::uint32_t* tag = find(pa >> kLineShift);
  if (!tag) return LineState::Invalid;
  std::uint32_t& meta = tag[ways_];
  const LineState old = state_of(meta);
  meta = (meta & ~kStateMask) | static_cast<std::uint32_t>(st);
  return old;
}

std::uint64_t CacheArray::next_random() {
  // xorshift64*: deterministic per seed.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1Dull;
}

void CacheArray::renumber_stamps() {
  std::vector<std::pair<std::uint32_t, std::size_t>> order;
  for (std::size_t s = 0; s < sets_; ++s) {
    std::uint32_t* meta = set_block(s) + ways_;
    order.clear();
    for (std::size_t w = 0; w < ways_; ++w)
      if (meta[w] != 0) order.emplace_back(stamp_of(meta[w]), w);
    std::sort(order.begin(), order.end());
    for (std::size_t r = 0; r < order.size(); ++r) {
      std::uint32_t& m = meta[order[r].second];
      m = (static_cast<std::uint32_t>(r + 1) << kStateBits) | (m & kStateMask);
    }
  }
  clock_ = static_cast<std::uint32_t>(ways_);
  ++renumberings_;
}

namespace {
// Whether any of the W words is in [1, limit] (a valid line, word 0 being an
// invalid way's, used before the threshold): one unsigned compare per way.
template <std::size_t W>
[[gnu::always_inline]] inline bool any_below(const std::uint32_t* meta, std::size_t ways, std::uint32_t limit) {
  const std::size_t n = W ? W : ways;
  std::size_t w = 0;
#if defined(__x86_64__)
  // SSE2 (x86-64's baseline) compares signed words: both sides biased by 2^31.
  const __m128i bias = _mm_set1_epi32(INT32_MIN), one = _mm_set1_epi32(1);
  const __m128i lim = _mm_xor_si128(_mm_set1_epi32(static_cast<int>(limit)), bias);
  __m128i acc = _mm_setzero_si128();
  for (; w + 4 <= n; w += 4) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + w));
    acc = _mm_or_si128(acc, _mm_cmplt_epi32(_mm_xor_si128(_mm_sub_epi32(v, one), bias), lim));
  }
  if (_mm_movemask_epi8(acc) != 0) return true;
#endif
  std::uint32_t any = 0;
  for (; w < n; ++w) any |= static_cast<std::uint32_t>(meta[w] - 1u < limit);
  return any != 0;
}

#if defined(__x86_64__)
// The same by SSE4.1's unsigned minimum (call only when the host has it): the
// least of the words minus one against limit - 1, one compare for the set
// instead of a biased compare per group (age_out's test of every set it
// sweeps, nearly always false).
template <std::size_t W>
__attribute__((target("sse4.1"))) inline bool any_below_sse41(const std::uint32_t* meta, std::size_t ways,
                                                              std::uint32_t limit) {
  const std::size_t n = W ? W : ways;
  std::size_t w = 0;
  if (n >= 4) {
    const __m128i one = _mm_set1_epi32(1);
    __m128i least = _mm_sub_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(meta)), one);
    for (w = 4; w + 4 <= n; w += 4)
      least = _mm_min_epu32(least, _mm_sub_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + w)), one));
    // (limit >= 1: word 1 is the least stamp's; an invalid way's 0 - 1 is the largest word.)
    const __m128i below = _mm_set1_epi32(static_cast<int>(limit - 1));
    if (_mm_movemask_epi8(_mm_cmpeq_epi32(_mm_min_epu32(least, below), least)) != 0) return true;
  }
  std::uint32_t any = 0;
  for (; w < n; ++w) any |= static_cast<std::uint32_t>(meta[w] - 1u < limit);
  return any != 0;
}
#endif
}  // namespace

template <std::size_t W, bool Sse41>
std::size_t CacheArray::age_out_ways(std::size_t first, std::size_t n, std::uint32_t stamp, PhysAddr* dirty,
                                     std::size_t& ndirty) {
  const std::size_t ways = W ? W : ways_;
  std::size_t s = first % sets_;
  if (stamp == 0) return (s + n) % sets_;  // nothing was used before the clock's start
  // A valid word below stamp << kStateBits is a line used before `stamp`.
  const std::uint32_t limit = (stamp << kStateBits) - 1u;
  // The sets in runs up to the last set, a set block after the other (a set
  // with no such line, the rule, costs its compares and a pointer step: the
  // block's address and the wrap were each set's instructions too).
  std::uint32_t* const blocks = blocks_;
  const unsigned block_shift = block_shift_;
  const std::size_t stride = std::size_t{1} << block_shift;
  for (std::size_t left = n; left != 0;) {
    const std::size_t run = std::min(left, sets_ - s);
    std::uint32_t* const end = blocks + ((s + run) << block_shift);
    for (std::uint32_t* set = blocks + (s << block_shift); set != end; set += stride) {
      std::uint32_t* meta = set + ways;
      bool any;
#if defined(__x86_64__)
      if constexpr (Sse41)
        any = any_below_sse41<W>(meta, ways, limit);
      else
#endif
        any = any_below<W>(meta, ways, limit);
      if (!any) [[likely]]
        continue;
      for (std::size_t w = 0; w < ways; ++w) {
        if (meta[w] - 1u >= limit) continue;  // invalid, or used since
        std::uint64_t line;
        if (evict_way(set, ways, w, line)) dirty[ndirty++] = line << kLineShift;
      }
    }
    left -= run;
    s += run;
    if (s == sets_) s = 0;
  }
  return s;
}

template <bool Sse41>
std::size_t CacheArray::age_out_runs(std::size_t first, std::size_t n, std::uint32_t stamp, PhysAddr* dirty,
                                     std::size_t& ndirty) {
  // A copy per usual way count, chosen once (not per set).
  switch (ways_) {
    case 8: return age_out_ways<8, Sse41>(first, n, stamp, dirty, ndirty);
    case 11: return age_out_ways<11, Sse41>(first, n, stamp, dirty, ndirty);
    case 16: return age_out_ways<16, Sse41>(first, n, stamp, dirty, ndirty);
    default: return age_out_ways<0, Sse41>(first, n, stamp, dirty, ndirty);
  }
}

#if defined(__x86_64__)
std::size_t CacheArray::age_out_sse41(std::size_t first, std::size_t n, std::uint32_t stamp, PhysAddr* dirty,
                                      std::size_t& ndirty) {
  return age_out_runs<true>(first, n, stamp, dirty, ndirty);
}
#endif

std::size_t CacheArray::age_out(std::size_t first, std::size_t n, std::uint32_t stamp, PhysAddr* dirty,
                                std::size_t& ndirty) {
#if defined(__x86_64__)
  if (sse41_in_use) return age_out_sse41(first, n, stamp, dirty, ndirty);
#endif
  return age_out_runs<false>(first, n, stamp, dirty, ndirty);
}

Eviction CacheArray::fill(PhysAddr pa, LineState st, bool count_dirty_victim) {
  return fill_inline(pa, st, count_dirty_victim);
}

void CacheArray::die_untaggable(std::uint64_t line) const {
  std::fprintf(stderr, "numasim: internal error: %s cannot hold physical address 0x%llx (32-bit tags)\n",
               name_.c_str(), static_cast<unsigned long long>(line << kLineShift));
  std::abort();
}

template <std::size_t W, bool Pow2, bool CountedAbove, bool DirtyOnly, bool Sse41, bool Pages>
std::size_t CacheArray::write_back_or_fill_run(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                               PhysAddr* dirty, std::uint8_t* from) {
  // write_back_or_fill and install() with the members read once: stores into
  // the sets and counts (32-bit) and the statistics (64-bit) would otherwise
  // make the compiler read the clock and the geometry again at every use.
  const std::size_t ways = W ? W : ways_;
  std::uint32_t* const blocks = blocks_;
  const unsigned block_shift = W ? block_shift_for(W) : block_shift_;  // (a constant: one register fewer)
  const std::uint64_t sets = sets_;
  const Splitter split = splitter();
  std::uint32_t* const counts = region_counts_;
  const std::size_t regions = counts ? regions_ : 0;  // no region is counted without counts
  const unsigned region_shift = region_line_shift_;
  std::uint32_t* const page_counts = page_counts_;
  const std::size_t pages = Pages && page_counts ? pages_ : 0;  // (!Pages: no page is counted, a constant)
  const bool lru = replacement_ == Replacement::Lru;
  std::uint32_t clock = clock_;  // the caller checked that it does not reach the stamp limit
  // (fills and evictions are told at the end by the lines received and the
  // fills into an invalid way: two counts fewer in the loop.)
  std::uint64_t received = 0, into_invalid = 0, dirty_evictions = 0;
  std::size_t kept = 0;  // DirtyOnly: the dirty victims so far
  // Sets by a divider: a line after the previous one (the rule: victims of a
  // clear are mostly an older page's lines in order) is in the next set with
  // the same tag unless that set is past the last; no division for it.
  std::uint64_t prev = ~std::uint64_t{0} - 1;
  std::size_t s = 0;
  std::uint32_t tag = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t line = lines[i] >> kLineShift;
    if (Pow2 || line != prev + 1 || s + 1 == sets)
      tag = split.split<Pow2>(line, s);
    else
      ++s;
    prev = line;
    std::uint32_t* const set = blocks + (s << block_shift);
    std::uint32_t* const meta = set + ways;
    Eviction ev;
    std::size_t victim;
    std::uint32_t least;
    const std::size_t present = scan_ways<W, Sse41>(set, tag, victim, least);
    if (present < ways) {
      const std::uint32_t stamp = lru ? ++clock << kStateBits : meta[present] & ~kStateMask;
      meta[present] = stamp | static_cast<std::uint32_t>(LineState::Modified);
      ++received;
      if constexpr (CountedAbove) {  // the level above's count goes
        if ((line >> region_shift) < regions) --counts[line >> region_shift];
        if ((line >> kPageLineShift) < pages) [[unlikely]]
          --page_counts[line >> kPageLineShift];
      }
      if constexpr (!DirtyOnly) victims[i] = ev;
      continue;
    }
    if (tag == kInvalidTag) [[unlikely]]
      die_untaggable(line);
    if (least != 0) {  // no invalid way: replace one (not Random: the caller checked)
      const bool was_dirty = state_of(meta[victim]) == LineState::Modified;
      const std::uint64_t old = static_cast<std::uint64_t>(set[victim]) * sets + s;
      if ((old >> region_shift) < regions) --counts[old >> region_shift];
      if ((old >> kPageLineShift) < pages) [[unlikely]]
        --page_counts[old >> kPageLineShift];
      if constexpr (DirtyOnly) {
        // Written at kept always (a clean victim's is overwritten by the next
        // one, or lies past the returned count), kept only when dirty: no
        // Eviction record, no dirty count (it is kept's, added at the end).
        // (kept <= i: lines[i] is read already when dirty aliases lines.)
        dirty[kept] = old << kLineShift;
        from[kept] = from[i];
        kept += was_dirty;
      } else {
        ev.valid = true;
        ev.dirty = was_dirty;
        ev.addr = old << kLineShift;
        dirty_evictions += was_dirty;
      }
    } else {
      ++into_invalid;
    }
    set[victim] = tag;
    if constexpr (!CountedAbove) {  // (else the level above's count stays as this array's)
      if ((line >> region_shift) < regions) ++counts[line >> region_shift];
      if ((line >> kPageLineShift) < pages) [[unlikely]]
        ++page_counts[line >> kPageLineShift];
    }
    meta[victim] = (++clock << kStateBits) | static_cast<std::uint32_t>(LineState::Modified);
    if constexpr (!DirtyOnly) victims[i] = ev;
  }
  if constexpr (DirtyOnly) dirty_evictions = kept;  // the victims kept are the dirty ones
  clock_ = clock;
  stats_.writebacks_received += received;
  stats_.fills += n - received;
  stats_.evictions += n - received - into_invalid;
  stats_.dirty_evictions += dirty_evictions;
  return kept;
}

template <bool CountedAbove, bool DirtyOnly, bool Sse41>
std::size_t CacheArray::write_back_or_fill_runs(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                                PhysAddr* dirty, std::uint8_t* from) {
  // The shipped geometries: L1D 8 ways and L2 16 ways of 2^k sets, LLC 11 or 12 ways of other set counts.
  // (L2's 16 ways and the LLC's 11 also without page counts: an exact clear's arrays.)
  constexpr bool C = CountedAbove, D = DirtyOnly, S = Sse41;
  const bool pages = page_counts_ != nullptr;
  if (pow2_sets_) {
    if (ways_ == 8) return write_back_or_fill_run<8, true, C, D, S, true>(lines, n, victims, dirty, from);
    if (ways_ == 16 && pages) return write_back_or_fill_run<16, true, C, D, S, true>(lines, n, victims, dirty, from);
    if (ways_ == 16) return write_back_or_fill_run<16, true, C, D, S, false>(lines, n, victims, dirty, from);
    return write_back_or_fill_run<0, true, C, D, S, true>(lines, n, victims, dirty, from);
  }
  if (ways_ == 11 && pages) return write_back_or_fill_run<11, false, C, D, S, true>(lines, n, victims, dirty, from);
  if (ways_ == 11) return write_back_or_fill_run<11, false, C, D, S, false>(lines, n, victims, dirty, from);
  if (ways_ == 12) return write_back_or_fill_run<12, false, C, D, S, true>(lines, n, victims, dirty, from);
  return write_back_or_fill_run<0, false, C, D, S, true>(lines, n, victims, dirty, from);
}

template <bool Sse41>
std::size_t CacheArray::write_back_or_fill_by_kind(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                                   PhysAddr* dirty, std::uint8_t* from, bool counted_above) {
  constexpr bool S = Sse41;
  if (dirty == nullptr && counted_above) return write_back_or_fill_runs<true, false, S>(lines, n, victims, dirty, from);
  if (dirty == nullptr) return write_back_or_fill_runs<false, false, S>(lines, n, victims, dirty, from);
  if (counted_above) return write_back_or_fill_runs<true, true, S>(lines, n, victims, dirty, from);
  return write_back_or_fill_runs<false, true, S>(lines, n, victims, dirty, from);
}

#if defined(__x86_64__)
std::size_t CacheArray::write_back_or_fill_lines_sse41(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                                       PhysAddr* dirty, std::uint8_t* from, bool counted_above) {
  return write_back_or_fill_by_kind<true>(lines, n, victims, dirty, from, counted_above);
}
#endif

std::size_t CacheArray::write_back_or_fill_batch(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                                 PhysAddr* dirty, std::uint8_t* from, bool counted_above) {
  if (replacement_ == Replacement::Random || clock_ >= stamp_limit_ || stamp_limit_ - clock_ < n) {
    // A victim drawn at random, or stamps to renumber on the way: one line at a time.
    std::size_t kept = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bool received;
      const Eviction ev = write_back_or_fill(lines[i], received);
      // Received: the level above's count goes; allocated: this array counted it in again.
      if (counted_above) count_out(lines[i] >> kLineShift);
      if (dirty == nullptr) {
        victims[i] = ev;
      } else if (ev.valid && ev.dirty) {
        from[kept] = from[i];
        dirty[kept++] = ev.addr;
      }
    }
    return kept;
  }
#if defined(__x86_64__)
  if (sse41_in_use) return write_back_or_fill_lines_sse41(lines, n, victims, dirty, from, counted_above);
#endif
  return write_back_or_fill_by_kind<false>(lines, n, victims, dirty, from, counted_above);
}

void CacheArray::write_back_or_fill_lines(const PhysAddr* lines, std::size_t n, Eviction* victims,
                                          bool counted_above) {
  write_back_or_fill_batch(lines, n, victims, nullptr, nullptr, counted_above);
}

std::size_t CacheArray::write_back_or_fill_lines(PhysAddr* lines, std::uint8_t* from, std::size_t n,
                                                 bool counted_above) {
  return write_back_or_fill_batch(lines, n, nullptr, lines, from, counted_above);
}

template <std::size_t W, bool Sse41>
std::size_t CacheArray::write_back_or_fill_page_run(PhysAddr page, std::uint64_t mask, PhysAddr* dirty,
                                                    std::uint8_t* from) {
  // The rules of write_back_or_fill_run (received: stamped Modified; absent:
  // installed over the least word, a dirty victim kept), line after line in
  // the page's order; what differs is how a line's set is found. Line i is in
  // set s0 + i with s0's quotient, or, past the last set, in set s0 + i - sets
  // with the next quotient (the caller checked: at least 64 sets, both
  // quotients taggable). The members are read once (a store through from[]
  // may alias any of them), and the dirty victims go to buffers on the stack
  // first, copied out at the end: a store through the caller's `dirty` (64-bit)
  // or `from` (bytes) made GCC read ways_ and sse41_in_use again for every
  // line (scan_ways' result, the victim search's dispatch).
  constexpr std::size_t kPageLines = std::size_t{1} << kPageLineShift;
  PhysAddr dirty_buf[kPageLines];
  std::uint8_t from_buf[kPageLines];
  const std::size_t ways = W ? W : ways_;
  const std::uint64_t first = page >> kLineShift;
  std::size_t s0;
  std::uint64_t q0;
  split(first, s0, q0);
  std::uint32_t* const blocks = blocks_;
  const unsigned block_shift = W ? block_shift_for(W) : block_shift_;
  const std::size_t sets = sets_;
  // count_regions' and count_pages' counts (none: 0 of them), n added to a line's.
  struct Counts {
    std::uint32_t* region;
    std::size_t regions;
    unsigned shift;  // line number to region
    std::uint32_t* page;
    std::size_t pages;
    void add_region(std::uint64_t line, std::uint32_t n) const {
      if ((line >> shift) < regions) region[line >> shift] += n;
    }
    void add_page(std::uint64_t line, std::uint32_t n) const {
      if ((line >> kPageLineShift) < pages) page[line >> kPageLineShift] += n;
    }
  };
  const Counts counts{region_counts_, region_counts_ ? regions_ : 0, region_line_shift_, page_counts_,
                      page_counts_ ? pages_ : 0};
  const bool page_in_one_region = counts.shift >= kPageLineShift;
  const bool lru = replacement_ == Replacement::Lru;
  std::uint32_t clock = clock_;  // the caller checked that it does not reach the stamp limit
  // (fills, evictions and dirty evictions told at the end, as write_back_or_fill_run's.)
  std::uint64_t received = 0, into_invalid = 0;
  std::size_t kept = 0;
  // OneRegion: the victims counted out by their page, `gone` of page
  // `gone_page` at a time (a page's lines mostly push out an older page's,
  // set after set; its region is the page's).
  std::uint64_t gone_page = 0;
  std::uint32_t gone = 0;
  auto count_out_gone = [&] {
    counts.add_region(gone_page << kPageLineShift, 0u - gone);
    counts.add_page(gone_page << kPageLineShift, 0u - gone);
  };
  // The lines of `m`, line i in set base + i, all with tag `tag`.
  // (OneRegion: page_in_one_region, a copy each: not a test per line.)
  auto lines = [&]<bool OneRegion>(std::uint64_t m, std::size_t base, std::uint32_t tag) {
    for (; m != 0; m &= m - 1) {
      const auto i = static_cast<unsigned>(__builtin_ctzll(m));
      const std::size_t s = base + i;
      std::uint32_t* const set = blocks + (s << block_shift);
      std::uint32_t* const meta = set + ways;
      std::size_t victim;
      std::uint32_t least;
      const std::size_t present = scan_ways<W, Sse41>(set, tag, victim, least);
      if (present < ways) {
        meta[present] = (lru ? ++clock << kStateBits : meta[present] & ~kStateMask) |
                        static_cast<std::uint32_t>(LineState::Modified);
        ++received;
        continue;
      }
      if (least != 0) {  // no invalid way: the victim leaves (not Random: the caller checked)
        const bool was_dirty = state_of(meta[victim]) == LineState::Modified;
        const std::uint64_t old = static_cast<std::uint64_t>(set[victim]) * sets + s;
        if constexpr (OneRegion) {
          if ((old >> kPageLineShift) != gone_page) [[unlikely]] {
            count_out_gone();
            gone_page = old >> kPageLineShift;
            gone = 0;
          }
          ++gone;
        } else {
          counts.add_region(old, ~std::uint32_t{0});  // (minus one)
          counts.add_page(old, ~std::uint32_t{0});
        }
        dirty_buf[kept] = old << kLineShift;
        from_buf[kept] = static_cast<std::uint8_t>(i);
        kept += was_dirty;
      } else {
        ++into_invalid;
      }
      set[victim] = tag;
      meta[victim] = (++clock << kStateBits) | static_cast<std::uint32_t>(LineState::Modified);
      if constexpr (!OneRegion) counts.add_region(first + i, 1);
    }
  };
  const std::size_t wrap = sets - s0;  // lines from here on are past the last set
  const std::uint64_t before = wrap >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << wrap) - 1;
  auto both_runs = [&]<bool OneRegion>() {
    lines.template operator()<OneRegion>(mask & before, s0, static_cast<std::uint32_t>(q0));
    if (mask & ~before)
      lines.template operator()<OneRegion>(mask & ~before, s0 - sets, static_cast<std::uint32_t>(q0 + 1));
  };
  if (page_in_one_region) [[likely]]
    both_runs.template operator()<true>();
  else
    both_runs.template operator()<false>();
  count_out_gone();  // (page 0 with none gone: nothing)
  std::copy(dirty_buf, dirty_buf + kept, dirty);
  std::copy(from_buf, from_buf + kept, from);
  clock_ = clock;
  const std::uint64_t fills = static_cast<std::uint64_t>(__builtin_popcountll(mask)) - received;
  // The lines installed, counted in at once: one page, one region.
  if (page_in_one_region) counts.add_region(first, static_cast<std::uint32_t>(fills));
  counts.add_page(first, static_cast<std::uint32_t>(fills));
  stats_.writebacks_received += received;
  stats_.fills += fills;
  stats_.evictions += fills - into_invalid;
  stats_.dirty_evictions += kept;  // the victims kept are the dirty ones
  return kept;
}

template <bool Sse41>
std::size_t CacheArray::write_back_or_fill_page_runs(PhysAddr page, std::uint64_t mask, PhysAddr* dirty,
                                                     std::uint8_t* from) {
  switch (ways_) {
    case 8: return write_back_or_fill_page_run<8, Sse41>(page, mask, dirty, from);
    case 11: return write_back_or_fill_page_run<11, Sse41>(page, mask, dirty, from);
    case 12: return write_back_or_fill_page_run<12, Sse41>(page, mask, dirty, from);
    case 16: return write_back_or_fill_page_run<16, Sse41>(page, mask, dirty, from);
    default: return write_back_or_fill_page_run<0, Sse41>(page, mask, dirty, from);
  }
}

#if defined(__x86_64__)
std::size_t CacheArray::write_back_or_fill_page_sse41(PhysAddr page, std::uint64_t mask, PhysAddr* dirty,
                                                      std::uint8_t* from) {
  return write_back_or_fill_page_runs<true>(page, mask, dirty, from);
}
#endif

std::size_t CacheArray::write_back_or_fill_page(PhysAddr page, std::uint64_t mask, PhysAddr* dirty,
                                                std::uint8_t* from) {
  const auto n = static_cast<std::size_t>(__builtin_popcountll(mask));
  std::size_t set;
  std::uint64_t quotient;
  split(page >> kLineShift, set, quotient);
  if (replacement_ == Replacement::Random || clock_ >= stamp_limit_ || stamp_limit_ - clock_ < n ||
      sets_ < (std::size_t{1} << kPageLineShift) || quotient + 1 >= kInvalidTag) {
    // A victim drawn at random, stamps to renumber on the way, a page that
    // wraps around the sets more than once or a line that cannot be tagged:
    // write_back_or_fill_lines, line by line where it must.
    std::size_t k = 0;
    for (std::uint64_t m = mask; m != 0; m &= m - 1, ++k) {
      from[k] = static_cast<std::uint8_t>(__builtin_ctzll(m));
      dirty[k] = page + PhysAddr{from[k]} * kCacheLineBytes;
    }
    return write_back_or_fill_batch(dirty, n, nullptr, dirty, from, false);
  }
#if defined(__x86_64__)
  if (sse41_in_use) return write_back_or_fill_page_sse41(page, mask, dirty, from);
#endif
  return write_back_or_fill_page_runs<false>(page, mask, dirty, from);
}

template <std::size_t W, bool Pow2>
void CacheArray::write_access_run(PhysAddr first, std::size_t n, FillSlot* slot, std::uint8_t* missed) {
  // write_access() line by line with the geometry read once; a line found in
  // the set (a hit or an upgrade, rare in a clear) goes through write_access
  // itself, which alone of the two touches the clock and those counts. A
  // miss keeps its set and tag only: fill_missed_run chooses the victim (no
  // victim, word and invalidation count stored here to be checked there).
  // Line j is in the set after line j - 1's with its tag, or past the last
  // set in set 0 with the next tag: the set's block stepped, split again there.
  const std::size_t ways = W ? W : ways_;
  std::uint32_t* const blocks = blocks_;
  const unsigned block_shift = W ? block_shift_for(W) : block_shift_;
  const Splitter split = splitter();
  const std::uint64_t line0 = first >> kLineShift;
  std::size_t s0;
  std::uint32_t tag = split.split<Pow2>(line0, s0);
  std::uint32_t* set = blocks + (s0 << block_shift);
  std::uint32_t* const end = blocks + (sets_ << block_shift);
  std::uint64_t misses = 0;
  for (std::size_t j = 0; j < n; ++j, set += std::size_t{1} << block_shift) {
    const std::uint64_t line = line0 + j;
    if (set == end) [[unlikely]] {
      tag = split.split<Pow2>(line, s0);  // (set 0)
      set = blocks;
    }
    if (ways_equal_padded(set, ways, tag) != 0) [[unlikely]] {
      missed[j] = write_access(line << kLineShift, slot[j]) ? 0 : 2;
      continue;
    }
    ++misses;
    slot[j].set = set;
    slot[j].tag = tag;
    missed[j] = 1;
  }
  stats_.write_misses += misses;
}

template <std::size_t W, bool Sse41, bool Pages>
std::size_t CacheArray::fill_missed_run(PhysAddr first, std::size_t n, const FillSlot* slot,
                                        const std::uint8_t* missed, bool count_dirty_victim, PhysAddr* dirty,
                                        std::uint8_t* from) {
  // fill() and install() line by line with the members read once (the clock
  // and the counts kept here, given back before an upgraded line, which
  // takes fill's own way). A missed line is absent still (no fill since
  // write_access_run), so the victim search of its set is fill's whole scan.
  const std::size_t ways = W ? W : ways_;
  const std::uint64_t sets = sets_;
  std::uint32_t* const counts = region_counts_;
  const std::size_t regions = counts ? regions_ : 0;
  const unsigned region_shift = region_line_shift_;
  std::uint32_t* const page_counts = page_counts_;
  const std::size_t pages = Pages && page_counts ? pages_ : 0;  // as write_back_or_fill_run's
  std::uint32_t clock = clock_;  // the caller checked that it does not reach the stamp limit
  // (Evictions and dirty evictions told from the fills into an invalid way
  // and the dirty victims kept since `counted`: two counts fewer in the loop.)
  std::uint64_t fills = 0, into_invalid = 0;
  std::size_t k = 0, counted = 0;
  auto give_back = [&] {
    clock_ = clock;
    stats_.fills += fills;
    stats_.evictions += fills - into_invalid;
    stats_.dirty_evictions += k - counted;
  };
  for (std::size_t j = 0; j < n; ++j) {
    if (missed[j] == 0) continue;
    const FillSlot& sl = slot[j];
    if (missed[j] != 1) [[unlikely]] {
      give_back();
      fills = into_invalid = 0;
      const Eviction ev = fill(first + j * kCacheLineBytes, LineState::Modified, count_dirty_victim);
      clock = clock_;
      if (ev.valid && ev.dirty) {
        from[k] = static_cast<std::uint8_t>(j);
        dirty[k++] = ev.addr;
      }
      counted = k;  // (fill counted its own)
      continue;
    }
    const std::uint64_t line = (first >> kLineShift) + j;
    if (sl.tag == kInvalidTag) [[unlikely]]
      die_untaggable(line);
    std::uint32_t* const set = sl.set;
    std::uint32_t* const meta = set + ways;
    std::uint32_t least;
    const std::size_t victim = least_word<W, Sse41>(meta, least);
    if (least != 0) {  // no invalid way: replace one (not Random: the caller checked)
      const bool was_dirty = state_of(meta[victim]) == LineState::Modified;
      const std::uint64_t old = line + (static_cast<std::uint64_t>(set[victim]) - sl.tag) * sets;  // as install's
      if (count_dirty_victim || !was_dirty) {
        if ((old >> region_shift) < regions) --counts[old >> region_shift];
        if ((old >> kPageLineShift) < pages) [[unlikely]]
          --page_counts[old >> kPageLineShift];
      }
      from[k] = static_cast<std::uint8_t>(j);
      dirty[k] = old << kLineShift;
      k += was_dirty;
    } else {
      ++into_invalid;
    }
    set[victim] = sl.tag;
    if ((line >> region_shift) < regions) ++counts[line >> region_shift];
    if ((line >> kPageLineShift) < pages) [[unlikely]]
      ++page_counts[line >> kPageLineShift];
    meta[victim] = (++clock << kStateBits) | static_cast<std::uint32_t>(LineState::Modified);
    ++fills;
  }
  give_back();
  return k;
}

template <std::size_t W>
std::uint64_t CacheArray::contains_run(PhysAddr first, std::size_t n) const {
  const std::size_t ways = W ? W : ways_;
  const std::size_t stride = std::size_t{1} << block_shift_;
  std::size_t s;
  std::uint64_t q;
  split(first >> kLineShift, s, q);
  std::uint64_t held = 0;
  // The lines up to the last set share one tag (q), the next ones q + 1 from set 0.
  for (std::size_t j = 0; j < n; s = 0, ++q) {
    const std::size_t end = std::min(n, j + (sets_ - s));
    if (q >= kInvalidTag) [[unlikely]] {  // an empty way's tag: such a line is never held
      j = end;
      continue;
    }
    const auto tag = static_cast<std::uint32_t>(q);
    const std::uint32_t* set = set_block(s);
    for (; j < end; ++j, set += stride) held |= static_cast<std::uint64_t>(any_way_equal<W>(set, ways, tag)) << j;
  }
  return held;
}

std::uint64_t CacheArray::contains_lines(PhysAddr first, std::size_t n) const {
  if (n > 64) [[unlikely]] {
    std::fprintf(stderr, "numasim: internal error: %s: contains_lines of %zu lines (at most 64)\n", name_.c_str(), n);
    std::abort();
  }
  // (The shipped L2s have 16 ways.)
  if (ways_ == 16) return contains_run<16>(first, n);
  if (ways_ == 8) return contains_run<8>(first, n);
  return contains_run<0>(first, n);
}

void CacheArray::write_access_runs(PhysAddr first, std::size_t n, FillSlot* slot, std::uint8_t* missed) {
  if (pow2_sets_) {
    if (ways_ == 8) return write_access_run<8, true>(first, n, slot, missed);
    if (ways_ == 16) return write_access_run<16, true>(first, n, slot, missed);
    return write_access_run<0, true>(first, n, slot, missed);
  }
  return write_access_run<0, false>(first, n, slot, missed);
}

template <bool Sse41>
std::size_t CacheArray::fill_missed_runs(PhysAddr first, std::size_t n, const FillSlot* slot,
                                         const std::uint8_t* missed, bool count_dirty_victim, PhysAddr* dirty,
                                         std::uint8_t* from) {
  // (L1D's 8 ways also without page counts: an exact clear's L1D.)
  const bool c = count_dirty_victim;
  if (ways_ == 8 && page_counts_) return fill_missed_run<8, Sse41, true>(first, n, slot, missed, c, dirty, from);
  if (ways_ == 8) return fill_missed_run<8, Sse41, false>(first, n, slot, missed, c, dirty, from);
  if (ways_ == 16) return fill_missed_run<16, Sse41, true>(first, n, slot, missed, c, dirty, from);
  return fill_missed_run<0, Sse41, true>(first, n, slot, missed, c, dirty, from);
}

#if defined(__x86_64__)
void CacheArray::write_access_lines_sse41(PhysAddr first, std::size_t n, FillSlot* slot, std::uint8_t* missed) {
  write_access_runs(first, n, slot, missed);
}

std::size_t CacheArray::fill_missed_lines_sse41(PhysAddr first, std::size_t n, const FillSlot* slot,
                                                const std::uint8_t* missed, bool count_dirty_victim, PhysAddr* dirty,
                                                std::uint8_t* from) {
  return fill_missed_runs<true>(first, n, slot, missed, count_dirty_victim, dirty, from);
}
#endif

void CacheArray::write_access_lines(PhysAddr first, std::size_t n, FillSlot* slot, std::uint8_t* missed) {
#if defined(__x86_64__)
  if (sse41_in_use) return write_access_lines_sse41(first, n, slot, missed);
#endif
  write_access_runs(first, n, slot, missed);
}

std::size_t CacheArray::fill_missed_lines(PhysAddr first, std::size_t n, const FillSlot* slot,
                                          const std::uint8_t* missed, bool count_dirty_victim, PhysAddr* dirty,
                                          std::uint8_t* from) {
  if (replacement_ == Replacement::Random || clock_ >= stamp_limit_ || stamp_limit_ - clock_ < n) {
    // A victim drawn at random, or stamps to renumber on the way: fill itself.
    std::size_t k = 0;
    for (std::size_t j = 0; j < n; ++j) {
      if (missed[j] == 0) continue;
      const Eviction ev = fill(first + j * kCacheLineBytes, LineState::Modified, count_dirty_victim);
      if (ev.valid && ev.dirty) {
        from[k] = static_cast<std::uint8_t>(j);
        dirty[k++] = ev.addr;
      }
    }
    return k;
  }
#if defined(__x86_64__)
  if (sse41_in_use) return fill_missed_lines_sse41(first, n, slot, missed, count_dirty_victim, dirty, from);
#endif
  return fill_missed_runs<false>(first, n, slot, missed, count_dirty_victim, dirty, from);
}

bool CacheArray::write_back_into(PhysAddr pa) {
  std::uint32_t* tag = find(pa >> kLineShift);
  if (!tag) return false;
  std::uint32_t& meta = tag[ways_];
  const std::uint32_t stamp = replacement_ == Replacement::Lru ? next_stamp() << kStateBits : meta & ~kStateMask;
  meta = stamp | static_cast<std::uint32_t>(LineState::Modified);
  ++stats_.writebacks_received;
  return true;
}

Eviction CacheArray::invalidate(PhysAddr pa) {
  const std::uint64_t line = pa >> kLineShift;
  std::uint32_t* tag = find(line);
  return tag ? invalidate_way(tag, ways_, line) : Eviction{};
}

void CacheArray::clear() {
  for (std::size_t s = 0; s < sets_; ++s) {
    std::uint32_t* set = set_block(s);
    for (std::size_t w = 0; w < ways_; ++w)
      if (set[w] != kInvalidTag && (region_counts_ || page_counts_)) count_out(line_of(set, set[w]));
    std::fill(set, set + ways_, kInvalidTag);
    std::fill(set + ways_, set + 2 * ways_, std::uint32_t{0});
  }
}

std::vector<PhysAddr> CacheArray::set_contents(std::size_t set) const {
  const std::uint32_t* blk = set_block(set);
  std::vector<std::size_t> idx;
  for (std::size_t w = 0; w < ways_; ++w)
    if (blk[w] != kInvalidTag) idx.push_back(w);
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return stamp_of(blk[ways_ + a]) > stamp_of(blk[ways_ + b]); });
  std::vector<PhysAddr> out;
  for (std::size_t w : idx) out.push_back(line_of(blk, blk[w]) << kLineShift);
  return out;
}

namespace {
#if defined(__x86_64__)
// evict_for_lines' victim searches of the n (at most 64) 8-way sets from
// `first` (power-of-two sets: `mask`), the search's SSE4.1 minimum inline (a
// call per set cost as much again as the search): bit j of the result for
// the set of line j when it is full (no invalid way, whose word is 0), way[j]
// then its least word's (LRU or oldest-filled) way. (A set with an invalid
// way, the rule in a deferred clear's L1D, is told by the minimum of its two
// groups against zero; the whole search only for a full set. The sets' blocks
// by a pointer stepped, wrapping past the last set.)
__attribute__((target("sse4.1"))) std::uint64_t full_sets_8_sse41(const std::uint32_t* blocks, unsigned block_shift,
                                                                  std::uint64_t first, std::uint64_t mask,
                                                                  std::size_t n, std::uint8_t* way) {
  std::uint64_t full = 0;
  const std::size_t stride = std::size_t{1} << block_shift;
  const std::uint32_t* const wrap = blocks + ((mask + 1) << block_shift) + 8;
  const std::uint32_t* meta = blocks + ((first & mask) << block_shift) + 8;
  for (std::size_t j = 0; j < n; ++j, meta += stride) {
    if (meta == wrap) meta = blocks + 8;
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(meta + 4));
    __m128i m = _mm_min_epu32(a, b);
    if (_mm_movemask_epi8(_mm_cmpeq_epi32(m, _mm_setzero_si128())) != 0) continue;  // an invalid way
    m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0xB1));  // the least word in every lane
    const unsigned eq = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(a, m)))) |
                        static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(b, m)))) << 4;
    way[j] = static_cast<std::uint8_t>(__builtin_ctz(eq));
    full |= std::uint64_t{1} << j;
  }
  return full;
}
#endif
}  // namespace

std::size_t CacheArray::evict_for_lines(PhysAddr first, std::size_t n, PhysAddr* dirty, std::uint8_t* from) {
  if (replacement_ == Replacement::Random || n == 0) return 0;
  const std::uint64_t line0 = first >> kLineShift;
  std::size_t k = 0;
  auto evict = [&](std::uint32_t* set, std::size_t w, std::size_t by) {
    std::uint64_t line;
    if (evict_way(set, ways_, w, line)) {
      dirty[k] = line << kLineShift;
      from[k++] = static_cast<std::uint8_t>(by);
    }
  };
  std::uint32_t tag;
  if (n <= sets_ && n <= 64) {
    // One fill per set (a page into an L1D): each full set's victim search's
    // way (a set with an invalid way gives the fill that way).
    std::array<std::uint8_t, 64> way;
    std::uint64_t full = 0;
#if defined(__x86_64__)
    if (ways_ == 8 && pow2_sets_ && sse41_in_use) {
      full = full_sets_8_sse41(blocks_, block_shift_, line0 & set_mask_, set_mask_, n, way.data());
    } else
#endif
    {
      for (std::size_t j = 0; j < n; ++j) {
        std::uint32_t least;
        way[j] = static_cast<std::uint8_t>(least_word(set_block(line0 + j, tag) + ways_, least));
        if (least != 0) full |= std::uint64_t{1} << j;
      }
    }
    for (; full != 0; full &= full - 1) {
      const auto j = static_cast<std::size_t>(__builtin_ctzll(full));
      evict(set_block(line0 + j, tag), way[j], j);
    }
    return k;
  }
  // Consecutive lines fill consecutive sets: line j the set of line j % sets_,
  // so each of the first min(n, sets_) lines' sets takes every sets_-th line.
  for (std::size_t j = 0; j < std::min<std::size_t>(n, sets_); ++j) {
    std::uint32_t* const set = set_block(line0 + j, tag);
    std::uint32_t* const meta = set + ways_;
    const std::size_t fills = (n - j + sets_ - 1) / sets_;
    std::size_t free_ways = 0;
    for (std::size_t w = 0; w < ways_; ++w) free_ways += meta[w] == 0;
    // The set's f-th fill (line j + f x sets_) beyond its free ways replaces the least recent valid line.
    for (std::size_t f = free_ways; f < std::min(fills, ways_); ++f) {
      std::size_t victim = ways_;
      for (std::size_t w = 0; w < ways_; ++w)
        if (meta[w] != 0 && (victim == ways_ || meta[w] < meta[victim])) victim = w;
      evict(set, victim, j + f * sets_);
    }
  }
  return k;
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
