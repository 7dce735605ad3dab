// Bring-up of physical memory (mm/mm_init.c, mm/page_alloc.c boot paths):
// node and zone layout from the node ranges (free_area_init), zonelists by node
// distance (build_zonelists / find_next_best_node), min_free_kbytes and the
// watermarks (calculate_min_free_kbytes, __setup_per_zone_wmarks),
// lowmem_reserve (setup_per_zone_lowmem_reserve), per-cpu list sizes
// (zone_batchsize, zone_highsize) and handing all memory to the buddy
// (memblock_free_all) in the largest aligned blocks.
// Simplified: no memory is reserved for the kernel image or the memmap itself
// (managed == present), every pageblock starts MIGRATE_MOVABLE as Linux does
// at boot, and khugepaged's raise of min_free_kbytes is not modelled.
// Big machines (CONFIG_DEFERRED_STRUCT_PAGE_INIT and SPARSEMEM_VMEMMAP, what a
// 1 TiB machine needs): the memmap is one MAP_NORESERVE mapping, so a
// descriptor costs host memory only once written (as Linux populates the
// vmemmap section by section), and each zone's aligned run of top-order blocks
// is handed to the buddy as a range (zone::lazy_free_pfn..lazy_free_end) whose
// blocks get their descriptor written when the allocator first takes one
// (free_list_head), in the PFN order memblock_free_all queues them. Linux
// initialises only the start of each node at boot and the rest in the
// deferred_init_memmap threads, or on demand in deferred_grow_zone when an
// allocation finds a zone short before they finish. Here the deferred blocks
// count as free from the start (NR_FREE_PAGES, free_area[].nr_free, MemFree,
// buddyinfo, zoneinfo), which is what Linux reports once page_alloc_init_late
// has finished; so the slow path needs no deferred_grow_zone and no counter
// changes meaning. Left out: the host-time and simulated cost of
// initialising descriptors (Linux spends it in its boot threads).
#include <sys/mman.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <stdexcept>
#include <string>

#include "os/page_alloc.h"

namespace numasim::os {
namespace {

constexpr std::uint64_t kDmaEndPfn = (16ull << 20) >> kPageShift;   // 16 MiB
constexpr std::uint64_t kDma32EndPfn = (4ull << 30) >> kPageShift;  // 4 GiB
constexpr std::uint64_t kSwapClusterMax = 32;

std::string fmt_node(int id) { return "node " + std::to_string(id); }

std::uint64_t int_sqrt(std::uint64_t x) {
  auto r = static_cast<std::uint64_t>(std::sqrt(static_cast<long double>(x)));
  while (r * r > x) --r;
  while ((r + 1) * (r + 1) <= x) ++r;
  return r;
}

std::uint64_t rounddown_pow_of_two(std::uint64_t x) { return x ? std::bit_floor(x) : 0; }

// mult_frac(x, n, d) without overflow of x * n.
std::uint64_t mult_frac(std::uint64_t x, std::uint64_t n, std::uint64_t d) { return (x / d) * n + ((x % d) * n) / d; }

}  // namespace

PhysMem::PhysMem(const Topology& topo, const PhysMemParams& params, Platform& platform)
    : PhysMem(
          [&] {
            std::vector<NodeLayout> v;
            for (const NodeDesc& n : topo.nodes()) v.push_back({n.id, n.base, n.memory, n.cpus});
            return v;
          }(),
          [&] {
            std::vector<std::vector<int>> d(topo.num_nodes(), std::vector<int>(topo.num_nodes()));
            for (int a = 0; a < topo.num_nodes(); ++a)
              for (int b = 0; b < topo.num_nodes(); ++b) d[a][b] = topo.distance(NodeId(a), NodeId(b));
            return d;
          }(),
          params, platform) {}

PhysMem::PhysMem(std::vector<NodeLayout> nodes, std::vector<std::vector<int>> distances, const PhysMemParams& params,
                 Platform& platform)
    : params_(params), platform_(platform), distance_(std::move(distances)) {
  fail_page_alloc_.configure(params.fail_page_alloc);
  init_nodes(std::move(nodes));
  build_zonelists();
  setup_per_zone_wmarks();
  setup_per_zone_lowmem_reserve();
  calculate_totalreserve_pages();
  setup_pcp();
  for (auto& n : nodes_)
    for (zone& z : n->node_zones)
      if (z.populated()) free_zone_memory(z);
}

PhysMem::~PhysMem() {
  if (mem_map_) munmap(mem_map_, mem_map_bytes_);
}

// free_area_init + free_area_init_node + zone sizing: validates the layout and
// creates nodes, zones and the (lazily zero-filled) memmap.
void PhysMem::init_nodes(std::vector<NodeLayout> layout) {
  if (layout.empty()) throw std::invalid_argument("PhysMem: the machine has no memory node");
  if (layout.size() > static_cast<std::size_t>(MAX_NUMNODES))
    throw std::invalid_argument("PhysMem: " + std::to_string(layout.size()) + " nodes, at most " +
                                std::to_string(MAX_NUMNODES) + " supported");
  std::sort(layout.begin(), layout.end(), [](const NodeLayout& a, const NodeLayout& b) { return a.id < b.id; });
  const int nr = static_cast<int>(layout.size());
  for (int i = 0; i < nr; ++i) {
    if (layout[i].id.value() != i)
      throw std::invalid_argument("PhysMem: node ids must be 0.." + std::to_string(nr - 1) + ", got " +
                                  std::to_string(layout[i].id.value()));
  }
  if (distance_.size() != static_cast<std::size_t>(nr))
    throw std::invalid_argument("PhysMem: distance matrix has " + std::to_string(distance_.size()) + " rows for " +
                                std::to_string(nr) + " nodes");
  for (int a = 0; a < nr; ++a) {
    if (distance_[a].size() != static_cast<std::size_t>(nr))
      throw std::invalid_argument("PhysMem: distance row " + std::to_string(a) + " has " +
                                  std::to_string(distance_[a].size()) + " entries, expected " + std::to_string(nr));
    for (int b = 0; b < nr; ++b)
      if (distance_[a][b] <= 0 || distance_[a][b] > 255)
        throw std::invalid_argument("PhysMem: distance " + std::to_string(a) + "->" + std::to_string(b) + " is " +
                                    std::to_string(distance_[a][b]) + ", expected 1..255");
  }

  // Node ranges in pageblocks; CPUs.
  std::uint64_t max_pfn = 0;
  int max_cpu = -1;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges(nr);
  for (int i = 0; i < nr; ++i) {
    const NodeLayout& n = layout[i];
    std::uint64_t start = (n.base >> kPageShift);
    if (start % pageblock_nr_pages != 0)
      throw std::invalid_argument("PhysMem: " + fmt_node(i) + " base 0x" + std::to_string(n.base) +
                                  " is not aligned to a 2 MiB pageblock");
    std::uint64_t pages = (n.memory.value() >> kPageShift) & ~(pageblock_nr_pages - 1);
    if (pages == 0)
      throw std::invalid_argument("PhysMem: " + fmt_node(i) + " has " + std::to_string(n.memory.value()) +
                                  " bytes of memory, at least one 2 MiB pageblock is needed");
    ranges[i] = {start, start + pages};
    max_pfn = std::max(max_pfn, start + pages);
    for (CpuId c : n.cpus) {
      if (c.value() < 0 || c.value() >= kMaxCpus)
        throw std::invalid_argument("PhysMem: " + fmt_node(i) + " lists CPU " + std::to_string(c.value()) +
                                    ", expected 0.." + std::to_string(kMaxCpus - 1));
      max_cpu = std::max(max_cpu, c.value());
    }
  }
  for (int a = 0; a < nr; ++a)
    for (int b = a + 1; b < nr; ++b)
      if (ranges[a].first < ranges[b].second && ranges[b].first < ranges[a].second)
        throw std::invalid_argument("PhysMem: memory of " + fmt_node(a) + " overlaps " + fmt_node(b));
  if (max_pfn >= kNoPfn32)
    throw std::invalid_argument("PhysMem: physical memory ends above 16 TiB, beyond 32-bit frame links");
  if (max_cpu < 0) throw std::invalid_argument("PhysMem: no node has a CPU");

  cpu_to_node_.assign(static_cast<std::size_t>(max_cpu) + 1, NodeId(-1));
  for (int i = 0; i < nr; ++i)
    for (CpuId c : layout[i].cpus) {
      if (cpu_to_node_[c.value()].value() != -1)
        throw std::invalid_argument("PhysMem: CPU " + std::to_string(c.value()) + " is listed on two nodes");
      cpu_to_node_[c.value()] = NodeId(i);
    }
  for (std::size_t c = 0; c < cpu_to_node_.size(); ++c)
    if (cpu_to_node_[c].value() == -1)
      throw std::invalid_argument("PhysMem: CPU ids must be dense; CPU " + std::to_string(c) + " is on no node");
  vm_events_.assign(cpu_to_node_.size() + 1, VmEvents{});

  // FLATMEM memmap: anonymous mapping, zero-filled on first touch.
  max_pfn_ = max_pfn;
  mem_map_bytes_ = static_cast<std::size_t>(max_pfn) * sizeof(page);
  void* p = mmap(nullptr, mem_map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("PhysMem: cannot map the page descriptor array");
#ifdef MADV_HUGEPAGE
  // Host huge pages for the memmap (advice only; models nothing): descriptors
  // are written in PFN runs (a THP's 512 in prep_compound_page, the buddy's
  // blocks in order), so a 4 KiB host page would cost a host page fault per 85
  // descriptors; a 2 MiB one covers 43 690 frames (170 MiB of simulated memory).
  if (mem_map_bytes_ >= (std::size_t{2} << 20)) madvise(p, mem_map_bytes_, MADV_HUGEPAGE);
#endif
  mem_map_ = static_cast<page*>(p);
  pageblocks_.assign(max_pfn >> pageblock_order, PageblockInfo{0xff, 0, MIGRATE_MOVABLE, 0});

  for (int i = 0; i < nr; ++i) {
    auto nd = std::make_unique<pglist_data>();
    nd->node_id = i;
    nd->node_start_pfn = ranges[i].first;
    nd->node_spanned_pages = ranges[i].second - ranges[i].first;
    nd->node_present_pages = nd->node_spanned_pages;
    nd->cpus = layout[i].cpus;
    if (!nd->cpus.empty()) node_set(i, n_cpu_);
    node_set(i, n_memory_);
    const std::uint64_t s = ranges[i].first, e = ranges[i].second;
    const bool movable = params_.movable_zone && nd->cpus.empty();
    const std::uint64_t lo[MAX_NR_ZONES] = {0, kDmaEndPfn, kDma32EndPfn, kDma32EndPfn};
    const std::uint64_t hi[MAX_NR_ZONES] = {kDmaEndPfn, kDma32EndPfn, UINT64_MAX, UINT64_MAX};
    for (int t = 0; t < MAX_NR_ZONES; ++t) {
      zone& z = nd->node_zones[t];
      z.idx = static_cast<zone_type>(t);
      z.name = zone_name(z.idx);
      z.zone_pgdat = nd.get();
      z.per_cpu_pageset.assign(cpu_to_node_.size(), per_cpu_pages{});
      // With movable_zone, a CPU-less node's memory above 4 GiB is ZONE_MOVABLE
      // instead of ZONE_NORMAL (as memory onlined with online_movable).
      bool used = (t == ZONE_NORMAL && !movable) || (t == ZONE_MOVABLE && movable) || t < ZONE_NORMAL;
      std::uint64_t zs = std::max(s, lo[t]), ze = std::min(e, hi[t]);
      if (!used || zs >= ze) {
        z.zone_start_pfn = std::clamp(s, lo[t], hi[t] == UINT64_MAX ? e : hi[t]);
        continue;
      }
      z.zone_start_pfn = zs;
      z.spanned_pages = z.present_pages = z.managed_pages = ze - zs;
      for (std::uint64_t pb = zs >> pageblock_order; pb < (ze >> pageblock_order); ++pb)
        pageblocks_[pb] = PageblockInfo{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(t), MIGRATE_MOVABLE, 0};
    }
    nodes_.push_back(std::move(nd));
  }

  // policy_zone: the highest zone below ZONE_MOVABLE that has memory anywhere.
  policy_zone_ = ZONE_DMA;
  for (auto& n : nodes_)
    for (int t = ZONE_DMA; t < ZONE_MOVABLE; ++t)
      if (n->node_zones[t].populated() && t > policy_zone_) policy_zone_ = static_cast<zone_type>(t);
}

// find_next_best_node + build_zonelists: the node order of a zonelist prefers the
// nearest node, penalises lower ids ("prefer the next node") and nodes with CPUs
// by one, and spreads equal choices by node_load, exactly as Linux does.
std::vector<int> PhysMem::node_order(NodeId nid) const {
  // node_load evolves over the whole build; replay it up to `nid`.
  const int nr = nr_node_ids();
  std::vector<int> node_load(nr, 0);
  std::vector<int> order;
  for (int local = 0; local <= nid.value(); ++local) {
    order.clear();
    nodemask_t used{};
    int prev = local;
    for (;;) {
      int best = NUMA_NO_NODE;
      if (!node_isset(local, used)) {
        best = local;
      } else {
        long min_val = LONG_MAX;
        for (int n = first_node(n_memory_); n < MAX_NUMNODES; n = next_node(n, n_memory_)) {
          if (node_isset(n, used)) continue;
          long val = distance_[local][n];
          val += (n < local);
          if (!nodes_[n]->cpus.empty()) val += 1;  // PENALTY_FOR_NODE_WITH_CPUS
          val *= MAX_NUMNODES;
          val += node_load[n];
          if (val < min_val) {
            min_val = val;
            best = n;
          }
        }
      }
      if (best == NUMA_NO_NODE) break;
      node_set(best, used);
      if (distance_[local][best] != distance_[local][prev]) node_load[best] += 1;
      order.push_back(best);
      prev = best;
    }
  }
  return order;
}

// build_zonelists_in_node_order + build_thisnode_zonelists: zones of each node
// highest first, populated zones only.
void PhysMem::build_zonelists() {
  for (auto& nd : nodes_) {
    auto add_node = [&](zonelist& zl, int n) {
      for (int t = MAX_NR_ZONES - 1; t >= 0; --t) {
        zone& z = nodes_[n]->node_zones[t];
        if (z.populated()) zl._zonerefs.push_back({&z, t, n});
      }
    };
    zonelist& fb = nd->node_zonelists[ZONELIST_FALLBACK];
    fb._zonerefs.clear();
    for (int n : node_order(NodeId(nd->node_id))) add_node(fb, n);
    zonelist& tn = nd->node_zonelists[ZONELIST_NOFALLBACK];
    tn._zonerefs.clear();
    add_node(tn, nd->node_id);
  }
}

// calculate_min_free_kbytes + __setup_per_zone_wmarks.
void PhysMem::setup_per_zone_wmarks() {
  // nr_free_buffer_pages(): managed pages of zones usable by GFP_USER (<= Normal),
  // all high watermarks still being 0 at this point of boot.
  std::uint64_t buffer_pages = 0;
  for (auto& n : nodes_)
    for (int t = 0; t <= ZONE_NORMAL; ++t) buffer_pages += n->node_zones[t].managed_pages;
  if (params_.min_free_kbytes != 0) {
    min_free_kbytes_ = params_.min_free_kbytes;
  } else {
    std::uint64_t lowmem_kbytes = buffer_pages * (kPageSize >> 10);
    min_free_kbytes_ = std::clamp<std::uint64_t>(int_sqrt(lowmem_kbytes * 16), 128, 262144);
  }

  const std::uint64_t pages_min = min_free_kbytes_ >> (kPageShift - 10);
  std::uint64_t lowmem_pages = 0;
  for (auto& n : nodes_)
    for (zone& z : n->node_zones)
      if (z.idx != ZONE_MOVABLE) lowmem_pages += z.managed_pages;
  for (auto& n : nodes_) {
    for (zone& z : n->node_zones) {
      std::uint64_t tmp = lowmem_pages ? pages_min * z.managed_pages / lowmem_pages : 0;
      if (z.idx == ZONE_MOVABLE) {
        // Movable zones need no reserve for __GFP_HIGH: a small capped minimum.
        z._watermark[WMARK_MIN] = std::clamp<std::uint64_t>(z.managed_pages / 1024, kSwapClusterMax, 128);
      } else {
        z._watermark[WMARK_MIN] = tmp;
      }
      tmp = std::max<std::uint64_t>(tmp >> 2, mult_frac(z.managed_pages, params_.watermark_scale_factor, 10000));
      z._watermark[WMARK_LOW] = z._watermark[WMARK_MIN] + tmp;
      z._watermark[WMARK_HIGH] = z._watermark[WMARK_LOW] + tmp;
      z._watermark[WMARK_PROMO] = z._watermark[WMARK_HIGH] + tmp;
      if (!z.populated()) z._watermark = {};
    }
  }
}

// setup_per_zone_lowmem_reserve with sysctl_lowmem_reserve_ratio = {256, 256, 32, 0}.
void PhysMem::setup_per_zone_lowmem_reserve() {
  static constexpr int kRatio[MAX_NR_ZONES] = {256, 256, 32, 0};
  for (auto& n : nodes_) {
    for (int i = 0; i < MAX_NR_ZONES - 1; ++i) {
      zone& z = n->node_zones[i];
      const bool clear = kRatio[i] == 0 || z.managed_pages == 0;
      std::uint64_t upper = 0;
      for (int j = i + 1; j < MAX_NR_ZONES; ++j) {
        upper += n->node_zones[j].managed_pages;
        z.lowmem_reserve[j] = clear ? 0 : static_cast<long>(upper / kRatio[i]);
      }
    }
  }
}

// calculate_totalreserve_pages: what MemAvailable keeps back.
void PhysMem::calculate_totalreserve_pages() {
  std::uint64_t total = 0;
  for (auto& n : nodes_)
    for (zone& z : n->node_zones) {
      long max = 0;
      for (long r : z.lowmem_reserve) max = std::max(max, r);
      std::uint64_t v = static_cast<std::uint64_t>(max) + z._watermark[WMARK_HIGH];
      total += std::min(v, z.managed_pages);
    }
  totalreserve_pages_ = total;
}

// zone_batchsize + zone_highsize (percpu_pagelist_high_fraction = 0): batch is
// ~0.1% of the zone capped at 1 MiB, clamped to 2^n - 1; high is the low
// watermark split over the node's CPUs (all CPUs for a CPU-less node), at
// least 4 batches.
void PhysMem::setup_pcp() {
  for (auto& n : nodes_) {
    for (zone& z : n->node_zones) {
      std::uint64_t batch = std::min<std::uint64_t>(z.managed_pages >> 10, (1u << 20) / kPageSize) / 4;
      if (batch < 1) batch = 1;
      batch = rounddown_pow_of_two(batch + batch / 2) - 1;
      int b = std::max<int>(1, static_cast<int>(batch));
      if (params_.pcp_batch) b = static_cast<int>(params_.pcp_batch);
      int split = static_cast<int>(n->cpus.size());
      if (split == 0) split = nr_cpu_ids();
      int high = static_cast<int>(low_wmark_pages(z) / static_cast<unsigned long>(split));
      high = std::max(high, b << 2);
      if (params_.pcp_high) high = static_cast<int>(params_.pcp_high);
      for (per_cpu_pages& pcp : z.per_cpu_pageset) {
        pcp.high = high;
        pcp.batch = b;
      }
    }
  }
}

// memblock_free_all / __free_pages_memory: hands the zone to the buddy in the
// largest naturally aligned blocks, queued in PFN order. The aligned run of
// top-order blocks is only recorded (zone::lazy_free_pfn), so bring-up writes
// no descriptor of it; the unaligned edges are written normally.
void PhysMem::free_zone_memory(zone& z) {
  std::uint64_t pfn = z.zone_start_pfn;
  const std::uint64_t end = z.zone_end_pfn();
  const std::uint64_t top = 1ull << (MAX_ORDER - 1);
  // The aligned run of top-order blocks stays lazy (see zone::lazy_free_pfn).
  const std::uint64_t lazy_start = (pfn + top - 1) & ~(top - 1);
  const std::uint64_t lazy_end = end & ~(top - 1);
  while (pfn < end) {
    if (pfn == lazy_start && lazy_start < lazy_end) {
      z.lazy_free_pfn = lazy_start;
      z.lazy_free_end = lazy_end;
      const std::uint64_t blocks = (lazy_end - lazy_start) >> (MAX_ORDER - 1);
      z.free_area[MAX_ORDER - 1].nr_free += blocks;
      z.free_area[MAX_ORDER - 1].nr_free_mt[MIGRATE_MOVABLE] += blocks;
      pfn = lazy_end;
      continue;
    }
    unsigned order = MAX_ORDER - 1;
    while (order > 0 && ((pfn & ((1ull << order) - 1)) != 0 || pfn + (1ull << order) > end)) --order;
    page* pg = mem_map_ + pfn;
    const auto mt = static_cast<migratetype>(pageblocks_[pfn >> pageblock_order].mt);
    add_to_free_list(pg, z, order, mt, true);  // FPI_TO_TAIL: PFN order
    pfn += 1ull << order;
  }
  z.stats.vm_stat[NR_FREE_PAGES] += static_cast<std::int64_t>(z.managed_pages);
  z.zone_pgdat->nr_free_pages += static_cast<std::int64_t>(z.managed_pages);
  z.zone_pgdat->min_free_pages = z.zone_pgdat->nr_free_pages;  // boot: nothing allocated yet
}

}  // namespace numasim::os
