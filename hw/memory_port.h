// The view of the memory system that the core and the page walker use: one
// timed access by a CPU to a physical address at an absolute time, returning
// the load-to-use latency and the level that served it. The machine plugs in an
// adapter over hw::MemorySystem (the core also calls MemorySystem directly on
// its hot path); unit tests plug in fixed-latency stubs.
// Simplification: no data, only timing.
#pragma once

#include <cstdint>

#include "common/units.h"

namespace numasim::hw {

// Level that served an access: 1 = L1, 2 = L2, 3 = LLC, 4 = local DRAM, 5 = remote DRAM
// (same numbering as AccessBreakdown::level_hit). Anything above 1 occupies a fill buffer.
inline constexpr std::uint8_t kLevelL1 = 1;

class MemoryPort {
 public:
  virtual ~MemoryPort() = default;
  virtual Picoseconds access(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, std::uint8_t* level_hit) = 0;
};

}  // namespace numasim::hw
