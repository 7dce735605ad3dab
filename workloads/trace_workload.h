// Trace replay (kind = "trace"): one thread replays a memory-reference trace
// (Lackey text or the binary format, detected by its magic). The trace's data
// addresses are mapped into the simulated task: a first pass collects the
// region_size-aligned chunks the trace touches and merges adjacent ones into
// ranges; start() mmaps one anonymous region per range and the replay
// translates each address into its range's mapping. Loads and stores become
// Load/Store ops, a modify a load then a store, and instruction fetches are
// counted as compute (instr_cycles each, consecutive fetches merged into one op).
// Keys: file (path, relative to the configuration file that names it);
// loops = 1; instr_cycles = 1; region_size = "64KiB".
// The trace is read when the configuration is read; a malformed trace is a
// configuration error carrying the trace's file:line.
// Simplified: instruction fetches are not sent to the memory system; the
// trace's own pages are not mapped at their original addresses.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/trace_format.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct TraceRange {
  std::uint64_t start = 0;  // trace address, region_size aligned
  std::uint64_t bytes = 0;
};

struct TraceData {
  std::vector<TraceRecord> records;
  std::vector<TraceRange> ranges;  // sorted, disjoint, covering every data access

  // Builds ranges for `records` at `region_bytes` granularity (a power of two).
  void compute_ranges(std::uint64_t region_bytes);
};

struct TraceParams {
  std::uint32_t loops = 1;
  std::uint32_t instr_cycles = 1;
};

class TraceSource final : public Generator {
 public:
  TraceSource(ThreadInfo info, const TraceParams& p, std::shared_ptr<const TraceData> data);
  double progress() const override;
  // Simulated address of a trace address (after start()).
  VirtAddr translate(std::uint64_t trace_addr) const;

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return loop_ >= p_.loops; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  TraceParams p_;
  std::shared_ptr<const TraceData> data_;
  std::vector<VirtAddr> mapped_;  // per range
  std::size_t pos_ = 0;
  std::uint32_t loop_ = 0;
  std::uint64_t pending_cycles_ = 0;
  mutable std::size_t last_range_ = 0;
};

void build_trace(WorkloadBuild& b);

}  // namespace numasim::workloads
