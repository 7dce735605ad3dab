// Hardware statistics plumbing for the memory-system models (DESIGN.md,
// Statistics: "the gem5 way"). Each module keeps its counters as plain integer
// members (no string lookup, no allocation on the hot path) and, at dump time,
// walks them into a StatsVisitor with a hierarchical name
// ("system.node0.mc.row_hits"), a unit and a description. Rates and ratios are
// computed at dump time from the raw counters. Histogram is a fixed-size,
// fixed-bucket latency histogram (its bucket by a compare and a reciprocal
// multiply, not a hardware division per sample: every DRAM request records
// one; a 64-bit multiply when the buckets end at or below 2^31 ps, as for
// every histogram of the models, else hw/fast_divider.h's 128-bit one).
// Simplifications: a visitor interface defined here because common/stats.h did
// not exist when the hw models were written; an adapter to the lead's stats
// registry can wrap a StatsVisitor.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/units.h"
#include "hw/fast_divider.h"

namespace numasim::hw {

// Latency histogram with `kBuckets` equal buckets of `bucket_width` ps plus an
// overflow bucket; records into a fixed array.
class Histogram {
 public:
  static constexpr std::size_t kBuckets = 64;
  explicit Histogram(Picoseconds bucket_width = Picoseconds(10000))
      : width_(bucket_width), width_div_(bucket_width.value()), overflow_from_(bucket_width.value() * kBuckets) {
    // Values below the overflow bucket have at most kShortBits bits: v / w is
    // (v * m) >> s with m = floor(2^s / w) + 1, s = kShortBits + ceil(log2 w)
    // (Granlund and Montgomery's bound for kShortBits-bit numerators; m is
    // below 2^(kShortBits + 1) + 1, so v * m fits in 64 bits).
    // (Tested on the width, not on overflow_from_: width x kBuckets wraps for
    // widths from 2^58 ps, and a wrapped product must not take this path.)
    if (width_.value() <= (std::uint64_t{1} << kShortBits) / kBuckets) {
      unsigned l = 0;
      while ((std::uint64_t{1} << l) < width_.value()) ++l;
      short_shift_ = kShortBits + l;
      short_m_ = (std::uint64_t{1} << short_shift_) / width_.value() + 1;
    }
  }

  void record(Picoseconds v) {
    ++buckets_[bucket_of(v.value())];
    ++count_;
    sum_ += v.value();
    if (v.value() > max_) max_ = v.value();
    if (v.value() < min_) min_ = v.value();
  }
  // `n` samples of the same value (a bulk transfer's lines), as n calls of record(v).
  void record(Picoseconds v, std::uint64_t n) {
    if (n == 0) return;
    buckets_[bucket_of(v.value())] += n;
    count_ += n;
    sum_ += v.value() * n;
    if (v.value() > max_) max_ = v.value();
    if (v.value() < min_) min_ = v.value();
  }
  void reset() { *this = Histogram(width_); }

  std::uint64_t count() const { return count_; }
  std::uint64_t sum_ps() const { return sum_; }
  std::uint64_t min_ps() const { return count_ ? min_ : 0; }
  std::uint64_t max_ps() const { return max_; }
  double mean_ps() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  Picoseconds bucket_width() const { return width_; }
  // Bucket i covers [i*width, (i+1)*width); bucket kBuckets is the overflow.
  const std::array<std::uint64_t, kBuckets + 1>& buckets() const { return buckets_; }
  // Smallest bucket upper bound below which at least fraction q of samples lie.
  Picoseconds quantile_upper_bound(double q) const;
  // The bucket a value of v ps falls in: min(v / width, kBuckets) (values from
  // kBuckets x width on go to the overflow bucket).
  std::size_t bucket_of(std::uint64_t v) const {
    if (v >= overflow_from_) return kBuckets;
    if (short_m_ != 0) return static_cast<std::size_t>((v * short_m_) >> short_shift_);
    return static_cast<std::size_t>(width_div_.divide(v));
  }

 private:
  static constexpr unsigned kShortBits = 31;

  Picoseconds width_;
  FastDivider width_div_;
  std::uint64_t overflow_from_;
  std::uint64_t short_m_ = 0;  // 0: buckets end past 2^31 ps, FastDivider's multiply
  unsigned short_shift_ = 0;
  std::array<std::uint64_t, kBuckets + 1> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = ~0ull;
  std::uint64_t max_ = 0;
};

inline Picoseconds Histogram::quantile_upper_bound(double q) const {
  if (count_ == 0) return Picoseconds(0);
  const double target = q * static_cast<double>(count_);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i <= kBuckets; ++i) {
    acc += buckets_[i];
    if (static_cast<double>(acc) >= target) {
      return i == kBuckets ? Picoseconds(max_) : width_ * (i + 1);
    }
  }
  return Picoseconds(max_);
}

// Receives every statistic of a module at dump time.
class StatsVisitor {
 public:
  virtual ~StatsVisitor() = default;
  // A raw event count or accumulated quantity.
  virtual void counter(std::string_view name, std::uint64_t value, std::string_view unit,
                       std::string_view description) = 0;
  // A value derived at dump time (rate, ratio, utilisation, mean).
  virtual void formula(std::string_view name, double value, std::string_view unit,
                       std::string_view description) = 0;
  virtual void histogram(std::string_view name, const Histogram& h, std::string_view unit,
                         std::string_view description) = 0;
};

// Collects every statistic into an ordered map (tests, simple dumps); histograms
// contribute <name>.count, <name>.mean and <name>.max.
class MapStatsVisitor : public StatsVisitor {
 public:
  void counter(std::string_view name, std::uint64_t value, std::string_view, std::string_view) override {
    values[std::string(name)] = static_cast<double>(value);
  }
  void formula(std::string_view name, double value, std::string_view, std::string_view) override {
    values[std::string(name)] = value;
  }
  void histogram(std::string_view name, const Histogram& h, std::string_view, std::string_view) override {
    values[std::string(name) + ".count"] = static_cast<double>(h.count());
    values[std::string(name) + ".mean"] = h.mean_ps();
    values[std::string(name) + ".max"] = static_cast<double>(h.max_ps());
  }
  double get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? -1.0 : it->second;
  }
  bool has(const std::string& name) const { return values.count(name) != 0; }
  std::map<std::string, double> values;
};

// Ratio helper that avoids 0/0.
inline double safe_ratio(double num, double den) { return den == 0.0 ? 0.0 : num / den; }

}  // namespace numasim::hw
