// Host speed of page migration in the OS layer (os/migrate.cpp) with a
// non-recording fake Platform: bookkeeping alone (rmap walks, migration
// entries, batched TLB flushes, allocation and freeing, remap), the copy's
// timing being the platform's. Issue 14's target: >= 2 M pages per host
// second. Cases, each on a 1 GiB-per-node machine with 256 MiB written on node
// 0 (the set-up is not timed):
//  - BM_MovePages4K: move_pages of all 65536 pages to node 1 (batched
//    migrate_pages, one flush per batch);
//  - BM_MigratePagesSyscall: migrate_pages(2) of the process from node 0 to 1;
//  - BM_MovePagesThp: the same memory as 128 THPs moved whole (migrate_thp).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "bench/bench_topology.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr std::uint64_t kBytes = 256ull << 20;

struct Written {
  explicit Written(bool thp) : topo(two_node_bench_topology("1GiB", "os_migrate_bench.toml")) {
    plat.record = false;
    params.thp.enabled = thp ? ThpEnabled::Always : ThpEnabled::Never;
    kernel = std::make_unique<Kernel>(topo, params, plat);
    CpuMask all;
    all.set();
    task = kernel->create_task("bench", CpuId(0), all);
    KernelCost cost;
    base = static_cast<VirtAddr>(kernel->sys_mmap(task, 0, kBytes + (2ull << 20), PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost));
    base = (base + (2ull << 20) - 1) & ~((2ull << 20) - 1);
    for (VirtAddr va = base; va < base + kBytes; va += kPageSize) kernel->touch(task, va, true, cost);
    for (VirtAddr va = base; va < base + kBytes; va += kPageSize) addrs.push_back(va);
    nodes.assign(addrs.size(), 1);
    status.assign(addrs.size(), 0);
  }
  Topology topo;
  FakePlatform plat;
  KernelParams params;
  std::unique_ptr<Kernel> kernel;
  task_struct* task = nullptr;
  VirtAddr base = 0;
  std::vector<VirtAddr> addrs;
  std::vector<int> nodes, status;
};

// Times `move` (the migration) on a freshly written machine per iteration;
// rate: base pages migrated (pgmigrate_success) per host CPU second.
template <class Fn>
void run(benchmark::State& state, bool thp, Fn move) {
  std::uint64_t moved = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto m = std::make_unique<Written>(thp);
    KernelCost cost;
    state.ResumeTiming();
    move(*m, cost);
    state.PauseTiming();
    moved += m->kernel->physmem().sum_vm_event(PGMIGRATE_SUCCESS);
    m.reset();
    state.ResumeTiming();
  }
  state.counters["pages_per_s"] = benchmark::Counter(static_cast<double>(moved), benchmark::Counter::kIsRate);
}

void BM_MovePages4K(benchmark::State& state) {
  run(state, false, [](Written& m, KernelCost& cost) {
    m.kernel->sys_move_pages(m.task, 0, m.addrs.size(), m.addrs.data(), m.nodes.data(), m.status.data(),
                             MPOL_MF_MOVE, cost);
  });
}
BENCHMARK(BM_MovePages4K)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_MigratePagesSyscall(benchmark::State& state) {
  run(state, false, [](Written& m, KernelCost& cost) {
    const unsigned long from = 1, to = 2;
    m.kernel->sys_migrate_pages(m.task, 0, 3, &from, &to, cost);
  });
}
BENCHMARK(BM_MigratePagesSyscall)->Unit(benchmark::kMillisecond)->Iterations(5);

// One address per THP (the head's): each moves whole.
void BM_MovePagesThp(benchmark::State& state) {
  run(state, true, [](Written& m, KernelCost& cost) {
    std::vector<VirtAddr> heads;
    for (VirtAddr va = m.base; va < m.base + kBytes; va += 2ull << 20) heads.push_back(va);
    std::vector<int> nodes(heads.size(), 1), status(heads.size(), 0);
    m.kernel->sys_move_pages(m.task, 0, heads.size(), heads.data(), nodes.data(), status.data(), MPOL_MF_MOVE,
                             cost);
  });
}
BENCHMARK(BM_MovePagesThp)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
