// The page descriptor: one `struct page` per 4 KiB frame of simulated physical
// memory (include/linux/mm_types.h, page-flags.h). All descriptors live in one
// flat array indexed by PFN (FLATMEM), allocated zero-filled and touched lazily,
// so bring-up only writes the heads of free blocks.
// Budget: 48 host bytes per frame (was 32), so a 256 GiB machine costs 3 GiB of
// host memory for its descriptors. What the coming features need per frame:
// LRU links (lru_next/lru_prev, 2 x 32-bit PFNs), the owner (anon_vma handle or
// mapping, 32-bit) and the page's offset in it (`index`: the linear page index
// of a private anonymous page is its user address >> 12, up to 44 bits with
// 5-level tables, so 64 bits), a swap entry or slab/tail data (private_),
// last_cpupid for NUMA balancing (16 bits: 8 of pid, 8 of CPU as Linux's
// LAST_CPUPID with a small NR_CPUS), mapcount, refcount, and a memcg id. Side
// tables were rejected: index, owner and memcg are read on every rmap walk,
// LRU scan and charge, one cache line away from flags and mapcount; a side
// table costs the same bytes per frame plus a second miss. 40 bytes would fit
// all but the memcg id; 48 keeps a 32-bit spare for the folio fields THP needs.
// Simplified against Linux: no folios (a compound page is a head with PG_head
// and `order`, tails with PG_tail pointing back through `private_`); node and
// zone are not stored in the flags but looked up from the PFN (per-pageblock
// table in PhysMem); `mapcount` counts mappings from 0 (Linux biases
// _mapcount by -1); list links are 32-bit PFNs (up to 16 TiB of physical space);
// the reverse-map owner is a 32-bit handle: an anon_vma id (os/rmap.h) for
// PG_anon pages, the owning mm or mapping's id otherwise.
#pragma once

#include <cstdint>

namespace numasim::os {

enum migratetype : std::uint8_t {
  MIGRATE_UNMOVABLE,
  MIGRATE_MOVABLE,
  MIGRATE_RECLAIMABLE,
  MIGRATE_TYPES,
};
inline constexpr unsigned MIGRATE_PCPTYPES = 3;  // types that have per-cpu lists

enum zone_type : std::uint8_t { ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, MAX_NR_ZONES };

inline constexpr unsigned MAX_ORDER = 11;       // orders 0..10 (Linux's NR_PAGE_ORDERS)
inline constexpr unsigned pageblock_order = 9;  // 2 MiB pageblocks (HPAGE_PMD_ORDER)
inline constexpr unsigned long pageblock_nr_pages = 1ul << pageblock_order;
inline constexpr unsigned PAGE_ALLOC_COSTLY_ORDER = 3;  // highest order kept on per-cpu lists

// Page flags (enum pageflags); bit numbers are the simulator's own.
enum pageflags : std::uint32_t {
  PG_locked,
  PG_referenced,
  PG_uptodate,
  PG_dirty,
  PG_lru,
  PG_active,
  PG_workingset,
  PG_slab,
  PG_reserved,
  PG_private,
  PG_writeback,
  PG_head,  // first page of a compound page (order in page::order)
  PG_tail,  // other pages of a compound page (head PFN in page::private_)
  PG_swapcache,
  PG_swapbacked,  // anonymous or shmem: backed by swap
  PG_unevictable,
  PG_mlocked,
  PG_buddy,    // head of a free block in the buddy allocator (order in page::order)
  PG_pcp,      // on a per-cpu free list (Linux tracks this implicitly)
  PG_pgtable,  // page-table page (PageTable/PG_table)
  PG_anon,     // anonymous (Linux: PAGE_MAPPING_ANON bit in page->mapping)
  PG_hugetlb,  // head of a hugetlb page
  PG_readahead,  // page cache: reading it starts the next async readahead (Linux aliases PG_reclaim)
  __NR_PAGEFLAGS
};

inline constexpr std::uint32_t kNoPfn32 = 0xffffffffu;  // "no page" in 32-bit links

struct page {
  std::uint32_t flags;        // 1 << PG_xxx
  std::uint8_t order;         // buddy order if PG_buddy/PG_pcp; compound order if PG_head
  std::uint8_t free_mt;       // migratetype of the free list holding it (PG_buddy/PG_pcp)
  std::uint16_t last_cpupid;  // NUMA balancing: last CPU and pid bits that touched it (unused yet)
  std::int32_t _refcount;     // 0 when free
  std::int32_t mapcount;      // number of page-table mappings (Linux's _mapcount + 1)
  std::uint32_t lru_next;     // PFN links: buddy/pcp free lists while free, LRU lists when in use
  std::uint32_t lru_prev;
  std::uint32_t owner;     // reverse-map owner: anon_vma id if PG_anon, else mm/mapping id; 0 = none
  std::uint32_t private_;  // swap entry, slab cache id, or head PFN for PG_tail
  std::uint64_t index;     // offset in the owner in pages (linear_page_index for anon pages)
  std::uint32_t memcg_id;  // memory cgroup charged (0: root / none; unused yet)
  std::uint32_t spare;     // reserved (folio fields for THP)

  bool test(pageflags f) const { return (flags >> f) & 1u; }
  void set(pageflags f) { flags |= 1u << f; }
  void clear(pageflags f) { flags &= ~(1u << f); }
};
static_assert(sizeof(page) == 48, "page descriptor budget is 48 bytes (see the header comment)");

// PageXxx() style helpers for the common flags.
inline bool PageBuddy(const page* p) { return p->test(PG_buddy); }
inline bool PageLRU(const page* p) { return p->test(PG_lru); }
inline bool PageSlab(const page* p) { return p->test(PG_slab); }
inline bool PageHead(const page* p) { return p->test(PG_head); }
inline bool PageTail(const page* p) { return p->test(PG_tail); }
inline bool PageCompound(const page* p) { return p->flags & ((1u << PG_head) | (1u << PG_tail)); }
inline bool PageDirty(const page* p) { return p->test(PG_dirty); }
inline bool PageSwapBacked(const page* p) { return p->test(PG_swapbacked); }
inline bool PageReserved(const page* p) { return p->test(PG_reserved); }
inline bool PageTable(const page* p) { return p->test(PG_pgtable); }
inline bool PageAnon(const page* p) { return p->test(PG_anon); }

inline int page_ref_count(const page* p) { return p->_refcount; }
inline void get_page(page* p) { ++p->_refcount; }
inline int page_mapcount(const page* p) { return p->mapcount; }
inline unsigned compound_order(const page* p) { return PageHead(p) ? p->order : 0u; }

}  // namespace numasim::os
