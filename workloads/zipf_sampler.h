// Draws ranks 1..n with probability proportional to k^-alpha (Zipf), in O(1)
// time and memory per draw by rejection-inversion (W. Hormann and G. Derflinger,
// "Rejection-inversion to generate variates from monotone discrete
// distributions", 1996): invert the integral of the continuous density x^-alpha
// and accept with a cheap test, so no table of n probabilities is needed.
// Also a seeded bijection of [0, n) to scatter hot ranks over the footprint.
// Simplified: alpha > 0 only (alpha = 0 is the uniform case, use Rng::below).
#pragma once

#include <cstdint>

#include "workloads/rng.h"

namespace numasim::workloads {

class ZipfSampler {
 public:
  ZipfSampler(std::uint64_t n, double alpha);
  // Rank in [1, n].
  std::uint64_t sample(Rng& rng) const;
  // Exact probability of rank k (for tests): k^-alpha / H(n, alpha); O(n) per call.
  double probability(std::uint64_t k) const;

 private:
  double h(double x) const;  // x^-alpha
  double H(double x) const;  // integral of h from 1 to x
  double H_inverse(double y) const;
  std::uint64_t n_;
  double alpha_;
  double h_integral_x1_, h_integral_n_, s_;
};

// rank -> (rank * multiplier + offset) mod n with gcd(multiplier, n) = 1: a
// permutation of [0, n) that spreads consecutive ranks apart.
class ScatterMap {
 public:
  ScatterMap(std::uint64_t n, std::uint64_t seed);
  std::uint64_t operator()(std::uint64_t rank) const {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(rank) * mul_ + off_) % n_);
  }

 private:
  std::uint64_t n_, mul_, off_;
};

}  // namespace numasim::workloads
