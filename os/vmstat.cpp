// Name tables of the vm counters (mm/vmstat.c vmstat_text), generated from the
// same X-macro lists as the enums in vmstat.h so the two cannot drift apart.
#include "os/vmstat.h"

#include <cstdio>
#include <cstdlib>

namespace numasim::os {
namespace {

#define NUMASIM_NAME_ITEM(name, text) text,
#define NUMASIM_NAME_ZONE_ITEMS(name, text) text "_dma", text "_dma32", text "_normal", text "_movable",

constexpr std::string_view kZoneStatNames[] = {NUMASIM_ZONE_STAT_ITEMS(NUMASIM_NAME_ITEM)};
constexpr std::string_view kNumaStatNames[] = {NUMASIM_NUMA_STAT_ITEMS(NUMASIM_NAME_ITEM)};
constexpr std::string_view kNodeStatNames[] = {NUMASIM_NODE_STAT_ITEMS(NUMASIM_NAME_ITEM)};
constexpr std::string_view kVmEventNames[] = {NUMASIM_VM_EVENT_ITEMS(NUMASIM_NAME_ITEM, NUMASIM_NAME_ZONE_ITEMS)};

static_assert(std::size(kZoneStatNames) == NR_VM_ZONE_STAT_ITEMS);
static_assert(std::size(kNumaStatNames) == NR_VM_NUMA_EVENT_ITEMS);
static_assert(std::size(kNodeStatNames) == NR_VM_NODE_STAT_ITEMS);
static_assert(std::size(kVmEventNames) == NR_VM_EVENT_ITEMS);

template <std::size_t N>
std::string_view lookup(const std::string_view (&table)[N], int item, const char* what) {
  if (item < 0 || static_cast<std::size_t>(item) >= N) {
    std::fprintf(stderr, "numasim: bad %s counter index %d\n", what, item);
    std::abort();
  }
  return table[item];
}

}  // namespace

std::string_view zone_stat_name(zone_stat_item item) { return lookup(kZoneStatNames, item, "zone stat"); }
std::string_view numa_stat_name(numa_stat_item item) { return lookup(kNumaStatNames, item, "numa stat"); }
std::string_view node_stat_name(node_stat_item item) { return lookup(kNodeStatNames, item, "node stat"); }
std::string_view vm_event_name(vm_event_item item) { return lookup(kVmEventNames, item, "vm event"); }

StatUnit node_stat_unit(node_stat_item item) {
  switch (item) {
    case NR_SLAB_RECLAIMABLE_B:
    case NR_SLAB_UNRECLAIMABLE_B:
      return StatUnit::Bytes;
    case NR_KERNEL_STACK_KB:
      return StatUnit::KiloBytes;
    default:
      return StatUnit::Pages;
  }
}

// node_page_state_pages(): byte counters are shown in pages in /proc/vmstat.
std::int64_t node_stat_for_vmstat(node_stat_item item, std::int64_t raw) {
  return node_stat_unit(item) == StatUnit::Bytes ? raw / 4096 : raw;
}

}  // namespace numasim::os
