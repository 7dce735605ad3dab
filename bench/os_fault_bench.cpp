// Host speed of the simulated kernel's fault path (os/memory.cpp) alone, with a
// non-recording fake Platform: anonymous write faults (allocate, clear_page,
// PTE write; page tables built as they go), read faults mapping the zero page,
// write-protect faults replacing it, 2 MiB hugetlb faults, and the
// mmap + populate + munmap cycle, and THP faults (enabled=always) with the huge
// zero page and a PMD split. Issue 3's target: >= 1 M anonymous faults/s; issue
// 13's: >= 20 k THP faults/s.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "bench/bench_topology.h"
#include "os/kernel.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

Topology bench_topology() { return two_node_bench_topology("4GiB", "os_fault_bench.toml"); }

struct Machine {
  explicit Machine(std::uint64_t hugepages_per_node = 0, ThpEnabled thp = ThpEnabled::Madvise)
      : topo(bench_topology()) {
    plat.record = false;
    params.nr_hugepages_node = {hugepages_per_node, hugepages_per_node};
    params.thp.enabled = thp;
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

constexpr std::uint64_t kRegion = 1ull << 30;  // 262144 pages per round

// Fault every page of a fresh 1 GiB region; unmapping between rounds is not timed.
void run_faults(benchmark::State& state, unsigned flags, bool prefault_read) {
  Machine m;
  KernelCost cost;
  VirtAddr base = 0, addr = 0, end = 0;
  auto fresh = [&] {
    if (base) m.kernel->sys_munmap(m.task, base, kRegion, cost);
    base = static_cast<VirtAddr>(
        m.kernel->sys_mmap(m.task, 0, kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost));
    if (prefault_read)
      for (VirtAddr a = base; a < base + kRegion; a += kPageSize)
        m.kernel->handle_mm_fault(m.task, a, FAULT_FLAG_USER, cost);
    addr = base;
    end = base + kRegion;
  };
  fresh();
  for (auto _ : state) {
    if (addr == end) {
      state.PauseTiming();
      fresh();
      state.ResumeTiming();
    }
    auto r = m.kernel->handle_mm_fault(m.task, addr, flags, cost);
    benchmark::DoNotOptimize(r);
    addr += kPageSize;
  }
  state.counters["faults_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_AnonWriteFault(benchmark::State& state) { run_faults(state, FAULT_FLAG_WRITE | FAULT_FLAG_USER, false); }
BENCHMARK(BM_AnonWriteFault);

void BM_ZeroPageReadFault(benchmark::State& state) { run_faults(state, FAULT_FLAG_USER, false); }
BENCHMARK(BM_ZeroPageReadFault);

void BM_WriteProtectFaultOnZeroPage(benchmark::State& state) {
  run_faults(state, FAULT_FLAG_WRITE | FAULT_FLAG_USER, true);
}
BENCHMARK(BM_WriteProtectFaultOnZeroPage);

void BM_HugetlbFault(benchmark::State& state) {
  Machine m(512);  // 1 GiB of huge pages per node
  KernelCost cost;
  const std::uint64_t len = 1ull << 30;
  VirtAddr base = 0, addr = 0;
  auto fresh = [&] {
    if (base) m.kernel->sys_munmap(m.task, base, len, cost);
    base = static_cast<VirtAddr>(m.kernel->sys_mmap(m.task, 0, len, PROT_READ | PROT_WRITE,
                                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0, cost));
    addr = base;
  };
  fresh();
  for (auto _ : state) {
    if (addr == base + len) {
      state.PauseTiming();
      fresh();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(m.kernel->handle_mm_fault(m.task, addr, FAULT_FLAG_WRITE | FAULT_FLAG_USER, cost));
    addr += 2ull << 20;
  }
  state.counters["faults_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_HugetlbFault);

// mmap(MAP_POPULATE) of 64 pages then munmap: the whole life cycle per page.
void BM_MmapPopulateMunmap64(benchmark::State& state) {
  Machine m;
  KernelCost cost;
  for (auto _ : state) {
    long a = m.kernel->sys_mmap(m.task, 0, 64 * kPageSize, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, cost);
    m.kernel->sys_munmap(m.task, static_cast<VirtAddr>(a), 64 * kPageSize, cost);
  }
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 64), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MmapPopulateMunmap64);

// What hw::Mmu's walker does per TLB miss: four read_pte calls from CR3 down.
void BM_WalkerReadPte4Levels(benchmark::State& state) {
  Machine m;
  KernelCost cost;
  const std::uint64_t len = 64ull << 20;
  const VirtAddr base = static_cast<VirtAddr>(m.kernel->sys_mmap(
      m.task, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, cost));
  const PhysAddr cr3 = m.kernel->pgd_phys(*m.task->mm);
  VirtAddr va = base;
  for (auto _ : state) {
    PhysAddr table = cr3;
    std::uint64_t e = 0;
    for (int level = 4; level >= 1; --level) {
      e = m.kernel->read_pte(table + 8ull * level_index(va, level));
      table = pte_phys(e);
    }
    benchmark::DoNotOptimize(e);
    va += 7 * kPageSize;
    if (va >= base + len) va = base + (va - base) % len;
  }
  state.counters["walks_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WalkerReadPte4Levels);

// ---- transparent huge pages (os/huge_memory.cpp) with enabled=always. Issue 13's
// target: >= 20 k huge-page faults per host second. ----
constexpr VirtAddr kThpBase = 0x40000000ull;

// Fault every 2 MiB of a fresh 1 GiB region (write: order-9 allocation, one 2 MiB
// kernel_write, the PMD; read: the huge zero page); the remap between rounds is not timed.
void run_thp_faults(benchmark::State& state, unsigned flags) {
  Machine m(0, ThpEnabled::Always);
  KernelCost cost;
  VirtAddr addr = kThpBase + kRegion;
  for (auto _ : state) {
    if (addr >= kThpBase + kRegion) {
      state.PauseTiming();
      m.kernel->sys_munmap(m.task, kThpBase, kRegion, cost);
      m.kernel->sys_mmap(m.task, kThpBase, kRegion, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                         0, cost);
      addr = kThpBase;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(m.kernel->handle_mm_fault(m.task, addr, flags | FAULT_FLAG_USER, cost));
    addr += HPAGE_PMD_SIZE;
  }
  state.counters["faults_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
void BM_ThpWriteFault(benchmark::State& state) { run_thp_faults(state, FAULT_FLAG_WRITE); }
BENCHMARK(BM_ThpWriteFault);
void BM_ThpZeroPageFault(benchmark::State& state) { run_thp_faults(state, 0); }
BENCHMARK(BM_ThpZeroPageFault);

// A THP write fault, then a 4 KiB munmap inside it (the PMD split into 512 PTEs).
void BM_ThpFaultAndSplit(benchmark::State& state) {
  Machine m(0, ThpEnabled::Always);
  KernelCost cost;
  auto map = [&] {
    m.kernel->sys_mmap(m.task, kThpBase, HPAGE_PMD_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0, cost);
  };
  map();
  for (auto _ : state) {
    m.kernel->handle_mm_fault(m.task, kThpBase, FAULT_FLAG_WRITE | FAULT_FLAG_USER, cost);
    m.kernel->sys_munmap(m.task, kThpBase + kPageSize, kPageSize, cost);
    state.PauseTiming();
    m.kernel->sys_munmap(m.task, kThpBase, HPAGE_PMD_SIZE, cost);
    map();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_ThpFaultAndSplit);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
