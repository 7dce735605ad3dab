// Strong types for the quantities that flow between the layers: simulated time
// in picoseconds, core cycles, byte counts, physical frame numbers and node ids,
// plus the two rates (frequency, bandwidth) that convert between them.
// Integer only: no floating point may enter timing state (DESIGN.md, Timing).
#pragma once

#include <compare>
#include <cstdint>

namespace numasim {

// A count of something, tagged so that picoseconds cannot be added to cycles.
template <class Tag, class Rep = std::uint64_t>
class Quantity {
 public:
  using rep = Rep;
  constexpr Quantity() = default;
  constexpr explicit Quantity(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }

  constexpr Quantity& operator+=(Quantity other) {
    value_ += other.value_;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity other) {
    value_ -= other.value_;
    return *this;
  }
  friend constexpr Quantity operator+(Quantity a, Quantity b) { return Quantity(a.value_ + b.value_); }
  friend constexpr Quantity operator-(Quantity a, Quantity b) { return Quantity(a.value_ - b.value_); }
  friend constexpr Quantity operator*(Quantity a, Rep k) { return Quantity(a.value_ * k); }
  friend constexpr Quantity operator*(Rep k, Quantity a) { return Quantity(a.value_ * k); }
  friend constexpr Quantity operator/(Quantity a, Rep k) { return Quantity(a.value_ / k); }
  friend constexpr Rep operator/(Quantity a, Quantity b) { return a.value_ / b.value_; }
  friend constexpr auto operator<=>(Quantity, Quantity) = default;
  friend constexpr bool operator==(Quantity, Quantity) = default;

 private:
  Rep value_{};
};

struct PicosecondsTag;
struct CyclesTag;
struct BytesTag;
struct PfnTag;
struct NodeIdTag;
struct CpuIdTag;

using Picoseconds = Quantity<PicosecondsTag>;      // simulated time
using Cycles = Quantity<CyclesTag>;                // core clock cycles
using Bytes = Quantity<BytesTag>;                  // sizes and traffic
using Pfn = Quantity<PfnTag>;                      // physical frame number (4 KiB frames)
using NodeId = Quantity<NodeIdTag, std::int32_t>;  // NUMA node, as numbered by Linux
using CpuId = Quantity<CpuIdTag, std::int32_t>;    // logical CPU, as numbered by Linux

using PhysAddr = std::uint64_t;  // byte address in the simulated physical address space
using VirtAddr = std::uint64_t;  // byte address in a simulated process's address space

inline constexpr std::uint64_t kPageShift = 12;
inline constexpr std::uint64_t kPageSize = 1ull << kPageShift;
inline constexpr std::uint64_t kCacheLineBytes = 64;

constexpr PhysAddr pfn_to_phys(Pfn pfn) { return pfn.value() << kPageShift; }
constexpr Pfn phys_to_pfn(PhysAddr addr) { return Pfn(addr >> kPageShift); }

inline constexpr Picoseconds operator""_ps(unsigned long long v) { return Picoseconds(v); }
inline constexpr Picoseconds operator""_ns(unsigned long long v) { return Picoseconds(v * 1000); }
inline constexpr Picoseconds operator""_us(unsigned long long v) { return Picoseconds(v * 1000000); }
inline constexpr Bytes operator""_KiB(unsigned long long v) { return Bytes(v << 10); }
inline constexpr Bytes operator""_MiB(unsigned long long v) { return Bytes(v << 20); }
inline constexpr Bytes operator""_GiB(unsigned long long v) { return Bytes(v << 30); }

// Clock frequency in Hz; converts cycles to time exactly (rounded to nearest ps).
class Frequency {
 public:
  constexpr Frequency() = default;
  constexpr explicit Frequency(std::uint64_t hz) : hz_(hz) {}
  constexpr std::uint64_t hz() const { return hz_; }
  constexpr Picoseconds to_time(Cycles c) const {
    unsigned __int128 ps = static_cast<unsigned __int128>(c.value()) * 1000000000000ull;
    return Picoseconds(static_cast<std::uint64_t>((ps + hz_ / 2) / hz_));
  }
  // Whole cycles that fit in t, rounded up (a core waiting t stalls this many cycles).
  constexpr Cycles to_cycles(Picoseconds t) const {
    unsigned __int128 c = static_cast<unsigned __int128>(t.value()) * hz_;
    return Cycles(static_cast<std::uint64_t>((c + 999999999999ull) / 1000000000000ull));
  }
  friend constexpr bool operator==(Frequency, Frequency) = default;

 private:
  std::uint64_t hz_ = 1;
};

// Transfer rate in bytes per second; gives the serialisation time of a transfer.
class Bandwidth {
 public:
  constexpr Bandwidth() = default;
  constexpr explicit Bandwidth(std::uint64_t bytes_per_second) : bps_(bytes_per_second) {}
  constexpr std::uint64_t bytes_per_second() const { return bps_; }
  constexpr Picoseconds transfer_time(Bytes b) const {
    unsigned __int128 ps = static_cast<unsigned __int128>(b.value()) * 1000000000000ull;
    return Picoseconds(static_cast<std::uint64_t>((ps + bps_ - 1) / bps_));
  }
  friend constexpr bool operator==(Bandwidth, Bandwidth) = default;

 private:
  std::uint64_t bps_ = 1;
};

}  // namespace numasim
