// Pointer chase (lmbench lat_mem_rd, Intel MLC idle latency): a ring of
// elements where each load's address is the value the previous load returned,
// so every load is marked dependent and the core serialises them. The
// generator builds the ring itself: "random" is one cycle through all elements
// in a seeded random order (a shuffle linked end to end), "strided" visits elements in
// address order, `stride` bytes apart. Each thread chases its own ring.
// Keys: footprint = "64MiB"; pattern = "random" | "strided"; element_size = "64B"
// (random); stride = "64B" (strided); laps = 4; compute_cycles = 0; init = true
// (write every element in address order first, as the program builds the ring).
// Simplified: the simulator stores no data; the chain is computed here.
#pragma once

#include <cstdint>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct PointerChaseParams {
  std::uint64_t footprint_bytes = 64ull << 20;
  bool random = true;
  std::uint64_t element_bytes = 64;
  std::uint64_t stride_bytes = 64;
  std::uint32_t laps = 4;
  std::uint32_t compute_cycles = 0;
  bool init = true;

  static PointerChaseParams from_config(Config cfg);
};

class PointerChaseSource final : public Generator {
 public:
  PointerChaseSource(ThreadInfo info, const PointerChaseParams& p);
  double progress() const override;

  std::uint64_t elements() const { return n_; }
  std::uint64_t spacing() const { return spacing_; }
  VirtAddr base() const { return base_; }
  // Index of the element visited after element i (O(n) for the random ring: for tests).
  std::uint64_t next_of(std::uint64_t i) const;

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return lap_ >= p_.laps; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  PointerChaseParams p_;
  std::uint64_t n_ = 0;
  std::uint64_t spacing_ = 64;
  // Random ring: the elements in visiting order, read sequentially while chasing
  // (the host streams through it instead of chasing its own permutation).
  // Empty for the strided ring.
  std::vector<std::uint32_t> order_;
  VirtAddr base_ = 0;
  std::uint64_t init_pos_ = 0;
  std::uint64_t lap_pos_ = 0;  // loads done in this lap (the position in the ring)
  std::uint32_t lap_ = 0;
};

void build_pointer_chase(WorkloadBuild& b);

}  // namespace numasim::workloads
