// Benchmarks of the simulated page allocator (os/page_alloc.*), host-side speed
// only: order-0 alloc+free pairs through the per-cpu lists, pairs that go
// through the buddy (order 4), a batch pattern that refills and drains the
// per-cpu lists, and bring-up of a 256 GiB two-node machine with the host
// bytes it costs per simulated 4 KiB frame; bring-up of the eight-socket 1 TiB
// machine of configs/eight-socket-1t.toml (OS layer alone) and the host memory
// it costs once 16 GiB of it is allocated (deferred struct page init: host
// memory follows the frames used, not the machine's size).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "os/page_alloc.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

std::unique_ptr<PhysMem> machine(FakePlatform& plat, std::uint64_t gib_per_node) {
  plat.record = false;
  const std::uint64_t bytes = gib_per_node << 30;
  std::vector<NodeLayout> nodes{{NodeId(0), 0, Bytes(bytes), {CpuId(0), CpuId(1)}},
                                {NodeId(1), bytes, Bytes(bytes), {CpuId(2), CpuId(3)}}};
  return std::make_unique<PhysMem>(nodes, std::vector<std::vector<int>>{{10, 21}, {21, 10}}, PhysMemParams{}, plat);
}

void BM_PcpAllocFreePair(benchmark::State& state) {
  FakePlatform plat;
  auto pm = machine(plat, 4);
  KernelCost cost;
  for (auto _ : state) {
    page* pg = pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost);
    benchmark::DoNotOptimize(pg);
    pm->free_pages(CpuId(0), pg, 0, cost);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["pairs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PcpAllocFreePair);

// 256 allocations then 256 frees: every pass refills and drains the pcp lists.
void BM_PcpBatchAllocFree(benchmark::State& state) {
  FakePlatform plat;
  auto pm = machine(plat, 4);
  KernelCost cost;
  std::vector<page*> pages(256);
  for (auto _ : state) {
    for (auto& p : pages) p = pm->alloc_pages(CpuId(1), GFP_HIGHUSER_MOVABLE, 0, NodeId(0), nullptr, cost);
    for (auto* p : pages) pm->free_pages(CpuId(1), p, 0, cost);
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.counters["pairs_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 256), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PcpBatchAllocFree);

void BM_BuddyOrder4AllocFreePair(benchmark::State& state) {
  FakePlatform plat;
  auto pm = machine(plat, 4);
  KernelCost cost;
  for (auto _ : state) {
    page* pg = pm->alloc_pages(CpuId(0), GFP_KERNEL, 4, NodeId(0), nullptr, cost);
    benchmark::DoNotOptimize(pg);
    pm->free_pages(CpuId(0), pg, 4, cost);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BuddyOrder4AllocFreePair);

long rss_kib() {
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * 4;
}

// Two nodes of 128 GiB: 67 M frames.
void BM_BringUp256GiB(benchmark::State& state) {
  double rss_per_frame = 0;
  for (auto _ : state) {
    FakePlatform plat;
    const long before = rss_kib();
    auto pm = machine(plat, 128);
    const long after = rss_kib();
    benchmark::DoNotOptimize(pm.get());
    rss_per_frame = static_cast<double>(after - before) * 1024.0 / static_cast<double>(pm->max_pfn());
    state.PauseTiming();
    pm.reset();
    state.ResumeTiming();
  }
  state.counters["frames"] = static_cast<double>((256ull << 30) >> 12);
  // Host bytes per frame: the descriptor, plus the per-pageblock table.
  state.counters["bytes_per_frame"] = static_cast<double>(sizeof(page)) + 4.0 / pageblock_nr_pages;
  state.counters["rss_bytes_per_frame_after_bringup"] = rss_per_frame;
}
BENCHMARK(BM_BringUp256GiB)->Unit(benchmark::kMillisecond)->Iterations(3);

// configs/eight-socket-1t.toml's memory as the kernel sees it: eight nodes of
// 128 GiB (268 M frames), 28 CPUs each, SLIT 10/21/31 of the twisted hypercube.
std::unique_ptr<PhysMem> machine_8s_1t(FakePlatform& plat) {
  plat.record = false;
  static constexpr int kHops[8][8] = {{0, 1, 1, 2, 1, 2, 2, 2}, {1, 0, 2, 1, 2, 1, 2, 2}, {1, 2, 0, 1, 2, 2, 2, 1},
                                      {2, 1, 1, 0, 2, 2, 1, 2}, {1, 2, 2, 2, 0, 1, 1, 2}, {2, 1, 2, 2, 1, 0, 2, 1},
                                      {2, 2, 2, 1, 1, 2, 0, 1}, {2, 2, 1, 2, 2, 1, 1, 0}};
  const std::uint64_t bytes = 128ull << 30;
  std::vector<NodeLayout> nodes;
  std::vector<std::vector<int>> dist(8, std::vector<int>(8));
  for (int n = 0; n < 8; ++n) {
    std::vector<CpuId> cpus;
    for (int c = 0; c < 28; ++c) cpus.push_back(CpuId(n * 28 + c));
    nodes.push_back({NodeId(n), n * bytes, Bytes(bytes), cpus});
    for (int m = 0; m < 8; ++m) dist[n][m] = kHops[n][m] == 0 ? 10 : kHops[n][m] == 1 ? 21 : 31;
  }
  return std::make_unique<PhysMem>(nodes, dist, PhysMemParams{}, plat);
}

// Bring-up of 1 TiB: nodes, zones, zonelists, watermarks, per-cpu lists for 224
// CPUs, and the buddy's boot blocks (deferred: no descriptor of them written).
void BM_BringUp1TiB(benchmark::State& state) {
  long rss_delta_kib = 0;
  for (auto _ : state) {
    FakePlatform plat;
    const long before = rss_kib();
    auto pm = machine_8s_1t(plat);
    rss_delta_kib = std::max(rss_delta_kib, rss_kib() - before);  // the first iteration's: later ones reuse the heap
    benchmark::DoNotOptimize(pm.get());
    state.PauseTiming();
    pm.reset();
    state.ResumeTiming();
  }
  state.counters["frames"] = static_cast<double>((1ull << 40) >> 12);
  state.counters["rss_mib_after_bringup"] = static_cast<double>(rss_delta_kib) / 1024.0;
}
BENCHMARK(BM_BringUp1TiB)->Unit(benchmark::kMillisecond)->Iterations(3);

// 16 GiB of order-0 pages allocated on the 1 TiB machine, 2 GiB per node (the
// working set of configs/workloads/stream-8s-1t.toml): the host memory the
// allocator then holds (descriptors of the frames used, 48 bytes each).
void BM_Alloc16GiBOn1TiB(benchmark::State& state) {
  long rss_delta_kib = 0;
  std::uint64_t pages_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    FakePlatform plat;
    const long before = rss_kib();
    auto pm = machine_8s_1t(plat);
    KernelCost cost;
    const std::uint64_t per_node = (2ull << 30) >> 12;
    std::vector<page*> pages;
    pages.reserve(per_node * 8);
    state.ResumeTiming();
    for (int n = 0; n < 8; ++n)
      for (std::uint64_t i = 0; i < per_node; ++i)
        pages.push_back(pm->alloc_pages(CpuId(n * 28), GFP_HIGHUSER_MOVABLE, 0, NodeId(n), nullptr, cost));
    state.PauseTiming();
    rss_delta_kib = rss_kib() - before - static_cast<long>(pages.capacity() * sizeof(page*) / 1024);
    for (page* p : pages)
      if (!p) state.SkipWithError("allocation failed");
    pages_total += pages.size();
    pm.reset();
    state.ResumeTiming();
  }
  state.counters["pages_per_s"] = benchmark::Counter(static_cast<double>(pages_total), benchmark::Counter::kIsRate);
  state.counters["rss_mib_after_16gib"] = static_cast<double>(rss_delta_kib) / 1024.0;
}
BENCHMARK(BM_Alloc16GiBOn1TiB)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
