// Fragmentation workload (kind "memory_fragment"): what the proactive-compaction evaluation of Linux 5.9
// did to a node. It maps and writes most of a node's memory, then frees three
// quarters of every 2 MiB chunk (madvise(MADV_DONTNEED) of three pages out of
// every four, so each chunk keeps a page every 16 KiB), and holds the rest:
// the node has plenty of free memory but no free 2 MiB block, so order-9
// allocations (THP faults, hugetlb) fail until compaction (direct, or kcompactd's
// proactive pass every 500 ms) moves the kept pages together. It may then wait
// (`hold`, in compute cycles) so that kcompactd's passes show in --sample, and
// unmaps everything at the end.
// Keys: size = "900MiB" or node_fraction = 0.95 (of target_node's memory;
// default 0.95); target_node (default: the workload's node, else 0);
// keep_every = 4 (one page kept out of every keep_every: 4 frees three
// quarters); hold_cycles = 0 (compute after fragmenting, in chunks of 1 M
// cycles); compute_cycles = 0 (after each first touch). Use policy = "bind:N"
// to keep it on node N.
// Simplified: "every 2 MiB chunk" is of the virtual range (the pages of a
// chunk land where the allocator puts them, usually one physical 2 MiB block).
#pragma once

#include <cstdint>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct FragmentParams {
  std::uint64_t total_bytes = 1ull << 30;  // all threads together
  std::uint32_t keep_every = 4;
  std::uint64_t hold_cycles = 0;
  std::uint32_t compute_cycles = 0;
};

class FragmentSource final : public Generator {
 public:
  FragmentSource(ThreadInfo info, const FragmentParams& p);
  double progress() const override;
  std::uint64_t bytes() const { return bytes_; }

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return phase_ == Phase::Done; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  enum class Phase { Map, Touch, Free, Hold, Done };
  FragmentParams p_;
  std::uint64_t bytes_ = 0;  // this thread's share (whole pages)
  VirtAddr addr_ = 0;
  std::uint64_t pos_ = 0;    // pages touched, groups freed, or cycles held
  Phase phase_ = Phase::Map;
};

void build_fragment(WorkloadBuild& b);

}  // namespace numasim::workloads
