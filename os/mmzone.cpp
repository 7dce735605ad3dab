// Helpers for nodes and zones that are not worth inlining: nodemask ordinal
// lookups used by mempolicy (bitmap_ord_to_pos, nodes_fold/nodes_onto) and zone names.
#include "os/mmzone.h"

namespace numasim::os {

int node_nth(const nodemask_t& m, int n) {
  if (n < 0) return MAX_NUMNODES;
  std::uint64_t bits = m.bits;
  for (int i = 0; i < n && bits; ++i) bits &= bits - 1;  // drop the lowest set bit n times
  return bits ? std::countr_zero(bits) : MAX_NUMNODES;
}

// mpol_relative_nodemask: nodes_fold(user, weight(rel)) then nodes_onto(rel).
nodemask_t nodes_relative(const nodemask_t& user, const nodemask_t& rel) {
  nodemask_t out{};
  int w = nodes_weight(rel);
  if (w == 0) return out;
  for (int n = first_node(user); n < MAX_NUMNODES; n = next_node(n, user)) {
    node_set(node_nth(rel, n % w), out);
  }
  return out;
}

const char* zone_name(zone_type t) {
  switch (t) {
    case ZONE_DMA:
      return "DMA";
    case ZONE_DMA32:
      return "DMA32";
    case ZONE_NORMAL:
      return "Normal";
    case ZONE_MOVABLE:
      return "Movable";
    default:
      return "?";
  }
}

std::string nodemask_pr_list(const nodemask_t& m) {
  std::string out;
  for (int n = first_node(m); n < MAX_NUMNODES;) {
    int last = n;
    while (last + 1 < MAX_NUMNODES && node_isset(last + 1, m)) ++last;
    if (!out.empty()) out += ',';
    out += std::to_string(n);
    if (last > n) {
      out += '-';
      out += std::to_string(last);
    }
    n = next_node(last, m);
  }
  return out;
}

}  // namespace numasim::os
