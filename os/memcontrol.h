// Memory cgroups v2 (mm/memcontrol.c, mm/page_counter.c, mm/swap_cgroup.c):
// the hierarchy, its hierarchical page counters and the charge state. The seam
// between memcg and the code that allocates user-visible pages: the functions
// are Kernel members (declared in kernel.h under "memcg seam"), implemented in
// memcontrol.cpp (charging, limits, OOM), memcontrol_files.cpp (the cgroup
// files, the [[cgroup]] configuration):
//
//   mem_cgroup_charge(pg, mm, gfp, cost)
//       charge a new folio (anonymous fault, THP, page cache, shmem) of
//       lru_nr_pages(pg) pages to the cgroup of `mm` (mm->memcg_id; the root
//       cgroup when mm is null or in no cgroup); sets pg->memcg_id.
//       0, or -ENOMEM when the cgroup stays over memory.max after its own
//       reclaim and its OOM handling (the caller then frees the page and
//       returns VM_FAULT_OOM / -ENOMEM, nothing changed).
//   mem_cgroup_swapin_charge_folio(pg, mm, gfp, entry, cost)
//       the same for a page read back from swap (charged to the cgroup that
//       owned the swap entry when it is known, as Linux's swap_cgroup).
//   mem_cgroup_uncharge(pg)
//       the page is freed: its charge (and memcg_id) dropped. The page
//       allocator calls it (AllocHooks::uncharge_folio) when the last
//       reference of a charged page goes, whoever frees it.
//
// Kernel memory (Linux 6.1 obj_cgroup, CONFIG_MEMCG_KMEM): objects of
// SLAB_ACCOUNT caches (or __GFP_ACCOUNT kmallocs) charged in bytes through
// the per-CPU obj_stock with page-sized batches (obj_cgroup_charge ->
// obj_cgroup_charge_pages -> try_charge_memcg; refill_obj_stock returns whole
// pages, drain_obj_stock leaves the sub-page rest in nr_charged_bytes), and
// user page tables (GFP_PGTABLE_USER, memcg_kmem_charge_page: page::memcg_id
// set on the table's frame). Both count in memory.current and memory.stat
// "kernel" (MEMCG_KMEM), "pagetables", "slab_reclaimable" /
// "slab_unreclaimable" / "slab", per node in memory.numa_stat; a cgroup at
// memory.max reclaims for them and their allocation fails (-ENOMEM, or
// VM_FAULT_OOM for a page table after the cgroup's OOM killer) as Linux's.
// Tasks in the root cgroup and kernel threads charge nothing (memcg_kmem_bypass).
//
// The LRU side: page_lruvec(pm, pg) (os/mm_inline.h) is the one place that
// says which lruvec a page is on: the root cgroup's pages use the node's
// pgdat.__lruvec, a child cgroup's its mem_cgroup_per_node lruvec
// (pgdat.memcg_lruvec[id]). Without [[cgroup]] tables every page is the root's
// and reclaim behaves exactly as before.
// Simplified: cgroups are created at boot from the configuration and never
// removed (no rmdir, no offline memcgs, no task migration between cgroups
// after placement); cgroup v2 only (no memsw, no v1 files); no socket,
// percpu, vmalloc or kernel-stack charging (tasks have no kernel stacks); the root
// cgroup has no counter (as Linux, it is never limited); no memory.oom.group,
// no memory.reclaim, no memory.peak (6.1 has none either), no swap.high.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace numasim {
class Config;
}

namespace numasim::os {

// The root cgroup's id (page::memcg_id 0 = root / uncharged).
inline constexpr unsigned kRootMemcgId = 0;
// MEMCG_CHARGE_BATCH: pages a CPU's stock pre-charges at a time.
inline constexpr unsigned long MEMCG_CHARGE_BATCH = 64;
// PAGE_COUNTER_MAX ("max" in the files).
inline constexpr unsigned long PAGE_COUNTER_MAX = std::numeric_limits<long>::max() / 4096;
// memory.high throttling (mm/memcontrol.c): HZ 250 as Debian's kernels, at most 2 s per batch.
inline constexpr unsigned long MEMCG_HZ = 250;
inline constexpr unsigned long MEMCG_MAX_HIGH_DELAY_JIFFIES = 2 * MEMCG_HZ;
inline constexpr unsigned MEMCG_DELAY_PRECISION_SHIFT = 20;
inline constexpr unsigned MEMCG_DELAY_SCALING_SHIFT = 14;

// struct page_counter: usage and limits of one cgroup, charged up the hierarchy.
struct page_counter {
  long usage = 0;
  unsigned long max = PAGE_COUNTER_MAX;
  unsigned long high = PAGE_COUNTER_MAX;
  unsigned long low = 0;
  unsigned long min = 0;
  unsigned long emin = 0, elow = 0;  // effective protection (mem_cgroup_calculate_protection)
  unsigned long watermark = 0;       // highest usage
  unsigned long failcnt = 0;
  page_counter* parent = nullptr;
};
// page_counter_charge / page_counter_try_charge / page_counter_uncharge.
void page_counter_charge(page_counter* c, unsigned long nr);
// False (nothing charged) when some level would exceed its max; *fail is that level.
bool page_counter_try_charge(page_counter* c, unsigned long nr, page_counter** fail);
void page_counter_uncharge(page_counter* c, unsigned long nr);

// enum memcg_memory_event (memory.events, memory.swap.events).
enum memcg_memory_event {
  MEMCG_LOW,
  MEMCG_HIGH,
  MEMCG_MAX,
  MEMCG_OOM,
  MEMCG_OOM_KILL,
  MEMCG_SWAP_MAX,
  MEMCG_SWAP_FAIL,
  MEMCG_NR_MEMORY_EVENTS
};

// The event counters memory.stat shows (count_memcg_events), hierarchical on read.
#define MEMCG_EVENTS(X)                                                                                    \
  X(MEMCG_PGFAULT, "pgfault")                                                                           \
  X(MEMCG_PGMAJFAULT, "pgmajfault")                                                                     \
  X(MEMCG_PGREFILL, "pgrefill")                                                                         \
  X(MEMCG_PGSCAN_KSWAPD, "pgscan_kswapd")                                                               \
  X(MEMCG_PGSCAN_DIRECT, "pgscan_direct")                                                               \
  X(MEMCG_PGSTEAL_KSWAPD, "pgsteal_kswapd")                                                             \
  X(MEMCG_PGSTEAL_DIRECT, "pgsteal_direct")                                                             \
  X(MEMCG_PGACTIVATE, "pgactivate")                                                                     \
  X(MEMCG_PGDEACTIVATE, "pgdeactivate")                                                                 \
  X(MEMCG_WORKINGSET_REFAULT_ANON, "workingset_refault_anon")                                           \
  X(MEMCG_WORKINGSET_REFAULT_FILE, "workingset_refault_file")                                           \
  X(MEMCG_WORKINGSET_ACTIVATE_ANON, "workingset_activate_anon")                                         \
  X(MEMCG_WORKINGSET_ACTIVATE_FILE, "workingset_activate_file")                                         \
  X(MEMCG_WORKINGSET_RESTORE_ANON, "workingset_restore_anon")                                           \
  X(MEMCG_WORKINGSET_RESTORE_FILE, "workingset_restore_file")                                           \
  X(MEMCG_THP_FAULT_ALLOC, "thp_fault_alloc")                                                           \
  X(MEMCG_THP_COLLAPSE_ALLOC, "thp_collapse_alloc")
#define MEMCG_EVENT_ENUM(e, n) e,
enum memcg_event_item { MEMCG_EVENTS(MEMCG_EVENT_ENUM) MEMCG_NR_EVENTS };
#undef MEMCG_EVENT_ENUM
const char* memcg_event_name(memcg_event_item i);

// Per-node kernel-memory statistics of one cgroup (its own, not hierarchical):
// memcg lruvec state NR_SLAB_RECLAIMABLE_B / NR_SLAB_UNRECLAIMABLE_B (bytes),
// NR_PAGETABLE (pages), NR_KERNEL_STACK_KB (always 0 here).
enum memcg_kmem_stat_item {
  MEMCG_SLAB_RECLAIMABLE_B,
  MEMCG_SLAB_UNRECLAIMABLE_B,
  MEMCG_PAGETABLE,
  MEMCG_KERNEL_STACK_KB,
  MEMCG_NR_KMEM_STATS
};

// The per-CPU object stock (memcg_stock_pcp's cached_objcg / nr_bytes):
// bytes pre-charged to one cgroup for accounted slab objects.
struct obj_stock_pcp {
  unsigned cached = kRootMemcgId;  // memcg id (root: none)
  unsigned nr_bytes = 0;
};

// One [[cgroup]] table: the path and the limits written before any task runs.
struct MemCgroupParams {
  std::string path;  // "/batch", "/batch/job1": the parent must come first
  unsigned long max = PAGE_COUNTER_MAX, high = PAGE_COUNTER_MAX, low = 0, min = 0;  // pages
  unsigned long swap_max = PAGE_COUNTER_MAX;                                         // pages
  std::string origin;  // file:line:column of the table
};
// [[cgroup]] tables of the configuration root: path, "memory.max", "memory.high",
// "memory.low", "memory.min", "memory.swap.max" (sizes "256MiB" or "max").
// Errors (bad size, bad or duplicate path, a parent not defined before) are
// reported on the Config, located; the table is then left out.
std::vector<MemCgroupParams> parse_cgroups(Config root);

// struct mem_cgroup.
struct mem_cgroup {
  unsigned id = 0;
  std::string path;  // "/" for the root
  mem_cgroup* parent = nullptr;
  std::vector<mem_cgroup*> children;  // in creation order
  page_counter memory, swap;
  std::array<std::uint64_t, MEMCG_NR_MEMORY_EVENTS> memory_events{};        // hierarchical (memory.events)
  std::array<std::uint64_t, MEMCG_NR_MEMORY_EVENTS> memory_events_local{};  // memory.events.local
  std::array<std::uint64_t, MEMCG_NR_EVENTS> events{};                      // local counts
  std::uint64_t high_delay_ps = 0;  // time its tasks were throttled over memory.high
  // Kernel memory (its own charges): MEMCG_KMEM pages, the pages charged for
  // slab objects (obj_cgroup_charge_pages, not yet returned), the sub-page
  // rest of drained object stocks (objcg->nr_charged_bytes) and the per-node stats.
  long kmem = 0;
  long obj_pages = 0;
  std::uint64_t nr_charged_bytes = 0;
  std::vector<std::array<long, MEMCG_NR_KMEM_STATS>> kmem_node;  // [node]
  long kmem_stat(int nid, memcg_kmem_stat_item i) const {
    return static_cast<std::size_t>(nid) < kmem_node.size() ? kmem_node[static_cast<std::size_t>(nid)][i] : 0;
  }
};

// The per-CPU charge cache (struct memcg_stock_pcp).
struct memcg_stock_pcp {
  unsigned cached = kRootMemcgId;  // memcg id the pages are pre-charged to (root: none)
  unsigned long nr_pages = 0;
};

// The cgroup tree, the per-CPU stocks and swap_cgroup (entry -> memcg id).
struct MemCgroups {
  MemCgroups() {
    by_id.push_back(std::make_unique<mem_cgroup>());
    by_id[0]->path = "/";
  }
  std::vector<std::unique_ptr<mem_cgroup>> by_id;  // [0] the root
  std::vector<memcg_stock_pcp> stock;              // per CPU
  std::vector<obj_stock_pcp> obj_stock;            // per CPU (kernel memory)
  std::vector<std::vector<std::uint32_t>> swap_cgroup;  // [type][offset] -> memcg id (0: none)
  std::uint64_t nr_memcg_oom = 0;

  mem_cgroup* root() const { return by_id[0].get(); }
  mem_cgroup* find(const std::string& path) const;
  bool enabled() const { return by_id.size() > 1; }
};

// mem_cgroup_iter order: root first, then each subtree in pre-order.
std::vector<mem_cgroup*> mem_cgroup_subtree(mem_cgroup* root);

}  // namespace numasim::os
