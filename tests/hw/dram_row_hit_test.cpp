// DramController's row-hit path (serve_row_hit: an in-order row hit timed
// without schedule()'s general steps) and its row-miss path (serve_row_miss:
// an in-order activate) against schedule() alone
// (set_row_hit_path(false)), request by request: cores that run a quantum
// apart (late requests, bursts displaced on the bus and their debt), each
// streaming lines (row hits) and reading and writing random lines (row
// misses, conflicts), over many refresh windows, on the shipped DDR4 geometry
// and on variants (one channel, xor_fold, no refresh, DDR5, the CXL media's
// refresh of tRFC 0). Every result, every statistic and the latency histogram
// bucket by bucket must be equal, and most requests must take the path (else
// the equality says nothing of it).
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "hw/cxl_memory_device.h"
#include "hw/dram_controller.h"
#include "tests/hw/dram_same_state.h"

namespace numasim::hw {
namespace {

struct Request {
  PhysAddr pa;
  Picoseconds at;
  bool write;
};

// `cores` initiators, each running `per_turn` requests in its turn, turn after
// turn, a core more than `skew_ps` ahead of the slowest one sitting its turn
// out (temporal decoupling): per request a sequential stream's next line (a
// new stream now and then, its lines read or written back), sometimes a
// random line; `gap_ps`: the most a core's requests are apart.
std::vector<Request> traffic(std::uint64_t seed, int cores, int turns, int per_turn, std::uint64_t skew_ps,
                             std::uint64_t gap_ps = 10'000) {
  std::mt19937_64 rng(seed);
  struct Core {
    Picoseconds clock;
    PhysAddr next = 0;
    int left = 0;
    bool writes = false;
  };
  std::vector<Core> core(static_cast<std::size_t>(cores));
  for (Core& c : core) c.clock = Picoseconds(rng() % (skew_ps + 1));
  std::vector<Request> out;
  for (int turn = 0; turn < turns; ++turn) {
    Picoseconds slowest = core[0].clock;
    for (const Core& c : core) slowest = std::min(slowest, c.clock);
    for (Core& c : core) {
      if (c.clock > slowest + Picoseconds(skew_ps)) continue;
      for (int k = 0; k < per_turn; ++k) {
        c.clock += Picoseconds(1000 + rng() % (gap_ps - 1000));
        if (rng() % 8 == 0) {
          out.push_back({(rng() % (1ull << 28)) * 64, c.clock, rng() % 3 == 0});
          continue;
        }
        if (c.left == 0) {
          c.next = (rng() % (1ull << 22)) * 4096;
          c.left = 16 + static_cast<int>(rng() % 240);
          c.writes = rng() % 2 == 0;
        }
        out.push_back({c.next, c.clock, c.writes});
        c.next += 64;
        --c.left;
      }
    }
  }
  return out;
}

// Runs `reqs` through a controller with the row-hit path and one without;
// returns the share of the requests the path timed.
double compare(const DramParams& p, const std::vector<Request>& reqs, const char* what) {
  DramController fast(p, 0, "fast"), general(p, 0, "general");
  general.set_row_hit_path(false);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const DramResult x = fast.access(reqs[i].pa, reqs[i].write, reqs[i].at);
    const DramResult y = general.access(reqs[i].pa, reqs[i].write, reqs[i].at);
    EXPECT_EQ(x.done, y.done) << what << ": request " << i;
    EXPECT_EQ(x.service, y.service) << what << ": request " << i;
    EXPECT_EQ(x.queueing, y.queueing) << what << ": request " << i;
    EXPECT_EQ(x.outcome, y.outcome) << what << ": request " << i;
    if (x.done != y.done) break;
  }
  testing::expect_same_dram_state(fast, general, what);
  EXPECT_EQ(general.row_hit_path_requests(), 0u) << what;
  EXPECT_EQ(general.row_miss_path_requests(), 0u) << what;
  // The row-miss path (serve_row_miss) took a share of the requests when the paths are on.
  if (fast.row_hit_path_requests() > 0) {
    EXPECT_GT(fast.row_miss_path_requests(), reqs.size() / 20) << what;
  }
  return static_cast<double>(fast.row_hit_path_requests()) / static_cast<double>(reqs.size());
}

TEST(DramRowHitPath, EqualsScheduleOnCoresAQuantumApart) {
  const DramParams p;  // DDR4-2666, 6 channels, 2 ranks, refresh (as configs/default.toml)
  const std::vector<Request> in_step = traffic(1, 4, 3000, 16, 20'000);
  EXPECT_GT(compare(p, in_step, "cores in step"), 0.5);
  // Many refresh windows (tREFI 7.8 us) pass.
  EXPECT_GT(in_step.back().at, p.trefi * 10);
  const std::vector<Request> apart = traffic(2, 8, 1500, 16, 1'000'000);
  EXPECT_GT(compare(p, apart, "cores a quantum apart"), 0.4);
  DramController probe(p, 0, "probe");
  for (const Request& r : apart) probe.access(r.pa, r.write, r.at);
  EXPECT_GT(probe.stats().late_requests, 1000u);  // the path's conditions are met and missed
}

// A request that falls in its rank's refresh window (a refresh delay: timed
// from the window's end) and the first request of a rank after each window
// take the short paths too (DramController::refresh_start): one core in time
// order, whose requests land in every window, leaves schedule()'s general
// path far fewer requests than the refresh delays (each of which it timed
// before), with the same results.
TEST(DramRowHitPath, RefreshDelayedRequestsTakeTheShortPaths) {
  const DramParams p;
  const std::vector<Request> one_core = traffic(10, 1, 4000, 16, 0);
  EXPECT_GT(compare(p, one_core, "one core, refresh windows"), 0.5);
  DramController probe(p, 0, "probe");
  for (const Request& r : one_core) probe.access(r.pa, r.write, r.at);
  const std::uint64_t general = one_core.size() - probe.row_hit_path_requests() - probe.row_miss_path_requests();
  EXPECT_EQ(probe.stats().late_requests, 0u);
  EXPECT_GT(probe.stats().refresh_delays, 500u);
  EXPECT_LT(general * 4, probe.stats().refresh_delays) << general << " by schedule()";
}

// A bank's first request after a refresh window it has not seen is a row
// miss whose column command may fall past the rank's next window: then
// serve_row_miss closes the bank's rows (as schedule()'s first step would)
// and gives the request back to schedule(). One bank, idle for more than a
// tREFI before each request, two rows in turn, each request a step later in
// the refresh period than the one before: every phase of the period, those a
// tRCD before a window among them. The same results and state as schedule()
// alone, and the give-back must have happened.
TEST(DramRowHitPath, AFirstRequestAfterARefreshThatMeetsTheNextWindowEqualsSchedule) {
  const DramParams p;
  DramController fast(p, 0, "fast"), general(p, 0, "general");
  general.set_row_hit_path(false);
  // Two lines of one bank in different rows.
  const PhysAddr a = 0;
  const DramCoord ca = fast.decode(a);
  PhysAddr b = 0;
  for (PhysAddr x = PhysAddr(1) << 20; b == 0; x += PhysAddr(1) << 20) {
    const DramCoord cx = fast.decode(x);
    if (cx.channel == ca.channel && cx.rank == ca.rank && cx.bank_group == ca.bank_group && cx.bank == ca.bank &&
        cx.row != ca.row)
      b = x;
  }
  const std::uint64_t trefi = p.trefi.value(), step = 2000;
  const std::uint64_t n = 2 * trefi / step;  // each phase of the period twice, one row then the other
  for (std::uint64_t i = 0; i < n; ++i) {
    const Picoseconds at(i * (trefi + trefi / 2 + step));
    const PhysAddr pa = i % 2 ? b : a;
    const DramResult x = fast.access(pa, false, at);
    const DramResult y = general.access(pa, false, at);
    ASSERT_EQ(x.done, y.done) << "request " << i;
    ASSERT_EQ(x.outcome, y.outcome) << "request " << i;
  }
  testing::expect_same_dram_state(fast, general, "one bank across refresh windows");
  EXPECT_GT(fast.row_miss_path_requests(), n / 2);
  EXPECT_GT(fast.row_miss_path_closed_refused(), 0u);
  EXPECT_EQ(general.row_miss_path_closed_refused(), 0u);
}

// The CXL expander's media with same-bank refresh (cxl_memory_device.cpp's
// media_engine): refresh on with tRFC 0 (no blackout, windows of no length),
// every rank's rows closed once per tREFI2.
DramParams cxl_media() {
  DramParams media = CxlDeviceParams::media_defaults();
  media.refresh = true;
  media.trfc = Picoseconds(0);
  media.trefi = CxlDeviceParams{}.media_trefi2;
  return media;
}

TEST(DramRowHitPath, VariantsOfTheControllerEqualSchedule) {
  DramParams one;  // one channel and rank: everything on one bus and its debt
  one.channels = 1;
  one.ranks = 1;
  EXPECT_GT(compare(one, traffic(3, 2, 3000, 16, 500'000, 30'000), "one channel"), 0.3);
  DramParams fold;
  fold.xor_fold = true;
  EXPECT_GT(compare(fold, traffic(4, 4, 1500, 16, 500'000), "xor_fold"), 0.3);
  DramParams norefresh;
  norefresh.refresh = false;
  EXPECT_GT(compare(norefresh, traffic(5, 4, 1500, 16, 500'000), "no refresh"), 0.3);
  EXPECT_GT(compare(DramParams::ddr5_4800(2), traffic(6, 4, 1500, 16, 500'000), "DDR5-4800"), 0.3);
  EXPECT_GT(compare(cxl_media(), traffic(9, 4, 1500, 16, 500'000), "CXL media, same-bank refresh"), 0.3);
  // Without the path: the closed-page policy and a write queue.
  DramParams closed;
  closed.page_policy = PagePolicy::Closed;
  EXPECT_EQ(compare(closed, traffic(7, 4, 500, 16, 500'000), "closed page"), 0.0);
  DramParams queued;
  queued.write_queue = 32;
  queued.write_high = 24;
  queued.write_low = 8;
  EXPECT_EQ(compare(queued, traffic(8, 4, 500, 16, 500'000), "write queue"), 0.0);
}

// The one-search reservations (set_one_search: each slot reserved at the
// place its search found) against reserve_displacing's own search, request by
// request, through the row-hit path and through schedule() alone, on the
// shipped DDR4 geometry with cores a quantum apart, on DDR5 and with a write
// queue (whose drains schedule writes stamped behind the calendars' ends).
// Many slots must land before later reservations (else the equality says
// nothing of the insert at a found place), many requests must be late and
// open rows, and refresh must have re-planned requests (plan()'s later
// attempts rewrite the spots) where refresh has a blackout (tRFC > 0).
void expect_one_search_equal(const DramParams& p, const std::vector<Request>& reqs, bool row_hit_path,
                             std::size_t min_inserts, const char* what) {
  SCOPED_TRACE(what);
  DramController one(p, 0, "one"), two(p, 0, "two");
  two.set_one_search(false);
  one.set_row_hit_path(row_hit_path);
  two.set_row_hit_path(row_hit_path);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const DramResult x = one.access(reqs[i].pa, reqs[i].write, reqs[i].at);
    const DramResult y = two.access(reqs[i].pa, reqs[i].write, reqs[i].at);
    ASSERT_EQ(x.done, y.done) << "request " << i;
    ASSERT_EQ(x.queueing, y.queueing) << "request " << i;
    ASSERT_EQ(x.outcome, y.outcome) << "request " << i;
  }
  testing::expect_same_dram_state(one, two, what);
  EXPECT_EQ(two.one_search_inserts(), 0u);
  EXPECT_GT(one.one_search_inserts(), min_inserts);
  EXPECT_GT(one.stats().late_requests, reqs.size() / 20);
  EXPECT_GT(one.stats().activates, reqs.size() / 20);
  if (p.refresh && p.trfc > Picoseconds(0)) {
    EXPECT_GT(one.stats().refresh_delays, 0u);
  }
}

TEST(DramOneSearch, EqualsReserveDisplacingOnCoresAQuantumApart) {
  const DramParams p;
  const std::vector<Request> apart = traffic(2, 8, 1500, 16, 1'000'000);
  // About 0.8-1 insert per request; with a write queue only the activates
  // (the column commands are also searched in the rank's read/write calendar).
  expect_one_search_equal(p, apart, true, apart.size() / 4, "DDR4, row-hit path");
  expect_one_search_equal(p, apart, false, apart.size() / 4, "DDR4, schedule() alone");
  const std::vector<Request> ddr5 = traffic(6, 4, 1500, 16, 500'000);
  expect_one_search_equal(DramParams::ddr5_4800(2), ddr5, true, ddr5.size() / 4, "DDR5-4800");
  const std::vector<Request> media = traffic(9, 4, 1500, 16, 500'000);
  expect_one_search_equal(cxl_media(), media, true, media.size() / 4, "CXL media, same-bank refresh");
  DramParams queued;
  queued.write_queue = 32;
  queued.write_high = 24;
  queued.write_low = 8;
  const std::vector<Request> mixed = traffic(8, 4, 1500, 16, 500'000);
  expect_one_search_equal(queued, mixed, false, mixed.size() / 20, "write queue");
}

}  // namespace
}  // namespace numasim::hw
