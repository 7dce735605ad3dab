// Fault injection for page allocations (mm/fail_page_alloc.c): see fail_page_alloc.h.
#include "os/fail_page_alloc.h"

#include "common/config.h"

namespace numasim::os {

FailPageAllocParams FailPageAllocParams::from_config(Config c) {
  FailPageAllocParams p;
  static_cast<FaultAttrParams&>(p) = FaultAttrParams::from_config(c, "page allocations (Linux fail_page_alloc)");
  p.ignore_gfp_highmem =
      c.get<bool>("ignore_gfp_highmem", p.ignore_gfp_highmem, "never fail __GFP_HIGHMEM (user page) allocations");
  p.ignore_gfp_wait =
      c.get<bool>("ignore_gfp_wait", p.ignore_gfp_wait, "never fail allocations that may enter direct reclaim");
  p.min_order = c.get<unsigned>("min_order", p.min_order, "never fail allocations below this order", {0u, 10u});
  return p;
}

// __should_fail_alloc_page: the filters, then should_fail(attr, 1 << order).
bool FailPageAlloc::should_fail_slow(gfp_t gfp, unsigned order) {
  if (order < p_.min_order) return false;
  if (gfp & __GFP_NOFAIL) return false;
  if (p_.ignore_gfp_highmem && (gfp & __GFP_HIGHMEM)) return false;
  if (p_.ignore_gfp_wait && (gfp & __GFP_DIRECT_RECLAIM)) return false;
  return attr_.should_fail();
}

}  // namespace numasim::os
