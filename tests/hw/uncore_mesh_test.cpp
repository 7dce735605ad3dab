// The uncore model (uncore_mesh.h): hop counts on a mesh and a ring, core tile
// placement, the latencies composed from hops and agent cycles, the request
// trackers' occupancy calendar (out-of-order arrivals), and in the memory
// system: an idle remote read is the sum of its parts, and remote reads are
// bounded by the socket's UPI request credits.
#include "hw/uncore_mesh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/config.h"
#include "hw/memory_system.h"

namespace numasim::hw {
namespace {

UncoreParams mesh6x6() {
  UncoreParams p;
  p.impl = "mesh";
  return p;  // defaults: 6 x 6, one I/O row, IMCs at (3,0) and (3,5), UPI at (0,1), (0,2), (0,4)
}

TEST(UncoreMesh, HopsAreManhattanOnAMeshAndTheShorterWayRoundARing) {
  UncoreMesh m(mesh6x6(), 18);
  EXPECT_EQ(m.hops(0, 0), 0u);
  EXPECT_EQ(m.hops(0, 35), 10u);      // (0,0) -> (5,5)
  EXPECT_EQ(m.hops(7, 16), 1u + 3u);  // (1,1) -> (2,4)
  UncoreParams r = mesh6x6();
  r.impl = "ring";
  r.cols = 12;
  r.rows = 1;
  r.io_rows = 0;
  r.imc_tiles = {{0, 0}};
  r.upi_tiles = {{0, 6}};
  UncoreMesh ring(r, 8);
  EXPECT_EQ(ring.hops(1, 11), 2u);  // the other way round
  EXPECT_EQ(ring.hops(0, 6), 6u);
}

TEST(UncoreMesh, CoresSpreadOverTheCoreTilesAndMustFit) {
  UncoreMesh m(mesh6x6(), 28);  // every core tile: rows 1-5 without the two IMCs
  for (std::uint32_t i = 0; i < 28; ++i) {
    EXPECT_GE(m.core_tile(i), 6u);  // below the I/O row
    EXPECT_NE(m.core_tile(i), 3u * 6u + 0u);
    EXPECT_NE(m.core_tile(i), 3u * 6u + 5u);
  }
  EXPECT_THROW(UncoreMesh(mesh6x6(), 29), std::invalid_argument);
  UncoreParams bad = mesh6x6();
  bad.imc_tiles = {{6, 0}};
  EXPECT_THROW(UncoreMesh(bad, 4), std::invalid_argument);
}

TEST(UncoreMesh, LatenciesAreHopsAndAgentCyclesAtTheUncoreClock) {
  UncoreParams p = mesh6x6();
  p.clock = Frequency(2'000'000'000);  // 500 ps per cycle
  p.hop_cycles = 2;
  UncoreMesh m(p, 18);
  const PhysAddr pa = 0x12345640;
  const std::uint32_t ct = m.core_tile(3), st = m.core_tile(m.slice_of(pa)), it = m.imc_tile(m.imc_of(pa));
  EXPECT_EQ(m.llc_hit(3, pa), Picoseconds(500 * (p.core_stop_cycles + p.llc_cycles + 2 * 2 * m.hops(ct, st))));
  EXPECT_EQ(m.local_imc_legs(3, pa).to, Picoseconds(500 * (p.llc_cycles + 2 * (m.hops(ct, st) + m.hops(st, it)))));
  EXPECT_EQ(m.local_imc_legs(3, pa).back, Picoseconds(500 * (p.core_stop_cycles + 2 * m.hops(it, ct))));
  // Slices are used evenly by consecutive lines.
  std::vector<int> used(18, 0);
  for (PhysAddr a = 0; a < 18 * 64 * 100; a += 64) ++used[m.slice_of(a)];
  for (int u : used) EXPECT_GT(u, 50);
}

// The geometry as it was computed on every call (tile indices divided by the
// mesh's width, impl compared with "ring", hashes taken with `%`), against
// UncoreMesh's tables and FastDividers: every tile pair, every core, and the
// latencies of random lines, on a mesh, a ring and a mesh of dies, with the
// nearest and the address-routed UPI agents.
struct ReferenceGeometry {
  UncoreParams p;
  std::uint32_t cores;
  std::uint32_t hops(std::uint32_t a, std::uint32_t b) const {
    if (p.impl == "ring") {
      const std::uint32_t n = p.cols * p.rows, d = a > b ? a - b : b - a;
      return std::min(d, n - d);
    }
    const std::uint32_t ra = a / p.cols, ca = a % p.cols, rb = b / p.cols, cb = b % p.cols;
    return (ra > rb ? ra - rb : rb - ra) + (ca > cb ? ca - cb : cb - ca);
  }
  std::uint32_t crossings(std::uint32_t a, std::uint32_t b) const {
    std::uint32_t n = 0;
    if (p.die_cols) {
      const std::uint32_t da = a % p.cols / p.die_cols, db = b % p.cols / p.die_cols;
      n += da > db ? da - db : db - da;
    }
    if (p.die_rows) {
      const std::uint32_t da = a / p.cols / p.die_rows, db = b / p.cols / p.die_rows;
      n += da > db ? da - db : db - da;
    }
    return n;
  }
  std::uint32_t route(std::uint32_t a, std::uint32_t b) const {
    return hops(a, b) * p.hop_cycles + crossings(a, b) * p.die_crossing_cycles;
  }
  std::uint32_t slice_of(PhysAddr pa) const {
    return static_cast<std::uint32_t>((((pa >> 6) * 0x9E3779B97F4A7C15ull) >> 32) % cores);
  }
  std::uint32_t imc_of(PhysAddr pa) const {
    return static_cast<std::uint32_t>(((pa >> 8) ^ (pa >> 13)) % p.imc_tiles.size());
  }
  std::uint32_t upi_of(PhysAddr pa) const {
    return static_cast<std::uint32_t>((((pa >> 6) * 0xC2B2AE3D27D4EB4Full) >> 40) % p.upi_tiles.size());
  }
  std::uint32_t upi_tile(std::uint32_t k) const { return p.upi_tiles[k].first * p.cols + p.upi_tiles[k].second; }
  std::uint32_t nearest_upi(std::uint32_t tile) const {
    std::uint32_t best = upi_tile(0);
    for (std::uint32_t k = 0; k < p.upi_tiles.size(); ++k)
      if (route(tile, upi_tile(k)) < route(tile, best)) best = upi_tile(k);
    return best;
  }
};

TEST(UncoreMesh, TablesAndDividersEqualTheGeometryComputedPerCall) {
  std::vector<std::pair<UncoreParams, std::uint32_t>> shapes;
  UncoreParams mesh = mesh6x6();
  mesh.hop_cycles = 3;
  shapes.push_back({mesh, 18});
  UncoreParams ring = mesh6x6();
  ring.impl = "ring";
  ring.cols = 12;
  ring.rows = 1;
  ring.io_rows = 0;
  ring.imc_tiles = {{0, 0}, {0, 7}};
  ring.upi_tiles = {{0, 6}};
  shapes.push_back({ring, 9});
  // 8 x 10 tiles in four 4 x 5 dies, I/O rows at the top and the bottom, three IMCs.
  UncoreParams dies{.impl = "mesh", .cols = 8, .rows = 10, .imc_tiles = {{2, 0}, {2, 7}, {7, 0}},
                    .upi_tiles = {{0, 1}, {0, 6}, {9, 1}, {9, 6}}, .io_rows_bottom = 1, .die_cols = 4,
                    .die_rows = 5, .die_crossing_cycles = 7};
  shapes.push_back({dies, 56});
  dies.upi_route = "address";
  shapes.push_back({dies, 37});
  // Beyond the route table's 128 tiles: every route computed.
  UncoreParams large = mesh6x6();
  large.cols = 12;
  large.rows = 12;
  large.hop_cycles = 2;
  shapes.push_back({large, 100});
  std::mt19937_64 rng(15);
  for (const auto& [p, cores] : shapes) {
    const UncoreMesh m(p, cores);
    const ReferenceGeometry ref{p, cores};
    const std::uint32_t tiles = p.cols * p.rows;
    for (std::uint32_t a = 0; a < tiles; ++a)
      for (std::uint32_t b = 0; b < tiles; ++b) {
        ASSERT_EQ(m.hops(a, b), ref.hops(a, b)) << p.impl << " " << a << " " << b;
        ASSERT_EQ(m.crossings(a, b), ref.crossings(a, b)) << a << " " << b;
        ASSERT_EQ(m.route_cycles(a, b), ref.route(a, b)) << a << " " << b;
      }
    const Picoseconds cycle = p.clock.to_time(Cycles(1));
    for (int i = 0; i < 20000; ++i) {
      const PhysAddr pa = rng() & ((1ull << 46) - 1);
      const std::uint32_t core = static_cast<std::uint32_t>(rng() % (2 * cores));  // beyond cores too: modulo
      ASSERT_EQ(m.slice_of(pa), ref.slice_of(pa));
      ASSERT_EQ(m.imc_of(pa), ref.imc_of(pa));
      ASSERT_EQ(m.upi_of(pa), ref.upi_of(pa));
      const std::uint32_t ct = m.core_tile(core % cores), st = m.core_tile(ref.slice_of(pa));
      const std::uint32_t it = m.imc_tile(ref.imc_of(pa));
      const UncoreMesh::Legs legs = m.local_imc_legs(core, pa);
      ASSERT_EQ(legs.to, cycle * (p.llc_cycles + ref.route(ct, st) + ref.route(st, it)));
      ASSERT_EQ(legs.back, cycle * (p.core_stop_cycles + ref.route(it, ct)));
      const std::uint32_t out_agent = p.address_routed_upi() ? ref.upi_tile(ref.upi_of(pa)) : ref.nearest_upi(st);
      ASSERT_EQ(m.to_upi(core, pa),
                cycle * (p.llc_cycles + p.upi_agent_cycles + ref.route(ct, st) + ref.route(st, out_agent)));
      ASSERT_EQ(m.upi_to_core(core), cycle * (p.upi_agent_cycles + p.core_stop_cycles +
                                              ref.route(ref.nearest_upi(ct), ct)));
    }
  }
}

TEST(RequestTracker, HoldsEntriesInTimeEvenWhenRequestsArriveOutOfOrder) {
  RequestTracker t(2, Picoseconds(1000), 64);
  t.take(Picoseconds(10'000), Picoseconds(10'000), Picoseconds(20'000));
  t.take(Picoseconds(12'000), Picoseconds(12'000), Picoseconds(30'000));
  EXPECT_EQ(t.busy(Picoseconds(15'000)), 2u);
  // Full from 12 to 20 ns: a third request at 15 ns starts when the first frees.
  EXPECT_EQ(t.available(Picoseconds(15'000)), Picoseconds(20'000));
  // One stamped earlier (a core behind in time) finds the entries free then.
  EXPECT_EQ(t.available(Picoseconds(5'000)), Picoseconds(5'000));
  t.take(Picoseconds(15'000), Picoseconds(20'000), Picoseconds(25'000));
  EXPECT_EQ(t.waits(), 1u);
  EXPECT_EQ(t.wait_ps(), 5'000u);
  EXPECT_EQ(t.busy(Picoseconds(22'000)), 2u);
  // Older than the calendar (64 buckets of 1 ns): not held back.
  t.take(Picoseconds(200'000), Picoseconds(200'000), Picoseconds(201'000));
  EXPECT_EQ(t.available(Picoseconds(25'000)), Picoseconds(25'000));
  EXPECT_EQ(t.busy(Picoseconds(22'000)), 0u);
}

// A calendar that moves on writes its fresh buckets once: those before the
// request's first bucket read 0 (not what the ring's slot held a lap ago),
// those it holds 1; the buckets it shares with the old calendar are counted
// on. A 7-bucket calendar (a ring of 8 slots) so a lap leaves stale counts in
// every slot, and the 8th slot, outside the calendar, is never read.
TEST(RequestTracker, FreshBucketsOfAMovingCalendarStartEmpty) {
  RequestTracker t(8, Picoseconds(1000), 7);
  // busy() in the middle of each bucket, from bucket `from` on.
  auto busy_from = [&t](std::uint64_t from, std::initializer_list<std::uint32_t> want) {
    std::uint64_t b = from;
    for (const std::uint32_t w : want) {
      EXPECT_EQ(t.busy(Picoseconds(b * 1000 + 500)), w) << "bucket " << b;
      ++b;
    }
  };
  for (int i = 0; i < 3; ++i) t.take(Picoseconds(0), Picoseconds(0), Picoseconds(7'000));  // buckets 0..6: 3
  busy_from(0, {3, 3, 3, 3, 3, 3, 3, 0});
  // Buckets 9 and 10: 7 and 8 fresh and before the request (0), 9 and 10 its
  // own (1); 4..6 still in the calendar and untouched (3), 3 fell out of it.
  t.take(Picoseconds(9'000), Picoseconds(9'000), Picoseconds(11'000));
  busy_from(3, {0, 3, 3, 3, 0, 0, 1, 1, 0});
  // Buckets 8..12, starting inside the calendar: 8..10 counted on, 11 and 12
  // fresh and held (1).
  t.take(Picoseconds(8'000), Picoseconds(8'000), Picoseconds(13'000));
  busy_from(5, {0, 3, 0, 1, 2, 2, 1, 1});
  // Past the whole calendar: only the request's buckets are held.
  t.take(Picoseconds(100'000), Picoseconds(100'000), Picoseconds(102'000));
  busy_from(95, {0, 0, 0, 0, 0, 1, 1});
}

// The counts kept per block of 64 buckets: a block touched by more requests
// than there are entries may still have an entry free in every bucket (the
// requests do not overlap), and a full bucket is found inside a block, at a
// block's first bucket and across a block boundary.
TEST(RequestTracker, ABlockTouchedByMoreRequestsThanEntriesIsSearchedBucketByBucket) {
  RequestTracker t(2, Picoseconds(1000), 8192);
  // Block 1 (buckets 64..127): three requests one after another, never two at once.
  for (const std::uint64_t b : {70, 80, 90})
    t.take(Picoseconds(b * 1000), Picoseconds(b * 1000), Picoseconds((b + 5) * 1000));
  EXPECT_EQ(t.available(Picoseconds(72'500)), Picoseconds(72'500));
  EXPECT_EQ(t.available(Picoseconds(64'000)), Picoseconds(64'000));
  // Two more over buckets 100..130: full from 100 to 127 (the block's end) and
  // on into block 2 (128..130, its first bucket counted by the block).
  t.take(Picoseconds(100'000), Picoseconds(100'000), Picoseconds(131'000));
  t.take(Picoseconds(100'000), Picoseconds(100'000), Picoseconds(131'000));
  EXPECT_EQ(t.busy(Picoseconds(127'500)), 2u);
  EXPECT_EQ(t.busy(Picoseconds(128'500)), 2u);
  EXPECT_EQ(t.busy(Picoseconds(131'500)), 0u);
  EXPECT_EQ(t.available(Picoseconds(99'500)), Picoseconds(99'500));
  EXPECT_EQ(t.available(Picoseconds(100'200)), Picoseconds(131'000));
  EXPECT_EQ(t.available(Picoseconds(128'000)), Picoseconds(131'000));
  // One more over 129..140 (taken without asking, as a bulk block's): 129 and
  // 130 hold 3, 131..140 one.
  t.take(Picoseconds(129'000), Picoseconds(129'000), Picoseconds(141'000));
  EXPECT_EQ(t.busy(Picoseconds(130'500)), 3u);
  EXPECT_EQ(t.available(Picoseconds(100'000)), Picoseconds(131'000));
  EXPECT_EQ(t.available(Picoseconds(140'900)), Picoseconds(140'900));
}

// The tracker as it was, with a hardware division per bucket and slot.
class ReferenceTracker {
 public:
  ReferenceTracker(std::uint32_t entries, std::uint64_t bucket, std::size_t buckets)
      : entries_(entries), bucket_(bucket), count_(buckets, 0) {}
  std::uint64_t oldest() const { return head_ + 1 >= count_.size() ? head_ + 1 - count_.size() : 0; }
  std::uint32_t busy(std::uint64_t t) const {
    const std::uint64_t b = t / bucket_;
    return b > head_ || b < oldest() ? 0 : count_[b % count_.size()];
  }
  std::uint64_t available(std::uint64_t now) const {
    std::uint64_t b = now / bucket_;
    if (b < oldest()) return now;
    for (; b <= head_; ++b)
      if (count_[b % count_.size()] < entries_) break;
    return std::max(now, b * bucket_);
  }
  void take(std::uint64_t start, std::uint64_t done) {
    const std::uint64_t first = start / bucket_, last = done > start ? (done - 1) / bucket_ : first;
    for (std::uint64_t b = std::max(head_ + 1, last + 1 >= count_.size() ? last + 1 - count_.size() : 0);
         last > head_ && b <= last; ++b)
      count_[b % count_.size()] = 0;
    head_ = std::max(head_, last);
    for (std::uint64_t b = std::max(first, oldest()); b <= last; ++b) ++count_[b % count_.size()];
  }

 private:
  std::uint32_t entries_;
  std::uint64_t bucket_;
  std::vector<std::uint32_t> count_;
  std::uint64_t head_ = 0;
};

// Buckets and slots found by reciprocal multiplication answer as the division
// did, for ring sizes that are and are not powers of two, on random requests
// (out of order, some far behind, times up to 2^50 ps).
TEST(RequestTracker, EqualsTheDivisionTrackerOnRandomRequests) {
  std::mt19937_64 rng(23);
  for (const std::size_t buckets : {std::size_t{64}, std::size_t{100}, std::size_t{8192}}) {
    for (const std::uint64_t bucket : {std::uint64_t{1000}, std::uint64_t{2000}, std::uint64_t{4096}}) {
      RequestTracker t(4, Picoseconds(bucket), buckets);
      ReferenceTracker ref(4, bucket, buckets);
      std::uint64_t now = rng() % (1ull << 50);
      for (int step = 0; step < 3000; ++step) {
        now += rng() % (3 * bucket);
        const std::uint64_t at = step % 13 == 0 && now > 100 * bucket ? now - rng() % (100 * bucket) : now;
        ASSERT_EQ(t.available(Picoseconds(at)), Picoseconds(ref.available(at))) << buckets << " " << step;
        const std::uint64_t probe =
            at > 50 * bucket ? at - 50 * bucket + rng() % (100 * bucket) : rng() % (100 * bucket);
        ASSERT_EQ(t.busy(Picoseconds(probe)), ref.busy(probe)) << buckets << " " << step;
        const std::uint64_t start = ref.available(at), done = start + rng() % (20 * bucket);
        t.take(Picoseconds(at), Picoseconds(start), Picoseconds(done));
        ref.take(start, done);
      }
    }
  }
}

// The same against the division tracker where the calendar is stressed at its
// edges: requests read at their arrival or not read for long stretches (bulk
// blocks), time jumping past the whole calendar, cores far behind, requests
// longer than the calendar; after each request, available() and busy() at
// random times, and now and then busy() at every bucket of the calendar and
// beyond.
TEST(RequestTracker, EqualsTheDivisionTrackerAcrossJumpsAndUnreadStretches) {
  std::mt19937_64 rng(16);
  for (const std::size_t buckets : {std::size_t{2}, std::size_t{7}, std::size_t{64}, std::size_t{8192}}) {
    for (const std::uint32_t entries : {1u, 3u, 64u}) {
      const std::uint64_t bucket = 2000;
      RequestTracker t(entries, Picoseconds(bucket), buckets);
      ReferenceTracker ref(entries, bucket, buckets);
      std::uint64_t now = rng() % 100'000;
      const std::uint64_t span = buckets * bucket;
      for (int step = 0; step < 4000; ++step) {
        const unsigned kind = static_cast<unsigned>(rng() % 20);
        if (kind == 0) now += span + rng() % (2 * span);    // past the whole calendar
        else if (kind < 4) now += rng() % (span / 2 + 1);  // a long quiet stretch
        else now += rng() % (2 * bucket);
        const std::uint64_t at = kind == 5 ? now - std::min(now, rng() % (span + 4 * bucket)) : now;  // behind
        std::uint64_t start = at;
        if (kind != 6) {  // kind 6: taken without a read first, as a bulk block's requests
          ASSERT_EQ(t.available(Picoseconds(at)), Picoseconds(ref.available(at))) << buckets << " " << step;
          start = ref.available(at);
        }
        const std::uint64_t done = start + (kind == 7 ? rng() % (2 * span) : rng() % (60 * bucket));
        t.take(Picoseconds(at), Picoseconds(start), Picoseconds(done));
        ref.take(start, done);
        for (int probe = 0; probe < 3; ++probe) {
          const std::uint64_t p = now + span - std::min(now + span, rng() % (3 * span));
          ASSERT_EQ(t.busy(Picoseconds(p)), ref.busy(p)) << buckets << " " << entries << " " << step;
          ASSERT_EQ(t.available(Picoseconds(p)), Picoseconds(ref.available(p))) << buckets << " " << step;
        }
        if (step % 500 == 0) {
          const std::uint64_t from = now > 2 * span ? now - 2 * span : 0;
          for (std::uint64_t p = from; p < now + 2 * span; p += bucket)
            ASSERT_EQ(t.busy(Picoseconds(p)), ref.busy(p)) << buckets << " " << step << " at " << p;
        }
      }
    }
  }
}

TEST(UncoreParams, ReadFromTheUncoreTableWithLocatedErrors) {
  auto doc = ConfigDocument::from_string(
      "[uncore]\nimpl = \"ring\"\ncols = 10\nrows = 1\nio_rows = 0\nimc_tiles = [[0, 9]]\nupi_tiles = [[0, 5]]\n"
      "clock = \"2GHz\"\nupi_credits = 32\n",
      "ok.toml");
  const UncoreParams p = UncoreParams::from_config(doc->root().table("uncore"));
  doc->check();
  EXPECT_TRUE(p.enabled());
  EXPECT_EQ(p.impl, "ring");
  EXPECT_EQ(p.cols, 10u);
  EXPECT_EQ(p.imc_tiles.size(), 1u);
  EXPECT_EQ(p.upi_credits, 32u);
  EXPECT_FALSE(UncoreParams{}.enabled());  // lumped by default
  auto bad = ConfigDocument::from_string("[uncore]\nimpl = \"mesh\"\nimc_tiles = [[7, 0]]\nio_rows = 6\n", "bad.toml");
  UncoreParams::from_config(bad->root().table("uncore"));
  try {
    bad->check();
    FAIL() << "expected configuration errors";
  } catch (const ConfigErrors& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str() + "\n";
    EXPECT_NE(all.find("bad.toml:3"), std::string::npos) << all;  // imc_tiles
    EXPECT_NE(all.find("tile outside the mesh"), std::string::npos) << all;
    EXPECT_NE(all.find("io_rows"), std::string::npos) << all;
  }
}

MemoryLayout two_sockets(int cores) {
  MemoryLayout l;
  l.num_sockets = 2;
  std::vector<CpuId> c0, c1;
  for (int i = 0; i < cores; ++i) {
    c0.push_back(CpuId(i));
    c1.push_back(CpuId(cores + i));
  }
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), c0});
  l.nodes.push_back({NodeId(1), 1, 1ull << 30, Bytes(1ull << 30), c1});
  l.interconnect.num_nodes = 2;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), Picoseconds(14'000), Bandwidth(62'400'000'000ull), "upi"});
  l.interconnect.paths = {{}, {0}, {0}, {}};
  return l;
}

MemorySystemParams mesh_params(std::uint32_t credits) {
  MemorySystemParams p;
  p.uncore = mesh6x6();
  p.uncore.upi_credits = credits;
  p.l2_prefetch.enabled = false;
  p.super_queue = 64;
  return p;
}

TEST(UncoreInMemorySystem, AnIdleRemoteReadIsTheSumOfItsParts) {
  MemorySystem ms(two_sockets(4), mesh_params(64));
  const PhysAddr pa = (1ull << 30) + 0x40000;
  AccessBreakdown b;
  const Picoseconds lat = ms.access(CpuId(1), pa, false, Picoseconds(1'000'000), &b);
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  EXPECT_EQ(lat, b.cache + b.dram + b.interconnect + b.queueing);
  EXPECT_EQ(b.queueing, Picoseconds(0));
  EXPECT_GE(b.interconnect, Picoseconds(28'000));  // two link crossings
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.socket0.upi_agent.remote_requests"), 1.0);
  EXPECT_EQ(v.get("system.node1.home_agent.requests"), 1.0);
}

// upi_route = "address" (SPRFID): a remote read's mesh legs go to and from its
// line's UPI agent at both sockets, the response included (uncore_fetch).
TEST(UncoreInMemorySystem, AnAddressRoutedRemoteReadPaysItsLinesAgentOnEveryLeg) {
  MemorySystemParams pn = mesh_params(64), pa_params = mesh_params(64);
  pa_params.uncore.upi_route = "address";
  const UncoreMesh near(pn.uncore, 4), addr(pa_params.uncore, 4);
  std::int64_t more_ps = 0;
  std::uint32_t agents_seen = 0;
  for (int i = 0; i < 24; ++i) {
    const PhysAddr pa = (1ull << 30) + 0x40000 + static_cast<PhysAddr>(i) * 64 * 97;
    MemorySystem ms_n(two_sockets(4), pn), ms_a(two_sockets(4), pa_params);
    AccessBreakdown bn, ba;
    const Picoseconds ln = ms_n.access(CpuId(1), pa, false, Picoseconds(1'000'000), &bn);
    const Picoseconds la = ms_a.access(CpuId(1), pa, false, Picoseconds(1'000'000), &ba);
    ASSERT_EQ(ba.level_hit, kServedRemoteDram);
    EXPECT_EQ(la, ba.cache + ba.dram + ba.interconnect + ba.queueing);
    EXPECT_EQ(ba.cache, addr.to_upi(1, pa) + addr.home_to_imc(pa) + addr.imc_to_upi(pa) + addr.upi_to_core(1, pa));
    EXPECT_EQ(bn.cache, near.to_upi(1, pa) + near.home_to_imc(pa) + near.imc_to_upi(pa) + near.upi_to_core(1));
    EXPECT_EQ(ba.interconnect, bn.interconnect);  // the same link, whichever agent
    more_ps += static_cast<std::int64_t>(la.value()) - static_cast<std::int64_t>(ln.value());
    agents_seen |= 1u << addr.upi_of(pa);
  }
  EXPECT_EQ(agents_seen, 7u);  // all three agents carry some of the lines
  EXPECT_GT(more_ps, 0);       // the nearest agents are the shortest way
}

TEST(UncoreInMemorySystem, RemoteReadsAreBoundedByTheSocketsRequestCredits) {
  auto run = [](std::uint32_t credits) {
    MemorySystem ms(two_sockets(8), mesh_params(credits));
    // 8 cores, each with 16 reads in flight, streaming node 1's memory.
    std::vector<Picoseconds> slot(8 * 16, Picoseconds(0));
    Picoseconds end(0);
    for (int i = 0; i < 8 * 16 * 40; ++i) {
      const int core = i % 8;
      Picoseconds& s = slot[static_cast<std::size_t>(i % (8 * 16))];
      const PhysAddr pa = (1ull << 30) + static_cast<PhysAddr>(core) * (64ull << 20) + static_cast<PhysAddr>(i / 8) * 64;
      const Picoseconds t = s;
      s = t + ms.access(CpuId(core), pa, false, t);
      end = std::max(end, s);
    }
    MapStatsVisitor v;
    ms.dump_stats(v);
    return std::pair{end, v.get("system.socket0.upi_agent.credits_exhausted")};
  };
  const auto [few_end, few_waits] = run(16);
  const auto [many_end, many_waits] = run(256);
  EXPECT_GT(few_waits, 1000.0);
  EXPECT_EQ(many_waits, 0.0);
  EXPECT_GT(static_cast<double>(few_end.value()), 2.0 * static_cast<double>(many_end.value()));
}

}  // namespace
}  // namespace numasim::hw
