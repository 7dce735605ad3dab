// TLB arrays and the per-CPU TLB hierarchy: hits, LRU replacement, page sizes,
// ASID tagging, invalidation by page/range/ASID, counters per level and size.
#include "hw/tlb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

#include "common/config.h"

namespace numasim::hw {
namespace {

TlbArrayParams small(std::uint32_t entries, std::uint32_t ways, PageSizeMask sizes = page_size_bit(PageSize::k4K)) {
  return {"t", entries, ways, 0, sizes};
}

TEST(TlbArray, HitAfterInsertMissOtherwise) {
  TlbArray a(small(8, 2));
  EXPECT_EQ(a.probe(1, 0x1000, PageSize::k4K), nullptr);
  a.insert(1, 0x1234, PageSize::k4K, 0xabc000, kTlbWritable);
  TlbEntry* e = a.probe(1, 0x1fff, PageSize::k4K);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->page_base, 0xabc000u);
  EXPECT_EQ(e->va_base(), 0x1000u);
  EXPECT_EQ(e->size(), PageSize::k4K);
  EXPECT_EQ(a.probe(1, 0x2000, PageSize::k4K), nullptr);  // next page
  EXPECT_EQ(a.probe(2, 0x1000, PageSize::k4K), nullptr);  // other ASID
}

TEST(TlbArray, LruEvictsLeastRecentlyUsedWayOfTheSet) {
  TlbArray a(small(8, 2));  // 4 sets: pages 0, 4, 8 map to set 0
  a.insert(0, 0 * kPageSize, PageSize::k4K, 0x10000, 0);
  a.insert(0, 4 * kPageSize, PageSize::k4K, 0x20000, 0);
  ASSERT_NE(a.probe(0, 0, PageSize::k4K), nullptr);       // page 0 now most recent
  a.insert(0, 8 * kPageSize, PageSize::k4K, 0x30000, 0);  // evicts page 4
  EXPECT_NE(a.probe(0, 0, PageSize::k4K), nullptr);
  EXPECT_EQ(a.probe(0, 4 * kPageSize, PageSize::k4K), nullptr);
  EXPECT_NE(a.probe(0, 8 * kPageSize, PageSize::k4K), nullptr);
  // A different set is untouched by set-0 traffic.
  a.insert(0, 1 * kPageSize, PageSize::k4K, 0x40000, 0);
  EXPECT_EQ(a.valid_entries(), 3);
}

TEST(TlbArray, ReinsertSameTranslationDoesNotDuplicate) {
  TlbArray a(small(4, 4));
  a.insert(3, 0x5000, PageSize::k4K, 0x1000, 0);
  a.insert(3, 0x5000, PageSize::k4K, 0x2000, kTlbDirty);
  EXPECT_EQ(a.valid_entries(), 1);
  EXPECT_EQ(a.probe(3, 0x5000, PageSize::k4K)->page_base, 0x2000u);
}

// insert(..., absent = true) after a probe that missed (what a walk after
// TLB misses does) fills the same way as insert() searching the set: two
// arrays given the same probes and inserts, one told the misses, hold the
// same translations throughout (12 and 4 ways as Skylake's, and 3 ways).
TEST(TlbArray, InsertOfAnAbsentTranslationChoosesTheSameWay) {
  for (const auto& [ways, ordered] :
       {std::pair{12u, false}, std::pair{4u, false}, std::pair{3u, false}, std::pair{12u, true}, std::pair{3u, true}}) {
    TlbArray searched(small(ways * 8, ways), ordered), told(small(ways * 8, ways), ordered);
    std::mt19937_64 rng(ways);
    int misses = 0;
    for (int i = 0; i < 4000; ++i) {
      const VirtAddr va = (rng() % 200) * kPageSize;
      const Asid asid = static_cast<Asid>(rng() % 2);
      TlbEntry* a = searched.probe(asid, va, PageSize::k4K);
      TlbEntry* b = told.probe(asid, va, PageSize::k4K);
      ASSERT_EQ(a == nullptr, b == nullptr) << ways << " ways, step " << i;
      if (a) ASSERT_EQ(a->page_base, b->page_base);
      if (a && rng() % 4 != 0) continue;  // a hit, mostly left alone; sometimes refilled
      const PhysAddr base = (rng() % 1000) * kPageSize;
      searched.insert(asid, va, PageSize::k4K, base, 0);
      told.insert(asid, va, PageSize::k4K, base, 0, a == nullptr);
      misses += a == nullptr;
    }
    EXPECT_GT(misses, 1000);  // the sets were full: victims were chosen
    EXPECT_EQ(searched.valid_entries(), told.valid_entries());
    for (VirtAddr p = 0; p < 200; ++p)
      for (Asid asid = 0; asid < 2; ++asid) {
        TlbEntry* a = searched.probe(asid, p * kPageSize, PageSize::k4K);
        TlbEntry* b = told.probe(asid, p * kPageSize, PageSize::k4K);
        ASSERT_EQ(a == nullptr, b == nullptr) << ways << " ways, page " << p;
        if (a) EXPECT_EQ(a->page_base, b->page_base);
      }
  }
}

TEST(TlbArray, InvalidateRangeDropsOnlyOverlappingEntries) {
  TlbArray a(small(64, 4, PageSizeMask(page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M))));
  for (int i = 0; i < 16; ++i) a.insert(1, 0x400000 + i * kPageSize, PageSize::k4K, 0x1000000 + i * kPageSize, 0);
  a.insert(2, 0x400000, PageSize::k4K, 0x9000, 0);      // other ASID, same address
  a.insert(1, 0x800000, PageSize::k2M, 0x40000000, 0);  // 2 MiB page at 8 MiB
  EXPECT_EQ(a.invalidate_range(1, 0x400000 + 4 * kPageSize, 0x400000 + 8 * kPageSize), 4);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(a.probe(1, 0x400000 + i * kPageSize, PageSize::k4K) == nullptr, i >= 4 && i < 8) << i;
  EXPECT_NE(a.probe(2, 0x400000, PageSize::k4K), nullptr);
  // A range touching one 4 KiB page inside the 2 MiB page drops the 2 MiB entry.
  EXPECT_EQ(a.invalidate_range(1, 0x900000, 0x901000), 1);
  EXPECT_EQ(a.probe(1, 0x800000, PageSize::k2M), nullptr);
  // Large range: scan path.
  EXPECT_EQ(a.invalidate_range(1, 0, 1ull << 40), 12);
  EXPECT_EQ(a.valid_entries(), 1);
}

TEST(TlbArray, InvalidateAsidAndAll) {
  TlbArray a(small(16, 4));
  a.insert(1, 0x1000, PageSize::k4K, 0, 0);
  a.insert(2, 0x2000, PageSize::k4K, 0, 0);
  a.insert(2, 0x3000, PageSize::k4K, 0, 0);
  EXPECT_EQ(a.invalidate_asid(2), 2);
  EXPECT_NE(a.probe(1, 0x1000, PageSize::k4K), nullptr);
  EXPECT_EQ(a.invalidate_all(), 1);
  EXPECT_EQ(a.valid_entries(), 0);
}

TEST(Tlb, SkylakeReach) {
  Tlb t(TlbParams::skylake());
  EXPECT_EQ(t.reach_bytes(0, PageSize::k4K), 64 * 4096u);
  EXPECT_EQ(t.reach_bytes(0, PageSize::k2M), 32u * (2u << 20));
  EXPECT_EQ(t.reach_bytes(1, PageSize::k4K), 1536 * 4096u);
  EXPECT_EQ(t.reach_bytes(1, PageSize::k1G), 16ull << 30);
}

TEST(Tlb, LevelsCountHitsAndMissesPerPageSize) {
  Tlb t(TlbParams::skylake());
  EXPECT_EQ(t.lookup_l1(1, 0x200000).entry, nullptr);
  EXPECT_EQ(t.lookup_l2(1, 0x200000).entry, nullptr);
  t.fill_after_walk(1, 0x200000, PageSize::k2M, 0x40000000, kTlbWritable);
  TlbHit h = t.lookup_l1(1, 0x3fffff);
  ASSERT_NE(h.entry, nullptr);
  EXPECT_EQ(h.entry->size(), PageSize::k2M);
  EXPECT_EQ(t.stats(0).hits[1], 1u);
  EXPECT_EQ(t.stats(0).misses[1], 1u);
  EXPECT_EQ(t.stats(1).misses[1], 1u);
  // Evict from L1 by invalidating it there only: the STLB still has it.
  t.fill_after_walk(1, 0x5000, PageSize::k4K, 0x7000, 0);
  std::vector<TlbArray>& l1 = const_cast<std::vector<TlbArray>&>(t.arrays(0));
  l1[0].invalidate_all();
  EXPECT_EQ(t.lookup_l1(1, 0x5000).entry, nullptr);
  TlbHit h2 = t.lookup_l2(1, 0x5000);
  ASSERT_NE(h2.entry, nullptr);
  EXPECT_EQ(h2.latency_cycles, 9u);
  EXPECT_EQ(t.stats(1).hits[0], 1u);
  EXPECT_EQ(t.stats(0).misses[0], 2u);  // the walk fill and the STLB hit
}

TEST(Tlb, PcidTaggedEntriesOfTwoAddressSpacesCoexist) {
  Tlb t(TlbParams::skylake());
  t.fill_after_walk(1, 0x1000, PageSize::k4K, 0xa000, 0);
  t.fill_after_walk(2, 0x1000, PageSize::k4K, 0xb000, 0);
  EXPECT_EQ(t.lookup_l1(1, 0x1000).entry->page_base, 0xa000u);
  EXPECT_EQ(t.lookup_l1(2, 0x1000).entry->page_base, 0xb000u);
  EXPECT_EQ(t.invalidate_asid(1), 2);  // L1 + STLB
  EXPECT_EQ(t.lookup_l1(1, 0x1000).entry, nullptr);
  EXPECT_NE(t.lookup_l1(2, 0x1000).entry, nullptr);
}

TEST(TlbParams, FromConfigReadsArraysAndRejectsBadGeometry) {
  auto doc = ConfigDocument::from_string(R"(
[tlb]
pcid = false
[[tlb.l1]]
entries = 32
ways = 8
page_sizes = "4K,2M"
[[tlb.l2]]
entries = 512
ways = 8
latency = 7
page_sizes = "4K,2M,1G"
)",
                                         "tlb.toml");
  TlbParams p = TlbParams::from_config(doc->root().table("tlb"));
  EXPECT_NO_THROW(doc->finish());
  EXPECT_FALSE(p.pcid);
  ASSERT_EQ(p.l1.size(), 1u);
  EXPECT_EQ(p.l1[0].entries, 32u);
  EXPECT_EQ(p.l1[0].page_sizes, page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M));
  ASSERT_EQ(p.l2.size(), 1u);
  EXPECT_EQ(p.l2[0].latency_cycles, 7u);

  auto bad = ConfigDocument::from_string(R"(
[[tlb.l1]]
entries = 48
ways = 4
page_sizes = "8K"
)",
                                         "bad.toml");
  TlbParams q = TlbParams::from_config(bad->root().table("tlb"));
  EXPECT_EQ(q.l1[0].entries, 64u);  // fell back to the default
  try {
    bad->finish();
    FAIL() << "expected configuration errors";
  } catch (const ConfigErrors& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str() + "\n";
    EXPECT_NE(all.find("page_sizes"), std::string::npos) << all;
    EXPECT_NE(all.find("power of two"), std::string::npos) << all;
  }
}

// The per-size counts a look-up uses to skip a page size the array holds none
// of stay exact through replacements and every kind of invalidation: each
// count equals the entries of that size found by probing every translation
// ever inserted (a count left at 0 with an entry present would make lookup_l1
// and lookup_l2 miss it).
TEST(TlbArray, ValidCountsBySizeFollowInsertionsAndInvalidations) {
  TlbArray a(small(16, 4, page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M)));
  std::mt19937_64 rng(7);
  std::vector<std::tuple<Asid, VirtAddr, PageSize>> inserted;
  for (int i = 0; i < 20000; ++i) {
    const Asid asid = static_cast<Asid>(1 + rng() % 2);
    const PageSize s = rng() % 4 == 0 ? PageSize::k2M : PageSize::k4K;
    const VirtAddr va = (rng() % 64) << page_shift(s);
    const unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 80) {
      a.insert(asid, va, s, va, kTlbWritable);
      inserted.emplace_back(asid, va, s);
    } else if (op < 90) {
      a.invalidate_page(asid, va);
    } else if (op < 96) {
      const VirtAddr start = (rng() % 64) << 12;
      a.invalidate_range(asid, start, start + (1 + rng() % 1024) * kPageSize);
    } else if (op < 99) {
      a.invalidate_asid(asid);
    } else {
      a.invalidate_all();
    }
    if (i % 97 != 0) continue;
    std::uint32_t found[kNumPageSizes] = {};
    std::sort(inserted.begin(), inserted.end());
    inserted.erase(std::unique(inserted.begin(), inserted.end()), inserted.end());
    for (const auto& [as, v, size] : inserted) found[static_cast<unsigned>(size)] += a.probe(as, v, size) != nullptr;
    for (int k = 0; k < kNumPageSizes; ++k) ASSERT_EQ(a.valid_of(PageSize(k)), found[k]) << "op " << i << " size " << k;
    ASSERT_EQ(static_cast<int>(found[0] + found[1] + found[2]), a.valid_entries());
  }
}

// With no 2 MiB entry in the STLB, a look-up skips that probe and still finds
// the 2 MiB translation once one is filled.
TEST(Tlb, LookupFindsAPageSizeOnceItsArrayHoldsOne) {
  Tlb t(TlbParams::skylake());
  EXPECT_EQ(t.lookup_l2(1, 0x40000000).entry, nullptr);
  t.fill_after_walk(1, 0x40000000, PageSize::k2M, 0x200000, kTlbWritable);
  t.invalidate_all();
  EXPECT_EQ(t.lookup_l1(1, 0x40000000).entry, nullptr);
  t.fill_after_walk(1, 0x40000000, PageSize::k2M, 0x200000, kTlbWritable);
  const TlbHit l1 = t.lookup_l1(1, 0x40012345);
  ASSERT_NE(l1.entry, nullptr);
  EXPECT_EQ(l1.entry->page_base, 0x200000u);
  const TlbHit l2 = t.lookup_l2(1, 0x40012345);
  ASSERT_NE(l2.entry, nullptr);
  EXPECT_EQ(l2.entry->size(), PageSize::k2M);
}

// The array as it was (an insertion's victim: the matching way, else the
// first invalid, else the first least recently used, chosen by branches),
// against the array choosing the first least stamp without them, and against
// the recency-ordered array (the second level's: each set's ways in order of
// last use), probing by its inline loop or by probe_every_way, under
// random inserts, probes and invalidations (page, range, ASID, all) of three
// page sizes and two ASIDs: the same probe answers and valid counts.
class ReferenceTlbArray {
 public:
  ReferenceTlbArray(std::uint32_t entries, std::uint32_t ways)
      : ways_(ways), set_mask_(entries / ways - 1), e_(entries) {}
  const TlbEntry* probe(Asid asid, VirtAddr va, PageSize s) {
    Way* w = find(asid, va, s);
    return w ? &w->e : nullptr;
  }
  void insert(Asid asid, VirtAddr va, PageSize s, PhysAddr page_base, std::uint8_t flags) {
    const std::uint64_t key = TlbEntry::make_key(asid, va, s);
    Way* set = &e_[((va >> page_shift(s)) & set_mask_) * ways_];
    Way* victim = &set[0];
    for (std::uint32_t w = 0; w < ways_; ++w) {
      if (set[w].e.key == key) {
        victim = &set[w];
        break;
      }
      if (!set[w].e.valid()) {
        if (victim->e.valid()) victim = &set[w];
      } else if (victim->e.valid() && set[w].last_use < victim->last_use) {
        victim = &set[w];
      }
    }
    victim->e = TlbEntry{};
    victim->e.key = key;
    victim->e.page_base = page_base;
    victim->e.flags = flags;
    victim->last_use = ++tick_;
  }
  void invalidate_page(Asid asid, VirtAddr va) {
    for (int s = 0; s < kNumPageSizes; ++s)
      if (Way* w = find(asid, va, PageSize(s))) *w = Way{};
  }
  void invalidate_range(Asid asid, VirtAddr start, VirtAddr end) {
    for (Way& w : e_) {
      if (!w.e.valid() || w.e.asid() != asid) continue;
      if (w.e.va_base() < end && start < w.e.va_base() + page_bytes(w.e.size())) w = Way{};
    }
  }
  void invalidate_asid(Asid asid) {
    for (Way& w : e_)
      if (w.e.valid() && w.e.asid() == asid) w = Way{};
  }
  void invalidate_all() { std::fill(e_.begin(), e_.end(), Way{}); }
  int valid_entries() const {
    return static_cast<int>(std::count_if(e_.begin(), e_.end(), [](const Way& w) { return w.e.valid(); }));
  }

 private:
  struct Way {
    TlbEntry e;
    std::uint64_t last_use = 0;
  };
  Way* find(Asid asid, VirtAddr va, PageSize s) {
    const std::uint64_t key = TlbEntry::make_key(asid, va, s);
    Way* set = &e_[((va >> page_shift(s)) & set_mask_) * ways_];
    for (std::uint32_t w = 0; w < ways_; ++w) {
      if (set[w].e.key == key) {
        set[w].last_use = ++tick_;
        return &set[w];
      }
    }
    return nullptr;
  }
  std::uint32_t ways_;
  std::uint64_t set_mask_, tick_ = 0;
  std::vector<Way> e_;
};

TEST(TlbArray, EqualsTheEntryScanArrayUnderRandomOperations) {
  const PageSizeMask all = page_size_bit(PageSize::k4K) | page_size_bit(PageSize::k2M) | page_size_bit(PageSize::k1G);
  for (const auto& [entries, ways] : {std::pair{64u, 4u}, std::pair{48u, 12u}, std::pair{6u, 3u}, std::pair{8u, 8u},
                                      std::pair{16u, 1u}, std::pair{32u, 16u}}) {
    for (const bool ordered : {false, true}) {
      SCOPED_TRACE(testing::Message() << entries << " entries, " << ways << " ways, ordered " << ordered);
      TlbArray a(small(entries, ways, all), ordered);
      ReferenceTlbArray ref(entries, ways);
      std::mt19937_64 rng(entries * 100 + ways);
      auto random_va = [&] { return (rng() % 4 == 0 ? (rng() % 4) << 30 : 0) + (rng() % 64) * 4096 + rng() % 4096; };
      for (int i = 0; i < 60000; ++i) {
        const Asid asid = static_cast<Asid>(1 + rng() % 2);
        const VirtAddr va = random_va();
        const PageSize size = PageSize(rng() % 6 == 0 ? 1 + rng() % 2 : 0);
        const unsigned op = static_cast<unsigned>(rng() % 100);
        if (op < 45) {
          const PhysAddr base = (rng() % 1000) << 12;
          const auto flags = static_cast<std::uint8_t>(rng() % 8);
          a.insert(asid, va, size, base, flags);
          ref.insert(asid, va, size, base, flags);
        } else if (op < 94) {
          // Either probe: the inline loop that stops at the match, or every way compared.
          const TlbEntry* got = rng() % 2 ? a.probe(asid, va, size) : a.probe_every_way(asid, va, size);
          const TlbEntry* want = ref.probe(asid, va, size);
          ASSERT_EQ(got != nullptr, want != nullptr) << "op " << i;
          if (got) {
            ASSERT_EQ(got->key, want->key) << "op " << i;
            ASSERT_EQ(got->page_base, want->page_base) << "op " << i;
            ASSERT_EQ(got->flags, want->flags) << "op " << i;
          }
        } else if (op < 97) {
          a.invalidate_page(asid, va);
          ref.invalidate_page(asid, va);
        } else if (op < 98) {
          const VirtAddr end = va + (rng() % 2 ? 4096 * (1 + rng() % 4) : 1ull << 22);
          a.invalidate_range(asid, va, end);
          ref.invalidate_range(asid, va, end);
        } else if (op < 99) {
          a.invalidate_asid(asid);
          ref.invalidate_asid(asid);
        } else if (rng() % 8 == 0) {
          a.invalidate_all();
          ref.invalidate_all();
        }
        ASSERT_EQ(a.valid_entries(), ref.valid_entries()) << "op " << i;
      }
    }
  }
}

}  // namespace
}  // namespace numasim::hw
