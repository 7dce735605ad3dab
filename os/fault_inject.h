// The fault-injection attribute shared by failslab and fail_page_alloc
// (lib/fault-inject.c struct fault_attr and should_fail): a given percentage of
// candidate calls fail, optionally only every `interval`-th candidate and at
// most `times` times, driven by a seeded RNG so that runs are reproducible.
// Simplified: no task filter, no stacktrace filter, no `space` budget, no
// verbose dumps.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace numasim {
class Config;
}

namespace numasim::os {

struct FaultAttrParams {
  unsigned probability = 0;    // percent of candidate calls that fail (0..100)
  unsigned long interval = 1;  // only every interval-th candidate may fail
  long times = -1;             // at most this many failures (-1: unlimited)
  std::uint64_t seed = 1;      // RNG seed

  // Reads probability, interval, times and seed from the table of the knob `what`.
  static FaultAttrParams from_config(Config& c, const std::string& what);
};

class FaultAttr {
 public:
  explicit FaultAttr(const FaultAttrParams& p = {}) { configure(p); }
  void configure(const FaultAttrParams& p);
  const FaultAttrParams& params() const { return p_; }
  bool enabled() const { return p_.probability != 0; }
  // should_fail for a candidate that passed the caller's filters.
  bool should_fail();
  std::uint64_t nr_failed() const { return failed_; }
  std::uint64_t nr_candidates() const { return candidates_; }

 private:
  FaultAttrParams p_;
  std::mt19937_64 rng_;
  long times_left_ = -1;
  std::uint64_t count_ = 0;
  std::uint64_t candidates_ = 0;
  std::uint64_t failed_ = 0;
};

}  // namespace numasim::os
