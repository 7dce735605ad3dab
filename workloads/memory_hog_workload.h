// Memory hog: allocates (mmap, chunk by chunk) and touches more memory than a
// node holds, then optionally touches it all again: the pressure that
// watermarks, kswapd, direct reclaim, swap and the OOM path will meet. With
// policy "bind:N" the pressure stays on node N; with the default local policy
// allocations spill to other nodes in zonelist order. Each thread allocates its
// own share (size / threads).
// Keys: size = "3GiB" or node_fraction = 1.5 (of target_node's memory; default
// 1.25); target_node (default: the workload's node, else 0); chunk_size =
// "64MiB"; passes = 1; touch_stride = "4KiB"; compute_cycles = 0.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct MemoryHogParams {
  std::uint64_t total_bytes = 1ull << 30;  // all threads together
  std::uint64_t chunk_bytes = 64ull << 20;
  std::uint32_t passes = 1;
  std::uint64_t touch_stride = 4096;
  std::uint32_t compute_cycles = 0;
};

class MemoryHogSource final : public Generator {
 public:
  MemoryHogSource(ThreadInfo info, const MemoryHogParams& p);
  double progress() const override;
  std::uint64_t bytes() const { return bytes_; }

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return pass_ >= p_.passes; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  MemoryHogParams p_;
  std::uint64_t bytes_ = 0;  // this thread's share
  std::vector<std::pair<VirtAddr, std::uint64_t>> chunks_;
  std::size_t chunk_ = 0;  // chunk being touched
  std::uint64_t pos_ = 0;  // touches done in it
  std::uint32_t pass_ = 0;
};

void build_memory_hog(WorkloadBuild& b);

}  // namespace numasim::workloads
