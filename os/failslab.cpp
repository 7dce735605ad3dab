// Fault injection for slab allocations (mm/failslab.c, lib/fault-inject.c).
#include "os/failslab.h"

#include "common/config.h"

namespace numasim::os {

FailslabParams FailslabParams::from_config(Config c) {
  FailslabParams p;
  p.probability = static_cast<unsigned>(c.get<std::int64_t>(
      "probability", p.probability, "percent of slab allocations that fail (Linux failslab)", {0, 100}));
  p.interval = static_cast<unsigned long>(c.get<std::int64_t>("interval", static_cast<std::int64_t>(p.interval),
                                                              "only every interval-th allocation may fail", {1, {}}));
  p.times =
      static_cast<long>(c.get<std::int64_t>("times", p.times, "at most this many failures (-1: unlimited)", {-1, {}}));
  p.seed = static_cast<std::uint64_t>(
      c.get<std::int64_t>("seed", static_cast<std::int64_t>(p.seed), "seed of the failslab RNG", {0, {}}));
  p.ignore_gfp_reclaim =
      c.get<bool>("ignore_gfp_reclaim", p.ignore_gfp_reclaim, "never fail allocations that may enter direct reclaim");
  p.cache_filter = c.get<bool>("cache_filter", p.cache_filter, "only fail caches created with SLAB_FAILSLAB");
  return p;
}

void Failslab::configure(const FailslabParams& p) {
  p_ = p;
  rng_.seed(p.seed);
  times_left_ = p.times;
  count_ = 0;
}

// should_fail (lib/fault-inject.c) behind should_failslab's filters.
bool Failslab::should_fail_slow(gfp_t gfp, bool cache_marked) {
  if (gfp & __GFP_NOFAIL) return false;
  if (p_.ignore_gfp_reclaim && (gfp & __GFP_DIRECT_RECLAIM)) return false;
  if (p_.cache_filter && !cache_marked) return false;
  ++candidates_;
  if (times_left_ == 0) return false;
  if (p_.interval > 1) {
    ++count_;
    if (count_ % p_.interval) return false;
  }
  if (p_.probability <= rng_() % 100) return false;
  if (times_left_ > 0) --times_left_;
  ++failed_;
  return true;
}

}  // namespace numasim::os
