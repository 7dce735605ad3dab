// The host-speed rewrites of the memory-system miss path against the plain
// implementations they replaced, kept here as references: FastDivider against
// the division operator, DRAM address decoding against the division-per-field
// mixed-radix decode, SlotCalendar and LinkCalendar against the std::deque
// versions, and CacheArray against the array of {tag, stamp, state} ways with a
// two-pass fill (coherence states included: upgrades, set_state). Each drives
// both with the same seeded random operations and requires every answer to be
// equal, so a faster path may not move a simulated
// result. Also TailWindow's own bookkeeping (insert, drop, compaction).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/cache.h"
#include "hw/dram_controller.h"
#include "hw/fast_divider.h"
#include "hw/interconnect.h"
#include "hw/tail_window.h"

namespace numasim::hw {
namespace {

// ---------------------------------------------------------------- FastDivider

TEST(FastDivider, MatchesDivisionForEdgeAndRandomNumerators) {
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> divisors = {1, 2, 3, 5, 6, 7, 12, 24, 36864, 350000, 7800000, 7800001,
                                         1000000007ull, (1ull << 32) + 1, (1ull << 62) - 1, (1ull << 63) + 1,
                                         ~0ull - 1, ~0ull, 1ull << 40};
  for (std::uint64_t d = 1; d < 300; ++d) divisors.push_back(d);
  for (std::uint64_t d : divisors) {
    const FastDivider f(d);
    EXPECT_EQ(f.divisor(), d);
    EXPECT_EQ(f.is_pow2(), (d & (d - 1)) == 0) << d;
    std::vector<std::uint64_t> xs = {0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, (1ull << 62) - 1, 1ull << 62,
                                     (1ull << 62) + 1, ~0ull, ~0ull - 1};
    for (std::uint64_t k = 1; k < 200; ++k) xs.push_back(k * d - 1), xs.push_back(k * d);
    for (int i = 0; i < 3000; ++i) xs.push_back(rng() >> (rng() % 64));
    for (std::uint64_t x : xs) {
      const std::uint64_t q = f.divide(x);
      ASSERT_EQ(q, x / d) << x << " / " << d;
      ASSERT_EQ(f.remainder(x, q), x % d) << x << " % " << d;
    }
  }
}

TEST(FastDivider, PowerOfTwoExposesItsLog2AndZeroIsRejected) {
  EXPECT_EQ(FastDivider(1).log2(), 0u);
  EXPECT_EQ(FastDivider(4096).log2(), 12u);
  EXPECT_EQ(FastDivider(1ull << 63).divide(~0ull), 1u);
  EXPECT_THROW(FastDivider(0), std::invalid_argument);
}

// ----------------------------------------------------------------- TailWindow

TEST(TailWindow, KeepsOrderAcrossDropsAndCompaction) {
  TailWindow<int> w(4);
  std::deque<int> ref;
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    const auto pos = static_cast<std::size_t>(rng() % (w.size() + 1));
    w.insert(w.begin() + pos, i);
    ref.insert(ref.begin() + static_cast<std::ptrdiff_t>(pos), i);
    if (w.size() > w.capacity()) {
      EXPECT_EQ(w.front(), ref.front());
      w.pop_front();
      ref.pop_front();
    }
    ASSERT_EQ(w.size(), ref.size());
    ASSERT_TRUE(std::equal(w.begin(), w.end(), ref.begin()));
  }
  EXPECT_EQ(w.size(), 4u);
  EXPECT_FALSE(w.empty());
}

// Inserts early in a full window (moving the entries before them back), late
// (moving those after them on), drops and compactions, against a deque.
TEST(TailWindow, InsertsNearEitherEndKeepOrder) {
  TailWindow<long> w(64);
  std::deque<long> ref;
  std::mt19937 rng(11);
  for (long i = 0; i < 20000; ++i) {
    const std::size_t n = w.size();
    const std::size_t r = rng() % 8;
    const std::size_t pos = r < 3 ? rng() % (std::min<std::size_t>(n, 4) + 1)        // near the front
                            : r < 6 ? n - rng() % (std::min<std::size_t>(n, 4) + 1)  // near the end
                                    : rng() % (n + 1);
    w.insert(w.begin() + pos, i);
    ref.insert(ref.begin() + static_cast<std::ptrdiff_t>(pos), i);
    while (w.size() > w.capacity() || (w.size() > 1 && rng() % 16 == 0)) {
      ASSERT_EQ(w.front(), ref.front());
      w.pop_front();
      ref.pop_front();
    }
    ASSERT_EQ(w.size(), ref.size());
    ASSERT_TRUE(std::equal(w.begin(), w.end(), ref.begin()));
  }
}

// A three-times buffer (the DRAM data buses' calendars'): the same entries as a deque
// through bounded appends, inserts near the end and drops, and the window
// moves back to the buffer's front once per 2 x capacity + 2 appends (the
// default two-times buffer: once per capacity + 2).
void check_span(std::size_t span, std::size_t expected_moves) {
  constexpr std::size_t kCap = 64;
  TailWindow<long> w(kCap, span);
  std::deque<long> ref;
  std::mt19937 rng(5);
  std::size_t moves = 0;
  for (long i = 0; i < 2000; ++i) {
    const long* const before = w.begin();
    long dropped = -1;
    if (rng() % 4 != 0 && !w.empty()) {
      const int r = w.append_bounded(i, &dropped);
      if (r == 0) {
        w.insert(w.end(), i);  // the buffer's end: the move back to its front
      }
      if (r == 2) {
        ASSERT_EQ(dropped, ref.front());
        ref.pop_front();
      }
      ref.push_back(i);
    } else {
      const std::size_t back = std::min<std::size_t>(w.size(), rng() % 3);
      w.insert(w.end() - back, i);
      ref.insert(ref.end() - static_cast<std::ptrdiff_t>(back), i);
    }
    if (w.size() > kCap) {
      ASSERT_EQ(w.front(), ref.front());
      w.pop_front();
      ref.pop_front();
    }
    if (i > 0 && w.begin() < before) ++moves;
    ASSERT_EQ(w.size(), ref.size());
    ASSERT_TRUE(std::equal(w.begin(), w.end(), ref.begin())) << i;
  }
  EXPECT_EQ(moves, expected_moves);
}

TEST(TailWindow, ThreeTimesBufferMovesHalfAsOften) {
  // 2000 entries, one more in the window each: the first fills 64, then a
  // move every 66 (two-times) or 130 (three-times) entries.
  check_span(2, (2000 - 130) / 66 + 1);
  check_span(3, (2000 - 194) / 130 + 1);
}

TEST(TailWindow, BranchlessUpperBoundEqualsStdUpperBound) {
  std::mt19937 rng(9);
  for (int n = 0; n < 70; ++n) {
    std::vector<int> v(static_cast<std::size_t>(n));
    for (int& x : v) x = static_cast<int>(rng() % 20);  // many equal keys
    std::sort(v.begin(), v.end());
    for (int q = -1; q <= 21; ++q) {
      const int* got = upper_bound_by(v.data(), v.data() + v.size(), q, [](int x) { return x; });
      ASSERT_EQ(got - v.data(), std::upper_bound(v.begin(), v.end(), q) - v.begin()) << n << " " << q;
    }
  }
}

// ------------------------------------------------------------- DRAM decoding

// The decode as it was: one division and one modulo per field.
DramCoord reference_decode(const DramParams& p, PhysAddr base, PhysAddr pa) {
  const std::vector<DramField> fields = parse_dram_mapping(p.mapping, nullptr);
  std::uint64_t x = (pa - base) / kCacheLineBytes;
  const std::uint64_t il = p.interleave_lines();
  const std::uint64_t low = x % il;
  x /= il;
  DramCoord c;
  for (DramField f : fields) {
    std::uint64_t radix = 0;
    switch (f) {
      case DramField::Column: radix = p.columns() / il; break;
      case DramField::Channel: radix = static_cast<std::uint64_t>(p.channels); break;
      case DramField::BankGroup: radix = static_cast<std::uint64_t>(p.bank_groups); break;
      case DramField::Bank: radix = static_cast<std::uint64_t>(p.banks_per_group); break;
      case DramField::Rank: radix = static_cast<std::uint64_t>(p.ranks); break;
      case DramField::Row: break;
    }
    std::uint64_t v = x;
    if (f != DramField::Row) {
      v = x % radix;
      x /= radix;
    }
    switch (f) {
      case DramField::Column: c.column = v * il + low; break;
      case DramField::Channel: c.channel = static_cast<std::uint32_t>(v); break;
      case DramField::BankGroup: c.bank_group = static_cast<std::uint32_t>(v); break;
      case DramField::Bank: c.bank = static_cast<std::uint32_t>(v); break;
      case DramField::Rank: c.rank = static_cast<std::uint32_t>(v); break;
      case DramField::Row: c.row = v; break;
    }
  }
  if (p.xor_hash) {
    const auto nb = static_cast<std::uint64_t>(p.banks_per_group);
    const auto ng = static_cast<std::uint64_t>(p.bank_groups);
    const std::uint64_t hb = c.row % nb;
    const std::uint64_t hg = (c.row / nb) % ng;
    const bool pb = (nb & (nb - 1)) == 0, pg = (ng & (ng - 1)) == 0;
    c.bank = static_cast<std::uint32_t>(pb ? (c.bank ^ hb) : (c.bank + hb) % nb);
    c.bank_group = static_cast<std::uint32_t>(pg ? (c.bank_group ^ hg) : (c.bank_group + hg) % ng);
  }
  return c;
}

::testing::AssertionResult same_coord(const DramCoord& got, const DramCoord& want) {
  if (got.channel == want.channel && got.rank == want.rank && got.bank_group == want.bank_group &&
      got.bank == want.bank && got.row == want.row && got.column == want.column)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "decoded ch " << got.channel << " rank " << got.rank << " bg "
                                       << got.bank_group << " bank " << got.bank << " row " << got.row << " col "
                                       << got.column << ", the division decode ch " << want.channel << " rank "
                                       << want.rank << " bg " << want.bank_group << " bank " << want.bank << " row "
                                       << want.row << " col " << want.column;
}

TEST(DramDecode, EqualsTheDivisionDecodeOnManyGeometries) {
  struct Geometry {
    int channels, ranks, bank_groups, banks;
    std::uint64_t row_size, interleave;
    const char* mapping;
    bool xor_hash;
  };
  const std::vector<Geometry> geometries = {
      {6, 2, 4, 4, 8192, 256, "row:rank:bank:column:bankgroup:channel", true},  // default: 6 channels
      {8, 2, 4, 4, 8192, 256, "row:rank:bank:column:bankgroup:channel", true},  // all powers of two
      {4, 1, 4, 4, 8192, 64, "row:bank:bankgroup:rank:column:channel", false},
      {2, 4, 2, 8, 2048, 128, "row:channel:rank:bank:bankgroup:column", true},
      {3, 3, 3, 3, 3072, 256, "row:rank:bank:column:bankgroup:channel", true},   // nothing a power of two
      {6, 2, 4, 2, 8192, 8192, "row:column:rank:bank:bankgroup:channel", true},  // column radix 1
      {1, 1, 1, 1, 64, 64, "row:rank:bank:column:bankgroup:channel", true},      // every radix 1
      {12, 5, 4, 4, 8192, 512, "row:bankgroup:bank:rank:channel:column", true},
      // One radix not a power of two, at each place: the split decode.
      {4, 3, 4, 4, 8192, 256, "row:rank:bank:column:bankgroup:channel", true},   // ranks, below the row
      {8, 2, 4, 4, 6144, 256, "row:rank:bank:column:bankgroup:channel", true},   // 24 columns, mid-way
      {4, 1, 3, 4, 8192, 64, "row:bank:bankgroup:rank:column:channel", true},    // bank groups, hashed
      {2, 2, 4, 6, 4096, 128, "row:channel:rank:bankgroup:column:bank", false},  // banks, lowest
      {3, 2, 2, 2, 2048, 2048, "row:rank:bank:bankgroup:channel:column", true},  // channels, lowest
      // The lowest digit of each kind (the memo's next granule: channel,
      // column, rank; bank and bank group, hashed with the row, decoded whole).
      {2, 3, 4, 4, 8192, 256, "row:bank:bankgroup:column:channel:rank", true},
      {4, 1, 4, 4, 8192, 256, "row:rank:column:bankgroup:channel:bank", true},
      {4, 2, 4, 4, 8192, 256, "row:rank:column:channel:bank:bankgroup", true},
  };
  std::mt19937_64 rng(11);
  for (const Geometry& g : geometries) {
    DramParams p;
    p.channels = g.channels;
    p.ranks = g.ranks;
    p.bank_groups = g.bank_groups;
    p.banks_per_group = g.banks;
    p.row_size = Bytes(g.row_size);
    p.interleave = Bytes(g.interleave);
    p.mapping = g.mapping;
    p.xor_hash = g.xor_hash;
    ASSERT_EQ(p.validate(), "") << g.mapping;
    const PhysAddr base = 1ull << 30;
    DramController mc(p, base, "mc");
    std::vector<PhysAddr> addrs;
    for (PhysAddr a = 0; a < (1u << 20); a += 64) addrs.push_back(base + a);  // the first MiB, every line
    for (int i = 0; i < 20000; ++i) addrs.push_back(base + ((rng() >> (rng() % 24)) & ~63ull));
    addrs.push_back(~0ull & ~63ull);  // the highest line
    for (PhysAddr a : addrs)
      ASSERT_TRUE(same_coord(mc.decode(a), reference_decode(p, base, a))) << g.mapping << " pa " << a;
  }
}

// decode()'s memo keeps the last granule's coordinates and rewrites their
// column in place: lines of one granule in any order (down, up, repeated),
// granules revisited after another, all equal the division decode.
TEST(DramDecode, GranuleMemoInAnyLineOrderEqualsTheDivisionDecode) {
  for (const bool pow2 : {false, true}) {
    DramParams p;  // default: 256 B granules, xor_hash
    p.channels = pow2 ? 8 : 6;
    const PhysAddr base = 1ull << 30;
    DramController mc(p, base, "mc");
    std::mt19937_64 rng(5);
    const std::uint64_t il = p.interleave_lines();
    std::vector<PhysAddr> addrs;
    std::uint64_t prev = 0;
    for (std::uint64_t g = 0; g < 4096; ++g) {
      const std::uint64_t granule = g % 3 == 2 ? prev : rng() % (1ull << 24);  // every third: the one before again
      prev = granule;
      std::vector<std::uint64_t> lines(il);
      for (std::uint64_t k = 0; k < il; ++k) lines[k] = k;
      std::shuffle(lines.begin(), lines.end(), rng);
      if (g % 2 == 0) std::reverse(lines.begin(), lines.end());
      for (std::uint64_t k : lines) addrs.push_back(base + (granule * il + k) * 64);
      addrs.push_back(addrs.back());  // the same line twice
    }
    for (PhysAddr a : addrs) ASSERT_TRUE(same_coord(mc.decode(a), reference_decode(p, base, a))) << "pa " << a;
  }
}

// The memo holds the last few granules: streams whose lines alternate at the
// controller (a stream's reads, its write-backs, a second core's lines), one
// to seven of them in turn, each walking its own region line by line, some
// revisiting a line or stepping back, all equal the division decode.
TEST(DramDecode, InterleavedStreamsThroughTheMemoEqualTheDivisionDecode) {
  for (const int channels : {6, 8}) {
    DramParams p;
    p.channels = channels;
    const PhysAddr base = 1ull << 30;
    DramController mc(p, base, "mc");
    std::mt19937_64 rng(17);
    for (std::uint64_t streams = 1; streams <= 7; ++streams) {
      std::vector<std::uint64_t> next(streams);
      for (std::uint64_t& line : next) line = rng() % (1ull << 24);
      for (int step = 0; step < 3000; ++step) {
        std::uint64_t& line = next[static_cast<std::size_t>(step) % streams];
        const PhysAddr a = base + line * 64;
        ASSERT_TRUE(same_coord(mc.decode(a), reference_decode(p, base, a)))
            << channels << " channels, " << streams << " streams, pa " << a;
        const std::uint64_t r = rng() % 16;
        line = r == 0 ? line : (r == 1 && line > 0 ? line - 1 : line + 1);
      }
    }
  }
}

// ---------------------------------------------------------------- Calendars

// SlotCalendar as it was, on a std::deque.
class ReferenceSlotCalendar {
 public:
  ReferenceSlotCalendar(Picoseconds len, Picoseconds same, Picoseconds diff, std::size_t capacity)
      : len_(len), same_(same), diff_(diff), max_sep_(len + std::max(same, diff)), capacity_(capacity) {}
  Picoseconds earliest(Picoseconds t, int tag) const {
    Picoseconds s = std::max(t, floor_);
    for (int pass = 0; pass < 8; ++pass) {
      bool moved = false;
      const Picoseconds lo = s > max_sep_ ? s - max_sep_ : Picoseconds(0);
      auto it = std::upper_bound(e_.begin(), e_.end(), lo, [](Picoseconds v, const Entry& e) { return v < e.start; });
      for (; it != e_.end() && it->start < s + max_sep_; ++it) {
        const Picoseconds d = len_ + (it->tag == tag ? same_ : diff_);
        if (s < it->start + d && it->start < s + d) {
          s = it->start + d;
          moved = true;
        }
      }
      if (!moved) break;
    }
    return s;
  }
  void reserve(Picoseconds start, int tag) {
    auto it = std::upper_bound(e_.begin(), e_.end(), start, [](Picoseconds v, const Entry& e) { return v < e.start; });
    e_.insert(it, Entry{start, tag});
    if (e_.size() > capacity_) {
      floor_ = std::max(floor_, e_.front().start + len_);
      e_.pop_front();
    }
  }
  std::size_t starts_between(Picoseconds from, Picoseconds to, Picoseconds* out, std::size_t max) const {
    std::size_t n = 0;
    auto it = std::lower_bound(e_.begin(), e_.end(), from, [](const Entry& e, Picoseconds v) { return e.start < v; });
    for (; it != e_.end() && it->start < to && n < max; ++it) out[n++] = it->start;
    return n;
  }

 private:
  struct Entry {
    Picoseconds start;
    int tag;
  };
  Picoseconds len_, same_, diff_, max_sep_;
  std::size_t capacity_;
  std::deque<Entry> e_;
  Picoseconds floor_{0};
};

TEST(SlotCalendar, EqualsTheDequeCalendarUnderRandomReservations) {
  struct Case {
    std::uint64_t len, same, diff;
    std::size_t capacity;
  };
  for (const Case& k : {Case{3000, 0, 1500, 16}, Case{3000, 2250, 0, 64}, Case{5250, 0, 0, 1}, Case{3000, 0, 0, 1024}}) {
    SlotCalendar cal(Picoseconds(k.len), Picoseconds(k.same), Picoseconds(k.diff), k.capacity);
    ReferenceSlotCalendar ref(Picoseconds(k.len), Picoseconds(k.same), Picoseconds(k.diff), k.capacity);
    std::mt19937_64 rng(k.capacity + k.same);
    std::uint64_t now = 0;
    for (int i = 0; i < 20000; ++i) {
      now += rng() % 4000;
      // Mostly near the latest reservations, sometimes far behind (a lagging
      // core) so that the binary search and the floor are exercised.
      const std::uint64_t back = (rng() % 8 == 0) ? rng() % 3'000'000 : rng() % 20000;
      const Picoseconds t(now > back ? now - back : 0);
      const int tag = static_cast<int>(rng() % 3);
      const Picoseconds s = cal.earliest(t, tag);
      ASSERT_EQ(s, ref.earliest(t, tag)) << "op " << i;
      Picoseconds a[16], b[16];
      const Picoseconds from(t.value() > 40000 ? t.value() - 40000 : 0);
      const std::size_t n = cal.starts_between(from, t + Picoseconds(40000), a, 16);
      ASSERT_EQ(n, ref.starts_between(from, t + Picoseconds(40000), b, 16));
      for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(a[j], b[j]);
      // Reserve what was found, or (sometimes) an arbitrary time, equal starts included.
      const Picoseconds r = rng() % 5 == 0 ? Picoseconds(rng() % (now + 1)) : s;
      cal.reserve(r, tag);
      ref.reserve(r, tag);
    }
  }
}

// LinkCalendar as it was, on a std::deque.
class ReferenceLinkCalendar {
 public:
  explicit ReferenceLinkCalendar(std::size_t capacity) : capacity_(capacity) {}
  Picoseconds earliest(Picoseconds t, Picoseconds len) const {
    Picoseconds s = std::max(t, floor_);
    auto it = std::upper_bound(busy_.begin(), busy_.end(), s, [](Picoseconds v, const Busy& b) { return v < b.end; });
    for (; it != busy_.end(); ++it) {
      if (it->start >= s + len) break;
      s = std::max(s, it->end);
    }
    return s;
  }
  void reserve(Picoseconds start, Picoseconds len) {
    if (len.value() == 0) return;
    auto it = std::upper_bound(busy_.begin(), busy_.end(), start, [](Picoseconds v, const Busy& b) { return v < b.start; });
    busy_.insert(it, Busy{start, start + len});
    if (busy_.size() > capacity_) {
      floor_ = std::max(floor_, busy_.front().end);
      busy_.pop_front();
    }
  }

 private:
  struct Busy {
    Picoseconds start, end;
  };
  std::size_t capacity_;
  std::deque<Busy> busy_;
  Picoseconds floor_{0};
};

TEST(LinkCalendar, EqualsTheDequeCalendarUnderRandomMessages) {
  for (std::size_t capacity : {std::size_t{1}, std::size_t{8}, std::size_t{1024}}) {
    LinkCalendar cal(capacity);
    ReferenceLinkCalendar ref(capacity);
    std::mt19937_64 rng(capacity);
    std::uint64_t now = 0;
    for (int i = 0; i < 20000; ++i) {
      now += rng() % 3000;
      const std::uint64_t back = (rng() % 8 == 0) ? rng() % 2'000'000 : rng() % 10000;
      const Picoseconds t(now > back ? now - back : 0);
      const Picoseconds len(rng() % 6 == 0 ? 0 : 500 + rng() % 3000);
      const Picoseconds s = cal.earliest(t, len);
      ASSERT_EQ(s, ref.earliest(t, len)) << "op " << i;
      cal.reserve(s, len);
      ref.reserve(s, len);
    }
  }
}

// ------------------------------------------------------------------ CacheArray

// CacheArray as it was: ways of {tag, stamp, state}, a presence pass and a
// victim pass in fill.
class ReferenceCache {
 public:
  static constexpr std::uint64_t kInvalid = ~0ull;
  struct Way {
    std::uint64_t tag = kInvalid;
    std::uint64_t stamp = 0;
    LineState state = LineState::Invalid;
  };
  explicit ReferenceCache(const CacheParams& p)
      : ways_(static_cast<std::size_t>(p.ways)),
        sets_(p.size.value() / 64 / ways_),
        replacement_(p.replacement),
        rng_(p.seed | 1),
        w_(sets_ * ways_) {}
  bool access(PhysAddr pa, bool is_write) {
    const std::uint64_t line = pa >> 6;
    Way* set = &w_[(line % sets_) * ways_];
    for (std::size_t w = 0; w < ways_; ++w) {
      if (set[w].tag == line) {
        if (is_write && set[w].state == LineState::Shared) return false;  // upgrade
        if (replacement_ == Replacement::Lru) set[w].stamp = ++clock_;
        if (is_write) set[w].state = LineState::Modified;
        return true;
      }
    }
    return false;
  }
  Eviction fill(PhysAddr pa, LineState st) {
    const std::uint64_t line = pa >> 6;
    Way* set = &w_[(line % sets_) * ways_];
    std::size_t victim = ways_;
    for (std::size_t w = 0; w < ways_; ++w) {
      if (set[w].tag == line) {
        if (st == LineState::Modified) set[w].state = st;
        return {};
      }
      if (victim == ways_ && set[w].tag == kInvalid) victim = w;
    }
    Eviction ev;
    if (victim == ways_) {
      if (replacement_ == Replacement::Random) {
        rng_ ^= rng_ >> 12;
        rng_ ^= rng_ << 25;
        rng_ ^= rng_ >> 27;
        victim = static_cast<std::size_t>((rng_ * 0x2545F4914F6CDD1Dull) % ways_);
      } else {
        victim = 0;
        for (std::size_t w = 1; w < ways_; ++w)
          if (set[w].stamp < set[victim].stamp) victim = w;
      }
      ev = Eviction{true, set[victim].state == LineState::Modified, set[victim].tag << 6};
      ++evictions;
      if (ev.dirty) ++dirty_evictions;
    }
    set[victim] = Way{line, ++clock_, st};
    ++fills;
    return ev;
  }
  Way* find(PhysAddr pa) {
    const std::uint64_t line = pa >> 6;
    Way* set = &w_[(line % sets_) * ways_];
    for (std::size_t w = 0; w < ways_; ++w)
      if (set[w].tag == line) return &set[w];
    return nullptr;
  }
  bool write_back_into(PhysAddr pa) {
    Way* w = find(pa);
    if (!w) return false;
    w->state = LineState::Modified;
    if (replacement_ == Replacement::Lru) w->stamp = ++clock_;
    return true;
  }
  Eviction invalidate(PhysAddr pa) {
    Way* w = find(pa);
    if (!w) return {};
    Eviction ev{true, w->state == LineState::Modified, w->tag << 6};
    *w = Way{};
    return ev;
  }
  LineState state(PhysAddr pa) {
    Way* w = find(pa);
    return w ? w->state : LineState::Invalid;
  }
  LineState set_state(PhysAddr pa, LineState st) {
    Way* w = find(pa);
    if (!w) return LineState::Invalid;
    const LineState old = w->state;
    w->state = st;
    return old;
  }
  std::vector<PhysAddr> set_contents(std::size_t s) const {
    std::vector<const Way*> v;
    for (std::size_t w = 0; w < ways_; ++w)
      if (w_[s * ways_ + w].tag != kInvalid) v.push_back(&w_[s * ways_ + w]);
    std::sort(v.begin(), v.end(), [](const Way* a, const Way* b) { return a->stamp > b->stamp; });
    std::vector<PhysAddr> out;
    for (const Way* w : v) out.push_back(w->tag << 6);
    return out;
  }
  void clear() { std::fill(w_.begin(), w_.end(), Way{}); }

  std::size_t ways_, sets_;
  Replacement replacement_;
  std::uint64_t rng_;
  std::uint64_t clock_ = 0;
  std::vector<Way> w_;
  std::uint64_t fills = 0, evictions = 0, dirty_evictions = 0;
};

bool same(const Eviction& a, const Eviction& b) {
  return a.valid == b.valid && (!a.valid || (a.dirty == b.dirty && a.addr == b.addr));
}

TEST(CacheArray, EqualsTheTwoPassCacheUnderRandomTraffic) {
  struct Case {
    std::uint64_t size;
    int ways;
    Replacement r;
  };
  const std::vector<Case> cases = {
      {32 * 1024, 8, Replacement::Lru},     {64 * 11 * 12, 11, Replacement::Lru},  // 12 sets: not a power of two
      {16 * 1024, 16, Replacement::Fifo},   {64 * 5 * 3, 5, Replacement::Fifo},
      {8 * 1024, 4, Replacement::Random},   {64 * 3 * 7, 3, Replacement::Random},
      {64 * 4, 4, Replacement::Lru},        {64, 1, Replacement::Lru},
  };
  // Each case twice: with 30-bit stamps, and with the stamps renumbered every
  // 97 uses (CacheArray::set_stamp_limit), which must not change a decision.
  for (const std::uint32_t limit : {0u, 97u})
  for (const Case& k : cases) {
    CacheParams p;
    p.size = Bytes(k.size);
    p.ways = k.ways;
    p.replacement = k.r;
    p.seed = 5;
    CacheArray c(p, "c");
    if (limit) c.set_stamp_limit(limit);
    ReferenceCache ref(p);
    std::mt19937_64 rng(k.size * 31 + static_cast<std::uint64_t>(k.ways));
    const std::uint64_t span_lines = 4 * k.size / 64;  // a footprint of four times the cache
    for (int i = 0; i < 60000; ++i) {
      const PhysAddr pa = (rng() % span_lines) * 64 + (rng() % 64) + (1ull << 33);
      const unsigned op = static_cast<unsigned>(rng() % 100);
      if (op < 55) {  // demand access, fill on a miss (the CacheHierarchy pattern)
        const bool w = rng() % 4 == 0;
        const bool hit = c.access(pa, w);
        ASSERT_EQ(hit, ref.access(pa, w)) << "op " << i;
        if (!hit) {
          const LineState st = w ? LineState::Modified : LineState::Exclusive;
          ASSERT_TRUE(same(c.fill(pa, st), ref.fill(pa, st))) << "op " << i;
        }
      } else if (op < 65) {  // fill without a lookup (prefetch), sometimes of a present line
        const LineState st = rng() % 2 ? LineState::Modified : LineState::Shared;
        ASSERT_TRUE(same(c.fill(pa, st), ref.fill(pa, st))) << "op " << i;
      } else if (op < 80) {
        ASSERT_EQ(c.write_back_into(pa), ref.write_back_into(pa)) << "op " << i;
      } else if (op < 90) {
        ASSERT_TRUE(same(c.invalidate(pa), ref.invalidate(pa))) << "op " << i;
      } else if (op < 95) {  // coherence: downgrade to Shared, upgrade to Modified, or drop to Invalid
        const LineState st = static_cast<LineState>(rng() % 4);
        ASSERT_EQ(c.set_state(pa, st), ref.set_state(pa, st)) << "op " << i;
      } else if (op < 99) {
        ASSERT_EQ(c.contains(pa), ref.find(pa) != nullptr) << "op " << i;
        ASSERT_EQ(c.state(pa), ref.state(pa)) << "op " << i;
      } else if (rng() % 50 == 0) {
        c.clear();
        ref.clear();
      }
      if (i % 997 == 0) {
        const std::size_t s = c.set_index(pa);
        ASSERT_EQ(c.set_contents(s), ref.set_contents(s)) << "op " << i;
      }
    }
    for (std::size_t s = 0; s < c.sets(); ++s) ASSERT_EQ(c.set_contents(s), ref.set_contents(s));
    EXPECT_EQ(c.stats().fills, ref.fills);
    EXPECT_EQ(c.stats().evictions, ref.evictions);
    EXPECT_EQ(c.stats().dirty_evictions, ref.dirty_evictions);
    EXPECT_GT(c.stats().upgrades, 0u);
    EXPECT_GT(ref.evictions, 0u);
  }
}

// write_access then fill_at (a full-line store's L1D miss, the fill after the
// snoop) against access then fill, with invalidations of other lines (a
// snoop filter's back-invalidation) between them half the time.
TEST(CacheArray, WriteAccessThenFillAtEqualsAccessThenFill) {
  for (const int ways : {1, 3, 8, 11, 16}) {
    CacheParams p;
    p.size = Bytes(64 * static_cast<std::uint64_t>(ways) * 8);  // 8 sets
    p.ways = ways;
    CacheArray c(p, "c");
    c.set_stamp_limit(61);
    ReferenceCache ref(p);
    std::mt19937_64 rng(static_cast<std::uint64_t>(ways));
    std::uint64_t refills = 0;
    for (int i = 0; i < 40000; ++i) {
      const PhysAddr pa = (rng() % (32 * static_cast<std::uint64_t>(ways))) * 64;
      if (rng() % 3 == 0) {  // a read (fills Exclusive or Shared lines, which a write then upgrades)
        if (!c.access(pa, false)) {
          ASSERT_FALSE(ref.access(pa, false));
          const LineState st = rng() % 2 ? LineState::Shared : LineState::Exclusive;
          ASSERT_TRUE(same(c.fill(pa, st), ref.fill(pa, st))) << "op " << i;
        } else {
          ASSERT_TRUE(ref.access(pa, false));
        }
        continue;
      }
      CacheArray::FillSlot slot;
      const bool hit = c.write_access(pa, slot);
      ASSERT_EQ(hit, ref.access(pa, true)) << "op " << i;
      if (hit) continue;
      for (int k = static_cast<int>(rng() % 4); k > 1; --k) {
        const PhysAddr other = (rng() % (32 * static_cast<std::uint64_t>(ways))) * 64;
        const Eviction e = c.invalidate(other);
        ASSERT_TRUE(same(e, ref.invalidate(other))) << "op " << i;
        refills += e.valid;
      }
      ASSERT_TRUE(same(c.fill_at(slot, LineState::Modified), ref.fill(pa, LineState::Modified))) << "op " << i;
      ASSERT_EQ(c.state(pa), LineState::Modified) << "op " << i;
    }
    for (std::size_t s = 0; s < c.sets(); ++s) ASSERT_EQ(c.set_contents(s), ref.set_contents(s));
    EXPECT_EQ(c.stats().fills, ref.fills);
    EXPECT_EQ(c.stats().evictions, ref.evictions);
    EXPECT_GT(c.stats().upgrades, 0u);
    EXPECT_GT(refills, 100u);
  }
}

// read_access or probe, then fill_at (CacheHierarchy's demand and prefetch
// misses: one scan of the set per array) against access or contains, then
// fill, with traffic to other lines between them: fills (into the same set
// too), uses, write-backs, invalidations and state changes, and stamps
// renumbered every 61 uses. fill_at must notice a changed set and scan again.
TEST(CacheArray, ReadAccessOrProbeThenFillAtEqualsAccessThenFill) {
  for (const Replacement r : {Replacement::Lru, Replacement::Fifo, Replacement::Random})
    for (const int ways : {1, 3, 8, 11, 16}) {
      CacheParams p;
      p.size = Bytes(64 * static_cast<std::uint64_t>(ways) * 8);  // 8 sets
      p.ways = ways;
      p.replacement = r;
      p.seed = 9;
      CacheArray c(p, "c");
      c.set_stamp_limit(61);
      ReferenceCache ref(p);
      std::mt19937_64 rng(static_cast<std::uint64_t>(ways) * 3 + static_cast<std::uint64_t>(r));
      const std::uint64_t span = 32 * static_cast<std::uint64_t>(ways);
      std::uint64_t hits = 0, misses = 0;
      for (int i = 0; i < 30000; ++i) {
        const PhysAddr pa = (rng() % span) * 64;
        CacheArray::FillSlot slot;
        bool present;
        if (rng() % 2) {
          const LineState before = c.state(pa);
          LineState st;
          present = c.read_access(pa, slot, st);
          ASSERT_EQ(st, before) << "op " << i;
          ASSERT_EQ(present, ref.access(pa, false)) << "op " << i;
        } else {
          present = c.probe(pa, slot);
          ASSERT_EQ(present, ref.find(pa) != nullptr) << "op " << i;
        }
        ++(present ? hits : misses);
        if (present) continue;
        for (int k = static_cast<int>(rng() % 5); k > 0; --k) {
          PhysAddr other = (rng() % span) * 64;
          if (other == pa) other += 64 * 8;  // another line of the same set
          switch (rng() % 5) {
            case 0: {
              const LineState st = rng() % 2 ? LineState::Modified : LineState::Exclusive;
              ASSERT_TRUE(same(c.fill(other, st), ref.fill(other, st))) << "op " << i;
              break;
            }
            case 1:
              ASSERT_EQ(c.access(other, false), ref.access(other, false)) << "op " << i;
              break;
            case 2:
              ASSERT_EQ(c.write_back_into(other), ref.write_back_into(other)) << "op " << i;
              break;
            case 3:
              ASSERT_TRUE(same(c.invalidate(other), ref.invalidate(other))) << "op " << i;
              break;
            default: {
              const LineState st = static_cast<LineState>(rng() % 4);
              ASSERT_EQ(c.set_state(other, st), ref.set_state(other, st)) << "op " << i;
            }
          }
        }
        const LineState st = rng() % 2 ? LineState::Shared : LineState::Exclusive;
        ASSERT_TRUE(same(c.fill_at(slot, st), ref.fill(pa, st))) << "op " << i;
        ASSERT_EQ(c.state(pa), st) << "op " << i;
      }
      for (std::size_t s = 0; s < c.sets(); ++s) ASSERT_EQ(c.set_contents(s), ref.set_contents(s));
      EXPECT_EQ(c.stats().fills, ref.fills);
      EXPECT_EQ(c.stats().evictions, ref.evictions);
      EXPECT_EQ(c.stats().dirty_evictions, ref.dirty_evictions);
      EXPECT_GT(hits, 1000u);
      EXPECT_GT(misses, 1000u);
    }
}

}  // namespace
}  // namespace numasim::hw

namespace numasim::hw {
namespace {

// write_back_or_fill (one scan of the set) against write_back_into, then fill
// on a miss (the two calls it replaced in CacheHierarchy's write-back paths).
TEST(CacheArray, WriteBackOrFillEqualsWriteBackIntoThenFill) {
  for (const Replacement r : {Replacement::Lru, Replacement::Fifo, Replacement::Random}) {
    CacheParams p{Bytes(16 * 1024), 4, Bytes(64), Cycles(4), r, 5, false};
    CacheArray merged(p, "merged"), split(p, "split");
    std::mt19937_64 rng(11);
    std::uint64_t received = 0, allocated = 0;
    for (int i = 0; i < 200'000; ++i) {
      const PhysAddr pa = (rng() % 1024) * 64;
      const unsigned op = static_cast<unsigned>(rng() % 100);
      if (op < 40) {
        ASSERT_EQ(merged.access(pa, op & 1), split.access(pa, op & 1)) << "op " << i;
      } else if (op < 60) {
        const LineState st = (op & 1) ? LineState::Exclusive : LineState::Shared;
        ASSERT_TRUE(same(merged.fill(pa, st), split.fill(pa, st))) << "op " << i;
      } else if (op < 90) {
        bool got = false;
        const Eviction a = merged.write_back_or_fill(pa, got);
        const bool hit = split.write_back_into(pa);
        const Eviction b = hit ? Eviction{} : split.fill(pa, LineState::Modified);
        ASSERT_EQ(got, hit) << "op " << i;
        ASSERT_TRUE(same(a, b)) << "op " << i;
        ++(got ? received : allocated);
      } else {
        ASSERT_TRUE(same(merged.invalidate(pa), split.invalidate(pa))) << "op " << i;
      }
    }
    for (std::size_t s = 0; s < merged.sets(); ++s) ASSERT_EQ(merged.set_contents(s), split.set_contents(s));
    for (PhysAddr pa = 0; pa < 1024 * 64; pa += 64) ASSERT_EQ(merged.state(pa), split.state(pa));
    const CacheStats& a = merged.stats();
    const CacheStats& b = split.stats();
    EXPECT_EQ(a.fills, b.fills);
    EXPECT_EQ(a.evictions, b.evictions);
    EXPECT_EQ(a.dirty_evictions, b.dirty_evictions);
    EXPECT_EQ(a.writebacks_received, b.writebacks_received);
    EXPECT_GT(received, 1000u);
    EXPECT_GT(allocated, 1000u);
  }
}

}  // namespace
}  // namespace numasim::hw

#include "hw/stream_prefetcher.h"

namespace numasim::hw {
namespace {

// The stream table as it was before the page index and LRU list: a scan of
// every stream for the page, the victim the least stamp (first index on ties).
class ScanStreamPrefetcher {
 public:
  explicit ScanStreamPrefetcher(const StreamPrefetcherParams& p) : p_(p), streams_(p.streams) {}
  void observe(PhysAddr pa, Picoseconds now, PrefetchCandidates& out) {
    const std::uint64_t page = pa >> 12;
    const int index = static_cast<int>((pa >> 6) & 63);
    Stream* s = streams_[last_used_].page == page ? &streams_[last_used_] : nullptr;
    if (!s) {
      std::size_t victim = 0;
      for (std::size_t i = 0; i < streams_.size(); ++i) {
        if (streams_[i].page == page) {
          s = &streams_[i];
          last_used_ = i;
          break;
        }
        if (streams_[i].stamp < streams_[victim].stamp) victim = i;
      }
      if (!s) {
        ++allocated;
        streams_[victim] = Stream{page, ++clock_, index, index, 0, 0};
        last_used_ = victim;
        return;
      }
    }
    s->stamp = ++clock_;
    const int step = index - s->last;
    if (step == 0) return;
    const int dir = step > 0 ? 1 : -1;
    if (dir != s->dir) {
      s->dir = dir;
      s->confidence = 1;
      s->frontier = index;
    } else {
      ++s->confidence;
    }
    s->last = index;
    if (s->confidence < p_.train) return;
    if ((s->frontier - index) * dir < 0) s->frontier = index;
    const int target = std::clamp(index + dir * static_cast<int>(p_.distance), 0, 63);
    if ((target - s->frontier) * dir <= 0) return;
    std::erase_if(in_flight_, [now](const auto& f) { return f.second <= now; });
    const std::uint32_t room = std::min(p_.degree, p_.queue - static_cast<std::uint32_t>(in_flight_.size()));
    if (room == 0) return;
    while (out.count < room && (target - s->frontier) * dir > 0) {
      s->frontier += dir;
      out.line[out.count++] = (page << 12) + (static_cast<PhysAddr>(s->frontier) << 6);
    }
  }
  void issued(PhysAddr line, Picoseconds ready) {
    if (in_flight_.size() >= p_.queue) in_flight_.erase(in_flight_.begin());
    in_flight_.push_back({line & ~PhysAddr(63), ready});
  }
  std::uint64_t allocated = 0;

 private:
  struct Stream {
    std::uint64_t page = ~0ull;
    std::uint64_t stamp = 0;
    int last = 0, frontier = 0, dir = 0;
    std::uint32_t confidence = 0;
  };
  StreamPrefetcherParams p_;
  std::vector<Stream> streams_;
  std::vector<std::pair<PhysAddr, Picoseconds>> in_flight_;
  std::uint64_t clock_ = 0;
  std::size_t last_used_ = 0;
};

// Pages whose page-index slots crowd around the table's end and start (the
// index's multiplicative hash, as stream_prefetcher.h computes it, of
// 2^slot_bits slots): long probe runs that wrap, so a victim's removal shifts
// later pages back across the wrap, and a new page's free slot moves.
std::vector<std::uint64_t> crowded_pages(unsigned slot_bits, std::size_t n) {
  std::vector<std::uint64_t> out;
  const std::uint64_t slots = std::uint64_t{1} << slot_bits;
  for (std::uint64_t page = 1; out.size() < n; ++page) {
    const std::uint64_t slot = (page * 0x9E3779B97F4A7C15ull) >> (64 - slot_bits);
    if (slot + 3 >= slots || slot < 2) out.push_back(page);
  }
  return out;
}

TEST(StreamPrefetcher, PageIndexAndLruListEqualTheScanOfEveryStream) {
  for (const std::uint32_t streams : {1u, 3u, 32u, 256u}) {
    for (const bool crowded : {false, true}) {
      StreamPrefetcherParams p;
      p.streams = streams;
      StreamPrefetcher fast(p);
      ScanStreamPrefetcher ref(p);
      std::mt19937_64 rng(streams);
      // A pool of pages somewhat larger than the table: consecutive ones, or
      // crowded ones (8 slots per stream, a power of two: 3, 5, 8 and 11 bits).
      const std::size_t pool = streams + streams / 2 + 2;
      unsigned bits = 2;
      while ((std::size_t{1} << bits) < 8 * std::size_t{streams}) ++bits;
      const std::vector<std::uint64_t> crowd = crowded_pages(bits, pool);
      std::uint64_t issued = 0;
      for (int i = 0; i < 300'000; ++i) {
        // Short ascending or descending runs over the pool.
        const std::uint64_t page = crowded ? crowd[rng() % pool] : rng() % pool;
        const int start = static_cast<int>(rng() % 64);
        const int dir = (rng() & 1) ? 1 : -1;
        const Picoseconds now(static_cast<std::uint64_t>(i) * 1000);
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
          const int line = std::clamp(start + dir * k, 0, 63);
          const PhysAddr pa = (page << 12) | (static_cast<PhysAddr>(line) << 6);
          PrefetchCandidates a, b;
          fast.observe(pa, now, a);
          ref.observe(pa, now, b);
          ASSERT_EQ(a.count, b.count) << "request " << i;
          for (std::uint32_t c = 0; c < a.count; ++c) {
            ASSERT_EQ(a.line[c], b.line[c]) << "request " << i;
            const Picoseconds ready = now + Picoseconds(rng() % 200'000);
            fast.issued(a.line[c], ready);
            ref.issued(b.line[c], ready);
            ++issued;
          }
        }
      }
      EXPECT_EQ(fast.stats().streams_allocated, ref.allocated);
      EXPECT_GT(ref.allocated, 1000u);
      EXPECT_GT(issued, 1000u);
      fast.reset_state();  // the index and the list start over
      PrefetchCandidates c;
      fast.observe(0x5000, Picoseconds(0), c);
      EXPECT_EQ(c.count, 0u);
    }
  }
}

}  // namespace
}  // namespace numasim::hw
