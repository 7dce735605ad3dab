// Fault injection for slab allocations (mm/failslab.c, lib/fault-inject.c).
#include "os/failslab.h"

#include "common/config.h"

namespace numasim::os {

FailslabParams FailslabParams::from_config(Config c) {
  FailslabParams p;
  static_cast<FaultAttrParams&>(p) = FaultAttrParams::from_config(c, "slab allocations (Linux failslab)");
  p.ignore_gfp_reclaim =
      c.get<bool>("ignore_gfp_reclaim", p.ignore_gfp_reclaim, "never fail allocations that may enter direct reclaim");
  p.cache_filter = c.get<bool>("cache_filter", p.cache_filter, "only fail caches created with SLAB_FAILSLAB");
  return p;
}

void Failslab::configure(const FailslabParams& p) {
  p_ = p;
  attr_.configure(p);
}

// should_failslab's filters in front of should_fail (lib/fault-inject.c).
bool Failslab::should_fail_slow(gfp_t gfp, bool cache_marked) {
  if (gfp & __GFP_NOFAIL) return false;
  if (p_.ignore_gfp_reclaim && (gfp & __GFP_DIRECT_RECLAIM)) return false;
  if (p_.cache_filter && !cache_marked) return false;
  return attr_.should_fail();
}

}  // namespace numasim::os
