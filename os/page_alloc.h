// Physical memory of the simulated machine and its page allocator
// (mm/page_alloc.c, mm/mm_init.c, mm/vmstat.c): the page descriptors, the nodes
// and zones built from the topology, the buddy allocator with migratetype
// fallback stealing, per-cpu page lists, watermarks and lowmem_reserve, the
// zonelists, and the vm/zone/node/numa counters.
// The slow path (page_alloc_slowpath.cpp) is Linux's __alloc_pages_slowpath:
// kswapd wake-ups, direct compaction and reclaim, the retry logic and the OOM
// killer are reached through AllocHooks (alloc_hooks.h), which the Kernel
// implements; fail_page_alloc injects failures at prepare_alloc_pages.
// Simplified against Linux: no highatomic/CMA reserves, no ALLOC_NOFRAGMENT, no page
// isolation, no watermark boosting, no cpusets; struct page accesses are not
// charged as memory traffic (only __GFP_ZERO clearing is, through Platform).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/topology.h"
#include "common/units.h"
#include "os/alloc_hooks.h"
#include "os/fail_page_alloc.h"
#include "os/gfp.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"
#include "os/page.h"
#include "os/page_token.h"
#include "os/platform.h"
#include "os/vmstat.h"

namespace numasim {
class Config;
}

namespace numasim::os {

// Kernel cycles charged per allocator operation ([os.costs]); rough estimates of
// Linux 6.x on a server core, not measurements.
struct PageAllocCosts {
  std::uint32_t pcp_alloc_cycles = 60;     // rmqueue_pcplist hit
  std::uint32_t pcp_free_cycles = 50;      // free_unref_page_commit
  std::uint32_t buddy_alloc_cycles = 150;  // __rmqueue of one block (incl. zone lock)
  std::uint32_t buddy_free_cycles = 120;   // __free_one_page of one block
  std::uint32_t buddy_step_cycles = 15;    // each expand() split or buddy merge
  std::uint32_t zone_check_cycles = 20;    // each zone visited in get_page_from_freelist
};

struct PhysMemParams {
  std::uint64_t min_free_kbytes = 0;             // 0 = Linux's formula sqrt(lowmem_kbytes * 16)
  unsigned watermark_scale_factor = 10;          // in 1/10000 of managed pages
  std::uint32_t pcp_high = 0;                    // 0 = Linux's zone_highsize()
  std::uint32_t pcp_batch = 0;                   // 0 = Linux's zone_batchsize()
  bool movable_zone = false;                     // memory of CPU-less nodes onlined as ZONE_MOVABLE (CXL default)
  std::vector<std::uint8_t> interleave_weights;  // weighted interleave per node; empty = all 1
  PageAllocCosts costs;
  FailPageAllocParams fail_page_alloc;           // [os.fail_page_alloc] fault injection

  // Reads [os.vm] (sysctl-like: min_free_kbytes, watermark_scale_factor,
  // percpu_pagelist_high, percpu_pagelist_batch, movable_zone,
  // weighted_interleave), page-allocator costs from [os.costs] and
  // [os.fail_page_alloc].
  static PhysMemParams from_config(Config os);
};

// A node as the allocator needs it; used until/besides Topology.
struct NodeLayout {
  NodeId id;
  PhysAddr base = 0;  // start of its physical range (aligned to 2 MiB at least)
  Bytes memory;       // capacity (truncated to whole 2 MiB pageblocks)
  std::vector<CpuId> cpus;
};

// alloc_flags (mm/internal.h ALLOC_*): the watermark in the low bits, then what
// the request may dip into. ALLOC_MIN_RESERVE and ALLOC_NON_BLOCK are 6.4's split
// of 6.1's ALLOC_HARDER/ALLOC_HIGH (same watermark arithmetic as before the split
// for the requests modelled here).
inline constexpr unsigned ALLOC_WMARK_MIN = WMARK_MIN;
inline constexpr unsigned ALLOC_WMARK_LOW = WMARK_LOW;
inline constexpr unsigned ALLOC_WMARK_HIGH = WMARK_HIGH;
inline constexpr unsigned ALLOC_NO_WATERMARKS = 0x04;
inline constexpr unsigned ALLOC_WMARK_MASK = ALLOC_NO_WATERMARKS - 1;
inline constexpr unsigned ALLOC_MIN_RESERVE = 0x08;  // __GFP_HIGH: half of WMARK_MIN
inline constexpr unsigned ALLOC_NON_BLOCK = 0x10;    // cannot block: a quarter more of it
inline constexpr unsigned ALLOC_CPUSET = 0x40;       // (no cpusets: carried only)
inline constexpr unsigned ALLOC_KSWAPD = 0x800;      // __GFP_KSWAPD_RECLAIM: wake kswapd

// Reclaim retries without progress before OOM (MAX_RECLAIM_RETRIES) and
// compaction retries (MAX_COMPACT_RETRIES).
inline constexpr int MAX_RECLAIM_RETRIES = 16;
inline constexpr int MAX_COMPACT_RETRIES = 16;

// struct alloc_context: what prepare_alloc_pages fixes for one request.
struct alloc_context {
  const zonelist* zl = nullptr;
  const nodemask_t* nodemask = nullptr;
  zone* preferred_zone = nullptr;  // first usable zone of the zonelist (statistics)
  zone_type highest_zoneidx = ZONE_NORMAL;
  migratetype mt = MIGRATE_UNMOVABLE;
};

// What the slow path did, counted so that tests (and later reports) see each
// step: entries, hook calls, retries, OOM decisions and failures.
struct SlowpathStats {
  std::uint64_t slowpath = 0;         // __alloc_pages_slowpath entries
  std::uint64_t kswapd_wakeups = 0;   // wakeup_kswapd calls (one per node of the zonelist)
  std::uint64_t direct_compact = 0;   // try_to_compact_pages calls
  std::uint64_t direct_reclaim = 0;   // try_to_free_pages calls
  std::uint64_t reclaim_retries = 0;  // should_reclaim_retry / should_compact_retry said retry
  std::uint64_t may_oom = 0;          // __alloc_pages_may_oom entries
  std::uint64_t oom_calls = 0;        // out_of_memory calls
  std::uint64_t oom_progress = 0;     // ... that freed memory (the allocation was retried)
  std::uint64_t failed = 0;           // allocations the slow path gave up on (warn_alloc)
  std::uint64_t injected = 0;         // allocations failed by fail_page_alloc
};

// Statistics snapshot helpers return sums over CPUs/zones.
class PhysMem {
 public:
  // Builds nodes, zones, zonelists, watermarks and per-cpu lists; frees all memory
  // to the buddy. Throws std::invalid_argument on an inconsistent layout.
  PhysMem(std::vector<NodeLayout> nodes, std::vector<std::vector<int>> distances, const PhysMemParams& params,
          Platform& platform);
  PhysMem(const Topology& topo, const PhysMemParams& params, Platform& platform);
  ~PhysMem();
  PhysMem(const PhysMem&) = delete;
  PhysMem& operator=(const PhysMem&) = delete;

  // __alloc_pages: watermark-checked fast path over the zonelist of preferred_nid
  // (per-cpu lists for order <= PAGE_ALLOC_COSTLY_ORDER, else rmqueue from the
  // buddy), then __alloc_pages_slowpath; nullptr on failure. `nodemask` may be
  // null (all nodes). The page comes back with _refcount 1.
  page* alloc_pages(CpuId cpu, gfp_t gfp, unsigned order, NodeId preferred_nid, const nodemask_t* nodemask,
                    KernelCost& cost);
  // A preferred_nid outside 0..nr_node_ids-1 (NUMA_NO_NODE) means the CPU's node.
  // alloc_pages_node-like convenience: preferred node, no nodemask.
  page* alloc_pages_node(CpuId cpu, NodeId nid, gfp_t gfp, unsigned order, KernelCost& cost) {
    return alloc_pages(cpu, gfp, order, nid, nullptr, cost);
  }
  // The slow path's partners (kswapd, compaction, reclaim, the OOM killer); null
  // restores the defaults (nothing to wake, compact or reclaim, no OOM killer).
  void set_alloc_hooks(AllocHooks* hooks) { hooks_ = hooks ? hooks : &no_hooks_; }
  // node_reclaim_enabled(): vm.zone_reclaim_mode has RECLAIM_ZONE, _WRITE or _UNMAP set.
  void set_node_reclaim_enabled(bool on) { node_reclaim_enabled_ = on; }
  bool node_reclaim_enabled() const { return node_reclaim_enabled_; }
  // The kernel's page identity tokens: __GFP_ZERO clears them (null: none).
  void set_page_tokens(PageTokens* tokens) { page_tokens_ = tokens; }
  const SlowpathStats& slowpath_stats() const { return slowpath_stats_; }
  FailPageAlloc& fail_page_alloc() { return fail_page_alloc_; }
  const FailPageAlloc& fail_page_alloc() const { return fail_page_alloc_; }

  // __free_pages: drops a reference; on the last one the block goes to the
  // per-cpu list (small orders) or straight into the buddy.
  void free_pages(CpuId cpu, page* pg, unsigned order, KernelCost& cost);

  // Frame <-> descriptor <-> address.
  Pfn page_to_pfn(const page* pg) const { return Pfn(static_cast<std::uint64_t>(pg - mem_map_)); }
  page* pfn_to_page(Pfn pfn) { return mem_map_ + pfn.value(); }
  const page* pfn_to_page(Pfn pfn) const { return mem_map_ + pfn.value(); }
  bool pfn_valid(Pfn pfn) const;  // inside some node's memory
  PhysAddr page_to_phys(const page* pg) const { return page_to_pfn(pg).value() << kPageShift; }
  page* phys_to_page(PhysAddr addr) { return pfn_to_page(Pfn(addr >> kPageShift)); }
  NodeId page_to_nid(const page* pg) const { return NodeId(pb_node(pfn32(pg))); }
  zone* page_zone(const page* pg) { return pageblock_zone(pageblocks_[pfn32(pg) >> pageblock_order]); }
  const zone* page_zone(const page* pg) const {
    return pageblock_zone(pageblocks_[pfn32(pg) >> pageblock_order]);
  }
  page* compound_head(page* pg) { return PageTail(pg) ? mem_map_ + pg->private_ : pg; }
  migratetype get_pageblock_migratetype(const page* pg) const {
    return static_cast<migratetype>(pageblocks_[pfn32(pg) >> pageblock_order].mt);
  }

  // Nodes, CPUs, zonelists.
  pglist_data& NODE_DATA(NodeId nid) { return *nodes_[nid.value()]; }
  const pglist_data& NODE_DATA(NodeId nid) const { return *nodes_[nid.value()]; }
  int nr_node_ids() const { return static_cast<int>(nodes_.size()); }
  int nr_cpu_ids() const { return static_cast<int>(cpu_to_node_.size()); }
  NodeId cpu_to_node(CpuId cpu) const { return cpu_to_node_[cpu.value()]; }
  int node_distance(NodeId a, NodeId b) const { return distance_[a.value()][b.value()]; }
  nodemask_t node_states_memory() const { return n_memory_; }  // node_states[N_MEMORY]
  nodemask_t node_states_cpu() const { return n_cpu_; }        // node_states[N_CPU]
  // Node order of ZONELIST_FALLBACK for `nid` (build_zonelists).
  std::vector<int> node_order(NodeId nid) const;
  // Highest zone type mempolicy MPOL_BIND applies to (policy_zone).
  zone_type policy_zone() const { return policy_zone_; }
  const PhysMemParams& params() const { return params_; }
  // A write of /sys/kernel/mm/mempolicy/weighted_interleave/node<nid>: the weight (1..255)
  // MPOL_WEIGHTED_INTERLEAVE gives the node. Returns 0, or -EINVAL for a bad node or weight.
  int set_interleave_weight(NodeId nid, unsigned weight);
  // Lowest free memory of a node since boot, in pages (pglist_data::min_free_pages).
  std::int64_t node_min_free_pages(NodeId nid) const { return nodes_[nid.value()]->min_free_pages; }
  Platform& platform() { return platform_; }
  std::uint64_t max_pfn() const { return max_pfn_; }
  std::uint64_t totalram_pages() const;  // managed pages of all zones
  // calculate_totalreserve_pages: per zone max(lowmem_reserve) + high watermark.
  std::uint64_t totalreserve_pages() const { return totalreserve_pages_; }
  std::uint64_t min_free_kbytes() const { return min_free_kbytes_; }  // effective value

  // Counters. Gauges may be updated by other subsystems through these.
  void mod_node_page_state(NodeId nid, node_stat_item item, std::int64_t delta) {
    nodes_[nid.value()]->stats.vm_stat[item] += delta;
  }
  void mod_zone_page_state(zone& z, zone_stat_item item, std::int64_t delta) { z.stats.vm_stat[item] += delta; }
  void count_vm_events(CpuId cpu, vm_event_item item, std::uint64_t delta = 1) {
    vm_events_[static_cast<std::size_t>(cpu.value())][item] += delta;
  }
  // Counted without a CPU (daemons, boot): kept in a separate bucket.
  void count_vm_event(vm_event_item item, std::uint64_t delta = 1) { vm_events_.back()[item] += delta; }
  void count_numa_event(zone& z, numa_stat_item item, std::uint64_t delta = 1) { z.stats.vm_numa_event[item] += delta; }
  std::int64_t node_page_state(NodeId nid, node_stat_item item) const {
    return nodes_[nid.value()]->stats.vm_stat[item];
  }
  std::int64_t global_node_page_state(node_stat_item item) const;
  std::int64_t node_zone_page_state(NodeId nid, zone_stat_item item) const;  // summed over zones
  std::int64_t global_zone_page_state(zone_stat_item item) const;
  std::uint64_t node_numa_event_state(NodeId nid, numa_stat_item item) const;  // summed over zones
  std::uint64_t global_numa_event_state(numa_stat_item item) const;
  std::uint64_t sum_vm_event(vm_event_item item) const;  // all CPUs plus the CPU-less bucket
  // One CPU's events; cpu -1 (or any id past the last CPU): the CPU-less bucket.
  std::uint64_t cpu_vm_event(CpuId cpu, vm_event_item item) const {
    const std::size_t i = static_cast<std::size_t>(cpu.value());
    return (cpu.value() < 0 || i + 1 >= vm_events_.size() ? vm_events_.back() : vm_events_[i])[item];
  }
  VmEvents all_vm_events() const;
  // Clears events (vm, numa) but not gauges, e.g. after warm-up.
  void reset_events();

  // Per-cpu lists: drain_local_pages / drain_all_pages.
  void drain_local_pages(CpuId cpu, KernelCost& cost);
  void drain_all_pages(KernelCost& cost);

  // __zone_watermark_ok(z, order, mark, highest_zoneidx, alloc_flags, free_pages);
  // alloc_high = ALLOC_MIN_RESERVE (__GFP_HIGH), non_block = ALLOC_NON_BLOCK.
  bool zone_watermark_ok(const zone& z, unsigned order, unsigned long mark, zone_type highest_zoneidx,
                         bool alloc_high = false, bool non_block = false) const;

  // CONFIG_DEBUG_VM-like checker: every free list well formed and its blocks
  // flagged PG_buddy with the list's order, inside the zone, aligned, with no
  // free buddy left unmerged; per-cpu lists flagged PG_pcp and counted right;
  // nr_free and NR_FREE_PAGES agree with the lists; no free page has a reference
  // or mapping; per-zone frame totals add up (free + pcp + in use = managed).
  // Aborts with a message naming the broken invariant. O(frames): use sparingly
  // on big machines.
  void check_consistency() const;

  // ---- compaction's isolation helpers (os/compaction.cpp) ----
  // __isolate_free_page: takes the free buddy block `pg` of `order` off its list
  // when the zone stays above WMARK_MIN + 2^order (as if it were allocated);
  // blocks of at least half a pageblock turn their pageblocks MOVABLE. Returns
  // 2^order, or 0 (nothing changed).
  unsigned long __isolate_free_page(page* pg, unsigned order);
  // post_alloc_hook + split_page of an isolated block (split_map_pages): 2^order
  // order-0 pages, each with _refcount 1, counted as in use.
  void split_isolated_page(CpuId cpu, page* pg, unsigned order, KernelCost& cost);
  // __zone_watermark_ok with an explicit free-page count (__compaction_suitable's check).
  bool __zone_watermark_ok(const zone& z, unsigned order, unsigned long mark, zone_type highest_zoneidx,
                           unsigned alloc_flags, long free_pages) const {
    return zone_watermark_ok_free(z, order, mark, highest_zoneidx, alloc_flags, free_pages);
  }
  // free_area_empty(area, mt) with the lazily initialised boot blocks.
  bool free_area_empty(const zone& z, unsigned order, unsigned mt) const { return free_list_empty(z, order, mt); }
  // find_suitable_fallback: a fallback type with free blocks of `order` (stealable
  // ones only when only_stealable), or -1.
  int find_suitable_fallback(const zone& z, unsigned order, migratetype mt, bool only_stealable,
                             bool* can_steal) const;

 private:
  friend class PhysMemTestAccess;
  struct PageblockInfo {
    std::uint8_t nid;   // 0xff = no memory here
    std::uint8_t zone;  // zone_type
    std::uint8_t mt;    // pageblock migratetype
    std::uint8_t pad;
  };

  std::uint32_t pfn32(const page* pg) const { return static_cast<std::uint32_t>(pg - mem_map_); }
  zone* pageblock_zone(const PageblockInfo& pb) const { return &nodes_[pb.nid]->node_zones[pb.zone]; }
  int pb_node(std::uint64_t pfn) const { return pageblocks_[pfn >> pageblock_order].nid; }

  void init_nodes(std::vector<NodeLayout> nodes);
  void build_zonelists();
  void setup_per_zone_wmarks();
  void setup_per_zone_lowmem_reserve();
  void setup_pcp();
  void calculate_totalreserve_pages();
  void free_zone_memory(zone& z);

  // Core of the allocator (page_alloc.cpp).
  page* get_page_from_freelist(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags, const alloc_context& ac,
                               KernelCost& cost);
  // The slow path and its steps (page_alloc_slowpath.cpp).
  page* __alloc_pages_slowpath(CpuId cpu, gfp_t gfp, unsigned order, alloc_context& ac, KernelCost& cost);
  void wake_all_kswapds(unsigned order, gfp_t gfp, const alloc_context& ac);
  page* __alloc_pages_direct_compact(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                     const alloc_context& ac, compact_priority prio, compact_result& result,
                                     KernelCost& cost);
  page* __alloc_pages_direct_reclaim(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                     const alloc_context& ac, unsigned long& did_some_progress, KernelCost& cost);
  bool should_reclaim_retry(gfp_t gfp, unsigned order, const alloc_context& ac, unsigned alloc_flags,
                            bool did_some_progress, int& no_progress_loops);
  bool should_compact_retry(const alloc_context& ac, unsigned order, unsigned alloc_flags, compact_result result,
                            compact_priority& prio, int& compaction_retries);
  bool compaction_zonelist_suitable(const alloc_context& ac, unsigned order, unsigned alloc_flags);
  page* __alloc_pages_may_oom(CpuId cpu, gfp_t gfp, unsigned order, const alloc_context& ac,
                              unsigned long& did_some_progress, KernelCost& cost);
  bool zone_watermark_ok_free(const zone& z, unsigned order, unsigned long mark, zone_type highest_zoneidx,
                              unsigned alloc_flags, long free_pages) const;
  page* rmqueue(CpuId cpu, zone& preferred, zone& z, unsigned order, migratetype mt, KernelCost& cost);
  page* rmqueue_pcplist(CpuId cpu, zone& z, unsigned order, migratetype mt, KernelCost& cost);
  // NR_FREE_PAGES of `z` (and its node's running total and low-water mark) += delta.
  void mod_free_pages(zone& z, std::int64_t delta) {
    z.stats.vm_stat[NR_FREE_PAGES] += delta;
    pglist_data& n = *z.zone_pgdat;
    n.nr_free_pages += delta;
    if (n.nr_free_pages < n.min_free_pages) n.min_free_pages = n.nr_free_pages;
  }
  int rmqueue_bulk(zone& z, unsigned order, int count, PageList& list, migratetype mt, KernelCost& cost);
  page* __rmqueue(zone& z, unsigned order, migratetype mt, KernelCost& cost);
  page* __rmqueue_smallest(zone& z, unsigned order, migratetype mt, KernelCost& cost);
  bool __rmqueue_fallback(zone& z, unsigned order, migratetype start_mt);
  void steal_suitable_fallback(zone& z, page* pg, unsigned current_order, migratetype start_mt, bool whole_block);
  unsigned long move_freepages_block(zone& z, page* pg, migratetype mt, unsigned long* movable_pages);
  void expand(zone& z, page* pg, unsigned low, unsigned high, migratetype mt, KernelCost& cost);
  void __free_one_page(page* pg, std::uint64_t pfn, zone& z, unsigned order, migratetype mt, KernelCost& cost);
  unsigned merge_free_block(page* pg, std::uint64_t pfn, zone& z, unsigned order, migratetype mt);
  void free_unref_page(CpuId cpu, page* pg, unsigned order, zone& z, migratetype mt, KernelCost& cost);
  void free_pcppages_bulk(zone& z, int count, per_cpu_pages& pcp, unsigned pindex, KernelCost& cost);
  void free_the_page(CpuId cpu, page* pg, unsigned order, KernelCost& cost);
  void free_compound_tails(page* pg, std::uint64_t pfn, unsigned order);
  void free_pages_after_first(CpuId cpu, page* pg, unsigned order, KernelCost& cost);
  void prep_new_page(CpuId cpu, page* pg, unsigned order, gfp_t gfp, KernelCost& cost);
  void zone_statistics(zone& preferred, zone& z, CpuId cpu);
  void set_pageblock_migratetype(std::uint64_t pfn, migratetype mt) { pageblocks_[pfn >> pageblock_order].mt = mt; }

  // Free-list primitives (on top of page_list.h).
  void add_to_free_list(page* pg, zone& z, unsigned order, migratetype mt, bool tail);
  void del_page_from_free_list(page* pg, zone& z, unsigned order);
  // Free-list views that include the lazily materialised boot blocks.
  bool free_list_empty(const zone& z, unsigned order, unsigned mt) const {
    return z.free_area[order].free_list[mt].empty() &&
           !(order == MAX_ORDER - 1 && mt == MIGRATE_MOVABLE && z.has_lazy_blocks());
  }
  page* free_list_head(zone& z, unsigned order, unsigned mt);

  PhysMemParams params_;
  Platform& platform_;
  page* mem_map_ = nullptr;  // FLATMEM: descriptor of PFN p is mem_map_[p]
  std::uint64_t max_pfn_ = 0;
  std::size_t mem_map_bytes_ = 0;
  std::vector<PageblockInfo> pageblocks_;
  std::vector<std::unique_ptr<pglist_data>> nodes_;
  std::vector<NodeId> cpu_to_node_;
  std::vector<std::vector<int>> distance_;
  nodemask_t n_memory_{}, n_cpu_{};
  zone_type policy_zone_ = ZONE_NORMAL;
  std::vector<VmEvents> vm_events_;  // nr_cpu_ids + 1 (last: no CPU)
  std::uint64_t totalreserve_pages_ = 0;
  std::uint64_t min_free_kbytes_ = 0;
  AllocHooks no_hooks_;
  AllocHooks* hooks_ = &no_hooks_;
  bool node_reclaim_enabled_ = false;
  SlowpathStats slowpath_stats_;
  FailPageAlloc fail_page_alloc_;
  PageTokens* page_tokens_ = nullptr;
};

}  // namespace numasim::os
