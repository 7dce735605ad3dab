// SlotCalendar::reserve_displacing against the calendar as it was before its
// near-the-end insert (reserve_near_end): every reservation inserted by a
// search and followed by displace()'s search for later-stamped slots it
// overlaps, on a std::deque. Every other found slot goes through the
// one-search path instead (earliest_spot, then reserve_found at the spot's
// place; every other of those through reserve_found_near, the data bus's
// form with the near-end insert inline), held to the same reference. Reservations of cores a quantum apart (stamps
// behind and ahead of the latest), most landing among the last few slots,
// some far back, some displacing: each call's moved distance and one-slot
// moves, then earliest() with and without a stamp's view and the starts
// must be equal; and most out-of-order calls that land among the last few
// slots and move nothing must take the near-end insert (else the equality
// says nothing of it: with these stamps most late calls do move a later
// reservation, and a fifth to a quarter land further back). Symmetric
// calendars (a data bus, a bank group's column commands) and an ordered one
// (a rank's reads and writes, SlotCalendar::ordered, as r.rw).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <random>

#include "hw/dram_controller.h"

namespace numasim::hw {
namespace {

class ReferenceDisplacingCalendar {
 public:
  ReferenceDisplacingCalendar(Picoseconds len, Picoseconds same, Picoseconds diff, std::size_t capacity)
      : len_(len), same_(same), diff_(diff), max_sep_(len + std::max(same, diff)), capacity_(capacity) {}
  // Separation by ordered pair of tags 0/1 (sep[first * 2 + second]); the slot length is the least.
  ReferenceDisplacingCalendar(const std::array<Picoseconds, 4>& sep, std::size_t capacity)
      : len_(*std::min_element(sep.begin(), sep.end())),
        max_sep_(*std::max_element(sep.begin(), sep.end())),
        capacity_(capacity),
        ordered_(true),
        sep_(sep) {}

  Picoseconds earliest(Picoseconds t, int tag, Picoseconds visible = SlotCalendar::kAll) const {
    Picoseconds s = std::max(t, floor_);
    for (int pass = 0; pass < 8; ++pass) {
      bool moved = false;
      const Picoseconds from = s > max_sep_ ? s - max_sep_ : Picoseconds(0);
      for (std::size_t i = first_after(from); i < e_.size() && e_[i].start < s + max_sep_; ++i) {
        const Entry& e = e_[i];
        if (e.gone || e.stamp > visible) continue;
        if (s < e.start + sep(e.tag, tag) && e.start < s + sep(tag, e.tag)) {
          s = e.start + sep(e.tag, tag);
          moved = true;
        }
      }
      if (!moved) break;
    }
    return s;
  }
  std::uint64_t reserve_displacing(Picoseconds start, int tag, Picoseconds stamp, SlotCalendar::Moves* moves) {
    const bool later_exist = stamp < max_stamp_;
    reserve(start, tag, stamp);
    if (!later_exist) return 0;
    std::vector<Entry> moved;
    const Picoseconds from = start > max_sep_ ? start - max_sep_ : Picoseconds(0);
    for (std::size_t i = first_after(from); i < e_.size() && e_[i].start < start + max_sep_ && moved.size() < 4; ++i) {
      Entry& e = e_[i];
      if (!e.gone && e.stamp > stamp && start < e.start + sep(e.tag, tag) && e.start < start + sep(tag, e.tag)) {
        moved.push_back(e);
        e.gone = true;
      }
    }
    std::uint64_t shift = 0;
    for (const Entry& m : moved) {
      const Picoseconds to = earliest(m.start, m.tag);
      shift += (to - m.start).value();
      const std::uint64_t d = (to - m.start).value();
      moves->slots += len_.value() ? std::max<std::uint64_t>(1, (d + len_.value() / 2) / len_.value()) : 1;
      moves->first_stamp = std::min(moves->first_stamp, m.stamp);
      reserve(to, m.tag, m.stamp);
    }
    return shift;
  }
  std::size_t starts_between(Picoseconds from, Picoseconds to, Picoseconds* out, std::size_t max,
                             Picoseconds visible) const {
    std::size_t n = 0;
    for (const Entry& e : e_)
      if (e.start >= from && e.start < to && !e.gone && e.stamp <= visible && n < max) out[n++] = e.start;
    return n;
  }

 private:
  struct Entry {
    Picoseconds start, stamp;
    int tag;
    bool gone;
  };
  Picoseconds sep(int a, int b) const {
    return ordered_ ? sep_[static_cast<std::size_t>(a * 2 + b)] : len_ + (a == b ? same_ : diff_);
  }
  std::size_t first_after(Picoseconds v) const {
    return static_cast<std::size_t>(
        std::upper_bound(e_.begin(), e_.end(), v, [](Picoseconds x, const Entry& e) { return x < e.start; }) -
        e_.begin());
  }
  void reserve(Picoseconds start, int tag, Picoseconds stamp) {
    e_.insert(e_.begin() + static_cast<std::ptrdiff_t>(first_after(start)), Entry{start, stamp, tag, false});
    max_stamp_ = std::max(max_stamp_, stamp);
    if (e_.size() > capacity_) {
      floor_ = std::max(floor_, e_.front().start + len_);
      e_.pop_front();
    }
  }
  Picoseconds len_, same_{0}, diff_{0}, max_sep_;
  std::size_t capacity_;
  bool ordered_ = false;
  std::array<Picoseconds, 4> sep_{};
  std::deque<Entry> e_;
  Picoseconds floor_{0}, max_stamp_{0};
};

// The calendar and the reference under the same reservations (see the
// file's comment). The near-end insert may take a call only when it is out of
// time order, lands after all but at most kNearEnd (4) reservations and
// moves none: more than `near_share` of those calls must take it.
void expect_equal_under_random_reservations(SlotCalendar& cal, ReferenceDisplacingCalendar& ref, std::uint64_t seed,
                                            double near_share, std::uint64_t min_found_inserts, const char* what,
                                            std::size_t capacity, std::uint64_t min_near_rotations,
                                            std::uint64_t min_full_rotations) {
  SCOPED_TRACE(what);
  std::mt19937_64 rng(seed);
  std::uint64_t now = 1'000'000, moved_calls = 0, near_end_candidates = 0;
  // Spots reserved: clean, not clean; clean ones inserted before later starts.
  std::uint64_t clean_spots = 0, unclean_spots = 0, found_candidates = 0, near_found_candidates = 0;
  // reserve_found_near's own rotations (not its fallback's), and those of
  // them in a full window (the oldest dropped by the append).
  std::uint64_t near_rotations = 0, near_rotations_full = 0;
  for (int i = 0; i < 40000; ++i) {
    now += rng() % 4000;
    // The stamp of a core up to a quantum behind or a little ahead.
    const std::uint64_t behind = rng() % 4 == 0 ? rng() % 1'000'000 : rng() % 8000;
    const Picoseconds stamp(now - behind + rng() % 2000);
    // Mostly where the core's view finds a slot (among the last few), sometimes arbitrary.
    const int tag = static_cast<int>(rng() % 2);
    const Picoseconds t(stamp.value() + rng() % 6000);
    Picoseconds start = cal.earliest(t, tag, stamp);
    ASSERT_EQ(start, ref.earliest(t, tag, stamp)) << "op " << i;
    // Every other found slot through the one-search path: its spot, then
    // reserve_found() at the spot's place.
    const bool by_spot = i % 2 == 1;
    const SlotCalendar::Spot spot = cal.earliest_spot(t, tag, stamp);
    ASSERT_EQ(spot.start, start) << "op " << i;
    const bool arbitrary = rng() % 6 == 0;
    if (arbitrary) start = Picoseconds(now - rng() % 30000);
    SlotCalendar::Moves a, b;
    const bool near_end = stamp < cal.max_stamp() && cal.at_most_from(4, start + Picoseconds(1));
    std::uint64_t x = 0;
    if (by_spot && !arbitrary) {
      const std::uint64_t before = cal.found_inserts(), rotations_before = cal.found_rotations_near();
      const bool full = !cal.at_most_from(capacity - 1, Picoseconds(0));
      const bool inserted_before_later = spot.clean && !cal.at_most_from(0, start + Picoseconds(1));
      const bool near_form = i % 4 == 3;
      x = near_form ? cal.reserve_found_near(spot, tag, stamp, &a, nullptr) : cal.reserve_found(spot, tag, stamp, &a);
      near_found_candidates += near_form && inserted_before_later;
      const std::uint64_t rotated = cal.found_rotations_near() - rotations_before;
      ASSERT_LE(rotated, near_form && inserted_before_later ? 1u : 0u) << "op " << i;
      near_rotations += rotated;
      near_rotations_full += rotated != 0 && full;
      if (spot.clean) {
        ASSERT_EQ(x, 0u) << "op " << i;
      }
      clean_spots += spot.clean;
      unclean_spots += !spot.clean;
      found_candidates += inserted_before_later;
      ASSERT_EQ(cal.found_inserts() - before, inserted_before_later ? 1u : 0u) << "op " << i;
    } else {
      x = cal.reserve_displacing(start, tag, stamp, &a);
      near_end_candidates += near_end && x == 0;
    }
    ASSERT_EQ(x, ref.reserve_displacing(start, tag, stamp, &b)) << "op " << i;
    ASSERT_EQ(a.slots, b.slots) << "op " << i;
    ASSERT_EQ(a.first_stamp, b.first_stamp) << "op " << i;
    moved_calls += x > 0;
    const Picoseconds probe(now - rng() % 40000);
    ASSERT_EQ(cal.earliest(probe, tag), ref.earliest(probe, tag)) << "op " << i;
    Picoseconds s1[8], s2[8];
    const std::size_t n = cal.starts_between(probe, probe + Picoseconds(40000), s1, 8, stamp);
    ASSERT_EQ(n, ref.starts_between(probe, probe + Picoseconds(40000), s2, 8, stamp)) << "op " << i;
    for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(s1[j], s2[j]) << "op " << i;
  }
  EXPECT_GT(moved_calls, 500u);  // displacement exercised, not only the near-end insert
  EXPECT_LE(cal.near_end_inserts(), near_end_candidates);
  EXPECT_GT(static_cast<double>(cal.near_end_inserts()), near_share * static_cast<double>(near_end_candidates));
  EXPECT_GT(cal.near_end_inserts(), 250u);  // of the half of the calls not by spot
  // The one-search path met both of its cases: a slot among later
  // reservations (inserted at the spot's place) and one that must move a
  // later-stamped reservation (not clean: through reserve_displacing).
  EXPECT_GT(found_candidates, min_found_inserts);
  EXPECT_GT(near_found_candidates, min_found_inserts / 4);  // reserve_found_near's inserts before later ones
  // ... many of them by its inline rotation, which met full windows too.
  EXPECT_GE(near_rotations, min_near_rotations);
  EXPECT_GE(near_rotations_full, min_full_rotations);
  EXPECT_GT(clean_spots, 2000u);
  EXPECT_GT(unclean_spots, 200u);
}

TEST(SlotCalendar, ReserveDisplacingEqualsInsertThenDisplaceSearch) {
  struct Case {
    std::uint64_t len, same, diff;
    std::size_t capacity;
    double near_share;
    std::uint64_t min_found_inserts;  // found, clean slots inserted before later starts (the bank group's: few)
    // reserve_found_near's inline rotations (its fallback's apart), and those in a full window
    std::uint64_t min_near_rotations, min_full_rotations;
    const char* what;
  };
  // A tiny window is mostly full: the near-end insert, which needs room at
  // the buffer's end, leaves most calls there to reserve_slow.
  for (const Case& k : {Case{3000, 0, 1500, 4096, 0.5, 300, 30, 20, "a data bus (tag = rank)"},
                        Case{6000, 0, 0, 256, 0.5, 10, 0, 0, "a bank group's column commands"},
                        Case{3000, 750, 0, 5, 0.25, 200, 70, 70, "a tiny window"}}) {
    SlotCalendar cal(Picoseconds(k.len), Picoseconds(k.same), Picoseconds(k.diff), k.capacity);
    ReferenceDisplacingCalendar ref(Picoseconds(k.len), Picoseconds(k.same), Picoseconds(k.diff), k.capacity);
    expect_equal_under_random_reservations(cal, ref, k.len + k.capacity, k.near_share, k.min_found_inserts, k.what,
                                           k.capacity, k.min_near_rotations, k.min_full_rotations);
  }
  // A rank's column commands by direction (tag 0 read, 1 write) on DDR4-2666:
  // a read then a write tRTW = CL + tBURST + 2 - CWL = 11 cycles, a write then
  // a read CWL + tBURST + tWTR_S = 21 cycles, one direction 0 apart.
  const std::array<Picoseconds, 4> rw = {Picoseconds(0), Picoseconds(11 * 750), Picoseconds(21 * 750), Picoseconds(0)};
  SlotCalendar cal = SlotCalendar::ordered(rw, 4096);
  ReferenceDisplacingCalendar ref(rw, 4096);
  expect_equal_under_random_reservations(cal, ref, 4, 0.5, 3000, "reads and writes of a rank (ordered)", 4096, 900,
                                         800);
}

// earliest_spot() scans at most eight reservations back from the end for
// the first within reach of the slot; a slot further back takes the search
// and the walk (earliest_spot_walk). Both find the gap and place the slot
// before the later reservations, as earliest() and reserve_found() expect.
TEST(SlotCalendar, SpotsNearAndFarBackFromTheEnd) {
  SlotCalendar cal(Picoseconds(1000), Picoseconds(0), Picoseconds(0), 64);  // 1000 ps apart, reach 1000
  for (std::uint64_t k = 0; k < 20; ++k) cal.reserve(Picoseconds(k * 10000), 0, Picoseconds(k * 10000));
  struct Case {
    std::uint64_t t, start, index;  // the query, and the slot and place expected
    const char* what;
  };
  for (const Case& k : {Case{152000, 152000, 16, "a gap four entries back (the scan)"},
                        Case{52000, 52000, 6, "a gap fourteen entries back (the search)"},
                        Case{59500, 61000, 7, "fourteen back, overlapping the next: moved past it (the walk)"},
                        Case{190500, 191000, 20, "overlapping the last: after it"}}) {
    const SlotCalendar::Spot spot = cal.earliest_spot(Picoseconds(k.t), 0, SlotCalendar::kAll);
    EXPECT_EQ(spot.start, Picoseconds(k.start)) << k.what;
    EXPECT_EQ(spot.start, cal.earliest(Picoseconds(k.t), 0)) << k.what;
    EXPECT_EQ(spot.index, k.index) << k.what;
    EXPECT_TRUE(spot.clean) << k.what;
  }
  // The far gap's spot reserved at its place: the gap is taken, and the next
  // slot there goes after it.
  const SlotCalendar::Spot far = cal.earliest_spot(Picoseconds(52000), 0, Picoseconds(300000));
  const std::uint64_t before = cal.found_inserts();
  EXPECT_EQ(cal.reserve_found(far, 0, Picoseconds(300000)), 0u);
  EXPECT_EQ(cal.found_inserts(), before + 1);
  EXPECT_EQ(cal.earliest(Picoseconds(52000), 0), Picoseconds(53000));
  EXPECT_EQ(cal.earliest_spot(Picoseconds(52500), 0, SlotCalendar::kAll).index, 7u);
}

}  // namespace
}  // namespace numasim::hw
