// The snoop filter of the machine's private caches (like the per-socket snoop
// filter of Skylake-SP, made one machine-wide structure): for each tracked
// line, the set of CPUs whose L1D or L2 may hold a copy. It is a set-
// associative table of finite size; when a new line needs an entry and its set
// is full, the least recently used entry is evicted and the caller must
// back-invalidate the copies it tracked (what a real snoop filter does), so
// every cached copy outside the LLCs is always tracked.
// A CPU bit may outlive the copy (silent evictions from L1/L2 do not clear it):
// the bits are a superset that probes of the CPU's caches confirm.
// Simplifications: LRU replacement only; no sharer-count compression.
#pragma once

#include <cstdint>
#include <vector>

#include "common/units.h"

namespace numasim::hw {

class CoherenceDirectory {
 public:
  // `entries` (rounded up to a whole number of `ways`-sized sets, a power of
  // two of sets) lines tracked for `cpus` CPUs. Throws std::invalid_argument on zero sizes.
  CoherenceDirectory(std::size_t entries, std::size_t ways, int cpus);

  // Index of the entry tracking `line` (line-aligned address), or -1.
  long find(PhysAddr line) const;
  // The entry for `line`, created empty if absent. When that evicts another
  // line's entry, `evicted` is set to that line and `evicted_sharers` to its
  // CPUs (the caller back-invalidates them); otherwise `evicted` is ~0.
  std::size_t find_or_insert(PhysAddr line, PhysAddr& evicted, std::vector<int>& evicted_sharers);

  bool has(std::size_t entry, int cpu) const { return (word(entry, cpu / 64) >> (cpu % 64)) & 1u; }
  void add(std::size_t entry, int cpu) { word(entry, cpu / 64) |= 1ull << (cpu % 64); }
  void remove(std::size_t entry, int cpu) { word(entry, cpu / 64) &= ~(1ull << (cpu % 64)); }
  // Whether the entry has a CPU other than `cpu` (a quick test before sharers()).
  bool has_others(std::size_t entry, int cpu) const {
    for (std::size_t w = 0; w < words_; ++w) {
      std::uint64_t b = word(entry, static_cast<int>(w));
      if (static_cast<int>(w) == cpu / 64) b &= ~(1ull << (cpu % 64));
      if (b != 0) return true;
    }
    return false;
  }
  // The CPUs of an entry other than `except`, ascending (appended to `out`).
  void sharers(std::size_t entry, int except, std::vector<int>& out) const;
  // Drops the entry (no copy is left anywhere).
  void erase(std::size_t entry);

  std::size_t capacity() const { return tags_.size(); }
  std::uint64_t evictions() const { return evictions_; }
  void reset_stats() { evictions_ = 0; }

 private:
  static constexpr PhysAddr kEmpty = ~PhysAddr(0);
  // A set's tags are contiguous (a lookup reads one host cache line of an
  // 8-way set); the LRU stamps and CPU bits sit apart.
  struct Meta {
    std::uint64_t stamp = 0;  // LRU
    std::uint64_t cpus = 0;   // CPUs 0..63
  };
  // Line number modulo the set count, as the caches index: neighbouring lines
  // sit in neighbouring sets, so a stream of lines walks the table in order.
  std::size_t set_of(PhysAddr line) const { return static_cast<std::size_t>(line >> 6) & set_mask_; }
  std::uint64_t& word(std::size_t entry, int w) {
    return w == 0 ? meta_[entry].cpus : extra_[entry * (words_ - 1) + static_cast<std::size_t>(w - 1)];
  }
  std::uint64_t word(std::size_t entry, int w) const {
    return w == 0 ? meta_[entry].cpus : extra_[entry * (words_ - 1) + static_cast<std::size_t>(w - 1)];
  }

  std::size_t ways_, sets_, set_mask_, words_;
  std::vector<PhysAddr> tags_;        // [set * ways + way]
  std::vector<Meta> meta_;            // [set * ways + way]
  std::vector<std::uint64_t> extra_;  // CPUs 64 and up: [entry * (words_ - 1) + w - 1]
  std::uint64_t clock_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace numasim::hw
