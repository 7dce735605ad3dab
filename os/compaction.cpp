// Memory compaction and kcompactd (mm/compaction.c, Linux 6.1); see compaction.h
// for what is modelled and what is simplified.
#include "os/compaction.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "common/config.h"
#include "common/trace.h"
#include "os/kernel.h"
#include "os/kthread.h"
#include "os/page_alloc.h"

namespace numasim::os {

namespace {

constexpr std::uint64_t pageblock_start_pfn(std::uint64_t pfn) { return pfn & ~(pageblock_nr_pages - 1); }
constexpr std::uint64_t pageblock_end_pfn(std::uint64_t pfn) { return pageblock_start_pfn(pfn) + pageblock_nr_pages; }
constexpr bool is_via_compact_memory(int order) { return order == -1; }
constexpr unsigned long compact_gap(unsigned order) { return 2ul << order; }

void appendf(std::string& out, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, static_cast<std::size_t>(std::min(n, static_cast<int>(sizeof buf) - 1)));
}

}  // namespace

CompactionParams CompactionParams::from_config(Config os) {
  CompactionParams p;
  Config vm = os.table("vm", "sysctl-like memory-management knobs");
  p.compaction_proactiveness = static_cast<unsigned>(vm.get<int>(
      "compaction_proactiveness", static_cast<int>(p.compaction_proactiveness),
      "vm.compaction_proactiveness: how hard kcompactd keeps the fragmentation score down", {0, 100}));
  p.extfrag_threshold = vm.get<int>("extfrag_threshold", p.extfrag_threshold,
                                    "vm.extfrag_threshold: fragmentation index above which compaction runs", {0, 1000});
  Config c = os.table("costs", "kernel CPU costs in cycles");
  auto cyc = [&](const char* key, std::uint32_t def, const char* what) {
    return static_cast<std::uint32_t>(
        c.get<std::int64_t>(key, static_cast<std::int64_t>(def), what, {std::int64_t{0}, std::int64_t{1000000}}));
  };
  p.migrate_scan_cycles =
      cyc("compact_migrate_scan_cycles", p.migrate_scan_cycles, "per PFN compaction's migrate scanner looks at");
  p.free_scan_cycles = cyc("compact_free_scan_cycles", p.free_scan_cycles, "per PFN compaction's free scanner looks at");
  p.isolate_cycles = cyc("compact_isolate_cycles", p.isolate_cycles, "per page compaction isolates");
  return p;
}

// ---------------------------------------------------------------------------
// Fragmentation arithmetic (mm/vmstat.c).

contig_page_info fill_contig_page_info(const zone& z, unsigned suitable_order) {
  contig_page_info info;
  for (unsigned order = 0; order < MAX_ORDER; ++order) {
    const std::uint64_t blocks = z.free_area[order].nr_free;
    info.free_blocks_total += blocks;
    info.free_pages += blocks << order;
    if (order >= suitable_order) info.free_blocks_suitable += blocks << (order - suitable_order);
  }
  return info;
}

int __fragmentation_index(unsigned order, const contig_page_info& info) {
  const std::uint64_t requested = 1ull << order;
  if (order >= MAX_ORDER) return 0;
  if (!info.free_blocks_total) return 0;
  if (info.free_blocks_suitable) return -1000;
  return 1000 - static_cast<int>((1000 + info.free_pages * 1000 / requested) / info.free_blocks_total);
}

int fragmentation_index(const zone& z, unsigned order) {
  return __fragmentation_index(order, fill_contig_page_info(z, order));
}

int unusable_free_index(unsigned order, const contig_page_info& info) {
  if (info.free_pages == 0) return 1000;
  return static_cast<int>((info.free_pages - (info.free_blocks_suitable << order)) * 1000 / info.free_pages);
}

unsigned extfrag_for_order(const zone& z, unsigned order) {
  const contig_page_info info = fill_contig_page_info(z, order);
  if (info.free_pages == 0) return 0;
  return static_cast<unsigned>((info.free_pages - (info.free_blocks_suitable << order)) * 100 / info.free_pages);
}

namespace {
// walk_zones_in_node for unusable_show / extfrag_show: a line per populated zone,
// one value per order, written by `value(out, zone, order)`.
template <typename F>
std::string per_zone_and_order(const PhysMem& pm, F value) {
  std::string out;
  for (int n = 0; n < pm.nr_node_ids(); ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) {
      if (!z.populated()) continue;
      appendf(out, "Node %d, zone %8s ", n, z.name);
      for (unsigned o = 0; o < MAX_ORDER; ++o) value(out, z, o);
      out += '\n';
    }
  return out;
}
}  // namespace

std::string debugfs_unusable_index(const PhysMem& pm) {
  return per_zone_and_order(pm, [](std::string& out, const zone& z, unsigned o) {
    const int index = unusable_free_index(o, fill_contig_page_info(z, o));
    appendf(out, "%d.%03d ", index / 1000, index % 1000);
  });
}

std::string debugfs_extfrag_index(const PhysMem& pm) {
  return per_zone_and_order(pm, [](std::string& out, const zone& z, unsigned o) {
    const int index = __fragmentation_index(o, fill_contig_page_info(z, o));
    // "%2d.%03d" of index / 1000 and index % 1000: -1000 prints as "-1.000".
    appendf(out, "%2d.%03d ", index / 1000, index < 0 ? -(index % 1000) : index % 1000);
  });
}

// ---------------------------------------------------------------------------

Compaction::Compaction(Kernel& k, const CompactionParams& params)
    : k_(k), pm_(k.physmem()), params_(params) {
  const int nodes = pm_.nr_node_ids();
  zones_.resize(static_cast<std::size_t>(nodes) * MAX_NR_ZONES);
  nodes_.resize(static_cast<std::size_t>(nodes));
  for (int n = 0; n < nodes; ++n) {
    pglist_data& pgdat = pm_.NODE_DATA(NodeId(n));
    zone_type highest = ZONE_DMA;
    for (zone& z : pgdat.node_zones) {
      if (z.populated()) highest = z.idx;
      ZoneCompactState& s = state(z);
      s.compact_init_migrate_pfn = z.zone_start_pfn;
      s.compact_init_free_pfn = z.spanned_pages ? pageblock_start_pfn(z.zone_end_pfn() - 1) : z.zone_start_pfn;
      s.compact_cached_migrate_pfn = {z.zone_start_pfn, z.zone_start_pfn};
      s.compact_cached_free_pfn = s.compact_init_free_pfn;
    }
    nodes_[static_cast<std::size_t>(n)].kcompactd_highest_zoneidx = highest;  // pgdat->nr_zones - 1
  }
}

ZoneCompactState& Compaction::state(const zone& z) {
  return zones_[static_cast<std::size_t>(zone_to_nid(z)) * MAX_NR_ZONES + z.idx];
}

int Compaction::set_compaction_proactiveness(int v) {
  if (v < 0 || v > 100) return -EINVAL;
  params_.compaction_proactiveness = static_cast<unsigned>(v);
  return 0;
}

int Compaction::set_extfrag_threshold(int v) {
  if (v < 0 || v > 1000) return -EINVAL;
  params_.extfrag_threshold = v;
  return 0;
}

// ---------------------------------------------------------------------------
// Deferral.

void Compaction::defer_compaction(const zone& z, int order) {
  ZoneCompactState& s = state(z);
  s.compact_considered = 0;
  s.compact_defer_shift++;
  if (order < s.compact_order_failed) s.compact_order_failed = order;
  if (s.compact_defer_shift > COMPACT_MAX_DEFER_SHIFT) s.compact_defer_shift = COMPACT_MAX_DEFER_SHIFT;
}

bool Compaction::compaction_deferred(const zone& z, int order) {
  ZoneCompactState& s = state(z);
  const unsigned long defer_limit = 1ul << s.compact_defer_shift;
  if (order < s.compact_order_failed) return false;
  if (++s.compact_considered >= defer_limit) {
    s.compact_considered = static_cast<unsigned>(defer_limit);
    return false;
  }
  return true;
}

void Compaction::compaction_defer_reset(const zone& z, int order, bool alloc_success) {
  ZoneCompactState& s = state(z);
  if (alloc_success) {
    s.compact_considered = 0;
    s.compact_defer_shift = 0;
  }
  if (order >= s.compact_order_failed) s.compact_order_failed = order + 1;
}

bool Compaction::compaction_restarting(const zone& z, int order) {
  ZoneCompactState& s = state(z);
  if (order < s.compact_order_failed) return false;
  return s.compact_defer_shift == COMPACT_MAX_DEFER_SHIFT && s.compact_considered >= 1ul << s.compact_defer_shift;
}

// ---------------------------------------------------------------------------
// Suitability.

compact_result Compaction::compaction_suitable(const zone& z, int order, unsigned alloc_flags,
                                               zone_type highest_zoneidx) const {
  if (is_via_compact_memory(order)) return compact_result::COMPACT_CONTINUE;
  const auto uorder = static_cast<unsigned>(order);
  // __compaction_suitable: the allocation's own watermark met: nothing to do.
  const unsigned long mark = z._watermark[alloc_flags & ALLOC_WMARK_MASK];
  if (pm_.__zone_watermark_ok(z, uorder, mark, highest_zoneidx, alloc_flags,
                                 static_cast<long>(zone_page_state(z, NR_FREE_PAGES))))
    return compact_result::COMPACT_SUCCESS;
  // Order-0 watermark plus room for the migration targets.
  const unsigned long watermark =
      (uorder > PAGE_ALLOC_COSTLY_ORDER ? low_wmark_pages(z) : min_wmark_pages(z)) + compact_gap(uorder);
  if (!pm_.__zone_watermark_ok(z, 0, watermark, highest_zoneidx, 0,
                                  static_cast<long>(zone_page_state(z, NR_FREE_PAGES))))
    return compact_result::COMPACT_SKIPPED;
  // Only compact when a failure would be due to fragmentation (costly orders).
  if (uorder > PAGE_ALLOC_COSTLY_ORDER) {
    const int fragindex = fragmentation_index(z, uorder);
    if (fragindex >= 0 && fragindex <= params_.extfrag_threshold) return compact_result::COMPACT_SKIPPED;
  }
  return compact_result::COMPACT_CONTINUE;
}

// ---------------------------------------------------------------------------
// The scanners.

bool Compaction::compact_scanners_met(const compact_control& cc) const {
  return (cc.free_pfn >> pageblock_order) <= (cc.migrate_pfn >> pageblock_order);
}

void Compaction::reset_cached_positions(zone& z) {
  ZoneCompactState& s = state(z);
  s.compact_cached_migrate_pfn = {z.zone_start_pfn, z.zone_start_pfn};
  s.compact_cached_free_pfn = pageblock_start_pfn(z.zone_end_pfn() - 1);
}

void Compaction::update_cached_migrate(compact_control& cc, std::uint64_t pfn) {
  ZoneCompactState& s = state(*cc.zone);
  pfn = pageblock_end_pfn(pfn);
  if (pfn > s.compact_cached_migrate_pfn[0]) s.compact_cached_migrate_pfn[0] = pfn;
  if (cc.mode != MIGRATE_ASYNC && pfn > s.compact_cached_migrate_pfn[1]) s.compact_cached_migrate_pfn[1] = pfn;
}

// The per-page tests isolate_migratepages_block makes before isolating an LRU
// page (compound pages were stepped over already): on an LRU list, not locked
// (async trylock), not under writeback and not in the swap cache (the swap
// cache's folio_migrate_mapping is not modelled); an anonymous page mapped and
// not pinned (page_count > page_mapcount); a page-cache page (Linux 6.1 isolates
// file LRU pages too: filemap_migrate_folio does not block, so async mode takes
// dirty ones as well), mapped or not, with no reference beyond the cache's and
// its mappings'. Shmem pages (swap-backed, not anonymous) are not taken.
bool Compaction::page_isolatable(const page* pg) const {
  constexpr std::uint32_t kSkip = (1u << PG_locked) | (1u << PG_swapcache) | (1u << PG_writeback);
  if (!PageLRU(pg) || (pg->flags & kSkip)) return false;
  if (PageAnon(pg)) return pg->mapcount > 0 && pg->_refcount <= pg->mapcount;
  return !PageSwapBacked(pg) && k_.fs_ && k_.fs_->page_mapping(pg) && pg->_refcount == 1 + pg->mapcount;
}

// isolate_lru_page for compaction (NR_ISOLATED_ANON or NR_ISOLATED_FILE counts it
// while isolated); putback_movable_pages' putback_lru_page for one that did not move.
void Compaction::isolate_for_migration(compact_control& cc, page* pg) {
  k_.isolate_lru_page(pg);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), PageAnon(pg) ? NR_ISOLATED_ANON : NR_ISOLATED_FILE, 1);
  cc.migratepages.push_back(pg);
}

void Compaction::putback_isolated(compact_control& cc, page* pg) {
  const bool anon = PageAnon(pg);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), anon ? NR_ISOLATED_ANON : NR_ISOLATED_FILE, -1);
  if ((pg->mapcount > 0 || !anon) && !PageLRU(pg)) k_.lru_cache_add(pg, cc.cpu);
}

// suitable_migration_source: async direct compaction only scans blocks of the
// request's type (movable requests: movable blocks).
bool Compaction::suitable_migration_source(const compact_control& cc, std::uint64_t pfn) const {
  if (cc.mode != MIGRATE_ASYNC || !cc.direct_compaction) return true;
  const migratetype block_mt = pm_.get_pageblock_migratetype(pm_.pfn_to_page(Pfn(pfn)));
  if (cc.migratetype == MIGRATE_MOVABLE) return block_mt == MIGRATE_MOVABLE;
  return block_mt == cc.migratetype;
}

// isolate_migratepages_block: movable pages of [low_pfn, end_pfn) onto
// cc.migratepages, at most COMPACT_CLUSTER_MAX; free blocks and compound pages
// are stepped over whole.
void Compaction::isolate_migratepages_block(compact_control& cc, std::uint64_t low_pfn, std::uint64_t end_pfn) {
  const zone& z = *cc.zone;
  std::uint64_t nr_scanned = 0, nr_isolated = 0;
  for (; low_pfn < end_pfn; ++low_pfn) {
    if (low_pfn >= z.lazy_free_pfn && low_pfn < z.lazy_free_end) {  // untouched boot blocks: free
      ++nr_scanned;
      low_pfn = std::min(end_pfn, z.lazy_free_end) - 1;
      continue;
    }
    ++nr_scanned;
    page* pg = pm_.pfn_to_page(Pfn(low_pfn));
    if (PageBuddy(pg)) {
      const unsigned order = pg->order;
      if (order > 0 && order < MAX_ORDER) low_pfn += (1ull << order) - 1;
      continue;
    }
    if (PageCompound(pg)) {
      const unsigned order = compound_order(pg);
      if (order < MAX_ORDER) low_pfn += (1ull << order) - 1;
      continue;
    }
    if (!page_isolatable(pg)) continue;  // not on an LRU list (free, kernel, batched) or not movable now
    isolate_for_migration(cc, pg);
    ++nr_isolated;
    if (cc.migratepages.size() >= COMPACT_CLUSTER_MAX && !cc.rescan) {
      ++low_pfn;
      break;
    }
  }
  low_pfn = std::min(low_pfn, end_pfn);
  cc.total_migrate_scanned += nr_scanned;
  pages_scanned_ += nr_scanned;
  cc.cost->add_cycles(nr_scanned * params_.migrate_scan_cycles + nr_isolated * params_.isolate_cycles);
  if (nr_isolated) pm_.count_vm_events(cc.cpu, COMPACTISOLATED, nr_isolated);
  // The cached position moves once the block was scanned without isolating.
  if (low_pfn == end_pfn && (!nr_isolated || cc.rescan)) update_cached_migrate(cc, low_pfn);
  cc.migrate_pfn = low_pfn;
}

bool Compaction::isolate_migratepages(compact_control& cc) {
  const zone& z = *cc.zone;
  std::uint64_t low_pfn = cc.migrate_pfn;
  std::uint64_t block_start_pfn = std::max(pageblock_start_pfn(low_pfn), z.zone_start_pfn);
  std::uint64_t block_end_pfn = pageblock_end_pfn(low_pfn);
  for (; block_end_pfn <= cc.free_pfn;
       cc.migrate_pfn = low_pfn = block_end_pfn, block_start_pfn = block_end_pfn, block_end_pfn += pageblock_nr_pages) {
    if (!suitable_migration_source(cc, block_start_pfn)) {
      cc.total_migrate_scanned += 1;  // the pageblock's type was read
      pages_scanned_ += 1;
      update_cached_migrate(cc, block_end_pfn);
      continue;
    }
    isolate_migratepages_block(cc, low_pfn, std::min(block_end_pfn, z.zone_end_pfn()));
    break;
  }
  return !cc.migratepages.empty();
}

bool Compaction::suitable_migration_target(const compact_control& cc, std::uint64_t pfn) const {
  const zone& z = *cc.zone;
  if (pfn >= z.lazy_free_pfn && pfn < z.lazy_free_end) return false;  // inside a free top-order block
  const page* pg = pm_.pfn_to_page(Pfn(pfn));
  if (PageBuddy(pg) && pg->order >= pageblock_order) return false;
  if (cc.ignore_block_suitable) return true;
  return pm_.get_pageblock_migratetype(pg) == MIGRATE_MOVABLE;
}

// isolate_freepages_block: free buddy blocks of [*start_pfn, end_pfn), every
// `stride` PFNs, until there is a target for each isolated page.
unsigned long Compaction::isolate_freepages_block(compact_control& cc, std::uint64_t* start_pfn,
                                                  std::uint64_t end_pfn, unsigned stride) {
  std::uint64_t nr_scanned = 0, total_isolated = 0;
  std::uint64_t blockpfn = *start_pfn;
  for (; blockpfn < end_pfn; blockpfn += stride) {
    ++nr_scanned;
    page* pg = pm_.pfn_to_page(Pfn(blockpfn));
    if (PageCompound(pg)) {
      const unsigned order = compound_order(pg);
      if (order < MAX_ORDER) blockpfn += (1ull << order) - 1;
      continue;
    }
    if (!PageBuddy(pg)) continue;
    const unsigned order = pg->order;
    const unsigned long isolated = pm_.__isolate_free_page(pg, order);
    if (!isolated) break;
    pm_.split_isolated_page(cc.cpu, pg, order, *cc.cost);
    for (unsigned long i = 0; i < isolated; ++i) cc.freepages.push_back(pg + i);
    nr_scanned += isolated - 1;
    total_isolated += isolated;
    if (cc.migratepages.size() <= cc.freepages.size()) {
      blockpfn += isolated;
      break;
    }
    blockpfn += isolated - 1;
  }
  if (blockpfn > end_pfn) blockpfn = end_pfn;
  *start_pfn = blockpfn;
  cc.total_free_scanned += nr_scanned;
  pages_scanned_ += nr_scanned;
  cc.cost->add_cycles(nr_scanned * params_.free_scan_cycles + total_isolated * params_.isolate_cycles);
  if (total_isolated) pm_.count_vm_events(cc.cpu, COMPACTISOLATED, total_isolated);
  return static_cast<unsigned long>(total_isolated);
}

// isolate_freepages: pageblocks from cc.free_pfn down to the migrate scanner's
// block. Every PFN is looked at: Linux samples every stride-th PFN (32 in async
// mode, doubling after blocks where nothing was isolated) and finds free pages
// through the free lists first (fast_isolate_freepages); without the latter,
// sampling would step over regular patterns of free pages altogether.
void Compaction::isolate_freepages(compact_control& cc) {
  zone& z = *cc.zone;
  std::uint64_t isolate_start_pfn = cc.free_pfn;
  std::int64_t block_start_pfn = static_cast<std::int64_t>(pageblock_start_pfn(isolate_start_pfn));
  std::uint64_t block_end_pfn = std::min(static_cast<std::uint64_t>(block_start_pfn) + pageblock_nr_pages,
                                         z.zone_end_pfn());
  const auto low_pfn = static_cast<std::int64_t>(pageblock_end_pfn(cc.migrate_pfn));
  const unsigned stride = 1;
  for (; block_start_pfn >= low_pfn; block_end_pfn = static_cast<std::uint64_t>(block_start_pfn),
                                     block_start_pfn -= static_cast<std::int64_t>(pageblock_nr_pages),
                                     isolate_start_pfn = static_cast<std::uint64_t>(block_start_pfn)) {
    const auto bstart = static_cast<std::uint64_t>(block_start_pfn);
    if (bstart < z.zone_start_pfn) break;
    if (!suitable_migration_target(cc, bstart)) continue;
    const unsigned long nr_isolated = isolate_freepages_block(cc, &isolate_start_pfn, block_end_pfn, stride);
    // update_pageblock_skip's cached free position once the block was scanned whole.
    if (isolate_start_pfn == block_end_pfn) {
      ZoneCompactState& s = state(z);
      if (bstart < s.compact_cached_free_pfn) s.compact_cached_free_pfn = bstart;
    }
    if (cc.freepages.size() >= cc.migratepages.size()) {
      if (isolate_start_pfn >= block_end_pfn) isolate_start_pfn = bstart - pageblock_nr_pages;
      break;
    }
    if (isolate_start_pfn < block_end_pfn) break;  // isolation failed early
    (void)nr_isolated;
  }
  cc.free_pfn = isolate_start_pfn;
}

// migrate_pages(&cc->migratepages, compaction_alloc, compaction_free, ...,
// MR_COMPACTION): each isolated page into a free target; a target whose
// migration failed goes back on the list. False when targets ran out (-ENOMEM).
bool Compaction::migrate_isolated(compact_control& cc) {
  bool enomem = false;
  bool failed = false;
  for (page*& pg : cc.migratepages) {
    if (cc.freepages.empty()) isolate_freepages(cc);  // compaction_alloc
    if (cc.freepages.empty()) {
      enomem = true;
      break;
    }
    page* target = cc.freepages.back();
    cc.freepages.pop_back();
    const node_stat_item isolated = PageAnon(pg) ? NR_ISOLATED_ANON : NR_ISOLATED_FILE;
    if (k_.migrate_page_to(pg, target, cc.cpu, *cc.cost) == 0) {
      pm_.mod_node_page_state(pm_.page_to_nid(pg), isolated, -1);  // the new page joined the LRU
      pg = nullptr;
      ++cc.nr_migrated;
    } else {
      cc.freepages.push_back(target);  // compaction_free
      ++cc.nr_migrate_failed;
      failed = true;
    }
  }
  // putback_movable_pages: what did not move goes back on its LRU list.
  for (page* pg : cc.migratepages)
    if (pg) putback_isolated(cc, pg);
  cc.migratepages.clear();
  if (failed && !enomem && cc.direct_compaction && cc.mode == MIGRATE_ASYNC) {
    // A failure in this order-aligned block: skip the rest of it.
    const std::uint64_t block = 1ull << std::max(cc.order, 0);
    cc.migrate_pfn = ((cc.migrate_pfn - 1) & ~(block - 1)) + block;
  }
  return !enomem;
}

void Compaction::release_freepages(compact_control& cc) {
  std::uint64_t high_pfn = 0;
  for (page* pg : cc.freepages) {
    high_pfn = std::max(high_pfn, pm_.page_to_pfn(pg).value());
    pm_.free_pages(cc.cpu, pg, 0, *cc.cost);
  }
  cc.freepages.clear();
  // The free scanner restarts at the highest block it gave back (only going back).
  const std::uint64_t free_pfn = pageblock_start_pfn(high_pfn);
  ZoneCompactState& s = state(*cc.zone);
  if (free_pfn > s.compact_cached_free_pfn) s.compact_cached_free_pfn = free_pfn;
}

compact_result Compaction::__compact_finished(compact_control& cc) {
  zone& z = *cc.zone;
  if (compact_scanners_met(cc)) {
    reset_cached_positions(z);
    return cc.whole_zone ? compact_result::COMPACT_COMPLETE : compact_result::COMPACT_PARTIAL_SKIPPED;
  }
  if (cc.proactive_compaction) {
    if (kswapd_is_running(NodeId(zone_to_nid(z)))) return compact_result::COMPACT_PARTIAL_SKIPPED;
    return fragmentation_score_zone(z) > fragmentation_score_wmark(true) ? compact_result::COMPACT_CONTINUE
                                                                          : compact_result::COMPACT_SUCCESS;
  }
  if (is_via_compact_memory(cc.order)) return compact_result::COMPACT_CONTINUE;
  // Always finish scanning a pageblock.
  if (cc.migrate_pfn & (pageblock_nr_pages - 1)) return compact_result::COMPACT_CONTINUE;
  for (unsigned order = static_cast<unsigned>(cc.order); order < MAX_ORDER; ++order) {
    if (!pm_.free_area_empty(z, order, cc.migratetype)) return compact_result::COMPACT_SUCCESS;
    bool can_steal = false;
    if (pm_.find_suitable_fallback(z, order, cc.migratetype, true, &can_steal) != -1) {
      if (cc.migratetype == MIGRATE_MOVABLE) return compact_result::COMPACT_SUCCESS;
      if (cc.mode == MIGRATE_ASYNC || (cc.migrate_pfn & (pageblock_nr_pages - 1)) == 0)
        return compact_result::COMPACT_SUCCESS;
      return compact_result::COMPACT_CONTINUE;
    }
  }
  return compact_result::COMPACT_CONTINUE;  // COMPACT_NO_SUITABLE_PAGE: keep going
}

compact_result Compaction::compact_finished(compact_control& cc) { return __compact_finished(cc); }

bool Compaction::kswapd_is_running(NodeId nid) const {
  const Kthread* t = k_.kthreads().kswapd(nid);
  return t && t->task.__state == TASK_RUNNING;
}

compact_result Compaction::compact_zone(compact_control& cc) {
  zone& z = *cc.zone;
  ZoneCompactState& s = state(z);
  const std::uint64_t start_pfn = z.zone_start_pfn;
  const std::uint64_t end_pfn = z.zone_end_pfn();
  const bool sync = cc.mode != MIGRATE_ASYNC;
  cc.total_migrate_scanned = cc.total_free_scanned = 0;
  cc.freepages.clear();
  cc.migratepages.clear();
  cc.migratetype = gfp_migratetype(cc.gfp_mask);
  if (!is_via_compact_memory(cc.order)) {
    const compact_result ret = compaction_suitable(z, cc.order, cc.alloc_flags, cc.highest_zoneidx);
    if (ret == compact_result::COMPACT_SUCCESS || ret == compact_result::COMPACT_SKIPPED) return ret;
  }
  if (cc.whole_zone) {
    cc.migrate_pfn = start_pfn;
    cc.free_pfn = pageblock_start_pfn(end_pfn - 1);
  } else {
    cc.migrate_pfn = s.compact_cached_migrate_pfn[sync ? 1 : 0];
    cc.free_pfn = s.compact_cached_free_pfn;
    if (cc.free_pfn < start_pfn || cc.free_pfn >= end_pfn) {
      cc.free_pfn = pageblock_start_pfn(end_pfn - 1);
      s.compact_cached_free_pfn = cc.free_pfn;
    }
    if (cc.migrate_pfn < start_pfn || cc.migrate_pfn >= end_pfn) {
      cc.migrate_pfn = start_pfn;
      s.compact_cached_migrate_pfn = {start_pfn, start_pfn};
    }
    if (cc.migrate_pfn <= s.compact_init_migrate_pfn) cc.whole_zone = true;
  }
  NUMASIM_TRACE(thp, k_.platform().now(cc.cpu), static_cast<int>(cc.cpu.value()),
                "mm_compaction_begin zone_start=0x%" PRIx64 " migrate_pfn=0x%" PRIx64 " free_pfn=0x%" PRIx64
                " zone_end=0x%" PRIx64 " mode=%s",
                start_pfn, cc.migrate_pfn, cc.free_pfn, end_pfn, sync ? "sync" : "async");
  k_.lru_add_drain(cc.cpu);  // compact_zone's lru_add_drain: this CPU's new pages onto their lists
  std::uint64_t last_migrated_pfn = 0;
  bool update_cached = !sync && s.compact_cached_migrate_pfn[0] == s.compact_cached_migrate_pfn[1];
  compact_result ret;
  while ((ret = compact_finished(cc)) == compact_result::COMPACT_CONTINUE) {
    const std::uint64_t iteration_start_pfn = cc.migrate_pfn;
    cc.rescan = last_migrated_pfn && pageblock_start_pfn(last_migrated_pfn) == pageblock_start_pfn(iteration_start_pfn);
    if (!isolate_migratepages(cc)) {  // ISOLATE_NONE
      if (update_cached) s.compact_cached_migrate_pfn[1] = s.compact_cached_migrate_pfn[0];
    } else {  // ISOLATE_SUCCESS
      update_cached = false;
      last_migrated_pfn = iteration_start_pfn;
      if (!migrate_isolated(cc) && !compact_scanners_met(cc)) {
        ret = compact_result::COMPACT_CONTENDED;
        break;
      }
    }
    // check_drain: the scanner left the order-aligned block it migrated from:
    // flush the freed pages from the per-cpu lists so that they merge.
    if (cc.order > 0 && last_migrated_pfn) {
      const std::uint64_t block = 1ull << cc.order;
      const std::uint64_t current_block_start = cc.migrate_pfn & ~(block - 1);
      if (last_migrated_pfn < current_block_start) {
        pm_.drain_local_pages(cc.cpu, *cc.cost);
        last_migrated_pfn = 0;
      }
    }
  }
  if (!cc.freepages.empty()) release_freepages(cc);
  pm_.count_vm_events(cc.cpu, COMPACTMIGRATE_SCANNED, cc.total_migrate_scanned);
  pm_.count_vm_events(cc.cpu, COMPACTFREE_SCANNED, cc.total_free_scanned);
  NUMASIM_TRACE(thp, k_.platform().now(cc.cpu), static_cast<int>(cc.cpu.value()),
                "mm_compaction_end migrated=%" PRIu64 " failed=%" PRIu64 " status=%d", cc.nr_migrated,
                cc.nr_migrate_failed, static_cast<int>(ret));
  return ret;
}

// ---------------------------------------------------------------------------
// Direct compaction.

compact_result Compaction::try_to_compact_pages(gfp_t gfp, unsigned order, unsigned alloc_flags, const zonelist& zl,
                                                const nodemask_t* nodemask, compact_priority prio, CpuId cpu,
                                                KernelCost& cost) {
  if (!(gfp & __GFP_IO)) return compact_result::COMPACT_SKIPPED;
  const zone_type highest = gfp_zone(gfp);
  compact_result rc = compact_result::COMPACT_SKIPPED;
  for (const zoneref& zr : zl._zonerefs) {
    if (zr.zone_idx > highest) continue;
    if (nodemask && !node_isset(zr.nid, *nodemask)) continue;
    zone& z = *zr.z;
    if (prio > MIN_COMPACT_PRIORITY && compaction_deferred(z, static_cast<int>(order))) {
      rc = std::max(compact_result::COMPACT_DEFERRED, rc);
      continue;
    }
    // compact_zone_order
    compact_control cc;
    cc.order = static_cast<int>(order);
    cc.gfp_mask = gfp;
    cc.zone = &z;
    cc.mode = prio == COMPACT_PRIO_ASYNC ? MIGRATE_ASYNC : MIGRATE_SYNC_LIGHT;
    cc.alloc_flags = alloc_flags;
    cc.highest_zoneidx = highest;
    cc.direct_compaction = true;
    cc.whole_zone = prio == MIN_COMPACT_PRIORITY;
    cc.ignore_block_suitable = prio == MIN_COMPACT_PRIORITY;
    cc.cpu = cpu;
    cc.cost = &cost;
    const compact_result status = compact_zone(cc);
    rc = std::max(status, rc);
    if (status == compact_result::COMPACT_SUCCESS) {
      compaction_defer_reset(z, static_cast<int>(order), false);
      break;
    }
    if (prio != COMPACT_PRIO_ASYNC &&
        (status == compact_result::COMPACT_COMPLETE || status == compact_result::COMPACT_PARTIAL_SKIPPED))
      defer_compaction(z, static_cast<int>(order));
  }
  return rc;
}

// ---------------------------------------------------------------------------
// Proactive compaction, compact_memory and kcompactd.

unsigned Compaction::fragmentation_score_zone(const zone& z) const {
  return extfrag_for_order(z, COMPACTION_HPAGE_ORDER);
}

unsigned Compaction::fragmentation_score_node(NodeId nid) const {
  const pglist_data& pgdat = pm_.NODE_DATA(nid);
  std::uint64_t score = 0;
  for (const zone& z : pgdat.node_zones)
    score += z.present_pages * fragmentation_score_zone(z) / (pgdat.node_present_pages + 1);
  return static_cast<unsigned>(score);
}

unsigned Compaction::fragmentation_score_wmark(bool low) const {
  const unsigned wmark_low = std::max(100u - params_.compaction_proactiveness, 5u);
  return low ? wmark_low : std::min(wmark_low + 10, 100u);
}

bool Compaction::should_proactive_compact_node(NodeId nid) const {
  if (!params_.compaction_proactiveness || kswapd_is_running(nid)) return false;
  return fragmentation_score_node(nid) > fragmentation_score_wmark(false);
}

// Every populated zone of the node compacted whole (order -1), in `mode`; the
// proactive run stops a zone once its score is under the low mark.
void Compaction::compact_node_zones(NodeId nid, migrate_mode mode, bool proactive, CpuId cpu, KernelCost& cost) {
  for (zone& z : pm_.NODE_DATA(nid).node_zones) {
    if (!z.populated()) continue;
    compact_control cc;
    cc.order = -1;
    cc.mode = mode;
    cc.whole_zone = true;
    cc.gfp_mask = GFP_KERNEL;
    cc.proactive_compaction = proactive;
    cc.zone = &z;
    cc.cpu = cpu;
    cc.cost = &cost;
    compact_zone(cc);
    if (proactive) {
      pm_.count_vm_events(cpu, KCOMPACTD_MIGRATE_SCANNED, cc.total_migrate_scanned);
      pm_.count_vm_events(cpu, KCOMPACTD_FREE_SCANNED, cc.total_free_scanned);
    }
  }
}

void Compaction::proactive_compact_node(NodeId nid, CpuId cpu, KernelCost& cost) {
  compact_node_zones(nid, MIGRATE_SYNC_LIGHT, true, cpu, cost);
}

void Compaction::compact_node(NodeId nid, CpuId cpu, KernelCost& cost) {
  compact_node_zones(nid, MIGRATE_SYNC, false, cpu, cost);
}

bool Compaction::kcompactd_node_suitable(NodeId nid) const {
  const pglist_data& pgdat = pm_.NODE_DATA(nid);
  const NodeCompactState& ns = nodes_[static_cast<std::size_t>(nid.value())];
  for (int zid = 0; zid <= ns.kcompactd_highest_zoneidx; ++zid) {
    const zone& z = pgdat.node_zones[static_cast<std::size_t>(zid)];
    if (!z.populated()) continue;
    if (compaction_suitable(z, ns.kcompactd_max_order, 0, ns.kcompactd_highest_zoneidx) ==
        compact_result::COMPACT_CONTINUE)
      return true;
  }
  return false;
}

void Compaction::wakeup_kcompactd(NodeId nid, int order, zone_type highest_zoneidx) {
  if (!order) return;
  if (nid.value() < 0 || nid.value() >= pm_.nr_node_ids()) return;
  NodeCompactState& ns = nodes_[static_cast<std::size_t>(nid.value())];
  if (ns.kcompactd_max_order < order) ns.kcompactd_max_order = order;
  if (ns.kcompactd_highest_zoneidx > highest_zoneidx) ns.kcompactd_highest_zoneidx = highest_zoneidx;
  Kthread* t = k_.kthreads().kcompactd(nid);
  if (!t || t->wait.tasks.empty()) return;  // !wq_has_sleeper
  if (!kcompactd_node_suitable(nid)) return;
  k_.kthreads().wakeup_kcompactd(nid);
}

void Compaction::kcompactd_do_work(NodeId nid, CpuId cpu, KernelCost& cost) {
  pglist_data& pgdat = pm_.NODE_DATA(nid);
  NodeCompactState& ns = nodes_[static_cast<std::size_t>(nid.value())];
  const int order = ns.kcompactd_max_order;
  const zone_type highest = ns.kcompactd_highest_zoneidx;
  pm_.count_vm_events(cpu, KCOMPACTD_WAKE);
  for (int zid = 0; zid <= highest; ++zid) {
    zone& z = pgdat.node_zones[static_cast<std::size_t>(zid)];
    if (!z.populated()) continue;
    if (compaction_deferred(z, order)) continue;
    if (compaction_suitable(z, order, 0, static_cast<zone_type>(zid)) != compact_result::COMPACT_CONTINUE) continue;
    compact_control cc;
    cc.order = order;
    cc.highest_zoneidx = highest;
    cc.mode = MIGRATE_SYNC_LIGHT;
    cc.gfp_mask = GFP_KERNEL;
    cc.zone = &z;
    cc.cpu = cpu;
    cc.cost = &cost;
    const compact_result status = compact_zone(cc);
    if (status == compact_result::COMPACT_SUCCESS) {
      compaction_defer_reset(z, order, false);
    } else if (status == compact_result::COMPACT_PARTIAL_SKIPPED || status == compact_result::COMPACT_COMPLETE) {
      pm_.drain_all_pages(cost);
      defer_compaction(z, order);
    }
    pm_.count_vm_events(cpu, KCOMPACTD_MIGRATE_SCANNED, cc.total_migrate_scanned);
    pm_.count_vm_events(cpu, KCOMPACTD_FREE_SCANNED, cc.total_free_scanned);
  }
  if (ns.kcompactd_max_order <= order) ns.kcompactd_max_order = 0;
  if (ns.kcompactd_highest_zoneidx >= highest) {
    zone_type top = ZONE_DMA;
    for (const zone& z : pgdat.node_zones)
      if (z.populated()) top = z.idx;
    ns.kcompactd_highest_zoneidx = top;
  }
}

// kcompactd(): woken with work requested -> kcompactd_do_work; woken by its
// timeout -> the proactive check. Each pass reads the node's pgdat lines (as the
// boot stub did) and sleeps HPAGE_FRAG_CHECK_INTERVAL_MSEC, or 64 times that
// after a proactive pass that did not lower the score.
KthreadResult Compaction::kcompactd(Kthreads& k, Kthread& self, NodeId nid, KernelCost& cost) {
  const CpuId cpu = self.task.cpu;
  cost.add_cycles(k.params().pass_cycles);
  if (k.params().pgdat_bytes.value() != 0)
    cost.add_memory(k.platform().kernel_read(cpu, k.pgdat_phys(nid), k.params().pgdat_bytes));
  NodeCompactState& ns = nodes_[static_cast<std::size_t>(nid.value())];
  const Picoseconds default_timeout = k.params().kcompactd_interval;
  if (ns.kcompactd_max_order > 0 && !ns.proactive_compact_trigger) {  // kcompactd_work_requested
    kcompactd_do_work(nid, cpu, cost);
    return KthreadResult{true, default_timeout};
  }
  Picoseconds timeout = default_timeout;
  if (ns.proactive_compact_trigger || should_proactive_compact_node(nid)) {
    const unsigned prev_score = fragmentation_score_node(nid);
    proactive_compact_node(nid, cpu, cost);
    const unsigned score = fragmentation_score_node(nid);
    if (score >= prev_score) timeout = Picoseconds(default_timeout.value() << COMPACT_MAX_DEFER_SHIFT);
  }
  ns.proactive_compact_trigger = false;
  return KthreadResult{true, timeout};
}

void Compaction::install_kcompactd() {
  for (int n = 0; n < pm_.nr_node_ids(); ++n) {
    Kthread* t = k_.kthreads().kcompactd(NodeId(n));
    if (!t) continue;
    const NodeId nid(n);
    t->threadfn = [this, nid](Kthreads& k, Kthread& self, KernelCost& cost) { return kcompactd(k, self, nid, cost); };
  }
}

// ---------------------------------------------------------------------------
// The Kernel's side: the slow path's hooks and the sysctl entry points.

compact_result Kernel::try_to_compact_pages(gfp_t gfp, unsigned order, const zonelist& zl, const nodemask_t* nodemask,
                                            compact_priority prio, KernelCost& cost) {
  return compaction_->try_to_compact_pages(gfp, order, ALLOC_WMARK_MIN, zl, nodemask, prio, ctx_.cpu, cost);
}

void Kernel::compaction_alloc_success(zone& z, unsigned order) {
  compaction_->compaction_defer_reset(z, static_cast<int>(order), true);
}

void Kernel::compact_memory(CpuId cpu, KernelCost& cost) {
  for (int n = 0; n < pm_.nr_node_ids(); ++n)
    if (node_isset(n, mems_allowed_)) compaction_->compact_node(NodeId(n), cpu, cost);
}

int Kernel::compact_node(NodeId nid, CpuId cpu, KernelCost& cost) {
  if (nid.value() < 0 || nid.value() >= pm_.nr_node_ids() || !node_isset(nid.value(), mems_allowed_)) return -ENODEV;
  if (cpu.value() < 0 || cpu.value() >= pm_.nr_cpu_ids()) return -EINVAL;
  compaction_->compact_node(nid, cpu, cost);
  return 0;
}

void Kernel::wakeup_kcompactd(NodeId nid, int order, zone_type highest_zoneidx) {
  compaction_->wakeup_kcompactd(nid, order, highest_zoneidx);
}

}  // namespace numasim::os
