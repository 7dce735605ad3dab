// Benchmark: configuration parsing and unit conversion (start-up cost, not hot path).
#include <benchmark/benchmark.h>

#include "common/config.h"

static void BM_ParseSize(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(numasim::parse_size("1.375MiB", nullptr));
}
BENCHMARK(BM_ParseSize);

BENCHMARK_MAIN();
