// A NUMA memory policy as users write it in a [[workload]] table (numactl-like
// text: "local", "bind:1", "interleave:0-1", "preferred:0", "preferred-many:0,2",
// "weighted-interleave:0=3,1=1" (a Linux 6.9 feature), "default") and the set_mempolicy(2)/mbind(2)
// calls that install it, with nodemasks encoded as Linux expects them (arrays of
// unsigned long, maxnode = bits + 1).
// Simplified: no MPOL_F_STATIC_NODES/RELATIVE_NODES in the text form (scripts can
// pass any flag); weighted-interleave weights are carried in the spec and
// written to the kernel's system-wide table when the workload is placed (Linux
// sets them in /sys/kernel/mm/mempolicy/weighted_interleave, not through
// set_mempolicy).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/units.h"
#include "hw/op.h"

namespace numasim::workloads {

struct PolicySpec {
  int mode = 0;                                   // abi::kMpolDefault
  std::vector<int> nodes;                         // sorted, unique
  std::vector<std::pair<int, unsigned>> weights;  // weighted-interleave: node -> weight
  std::string text = "default";                   // as written

  bool is_default() const { return mode == 0; }
  // The nodemask as Linux's get_nodes() reads it.
  std::vector<unsigned long> nodemask() const;
  unsigned long maxnode() const;
};

// "0-3,5,7-8" -> {0,1,2,3,5,7,8}; empty text -> empty list.
std::optional<std::vector<int>> parse_id_list(std::string_view text, std::string* why);
// Parses the policy text; nodes must be < num_nodes when num_nodes > 0.
std::optional<PolicySpec> parse_policy(std::string_view text, int num_nodes, std::string* why);

// set_mempolicy(mode, nodemask) for the calling thread; returns the raw result.
long set_task_policy(hw::ThreadContext& ctx, const PolicySpec& policy);
// mbind(addr, len, mode, nodemask, flags) for one range; returns the raw result.
long mbind_range(hw::ThreadContext& ctx, VirtAddr addr, std::uint64_t len, const PolicySpec& policy,
                 unsigned flags = 0);

}  // namespace numasim::workloads
