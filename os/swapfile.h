// Swap areas (mm/swapfile.c, include/linux/swap.h): swap_info_struct per area
// with its swap_map (one use count per slot plus SWAP_HAS_CACHE), slot
// allocation by clusters of SWAPFILE_CLUSTER slots with a per-CPU current
// cluster (Linux 6.1's scan_swap_map_slots / scan_swap_map_try_ssd_cluster),
// areas ordered by priority with round robin among equal priorities
// (swap_avail_head), swapon/swapoff, /proc/swaps. The swap cache (mm/swap_state.c)
// is a per-area array indexed by slot holding the page or, once the page has
// left the cache, its workingset shadow. Devices: an NVMe partition of the
// machine's block device (Platform::submit_bio at the area's start sector), or
// a zram-like compressed RAM disk (os/zram.h) whose pool takes frames from the
// buddy allocator of one node.
// Simplified against Linux: swap_map entries are 16 bits (counts up to
// SWAP_MAP_MAX here, no continuation pages); no swap_slots_cache (per-CPU
// batches of 64 entries), no discard, no THP swap (clusters hold 4 KiB slots),
// no per-node swap_avail lists (one priority order for all nodes), no bad
// blocks; the slot of page identity tokens (os/page_token.h) is kept beside the
// swap map, standing for the data written to the slot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/platform.h"
#include "os/swapops.h"

namespace numasim {
class Config;
}

namespace numasim::os {

class Kernel;
class Zram;
struct page;
struct task_struct;
struct vm_area_struct;
struct vm_fault;

enum class SwapDevice : std::uint8_t { Nvme, Zram };

// One [[os.swap]] entry (or a swapon(2) request).
struct SwapAreaParams {
  std::string name;                   // /proc/swaps Filename (default /dev/nvme0n1pN or /dev/zramN)
  std::uint64_t size_bytes = 0;       // the area, its header page included
  std::optional<int> priority;        // swapon -p; none: -2, -3, ... in swapon order
  SwapDevice device = SwapDevice::Nvme;
  // zram only
  int node = 0;                         // the node whose buddy allocator holds the compressed pages
  double compression_ratio = 3.0;       // 4096 bytes become 4096 / ratio (rounded up)
  std::uint64_t compress_cycles = 12000;   // lzo-rle on a 4 KiB page, ~4 us at 3 GHz
  std::uint64_t decompress_cycles = 3000;  // ~1 us
  std::string origin;  // where the configuration set it ("file:line:column"), for boot-time errors
};

struct SwapParams {
  std::vector<SwapAreaParams> areas;  // [[os.swap]], switched on at boot in order
  unsigned page_cluster = 3;          // vm.page-cluster: readahead of up to 2^3 pages
  bool vma_ra_enabled = true;         // /sys/kernel/mm/swap/vma_ra_enabled (Linux 6.1 default)
  std::uint64_t swap_bio_cycles = 800;  // CPU work per swap page read or written (bio setup, completion)

  // [[os.swap]] size, priority, device = "nvme" | "zram", name, node, compression_ratio,
  // compress_cycles, decompress_cycles; [os] page_cluster, swap_vma_readahead, swap_bio_cycles.
  static SwapParams from_config(Config os);
};

// swap_map values (include/linux/swap.h), widened to 16 bits.
inline constexpr std::uint16_t SWAP_HAS_CACHE = 0x8000;  // the slot's page is in the swap cache
inline constexpr std::uint16_t SWAP_MAP_BAD = 0x7fff;    // the header slot
inline constexpr std::uint16_t SWAP_MAP_MAX = 0x7ffe;    // highest use count
inline constexpr unsigned SWAPFILE_CLUSTER = 256;
// page->private_ (32 bits) holds a swap entry as type (5 bits) and offset (27 bits).
inline constexpr unsigned kPrivateOffsetBits = 27;
inline constexpr std::uint64_t kMaxSwapSlots = 1ull << kPrivateOffsetBits;  // 512 GiB per area
inline std::uint32_t swp_to_private(swp_entry_t e) {
  return static_cast<std::uint32_t>((swp_type(e) << kPrivateOffsetBits) | swp_offset(e));
}
inline swp_entry_t private_to_swp(std::uint32_t v) {
  return swp_entry(v >> kPrivateOffsetBits, v & (kMaxSwapSlots - 1));
}

// struct swap_cluster_info: used slots of a cluster; free clusters form a list.
struct swap_cluster_info {
  std::uint32_t count = 0;
  std::uint32_t next = 0;  // next free cluster (list link)
  bool free = true;        // CLUSTER_FLAG_FREE
};
// struct percpu_cluster: the cluster a CPU allocates from, and where next.
struct percpu_cluster {
  std::uint32_t index = ~0u;  // cluster number, ~0: none
  std::uint64_t next = 0;     // next slot to try
};

struct swap_info_struct {
  unsigned type = 0;
  int prio = 0;
  bool writeok = false;  // SWP_WRITEOK: slots may be allocated
  SwapAreaParams params;
  std::uint64_t max = 0;          // slots, the header (slot 0) included
  std::uint64_t pages = 0;        // usable slots (max - 1)
  std::uint64_t inuse_pages = 0;  // slots with a nonzero swap_map
  std::uint64_t lowest_bit = 1, highest_bit = 0;  // range holding free slots
  std::uint64_t cluster_next = 1;                  // linear scan cursor (no free cluster left)
  std::uint64_t start_sector = 0;                  // NVMe: where the area starts on the device
  std::vector<std::uint16_t> swap_map;
  std::vector<swap_cluster_info> cluster_info;
  std::uint32_t free_head = ~0u, free_tail = ~0u;  // free cluster list
  std::vector<percpu_cluster> percpu;              // per CPU
  // The swap cache and shadows, per slot: 0 empty; (pfn + 1) << 2 | ra << 1 a page
  // (ra: read ahead and not hit yet, PageReadahead); shadow << 1 | 1 a shadow.
  std::vector<std::uint64_t> cache;
  std::vector<std::uint64_t> token;  // page identity token written to each slot (when tokens are on)
  std::unique_ptr<Zram> zram;
  std::uint64_t nr_cached = 0;  // pages in this area's swap cache
};

// The swap subsystem's state and its operations; a friend of Kernel.
class Swap {
  friend class Shmem;  // shmem_writepage gives back a slot it could not charge (swap_entry_free)
 public:
  Swap(Kernel& k, const SwapParams& params);
  ~Swap();

  // ---- swapfile.c ----
  // swapon: type (>= 0) or -EINVAL (bad size/name/ratio/node), -EBUSY (name in use),
  // -EPERM (all MAX_SWAPFILES types used), -ENOMEM (zram pool node without memory).
  long swapon(const SwapAreaParams& p, KernelCost& cost);
  // swapoff by name: 0, -EINVAL (no such area), -ENOMEM (not enough memory: the area stays on, nothing lost).
  long swapoff(const std::string& name, CpuId cpu, KernelCost& cost);
  // get_swap_pages for one page on `cpu`: an entry with count 0 | SWAP_HAS_CACHE, or none.
  std::optional<swp_entry_t> get_swap_page(CpuId cpu);
  // A slot used by one PTE with nothing cached, as a page swapped out and reclaimed leaves
  // it (its data: zeroes, token 0); for tests that plant swap entries.
  std::optional<swp_entry_t> alloc_swap_entry(CpuId cpu);
  // swap_duplicate: one more PTE uses the entry. 0, or -ENOENT (free slot), -ENOMEM (count at maximum).
  int swap_duplicate(swp_entry_t e);
  // swap_free: one PTE less; the slot is freed when nothing uses it.
  void swap_free(swp_entry_t e);
  // free_swap_and_cache (a zapped swap PTE): swap_free, and the cache page dropped
  // when nothing maps it or swap is full.
  void free_swap_and_cache(swp_entry_t e, CpuId cpu, KernelCost& cost);
  // __swap_count: PTEs using the entry (SWAP_HAS_CACHE excluded).
  unsigned swap_count(swp_entry_t e) const;
  bool vm_swap_full() const { return nr_swap_pages_ * 2 < total_swap_pages_; }
  std::uint64_t total_swap_pages() const { return total_swap_pages_; }
  std::uint64_t nr_swap_pages() const { return nr_swap_pages_; }
  std::string proc_swaps() const;
  const swap_info_struct* info(unsigned type) const { return type < areas_.size() ? areas_[type].get() : nullptr; }
  swap_info_struct* info(unsigned type) { return type < areas_.size() ? areas_[type].get() : nullptr; }
  bool valid(swp_entry_t e) const;
  const SwapParams& params() const { return params_; }

  // ---- swap_state.c ----
  // add_to_swap: a slot for an anonymous page and the page into the swap cache.
  bool add_to_swap(page* pg, CpuId cpu, KernelCost& cost);
  // add_to_swap_cache: pg (locked, new or anonymous) at e; returns the shadow the slot held.
  std::uint64_t add_to_swap_cache(page* pg, swp_entry_t e);
  // delete_from_swap_cache / __delete_from_swap_cache: out of the cache, `shadow` left in
  // the slot, SWAP_HAS_CACHE dropped (put_swap_folio), the cache's reference dropped.
  void delete_from_swap_cache(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost);
  // lookup_swap_cache / swap_cache_get_folio: the cached page (a reference taken) or
  // nullptr; counts swap_ra_hit and updates the readahead state.
  page* lookup_swap_cache(swp_entry_t e, vm_area_struct* vma, VirtAddr addr);
  page* swap_cache_page(swp_entry_t e) const;  // no reference, no statistics
  bool remove_swapcache_mapping(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost);
  bool try_to_free_swap(page* pg, CpuId cpu, KernelCost& cost);
  // free_swap_cache: a page whose last mapping went: its slot freed when no PTE uses it.
  void free_swap_cache(page* pg, CpuId cpu, KernelCost& cost);
  // swapin_readahead: the page for e, read (with a readahead window) or found in the cache,
  // with a reference for the caller; nullptr when no page could be allocated.
  page* swapin_readahead(swp_entry_t e, task_struct* t, vm_fault& vmf, KernelCost& cost);
  std::uint64_t nr_swapcache() const;

  // ---- page_io.c ----
  // swap_writepage: PAGE_SUCCESS (PG_writeback until the write completes), PAGE_KEEP (zram pool full).
  int swap_writepage(page* pg, CpuId cpu, KernelCost& cost);
  // swap_readpage: the slot's contents into pg; `sync`: the caller waits for it.
  void swap_readpage(page* pg, swp_entry_t e, bool sync, CpuId cpu, KernelCost& cost);
  // end_swap_bio_write for every write done by `now` (the timers' work; tests may call it).
  void complete_writeback(CpuId cpu, Picoseconds now, KernelCost& cost);
  // Time passes for a task sleeping in reclaim_throttle, from `now` to `until`: every
  // write in flight (any CPU's) done by then ends, in completion order; with `woken`,
  // the sleep ends at the completion after which *woken is set (__acct_reclaim_writeback's
  // wake-up). Returns the time the sleeper wakes.
  Picoseconds writeback_until(Picoseconds now, Picoseconds until, const bool* woken, CpuId cpu, KernelCost& cost);
  std::uint64_t writeback_in_flight() const { return in_flight_; }

  // ---- kernel_check ----
  // Validates swap_map counts against `ptes` (swap PTEs per entry value) and the swap cache.
  void check(const std::map<std::uint64_t, unsigned>& ptes) const;

 private:
  friend class Kernel;
  struct Writeback;  // in-flight writes of one CPU (page_io.cpp)
  Kernel& k_;
  SwapParams params_;
  std::vector<std::unique_ptr<swap_info_struct>> areas_;  // by type
  std::vector<unsigned> avail_;                           // types with free slots, by priority, round robin
  int least_priority_ = -1;
  std::uint64_t total_swap_pages_ = 0, nr_swap_pages_ = 0;
  std::uint64_t next_sector_ = 0;  // NVMe partitions are laid out one after another
  std::vector<std::unique_ptr<Writeback>> writeback_;  // per CPU
  std::uint64_t in_flight_ = 0;
  std::uint64_t wb_seq_ = 0;
  // swapin_nr_pages' globals (cluster readahead).
  std::uint64_t prev_offset_ = 0;
  unsigned swapin_readahead_hits_ = 0, last_readahead_pages_ = 0;
  // vma->swap_readahead_info by (mm id, vm_start): address, window and hits.
  struct RaInfo {
    VirtAddr addr = 0;
    unsigned win = 0, hits = 0;
  };
  std::map<std::pair<std::uint32_t, VirtAddr>, RaInfo> vma_ra_;

  void add_to_avail(unsigned type);
  void del_from_avail(unsigned type);
  std::uint64_t scan_swap_map_slots(swap_info_struct& si, CpuId cpu);
  void inc_cluster(swap_info_struct& si, std::uint64_t off);
  void dec_cluster(swap_info_struct& si, std::uint64_t off);
  void swap_range_alloc(swap_info_struct& si, std::uint64_t off);
  void swap_range_free(swap_info_struct& si, std::uint64_t off);
  // __swap_entry_free: drop `usage` (1 or SWAP_HAS_CACHE); returns what is left.
  std::uint16_t swap_entry_free(swap_info_struct& si, std::uint64_t off, std::uint16_t usage);
  // __read_swap_cache_async: the page of e in the cache (allocated and read when
  // missing; `allocated` says so), a reference taken; nullptr when the slot is free
  // or no page can be had.
  page* read_swap_cache_async(swp_entry_t e, task_struct* t, vm_area_struct* vma, VirtAddr addr, bool ra,
                              bool& allocated, KernelCost& cost);
  unsigned swapin_nr_pages(std::uint64_t offset);
  void start_writeback(page* pg, CpuId cpu, Picoseconds done);
  void end_page_writeback(page* pg, CpuId cpu, KernelCost& cost);
  void put_cache_ref(page* pg, CpuId cpu, KernelCost& cost);
  long try_to_unuse(unsigned type, CpuId cpu, KernelCost& cost);
};

}  // namespace numasim::os
