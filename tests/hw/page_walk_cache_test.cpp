// Paging-structure caches: deepest level hit, ASID tagging, LRU, invalidation.
#include "hw/page_walk_cache.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace numasim::hw {
namespace {

TEST(PageWalkCache, MissThenDeepestLevelHit) {
  PageWalkCache c(PageWalkCacheParams{});
  const VirtAddr va = 0x7f12'3456'7000;
  EXPECT_EQ(c.lookup(1, va).next_level, 0);
  c.insert(1, va, 1, 0x1000);  // PDPT table
  c.insert(1, va, 2, 0x2000);  // PD table
  PageWalkCache::Hit h = c.lookup(1, va);
  EXPECT_EQ(h.next_level, 2);
  EXPECT_EQ(h.table, 0x2000u);
  c.insert(1, va, 3, 0x3000);  // PT table
  h = c.lookup(1, va + 0x1000);  // same 2 MiB region
  EXPECT_EQ(h.next_level, 3);
  EXPECT_EQ(h.table, 0x3000u);
  // Another 2 MiB region in the same 1 GiB: PDPTE-cache hit only (the PD).
  h = c.lookup(1, va + (4ull << 20));
  EXPECT_EQ(h.next_level, 2);
  // Another 1 GiB region in the same 512 GiB: PML4E hit (the PDPT).
  h = c.lookup(1, va + (4ull << 30));
  EXPECT_EQ(h.next_level, 1);
  EXPECT_EQ(h.table, 0x1000u);
  EXPECT_EQ(c.stats().misses, 1u);
  EXPECT_EQ(c.stats().hits[0], 1u);
  EXPECT_EQ(c.stats().hits[1], 2u);
  EXPECT_EQ(c.stats().hits[2], 1u);
}

TEST(PageWalkCache, TaggedByAsidAndInvalidatedPerAsid) {
  PageWalkCache c(PageWalkCacheParams{});
  c.insert(1, 0x400000, 3, 0x3000);
  c.insert(2, 0x400000, 3, 0x4000);
  EXPECT_EQ(c.lookup(1, 0x400000).table, 0x3000u);
  EXPECT_EQ(c.lookup(2, 0x400000).table, 0x4000u);
  c.invalidate_asid(1);
  EXPECT_EQ(c.lookup(1, 0x400000).next_level, 0);
  EXPECT_EQ(c.lookup(2, 0x400000).next_level, 3);
  c.invalidate_all();
  EXPECT_EQ(c.lookup(2, 0x400000).next_level, 0);
}

TEST(PageWalkCache, CapacityLimitsPdeEntriesWithLru) {
  PageWalkCacheParams p;
  p.pde_entries = 4;
  PageWalkCache c(p);
  for (int i = 0; i < 4; ++i) c.insert(1, VirtAddr(i) << 21, 3, 0x1000 * (i + 1));
  EXPECT_EQ(c.lookup(1, 0).next_level, 3);        // region 0 most recent now
  c.insert(1, VirtAddr(4) << 21, 3, 0x9000);      // evicts region 1 (LRU)
  EXPECT_EQ(c.lookup(1, VirtAddr(1) << 21).next_level, 0);
  EXPECT_EQ(c.lookup(1, 0).next_level, 3);
  EXPECT_EQ(c.lookup(1, VirtAddr(4) << 21).table, 0x9000u);
}

TEST(PageWalkCache, ZeroEntriesDisablesALevel) {
  PageWalkCacheParams p;
  p.pde_entries = 0;
  PageWalkCache c(p);
  c.insert(1, 0x400000, 3, 0x3000);
  c.insert(1, 0x400000, 2, 0x2000);
  EXPECT_EQ(c.lookup(1, 0x400000).next_level, 2);
}

// The paging-structure caches as entries of (key, table, last use), each
// insertion scanning its set for the key, else the first empty entry, else the
// least recently used one: the layout and search PageWalkCache had before its
// keys, last uses and tables were split into arrays (and before its hash index
// and lists by last use).
class ReferencePwc {
 public:
  explicit ReferencePwc(const PageWalkCacheParams& p) {
    const std::uint32_t sizes[3] = {p.pml4e_entries, p.pdpte_entries, p.pde_entries};
    for (int i = 0; i < 3; ++i) {
      a_[i].e.resize(sizes[i]);
      a_[i].ways = p.ways == 0 || p.ways > sizes[i] ? sizes[i] : p.ways;
      a_[i].sets = sizes[i] ? sizes[i] / a_[i].ways : 0;
    }
  }
  PageWalkCache::Hit lookup(Asid asid, VirtAddr va, bool touch) {
    for (int next = 3; next >= 1; --next) {
      Entry* e = find(next, key(asid, va, next));
      if (e) {
        if (touch) e->last_use = ++tick_;
        return {next, e->table};
      }
    }
    return {};
  }
  void insert(Asid asid, VirtAddr va, int next, PhysAddr table) {
    Array& a = a_[next - 1];
    if (a.e.empty()) return;
    const std::uint64_t k = key(asid, va, next);
    Entry* set = &a.e[((k >> 17) & (a.sets - 1)) * a.ways];
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
    *victim = {k, table, ++tick_};
  }
  void invalidate_asid(Asid asid) {
    for (Array& a : a_)
      for (Entry& e : a.e)
        if (e.key != 0 && Asid((e.key >> 1) & 0xffff) == asid) e = Entry{};
  }
  void invalidate_all() {
    for (Array& a : a_)
      for (Entry& e : a.e) e = Entry{};
  }

 private:
  struct Entry {
    std::uint64_t key = 0;
    PhysAddr table = 0;
    std::uint64_t last_use = 0;
  };
  struct Array {
    std::vector<Entry> e;
    std::uint32_t ways = 1, sets = 0;
  };
  static std::uint64_t key(Asid asid, VirtAddr va, int next) {
    return ((va >> pt_index_shift(next - 1)) << 17) | (std::uint64_t(asid) << 1) | 1u;
  }
  Entry* find(int next, std::uint64_t k) {
    Array& a = a_[next - 1];
    if (a.e.empty()) return nullptr;
    Entry* set = &a.e[((k >> 17) & (a.sets - 1)) * a.ways];
    for (std::uint32_t w = 0; w < a.ways; ++w)
      if (set[w].key == k) return &set[w];
    return nullptr;
  }
  Array a_[3];
  std::uint64_t tick_ = 0;
};

TEST(PageWalkCache, EqualsTheEntryScanUnderRandomWalks) {
  PageWalkCacheParams full;  // 2 / 4 / 32 entries, fully associative
  PageWalkCacheParams sets;
  sets.pde_entries = 32;
  sets.pdpte_entries = 8;
  sets.ways = 4;
  PageWalkCacheParams big;
  big.pde_entries = 128;  // more entries than 64
  PageWalkCacheParams odd;  // an odd way count: the look-up's pairwise compare leaves one way
  odd.pml4e_entries = 3;
  odd.pdpte_entries = 6;
  odd.pde_entries = 24;
  odd.ways = 3;
  PageWalkCacheParams none;  // no PML4E cache, a one-entry PDPTE cache
  none.pml4e_entries = 0;
  none.pdpte_entries = 1;
  for (const PageWalkCacheParams& p : {full, sets, big, odd, none}) {
    PageWalkCache c(p);
    ReferencePwc ref(p);
    std::mt19937_64 rng(p.pde_entries * 7 + p.ways);
    std::uint64_t deep_hits = 0;
    for (int i = 0; i < 50000; ++i) {
      const Asid asid = static_cast<Asid>(1 + rng() % 3);
      // 16 2 MiB regions in each of two 1 GiB regions of two 512 GiB halves, three
      // ASIDs: every level both hits and misses, and the PDE cache evicts.
      const VirtAddr va = ((rng() % 2) << 39) | ((rng() % 2) << 30) | ((rng() % 16) << 21) | ((rng() % 512) << 12);
      const unsigned op = static_cast<unsigned>(rng() % 100);
      if (op < 45) {
        const PageWalkCache::Hit h = c.lookup(asid, va), r = ref.lookup(asid, va, true);
        ASSERT_EQ(h.next_level, r.next_level) << "op " << i;
        ASSERT_EQ(h.table, r.table) << "op " << i;
        deep_hits += h.next_level == 3;
        // A walk inserts what it read below the level it found, as the walker
        // does: insert_missing, which does not search again for what the
        // look-up did not find (the reference scans the set for the key).
        for (int next = h.next_level + 1; next <= 3; ++next) {
          const PhysAddr table = (va >> pt_index_shift(next - 1)) * 4096 + static_cast<PhysAddr>(next);
          c.insert_missing(asid, va, next, table);
          ref.insert(asid, va, next, table);
        }
      } else if (op < 55) {  // an insertion whatever the caches hold (the key may be there: a new table)
        const int next = 1 + static_cast<int>(rng() % 3);
        const PhysAddr table = rng() % 4096 * 4096;
        c.insert(asid, va, next, table);
        ref.insert(asid, va, next, table);
      } else if (op < 97) {
        const PageWalkCache::Hit h = c.peek(asid, va), r = ref.lookup(asid, va, false);
        ASSERT_EQ(h.next_level, r.next_level) << "op " << i;
        ASSERT_EQ(h.table, r.table) << "op " << i;
      } else if (i % 7 != 0) {
        c.invalidate_asid(asid);
        ref.invalidate_asid(asid);
      } else {
        c.invalidate_all();
        ref.invalidate_all();
      }
    }
    EXPECT_GT(deep_hits, 500u);
  }
}

}  // namespace
}  // namespace numasim::hw
