// Swap areas (mm/swapfile.c): configuration, swapon/swapoff, slot allocation by
// clusters, swap_map counts, free_swap_and_cache, /proc/swaps and the
// consistency check of the swap maps (see swapfile.h for what is simplified).
#include "os/swapfile.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/zram.h"

namespace numasim::os {

namespace {
[[noreturn]] void swap_bug(const char* what, std::uint64_t a, std::uint64_t b = 0) {
  std::fprintf(stderr, "numasim: swap invariant broken: %s (%" PRIu64 ", %" PRIu64 ")\n", what, a, b);
  std::abort();
}
constexpr std::uint32_t kNoCluster = ~0u;
}  // namespace

SwapParams SwapParams::from_config(Config os) {
  SwapParams p;
  p.page_cluster = static_cast<unsigned>(
      os.get<int>("page_cluster", 3, "vm.page-cluster: swap readahead of up to 2^N pages", {0, 10}));
  p.vma_ra_enabled =
      os.get<bool>("swap_vma_readahead", true, "VMA-based swap readahead (else page-cluster readahead by slot)");
  p.swap_bio_cycles = static_cast<std::uint64_t>(os.get<std::int64_t>(
      "swap_bio_cycles", 800, "CPU work per swap page read or written", {std::int64_t{0}, std::int64_t{100000000}}));
  int nvme = 0, zram = 0;
  for (Config c : os.tables("swap", "swap areas switched on at boot")) {
    SwapAreaParams a;
    const SourcePos pos = c.position();
    a.origin = pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    const Bytes size = c.require<Bytes>("size", "swap area size, its 4 KiB header included",
                                        {Bytes(2 * 4096), Bytes(kMaxSwapSlots * 4096)});
    a.size_bytes = size.value();
    const std::string dev = c.get_choice("device", "nvme", {"nvme", "zram"}, "swap device: NVMe partition or zram");
    a.device = dev == "zram" ? SwapDevice::Zram : SwapDevice::Nvme;
    if (c.has("priority"))
      a.priority = c.get<int>("priority", 0, "swapon -p priority (absent: -2, -3, ... in order)", {0, 32767});
    const std::string def_name = a.device == SwapDevice::Zram ? "/dev/zram" + std::to_string(zram++)
                                                              : "/dev/nvme0n1p" + std::to_string(++nvme + 1);
    a.name = c.get<std::string>("name", def_name, "the /proc/swaps file name");
    if (a.name.empty() || a.name.find_first_of(" \t\n\\") != std::string::npos)
      c.error("name", "'" + a.name + "' is not a usable swap file name (empty or with blanks)");
    if (a.device == SwapDevice::Zram) {
      a.node = c.get<int>("node", 0, "node whose memory holds the compressed pages", {0, 4095});
      a.compression_ratio =
          c.get<double>("compression_ratio", a.compression_ratio, "uncompressed / compressed size", {1.0, 64.0});
      a.compress_cycles = static_cast<std::uint64_t>(c.get<std::int64_t>(
          "compress_cycles", 12000, "CPU cycles to compress a page", {std::int64_t{0}, std::int64_t{100000000}}));
      a.decompress_cycles = static_cast<std::uint64_t>(c.get<std::int64_t>(
          "decompress_cycles", 3000, "CPU cycles to decompress a page", {std::int64_t{0}, std::int64_t{100000000}}));
    } else {
      for (const char* k : {"node", "compression_ratio", "compress_cycles", "decompress_cycles"})
        if (c.has(k)) c.error(k, std::string("'") + k + "' applies to device = \"zram\" only");
    }
    for (const SwapAreaParams& o : p.areas)
      if (o.name == a.name) c.error("name", "swap area '" + a.name + "' is configured twice");
    p.areas.push_back(std::move(a));
  }
  if (p.areas.size() > MAX_SWAPFILES)
    os.error("swap", "at most " + std::to_string(MAX_SWAPFILES) + " swap areas (MAX_SWAPFILES)");
  return p;
}


bool Swap::valid(swp_entry_t e) const {
  if (non_swap_entry(e)) return false;
  const swap_info_struct* si = info(swp_type(e));
  return si && swp_offset(e) > 0 && swp_offset(e) < si->max;
}

// ---------------------------------------------------------------------------
// Priority order (swap_avail_head): highest priority first; equal priorities
// in round robin (plist_requeue after each allocation).
// ---------------------------------------------------------------------------

void Swap::add_to_avail(unsigned type) {
  if (std::find(avail_.begin(), avail_.end(), type) != avail_.end()) return;
  const int prio = areas_[type]->prio;
  auto it = std::find_if(avail_.begin(), avail_.end(), [&](unsigned t) { return areas_[t]->prio < prio; });
  avail_.insert(it, type);
}

void Swap::del_from_avail(unsigned type) {
  auto it = std::find(avail_.begin(), avail_.end(), type);
  if (it != avail_.end()) avail_.erase(it);
}

// ---------------------------------------------------------------------------
// Clusters (swap_cluster_info, free_clusters list, percpu_cluster).
// ---------------------------------------------------------------------------

namespace {
void cluster_list_del(swap_info_struct& si, std::uint32_t idx) {
  // Doubly linked through `next` and a scan for the predecessor (the list is short-lived).
  if (si.free_head == idx) {
    si.free_head = si.cluster_info[idx].next;
    if (si.free_head == kNoCluster) si.free_tail = kNoCluster;
    return;
  }
  std::uint32_t p = si.free_head;
  while (p != kNoCluster && si.cluster_info[p].next != idx) p = si.cluster_info[p].next;
  if (p == kNoCluster) swap_bug("free cluster not on the free list", si.type, idx);
  si.cluster_info[p].next = si.cluster_info[idx].next;
  if (si.free_tail == idx) si.free_tail = p;
}
void cluster_list_add_tail(swap_info_struct& si, std::uint32_t idx) {
  si.cluster_info[idx].next = kNoCluster;
  if (si.free_tail == kNoCluster)
    si.free_head = idx;
  else
    si.cluster_info[si.free_tail].next = idx;
  si.free_tail = idx;
}
}  // namespace

// inc_cluster_info_page: a slot of the cluster is used (alloc_cluster when it was free).
void Swap::inc_cluster(swap_info_struct& si, std::uint64_t off) {
  const auto idx = static_cast<std::uint32_t>(off / SWAPFILE_CLUSTER);
  swap_cluster_info& ci = si.cluster_info[idx];
  if (ci.free) {
    cluster_list_del(si, idx);
    ci.free = false;
    ci.count = 0;
  }
  ++ci.count;
}

// dec_cluster_info_page: the cluster goes back on the free list with its last slot.
void Swap::dec_cluster(swap_info_struct& si, std::uint64_t off) {
  const auto idx = static_cast<std::uint32_t>(off / SWAPFILE_CLUSTER);
  swap_cluster_info& ci = si.cluster_info[idx];
  if (ci.free || ci.count == 0) swap_bug("cluster count underflow", si.type, off);
  if (--ci.count == 0) {
    ci.free = true;
    cluster_list_add_tail(si, idx);
  }
}

// swap_range_alloc.
void Swap::swap_range_alloc(swap_info_struct& si, std::uint64_t off) {
  if (off == si.lowest_bit) ++si.lowest_bit;
  if (off == si.highest_bit) --si.highest_bit;
  ++si.inuse_pages;
  --nr_swap_pages_;
  if (si.inuse_pages == si.pages) {
    si.lowest_bit = si.max;
    si.highest_bit = 0;
    del_from_avail(si.type);
  }
}

// swap_range_free: the slot is free again (shadow cleared, zram object freed).
void Swap::swap_range_free(swap_info_struct& si, std::uint64_t off) {
  if (off < si.lowest_bit) si.lowest_bit = off;
  if (off > si.highest_bit) {
    const bool was_full = si.inuse_pages == si.pages;
    si.highest_bit = off;
    if (was_full && si.writeok) add_to_avail(si.type);
  }
  --si.inuse_pages;
  if (si.writeok) ++nr_swap_pages_;
  si.cache[off] = 0;  // clear_shadow_from_swap_cache
  if (!si.token.empty()) si.token[off] = 0;
  if (si.zram) {
    KernelCost c;
    si.zram->free_slot(off, k_.ctx_.cpu, c);  // swap_slot_free_notify
  }
  dec_cluster(si, off);
}

// scan_swap_map_slots for one slot: the CPU's cluster (scan_swap_map_try_ssd_cluster),
// a new free cluster, else a linear scan from cluster_next.
std::uint64_t Swap::scan_swap_map_slots(swap_info_struct& si, CpuId cpu) {
  if (si.inuse_pages == si.pages) return 0;
  percpu_cluster& pc = si.percpu[static_cast<std::size_t>(cpu.value())];
  for (;;) {
    if (pc.index == kNoCluster) {
      if (si.free_head == kNoCluster) break;
      pc.index = si.free_head;
      pc.next = std::uint64_t{pc.index} * SWAPFILE_CLUSTER;
    }
    const std::uint64_t end = std::min<std::uint64_t>((std::uint64_t{pc.index} + 1) * SWAPFILE_CLUSTER, si.max);
    std::uint64_t off = pc.next;
    while (off < end && si.swap_map[off]) ++off;
    if (off < end) {
      pc.next = off + 1;
      return off;
    }
    pc.index = kNoCluster;  // exhausted: a new cluster
  }
  // No free cluster: scan the map from cluster_next, wrapping at highest_bit.
  std::uint64_t off = std::max(si.cluster_next, si.lowest_bit);
  for (std::uint64_t n = 0; n < 2 * si.max; ++n, ++off) {
    if (off > si.highest_bit) off = si.lowest_bit;
    if (off == 0 || off >= si.max) continue;
    if (!si.swap_map[off]) {
      si.cluster_next = off + 1;
      return off;
    }
  }
  return 0;
}

std::optional<swp_entry_t> Swap::get_swap_page(CpuId cpu) {
  if (nr_swap_pages_ == 0) return std::nullopt;
  for (std::size_t i = 0; i < avail_.size();) {
    const unsigned type = avail_[i];
    swap_info_struct& si = *areas_[type];
    // plist_requeue: behind the others of the same priority.
    std::size_t j = i;
    while (j + 1 < avail_.size() && areas_[avail_[j + 1]]->prio == si.prio) {
      std::swap(avail_[j], avail_[j + 1]);
      ++j;
    }
    const std::uint64_t off = scan_swap_map_slots(si, cpu);
    if (!off) {
      del_from_avail(type);
      continue;
    }
    si.swap_map[off] = SWAP_HAS_CACHE;
    inc_cluster(si, off);
    swap_range_alloc(si, off);
    return swp_entry(type, off);
  }
  return std::nullopt;
}

std::optional<swp_entry_t> Swap::alloc_swap_entry(CpuId cpu) {
  const std::optional<swp_entry_t> e = get_swap_page(cpu);
  if (e) areas_[swp_type(*e)]->swap_map[swp_offset(*e)] = 1;
  return e;
}

unsigned Swap::swap_count(swp_entry_t e) const {
  const swap_info_struct& si = *areas_[swp_type(e)];
  return si.swap_map[swp_offset(e)] & ~SWAP_HAS_CACHE;
}

int Swap::swap_duplicate(swp_entry_t e) {
  if (!valid(e)) return -EINVAL;
  std::uint16_t& m = areas_[swp_type(e)]->swap_map[swp_offset(e)];
  if (m == 0 || m == SWAP_MAP_BAD) return -ENOENT;
  if ((m & ~SWAP_HAS_CACHE) >= SWAP_MAP_MAX) return -ENOMEM;  // Linux: a count continuation page
  ++m;
  return 0;
}

std::uint16_t Swap::swap_entry_free(swap_info_struct& si, std::uint64_t off, std::uint16_t usage) {
  std::uint16_t& m = si.swap_map[off];
  if (usage == SWAP_HAS_CACHE) {
    if (!(m & SWAP_HAS_CACHE)) swap_bug("SWAP_HAS_CACHE dropped twice", si.type, off);
    m &= static_cast<std::uint16_t>(~SWAP_HAS_CACHE);
  } else {
    if ((m & ~SWAP_HAS_CACHE) == 0) swap_bug("swap_free of an unused slot", si.type, off);
    --m;
  }
  if (m == 0) {
    k_.mem_cgroup_uncharge_swap(swp_entry(si.type, off));  // swapcache_free_entries: the slot's swap charge
    swap_range_free(si, off);
  }
  return m;
}

void Swap::swap_free(swp_entry_t e) {
  if (!valid(e)) swap_bug("swap_free of an invalid entry", e.val);
  swap_entry_free(*areas_[swp_type(e)], swp_offset(e), 1);
}

void Swap::free_swap_and_cache(swp_entry_t e, CpuId cpu, KernelCost& cost) {
  if (!valid(e)) {  // _swap_info_get: "Bad swap file entry"; the PTE goes, nothing else
    std::fprintf(stderr, "numasim: swap_info_get: Bad swap file entry %016" PRIx64 "\n", e.val);
    return;
  }
  swap_info_struct& si = *areas_[swp_type(e)];
  const std::uint16_t left = swap_entry_free(si, swp_offset(e), 1);
  if (left != SWAP_HAS_CACHE) return;
  // __try_to_reclaim_swap(TTRS_UNMAPPED | TTRS_FULL).
  page* pg = swap_cache_page(e);
  if (!pg || pg->test(PG_locked)) return;
  if (pg->mapcount == 0 || vm_swap_full()) try_to_free_swap(pg, cpu, cost);
}

// ---------------------------------------------------------------------------
// swapon / swapoff
// ---------------------------------------------------------------------------

long Swap::swapon(const SwapAreaParams& p, KernelCost& cost) {
  (void)cost;
  const std::uint64_t max = p.size_bytes / kPageSize;
  if (max < 2 || max > kMaxSwapSlots) return -EINVAL;  // shorter than its header, or beyond a PTE/page->private
  if (p.name.empty() || p.name.find_first_of(" \t\n\\") != std::string::npos) return -EINVAL;
  if (p.priority && (*p.priority < 0 || *p.priority > 32767)) return -EINVAL;
  for (const auto& a : areas_)
    if (a && a->params.name == p.name) return -EBUSY;
  std::uint64_t start_sector = 0;
  if (p.device == SwapDevice::Zram) {
    if (p.node < 0 || p.node >= k_.pm_.nr_node_ids() || !(p.compression_ratio >= 1.0 && p.compression_ratio <= 64.0))
      return -EINVAL;
    if (k_.pm_.NODE_DATA(NodeId(p.node)).node_present_pages == 0) return -ENOMEM;
  } else {
    // First fit on the block device between the NVMe areas already on.
    const std::uint64_t need = max * (kPageSize / 512);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
    for (const auto& a : areas_)
      if (a && !a->zram) used.push_back({a->start_sector, a->start_sector + a->max * (kPageSize / 512)});
    std::sort(used.begin(), used.end());
    for (const auto& [lo, hi] : used) {
      if (start_sector + need <= lo) break;
      start_sector = std::max(start_sector, hi);
    }
    if ((start_sector + need) * 512 > k_.platform_.block_capacity().value()) return -EINVAL;
  }
  unsigned type = 0;
  while (type < MAX_SWAPFILES && areas_[type]) ++type;
  if (type == MAX_SWAPFILES) return -EPERM;
  auto si = std::make_unique<swap_info_struct>();
  si->type = type;
  si->params = p;
  si->prio = p.priority ? *p.priority : --least_priority_;
  si->max = max;
  si->pages = max - 1;
  si->lowest_bit = 1;
  si->highest_bit = max - 1;
  si->cluster_next = 1;
  si->start_sector = start_sector;
  si->swap_map.assign(max, 0);
  si->swap_map[0] = SWAP_MAP_BAD;  // the header
  si->cache.assign(max, 0);
  const std::uint64_t nclusters = (max + SWAPFILE_CLUSTER - 1) / SWAPFILE_CLUSTER;
  si->cluster_info.assign(nclusters, swap_cluster_info{});
  for (std::uint32_t i = 0; i < nclusters; ++i) cluster_list_add_tail(*si, i);
  si->percpu.assign(static_cast<std::size_t>(k_.pm_.nr_cpu_ids()), percpu_cluster{});
  inc_cluster(*si, 0);  // the header's cluster is not free
  if (p.device == SwapDevice::Zram) si->zram = std::make_unique<Zram>(k_.pm_, NodeId(p.node), p.compression_ratio, max);
  si->writeok = true;
  total_swap_pages_ += si->pages;
  nr_swap_pages_ += si->pages;
  areas_[type] = std::move(si);
  add_to_avail(type);
  return type;
}

// try_to_unuse: every PTE of every mm using the area gets its page back (read
// from the device or found in the swap cache), then every page left in the
// area's swap cache is dropped from it. -ENOMEM when a page cannot be allocated.
long Swap::try_to_unuse(unsigned type, CpuId cpu, KernelCost& cost) {
  swap_info_struct& si = *areas_[type];
  for (auto& mmp : k_.mms_) {
    mm_struct& mm = *mmp;
    if (!mm.pgd) continue;
    for (auto& entry : mm.mm_mt) {
      vm_area_struct& vma = entry.second;  // not a structured binding: clang 14 cannot capture one
      if (vma.is_hugetlb() || (vma.vm_flags & VM_SHARED)) continue;
      bool failed = false;
      auto unuse = [&](VirtAddr va, const PteRef& ref) {
        if (failed || ref.level != PTE_LEVEL) return;
        const pteval_t v = ref.value();
        if (!is_swap_pte(v)) return;
        const swp_entry_t e = pte_to_swp_entry(v);
        if (non_swap_entry(e) || swp_type(e) != type) return;
        bool allocated = false;
        page* pg = read_swap_cache_async(e, nullptr, &vma, va, false, allocated, cost);
        if (!pg || (vma.anon_vma == nullptr && anon_vma_prepare(*k_.anon_vmas_, vma, cpu, cost) != 0)) {
          if (pg) put_cache_ref(pg, cpu, cost);
          failed = true;
          return;
        }
        if (allocated) swap_readpage(pg, e, true, cpu, cost);
        // unuse_pte: the page mapped read-only and old, the PTE's swap count dropped.
        k_.map_swapped_page(vma, va, ref, pg, e, false, cpu, cost);
      };
      walk_leaves(k_.pgtables_, &mm, mm.pgd, vma.vm_start, vma.vm_end, unuse);
      if (failed) return -ENOMEM;
    }
  }
  // folio_wait_writeback: every write in flight completes first.
  for (std::size_t c = 0; c < writeback_.size(); ++c)
    complete_writeback(CpuId(static_cast<int>(c)), Picoseconds(~0ull), cost);
  for (std::uint64_t off = 1; off < si.max; ++off) {
    page* pg = swap_cache_page(swp_entry(type, off));
    if (!pg) continue;
    if (swap_count(swp_entry(type, off)) != 0) swap_bug("swap PTE left after try_to_unuse", type, off);
    try_to_free_swap(pg, cpu, cost);  // the page keeps the data (dirty), unmapped ones are freed
  }
  return 0;
}

long Swap::swapoff(const std::string& name, CpuId cpu, KernelCost& cost) {
  unsigned type = 0;
  while (type < MAX_SWAPFILES && !(areas_[type] && areas_[type]->params.name == name)) ++type;
  if (type == MAX_SWAPFILES) return -EINVAL;
  swap_info_struct& si = *areas_[type];
  // del_from_avail_list and the area's free slots out of the totals.
  del_from_avail(type);
  si.writeok = false;
  nr_swap_pages_ -= si.pages - si.inuse_pages;
  total_swap_pages_ -= si.pages;
  const long r = try_to_unuse(type, cpu, cost);
  if (r != 0 || si.inuse_pages != 0) {
    // reinsert_swap_info: the area stays on; what was read in stays in memory.
    si.writeok = true;
    nr_swap_pages_ += si.pages - si.inuse_pages;
    total_swap_pages_ += si.pages;
    add_to_avail(type);
    return r != 0 ? r : -ENOMEM;
  }
  if (si.prio < 0) {  // the automatic priorities below it move up one, as Linux's swapoff does
    for (auto& a : areas_)
      if (a && a.get() != &si && a->prio < si.prio) ++a->prio;
    ++least_priority_;
  }
  areas_[type].reset();
  return 0;
}

// ---------------------------------------------------------------------------
// /proc/swaps (swap_show)
// ---------------------------------------------------------------------------

std::string Swap::proc_swaps() const {
  std::vector<SwapsLine> lines;
  for (const auto& a : areas_)
    if (a && a->writeok)
      lines.push_back({a->params.name, "partition", a->pages << (kPageShift - 10), a->inuse_pages << (kPageShift - 10),
                       a->prio});
  return os::proc_swaps(lines);
}

// ---------------------------------------------------------------------------
// Consistency: swap_map counts equal the swap PTEs, SWAP_HAS_CACHE equals the
// swap cache, the usage and free totals add up.
// ---------------------------------------------------------------------------

void Swap::check(const std::map<std::uint64_t, unsigned>& ptes) const {
  for (const auto& [val, n] : ptes) {
    const swp_entry_t e{val};
    if (!valid(e)) swap_bug("swap PTE to no swap area or slot", val);
  }
  std::uint64_t free_total = 0, total = 0;
  std::vector<std::int64_t> cached_per_node(static_cast<std::size_t>(k_.pm_.nr_node_ids()), 0);
  for (const auto& a : areas_) {
    if (!a) continue;
    const swap_info_struct& si = *a;
    std::uint64_t inuse = 0, cached = 0;
    std::vector<std::uint32_t> per_cluster(si.cluster_info.size(), 0);
    for (std::uint64_t off = 1; off < si.max; ++off) {
      const std::uint16_t m = si.swap_map[off];
      const swp_entry_t e = swp_entry(si.type, off);
      auto it = ptes.find(e.val);
      const unsigned n = it == ptes.end() ? 0 : it->second;
      if ((m & ~SWAP_HAS_CACHE) != n) swap_bug("swap_map count differs from the swap PTEs", e.val, m);
      const std::uint64_t c = si.cache[off];
      const bool has_page = c && !(c & 1);
      if (has_page != ((m & SWAP_HAS_CACHE) != 0)) swap_bug("SWAP_HAS_CACHE differs from the swap cache", e.val, m);
      if (m == 0 && c) swap_bug("free slot with a swap-cache entry or shadow", e.val, c);
      if (has_page) {
        const page* pg = k_.pm_.pfn_to_page(Pfn((c >> 2) - 1));
        if (!pg->test(PG_swapcache) || private_to_swp(pg->private_) != e)
          swap_bug("swap-cache page without PG_swapcache or with another entry", e.val, pg->flags);
        if (PageBuddy(pg) || pg->test(PG_pcp) || pg->_refcount < 1) swap_bug("free page in the swap cache", e.val);
        if (pg->_refcount < pg->mapcount + 1) swap_bug("swap-cache page without the cache's reference", e.val);
        ++cached;
        ++cached_per_node[static_cast<std::size_t>(k_.pm_.page_to_nid(pg).value())];
      }
      if (m) {
        ++inuse;
        ++per_cluster[off / SWAPFILE_CLUSTER];
      }
      if (si.zram && si.zram->stored(off) && !m) swap_bug("zram object for a free slot", e.val);
    }
    ++per_cluster[0];  // the header
    for (std::size_t i = 0; i < per_cluster.size(); ++i) {
      const swap_cluster_info& ci = si.cluster_info[i];
      if (ci.free != (per_cluster[i] == 0) || (!ci.free && ci.count != per_cluster[i]))
        swap_bug("cluster count differs from its used slots", si.type, i);
    }
    if (inuse != si.inuse_pages) swap_bug("inuse_pages", inuse, si.inuse_pages);
    if (cached != si.nr_cached) swap_bug("swap cache size of an area", cached, si.nr_cached);
    if (si.writeok) {
      free_total += si.pages - si.inuse_pages;
      total += si.pages;
    }
  }
  if (free_total != nr_swap_pages_) swap_bug("nr_swap_pages", free_total, nr_swap_pages_);
  if (total != total_swap_pages_) swap_bug("total_swap_pages", total, total_swap_pages_);
  for (int n = 0; n < k_.pm_.nr_node_ids(); ++n)
    if (k_.pm_.node_page_state(NodeId(n), NR_SWAPCACHE) != cached_per_node[static_cast<std::size_t>(n)])
      swap_bug("NR_SWAPCACHE of a node differs from the swap cache", static_cast<std::uint64_t>(n),
               static_cast<std::uint64_t>(k_.pm_.node_page_state(NodeId(n), NR_SWAPCACHE)));
}

}  // namespace numasim::os
