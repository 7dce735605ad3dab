// LRU list helpers (include/linux/mm_inline.h): which list a page belongs on
// (folio_lru_list), and adding/removing a page to/from its node's lruvec with
// the NR_{IN,}ACTIVE_{ANON,FILE}/NR_UNEVICTABLE node gauges and the matching
// NR_ZONE_* zone gauges kept in step (update_lru_size).
// With memory cgroups (os/memcontrol.h) a page's lruvec is its cgroup's on its
// node (mem_cgroup_lruvec); the root cgroup's is the node's __lruvec.
// Simplified: the only large folios on the lists are anonymous THP heads, no MGLRU.
#pragma once

#include "os/mm_types.h"
#include "os/page_alloc.h"
#include "os/page_list.h"

namespace numasim::os {

// VM_LOCKONFAULT (include/linux/mm.h): mlock2(MLOCK_ONFAULT) / MCL_ONFAULT.
inline constexpr unsigned long VM_LOCKONFAULT = 0x00080000;
inline constexpr unsigned long VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
// mlock2(2) and mlockall(2) flags (include/uapi/asm-generic/mman-common.h, mman.h).
inline constexpr int MLOCK_ONFAULT = 0x01;
inline constexpr int MCL_CURRENT = 1;
inline constexpr int MCL_FUTURE = 2;
inline constexpr int MCL_ONFAULT = 4;

// page_is_file_lru: not swap-backed (no file pages exist yet).
inline bool page_is_file_lru(const page* pg) { return !pg->test(PG_swapbacked); }

// folio_evictable: not mlocked (no unevictable mappings without files).
inline bool page_evictable(const page* pg) { return !pg->test(PG_mlocked); }

// folio_lru_list: the list a page with these flags lives on.
inline lru_list page_lru_list(const page* pg) {
  if (pg->test(PG_unevictable)) return LRU_UNEVICTABLE;
  unsigned l = page_is_file_lru(pg) ? LRU_INACTIVE_FILE : LRU_INACTIVE_ANON;
  if (pg->test(PG_active)) l += LRU_ACTIVE;
  return static_cast<lru_list>(l);
}

// mem_cgroup_lruvec: cgroup memcg_id's lruvec on the node (the root's: the node's own).
inline lruvec& mem_cgroup_lruvec(pglist_data& pgdat, std::uint32_t memcg_id) {
  return memcg_id == 0 ? pgdat.__lruvec : *pgdat.memcg_lruvec[memcg_id];
}

// folio_lruvec: the lruvec of the page's cgroup on the page's node.
inline lruvec& page_lruvec(PhysMem& pm, const page* pg) {
  return mem_cgroup_lruvec(pm.NODE_DATA(pm.page_to_nid(pg)), pg->memcg_id);
}

// update_lru_size: the list length (in all and per zone) and its node and zone gauges.
inline void update_lru_size(PhysMem& pm, lruvec& lv, lru_list lru, zone& z, long delta) {
  lv.nr_pages[lru] = static_cast<std::uint64_t>(static_cast<long>(lv.nr_pages[lru]) + delta);
  lv.lru_zone_size[z.idx][lru] = static_cast<std::uint64_t>(static_cast<long>(lv.lru_zone_size[z.idx][lru]) + delta);
  z.zone_pgdat->stats.vm_stat[NR_INACTIVE_ANON + static_cast<int>(lru)] += delta;
  pm.mod_zone_page_state(z, static_cast<zone_stat_item>(NR_ZONE_INACTIVE_ANON + static_cast<int>(lru)), delta);
}

// folio_nr_pages: a THP head stands on its list for its 512 pages.
inline long lru_nr_pages(const page* pg) { return PageHead(pg) ? (1l << pg->order) : 1; }

// lruvec_add_folio / lruvec_add_folio_tail / lruvec_del_folio: PG_lru is the
// caller's (as Linux: folio_set_lru / folio_test_clear_lru around these).
inline void add_page_to_lru_list(PhysMem& pm, page* pg) {
  lruvec& lv = page_lruvec(pm, pg);
  const lru_list lru = page_lru_list(pg);
  update_lru_size(pm, lv, lru, *pm.page_zone(pg), lru_nr_pages(pg));
  list_add(pm.pfn_to_page(Pfn(0)), lv.lists[lru], pg);
}
inline void add_page_to_lru_list_tail(PhysMem& pm, page* pg) {
  lruvec& lv = page_lruvec(pm, pg);
  const lru_list lru = page_lru_list(pg);
  update_lru_size(pm, lv, lru, *pm.page_zone(pg), lru_nr_pages(pg));
  list_add_tail(pm.pfn_to_page(Pfn(0)), lv.lists[lru], pg);
}
inline void del_page_from_lru_list(PhysMem& pm, page* pg) {
  lruvec& lv = page_lruvec(pm, pg);
  const lru_list lru = page_lru_list(pg);
  list_del(pm.pfn_to_page(Pfn(0)), lv.lists[lru], pg);
  update_lru_size(pm, lv, lru, *pm.page_zone(pg), -lru_nr_pages(pg));
}

// lru_note_cost: reclaim work (pages written out, refaulted) charged to a type,
// in the lruvec and each ancestor cgroup's on the node (parent_lruvec);
// both costs halve once they exceed a quarter of the LRU pages (a decaying average).
inline void lru_note_cost(lruvec& lv0, bool file, unsigned long nr_pages) {
  for (lruvec* l = &lv0; l; l = l->parent) {
    lruvec& lv = *l;
    (file ? lv.file_cost : lv.anon_cost) += nr_pages;
    const std::uint64_t lrusize = lv.nr_pages[LRU_INACTIVE_ANON] + lv.nr_pages[LRU_ACTIVE_ANON] +
                                  lv.nr_pages[LRU_INACTIVE_FILE] + lv.nr_pages[LRU_ACTIVE_FILE];
    if (lv.file_cost + lv.anon_cost > lrusize / 4) {
      lv.file_cost /= 2;
      lv.anon_cost /= 2;
    }
  }
}

}  // namespace numasim::os
