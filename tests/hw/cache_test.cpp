// Cache array and hierarchy: geometry, LRU/FIFO/random replacement order,
// dirty write-back, write-back into lower levels (one at a time and in
// batches), inclusive back-invalidation, hit latencies, configuration errors.
#include "hw/cache.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.h"
#include "hw/cache_hierarchy.h"
#include "hw/hw_stats.h"
#include "hw/way_scan.h"

namespace numasim::hw {
namespace {

CacheParams small(std::uint64_t size, int ways, Replacement r = Replacement::Lru) {
  CacheParams p;
  p.size = Bytes(size);
  p.ways = ways;
  p.replacement = r;
  return p;
}

// Address of the i-th distinct line mapping to set 0 of a cache with `sets` sets.
PhysAddr in_set0(std::uint64_t i, std::size_t sets) { return i * sets * 64; }

TEST(CacheArray, GeometryFromSizeAndWays) {
  CacheArray l1(small(32 * 1024, 8), "l1");
  EXPECT_EQ(l1.sets(), 64u);
  EXPECT_EQ(l1.ways(), 8u);
  // Skylake-SP LLC: 18 x 1.375 MiB, 11 ways: a non-power-of-two set count.
  CacheArray llc(small(18ull * 1408 * 1024, 11), "llc");
  EXPECT_EQ(llc.sets(), 36864u);
  EXPECT_EQ(llc.set_index(36864ull * 64), 0u);
  EXPECT_EQ(llc.set_index(36865ull * 64), 1u);
}

TEST(CacheArray, RejectsBadGeometry) {
  EXPECT_THROW(CacheArray(small(1000, 8), "bad"), std::invalid_argument);
  EXPECT_THROW(CacheArray(small(64 * 3, 2), "bad"), std::invalid_argument);
  EXPECT_THROW(CacheArray(small(1024, 0), "bad"), std::invalid_argument);
  CacheParams p = small(1024, 2);
  p.line = Bytes(128);
  EXPECT_THROW(CacheArray(p, "bad"), std::invalid_argument);
}

TEST(CacheArray, MissThenHitAndCounters) {
  CacheArray c(small(1024, 2), "c");
  EXPECT_FALSE(c.access(0x1000, false));
  c.fill(0x1000, LineState::Exclusive);
  EXPECT_TRUE(c.access(0x1000, false));
  EXPECT_TRUE(c.access(0x1038, true));  // same line, other byte
  EXPECT_FALSE(c.access(0x1040, false));
  EXPECT_EQ(c.stats().read_hits, 1u);
  EXPECT_EQ(c.stats().write_hits, 1u);
  EXPECT_EQ(c.stats().read_misses, 2u);
  EXPECT_EQ(c.state(0x1000), LineState::Modified);
}

// access()'s search of a set: whole-set compares for 8 ways (the L1D), a
// loop for the others. Every way of a full set is found, and it is that
// line's way whose state changes (lines alternately Shared and Exclusive: a
// store upgrades a Shared one, a miss that changes nothing, and makes an
// Exclusive one Modified); a line of another set with the same tag is absent.
TEST(CacheArray, AccessFindsTheLineInEveryWayOfAFullSet) {
  for (int ways : {4, 8, 16}) {
    SCOPED_TRACE(ways);
    CacheArray c(small(64ull * 64 * static_cast<std::uint64_t>(ways), ways), "c");
    const std::size_t sets = c.sets();
    auto at = [&](int w) { return in_set0(static_cast<std::uint64_t>(w), sets); };
    for (int w = 0; w < ways; ++w) c.fill(at(w), w % 2 ? LineState::Exclusive : LineState::Shared);
    for (int w = 0; w < ways; ++w) {
      EXPECT_TRUE(c.access(at(w), false)) << w;
      EXPECT_FALSE(c.access(at(w) + 64, false)) << w;  // set 1, the same tag: absent
      EXPECT_EQ(c.access(at(w), true), w % 2 == 1) << w;
    }
    for (int w = 0; w < ways; ++w)
      EXPECT_EQ(c.state(at(w)), w % 2 ? LineState::Modified : LineState::Shared) << w;
    EXPECT_FALSE(c.access(at(ways), false));
    const auto n = static_cast<std::uint64_t>(ways);
    EXPECT_EQ(c.stats().read_hits, n);
    EXPECT_EQ(c.stats().read_misses, n + 1);
    EXPECT_EQ(c.stats().upgrades, n / 2);
    EXPECT_EQ(c.stats().write_hits, n / 2);
    EXPECT_EQ(c.stats().write_misses, 0u);
  }
}

TEST(CacheArray, LruEvictsLeastRecentlyUsed) {
  CacheArray c(small(4 * 4 * 64, 4), "c");  // 4 sets x 4 ways
  const std::size_t sets = c.sets();
  for (std::uint64_t i = 0; i < 4; ++i) EXPECT_FALSE(c.fill(in_set0(i, sets), LineState::Exclusive).valid);
  // Use order now: 3 2 1 0 (MRU first). Touch 0 and 1: 1 0 3 2.
  EXPECT_TRUE(c.access(in_set0(0, sets), false));
  EXPECT_TRUE(c.access(in_set0(1, sets), false));
  EXPECT_EQ(c.set_contents(0), (std::vector<PhysAddr>{in_set0(1, sets), in_set0(0, sets), in_set0(3, sets),
                                                      in_set0(2, sets)}));
  Eviction e = c.fill(in_set0(4, sets), LineState::Exclusive);
  ASSERT_TRUE(e.valid);
  EXPECT_EQ(e.addr, in_set0(2, sets));
  EXPECT_FALSE(e.dirty);
  e = c.fill(in_set0(5, sets), LineState::Exclusive);
  EXPECT_EQ(e.addr, in_set0(3, sets));
  e = c.fill(in_set0(6, sets), LineState::Exclusive);
  EXPECT_EQ(e.addr, in_set0(0, sets));
  // Other sets are untouched.
  EXPECT_TRUE(c.set_contents(1).empty());
}

TEST(CacheArray, FifoIgnoresUse) {
  CacheArray c(small(2 * 64, 2, Replacement::Fifo), "c");  // 1 set x 2 ways
  c.fill(0, LineState::Exclusive);
  c.fill(64, LineState::Exclusive);
  EXPECT_TRUE(c.access(0, false));  // would protect line 0 under LRU
  EXPECT_EQ(c.fill(128, LineState::Exclusive).addr, 0u);
}

TEST(CacheArray, RandomReplacementIsSeededAndDeterministic) {
  auto run = [](std::uint64_t seed) {
    CacheParams p = small(8 * 64, 8, Replacement::Random);
    p.seed = seed;
    CacheArray c(p, "c");
    std::vector<PhysAddr> victims;
    for (std::uint64_t i = 0; i < 100; ++i) {
      Eviction e = c.fill(i * 64, LineState::Exclusive);
      if (e.valid) victims.push_back(e.addr);
    }
    return victims;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_EQ(run(7).size(), 92u);
  EXPECT_NE(run(7), run(8));
}

TEST(CacheArray, DirtyVictimIsReturnedForWriteBack) {
  CacheArray c(small(2 * 64, 2), "c");
  c.fill(0, LineState::Exclusive);
  EXPECT_TRUE(c.access(0, true));  // write hit: Modified
  c.fill(64, LineState::Exclusive);
  c.access(64, false);  // 0 is LRU now
  Eviction e = c.fill(128, LineState::Exclusive);
  ASSERT_TRUE(e.valid);
  EXPECT_EQ(e.addr, 0u);
  EXPECT_TRUE(e.dirty);
  EXPECT_EQ(c.stats().dirty_evictions, 1u);
  e = c.fill(192, LineState::Exclusive);  // evicts clean 64
  EXPECT_EQ(e.addr, 64u);
  EXPECT_FALSE(e.dirty);
}

TEST(CacheArray, WriteBackIntoAndInvalidate) {
  CacheArray c(small(1024, 4), "c");
  EXPECT_FALSE(c.write_back_into(0x40));
  c.fill(0x40, LineState::Exclusive);
  EXPECT_TRUE(c.write_back_into(0x40));
  EXPECT_EQ(c.state(0x40), LineState::Modified);
  Eviction e = c.invalidate(0x40);
  EXPECT_TRUE(e.valid && e.dirty);
  EXPECT_FALSE(c.contains(0x40));
  EXPECT_FALSE(c.invalidate(0x40).valid);
}

// Hierarchy with one-set caches so that every line competes: L1 2 ways, L2 4, LLC 8.
CacheHierarchyParams tiny(bool inclusive) {
  CacheHierarchyParams p;
  p.l1d = small(2 * 64, 2);
  p.l1d.latency = Cycles(4);
  p.l2 = small(4 * 64, 4);
  p.l2.latency = Cycles(14);
  p.llc = small(8 * 64, 8);
  p.llc.latency = Cycles(50);
  p.llc.inclusive = inclusive;
  return p;
}

TEST(CacheHierarchy, HitLatenciesAreCyclesAtTheCoreClock) {
  CacheHierarchy h(tiny(false), {0}, 1, Frequency(2'000'000'000));
  EXPECT_EQ(h.hit_latency(1), Picoseconds(2000));
  EXPECT_EQ(h.hit_latency(2), Picoseconds(7000));
  EXPECT_EQ(h.hit_latency(3), Picoseconds(25000));
}

TEST(CacheHierarchy, MissFillsEveryLevelThenHitsInL1) {
  CacheHierarchy h(tiny(false), {0, 0}, 1, Frequency(2'000'000'000));
  WritebackList wb;
  EXPECT_FALSE(h.l1_access(CpuId(0), 0x1000, false));
  EXPECT_EQ(h.access_below_l1(CpuId(0), 0x1000, false, wb), 4);
  EXPECT_TRUE(h.l1_access(CpuId(0), 0x1000, false));
  EXPECT_TRUE(h.l2(CpuId(0)).contains(0x1000));
  EXPECT_TRUE(h.llc(0).contains(0x1000));
  // The other core of the socket misses its private levels and hits the shared LLC.
  EXPECT_FALSE(h.l1_access(CpuId(1), 0x1000, false));
  EXPECT_EQ(h.access_below_l1(CpuId(1), 0x1000, false, wb), 3);
  EXPECT_EQ(wb.count, 0);
}

TEST(CacheHierarchy, L1EvictionHitsInL2AndDirtyLineMovesDown) {
  CacheHierarchy h(tiny(false), {0}, 1, Frequency(2'000'000'000));
  WritebackList wb;
  const CpuId c(0);
  // Write line A (dirty in L1), then bring B and C: A leaves L1 dirty into L2.
  h.l1_access(c, 0x0, true);
  h.access_below_l1(c, 0x0, true, wb);
  EXPECT_EQ(h.l1d(c).state(0x0), LineState::Modified);
  for (PhysAddr a : {0x40ull, 0x80ull}) {
    h.l1_access(c, a, false);
    h.access_below_l1(c, a, false, wb);
  }
  EXPECT_FALSE(h.l1d(c).contains(0x0));
  EXPECT_EQ(h.l2(c).state(0x0), LineState::Modified);
  EXPECT_EQ(h.l2(c).stats().writebacks_received, 1u);
  // Re-reading A hits in L2.
  EXPECT_FALSE(h.l1_access(c, 0x0, false));
  EXPECT_EQ(h.access_below_l1(c, 0x0, false, wb), 2);
  EXPECT_EQ(wb.count, 0);
}

TEST(CacheHierarchy, DirtyLineLeavingTheLlcIsWrittenBackToMemory) {
  CacheHierarchy h(tiny(false), {0}, 1, Frequency(2'000'000'000));
  WritebackList wb;
  const CpuId c(0);
  h.l1_access(c, 0x0, true);
  h.access_below_l1(c, 0x0, true, wb);
  // Stream 24 more lines through: the dirty line goes L1 -> L2 -> LLC -> memory.
  int written_back = 0;
  for (std::uint64_t i = 1; i <= 24; ++i) {
    WritebackList w;
    h.l1_access(c, i * 64, false);
    h.access_below_l1(c, i * 64, false, w);
    for (int k = 0; k < w.count; ++k) {
      EXPECT_EQ(w.addr[static_cast<std::size_t>(k)], 0u);
      ++written_back;
    }
  }
  EXPECT_EQ(written_back, 1);
  EXPECT_FALSE(h.llc(0).contains(0x0));
}

TEST(CacheHierarchy, InclusiveLlcBackInvalidatesPrivateCopies) {
  // LLC of 4 ways, private levels as large: an LLC eviction must remove L1/L2 copies.
  CacheHierarchyParams p = tiny(true);
  p.llc = small(4 * 64, 4);
  p.llc.inclusive = true;
  CacheHierarchy h(p, {0, 0}, 1, Frequency(2'000'000'000));
  WritebackList wb;
  h.l1_access(CpuId(1), 0x0, true);
  h.access_below_l1(CpuId(1), 0x0, true, wb);  // CPU 1 holds line 0 dirty in L1
  for (std::uint64_t i = 1; i <= 4; ++i) {     // CPU 0 pushes line 0 out of the LLC
    h.l1_access(CpuId(0), i * 64, false);
    h.access_below_l1(CpuId(0), i * 64, false, wb);
  }
  EXPECT_FALSE(h.llc(0).contains(0x0));
  EXPECT_FALSE(h.l1d(CpuId(1)).contains(0x0));
  EXPECT_FALSE(h.l2(CpuId(1)).contains(0x0));
  EXPECT_EQ(h.back_invalidations(), 1u);
  ASSERT_EQ(wb.count, 1);  // the dirty L1 copy reached memory
  EXPECT_EQ(wb.addr[0], 0u);
}

TEST(CacheHierarchy, NonInclusiveLlcKeepsPrivateCopies) {
  CacheHierarchyParams p = tiny(false);
  p.llc = small(4 * 64, 4);
  CacheHierarchy h(p, {0, 0}, 1, Frequency(2'000'000'000));
  WritebackList wb;
  h.l1_access(CpuId(1), 0x0, false);
  h.access_below_l1(CpuId(1), 0x0, false, wb);
  for (std::uint64_t i = 1; i <= 4; ++i) {
    h.l1_access(CpuId(0), i * 64, false);
    h.access_below_l1(CpuId(0), i * 64, false, wb);
  }
  EXPECT_FALSE(h.llc(0).contains(0x0));
  EXPECT_TRUE(h.l1d(CpuId(1)).contains(0x0));
  EXPECT_EQ(h.back_invalidations(), 0u);
}

TEST(CacheHierarchy, StatsAreNamedPerModule) {
  CacheHierarchy h(tiny(false), {0, 1}, 2, Frequency(2'000'000'000));
  WritebackList wb;
  h.l1_access(CpuId(1), 0x0, false);
  h.access_below_l1(CpuId(1), 0x0, false, wb);
  h.l1_access(CpuId(1), 0x0, false);
  MapStatsVisitor v;
  h.dump(v);
  EXPECT_EQ(v.get("system.cpu1.l1d.read_hits"), 1.0);
  EXPECT_EQ(v.get("system.cpu1.l1d.read_misses"), 1.0);
  EXPECT_DOUBLE_EQ(v.get("system.cpu1.l1d.miss_ratio"), 0.5);
  EXPECT_EQ(v.get("system.socket1.llc.read_misses"), 1.0);
  EXPECT_EQ(v.get("system.socket0.llc.read_misses"), 0.0);
  h.reset_stats();
  MapStatsVisitor v2;
  h.dump(v2);
  EXPECT_EQ(v2.get("system.cpu1.l1d.read_hits"), 0.0);
}

TEST(CacheHierarchy, FromConfigReadsTablesAndReportsBadGeometry) {
  auto doc = ConfigDocument::from_string(
      "[cache.l1d]\nsize = \"48KiB\"\nways = 12\nlatency = 5\n"
      "[cache.llc]\ninclusive = true\nreplacement = \"fifo\"\n",
      "test.toml");
  CacheHierarchyParams p = CacheHierarchyParams::from_config(doc->root());
  EXPECT_NO_THROW(doc->finish());
  EXPECT_EQ(p.l1d.size, Bytes(48 * 1024));
  EXPECT_EQ(p.l1d.ways, 12);
  EXPECT_EQ(p.l1d.latency, Cycles(5));
  EXPECT_EQ(p.l2.size, Bytes(1024 * 1024));  // default
  EXPECT_TRUE(p.llc.inclusive);
  EXPECT_EQ(p.llc.replacement, Replacement::Fifo);

  auto bad = ConfigDocument::from_string("[cache.l2]\nsize = \"1000KiB\"\nways = 3\n", "bad.toml");
  CacheHierarchyParams::from_config(bad->root());
  try {
    bad->finish();
    FAIL() << "expected a configuration error";
  } catch (const ConfigErrors& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_NE(e.diagnostics()[0].message.find("whole number of sets"), std::string::npos)
        << e.diagnostics()[0].message;
  }
  auto bad2 = ConfigDocument::from_string("[cache.l1d]\nreplacement = \"plru\"\ninclusive = true\n", "bad2.toml");
  CacheHierarchyParams::from_config(bad2->root());
  EXPECT_THROW(bad2->finish(), ConfigErrors);  // unknown choice; inclusive not a key of l1d
}

// first_least_word<W>, the victim search of the way counts compiled in (on
// an SSE4.1 host least_word_sse41<W>, a copy per way count), against the
// plain loop: the first way with the least word, on sets with repeated
// words, the top bit set, and garbage beyond the W ways. Likewise the tag
// compare of those copies (ways_equal_fixed<W>: 8, 11, 12 and 16 ways by packs).
template <std::size_t W>
void victim_search_finds_the_plain_loops_way(std::mt19937_64& rng) {
  alignas(64) std::array<std::uint32_t, 32> words{};
  for (int round = 0; round < 2000; ++round) {
    for (auto& w : words)
      w = static_cast<std::uint32_t>(rng() % 4) * 0x3fffffffu + static_cast<std::uint32_t>(rng() % 2);
    std::size_t expect_way = 0;
    for (std::size_t w = 1; w < W; ++w)
      if (words[w] < words[expect_way]) expect_way = w;
    std::uint32_t least = 0;
    ASSERT_EQ(first_least_word<W>(words.data(), W, least), expect_way) << W << " ways";
    ASSERT_EQ(least, words[expect_way]) << W << " ways";
    const std::uint32_t probe = round % 5 == 0 ? 1u : words[rng() % W];  // 1: no way equal
    std::uint64_t expect_eq = 0;
    for (std::size_t w = 0; w < W; ++w) expect_eq |= static_cast<std::uint64_t>(words[w] == probe) << w;
    ASSERT_EQ(ways_equal_fixed<W>(words.data(), probe), expect_eq) << W << " ways";
  }
}

TEST(CacheArray, VictimSearchAndTagCompareOfEachCompiledWayCountFindThePlainLoopsWays) {
  std::mt19937_64 rng(31);
  victim_search_finds_the_plain_loops_way<8>(rng);
  victim_search_finds_the_plain_loops_way<11>(rng);
  victim_search_finds_the_plain_loops_way<12>(rng);
  victim_search_finds_the_plain_loops_way<16>(rng);
  victim_search_finds_the_plain_loops_way<20>(rng);
}

// write_back_or_fill_lines (a batch with the geometry in registers, the way
// count compiled in, the victim search inline on SSE4.1 hosts) against
// write_back_or_fill line by line, on random batches between random uses,
// fills and invalidations: the same victims, set contents in replacement
// order, states, statistics and region counts (half of the batches as lines
// a level above left counted, half keeping only their dirty victims, and half
// of some fills leaving a dirty victim counted). Way counts with their own
// compiled copies (8, 16 with sets by a mask; 11, 12 by a divider) and others
// (4, 5, 20), LRU, FIFO and random replacement, and a stamp limit low enough
// that batches reach it (they then go line by line, renumbering on the way).
// A batch test's geometry: sets, ways, replacement, the stamps'
// renumbering limit (0: the default) and whether the arrays also count their
// lines by 4 KiB page (count_pages, as with the deferred clear residue; the
// batches have a copy for arrays without page counts).
struct BatchCase {
  std::uint64_t sets;
  int ways;
  Replacement r;
  std::uint32_t stamp_limit;
  bool pages = false;
};

// Two arrays of a BatchCase's geometry, one given a history in batches and
// the other line by line (one name: their statistics are compared by name),
// with addresses of 4x their capacity counted by regions of 1 KiB, the last
// quarter of the regions left uncounted (and, with c.pages, by 4 KiB pages,
// the last quarter of the pages left uncounted).
struct ArrayPair {
  ArrayPair(const BatchCase& c, std::uint64_t seed)
      : name(std::to_string(c.sets) + " sets, " + std::to_string(c.ways) + " ways, replacement " +
             std::to_string(static_cast<int>(c.r)) + ", limit " + std::to_string(c.stamp_limit) +
             (c.pages ? ", page counts" : "")),
        lines(4 * c.sets * static_cast<std::uint64_t>(c.ways)),
        regions(static_cast<std::size_t>(lines * 64 / 1024 * 3 / 4)),
        batched(params(c, seed), "array"),
        single(params(c, seed), "array"),
        counts_batched(regions, 0),
        counts_single(regions, 0),
        pages_batched(c.pages ? regions / 4 : 0, 0),
        pages_single(pages_batched.size(), 0) {
    if (c.stamp_limit) {
      batched.set_stamp_limit(c.stamp_limit);
      single.set_stamp_limit(c.stamp_limit);
    }
    batched.count_regions(counts_batched.data(), regions, 10);
    single.count_regions(counts_single.data(), regions, 10);
    if (c.pages) {
      batched.count_pages(pages_batched.data(), pages_batched.size());
      single.count_pages(pages_single.data(), pages_single.size());
    }
  }
  static CacheParams params(const BatchCase& c, std::uint64_t seed) {
    return CacheParams{Bytes(c.sets * static_cast<std::uint64_t>(c.ways) * 64), c.ways, Bytes(64), Cycles(4), c.r,
                       seed, false};
  }
  // Every set's lines in replacement order with their states, the statistics and the region counts.
  void expect_same() const {
    for (std::size_t s = 0; s < batched.sets(); ++s) {
      const std::vector<PhysAddr> a = batched.set_contents(s), b = single.set_contents(s);
      ASSERT_EQ(a, b) << name << ", set " << s;
      for (PhysAddr l : a) ASSERT_EQ(batched.state(l), single.state(l)) << name;
    }
    MapStatsVisitor stats_batched, stats_single;
    batched.dump(stats_batched);
    single.dump(stats_single);
    EXPECT_EQ(stats_batched.values, stats_single.values) << name;
    EXPECT_EQ(counts_batched, counts_single) << name;
    EXPECT_EQ(pages_batched, pages_single) << name;
  }
  std::string name;
  std::uint64_t lines;
  std::size_t regions;
  CacheArray batched, single;
  std::vector<std::uint32_t> counts_batched, counts_single, pages_batched, pages_single;
};

// `check` as this host runs it and again, where the host has SSE4.1, as a
// host without it runs it (the batches' plain copies, plain victim searches).
static void with_and_without_sse41(void (*check)()) {
  check();
#if defined(__x86_64__)
  if (sse41_in_use) {
    struct Restore {
      ~Restore() { sse41_in_use = true; }
    } restore;
    sse41_in_use = false;
    check();
  }
#endif
}

static void write_back_or_fill_lines_equals_one_line_at_a_time() {
  const std::vector<BatchCase> cases = {
      {64, 8, Replacement::Lru, 0},      {64, 16, Replacement::Lru, 0},    {96, 11, Replacement::Lru, 0},
      {48, 12, Replacement::Fifo, 0},    {64, 4, Replacement::Lru, 0},     {40, 5, Replacement::Lru, 0},
      {32, 20, Replacement::Lru, 0},     {96, 11, Replacement::Random, 0}, {64, 16, Replacement::Lru, 5000},
      {96, 11, Replacement::Fifo, 3000},
      // The copies for arrays with page counts (the others have none).
      {64, 16, Replacement::Lru, 0, true}, {96, 11, Replacement::Lru, 0, true}, {64, 8, Replacement::Lru, 0, true},
  };
  auto same = [](const Eviction& a, const Eviction& b) {
    return a.valid == b.valid && (!a.valid || (a.dirty == b.dirty && a.addr == b.addr));
  };
  for (const BatchCase& c : cases) {
    ArrayPair pair(c, 9);
    auto& [name, lines, regions, batched, single, counts_batched, counts_single, pages_batched, pages_single] = pair;
    std::mt19937_64 rng(23);
    std::vector<PhysAddr> batch;
    std::vector<Eviction> victims;
    std::uint64_t received = 0, evicted_dirty = 0;
    for (int op = 0; op < 20'000; ++op) {
      const std::string where = name + ", op " + std::to_string(op);
      const PhysAddr pa = (rng() % lines) * 64;
      const unsigned kind = static_cast<unsigned>(rng() % 10);
      if (kind < 3) {
        ASSERT_EQ(batched.access(pa, kind == 0), single.access(pa, kind == 0)) << where;
      } else if (kind < 5) {
        // Half of the fills leave a dirty victim counted (for a level below that shares
        // the counts): counted out here instead, as write_back_or_fill_lines(..., true) would.
        const bool keep = kind == 4 && op % 2 == 0;
        const Eviction e = batched.fill(pa, LineState::Exclusive, !keep);
        ASSERT_TRUE(same(e, single.fill(pa, LineState::Exclusive))) << where;
        if (keep && e.valid && e.dirty && (e.addr >> 10) < regions) --counts_batched[e.addr >> 10];
        if (keep && e.valid && e.dirty && (e.addr >> 12) < pages_batched.size()) --pages_batched[e.addr >> 12];
      } else if (kind < 6) {
        ASSERT_TRUE(same(batched.invalidate(pa), single.invalidate(pa))) << where;
      } else {
        // A batch of 1 to 64 lines: consecutive ones (a clear's) or scattered, repeats allowed.
        batch.resize(1 + rng() % 64);
        const bool consecutive = rng() % 2 == 0;
        for (std::size_t i = 0; i < batch.size(); ++i)
          batch[i] = consecutive ? (pa + i * 64) % (lines * 64) : (rng() % lines) * 64;
        victims.assign(batch.size(), Eviction{true, true, 1});
        // Half of the batches come from a level above that shares the counts and kept the lines counted.
        const bool counted_above = rng() % 2 == 0;
        if (counted_above)
          for (PhysAddr l : batch)
            if ((l >> 10) < regions) ++counts_batched[l >> 10];
        if (counted_above)
          for (PhysAddr l : batch)
            if ((l >> 12) < pages_batched.size()) ++pages_batched[l >> 12];
        // Half of the batches keep only their dirty victims (compacted in place, with their lines' from[]).
        const bool dirty_only = rng() % 2 == 0;
        std::vector<PhysAddr> kept = batch;
        std::vector<std::uint8_t> from(batch.size());
        for (std::size_t i = 0; i < from.size(); ++i) from[i] = static_cast<std::uint8_t>(i);
        std::size_t nkept = 0;
        if (dirty_only)
          nkept = batched.write_back_or_fill_lines(kept.data(), from.data(), kept.size(), counted_above);
        else
          batched.write_back_or_fill_lines(batch.data(), batch.size(), victims.data(), counted_above);
        std::size_t d = 0;
        for (std::size_t i = 0; i < batch.size(); ++i) {
          bool got;
          const Eviction e = single.write_back_or_fill(batch[i], got);
          if (!dirty_only) {
            ASSERT_TRUE(same(victims[i], e)) << where << ", line " << i;
          } else if (e.valid && e.dirty) {
            ASSERT_LT(d, nkept) << where << ", line " << i;
            ASSERT_EQ(kept[d], e.addr) << where << ", line " << i;
            ASSERT_EQ(from[d], i) << where << ", line " << i;
            ++d;
          }
          received += got;
          evicted_dirty += e.valid && e.dirty;
        }
        if (dirty_only) {
          ASSERT_EQ(d, nkept) << where;
        }
      }
    }
    pair.expect_same();
    EXPECT_GT(received, 1000u) << name;
    EXPECT_GT(evicted_dirty, 1000u) << name;
  }
}

TEST(CacheArray, WriteBackOrFillLinesEqualsOneLineAtATime) {
  with_and_without_sse41(write_back_or_fill_lines_equals_one_line_at_a_time);
}

// A cached clear's L1D passes in one call each (write_access_lines, then
// fill_missed_lines) against the per-line calls they replace (write_access
// of every line, then fill_at or fill of each one left), on histories with
// hits, upgrades of Shared lines, invalidations between the two passes (a
// snoop filter's back-invalidation) and stamps renumbered on the way.
static void write_and_fill_lines_equal_one_line_at_a_time() {
  const std::vector<BatchCase> cases = {
      {64, 8, Replacement::Lru, 0},  {64, 16, Replacement::Lru, 0},    {96, 11, Replacement::Lru, 0},
      {48, 12, Replacement::Fifo, 0}, {40, 5, Replacement::Lru, 0},    {64, 8, Replacement::Random, 0},
      {64, 8, Replacement::Lru, 3000}, {96, 11, Replacement::Fifo, 2000},
      // Sets by a mask with a way count that has no compiled copy of its own.
      {64, 12, Replacement::Lru, 0},  {32, 5, Replacement::Fifo, 0},
      // The copies for arrays with page counts (the others have none).
      {64, 8, Replacement::Lru, 0, true}, {64, 16, Replacement::Lru, 0, true},
  };
  for (const BatchCase& c : cases) {
    ArrayPair pair(c, 5);
    auto& [name, lines, regions, batched, single, counts_batched, counts_single, pages_batched, pages_single] = pair;
    std::mt19937_64 rng(31);
    std::array<CacheArray::FillSlot, 64> slot_b, slot_s;
    std::array<std::uint8_t, 64> missed, from;
    std::array<PhysAddr, 64> dirty;
    std::uint64_t hits = 0, upgrades = 0, dirty_victims = 0;
    for (int op = 0; op < 8'000; ++op) {
      const std::string where = name + ", op " + std::to_string(op);
      const PhysAddr pa = (rng() % lines) * 64;
      const unsigned kind = static_cast<unsigned>(rng() % 8);
      if (kind < 2) {
        ASSERT_EQ(batched.access(pa, kind == 0), single.access(pa, kind == 0)) << where;
        continue;
      }
      if (kind < 4) {
        // A line read by two CPUs (Shared: a store to it is an upgrade) or read alone.
        const LineState st = kind == 2 ? LineState::Shared : LineState::Exclusive;
        const Eviction a = batched.fill(pa, st), b = single.fill(pa, st);
        ASSERT_EQ(a.valid, b.valid) << where;
        ASSERT_EQ(a.addr, b.addr) << where;
        continue;
      }
      // A batch of 1 to 64 consecutive whole-line stores from any line.
      const std::size_t n = 1 + static_cast<std::size_t>(rng() % 64);
      const PhysAddr first = pa % ((lines - n) * 64);
      const bool count_dirty = rng() % 2 == 0;
      batched.write_access_lines(first, n, slot_b.data(), missed.data());
      std::array<std::uint8_t, 64> expect{};
      for (std::size_t j = 0; j < n; ++j) {
        const std::uint64_t before = single.stats().upgrades;
        expect[j] = single.write_access(first + j * 64, slot_s[j]) ? 0 : single.stats().upgrades != before ? 2 : 1;
        ASSERT_EQ(missed[j], expect[j]) << where << ", line " << j;
        hits += expect[j] == 0;
        upgrades += expect[j] == 2;
      }
      // Between the passes: now and then a line invalidated, and (as the
      // snoop filter's pass does) most upgraded lines made Modified.
      if (rng() % 4 == 0) {
        const PhysAddr gone = rng() % 2 == 0 ? first + (rng() % n) * 64 : (rng() % lines) * 64;
        batched.invalidate(gone);
        single.invalidate(gone);
      }
      for (std::size_t j = 0; j < n; ++j)
        if (expect[j] == 2 && rng() % 4 != 0) {
          batched.set_state(first + j * 64, LineState::Modified);
          single.set_state(first + j * 64, LineState::Modified);
          missed[j] = expect[j] = 0;
        }
      const std::size_t k = batched.fill_missed_lines(first, n, slot_b.data(), missed.data(), count_dirty,
                                                      dirty.data(), from.data());
      std::size_t d = 0;
      for (std::size_t j = 0; j < n; ++j) {
        if (expect[j] == 0) continue;
        const Eviction e = expect[j] == 1 ? single.fill_at(slot_s[j], LineState::Modified, count_dirty)
                                          : single.fill(first + j * 64, LineState::Modified, count_dirty);
        if (!(e.valid && e.dirty)) continue;
        ASSERT_LT(d, k) << where << ", line " << j;
        ASSERT_EQ(dirty[d], e.addr) << where << ", line " << j;
        ASSERT_EQ(from[d], j) << where << ", line " << j;
        ++d;
        ++dirty_victims;
        // A dirty victim left counted (count_dirty false) is counted out by the level below: here.
        if (!count_dirty && (e.addr >> 10) < regions) {
          --counts_batched[e.addr >> 10];
          --counts_single[e.addr >> 10];
        }
        if (!count_dirty && (e.addr >> 12) < pages_batched.size()) {
          --pages_batched[e.addr >> 12];
          --pages_single[e.addr >> 12];
        }
      }
      ASSERT_EQ(d, k) << where;
    }
    pair.expect_same();
    EXPECT_EQ(batched.renumberings(), single.renumberings()) << name;
    if (c.stamp_limit) {
      EXPECT_GT(batched.renumberings(), 0u) << name;
    }
    EXPECT_GT(hits, 500u) << name;
    EXPECT_GT(upgrades, 100u) << name;
    EXPECT_GT(dirty_victims, 1000u) << name;
  }
}

TEST(CacheArray, WriteAndFillLinesEqualOneLineAtATime) {
  with_and_without_sse41(write_and_fill_lines_equal_one_line_at_a_time);
}

// contains_lines (a cached clear's L2 look-up of its batch) against contains()
// line by line: set counts below, at and above 64 (batches that wrap past the
// last set, some more than once), way counts with and without a compiled
// copy, partly full arrays, and batches at the edge of the array's tag reach,
// where lines too large for a tag are never held.
TEST(CacheArray, ContainsLinesEqualsContainsOfEachLine) {
  const std::vector<BatchCase> cases = {
      {1024, 16, Replacement::Lru, 0}, {64, 8, Replacement::Lru, 0},  {96, 11, Replacement::Lru, 0},
      {48, 12, Replacement::Lru, 0},   {16, 16, Replacement::Lru, 0}, {8, 5, Replacement::Lru, 0},
      {1, 4, Replacement::Lru, 0},
  };
  for (const BatchCase& c : cases) {
    CacheArray a(ArrayPair::params(c, 1), "array");
    const std::string name = std::to_string(c.sets) + " sets, " + std::to_string(c.ways) + " ways";
    const std::uint64_t lines = 3 * c.sets * static_cast<std::uint64_t>(c.ways);
    const PhysAddr edge = a.tag_reach() - 80 * 64;  // lines [edge, edge + 80 lines): the last 80 the array can tag
    std::mt19937_64 rng(41);
    std::uint64_t held = 0, absent = 0;
    for (int op = 0; op < 4'000; ++op) {
      const std::string where = name + ", op " + std::to_string(op);
      // Now and then the lines at the tag reach's edge, else the usual ones.
      const bool at_edge = rng() % 8 == 0;
      const PhysAddr pa = at_edge ? edge + (rng() % 80) * 64 : (rng() % lines) * 64;
      if (rng() % 3 != 0) {
        a.fill(pa, LineState::Modified);
        continue;
      }
      if (rng() % 4 == 0) a.invalidate(pa);
      const std::size_t n = 1 + static_cast<std::size_t>(rng() % 64);
      // A batch from the edge runs past the tag reach (at most 80 - 1 + 64 lines from `edge`).
      const PhysAddr first = at_edge ? pa : (rng() % lines) * 64;
      const std::uint64_t got = a.contains_lines(first, n);
      for (std::size_t j = 0; j < n; ++j) {
        const bool in = a.contains(first + j * 64);
        ASSERT_EQ((got >> j) & 1, in ? 1u : 0u) << where << ", line " << j;
        held += in;
        absent += !in;
      }
      if (n < 64) {
        ASSERT_EQ(got >> n, 0u) << where;
      }
    }
    EXPECT_GT(held, 1000u) << name;
    EXPECT_GT(absent, 1000u) << name;
  }
}

}  // namespace
}  // namespace numasim::hw
