// Paging-structure caches (see page_walk_cache.h).
#include "hw/page_walk_cache.h"

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
    a.entries.resize(sizes[i]);
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

namespace {
// The entry of key k in array a (const or not), or nullptr.
template <class Array>
auto* find_entry(Array& a, std::uint64_t k) {
  if (a.entries.empty()) return decltype(&a.entries[0])(nullptr);
  auto* set = &a.entries[((k >> 17) & a.set_mask) * a.ways];
  for (std::uint32_t w = 0; w < a.ways; ++w)
    if (set[w].key == k) return &set[w];
  return decltype(set)(nullptr);
}
}  // namespace

PageWalkCache::Entry* PageWalkCache::find(Array& a, std::uint64_t k) { return find_entry(a, k); }

PageWalkCache::Hit PageWalkCache::peek(Asid asid, VirtAddr va) const {
  for (int next = 3; next >= 1; --next)
    if (const Entry* e = find_entry(arrays_[next - 1], key(asid, va, next))) return {next, e->table};
  return {};
}

PageWalkCache::Hit PageWalkCache::lookup(Asid asid, VirtAddr va) {
  for (int next = 3; next >= 1; --next) {
    if (Entry* e = find(arrays_[next - 1], key(asid, va, next))) {
      e->last_use = ++tick_;
      ++stats_.hits[next - 1];
      return {next, e->table};
    }
  }
  ++stats_.misses;
  return {};
}

void PageWalkCache::insert(Asid asid, VirtAddr va, int next_level, PhysAddr table) {
  Array& a = arrays_[next_level - 1];
  if (a.entries.empty()) return;
  const std::uint64_t k = key(asid, va, next_level);
  Entry* set = &a.entries[((k >> 17) & a.set_mask) * a.ways];
  Entry* victim = &set[0];
  for (std::uint32_t w = 0; w < a.ways; ++w) {
    if (set[w].key == k) {
      victim = &set[w];
      break;
    }
    if (set[w].key == 0) {
      if (victim->key != 0) victim = &set[w];
    } else if (victim->key != 0 && set[w].last_use < victim->last_use) {
      victim = &set[w];
    }
  }
  victim->key = k;
  victim->table = table;
  victim->last_use = ++tick_;
}

void PageWalkCache::invalidate_asid(Asid asid) {
  for (Array& a : arrays_)
    for (Entry& e : a.entries)
      if (e.key != 0 && Asid((e.key >> 1) & 0xffff) == asid) e = Entry{};
}

void PageWalkCache::invalidate_all() {
  for (Array& a : arrays_)
    for (Entry& e : a.entries) e = Entry{};
}

}  // namespace numasim::hw
