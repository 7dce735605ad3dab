// The page allocator proper (mm/page_alloc.c, Linux 6.1-6.6 semantics): zonelist
// walk with watermark checks, per-cpu lists (rmqueue_pcplist, rmqueue_bulk,
// free_unref_page, free_pcppages_bulk with the free_factor back-off), the buddy
// (__rmqueue_smallest + expand, __free_one_page merging by buddy PFN
// pfn ^ (1 << order)), migratetype fallback with pageblock stealing
// (__rmqueue_fallback, steal_suitable_fallback, move_freepages_block), and the
// allocation statistics (PGALLOC_*, PGFREE, zone_statistics).
// Simplified: single-threaded (no locks, no IRQ state); no highatomic, CMA,
// isolation, guard pages, shuffling, watermark boost or ALLOC_NOFRAGMENT; the
// slow path is in page_alloc_slowpath.cpp. Deviation in structure, not in
// results: free_pcppages_bulk accounts NR_FREE_PAGES and the buddy's cycles
// once per batch (merge_free_block is __free_one_page's body without them);
// Linux's __free_one_page does both per block.
#include "os/page_alloc.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace numasim::os {
namespace {

[[noreturn]] void bad_page(const char* what, std::uint64_t pfn) {
  std::fprintf(stderr, "numasim: BUG: Bad page state, pfn 0x%llx: %s\n", static_cast<unsigned long long>(pfn), what);
  std::abort();
}

// fallbacks[] of Linux 6.x: which other lists a request may steal from, in order.
constexpr migratetype kFallbacks[MIGRATE_TYPES][MIGRATE_PCPTYPES - 1] = {
    /* UNMOVABLE */ {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE},
    /* MOVABLE */ {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE},
    /* RECLAIMABLE */ {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE},
};

// can_steal_fallback: whole pageblocks are claimed for big requests and for
// unmovable/reclaimable ones.
bool can_steal_fallback(unsigned order, migratetype start_mt) {
  if (order >= pageblock_order) return true;
  return order >= pageblock_order / 2 || start_mt == MIGRATE_RECLAIMABLE || start_mt == MIGRATE_UNMOVABLE;
}

}  // namespace

// ---------------------------------------------------------------------------
// Free lists (page_list.h primitives).

// add_to_free_list / add_to_free_list_tail + set_buddy_order.
void PhysMem::add_to_free_list(page* pg, zone& z, unsigned order, migratetype mt, bool tail) {
  struct free_area& area = z.free_area[order];
  if (tail && order == MAX_ORDER - 1 && mt == MIGRATE_MOVABLE && z.has_lazy_blocks())
    bad_page("queueing behind the lazily initialised boot blocks", pfn32(pg));
  pg->flags = 1u << PG_buddy;
  pg->order = static_cast<std::uint8_t>(order);
  pg->free_mt = mt;
  if (tail)
    list_add_tail(mem_map_, area.free_list[mt], pg);
  else
    list_add(mem_map_, area.free_list[mt], pg);
  area.nr_free_mt[mt]++;
  area.nr_free++;
}

// The head of a free list; an empty top-order movable list takes the next
// boot block from the zone's lazy range and writes its descriptor now.
page* PhysMem::free_list_head(zone& z, unsigned order, unsigned mt) {
  PageList& l = z.free_area[order].free_list[mt];
  if (l.empty()) {
    if (!(order == MAX_ORDER - 1 && mt == MIGRATE_MOVABLE && z.has_lazy_blocks())) return nullptr;
    page* pg = mem_map_ + z.lazy_free_pfn;
    z.lazy_free_pfn += 1ull << order;
    pg->flags = 1u << PG_buddy;
    pg->order = static_cast<std::uint8_t>(order);
    pg->free_mt = MIGRATE_MOVABLE;
    list_add(mem_map_, l, pg);  // already counted in nr_free
  }
  return list_first_page(mem_map_, l);
}

// del_page_from_free_list: also clears PG_buddy.
void PhysMem::del_page_from_free_list(page* pg, zone& z, unsigned order) {
  struct free_area& area = z.free_area[order];
  list_del(mem_map_, area.free_list[pg->free_mt], pg);
  area.nr_free_mt[pg->free_mt]--;
  area.nr_free--;
  pg->clear(PG_buddy);
}

// ---------------------------------------------------------------------------
// Lookups.

bool PhysMem::pfn_valid(Pfn pfn) const {
  return pfn.value() < max_pfn_ && pageblocks_[pfn.value() >> pageblock_order].nid != 0xff;
}


// ---------------------------------------------------------------------------
// Watermarks.

// __zone_watermark_ok: free pages above mark + lowmem_reserve, and for order > 0
// a free block of at least that order on some list.
bool PhysMem::zone_watermark_ok(const zone& z, unsigned order, unsigned long mark, zone_type highest_zoneidx,
                                bool alloc_high, bool non_block) const {
  const unsigned alloc_flags = (alloc_high ? ALLOC_MIN_RESERVE : 0) | (non_block ? ALLOC_NON_BLOCK : 0);
  return zone_watermark_ok_free(z, order, mark, highest_zoneidx, alloc_flags,
                                static_cast<long>(z.stats.vm_stat[NR_FREE_PAGES]));
}

// ---------------------------------------------------------------------------
// Buddy allocation.

// expand: splits a 2^high block down to 2^low, the upper halves going back on
// the free lists of `mt`.
void PhysMem::expand(zone& z, page* pg, unsigned low, unsigned high, migratetype mt, KernelCost& cost) {
  std::uint64_t size = 1ull << high;
  while (high > low) {
    --high;
    size >>= 1;
    add_to_free_list(pg + size, z, high, mt, false);
    cost.add_cycles(params_.costs.buddy_step_cycles);
  }
}

// __rmqueue_smallest: the smallest free block of `mt` that fits.
page* PhysMem::__rmqueue_smallest(zone& z, unsigned order, migratetype mt, KernelCost& cost) {
  for (unsigned current = order; current < MAX_ORDER; ++current) {
    page* pg = free_list_head(z, current, mt);
    if (!pg) continue;
    del_page_from_free_list(pg, z, current);
    expand(z, pg, order, current, mt, cost);
    pg->free_mt = mt;  // set_pcppage_migratetype
    return pg;
  }
  return nullptr;
}

// move_freepages_block: moves every free block of pg's pageblock to `mt`'s
// lists (at the tail); counts in-use LRU pages as movable. 0 if the pageblock
// crosses the zone boundary.
unsigned long PhysMem::move_freepages_block(zone& z, page* pg, migratetype mt, unsigned long* movable_pages) {
  const std::uint64_t pfn = pfn32(pg);
  std::uint64_t start = pfn & ~(pageblock_nr_pages - 1);
  const std::uint64_t end = start + pageblock_nr_pages - 1;
  if (!z.zone_spans_pfn(start)) start = pfn;
  if (!z.zone_spans_pfn(end)) return 0;
  unsigned long moved = 0;
  for (std::uint64_t p = start; p <= end;) {
    page* cur = mem_map_ + p;
    if (!PageBuddy(cur)) {
      if (movable_pages && PageLRU(cur)) ++*movable_pages;
      ++p;
      continue;
    }
    const unsigned order = cur->order;
    // move_to_free_list: list_move_tail to the new type.
    struct free_area& area = z.free_area[order];
    list_move_tail(mem_map_, area.free_list[cur->free_mt], area.free_list[mt], cur);
    area.nr_free_mt[cur->free_mt]--;
    cur->free_mt = mt;
    area.nr_free_mt[mt]++;
    p += 1ull << order;
    moved += 1ul << order;
  }
  return moved;
}

// steal_suitable_fallback: claim the whole pageblock when enough of it is free
// or compatible, else move just this block to the requested type.
void PhysMem::steal_suitable_fallback(zone& z, page* pg, unsigned current_order, migratetype start_mt,
                                      bool whole_block) {
  const std::uint64_t pfn = pfn32(pg);
  const migratetype old_block_type = get_pageblock_migratetype(pg);
  if (current_order < pageblock_order) hooks_->boost_watermark(z);  // boost_watermark (+ kswapd's wake-up)
  if (current_order >= pageblock_order) {
    // change_pageblock_range
    for (std::uint64_t i = 0; i < (1ull << (current_order - pageblock_order)); ++i)
      set_pageblock_migratetype(pfn + i * pageblock_nr_pages, start_mt);
  } else if (whole_block) {
    unsigned long movable = 0;
    unsigned long free_pages = move_freepages_block(z, pg, start_mt, &movable);
    if (free_pages != 0) {
      unsigned long alike;
      if (start_mt == MIGRATE_MOVABLE)
        alike = movable;
      else if (old_block_type == MIGRATE_MOVABLE)
        alike = pageblock_nr_pages - (free_pages + movable);
      else
        alike = 0;
      if (free_pages + alike >= (1ul << (pageblock_order - 1))) set_pageblock_migratetype(pfn, start_mt);
      return;
    }
  }
  // single_page: move_to_free_list(page, zone, current_order, start_type)
  struct free_area& area = z.free_area[current_order];
  list_move_tail(mem_map_, area.free_list[pg->free_mt], area.free_list[start_mt], pg);
  area.nr_free_mt[pg->free_mt]--;
  pg->free_mt = start_mt;
  area.nr_free_mt[start_mt]++;
}

// __rmqueue_fallback: steal from the largest block of a fallback type (or the
// smallest, for movable requests that cannot claim the block).
bool PhysMem::__rmqueue_fallback(zone& z, unsigned order, migratetype start_mt) {
  auto find_suitable = [&](unsigned o, bool* can_steal) -> int {
    const struct free_area& area = z.free_area[o];
    if (area.nr_free == 0) return -1;
    for (migratetype fmt : kFallbacks[start_mt]) {
      if (free_list_empty(z, o, fmt)) continue;
      *can_steal = can_steal_fallback(o, start_mt);
      return fmt;
    }
    return -1;
  };
  bool can_steal = false;
  int fallback_mt = -1;
  int current = MAX_ORDER - 1;
  for (; current >= static_cast<int>(order); --current) {
    fallback_mt = find_suitable(current, &can_steal);
    if (fallback_mt == -1) continue;
    if (!can_steal && start_mt == MIGRATE_MOVABLE && current > static_cast<int>(order)) {
      // find_smallest
      for (current = order; current < static_cast<int>(MAX_ORDER); ++current) {
        fallback_mt = find_suitable(current, &can_steal);
        if (fallback_mt != -1) break;
      }
    }
    break;
  }
  if (fallback_mt == -1 || current < static_cast<int>(order)) return false;
  page* pg = free_list_head(z, static_cast<unsigned>(current), static_cast<unsigned>(fallback_mt));
  steal_suitable_fallback(z, pg, static_cast<unsigned>(current), start_mt, can_steal);
  return true;
}

// __rmqueue: own lists first, then fallback stealing and retry.
page* PhysMem::__rmqueue(zone& z, unsigned order, migratetype mt, KernelCost& cost) {
  cost.add_cycles(params_.costs.buddy_alloc_cycles);
  for (;;) {
    if (page* pg = __rmqueue_smallest(z, order, mt, cost)) return pg;
    if (!__rmqueue_fallback(z, order, mt)) return nullptr;
  }
}

// rmqueue_bulk: `count` blocks from the buddy onto a per-cpu list (in order).
int PhysMem::rmqueue_bulk(zone& z, unsigned order, int count, PageList& list, migratetype mt, KernelCost& cost) {
  int i = 0;
  for (; i < count; ++i) {
    page* pg = __rmqueue(z, order, mt, cost);
    if (!pg) break;
    pg->flags = 1u << PG_pcp;
    pg->order = static_cast<std::uint8_t>(order);
    list_add_tail(mem_map_, list, pg);
  }
  mod_free_pages(z, -(static_cast<std::int64_t>(i) << order));
  return i;
}

// rmqueue_pcplist + __rmqueue_pcplist: refill an empty list by a batch (scaled
// down by order), then take the hottest page.
page* PhysMem::rmqueue_pcplist(CpuId cpu, zone& z, unsigned order, migratetype mt, KernelCost& cost) {
  per_cpu_pages& pcp = z.per_cpu_pageset[static_cast<std::size_t>(cpu.value())];
  pcp.free_factor >>= 1;
  PageList& list = pcp.lists[order_to_pindex(mt, order)];
  cost.add_cycles(params_.costs.pcp_alloc_cycles);
  if (list.empty()) {
    int batch = pcp.batch;
    if (batch > 1) batch = std::max(batch >> order, 2);
    int alloced = rmqueue_bulk(z, order, batch, list, mt, cost);
    pcp.count += alloced << order;
    if (list.empty()) return nullptr;
  }
  page* pg = list_first_page(mem_map_, list);
  list_del(mem_map_, list, pg);
  pcp.count -= 1 << order;
  return pg;
}

// rmqueue: per-cpu lists for small orders, else the buddy; counts the allocation.
page* PhysMem::rmqueue(CpuId cpu, zone& preferred, zone& z, unsigned order, migratetype mt, KernelCost& cost) {
  page* pg = nullptr;
  if (order <= PAGE_ALLOC_COSTLY_ORDER) pg = rmqueue_pcplist(cpu, z, order, mt, cost);
  if (!pg) {
    // rmqueue_buddy
    pg = __rmqueue(z, order, mt, cost);
    if (!pg) return nullptr;
    mod_free_pages(z, -(1l << order));
  }
  count_vm_events(cpu, static_cast<vm_event_item>(static_cast<int>(PGALLOC_DMA) + static_cast<int>(z.idx)),
                  1ull << order);
  zone_statistics(preferred, z, cpu);
  return pg;
}

// zone_statistics: hit/miss against the preferred zone's node, local/other
// against the allocating CPU's node; one count per allocation.
void PhysMem::zone_statistics(zone& preferred, zone& z, CpuId cpu) {
  const int znid = zone_to_nid(z);
  numa_stat_item local_stat = znid == cpu_to_node(cpu).value() ? NUMA_LOCAL : NUMA_OTHER;
  if (znid == zone_to_nid(preferred)) {
    z.stats.vm_numa_event[NUMA_HIT]++;
  } else {
    z.stats.vm_numa_event[NUMA_MISS]++;
    preferred.stats.vm_numa_event[NUMA_FOREIGN]++;
  }
  z.stats.vm_numa_event[local_stat]++;
}

// prep_new_page / post_alloc_hook: reference, zeroing, compound setup.
void PhysMem::prep_new_page(CpuId cpu, page* pg, unsigned order, gfp_t gfp, KernelCost& cost) {
  const std::uint64_t pfn = pfn32(pg);
  pg->flags = 0;
  pg->order = 0;
  pg->free_mt = 0;
  pg->_refcount = 1;
  pg->mapcount = 0;
  pg->lru_next = pg->lru_prev = kNoPfn32;
  pg->owner = 0;
  pg->private_ = 0;
  page_zone(pg)->nr_alloced_pages += 1ull << order;
  if (gfp & __GFP_ZERO) {
    cost.add_memory(platform_.kernel_write(cpu, pfn << kPageShift, Bytes(kPageSize << order)));
    if (page_tokens_) page_tokens_->clear(pfn, order);
  }
  if (order && (gfp & __GFP_COMP)) {
    // prep_compound_page
    pg->set(PG_head);
    pg->order = static_cast<std::uint8_t>(order);
    for (std::uint64_t i = 1; i < (1ull << order); ++i) {
      page* t = pg + i;
      t->flags = 1u << PG_tail;
      t->private_ = static_cast<std::uint32_t>(pfn);
    }
  }
}

// get_page_from_freelist: first zone of the zonelist (within highest zone and
// nodemask) that passes the watermark of alloc_flags and has the memory.
page* PhysMem::get_page_from_freelist(CpuId cpu, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                      const alloc_context& ac, KernelCost& cost) {
  const zone_type highest = ac.highest_zoneidx;
  const bool alloc_high = alloc_flags & ALLOC_MIN_RESERVE;
  const bool non_block = alloc_flags & ALLOC_NON_BLOCK;
  for (const zoneref& zr : ac.zl->_zonerefs) {
    if (zr.zone_idx > highest) continue;
    if (ac.nodemask && !node_isset(zr.nid, *ac.nodemask)) continue;
    zone& z = *zr.z;
    cost.add_cycles(params_.costs.zone_check_cycles);
    if (!(alloc_flags & ALLOC_NO_WATERMARKS)) {
      const unsigned long mark = z._watermark[alloc_flags & ALLOC_WMARK_MASK];
      // zone_watermark_fast: order-0 shortcut, then the full check.
      bool ok;
      if (order == 0 && !alloc_high) {
        ok = z.stats.vm_stat[NR_FREE_PAGES] > static_cast<long>(mark) + z.lowmem_reserve[highest];
      } else {
        ok = zone_watermark_ok(z, order, mark, highest, alloc_high, non_block);
      }
      if (!ok) {
        // node_reclaim before spilling past this zone: only zones within
        // RECLAIM_DISTANCE of the preferred zone (zone_allows_reclaim).
        if (!node_reclaim_enabled_ ||
            node_distance(NodeId(ac.preferred_zone->zone_pgdat->node_id), NodeId(z.zone_pgdat->node_id)) > 30 /*RECLAIM_DISTANCE*/)
          continue;
        if (!hooks_->node_reclaim(NodeId(z.zone_pgdat->node_id), gfp, order, cpu, cost)) continue;  // NOSCAN / FULL
        if (!zone_watermark_ok(z, order, mark, highest, alloc_high, non_block)) continue;
      }
    }
    if (page* pg = rmqueue(cpu, *ac.preferred_zone, z, order, ac.mt, cost)) {
      prep_new_page(cpu, pg, order, gfp, cost);
      return pg;
    }
  }
  return nullptr;
}

// __alloc_pages: prepare_alloc_pages (with should_fail_alloc_page) +
// get_page_from_freelist(ALLOC_WMARK_LOW) + __alloc_pages_slowpath. Fails for
// order >= MAX_ORDER or when no zone may be used.
page* PhysMem::alloc_pages(CpuId cpu, gfp_t gfp, unsigned order, NodeId preferred_nid, const nodemask_t* nodemask,
                           KernelCost& cost) {
  if (order >= MAX_ORDER) return nullptr;
  if (cpu.value() < 0 || cpu.value() >= nr_cpu_ids()) {
    std::fprintf(stderr, "numasim: BUG: alloc_pages from CPU %d of %d\n", cpu.value(), nr_cpu_ids());
    std::abort();
  }
  // prepare_alloc_pages
  int nid = preferred_nid.value();
  if (nid < 0 || nid >= nr_node_ids()) nid = cpu_to_node(cpu).value();  // NUMA_NO_NODE: local
  alloc_context ac;
  ac.highest_zoneidx = gfp_zone(gfp);
  ac.zl = &nodes_[nid]->node_zonelists[(gfp & __GFP_THISNODE) ? ZONELIST_NOFALLBACK : ZONELIST_FALLBACK];
  ac.nodemask = nodemask;
  ac.mt = gfp_migratetype(gfp);
  if (fail_page_alloc_.should_fail_alloc_page(gfp, order)) {
    ++slowpath_stats_.injected;
    return nullptr;
  }
  // first_zones_zonelist: the preferred zone for the statistics.
  for (const zoneref& zr : ac.zl->_zonerefs) {
    if (zr.zone_idx > ac.highest_zoneidx) continue;
    if (nodemask && !node_isset(zr.nid, *nodemask)) continue;
    ac.preferred_zone = zr.z;
    break;
  }
  if (!ac.preferred_zone) return nullptr;
  if (page* pg = get_page_from_freelist(cpu, gfp, order, ALLOC_WMARK_LOW, ac, cost)) return pg;
  return __alloc_pages_slowpath(cpu, gfp, order, ac, cost);
}

// ---------------------------------------------------------------------------
// Freeing.

// __free_one_page: merge with free buddies while possible, then add the block
// to the head of its list (or the tail when the next-higher buddy is free too,
// as buddy_merge_likely does).
void PhysMem::__free_one_page(page* pg, std::uint64_t pfn, zone& z, unsigned order, migratetype mt, KernelCost& cost) {
  mod_free_pages(z, 1l << order);
  const unsigned merges = merge_free_block(pg, pfn, z, order, mt);
  cost.add_cycles(params_.costs.buddy_free_cycles + merges * std::uint64_t{params_.costs.buddy_step_cycles});
}

// Not a Linux function: __free_one_page's body (mm/page_alloc.c), its merging
// and queueing, split out for free_pcppages_bulk's batched accounting, so
// without its charge and NR_FREE_PAGES (the callers add those,
// free_pcppages_bulk once per batch; only positive deltas, so min_free_pages
// cannot tell); the merges made.
unsigned PhysMem::merge_free_block(page* pg, std::uint64_t pfn, zone& z, unsigned order, migratetype mt) {
  if (pfn & ((1ull << order) - 1)) bad_page("freeing a misaligned block", pfn);
  const unsigned first_order = order;
  while (order < MAX_ORDER - 1) {
    const std::uint64_t buddy_pfn = pfn ^ (1ull << order);
    if (!z.zone_spans_pfn(buddy_pfn)) break;
    page* buddy = mem_map_ + buddy_pfn;
    if (!PageBuddy(buddy) || buddy->order != order) break;
    del_page_from_free_list(buddy, z, order);
    const std::uint64_t combined = buddy_pfn & pfn;
    pg = mem_map_ + combined;
    pfn = combined;
    ++order;
  }
  bool to_tail = false;
  if (order < MAX_ORDER - 2) {
    const std::uint64_t higher = pfn & ~(1ull << order);  // combined at order + 1
    const std::uint64_t higher_buddy = higher ^ (1ull << (order + 1));
    if (z.zone_spans_pfn(higher_buddy)) {
      const page* hb = mem_map_ + higher_buddy;
      to_tail = PageBuddy(hb) && hb->order == order + 1;
    }
  }
  add_to_free_list(pg, z, order, mt, to_tail);
  return order - first_order;
}

// free_pcppages_bulk: return `count` pages to the buddy, round-robin over the
// lists starting with `pindex`, coldest (tail) pages first. Each block is
// merged as __free_one_page does; its charge and NR_FREE_PAGES are added once
// for the batch (nothing in between reads them, and the free count only grows,
// so the node's low-water mark is untouched either way).
void PhysMem::free_pcppages_bulk(zone& z, int count, per_cpu_pages& pcp, unsigned pindex, KernelCost& cost) {
  count = std::min(count, pcp.count);
  int idx = static_cast<int>(pindex) - 1;
  std::int64_t freed = 0;
  std::uint64_t blocks = 0, merges = 0;
  while (count > 0) {
    PageList* list;
    do {
      if (++idx > static_cast<int>(NR_PCP_LISTS) - 1) idx = 0;
      list = &pcp.lists[idx];
    } while (list->empty());
    const unsigned order = pindex_to_order(static_cast<unsigned>(idx));
    const int nr = 1 << order;
    do {
      page* pg = list_last_page(mem_map_, *list);
      list_del(mem_map_, *list, pg);
      const migratetype mt = static_cast<migratetype>(pg->free_mt);
      pg->flags = 0;
      count -= nr;
      pcp.count -= nr;
      freed += nr;
      ++blocks;
      merges += merge_free_block(pg, pfn32(pg), z, order, mt);
    } while (count > 0 && !list->empty());
  }
  mod_free_pages(z, freed);
  cost.add_cycles(blocks * params_.costs.buddy_free_cycles + merges * params_.costs.buddy_step_cycles);
}

// free_unref_page + free_unref_page_commit: onto this CPU's list, then drain a
// (growing) batch when the list passes `high`. `z` and `mt` are the page's
// zone and pageblock type, which the caller looked up (Linux's
// free_unref_page(page, order) looks them up itself).
// Inlined into free_the_page, its only caller: the drain at the end is a tail
// call, so the common path (no drain) needs no saved registers.
[[gnu::always_inline]] inline void PhysMem::free_unref_page(CpuId cpu, page* pg, unsigned order, zone& z,
                                                            migratetype mt, KernelCost& cost) {
  per_cpu_pages& pcp = z.per_cpu_pageset[static_cast<std::size_t>(cpu.value())];
  cost.add_cycles(params_.costs.pcp_free_cycles);
  count_vm_events(cpu, PGFREE, 1ull << order);
  const unsigned pindex = order_to_pindex(mt, order);
  pg->flags = 1u << PG_pcp;
  pg->order = static_cast<std::uint8_t>(order);
  pg->free_mt = mt;
  list_add(mem_map_, pcp.lists[pindex], pg);
  pcp.count += 1 << order;
  const bool free_high = pcp.free_factor && order && order <= PAGE_ALLOC_COSTLY_ORDER;
  const int high = free_high ? 0 : pcp.high;  // nr_pcp_high (no ZONE_RECLAIM_ACTIVE yet)
  if (pcp.count >= high) {
    int batch = pcp.batch;
    int to_free;
    // nr_pcp_free
    if (free_high) {
      to_free = pcp.count;
    } else if (high < batch) {
      to_free = 1;
    } else {
      const int min_nr_free = batch, max_nr_free = high - batch;
      batch <<= pcp.free_factor;
      if (batch < max_nr_free) pcp.free_factor++;
      to_free = std::clamp(batch, min_nr_free, max_nr_free);
    }
    free_pcppages_bulk(z, to_free, pcp, pindex, cost);
  }
}

// free_pages_prepare's compound part: every tail checked and cleared (out of
// line: rare, and it would cost the order-0 path its saved registers).
[[gnu::noinline]] void PhysMem::free_compound_tails(page* pg, std::uint64_t pfn, unsigned order) {
  if (pg->order != order) bad_page("freeing a compound page with the wrong order", pfn);
  for (std::uint64_t i = 1; i < (1ull << order); ++i) {
    page* t = pg + i;
    if (!PageTail(t) || t->private_ != pfn) bad_page("corrupted compound tail", pfn + i);
    if (t->mapcount != 0) bad_page("freeing a mapped tail page", pfn + i);
    t->flags = 0;
    t->private_ = 0;
  }
}

// free_the_page: per-cpu lists for small orders, else __free_pages_ok.
void PhysMem::free_the_page(CpuId cpu, page* pg, unsigned order, KernelCost& cost) {
  const std::uint64_t pfn = pfn32(pg);
  // free_pages_prepare: the block must be unmapped and carry none of
  // PAGE_FLAGS_CHECK_AT_FREE (its users clear them first); compound state is torn down.
  constexpr std::uint32_t kCheckAtFree = (1u << PG_lru) | (1u << PG_locked) | (1u << PG_private) |
                                         (1u << PG_writeback) | (1u << PG_reserved) | (1u << PG_slab) |
                                         (1u << PG_active) | (1u << PG_unevictable) | (1u << PG_mlocked) |
                                         (1u << PG_pgtable) | (1u << PG_hugetlb);
  if (pg->mapcount != 0) bad_page("freeing a mapped page", pfn);
  if (pg->flags & kCheckAtFree) bad_page("PAGE_FLAGS_CHECK_AT_FREE flag(s) set", pfn);
  if (PageHead(pg)) free_compound_tails(pg, pfn, order);
  // One look at the pageblock for the zone and the type (a copy: the stores
  // below through `pg` would otherwise make the compiler read it again).
  const PageblockInfo pb = pageblocks_[pfn >> pageblock_order];
  zone& z = *pageblock_zone(pb);
  const migratetype mt = static_cast<migratetype>(pb.mt);
  z.nr_alloced_pages -= 1ull << order;
  pg->owner = 0;
  pg->private_ = 0;
  if (order <= PAGE_ALLOC_COSTLY_ORDER) {
    free_unref_page(cpu, pg, order, z, mt, cost);
  } else {
    pg->flags = 0;
    __free_one_page(pg, pfn, z, order, mt, cost);
    count_vm_events(cpu, PGFREE, 1ull << order);
  }
}

// __free_pages: drop a reference; free on the last one. For a non-compound
// high-order block still referenced elsewhere, free all but the first page.
void PhysMem::free_pages(CpuId cpu, page* pg, unsigned order, KernelCost& cost) {
  const std::uint64_t pfn = pfn32(pg);
  if (pfn >= max_pfn_ || !pfn_valid(Pfn(pfn))) bad_page("freeing a page outside memory", pfn);
  if (cpu.value() < 0 || cpu.value() >= nr_cpu_ids()) bad_page("freeing from an invalid CPU", pfn);
  if (order >= MAX_ORDER) bad_page("freeing an order >= MAX_ORDER", pfn);
  if (PageBuddy(pg) || pg->test(PG_pcp)) bad_page("double free (page is already free)", pfn);
  if (PageTail(pg)) bad_page("freeing a tail page of a compound page", pfn);
  if (pg->_refcount <= 0) bad_page("freeing a page with no reference", pfn);
  const bool head = PageHead(pg);
  if (--pg->_refcount == 0) {
    if (pg->memcg_id) hooks_->uncharge_folio(pg, order);  // mem_cgroup_uncharge
    free_the_page(cpu, pg, order, cost);
  } else if (!head && order) {
    free_pages_after_first(cpu, pg, order, cost);
  }
}

// __free_pages' split of a non-compound block whose first page is still
// referenced: the rest freed as ever smaller blocks (out of line, as above).
[[gnu::noinline]] void PhysMem::free_pages_after_first(CpuId cpu, page* pg, unsigned order, KernelCost& cost) {
  while (order-- > 0) free_the_page(cpu, pg + (1ull << order), order, cost);
}

// drain_pages_zone for every zone of this CPU.
void PhysMem::drain_local_pages(CpuId cpu, KernelCost& cost) {
  for (auto& n : nodes_)
    for (zone& z : n->node_zones) {
      per_cpu_pages& pcp = z.per_cpu_pageset[static_cast<std::size_t>(cpu.value())];
      if (pcp.count) free_pcppages_bulk(z, pcp.count, pcp, 0, cost);
    }
}

void PhysMem::drain_all_pages(KernelCost& cost) {
  for (int c = 0; c < nr_cpu_ids(); ++c) drain_local_pages(CpuId(c), cost);
}

// ---------------------------------------------------------------------------
// Compaction's helpers.

unsigned long PhysMem::__isolate_free_page(page* pg, unsigned order) {
  zone& z = *page_zone(pg);
  if (!PageBuddy(pg) || pg->order != order) bad_page("isolating a block that is not free at this order", pfn32(pg));
  const unsigned long watermark = z._watermark[WMARK_MIN] + (1ul << order);
  if (!zone_watermark_ok(z, 0, watermark, ZONE_DMA)) return 0;
  mod_free_pages(z, -(1l << order));
  del_page_from_free_list(pg, z, order);
  if (order >= pageblock_order - 1) {
    const std::uint64_t pfn = pfn32(pg);
    for (std::uint64_t p = pfn; p < pfn + (1ull << order); p += pageblock_nr_pages)
      set_pageblock_migratetype(p, MIGRATE_MOVABLE);  // every type here is mergeable
  }
  return 1ul << order;
}

void PhysMem::split_isolated_page(CpuId cpu, page* pg, unsigned order, KernelCost& cost) {
  for (std::uint64_t i = 0; i < (1ull << order); ++i) prep_new_page(cpu, pg + i, 0, 0, cost);
}

int PhysMem::find_suitable_fallback(const zone& z, unsigned order, migratetype mt, bool only_stealable,
                                    bool* can_steal) const {
  *can_steal = false;
  if (z.free_area[order].nr_free == 0) return -1;
  for (migratetype fmt : kFallbacks[mt]) {
    if (free_list_empty(z, order, fmt)) continue;
    if (can_steal_fallback(order, mt)) *can_steal = true;
    if (!only_stealable || *can_steal) return fmt;
  }
  return -1;
}

// The sysfs store of weighted_interleave/node<N> (mm/mempolicy.c node_store):
// weights are system-wide, shared by every MPOL_WEIGHTED_INTERLEAVE policy.
int PhysMem::set_interleave_weight(NodeId nid, unsigned weight) {
  if (nid.value() < 0 || nid.value() >= nr_node_ids() || weight < 1 || weight > 255) return -EINVAL;
  auto& w = params_.interleave_weights;
  if (w.size() < static_cast<std::size_t>(nr_node_ids())) w.resize(static_cast<std::size_t>(nr_node_ids()), 1);
  for (auto& x : w)
    if (x == 0) x = 1;
  w[static_cast<std::size_t>(nid.value())] = static_cast<std::uint8_t>(weight);
  return 0;
}

}  // namespace numasim::os
