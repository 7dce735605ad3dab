// Seeded pseudo-random numbers for generators: SplitMix64 to expand seeds and
// xoshiro256** (Blackman and Vigna) for streams; integer-only, identical on
// every host, so a configuration and seed always give the same op stream.
// Simplified: bounded draws use Lemire's multiply-shift without the rejection
// step (bias below 2^-32 for the table sizes used here).
#pragma once

#include <cmath>
#include <cstdint>

namespace numasim::workloads {

// A probability as a 64-bit threshold: a uniform draw below it happens with
// probability r (0 never, 1 always), so the hot path compares integers.
inline std::uint64_t ratio_threshold(double r) {
  if (r <= 0) return 0;
  if (r >= 1) return UINT64_MAX;
  return static_cast<std::uint64_t>(std::ldexp(r, 64));
}

constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mixes a workload seed with stream identifiers (thread index, purpose).
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0) {
  std::uint64_t s = seed ^ (a * 0xD1B54A32D192ED03ull) ^ (b * 0x8CB92BA72F3D8DD7ull);
  return splitmix64(s);
}

class Rng {
 public:
  explicit constexpr Rng(std::uint64_t seed = 1) {
    std::uint64_t s = seed;
    for (auto& w : s_) w = splitmix64(s);
  }
  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n > 0.
  constexpr std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace numasim::workloads
