// SLUB benchmarks: kmalloc+kfree pairs per second of 64-byte objects from one
// CPU (the per-CPU fast path; target >= 30 M/s), a batch pattern that goes
// through the slow paths (new slabs, partial lists, slab discard), remote
// frees, and the memory overhead per object (simulated bytes of slab memory
// and host bytes of SLUB's side metadata).
//   build-*/bench/os_slub_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "os/kmalloc.h"
#include "os/page_alloc.h"
#include "os/slub.h"
#include "tests/os/fake_platform.h"

namespace {

using namespace numasim;
using namespace numasim::os;

struct Machine {
  explicit Machine(bool charge_traffic = true) {
    platform.record = false;
    std::vector<NodeLayout> layout;
    for (int n = 0; n < 2; ++n) {
      NodeLayout l;
      l.id = NodeId(n);
      l.base = static_cast<PhysAddr>(n) << 30;
      l.memory = Bytes(1ull << 30);
      for (int c = 0; c < 4; ++c) l.cpus.push_back(CpuId(n * 4 + c));
      layout.push_back(l);
    }
    pm =
        std::make_unique<PhysMem>(layout, std::vector<std::vector<int>>{{10, 21}, {21, 10}}, PhysMemParams{}, platform);
    SlubParams sp;
    sp.charge_freelist_traffic = charge_traffic;
    slub = std::make_unique<Slub>(*pm, sp);
    km = std::make_unique<Kmalloc>(*slub);
  }
  testing::FakePlatform platform;
  std::unique_ptr<PhysMem> pm;
  std::unique_ptr<Slub> slub;
  std::unique_ptr<Kmalloc> km;
};

// kmalloc(64) + kfree from CPU 0: the fast path both ways.
void BM_KmallocKfree64(benchmark::State& state) {
  Machine m(state.range(0) != 0);
  KernelCost cost;
  for (auto _ : state) {
    PhysAddr a = m.km->kmalloc(CpuId(0), 64, GFP_KERNEL, cost);
    benchmark::DoNotOptimize(a);
    m.km->kfree(CpuId(0), a, cost);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["sim_cycles_per_pair"] = benchmark::Counter(double(cost.cycles.value()) / double(state.iterations()));
}
BENCHMARK(BM_KmallocKfree64)->Arg(1)->Arg(0)->ArgName("charge_traffic");

// 4096 allocations then 4096 frees: new slabs, CPU partial and node partial
// lists, empty slabs discarded beyond min_partial. Items = alloc+free pairs.
void BM_KmallocBatch64(benchmark::State& state) {
  Machine m;
  KernelCost cost;
  std::vector<PhysAddr> objs(4096);
  for (auto _ : state) {
    for (auto& a : objs) a = m.km->kmalloc(CpuId(0), 64, GFP_KERNEL, cost);
    for (auto a : objs) m.km->kfree(CpuId(0), a, cost);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(objs.size()));
}
BENCHMARK(BM_KmallocBatch64);

// Objects allocated on CPU 0 (node 0) and freed by CPU 4 (node 1): __slab_free.
void BM_RemoteFree64(benchmark::State& state) {
  Machine m;
  KernelCost cost;
  std::vector<PhysAddr> objs(1024);
  for (auto _ : state) {
    for (auto& a : objs) a = m.km->kmalloc(CpuId(0), 64, GFP_KERNEL, cost);
    for (auto a : objs) m.km->kfree(CpuId(4), a, cost);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(objs.size()));
}
BENCHMARK(BM_RemoteFree64);

// Memory overhead with 256K live kmalloc objects of the requested size:
// simulated slab bytes per object (size-class rounding plus slab leftover)
// over the requested size, and host bytes of SLUB metadata per object
// (ObjMeta + the slab record amortised).
void BM_Overhead(benchmark::State& state) {
  const std::size_t req = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    Machine m;
    KernelCost cost;
    const std::size_t n = 1 << 18;
    std::vector<PhysAddr> objs(n);
    for (auto& a : objs) a = m.km->kmalloc(CpuId(0), req, GFP_KERNEL, cost);
    std::int64_t slab_bytes = m.pm->global_node_page_state(NR_SLAB_UNRECLAIMABLE_B);
    kmem_cache* s = m.km->kmalloc_slab(req, GFP_KERNEL);
    double slabs = double(n) / s->oo.objects;
    state.counters["sim_bytes_per_obj"] = double(slab_bytes) / double(n);
    state.counters["sim_overhead_pct"] = 100.0 * (double(slab_bytes) / double(n) - double(req)) / double(req);
    state.counters["host_meta_bytes_per_obj"] = (double(n) * sizeof(Slab::ObjMeta) + slabs * sizeof(Slab)) / double(n);
    for (auto a : objs) m.km->kfree(CpuId(0), a, cost);
  }
}
BENCHMARK(BM_Overhead)
    ->Arg(64)
    ->Arg(100)
    ->Arg(700)
    ->Arg(3000)
    ->ArgName("bytes")
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
