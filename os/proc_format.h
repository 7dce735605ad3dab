// Text dumps of the simulated kernel's memory statistics in Linux's exact
// layouts, so they can be compared line by line with a real machine:
//   /proc/vmstat, /proc/meminfo, /sys/devices/system/node/nodeN/meminfo,
//   /sys/devices/system/node/nodeN/numastat, nodeN/vmstat, /proc/buddyinfo,
//   /proc/pagetypeinfo (free block part), /proc/zoneinfo (a subset), and the
//   table of numastat(8).
// Simplified: meminfo fields the simulator cannot know (Buffers, Committed_AS,
// VmallocTotal ...) are printed as 0 or from the nearest modelled quantity,
// as each function documents; hugetlb figures come from the caller.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"

namespace numasim::os {

class PhysMem;

// HugeTLB pool figures, owned by the hugetlb code; passed in for meminfo.
struct HugetlbInfo {
  std::uint64_t total = 0, free = 0, rsvd = 0, surp = 0;
  std::uint64_t page_size_kb = 2048;
  std::uint64_t all_hstates_kb = 0;  // Hugetlb: every hstate's pages (0: this hstate's only)
};

// Swap totals for meminfo (SwapTotal, SwapFree, CommitLimit), in pages; owned by the swap code.
struct SwapMeminfo {
  std::uint64_t total = 0, free = 0;
};

// One line of /proc/swaps (swap_show): sizes in kB.
struct SwapsLine {
  std::string filename;
  std::string type = "partition";  // "partition" for block devices, "file" for swap files
  std::uint64_t size_kb = 0, used_kb = 0;
  int priority = 0;
};
// /proc/swaps in Linux's layout (header, then one line per area in swapon order).
std::string proc_swaps(const std::vector<SwapsLine>& areas);

// One figure of a /proc or sysfs file, by the name the file gives it (without
// the colon): the text dumps below are printed from these lists, and the JSON
// report reads the same lists, so the two never disagree and nothing parses text.
struct ProcField {
  std::string_view name;
  std::uint64_t value = 0;  // as the file prints it: pages, events, kB or a count
};
// /proc/vmstat, in its order.
std::vector<ProcField> vmstat_fields(const PhysMem& pm);
// nodeN/meminfo: kB figures, then HugePages_Total/Free/Surp (counts).
std::vector<ProcField> node_meminfo_fields(const PhysMem& pm, NodeId nid, const HugetlbInfo& huge = {});
// nodeN/numastat.
std::vector<ProcField> node_numastat_fields(const PhysMem& pm, NodeId nid);

std::string proc_vmstat(const PhysMem& pm);
std::string proc_meminfo(const PhysMem& pm, const HugetlbInfo& huge = {}, const SwapMeminfo& swap = {});
std::string node_meminfo(const PhysMem& pm, NodeId nid, const HugetlbInfo& huge = {});
std::string node_numastat(const PhysMem& pm, NodeId nid);
// /sys/devices/system/node/nodeN/vmstat.
std::string node_vmstat(const PhysMem& pm, NodeId nid);
// The writeback thresholds of /proc/vmstat, in pages.
struct DirtyLimits {
  std::uint64_t dirty = 0, background = 0;
};
DirtyLimits global_dirty_limits(const PhysMem& pm);
std::string proc_buddyinfo(const PhysMem& pm);
std::string proc_pagetypeinfo(const PhysMem& pm);
std::string proc_zoneinfo(const PhysMem& pm);
// `numastat` with no arguments: per-node columns numa_hit ... other_node.
std::string numastat_table(const PhysMem& pm);

// The same figures as JSON: {"vmstat": {name: value...}, "nodes": [{"node": n,
// "numastat": {...}, "stats": {node stats...}, "zones": [{"zone": "Normal",
// "free_pages", "min", "low", "high", "spanned", "present", "managed",
// "protection": [...], "buddyinfo": [...], "stats": {zone stats...}}]}]}.
// Names are the /proc/vmstat names; values in the same units as there.
std::string physmem_json(const PhysMem& pm, bool pretty = true);

}  // namespace numasim::os
