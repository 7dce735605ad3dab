// Bulk operations of the cache hierarchy for kernel transfers (see
// cache_hierarchy.h): a streaming transfer's invalidation of a whole range in
// one pass, and a cached clear's (or copy's destination's) whole-line stores
// level by level. Both have the same effect, line for line, as the one-line
// operations (invalidate_everywhere, write_full_line): the range invalidation
// only skips, once for the range, the sockets whose LLC region counts say they
// hold nothing of it, and the private caches when the caller says so; the
// level-by-level stores run each level's operations for the batch in one pass
// (one array at a time) in an order that gives every set the same operations
// in the same order. (Hinting each pass's sets to the host a few lines ahead,
// __builtin_prefetch, was tried: more host instructions, no faster.)
// Simplifications: none beyond the one-line operations'.
#include "hw/cache_hierarchy.h"

#include <bit>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

void CacheHierarchy::write_full_lines(CpuId cpu, PhysAddr first, std::size_t n, bool llc_level,
                                      std::uint8_t* level, SnoopResult* snoop_out, WritebackList* wb) {
  if (n > bulk_lines_) [[unlikely]] {
    // More lines than the scratch arrays hold, or than keep every set's order exact.
    std::fprintf(stderr, "numasim: internal error: write_full_lines of %zu lines (at most %zu)\n", n, bulk_lines_);
    std::abort();
  }
#if defined(__x86_64__)
  if (sse41_in_use && !baseline_passes_) return write_full_lines_sse41(cpu, first, n, llc_level, level, snoop_out, wb);
#endif
  write_full_lines_body(cpu, first, n, llc_level, level, snoop_out, wb);
}

#if defined(__x86_64__)
// The same work compiled for SSE4.1, everything this file defines inline
// (flatten): GCC otherwise leaves the victim searches' least_word_sse41 as
// calls (a "cold" call by its estimate). Callgrind, 20000 faults of
// hw_fault_bench's stream on configs/default.toml: 1.737 G -> 1.618 G host
// instructions (claim and write_back_or_fill inline, four victim searches per
// line no longer out-of-line calls).
__attribute__((flatten)) void CacheHierarchy::write_full_lines_sse41(CpuId cpu, PhysAddr first, std::size_t n,
                                                                     bool llc_level, std::uint8_t* level,
                                                                     SnoopResult* snoop_out, WritebackList* wb) {
  write_full_lines_body(cpu, first, n, llc_level, level, snoop_out, wb);
}
#endif

namespace {
// Line j's write-backs and snoop result, empty. (The snoop result copied
// from a constant: one 8-byte store; assigning SnoopResult{} took three.)
[[gnu::always_inline]] inline void start_line(std::size_t j, SnoopResult* snoop, WritebackList* wb) {
  static constexpr SnoopResult kNone{};
  wb[j].count = 0;
  std::memcpy(&snoop[j], &kNone, sizeof(SnoopResult));
}
// The levels of eight lines, none Shared, a byte each (little-endian):
// `steps` their write_access_lines kinds (0: a hit in L1D, 1: a miss), bit i
// of `l2` whether L2 holds line i. A hit's level is 1, a miss's 2 when L2
// holds the line, else 4 (the LLC not asked).
[[gnu::always_inline]] inline std::uint64_t eight_levels(std::uint64_t steps, unsigned l2) {
  constexpr std::uint64_t ones = 0x0101010101010101u, low7 = 0x7f7f7f7f7f7f7f7fu;
  // Byte i of l2 x ones is l2; its bit i kept (byte i is 0 or 1 << i), then 0 or 1.
  const std::uint64_t held = ((((l2 * ones) & 0x8040201008040201u) + low7) >> 7) & ones;
  return (steps ^ ones) | ((steps & held) << 1) | ((steps & ~held) << 2);
}
}  // namespace

template <bool Sse41>
std::uint64_t CacheHierarchy::claim_batch_body(CpuId cpu, PhysAddr first, std::size_t n, bool all,
                                               CoherenceDirectory::Claim* out, std::uint64_t& mine) {
  // An evicted line's CPUs that hold nothing of its region (private_clean)
  // are dropped at the claim: the counts only fall until the
  // back-invalidations (no private cache fills before the L1D installs).
  const std::uint32_t* const counts = private_counts_.data();
  const std::size_t regions = private_n_;
  const unsigned region_shift = private_shift_;
  const std::uint64_t own_bit = std::uint64_t{1} << cpu.value();
  const std::uint32_t* const own = counts + static_cast<std::size_t>(cpu.value()) * regions;
  auto held = [counts, regions, region_shift, own_bit, own](PhysAddr line, std::uint64_t cpus) {
    const std::size_t r = static_cast<std::size_t>(line >> region_shift);
    if (r >= regions) return cpus;
    if (cpus == own_bit) return own[r] != 0 ? cpus : 0;  // (a clear's own earlier lines)
    std::uint64_t h = 0;
    for (std::uint64_t m = cpus; m != 0; m &= m - 1) {
      const int c = __builtin_ctzll(m);
      if (counts[static_cast<std::size_t>(c) * regions + r] != 0) h |= std::uint64_t{1} << c;
    }
    return h;
  };
  // (bulk_.step's kDone is 0: not claimed.)
  return dir_->claim_lines<Sse41>(first, n, cpu.value(), bulk_.step.data(), all, held, out, mine);
}

std::uint64_t CacheHierarchy::claim_batch(CpuId cpu, PhysAddr first, std::size_t n, bool all,
                                          CoherenceDirectory::Claim* out, std::uint64_t& mine) {
  return claim_batch_body<false>(cpu, first, n, all, out, mine);
}

#if defined(__x86_64__)
__attribute__((flatten)) std::uint64_t CacheHierarchy::claim_batch_sse41(CpuId cpu, PhysAddr first, std::size_t n,
                                                                         bool all, CoherenceDirectory::Claim* out,
                                                                         std::uint64_t& mine) {
  return claim_batch_body<true>(cpu, first, n, all, out, mine);
}
#endif

void CacheHierarchy::write_full_lines_body(CpuId cpu, PhysAddr first, std::size_t n, bool llc_level,
                                           std::uint8_t* level, SnoopResult* snoop_out, WritebackList* wb) {
  const auto c = static_cast<std::size_t>(cpu.value());
  CacheArray& l1 = *l1_[c];
  CacheArray& l2 = *l2_[c];
  const int socket = cpu_socket_[c];
  CacheArray& llc = *llc_[static_cast<std::size_t>(socket)];
  // What is left of each line after its L1D look-up: nothing, or its install
  // (after a miss of an absent line or of a Shared one).
  enum : std::uint8_t { kDone, kMiss, kShared };
  std::array<std::uint8_t, kMaxBulkLines>& step = bulk_.step;
  std::array<CacheArray::FillSlot, kMaxBulkLines>& slot = bulk_.slot;
  std::array<PhysAddr, kMaxBulkLines>& victim = bulk_.victim;
  auto line_of = [first](std::size_t j) { return first + j * kCacheLineBytes; };
  // L1D: a hit (or a Shared line's upgrade counted) per line, the fill slot
  // of a miss (CacheArray::write_access_lines numbers them as step's kinds).
  static_assert(kDone == 0 && kMiss == 1 && kShared == 2);
  l1.write_access_lines(first, n, slot.data(), step.data());
  // Every line's write-backs and snoop result cleared: before the snoops
  // when a line has one (or a back-invalidation), else in the last pass
  // below (one pass over the lines less).
  bool cleared = false;
  auto clear = [&] {
    for (std::size_t j = 0; j < n; ++j) start_line(j, snoop_out, wb);
    cleared = true;
  };
  // The lines L2 may hold: those the snoop filter tracked for this CPU
  // before their claims (it tracks every L1D and L2 copy; nothing fills L2
  // before the look-up below), every line without the per-line claims.
  std::uint64_t maybe_l2 = ~std::uint64_t{0};
  // The snoop filter and the other caches' copies (a Modified copy elsewhere
  // only has to be invalidated: its data is overwritten).
  if (dir_) {
    // Another socket's LLC that holds nothing of the batch's regions now will
    // hold none of its lines during the batch (only this socket fills its
    // lines; a back-invalidated line written into another LLC is of another
    // set, so not of the batch): its look-ups are left out for the batch.
    bool other_llcs = false;
    for (std::size_t t = 0; t < llc_.size() && !other_llcs; ++t)
      other_llcs = static_cast<int>(t) != socket && !llc_clean(static_cast<int>(t), line_of(0), line_of(n - 1));
    auto finish_snoop = [&](std::size_t j) {
      if (snoop_out[j].kind == SnoopResult::Kind::Hitm) snoop_out[j].kind = SnoopResult::Kind::Invalidate;
    };
    if (dir_->cpu_words() == 1) {
      // Up to 64 CPUs: the batch's claims first, in one call (track()'s
      // claim_for per line reloaded the directory's geometry and clock, ~100
      // host instructions a line), then each line's back-invalidations and
      // snoop in line order. Exact: the lines' entries are in n different sets
      // (n divides the directory's set count) and what follows a claim touches
      // no set of the directory, only the CPU bits of the line's own entry.
      std::array<CoherenceDirectory::Claim, kMaxBulkLines> claims;
#if defined(__x86_64__)
      std::uint64_t work = sse41_in_use && !baseline_passes_
                               ? claim_batch_sse41(cpu, first, n, other_llcs, claims.data(), maybe_l2)
                               : claim_batch(cpu, first, n, other_llcs, claims.data(), maybe_l2);
#else
      std::uint64_t work = claim_batch(cpu, first, n, other_llcs, claims.data(), maybe_l2);
#endif
      // Without another LLC to ask, only the lines with work (no line of a
      // clear of a page no other cache holds) are visited.
      if (other_llcs) work = n == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << n) - 1;
      if (work != 0) clear();
      for (std::uint64_t m = work; m != 0; m &= m - 1) {
        const auto j = static_cast<std::size_t>(__builtin_ctzll(m));
        if (step[j] == kDone) continue;
        const CoherenceDirectory::Claim& c = claims[j];
        back_invalidate_cpus(c.evicted, c.evicted_cpus, wb[j]);  // as track() does
        // A line no other CPU is tracked for, with no other LLC to ask: the snoop has nothing more to do.
        if (other_llcs || c.others != 0) snoop_tracked(cpu, line_of(j), c.entry, true, wb[j], snoop_out[j], other_llcs);
        finish_snoop(j);
      }
    } else {
      clear();
      for (std::size_t j = 0; j < n; ++j) {
        if (step[j] == kDone) continue;
        bool others;
        const std::size_t entry = track(cpu, line_of(j), wb[j], &others);
        if (other_llcs || others) snoop_tracked(cpu, line_of(j), entry, true, wb[j], snoop_out[j], other_llcs);
        finish_snoop(j);
      }
    }
  }
  // The level that held a copy (after the upgrades of Shared L1D lines: with
  // coherence the other copies are gone now); the L1D installs; the dirty
  // victims in line order (`from`: each one's line).
  // (The upgrades come after the other lines' snoops and back-invalidations:
  // a line's upgrade changes only its own L1D line's state, which they do
  // not read: their L1D lines are in other sets or of other CPUs.)
  // When L1D and L2 count their lines together (the CPU's private counts), a
  // dirty L1D victim keeps its count for L2, which then counts in only what it
  // does not already hold (nothing reads the counts between the two passes).
  const bool keep_counts = l1.shares_counts_with(l2);
  std::array<std::uint8_t, kMaxBulkLines>& from = bulk_.from;
  // (The look-ups before the installs: an L1D install changes neither L2 nor
  // the LLC. L2's for the whole batch in one call: contains() of each line
  // cost ~50 host instructions, the geometry reloaded and the set split again.
  // None when the snoop filter says L2 holds no line of the batch: a clear of
  // a fresh page, ~23 host instructions a line.)
  const std::uint64_t in_l2 = maybe_l2 != 0 ? l2.contains_lines(first, n) : 0;
  const bool upgrades = dir_ != nullptr;
  // (A copy of the pass for each case: the tests out of the loop.)
  auto last_pass = [&]<bool Cleared, bool LlcLevel>() {
    if constexpr (!Cleared)
      for (std::size_t j = 0; j < n; ++j) start_line(j, snoop_out, wb);
    auto one = [&](std::size_t j) {
      std::uint8_t st = step[j];
      if (upgrades && st == kShared) [[unlikely]] {
        l1.set_state(line_of(j), LineState::Modified);
        step[j] = st = kDone;
      }
      const auto in = static_cast<std::uint8_t>((in_l2 >> j) & 1);
      if constexpr (LlcLevel)
        level[j] = st == kDone ? 1 : (in ? 2 : (llc.contains(line_of(j)) ? 3 : 4));
      else
        level[j] = st == kDone ? 1 : static_cast<std::uint8_t>(4 - 2 * in);
    };
    std::size_t j = 0;
    if constexpr (!LlcLevel && std::endian::native == std::endian::little) {
      // Eight lines at a time when none of them is Shared (no upgrade).
      for (; j + 8 <= n; j += 8) {
        std::uint64_t steps;
        std::memcpy(&steps, step.data() + j, sizeof steps);
        if ((steps & 0x0202020202020202u) != 0) [[unlikely]] {
          for (std::size_t i = j; i < j + 8; ++i) one(i);
          continue;
        }
        const std::uint64_t levels = eight_levels(steps, static_cast<unsigned>((in_l2 >> j) & 0xff));
        std::memcpy(level + j, &levels, sizeof levels);
      }
    }
    for (; j < n; ++j) one(j);
  };
  if (cleared)
    llc_level ? last_pass.template operator()<true, true>() : last_pass.template operator()<true, false>();
  else
    llc_level ? last_pass.template operator()<false, true>() : last_pass.template operator()<false, false>();
  const std::size_t k =
      l1.fill_missed_lines(first, n, slot.data(), step.data(), !keep_counts, victim.data(), from.data());
  // The L1D victims into L2 (not inclusive of L1: allocated if absent), then
  // L2's victims into the LLC (its victims, dirty, towards memory); each
  // level's write-backs in one call, in line order.
  const std::size_t m = l2.write_back_or_fill_lines(victim.data(), from.data(), k, keep_counts);
  if (params_.llc.inclusive) {
    std::array<Eviction, kMaxBulkLines>& out = bulk_.out;
    llc.write_back_or_fill_lines(victim.data(), m, out.data());
    for (std::size_t i = 0; i < m; ++i) handle_llc_victim(socket, out[i], wb[from[i]]);
  } else {
    // handle_llc_victim's non-inclusive case: only the dirty victims go on,
    // the LLC's pass keeping them (and their lines' from[]) alone.
    const std::size_t d = llc.write_back_or_fill_lines(victim.data(), from.data(), m, false);
    if (cleared) {
      for (std::size_t i = 0; i < d; ++i) wb[from[i]].push(victim[i]);
    } else {
      // No line pushed a write-back before (no snoop, no back-invalidation),
      // and a line pushes out at most one LLC victim (one L1D victim, its one
      // L2 victim, that one's LLC victim): each list takes its first.
      for (std::size_t i = 0; i < d; ++i) {
        WritebackList& w = wb[from[i]];
        assert(w.count == 0);
        w.addr[0] = victim[i];
        w.count = 1;
      }
    }
  }
}

}  // namespace numasim::hw
