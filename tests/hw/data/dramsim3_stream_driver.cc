// NOT built by numasim: the DRAMsim3 request-stream driver whose output is recorded in
// dram_reference.toml (build it against a DRAMsim3 checkout outside this repository,
// see the commands there). Kept here so the reference figures can be reproduced.
// Request-stream driver for DRAMsim3 (outside the numasim repo): the same
// streams tests/hw/dram_reference_test.cpp feeds numasim's DramController.
// usage: stream_driver CONFIG.ini seq|random WRITE_PERCENT unloaded|saturated N [SEED]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <vector>
#include "dramsim3.h"

static uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int main(int argc, char** argv) {
  if (argc < 6) { std::fprintf(stderr, "usage\n"); return 2; }
  std::string cfg = argv[1], kind = argv[2], mode = argv[4];
  int wpct = std::atoi(argv[3]);
  uint64_t n = std::strtoull(argv[5], nullptr, 10);
  uint64_t seed = argc > 6 ? std::strtoull(argv[6], nullptr, 10) : 1;
  const uint64_t span_lines = (1ull << 30) / 64;  // 1 GiB of lines per rank range
  uint64_t ranks_span = std::strtoull(getenv("SPAN_LINES") ? getenv("SPAN_LINES") : "0", nullptr, 10);
  if (!ranks_span) ranks_span = span_lines;
  std::vector<uint64_t> addr(n);
  std::vector<bool> wr(n);
  uint64_t s = seed;
  for (uint64_t i = 0; i < n; ++i) {
    addr[i] = (kind == "seq" ? i : splitmix64(s) % ranks_span) * 64;
    wr[i] = (splitmix64(s) % 100) < uint64_t(wpct);
  }
  uint64_t clk = 0, done = 0;
  std::unordered_multimap<uint64_t, uint64_t> inflight;  // addr -> issue clk
  double lat_sum = 0; uint64_t lat_n = 0;
  auto rd = [&](uint64_t a) {
    auto it = inflight.find(a);
    if (it != inflight.end()) { lat_sum += double(clk - it->second); ++lat_n; inflight.erase(it); }
    ++done;
  };
  auto wcb = [&](uint64_t) { ++done; };
  dramsim3::MemorySystem* ms = dramsim3::GetMemorySystem(cfg, "/tmp/dramsim3-out", rd, wcb);
  const double tck = ms->GetTCK();
  const uint64_t warm = n / 10;
  uint64_t t_warm = 0;
  uint64_t i = 0;
  if (mode == "unloaded") {
    for (; i < n; ++i) {
      uint64_t before = done;
      while (!ms->WillAcceptTransaction(addr[i], wr[i])) { ms->ClockTick(); ++clk; }
      if (!wr[i]) inflight.emplace(addr[i], clk);
      ms->AddTransaction(addr[i], wr[i]);
      while (done == before) { ms->ClockTick(); ++clk; }
      for (int k = 0; k < 100; ++k) { ms->ClockTick(); ++clk; }
    }
  } else {
    while (i < n) {
      while (i < n && ms->WillAcceptTransaction(addr[i], wr[i])) {
        if (i == warm) { t_warm = clk; }
        if (!wr[i] && i >= warm) inflight.emplace(addr[i], clk);
        ms->AddTransaction(addr[i], wr[i]);
        ++i;
      }
      ms->ClockTick(); ++clk;
    }
    while (done < n && clk < 100000000) { ms->ClockTick(); ++clk; }
  }
  double ns = double(clk - t_warm) * tck;
  double bw = mode == "saturated" ? double(n - warm) * 64.0 / ns : 0;
  std::printf("kind=%s write_pct=%d mode=%s n=%llu tck=%.3f read_latency_ns=%.2f read_latency_tck=%.2f bandwidth_gbps=%.2f\n",
              kind.c_str(), wpct, mode.c_str(), (unsigned long long)n, tck, lat_n ? lat_sum / lat_n * tck : 0,
              lat_n ? lat_sum / lat_n : 0, bw);
  return 0;
}
