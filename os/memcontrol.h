// The seam between memory cgroups v2 (mm/memcontrol.c) and the code that
// allocates user-visible pages, so that memcg and the page cache / shmem are
// built separately and meet here. The functions are Kernel members (declared in
// kernel.h under "memcg seam"), implemented in memcontrol.cpp:
//
//   mem_cgroup_charge(pg, mm, gfp, cost)
//       charge a new folio (anonymous fault, THP, page cache, shmem) of
//       lru_nr_pages(pg) pages to the cgroup of `mm`'s owner (the root cgroup
//       when mm is null or the task is in no cgroup); sets pg->memcg_id.
//       0, or -ENOMEM when the cgroup stays over memory.max after its own
//       reclaim and its OOM handling (the caller then frees the page and
//       returns VM_FAULT_OOM / -ENOMEM, nothing changed).
//   mem_cgroup_swapin_charge_folio(pg, mm, gfp, entry, cost)
//       the same for a page read back from swap (charged to the cgroup that
//       owned the swap entry when it is known, as Linux's swap_cgroup).
//   mem_cgroup_uncharge(pg)
//       the page is freed: its charge (and memcg_id) dropped.
//
// The LRU side: page_lruvec(pm, pg) (os/mm_inline.h) is the one place that
// says which lruvec a page is on; callers never name pgdat.__lruvec for a page.
// Until cgroups exist every page is charged to the root (memcg_id 0) and the
// lruvec is the node's.
#pragma once

namespace numasim::os {

// The root cgroup's id (page::memcg_id 0 = root / uncharged).
inline constexpr unsigned kRootMemcgId = 0;

}  // namespace numasim::os
