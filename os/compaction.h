// Memory compaction (mm/compaction.c, Linux 6.1): per zone a migrate scanner
// walking pageblocks up from the zone start, isolating movable pages
// (isolate_migratepages / isolate_migratepages_block), and a free scanner
// walking down from the zone end, isolating free buddy blocks split into
// order-0 targets (isolate_freepages / isolate_freepages_block); each isolated
// page migrates into a target (compaction_alloc), and the pass ends when the
// scanners meet or compact_finished finds a free block of the order asked for.
// Around it: compaction_suitable (the watermark check of __compaction_suitable
// and the fragmentation index against vm.extfrag_threshold), direct compaction
// for the allocator's slow path (try_to_compact_pages with the compact
// priorities, defer_compaction / compaction_deferred), the per-node kcompactd
// thread (wakeup_kcompactd, kcompactd_do_work) with proactive compaction
// (vm.compaction_proactiveness, the per-node fragmentation score checked every
// HPAGE_FRAG_CHECK_INTERVAL_MSEC), and vm.compact_memory / the per-node
// compact files (compact_node). The debugfs views (extfrag/unusable_index,
// extfrag/extfrag_index) use the same contig_page_info arithmetic.
// Simplified against Linux: no pageblock skip bits (isolation_suitable is
// always true; the cached scanner positions are kept), no fast_find_migrateblock
// or fast_isolate_freepages (the scanners are linear), no capture of the freed
// page (the allocator retries its free lists), no lock contention (async
// compaction never aborts), no non-LRU movable pages. As Linux 6.1, the migrate
// scanner isolates only pages on an LRU list (PageLRU: isolate_lru_page takes
// them off it, NR_ISOLATED_ANON/FILE count them, putback_lru_page returns those
// that did not move; a moved page's replacement joins the LRU through the
// lru_add batch with the old page's state), steps over compound pages whole
// (THPs and hugetlb pages are not compacted, as without cc->alloc_contig) and
// skips pinned (page_count > page_mapcount), locked and writeback pages.
// Anonymous and page-cache pages are isolated (Linux 6.1 takes file LRU pages:
// filemap_migrate_folio does not block, so async mode takes dirty ones too;
// mapped or not, moved by Kernel::migrate_isolated_file_page); shmem and
// swap-cache pages are not.
// compact_zone drains the CPU's lru_add batch first (lru_add_drain) so that
// freshly faulted pages are on their lists. Scanner work is charged in
// cycles per PFN looked at and per page isolated ([os.costs] compact_*);
// each migration is charged as migrate_pages is (migrate_page_cycles, the copy
// through Platform::kernel_copy, rmap walks, PTE writes and TLB flushes).
// Per-zone compaction state lives here (indexed by node and zone), not in
// struct zone.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "os/alloc_hooks.h"
#include "os/gfp.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"

namespace numasim {
class Config;
}

namespace numasim::os {

class Kernel;
class PhysMem;
class Kthreads;
struct Kthread;
struct KthreadResult;
struct task_struct;

inline constexpr unsigned COMPACT_CLUSTER_MAX = 32;    // SWAP_CLUSTER_MAX pages per migration batch
inline constexpr unsigned COMPACT_MAX_DEFER_SHIFT = 6;
inline constexpr unsigned COMPACTION_HPAGE_ORDER = 9;  // HPAGE_PMD_ORDER

// vm sysctls and costs of compaction ([os.vm], [os.costs]).
struct CompactionParams {
  unsigned compaction_proactiveness = 20;  // vm.compaction_proactiveness (0..100)
  int extfrag_threshold = 500;             // vm.extfrag_threshold (0..1000)
  // CPU cycles (rough estimates): per PFN a scanner looks at (a struct page
  // read and its tests), per page isolated onto a compaction list.
  std::uint32_t migrate_scan_cycles = 6;
  std::uint32_t free_scan_cycles = 6;
  std::uint32_t isolate_cycles = 40;

  // [os.vm] compaction_proactiveness, extfrag_threshold; [os.costs]
  // compact_migrate_scan_cycles, compact_free_scan_cycles, compact_isolate_cycles.
  static CompactionParams from_config(Config os);
};

// enum migrate_mode.
enum migrate_mode { MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC };

// struct compact_control: one compaction run over one zone.
struct compact_control {
  std::vector<page*> freepages;     // isolated free targets (order 0, _refcount 1)
  std::vector<page*> migratepages;  // isolated pages to move
  std::uint64_t free_pfn = 0;       // the free scanner's position (it moves down)
  std::uint64_t migrate_pfn = 0;    // the migrate scanner's position (it moves up)
  std::uint64_t total_migrate_scanned = 0;
  std::uint64_t total_free_scanned = 0;
  std::uint64_t nr_migrated = 0;  // pages moved (not a Linux field; pgmigrate_success counts them too)
  std::uint64_t nr_migrate_failed = 0;
  os::zone* zone = nullptr;
  gfp_t gfp_mask = 0;
  int order = -1;  // -1: compact the whole zone (compact_memory, proactive)
  os::migratetype migratetype = MIGRATE_MOVABLE;
  unsigned alloc_flags = 0;
  zone_type highest_zoneidx = ZONE_NORMAL;
  migrate_mode mode = MIGRATE_ASYNC;
  bool ignore_block_suitable = false;
  bool direct_compaction = false;
  bool proactive_compaction = false;
  bool whole_zone = false;
  bool rescan = false;
  // Where the work runs and what it charges.
  CpuId cpu{0};
  KernelCost* cost = nullptr;
};

// The zone fields compaction keeps (struct zone's compact_* members).
struct ZoneCompactState {
  std::uint64_t compact_cached_free_pfn = 0;
  std::array<std::uint64_t, 2> compact_cached_migrate_pfn{};  // [async, sync]
  std::uint64_t compact_init_migrate_pfn = 0;
  std::uint64_t compact_init_free_pfn = 0;
  unsigned compact_considered = 0;
  unsigned compact_defer_shift = 0;
  int compact_order_failed = 0;
};

// fill_contig_page_info's summary of a zone's free lists for a suitable order.
struct contig_page_info {
  std::uint64_t free_pages = 0;
  std::uint64_t free_blocks_total = 0;
  std::uint64_t free_blocks_suitable = 0;
};
contig_page_info fill_contig_page_info(const zone& z, unsigned suitable_order);
// __fragmentation_index: -1000 when a block of `order` is free, else 0 (lack of
// memory) .. 1000 (external fragmentation), in thousandths.
int __fragmentation_index(unsigned order, const contig_page_info& info);
int fragmentation_index(const zone& z, unsigned order);
// unusable_free_index: thousandths of the free memory unusable for `order`.
int unusable_free_index(unsigned order, const contig_page_info& info);
// extfrag_for_order: percent of free memory unusable for `order`.
unsigned extfrag_for_order(const zone& z, unsigned order);
// /sys/kernel/debug/extfrag/unusable_index and extfrag_index (mm/vmstat.c).
std::string debugfs_unusable_index(const PhysMem& pm);
std::string debugfs_extfrag_index(const PhysMem& pm);

class Compaction {
 public:
  Compaction(Kernel& k, const CompactionParams& params);
  Compaction(const Compaction&) = delete;
  Compaction& operator=(const Compaction&) = delete;

  // Installs kcompactd<N>'s work function (kcompactd()) in every node's thread.
  void install_kcompactd();

  const CompactionParams& params() const { return params_; }
  // sysctl writes: -EINVAL (unchanged) out of range.
  int set_compaction_proactiveness(int v);
  int set_extfrag_threshold(int v);

  // compaction_suitable: COMPACT_SUCCESS (the watermark for `order` is met
  // already), COMPACT_SKIPPED (too little free memory, or a fragmentation index
  // at or below extfrag_threshold for a costly order) or COMPACT_CONTINUE.
  compact_result compaction_suitable(const zone& z, int order, unsigned alloc_flags, zone_type highest_zoneidx) const;
  // compact_zone: one run of the two scanners over cc.zone.
  compact_result compact_zone(compact_control& cc);
  // try_to_compact_pages: direct compaction over the zonelist (the slow path's hook).
  compact_result try_to_compact_pages(gfp_t gfp, unsigned order, unsigned alloc_flags, const zonelist& zl,
                                      const nodemask_t* nodemask, compact_priority prio, CpuId cpu, KernelCost& cost);

  // Deferral (defer_compaction and friends) on the zone's state.
  void defer_compaction(const zone& z, int order);
  bool compaction_deferred(const zone& z, int order);
  void compaction_defer_reset(const zone& z, int order, bool alloc_success);
  bool compaction_restarting(const zone& z, int order);
  ZoneCompactState& state(const zone& z);

  // Proactive compaction's fragmentation score (0..100) and its watermarks.
  unsigned fragmentation_score_zone(const zone& z) const;
  unsigned fragmentation_score_node(NodeId nid) const;
  unsigned fragmentation_score_wmark(bool low) const;
  bool should_proactive_compact_node(NodeId nid) const;
  void proactive_compact_node(NodeId nid, CpuId cpu, KernelCost& cost);
  // compact_node (vm.compact_memory, /sys/devices/system/node/nodeN/compact):
  // every zone of the node compacted whole, MIGRATE_SYNC.
  void compact_node(NodeId nid, CpuId cpu, KernelCost& cost);

  // wakeup_kcompactd: records the order and zone asked for and wakes the node's
  // kcompactd when it sleeps and compaction is suitable there.
  void wakeup_kcompactd(NodeId nid, int order, zone_type highest_zoneidx);
  // kcompactd's loop body (one pass between sleeps).
  KthreadResult kcompactd(Kthreads& k, Kthread& self, NodeId nid, KernelCost& cost);
  void kcompactd_do_work(NodeId nid, CpuId cpu, KernelCost& cost);
  bool kcompactd_node_suitable(NodeId nid) const;

  // Totals since boot (the bench's figure): PFNs both scanners looked at.
  std::uint64_t pages_scanned() const { return pages_scanned_; }

 private:
  struct NodeCompactState {
    int kcompactd_max_order = 0;
    zone_type kcompactd_highest_zoneidx = ZONE_NORMAL;
    bool proactive_compact_trigger = false;
    Picoseconds proactive_defer{0};  // extra sleep after a proactive pass that made no progress
  };
  compact_result compact_finished(compact_control& cc);
  compact_result __compact_finished(compact_control& cc);
  bool compact_scanners_met(const compact_control& cc) const;
  void reset_cached_positions(zone& z);
  void update_cached_migrate(compact_control& cc, std::uint64_t pfn);
  // isolate_migratepages: ISOLATE_NONE / ISOLATE_SUCCESS as false / true.
  bool isolate_migratepages(compact_control& cc);
  void isolate_migratepages_block(compact_control& cc, std::uint64_t low_pfn, std::uint64_t end_pfn);
  bool suitable_migration_source(const compact_control& cc, std::uint64_t pfn) const;
  bool suitable_migration_target(const compact_control& cc, std::uint64_t pfn) const;
  void isolate_freepages(compact_control& cc);
  unsigned long isolate_freepages_block(compact_control& cc, std::uint64_t* start_pfn, std::uint64_t end_pfn,
                                        unsigned stride);
  // migrate_pages with compaction_alloc / compaction_free: false on -ENOMEM (no target).
  bool migrate_isolated(compact_control& cc);
  void release_freepages(compact_control& cc);
  bool page_isolatable(const page* pg) const;
  void isolate_for_migration(compact_control& cc, page* pg);
  void putback_isolated(compact_control& cc, page* pg);
  void compact_node_zones(NodeId nid, migrate_mode mode, bool proactive, CpuId cpu, KernelCost& cost);
  bool kswapd_is_running(NodeId nid) const;

  Kernel& k_;
  PhysMem& pm_;
  CompactionParams params_;
  std::vector<ZoneCompactState> zones_;  // [nid * MAX_NR_ZONES + zone]
  std::vector<NodeCompactState> nodes_;
  std::uint64_t pages_scanned_ = 0;
};

}  // namespace numasim::os
