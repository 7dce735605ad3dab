// Page reclaim's parameters and per-pass state (mm/vmscan.c, mm/swap.c):
// the [os.vm] reclaim sysctls (vm.swappiness, vm.watermark_boost_factor,
// vm.zone_reclaim_mode, vm.min_unmapped_ratio), the cycle costs of reclaim's
// page-struct work ([os.costs] *_cycles), struct scan_control and the per-CPU
// lru_add folio batch. The algorithms are Kernel members (vmscan.cpp, swap.cpp,
// workingset.cpp, mlock.cpp).
// Simplified: no memory cgroups (no per-memcg reclaim or protection), no MGLRU,
// no file pages yet (the file lists stay empty), no dirty/writeback throttling.
#pragma once

#include <array>
#include <cstdint>

#include "os/gfp.h"
#include "os/mmzone.h"

namespace numasim {
class Config;
}

namespace numasim::os {

inline constexpr unsigned FOLIO_BATCH_SIZE = 15;   // struct folio_batch (PAGEVEC_SIZE)
inline constexpr unsigned long SWAP_CLUSTER_MAX = 32;
inline constexpr int DEF_PRIORITY = 12;
inline constexpr unsigned long WORKINGSET_SHIFT = 1;  // the workingset bit in a shadow value

// CPU cycles of reclaim's own work (the memory traffic of its PTE reads is
// timed by the Platform through page_referenced): [os.costs].
struct ReclaimCosts {
  std::uint64_t lru_scan_cycles = 40;      // per page isolated or moved between lists (flags, list links)
  std::uint64_t shrink_page_cycles = 150;  // per page through shrink_folio_list (locking, checks, putback)
  std::uint64_t shrink_node_cycles = 500;  // per shrink_node / balance_pgdat round (counters, scan control)
};

// [os.vm] reclaim tunables.
struct ReclaimParams {
  int swappiness = 60;                      // vm.swappiness, 0..200
  unsigned watermark_boost_factor = 15000;  // vm.watermark_boost_factor, 1/10000 of the high watermark
  int zone_reclaim_mode = 0;                // vm.zone_reclaim_mode (bit 0: reclaim locally before spilling)
  unsigned min_unmapped_ratio = 1;          // vm.min_unmapped_ratio, % of a node's pages
  ReclaimCosts costs;

  // [os.vm] swappiness, watermark_boost_factor, zone_reclaim_mode, min_unmapped_ratio;
  // [os.costs] lru_scan_cycles, shrink_page_cycles, shrink_node_cycles.
  static ReclaimParams from_config(Config os_table);
};

// struct scan_control: one reclaim pass's goal and progress.
struct scan_control {
  unsigned long nr_to_reclaim = 0;
  const nodemask_t* nodemask = nullptr;
  gfp_t gfp_mask = 0;
  int order = 0;
  int priority = DEF_PRIORITY;
  zone_type reclaim_idx = ZONE_MOVABLE;
  bool may_writepage = true;
  bool may_unmap = true;
  bool may_swap = true;
  bool kswapd = false;  // current_is_kswapd()
  bool no_demotion = false;  // reclaim_pages (MADV_PAGEOUT): pages are not demoted to a lower tier
  unsigned may_deactivate = 0;  // DEACTIVATE_ANON | DEACTIVATE_FILE
  bool force_deactivate = false;
  bool skipped_deactivate = false;
  bool file_is_tiny = false;
  bool cache_trim_mode = false;
  std::uint64_t anon_cost = 0, file_cost = 0;  // the lruvec's, at shrink_node
  unsigned long nr_scanned = 0;
  unsigned long nr_reclaimed = 0;
  // Memory cgroups: the cgroup reclaim is for (null: global reclaim; cgroup_reclaim),
  // the lruvec shrink_lruvec works on (null: the node's __lruvec), memory.low
  // honoured unless memcg_low_reclaim, and whether a protected cgroup was skipped.
  struct mem_cgroup* target_mem_cgroup = nullptr;
  struct lruvec* lruvec = nullptr;
  bool memcg_low_reclaim = false;
  bool memcg_low_skipped = false;
  struct {
    unsigned long dirty = 0, unqueued_dirty = 0, congested = 0, writeback = 0, immediate = 0, file_taken = 0,
                  taken = 0;
  } nr;
};
// The end of do_try_to_free_pages for a pass that reclaimed nothing: retry with
// forced deactivation, or (untapped memory.low reserves) with memcg_low_reclaim.
// True: the caller starts over at DEF_PRIORITY.
inline bool scan_control_retry(scan_control& sc) {
  if (sc.skipped_deactivate) {
    sc.priority = DEF_PRIORITY;
    sc.force_deactivate = true;
    sc.skipped_deactivate = false;
    return true;
  }
  if (sc.memcg_low_skipped) {  // untapped cgroup reserves (memory.low): don't OOM, retry
    sc.priority = DEF_PRIORITY;
    sc.force_deactivate = false;
    sc.memcg_low_reclaim = true;
    sc.memcg_low_skipped = false;
    return true;
  }
  return false;
}
inline constexpr unsigned DEACTIVATE_ANON = 1;
inline constexpr unsigned DEACTIVATE_FILE = 2;

// struct reclaim_stat: what shrink_folio_list did with a list.
struct reclaim_stat {
  unsigned nr_dirty = 0, nr_unqueued_dirty = 0, nr_congested = 0, nr_writeback = 0, nr_immediate = 0, nr_pageout = 0;
  std::array<unsigned, 2> nr_activate{};  // [anon, file]
  unsigned nr_ref_keep = 0, nr_unmap_fail = 0, nr_lazyfree_fail = 0;
};

// The per-CPU lru_add folio batch (cpu_fbatches.lru_add).
struct LruAddBatch {
  unsigned nr = 0;
  std::array<page*, FOLIO_BATCH_SIZE> pages{};
};

// reclaim_throttle's reasons (enum vmscan_throttle_state, Linux 6.1).
enum vmscan_throttle_state {
  VMSCAN_THROTTLE_WRITEBACK,
  VMSCAN_THROTTLE_ISOLATED,
  VMSCAN_THROTTLE_NOPROGRESS,
  VMSCAN_THROTTLE_CONGESTED,
  NR_VMSCAN_THROTTLE,
};
// HZ as Debian's kernels (CONFIG_HZ_250): reclaim_throttle's timeouts in jiffies.
inline constexpr std::uint64_t RECLAIM_HZ = 250;
// pgdat's reclaim_throttle state (pg_data_t nr_writeback_throttled, nr_reclaim_start)
// and whether __acct_reclaim_writeback woke the VMSCAN_THROTTLE_WRITEBACK waiters.
struct ReclaimThrottleState {
  int nr_writeback_throttled = 0;
  std::int64_t nr_reclaim_start = 0;  // NR_THROTTLED_WRITTEN when the first waiter slept
  bool writeback_woken = false;
  std::uint64_t nr_throttled[NR_VMSCAN_THROTTLE] = {};  // sleeps by reason (trace point mm_vmscan_throttled)
};

}  // namespace numasim::os
