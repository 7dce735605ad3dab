// migrate_misplaced_page (mm/migrate.c) for NUMA balancing: a page a hint fault
// found on the wrong node moves to the faulting CPU's node through
// Kernel::migrate_pages, unless the target is nearly full (migrate_balanced_pgdat:
// its high watermark plus the page; in MEMORY_TIERING mode the target's kswapd is
// woken instead, as numamigrate_isolate_page does). Counts numa_pages_migrated
// and, for a slow-tier -> top-tier move, pgpromote_success on the target node.
// A THP (from do_huge_pmd_numa_page) moves whole or not at all (Linux's nosplit
// for MR_NUMA_MISPLACED): only when PMD-mapped by one process
// (numamigrate_isolate_page refuses a THP with total_mapcount > 1), its
// HPAGE_PMD_NR pages counted; a failed huge allocation counts thp_migration_fail.
// Page-cache pages move too (MIGRATE_ASYNC: one under read or writeback stays),
// with Linux 6.1's two refusals: a dirty file page (not every file system can
// move it asynchronously) and a file page mapped more than once by an executable
// mapping (a shared library's). Simplified: shmem pages are not migrated on hint
// faults; no MR_NUMA_MISPLACED-specific accounting beyond these counters.
#include "os/gfp.h"
#include "os/kernel.h"
#include "os/numa_balancing.h"

namespace numasim::os {

bool NumaBalancing::migrate_misplaced_page(task_struct* t, page* pg, int nid, KernelCost& cost) {
  const bool file = !PageAnon(pg) && !PageSwapBacked(pg);
  if (!PageAnon(pg) && !file) return false;
  if (file) {
    if (PageCompound(pg) || pg->test(PG_dirty)) return false;
    bool exec = false;  // page_mapcount != 1 && VM_EXEC: probably a shared library
    if (pg->mapcount != 1)
      k_.rmap_walk_file(pg, t->cpu, cost, [&](const Kernel::RmapMapping& m) {
        exec |= (m.vma->vm_flags & VM_EXEC) != 0;
        return !exec;
      });
    if (exec) return false;
  }
  std::vector<Kernel::RmapMapping> thp_maps;
  if (PageCompound(pg)) {  // a THP: its head, mapped by one huge PMD and nothing else
    if (!PageTransHuge(pg) || entire_mapcount(pg) != 1) return false;
    thp_maps = k_.thp_pmd_mappings(pg, t->cpu, cost);
    if (thp_maps.size() != 1) return false;
  }
  const unsigned long nr = PageCompound(pg) ? HPAGE_PMD_NR : 1;
  // migrate_balanced_pgdat: some zone of the target keeps its high watermark after the copy.
  const pglist_data& pgdat = k_.pm_.NODE_DATA(NodeId(nid));
  bool balanced = false;
  int last_managed = -1;
  for (int z = MAX_NR_ZONES - 1; z >= 0 && !balanced; --z) {
    const zone& zn = pgdat.node_zones[static_cast<std::size_t>(z)];
    if (!zn.managed_pages) continue;
    if (last_managed < 0) last_managed = z;
    balanced = k_.pm_.zone_watermark_ok(zn, 0, high_wmark_pages(zn) + nr, ZONE_MOVABLE);
  }
  if (!balanced) {
    if ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) && last_managed >= 0) k_.kthreads().wakeup_kswapd(NodeId(nid));
    return false;
  }
  const int src = k_.pm_.page_to_nid(pg).value();
  if (!thp_maps.empty()) {
    if (k_.migrate_thp_whole(pg, thp_maps, nid, GFP_TRANSHUGE_LIGHT | __GFP_THISNODE, nullptr, t->cpu, cost) != nid)
      return false;
  } else if (file) {
    if (k_.migrate_file_page(pg, nid, /*sync=*/false, t->cpu, cost) != nid) return false;  // MIGRATE_ASYNC
  } else {
    const std::vector<int> r = k_.migrate_pages({pg}, nid, t, cost);  // MR_NUMA_MISPLACED
    if (r.empty() || r[0] != nid) return false;
  }
  k_.pm_.count_vm_events(t->cpu, NUMA_PAGE_MIGRATE, nr);
  migrated_to_[static_cast<std::size_t>(nid)] += nr;
  if (!node_is_toptier(src) && node_is_toptier(nid))
    k_.pm_.mod_node_page_state(NodeId(nid), PGPROMOTE_SUCCESS, static_cast<long>(nr));
  return true;
}

}  // namespace numasim::os
