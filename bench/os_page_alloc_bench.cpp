// Benchmarks of the simulated page allocator (os/page_alloc.*), host-side speed
// only: order-0 alloc+free pairs through the per-cpu lists, pairs that go
// through the buddy (order 4), a batch pattern that refills and drains the
// per-cpu lists, and bring-up of a 256 GiB two-node machine with the host
// bytes it costs per simulated 4 KiB frame.
#include <benchmark/benchmark.h>

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

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
