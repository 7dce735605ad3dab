// Page reclaim (mm/vmscan.c): the seam the reclaim issue fills. Today only the
// allocator's wake-up of kswapd is real: the slow path's wakeup_kswapd records
// the order and zone the allocation needed and wakes the node's kswapd thread
// (os/kthread.h), which runs on a simulated CPU of its node; its pass finds
// nothing to reclaim yet (no LRU lists), and direct reclaim frees nothing
// (AllocHooks::try_to_free_pages' default).
// Simplified: no kswapd_failures (hopeless nodes), no pgdat_balanced check
// before waking (kswapd's pass does that), no cpuset check.
#include "common/trace.h"
#include "os/kernel.h"

namespace numasim::os {

// wakeup_kswapd: remember the largest order and the highest zone asked for
// (pgdat->kswapd_order / kswapd_highest_zoneidx) and wake the node's kswapd.
void Kernel::wakeup_kswapd(zone& z, gfp_t gfp, unsigned order, zone_type highest_zoneidx) {
  const NodeId nid(zone_to_nid(z));
  pglist_data& pgdat = *z.zone_pgdat;
  if (order > pgdat.kswapd_order) pgdat.kswapd_order = order;
  if (highest_zoneidx > pgdat.kswapd_highest_zoneidx) pgdat.kswapd_highest_zoneidx = highest_zoneidx;
  const CpuId cpu = ctx_.cpu;
  NUMASIM_TRACE(reclaim, platform_.now(cpu), static_cast<int>(cpu.value()),
                "mm_vmscan_wakeup_kswapd nid=%d order=%u gfp_flags=%#x zid=%d", nid.value(), order,
                static_cast<unsigned>(gfp), static_cast<int>(highest_zoneidx));
  kthreads_->wakeup_kswapd(nid);
}

}  // namespace numasim::os
