// Host speed of the whole hardware fault path: a task on the default machine
// that writes one word to each page of a fresh anonymous mapping, so that
// every access takes a TLB miss, a page walk that finds no PTE, the simulated
// kernel's fault (allocation, a 4 KiB clear_page timed line by line through the
// caches and DRAM, the PTE write) and the walk again. For contrast, the same with
// the kernel's page clears streamed past the caches (platform.streaming_store_bytes
// = 4KiB: a different model, only to show what the cached clear costs the host).
// Counter faults_per_s: simulated page faults per host second (compare with
// os_fault_bench, the kernel alone with a platform that times nothing).
// DeferredResidue: the same with [cache] clear_residue = "deferred" (a cached
// clear records its page instead of installing 64 lines; approximate, within 2%).
// THP: the same stream one store per 2 MiB with os.thp.enabled = always (200
// faults on a fresh default machine, and 1800 on one machine with 4 GiB per
// node); BM_MachineBringUp times what every fresh machine costs before its run.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "common/config.h"
#include "hw/machine.h"
#include "os/kernel.h"
#include "os/syscalls.h"

namespace {

using namespace numasim;

// One store per `stride` bytes of a fresh anonymous mapping of `pages` strides
// (stride 2 MiB: the mapping is 2 MiB-aligned, so with THP enabled=always each
// store is a THP fault: an order-9 allocation and a 2 MiB clear).
class FaultStream : public hw::OpSource {
 public:
  FaultStream(std::uint64_t pages, std::uint64_t stride) : pages_(pages), stride_(stride) {}
  void start(hw::ThreadContext& ctx) override {
    const long r = ctx.sys_mmap(0, (pages_ + 1) * stride_, os::PROT_READ | os::PROT_WRITE,
                                os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    base_ = r > 0 ? (static_cast<VirtAddr>(r) + stride_ - 1) / stride_ * stride_ : 0;
  }
  std::size_t fill(hw::OpBatch& b, hw::ThreadContext&) override {
    while (next_ < pages_ && !b.full()) b.store(base_ + (next_++) * stride_);
    return b.size();
  }
  bool done() const override { return next_ >= pages_ || base_ == 0; }

 private:
  std::uint64_t pages_, stride_, next_ = 0;
  VirtAddr base_ = 0;
};

void run_faults(benchmark::State& state, const char* override_setting, std::uint64_t stride = kPageSize,
                const char* second_override = nullptr) {
  const std::uint64_t pages = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t faults = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/default.toml");
    if (override_setting) doc->apply_override(override_setting);
    if (second_override) doc->apply_override(second_override);
    auto m = std::make_unique<hw::Machine>(doc->root());
    hw::TaskRun* run = m->add_task("faults", std::make_unique<FaultStream>(pages, stride), CpuId(0));
    state.ResumeTiming();
    m->run();
    state.PauseTiming();
    if (run->killed) state.SkipWithError("the faulting task was killed");
    if (stride > kPageSize && m->kernel().physmem().sum_vm_event(os::THP_FAULT_ALLOC) != run->task->min_flt)
      state.SkipWithError("a THP fault fell back to 4 KiB pages");
    faults += run->task->min_flt;
    m.reset();
    state.ResumeTiming();
  }
  state.counters["faults_per_s"] = benchmark::Counter(static_cast<double>(faults), benchmark::Counter::kIsRate);
}

void BM_FaultEveryAccess(benchmark::State& state) { run_faults(state, nullptr); }
void BM_FaultEveryAccessStreamedClears(benchmark::State& state) {
  run_faults(state, "platform.streaming_store_bytes=4KiB");
}

void BM_FaultEveryAccessDeferredResidue(benchmark::State& state) {
  run_faults(state, "cache.clear_residue=deferred");
}

// The same with the kernel's transfers line by line (platform.kernel_transfers = "lines",
// the reference the bulk path is measured against: the same simulated figures).
void BM_FaultEveryAccessLineClears(benchmark::State& state) {
  run_faults(state, "platform.kernel_transfers=lines");
}
// THP faults (os.thp.enabled = always): each store of the stream is a 2 MiB fault
// whose clear_huge_page streams past the caches (platform.streaming_store_bytes).
void BM_ThpFaultEveryAccess(benchmark::State& state) {
  run_faults(state, "os.thp.enabled=always", 2ull << 20);
}
// The same on one machine with 4 GiB per node, 1800 THP faults (3.5 GiB): a
// fresh machine's one-time host costs (the first touches of the DRAM
// controllers' calendar buffers and of the memmap) spread over a longer run, as
// in a study that faults a whole table (numasim thp: 2048 THP faults).
void BM_ThpFaultEveryAccessBigNode(benchmark::State& state) {
  run_faults(state, "os.thp.enabled=always", 2ull << 20, "machine.memory_per_node=4GiB");
}

// Bring-up and tear-down of a machine (the host cost every run and every fresh
// machine of the benchmarks above pays once, outside their timed part):
// configuration, Machine construction (caches, snoop filter, DRAM, kernel boot),
// destruction. Arg 0: configs/default.toml, 1: configs/skylake-sp-2s.toml.
void BM_MachineBringUp(benchmark::State& state) {
  const char* file = state.range(0) == 0 ? "/configs/default.toml" : "/configs/skylake-sp-2s.toml";
  for (auto _ : state) {
    auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + file);
    auto m = std::make_unique<hw::Machine>(doc->root());
    benchmark::DoNotOptimize(m.get());
    m.reset();
  }
}

// 100k pages = 390 MiB of the default machine's 1 GiB node 0; 200 huge pages = 400 MiB.
BENCHMARK(BM_FaultEveryAccess)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_FaultEveryAccessDeferredResidue)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_FaultEveryAccessStreamedClears)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_FaultEveryAccessLineClears)->Arg(100'000)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_ThpFaultEveryAccess)->Arg(200)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_ThpFaultEveryAccessBigNode)->Arg(1800)->Unit(benchmark::kMillisecond)->Iterations(2);
BENCHMARK(BM_MachineBringUp)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
