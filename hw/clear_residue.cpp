// The deferred residue of cached page clears (see clear_residue.h): the rings
// of recorded pages by socket, their ages by CPU, and the frame index.
#include "hw/clear_residue.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace numasim::hw {

ClearResidue::ClearResidue(const Shape& shape)
    : shape_(shape),
      l1_lines_(shape.l1_pages * kPageLines),
      l2_lines_(shape.l2_pages * kPageLines),
      llc_lines_(shape.llc_pages * kPageLines) {
  if (shape_.sockets < 1 || shape_.cpu_socket.empty())
    throw std::invalid_argument("clear residue: no socket or no CPU");
  if ((shape_.mem_end >> 12) >= 0xFFFFFFFFull)
    throw std::invalid_argument("clear residue: physical memory beyond 16 TiB (frames are indexed in 32 bits)");
  // A socket's ring holds its LLC and each of its cores' L1D and L2, in pages.
  std::vector<std::uint64_t> cores(static_cast<std::size_t>(shape_.sockets), 0);
  for (int s : shape_.cpu_socket) ++cores[static_cast<std::size_t>(s)];
  const std::uint64_t most = *std::max_element(cores.begin(), cores.end());
  capacity_ = std::max<std::uint64_t>(shape_.llc_pages + most * (shape_.l1_pages + shape_.l2_pages), 1);
  entries_.resize(capacity_ * static_cast<std::uint64_t>(shape_.sockets));
  rings_.resize(static_cast<std::size_t>(shape_.sockets));
  clears_.assign(shape_.cpu_socket.size(), 0);
  l2_virtual_.assign(shape_.cpu_socket.size(), 0);
  made_real_.assign(3 * shape_.cpu_socket.size(), 0);
  l2_pushed_.assign(shape_.cpu_socket.size(), 0);
  recent_n_ = shape_.l1_pages + shape_.l2_pages + 1;
  recent_.assign(shape_.cpu_socket.size() * recent_n_, kNone);
  aged_.reserve(kMaxAged + 1);
  entered_.reserve(kMaxAged + kMaxL2Lead);
  private_from_.assign(shape_.cpu_socket.size(), 0);
  exit_due_.assign(shape_.cpu_socket.size(), ~std::uint64_t{0});
  // At most a quarter full: about 1.2 probes per look-up.
  std::size_t slots = 1;
  unsigned bits = 0;
  while (slots < 4 * entries_.size()) {
    slots *= 2;
    ++bits;
  }
  table_.assign(slots, 0);
  hash_shift_ = 64 - bits;
  regions_.assign(static_cast<std::size_t>((shape_.mem_end >> kRegionShift) + 1), 0);
}

std::uint32_t ClearResidue::find(PhysAddr pa) const {
  const std::uint64_t key = (pa >> 12) + 1;
  const std::size_t mask = table_.size() - 1;
  for (std::size_t i = slot_of(pa >> 12);; i = (i + 1) & mask) {
    const std::uint64_t v = table_[i];
    if (v == 0) return kNone;
    if ((v & 0xFFFFFFFFu) == key) return static_cast<std::uint32_t>(v >> 32);
  }
}

void ClearResidue::index(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::uint64_t frame = x.page >> 12;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = slot_of(frame);
  while (table_[i] != 0) i = (i + 1) & mask;
  table_[i] = (frame + 1) | (std::uint64_t{e} << 32);
  x.indexed = true;
  ++regions_[static_cast<std::size_t>(x.page >> kRegionShift)];
  if (!llc_.empty()) group_push(e);
  if (!l2_.empty()) l2_push(e);
}

void ClearResidue::unindex(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::uint64_t key = (x.page >> 12) + 1;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = slot_of(x.page >> 12);
  while ((table_[i] & 0xFFFFFFFFu) != key) {
    if (table_[i] == 0) {
      std::fprintf(stderr, "numasim: internal error: clear residue lost page 0x%llx\n",
                   static_cast<unsigned long long>(x.page));
      std::abort();
    }
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: later entries of the probe run move up unless
  // their home slot lies cyclically in (i, j].
  for (std::size_t j = (i + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    const std::size_t home = slot_of((table_[j] & 0xFFFFFFFFu) - 1);
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    table_[i] = table_[j];
    i = j;
  }
  table_[i] = 0;
  x.indexed = false;
  --regions_[static_cast<std::size_t>(x.page >> kRegionShift)];
  if (!llc_.empty()) group_remove(e);
  if (x.in_l2_list) l2_remove(e);
}

void ClearResidue::take_mask(std::uint32_t e, std::uint64_t m, int level) {
  Entry& x = entries_[e];
  // (One line, a touch's, needs no count: without -mpopcnt a count is a library call.)
  const auto n = (m & (m - 1)) == 0 ? std::uint64_t{1} : static_cast<std::uint64_t>(__builtin_popcountll(m));
  x.mask &= ~m;
  virtual_lines_ -= n;
  count_real(x, level, n);
  count_moved(x, n, level);
  if (level >= 4)
    stats_.lines_written_back += n;
  else if (level == 0)
    stats_.lines_into_llc += n;
  else
    stats_.lines_to_level[level] += n;
  if (x.mask == 0) unindex(e);
}

void ClearResidue::count_moved(Entry& x, std::uint64_t n, int level) {
  if (level == 1 || l1_.empty()) return;
  const auto c = static_cast<std::size_t>(x.cpu);
  const auto k = static_cast<std::int64_t>(n);
  if (!x.left_l1) {
    l1_[c]->count_virtual(0, 0, k);
    l2_[c]->count_virtual(0, k, 0);
  }
  if (level == 2) return;
  l2_[c]->count_virtual(0, 0, k);
  if (level >= 4 && !llc_.empty()) llc_[static_cast<std::size_t>(x.socket)]->count_virtual(0, k, k);
}

bool ClearResidue::virtual_in_own_l2(CpuId cpu, PhysAddr pa, const Fills& fills) const {
  if (!region_holds(pa)) return false;
  const std::uint32_t e = find(pa);
  if (e == kNone) return false;
  const Entry& x = entries_[e];
  const unsigned i = static_cast<unsigned>((pa >> 6) & (kPageLines - 1));
  return x.cpu == cpu.value() && ((x.mask >> i) & 1) != 0 && level(e, fills) == 2;
}

Picoseconds ClearResidue::write_back_time(std::uint32_t e, unsigned i, Picoseconds now) {
  Entry& x = entries_[e];
  if (x.clear_end == 0) return now;
  const std::uint64_t span = x.clear_end - x.clear_start;
  const std::uint64_t at = offset_in_clear(x, i);
  if (!x.paced) {
    // The first touch: the clear's timing starts over so that line i goes now.
    x.paced = true;
    x.clear_start = now.value() > at ? now.value() - at : 1;  // (never 0: clear_end 0 means not timed)
    x.clear_end = x.clear_start + span;
  }
  return std::max(now, Picoseconds(x.clear_start + at));
}

bool ClearResidue::take_line(std::uint32_t e, unsigned i, int level) {
  const std::uint64_t bit = std::uint64_t{1} << i;
  if ((entries_[e].mask & bit) == 0) return false;
  take_mask(e, bit, level);
  return true;
}

std::uint64_t ClearResidue::take_all(std::uint32_t e, int level) {
  const std::uint64_t m = entries_[e].mask;
  if (m != 0) take_mask(e, m, level);
  return m;
}

void ClearResidue::watch(int socket, CacheArray* llc) {
  if (llc_.empty()) {
    llc_.assign(static_cast<std::size_t>(shape_.sockets), nullptr);
    groups_ = llc->sets() % kPageLines == 0 ? llc->sets() / kPageLines : 1;
    group_div_ = FastDivider(groups_);
    const std::size_t lists = groups_ * static_cast<std::size_t>(shape_.sockets);
    group_head_.assign(lists, kNone);
    group_tail_.assign(lists, kNone);
    group_due_.assign(lists, ~std::uint64_t{0});
    for (std::uint32_t e = 0; e < entries_.size(); ++e)  // (pages recorded before: none when watched first)
      if (entries_[e].indexed) group_push(e);
  }
  llc_[static_cast<std::size_t>(socket)] = llc;
}

void ClearResidue::group_push(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::size_t list = static_cast<std::size_t>(x.socket) * groups_ + group_of(x.page);
  x.group_next = kNone;
  x.group_prev = group_tail_[list];
  if (x.group_prev != kNone) entries_[x.group_prev].group_next = e;
  group_tail_[list] = e;
  if (group_head_[list] == kNone) {
    group_head_[list] = e;
    group_rearm(list);
  }
}

void ClearResidue::group_remove(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::size_t list = static_cast<std::size_t>(x.socket) * groups_ + group_of(x.page);
  (x.group_prev != kNone ? entries_[x.group_prev].group_next : group_head_[list]) = x.group_next;
  (x.group_next != kNone ? entries_[x.group_next].group_prev : group_tail_[list]) = x.group_prev;
  if (x.group_prev == kNone) group_rearm(list);
  x.group_prev = x.group_next = kNone;
}

void ClearResidue::group_rearm(std::size_t list) {
  const std::uint32_t h = group_head_[list];
  if (h == kNone) {
    group_due_[list] = ~std::uint64_t{0};
    return;
  }
  // gone() once since_llc(x, clock) > llc_lines_.
  const Entry& x = entries_[h];
  group_due_[list] = x.llc_at + l1_lines_ + l2_lines_ + llc_lines_ + 1;
}

PhysAddr ClearResidue::age(int socket, PhysAddr pa) {
  const auto s = static_cast<std::size_t>(socket);
  const std::uint64_t clock = llc_[s]->insertions();
  const auto i = static_cast<unsigned>((pa >> 6) & (kPageLines - 1));
  for (std::uint32_t e = group_head_[s * groups_ + group_of(pa)]; e != kNone; e = entries_[e].group_next) {
    const Entry& x = entries_[e];
    if (!gone(x, clock)) return kNoLine;  // (taken as younger in the LLC too: clear_residue.h's clear order)
    if (held_privately(x)) continue;  // still in its CPU's L1D or L2: passed over
    if ((x.mask >> i) & 1) {
      const PhysAddr line = x.page + PhysAddr{i} * 64;
      take_line(e, i, 4);
      return line;
    }
  }
  return kNoLine;
}

void ClearResidue::pop_gone(std::size_t s, std::uint64_t clock) {
  Ring& r = rings_[s];
  // From the oldest entry; k: entries kept at the tail (a page still in its
  // CPU's L1D or L2, passed over, and the entries after it).
  std::uint64_t k = 0;
  while (k < r.count && k <= kMaxPassed && aged_.size() < kMaxAged) {
    const auto at = static_cast<std::uint32_t>(s * capacity_ + (r.head + capacity_ - r.count + k) % capacity_);
    const Entry& t = entries_[at];
    if (t.indexed) {
      if (!gone(t, clock)) break;
      if (held_privately(t)) {
        ++k;
        continue;
      }
      aged_.push_back({t.page, t.mask});
      take_mask(at, t.mask, 4);
    }
    if (k == 0)
      --r.count;
    else
      ++k;
  }
}

void ClearResidue::arm_exit(std::size_t cpu, const Entry& x) {
  // private_level()'s L2 test fails once the L2 clock passes x.l2_at + l1 + l2.
  const std::uint64_t due = x.l2_at + l1_lines_ + l2_lines_ + 1;
  // (Still in L1D by its L1D clock past that: looked at again after another page of L2 fills.)
  const std::uint64_t now = l2_clock(cpu, l2_[cpu]->insertions());
  exit_due_[cpu] = std::max(due, now) + kPageLines;
}

void ClearResidue::leave_l2(CpuId cpu) {
  entered_.clear();
  collect_leavers(static_cast<std::size_t>(cpu.value()), clears_[static_cast<std::size_t>(cpu.value())], 0, false);
}

void ClearResidue::collect_leavers(std::size_t c, std::uint64_t last, std::uint64_t through, bool clearing) {
  exit_due_[c] = ~std::uint64_t{0};
  const std::uint32_t* recent = recent_.data() + c * recent_n_;
  for (std::uint64_t seq = private_from_[c] + 1; seq <= last; ++seq) {
    const std::uint32_t e = recent[seq % recent_n_];
    if (e == kNone || entries_[e].seq != seq || entries_[e].cpu != static_cast<int>(c) || entries_[e].mask == 0) {
      private_from_[c] = seq;  // gone from the residue already
      continue;
    }
    const Entry& x = entries_[e];
    if (entered_.size() >= kMaxAged) {
      exit_due_[c] = 0;  // more may be due: looked at again at the next miss
      return;
    }
    if (seq > through && private_level(x, l1_[c]->insertions(), l2_[c]->insertions()) != 0) {
      arm_exit(c, x);
      return;
    }
    const std::uint32_t next = x.l2_next;
    const std::size_t list = x.in_l2_list ? l2_list_of(x) : 0;
    entered_.push_back({x.page, x.mask});
    take_mask(e, x.mask, 0);
    private_from_[c] = seq;
    if (clearing && next != kNone && !l2_ahead_.empty() && l2_ahead_[list] != 0) {
      // Sets where real fills hold ways: the group's next page still in L2
      // with its line there gives it up now, looking as many pages on as
      // fills hold ways in the set (the pages between gave theirs to the fills).
      std::uint64_t& ahead = l2_ahead_[list];
      const std::uint8_t* lead = l2_lead_.data() + list * kPageLines;
      std::uint64_t want = ahead;
      std::uint32_t z = next;
      for (unsigned depth = 1; want != 0 && z != kNone && depth <= kMaxL2Lead; ++depth) {
        if (depth > 1)
          for (std::uint64_t b = want; b != 0; b &= b - 1)
            if (lead[__builtin_ctzll(b)] < depth) want &= ~(std::uint64_t{1} << __builtin_ctzll(b));
        Entry& y = entries_[z];
        const std::uint32_t after = y.l2_next;
        if (want == 0 || private_level(y, l1_[c]->insertions(), l2_[c]->insertions()) != 2) break;
        if (const std::uint64_t m = y.mask & want; m != 0) {
          entered_.push_back({y.page, m});
          take_mask(z, m, 0);
          want &= ~m;
        }
        z = after;
      }
      for (std::uint64_t b = ahead; b != 0; b &= b - 1) {
        const auto i = static_cast<unsigned>(__builtin_ctzll(b));
        if (--l2_ahead_left_[list * kPageLines + i] == 0) {
          ahead &= ~(std::uint64_t{1} << i);
          l2_lead_[list * kPageLines + i] = 0;
        }
      }
    }
  }
}

void ClearResidue::watch_private(CpuId cpu, CacheArray* l1d, CacheArray* l2) {
  const auto c = static_cast<std::size_t>(cpu.value());
  if (l1_.empty()) {
    l1_.assign(shape_.cpu_socket.size(), nullptr);
    l2_.assign(shape_.cpu_socket.size(), nullptr);
  }
  // The L2 set-group lists and l2_fill()'s way count are one geometry for every CPU.
  if (!l2_head_.empty() && (l2->sets() != l2_sets_ || l2->ways() != l2_all_ways_))
    throw std::invalid_argument("deferred clear residue: CPU " + std::to_string(cpu.value()) + "'s L2 has " +
                                std::to_string(l2->sets()) + " sets of " + std::to_string(l2->ways()) +
                                " ways, another CPU's " + std::to_string(l2_sets_) + " of " +
                                std::to_string(l2_all_ways_) + ": every L2 must be alike");
  l1_[c] = l1d;
  l2_[c] = l2;
  if (l2_head_.empty()) {
    l2_sets_ = l2->sets();
    l2_all_ways_ = l2->ways();
    l2_groups_ = l2->sets() % kPageLines == 0 ? l2->sets() / kPageLines : 1;
    l2_group_div_ = FastDivider(l2_groups_);
    l2_head_.assign(shape_.cpu_socket.size() * l2_groups_, kNone);
    l2_tail_.assign(shape_.cpu_socket.size() * l2_groups_, kNone);
    l2_count_.assign(shape_.cpu_socket.size(), 0);
    l2_ahead_.assign(shape_.cpu_socket.size() * l2_groups_, 0);
    l2_ahead_left_.assign(shape_.cpu_socket.size() * l2_groups_ * kPageLines, 0);
    l2_lead_.assign(shape_.cpu_socket.size() * l2_groups_ * kPageLines, 0);
    l2_ways_ = static_cast<std::uint8_t>(std::min<std::size_t>(l2->ways(), 255));
  }
}

void ClearResidue::l2_push(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::size_t list = l2_list_of(x);
  x.l2_next = kNone;
  x.l2_prev = l2_tail_[list];
  (x.l2_prev != kNone ? entries_[x.l2_prev].l2_next : l2_head_[list]) = e;
  l2_tail_[list] = e;
  x.in_l2_list = true;
  ++l2_count_[static_cast<std::size_t>(x.cpu)];
}

void ClearResidue::l2_remove(std::uint32_t e) {
  Entry& x = entries_[e];
  const std::size_t list = l2_list_of(x);
  (x.l2_prev != kNone ? entries_[x.l2_prev].l2_next : l2_head_[list]) = x.l2_next;
  (x.l2_next != kNone ? entries_[x.l2_next].l2_prev : l2_tail_[list]) = x.l2_prev;
  x.l2_prev = x.l2_next = kNone;
  x.in_l2_list = false;
  --l2_count_[static_cast<std::size_t>(x.cpu)];
}

PhysAddr ClearResidue::l2_fill(CpuId cpu, PhysAddr pa) {
  const auto c = static_cast<std::size_t>(cpu.value());
  const std::size_t list = l2_list_of(c, pa);
  const auto i = static_cast<unsigned>((pa >> 6) & (kPageLines - 1));
  // The L2 took this fill already (insertions() counts it), but a fill that
  // pushes a recorded line out leaves the L2 clock alone (l2_pushed_), so the
  // pages are judged by the clock before it: counted, a page at its L2
  // boundary was classed gone and passed over, and the fill pushed nothing.
  // (After a demand miss both clocks may be one ahead still: its own L1D fill,
  // and an L2 allocation for its dirty L1D victim; left so, the clocks read
  // before the access gave the same results on the four workloads, review11.)
  const std::uint64_t l1 = l1_[c]->insertions(), l2_with = l2_[c]->insertions();
  const std::uint64_t l2 = l2_with != 0 ? l2_with - 1 : 0;
  // From the group's oldest page: one that left L2 by its clock (not yet
  // moved into the LLC) is passed over, one still in L1D ends the search (the
  // younger ones are too), and the first in L2 with line i virtual gives it up.
  std::uint64_t looked = 0;
  for (std::uint32_t e = l2_head_[list]; e != kNone && looked <= kMaxL2Walk; e = entries_[e].l2_next, ++looked) {
    const Entry& x = entries_[e];
    const int in = private_level(x, l1, l2);
    if (in == 1) return kNoLine;
    if (in == 0 || ((x.mask >> i) & 1) == 0) continue;
    const PhysAddr line = x.page + PhysAddr{i} * 64;
    ++l2_pushed_[c];
    // The filled line holds a way of set i for the ways' worth of the group's exits from L2.
    l2_ahead_[list] |= std::uint64_t{1} << i;
    l2_ahead_left_[list * kPageLines + i] = l2_ways_;
    std::uint8_t& lead = l2_lead_[list * kPageLines + i];
    if (lead < kMaxL2Lead && lead < l2_ways_) ++lead;
    take_line(e, i, 0);
    return line;
  }
  return kNoLine;
}

void ClearResidue::record(CpuId cpu, PhysAddr page, const Fills& fills, Moved& moved) {
  const std::uint64_t llc_fills = fills.llc;
  const auto c = static_cast<std::size_t>(cpu.value());
  const int socket = shape_.cpu_socket[c];
  const auto s = static_cast<std::size_t>(socket);
  const std::uint64_t seq = ++clears_[c];
  // This CPU's previous clear, and its clears l1_pages and l1_pages + l2_pages
  // ago, which now leave its L1D and its L2 (the latter entering the LLC now).
  std::uint32_t* recent = recent_.data() + c * recent_n_;
  auto earlier = [&](std::uint64_t back) -> std::uint32_t {
    if (seq <= back) return kNone;
    const std::uint32_t e = recent[(seq - back) % recent_n_];
    return e != kNone && entries_[e].cpu == cpu.value() && entries_[e].seq == seq - back ? e : kNone;
  };
  auto still_virtual = [&](std::uint32_t e) {
    return e == kNone ? 0u : static_cast<unsigned>(__builtin_popcountll(entries_[e].mask));
  };
  moved.previous = still_virtual(earlier(1));
  const std::uint32_t to_l2 = earlier(shape_.l1_pages);
  moved.to_l2 = still_virtual(to_l2);
  l2_virtual_[c] += moved.to_l2;
  if (to_l2 != kNone) entries_[to_l2].left_l1 = true;
  if (!l1_.empty()) {
    // This clear's 64 stores miss in L1D and fill it; the page leaving L1D goes into L2.
    const auto n = static_cast<std::int64_t>(moved.to_l2);
    l1_[c]->count_virtual(std::int64_t{kPageLines}, 0, n);
    l2_[c]->count_virtual(0, n, 0);
  }
  // Its pages that left its L2 by now (by its L2 clock; at the latest its
  // clear l1_pages + l2_pages ago): the caller installs them in the LLC.
  entered_.clear();
  if (!l2_.empty()) {
    const std::uint64_t back = shape_.l1_pages + shape_.l2_pages;
    collect_leavers(c, seq - 1, seq > back ? seq - back : 0, true);
  }
  // The socket's oldest pages' lines that left its LLC (and the oldest page, if the ring is full).
  Ring& r = rings_[s];
  aged_.clear();
  pop_gone(s, llc_fills);
  if (r.count == capacity_) {  // (kMaxAged pages out and still full: the oldest is written back now too)
    const auto tail = static_cast<std::uint32_t>(s * capacity_ + r.head);
    aged_.push_back({entries_[tail].page, entries_[tail].mask});
    if (entries_[tail].indexed) take_mask(tail, entries_[tail].mask, 4);
    --r.count;
  }
  const auto e = static_cast<std::uint32_t>(s * capacity_ + r.head);
  if (++r.head == capacity_) r.head = 0;
  ++r.count;
  Entry& x = entries_[e];
  x.page = page;
  x.mask = ~std::uint64_t{0};
  x.seq = seq;
  x.l1_at = l1_clock(c, fills.l1);
  x.l2_at = l2_clock(c, fills.l2);
  x.llc_at = llc_fills;
  x.cpu = cpu.value();
  x.socket = socket;
  x.left_l1 = false;
  x.paced = false;
  index(e);
  recent[seq % recent_n_] = e;
  if (exit_due_[c] == ~std::uint64_t{0} && !l2_.empty()) arm_exit(c, x);
  x.clear_start = x.clear_end = 0;
  x.gap = 0;
  newest_ = e;
  virtual_lines_ += kPageLines;
  ++stats_.pages_deferred;
}

}  // namespace numasim::hw
