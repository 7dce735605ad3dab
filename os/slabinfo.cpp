// /proc/slabinfo and its JSON twin (mm/slab_common.c slab_show/cache_show).
#include "os/slabinfo.h"

#include <cstdio>

#include "common/json_writer.h"
#include "os/slub.h"

namespace numasim::os {

// print_slabinfo_header + cache_show for every cache, newest first.
std::string proc_slabinfo(const Slub& slub) {
  std::string out =
      "slabinfo - version: 2.1\n"
      "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
      " : tunables <limit> <batchcount> <sharedfactor>"
      " : slabdata <active_slabs> <num_slabs> <sharedavail>\n";
  const auto& caches = slub.caches();
  char line[256];
  for (auto it = caches.rbegin(); it != caches.rend(); ++it) {
    const kmem_cache& s = **it;
    Slub::CacheInfo info = slub.cache_info(s);
    std::snprintf(line, sizeof line, "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u : slabdata %6lu %6lu %6lu\n",
                  s.name.c_str(), info.active_objs, info.num_objs, s.size, s.oo.objects, 1 << s.oo.order, 0u, 0u, 0u,
                  info.num_slabs, info.num_slabs, 0ul);
    out += line;
  }
  return out;
}

std::string slabinfo_json(const Slub& slub) {
  JsonWriter j;
  j.begin_object();
  j.key("caches").begin_array();
  const auto& caches = slub.caches();
  for (auto it = caches.rbegin(); it != caches.rend(); ++it) {
    const kmem_cache& s = **it;
    Slub::CacheInfo info = slub.cache_info(s);
    j.begin_object();
    j.key("name").value(s.name);
    j.key("active_objs").value(std::uint64_t{info.active_objs});
    j.key("num_objs").value(std::uint64_t{info.num_objs});
    j.key("objsize").value(s.size);
    j.key("objperslab").value(s.oo.objects);
    j.key("pagesperslab").value(1u << s.oo.order);
    j.key("active_slabs").value(std::uint64_t{info.num_slabs});
    j.key("num_slabs").value(std::uint64_t{info.num_slabs});
    j.key("object_size").value(s.object_size);
    j.key("inuse_objs").value(std::uint64_t{info.inuse_objs});
    j.key("partial_slabs").value(std::uint64_t{info.partial_slabs});
    j.key("cpu_slabs").value(std::uint64_t{info.cpu_slabs});
    j.key("min_partial").value(std::uint64_t{s.min_partial});
    j.key("cpu_partial").value(s.cpu_partial);
    j.key("reclaimable").value((s.flags & SLAB_RECLAIM_ACCOUNT) != 0);
    j.key("nodes").begin_array();
    for (const auto& n : s.node) {
      j.begin_object();
      j.key("slabs").value(std::uint64_t{n.nr_slabs});
      j.key("objects").value(std::uint64_t{n.total_objects});
      j.key("partial").value(std::uint64_t{n.nr_partial});
      j.end_object();
    }
    j.end_array();
    const SlubStats& st = s.stats;
    j.key("stats").begin_object();
    j.key("alloc_fastpath").value(st.alloc_fastpath);
    j.key("alloc_slowpath").value(st.alloc_slowpath);
    j.key("free_fastpath").value(st.free_fastpath);
    j.key("free_slowpath").value(st.free_slowpath);
    j.key("alloc_from_partial").value(st.alloc_from_partial);
    j.key("alloc_slab").value(st.alloc_slab);
    j.key("alloc_refill").value(st.alloc_refill);
    j.key("alloc_node_mismatch").value(st.alloc_node_mismatch);
    j.key("free_remote").value(st.free_remote);
    j.key("free_add_partial").value(st.free_add_partial);
    j.key("free_remove_partial").value(st.free_remove_partial);
    j.key("free_slab").value(st.free_slab);
    j.key("cpu_partial_alloc").value(st.cpu_partial_alloc);
    j.key("cpu_partial_free").value(st.cpu_partial_free);
    j.key("cpu_partial_node").value(st.cpu_partial_node);
    j.key("cpu_partial_drain").value(st.cpu_partial_drain);
    j.key("deactivate_full").value(st.deactivate_full);
    j.key("deactivate_empty").value(st.deactivate_empty);
    j.key("deactivate_to_partial").value(st.deactivate_to_partial);
    j.key("alloc_failed").value(st.alloc_failed);
    j.key("failslab").value(st.failslab);
    j.end_object();
    j.end_object();
  }
  j.end_array();
  j.key("large_kmalloc_pages").value(slub.large_pages());
  j.key("failslab").begin_object();
  j.key("probability").value(slub.failslab().params().probability);
  j.key("candidates").value(slub.failslab().nr_candidates());
  j.key("failed").value(slub.failslab().nr_failed());
  j.end_object();
  j.end_object();
  return j.str();
}

}  // namespace numasim::os
