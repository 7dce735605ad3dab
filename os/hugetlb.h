// The hugetlb pools (mm/hugetlb.c): one hstate per huge page size, 2 MiB
// (order 9, PMD leaves) and 1 GiB (order 18, PUD leaves, "gigantic"), each with
// per-node free lists and the counters Linux keeps (nr_huge_pages[_node],
// free_huge_pages[_node], surplus_huge_pages[_node], resv_huge_pages,
// nr_overcommit_huge_pages). Pages are allocated at boot per node like
// hugepagesz=/hugepages= on the command line, and at run time through the sysfs
// nr_hugepages semantics (set_max_huge_pages: grow node-locally from the
// buddy, shrink by freeing free pages, convert in-use excess to surplus).
// Reservations are taken at mmap time (hugetlb_reserve_pages ->
// hugetlb_acct_memory, which gathers surplus pages when the pool is short and
// nr_overcommit_hugepages allows) so that faults on a MAP_HUGETLB mapping
// cannot run out; dequeue goes in node-distance order from the policy's
// preferred node within its nodemask (dequeue_hugetlb_folio_nodemask); a fault
// that finds no free page may allocate a surplus page from the buddy
// (alloc_surplus_huge_folio). A freed page on a node with surplus pages goes
// back to the buddy (free_huge_folio).
// Simplified: reservations are a count per hstate, not per-mapping resv_maps: a
// mapping holds one reservation for each of its huge pages that is not faulted
// in; gigantic (1 GiB) pages are never allocated as surplus (as Linux: no
// overcommit for gigantic hstates; they become surplus only when the pool is
// shrunk below the pages in use) and are assembled from 256 naturally aligned, physically
// contiguous MAX_ORDER-1 buddy blocks of one zone (alloc_contig_pages' effect,
// found by allocating blocks until a 1 GiB-aligned window is complete and
// returning the rest; each block's head carries PG_hugetlb, the pool knows the
// first as the page); no demote, no vmemmap optimisation, no CMA.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/mm_types.h"
#include "os/mmzone.h"
#include "os/pgtable.h"

namespace numasim::os {

class PhysMem;
struct page;

inline constexpr unsigned HUGETLB_PAGE_ORDER = 9;  // 2 MiB
inline constexpr std::uint64_t HPAGE_SIZE = 1ull << (kPageShift + HUGETLB_PAGE_ORDER);
inline constexpr unsigned HUGETLB_GIGANTIC_ORDER = 18;  // 1 GiB (PUD_SHIFT - PAGE_SHIFT)
inline constexpr std::uint64_t HPAGE_GIGANTIC_SIZE = 1ull << (kPageShift + HUGETLB_GIGANTIC_ORDER);

// hstates[]: index 0 is the default hstate (2 MiB), 1 is the 1 GiB one.
inline constexpr int HSTATE_2M = 0, HSTATE_1G = 1, HUGE_MAX_HSTATE = 2;
inline constexpr unsigned hstate_order(int h) { return h == HSTATE_1G ? HUGETLB_GIGANTIC_ORDER : HUGETLB_PAGE_ORDER; }
inline constexpr std::uint64_t hstate_size(int h) { return 1ull << (kPageShift + hstate_order(h)); }
// hstate_sizelog: the hstate of a MAP_HUGE_SHIFT log2 size (0: default), -1 if none.
inline constexpr int hstate_sizelog(int log) { return log == 0 || log == 21 ? HSTATE_2M : (log == 30 ? HSTATE_1G : -1); }
// hstate_vma / huge_page_size / the page-table level of its leaves (PMD or PUD).
inline int hstate_vma(const vm_area_struct& v) { return v.vm_hugetlb_hstate; }
inline std::uint64_t vma_hpage_size(const vm_area_struct& v) { return hstate_size(hstate_vma(v)); }
inline int vma_hpage_level(const vm_area_struct& v) { return hstate_vma(v) == HSTATE_1G ? PUD_LEVEL : PMD_LEVEL; }

// struct hstate: one pool of huge pages of one size.
struct hstate {
  unsigned order = HUGETLB_PAGE_ORDER;
  std::uint64_t nr_huge_pages = 0, free_huge_pages = 0, resv_huge_pages = 0, surplus_huge_pages = 0;
  std::uint64_t nr_overcommit_huge_pages = 0;
  std::vector<std::uint64_t> nr_huge_pages_node, surplus_huge_pages_node;
  std::vector<std::vector<page*>> hugepage_freelists;  // LIFO per node
  bool gigantic() const { return order > HUGETLB_PAGE_ORDER; }
  std::uint64_t size() const { return 1ull << (kPageShift + order); }
  std::uint64_t persistent() const { return nr_huge_pages - surplus_huge_pages; }  // persistent_huge_pages
};

struct HugetlbParams {
  // Boot pools per hstate and node ([os.hugetlb] nr_hugepages, nr_hugepages_1g).
  std::array<std::vector<std::uint64_t>, HUGE_MAX_HSTATE> nr_hugepages_node;
  std::uint64_t nr_overcommit_hugepages = 0;  // 2 MiB hstate (vm.nr_overcommit_hugepages)
  // hugepagesz=1G given: the 1 GiB hstate exists (also when a 1 GiB count is given).
  // Without it mmap(MAP_HUGE_1GB) is EINVAL, as on a kernel without gigantic pages.
  bool hugepagesz_1g = false;
};

class HugetlbPool {
 public:
  // Allocates params.nr_hugepages_node[h][n] huge pages of hstate h on node n
  // from the buddy (__GFP_THISNODE); a node that cannot supply them all gets
  // fewer, as Linux does. `fallback_order[n]` lists every node by distance from n.
  HugetlbPool(PhysMem& pm, const HugetlbParams& params, std::vector<std::vector<int>> fallback_order, CpuId boot_cpu);
  // 2 MiB pool only (nr_hugepages per node), no overcommit.
  HugetlbPool(PhysMem& pm, const std::vector<std::uint64_t>& nr_hugepages, std::vector<std::vector<int>> fallback_order,
              CpuId boot_cpu);
  ~HugetlbPool();
  HugetlbPool(const HugetlbPool&) = delete;
  HugetlbPool& operator=(const HugetlbPool&) = delete;

  // hugetlb_acct_memory(h, +n): fails (false, nothing changed) when free pages
  // minus reservations are fewer than n and surplus pages cannot make up the
  // difference (gather_surplus_pages within nr_overcommit_hugepages).
  bool reserve(std::uint64_t n, int h = HSTATE_2M);
  // hugetlb_acct_memory(h, -n) + return_unused_surplus_pages.
  void unreserve(std::uint64_t n, int h = HSTATE_2M);
  // Dequeue a free huge page, nearest first from `preferred` among `allowed`
  // nodes (null: any); consumes one reservation when `use_reserve`. nullptr if none.
  page* dequeue(int preferred, const nodemask_t* allowed, bool use_reserve, int h = HSTATE_2M);
  // alloc_hugetlb_folio: dequeue, else (no reservation to use) a surplus page
  // from the buddy on the policy's nodes when nr_overcommit_hugepages allows.
  page* alloc_huge_page(int h, int preferred, const nodemask_t* allowed, bool use_reserve, CpuId cpu,
                        KernelCost& cost);
  // free_huge_folio: back on its node's free list (the reservation is not
  // restored), or to the buddy when its node has surplus pages.
  void enqueue(page* head);

  // set_max_huge_pages (sysfs nr_hugepages, per node with nid >= 0 or the whole
  // pool with nid < 0): returns 0, or -EINVAL for a bad hstate/node.
  // Growing may stop short when the buddy has no more (as Linux).
  long set_nr_hugepages(int h, int nid, std::uint64_t count, CpuId cpu, KernelCost& cost);
  // nr_overcommit_hugepages: -EINVAL for the gigantic hstate.
  long set_nr_overcommit_hugepages(int h, std::uint64_t count);

  const hstate& hs(int h) const { return hstates_[static_cast<std::size_t>(h)]; }
  // size_to_hstate finds it: the 2 MiB hstate always, the 1 GiB one with hugepagesz=1G.
  bool hstate_exists(int h) const { return h == HSTATE_2M || (h == HSTATE_1G && gigantic_); }
  // Default-hstate (2 MiB) figures, or of hstate h.
  std::uint64_t nr_huge_pages(int h = HSTATE_2M) const { return hs(h).nr_huge_pages; }
  std::uint64_t free_huge_pages(int h = HSTATE_2M) const { return hs(h).free_huge_pages; }
  std::uint64_t resv_huge_pages(int h = HSTATE_2M) const { return hs(h).resv_huge_pages; }
  std::uint64_t surplus_huge_pages(int h = HSTATE_2M) const { return hs(h).surplus_huge_pages; }
  std::uint64_t nr_huge_pages_node(int nid, int h = HSTATE_2M) const { return hs(h).nr_huge_pages_node[nid]; }
  std::uint64_t free_huge_pages_node(int nid, int h = HSTATE_2M) const { return hs(h).hugepage_freelists[nid].size(); }
  std::uint64_t surplus_huge_pages_node(int nid, int h = HSTATE_2M) const {
    return hs(h).surplus_huge_pages_node[nid];
  }
  // hugetlb_total_pages: base pages held by every pool.
  std::uint64_t total_base_pages() const;
  bool is_pool_page(const page* head) const { return pages_.count(head) != 0; }
  // The hstate of a pool page (-1: not a pool page).
  int page_hstate(const page* head) const;

 private:
  // alloc_fresh_hugetlb_folio on exactly node nid (no fallback); nullptr if the buddy has none.
  page* alloc_fresh(int h, int nid, CpuId cpu, KernelCost& cost);
  page* alloc_gigantic(int nid, CpuId cpu, KernelCost& cost);
  void prep_new_huge_page(page* pg, int h, bool surplus);
  // update_and_free_hugetlb_folio: back to the buddy.
  void free_to_buddy(page* head, int h, CpuId cpu, KernelCost& cost);
  // Take a free page of node nid off its list (nullptr if none).
  page* take_free(int h, int nid);
  // adjust_pool_surplus on nid (delta -1: a surplus page becomes persistent; +1: the reverse).
  bool adjust_pool_surplus(int h, int nid, int delta);

  PhysMem& pm_;
  std::vector<std::vector<int>> fallback_;
  std::array<hstate, HUGE_MAX_HSTATE> hstates_;
  std::map<const page*, int> pages_;  // every pool page (persistent or surplus) -> hstate
  CpuId boot_cpu_;
  bool gigantic_ = false;  // the 1 GiB hstate exists
};

}  // namespace numasim::os
