// Memory hog: allocates (mmap, chunk by chunk) and touches more memory than a
// node holds, then optionally touches it all again: the pressure that
// watermarks, kswapd, direct reclaim, swap and the OOM path will meet. With
// policy "bind:N" the pressure stays on node N; with the default local policy
// allocations spill to other nodes in zonelist order. Each thread allocates its
// own share (size / threads).
// Phases, in order: the allocation pass (writes every page), passes - 1 more
// write passes, hot_passes read-modify-write passes over the hot part (the
// first hot_fraction of the hog: a hot set touched repeatedly while the cold
// remainder was touched once), then reread_passes read passes over everything
// (pages that were reclaimed come back; with verify = true each is checked).
// Keys: size = "3GiB" or node_fraction = 1.5 (of target_node's memory; default
// 1.25); target_node (default: the workload's node, else 0); chunk_size =
// "64MiB"; passes = 1; touch_stride = "4KiB"; compute_cycles = 0;
// reread_passes = 0; hot_fraction = 0.0; hot_passes = 4 (with hot_fraction > 0).
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
  std::uint32_t reread_passes = 0;  // read passes over everything at the end
  double hot_fraction = 0.0;        // share of the hog that is hot (0: no hot passes)
  std::uint32_t hot_passes = 4;     // read-modify-write passes over the hot part
};

class MemoryHogSource final : public Generator {
 public:
  MemoryHogSource(ThreadInfo info, const MemoryHogParams& p);
  double progress() const override;
  std::uint64_t bytes() const { return bytes_; }

  enum class Mode : std::uint8_t { Write, Read, ReadModifyWrite };
  struct Phase {
    std::uint64_t end = 0;  // bytes of the hog the phase touches, from its start
    Mode mode = Mode::Write;
  };
  const std::vector<Phase>& phases() const { return phases_; }

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return phase_ >= phases_.size(); }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  MemoryHogParams p_;
  std::uint64_t bytes_ = 0;  // this thread's share
  std::vector<Phase> phases_;
  std::vector<std::pair<VirtAddr, std::uint64_t>> chunks_;
  std::uint64_t mapped_ = 0;
  std::size_t phase_ = 0;
  std::size_t chunk_ = 0;  // chunk being touched
  std::uint64_t pos_ = 0;  // touches done in it
};

void build_memory_hog(WorkloadBuild& b);

}  // namespace numasim::workloads
