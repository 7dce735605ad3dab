// Bulk operations of the cache hierarchy for kernel transfers (see
// cache_hierarchy.h): a streaming transfer's invalidation of a whole range in
// one pass. Same effect, line for line, as invalidate_everywhere on each line;
// it only skips, once for the range, the sockets whose LLC region counts say
// they hold nothing of it, and the private caches when the caller says so. Simplifications: none beyond invalidate_everywhere's.
#include "hw/cache_hierarchy.h"

namespace numasim::hw {

std::uint64_t CacheHierarchy::invalidate_lines_everywhere(PhysAddr first, std::uint64_t n,
                                                          std::vector<PhysAddr>* dirty, bool private_clean) {
  if (n == 0) return 0;
  const PhysAddr last = first + (n - 1) * kCacheLineBytes;
  // Sockets whose LLC may hold a line of the range (at most 64 are tracked here; more fall back to every line).
  std::uint64_t llcs = 0;
  const std::size_t sockets = llc_.size();
  for (std::size_t s = 0; s < sockets && s < 64; ++s)
    if (!llc_clean(static_cast<int>(s), first, last)) llcs |= std::uint64_t{1} << s;
  std::uint64_t count = 0;
  if (private_clean && llcs == 0 && sockets <= 64) return 0;
  for (PhysAddr line = first; line <= last; line += kCacheLineBytes) {
    bool d = !private_clean && invalidate_private(line);
    for (std::uint64_t m = llcs; m != 0; m &= m - 1)
      d = llc_[static_cast<std::size_t>(__builtin_ctzll(m))]->invalidate(line).dirty || d;
    for (std::size_t s = 64; s < sockets; ++s) d = llc_[s]->invalidate(line).dirty || d;
    if (d) {
      ++count;
      if (dirty) dirty->push_back(line);
    }
  }
  return count;
}

}  // namespace numasim::hw
