// Op-generation speed of the workload generators (ops per host second), with a
// null ThreadContext: what a generator costs the simulator per simulated
// reference, apart from the core and memory models.
#include <benchmark/benchmark.h>

#include <memory>

#include "hw/op.h"
#include "workloads/gups_workload.h"
#include "workloads/pointer_chase_workload.h"
#include "workloads/stream_workload.h"
#include "workloads/trace_format.h"
#include "workloads/trace_workload.h"
#include "workloads/zipf_workload.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
// Maps at increasing addresses, succeeds at everything, drops the ops.
class NullContext : public hw::ThreadContext {
 public:
  hw::OpBatch* batch = nullptr;
  VirtAddr next = 0x7f0000000000ull;
  CpuId cpu() const override { return CpuId(0); }
  NodeId node() const override { return NodeId(0); }
  int pid() const override { return 1; }
  Picoseconds now() override { return Picoseconds(0); }
  void flush() override {
    if (batch) batch->clear();
  }
  long sys_mmap(VirtAddr, std::uint64_t len, int, int, int, std::uint64_t) override {
    flush();
    VirtAddr a = next;
    next += (len + 4095) / 4096 * 4096 + 4096;
    return static_cast<long>(a);
  }
  long sys_munmap(VirtAddr, std::uint64_t) override { return 0; }
  long sys_mprotect(VirtAddr, std::uint64_t, int) override { return 0; }
  long sys_madvise(VirtAddr, std::uint64_t, int) override { return 0; }
  long sys_brk(VirtAddr) override { return 0; }
  long sys_mbind(VirtAddr, std::uint64_t, int, const unsigned long*, unsigned long, unsigned) override { return 0; }
  long sys_set_mempolicy(int, const unsigned long*, unsigned long) override { return 0; }
  long sys_get_mempolicy(int*, unsigned long*, unsigned long, VirtAddr, unsigned long) override { return 0; }
  long sys_move_pages(unsigned long, const VirtAddr*, const int*, int*, int) override { return 0; }
};

// Runs fresh sources until the state's iterations end; counts ops.
template <class Make>
void drive(benchmark::State& state, Make make) {
  NullContext ctx;
  hw::OpBatch batch;
  ctx.batch = &batch;
  std::unique_ptr<hw::OpSource> src = make();
  src->start(ctx);
  std::uint64_t ops = 0;
  for (auto _ : state) {
    if (src->done()) {
      src->finish(ctx);
      src = make();
      src->start(ctx);
    }
    batch.clear();
    ops += src->fill(batch, ctx);
    benchmark::DoNotOptimize(batch.begin());
  }
  state.counters["ops_per_s"] = benchmark::Counter(static_cast<double>(ops), benchmark::Counter::kIsRate);
}

ThreadInfo info() { return ThreadInfo{}; }
}  // namespace

static void BM_StreamTriad(benchmark::State& state) {
  StreamParams p;
  p.array_bytes = 64 << 20;
  p.init = false;
  drive(state, [&] { return std::make_unique<StreamSource>(info(), p); });
}
BENCHMARK(BM_StreamTriad);

static void BM_Gups(benchmark::State& state) {
  GupsParams p;
  p.table_bytes = 1ull << 30;
  p.updates = 1ull << 40;
  p.init = false;
  auto table = std::make_shared<SharedRegion>();
  table->bytes = p.table_bytes;
  drive(state, [&] { return std::make_unique<GupsSource>(info(), p, table); });
}
BENCHMARK(BM_Gups);

static void BM_PointerChaseRandom(benchmark::State& state) {
  PointerChaseParams p;
  p.footprint_bytes = 64 << 20;  // 1M elements: the ring is built once
  p.laps = 1000000;
  p.init = false;
  drive(state, [&] { return std::make_unique<PointerChaseSource>(info(), p); });
}
BENCHMARK(BM_PointerChaseRandom);

static void BM_Zipf(benchmark::State& state) {
  ZipfParams p;
  p.footprint_bytes = 1ull << 30;
  p.accesses = 1ull << 40;
  auto region = std::make_shared<SharedRegion>();
  region->bytes = p.footprint_bytes;
  drive(state, [&] { return std::make_unique<ZipfSource>(info(), p, region); });
}
BENCHMARK(BM_Zipf);

static void BM_TraceReplay(benchmark::State& state) {
  auto data = std::make_shared<TraceData>();
  // A Lackey-like mix: per 8 records 5 fetches, 2 loads (stack and heap), 1 store.
  for (std::uint64_t i = 0; i < 80000; ++i) {
    std::uint64_t k = i % 8;
    TraceKind kind = k < 5 ? TraceKind::Instr : k < 7 ? TraceKind::Load : TraceKind::Store;
    std::uint64_t addr = kind == TraceKind::Instr ? 0x401000 + i * 4 % 4096
                         : k == 5                 ? 0x1ffefff000 + (i * 8) % 2048
                                                  : 0x4a00000 + (i * 8) % (1 << 20);
    data->records.push_back({addr, kind == TraceKind::Instr ? 4u : 8u, kind});
  }
  data->compute_ranges(64 << 10);
  TraceParams p;
  p.loops = 1000000;
  std::shared_ptr<const TraceData> cdata = data;
  drive(state, [&] { return std::make_unique<TraceSource>(info(), p, cdata); });
}
BENCHMARK(BM_TraceReplay);

BENCHMARK_MAIN();
