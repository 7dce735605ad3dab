// CacheHierarchy::write_full_lines (a cached clear's whole-line stores level by
// level: every L1D look-up, then every snoop, every L1D install, the L1D
// victims into L2, L2's victims into the LLC) against write_full_line called
// line by line, on two hierarchies driven through the same random history of
// user loads and stores, clears and copies' destinations by several CPUs of
// two sockets: every batch's levels, snoop results and write-back lists, every
// statistic and every set's lines (in replacement order) and states must be
// identical. Small caches and a small snoop filter, so that victims, dirty
// write-backs, snoop-filter evictions with back-invalidation, invalidations of
// other CPUs' and sockets' copies and upgrades of Shared lines all happen.
// Geometries whose set counts are not multiples of 64 (batches of 16 or 4
// lines), an inclusive LLC, no coherence, and random replacement (batches of
// one line: its draws would otherwise come in another order). Also the
// MemorySystem's bulk path with such a geometry against its line path, and
// the miss path's copy for SSE4.1 hosts against its plain copy.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "hw/cache_hierarchy.h"
#include "hw/hw_stats.h"
#include "hw/memory_system.h"
#include "hw/way_scan.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

CacheParams cache(std::uint64_t bytes, int ways, Replacement r = Replacement::Lru, bool inclusive = false) {
  return CacheParams{Bytes(bytes), ways, Bytes(64), Cycles(4), r, 7, inclusive};
}

struct Geometry {
  const char* name;
  CacheHierarchyParams params;
  std::size_t batch;  // the expected bulk_lines()
};

std::vector<Geometry> geometries() {
  std::vector<Geometry> g;
  CacheHierarchyParams p;
  p.directory_coverage = 0.25;
  p.directory_ways = 4;
  // 16-set L1D, 64-set L2, 128-set LLC, a 32-set snoop filter: batches of 16.
  p.l1d = cache(4096, 4);
  p.l2 = cache(32 * 1024, 8);
  p.llc = cache(96 * 1024, 12);
  g.push_back({"sixteen", p, 16});
  // The usual way counts (8-way L1D and snoop filter, 16-way L2, 11-way LLC):
  // the passes' copies compiled for them, the filter's claims in one pass.
  CacheHierarchyParams usual = p;
  usual.l1d = cache(16 * 8 * 64, 8);
  usual.l2 = cache(64 * 16 * 64, 16);
  usual.llc = cache(96 * 11 * 64, 11);
  usual.directory_ways = 8;
  g.push_back({"usual_ways", usual, 16});
  // A 12-set L1D (3 KiB, 4 ways) and an 11-way LLC of 96 sets: batches of 4.
  p.l1d = cache(3072, 4);
  p.llc = cache(96 * 11 * 64, 11);
  g.push_back({"four", p, 4});
  // 64 sets everywhere but an inclusive LLC (back-invalidation of its victims).
  p.l1d = cache(16 * 1024, 4);
  p.l2 = cache(64 * 1024, 16);
  p.llc = cache(64 * 11 * 64, 11, Replacement::Lru, true);
  g.push_back({"inclusive", p, 64});
  // The same without coherence (no snoop filter).
  p.coherence = false;
  g.push_back({"no_coherence", p, 64});
  // FIFO in L2, random replacement in the LLC: one line at a time.
  p.coherence = true;
  p.l2 = cache(64 * 1024, 16, Replacement::Fifo);
  p.llc = cache(64 * 11 * 64, 11, Replacement::Random);
  g.push_back({"random", p, 1});
  return g;
}

// Every statistic, then every set's lines and their states.
void expect_same(CacheHierarchy& a, CacheHierarchy& b, int cpus, int sockets, const std::string& where) {
  MapStatsVisitor va, vb;
  a.dump(va);
  b.dump(vb);
  ASSERT_EQ(va.values.size(), vb.values.size());
  for (const auto& [name, v] : vb.values) ASSERT_EQ(va.values.at(name), v) << where << ": " << name;
  auto arrays = [&](CacheHierarchy& h) {
    std::vector<CacheArray*> out;
    for (int c = 0; c < cpus; ++c) {
      out.push_back(&h.l1d(CpuId(c)));
      out.push_back(&h.l2(CpuId(c)));
    }
    for (int s = 0; s < sockets; ++s) out.push_back(&h.llc(s));
    return out;
  };
  const std::vector<CacheArray*> xa = arrays(a), xb = arrays(b);
  for (std::size_t i = 0; i < xa.size(); ++i) {
    for (std::size_t s = 0; s < xa[i]->sets(); ++s) {
      const std::vector<PhysAddr> la = xa[i]->set_contents(s), lb = xb[i]->set_contents(s);
      ASSERT_EQ(la, lb) << where << ": " << xa[i]->name() << " set " << s;
      for (PhysAddr l : la) ASSERT_EQ(xa[i]->state(l), xb[i]->state(l)) << where << ": " << xa[i]->name();
    }
  }
  // Each CPU's private region counts (what snoop-filter evictions skip by) are
  // its L1D's and L2's lines by region, in both hierarchies.
  for (CacheHierarchy* h : {&a, &b}) {
    if (h->directory() == nullptr) continue;  // counted only with a snoop filter
    for (int c = 0; c < cpus; ++c) {
      std::map<PhysAddr, std::uint32_t> lines;
      for (CacheArray* x : {&h->l1d(CpuId(c)), &h->l2(CpuId(c))})
        for (std::size_t s = 0; s < x->sets(); ++s)
          for (PhysAddr l : x->set_contents(s)) ++lines[l >> h->private_region_shift()];
      for (PhysAddr r = 0; r < (PhysAddr{1} << 26) >> h->private_region_shift(); ++r) {
        const auto it = lines.find(r);
        ASSERT_EQ(h->private_lines(c, r << h->private_region_shift()), it == lines.end() ? 0u : it->second)
            << where << ": cpu " << c << " region " << r << (h == &a ? " (bulk)" : " (lines)");
      }
    }
  }
}

// Both copies of write_full_lines' passes: the one for any host and, where
// the host has SSE4.1, the one compiled for it.
void level_by_level_against_line_by_line(bool baseline, int sockets = 2) {
#if defined(__x86_64__)
  // The baseline passes as a host without SSE4.1 runs them: every victim search
  // and batch write-back in its plain copy too.
  struct PlainSearches {
    bool saved = sse41_in_use;
    explicit PlainSearches(bool on) { sse41_in_use = sse41_in_use && !on; }
    ~PlainSearches() { sse41_in_use = saved; }
  } plain(baseline);
#endif
  // Two sockets of two CPUs, or one of four (no other LLC: batches without a snoop to make).
  constexpr int kCpus = 4;
  const int kSockets = sockets;
  const std::vector<int> cpu_socket = sockets == 2 ? std::vector<int>{0, 0, 1, 1} : std::vector<int>{0, 0, 0, 0};
  for (const Geometry& g : geometries()) {
    SCOPED_TRACE(baseline ? "baseline passes" : "passes for the host");
    CacheHierarchy bulk(g.params, cpu_socket, kSockets, Frequency(2'000'000'000));
    CacheHierarchy lines(g.params, cpu_socket, kSockets, Frequency(2'000'000'000));
    bulk.use_baseline_passes(baseline);
    bulk.count_regions(PhysAddr{1} << 26);
    lines.count_regions(PhysAddr{1} << 26);
    ASSERT_EQ(bulk.bulk_lines(), g.batch) << g.name;
    std::mt19937_64 rng(42);
    // 1 MiB of lines: a few times all the caches, so that lines come back after eviction.
    auto random_line = [&] { return static_cast<PhysAddr>(rng() % 16384) * 64; };
    std::array<std::uint8_t, CacheHierarchy::kMaxBulkLines> level;
    std::array<SnoopResult, CacheHierarchy::kMaxBulkLines> sn;
    std::array<WritebackList, CacheHierarchy::kMaxBulkLines> wb;
    std::uint64_t snooped = 0, written_back = 0, stores = 0, from_l2 = 0;
    for (int op = 0; op < 6000; ++op) {
      const CpuId cpu(static_cast<int>(rng() % kCpus));
      if (rng() % 3 != 0) {
        // A user load or store.
        const PhysAddr pa = random_line();
        const bool write = rng() % 2 == 0;
        for (CacheHierarchy* h : {&bulk, &lines}) {
          if (h->l1_access(cpu, pa, write)) continue;
          WritebackList ignored;
          h->access_below_l1(cpu, pa, write, ignored);
        }
        continue;
      }
      // A batch of whole-line stores at a random line (not page-aligned).
      const PhysAddr first = random_line();
      const std::size_t n = 1 + static_cast<std::size_t>(rng() % g.batch);
      const bool llc_level = rng() % 2 == 0;
      if (rng() % 4 == 0) {
        // The batch's lines read first by this CPU and another: Shared, so the stores upgrade them.
        const CpuId other(static_cast<int>((cpu.value() + 1 + rng() % (kCpus - 1)) % kCpus));
        for (std::size_t j = 0; j < n; ++j)
          for (CpuId c : {cpu, other})
            for (CacheHierarchy* h : {&bulk, &lines}) {
              WritebackList ignored;
              if (!h->l1_access(c, first + j * 64, false)) h->access_below_l1(c, first + j * 64, false, ignored);
            }
      }
      bulk.write_full_lines(cpu, first, n, llc_level, level.data(), sn.data(), wb.data());
      for (std::size_t j = 0; j < n; ++j) {
        WritebackList w;
        SnoopResult s;
        const int lv = lines.write_full_line(cpu, first + j * 64, w, s, llc_level);
        const std::string where = std::string(g.name) + " op " + std::to_string(op) + " line " + std::to_string(j);
        ASSERT_EQ(level[j], lv) << where;
        ASSERT_EQ(sn[j].kind, s.kind) << where;
        ASSERT_EQ(sn[j].remote, s.remote) << where;
        ASSERT_EQ(sn[j].socket, s.socket) << where;
        ASSERT_EQ(wb[j].count, w.count) << where;
        for (int k = 0; k < w.count; ++k) ASSERT_EQ(wb[j].addr[k], w.addr[k]) << where;
        snooped += s.kind != SnoopResult::Kind::None;
        written_back += static_cast<std::uint64_t>(w.count);
        from_l2 += lv == 2;
        ++stores;
      }
      if (op % 1000 == 999)
        expect_same(bulk, lines, kCpus, kSockets, std::string(g.name) + " op " + std::to_string(op));
    }
    expect_same(bulk, lines, kCpus, kSockets, g.name);
    // The history exercised what it is meant to.
    EXPECT_GT(stores, 1500u) << g.name;
    EXPECT_GT(written_back, 100u) << g.name;
    // Lines found in L2 (the claims' mask of lines the CPU may hold lets write_full_lines ask L2).
    EXPECT_GT(from_l2, 5u) << g.name;
    if (g.params.coherence) {
      MapStatsVisitor v;
      lines.dump(v);
      EXPECT_GT(snooped, 100u) << g.name;
      EXPECT_GT(v.values.at("system.cpu0.l1d.upgrades") + v.values.at("system.cpu1.l1d.upgrades"), 10) << g.name;
      EXPECT_GT(v.values.at("system.coherence.snoop_filter_back_invalidations"), 0) << g.name;
    }
  }
}

TEST(BulkCachePasses, LevelByLevelStoresLeaveTheCachesAsLineByLineStores) {
  level_by_level_against_line_by_line(false);
}

TEST(BulkCachePasses, BaselinePassesLeaveTheCachesAsLineByLineStores) { level_by_level_against_line_by_line(true); }

TEST(BulkCachePasses, OneSocketLevelByLevelStoresLeaveTheCachesAsLineByLineStores) {
  level_by_level_against_line_by_line(false, 1);
}

// The MemorySystem's bulk path with an L1D of 48 sets (24 KiB, 8 ways: batches
// of 16 lines) and a smaller LLC against its line path: the same latencies and statistics.
TEST(BulkCachePasses, BulkClearsInBatchesOfSixteenAgreeWithTheLinePath) {
  testing::Shipped s = testing::load_shipped();
  s.params.caches.l1d.size = Bytes(24 * 1024);
  s.params.caches.llc.size = Bytes(2 * 1408 * 1024);  // 4096 sets: 1000 clears evict dirty lines to DRAM
  MemorySystem bulk(s.topo, s.params), lines(s.topo, s.params);
  lines.set_transfer_path(MemorySystem::TransferPath::Lines);
  ASSERT_EQ(bulk.caches().bulk_lines(), 16u);
  Picoseconds t(0);
  std::mt19937_64 rng(5);
  const PhysAddr node1 = s.topo.nodes()[1].base;
  for (int i = 0; i < 1500; ++i) {
    const PhysAddr page = (rng() % 2 ? node1 : 0) + (rng() % 2048) * 4096;
    const CpuId cpu(static_cast<int>(rng() % 4) * 9);  // CPUs 0, 9 (socket 0), 18, 27 (socket 1)
    Picoseconds a, b;
    if (rng() % 4 == 0) {  // a user load or store of the page
      const PhysAddr pa = page + 64 * (rng() % 64);
      const bool write = rng() % 2 == 0;
      a = bulk.access(cpu, pa, write, t);
      b = lines.access(cpu, pa, write, t);
    } else {
      a = bulk.access_range(cpu, page, Bytes(4096), true, t);
      b = lines.access_range(cpu, page, Bytes(4096), true, t);
    }
    ASSERT_EQ(a, b) << "op " << i;
    t += b + Picoseconds(500);
  }
  MapStatsVisitor va, vb;
  bulk.dump_stats(va);
  lines.dump_stats(vb);
  ASSERT_EQ(va.values.size(), vb.values.size());
  for (const auto& [name, v] : vb.values) EXPECT_EQ(va.values.at(name), v) << name;
  EXPECT_GT(vb.values.at("system.mem.writebacks"), 0);
}

#if defined(__x86_64__)
// access_below_l1 and prefetch_into_l2 run a copy compiled for SSE4.1 on hosts
// that have it (victim searches inline) and a plain copy elsewhere: the two
// copies, on two hierarchies driven through the same random loads, stores,
// prefetches and clears of several CPUs of two sockets, give the same levels,
// snoop results, write-backs, statistics, set contents and region counts.
TEST(CacheHierarchyCopies, ForSse41AndForAnyHostAgree) {
  if (!kHostSse41) GTEST_SKIP() << "the host has no SSE4.1: only the plain copy runs";
  struct Restore {
    ~Restore() { sse41_in_use = kHostSse41; }
  } restore;
  constexpr int kCpus = 4, kSockets = 2;
  const std::vector<int> cpu_socket = {0, 0, 1, 1};
  // The default way counts (8-way L1D, 16-way L2, 11-way LLC) take the SSE4.1
  // copies compiled for them (way counts known at compile time), with an
  // 8-way snoop filter (its claims after a prefetch's find keep the tag compare).
  std::vector<Geometry> gs = geometries();
  Geometry skylake = gs.front();
  skylake.name = "default_ways";
  skylake.params.l1d = cache(16 * 8 * 64, 8);
  skylake.params.l2 = cache(64 * 16 * 64, 16);
  skylake.params.llc = cache(96 * 11 * 64, 11);
  skylake.params.directory_ways = 8;
  gs.push_back(skylake);
  // The same way counts with L1D and L2 set counts that are not powers of two:
  // not the copy that takes their sets by a mask.
  Geometry odd_sets = skylake;
  odd_sets.name = "default_ways_odd_sets";
  odd_sets.params.l1d = cache(12 * 8 * 64, 8);
  odd_sets.params.l2 = cache(48 * 16 * 64, 16);
  gs.push_back(odd_sets);
  for (const Geometry& g : gs) {
    CacheHierarchy fast(g.params, cpu_socket, kSockets, Frequency(2'000'000'000));
    CacheHierarchy plain(g.params, cpu_socket, kSockets, Frequency(2'000'000'000));
    fast.count_regions(PhysAddr{1} << 26);
    plain.count_regions(PhysAddr{1} << 26);
    std::mt19937_64 rng(7);
    std::uint64_t prefetched = 0, written_back = 0, hitm = 0;
    for (int op = 0; op < 20'000; ++op) {
      const CpuId cpu(static_cast<int>(rng() % kCpus));
      const PhysAddr pa = static_cast<PhysAddr>(rng() % 16384) * 64;
      const unsigned kind = static_cast<unsigned>(rng() % 8);
      const bool write = kind % 2 == 0;
      int level[2];
      WritebackList wb[2];
      SnoopResult sn[2];
      bool held[2] = {false, false};
      for (int i = 0; i < 2; ++i) {
        CacheHierarchy& h = i == 0 ? fast : plain;
        sse41_in_use = i == 0;
        if (kind < 5) {
          level[i] = h.l1_access(cpu, pa, write) ? 1 : h.access_below_l1(cpu, pa, write, wb[i], sn[i]);
        } else if (kind < 7) {
          level[i] = h.prefetch_into_l2(cpu, pa, wb[i], &held[i]);
        } else {
          level[i] = h.write_full_line(cpu, pa, wb[i], sn[i]);
        }
      }
      const std::string where = std::string(g.name) + " op " + std::to_string(op);
      ASSERT_EQ(level[0], level[1]) << where;
      ASSERT_EQ(held[0], held[1]) << where;
      ASSERT_EQ(sn[0].kind, sn[1].kind) << where;
      ASSERT_EQ(sn[0].remote, sn[1].remote) << where;
      ASSERT_EQ(sn[0].socket, sn[1].socket) << where;
      ASSERT_EQ(wb[0].count, wb[1].count) << where;
      for (int k = 0; k < wb[1].count; ++k) ASSERT_EQ(wb[0].addr[k], wb[1].addr[k]) << where;
      prefetched += kind >= 5 && kind < 7 && level[1] > 2;
      written_back += static_cast<std::uint64_t>(wb[1].count);
      hitm += sn[1].kind == SnoopResult::Kind::Hitm;
    }
    sse41_in_use = kHostSse41;
    expect_same(fast, plain, kCpus, kSockets, g.name);
    EXPECT_GT(prefetched, 1000u) << g.name;
    EXPECT_GT(written_back, 1000u) << g.name;
    if (g.params.coherence) {
      EXPECT_GT(hitm, 100u) << g.name;
    }
  }
}
#endif

}  // namespace
}  // namespace numasim::hw
