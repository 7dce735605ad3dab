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

void PageWalkCache::Array::move_to_tail(std::uint32_t e) {
  unlink(e);
  link_tail(e);
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
