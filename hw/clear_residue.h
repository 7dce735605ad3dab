// What cached page clears leave in the caches, kept approximately
// ([cache] clear_residue = "deferred"; issue 15): the bookkeeping only, no
// cache operation. A cached clear of a whole 4 KiB page (clear_page, and each
// page of a cached huge-page clear) that finds none of the page's lines in any
// cache records the page once instead of installing its 64 lines: the page
// becomes its CPU's newest entry in its socket's ring, with a 64-bit mask of
// the lines still notionally resident and dirty ("virtual" lines, held by no
// cache array). Their level follows from the page's age: counted in pages
// that CPU cleared since, the newest L1D-capacity pages are in its L1D, then
// its L2's worth in L2; then its socket's LLC, which they leave once the LLC
// took as many lines after them as it holds (its real fills and the virtual
// lines that entered it: an LRU line untouched for that long is gone).
// MemorySystem turns a virtual line into a real one at that level
// (CacheHierarchy::install_residue) before anything touches it: a demand
// miss, a page walk, an L2 prefetch, a copy or clear of the page, a streamed
// transfer over it. A page that leaves the LLC hands its virtual lines back to
// be written to memory, as the exact model's LLC victims are: with the next
// clear of its socket, its line j posted with that clear's line j.
// CacheHierarchy::displace_for_clear takes out the real lines the virtual
// ones would have pushed out.
// Simplifications: virtual lines occupy no way of any set (their pressure is
// displace_for_clear's, on average, not set by set) and no snoop-filter entry;
// L1D and L2 ages count the CPU's clears only, not its other traffic; a page
// leaves the LLC in its socket's clear order (a younger page of another core
// that is older in the LLC waits for it); the ring holds the LLC and each
// core's L1D and L2 in pages, and a page forced out of a full ring is written
// back early; a page that left the LLC is written back only with its
// socket's next deferred clear or when something looks it up, so a burst of
// clears followed by other traffic alone leaves up to a ring of pages
// unwritten (DRAM writes under-counted; the exact model writes them as LLC
// victims of that traffic); a re-cleared page's virtual lines go to memory at
// the whole transfer's start time, not its chunk's; a recorded line made real
// in L1D by a demand access counts as an L1D miss and fill, where the exact
// model counts a hit. Only the bulk transfer path ([platform]
// kernel_transfers = "bulk", the default) defers clears; the line path
// installs every line.
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
  // Real fills so far (CacheArray::insertions) of a CPU's L1D and L2 and its socket's LLC.
  struct Fills {
    std::uint64_t l1 = 0, l2 = 0, llc = 0;
  };
  // Where entry e's virtual lines are: 1 its CPU's L1D, 2 its L2, 3 its
  // socket's LLC, 4 gone to memory (not yet written back); `fills`: of its
  // CPU's caches. Each array's clock counts the lines it took (its real fills
  // and the virtual lines that entered it). The page is in L1D while L1D took
  // fewer lines than it holds since the clear, in L2 while L2 took fewer than
  // L1D and L2 hold, in the LLC while the LLC took fewer than it holds since
  // the page entered it (record() moves it there after l1_pages + l2_pages
  // clears of its CPU; a page looked up before that counts from its clear,
  // less the lines L1D and L2 hold).
  // (The lines after the page's own: L1D holds it while they are at most its
  // size less a page, and so on.)
  int level(std::uint32_t e, const Fills& fills) const {
    const Entry& x = entries_[e];
    const auto c = static_cast<std::size_t>(x.cpu);
    if (l1_clock(c, fills.l1) - x.l1_at <= l1_lines_ - kPageLines) return 1;
    if (l2_clock(c, fills.l2) - x.l2_at <= l1_lines_ + l2_lines_ - kPageLines) return 2;
    const std::uint64_t clock = llc_clock(x.socket, fills.llc);
    const std::uint64_t since =
        x.llc_entry != 0 ? clock - (x.llc_entry - 1)
                         : (clock - x.llc_at > l1_lines_ + l2_lines_ ? clock - x.llc_at - l1_lines_ - l2_lines_ : 0);
    return since > llc_lines_ ? 4 : 3;
  }
  CpuId cpu(std::uint32_t e) const { return CpuId(entries_[e].cpu); }
  int socket(std::uint32_t e) const { return entries_[e].socket; }
  PhysAddr page(std::uint32_t e) const { return entries_[e].page; }
  std::uint64_t mask(std::uint32_t e) const { return entries_[e].mask; }
  // Line i of entry e becomes real at `level` (the caller installs it): returns whether it was virtual.
  bool take_line(std::uint32_t e, unsigned i, int level);
  // Every virtual line of entry e becomes real at `level` (4: is written
  // back to memory by the caller): returns their mask.
  std::uint64_t take_all(std::uint32_t e, int level);
  // A deferred clear of `page` (4 KiB-aligned, not recorded) by `cpu`, whose
  // socket's LLC has had `llc_fills` real fills. `moved` gets how many lines of
  // the CPU's earlier clears are still virtual: its previous clear's (in its
  // L1D: those its next accesses did not make real), the page that now leaves
  // its L1D (into L2) and the one that leaves its L2 (into the LLC). The pages
  // that leave the socket's LLC (or the full ring) are then aged_page(i),
  // aged_mask(i) for i < aged(): their lines still virtual, to write back.
  struct Moved {
    unsigned previous = 0, to_l2 = 0, to_llc = 0;
  };
  void record(CpuId cpu, PhysAddr page, const Fills& fills, Moved& moved);
  std::size_t aged() const { return aged_.size(); }
  PhysAddr aged_page(std::size_t i) const { return aged_[i].page; }
  std::uint64_t aged_mask(std::size_t i) const { return aged_[i].mask; }

  // Counts (system.mem.clear_residue.*).
  struct Stats {
    std::uint64_t pages_deferred = 0;      // clears recorded instead of installed
    std::uint64_t pages_exact = 0;         // clears that found a line of the page cached: installed exactly
    std::uint64_t lines_to_level[4] = {};  // virtual lines made real, by level (1..3)
    std::uint64_t lines_written_back = 0;  // virtual lines written to memory (their page left the LLC)
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
    std::uint64_t seq = 0;                           // its CPU's clear count after this clear
    std::uint64_t l1_at = 0, l2_at = 0, llc_at = 0;  // the clocks of its CPU's L1D, L2 and LLC at the clear
    std::uint64_t llc_entry = 0;                     // 1 + the socket's LLC clock when it entered the LLC; 0: not yet
    std::int32_t cpu = -1;
    std::int32_t socket = -1;
    bool indexed = false;  // in the table (some line still virtual)
  };
  struct Ring {
    std::uint64_t head = 0;  // next slot to fill
    std::uint64_t count = 0;
  };
  struct Aged {
    PhysAddr page;
    std::uint64_t mask;
  };
  // Lines each array took so far: its real fills and the virtual lines that
  // entered it, less the real fills of lines made real (counted already as virtual).
  std::uint64_t l1_clock(std::size_t cpu, std::uint64_t fills) const {
    return fills + kPageLines * clears_[cpu] - made_real_[3 * cpu];
  }
  std::uint64_t l2_clock(std::size_t cpu, std::uint64_t fills) const {
    return fills + l2_virtual_[cpu] - made_real_[3 * cpu + 1];
  }
  std::uint64_t llc_clock(int socket, std::uint64_t llc_fills) const {
    return llc_fills + llc_virtual_[static_cast<std::size_t>(socket)] -
           llc_made_real_[static_cast<std::size_t>(socket)];
  }
  void count_real(const Entry& x, int level, std::uint64_t n) {
    if (level <= 2)
      made_real_[3 * static_cast<std::size_t>(x.cpu) + static_cast<std::size_t>(level - 1)] += n;
    else if (level == 3)
      llc_made_real_[static_cast<std::size_t>(x.socket)] += n;
  }
  // Entry x's virtual lines enter its socket's LLC now: returns how many.
  unsigned enter_llc(Entry& x, std::uint64_t llc_fills) {
    const auto n = static_cast<unsigned>(__builtin_popcountll(x.mask));
    x.llc_entry = llc_clock(x.socket, llc_fills) + 1;
    llc_virtual_[static_cast<std::size_t>(x.socket)] += n;
    return n;
  }
  std::size_t slot_of(std::uint64_t frame) const {
    return static_cast<std::size_t>((frame * 0x9E3779B97F4A7C15ull) >> hash_shift_);
  }
  void index(std::uint32_t e);
  void unindex(std::uint32_t e);
  // Virtual lines of entry e if it is still `cpu`'s clear number `seq`.
  unsigned virtual_of(std::uint32_t e, int cpu, std::uint64_t seq) const {
    const Entry& x = entries_[e];
    return x.cpu == cpu && x.seq == seq ? static_cast<unsigned>(__builtin_popcountll(x.mask)) : 0;
  }

  Shape shape_;
  std::uint64_t capacity_;  // pages per socket's ring
  std::uint64_t l1_lines_, l2_lines_, llc_lines_;
  std::vector<Entry> entries_;                // socket s's ring: [s * capacity_, (s + 1) * capacity_)
  std::vector<Ring> rings_;                   // by socket
  std::vector<std::uint64_t> clears_;         // deferred clears by CPU
  std::vector<std::uint64_t> llc_virtual_;    // virtual lines that entered each socket's LLC
  std::vector<std::uint64_t> l2_virtual_;     // virtual lines that entered each CPU's L2
  std::vector<std::uint64_t> made_real_;      // lines made real by CPU in its L1D and L2 ([3 c], [3 c + 1])
  std::vector<std::uint64_t> llc_made_real_;  // and by socket in its LLC
  // By CPU, the entries of its last l1 + l2 + 1 clears (recent_[c * recent_n_ + seq % recent_n_]).
  std::vector<std::uint32_t> recent_;
  std::uint64_t recent_n_ = 1;
  static constexpr std::size_t kMaxAged = 16;
  std::vector<Aged> aged_;  // record()'s pages out of the LLC (at most kMaxAged + 1)
  // Linear-probing table: (frame + 1) in the low 32 bits, the entry in the high; 0 = empty.
  std::vector<std::uint64_t> table_;
  unsigned hash_shift_ = 64;
  std::vector<std::uint16_t> regions_;  // indexed pages by 2 MiB region
  std::uint64_t virtual_lines_ = 0;
  Stats stats_;
};

}  // namespace numasim::hw
