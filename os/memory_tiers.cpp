// Memory tiering (mm/memory-tiers.c, Linux 6.1): memory tiers from each node's
// abstract distance (set_node_memory_tier / find_create_memory_tier: a tier per
// MEMTIER_CHUNK_SIZE of distance), establish_demotion_targets (each node's
// preferred targets are the nodes of the next lower tier at the smallest SLIT
// distance; lower_tier_mask every node below; the top tier is every tier up to
// the lowest one holding a node with CPUs), node_is_toptier,
// next_demotion_node, node_get_allowed_targets, and the sysfs files
// /sys/kernel/mm/numa/demotion_enabled and
// /sys/devices/virtual/memory_tiering/memory_tier<N>/nodelist.
// Simplified: tiers are built once at boot (no hotplug, no memory_dev_type
// objects, no mt_calc_adistance notifier chain: the distance comes from
// [os.memory_tiers]); find_next_best_node's penalties (lower node id, node with
// CPUs, node_load) are left out, so the preferred set is exactly the nodes of
// the next tier at the smallest distance; next_demotion_node picks its first
// node instead of node_random (deterministic runs).
#include "os/memory_tiers.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <stdexcept>

#include "common/config.h"
#include "os/kernel.h"

namespace numasim::os {

MemoryTierParams MemoryTierParams::from_config(Config os) {
  MemoryTierParams p;
  Config t = os.table("memory_tiers", "memory tiering: abstract distance per node, demotion (mm/memory-tiers.c)");
  const SourcePos pos = t.position("adistance");
  p.origin = pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  const std::vector<std::int64_t> ad = t.get<std::vector<std::int64_t>>(
      "adistance", {},
      "abstract distance of each node's memory, in node order (DRAM 576; a CXL expander onlined by dax/kmem "
      "2880); missing entries are DRAM");
  for (std::size_t i = 0; i < ad.size(); ++i) {
    if (ad[i] < 0 || ad[i] > (1 << 20)) {
      t.error("adistance", "entry " + std::to_string(i) + " is " + std::to_string(ad[i]) +
                               "; expected an abstract distance in 0..1048576 (DRAM is 576)");
      p.adistance.push_back(MEMTIER_ADISTANCE_DRAM);
      continue;
    }
    p.adistance.push_back(static_cast<int>(ad[i]));
  }
  p.demotion_enabled = t.get<bool>("demotion_enabled", false,
                                   "/sys/kernel/mm/numa/demotion_enabled at boot: reclaim demotes to a lower tier");
  return p;
}

namespace {
// "0-2,5": the %*pbl list format of sysfs nodemasks.
}  // namespace

// memory_tier_init + set_node_memory_tier for every node with memory, then
// establish_demotion_targets.
void Kernel::memory_tiers_init() {
  const MemoryTierParams& p = params_.memtier;
  const int nr = pm_.nr_node_ids();
  if (static_cast<int>(p.adistance.size()) > nr)
    throw std::invalid_argument(p.origin + ": error: [os.memory_tiers] adistance has " +
                                std::to_string(p.adistance.size()) + " entries; the machine has " +
                                std::to_string(nr) + " nodes");
  MemoryTiers& mt = memtiers_;
  mt = MemoryTiers{};
  mt.demotion_enabled = p.demotion_enabled;
  mt.node_tier.assign(static_cast<std::size_t>(nr), -1);
  mt.node_demotion.assign(static_cast<std::size_t>(nr), nodemask_t{});
  const nodemask_t memory = pm_.node_states_memory();
  std::vector<int> start(static_cast<std::size_t>(nr), 0);
  for (int n = first_node(memory); n < MAX_NUMNODES; n = next_node(n, memory)) {
    const int adist = n < static_cast<int>(p.adistance.size()) ? p.adistance[static_cast<std::size_t>(n)]
                                                               : MEMTIER_ADISTANCE_DRAM;
    start[static_cast<std::size_t>(n)] = adist / MEMTIER_CHUNK_SIZE * MEMTIER_CHUNK_SIZE;  // round_down
    auto it = std::find_if(mt.tiers.begin(), mt.tiers.end(),
                           [&](const memory_tier& t) { return t.adistance_start >= start[static_cast<std::size_t>(n)]; });
    if (it == mt.tiers.end() || it->adistance_start != start[static_cast<std::size_t>(n)])
      it = mt.tiers.insert(it, memory_tier{start[static_cast<std::size_t>(n)], {}, {}});
    node_set(n, it->nodes);
  }
  for (int n = first_node(memory); n < MAX_NUMNODES; n = next_node(n, memory))
    for (std::size_t i = 0; i < mt.tiers.size(); ++i)
      if (mt.tiers[i].adistance_start == start[static_cast<std::size_t>(n)]) mt.node_tier[static_cast<std::size_t>(n)] =
          static_cast<int>(i);
  // establish_demotion_targets: the nearest nodes of the next lower tier.
  for (int n = first_node(memory); n < MAX_NUMNODES; n = next_node(n, memory)) {
    const int ti = mt.node_tier[static_cast<std::size_t>(n)];
    if (ti < 0 || ti + 1 >= static_cast<int>(mt.tiers.size())) continue;
    const nodemask_t lower = mt.tiers[static_cast<std::size_t>(ti) + 1].nodes;
    int best = INT_MAX;
    for (int m = first_node(lower); m < MAX_NUMNODES; m = next_node(m, lower))
      best = std::min(best, pm_.node_distance(NodeId(n), NodeId(m)));
    for (int m = first_node(lower); m < MAX_NUMNODES; m = next_node(m, lower))
      if (pm_.node_distance(NodeId(n), NodeId(m)) == best) node_set(m, mt.node_demotion[static_cast<std::size_t>(n)]);
  }
  // The top tier: up to the lowest tier that holds a node with CPUs.
  mt.top_tier_adistance = mt.tiers.empty() ? 0 : mt.tiers.front().adistance_start + MEMTIER_CHUNK_SIZE - 1;
  for (auto it = mt.tiers.rbegin(); it != mt.tiers.rend(); ++it) {
    bool cpus = false;
    for (int m = first_node(it->nodes); m < MAX_NUMNODES; m = next_node(m, it->nodes))
      cpus |= topo_.node(NodeId(m)).has_cpus();
    if (cpus) {
      mt.top_tier_adistance = it->adistance_start + MEMTIER_CHUNK_SIZE - 1;
      break;
    }
  }
  nodemask_t lower_tier = memory;
  for (memory_tier& t : mt.tiers) {
    lower_tier = nodes_andnot(lower_tier, t.nodes);
    t.lower_tier_mask = lower_tier;
  }
}

bool Kernel::node_is_toptier(int nid) const {
  if (nid < 0 || nid >= static_cast<int>(memtiers_.node_tier.size())) return false;  // no pgdat
  const int ti = memtiers_.node_tier[static_cast<std::size_t>(nid)];
  if (ti < 0) return true;  // no memtier
  return memtiers_.tiers[static_cast<std::size_t>(ti)].adistance_start <= memtiers_.top_tier_adistance;
}

int Kernel::next_demotion_node(int nid) const {
  if (nid < 0 || nid >= static_cast<int>(memtiers_.node_demotion.size())) return NUMA_NO_NODE;
  const nodemask_t& pref = memtiers_.node_demotion[static_cast<std::size_t>(nid)];
  return nodes_empty(pref) ? NUMA_NO_NODE : first_node(pref);
}

nodemask_t Kernel::node_get_allowed_targets(int nid) const {
  if (nid < 0 || nid >= static_cast<int>(memtiers_.node_tier.size())) return {};
  const int ti = memtiers_.node_tier[static_cast<std::size_t>(nid)];
  return ti < 0 ? nodemask_t{} : memtiers_.tiers[static_cast<std::size_t>(ti)].lower_tier_mask;
}

bool Kernel::node_demotion_enabled() const { return memtiers_.demotion_enabled; }

namespace {
constexpr std::string_view kDemotionEnabled = "/sys/kernel/mm/numa/demotion_enabled";
constexpr std::string_view kMemtierDir = "/sys/devices/virtual/memory_tiering/memory_tier";

// kstrtobool: y/Y/t/T/1, n/N/f/F/0, on/off; a trailing newline is allowed.
int kstrtobool(std::string_view s, bool* out) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (s.empty()) return -EINVAL;
  switch (s[0]) {
    case 'y': case 'Y': case 't': case 'T': case '1': *out = true; return 0;
    case 'n': case 'N': case 'f': case 'F': case '0': *out = false; return 0;
    case 'o': case 'O':
      if (s.size() < 2) return -EINVAL;
      if (s[1] == 'n' || s[1] == 'N') { *out = true; return 0; }
      if (s[1] == 'f' || s[1] == 'F') { *out = false; return 0; }
      return -EINVAL;
    default: return -EINVAL;
  }
}
}  // namespace

// demotion_enabled_store.
int Kernel::memory_tiers_sysfs_store(std::string_view path, std::string_view value) {
  if (path != kDemotionEnabled) return path.starts_with(kMemtierDir) ? -EACCES : -ENOENT;
  bool v = false;
  if (int err = kstrtobool(value, &v)) return err;
  memtiers_.demotion_enabled = v;
  return 0;
}

// demotion_enabled_show ("true\n" / "false\n") and nodelist_show ("%*pbl\n").
std::optional<std::string> Kernel::memory_tiers_sysfs_show(std::string_view path) const {
  if (path == kDemotionEnabled) return std::string(memtiers_.demotion_enabled ? "true\n" : "false\n");
  if (!path.starts_with(kMemtierDir)) return std::nullopt;
  std::string_view rest = path.substr(kMemtierDir.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0 || rest.substr(slash) != "/nodelist") return std::nullopt;
  for (const memory_tier& t : memtiers_.tiers)
    if (rest.substr(0, slash) == std::to_string(t.dev_id())) return nodemask_pr_list(t.nodes) + "\n";
  return std::nullopt;
}

}  // namespace numasim::os
