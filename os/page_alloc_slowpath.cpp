// The page allocator's slow path (mm/page_alloc.c __alloc_pages_slowpath,
// Linux 6.1): the one place every allocation that missed the low watermark
// goes. gfp_to_alloc_flags, wake_all_kswapds, a retry at WMARK_MIN with the
// request's reserves, direct compaction for costly orders, then the retry
// loop: direct reclaim, direct compaction, should_reclaim_retry (at most
// MAX_RECLAIM_RETRIES rounds without progress), should_compact_retry, and
// __alloc_pages_may_oom -> out_of_memory, retrying while the OOM killer frees
// memory. __GFP_NORETRY stops before the retries, costly orders stop unless
// __GFP_RETRY_MAYFAIL, __GFP_NOFAIL never returns NULL. kswapd, compaction,
// reclaim and the OOM killer are AllocHooks (alloc_hooks.h) the Kernel
// implements; today reclaim and compaction make no progress.
// Simplified: no cpusets (no restart on a cpuset change), no PF_MEMALLOC
// recursion guard, no ALLOC_OOM reserves for OOM victims (the victim's
// allocation fails), no highatomic reserves to unreserve before OOM, no
// write-pending throttling in should_reclaim_retry, no stall warnings; the
// page captured by compaction is not modelled (compaction's result is read
// from the free lists).
#include <cstdio>
#include <cstdlib>

#include "common/trace.h"
#include "os/page_alloc.h"

namespace numasim::os {
namespace {

// gfp_to_alloc_flags: WMARK_MIN, __GFP_HIGH's and non-blocking requests' reserves, kswapd.
unsigned gfp_to_alloc_flags(gfp_t gfp, unsigned order) {
  (void)order;  // ALLOC_HIGHATOMIC for order > 0 non-blocking requests: no highatomic reserves
  unsigned alloc_flags = ALLOC_WMARK_MIN | ALLOC_CPUSET;
  if (gfp & __GFP_HIGH) alloc_flags |= ALLOC_MIN_RESERVE;
  if (gfp & __GFP_KSWAPD_RECLAIM) alloc_flags |= ALLOC_KSWAPD;
  if (!(gfp & __GFP_DIRECT_RECLAIM)) {
    if (!(gfp & __GFP_NOMEMALLOC)) alloc_flags |= ALLOC_NON_BLOCK;
    if (alloc_flags & ALLOC_MIN_RESERVE) alloc_flags &= ~ALLOC_CPUSET;
  }
  return alloc_flags;
}

// __gfp_pfmemalloc_flags without PF_MEMALLOC tasks or OOM victims' ALLOC_OOM.
unsigned gfp_pfmemalloc_flags(gfp_t gfp) {
  if (gfp & __GFP_NOMEMALLOC) return 0;
  if (gfp & __GFP_MEMALLOC) return ALLOC_NO_WATERMARKS;
  return 0;
}

}  // namespace

// __zone_watermark_ok with an explicit free-page count (should_reclaim_retry's
// "available" and __compaction_suitable's estimate).
bool PhysMem::zone_watermark_ok_free(const zone& z, unsigned order, unsigned long mark, zone_type highest_zoneidx,
                                     unsigned alloc_flags, long free_pages) const {
  long min = static_cast<long>(mark);
  free_pages -= (1l << order) - 1;
  if (alloc_flags & ALLOC_MIN_RESERVE) {
    min -= min / 2;
    if (alloc_flags & ALLOC_NON_BLOCK) min -= min / 4;
  }
  if (free_pages <= min + z.lowmem_reserve[highest_zoneidx]) return false;
  if (order == 0) return true;
  for (unsigned o = order; o < MAX_ORDER; ++o) {
    if (z.free_area[o].nr_free == 0) continue;
    for (unsigned mt = 0; mt < MIGRATE_PCPTYPES; ++mt)
      if (!free_list_empty(z, o, mt)) return true;
  }
  return false;
}

// wake_all_kswapds: wakeup_kswapd once per node of the zonelist.
void PhysMem::wake_all_kswapds(unsigned order, gfp_t gfp, const alloc_context& ac) {
  const pglist_data* last_pgdat = nullptr;
  for (const zoneref& zr : ac.zl->_zonerefs) {
    if (zr.zone_idx > ac.highest_zoneidx) continue;
    if (ac.nodemask && !node_isset(zr.nid, *ac.nodemask)) continue;
    if (!zr.z->managed_pages) continue;
    if (last_pgdat != zr.z->zone_pgdat) {
      ++slowpath_stats_.kswapd_wakeups;
      hooks_->wakeup_kswapd(*zr.z, gfp, order, ac.highest_zoneidx);
      last_pgdat = zr.z->zone_pgdat;
    }
  }
}

// __alloc_pages_direct_compact: nothing for order 0; COMPACTSTALL and then
// COMPACTSUCCESS or COMPACTFAIL when compaction ran.
page* PhysMem::__alloc_pages_direct_compact(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                            const alloc_context& ac, compact_priority prio, compact_result& result,
                                            KernelCost& cost) {
  if (order == 0) return nullptr;
  ++slowpath_stats_.direct_compact;
  result = hooks_->try_to_compact_pages(gfp, order, *ac.zl, ac.nodemask, prio, cost);
  if (result == compact_result::COMPACT_SKIPPED) return nullptr;
  count_vm_events(cpu, COMPACTSTALL);
  page* pg = get_page_from_freelist(cpu, gfp, order, alloc_flags, ac, cost);
  if (pg) hooks_->compaction_alloc_success(*page_zone(pg), order);
  count_vm_events(cpu, pg ? COMPACTSUCCESS : COMPACTFAIL);
  return pg;
}

// __alloc_pages_direct_reclaim: __perform_reclaim (try_to_free_pages), then
// one more attempt, with the per-cpu lists drained if that still fails.
page* PhysMem::__alloc_pages_direct_reclaim(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                            const alloc_context& ac, unsigned long& did_some_progress,
                                            KernelCost& cost) {
  ++slowpath_stats_.direct_reclaim;
  did_some_progress = hooks_->try_to_free_pages(*ac.zl, order, gfp, ac.nodemask, cost);
  if (!did_some_progress) return nullptr;
  page* pg = get_page_from_freelist(cpu, gfp, order, alloc_flags, ac, cost);
  if (!pg) {
    drain_all_pages(cost);
    pg = get_page_from_freelist(cpu, gfp, order, alloc_flags, ac, cost);
  }
  return pg;
}

// should_reclaim_retry: give up after MAX_RECLAIM_RETRIES rounds without
// progress (costly orders never count as progress); otherwise retry while some
// zone would pass WMARK_MIN if all its reclaimable pages were freed.
bool PhysMem::should_reclaim_retry(gfp_t gfp, unsigned order, const alloc_context& ac, unsigned alloc_flags,
                                   bool did_some_progress, int& no_progress_loops) {
  (void)gfp;
  if (did_some_progress && order <= PAGE_ALLOC_COSTLY_ORDER)
    no_progress_loops = 0;
  else
    ++no_progress_loops;
  if (no_progress_loops > MAX_RECLAIM_RETRIES) return false;  // (no highatomic reserve to unreserve)
  for (const zoneref& zr : ac.zl->_zonerefs) {
    if (zr.zone_idx > ac.highest_zoneidx) continue;
    if (ac.nodemask && !node_isset(zr.nid, *ac.nodemask)) continue;
    const zone& z = *zr.z;
    const long available =
        static_cast<long>(hooks_->zone_reclaimable_pages(z)) + static_cast<long>(z.stats.vm_stat[NR_FREE_PAGES]);
    if (zone_watermark_ok_free(z, order, z._watermark[WMARK_MIN], ac.highest_zoneidx, alloc_flags, available))
      return true;
  }
  return false;
}

// compaction_zonelist_suitable: would some zone pass __compaction_suitable's
// watermark (min, or low for costly orders, plus compact_gap) if all its
// reclaimable pages were freed.
bool PhysMem::compaction_zonelist_suitable(const alloc_context& ac, unsigned order, unsigned alloc_flags) {
  (void)alloc_flags;
  for (const zoneref& zr : ac.zl->_zonerefs) {
    if (zr.zone_idx > ac.highest_zoneidx) continue;
    if (ac.nodemask && !node_isset(zr.nid, *ac.nodemask)) continue;
    const zone& z = *zr.z;
    const long available =
        static_cast<long>(hooks_->zone_reclaimable_pages(z)) + static_cast<long>(z.stats.vm_stat[NR_FREE_PAGES]);
    const unsigned long mark = z._watermark[order > PAGE_ALLOC_COSTLY_ORDER ? WMARK_LOW : WMARK_MIN] + (2ul << order);
    if (zone_watermark_ok_free(z, 0, mark, ac.highest_zoneidx, 0, available)) return true;
  }
  return false;
}

// should_compact_retry: retry while compaction makes progress (a quarter of the
// retries for costly orders), raise its priority when it failed or withdrew,
// and when it was skipped, retry only if reclaim could make it suitable.
bool PhysMem::should_compact_retry(const alloc_context& ac, unsigned order, unsigned alloc_flags,
                                   compact_result result, compact_priority& prio, int& compaction_retries) {
  if (order == 0) return false;
  if (result == compact_result::COMPACT_SUCCESS) ++compaction_retries;  // compaction_made_progress
  if (result == compact_result::COMPACT_SKIPPED)                        // compaction_needs_reclaim
    return compaction_zonelist_suitable(ac, order, alloc_flags);
  const bool failed_or_withdrawn =
      result == compact_result::COMPACT_COMPLETE || result == compact_result::COMPACT_DEFERRED ||
      result == compact_result::COMPACT_CONTENDED || result == compact_result::COMPACT_PARTIAL_SKIPPED;
  if (!failed_or_withdrawn) {
    const int max_retries = order > PAGE_ALLOC_COSTLY_ORDER ? MAX_COMPACT_RETRIES / 4 : MAX_COMPACT_RETRIES;
    if (compaction_retries <= max_retries) return true;
  }
  // check_priority
  const compact_priority min_priority =
      order > PAGE_ALLOC_COSTLY_ORDER ? MIN_COMPACT_COSTLY_PRIORITY : MIN_COMPACT_PRIORITY;
  if (prio > min_priority) {
    prio = static_cast<compact_priority>(prio - 1);
    compaction_retries = 0;
    return true;
  }
  return false;
}

// __alloc_pages_may_oom: one more attempt at the high watermark, then, unless
// the request may not kill (costly order, __GFP_RETRY_MAYFAIL, __GFP_THISNODE,
// lowmem zones only), out_of_memory; progress when it freed memory.
page* PhysMem::__alloc_pages_may_oom(CpuId cpu, gfp_t gfp, unsigned order, const alloc_context& ac,
                                     unsigned long& did_some_progress, KernelCost& cost) {
  did_some_progress = 0;
  ++slowpath_stats_.may_oom;
  if (page* pg = get_page_from_freelist(cpu, (gfp | __GFP_HARDWALL) & ~__GFP_DIRECT_RECLAIM, order,
                                        ALLOC_WMARK_HIGH | ALLOC_CPUSET, ac, cost))
    return pg;
  if (order > PAGE_ALLOC_COSTLY_ORDER) return nullptr;
  if (gfp & (__GFP_RETRY_MAYFAIL | __GFP_THISNODE)) return nullptr;
  if (ac.highest_zoneidx < ZONE_NORMAL) return nullptr;
  oom_control oc;
  oc.zl = ac.zl;
  oc.nodemask = ac.nodemask;
  oc.gfp_mask = gfp;
  oc.order = static_cast<int>(order);
  ++slowpath_stats_.oom_calls;
  if (hooks_->out_of_memory(oc, cost)) {
    ++slowpath_stats_.oom_progress;
    did_some_progress = 1;
    // __alloc_pages_cpuset_fallback with ALLOC_NO_WATERMARKS for __GFP_NOFAIL.
    if (gfp & __GFP_NOFAIL) return get_page_from_freelist(cpu, gfp, order, ALLOC_NO_WATERMARKS, ac, cost);
  }
  return nullptr;
}

// __alloc_pages_slowpath (see the file comment).
page* PhysMem::__alloc_pages_slowpath(CpuId cpu, gfp_t gfp, unsigned order, alloc_context& ac, KernelCost& cost) {
  ++slowpath_stats_.slowpath;
  NUMASIM_TRACE(alloc, platform_.now(cpu), static_cast<int>(cpu.value()), "alloc_slowpath order=%u gfp=%#x", order,
                static_cast<unsigned>(gfp));
  const bool can_direct_reclaim = gfp & __GFP_DIRECT_RECLAIM;
  const bool costly_order = order > PAGE_ALLOC_COSTLY_ORDER;
  unsigned long did_some_progress = 0;
  compact_priority prio = DEF_COMPACT_PRIORITY;
  compact_result compact = compact_result::COMPACT_SKIPPED;
  int compaction_retries = 0;
  int no_progress_loops = 0;

  unsigned alloc_flags = gfp_to_alloc_flags(gfp, order);
  if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(order, gfp, ac);
  // The adjusted alloc_flags might succeed at once.
  if (page* pg = get_page_from_freelist(cpu, gfp, order, alloc_flags, ac, cost)) return pg;
  // Costly (or unmovable high-order) requests try compaction before reclaim.
  if (can_direct_reclaim && (costly_order || (order > 0 && ac.mt != MIGRATE_MOVABLE)) &&
      !gfp_pfmemalloc_flags(gfp)) {
    if (page* pg = __alloc_pages_direct_compact(cpu, gfp, order, alloc_flags, ac, INIT_COMPACT_PRIORITY, compact,
                                                cost))
      return pg;
    if (costly_order && (gfp & __GFP_NORETRY)) {
      if (compact == compact_result::COMPACT_SKIPPED || compact == compact_result::COMPACT_DEFERRED) goto nopage;
      prio = INIT_COMPACT_PRIORITY;
    }
  }

retry:
  if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(order, gfp, ac);
  if (const unsigned reserve_flags = gfp_pfmemalloc_flags(gfp))
    alloc_flags = reserve_flags | (alloc_flags & ALLOC_KSWAPD);
  if (page* pg = get_page_from_freelist(cpu, gfp, order, alloc_flags, ac, cost)) return pg;
  if (!can_direct_reclaim) goto nopage;
  if (page* pg = __alloc_pages_direct_reclaim(cpu, gfp, order, alloc_flags, ac, did_some_progress, cost)) return pg;
  if (page* pg = __alloc_pages_direct_compact(cpu, gfp, order, alloc_flags, ac, prio, compact, cost)) return pg;
  if (gfp & __GFP_NORETRY) goto nopage;
  if (costly_order && !(gfp & __GFP_RETRY_MAYFAIL)) goto nopage;
  if (should_reclaim_retry(gfp, order, ac, alloc_flags, did_some_progress > 0, no_progress_loops)) {
    ++slowpath_stats_.reclaim_retries;
    goto retry;
  }
  if (did_some_progress > 0 && should_compact_retry(ac, order, alloc_flags, compact, prio, compaction_retries)) {
    ++slowpath_stats_.reclaim_retries;
    goto retry;
  }
  // Reclaim has failed us: start killing things.
  if (page* pg = __alloc_pages_may_oom(cpu, gfp, order, ac, did_some_progress, cost)) return pg;
  if (did_some_progress) {  // retry as long as the OOM killer is making progress
    no_progress_loops = 0;
    goto retry;
  }

nopage:
  if (gfp & __GFP_NOFAIL) {
    // Help non-failing allocations with the __GFP_HIGH reserves, then loop. Linux
    // loops for ever when nothing can free memory; the simulator stops instead.
    if (page* pg = get_page_from_freelist(cpu, gfp, order, alloc_flags | ALLOC_MIN_RESERVE, ac, cost)) return pg;
    if (can_direct_reclaim && did_some_progress) goto retry;
    std::fprintf(stderr, "numasim: __GFP_NOFAIL allocation of order %u cannot be satisfied (Linux would loop)\n",
                 order);
    std::abort();
  }
  ++slowpath_stats_.failed;  // warn_alloc
  NUMASIM_TRACE(alloc, platform_.now(cpu), static_cast<int>(cpu.value()),
                "page allocation failure: order:%u, mode:%#x", order, static_cast<unsigned>(gfp));
  return nullptr;
}

}  // namespace numasim::os
