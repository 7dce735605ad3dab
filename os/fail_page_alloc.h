// Fault injection for page allocations, after Linux's fail_page_alloc
// (mm/fail_page_alloc.c, Documentation/fault-injection): should_fail_alloc_page
// is asked by prepare_alloc_pages, and a request it picks fails at once
// (__alloc_pages returns NULL without the fast or the slow path, exactly as
// Linux 6.1 does). Filters: orders below min_order, __GFP_NOFAIL, and
// optionally __GFP_HIGHMEM (ignore_gfp_highmem) or __GFP_DIRECT_RECLAIM
// (ignore_gfp_wait) requests are never failed.
// Simplified: see fault_inject.h. Linux's defaults ignore highmem and
// reclaiming requests (ignore_gfp_highmem = ignore_gfp_wait = Y), which would
// exempt every user page; both default to false here so that a probability
// alone is enough to exercise every allocation path.
#pragma once

#include "os/fault_inject.h"
#include "os/gfp.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct FailPageAllocParams : FaultAttrParams {
  bool ignore_gfp_highmem = false;  // never fail __GFP_HIGHMEM requests (user pages)
  bool ignore_gfp_wait = false;     // never fail requests that may enter direct reclaim
  unsigned min_order = 0;           // never fail orders below this

  // Reads [os.fail_page_alloc]: probability, interval, times, seed,
  // ignore_gfp_highmem, ignore_gfp_wait, min_order.
  static FailPageAllocParams from_config(Config fail_page_alloc);
};

class FailPageAlloc {
 public:
  explicit FailPageAlloc(const FailPageAllocParams& p = {}) { configure(p); }
  void configure(const FailPageAllocParams& p) {
    p_ = p;
    attr_.configure(p);
  }
  const FailPageAllocParams& params() const { return p_; }
  // should_fail_alloc_page: true when this request must fail. Cheap when disabled.
  bool should_fail_alloc_page(gfp_t gfp, unsigned order) {
    if (p_.probability == 0) return false;
    return should_fail_slow(gfp, order);
  }
  std::uint64_t nr_failed() const { return attr_.nr_failed(); }
  std::uint64_t nr_candidates() const { return attr_.nr_candidates(); }

 private:
  bool should_fail_slow(gfp_t gfp, unsigned order);  // __should_fail_alloc_page
  FailPageAllocParams p_;
  FaultAttr attr_;
};

}  // namespace numasim::os
