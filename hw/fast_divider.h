// Division of unsigned 64-bit values by a divisor fixed at construction, as the
// DRAM address decode and refresh arithmetic do once or more per memory
// reference: a shift and mask when the divisor is a power of two, else a
// multiply by a precomputed reciprocal (Granlund and Montgomery, "Division by
// invariant integers using multiplication", 1994: m = floor(2^(N+l)/d) + 1 with
// l = ceil(log2 d) gives floor(x/d) = floor(x*m / 2^(N+l)) for every x < 2^N).
// Simplifications: the reciprocal is exact for numerators below 2^62 (line
// numbers and picosecond times of any realistic run); larger numerators take a
// hardware division, so every result equals x / d.
#pragma once

#include <cstdint>
#include <stdexcept>

namespace numasim::hw {

class FastDivider {
 public:
  static constexpr unsigned kExactBits = 62;

  FastDivider() : FastDivider(1) {}
  // Throws std::invalid_argument on a zero divisor.
  explicit FastDivider(std::uint64_t d) : d_(d) {
    if (d == 0) throw std::invalid_argument("FastDivider: division by zero");
    unsigned l = 0;
    while (l < 64 && (std::uint64_t{1} << l) < d) ++l;  // l = ceil(log2 d)
    if ((d & (d - 1)) == 0) {
      pow2_ = true;
      shift_ = l;
      return;
    }
    pow2_ = false;
    shift_ = kExactBits + l;  // <= 62 + 64 = 126
    m_ = static_cast<std::uint64_t>((U128{1} << shift_) / d + 1);  // < 2^63 + 1
  }

  std::uint64_t divisor() const { return d_; }
  bool is_pow2() const { return pow2_; }
  // log2 of the divisor when it is a power of two.
  unsigned log2() const { return pow2_ ? shift_ : 0; }

  std::uint64_t divide(std::uint64_t x) const {
    if (pow2_) return x >> shift_;
    if ((x >> kExactBits) != 0) [[unlikely]]
      return x / d_;
    return static_cast<std::uint64_t>((static_cast<U128>(x) * m_) >> shift_);
  }
  // x mod d, given q = divide(x).
  std::uint64_t remainder(std::uint64_t x, std::uint64_t q) const { return x - q * d_; }

 private:
  __extension__ typedef unsigned __int128 U128;
  std::uint64_t d_ = 1;
  std::uint64_t m_ = 0;
  unsigned shift_ = 0;
  bool pow2_ = true;
};

}  // namespace numasim::hw
