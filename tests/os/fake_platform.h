// A fake os::Platform for SystemC-free kernel tests: records every call and
// returns fixed, configurable latencies (no caches, no contention). Shared by
// all tests/os suites.
#pragma once

#include <cstdint>
#include <vector>

#include "os/platform.h"

namespace numasim::os::testing {

class FakePlatform : public Platform {
 public:
  enum class Kind { Read, Write, Copy, FlushRange, FlushMm, Bio };
  struct Call {
    Kind kind;
    CpuId cpu;
    PhysAddr addr = 0;  // read/write/copy destination; bio sector
    PhysAddr src = 0;   // copy source
    Bytes len{0};
    CpuMask targets;  // flushes
    Asid asid = 0;
    VirtAddr start = 0, end = 0;
  };

  // Latencies returned per call (read/write/copy per 64-byte line).
  Picoseconds line_latency{1000};
  Picoseconds flush_latency{2000000};
  Picoseconds bio_latency{100000000};
  bool record = true;  // benchmarks turn recording off
  std::vector<Call> calls;
  Picoseconds clock{0};

  Picoseconds kernel_read(CpuId cpu, PhysAddr addr, Bytes len) override {
    if (record) calls.push_back({Kind::Read, cpu, addr, 0, len, {}, 0, 0, 0});
    return lines(len);
  }
  Picoseconds kernel_write(CpuId cpu, PhysAddr addr, Bytes len) override {
    if (record) calls.push_back({Kind::Write, cpu, addr, 0, len, {}, 0, 0, 0});
    return lines(len);
  }
  Picoseconds kernel_copy(CpuId cpu, PhysAddr dst, PhysAddr src, Bytes len) override {
    if (record) calls.push_back({Kind::Copy, cpu, dst, src, len, {}, 0, 0, 0});
    return lines(len) * 2;
  }
  Picoseconds flush_tlb_range(CpuId initiator, const CpuMask& targets, Asid asid, VirtAddr start,
                              VirtAddr end) override {
    if (record) calls.push_back({Kind::FlushRange, initiator, 0, 0, Bytes(0), targets, asid, start, end});
    return flush_latency;
  }
  Picoseconds flush_tlb_mm(CpuId initiator, const CpuMask& targets, Asid asid) override {
    if (record) calls.push_back({Kind::FlushMm, initiator, 0, 0, Bytes(0), targets, asid, 0, 0});
    return flush_latency;
  }
  Picoseconds submit_bio(CpuId cpu, BioOp op, std::uint64_t sector, Bytes len) override {
    if (record) calls.push_back({Kind::Bio, cpu, sector, static_cast<PhysAddr>(op), len, {}, 0, 0, 0});
    return bio_latency;
  }
  Picoseconds now(CpuId) const override { return clock; }

  std::size_t count(Kind k) const {
    std::size_t n = 0;
    for (const auto& c : calls) n += c.kind == k;
    return n;
  }
  Bytes bytes(Kind k) const {
    Bytes b{0};
    for (const auto& c : calls)
      if (c.kind == k) b += c.len;
    return b;
  }

 private:
  Picoseconds lines(Bytes len) const { return line_latency * ((len.value() + kCacheLineBytes - 1) / kCacheLineBytes); }
};

}  // namespace numasim::os::testing
