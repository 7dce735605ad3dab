// The bulk path of kernel transfers (MemorySystem::TransferPath::Bulk) against
// the line-by-line reference (TransferPath::Lines): the same clears and copies
// (4 KiB and 2 MiB, cached and streamed, local and remote, cold and warm caches,
// lines held Modified or Shared by other cores and sockets, an unaligned range)
// on two identical memory systems of the shipped Skylake-SP configuration must
// take the same simulated time (issue 15 allows 2%; the cached bulk path is
// built to be exact) and leave the same statistics (caches, directory, DRAM,
// links). Streamed transfers of 1 MiB and more are timed analytically as one
// block (DramController::stream): within 2% of the line path, idle and with
// another core's traffic, with the same bytes, write-backs and cache state and
// row hits within 2%.
// Also the machine option [platform] kernel_transfers selecting the path, and
// the LLC residency counts by region that let snoops skip an empty LLC, and
// DramController::stream's runs of row hits taken as one step against the
// same streams timed granule by granule (identical results).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine_platform.h"
#include "hw/memory_system.h"
#include "tests/hw/same_stats.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t k2M = 2ull << 20;

struct Pair {
  testing::Shipped shipped = testing::load_shipped();
  std::unique_ptr<MemorySystem> bulk, lines;
  Picoseconds t{0};
  int ops = 0;
  // `small_caches`: an LLC of 1.375 MiB per socket and a 256 KiB L2, so that
  // clears evict dirty lines from the LLC (write-backs to DRAM) within a few hundred pages.
  explicit Pair(bool small_caches = false) {
    if (small_caches) {
      shipped.params.caches.llc.size = Bytes(1408 * 1024);
      shipped.params.caches.l2.size = Bytes(256 * 1024);
    }
    bulk = std::make_unique<MemorySystem>(shipped.topo, shipped.params);
    lines = std::make_unique<MemorySystem>(shipped.topo, shipped.params);
    lines->set_transfer_path(MemorySystem::TransferPath::Lines);
  }
  // Runs `op` on both systems at the same time; the latencies must agree within 2%
  // (and, the bulk path being exact, they are equal); returns the latency.
  // `exact` false: within 2% only (the analytic streaming path).
  template <typename Op>
  Picoseconds both(const char* what, Op op, bool exact = true) {
    const Picoseconds a = op(*bulk, t);
    const Picoseconds b = op(*lines, t);
    EXPECT_LE(std::fabs(static_cast<double>(a.value()) - static_cast<double>(b.value())),
              0.02 * static_cast<double>(b.value()))
        << what << ": bulk " << a.value() << " ps, lines " << b.value() << " ps";
    if (exact) {
      EXPECT_EQ(a, b) << what;
    }
    t += b + Picoseconds(1000);
    ++ops;
    return b;
  }
  Picoseconds clear(CpuId cpu, PhysAddr pa, Bytes len) {
    return both("clear", [&](MemorySystem& m, Picoseconds now) { return m.access_range(cpu, pa, len, true, now); });
  }
  Picoseconds clear_nt(CpuId cpu, PhysAddr pa, Bytes len) {
    return both(
        "streamed clear",
        [&](MemorySystem& m, Picoseconds now) { return m.access_range_nontemporal(cpu, pa, len, true, now); },
        len.value() < MemorySystem::kBulkStreamLines * kCacheLineBytes);
  }
  Picoseconds read_nt(CpuId cpu, PhysAddr pa, Bytes len) {
    return both(
        "streamed read",
        [&](MemorySystem& m, Picoseconds now) { return m.access_range_nontemporal(cpu, pa, len, false, now); },
        len.value() < MemorySystem::kBulkStreamLines * kCacheLineBytes);
  }
  // copy_page as MachinePlatform::kernel_copy times it: the source read, then the destination written.
  Picoseconds copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) {
    return both("copy", [&](MemorySystem& m, Picoseconds now) {
      const Picoseconds r = m.access_range(cpu, src, len, false, now);
      return r + m.access_range(cpu, dst, len, true, now + r);
    });
  }
  void touch(CpuId cpu, PhysAddr pa, Bytes len, bool write) {
    for (PhysAddr a = pa; a < pa + len.value(); a += kCacheLineBytes)
      both("user access", [&](MemorySystem& m, Picoseconds now) { return m.access(cpu, a, write, now); });
  }
  void expect_same_stats() { testing::expect_same_stats(*bulk, *lines); }
  // After streamed transfers on the analytic path: every count of the caches,
  // the directory, write-backs, DRAM reads, writes and bytes and link messages
  // and bytes equal; row hits within 2%; timing-derived figures (latencies,
  // queueing, refresh delays, bandwidths, row opens) not compared.
  void expect_close_stats() {
    MapStatsVisitor a, b;
    bulk->dump_stats(a);
    lines->dump_stats(b);
    ASSERT_EQ(a.values.size(), b.values.size());
    auto ends = [](const std::string& n, const char* suffix) {
      const std::string x(suffix);
      return n.size() >= x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0;
    };
    int compared = 0;
    for (const auto& [name, v] : b.values) {
      const bool dram = name.find(".mc.") != std::string::npos, link = name.find("interconnect") != std::string::npos;
      if (dram && ends(name, ".row_hits")) {
        EXPECT_NEAR(a.values.at(name), v, 0.02 * v) << name;
      } else if (dram) {
        if (ends(name, ".reads") || ends(name, ".writes") || ends(name, ".bytes_read") ||
            ends(name, ".bytes_written")) {
          EXPECT_EQ(a.values.at(name), v) << name;
        }
      } else if (link) {
        if (ends(name, ".messages") || ends(name, ".bytes")) {
          EXPECT_EQ(a.values.at(name), v) << name;
        }
      } else if (name.find("latency") == std::string::npos && !ends(name, ".full") &&
                 !ends(name, ".tracker_full") && !ends(name, ".credits_exhausted")) {
        // Waits for a super-queue entry, a home-tracker entry or a UPI credit
        // depend on when entries free up: timing-derived, like the latencies.
        EXPECT_EQ(a.values.at(name), v) << name;
      }
      ++compared;
    }
    EXPECT_GT(compared, 100);
  }
  double stat(const char* name) {
    MapStatsVisitor v;
    lines->dump_stats(v);
    return v.values.at(name);
  }
};

// Node 0 at 0, node 1 at 16 GiB in the shipped configuration (two sockets).
PhysAddr node1(const Pair& p) { return p.shipped.topo.nodes()[1].base; }

TEST(BulkTransfer, ClearsOf4KiBAgreeWithTheLinePathColdAndWarmLocalAndRemote) {
  Pair p;
  const PhysAddr local = 1 * kGiB, remote = node1(p) + 1 * kGiB;
  const Picoseconds cold = p.clear(CpuId(0), local, Bytes(4096));
  const Picoseconds warm = p.clear(CpuId(0), local, Bytes(4096));  // every line in L1 now
  EXPECT_LT(warm, cold);
  const Picoseconds cold_remote = p.clear(CpuId(0), remote, Bytes(4096));
  EXPECT_GT(cold_remote, cold);  // ownership from the remote home over the link
  p.clear(CpuId(0), remote, Bytes(4096));
  // Lines held by other cores: Modified on the same socket, Shared on the other.
  p.touch(CpuId(1), local + 8192, Bytes(4096), true);
  p.touch(CpuId(18), local + 8192 + 2048, Bytes(2048), false);
  p.clear(CpuId(0), local + 8192, Bytes(4096));
  // Many pages: L1 and L2 victims, LLC victims written back to DRAM.
  for (int i = 0; i < 600; ++i) p.clear(CpuId(0), local + (16ull << 20) + i * 4096ull, Bytes(4096));
  for (int i = 0; i < 64; ++i) p.clear(CpuId(19), remote + (16ull << 20) + i * 4096ull, Bytes(4096));
  // A range that starts and ends inside lines (partial lines are read for ownership).
  p.clear(CpuId(0), local + 100, Bytes(4000));
  p.expect_same_stats();
  EXPECT_GT(p.stat("system.mem.full_line_writes"), 40000);
  EXPECT_GT(p.stat("system.cpu0.l2.evictions"), 0);
  EXPECT_GT(p.stat("system.coherence.invalidations"), 0);
}

// Lines other cores of the socket hold (Modified, Exclusive, Shared by two) in a
// region the other socket's LLC holds nothing of: the batch asks no other LLC,
// but the snoop filter's sharers must still lose their copies.
TEST(BulkTransfer, ClearsOfLinesOtherCoresOfTheSocketHoldAgreeWithTheLinePath) {
  Pair p;
  const PhysAddr region = 3 * kGiB;
  p.touch(CpuId(1), region, Bytes(4096), true);
  p.touch(CpuId(2), region + 4096, Bytes(4096), false);
  p.touch(CpuId(3), region + 4096, Bytes(2048), false);
  p.clear(CpuId(0), region, Bytes(4096));
  p.clear(CpuId(0), region + 4096, Bytes(4096));
  p.expect_same_stats();
  EXPECT_GE(p.stat("system.coherence.invalidations"), 64 + 64 + 32);
  p.touch(CpuId(1), region, Bytes(4096), false);  // its copies are gone: misses, served by CPU 0's Modified lines
  p.expect_same_stats();
}

// The clears' LLC write-backs: to the CPU's own node they are posted in runs
// at the end of each chunk (DramController::post_writes), to the other node at
// once; with another core's misses and write-backs on both nodes in between.
TEST(BulkTransfer, ClearsWhoseLlcVictimsGoToDramAgreeWithTheLinePath) {
  Pair p(true);
  const PhysAddr local = 1 * kGiB, remote = node1(p) + 1 * kGiB;
  for (int i = 0; i < 1500; ++i) {
    // Mostly local pages, every fifth remote: the LLC's victims are lines of both homes.
    const PhysAddr page = (i % 5 == 4 ? remote : local) + static_cast<PhysAddr>(i) * 4096;
    p.clear(CpuId(0), page, Bytes(4096));
    if (i % 50 == 0) p.touch(CpuId(1), local + (64ull << 20) + static_cast<PhysAddr>(i) * 4096, Bytes(1024), true);
  }
  p.expect_same_stats();
  EXPECT_GT(p.stat("system.mem.writebacks"), 50000);
  EXPECT_GT(p.stat("system.node0.mc.writes"), 40000);
  EXPECT_GT(p.stat("system.node1.mc.writes"), 10000);
}

TEST(BulkTransfer, ClearsOf2MiBCachedAndStreamedAgreeWithTheLinePath) {
  Pair p;
  const PhysAddr local = 2 * kGiB, remote = node1(p) + 2 * kGiB;
  p.clear(CpuId(0), local, Bytes(k2M));    // cached (streaming_store_bytes 0)
  p.clear(CpuId(0), local, Bytes(k2M));    // warm: in L2 and the LLC
  p.clear_nt(CpuId(0), local, Bytes(k2M));  // clear_huge_page: dirty copies dropped
  p.clear_nt(CpuId(0), remote, Bytes(k2M));
  p.touch(CpuId(20), remote + k2M, Bytes(64 * 1024), true);
  p.clear_nt(CpuId(0), remote + k2M, Bytes(k2M));  // another socket's Modified lines
  p.touch(CpuId(1), local + k2M, Bytes(64 * 1024), true);
  p.read_nt(CpuId(0), local + k2M, Bytes(k2M));    // dirty copies written back first
  p.clear(CpuId(21), remote + 4 * k2M, Bytes(k2M));
  p.expect_close_stats();
  EXPECT_GT(p.stat("system.mem.nontemporal_lines"), 4 * 32768 - 1);
  EXPECT_GT(p.stat("system.mem.writebacks"), 0);
}

// Streamed 2 MiB and 1 MiB transfers (clear_huge_page, DMA-like reads) on the
// analytic path, local and remote, on an idle controller, with another core's
// reads and writes on the same node just before and up to a quantum ahead, and
// back to back (the banks' rows and refresh state carried from one to the next).
TEST(BulkTransfer, StreamedTransfersOnTheAnalyticPathStayWithinTwoPercent) {
  for (int remote = 0; remote < 2; ++remote) {
    for (int compete = 0; compete < 2; ++compete) {
      Pair p;
      const PhysAddr node = remote ? node1(p) : 0;
      const PhysAddr base = node + 3 * kGiB;
      p.t = Picoseconds(5'000'000);
      for (int rep = 0; rep < 4; ++rep) {
        if (compete) {
          // CPU 5 of socket 0: 300 accesses 13 ns apart from 3 us before the transfer to 0.9 us after its start.
          Picoseconds u = p.t - Picoseconds(3'000'000);
          for (int k = 0; k < 300; ++k) {
            const PhysAddr a = node + ((k * 7919ull + rep * 13ull) % 100000) * 4096 + 64 * (k % 64);
            for (MemorySystem* m : {p.bulk.get(), p.lines.get()}) m->access(CpuId(5), a, k % 3 == 0, u);
            u += Picoseconds(13'000);
          }
        }
        const PhysAddr at = base + static_cast<PhysAddr>(rep) * 3 * k2M;
        const Picoseconds lat = rep == 3 ? p.read_nt(CpuId(0), at, Bytes(k2M / 2))
                                         : (remote ? p.read_nt(CpuId(0), at, Bytes(k2M)) : p.clear_nt(CpuId(0), at, Bytes(k2M)));
        // The stream is bound by its 10 lines in flight: about 5 ns per line locally, 13 remotely.
        EXPECT_GT(lat, Picoseconds((rep == 3 ? 16384 : 32768) * (remote ? 9000ull : 4000ull)));
      }
      p.expect_close_stats();
      EXPECT_GT(p.stat(remote ? "system.node1.mc.row_hits" : "system.node0.mc.row_hits"), 100000);
      EXPECT_GT(p.stat(remote ? "system.node1.mc.refresh_delays" : "system.node0.mc.refresh_delays"), 0);
    }
  }
}

// What decides whether a streamed transfer takes the analytic path: its length
// (kBulkStreamLines), one DDR4 node, and for writes the CPU's own node (a remote
// streamed write keeps the line path, which it then matches exactly).
TEST(BulkTransfer, AnalyticStreamingPathOnlyWhereItIsHeldWithinTwoPercent) {
  Pair p;
  const PhysAddr local = 6 * kGiB, remote = node1(p) + 6 * kGiB;
  EXPECT_EQ(MemorySystem::kBulkStreamLines * kCacheLineBytes, 1u << 20);
  p.clear_nt(CpuId(0), local, Bytes(512 * 1024));  // below the threshold: exact
  p.both("remote streamed clear", [&](MemorySystem& m, Picoseconds now) {
    return m.access_range_nontemporal(CpuId(0), remote, Bytes(k2M), true, now);
  });  // exact: the line path on both
  p.expect_same_stats();
  // A range spanning two nodes keeps the line path too.
  const PhysAddr edge = node1(p) - k2M / 2;
  p.both("streamed clear over two nodes", [&](MemorySystem& m, Picoseconds now) {
    return m.access_range_nontemporal(CpuId(0), edge, Bytes(k2M), true, now);
  });
  p.expect_same_stats();
}

// The private-cache region summary that lets a streamed transfer skip the
// snoop filter: lines a core holds (clean or dirty) are still found and dropped.
TEST(BulkTransfer, StreamedTransfersStillInvalidateLinesHeldInPrivateCaches) {
  testing::Shipped s = testing::load_shipped();
  MemorySystem ms(s.topo, s.params);
  CacheHierarchy& h = ms.caches();
  const PhysAddr r = 7 * kGiB;
  // CPU 3 writes a line (Modified in its L1D), CPU 20 (socket 1) reads another.
  ms.access(CpuId(3), r + 4096, true, Picoseconds(0));
  ms.access(CpuId(20), r + 8192, false, Picoseconds(0));
  ASSERT_TRUE(h.l1d(CpuId(3)).contains(r + 4096));
  ASSERT_TRUE(h.l1d(CpuId(20)).contains(r + 8192));
  const std::uint64_t wb0 = static_cast<std::uint64_t>([&] {
    MapStatsVisitor v;
    ms.dump_stats(v);
    return v.values.at("system.mem.writebacks");
  }());
  // A streamed read: the dirty line reaches memory first, both copies are gone.
  ms.access_range_nontemporal(CpuId(0), r, Bytes(k2M), false, 1_us);
  EXPECT_FALSE(h.l1d(CpuId(3)).contains(r + 4096));
  EXPECT_FALSE(h.l1d(CpuId(20)).contains(r + 8192));
  EXPECT_FALSE(h.llc(1).contains(r + 8192));
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.values.at("system.mem.writebacks"), static_cast<double>(wb0 + 1));
  // Touched again after the clear: found again by the next one.
  ms.access(CpuId(4), r + 64, true, 500_us);
  ASSERT_TRUE(h.l1d(CpuId(4)).contains(r + 64));
  ms.access_range_nontemporal(CpuId(0), r, Bytes(k2M), true, 600_us);
  EXPECT_FALSE(h.l1d(CpuId(4)).contains(r + 64));
}

TEST(BulkTransfer, CopiesOf4KiBAnd2MiBAgreeWithTheLinePath) {
  Pair p;
  const PhysAddr local = 3 * kGiB, remote = node1(p) + 3 * kGiB;
  p.copy(CpuId(0), local, local + k2M, Bytes(4096));     // cold local
  p.copy(CpuId(0), local, local + k2M, Bytes(4096));     // warm
  p.copy(CpuId(0), local + 8192, remote, Bytes(4096));   // migrate from remote
  p.copy(CpuId(0), remote + 8192, local, Bytes(4096));   // migrate to remote
  p.touch(CpuId(1), local + 4 * k2M, Bytes(4096), true);
  p.copy(CpuId(0), local + 16384, local + 4 * k2M, Bytes(4096));  // source Modified in another core
  p.copy(CpuId(0), local + 8 * k2M, local + 10 * k2M, Bytes(k2M));  // copy_user_huge_page
  p.copy(CpuId(0), remote + 8 * k2M, local + 8 * k2M, Bytes(k2M));
  p.expect_same_stats();
}

// copy_range: the string move's loads and stores overlapped (kernel_mlp() of each
// in flight, the L2 streamer ahead of the source), against the read-then-write
// sequence of two access_range calls on an identical system.
TEST(BulkTransfer, CopyRangeOverlapsTheSourceLoadsWithTheDestinationStores) {
  testing::Shipped s = testing::load_shipped();
  for (std::uint64_t len : {std::uint64_t{4096}, k2M}) {
    MemorySystem a(s.topo, s.params), b(s.topo, s.params);
    const PhysAddr src = 9 * kGiB, dst = s.topo.nodes()[1].base + 9 * kGiB;  // local source, remote destination
    const Picoseconds t = 1_us;
    const Picoseconds copy = a.copy_range(CpuId(0), dst, src, Bytes(len), t);
    const Picoseconds r = b.access_range(CpuId(0), src, Bytes(len), false, t);
    const Picoseconds serial = r + b.access_range(CpuId(0), dst, Bytes(len), true, t + r);
    // The passes share the core's super queue with the copy (the stores'
    // ownership requests hold entries too), so overlapping them gains at most
    // the ramps: never slower than the two passes.
    EXPECT_LE(copy, serial) << len;
    // Never faster than its stores alone: each takes ownership from the remote
    // home (a request and a grant over the links, both ways), holding one of
    // the super queue's entries meanwhile, which the source's loads share.
    const Picoseconds own = a.interconnect().idle_time(NodeId(0), NodeId(1), Bytes(0)) +
                            a.interconnect().idle_time(NodeId(1), NodeId(0), Bytes(0));
    EXPECT_GT(copy, own * (len / kCacheLineBytes / s.params.super_queue)) << len;
    // The destination is left Modified in the copying CPU's L1D (its last lines), the
    // source read; the same DRAM reads on both.
    EXPECT_EQ(a.caches().l1d(CpuId(0)).state(dst + len - 64), LineState::Modified);
    MapStatsVisitor va, vb;
    a.dump_stats(va);
    b.dump_stats(vb);
    EXPECT_EQ(va.values.at("system.mem.full_line_writes"), static_cast<double>(len / kCacheLineBytes));
    EXPECT_EQ(va.values.at("system.mem.full_line_writes"), vb.values.at("system.mem.full_line_writes"));
    EXPECT_EQ(va.values.at("system.node0.mc.reads"), vb.values.at("system.node0.mc.reads"));
    EXPECT_EQ(va.values.at("system.node0.mc.reads"), static_cast<double>(len / kCacheLineBytes));
  }
  // Unaligned ranges are read, then written: exactly the serial time.
  MemorySystem a(s.topo, s.params), b(s.topo, s.params);
  const Picoseconds c = a.copy_range(CpuId(0), 10 * kGiB + 8, 11 * kGiB, Bytes(4000), 1_us);
  const Picoseconds r = b.access_range(CpuId(0), 11 * kGiB, Bytes(4000), false, 1_us);
  EXPECT_EQ(c, r + b.access_range(CpuId(0), 10 * kGiB + 8, Bytes(4000), true, 1_us + r));
}

TEST(BulkTransfer, MachineOptionSelectsThePath) {
  testing::Shipped s = testing::load_shipped();
  MemorySystem ms(s.topo, s.params);
  EXPECT_EQ(ms.transfer_path(), MemorySystem::TransferPath::Bulk);
  auto doc = ConfigDocument::from_string("[platform]\nkernel_transfers = \"lines\"\n", "test");
  MachinePlatformParams pp = MachinePlatformParams::from_config(doc->root().table("platform", "platform"));
  EXPECT_FALSE(pp.bulk_transfers);
  MachinePlatform platform(s.topo, ms, Frequency(2'300'000'000), pp);
  EXPECT_EQ(ms.transfer_path(), MemorySystem::TransferPath::Lines);
  auto bad = ConfigDocument::from_string("[platform]\nkernel_transfers = \"pages\"\n", "test");
  MachinePlatformParams::from_config(bad->root().table("platform", "platform"));
  EXPECT_THROW(bad->check(), std::exception);
}


// The LLC residency counts by 2 MiB region that let snoops and invalidations
// skip a socket's LLC: they follow fills, evictions and invalidations, and a
// skipped LLC never hides a copy (a write still invalidates the other socket's line).
TEST(BulkTransfer, LlcRegionCountsFollowFillsEvictionsAndInvalidations) {
  testing::Shipped s = testing::load_shipped();
  MemorySystem ms(s.topo, s.params);
  CacheHierarchy& h = ms.caches();
  const PhysAddr r = 5 * kGiB;  // a 2 MiB region of node 0
  EXPECT_TRUE(h.llc_clean(0, r, r + k2M - 1));
  EXPECT_TRUE(h.llc_clean(1, r, r + k2M - 1));
  // CPU 18 (socket 1) reads a line of the region: socket 1's LLC holds it now.
  ms.access(CpuId(18), r + 4096, false, Picoseconds(0));
  EXPECT_FALSE(h.llc_clean(1, r, r + k2M - 1));
  EXPECT_TRUE(h.llc_clean(1, r + k2M, r + 2 * k2M - 1));
  EXPECT_TRUE(h.llc_clean(0, r, r + k2M - 1));
  // CPU 0 (socket 0) writes it: the other socket's copies are invalidated.
  ms.access(CpuId(0), r + 4096, true, 1_us);
  EXPECT_FALSE(h.llc(1).contains(r + 4096));
  EXPECT_FALSE(h.l1d(CpuId(18)).contains(r + 4096));
  EXPECT_TRUE(h.llc_clean(1, r, r + k2M - 1));
  // A streaming clear of the region leaves no line of it in any LLC.
  ms.access_range(CpuId(0), r, Bytes(64 * 1024), false, 2_us);
  EXPECT_FALSE(h.llc_clean(0, r, r + k2M - 1));
  ms.access_range_nontemporal(CpuId(0), r, Bytes(k2M), true, 10_us);
  EXPECT_TRUE(h.llc_clean(0, r, r + k2M - 1));
  // Evictions: streaming 64 MiB through socket 0's LLC (24.75 MiB) pushes the
  // first region's lines out, and its count returns to zero.
  ms.access_range(CpuId(0), r, Bytes(k2M), false, 20_us);
  EXPECT_FALSE(h.llc_clean(0, r, r + k2M - 1));
  ms.access_range(CpuId(0), r + k2M, Bytes(64ull << 20), false, 100_us);
  EXPECT_TRUE(h.llc_clean(0, r, r + k2M - 1));
  EXPECT_FALSE(h.llc_clean(0, r + 32 * k2M, r + 32 * k2M));
  // Addresses beyond the counted memory are never called clean.
  EXPECT_FALSE(h.llc_clean(0, PhysAddr(1) << 50, PhysAddr(1) << 50));
}

// DramController::stream takes runs of granules that are provably row hits
// served on arrival as one step (and skips the activate calendar search where
// no activate of the rank is near): on random streams (lengths, starts inside
// a granule, reads and writes, windows, issue gaps, link paths) over several
// mappings, interleaves, channel counts, with and without refresh and row
// hash, mixed with other traffic before, after and ahead of the stream, the
// results must be those of the granule-by-granule path: end time, every
// statistic, latency histogram, and the banks' state as later requests see it.
// Also 2 MiB clears back to back over many refresh windows, as a THP fault's.
TEST(DramStreamRuns, RunsOfRowHitsGiveTheGranuleByGranuleResults) {
  std::mt19937_64 rng(7);
  const char* maps[] = {"row:rank:bank:column:bankgroup:channel", "row:bank:bankgroup:rank:column:channel",
                        "row:column:rank:bank:bankgroup:channel", "row:rank:bank:bankgroup:channel:column"};
  for (int cfg = 0; cfg < 32; ++cfg) {
    DramParams p;
    p.channels = std::array<int, 3>{6, 4, 3}[cfg % 3];
    p.refresh = cfg % 4 != 3;
    p.xor_hash = (cfg / 2) % 2 == 0;
    p.mapping = maps[(cfg / 4) % 4];
    if (cfg % 5 == 4) p.interleave = Bytes(64);
    if (cfg % 7 == 6) p.interleave = Bytes(1024);
    DramController runs(p, 0, "mc"), lines(p, 0, "mc");
    lines.set_stream_runs(false);
    Picoseconds t(1'000'000 + rng() % 10'000'000);
    for (int op = 0; op < 24; ++op) {
      if (rng() % 3 == 0) {  // other traffic, some of it ahead of the stream
        for (int k = 0; k < 200; ++k) {
          const PhysAddr pa = (rng() % (1ull << 32)) & ~63ull;
          const bool w = rng() % 2;
          const Picoseconds at = t + Picoseconds(rng() % 3'000'000);
          ASSERT_EQ(runs.access(pa, w, at).done, lines.access(pa, w, at).done);
        }
      }
      const bool thp = op % 4 == 0;
      const std::uint64_t n = thp ? 32768 : 1 + rng() % 40000;
      PhysAddr pa = (rng() % (1ull << 32)) & ~63ull;
      if (thp || rng() % 2) pa &= ~((2ull << 20) - 1);
      const bool w = thp || rng() % 2;
      const Picoseconds to(rng() % 60'000), rt(to.value() + rng() % 60'000), mp(rng() % 3'000),
          gap(thp ? 434 : rng() % 1'000);
      const int win = thp ? 10 : 1 + static_cast<int>(rng() % 16);
      const Picoseconds ea = runs.stream(pa, n, w, t, to, rt, mp, win, gap);
      const Picoseconds eb = lines.stream(pa, n, w, t, to, rt, mp, win, gap);
      ASSERT_EQ(ea, eb) << "config " << cfg << ", stream " << op;
      MapStatsVisitor va, vb;
      runs.dump(va);
      lines.dump(vb);
      ASSERT_EQ(va.values, vb.values) << "config " << cfg << ", stream " << op;
      for (int k = 0; k < 64; ++k) {  // the banks' state: requests into the range around the end
        const PhysAddr q = pa + ((rng() % (n + 64)) << 6);
        const Picoseconds at = ea - Picoseconds(rng() % 400'000) + Picoseconds(rng() % 400'000);
        const bool qw = rng() % 2;
        ASSERT_EQ(runs.access(q, qw, at).done, lines.access(q, qw, at).done) << cfg << " " << op << " probe " << k;
      }
      // The next stream starts after this one or, sometimes, behind its end (another initiator's view).
      t = ea - Picoseconds(rng() % 2 ? rng() % (ea - t).value() + 1 : 0) + Picoseconds(rng() % 2'000'000);
    }
  }
}

// [uncore] mesh: kernel traffic across the sockets that does not start in a
// core's L2 (streamed and DMA lines, write-backs, bulk streams) crosses the same
// UPI agents and home step as a demand miss (their latency is the mesh's, not
// the link's), and reads hold the socket's request credits and the home's
// tracker; a whole-line store takes ownership through the same agents.
TEST(BulkTransfer, RemoteKernelTrafficCrossesTheUpiAgentsOfTheUncore) {
  testing::Shipped s = testing::load_shipped();
  ASSERT_TRUE(s.params.uncore.enabled());
  ASSERT_GT(s.params.uncore.upi_agent_cycles, 0u);
  ASSERT_GT(s.params.uncore.home_cycles, 0u);
  MemorySystemParams bare = s.params;  // the same machine without the agents and the home step
  bare.uncore.upi_agent_cycles = 0;
  bare.uncore.home_cycles = 0;
  MemorySystem a(s.topo, s.params), b(s.topo, bare);
  const std::uint32_t cores = static_cast<std::uint32_t>(s.topo.nodes()[0].cpus.size());
  const UncoreMesh ma(s.params.uncore, cores), mb(bare.uncore, cores);
  const PhysAddr remote = s.topo.nodes()[1].base + 12 * kGiB;
  // One uncached line read from node 0's agent (DMA-like): the steps around the links.
  AccessBreakdown ba, bb;
  a.memory_access(NodeId(0), remote, false, 1_us, &ba);
  b.memory_access(NodeId(0), remote, false, 1_us, &bb);
  EXPECT_EQ(ba.cache, 2 * ma.upi_agent() + ma.home_to_imc(remote) + ma.imc_to_upi(remote));
  const Picoseconds four_agents_and_home =
      s.params.uncore.clock.to_time(Cycles(4 * s.params.uncore.upi_agent_cycles + s.params.uncore.home_cycles));
  EXPECT_NEAR(static_cast<double>((ba.cache - bb.cache).value()), static_cast<double>(four_agents_and_home.value()),
              60.0);  // whole picoseconds per uncore cycle
  EXPECT_EQ(ba.interconnect, bb.interconnect);  // the links carry the same
  MapStatsVisitor v;
  a.dump_stats(v);
  EXPECT_EQ(v.values.at("system.socket0.upi_agent.remote_requests"), 1);
  EXPECT_EQ(v.values.at("system.node1.home_agent.requests"), 1);
  // A whole-line store to a cold remote line (clear_page, a copy's destination):
  // the core's miss to its UPI agent, the link, the home's grant, the link back, into the core.
  const PhysAddr line = remote + 64 * 1024;
  const Picoseconds own = a.access_range(CpuId(0), line, Bytes(kCacheLineBytes), true, 2_us);
  const Interconnect& ic = a.interconnect();
  EXPECT_EQ(own, ma.to_upi(0, line) + ic.idle_time(NodeId(0), NodeId(1), Bytes(0)) + ma.home_grant(line) +
                     ic.idle_time(NodeId(1), NodeId(0), Bytes(0)) + ma.upi_to_core(0));
  MapStatsVisitor w;
  a.dump_stats(w);
  EXPECT_EQ(w.values.at("system.socket0.upi_agent.remote_requests"), 2);
  EXPECT_EQ(w.values.at("system.node1.home_agent.requests"), 2);
  // Posted write-backs pass the agents but hold no credit.
  a.memory_access(NodeId(0), remote + 128 * 1024, true, 3_us);
  MapStatsVisitor x;
  a.dump_stats(x);
  EXPECT_EQ(x.values.at("system.socket0.upi_agent.remote_requests"), 2);
}

// Remote streamed reads on the analytic path (bulk_stream) reserve the credits and
// tracker entries of their window as a block, counted line by line as the line
// path counts them, and stay within 2% of it; remote copies agree exactly.
TEST(BulkTransfer, RemoteStreamsAndCopiesHoldTheSameCreditsOnBothPaths) {
  Pair p;
  const PhysAddr local = 13 * kGiB, remote = node1(p) + 13 * kGiB;
  // The copies first: after an analytic stream the DRAM state is the line path's
  // within 2% only, and so would be the timing-derived figures of later demand misses.
  p.copy(CpuId(0), local, remote + 2 * k2M, Bytes(k2M));           // migrate to local
  p.copy(CpuId(0), remote + 4 * k2M, local + 2 * k2M, Bytes(k2M));  // migrate to remote
  p.read_nt(CpuId(0), remote, Bytes(k2M));
  p.read_nt(CpuId(0), remote + 6 * k2M, Bytes(k2M));
  p.expect_close_stats();
  // Every remote line read, streamed or demand, and every ownership request went to node 1's home.
  EXPECT_GE(p.stat("system.socket0.upi_agent.remote_requests"), 2 * 32768 + 32768 + 32768);
  EXPECT_EQ(p.stat("system.socket0.upi_agent.remote_requests"), p.stat("system.node1.home_agent.requests"));
}

}  // namespace
}  // namespace numasim::hw
