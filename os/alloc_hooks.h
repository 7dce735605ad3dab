// What the page allocator's slow path (PhysMem::__alloc_pages_slowpath) asks
// of the rest of the kernel, as mm/page_alloc.c calls into mm/vmscan.c,
// mm/compaction.c and mm/oom_kill.c: wake kswapd, direct compaction, direct
// reclaim, the reclaimable-page estimate of should_reclaim_retry, watermark
// boosting after fallback steals, and the OOM killer. The allocator calls them; the Kernel implements them (only
// out_of_memory does something today); the defaults are what a kernel without
// reclaim, compaction or OOM killer does.
// Simplified: no memory cgroups (oom_control has no memcg), no compaction
// priorities beyond the enum, no capture_control.
#pragma once

#include <cstdint>

#include "os/gfp.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"

namespace numasim::os {

// enum compact_result (the values the slow path tells apart).
enum class compact_result { COMPACT_NOT_SUITABLE_ZONE, COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_CONTINUE,
                            COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED, COMPACT_CONTENDED, COMPACT_SUCCESS };
// enum compact_priority: MIN_COMPACT_PRIORITY is the most thorough.
enum compact_priority { COMPACT_PRIO_SYNC_FULL, MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL, COMPACT_PRIO_SYNC_LIGHT,
                        MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT, DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT,
                        COMPACT_PRIO_ASYNC, INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC };

// struct oom_control (no memcg): the failed allocation as out_of_memory sees it.
struct oom_control {
  const zonelist* zl = nullptr;          // the allocation's zonelist
  const nodemask_t* nodemask = nullptr;  // its nodemask (null: all nodes)
  gfp_t gfp_mask = 0;
  int order = 0;
  unsigned memcg_id = 0;  // a memory cgroup's OOM (mem_cgroup_out_of_memory): victims only inside it (0: global)
};

class AllocHooks {
 public:
  virtual ~AllocHooks() = default;
  // wakeup_kswapd(zone, gfp_flags, order, highest_zoneidx): once per node of the zonelist.
  virtual void wakeup_kswapd(zone& z, gfp_t gfp, unsigned order, zone_type highest_zoneidx) {
    (void)z, (void)gfp, (void)order, (void)highest_zoneidx;
  }
  // try_to_compact_pages: COMPACT_SKIPPED until compaction exists.
  virtual compact_result try_to_compact_pages(gfp_t gfp, unsigned order, const zonelist& zl, const nodemask_t* nodemask,
                                              compact_priority prio, KernelCost& cost) {
    (void)gfp, (void)order, (void)zl, (void)nodemask, (void)prio, (void)cost;
    return compact_result::COMPACT_SKIPPED;
  }
  // __alloc_pages_direct_compact got its page in zone z: compaction_defer_reset(z, order, true).
  virtual void compaction_alloc_success(zone& z, unsigned order) { (void)z, (void)order; }
  // try_to_free_pages: pages reclaimed (0 until reclaim exists).
  virtual unsigned long try_to_free_pages(const zonelist& zl, unsigned order, gfp_t gfp, const nodemask_t* nodemask,
                                          KernelCost& cost) {
    (void)zl, (void)order, (void)gfp, (void)nodemask, (void)cost;
    return 0;
  }
  // node_reclaim (zone_reclaim_mode): pages reclaimed on nid before get_page_from_freelist
  // falls past its zone to a farther node (0: NODE_RECLAIM_NOSCAN or NODE_RECLAIM_FULL).
  virtual unsigned long node_reclaim(NodeId nid, gfp_t gfp, unsigned order, CpuId cpu, KernelCost& cost) {
    (void)nid, (void)gfp, (void)order, (void)cpu, (void)cost;
    return 0;
  }
  // zone_reclaimable_pages: what reclaim could still free in the zone (LRU pages).
  virtual unsigned long zone_reclaimable_pages(const zone& z) const {
    (void)z;
    return 0;
  }
  // boost_watermark after a fallback steal below pageblock order: raise the
  // zone's watermark_boost (kswapd reclaims it) and wake kswapd.
  virtual void boost_watermark(zone& z) { (void)z; }
  // out_of_memory: true when it made progress (a victim's memory was freed).
  virtual bool out_of_memory(oom_control& oc, KernelCost& cost) {
    (void)oc, (void)cost;
    return false;
  }
  // __folio_put's mem_cgroup_uncharge: the last reference of a page charged to a
  // memory cgroup (page::memcg_id != 0) went; a block of 2^order pages.
  virtual void uncharge_folio(page* pg, unsigned order) { (void)pg, (void)order; }
};

}  // namespace numasim::os
