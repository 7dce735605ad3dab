// Page reclaim (mm/vmscan.c, Linux 6.1 without MGLRU): the allocator's
// wakeup_kswapd (hopeless or balanced nodes are not woken), kswapd<N>'s work
// (kswapd_try_to_sleep's short sleep with kswapd_low/high_wmark_hit_quickly,
// balance_pgdat with priorities 12..1 to the high watermark plus its boost,
// pageoutrun, kswapd_failures), direct reclaim (try_to_free_pages ->
// do_try_to_free_pages -> shrink_zones, allocstall_<zone>, the force_deactivate
// retry), shrink_node (prepare_scan_count: may_deactivate from refaults and
// inactive_is_low, cache_trim_mode, file_is_tiny), shrink_lruvec with
// get_scan_count (swappiness 0..200 against the anon/file reclaim cost;
// SCAN_FILE while no swap space exists), shrink_active_list (pgrefill,
// pgdeactivate, PG_workingset), shrink_inactive_list (pgscan_*/pgsteal_*),
// shrink_folio_list over the swap seam (os/swap.h: add_to_swap, try_to_unmap,
// pageout, workingset_eviction + remove_swapcache_mapping, then free),
// isolation with a reference and putback (move_folios_to_lru),
// zone_reclaimable_pages for should_reclaim_retry, node_reclaim
// (zone_reclaim_mode / min_unmapped_ratio) and the [os.vm] knobs.
// kswapd's work is charged to its own KernelCost on its CPU: page_referenced's
// PTE reads and writes through the Platform, page-struct work as cycles
// (ReclaimCosts).
// Memory cgroups: shrink_node iterates the cgroups of the reclaim target
// (shrink_node_memcgs) with memory.min/low protection scaling each scan
// (mem_cgroup_protection); try_to_free_mem_cgroup_pages is in memcontrol.cpp.
// Simplified: no slab shrinkers, no writeback throttling or
// congestion waits, no compaction-driven continuation (should_continue_reclaim),
// no proportional scan rebalancing at the end of shrink_lruvec, folio_activate
// in mark_page_accessed is immediate; shmem pages go to swap through
// shmem_writepage (os/shmem.cpp); the allocator does not call
// node_reclaim yet (see node_reclaim); the watermark boost raises kswapd's
// target only (the allocator's own watermark checks ignore it).
#include <algorithm>
#include <cmath>

#include "common/config.h"
#include "common/trace.h"
#include "os/kernel.h"
#include "os/mm_inline.h"

namespace numasim::os {

ReclaimParams ReclaimParams::from_config(Config os) {
  ReclaimParams p;
  Config vm = os.table("vm", "virtual-memory tunables (Linux sysctl vm.*)");
  p.swappiness = vm.get<int>("swappiness", p.swappiness, "anon vs file reclaim balance (vm.swappiness)", {0, 200});
  p.watermark_boost_factor =
      vm.get<unsigned>("watermark_boost_factor", p.watermark_boost_factor,
                       "watermark boost after a fallback steal, 1/10000 of the high watermark", {0, 1u << 30});
  p.zone_reclaim_mode = vm.get<int>("zone_reclaim_mode", p.zone_reclaim_mode,
                                    "reclaim on the local node before spilling (bit 0; 2 = write, 4 = unmap)", {0, 7});
  p.min_unmapped_ratio = vm.get<unsigned>("min_unmapped_ratio", p.min_unmapped_ratio,
                                          "% of a node's pages that must be unmapped page cache for node_reclaim",
                                          {0u, 100u});
  Config c = os.table("costs", "kernel CPU costs in cycles");
  auto cyc = [&](const char* key, std::uint64_t def, const char* what) {
    return static_cast<std::uint64_t>(
        c.get<std::int64_t>(key, static_cast<std::int64_t>(def), what, {std::int64_t{0}, std::int64_t{100000000}}));
  };
  p.costs.lru_scan_cycles = cyc("lru_scan_cycles", p.costs.lru_scan_cycles, "per page isolated or put back by reclaim");
  p.costs.shrink_page_cycles =
      cyc("shrink_page_cycles", p.costs.shrink_page_cycles, "per page through shrink_folio_list");
  p.costs.shrink_node_cycles = cyc("shrink_node_cycles", p.costs.shrink_node_cycles, "per shrink_node round");
  return p;
}

namespace {
std::uint64_t isqrt(std::uint64_t x) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(x)));
  while (r * r > x) --r;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
}
unsigned long high_wmark_boosted(const zone& z) { return z._watermark[WMARK_HIGH] + z.watermark_boost; }
// The lruvec's pages of `lru` in zones up to reclaim_idx (lruvec_lru_size).
unsigned long lruvec_lru_size(const lruvec& lv, const pglist_data& pgdat, lru_list lru, zone_type reclaim_idx) {
  std::uint64_t size = 0;
  for (int z = 0; z <= reclaim_idx; ++z) {
    const zone& zn = pgdat.node_zones[static_cast<std::size_t>(z)];
    if (!zn.managed_pages) continue;
    size += lv.lru_zone_size[static_cast<std::size_t>(z)][lru];
  }
  return size;
}
// inactive_is_low's rule: inactive_ratio = sqrt(10 * GB of both lists), 1 below 1 GB.
bool inactive_low(std::uint64_t inactive, std::uint64_t active) {
  const std::uint64_t gb = (inactive + active) >> (30 - kPageShift);
  const std::uint64_t inactive_ratio = gb ? isqrt(10 * gb) : 1;
  return inactive * inactive_ratio < active;
}
// mem_cgroup_protection: the memory reclaim must leave to memcg (none for the target itself).
unsigned long mem_cgroup_protection(const mem_cgroup* root, const mem_cgroup* memcg, bool in_low_reclaim) {
  if (!memcg || memcg->id == kRootMemcgId || memcg == root) return 0;
  if (in_low_reclaim) return memcg->memory.emin;
  return std::max(memcg->memory.emin, memcg->memory.elow);
}
// mem_cgroup_get_nr_swap_pages: swap the cgroup may still use (memory.swap.max up the tree).
bool memcg_swap_left(const mem_cgroup* memcg) {
  for (; memcg && memcg->id != kRootMemcgId; memcg = memcg->parent)
    if (memcg->swap.usage >= static_cast<long>(memcg->swap.max)) return false;
  return true;
}
enum folio_references { FOLIOREF_RECLAIM, FOLIOREF_RECLAIM_CLEAN, FOLIOREF_KEEP, FOLIOREF_ACTIVATE };
enum scan_balance { SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE };
}  // namespace

// ---------------------------------------------------------------------------
// The allocator's side: wakeup_kswapd, zone_reclaimable_pages, try_to_free_pages
// ---------------------------------------------------------------------------

// wakeup_kswapd: remember the largest order and the highest zone asked for,
// and wake the node's kswapd unless the node is hopeless or already balanced.
void Kernel::wakeup_kswapd(zone& z, gfp_t gfp, unsigned order, zone_type highest_zoneidx) {
  (void)gfp;
  const NodeId nid(zone_to_nid(z));
  pglist_data& pgdat = *z.zone_pgdat;
  if (order > pgdat.kswapd_order) pgdat.kswapd_order = order;
  if (highest_zoneidx > pgdat.kswapd_highest_zoneidx) pgdat.kswapd_highest_zoneidx = highest_zoneidx;
  if (pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES) return;  // hopeless: leave it to direct reclaim
  bool boosted = false;
  for (int i = 0; i <= highest_zoneidx; ++i) boosted |= pgdat.node_zones[static_cast<std::size_t>(i)].watermark_boost != 0;
  if (!boosted && pgdat_balanced(pgdat, static_cast<int>(order), highest_zoneidx)) return;
  const CpuId cpu = ctx_.cpu;
  NUMASIM_TRACE(reclaim, platform_.now(cpu), static_cast<int>(cpu.value()),
                "mm_vmscan_wakeup_kswapd nid=%d order=%u gfp_flags=%#x zid=%d", nid.value(), order,
                static_cast<unsigned>(gfp), static_cast<int>(highest_zoneidx));
  kthreads_->wakeup_kswapd(nid);
}

// boost_watermark: a fallback steal raised the zone's boost by a pageblock, up
// to watermark_boost_factor/10000 of its high watermark; kswapd is woken to
// reclaim it (ZONE_BOOSTED_WATERMARK's wake-up, done at once here).
void Kernel::boost_watermark(zone& z) {
  const unsigned factor = params_.reclaim.watermark_boost_factor;
  if (!factor) return;
  if (pageblock_nr_pages * 4 > z.managed_pages) return;  // too small to be worth it
  unsigned long max_boost = z._watermark[WMARK_HIGH] * factor / 10000;
  if (!max_boost) return;
  max_boost = std::max(pageblock_nr_pages, max_boost);
  z.watermark_boost = std::min(z.watermark_boost + pageblock_nr_pages, max_boost);
  wakeup_kswapd(z, 0, 0, zone_idx(z));
}

// zone_reclaimable_pages: the file LRU pages, and the anon ones while swap space is left.
unsigned long Kernel::zone_reclaimable_pages(const zone& z) const {
  long nr = z.stats.vm_stat[NR_ZONE_INACTIVE_FILE] + z.stats.vm_stat[NR_ZONE_ACTIVE_FILE];
  if (can_reclaim_anon_pages(zone_to_nid(z))) nr += z.stats.vm_stat[NR_ZONE_INACTIVE_ANON] + z.stats.vm_stat[NR_ZONE_ACTIVE_ANON];
  return static_cast<unsigned long>(std::max(0l, nr));
}

// try_to_free_pages -> do_try_to_free_pages: shrink every node of the
// zonelist once per priority until SWAP_CLUSTER_MAX pages are reclaimed.
unsigned long Kernel::try_to_free_pages(const zonelist& zl, unsigned order, gfp_t gfp, const nodemask_t* nodemask,
                                        KernelCost& cost) {
  const CpuId cpu = ctx_.cpu;
  scan_control sc;
  sc.nr_to_reclaim = SWAP_CLUSTER_MAX;
  sc.gfp_mask = gfp;
  sc.reclaim_idx = gfp_zone(gfp);
  sc.order = static_cast<int>(order);
  sc.nodemask = nodemask;
  sc.priority = DEF_PRIORITY;
  lru_add_drain(cpu);
retry:
  pm_.count_vm_events(cpu, static_cast<vm_event_item>(ALLOCSTALL_DMA + static_cast<int>(sc.reclaim_idx)));
  do {
    sc.nr_scanned = 0;
    // shrink_zones: each node of the zonelist once.
    const pglist_data* last = nullptr;
    for (const zoneref& zr : zl._zonerefs) {
      if (zr.zone_idx > sc.reclaim_idx) continue;
      if (nodemask && !node_isset(zr.nid, *nodemask)) continue;
      if (zr.z->zone_pgdat == last) continue;
      last = zr.z->zone_pgdat;
      shrink_node(*zr.z->zone_pgdat, sc, cpu, cost);
    }
    if (last) consider_reclaim_throttle(*first_pgdat(zl, sc), sc, cpu, cost);
    if (sc.nr_reclaimed >= sc.nr_to_reclaim) break;
    if (sc.priority < DEF_PRIORITY - 2) sc.may_writepage = true;
  } while (--sc.priority >= 0);
  // snapshot_refaults per node of the zonelist.
  for (const zoneref& zr : zl._zonerefs) {
    lruvec& lv = zr.z->zone_pgdat->__lruvec;
    lv.refaults[0] = zr.z->zone_pgdat->stats.vm_stat[WORKINGSET_ACTIVATE_ANON];
    lv.refaults[1] = zr.z->zone_pgdat->stats.vm_stat[WORKINGSET_ACTIVATE_FILE];
  }
  if (sc.nr_reclaimed) return sc.nr_reclaimed;
  if (scan_control_retry(sc)) goto retry;
  return 0;
}

// ---------------------------------------------------------------------------
// reclaim_throttle
// ---------------------------------------------------------------------------

// The first node shrink_zones visits (consider_reclaim_throttle's first_pgdat).
pglist_data* Kernel::first_pgdat(const zonelist& zl, const scan_control& sc) {
  for (const zoneref& zr : zl._zonerefs) {
    if (zr.zone_idx > sc.reclaim_idx) continue;
    if (sc.nodemask && !node_isset(zr.nid, *sc.nodemask)) continue;
    return zr.z->zone_pgdat;
  }
  return nullptr;
}

// reclaim_throttle: the reclaimer sleeps in TASK_UNINTERRUPTIBLE on the node's
// reclaim_wait[reason] for the reason's timeout (jiffies at HZ 250): WRITEBACK
// HZ/10, woken early by __acct_reclaim_writeback once SWAP_CLUSTER_MAX writes
// per waiter completed on the node; NOPROGRESS and CONGESTED one jiffy unless
// skip_throttle_noprogress; ISOLATED HZ/50. Kernel threads are not throttled.
// The sleep is the task's io_wait; the writes in flight complete as its time
// passes (Swap::writeback_until) and the kernel resumes at the wake-up time.
// Simplified: a waiter is woken only by writeback completion or its timeout (the
// simulated kernel serves one reclaimer at a time, so no other reclaimer's
// progress wakes a NOPROGRESS sleeper early).
void Kernel::reclaim_throttle(pglist_data& pgdat, vmscan_throttle_state reason, CpuId cpu, KernelCost& cost) {
  if (!ctx_.task || (ctx_.task->flags & PF_KTHREAD)) return;  // cond_resched only
  ReclaimThrottleState& st = reclaim_throttle_[static_cast<std::size_t>(pgdat.node_id)];
  const NodeId nid(pgdat.node_id);
  std::uint64_t timeout = 0;  // jiffies
  switch (reason) {
    case VMSCAN_THROTTLE_WRITEBACK:
      timeout = RECLAIM_HZ / 10;
      if (++st.nr_writeback_throttled == 1) {
        st.nr_reclaim_start = pm_.node_page_state(nid, NR_THROTTLED_WRITTEN);
        st.writeback_woken = false;
      }
      break;
    case VMSCAN_THROTTLE_CONGESTED:
    case VMSCAN_THROTTLE_NOPROGRESS:
      if (skip_throttle_noprogress(pgdat)) return;
      timeout = 1;
      break;
    case VMSCAN_THROTTLE_ISOLATED:
    default:
      timeout = RECLAIM_HZ / 50;
      break;
  }
  kclock_.sync(cpu, cost);  // the sleep starts at the task's own time
  const Picoseconds now = platform_.now(cpu);
  const Picoseconds until = now + Picoseconds(timeout * 1'000'000'000'000ull / RECLAIM_HZ);
  const Picoseconds woke =
      swap_->writeback_until(now, until, reason == VMSCAN_THROTTLE_WRITEBACK ? &st.writeback_woken : nullptr, cpu, cost);
  if (reason == VMSCAN_THROTTLE_WRITEBACK && --st.nr_writeback_throttled == 0) st.writeback_woken = false;
  ++st.nr_throttled[reason];
  cost.add_io_wait(woke - now);
  platform_.enter_kernel(cpu, woke);  // scheduled back in at the wake-up
  NUMASIM_TRACE(reclaim, woke, static_cast<int>(cpu.value()),
                "mm_vmscan_throttled nid=%d usec_timeout=%llu usect_delayed=%llu reason=%d", pgdat.node_id,
                static_cast<unsigned long long>(timeout * 1'000'000 / RECLAIM_HZ),
                static_cast<unsigned long long>((woke - now).value() / 1'000'000), static_cast<int>(reason));
}

// skip_throttle_noprogress: no NOPROGRESS/CONGESTED sleep on a hopeless node, nor
// while at most half of the reclaimable pages wait for writeback (they will
// throttle on writeback when they reach the tail of the LRU).
bool Kernel::skip_throttle_noprogress(const pglist_data& pgdat) const {
  if (pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES) return true;
  std::uint64_t reclaimable = 0, write_pending = 0;
  for (const zone& z : pgdat.node_zones) {
    if (!z.managed_pages) continue;
    reclaimable += zone_reclaimable_pages(z);
    write_pending += static_cast<std::uint64_t>(std::max<std::int64_t>(0, z.stats.vm_stat[NR_ZONE_WRITE_PENDING]));
  }
  return 2 * write_pending <= reclaimable;
}

// consider_reclaim_throttle: reclaim better than 12% efficient would wake the
// NOPROGRESS sleepers (none wait here: see reclaim_throttle); a direct global
// reclaimer that freed nothing by priority 1 sleeps on NOPROGRESS.
void Kernel::consider_reclaim_throttle(pglist_data& pgdat, const scan_control& sc, CpuId cpu, KernelCost& cost) {
  if (sc.nr_reclaimed > (sc.nr_scanned >> 3)) return;
  if (sc.kswapd || sc.target_mem_cgroup) return;
  if (sc.priority == 1 && !sc.nr_reclaimed) reclaim_throttle(pgdat, VMSCAN_THROTTLE_NOPROGRESS, cpu, cost);
}

// acct_reclaim_writeback -> __acct_reclaim_writeback (folio_end_writeback): while
// tasks are throttled on the node, its completed writes count in
// nr_throttled_written, and SWAP_CLUSTER_MAX of them per waiter wake the waiters.
void Kernel::acct_reclaim_writeback(page* pg) {
  const NodeId nid = pm_.page_to_nid(pg);
  ReclaimThrottleState& st = reclaim_throttle_[static_cast<std::size_t>(nid.value())];
  if (!st.nr_writeback_throttled) return;
  pm_.mod_node_page_state(nid, NR_THROTTLED_WRITTEN, 1);
  const std::int64_t nr_written = pm_.node_page_state(nid, NR_THROTTLED_WRITTEN) - st.nr_reclaim_start;
  if (nr_written > static_cast<std::int64_t>(SWAP_CLUSTER_MAX) * st.nr_writeback_throttled) st.writeback_woken = true;
}

// node_reclaim (zone_reclaim_mode), called by get_page_from_freelist for a zone
// below its watermark before it falls to the next zone of the zonelist. As
// Linux 6.1, it reclaims only when the node's page cache that could be freed
// (node_pagecache_reclaimable: file pages, less mapped ones unless RECLAIM_UNMAP)
// exceeds min_unmapped_ratio of the node: anonymous memory never qualifies, even
// with swap and RECLAIM_WRITE|RECLAIM_UNMAP (those bits only widen what the
// scan may do once it runs). There is no page cache yet, so today it always
// reports NODE_RECLAIM_FULL and zone_reclaim_mode changes no placement.
// NODE_RECLAIM_NOSCAN: no direct reclaim allowed, a remote node that has CPUs
// (its own tasks reclaim it), or a node_reclaim already running (PGDAT_RECLAIM_LOCKED).
unsigned long Kernel::node_reclaim(NodeId nid, gfp_t gfp, unsigned order, CpuId cpu, KernelCost& cost) {
  if (!(params_.reclaim.zone_reclaim_mode & 7)) return 0;
  pglist_data& pgdat = pm_.NODE_DATA(nid);
  const std::uint64_t min_unmapped_pages = pgdat.node_present_pages * params_.reclaim.min_unmapped_ratio / 100;
  const long file = pgdat.stats.vm_stat[NR_FILE_PAGES] - pgdat.stats.vm_stat[NR_SHMEM];
  const long mapped = (params_.reclaim.zone_reclaim_mode & 4) ? 0 : pgdat.stats.vm_stat[NR_FILE_MAPPED];
  const long reclaimable = std::max(0l, file - mapped);
  if (static_cast<std::uint64_t>(reclaimable) <= min_unmapped_pages) return 0;  // NODE_RECLAIM_FULL
  if (!(gfp & __GFP_DIRECT_RECLAIM)) return 0;                                  // NODE_RECLAIM_NOSCAN
  if (!topo_.node(nid).cpus.empty() && nid != cpu_to_node(cpu)) return 0;        // NODE_RECLAIM_NOSCAN
  if (node_reclaim_locked_) return 0;                                           // PGDAT_RECLAIM_LOCKED
  node_reclaim_locked_ = true;
  scan_control sc;
  const unsigned long nr_pages = 1ul << order;
  sc.nr_to_reclaim = std::max(nr_pages, SWAP_CLUSTER_MAX);
  sc.gfp_mask = gfp;
  sc.order = static_cast<int>(order);
  sc.priority = 4;  // NODE_RECLAIM_PRIORITY
  sc.may_writepage = params_.reclaim.zone_reclaim_mode & 2;
  sc.may_unmap = params_.reclaim.zone_reclaim_mode & 4;
  sc.reclaim_idx = gfp_zone(gfp);
  do {
    shrink_node(pgdat, sc, cpu, cost);
  } while (sc.nr_reclaimed < nr_pages && --sc.priority >= 0);
  node_reclaim_locked_ = false;
  if (!sc.nr_reclaimed) pm_.count_vm_events(cpu, PGSCAN_ZONE_RECLAIM_FAILED);
  return sc.nr_reclaimed;
}

// ---------------------------------------------------------------------------
// kswapd
// ---------------------------------------------------------------------------

namespace {
constexpr Picoseconds kKswapdShortSleep(100'000'000'000ull);  // HZ/10
}  // namespace

void Kernel::install_kswapd() {
  for (int n = 0; n < pm_.nr_node_ids(); ++n)
    if (Kthread* k = kthreads_->kswapd(NodeId(n)))
      k->threadfn = [this, nid = NodeId(n)](Kthreads&, Kthread& self, KernelCost& cost) {
        return kswapd_pass(self, nid, cost);
      };
}

// One round of kswapd()'s loop: take the order and zone the wakers asked for,
// balance the node, then either start the short sleep (balanced or hopeless)
// or stay runnable for another round.
KthreadResult Kernel::kswapd_pass(Kthread& self, NodeId nid, KernelCost& cost) {
  const CpuId cpu = self.task.cpu;
  pglist_data& pgdat = pm_.NODE_DATA(nid);
  const int order = static_cast<int>(pgdat.kswapd_order);
  // kswapd_highest_zoneidx: nothing asked (reset to ZONE_DMA) means every zone.
  const zone_type highest = pgdat.kswapd_highest_zoneidx == ZONE_DMA ? ZONE_MOVABLE : pgdat.kswapd_highest_zoneidx;
  // The end of kswapd_try_to_sleep's short sleep: woken early (remaining > 0)
  // or by its timeout; a node still balanced after the timeout sleeps for good.
  if (pgdat.kswapd_short_sleep) {
    pgdat.kswapd_short_sleep = false;
    const bool remaining = platform_.now(cpu) < pgdat.kswapd_sleep_until;
    if (!remaining && (pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES || pgdat_balanced(pgdat, order, highest))) {
      cost.add_cycles(params_.kthreads.pass_cycles);
      return KthreadResult{true, Picoseconds(0)};
    }
    pm_.count_vm_events(cpu, remaining ? KSWAPD_LOW_WMARK_HIT_QUICKLY : KSWAPD_HIGH_WMARK_HIT_QUICKLY);
  }
  pgdat.kswapd_order = 0;
  pgdat.kswapd_highest_zoneidx = ZONE_DMA;
  cost.add_cycles(params_.kthreads.pass_cycles);
  if (params_.kthreads.pgdat_bytes.value() != 0)
    cost.add_memory(platform_.kernel_read(cpu, kthreads_->pgdat_phys(nid), params_.kthreads.pgdat_bytes));
  if (pgdat.kswapd_failures < MAX_RECLAIM_RETRIES) balance_pgdat(pgdat, order, highest, cpu, cost);
  // prepare_kswapd_sleep.
  if (pgdat.kswapd_failures >= MAX_RECLAIM_RETRIES || pgdat_balanced(pgdat, order, highest)) {
    wakeup_kcompactd(nid, order, highest);  // kswapd_try_to_sleep: the memory freed, now compact it for the order
    pgdat.kswapd_short_sleep = true;
    pgdat.kswapd_sleep_until = platform_.now(cpu) + kKswapdShortSleep;
    return KthreadResult{true, kKswapdShortSleep};
  }
  pm_.count_vm_events(cpu, KSWAPD_HIGH_WMARK_HIT_QUICKLY);  // not balanced yet: no sleep at all
  pgdat.kswapd_order = std::max<unsigned>(pgdat.kswapd_order, static_cast<unsigned>(order));
  pgdat.kswapd_highest_zoneidx = std::max(pgdat.kswapd_highest_zoneidx, highest);
  return KthreadResult{false, Picoseconds(0)};
}

// pgdat_balanced: some managed zone up to highest_zoneidx meets its (boosted)
// high watermark for the order.
bool Kernel::pgdat_balanced(const pglist_data& pgdat, int order, zone_type highest_zoneidx) const {
  bool any = false;
  for (int i = 0; i <= highest_zoneidx; ++i) {
    const zone& z = pgdat.node_zones[static_cast<std::size_t>(i)];
    if (!z.managed_pages) continue;
    any = true;
    // NUMA balancing's MEMORY_TIERING mode balances to WMARK_PROMO (high + the
    // watermark gap), leaving room to promote into without reclaim.
    const unsigned long mark = (numab_->mode() & NUMA_BALANCING_MEMORY_TIERING)
                                   ? z._watermark[WMARK_PROMO] + z.watermark_boost
                                   : high_wmark_boosted(z);
    if (pm_.zone_watermark_ok(z, static_cast<unsigned>(order), mark, highest_zoneidx)) return true;
  }
  return !any;
}

// balance_pgdat: reclaim until the node is balanced (or the boost is paid),
// priority DEF_PRIORITY down to 1. True when it reclaimed something.
bool Kernel::balance_pgdat(pglist_data& pgdat, int order, zone_type highest_zoneidx, CpuId cpu, KernelCost& cost) {
  pm_.count_vm_events(cpu, PAGEOUTRUN);
  std::array<unsigned long, MAX_NR_ZONES> zone_boosts{};
  unsigned long nr_boost_reclaim = 0;
  for (int i = 0; i <= highest_zoneidx; ++i) {
    const zone& z = pgdat.node_zones[static_cast<std::size_t>(i)];
    if (!z.managed_pages) continue;
    nr_boost_reclaim += z.watermark_boost;
    zone_boosts[static_cast<std::size_t>(i)] = z.watermark_boost;
  }
  const bool boosted = nr_boost_reclaim != 0;
  scan_control sc;
  sc.gfp_mask = GFP_KERNEL;
  sc.order = order;
  sc.kswapd = true;
  lru_add_drain(cpu);
restart:
  sc.priority = DEF_PRIORITY;
  do {
    const unsigned long nr_reclaimed_before = sc.nr_reclaimed;
    bool raise_priority = true;
    sc.reclaim_idx = highest_zoneidx;
    const bool balanced = pgdat_balanced(pgdat, sc.order, highest_zoneidx);
    if (!balanced && nr_boost_reclaim) {
      nr_boost_reclaim = 0;
      goto restart;
    }
    if (!nr_boost_reclaim && balanced) goto out;
    if (nr_boost_reclaim && sc.priority == DEF_PRIORITY - 2) raise_priority = false;
    sc.may_writepage = !nr_boost_reclaim;
    sc.may_swap = !nr_boost_reclaim;
    // kswapd_age_node: background aging of the anon list.
    if (can_reclaim_anon_pages(pgdat.node_id) && inactive_is_low(pgdat, LRU_INACTIVE_ANON, sc.reclaim_idx)) {
      for (mem_cgroup* memcg : mem_cgroup_subtree(memcgs_->root())) {  // every cgroup's lruvec
        sc.lruvec = &mem_cgroup_lruvec(pgdat, memcg->id);
        shrink_active_list(SWAP_CLUSTER_MAX, pgdat, sc, LRU_ACTIVE_ANON, cpu, cost);
      }
      sc.lruvec = nullptr;
    }
    if (sc.priority < DEF_PRIORITY - 2) sc.may_writepage = true;
    sc.nr_scanned = 0;
    // kswapd_shrink_node: aim at the high watermarks.
    sc.nr_to_reclaim = 0;
    for (int z = 0; z <= sc.reclaim_idx; ++z) {
      const zone& zn = pgdat.node_zones[static_cast<std::size_t>(z)];
      if (!zn.managed_pages) continue;
      sc.nr_to_reclaim += std::max<unsigned long>(high_wmark_boosted(zn), SWAP_CLUSTER_MAX);
    }
    shrink_node(pgdat, sc, cpu, cost);
    if (sc.order && sc.nr_reclaimed >= (2ul << sc.order)) sc.order = 0;  // compact_gap
    if (sc.nr_scanned >= sc.nr_to_reclaim) raise_priority = false;
    const unsigned long nr_reclaimed = sc.nr_reclaimed - nr_reclaimed_before;
    nr_boost_reclaim -= std::min(nr_boost_reclaim, nr_reclaimed);
    if (nr_boost_reclaim && !nr_reclaimed) break;
    if (raise_priority || !nr_reclaimed) --sc.priority;
  } while (sc.priority >= 1);
  if (!sc.nr_reclaimed) ++pgdat.kswapd_failures;
out:
  if (boosted)
    for (int i = 0; i <= highest_zoneidx; ++i) {
      zone& z = pgdat.node_zones[static_cast<std::size_t>(i)];
      z.watermark_boost -= std::min(z.watermark_boost, zone_boosts[static_cast<std::size_t>(i)]);
    }
  pgdat.__lruvec.refaults[0] = pgdat.stats.vm_stat[WORKINGSET_ACTIVATE_ANON];  // snapshot_refaults
  pgdat.__lruvec.refaults[1] = pgdat.stats.vm_stat[WORKINGSET_ACTIVATE_FILE];
  return sc.nr_reclaimed != 0;
}

// ---------------------------------------------------------------------------
// shrink_node and the lists
// ---------------------------------------------------------------------------

// inactive_is_low: the inactive list is too small against the active one
// (inactive_ratio = sqrt(10 * GB of both lists), 1 below 1 GB); the node's
// lists of every cgroup (the root cgroup's hierarchical lruvec).
bool Kernel::inactive_is_low(const pglist_data& pgdat, lru_list inactive_lru, zone_type reclaim_idx) const {
  (void)reclaim_idx;  // 6.1 compares the whole lruvec
  if (!memcgs_->enabled())  // the root alone: the node's lruvec holds every page
    return inactive_low(pgdat.__lruvec.nr_pages[inactive_lru], pgdat.__lruvec.nr_pages[inactive_lru + LRU_ACTIVE]);
  return inactive_low(static_cast<std::uint64_t>(pgdat.stats.vm_stat[NR_INACTIVE_ANON + static_cast<int>(inactive_lru)]),
                      static_cast<std::uint64_t>(pgdat.stats.vm_stat[NR_INACTIVE_ANON + static_cast<int>(inactive_lru) + static_cast<int>(LRU_ACTIVE)]));
}

std::uint64_t Kernel::target_lru_pages(const pglist_data& pgdat, const scan_control& sc, lru_list lru) const {
  if (!sc.target_mem_cgroup) return static_cast<std::uint64_t>(pgdat.stats.vm_stat[NR_INACTIVE_ANON + static_cast<int>(lru)]);
  std::uint64_t n = 0;
  for (mem_cgroup* memcg : mem_cgroup_subtree(sc.target_mem_cgroup))
    n += mem_cgroup_lruvec(const_cast<pglist_data&>(pgdat), memcg->id).nr_pages[lru];
  return n;
}

// shrink_node_memcgs: shrink_lruvec on each cgroup of the target's subtree
// (mem_cgroup_iter order), skipping those under memory.min, and those under
// memory.low unless nothing else was reclaimable (memcg_low_reclaim: memory.events low).
void Kernel::shrink_node_memcgs(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost) {
  mem_cgroup* target = sc.target_mem_cgroup ? sc.target_mem_cgroup : memcgs_->root();
  if (!memcgs_->enabled()) {  // the root alone: its lruvec is the node's
    shrink_lruvec(pgdat, sc, cpu, cost);
    return;
  }
  for (mem_cgroup* memcg : mem_cgroup_subtree(target)) {
    mem_cgroup_calculate_protection(target, memcg);
    if (memcg != target && memcg->id != kRootMemcgId) {
      if (static_cast<unsigned long>(memcg->memory.usage) <= memcg->memory.emin) continue;  // mem_cgroup_below_min
      if (static_cast<unsigned long>(memcg->memory.usage) <= memcg->memory.elow) {         // mem_cgroup_below_low
        if (!sc.memcg_low_reclaim) {
          sc.memcg_low_skipped = true;
          continue;
        }
        memcg_memory_event(memcg, MEMCG_LOW);
      }
    }
    sc.lruvec = &mem_cgroup_lruvec(pgdat, memcg->id);
    shrink_lruvec(pgdat, sc, cpu, cost);
  }
  sc.lruvec = nullptr;
}

void Kernel::shrink_node(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost) {
  cost.add_cycles(params_.reclaim.costs.shrink_node_cycles);
  lruvec& lv = sc.target_mem_cgroup ? mem_cgroup_lruvec(pgdat, sc.target_mem_cgroup->id) : pgdat.__lruvec;
  sc.nr = {};
  const unsigned long nr_reclaimed = sc.nr_reclaimed;
  // prepare_scan_count (the target's lruvec: the node's own for global reclaim;
  // the refault check only for global reclaim here).
  sc.anon_cost = lv.anon_cost;
  sc.file_cost = lv.file_cost;
  if (!sc.force_deactivate) {
    auto decide = [&](int type, node_stat_item activate, lru_list inactive, unsigned bit) {
      if ((!sc.target_mem_cgroup && pgdat.stats.vm_stat[activate] != lv.refaults[static_cast<std::size_t>(type)]) ||
          inactive_low(target_lru_pages(pgdat, sc, inactive),
                       target_lru_pages(pgdat, sc, static_cast<lru_list>(inactive + LRU_ACTIVE))))
        sc.may_deactivate |= bit;
      else
        sc.may_deactivate &= ~bit;
    };
    decide(0, WORKINGSET_ACTIVATE_ANON, LRU_INACTIVE_ANON, DEACTIVATE_ANON);
    decide(1, WORKINGSET_ACTIVATE_FILE, LRU_INACTIVE_FILE, DEACTIVATE_FILE);
  } else {
    sc.may_deactivate = DEACTIVATE_ANON | DEACTIVATE_FILE;
  }
  sc.cache_trim_mode =
      (target_lru_pages(pgdat, sc, LRU_ACTIVE_FILE) >> sc.priority) && !(sc.may_deactivate & DEACTIVATE_FILE);
  std::int64_t free = 0;
  std::uint64_t total_high_wmark = 0;
  for (const zone& z : pgdat.node_zones) {
    if (!z.managed_pages) continue;
    free += z.stats.vm_stat[NR_FREE_PAGES];
    total_high_wmark += high_wmark_boosted(z);
  }
  const std::uint64_t file = target_lru_pages(pgdat, sc, LRU_ACTIVE_FILE) + target_lru_pages(pgdat, sc, LRU_INACTIVE_FILE);
  sc.file_is_tiny = file + static_cast<std::uint64_t>(std::max<std::int64_t>(0, free)) <= total_high_wmark &&
                    !(sc.may_deactivate & DEACTIVATE_ANON) && (target_lru_pages(pgdat, sc, LRU_INACTIVE_ANON) >> sc.priority);
  shrink_node_memcgs(pgdat, sc, cpu, cost);
  // Every page this round took from the tail was under writeback (PGDAT_WRITEBACK's
  // test): pages cycle through the LRU faster than they are written, so a direct
  // reclaimer waits for writes to complete (reclaim_throttle's writeback wait).
  if (!sc.kswapd && !sc.target_mem_cgroup && sc.nr.writeback && sc.nr.writeback == sc.nr.taken)
    reclaim_throttle(pgdat, VMSCAN_THROTTLE_WRITEBACK, cpu, cost);
  if (sc.nr_reclaimed - nr_reclaimed) pgdat.kswapd_failures = 0;
}

// get_scan_count: how many pages of each evictable list this priority scans.
void Kernel::get_scan_count(pglist_data& pgdat, const scan_control& sc, unsigned long nr[NR_LRU_LISTS]) const {
  const int swappiness = params_.reclaim.swappiness;
  std::uint64_t fraction[2] = {0, 0};
  std::uint64_t denominator = 0;
  scan_balance balance;
  const lruvec& lv = sc.lruvec ? *sc.lruvec : pgdat.__lruvec;
  const mem_cgroup* memcg = memcgs_->by_id[lv.memcg_id].get();
  if (!sc.may_swap || !can_reclaim_anon_pages(pgdat.node_id) || (!memcg_swap_left(memcg) && !can_demote(pgdat.node_id))) {
    balance = SCAN_FILE;
  } else if (!sc.priority && swappiness) {
    balance = SCAN_EQUAL;
  } else if (sc.file_is_tiny) {
    balance = SCAN_ANON;
  } else if (sc.cache_trim_mode) {
    balance = SCAN_FILE;
  } else {
    balance = SCAN_FRACT;
    std::uint64_t total_cost = sc.anon_cost + sc.file_cost;
    const std::uint64_t anon_cost = total_cost + sc.anon_cost;
    const std::uint64_t file_cost = total_cost + sc.file_cost;
    total_cost = anon_cost + file_cost;
    const std::uint64_t ap = static_cast<std::uint64_t>(swappiness) * (total_cost + 1) / (anon_cost + 1);
    const std::uint64_t fp = static_cast<std::uint64_t>(200 - swappiness) * (total_cost + 1) / (file_cost + 1);
    fraction[0] = ap;
    fraction[1] = fp;
    denominator = ap + fp;
  }
  for (int l = 0; l < LRU_UNEVICTABLE; ++l) {
    const auto lru = static_cast<lru_list>(l);
    const bool file = is_file_lru(lru);
    const std::uint64_t lruvec_size = lruvec_lru_size(lv, pgdat, lru, sc.reclaim_idx);
    std::uint64_t scan = lruvec_size;
    if (const unsigned long protection = mem_cgroup_protection(sc.target_mem_cgroup, memcg, sc.memcg_low_reclaim)) {
      const std::uint64_t cgroup_size = std::max<std::uint64_t>(static_cast<std::uint64_t>(memcg->memory.usage), protection);
      scan = lruvec_size - lruvec_size * protection / (cgroup_size + 1);
      scan = std::max<std::uint64_t>(scan, SWAP_CLUSTER_MAX);
    }
    scan >>= sc.priority;
    switch (balance) {
      case SCAN_EQUAL: break;
      case SCAN_FRACT: scan = denominator ? scan * fraction[file] / denominator : 0; break;
      case SCAN_FILE:
      case SCAN_ANON:
        if ((balance == SCAN_FILE) != file) scan = 0;
        break;
    }
    nr[l] = scan;
  }
  nr[LRU_UNEVICTABLE] = 0;
}

void Kernel::shrink_lruvec(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost) {
  unsigned long nr[NR_LRU_LISTS];
  get_scan_count(pgdat, sc, nr);
  unsigned long nr_reclaimed = 0;
  const unsigned long nr_to_reclaim = sc.nr_to_reclaim;
  while (nr[LRU_INACTIVE_ANON] || nr[LRU_ACTIVE_FILE] || nr[LRU_INACTIVE_FILE]) {
    for (int l = 0; l < LRU_UNEVICTABLE; ++l) {
      if (!nr[l]) continue;
      const unsigned long nr_to_scan = std::min(nr[l], SWAP_CLUSTER_MAX);
      nr[l] -= nr_to_scan;
      nr_reclaimed += shrink_list(static_cast<lru_list>(l), nr_to_scan, pgdat, sc, cpu, cost);
    }
    // Global direct reclaim at DEF_PRIORITY scans its whole share (proportional_reclaim).
    if (nr_reclaimed >= nr_to_reclaim && (sc.kswapd || sc.priority != DEF_PRIORITY || sc.target_mem_cgroup)) break;
  }
  sc.nr_reclaimed += nr_reclaimed;
  const lruvec& lv = sc.lruvec ? *sc.lruvec : pgdat.__lruvec;
  if (can_reclaim_anon_pages(pgdat.node_id) && inactive_low(lv.nr_pages[LRU_INACTIVE_ANON], lv.nr_pages[LRU_ACTIVE_ANON]))
    shrink_active_list(SWAP_CLUSTER_MAX, pgdat, sc, LRU_ACTIVE_ANON, cpu, cost);
}

unsigned long Kernel::shrink_list(lru_list lru, unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc,
                                  CpuId cpu, KernelCost& cost) {
  if (is_active_lru(lru)) {
    if (sc.may_deactivate & (1u << (is_file_lru(lru) ? 1 : 0)))
      shrink_active_list(nr_to_scan, pgdat, sc, lru, cpu, cost);
    else
      sc.skipped_deactivate = true;
    return 0;
  }
  return shrink_inactive_list(nr_to_scan, pgdat, sc, lru, cpu, cost);
}

// isolate_lru_folios: up to nr_to_scan pages from the tail of `lru` onto dst,
// each taken with a reference and PG_lru cleared; pages of zones above
// reclaim_idx go back to the head (pgskip_<zone>).
unsigned long Kernel::isolate_lru_pages(unsigned long nr_to_scan, pglist_data& pgdat, PageList& dst,
                                        unsigned long& nr_scanned, scan_control& sc, lru_list lru,
                                        KernelCost& cost) {
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  lruvec& lv = sc.lruvec ? *sc.lruvec : pgdat.__lruvec;
  PageList& src = lv.lists[lru];
  PageList skipped;
  std::array<unsigned long, MAX_NR_ZONES> nr_skipped{};
  unsigned long scan = 0, total_scan = 0, nr_taken = 0;
  while (scan < nr_to_scan && !src.empty()) {
    page* pg = mem_map + src.tail;
    ++total_scan;
    zone& z = *pm_.page_zone(pg);
    if (z.idx > sc.reclaim_idx) {
      ++nr_skipped[z.idx];
      list_move(mem_map, src, skipped, pg);
      continue;
    }
    ++scan;
    if (!sc.may_unmap && pg->mapcount > 0) {
      list_move(mem_map, src, src, pg);  // rotate to the head (folio_putback-like)
      continue;
    }
    const long nr_pages = lru_nr_pages(pg);  // a THP is taken whole: its 512 pages
    del_page_from_lru_list(pm_, pg);
    pg->clear(PG_lru);
    get_page(pg);
    list_add(mem_map, dst, pg);
    nr_taken += static_cast<unsigned long>(nr_pages);
    scan += static_cast<unsigned long>(nr_pages - 1);
    total_scan += static_cast<unsigned long>(nr_pages - 1);
  }
  while (!skipped.empty()) {  // list_splice(&folios_skipped, src): back to the head, in order
    page* pg = mem_map + skipped.tail;
    list_move(mem_map, skipped, src, pg);
  }
  for (int z = 0; z < MAX_NR_ZONES; ++z)
    if (nr_skipped[static_cast<std::size_t>(z)])
      pm_.count_vm_event(static_cast<vm_event_item>(PGSCAN_SKIP_DMA + z), nr_skipped[static_cast<std::size_t>(z)]);
  cost.add_cycles(params_.reclaim.costs.lru_scan_cycles * total_scan);
  nr_scanned = total_scan;
  return nr_taken;
}

// move_folios_to_lru: isolated pages back onto their lists (PG_lru set, the
// isolation reference dropped; a page whose last reference that was is freed).
unsigned Kernel::move_pages_to_lru(PageList& list, CpuId cpu, KernelCost& cost) {
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  unsigned nr_moved = 0, n = 0;
  while (!list.empty()) {
    page* pg = mem_map + list.head;
    list_del(mem_map, list, pg);
    ++n;
    if (PageTransHuge(pg) && pg->_refcount == 1) {  // a THP whose last mapping went while isolated
      free_transhuge_page(cpu, pg, cost);
      continue;
    }
    if (pg->_refcount == 1 && pg->mapcount == 0 && !pg->test(PG_swapcache)) {  // folio_put_testzero
      lru_page_release(pg);
      pm_.free_pages(cpu, pg, 0, cost);
      continue;
    }
    --pg->_refcount;
    if (!page_evictable(pg)) {  // folio_putback_lru of an mlocked page: the unevictable list
      pg->clear(PG_active);
      pg->set(PG_unevictable);
    }
    pg->set(PG_lru);
    add_page_to_lru_list(pm_, pg);
    ++nr_moved;
    if (pg->test(PG_active)) page_lruvec(pm_, pg).nonresident_age += 1;  // workingset_age_nonresident
  }
  cost.add_cycles(params_.reclaim.costs.lru_scan_cycles * n);
  return nr_moved;
}

// shrink_active_list: age the tail of an active list. Every page is
// deactivated (PG_workingset set) after its accessed bits are read and
// cleared; only executable file pages that were referenced stay active.
void Kernel::shrink_active_list(unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc, lru_list lru,
                                CpuId cpu, KernelCost& cost) {
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  const bool file = is_file_lru(lru);
  lru_add_drain(cpu);
  PageList hold, l_active, l_inactive;
  unsigned long nr_scanned = 0;
  const unsigned long nr_taken = isolate_lru_pages(nr_to_scan, pgdat, hold, nr_scanned, sc, lru, cost);
  const NodeId nid(pgdat.node_id);
  pm_.mod_node_page_state(nid, file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, static_cast<std::int64_t>(nr_taken));
  pm_.count_vm_events(cpu, PGREFILL, nr_scanned);
  const std::uint32_t memcg_id = sc.lruvec ? sc.lruvec->memcg_id : kRootMemcgId;
  count_memcg_events(memcg_id, MEMCG_PGREFILL, nr_scanned);
  while (!hold.empty()) {
    page* pg = mem_map + hold.tail;
    list_del(mem_map, hold, pg);
    if (!page_evictable(pg)) {
      list_add(mem_map, l_active, pg);  // putback: move_pages_to_lru sends it to the unevictable list
      continue;
    }
    (void)page_referenced(pg, cpu, cost);  // accessed bits cleared; no VM_EXEC file pages exist
    pg->clear(PG_active);
    pg->set(PG_workingset);
    list_add(mem_map, l_inactive, pg);
  }
  move_pages_to_lru(l_active, cpu, cost);
  const unsigned nr_deactivate = move_pages_to_lru(l_inactive, cpu, cost);
  pm_.count_vm_events(cpu, PGDEACTIVATE, nr_deactivate);
  count_memcg_events(memcg_id, MEMCG_PGDEACTIVATE, nr_deactivate);
  pm_.mod_node_page_state(nid, file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, -static_cast<std::int64_t>(nr_taken));
}

unsigned long Kernel::shrink_inactive_list(unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc,
                                           lru_list lru, CpuId cpu, KernelCost& cost) {
  const bool file = is_file_lru(lru);
  lru_add_drain(cpu);
  PageList list;
  unsigned long nr_scanned = 0;
  const unsigned long nr_taken = isolate_lru_pages(nr_to_scan, pgdat, list, nr_scanned, sc, lru, cost);
  const NodeId nid(pgdat.node_id);
  pm_.mod_node_page_state(nid, file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, static_cast<std::int64_t>(nr_taken));
  sc.nr_scanned += nr_scanned;
  pm_.count_vm_events(cpu, sc.kswapd ? PGSCAN_KSWAPD : PGSCAN_DIRECT, nr_scanned);
  pm_.count_vm_events(cpu, file ? PGSCAN_FILE : PGSCAN_ANON, nr_scanned);
  lruvec& lv = sc.lruvec ? *sc.lruvec : pgdat.__lruvec;
  count_memcg_events(lv.memcg_id, sc.kswapd ? MEMCG_PGSCAN_KSWAPD : MEMCG_PGSCAN_DIRECT, nr_scanned);
  if (nr_taken == 0) return 0;
  reclaim_stat stat;
  const unsigned long nr_reclaimed = shrink_folio_list(list, pgdat, sc, stat, cpu, cost);
  move_pages_to_lru(list, cpu, cost);
  pm_.mod_node_page_state(nid, file ? NR_ISOLATED_FILE : NR_ISOLATED_ANON, -static_cast<std::int64_t>(nr_taken));
  pm_.count_vm_events(cpu, sc.kswapd ? PGSTEAL_KSWAPD : PGSTEAL_DIRECT, nr_reclaimed);
  pm_.count_vm_events(cpu, file ? PGSTEAL_FILE : PGSTEAL_ANON, nr_reclaimed);
  count_memcg_events(lv.memcg_id, sc.kswapd ? MEMCG_PGSTEAL_KSWAPD : MEMCG_PGSTEAL_DIRECT, nr_reclaimed);
  lru_note_cost(lv, file, stat.nr_pageout);
  sc.nr.dirty += stat.nr_dirty;
  sc.nr.unqueued_dirty += stat.nr_unqueued_dirty;
  sc.nr.writeback += stat.nr_writeback;
  sc.nr.immediate += stat.nr_immediate;
  sc.nr.taken += nr_taken;
  if (file) sc.nr.file_taken += nr_taken;
  return nr_reclaimed;
}

// shrink_folio_list: decide each isolated page's fate. Reclaimed pages are
// freed; the others are left on `list` (activated or kept) for the putback.
unsigned long Kernel::shrink_folio_list(PageList& list, pglist_data& pgdat, scan_control& sc, reclaim_stat& stat,
                                        CpuId cpu, KernelCost& cost) {
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  PageList ret;
  unsigned long nr_reclaimed = 0;
  bool do_demote_pass = can_demote(pgdat.node_id) && !sc.no_demotion;  // migrate.cpp
  PageList demote_folios;
retry:
  while (!list.empty()) {
    page* pg = mem_map + list.tail;
    list_del(mem_map, list, pg);
    cost.add_cycles(params_.reclaim.costs.shrink_page_cycles);
    folio_references references = FOLIOREF_RECLAIM;
    bool activate = false;
    bool reclaim = false;
    bool demote = false;
    do {  // one pass; `break` = keep, activate = activate_locked, reclaim = free_it
      if (!page_evictable(pg)) {
        activate = true;
        break;
      }
      // folio_mapped: a PMD-mapped THP's mappings are its entire mapcount.
      if (!sc.may_unmap && (pg->mapcount > 0 || (PageTransHuge(pg) && entire_mapcount(pg) > 0))) break;
      if (page_is_file_lru(pg) && (pg->flags & ((1u << PG_writeback) | (1u << PG_locked)))) {
        fs_->complete_io(cpu, cost);     // page cache: end the I/O the device has finished
        if (pg->test(PG_locked)) break;  // a read in flight (folio_trylock fails): keep
      }
      const bool dirty = pg->test(PG_dirty), writeback = pg->test(PG_writeback);
      if (dirty || writeback) ++stat.nr_dirty;
      if (dirty && !writeback) ++stat.nr_unqueued_dirty;
      if (writeback) {  // case 2: under writeback, not ours to wait for
        ++stat.nr_writeback;
        activate = true;
        break;
      }
      // folio_check_references.
      const int referenced_ptes = page_referenced(pg, cpu, cost);
      const bool referenced_page = pg->test(PG_referenced);
      pg->clear(PG_referenced);
      if (referenced_ptes) {
        pg->set(PG_referenced);
        if (referenced_page || referenced_ptes > 1) {
          references = FOLIOREF_ACTIVATE;
        } else {
          references = FOLIOREF_KEEP;
        }
      } else if (referenced_page && page_is_file_lru(pg)) {
        references = FOLIOREF_RECLAIM_CLEAN;
      }
      if (references == FOLIOREF_ACTIVATE) {
        activate = true;
        break;
      }
      if (references == FOLIOREF_KEEP) {
        ++stat.nr_ref_keep;
        break;
      }
      // Before reclaiming the folio, try to relocate its contents to another node.
      if (do_demote_pass) {
        demote = true;
        break;
      }
      if (PageAnon(pg) && PageSwapBacked(pg)) {
        if (!pg->test(PG_swapcache)) {
          if (!(sc.gfp_mask & __GFP_IO)) break;
          if (PageTransHuge(pg)) {
            // No THP swap (CONFIG_THP_SWAP off): add_to_swap of the whole folio
            // fails, so split_folio_to_list puts the subpages on this list and
            // the head goes on as a small page (thp_swpout_fallback).
            if (!split_huge_page_to_list(pg, cpu, cost, &list)) {
              activate = true;
              break;
            }
            pm_.count_vm_events(cpu, THP_SWPOUT_FALLBACK);
            if (pg->mapcount == 0) {  // the head itself was unmapped: only the isolation reference is left
              reclaim = true;
              break;
            }
          }
          if (!add_to_swap(pg, cpu, cost)) {
            activate = true;
            break;
          }
        }
      } else if (PageSwapBacked(pg) && !pg->test(PG_swapcache)) {
        // shmem: unmapped through its object's VMAs, then shmem_writepage moves it
        // to the swap cache (os/shmem.cpp); pageout below writes it.
        if (!(sc.gfp_mask & __GFP_IO)) break;
        if (pg->mapcount > 0) try_to_unmap(pg, cpu, cost);
        if (pg->mapcount > 0) {
          ++stat.nr_unmap_fail;
          activate = true;
          break;
        }
        if (!shmem_->writepage(pg, cpu, cost)) {
          activate = true;
          break;
        }
      }
      if (pg->mapcount > 0) {
        try_to_unmap(pg, cpu, cost);
        if (pg->mapcount > 0) {
          ++stat.nr_unmap_fail;
          activate = true;
          break;
        }
      }
      if (pg->test(PG_dirty) && page_is_file_lru(pg) && !PageAnon(pg)) {
        // A dirty page-cache page: only kswapd writes it (through the file system's
        // writepage); direct reclaim leaves it to the flusher (NR_VMSCAN_IMMEDIATE).
        if (!sc.kswapd) {
          pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_VMSCAN_IMMEDIATE, 1);
          kthreads_->wakeup_flusher_threads();
          activate = true;
          break;
        }
        if (references == FOLIOREF_RECLAIM_CLEAN) break;
        if (!(sc.gfp_mask & __GFP_IO) || !sc.may_writepage) break;
        if (fs_->pageout(pg, cpu, cost)) ++stat.nr_pageout;
        break;  // keep: the write completes later, a later scan frees it
      }
      if (pg->test(PG_dirty)) {
        if (references == FOLIOREF_RECLAIM_CLEAN) break;
        if (!(sc.gfp_mask & __GFP_IO) || !sc.may_writepage) break;
        const pageout_t r = pageout(pg, cpu, cost);
        if (r == PAGE_KEEP) break;
        if (r == PAGE_ACTIVATE) {
          activate = true;
          break;
        }
        if (r == PAGE_SUCCESS) {
          ++stat.nr_pageout;
          if (pg->test(PG_writeback) || pg->test(PG_dirty)) break;  // keep: the write completes later
        }
      }
      if (pg->test(PG_swapcache)) {
        const std::uint64_t shadow = workingset_eviction(pg);
        if (!remove_swapcache_mapping(pg, shadow, cpu, cost)) break;
      } else if (page_is_file_lru(pg) && !PageAnon(pg)) {
        if (!fs_->remove_mapping(pg, cpu, cost)) break;  // __remove_mapping with a workingset shadow
      } else {
        break;  // no mapping to remove it from
      }
      if (pg->_refcount != 1 || pg->mapcount != 0) break;  // still in use: keep
      reclaim = true;
    } while (false);
    if (demote) {
      list_add(mem_map, demote_folios, pg);
      continue;
    }
    if (reclaim) {
      pg->flags &= ~((1u << PG_active) | (1u << PG_referenced) | (1u << PG_workingset) | (1u << PG_anon) |
                     (1u << PG_swapbacked) | (1u << PG_dirty));
      pg->owner = 0;
      pm_.free_pages(cpu, pg, 0, cost);  // the isolation reference: the last one
      ++nr_reclaimed;
      continue;
    }
    if (activate) {
      if (pg->test(PG_swapcache) && (pg->test(PG_mlocked) || nr_swap_pages() * 2 < total_swap_pages()))
        try_to_free_swap(pg);  // vm_swap_full or mlocked: the slot is not worth keeping
      if (!pg->test(PG_mlocked)) {
        pg->set(PG_active);
        ++stat.nr_activate[page_is_file_lru(pg) ? 1 : 0];
      }
    }
    list_add(mem_map, ret, pg);
  }
  // Migrate folios selected for demotion; those that could not move go through
  // the list again without demotion (swapped or kept).
  nr_reclaimed += demote_folio_list(demote_folios, pgdat.node_id, sc.kswapd, cpu, cost);
  if (!demote_folios.empty()) {
    list = demote_folios;
    demote_folios = PageList{};
    do_demote_pass = false;
    goto retry;
  }
  list = ret;
  pm_.count_vm_events(cpu, PGACTIVATE, stat.nr_activate[0] + stat.nr_activate[1]);
  return nr_reclaimed;
}

}  // namespace numasim::os
