// What cached page clears leave in the caches, kept approximately
// ([cache] clear_residue = "deferred"; issue 15): the bookkeeping only, no
// cache operation. A cached clear of a whole 4 KiB page (clear_page, and each
// page of a cached huge-page clear) that finds none of the page's lines in any
// cache records the page once instead of installing its 64 lines: the page
// becomes its CPU's newest entry in its socket's ring, with a 64-bit mask of
// the lines still notionally resident and dirty ("virtual" lines, held by no
// cache array). Their level follows from the page's age, counted in pages
// that CPU cleared since: the newest L1D-capacity pages are in its L1D, then
// its L2's worth in L2, then its socket's LLC. MemorySystem turns a virtual
// line into a real one at that level (CacheHierarchy::install_residue) before
// anything touches it: a demand miss, a page walk, an L2 prefetch, a copy or
// clear of the page, a streamed transfer over it. A page that leaves the ring
// (it holds the socket's LLC and one core's L1D and L2 in pages) hands its
// virtual lines back to be written to memory, which is what the exact model's
// LLC victims cost in steady state: the new clear's line j posts the old
// page's line j, as the exact model's LLC victim of line j's set would be.
// Simplifications: virtual lines occupy no way of any set, so user lines that
// share sets with recent clears are not displaced (and the snoop filter holds
// no entry for them); ages count clears only, not the user traffic between
// them; one core's L1D and L2 are counted in the ring whatever the number of
// cores clearing; the LLC is taken as wholly the clears' (a core whose other
// traffic fills the LLC keeps cleared pages there longer than the exact model).
// Lookup is a direct-mapped (linear probing) table by frame, allocation-free;
// a count per 2 MiB region lets the miss path skip it where nothing is recorded.
#pragma once

#include <cstdint>
#include <vector>

#include "common/units.h"

namespace numasim::hw {

class ClearResidue {
 public:
  struct Shape {
    std::vector<int> cpu_socket;  // socket of each CPU
    int sockets = 1;
    // Capacities in 4 KiB pages: one core's L1D and L2, a socket's LLC.
    std::uint64_t l1_pages = 8, l2_pages = 256, llc_pages = 6336;
    PhysAddr mem_end = 0;  // physical memory ends here (the region counts' extent)
  };
  explicit ClearResidue(const Shape& shape);

  static constexpr unsigned kPageLines = 64;
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  static constexpr unsigned kRegionShift = 21;

  // False when no recorded page lies in pa's 2 MiB region (the miss path's filter).
  bool may_hold(PhysAddr pa) const {
    const std::size_t r = static_cast<std::size_t>(pa >> kRegionShift);
    return r < regions_.size() && regions_[r] != 0;
  }
  // The entry of the page holding `pa`, or kNone.
  std::uint32_t find(PhysAddr pa) const;
  // Where entry e's virtual lines are now: 1 its CPU's L1D, 2 its L2, 3 its socket's LLC.
  int level(std::uint32_t e) const {
    const Entry& x = entries_[e];
    const std::uint64_t newer = clears_[static_cast<std::size_t>(x.cpu)] - x.seq + 1;  // 1: its CPU's newest
    return newer <= shape_.l1_pages ? 1 : (newer <= shape_.l1_pages + shape_.l2_pages ? 2 : 3);
  }
  CpuId cpu(std::uint32_t e) const { return CpuId(entries_[e].cpu); }
  PhysAddr page(std::uint32_t e) const { return entries_[e].page; }
  std::uint64_t mask(std::uint32_t e) const { return entries_[e].mask; }
  // Line i of entry e becomes real (the caller installs it): returns whether it was virtual.
  bool take_line(std::uint32_t e, unsigned i);
  // Every virtual line of entry e becomes real: returns their mask.
  std::uint64_t take_all(std::uint32_t e);
  // A deferred clear of `page` (4 KiB-aligned, not recorded) by `cpu`. When its
  // socket's ring is full, the oldest page leaves it: returns true with that
  // page and its lines still virtual (to be written back) in aged / aged_mask.
  bool record(CpuId cpu, PhysAddr page, PhysAddr& aged, std::uint64_t& aged_mask);

  // Counts (system.mem.clear_residue.*).
  struct Stats {
    std::uint64_t pages_deferred = 0;      // clears recorded instead of installed
    std::uint64_t pages_exact = 0;         // clears that found a line of the page cached: installed exactly
    std::uint64_t lines_to_level[4] = {};  // virtual lines made real, by level (1..3)
    std::uint64_t lines_written_back = 0;  // virtual lines of pages leaving the ring
  };
  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }
  // Virtual lines held now, over every ring.
  std::uint64_t virtual_lines() const { return virtual_lines_; }
  std::uint64_t ring_pages() const { return capacity_; }  // per socket

 private:
  struct Entry {
    PhysAddr page = 0;
    std::uint64_t mask = 0;
    std::uint64_t seq = 0;  // its CPU's clear count after this clear
    std::int32_t cpu = -1;
    bool indexed = false;  // in the table (some line still virtual)
  };
  struct Ring {
    std::uint64_t head = 0;  // next slot to fill (the oldest when full)
    std::uint64_t count = 0;
  };
  std::size_t slot_of(std::uint64_t frame) const {
    return static_cast<std::size_t>((frame * 0x9E3779B97F4A7C15ull) >> hash_shift_);
  }
  void index(std::uint32_t e);
  void unindex(std::uint32_t e);

  Shape shape_;
  std::uint64_t capacity_;             // pages per socket's ring
  std::vector<Entry> entries_;         // socket s's ring: [s * capacity_, (s + 1) * capacity_)
  std::vector<Ring> rings_;            // by socket
  std::vector<std::uint64_t> clears_;  // deferred clears by CPU
  // Linear-probing table: (frame + 1) in the low 32 bits, the entry in the high; 0 = empty.
  std::vector<std::uint64_t> table_;
  unsigned hash_shift_ = 64;
  std::vector<std::uint16_t> regions_;  // indexed pages by 2 MiB region
  std::uint64_t virtual_lines_ = 0;
  Stats stats_;
};

}  // namespace numasim::hw
