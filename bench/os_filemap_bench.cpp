// The page cache in the OS layer (os/filemap.cpp, readahead.cpp): issue 12's
// targets. BM_PageCacheLookup: find_get_page hits over a cached 256 MiB file
// (>= 10 M 4 KiB page lookups per host second); BM_CachedPread4K: the whole
// pread64 system call for one cached 4 KiB page. BM_SequentialRead2GiB: a 2 GiB
// file read sequentially with 128 KiB read() calls through ondemand readahead,
// on a Platform whose bios are timed by hw::BlockDevice with its defaults (the
// default machine's NVMe drive: 80 us read latency, 3.2 GB/s, queue depth 32)
// and whose clock advances by each call's cost (2.1 GHz cycles + memory time):
// counter sim_GBps is the simulated throughput, bw_ratio its share of the
// device's read bandwidth; the argument is read_ahead_kb.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bench/bench_topology.h"
#include "common/config.h"
#include "common/topology.h"
#include "hw/block_device.h"
#include "os/kernel.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

// FakePlatform with the block device model and a clock the reader advances.
class BlockPlatform : public FakePlatform {
 public:
  BlockPlatform() : dev(hw::BlockDeviceParams{}, "nvme0") { record = false; }
  Picoseconds submit_bio(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) override {
    return dev.submit(op == BioOp::Read ? hw::BlockOp::Read : hw::BlockOp::Write, sector, len, now(cpu)).latency;
  }
  Picoseconds submit_bio_nowait(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) override {
    return submit_bio(cpu, op, sector, len);
  }
  Bytes block_capacity() const override { return dev.params().capacity; }
  hw::BlockDevice dev;
};

template <class P>
struct Machine {
  explicit Machine(std::uint64_t file_bytes, const char* mem, unsigned read_ahead_kb = 128)
      : topo(two_node_bench_topology(mem, "os_filemap_bench.toml")) {
    plat.record = false;
    params.fs.read_ahead_kb = read_ahead_kb;
    params.fs.files = {{"/data", file_bytes, 0, "bench"}};
    kernel = std::make_unique<Kernel>(topo, params, plat);
    CpuMask all;
    all.set();
    task = kernel->create_task("bench", CpuId(0), all);
    // read()'s user buffer (read() copies through the task's page tables,
    // os/uaccess.cpp): private anonymous memory, touched once (MAP_POPULATE).
    KernelCost c;
    buf = static_cast<VirtAddr>(kernel->sys_mmap(task, 0, kBuf, PROT_READ | PROT_WRITE,
                                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0, c));
  }
  // The whole of fd read in kBuf calls.
  void read_all(int fd, std::uint64_t bytes, KernelCost& cost) {
    for (std::uint64_t off = 0; off < bytes; off += kBuf) kernel->sys_read(task, fd, buf, kBuf, cost);
  }
  static constexpr std::uint64_t kBuf = 1ull << 20;
  VirtAddr buf = 0;
  Topology topo;
  P plat;
  KernelParams params;
  std::unique_ptr<Kernel> kernel;
  task_struct* task;
};

constexpr std::uint64_t kCached = 256ull << 20;

void BM_PageCacheLookup(benchmark::State& state) {
  Machine<FakePlatform> m(kCached, "2GiB");
  KernelCost cost;
  const long fd = m.kernel->sys_open(m.task, "/data", O_RDONLY, 0, cost);
  m.read_all(static_cast<int>(fd), kCached, cost);
  const inode& ino = *m.kernel->fs().lookup("/data");
  const std::uint64_t pages = kCached / kPageSize;
  std::uint64_t idx = 0, n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.kernel->fs().find_get_page(ino, idx));
    idx = (idx + 1) % pages;
    ++n;
  }
  state.counters["lookups_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PageCacheLookup);

void BM_CachedPread4K(benchmark::State& state) {
  Machine<FakePlatform> m(kCached, "2GiB");
  KernelCost cost;
  const int fd = static_cast<int>(m.kernel->sys_open(m.task, "/data", O_RDONLY, 0, cost));
  m.read_all(fd, kCached, cost);
  std::uint64_t off = 0, n = 0;
  for (auto _ : state) {
    KernelCost c;
    benchmark::DoNotOptimize(m.kernel->sys_pread64(m.task, fd, m.buf, 4096, static_cast<std::int64_t>(off), c));
    off = (off + 4096) % kCached;
    ++n;
  }
  state.counters["reads_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CachedPread4K);

void BM_SequentialRead2GiB(benchmark::State& state) {
  constexpr std::uint64_t kFile = 2ull << 30, kChunk = 128 * 1024;
  double gbps = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Machine<BlockPlatform> m(kFile, "4GiB", static_cast<unsigned>(state.range(0)));
    state.ResumeTiming();
    KernelCost cost;
    const int fd = static_cast<int>(m.kernel->sys_open(m.task, "/data", O_RDONLY, 0, cost));
    const Picoseconds start = m.plat.clock;
    for (std::uint64_t off = 0; off < kFile; off += kChunk) {
      KernelCost c;
      m.kernel->sys_read(m.task, fd, m.buf, kChunk, c);
      // The task's time: the call's cycles at 2.1 GHz plus its memory and I/O waits.
      m.plat.advance_to(m.plat.clock + c.memory + c.io_wait + Picoseconds(c.cycles.value() * 1000000 / 2100));
    }
    const double secs = static_cast<double>((m.plat.clock - start).value()) * 1e-12;
    gbps = static_cast<double>(kFile) / secs / 1e9;
    state.PauseTiming();
    m.kernel.reset();
    state.ResumeTiming();
  }
  state.counters["sim_GBps"] = gbps;
  state.counters["bw_ratio"] = gbps / 3.2;
}
// Arg: read_ahead_kb (128: Linux's default; 1024 for contrast).
BENCHMARK(BM_SequentialRead2GiB)->Arg(128)->Arg(1024)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace numasim::os

BENCHMARK_MAIN();
