// Timing studies, a layer above hw/ and workloads/ (studies/ depends on both;
// nothing below depends on it), run as real simulations on hw::Machine, in the
// manner of Intel Memory Latency Checker:
//   latency_matrix   - from the first CPU of each node, a dependent random
//                      pointer chase over a buffer bound (MPOL_BIND) to each
//                      node's memory, on 2 MiB hugetlb pages; ns per load.
//   bandwidth_matrix - every CPU of a node streams reads from its own buffer
//                      bound to each node's memory; GB/s summed over the CPUs.
//   loaded_latency   - one CPU chases in node 0's memory while the other CPUs
//                      of node 0 (whole system: of every node, each in its
//                      own node's memory) stream reads, or an MLC read/write
//                      mix, with decreasing injection delays.
//   mess_curves      - loaded_latency once per memory read ratio (Mess).
//   tlb_reach        - pointer-chase latency against working-set size: one
//                      fixed random line in every 4 KiB region of the working
//                      set, regions in random cyclic order, on 4 KiB or 2 MiB
//                      pages (so the steps are the TLBs', not the caches').
//   thp_study        - GUPS with transparent huge pages never/madvise/always:
//                      time per access, STLB misses, walk and fault time, memory.
// The chase visits regions in a seeded random cyclic order and a random line
// inside each (several lines per 2 MiB region for the matrices so that TLB
// misses do not count). Each study builds one Machine from the configuration
// (with the hugetlb pool it needs added to [os] hugetlb.nr_hugepages) and runs
// its cells one after the other on it. Results are deterministic for a given
// configuration and seed ([sim] seed). The MLC-style studies run at quantum 0
// unless the configuration or --set gives [sim] quantum (study_quantum.h);
// their results say which quantum and why.
// Simplifications: the buffers are populated (MAP_POPULATE) before timing, the
// chase is generated, not read from memory; injection delays are compute ops.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "studies/study_quantum.h"

namespace numasim {
class Config;
}

namespace numasim::studies {

struct MatrixResult {
  std::string unit;                          // "ns" or "GB/s"
  std::string title;                         // first line of the table (empty: from the unit)
  std::vector<int> cpu_nodes;                // row i: CPUs of node cpu_nodes[i]
  std::vector<int> memory_nodes;             // column j: memory of node memory_nodes[j]
  std::vector<std::vector<double>> matrix;   // [row][column]
  StudyQuantum quantum;                      // what the machine ran at, and why
  double host_seconds = 0;                   // wall-clock time of the study (not in the JSON)
  // {"unit": "ns", "matrix": [[90.1, 144.2], [143.9, 89.8]], "quantum_ps": 0, "quantum_from": "default for studies"}
  std::string to_json() const;
  // MLC-like table with "Numa node" headers.
  std::string to_table() const;
};

struct LatencyMatrixOptions {
  Bytes buffer = Bytes(256ull << 20);      // per cell; much larger than the LLC
  std::uint64_t loads = 20000;             // measured dependent loads per cell
  std::uint64_t warmup_loads = 4000;
  std::uint32_t lines_per_region = 32;     // consecutive loads inside one 2 MiB region
  bool hugepages = true;                   // 2 MiB hugetlb pages
};
MatrixResult latency_matrix(Config root, const LatencyMatrixOptions& opts = {});

struct BandwidthMatrixOptions {
  Bytes buffer_per_cpu = Bytes(16ull << 20);
  std::uint64_t lines_per_cpu = 40000;     // 64-byte reads of the first CPU to finish (which stops the others)
  bool hugepages = true;
};
MatrixResult bandwidth_matrix(Config root, const BandwidthMatrixOptions& opts = {});

struct C2cOptions {
  std::uint32_t lines = 2000;  // lines transferred per cell, each written then read
};
// Like `mlc --c2c_latency`: a CPU reads lines that a CPU of another (or, on the
// diagonal, the same) node has just modified, so each read is a HITM transfer;
// lines live in the writer's node. Rows: the reader's node; columns: the
// writer's node; ns per read. Drives the machine's memory system directly (no
// tasks, no TLB). A node with a single CPU gets 0 on the diagonal.
MatrixResult c2c_latency(Config root, const C2cOptions& opts = {});

struct LoadedLatencyResult {
  struct Point {
    std::uint32_t delay_cycles = 0;  // injection delay of the traffic CPUs; ~0u: idle (no traffic)
    double bandwidth_gbps = 0;       // memory traffic of every CPU (the latency CPU's included)
    double latency_ns = 0;
    std::vector<double> node_bandwidth_gbps;  // injectors' traffic by traffic_nodes[i]
  };
  std::string mix = "R";               // traffic mix (MLC's name, or "<N>%read" for Mess curves)
  bool whole_system = false;           // injectors on every CPU node (else node 0 only)
  std::uint32_t traffic_cpus = 0;      // injecting CPUs (the latency CPU excluded)
  std::vector<int> traffic_nodes;      // nodes of the injecting CPUs
  std::vector<Point> points;  // rising bandwidth
  StudyQuantum quantum;
  double host_seconds = 0;
  // {"mix": "R", "whole_system": false, "traffic_cpus": 3, "traffic_nodes": [0],
  //  "points": [{"delay": null, "bandwidth_gbps": 5.1, "latency_ns": 90.3, "node_bandwidth_gbps": [0.0]}, ...],
  //  "quantum_ps": 0, "quantum_from": "default for studies"}
  // ("delay": null is the idle point).
  std::string to_json() const;
  std::string to_table() const;
};

// The traffic of the injecting CPUs, per period of `reads + writes` lines:
// `reads` lines loaded then `writes` lines stored (each store of a line misses
// and is written back: 64 B read for ownership plus 64 B written at memory).
struct TrafficMix {
  std::string name = "R";
  std::uint32_t reads = 1, writes = 0;
};
// MLC's names (`mlc --loaded_latency -R / -W2 / -W3 / -W5`): R all reads, W2 two
// reads to one write, W3 three to one, W5 one to one. Returns false for any
// other name (MLC's non-temporal-write mixes W6-W12 are not modelled).
bool parse_mlc_mix(const std::string& name, TrafficMix* out);
// The mix whose memory traffic is `read_percent`% reads (Mess's read ratio, 50
// to 100): stores count a read (for ownership) and a write, so 50% is all stores.
TrafficMix mess_mix(int read_percent);

// MLC's default injection delays (`mlc --loaded_latency` without -d).
inline const std::vector<std::uint32_t> kMlcDelays = {0,   2,   8,    15,   50,   100,  200,  300,  400, 500,
                                                      700, 1000, 1300, 1700, 2500, 3500, 5000, 9000, 20000};

struct LoadedLatencyOptions {
  // Cycles of compute between two lines of each traffic CPU; "idle" (no traffic) is always measured.
  std::vector<std::uint32_t> delays = {20000, 5000, 2000, 1000, 500, 200, 100, 50, 0};
  std::uint64_t loads = 5000;               // measured loads of the latency CPU per point
  std::uint64_t warmup_loads = 1000;
  Bytes latency_buffer = Bytes(128ull << 20);
  Bytes traffic_buffer_per_cpu = Bytes(16ull << 20);
  int traffic_cpus = -1;                    // -1: every other CPU of node 0 (whole system: of every CPU node)
  // MLC's default on a multi-socket machine: every CPU of every socket injects,
  // each into its own node's memory, while the first CPU chases in node 0's.
  bool whole_system = false;
  TrafficMix mix;
};
LoadedLatencyResult loaded_latency(Config root, const LoadedLatencyOptions& opts = {});

// A Mess-style family of bandwidth-latency curves (BSC, MICRO 2024): the loaded
// latency study once per memory read ratio (100%, 90%, ... 50% reads), the
// injectors' delays swept as in `opts`, on one machine per curve.
struct MessCurvesResult {
  std::vector<int> read_percents;
  std::vector<LoadedLatencyResult> curves;  // one per read_percents[i]
  StudyQuantum quantum;
  double host_seconds = 0;
  // {"curves": [{"read_percent": 100, "points": [...], "quantum_ps": 0, ...}, ...], "quantum_ps": 0, ...}
  std::string to_json() const;
  // read_percent,delay,bandwidth_gbps,latency_ns (delay empty for the idle point)
  std::string to_csv() const;
  std::string to_table() const;
};
MessCurvesResult mess_curves(Config root, const std::vector<int>& read_percents = {100, 90, 80, 70, 60, 50},
                             const LoadedLatencyOptions& opts = {});

struct TlbReachResult {
  std::string page_size;  // "4K" or "2M"
  struct Point {
    std::uint64_t working_set_bytes = 0;
    double latency_ns = 0;
  };
  std::vector<Point> points;  // rising working set
  double host_seconds = 0;
  // {"page_size": "4K", "points": [{"working_set_bytes": 16384, "latency_ns": 1.7}, ...]}
  std::string to_json() const;
  std::string to_table() const;
};

struct TlbReachOptions {
  bool huge_pages = false;                      // false: 4 KiB pages; true: 2 MiB hugetlb pages
  Bytes min_working_set = Bytes(16ull << 10);
  Bytes max_working_set = Bytes(4ull << 30);
  std::uint64_t loads = 20000;                  // measured loads per point
  std::uint64_t max_warmup_loads = 100000;      // warm-up: one lap of the chase, at most this many
};
TlbReachResult tlb_reach(Config root, const TlbReachOptions& opts = {});

// thp: GUPS (random 8-byte read-modify-write updates) over a table on the first
// CPU node, once per transparent_hugepage/enabled mode, each on a fresh Machine:
// the table is mapped without MAP_POPULATE and first touched page by page (the
// faults: 4 KiB or THP), then `warmup` updates and `updates` measured ones.
// Per mode: time per access (a load or a store), STLB (second-level TLB) misses
// per 1000 accesses, page-walk cycles per access, fault time, anonymous memory
// used and how much of it is THP. With `madvise`, the program calls
// madvise(MADV_HUGEPAGE) on its table (else "madvise" behaves as "never").
struct ThpStudyResult {
  struct Row {
    std::string mode;                 // never / madvise / always
    double ns_per_access = 0;         // measured phase
    double stlb_misses_per_1k = 0;    // measured phase
    double walk_cycles_per_access = 0;
    std::uint64_t faults = 0;         // page faults while first touching the table
    double fault_ms = 0;              // their total kernel time
    double us_per_fault = 0;
    std::uint64_t anon_bytes = 0;     // AnonPages after the first touch (memory used)
    std::uint64_t anon_huge_bytes = 0;  // AnonHugePages
    std::uint64_t thp_fault_alloc = 0, thp_fault_fallback = 0;
  };
  std::uint64_t table_bytes = 0;
  std::uint64_t updates = 0;
  std::vector<Row> rows;
  double host_seconds = 0;
  std::string to_json() const;
  std::string to_table() const;
};

struct ThpStudyOptions {
  Bytes table = Bytes(4ull << 30);
  std::uint64_t updates = 200000;  // measured updates (2 accesses each)
  std::uint64_t warmup = 20000;
  bool madvise = false;
  std::vector<std::string> modes = {"never", "madvise", "always"};
};
ThpStudyResult thp_study(Config root, const ThpStudyOptions& opts = {});

}  // namespace numasim::studies
