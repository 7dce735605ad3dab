// MemorySystemPort: the MemoryPort over hw::MemorySystem that Machine gives
// its cores and page walkers (the interface's path; MmuDirect calls the
// memory system itself), in a header of its own so that tests compare against
// the very adapter the machine uses.
// Simplification: as MemoryPort's, timing only; the access's breakdown is
// reduced to the level that served it.
#pragma once

#include <cstdint>

#include "common/units.h"
#include "hw/memory_port.h"
#include "hw/memory_system.h"

namespace numasim::hw {

class MemorySystemPort final : public MemoryPort {
 public:
  explicit MemorySystemPort(MemorySystem& ms) : ms_(ms) {}
  Picoseconds access(CpuId cpu, PhysAddr pa, bool is_write, Picoseconds now, std::uint8_t* level_hit) override {
    AccessBreakdown br;
    const Picoseconds lat = ms_.access(cpu, pa, is_write, now, &br);
    if (level_hit) *level_hit = br.level_hit;
    return lat;
  }
  void host_prefetch(CpuId cpu, PhysAddr pa) const override { ms_.host_prefetch(cpu, pa); }

 private:
  MemorySystem& ms_;
};

}  // namespace numasim::hw
