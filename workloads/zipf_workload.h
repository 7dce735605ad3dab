// Skewed hot/cold access over a footprint shared by the workload's threads,
// the pattern of caches, key-value stores and tiering studies. The footprint is
// cut into items of item_size bytes; each access picks an item by rank, either
// Zipf(alpha) (distribution = "zipf") or two-level (distribution = "hotcold":
// with probability hot_probability one of the hottest hot_fraction of items,
// else one of the rest, uniformly), maps the rank to an item through a seeded
// bijection (scatter = true: hot items spread over the footprint; false: rank 1
// is the first item), and touches a random cache line of it: a store with
// probability write_ratio, else a load.
// Keys: footprint = "64MiB"; item_size = "4KiB"; distribution = "zipf";
// alpha = 0.99; hot_fraction = 0.1; hot_probability = 0.9; accesses = 1000000
// (per thread); write_ratio = 0.0; access_size = "8B"; compute_cycles = 0;
// scatter = true; init_policy = "default".
// Initial placement (init_policy = "bind:2", any numactl-like policy text): the
// thread that maps the footprint binds it with mbind(2) to that policy, writes
// every page of it once in address order (the first touch, before the counted
// accesses; `first_touch_pages` in the results), then mbinds it back to
// MPOL_DEFAULT, so NUMA balancing may move the pages afterwards (the hot set
// of a tiering study starts on the slow tier and is promoted from there).
#pragma once

#include <cstdint>
#include <memory>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"
#include "workloads/zipf_sampler.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct ZipfParams {
  std::uint64_t footprint_bytes = 64ull << 20;
  std::uint64_t item_bytes = 4096;
  bool hotcold = false;
  double alpha = 0.99;
  double hot_fraction = 0.1;
  double hot_probability = 0.9;
  std::uint64_t accesses = 1000000;
  double write_ratio = 0.0;
  std::uint32_t access_bytes = 8;
  std::uint32_t compute_cycles = 0;
  bool scatter = true;
  PolicySpec init_policy;  // default: no first-touch pass

  static ZipfParams from_config(Config cfg);
};

class ZipfSource final : public Generator {
 public:
  ZipfSource(ThreadInfo info, const ZipfParams& p, std::shared_ptr<SharedRegion> region);
  double progress() const override {
    return static_cast<double>(done_) / static_cast<double>(p_.accesses ? p_.accesses : 1);
  }
  std::uint64_t items() const { return items_; }
  // The item (0-based, in address order) that rank r (1-based) maps to.
  std::uint64_t item_of_rank(std::uint64_t r) const { return p_.scatter ? scatter_(r - 1) : r - 1; }
  VirtAddr base() const { return base_; }  // 0 before start() and after finish()

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return done_ >= p_.accesses; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  std::uint64_t draw_rank();
  ZipfParams p_;
  std::shared_ptr<SharedRegion> region_;
  VirtAddr base_ = 0;
  std::uint64_t items_ = 1;
  std::uint64_t lines_per_item_ = 1;
  std::uint64_t hot_items_ = 1;
  std::uint64_t hot_threshold_ = 0, write_threshold_ = 0;
  ZipfSampler zipf_;
  ScatterMap scatter_;
  std::uint64_t done_ = 0;
  bool first_touch_ = false;  // this thread places the footprint under init_policy
  std::uint64_t first_touch_next_ = 0;
  Rng rng_;
};

void build_zipf(WorkloadBuild& b);

}  // namespace numasim::workloads
