// Kernel memory statistics, the Linux way (include/linux/mmzone.h, vm_event_item.h,
// mm/vmstat.c): X-macro lists generate each enum and its /proc/vmstat name table
// together. Four families, kept apart as in Linux:
//   zone_stat_item  gauges per zone  (nr_free_pages ...)
//   numa_stat_item  events per zone  (numa_hit ...; summed per node for numastat)
//   node_stat_item  gauges per node  (nr_anon_pages, nr_page_table_pages ...)
//   vm_event_item   events per CPU   (pgalloc_normal, pgfree, pgfault ...)
// Items whose Linux name ends in _B count bytes and _KB kilobytes internally
// (dumped in pages / kB like Linux); all others count pages or events.
// Simplified: no per-cpu deltas with thresholds (counters are exact at once);
// the list is the subset of Linux 6.x that numasim can produce, in Linux's order.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace numasim::os {

// clang-format off
#define NUMASIM_ZONE_STAT_ITEMS(X)                          \
  X(NR_FREE_PAGES, "nr_free_pages")                         \
  X(NR_ZONE_INACTIVE_ANON, "nr_zone_inactive_anon")         \
  X(NR_ZONE_ACTIVE_ANON, "nr_zone_active_anon")             \
  X(NR_ZONE_INACTIVE_FILE, "nr_zone_inactive_file")         \
  X(NR_ZONE_ACTIVE_FILE, "nr_zone_active_file")             \
  X(NR_ZONE_UNEVICTABLE, "nr_zone_unevictable")             \
  X(NR_ZONE_WRITE_PENDING, "nr_zone_write_pending")         \
  X(NR_MLOCK, "nr_mlock")                                   \
  X(NR_BOUNCE, "nr_bounce")                                 \
  X(NR_FREE_CMA_PAGES, "nr_free_cma")

#define NUMASIM_NUMA_STAT_ITEMS(X)                          \
  X(NUMA_HIT, "numa_hit")                                   \
  X(NUMA_MISS, "numa_miss")                                 \
  X(NUMA_FOREIGN, "numa_foreign")                           \
  X(NUMA_INTERLEAVE_HIT, "numa_interleave")                 \
  X(NUMA_LOCAL, "numa_local")                               \
  X(NUMA_OTHER, "numa_other")

#define NUMASIM_NODE_STAT_ITEMS(X)                          \
  X(NR_INACTIVE_ANON, "nr_inactive_anon")                   \
  X(NR_ACTIVE_ANON, "nr_active_anon")                       \
  X(NR_INACTIVE_FILE, "nr_inactive_file")                   \
  X(NR_ACTIVE_FILE, "nr_active_file")                       \
  X(NR_UNEVICTABLE, "nr_unevictable")                       \
  X(NR_SLAB_RECLAIMABLE_B, "nr_slab_reclaimable")           \
  X(NR_SLAB_UNRECLAIMABLE_B, "nr_slab_unreclaimable")       \
  X(NR_ISOLATED_ANON, "nr_isolated_anon")                   \
  X(NR_ISOLATED_FILE, "nr_isolated_file")                   \
  X(WORKINGSET_NODES, "workingset_nodes")                   \
  X(WORKINGSET_REFAULT_ANON, "workingset_refault_anon")     \
  X(WORKINGSET_REFAULT_FILE, "workingset_refault_file")     \
  X(WORKINGSET_ACTIVATE_ANON, "workingset_activate_anon")   \
  X(WORKINGSET_ACTIVATE_FILE, "workingset_activate_file")   \
  X(WORKINGSET_RESTORE_ANON, "workingset_restore_anon")     \
  X(WORKINGSET_RESTORE_FILE, "workingset_restore_file")     \
  X(WORKINGSET_NODERECLAIM, "workingset_nodereclaim")       \
  X(NR_ANON_MAPPED, "nr_anon_pages")                        \
  X(NR_FILE_MAPPED, "nr_mapped")                            \
  X(NR_FILE_PAGES, "nr_file_pages")                         \
  X(NR_FILE_DIRTY, "nr_dirty")                              \
  X(NR_WRITEBACK, "nr_writeback")                           \
  X(NR_WRITEBACK_TEMP, "nr_writeback_temp")                 \
  X(NR_SHMEM, "nr_shmem")                                   \
  X(NR_SHMEM_THPS, "nr_shmem_hugepages")                    \
  X(NR_SHMEM_PMDMAPPED, "nr_shmem_pmdmapped")               \
  X(NR_FILE_THPS, "nr_file_hugepages")                      \
  X(NR_FILE_PMDMAPPED, "nr_file_pmdmapped")                 \
  X(NR_ANON_THPS, "nr_anon_transparent_hugepages")          \
  X(NR_VMSCAN_WRITE, "nr_vmscan_write")                     \
  X(NR_VMSCAN_IMMEDIATE, "nr_vmscan_immediate_reclaim")     \
  X(NR_DIRTIED, "nr_dirtied")                               \
  X(NR_WRITTEN, "nr_written")                               \
  X(NR_THROTTLED_WRITTEN, "nr_throttled_written")           \
  X(NR_KERNEL_MISC_RECLAIMABLE, "nr_kernel_misc_reclaimable") \
  X(NR_FOLL_PIN_ACQUIRED, "nr_foll_pin_acquired")           \
  X(NR_FOLL_PIN_RELEASED, "nr_foll_pin_released")           \
  X(NR_KERNEL_STACK_KB, "nr_kernel_stack")                  \
  X(NR_PAGETABLE, "nr_page_table_pages")                    \
  X(NR_SECONDARY_PAGETABLE, "nr_sec_page_table_pages")      \
  X(NR_SWAPCACHE, "nr_swapcached")                          \
  X(PGPROMOTE_SUCCESS, "pgpromote_success")                 \
  X(PGPROMOTE_CANDIDATE, "pgpromote_candidate")

// Per-zone event groups expand to one item per zone type (TEXTS_FOR_ZONES).
#define NUMASIM_VM_EVENT_ITEMS(X, Z)                        \
  X(PGPGIN, "pgpgin")                                       \
  X(PGPGOUT, "pgpgout")                                     \
  X(PSWPIN, "pswpin")                                       \
  X(PSWPOUT, "pswpout")                                     \
  Z(PGALLOC, "pgalloc")                                     \
  Z(ALLOCSTALL, "allocstall")                               \
  Z(PGSCAN_SKIP, "pgskip")                                  \
  X(PGFREE, "pgfree")                                       \
  X(PGACTIVATE, "pgactivate")                               \
  X(PGDEACTIVATE, "pgdeactivate")                           \
  X(PGLAZYFREE, "pglazyfree")                               \
  X(PGFAULT, "pgfault")                                     \
  X(PGMAJFAULT, "pgmajfault")                               \
  X(PGLAZYFREED, "pglazyfreed")                             \
  X(PGREFILL, "pgrefill")                                   \
  X(PGREUSE, "pgreuse")                                     \
  X(PGSTEAL_KSWAPD, "pgsteal_kswapd")                       \
  X(PGSTEAL_DIRECT, "pgsteal_direct")                       \
  X(PGSTEAL_KHUGEPAGED, "pgsteal_khugepaged")               \
  X(PGDEMOTE_KSWAPD, "pgdemote_kswapd")                     \
  X(PGDEMOTE_DIRECT, "pgdemote_direct")                     \
  X(PGDEMOTE_KHUGEPAGED, "pgdemote_khugepaged")             \
  X(PGSCAN_KSWAPD, "pgscan_kswapd")                         \
  X(PGSCAN_DIRECT, "pgscan_direct")                         \
  X(PGSCAN_KHUGEPAGED, "pgscan_khugepaged")                 \
  X(PGSCAN_DIRECT_THROTTLE, "pgscan_direct_throttle")       \
  X(PGSCAN_ANON, "pgscan_anon")                             \
  X(PGSCAN_FILE, "pgscan_file")                             \
  X(PGSTEAL_ANON, "pgsteal_anon")                           \
  X(PGSTEAL_FILE, "pgsteal_file")                           \
  X(PGSCAN_ZONE_RECLAIM_FAILED, "zone_reclaim_failed")      \
  X(PGINODESTEAL, "pginodesteal")                           \
  X(SLABS_SCANNED, "slabs_scanned")                         \
  X(KSWAPD_INODESTEAL, "kswapd_inodesteal")                 \
  X(KSWAPD_LOW_WMARK_HIT_QUICKLY, "kswapd_low_wmark_hit_quickly")   \
  X(KSWAPD_HIGH_WMARK_HIT_QUICKLY, "kswapd_high_wmark_hit_quickly") \
  X(PAGEOUTRUN, "pageoutrun")                               \
  X(PGROTATED, "pgrotated")                                 \
  X(DROP_PAGECACHE, "drop_pagecache")                       \
  X(DROP_SLAB, "drop_slab")                                 \
  X(OOM_KILL, "oom_kill")                                   \
  X(NUMA_PTE_UPDATES, "numa_pte_updates")                   \
  X(NUMA_HUGE_PTE_UPDATES, "numa_huge_pte_updates")         \
  X(NUMA_HINT_FAULTS, "numa_hint_faults")                   \
  X(NUMA_HINT_FAULTS_LOCAL, "numa_hint_faults_local")       \
  X(NUMA_PAGE_MIGRATE, "numa_pages_migrated")               \
  X(PGMIGRATE_SUCCESS, "pgmigrate_success")                 \
  X(PGMIGRATE_FAIL, "pgmigrate_fail")                       \
  X(THP_MIGRATION_SUCCESS, "thp_migration_success")         \
  X(THP_MIGRATION_FAIL, "thp_migration_fail")               \
  X(THP_MIGRATION_SPLIT, "thp_migration_split")             \
  X(COMPACTMIGRATE_SCANNED, "compact_migrate_scanned")      \
  X(COMPACTFREE_SCANNED, "compact_free_scanned")            \
  X(COMPACTISOLATED, "compact_isolated")                    \
  X(COMPACTSTALL, "compact_stall")                          \
  X(COMPACTFAIL, "compact_fail")                            \
  X(COMPACTSUCCESS, "compact_success")                      \
  X(KCOMPACTD_WAKE, "compact_daemon_wake")                  \
  X(KCOMPACTD_MIGRATE_SCANNED, "compact_daemon_migrate_scanned") \
  X(KCOMPACTD_FREE_SCANNED, "compact_daemon_free_scanned")  \
  X(HTLB_BUDDY_PGALLOC, "htlb_buddy_alloc_success")         \
  X(HTLB_BUDDY_PGALLOC_FAIL, "htlb_buddy_alloc_fail")       \
  X(UNEVICTABLE_PGCULLED, "unevictable_pgs_culled")         \
  X(UNEVICTABLE_PGSCANNED, "unevictable_pgs_scanned")       \
  X(UNEVICTABLE_PGRESCUED, "unevictable_pgs_rescued")       \
  X(UNEVICTABLE_PGMLOCKED, "unevictable_pgs_mlocked")       \
  X(UNEVICTABLE_PGMUNLOCKED, "unevictable_pgs_munlocked")   \
  X(UNEVICTABLE_PGCLEARED, "unevictable_pgs_cleared")       \
  X(UNEVICTABLE_PGSTRANDED, "unevictable_pgs_stranded")     \
  X(THP_FAULT_ALLOC, "thp_fault_alloc")                     \
  X(THP_FAULT_FALLBACK, "thp_fault_fallback")               \
  X(THP_FAULT_FALLBACK_CHARGE, "thp_fault_fallback_charge") \
  X(THP_COLLAPSE_ALLOC, "thp_collapse_alloc")               \
  X(THP_COLLAPSE_ALLOC_FAILED, "thp_collapse_alloc_failed") \
  X(THP_FILE_ALLOC, "thp_file_alloc")                       \
  X(THP_FILE_FALLBACK, "thp_file_fallback")                 \
  X(THP_FILE_FALLBACK_CHARGE, "thp_file_fallback_charge")   \
  X(THP_FILE_MAPPED, "thp_file_mapped")                     \
  X(THP_SPLIT_PAGE, "thp_split_page")                       \
  X(THP_SPLIT_PAGE_FAILED, "thp_split_page_failed")         \
  X(THP_DEFERRED_SPLIT_PAGE, "thp_deferred_split_page")     \
  X(THP_SPLIT_PMD, "thp_split_pmd")                         \
  X(THP_SCAN_EXCEED_NONE_PTE, "thp_scan_exceed_none_pte")   \
  X(THP_SCAN_EXCEED_SWAP_PTE, "thp_scan_exceed_swap_pte")   \
  X(THP_SCAN_EXCEED_SHARED_PTE, "thp_scan_exceed_share_pte") \
  X(THP_ZERO_PAGE_ALLOC, "thp_zero_page_alloc")             \
  X(THP_ZERO_PAGE_ALLOC_FAILED, "thp_zero_page_alloc_failed") \
  X(THP_SWPOUT, "thp_swpout")                               \
  X(THP_SWPOUT_FALLBACK, "thp_swpout_fallback")             \
  X(NR_TLB_REMOTE_FLUSH, "nr_tlb_remote_flush")             \
  X(NR_TLB_REMOTE_FLUSH_RECEIVED, "nr_tlb_remote_flush_received") \
  X(NR_TLB_LOCAL_FLUSH_ALL, "nr_tlb_local_flush_all")       \
  X(NR_TLB_LOCAL_FLUSH_ONE, "nr_tlb_local_flush_one")       \
  X(SWAP_RA, "swap_ra")                                     \
  X(SWAP_RA_HIT, "swap_ra_hit")
// clang-format on

#define NUMASIM_ENUM_ITEM(name, text) name,
#define NUMASIM_ENUM_ZONE_ITEMS(name, text) name##_DMA, name##_DMA32, name##_NORMAL, name##_MOVABLE,

enum zone_stat_item { NUMASIM_ZONE_STAT_ITEMS(NUMASIM_ENUM_ITEM) NR_VM_ZONE_STAT_ITEMS };
enum numa_stat_item { NUMASIM_NUMA_STAT_ITEMS(NUMASIM_ENUM_ITEM) NR_VM_NUMA_EVENT_ITEMS };
enum node_stat_item { NUMASIM_NODE_STAT_ITEMS(NUMASIM_ENUM_ITEM) NR_VM_NODE_STAT_ITEMS };
enum vm_event_item { NUMASIM_VM_EVENT_ITEMS(NUMASIM_ENUM_ITEM, NUMASIM_ENUM_ZONE_ITEMS) NR_VM_EVENT_ITEMS };

// Names as /proc/vmstat prints them.
std::string_view zone_stat_name(zone_stat_item item);
std::string_view numa_stat_name(numa_stat_item item);
std::string_view node_stat_name(node_stat_item item);
std::string_view vm_event_name(vm_event_item item);  // "pgalloc_normal", "pgfree" ...

// Unit of a node stat's raw value: pages, bytes (_B items) or kB (_KB items).
enum class StatUnit { Pages, Bytes, KiloBytes };
StatUnit node_stat_unit(node_stat_item item);
// The value as /proc/vmstat shows it: pages for _B items, kB stays kB.
std::int64_t node_stat_for_vmstat(node_stat_item item, std::int64_t raw);

// Counter blocks; zone and node embed one each, PhysMem keeps vm events per CPU.
struct ZoneStats {
  std::array<std::int64_t, NR_VM_ZONE_STAT_ITEMS> vm_stat{};
  std::array<std::uint64_t, NR_VM_NUMA_EVENT_ITEMS> vm_numa_event{};
};
struct NodeStats {
  std::array<std::int64_t, NR_VM_NODE_STAT_ITEMS> vm_stat{};
};
using VmEvents = std::array<std::uint64_t, NR_VM_EVENT_ITEMS>;

}  // namespace numasim::os
