// MLC-style timing studies on the simulated machine (see studies.h).
#include "studies/studies.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine.h"
#include "os/huge_memory.h"
#include "os/mempolicy.h"
#include "os/syscalls.h"
#include "workloads/rng.h"

namespace numasim::studies {

using namespace hw;

namespace {

constexpr std::uint64_t kHuge = 2ull << 20;
constexpr std::uint32_t kMarkStart = 1, kMarkEnd = 2;

// The chase order's generator: the workloads' splitmix64 sequence (identical on
// every platform), drawn modulo n.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() { return workloads::splitmix64(s); }
  std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
};

// Start barrier shared by the programs of one study cell: a program spins
// (compute ops) until every program of the cell has populated its buffer and
// its own clock has passed the latest arrival (the cores' clocks differ: one
// that mapped a large buffer is ahead in simulated time of one still spinning).
struct Barrier {
  int total = 0;
  int arrived = 0;
  Picoseconds release{0};

  void arrive(ThreadContext& ctx) {
    release = std::max(release, ctx.now());
    ++arrived;
  }
  // Appends a spin and returns true while `ctx` must still wait.
  bool wait(OpBatch& b, ThreadContext& ctx) const {
    if (arrived < total) {
      b.compute(2000);
      return true;
    }
    const Picoseconds now = ctx.now();
    if (now >= release) return false;
    b.compute(static_cast<std::uint32_t>(std::min<std::uint64_t>((release - now).value() / 200 + 1, 2000)));
    return true;
  }
};

std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

// Maps `bytes` of anonymous memory bound to `node` (MPOL_BIND through set_mempolicy, so
// that MAP_POPULATE allocates there), on hugetlb pages if asked. Returns the address or -errno.
long map_buffer(ThreadContext& ctx, int node, std::uint64_t bytes, bool huge) {
  if (node >= 0) {
    unsigned long mask[4] = {};
    mask[node / 64] |= 1ul << (node % 64);
    const long r = ctx.sys_set_mempolicy(os::MPOL_BIND, mask, 256);
    if (r < 0) return r;
  }
  int flags = os::MAP_PRIVATE | os::MAP_ANONYMOUS | os::MAP_POPULATE;
  if (huge) flags |= os::MAP_HUGETLB;
  return ctx.sys_mmap(0, bytes, os::PROT_READ | os::PROT_WRITE, flags, -1, 0);
}

// A dependent pointer chase: regions of `region_bytes` in a random cyclic order,
// `lines_per_region` random lines in each visited region.
class ChaseProgram : public OpSource {
 public:
  struct Params {
    int node = -1;
    std::uint64_t bytes = 0;      // chased working set
    std::uint64_t map_bytes = 0;  // mapping (>= bytes; 0: bytes)
    bool huge = false;
    std::uint64_t region_bytes = kPageSize;
    std::uint32_t lines_per_region = 1;
    bool fixed_line = false;  // one fixed random line per region (footprint: one line per region)
    std::uint64_t warmup = 0;
    std::uint64_t loads = 0;
    std::uint64_t seed = 1;
    Barrier* barrier = nullptr;
    bool* done_flag = nullptr;  // set when the measurement ends
  };
  explicit ChaseProgram(const Params& p) : p_(p), rng_{p.seed} {}

  std::string name() const override { return "chase"; }
  long error() const { return error_; }

  void start(ThreadContext& ctx) override {
    if (p_.map_bytes < p_.bytes) p_.map_bytes = p_.bytes;
    const long r = map_buffer(ctx, p_.node, p_.map_bytes, p_.huge);
    if (r < 0) {
      error_ = r;
      phase_ = Phase::Done;
      if (p_.barrier) p_.barrier->arrive(ctx);
      if (p_.done_flag) *p_.done_flag = true;
      return;
    }
    base_ = static_cast<VirtAddr>(r);
    const std::uint64_t regions = std::max<std::uint64_t>(1, p_.bytes / p_.region_bytes);
    order_.resize(regions);
    for (std::uint64_t i = 0; i < regions; ++i) order_[i] = static_cast<std::uint32_t>(i);
    for (std::uint64_t i = regions; i > 1; --i) std::swap(order_[i - 1], order_[rng_.below(i)]);
    lines_in_region_ = std::max<std::uint64_t>(1, std::min(p_.region_bytes, p_.bytes) / kCacheLineBytes);
    if (p_.fixed_line) {
      line_of_.resize(regions);
      for (auto& l : line_of_) l = static_cast<std::uint32_t>(rng_.below(lines_in_region_));
    }
    if (p_.barrier) p_.barrier->arrive(ctx);
  }

  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (phase_ == Phase::Barrier) {
      if (p_.barrier && p_.barrier->wait(b, ctx)) return b.size();
      phase_ = Phase::Warm;
    }
    while (!b.full() && phase_ != Phase::Done) {
      if (phase_ == Phase::Warm) {
        if (emitted_ >= p_.warmup) {
          b.marker(kMarkStart);
          phase_ = Phase::Measure;
          emitted_ = 0;
          continue;
        }
      } else if (emitted_ >= p_.loads) {
        b.marker(kMarkEnd);
        phase_ = Phase::Done;
        if (p_.done_flag) *p_.done_flag = true;
        break;
      }
      b.load(next_addr(), 8, /*dependent=*/true);
      ++emitted_;
    }
    return b.size();
  }
  bool done() const override { return phase_ == Phase::Done; }
  void finish(ThreadContext& ctx) override {
    if (base_) ctx.sys_munmap(base_, p_.map_bytes);
  }

 private:
  VirtAddr next_addr() {
    if (left_in_region_ == 0) {
      region_ = order_[pos_];
      pos_ = (pos_ + 1) % order_.size();
      left_in_region_ = p_.lines_per_region;
    }
    --left_in_region_;
    const std::uint64_t line = p_.fixed_line ? line_of_[region_] : rng_.below(lines_in_region_);
    return base_ + region_ * p_.region_bytes + line * kCacheLineBytes;
  }

  enum class Phase { Barrier, Warm, Measure, Done };
  Params p_;
  Rng rng_;
  long error_ = 0;
  VirtAddr base_ = 0;
  std::vector<std::uint32_t> order_;
  std::vector<std::uint32_t> line_of_;
  std::uint64_t lines_in_region_ = 1;
  std::uint64_t pos_ = 0, region_ = 0, left_in_region_ = 0, emitted_ = 0;
  Phase phase_ = Phase::Barrier;
};

// Independent sequential 64-byte reads over a buffer, `delay` compute cycles between
// them, for a fixed number of lines or until *stop is set.
class StreamProgram : public OpSource {
 public:
  struct Params {
    int node = -1;
    std::uint64_t bytes = 0;
    bool huge = false;
    std::uint64_t lines = 0;  // 0: until *stop
    std::uint32_t delay = 0;
    std::uint32_t reads = 1, writes = 0;  // per period: `reads` lines loaded, then `writes` stored
    // Lines of the mix run before arriving at the barrier (no delay, not
    // measured): with stores, enough to fill the caches with dirty lines, so
    // that every measured store's line is read and an older one written back.
    std::uint64_t warmup_lines = 0;
    Barrier* barrier = nullptr;
    const bool* stop = nullptr;
    bool* stop_all = nullptr;  // set when this program has measured its `lines`
  };
  explicit StreamProgram(const Params& p) : p_(p) {}
  std::string name() const override { return "stream"; }
  long error() const { return error_; }
  std::uint64_t measured_lines() const { return measured_; }
  // Memory traffic of the measured lines: 64 B per loaded line, 128 B per
  // stored one (its read for ownership and its write-back).
  std::uint64_t memory_bytes() const { return (measured_ + stored_) * kCacheLineBytes; }

  void start(ThreadContext& ctx) override {
    const long r = map_buffer(ctx, p_.node, p_.bytes, p_.huge);
    if (r < 0 || p_.warmup_lines == 0) {
      if (p_.barrier) p_.barrier->arrive(ctx);
    } else {
      phase_ = Phase::Warmup;
    }
    if (r < 0) {
      error_ = r;
      phase_ = Phase::Done;
      return;
    }
    base_ = static_cast<VirtAddr>(r);
  }

  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (phase_ == Phase::Warmup) {
      if (warmed_ < p_.warmup_lines) {
        for (std::uint64_t i = 0; i < 200 && warmed_ < p_.warmup_lines && b.room() >= 1; ++i, ++warmed_) emit(b);
        return b.size();
      }
      if (p_.barrier) p_.barrier->arrive(ctx);  // the warm-up's accesses have run
      phase_ = Phase::Barrier;
    }
    if (phase_ == Phase::Barrier) {
      if (p_.barrier && p_.barrier->wait(b, ctx)) return b.size();
      b.marker(kMarkStart);
      phase_ = Phase::Measure;
    }
    // Bound the simulated time of one batch so that a stop request is seen promptly.
    const std::uint64_t per_fill = std::clamp<std::uint64_t>(20000 / (std::uint64_t(p_.delay) + 1), 1, 200);
    for (std::uint64_t i = 0; i < per_fill && b.room() >= 3 && phase_ == Phase::Measure; ++i) {
      if ((p_.lines && measured_ >= p_.lines) || (p_.stop && *p_.stop)) {
        if (p_.stop_all && p_.lines && measured_ >= p_.lines) *p_.stop_all = true;
        b.marker(kMarkEnd);
        phase_ = Phase::Done;
        break;
      }
      stored_ += emit(b);
      ++measured_;
      if (p_.delay) b.compute(p_.delay);
    }
    return b.size();
  }
  bool done() const override { return phase_ == Phase::Done; }
  void finish(ThreadContext& ctx) override {
    if (base_) ctx.sys_munmap(base_, p_.huge ? round_up(p_.bytes, kHuge) : p_.bytes);
  }

 private:
  enum class Phase { Warmup, Barrier, Measure, Done };
  // The mix's next line (loaded or stored) at the buffer's next offset; returns 1 for a store.
  std::uint64_t emit(OpBatch& b) {
    const bool store = phase_in_period_ >= p_.reads;
    if (store) b.store(base_ + offset_);
    else b.load(base_ + offset_);
    if (++phase_in_period_ >= p_.reads + p_.writes) phase_in_period_ = 0;
    offset_ += kCacheLineBytes;
    if (offset_ >= p_.bytes) offset_ = 0;
    return store ? 1 : 0;
  }
  Params p_;
  long error_ = 0;
  VirtAddr base_ = 0;
  std::uint64_t offset_ = 0, measured_ = 0, stored_ = 0, warmed_ = 0;
  std::uint32_t phase_in_period_ = 0;
  Phase phase_ = Phase::Barrier;
};

struct Setup {
  Topology topo;
  MachineParams params;
  StudyQuantum quantum;  // the MLC-style studies' quantum and its source (read_study_setup only)
};

Setup read_setup(Config root) {
  Setup s{Topology::from_config(root), MachineParams::from_config(root), {}};
  root.document().check();
  return s;
}

// read_setup for the MLC-style studies: quantum 0 unless the configuration
// or --set gives one (study_quantum.h).
Setup read_study_setup(Config root) {
  Setup s = read_setup(root);
  s.quantum = study_quantum(root, s.params.quantum);
  s.params.quantum = s.quantum.quantum;
  return s;
}

// Makes sure node n's hugetlb pool holds at least pages[n] huge pages.
void reserve_hugepages(MachineParams& p, const std::vector<std::uint64_t>& pages) {
  auto& pool = p.kernel.nr_hugepages_node;
  if (pool.size() < pages.size()) pool.resize(pages.size(), 0);
  for (std::size_t n = 0; n < pages.size(); ++n) pool[n] = std::max(pool[n], pages[n]);
}

std::vector<int> cpu_nodes(const Topology& t) {
  std::vector<int> out;
  for (const auto& n : t.nodes())
    if (n.has_cpus()) out.push_back(n.id.value());
  return out;
}
std::vector<int> memory_nodes(const Topology& t) {
  std::vector<int> out;
  for (const auto& n : t.nodes())
    if (n.memory.value() > 0) out.push_back(n.id.value());
  return out;
}

[[noreturn]] void fail(const std::string& study, const std::string& what, long err) {
  throw std::runtime_error(study + ": " + what + " failed with errno " + std::to_string(-err) +
                           " (is the node's memory large enough for the study's buffers?)");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

double ns_per(Picoseconds t, std::uint64_t n) { return n ? static_cast<double>(t.value()) / 1000.0 / double(n) : 0; }
double gbps(std::uint64_t bytes, Picoseconds t) {
  return t.value() ? static_cast<double>(bytes) * 1000.0 / static_cast<double>(t.value()) : 0;
}

// Buffer that fits comfortably in a node: at most a quarter of its memory, in 2 MiB units.
std::uint64_t fit_buffer(const Topology& t, int node, std::uint64_t want) {
  const std::uint64_t cap = std::max<std::uint64_t>(kHuge, t.node(NodeId(node)).memory.value() / 4 / kHuge * kHuge);
  return std::min(round_up(want, kHuge), cap);
}

}  // namespace

std::string MatrixResult::to_json() const {
  const int digits = unit == "ns" ? 1 : 2;
  std::string out = "{\"unit\": \"" + unit + "\", \"matrix\": [";
  for (std::size_t i = 0; i < matrix.size(); ++i) {
    out += i ? ", [" : "[";
    for (std::size_t j = 0; j < matrix[i].size(); ++j) out += (j ? ", " : "") + fmt(matrix[i][j], digits);
    out += "]";
  }
  return out + "], " + quantum.json_fields() + "}\n";
}

std::string MatrixResult::to_table() const {
  const int digits = unit == "ns" ? 1 : 2;
  std::string out = !title.empty()   ? title + "\n"
                    : unit == "ns"     ? "Idle latencies (ns) for a dependent random pointer chase\n"
                                       : "Read bandwidth (GB/s) of all CPUs of a node\n";
  out += "                Numa node\nNuma node";
  for (int m : memory_nodes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%10d", m);
    out += buf;
  }
  out += "\n";
  for (std::size_t i = 0; i < matrix.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%9d", cpu_nodes[i]);
    out += buf;
    for (double v : matrix[i]) {
      std::snprintf(buf, sizeof buf, "%10.*f", digits, v);
      out += buf;
    }
    out += "\n";
  }
  return out + "(" + quantum.describe() + ")\n";
}

std::string LoadedLatencyResult::to_json() const {
  std::string out = "{\"mix\": \"" + mix + "\", \"whole_system\": " + (whole_system ? "true" : "false") +
                    ", \"traffic_cpus\": " + std::to_string(traffic_cpus) + ", \"traffic_nodes\": [";
  for (std::size_t i = 0; i < traffic_nodes.size(); ++i) out += (i ? ", " : "") + std::to_string(traffic_nodes[i]);
  out += "], \"points\": [";
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    out += (i ? ", " : "") + std::string("{\"delay\": ") +
           (p.delay_cycles == ~0u ? std::string("null") : std::to_string(p.delay_cycles)) +
           ", \"bandwidth_gbps\": " + fmt(p.bandwidth_gbps, 2) + ", \"latency_ns\": " + fmt(p.latency_ns, 1) +
           ", \"node_bandwidth_gbps\": [";
    for (std::size_t j = 0; j < p.node_bandwidth_gbps.size(); ++j)
      out += (j ? ", " : "") + fmt(p.node_bandwidth_gbps[j], 2);
    out += "]}";
  }
  return out + "], " + quantum.json_fields() + "}\n";
}

std::string LoadedLatencyResult::to_table() const {
  std::string out = "Inject  Latency  Bandwidth\nDelay   (ns)     (GB/s)\n";
  for (const auto& p : points) {
    char buf[96];
    if (p.delay_cycles == ~0u) std::snprintf(buf, sizeof buf, "%-7s %7.1f %9.2f\n", "idle", p.latency_ns, p.bandwidth_gbps);
    else std::snprintf(buf, sizeof buf, "%-7u %7.1f %9.2f\n", p.delay_cycles, p.latency_ns, p.bandwidth_gbps);
    out += buf;
  }
  return out + "(" + quantum.describe() + ")\n";
}

std::string TlbReachResult::to_json() const {
  std::string out = "{\"page_size\": \"" + page_size + "\", \"points\": [";
  for (std::size_t i = 0; i < points.size(); ++i)
    out += (i ? ", " : "") + std::string("{\"working_set_bytes\": ") + std::to_string(points[i].working_set_bytes) +
           ", \"latency_ns\": " + fmt(points[i].latency_ns, 2) + "}";
  return out + "]}\n";
}

std::string TlbReachResult::to_table() const {
  std::string out = "Pointer-chase latency by working set (" + page_size + " pages)\nWorking set     Latency (ns)\n";
  for (const auto& p : points) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%-15s %12.2f\n", format_size(Bytes(p.working_set_bytes)).c_str(), p.latency_ns);
    out += buf;
  }
  return out;
}

MatrixResult latency_matrix(Config root, const LatencyMatrixOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Setup s = read_study_setup(root);
  MatrixResult res;
  res.unit = "ns";
  res.cpu_nodes = cpu_nodes(s.topo);
  res.memory_nodes = memory_nodes(s.topo);
  res.quantum = s.quantum;
  std::vector<std::uint64_t> bytes(static_cast<std::size_t>(s.topo.num_nodes()), 0), pages(bytes.size(), 0);
  for (int m : res.memory_nodes) {
    bytes[m] = opts.hugepages ? fit_buffer(s.topo, m, opts.buffer.value()) : opts.buffer.value();
    if (opts.hugepages) pages[m] = bytes[m] / kHuge;
  }
  reserve_hugepages(s.params, pages);
  const std::uint64_t seed = s.params.seed;
  Machine m(std::move(s.topo), s.params);
  for (int r : res.cpu_nodes) {
    res.matrix.emplace_back();
    for (int c : res.memory_nodes) {
      ChaseProgram::Params cp;
      cp.node = c;
      cp.bytes = bytes[c];
      cp.huge = opts.hugepages;
      cp.region_bytes = kHuge;
      cp.lines_per_region = opts.lines_per_region;
      cp.warmup = opts.warmup_loads;
      cp.loads = opts.loads;
      cp.seed = seed * 7919 + static_cast<std::uint64_t>(r) * 131 + static_cast<std::uint64_t>(c);
      auto prog = std::make_unique<ChaseProgram>(cp);
      ChaseProgram* raw = prog.get();
      TaskRun* run = m.add_task("latency-n" + std::to_string(r) + "-m" + std::to_string(c), std::move(prog),
                                m.first_cpu(NodeId(r)));
      m.run();
      if (raw->error()) fail("latency-matrix", "mapping the buffer on node " + std::to_string(c), raw->error());
      res.matrix.back().push_back(ns_per(run->marker_interval(kMarkStart, kMarkEnd), opts.loads));
    }
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

MatrixResult bandwidth_matrix(Config root, const BandwidthMatrixOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Setup s = read_study_setup(root);
  MatrixResult res;
  res.unit = "GB/s";
  res.cpu_nodes = cpu_nodes(s.topo);
  res.memory_nodes = memory_nodes(s.topo);
  res.quantum = s.quantum;
  std::size_t max_cpus = 1;
  for (int r : res.cpu_nodes) max_cpus = std::max(max_cpus, s.topo.node(NodeId(r)).cpus.size());
  std::vector<std::uint64_t> bytes(static_cast<std::size_t>(s.topo.num_nodes()), 0), pages(bytes.size(), 0);
  for (int m : res.memory_nodes) {
    const std::uint64_t per = fit_buffer(s.topo, m, opts.buffer_per_cpu.value() * max_cpus) / max_cpus / kHuge * kHuge;
    bytes[m] = std::max(kHuge, per);
    if (opts.hugepages) pages[m] = bytes[m] / kHuge * max_cpus;
  }
  reserve_hugepages(s.params, pages);
  Machine m(std::move(s.topo), s.params);
  for (int r : res.cpu_nodes) {
    res.matrix.emplace_back();
    const auto& cpus = m.topology().node(NodeId(r)).cpus;
    for (int c : res.memory_nodes) {
      Barrier barrier{static_cast<int>(cpus.size()), 0};
      // Like MLC, measure while every CPU streams: the first CPU to finish its
      // lines stops the others, so unfair arbitration leaves no tail with fewer streams.
      bool stop = false;
      std::vector<std::pair<StreamProgram*, TaskRun*>> progs;
      for (CpuId cpu : cpus) {
        StreamProgram::Params sp;
        sp.node = c;
        sp.bytes = bytes[c];
        sp.huge = opts.hugepages;
        sp.lines = opts.lines_per_cpu;
        sp.barrier = &barrier;
        sp.stop = &stop;
        sp.stop_all = &stop;
        auto prog = std::make_unique<StreamProgram>(sp);
        StreamProgram* raw = prog.get();
        progs.push_back({raw, m.add_task("stream-cpu" + std::to_string(cpu.value()), std::move(prog), cpu)});
      }
      m.run();
      Picoseconds first(~0ull), last(0);
      std::uint64_t total = 0;
      for (auto [prog, run] : progs) {
        if (prog->error()) fail("bandwidth-matrix", "mapping a buffer on node " + std::to_string(c), prog->error());
        for (const auto& [id, t] : run->markers) {
          if (id == kMarkStart) first = std::min(first, t);
          if (id == kMarkEnd) last = std::max(last, t);
        }
        total += prog->measured_lines() * kCacheLineBytes;
      }
      res.matrix.back().push_back(last > first ? gbps(total, last - first) : 0.0);
    }
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

MatrixResult c2c_latency(Config root, const C2cOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Setup s = read_study_setup(root);
  MatrixResult res;
  res.unit = "ns";
  res.cpu_nodes = cpu_nodes(s.topo);
  res.memory_nodes = res.cpu_nodes;  // columns: the writer's node
  res.title = "Modified-line transfer (HITM) latency (ns): rows the reader's node, columns the writer's";
  res.quantum = s.quantum;
  Machine m(std::move(s.topo), s.params);
  MemorySystem& ms = m.memory();
  const std::uint64_t stride = kPageSize;  // a line per page: spread over the cache sets
  const std::uint64_t region = std::max<std::uint64_t>(opts.lines, 1) * stride;
  Picoseconds t(0);
  std::uint64_t cell = 0;
  for (int r : res.cpu_nodes) {
    res.matrix.emplace_back();
    for (int w : res.memory_nodes) {
      const auto& wcpus = m.topology().node(NodeId(w)).cpus;
      const auto& rcpus = m.topology().node(NodeId(r)).cpus;
      const CpuId writer = wcpus.front();
      if (r == w && rcpus.size() < 2) {
        res.matrix.back().push_back(0.0);
        continue;
      }
      const CpuId reader = r == w ? rcpus[1] : rcpus.front();
      const NodeDesc& home = m.topology().node(NodeId(w));
      if (home.memory.value() < 2 * region)
        throw std::runtime_error("c2c-latency: node " + std::to_string(w) + " has too little memory for " +
                                 std::to_string(opts.lines) + " lines a page apart");
      // A fresh region per cell, so that no cell finds another's lines cached.
      const std::uint64_t slots = home.memory.value() / region;
      const PhysAddr base = home.base + (cell++ % slots) * region;
      Picoseconds sum(0);
      for (std::uint32_t i = 0; i < opts.lines; ++i) {
        const PhysAddr line = base + i * stride;
        t += ms.access(writer, line, true, t);
        t += Picoseconds(100'000);  // let the write settle (and the link drain)
        const Picoseconds lat = ms.access(reader, line, false, t);
        sum += lat;
        t += lat;
      }
      res.matrix.back().push_back(ns_per(sum, opts.lines));
    }
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

bool parse_mlc_mix(const std::string& name, TrafficMix* out) {
  static const TrafficMix kMixes[] = {{"R", 1, 0}, {"W2", 2, 1}, {"W3", 3, 1}, {"W5", 1, 1}};
  for (const TrafficMix& m : kMixes)
    if (m.name == name) {
      *out = m;
      return true;
    }
  return false;
}

TrafficMix mess_mix(int read_percent) {
  if (read_percent < 50 || read_percent > 100)
    throw std::invalid_argument("read ratio " + std::to_string(read_percent) + "% outside 50..100");
  // Memory reads (r + w) over memory traffic (r + 2w) = R/100: r : w = (2R - 100) : (100 - R).
  std::uint32_t r = static_cast<std::uint32_t>(2 * read_percent - 100), w = static_cast<std::uint32_t>(100 - read_percent);
  const std::uint32_t g = std::gcd(r, w);
  return TrafficMix{std::to_string(read_percent) + "%read", r / g, w / g};
}

namespace {

// One loaded-latency curve on a fresh machine built from `s`.
LoadedLatencyResult run_loaded_latency(Setup s, const LoadedLatencyOptions& opts, const char* study) {
  if (opts.mix.reads + opts.mix.writes == 0) throw std::invalid_argument(std::string(study) + ": empty traffic mix");
  const std::vector<int> cnodes = cpu_nodes(s.topo);
  if (cnodes.empty()) throw std::runtime_error(std::string(study) + ": the machine has no CPU");
  const int node = cnodes.front();
  const CpuId chase_cpu = s.topo.node(NodeId(node)).cpus.front();
  // Injectors: (cpu, node whose memory it streams) - node 0's other CPUs, or every CPU of every node.
  std::vector<std::pair<CpuId, int>> traffic;
  for (int n : cnodes) {
    if (n != node && !opts.whole_system) continue;
    for (CpuId c : s.topo.node(NodeId(n)).cpus)
      if (c != chase_cpu) traffic.push_back({c, n});
  }
  if (opts.traffic_cpus >= 0 && static_cast<std::size_t>(opts.traffic_cpus) < traffic.size())
    traffic.resize(static_cast<std::size_t>(opts.traffic_cpus));
  LoadedLatencyResult res;
  res.mix = opts.mix.name;
  res.whole_system = opts.whole_system;
  res.traffic_cpus = static_cast<std::uint32_t>(traffic.size());
  res.quantum = s.quantum;
  for (const auto& [c, n] : traffic)
    if (std::find(res.traffic_nodes.begin(), res.traffic_nodes.end(), n) == res.traffic_nodes.end())
      res.traffic_nodes.push_back(n);
  std::vector<std::size_t> on_node(static_cast<std::size_t>(s.topo.num_nodes()), 0);
  for (const auto& [c, n] : traffic) ++on_node[n];
  ++on_node[node];  // the latency buffer
  const std::uint64_t lat_bytes = fit_buffer(s.topo, node, opts.latency_buffer.value());
  std::uint64_t per_cpu = round_up(opts.traffic_buffer_per_cpu.value(), kHuge);
  for (int n : res.traffic_nodes)
    per_cpu = std::min(per_cpu, fit_buffer(s.topo, n, opts.traffic_buffer_per_cpu.value() * on_node[n]) /
                                    on_node[n] / kHuge * kHuge);
  per_cpu = std::max(kHuge, per_cpu);
  std::vector<std::uint64_t> pages(static_cast<std::size_t>(s.topo.num_nodes()), 0);
  pages[node] = lat_bytes / kHuge;
  for (const auto& [c, n] : traffic) pages[n] += per_cpu / kHuge;
  reserve_hugepages(s.params, pages);
  // Stores: each injector first runs its mix over twice its share of the
  // caches (L1D, L2 and its share of its socket's LLC among the injectors
  // there), so that the
  // measured stores meet caches full of dirty lines, each store's line read
  // for ownership and an older one written back (in a shorter run the
  // write-backs would mostly fall after the measurement: issue 16's Mess
  // curves rising as writes grow). Only where the buffer is larger than
  // that: a smaller one would then be served from the caches (its first pass
  // is what reaches memory).
  std::vector<std::uint64_t> injectors_on_socket(static_cast<std::size_t>(s.topo.num_sockets()), 0);
  for (const auto& [c, n] : traffic) ++injectors_on_socket[static_cast<std::size_t>(s.topo.cpu_socket(c))];
  std::vector<std::uint64_t> warm_bytes;  // by injector
  for (const auto& [cpu, n] : traffic) {
    const auto& c = s.params.memory.caches;
    const std::uint64_t sharing = injectors_on_socket[static_cast<std::size_t>(s.topo.cpu_socket(cpu))];
    warm_bytes.push_back(2 * (c.l1d.size.value() + c.l2.size.value() + c.llc.size.value() / sharing));
  }
  const std::uint64_t seed = s.params.seed;
  Machine m(std::move(s.topo), s.params);

  std::vector<std::uint32_t> delays = {~0u};  // idle first
  delays.insert(delays.end(), opts.delays.begin(), opts.delays.end());
  for (std::uint32_t delay : delays) {
    const bool idle = delay == ~0u;
    bool chase_done = false;
    Barrier barrier{1 + (idle ? 0 : static_cast<int>(traffic.size())), 0};
    ChaseProgram::Params cp;
    cp.node = node;
    cp.bytes = lat_bytes;
    cp.huge = true;
    cp.region_bytes = kHuge;
    cp.lines_per_region = 32;
    cp.warmup = opts.warmup_loads;
    cp.loads = opts.loads;
    cp.seed = seed * 104729;  // the same chase at every load level
    cp.barrier = &barrier;
    cp.done_flag = &chase_done;
    auto chase = std::make_unique<ChaseProgram>(cp);
    ChaseProgram* chase_raw = chase.get();
    TaskRun* chase_run = m.add_task("loaded-latency", std::move(chase), chase_cpu);
    std::vector<std::pair<StreamProgram*, TaskRun*>> injectors;
    if (!idle) {
      for (std::size_t i = 0; i < traffic.size(); ++i) {
        const auto& [cpu, n] = traffic[i];
        StreamProgram::Params sp;
        sp.node = n;
        sp.bytes = per_cpu;
        sp.huge = true;
        sp.delay = delay;
        sp.reads = opts.mix.reads;
        sp.writes = opts.mix.writes;
        if (opts.mix.writes > 0 && per_cpu > warm_bytes[i]) sp.warmup_lines = warm_bytes[i] / kCacheLineBytes;
        sp.barrier = &barrier;
        sp.stop = &chase_done;
        auto prog = std::make_unique<StreamProgram>(sp);
        StreamProgram* raw = prog.get();
        injectors.push_back({raw, m.add_task("inject-cpu" + std::to_string(cpu.value()), std::move(prog), cpu)});
      }
    }
    m.run();
    if (chase_raw->error()) fail(study, "mapping the latency buffer", chase_raw->error());
    const Picoseconds chase_time = chase_run->marker_interval(kMarkStart, kMarkEnd);
    LoadedLatencyResult::Point p;
    p.delay_cycles = delay;
    p.latency_ns = ns_per(chase_time, opts.loads);
    p.bandwidth_gbps = gbps(opts.loads * kCacheLineBytes, chase_time);
    p.node_bandwidth_gbps.assign(res.traffic_nodes.size(), 0.0);
    for (std::size_t i = 0; i < injectors.size(); ++i) {
      auto [prog, run] = injectors[i];
      if (prog->error()) fail(study, "mapping a traffic buffer", prog->error());
      const double bw = gbps(prog->memory_bytes(), run->marker_interval(kMarkStart, kMarkEnd));
      p.bandwidth_gbps += bw;
      const auto at = std::find(res.traffic_nodes.begin(), res.traffic_nodes.end(), traffic[i].second);
      p.node_bandwidth_gbps[static_cast<std::size_t>(at - res.traffic_nodes.begin())] += bw;
    }
    res.points.push_back(p);
  }
  std::stable_sort(res.points.begin(), res.points.end(),
                   [](const auto& a, const auto& b) { return a.bandwidth_gbps < b.bandwidth_gbps; });
  return res;
}

}  // namespace

LoadedLatencyResult loaded_latency(Config root, const LoadedLatencyOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  LoadedLatencyResult res = run_loaded_latency(read_study_setup(root), opts, "loaded-latency");
  res.host_seconds = seconds_since(t0);
  return res;
}

MessCurvesResult mess_curves(Config root, const std::vector<int>& read_percents, const LoadedLatencyOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  if (read_percents.empty()) throw std::invalid_argument("mess-curves: no read ratio");
  std::vector<TrafficMix> mixes;
  for (int r : read_percents) mixes.push_back(mess_mix(r));  // validates every ratio before simulating
  const Setup s = read_study_setup(root);
  MessCurvesResult res;
  res.read_percents = read_percents;
  res.quantum = s.quantum;
  for (const TrafficMix& mix : mixes) {
    LoadedLatencyOptions o = opts;
    o.mix = mix;
    res.curves.push_back(run_loaded_latency(s, o, "mess-curves"));
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

std::string MessCurvesResult::to_json() const {
  std::string out = "{\"curves\": [";
  for (std::size_t i = 0; i < curves.size(); ++i) {
    std::string c = curves[i].to_json();
    while (!c.empty() && (c.back() == '\n' || c.back() == '}')) c.pop_back();
    out += (i ? ", " : "") + std::string("{\"read_percent\": ") + std::to_string(read_percents[i]) + ", " + c.substr(1) + "}";
  }
  return out + "], " + quantum.json_fields() + "}\n";
}

std::string MessCurvesResult::to_csv() const {
  std::string out = "read_percent,delay,bandwidth_gbps,latency_ns\n";
  for (std::size_t i = 0; i < curves.size(); ++i)
    for (const auto& p : curves[i].points)
      out += std::to_string(read_percents[i]) + "," + (p.delay_cycles == ~0u ? "" : std::to_string(p.delay_cycles)) +
             "," + fmt(p.bandwidth_gbps, 2) + "," + fmt(p.latency_ns, 1) + "\n";
  return out;
}

std::string MessCurvesResult::to_table() const {
  std::string out;
  for (std::size_t i = 0; i < curves.size(); ++i)
    out += (i ? "\n" : "") + std::to_string(read_percents[i]) + "% reads (" + curves[i].mix + ")\n" + curves[i].to_table();
  return out;
}

TlbReachResult tlb_reach(Config root, const TlbReachOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Setup s = read_setup(root);
  const std::vector<int> cnodes = cpu_nodes(s.topo);
  if (cnodes.empty()) throw std::runtime_error("tlb-reach: the machine has no CPU");
  const int node = cnodes.front();
  // Largest working set that leaves the node half its memory.
  const std::uint64_t cap = s.topo.node(NodeId(node)).memory.value() / 2 / kHuge * kHuge;
  const std::uint64_t max_ws = std::min(opts.max_working_set.value(), cap);
  if (opts.min_working_set.value() < kPageSize || opts.min_working_set.value() > max_ws)
    throw std::runtime_error("tlb-reach: working sets from " + format_size(opts.min_working_set) + " to " +
                             format_size(Bytes(max_ws)) + " are not a valid range");
  if (opts.huge_pages) {
    std::vector<std::uint64_t> pages(static_cast<std::size_t>(s.topo.num_nodes()), 0);
    pages[node] = round_up(max_ws, kHuge) / kHuge;
    reserve_hugepages(s.params, pages);
  }
  const std::uint64_t seed = s.params.seed;
  Machine m(std::move(s.topo), s.params);
  TlbReachResult res;
  res.page_size = opts.huge_pages ? "2M" : "4K";
  for (std::uint64_t ws = opts.min_working_set.value(); ws <= max_ws; ws *= 2) {
    ChaseProgram::Params cp;
    cp.node = node;
    cp.bytes = ws;
    cp.map_bytes = opts.huge_pages ? round_up(ws, kHuge) : ws;
    cp.huge = opts.huge_pages;
    cp.region_bytes = kPageSize;
    cp.lines_per_region = 1;
    cp.fixed_line = true;
    const std::uint64_t regions = ws / kPageSize;
    cp.warmup = std::min(opts.max_warmup_loads, std::max<std::uint64_t>(regions * 2, 256));
    cp.loads = opts.loads;
    cp.seed = seed * 15485863 + ws;
    auto prog = std::make_unique<ChaseProgram>(cp);
    ChaseProgram* raw = prog.get();
    TaskRun* run = m.add_task("tlb-reach-" + format_size(Bytes(ws)), std::move(prog), m.first_cpu(NodeId(node)));
    m.run();
    if (raw->error()) fail("tlb-reach", "mapping the working set", raw->error());
    res.points.push_back({ws, ns_per(run->marker_interval(kMarkStart, kMarkEnd), opts.loads)});
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

// ---------------------------------------------------------------------------
// thp: GUPS under each transparent_hugepage/enabled mode.
// ---------------------------------------------------------------------------

namespace {

// The figures a GupsThpProgram reads from the hardware at its phase changes.
struct ThpSnapshot {
  std::uint64_t stlb_misses = 0, walk_ps = 0, faults = 0, fault_ps = 0;
};

class GupsThpProgram : public OpSource {
 public:
  struct Params {
    int node = -1;
    std::uint64_t bytes = 0;
    std::uint64_t warmup = 0, updates = 0;
    std::uint64_t seed = 1;
    bool madvise = false;
    Machine* machine = nullptr;
    CpuId cpu{0};
  };
  explicit GupsThpProgram(const Params& p) : p_(p), rng_{p.seed} {}
  std::string name() const override { return "gups-thp"; }
  long error() const { return error_; }
  ThpSnapshot at_start, at_measure, at_end;
  std::uint64_t anon_bytes = 0, anon_huge_bytes = 0;

  void start(ThreadContext& ctx) override {
    unsigned long mask[4] = {};
    mask[p_.node / 64] |= 1ul << (p_.node % 64);
    long r = ctx.sys_set_mempolicy(os::MPOL_BIND, mask, 256);
    if (r >= 0) r = ctx.sys_mmap(0, p_.bytes, os::PROT_READ | os::PROT_WRITE, os::MAP_PRIVATE | os::MAP_ANONYMOUS, -1, 0);
    if (r >= 0) base_ = static_cast<VirtAddr>(r);
    if (r >= 0 && p_.madvise) r = ctx.sys_madvise(base_, p_.bytes, os::MADV_HUGEPAGE);
    if (r < 0) {
      error_ = r;
      phase_ = Phase::Done;
      return;
    }
    at_start = snap();
  }

  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    (void)ctx;
    while (!b.full() && phase_ != Phase::Done) {
      switch (phase_) {
        case Phase::Touch:  // first touch, one store per 4 KiB page
          if (touched_ >= p_.bytes) {
            phase_ = Phase::Warm;
            continue;
          }
          b.store(base_ + touched_, 8);
          touched_ += kPageSize;
          break;
        case Phase::Warm:
          if (emitted_ >= p_.warmup) {
            b.marker(kMarkStart);
            phase_ = Phase::SnapMeasure;
            emitted_ = 0;
            return b.size();  // the snapshot is taken once this batch ran
          }
          update(b);
          break;
        case Phase::SnapMeasure:
          at_measure = snap();
          memory();
          phase_ = Phase::Measure;
          continue;
        case Phase::Measure:
          if (emitted_ >= p_.updates) {
            b.marker(kMarkEnd);
            phase_ = Phase::Done;
            return b.size();
          }
          update(b);
          break;
        case Phase::Done:
          break;
      }
    }
    return b.size();
  }
  bool done() const override { return phase_ == Phase::Done; }
  void finish(ThreadContext& ctx) override {
    at_end = snap();
    if (base_) ctx.sys_munmap(base_, p_.bytes);
  }

 private:
  enum class Phase { Touch, Warm, SnapMeasure, Measure, Done };
  void update(OpBatch& b) {
    const VirtAddr a = base_ + rng_.below(p_.bytes / 8) * 8;
    b.load(a, 8, /*dependent=*/false);
    b.store(a, 8);
    ++emitted_;
  }
  ThpSnapshot snap() const {
    Mmu& mmu = p_.machine->mmu(p_.cpu);
    return ThpSnapshot{mmu.tlb().stats(1).total_misses(), mmu.stats().walk_ps, mmu.stats().faults,
                       mmu.stats().fault_ps};
  }
  void memory() {
    const os::PhysMem& pm = p_.machine->kernel().physmem();
    anon_bytes = static_cast<std::uint64_t>(pm.global_node_page_state(os::NR_ANON_MAPPED)) * kPageSize;
    anon_huge_bytes = static_cast<std::uint64_t>(pm.global_node_page_state(os::NR_ANON_THPS)) * kPageSize;
  }

  Params p_;
  workloads::Rng rng_;
  Phase phase_ = Phase::Touch;
  VirtAddr base_ = 0;
  std::uint64_t touched_ = 0, emitted_ = 0;
  long error_ = 0;
};

}  // namespace

ThpStudyResult thp_study(Config root, const ThpStudyOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  Setup s = read_setup(root);
  const std::vector<int> cnodes = cpu_nodes(s.topo);
  if (cnodes.empty()) throw std::runtime_error("thp: the machine has no CPU");
  const int node = cnodes.front();
  const std::uint64_t cap = s.topo.node(NodeId(node)).memory.value() * 3 / 4 / kHuge * kHuge;
  if (opts.table.value() < kHuge || opts.table.value() > cap)
    throw std::runtime_error("thp: table " + format_size(opts.table) + " must be from 2MiB to " +
                             format_size(Bytes(cap)) + " (three quarters of node " + std::to_string(node) + ")");
  ThpStudyResult res;
  res.table_bytes = opts.table.value() / kHuge * kHuge;
  res.updates = opts.updates;
  for (const std::string& mode : opts.modes) {
    MachineParams params = s.params;
    if (!os::thp_enabled_parse(mode, &params.kernel.thp.enabled))
      throw std::runtime_error("thp: unknown mode '" + mode + "' (expected never, madvise or always)");
    Machine m(Topology(s.topo), params);
    GupsThpProgram::Params gp;
    gp.node = node;
    gp.bytes = res.table_bytes;
    gp.warmup = opts.warmup;
    gp.updates = opts.updates;
    gp.seed = s.params.seed * 2654435761u + 17;
    gp.madvise = opts.madvise;
    gp.machine = &m;
    gp.cpu = m.first_cpu(NodeId(node));
    auto prog = std::make_unique<GupsThpProgram>(gp);
    GupsThpProgram* raw = prog.get();
    TaskRun* run = m.add_task("thp-gups-" + mode, std::move(prog), gp.cpu);
    m.run();
    if (raw->error()) fail("thp", "mapping the table", raw->error());
    ThpStudyResult::Row row;
    row.mode = mode;
    const std::uint64_t accesses = 2 * opts.updates;
    row.ns_per_access = ns_per(run->marker_interval(kMarkStart, kMarkEnd), accesses);
    row.stlb_misses_per_1k =
        1000.0 * static_cast<double>(raw->at_end.stlb_misses - raw->at_measure.stlb_misses) / double(accesses);
    const double cycle_ps = 1e12 / static_cast<double>(m.mmu(gp.cpu).clock().hz());
    row.walk_cycles_per_access =
        static_cast<double>(raw->at_end.walk_ps - raw->at_measure.walk_ps) / cycle_ps / double(accesses);
    row.faults = raw->at_measure.faults - raw->at_start.faults;
    row.fault_ms = static_cast<double>(raw->at_measure.fault_ps - raw->at_start.fault_ps) / 1e9;
    row.us_per_fault = row.faults ? row.fault_ms * 1000.0 / double(row.faults) : 0;
    row.anon_bytes = raw->anon_bytes;
    row.anon_huge_bytes = raw->anon_huge_bytes;
    row.thp_fault_alloc = m.kernel().physmem().sum_vm_event(os::THP_FAULT_ALLOC);
    row.thp_fault_fallback = m.kernel().physmem().sum_vm_event(os::THP_FAULT_FALLBACK);
    res.rows.push_back(row);
  }
  res.host_seconds = seconds_since(t0);
  return res;
}

std::string ThpStudyResult::to_table() const {
  std::string out = "GUPS over " + format_size(Bytes(table_bytes)) + ", " + std::to_string(updates) +
                    " measured updates (2 accesses each), by transparent_hugepage/enabled\n";
  out += "Mode      ns/access  STLB miss/1k  walk cyc/access  faults    fault ms  us/fault  AnonPages    AnonHugePages\n";
  for (const Row& r : rows) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-9s %9.2f %13.2f %16.2f %8llu %11.2f %9.2f  %-12s %s\n", r.mode.c_str(),
                  r.ns_per_access, r.stlb_misses_per_1k, r.walk_cycles_per_access,
                  static_cast<unsigned long long>(r.faults), r.fault_ms, r.us_per_fault,
                  format_size(Bytes(r.anon_bytes)).c_str(), format_size(Bytes(r.anon_huge_bytes)).c_str());
    out += buf;
  }
  return out;
}

std::string ThpStudyResult::to_json() const {
  std::string out = "{\"table_bytes\": " + std::to_string(table_bytes) + ", \"updates\": " + std::to_string(updates) +
                    ", \"modes\": [";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"mode\": \"%s\", \"ns_per_access\": %.3f, \"stlb_misses_per_1k\": %.3f, "
                  "\"walk_cycles_per_access\": %.3f, \"faults\": %llu, \"fault_ms\": %.3f, \"us_per_fault\": %.3f, "
                  "\"anon_bytes\": %llu, \"anon_huge_bytes\": %llu, \"thp_fault_alloc\": %llu, "
                  "\"thp_fault_fallback\": %llu}",
                  i ? ", " : "", r.mode.c_str(), r.ns_per_access, r.stlb_misses_per_1k, r.walk_cycles_per_access,
                  static_cast<unsigned long long>(r.faults), r.fault_ms, r.us_per_fault,
                  static_cast<unsigned long long>(r.anon_bytes), static_cast<unsigned long long>(r.anon_huge_bytes),
                  static_cast<unsigned long long>(r.thp_fault_alloc),
                  static_cast<unsigned long long>(r.thp_fault_fallback));
    out += buf;
  }
  return out + "]}";
}

}  // namespace numasim::studies
