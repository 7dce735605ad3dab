// DRAM controller timing (see dram_controller.h and dram_timing.h): parameter
// reading and checking, address decoding, and the per-request scheduling of
// PRE/ACT/CAS against bank, rank and channel next-free timestamps.
#include "hw/dram_controller.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

namespace {
bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
Picoseconds max_ps(Picoseconds a, Picoseconds b) { return a < b ? b : a; }
// One mapping field's value `v` into c (the column above the interleave granule's `low` lines).
inline void set_field(DramCoord& c, DramField f, std::uint64_t v, unsigned il_shift, std::uint64_t low) {
  switch (f) {
    case DramField::Column: c.column = (v << il_shift) | low; break;
    case DramField::Channel: c.channel = static_cast<std::uint32_t>(v); break;
    case DramField::BankGroup: c.bank_group = static_cast<std::uint32_t>(v); break;
    case DramField::Bank: c.bank = static_cast<std::uint32_t>(v); break;
    case DramField::Rank: c.rank = static_cast<std::uint32_t>(v); break;
    case DramField::Row: break;
  }
}
}  // namespace

SlotCalendar::SlotCalendar(Picoseconds len, Picoseconds extra_same, Picoseconds extra_diff, std::size_t capacity,
                           std::size_t span)
    : len_(len),
      extra_same_(extra_same),
      extra_diff_(extra_diff),
      max_sep_(len + std::max(extra_same, extra_diff)),
      e_(capacity, span) {}

const SlotCalendar::Entry* SlotCalendar::first_after_search(Picoseconds v) const {
  // Queries are mostly near the latest reservations: scan back a few entries
  // from the end, then binary-search (a core lagging the others by up to a
  // quantum asks about times far behind the latest reservations).
  const Entry* b = e_.begin();
  const Entry* it = e_.end() - 1;  // first_after() checked the last entry
  for (int i = 0; i < 7; ++i) {
    if (it == b || (it - 1)->start <= v) return it;
    --it;
  }
  // Further back in steps that double from the scan's end (it starts after
  // v), then a binary search between the last two steps: a query a few dozen
  // entries back (a drained write behind its drain's slots) probes a few
  // entries instead of the whole window's log2.
  auto key = [](const Entry& e) { return e.start; };
  for (std::size_t step = 8;; step *= 2) {
    if (static_cast<std::size_t>(it - b) <= step) return upper_bound_by(b, it, v, key);
    const Entry* const lo = it - step;
    if (lo->start <= v) return upper_bound_by(lo + 1, it, v, key);
    it = lo;
  }
}

Picoseconds SlotCalendar::earliest_search(Picoseconds s, int tag, Picoseconds visible) const {
  const bool all = visible >= max_stamp_;
  const Entry* const end = e_.end();
  if (asym_) {
    // An ordered calendar (a rank's reads and writes, tags 0/1): slots of one
    // direction are 0 apart, so most entries in reach of s (a write drain's
    // earlier writes) cannot move it. The entries in reach, latest first, a
    // few at most: if none conflicts, s stands (the walk below would not
    // move it either), without the search for the first of them.
    const Entry* const b = e_.begin();
    const Entry* it = end;
    bool clear = true;
    for (int n = 0; clear && it != b && (it - 1)->start + max_sep_ > s; ++n) {
      --it;
      const int itag = it->tag();
      if (n == 8)
        clear = false;  // more: the walk below
      else if (itag != kGone && (all || it->stamp() <= visible) && s < it->start + sep(itag, tag) &&
               it->start < s + sep(tag, itag))
        clear = false;
    }
    if (clear) return s;
  }
  return walk<false>(s, tag, visible, nullptr);
}

template <bool kSpot>
Picoseconds SlotCalendar::walk(Picoseconds s, int tag, Picoseconds visible, Spot* spot, const Entry* first) const {
  const bool all = visible >= max_stamp_;
  const Entry* const end = e_.end();
  // Entries are sorted and s only grows: walk forward from the first entry that
  // could conflict (start > s - max separation) until entries lie beyond any
  // separation. Repeat (rarely needed) when separations differ by tag and s
  // moved past an earlier entry.
  for (int pass = 0; pass < 8; ++pass) {
    bool moved = false;
    const Entry* place = nullptr;  // kSpot: the first entry starting after s
    bool overlapped = false;       // kSpot: an entry stamped after the view overlaps s
    const Entry* it = pass == 0 && first ? first : first_after(reach_start(s));
    for (; it != end && it->start < s + max_sep_; ++it) {
      const int itag = it->tag();
      if constexpr (kSpot) {
        if (!place && s < it->start) place = it;
      }
      if (itag == kGone) continue;
      if (!all && it->stamp() > visible) {
        if constexpr (kSpot) overlapped |= s < it->start + sep(itag, tag) && it->start < s + sep(tag, itag);
        continue;
      }
      const Picoseconds before = sep(itag, tag);  // the reserved slot first
      const Picoseconds after = sep(tag, itag);   // this slot first
      if (s < it->start + before && it->start < s + after) {
        s = it->start + before;
        moved = true;
      }
    }
    if (!moved) {
      if constexpr (kSpot) {
        spot->index = static_cast<std::size_t>((place ? place : it) - e_.begin());
        spot->clean = !overlapped;
      }
      break;
    }
  }
  return s;  // (a spot whose passes ran out stays not clean)
}
template Picoseconds SlotCalendar::walk<true>(Picoseconds, int, Picoseconds, Spot*, const Entry*) const;

SlotCalendar::Spot SlotCalendar::earliest_spot(Picoseconds t, int tag, Picoseconds visible) const {
  const Picoseconds s = t < floor_ ? floor_ : t;
  if (e_.empty() || (e_.end() - 1)->start + max_sep_ <= s) return Spot{s, e_.size(), true};
  // A gap before later reservations with none of them within reach of s
  // (40% of a read stream's bursts land so, before the bursts of the
  // channel's next granule): s, placed before the first of them, as the
  // walk's first pass finds it (no entry to move s or to overlap it), without the walk.
  const Picoseconds v = reach_start(s);
  // first_after(v): a few entries back from the end here, further by its search.
  const Entry* const b = e_.begin();
  const Entry* const end = e_.end();
  const Entry* next = end;
  for (int i = 0; i < 8 && next != b && (next - 1)->start > v; ++i) --next;
  // (The other cases by a call made last: nothing here outlives it.)
  if (next != b && (next - 1)->start > v) return earliest_spot_walk(s, tag, visible, nullptr);
  if (next == end || s + max_sep_ <= next->start) return Spot{s, static_cast<std::size_t>(next - b), true};
  return earliest_spot_walk(s, tag, visible, next);
}

SlotCalendar::Spot SlotCalendar::earliest_spot_walk(Picoseconds s, int tag, Picoseconds visible,
                                                    const Entry* first) const {
  if (!first) {  // further back than earliest_spot's scan
    first = first_after(reach_start(s));
    if (first == e_.end() || s + max_sep_ <= first->start)
      return Spot{s, static_cast<std::size_t>(first - e_.begin()), true};
  }
  Spot spot;
  spot.start = walk<true>(s, tag, visible, &spot, first);
  return spot;
}

SlotCalendar SlotCalendar::ordered(const std::array<Picoseconds, 4>& sep, std::size_t capacity) {
  SlotCalendar c(Picoseconds(0), Picoseconds(0), Picoseconds(0), capacity);
  c.asym_ = true;
  c.ordered_ = sep;
  c.max_sep_ = *std::max_element(sep.begin(), sep.end());
  c.len_ = *std::min_element(sep.begin(), sep.end());
  return c;
}

Picoseconds SlotCalendar::Blackout::clear_of(int tag, Picoseconds t) const {
  if (period.value() == 0 || t < lead) return t;
  const std::uint64_t cmd = (t - lead).value(), off = offset_by_tag[tag];
  if (cmd < off) return t;
  const std::uint64_t u = cmd - off, k = u / period.value();
  if (u - k * period.value() >= len.value()) return t;
  return Picoseconds(off + k * period.value() + len.value()) + lead;
}

std::uint64_t SlotCalendar::displace(Picoseconds start, int tag, Picoseconds stamp, Moves* moves,
                                     const Blackout* blackout) {
  // Every reservation stamped later than `stamp` that this slot overlaps would
  // queue behind it in time order: each moves to the first free slot at or
  // after its own start (its entry is left as a tombstone, tag kGone).
  std::array<Entry, 4> moved;
  std::size_t n = 0;
  for (const Entry* it = first_after(reach_start(start)), *end = e_.end();
       it != end && it->start < start + max_sep_ && n < moved.size(); ++it) {
    const int itag = it->tag();
    if (itag != kGone && it->stamp() > stamp && start < it->start + sep(itag, tag) &&
        it->start < start + sep(tag, itag)) {
      moved[n++] = *it;
      const_cast<Entry*>(it)->set_gone();  // the window's own storage
    }
  }
  std::uint64_t shift = 0;
  for (std::size_t k = 0; k < n; ++k) {
    Picoseconds to = earliest(moved[k].start, moved[k].tag());
    std::uint64_t skipped = 0;  // ps of blackout windows jumped
    for (int i = 0; blackout && i < 4; ++i) {
      const Picoseconds past = blackout->clear_of(moved[k].tag(), to);
      if (past == to) break;
      skipped += (past - to).value();
      to = earliest(past, moved[k].tag());
    }
    shift += (to - moved[k].start).value();
    // In time order the reservations between its old and new start would each
    // have moved one slot instead: the slots this move stands for.
    if (moves) {
      const std::uint64_t d = (to - moved[k].start).value() - skipped;
      moves->slots += len_.value() ? std::max<std::uint64_t>(1, (d + len_.value() / 2) / len_.value()) : 1;
      moves->first_stamp = std::min(moves->first_stamp, moved[k].stamp());
    }
    reserve(to, moved[k].tag(), moved[k].stamp());
  }
  return shift;
}

bool SlotCalendar::reserve_near_end(Picoseconds start, std::int64_t tag, Picoseconds stamp) {
  if (e_.empty()) return false;
  const int t = static_cast<int>(tag);
  const Entry* const b = e_.begin();
  const Entry* const end = e_.end();
  // Its place (after equal starts, as reserve_slow's), and the later entries it passes.
  const Entry* p = end;
  for (int k = 0; p != b && (p - 1)->start > start; --p)
    if (++k > kNearEnd || overlaps_later(*(p - 1), start, t, stamp)) return false;
  // The entries before it within reach.
  int k = 0;
  for (const Entry* q = p; q != b && (q - 1)->start + max_sep_ > start; --q)
    if (++k > 2 * kNearEnd || overlaps_later(*(q - 1), start, t, stamp)) return false;
  if (p == end ? !append_entry(start, tag, stamp) : !rotate_in(p, Entry{start, Entry::pack(stamp, tag)}, stamp))
    return false;  // the buffer's end: reserve_slow moves it
  ++near_end_inserts_;
  return true;
}

std::uint64_t SlotCalendar::reserve_found_slow(const Spot& spot, std::int64_t tag, Picoseconds stamp, Moves* moves,
                                               const Blackout* blackout) {
  if (spot.clean && spot.index != e_.size()) {
    const Entry* const p = e_.begin() + spot.index;
    // Among the last few: rotated in, as reserve_near_end's.
    if (e_.end() - p <= kFoundRotate && rotate_in(p, Entry{spot.start, Entry::pack(stamp, tag)}, stamp)) {
      ++found_inserts_;
      return 0;
    }
  }
  return reserve_found_cold(spot, tag, stamp, moves, blackout);
}

std::uint64_t SlotCalendar::reserve_found_cold(const Spot& spot, std::int64_t tag, Picoseconds stamp, Moves* moves,
                                               const Blackout* blackout) {
  if (!spot.clean) return reserve_displacing(spot.start, tag, stamp, moves, blackout);
  if (spot.index == e_.size()) {
    reserve_slow(spot.start, tag, stamp);  // the buffer's end (or its first entry)
    return 0;
  }
  e_.insert(e_.begin() + spot.index, Entry{spot.start, Entry::pack(stamp, tag)});  // further back: moved entries
  if (max_stamp_ < stamp) max_stamp_ = stamp;
  if (e_.size() > e_.capacity()) drop_oldest();
  ++found_inserts_;
  return 0;
}

std::size_t SlotCalendar::starts_between(Picoseconds from, Picoseconds to, Picoseconds* out, std::size_t max,
                                         Picoseconds visible) const {
  std::size_t n = 0;
  // First entry with start >= from, i.e. after every start <= from - 1.
  const Entry* it = from.value() == 0 ? e_.begin() : first_after(from - Picoseconds(1));
  for (const Entry* end = e_.end(); it != end && it->start < to && n < max; ++it)
    if (it->tag() != kGone && it->stamp() <= visible) out[n++] = it->start;
  return n;
}

std::vector<DramField> parse_dram_mapping(const std::string& mapping, std::string* why) {
  std::vector<DramField> msb_first;
  std::stringstream ss(mapping);
  std::string tok;
  bool seen[6] = {};
  while (std::getline(ss, tok, ':')) {
    DramField f;
    if (tok == "row") f = DramField::Row;
    else if (tok == "rank") f = DramField::Rank;
    else if (tok == "bank") f = DramField::Bank;
    else if (tok == "bankgroup" || tok == "bg") f = DramField::BankGroup;
    else if (tok == "channel") f = DramField::Channel;
    else if (tok == "column") f = DramField::Column;
    else {
      if (why) *why = "unknown field '" + tok + "' (expected row, rank, bank, bankgroup, channel, column)";
      return {};
    }
    if (seen[static_cast<int>(f)]) {
      if (why) *why = "field '" + tok + "' appears twice";
      return {};
    }
    seen[static_cast<int>(f)] = true;
    msb_first.push_back(f);
  }
  if (msb_first.size() != 6) {
    if (why) *why = "every field must appear once: row, rank, bank, bankgroup, channel, column";
    return {};
  }
  if (msb_first.front() != DramField::Row) {
    if (why) *why = "row must be the most significant (first) field";
    return {};
  }
  return {msb_first.rbegin(), msb_first.rend()};
}

std::string DramParams::validate() const {
  if (tck.value() == 0) return "tck must be positive";
  if (channels < 1 || ranks < 1 || bank_groups < 1 || banks_per_group < 1)
    return "channels, ranks, bank_groups and banks_per_group must be >= 1";
  if (row_size.value() < kCacheLineBytes || row_size.value() % kCacheLineBytes != 0)
    return "row_size must be a positive multiple of 64B";
  if (tburst == 0) return "tburst must be >= 1";
  const std::uint64_t il = interleave.value();
  if (il < kCacheLineBytes || (il & (il - 1)) != 0 || il > row_size.value() || row_size.value() % il != 0)
    return "interleave must be a power of two from 64B up to row_size, dividing row_size";
  if (refresh && trefi <= trfc) return "trefi must be larger than trfc";
  if (xor_fold && (!xor_hash || !is_pow2(static_cast<std::uint64_t>(bank_groups)) ||
                   !is_pow2(static_cast<std::uint64_t>(banks_per_group))))
    return "xor_fold needs xor_hash and bank_groups and banks_per_group that are powers of two";
  if (write_queue > kMaxWriteQueue) return "write_queue must be at most " + std::to_string(kMaxWriteQueue);
  if (write_queue > 0 && (write_high < 1 || write_high > write_queue || write_low >= write_high))
    return "write watermarks need 0 <= write_low < write_high <= write_queue";
  std::string why;
  if (parse_dram_mapping(mapping, &why).empty()) return "mapping \"" + mapping + "\": " + why;
  return {};
}

DramParams DramParams::ddr5_4800(int dimm_channels) {
  DramParams d;
  d.tck = Picoseconds(417);  // 4800 MT/s: 0.4167 ns
  d.cl = 40;
  d.trcd = 39;
  d.trp = 39;
  d.tras = 77;  // 32 ns
  d.cwl = 38;   // CL - 2
  d.tburst = 8;  // BL16 on a 32-bit subchannel
  d.tccd_s = 8;
  d.tccd_l = 12;  // 5 ns
  d.trrd_s = 8;
  d.trrd_l = 12;  // 5 ns
  d.tfaw = 32;
  d.trtp = 18;  // 7.5 ns
  d.twr = 72;   // 30 ns
  d.trtrs = 2;
  d.twtr_s = 6;   // 2.5 ns
  d.twtr_l = 24;  // 10 ns
  d.trfc = Picoseconds(295'000);
  d.trefi = Picoseconds(3'900'000);
  d.channels = 2 * dimm_channels;  // two 32-bit subchannels per DDR5 channel
  d.ranks = 1;
  d.bank_groups = 8;
  d.banks_per_group = 4;
  d.row_size = Bytes(4096);  // 1 KiB page of x8 devices x 4 per 32-bit subchannel
  return d;
}

DramParams DramParams::from_config(Config c) { return from_config(c, DramParams{}); }

DramParams DramParams::from_config(Config c, const DramParams& defaults) {
  const DramParams& d = defaults;
  DramParams p = d;
  p.tck = c.get<Picoseconds>("tck", d.tck, "DRAM clock period (DDR4-2666: 0.75ns)", {Picoseconds(1), {}});
  auto cyc = [&](const char* key, std::uint32_t def, const char* desc) {
    return c.get<unsigned>(key, def, desc, {0u, 100000u});
  };
  p.cl = cyc("cl", d.cl, "CAS (read) latency, tCK");
  p.trcd = cyc("trcd", d.trcd, "activate to read/write, tCK");
  p.trp = cyc("trp", d.trp, "precharge time, tCK");
  p.tras = cyc("tras", d.tras, "activate to precharge, tCK");
  p.cwl = cyc("cwl", d.cwl, "CAS write latency, tCK");
  p.tburst = c.get<unsigned>("tburst", d.tburst, "data burst on the bus (BL8 = 4), tCK", {1u, 64u});
  p.tccd_s = cyc("tccd_s", d.tccd_s, "column to column, different bank group, tCK");
  p.tccd_l = cyc("tccd_l", d.tccd_l, "column to column, same bank group, tCK");
  p.trrd_s = cyc("trrd_s", d.trrd_s, "activate to activate, different bank group, tCK");
  p.trrd_l = cyc("trrd_l", d.trrd_l, "activate to activate, same bank group, tCK");
  p.tfaw = cyc("tfaw", d.tfaw, "four-activate window per rank, tCK");
  p.trtp = cyc("trtp", d.trtp, "read to precharge, tCK");
  p.twr = cyc("twr", d.twr, "write recovery (end of write burst to precharge), tCK");
  p.trtrs = cyc("trtrs", d.trtrs, "data-bus gap when switching ranks, tCK");
  p.twtr_s = cyc("twtr_s", d.twtr_s, "end of write burst to read command, other bank group, tCK");
  p.twtr_l = cyc("twtr_l", d.twtr_l, "end of write burst to read command, same bank group, tCK");
  p.write_queue = c.get<unsigned>("write_queue", d.write_queue,
                                  "write queue entries per channel (0: writes scheduled on arrival, no drain)",
                                  {0u, DramParams::kMaxWriteQueue});
  p.write_high = c.get<unsigned>("write_high", p.write_queue && !d.write_high ? p.write_queue : d.write_high,
                                 "queued writes that start a write drain (default: write_queue)",
                                 {0u, DramParams::kMaxWriteQueue});
  p.write_low = c.get<unsigned>("write_low", d.write_low, "queued writes a write drain stops at",
                                {0u, DramParams::kMaxWriteQueue});
  p.refresh = c.get<bool>("refresh", d.refresh, "model all-bank refresh (tRFC every tREFI)");
  p.trfc = c.get<Picoseconds>("trfc", d.trfc, "refresh cycle time (8Gb: 350ns)", {Picoseconds(0), {}});
  p.trefi = c.get<Picoseconds>("trefi", d.trefi, "refresh interval (7.8us)", {Picoseconds(1), {}});
  p.channels = c.get<int>("channels", d.channels, "memory channels per node", {1, 64});
  p.ranks = c.get<int>("ranks", d.ranks, "ranks per channel", {1, 16});
  p.bank_groups = c.get<int>("bank_groups", d.bank_groups, "bank groups per rank (DDR4: 4)", {1, 16});
  p.banks_per_group = c.get<int>("banks_per_group", d.banks_per_group, "banks per bank group (DDR4: 4)", {1, 16});
  p.row_size = c.get<Bytes>("row_size", d.row_size, "row (page) size of a rank", {Bytes(64), {}});
  std::string pol = c.get_choice("page_policy", "open", {"open", "closed"},
                                 "open: leave the row open after an access; closed: precharge at once");
  p.page_policy = pol == "closed" ? PagePolicy::Closed : PagePolicy::Open;
  p.mapping = c.get<std::string>("mapping", d.mapping,
                                 "address mapping, fields from most to least significant, ':'-separated");
  p.interleave = c.get<Bytes>("interleave", d.interleave,
                              "consecutive bytes kept in one row before the mapping applies (lowest column bits)");
  p.xor_hash = c.get<bool>("xor_hash", d.xor_hash, "hash low row bits into bank and bank-group indices");
  p.xor_fold = c.get<bool>("xor_fold", d.xor_fold,
                           "with xor_hash: fold every row bit into the bank, bank-group and channel indices");
  p.frontend_latency = c.get<Picoseconds>("frontend_latency", d.frontend_latency,
                                          "controller queue/scheduler/PHY plus on-die path to and from the LLC");
  std::string err = p.validate();
  if (!err.empty()) {
    c.error("", err);
    return d;
  }
  return p;
}

DramController::DramController(const DramParams& params, PhysAddr base, std::string name)
    : p_(params), base_(base), name_(std::move(name)) {
  std::string err = p_.validate();
  if (!err.empty()) throw std::invalid_argument(name_ + ": " + err);
  stride_ = Strides{static_cast<std::size_t>(p_.ranks), static_cast<std::size_t>(p_.banks_per_rank()),
                    static_cast<std::size_t>(p_.banks_per_group)};
  fields_ = parse_dram_mapping(p_.mapping, nullptr);
  const std::uint64_t il = p_.interleave_lines();  // a power of two (validate)
  while ((std::uint64_t{1} << il_shift_) < il) ++il_shift_;
  std::size_t n = 0, odd_radices = 0;
  unsigned pos = 0;              // bit position of the next field in its word
  std::uint8_t word = kGranule;  // the word it is read from: y, or the quotient above the split
  for (DramField f : fields_) {
    if (f == DramField::Row) {
      // The row: the quotient's bits from pos (without a split, the quotient
      // is y's bits from pos, divided by 1).
      if (word == kGranule)
        split_shift_ = pos;
      else
        row_shift_ = pos;
      continue;
    }
    std::uint64_t radix = 1;
    switch (f) {
      case DramField::Column: radix = p_.columns() / il; break;
      case DramField::Channel: radix = static_cast<std::uint64_t>(p_.channels); break;
      case DramField::BankGroup: radix = static_cast<std::uint64_t>(p_.bank_groups); break;
      case DramField::Bank: radix = static_cast<std::uint64_t>(p_.banks_per_group); break;
      case DramField::Rank: radix = static_cast<std::uint64_t>(p_.ranks); break;
      case DramField::Row: break;
    }
    steps_[n++] = DecodeStep{f, FastDivider(radix)};
    unsigned bits = 0;
    while ((std::uint64_t{1} << bits) < radix) ++bits;
    BitField bf{word, pos, radix - 1};
    if (is_pow2(radix)) {
      pos += bits;
    } else {
      ++odd_radices;
      split_shift_ = pos;
      split_ = FastDivider(radix);
      bf = BitField{kRemainder, 0, ~std::uint64_t{0}};
      word = kQuotient;
      pos = 0;
    }
    switch (f) {
      case DramField::Column: column_hi_ = bf; break;
      case DramField::Channel: channel_ = bf; break;
      case DramField::BankGroup: bank_group_ = bf; break;
      case DramField::Bank: bank_ = bf; break;
      case DramField::Rank: rank_ = bf; break;
      case DramField::Row: break;
    }
  }
  split_decode_ = odd_radices <= 1;
  for (std::size_t k = 0; k < n; ++k) {
    if (steps_[k].radix.divisor() == 1) continue;
    const DramField f = steps_[k].field;
    if ((f == DramField::Channel && !(p_.xor_hash && p_.xor_fold)) || f == DramField::Rank || f == DramField::Column) {
      next_field_ = f;
      next_radix_ = steps_[k].radix.divisor();
    }
    break;
  }
  hash_banks_ = FastDivider(static_cast<std::uint64_t>(p_.banks_per_group));
  hash_groups_ = FastDivider(static_cast<std::uint64_t>(p_.bank_groups));
  hash_bits_ = p_.xor_hash && !p_.xor_fold && hash_banks_.is_pow2() && hash_groups_.is_pow2();
  if (p_.xor_hash && p_.xor_fold) {
    auto bits_of = [](std::uint64_t v) {
      unsigned b = 0;
      while ((std::uint64_t{1} << b) < v) ++b;
      return b;
    };
    fold_bank_bits_ = bits_of(static_cast<std::uint64_t>(p_.banks_per_group));
    fold_group_bits_ = bits_of(static_cast<std::uint64_t>(p_.bank_groups));
    const unsigned cb = bits_of(static_cast<std::uint64_t>(p_.channels));
    fold_width_ = std::max(1u, fold_bank_bits_ + fold_group_bits_ + cb);
    fold_mask_ = (std::uint64_t{1} << fold_width_) - 1;
    fold_channel_mask_ = (std::uint64_t{1} << cb) - 1;
  }
  trefi_ = FastDivider(p_.refresh ? p_.trefi.value() : 1);
  const std::uint64_t total = static_cast<std::uint64_t>(p_.channels) * static_cast<std::uint64_t>(p_.ranks);
  refresh_offsets_.resize(total);
  for (std::uint64_t i = 0; i < total; ++i) refresh_offsets_[i] = refresh_offset(static_cast<std::uint32_t>(i), total);
  refresh_memo_.assign(total, RefreshMemo{});
  column_spacing_ps_ = p_.to_ps(same_group_column_spacing());
  ps_ = TimingPs{p_.to_ps(p_.cl),  p_.to_ps(p_.cwl),    p_.to_ps(p_.trcd),
                 p_.to_ps(p_.trp), p_.to_ps(p_.tras),   p_.to_ps(p_.trtp),
                 p_.to_ps(p_.twr), p_.to_ps(p_.tburst), p_.to_ps(p_.tfaw), {}};
  for (RowOutcome o : {RowOutcome::Hit, RowOutcome::Closed, RowOutcome::Conflict})
    for (bool w : {false, true}) ps_.idle[static_cast<std::size_t>(o)][w ? 1 : 0] = idle_latency(o, w);
  bus_blackout_on_ = p_.refresh && p_.trfc.value() > 0;
  bus_blackout_ = SlotCalendar::Blackout{p_.trefi, p_.trfc + ps_.trcd, ps_.cl, nullptr};
  set_row_hit_path(true);
  reset_state();
}

void DramController::reset_state() {
  const auto nch = static_cast<std::size_t>(p_.channels);
  const auto nrk = static_cast<std::size_t>(p_.ranks);
  banks_.assign(nch * nrk * static_cast<std::size_t>(p_.banks_per_rank()), Bank{});
  Rank r;
  r.acts = SlotCalendar(p_.to_ps(p_.trrd_s), p_.to_ps(p_.trrd_l > p_.trrd_s ? p_.trrd_l - p_.trrd_s : 0),
                        Picoseconds(0), kCalendarSlots);
  r.cas_by_bg.assign(static_cast<std::size_t>(p_.bank_groups),
                     SlotCalendar(column_spacing_ps_, Picoseconds(0), Picoseconds(0), kCalendarSlots));
  if (p_.write_queue > 0) {
    // Column command to column command by direction on one rank: read then
    // write tRTW = CL + tBURST + 2 - CWL; write then read CWL + tBURST + tWTR_S
    // (tWTR_L within a bank group is left out); same direction: the bank-group
    // and bus calendars.
    const std::uint32_t rtw = p_.cl + p_.tburst + 2 > p_.cwl ? p_.cl + p_.tburst + 2 - p_.cwl : 0;
    r.rw = SlotCalendar::ordered({Picoseconds(0), p_.to_ps(rtw), p_.to_ps(p_.cwl + p_.tburst + p_.twtr_s), Picoseconds(0)},
                                 kCalendarSlots);
  }
  ranks_.assign(nch * nrk, r);
  Channel c;
  // The data bus's calendar takes every burst of the channel (each bank
  // group's a share): a buffer of 3 x its slots moves its window back to the
  // buffer's front half as often (the moves were 2.7% of a page fault's host
  // instructions, half of them the buses'), for 64 KiB more host memory per
  // channel. (All calendars at 3 x: twice the saving, +28 MiB on eight-socket-1t.)
  c.bus = SlotCalendar(p_.to_ps(std::max(p_.tburst, p_.tccd_s)), Picoseconds(0), p_.to_ps(p_.trtrs), kCalendarSlots, 3);
  channels_.assign(nch, c);
  stream_refresh_.assign(nch * nrk, RefreshSpan{});
}

// Mixed-radix decode of the line number (interleave granule lowest, then the
// mapping's fields, the row taking what is left), plus the optional row hash
// into bank and bank group. Bit fields when every radix is a power of two.
// The lines of one interleave granule differ only in the column's low bits:
// the last granule's coordinates are kept and reused (sequential streams).
DramCoord DramController::decode(PhysAddr pa) const {
  const std::uint64_t line = (pa - base_) >> 6;
  DramCoord c = decode_line(line);
  const std::uint64_t low_mask = (std::uint64_t{1} << il_shift_) - 1;
  c.column = (c.column & ~low_mask) | (line & low_mask);  // the line within its granule
  return c;
}

const DramCoord& DramController::decode_miss(std::uint64_t x) const {
  const std::uint64_t granule = x >> il_shift_;
  // (Granule 0 follows none: an empty entry's granule is ~0.)
  for (std::uint32_t j = 0; next_field_ != DramField::Row && granule != 0 && j < kDecodeMemo; ++j) {
    if (memo_granule_[j] == granule - 1) return decode_after(memo_[j], x);
  }
  const std::uint32_t k = memo_next_;
  memo_next_ = (k + 1) % kDecodeMemo;
  memo_granule_[k] = granule;
  decode_uncached(x, memo_[k]);
  return memo_[k];
}

void DramController::decode_uncached(std::uint64_t x, DramCoord& c) const {
  if (!split_decode_) {
    decode_general(x, c);
    return;
  }
  const std::uint64_t low = x & ((std::uint64_t{1} << il_shift_) - 1);
  const std::uint64_t y = x >> il_shift_;
  const std::uint64_t z = y >> split_shift_;
  const std::uint64_t q = split_.divide(z);
  const std::uint64_t words[3] = {y, q, z - q * split_.divisor()};
  c.column = (column_hi_.of(words) << il_shift_) | low;
  c.channel = static_cast<std::uint32_t>(channel_.of(words));
  c.bank_group = static_cast<std::uint32_t>(bank_group_.of(words));
  c.bank = static_cast<std::uint32_t>(bank_.of(words));
  c.rank = static_cast<std::uint32_t>(rank_.of(words));
  c.row = q >> row_shift_;
  if (hash_bits_) {
    const std::uint64_t hb = c.row & (hash_banks_.divisor() - 1);
    const std::uint64_t hg = (c.row >> hash_banks_.log2()) & (hash_groups_.divisor() - 1);
    c.bank ^= static_cast<std::uint32_t>(hb);
    c.bank_group ^= static_cast<std::uint32_t>(hg);
  } else {
    apply_row_hash(c);
  }
}

// Every field of c is set: each non-row field is one of steps_.
void DramController::decode_general(std::uint64_t x, DramCoord& c) const {
  const std::uint64_t low = x & ((std::uint64_t{1} << il_shift_) - 1);
  x >>= il_shift_;
  for (const DecodeStep& st : steps_) {
    const std::uint64_t q = st.radix.divide(x);
    const std::uint64_t v = st.radix.remainder(x, q);
    x = q;
    set_field(c, st.field, v, il_shift_, low);
  }
  c.row = x;
  apply_row_hash(c);
}

void DramController::apply_row_fold(DramCoord& c) const {
  std::uint64_t h = 0;
  for (std::uint64_t r = c.row; r != 0; r >>= fold_width_) h ^= r & fold_mask_;
  // The bank (the bank set REFsb refreshes together) takes every bit of the
  // folded row, not only its lowest: rows a power of two apart (the lines at
  // one offset of buffers 16 MiB apart) would otherwise share it, so that
  // lockstep streams meet on one bank set of each subchannel.
  const std::uint64_t bank_mask = hash_banks_.divisor() - 1;
  std::uint64_t hb = 0;
  if (fold_bank_bits_ > 0)
    for (std::uint64_t x = h; x != 0; x >>= fold_bank_bits_) hb ^= x & bank_mask;
  c.bank ^= static_cast<std::uint32_t>(hb);
  h >>= fold_bank_bits_;
  c.bank_group ^= static_cast<std::uint32_t>(h & (hash_groups_.divisor() - 1));
  h >>= fold_group_bits_;
  c.channel = fold_channel(c.channel, h & fold_channel_mask_);
}

std::uint32_t DramController::fold_channel(std::uint32_t channel, std::uint64_t h) const {
  const auto nc = static_cast<std::uint64_t>(p_.channels);
  if ((nc & (nc - 1)) == 0) return channel ^ static_cast<std::uint32_t>(h & (nc - 1));
  std::uint64_t v = channel + h % nc;  // h < 2 nc: one subtraction at most, kept general
  if (v >= nc) v -= nc;
  return static_cast<std::uint32_t>(v);
}

void DramController::apply_row_hash(DramCoord& c) const {
  if (p_.xor_hash) {
    if (p_.xor_fold) {
      apply_row_fold(c);
      return;
    }
    const std::uint64_t nb = hash_banks_.divisor();
    const std::uint64_t ng = hash_groups_.divisor();
    const std::uint64_t qb = hash_banks_.divide(c.row);
    const std::uint64_t hb = hash_banks_.remainder(c.row, qb);
    const std::uint64_t hg = hash_groups_.remainder(qb, hash_groups_.divide(qb));
    if (hash_banks_.is_pow2()) {
      c.bank ^= static_cast<std::uint32_t>(hb);
    } else {
      const std::uint64_t b = c.bank + hb;  // both < nb
      c.bank = static_cast<std::uint32_t>(b >= nb ? b - nb : b);
    }
    if (hash_groups_.is_pow2()) {
      c.bank_group ^= static_cast<std::uint32_t>(hg);
    } else {
      const std::uint64_t g = c.bank_group + hg;
      c.bank_group = static_cast<std::uint32_t>(g >= ng ? g - ng : g);
    }
  }
}

// tCCD_L rounded up to whole bursts: column commands to one bank group then
// leave data-bus gaps that another bank group's burst fills exactly (7 tCK
// apart would leave 3-tCK holes no burst fits, which an in-order slot
// allocator cannot recover the way a real scheduler interleaves bank groups).
std::uint32_t DramController::same_group_column_spacing() const {
  return (p_.tccd_l + p_.tburst - 1) / p_.tburst * p_.tburst;
}

Picoseconds DramController::idle_latency(RowOutcome outcome, bool is_write) const {
  std::uint32_t cyc = (is_write ? p_.cwl : p_.cl) + p_.tburst;
  if (outcome == RowOutcome::Closed) cyc += p_.trcd;
  if (outcome == RowOutcome::Conflict) cyc += p_.trp + p_.trcd;
  return p_.frontend_latency + p_.to_ps(cyc);
}

// Refresh windows of a rank: [off + k*tREFI, off + k*tREFI + tRFC), k >= 0,
// staggered evenly over the ranks of the controller, the first at tREFI/(2 ranks).
std::uint64_t DramController::refresh_offset(std::uint32_t rank_index, std::uint64_t total_ranks) const {
  return p_.trefi.value() * (2 * static_cast<std::uint64_t>(rank_index) + 1) / (2 * total_ranks);
}

// Window k of the rank covers [off + k tREFI, off + k tREFI + tRFC); after
// it, up to the next window, the epoch is k + 1. (k = ~0: before window 0.)
void DramController::remember_refresh_span(std::uint32_t rank_index, std::uint64_t off, std::uint64_t k) const {
  RefreshMemo& m = refresh_memo_[rank_index];
  if (k == ~std::uint64_t{0}) {
    m = RefreshMemo{0, off, 0};
    return;
  }
  const std::uint64_t start = off + k * p_.trefi.value();
  m = RefreshMemo{start + p_.trfc.value(), start + p_.trefi.value(), k + 1};
}

std::uint64_t DramController::refresh_epoch_slow(std::uint32_t rank_index, Picoseconds t) const {
  const std::uint64_t off = refresh_offsets_[rank_index];
  if (t.value() < off) {
    remember_refresh_span(rank_index, off, ~std::uint64_t{0});
    return 0;
  }
  const std::uint64_t u = t.value() - off;
  const std::uint64_t k = trefi_.divide(u);
  if (u - k * p_.trefi.value() >= p_.trfc.value()) remember_refresh_span(rank_index, off, k);
  return k + 1;
}

Picoseconds DramController::refresh_adjust_slow(std::uint32_t rank_index, Picoseconds t, bool* delayed) const {
  const std::uint64_t off = refresh_offsets_[rank_index];
  if (t.value() < off) {
    remember_refresh_span(rank_index, off, ~std::uint64_t{0});
    return t;
  }
  const std::uint64_t u = t.value() - off;
  const std::uint64_t k = trefi_.divide(u);
  if (u - k * p_.trefi.value() < p_.trfc.value()) {
    *delayed = true;
    return Picoseconds(off + k * p_.trefi.value() + p_.trfc.value());
  }
  remember_refresh_span(rank_index, off, k);
  return t;
}

Picoseconds DramController::refresh_start(std::uint32_t rank_index, Picoseconds t, bool* delayed) const {
  const RefreshMemo& m = refresh_memo_[rank_index];
  if (m.covers(t)) return t;
  // The memo's span begins where a window ends (lo: window k's start + tRFC,
  // or 0 before window 0): t in [lo - tRFC, lo) is in that window.
  if (t.value() < m.lo && m.lo - t.value() <= p_.trfc.value()) {
    *delayed = true;
    return Picoseconds(m.lo);
  }
  const Picoseconds from = refresh_adjust_slow(rank_index, t, delayed);
  if (from != t) refresh_epoch_slow(rank_index, from);  // the span after the window
  return from;
}

Picoseconds DramController::earliest_activate(const Rank& r, std::uint32_t bg, Picoseconds t, Picoseconds vis,
                                              SlotCalendar::Spot* spot) const {
  const Picoseconds faw = p_.to_ps(p_.tfaw);
  for (int iter = 0; iter < 64; ++iter) {
    const Picoseconds s = spot ? (*spot = r.acts.earliest_spot(t, static_cast<int>(bg), vis)).start
                               : r.acts.earliest(t, static_cast<int>(bg), vis);
    // tFAW: any five consecutive activates (this one included) span at least tFAW.
    const Picoseconds lo = s > faw ? s - faw + Picoseconds(1) : Picoseconds(0);
    // At most three others within tFAW before s or after it: no five to check
    // (the usual case, decided from the fourth latest activate alone).
    if (r.acts.at_most_from(3, lo)) return s;
    std::array<Picoseconds, 16> near{};
    std::size_t n = r.acts.starts_between(lo, s + faw, near.data(), near.size() - 1, vis);
    std::size_t k = 0;
    while (k < n && near[k] <= s) ++k;
    for (std::size_t j = n; j > k; --j) near[j] = near[j - 1];
    near[k] = s;
    ++n;
    Picoseconds bump = s;
    for (std::size_t first = (k >= 4 ? k - 4 : 0); first + 4 < n && first <= k; ++first) {
      if (near[first + 4] - near[first] < faw) {
        bump = first == k ? near[first + 4] : near[first] + faw;
        break;
      }
    }
    if (bump == s) return s;
    t = bump > s ? bump : s + Picoseconds(1);
  }
  if (spot) *spot = SlotCalendar::Spot{t, 0, false};  // given up: reserved through the search
  return t;
}

Picoseconds DramController::earliest_column(const Rank& r, const Channel& ch, std::uint32_t rank, std::uint32_t bg,
                                            Picoseconds t, Picoseconds cas_latency, bool read, Picoseconds vis) const {
  for (int iter = 0; iter < 64; ++iter) {
    const Picoseconds c = r.cas_by_bg[bg].earliest(t, 0, vis);
    if (p_.write_queue > 0) {
      const Picoseconds c2 = r.rw.earliest(c, read ? 0 : 1, vis);
      if (c2 != c) {
        t = c2;
        continue;
      }
    }
    const Picoseconds d = ch.bus.earliest(c + cas_latency, static_cast<int>(rank), vis);
    if (d == c + cas_latency) return c;
    t = d - cas_latency;
  }
  return t;
}

Picoseconds DramController::earliest_column_spots(const Rank& r, const Channel& ch, std::uint32_t rank,
                                                  std::uint32_t bg, Picoseconds t, Picoseconds cas_latency,
                                                  Picoseconds vis, SlotCalendar::Spot& column,
                                                  SlotCalendar::Spot& burst, int iter) const {
  const SlotCalendar& columns = r.cas_by_bg[bg];
  for (; iter < 64; ++iter) {
    column = columns.earliest_spot(t, 0, vis);
    burst = ch.bus.earliest_spot(column.start + cas_latency, static_cast<int>(rank), vis);
    if (burst.start == column.start + cas_latency) return column.start;
    t = burst.start - cas_latency;
  }
  // Given up, as earliest_column(): t, its slots reserved through the search.
  column = SlotCalendar::Spot{t, 0, false};
  burst = SlotCalendar::Spot{t + cas_latency, 0, false};
  return t;
}

std::uint64_t DramController::one_search_inserts() const {
  std::uint64_t n = 0;
  for (const Channel& ch : channels_) n += ch.bus.found_inserts();
  for (const Rank& r : ranks_) {
    n += r.acts.found_inserts();
    for (const SlotCalendar& g : r.cas_by_bg) n += g.found_inserts();
  }
  return n;
}

DramResult DramController::access(PhysAddr pa, bool is_write, Picoseconds arrival) {
  const DramCoord& c = decode_line((pa - base_) >> 6);
  if (is_write && p_.write_queue > 0) return post_write(c, arrival);
  const Picoseconds t = arrival + p_.frontend_latency;
  const HitSite site = hit_site(c);  // found once: a request the row-hit path rejects takes it to schedule_at()
  DramResult res;
  if (row_hit_path_ && serve_row_hit(site, c, is_write, arrival, t, res)) return res;
  return schedule_at(site, c, is_write, arrival, t, false);
}

// A write into its channel's queue: accepted when it has an entry (the entry's
// previous write has issued), drained in a batch at the high watermark.
DramResult DramController::post_write(const DramCoord& c, Picoseconds arrival) {
  Channel& ch = channels_[c.channel];
  const std::uint32_t cap = p_.write_queue;
  std::uint32_t pos = ch.wq_head + ch.wq_count;
  if (pos >= cap) pos -= cap;
  const Picoseconds t = arrival + p_.frontend_latency;
  const Picoseconds accept = max_ps(t, ch.wq_free[pos]);
  ch.wq[pos] = Channel::PendingWrite{c, arrival, accept};
  ++ch.wq_count;
  ++stats_.writes;
  stats_.bytes_written += kCacheLineBytes;
  if (accept > t) {
    ++stats_.write_queue_full;
    stats_.write_accept_wait_ps += (accept - t).value();
  }
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, arrival.value());
  if (ch.wq_count >= p_.write_high) drain_writes(c.channel, accept);
  DramResult res;
  res.done = accept;
  res.service = p_.frontend_latency;
  res.queueing = accept - t;
  res.outcome = RowOutcome::Hit;
  return res;
}

// Issues the oldest queued writes of a channel down to the low watermark,
// starting at `start`: writes to one bank and row back to back (FR-FCFS within
// the batch, rows in the order of their oldest write), each scheduled like a
// request arriving at max(start, its acceptance); the rank's read/write
// calendar keeps reads and writes tRTW / CWL + tBURST + tWTR_S apart.
void DramController::drain_writes(std::uint32_t channel, Picoseconds start) {
  Channel& ch = channels_[channel];
  const std::uint32_t cap = p_.write_queue;
  const std::uint32_t n = ch.wq_count - p_.write_low;
  std::array<std::uint8_t, DramParams::kMaxWriteQueue> done{};
  auto issue = [&](std::uint32_t k) {
    std::uint32_t pos = ch.wq_head + k;
    if (pos >= cap) pos -= cap;
    const Channel::PendingWrite& w = ch.wq[pos];
    const DramResult r = schedule(w.c, true, w.arrival, max_ps(start, w.accept), true);
    const Picoseconds cas = r.done - p_.to_ps(p_.tburst + p_.cwl);
    ch.wq_free[pos] = cas;  // the entry is free once its write has issued
    done[k] = 1;
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    if (done[i]) continue;
    std::uint32_t pi = ch.wq_head + i;
    if (pi >= cap) pi -= cap;
    const DramCoord ci = ch.wq[pi].c;
    issue(i);
    for (std::uint32_t j = i + 1; j < n; ++j) {
      if (done[j]) continue;
      std::uint32_t pj = ch.wq_head + j;
      if (pj >= cap) pj -= cap;
      const DramCoord& cj = ch.wq[pj].c;
      if (cj.rank == ci.rank && cj.bank_group == ci.bank_group && cj.bank == ci.bank && cj.row == ci.row) issue(j);
    }
  }
  ch.wq_head += n;
  if (ch.wq_head >= cap) ch.wq_head -= cap;
  ch.wq_count -= n;
  ++stats_.write_drains;
}

Picoseconds DramController::column_at(const Rank& r, const Channel& ch, const DramCoord& c, Picoseconds t,
                                      Picoseconds cas_latency, bool read, Picoseconds vis, SlotCalendar::Spot& column,
                                      SlotCalendar::Spot& burst) const {
  if (p_.write_queue == 0) return earliest_column_spots(r, ch, c.rank, c.bank_group, t, cas_latency, vis, column, burst);
  const Picoseconds cas = earliest_column(r, ch, c.rank, c.bank_group, t, cas_latency, read, vis);
  column = SlotCalendar::Spot{cas, 0, false};
  burst = SlotCalendar::Spot{cas + cas_latency, 0, false};
  return cas;
}

DramResult DramController::schedule_at(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                       Picoseconds t, bool drained) {
  if (row_hit_path_ && !drained) return serve_row_miss(s, c, is_write, arrival, t);
  return schedule_general(s, c, is_write, arrival, t, drained);
}

DramResult DramController::schedule_general(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                            Picoseconds t, bool drained) {
  const std::size_t rank_index = s.rank_index;
  Bank& b = s.b;
  Rank& r = s.r;
  Channel& ch = s.ch;
  const auto ri = static_cast<std::uint32_t>(rank_index);

  // Schedule tentatively; if the column command would fall after a refresh of
  // the rank (which closes every row) or inside one, start again after it.
  const Picoseconds cas_lat = is_write ? ps_.cwl : ps_.cl;
  // A request stamped earlier than the latest one this bank already served
  // (cores run ahead of each other by up to a quantum) would otherwise queue
  // behind requests that are later in simulated time. It is timed against the
  // shared calendars (ACT, column, data bus) but not the bank's own in-order
  // state, which it leaves unchanged.
  const bool late = t < b.last_t;
  if (!late) b.last_t = t;
  // A late request pays the bank's timing against the rows the bank had open
  // around its time: a row hit if its row was open then (the current row, the
  // one before it until its precharge, or a row an earlier late request
  // opened and used within tRC), else an activate of its own.
  Bank::LateRow* late_row = nullptr;
  Picoseconds late_hit_act{0};
  bool late_hit = false;
  // A late miss: the row open at its time (kNoRow: closed or not known) and
  // the bank's precharge, activate and column constraints then (0: none).
  std::uint64_t late_open = kNoRow;
  bool late_known = false;
  Picoseconds late_pre{0}, late_act{0}, late_cas{0};
  if (late) {
    const std::uint64_t epoch = p_.refresh ? refresh_epoch(ri, t) : 0;
    if (b.open_row == c.row && epoch >= b.refresh_epoch) {
      late_hit = true;
      late_hit_act = b.last_act;
    } else if (b.prev_row == c.row && t < b.prev_pre && epoch >= b.refresh_epoch) {
      late_hit = true;
      late_hit_act = b.prev_act;
    } else {
      for (Bank::LateRow& lr : b.late_rows) {
        if (lr.row == c.row && lr.epoch == epoch && t < lr.until) {
          late_hit = true;
          late_hit_act = lr.act;
          late_row = &lr;
          break;
        }
      }
    }
    // A row the bank opens well after t: opening it for this request is sooner.
    if (late_hit && late_hit_act > t + p_.to_ps(p_.trp)) late_hit = false, late_row = nullptr;
    // The bank as it was at t (its latest in-order request stamped at or before t).
    const Bank::Snapshot* snap = nullptr;
    for (std::uint32_t k = 1; k <= b.hist_n; ++k) {
      const Bank::Snapshot& h = b.hist[(b.hist_next + b.hist.size() - k) % b.hist.size()];
      if (h.stamp <= t) {
        snap = &h;
        break;
      }
    }
    if (snap) {
      const bool open_then = snap->open_row != kNoRow && epoch <= snap->refresh_epoch;
      if (open_then && snap->open_row == c.row) {
        // Its row was open at t: a row hit behind the bank's column commands then.
        if (!late_row) {
          late_hit = true;
          late_hit_act = snap->last_act;
        }
        late_cas = snap->next_cas;
      } else if (!late_row) {
        late_hit = false;
        late_known = true;
        late_open = open_then ? snap->open_row : kNoRow;
        late_pre = snap->next_pre;
        late_act = snap->next_act;
        late_cas = snap->next_cas;
      }
    }
  }
  // Requests stamped later than this one may already hold slots of the
  // calendars it needs (cores run through their quantum one after another, so
  // a core behind in the quantum finds the slots around its time taken by
  // requests later in simulated time). It is planned against the reservations
  // stamped at or before its time only (`vis`): what it would have met in time
  // order, where the later-stamped requests would have queued behind it. It
  // takes that slot, and each later-stamped reservation it overlaps moves (in
  // effect) to the next free slot: a reservation with the displaced one's stamp
  // is added there (SlotCalendar::reserve_displacing), so the bus and the
  // ranks never carry more than they can and the requests stamped after the
  // displaced one find it behind this one. In time order (quantum 0) nothing
  // is displaced and the schedule is the in-order one.
  const Picoseconds stamp = t;
  struct Plan {
    RowOutcome outcome = RowOutcome::Hit;
    Picoseconds act{0}, pre{0}, cas{0}, data{0};
    bool delayed = false;
    // Where the activate, the column command and the burst go in their
    // calendars, found by the searches that timed them (reserve_found).
    SlotCalendar::Spot act_spot, column_spot, burst_spot;
  };
  bool reordered = false;
  auto plan = [&](Picoseconds vis) {
    Plan q;
    Picoseconds tt = t;
    if (!late && b.prev_row == c.row && b.open_row != c.row) {
      // Serve it from the previous row if the column command (and its recovery)
      // fits before that row's precharge.
      const Picoseconds c0 = column_at(r, ch, c, max_ps(tt, b.prev_act + p_.to_ps(p_.trcd)), cas_lat, !is_write, vis,
                                       q.column_spot, q.burst_spot);
      const Picoseconds need = is_write ? c0 + cas_lat + p_.to_ps(p_.tburst + p_.twr) : c0 + p_.to_ps(p_.trtp);
      bool in_window = false;
      if (p_.refresh) refresh_adjust(ri, c0, &in_window);
      if (need <= b.prev_pre && !in_window && (!p_.refresh || refresh_epoch(ri, c0) <= b.refresh_epoch)) {
        reordered = true;
        q.cas = c0;
        q.data = q.cas + cas_lat;
        return q;
      }
    }
    for (int attempt = 0;; ++attempt) {
      if (p_.refresh) {
        std::uint64_t epoch = 0;
        tt = refresh_adjust_epoch(ri, tt, &q.delayed, &epoch);
        if (epoch > b.refresh_epoch) {  // a refresh since the bank's last use closed the row
          b.open_row = kNoRow;
          b.prev_row = kNoRow;
          b.refresh_epoch = epoch;
        }
      }
      const Picoseconds zero(0);
      if (late ? late_hit : b.open_row == c.row) {
        q.outcome = RowOutcome::Hit;
        q.cas = max_ps(tt, late ? max_ps(late_hit_act + p_.to_ps(p_.trcd), late_cas) : b.next_cas);
      } else {
        // A late request whose bank state at its time is unknown keeps the
        // outcome against the bank's current row (as before the history).
        const std::uint64_t open = late && late_known ? late_open : b.open_row;
        if (open == kNoRow) {
          q.outcome = RowOutcome::Closed;
          q.act = max_ps(tt, late ? late_act : b.next_act);
        } else {
          q.outcome = RowOutcome::Conflict;
          q.pre = max_ps(tt, late ? late_pre : b.next_pre);
          q.act = max_ps(q.pre + ps_.trp, late ? late_act : b.next_act);
        }
        q.act = earliest_activate(r, c.bank_group, q.act, vis, &q.act_spot);
        q.cas = max_ps(q.act + ps_.trcd, late ? late_cas : b.next_cas);
      }
      // The usual case without the call: no write queue, and the bank
      // group's column commands and the bus clear at the command and its burst.
      if (p_.write_queue > 0 || !s.columns.clear_at(q.cas) || !ch.bus.clear_at(q.cas + cas_lat)) {
        q.cas = column_at(r, ch, c, q.cas, cas_lat, !is_write, vis, q.column_spot, q.burst_spot);
      } else {
        q.column_spot = s.columns.clear_spot(q.cas);
        q.burst_spot = ch.bus.clear_spot(q.cas + cas_lat);
      }
      q.data = q.cas + cas_lat;
      if (!p_.refresh || attempt == 2) break;
      bool in_window = false;
      std::uint64_t cas_epoch = 0;
      refresh_adjust_epoch(ri, q.cas, &in_window, &cas_epoch);
      if (!in_window && cas_epoch <= b.refresh_epoch) break;
      tt = q.cas;  // a refresh intervenes: redo from the column command's time
      q.delayed = true;
    }
    return q;
  };
  Plan q = plan(stamp);
  if (!one_search_) q.act_spot.clean = q.column_spot.clean = q.burst_spot.clean = false;
  const RowOutcome outcome = q.outcome;
  const Picoseconds act = q.act, pre = q.pre, cas = q.cas, data = q.data;
  const bool delayed = q.delayed;

  // Commit the schedule to the bank, rank and channel state.
  if (late) {
    ++stats_.late_requests;
    const Picoseconds keep = cas + p_.to_ps(p_.tras + p_.trp);  // open for late hits within tRC
    if (outcome != RowOutcome::Hit) {
      ++stats_.activates;
      if (outcome == RowOutcome::Conflict) ++stats_.precharges;
      r.acts.reserve_found(q.act_spot, static_cast<int>(c.bank_group), stamp);
      Bank::LateRow& lr = b.late_rows[b.late_next];
      b.late_next = (b.late_next + 1) % static_cast<std::uint32_t>(b.late_rows.size());
      lr = Bank::LateRow{c.row, p_.refresh ? refresh_epoch(ri, act) : 0, act, keep};
      // The bank's in-order requests (stamped later) would have met this row
      // in time order: the row they use must be opened again after it. If it
      // was opened after this activate, it could open only tRAS + tRP later;
      // if before, this row replaces it (their next request is a conflict).
      const Picoseconds ready = max_ps(is_write ? cas + cas_lat + p_.to_ps(p_.tburst + p_.twr) : cas + p_.to_ps(p_.trtp),
                                       act + p_.to_ps(p_.tras));
      if (act < b.last_act) {
        b.next_cas = max_ps(b.next_cas, ready + p_.to_ps(p_.trp + p_.trcd));
        b.next_pre = max_ps(b.next_pre, ready + p_.to_ps(p_.trp + p_.tras));
      } else if (b.open_row != c.row) {
        b.prev_row = b.open_row;
        b.prev_act = b.last_act;
        b.prev_pre = pre;
        b.open_row = c.row;
        b.last_act = act;
        b.next_cas = max_ps(b.next_cas, cas + column_spacing_ps_);
        b.next_pre = max_ps(b.next_pre, ready);
      }
    } else if (late_row) {
      late_row->until = max_ps(late_row->until, keep);
    }
  } else if (outcome != RowOutcome::Hit) {
    if (outcome == RowOutcome::Conflict) {
      ++stats_.precharges;
      b.prev_row = b.open_row;
      b.prev_act = b.last_act;
      b.prev_pre = pre;
    }
    ++stats_.activates;
    r.acts.reserve_found(q.act_spot, static_cast<int>(c.bank_group), stamp);
    b.last_act = act;
    b.open_row = c.row;
  }
  const Picoseconds done = data + ps_.tburst;
  // The requests displaced on the bus already have their answers: their
  // moves, as the one-slot moves time order would have made, are owed on the
  // channel and paid by later requests stamped after the displaced ones (this
  // one pays before adding what it displaced).
  SlotCalendar::Moves mv;
  const std::uint64_t moved = reserve_burst(s, c, q.burst_spot, stamp, mv);
  const Picoseconds displaced_share = settle_debt(ch, stamp, moved, mv);
  s.columns.reserve_found(q.column_spot, 0, stamp);
  if (p_.write_queue > 0) r.rw.reserve_displacing(cas, is_write ? 1 : 0, stamp);
  if (reordered) {
    ++stats_.reordered_hits;
  } else if (!late) {
    b.next_cas = cas + column_spacing_ps_;
  }
  Picoseconds pre_ready = is_write ? done + ps_.twr : cas + ps_.trtp;
  pre_ready = max_ps(pre_ready, b.last_act + ps_.tras);
  if (reordered || late) {
    // The bank's state belongs to later requests.
  } else if (p_.page_policy == PagePolicy::Closed) {
    ++stats_.precharges;
    b.prev_row = c.row;
    b.prev_act = b.last_act;
    b.prev_pre = pre_ready;
    b.open_row = kNoRow;
    b.next_act = pre_ready + ps_.trp;
  } else {
    b.next_pre = max_ps(b.next_pre, pre_ready);
  }
  if (!late && !reordered) keep_snapshot(b, stamp);

  DramResult res;
  serve_result(res, outcome, is_write, drained, arrival, done, displaced_share);
  if (delayed) ++stats_.refresh_delays;
  return res;
}

DramResult DramController::serve_row_miss(const HitSite& s, const DramCoord& c, bool is_write, Picoseconds arrival,
                                          Picoseconds t) {
  Bank& b = s.b;
  // Not late; from t, or from the end of the refresh window t falls in (a
  // refresh delay), between two windows.
  if (t < b.last_t) return schedule_general(s, c, is_write, arrival, t, false);
  Picoseconds from = t;
  bool closed = false;
  if (s.memo) {
    bool delayed = false;
    if (!s.memo->covers(t)) from = refresh_start(static_cast<std::uint32_t>(s.rank_index), t, &delayed);
    if (s.memo->epoch < b.refresh_epoch) return schedule_general(s, c, is_write, arrival, t, false);
    if (s.memo->epoch > b.refresh_epoch) {
      closed = true;
      // A refresh since the bank's last request closed its rows: what
      // schedule() does first for this request (its try of the previous
      // row before that fails: the column command's epoch is from's or later).
      b.open_row = kNoRow;
      b.prev_row = kNoRow;
      b.refresh_epoch = s.memo->epoch;
    }
  }
  // Another row open or none, not the previous row (schedule() may serve
  // that one before its precharge).
  if (b.open_row == c.row || b.prev_row == c.row) return schedule_general(s, c, is_write, arrival, t, false);
  Rank& r = s.r;
  Channel& ch = s.ch;
  const std::uint32_t bg = c.bank_group;
  const bool conflict = b.open_row != kNoRow;
  const Picoseconds pre = conflict ? std::max(from, b.next_pre) : Picoseconds(0);
  Picoseconds act = conflict ? std::max(pre + ps_.trp, b.next_act) : std::max(from, b.next_act);
  // The activate after the rank's latest (tRRD) with at most three others
  // within tFAW of it: no search; else earliest_activate().
  SlotCalendar::Spot act_spot;
  if (r.acts.clear_at(act) && r.acts.at_most_from(3, act > ps_.tfaw ? act - ps_.tfaw + Picoseconds(1) : Picoseconds(0)))
    act_spot = r.acts.clear_spot(act);
  else
    act = earliest_activate(r, bg, act, t, &act_spot);
  const Picoseconds cas_lat = is_write ? ps_.cwl : ps_.cl;
  Picoseconds cas = std::max(act + ps_.trcd, b.next_cas);
  SlotCalendar::Spot column_spot, burst_spot;
  cas = column_spots(s, c, cas, cas_lat, t, column_spot, burst_spot);
  // (from, at most cas, lies in the memo's span, whose epoch is now the bank's.)
  if (!s.in_refresh_span_after(cas)) {  // a refresh intervenes: schedule() redoes it
    row_miss_path_closed_refused_ += closed;
    return schedule_general(s, c, is_write, arrival, t, false);
  }
  if (!one_search_) act_spot.clean = column_spot.clean = burst_spot.clean = false;
  // Committed as schedule() commits an in-order activate.
  b.last_t = t;
  if (conflict) {
    ++stats_.precharges;
    b.prev_row = b.open_row;
    b.prev_act = b.last_act;
    b.prev_pre = pre;
  }
  ++stats_.activates;
  r.acts.reserve_found(act_spot, static_cast<int>(bg), t);
  b.last_act = act;
  b.open_row = c.row;
  const Picoseconds data = cas + cas_lat, done = data + ps_.tburst;
  SlotCalendar::Moves mv;
  const std::uint64_t moved = reserve_burst(s, c, burst_spot, t, mv);
  const Picoseconds share = settle_debt(ch, t, moved, mv);
  s.columns.reserve_found(column_spot, 0, t);
  b.next_cas = cas + column_spacing_ps_;
  const Picoseconds pre_ready = std::max(is_write ? done + ps_.twr : cas + ps_.trtp, act + ps_.tras);
  b.next_pre = std::max(b.next_pre, pre_ready);
  keep_snapshot(b, t);
  ++row_miss_path_requests_;
  DramResult res;
  serve_result(res, conflict ? RowOutcome::Conflict : RowOutcome::Closed, is_write, false, arrival, done, share);
  if (from != t) ++stats_.refresh_delays;
  return res;
}

// stream() of writes with a write queue: each line is posted as the line path
// posts it (post_write: accepted once its entry is free, the channel drained
// at the high watermark through schedule(), with the turnarounds), issued by
// an initiator that keeps `window` lines in flight as the memory system's
// range pipeline does (a line issues `issue_gap` after the one before, or
// when the line `window` before it is back, whichever is later).
Picoseconds DramController::stream_posted(PhysAddr pa, std::uint64_t n, Picoseconds issue, Picoseconds to_ctrl,
                                          Picoseconds round_trip, Picoseconds min_period, int window,
                                          Picoseconds issue_gap) {
  const std::size_t w = static_cast<std::size_t>(std::max(window, 1));
  if (stream_slots_.size() < w) stream_slots_.resize(w);
  std::fill_n(stream_slots_.begin(), w, issue);
  const Picoseconds back = round_trip > to_ctrl ? round_trip - to_ctrl : Picoseconds(0);
  const Picoseconds step = max_ps(issue_gap, min_period);
  Picoseconds t = issue, end = issue;
  std::size_t slot = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (i > 0) t += step;
    t = max_ps(t, stream_slots_[slot]);
    const Picoseconds done = post_write(decode(pa + i * kCacheLineBytes), t + to_ctrl).done + back;
    stream_slots_[slot] = done;
    if (++slot == w) slot = 0;
    end = max_ps(end, done);
  }
  return end;
}

Picoseconds DramController::stream(PhysAddr pa, std::uint64_t n, bool is_write, Picoseconds issue, Picoseconds to_ctrl,
                                   Picoseconds round_trip, Picoseconds min_period, int window, Picoseconds issue_gap) {
  if (n == 0) return issue;
  if (is_write && p_.write_queue > 0)
    return posted_block_ ? stream_posted_block(pa, n, issue, to_ctrl, round_trip, min_period, window, issue_gap)
                         : stream_posted(pa, n, issue, to_ctrl, round_trip, min_period, window, issue_gap);
  const Picoseconds zero(0);
  const Picoseconds cas_lat = p_.to_ps(is_write ? p_.cwl : p_.cl);
  const Picoseconds burst = p_.to_ps(p_.tburst);
  const Picoseconds sp = column_spacing_ps_;
  const Picoseconds trcd = p_.to_ps(p_.trcd), trp = p_.to_ps(p_.trp);
  const Picoseconds hit = p_.frontend_latency + cas_lat + burst;  // a row hit at the controller
  const std::uint64_t il = p_.interleave_lines();
  const std::uint64_t w = static_cast<std::uint64_t>(std::max(window, 1));
  // The stream's period: tau = (round trip of a row hit + mean wait of a
  // granule's lines behind the column spacing, which they reach tau apart) / window.
  const std::uint64_t floor_tau = std::max(min_period, issue_gap).value();
  auto wait_for = [&](std::uint64_t tau) {
    return sp.value() > tau ? (il - 1) * (sp.value() - tau) / 2 : std::uint64_t{0};
  };
  std::uint64_t tau = std::max(floor_tau, (hit + round_trip).value() / w);
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t next = std::max(floor_tau, ((hit + round_trip).value() + wait_for(tau)) / w);
    if (next == tau) break;
    tau = next;
  }
  const Picoseconds wait(wait_for(tau));
  const Picoseconds lat_ctrl = hit + wait;        // mean latency at the controller, row hits
  const Picoseconds lat_full = lat_ctrl + round_trip;  // mean latency of one line of the stream
  const Picoseconds serve(std::max(sp.value(), tau));  // column commands of one granule

  // One bank/row visit (an interleave granule) at a time. The granules'
  // coordinates follow one another like an odometer of the mapping's digits
  // (one division to start). Below the column digit (steps_[kc]) the digits
  // only select a bank (channel, rank, bank group, bank): their P
  // combinations, the period of a block of P x columns granules in which
  // the digits above and the row stay fixed, are tabulated once per block
  // (row hash included). Each rank's refresh state is kept for the interval
  // until its next window (the stream's times only grow).
  const std::size_t ns = steps_.size();
  std::size_t kc = ns;
  for (std::size_t k = 0; k < ns; ++k)
    if (steps_[k].field == DramField::Column) {
      kc = k;
      break;
    }
  std::uint64_t period = 1;
  for (std::size_t k = 0; k < kc; ++k) period *= steps_[k].radix.divisor();
  const std::uint64_t block = kc < ns ? period * steps_[kc].radix.divisor() : period;
  const std::uint64_t x0 = (pa - base_) >> 6;
  Picoseconds shift(0), last_cas(0);
  std::uint64_t hits = 0, closed = 0, conflicts = 0;
  std::array<std::uint64_t, 5> digit{};
  std::uint64_t row_digit = 0, low = 0;
  {
    std::uint64_t y = x0 >> il_shift_;
    for (std::size_t k = 0; k < ns; ++k) {
      const std::uint64_t q = steps_[k].radix.divide(y);
      digit[k] = steps_[k].radix.remainder(y, q);
      y = q;
    }
    row_digit = y;
    for (std::size_t k = kc; k-- > 0;) low = low * steps_[k].radix.divisor() + digit[k];
  }
  if (stream_banks_.size() < period) stream_banks_.resize(period);
  for (auto& rs : stream_refresh_) rs = RefreshSpan{};
  const Picoseconds twr = p_.to_ps(p_.twr), trtp = p_.to_ps(p_.trtp), tras = p_.to_ps(p_.tras);
  const Picoseconds act_reach = p_.to_ps(std::max({p_.trrd_s, p_.trrd_l, p_.tfaw}));
  // The state a bank keeps from a visit whose first line was a row hit served
  // on arrival at t0 (no wait): what the per-visit code below leaves.
  auto visited = [&](Bank& b, Picoseconds t0) {
    const Picoseconds lc = t0 + serve * (il - 1);
    b.hist_n = 0;
    b.last_t = max_ps(b.last_t, t0 + Picoseconds(tau * (il - 1)));
    b.next_cas = lc + sp;
    const Picoseconds pre_ready = is_write ? lc + cas_lat + burst + twr : lc + trtp;
    b.next_pre = max_ps(b.next_pre, max_ps(pre_ready, b.last_act + tras));
  };

  // Runs of whole granules that are provably row hits served on arrival are
  // one step each (skipped below): a position of the block's period is
  // "warm" when its bank was last visited one period before, in order (not
  // late), with its row open and no refresh of its rank since; its next
  // visit is then such a hit as long as the visit's own lines and the column
  // spacing fit in a period's issue time (`periodic`) and the rank's refresh
  // window is not reached. A run is recorded, and each bank of it gets the
  // state of its last visit when that is needed: before the bank's next
  // visit one by one, or at the end of the block or stream.
  const std::uint64_t granule_time = il * tau;
  const bool periodic = stream_runs_ && kc < ns && period <= 64 && (serve * (il - 1) + sp).value() <= period * granule_time &&
                        tau * (il - 1) <= period * granule_time;
  const std::uint64_t full = period >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << period) - 1;
  std::uint64_t warm = 0;          // by position of the period
  std::uint64_t g = 0, block_g0 = 0;  // granules done; the first granule of the block
  struct Run {
    std::uint64_t g0, len, i0;  // first granule, granules, first line
    Picoseconds tb;              // a line's arrival at the controller = tb + line index x tau
  };
  std::array<Run, 64> runs;  // the block's latest runs (those of the last period at least)
  std::size_t nruns = 0;
  // Ranks of the block's positions and the earliest end of their refresh intervals.
  std::array<std::uint32_t, 64> block_ranks;
  std::array<std::uint64_t, 64> rank_positions;
  std::size_t nranks = 0;
  Picoseconds min_to(0);
  bool min_to_stale = true;
  // The bank at `pos`, whose last visit was granule `gv`, gets that visit's state if it was in a run.
  auto settle = [&](std::uint64_t pos, std::uint64_t gv) {
    for (std::size_t k = nruns; k-- > (nruns > runs.size() ? nruns - runs.size() : 0);) {
      const Run& r = runs[k % runs.size()];
      if (r.g0 > gv) continue;
      if (gv < r.g0 + r.len)
        visited(banks_[stream_banks_[pos].bank], r.tb + Picoseconds((r.i0 + ((gv - r.g0) << il_shift_)) * tau));
      return;
    }
  };
  // Every bank of the block gets the state of its last visit (the last period's granules).
  auto settle_all = [&] {
    if (nruns == 0) return;
    const std::uint64_t from = g >= block_g0 + period ? g - period : block_g0;
    for (std::uint64_t gv = from; gv < g; ++gv) {
      std::uint64_t pos = low + period - (g - gv);
      if (pos >= period) pos -= period;
      settle(pos, gv);
    }
    nruns = 0;
  };
  auto tabulate = [&] {
    std::array<std::uint64_t, 5> d = digit;
    DramCoord c;
    for (std::size_t k = 0; k < ns; ++k) {
      if (k < kc) d[k] = 0;
      set_field(c, steps_[k].field, d[k], il_shift_, 0);
    }
    c.row = row_digit;
    nranks = 0;
    // apply_row_hash with the block's row: its bank and bank-group offsets once.
    std::uint32_t hb = 0, hg = 0, hc = 0;
    if (p_.xor_hash) {
      DramCoord z;
      z.row = row_digit;
      apply_row_hash(z);
      hb = z.bank;
      hg = z.bank_group;
      hc = z.channel;  // xor_fold: the block's channel hash (0 otherwise)
    }
    const auto nb = static_cast<std::uint32_t>(hash_banks_.divisor()), ng = static_cast<std::uint32_t>(hash_groups_.divisor());
    for (std::uint64_t q = 0; q < period; ++q) {
      DramCoord h = c;
      if (p_.xor_hash) {
        if (hash_banks_.is_pow2()) h.bank ^= hb;
        else h.bank = h.bank + hb >= nb ? h.bank + hb - nb : h.bank + hb;
        if (hash_groups_.is_pow2()) h.bank_group ^= hg;
        else h.bank_group = h.bank_group + hg >= ng ? h.bank_group + hg - ng : h.bank_group + hg;
        if (p_.xor_fold) h.channel = fold_channel(h.channel, hc);
      }
      const std::uint32_t ri = h.channel * static_cast<std::uint32_t>(p_.ranks) + h.rank;
      stream_banks_[q] = StreamBank{ri * static_cast<std::uint32_t>(p_.banks_per_rank()) +
                                        h.bank_group * static_cast<std::uint32_t>(p_.banks_per_group) + h.bank,
                                    ri, h.channel, h.rank, h.bank_group};
      if (periodic) {
        std::size_t k = 0;
        while (k < nranks && block_ranks[k] != ri) ++k;
        if (k == nranks) {
          block_ranks[nranks] = ri;
          rank_positions[nranks++] = 0;
        }
        rank_positions[k] |= std::uint64_t{1} << q;
      }
      std::size_t k = 0;
      while (k < kc && ++d[k] == steps_[k].radix.divisor()) {
        d[k] = 0;
        set_field(c, steps_[k++].field, 0, il_shift_, 0);
      }
      if (k < kc) set_field(c, steps_[k].field, d[k], il_shift_, 0);
    }
    warm = 0;
    block_g0 = g;
    min_to_stale = true;
  };
  auto advance = [&] {  // the next granule's digits
    ++g;
    if (++low < period) return;
    low = 0;
    std::size_t k = kc;
    while (k < ns && ++digit[k] == steps_[k].radix.divisor()) digit[k++] = 0;
    if (k == ns) ++row_digit;
    if (k > kc || kc == ns) {
      settle_all();
      tabulate();
    }
  };
  tabulate();
  const Picoseconds service = idle_latency(RowOutcome::Hit, is_write);
  // Latency statistics: the lines served as row hits on arrival (most) are
  // counted apart and recorded once; other latencies as runs of equal values.
  Picoseconds run_lat(0);
  std::uint64_t run_cnt = 0, hit_cnt = 0, total_lat = 0, total_queue = 0;
  auto account = [&](Picoseconds lat, std::uint64_t cnt) {
    if (lat == lat_ctrl) {
      hit_cnt += cnt;
    } else {
      if (lat != run_lat) {
        hist_.record(run_lat, run_cnt);
        run_lat = lat;
        run_cnt = 0;
      }
      run_cnt += cnt;
    }
    total_lat += lat.value() * cnt;
    total_queue += (lat > service ? lat - service : zero).value() * cnt;
  };
  // The data bus keeps the bursts of the stream's last lines (what a later request meets).
  const std::uint64_t tail_from = n > 2 * w ? n - 2 * w : 0;
  for (std::uint64_t i = 0; i < n;) {
    const std::uint64_t x = x0 + i;
    const std::uint64_t cnt = std::min(il - (x & (il - 1)), n - i);
    if (periodic && cnt == il && (warm >> low & 1)) {
      const std::uint64_t pos = low + period * digit[kc];
      std::uint64_t run = std::min({block - pos, (n - i) >> il_shift_, tail_from > i ? (tail_from - i) >> il_shift_ : 0});
      // Up to the next cold position.
      const std::uint64_t cold = ~warm & full;
      if (cold != 0) {
        const std::uint64_t rot = low == 0 ? cold : ((cold >> low) | (cold << (period - low))) & full;
        run = std::min<std::uint64_t>(run, static_cast<std::uint64_t>(__builtin_ctzll(rot)));
      }
      const Picoseconds tb = issue + to_ctrl + shift + p_.frontend_latency;  // + line index x tau
      const Picoseconds t_first = tb + Picoseconds(i * tau);
      if (p_.refresh && run > 0) {
        if (min_to_stale) {
          min_to = Picoseconds(~std::uint64_t{0});
          for (std::size_t k = 0; k < nranks; ++k) {
            const RefreshSpan& span = stream_refresh_[block_ranks[k]];
            if (span.from <= span.to) min_to = std::min(min_to, span.to);
          }
          min_to_stale = false;
        }
        // Up to the first granule that reaches its rank's refresh window.
        if (t_first + Picoseconds((run - 1) * granule_time) >= min_to) {
          std::uint64_t d = min_to > t_first ? ((min_to - t_first).value() + granule_time - 1) / granule_time : 0;
          std::uint64_t q = (low + d) % period;
          for (; d < run; ++d) {
            if (t_first + Picoseconds(d * granule_time) >= stream_refresh_[stream_banks_[q].rank_index].to) break;
            if (++q == period) q = 0;
          }
          run = d;
        }
      }
      if (run > 0) {
        runs[nruns++ % runs.size()] = Run{g, run, i, tb};
        last_cas = t_first + Picoseconds((run - 1) * granule_time) + serve * (il - 1);
        hits += run * il;
        account(lat_ctrl, run * il);
        i += run * il;
        g += run;
        const std::uint64_t to = pos + run;
        if (to < block) {
          if (run < period) {  // no division for the common short run
            low += run;
            if (low >= period) {
              low -= period;
              ++digit[kc];
            }
          } else {
            digit[kc] = to / period;
            low = to - digit[kc] * period;
          }
        } else {
          digit[kc] = steps_[kc].radix.divisor() - 1;
          low = period - 1;
          --g;
          advance();
        }
        continue;
      }
    }
    const std::uint64_t here = low;
    const StreamBank e = stream_banks_[here];
    const std::uint64_t row = row_digit;
    if (nruns > 0 && g >= block_g0 + period) settle(here, g - period);
    const std::size_t rank_index = e.rank_index;
    Bank& b = banks_[e.bank];
    Rank& r = ranks_[rank_index];
    const auto ri = static_cast<std::uint32_t>(rank_index);
    const Picoseconds t0 = issue + to_ctrl + shift + Picoseconds(i * tau) + p_.frontend_latency;
    Picoseconds t = t0;
    if (t0 < b.last_t) {
      // Later requests of another initiator (ahead by up to a quantum) already
      // own the bank: as the line path, each line is timed on its own against
      // the row they left open, without changing the bank's state.
      const bool row_hit = b.open_row == row;
      const Picoseconds extra = row_hit ? zero : (b.open_row == kNoRow ? trcd : trp + trcd);
      stats_.late_requests += cnt;
      if (row_hit) {
        hits += cnt;
      } else {
        stats_.activates += cnt;
        if (b.open_row == kNoRow) closed += cnt;
        else {
          conflicts += cnt;
          stats_.precharges += cnt;
        }
      }
      shift += extra;
      account(lat_ctrl + extra, cnt);
      last_cas = t0 + extra + serve * (cnt - 1);
      i += cnt;
      if (periodic) warm &= ~(std::uint64_t{1} << here);
      advance();
      continue;
    }
    if (p_.refresh) {
      RefreshSpan& span = stream_refresh_[rank_index];
      std::uint64_t epoch = span.epoch;
      if (!(t >= span.from && t < span.to)) {
        bool delayed = false;
        t = refresh_adjust(ri, t, &delayed);
        if (delayed) stats_.refresh_delays += cnt;
        epoch = refresh_epoch(ri, t);
        const std::uint64_t off = refresh_offsets_[rank_index];
        span = RefreshSpan{t, Picoseconds(off + epoch * p_.trefi.value()), epoch};
        // The rank's other banks may have been refreshed since their last visit.
        for (std::size_t k = 0; k < nranks; ++k)
          if (block_ranks[k] == ri) warm &= ~rank_positions[k];
        min_to_stale = true;
      }
      if (epoch > b.refresh_epoch) {  // a refresh since the bank's last use closed the row
        b.open_row = kNoRow;
        b.prev_row = kNoRow;
        b.refresh_epoch = epoch;
      }
    }
    Picoseconds cas;
    if (b.open_row == row) {
      ++hits;
      cas = max_ps(t, b.next_cas);
    } else {
      Picoseconds act;
      if (b.open_row == kNoRow) {
        ++closed;
        act = max_ps(t, b.next_act);
      } else {
        ++conflicts;
        ++stats_.precharges;
        const Picoseconds pre = max_ps(t, b.next_pre);
        b.prev_row = b.open_row;
        b.prev_act = b.last_act;
        b.prev_pre = pre;
        act = max_ps(pre + trp, b.next_act);
      }
      // earliest_activate, unless no activate of the rank lies within tRRD_L
      // or tFAW before `act` or anywhere after it: then it is `act` itself.
      Picoseconds none_after;
      if (!stream_runs_ || act <= act_reach || r.acts.starts_between(act - act_reach, Picoseconds(~std::uint64_t{0}), &none_after, 1) != 0)
        act = earliest_activate(r, e.bank_group, act);
      r.acts.reserve(act, static_cast<int>(e.bank_group));
      ++stats_.activates;
      b.last_act = act;
      b.open_row = row;
      cas = max_ps(act + trcd, b.next_cas);
    }
    hits += cnt - 1;
    const Picoseconds extra = cas - t0;  // what this visit's first line waited beyond a row hit
    shift += extra;  // the window waits for it: every later line issues that much later
    last_cas = cas + serve * (cnt - 1);
    b.last_t = max_ps(b.last_t, t0 + Picoseconds(tau * (cnt - 1)));
    b.hist_n = 0;
    b.next_cas = last_cas + sp;
    Picoseconds pre_ready = is_write ? last_cas + cas_lat + burst + twr : last_cas + trtp;
    b.next_pre = max_ps(b.next_pre, max_ps(pre_ready, b.last_act + tras));
    account(lat_ctrl + extra, cnt);
    if (i + cnt > tail_from) {
      Channel& ch = channels_[e.channel];
      for (std::uint64_t k = 0; k < cnt; ++k) {
        const Picoseconds ck = cas + serve * k;
        ch.bus.reserve(ck + cas_lat, static_cast<int>(e.rank));
        r.cas_by_bg[e.bank_group].reserve(ck, 0);
        if (p_.write_queue > 0) r.rw.reserve(ck, is_write ? 1 : 0);  // later writes' tRTW
      }
    }
    i += cnt;
    if (periodic) warm |= std::uint64_t{1} << here;
    advance();
  }
  settle_all();
  hist_.record(lat_ctrl, hit_cnt);
  // The last line issues when the line `window` before it is back (a staircase
  // of windows), plus the stalls of the visits before it.
  const Picoseconds end = issue + shift + lat_full * ((n - 1) / w) + issue_gap * ((n - 1) % w) + lat_full;
  hist_.record(run_lat, run_cnt);
  stats_.total_latency_ps += total_lat;
  stats_.total_queueing_ps += total_queue;
  stats_.row_hits += hits;
  stats_.row_closed += closed;
  stats_.row_conflicts += conflicts;
  if (is_write) {
    stats_.writes += n;
    stats_.bytes_written += n * kCacheLineBytes;
  } else {
    stats_.reads += n;
    stats_.bytes_read += n * kCacheLineBytes;
  }
  stats_.bus_busy_ps += burst.value() * n;
  stats_.first_arrival_ps = std::min(stats_.first_arrival_ps, (issue + to_ctrl).value());
  stats_.last_done_ps = std::max(stats_.last_done_ps, (last_cas + cas_lat + burst).value());
  return end;
}

void DramController::reset_stats() {
  stats_ = DramStats{};
  hist_.reset();
}

void DramController::dump(StatsVisitor& v) const {
  const std::string& n = name_;
  const auto& s = stats_;
  v.counter(n + ".reads", s.reads, "count", "64B line reads served");
  v.counter(n + ".writes", s.writes, "count", "64B line writes served (write-backs, streaming stores)");
  v.counter(n + ".row_hits", s.row_hits, "count", "accesses to the open row");
  v.counter(n + ".row_closed", s.row_closed, "count", "accesses to a precharged bank (activate only)");
  v.counter(n + ".row_conflicts", s.row_conflicts, "count", "accesses to a bank with another row open");
  v.counter(n + ".activates", s.activates, "count", "ACT commands");
  v.counter(n + ".precharges", s.precharges, "count", "PRE commands");
  v.counter(n + ".bytes_read", s.bytes_read, "bytes", "data read from DRAM");
  v.counter(n + ".bytes_written", s.bytes_written, "bytes", "data written to DRAM");
  v.counter(n + ".refresh_delays", s.refresh_delays, "count", "requests delayed by a refresh");
  v.counter(n + ".late_requests", s.late_requests, "count",
            "requests stamped earlier than the bank's latest (run-ahead of another core), not queued on the bank");
  v.counter(n + ".write_drains", s.write_drains, "count", "write-queue drains (batches of writes between reads)");
  v.counter(n + ".write_queue_full", s.write_queue_full, "count",
            "writes that waited for a write-queue entry (back-pressure)");
  v.formula(n + ".avg_write_accept_wait_ns",
            safe_ratio(static_cast<double>(s.write_accept_wait_ps), static_cast<double>(s.writes)) / 1000.0, "ns",
            "mean wait of a write for a write-queue entry");
  v.counter(n + ".reordered_hits", s.reordered_hits, "count",
            "row hits served before the precharge of a row already closed by a later request");
  const double reqs = static_cast<double>(s.reads + s.writes);
  v.formula(n + ".row_hit_ratio", safe_ratio(static_cast<double>(s.row_hits), reqs), "ratio",
            "row hits / accesses");
  v.formula(n + ".avg_latency_ns", safe_ratio(static_cast<double>(s.total_latency_ps), reqs) / 1000.0, "ns",
            "mean time from arrival at the controller to the last data beat");
  v.formula(n + ".avg_queueing_ns", safe_ratio(static_cast<double>(s.total_queueing_ps), reqs) / 1000.0, "ns",
            "mean time above the unloaded latency of the same row outcome");
  const double span = s.last_done_ps > s.first_arrival_ps && reqs > 0
                          ? static_cast<double>(s.last_done_ps - s.first_arrival_ps) * 1e-12
                          : 0.0;
  v.formula(n + ".bandwidth_bytes_per_s",
            safe_ratio(static_cast<double>(s.bytes_read + s.bytes_written), span), "bytes/s",
            "bytes moved / (last completion - first arrival)");
  v.formula(n + ".bus_utilisation",
            safe_ratio(static_cast<double>(s.bus_busy_ps), span * 1e12 * static_cast<double>(p_.channels)), "ratio",
            "data-bus busy time / (elapsed time x channels)");
  v.histogram(n + ".latency", hist_, "ps", "request latency at the controller (arrival to last data beat)");
}

}  // namespace numasim::hw
