// Test-only access to the Kernel's reclaim internals (friend struct
// LruTestAccess): one list shrunk at a time, with a scan_control the test
// builds, as kswapd and direct reclaim would shrink it. Also used by
// bench/os_reclaim_bench.cpp.
#pragma once

#include "os/kernel.h"

namespace numasim::os {

struct LruTestAccess {
  static void shrink_active_list(Kernel& k, NodeId nid, unsigned long nr, scan_control& sc, lru_list lru,
                                 CpuId cpu, KernelCost& cost) {
    k.shrink_active_list(nr, k.physmem().NODE_DATA(nid), sc, lru, cpu, cost);
  }
  static unsigned long shrink_inactive_list(Kernel& k, NodeId nid, unsigned long nr, scan_control& sc, lru_list lru,
                                            CpuId cpu, KernelCost& cost) {
    return k.shrink_inactive_list(nr, k.physmem().NODE_DATA(nid), sc, lru, cpu, cost);
  }
  static void get_scan_count(Kernel& k, NodeId nid, const scan_control& sc, unsigned long nr[NR_LRU_LISTS]) {
    k.get_scan_count(k.physmem().NODE_DATA(nid), sc, nr);
  }
  static bool inactive_is_low(const Kernel& k, const pglist_data& pgdat, lru_list lru) {
    return k.inactive_is_low(pgdat, lru, ZONE_MOVABLE);
  }
  static unsigned long zone_reclaimable_pages(const Kernel& k, const zone& z) { return k.zone_reclaimable_pages(z); }
  // isolate_lru_folios for one page (tests that drive shrink_folio_list's steps by hand).
  static void isolate_lru_page(Kernel& k, page* pg) { k.isolate_lru_page(pg); }
  static void boost_watermark(Kernel& k, zone& z) { k.boost_watermark(z); }
  static bool pgdat_balanced(const Kernel& k, NodeId nid, int order) {
    return k.pgdat_balanced(k.physmem().NODE_DATA(nid), order, ZONE_MOVABLE);
  }
};

}  // namespace numasim::os
