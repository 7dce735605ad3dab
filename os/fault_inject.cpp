// Fault-injection attribute (lib/fault-inject.c): see fault_inject.h.
#include "os/fault_inject.h"

#include "common/config.h"

namespace numasim::os {

FaultAttrParams FaultAttrParams::from_config(Config& c, const std::string& what) {
  FaultAttrParams p;
  p.probability = static_cast<unsigned>(
      c.get<std::int64_t>("probability", p.probability, "percent of " + what + " that fail", {0, 100}));
  p.interval = static_cast<unsigned long>(c.get<std::int64_t>("interval", static_cast<std::int64_t>(p.interval),
                                                              "only every interval-th candidate may fail", {1, {}}));
  p.times =
      static_cast<long>(c.get<std::int64_t>("times", p.times, "at most this many failures (-1: unlimited)", {-1, {}}));
  p.seed = static_cast<std::uint64_t>(
      c.get<std::int64_t>("seed", static_cast<std::int64_t>(p.seed), "seed of the fault-injection RNG", {0, {}}));
  return p;
}

void FaultAttr::configure(const FaultAttrParams& p) {
  p_ = p;
  rng_.seed(p.seed);
  times_left_ = p.times;
  count_ = 0;
}

// should_fail: counted as a candidate, then interval, times and probability.
bool FaultAttr::should_fail() {
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
