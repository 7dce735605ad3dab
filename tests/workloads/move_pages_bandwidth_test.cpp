// move_pages(2) across the sockets of a two-socket machine, on the machine
// (issue 14's numbers): one task on CPU 0 writes 64 MiB on node 0, then one
// move_pages call moves it all to node 1. The move's time is the task's run
// time minus that of the same script without the move_pages step, as the
// README's Page migration section measures it. Published single-threaded
// figures (vanilla kernel, move_pages of 1 GiB between the two nodes of an
// "AMD Zen 3 EPYC server (2-sockets, 32 cores, SMT Enabled)", Shivank Garg's
// linux-mm batch-copy series, 2026): 3.31-3.55 GB/s with 4 KiB folios,
// 10.88-11.02 GB/s with 2 MiB. configs/epyc-milan-2s.toml is that machine
// class written from spec sheets; skylake-sp-2s's figures are held below as
// what its documented miss-handling structures give (README, Copies).
#include <gtest/gtest.h>

#include <string>

#include "common/config.h"
#include "tests/workloads/built_workloads.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {

// Seconds of simulated time the script task ran: 64 MiB mapped and written on
// node 0, then (move) moved to node 1 with one move_pages call.
double script_seconds(const std::string& machine, bool huge, bool move) {
  std::string text = "base = \"" + std::string(NUMASIM_SOURCE_DIR) + "/configs/" + machine + "\"\n";
  if (huge) text += "[os.hugetlb]\nnr_hugepages = [40, 40]\n";
  text +=
      "[[workload]]\nkind = \"script\"\nname = \"mp\"\ncpus = [0]\n"
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"64MiB\"\nprot = \"PROT_READ|PROT_WRITE\"\n";
  text += huge ? "flags = \"MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB\"\n" : "flags = \"MAP_PRIVATE|MAP_ANONYMOUS\"\n";
  text += "[[workload.step]]\ncall = \"touch\"\naddr = \"$buf\"\nlen = \"64MiB\"\n";
  if (move) {
    text += "[[workload.step]]\ncall = \"move_pages\"\naddr = \"$buf\"\nnodes = \"1\"\n";
    text += huge ? "count = \"32\"\nstride = \"2MiB\"\n" : "count = \"16384\"\n";
  }
  wltest::MachineRun r;
  wltest::run_machine(r, ConfigDocument::from_string(text, "move_pages_bandwidth_test"));
  const hw::TaskRun* t = r.placed.at(0).threads.at(0);
  EXPECT_TRUE(t->finished);
  EXPECT_TRUE(r.specs[0].results->errors().empty()) << r.specs[0].results->to_json();
  if (move) {  // every page moved: move_pages returned 0 (status per page checked by os tests)
    const auto& calls = r.specs[0].results->calls();
    EXPECT_EQ(calls.back().ret, 0) << r.specs[0].results->to_json();
  }
  return static_cast<double>((t->end_time - t->start_time).value()) * 1e-12;
}

// GB/s of the move (64 MiB over the extra time the move_pages step took).
double move_gbps(const std::string& machine, bool huge) {
  const double with = script_seconds(machine, huge, true);
  const double without = script_seconds(machine, huge, false);
  EXPECT_GT(with, without);
  return 64.0 * (1 << 20) / (with - without) / 1e9;
}

}  // namespace

TEST(MovePagesBandwidth, ZenThreeServerLandsOnThePublishedFigures) {
  const double k4 = move_gbps("epyc-milan-2s.toml", false);
  const double m2 = move_gbps("epyc-milan-2s.toml", true);
  // Published: 3.31-3.55 GB/s (4 KiB), 10.88-11.02 GB/s (2 MiB); 15% around the band.
  EXPECT_GT(k4, 3.31 * 0.85);
  EXPECT_LT(k4, 3.55 * 1.15);
  EXPECT_GT(m2, 10.88 * 0.85);
  EXPECT_LT(m2, 11.02 * 1.15);
  // A 2 MiB folio moves several times faster than 512 base pages: one copy
  // stream, one PMD remap and one TLB flush instead of 512 of each.
  EXPECT_GT(m2, 2.5 * k4);
}

TEST(MovePagesBandwidth, SkylakeSpIsBoundByItsSuperQueue) {
  // Skylake-SP's copy keeps at most 16 requests beyond L2 (the super queue),
  // two per copied line (the local source read and the remote ownership
  // request), so 16 x 64 B per ~150 ns bounds a 2 MiB copy near 6.8 GB/s
  // (README, Copies); 4 KiB pages add the kernel's per-page work.
  const double k4 = move_gbps("skylake-sp-2s.toml", false);
  const double m2 = move_gbps("skylake-sp-2s.toml", true);
  EXPECT_GT(k4, 2.0);
  EXPECT_LT(k4, 3.0);
  EXPECT_GT(m2, 5.0);
  EXPECT_LT(m2, 6.8);
  // The same copy on the Zen 3 machine (24 fill buffers, 64 requests beyond L2) is faster.
  EXPECT_LT(m2, move_gbps("epyc-milan-2s.toml", true));
}
