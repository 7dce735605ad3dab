// NUMA memory policy objects and node choice (mm/mempolicy.c,
// include/uapi/linux/mempolicy.h): the policy a task or VMA carries, mpol_new's
// validation with the errors set_mempolicy(2)/mbind(2) document, and
// alloc_pages_mpol, which turns a policy into a preferred node and nodemask and
// allocates. The system calls themselves (argument copying, VMA walking) belong
// to os/syscalls. Simplified: no cpusets (mems_allowed = nodes with memory), so
// MPOL_F_STATIC_NODES/RELATIVE_NODES only matter when the policy is created; no
// shared (shmem) policies; the per-task interleave cursor (Linux's
// current->il_prev/il_weight) lives in the policy object.
#pragma once

#include <cstdint>
#include <limits>

#include "os/gfp.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"

namespace numasim::os {

class PhysMem;

// Policy modes: same numeric values as Linux's uapi.
enum {
  MPOL_DEFAULT,
  MPOL_PREFERRED,
  MPOL_BIND,
  MPOL_INTERLEAVE,
  MPOL_LOCAL,
  MPOL_PREFERRED_MANY,
  MPOL_WEIGHTED_INTERLEAVE,  // Linux 6.9 (not in 6.1)
  MPOL_MAX,
};

// Mode flags passed in the high bits of `mode` (uapi values).
inline constexpr unsigned short MPOL_F_STATIC_NODES = 1 << 15;
inline constexpr unsigned short MPOL_F_RELATIVE_NODES = 1 << 14;
inline constexpr unsigned short MPOL_F_NUMA_BALANCING = 1 << 13;
inline constexpr unsigned short MPOL_MODE_FLAGS = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;
// Internal flags (kernel-only in Linux): migrate on fault, and NUMA-balancing opt-in.
inline constexpr unsigned short MPOL_F_MOF = 1 << 3;
inline constexpr unsigned short MPOL_F_MORON = 1 << 4;

// Index meaning "interleave by the per-task cursor" (Linux's NO_INTERLEAVE_INDEX).
inline constexpr std::uint64_t NO_INTERLEAVE_INDEX = std::numeric_limits<std::uint64_t>::max();

struct mempolicy {
  int mode = MPOL_DEFAULT;
  unsigned short flags = 0;    // MPOL_F_* mode flags (and MPOL_F_MOF/MORON)
  nodemask_t nodes{};          // effective nodes (after folding onto nodes with memory)
  nodemask_t user_nodemask{};  // as the user gave it (STATIC/RELATIVE_NODES)
  int home_node = NUMA_NO_NODE;
  // Interleave cursor for NO_INTERLEAVE_INDEX (current->il_prev, il_weight).
  int il_prev = MAX_NUMNODES - 1;
  std::uint8_t il_weight = 0;
};

// sanitize_mpol_flags: splits a syscall's `mode` argument into mode and flags and
// checks them; 0 or -EINVAL.
int sanitize_mpol_flags(int* mode, unsigned short* flags);

// mpol_new + mpol_set_nodemask: validates mode/flags/nodes as set_mempolicy(2) and
// mbind(2) specify and fills `out`. Returns 0 or -EINVAL (unknown mode, both
// STATIC and RELATIVE, NUMA_BALANCING without MPOL_BIND, nodes given for
// MPOL_DEFAULT/MPOL_LOCAL, empty nodes where a mode needs them, no node with
// memory in the mask). MPOL_DEFAULT gives mode MPOL_DEFAULT (meaning "no
// policy"); MPOL_PREFERRED with empty nodes becomes MPOL_LOCAL, as in Linux.
int mpol_new(int mode, unsigned short flags, const nodemask_t& nodes, mempolicy& out, const PhysMem& pm);

// get_policy_nodemask as get_mempolicy(2) reports it (user mask for STATIC/RELATIVE).
nodemask_t mpol_get_nodemask(const mempolicy& pol);

// Node choice for interleave by index (interleave_nid / weighted_interleave_nid)
// and by cursor (interleave_nodes / weighted_interleave_nodes).
int interleave_nid(const mempolicy& pol, std::uint64_t ilx);
int weighted_interleave_nid(const mempolicy& pol, std::uint64_t ilx, const PhysMem& pm);
int interleave_nodes(mempolicy& pol);
int weighted_interleave_nodes(mempolicy& pol, const PhysMem& pm);

// policy_nodemask: preferred node (in/out, starts as the allocating CPU's node)
// and nodemask (nullptr = none) for an allocation under `pol`.
const nodemask_t* policy_nodemask(gfp_t gfp, mempolicy* pol, std::uint64_t ilx, int* nid, const PhysMem& pm);

// alloc_pages_mpol: allocates under `pol` (nullptr = default local policy) from
// `cpu`. `ilx` is the interleave index (VMA page offset >> order) or
// NO_INTERLEAVE_INDEX to use the policy's cursor. Counts NUMA_INTERLEAVE_HIT when
// an interleaved allocation lands on its target node.
page* alloc_pages_mpol(PhysMem& pm, CpuId cpu, gfp_t gfp, unsigned order, mempolicy* pol, std::uint64_t ilx,
                       KernelCost& cost);

// The policy in effect for a node choice when none is set (default_policy: local).
inline bool mpol_is_default(const mempolicy* pol) { return !pol || pol->mode == MPOL_DEFAULT; }

}  // namespace numasim::os
