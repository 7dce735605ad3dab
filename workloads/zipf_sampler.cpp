// Rejection-inversion Zipf sampling and the scatter bijection.
#include "workloads/zipf_sampler.h"

#include <cmath>
#include <numeric>

namespace numasim::workloads {
namespace {
// log1p(t)/t, continuous at 0.
double log1p_over(double t) { return std::fabs(t) > 1e-8 ? std::log1p(t) / t : 1.0 - t * (0.5 - t / 3.0); }
// expm1(t)/t, continuous at 0.
double expm1_over(double t) { return std::fabs(t) > 1e-8 ? std::expm1(t) / t : 1.0 + t * (0.5 + t / 6.0); }
}  // namespace

ZipfSampler::ZipfSampler(std::uint64_t n, double alpha) : n_(n ? n : 1), alpha_(alpha > 0 ? alpha : 1e-9) {
  h_integral_x1_ = H(1.5) - 1.0;
  h_integral_n_ = H(static_cast<double>(n_) + 0.5);
  s_ = 2.0 - H_inverse(H(2.5) - h(2.0));
}

double ZipfSampler::h(double x) const { return std::exp(-alpha_ * std::log(x)); }

double ZipfSampler::H(double x) const {
  double lx = std::log(x);
  return expm1_over((1.0 - alpha_) * lx) * lx;
}

double ZipfSampler::H_inverse(double y) const {
  double t = y * (1.0 - alpha_);
  if (t < -1.0) t = -1.0;  // guards rounding at the far end
  return std::exp(log1p_over(t) * y);
}

std::uint64_t ZipfSampler::sample(Rng& rng) const {
  for (;;) {
    double u = h_integral_n_ + rng.unit() * (h_integral_x1_ - h_integral_n_);
    double x = H_inverse(u);
    double kd = std::floor(x + 0.5);
    if (kd < 1.0) kd = 1.0;
    if (kd > static_cast<double>(n_)) kd = static_cast<double>(n_);
    if (kd - x <= s_ || u >= H(kd + 0.5) - h(kd)) return static_cast<std::uint64_t>(kd);
  }
}

double ZipfSampler::probability(std::uint64_t k) const {
  double norm = 0;
  for (std::uint64_t i = 1; i <= n_; ++i) norm += h(static_cast<double>(i));
  return h(static_cast<double>(k)) / norm;
}

ScatterMap::ScatterMap(std::uint64_t n, std::uint64_t seed) : n_(n ? n : 1) {
  Rng rng(seed);
  // Near n times the golden ratio's fraction, then the next value coprime with n.
  mul_ = (n_ > 2 ? static_cast<std::uint64_t>(static_cast<double>(n_) * 0.6180339887) : 1) | 1;
  while (std::gcd(mul_, n_) != 1) mul_ += 2;
  mul_ %= n_;
  if (mul_ == 0) mul_ = 1;
  off_ = rng.below(n_);
}

}  // namespace numasim::workloads
