// Host speed of memory compaction in the OS layer (os/compaction.cpp) with a
// non-recording fake Platform. Issue 13's target: >= 5 M pages scanned per host
// second. Two cases on a 1 GiB node fragmented as the memory_fragment workload
// does (900 MiB written, three pages of every four freed):
//  - BM_CompactNodeFragmented: compact_node (vm.compact_memory) of the node,
//    both scanners and every migration (rmap walk, migration entries, copy,
//    remap); pages_scanned counts the PFNs both scanners looked at.
//  - BM_MigrateScanPinned: the same node with every kept page pinned (an extra
//    reference), so nothing can move: the migrate scanner's walk alone.
// The fragmenting set-up is not timed.
#include <benchmark/benchmark.h>

#include <memory>

#include "common/config.h"
#include "common/topology.h"
#include "bench/bench_topology.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

Topology bench_topology() { return two_node_bench_topology("1GiB", "os_compaction_bench.toml"); }

constexpr std::uint64_t kFill = 900ull << 20;

struct Fragmented {
  explicit Fragmented(bool pin) : topo(bench_topology()) {
    plat.record = false;
    kernel = std::make_unique<Kernel>(topo, params, plat);
    CpuMask all;
    all.set();
    task = kernel->create_task("bench", CpuId(0), all);
    KernelCost cost;
    unsigned long mask = 1;
    kernel->sys_set_mempolicy(task, MPOL_BIND, &mask, 2, cost);
    base = static_cast<VirtAddr>(
        kernel->sys_mmap(task, 0, kFill, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost));
    for (VirtAddr va = base; va < base + kFill; va += kPageSize) kernel->touch(task, va, true, cost);
    for (VirtAddr va = base; va < base + kFill; va += 4 * kPageSize) {
      kernel->sys_madvise(task, va + kPageSize, 3 * kPageSize, MADV_DONTNEED, cost);
      if (pin) get_page(kernel->follow_page(*task->mm, va)->pg);
    }
    kernel->physmem().drain_all_pages(cost);
  }
  ~Fragmented() {
    if (pinned)
      for (VirtAddr va = base; va < base + kFill; va += 4 * kPageSize) --kernel->follow_page(*task->mm, va)->pg->_refcount;
  }
  Topology topo;
  FakePlatform plat;
  KernelParams params;
  std::unique_ptr<Kernel> kernel;
  task_struct* task = nullptr;
  VirtAddr base = 0;
  bool pinned = false;
};

void BM_CompactNodeFragmented(benchmark::State& state) {
  std::uint64_t scanned = 0, migrated = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto m = std::make_unique<Fragmented>(false);
    const std::uint64_t s0 = m->kernel->compaction().pages_scanned();
    const std::uint64_t g0 = m->kernel->physmem().sum_vm_event(PGMIGRATE_SUCCESS);
    KernelCost cost;
    state.ResumeTiming();
    m->kernel->compact_node(NodeId(0), CpuId(0), cost);
    state.PauseTiming();
    scanned += m->kernel->compaction().pages_scanned() - s0;
    migrated += m->kernel->physmem().sum_vm_event(PGMIGRATE_SUCCESS) - g0;
    m.reset();
    state.ResumeTiming();
  }
  state.counters["pages_scanned_per_s"] = benchmark::Counter(static_cast<double>(scanned), benchmark::Counter::kIsRate);
  state.counters["pages_migrated_per_s"] =
      benchmark::Counter(static_cast<double>(migrated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CompactNodeFragmented)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

void BM_MigrateScanPinned(benchmark::State& state) {
  Fragmented m(true);
  m.pinned = true;
  std::uint64_t scanned = 0;
  for (auto _ : state) {
    const std::uint64_t s0 = m.kernel->compaction().pages_scanned();
    KernelCost cost;
    m.kernel->compact_node(NodeId(0), CpuId(0), cost);
    scanned += m.kernel->compaction().pages_scanned() - s0;
  }
  if (m.kernel->physmem().sum_vm_event(PGMIGRATE_SUCCESS) != 0) state.SkipWithError("a pinned page moved");
  state.counters["pages_scanned_per_s"] = benchmark::Counter(static_cast<double>(scanned), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MigrateScanPinned)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
