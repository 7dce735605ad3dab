// One set-associative cache array: write-back, write-allocate, with LRU, FIFO or
// seeded-random replacement and a MESI-like state per line (Modified, Exclusive,
// Shared, Invalid), which CacheHierarchy's coherence protocol sets; a write to a
// Shared line is not a hit until the copies elsewhere are invalidated. Dirty victims are handed back to
// the caller for write-back. Pure timing-free state (no SystemC): the latency of
// a level lives in CacheHierarchy. The hit check is inline so that an L1 hit
// costs a few host nanoseconds. Host layout (the arrays are far bigger than the
// host's caches, so host cache misses are much of a miss's cost): each set is
// one 64-byte-aligned block of its ways' 32-bit tags (line number / set count)
// followed by their 32-bit replacement words (stamp << 2 | state), so a lookup
// scans only the tags and victim choice one word per way; an 8-way set is one
// host cache line, an 11- or 16-way set two. Stamps are 30 bits: when the clock
// runs out, each set's stamps are renumbered in the same order (exact: victims
// are chosen within a set).
// Simplifications: no data is stored (tags only); set index is the line number
// modulo the set count (no slice hashing); no sectoring, no prefetch bits;
// physical addresses below 2^32 - 1 times the set count lines (16 TiB for a
// 64-set L1D; beyond, the simulator stops with a message).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/fast_divider.h"
#include "hw/host_array.h"
#include "hw/way_scan.h"
#include "hw/hw_stats.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

enum class LineState : std::uint8_t { Invalid = 0, Shared, Exclusive, Modified };
enum class Replacement : std::uint8_t { Lru, Fifo, Random };

struct CacheParams {
  Bytes size = Bytes(32 * 1024);
  int ways = 8;
  Bytes line = Bytes(kCacheLineBytes);  // only 64 B lines are supported
  Cycles latency = Cycles(4);           // load-to-use latency of a hit at this level
  Replacement replacement = Replacement::Lru;
  std::uint64_t seed = 1;  // for Replacement::Random
  bool inclusive = false;  // LLC only: inclusive of the private levels (back-invalidation)

  // Reads size, ways, line, latency, replacement (and inclusive when `allow_inclusive`)
  // from `c`, starting from `defaults`.
  static CacheParams from_config(Config c, const CacheParams& defaults, bool allow_inclusive);
};

// A line leaving a cache (victim or invalidation).
struct Eviction {
  bool valid = false;
  bool dirty = false;
  PhysAddr addr = 0;  // line-aligned
};

struct CacheStats {
  std::uint64_t read_hits = 0, read_misses = 0, write_hits = 0, write_misses = 0;
  std::uint64_t fills = 0, evictions = 0, dirty_evictions = 0;
  std::uint64_t writebacks_received = 0;  // dirty lines written into this level from above
  std::uint64_t invalidations = 0;        // lines removed by invalidate() (e.g. back-invalidation)
  std::uint64_t upgrades = 0;             // writes that found the line Shared
};

class CacheArray {
 public:
  // Throws std::invalid_argument on a geometry that does not divide into sets.
  CacheArray(const CacheParams& params, std::string name);

  // Demand access: on a hit updates the replacement state, marks the line
  // Modified on a write and returns true; on a miss counts it and returns false
  // (the caller then fills the line with fill()). A write to a Shared line
  // also returns false, leaving the line as it is (an upgrade: the caller
  // invalidates the other copies, then calls set_state(Modified)).
  bool access(PhysAddr pa, bool is_write) {
    const std::uint64_t line = pa >> kLineShift;
    std::uint32_t tag;
    std::uint32_t* set = set_block(line, tag);
    const std::size_t w = find_in(set, tag);
    if (w < ways_) {
      std::uint32_t& meta = set[ways_ + w];
      if (is_write && state_of(meta) == LineState::Shared) [[unlikely]] {
        ++stats_.upgrades;  // other caches hold copies: the caller must gain ownership first
        return false;
      }
      if (replacement_ == Replacement::Lru) meta = (next_stamp() << kStateBits) | (meta & kStateMask);
      if (is_write) {
        meta = (meta & ~kStateMask) | static_cast<std::uint32_t>(LineState::Modified);
        ++stats_.write_hits;
      } else {
        ++stats_.read_hits;
      }
      return true;
    }
    if (is_write)
      ++stats_.write_misses;
    else
      ++stats_.read_misses;
    return false;
  }

  // A host prefetch of the set that holds `pa` (no effect on the simulation).
  void host_prefetch(PhysAddr pa) const {
    const char* set = reinterpret_cast<const char*>(set_block(set_of(pa >> kLineShift)));
    __builtin_prefetch(set);
    if (ways_ > 8) __builtin_prefetch(set + 64);
  }

  // Where a fill of an absent line would go, remembered by write_access(),
  // read_access() or probe() on a miss, so that the fill after the caller's
  // coherence actions needs no second scan of the set (fill_at() scans again
  // if a line of this cache was invalidated meanwhile, or the victim's word
  // changed).
  struct FillSlot {
    std::uint32_t* set = nullptr;
    std::uint64_t line = 0;
    std::uint32_t tag = 0;
    std::size_t victim = 0;
    std::uint32_t least = 0;
    std::uint64_t invalidations = 0;  // stats().invalidations when the slot was chosen
  };
  // access(pa, false) in one scan of the set that also gives the line's state
  // (Invalid on a miss) and, on a miss, fills `slot` for fill_at().
  // W (here and in probe, fill_at, fill_inline, write_back_or_fill): the way
  // count when the caller knows it at compile time (0: not known). The same
  // result; CacheHierarchy's miss paths run a copy for the default geometry
  // (the set scan's jump table on ways_ and the loads of ways_ left out).
  // Sse41: the caller is compiled for SSE4.1 and runs only when the host has
  // it (sse41_in_use): the victim search takes SSE4.1's without testing.
  // Pow2 (here and in probe, fill_inline, write_back_or_fill, invalidate_ways):
  // the caller knows that the set count is a power of two (set_block's).
  template <std::size_t W = 0, bool Sse41 = false, bool Pow2 = false>
  bool read_access(PhysAddr pa, FillSlot& slot, LineState& state) {
    std::uint32_t* const meta = locate<W, Sse41, Pow2>(pa, slot);
    if (meta == nullptr) {
      ++stats_.read_misses;
      state = LineState::Invalid;
      return false;
    }
    state = read_hit(meta);
    return true;
  }
  // contains(pa) in one scan of the set that, when the line is absent, fills `slot` for fill_at().
  template <std::size_t W = 0, bool Sse41 = false, bool Pow2 = false>
  bool probe(PhysAddr pa, FillSlot& slot) {
    return locate<W, Sse41, Pow2>(pa, slot) != nullptr;
  }
  // probe() giving the line's replacement word when present (nullptr when
  // absent), for a caller that may take the hit later: while tag_at(word)
  // is the tag it had then, the way holds the same line (a set's tags are
  // distinct), and read_hit(word) is read_access's hit on it.
  template <std::size_t W = 0, bool Sse41 = false>
  std::uint32_t* probe_word(PhysAddr pa, FillSlot& slot) {
    return locate<W, Sse41>(pa, slot);
  }
  template <std::size_t W = 0>
  std::uint32_t tag_at(const std::uint32_t* word) const {
    return *(word - ways_of<W>());
  }
  // read_access's hit on the line whose replacement word is `word`: the use
  // stamped (LRU), the hit counted; returns the line's state.
  LineState read_hit(std::uint32_t* word) {
    if (replacement_ == Replacement::Lru) *word = (next_stamp() << kStateBits) | (*word & kStateMask);
    ++stats_.read_hits;
    return state_of(*word);
  }
  // Whether the line of a probe() or read_access() miss is still absent, its
  // set's tags compared again (what a new look-up would answer; no division
  // for the set, no victim search). A caller that keeps the miss's `slot`
  // across other work asks this; fill_at() checks the slot's victim itself
  // (invalidations and the victim's word: that work must not remove lines
  // by age_out or evict_for_lines, which fill_at would not notice).
  template <std::size_t W = 0>
  bool absent_still(const FillSlot& slot) const {
    if constexpr (W != 0) return ways_equal_fixed<W>(slot.set, slot.tag) == 0;
    return match_ways(slot.set, slot.tag) == 0;
  }
  // read_access(pa, slot, state) of a line that probe(pa, slot) found absent
  // and absent_still(slot) says is absent: the miss counted, `slot` kept (no second scan).
  void count_read_miss() { ++stats_.read_misses; }
  // access(pa, true); a miss of an absent line also fills `slot` (write_access_run repeats its look-up: change both).
  [[gnu::always_inline]] bool write_access(PhysAddr pa, FillSlot& slot) {
    const std::uint64_t line = pa >> kLineShift;
    std::uint32_t tag;
    std::uint32_t* set = set_block(line, tag);
    slot.line = line;
    // Mostly misses (a store of a whole new line): every way compared at once.
    if (match_ways(set, tag) != 0) {
      slot.set = nullptr;  // a hit, or an upgrade of a Shared line: fill_at is a plain fill
      return access(pa, true);
    }
    ++stats_.write_misses;
    slot.set = set;
    slot.tag = tag;
    std::uint32_t least;
    slot.victim = least_word(set + ways_, least);  // scan()'s victim search
    slot.least = least;
    slot.invalidations = stats_.invalidations;
    return false;
  }
  // fill(pa, st) for the line of a write_access(), read_access() or probe()
  // miss, with that miss's slot: the same result as fill() as long as no
  // invalidation happened since and the victim's word is unchanged (an LRU
  // fill into the set or a use of the victim changes it; under Random
  // replacement a full set's victim is drawn in install(), so the remembered
  // way matters only while the set has an empty way); else it scans again.
  // Precondition: the line itself is still absent (unlike fill(), fill_at()
  // does not look for it again; no caller fills the missed line in between).
  // `count_dirty_victim` false: a dirty victim stays counted in the region and
  // page counts (count_regions, count_pages) for a level below that shares them
  // and takes it with write_back_or_fill_lines(..., counted_above = true).
  template <std::size_t W = 0>
  [[gnu::always_inline]] Eviction fill_at(const FillSlot& slot, LineState st, bool count_dirty_victim = true) {
    if (slot.set == nullptr || slot.invalidations != stats_.invalidations ||
        slot.set[ways_of<W>() + slot.victim] != slot.least)
      return fill(slot.line << kLineShift, st, count_dirty_victim);
    return install<W>(slot.set, slot.line, slot.tag, slot.victim, slot.least, st, count_dirty_victim);
  }

  // Presence check without any side effect.
  bool contains(PhysAddr pa) const { return find(pa >> kLineShift) != nullptr; }
  LineState state(PhysAddr pa) const;
  // Changes the state of a present line (coherence: downgrade to Shared,
  // upgrade to Modified); returns the old state (Invalid if absent: nothing changes).
  LineState set_state(PhysAddr pa, LineState st);

  // Installs an absent line in state `st`, choosing a victim by the replacement
  // policy (an invalid way first). Returns the victim (valid=false if none).
  // `count_dirty_victim` as fill_at's.
  Eviction fill(PhysAddr pa, LineState st, bool count_dirty_victim = true);
  // fill() compiled into its caller: the L1D fill of every L1 miss
  // (access_below_l1), where the call and, in the copy for SSE4.1 hosts, the
  // out-of-line victim search cost about a third of the fill.
  template <std::size_t W = 0, bool Sse41 = false, bool Pow2 = false>
  [[gnu::always_inline]] Eviction fill_inline(PhysAddr pa, LineState st, bool count_dirty_victim = true) {
    const std::uint64_t line = pa >> kLineShift;
    std::uint32_t tag;
    std::uint32_t* set = set_block<W, Pow2>(line, tag);
    std::uint32_t* meta = set + ways_of<W>();
    // One pass: the way already holding the line (a caller that raced a fill)
    // and the way with the least replacement word (first invalid, else LRU/FIFO).
    std::size_t victim = 0;
    std::uint32_t least = 0;
    const std::size_t present = scan<W, Sse41>(set, tag, victim, least);
    if (present < ways_of<W>()) {
      if (st == LineState::Modified) meta[present] = (meta[present] & ~kStateMask) | static_cast<std::uint32_t>(st);
      return {};
    }
    return install<W>(set, line, tag, victim, least, st, count_dirty_victim);
  }
  // A dirty line written back from an upper level: if present, marks it
  // Modified (and touches it like a use) and returns true; false if absent.
  bool write_back_into(PhysAddr pa);
  // A dirty line written back from an upper level, allocated if absent: the
  // same as `write_back_into(pa) || fill(pa, Modified)` in one scan of the set
  // (`received` says which happened; the victim of a fill is returned).
  // (Inline: two calls per line of a cached clear, whose batch may be compiled for SSE4.1.)
  // write_back_or_fill_run and write_back_or_fill_page_run (hw/cache.cpp) repeat this and
  // install()'s rules for a batch and for a residue page: change them together
  // (CacheArray.WriteBackOrFillLinesEqualsOneLineAtATime and clear_residue_batch_test.cpp compare them).
  template <std::size_t W = 0, bool Sse41 = false, bool Pow2 = false>
  [[gnu::always_inline]] Eviction write_back_or_fill(PhysAddr pa, bool& received) {
    const std::uint64_t line = pa >> kLineShift;
    std::uint32_t tag;
    std::uint32_t* set = set_block<W, Pow2>(line, tag);
    std::size_t victim = 0;
    std::uint32_t least = 0;
    const std::size_t present = scan<W, Sse41>(set, tag, victim, least);
    received = present < ways_of<W>();
    if (received) {
      std::uint32_t& meta = set[ways_of<W>() + present];
      const std::uint32_t stamp = replacement_ == Replacement::Lru ? next_stamp() << kStateBits : meta & ~kStateMask;
      meta = stamp | static_cast<std::uint32_t>(LineState::Modified);
      ++stats_.writebacks_received;
      return {};
    }
    return install<W>(set, line, tag, victim, least, LineState::Modified);
  }
  // write_back_or_fill of lines[0, n) in order, with the same effect as n
  // calls; victims[i] is the i-th call's result (valid=false when the line was
  // received or took an empty way). For a cached clear's passes
  // (cache_hierarchy_bulk.cpp): the set arithmetic, the clock and the counts
  // stay in registers for the batch, the way count is known at compile time
  // for the usual ones, and SSE4.1 hosts run a copy with the victim search inline.
  // `counted_above`: the lines are still counted in this array's region and
  // page counts, which it shares with the level above that dropped them
  // (fill_at(..., count_dirty_victim = false)): a line received is counted out
  // now, a line allocated keeps that count (the same as counting it out above
  // and in here, which cancel).
  void write_back_or_fill_lines(const PhysAddr* lines, std::size_t n, Eviction* victims, bool counted_above = false);
  // The same keeping only the dirty victims: lines[0, m) become them, in
  // order, and from[0, m) the from[] of the lines that evicted them; returns
  // m. (L2 taking a cached clear's L1D victims: only its dirty victims go on.)
  std::size_t write_back_or_fill_lines(PhysAddr* lines, std::uint8_t* from, std::size_t n, bool counted_above);
  // write_back_or_fill_lines(lines, from, n, false) of the lines `mask` of the
  // 4 KiB page at `page`, in ascending order, from[k] the line of the page
  // that lines[k] held: the same victims, stamps, counts and statistics. For
  // a deferred clear residue's page leaving L2 for the LLC
  // (CacheHierarchy::install_residue_page_in_llc): the page's lines fill
  // consecutive sets, so the set and tag of its first line give the others',
  // and the page and its region are counted in once. Returns the dirty
  // victims kept, dirty[0, m) with from[0, m).
  std::size_t write_back_or_fill_page(PhysAddr page, std::uint64_t mask, PhysAddr* dirty, std::uint8_t* from);
  // A cached clear's L1D passes (cache_hierarchy_bulk.cpp), with the
  // geometry, counts and statistics read once per batch instead of once per
  // line (the passes' stores into sets and counts would make the compiler
  // read them again after each). write_access_lines: write_access(line j,
  // slot[j]) of the n lines from line-aligned `first`, in order; missed[j] 0
  // for a hit, 1 for a miss of an absent line, 2 for a write to a Shared
  // line (an upgrade, counted). The same state and statistics as the n
  // calls. slot[j] of a miss is fill_missed_lines' only (its set and tag: not
  // a slot for fill_at, no victim chosen yet).
  void write_access_lines(PhysAddr first, std::size_t n, FillSlot* slot, std::uint8_t* missed);
  // Then, in order, line j with missed[j] 1 or 2 filled with fill(line,
  // Modified, count_dirty_victim), missed[j] 0 skipped: the same state and
  // statistics as fill_at of write_access's slot for a 1 (the victim is
  // chosen now, not remembered: fill_at's own victim whenever its checks
  // pass, its rescan when not). Between the two calls the array may change
  // only by invalidate() and set_state(), as between write_access and
  // fill_at (no fill, age_out or evict_for_lines: a line of the batch stays
  // absent, its set's order of words stays). The dirty victims are dirty[0,
  // k) with from[0, k) the j of the fill that pushed each out; returns k.
  std::size_t fill_missed_lines(PhysAddr first, std::size_t n, const FillSlot* slot, const std::uint8_t* missed,
                                bool count_dirty_victim, PhysAddr* dirty, std::uint8_t* from);
  // Which of the n <= 64 consecutive lines from line-aligned `first` the
  // array holds: bit j for line j, as contains() of each (no side effect). A
  // cached clear's look-up of its lines in L2: line j is in the set after line
  // j - 1's (set 0 with the next tag past the last set), so the sets and tags
  // are stepped instead of split line by line, with the geometry read once.
  std::uint64_t contains_lines(PhysAddr first, std::size_t n) const;
  // Whether this array counts its lines in the same region and page counts as `o`.
  bool shares_counts_with(const CacheArray& o) const {
    return region_counts_ == o.region_counts_ && regions_ == o.regions_ &&
           region_line_shift_ == o.region_line_shift_ && page_counts_ == o.page_counts_ && pages_ == o.pages_;
  }
  // Removes the line if present; returns it (valid=false if absent).
  Eviction invalidate(PhysAddr pa);
  // invalidate() with the way count W known at compile time, inline (a
  // snoop-filter eviction's back-invalidation of L1D and L2 in the default
  // geometry; W = 0: invalidate()).
  template <std::size_t W, bool Pow2 = false>
  [[gnu::always_inline]] Eviction invalidate_ways(PhysAddr pa) {
    if constexpr (W == 0) {
      return invalidate(pa);
    } else {
      const std::uint64_t line = pa >> kLineShift;
      std::uint32_t tag;
      std::uint32_t* set = set_block<W, Pow2>(line, tag);
      const std::uint64_t m = tag == kInvalidTag ? 0 : ways_equal_fixed<W>(set, tag);
      return m ? invalidate_way(set + __builtin_ctzll(m), W, line) : Eviction{};
    }
  }
  // Removes every line (e.g. between experiments). Dirty lines are dropped.
  void clear();

  // Residency counts by physical region: from now on every line installed adds
  // one to counts[pa >> region_shift] and every line leaving subtracts one
  // (addresses at or beyond n regions are not counted). The array, shared with
  // other caches, is the owner's (CacheHierarchy); the cache must be empty.
  void count_regions(std::uint32_t* counts, std::size_t n, unsigned region_shift) {
    region_counts_ = counts;
    regions_ = counts ? n : 0;  // count_in/count_out test the bound only
    // (Without an array no shift is needed; a shift of 0 keeps count_in's
    // always-evaluated `line >> region_line_shift_` defined for any region_shift.)
    region_line_shift_ = counts ? region_shift - kLineShift : 0;
  }
  // The same by 4 KiB page, counts[pa >> 12] for pages below n ([cache]
  // clear_residue = "deferred": whether any cache holds a line of a page).
  void count_pages(std::uint32_t* counts, std::size_t n) {
    page_counts_ = counts;
    pages_ = n;
  }
  // The clock of the replacement words (a line's word holds the clock at its
  // last use under LRU, at its fill under FIFO), and how many times the words
  // were renumbered (clocks read before a renumbering are not comparable after it).
  std::uint32_t stamp_clock() const { return clock_; }
  std::uint64_t renumberings() const { return renumberings_; }
  // Removes from the n sets from `first` (wrapping around) every line whose
  // word is below `stamp` (untouched since the clock read `stamp`), counted as
  // evictions; the dirty ones' addresses are appended to dirty[ndirty...].
  // Returns the set after the last one visited.
  std::size_t age_out(std::size_t first, std::size_t n, std::uint32_t stamp, PhysAddr* dirty, std::size_t& ndirty);
  // The n lines from `first` (consecutive, none of them held), as fills of
  // them would find the array now: each full set they fall in loses the lines
  // its fills would replace (first its LRU or oldest-filled line; a set with an
  // invalid way takes one fill for each without a victim), counted as
  // evictions; the dirty ones' addresses go to dirty[0, k) with from[0, k) the
  // line (0..n-1) whose fill pushed each out; returns k. The fills themselves
  // are left to the caller (a deferred clear's lines, made real later in the
  // ways freed: clear_residue.h). Random replacement: nothing (its victim is
  // drawn at the fill). n at most 256 (from[] holds a byte).
  std::size_t evict_for_lines(PhysAddr first, std::size_t n, PhysAddr* dirty, std::uint8_t* from);
  const std::string& name() const { return name_; }
  std::size_t sets() const { return sets_; }
  // The first physical address whose line this array cannot tag (tags are
  // 32-bit line quotients: below kInvalidTag x sets lines).
  std::uint64_t tag_reach() const { return (std::uint64_t{kInvalidTag} * sets_) << kLineShift; }
  std::size_t ways() const { return ways_; }
  const CacheParams& params() const { return params_; }
  const CacheStats& stats() const { return stats_; }
  void reset_stats() {
    fills_before_reset_ += stats_.fills;
    stats_ = CacheStats{};
  }
  // Lines installed since the array was built (fills, not reset with the statistics).
  std::uint64_t insertions() const { return fills_before_reset_ + stats_.fills - virtual_fills_; }
  // A demand access that access() counted a miss, served by this array after
  // all (a deferred clear residue's line made real here, clear_residue.h): a hit.
  void count_miss_as_hit(bool is_write) {
    if (is_write) {
      --stats_.write_misses;
      ++stats_.write_hits;
    } else {
      --stats_.read_misses;
      ++stats_.read_hits;
    }
  }
  // A deferred clear residue's lines, which no array holds (clear_residue.h),
  // counted as the exact model's installs count them: `stored` whole-line
  // store misses that filled, `allocated` dirty lines written back from above
  // that it did not hold (fills, as write_back_or_fill's), `evicted` dirty
  // lines it pushed out (negative: what the install of a line made real
  // counted again). Their fills leave insertions() alone.
  void count_virtual(std::int64_t stored, std::int64_t allocated, std::int64_t evicted) {
    stats_.write_misses += static_cast<std::uint64_t>(stored);
    stats_.fills += static_cast<std::uint64_t>(stored + allocated);
    virtual_fills_ += static_cast<std::uint64_t>(stored + allocated);
    stats_.evictions += static_cast<std::uint64_t>(evicted);
    stats_.dirty_evictions += static_cast<std::uint64_t>(evicted);
  }
  void dump(StatsVisitor& v) const;

  // Line addresses held by a set in replacement order, most recently used (or
  // most recently filled for FIFO) first. For tests and debugging.
  std::vector<PhysAddr> set_contents(std::size_t set) const;
  std::size_t set_index(PhysAddr pa) const { return set_of(pa >> kLineShift); }
  // Tests: renumber the stamps when the clock reaches `limit` (default 2^30 - 1).
  void set_stamp_limit(std::uint32_t limit) { stamp_limit_ = limit; }

 private:
  static constexpr unsigned kLineShift = 6;
  // An empty way's tag; no line has it (install() stops on a tag that large).
  static constexpr std::uint32_t kInvalidTag = ~std::uint32_t{0};

  // Replacement word of a way: last use (LRU) or fill time (FIFO) above the
  // state. Invalid ways hold 0, below every valid way's word (stamps start at
  // 1), so the least word of a set is its first invalid way, else its LRU way.
  static constexpr unsigned kStateBits = 2;
  static constexpr std::uint32_t kStateMask = (std::uint32_t{1} << kStateBits) - 1;
  static LineState state_of(std::uint32_t meta) { return static_cast<LineState>(meta & kStateMask); }
  static std::uint32_t stamp_of(std::uint32_t meta) { return meta >> kStateBits; }
  std::uint32_t next_stamp() {
    if (clock_ >= stamp_limit_) [[unlikely]]
      renumber_stamps();
    return ++clock_;
  }
  // Renumbers every set's stamps 1..k in their order (the clock restarts at `ways`).
  void renumber_stamps();

  // The set of `line` and the line's tag (kInvalidTag if too large for a tag).
  void split(std::uint64_t line, std::size_t& set, std::uint64_t& quotient) const {
    if (pow2_sets_) {
      set = static_cast<std::size_t>(line & set_mask_);
      quotient = line >> set_shift_;
    } else {
      quotient = sets_div_.divide(line);
      set = static_cast<std::size_t>(sets_div_.remainder(line, quotient));
    }
  }
  std::size_t set_of(std::uint64_t line) const {
    std::size_t s;
    std::uint64_t q;
    split(line, s, q);
    return s;
  }
  // Set s: tags at [0, ways_), replacement words at [ways_, 2 * ways_).
  std::uint32_t* set_block(std::size_t s) { return blocks_ + (s << block_shift_); }
  const std::uint32_t* set_block(std::size_t s) const { return blocks_ + (s << block_shift_); }
  // log2 of the words of a set block of `ways` ways (block_shift_).
  static constexpr unsigned block_shift_for(std::size_t ways) {
    unsigned b = 4;  // 16 words: one host cache line
    while ((std::size_t{1} << b) < 2 * ways) ++b;
    return b;
  }
  // W: the way count when the caller knows it at compile time (0: not known),
  // the block size then a constant. Pow2: the caller knows that the set count
  // is a power of two (pow2_sets_; no test of it).
  template <std::size_t W = 0, bool Pow2 = false>
  std::uint32_t* set_block(std::uint64_t line, std::uint32_t& tag) {
    std::size_t s;
    std::uint64_t q;
    if constexpr (Pow2) {
      s = static_cast<std::size_t>(line & set_mask_);
      q = line >> set_shift_;
    } else {
      split(line, s, q);
    }
    tag = q < kInvalidTag ? static_cast<std::uint32_t>(q) : kInvalidTag;
    if constexpr (W != 0) return blocks_ + (s << block_shift_for(W));
    return set_block(s);
  }
  const std::uint32_t* set_block(std::uint64_t line, std::uint32_t& tag) const {
    return const_cast<CacheArray*>(this)->set_block<0>(line, tag);
  }
  // Line number of the line with tag `tag` in set block `set`.
  std::uint64_t line_of(const std::uint32_t* set, std::uint32_t tag) const {
    return static_cast<std::uint64_t>(tag) * sets_ + (static_cast<std::size_t>(set - blocks_) >> block_shift_);
  }
  // Way holding `tag`, or ways_ if absent.
  // (The hit path's search. An 8-way set, the usual L1D, by whole-set
  // compares: a loop that stops at the match cost an L1D miss about 45 host
  // instructions, all eight ways compared one by one.)
  std::size_t find_in(const std::uint32_t* set, std::uint32_t tag) const {
    if (ways_ == 8) {
      const std::uint64_t m = match_ways(set, tag);  // its case 8 (ways_ is known here)
      return m ? static_cast<std::size_t>(__builtin_ctzll(m)) : ways_;
    }
    for (std::size_t w = 0; w < ways_; ++w)
      if (set[w] == tag) return w;
    return ways_;
  }
  // ways_equal_padded(set, ways_, tag) with the usual way counts known at
  // compile time (the compares unrolled and the mask a constant: a look-up of a
  // 16-way set was a loop of four compares and a variable shift).
  std::uint64_t match_ways(const std::uint32_t* set, std::uint32_t tag) const {
    switch (ways_) {
      case 8: return ways_equal_padded(set, 8, tag);
      case 11: return ways_equal_padded(set, 11, tag);
      case 16: return ways_equal_padded(set, 16, tag);
      default: return ways_equal_padded(set, ways_, tag);
    }
  }
  // Pointer to the tag of `line`, or nullptr if absent (an empty way never matches: tags < kInvalidTag).
  std::uint32_t* find(std::uint64_t line) {
    std::uint32_t tag;
    std::uint32_t* set = set_block(line, tag);
    if (tag == kInvalidTag) return nullptr;
    // The miss path's searches (mostly misses: every way compared) by whole-set compares.
    const std::uint64_t m = match_ways(set, tag);
    return m ? set + __builtin_ctzll(m) : nullptr;
  }
  const std::uint32_t* find(std::uint64_t line) const { return const_cast<CacheArray*>(this)->find(line); }
  // read_access's and probe's scan: the replacement word of the line holding
  // `pa`, or nullptr when it is absent, `slot` then holding where a fill goes.
  template <std::size_t W = 0, bool Sse41 = false, bool Pow2 = false>
  std::uint32_t* locate(PhysAddr pa, FillSlot& slot) {
    const std::uint64_t line = pa >> kLineShift;
    std::uint32_t tag;
    std::uint32_t* set = set_block<W, Pow2>(line, tag);
    slot.line = line;
    std::size_t victim = 0;
    std::uint32_t least = 0;
    const std::size_t present = scan<W, Sse41>(set, tag, victim, least);
    if (present < ways_of<W>()) {
      slot.set = nullptr;
      return set + ways_of<W>() + present;
    }
    slot.set = set;
    slot.tag = tag;
    slot.victim = victim;
    slot.least = least;
    slot.invalidations = stats_.invalidations;
    return nullptr;
  }
  std::uint64_t next_random();
  // The way count: W when the caller knows it at compile time, else ways_.
  template <std::size_t W>
  std::size_t ways_of() const {
    return W ? W : ways_;
  }
  // One pass over a set: the way holding `tag` (ways_ if none) and the way
  // with the least replacement word (first invalid, else LRU/FIFO) and that word.
  // (A branch-free loop: fewer host instructions than SSE2, which lacks an unsigned minimum.)
  // The usual associativities (8, 11, 12, 16, 20) take a copy of the loop
  // compiled for their way count (unrolled: no loop control per way).
  // (W: the way count known at compile time, 0 if not; scan_ways<W> directly. Sse41 as read_access's.)
  template <std::size_t W = 0, bool Sse41 = false>
  [[gnu::always_inline]] std::size_t scan(const std::uint32_t* set, std::uint32_t tag, std::size_t& victim,
                                          std::uint32_t& least) const {
    if constexpr (W != 0) return scan_ways<W, Sse41>(set, tag, victim, least);
    switch (ways_) {
      case 8: return scan_ways<8>(set, tag, victim, least);
      case 11: return scan_ways<11>(set, tag, victim, least);
      case 12: return scan_ways<12>(set, tag, victim, least);
      case 16: return scan_ways<16>(set, tag, victim, least);
      case 20: return scan_ways<20>(set, tag, victim, least);
      default: return scan_ways<0>(set, tag, victim, least);
    }
  }
  // scan() for W ways (W = 0: ways_).
  template <std::size_t W, bool Sse41 = false>
  [[gnu::always_inline]] std::size_t scan_ways(const std::uint32_t* set, std::uint32_t tag, std::size_t& victim,
                                               std::uint32_t& least) const {
    if constexpr (W >= 8) {
      // The tags by whole-set compares; the victim only for an absent line.
      const std::uint64_t m = ways_equal_fixed<W>(set, tag);
      if (m) return static_cast<std::size_t>(__builtin_ctzll(m));
      victim = least_word<W, Sse41>(set + W, least);
      return W;  // ways_ (W is chosen by it)
    } else {
      const std::size_t n = W ? W : ways_;
      const std::uint32_t* meta = set + n;
      std::size_t present = n;
      victim = 0;
      least = meta[0];
      for (std::size_t w = 0; w < n; ++w) {
        present = set[w] == tag ? w : present;
        const bool less = meta[w] < least;
        victim = less ? w : victim;
        least = less ? meta[w] : least;
      }
      return present == n ? ways_ : present;
    }
  }
  // write_access's victim search (scan()'s, for an absent line), by way count as scan().
  template <std::size_t W, bool Sse41 = false>
  [[gnu::always_inline]] std::size_t least_word(const std::uint32_t* meta, std::uint32_t& least) const {
#if defined(__x86_64__)
    if constexpr (Sse41 && W >= 8) return least_word_sse41<W>(meta, W, least);
#endif
    return first_least_word<W>(meta, ways_, least);
  }
  [[gnu::always_inline]] std::size_t least_word(const std::uint32_t* meta, std::uint32_t& least) const {
    switch (ways_) {
      case 8: return least_word<8>(meta, least);
      case 16: return least_word<16>(meta, least);
      default: return least_word<0>(meta, least);
    }
  }
  // Installs `line` (tag `tag`) in state `st` at the way `victim` chose by scan() (whose word was `least`).
  // (Inline: every miss's fill and write-back ends here, three times per line of a cached clear.)
  // A change here belongs in write_back_or_fill_run's, write_back_or_fill_page_run's and fill_missed_run's
  // batches too (see write_back_or_fill; CacheArray.WriteAndFillLinesEqualOneLineAtATime holds the last).
  template <std::size_t W = 0>
  [[gnu::always_inline]] Eviction install(std::uint32_t* set, std::uint64_t line, std::uint32_t tag, std::size_t victim,
                                          std::uint32_t least, LineState st, bool count_dirty_victim = true) {
    if (tag == kInvalidTag) [[unlikely]]
      die_untaggable(line);
    std::uint32_t* meta = set + ways_of<W>();
    Eviction ev;
    if (least != 0) {  // no invalid way: replace one
      if (replacement_ == Replacement::Random) [[unlikely]]
        victim = static_cast<std::size_t>(next_random() % ways_);
      ev.valid = true;
      ev.dirty = state_of(meta[victim]) == LineState::Modified;
      // The victim's line from the new one's (the same set, tags apart by
      // whole multiples of the set count; modulo 2^64): line_of's set index
      // from the block address not needed.
      const std::uint64_t old = line + (static_cast<std::uint64_t>(set[victim]) - tag) * sets_;
      ev.addr = old << kLineShift;
      if (count_dirty_victim || !ev.dirty) count_out(old);
      ++stats_.evictions;
      stats_.dirty_evictions += ev.dirty;
    }
    set[victim] = tag;
    count_in(line);
    meta[victim] = (next_stamp() << kStateBits) | static_cast<std::uint32_t>(st);
    ++stats_.fills;
    return ev;
  }
  [[noreturn, gnu::cold, gnu::noinline]] void die_untaggable(std::uint64_t line) const;
  // write_back_or_fill_lines for W ways (0: ways_) and sets by a mask (Pow2) or a divider.
  // (CountedAbove: write_back_or_fill_lines' counted_above; DirtyOnly: the
  // dirty victims into dirty[] and their from[] compacted, else every victim
  // into victims[]. Sse41 as read_access's. Pages false: the array has no
  // page counts, the copy without their tests (an exact clear's arrays).
  // Returns the dirty victims kept.)
  template <std::size_t W, bool Pow2, bool CountedAbove, bool DirtyOnly, bool Sse41, bool Pages>
  [[gnu::always_inline]] inline std::size_t write_back_or_fill_run(const PhysAddr* lines, std::size_t n,
                                                                   Eviction* victims, PhysAddr* dirty,
                                                                   std::uint8_t* from);
  // write_back_or_fill_run by way count and set arithmetic (compiled into the
  // copy for any host and into the one for SSE4.1).
  template <bool CountedAbove, bool DirtyOnly, bool Sse41>
  [[gnu::always_inline]] inline std::size_t write_back_or_fill_runs(const PhysAddr* lines, std::size_t n,
                                                                    Eviction* victims, PhysAddr* dirty,
                                                                    std::uint8_t* from);
  // The runs by kind (dirty == nullptr: every victim into victims[]), and both
  // write_back_or_fill_lines forms (one line at a time where the batch is not exact).
  template <bool Sse41>
  [[gnu::always_inline]] inline std::size_t write_back_or_fill_by_kind(const PhysAddr* lines, std::size_t n,
                                                                       Eviction* victims, PhysAddr* dirty,
                                                                       std::uint8_t* from, bool counted_above);
  std::size_t write_back_or_fill_batch(const PhysAddr* lines, std::size_t n, Eviction* victims, PhysAddr* dirty,
                                       std::uint8_t* from, bool counted_above);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"), flatten)) std::size_t write_back_or_fill_lines_sse41(
      const PhysAddr* lines, std::size_t n, Eviction* victims, PhysAddr* dirty, std::uint8_t* from,
      bool counted_above);
#endif

  // write_back_or_fill_page for W ways (0: ways_), and by way count (compiled
  // into the copy for any host and into the one for SSE4.1).
  template <std::size_t W, bool Sse41>
  [[gnu::always_inline]] inline std::size_t write_back_or_fill_page_run(PhysAddr page, std::uint64_t mask,
                                                                        PhysAddr* dirty, std::uint8_t* from);
  template <bool Sse41>
  [[gnu::always_inline]] inline std::size_t write_back_or_fill_page_runs(PhysAddr page, std::uint64_t mask,
                                                                         PhysAddr* dirty, std::uint8_t* from);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"), flatten)) std::size_t write_back_or_fill_page_sse41(PhysAddr page,
                                                                                       std::uint64_t mask,
                                                                                       PhysAddr* dirty,
                                                                                       std::uint8_t* from);
#endif

  // split() with the geometry copied out of the array (the batches' loops
  // keep it in registers), sets by a mask (Pow2) or a divider.
  struct Splitter {
    std::uint64_t set_mask;
    unsigned set_shift;
    FastDivider sets_div;
    template <bool Pow2>
    [[gnu::always_inline]] std::uint32_t split(std::uint64_t line, std::size_t& set) const {
      std::uint64_t q;
      if constexpr (Pow2) {
        set = static_cast<std::size_t>(line & set_mask);
        q = line >> set_shift;
      } else {
        q = sets_div.divide(line);
        set = static_cast<std::size_t>(sets_div.remainder(line, q));
      }
      return q < kInvalidTag ? static_cast<std::uint32_t>(q) : kInvalidTag;  // the line's tag
    }
  };
  Splitter splitter() const { return {set_mask_, set_shift_, sets_div_}; }
  // write_access_lines and fill_missed_lines for W ways (0: ways_), sets by a
  // mask (Pow2) or a divider, and by way count (compiled into the copy for
  // any host and into the one for SSE4.1, as write_back_or_fill_run's).
  template <std::size_t W, bool Pow2>
  [[gnu::always_inline]] inline void write_access_run(PhysAddr first, std::size_t n, FillSlot* slot,
                                                      std::uint8_t* missed);
  template <std::size_t W, bool Sse41, bool Pages>
  [[gnu::always_inline]] inline std::size_t fill_missed_run(PhysAddr first, std::size_t n, const FillSlot* slot,
                                                            const std::uint8_t* missed, bool count_dirty_victim,
                                                            PhysAddr* dirty, std::uint8_t* from);
  // contains_lines for W ways (0: ways_).
  template <std::size_t W>
  std::uint64_t contains_run(PhysAddr first, std::size_t n) const;
  [[gnu::always_inline]] inline void write_access_runs(PhysAddr first, std::size_t n, FillSlot* slot,
                                                       std::uint8_t* missed);
  template <bool Sse41>
  [[gnu::always_inline]] inline std::size_t fill_missed_runs(PhysAddr first, std::size_t n, const FillSlot* slot,
                                                             const std::uint8_t* missed, bool count_dirty_victim,
                                                             PhysAddr* dirty, std::uint8_t* from);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"), flatten)) void write_access_lines_sse41(PhysAddr first, std::size_t n,
                                                                           FillSlot* slot, std::uint8_t* missed);
  __attribute__((target("sse4.1"), flatten)) std::size_t fill_missed_lines_sse41(
      PhysAddr first, std::size_t n, const FillSlot* slot, const std::uint8_t* missed, bool count_dirty_victim,
      PhysAddr* dirty, std::uint8_t* from);
#endif

  // age_out for W ways (0: ways_); Sse41: the caller is compiled for SSE4.1
  // (age_out_sse41) and its sets' test takes the unsigned minimum.
  template <std::size_t W, bool Sse41>
  [[gnu::always_inline]] inline std::size_t age_out_ways(std::size_t first, std::size_t n, std::uint32_t stamp,
                                                         PhysAddr* dirty, std::size_t& ndirty);
  // age_out by way count (compiled into the copy for any host and into the one for SSE4.1).
  template <bool Sse41>
  [[gnu::always_inline]] inline std::size_t age_out_runs(std::size_t first, std::size_t n, std::uint32_t stamp,
                                                         PhysAddr* dirty, std::size_t& ndirty);
#if defined(__x86_64__)
  __attribute__((target("sse4.1"), flatten)) std::size_t age_out_sse41(std::size_t first, std::size_t n,
                                                                       std::uint32_t stamp, PhysAddr* dirty,
                                                                       std::size_t& ndirty);
#endif

  // (Without a region array regions_ is 0, so the bound alone decides: two
  // host instructions fewer per update, six updates per prefetch.)
  void count_in(std::uint64_t line) {
    if ((line >> region_line_shift_) < regions_) ++region_counts_[line >> region_line_shift_];
    if (page_counts_ && (line >> kPageLineShift) < pages_) [[unlikely]]
      ++page_counts_[line >> kPageLineShift];
  }
  void count_out(std::uint64_t line) {
    if ((line >> region_line_shift_) < regions_) --region_counts_[line >> region_line_shift_];
    if (page_counts_ && (line >> kPageLineShift) < pages_) [[unlikely]]
      --page_counts_[line >> kPageLineShift];
  }
  // Way w of `set` (a valid line; `ways`: the array's way count, known to a
  // templated caller) leaves as an eviction (age_out, evict_for_lines): the
  // line's number in `line`, counted out, the way made invalid; true when it was dirty.
  [[gnu::always_inline]] bool evict_way(std::uint32_t* set, std::size_t ways, std::size_t w, std::uint64_t& line) {
    std::uint32_t& meta = set[ways + w];
    line = line_of(set, set[w]);
    const bool is_dirty = state_of(meta) == LineState::Modified;
    count_out(line);
    set[w] = kInvalidTag;
    meta = 0;
    ++stats_.evictions;
    stats_.dirty_evictions += is_dirty;
    return is_dirty;
  }
  static constexpr unsigned kPageLineShift = 6;  // lines of a 4 KiB page
  // invalidate()'s removal of `line`, found at tag `tag` of a set of `ways` ways.
  [[gnu::always_inline]] Eviction invalidate_way(std::uint32_t* tag, std::size_t ways, std::uint64_t line) {
    const Eviction ev{true, state_of(tag[ways]) == LineState::Modified, line << kLineShift};
    count_out(line);
    *tag = kInvalidTag;
    tag[ways] = 0;
    ++stats_.invalidations;
    return ev;
  }

  CacheParams params_;
  std::string name_;
  std::size_t sets_ = 0;
  std::size_t ways_ = 0;
  unsigned block_shift_ = 0;  // log2 of the words per set block (2 x ways, rounded up to a power of two >= 16)
  bool pow2_sets_ = false;
  std::uint64_t set_mask_ = 0;
  unsigned set_shift_ = 0;
  FastDivider sets_div_;  // line number -> set when the set count is not a power of two
  Replacement replacement_;
  std::uint32_t clock_ = 0;
  std::uint32_t stamp_limit_ = (std::uint32_t{1} << (32 - kStateBits)) - 1;
  std::uint64_t rng_;
  HostArray<std::uint32_t> data_;  // storage of the set blocks (huge host pages when large)
  std::uint32_t* blocks_ = nullptr;  // set 0's block in data_ (64-byte aligned)
  CacheStats stats_;
  std::uint32_t* region_counts_ = nullptr;  // count_regions
  std::size_t regions_ = 0;
  unsigned region_line_shift_ = 0;
  std::uint64_t renumberings_ = 0;
  std::uint64_t fills_before_reset_ = 0;
  std::uint64_t virtual_fills_ = 0;  // count_virtual()'s fills (not insertions())
  std::uint32_t* page_counts_ = nullptr;  // count_pages
  std::size_t pages_ = 0;
};

}  // namespace numasim::hw
