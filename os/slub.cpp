// SLUB object allocator (mm/slub.c): see os/slub.h for what is modelled and
// what is simplified.
#include "os/slub.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common/config.h"
#include "os/page.h"
#include "os/page_alloc.h"
#include "os/vmstat.h"

namespace numasim::os {

namespace {

constexpr unsigned MAX_OBJS_PER_PAGE = 32767;
constexpr unsigned MIN_PARTIAL = 5;
constexpr unsigned MAX_PARTIAL = 10;
constexpr unsigned kMinAlign = 8;  // ARCH_SLAB_MINALIGN and sizeof(void*)

constexpr unsigned align_up(unsigned x, unsigned a) { return (x + a - 1) / a * a; }

// get_order: smallest order whose block holds `size` bytes.
unsigned get_order(std::uint64_t size) {
  unsigned order = 0;
  while ((kPageSize << order) < size) ++order;
  return order;
}

unsigned order_objects(unsigned order, unsigned size) { return static_cast<unsigned>((kPageSize << order) / size); }

unsigned fls(unsigned x) { return x ? 32 - static_cast<unsigned>(std::countl_zero(x)) : 0; }

unsigned ilog2(unsigned x) { return fls(x) - 1; }

// calc_slab_order: lowest order in [min_order, max_order] wasting at most 1/fract_leftover.
unsigned calc_slab_order(unsigned size, unsigned min_order, unsigned max_order, unsigned fract_leftover) {
  unsigned order;
  for (order = min_order; order <= max_order; ++order) {
    unsigned slab_size = static_cast<unsigned>(kPageSize << order);
    unsigned rem = slab_size % size;
    if (rem <= slab_size / fract_leftover) break;
  }
  return order;
}

// calculate_alignment (mm/slab_common.c).
unsigned calculate_alignment(slab_flags_t flags, unsigned align, unsigned size) {
  if (flags & SLAB_HWCACHE_ALIGN) {
    unsigned ralign = kCacheLineBytes;
    while (size <= ralign / 2) ralign /= 2;
    align = std::max(align, ralign);
  }
  align = std::max(align, kMinAlign);
  return align_up(align, kMinAlign);
}

}  // namespace

std::string AllocSite::str() const {
  if (line == 0) return where ? where : "?";
  return std::string(where ? where : "?") + ":" + std::to_string(line);
}

// ---- configuration ----

SlubParams SlubParams::from_config(Config os) {
  SlubParams p;
  Config c = os.table("slub", "SLUB object allocator (slub_* boot parameters)");
  p.slub_min_objects =
      c.get<unsigned>("min_objects", p.slub_min_objects, "slub_min_objects (0: 4 * (fls(nr_cpus) + 1))", {0u, 32767u});
  p.slub_min_order = c.get<unsigned>("min_order", p.slub_min_order, "slub_min_order", {0u, MAX_ORDER - 1});
  p.slub_max_order = c.get<unsigned>("max_order", p.slub_max_order, "slub_max_order", {0u, MAX_ORDER - 1});
  if (p.slub_min_order > p.slub_max_order)
    c.error("min_order", "slub min_order " + std::to_string(p.slub_min_order) + " is above max_order " +
                             std::to_string(p.slub_max_order));
  p.cpu_partial = c.get<bool>("cpu_partial", p.cpu_partial, "per-CPU partial slabs (CONFIG_SLUB_CPU_PARTIAL)");
  p.remote_node_defrag_ratio =
      c.get<unsigned>("remote_node_defrag_ratio", p.remote_node_defrag_ratio,
                      "how often (0..100) partial slabs of other nodes are taken before a new slab", {0u, 100u});
  p.charge_freelist_traffic = c.get<bool>("charge_freelist_traffic", p.charge_freelist_traffic,
                                          "time the free-pointer load/store of each alloc/free through the machine");
  Config k = c.table("costs", "kernel cycles per SLUB operation");
  auto cyc = [&](const char* key, std::uint32_t& v, const char* what) {
    v = k.get<unsigned>(key, v, what, {0u, 1000000u});
  };
  cyc("alloc_fastpath_cycles", p.costs.alloc_fastpath_cycles, "allocation from the CPU freelist");
  cyc("free_fastpath_cycles", p.costs.free_fastpath_cycles, "free to the CPU's active slab");
  cyc("alloc_slowpath_cycles", p.costs.alloc_slowpath_cycles, "___slab_alloc refill");
  cyc("free_slowpath_cycles", p.costs.free_slowpath_cycles, "__slab_free to another slab");
  cyc("new_slab_cycles", p.costs.new_slab_cycles, "allocate_slab set-up (page allocation extra)");
  cyc("new_slab_object_cycles", p.costs.new_slab_object_cycles, "per object of a new slab");
  cyc("ctor_cycles", p.costs.ctor_cycles, "per constructor call");
  cyc("discard_slab_cycles", p.costs.discard_slab_cycles, "discard_slab (page freeing extra)");
  cyc("kmalloc_large_cycles", p.costs.kmalloc_large_cycles, "kmalloc_large bookkeeping");
  p.failslab = FailslabParams::from_config(os.table("failslab", "slab fault injection (failslab)"));
  return p;
}

// ---- construction ----

Slub::Slub(PhysMem& pm, const SlubParams& params)
    : pm_(pm), mem_map_(pm.pfn_to_page(Pfn(0))), params_(params), failslab_(params.failslab) {
  if (params_.slub_min_order > params_.slub_max_order || params_.slub_max_order >= MAX_ORDER)
    throw std::invalid_argument("slub: min_order/max_order out of range");
  node_has_memory_.assign(static_cast<std::size_t>(pm.nr_node_ids()), 0);
  nodemask_t mem = pm.node_states_memory();
  for (int n = 0; n < pm.nr_node_ids(); ++n) node_has_memory_[n] = node_isset(n, mem) ? 1 : 0;
  node_order_.resize(static_cast<std::size_t>(pm.nr_node_ids()));
  for (int n = 0; n < pm.nr_node_ids(); ++n) node_order_[n] = pm.node_order(NodeId(n));
}

Slub::~Slub() {
  // Host storage of slabs still alive (their frames belong to PhysMem, which may already be gone).
  for (std::uint32_t id = 0; id < nr_slab_records_; ++id) {
    Slab& s = slab_chunks_[id >> kSlabChunkShift][id & ((1u << kSlabChunkShift) - 1)];
    if (s.state != Slab::State::Free && s.cache) host_storage_free(s.cache, &s);
  }
}

kmem_cache_order_objects Slub::calculate_order(unsigned size, unsigned min_objects_param, unsigned min_order,
                                               unsigned max_order, unsigned nr_cpus) {
  unsigned min_objects = min_objects_param;
  if (!min_objects) min_objects = 4 * (fls(std::max(nr_cpus, 1u)) + 1);
  unsigned max_objects = std::max(order_objects(max_order, size), 1u);
  min_objects = std::min(min_objects, max_objects);
  unsigned order = std::max(min_order, get_order(static_cast<std::uint64_t>(min_objects) * size));
  if (order_objects(order, size) > MAX_OBJS_PER_PAGE) {
    order = get_order(static_cast<std::uint64_t>(size) * MAX_OBJS_PER_PAGE) - 1;
    return {order, order_objects(order, size)};
  }
  unsigned chosen = MAX_ORDER;
  for (unsigned fraction = 16; fraction > 1; fraction /= 2) {
    unsigned o = calc_slab_order(size, order, max_order, fraction);
    if (o <= max_order) {
      chosen = o;
      break;
    }
  }
  if (chosen == MAX_ORDER) chosen = get_order(size);
  return {chosen, order_objects(chosen, size)};
}

// kmem_cache_create -> do_kmem_cache_create: calculate_sizes, set_min_partial, set_cpu_partial.
kmem_cache* Slub::kmem_cache_create(std::string name, unsigned size, unsigned align, slab_flags_t flags,
                                    std::function<void(void*)> ctor, std::size_t host_obj_size,
                                    std::size_t host_obj_align) {
  if (size == 0) throw std::invalid_argument("kmem_cache_create(" + name + "): object size 0");
  if (align & (align - 1))
    throw std::invalid_argument("kmem_cache_create(" + name + "): alignment " + std::to_string(align) +
                                " is not a power of two");
  if (size > (kPageSize << (MAX_ORDER - 1)))
    throw std::invalid_argument("kmem_cache_create(" + name + "): object size " + std::to_string(size) +
                                " exceeds a MAX_ORDER-1 slab");
  auto s = std::make_unique<kmem_cache>();
  s->name = std::move(name);
  s->object_size = size;
  s->flags = flags;
  s->ctor = std::move(ctor);
  s->align = calculate_alignment(flags, align, size);
  // calculate_sizes: the free pointer sits in the middle of the object, or
  // after it when a constructor must keep the object's contents intact.
  unsigned sz = align_up(size, kMinAlign);
  if (s->ctor) {
    s->offset = sz;
    sz += kMinAlign;
  } else {
    s->offset = (size / 2) / kMinAlign * kMinAlign;
  }
  sz = align_up(sz, s->align);
  if (sz > (kPageSize << (MAX_ORDER - 1)))
    throw std::invalid_argument("kmem_cache_create(" + s->name + "): object too large");
  s->size = sz;
  s->oo = calculate_order(sz, params_.slub_min_objects, params_.slub_min_order, params_.slub_max_order,
                          static_cast<unsigned>(pm_.nr_cpu_ids()));
  unsigned min_order = get_order(sz);
  s->min = {min_order, order_objects(min_order, sz)};
  if (s->oo.objects == 0) s->oo = s->min;
  s->allocflags = (flags & SLAB_RECLAIM_ACCOUNT) ? __GFP_RECLAIMABLE : 0;
  if (flags & SLAB_CACHE_DMA) s->allocflags |= __GFP_DMA;
  s->min_partial = std::clamp<unsigned long>(ilog2(sz) / 2, MIN_PARTIAL, MAX_PARTIAL);
  // set_cpu_partial
  unsigned nr_objects = 0;
  if (params_.cpu_partial) {
    if (sz >= kPageSize)
      nr_objects = 6;
    else if (sz >= 1024)
      nr_objects = 24;
    else if (sz >= 256)
      nr_objects = 52;
    else
      nr_objects = 120;
  }
  s->cpu_partial = nr_objects;
  s->cpu_partial_slabs = nr_objects ? (nr_objects * 2 + s->oo.objects - 1) / s->oo.objects : 0;
  s->reciprocal_size = ((1ull << 40) + sz - 1) / sz;
  s->host_obj_size = host_obj_size;
  s->host_obj_align = std::max<std::size_t>(host_obj_align, 1);
  s->cpu_slab.resize(static_cast<std::size_t>(pm_.nr_cpu_ids()));
  s->node.resize(static_cast<std::size_t>(pm_.nr_node_ids()));
  s->index = static_cast<int>(caches_.size());
  caches_.push_back(std::move(s));
  return caches_.back().get();
}

bool Slub::kmem_cache_destroy(kmem_cache* s, KernelCost& cost) {
  if (s->inuse_objects != 0) return false;  // "objects remaining in %s on __kmem_cache_shutdown()"
  flush_all(s, CpuId(0), cost, /*all_empty=*/true);
  for (auto& n : s->node)
    if (n.nr_slabs != 0) {
      std::fprintf(stderr, "slub: %s: slabs remain after shutdown\n", s->name.c_str());
      std::abort();
    }
  auto it = std::find_if(caches_.begin(), caches_.end(), [&](const auto& p) { return p.get() == s; });
  caches_.erase(it);
  for (std::size_t i = 0; i < caches_.size(); ++i) caches_[i]->index = static_cast<int>(i);
  return true;
}

kmem_cache* Slub::find_cache(std::string_view name) const {
  for (const auto& c : caches_)
    if (c->name == name) return c.get();
  return nullptr;
}

// ---- slab table ----

Slab* Slub::get_slab_record() {
  if (!free_slab_records_.empty()) {
    Slab* s = free_slab_records_.back();
    free_slab_records_.pop_back();
    return s;
  }
  std::uint32_t id = nr_slab_records_++;
  std::uint32_t chunk = id >> kSlabChunkShift;
  if (chunk >= slab_chunks_.size()) slab_chunks_.push_back(std::make_unique<Slab[]>(1u << kSlabChunkShift));
  Slab* s = &slab_chunks_[chunk][id & ((1u << kSlabChunkShift) - 1)];
  s->id = id;
  return s;
}

void Slub::put_slab_record(Slab* slab) {
  slab->state = Slab::State::Free;
  slab->cache = nullptr;
  slab->cpu = -1;
  free_slab_records_.push_back(slab);
}

Slab* Slub::slab_of(const page* pg) const {
  std::uint32_t id = pg->private_;
  return &slab_chunks_[id >> kSlabChunkShift][id & ((1u << kSlabChunkShift) - 1)];
}

Slab* Slub::addr_to_slab(PhysAddr addr) {
  std::uint64_t pfn = addr >> kPageShift;
  if (pfn >= pm_.max_pfn()) return nullptr;
  const page* pg = pm_.pfn_to_page(Pfn(pfn));
  if (!PageSlab(pg)) return nullptr;
  Slab* s = slab_of(pg);
  return s->state == Slab::State::Free ? nullptr : s;
}

const Slab* Slub::addr_to_slab(PhysAddr addr) const { return const_cast<Slub*>(this)->addr_to_slab(addr); }

bool Slub::is_allocated(PhysAddr obj) const {
  const Slab* slab = addr_to_slab(obj);
  if (!slab) return large_.count(obj >> kPageShift) && (obj & (kPageSize - 1)) == 0;
  std::uint32_t idx = slab->cache->obj_to_index(*slab, obj);
  return idx < slab->objects && slab->base + static_cast<PhysAddr>(idx) * slab->cache->size == obj &&
         slab->meta[idx].allocated;
}

bool Slub::kmemleak_not_leak(PhysAddr obj) {
  if (!is_allocated(obj)) return false;
  if (Slab* slab = addr_to_slab(obj)) {
    slab->meta[slab->cache->obj_to_index(*slab, obj)].not_leak = 1;
  } else {
    large_.find(obj >> kPageShift)->second.not_leak = true;
  }
  return true;
}

std::uint32_t Slub::object_memcg(PhysAddr obj) const {
  const Slab* slab = addr_to_slab(obj);
  if (!slab || !slab->objcgs) return 0;
  return slab->objcgs[slab->cache->obj_to_index(*slab, obj)];
}

void* Slub::host_ptr(PhysAddr obj) {
  Slab* slab = addr_to_slab(obj);
  if (!slab || !slab->host) return nullptr;
  std::uint32_t idx = slab->cache->obj_to_index(*slab, obj);
  return slab->host + static_cast<std::size_t>(idx) * slab->cache->host_obj_size;
}

void Slub::host_storage_alloc(kmem_cache* s, Slab* slab) {
  if (!s->host_obj_size) {
    slab->host = nullptr;
    return;
  }
  slab->host =
      static_cast<std::byte*>(::operator new(s->host_obj_size * slab->objects, std::align_val_t(s->host_obj_align)));
}

void Slub::host_storage_free(kmem_cache* s, Slab* slab) {
  if (slab->host) ::operator delete(slab->host, std::align_val_t(s->host_obj_align));
  slab->host = nullptr;
}

[[noreturn]] void Slub::bad_free(const kmem_cache* s, PhysAddr obj, const char* why) const {
  std::fprintf(stderr, "slub: kmem_cache_free(%s, 0x%llx): %s\n", s ? s->name.c_str() : "?",
               static_cast<unsigned long long>(obj), why);
  std::abort();
}

// ---- allocation ----

void Slub::freelist_traffic(CpuId cpu, const kmem_cache* s, PhysAddr obj, bool write, KernelCost& cost) {
  if (!params_.charge_freelist_traffic) return;
  Platform& p = pm_.platform();
  cost.add_memory(write ? p.kernel_write(cpu, obj + s->offset, Bytes(8))
                        : p.kernel_read(cpu, obj + s->offset, Bytes(8)));
}

// slab_alloc_node: should_failslab, then the per-CPU fast path, else ___slab_alloc.
PhysAddr Slub::kmem_cache_alloc_node(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost, AllocSite site) {
  if (failslab_.should_failslab(gfp, (s->flags & SLAB_FAILSLAB) != 0)) {
    ++s->stats.failslab;
    return 0;
  }
  // memcg_slab_pre_alloc_hook: accounted objects are charged before the allocation.
  long memcg = 0;
  if (memcg_hooks_ && ((s->flags & SLAB_ACCOUNT) || (gfp & __GFP_ACCOUNT))) [[unlikely]] {
    memcg = memcg_hooks_->slab_pre_alloc_hook(s, gfp, cpu, cost);
    if (memcg < 0) return 0;
  }
  kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
  Slab* slab = c.slab;
  if (slab && c.freelist != Slab::kEnd && (node == NUMA_NO_NODE || slab->nid == node)) [[likely]] {
    ++s->stats.alloc_fastpath;
    cost.add_cycles(params_.costs.alloc_fastpath_cycles);
  } else {
    ++s->stats.alloc_slowpath;
    cost.add_cycles(params_.costs.alloc_slowpath_cycles);
    if (!___slab_alloc(s, cpu, gfp, node, cost)) {
      if (memcg) memcg_hooks_->slab_post_alloc_hook(s, static_cast<std::uint32_t>(memcg), NodeId(0), false, cpu);
      return 0;
    }
    slab = c.slab;
  }
  std::uint32_t idx = c.freelist;
  Slab::ObjMeta& m = slab->meta[idx];
  c.freelist = m.next;
  --c.nr_free;
  m.allocated = 1;
  m.not_leak = 0;
  m.site = site.where;
  m.line = site.line;
  ++slab->inuse;
  ++s->inuse_objects;
  PhysAddr obj = slab->base + static_cast<PhysAddr>(idx) * s->size;
  freelist_traffic(cpu, s, obj, false, cost);
  if (gfp & __GFP_ZERO) cost.add_memory(pm_.platform().kernel_write(cpu, obj, Bytes(s->object_size)));
  if (memcg) [[unlikely]] {  // memcg_slab_post_alloc_hook
    if (!slab->objcgs) slab->objcgs = std::make_unique<std::uint32_t[]>(slab->objects);  // memcg_alloc_slab_cgroups
    slab->objcgs[idx] = static_cast<std::uint32_t>(memcg);
    memcg_hooks_->slab_post_alloc_hook(s, static_cast<std::uint32_t>(memcg), NodeId(slab->nid), true, cpu);
  }
  return obj;
}

// Makes `slab` the CPU's active (frozen) slab, taking over its freelist.
static void activate_slab(kmem_cache_cpu& c, Slab* slab, CpuId cpu) {
  slab->state = Slab::State::CpuActive;
  slab->cpu = cpu.value();
  c.slab = slab;
  c.freelist = slab->freelist;
  c.nr_free = slab->nr_free_list;
  slab->freelist = Slab::kEnd;
  slab->nr_free_list = 0;
}

// ___slab_alloc: refill the CPU's freelist from remote frees, the CPU partial
// list, the node partial lists or a new slab (6.x: a requested node is tried
// with __GFP_THISNODE first, then with the caller's flags). False: no memory.
bool Slub::___slab_alloc(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost) {
  kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
  if (node != NUMA_NO_NODE &&
      (node < 0 || node >= static_cast<int>(node_has_memory_.size()) || !node_has_memory_[node]))
    node = NUMA_NO_NODE;
  if (Slab* slab = c.slab) {
    if (node != NUMA_NO_NODE && slab->nid != node) {
      ++s->stats.alloc_node_mismatch;
      deactivate_slab(s, cpu, cost);
    } else if (c.freelist != Slab::kEnd) {
      return true;
    } else if (slab->freelist != Slab::kEnd) {
      // get_freelist: objects freed remotely into our frozen slab.
      c.freelist = slab->freelist;
      c.nr_free = slab->nr_free_list;
      slab->freelist = Slab::kEnd;
      slab->nr_free_list = 0;
      ++s->stats.alloc_refill;
      return true;
    } else {
      // The active slab is full: unfreeze it off every list.
      slab->state = Slab::State::Full;
      slab->cpu = -1;
      c.slab = nullptr;
      c.freelist = Slab::kEnd;
      c.nr_free = 0;
      ++s->stats.deactivate_full;
    }
  }
  // slub_percpu_partial: the next slab of the CPU partial list.
  while (Slab* p = list_first_slab(c.partial)) {
    list_del(mem_map_, c.partial, slab_page(p));
    --c.partial_slabs;
    if (node != NUMA_NO_NODE && p->nid != node) {
      SlabList one;
      list_add(mem_map_, one, slab_page(p));
      put_partials(s, cpu, one, cost);
      continue;
    }
    activate_slab(c, p, cpu);
    ++s->stats.cpu_partial_alloc;
    return true;
  }
  bool try_thisnode = true;
  for (;;) {
    gfp_t pc_flags = gfp;
    bool opportunistic = node != NUMA_NO_NODE && !(gfp & __GFP_THISNODE) && try_thisnode;
    if (opportunistic) pc_flags = GFP_NOWAIT | __GFP_THISNODE;
    if (Slab* slab = get_partial(s, cpu, node, pc_flags)) {
      activate_slab(c, slab, cpu);
      ++s->stats.alloc_from_partial;
      return true;
    }
    if (Slab* slab = new_slab(s, cpu, pc_flags, node, cost)) {
      activate_slab(c, slab, cpu);
      ++s->stats.alloc_slab;
      return true;
    }
    if (opportunistic) {
      try_thisnode = false;
      continue;
    }
    ++s->stats.alloc_failed;
    return false;
  }
}

// get_partial: the requested (or local) node's partial list, then other nodes'.
Slab* Slub::get_partial(kmem_cache* s, CpuId cpu, int node, gfp_t gfp) {
  int searchnode = node == NUMA_NO_NODE ? pm_.cpu_to_node(cpu).value() : node;
  Slab* slab = get_partial_node(s, cpu, s->node[static_cast<std::size_t>(searchnode)]);
  if (slab || (node != NUMA_NO_NODE && (gfp & __GFP_THISNODE))) return slab;
  return get_any_partial(s, cpu);
}

// get_partial_node: the first partial slab becomes the CPU slab, more go to
// the CPU partial list until it holds half of cpu_partial_slabs.
Slab* Slub::get_partial_node(kmem_cache* s, CpuId cpu, kmem_cache_node& n) {
  if (n.nr_partial == 0) return nullptr;
  Slab* first = nullptr;
  unsigned partial_slabs = 0;
  for (Slab* sl = list_first_slab(n.partial); sl;) {
    Slab* nxt = list_next_slab(sl);
    remove_partial(n, sl);
    if (!first) {
      first = sl;
    } else {
      kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
      sl->state = Slab::State::CpuPartial;
      sl->cpu = cpu.value();
      list_add(mem_map_, c.partial, slab_page(sl));
      ++c.partial_slabs;
      ++partial_slabs;
      ++s->stats.cpu_partial_node;
    }
    if (!s->cpu_partial_slabs || partial_slabs > s->cpu_partial_slabs / 2) break;
    sl = nxt;
  }
  return first;
}

// get_any_partial: partial slabs of other nodes in zonelist order, only from
// nodes holding more than min_partial, gated by remote_node_defrag_ratio
// (a counter replaces get_cycles() for determinism).
Slab* Slub::get_any_partial(kmem_cache* s, CpuId cpu) {
  unsigned ratio = params_.remote_node_defrag_ratio * 10;
  if (!ratio || (defrag_counter_++ % 1024) > ratio) return nullptr;
  for (int nid : node_order_[static_cast<std::size_t>(pm_.cpu_to_node(cpu).value())]) {
    kmem_cache_node& n = s->node[static_cast<std::size_t>(nid)];
    if (n.nr_partial > s->min_partial)
      if (Slab* slab = get_partial_node(s, cpu, n)) return slab;
  }
  return nullptr;
}

// Allocates a block on PFN > 0 (address 0 is NULL): a block holding PFN 0 is
// kept back for good and the allocation retried once.
static page* alloc_not_zero(PhysMem& pm, CpuId cpu, gfp_t gfp, unsigned order, NodeId nid, KernelCost& cost,
                            page*& pinned) {
  page* pg = pm.alloc_pages(cpu, gfp, order, nid, nullptr, cost);
  if (pg && pm.page_to_pfn(pg).value() == 0) {
    pinned = pg;
    pg = pm.alloc_pages(cpu, gfp, order, nid, nullptr, cost);
  }
  return pg;
}

// new_slab -> allocate_slab: pages for the preferred order without retrying,
// else for the minimum order with the caller's flags (through the slow path); the frames are marked PG_slab and accounted to
// the slab's node; the freelist links every object in order; ctor runs on each.
Slab* Slub::new_slab(kmem_cache* s, CpuId cpu, gfp_t gfp, int node, KernelCost& cost) {
  NodeId nid = node == NUMA_NO_NODE ? pm_.cpu_to_node(cpu) : NodeId(node);
  gfp_t flags = (gfp & ~(__GFP_ZERO | __GFP_COMP)) | s->allocflags;
  unsigned order = s->oo.order, objects = s->oo.objects;
  // The preferred order may fail under pressure (no retries, no OOM, and no
  // reclaim at all when a smaller order exists); the minimum order is then
  // asked with the caller's flags, so it goes the whole slow path (a GFP_KERNEL
  // slab page in a fault may OOM-kill, as Linux).
  gfp_t first = (flags | __GFP_NOWARN | __GFP_NORETRY) & ~__GFP_NOFAIL;
  if ((first & __GFP_DIRECT_RECLAIM) && order > s->min.order) first = (first | __GFP_NOMEMALLOC) & ~__GFP_RECLAIM;
  page* pg = alloc_not_zero(pm_, cpu, first, order, nid, cost, pinned_zero_page_);
  if (!pg) {
    order = s->min.order;
    objects = s->min.objects;
    pg = alloc_not_zero(pm_, cpu, flags, order, nid, cost, pinned_zero_page_);
  }
  if (!pg) return nullptr;
  Slab* slab = get_slab_record();
  slab->cache = s;
  slab->base = pm_.page_to_phys(pg);
  slab->order = static_cast<std::uint8_t>(order);
  slab->objects = objects;
  slab->inuse = 0;
  slab->nid = static_cast<std::int16_t>(pm_.page_to_nid(pg).value());
  slab->state = Slab::State::Full;  // caller activates it
  slab->cpu = -1;
  if (slab->meta_capacity < objects) {
    slab->meta = std::make_unique<Slab::ObjMeta[]>(objects);
    slab->meta_capacity = objects;
  }
  for (std::uint32_t i = 0; i < objects; ++i) {
    Slab::ObjMeta& m = slab->meta[i];
    m.next = i + 1 < objects ? i + 1 : Slab::kEnd;
    m.allocated = 0;
    m.not_leak = 0;
    m.line = 0;
    m.site = nullptr;
  }
  slab->freelist = 0;
  slab->nr_free_list = objects;
  for (std::uint32_t i = 0; i < (1u << order); ++i) {
    page* p = pg + i;
    p->set(PG_slab);
    p->private_ = slab->id;
  }
  std::int64_t bytes = static_cast<std::int64_t>(kPageSize << order);
  pm_.mod_node_page_state(NodeId(slab->nid),
                          (s->flags & SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE_B : NR_SLAB_UNRECLAIMABLE_B, bytes);
  kmem_cache_node& n = s->node[static_cast<std::size_t>(slab->nid)];
  ++n.nr_slabs;
  n.total_objects += objects;
  host_storage_alloc(s, slab);
  cost.add_cycles(params_.costs.new_slab_cycles + std::uint64_t{params_.costs.new_slab_object_cycles} * objects);
  if (s->ctor) {
    for (std::uint32_t i = 0; i < objects; ++i)
      s->ctor(slab->host ? slab->host + std::size_t{i} * s->host_obj_size : nullptr);
    cost.add_cycles(std::uint64_t{params_.costs.ctor_cycles} * objects);
    cost.add_memory(pm_.platform().kernel_write(cpu, slab->base, Bytes(std::uint64_t{objects} * s->size)));
  }
  return slab;
}

// discard_slab -> free_slab: pages back to the buddy, stats undone.
void Slub::discard_slab(kmem_cache* s, CpuId cpu, Slab* slab, KernelCost& cost) {
  kmem_cache_node& n = s->node[static_cast<std::size_t>(slab->nid)];
  --n.nr_slabs;
  n.total_objects -= slab->objects;
  page* pg = pm_.pfn_to_page(Pfn(slab->pfn()));
  for (std::uint32_t i = 0; i < slab->nr_pages(); ++i) {
    page* p = pg + i;
    p->clear(PG_slab);
    p->private_ = 0;
  }
  pm_.mod_node_page_state(NodeId(slab->nid),
                          (s->flags & SLAB_RECLAIM_ACCOUNT) ? NR_SLAB_RECLAIMABLE_B : NR_SLAB_UNRECLAIMABLE_B,
                          -static_cast<std::int64_t>(kPageSize << slab->order));
  host_storage_free(s, slab);
  slab->objcgs.reset();  // memcg_free_slab_cgroups
  ++s->stats.free_slab;
  cost.add_cycles(params_.costs.discard_slab_cycles);
  unsigned order = slab->order;
  put_slab_record(slab);
  pm_.free_pages(cpu, pg, order, cost);
}

void Slub::add_partial(kmem_cache_node& n, Slab* slab, bool tail) {
  slab->state = Slab::State::NodePartial;
  slab->cpu = -1;
  if (tail)
    list_add_tail(mem_map_, n.partial, slab_page(slab));
  else
    list_add(mem_map_, n.partial, slab_page(slab));
  ++n.nr_partial;
}

void Slub::remove_partial(kmem_cache_node& n, Slab* slab) {
  list_del(mem_map_, n.partial, slab_page(slab));
  --n.nr_partial;
}

// deactivate_slab: the CPU's freelist goes back into its slab, which then sits
// on its node's partial list, is discarded when empty beyond min_partial, or
// is left off every list when full.
void Slub::deactivate_slab(kmem_cache* s, CpuId cpu, KernelCost& cost) {
  kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
  Slab* slab = c.slab;
  bool remote_frees = slab->freelist != Slab::kEnd;
  for (std::uint32_t idx = c.freelist; idx != Slab::kEnd;) {
    std::uint32_t nxt = slab->meta[idx].next;
    slab->meta[idx].next = slab->freelist;
    slab->freelist = idx;
    ++slab->nr_free_list;
    idx = nxt;
  }
  c.slab = nullptr;
  c.freelist = Slab::kEnd;
  c.nr_free = 0;
  kmem_cache_node& n = s->node[static_cast<std::size_t>(slab->nid)];
  if (slab->inuse == 0 && n.nr_partial >= s->min_partial) {
    ++s->stats.deactivate_empty;
    discard_slab(s, cpu, slab, cost);
  } else if (slab->freelist != Slab::kEnd) {
    ++s->stats.deactivate_to_partial;
    add_partial(n, slab, remote_frees);
  } else {
    ++s->stats.deactivate_full;
    slab->state = Slab::State::Full;
    slab->cpu = -1;
  }
}

// put_cpu_partial (drain = true): a full CPU partial list is first flushed to the nodes.
void Slub::put_cpu_partial(kmem_cache* s, CpuId cpu, Slab* slab, KernelCost& cost) {
  kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
  if (c.partial_slabs >= s->cpu_partial_slabs && !c.partial.empty()) {
    const SlabList old = c.partial;  // detached: the links live in the pages
    c.partial = SlabList{};
    c.partial_slabs = 0;
    ++s->stats.cpu_partial_drain;
    put_partials(s, cpu, old, cost);
  }
  slab->state = Slab::State::CpuPartial;
  slab->cpu = cpu.value();
  list_add(mem_map_, c.partial, slab_page(slab));
  ++c.partial_slabs;
}

// __put_partials: slabs of a detached CPU partial list go to their nodes'
// partial lists, empty ones beyond min_partial to the buddy.
void Slub::put_partials(kmem_cache* s, CpuId cpu, SlabList chain, KernelCost& cost) {
  while (Slab* slab = list_first_slab(chain)) {
    list_del(mem_map_, chain, slab_page(slab));
    kmem_cache_node& n = s->node[static_cast<std::size_t>(slab->nid)];
    if (slab->inuse == 0 && n.nr_partial >= s->min_partial) {
      discard_slab(s, cpu, slab, cost);
    } else {
      add_partial(n, slab, true);
      ++s->stats.free_add_partial;
    }
  }
}

// ---- free ----

// slab_free / do_slab_free: the fast path when the object belongs to this
// CPU's active slab, __slab_free otherwise.
void Slub::kmem_cache_free(kmem_cache* s, CpuId cpu, PhysAddr obj, KernelCost& cost) {
  Slab* slab = addr_to_slab(obj);
  if (!slab) bad_free(s, obj, "address is not in a slab page");
  if (slab->cache != s) bad_free(s, obj, ("object belongs to cache " + slab->cache->name).c_str());
  do_slab_free(s, slab, cpu, obj, cost);
}

bool Slub::free_slab_object(CpuId cpu, PhysAddr obj, KernelCost& cost) {
  Slab* slab = addr_to_slab(obj);
  if (!slab) return false;
  do_slab_free(slab->cache, slab, cpu, obj, cost);
  return true;
}

void Slub::do_slab_free(kmem_cache* s, Slab* slab, CpuId cpu, PhysAddr obj, KernelCost& cost) {
  std::uint32_t idx = s->obj_to_index(*slab, obj);
  if (idx >= slab->objects || slab->base + static_cast<PhysAddr>(idx) * s->size != obj)
    bad_free(s, obj, "address is not the start of an object");
  Slab::ObjMeta& m = slab->meta[idx];
  if (!m.allocated) bad_free(s, obj, "double free (object is already free)");
  m.allocated = 0;
  if (slab->objcgs && slab->objcgs[idx]) [[unlikely]] {  // memcg_slab_free_hook
    const std::uint32_t memcg = slab->objcgs[idx];
    slab->objcgs[idx] = 0;
    memcg_hooks_->slab_free_hook(s, memcg, NodeId(slab->nid), cpu);
  }
  --slab->inuse;
  --s->inuse_objects;
  freelist_traffic(cpu, s, obj, true, cost);
  kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(cpu.value())];
  if (slab == c.slab) [[likely]] {
    m.next = c.freelist;
    c.freelist = idx;
    ++c.nr_free;
    ++s->stats.free_fastpath;
    cost.add_cycles(params_.costs.free_fastpath_cycles);
    return;
  }
  __slab_free(s, cpu, slab, idx, cost);
}

// __slab_free: the object goes onto its slab's own freelist; a slab that was
// full moves to the freeing CPU's partial list; a node-partial slab that
// became empty is discarded when its node keeps min_partial slabs already.
void Slub::__slab_free(kmem_cache* s, CpuId cpu, Slab* slab, std::uint32_t idx, KernelCost& cost) {
  ++s->stats.free_slowpath;
  cost.add_cycles(params_.costs.free_slowpath_cycles);
  if (slab->nid != pm_.cpu_to_node(cpu).value()) ++s->stats.free_remote;
  Slab::State was = slab->state;
  slab->meta[idx].next = slab->freelist;
  slab->freelist = idx;
  ++slab->nr_free_list;
  kmem_cache_node& n = s->node[static_cast<std::size_t>(slab->nid)];
  switch (was) {
    case Slab::State::CpuActive:
    case Slab::State::CpuPartial:
      return;  // frozen or on a CPU list: the owner finds the object later
    case Slab::State::Full:
      if (s->cpu_partial_slabs) {
        put_cpu_partial(s, cpu, slab, cost);
        ++s->stats.cpu_partial_free;
      } else if (slab->inuse == 0 && n.nr_partial >= s->min_partial) {
        discard_slab(s, cpu, slab, cost);
      } else {
        add_partial(n, slab, true);
        ++s->stats.free_add_partial;
      }
      return;
    case Slab::State::NodePartial:
      if (slab->inuse == 0 && n.nr_partial >= s->min_partial) {
        remove_partial(n, slab);
        ++s->stats.free_remove_partial;
        discard_slab(s, cpu, slab, cost);
      }
      return;
    case Slab::State::Free:
      break;
  }
  bad_free(s, slab->base, "slab record in an impossible state");
}

void Slub::flush_all(kmem_cache* s, CpuId cpu, KernelCost& cost, bool all_empty) {
  for (std::size_t i = 0; i < s->cpu_slab.size(); ++i) {
    kmem_cache_cpu& c = s->cpu_slab[i];
    if (c.slab) deactivate_slab(s, CpuId(static_cast<std::int32_t>(i)), cost);
    if (!c.partial.empty()) {
      const SlabList head = c.partial;
      c.partial = SlabList{};
      c.partial_slabs = 0;
      put_partials(s, cpu, head, cost);
    }
  }
  if (all_empty) {
    for (auto& n : s->node)
      for (Slab* sl = list_first_slab(n.partial); sl;) {
        Slab* nxt = list_next_slab(sl);
        if (sl->inuse == 0) {
          remove_partial(n, sl);
          discard_slab(s, cpu, sl, cost);
        }
        sl = nxt;
      }
  }
}

// ---- kmalloc_large ----

PhysAddr Slub::alloc_large(CpuId cpu, gfp_t gfp, std::size_t size, int node, KernelCost& cost, AllocSite site) {
  unsigned order = get_order(size);
  if (order >= MAX_ORDER) return 0;
  if (node != NUMA_NO_NODE &&
      (node < 0 || node >= static_cast<int>(node_has_memory_.size()) || !node_has_memory_[node]))
    node = NUMA_NO_NODE;
  NodeId nid = node == NUMA_NO_NODE ? pm_.cpu_to_node(cpu) : NodeId(node);
  page* pg = alloc_not_zero(pm_, cpu, gfp & ~__GFP_COMP, order, nid, cost, pinned_zero_page_);
  if (!pg) return 0;
  cost.add_cycles(params_.costs.kmalloc_large_cycles);
  std::uint64_t pfn = pm_.page_to_pfn(pg).value();
  large_[pfn] = LargeBlock{order, size, site};
  large_pages_ += 1ull << order;
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_SLAB_UNRECLAIMABLE_B, static_cast<std::int64_t>(kPageSize << order));
  return pfn << kPageShift;
}

bool Slub::free_large(CpuId cpu, PhysAddr addr, KernelCost& cost) {
  if (addr & (kPageSize - 1)) return false;
  auto it = large_.find(addr >> kPageShift);
  if (it == large_.end()) return false;
  unsigned order = it->second.order;
  page* pg = pm_.pfn_to_page(Pfn(it->first));
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_SLAB_UNRECLAIMABLE_B, -static_cast<std::int64_t>(kPageSize << order));
  large_pages_ -= 1ull << order;
  large_.erase(it);
  cost.add_cycles(params_.costs.kmalloc_large_cycles);
  pm_.free_pages(cpu, pg, order, cost);
  return true;
}

std::size_t Slub::large_size(PhysAddr addr) const {
  if (addr & (kPageSize - 1)) return 0;
  auto it = large_.find(addr >> kPageShift);
  return it == large_.end() ? 0 : it->second.size;
}

// ---- enumeration and statistics ----

void Slub::for_each_allocated(const std::function<void(const SlabObjectInfo&)>& fn) const {
  std::vector<std::vector<const Slab*>> per_cache(caches_.size());
  for (std::uint32_t id = 0; id < nr_slab_records_; ++id) {
    const Slab& s = slab_chunks_[id >> kSlabChunkShift][id & ((1u << kSlabChunkShift) - 1)];
    if (s.state != Slab::State::Free && s.inuse) per_cache[static_cast<std::size_t>(s.cache->index)].push_back(&s);
  }
  for (std::size_t ci = 0; ci < caches_.size(); ++ci) {
    auto& v = per_cache[ci];
    std::sort(v.begin(), v.end(), [](const Slab* a, const Slab* b) { return a->base < b->base; });
    const kmem_cache* c = caches_[ci].get();
    for (const Slab* s : v)
      for (std::uint32_t i = 0; i < s->objects; ++i)
        if (s->meta[i].allocated)
          fn(SlabObjectInfo{s->base + static_cast<PhysAddr>(i) * c->size, c, c->object_size, NodeId(s->nid),
                            AllocSite{s->meta[i].site ? s->meta[i].site : "?", s->meta[i].line},
                            s->meta[i].not_leak != 0});
  }
  for (const auto& [pfn, b] : large_)
    fn(SlabObjectInfo{pfn << kPageShift, nullptr, b.size, pm_.page_to_nid(pm_.pfn_to_page(Pfn(pfn))), b.site,
                      b.not_leak});
}

std::uint64_t Slub::nr_allocated_objects() const {
  std::uint64_t n = large_.size();
  for (const auto& c : caches_) n += c->inuse_objects;
  return n;
}

std::uint64_t Slub::slab_pages(NodeId nid) const {
  std::uint64_t pages = 0;
  for (std::uint32_t id = 0; id < nr_slab_records_; ++id) {
    const Slab& s = slab_chunks_[id >> kSlabChunkShift][id & ((1u << kSlabChunkShift) - 1)];
    if (s.state != Slab::State::Free && s.nid == nid.value()) pages += s.nr_pages();
  }
  for (const auto& [pfn, b] : large_)
    if (pm_.page_to_nid(pm_.pfn_to_page(Pfn(pfn))) == nid) pages += 1ull << b.order;
  return pages;
}

// get_slabinfo: active objects are total minus the free objects on node
// partial lists (objects free in CPU slabs count as active, as in Linux).
Slub::CacheInfo Slub::cache_info(const kmem_cache& s) const {
  CacheInfo info;
  unsigned long nr_free = 0;
  for (const auto& n : s.node) {
    info.num_slabs += n.nr_slabs;
    info.num_objs += n.total_objects;
    info.partial_slabs += n.nr_partial;
    for (const Slab* sl = list_first_slab(n.partial); sl; sl = list_next_slab(sl)) nr_free += sl->objects - sl->inuse;
  }
  for (const auto& c : s.cpu_slab) {
    info.cpu_slabs += (c.slab ? 1 : 0) + c.partial_slabs;
  }
  info.active_objs = info.num_objs - nr_free;
  info.inuse_objs = s.inuse_objects;
  return info;
}

// ---- checker ----

namespace {
[[noreturn]] void slub_bug(const kmem_cache* s, const Slab* slab, const std::string& what) {
  std::fprintf(stderr, "slub check: cache %s slab %u (0x%llx): %s\n", s ? s->name.c_str() : "?", slab ? slab->id : 0u,
               slab ? static_cast<unsigned long long>(slab->base) : 0ull, what.c_str());
  std::abort();
}
}  // namespace

void Slub::check_consistency() const {
  std::vector<std::int64_t> recl(static_cast<std::size_t>(pm_.nr_node_ids()), 0);
  std::vector<std::int64_t> unrecl(static_cast<std::size_t>(pm_.nr_node_ids()), 0);
  std::vector<std::uint8_t> seen;
  for (const auto& cp : caches_) {
    const kmem_cache* s = cp.get();
    std::vector<unsigned long> nr_slabs(s->node.size(), 0), total(s->node.size(), 0);
    std::uint64_t inuse_sum = 0;
    // List membership: node partial lists and CPU lists must match slab states.
    for (std::size_t nid = 0; nid < s->node.size(); ++nid) {
      unsigned long len = 0;
      for (const Slab* sl = list_first_slab(s->node[nid].partial); sl; sl = list_next_slab(sl)) {
        ++len;
        if (sl->state != Slab::State::NodePartial || sl->cache != s || sl->nid != static_cast<int>(nid))
          slub_bug(s, sl, "slab on node partial list in wrong state or node");
        const std::uint32_t next = slab_page(sl)->lru_next;
        if (next != kNoPfn32 && mem_map_[next].lru_prev != sl->pfn()) slub_bug(s, sl, "node partial list links broken");
      }
      if (len != s->node[nid].nr_partial) slub_bug(s, nullptr, "nr_partial does not match the list");
    }
    for (std::size_t cpu = 0; cpu < s->cpu_slab.size(); ++cpu) {
      const kmem_cache_cpu& c = s->cpu_slab[cpu];
      unsigned len = 0;
      for (const Slab* sl = list_first_slab(c.partial); sl; sl = list_next_slab(sl)) {
        ++len;
        if (sl->state != Slab::State::CpuPartial || sl->cpu != static_cast<int>(cpu) || sl->cache != s)
          slub_bug(s, sl, "slab on CPU partial list in wrong state");
      }
      if (len != c.partial_slabs) slub_bug(s, nullptr, "partial_slabs does not match the CPU partial list");
      if (c.slab && (c.slab->state != Slab::State::CpuActive || c.slab->cpu != static_cast<int>(cpu)))
        slub_bug(s, c.slab, "CPU slab not frozen for this CPU");
      if (!c.slab && c.freelist != Slab::kEnd) slub_bug(s, nullptr, "CPU freelist without a CPU slab");
    }
    for (std::uint32_t id = 0; id < nr_slab_records_; ++id) {
      const Slab& sl = slab_chunks_[id >> kSlabChunkShift][id & ((1u << kSlabChunkShift) - 1)];
      if (sl.state == Slab::State::Free || sl.cache != s) continue;
      if (sl.id != id) slub_bug(s, &sl, "slab id mismatch");
      ++nr_slabs[static_cast<std::size_t>(sl.nid)];
      total[static_cast<std::size_t>(sl.nid)] += sl.objects;
      if (!((sl.order == s->oo.order && sl.objects == s->oo.objects) ||
            (sl.order == s->min.order && sl.objects == s->min.objects)))
        slub_bug(s, &sl, "slab order/objects match neither oo nor min");
      const page* pg = pm_.pfn_to_page(Pfn(sl.pfn()));
      if (pm_.page_to_nid(pg).value() != sl.nid) slub_bug(s, &sl, "slab node differs from its page's node");
      for (std::uint32_t i = 0; i < sl.nr_pages(); ++i)
        if (!PageSlab(pg + i) || pg[i].private_ != id) slub_bug(s, &sl, "slab page without PG_slab/owner");
      seen.assign(sl.objects, 0);
      std::uint32_t allocated = 0;
      for (std::uint32_t i = 0; i < sl.objects; ++i) allocated += sl.meta[i].allocated;
      if (allocated != sl.inuse) slub_bug(s, &sl, "allocated objects differ from inuse");
      auto walk = [&](std::uint32_t head, const char* which) {
        std::uint32_t n = 0;
        for (std::uint32_t idx = head; idx != Slab::kEnd; idx = sl.meta[idx].next) {
          if (idx >= sl.objects) slub_bug(s, &sl, std::string(which) + " freelist index out of range");
          if (seen[idx]) slub_bug(s, &sl, std::string(which) + " freelist loops or overlaps (object twice)");
          if (sl.meta[idx].allocated) slub_bug(s, &sl, std::string(which) + " freelist holds an allocated object");
          seen[idx] = 1;
          ++n;
        }
        return n;
      };
      std::uint32_t nfree = walk(sl.freelist, "slab");
      if (nfree != sl.nr_free_list) slub_bug(s, &sl, "nr_free_list does not match the slab freelist");
      std::uint32_t cpu_free = 0;
      if (sl.state == Slab::State::CpuActive) {
        const kmem_cache_cpu& c = s->cpu_slab[static_cast<std::size_t>(sl.cpu)];
        if (c.slab != &sl) slub_bug(s, &sl, "frozen slab is not its CPU's slab");
        cpu_free = walk(c.freelist, "cpu");
        if (cpu_free != c.nr_free) slub_bug(s, &sl, "CPU nr_free does not match its freelist");
      }
      if (sl.inuse + nfree + cpu_free != sl.objects)
        slub_bug(s, &sl, "inuse + free objects != objects (an object is lost or handed out twice)");
      switch (sl.state) {
        case Slab::State::Full:
          if (nfree || sl.inuse != sl.objects) slub_bug(s, &sl, "slab off every list has free objects");
          break;
        case Slab::State::NodePartial:
        case Slab::State::CpuPartial:
          if (!nfree) slub_bug(s, &sl, "partial slab without free objects");
          break;
        default:
          break;
      }
      inuse_sum += sl.inuse;
      std::int64_t bytes = static_cast<std::int64_t>(kPageSize << sl.order);
      ((s->flags & SLAB_RECLAIM_ACCOUNT) ? recl : unrecl)[static_cast<std::size_t>(sl.nid)] += bytes;
    }
    for (std::size_t nid = 0; nid < s->node.size(); ++nid)
      if (nr_slabs[nid] != s->node[nid].nr_slabs || total[nid] != s->node[nid].total_objects)
        slub_bug(s, nullptr, "node slab/object counters do not add up");
    if (inuse_sum != s->inuse_objects) slub_bug(s, nullptr, "cache inuse_objects does not add up");
  }
  for (const auto& [pfn, b] : large_)
    unrecl[static_cast<std::size_t>(pm_.page_to_nid(pm_.pfn_to_page(Pfn(pfn))).value())] +=
        static_cast<std::int64_t>(kPageSize << b.order);
  for (int nid = 0; nid < pm_.nr_node_ids(); ++nid) {
    if (pm_.node_page_state(NodeId(nid), NR_SLAB_RECLAIMABLE_B) != recl[static_cast<std::size_t>(nid)] ||
        pm_.node_page_state(NodeId(nid), NR_SLAB_UNRECLAIMABLE_B) != unrecl[static_cast<std::size_t>(nid)])
      slub_bug(nullptr, nullptr, "node " + std::to_string(nid) + " NR_SLAB_*_B differ from the slabs held");
  }
}

}  // namespace numasim::os
