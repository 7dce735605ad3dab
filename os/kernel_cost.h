// What a piece of kernel work costs the CPU that runs it: core cycles of kernel
// code (from the cost table, [os.costs] in the configuration) plus the time of
// the memory traffic it caused, as returned by os::Platform. Accumulated along a
// fault or a system call and handed back to hw::Core, which adds both to its
// local time. Simplification: the two parts are serial (no overlap of kernel
// compute with its own memory traffic).
#pragma once

#include "common/units.h"

namespace numasim::os {

struct KernelCost {
  Cycles cycles{0};
  Picoseconds memory{0};

  KernelCost& operator+=(const KernelCost& o) {
    cycles += o.cycles;
    memory += o.memory;
    return *this;
  }
  void add_cycles(std::uint64_t c) { cycles += Cycles(c); }
  void add_memory(Picoseconds t) { memory += t; }
};

}  // namespace numasim::os
