// DramController against DRAMsim3 on the request streams of
// tests/hw/data/dram_reference.toml (issue 16, item 2): one DDR4-3200 channel
// with DRAMsim3's timings and address mapping, sequential and random reads (1
// and 2 ranks), a 50/50 random read/write mix, each unloaded (one request at a
// time) and saturated (as many requests as the driver's admission lets in).
// Where the two simulators agree within 10% the test asserts it. Where they do
// not, it holds today's figure in a band and names the missing mechanism, with
// a guard that fails once the gap closes (then move the stream to `agree`).
// Saturated load, two ways (the stream's `load`):
// - "queues": DRAMsim3's driver's offered load. It adds a read whenever
//   DRAMsim3 accepts one: a 32-entry transaction queue whose reads move into
//   8-entry per-bank command queues, an entry freed when its column command
//   issues (DRAMsim3 controller.cc and command_queue.cc, trans_queue_size and
//   cmd_queue_size of DDR4_8Gb_x8_3200.ini). The harness admits each read at
//   the first instant the earlier reads' column commands (numasim's answers)
//   leave room by that rule (DRAMsim3 also moves at most one read per tCK
//   into the command queues; not modelled: at these rates a read moves every
//   4-9 tCK): on the sequential stream about 47 reads are in
//   flight, as in DRAMsim3 (47.5, counted in its driver); on random reads
//   150-250 (DRAMsim3 96-107: numasim's reads wait longer in a bank, 820-920
//   ns against 330-540, at the same bandwidth).
// - "window": a closed loop of 32 requests in flight (request i arrives when
//   request i - 32 is done). Kept for the read/write mixes: under DRAMsim3's
//   in-order driver a write that waits for a queue entry holds back the reads
//   behind it, and numasim's write queue frees an entry when its write issues
//   where DRAMsim3 frees it when the write moves into a bank's command queue,
//   so the mixes would measure that difference (2 ranks: 14.9 GB/s against
//   DRAMsim3's 18.66) rather than the turnarounds they are there for.
// Simplification: the admission stands in for a core's miss queue; numasim's
// controller has a write queue (posted writes, back-pressure when full) but
// no read queue to fill (next-free timestamps).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.h"
#include "hw/dram_controller.h"

namespace numasim::hw {
namespace {

const std::string kDataFile = std::string(NUMASIM_SOURCE_DIR) + "/tests/hw/data/dram_reference.toml";

// The driver's generator (splitmix64), so both simulators see the same stream.
std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Stream {
  std::string name, kind, mode, mapping;
  std::string load = "queues";  // saturated: "queues" (DRAMsim3's admission) or "window" (32 in flight)
  int write_percent = 0, ranks = 1;
  std::uint64_t requests = 0, seed = 1;
  double dramsim3_latency_ns = 0, dramsim3_bandwidth_gbps = 0;
  std::string verdict;    // "agree" or the mechanism numasim lacks
  double band_low = 0, band_high = 0;  // today's numasim figure, when they disagree
};

struct Figures {
  double read_latency_ns = 0;
  double bandwidth_gbps = 0;
};

Figures replay(DramParams p, const Stream& s) {
  p.ranks = s.ranks;
  if (!s.mapping.empty()) p.mapping = s.mapping;
  DramController mc(p, 0, "ref");
  constexpr std::uint64_t kSpanLines = (1ull << 30) / 64;
  std::uint64_t rng = s.seed;
  std::vector<std::uint64_t> addr(s.requests);
  std::vector<bool> wr(s.requests);
  for (std::uint64_t i = 0; i < s.requests; ++i) {
    addr[i] = (s.kind == "seq" ? i : splitmix64(rng) % kSpanLines) * 64;
    wr[i] = splitmix64(rng) % 100 < static_cast<std::uint64_t>(s.write_percent);
  }
  Figures f;
  double lat_sum = 0;
  std::uint64_t lat_n = 0;
  const std::uint64_t warm = s.requests / 10;
  Picoseconds start(0), last_done(0);
  if (s.mode == "unloaded") {
    Picoseconds t(0);
    for (std::uint64_t i = 0; i < s.requests; ++i) {
      const DramResult r = mc.access(addr[i], wr[i], t);
      if (!wr[i]) {
        lat_sum += static_cast<double>((r.done - t).value()) / 1000.0;
        ++lat_n;
      }
      t = r.done + p.to_ps(100);
    }
  } else if (s.load == "window") {
    constexpr std::size_t kInFlight = 32;
    std::priority_queue<Picoseconds, std::vector<Picoseconds>, std::greater<>> outstanding;
    Picoseconds arrival(0);
    for (std::uint64_t i = 0; i < s.requests; ++i) {
      if (outstanding.size() == kInFlight) {
        arrival = std::max(arrival, outstanding.top());
        outstanding.pop();
      }
      if (i == warm) start = arrival;
      const DramResult r = mc.access(addr[i], wr[i], arrival);
      outstanding.push(r.done);
      last_done = std::max(last_done, r.done);
      if (!wr[i] && i >= warm) {
        lat_sum += static_cast<double>((r.done - arrival).value()) / 1000.0;
        ++lat_n;
      }
    }
  } else {
    // DRAMsim3's admission (the header): a read enters once fewer than
    // kTransQueue of the waiting reads (added, column command not issued) sit
    // beyond their bank's kCmdQueue; a write, once the controller accepts it
    // (its done), before the next request is added (the driver adds in order).
    constexpr std::uint32_t kTransQueue = 32, kCmdQueue = 8;
    const Picoseconds read_tail = p.to_ps(p.cl + p.tburst);  // column command to done
    struct Waiting {
      std::uint32_t bank;
      Picoseconds cas;
    };
    std::vector<Waiting> waiting;
    std::vector<std::uint32_t> per_bank(static_cast<std::size_t>(p.ranks * p.banks_per_rank()));
    auto bank_of = [&](std::uint64_t a) {
      const DramCoord c = mc.decode(a);
      return (c.rank * static_cast<std::uint32_t>(p.bank_groups) + c.bank_group) *
                 static_cast<std::uint32_t>(p.banks_per_group) +
             c.bank;
    };
    Picoseconds t(0);
    for (std::uint64_t i = 0; i < s.requests; ++i) {
      while (!wr[i]) {
        std::erase_if(waiting, [&](const Waiting& w) { return w.cas <= t; });
        std::fill(per_bank.begin(), per_bank.end(), 0u);
        for (const Waiting& w : waiting) ++per_bank[w.bank];
        std::uint32_t beyond = 0;
        for (std::uint32_t n : per_bank) beyond += n > kCmdQueue ? n - kCmdQueue : 0;
        if (beyond < kTransQueue) break;
        Picoseconds next = SlotCalendar::kAll;  // the next column command frees an entry
        for (const Waiting& w : waiting) next = std::min(next, w.cas);
        t = next;
      }
      if (i == warm) start = t;
      const DramResult r = mc.access(addr[i], wr[i], t);
      last_done = std::max(last_done, r.done);
      if (wr[i]) {
        t = std::max(t, r.done);
      } else {
        waiting.push_back(Waiting{bank_of(addr[i]), r.done - read_tail});
        if (i >= warm) {
          lat_sum += static_cast<double>((r.done - t).value()) / 1000.0;
          ++lat_n;
        }
      }
    }
  }
  if (s.mode != "unloaded") {
    f.bandwidth_gbps = static_cast<double>((s.requests - warm) * 64) * 1000.0 /
                       static_cast<double>((last_done - start).value());
  }
  f.read_latency_ns = lat_n ? lat_sum / static_cast<double>(lat_n) : 0;
  return f;
}

struct Reference {
  std::unique_ptr<ConfigDocument> doc;
  DramParams params;
  std::vector<Stream> streams;
};

Reference load() {
  Reference ref;
  ref.doc = ConfigDocument::from_file(kDataFile);
  Config root = ref.doc->root();
  ref.params = DramParams::from_config(root.table("dram"));
  for (Config c : root.tables("stream")) {
    Stream s;
    s.name = c.require<std::string>("name", "stream name");
    s.kind = c.get_choice("kind", "random", {"seq", "random"}, "address pattern");
    s.mode = c.get_choice("mode", "saturated", {"unloaded", "saturated"}, "load");
    s.load = c.get_choice("load", "queues", {"queues", "window"}, "saturated load");
    s.write_percent = c.get<int>("write_percent", 0, "writes in percent", {0, 100});
    s.ranks = c.get<int>("ranks", 1, "ranks", {1, 4});
    s.mapping = c.get<std::string>("mapping", "", "address mapping override");
    s.requests = static_cast<std::uint64_t>(c.get<std::int64_t>("requests", 200000, "requests", {1, 10000000}));
    s.seed = static_cast<std::uint64_t>(c.get<std::int64_t>("seed", 1, "seed"));
    c.ignore("dramsim3_command");
    s.dramsim3_latency_ns = c.get<double>("dramsim3_read_latency_ns", 0, "DRAMsim3 mean read latency");
    s.dramsim3_bandwidth_gbps = c.get<double>("dramsim3_bandwidth_gbps", 0, "DRAMsim3 bandwidth");
    c.ignore("numasim_read_latency_ns");
    c.ignore("numasim_bandwidth_gbps");
    s.verdict = c.get<std::string>("verdict", "agree", "agree, or the mechanism numasim lacks");
    s.band_low = c.get<double>("band_low", 0, "lowest figure numasim may give today");
    s.band_high = c.get<double>("band_high", 0, "highest figure numasim may give today");
    ref.streams.push_back(s);
  }
  ref.doc->finish();
  return ref;
}

TEST(DramReference, DataFileParsesAndCoversTheStreams) {
  Reference ref = load();
  ASSERT_GE(ref.streams.size(), 8u);
  bool seq = false, rnd1 = false, rnd2 = false, mix = false, unloaded = false;
  for (const Stream& s : ref.streams) {
    seq |= s.kind == "seq" && s.mode == "saturated";
    rnd1 |= s.kind == "random" && s.ranks == 1 && s.write_percent == 0 && s.mode == "saturated";
    rnd2 |= s.kind == "random" && s.ranks == 2 && s.write_percent == 0 && s.mode == "saturated";
    mix |= s.write_percent == 50;
    unloaded |= s.mode == "unloaded";
  }
  EXPECT_TRUE(seq && rnd1 && rnd2 && mix && unloaded);
  EXPECT_EQ(ref.params.tck, Picoseconds(630));
  EXPECT_EQ(ref.params.frontend_latency, Picoseconds(0));
}

// Prints both simulators' figures (the README table is made from this output).
TEST(DramReference, EachStreamAgreesOrHoldsItsKnownGap) {
  Reference ref = load();
  for (const Stream& s : ref.streams) {
    SCOPED_TRACE(s.name);
    const Figures f = replay(ref.params, s);
    const bool sat = s.mode == "saturated";
    const double ours = sat ? f.bandwidth_gbps : f.read_latency_ns;
    const double theirs = sat ? s.dramsim3_bandwidth_gbps : s.dramsim3_latency_ns;
    const double err = (ours - theirs) / theirs;
    std::printf("%-28s %-9s numasim %7.2f  DRAMsim3 %7.2f %s  (%+.1f%%)  read latency %.1f ns (DRAMsim3 %.1f)\n",
                s.name.c_str(), s.mode.c_str(), ours, theirs, sat ? "GB/s" : "ns  ", 100 * err, f.read_latency_ns,
                s.dramsim3_latency_ns);
    ASSERT_GT(theirs, 0);
    if (s.verdict == "agree") {
      EXPECT_LE(std::fabs(err), 0.10) << "numasim " << ours << " vs DRAMsim3 " << theirs;
    } else {
      // A known gap: today's figure stays in its band; the guard fails when the
      // mechanism named in `verdict` is modelled and the gap closes.
      EXPECT_GE(ours, s.band_low) << s.verdict;
      EXPECT_LE(ours, s.band_high) << s.verdict;
      EXPECT_GT(std::fabs(err), 0.10) << "gap closed (" << s.verdict << "): mark the stream verdict = \"agree\"";
    }
  }
}

const Stream& find(const Reference& ref, const std::string& name) {
  for (const Stream& s : ref.streams)
    if (s.name == name) return s;
  throw std::runtime_error("no stream " + name);
}

// Under DRAMsim3's admission the sequential stream keeps as many reads in
// flight as DRAMsim3 (about 47): by Little's law at equal bandwidth, equal
// mean read latency. The saturated random streams read as much but wait
// longer in their banks (numasim's per-bank order lets more reads queue):
// held as a known gap, with a guard that fails when it closes.
TEST(DramReference, SaturatedReadLatencyUnderDramsim3Admission) {
  Reference ref = load();
  const Stream& seq = find(ref, "seq-read-saturated");
  EXPECT_NEAR(replay(ref.params, seq).read_latency_ns, seq.dramsim3_latency_ns, 0.10 * seq.dramsim3_latency_ns);
  for (const char* name : {"random-read-saturated-1rank", "random-read-saturated-2rank"}) {
    SCOPED_TRACE(name);
    const Stream& s = find(ref, name);
    const double ratio = replay(ref.params, s).read_latency_ns / s.dramsim3_latency_ns;
    EXPECT_GT(ratio, 1.3) << "the bank-wait gap closed: assert the latency within 10%";
    EXPECT_LT(ratio, 3.0);
  }
}

// A 50/50 read/write mix costs DRAMsim3 9% of its read-only bandwidth on two
// ranks (write drain, tWTR/tRTW turnarounds, rank switches). numasim's write
// queue (drained whole at 32 writes, as DRAMsim3's write buffer) and the
// ranks' read/write turnaround calendars give the same loss within 3 points;
// without the write queue (writes timed like reads) the loss is far smaller.
// numasim's two streams run under the mix's load (32 in flight), so that only
// the writes differ; DRAMsim3's recorded 9.1% compares its read stream under
// its own queues' admission with the mix under its in-order driver, so it
// includes that admission difference, which numasim's figure does not.
TEST(DramReference, ReadWriteMixLossFromTurnaroundsAgrees) {
  Reference ref = load();
  Stream rd = find(ref, "random-read-saturated-2rank");
  const Stream& mix = find(ref, "random-rw5050-saturated-2rank");
  rd.load = mix.load;
  const double theirs = 1.0 - mix.dramsim3_bandwidth_gbps / rd.dramsim3_bandwidth_gbps;
  const double ours = 1.0 - replay(ref.params, mix).bandwidth_gbps / replay(ref.params, rd).bandwidth_gbps;
  DramParams no_queue = ref.params;
  no_queue.write_queue = no_queue.write_high = no_queue.write_low = 0;
  const double ours_no_queue =
      1.0 - replay(no_queue, mix).bandwidth_gbps / replay(no_queue, rd).bandwidth_gbps;
  std::printf("50/50 mix loss on 2 ranks: numasim %.1f%% (%.1f%% without write queue), DRAMsim3 %.1f%%\n",
              100 * ours, 100 * ours_no_queue, 100 * theirs);
  EXPECT_NEAR(theirs, 0.091, 0.005);  // the recorded figures
  EXPECT_NEAR(ours, theirs, 0.03);
  EXPECT_LT(ours_no_queue, theirs / 2);  // the turnarounds are what costs
}

// Determinism: the same stream gives the same figures.
TEST(DramReference, ReplayIsDeterministic) {
  Reference ref = load();
  const Stream& s = ref.streams.front();
  const Figures a = replay(ref.params, s), b = replay(ref.params, s);
  EXPECT_EQ(a.read_latency_ns, b.read_latency_ns);
  EXPECT_EQ(a.bandwidth_gbps, b.bandwidth_gbps);
}

}  // namespace
}  // namespace numasim::hw
