// SLUB, the kernel's object allocator (mm/slub.c, mm/slab.h, mm/slab_common.c):
// kmem_caches of fixed-size objects carved out of slabs, each slab one block
// of 2^order frames from the buddy allocator (PhysMem) on some node. Modelled
// as SLUB is structured: a per-CPU active slab whose free objects form the
// CPU's lockless freelist (kmem_cache_cpu), per-CPU partial slabs, per-node
// partial lists (kmem_cache_node) with min_partial, slab order chosen from the
// object size (calculate_order with slub_min_objects / slub_max_order), node
// requests (kmem_cache_alloc_node with the 6.x "this node first" retry),
// frees from any CPU going back to the object's own slab (__slab_free, which
// may move the slab to the freeing CPU's partial list or discard it), and
// empty slabs given back to the buddy beyond min_partial. Slab pages are
// MIGRATE_UNMOVABLE, or MIGRATE_RECLAIMABLE for SLAB_RECLAIM_ACCOUNT caches,
// and counted in NR_SLAB_(UN)RECLAIMABLE_B of the node they came from. Partial
// lists link the slabs' first pages through page::lru (page_list.h), as
// slab->slab_list does; a slab page that cannot be had at the preferred order
// is asked at the minimum order with the caller's flags, through the page
// allocator's one slow path (which may OOM-kill in a fault).
//
// Objects are simulated physical addresses inside the slab's frames; the
// simulator does not store their contents. Each cache may carry host storage
// per object (KmemCacheOf<T>) so that the kernel can keep its C++ object in the
// slot that the simulated object occupies.
//
// Simplified against Linux: one simulated thread of control (no cmpxchg, no
// locks, no preemption: "lockless" means the per-CPU fast path touches nothing
// shared); free objects are linked by host-side indices (the free pointer's
// memory traffic is charged through Platform at s->offset, not stored);
// no cache merging (aliases), no debugging redzones/poisoning, no freelist
// randomisation or hardening, no RCU freeing, no
// kmem_cache_shrink on memory pressure, no bulk alloc/free. Slab pages are not
// compound pages: every frame of a slab carries PG_slab and, in
// page::private_, the id of SLUB's own per-slab record (struct slab lives in a
// side table, Slub::slab_table, indexed by that id).
// Memory cgroup accounting (Linux 6.1 memcg_slab_pre_alloc_hook /
// memcg_slab_post_alloc_hook / memcg_slab_free_hook) goes through
// SlabMemcgHooks, which the Kernel implements: objects of SLAB_ACCOUNT caches
// (or allocated with __GFP_ACCOUNT) are charged obj_full_size bytes to the
// current task's cgroup, the cgroup id kept per object in the slab's objcgs
// vector (allocated on the slab's first accounted object, as
// memcg_alloc_slab_cgroups).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "common/units.h"
#include "os/failslab.h"
#include "os/gfp.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"

namespace numasim {
class Config;
}

namespace numasim::os {

class PhysMem;
class Kmemleak;
struct page;

// Where an object was allocated, for kmemleak: file and line of the caller
// (captured by default arguments) or a tag string literal with line 0.
struct AllocSite {
  const char* where = "?";
  std::uint32_t line = 0;
  static constexpr AllocSite here(std::source_location l = std::source_location::current()) {
    return AllocSite{l.file_name(), static_cast<std::uint32_t>(l.line())};
  }
  static constexpr AllocSite tag(const char* t) { return AllocSite{t, 0}; }
  std::string str() const;  // "file:line" or the tag
};

// Cache creation flags (slab_flags_t), the subset that changes behaviour here.
using slab_flags_t = unsigned;
inline constexpr slab_flags_t SLAB_HWCACHE_ALIGN = 0x00002000u;    // align objects on cache lines
inline constexpr slab_flags_t SLAB_PANIC = 0x00040000u;            // creation failure aborts
inline constexpr slab_flags_t SLAB_CACHE_DMA = 0x00004000u;        // slab pages from ZONE_DMA
inline constexpr slab_flags_t SLAB_RECLAIM_ACCOUNT = 0x00020000u;  // reclaimable: SReclaimable
inline constexpr slab_flags_t SLAB_ACCOUNT = 0x04000000u;          // objects charged to the memcg (SlabMemcgHooks)
inline constexpr slab_flags_t SLAB_FAILSLAB = 0x02000000u;         // failslab cache_filter target
inline constexpr slab_flags_t SLAB_NOLEAKTRACE = 0x00800000u;      // kmemleak ignores the cache

// Kernel cycles per SLUB operation, [os.slub.costs]; estimates for Linux 6.x
// on a server core (the memory traffic of free pointers and zeroing is timed
// separately through Platform).
struct SlubCosts {
  std::uint32_t alloc_fastpath_cycles = 20;   // slab_alloc_node: pop from the CPU freelist
  std::uint32_t free_fastpath_cycles = 20;    // do_slab_free: push to the CPU freelist
  std::uint32_t alloc_slowpath_cycles = 120;  // ___slab_alloc: refill from a partial slab
  std::uint32_t free_slowpath_cycles = 100;   // __slab_free: free into a non-CPU slab
  std::uint32_t new_slab_cycles = 300;        // allocate_slab: set up the slab (pages extra)
  std::uint32_t new_slab_object_cycles = 4;   // per object when building the freelist
  std::uint32_t ctor_cycles = 40;             // per object when a constructor runs
  std::uint32_t discard_slab_cycles = 150;    // discard_slab (page freeing extra)
  std::uint32_t kmalloc_large_cycles = 80;    // kmalloc_large / free_large_kmalloc bookkeeping
};

struct SlubParams {
  unsigned slub_min_objects = 0;  // 0: 4 * (fls(nr_cpu_ids) + 1), as Linux
  unsigned slub_min_order = 0;
  unsigned slub_max_order = PAGE_ALLOC_COSTLY_ORDER;  // 3
  bool cpu_partial = true;                            // CONFIG_SLUB_CPU_PARTIAL
  unsigned remote_node_defrag_ratio = 100;            // sysfs value 0..100 (Linux keeps it x10)
  bool charge_freelist_traffic = true;                // free-pointer load/store timed through Platform
  SlubCosts costs;
  FailslabParams failslab;

  // Reads [os.slub] (min_objects, min_order, max_order, cpu_partial,
  // remote_node_defrag_ratio, charge_freelist_traffic), [os.slub.costs] and
  // [os.failslab]. `os` is the [os] table.
  static SlubParams from_config(Config os);
};

struct kmem_cache;

// What SLUB asks of memory cgroups for accounted objects (mm/slab.h's memcg hooks).
class SlabMemcgHooks {
 public:
  virtual ~SlabMemcgHooks() = default;
  // memcg_slab_pre_alloc_hook: charge obj_full_size(s) to the current task's
  // cgroup (get_obj_cgroup_from_current). Returns the cgroup id charged, 0 when
  // nothing is charged (root cgroup, kernel thread, no task), -1 when the charge
  // failed (over memory.max after reclaim): the allocation fails.
  virtual long slab_pre_alloc_hook(const kmem_cache* s, gfp_t gfp, CpuId cpu, KernelCost& cost) = 0;
  // memcg_slab_post_alloc_hook: the object was allocated from a slab on nid
  // (mod_objcg_state), or the allocation failed (allocated false: uncharge).
  virtual void slab_post_alloc_hook(const kmem_cache* s, std::uint32_t memcg_id, NodeId nid, bool allocated,
                                    CpuId cpu) = 0;
  // memcg_slab_free_hook: an object charged to memcg_id, in a slab on nid, is freed.
  virtual void slab_free_hook(const kmem_cache* s, std::uint32_t memcg_id, NodeId nid, CpuId cpu) = 0;
};
// obj_full_size: what an accounted object charges (its stride plus the obj_cgroup pointer).
inline std::size_t obj_full_size(unsigned size) { return size + sizeof(void*); }

// struct slab (mm/slab.h): SLUB's per-slab record, in Slub's side table.
struct Slab {
  enum class State : std::uint8_t {
    Free,         // record unused
    CpuActive,    // a CPU's active slab (frozen): its free objects are on that CPU's freelist
    CpuPartial,   // on a CPU's partial list
    NodePartial,  // on its node's partial list
    Full,         // no free object, on no list (SLUB does not track full slabs)
  };
  // Per-object host metadata: free-list link, allocated flag, allocation site.
  struct ObjMeta {
    std::uint32_t next;       // next free object index, or kEnd
    std::uint32_t line : 30;  // allocation site line
    std::uint32_t allocated : 1;
    std::uint32_t not_leak : 1;  // kmemleak_not_leak
    const char* site;            // allocation site file or tag
  };
  static constexpr std::uint32_t kEnd = 0xffffffffu;

  kmem_cache* cache = nullptr;
  PhysAddr base = 0;               // address of object 0 (first byte of the slab)
  std::uint32_t id = 0;            // index in Slub's slab table (page::private_ of its frames)
  std::uint32_t objects = 0;       // objects in this slab
  std::uint32_t inuse = 0;         // objects handed out and not freed
  std::uint32_t freelist = kEnd;   // slab's own freelist (remote frees, non-CPU slabs)
  std::uint32_t nr_free_list = 0;  // length of `freelist`
  std::uint8_t order = 0;
  State state = State::Free;
  std::int16_t nid = 0;
  std::int32_t cpu = -1;  // owning CPU when CpuActive or CpuPartial
  std::unique_ptr<ObjMeta[]> meta;
  std::uint32_t meta_capacity = 0;
  std::byte* host = nullptr;  // host storage, objects * cache->host_obj_size bytes
  std::unique_ptr<std::uint32_t[]> objcgs;  // slab_objcgs: memcg id per object (null: none accounted yet)
  std::uint64_t pfn() const { return base >> kPageShift; }
  std::uint32_t nr_pages() const { return 1u << order; }
};

// A list of slabs (CPU partial or node partial): the slabs' first pages linked
// through page::lru_next/lru_prev (page_list.h), as Linux's slab->slab_list
// overlays page->lru.
using SlabList = PageList;

// struct kmem_cache_cpu: the CPU's active slab with its freelist, and its partial slabs.
struct kmem_cache_cpu {
  Slab* slab = nullptr;
  std::uint32_t freelist = Slab::kEnd;  // free objects of `slab` owned by this CPU
  std::uint32_t nr_free = 0;            // length of freelist
  SlabList partial;                     // slub_percpu_partial
  unsigned partial_slabs = 0;
};

// struct kmem_cache_node: per-node partial list and slab counts (CONFIG_SLUB_DEBUG counters).
struct kmem_cache_node {
  SlabList partial;
  unsigned long nr_partial = 0;
  unsigned long nr_slabs = 0;
  unsigned long total_objects = 0;
};

// SLUB_STATS-like event counters of one cache (summed over CPUs).
struct SlubStats {
  std::uint64_t alloc_fastpath = 0, alloc_slowpath = 0;
  std::uint64_t free_fastpath = 0, free_slowpath = 0;
  std::uint64_t alloc_from_partial = 0, alloc_slab = 0, alloc_refill = 0;
  std::uint64_t alloc_node_mismatch = 0;
  std::uint64_t free_remote = 0;  // freed by a CPU on another node than the slab's
  std::uint64_t free_add_partial = 0, free_remove_partial = 0, free_slab = 0;
  std::uint64_t cpu_partial_alloc = 0, cpu_partial_free = 0, cpu_partial_node = 0;
  std::uint64_t cpu_partial_drain = 0;
  std::uint64_t deactivate_full = 0, deactivate_empty = 0, deactivate_to_partial = 0;
  std::uint64_t alloc_failed = 0;  // no memory for a new slab
  std::uint64_t failslab = 0;      // failed by fault injection
};

struct kmem_cache_order_objects {
  unsigned order = 0;
  unsigned objects = 0;
};

struct kmem_cache {
  std::string name;
  unsigned object_size = 0;  // size the creator asked for
  unsigned size = 0;         // object plus metadata, aligned: the stride
  unsigned align = 0;
  unsigned offset = 0;  // free pointer offset inside the stride
  slab_flags_t flags = 0;
  gfp_t allocflags = 0;          // __GFP_RECLAIMABLE for SLAB_RECLAIM_ACCOUNT
  kmem_cache_order_objects oo;   // preferred slab order and objects
  kmem_cache_order_objects min;  // fallback: smallest order holding one object
  unsigned long min_partial = 0;
  unsigned cpu_partial = 0;              // objects (sysfs cpu_partial)
  unsigned cpu_partial_slabs = 0;        // slabs kept on a CPU's partial list
  std::uint64_t reciprocal_size = 0;     // ceil(2^40 / size) for obj_to_index
  std::function<void(void* host)> ctor;  // constructor run on every object of a new slab
  std::size_t host_obj_size = 0;         // bytes of host storage per object (0: none)
  std::size_t host_obj_align = alignof(std::max_align_t);
  std::vector<kmem_cache_cpu> cpu_slab;
  std::vector<kmem_cache_node> node;
  SlubStats stats;
  std::uint64_t inuse_objects = 0;  // allocated objects (exact)
  int index = 0;                    // creation order in Slub
  // kmemleak: references held by an allocated object (transitive reachability).
  std::function<void(PhysAddr obj, const std::function<void(PhysAddr)>& ref)> kmemleak_scan;

  // obj_to_index: exact for offsets that are multiples of size (checked).
  std::uint32_t obj_to_index(const Slab& slab, PhysAddr obj) const {
    return static_cast<std::uint32_t>(((obj - slab.base) * reciprocal_size) >> 40);
  }
};

// One allocated object, as enumerated for kmemleak and the checker.
struct SlabObjectInfo {
  PhysAddr addr;
  const kmem_cache* cache;  // nullptr for kmalloc_large blocks
  std::size_t size;
  NodeId nid;
  AllocSite site;
  bool not_leak;  // marked with kmemleak_not_leak
};

// The slab subsystem: all caches, the slab table, fault injection.
class Slub {
 public:
  Slub(PhysMem& pm, const SlubParams& params);
  ~Slub();
  Slub(const Slub&) = delete;
  Slub& operator=(const Slub&) = delete;

  // kmem_cache_create: size, alignment, flags and optional constructor. Throws
  // std::invalid_argument on a zero size, an alignment that is not a power of
  // two, or an object too large for a MAX_ORDER-1 slab.
  kmem_cache* kmem_cache_create(std::string name, unsigned size, unsigned align, slab_flags_t flags,
                                std::function<void(void*)> ctor = {}, std::size_t host_obj_size = 0,
                                std::size_t host_obj_align = alignof(std::max_align_t));
  // kmem_cache_destroy: the cache must be empty of allocated objects (else
  // returns false and keeps it, as Linux warns "objects remaining"); frees all slabs.
  bool kmem_cache_destroy(kmem_cache* s, KernelCost& cost);

  // slab_alloc_node: an object from `s` for `cpu`, on `node` if it is not
  // NUMA_NO_NODE. Returns its simulated physical address, or 0 (NULL) when no
  // memory or failslab injected a failure; nothing is left half-done then.
  PhysAddr kmem_cache_alloc_node(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost,
                                 AllocSite site = AllocSite::here());
  PhysAddr kmem_cache_alloc(kmem_cache* s, CpuId cpu, gfp_t gfp, KernelCost& cost, AllocSite site = AllocSite::here()) {
    return kmem_cache_alloc_node(s, cpu, gfp, NUMA_NO_NODE, cost, site);
  }
  // kmem_cache_free (slab_free): aborts on an address that is not an allocated
  // object of `s` (Linux reports a bad free / double free).
  void kmem_cache_free(kmem_cache* s, CpuId cpu, PhysAddr obj, KernelCost& cost);
  // kfree's slab part: frees obj into whatever cache owns it. False when obj is
  // not in a slab page (the caller then tries kmalloc_large blocks).
  bool free_slab_object(CpuId cpu, PhysAddr obj, KernelCost& cost);

  // virt_to_slab: the slab holding addr, nullptr when addr is not in a slab page.
  Slab* addr_to_slab(PhysAddr addr);
  const Slab* addr_to_slab(PhysAddr addr) const;
  // Host storage of an allocated object (cache created with host_obj_size > 0).
  void* host_ptr(PhysAddr obj);
  // True when obj is the start of an allocated slab object or large block.
  bool is_allocated(PhysAddr obj) const;
  // kmemleak_not_leak: the allocated object (slab or large) is never reported
  // as a leak until it is freed. False when obj is not an allocated object.
  bool kmemleak_not_leak(PhysAddr obj);
  // The memory cgroup an allocated slab object is charged to (0: none).
  std::uint32_t object_memcg(PhysAddr obj) const;
  // Memory cgroup accounting of SLAB_ACCOUNT / __GFP_ACCOUNT objects (null: none).
  void set_memcg_hooks(SlabMemcgHooks* hooks) { memcg_hooks_ = hooks; }

  // kmalloc_large / free_large_kmalloc: blocks > 8 KiB straight from the buddy,
  // counted as unreclaimable slab memory (used by kmalloc.cpp).
  PhysAddr alloc_large(CpuId cpu, gfp_t gfp, std::size_t size, int node, KernelCost& cost, AllocSite site);
  // Returns false when addr is not the start of a large block.
  bool free_large(CpuId cpu, PhysAddr addr, KernelCost& cost);
  std::size_t large_size(PhysAddr addr) const;  // 0 when not a large block

  // flush_all + kmem_cache_shrink-like: every CPU slab and CPU partial slab is
  // returned to its node, and empty slabs beyond min_partial (all empty slabs
  // when `all_empty`) are discarded.
  void flush_all(kmem_cache* s, CpuId cpu, KernelCost& cost, bool all_empty = false);

  // Caches in creation order.
  const std::vector<std::unique_ptr<kmem_cache>>& caches() const { return caches_; }
  kmem_cache* find_cache(std::string_view name) const;
  PhysMem& physmem() { return pm_; }
  const PhysMem& physmem() const { return pm_; }
  const SlubParams& params() const { return params_; }
  Failslab& failslab() { return failslab_; }
  const Failslab& failslab() const { return failslab_; }

  // Every allocated object (slab and large), ordered by cache then address.
  void for_each_allocated(const std::function<void(const SlabObjectInfo&)>& fn) const;
  std::uint64_t nr_allocated_objects() const;
  // Frames held by slabs and large blocks, per node.
  std::uint64_t slab_pages(NodeId nid) const;
  std::uint64_t large_pages() const { return large_pages_; }

  // Figures per cache for slabinfo: exact (inuse) and Linux's view (active =
  // total - free on node partial lists, as get_slabinfo computes it).
  struct CacheInfo {
    unsigned long active_objs = 0, num_objs = 0, num_slabs = 0;
    unsigned long inuse_objs = 0;  // exact: allocated objects
    unsigned long partial_slabs = 0, cpu_slabs = 0;
  };
  CacheInfo cache_info(const kmem_cache& s) const;

  // CONFIG_SLUB_DEBUG validate_slab_cache-like checker, aborting with a
  // message: every slab's freelists well formed, disjoint and consistent with
  // the allocated flags and inuse, list membership matching state, node
  // counters adding up, page flags and node stats consistent.
  void check_consistency() const;

  // calculate_order for an object stride (exposed for tests).
  static kmem_cache_order_objects calculate_order(unsigned size, unsigned min_objects_param, unsigned min_order,
                                                  unsigned max_order, unsigned nr_cpus);

 private:
  Slab* slab_of(const page* pg) const;
  // Slab lists on page_list.h: a slab's list page, the first slab of a list, the next one.
  page* slab_page(const Slab* sl) const { return mem_map_ + sl->pfn(); }
  Slab* list_first_slab(const SlabList& l) const { return l.empty() ? nullptr : slab_of(mem_map_ + l.head); }
  Slab* list_next_slab(const Slab* sl) const {
    const std::uint32_t next = slab_page(sl)->lru_next;
    return next == kNoPfn32 ? nullptr : slab_of(mem_map_ + next);
  }
  Slab* get_slab_record();
  void put_slab_record(Slab* slab);

  bool ___slab_alloc(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost);
  Slab* new_slab(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost);
  void discard_slab(kmem_cache* s, CpuId cpu, Slab* slab, KernelCost& cost);
  Slab* get_partial(kmem_cache* s, CpuId cpu, int node, gfp_t gfp);
  Slab* get_partial_node(kmem_cache* s, CpuId cpu, kmem_cache_node& n);
  Slab* get_any_partial(kmem_cache* s, CpuId cpu);
  void deactivate_slab(kmem_cache* s, CpuId cpu, KernelCost& cost);
  void put_cpu_partial(kmem_cache* s, CpuId cpu, Slab* slab, KernelCost& cost);
  void put_partials(kmem_cache* s, CpuId cpu, SlabList chain, KernelCost& cost);
  void add_partial(kmem_cache_node& n, Slab* slab, bool tail);
  void remove_partial(kmem_cache_node& n, Slab* slab);
  void do_slab_free(kmem_cache* s, Slab* slab, CpuId cpu, PhysAddr obj, KernelCost& cost);
  void __slab_free(kmem_cache* s, CpuId cpu, Slab* slab, std::uint32_t idx, KernelCost& cost);
  void freelist_traffic(CpuId cpu, const kmem_cache* s, PhysAddr obj, bool write, KernelCost& cost);
  void host_storage_alloc(kmem_cache* s, Slab* slab);
  void host_storage_free(kmem_cache* s, Slab* slab);
  [[noreturn]] void bad_free(const kmem_cache* s, PhysAddr obj, const char* why) const;

  PhysMem& pm_;
  page* mem_map_ = nullptr;  // pm_'s descriptor array (slab list links)
  SlubParams params_;
  Failslab failslab_;
  std::vector<std::unique_ptr<kmem_cache>> caches_;
  // Slab table: stable records in chunks of kSlabChunk, id -> record.
  static constexpr std::uint32_t kSlabChunkShift = 10;
  std::vector<std::unique_ptr<Slab[]>> slab_chunks_;
  std::vector<Slab*> free_slab_records_;
  std::uint32_t nr_slab_records_ = 0;
  // kmalloc_large blocks: first PFN -> (order, site, size).
  struct LargeBlock {
    unsigned order;
    std::size_t size;
    AllocSite site;
    bool not_leak = false;
  };
  std::map<std::uint64_t, LargeBlock> large_;
  std::uint64_t large_pages_ = 0;
  std::uint64_t defrag_counter_ = 0;  // deterministic stand-in for get_cycles() in get_any_partial
  page* pinned_zero_page_ = nullptr;  // PFN 0 never hosts objects (0 is NULL)
  std::vector<std::uint8_t> node_has_memory_;
  std::vector<std::vector<int>> node_order_;  // per node: nodes by distance (zonelist order)
  SlabMemcgHooks* memcg_hooks_ = nullptr;
};

// A kmem_cache paired with host storage for a C++ type: the kernel's own
// objects (VMAs, mm_structs ...) live in the slot of their simulated object.
// alloc() constructs T there and returns it (nullptr on failure, nothing
// constructed); phys() gives the simulated address; free() destroys T and
// frees the object.
template <class T>
class KmemCacheOf {
 public:
  // `sim_size`: the simulated object size (Linux's sizeof), independent of sizeof(T).
  KmemCacheOf(Slub& slub, std::string name, unsigned sim_size, unsigned align = 0, slab_flags_t flags = 0)
      : slub_(slub),
        cache_(slub.kmem_cache_create(std::move(name), sim_size, align, flags, {}, sizeof(Slot), alignof(Slot))) {}
  ~KmemCacheOf() {
    // Destroy host objects still allocated (their simulated memory stays with the slabs).
    std::vector<PhysAddr> live;
    slub_.for_each_allocated([&](const SlabObjectInfo& o) {
      if (o.cache == cache_) live.push_back(o.addr);
    });
    for (PhysAddr a : live) slot(a)->value()->~T();
  }
  KmemCacheOf(const KmemCacheOf&) = delete;
  KmemCacheOf& operator=(const KmemCacheOf&) = delete;

  template <class... Args>
  T* alloc(CpuId cpu, gfp_t gfp, int node, KernelCost& cost, AllocSite site, Args&&... args) {
    PhysAddr a = slub_.kmem_cache_alloc_node(cache_, cpu, gfp, node, cost, site);
    if (a == 0) return nullptr;
    Slot* sl = slot(a);
    sl->addr = a;
    return ::new (static_cast<void*>(sl->storage)) T(std::forward<Args>(args)...);
  }
  void free(CpuId cpu, T* obj, KernelCost& cost) {
    PhysAddr a = phys(obj);
    obj->~T();
    slub_.kmem_cache_free(cache_, cpu, a, cost);
  }
  static PhysAddr phys(const T* obj) { return reinterpret_cast<const Slot*>(obj)->addr; }
  T* from_phys(PhysAddr a) { return slot(a)->value(); }
  kmem_cache* cache() const { return cache_; }

 private:
  struct Slot {
    alignas(T) unsigned char storage[sizeof(T)];  // must stay first: T* == Slot*
    PhysAddr addr;
    T* value() { return std::launder(reinterpret_cast<T*>(storage)); }
  };
  Slot* slot(PhysAddr a) { return static_cast<Slot*>(slub_.host_ptr(a)); }
  Slub& slub_;
  kmem_cache* cache_;
};

}  // namespace numasim::os
