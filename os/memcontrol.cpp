// Memory cgroups v2 (mm/memcontrol.c, mm/page_counter.c, mm/swap_cgroup.c):
// the hierarchy (mem_cgroup_create, cgroup_attach_task), charging with the
// per-CPU stock (try_charge_memcg: consume_stock, a MEMCG_CHARGE_BATCH
// pre-charge, refill_stock/drain_stock; at memory.max
// try_to_free_mem_cgroup_pages with MAX_RECLAIM_RETRIES retries and a stock
// drain, then mem_cgroup_out_of_memory inside the cgroup), memory.high
// (mem_cgroup_handle_over_high: reclaim_high, calculate_high_delay's penalty up
// to 2 s per batch, charged to the fault as time), effective protection
// (mem_cgroup_calculate_protection / effective_protection for memory.min and
// memory.low), uncharging from the page allocator's free, and swap_cgroup with
// memory.swap.max (charged at folio_alloc_swap, uncharged when the slot is freed).
// Simplified: memory.high is handled at the end of the charge (Linux: on the
// way back to user mode, in the same fault); the throttle is added to the
// fault's cost as time (no psi, the CPU is not given to another task); no
// memory.oom.group; a THP charge never invokes the OOM killer (order >
// PAGE_ALLOC_COSTLY_ORDER, as Linux) and falls back.
// Kernel memory (obj_cgroup, Linux 6.1): SLUB's accounted objects through the
// per-CPU obj_stock (consume_obj_stock, refill_obj_stock, drain_obj_stock),
// whole pages through try_charge_memcg and MEMCG_KMEM (memcg_account_kmem),
// page tables through memcg_kmem_charge_page. Simplified: an obj_cgroup is its
// mem_cgroup (cgroups are never removed, so nothing is reparented); the slab
// statistics are applied at once (Linux batches them in the stock up to a
// page: mod_objcg_state); no kernel stacks, percpu, vmalloc or socket charges.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "os/kernel.h"
#include "os/memcontrol.h"
#include "os/mm_inline.h"

namespace numasim::os {

// ---------------------------------------------------------------------------
// page_counter
// ---------------------------------------------------------------------------

void page_counter_charge(page_counter* c, unsigned long nr) {
  for (; c; c = c->parent) {
    c->usage += static_cast<long>(nr);
    c->watermark = std::max(c->watermark, static_cast<unsigned long>(c->usage));
  }
}

bool page_counter_try_charge(page_counter* counter, unsigned long nr, page_counter** fail) {
  for (page_counter* c = counter; c; c = c->parent) {
    const long n = c->usage + static_cast<long>(nr);
    if (n > static_cast<long>(c->max)) {
      ++c->failcnt;
      *fail = c;
      for (page_counter* u = counter; u != c; u = u->parent) u->usage -= static_cast<long>(nr);
      return false;
    }
    c->usage = n;
    c->watermark = std::max(c->watermark, static_cast<unsigned long>(n));
  }
  return true;
}

void page_counter_uncharge(page_counter* c, unsigned long nr) {
  for (; c; c = c->parent) {
    c->usage -= static_cast<long>(nr);
    if (c->usage < 0) {
      std::fprintf(stderr, "numasim: page_counter underflow: %ld nr_pages=%lu\n", c->usage, nr);
      std::abort();
    }
  }
}

const char* memcg_event_name(memcg_event_item i) {
#define MEMCG_EVENT_NAME(e, n) n,
  static const char* const names[] = {MEMCG_EVENTS(MEMCG_EVENT_NAME)};
#undef MEMCG_EVENT_NAME
  return names[i];
}

mem_cgroup* MemCgroups::find(const std::string& path) const {
  for (const auto& m : by_id)
    if (m->path == path) return m.get();
  return nullptr;
}

std::vector<mem_cgroup*> mem_cgroup_subtree(mem_cgroup* root) {
  std::vector<mem_cgroup*> out;
  std::vector<mem_cgroup*> stack{root};
  while (!stack.empty()) {
    mem_cgroup* m = stack.back();
    stack.pop_back();
    out.push_back(m);
    for (auto it = m->children.rbegin(); it != m->children.rend(); ++it) stack.push_back(*it);
  }
  return out;
}

// ---------------------------------------------------------------------------
// The hierarchy
// ---------------------------------------------------------------------------

long Kernel::mem_cgroup_create(const MemCgroupParams& p) {
  const std::string& path = p.path;
  if (path.size() < 2 || path[0] != '/' || path.back() == '/' || path.find("//") != std::string::npos ||
      path.find_first_of(" \t\n") != std::string::npos)
    return -EINVAL;
  if (memcgs_->find(path)) return -EEXIST;
  const std::string parent_path = path.substr(0, std::max<std::size_t>(1, path.rfind('/')));
  mem_cgroup* parent = memcgs_->find(parent_path);
  if (!parent) return -ENOENT;
  auto m = std::make_unique<mem_cgroup>();
  m->id = static_cast<unsigned>(memcgs_->by_id.size());
  m->path = path;
  m->parent = parent;
  m->memory.parent = parent->id == kRootMemcgId ? nullptr : &parent->memory;
  m->swap.parent = parent->id == kRootMemcgId ? nullptr : &parent->swap;
  m->memory.max = p.max;
  m->memory.high = p.high;
  m->memory.low = p.low;
  m->memory.min = p.min;
  m->swap.max = p.swap_max;
  parent->children.push_back(m.get());
  for (int n = 0; n < pm_.nr_node_ids(); ++n) {  // mem_cgroup_per_node
    pglist_data& pgdat = pm_.NODE_DATA(NodeId(n));
    if (pgdat.memcg_lruvec.size() <= m->id) pgdat.memcg_lruvec.resize(m->id + 1);
    auto lv = std::make_unique<lruvec>();
    lv->memcg_id = m->id;
    lv->parent = &mem_cgroup_lruvec(pgdat, parent->id);
    pgdat.memcg_lruvec[m->id] = std::move(lv);
  }
  m->kmem_node.resize(static_cast<std::size_t>(pm_.nr_node_ids()));
  const long id = m->id;
  memcgs_->by_id.push_back(std::move(m));
  return id;
}

long Kernel::cgroup_attach_task(int tgid, const std::string& path) {
  mem_cgroup* memcg = memcgs_->find(path);
  task_struct* t = find_task_by_pid(tgid);
  if (!t || !t->mm) return -ESRCH;
  if (!memcg) return -ENOENT;
  // Linux moves the task (and with memory.move_charge_at_immigrate, v1 only, its
  // charges); here a process moves before it has charged anything.
  if (t->mm->get_mm_counter(MM_ANONPAGES) || t->mm->get_mm_counter(MM_SWAPENTS) ||
      t->mm->get_mm_counter(MM_FILEPAGES) || t->mm->get_mm_counter(MM_SHMEMPAGES))
    return memcg->id == t->mm->memcg_id ? 0 : -EBUSY;
  t->mm->memcg_id = memcg->id;
  return 0;
}

std::string Kernel::task_cgroup(int tgid) const {
  for (const auto& [pid, task] : tasks_)
    if (task->tgid == tgid && task->mm) return memcgs_->by_id[task->mm->memcg_id]->path;
  return "";
}

mem_cgroup* Kernel::get_mem_cgroup_from_mm(const mm_struct* mm) const {
  return memcgs_->by_id[mm ? mm->memcg_id : kRootMemcgId].get();
}

void Kernel::memcg_memory_event(mem_cgroup* memcg, os::memcg_memory_event event) {
  ++memcg->memory_events_local[event];
  for (mem_cgroup* m = memcg; m && m->id != kRootMemcgId; m = m->parent) ++m->memory_events[event];
}

// ---------------------------------------------------------------------------
// The per-CPU stock
// ---------------------------------------------------------------------------

bool Kernel::consume_stock(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu) {
  if (nr_pages > MEMCG_CHARGE_BATCH) return false;
  auto& stocks = memcgs_->stock;
  if (stocks.size() <= static_cast<std::size_t>(cpu.value())) stocks.resize(static_cast<std::size_t>(cpu.value()) + 1);
  memcg_stock_pcp& stock = stocks[static_cast<std::size_t>(cpu.value())];
  if (stock.cached != memcg->id || stock.nr_pages < nr_pages) return false;
  stock.nr_pages -= nr_pages;
  return true;
}

void Kernel::drain_stock(memcg_stock_pcp& stock) {
  if (stock.cached != kRootMemcgId && stock.nr_pages)
    page_counter_uncharge(&memcgs_->by_id[stock.cached]->memory, stock.nr_pages);
  stock.nr_pages = 0;
  stock.cached = kRootMemcgId;
}

void Kernel::refill_stock(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu) {
  auto& stocks = memcgs_->stock;
  if (stocks.size() <= static_cast<std::size_t>(cpu.value())) stocks.resize(static_cast<std::size_t>(cpu.value()) + 1);
  memcg_stock_pcp& stock = stocks[static_cast<std::size_t>(cpu.value())];
  if (stock.cached != memcg->id) {
    drain_stock(stock);
    stock.cached = memcg->id;
  }
  stock.nr_pages += nr_pages;
  if (stock.nr_pages > MEMCG_CHARGE_BATCH) drain_stock(stock);
}

// drain_all_stock: every CPU's stock cached for a cgroup of root's subtree.
void Kernel::drain_all_stock(mem_cgroup* root) {
  // drain_local_stock's drain_obj_stock first: its whole pages go to the page stock drained next.
  for (std::size_t c = 0; c < memcgs_->obj_stock.size(); ++c) {
    obj_stock_pcp& ostock = memcgs_->obj_stock[c];
    for (mem_cgroup* m = memcgs_->by_id[ostock.cached].get(); ostock.cached && m; m = m->parent)
      if (m == root) {
        drain_obj_stock(ostock, CpuId(static_cast<int>(c)));
        break;
      }
  }
  for (memcg_stock_pcp& stock : memcgs_->stock) {
    for (mem_cgroup* m = memcgs_->by_id[stock.cached].get(); m; m = m->parent)
      if (m == root) {
        drain_stock(stock);
        break;
      }
  }
}

// ---------------------------------------------------------------------------
// Charging
// ---------------------------------------------------------------------------

namespace {
unsigned long mem_cgroup_margin(const mem_cgroup* memcg) {
  unsigned long margin = PAGE_COUNTER_MAX;
  for (const mem_cgroup* m = memcg; m && m->id != kRootMemcgId; m = m->parent) {
    const long room = static_cast<long>(m->memory.max) - m->memory.usage;
    margin = std::min(margin, static_cast<unsigned long>(std::max(0l, room)));
  }
  return margin;
}
// calculate_overage: how far usage is over high, in 1/2^20.
std::uint64_t calculate_overage(unsigned long usage, unsigned long high) {
  if (usage <= high) return 0;
  high = std::max(high, 1ul);
  return (static_cast<std::uint64_t>(usage - high) << MEMCG_DELAY_PRECISION_SHIFT) / high;
}
std::uint64_t mem_find_max_overage(const mem_cgroup* memcg) {
  std::uint64_t max_overage = 0;
  for (const mem_cgroup* m = memcg; m && m->id != kRootMemcgId; m = m->parent)
    max_overage = std::max(max_overage, calculate_overage(static_cast<unsigned long>(m->memory.usage), m->memory.high));
  return max_overage;
}
// calculate_high_delay: the penalty in jiffies, quadratic in the overage, per batch charged.
unsigned long calculate_high_delay(unsigned long nr_pages, std::uint64_t max_overage) {
  if (!max_overage) return 0;
  // max_overage * max_overage may exceed 64 bits for huge overages: cap first (the result is capped at 2 s anyway).
  max_overage = std::min<std::uint64_t>(max_overage, 1ull << 31);
  std::uint64_t penalty = max_overage * max_overage * MEMCG_HZ;
  penalty >>= MEMCG_DELAY_PRECISION_SHIFT;
  penalty >>= MEMCG_DELAY_SCALING_SHIFT;
  return static_cast<unsigned long>(penalty * nr_pages / MEMCG_CHARGE_BATCH);
}
constexpr std::uint64_t kJiffyPs = 1'000'000'000'000ull / MEMCG_HZ;
}  // namespace

// try_charge_memcg.
int Kernel::try_charge_memcg(mem_cgroup* memcg, gfp_t gfp, unsigned long nr_pages, KernelCost& cost) {
  const CpuId cpu = ctx_.cpu;
  unsigned long batch = std::max(MEMCG_CHARGE_BATCH, nr_pages);
  int nr_retries = MAX_RECLAIM_RETRIES;
  bool drained = false;
  page_counter* fail = nullptr;
retry:
  if (consume_stock(memcg, nr_pages, cpu)) return 0;
  if (page_counter_try_charge(&memcg->memory, batch, &fail)) goto done_restock;
  if (batch > nr_pages) {
    batch = nr_pages;
    goto retry;
  }
  {
    mem_cgroup* over = memcg;
    while (&over->memory != fail) over = over->parent;
    if (!(gfp & __GFP_DIRECT_RECLAIM)) goto nomem;  // !gfpflags_allow_blocking
    memcg_memory_event(over, MEMCG_MAX);
    const unsigned long nr_reclaimed = try_to_free_mem_cgroup_pages(over, nr_pages, gfp, true, cpu, cost);
    if (mem_cgroup_margin(over) >= nr_pages) goto retry;
    if (!drained) {
      drain_all_stock(over);
      drained = true;
      goto retry;
    }
    if (gfp & __GFP_NORETRY) goto nomem;
    if (nr_reclaimed && nr_pages <= (1ul << PAGE_ALLOC_COSTLY_ORDER)) goto retry;
    if (nr_retries-- > 0) {
      // reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK): what reclaim wrote out is still in flight.
      if (swap_->writeback_in_flight())
        reclaim_throttle(pm_.NODE_DATA(cpu_to_node(cpu)), VMSCAN_THROTTLE_WRITEBACK, cpu, cost);
      goto retry;
    }
    if (gfp & __GFP_NOFAIL) goto force;
    if (ctx_.task && ctx_.task->oom_killed) goto force;  // fatal_signal_pending: let it exit
    // mem_cgroup_oom: not for costly orders (a THP falls back to small pages).
    if (nr_pages <= (1ul << PAGE_ALLOC_COSTLY_ORDER)) {
      memcg_memory_event(over, MEMCG_OOM);
      if (mem_cgroup_out_of_memory(over, gfp, 0, cost)) {
        nr_retries = MAX_RECLAIM_RETRIES;
        goto retry;
      }
    }
  }
nomem:
  if (!(gfp & (__GFP_NOFAIL | __GFP_HIGH))) return -ENOMEM;
force:
  page_counter_charge(&memcg->memory, nr_pages);
  return 0;
done_restock:
  if (batch > nr_pages) refill_stock(memcg, batch - nr_pages, cpu);
  // Over memory.high somewhere up the tree: the task pays on its way out.
  for (mem_cgroup* m = memcg; m && m->id != kRootMemcgId; m = m->parent)
    if (m->memory.usage > static_cast<long>(m->memory.high)) {
      if (ctx_.task) ctx_.task->memcg_nr_pages_over_high += batch;
      break;
    }
  return 0;
}

int Kernel::mem_cgroup_charge(page* pg, mm_struct* mm, gfp_t gfp, KernelCost& cost) {
  pg->memcg_id = kRootMemcgId;
  mem_cgroup* memcg = get_mem_cgroup_from_mm(mm);
  if (memcg->id == kRootMemcgId) return 0;
  const int r = try_charge_memcg(memcg, gfp, static_cast<unsigned long>(lru_nr_pages(pg)), cost);
  if (r) return r;
  pg->memcg_id = memcg->id;
  if (ctx_.task && ctx_.task->memcg_nr_pages_over_high) mem_cgroup_handle_over_high(ctx_.task, cost);
  return 0;
}

int Kernel::mem_cgroup_swapin_charge_folio(page* pg, mm_struct* mm, gfp_t gfp, swp_entry_t entry, KernelCost& cost) {
  pg->memcg_id = kRootMemcgId;
  mem_cgroup* memcg = nullptr;
  const unsigned type = swp_type(entry);
  const std::uint64_t off = swp_offset(entry);
  if (type < memcgs_->swap_cgroup.size() && off < memcgs_->swap_cgroup[type].size() && memcgs_->swap_cgroup[type][off])
    memcg = memcgs_->by_id[memcgs_->swap_cgroup[type][off]].get();  // lookup_swap_cgroup_id
  if (!memcg) memcg = get_mem_cgroup_from_mm(mm);
  if (memcg->id == kRootMemcgId) return 0;
  const int r = try_charge_memcg(memcg, gfp, 1, cost);
  if (r) return r;
  pg->memcg_id = memcg->id;
  if (ctx_.task && ctx_.task->memcg_nr_pages_over_high) mem_cgroup_handle_over_high(ctx_.task, cost);
  return 0;
}

void Kernel::mem_cgroup_uncharge(page* pg) {
  if (!pg->memcg_id) return;
  page_counter_uncharge(&memcgs_->by_id[pg->memcg_id]->memory, static_cast<unsigned long>(lru_nr_pages(pg)));
  pg->memcg_id = kRootMemcgId;
}

void Kernel::uncharge_folio(page* pg, unsigned order) {
  page_counter_uncharge(&memcgs_->by_id[pg->memcg_id]->memory, 1ul << order);
  pg->memcg_id = kRootMemcgId;
}

// mem_cgroup_handle_over_high: reclaim_high on every level over memory.high,
// then sleep for calculate_high_delay (retried while reclaim makes progress or
// retries are left, at most MEMCG_MAX_HIGH_DELAY_JIFFIES).
void Kernel::mem_cgroup_handle_over_high(task_struct* t, KernelCost& cost) {
  const unsigned long nr_pages = t->memcg_nr_pages_over_high;
  t->memcg_nr_pages_over_high = 0;
  if (!nr_pages || !t->mm) return;
  mem_cgroup* memcg = get_mem_cgroup_from_mm(t->mm);
  int nr_retries = MAX_RECLAIM_RETRIES;
  bool in_retry = false;
  unsigned long penalty = 0;
  for (int round = 0; round < 4 * MAX_RECLAIM_RETRIES; ++round) {  // (a bound the simulator adds)
    unsigned long nr_reclaimed = 0;
    for (mem_cgroup* m = memcg; m && m->id != kRootMemcgId; m = m->parent) {  // reclaim_high
      if (m->memory.usage <= static_cast<long>(m->memory.high)) continue;
      memcg_memory_event(m, MEMCG_HIGH);
      nr_reclaimed += try_to_free_mem_cgroup_pages(m, in_retry ? SWAP_CLUSTER_MAX : nr_pages, GFP_KERNEL, true,
                                                   t->cpu, cost);
    }
    penalty = calculate_high_delay(nr_pages, mem_find_max_overage(memcg));
    if (penalty <= MEMCG_HZ / 100) return;
    if (nr_reclaimed || nr_retries-- > 0) {
      in_retry = true;
      continue;
    }
    break;
  }
  penalty = std::min(penalty, MEMCG_MAX_HIGH_DELAY_JIFFIES);
  const std::uint64_t ps = penalty * kJiffyPs;
  memcg->high_delay_ps += ps;
  cost.add_memory(Picoseconds(ps));  // schedule_timeout_killable: the fault returns that much later
}

// mem_cgroup_out_of_memory: the OOM killer restricted to memcg's tasks.
bool Kernel::mem_cgroup_out_of_memory(mem_cgroup* memcg, gfp_t gfp, int order, KernelCost& cost) {
  ++memcgs_->nr_memcg_oom;
  oom_control oc;
  oc.gfp_mask = gfp | __GFP_FS;
  oc.order = order;
  oc.memcg_id = memcg->id;
  return out_of_memory(oc, cost);
}

// ---------------------------------------------------------------------------
// Protection (mem_cgroup_calculate_protection)
// ---------------------------------------------------------------------------

namespace {
// effective_protection: a child's share of its parent's effective protection,
// in proportion to its protected usage when the siblings overcommit it.
unsigned long effective_protection(unsigned long usage, unsigned long parent_usage, unsigned long setting,
                                   unsigned long parent_effective, unsigned long siblings_protected) {
  unsigned long protected_ = std::min(usage, setting);
  if (siblings_protected > parent_effective) return protected_ * parent_effective / siblings_protected;
  unsigned long ep = protected_;
  // recursive_protection (memory_recursiveprot) is not the default: no floating protection.
  (void)parent_usage;
  return std::min(ep, parent_effective);
}
}  // namespace

void Kernel::mem_cgroup_calculate_protection(mem_cgroup* root, mem_cgroup* memcg) const {
  if (memcg == root || memcg->id == kRootMemcgId) return;
  const unsigned long usage = static_cast<unsigned long>(memcg->memory.usage);
  if (!usage) return;
  mem_cgroup* parent = memcg->parent;
  if (parent == root || parent->id == kRootMemcgId) {
    memcg->memory.emin = memcg->memory.min;
    memcg->memory.elow = memcg->memory.low;
    return;
  }
  unsigned long sib_min = 0, sib_low = 0;
  for (const mem_cgroup* s : parent->children) {
    sib_min += std::min(static_cast<unsigned long>(s->memory.usage), s->memory.min);
    sib_low += std::min(static_cast<unsigned long>(s->memory.usage), s->memory.low);
  }
  const unsigned long parent_usage = static_cast<unsigned long>(parent->memory.usage);
  memcg->memory.emin = effective_protection(usage, parent_usage, memcg->memory.min, parent->memory.emin, sib_min);
  memcg->memory.elow = effective_protection(usage, parent_usage, memcg->memory.low, parent->memory.elow, sib_low);
}

// ---------------------------------------------------------------------------
// Reclaim for a cgroup
// ---------------------------------------------------------------------------

// try_to_free_mem_cgroup_pages -> do_try_to_free_pages for the cgroup: each node
// of the CPU's zonelist order per priority, no allocstall (cgroup reclaim).
unsigned long Kernel::try_to_free_mem_cgroup_pages(mem_cgroup* memcg, unsigned long nr_pages, gfp_t gfp, bool may_swap,
                                                   CpuId cpu, KernelCost& cost) {
  scan_control sc;
  sc.nr_to_reclaim = std::max(nr_pages, SWAP_CLUSTER_MAX);
  sc.gfp_mask = (gfp & (__GFP_IO | __GFP_FS | __GFP_RECLAIM)) | (GFP_HIGHUSER_MOVABLE & ~(__GFP_IO | __GFP_FS | __GFP_RECLAIM));
  sc.reclaim_idx = ZONE_MOVABLE;
  sc.target_mem_cgroup = memcg;
  sc.priority = DEF_PRIORITY;
  sc.may_swap = may_swap;
  lru_add_drain(cpu);
  const auto& order = node_order_[static_cast<std::size_t>(cpu_to_node(cpu).value())];
retry:
  do {
    sc.nr_scanned = 0;
    for (int nid : order) {
      pglist_data& pgdat = pm_.NODE_DATA(NodeId(nid));
      if (!pgdat.node_present_pages) continue;
      shrink_node(pgdat, sc, cpu, cost);
    }
    if (sc.nr_reclaimed >= sc.nr_to_reclaim) break;
    if (sc.priority < DEF_PRIORITY - 2) sc.may_writepage = true;
  } while (--sc.priority >= 0);
  if (sc.nr_reclaimed) return sc.nr_reclaimed;
  if (scan_control_retry(sc)) goto retry;
  return 0;
}

// ---------------------------------------------------------------------------
// swap_cgroup and memory.swap.max
// ---------------------------------------------------------------------------

bool Kernel::mem_cgroup_try_charge_swap(page* pg, swp_entry_t entry) {
  if (!pg->memcg_id) return true;
  mem_cgroup* memcg = memcgs_->by_id[pg->memcg_id].get();
  page_counter* fail = nullptr;
  if (!page_counter_try_charge(&memcg->swap, 1, &fail)) {
    mem_cgroup* over = memcg;
    while (&over->swap != fail) over = over->parent;
    memcg_memory_event(over, MEMCG_SWAP_MAX);
    memcg_memory_event(memcg, MEMCG_SWAP_FAIL);
    return false;
  }
  const unsigned type = swp_type(entry);
  const std::uint64_t off = swp_offset(entry);
  auto& sc = memcgs_->swap_cgroup;
  if (sc.size() <= type) sc.resize(type + 1);
  if (sc[type].size() <= off) sc[type].resize(std::max<std::uint64_t>(off + 1, sc[type].size() * 2), 0);
  sc[type][off] = memcg->id;
  return true;
}

void Kernel::mem_cgroup_uncharge_swap(swp_entry_t entry) {
  const unsigned type = swp_type(entry);
  const std::uint64_t off = swp_offset(entry);
  auto& sc = memcgs_->swap_cgroup;
  if (type >= sc.size() || off >= sc[type].size() || !sc[type][off]) return;
  page_counter_uncharge(&memcgs_->by_id[sc[type][off]]->swap, 1);
  sc[type][off] = 0;
}

// ---------------------------------------------------------------------------
// Kernel memory: obj_cgroup charging of slab objects and page tables
// ---------------------------------------------------------------------------

// SLUB's memcg hooks (mm/slab.h memcg_slab_*_hook) on the Kernel's obj_cgroup functions.
class KmemSlabHooks final : public SlabMemcgHooks {
 public:
  explicit KmemSlabHooks(Kernel& k) : k_(k) {}
  long slab_pre_alloc_hook(const kmem_cache* s, gfp_t gfp, CpuId cpu, KernelCost& cost) override {
    mem_cgroup* memcg = k_.get_obj_cgroup_from_current();
    if (!memcg) return 0;
    if (k_.obj_cgroup_charge(memcg, gfp, obj_full_size(s->size), cpu, cost)) return -1;
    return memcg->id;
  }
  void slab_post_alloc_hook(const kmem_cache* s, std::uint32_t memcg_id, NodeId nid, bool allocated,
                            CpuId cpu) override {
    mem_cgroup* memcg = k_.memcgs_->by_id[memcg_id].get();
    if (!allocated) {
      k_.obj_cgroup_uncharge(memcg, obj_full_size(s->size), cpu);
      return;
    }
    k_.mod_memcg_kmem_state(memcg, nid, cache_vmstat_idx(s), static_cast<long>(obj_full_size(s->size)));
  }
  void slab_free_hook(const kmem_cache* s, std::uint32_t memcg_id, NodeId nid, CpuId cpu) override {
    mem_cgroup* memcg = k_.memcgs_->by_id[memcg_id].get();
    k_.mod_memcg_kmem_state(memcg, nid, cache_vmstat_idx(s), -static_cast<long>(obj_full_size(s->size)));
    k_.obj_cgroup_uncharge(memcg, obj_full_size(s->size), cpu);
  }

 private:
  // cache_vmstat_idx
  static memcg_kmem_stat_item cache_vmstat_idx(const kmem_cache* s) {
    return (s->flags & SLAB_RECLAIM_ACCOUNT) ? MEMCG_SLAB_RECLAIMABLE_B : MEMCG_SLAB_UNRECLAIMABLE_B;
  }
  Kernel& k_;
};

void Kernel::install_kmem_accounting() {
  slab_memcg_hooks_ = std::make_unique<KmemSlabHooks>(*this);
  slub_->set_memcg_hooks(slab_memcg_hooks_.get());
}

// get_obj_cgroup_from_current: memcg_kmem_bypass for kernel threads and the
// boot context; the root cgroup has no objcg.
mem_cgroup* Kernel::get_obj_cgroup_from_current() const {
  const task_struct* t = ctx_.task;
  if (!t || !t->mm || (t->flags & PF_KTHREAD) || t->mm->memcg_id == kRootMemcgId) return nullptr;
  return memcgs_->by_id[t->mm->memcg_id].get();
}

void Kernel::mod_memcg_kmem_state(mem_cgroup* memcg, NodeId nid, memcg_kmem_stat_item item, long delta) {
  const auto n = static_cast<std::size_t>(nid.value());
  if (memcg->kmem_node.size() <= n) memcg->kmem_node.resize(n + 1);
  memcg->kmem_node[n][item] += delta;
}

// obj_cgroup_charge_pages: try_charge_memcg, then memcg_account_kmem.
int Kernel::obj_cgroup_charge_pages(mem_cgroup* memcg, gfp_t gfp, unsigned long nr_pages, KernelCost& cost) {
  const int r = try_charge_memcg(memcg, gfp, nr_pages, cost);
  if (r) return r;
  memcg->kmem += static_cast<long>(nr_pages);
  return 0;
}

// obj_cgroup_uncharge_pages: memcg_account_kmem(-nr), the pages go to the CPU's page stock.
void Kernel::obj_cgroup_uncharge_pages(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu) {
  memcg->kmem -= static_cast<long>(nr_pages);
  memcg->obj_pages -= static_cast<long>(nr_pages);
  refill_stock(memcg, nr_pages, cpu);
}

bool Kernel::consume_obj_stock(mem_cgroup* memcg, std::size_t nr_bytes, CpuId cpu) {
  auto& stocks = memcgs_->obj_stock;
  const auto c = static_cast<std::size_t>(cpu.value());
  if (stocks.size() <= c) return false;
  obj_stock_pcp& stock = stocks[c];
  if (stock.cached != memcg->id || stock.nr_bytes < nr_bytes) return false;
  stock.nr_bytes -= static_cast<unsigned>(nr_bytes);
  return true;
}

// drain_obj_stock: whole pages back (uncharged into the page stock), the rest to nr_charged_bytes.
void Kernel::drain_obj_stock(obj_stock_pcp& stock, CpuId cpu) {
  if (stock.cached == kRootMemcgId) return;
  mem_cgroup* old = memcgs_->by_id[stock.cached].get();
  if (stock.nr_bytes) {
    const unsigned long nr_pages = stock.nr_bytes / kPageSize;
    const unsigned nr_bytes = stock.nr_bytes & (kPageSize - 1);
    if (nr_pages) obj_cgroup_uncharge_pages(old, nr_pages, cpu);
    old->nr_charged_bytes += nr_bytes;
    stock.nr_bytes = 0;
  }
  stock.cached = kRootMemcgId;
}

// refill_obj_stock: bytes back into the CPU's stock (switching cgroups drains
// the old one and takes the new one's nr_charged_bytes); more than a page
// returns the whole pages when allowed.
void Kernel::refill_obj_stock(mem_cgroup* memcg, std::size_t nr_bytes, bool allow_uncharge, CpuId cpu) {
  auto& stocks = memcgs_->obj_stock;
  const auto c = static_cast<std::size_t>(cpu.value());
  if (stocks.size() <= c) stocks.resize(c + 1);
  obj_stock_pcp& stock = stocks[c];
  if (stock.cached != memcg->id) {
    drain_obj_stock(stock, cpu);
    stock.nr_bytes = static_cast<unsigned>(memcg->nr_charged_bytes);
    memcg->nr_charged_bytes = 0;
    stock.cached = memcg->id;
    allow_uncharge = true;
  }
  stock.nr_bytes += static_cast<unsigned>(nr_bytes);
  unsigned long nr_pages = 0;
  if (allow_uncharge && stock.nr_bytes > kPageSize) {
    nr_pages = stock.nr_bytes / kPageSize;
    stock.nr_bytes &= kPageSize - 1;
  }
  if (nr_pages) obj_cgroup_uncharge_pages(memcg, nr_pages, cpu);
}

// obj_cgroup_charge: from the CPU's object stock, else whole pages with the rest kept in the stock.
int Kernel::obj_cgroup_charge(mem_cgroup* memcg, gfp_t gfp, std::size_t size, CpuId cpu, KernelCost& cost) {
  if (consume_obj_stock(memcg, size, cpu)) return 0;
  unsigned long nr_pages = size / kPageSize;
  const std::size_t nr_bytes = size & (kPageSize - 1);
  if (nr_bytes) ++nr_pages;
  const int r = obj_cgroup_charge_pages(memcg, gfp, nr_pages, cost);
  if (r) return r;
  memcg->obj_pages += static_cast<long>(nr_pages);
  if (nr_bytes) refill_obj_stock(memcg, kPageSize - nr_bytes, false, cpu);
  return 0;
}

void Kernel::obj_cgroup_uncharge(mem_cgroup* memcg, std::size_t size, CpuId cpu) {
  refill_obj_stock(memcg, size, true, cpu);
}

// __memcg_kmem_charge_page for a page table (GFP_PGTABLE_USER has __GFP_ACCOUNT):
// the frame carries the charge (page->memcg_data with MEMCG_DATA_KMEM) and
// counts in the cgroup's NR_PAGETABLE on its node.
int Kernel::memcg_kmem_charge_pgtable(page* pg, gfp_t gfp, KernelCost& cost) {
  pg->memcg_id = kRootMemcgId;
  if (!(gfp & __GFP_ACCOUNT)) return 0;
  mem_cgroup* memcg = get_obj_cgroup_from_current();
  if (!memcg) return 0;
  if (obj_cgroup_charge_pages(memcg, gfp, 1, cost)) return -ENOMEM;
  pg->memcg_id = memcg->id;
  mod_memcg_kmem_state(memcg, pm_.page_to_nid(pg), MEMCG_PAGETABLE, 1);
  return 0;
}

// __memcg_kmem_uncharge_page: the charge dropped before the frame is freed.
void Kernel::memcg_kmem_uncharge_pgtable(page* pg, CpuId cpu) {
  if (!pg->memcg_id) return;
  mem_cgroup* memcg = memcgs_->by_id[pg->memcg_id].get();
  mod_memcg_kmem_state(memcg, pm_.page_to_nid(pg), MEMCG_PAGETABLE, -1);
  memcg->kmem -= 1;  // obj_cgroup_uncharge_pages: memcg_account_kmem, refill_stock
  refill_stock(memcg, 1, cpu);
  pg->memcg_id = kRootMemcgId;
}

}  // namespace numasim::os
