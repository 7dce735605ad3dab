// DramController::post_writes (hw/dram_write_run.cpp) against the line path:
// the same posted writes through access() one by one. Streams shaped like a
// cached clear's LLC write-backs (the lines of older pages in line order, runs
// of one granule, arrivals a few ns apart, a few out of order), mixed with
// another initiator's reads and writes stamped ahead of and behind them (late
// requests, displaced bursts and their debt), over many refresh windows, on
// the shipped DDR4 geometry and on variants (one channel and rank, xor_fold,
// no refresh, the closed-page policy, a write queue). Every statistic, the
// latency histogram bucket by bucket, and the results of later requests
// (the banks' rows and history, the calendars, the debt) must be equal.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "hw/dram_controller.h"
#include "tests/hw/dram_same_state.h"

namespace numasim::hw {
namespace {

struct Traffic {
  // Write-back batches (posted together) and, between them, single requests of another initiator.
  struct Request {
    PhysAddr pa;
    Picoseconds at;
    bool write;
  };
  struct Batch {
    std::vector<PhysAddr> pa;  // the write-backs, posted together
    std::vector<Picoseconds> at;
    std::vector<Request> others;
  };
  std::vector<Batch> batches;
};

// `pages` batches of `lines` write-backs of a random old page each, from `start`.
Traffic clear_like(std::uint64_t seed, int pages, int lines, Picoseconds start, bool others) {
  std::mt19937_64 rng(seed);
  Traffic tr;
  Picoseconds t = start;
  for (int p = 0; p < pages; ++p) {
    Traffic::Batch b;
    const PhysAddr page = (rng() % (1u << 20)) * 4096;  // within 4 GiB
    for (int j = 0; j < lines; ++j) {
      t += Picoseconds(2000 + rng() % 6000);
      b.pa.push_back(page + static_cast<PhysAddr>(j) * 64);
      b.at.push_back(t);
    }
    // A few write-backs out of order (a line that completed earlier than the one before it).
    for (int k = 0; k < 2; ++k) {
      const std::size_t j = 1 + rng() % (b.at.size() - 1);
      std::swap(b.at[j], b.at[j - 1]);
    }
    if (others) {
      for (int k = 0; k < 6; ++k) {
        // Up to about a quantum behind or ahead of the write-backs.
        const std::int64_t skew = static_cast<std::int64_t>(rng() % 1'600'000) - 800'000;
        const Picoseconds at(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, static_cast<std::int64_t>(t.value()) + skew)));
        // Often the same rows as the write-backs (row hits and conflicts in their banks).
        const PhysAddr pa = rng() % 2 ? page + (rng() % 64) * 64 : (rng() % (1u << 26)) * 64;
        b.others.push_back({pa, at, rng() % 3 == 0});
      }
    }
    tr.batches.push_back(std::move(b));
  }
  return tr;
}

// Runs `tr` on a controller posting each batch with post_writes and on one
// sending every write through access(); then the same probe requests on both.
// Returns the share of the batches' writes that took the run's row-hit path.
double compare(const DramParams& p, const Traffic& tr, const char* what, std::uint64_t* settled = nullptr,
               std::uint64_t* refresh_delays = nullptr) {
  DramController runs(p, 0, "runs"), lines(p, 0, "lines");
  lines.set_row_hit_path(false);  // every request through schedule()
  Picoseconds end(0);
  std::uint64_t posted = 0;
  for (const Traffic::Batch& b : tr.batches) {
    posted += b.pa.size();
    for (const Traffic::Request& o : b.others) {
      const DramResult x = runs.access(o.pa, o.write, o.at);
      const DramResult y = lines.access(o.pa, o.write, o.at);
      EXPECT_EQ(x.done, y.done) << what << ": another initiator's request before a batch";
    }
    runs.post_writes(b.pa.data(), b.at.data(), b.pa.size());
    for (std::size_t k = 0; k < b.pa.size(); ++k) lines.access(b.pa[k], true, b.at[k]);
    end = std::max(end, b.at.back());
  }
  testing::expect_same_dram_state(runs, lines, what);
  // Later requests meet the same banks, calendars and debt: some to the rows just written.
  std::mt19937_64 rng(7);
  for (int k = 0; k < 3000; ++k) {
    const PhysAddr pa = k % 2 ? tr.batches[rng() % tr.batches.size()].pa[rng() % 8] : (rng() % (1u << 26)) * 64;
    const bool write = rng() % 4 == 0;
    const Picoseconds at = end + Picoseconds(rng() % 2'000'000) - Picoseconds(1'000'000);
    const DramResult x = runs.access(pa, write, at);
    const DramResult y = lines.access(pa, write, at);
    EXPECT_EQ(x.done, y.done) << what << ": probe " << k;
    EXPECT_EQ(x.outcome, y.outcome) << what << ": probe " << k;
    if (x.done != y.done) break;
  }
  testing::expect_same_dram_state(runs, lines, what);
  EXPECT_GT(runs.stats().writes, 1000u) << what;
  if (settled) *settled = runs.settled_writes();
  if (refresh_delays) *refresh_delays = runs.stats().refresh_delays;
  return static_cast<double>(runs.row_hit_path_requests()) / static_cast<double>(posted);
}

TEST(DramWriteRun, ClearWritebacksInRunsEqualTheLinePath) {
  const DramParams p;  // DDR4-2666, 6 channels, 2 ranks, refresh (as configs/default.toml)
  const Traffic alone = clear_like(1, 1500, 60, Picoseconds(1'000'000), false);
  // Most of a clear's write-backs are in-order row hits: the run path, not
  // schedule(), must time them (else the equality above says nothing of it),
  // and most of those are settled a run's prefix at a time.
  std::uint64_t settled = 0, refresh_delays = 0;
  EXPECT_GT(compare(p, alone, "write-backs alone", &settled, &refresh_delays), 0.5);
  EXPECT_GT(settled, alone.batches.size() * 60 / 2);
  // The stream spans many refresh windows (tREFI 7.8 us): some runs meet one
  // (settle_write_hits' and serve_row_hit's refresh-delayed writes).
  EXPECT_GT(alone.batches.back().at.back(), p.trefi * 50);
  EXPECT_GT(refresh_delays, 0u);
  compare(p, clear_like(2, 1500, 60, Picoseconds(1'000'000), true), "with another initiator's requests");
}

TEST(DramWriteRun, VariantsOfTheControllerEqualTheLinePath) {
  DramParams one;  // one channel and rank: the bus and banks shared by everything, displacement on the bus
  one.channels = 1;
  one.ranks = 1;
  compare(one, clear_like(3, 800, 64, Picoseconds(0), true), "one channel");
  DramParams fold;
  fold.xor_fold = true;
  compare(fold, clear_like(4, 800, 64, Picoseconds(0), true), "xor_fold");
  DramParams norefresh;
  norefresh.refresh = false;
  compare(norefresh, clear_like(5, 800, 64, Picoseconds(0), true), "no refresh");
  DramParams closed;
  closed.page_policy = PagePolicy::Closed;
  compare(closed, clear_like(6, 400, 64, Picoseconds(0), true), "closed page");
  DramParams queued;
  queued.write_queue = 32;
  queued.write_high = 24;
  queued.write_low = 8;
  compare(queued, clear_like(7, 400, 64, Picoseconds(0), true), "write queue");
  // The bus's rank switch gap beyond the bank group's column spacing (a
  // burst's reach past the next column command's): settle_write_hits takes
  // one write per pass, each checked against both calendars (a write a
  // column spacing after the one before is not clear of its burst's reach,
  // so only writes arriving further apart are settled).
  DramParams wide_gap;
  wide_gap.trtrs = 6;
  std::uint64_t settled = 0;
  compare(wide_gap, clear_like(9, 800, 64, Picoseconds(0), true), "rank switch gap past the column spacing", &settled);
  EXPECT_GT(settled, 100u);
}

// Batches whose runs are not whole granules in line order: a granule's lines
// written twice in a row (a run longer than the granule, which post_writes
// splits), lines of a granule out of order, a run of fewer lines than a
// granule and one of a granule's lines between another granule's.
TEST(DramWriteRun, RunsOtherThanWholeGranulesEqualTheLinePath) {
  std::mt19937_64 rng(10);
  Traffic tr;
  Picoseconds t(500'000);
  for (int p = 0; p < 600; ++p) {
    Traffic::Batch b;
    const PhysAddr page = (rng() % (1u << 20)) * 4096;
    std::vector<int> lines;
    switch (p % 4) {
      case 0:  // each granule twice
        lines = {0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 8, 9};
        break;
      case 1:  // out of order in a granule
        lines = {3, 2, 1, 0, 4, 6, 5, 7, 8, 9, 10, 11};
        break;
      case 2:  // runs across granules' ends
        lines = {1, 2, 3, 4, 5, 6, 7, 8, 12, 13};
        break;
      default:  // another granule's line between
        lines = {0, 1, 4, 2, 3, 5, 6, 7, 8, 9, 10, 11};
        break;
    }
    for (int j : lines) {
      t += Picoseconds(300 + rng() % 3000);
      b.pa.push_back(page + static_cast<PhysAddr>(j) * 64);
      b.at.push_back(t);
    }
    tr.batches.push_back(std::move(b));
  }
  std::uint64_t settled = 0;
  compare(DramParams{}, tr, "runs other than whole granules", &settled);
  EXPECT_GT(settled, 600u * 12 / 2);
}

// Late write-backs: a batch stamped well behind requests the banks already served.
TEST(DramWriteRun, WritebacksBehindOtherRequestsEqualTheLinePath) {
  const DramParams p;
  Traffic tr = clear_like(8, 600, 48, Picoseconds(2'000'000), true);
  for (Traffic::Batch& b : tr.batches)
    for (Traffic::Request& o : b.others) o.at += Picoseconds(900'000);  // the other initiator runs ahead
  compare(p, tr, "behind");
}

// A line of the bank of `pa` in another row (the mapping's row is its most
// significant field: a few steps of 1 MiB reach the next rows).
PhysAddr same_bank_other_row(const DramController& d, PhysAddr pa) {
  const DramCoord c = d.decode(pa);
  for (PhysAddr q = pa + (1u << 20);; q += 1u << 20) {
    const DramCoord e = d.decode(q);
    if (e.channel == c.channel && e.rank == c.rank && e.bank_group == c.bank_group && e.bank == c.bank &&
        e.row != c.row)
      return q;
  }
}

// Requests stamped inside a run just settled (a core behind the write-backs
// by less than the run: late requests, timed against the bank's history
// snapshots of the run's writes), to the run's row and to another row of its
// bank; and runs longer than the history's ring and than one settled prefix
// (a whole row per granule). After each batch both controllers get the same
// late requests; every result and statistic must stay equal.
TEST(DramWriteRun, LateRequestsInsideSettledRunsEqualTheLinePath) {
  auto run = [](const DramParams& p, std::uint64_t seed, int lines, const char* what) {
    DramController runs(p, 0, "runs"), lines_path(p, 0, "lines");
    lines_path.set_row_hit_path(false);
    const Traffic tr = clear_like(seed, 400, lines, Picoseconds(0), false);
    std::mt19937_64 rng(seed * 31);
    std::uint64_t posted = 0, late_hits = 0;
    for (const Traffic::Batch& b : tr.batches) {
      runs.post_writes(b.pa.data(), b.at.data(), b.pa.size());
      for (std::size_t k = 0; k < b.pa.size(); ++k) lines_path.access(b.pa[k], true, b.at[k]);
      posted += b.pa.size();
      const Picoseconds from = std::min(b.at.front(), b.at[1]), to = b.at.back();
      for (int k = 0; k < 4; ++k) {
        const Picoseconds at = from + Picoseconds(rng() % (to - from + Picoseconds(1)).value());
        const PhysAddr line = b.pa[rng() % b.pa.size()];
        const PhysAddr pa = k % 2 == 0 ? line : same_bank_other_row(runs, line);
        const bool write = rng() % 3 == 0;
        const DramResult x = runs.access(pa, write, at);
        const DramResult y = lines_path.access(pa, write, at);
        EXPECT_EQ(x.done, y.done) << what;
        EXPECT_EQ(x.outcome, y.outcome) << what;
        if (k % 2 == 0 && x.outcome == RowOutcome::Hit) ++late_hits;
      }
    }
    testing::expect_same_dram_state(runs, lines_path, what);
    // The late requests were late, some met the run's row open at their time,
    // and the runs were settled (else this says nothing of settle_write_hits).
    EXPECT_GT(runs.stats().late_requests, 400u) << what;
    EXPECT_GT(late_hits, 200u) << what;
    EXPECT_GT(runs.settled_writes(), posted / 2) << what;
  };
  run(DramParams{}, 11, 48, "granules of 4 lines");
  DramParams whole_rows;  // one granule per row: runs of a page's 64 lines, past the ring (8) and a prefix (16)
  whole_rows.interleave = whole_rows.row_size;
  run(whole_rows, 12, 64, "granules of a whole row");
  DramParams ddr5 = DramParams::ddr5_4800(2);
  run(ddr5, 13, 48, "DDR5-4800");
}

// One bank of a fresh controller and no other traffic: a write that opens a
// row, a run of four row hits settled in one pass, then one late request
// stamped between the run's first and second write. It is timed against the
// bank's history as of the run's first write, the snapshot settle_write_hits
// wrote, found only if the history counts the run's writes (hist_n: on a
// fresh bank the ring is not yet full). Compared with the line path.
TEST(DramWriteRun, ALateRequestInsideTheFirstSettledRunOfAFreshBankEqualsTheLinePath) {
  DramParams p;
  p.channels = 1;
  p.ranks = 1;
  p.refresh = false;
  p.interleave = p.row_size;  // the five lines in one granule (one bank and row)
  const PhysAddr row = 0;
  auto run = [&](Picoseconds gap, bool same_row, const char* what) {
    DramController runs(p, 0, "runs"), lines(p, 0, "lines");
    lines.set_row_hit_path(false);
    const Picoseconds open_at(1'000'000);
    EXPECT_EQ(runs.access(row, true, open_at).done, lines.access(row, true, open_at).done) << what;
    std::vector<PhysAddr> pa;
    std::vector<Picoseconds> at;
    for (std::uint64_t k = 0; k < 4; ++k) {
      pa.push_back(row + (k + 1) * 64);
      at.push_back(open_at + Picoseconds(60'000) + gap * k);
    }
    runs.post_writes(pa.data(), at.data(), pa.size());
    for (std::size_t k = 0; k < pa.size(); ++k) lines.access(pa[k], true, at[k]);
    ASSERT_EQ(runs.settled_writes(), 4u) << what << ": the run was not settled in one pass";
    const PhysAddr late = same_row ? row + 10 * 64 : same_bank_other_row(runs, row);
    const Picoseconds late_at = at[0] + gap / 2;  // between the run's first and second write
    const DramResult x = runs.access(late, false, late_at);
    const DramResult y = lines.access(late, false, late_at);
    EXPECT_EQ(runs.stats().late_requests, 1u) << what;
    EXPECT_EQ(x.done, y.done) << what;
    EXPECT_EQ(x.outcome, y.outcome) << what;
    testing::expect_same_dram_state(runs, lines, what);
  };
  run(Picoseconds(20'000), false, "another row, writes 20 ns apart");
  run(Picoseconds(2'000), false, "another row, writes 2 ns apart (each column command after the one before)");
  run(Picoseconds(20'000), true, "the run's row, writes 20 ns apart");
  run(Picoseconds(2'000), true, "the run's row, writes 2 ns apart");
}

}  // namespace
}  // namespace numasim::hw
