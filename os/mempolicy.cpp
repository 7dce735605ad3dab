// NUMA memory policies (mm/mempolicy.c; Linux 6.1 semantics, plus
// MPOL_WEIGHTED_INTERLEAVE, a Linux 6.9 feature, with the interleave-index
// structure of alloc_pages_mpol from Linux 6.7 that it builds on): flag
// sanitising, mpol_new/mpol_set_nodemask validation, the node choice of each
// mode (policy_nodemask, interleave by index or cursor, weighted interleave)
// and alloc_pages_mpol with its NUMA_INTERLEAVE_HIT accounting.
// Simplified: mems_allowed is every node with memory (no cpusets), so
// rebinding on cpuset changes does not exist; the THP-order special case of
// alloc_pages_mpol (try the local node with __GFP_THISNODE first) is left to
// the THP code.
#include "os/mempolicy.h"

#include <cerrno>

#include "os/page_alloc.h"

namespace numasim::os {

// sanitize_mpol_flags.
int sanitize_mpol_flags(int* mode, unsigned short* flags) {
  *flags = static_cast<unsigned short>(*mode & MPOL_MODE_FLAGS);
  *mode &= ~static_cast<int>(MPOL_MODE_FLAGS);
  if (*mode < 0 || *mode >= MPOL_MAX) return -EINVAL;
  if ((*flags & MPOL_F_STATIC_NODES) && (*flags & MPOL_F_RELATIVE_NODES)) return -EINVAL;
  if (*flags & MPOL_F_NUMA_BALANCING) {
    if (*mode != MPOL_BIND) return -EINVAL;
    *flags |= MPOL_F_MOF | MPOL_F_MORON;
  }
  return 0;
}

// mpol_new + mpol_set_nodemask + the per-mode create ops.
int mpol_new(int mode, unsigned short flags, const nodemask_t& nodes, mempolicy& out, const PhysMem& pm) {
  if (mode < 0 || mode >= MPOL_MAX) return -EINVAL;
  const unsigned short user_flags = flags & MPOL_MODE_FLAGS;
  if ((user_flags & MPOL_F_STATIC_NODES) && (user_flags & MPOL_F_RELATIVE_NODES)) return -EINVAL;
  if ((user_flags & MPOL_F_NUMA_BALANCING) && mode != MPOL_BIND) return -EINVAL;
  if (mode == MPOL_DEFAULT) {
    if (!nodes_empty(nodes)) return -EINVAL;
    out = mempolicy{};
    return 0;
  }
  const bool static_or_relative = user_flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES);
  if (mode == MPOL_PREFERRED) {
    if (nodes_empty(nodes)) {
      if (static_or_relative) return -EINVAL;
      mode = MPOL_LOCAL;
    }
  } else if (mode == MPOL_LOCAL) {
    if (!nodes_empty(nodes) || static_or_relative) return -EINVAL;
  } else if (nodes_empty(nodes)) {
    return -EINVAL;
  }

  mempolicy pol;
  pol.mode = mode;
  pol.flags = flags;
  if (mode != MPOL_LOCAL) {
    // mpol_set_nodemask: fold or intersect with the allowed nodes.
    const nodemask_t allowed = pm.node_states_memory();
    nodemask_t eff = (user_flags & MPOL_F_RELATIVE_NODES) ? nodes_relative(nodes, allowed) : nodes_and(nodes, allowed);
    if (nodes_empty(eff)) return -EINVAL;  // create ops: no usable node
    if (static_or_relative) pol.user_nodemask = nodes;
    if (mode == MPOL_PREFERRED) eff = nodemask_of_node(first_node(eff));
    pol.nodes = eff;
  }
  out = pol;
  return 0;
}

nodemask_t mpol_get_nodemask(const mempolicy& pol) {
  if (pol.flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES)) return pol.user_nodemask;
  switch (pol.mode) {
    case MPOL_BIND:
    case MPOL_INTERLEAVE:
    case MPOL_PREFERRED:
    case MPOL_PREFERRED_MANY:
    case MPOL_WEIGHTED_INTERLEAVE:
      return pol.nodes;
    default:
      return nodemask_t{};
  }
}

// interleave_nid: the (ilx mod n)-th node of the policy.
int interleave_nid(const mempolicy& pol, std::uint64_t ilx) {
  const int n = nodes_weight(pol.nodes);
  if (n == 0) return NUMA_NO_NODE;
  return node_nth(pol.nodes, static_cast<int>(ilx % static_cast<std::uint64_t>(n)));
}

static std::uint8_t get_il_weight(int nid, const PhysMem& pm) {
  const auto& w = pm.params().interleave_weights;
  return (nid >= 0 && static_cast<std::size_t>(nid) < w.size() && w[nid]) ? w[nid] : 1;
}

// weighted_interleave_nid: walk the nodes consuming their weights until ilx
// (mod the total weight) is used up.
int weighted_interleave_nid(const mempolicy& pol, std::uint64_t ilx, const PhysMem& pm) {
  if (nodes_empty(pol.nodes)) return NUMA_NO_NODE;
  std::uint64_t total = 0;
  for (int n = first_node(pol.nodes); n < MAX_NUMNODES; n = next_node(n, pol.nodes)) total += get_il_weight(n, pm);
  std::uint64_t target = ilx % total;
  int nid = first_node(pol.nodes);
  while (target) {
    const std::uint8_t w = get_il_weight(nid, pm);
    if (target < w) break;
    target -= w;
    nid = next_node_in(nid, pol.nodes);
  }
  return nid;
}

// interleave_nodes: round robin by the cursor.
int interleave_nodes(mempolicy& pol) {
  const int nid = next_node_in(pol.il_prev, pol.nodes);
  if (nid < MAX_NUMNODES) pol.il_prev = nid;
  return nid < MAX_NUMNODES ? nid : NUMA_NO_NODE;
}

// weighted_interleave_nodes: stay on a node for its weight, then move on.
int weighted_interleave_nodes(mempolicy& pol, const PhysMem& pm) {
  int node = pol.il_prev;
  if (!pol.il_weight || !node_isset(node, pol.nodes)) {
    node = next_node_in(node, pol.nodes);
    if (node == MAX_NUMNODES) return NUMA_NO_NODE;
    pol.il_prev = node;
    pol.il_weight = get_il_weight(node, pm);
  }
  pol.il_weight--;
  return node;
}

// apply_policy_zone: MPOL_BIND only restricts allocations that may use
// policy_zone (normally ZONE_NORMAL); when the bound nodes only have
// ZONE_MOVABLE memory, only movable allocations are restricted.
static bool apply_policy_zone(const mempolicy& pol, zone_type z, const PhysMem& pm) {
  zone_type dynamic = pm.policy_zone();
  bool only_movable = true;
  for (int n = first_node(pol.nodes); n < MAX_NUMNODES; n = next_node(n, pol.nodes)) {
    if (n >= pm.nr_node_ids()) continue;
    const pglist_data& nd = pm.NODE_DATA(NodeId(n));
    for (int t = ZONE_DMA; t < ZONE_MOVABLE; ++t)
      if (nd.node_zones[t].populated()) only_movable = false;
  }
  if (only_movable) dynamic = ZONE_MOVABLE;
  return z >= dynamic;
}

// policy_nodemask.
const nodemask_t* policy_nodemask(gfp_t gfp, mempolicy* pol, std::uint64_t ilx, int* nid, const PhysMem& pm) {
  if (!pol) return nullptr;
  switch (pol->mode) {
    case MPOL_PREFERRED:
      *nid = first_node(pol->nodes);
      return nullptr;
    case MPOL_PREFERRED_MANY:
      if (pol->home_node != NUMA_NO_NODE) *nid = pol->home_node;
      return &pol->nodes;
    case MPOL_BIND: {
      const nodemask_t* mask = apply_policy_zone(*pol, gfp_zone(gfp), pm) ? &pol->nodes : nullptr;
      if (pol->home_node != NUMA_NO_NODE) *nid = pol->home_node;
      return mask;
    }
    case MPOL_INTERLEAVE: {
      int n = ilx == NO_INTERLEAVE_INDEX ? interleave_nodes(*pol) : interleave_nid(*pol, ilx);
      if (n != NUMA_NO_NODE) *nid = n;
      return nullptr;
    }
    case MPOL_WEIGHTED_INTERLEAVE: {
      int n = ilx == NO_INTERLEAVE_INDEX ? weighted_interleave_nodes(*pol, pm) : weighted_interleave_nid(*pol, ilx, pm);
      if (n != NUMA_NO_NODE) *nid = n;
      return nullptr;
    }
    default:  // MPOL_DEFAULT, MPOL_LOCAL: the local node, no mask
      return nullptr;
  }
}

page* alloc_pages_mpol(PhysMem& pm, CpuId cpu, gfp_t gfp, unsigned order, mempolicy* pol, std::uint64_t ilx,
                       KernelCost& cost) {
  int nid = pm.cpu_to_node(cpu).value();  // numa_node_id()
  const nodemask_t* nodemask = policy_nodemask(gfp, pol, ilx, &nid, pm);
  if (pol && pol->mode == MPOL_PREFERRED_MANY) {
    // alloc_pages_preferred_many: the preferred nodes without direct reclaim, then anywhere.
    gfp_t preferred_gfp = (gfp | __GFP_NOWARN) & ~(__GFP_DIRECT_RECLAIM | __GFP_NOFAIL);
    if (page* pg = pm.alloc_pages(cpu, preferred_gfp, order, NodeId(nid), nodemask, cost)) return pg;
    return pm.alloc_pages(cpu, gfp, order, NodeId(nid), nullptr, cost);
  }
  page* pg = pm.alloc_pages(cpu, gfp, order, NodeId(nid), nodemask, cost);
  if (pg && pol && (pol->mode == MPOL_INTERLEAVE || pol->mode == MPOL_WEIGHTED_INTERLEAVE) &&
      pm.page_to_nid(pg).value() == nid)
    pm.count_numa_event(*pm.page_zone(pg), NUMA_INTERLEAVE_HIT);
  return pg;
}

}  // namespace numasim::os
