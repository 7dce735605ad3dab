// `numasim run --proc DIR`: the simulated kernel's /proc and per-node sysfs
// statistics written as files, in Linux 6.1's layouts, so that they can be
// compared with a real machine's with diff:
//   DIR/meminfo vmstat zoneinfo buddyinfo pagetypeinfo slabinfo
//   DIR/node<N>/meminfo numastat vmstat   (/sys/devices/system/node/node<N>/...)
//   DIR/extfrag/unusable_index extfrag_index   (/sys/kernel/debug/extfrag/...)
//   DIR/<pid>/numa_maps   (/proc/<pid>/numa_maps of each live process; NUMA balancing)
// Not written: swaps (no swap yet).
#pragma once

#include <string>

namespace numasim::hw {
class Machine;
}

namespace numasim::cli {

// Creates `dir` (and node<N>/ under it) and writes every file; returns an error
// message, or "" on success.
std::string write_proc_files(hw::Machine& machine, const std::string& dir);

}  // namespace numasim::cli
