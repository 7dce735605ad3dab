// The hugetlb pool (mm/hugetlb.c): per-node free lists of pre-allocated 2 MiB
// pages (nr_hugepages per node, set at boot like hugepages= on the command line),
// reservations taken at mmap time (hugetlb_reserve_pages) so that faults on a
// MAP_HUGETLB mapping cannot run out, and dequeue in node-distance order from the
// policy's preferred node within its nodemask (dequeue_hugetlb_folio_nodemask).
// Simplified: one hstate (2 MiB); no surplus pages (nr_overcommit_hugepages = 0);
// reservations are a global count, not per-mapping resv_maps: a mapping holds
// one reservation for each of its huge pages that is not faulted in; no runtime
// resizing of the pool.
#pragma once

#include <cstdint>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"

namespace numasim::os {

class PhysMem;
struct page;

inline constexpr unsigned HUGETLB_PAGE_ORDER = 9;  // 2 MiB
inline constexpr std::uint64_t HPAGE_SIZE = 1ull << (kPageShift + HUGETLB_PAGE_ORDER);

class HugetlbPool {
 public:
  // Allocates nr_hugepages[n] huge pages on node n from the buddy (__GFP_THISNODE);
  // a node that cannot supply them all gets fewer, as Linux does.
  // `fallback_order[n]` lists every node by distance from n (n first).
  HugetlbPool(PhysMem& pm, const std::vector<std::uint64_t>& nr_hugepages, std::vector<std::vector<int>> fallback_order,
              CpuId boot_cpu);
  ~HugetlbPool();
  HugetlbPool(const HugetlbPool&) = delete;
  HugetlbPool& operator=(const HugetlbPool&) = delete;

  // hugetlb_reserve_pages / hugetlb_unreserve_pages. reserve fails (false) when
  // free pages minus existing reservations are fewer than n.
  bool reserve(std::uint64_t n);
  void unreserve(std::uint64_t n);
  // Dequeue a free huge page, nearest first from `preferred` among `allowed`
  // nodes (null: any); consumes one reservation when `use_reserve`. nullptr if none.
  page* dequeue(int preferred, const nodemask_t* allowed, bool use_reserve);
  // free_huge_folio: back on its node's free list (the reservation is not restored).
  void enqueue(page* head);

  std::uint64_t nr_huge_pages() const;
  std::uint64_t free_huge_pages() const;
  std::uint64_t resv_huge_pages() const { return resv_; }
  std::uint64_t nr_huge_pages_node(int nid) const { return total_[nid]; }
  std::uint64_t free_huge_pages_node(int nid) const { return free_[nid].size(); }
  bool is_pool_page(const page* head) const;

 private:
  PhysMem& pm_;
  std::vector<std::vector<int>> fallback_;
  std::vector<std::uint64_t> total_;
  std::vector<std::vector<page*>> free_;  // LIFO per node
  std::vector<page*> all_;                // every pool page, for teardown and checks
  std::uint64_t resv_ = 0;
  CpuId boot_cpu_;
};

}  // namespace numasim::os
