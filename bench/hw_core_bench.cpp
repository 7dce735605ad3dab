// Simulated memory references per host second through hw::Core on the default
// machine in the default mode (1 us quantum): an L1- and TLB-hit dominated
// stream (loads and stores cycling over 16 KiB, every 8 ops a few compute
// cycles), and for contrast a stream of L1 misses. Counters: refs_per_s is
// simulated cache-line references per host second. The timed region starts at
// the stream's first batch: the MAP_POPULATE of its mapping (for the miss
// stream 32 MiB, 8192 page faults and their clears, more host time than the
// 500 k references) runs inside Machine::run() before it and is not timed
// (manual time: the host CPU time of the process during the stream alone).
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>
#include <string>

#include "common/config.h"
#include "hw/machine.h"
#include "os/syscalls.h"

namespace {

using namespace numasim;

// Host CPU time of this process, seconds (the simulation runs in one host thread).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A stream of simulated references over an anonymous mapping populated at
// start (MAP_POPULATE); remembers the host CPU time of its first batch.
class TimedSource : public hw::OpSource {
 public:
  explicit TimedSource(std::uint64_t span) : span_(span) {}
  void start(hw::ThreadContext& ctx) override {
    const long r = ctx.sys_mmap(0, span_, os::PROT_READ | os::PROT_WRITE,
                                os::MAP_PRIVATE | os::MAP_ANONYMOUS | os::MAP_POPULATE, -1, 0);
    base_ = r > 0 ? static_cast<VirtAddr>(r) : 0;
  }
  // After the last batch ran, before the task's exit.
  void finish(hw::ThreadContext&) override {
    if (!finished_) last_ = cpu_seconds();
    finished_ = true;
  }
  // When the first batch was asked for (after the populate), if it was.
  bool started() const { return started_; }
  double first_fill() const { return first_fill_; }
  // When the stream finished, if it did (a killed task does not).
  bool finished() const { return finished_; }
  double last() const { return last_; }

 protected:
  void mark_started() {
    if (started_) return;
    started_ = true;
    first_fill_ = cpu_seconds();
  }
  std::uint64_t span_;
  VirtAddr base_ = 0;

 private:
  bool started_ = false, finished_ = false;
  double first_fill_ = 0, last_ = 0;
};

class HitStream : public TimedSource {
 public:
  HitStream(std::uint64_t refs, std::uint64_t span) : TimedSource(span), left_(refs) {}
  std::size_t fill(hw::OpBatch& b, hw::ThreadContext&) override {
    mark_started();
    while (left_ && b.room() >= 2) {
      const VirtAddr a = base_ + off_;
      if ((left_ & 3) == 0) b.store(a);
      else b.load(a);
      off_ += 64;  // wraps without a division: the generator's own cost stays out of the figure
      if (off_ >= span_) off_ = 0;
      if ((left_ & 7) == 0) b.compute(2);
      --left_;
    }
    return b.size();
  }
  bool done() const override { return left_ == 0 || base_ == 0; }

 private:
  std::uint64_t left_, off_ = 0;
};

// GUPS updates: a load then a store of the same random word of the table.
class GupsUpdates : public TimedSource {
 public:
  GupsUpdates(std::uint64_t updates, std::uint64_t table) : TimedSource(table), left_(updates) {}
  std::size_t fill(hw::OpBatch& b, hw::ThreadContext&) override {
    mark_started();
    while (left_ && b.room() >= 3) {
      x_ ^= x_ << 13;  // xorshift64: the same table words on every run
      x_ ^= x_ >> 7;
      x_ ^= x_ << 17;
      const VirtAddr a = base_ + (x_ % (span_ / 8)) * 8;
      b.load(a);
      b.store(a);
      b.compute(1);
      --left_;
    }
    return b.size();
  }
  bool done() const override { return left_ == 0 || base_ == 0; }

 private:
  std::uint64_t left_, x_ = 0x9e3779b97f4a7c15ull;
};

// Runs the source `make()` returns on CPU 0 of configs/`config` (one machine
// per iteration) and reports its references per host CPU second from its
// first batch to its finish().
template <class Make>
void run_timed(benchmark::State& state, const char* config, Make make) {
  std::uint64_t total = 0;
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/" + config);
    auto m = std::make_unique<hw::Machine>(doc->root());
    auto source = make();
    const TimedSource* s = source.get();
    m->add_task("stream", std::move(source), CpuId(0));
    m->run();
    if (!s->started() || !s->finished()) {
      state.SkipWithError(s->started() ? "the stream was killed before its end" : "the stream never ran (mmap failed)");
      return;
    }
    const double end = s->last();
    state.SetIterationTime(end - s->first_fill());
    seconds += end - s->first_fill();
    // The core's own references (the populate's kernel clears are not ops).
    total += m->core(CpuId(0)).stats().line_accesses;
    m.reset();
    state.ResumeTiming();
  }
  state.counters["refs_per_s"] = benchmark::Counter(seconds > 0 ? static_cast<double>(total) / seconds : 0);
}

void run_stream(benchmark::State& state, std::uint64_t span) {
  const auto refs = static_cast<std::uint64_t>(state.range(0));
  run_timed(state, "default.toml", [&] { return std::make_unique<HitStream>(refs, span); });
}

void BM_Gups4GiB(benchmark::State& state) {
  const auto updates = static_cast<std::uint64_t>(state.range(0));
  run_timed(state, "skylake-sp-2s.toml", [&] { return std::make_unique<GupsUpdates>(updates, 4ull << 30); });
}

void BM_L1TlbHitStream(benchmark::State& state) { run_stream(state, 16 << 10); }
void BM_L1MissStream(benchmark::State& state) { run_stream(state, 32 << 20); }

BENCHMARK(BM_L1TlbHitStream)->Arg(20'000'000)->Unit(benchmark::kMillisecond)->Iterations(3)->UseManualTime();
BENCHMARK(BM_L1MissStream)->Arg(500'000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseManualTime();
BENCHMARK(BM_Gups4GiB)->Arg(500'000)->Unit(benchmark::kMillisecond)->Iterations(1)->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
