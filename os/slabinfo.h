// /proc/slabinfo (mm/slab_common.c: slab_show, cache_show; mm/slub.c:
// get_slabinfo) in Linux's "slabinfo - version: 2.1" layout, and the same
// figures as JSON. As SLUB reports them: active_objs is num_objs minus the
// free objects on the node partial lists (objects free in CPU slabs count as
// active), active_slabs equals num_slabs, tunables and sharedavail are 0.
// Caches are listed newest first, as Linux walks slab_caches. The JSON adds
// the exact allocated count (inuse_objs), partial/CPU slab counts and the
// SLUB_STATS-like event counters of each cache.
// Simplified: no per-memcg or /sys/kernel/slab files.
#pragma once

#include <string>

namespace numasim::os {

class Slub;

std::string proc_slabinfo(const Slub& slub);
// {"caches": [{"name": ..., "active_objs": ..., ...}, ...], "failslab": {...}}
std::string slabinfo_json(const Slub& slub);

}  // namespace numasim::os
