// Hugetlb pool: see hugetlb.h.
#include "os/hugetlb.h"

#include <algorithm>

#include "os/gfp.h"
#include "os/page_alloc.h"

namespace numasim::os {

HugetlbPool::HugetlbPool(PhysMem& pm, const std::vector<std::uint64_t>& nr_hugepages,
                         std::vector<std::vector<int>> fallback_order, CpuId boot_cpu)
    : pm_(pm), fallback_(std::move(fallback_order)), boot_cpu_(boot_cpu) {
  const int nodes = pm.nr_node_ids();
  total_.assign(nodes, 0);
  free_.resize(nodes);
  KernelCost boot;  // boot-time work is not charged to anyone
  for (int nid = 0; nid < nodes && nid < static_cast<int>(nr_hugepages.size()); ++nid) {
    for (std::uint64_t i = 0; i < nr_hugepages[nid]; ++i) {
      // alloc_pool_huge_folio: a compound order-9 page on exactly this node.
      page* pg =
          pm.alloc_pages(boot_cpu, GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_THISNODE | __GFP_NOWARN | __GFP_NORETRY,
                         HUGETLB_PAGE_ORDER, NodeId(nid), nullptr, boot);
      if (!pg) {  // the slow path gave up (no retries, no OOM: __GFP_NORETRY | __GFP_THISNODE)
        pm.count_vm_event(HTLB_BUDDY_PGALLOC_FAIL);
        break;
      }
      pm.count_vm_event(HTLB_BUDDY_PGALLOC);
      pg->set(PG_hugetlb);
      free_[nid].push_back(pg);
      all_.push_back(pg);
      ++total_[nid];
    }
  }
}

HugetlbPool::~HugetlbPool() {
  KernelCost c;
  for (page* pg : all_) {
    pg->clear(PG_hugetlb);
    pm_.free_pages(boot_cpu_, pg, HUGETLB_PAGE_ORDER, c);
  }
}

bool HugetlbPool::reserve(std::uint64_t n) {
  if (free_huge_pages() < resv_ + n) return false;
  resv_ += n;
  return true;
}

void HugetlbPool::unreserve(std::uint64_t n) { resv_ -= std::min(resv_, n); }

page* HugetlbPool::dequeue(int preferred, const nodemask_t* allowed, bool use_reserve) {
  if (!use_reserve && free_huge_pages() <= resv_) return nullptr;  // the rest is promised
  if (preferred < 0 || preferred >= static_cast<int>(fallback_.size())) preferred = 0;
  for (int nid : fallback_[preferred]) {
    if (allowed && !node_isset(nid, *allowed)) continue;
    if (free_[nid].empty()) continue;
    page* pg = free_[nid].back();
    free_[nid].pop_back();
    if (use_reserve && resv_ > 0) --resv_;
    pg->_refcount = 1;
    return pg;
  }
  return nullptr;
}

void HugetlbPool::enqueue(page* head) {
  int nid = pm_.page_to_nid(head).value();
  head->_refcount = 1;  // the pool holds its buddy reference
  head->mapcount = 0;
  free_[nid].push_back(head);
}

std::uint64_t HugetlbPool::nr_huge_pages() const {
  std::uint64_t n = 0;
  for (auto t : total_) n += t;
  return n;
}

std::uint64_t HugetlbPool::free_huge_pages() const {
  std::uint64_t n = 0;
  for (const auto& f : free_) n += f.size();
  return n;
}

bool HugetlbPool::is_pool_page(const page* head) const {
  return std::find(all_.begin(), all_.end(), head) != all_.end();
}

}  // namespace numasim::os
