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

// Where an access was served (MemoryPort::access's level_hit and
// AccessBreakdown::level_hit). The numbers are the cache levels for L1..LLC, so
// `level <= kServedLlc` means a cache hit; anything above kServedL1 occupies a
// fill buffer.
enum ServedBy : std::uint8_t {
  kServedNone = 0,        // not recorded
  kServedL1 = 1,
  kServedL2 = 2,
  kServedLlc = 3,
  kServedLocalDram = 4,   // the requester's node's memory device
  kServedRemoteDram = 5,  // another node's memory device, across the interconnect
  kServedHitm = 6,        // another core's Modified copy (coherence)
};
inline constexpr std::uint8_t kLevelL1 = kServedL1;
// "L1", "L2", "LLC", "local DRAM", "remote DRAM", "HITM" ("none" for 0).
const char* served_by_name(std::uint8_t level);

class MemoryPort {
 public:
  virtual ~MemoryPort() = default;
  virtual Picoseconds access(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, std::uint8_t* level_hit) = 0;
  // A hint, no effect on the simulation: brings the host memory an access of
  // `cpu` at `pa` will look up into the host's caches.
  virtual void host_prefetch(CpuId /*cpu*/, PhysAddr /*pa*/) const {}
};

}  // namespace numasim::hw
