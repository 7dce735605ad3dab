// The memory controller of one NUMA node and its DRAM: channels, ranks, bank
// groups and banks with row buffers, timed with DDR constraints (dram_timing.h).
// Contention is approximated with next-free timestamps (DESIGN.md, Timing):
// each bank remembers its open row and when it may next be activated,
// precharged or read; each rank its recent activates (tRRD, tFAW) and column
// commands (tCCD_L); each channel its reserved data-bus slots. A request takes
// the earliest instant that satisfies every constraint: banks serve in call
// order, while activates, column commands and data bursts are slots in small
// calendars, so a request may use a gap before slots reserved by earlier calls
// (as an FR-FCFS scheduler would). So bandwidth saturates at the burst-limited
// peak and latency rises with load.
// A request to the row a bank had open just before may still be served before
// that row's (already scheduled) precharge, as FR-FCFS serves row hits first.
// A request stamped earlier than one the bank already served (a core that ran
// ahead less far than another, under temporal decoupling) is timed against the
// bank as it was at its time (a short history of the bank's in-order state by
// stamp: the row open then, its precharge, activate and column constraints),
// or a row an earlier late request opened within tRC; if it opens a row, the
// bank's later-stamped in-order requests must open theirs again after it.
// Time order in the calendars (issue 16 item 6): every reservation keeps the
// stamp of its request, a request is planned against the reservations stamped
// at or before it (what it would have met in time order), and the
// later-stamped reservations its slots overlap move to the next free slot
// (SlotCalendar::reserve_displacing). The displaced requests have their
// answers already: each move is kept as the one-slot moves it stands for (a
// move across k slots is k reservations that time order would each have
// pushed back one slot), and each of those is paid once, whole, by a later
// request of the channel stamped after the earliest displaced one (one slot's
// move per request, more only while more than kDebtWindow are owed; the
// request that displaces pays nothing for it), so latencies sum to what the
// moves cost without a running mean's burst landing on the few requests after
// a long move (at quantum 0 almost nothing is displaced). A displaced burst
// does not move into its rank's refresh window (SlotCalendar::Blackout): in
// time order it would have waited past it.
// It is the `ddr4` memory device (memory_device.h); the memory system calls
// access() directly (no virtual call) when a node's device is a DramController,
// and the CXL device reuses it as its DRAM media.
// Writes: with [dram] write_queue = 0 (the default) timed like reads with CWL
// and write recovery, without read/write turnaround; with a write queue,
// posted into a per-channel ring (accepted when an entry is free:
// back-pressure), drained in batches at the high watermark, and kept apart
// from reads on each rank by tRTW / tWTR_S (an ordered read/write calendar).
// Simplifications: otherwise per-bank first-come first-served; no command-bus
// conflicts; no read queue (reads are timed on arrival); reads do not hit
// queued writes; tWTR_L (same bank group) is left out; writes queued below the
// high watermark wait for more writes (no idle drain); stream() posts its
// writes into the same queue and times its drains as batches (the posted
// block, dram_posted_block.cpp).
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/units.h"
#include "hw/dram_timing.h"
#include "hw/fast_divider.h"
#include "hw/hw_stats.h"
#include "hw/memory_device.h"
#include "hw/tail_window.h"

namespace numasim::hw {

enum class RowOutcome : std::uint8_t { Hit, Closed, Conflict };

struct DramCoord {
  std::uint32_t channel = 0, rank = 0, bank_group = 0, bank = 0;  // bank within its group
  // The column: decode() gives the line's; the coordinates the timing path
  // reads from the decode memo (decode_line, decode_after, decode_miss) carry
  // only the interleave granule's (their low bits are whichever line filled
  // the entry), as nothing that times a request reads the column.
  std::uint64_t row = 0, column = 0;
};

struct DramResult {
  Picoseconds done;       // last data beat transferred
  Picoseconds service;    // unloaded time this request would take (frontend + DRAM)
  Picoseconds queueing;   // done - arrival - service
  RowOutcome outcome = RowOutcome::Hit;
};

struct DramStats {
  std::uint64_t reads = 0, writes = 0;
  std::uint64_t row_hits = 0, row_closed = 0, row_conflicts = 0;
  std::uint64_t activates = 0, precharges = 0;
  std::uint64_t bytes_read = 0, bytes_written = 0;
  std::uint64_t refresh_delays = 0;     // requests pushed past a refresh window
  std::uint64_t reordered_hits = 0;
  std::uint64_t write_drains = 0;         // write-queue drains (write_queue > 0)
  std::uint64_t write_queue_full = 0;     // writes that waited for a queue entry
  std::uint64_t write_accept_wait_ps = 0;  // their summed wait
  std::uint64_t late_requests = 0;      // stamped earlier than the bank's latest request     // row hits served before an already scheduled precharge
  std::uint64_t total_latency_ps = 0;   // sum over requests of done - arrival
  std::uint64_t total_queueing_ps = 0;
  std::uint64_t bus_busy_ps = 0;        // summed over channels
  std::uint64_t first_arrival_ps = ~0ull, last_done_ps = 0;
};

// Reservations of equal-length slots on a shared resource (a data bus, a rank's
// activate or column-command stream), kept sorted so that a request may take a
// gap earlier than requests issued before it: the scheduling freedom of an
// FR-FCFS controller, without an event per command. Two slots with tags ta, tb
// must start at least len + (ta == tb ? extra_same : extra_diff) apart. Only
// the latest `capacity` reservations are kept; times before the oldest kept
// one count as busy.
class SlotCalendar {
 public:
  // span: the window's buffer in multiples of capacity (TailWindow).
  SlotCalendar(Picoseconds len = Picoseconds(0), Picoseconds extra_same = Picoseconds(0),
               Picoseconds extra_diff = Picoseconds(0), std::size_t capacity = 128, std::size_t span = 2);
  // Tags 0/1 only, separation by ordered pair: sep[first * 2 + second].
  static SlotCalendar ordered(const std::array<Picoseconds, 4>& sep, std::size_t capacity);
  // `visible`: only reservations whose stamp is at most `visible` count (the
  // calendar as a request stamped `visible` would have found it had the
  // requests arrived in time order); the default sees every reservation.
  static constexpr Picoseconds kAll{~std::uint64_t{0}};
  // Whether t is clear of every reservation's reach (and of the floor), so
  // that earliest(t, any tag, any visible) is t: a test without the search.
  bool clear_at(Picoseconds t) const { return t >= floor_ && (e_.empty() || (e_.end() - 1)->start + max_sep_ <= t); }
  Picoseconds earliest(Picoseconds t, int tag, Picoseconds visible = kAll) const {
    const Picoseconds s = t < floor_ ? floor_ : t;
    // After every reservation's reach (the usual case for a request in time order): s itself.
    if (e_.empty() || (e_.end() - 1)->start + max_sep_ <= s) return s;
    return earliest_search(s, tag, visible);
  }
  // `stamp`: the time of the request that reserves the slot (its arrival at the scheduler).
  // (Tags are taken as 64-bit values where reserved: a 32-bit tag kept across
  // a call was spilled in 4 bytes and read back in 8, a load the host cannot
  // forward from its store buffer.)
  // The usual case (a start at or after the latest, room at the buffer's end)
  // inline in the scheduler: a call per reservation cost a fifth of reserve's
  // host instructions; the rest out of line.
  [[gnu::always_inline]] void reserve(Picoseconds start, std::int64_t tag, Picoseconds stamp = Picoseconds(0)) {
    if (!e_.empty() && (e_.end() - 1)->start <= start && append_entry(start, tag, stamp)) return;
    reserve_slow(start, tag, stamp);
  }
  // reserve(), in time order: each reservation stamped later than `stamp` that
  // the slot overlaps moves to the first free slot at or after its start (the
  // request that made it has its answer already; the calendar now holds the
  // schedule time order would have given, for the requests still to come).
  // Returns the summed distance the moved reservations moved.
  // `moves` (if given): the number of one-slot moves the displacement stands
  // for is added (a move across k slots: k reservations that time order would
  // each have moved by one slot), and the earliest stamp of a moved one kept.
  struct Moves {
    std::uint64_t slots = 0;
    Picoseconds first_stamp = kAll;
  };
  // Times a moved reservation may not take: windows of `len` every `period`
  // from offset_by_tag[tag], for the slot's start less `lead` (a data bus's
  // bursts, tagged by rank, whose column command falls in the rank's refresh
  // window or before its rows are opened again; in time order the request
  // would have met the window and waited for its end). A moved reservation
  // in one goes past it (the time skipped counts in the move, not in its
  // one-slot moves).
  struct Blackout {
    Picoseconds period{0}, len{0}, lead{0};
    const std::uint64_t* offset_by_tag = nullptr;
    // t, or the first start past the window t falls in.
    Picoseconds clear_of(int tag, Picoseconds t) const;
  };
  [[gnu::always_inline]] std::uint64_t reserve_displacing(Picoseconds start, std::int64_t tag, Picoseconds stamp,
                                                          Moves* moves = nullptr, const Blackout* blackout = nullptr) {
    const bool later_exist = stamp < max_stamp_;
    // The usual case out of time order: the slot lands among the last few
    // reservations and overlaps none stamped later (displace() would find none).
    if (later_exist && reserve_near_end(start, tag, stamp)) return 0;
    reserve(start, tag, stamp);  // one expansion of it (with two, GCC called append() out of line)
    if (!later_exist) return 0;  // in time order: nothing to move
    return displace(start, static_cast<int>(tag), stamp, moves, blackout);
  }
  // A slot earliest_spot() found, and where it goes in the calendar: before
  // the entry at `index` (after equal starts), and whether no live
  // reservation overlaps it (`clean`: the visible ones cannot, the search
  // moved past them; the ones stamped after the view were checked), so that
  // reserve_found() inserts it there without a search and moves nothing.
  struct Spot {
    Picoseconds start{0};
    std::size_t index = 0;
    bool clean = false;
  };
  // earliest(t, tag, visible) with its Spot: one search for the slot and its
  // place. Used on the symmetric calendars (activates, a bank group's column
  // commands, the data bus); a rank's ordered reads/writes calendar (r.rw)
  // keeps reserve_displacing. (It skips earliest_search's shortcut for an
  // ordered calendar; the walk finds the same slot.)
  // Out of line and calling nothing on its usual paths (clear of every
  // reservation, or a gap found by a short scan back from the end), so that
  // it saves no registers (one, for the result's address); the walk and the
  // longer search in a function called last (earliest_spot_walk). (Inline, its first check made the row-miss path's
  // callers larger than the call it saved: +10 M host instructions of a
  // GUPS stream; with six registers saved for the walk's call, a read's
  // burst in a gap cost ~90 host instructions.)
  [[gnu::noinline]] Spot earliest_spot(Picoseconds t, int tag, Picoseconds visible) const;
  // A slot clear_at() holds: after every reservation, overlapping none.
  Spot clear_spot(Picoseconds t) const { return Spot{t, e_.size(), true}; }
  // reserve_displacing(spot.start, tag, stamp, moves, blackout) of a spot
  // found on the calendar as it is (nothing reserved in it since): a clean
  // spot is inserted at its place (an append at the end) and moves nothing;
  // any other goes through reserve_displacing.
  // The usual case (a clean spot after every reservation, room at the
  // buffer's end) inline: an append; the rest out of line.
  [[gnu::always_inline]] std::uint64_t reserve_found(const Spot& spot, std::int64_t tag, Picoseconds stamp,
                                                     Moves* moves = nullptr, const Blackout* blackout = nullptr) {
    if (spot.clean && spot.index == e_.size() && append_entry(spot.start, tag, stamp)) return 0;
    return reserve_found_slow(spot, tag, stamp, moves, blackout);
  }
  // reserve_found() with its clean near-end insert (reserve_found_slow's
  // rotation) inline as well, for the data bus: two of five reads of an
  // L1-miss stream put their burst in a gap before the channel's latest
  // bursts. One step: the last entry's copy appended (the oldest dropped
  // beyond capacity, append_bounded), then the entries from the spot on
  // moved one on (rotate_in); the calendar as reserve_found_slow leaves it.
  [[gnu::always_inline]] std::uint64_t reserve_found_near(const Spot& spot, std::int64_t tag, Picoseconds stamp,
                                                          Moves* moves, const Blackout* blackout) {
    if (spot.clean) {
      const std::size_t n = e_.size();
      if (spot.index == n) {
        if (append_entry(spot.start, tag, stamp)) return 0;
      } else if (n - spot.index <= static_cast<std::size_t>(kFoundRotate) &&
                 rotate_in(e_.begin() + spot.index, Entry{spot.start, Entry::pack(stamp, tag)}, stamp)) {
        ++found_rotations_near_;
        return 0;
      }
    }
    return reserve_found_slow(spot, tag, stamp, moves, blackout);
  }
  // Reservations reserve_found() inserted before later ones; for tests of that path.
  std::uint64_t found_inserts() const { return found_inserts_ + found_rotations_near_; }
  // Those of them reserve_found_near() rotated in itself (not through
  // reserve_found_slow); for tests of its inline path.
  std::uint64_t found_rotations_near() const { return found_rotations_near_; }
  // Reservation start times in [from, to), ascending (those stamped at most `visible`).
  std::size_t starts_between(Picoseconds from, Picoseconds to, Picoseconds* out, std::size_t max,
                             Picoseconds visible = kAll) const;
  // Latest stamp of any reservation made (a request stamped at or after it sees every reservation).
  Picoseconds max_stamp() const { return max_stamp_; }
  // The longest separation between two slots: a slot starting this long
  // after the latest reservation is clear of all (clear_at).
  Picoseconds reach() const { return max_sep_; }
  // Reservations in time order written in place, for a caller that computes
  // each from the one before (DramController::settle_write_hits): the
  // appender's put(k, ...) writes the k-th (k < append_room()), kept by
  // commit_puts(n) as n reserve() calls in order would leave the calendar.
  // The caller holds what makes each an append that moves nothing
  // (reserve_displacing would find no later stamp): stamps ascending from
  // max_stamp() on, the first start clear_at(), each later one at least
  // reach() after the one before.
  std::size_t append_room() const { return e_.room(); }
  class Appender;  // defined below the class
  Appender appender();
  // (n >= 1: the stamps ascend from max_stamp(), so the last is the latest.)
  void commit_puts(std::size_t n, Picoseconds last_stamp) {
    assert(n >= 1 && last_stamp >= max_stamp_);
    e_.commit_appends(n);
    max_stamp_ = last_stamp;
    if (e_.size() > e_.capacity()) {
      // drop_oldest() for each: the floor is the last dropped slot's end.
      const std::size_t drop = e_.size() - e_.capacity();
      const Picoseconds f = e_.begin()[drop - 1].start + len_;
      if (floor_ < f) floor_ = f;
      e_.pop_front_n(drop);
    }
  }
  // Reservations reserve_displacing() placed by its near-the-end insert
  // (reserve_near_end); for tests of that path.
  std::uint64_t near_end_inserts() const { return near_end_inserts_; }
  // At most n reservations (moved or invisible ones included) start at or
  // after `from`: a bound read from the n + 1-th latest entry, no search.
  bool at_most_from(std::size_t n, Picoseconds from) const {
    return e_.size() <= n || (e_.end() - (n + 1))->start < from;
  }

 private:
  // 16 bytes: the start, and the stamp (low 56 bits, saturated: 2^56 ps is
  // 20 hours of simulated time) packed with the tag (high 8 bits, signed).
  struct Entry {
    Picoseconds start;
    std::uint64_t packed;
    static constexpr unsigned kTagShift = 56;
    static constexpr std::uint64_t kStampMask = (std::uint64_t{1} << kTagShift) - 1;
    static std::uint64_t pack(Picoseconds stamp, std::int64_t tag) {
      const std::uint64_t s = stamp.value() < kStampMask ? stamp.value() : kStampMask;
      return s | (static_cast<std::uint64_t>(static_cast<std::uint8_t>(tag)) << kTagShift);
    }
    int tag() const { return static_cast<std::int8_t>(static_cast<std::uint8_t>(packed >> kTagShift)); }
    Picoseconds stamp() const { return Picoseconds(packed & kStampMask); }
    void set_gone() { packed |= std::uint64_t{0xff} << kTagShift; }
  };
  static_assert(sizeof(Entry) == 16, "a calendar entry is 16 bytes");
  static constexpr int kGone = -1;  // a reservation moved by reserve_displacing (tag byte 0xff)
  // Separation of a slot tagged b after one tagged a (ordered pairs when asymmetric).
  Picoseconds sep(int a, int b) const {
    if (asym_) return ordered_[static_cast<std::size_t>((a & 1) * 2 + (b & 1))];
    return len_ + (a == b ? extra_same_ : extra_diff_);
  }
  bool asym_ = false;
  std::array<Picoseconds, 4> ordered_{};
  // The earliest start of an entry that may reach s (s - the largest separation, at least 0).
  Picoseconds reach_start(Picoseconds s) const { return s > max_sep_ ? s - max_sep_ : Picoseconds(0); }
  // First entry whose start is after v (v < start), searched back from the end.
  const Entry* first_after(Picoseconds v) const {
    // The usual case inline: v at or after the latest start (an append).
    const Entry* const end = e_.end();
    if (e_.empty() || (end - 1)->start <= v) return end;
    return first_after_search(v);
  }
  const Entry* first_after_search(Picoseconds v) const;
  // reserve() other than an append with room (the first, an insert before later starts, the buffer's end).
  [[gnu::noinline]] void reserve_slow(Picoseconds start, std::int64_t tag, Picoseconds stamp) {
    e_.insert(first_after(start), Entry{start, Entry::pack(stamp, tag)});  // after equal starts
    if (max_stamp_ < stamp) max_stamp_ = stamp;
    if (e_.size() > e_.capacity()) drop_oldest();
  }
  // A reservation appended (reserve() and reserve_found()'s usual case: a
  // start at or after the latest, room at the buffer's end), the oldest
  // dropped beyond capacity as drop_oldest() does; false (nothing done)
  // without room.
  [[gnu::always_inline]] bool append_entry(Picoseconds start, std::int64_t tag, Picoseconds stamp) {
    Entry dropped;
    const int r = e_.append_bounded(Entry{start, Entry::pack(stamp, tag)}, &dropped);
    if (r == 0) return false;
    if (max_stamp_ < stamp) max_stamp_ = stamp;
    if (r == 2) raise_floor_past(dropped);
    return true;
  }
  // The clean insert before later reservations (reserve_near_end's and
  // reserve_found's, one form for the three): v, stamped `stamp`, put before
  // the entry at `at` (in [begin(), end()), so the window is not empty) by
  // the last entry's copy appended and the entries from `at` on moved one on
  // by a rotation (a copy loop became a memmove call). Beyond capacity the
  // oldest leaves as drop_oldest() after the insert would have it: the slot
  // that held the first entry holds it after the rotation (v itself when
  // `at` is the first entry of a full window). False (nothing done) without
  // room at the buffer's end.
  [[gnu::always_inline]] bool rotate_in(const Entry* at, Entry v, Picoseconds stamp) {
    Entry* const b = const_cast<Entry*>(e_.begin());  // the window's own storage
    Entry* const p = const_cast<Entry*>(at);
    Entry* const q = const_cast<Entry*>(e_.end() - 1);
    Entry dropped;  // the first entry before the rotation: not used (see above)
    const int r = e_.append_bounded(*q, &dropped);
    if (r == 0) return false;
    for (Entry* e = p; e != q + 1; ++e) std::swap(v, *e);
    if (max_stamp_ < stamp) max_stamp_ = stamp;
    if (r == 2) raise_floor_past(*b);
    return true;
  }
  // Beyond capacity: the oldest reservation leaves, and times before its slot's end count as busy.
  [[gnu::always_inline]] void drop_oldest() {
    raise_floor_past(e_.front());
    e_.pop_front();
  }
  // A reservation `e` that left the window: times before its slot's end count as busy.
  [[gnu::always_inline]] void raise_floor_past(const Entry& e) {
    const Picoseconds f = e.start + len_;
    if (floor_ < f) floor_ = f;
  }
  // Whether the reservation e, stamped after `stamp`, overlaps a slot tagged `tag` at `start`.
  bool overlaps_later(const Entry& e, Picoseconds start, int tag, Picoseconds stamp) const {
    const int etag = e.tag();
    return etag != kGone && e.stamp() > stamp && start < e.start + sep(etag, tag) && e.start < start + sep(tag, etag);
  }
  // reserve() when the slot goes among the last kNearEnd reservations (or
  // after them) with room at the buffer's end, and no reservation stamped
  // after `stamp` in reach of it (a superset of those displace() examines)
  // overlaps it: the entries after it move one on in place, no search.
  // Otherwise nothing is done and false returned.
  static constexpr int kNearEnd = 4;
  bool reserve_near_end(Picoseconds start, std::int64_t tag, Picoseconds stamp);
  // reserve_found() other than an append with room: an insert before later
  // reservations, the buffer's end, a spot that is not clean.
  [[gnu::noinline]] std::uint64_t reserve_found_slow(const Spot& spot, std::int64_t tag, Picoseconds stamp,
                                                     Moves* moves, const Blackout* blackout);
  // A clean found spot at most this many entries before the end is put in
  // place by a rotation in reserve_found_slow (as TailWindow::insert would
  // after two calls; the one-search inserts of random rows' activates and
  // bursts land up to a few entries further back than the reads' gaps).
  static constexpr int kFoundRotate = 8;
  // Every case of reserve_found_slow() but the one it rotates in place (a
  // clean spot among the last kFoundRotate entries, with room at the
  // buffer's end: its usual case, a read's burst in a gap between the bursts
  // of the channel's next granule). Apart, so that the usual case calls
  // nothing and saves no registers (a fifth of its host instructions were
  // the prologue and epilogue).
  [[gnu::noinline]] std::uint64_t reserve_found_cold(const Spot& spot, std::int64_t tag, Picoseconds stamp,
                                                     Moves* moves, const Blackout* blackout);
  // earliest() from s = max(t, floor) when a reservation lies within reach of s.
  Picoseconds earliest_search(Picoseconds s, int tag, Picoseconds visible) const;
  // The search of earliest_search() (the walk over the entries in reach of s);
  // with kSpot, its last pass (the one that moved nothing) also fills *spot.
  // `first` (if given): first_after(s - reach()) found by the caller, where the first pass starts.
  template <bool kSpot>
  Picoseconds walk(Picoseconds s, int tag, Picoseconds visible, Spot* spot, const Entry* first = nullptr) const;
  // earliest_spot()'s walk from `first` (first_after(s - reach()), or
  // null: not found by its scan, searched here, the gap case checked again).
  [[gnu::noinline]] Spot earliest_spot_walk(Picoseconds s, int tag, Picoseconds visible, const Entry* first) const;
  // reserve_displacing's moves of the later-stamped reservations the slot just reserved overlaps.
  std::uint64_t displace(Picoseconds start, int tag, Picoseconds stamp, Moves* moves, const Blackout* blackout);
  Picoseconds len_, extra_same_, extra_diff_, max_sep_;
  TailWindow<Entry> e_;  // sorted by start; capacity = reservations kept
  Picoseconds floor_{0};
  Picoseconds max_stamp_{0};
  std::uint64_t near_end_inserts_ = 0;
  std::uint64_t found_inserts_ = 0;
  std::uint64_t found_rotations_near_ = 0;
};

class SlotCalendar::Appender {
 public:
  void put(std::size_t k, Picoseconds start, std::int64_t tag, Picoseconds stamp) const {
    d_[k] = Entry{start, Entry::pack(stamp, tag)};
  }
  // put() of a stamp below kStampLimit (kept as it is, no saturation), its
  // tag as tag_bits() gives it: the caller's loop packs nothing.
  static constexpr Picoseconds kStampLimit{Entry::kStampMask};
  static std::uint64_t tag_bits(std::int64_t tag) { return Entry::pack(Picoseconds(0), tag); }
  void put_below_limit(std::size_t k, Picoseconds start, std::uint64_t tag_bits, Picoseconds stamp) const {
    d_[k] = Entry{start, stamp.value() | tag_bits};
  }

 private:
  friend class SlotCalendar;
  explicit Appender(Entry* d) : d_(d) {}
  Entry* d_;
};

inline SlotCalendar::Appender SlotCalendar::appender() { return Appender(e_.spare()); }

class DramController final : public MemoryDevice {
 public:
  // `base`: first physical address of the node (subtracted before mapping).
  // Throws std::invalid_argument if params.validate() fails.
  DramController(const DramParams& params, PhysAddr base, std::string name);

  // One 64-byte line read or written, arriving at the controller at `arrival`.
  DramResult access(PhysAddr pa, bool is_write, Picoseconds arrival);
  // n posted writes of whole lines, in the order they were posted (a cached
  // clear's LLC write-backs; hw/dram_write_run.cpp): line `pa[i]` arriving at
  // `arrival[i]`. The same effect on the controller (banks, calendars, debt,
  // statistics, histogram) as n calls of access(pa[i], true, arrival[i]) in
  // that order; posted writes return nothing. Consecutive writes of one
  // interleave granule (one bank and row) are a run: the bank, rank and
  // channel are found once; each write that is a row hit in time order is
  // timed by the hit's path alone (serve_row_hit; inside its rank's refresh
  // window too, timed from the window's end as a refresh delay), an in-order
  // row miss by the row-miss path (serve_row_miss; a bank's first request
  // after a window closes its rows first), the rest through schedule().
  // tests/hw/dram_write_run_test.cpp holds it equal to the line path.
  void post_writes(const PhysAddr* pa, const Picoseconds* arrival, std::size_t n);
  // How many requests (of access() and post_writes()) the row-hit path timed
  // (serve_row_hit; the rest went through schedule()); for tests of that path.
  std::uint64_t row_hit_path_requests() const { return row_hit_path_requests_; }
  // Slots reserved at a found place before later reservations (every
  // calendar's SlotCalendar::found_inserts); for tests of set_one_search().
  std::uint64_t one_search_inserts() const;
  // How many of them serve_row_miss() timed (in-order activates).
  std::uint64_t row_miss_path_requests() const { return row_miss_path_requests_; }
  // Requests serve_row_miss() gave back to schedule() (a refresh window
  // before the column command) after closing the bank's rows (a window since
  // its last request); for tests that this leaves schedule() the same state.
  std::uint64_t row_miss_path_closed_refused() const { return row_miss_path_closed_refused_; }
  // How many of them post_writes() settled in one pass per run (settle_write_hits).
  std::uint64_t settled_writes() const { return settled_writes_; }
  // A bank's in-order state, for tests that hold two paths to the same state
  // (tests/hw/dram_same_state.h): the open and previous rows, their activate
  // and precharge times, the next command times and the latest request's time.
  struct BankState {
    std::uint64_t open_row, prev_row, refresh_epoch;
    Picoseconds prev_act, prev_pre, last_act, next_act, next_pre, next_cas, last_t;
    bool operator==(const BankState&) const = default;
  };
  std::size_t bank_count() const { return banks_.size(); }
  BankState bank_state(std::size_t i) const {
    const Bank& b = banks_[i];
    return {b.open_row, b.prev_row, b.refresh_epoch, b.prev_act, b.prev_pre, b.last_act,
            b.next_act, b.next_pre, b.next_cas, b.last_t};
  }

  // A sequential burst: lines [pa, pa + 64 n) of this controller, issued by one
  // initiator that keeps `window` lines in flight and issues at most one line
  // per `issue_gap` (a streaming clear or copy, DMA), the first issued at
  // `issue`. `to_ctrl` is the path from the initiator to the controller and
  // `round_trip` the whole path outside the controller (links both ways);
  // `min_period` the fastest the path accepts one line after another (link
  // serialisation). Timed analytically as one block instead of one scheduling
  // call per line: a window-bound stream advances one line per period
  // tau = L / window, L being a row hit's round trip plus the wait of the
  // granule's later lines behind the bank group's column spacing (solved as a
  // fixed point); each bank/row visit (one interleave granule) adds to the
  // stream the extra time its first line waits: a row opened (tRCD, or
  // tRP + tRCD after the bank's own tRAS/tWR recovery, tRRD and tFAW between
  // the rank's activates), a refresh window it runs into (up to tRFC, then the
  // activate), a bank still busy with earlier requests. Statistics, the banks'
  // open rows and next-free times, the rank's activates and the data bus's
  // last bursts are updated as the line path would leave them. Returns when
  // the last line is back at the initiator. Simplified: the calendars' other
  // reservations delay the stream only through the banks' state, and
  // requests other initiators make later do not see the stream's earlier
  // bursts (only its last ones); a granule whose bank already served later
  // requests (another core ahead by up to a quantum) is one late request with
  // its row outcome for all its lines, so a stream stamped far behind the
  // banks' latest requests is timed less closely than one in time order.
  // tests/hw/bulk_transfer_test.cpp and dram_controller_test.cpp hold it
  // within 2% of the line path.
  // With a write queue (write_queue > 0), a write stream is posted into the
  // queue line by line as the line path posts it (acceptance, back-pressure
  // and the initiator's window exact), while each drain is timed as one batch
  // per bank run on a local picture of the data bus (stream_posted_block,
  // dram_posted_block.cpp); reads are timed as above (their last bursts also
  // hold the ranks' read/write turnarounds). tests/hw/dram_write_queue_stream_test.cpp
  // holds the posted block within 2% of stream_posted (every drain through
  // schedule()) and of the line path.
  Picoseconds stream(PhysAddr pa, std::uint64_t n, bool is_write, Picoseconds issue, Picoseconds to_ctrl,
                     Picoseconds round_trip, Picoseconds min_period, int window, Picoseconds issue_gap);
  // stream() takes runs of granules that are provably row hits served on
  // arrival as one step each, and activates with no other activate of the
  // rank near them without the calendar search (on by default). Off: every
  // granule one by one, the reference the tests compare it with (same results).
  void set_stream_runs(bool on) { stream_runs_ = on; }
  // Posted write streams' drains timed as batches (on by default). Off: each
  // drained write through schedule() (stream_posted), the exact reference the
  // tests compare the batches with, about a hundred times slower on the host.
  void set_posted_block(bool on) { posted_block_ = on; }
  // Each slot a request takes in a calendar (an activate, a column command,
  // a burst) is reserved at the place its search found (on by default). Off:
  // reserved through reserve_displacing's own search for its place and for
  // later-stamped reservations it overlaps, the reference the tests compare
  // it with (same results).
  void set_one_search(bool on) { one_search_ = on; }
  // Time an in-order row hit (serve_row_hit, from access() and post_writes())
  // and an in-order row miss (serve_row_miss, tried first in schedule_at for
  // a request that is not a drained write) by their own short paths (on by
  // default; only without a write queue, open page). Off: every request
  // through schedule()'s general path, the reference the tests compare it
  // with (same results).
  void set_row_hit_path(bool on) { row_hit_path_ = on && p_.write_queue == 0 && p_.page_policy == PagePolicy::Open; }

  DramCoord decode(PhysAddr pa) const;
  // Unloaded latency of each outcome (frontend + DRAM commands + burst).
  Picoseconds idle_latency(RowOutcome outcome, bool is_write = false) const;

  const DramParams& params() const { return p_; }
  const DramStats& stats() const { return stats_; }
  const Histogram& latency_histogram() const { return hist_; }
  // Forget all row-buffer and timing state (closed rows, everything free at 0).
  void reset_state();

  // MemoryDevice ("ddr4").
  MemoryAccessResult access_line(PhysAddr pa, bool is_write, Picoseconds arrival) override {
    const DramResult r = access(pa, is_write, arrival);
    return {r.done, r.service, r.queueing};
  }
  Picoseconds unloaded_latency(bool is_write) const override { return idle_latency(RowOutcome::Closed, is_write); }
  // Every channel's burst-limited peak.
  double peak_bytes_per_second(bool) const override {
    return p_.channel_peak_bytes_per_second() * static_cast<double>(p_.channels);
  }
  std::string_view impl() const override { return "ddr4"; }
  const std::string& name() const override { return name_; }
  void reset_stats() override;
  // <name>.reads, .row_hits, .row_hit_ratio, .bandwidth_bytes_per_s, .latency (histogram) ...
  void dump(StatsVisitor& v) const override;

 private:
  // Host layout: the fields every in-order request reads and writes lead, in
  // the first two host cache lines of a 64-byte aligned bank; each snapshot
  // of the history fills one line of its own (a bank is a host cache miss on
  // a random-access stream: fewer lines, fewer misses).
  struct alignas(64) Bank {
    std::uint64_t open_row = kNoRow;
    std::uint64_t refresh_epoch = 0;
    Picoseconds next_act{0};  // earliest ACT (after precharge completes)
    Picoseconds next_pre{0};  // earliest PRE (tRAS, tRTP, tWR)
    Picoseconds next_cas{0};  // earliest column command to this bank
    Picoseconds last_act{0};
    // The row open before the current one and when it was activated and
    // precharged: a late request to it may still be served in that window
    // (the reordering an FR-FCFS scheduler does before closing a row).
    std::uint64_t prev_row = kNoRow;
    Picoseconds prev_act{0};
    Picoseconds prev_pre{0};
    Picoseconds last_t{0};  // latest request time (after the front end) served in order
    std::uint32_t hist_next = 0, hist_n = 0;  // the history's ring below: next slot, snapshots held
    std::uint32_t late_next = 0;              // late_rows' next slot
    // Rows opened by late requests (stamped before last_t: a core behind the
    // others within a quantum), so that the late core's next lines to the same
    // row are row hits as they would be in time order, instead of one
    // activate each. A ring of the last kLateRows, each valid until `until`.
    struct LateRow {
      std::uint64_t row = kNoRow;
      std::uint64_t epoch = 0;  // refresh epoch it was opened in
      Picoseconds act{0}, until{0};
    };
    std::array<LateRow, 4> late_rows{};
    // The bank's in-order state after each of its latest in-order requests,
    // by the request's stamp (ascending in the ring): a late request is timed
    // against the bank as it was at its time (the row open then, its
    // precharge, activate and column constraints) instead of ignoring the
    // bank's timing. stream() clears it (its visits are not recorded).
    struct alignas(64) Snapshot {
      Picoseconds stamp{0}, next_act{0}, next_pre{0}, next_cas{0}, last_act{0};
      std::uint64_t open_row = kNoRow;
      std::uint64_t refresh_epoch = 0;
    };
    std::array<Snapshot, 8> hist{};
  };
  struct Rank {
    SlotCalendar acts;                   // ACT commands: tRRD_S/L apart; tFAW checked on top
    std::vector<SlotCalendar> cas_by_bg;  // column commands per bank group: tCCD_L apart
    // Column commands by direction (tag 0 read, 1 write), with write_queue > 0:
    // a read tRTW before a write, a write's burst tWTR_S before a read.
    SlotCalendar rw;
  };
  struct Channel {
    SlotCalendar bus;  // data bursts; tag = rank (tRTRS gap between ranks)
    // Write queue (write_queue > 0): a ring of the queued writes, and per entry
    // the time its last write issued (a new write waits for it: back-pressure).
    struct PendingWrite {
      DramCoord c;
      Picoseconds arrival{0}, accept{0};
    };
    std::array<PendingWrite, DramParams::kMaxWriteQueue> wq{};
    std::array<Picoseconds, DramParams::kMaxWriteQueue> wq_free{};
    std::uint32_t wq_head = 0, wq_count = 0;
    // Displacement of the bus's reservations by requests stamped earlier
    // (reserve_displacing) not yet paid: its one-slot moves, their sum, and
    // the earliest stamp of a request they moved.
    std::uint64_t debt_ps = 0, debt_n = 0;
    Picoseconds debt_stamp = SlotCalendar::kAll;
  };
  static constexpr std::uint64_t kNoRow = ~0ull;
  // Owed one-slot moves (Channel::debt_n) beyond which a request pays more
  // than one: what is owed is paid within about this many requests, about one
  // 1 us quantum of a saturated channel's requests (DDR4-2666: 333 per us, a
  // DDR5-4800 subchannel: 300), as the cores whose requests were moved would
  // have been held back within their next quantum. (64, a tenth of a
  // quantum, lands long moves on the chase of a loaded-latency study: 224 ns
  // at 35 GB/s on sapphire-rapids-2s; 1024 gives 161 ns there and 165 ns at
  // 201 GB/s on skylake-sp-2s, below MLC's 166-178.)
  static constexpr std::uint64_t kDebtWindow = 256;
  // Reservations each calendar keeps: a saturated DDR4-2666 data bus fills
  // 4096 slots in 12 us, so a core lagging the others by up to a 10 us quantum
  // still finds the gaps it may use (times before the oldest slot count as busy).
  static constexpr std::size_t kCalendarSlots = 4096;

  // t, or the end of the rank's refresh window t falls in (*delayed set).
  Picoseconds refresh_adjust(std::uint32_t rank, Picoseconds t, bool* delayed) const {
    if (!p_.refresh) return t;
    const RefreshMemo& m = refresh_memo_[rank];
    if (m.covers(t)) return t;  // between two windows, as last time
    return refresh_adjust_slow(rank, t, delayed);
  }
  // Refresh windows of the rank begun at or before t.
  std::uint64_t refresh_epoch(std::uint32_t rank, Picoseconds t) const {
    if (!p_.refresh) return 0;
    const RefreshMemo& m = refresh_memo_[rank];
    if (m.covers(t)) return m.epoch;
    return refresh_epoch_slow(rank, t);
  }
  // refresh_adjust(), and refresh_epoch() of its result into *epoch: the
  // rank's memo read once when t falls in its span (most requests).
  Picoseconds refresh_adjust_epoch(std::uint32_t rank, Picoseconds t, bool* delayed, std::uint64_t* epoch) const {
    const RefreshMemo& m = refresh_memo_[rank];
    if (m.covers(t)) {
      *epoch = m.epoch;
      return t;
    }
    t = refresh_adjust_slow(rank, t, delayed);
    *epoch = refresh_epoch(rank, t);
    return t;
  }
  Picoseconds refresh_adjust_slow(std::uint32_t rank, Picoseconds t, bool* delayed) const;
  std::uint64_t refresh_epoch_slow(std::uint32_t rank, Picoseconds t) const;
  // refresh_adjust() for the short paths (serve_row_hit, serve_row_miss,
  // settle_write_hits) when the rank's span memo does not cover t: t, or the
  // end of the refresh window t falls in (*delayed set), with the memo moved
  // to the span that time is in. A request in the window just before the
  // memo's span (one of every twenty or so: tRFC of tREFI) is told so
  // without a division. So the requests of a refresh window and the first
  // of each span take the short paths instead of schedule()'s general one
  // (a twentieth of a cached clear's write-backs did). The memo only caches
  // what the slow paths compute: no result changes.
  [[gnu::noinline]] Picoseconds refresh_start(std::uint32_t rank, Picoseconds t, bool* delayed) const;
  // The span between two refresh windows of a rank last found by the slow
  // paths, [lo, hi) with its epoch (empty at first): most requests of a rank
  // fall in the span the previous one did, and need no division.
  struct RefreshMemo {
    std::uint64_t lo = 0, hi = 0, epoch = 0;
    // Whether t falls in the remembered span between two windows (one compare).
    bool covers(Picoseconds t) const { return t.value() - lo < hi - lo; }
  };
  void remember_refresh_span(std::uint32_t rank, std::uint64_t off, std::uint64_t k) const;
  std::uint32_t same_group_column_spacing() const;
  // same_group_column_spacing() in picoseconds, computed once (a division).
  Picoseconds column_spacing_ps_{0};
  // The constraints every request reads, in picoseconds, and idle_latency()
  // of each outcome and direction, computed once at construction (each
  // to_ps() is a load and a multiply on every request otherwise).
  struct TimingPs {
    Picoseconds cl{0}, cwl{0}, trcd{0}, trp{0}, tras{0}, trtp{0}, twr{0}, tburst{0}, tfaw{0};
    std::array<std::array<Picoseconds, 2>, 3> idle{};  // [RowOutcome][is_write]
  };
  TimingPs ps_;
  std::uint64_t refresh_offset(std::uint32_t rank_index, std::uint64_t total_ranks) const;
  // decode() of line number `line` (from the node's base) into the memo, returned.
  // The coordinates stay in the memo and are read field by field: a
  // coordinate returned by value was written as 4- and 8-byte fields and
  // copied as 16-byte words, which the host cannot forward from its store
  // buffer (each copy waited for the buffer to drain). post_writes and access
  // hold the returned reference across schedule_at and the settle: nothing
  // under them may decode, or the round-robin memo could overwrite it.
  // The column's low bits (the line within its granule) are left as the
  // memo entry holds them: nothing that times a request reads the column
  // (bank, row and the indices above it decide); decode() sets them.
  const DramCoord& decode_line(std::uint64_t line) const {
    const std::uint64_t granule = line >> il_shift_;
    for (std::uint32_t k = 0; k < kDecodeMemo; ++k)
      if (memo_granule_[k] == granule) return memo_[k];
    return decode_miss(line);
  }
  // decode_line() of a granule the memo does not hold: from the granule
  // before it when the memo holds that (next_granule), else decoded.
  const DramCoord& decode_miss(std::uint64_t line) const;
  // decode_line() of a line of the granule after `prev`'s (a memo entry):
  // next_granule() of it into the memo's next entry, without searching the
  // memo (post_writes: a clear's write-backs run granule after granule, and
  // each new granule missed the memo, then searched it again for the one
  // before). Inline with next_granule in post_writes: -0.25% of a fault stream.
  const DramCoord& decode_after(const DramCoord& prev, std::uint64_t line) const;
  void decode_general(std::uint64_t line, DramCoord& c) const;
  void decode_uncached(std::uint64_t line, DramCoord& c) const;  // decode() without the granule memo
  void apply_row_hash(DramCoord& c) const;  // xor_hash: the row's low bits into bank and bank group
  void apply_row_fold(DramCoord& c) const;  // xor_fold: every row bit into bank, bank group and channel
  // A channel index combined with a channel hash value (XOR, or a modular sum
  // when the channel count is not a power of two).
  std::uint32_t fold_channel(std::uint32_t channel, std::uint64_t h) const;
  // Earliest ACT at or after t in rank r's bank group bg (tRRD_S/L, tFAW);
  // `spot` (if given): its place in the rank's calendar (reserve_found).
  Picoseconds earliest_activate(const Rank& r, std::uint32_t bg, Picoseconds t,
                                Picoseconds vis = SlotCalendar::kAll, SlotCalendar::Spot* spot = nullptr) const;
  // Earliest column command at or after t whose burst finds the data bus free (tCCD_L, tBURST, tRTRS).
  Picoseconds earliest_column(const Rank& r, const Channel& ch, std::uint32_t rank, std::uint32_t bg,
                              Picoseconds t, Picoseconds cas_latency, bool read = false,
                              Picoseconds vis = SlotCalendar::kAll) const;
  // earliest_column() without a write queue, with the places it found for
  // the column command in the bank group's calendar and for its burst on the
  // bus (SlotCalendar::earliest_spot), so that both are reserved without
  // searching again (reserve_found).
  // `iter`: the search's iterations already done (column_spots() did the first).
  Picoseconds earliest_column_spots(const Rank& r, const Channel& ch, std::uint32_t rank, std::uint32_t bg,
                                    Picoseconds t, Picoseconds cas_latency, Picoseconds vis, SlotCalendar::Spot& column,
                                    SlotCalendar::Spot& burst, int iter = 0) const;
  // schedule()'s column search: earliest_column_spots(), or with a write
  // queue earliest_column() and spots that are not clean (reserved through
  // reserve_displacing's search: the rank's read/write calendar is searched too).
  Picoseconds column_at(const Rank& r, const Channel& ch, const DramCoord& c, Picoseconds t, Picoseconds cas_latency,
                        bool read, Picoseconds vis, SlotCalendar::Spot& column, SlotCalendar::Spot& burst) const;
  // The bank, rank, channel and calendars of a coordinate, found once for
  // serve_row_hit() and schedule_at() (post_writes(): once for a run of one
  // granule).
  struct HitSite {
    Bank& b;
    Rank& r;
    Channel& ch;
    SlotCalendar& columns;
    const RefreshMemo* memo;  // null without refresh
    std::size_t rank_index;
    // Whether x falls between two refresh windows of the bank's epoch, as the
    // rank's span memo says (false: schedule() decides).
    bool in_refresh_span(Picoseconds x) const { return !memo || (memo->covers(x) && memo->epoch == b.refresh_epoch); }
    // in_refresh_span(x) for an x at or after a time it held for, the memo
    // unchanged since: x before the span's end (one compare; the short
    // paths' check of their column command).
    // The call sites' facts (the memo covers the earlier time, their epochs
    // agree, x is not before it) are checked in debug builds.
    bool in_refresh_span_after(Picoseconds x) const {
      const bool inside = !memo || x.value() < memo->hi;
      assert(inside == in_refresh_span(x));
      return inside;
    }
  };
  [[gnu::always_inline]] HitSite hit_site(const DramCoord& c) {
    const std::size_t ri = c.channel * stride_.ranks + c.rank;
    Rank& r = ranks_[ri];
    return HitSite{
        banks_[ri * stride_.banks_per_rank + c.bank_group * stride_.banks_per_group + c.bank],
        r,
        channels_[c.channel],
        r.cas_by_bg[c.bank_group],
        p_.refresh ? &refresh_memo_[ri] : nullptr,
        ri};
  }
  // earliest_column_spots() from the bank group's calendar clear at `cas`
  // (the in-order column command): its spot there, and the burst's spot
  // searched once on the bus; the call only when the burst cannot go at
  // cas + CL. An L1-miss stream's row hits land so in a gap before the
  // channel's later bursts (two of five): without the call, the second
  // look at the bank group's calendar and the spots passed through memory.
  [[gnu::always_inline]] Picoseconds column_spots(const HitSite& s, const DramCoord& c, Picoseconds cas,
                                                  Picoseconds cas_latency, Picoseconds vis, SlotCalendar::Spot& column,
                                                  SlotCalendar::Spot& burst) const {
    if (s.columns.clear_at(cas)) {
      const Picoseconds data = cas + cas_latency;
      if (s.ch.bus.clear_at(data)) {
        column = s.columns.clear_spot(cas);
        burst = s.ch.bus.clear_spot(data);
        return cas;
      }
      burst = s.ch.bus.earliest_spot(data, static_cast<int>(c.rank), vis);
      if (burst.start == data) {
        column = s.columns.clear_spot(cas);
        return cas;
      }
      // The search's next iteration (from where the burst can go), not its first again.
      return earliest_column_spots(s.r, s.ch, c.rank, c.bank_group, burst.start - cas_latency, cas_latency, vis, column,
                                   burst, 1);
    }
    return earliest_column_spots(s.r, s.ch, c.rank, c.bank_group, cas, cas_latency, vis, column, burst);
  }
  // hit_site()'s index strides as host words, set once (read from the
  // parameters, each was a sign extension and the bank's a multiply more per request).
  struct Strides {
    std::size_t ranks = 0, banks_per_rank = 0, banks_per_group = 0;
  };
  Strides stride_;
  // One request through the banks, ranks and bus, at the scheduler from `t`
  // (`arrival` + front end, or a write drain's time); `drained`: a queued
  // write, already counted when posted.
  DramResult schedule(const DramCoord& c, bool is_write, Picoseconds arrival, Picoseconds t, bool drained) {
    return schedule_at(hit_site(c), c, is_write, arrival, t, drained);
  }
  // schedule() with the coordinate's bank, rank and channel found already (s = hit_site(c)):
  // the in-order row miss by its own path (serve_row_miss) when the row-hit
  // path is on and the request is not a drained write, else schedule_general().
  // A short function of its own that only calls one of the two: reached
  // through schedule_general(), each row miss paid that large function's
  // prologue and epilogue (about 50 host instructions, 1.6% of a GUPS
  // stream, nearly all row misses); inline in access(), the row hits paid
  // for the calls' registers.
  [[gnu::noinline]] DramResult schedule_at(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                           Picoseconds t, bool drained);
  // schedule_at()'s general steps (late requests, reordered hits, refresh
  // windows, a write queue, the closed-page policy, the paths turned off).
  [[gnu::noinline]] DramResult schedule_general(const HitSite& s, const DramCoord& c, bool is_write,
                                                Picoseconds arrival, Picoseconds t, bool drained);
  // schedule() of the usual request, without its general steps: stamped at
  // or after the bank's latest request (not late), to the row the bank has
  // open, with neither a write queue nor the closed-page policy, its time
  // (or the end of the refresh window it falls in) and its column command
  // between two refresh windows of the bank's epoch (the rank's span memo,
  // no division). Times and commits it as schedule() would
  // (the column search, the bus and bank-group reservations with their
  // displacement and the channel's debt, the bank's history, the statistics
  // and histogram) into `res` and returns true; returns false, having changed
  // nothing, for any other request (schedule() then times it).
  [[gnu::always_inline]] bool serve_row_hit(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                            Picoseconds t, DramResult& res);
  // schedule() of an in-order row miss (an activate, after a precharge when
  // another row is open), with the conditions of serve_row_hit() but the
  // row: not the bank's previous row (schedule() may serve that one before
  // its precharge), the request (or the end of the refresh window it falls
  // in) and its column command between two refresh windows of the bank's
  // epoch. A request after a refresh window the bank has not seen yet first
  // closes the bank's rows as schedule() would first do, then is timed here
  // as a closed-row miss. The activate takes no search when it lies after
  // the rank's latest activate's reach with at most three activates within
  // tFAW of it. Times and commits it as schedule() would; any other request
  // it hands to schedule_general() (having changed nothing but that
  // closing, which schedule_general() then finds done), itself, its result
  // returned as is: its caller, schedule_at() when the row-hit path is on,
  // then keeps nothing across a call.
  DramResult serve_row_miss(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival, Picoseconds t);
  std::uint64_t row_miss_path_requests_ = 0;  // requests serve_row_miss() timed
  std::uint64_t row_miss_path_closed_refused_ = 0;  // row_miss_path_closed_refused()
  // The burst's reservation on the bus at its spot (reserve_found), moved
  // bursts kept out of their rank's refresh windows (a column command in
  // [window, its end + tRCD): the rank is refreshing, then its rows are
  // closed; a read's CL taken as the lead), as the bursts a request in time
  // order can get (tRFC 0, DDR5's REFsb instants, has no window). Returns
  // the distance the bursts it displaced moved; their one-slot moves into mv.
  [[gnu::always_inline]] std::uint64_t reserve_burst(const HitSite& s, const DramCoord& c,
                                                     const SlotCalendar::Spot& spot, Picoseconds stamp,
                                                     SlotCalendar::Moves& mv) {
    if (bus_blackout_on_) {
      // Only the channel's offsets change from request to request (the rest
      // is set once: built here, the whole window cost a request ten host
      // instructions, an append that never reads it included).
      bus_blackout_.offset_by_tag = refresh_offsets_.data() + (s.rank_index - c.rank);
      return s.ch.bus.reserve_found_near(spot, c.rank, stamp, &mv, &bus_blackout_);
    }
    return s.ch.bus.reserve_found_near(spot, c.rank, stamp, &mv, nullptr);
  }
  // reserve_burst()'s refresh windows: tREFI, tRFC + tRCD, the lead CL (set
  // at construction), the offsets of the request's channel (set per request).
  SlotCalendar::Blackout bus_blackout_;
  bool bus_blackout_on_ = false;  // refresh with tRFC > 0
  bool row_hit_path_ = true;  // set_row_hit_path(); false with a write queue or the closed-page policy
  bool one_search_ = true;    // set_one_search()
  // A served request's statistics (schedule(), serve_row_hit()) but its row
  // outcome: its direction's count and bytes (a drained write was counted
  // when posted), latency, queueing, bus time, first arrival, last burst
  // (`done`, without a displaced share), and the latency histogram.
  void count_served(bool is_write, bool drained, Picoseconds arrival, Picoseconds done, Picoseconds latency,
                    Picoseconds queueing);
  // A served request's result (done at `done` plus its displaced `share`,
  // its row outcome, service and queueing) and all its statistics: the
  // outcome's count and count_served()'s (schedule(), serve_row_hit(), serve_row_miss()).
  void serve_result(DramResult& res, RowOutcome outcome, bool is_write, bool drained, Picoseconds arrival,
                    Picoseconds done, Picoseconds share);
  // schedule()'s steps of an in-order request, shared with post_writes()'
  // runs: the bank's history snapshot, and the channel's displacement debt
  // (the share a request stamped `stamp` pays, then the `moved` ps its burst
  // displaced are owed). Defined below the class.
  void keep_snapshot(Bank& b, Picoseconds stamp);
  // Writes `h`, a snapshot of b's history, for a request stamped `stamp`
  // after which the bank's precharge and column readiness are `next_pre` and
  // `next_cas` (its other fields as the bank holds them): keep_snapshot()'s
  // and settle_write_hits()' one writer of a snapshot.
  void keep_snapshot_at(const Bank& b, Bank::Snapshot& h, Picoseconds stamp, Picoseconds next_pre,
                        Picoseconds next_cas);
  Picoseconds settle_debt(Channel& ch, Picoseconds stamp, std::uint64_t moved, const SlotCalendar::Moves& mv);
  // What a post_writes() call's settled writes add to the statistics and the
  // latency histogram, kept in its frame and added once at its end (sums,
  // counts and extremes: the order of adding does not matter, and nothing
  // reads them in between). The histogram's samples by the write's place in
  // its settled prefix: a clear's runs repeat one pattern of latencies (the
  // first write on arrival, each later one behind the one before by the
  // bank group's column spacing less the arrivals' gap), so each place
  // mostly sees one value (three of four settled writes of a fault stream),
  // counted here and recorded once with its count; the others are recorded
  // as they come.
  struct SettleTotals {
    std::uint64_t writes = 0, latency_sum = 0, first_arrival = ~0ull, last_done = 0;
    std::array<std::uint64_t, 16> lat{}, lat_n{};  // [place in the prefix]: its first latency and count
  };
  // The totals into stats_ and hist_ (post_writes() at its end).
  void add_settle_totals(const SettleTotals& tot);
  // Picoseconds a settled write's history snapshot and statistics need, read
  // once per post_writes() call.
  // `chained`: whether a write column-spaced after the one before is clear
  // of it on both calendars (every reach at most the bank group's column
  // spacing: so on the shipped geometries): settle_write_hits() then checks
  // each later write of a prefix against the refresh span alone; otherwise
  // it settles one write per call (each checked by its entry tests).
  struct SettleConsts {
    Picoseconds fe, cwl, cwl_burst, cas_to_pre, spacing, tras;
    bool chained;
  };
  // post_writes(): the writes arriving at arrival[0, n) to the bank and row of `c`, in order.
  void write_run(const DramCoord& c, const Picoseconds* arrival, std::size_t n, const SettleConsts& k,
                 SettleTotals& tot);
  // write_run()'s in-order row hits in one pass: the longest prefix (at most
  // kSettleMax) of the writes arriving at arrival[0, n) that serve_row_hit()
  // would time with nothing to search, move or pay (each at or after the
  // bank's latest request and the calendars' latest stamps, its column
  // command and burst clear of every reservation, no debt owed on the
  // channel, inside the rank's refresh span). Times them as serve_row_hit()
  // one by one would, in one loop: each from the one before, its bus and
  // bank-group reservations written in place at the calendars' ends
  // (SlotCalendar::Appender::put) and its history snapshot; then the calendars and
  // the bank's state are brought up to date once, the statistics and the
  // histogram's samples added to the call's totals `tot`. Returns how
  // many it settled (0: the first is not one). Defined (always inline) in
  // hw/dram_write_run.cpp, inline in write_run(), its one caller (a call per
  // run of about three lines: the prologue, the site's fields read back
  // through a pointer, the epilogue; measured -0.7% of a cached clear's
  // fault stream); no other file may call it.
  std::size_t settle_write_hits(const HitSite& s, const DramCoord& c, const Picoseconds* arrival, std::size_t n,
                                const SettleConsts& k, SettleTotals& tot);
  static constexpr std::size_t kSettleMax = 16;
  static_assert(kSettleMax <= std::tuple_size_v<decltype(SettleTotals::lat)>, "a place per settled write");
  // (The chained test and the constants are computed per post_writes() call,
  // not kept as members set at construction: that code in the constructor
  // changed the registers GCC gave serve_row_miss, +5 M host instructions of
  // a GUPS stream.)
  std::uint64_t settled_writes_ = 0;  // writes settle_write_hits() timed
  DramResult post_write(const DramCoord& c, Picoseconds arrival);
  // stream() of writes with a write queue: the lines posted one by one by a window-bound initiator.
  Picoseconds stream_posted(PhysAddr pa, std::uint64_t n, Picoseconds issue, Picoseconds to_ctrl,
                            Picoseconds round_trip, Picoseconds min_period, int window, Picoseconds issue_gap);
  void drain_writes(std::uint32_t channel, Picoseconds start);
  // stream_posted() with each drain timed as one batch (dram_posted_block.cpp).
  Picoseconds stream_posted_block(PhysAddr pa, std::uint64_t n, Picoseconds issue, Picoseconds to_ctrl,
                                  Picoseconds round_trip, Picoseconds min_period, int window, Picoseconds issue_gap);
  // The queued writes of one bank and row that sit together in a channel's
  // queue (a granule's lines, or one write queued by access()), as the
  // posted block keeps them instead of one entry per line.
  struct PostedRun {
    DramCoord c;
    std::uint32_t bank = 0, rank_index = 0;  // indices into banks_ and ranks_
    std::uint32_t pos = 0, n = 0;            // ring position of its first write; writes
    std::uint64_t arrival_sum = 0;           // summed arrivals at the controller, ps
    Picoseconds accept{0};                   // latest acceptance of its writes
  };
  // A drained run's column commands (cas0, cas0 + step, ...): the last drain
  // of each channel is reserved in the calendars when the block ends.
  struct DrainedRun {
    Picoseconds cas0{0}, step{0};
    std::uint32_t n = 0, rank_index = 0, rank = 0, bank_group = 0;
  };
  // The posted block's drain of `channel` from `start`: its oldest queued
  // writes down to the low watermark, timed as one batch.
  void posted_drain(std::uint32_t channel, Picoseconds start);
  // The picture of one channel's data bus the block's drains are placed on:
  // bit k is tCK k after `origin` (busy), for the 64 words from `low_word`
  // on (a ring of words: moving on clears the words left behind).
  struct BusPicture {
    static constexpr std::uint64_t kWords = 64;
    std::array<std::uint64_t, kWords> bits{};
    Picoseconds origin{0};
    std::uint64_t low_word = 0;
    bool valid = false;
    bool pictured(std::uint64_t w) const { return w - low_word < kWords; }  // before or beyond: unknown, free
    std::uint64_t word(std::uint64_t w) const { return pictured(w) ? bits[w & (kWords - 1)] : 0; }
    std::uint64_t window(std::uint64_t p) const {  // 64 bits from position p
      const std::uint64_t w = p >> 6, b = p & 63;
      return b == 0 ? word(w) : (word(w) >> b) | (word(w + 1) << (64 - b));
    }
    void mark(std::uint64_t p, std::uint64_t pattern) {
      const std::uint64_t w = p >> 6, b = p & 63;
      if (pictured(w)) bits[w & (kWords - 1)] |= pattern << b;
      if (b != 0 && pictured(w + 1)) bits[(w + 1) & (kWords - 1)] |= pattern >> (64 - b);
    }
    // First position from p with `len` (1..64) free bits.
    std::uint64_t first_free(std::uint64_t p, std::uint32_t len) const {
      for (;;) {
        if (!pictured(p >> 6)) return p;
        const std::uint64_t x = ~window(p);
        std::uint64_t y = x;  // bit j: bits j .. j + len - 1 of the window free
        for (std::uint32_t k = 1; k < len; ++k) y &= x >> k;
        if (y != 0) return p + static_cast<std::uint64_t>(__builtin_ctzll(y));
        p += 65 - len;
      }
    }
    void move_to(std::uint64_t w) {  // the picture from word w on
      if (w <= low_word) return;
      const std::uint64_t n = std::min(w - low_word, kWords);
      for (std::uint64_t k = 0; k < n; ++k) bits[(low_word + k) & (kWords - 1)] = 0;
      low_word = w;
    }
  };
  std::vector<BusPicture> bus_pictures_;
  std::vector<std::uint64_t> bus_busy_until_;  // by channel: the end of the latest burst on its picture
  // A drain placed free of anything before it (banks, bank groups, calendars,
  // refresh, the picture), as the next drain of the channel may repeat it:
  // its runs in queue order, each with its place from the drain's start.
  struct TemplateRun {
    std::uint32_t bank = 0, n = 0;
    std::uint64_t row = 0;
    std::uint32_t off = 0;  // tCK from the drain's start to its first burst's column command
    bool first = false;     // the first run of its bank and row in the drain
  };
  struct DrainTemplate {
    std::uint32_t runs = 0, span = 0;  // span: tCK from the start to the end of the last burst
    bool ok = false;
  };
  std::vector<DrainTemplate> templates_;      // by channel
  std::vector<TemplateRun> template_runs_;    // [channel][kMaxWriteQueue]  // by channel
  bool posted_block_ = true;
  std::vector<PostedRun> posted_runs_;                     // [channel][kMaxWriteQueue] rings
  std::vector<std::uint32_t> posted_head_, posted_count_;  // by channel
  std::vector<PostedRun> posted_batch_;                    // posted_drain()'s batch (scratch)
  std::vector<DrainedRun> drained_;                        // [channel][kMaxWriteQueue]: its last drain
  std::vector<std::uint32_t> drained_count_;               // by channel
  std::vector<Picoseconds> bg_free_;                       // [rank index][bank group]: next column command
  struct GranuleBank {                                     // a granule's coordinates (column aside) and bank
    DramCoord c;
    std::uint32_t bank = 0, rank_index = 0;
  };
  std::vector<GranuleBank> granule_table_;
  FastDivider tck_div_;                          // tCK, for the bus pictures' positions
  // The block's drained writes' latencies by histogram bucket (count, summed
  // ps), recorded into hist_ once per bucket when the block ends.
  std::array<std::uint64_t, Histogram::kBuckets + 1> posted_hist_n_{}, posted_hist_sum_{};


  DramParams p_;
  PhysAddr base_;
  std::string name_;
  std::vector<DramField> fields_;  // least significant first
  // Address decode, precomputed at construction: the mixed-radix digits of the
  // line number above the interleave granule. When at most one radix is not
  // a power of two (the usual case: 6 or 3 channels), the granule number y
  // splits at that digit: the fields below it are bit fields of y, the digit
  // itself is the remainder of one division (a multiply by a precomputed
  // reciprocal) of the bits above, and the fields above it are bit fields of
  // that quotient (with no such radix, the quotient is y itself). Otherwise
  // each field divides by its radix in turn (decode_general).
  struct DecodeStep {
    DramField field;
    FastDivider radix;
  };
  // A field's digit: bits of one of the split's three words (granule number,
  // quotient, remainder).
  enum DecodeWord : std::uint8_t { kGranule = 0, kQuotient = 1, kRemainder = 2 };
  struct BitField {
    std::uint8_t word = kGranule;
    unsigned shift = 0;
    std::uint64_t mask = 0;
    std::uint64_t of(const std::uint64_t* words) const { return (words[word] >> shift) & mask; }
  };
  unsigned il_shift_ = 0;                    // log2(interleave lines)
  std::array<DecodeStep, 5> steps_{};        // non-row fields, least significant first
  bool split_decode_ = false;                // at most one radix not a power of two
  unsigned split_shift_ = 0;                 // bits of y below the split digit
  FastDivider split_;                        // its radix (1 without a split)
  BitField column_hi_, channel_, bank_group_, bank_, rank_;
  unsigned row_shift_ = 0;                   // the row: the quotient's bits from here
  FastDivider hash_banks_, hash_groups_;     // xor_hash: banks per group, bank groups
  bool hash_bits_ = false;                   // xor_hash without xor_fold, both counts powers of two
  // xor_fold: chunk width and mask of the row fold, bits of bank, bank group
  // and channel index it feeds (channel bits rounded up to a power of two).
  unsigned fold_width_ = 0, fold_bank_bits_ = 0, fold_group_bits_ = 0;
  std::uint64_t fold_mask_ = 0, fold_channel_mask_ = 0;
  // Refresh: tREFI divider and the window offset of each rank (by rank index).
  FastDivider trefi_;
  std::vector<std::uint64_t> refresh_offsets_;
  mutable std::vector<RefreshMemo> refresh_memo_;  // by rank index
  // decode()'s memo: the coordinates of the last kDecodeMemo interleave
  // granules decoded, replaced in turn. More than one: a stream's reads and
  // its write-backs (or its demand and prefetch lines) alternate at the
  // controller, and a single entry held neither (98% of an L1-miss stream's
  // requests decoded again).
  static constexpr std::uint32_t kDecodeMemo = 4;
  mutable std::array<std::uint64_t, kDecodeMemo> memo_granule_{~0ull, ~0ull, ~0ull, ~0ull};
  static_assert(kDecodeMemo == 4, "memo_granule_'s initialiser marks each of the entries empty");
  mutable std::array<DramCoord, kDecodeMemo> memo_{};
  mutable std::uint32_t memo_next_ = 0;
  // The granule after a memo entry's (a stream's next granule, a clear's
  // write-backs run by run): its coordinates are the entry's with the lowest
  // digit (the first field whose radix is above 1) one more, when that digit
  // does not wrap and the row hash does not touch its field (channel without
  // xor_fold, rank, column). next_field_: that field, or Row when no such.
  DramField next_field_ = DramField::Row;
  std::uint64_t next_radix_ = 1;
  // `to` = `from` with the lowest digit one more; false when it would wrap.
  bool next_granule(const DramCoord& from, DramCoord& to) const;
  std::vector<Bank> banks_;        // [channel][rank][bank_group][bank]
  std::vector<Rank> ranks_;        // [channel][rank]
  std::vector<Channel> channels_;
  DramStats stats_;
  // stream(): each rank's refresh state over [from, to) (no window in it, epoch fixed).
  struct RefreshSpan {
    Picoseconds from{1}, to{0};
    std::uint64_t epoch = 0;
  };
  std::vector<RefreshSpan> stream_refresh_;  // [channel][rank]
  // stream(): the banks of one block's period (digits below the column), in odometer order.
  struct StreamBank {
    std::uint32_t bank, rank_index, channel, rank, bank_group;  // bank: index into banks_
  };
  std::vector<StreamBank> stream_banks_;
  bool stream_runs_ = true;
  std::vector<Picoseconds> stream_slots_;  // stream_posted(): completion of each line in flight
  Histogram hist_{Picoseconds(10000)};  // 10 ns buckets up to 640 ns

  std::uint64_t row_hit_path_requests_ = 0;  // requests serve_row_hit() timed
};

inline const DramCoord& DramController::decode_after(const DramCoord& prev, std::uint64_t x) const {
  const std::uint32_t k = memo_next_;
  memo_next_ = (k + 1) % kDecodeMemo;
  memo_granule_[k] = x >> il_shift_;
  // (prev may be memo_[k] itself: next_granule copies it first, or writes nothing.)
  if (!next_granule(prev, memo_[k])) decode_uncached(x, memo_[k]);
  return memo_[k];  // (the column's low bits as decode_line leaves them)
}

inline bool DramController::next_granule(const DramCoord& from, DramCoord& to) const {
  switch (next_field_) {
    case DramField::Channel:
      if (from.channel + 1 >= next_radix_) return false;
      to = from;
      ++to.channel;
      return true;
    case DramField::Rank:
      if (from.rank + 1 >= next_radix_) return false;
      to = from;
      ++to.rank;
      return true;
    case DramField::Column: {
      const std::uint64_t hi = (from.column >> il_shift_) + 1;
      if (hi >= next_radix_) return false;
      to = from;
      to.column = hi << il_shift_;
      return true;
    }
    default:
      return false;
  }
}

// The bank's in-order state after a request stamped `stamp` (schedule(), write_run()).
// Field by field: a snapshot built on the stack and copied whole was read
// back as 16-byte words from 8-byte stores, and the host waited for its
// store buffer (the bank's cold lines) to drain.
inline void DramController::keep_snapshot_at(const Bank& b, Bank::Snapshot& h, Picoseconds stamp,
                                              Picoseconds next_pre, Picoseconds next_cas) {
  h.stamp = stamp;
  h.next_act = b.next_act;
  h.next_pre = next_pre;
  h.next_cas = next_cas;
  h.last_act = b.last_act;
  h.open_row = b.open_row;
  h.refresh_epoch = b.refresh_epoch;
}

inline void DramController::keep_snapshot(Bank& b, Picoseconds stamp) {
  keep_snapshot_at(b, b.hist[b.hist_next], stamp, b.next_pre, b.next_cas);
  b.hist_next = (b.hist_next + 1) % static_cast<std::uint32_t>(b.hist.size());
  b.hist_n = std::min<std::uint32_t>(b.hist_n + 1, static_cast<std::uint32_t>(b.hist.size()));
}

inline bool DramController::serve_row_hit(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                          Picoseconds t, DramResult& res) {
  Bank& b = s.b;
  if (t < b.last_t || b.open_row != c.row) return false;
  // From t, or from the end of the refresh window t falls in (schedule()
  // delays it so: a refresh delay) when the bank has seen that window.
  Picoseconds from = t;
  if (!s.in_refresh_span(t)) {
    bool delayed = false;
    if (!s.memo) return false;
    from = refresh_start(static_cast<std::uint32_t>(s.rank_index), t, &delayed);
    if (!s.in_refresh_span(from)) return false;
  }
  Channel& ch = s.ch;
  SlotCalendar& columns = s.columns;
  const Picoseconds cas_lat = is_write ? ps_.cwl : ps_.cl;
  Picoseconds cas = std::max(from, b.next_cas);
  // Where the column command and its burst go, found once: the usual case
  // (both clear of every reservation) an append to each calendar.
  SlotCalendar::Spot column_spot, burst_spot;
  cas = column_spots(s, c, cas, cas_lat, t, column_spot, burst_spot);
  if (!one_search_) column_spot.clean = burst_spot.clean = false;
  if (!s.in_refresh_span_after(cas)) return false;  // (cas >= from, which it held for)
  b.last_t = t;
  const Picoseconds data = cas + cas_lat, done = data + ps_.tburst;
  SlotCalendar::Moves mv;
  const std::uint64_t moved = reserve_burst(s, c, burst_spot, t, mv);
  const Picoseconds share = settle_debt(ch, t, moved, mv);
  columns.reserve_found(column_spot, 0, t);
  b.next_cas = cas + column_spacing_ps_;
  const Picoseconds pre_ready = is_write ? done + ps_.twr : cas + ps_.trtp;
  b.next_pre = std::max(b.next_pre, std::max(pre_ready, b.last_act + ps_.tras));
  keep_snapshot(b, t);
  ++row_hit_path_requests_;
  serve_result(res, RowOutcome::Hit, is_write, false, arrival, done, share);
  if (from != t) ++stats_.refresh_delays;
  return true;
}

inline void DramController::serve_result(DramResult& res, RowOutcome outcome, bool is_write, bool drained,
                                         Picoseconds arrival, Picoseconds done, Picoseconds share) {
  res.done = done + share;
  res.outcome = outcome;
  res.service = ps_.idle[static_cast<std::size_t>(outcome)][is_write ? 1 : 0];
  const Picoseconds latency = res.done - arrival;
  res.queueing = latency > res.service ? latency - res.service : Picoseconds(0);
  if (outcome == RowOutcome::Hit) ++stats_.row_hits;
  else if (outcome == RowOutcome::Closed) ++stats_.row_closed;
  else ++stats_.row_conflicts;
  count_served(is_write, drained, arrival, done, latency, res.queueing);
}

inline void DramController::count_served(bool is_write, bool drained, Picoseconds arrival, Picoseconds done,
                                         Picoseconds latency, Picoseconds queueing) {
  if (drained) {
    // Counted when queued (post_write).
  } else if (is_write) {
    ++stats_.writes;
    stats_.bytes_written += kCacheLineBytes;
  } else {
    ++stats_.reads;
    stats_.bytes_read += kCacheLineBytes;
  }
  stats_.total_latency_ps += latency.value();
  stats_.total_queueing_ps += queueing.value();
  stats_.bus_busy_ps += ps_.tburst.value();
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, arrival.value());
  stats_.last_done_ps = std::max(stats_.last_done_ps, done.value());
  hist_.record(latency);
}

// The displacement debt: a request stamped after the earliest displaced one
// pays one slot's move, or more while more than kDebtWindow are owed
// (requests moved several times), so that what is owed is paid within about
// kDebtWindow requests; then the moves its own burst made are owed. Returns
// what it pays.
inline Picoseconds DramController::settle_debt(Channel& ch, Picoseconds stamp, std::uint64_t moved,
                                               const SlotCalendar::Moves& mv) {
  Picoseconds share(0);
  if (ch.debt_n > 0 && stamp > ch.debt_stamp) {
    const std::uint64_t slots = 1 + ch.debt_n / kDebtWindow;
    share = Picoseconds(ch.debt_ps / ch.debt_n * slots);
    ch.debt_ps -= share.value();
    ch.debt_n -= slots;
    if (ch.debt_n == 0) ch.debt_stamp = SlotCalendar::kAll;
  }
  if (moved) {
    ch.debt_ps += moved;
    ch.debt_n += mv.slots;
    ch.debt_stamp = std::min(ch.debt_stamp, mv.first_stamp);
  }
  return share;
}

}  // namespace numasim::hw
