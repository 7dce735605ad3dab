// MemorySystem facade: exact idle latencies of each level (local and remote),
// breakdown consistency, write-backs, kernel range and streaming traffic, the
// calibration against the Skylake-SP reference figures with the shipped
// configuration (idle latency matrix, local and remote read bandwidth), stats.
#include <gtest/gtest.h>

#include <cstdio>
#include <queue>
#include <random>

#include "common/config.h"
#include "common/topology.h"
#include "hw/memory_system.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

// Two sockets, one node each with two CPUs and 4 GiB; one link like the shipped UPI.
MemoryLayout two_nodes() {
  MemoryLayout l;
  l.num_sockets = 2;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(4 * kGiB), {CpuId(0), CpuId(1)}});
  l.nodes.push_back({NodeId(1), 1, 4 * kGiB, Bytes(4 * kGiB), {CpuId(2), CpuId(3)}});
  l.interconnect.num_nodes = 2;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), 27_ns, Bandwidth(34'300'000'000), "n0-n1"});
  l.interconnect.paths = {{}, {0}, {0}, {}};
  return l;
}

Picoseconds sum(const AccessBreakdown& b) { return b.cache + b.dram + b.interconnect + b.queueing; }

TEST(MemorySystem, L1HitAfterAColdLocalMiss) {
  MemorySystemParams p;
  MemorySystem ms(two_nodes(), p);
  const auto& h = ms.caches();
  AccessBreakdown b;
  const Picoseconds miss = ms.access(CpuId(0), 0x1000, false, Picoseconds(0), &b);
  EXPECT_EQ(b.level_hit, kServedLocalDram);
  // Cold bank: LLC miss detection + controller + ACT/READ/burst.
  EXPECT_EQ(miss, h.hit_latency(3) + ms.controller(NodeId(0)).idle_latency(RowOutcome::Closed));
  EXPECT_EQ(sum(b), miss);
  EXPECT_EQ(b.interconnect, Picoseconds(0));
  EXPECT_EQ(b.queueing, Picoseconds(0));
  const Picoseconds hit = ms.access(CpuId(0), 0x1008, true, 1_us, &b);
  EXPECT_EQ(b.level_hit, kServedL1);
  EXPECT_EQ(hit, Frequency(2'300'000'000).to_time(Cycles(4)));
  EXPECT_EQ(ms.controller(NodeId(0)).stats().reads, 1u);
}

TEST(MemorySystem, RemoteMissAddsBothLinkTraversals) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  AccessBreakdown b;
  const PhysAddr remote = 4 * kGiB + 0x2000;
  EXPECT_EQ(ms.home_node(remote), NodeId(1));
  const Picoseconds lat = ms.access(CpuId(1), remote, false, Picoseconds(0), &b);
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  auto& ic = ms.interconnect();
  const Picoseconds expect = ms.caches().hit_latency(3) + ic.idle_time(NodeId(0), NodeId(1), Bytes(0)) +
                             ms.controller(NodeId(1)).idle_latency(RowOutcome::Closed) +
                             ic.idle_time(NodeId(1), NodeId(0), Bytes(64));
  EXPECT_EQ(lat, expect);
  EXPECT_EQ(sum(b), lat);
  EXPECT_EQ(b.interconnect, 54_ns + Bandwidth(34'300'000'000).transfer_time(Bytes(16)) +
                                Bandwidth(34'300'000'000).transfer_time(Bytes(80)));
  // CPU 2 on node 1 sees the same address as local, and hits nothing of socket 0's caches.
  ms.access(CpuId(2), remote, false, 1_us, &b);
  EXPECT_EQ(b.level_hit, kServedLocalDram);
}

TEST(MemorySystem, L2AndLlcHitsCostTheirLatency) {
  MemorySystemParams p;
  p.caches.l1d.size = Bytes(2 * 64);  // one set of two ways
  p.caches.l1d.ways = 2;
  MemorySystem ms(two_nodes(), p);
  AccessBreakdown b;
  for (PhysAddr a : {0x0ull, 0x40ull, 0x80ull}) ms.access(CpuId(0), a, false, Picoseconds(0));
  EXPECT_EQ(ms.access(CpuId(0), 0x0, false, 1_us, &b), ms.caches().hit_latency(2));
  EXPECT_EQ(b.level_hit, kServedL2);
  EXPECT_EQ(ms.access(CpuId(1), 0x40, false, 1_us, &b), ms.caches().hit_latency(3));  // other core, same socket
  EXPECT_EQ(b.level_hit, kServedLlc);
}

TEST(MemorySystem, DirtyEvictionsAreWrittenBackToTheHomeController) {
  MemorySystemParams p;
  p.caches.l1d.size = Bytes(1024);
  p.caches.l2.size = Bytes(4096);
  p.caches.llc.size = Bytes(16 * 1024);
  p.caches.llc.ways = 16;
  p.l2_prefetch.enabled = false;  // every line read exactly once, on demand
  MemorySystem ms(two_nodes(), p);
  const std::uint64_t lines = (1 << 20) / 64;
  Picoseconds t(0);
  for (std::uint64_t i = 0; i < lines; ++i) t += ms.access(CpuId(0), 4 * kGiB + i * 64, true, t);  // remote writes
  MapStatsVisitor v;
  ms.dump_stats(v);
  const double wb = v.get("system.mem.writebacks");
  EXPECT_GE(wb, static_cast<double>(lines - (16 * 1024 + 4096 + 1024) / 64));
  EXPECT_LE(wb, static_cast<double>(lines));
  EXPECT_EQ(v.get("system.node1.mc.writes"), wb);
  EXPECT_EQ(v.get("system.node1.mc.reads"), static_cast<double>(lines));  // read for ownership
  EXPECT_EQ(v.get("system.node0.mc.reads"), 0.0);
  EXPECT_EQ(v.get("system.mem.remote_dram"), static_cast<double>(lines));
  // Write-back data crossed the link towards node 1 (64 B + header each), besides the requests.
  EXPECT_EQ(v.get("system.interconnect.n0-n1.n0_to_n1.bytes"), lines * 16.0 + wb * 80.0);
}

TEST(MemorySystem, KernelRangeTrafficOverlapsMisses) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  const Picoseconds one = ms.access(CpuId(0), 1 * kGiB, false, Picoseconds(0));
  const Picoseconds page = ms.access_range(CpuId(0), 2 * kGiB, Bytes(4096), false, 1_us);
  EXPECT_GT(page, one);
  EXPECT_LT(page, one * 64 / 4);  // up to kernel_mlp() misses in flight
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.mem.range_lines"), 64.0);
  EXPECT_TRUE(ms.caches().l1d(CpuId(0)).contains(2 * kGiB));
  // The same range again hits in the caches: much faster.
  const Picoseconds again = ms.access_range(CpuId(0), 2 * kGiB, Bytes(4096), false, 2_us);
  EXPECT_LT(again * 5, page);
  EXPECT_EQ(ms.access_range(CpuId(0), 0, Bytes(0), false, 0_ns), Picoseconds(0));
}

TEST(MemorySystem, KernelStoresOfWholeLinesReadNothingFromMemory) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  const Picoseconds local = ms.access_range(CpuId(0), 2 * kGiB, Bytes(4096), true, 1_us);  // clear_page
  EXPECT_EQ(ms.controller(NodeId(0)).stats().reads, 0u);
  EXPECT_EQ(ms.caches().l1d(CpuId(0)).state(2 * kGiB + 4032), LineState::Modified);
  // 64 lines, one issued per cycle, each owned at the LLC's latency with 10 in flight.
  const Picoseconds llc = ms.caches().hit_latency(3);
  EXPECT_GE(local, llc * 6);
  EXPECT_LE(local, llc * 7 + Frequency(2'300'000'000).to_time(Cycles(64)));
  // A remote clear asks the home node for ownership (headers both ways), still no data read.
  const Picoseconds remote = ms.access_range(CpuId(0), 6 * kGiB, Bytes(4096), true, 2_us);
  EXPECT_GT(remote, local);
  EXPECT_EQ(ms.controller(NodeId(1)).stats().reads, 0u);
  // A partial line is read for ownership like any store: the first and last lines here.
  ms.access_range(CpuId(0), 1 * kGiB + 8, Bytes(128), true, 3_us);
  EXPECT_EQ(ms.controller(NodeId(0)).stats().reads, 2u);
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.mem.full_line_writes"), 128.0 + 1.0);
  // The cleared lines reach memory when they are evicted: a 64 MiB read stream pushes them out.
  ms.access_range(CpuId(0), 3 * kGiB, Bytes(64 << 20), false, 4_us);
  EXPECT_GE(ms.controller(NodeId(0)).stats().writes, 64u);
}

TEST(MemorySystem, NonTemporalStoresBypassAndEvictCaches) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  ms.access(CpuId(0), 0x10000, true, Picoseconds(0));  // cached, dirty
  const Picoseconds t = ms.access_range_nontemporal(CpuId(0), 0x10000, Bytes(4096), true, 1_us);
  EXPECT_GT(t, Picoseconds(0));
  EXPECT_FALSE(ms.caches().l1d(CpuId(0)).contains(0x10000));
  EXPECT_FALSE(ms.caches().llc(0).contains(0x10040));
  EXPECT_EQ(ms.controller(NodeId(0)).stats().writes, 64u);
  EXPECT_EQ(ms.controller(NodeId(0)).stats().reads, 1u);
}

TEST(MemorySystem, UncachedMemoryAccessFromANode) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  AccessBreakdown b;
  const Picoseconds lat = ms.memory_access(NodeId(1), 0x4000, false, Picoseconds(0), &b);
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  EXPECT_EQ(b.cache, Picoseconds(0));
  EXPECT_EQ(lat, sum(b));
  EXPECT_FALSE(ms.caches().llc(1).contains(0x4000));
}

TEST(MemorySystem, UnmappedAddressIsABrokenInvariant) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  EXPECT_EQ(ms.home_node(8 * kGiB), NodeId(-1));
  EXPECT_DEATH(ms.access(CpuId(0), 8 * kGiB, false, Picoseconds(0)), "lies in no node");
}

TEST(MemorySystem, RejectsInconsistentLayouts) {
  MemoryLayout l = two_nodes();
  l.nodes[1].socket = -1;  // CPUs without a socket
  EXPECT_THROW(MemorySystem(l, MemorySystemParams{}), std::invalid_argument);
  l = two_nodes();
  l.interconnect.num_nodes = 3;
  EXPECT_THROW(MemorySystem(l, MemorySystemParams{}), std::invalid_argument);
}

TEST(MemorySystem, StatsNamesAndReset) {
  MemorySystem ms(two_nodes(), MemorySystemParams{});
  ms.access(CpuId(0), 0x0, false, Picoseconds(0));
  ms.access(CpuId(0), 0x0, false, 1_us);
  ms.access(CpuId(0), 4 * kGiB, false, 2_us);
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.mem.l1_hits"), 1.0);
  EXPECT_EQ(v.get("system.mem.local_dram"), 1.0);
  EXPECT_EQ(v.get("system.mem.remote_dram"), 1.0);
  EXPECT_EQ(v.get("system.mem.local_ratio"), 0.5);
  EXPECT_EQ(v.get("system.node0.mc.reads"), 1.0);
  EXPECT_EQ(v.get("system.cpu0.l1d.read_hits"), 1.0);
  EXPECT_TRUE(v.has("system.socket1.llc.miss_ratio"));
  EXPECT_TRUE(v.has("system.node1.mc.latency.count"));
  EXPECT_GT(v.get("system.mem.avg_remote_dram_latency_ns"), v.get("system.mem.avg_local_dram_latency_ns"));
  ms.reset_stats(3_us);
  MapStatsVisitor w;
  ms.dump_stats(w);
  EXPECT_EQ(w.get("system.mem.l1_hits"), 0.0);
  EXPECT_EQ(w.get("system.node0.mc.reads"), 0.0);
  EXPECT_EQ(w.get("system.interconnect.n0-n1.n0_to_n1.bytes"), 0.0);
}

// ---- Calibration against DESIGN.md's reference figures with the shipped config ----

// Memory beyond what a cache array can tag (32-bit line quotients: a 1-set
// L1D tags 256 GiB) is refused when the memory system is built, with the
// array, its sets and its reach named; the same machine with 128 GiB builds.
TEST(MemorySystemConfig, MemoryBeyondACachesTagReachIsALocatedError) {
  auto build = [](const char* memory) {
    auto doc = ConfigDocument::from_string(std::string("[machine]\nsockets = 1\ncores_per_socket = 1\n"
                                                       "[cache.l1d]\nsize = \"512B\"\nways = 8\n"
                                                       "[[node]]\nmemory = \"") +
                                               memory + "\"\n",
                                           "machine.toml");
    Topology topo = Topology::from_config(doc->root());
    MemorySystemParams p = MemorySystemParams::from_config(doc->root());
    doc->finish();
    MemorySystem ms(topo, p);
    return ms.caches().l1d(CpuId(0)).sets();
  };
  EXPECT_EQ(build("128GiB"), 1u);
  try {
    build("512GiB");
    FAIL() << "512 GiB behind a 1-set L1D was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("physical memory ends at 512 GiB"), std::string::npos) << m;
    EXPECT_NE(m.find("system.cpu0.l1d (1 sets) can tag lines only below 255 GiB"), std::string::npos) << m;
  }
}

using testing::load_shipped;
using testing::Shipped;

// Dependent random chase (MLC --latency_matrix style) over 4 GiB of `node`'s
// memory from `cpu`; mean latency in ns.
// `t`: simulated time, carried from one chase to the next (time never runs backwards).
double chase_ns(MemorySystem& ms, const Topology& topo, CpuId cpu, NodeId node, int loads, Picoseconds& t) {
  std::mt19937_64 rng(1234);
  const NodeDesc& n = topo.node(node);
  const std::uint64_t lines = std::min<std::uint64_t>(n.memory.value(), 4 * kGiB) / 64;
  for (int i = 0; i < 2000; ++i) t += ms.access(cpu, n.base + (rng() % lines) * 64, false, t);  // warm-up
  const Picoseconds start = t;
  for (int i = 0; i < loads; ++i) t += ms.access(cpu, n.base + (rng() % lines) * 64, false, t);
  return static_cast<double>((t - start).value()) / loads / 1000.0;
}

TEST(MemorySystemCalibration, IdleLatencyMatrixMatchesSkylakeSp) {
  Shipped s = load_shipped();
  MemorySystem ms(s.topo, s.params);
  const double ref[2][2] = {{90.2, 144.3}, {143.2, 89.1}};
  Picoseconds t(0);
  for (int c = 0; c < 2; ++c) {
    const CpuId cpu = s.topo.node(NodeId(c)).cpus.front();
    for (int m = 0; m < 2; ++m) {
      const double ns = chase_ns(ms, s.topo, cpu, NodeId(m), 20000, t);
      std::printf("latency node%d -> node%d: %.1f ns (MLC %.1f)\n", c, m, ns, ref[c][m]);
      EXPECT_NEAR(ns, ref[c][m], ref[c][m] * 0.10);
    }
  }
}

// All cores of `cpu_node` stream reads through private buffers on `mem_node`,
// each with `lfb` misses in flight; returns GB/s.
double stream_gbps(MemorySystem& ms, const Topology& topo, NodeId cpu_node, NodeId mem_node, int lfb,
                   std::uint64_t lines_per_core) {
  const auto& cpus = topo.node(cpu_node).cpus;
  const PhysAddr base = topo.node(mem_node).base;
  struct Ev {
    Picoseconds t;
    std::size_t core;
    bool operator>(const Ev& o) const { return t != o.t ? t > o.t : core > o.core; }
  };
  std::priority_queue<Ev, std::vector<Ev>, std::greater<Ev>> q;
  std::vector<std::uint64_t> next(cpus.size(), 0);
  for (std::size_t c = 0; c < cpus.size(); ++c)
    for (int k = 0; k < lfb; ++k) q.push({Picoseconds(0), c});
  Picoseconds end(0);
  std::uint64_t bytes = 0;
  while (!q.empty()) {
    Ev e = q.top();
    q.pop();
    if (next[e.core] == lines_per_core) continue;
    const PhysAddr a = base + (static_cast<PhysAddr>(e.core) << 28) + next[e.core]++ * 64;
    const Picoseconds done = e.t + ms.access(cpus[e.core], a, false, e.t);
    bytes += 64;
    end = std::max(end, done);
    q.push({done, e.core});
  }
  return static_cast<double>(bytes) / static_cast<double>(end.value()) * 1000.0;
}

TEST(MemorySystemCalibration, ReadBandwidthSaturatesLikeSkylakeSp) {
  Shipped s = load_shipped();
  {
    MemorySystem ms(s.topo, s.params);
    const double local = stream_gbps(ms, s.topo, NodeId(0), NodeId(0), 10, 40000);
    std::printf("read bandwidth node0 -> node0: %.1f GB/s (MLC 104.4)\n", local);
    MapStatsVisitor v;
    ms.dump_stats(v);
    std::printf("  row hit ratio %.3f, mean controller latency %.1f ns (queueing %.1f ns), bus utilisation %.3f, "
                "mean load latency %.1f ns\n",
                v.get("system.node0.mc.row_hit_ratio"), v.get("system.node0.mc.avg_latency_ns"),
                v.get("system.node0.mc.avg_queueing_ns"), v.get("system.node0.mc.bus_utilisation"),
                v.get("system.mem.avg_local_dram_latency_ns"));
    // Below the 6-channel peak (128 GB/s) and within 15% of the measured figure.
    EXPECT_LT(local, 6 * s.params.dram.channel_peak_bytes_per_second() / 1e9);
    EXPECT_NEAR(local, 104.4, 104.4 * 0.15);
  }
  {
    MemorySystem ms(s.topo, s.params);
    const double remote = stream_gbps(ms, s.topo, NodeId(1), NodeId(0), 10, 20000);
    std::printf("read bandwidth node1 -> node0: %.1f GB/s (MLC 34.3)\n", remote);
    // Limited by the socket's 64 UPI request credits ([uncore] upi_credits), well
    // below the 3 links' payload rate (data is 64 B of every 64 B + header sent).
    const double link = static_cast<double>(s.topo.links()[0].bandwidth.bytes_per_second()) / 1e9;
    const double payload = link * 64.0 / (64.0 + static_cast<double>(s.params.interconnect.header.value()));
    EXPECT_LT(remote, payload * 0.8);
    EXPECT_NEAR(remote, 34.3, 34.3 * 0.15);
    MapStatsVisitor v;
    ms.dump_stats(v);
    EXPECT_GT(v.get("system.socket1.upi_agent.credits_exhausted"), 0.0);
  }
}

// MLC --loaded_latency style: CPU 0 chases random lines on node 0 while
// `injectors` other CPUs stream reads with `lfb` misses each; returns the
// chase latency (ns) and the total bandwidth (GB/s).
std::pair<double, double> loaded_point(const Shipped& s, int injectors, int lfb) {
  MemorySystem ms(s.topo, s.params);
  const auto& cpus = s.topo.node(NodeId(0)).cpus;
  struct Ev {
    Picoseconds t;
    std::size_t who;  // 0 = chaser
    bool operator>(const Ev& o) const { return t != o.t ? t > o.t : who > o.who; }
  };
  std::priority_queue<Ev, std::vector<Ev>, std::greater<Ev>> q;
  q.push({Picoseconds(0), 0});
  for (int c = 1; c <= injectors; ++c)
    for (int k = 0; k < lfb; ++k) q.push({Picoseconds(0), static_cast<std::size_t>(c)});
  std::vector<std::uint64_t> next(static_cast<std::size_t>(injectors) + 1, 0);
  std::mt19937_64 rng(99);
  const Picoseconds stop = 200_us;
  std::uint64_t chase_loads = 0, bytes = 0;
  Picoseconds chase_time(0), chase_start(0), end(0);
  while (!q.empty()) {
    Ev e = q.top();
    q.pop();
    if (e.t >= stop) continue;
    PhysAddr a;
    if (e.who == 0) a = (rng() % (1ull << 26)) * 64;  // 4 GiB
    else a = (static_cast<PhysAddr>(e.who) << 28) + next[e.who]++ * 64;
    const Picoseconds lat = ms.access(cpus[e.who], a, false, e.t);
    const Picoseconds done = e.t + lat;
    bytes += 64;
    end = std::max(end, done);
    if (e.who == 0) {
      if (e.t >= 20_us) {  // after warm-up
        if (chase_loads == 0) chase_start = e.t;
        ++chase_loads;
        chase_time = done - chase_start;
      }
    }
    q.push({done, e.who});
  }
  return {static_cast<double>(chase_time.value()) / static_cast<double>(chase_loads) / 1000.0,
          static_cast<double>(bytes) / static_cast<double>(end.value()) * 1000.0};
}

TEST(MemorySystemCalibration, LoadedLatencyRisesWithInjectedBandwidth) {
  Shipped s = load_shipped();
  std::vector<std::pair<double, double>> pts;
  for (int injectors : {0, 4, 8, 12, 17}) {
    pts.push_back(loaded_point(s, injectors, 10));
    std::printf("loaded latency: %2d injectors: %.1f GB/s, %.1f ns\n", injectors, pts.back().second,
                pts.back().first);
  }
  EXPECT_NEAR(pts.front().first, 90.2, 9.0);  // idle
  for (std::size_t i = 1; i < pts.size(); ++i) {
    EXPECT_GT(pts[i].second, pts[i - 1].second) << i;
    EXPECT_GT(pts[i].first, pts[i - 1].first) << i;
  }
  EXPECT_GT(pts.back().first, 1.15 * pts.front().first);
}

}  // namespace
}  // namespace numasim::hw
