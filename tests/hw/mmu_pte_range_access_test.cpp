// A page-table entry as the kernel reads and writes it: MemorySystem::
// access_range of 8 bytes (any part of one line that is not a whole-line
// write) is one access() of the line, the walker's own reference, with no
// range pipeline. On two systems of the shipped Skylake-SP configuration
// driven alike (CPUs of both sockets, lines homed on both nodes, user
// accesses and whole-line and multi-line kernel ranges in between), the
// partial-line ranges on one and access() on the other must give the same
// latency, call by call, and the same statistics, the range lines counted
// apart. The other system runs the line path of kernel ranges
// (TransferPath::Lines), where a whole-line write must still take the
// pipeline's ownership-without-read store (as the bulk path does).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>

#include "hw/memory_system.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

TEST(MmuPteRangeAccess, PartialLineRangeEqualsOneAccessInLatencyAndStatistics) {
  testing::Shipped shipped = testing::load_shipped();
  MemorySystem ranges(shipped.topo, shipped.params);  // page-table entries through access_range
  MemorySystem lines(shipped.topo, shipped.params);   // through access()
  lines.set_transfer_path(MemorySystem::TransferPath::Lines);
  const PhysAddr node1 = shipped.topo.nodes()[1].base;
  // Page tables in 256 KiB on each node (hits and misses at every level), user data beside them.
  const PhysAddr tables[] = {PhysAddr(1) << 30, node1 + (PhysAddr(1) << 30)};
  const CpuId cpus[] = {CpuId(0), CpuId(1), CpuId(18), CpuId(19)};
  std::mt19937_64 rng(15);
  Picoseconds t(1'000'000);
  std::uint64_t pte_ranges = 0, pte_writes = 0;
  for (int i = 0; i < 20000; ++i) {
    const CpuId cpu = cpus[rng() % 4];
    const PhysAddr pa = tables[rng() % 2] + (rng() % (256 * 1024 / 8)) * 8;
    const unsigned kind = static_cast<unsigned>(rng() % 10);
    Picoseconds a, b;
    if (kind < 6) {
      // A PTE (8 bytes), now and then another part of the line.
      const bool write = rng() % 3 == 0;
      const PhysAddr offset = pa & 63;
      const std::uint64_t len = rng() % 4 == 0 ? 1 + rng() % (64 - offset) : 8;
      a = ranges.access_range(cpu, pa, Bytes(len), write, t);
      b = lines.access(cpu, pa, write, t);
      ++pte_ranges;
      pte_writes += write;
    } else if (kind < 8) {
      const bool write = rng() % 2 == 0;
      a = ranges.access(cpu, pa + (4ull << 20), write, t);
      b = lines.access(cpu, pa + (4ull << 20), write, t);
    } else {
      // Whole lines: one written (a string store), or two or three read or written.
      const PhysAddr line = (pa + (8ull << 20)) & ~PhysAddr(63);
      const std::uint64_t len = kind == 8 ? 64 : 64 * (2 + rng() % 2);
      const bool write = kind == 8 || rng() % 2 == 0;
      a = ranges.access_range(cpu, line, Bytes(len), write, t);
      b = lines.access_range(cpu, line, Bytes(len), write, t);
    }
    ASSERT_EQ(a, b) << "op " << i << " kind " << kind;
    t += Picoseconds(rng() % 2 == 0 ? 500 : a.value());
  }
  EXPECT_GT(pte_writes, 3000u);
  MapStatsVisitor x, y;
  ranges.dump_stats(x);
  lines.dump_stats(y);
  ASSERT_EQ(x.values.size(), y.values.size());
  for (const auto& [name, v] : y.values) {
    if (name == "system.mem.range_lines")
      EXPECT_EQ(x.values.at(name), v + static_cast<double>(pte_ranges));
    else
      EXPECT_EQ(x.values.at(name), v) << name;
  }
  // Not only cache hits: lines modified in another core's cache, of either socket.
  EXPECT_GT(y.values.at("system.coherence.hitm_local"), 500.0);
  EXPECT_GT(y.values.at("system.coherence.hitm_remote"), 500.0);
}

}  // namespace
}  // namespace numasim::hw
