// Puts built workloads on a hw::Machine: each WorkloadSpec becomes one process
// (add_task for thread 0, add_thread for the others, sharing its address
// space) with its threads on their CPUs; and a counter reader over the
// simulated kernel's statistics for scripted read_counter steps.
// Counter names: "vmstat.<name>" for /proc/vmstat events and global node and
// numa stats (pgfault, numa_hit, nr_anon_pages ...), "node<N>.<name>" for one
// node's numa stats and node stats (node1.numa_hit, node0.nr_anon_pages).
// The weights of a spec's weighted-interleave policy are written into the
// kernel's system-wide table (as an administrator writes
// /sys/kernel/mm/mempolicy/weighted_interleave/nodeN), overriding [os.vm]
// weighted_interleave for those nodes.
#pragma once

#include <vector>

#include "hw/machine.h"
#include "workloads/workload_spec.h"

namespace numasim::workloads {

struct PlacedWorkload {
  const WorkloadSpec* spec = nullptr;
  std::vector<hw::TaskRun*> threads;  // run records (results after Machine::run())
};

// Creates every thread's OpSource and places it. Sets each spec's counter
// reader to kernel_counter_reader(machine.kernel()) unless one is set already.
std::vector<PlacedWorkload> place_workloads(hw::Machine& machine, std::vector<WorkloadSpec>& specs);

CounterReader kernel_counter_reader(const os::Kernel& kernel);

}  // namespace numasim::workloads
