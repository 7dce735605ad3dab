// Per-subsystem event tracing (`numasim run --trace mm,dram`): when a subsystem's
// flag is on, each of its events prints one line with the simulated time, e.g.
//   [      1.234567 us] cpu0 mm: fault addr=0x7f0000001000 write result=handled
// in the spirit of the kernel's tracepoints (events/kmem, vmscan, huge_memory,
// migrate) read through trace_pipe. All flags are off by default; a disabled
// event costs one load and a predictable branch (no formatting, no call), so
// trace points may sit on the miss and fault paths, never on the TLB/L1-hit path.
// Simplified: one process-wide set of flags and one sink (standard error unless
// set), lines written in the order events are emitted (with temporal decoupling,
// cores up to a quantum apart may interleave out of time order).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/units.h"

namespace numasim::trace {

// The subsystems that emit events; names as `--trace` spells them.
enum class Flag : std::uint8_t {
  mm,       // faults, mmap/munmap/mprotect/madvise, mempolicy system calls
  alloc,    // the page allocator's slow path, OOM decisions
  reclaim,  // kswapd and direct reclaim, LRU aging, swap
  thp,      // huge-page faults, khugepaged, splits, compaction
  numa,     // NUMA balancing, migration, tiering
  sched,    // kernel threads, timers, context switches, task migration
  dram,     // memory-device requests (one line per line access: large output)
  kCount
};

// "mm", "dram", ...
const char* flag_name(Flag f);

namespace detail {
extern std::uint32_t enabled_mask;
}

inline bool enabled(Flag f) { return (detail::enabled_mask >> static_cast<unsigned>(f)) & 1u; }

// Parses "mm,reclaim" (or "all") and enables exactly those flags. On error
// returns the message (which name is unknown and the valid ones) and changes nothing.
std::string set_flags(std::string_view list);
// Turns every flag off and restores the default sink.
void reset();
// Where lines go (default stderr). The caller keeps the FILE open.
void set_sink(std::FILE* sink);

// Prints one event line: time in microseconds with ps resolution, the CPU
// (negative: none, e.g. a device event), the subsystem and the formatted text.
void emit(Flag f, Picoseconds when, int cpu, const char* fmt, ...) __attribute__((format(printf, 4, 5)));

}  // namespace numasim::trace

// NUMASIM_TRACE(mm, now, cpu, "fault addr=%#llx", ...): formats only when enabled.
#define NUMASIM_TRACE(flag, when, cpu, ...)                                   \
  do {                                                                        \
    if (__builtin_expect(::numasim::trace::enabled(::numasim::trace::Flag::flag), 0)) \
      ::numasim::trace::emit(::numasim::trace::Flag::flag, (when), (cpu), __VA_ARGS__); \
  } while (0)
