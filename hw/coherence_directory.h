// The snoop filter of the machine's private caches (like the per-socket snoop
// filter of Skylake-SP, made one machine-wide structure): for each tracked
// line, the set of CPUs whose L1D or L2 may hold a copy. It is a set-
// associative table of finite size; when a new line needs an entry and its set
// is full, the least recently used entry is evicted and the caller must
// back-invalidate the copies it tracked (what a real snoop filter does), so
// every cached copy outside the LLCs is always tracked.
// A CPU bit may outlive the copy (silent evictions from L1/L2 do not clear it):
// the bits are a superset that probes of the CPU's caches confirm.
// Host layout: a set's 32-bit tags (line number / set count) and 32-bit LRU
// stamps share one block (an 8-way set is one host cache line); the CPU bits sit
// apart. Stamps are 30 bits wide, renumbered per set in the same order when the
// clock runs out (exact: victims are chosen within a set).
// Simplifications: LRU replacement only; no sharer-count compression; lines
// below 2^32 - 1 times the set count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/units.h"
#include "hw/host_array.h"
#include "hw/way_scan.h"

namespace numasim::hw {

class CoherenceDirectory {
 public:
  // `entries` (rounded up to a whole number of `ways`-sized sets, a power of
  // two of sets) lines tracked for `cpus` CPUs. Throws std::invalid_argument on zero sizes.
  CoherenceDirectory(std::size_t entries, std::size_t ways, int cpus);

  // Index of the entry tracking `line` (line-aligned address), or -1.
  long find(PhysAddr line) const {
    Probe p;
    return find(line, p);
  }
  // find()'s look-up of a line's set, kept for a claim_for() of the same
  // line with nothing changed in the directory since (an L2 prefetch finds
  // the line's entry, checks its holders, then claims it: one set
  // computation and one compare of the set's tags instead of two).
  struct Probe {
    std::size_t set = 0;
    std::uint32_t tag = 0;
    std::uint64_t hit = 0;  // the way holding the line, as a bit (0: none)
  };
  long find(PhysAddr line, Probe& p) const {
    p.set = set_of(line);
    p.tag = tag_of(line);
    p.hit = p.tag == kEmptyTag ? 0 : ways_equal_padded(block(p.set), ways_, p.tag);
    return p.hit ? static_cast<long>(p.set * ways_ + static_cast<std::size_t>(__builtin_ctzll(p.hit))) : -1;
  }
  // The entry for `line`, created empty if absent. When that evicts another
  // line's entry, `evicted` is set to that line and `evicted_sharers` to its
  // CPUs (the caller back-invalidates them); otherwise `evicted` is ~0.
  std::size_t find_or_insert(PhysAddr line, PhysAddr& evicted, std::vector<int>& evicted_sharers);
  // The same for a directory of at most 64 CPUs (cpu_words() == 1): the evicted
  // line's CPUs as a bit mask (bit c: CPU c), 0 when nothing was evicted.
  [[gnu::always_inline]] std::size_t find_or_insert(PhysAddr line, PhysAddr& evicted, std::uint64_t& evicted_cpus) {
    bool fresh;
    const std::size_t e = claim(line, evicted, fresh);
    evicted_cpus = evicted != kEmpty ? cpus_[e] : 0;
    if (fresh) cpus_[e] = 0;
    return e;
  }
  // find_or_insert's mask form, then add(entry, cpu), in one step: `others`
  // gets the entry's CPUs other than `cpu` (what has_others tests; none when
  // the entry is fresh). The caller's back-invalidation of the evicted line
  // does not touch the entry, so it may come after. (A cached clear claims an
  // entry per line: one read and one write of the CPU bits instead of four
  // accesses and three checks of the word count.)
  // `probe`, when given, is find(line, *probe)'s, the directory unchanged since.
  // Sse41: the caller runs only when the host has SSE4.1 (the LRU search takes it without testing).
  template <bool Sse41 = false>
  [[gnu::always_inline]] std::size_t claim_for(PhysAddr line, int cpu, PhysAddr& evicted, std::uint64_t& evicted_cpus,
                                               std::uint64_t& others, const Probe* probe = nullptr) {
    bool fresh;
    const std::size_t e = claim<Sse41>(line, evicted, fresh, probe);
    const std::uint64_t old = cpus_[e];
    evicted_cpus = evicted != kEmpty ? old : 0;
    const std::uint64_t bit = 1ull << bit_of(cpu);
    const std::uint64_t kept = fresh ? 0 : old;
    others = kept & ~bit;
    cpus_[e] = kept | bit;
    return e;
  }
  // What claim_lines gives for a line: claim_for's results.
  struct Claim {
    std::size_t entry;
    PhysAddr evicted;            // the line whose entry it took (~0: none)
    std::uint64_t evicted_cpus;  // that line's CPUs that may hold it (`held`'s; 0 when none was evicted)
    std::uint64_t others;        // the entry's CPUs other than `cpu`
  };
  // claim_for(first + j * 64, cpu, ...) of each line j < n <= 64 whose take[j]
  // is not 0, in line order (a cached clear's claims, one per line of its
  // batch): the same entries, stamps, evictions and CPU bits as the calls,
  // with the directory's geometry and clock read once and the sets stepped
  // (line j + 1 is in the set after line j's; set 0 with the next tag past
  // the last set). For at most 64 CPUs (cpu_words() == 1). The caller's work
  // between the calls it replaces must leave the directory alone but for the
  // claimed entries' CPU bits (a snoop's removals, a back-invalidation).
  // An evicted line's CPUs are narrowed by held(evicted, cpus), which must
  // keep every CPU that may still hold the line when the caller
  // back-invalidates it (CacheHierarchy's private_clean: its counts only fall
  // in between). Returns a mask of the lines with work left (bit j: line j's
  // claim has other CPUs or held evicted CPUs), whose out[j] is written; with
  // `all`, out[j] of every line taken is written.
  // `mine` gets a mask of the lines taken that `cpu` may hold (bit j: line
  // j's entry had `cpu` before its claim): a line with no entry, or one
  // without `cpu`, is in none of `cpu`'s private caches. Exact for 8 ways;
  // otherwise every line taken.
  // (A clear of a page no other cache holds has no line with work: the
  // records of 32 bytes a line were most of what the claims stored.)
  template <bool Sse41 = false, class Held>
  [[gnu::always_inline]] std::uint64_t claim_lines(PhysAddr first, std::size_t n, int cpu, const std::uint8_t* take,
                                                   bool all, Held held, Claim* out, std::uint64_t& mine) {
    if (ways_ == 8 && clock_ < stamp_limit_ && stamp_limit_ - clock_ > n) {
      // (A copy of the loop for each case: once the filter is full, the usual
      // state after warm-up, no set has an empty way to look for.)
      if (all)
        return empty_entries_ != 0 ? claim_run<8, Sse41, true, true>(first, n, cpu, take, held, out, mine)
                                   : claim_run<8, Sse41, true, false>(first, n, cpu, take, held, out, mine);
      return empty_entries_ != 0 ? claim_run<8, Sse41, false, true>(first, n, cpu, take, held, out, mine)
                                 : claim_run<8, Sse41, false, false>(first, n, cpu, take, held, out, mine);
    }
    // Another way count, or stamps to renumber on the way: line by line.
    std::uint64_t work = 0;
    mine = 0;
    for (std::size_t j = 0; j < n; ++j) {
      if (!take[j]) continue;
      mine |= std::uint64_t{1} << j;
      Claim c;
      c.entry = claim_for<Sse41>(first + j * 64, cpu, c.evicted, c.evicted_cpus, c.others);
      if (c.evicted_cpus != 0) c.evicted_cpus = held(c.evicted, c.evicted_cpus);
      const bool busy = (c.others | c.evicted_cpus) != 0;
      if (busy || all) out[j] = c;
      work |= static_cast<std::uint64_t>(busy) << j;
    }
    return work;
  }
  // CPUs 0..63 of an entry as a mask (bit c: CPU c; all of them when cpu_words() == 1).
  std::uint64_t cpu_bits(std::size_t entry) const { return cpus_[entry]; }
  // 64-bit words of CPU bits per entry.
  std::size_t cpu_words() const { return words_; }

  // (CPU numbers are not negative: unsigned division by 64 is a shift, a signed one is not.)
  bool has(std::size_t entry, int cpu) const { return (word(entry, word_of(cpu)) >> bit_of(cpu)) & 1u; }
  void add(std::size_t entry, int cpu) { word(entry, word_of(cpu)) |= 1ull << bit_of(cpu); }
  void remove(std::size_t entry, int cpu) { word(entry, word_of(cpu)) &= ~(1ull << bit_of(cpu)); }
  // Whether the entry has a CPU other than `cpu` (a quick test before sharers()).
  bool has_others(std::size_t entry, int cpu) const {
    if (words_ == 1) return (cpus_[entry] & ~(1ull << bit_of(cpu))) != 0;  // up to 64 CPUs: one word
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t b = word(entry, static_cast<int>(w));
      if (static_cast<int>(w) == word_of(cpu)) b &= ~(1ull << bit_of(cpu));
      if (b != 0) return true;
    }
    return false;
  }
  // The CPUs of an entry other than `except`, ascending (appended to `out`).
  void sharers(std::size_t entry, int except, std::vector<int>& out) const;
  // Drops the entry (no copy is left anywhere).
  void erase(std::size_t entry);

  // A host prefetch of the set that would track `line` (no effect on the simulation).
  void host_prefetch(PhysAddr line) const {
    const std::size_t s = set_of(line);
    __builtin_prefetch(block(s));
    __builtin_prefetch(&cpus_[s * ways_]);
  }
  std::size_t capacity() const { return sets_ * ways_; }
  std::size_t sets() const { return sets_; }
  // Tests: renumber the stamps when the clock reaches `limit` (default 2^30 - 1).
  void set_stamp_limit(std::uint32_t limit) { stamp_limit_ = limit; }
  std::uint64_t evictions() const { return evictions_; }
  void reset_stats() { evictions_ = 0; }
  // `n` lines of a deferred clear residue (held by no cache, clear_residue.h)
  // that would have claimed new entries in the exact model: each evicts one
  // once the filter would be full (entries are never freed: the first
  // capacity() claims fill it; only these claims are counted for it, the real
  // ones taking few entries beside them).
  void count_virtual_claims(std::uint64_t n) {
    const std::uint64_t empty = capacity() > virtual_claims_ ? capacity() - virtual_claims_ : 0;
    virtual_claims_ += n;
    evictions_ += n > empty ? n - empty : 0;
  }
  // Takes back `n` evictions counted again when such a line, made real, is tracked.
  void uncount_evictions(std::uint64_t n) { evictions_ -= n; }

 private:
  static constexpr PhysAddr kEmpty = ~PhysAddr(0);
  static constexpr std::uint32_t kEmptyTag = ~std::uint32_t{0};
  // Line number modulo the set count, as the caches index: neighbouring lines
  // sit in neighbouring sets, so a stream of lines walks the table in order.
  std::size_t set_of(PhysAddr line) const { return static_cast<std::size_t>(line >> 6) & set_mask_; }
  // The tag of `line` (kEmptyTag if too large for a tag: it matches nothing).
  std::uint32_t tag_of(PhysAddr line) const {
    const std::uint64_t q = line >> (6 + set_shift_);
    return q < kEmptyTag ? static_cast<std::uint32_t>(q) : kEmptyTag;
  }
  // Set s: tags at [0, ways_), stamps at [ways_, 2 * ways_).
  std::uint32_t* block(std::size_t s) { return blocks_.data() + (s << block_shift_); }
  const std::uint32_t* block(std::size_t s) const { return blocks_.data() + (s << block_shift_); }
  std::uint32_t next_stamp() {
    if (clock_ >= stamp_limit_) [[unlikely]] renumber_stamps();
    return ++clock_;
  }
  void renumber_stamps();
  // find_or_insert's look-up and replacement: the entry of `line` (`fresh` when
  // it was claimed now; its CPU bits are then still the evicted line's, if any).
  // (Inline: once per line of a cached clear, whose batch may be compiled for SSE4.1.)
  template <bool Sse41 = false>
  [[gnu::always_inline]] std::size_t claim(PhysAddr line, PhysAddr& evicted, bool& fresh,
                                           const Probe* probe = nullptr) {
    evicted = kEmpty;
    fresh = false;
    const std::size_t s = probe ? probe->set : set_of(line);
    const std::uint32_t tag = probe ? probe->tag : tag_of(line);
    if (tag == kEmptyTag) [[unlikely]]
      die_untrackable(line);
    std::uint32_t* tags = block(s);
    std::uint32_t* stamp = tags + ways_;
    // One branch-free pass: the way holding the line, the first empty way and
    // the first way with the least stamp (the LRU victim when none is empty);
    // 8, 16 and 64 ways by a copy of the pass compiled for their way count.
    std::size_t present, empty, lru;
    const std::uint64_t* hit = probe ? &probe->hit : nullptr;
    if (ways_ == 8)
      scan_ways<8, Sse41>(tags, tag, present, empty, lru, hit);
    else if (ways_ == 16)
      scan_ways<16, Sse41>(tags, tag, present, empty, lru, hit);
    else if (ways_ == 64)  // the epyc-genoa configurations' filter
      scan_ways<64, Sse41>(tags, tag, present, empty, lru, hit);
    else
      scan_ways<0>(tags, tag, present, empty, lru);
    if (present < ways_) {
      stamp[present] = next_stamp();
      return s * ways_ + present;
    }
    const std::size_t victim = empty < ways_ ? empty : lru;
    const std::size_t e = s * ways_ + victim;
    if (tags[victim] != kEmptyTag) {
      ++evictions_;
      evicted = ((static_cast<PhysAddr>(tags[victim]) << set_shift_) | s) << 6;
    } else {
      --empty_entries_;
    }
    tags[victim] = tag;
    stamp[victim] = next_stamp();
    fresh = true;
    return e;
  }
  [[noreturn, gnu::cold, gnu::noinline]] static void die_untrackable(PhysAddr line);
  // claim_lines for W ways (the clock not reaching the stamp limit on the way).
  // The lines in runs of consecutive sets up to the table's end: one tag per
  // run, its set blocks stepped by a pointer.
  // All: every claim's record stored (claim_lines' `all`); AnyEmpty: the filter has an empty entry left.
  template <std::size_t W, bool Sse41, bool All, bool AnyEmpty, class Held>
  [[gnu::always_inline]] std::uint64_t claim_run(PhysAddr first, std::size_t n, int cpu, const std::uint8_t* take,
                                                 Held& held, Claim* out, std::uint64_t& mine_out) {
    std::uint32_t* const blocks = blocks_.data();
    std::uint64_t* const cpus = cpus_.data();
    const unsigned set_shift = set_shift_;
    const std::size_t stride = std::size_t{1} << block_shift_;
    const std::uint64_t bit = 1ull << bit_of(cpu);
    std::uint32_t clock = clock_;
    std::uint64_t evictions = 0, work = 0, mine = 0;
    // (The empty entries' count in a local: the stores into the CPU bits would make it read again.)
    std::size_t empty_left = empty_entries_;
    std::size_t s = set_of(first);
    std::uint64_t q = first >> (6 + set_shift);
    for (std::size_t j = 0; j < n; s = 0, ++q) {
      const std::size_t end = std::min(n, j + (sets_ - s));
      if (q >= kEmptyTag) [[unlikely]] {
        for (std::size_t i = j; i < end; ++i)
          if (take[i]) die_untrackable(first + i * 64);
        j = end;
        continue;
      }
      const auto tag = static_cast<std::uint32_t>(q);
      std::uint32_t* tags = blocks + (s << block_shift_);
      for (; j < end; ++j, ++s, tags += stride) {
        if (!take[j]) continue;
        // claim()'s steps: the way holding the line, else the first empty way,
        // else the first way with the least stamp (only then are the stamps read).
        const std::uint64_t hit = ways_equal_fixed<W>(tags, tag);
        std::uint64_t free = 0;
        if constexpr (AnyEmpty) free = hit == 0 && empty_left != 0 ? ways_equal_fixed<W>(tags, kEmptyTag) : 0;
        std::size_t way;
        PhysAddr evicted = kEmpty;
        if (hit != 0) {
          way = static_cast<std::size_t>(__builtin_ctzll(hit));
          mine |= static_cast<std::uint64_t>((cpus[s * W + way] & bit) != 0) << j;
        } else {
          if (AnyEmpty && free != 0) {
            way = static_cast<std::size_t>(__builtin_ctzll(free));
            --empty_left;
          } else {
            way = least_stamp_way<W, Sse41>(tags);
            ++evictions;
            evicted = ((static_cast<PhysAddr>(tags[way]) << set_shift) | s) << 6;
          }
          tags[way] = tag;
        }
        tags[W + way] = ++clock;
        // claim_for's steps.
        const std::size_t entry = s * W + way;
        const std::uint64_t old = cpus[entry];
        const std::uint64_t kept = hit != 0 ? old : 0;
        cpus[entry] = kept | bit;
        const std::uint64_t others = kept & ~bit;
        const std::uint64_t evicted_cpus = evicted != kEmpty && old != 0 ? held(evicted, old) : 0;
        const std::uint64_t busy = others | evicted_cpus;
        if (All || busy != 0) {
          out[j] = Claim{entry, evicted, evicted_cpus, others};
          work |= static_cast<std::uint64_t>(busy != 0) << j;
        }
      }
    }
    empty_entries_ = empty_left;
    mine_out = mine;
    clock_ = clock;
    evictions_ += evictions;
    return work;
  }
  // The first way of a full W-way set block with the least stamp (its LRU entry).
  template <std::size_t W, bool Sse41>
  [[gnu::always_inline]] static std::size_t least_stamp_way(const std::uint32_t* tags) {
    std::uint32_t least;
#if defined(__x86_64__)
    if constexpr (Sse41) return least_word_sse41<W>(tags + W, W, least);
#endif
    return first_least_word<W>(tags + W, W, least);
  }
  // claim()'s pass over a set block for W ways (W = 0: ways_): the way holding
  // `tag`, the first empty way, the first way with the least stamp (ways_ if none for the first two).
  // `known_hit`: the tag compare's result when a probe has it already (W >= 8).
  template <std::size_t W, bool Sse41 = false>
  [[gnu::always_inline]] void scan_ways(const std::uint32_t* tags, std::uint32_t tag, std::size_t& present,
                                        std::size_t& empty, std::size_t& lru,
                                        const std::uint64_t* known_hit = nullptr) const {
    if constexpr (W >= 8) {
      // The tags by whole-set compares (way_scan.h); the stamps only when the set is full.
      const std::uint64_t hit = known_hit ? *known_hit : ways_equal_fixed<W>(tags, tag);
      // (Once every entry is taken, the usual state after warm-up, no set has an empty way to look for.)
      const std::uint64_t free = empty_entries_ != 0 ? ways_equal_fixed<W>(tags, kEmptyTag) : 0;
      present = hit ? static_cast<std::size_t>(__builtin_ctzll(hit)) : ways_;
      empty = free ? static_cast<std::size_t>(__builtin_ctzll(free)) : ways_;
      lru = hit || free ? 0 : least_stamp_way<W, Sse41>(tags);
      return;
    }
    const std::size_t n = W ? W : ways_;
    const std::uint32_t* stamp = tags + n;
    std::size_t p = n, e = n, l = 0;
    std::uint32_t least = stamp[0];
    for (std::size_t w = n; w-- > 0;) {
      p = tags[w] == tag ? w : p;
      e = tags[w] == kEmptyTag ? w : e;
      const bool le = stamp[w] <= least;
      l = le ? w : l;
      least = le ? stamp[w] : least;
    }
    present = p == n ? ways_ : p;
    empty = e == n ? ways_ : e;
    lru = l;
  }
  static int word_of(int cpu) { return static_cast<int>(static_cast<unsigned>(cpu) / 64); }
  static unsigned bit_of(int cpu) { return static_cast<unsigned>(cpu) % 64; }
  std::uint64_t& word(std::size_t entry, int w) {
    return w == 0 ? cpus_[entry] : extra_[entry * (words_ - 1) + static_cast<std::size_t>(w - 1)];
  }
  std::uint64_t word(std::size_t entry, int w) const {
    return w == 0 ? cpus_[entry] : extra_[entry * (words_ - 1) + static_cast<std::size_t>(w - 1)];
  }

  std::size_t ways_, sets_, set_mask_, words_;
  unsigned set_shift_ = 0, block_shift_ = 0;
  HostArray<std::uint32_t> blocks_;  // set blocks (tags, then stamps)
  HostArray<std::uint64_t> cpus_;     // CPUs 0..63: [set * ways + way]
  HostArray<std::uint64_t> extra_;   // CPUs 64 and up: [entry * (words_ - 1) + w - 1]
  std::uint32_t clock_ = 0;
  std::uint32_t stamp_limit_ = (std::uint32_t{1} << 30) - 1;
  std::uint64_t evictions_ = 0;
  std::size_t empty_entries_ = 0;     // entries tracking no line (all at first; erase() adds one)
  std::uint64_t virtual_claims_ = 0;  // count_virtual_claims()'s lines so far
};

}  // namespace numasim::hw
