// Fault injection for slab allocations, after Linux's failslab
// (mm/failslab.c, Documentation/fault-injection): the filters of
// should_failslab in front of the shared fault attribute (fault_inject.h).
// Callers see NULL and must back out cleanly.
// Simplified: see fault_inject.h; __GFP_NOFAIL allocations are never failed (as Linux);
// `ignore_gfp_reclaim` defaults to false here (Linux's failslab defaults to
// true, which would exempt every GFP_KERNEL allocation).
#pragma once

#include <cstdint>
#include "os/fault_inject.h"
#include "os/gfp.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct FailslabParams : FaultAttrParams {
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
  std::uint64_t nr_failed() const { return attr_.nr_failed(); }
  std::uint64_t nr_candidates() const { return attr_.nr_candidates(); }

 private:
  bool should_fail_slow(gfp_t gfp, bool cache_marked);  // the filters, then should_fail()
  FailslabParams p_;
  FaultAttr attr_;
};

}  // namespace numasim::os
