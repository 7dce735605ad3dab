// Streamed writes with the DRAM controller's write queue (issue 16 item 2):
// DramController::stream posts a write burst into the same per-channel queue
// as the line path (same entries, watermarks, drains and read/write
// turnarounds), so the streamed bulk path and the line path agree within 2%
// with the queue on: on the controller alone (the default six channels and
// four, one channel where the queue's back-pressure bounds the stream, refresh
// and the row fold on and off, other watermarks), and through the shipped
// Skylake-SP memory system (MemorySystem's bulk path against its line path).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "hw/dram_controller.h"
#include "hw/memory_system.h"
#include "tests/hw/dram_line_path.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

DramParams queued(unsigned entries, unsigned high, unsigned low) {
  DramParams p;
  p.write_queue = entries;
  p.write_high = high;
  p.write_low = low;
  return p;
}

struct Outcome {
  double bulk_ps, lines_ps;
};

// Both controllers took the burst's n writes, bytes and drains alike.
void expect_same_writes(const DramStats& a, const DramStats& b, std::uint64_t n, const std::string& what) {
  EXPECT_EQ(a.writes, n) << what;
  EXPECT_EQ(a.writes, b.writes) << what;
  EXPECT_EQ(a.bytes_written, b.bytes_written) << what;
  EXPECT_EQ(a.write_drains, b.write_drains) << what;
}

// The same write burst through stream() and line by line, on identical controllers.
Outcome compare(const DramParams& p, std::uint64_t first, std::uint64_t n, const std::string& what) {
  DramController bulk(p, 0, "bulk"), lines(p, 0, "lines");
  const Picoseconds gap(434), start(3'000'000);
  const Picoseconds end = bulk.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  const Picoseconds last = testing::line_path_end(lines, first, n, true, start, gap);
  const Outcome o{static_cast<double>((end - start).value()), static_cast<double>((last - start).value())};
  EXPECT_NEAR(o.bulk_ps, o.lines_ps, 0.02 * o.lines_ps) << what;
  const DramStats& a = bulk.stats();
  const DramStats& b = lines.stats();
  expect_same_writes(a, b, n, what);
  EXPECT_GT(b.write_drains, 0u) << what;
  EXPECT_NEAR(static_cast<double>(a.row_hits), static_cast<double>(b.row_hits), 0.02 * static_cast<double>(b.row_hits))
      << what;
  EXPECT_EQ(bulk.latency_histogram().count(), lines.latency_histogram().count()) << what;
  // Writes still queued (below the high watermark) are not in the histogram yet.
  EXPECT_LE(lines.latency_histogram().count(), n) << what;
  return o;
}

// The same write burst through the posted block (each drain timed as one
// batch) and through stream_posted (each drained write through schedule()),
// on identical controllers; then the same probe of line-path requests on both
// (reads and writes to random lines, from the burst's end), which meet what
// the burst left in the calendars, banks and queues.
void compare_block(const DramParams& p, std::uint64_t first, std::uint64_t n, const std::string& what,
                   int window = 10) {
  DramController block(p, 0, "block"), exact(p, 0, "exact");
  exact.set_posted_block(false);
  const Picoseconds gap(434), start(3'000'000);
  const Picoseconds eb = block.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, window, gap);
  const Picoseconds ee = exact.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, window, gap);
  const double db = static_cast<double>((eb - start).value()), de = static_cast<double>((ee - start).value());
  EXPECT_NEAR(db, de, 0.02 * de) << what;
  const DramStats& a = block.stats();
  const DramStats& b = exact.stats();
  expect_same_writes(a, b, n, what);
  EXPECT_EQ(block.latency_histogram().count(), exact.latency_histogram().count()) << what;
  auto near = [&](double x, double y, double rel, double abs, const char* name) {
    EXPECT_NEAR(x, y, std::max(rel * y, abs)) << what << ": " << name;
  };
  near(static_cast<double>(a.row_hits), static_cast<double>(b.row_hits), 0.02, 0, "row hits");
  near(static_cast<double>(a.activates), static_cast<double>(b.activates), 0.02, 2, "activates");
  // (A drain places its bursts on whole tCK from its start, so an entry may be
  // free a fraction of a tCK later than through schedule(): a few more writes
  // wait, for a few picoseconds each.)
  near(static_cast<double>(a.write_queue_full), static_cast<double>(b.write_queue_full), 0.02, 0.01 * n,
       "writes that waited for an entry");
  near(static_cast<double>(a.write_accept_wait_ps), static_cast<double>(b.write_accept_wait_ps), 0.02,
       0.02 * static_cast<double>(b.write_accept_wait_ps + 1000 * n), "accept wait");
  near(static_cast<double>(a.total_latency_ps), static_cast<double>(b.total_latency_ps), 0.02, 0, "summed latency");
  near(static_cast<double>(a.last_done_ps - 3'000'000), static_cast<double>(b.last_done_ps - 3'000'000), 0.02, 0,
       "last burst");
  // The probe: 2000 requests, a third of them writes, one per 5 ns from the burst's end.
  std::uint64_t x = 12345;
  Picoseconds t = std::min(eb, ee);
  double lb = 0, le = 0;
  for (int k = 0; k < 2000; ++k) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const std::uint64_t line = (x >> 20) % (std::uint64_t{1} << 24);
    const bool write = k % 3 == 0;
    lb += static_cast<double>((block.access(line * 64, write, t).done - t).value());
    le += static_cast<double>((exact.access(line * 64, write, t).done - t).value());
    t += Picoseconds(5000);
  }
  near(lb, le, 0.02, 0, "probe latency after the burst");
}

// The streams both comparisons run: six and four channels, refresh and the
// row fold on and off, a burst from a row's start and one from 128 B into a granule.
template <typename Compare>
void for_each_stream(Compare compare_one) {
  for (int channels : {6, 4}) {
    for (bool refresh : {true, false}) {
      for (bool fold : {false, true}) {
        DramParams p = queued(32, 32, 0);
        p.channels = channels;
        p.refresh = refresh;
        p.xor_fold = fold;
        for (std::uint64_t first : {std::uint64_t{1} << 30, (std::uint64_t{1} << 31) + 128})
          compare_one(p, first,
                      std::to_string(channels) + " channels, refresh " + std::to_string(refresh) + ", fold " +
                          std::to_string(fold) + ", from " + std::to_string(first));
      }
    }
  }
}

TEST(DramWriteQueueStream, PostedBlockAgreesWithTheExactDrains) {
  for_each_stream([](const DramParams& p, std::uint64_t first, const std::string& what) {
    compare_block(p, first, 32768, what);
  });
  compare_block(queued(32, 24, 8), std::uint64_t{1} << 30, 32768, "watermarks 24/8");
  DramParams one = queued(32, 32, 0);
  one.channels = 1;
  compare_block(one, std::uint64_t{1} << 30, 32768, "one channel (back-pressure)");
  compare_block(queued(32, 32, 0), std::uint64_t{1} << 30, 32768, "window 40", 40);
}

TEST(DramWriteQueueStream, PostedStreamAgreesWithTheLinePath) {
  for_each_stream([](const DramParams& p, std::uint64_t first, const std::string& what) {
    compare(p, first, 32768, what);
  });
  // Other watermarks: drains of 16 writes that leave 8 queued.
  DramParams p = queued(32, 24, 8);
  compare(p, std::uint64_t{1} << 30, 32768, "watermarks 24/8");
}

// One DDR4-2666 channel (21.3 GB/s): posted writes return after the front end,
// so 10 lines in flight would offer about 29 GB/s; the queue fills and its
// back-pressure holds the stream to the channel's peak, on both paths. Without
// the queue the same stream is bound by its window (a write's whole service).
TEST(DramWriteQueueStream, BackPressureBoundsAStreamToTheChannelsPeak) {
  DramParams p = queued(32, 32, 0);
  p.channels = 1;
  const std::uint64_t n = 32768;
  const Outcome q = compare(p, std::uint64_t{1} << 30, n, "one channel");
  const double peak = p.channel_peak_bytes_per_second();
  const double gbps = static_cast<double>(n * 64) / (q.bulk_ps * 1e-12);
  EXPECT_LT(gbps, peak);
  EXPECT_GT(gbps, 0.8 * peak);
  DramController bulk(p, 0, "bulk");
  const Picoseconds gap(434), start(3'000'000);
  bulk.stream(std::uint64_t{1} << 30, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  EXPECT_GT(bulk.stats().write_queue_full, n / 4);
  // Six channels: the same window fills a queue only when a refresh holds its
  // drain (tRFC 350 ns, where 32 entries take about 550 ns to fill).
  DramParams six = queued(32, 32, 0);
  DramController wide(six, 0, "wide");
  wide.stream(std::uint64_t{1} << 30, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  EXPECT_LT(wide.stats().write_queue_full, n / 100);
  EXPECT_GT(wide.stats().refresh_delays, 0u);
  DramParams plain = p;
  plain.write_queue = plain.write_high = 0;
  DramController unqueued(plain, 0, "plain");
  const Picoseconds e =
      unqueued.stream(std::uint64_t{1} << 30, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  const Picoseconds one = plain.frontend_latency + plain.to_ps(plain.cwl + plain.tburst);  // a row hit's service
  EXPECT_GE(static_cast<double>((e - start).value()), 0.98 * static_cast<double>(n / 10 * one.value()));
  EXPECT_EQ(unqueued.stats().write_drains, 0u);
}

// A read stream after a write burst: its first reads wait for the write to
// read turnaround of the drained writes, on both paths alike.
TEST(DramWriteQueueStream, ReadStreamAfterPostedWritesAgreesWithTheLinePath) {
  DramParams p = queued(32, 32, 0);
  DramController bulk(p, 0, "bulk"), lines(p, 0, "lines");
  const Picoseconds gap(434), start(3'000'000);
  const std::uint64_t first = std::uint64_t{1} << 30, n = 32768;
  const Picoseconds we = bulk.stream(first, n, true, start, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  const Picoseconds wl = testing::line_path_end(lines, first, n, true, start, gap);
  const Picoseconds read_at = std::max(we, wl);
  const Picoseconds re = bulk.stream(first + n * 64, n, false, read_at, Picoseconds(0), Picoseconds(0), gap, 10, gap);
  const Picoseconds rl = testing::line_path_end(lines, first + n * 64, n, false, read_at, gap);
  const double a = static_cast<double>((re - read_at).value()), b = static_cast<double>((rl - read_at).value());
  EXPECT_NEAR(a, b, 0.02 * b);
  EXPECT_EQ(bulk.stats().reads, lines.stats().reads);
  EXPECT_EQ(bulk.stats().bytes_read, n * 64);
}

// Through the shipped Skylake-SP memory system with the queue on: a 2 MiB
// streamed clear (clear_huge_page) on the bulk path (DramController::stream)
// and on the line path (fetch_line per line) take the same time within 2%,
// with the same DRAM writes and drains, alone and after another core's writes.
TEST(DramWriteQueueStream, StreamedClearsThroughTheMemorySystemAgreeWithTheLinePath) {
  testing::Shipped s = testing::load_shipped();
  s.params.dram.write_queue = 32;
  s.params.dram.write_high = 32;
  s.params.dram.write_low = 0;
  MemorySystem bulk(s.topo, s.params), lines(s.topo, s.params);
  lines.set_transfer_path(MemorySystem::TransferPath::Lines);
  Picoseconds t(5'000'000);
  const PhysAddr base = PhysAddr(3) << 30;
  for (int rep = 0; rep < 3; ++rep) {
    if (rep == 2) {
      // Another core's scattered writes to the node just before the clear.
      Picoseconds u = t - Picoseconds(2'000'000);
      for (int k = 0; k < 200; ++k) {
        const PhysAddr a = ((k * 7919ull) % 100000) * 4096 + 64 * (k % 64);
        for (MemorySystem* m : {&bulk, &lines}) m->access(CpuId(5), a, true, u);
        u += Picoseconds(10'000);
      }
    }
    const PhysAddr at = base + static_cast<PhysAddr>(rep) * (4ull << 20);
    const Picoseconds a = bulk.access_range_nontemporal(CpuId(0), at, Bytes(2ull << 20), true, t);
    const Picoseconds b = lines.access_range_nontemporal(CpuId(0), at, Bytes(2ull << 20), true, t);
    EXPECT_NEAR(static_cast<double>(a.value()), static_cast<double>(b.value()), 0.02 * static_cast<double>(b.value()))
        << "clear " << rep;
    t += std::max(a, b) + Picoseconds(1'000'000);
  }
  MapStatsVisitor va, vb;
  bulk.dump_stats(va);
  lines.dump_stats(vb);
  for (const char* name : {"system.node0.mc.writes", "system.node0.mc.bytes_written", "system.node0.mc.write_drains"})
    EXPECT_EQ(va.values.at(name), vb.values.at(name)) << name;
  EXPECT_GE(vb.values.at("system.node0.mc.writes"), 3.0 * 32768);
  EXPECT_NEAR(va.values.at("system.node0.mc.row_hits"), vb.values.at("system.node0.mc.row_hits"),
              0.02 * vb.values.at("system.node0.mc.row_hits"));
}

}  // namespace
}  // namespace numasim::hw
