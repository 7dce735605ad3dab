// What cached page clears leave in the caches, kept approximately
// ([cache] clear_residue = "deferred"; issue 15): the bookkeeping only, no
// cache operation. A cached clear of a whole 4 KiB page (clear_page, and each
// page of a cached huge-page clear) that finds none of the page's lines in any
// cache records the page once instead of installing its 64 lines in L1D: the
// page becomes its CPU's newest entry in its socket's ring, with a 64-bit mask
// of the lines still notionally resident and dirty ("virtual" lines, held by
// no cache array) while they are in that CPU's L1D or L2. Their level follows
// from the page's age: the page is in its CPU's L1D while L1D took fewer
// lines than it holds since the clear (its real fills and the virtual lines of
// the CPU's later clears), then in its L2 while L2 took at most as many as L1D
// and L2 hold since the clear (a page later than the lines after it alone would
// say; at the latest l1 + l2 pages of its CPU's clears after it). Then it
// leaves the L2 for the LLC as the exact model's L2 victims do,
// and its lines still virtual become real dirty LLC lines
// (CacheHierarchy::install_residue_page_in_llc), so the LLC's own LRU, set by
// set, says what they push out and when they go: at the CPU's next clear
// (record(): its LLC victims posted among that clear's lines; at the latest
// l1 + l2 pages of clears after it), or, when the CPU stopped clearing, at its
// first miss a page of L2 fills after it left (exit_due, leave_l2).
// MemorySystem turns a virtual line into a real one at its level
// (CacheHierarchy::install_residue) before anything touches it: a demand
// miss, a page walk, an L2 prefetch, a copy or clear of the page, a streamed
// transfer over it; but an L2 prefetch by its own CPU of a line still in its
// L2 finds it present, as the exact model's does (redundant: the line stays
// virtual and keeps its page's L2 age). A virtual line made real in L1D
// posts the write-backs it causes at the exact clear's pace from the page's
// first such touch, never dated back but up to a clear's span after the
// touch (write_back_time(); a whole page made real at once: write_time()).
// CacheHierarchy::displace_for_clear takes out the real lines of L1D and L2
// the virtual ones would have pushed out.
// A page that left its CPU's L2 by the clock but not yet entered the LLC
// (its CPU has not missed since) is judged by the socket's LLC clock (the
// lines its LLC took since, less those L1D and L2 hold): once that passes the
// LLC's size its lines go to memory as LRU victims would, line by line when
// a miss falls into their LLC set (a page's 64 lines fill 64 consecutive
// sets, its "set group"), the rest with the socket's next clear or when
// something looks the page up.
// A real fill into a CPU's L2 (a demand miss or prefetch past it) pushes out
// the line of its set of the oldest recorded page of the set's group (the 64
// L2 sets a page's lines fill) still in L2, into the LLC at once, and while
// the filled line holds a way there (the L2's ways' worth of the group's
// pages leaving L2) each page of the group leaving takes the next one's line
// of that set with it (two real fills there: the one after that, and so on):
// the sets give the pages up a rotation early per fill, as the exact
// model's LRU does (l2_fill(); such fills do not move the L2 clock).
// Simplifications: in L1D and L2 virtual lines occupy no way of a set (their
// pressure is displace_for_clear's, on average, not set by set) and no
// snoop-filter entry; a page moves from L1D to L2 by its CPU's clears (l1
// pages later), not by its L1D clock; it leaves L2 whole by its clock but
// for the lines real L2 fills push out (l2_fill(): a set a rotation ahead
// per fill holding a way there, up to kMaxL2Lead; the lead counts every fill
// since the set's ways' worth of exits last ran out, so a set filled more
// often stays at the cap though its older filled lines left L2 long since:
// an overcount, small in the figures as deeper pages seldom hold the line:
// README, Bulk kernel transfers), and a page of L2 fills later than its L2 clock says (a
// calibration, kept from before l2_fill(): without it memory_hog's activates
// and precharges moved by 0.2% or less; private_level()); the
// ring holds the LLC and each core's L1D and L2 in pages, and a page forced
// out of a full ring is written back early (a CPU idle for that many clears
// of its socket's other CPUs); a
// recorded line made real in L1D by a demand access counts as an L1D miss and
// fill, where the exact model counts a hit. The L1D's real lines that a
// clear's lines would replace leave at the clear, their write-backs among
// the clear's lines (CacheHierarchy::evict_l1_for_clear; the LRU line of each
// full set, set by set as the exact installs find them then), so the stores
// that make the lines real fill free ways. Pushed out by those stores instead
// (after the clear, paced up to a clear's span on), they delayed what the
// CPUs sent next: gups' next clears' ownership requests queued behind them on
// the link. What a line made real in L1D still pushes out (a way refilled
// between the clear and the touch) goes at or after its touch
// (write_back_time()), never dated back (dated back to the clear's times such
// write-backs reached the DRAM banks after later requests; the figures:
// README, Bulk kernel transfers). Only the bulk transfer path
// ([platform] kernel_transfers = "bulk", the default) defers clears; the line
// path installs every line.
// Lookup is a direct-mapped (linear probing) table by frame, allocation-free;
// a count per 2 MiB region lets the miss path skip it where nothing is recorded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/units.h"
#include "hw/cache.h"
#include "hw/fast_divider.h"

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
  // age() and l2_fill()'s "no line": all ones, never a line's address (lines
  // are 64-byte aligned), where 0 is line 0 of frame 0, which can be cleared
  // and recorded like any other (os/page_alloc_init.cpp reserves nothing).
  static constexpr PhysAddr kNoLine = ~PhysAddr{0};
  static constexpr unsigned kRegionShift = 21;

  // False when no line is virtual, or no recorded page lies in pa's 2 MiB
  // region, `cpu`'s L2 has given up none of its recorded pages (exit_due) and
  // no socket's LLC set that pa maps to has a recorded line due to leave it
  // (the miss path's filter: when true, MemorySystem moves the missing CPU's
  // pages its L2 gave up into the LLC, leave_l2(), ages pa's set, age(), and
  // looks pa up; when false, that would do nothing).
  bool may_hold(CpuId cpu, PhysAddr pa) const {
    return virtual_lines_ != 0 && (region_holds(pa) || exit_due(cpu) || set_due(pa));
  }
  // Whether `cpu`'s L2 may have given up its oldest recorded page still
  // virtual (by its L2 clock: the lines it took since, real and virtual), to be
  // installed in its socket's LLC: leave_l2().
  bool exit_due(CpuId cpu) const {
    const auto c = static_cast<std::size_t>(cpu.value());
    return !l2_.empty() && l2_clock(c, l2_[c]->insertions()) >= exit_due_[c];
  }
  // The recorded pages of `cpu` (oldest first) that its L1D and L2 gave up by
  // now (by their clocks: its clears move their own, record(); here its other
  // traffic): they leave the residue, and entered_page(i), entered_mask(i) for
  // i < entered() are the lines to install in its socket's LLC now.
  void leave_l2(CpuId cpu);
  std::size_t entered() const { return entered_.size(); }
  PhysAddr entered_page(std::size_t i) const { return entered_[i].page; }
  std::uint64_t entered_mask(std::size_t i) const { return entered_[i].mask; }
  bool region_holds(PhysAddr pa) const {
    const std::size_t r = static_cast<std::size_t>(pa >> kRegionShift);
    return r < regions_.size() && regions_[r] != 0;
  }
  // Whether the oldest recorded page of pa's set group (the 64 LLC sets a
  // page's lines map to) in some socket's LLC has left it by age, so an L1D
  // miss or prefetch into pa's set may push one of its lines out (watch()
  // gives the LLCs; none watched: false).
  bool set_due(PhysAddr pa) const {
    if (llc_.empty()) return false;
    const std::size_t g = group_of(pa);
    for (std::size_t s = 0; s < llc_.size(); ++s)
      if (llc_[s]->insertions() >= group_due_[s * groups_ + g]) return true;
    return false;
  }
  // The LLC of each socket, whose fills drive set_due() (all alike; its sets
  // give the set groups), and which counts the lines that pass through it
  // to memory without entering it (count_virtual; see count_moved()).
  void watch(int socket, CacheArray* llc);
  // The L1D and L2 of each CPU, whose fills tell age() and record() that a
  // page not yet moved into the LLC is still in its CPU's L1D or L2 (level()'s
  // 1 or 2), and which count the virtual lines as the exact model's installs
  // would (CacheArray::count_virtual: a page's stores when recorded, its lines
  // leaving L1D for L2 and L2 for the LLC as they move; count_moved()).
  // Every CPU's L2 has the same sets and ways (else std::invalid_argument).
  void watch_private(CpuId cpu, CacheArray* l1d, CacheArray* l2);
  bool watching() const { return !llc_.empty(); }
  // An L1D miss or prefetch into `socket`'s LLC set of `pa` (it may fill the
  // set: in an LRU set the line it pushes out is the set's oldest; a recorded
  // page's virtual line in that set is it once the page has left the LLC by
  // age, the LLC took more lines than it holds after the page entered it).
  // Returns the line so written back (taken, level 4), or kNoLine: the oldest such
  // page of pa's set group with its line of pa's set still virtual, passing
  // over a page still in its CPU's L1D or L2 (held_privately). Lines of sets
  // no miss reaches stay, as in the exact model, until a clear of the socket
  // or a look-up writes them back.
  PhysAddr age(int socket, PhysAddr pa);
  // The entry of the page holding `pa`, or kNone.
  std::uint32_t find(PhysAddr pa) const;
  // Real fills so far (CacheArray::insertions) of a CPU's L1D and L2 and its socket's LLC.
  struct Fills {
    std::uint64_t l1 = 0, l2 = 0, llc = 0;
  };
  // Whether pa's line is still virtual in a page `cpu` recorded that is in
  // its L2 now (level 2; `fills`: of `cpu`'s caches). An L2 prefetch of it
  // then finds it present, as the exact model's does: redundant, and the line
  // keeps its page's L2 age (made real, it would be installed as most
  // recently used and outstay the exact line).
  bool virtual_in_own_l2(CpuId cpu, PhysAddr pa, const Fills& fills) const;
  // Whether `cpu` has recorded pages in its L2 set-group lists (l2_fill() may push a line out).
  bool l2_listed(CpuId cpu) const {
    return !l2_count_.empty() && l2_count_[static_cast<std::size_t>(cpu.value())] != 0;
  }
  // A real fill of pa's line into `cpu`'s L2 (a demand miss or prefetch
  // served past L2). In an LRU set the line it pushes out is the set's oldest; a recorded
  // page's virtual line in that set is it when the page is the oldest of its
  // L2 set group still in L2 with that line virtual: that line leaves the L2
  // now (returned, to install in the LLC; kNoLine: none), and the fill does not
  // advance the L2 clock by which whole pages leave (l2_clock()). So the
  // pages leave L2 set by set as the exact model's do, not a whole page per
  // 64 such fills (which wrote their lines back in whole-page runs that opened
  // fewer DRAM rows: memory_hog's activates and precharges).
  PhysAddr l2_fill(CpuId cpu, PhysAddr pa);
  // Where entry e's virtual lines are: 1 its CPU's L1D, 2 its L2, 3 its
  // socket's LLC (it left L2, not yet moved in), 4 gone to memory (not yet
  // written back); `fills`: of its CPU's caches. The L1D and L2 clocks count
  // the lines each took (its real fills and the virtual lines that entered
  // it). The page is in L1D while L1D took fewer lines than it holds since the
  // clear, in L2 while L2 took at most as many as L1D and L2 hold (see
  // private_level()), then in the LLC
  // while the LLC took fewer than it holds since (counted from its clear, less
  // the lines L1D and L2 hold).
  // (The lines after the page's own: L1D holds it while they are at most its
  // size less a page, and so on.)
  int level(std::uint32_t e, const Fills& fills) const {
    const Entry& x = entries_[e];
    if (const int in = private_level(x, fills.l1, fills.l2)) return in;
    return gone(x, fills.llc) ? 4 : 3;
  }
  CpuId cpu(std::uint32_t e) const { return CpuId(entries_[e].cpu); }
  int socket(std::uint32_t e) const { return entries_[e].socket; }
  PhysAddr page(std::uint32_t e) const { return entries_[e].page; }
  std::uint64_t mask(std::uint32_t e) const { return entries_[e].mask; }
  // The timing pass of the newest recorded clear ran from `start` to `end`
  // (MemorySystem::bulk_write_lines). Line i of a page made real in L1D
  // causes the write-backs the exact model's clear caused when it wrote line
  // i; write_back_time() says when they go. `round_gap` (0: pipeline()'s
  // gap) spaces the lines of a round of this clear: MemorySystem gives a
  // page of another node's memory a core cycle plus a request header's link
  // serialisation (in the exact clear each completion sends the next line's
  // ownership request over the link just ahead of the write-back it pushes
  // out; a core cycle apart, the write-backs queued on the link 19% more than
  // the exact model's, a whole line's serialisation apart 81% less:
  // ClearResidue test AFirstTouchOfRemotePages...; a calibration).
  void timed(Picoseconds start, Picoseconds end, Picoseconds round_gap = Picoseconds(0)) {
    if (newest_ == kNone) return;
    Entry& x = entries_[newest_];
    x.clear_start = start.value();
    x.clear_end = end.value();
    x.gap = static_cast<std::uint32_t>(round_gap.value());
    clears_timed_ = true;
  }
  bool clears_timed() const { return clears_timed_; }  // whether timed() was ever called
  // Entry e's timing pass: as timed(), or as write_back_time()'s first touch
  // shifted it (false: not timed).
  bool timing_pass(std::uint32_t e, Picoseconds& start, Picoseconds& end) const {
    const Entry& x = entries_[e];
    if (x.clear_end == 0) return false;
    start = Picoseconds(x.clear_start);
    end = Picoseconds(x.clear_end);
    return true;
  }
  // When the write-backs that making line i of entry e real in L1D causes go
  // out. The exact clear's install of line i pushed the same cascade out at
  // line i's time in the clear (write_time()), but by the touch the DRAM banks
  // and links have taken later requests, and a request dated back reaches its
  // bank out of order (DramController's late requests, timed without moving
  // the bank's rows: memory_hog's activates and row conflicts moved with
  // them). So they keep the clear's pace instead, shifted to start at the
  // page's first such touch: line i at its offset in the clear from there,
  // never before `now`, and lines after the touched one up to a clear's span
  // after it (as the exact clear's write-backs follow the access that
  // faulted; a page whose lines are all stored to right after the fault sends
  // its write-backs at the clear's rate, not in one burst at the stores' rate,
  // which queued them on the links). A later touch keeps the shifted timing.
  // The clear's lines complete in rounds of the lines it keeps in flight
  // (pipeline()), a round's lines a cycle apart, and their write-backs go
  // with them (spread evenly over the clear, the DRAM queued them 15-26% less
  // than the exact model's on default and gups). Without a timed clear: now.
  Picoseconds write_back_time(std::uint32_t e, unsigned i, Picoseconds now);
  // write_back_time() without the first touch's shift: line i's time in the
  // clear's timing pass as it stands (as timed, or as an earlier touch
  // shifted it), or `now` if that is past or the clear was not timed.
  Picoseconds write_time(std::uint32_t e, unsigned i, Picoseconds now) const {
    const Entry& x = entries_[e];
    return x.clear_end == 0 ? now : std::max(now, Picoseconds(x.clear_start + offset_in_clear(x, i)));
  }
  // The clears' timing passes keep `lines` lines in flight, issued `gap` apart
  // (MemorySystem's kernel MLP and core cycle): write_back_time()'s rounds.
  void pipeline(std::uint32_t lines, Picoseconds gap) {
    burst_ = std::max<std::uint64_t>(lines, 1);
    gap_ = gap.value();
  }
  // Line i of entry e becomes real at `level` (the caller installs it): returns whether it was virtual.
  bool take_line(std::uint32_t e, unsigned i, int level);
  // Every virtual line of entry e becomes real at `level` (4: is written
  // back to memory by the caller): returns their mask.
  std::uint64_t take_all(std::uint32_t e, int level);
  // A deferred clear of `page` (4 KiB-aligned, not recorded) by `cpu`, whose
  // caches have had `fills` real fills. `moved` gets how many lines of the
  // CPU's earlier clears are still virtual: its previous clear's (in its L1D:
  // those its next accesses did not make real) and the page that now leaves
  // its L1D (into L2). The CPU's pages that leave its L2 now (by its L2 clock;
  // at the latest its clear l1_pages + l2_pages ago) are entered_page(i),
  // entered_mask(i) for i < entered(): their lines still virtual, to install in
  // the LLC. The pages that leave the socket's LLC by its clock (or the full
  // ring) are aged_page(i), aged_mask(i) for i < aged(): to write back.
  struct Moved {
    unsigned previous = 0, to_l2 = 0;
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
    std::uint64_t lines_into_llc = 0;      // virtual lines installed in the LLC as they left L2 (record(), leave_l2())
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
    std::uint64_t clear_start = 0, clear_end = 0;    // its timing pass (ps; 0: not known)
    std::uint32_t group_prev = kNone, group_next = kNone;  // its set group's list (while indexed)
    std::int32_t cpu = -1;
    std::int32_t socket = -1;
    bool indexed = false;  // in the table (some line still virtual)
    bool left_l1 = false;  // moved from its CPU's L1D to its L2 by its clears (record())
    bool paced = false;    // its clear's timing shifted to its first line's touch (write_back_time())
    bool in_l2_list = false;  // in its CPU's L2 set-group list (while indexed, once L2 is watched)
    std::uint32_t gap = 0;    // ps between the lines of a round of its clear (timed(); 0: gap_)
    std::uint32_t l2_prev = kNone, l2_next = kNone;  // its CPU's L2 set-group list
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
    return fills + l2_virtual_[cpu] - made_real_[3 * cpu + 1] - l2_pushed_[cpu];
  }
  void count_real(const Entry& x, int level, std::uint64_t n) {
    if (level <= 2 && level >= 1)
      made_real_[3 * static_cast<std::size_t>(x.cpu) + static_cast<std::size_t>(level - 1)] += n;
  }
  // Lines the LLC took since entry x's lines would have entered it: its
  // clear's clock less the lines its L1D and L2 hold.
  std::uint64_t since_llc(const Entry& x, std::uint64_t clock) const {
    return clock - x.llc_at > l1_lines_ + l2_lines_ ? clock - x.llc_at - l1_lines_ - l2_lines_ : 0;
  }
  // Whether entry x's page has left the LLC at `clock` (level()'s 4 unless private_level() says 1 or 2).
  bool gone(const Entry& x, std::uint64_t clock) const { return since_llc(x, clock) > llc_lines_; }
  // 1 (2) while entry x's lines are in its CPU's L1D (L2), given their fills; else 0.
  // The page leaves L2 (for the LLC, at a clear or miss) once the L2 clock
  // passed L1D and L2's size since its clear, a page later than the lines
  // after it filling them would say: in the exact model the clear that pushes
  // a page out of L2 gives it up line by line, and the L2's other fills (page
  // walks, prefetches) push out early only the lines of the sets they fall in,
  // where each of them moved the whole page when they advanced the L2 clock.
  // Leaving when the lines after it fill L1D and L2 less a page put a
  // memory_hog page's write-backs one or two clears before the exact model's;
  // then they were on time or one early. (Those fills now push their sets'
  // lines out themselves, l2_fill(), and leave the clock alone; the page later
  // stayed: without it memory_hog's figures moved by 0.2% or less.)
  // (A calibration. In a run of clears with no other L2 fills nothing changes:
  // record()'s bound, l1 + l2 clears after the page, lets it go at the same
  // clear either way; other L2 fills no longer move it before that bound. A
  // CPU that stopped clearing hands a page to the LLC at its misses
  // (exit_due()) a page of L2 fills later than before.)
  int private_level(const Entry& x, std::uint64_t l1_fills, std::uint64_t l2_fills) const {
    const auto c = static_cast<std::size_t>(x.cpu);
    if (l1_clock(c, l1_fills) - x.l1_at <= l1_lines_ - kPageLines) return 1;
    if (l2_clock(c, l2_fills) - x.l2_at <= l1_lines_ + l2_lines_) return 2;
    return 0;
  }
  // Whether entry x is still in its CPU's L1D or L2 (watched arrays): then gone() does not count for it.
  bool held_privately(const Entry& x) const {
    if (l1_.empty()) return false;
    const auto c = static_cast<std::size_t>(x.cpu);
    return private_level(x, l1_[c]->insertions(), l2_[c]->insertions()) != 0;
  }
  // Line i's offset from its clear's start in the clear's timing pass: the
  // end of its round of pipeline() lines (the rounds even over the span, less
  // the last round's own spread), a gap per line before it in the round (the
  // clear's own, timed(), or pipeline()'s).
  std::uint64_t offset_in_clear(const Entry& x, unsigned i) const {
    const std::uint64_t span = x.clear_end - x.clear_start;
    const std::uint64_t gap = x.gap != 0 ? x.gap : gap_;
    const std::uint64_t rounds = (kPageLines + burst_ - 1) / burst_;
    const std::uint64_t spread = (kPageLines - 1) % burst_ * gap;
    const std::uint64_t round = span > spread ? (span - spread) / rounds : 0;
    return std::min(span, (i / burst_ + 1) * round + i % burst_ * gap);
  }
  // Takes the gone lines of socket s's oldest pages into aged_ (at most kMaxAged pages).
  void pop_gone(std::size_t s, std::uint64_t clock);
  // The set group of pa's line in the LLC (pages' lines fill 64 sets from 64 x group).
  std::size_t group_of(PhysAddr pa) const {
    const std::uint64_t frame = pa >> 12;
    return groups_ == 1 ? 0 : static_cast<std::size_t>(group_div_.remainder(frame, group_div_.divide(frame)));
  }
  // Entry e joins (leaves) its socket's list of recorded pages of its set group, oldest first.
  void group_push(std::uint32_t e);
  void group_remove(std::uint32_t e);
  // The LLC clock at which the oldest page of group list `list` has left the LLC (never: ~0).
  void group_rearm(std::size_t list);
  // Lines `m` of entry e become real at `level` (4: written back by the caller;
  // 0: installed in the LLC by the caller as they leave L2); m is not 0.
  void take_mask(std::uint32_t e, std::uint64_t m, int level);
  // Counts in the watched arrays what n lines of entry x leaving the residue
  // at `level` passed through unseen, as take_mask's levels: from L1D to L2
  // unless the page left L1D by its clears (counted then), out of L2 below
  // level 2, and through the LLC to memory at level 4. (The install of a line
  // made real at level 1 or 2 counts itself; CacheHierarchy::install_residue
  // takes back what it counts twice.)
  void count_moved(Entry& x, std::uint64_t n, int level);
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
  std::vector<std::uint64_t> l2_virtual_;     // virtual lines that entered each CPU's L2
  std::vector<std::uint64_t> made_real_;      // lines made real by CPU in its L1D and L2 ([3 c], [3 c + 1])
  std::vector<std::uint64_t> l2_pushed_;      // real L2 fills by CPU that pushed a recorded line out (l2_fill())
  // By CPU and L2 set group (c * l2_groups_ + g): its recorded pages, oldest first; their count by CPU.
  std::vector<std::uint32_t> l2_head_, l2_tail_;
  std::vector<std::uint32_t> l2_count_;
  // By list (c * l2_groups_ + g): the sets (lines of the group) where a real fill
  // pushed a recorded line out and still holds a way, so each page of the group
  // leaving L2 takes its successor's line of that set with it (one rotation
  // early), for the L2's ways' worth of such exits (l2_ahead_left_, by list * 64 + line).
  std::vector<std::uint64_t> l2_ahead_;
  std::vector<std::uint8_t> l2_ahead_left_;
  // By list * 64 + line: the real fills holding ways in that set (at most
  // kMaxL2Lead and the L2's ways): a page leaving L2 takes the line of that
  // set from the first page that many on still holding it (each fill puts
  // the set one more rotation ahead, as in an LRU set).
  std::vector<std::uint8_t> l2_lead_;
  static constexpr unsigned kMaxL2Lead = 4;
  std::uint8_t l2_ways_ = 16;                  // the L2's ways, at most 255 (l2_ahead_left_'s range)
  std::size_t l2_sets_ = 0, l2_all_ways_ = 0;  // every watched L2's geometry (watch_private() checks it)
  std::size_t l2_groups_ = 1;                  // L2 sets / 64 (1 when not a multiple of 64)
  FastDivider l2_group_div_{1};
  // CPU c's L2 set-group list of pa's page (pages' lines fill 64 L2 sets from 64 x group).
  std::size_t l2_list_of(std::size_t c, PhysAddr pa) const {
    const std::uint64_t frame = pa >> 12;
    const std::size_t g =
        l2_groups_ == 1 ? 0 : static_cast<std::size_t>(l2_group_div_.remainder(frame, l2_group_div_.divide(frame)));
    return c * l2_groups_ + g;
  }
  std::size_t l2_list_of(const Entry& x) const { return l2_list_of(static_cast<std::size_t>(x.cpu), x.page); }
  void l2_push(std::uint32_t e);
  void l2_remove(std::uint32_t e);
  // By CPU, the entries of its last l1 + l2 + 1 clears (recent_[c * recent_n_ + seq % recent_n_]).
  std::vector<std::uint32_t> recent_;
  std::uint64_t recent_n_ = 1;
  static constexpr std::size_t kMaxAged = 16;
  // pop_gone() looks at most this many ring entries past a page held privately.
  static constexpr std::uint64_t kMaxPassed = 64;
  // l2_fill() looks at most this many pages of a set-group list past the
  // first (it passes over pages that left L2 by the clock, waiting for their
  // CPU's next clear or miss to enter the LLC, and pages whose line of the
  // fill's set is real already): a bound on the walk's cost, the same figure
  // as kMaxPassed but not tied to it.
  static constexpr std::uint64_t kMaxL2Walk = 64;
  std::vector<Aged> aged_;  // record()'s pages out of the LLC (at most kMaxAged + 1)
  // leave_l2()'s and record()'s pages leaving L2 (collect_leavers()): at most
  // kMaxAged + kMaxL2Lead (it stops at kMaxAged, and the last page may bring
  // lines of up to kMaxL2Lead pages after it in its group).
  std::vector<Aged> entered_;
  // By CPU: its clear count before its oldest recorded page that may still be
  // virtual, and the L2 clock from which that page may have left its L2 (none: ~0).
  std::vector<std::uint64_t> private_from_, exit_due_;
  // exit_due_ of `cpu` for entry x (in its L1D or L2 now): when its L2 clock
  // has passed it by a page (its next clear usually moves it first, its
  // write-backs then posted among the clear's lines).
  void arm_exit(std::size_t cpu, const Entry& x);
  // Into entered_: CPU c's recorded pages from its oldest still virtual up
  // to its clear number `last` that left its L2 by now, and those up to
  // `through` in any case, in clear order; stops at the first that stays and arms exit_due_ by it.
  // `clearing` (its clear moves them, record()): each takes the lines of the
  // next page of its L2 set group where a real fill holds a way (l2_fill());
  // at a miss (leave_l2()) the fills push their sets' lines out themselves.
  // No line enters twice: those lines leave the next page's mask at once
  // (take_mask), so if that page leaves in the same call it brings only its
  // other lines. (That needs both pages past record()'s bound, the older one
  // left over from a call stopped at kMaxAged; no test reaches it: a count
  // over the whole hw_tests binary found none.)
  void collect_leavers(std::size_t c, std::uint64_t last, std::uint64_t through, bool clearing);
  // Linear-probing table: (frame + 1) in the low 32 bits, the entry in the high; 0 = empty.
  std::vector<std::uint64_t> table_;
  unsigned hash_shift_ = 64;
  std::vector<std::uint16_t> regions_;      // indexed pages by 2 MiB region
  std::vector<CacheArray*> llc_;      // by socket (watch())
  std::vector<CacheArray*> l1_, l2_;  // by CPU (watch_private())
  std::size_t groups_ = 1;                  // LLC sets / 64 (1 when the sets are not a multiple of 64)
  FastDivider group_div_{1};
  // By socket and set group (s * groups_ + g): the oldest and newest recorded
  // page, and the LLC clock when the oldest has left the LLC.
  std::vector<std::uint32_t> group_head_, group_tail_;
  std::vector<std::uint64_t> group_due_;
  std::uint32_t newest_ = kNone;  // the last recorded entry (timed())
  std::uint64_t burst_ = 1, gap_ = 0;  // pipeline(): lines in flight, ps between issues
  bool clears_timed_ = false;
  std::uint64_t virtual_lines_ = 0;
  Stats stats_;
};

}  // namespace numasim::hw
