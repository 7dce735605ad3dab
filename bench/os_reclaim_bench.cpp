// Host speed of reclaim's LRU scanning in the OS layer alone (os/vmscan.cpp),
// with a non-recording fake Platform: 1 GiB of mapped anonymous pages on node
// 0, aged back and forth as kswapd ages them: shrink_inactive_list (isolate
// 32, folio_check_references through the reverse map with each PTE read and
// its accessed bit cleared, add_to_swap refused without swap space -> activate,
// putback) and shrink_active_list (isolate 32, page_referenced, deactivate,
// putback). A page scanned is one counted in pgscan_* or pgrefill. Issue 11's
// target: >= 5 M pages scanned per host second. Nothing is allocated per page.
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

Topology bench_topology() { return two_node_bench_topology("4GiB", "os_reclaim_bench.toml"); }

// A two-node machine with a non-recording platform and one task on CPU 0.
struct Machine {
  Machine() : topo(bench_topology()) {
    plat.record = false;
    kernel = std::make_unique<Kernel>(topo, params, plat);
    CpuMask all;
    all.set();
    task = kernel->create_task("bench", CpuId(0), all);
  }
  Topology topo;
  FakePlatform plat;
  KernelParams params;
  std::unique_ptr<Kernel> kernel;
  task_struct* task;
};

void BM_LruAgingScan(benchmark::State& state) {
  Machine m;
  Kernel* kernel = m.kernel.get();
  task_struct* task = m.task;
  KernelCost cost;
  const std::uint64_t len = 1ull << 30;
  kernel->sys_mmap(task, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, cost);
  kernel->lru_add_drain_all();
  PhysMem& pm = kernel->physmem();
  scan_control sc;
  sc.gfp_mask = GFP_KERNEL;
  sc.kswapd = true;
  const std::uint64_t scanned0 = pm.sum_vm_event(PGSCAN_KSWAPD) + pm.sum_vm_event(PGREFILL);
  for (auto _ : state) {
    // Inactive pages are activated (no swap), active ones deactivated: the lists
    // keep their sizes and every call scans 32 pages.
    LruTestAccess::shrink_inactive_list(*kernel, NodeId(0), SWAP_CLUSTER_MAX, sc, LRU_INACTIVE_ANON, CpuId(0), cost);
    LruTestAccess::shrink_active_list(*kernel, NodeId(0), SWAP_CLUSTER_MAX, sc, LRU_ACTIVE_ANON, CpuId(0), cost);
  }
  const std::uint64_t scanned = pm.sum_vm_event(PGSCAN_KSWAPD) + pm.sum_vm_event(PGREFILL) - scanned0;
  state.counters["pages_scanned_per_s"] =
      benchmark::Counter(static_cast<double>(scanned), benchmark::Counter::kIsRate);
  kernel->check_consistency();
}
BENCHMARK(BM_LruAgingScan)->Unit(benchmark::kMicrosecond);

// The lru_add path alone: a page added to the CPU's batch, every 15th drains.
void BM_LruAddAndFree(benchmark::State& state) {
  Machine m;
  Kernel* kernel = m.kernel.get();
  task_struct* task = m.task;
  KernelCost cost;
  for (auto _ : state) {
    long a = kernel->sys_mmap(task, 0, 64 * kPageSize, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, cost);
    kernel->sys_munmap(task, static_cast<VirtAddr>(a), 64 * kPageSize, cost);
  }
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 64), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LruAddAndFree);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
