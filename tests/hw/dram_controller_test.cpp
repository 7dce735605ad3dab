// DRAM controller: address decoding, exact row hit / closed / conflict latencies
// from the DDR formulas, back-to-back constraints (tCCD, tRRD, tRAS+tRP, tFAW),
// refresh, burst-limited peak bandwidth of a saturated channel, latency rising
// with offered load, statistics and configuration.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "common/config.h"
#include "hw/dram_controller.h"
#include "tests/hw/dram_line_path.h"

namespace numasim::hw {
namespace {

// One channel, one rank, no refresh, no hashing, line interleave: exact timing
// checks. Line i is bank group i % 4; lines i and i + 4 share a row of one bank.
DramParams one_channel() {
  DramParams p;
  p.interleave = Bytes(64);
  p.channels = 1;
  p.ranks = 1;
  p.refresh = false;
  p.xor_hash = false;
  return p;
}

Picoseconds tck(const DramParams& p, std::uint32_t n) { return p.to_ps(n); }

TEST(DramController, DefaultMappingRotatesChannelsThenBankGroups) {
  DramParams p;  // 6 channels, 2 ranks, 4x4 banks, 8 KiB rows, 256 B interleave
  DramController mc(p, 0, "mc");
  for (std::uint64_t line = 0; line < 4; ++line) {  // one 256 B granule: one row
    DramCoord c = mc.decode(line * 64);
    EXPECT_EQ(c.channel, 0u);
    EXPECT_EQ(c.column, line);
    EXPECT_EQ(c.bank_group, 0u);
  }
  for (std::uint64_t g = 0; g < 6; ++g) EXPECT_EQ(mc.decode(g * 256).channel, g);
  EXPECT_EQ(mc.decode(24 * 64).bank_group, 1u);  // after 6 channels x 4 lines
  EXPECT_EQ(mc.decode(24 * 64).channel, 0u);
  DramCoord c = mc.decode(96 * 64);  // after 4 bank groups: next granule of the row
  EXPECT_EQ(c.bank_group, 0u);
  EXPECT_EQ(c.column, 4u);
  EXPECT_EQ(c.bank, 0u);
  c = mc.decode(3072 * 64);  // past 32 granules x 4 groups x 6 channels
  EXPECT_EQ(c.bank, 1u);
  EXPECT_EQ(c.column, 0u);
  // Next row: 2 ranks x 4 banks later; the XOR hash moves it to another bank.
  c = mc.decode(24576ull * 64);
  EXPECT_EQ(c.row, 1u);
  EXPECT_EQ(c.rank, 0u);
  EXPECT_EQ(c.bank, 1u);
  // A node's base is subtracted first.
  DramController mc1(p, 1ull << 30, "mc1");
  EXPECT_EQ(mc1.decode((1ull << 30) + 256).channel, 1u);
}

TEST(DramController, IdleLatenciesFollowTheDdrFormulas) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  const Picoseconds fe = p.frontend_latency;
  // Cold bank: ACT, then READ after tRCD, data after CL, burst.
  DramResult r = mc.access(0, false, Picoseconds(0));
  EXPECT_EQ(r.outcome, RowOutcome::Closed);
  EXPECT_EQ(r.done, fe + tck(p, p.trcd + p.cl + p.tburst));
  EXPECT_EQ(r.service, r.done);
  EXPECT_EQ(r.queueing, Picoseconds(0));
  // Same row, another column (line 4 is the next column of bank group 0): row hit.
  const Picoseconds t1 = 1_us;
  r = mc.access(4 * 64, false, t1);
  EXPECT_EQ(r.outcome, RowOutcome::Hit);
  EXPECT_EQ(r.done - t1, fe + tck(p, p.cl + p.tburst));
  // Same bank, another row (2048 lines = one row of all 16 banks later): conflict.
  const Picoseconds t2 = 2_us;
  r = mc.access(2048 * 64, false, t2);
  EXPECT_EQ(r.outcome, RowOutcome::Conflict);
  EXPECT_EQ(r.done - t2, fe + tck(p, p.trp + p.trcd + p.cl + p.tburst));
  EXPECT_EQ(r.done - t2, mc.idle_latency(RowOutcome::Conflict));
  // A write uses CWL.
  const Picoseconds t3 = 3_us;
  r = mc.access(2048 * 64 + 4 * 64, true, t3);
  EXPECT_EQ(r.outcome, RowOutcome::Hit);
  EXPECT_EQ(r.done - t3, fe + tck(p, p.cwl + p.tburst));
  EXPECT_EQ(mc.stats().row_hits, 2u);
  EXPECT_EQ(mc.stats().row_closed, 1u);
  EXPECT_EQ(mc.stats().row_conflicts, 1u);
  EXPECT_EQ(mc.stats().writes, 1u);
}

TEST(DramController, ClosedPagePolicyNeverHitsTheRowBuffer) {
  DramParams p = one_channel();
  p.page_policy = PagePolicy::Closed;
  DramController mc(p, 0, "mc");
  mc.access(0, false, Picoseconds(0));
  DramResult r = mc.access(4 * 64, false, 1_us);
  EXPECT_EQ(r.outcome, RowOutcome::Closed);
  EXPECT_EQ(r.done - 1_us, p.frontend_latency + tck(p, p.trcd + p.cl + p.tburst));
  r = mc.access(2048 * 64, false, 2_us);  // other row: still just an activate
  EXPECT_EQ(r.outcome, RowOutcome::Closed);
}

TEST(DramController, BackToBackRowHitsInOneBankGroupAreTccdLApart) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  DramResult a = mc.access(0, false, Picoseconds(0));
  DramResult b = mc.access(4 * 64, false, Picoseconds(0));  // same bank, same row
  EXPECT_EQ(b.outcome, RowOutcome::Hit);
  // tCCD_L (7) rounded up to whole bursts (8), see DramController.
  EXPECT_EQ(b.done - a.done, tck(p, (p.tccd_l + p.tburst - 1) / p.tburst * p.tburst));
  EXPECT_GE(b.done - a.done, tck(p, p.tccd_l));
  EXPECT_EQ(b.queueing, b.done - mc.idle_latency(RowOutcome::Hit));
}

TEST(DramController, AccessesToOtherBankGroupsStreamAtBurstRate) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  DramResult a = mc.access(0, false, Picoseconds(0));       // bank group 0
  DramResult b = mc.access(64, false, Picoseconds(0));      // bank group 1: tRRD_S, tCCD_S
  DramResult c = mc.access(128, false, Picoseconds(0));     // bank group 2
  EXPECT_EQ(b.done - a.done, tck(p, p.tburst));
  EXPECT_EQ(c.done - b.done, tck(p, p.tburst));
}

TEST(DramController, ActivatesInOneBankGroupAreTrrdLApart) {
  DramParams p = one_channel();
  p.tccd_l = p.tccd_s;  // isolate tRRD_L
  DramController mc(p, 0, "mc");
  DramResult a = mc.access(0, false, Picoseconds(0));
  DramResult b = mc.access(512 * 64, false, Picoseconds(0));  // bank 1 of bank group 0
  EXPECT_EQ(b.outcome, RowOutcome::Closed);
  EXPECT_EQ(b.done - a.done, tck(p, p.trrd_l));
}

TEST(DramController, ConflictRightAfterActivateWaitsForTrasThenTrp) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  mc.access(0, false, Picoseconds(0));
  DramResult b = mc.access(2048 * 64, false, Picoseconds(0));  // same bank, other row
  EXPECT_EQ(b.outcome, RowOutcome::Conflict);
  // PRE no earlier than ACT + tRAS (tRCD + tRTP is shorter), ACT after tRP.
  ASSERT_LT(p.trcd + p.trtp, p.tras);
  EXPECT_EQ(b.done, p.frontend_latency + tck(p, p.tras + p.trp + p.trcd + p.cl + p.tburst));
  EXPECT_EQ(mc.stats().precharges, 1u);
  EXPECT_EQ(mc.stats().activates, 2u);
}

TEST(DramController, FifthActivateWaitsForTheFourActivateWindow) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  // Four bank groups, bank 0 (ACTs tRRD_S apart), then bank 1 of group 0.
  for (std::uint64_t line : {0ull, 1ull, 2ull, 3ull}) mc.access(line * 64, false, Picoseconds(0));
  DramResult r = mc.access(512 * 64, false, Picoseconds(0));
  EXPECT_EQ(r.outcome, RowOutcome::Closed);
  ASSERT_GT(p.tfaw, 4 * p.trrd_s);
  EXPECT_EQ(r.done, p.frontend_latency + tck(p, p.tfaw + p.trcd + p.cl + p.tburst));
}

// The window's edges (earliest_activate decides from the fourth latest
// activate alone when it lies at least tFAW before): a fifth activate exactly
// tFAW after the first goes at once, one tCK sooner waits for the window.
TEST(DramController, FifthActivateAtTheWindowsEdge) {
  const DramParams p = one_channel();
  for (std::uint32_t early : {0u, 1u}) {
    DramController mc(p, 0, "mc");
    for (std::uint64_t line : {0ull, 1ull, 2ull, 3ull}) mc.access(line * 64, false, Picoseconds(0));
    const Picoseconds arrival = tck(p, p.tfaw - early);  // the first ACT was at the front end's latency
    const DramResult r = mc.access(512 * 64, false, arrival);
    EXPECT_EQ(r.outcome, RowOutcome::Closed);
    EXPECT_EQ(r.done, p.frontend_latency + tck(p, p.tfaw + p.trcd + p.cl + p.tburst)) << "early " << early;
  }
}

// An ordered calendar (a rank's reads, tag 0, and writes, tag 1): slots of
// one direction are 0 apart, a write waits 10 ps after a read, a read 20 ps
// after a write (earliest_search's shortcut over one direction's slots).
// clear_at(t) (the scheduler's test before its column search) holds only where
// earliest(t) is t for every tag and visibility, and it holds after the
// latest reservation's reach; random reservations, some displaced.
TEST(SlotCalendar, ClearAtImpliesEarliestIsT) {
  SlotCalendar cal(Picoseconds(3000), Picoseconds(750), Picoseconds(1500), 64);
  std::mt19937_64 rng(11);
  std::uint64_t now = 0;
  Picoseconds latest(0);
  int clear = 0;
  for (int i = 0; i < 20000; ++i) {
    now += rng() % 12000;  // a calendar loaded to about two thirds
    const Picoseconds t(now > 20000 ? now - rng() % 20000 : now);
    if (cal.clear_at(t)) {
      ++clear;
      for (int tag = 0; tag < 3; ++tag) {
        ASSERT_EQ(cal.earliest(t, tag), t) << "op " << i;
        ASSERT_EQ(cal.earliest(t, tag, Picoseconds(now / 2)), t) << "op " << i;
      }
    }
    const Picoseconds s = cal.earliest(t, static_cast<int>(rng() % 3));
    latest = std::max(latest, s);
    cal.reserve_displacing(s, static_cast<std::int64_t>(rng() % 3),
                           Picoseconds(now - rng() % std::min<std::uint64_t>(now + 1, 5000)));
    ASSERT_TRUE(cal.clear_at(latest + Picoseconds(1'000'000)));  // beyond every reservation (moved ones too)
  }
  EXPECT_GT(clear, 1000);  // both answers were exercised
  EXPECT_LT(clear, 19000);
}

TEST(SlotCalendar, OrderedCalendarOnlyTheOtherDirectionMovesASlot) {
  SlotCalendar cal = SlotCalendar::ordered({Picoseconds(0), Picoseconds(10), Picoseconds(20), Picoseconds(0)}, 64);
  for (std::uint64_t t = 100; t < 106; ++t) cal.reserve(Picoseconds(t), 1);
  EXPECT_EQ(cal.earliest(Picoseconds(103), 1), Picoseconds(103));  // among writes
  EXPECT_EQ(cal.earliest(Picoseconds(103), 0), Picoseconds(125));  // a read after the last write
  cal.reserve(Picoseconds(200), 0);
  EXPECT_EQ(cal.earliest(Picoseconds(205), 1), Picoseconds(210));  // a write after the read
  EXPECT_EQ(cal.earliest(Picoseconds(195), 1), Picoseconds(210));  // too close before it too
  EXPECT_EQ(cal.earliest(Picoseconds(205), 0), Picoseconds(205));  // another read
  // A read behind a dozen writes in reach: found whatever the writes' number.
  cal.reserve(Picoseconds(300), 0);
  for (std::uint64_t t = 301; t < 313; ++t) cal.reserve(Picoseconds(t), 1);
  EXPECT_EQ(cal.earliest(Picoseconds(305), 1), Picoseconds(310));
  EXPECT_EQ(cal.earliest(Picoseconds(311), 1), Picoseconds(311));
}

TEST(SlotCalendar, AtMostFromCountsTheLatestReservations) {
  SlotCalendar cal(Picoseconds(1000), Picoseconds(0), Picoseconds(0), 64);
  EXPECT_TRUE(cal.at_most_from(0, Picoseconds(0)));                               // an empty calendar
  for (std::uint64_t k = 1; k <= 5; ++k) cal.reserve(Picoseconds(k * 10000), 0);  // 10 .. 50 ns
  EXPECT_TRUE(cal.at_most_from(3, Picoseconds(20001)));                           // 30, 40, 50 ns
  EXPECT_FALSE(cal.at_most_from(3, Picoseconds(20000)));                          // 20 ns too
  EXPECT_FALSE(cal.at_most_from(0, Picoseconds(50000)));
  EXPECT_TRUE(cal.at_most_from(0, Picoseconds(50001)));
  EXPECT_FALSE(cal.at_most_from(4, Picoseconds(0)));
  EXPECT_TRUE(cal.at_most_from(5, Picoseconds(0)));  // no more than there are
}

TEST(DramController, EarlierStampedRequestDoesNotQueueBehindTheBanksFuture) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  // A core that ran ahead touches bank 0 at 10 us; another core's request to the
  // same bank, stamped 0, is timed from 0 against the shared calendars only.
  mc.access(0, false, 10_us);
  DramResult r = mc.access(2048 * 64, false, Picoseconds(0));  // other row of bank 0
  EXPECT_EQ(r.outcome, RowOutcome::Conflict);
  EXPECT_EQ(r.done, mc.idle_latency(RowOutcome::Conflict));
  EXPECT_EQ(mc.stats().late_requests, 1u);
  // The bank still has the row the in-order request opened.
  EXPECT_EQ(mc.access(4 * 64, false, 20_us).outcome, RowOutcome::Hit);
}

TEST(SlotCalendar, EarlierStampedReservationDisplacesLaterStampedOnes) {
  SlotCalendar cal(Picoseconds(3000), Picoseconds(0), Picoseconds(0), 64);
  // A core ahead reserves two slots back to back, stamped 10 ns.
  cal.reserve(Picoseconds(10000), 0, Picoseconds(10000));
  cal.reserve(Picoseconds(13000), 0, Picoseconds(10000));
  // A request stamped 5 ns sees the calendar as time order would have shown it.
  EXPECT_EQ(cal.earliest(Picoseconds(10000), 0, Picoseconds(5000)), Picoseconds(10000));
  EXPECT_EQ(cal.earliest(Picoseconds(10000), 0), Picoseconds(16000));
  // It takes the slot; the later-stamped one there moves to the next free slot (6 ns on).
  SlotCalendar::Moves mv;
  EXPECT_EQ(cal.reserve_displacing(Picoseconds(10000), 0, Picoseconds(5000), &mv), 6000u);
  // The move across two slots stands for two one-slot moves in time order
  // (the displaced slot behind the new one, the next behind it), of requests
  // stamped 10 ns.
  EXPECT_EQ(mv.slots, 2u);
  EXPECT_EQ(mv.first_stamp, Picoseconds(10000));
  // Requests stamped after the core ahead find three slots back to back...
  EXPECT_EQ(cal.earliest(Picoseconds(10000), 0), Picoseconds(19000));
  // ...one stamped between the two finds only the earlier-stamped slot.
  EXPECT_EQ(cal.earliest(Picoseconds(10000), 0, Picoseconds(7000)), Picoseconds(13000));
  Picoseconds s[8];
  ASSERT_EQ(cal.starts_between(Picoseconds(0), Picoseconds(100000), s, 8), 3u);
  EXPECT_EQ(s[0], Picoseconds(10000));
  EXPECT_EQ(s[1], Picoseconds(13000));
  EXPECT_EQ(s[2], Picoseconds(16000));
  // Nothing stamped later: nothing moves.
  EXPECT_EQ(cal.reserve_displacing(Picoseconds(19000), 0, Picoseconds(20000)), 0u);
}

TEST(DramController, EarlierStampedRequestTakesTheBusSlotOfALaterStampedOne) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  // Two closed banks in different bank groups; the later-stamped request comes first.
  const Picoseconds t0 = 1_us;
  const DramResult x = mc.access(0, false, t0);
  EXPECT_EQ(x.done - t0, mc.idle_latency(RowOutcome::Closed));
  // Stamped 1 ns earlier, its burst would overlap x's: in time order it goes
  // first (unloaded latency, nothing charged) and x's burst moves behind it
  // (2 ns on). x has its answer already: its 2 ns are owed on the channel.
  const Picoseconds t1 = t0 - 1_ns;
  const DramResult y = mc.access(64, false, t1);
  EXPECT_EQ(y.done - t1, mc.idle_latency(RowOutcome::Closed));
  // Another late request (stamped before the channel's latest, far from the
  // others) does not pay it either.
  const Picoseconds t3 = t1 - 500_ns;
  EXPECT_EQ(mc.access(64 * 64 + 3 * 64, false, t3).done - t3, mc.idle_latency(RowOutcome::Closed));
  // The next request at the channel's front (stamped after every other: the
  // core that ran ahead, next quantum) pays x's displacement, once: its burst
  // comes after x's moved burst, and 2 ns on top.
  DramController ref(p, 0, "ref");  // the same requests without the late ones
  ref.access(0, false, t0);
  const DramResult z0 = ref.access(2 * 64, false, t0 + Picoseconds(1));
  const DramResult z = mc.access(2 * 64, false, t0 + Picoseconds(1));
  EXPECT_GE(z.done, x.done + 2_ns + tck(p, p.tburst));
  EXPECT_GE(z.done - z0.done, 2_ns + 2_ns);
  const Picoseconds t2 = t0 + 100_ns;
  // Paid once: a later request at the front pays nothing more.
  EXPECT_EQ(mc.access(10 * 64, false, t2).done - ref.access(10 * 64, false, t2).done,
            Picoseconds(0));
}

TEST(DramController, LateRequestPaysTheBankAsItWasAtItsTime) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  const Picoseconds fe = p.frontend_latency;
  mc.access(0, false, Picoseconds(0));  // row 0 of bank 0 opened at fe
  mc.access(4 * 64, false, 10_us);      // a core ahead: the bank's latest request
  // Stamped 5 ns, to another row of bank 0: at its time row 0 had just been
  // opened, so its precharge waits for tRAS after that activate (before, a
  // late request ignored the bank's timing and paid an idle conflict).
  const DramResult c = mc.access(2048 * 64, false, 5_ns);
  EXPECT_EQ(c.outcome, RowOutcome::Conflict);
  EXPECT_EQ(c.done, fe + tck(p, p.tras + p.trp + p.trcd + p.cl + p.tburst));
  EXPECT_EQ(mc.stats().late_requests, 1u);
}

TEST(DramController, LateRequestsToTheRowTheyOpenedAreRowHits) {
  DramParams p = one_channel();
  DramController mc(p, 0, "mc");
  mc.access(0, false, 10_us);  // a core ahead owns bank 0 (row 0)
  // A core behind by 10 us reads a granule of another row of bank 0: its first
  // line opens that row (a conflict with the bank's row), the next lines of
  // the row are hits from the row it opened, one tCCD_L apart in the bank
  // group, not one activate each.
  const Picoseconds t0(100'000);
  DramResult a = mc.access(2048 * 64, false, t0);
  EXPECT_EQ(a.outcome, RowOutcome::Conflict);
  EXPECT_EQ(a.done - t0, mc.idle_latency(RowOutcome::Conflict));
  DramResult b = mc.access(2048 * 64 + 4 * 64, false, t0 + Picoseconds(1000));
  EXPECT_EQ(b.outcome, RowOutcome::Hit);
  EXPECT_EQ(mc.stats().activates, 2u);
  EXPECT_EQ(mc.stats().late_requests, 2u);
  // The column command waits for the row's activate + tRCD and the bank
  // group's column spacing after the first line.
  EXPECT_EQ(b.done, a.done + tck(p, 8));
  // Its row stays usable for late hits about tRC after its last column command;
  // much later, a late request to it activates again.
  DramResult c = mc.access(2048 * 64 + 8 * 64, false, Picoseconds(2'000'000));
  EXPECT_EQ(c.outcome, RowOutcome::Conflict);
  // A late request to the row the bank has open (opened before its stamp) is a hit.
  EXPECT_EQ(mc.access(4 * 64, false, 9_us + Picoseconds(999'000) + Picoseconds(30'000)).outcome, RowOutcome::Hit);
  // The bank's in-order state still belongs to the core ahead: row 0 open.
  EXPECT_EQ(mc.access(12 * 64, false, 20_us).outcome, RowOutcome::Hit);
}

TEST(DramController, RefreshDelaysAnAccessAndClosesTheRow) {
  DramParams p = one_channel();
  p.refresh = true;
  DramController mc(p, 0, "mc");
  // With one rank, its refresh windows are [tREFI/2 + k tREFI, ... + tRFC).
  const Picoseconds off = p.trefi / 2;
  EXPECT_EQ(mc.access(0, false, Picoseconds(0)).done, p.frontend_latency + tck(p, p.trcd + p.cl + p.tburst));
  DramResult r = mc.access(64, false, off + 100_ns);
  EXPECT_EQ(r.done, off + p.trfc + tck(p, p.trcd + p.cl + p.tburst));
  EXPECT_EQ(mc.stats().refresh_delays, 1u);
  // The row stays open until the next refresh...
  r = mc.access(5 * 64, false, off + 1_us);
  EXPECT_EQ(r.outcome, RowOutcome::Hit);
  // ...which closes it.
  r = mc.access(9 * 64, false, off + p.trefi + p.trfc + 1_us);
  EXPECT_EQ(r.outcome, RowOutcome::Closed);
}

// `cores` cores each keep `window` reads of their own sequential buffer in
// flight (a new read `round_trip` after one returns: the path outside the
// controller) until `end`. With `quantum` 0 the controller sees the reads in
// time order; otherwise each core runs a whole quantum before the next runs
// the same one (temporal decoupling), so a later core's reads come stamped
// before an earlier core's. Core k's buffer starts at line k * stride (512:
// in bank k of a one-rank, line-interleaved channel, where a bank's row holds
// 512 lines: 4 bank groups x 128 columns, so the streams move from bank to
// bank in step without meeting). Returns the reads issued.
std::uint64_t closed_loop_reads(const DramParams& p, int cores, int window, Picoseconds quantum, Picoseconds end,
                                std::uint64_t stride = 512, Picoseconds round_trip = Picoseconds(0)) {
  DramController mc(p, 0, "mc");
  std::vector<std::vector<Picoseconds>> slot_free(cores, std::vector<Picoseconds>(window));  // per read slot
  std::vector<std::uint64_t> next_line(cores);
  for (int core = 0; core < cores; ++core) next_line[core] = static_cast<std::uint64_t>(core) * stride;
  std::uint64_t reads = 0;
  auto earliest_slot = [&](int core) { return std::min_element(slot_free[core].begin(), slot_free[core].end()); };
  auto issue = [&](int core) {
    Picoseconds& slot = *earliest_slot(core);
    slot = mc.access(next_line[core]++ * 64, false, slot).done + round_trip;
    ++reads;
  };
  if (quantum.value() == 0) {
    for (;;) {
      int first = 0;
      for (int core = 1; core < cores; ++core)
        if (*earliest_slot(core) < *earliest_slot(first)) first = core;
      if (*earliest_slot(first) >= end) break;
      issue(first);
    }
  } else {
    for (Picoseconds from(0); from < end; from += quantum) {
      const Picoseconds to = std::min(from + quantum, end);
      for (int core = 0; core < cores; ++core)
        while (*earliest_slot(core) < to) issue(core);
    }
  }
  return reads;
}

TEST(DramController, RefreshCostsTheSameBandwidthOutOfTimeOrderWithinAQuantum) {
  // Issue 16 item 6: fed a quantum at a time, a later core's reads displaced
  // the earlier cores' bursts into the rank's refresh window (bus slots no
  // read in time order can take), so refresh cost less bandwidth than in
  // time order (without the fix, 3 cores: 4.0% of the reads lost instead of
  // 9.1%; 4 cores: 2.9%).
  DramParams p = one_channel();
  p.trefi = 3900_ns;  // DDR5's tREFI1: a window of tRFC 350 ns is 9% of the time
  const double duty = static_cast<double>(p.trfc.value()) / static_cast<double>(p.trefi.value());
  const Picoseconds end = 80_us;
  for (int cores : {3, 4}) {
    double reads[2][2];  // [refresh][decoupled]
    for (bool refresh : {false, true}) {
      p.refresh = refresh;
      for (bool decoupled : {false, true})
        reads[refresh][decoupled] =
            static_cast<double>(closed_loop_reads(p, cores, 32, decoupled ? 1_us : Picoseconds(0), end));
    }
    const double cost_in_order = reads[1][0] / reads[0][0], cost_decoupled = reads[1][1] / reads[0][1];
    // The streams are bus-bound: in time order refresh costs about its duty cycle.
    EXPECT_LT(cost_in_order, 1 - 0.9 * duty) << cores << " cores";
    EXPECT_NEAR(cost_decoupled, cost_in_order, 0.02) << cores << " cores";
  }
}

// Issue 16 item 6, a known gap held in a band: 56 cores (a Sapphire Rapids
// socket) streaming on 8 DDR5-4800 DIMM channels without refresh, each with
// 16 reads in flight and 50 ns outside the controller, get 3.6% less
// bandwidth fed a 1 us quantum at a time than in time order (the machine's
// bandwidth-matrix: -4.2% on sapphire-rapids-2s with refresh = "none").
// Measured, not yet modelled away: the first cores of a quantum are timed
// against calendars the later cores have not filled yet, their
// later-stamped reservations are displaced towards the quantum's end, and
// the next quantum opens behind that backlog: by arrival 100 ns bins of the
// quantum, mean latency 188, 173, then 133-137 ns (time order 137 in every
// bin) and arrivals 392 and 339 per bin against 479. The guard fails once
// the gap is within item 6's 2%: then make it the plain assertion.
TEST(DramController, QuantumCostsSaturatedStreamsBandwidthKnownGap) {
  DramParams p = DramParams::ddr5_4800(8);
  p.refresh = false;
  const Picoseconds end = 100_us;
  const std::uint64_t stride = (16ull << 20) / 64;  // a 16 MiB buffer per core
  const double in_order = static_cast<double>(closed_loop_reads(p, 56, 16, Picoseconds(0), end, stride, 50_ns));
  const double decoupled = static_cast<double>(closed_loop_reads(p, 56, 16, 1_us, end, stride, 50_ns));
  const double err = decoupled / in_order - 1;
  std::printf("56 streams on 16 DDR5 subchannels: 1 us quantum %+.1f%% against time order\n", 100 * err);
  EXPECT_GT(err, -0.06);
  EXPECT_LT(err, -0.02) << "gap closed: assert |err| < 0.02 instead";
}

double saturated_bandwidth(const DramParams& p, std::uint64_t lines) {
  DramController mc(p, 0, "mc");
  Picoseconds last(0);
  for (std::uint64_t i = 0; i < lines; ++i) last = std::max(last, mc.access(i * 64, false, Picoseconds(0)).done);
  return static_cast<double>(lines * 64) / (static_cast<double>(last.value()) * 1e-12);
}

TEST(DramController, SaturatedChannelReachesBurstLimitedPeak) {
  DramParams p = one_channel();
  p.xor_hash = true;
  const double peak = p.channel_peak_bytes_per_second();
  EXPECT_NEAR(peak, 21.333e9, 0.01e9);  // DDR4-2666: 2666 MT/s x 8 B
  const double bw = saturated_bandwidth(p, 50000);
  EXPECT_LE(bw, peak * 1.0001);
  EXPECT_GE(bw, peak * 0.98);
}

TEST(DramController, SixChannelsScaleAndRefreshCostsItsDutyCycle) {
  DramParams p;  // defaults: 6 channels, 2 ranks, refresh on
  p.refresh = false;
  const double peak6 = 6 * p.channel_peak_bytes_per_second();
  const double no_refresh = saturated_bandwidth(p, 200000);
  EXPECT_GE(no_refresh, peak6 * 0.98);
  const double duty = static_cast<double>(p.trfc.value()) / static_cast<double>(p.trefi.value());
  // One rank per channel: while it refreshes the channel idles, so the loss is the duty cycle.
  p.ranks = 1;
  const double one_rank = saturated_bandwidth(p, 200000);
  p.refresh = true;
  const double one_rank_refresh = saturated_bandwidth(p, 200000);
  EXPECT_LT(one_rank_refresh, one_rank * (1 - duty * 0.5));
  EXPECT_GT(one_rank_refresh, one_rank * (1 - duty * 2.0));
  // Two ranks refresh at staggered times: with a deep queue the other rank keeps the bus busy.
  p.ranks = 2;
  const double two_rank_refresh = saturated_bandwidth(p, 200000);
  EXPECT_GT(two_rank_refresh, one_rank_refresh);
  EXPECT_GT(two_rank_refresh, no_refresh * (1 - duty));
}

// Mean latency of random reads arriving every `interval` at one channel.
struct LoadPoint {
  double latency_ns;
  double bandwidth;
};
LoadPoint random_load(Picoseconds interval) {
  DramParams p = one_channel();
  p.xor_hash = true;
  DramController mc(p, 0, "mc");
  std::mt19937_64 rng(42);
  const int n = 20000;
  std::uint64_t sum = 0;
  Picoseconds last(0);
  for (int i = 0; i < n; ++i) {
    const Picoseconds t = interval * static_cast<std::uint64_t>(i);
    const PhysAddr a = (rng() % (1ull << 24)) * 64;  // 1 GiB
    DramResult r = mc.access(a, false, t);
    sum += (r.done - t).value();
    last = std::max(last, r.done);
  }
  return {static_cast<double>(sum) / n / 1000.0, static_cast<double>(n * 64) / (static_cast<double>(last.value()) * 1e-12)};
}

TEST(DramController, LatencyRisesWithOfferedLoadAndBandwidthSaturates) {
  DramParams p = one_channel();
  const double idle_ns = static_cast<double>(DramController(p, 0, "x").idle_latency(RowOutcome::Conflict).value()) / 1000.0;
  std::vector<LoadPoint> pts;
  for (std::uint64_t interval_ps : {200000ull, 20000ull, 8000ull, 5000ull, 4000ull, 3000ull, 2000ull})
    pts.push_back(random_load(Picoseconds(interval_ps)));
  EXPECT_LT(pts.front().latency_ns, idle_ns * 1.02);  // nearly idle
  for (std::size_t i = 1; i < pts.size(); ++i) {
    EXPECT_GT(pts[i].latency_ns, pts[i - 1].latency_ns) << "point " << i;
    EXPECT_GE(pts[i].bandwidth, pts[i - 1].bandwidth * 0.99) << "point " << i;
  }
  const double peak = p.channel_peak_bytes_per_second();
  EXPECT_LE(pts.back().bandwidth, peak);
  EXPECT_GT(pts.back().latency_ns, 5 * idle_ns);  // overloaded: queueing dominates
}

TEST(DramController, StatsAndHistogram) {
  DramParams p = one_channel();
  DramController mc(p, 0, "system.node0.mc");
  mc.access(0, false, Picoseconds(0));
  mc.access(4 * 64, false, 1_us);
  mc.access(8 * 64, true, 2_us);
  MapStatsVisitor v;
  mc.dump(v);
  EXPECT_EQ(v.get("system.node0.mc.reads"), 2.0);
  EXPECT_EQ(v.get("system.node0.mc.writes"), 1.0);
  EXPECT_EQ(v.get("system.node0.mc.row_hits"), 2.0);
  EXPECT_NEAR(v.get("system.node0.mc.row_hit_ratio"), 2.0 / 3.0, 1e-9);
  EXPECT_EQ(v.get("system.node0.mc.latency.count"), 3.0);
  EXPECT_EQ(v.get("system.node0.mc.bytes_read"), 128.0);
  EXPECT_EQ(v.get("system.node0.mc.avg_queueing_ns"), 0.0);
  EXPECT_EQ(mc.latency_histogram().max_ps(), (p.frontend_latency + tck(p, p.trcd + p.cl + p.tburst)).value());
  mc.reset_stats();
  EXPECT_EQ(mc.stats().reads, 0u);
  EXPECT_EQ(mc.latency_histogram().count(), 0u);
}

// Write queue: posted writes, back-pressure, drain at the high watermark, and
// the read/write turnarounds on a rank.
TEST(DramController, PostedWritesDrainAtTheHighWatermarkWithBackPressure) {
  DramParams p = one_channel();
  p.write_queue = 4;
  p.write_high = 4;
  p.write_low = 0;
  DramController mc(p, 0, "mc");
  const Picoseconds fe = p.frontend_latency;
  // Three writes wait in the queue: each is accepted (done) after the front end.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(mc.access(i * 4 * 64, true, Picoseconds(0)).done, fe);
  EXPECT_EQ(mc.stats().write_drains, 0u);
  EXPECT_EQ(mc.stats().writes, 3u);
  EXPECT_EQ(mc.stats().activates, 0u);  // nothing issued yet
  // The fourth fills the queue: all four issue, to one row of bank 0: one
  // activate, then column commands tCCD_L (rounded to bursts) apart.
  EXPECT_EQ(mc.access(3 * 4 * 64, true, Picoseconds(0)).done, fe);
  EXPECT_EQ(mc.stats().write_drains, 1u);
  EXPECT_EQ(mc.stats().activates, 1u);
  EXPECT_EQ(mc.stats().row_hits, 3u);
  // The next write takes the entry of the first drained write: accepted when
  // that write issued (its column command, after tRCD), not at arrival.
  const DramResult w = mc.access(16 * 64, true, Picoseconds(0));
  EXPECT_EQ(w.done, fe + tck(p, p.trcd));
  EXPECT_EQ(w.queueing, tck(p, p.trcd));
  EXPECT_EQ(mc.stats().write_queue_full, 1u);
  // A read of another bank group right after the drain waits for the write to
  // read turnaround after the last write command: CWL + tBURST + tWTR_S.
  const Picoseconds last_write_cas = fe + tck(p, p.trcd + 3 * 8);
  const DramResult r = mc.access(1 * 64, false, Picoseconds(0));
  EXPECT_EQ(r.done, last_write_cas + tck(p, p.cwl + p.tburst + p.twtr_s + p.cl + p.tburst));
}

TEST(DramController, WritesBeforeAReadWaitTheReadToWriteTurnaround) {
  DramParams p = one_channel();
  p.write_queue = 1;
  p.write_high = 1;  // every write issues at once
  DramController mc(p, 0, "mc");
  const Picoseconds fe = p.frontend_latency;
  const DramResult r = mc.access(0, false, Picoseconds(0));  // bank group 0, row opened
  const Picoseconds read_cas = r.done - tck(p, p.cl + p.tburst);
  mc.access(1 * 64, false, Picoseconds(0));                   // opens bank group 1's row
  // A write to bank group 1's open row: its column command waits tRTW after the
  // read of bank group 0 (and 1), CL + tBURST + 2 - CWL.
  EXPECT_EQ(mc.access(5 * 64, true, Picoseconds(0)).done, fe);
  const std::uint32_t rtw = p.cl + p.tburst + 2 - p.cwl;
  EXPECT_EQ(mc.stats().write_drains, 1u);
  EXPECT_GE(mc.stats().last_done_ps, (read_cas + tck(p, 4 + rtw + p.cwl + p.tburst)).value());
  // Without the queue the same write is timed like a read, no turnaround.
  DramParams q = one_channel();
  DramController plain(q, 0, "plain");
  plain.access(0, false, Picoseconds(0));
  plain.access(1 * 64, false, Picoseconds(0));
  EXPECT_LT(plain.access(5 * 64, true, Picoseconds(0)).done.value(), mc.stats().last_done_ps);
}

TEST(DramController, BadParametersAreRejected) {
  DramParams p;
  p.mapping = "row:rank:bank:column:channel";  // bank group missing
  EXPECT_NE(p.validate().find("every field"), std::string::npos);
  EXPECT_THROW(DramController(p, 0, "mc"), std::invalid_argument);
  p.mapping = "rank:row:bank:column:bankgroup:channel";
  EXPECT_NE(p.validate().find("most significant"), std::string::npos);
  p.mapping = "row:rank:bank:col:bankgroup:channel";
  EXPECT_NE(p.validate().find("unknown field 'col'"), std::string::npos);
  p = DramParams{};
  p.write_queue = 8;
  p.write_high = 9;
  EXPECT_NE(p.validate().find("write watermarks"), std::string::npos);
  p.write_high = 4;
  p.write_low = 4;
  EXPECT_NE(p.validate().find("write watermarks"), std::string::npos);
  p.write_queue = DramParams::kMaxWriteQueue + 1;
  EXPECT_NE(p.validate().find("write_queue must be at most"), std::string::npos);
  p = DramParams{};
  p.trefi = p.trfc;
  EXPECT_FALSE(p.validate().empty());
  p = DramParams{};
  p.row_size = Bytes(100);
  EXPECT_FALSE(p.validate().empty());
  EXPECT_TRUE(DramParams{}.validate().empty());
}

TEST(DramController, Ddr5TableOnTheEngine) {
  const DramParams p = DramParams::ddr5_4800(2);
  EXPECT_TRUE(p.validate().empty()) << p.validate();
  EXPECT_EQ(p.channels, 4);  // two DIMM channels of two 32-bit subchannels
  // 64 B in 8 tCK of 0.417 ns: 19.2 GB/s per subchannel.
  EXPECT_NEAR(p.channel_peak_bytes_per_second() / 1e9, 19.18, 0.01);
  DramController mc(p, 0, "mc");
  EXPECT_EQ(mc.idle_latency(RowOutcome::Conflict), p.frontend_latency + Picoseconds((39 + 39 + 40 + 8) * 417));
  // The default mapping still rotates subchannels first, then the eight bank groups.
  EXPECT_EQ(mc.decode(256).channel, 1u);
  EXPECT_EQ(mc.decode(4 * 256).bank_group, 1u);
}

TEST(DramController, FromConfig) {
  auto doc = ConfigDocument::from_string(
      "[dram]\ntck = \"0.625ns\"\ncl = 22\nchannels = 8\npage_policy = \"closed\"\n"
      "mapping = \"row:bank:bankgroup:rank:column:channel\"\nrefresh = false\n",
      "dram.toml");
  DramParams p = DramParams::from_config(doc->root().table("dram"));
  EXPECT_NO_THROW(doc->finish());
  EXPECT_EQ(p.tck, Picoseconds(625));
  EXPECT_EQ(p.cl, 22u);
  EXPECT_EQ(p.trcd, 19u);  // default
  EXPECT_EQ(p.channels, 8);
  EXPECT_EQ(p.page_policy, PagePolicy::Closed);
  EXPECT_FALSE(p.refresh);
  EXPECT_EQ(p.mapping, "row:bank:bankgroup:rank:column:channel");

  auto bad = ConfigDocument::from_string("[dram]\nmapping = \"row:rank:bank\"\npage_policy = \"adaptive\"\n",
                                         "bad.toml");
  DramParams::from_config(bad->root().table("dram"));
  try {
    bad->finish();
    FAIL() << "expected configuration errors";
  } catch (const ConfigErrors& e) {
    EXPECT_EQ(e.diagnostics().size(), 2u);
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str() + "\n";
    EXPECT_NE(all.find("mapping"), std::string::npos) << all;
    EXPECT_NE(all.find("adaptive"), std::string::npos) << all;
  }
}

}  // namespace
}  // namespace numasim::hw

namespace numasim::hw {
namespace {

// DramController::stream (the analytic block of a sequential burst) against the
// same burst line by line through access() with the pipeline the memory system
// uses (10 lines in flight, one issued per 0.434 ns), on identical controllers:
// the default six channels (mixed-radix decode) and four (bit fields), a start
// inside an interleave granule, refresh on and off.
using testing::line_path_end;

TEST(DramStream, SequentialBurstAgreesWithTheLineByLineReference) {
  for (int channels : {6, 4}) {
    for (bool refresh : {true, false}) {
      DramParams p;
      p.channels = channels;
      p.refresh = refresh;
      DramController bulk(p, 0, "bulk"), lines(p, 0, "lines");
      const Picoseconds gap(434);
      Picoseconds start(3'000'000);
      for (std::uint64_t first : {std::uint64_t{1} << 30, (std::uint64_t{1} << 31) + 128}) {
        const std::uint64_t n = 32768;
        const Picoseconds end = bulk.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
        const Picoseconds last = line_path_end(lines, first, n, true, start, gap);
        const double a = static_cast<double>((end - start).value()), b = static_cast<double>((last - start).value());
        EXPECT_NEAR(a, b, 0.02 * b) << channels << " channels, refresh " << refresh << ", from " << first;
        EXPECT_EQ(bulk.stats().writes, lines.stats().writes);
        EXPECT_EQ(bulk.stats().bytes_written, lines.stats().bytes_written);
        EXPECT_NEAR(static_cast<double>(bulk.stats().row_hits), static_cast<double>(lines.stats().row_hits),
                    0.02 * static_cast<double>(lines.stats().row_hits));
        EXPECT_EQ(bulk.latency_histogram().count(), lines.latency_histogram().count());
        EXPECT_EQ(bulk.stats().refresh_delays > 0, refresh);
        start = std::max(end, last) + Picoseconds(1'000'000);  // the next burst a microsecond after both
      }
    }
  }
}

}  // namespace
}  // namespace numasim::hw

namespace numasim::hw {
namespace {

// xor_fold (DDR5 preset): every row bit folded into bank, bank group and
// channel. On a DDR5-4800 node of 8 channels (16 subchannels x 32 banks, 4 KiB
// rows: one row of every bank is 2 MiB), the lines at one offset of buffers
// 16 MiB apart (one per CPU in the loaded-latency study) are rows 8 apart: the
// low-bit hash sends them to one subchannel and 4 banks, the fold to as many
// banks as there are buffers, spread over the subchannels.
TEST(DramXorFold, RowsAPowerOfTwoApartSpreadOverChannelsAndBanks) {
  for (bool fold : {false, true}) {
    DramParams p = DramParams::ddr5_4800(8);
    p.refresh = false;
    p.xor_fold = fold;
    DramController mc(p, 0, "mc");
    std::vector<std::uint32_t> banks, channels;
    for (std::uint64_t i = 0; i < 48; ++i) {
      const DramCoord c = mc.decode(i * (16ull << 20) + 5 * 256);
      EXPECT_EQ(c.row, 8 * i);
      banks.push_back((c.channel * 8 + c.bank_group) * 4 + c.bank);
      channels.push_back(c.channel);
    }
    auto distinct = [](std::vector<std::uint32_t> v) {
      std::sort(v.begin(), v.end());
      return static_cast<std::size_t>(std::unique(v.begin(), v.end()) - v.begin());
    };
    std::array<int, 16> per_channel{};
    for (std::uint32_t c : channels) ++per_channel[c];
    if (fold) {
      EXPECT_EQ(distinct(banks), 48u);
      EXPECT_LE(*std::max_element(per_channel.begin(), per_channel.end()), 4);  // 48 over 16 subchannels
    } else {
      EXPECT_EQ(distinct(banks), 4u);
      EXPECT_EQ(distinct(channels), 1u);
    }
  }
}

// The fold permutes each row's (channel, bank group, bank) positions: every
// line of a row-block (one row of every bank) lands on its own (channel, bank
// group, bank, column), with 16 subchannels (bit fields) and 24 (Genoa's 12
// channels: a modular channel sum) alike.
TEST(DramXorFold, EachRowBlockIsAPermutation) {
  for (int dimms : {8, 12}) {
    DramParams p = DramParams::ddr5_4800(dimms);
    p.xor_fold = true;
    DramController mc(p, 0, "mc");
    const std::uint64_t block_lines = static_cast<std::uint64_t>(p.channels) * 32 * 64;  // 4 KiB rows
    for (std::uint64_t row : {0ull, 1ull, 77ull, 4097ull}) {
      std::vector<std::uint64_t> seen;
      for (std::uint64_t l = 0; l < block_lines; ++l) {
        const DramCoord c = mc.decode((row * block_lines + l) * 64);
        ASSERT_EQ(c.row, row);
        ASSERT_LT(c.channel, static_cast<std::uint32_t>(p.channels));
        seen.push_back(((c.channel * 8ull + c.bank_group) * 4 + c.bank) * 64 + c.column);
      }
      std::sort(seen.begin(), seen.end());
      EXPECT_EQ(std::unique(seen.begin(), seen.end()) - seen.begin(), static_cast<std::ptrdiff_t>(block_lines))
          << dimms << " channels, row " << row;
    }
  }
}

// 32 initiators in lockstep, each reading the same 256 B granule offset of its
// own 16 MiB-aligned buffer at the same instant (the loaded-latency study's
// injectors after their barrier): with the low-bit hash they queue on one
// subchannel and ping-pong 4 banks' rows; folded, they spread and finish
// within a few bursts of the unloaded latency.
TEST(DramXorFold, LockstepBuffersNoLongerQueueOnOneBank) {
  Picoseconds worst[2];
  for (bool fold : {false, true}) {
    DramParams p = DramParams::ddr5_4800(8);
    p.refresh = false;
    p.xor_fold = fold;
    DramController mc(p, 0, "mc");
    const Picoseconds t0(1'000'000);
    Picoseconds last(0);
    for (std::uint64_t line = 0; line < 4; ++line)
      for (std::uint64_t i = 0; i < 32; ++i)
        last = std::max(last, mc.access(i * (16ull << 20) + 3 * 256 + line * 64, false, t0).done);
    worst[fold] = last - t0;
  }
  const DramParams p = DramParams::ddr5_4800(8);
  const Picoseconds closed = p.frontend_latency + p.to_ps(p.trcd + p.cl + p.tburst);
  // Low-bit hash: 128 bursts on one subchannel, at least 128 x 8 tCK.
  EXPECT_GT(worst[0], p.to_ps(128 * p.tburst));
  // Folded: 2 initiators per subchannel, 8 bursts each.
  EXPECT_LT(worst[1], closed + p.to_ps(2 * p.trcd + 8 * p.tburst));
}

// stream() (the analytic sequential burst) against the line path with the
// fold, as DramStream's reference test (the default DDR4 geometry, 6 channels
// (mixed radix) and 4 (bit fields)): the block tabulation hashes channels too.
// (DDR5 nodes never take stream(): their device is not a DramController.)
TEST(DramXorFold, StreamAgreesWithTheLinePath) {
  for (int channels : {6, 4}) {
    DramParams p;
    p.channels = channels;
    p.xor_fold = true;
    DramController bulk(p, 0, "bulk"), lines(p, 0, "lines");
    const Picoseconds gap(434), start(3'000'000);
    const std::uint64_t first = (std::uint64_t{1} << 30) + 128, n = 32768;
    const Picoseconds end = bulk.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
    const Picoseconds last = line_path_end(lines, first, n, true, start, gap);
    const double a = static_cast<double>((end - start).value()), b = static_cast<double>((last - start).value());
    EXPECT_NEAR(a, b, 0.02 * b) << channels;
    EXPECT_NEAR(static_cast<double>(bulk.stats().row_hits), static_cast<double>(lines.stats().row_hits),
                0.02 * static_cast<double>(lines.stats().row_hits));
    // The banks the stream left open are the line path's: the last granules
    // read again are mostly row hits on both (a block's channel order only
    // changes which visit of the block comes last).
    const Picoseconds later = std::max(end, last) + Picoseconds(100'000);
    int hits_bulk = 0, hits_lines = 0;
    for (std::uint64_t i = n - 64 * 4; i < n; i += 4) {
      hits_bulk += bulk.access(first + i * 64, false, later).outcome == RowOutcome::Hit;
      hits_lines += lines.access(first + i * 64, false, later).outcome == RowOutcome::Hit;
    }
    EXPECT_NEAR(hits_bulk, hits_lines, 8) << channels;
    EXPECT_GT(hits_lines, 32) << channels;
    // The fold moved the stream's channels: not the unhashed order.
    DramParams q = p;
    q.xor_fold = false;
    DramController plain(q, 0, "plain");
    int differ = 0;
    for (std::uint64_t i = 0; i < n; i += 4)
      differ += plain.decode(first + i * 64).channel != bulk.decode(first + i * 64).channel;
    EXPECT_GT(differ, 0);
  }
}

TEST(DramXorFold, NeedsTheHashAndPowerOfTwoBanks) {
  DramParams p = DramParams::ddr5_4800(8);
  p.xor_fold = true;
  EXPECT_EQ(p.validate(), "");
  p.xor_hash = false;
  EXPECT_NE(p.validate().find("xor_fold"), std::string::npos);
  p.xor_hash = true;
  p.banks_per_group = 3;
  EXPECT_NE(p.validate().find("xor_fold"), std::string::npos);
}

}  // namespace
}  // namespace numasim::hw
