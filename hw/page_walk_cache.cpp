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
    a.last_use.assign(sizes[i], 0);
    a.table.assign(sizes[i], 0);
    if (sizes[i] == 0) continue;
    a.ways = params.ways == 0 || params.ways > sizes[i] ? sizes[i] : params.ways;
    const std::uint32_t sets = sizes[i] / a.ways;
    if (sizes[i] % a.ways != 0 || !is_pow2(sets)) {
      std::fprintf(stderr, "numasim: internal error: page-walk cache geometry %u/%u\n", sizes[i], a.ways);
      std::abort();
    }
    a.set_mask = sets - 1;
  }
}

long PageWalkCache::Array::find(std::uint64_t k) const {
  if (keys.empty()) return -1;
  const std::size_t base = set_base(k);
  const std::uint64_t* set = keys.data() + base;
  for (std::uint32_t w = 0; w < ways; ++w)
    if (set[w] == k) return static_cast<long>(base + w);
  return -1;
}

PageWalkCache::Hit PageWalkCache::peek(Asid asid, VirtAddr va) const {
  for (int next = 3; next >= 1; --next) {
    const Array& a = arrays_[next - 1];
    const long e = a.find(key(asid, va, next));
    if (e >= 0) return {next, a.table[static_cast<std::size_t>(e)]};
  }
  return {};
}

PageWalkCache::Hit PageWalkCache::lookup(Asid asid, VirtAddr va) {
  for (int next = 3; next >= 1; --next) {
    Array& a = arrays_[next - 1];
    const long e = a.find(key(asid, va, next));
    if (e >= 0) {
      a.last_use[static_cast<std::size_t>(e)] = ++tick_;
      ++stats_.hits[next - 1];
      return {next, a.table[static_cast<std::size_t>(e)]};
    }
  }
  ++stats_.misses;
  return {};
}

void PageWalkCache::insert(Asid asid, VirtAddr va, int next_level, PhysAddr table) {
  Array& a = arrays_[next_level - 1];
  if (a.keys.empty()) return;
  const std::uint64_t k = key(asid, va, next_level);
  const std::size_t base = a.set_base(k);
  const std::uint64_t* keys = a.keys.data() + base;
  const std::uint64_t* used = a.last_use.data() + base;
  // The entry already holding k (rare: a walk inserts the levels it did not
  // find), else the first empty entry, else the least recently used: empty
  // entries' last use is 0, below every used entry's, so the victim is the
  // first entry with the least last use, found as the least of (last use,
  // way) pairs packed in one word (a compare and a conditional move per entry;
  // ways <= 4096 and ticks below 2^52).
  std::size_t victim = a.ways;
  for (std::uint32_t w = 0; w < a.ways; ++w)
    if (keys[w] == k) {
      victim = w;
      break;
    }
  if (victim == a.ways) {
    std::uint64_t least = ~std::uint64_t{0};
    for (std::uint32_t w = 0; w < a.ways; ++w) least = std::min(least, (used[w] << 12) | w);
    victim = static_cast<std::size_t>(least & 4095u);
  }
  const std::size_t i = base + static_cast<std::size_t>(victim);
  a.keys[i] = k;
  a.table[i] = table;
  a.last_use[i] = ++tick_;
}

void PageWalkCache::invalidate_asid(Asid asid) {
  for (Array& a : arrays_)
    for (std::size_t i = 0; i < a.keys.size(); ++i)
      if (a.keys[i] != 0 && Asid((a.keys[i] >> 1) & 0xffff) == asid) a.clear(i);
}

void PageWalkCache::invalidate_all() {
  for (Array& a : arrays_)
    for (std::size_t i = 0; i < a.keys.size(); ++i) a.clear(i);
}

}  // namespace numasim::hw
