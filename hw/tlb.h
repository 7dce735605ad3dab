// Translation lookaside buffers of one CPU: first-level data TLB arrays (one per
// page size on Intel cores) and a unified second-level TLB (STLB), each a
// set-associative array with LRU replacement, its own hit latency and the set of
// page sizes it may hold. Entries are tagged with the ASID (x86 PCID) so that a
// context switch need not flush. Invalidation by page, range, ASID or all, as
// the OS's shootdowns ask. Hit and miss counters per level and page size.
//
// Simplifications: no global pages (user translations only), no separate
// instruction TLB, fills are inclusive (a walk fills both levels), a miss in a
// level is counted once per translation, under the page size it resolved to.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

using Asid = std::uint16_t;  // same as os::Asid (PCID)

enum class PageSize : std::uint8_t { k4K = 0, k2M = 1, k1G = 2 };
inline constexpr int kNumPageSizes = 3;
inline constexpr std::array<unsigned, kNumPageSizes> kPageSizeShift = {12, 21, 30};
inline constexpr unsigned page_shift(PageSize s) { return kPageSizeShift[static_cast<unsigned>(s)]; }
inline constexpr std::uint64_t page_bytes(PageSize s) { return 1ull << page_shift(s); }
const char* page_size_name(PageSize s);  // "4K", "2M", "1G"

using PageSizeMask = std::uint8_t;  // bit i set: holds PageSize(i)
inline constexpr PageSizeMask page_size_bit(PageSize s) { return PageSizeMask(1u << static_cast<unsigned>(s)); }

// Permission and state bits cached with a translation.
inline constexpr std::uint8_t kTlbWritable = 1u << 0;
inline constexpr std::uint8_t kTlbUser = 1u << 1;
inline constexpr std::uint8_t kTlbDirty = 1u << 2;  // the PTE's dirty bit is known set

struct TlbEntry {
  std::uint64_t key = 0;       // (vpn << 19) | (asid << 3) | (size << 1) | valid; 0 = invalid
  PhysAddr page_base = 0;      // physical address of the page
  std::uint8_t flags = 0;      // kTlb*

  static constexpr std::uint64_t make_key(Asid asid, VirtAddr va, PageSize size) {
    return ((va >> page_shift(size)) << 19) | (std::uint64_t(asid) << 3) |
           (std::uint64_t(static_cast<unsigned>(size)) << 1) | 1u;
  }
  bool valid() const { return key != 0; }
  Asid asid() const { return Asid((key >> 3) & 0xffff); }
  PageSize size() const { return PageSize((key >> 1) & 3); }
  VirtAddr va_base() const { return (key >> 19) << page_shift(size()); }
};

struct TlbArrayParams {
  std::string name = "l1d_4k";
  std::uint32_t entries = 64;
  std::uint32_t ways = 4;
  std::uint32_t latency_cycles = 0;  // added to a hit (0: hidden in the L1D load-to-use)
  PageSizeMask page_sizes = page_size_bit(PageSize::k4K);

  // Reads entries, ways, latency, page_sizes ("4K,2M") from `cfg`, defaults from `def`.
  static TlbArrayParams from_config(Config cfg, const TlbArrayParams& def);
};

// One set-associative TLB array.
class TlbArray {
 public:
  // Aborts unless entries is a multiple of ways with a power-of-two set count (from_config checks).
  // `recency_order` (at most 16 ways; the Tlb asks it for its second level):
  // each set keeps its ways in order of last use instead of a stamp per way
  // (see order_), the same victims chosen.
  explicit TlbArray(const TlbArrayParams& params, bool recency_order = false);

  const TlbArrayParams& params() const { return params_; }
  bool holds(PageSize s) const { return (params_.page_sizes & page_size_bit(s)) != 0; }
  // Valid entries of page size `s` (a look-up skips a size the array holds none of:
  // on 4 KiB pages, an STLB probe of the 2 MiB set).
  std::uint32_t valid_of(PageSize s) const { return valid_by_size_[static_cast<unsigned>(s)]; }

  // Probe for a translation of `va` by a page of size `s`; updates LRU on a hit.
  TlbEntry* probe(Asid asid, VirtAddr va, PageSize s) {
    return ordered_ ? probe_as<true>(asid, va, s) : probe_as<false>(asid, va, s);
  }
  // probe() of an array known to keep stamps (Ordered false) or its order of use
  // (the first level's hit path: Tlb builds it with stamps, no test per hit).
  template <bool Ordered>
  TlbEntry* probe_as(Asid asid, VirtAddr va, PageSize s) {
    assert(Ordered == ordered_);
    const std::uint64_t key = TlbEntry::make_key(asid, va, s);
    const std::size_t set_index = (va >> page_shift(s)) & set_mask_;
    const std::size_t first = set_index * ways_;
    TlbEntry* set = &entries_[first];
    std::uint32_t w = 0;
    if (ways_ == 4) {
      // Skylake's first level, unrolled: three host instructions a way, where
      // the loop's count and bound took as many again (every way of a missing
      // probe: once per reference of GUPS).
      if (set[0].key == key)
        w = 0;
      else if (set[1].key == key)
        w = 1;
      else if (set[2].key == key)
        w = 2;
      else if (set[3].key == key)
        w = 3;
      else
        return nullptr;
    } else {
      while (w < ways_ && set[w].key != key) ++w;
      if (w == ways_) return nullptr;
    }
    touch<Ordered>(set_index, w);
    return &set[w];
  }
  // probe() for a look-up that usually misses (the STLB's, the larger pages'):
  // every way's key compared without an exit, unrolled for 4 and 12 ways.
  // Same answer and LRU update. Inline: on GUPS it runs once per walk.
  TlbEntry* probe_every_way(Asid asid, VirtAddr va, PageSize s) {
    const std::uint64_t key = TlbEntry::make_key(asid, va, s);
    const std::size_t set_index = (va >> page_shift(s)) & set_mask_;
    const std::size_t first = set_index * ways_;
    const std::uint32_t w = ways_ == 4    ? matching_way<4>(first, key)
                            : ways_ == 12 ? matching_way<12>(first, key)
                                          : matching_way<0>(first, key);
    if (w == ways_) return nullptr;
    if (ordered_)
      touch<true>(set_index, w);
    else
      touch<false>(set_index, w);
    return &entries_[first + w];
  }
  // Installs (replacing the LRU way of the set, or the same translation if present).
  // `absent`: the caller knows the array holds no such translation (its probe
  // missed since): the set's keys are not compared (a 12-way STLB set's
  // compares were a third of an insert after each walk), the same way chosen.
  // Meant inline (a walk fills two arrays), but since both replacement kinds
  // are in its body GCC keeps it out of line in translate_slow (forcing it
  // inline moved fill_after_walk and fill_l1 out instead: worse, WALK3).
  void insert(Asid asid, VirtAddr va, PageSize s, PhysAddr page_base, std::uint8_t flags, bool absent = false) {
    const std::uint64_t key = TlbEntry::make_key(asid, va, s);
    const std::size_t set_index = (va >> page_shift(s)) & set_mask_;
    const std::size_t first = set_index * ways_;
    // The same translation if present, else the first invalid way, else the
    // first least recently used. Skylake's arrays have 4 and 12 ways.
    std::uint32_t w;
    if (ordered_) {
      w = absent ? ways_ : ways_ == 12 ? matching_way<12>(first, key) : matching_way<0>(first, key);
      if (w == ways_) w = ordered_victim(set_index);
    } else {
      w = ways_ == 4    ? victim_way<4>(first, key, !absent)
          : ways_ == 12 ? victim_way<12>(first, key, !absent)
                        : victim_way<0>(first, key, !absent);
    }
    // A caller that passes `absent` wrongly (Mmu::translate_slow without the
    // access's translate_fast before it) would hold the key twice in the set.
    assert(!absent || matching_way<0>(first, key) == ways_);
    TlbEntry& e = entries_[first + w];
    if (e.valid()) --valid_by_size_[static_cast<unsigned>(e.size())];
    ++valid_by_size_[static_cast<unsigned>(s)];
    e.key = key;
    e.page_base = page_base;
    e.flags = flags;
    if (!ordered_) {
      touch<false>(set_index, w);
    } else if (const std::uint64_t o = order_[set_index]; w == (o & 15u) && valid_ways_[set_index] == all_ways_) {
      // A full set's least recent way (a fill after a walk): the order rotates.
      order_[set_index] = (o >> 4) | (std::uint64_t{w} << order_top_);
    } else {
      valid_ways_[set_index] = static_cast<std::uint16_t>(valid_ways_[set_index] | (1u << w));
      touch<true>(set_index, w);
    }
  }

  // Invalidation; each returns how many entries it dropped.
  int invalidate_page(Asid asid, VirtAddr va);                  // every size covering va
  int invalidate_range(Asid asid, VirtAddr start, VirtAddr end);  // entries overlapping [start, end)
  int invalidate_asid(Asid asid);
  int invalidate_all();
  int valid_entries() const;

 private:
  void drop(TlbEntry& e) {
    --valid_by_size_[static_cast<unsigned>(e.size())];
    e = TlbEntry{};
    const auto i = static_cast<std::size_t>(&e - entries_.data());
    if (ordered_)
      valid_ways_[i / ways_] = static_cast<std::uint16_t>(valid_ways_[i / ways_] & ~(1u << (i % ways_)));
    else
      stamps_[i] = 0;
  }
  // Way w of set `set_index` was just used (a hit or a fill).
  template <bool Ordered>
  void touch(std::size_t set_index, std::uint32_t w) {
    if constexpr (!Ordered) {
      stamps_[set_index * ways_ + w] = ++tick_;
    } else {
      // w's nibble moves to the most recent end; the ways above it move down one.
      std::uint64_t o = order_[set_index];
      const unsigned top = order_top_;
      if ((o >> top) == w) return;  // already the most recent
      // The lowest nibble equal to w (each way is in the word once; the
      // borrow of the subtraction only marks nibbles above the first zero).
      constexpr std::uint64_t kOnes = 0x1111111111111111ull;
      const std::uint64_t x = o ^ (kOnes * w);
      const unsigned at = static_cast<unsigned>(__builtin_ctzll((x - kOnes) & ~x & (kOnes << 3))) & ~3u;
      o = (o & ((std::uint64_t{1} << at) - 1)) | ((o >> (at + 4)) << at) | (std::uint64_t{w} << top);
      order_[set_index] = o;
    }
  }
  // The way an insertion of a translation the set does not hold fills in a
  // recency-ordered array: the first invalid way, else the least recently used
  // (the stamps' choice: an invalid way's stamp 0 is the least, the first such
  // way chosen; valid ways' stamps differ and rank them by last use).
  std::uint32_t ordered_victim(std::size_t set_index) const {
    const std::uint32_t free = ~std::uint32_t{valid_ways_[set_index]} & all_ways_;
    return free ? static_cast<std::uint32_t>(__builtin_ctz(free)) : static_cast<std::uint32_t>(order_[set_index] & 15u);
  }
  // The way of the set of `first` (index of its way 0) holding `key`, or the
  // way count if none. N: the way count when known at compile time (0: ways_).
  template <std::uint32_t N>
  std::uint32_t matching_way(std::size_t first, std::uint64_t key) const {
    // A loop without an exit, unrolled for the usual way counts: keys are
    // unique in a set, so any matching way is the one.
    const std::uint32_t n = N ? N : ways_;
    const TlbEntry* set = &entries_[first];
    std::uint32_t match = n;
    for (std::uint32_t w = 0; w < n; ++w) match = set[w].key == key ? w : match;
    return match;
  }
  // The way insert() fills: the way holding `key` (looked for only when
  // `search`), else the first way with the least stamp (an invalid way's is 0).
  template <std::uint32_t N>
  std::uint32_t victim_way(std::size_t first, std::uint64_t key, bool search) const {
    const std::uint32_t n = N ? N : ways_;
    const std::uint64_t* stamp = &stamps_[first];
    // The first least stamp without a branch per way (on a full set the
    // stamps' order is a coin toss for the host's branch predictor).
    const std::uint32_t match = search ? matching_way<N>(first, key) : n;
    std::uint32_t victim = 0;
    std::uint64_t least = stamp[0];
    for (std::uint32_t w = 1; w < n; ++w) {
      const bool less = stamp[w] < least;
      least = less ? stamp[w] : least;
      victim = less ? w : victim;
    }
    return match != n ? match : victim;
  }
  TlbArrayParams params_;
  std::uint32_t ways_;
  std::uint64_t set_mask_;
  std::uint64_t tick_ = 0;
  std::array<std::uint32_t, kNumPageSizes> valid_by_size_{};
  std::vector<TlbEntry> entries_;
  // LRU stamps beside the entries, [set * ways + way] (0: invalid, else the
  // tick of the latest fill or hit): a set's stamps are contiguous, so the
  // victim search reads ways x 8 bytes, and an entry is 24 bytes, not 32.
  // Empty in a recency-ordered array.
  std::vector<std::uint64_t> stamps_;
  // A recency-ordered array (ordered_): per set, its ways by last use, one
  // 4-bit way number each, the least recent in the low bits, and a bit per
  // valid way. A fill of a full set (every walk of a TLB-missing stream fills
  // the STLB) takes the low way and rotates the word, where the stamps'
  // victim search compared all 12 ways' stamps. An invalidated way keeps its
  // place: it is filled (made the most recent) before the set is full again,
  // so among valid ways the order is the order of last use.
  bool ordered_ = false;

 public:
  bool recency_ordered() const { return ordered_; }

 private:
  std::uint32_t all_ways_ = 0;  // a bit per way
  unsigned order_top_ = 0;      // the most recent way's shift: 4 * (ways - 1)
  std::vector<std::uint64_t> order_;
  std::vector<std::uint16_t> valid_ways_;
};

struct TlbParams {
  std::vector<TlbArrayParams> l1;  // first level: looked up first, usually one array per size
  std::vector<TlbArrayParams> l2;  // second level (STLB)
  bool pcid = true;                // tagged by ASID; false: a context switch flushes everything

  // Skylake-SP (DESIGN.md, Reference figures): L1 DTLB 4K 64x4, 2M 32x4, 1G 4x4;
  // STLB 1536x12 for 4K and 2M, 16x4 for 1G, 9 cycles (7-cpu.com).
  static TlbParams skylake();
  // [tlb] pcid, [[tlb.l1]] and [[tlb.l2]] arrays of {name, entries, ways, latency, page_sizes};
  // absent arrays take the Skylake defaults.
  static TlbParams from_config(Config tlb);
};

struct TlbLevelStats {
  std::array<std::uint64_t, kNumPageSizes> hits{};
  std::array<std::uint64_t, kNumPageSizes> misses{};
  std::uint64_t total_hits() const { return hits[0] + hits[1] + hits[2]; }
  std::uint64_t total_misses() const { return misses[0] + misses[1] + misses[2]; }
};

struct TlbHit {
  const TlbEntry* entry = nullptr;
  std::uint32_t latency_cycles = 0;
};

// The TLBs of one CPU.
class Tlb {
 public:
  explicit Tlb(const TlbParams& params);

  const TlbParams& params() const { return params_; }

  // First level: probes the arrays for every page size, smallest first. Counts the hit.
  // The 4 KiB probe (the hit path) first; then the larger sizes, where an
  // array holding no entry of the size is not probed (on 4 KiB pages the
  // 2 MiB and 1 GiB arrays are empty, and each probe compared every way of a
  // set on every L1 miss). Inline too: a call per L1 miss saved nothing on
  // the hit path (measured) and cost every walk of GUPS.
  TlbHit lookup_l1(Asid asid, VirtAddr va) {
    const int i = l1_by_size_[0];
    if (i >= 0) {
      TlbArray& a = l1_[static_cast<std::size_t>(i)];
      if (TlbEntry* e = a.probe_as<false>(asid, va, PageSize::k4K)) {  // first level: stamps
        ++stats_[0].hits[0];
        return {e, a.params().latency_cycles};
      }
    }
    return probe_sizes<0, 1>(asid, va);
  }
  // Second level (after an L1 miss). Counts the hit, and the L1 miss under the entry's size.
  // Inline, as the L1's larger sizes: on GUPS every reference walks, and the
  // calls with their loops over the sizes were half of the look-up.
  TlbHit lookup_l2(Asid asid, VirtAddr va) { return probe_sizes<1, 0>(asid, va); }
  // After a walk: fills both levels where a page of this size fits, counts the misses.
  // `absent`: no level holds a translation of va (both look-ups missed since; TlbArray::insert).
  void fill_after_walk(Asid asid, VirtAddr va, PageSize s, PhysAddr page_base, std::uint8_t flags,
                       bool absent = false) {
    const int si = static_cast<int>(s);
    ++stats_[0].misses[si];
    ++stats_[1].misses[si];
    fill_l1(asid, va, s, page_base, flags, absent);
    const int i = l2_by_size_[si];
    if (i >= 0) l2_[static_cast<std::size_t>(i)].insert(asid, va, s, page_base, flags, absent);
  }
  // After an L2 hit: fills the first level.
  void fill_l1(Asid asid, VirtAddr va, PageSize s, PhysAddr page_base, std::uint8_t flags, bool absent = false) {
    const int i = l1_by_size_[static_cast<int>(s)];
    if (i >= 0) l1_[static_cast<std::size_t>(i)].insert(asid, va, s, page_base, flags, absent);
  }
  // Latency of a second-level lookup (a hit, or the probe before a walk).
  std::uint32_t l2_latency_cycles() const { return l2_latency_; }

  int invalidate_page(Asid asid, VirtAddr va);
  int invalidate_range(Asid asid, VirtAddr start, VirtAddr end);
  int invalidate_asid(Asid asid);
  int invalidate_all();

  const TlbLevelStats& stats(int level) const { return stats_[level]; }  // 0 = L1, 1 = L2
  void reset_stats() { stats_ = {}; }
  // Reach: entries x page size summed over the arrays of a level holding `s`.
  std::uint64_t reach_bytes(int level, PageSize s) const;
  const std::vector<TlbArray>& arrays(int level) const { return level == 0 ? l1_ : l2_; }

 private:
  // The first array of level `Level` (0: L1, 1: STLB) holding a translation of va by
  // a page of size `From` or larger, sizes an array holds none of skipped;
  // counts the hit (an STLB hit also as an L1 miss).
  template <int Level, int From>
  TlbHit probe_sizes(Asid asid, VirtAddr va) {
    std::vector<TlbArray>& arrays = Level == 0 ? l1_ : l2_;
    const std::array<int, kNumPageSizes>& by_size = Level == 0 ? l1_by_size_ : l2_by_size_;
    for (int s = From; s < kNumPageSizes; ++s) {
      const int i = by_size[s];
      if (i < 0) continue;
      TlbArray& a = arrays[static_cast<std::size_t>(i)];
      if (a.valid_of(PageSize(s)) == 0) continue;
      if (TlbEntry* e = a.probe_every_way(asid, va, PageSize(s))) {
        ++stats_[Level].hits[s];
        if (Level == 1) ++stats_[0].misses[s];
        return {e, a.params().latency_cycles};
      }
    }
    return {};
  }
  TlbParams params_;
  std::vector<TlbArray> l1_, l2_;
  std::array<int, kNumPageSizes> l1_by_size_{-1, -1, -1};  // index into l1_ of the array holding a size
  std::array<int, kNumPageSizes> l2_by_size_{-1, -1, -1};
  std::uint32_t l2_latency_ = 0;
  std::array<TlbLevelStats, 2> stats_{};
};

}  // namespace numasim::hw
