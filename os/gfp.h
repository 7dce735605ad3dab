// GFP ("get free page") flags: what an allocation request may do and where its
// memory may come from, modelled on include/linux/gfp_types.h and gfp.h.
// The bits decide the highest usable zone (gfp_zone), the migratetype of the
// request (gfp_migratetype), whether other nodes may be used (__GFP_THISNODE),
// whether the page is zeroed (__GFP_ZERO) and whether a high-order block is a
// compound page (__GFP_COMP). Bit values follow Linux's layout but are private
// to the simulator. Simplified: reclaim/IO/FS bits are carried but only
// __GFP_DIRECT_RECLAIM, __GFP_HIGH and __GFP_NOWARN change behaviour for now
// (reclaim arrives with the slow path); no ZONE_HIGHMEM (64-bit only).
#pragma once

#include "os/page.h"

namespace numasim::os {

using gfp_t = unsigned;

// Zone modifiers.
inline constexpr gfp_t __GFP_DMA = 0x01u;
inline constexpr gfp_t __GFP_HIGHMEM = 0x02u;
inline constexpr gfp_t __GFP_DMA32 = 0x04u;
inline constexpr gfp_t __GFP_MOVABLE = 0x08u;  // also a mobility hint: MIGRATE_MOVABLE
// Mobility and placement.
inline constexpr gfp_t __GFP_RECLAIMABLE = 0x10u;  // MIGRATE_RECLAIMABLE (slab caches)
inline constexpr gfp_t __GFP_HIGH = 0x20u;         // may dip below WMARK_MIN by half
inline constexpr gfp_t __GFP_IO = 0x40u;
inline constexpr gfp_t __GFP_FS = 0x80u;
inline constexpr gfp_t __GFP_ZERO = 0x100u;  // zero the whole allocation (charged via Platform)
inline constexpr gfp_t __GFP_DIRECT_RECLAIM = 0x400u;
inline constexpr gfp_t __GFP_KSWAPD_RECLAIM = 0x800u;
inline constexpr gfp_t __GFP_WRITE = 0x1000u;
inline constexpr gfp_t __GFP_NOWARN = 0x2000u;
inline constexpr gfp_t __GFP_RETRY_MAYFAIL = 0x4000u;
inline constexpr gfp_t __GFP_NOFAIL = 0x8000u;
inline constexpr gfp_t __GFP_NORETRY = 0x10000u;
inline constexpr gfp_t __GFP_MEMALLOC = 0x20000u;
inline constexpr gfp_t __GFP_COMP = 0x40000u;  // high-order block becomes a compound page
inline constexpr gfp_t __GFP_NOMEMALLOC = 0x80000u;
inline constexpr gfp_t __GFP_HARDWALL = 0x100000u;
inline constexpr gfp_t __GFP_THISNODE = 0x200000u;  // no fallback to other nodes
inline constexpr gfp_t __GFP_ACCOUNT = 0x400000u;

inline constexpr gfp_t __GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE;
inline constexpr gfp_t GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE;

// Composite flags, as in gfp_types.h.
inline constexpr gfp_t GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS;
inline constexpr gfp_t GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT;
inline constexpr gfp_t GFP_NOWAIT = __GFP_KSWAPD_RECLAIM;
inline constexpr gfp_t GFP_NOIO = __GFP_RECLAIM;
inline constexpr gfp_t GFP_NOFS = __GFP_RECLAIM | __GFP_IO;
inline constexpr gfp_t GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL;
inline constexpr gfp_t GFP_DMA = __GFP_DMA;
inline constexpr gfp_t GFP_DMA32 = __GFP_DMA32;
inline constexpr gfp_t GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM;
inline constexpr gfp_t GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE;
inline constexpr gfp_t GFP_TRANSHUGE_LIGHT =
    (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC | __GFP_NOWARN) & ~__GFP_RECLAIM;
inline constexpr gfp_t GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM;
// Page-table pages (pagetable_alloc for user page tables: GFP_PGTABLE_USER).
inline constexpr gfp_t GFP_PGTABLE_KERNEL = GFP_KERNEL | __GFP_ZERO;
inline constexpr gfp_t GFP_PGTABLE_USER = GFP_PGTABLE_KERNEL | __GFP_ACCOUNT;

// gfp_zone(): the highest zone a request may use. Without ZONE_HIGHMEM,
// __GFP_HIGHMEM alone means ZONE_NORMAL and __GFP_HIGHMEM|__GFP_MOVABLE means
// ZONE_MOVABLE (as GFP_ZONE_TABLE on x86-64). __GFP_MOVABLE alone stays Normal.
constexpr zone_type gfp_zone(gfp_t gfp) {
  if (gfp & __GFP_DMA) return ZONE_DMA;
  if (gfp & __GFP_DMA32) return ZONE_DMA32;
  if ((gfp & (__GFP_HIGHMEM | __GFP_MOVABLE)) == (__GFP_HIGHMEM | __GFP_MOVABLE)) return ZONE_MOVABLE;
  return ZONE_NORMAL;
}

// gfp_migratetype(): which free lists the request prefers.
constexpr migratetype gfp_migratetype(gfp_t gfp) {
  if (gfp & __GFP_MOVABLE) return MIGRATE_MOVABLE;
  if (gfp & __GFP_RECLAIMABLE) return MIGRATE_RECLAIMABLE;
  return MIGRATE_UNMOVABLE;
}

}  // namespace numasim::os
