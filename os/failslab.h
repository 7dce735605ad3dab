// Fault injection for slab allocations, after Linux's failslab
// (mm/failslab.c, lib/fault-inject.c, Documentation/fault-injection):
// a given percentage of slab allocations fail, optionally only every
// `interval`-th candidate and at most `times` times, driven by a seeded RNG so
// that runs are reproducible. Callers see NULL and must back out cleanly.
// Simplified: no task filter, no stacktrace filter, no `space` budget, no
// verbose dumps; __GFP_NOFAIL allocations are never failed (as Linux);
// `ignore_gfp_reclaim` defaults to false here (Linux's failslab defaults to
// true, which would exempt every GFP_KERNEL allocation).
#pragma once

#include <cstdint>
#include <random>

#include "os/gfp.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct FailslabParams {
  unsigned probability = 0;         // percent of candidate allocations that fail (0..100)
  unsigned long interval = 1;       // only every interval-th candidate may fail
  long times = -1;                  // at most this many failures (-1: unlimited)
  std::uint64_t seed = 1;           // RNG seed
  bool ignore_gfp_reclaim = false;  // never fail allocations that may reclaim
  bool cache_filter = false;        // only caches created with SLAB_FAILSLAB

  // Reads [os.failslab]: probability, interval, times, seed, ignore_gfp_reclaim, cache_filter.
  static FailslabParams from_config(Config failslab);
};

class Failslab {
 public:
  explicit Failslab(const FailslabParams& p = {}) { configure(p); }
  void configure(const FailslabParams& p);
  const FailslabParams& params() const { return p_; }

  // should_failslab: true when this allocation must fail. Cheap when disabled.
  bool should_failslab(gfp_t gfp, bool cache_marked) {
    if (p_.probability == 0) return false;
    return should_fail_slow(gfp, cache_marked);
  }
  std::uint64_t nr_failed() const { return failed_; }
  std::uint64_t nr_candidates() const { return candidates_; }

 private:
  bool should_fail_slow(gfp_t gfp, bool cache_marked);  // should_fail()
  FailslabParams p_;
  std::mt19937_64 rng_;
  long times_left_ = -1;
  std::uint64_t count_ = 0;
  std::uint64_t candidates_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace numasim::os
