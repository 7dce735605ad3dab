// Working set: a hot set that fits in memory and a cold set that does not, the
// pattern reclaim is meant to serve (keep the hot pages, evict the cold ones;
// workingset refaults show when it gets it wrong). Each thread maps its own hot
// and cold regions (size / threads), writes every page once (hot first), then
// runs `passes` passes: each pass sweeps the cold set once in order, and
// between two cold accesses makes hot accesses to uniformly random hot pages so
// that hot accesses are `hot_share` of the pass's accesses. A fraction
// `write_fraction` of the accesses are stores (the rest loads). With verify =
// true every load checks the page's token.
// Keys: hot_size (default 0.5 of target_node's memory), cold_size (default 1.0
// of it), target_node (default: the workload's node, else 0), hot_share = 0.9
// (0..0.99), passes = 2, write_fraction = 0.1, compute_cycles = 0.
// Simplified: one access per page visit (8 bytes at a random offset-free page
// start); hot pages are drawn uniformly (no skew within the hot set).
#pragma once

#include <cstdint>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct WorkingSetParams {
  std::uint64_t hot_bytes = 512ull << 20;   // all threads together
  std::uint64_t cold_bytes = 1ull << 30;    // all threads together
  double hot_share = 0.9;                   // of the accesses of a pass
  std::uint32_t passes = 2;
  double write_fraction = 0.1;
  std::uint32_t compute_cycles = 0;
};

class WorkingSetSource final : public Generator {
 public:
  WorkingSetSource(ThreadInfo info, const WorkingSetParams& p);
  double progress() const override;
  std::uint64_t hot_pages() const { return hot_pages_; }
  std::uint64_t cold_pages() const { return cold_pages_; }
  std::uint64_t hot_accesses() const { return hot_accesses_; }
  std::uint64_t cold_accesses() const { return cold_accesses_; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return pass_ > p_.passes; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  WorkingSetParams p_;
  std::uint64_t hot_pages_ = 0, cold_pages_ = 0;
  VirtAddr hot_ = 0, cold_ = 0;
  std::uint32_t pass_ = 0;    // 0: populating; 1..passes: the passes
  std::uint64_t pos_ = 0;     // populate: page index over hot then cold; pass: cold page index
  double hot_credit_ = 0;     // hot accesses owed before the next cold one
  double hot_per_cold_ = 0;   // hot_share / (1 - hot_share)
  std::uint64_t write_threshold_ = 0;
  std::uint64_t hot_accesses_ = 0, cold_accesses_ = 0;
  Rng rng_;
};

void build_working_set(WorkloadBuild& b);

}  // namespace numasim::workloads
