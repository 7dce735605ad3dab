// Benchmark: host cost of MemorySystem::access on the default (Skylake-SP,
// DDR4-2666) parameters: simulated references per host second for an
// L1-hit stream, an L2-hit stream, an LLC-hit stream and a stream that misses
// every cache (DRAM, local and remote), the DRAM controller alone (random
// reads, 4 KiB pages of writes, with and without its write queue), plus
// kernel range traffic (4 KiB clear through the caches, 2 MiB streamed
// clears on the bulk and line paths, copies to, from and within a node,
// page-cache page reads). Not a test: figures go in the README.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "hw/dram_controller.h"
#include "hw/memory_system.h"

using namespace numasim;
using namespace numasim::hw;

namespace {

// Two sockets of 18 cores, one node each with 16 GiB, one UPI-like link.
MemoryLayout skylake_2s() {
  MemoryLayout l;
  l.num_sockets = 2;
  for (int n = 0; n < 2; ++n) {
    MemoryLayout::Node node{NodeId(n), n, static_cast<PhysAddr>(n) << 34, Bytes(16ull << 30), {}};
    for (int c = 0; c < 18; ++c) node.cpus.push_back(CpuId(n * 18 + c));
    l.nodes.push_back(node);
  }
  l.interconnect.num_nodes = 2;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), 27_ns, Bandwidth(34'300'000'000), "n0-n1"});
  l.interconnect.paths = {{}, {0}, {0}, {}};
  return l;
}

// Addresses cycling through a working set of `bytes` starting at `base`, in a
// shuffled line order (so hardware-like set conflicts are exercised).
std::vector<PhysAddr> working_set(PhysAddr base, std::uint64_t bytes, std::uint64_t seed) {
  std::vector<PhysAddr> a;
  for (std::uint64_t off = 0; off < bytes; off += 64) a.push_back(base + off);
  std::mt19937_64 rng(seed);
  std::shuffle(a.begin(), a.end(), rng);
  return a;
}

void run_stream(benchmark::State& state, std::uint64_t bytes, PhysAddr base, int expect_level) {
  MemorySystem ms(skylake_2s(), MemorySystemParams{});
  const std::vector<PhysAddr> addrs = working_set(base, bytes, 7);
  Picoseconds t(0);
  for (PhysAddr a : addrs) t += ms.access(CpuId(0), a, false, t);  // warm
  for (PhysAddr a : addrs) t += ms.access(CpuId(0), a, false, t);
  std::size_t i = 0;
  const std::size_t n = addrs.size();
  for (auto _ : state) {
    t += ms.access(CpuId(0), addrs[i], (i & 7) == 0, t);
    if (++i == n) i = 0;
  }
  benchmark::DoNotOptimize(t);
  AccessBreakdown b;
  ms.access(CpuId(0), addrs[i], false, t, &b);
  state.counters["level"] = b.level_hit;
  state.counters["expected_level"] = expect_level;
  state.counters["sim_ns_per_access"] =
      benchmark::Counter(static_cast<double>(t.value()) / 1000.0 / static_cast<double>(state.iterations() + 2 * n));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_L1Hit(benchmark::State& state) { run_stream(state, 16 << 10, 0, 1); }
void BM_L2Hit(benchmark::State& state) { run_stream(state, 512 << 10, 0, 2); }
void BM_LlcHit(benchmark::State& state) { run_stream(state, 8 << 20, 0, 3); }

// Uniform random lines over 4 GiB: practically every access misses every cache.
void dram_stream(benchmark::State& state, PhysAddr base) {
  MemorySystem ms(skylake_2s(), MemorySystemParams{});
  std::mt19937_64 rng(11);
  std::vector<PhysAddr> addrs(1 << 20);
  for (auto& a : addrs) a = base + (rng() % (1ull << 26)) * 64;
  Picoseconds t(0);
  std::size_t i = 0;
  for (auto _ : state) {
    t += ms.access(CpuId(0), addrs[i], false, t);
    i = (i + 1) & (addrs.size() - 1);
  }
  benchmark::DoNotOptimize(t);
  state.counters["sim_ns_per_access"] =
      benchmark::Counter(static_cast<double>(t.value()) / 1000.0 / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
void BM_LlcMissLocalDram(benchmark::State& state) { dram_stream(state, 0); }
void BM_LlcMissRemoteDram(benchmark::State& state) { dram_stream(state, 1ull << 34); }

// The DRAM controller alone (DramController::access, the line path's
// per-request host cost: decode, scheduling against the banks, ranks and
// calendars, statistics), on the default DDR4-2666 parameters over 16 GiB:
// uniform random line reads (GUPS-like: mostly row misses), or whole 4 KiB
// pages written line by line at random pages (a page clear's write-backs:
// 16 granules of 4 row hits). One request every `gap_ps` of simulated time.
// `write_queue`: 0 (writes timed like reads) or 32 (the queue drained through
// schedule(), high/low watermarks 24/8). Counter sim_ns_per_access: the mean
// latency, which must not move when only the host cost changes.
void dram_controller(benchmark::State& state, bool page_writes, unsigned write_queue, std::uint64_t gap_ps) {
  DramParams p;
  p.write_queue = write_queue;
  p.write_high = write_queue ? 24 : 0;
  p.write_low = write_queue ? 8 : 0;
  DramController dc(p, 0, "bench.dram");
  std::mt19937_64 rng(13);
  std::vector<PhysAddr> addrs(1 << 20);
  for (std::size_t k = 0; k < addrs.size(); ++k) {
    if (!page_writes)
      addrs[k] = (rng() % (1ull << 28)) * 64;
    else if (k % 64 == 0)
      addrs[k] = (rng() % (1ull << 22)) * 4096;
    else
      addrs[k] = addrs[k - 1] + 64;
  }
  Picoseconds t(0);
  std::uint64_t latency_ps = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const DramResult r = dc.access(addrs[i], page_writes, t);
    latency_ps += (r.done - t).value();
    t += Picoseconds(gap_ps);
    i = (i + 1) & (addrs.size() - 1);
  }
  benchmark::DoNotOptimize(latency_ps);
  state.counters["sim_ns_per_access"] =
      benchmark::Counter(static_cast<double>(latency_ps) / 1000.0 / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
void BM_DramRandomReads(benchmark::State& state) { dram_controller(state, false, 0, 2000); }
void BM_DramPageWrites(benchmark::State& state) { dram_controller(state, true, 0, 2000); }
void BM_DramPageWritesQueued(benchmark::State& state) { dram_controller(state, true, 32, 2000); }

// Kernel clears of `page` bytes cycling over 1 GiB on the bulk path
// (MemorySystem::TransferPath::Bulk, the default) or the line path: a 4 KiB
// clear_page through the caches (access_range; items = lines), a 2 MiB
// clear_huge_page with streaming stores (access_range_nontemporal; items =
// clears; on the bulk path timed as one block by DramController::stream).
// `write_queue`: the controllers' [dram] write queue (32: Intel's WPQ, drained
// whole when full; 0: none, writes timed like reads), set here whatever the
// default, so that the streamed clear's cost is measured both ways.
void clears(benchmark::State& state, MemorySystem::TransferPath path, std::uint64_t page, bool streamed,
            unsigned write_queue = 0) {
  MemorySystemParams params;
  params.dram.write_queue = params.dram.write_high = write_queue;
  params.dram.write_low = 0;
  MemorySystem ms(skylake_2s(), params);
  ms.set_transfer_path(path);
  Picoseconds t(0);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const PhysAddr pa = i * page;
    t += streamed ? ms.access_range_nontemporal(CpuId(0), pa, Bytes(page), true, t)
                  : ms.access_range(CpuId(0), pa, Bytes(page), true, t);
    i = (i + 1) % ((1ull << 30) / page);
  }
  benchmark::DoNotOptimize(t);
  const double per = static_cast<double>(t.value()) / static_cast<double>(state.iterations());
  if (streamed) state.counters["sim_us_per_page"] = benchmark::Counter(per / 1e6);
  else state.counters["sim_ns_per_page"] = benchmark::Counter(per / 1000.0);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * (streamed ? 1 : page / 64)));
}
void BM_AccessRange4K(benchmark::State& state) { clears(state, MemorySystem::TransferPath::Bulk, 4096, false); }
void BM_AccessRange4KLines(benchmark::State& state) { clears(state, MemorySystem::TransferPath::Lines, 4096, false); }
void BM_ClearHuge2MNontemporal(benchmark::State& state) {
  clears(state, MemorySystem::TransferPath::Bulk, 2ull << 20, true);
}
void BM_ClearHuge2MNontemporalLines(benchmark::State& state) {
  clears(state, MemorySystem::TransferPath::Lines, 2ull << 20, true);
}
void BM_ClearHuge2MNontemporalQueued(benchmark::State& state) {
  clears(state, MemorySystem::TransferPath::Bulk, 2ull << 20, true, 32);
}
void BM_ClearHuge2MNontemporalQueuedLines(benchmark::State& state) {
  clears(state, MemorySystem::TransferPath::Lines, 2ull << 20, true, 32);
}

// copy_page / folio_copy from node 0 to node 1 (a migration) of `page` bytes,
// cycling over 1 GiB: MemorySystem::copy_range (loads and stores overlapped)
// or the read-then-write pair of access_range calls. items = bytes copied;
// sim_gb_per_s = simulated copy bandwidth.
void copies(benchmark::State& state, std::uint64_t page, bool overlapped) {
  MemorySystem ms(skylake_2s(), MemorySystemParams{});
  Picoseconds t(0), sim(0);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const PhysAddr src = i * page, dst = (1ull << 34) + i * page;
    Picoseconds d;
    if (overlapped) {
      d = ms.copy_range(CpuId(0), dst, src, Bytes(page), t);
    } else {
      const Picoseconds r = ms.access_range(CpuId(0), src, Bytes(page), false, t);
      d = r + ms.access_range(CpuId(0), dst, Bytes(page), true, t + r);
    }
    t += d;
    sim += d;
    i = (i + 1) % ((1ull << 30) / page);
  }
  benchmark::DoNotOptimize(t);
  state.counters["sim_gb_per_s"] = benchmark::Counter(
      static_cast<double>(page * state.iterations()) / (static_cast<double>(sim.value()) * 1e-12) / 1e9);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page));
}
void BM_CopyRange4KToRemote(benchmark::State& state) { copies(state, 4096, true); }
void BM_ReadThenWrite4KToRemote(benchmark::State& state) { copies(state, 4096, false); }
void BM_CopyRange2MToRemote(benchmark::State& state) { copies(state, 2ull << 20, true); }
void BM_ReadThenWrite2MToRemote(benchmark::State& state) { copies(state, 2ull << 20, false); }

// The same copies between other nodes (copy_range): `from` and `to` are the
// source's and destination's nodes (a migration to node 0 copies from node 1).
void copies_between(benchmark::State& state, std::uint64_t page, int from, int to) {
  MemorySystem ms(skylake_2s(), MemorySystemParams{});
  Picoseconds t(0), sim(0);
  std::uint64_t i = 0;
  const std::uint64_t lap = (1ull << 30) / page;
  for (auto _ : state) {
    const PhysAddr src = (static_cast<PhysAddr>(from) << 34) + i * page;
    const PhysAddr dst = (static_cast<PhysAddr>(to) << 34) + (lap + i) * page;  // disjoint from the source
    const Picoseconds d = ms.copy_range(CpuId(0), dst, src, Bytes(page), t);
    t += d;
    sim += d;
    i = (i + 1) % lap;
  }
  benchmark::DoNotOptimize(t);
  state.counters["sim_gb_per_s"] = benchmark::Counter(
      static_cast<double>(page * state.iterations()) / (static_cast<double>(sim.value()) * 1e-12) / 1e9);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * page));
}
void BM_CopyRange4KFromRemote(benchmark::State& state) { copies_between(state, 4096, 1, 0); }
void BM_CopyRange2MLocal(benchmark::State& state) { copies_between(state, 2ull << 20, 0, 0); }

// copy_page_to_iter's source as filemap_read times it (kernel_read: access_range
// of one 4 KiB page-cache page per call, the calls back to back) on node 0 or
// node 1, cycling over 1 GiB; sim_us_per_page = simulated time per page.
void page_reads(benchmark::State& state, int node) {
  MemorySystem ms(skylake_2s(), MemorySystemParams{});
  Picoseconds t(0), sim(0);
  std::uint64_t i = 0;
  for (auto _ : state) {
    const Picoseconds d = ms.access_range(CpuId(0), (static_cast<PhysAddr>(node) << 34) + i * 4096, Bytes(4096), false, t);
    t += d;
    sim += d;
    i = (i + 1) % ((1ull << 30) / 4096);
  }
  benchmark::DoNotOptimize(t);
  state.counters["sim_us_per_page"] =
      benchmark::Counter(static_cast<double>(sim.value()) / 1e6 / static_cast<double>(state.iterations()));
  state.counters["sim_gb_per_s"] = benchmark::Counter(
      static_cast<double>(4096 * state.iterations()) / (static_cast<double>(sim.value()) * 1e-12) / 1e9);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * 4096));
}
void BM_ReadPages4KLocal(benchmark::State& state) { page_reads(state, 0); }
void BM_ReadPages4KRemote(benchmark::State& state) { page_reads(state, 1); }

}  // namespace

BENCHMARK(BM_L1Hit);
BENCHMARK(BM_L2Hit);
BENCHMARK(BM_LlcHit);
BENCHMARK(BM_LlcMissLocalDram);
BENCHMARK(BM_LlcMissRemoteDram);
// A fixed number of requests, so that sim_ns_per_access is the mean over the
// same request sequence on every host (Google Benchmark would otherwise pick
// the count from the host's speed).
BENCHMARK(BM_DramRandomReads)->Iterations(1 << 21);
BENCHMARK(BM_DramPageWrites)->Iterations(1 << 21);
BENCHMARK(BM_DramPageWritesQueued)->Iterations(1 << 21);
BENCHMARK(BM_AccessRange4K);
BENCHMARK(BM_AccessRange4KLines);
BENCHMARK(BM_ClearHuge2MNontemporal)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClearHuge2MNontemporalLines)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClearHuge2MNontemporalQueued)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ClearHuge2MNontemporalQueuedLines)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CopyRange4KToRemote);
BENCHMARK(BM_ReadThenWrite4KToRemote);
BENCHMARK(BM_CopyRange2MToRemote)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReadThenWrite2MToRemote)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CopyRange4KFromRemote);
BENCHMARK(BM_CopyRange2MLocal)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ReadPages4KLocal);
BENCHMARK(BM_ReadPages4KRemote);

BENCHMARK_MAIN();
