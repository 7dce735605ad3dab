// Paging-structure caches of one CPU (Intel's "PML4E, PDPTE and PDE caches"):
// small associative arrays that remember, for the upper bits of a virtual
// address, the physical address of the next-level page table, so that a walk
// can skip the levels above it. A hit on the PDE cache leaves one memory access
// (the PTE); PDPTE: two; PML4E: three; a miss everywhere: four (from CR3).
// Tagged by ASID like the TLBs; invalidation by ASID or all (INVLPG and
// shootdowns drop every paging-structure entry of the PCID, as on Intel).
//
// Host layout: each cache keeps its keys and table addresses in separate
// arrays, finds a key through a hash index (open addressing, linear probing:
// a probe or two, where a scan of a 32-entry PDE cache compared every key on
// each of a walk's look-ups, inserts and host prefetches), and keeps each
// set's entries in a list by last use, so an insertion's victim (the first
// empty entry by index, else the least recently used) is the list's head.
// Simplifications: LRU, no hit latency of its own (it is part of the walk's
// first cycle), 4-level paging only (a 5-level PML5E cache is not modelled).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/units.h"
#include "hw/tlb.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

// Levels of the x86-64 page table, numbered as the walker visits them.
enum class PtLevel : std::uint8_t { Pml4 = 0, Pdpt = 1, Pd = 2, Pt = 3 };
inline constexpr int kPtLevels = 4;
// Shift of the virtual-address bits that index a table of `level`: 39, 30, 21, 12.
inline constexpr unsigned pt_index_shift(int level) { return 39u - 9u * static_cast<unsigned>(level); }

struct PageWalkCacheParams {
  std::uint32_t pml4e_entries = 2;   // cache of PML4 entries (-> PDPT address), keyed by VA[47:39]
  std::uint32_t pdpte_entries = 4;   // cache of PDPT entries (-> PD address), keyed by VA[47:30]
  std::uint32_t pde_entries = 32;    // cache of PD entries (-> PT address), keyed by VA[47:21]
  std::uint32_t ways = 0;            // 0: fully associative

  static PageWalkCacheParams from_config(Config pwc);
};

struct PageWalkCacheStats {
  std::array<std::uint64_t, 3> hits{};  // by cache: 0 PML4E, 1 PDPTE, 2 PDE
  std::uint64_t misses = 0;             // walks that found nothing (start at CR3)
};

class PageWalkCache {
 public:
  explicit PageWalkCache(const PageWalkCacheParams& params);

  struct Hit {
    int next_level = 0;      // first level the walk still has to read (0 = PML4: a full miss)
    PhysAddr table = 0;      // physical address of that level's table (unset on a full miss)
  };
  // The deepest cached level for `va`. Counts a hit or a miss. Inline, as
  // peek and insert_missing: once per walk each, and on GUPS (a PDE miss, a
  // PDPTE hit, a PDE insert per walk) their calls and reloads of the arrays
  // were about half of their cost.
  Hit lookup(Asid asid, VirtAddr va) {
    for (int next = 3; next >= 1; --next) {
      Array& a = arrays_[next - 1];
      const std::uint32_t e = a.find(key(asid, va, next));
      if (e != Array::kNone) {
        a.touch(e);
        ++stats_.hits[next - 1];
        return {next, a.table[e]};
      }
    }
    ++stats_.misses;
    return {};
  }
  // The same answer without touching replacement state or statistics (host prefetching).
  Hit peek(Asid asid, VirtAddr va) const {
    for (int next = 3; next >= 1; --next) {
      const Array& a = arrays_[next - 1];
      const std::uint32_t e = a.find(key(asid, va, next));
      if (e != Array::kNone) return {next, a.table[e]};
    }
    return {};
  }
  // Remember that the table of level `next_level` (1..3) for `va` is at `table`.
  void insert(Asid asid, VirtAddr va, int next_level, PhysAddr table);
  // The same for a level the latest lookup(asid, va) did not find (its hit was
  // above next_level), with no change to the caches since: the entry is known
  // absent, so it is not searched for again (a walk's inserts).
  void insert_missing(Asid asid, VirtAddr va, int next_level, PhysAddr table) {
    Array& a = arrays_[next_level - 1];
    if (!a.keys.empty()) a.replace(key(asid, va, next_level), table);
  }

  void invalidate_asid(Asid asid);
  void invalidate_all();

  const PageWalkCacheStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  // One cache, entry i in keys[i], table[i]; set s at [s * ways, (s + 1) * ways).
  struct Array {
    static constexpr std::uint32_t kNone = ~std::uint32_t{0};
    std::vector<std::uint64_t> keys;  // (va prefix << 17) | (asid << 1) | 1; 0 for an empty entry
    std::vector<PhysAddr> table;
    std::uint32_t ways = 1;
    std::uint64_t set_mask = 0;
    // Hash index: slot -> entry + 1 (0: a free slot); a power of two, at least
    // kIndexSlotsPerEntry slots per entry (at most kIndexSlotsCap by this rule; never
    // fewer than two per entry): a key not held (a PDE miss on a large table,
    // every walk and host prefetch of GUPS over 4 GiB) then mostly finds its
    // home slot free, where at two slots per entry it walked a cluster of
    // uncertain length (a host branch mispredicted: most of peek's time).
    static constexpr std::size_t kIndexSlotsPerEntry = 8, kIndexSlotsCap = 4096;
    // An array of no entries has two free slots (find() then needs no test of its own).
    std::vector<std::uint32_t> index = std::vector<std::uint32_t>(2, 0);
    std::size_t index_mask = 1;  // index.size() - 1
    unsigned index_shift = 63;   // the hash's top bits select the slot
    // Each set's used entries by last use: prev/next by entry, head (least
    // recent) and tail by set; kNone ends a list. used: used entries by set.
    std::vector<std::uint32_t> prev, next, head, tail, used;
    std::size_t set_of(std::uint64_t k) const { return static_cast<std::size_t>((k >> 17) & set_mask); }
    std::size_t home(std::uint64_t k) const {
      return static_cast<std::size_t>((k * 0x9e3779b97f4a7c15ull) >> index_shift);
    }
    // The entry holding key k, or kNone.
    std::uint32_t find(std::uint64_t k) const {
      for (std::size_t s = home(k);; s = (s + 1) & index_mask) {
        const std::uint32_t e = index[s];
        if (e == 0) return kNone;
        if (keys[e - 1] == k) return e - 1;
      }
    }
    // e becomes its set's most recently used (usually it is: a walk after a hit in the same region).
    void touch(std::uint32_t e) {
      if (tail[set_of(keys[e])] != e) move_to_tail(e);
    }
    void move_to_tail(std::uint32_t e);
    void remove(std::uint32_t e);                                // a used entry e becomes empty
    void unlink(std::uint32_t e);
    void link_tail(std::uint32_t e);
    void index_entry(std::uint32_t e);    // slot of keys[e] (not in the index) -> e
    void unindex_entry(std::uint32_t e);  // frees the slot of keys[e] (in the index)
    // Installs k, not held, in its set's first empty entry, else in place of its least recently used.
    void replace(std::uint64_t k, PhysAddr t);
  };
  static std::uint64_t key(Asid asid, VirtAddr va, int next_level) {
    return ((va >> pt_index_shift(next_level - 1)) << 17) | (std::uint64_t(asid) << 1) | 1u;
  }

  std::array<Array, 3> arrays_;  // index next_level - 1
  PageWalkCacheStats stats_;
};

// The list and index steps below are forced inline: replace() runs once per
// walk that misses the PDE cache (every walk of GUPS), and as calls with the
// arrays reloaded in each they cost about twice their work. replace() is
// inline too (its call was a seventh of its cost).
[[gnu::always_inline]] inline void PageWalkCache::Array::unlink(std::uint32_t e) {
  const std::size_t s = set_of(keys[e]);
  (prev[e] == kNone ? head[s] : next[prev[e]]) = next[e];
  (next[e] == kNone ? tail[s] : prev[next[e]]) = prev[e];
}

[[gnu::always_inline]] inline void PageWalkCache::Array::link_tail(std::uint32_t e) {
  const std::size_t s = set_of(keys[e]);
  prev[e] = tail[s];
  next[e] = kNone;
  (tail[s] == kNone ? head[s] : next[tail[s]]) = e;
  tail[s] = e;
}

[[gnu::always_inline]] inline void PageWalkCache::Array::index_entry(std::uint32_t e) {
  std::size_t s = home(keys[e]);
  while (index[s] != 0) s = (s + 1) & index_mask;
  index[s] = e + 1;
}

[[gnu::always_inline]] inline void PageWalkCache::Array::unindex_entry(std::uint32_t e) {
  // Its slot is freed and the entries probed past it move back (deletion in
  // linear probing: each key stays reachable from its home slot).
  const std::size_t mask = index_mask;
  std::size_t hole = home(keys[e]);
  while (index[hole] != e + 1) hole = (hole + 1) & mask;
  for (std::size_t s = (hole + 1) & mask; index[s] != 0; s = (s + 1) & mask) {
    const std::size_t h = home(keys[index[s] - 1]);
    // It may move to the hole unless its home lies cyclically in (hole, s].
    if (((s - h) & mask) >= ((s - hole) & mask)) {
      index[hole] = index[s];
      hole = s;
    }
  }
  index[hole] = 0;
}

inline void PageWalkCache::Array::replace(std::uint64_t k, PhysAddr t) {
  const std::size_t s = set_of(k);
  std::uint32_t e = head[s];
  if (used[s] < ways) [[unlikely]] {
    e = static_cast<std::uint32_t>(s * ways);
    while (keys[e] != 0) ++e;
    keys[e] = k;
    link_tail(e);
    ++used[s];
  } else {
    // remove(e), then e holds k: the set's count stays, and the list changes
    // only when the set has more than one way.
    unindex_entry(e);
    if (tail[s] != e) {
      unlink(e);
      link_tail(e);
    }
    keys[e] = k;
  }
  table[e] = t;
  index_entry(e);
}

}  // namespace numasim::hw
