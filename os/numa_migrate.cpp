// migrate_misplaced_page (mm/migrate.c) for NUMA balancing: a page a hint fault
// found on the wrong node moves to the faulting CPU's node through
// Kernel::migrate_pages, unless the target is nearly full (migrate_balanced_pgdat:
// its high watermark plus the page; in MEMORY_TIERING mode the target's kswapd is
// woken instead, as numamigrate_isolate_page does). Counts numa_pages_migrated
// and, for a slow-tier -> top-tier move, pgpromote_success on the target node.
// Simplified: anonymous pages only (shmem pages are not migrated on hint faults);
// no MR_NUMA_MISPLACED-specific accounting beyond these counters.
#include "os/kernel.h"
#include "os/numa_balancing.h"

namespace numasim::os {

bool NumaBalancing::migrate_misplaced_page(task_struct* t, page* pg, int nid, KernelCost& cost) {
  if (!PageAnon(pg) || PageCompound(pg)) return false;  // THPs are not migrated on hint faults here
  // migrate_balanced_pgdat: some zone of the target keeps its high watermark after the copy.
  const pglist_data& pgdat = k_.pm_.NODE_DATA(NodeId(nid));
  bool balanced = false;
  int last_managed = -1;
  for (int z = MAX_NR_ZONES - 1; z >= 0 && !balanced; --z) {
    const zone& zn = pgdat.node_zones[static_cast<std::size_t>(z)];
    if (!zn.managed_pages) continue;
    if (last_managed < 0) last_managed = z;
    balanced = k_.pm_.zone_watermark_ok(zn, 0, high_wmark_pages(zn) + 1, ZONE_MOVABLE);
  }
  if (!balanced) {
    if ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) && last_managed >= 0) k_.kthreads().wakeup_kswapd(NodeId(nid));
    return false;
  }
  const int src = k_.pm_.page_to_nid(pg).value();
  const std::vector<int> r = k_.migrate_pages({pg}, nid, t, cost);  // MR_NUMA_MISPLACED
  if (r.empty() || r[0] != nid) return false;
  k_.pm_.count_vm_events(t->cpu, NUMA_PAGE_MIGRATE);
  ++migrated_to_[static_cast<std::size_t>(nid)];
  if (!node_is_toptier(src) && node_is_toptier(nid)) k_.pm_.mod_node_page_state(NodeId(nid), PGPROMOTE_SUCCESS, 1);
  return true;
}

}  // namespace numasim::os
