// Builds the simulated processes from the configuration's [[workload]] tables.
// Keys common to every kind:
//   kind    = "stream" | "gups" | "pointer_chase" | "strided" | "zipf" | "mmap_churn" |
//             "madvise_churn" | "producer_consumer" | "memory_hog" | "phases" | "script" | "trace" |
//             "working_set"
//   name    = "..."            (default: kind and index, e.g. "stream0")
//   threads = 1
//   cpus    = [0, 1]           CPU affinity list; thread i runs on cpus[i % len]
//   node    = 1                or: every CPU of this node (not both)
//   policy  = "bind:1"         numactl-like text, see policy_spec.h (default "default")
//   seed    = 1
// and the kind's own keys (see each generator's header). A registry maps a kind
// to its builder; the lookup happens once per workload, never per op.
// Errors (unknown kind, bad values, CPUs that do not exist) are recorded as
// configuration diagnostics with file:line:column; the caller calls
// ConfigDocument::finish() (or check()) afterwards.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "workloads/generator.h"
#include "workloads/workload_spec.h"

namespace numasim::workloads {

// What a kind's builder gets: its table, the machine, and the spec to complete.
// spec.threads is already sized and placed; the builder sets make_source of
// each thread (and may re-place threads when cpus_given is false).
struct WorkloadBuild {
  Config cfg;
  const Topology& topo;
  WorkloadSpec& spec;
  int index = 0;            // position in [[workload]]
  bool cpus_given = false;  // cpus or node was written

  ThreadInfo thread_info(int thread) const;
  // The `target_node` key (whose memory size sets a kind's default sizes):
  // default the policy's first node, else the first thread's node, else 0.
  int target_node(const std::string& description);
  // MemTotal of node n as the topology gives it (0 for a node that does not exist).
  std::uint64_t node_bytes(int n) const;
};

using KindBuilder = void (*)(WorkloadBuild& build);

// Adds (or replaces) a kind; the built-in kinds are registered on first use.
void register_workload_kind(const std::string& kind, KindBuilder builder);
std::vector<std::string> workload_kinds();

// Every [[workload]] table of the configuration root, in order.
std::vector<WorkloadSpec> build_workloads(Config root, const Topology& topo);
// One [[workload]] table (index = its position, used for default names and seeds).
WorkloadSpec build_workload(Config table, const Topology& topo, int index);

// JSON array of every workload's results, in order (for the run's "workloads").
std::string workloads_results_json(const std::vector<WorkloadSpec>& specs, bool pretty = true);

}  // namespace numasim::workloads
