// Workingset detection (mm/workingset.c, Linux 6.1 without MGLRU): an evicted
// page leaves a shadow value in its swap slot (the seam of os/swap.h) holding
// its node, the node lruvec's non-resident age at eviction and whether it was
// part of the workingset (PG_workingset). When it is read back, the refault
// distance (pages evicted or activated since) is compared with the workingset
// size (the active file list, plus the anon lists while swap is available):
// a refault within it activates the page at once (workingset_activate_anon) and
// one that was workingset restores it (workingset_restore_anon, lru_note_cost).
// The shadow carries the evicting memory cgroup's id (the refault distance is
// measured on that cgroup's lruvec; the events count in the page's cgroup).
// Simplified: bucket_order 0
// (40 bits of timestamp before it wraps); no shadow-node shrinker
// (workingset_nodes / workingset_nodereclaim stay 0).
#include "os/kernel.h"
#include "os/mm_inline.h"

namespace numasim::os {

namespace {
constexpr unsigned kNodesShift = 6;          // MAX_NUMNODES = 64
constexpr unsigned kMemcgIdShift = 16;       // MEM_CGROUP_ID_SHIFT
constexpr unsigned kEvictionShift = 1 + WORKINGSET_SHIFT + kNodesShift + kMemcgIdShift;  // + xa_mk_value's bit
constexpr std::uint64_t kEvictionMask = ~0ull >> kEvictionShift;

// pack_shadow + xa_mk_value.
std::uint64_t pack_shadow(int nid, std::uint64_t eviction, bool workingset, std::uint32_t memcgid = 0) {
  std::uint64_t v = eviction & kEvictionMask;
  v = (v << kMemcgIdShift) | (memcgid & ((1u << kMemcgIdShift) - 1));  // the eviction's memory cgroup
  v = (v << kNodesShift) | static_cast<std::uint64_t>(nid);
  v = (v << WORKINGSET_SHIFT) | (workingset ? 1 : 0);
  return (v << 1) | 1;
}

void unpack_shadow(std::uint64_t shadow, int& nid, std::uint64_t& eviction, bool& workingset,
                   std::uint32_t* memcgid = nullptr) {
  std::uint64_t v = shadow >> 1;
  workingset = v & ((1ull << WORKINGSET_SHIFT) - 1);
  v >>= WORKINGSET_SHIFT;
  nid = static_cast<int>(v & ((1ull << kNodesShift) - 1));
  v >>= kNodesShift;
  if (memcgid) *memcgid = static_cast<std::uint32_t>(v & ((1u << kMemcgIdShift) - 1));
  v >>= kMemcgIdShift;
  eviction = v;
}
}  // namespace

// workingset_eviction: the shadow of a page leaving memory; the clock ticks.
std::uint64_t Kernel::workingset_eviction(page* pg) {
  const int nid = pm_.page_to_nid(pg).value();
  lruvec& lv = page_lruvec(pm_, pg);
  const std::uint64_t eviction = lv.nonresident_age;
  lv.nonresident_age += 1;  // workingset_age_nonresident
  return pack_shadow(nid, eviction, pg->test(PG_workingset), pg->memcg_id);
}

// workingset_refault: pg (not yet on an LRU list) is the page read back.
void Kernel::workingset_refault(page* pg, std::uint64_t shadow) {
  if (!(shadow & 1)) return;  // not a shadow value
  int nid = 0;
  std::uint64_t eviction = 0;
  bool workingset = false;
  std::uint32_t memcgid = 0;
  unpack_shadow(shadow, nid, eviction, workingset, &memcgid);
  if (nid >= pm_.nr_node_ids()) return;
  if (memcgid >= memcgs_->by_id.size()) memcgid = kRootMemcgId;
  const bool file = page_is_file_lru(pg);
  const lruvec& evict_lv = mem_cgroup_lruvec(pm_.NODE_DATA(NodeId(nid)), memcgid);  // the eviction cgroup's
  const std::uint64_t refault = evict_lv.nonresident_age;
  const std::uint64_t refault_distance = (refault - eviction) & kEvictionMask;
  const NodeId here = pm_.page_to_nid(pg);
  lruvec& lv = page_lruvec(pm_, pg);
  pm_.mod_node_page_state(here, file ? WORKINGSET_REFAULT_FILE : WORKINGSET_REFAULT_ANON, 1);
  count_memcg_events(pg->memcg_id, file ? MEMCG_WORKINGSET_REFAULT_FILE : MEMCG_WORKINGSET_REFAULT_ANON);
  std::uint64_t workingset_size = evict_lv.nr_pages[LRU_ACTIVE_FILE];
  if (!file) workingset_size += evict_lv.nr_pages[LRU_INACTIVE_FILE];
  if (nr_swap_pages() > 0) {
    workingset_size += evict_lv.nr_pages[LRU_ACTIVE_ANON];
    if (file) workingset_size += evict_lv.nr_pages[LRU_INACTIVE_ANON];
  }
  if (refault_distance > workingset_size) return;
  pg->set(PG_active);
  lv.nonresident_age += 1;
  pm_.mod_node_page_state(here, file ? WORKINGSET_ACTIVATE_FILE : WORKINGSET_ACTIVATE_ANON, 1);
  count_memcg_events(pg->memcg_id, file ? MEMCG_WORKINGSET_ACTIVATE_FILE : MEMCG_WORKINGSET_ACTIVATE_ANON);
  if (workingset) {
    pg->set(PG_workingset);
    lru_note_cost(lv, file, 1);  // lru_note_cost_refault
    pm_.mod_node_page_state(here, file ? WORKINGSET_RESTORE_FILE : WORKINGSET_RESTORE_ANON, 1);
    count_memcg_events(pg->memcg_id, file ? MEMCG_WORKINGSET_RESTORE_FILE : MEMCG_WORKINGSET_RESTORE_ANON);
  }
}

}  // namespace numasim::os
