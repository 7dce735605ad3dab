// Snoop filter of the private caches (see coherence_directory.h).
#include "hw/coherence_directory.h"

#include <stdexcept>

namespace numasim::hw {

CoherenceDirectory::CoherenceDirectory(std::size_t entries, std::size_t ways, int cpus) : ways_(ways) {
  if (entries == 0 || ways == 0 || cpus <= 0)
    throw std::invalid_argument("coherence directory: entries, ways and cpus must be positive");
  sets_ = 1;
  while (sets_ * ways_ < entries) sets_ *= 2;
  set_mask_ = sets_ - 1;
  words_ = (static_cast<std::size_t>(cpus) + 63) / 64;
  tags_.assign(sets_ * ways_, kEmpty);
  meta_.assign(sets_ * ways_, Meta{});
  extra_.assign(sets_ * ways_ * (words_ - 1), 0);
}

long CoherenceDirectory::find(PhysAddr line) const {
  const std::size_t base = set_of(line) * ways_;
  for (std::size_t w = 0; w < ways_; ++w)
    if (tags_[base + w] == line) return static_cast<long>(base + w);
  return -1;
}

std::size_t CoherenceDirectory::find_or_insert(PhysAddr line, PhysAddr& evicted, std::vector<int>& evicted_sharers) {
  evicted = kEmpty;
  const std::size_t base = set_of(line) * ways_;
  const PhysAddr* tags = &tags_[base];
  std::size_t victim = ways_;
  for (std::size_t w = 0; w < ways_; ++w) {
    if (tags[w] == line) {
      meta_[base + w].stamp = ++clock_;
      return base + w;
    }
    if (victim == ways_ && tags[w] == kEmpty) victim = w;
  }
  if (victim == ways_) {
    victim = 0;
    for (std::size_t w = 1; w < ways_; ++w)
      if (meta_[base + w].stamp < meta_[base + victim].stamp) victim = w;
  }
  const std::size_t e = base + victim;
  if (tags_[e] != kEmpty) {
    ++evictions_;
    evicted = tags_[e];
    sharers(e, -1, evicted_sharers);
  }
  tags_[e] = line;
  meta_[e].stamp = ++clock_;
  for (std::size_t w = 0; w < words_; ++w) word(e, static_cast<int>(w)) = 0;
  return e;
}

void CoherenceDirectory::sharers(std::size_t entry, int except, std::vector<int>& out) const {
  for (std::size_t w = 0; w < words_; ++w) {
    std::uint64_t b = word(entry, static_cast<int>(w));
    while (b) {
      const int cpu = static_cast<int>(w * 64) + __builtin_ctzll(b);
      b &= b - 1;
      if (cpu != except) out.push_back(cpu);
    }
  }
}

void CoherenceDirectory::erase(std::size_t entry) {
  tags_[entry] = kEmpty;
  for (std::size_t w = 0; w < words_; ++w) word(entry, static_cast<int>(w)) = 0;
}

}  // namespace numasim::hw
