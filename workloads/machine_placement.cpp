// Placing workloads on a Machine and reading kernel counters by name.
#include "workloads/machine_placement.h"

#include <string>

#include "os/page_token.h"
#include "os/vmstat.h"

namespace numasim::workloads {

std::vector<PlacedWorkload> place_workloads(hw::Machine& machine, std::vector<WorkloadSpec>& specs) {
  std::vector<PlacedWorkload> out;
  // Verify mode: one token per frame, which every core writes and checks.
  bool verify = false;
  for (const auto& spec : specs) verify |= spec.verify;
  if (verify) {
    os::PageTokens& tokens = machine.kernel().page_tokens();
    tokens.enable(machine.kernel().physmem().max_pfn());
    for (int c = 0; c < machine.topology().num_cpus(); ++c) machine.core(CpuId(c)).set_page_tokens(&tokens);
  }
  // The [[cgroup]] hierarchy, made (mkdir + limits) before any process runs.
  if (!specs.empty() && specs.front().cgroups && !machine.kernel().memcgs().enabled())
    for (const os::MemCgroupParams& c : *specs.front().cgroups) machine.kernel().mem_cgroup_create(c);
  for (auto& spec : specs) {
    if (spec.counter_reader && !*spec.counter_reader) *spec.counter_reader = kernel_counter_reader(machine.kernel());
    // Weights in a weighted-interleave policy are system-wide in Linux: written to
    // /sys/kernel/mm/mempolicy/weighted_interleave/node<N> before the process runs.
    // build_workloads rejected workloads that disagree on a node's weight.
    for (const auto& [node, weight] : spec.policy.weights)
      machine.kernel().physmem().set_interleave_weight(NodeId(node), weight);
    PlacedWorkload p;
    p.spec = &spec;
    for (std::size_t t = 0; t < spec.threads.size(); ++t) {
      const ThreadSpec& ts = spec.threads[t];
      if (!ts.make_source) continue;  // a spec with configuration errors; the caller reported them
      hw::TaskRun* run = p.threads.empty() ? machine.add_task(spec.name, ts.make_source(), ts.cpu)
                                           : machine.add_thread(p.threads.front(), ts.make_source(), ts.cpu);
      p.threads.push_back(run);
    }
    if (spec.oom_score_adj && !p.threads.empty()) machine.kernel().set_oom_score_adj(p.threads.front()->pid, spec.oom_score_adj);
    if (spec.cgroup != "/" && !p.threads.empty()) machine.kernel().cgroup_attach_task(p.threads.front()->pid, spec.cgroup);
    out.push_back(std::move(p));
  }
  return out;
}

CounterReader kernel_counter_reader(const os::Kernel& kernel) {
  const os::Kernel* k = &kernel;
  return [k](const std::string& name) -> std::optional<std::int64_t> {
    const auto& pm = k->physmem();
    if (name.rfind("vmstat.", 0) == 0) {
      std::string_view item = std::string_view(name).substr(7);
      auto events = pm.all_vm_events();
      for (int i = 0; i < os::NR_VM_EVENT_ITEMS; ++i)
        if (os::vm_event_name(static_cast<os::vm_event_item>(i)) == item) return static_cast<std::int64_t>(events[i]);
      for (int i = 0; i < os::NR_VM_NUMA_EVENT_ITEMS; ++i)
        if (os::numa_stat_name(static_cast<os::numa_stat_item>(i)) == item)
          return static_cast<std::int64_t>(pm.global_numa_event_state(static_cast<os::numa_stat_item>(i)));
      for (int i = 0; i < os::NR_VM_NODE_STAT_ITEMS; ++i)
        if (os::node_stat_name(static_cast<os::node_stat_item>(i)) == item)
          return pm.global_node_page_state(static_cast<os::node_stat_item>(i));
      return std::nullopt;
    }
    if (name.rfind("node", 0) == 0) {
      auto dot = name.find('.');
      if (dot == std::string::npos || dot == 4) return std::nullopt;
      int nid = 0;
      for (std::size_t i = 4; i < dot; ++i) {
        if (name[i] < '0' || name[i] > '9') return std::nullopt;
        nid = nid * 10 + (name[i] - '0');
        if (nid > 4096) return std::nullopt;
      }
      if (nid >= k->topology().num_nodes()) return std::nullopt;
      std::string_view item = std::string_view(name).substr(dot + 1);
      for (int i = 0; i < os::NR_VM_NUMA_EVENT_ITEMS; ++i)
        if (os::numa_stat_name(static_cast<os::numa_stat_item>(i)) == item)
          return static_cast<std::int64_t>(pm.node_numa_event_state(NodeId(nid), static_cast<os::numa_stat_item>(i)));
      for (int i = 0; i < os::NR_VM_NODE_STAT_ITEMS; ++i)
        if (os::node_stat_name(static_cast<os::node_stat_item>(i)) == item)
          return pm.node_page_state(NodeId(nid), static_cast<os::node_stat_item>(i));
    }
    return std::nullopt;
  };
}

}  // namespace numasim::workloads
