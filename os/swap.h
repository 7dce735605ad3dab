// The seam between page reclaim (mm/vmscan.c, the LRU lists of mm/swap.c and
// mm/workingset.c) and swap (mm/swapfile.c, mm/swap_state.c, mm/page_io.c),
// so that the two are built separately and meet here. The functions are
// Kernel members (declared in kernel.h under "reclaim <-> swap seam"):
//
// Swap side (swap_state.cpp; stubs until swap exists: no swap space):
//   add_to_swap(pg, cpu, cost)       folio_alloc_swap + add_to_swap_cache: a slot
//                                    for an anonymous page, PG_swapcache set,
//                                    page->private_ holds the entry, PG_dirty set.
//                                    False when no slot can be had.
//   pageout(pg, cpu, cost)           swap_writepage of a dirty swap-cache page:
//                                    PG_dirty cleared, PG_writeback set until the
//                                    write completes (PAGE_SUCCESS), or PAGE_KEEP /
//                                    PAGE_ACTIVATE when it cannot be written now.
//   remove_swapcache_mapping(pg, shadow, cpu, cost)
//                                    __remove_mapping for a clean, unmapped swap-cache
//                                    page: out of the swap cache, `shadow` (from
//                                    workingset_eviction) left in its slot; the
//                                    caller then frees the page. False when it is
//                                    still in use (refcount, writeback).
//   try_to_free_swap(pg)             folio_free_swap: drop the slot of a swap-cache
//                                    page nobody's PTE points at through swap any more.
//   total_swap_pages(), nr_swap_pages()   total and free slots of all swap areas.
//   try_to_unmap (rmap.cpp) replaces each PTE of a PG_swapcache page by its swap entry.
//
// Reclaim side (swap.cpp, workingset.cpp; stubs until the LRU lists exist):
//   lru_cache_add(pg, cpu)           folio_add_lru: a new or swapped-in page onto the
//                                    CPU's lru_add batch, from there onto its node's
//                                    inactive (or, PG_active, active) list.
//   mark_page_accessed(pg)           folio_mark_accessed.
//   workingset_eviction(pg)          the shadow value left behind by an evicted page.
//   workingset_refault(pg, shadow)   a page read back: refault distance, activation.
#pragma once

namespace numasim::os {

// pageout_t (mm/vmscan.c): what pageout() did with a dirty page.
enum pageout_t { PAGE_KEEP, PAGE_ACTIVATE, PAGE_SUCCESS, PAGE_CLEAN };

}  // namespace numasim::os
