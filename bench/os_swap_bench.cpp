// Host speed of the swap path alone (os/swapfile.cpp, swap_state.cpp,
// page_io.cpp) with a non-recording fake Platform: pages reclaimed through the
// reclaim <-> swap seam as shrink_folio_list drives it (add_to_swap,
// try_to_unmap, pageout, the write's completion timer, remove_swapcache_mapping)
// and read back by sequential faults (do_swap_page with readahead), on an NVMe
// area and on a zram area. Items: pages swapped out plus pages swapped in.
#include <benchmark/benchmark.h>

#include <memory>

#include "common/config.h"
#include "common/topology.h"
#include "bench/bench_topology.h"
#include "os/kernel.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"
#include "tests/os/lru_test_access.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

Topology bench_topology() { return two_node_bench_topology("1GiB", "os_swap_bench.toml"); }

constexpr int kPages = 16384;  // 64 MiB per round

void run_swap(benchmark::State& state, SwapDevice dev) {
  Topology topo = bench_topology();
  FakePlatform plat;
  plat.record = false;
  KernelParams params;
  SwapAreaParams area;
  area.name = dev == SwapDevice::Zram ? "/dev/zram0" : "/dev/nvme0n1p2";
  area.device = dev;
  area.size_bytes = 256ull << 20;
  params.swap.areas.push_back(area);
  Kernel k(topo, params, plat);
  CpuMask all;
  all.set();
  task_struct* t = k.create_task("bench", CpuId(0), all);
  KernelCost cost;
  const VirtAddr a = static_cast<VirtAddr>(
      k.sys_mmap(t, 0, kPages * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost));
  for (int i = 0; i < kPages; ++i) k.touch(t, a + i * kPageSize, true, cost);
  std::uint64_t pages = 0;
  for (auto _ : state) {
    for (int i = 0; i < kPages; ++i) {
      auto fr = k.follow_page(*t->mm, a + i * kPageSize);
      page* pg = fr->pg;
      LruTestAccess::isolate_lru_page(k, pg);  // isolate_lru_folios: off the LRU, with the reclaimer's reference
      get_page(pg);
      if (!pg->test(PG_swapcache)) k.add_to_swap(pg, t->cpu, cost);
      k.try_to_unmap(pg, t->cpu, cost);
      if (PageDirty(pg)) k.pageout(pg, t->cpu, cost);
      plat.advance_to(plat.clock + plat.bio_latency);
      if (!k.remove_swapcache_mapping(pg, 0, t->cpu, cost) && pg->_refcount > 1)
        k.lru_cache_add(pg, t->cpu);  // putback_lru_page: it stays
      k.physmem().free_pages(t->cpu, pg, 0, cost);
    }
    for (int i = 0; i < kPages; ++i) k.touch(t, a + i * kPageSize, true, cost);
    pages += 2 * kPages;
  }
  state.counters["swap_pages_per_s"] = benchmark::Counter(static_cast<double>(pages), benchmark::Counter::kIsRate);
}

void BM_SwapOutInNvme(benchmark::State& state) { run_swap(state, SwapDevice::Nvme); }
void BM_SwapOutInZram(benchmark::State& state) { run_swap(state, SwapDevice::Zram); }
BENCHMARK(BM_SwapOutInNvme)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SwapOutInZram)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
