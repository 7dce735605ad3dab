// Nodes and zones (include/linux/mmzone.h, nodemask.h): per node a pglist_data
// with up to MAX_NR_ZONES zones covering its physical range (DMA below 16 MiB,
// DMA32 below 4 GiB, Normal above, optionally Movable), each zone a buddy
// free_area[MAX_ORDER] with one list per migratetype, watermarks, lowmem_reserve,
// per-cpu page lists and its counters; per node two zonelists (fallback across
// nodes by distance, and this node only for __GFP_THISNODE).
// Simplified: lists are doubly linked through 32-bit PFNs in struct page (no
// list_head), each zone is one contiguous PFN range (no holes), no highatomic
// or CMA reserves, no memory hotplug, one lruvec per node (no memory cgroups).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "os/page.h"
#include "os/page_list.h"
#include "os/vmstat.h"

namespace numasim::os {

inline constexpr int MAX_NUMNODES = 64;
inline constexpr int NUMA_NO_NODE = -1;

// nodemask_t: a fixed bitset of node ids with the helpers of linux/nodemask.h.
// Iteration helpers return MAX_NUMNODES when there is no further node.
struct nodemask_t {
  std::uint64_t bits = 0;

  friend bool operator==(const nodemask_t&, const nodemask_t&) = default;
};
static_assert(MAX_NUMNODES == 64, "nodemask_t holds 64 nodes");

inline nodemask_t nodemask_of_node(int nid) { return nodemask_t{1ull << nid}; }
inline void node_set(int nid, nodemask_t& m) { m.bits |= 1ull << nid; }
inline void node_clear(int nid, nodemask_t& m) { m.bits &= ~(1ull << nid); }
inline bool node_isset(int nid, const nodemask_t& m) {
  return nid >= 0 && nid < MAX_NUMNODES && ((m.bits >> nid) & 1ull);
}
inline void nodes_clear(nodemask_t& m) { m.bits = 0; }
inline bool nodes_empty(const nodemask_t& m) { return m.bits == 0; }
inline int nodes_weight(const nodemask_t& m) { return std::popcount(m.bits); }
inline bool nodes_equal(const nodemask_t& a, const nodemask_t& b) { return a.bits == b.bits; }
inline bool nodes_subset(const nodemask_t& a, const nodemask_t& b) { return (a.bits & ~b.bits) == 0; }
inline bool nodes_intersects(const nodemask_t& a, const nodemask_t& b) { return (a.bits & b.bits) != 0; }
inline nodemask_t nodes_and(const nodemask_t& a, const nodemask_t& b) { return {a.bits & b.bits}; }
inline nodemask_t nodes_or(const nodemask_t& a, const nodemask_t& b) { return {a.bits | b.bits}; }
inline nodemask_t nodes_andnot(const nodemask_t& a, const nodemask_t& b) { return {a.bits & ~b.bits}; }
inline int first_node(const nodemask_t& m) { return m.bits ? std::countr_zero(m.bits) : MAX_NUMNODES; }
inline int last_node(const nodemask_t& m) { return m.bits ? 63 - std::countl_zero(m.bits) : MAX_NUMNODES; }
// Next set node strictly after n.
inline int next_node(int n, const nodemask_t& m) {
  if (n + 1 >= MAX_NUMNODES) return MAX_NUMNODES;
  std::uint64_t rest = n < 0 ? m.bits : (m.bits >> (n + 1)) << (n + 1);
  return rest ? std::countr_zero(rest) : MAX_NUMNODES;
}
// The mask as a node list, "0-1,3" (printk's %*pbl, sysfs nodelist files, the OOM log line).
std::string nodemask_pr_list(const nodemask_t& m);
// next_node_in: like next_node but wraps to the first node (MAX_NUMNODES if empty).
inline int next_node_in(int n, const nodemask_t& m) {
  int r = next_node(n, m);
  return r == MAX_NUMNODES ? first_node(m) : r;
}
// The n-th (0-based) set node, MAX_NUMNODES if fewer are set (bitmap_ord_to_pos).
int node_nth(const nodemask_t& m, int n);
// nodes_fold + nodes_onto as mpol_relative_nodemask uses them: bit i of `user`
// selects the (i mod weight(rel))-th node of `rel`.
nodemask_t nodes_relative(const nodemask_t& user, const nodemask_t& rel);

enum zone_watermarks { WMARK_MIN, WMARK_LOW, WMARK_HIGH, WMARK_PROMO, NR_WMARK };

// The LRU lists (enum lru_list): inactive/active x anon/file, then unevictable,
// in the order of the NR_*_ANON/FILE node and NR_ZONE_* zone counters.
enum lru_list : std::uint8_t {
  LRU_INACTIVE_ANON,
  LRU_ACTIVE_ANON,
  LRU_INACTIVE_FILE,
  LRU_ACTIVE_FILE,
  LRU_UNEVICTABLE,
  NR_LRU_LISTS
};
inline constexpr unsigned LRU_ACTIVE = 1;
inline constexpr unsigned LRU_FILE = 2;
inline constexpr bool is_file_lru(lru_list l) { return l == LRU_INACTIVE_FILE || l == LRU_ACTIVE_FILE; }
inline constexpr bool is_active_lru(lru_list l) { return l == LRU_ACTIVE_ANON || l == LRU_ACTIVE_FILE; }

// struct lruvec (one per node: no memory cgroups): the five page lists, their
// sizes, the recent reclaim cost of each type (anon_cost/file_cost, decayed as
// lru_note_cost does), the non-resident age clock of workingset shadows and the
// WORKINGSET_ACTIVATE snapshots shrink_node compares (refaults[]).
struct lruvec {
  std::array<PageList, NR_LRU_LISTS> lists{};
  std::array<std::uint64_t, NR_LRU_LISTS> nr_pages{};
  std::uint64_t anon_cost = 0;
  std::uint64_t file_cost = 0;
  std::uint64_t nonresident_age = 0;
  std::array<std::int64_t, 2> refaults{};  // WORKINGSET_ACTIVATE_ANON/FILE at the last shrink_node
  // Memory cgroups (os/memcontrol.h): the list sizes per zone (mem_cgroup_per_node's
  // lru_zone_size), the owning cgroup and its parent's lruvec on the same node
  // (parent_lruvec; null for the root's pgdat.__lruvec).
  std::array<std::array<std::uint64_t, NR_LRU_LISTS>, MAX_NR_ZONES> lru_zone_size{};
  std::uint32_t memcg_id = 0;
  lruvec* parent = nullptr;
};


struct free_area {
  std::array<PageList, MIGRATE_TYPES> free_list;
  std::array<std::uint64_t, MIGRATE_TYPES> nr_free_mt{};  // blocks per list (pagetypeinfo)
  std::uint64_t nr_free = 0;                              // blocks of this order, all types
};

// Per-cpu page lists of one zone on one CPU (struct per_cpu_pages). Lists for
// orders 0..PAGE_ALLOC_COSTLY_ORDER and each pcp migratetype; `count` in pages.
inline constexpr unsigned NR_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);
constexpr unsigned order_to_pindex(migratetype mt, unsigned order) { return order * MIGRATE_PCPTYPES + mt; }
constexpr unsigned pindex_to_order(unsigned pindex) { return pindex / MIGRATE_PCPTYPES; }

struct per_cpu_pages {
  int count = 0;        // pages on all lists
  int high = 0;         // drain above this
  int batch = 1;        // pages moved to/from the buddy at once
  int free_factor = 0;  // grows while freeing without allocating (nr_pcp_free)
  std::array<PageList, NR_PCP_LISTS> lists;
};

struct pglist_data;

struct zone {
  // Watermarks in pages; _watermark[WMARK_MIN..WMARK_PROMO].
  std::array<unsigned long, NR_WMARK> _watermark{};
  // Pages this zone keeps back from allocations whose highest usable zone is j.
  std::array<long, MAX_NR_ZONES> lowmem_reserve{};
  pglist_data* zone_pgdat = nullptr;
  std::vector<per_cpu_pages> per_cpu_pageset;  // indexed by CpuId
  std::uint64_t zone_start_pfn = 0;
  std::uint64_t spanned_pages = 0;
  std::uint64_t present_pages = 0;
  std::uint64_t managed_pages = 0;
  std::uint64_t nr_alloced_pages = 0;  // debug: pages handed out and not yet freed
  // Boot-time MOVABLE blocks of order MAX_ORDER-1 whose descriptors were never
  // written: logically the tail of free_area[MAX_ORDER-1].free_list[MIGRATE_MOVABLE]
  // in PFN order (as memblock_free_all queues them), materialised one at a time
  // when that list's head is needed. Counted in nr_free and NR_FREE_PAGES.
  std::uint64_t lazy_free_pfn = 0;
  std::uint64_t lazy_free_end = 0;
  bool has_lazy_blocks() const { return lazy_free_pfn < lazy_free_end; }
  zone_type idx = ZONE_DMA;
  const char* name = "";
  std::array<struct free_area, MAX_ORDER> free_area{};
  ZoneStats stats;
  // Watermark boost (boost_watermark after a fallback steal): added to every
  // watermark kswapd checks until it has reclaimed it.
  unsigned long watermark_boost = 0;

  std::uint64_t zone_end_pfn() const { return zone_start_pfn + spanned_pages; }
  bool populated() const { return present_pages != 0; }
  bool zone_spans_pfn(std::uint64_t pfn) const { return pfn >= zone_start_pfn && pfn < zone_end_pfn(); }
  int node() const;
};

inline unsigned long min_wmark_pages(const zone& z) { return z._watermark[WMARK_MIN]; }
inline unsigned long low_wmark_pages(const zone& z) { return z._watermark[WMARK_LOW]; }
inline unsigned long high_wmark_pages(const zone& z) { return z._watermark[WMARK_HIGH]; }
inline std::uint64_t zone_managed_pages(const zone& z) { return z.managed_pages; }
inline std::int64_t zone_page_state(const zone& z, zone_stat_item i) { return z.stats.vm_stat[i]; }
inline bool populated_zone(const zone& z) { return z.populated(); }

// One entry of a zonelist (struct zoneref).
struct zoneref {
  zone* z = nullptr;
  int zone_idx = 0;
  int nid = 0;
};
enum { ZONELIST_FALLBACK, ZONELIST_NOFALLBACK, MAX_ZONELISTS };
struct zonelist {
  std::vector<zoneref> _zonerefs;  // populated zones only, best first
};

struct pglist_data {
  std::array<zone, MAX_NR_ZONES> node_zones;
  std::array<zonelist, MAX_ZONELISTS> node_zonelists;
  int node_id = 0;
  std::uint64_t node_start_pfn = 0;
  std::uint64_t node_spanned_pages = 0;
  std::uint64_t node_present_pages = 0;
  std::vector<CpuId> cpus;  // empty for a CPU-less node
  NodeStats stats;
  // Free pages of the node's zones (the sum of their NR_FREE_PAGES) and the
  // lowest that sum reached since boot: a simulator's addition, so that a run
  // report can say how much memory a workload took after it has exited.
  std::int64_t nr_free_pages = 0;
  std::int64_t min_free_pages = 0;
  // What the allocations that woke kswapd needed (wakeup_kswapd): the largest
  // order and the highest zone index, for kswapd's balance_pgdat.
  unsigned kswapd_order = 0;
  zone_type kswapd_highest_zoneidx = ZONE_DMA;
  // Reclaim (os/vmscan.cpp): the node's LRU lists, kswapd's failed runs
  // (MAX_RECLAIM_RETRIES of them make the node hopeless until a direct reclaim
  // succeeds) and the balance_pgdat pass state.
  struct lruvec __lruvec;
  // mem_cgroup_per_node: the lruvec of each memory cgroup on this node, by memcg id
  // ([0] unused: the root cgroup's pages use __lruvec).
  std::vector<std::unique_ptr<lruvec>> memcg_lruvec;
  int kswapd_failures = 0;
  bool kswapd_short_sleep = false;      // in kswapd_try_to_sleep's HZ/10 nap
  Picoseconds kswapd_sleep_until{0};    // ... which ends then

  std::uint64_t node_end_pfn() const { return node_start_pfn + node_spanned_pages; }
};

inline int zone::node() const { return zone_pgdat->node_id; }
inline int zone_to_nid(const zone& z) { return z.zone_pgdat->node_id; }
inline zone_type zone_idx(const zone& z) { return z.idx; }
inline std::int64_t node_page_state(const pglist_data& n, node_stat_item i) { return n.stats.vm_stat[i]; }

// Linux's zone names as /proc/zoneinfo prints them ("DMA", "DMA32", "Normal", "Movable").
const char* zone_name(zone_type t);

}  // namespace numasim::os
