// Snoop filter of the private caches (see coherence_directory.h).
#include "hw/coherence_directory.h"

#include "hw/way_scan.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>

namespace numasim::hw {

CoherenceDirectory::CoherenceDirectory(std::size_t entries, std::size_t ways, int cpus) : ways_(ways) {
  if (entries == 0 || ways == 0 || cpus <= 0)
    throw std::invalid_argument("coherence directory: entries, ways and cpus must be positive");
  sets_ = 1;
  while (sets_ * ways_ < entries) sets_ *= 2, ++set_shift_;
  set_mask_ = sets_ - 1;
  // At least 8 words, so that the tags and the stamps can each be read in whole
  // groups of four (way_scan.h's padded searches) without leaving the block.
  block_shift_ = 3;
  while ((std::size_t{1} << block_shift_) < 2 * ways_) ++block_shift_;
  words_ = (static_cast<std::size_t>(cpus) + 63) / 64;
  blocks_.assign(sets_ << block_shift_, 0);
  for (std::size_t s = 0; s < sets_; ++s) std::fill(block(s), block(s) + ways_, kEmptyTag);
  cpus_.assign(sets_ * ways_, 0);
  extra_.assign(sets_ * ways_ * (words_ - 1), 0);
  empty_entries_ = sets_ * ways_;
}

void CoherenceDirectory::renumber_stamps() {
  std::vector<std::pair<std::uint32_t, std::size_t>> order;
  for (std::size_t s = 0; s < sets_; ++s) {
    std::uint32_t* stamp = block(s) + ways_;
    order.clear();
    for (std::size_t w = 0; w < ways_; ++w) order.emplace_back(stamp[w], w);
    std::sort(order.begin(), order.end());
    for (std::size_t r = 0; r < order.size(); ++r) stamp[order[r].second] = static_cast<std::uint32_t>(r + 1);
  }
  clock_ = static_cast<std::uint32_t>(ways_);
}

void CoherenceDirectory::die_untrackable(PhysAddr line) {
  std::fprintf(stderr, "numasim: internal error: the snoop filter cannot track physical address 0x%llx\n",
               static_cast<unsigned long long>(line));
  std::abort();
}

std::size_t CoherenceDirectory::find_or_insert(PhysAddr line, PhysAddr& evicted, std::vector<int>& evicted_sharers) {
  bool fresh;
  const std::size_t e = claim(line, evicted, fresh);
  if (evicted != kEmpty) sharers(e, -1, evicted_sharers);
  if (fresh)
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
  std::uint32_t& tag = block(entry / ways_)[entry % ways_];
  if (tag != kEmptyTag) ++empty_entries_;
  tag = kEmptyTag;
  for (std::size_t w = 0; w < words_; ++w) word(entry, static_cast<int>(w)) = 0;
}

}  // namespace numasim::hw
