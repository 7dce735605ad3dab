// The [[workload]] reader and the kind registry.
#include "workloads/workload_factory.h"

#include <algorithm>
#include <iterator>
#include <map>

#include "common/json_writer.h"
#include "workloads/fragment_workload.h"
#include "workloads/gups_workload.h"
#include "workloads/madvise_churn_workload.h"
#include "workloads/memory_hog_workload.h"
#include "workloads/file_stream_workload.h"
#include "workloads/database_workload.h"
#include "workloads/mmap_churn_workload.h"
#include "workloads/phases_workload.h"
#include "workloads/pointer_chase_workload.h"
#include "workloads/producer_consumer_workload.h"
#include "workloads/script_workload.h"
#include "workloads/stream_workload.h"
#include "workloads/strided_workload.h"
#include "workloads/trace_workload.h"
#include "workloads/working_set_workload.h"
#include "workloads/zipf_workload.h"

namespace numasim::workloads {

namespace {
// Ordered map: listing kinds is deterministic. Built-ins are added explicitly
// (self-registering objects in a static library would be dropped by the linker).
std::map<std::string, KindBuilder>& registry() {
  static std::map<std::string, KindBuilder> r = {
      {"stream", &build_stream},
      {"gups", &build_gups},
      {"pointer_chase", &build_pointer_chase},
      {"strided", &build_strided},
      {"zipf", &build_zipf},
      {"mmap_churn", &build_mmap_churn},
      {"madvise_churn", &build_madvise_churn},
      {"producer_consumer", &build_producer_consumer},
      {"memory_hog", &build_memory_hog},
      {"phases", &build_phases},
      {"script", &build_script},
      {"trace", &build_trace},
      {"memory_fragment", &build_fragment},
      {"working_set", &build_working_set},
      {"file_stream", &build_file_stream},
      {"database", &build_database},
  };
  return r;
}
}  // namespace

ThreadInfo WorkloadBuild::thread_info(int thread) const {
  ThreadInfo info;
  info.workload = spec.name;
  info.index = thread;
  info.count = static_cast<int>(spec.threads.size());
  info.seed = spec.seed;
  info.policy = spec.policy;
  info.verify = spec.verify;
  info.results = spec.results;
  return info;
}

int WorkloadBuild::target_node(const std::string& description) {
  int default_node = 0;
  if (!spec.threads.empty()) default_node = topo.num_cpus() > 0 ? topo.cpu_node(spec.threads[0].cpu).value() : 0;
  if (!spec.policy.nodes.empty()) default_node = spec.policy.nodes.front();
  return cfg.get<int>("target_node", default_node, description, {0, std::max(0, topo.num_nodes() - 1)});
}

std::uint64_t WorkloadBuild::node_bytes(int n) const {
  return n >= 0 && n < topo.num_nodes() ? topo.node(NodeId(n)).memory.value() : 0;
}

void register_workload_kind(const std::string& kind, KindBuilder builder) { registry()[kind] = builder; }

std::vector<std::string> workload_kinds() {
  std::vector<std::string> out;
  for (const auto& [k, b] : registry()) out.push_back(k);
  return out;
}

WorkloadSpec build_workload(Config cfg, const Topology& topo, int index) {
  WorkloadSpec spec;
  std::string kinds;
  for (const auto& k : workload_kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
  std::string kind = cfg.require<std::string>("kind", "workload kind: " + kinds);
  auto it = registry().find(kind);
  if (!kind.empty() && it == registry().end())
    cfg.error("kind", "unknown workload kind \"" + kind + "\"; expected one of " + kinds);
  spec.kind = kind;
  spec.name = cfg.get<std::string>("name", (kind.empty() ? std::string("workload") : kind) + std::to_string(index),
                                   "name in reports");
  int threads = cfg.get<int>("threads", 1, "threads of the process", {1, 4096});
  spec.seed = cfg.get<std::uint64_t>("seed", 1, "seed of the workload's random streams");

  // Affinity: cpus, or every CPU of node, or every CPU.
  bool has_cpus = cfg.has("cpus"), has_node = cfg.has("node");
  if (has_cpus && has_node) {
    cfg.get<int>("node", 0, "run on the CPUs of this node");
    cfg.error("node", "give either cpus or node, not both");
  }
  if (has_cpus) {
    auto list = cfg.get<std::vector<std::int64_t>>("cpus", {}, "CPU affinity list");
    for (auto c : list) {
      if (c < 0 || c >= topo.num_cpus()) {
        cfg.error("cpus", "CPU " + std::to_string(c) + " does not exist (the machine has " +
                              std::to_string(topo.num_cpus()) + " CPUs)");
        spec.cpus.clear();
        break;
      }
      spec.cpus.push_back(CpuId(static_cast<std::int32_t>(c)));
    }
    if (list.empty()) cfg.error("cpus", "empty CPU list");
  } else if (has_node) {
    int node = cfg.get<int>("node", 0, "run on the CPUs of this node", {0, std::max(0, topo.num_nodes() - 1)});
    if (node < topo.num_nodes()) {
      spec.cpus = topo.node(NodeId(node)).cpus;
      if (spec.cpus.empty()) cfg.error("node", "node " + std::to_string(node) + " has no CPUs (memory-only node)");
    }
  }
  if (spec.cpus.empty())
    for (int c = 0; c < topo.num_cpus(); ++c) spec.cpus.push_back(CpuId(c));

  std::string policy =
      cfg.get<std::string>("policy", "default", "memory policy (numactl-like: bind:1, interleave:0-1, ...)");
  std::string why;
  auto ps = parse_policy(policy, topo.num_nodes(), &why);
  if (ps)
    spec.policy = *ps;
  else
    cfg.error("policy", why);

  // Verify mode: only kinds whose touches go through Generator::touch support it.
  static const char* const kVerifyKinds[] = {"memory_hog", "working_set", "script"};
  // /proc/<pid>/oom_score_adj, written before the process runs (oom_badness's bias).
  spec.oom_score_adj = cfg.get<int>("oom_score_adj", 0, "OOM killer bias, -1000 (never) .. 1000", {-1000, 1000});
  spec.verify = cfg.get<bool>("verify", false,
                              "write a page identity token with every store and check it with every load (memory_hog, "
                              "working_set, script)");
  if (spec.verify && it != registry().end() &&
      std::find(std::begin(kVerifyKinds), std::end(kVerifyKinds), kind) == std::end(kVerifyKinds))
    cfg.error("verify", "workload kind \"" + kind + "\" has no verify mode (memory_hog, working_set and script have)");

  spec.results = std::make_shared<WorkloadResults>(spec.name, spec.kind);
  spec.threads.resize(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t)
    spec.threads[t].cpu = spec.cpus.empty() ? CpuId(0) : spec.cpus[static_cast<std::size_t>(t) % spec.cpus.size()];
  if (it != registry().end()) {
    WorkloadBuild b{cfg, topo, spec, index, has_cpus || has_node};
    it->second(b);
  }
  return spec;
}

std::vector<WorkloadSpec> build_workloads(Config root, const Topology& topo) {
  std::vector<WorkloadSpec> out;
  int i = 0;
  // Weighted-interleave weights are system-wide (one sysfs table): workloads must agree.
  std::map<int, std::pair<unsigned, int>> weight_of;  // node -> (weight, workload index)
  // [[cgroup]]: the memory cgroup v2 hierarchy the workloads' `cgroup` keys name.
  auto cgroups = std::make_shared<const std::vector<os::MemCgroupParams>>(os::parse_cgroups(root));
  for (Config t : root.tables("workload", "a simulated process")) {
    out.push_back(build_workload(t, topo, i));
    out.back().cgroups = cgroups;
    out.back().cgroup = t.get<std::string>("cgroup", "/", "memory cgroup the process runs in (a [[cgroup]] path)");
    if (out.back().cgroup != "/" &&
        std::none_of(cgroups->begin(), cgroups->end(), [&](const auto& c) { return c.path == out.back().cgroup; }))
      t.error("cgroup", "no [[cgroup]] with path \"" + bounded_for_message(out.back().cgroup) + "\"");
    for (const auto& [node, weight] : out.back().policy.weights) {
      auto [it, fresh] = weight_of.emplace(node, std::pair{weight, i});
      if (!fresh && it->second.first != weight)
        t.error("policy", "weighted-interleave weight " + std::to_string(weight) + " for node " + std::to_string(node) +
                              " differs from workload[" + std::to_string(it->second.second) + "]'s " +
                              std::to_string(it->second.first) +
                              ": the weights are system-wide (/sys/kernel/mm/mempolicy/weighted_interleave)");
    }
    ++i;
  }
  return out;
}

std::string workloads_results_json(const std::vector<WorkloadSpec>& specs, bool pretty) {
  JsonWriter j(pretty);
  j.begin_array();
  for (const auto& s : specs)
    if (s.results) j.raw(s.results->to_json(pretty));
  j.end_array();
  return j.str();
}

}  // namespace numasim::workloads
