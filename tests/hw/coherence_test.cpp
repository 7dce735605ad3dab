// Cache coherence: the snoop filter (entries, sharers, LRU eviction), the MESI
// protocol of the cache hierarchy (a read downgrades a Modified copy elsewhere
// to Shared, a write invalidates the others, a write to a Shared line upgrades,
// the snoop filter's evictions back-invalidate, the prefetcher leaves lines
// others hold alone), and the HITM latencies of the shipped Skylake-SP
// configuration against DESIGN.md's reference figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/cache_hierarchy.h"
#include "hw/coherence_directory.h"
#include "hw/memory_system.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

using Kind = SnoopResult::Kind;

TEST(CoherenceDirectory, TracksSharersAndEvictsTheLeastRecentlyUsedLine) {
  CoherenceDirectory d(2, 2, 70);  // one set of two ways; 70 CPUs need two bit words
  PhysAddr ev;
  std::vector<int> evs;
  const std::size_t a = d.find_or_insert(0x1000, ev, evs);
  EXPECT_EQ(ev, ~PhysAddr(0));
  d.add(a, 3);
  d.add(a, 69);
  std::vector<int> out;
  d.sharers(a, -1, out);
  EXPECT_EQ(out, (std::vector<int>{3, 69}));
  out.clear();
  d.sharers(a, 3, out);
  EXPECT_EQ(out, (std::vector<int>{69}));
  const std::size_t b = d.find_or_insert(0x2000, ev, evs);
  d.add(b, 1);
  EXPECT_EQ(d.find_or_insert(0x1000, ev, evs), a);  // 0x1000 used again: 0x2000 is now the LRU
  d.find_or_insert(0x3000, ev, evs);
  EXPECT_EQ(ev, 0x2000u);
  EXPECT_EQ(evs, (std::vector<int>{1}));
  EXPECT_EQ(d.find(0x2000), -1);
  EXPECT_EQ(d.find(0x1000), static_cast<long>(a));
  EXPECT_EQ(d.evictions(), 1u);
  EXPECT_THROW(CoherenceDirectory(0, 1, 1), std::invalid_argument);
}

// Two sockets of two CPUs each.
CacheHierarchy two_sockets(double coverage = 2.0) {
  CacheHierarchyParams p;
  p.directory_coverage = coverage;
  return CacheHierarchy(p, {0, 0, 1, 1}, 2, Frequency(2'000'000'000));
}

SnoopResult miss(CacheHierarchy& h, int cpu, PhysAddr pa, bool write) {
  WritebackList wb;
  SnoopResult sn;
  if (!h.l1_access(CpuId(cpu), pa, write)) h.access_below_l1(CpuId(cpu), pa, write, wb, sn);
  return sn;
}

TEST(Coherence, ReadOfAModifiedLineDowngradesTheOwnerAndWriteInvalidates) {
  CacheHierarchy h = two_sockets();
  const PhysAddr x = 0x4000;
  EXPECT_EQ(miss(h, 0, x, true).kind, Kind::None);
  EXPECT_EQ(h.l1d(CpuId(0)).state(x), LineState::Modified);
  // Same socket: the owner supplies the data (HITM), both keep a Shared copy.
  const SnoopResult r = miss(h, 1, x, false);
  EXPECT_EQ(r.kind, Kind::Hitm);
  EXPECT_FALSE(r.remote);
  EXPECT_EQ(h.l1d(CpuId(0)).state(x), LineState::Shared);
  EXPECT_EQ(h.l1d(CpuId(1)).state(x), LineState::Shared);
  EXPECT_EQ(h.llc(0).state(x), LineState::Modified);  // the dirty data went to the LLC
  // A write to the Shared copy is not an L1 hit: it upgrades and invalidates the other copy.
  EXPECT_FALSE(h.l1_access(CpuId(1), x, true));
  WritebackList wb;
  SnoopResult up;
  EXPECT_EQ(h.access_below_l1(CpuId(1), x, true, wb, up), 1);
  EXPECT_EQ(up.kind, Kind::Invalidate);
  EXPECT_EQ(h.l1d(CpuId(1)).state(x), LineState::Modified);
  EXPECT_EQ(h.l1d(CpuId(0)).state(x), LineState::Invalid);
  EXPECT_EQ(h.l1d(CpuId(1)).stats().upgrades, 1u);
  // Another socket reads it: a remote HITM; its owner is CPU 1's socket.
  const SnoopResult rr = miss(h, 2, x, false);
  EXPECT_EQ(rr.kind, Kind::Hitm);
  EXPECT_TRUE(rr.remote);
  EXPECT_EQ(rr.socket, 0);
  // ...and a write there (an upgrade of CPU 2's Shared copy) invalidates socket 0's copies, its LLC included.
  const SnoopResult rw = miss(h, 2, x, true);
  EXPECT_EQ(rw.kind, Kind::Invalidate);
  EXPECT_TRUE(rw.remote);
  EXPECT_EQ(h.l1d(CpuId(1)).state(x), LineState::Invalid);
  EXPECT_EQ(h.llc(0).state(x), LineState::Invalid);
  MapStatsVisitor v;
  h.dump(v);
  EXPECT_EQ(v.get("system.coherence.hitm_local"), 1.0);
  EXPECT_EQ(v.get("system.coherence.hitm_remote"), 1.0);
}

TEST(Coherence, CleanCopiesAreSharedOnReadAndInvalidatedOnWrite) {
  CacheHierarchy h = two_sockets();
  const PhysAddr x = 0x8000;
  miss(h, 0, x, false);
  EXPECT_EQ(h.l1d(CpuId(0)).state(x), LineState::Exclusive);
  EXPECT_EQ(miss(h, 3, x, false).kind, Kind::None);  // clean: data from memory, no HITM
  EXPECT_EQ(h.l1d(CpuId(0)).state(x), LineState::Shared);
  EXPECT_EQ(h.l1d(CpuId(3)).state(x), LineState::Shared);
  const SnoopResult w = miss(h, 0, x, true);
  EXPECT_EQ(w.kind, Kind::Invalidate);
  EXPECT_TRUE(w.remote);
  EXPECT_EQ(h.l1d(CpuId(3)).state(x), LineState::Invalid);
  EXPECT_EQ(h.llc(1).state(x), LineState::Invalid);
}

// A read that misses L2 looks its LLC up before the snoop and keeps that
// look-up only while the line is absent still: here the snoop writes the line
// itself into the LLC (a Modified copy in the same socket), so the read hits
// there (level 3) instead of filling the line a second time.
TEST(Coherence, ReadMissTakesTheLineItsSnoopWroteIntoTheLlc) {
  CacheHierarchy h = two_sockets();
  const PhysAddr x = 0x14000, y = 0x24000;
  miss(h, 0, x, true);
  h.llc(0).invalidate(x);  // the dirty copy is CPU 0's alone
  ASSERT_EQ(h.l1d(CpuId(0)).state(x), LineState::Modified);
  ASSERT_FALSE(h.llc(0).contains(x));
  const CacheStats before = h.llc(0).stats();
  WritebackList wb;
  SnoopResult sn;
  ASSERT_FALSE(h.l1_access(CpuId(1), x, false));
  EXPECT_EQ(h.access_below_l1(CpuId(1), x, false, wb, sn), 3);
  EXPECT_EQ(sn.kind, Kind::Hitm);
  EXPECT_EQ(h.llc(0).stats().read_hits, before.read_hits + 1);
  EXPECT_EQ(h.llc(0).stats().read_misses, before.read_misses);
  EXPECT_EQ(h.llc(0).stats().fills, before.fills + 1);  // the write-back's fill only
  EXPECT_EQ(h.llc(0).state(x), LineState::Modified);
  // A line nobody holds: the LLC's look-up before the snoop stands (a miss, one fill).
  const CacheStats before_y = h.llc(0).stats();
  ASSERT_FALSE(h.l1_access(CpuId(1), y, false));
  EXPECT_EQ(h.access_below_l1(CpuId(1), y, false, wb, sn), 4);
  EXPECT_EQ(h.llc(0).stats().read_misses, before_y.read_misses + 1);
  EXPECT_EQ(h.llc(0).stats().read_hits, before_y.read_hits);
  EXPECT_EQ(h.llc(0).stats().fills, before_y.fills + 1);
  EXPECT_EQ(h.llc(0).state(y), LineState::Exclusive);
}

// The look-ups kept across a snoop that changed the LLC's set: each read's
// snoop-filter claim evicts a dirty line of CPU 0 (a one-way filter: lines
// `apart` apart collide), whose write-back into the same LLC set takes the
// set's victim. A miss then fills the next victim and counts one miss, as a
// look-up after the snoop would; a hit stays a hit while the line keeps its way
// and misses when the write-back took that way. Then (a) a miss of a line
// CPU 1 of the socket holds clean (the snoop writes nothing into the LLC: the
// kept slot stands, the fill Shared) and (b) a miss whose snoop writes back a
// line the set holds (a hit on a line other than the victim: the set's order
// changes, the victim's word does not, so fill_at keeps the slot).
// Each step is also made by hand on a twin built alike, as a look-up after
// the snoop (its write-backs, then read_access and fill), and the LLCs must
// agree: set contents in replacement order, counts, states. Under each LLC
// replacement policy (Random: a full set's victim drawn in install()), with
// default way counts (8/16/11: the copy for them on SSE4.1 hosts) and the copy
// for any host.
TEST(Coherence, ReadKeepsItsLlcLookUpWhenTheSnoopWritesIntoItsSet) {
  for (const Replacement rep : {Replacement::Lru, Replacement::Fifo, Replacement::Random}) {
    for (const bool sse41 : {true, false}) {
      SCOPED_TRACE(std::string(rep == Replacement::Lru    ? "lru"
                               : rep == Replacement::Fifo ? "fifo"
                                                          : "random") +
                   (sse41 ? " sse4.1" : " plain"));
#if defined(__x86_64__)
      const bool saved = sse41_in_use;
      sse41_in_use = sse41 && kHostSse41;
#endif
      CacheHierarchyParams p;
      p.l1d.size = Bytes(4096);         // 8 sets of 8 ways
      p.l2.size = Bytes(16 * 1024);     // 16 sets of 16 ways
      p.llc.size = Bytes(4 * 11 * 64);  // 4 sets of 11 ways
      p.llc.replacement = rep;
      p.directory_ways = 1;         // one entry per set
      p.directory_coverage = 0.25;  // a quarter of the two CPUs' private lines, in whole sets
      CacheHierarchy h(p, {0, 0}, 1, Frequency(2'000'000'000));
      CacheHierarchy twin(p, {0, 0}, 1, Frequency(2'000'000'000));
      CacheArray& llc = h.llc(0);
      CacheArray& ref = twin.llc(0);
      const PhysAddr apart = h.directory()->capacity() * 64;  // the same snoop-filter set and LLC set
      ASSERT_EQ(apart % (4 * 64), 0u);
      std::vector<PhysAddr> a;  // set 0 of the LLC, a[0] filled first
      for (PhysAddr i = 1; i <= 11; ++i) a.push_back(0x100000 + i * 4 * 64);
      const PhysAddr z = 0x40000, y = z + apart, w = a[5] + apart, w2 = a[3] + apart;
      const PhysAddr v = 0x81900;                  // LLC set 0, a snoop-filter set of its own (100)
      const PhysAddr u = 0x80f00, y2 = u + apart;  // LLC set 0, snoop-filter set 60
      for (CacheHierarchy* x : {&h, &twin}) {
        for (PhysAddr d : {z, w, w2}) {  // Modified in CPU 0's L1D, tracked, not in the LLC
          miss(*x, 0, d, true);
          x->llc(0).invalidate(d);
        }
        miss(*x, 1, v, false);  // Exclusive in CPU 1's L1D, tracked, not in the LLC
        x->llc(0).invalidate(v);
        for (PhysAddr l : a) x->llc(0).fill(l, LineState::Exclusive);
      }
      for (PhysAddr l : {y, v, y2}) ASSERT_EQ(llc.set_index(l), llc.set_index(a[0]));
      WritebackList wb;
      SnoopResult sn;
      auto read = [&](PhysAddr x) {
        EXPECT_FALSE(h.l1_access(CpuId(0), x, false));
        EXPECT_FALSE(h.l2(CpuId(0)).contains(x));
        return h.access_below_l1(CpuId(0), x, false, wb, sn);
      };
      // The step on the twin's LLC: the snoop's write-backs, then a look-up and a fill on a miss.
      auto expect_as_looked_up_after = [&](const char* step, PhysAddr x, int level,
                                           std::initializer_list<PhysAddr> written_back, LineState fill_state) {
        SCOPED_TRACE(step);
        for (PhysAddr l : written_back) {
          bool received;
          const Eviction e = ref.write_back_or_fill(l, received);
          (void)e;
        }
        CacheArray::FillSlot slot;
        LineState in;
        const bool hit = ref.read_access(x, slot, in);
        if (!hit) ref.fill(x, fill_state);
        EXPECT_EQ(level, hit ? 3 : 4);
        EXPECT_EQ(llc.set_contents(0), ref.set_contents(0));
        EXPECT_EQ(llc.stats().read_hits, ref.stats().read_hits);
        EXPECT_EQ(llc.stats().read_misses, ref.stats().read_misses);
        EXPECT_EQ(llc.stats().fills, ref.stats().fills);
        EXPECT_EQ(llc.stats().writebacks_received, ref.stats().writebacks_received);
        for (PhysAddr l : written_back) EXPECT_EQ(llc.state(l), ref.state(l));
        EXPECT_EQ(llc.state(x), ref.state(x));
      };
      const bool lru = rep == Replacement::Lru;
      // A miss: z's write-back takes a[0]'s way (LRU), y then a[1]'s.
      CacheStats before = llc.stats();
      EXPECT_EQ(read(y), 4);
      expect_as_looked_up_after("miss", y, 4, {z}, LineState::Exclusive);
      EXPECT_EQ(h.l1d(CpuId(0)).state(z), LineState::Invalid);  // back-invalidated
      EXPECT_EQ(llc.state(z), LineState::Modified);
      EXPECT_EQ(llc.state(y), LineState::Exclusive);
      EXPECT_EQ(llc.stats().read_misses, before.read_misses + 1);
      EXPECT_EQ(llc.stats().read_hits, before.read_hits);
      EXPECT_EQ(llc.stats().fills, before.fills + 2);  // z's write-back and y
      if (lru) {
        EXPECT_FALSE(llc.contains(a[0]));
        EXPECT_FALSE(llc.contains(a[1])) << "the fill takes the LRU line after the snoop, not its look-up's";
      }
      // A hit whose line keeps its way (LRU: w's write-back takes a[2]'s).
      before = llc.stats();
      const int hit_level = read(a[5]);
      expect_as_looked_up_after("kept hit", a[5], hit_level, {w}, LineState::Exclusive);
      EXPECT_EQ(llc.state(w), LineState::Modified);
      if (lru) {
        EXPECT_EQ(hit_level, 3);
        EXPECT_FALSE(llc.contains(a[2]));
        EXPECT_EQ(llc.stats().read_hits, before.read_hits + 1);
        // ...and a[5] is the most recently used: LRU first, a[3], a[4], a[6]..a[10], z, y, w, a[5].
        EXPECT_EQ(llc.set_contents(0).front(), a[5]);
        EXPECT_EQ(llc.set_contents(0).back(), a[3]);
      }
      // A hit whose line the write-back evicts (LRU: w2's takes a[3]'s way): a miss, filled over a[4].
      before = llc.stats();
      const int evicted_level = read(a[3]);
      expect_as_looked_up_after("hit evicted", a[3], evicted_level, {w2}, LineState::Exclusive);
      EXPECT_EQ(llc.state(w2), LineState::Modified);
      if (lru) {
        EXPECT_EQ(evicted_level, 4);
        EXPECT_EQ(llc.state(a[3]), LineState::Exclusive);
        EXPECT_FALSE(llc.contains(a[4]));
        EXPECT_EQ(llc.stats().read_misses, before.read_misses + 1);
        EXPECT_EQ(llc.stats().read_hits, before.read_hits);
      }
      // (a) CPU 1 holds the missed line clean: nothing written into the LLC, one
      // miss, the fill Shared at the slot the look-up before the snoop chose.
      before = llc.stats();
      EXPECT_EQ(read(v), 4);
      expect_as_looked_up_after("(a) held clean by CPU 1", v, 4, {}, LineState::Shared);
      EXPECT_EQ(h.l1d(CpuId(1)).state(v), LineState::Shared);
      EXPECT_EQ(llc.state(v), LineState::Shared);
      EXPECT_EQ(llc.stats().read_misses, before.read_misses + 1);
      EXPECT_EQ(llc.stats().writebacks_received, before.writebacks_received);
      // (b) u is in the set (the newest line) and Modified in CPU 0's L1D; y2's
      // claim evicts u's filter entry, whose write-back hits u's way.
      for (CacheHierarchy* x : {&h, &twin}) miss(*x, 0, u, true);
      ASSERT_TRUE(llc.contains(u));
      before = llc.stats();
      EXPECT_EQ(read(y2), 4);
      expect_as_looked_up_after("(b) write-back hit on another line", y2, 4, {u}, LineState::Exclusive);
      EXPECT_EQ(llc.stats().writebacks_received, before.writebacks_received + 1);
      EXPECT_EQ(llc.stats().read_misses, before.read_misses + 1);
      EXPECT_EQ(llc.state(u), LineState::Modified);
      EXPECT_EQ(llc.state(y2), LineState::Exclusive);
#if defined(__x86_64__)
      sse41_in_use = saved;
#endif
    }
  }
}

TEST(Coherence, SnoopFilterEvictionsBackInvalidatePrivateCopies) {
  CacheHierarchyParams p;
  p.l1d.size = Bytes(4096);
  p.l2.size = Bytes(256 * 1024);
  p.directory_coverage = 0.25;  // a quarter of the private lines can be tracked (rounded up to whole sets)
  CacheHierarchy h(p, {0}, 1, Frequency(2'000'000'000));
  const std::size_t tracked = h.directory()->capacity();
  // The CPU touches more lines than the filter tracks, all of which fit in its L2.
  const std::uint64_t lines = tracked * 2;
  ASSERT_LE(lines * 64, p.l2.size.value());
  for (std::uint64_t i = 0; i < lines; ++i) miss(h, 0, i * 64, false);
  std::uint64_t cached = 0;
  for (std::uint64_t i = 0; i < lines; ++i)
    cached += h.l1d(CpuId(0)).contains(i * 64) || h.l2(CpuId(0)).contains(i * 64);
  EXPECT_LE(cached, tracked);  // every copy left is tracked
  EXPECT_TRUE(h.l2(CpuId(0)).contains((lines - 1) * 64));
  MapStatsVisitor v;
  h.dump(v);
  EXPECT_GT(v.get("system.coherence.snoop_filter_back_invalidations"), 0.0);
}

// The snoop filter against a plain model of it (one record per entry, 64-bit
// line addresses and stamps: the layout CoherenceDirectory had before its tags
// and stamps were packed into 32-bit words) under random traffic, with the
// stamps renumbered often (set_stamp_limit) or never: the same entries, victims,
// evicted lines and sharers.
class ReferenceDirectory {
 public:
  ReferenceDirectory(std::size_t sets, std::size_t ways, int cpus)
      : sets_(sets), ways_(ways), e_(sets * ways, Entry{~PhysAddr(0), 0, std::vector<bool>(cpus)}) {}
  long find(PhysAddr line) const {
    const std::size_t base = ((line >> 6) % sets_) * ways_;
    for (std::size_t w = 0; w < ways_; ++w)
      if (e_[base + w].tag == line) return static_cast<long>(base + w);
    return -1;
  }
  std::size_t find_or_insert(PhysAddr line, PhysAddr& evicted, std::vector<int>& sharers) {
    evicted = ~PhysAddr(0);
    const std::size_t base = ((line >> 6) % sets_) * ways_;
    std::size_t victim = ways_;
    for (std::size_t w = 0; w < ways_; ++w) {
      if (e_[base + w].tag == line) {
        e_[base + w].stamp = ++clock_;
        return base + w;
      }
      if (victim == ways_ && e_[base + w].tag == ~PhysAddr(0)) victim = w;
    }
    if (victim == ways_) {
      victim = 0;
      for (std::size_t w = 1; w < ways_; ++w)
        if (e_[base + w].stamp < e_[base + victim].stamp) victim = w;
    }
    Entry& e = e_[base + victim];
    if (e.tag != ~PhysAddr(0)) {
      evicted = e.tag;
      for (std::size_t c = 0; c < e.cpus.size(); ++c)
        if (e.cpus[c]) sharers.push_back(static_cast<int>(c));
    }
    e.tag = line;
    e.stamp = ++clock_;
    std::fill(e.cpus.begin(), e.cpus.end(), false);
    return base + victim;
  }
  struct Entry {
    PhysAddr tag;
    std::uint64_t stamp;
    std::vector<bool> cpus;
  };
  std::size_t sets_, ways_;
  std::vector<Entry> e_;
  std::uint64_t clock_ = 0;
};

TEST(CoherenceDirectory, EqualsThePlainModelUnderRandomTraffic) {
  for (const std::uint32_t limit : {0u, 13u}) {
    for (const int cpus : {4, 70}) {
      CoherenceDirectory d(64 * 8, 8, cpus);
      if (limit) d.set_stamp_limit(limit);
      ReferenceDirectory ref(64, 8, cpus);
      ASSERT_EQ(d.capacity(), 64u * 8u);
      std::mt19937_64 rng(limit + static_cast<std::uint64_t>(cpus));
      std::uint64_t evictions = 0;
      for (int i = 0; i < 100'000; ++i) {
        const PhysAddr line = ((rng() % 4096) << 6) + (std::uint64_t{1} << 40);
        const int cpu = static_cast<int>(rng() % static_cast<std::uint64_t>(cpus));
        const unsigned op = static_cast<unsigned>(rng() % 10);
        if (op < 6) {
          PhysAddr ev, ev_ref;
          std::vector<int> s, s_ref;
          const std::size_t e = d.find_or_insert(line, ev, s);
          ASSERT_EQ(e, ref.find_or_insert(line, ev_ref, s_ref)) << "op " << i;
          ASSERT_EQ(ev, ev_ref) << "op " << i;
          ASSERT_EQ(s, s_ref) << "op " << i;
          evictions += ev != ~PhysAddr(0);
          d.add(e, cpu);
          ref.e_[e].cpus[static_cast<std::size_t>(cpu)] = true;
        } else {
          const long e = d.find(line);
          ASSERT_EQ(e, ref.find(line)) << "op " << i;
          if (e < 0) continue;
          const auto k = static_cast<std::size_t>(e);
          if (op < 8) {
            ASSERT_EQ(d.has(k, cpu), ref.e_[k].cpus[static_cast<std::size_t>(cpu)]);
            d.remove(k, cpu);
            ref.e_[k].cpus[static_cast<std::size_t>(cpu)] = false;
          } else {
            d.erase(k);
            ref.e_[k].tag = ~PhysAddr(0);
            std::fill(ref.e_[k].cpus.begin(), ref.e_[k].cpus.end(), false);
          }
        }
      }
      EXPECT_EQ(d.evictions(), evictions);
      EXPECT_GT(evictions, 10'000u);
    }
  }
}

// The mask form of find_or_insert (at most 64 CPUs), claim_for (the same and
// add() in one step, with the entry's other CPUs; every other time after a
// find() whose Probe it takes, as an L2 prefetch does) and the padded
// whole-set searches (way_scan.h) at associativities that are not multiples
// of four, and at 64 ways (epyc-genoa's snoop filter: claim()'s 64-way copy
// takes the probe's compare too), against the plain model: the same entries,
// evicted lines and sharers.
TEST(CoherenceDirectory, MaskFormEqualsThePlainModelAtOddAssociativities) {
  for (const std::size_t ways : {1u, 2u, 3u, 5u, 8u, 11u, 16u, 64u}) {
    const int cpus = 6;
    CoherenceDirectory d(32 * ways, ways, cpus);
    d.set_stamp_limit(29);
    ReferenceDirectory ref(32, ways, cpus);
    ASSERT_EQ(d.cpu_words(), 1u);
    std::mt19937_64 rng(ways);
    std::uint64_t evicted_with_sharers = 0, others_seen = 0;
    // At least four lines per way of each of the 32 sets, so that 64 ways evict too.
    const std::uint64_t lines = std::max<std::uint64_t>(2048, 128 * ways);
    for (int i = 0; i < 40'000; ++i) {
      const PhysAddr line = (rng() % lines) << 6;
      const int cpu = static_cast<int>(rng() % static_cast<std::uint64_t>(cpus));
      PhysAddr ev, ev_ref;
      std::uint64_t mask;
      std::vector<int> s_ref;
      const bool in_one_step = i % 2 == 1;
      std::uint64_t others = 0;
      CoherenceDirectory::Probe probe;
      const bool probed = in_one_step && i % 4 == 3;
      if (probed) {
        ASSERT_EQ(d.find(line, probe), ref.find(line)) << "ways " << ways << " op " << i;
      }
      const std::size_t e = in_one_step ? d.claim_for(line, cpu, ev, mask, others, probed ? &probe : nullptr)
                                        : d.find_or_insert(line, ev, mask);
      ASSERT_EQ(e, ref.find_or_insert(line, ev_ref, s_ref)) << "ways " << ways << " op " << i;
      ASSERT_EQ(ev, ev_ref) << "ways " << ways << " op " << i;
      std::uint64_t mask_ref = 0;
      for (int c : s_ref) mask_ref |= std::uint64_t{1} << c;
      ASSERT_EQ(mask, mask_ref) << "ways " << ways << " op " << i;
      evicted_with_sharers += mask != 0;
      if (!in_one_step) d.add(e, cpu);
      ref.e_[e].cpus[static_cast<std::size_t>(cpu)] = true;
      std::uint64_t others_ref = 0;
      for (int c = 0; c < cpus; ++c)
        if (c != cpu && ref.e_[e].cpus[static_cast<std::size_t>(c)]) others_ref |= std::uint64_t{1} << c;
      if (in_one_step) {
        ASSERT_EQ(others, others_ref) << "ways " << ways << " op " << i;
        others_seen += others != 0;
      }
      ASSERT_EQ(d.has_others(e, cpu), others_ref != 0) << "ways " << ways << " op " << i;
      for (int c = 0; c < cpus; ++c)
        ASSERT_EQ(d.has(e, c), ref.e_[e].cpus[static_cast<std::size_t>(c)]) << "ways " << ways << " op " << i;
      if (rng() % 4 == 0) {
        const long f = d.find(line ^ (std::uint64_t{1} << 11));
        ASSERT_EQ(f, ref.find(line ^ (std::uint64_t{1} << 11)));
        if (f >= 0) {
          d.erase(static_cast<std::size_t>(f));
          ref.e_[static_cast<std::size_t>(f)].tag = ~PhysAddr(0);
          std::fill(ref.e_[static_cast<std::size_t>(f)].cpus.begin(), ref.e_[static_cast<std::size_t>(f)].cpus.end(),
                    false);
        }
      }
    }
    EXPECT_GT(evicted_with_sharers, 1000u) << "ways " << ways;
    EXPECT_GT(others_seen, 200u) << "ways " << ways;
  }
}

// claim_lines (a cached clear's claims for a batch of consecutive lines, in
// one pass for 8 ways) against claim_for line by line on a twin directory:
// the same entries, evicted lines, CPU bits, evictions and empty entries
// after each batch. Batches wrap past the last set (the next tag), take a
// random subset of their lines, and narrow an evicted line's CPUs by a
// filter (`held`, here: the even CPUs); a line has work when its entry has
// other CPUs or its evicted line held CPUs, and its record is written then
// (every taken line's with `all`). The filter starts empty (empty ways
// taken) and entries are erased now and then (empty ways again); with 4
// ways and near the stamp limit the claims go line by line. The mask of
// lines the CPU may hold (`mine`) has every line whose entry had the CPU
// before its claim, and only those in the 8-way copies.
TEST(CoherenceDirectory, ClaimLinesEqualsClaimForLineByLine) {
  for (const std::size_t ways : {8u, 4u}) {
    for (const std::uint32_t stamp_limit : {(std::uint32_t{1} << 30) - 1, std::uint32_t{700}}) {
      const int cpus = 6;
      CoherenceDirectory d(32 * ways, ways, cpus), twin(32 * ways, ways, cpus);
      d.set_stamp_limit(stamp_limit);
      twin.set_stamp_limit(stamp_limit);
      std::mt19937_64 rng(ways * 7 + stamp_limit);
      auto held = [](PhysAddr, std::uint64_t c) { return c & 0x15; };
      std::uint64_t busy_lines = 0, records = 0, evicted_held = 0, mine_lines = 0;
      for (int batch = 0; batch < 3000; ++batch) {
        const std::size_t n = 1 + rng() % 64;
        const PhysAddr first = (rng() % 4096) << 6;
        const int cpu = static_cast<int>(rng() % cpus);
        const bool all = rng() % 4 == 0;
        std::vector<std::uint8_t> take(n);
        for (auto& t : take) t = rng() % 8 != 0;
        std::vector<CoherenceDirectory::Claim> out(n, CoherenceDirectory::Claim{~std::size_t{0}, 1, 2, 3});
        std::uint64_t mine = 0;
        const std::uint64_t work = d.claim_lines(first, n, cpu, take.data(), all, held, out.data(), mine);
        for (std::size_t j = 0; j < n; ++j) {
          const std::string at =
              "ways " + std::to_string(ways) + " batch " + std::to_string(batch) + " line " + std::to_string(j);
          if (!take[j]) {
            ASSERT_FALSE((work >> j) & 1) << at;
            ASSERT_FALSE((mine >> j) & 1) << at;
            ASSERT_EQ(out[j].entry, ~std::size_t{0}) << at;
            continue;
          }
          // `mine`: every line whose entry had the CPU before (exactly those with 8 ways, the stamps not renumbered).
          const long had = twin.find(first + j * 64);
          const bool was_mine = had >= 0 && twin.has(static_cast<std::size_t>(had), cpu);
          if (was_mine) ASSERT_TRUE((mine >> j) & 1) << at;
          if (ways == 8 && stamp_limit > 1000000) ASSERT_EQ(((mine >> j) & 1) != 0, was_mine) << at;
          mine_lines += was_mine;
          CoherenceDirectory::Claim c;
          c.entry = twin.claim_for(first + j * 64, cpu, c.evicted, c.evicted_cpus, c.others);
          if (c.evicted_cpus != 0) c.evicted_cpus = held(c.evicted, c.evicted_cpus);
          const bool busy = (c.others | c.evicted_cpus) != 0;
          ASSERT_EQ(((work >> j) & 1) != 0, busy) << at;
          busy_lines += busy;
          evicted_held += c.evicted_cpus != 0;
          if (busy || all) {
            ++records;
            ASSERT_EQ(out[j].entry, c.entry) << at;
            ASSERT_EQ(out[j].evicted, c.evicted) << at;
            ASSERT_EQ(out[j].evicted_cpus, c.evicted_cpus) << at;
            ASSERT_EQ(out[j].others, c.others) << at;
          } else {
            ASSERT_EQ(out[j].entry, ~std::size_t{0}) << at;  // not written
          }
        }
        ASSERT_EQ(d.evictions(), twin.evictions()) << "batch " << batch;
        for (std::size_t e = 0; e < d.capacity(); ++e) ASSERT_EQ(d.cpu_bits(e), twin.cpu_bits(e)) << "entry " << e;
        for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(d.find(first + j * 64), twin.find(first + j * 64));
        if (rng() % 16 == 0) {  // an entry freed: an empty way to take again
          const long f = d.find(first);
          ASSERT_EQ(f, twin.find(first));
          if (f >= 0) {
            d.erase(static_cast<std::size_t>(f));
            twin.erase(static_cast<std::size_t>(f));
          }
        }
      }
      // The same LRU choices (an entry taken now, later evicted, shows them) and stamps.
      for (PhysAddr line = 0; line < (PhysAddr{4096} << 6); line += 64) ASSERT_EQ(d.find(line), twin.find(line));
      EXPECT_GT(busy_lines, 1000u) << "ways " << ways;
      EXPECT_GT(evicted_held, 500u) << "ways " << ways;
      EXPECT_GT(records, busy_lines) << "ways " << ways;
      EXPECT_GT(mine_lines, 200u) << "ways " << ways;
    }
  }
}

TEST(Coherence, DisabledKeepsPrivateCopiesApart) {
  CacheHierarchyParams p;
  p.coherence = false;
  CacheHierarchy h(p, {0, 0}, 1, Frequency(2'000'000'000));
  miss(h, 0, 0x40, true);
  EXPECT_EQ(miss(h, 1, 0x40, false).kind, Kind::None);
  EXPECT_EQ(h.l1d(CpuId(0)).state(0x40), LineState::Modified);  // stale copies: no protocol
  EXPECT_EQ(h.directory(), nullptr);
}

TEST(Coherence, PrefetcherLeavesLinesOthersHoldAlone) {
  CacheHierarchy h = two_sockets();
  miss(h, 1, 0x10000, true);
  WritebackList wb;
  EXPECT_EQ(h.prefetch_into_l2(CpuId(0), 0x10000, wb), 2);
  EXPECT_FALSE(h.l2(CpuId(0)).contains(0x10000));
  EXPECT_EQ(h.l1d(CpuId(1)).state(0x10000), LineState::Modified);
  EXPECT_EQ(h.prefetch_into_l2(CpuId(0), 0x10040, wb), 4);
}

using testing::load_shipped;
using testing::Shipped;

// Mean latency of reading lines another CPU has just written (MLC --c2c_latency style).
double hitm_ns(MemorySystem& ms, CpuId writer, CpuId reader, Picoseconds& t) {
  const int n = 2000;
  Picoseconds sum(0);
  for (int i = 0; i < n; ++i) {
    const PhysAddr line = 0x100000 + static_cast<PhysAddr>(i) * 4096;
    t += ms.access(writer, line, true, t);
    t += Picoseconds(1'000'000);
    AccessBreakdown b;
    const Picoseconds lat = ms.access(reader, line, false, t, &b);
    EXPECT_EQ(b.level_hit, kServedHitm);
    sum += lat;
    t += lat;
  }
  return static_cast<double>(sum.value()) / n / 1000.0;
}

TEST(CoherenceCalibration, HitmLatenciesMatchSkylakeSp) {
  Shipped s = load_shipped();
  MemorySystem ms(s.topo, s.params);
  const CpuId a = s.topo.node(NodeId(0)).cpus[0], b = s.topo.node(NodeId(0)).cpus[1];
  const CpuId remote = s.topo.node(NodeId(1)).cpus[0];
  Picoseconds t(0);
  const double same = hitm_ns(ms, a, b, t);
  const double cross = hitm_ns(ms, a, remote, t);
  std::printf("HITM same socket %.1f ns (about 50), cross socket %.1f ns (114-123)\n", same, cross);
  EXPECT_NEAR(same, 50.0, 5.0);
  EXPECT_GE(cross, 114.0 * 0.95);
  EXPECT_LE(cross, 123.0 * 1.05);
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.mem.hitm"), 4000.0);
}

}  // namespace
}  // namespace numasim::hw
