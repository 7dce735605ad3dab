// Hugetlb pools: see hugetlb.h.
#include "os/hugetlb.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "os/gfp.h"
#include "os/page_alloc.h"

namespace numasim::os {

namespace {
// htlb_alloc_mask + alloc_buddy_hugetlb_folio's bits: never OOM-kill, never warn.
constexpr gfp_t kPoolGfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOWARN | __GFP_NORETRY;
}  // namespace

HugetlbPool::HugetlbPool(PhysMem& pm, const std::vector<std::uint64_t>& nr_hugepages,
                         std::vector<std::vector<int>> fallback_order, CpuId boot_cpu)
    : HugetlbPool(pm, HugetlbParams{{nr_hugepages, {}}, 0}, std::move(fallback_order), boot_cpu) {}

HugetlbPool::HugetlbPool(PhysMem& pm, const HugetlbParams& params, std::vector<std::vector<int>> fallback_order,
                         CpuId boot_cpu)
    : pm_(pm),
      fallback_(std::move(fallback_order)),
      boot_cpu_(boot_cpu),
      gigantic_(params.hugepagesz_1g || !params.nr_hugepages_node[HSTATE_1G].empty()) {
  const int nodes = pm.nr_node_ids();
  for (int h = 0; h < HUGE_MAX_HSTATE; ++h) {
    hstate& hs = hstates_[static_cast<std::size_t>(h)];
    hs.order = hstate_order(h);
    hs.nr_huge_pages_node.assign(nodes, 0);
    hs.surplus_huge_pages_node.assign(nodes, 0);
    hs.hugepage_freelists.resize(nodes);
  }
  hstates_[HSTATE_2M].nr_overcommit_huge_pages = params.nr_overcommit_hugepages;
  KernelCost boot;  // boot-time work is not charged to anyone
  // hugetlb_hstate_alloc_pages, default hstate first (so that a 2 MiB-only
  // configuration allocates exactly as before the 1 GiB hstate existed).
  for (int h = 0; h < HUGE_MAX_HSTATE; ++h) {
    const auto& want = params.nr_hugepages_node[static_cast<std::size_t>(h)];
    for (int nid = 0; nid < nodes && nid < static_cast<int>(want.size()); ++nid) {
      for (std::uint64_t i = 0; i < want[nid]; ++i) {
        page* pg = alloc_fresh(h, nid, boot_cpu, boot);
        if (!pg) break;  // the node could not supply more
        enqueue(pg);
      }
    }
  }
}

HugetlbPool::~HugetlbPool() {
  KernelCost c;
  const std::map<const page*, int> all = pages_;
  for (const auto& [pg, h] : all) free_to_buddy(const_cast<page*>(pg), h, boot_cpu_, c);
}

int HugetlbPool::page_hstate(const page* head) const {
  auto it = pages_.find(head);
  return it == pages_.end() ? -1 : it->second;
}

std::uint64_t HugetlbPool::total_base_pages() const {
  std::uint64_t n = 0;
  for (const hstate& hs : hstates_) n += hs.nr_huge_pages << hs.order;
  return n;
}

// alloc_gigantic_folio (alloc_contig_pages): a naturally aligned 1 GiB range
// of one zone of node nid, built from MAX_ORDER-1 blocks.
page* HugetlbPool::alloc_gigantic(int nid, CpuId cpu, KernelCost& cost) {
  constexpr unsigned kBlock = MAX_ORDER - 1;
  constexpr std::uint64_t kPerPage = 1ull << (HUGETLB_GIGANTIC_ORDER - kBlock);
  // No reclaim, no compaction: only what is free now (alloc_contig_range would
  // migrate). Like alloc_contig_range it takes free pages whatever the
  // watermarks say (__GFP_MEMALLOC: ALLOC_NO_WATERMARKS); what is not kept goes back at once.
  const gfp_t gfp = ((kPoolGfp | __GFP_THISNODE | __GFP_MEMALLOC) & ~__GFP_RECLAIM);
  std::map<std::uint64_t, std::uint64_t> blocks_in_window;
  std::vector<page*> got;
  page* result = nullptr;
  while (!result) {
    page* pg = pm_.alloc_pages(cpu, gfp, kBlock, NodeId(nid), nullptr, cost);
    if (!pg) break;
    got.push_back(pg);
    const std::uint64_t w = pm_.page_to_pfn(pg).value() >> HUGETLB_GIGANTIC_ORDER;
    if (++blocks_in_window[w] < kPerPage) continue;
    page* first = pm_.pfn_to_page(Pfn(w << HUGETLB_GIGANTIC_ORDER));
    page* last = pm_.pfn_to_page(Pfn((w << HUGETLB_GIGANTIC_ORDER) + (1ull << HUGETLB_GIGANTIC_ORDER) - 1));
    if (pm_.page_zone(first) == pm_.page_zone(last)) result = first;
  }
  const std::uint64_t keep = result ? pm_.page_to_pfn(result).value() >> HUGETLB_GIGANTIC_ORDER : ~0ull;
  for (page* pg : got) {
    if ((pm_.page_to_pfn(pg).value() >> HUGETLB_GIGANTIC_ORDER) != keep)
      pm_.free_pages(cpu, pg, kBlock, cost);
    else
      pg->set(PG_hugetlb);  // every block of the gigantic page is hugetlb memory (PageHuge), not movable
  }
  return result;
}

page* HugetlbPool::alloc_fresh(int h, int nid, CpuId cpu, KernelCost& cost) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  page* pg = nullptr;
  if (hs.gigantic()) {
    pg = alloc_gigantic(nid, cpu, cost);  // memblock at boot, alloc_contig_pages later: not counted
  } else {
    // alloc_pool_huge_folio: a compound order-9 page on exactly this node.
    pg = pm_.alloc_pages(cpu, kPoolGfp | __GFP_THISNODE, hs.order, NodeId(nid), nullptr, cost);
    pm_.count_vm_event(pg ? HTLB_BUDDY_PGALLOC : HTLB_BUDDY_PGALLOC_FAIL);
  }
  if (!pg) return nullptr;
  prep_new_huge_page(pg, h, false);
  return pg;
}

// prep_new_hugetlb_folio: a fresh page joins hstate h (as a surplus one when `surplus`).
void HugetlbPool::prep_new_huge_page(page* pg, int h, bool surplus) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  const int nid = pm_.page_to_nid(pg).value();
  pg->set(PG_hugetlb);
  pg->_refcount = 1;
  pg->mapcount = 0;
  pages_[pg] = h;
  ++hs.nr_huge_pages;
  ++hs.nr_huge_pages_node[nid];
  if (surplus) {
    ++hs.surplus_huge_pages;
    ++hs.surplus_huge_pages_node[nid];
  }
}

void HugetlbPool::free_to_buddy(page* head, int h, CpuId cpu, KernelCost& cost) {
  const hstate& hs = hstates_[static_cast<std::size_t>(h)];
  pages_.erase(head);
  head->clear(PG_hugetlb);
  head->_refcount = 1;
  head->mapcount = 0;
  head->owner = 0;
  if (hs.gigantic()) {
    constexpr unsigned kBlock = MAX_ORDER - 1;
    const std::uint64_t pfn = pm_.page_to_pfn(head).value();
    for (std::uint64_t i = 0; i < (1ull << HUGETLB_GIGANTIC_ORDER); i += 1ull << kBlock) {
      page* blk = pm_.pfn_to_page(Pfn(pfn + i));
      blk->clear(PG_hugetlb);
      pm_.free_pages(cpu, blk, kBlock, cost);
    }
  } else {
    pm_.free_pages(cpu, head, hs.order, cost);
  }
}

page* HugetlbPool::take_free(int h, int nid) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  auto& list = hs.hugepage_freelists[nid];
  if (list.empty()) return nullptr;
  page* pg = list.back();
  list.pop_back();
  --hs.free_huge_pages;
  return pg;
}

// gather_surplus_pages + the reservation (hugetlb_acct_memory(h, delta > 0)).
bool HugetlbPool::reserve(std::uint64_t n, int h) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  if (hs.resv_huge_pages + n <= hs.free_huge_pages) {
    hs.resv_huge_pages += n;
    return true;
  }
  const std::uint64_t needed = hs.resv_huge_pages + n - hs.free_huge_pages;
  if (hs.gigantic() || hs.surplus_huge_pages + needed > hs.nr_overcommit_huge_pages) return false;
  std::vector<page*> got;
  KernelCost c;  // charged to no one (as the pool's boot work)
  for (std::uint64_t i = 0; i < needed; ++i) {
    page* pg = nullptr;
    for (int nid : fallback_[0]) {  // alloc_surplus_huge_folio(NUMA_NO_NODE): any node with memory
      pg = pm_.alloc_pages(boot_cpu_, kPoolGfp, hs.order, NodeId(nid), nullptr, c);
      if (pg) break;
    }
    pm_.count_vm_event(pg ? HTLB_BUDDY_PGALLOC : HTLB_BUDDY_PGALLOC_FAIL);
    if (!pg) {
      for (page* p : got) pm_.free_pages(boot_cpu_, p, hs.order, c);
      return false;
    }
    got.push_back(pg);
  }
  for (page* pg : got) {
    prep_new_huge_page(pg, h, true);
    hs.hugepage_freelists[pm_.page_to_nid(pg).value()].push_back(pg);
    ++hs.free_huge_pages;
  }
  hs.resv_huge_pages += n;
  return true;
}

// hugetlb_acct_memory(h, -n) + return_unused_surplus_pages.
void HugetlbPool::unreserve(std::uint64_t n, int h) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  n = std::min(hs.resv_huge_pages, n);
  hs.resv_huge_pages -= n;
  std::uint64_t to_free = std::min(n, hs.surplus_huge_pages);
  KernelCost c;
  for (int nid = 0; to_free > 0 && nid < static_cast<int>(hs.hugepage_freelists.size()); ++nid) {
    while (to_free > 0 && hs.surplus_huge_pages_node[nid] > 0 && hs.free_huge_pages > hs.resv_huge_pages) {
      page* pg = take_free(h, nid);
      if (!pg) break;
      --hs.nr_huge_pages;
      --hs.nr_huge_pages_node[nid];
      --hs.surplus_huge_pages;
      --hs.surplus_huge_pages_node[nid];
      free_to_buddy(pg, h, boot_cpu_, c);
      --to_free;
    }
  }
}

page* HugetlbPool::dequeue(int preferred, const nodemask_t* allowed, bool use_reserve, int h) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  if (!use_reserve && hs.free_huge_pages <= hs.resv_huge_pages) return nullptr;  // the rest is promised
  if (preferred < 0 || preferred >= static_cast<int>(fallback_.size())) preferred = 0;
  for (int nid : fallback_[preferred]) {
    if (allowed && !node_isset(nid, *allowed)) continue;
    page* pg = take_free(h, nid);
    if (!pg) continue;
    if (use_reserve && hs.resv_huge_pages > 0) --hs.resv_huge_pages;
    pg->_refcount = 1;
    return pg;
  }
  return nullptr;
}

page* HugetlbPool::alloc_huge_page(int h, int preferred, const nodemask_t* allowed, bool use_reserve, CpuId cpu,
                                   KernelCost& cost) {
  if (page* pg = dequeue(preferred, allowed, use_reserve, h)) return pg;
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  // alloc_surplus_huge_folio: never for gigantic pages, only within the overcommit.
  if (use_reserve || hs.gigantic() || hs.surplus_huge_pages >= hs.nr_overcommit_huge_pages) return nullptr;
  if (preferred < 0 || preferred >= static_cast<int>(fallback_.size())) preferred = 0;
  page* pg = pm_.alloc_pages(cpu, kPoolGfp, hs.order, NodeId(preferred), allowed, cost);
  pm_.count_vm_event(pg ? HTLB_BUDDY_PGALLOC : HTLB_BUDDY_PGALLOC_FAIL);
  if (!pg) return nullptr;
  prep_new_huge_page(pg, h, true);
  return pg;
}

void HugetlbPool::enqueue(page* head) {
  const int h = page_hstate(head);
  if (h < 0) {
    std::fprintf(stderr, "numasim: hugetlb: freeing a page that is not in a pool (pfn %llu)\n",
                 static_cast<unsigned long long>(pm_.page_to_pfn(head).value()));
    std::abort();
  }
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  const int nid = pm_.page_to_nid(head).value();
  head->_refcount = 1;  // the pool holds its buddy reference
  head->mapcount = 0;
  head->owner = 0;
  if (hs.surplus_huge_pages_node[nid] > 0) {  // free_huge_folio: surplus pages leave the pool
    --hs.nr_huge_pages;
    --hs.nr_huge_pages_node[nid];
    --hs.surplus_huge_pages;
    --hs.surplus_huge_pages_node[nid];
    KernelCost c;
    free_to_buddy(head, h, boot_cpu_, c);
    return;
  }
  hs.hugepage_freelists[nid].push_back(head);
  ++hs.free_huge_pages;
}

bool HugetlbPool::adjust_pool_surplus(int h, int nid, int delta) {
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  const int nodes = static_cast<int>(hs.nr_huge_pages_node.size());
  for (int n = 0; n < nodes; ++n) {
    if (nid >= 0 && n != nid) continue;
    if (delta < 0 && hs.surplus_huge_pages_node[n] == 0) continue;
    if (delta > 0 && hs.surplus_huge_pages_node[n] >= hs.nr_huge_pages_node[n]) continue;
    if (delta < 0) {
      --hs.surplus_huge_pages;
      --hs.surplus_huge_pages_node[n];
    } else {
      ++hs.surplus_huge_pages;
      ++hs.surplus_huge_pages_node[n];
    }
    return true;
  }
  return false;
}

// set_max_huge_pages (mm/hugetlb.c) for one node (nid >= 0) or every node.
long HugetlbPool::set_nr_hugepages(int h, int nid, std::uint64_t count, CpuId cpu, KernelCost& cost) {
  if (h < 0 || h >= HUGE_MAX_HSTATE || !hstate_exists(h)) return -EINVAL;
  hstate& hs = hstates_[static_cast<std::size_t>(h)];
  const int nodes = static_cast<int>(hs.nr_huge_pages_node.size());
  if (nid >= nodes) return -EINVAL;
  if (nid >= 0 && !node_isset(nid, pm_.node_states_memory())) return -EINVAL;
  if (nid >= 0) {  // the node's target as a global one
    const std::uint64_t old = count;
    count += hs.nr_huge_pages - hs.nr_huge_pages_node[nid];
    if (count < old) count = std::numeric_limits<std::uint64_t>::max();
  }
  // Surplus pages in use become persistent first.
  while (hs.surplus_huge_pages && count > hs.persistent())
    if (!adjust_pool_surplus(h, nid, -1)) break;
  // Grow: alloc_pool_huge_folio on the node, or round robin over the nodes with memory.
  int next = 0;
  while (count > hs.persistent()) {
    page* pg = nullptr;
    if (nid >= 0) {
      pg = alloc_fresh(h, nid, cpu, cost);
    } else {
      for (int tries = 0; tries < nodes && !pg; ++tries, next = (next + 1) % nodes)
        if (node_isset(next, pm_.node_states_memory())) pg = alloc_fresh(h, next, cpu, cost);
    }
    if (!pg) break;
    enqueue(pg);
  }
  // Shrink: never below the pages in use plus the reserved ones.
  std::uint64_t min_count = hs.resv_huge_pages + hs.nr_huge_pages - hs.free_huge_pages;
  min_count = std::max(count, min_count);
  while (min_count < hs.persistent()) {  // remove_pool_huge_page(acct_surplus = false)
    page* pg = nullptr;
    for (int n = 0; n < nodes && !pg; ++n) {
      if ((nid >= 0 && n != nid) || hs.nr_huge_pages_node[n] <= hs.surplus_huge_pages_node[n]) continue;
      pg = take_free(h, n);
      if (pg) {
        --hs.nr_huge_pages;
        --hs.nr_huge_pages_node[n];
        free_to_buddy(pg, h, cpu, cost);
      }
    }
    if (!pg) break;
  }
  while (count < hs.persistent())
    if (!adjust_pool_surplus(h, nid, +1)) break;
  return 0;
}

long HugetlbPool::set_nr_overcommit_hugepages(int h, std::uint64_t count) {
  if (h < 0 || h >= HUGE_MAX_HSTATE || hstates_[static_cast<std::size_t>(h)].gigantic()) return -EINVAL;
  hstates_[static_cast<std::size_t>(h)].nr_overcommit_huge_pages = count;
  return 0;
}

}  // namespace numasim::os
