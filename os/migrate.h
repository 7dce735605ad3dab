// Page migration (mm/migrate.c): moving a mapped page to another node with all
// its mappings. The mechanism is Kernel::migrate_pages / unmap_and_move /
// migrate_one (os/migrate.cpp), used by mbind(MPOL_MF_MOVE*) and move_pages;
// this header names why a migration happens (enum migrate_reason, Linux's
// values), for the callers that come with NUMA balancing and compaction.
// Simplified: see migrate.cpp.
#pragma once

namespace numasim::os {

enum migrate_reason {
  MR_COMPACTION,
  MR_MEMORY_FAILURE,
  MR_MEMORY_HOTPLUG,
  MR_SYSCALL,  // move_pages, migrate_pages
  MR_MEMPOLICY_MBIND,
  MR_NUMA_MISPLACED,
  MR_CONTIG_RANGE,
  MR_LONGTERM_PIN,
  MR_DEMOTION,
  MR_TYPES
};

}  // namespace numasim::os
