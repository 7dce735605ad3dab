// Strided access over a footprint shared by the workload's threads: each pass
// walks the footprint `stride` bytes at a time (thread i starting i/threads of
// the way in, wrapping around), each access a load or, with probability
// write_ratio, a store of access_size bytes.
// Keys: footprint = "64MiB"; stride = "64B"; access_size = "8B"; passes = 1;
// write_ratio = 0.0; compute_cycles = 0.
// Simplified: no prefetcher modelling here; that is the cores' business.
#pragma once

#include <cstdint>
#include <memory>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct StridedParams {
  std::uint64_t footprint_bytes = 64ull << 20;
  std::uint64_t stride_bytes = 64;
  std::uint32_t access_bytes = 8;
  std::uint32_t passes = 1;
  double write_ratio = 0.0;
  std::uint32_t compute_cycles = 0;

  static StridedParams from_config(Config cfg);
};

class StridedSource final : public Generator {
 public:
  StridedSource(ThreadInfo info, const StridedParams& p, std::shared_ptr<SharedRegion> region);
  double progress() const override;
  std::uint64_t accesses_per_pass() const { return per_pass_; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return pass_ >= p_.passes; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  StridedParams p_;
  std::shared_ptr<SharedRegion> region_;
  VirtAddr base_ = 0;
  std::uint64_t per_pass_ = 0;
  std::uint64_t start_ = 0;  // first access index of every pass
  std::uint64_t pos_ = 0;    // accesses done in this pass
  std::uint32_t pass_ = 0;
  std::uint64_t write_threshold_ = 0;  // store when rng.next() < threshold
  Rng rng_;
};

void build_strided(WorkloadBuild& b);

}  // namespace numasim::workloads
