// Paging-structure caches (see page_walk_cache.h).
#include "hw/page_walk_cache.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/config.h"

namespace numasim::hw {

namespace {
bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
}  // namespace

PageWalkCacheParams PageWalkCacheParams::from_config(Config pwc) {
  PageWalkCacheParams p;
  p.pml4e_entries = pwc.get<unsigned>("pml4e_entries", p.pml4e_entries, "PML4E cache entries (0: none)", {0u, 4096u});
  p.pdpte_entries = pwc.get<unsigned>("pdpte_entries", p.pdpte_entries, "PDPTE cache entries (0: none)", {0u, 4096u});
  p.pde_entries = pwc.get<unsigned>("pde_entries", p.pde_entries, "PDE cache entries (0: none)", {0u, 4096u});
  p.ways = pwc.get<unsigned>("ways", p.ways, "associativity of each cache (0: fully associative)", {0u, 4096u});
  if (p.ways != 0) {
    for (auto [name, n] : {std::pair{"pml4e_entries", p.pml4e_entries}, std::pair{"pdpte_entries", p.pdpte_entries},
                           std::pair{"pde_entries", p.pde_entries}}) {
      if (n != 0 && (n % p.ways != 0 || !is_pow2(n / p.ways))) {
        pwc.error(name, std::to_string(n) + " entries must be ways (" + std::to_string(p.ways) +
                            ") times a power of two");
        p.ways = 0;
      }
    }
  }
  return p;
}

PageWalkCache::PageWalkCache(const PageWalkCacheParams& params) {
  const std::uint32_t sizes[3] = {params.pml4e_entries, params.pdpte_entries, params.pde_entries};
  for (int i = 0; i < 3; ++i) {
    Array& a = arrays_[i];
    a.keys.assign(sizes[i], 0);
    a.table.assign(sizes[i], 0);
    if (sizes[i] == 0) continue;
    a.ways = params.ways == 0 || params.ways > sizes[i] ? sizes[i] : params.ways;
    const std::uint32_t sets = sizes[i] / a.ways;
    if (sizes[i] % a.ways != 0 || !is_pow2(sets)) {
      std::fprintf(stderr, "numasim: internal error: page-walk cache geometry %u/%u\n", sizes[i], a.ways);
      std::abort();
    }
    a.set_mask = sets - 1;
    const std::size_t n = sizes[i];
    const std::size_t slots = std::max(2 * n, std::min(Array::kIndexSlotsPerEntry * n, Array::kIndexSlotsCap));
    unsigned bits = 1;
    while ((std::size_t{1} << bits) < slots) ++bits;
    a.index.assign(std::size_t{1} << bits, 0);
    a.index_mask = a.index.size() - 1;
    a.index_shift = 64 - bits;
    a.prev.assign(sizes[i], Array::kNone);
    a.next.assign(sizes[i], Array::kNone);
    a.head.assign(sets, Array::kNone);
    a.tail.assign(sets, Array::kNone);
    a.used.assign(sets, 0);
  }
}

// The list and index steps below are forced inline: replace() runs once per
// walk that misses the PDE cache (every walk of GUPS), and as calls with the
// arrays reloaded in each they cost about twice their work.
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

void PageWalkCache::Array::move_to_tail(std::uint32_t e) {
  unlink(e);
  link_tail(e);
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

void PageWalkCache::Array::remove(std::uint32_t e) {
  unlink(e);
  --used[set_of(keys[e])];
  unindex_entry(e);
  keys[e] = table[e] = 0;
}

void PageWalkCache::insert(Asid asid, VirtAddr va, int next_level, PhysAddr table) {
  Array& a = arrays_[next_level - 1];
  if (a.keys.empty()) return;
  const std::uint64_t k = key(asid, va, next_level);
  // The entry already holding k (rare: a walk inserts the levels it did not
  // find), else the first empty entry of the set, else its least recently used.
  const std::uint32_t held = a.find(k);
  if (held != Array::kNone) {
    a.table[held] = table;
    a.touch(held);
    return;
  }
  a.replace(k, table);
}

void PageWalkCache::Array::replace(std::uint64_t k, PhysAddr t) {
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

void PageWalkCache::invalidate_asid(Asid asid) {
  for (Array& a : arrays_)
    for (std::uint32_t i = 0; i < a.keys.size(); ++i)
      if (a.keys[i] != 0 && Asid((a.keys[i] >> 1) & 0xffff) == asid) a.remove(i);
}

void PageWalkCache::invalidate_all() {
  for (Array& a : arrays_)
    for (std::uint32_t i = 0; i < a.keys.size(); ++i)
      if (a.keys[i] != 0) a.remove(i);
}

}  // namespace numasim::hw
