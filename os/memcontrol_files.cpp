// Memory cgroups v2's interface files (mm/memcontrol.c memory_files[]) and the
// [[cgroup]] configuration tables: memory.current, memory.min/low/high/max,
// memory.swap.current/max, memory.stat, memory.events(.local),
// memory.swap.events and memory.numa_stat in Linux 6.1's formats.
// Simplified: the page-state figures of memory.stat / memory.numa_stat are
// counted from the cgroup's LRU lists and the lru_add batches when read (pages
// isolated by a reclaim in progress are not seen); kernel, pagetables and
// slab_* come from the cgroups' kernel-memory counters (obj_cgroup charging,
// memcontrol.cpp); file_mapped and file_writeback from the file pages' mapcount
// and PG_writeback; kernel_stack, percpu, sock, vmalloc and file_thp/shmem_thp are 0;
// workingset_* per node in memory.numa_stat are not kept.
#include <cerrno>
#include <string>

#include "common/config.h"
#include "os/kernel.h"
#include "os/memcontrol.h"
#include "os/mm_inline.h"

namespace numasim::os {

namespace {
// "max" or a size ("256MiB"), in pages (rounded down as page_counter_memparse).
bool parse_limit(std::string_view text, unsigned long& pages, std::string* why) {
  if (text == "max") {
    pages = PAGE_COUNTER_MAX;
    return true;
  }
  if (!text.empty() && text.size() <= 19 && text.find_first_not_of("0123456789") == std::string_view::npos) {
    pages = std::min<unsigned long>(PAGE_COUNTER_MAX, std::stoull(std::string(text)) / kPageSize);  // bytes, as memparse
    return true;
  }
  const std::optional<Bytes> b = parse_size(text, why);
  if (!b) return false;
  pages = std::min<unsigned long>(PAGE_COUNTER_MAX, b->value() / kPageSize);
  return true;
}
std::string limit_str(unsigned long pages) {
  return pages >= PAGE_COUNTER_MAX ? "max" : std::to_string(static_cast<std::uint64_t>(pages) * kPageSize);
}

// The page-state figures of one cgroup's own pages on one node.
struct MemcgNodeState {
  std::uint64_t anon = 0, file = 0, shmem = 0, file_dirty = 0, swapcached = 0, anon_thp = 0;
  std::uint64_t file_mapped = 0, file_writeback = 0;
  std::array<std::uint64_t, NR_LRU_LISTS> lru{};
  std::array<std::uint64_t, MEMCG_NR_KMEM_STATS> kmem{};  // slab bytes, page-table pages, kernel stack KiB
};
void count_kmem(MemcgNodeState& s, const mem_cgroup& m, int nid) {
  for (int i = 0; i < MEMCG_NR_KMEM_STATS; ++i)
    s.kmem[static_cast<std::size_t>(i)] += static_cast<std::uint64_t>(m.kmem_stat(nid, static_cast<memcg_kmem_stat_item>(i)));
}
void count_page(MemcgNodeState& s, const page* pg) {
  const std::uint64_t nr = static_cast<std::uint64_t>(lru_nr_pages(pg));
  if (PageAnon(pg)) {
    s.anon += nr;
    if (PageTransHuge(pg)) s.anon_thp += nr;
  } else {
    s.file += nr;
    if (PageSwapBacked(pg)) s.shmem += nr;
    else if (PageDirty(pg)) s.file_dirty += nr;
    if (page_mapcount(pg) > 0) s.file_mapped += nr;  // NR_FILE_MAPPED
    if (pg->test(PG_writeback)) s.file_writeback += nr;  // NR_WRITEBACK
  }
  if (pg->test(PG_swapcache)) s.swapcached += nr;
}
}  // namespace

std::vector<MemCgroupParams> parse_cgroups(Config root) {
  std::vector<MemCgroupParams> out;
  for (Config c : root.tables("cgroup", "a memory cgroup (cgroup v2)")) {
    MemCgroupParams p;
    p.origin = c.path();
    p.path = c.require<std::string>("path", "cgroup path, e.g. \"/batch\" (its parent defined before it)");
    bool ok = true;
    if (p.path.size() < 2 || p.path[0] != '/' || p.path.back() == '/' || p.path.find("//") != std::string::npos ||
        p.path.find_first_of(" \t\n") != std::string::npos) {
      c.error("path", "\"" + bounded_for_message(p.path) + "\" is not a cgroup path like \"/batch\" or \"/batch/job\"");
      ok = false;
    } else {
      for (const auto& q : out)
        if (q.path == p.path) {
          c.error("path", "cgroup \"" + p.path + "\" is defined twice");
          ok = false;
        }
      const std::string parent = p.path.substr(0, p.path.rfind('/'));
      bool found = parent.empty();
      for (const auto& q : out) found |= q.path == parent;
      if (!found) {
        c.error("path", "parent cgroup \"" + parent + "\" is not defined before \"" + p.path + "\"");
        ok = false;
      }
    }
    Config mem = c.table("memory", "memory controller limits");
    auto limit = [&](Config& t, const char* key, unsigned long& dst, const char* def, const char* what) {
      const std::string v = t.get<std::string>(key, def, what);
      std::string why;
      if (!parse_limit(v, dst, &why)) {
        t.error(key, "\"" + bounded_for_message(v) + "\" is not \"max\" or a size like \"256MiB\": " + why);
        ok = false;
      }
    };
    limit(mem, "max", p.max, "max", "memory.max: hard limit (reclaim, then OOM inside the cgroup)");
    limit(mem, "high", p.high, "max", "memory.high: throttle limit (reclaim and delay the allocating task)");
    limit(mem, "low", p.low, "0", "memory.low: best-effort protection from reclaim");
    limit(mem, "min", p.min, "0", "memory.min: hard protection from reclaim");
    Config swap = mem.table("swap", "swap controller");
    limit(swap, "max", p.swap_max, "max", "memory.swap.max: swap the cgroup may use");
    if (ok) out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::pair<std::string, std::uint64_t>> Kernel::memcg_stat(const mem_cgroup& memcg) const {
  MemcgNodeState s;
  std::array<std::uint64_t, MEMCG_NR_EVENTS> ev{};
  std::uint64_t kmem_pages = 0;  // MEMCG_KMEM
  const page* mem_map = pm_.pfn_to_page(Pfn(0));
  for (mem_cgroup* m : mem_cgroup_subtree(const_cast<mem_cgroup*>(&memcg))) {
    for (int i = 0; i < MEMCG_NR_EVENTS; ++i) ev[static_cast<std::size_t>(i)] += m->events[static_cast<std::size_t>(i)];
    kmem_pages += static_cast<std::uint64_t>(m->kmem);
    for (int n = 0; n < pm_.nr_node_ids(); ++n) {
      count_kmem(s, *m, n);
      const lruvec& lv = mem_cgroup_lruvec(const_cast<pglist_data&>(pm_.NODE_DATA(NodeId(n))), m->id);
      for (int l = 0; l < NR_LRU_LISTS; ++l) {
        s.lru[static_cast<std::size_t>(l)] += lv.nr_pages[static_cast<std::size_t>(l)];
        for (std::uint32_t pfn = lv.lists[static_cast<std::size_t>(l)].head; pfn != kNoPfn32; pfn = mem_map[pfn].lru_next)
          count_page(s, mem_map + pfn);
      }
    }
    for (const LruAddBatch& b : lru_add_)
      for (unsigned i = 0; i < b.nr; ++i)
        if (b.pages[i]->memcg_id == m->id) count_page(s, b.pages[i]);
  }
  const std::uint64_t P = kPageSize;
  return {
      {"anon", s.anon * P}, {"file", s.file * P}, {"kernel", kmem_pages * P},
      {"kernel_stack", s.kmem[MEMCG_KERNEL_STACK_KB] * 1024}, {"pagetables", s.kmem[MEMCG_PAGETABLE] * P},
      {"percpu", 0}, {"sock", 0}, {"vmalloc", 0}, {"shmem", s.shmem * P}, {"file_mapped", s.file_mapped * P},
      {"file_dirty", s.file_dirty * P}, {"file_writeback", s.file_writeback * P}, {"swapcached", s.swapcached * P},
      {"anon_thp", s.anon_thp * P}, {"file_thp", 0}, {"shmem_thp", 0},
      {"inactive_anon", s.lru[LRU_INACTIVE_ANON] * P}, {"active_anon", s.lru[LRU_ACTIVE_ANON] * P},
      {"inactive_file", s.lru[LRU_INACTIVE_FILE] * P}, {"active_file", s.lru[LRU_ACTIVE_FILE] * P},
      {"unevictable", s.lru[LRU_UNEVICTABLE] * P}, {"slab_reclaimable", s.kmem[MEMCG_SLAB_RECLAIMABLE_B]},
      {"slab_unreclaimable", s.kmem[MEMCG_SLAB_UNRECLAIMABLE_B]},
      {"slab", s.kmem[MEMCG_SLAB_RECLAIMABLE_B] + s.kmem[MEMCG_SLAB_UNRECLAIMABLE_B]},
      {"workingset_refault_anon", ev[MEMCG_WORKINGSET_REFAULT_ANON]},
      {"workingset_refault_file", ev[MEMCG_WORKINGSET_REFAULT_FILE]},
      {"workingset_activate_anon", ev[MEMCG_WORKINGSET_ACTIVATE_ANON]},
      {"workingset_activate_file", ev[MEMCG_WORKINGSET_ACTIVATE_FILE]},
      {"workingset_restore_anon", ev[MEMCG_WORKINGSET_RESTORE_ANON]},
      {"workingset_restore_file", ev[MEMCG_WORKINGSET_RESTORE_FILE]}, {"workingset_nodereclaim", 0},
      {"pgfault", ev[MEMCG_PGFAULT]}, {"pgmajfault", ev[MEMCG_PGMAJFAULT]}, {"pgrefill", ev[MEMCG_PGREFILL]},
      {"pgscan", ev[MEMCG_PGSCAN_KSWAPD] + ev[MEMCG_PGSCAN_DIRECT]},
      {"pgsteal", ev[MEMCG_PGSTEAL_KSWAPD] + ev[MEMCG_PGSTEAL_DIRECT]}, {"pgactivate", ev[MEMCG_PGACTIVATE]},
      {"pgdeactivate", ev[MEMCG_PGDEACTIVATE]}, {"pglazyfree", 0}, {"pglazyfreed", 0},
      {"thp_fault_alloc", ev[MEMCG_THP_FAULT_ALLOC]}, {"thp_collapse_alloc", ev[MEMCG_THP_COLLAPSE_ALLOC]},
  };
}

std::optional<std::string> Kernel::cgroup_file_read(const std::string& path, std::string_view file) const {
  const mem_cgroup* memcg = memcgs_->find(path);
  if (!memcg) return std::nullopt;
  const bool root = memcg->id == kRootMemcgId;
  const std::uint64_t P = kPageSize;
  auto line = [](const char* k, std::uint64_t v) { return std::string(k) + " " + std::to_string(v) + "\n"; };
  if (file == "memory.stat") {
    std::string out;
    for (const auto& [k, v] : memcg_stat(*memcg)) out += k + " " + std::to_string(v) + "\n";
    return out;
  }
  if (file == "memory.numa_stat") {
    // Per node: each cgroup of the subtree's lists on that node.
    const page* mem_map = pm_.pfn_to_page(Pfn(0));
    std::vector<MemcgNodeState> per(static_cast<std::size_t>(pm_.nr_node_ids()));
    for (mem_cgroup* m : mem_cgroup_subtree(const_cast<mem_cgroup*>(memcg)))
      for (int n = 0; n < pm_.nr_node_ids(); ++n) {
        MemcgNodeState& s = per[static_cast<std::size_t>(n)];
        count_kmem(s, *m, n);
        const lruvec& lv = mem_cgroup_lruvec(const_cast<pglist_data&>(pm_.NODE_DATA(NodeId(n))), m->id);
        for (int l = 0; l < NR_LRU_LISTS; ++l) {
          s.lru[static_cast<std::size_t>(l)] += lv.nr_pages[static_cast<std::size_t>(l)];
          for (std::uint32_t pfn = lv.lists[static_cast<std::size_t>(l)].head; pfn != kNoPfn32;
               pfn = mem_map[pfn].lru_next)
            count_page(s, mem_map + pfn);
        }
        for (const LruAddBatch& b : lru_add_)
          for (unsigned i = 0; i < b.nr; ++i)
            if (b.pages[i]->memcg_id == m->id && pm_.page_to_nid(b.pages[i]).value() == n) count_page(s, b.pages[i]);
      }
    std::string out;
    auto row = [&](const char* name, auto get) {
      out += name;
      for (int n = 0; n < pm_.nr_node_ids(); ++n)
        out += " N" + std::to_string(n) + "=" + std::to_string(get(per[static_cast<std::size_t>(n)]) * P);
      out += "\n";
    };
    auto row_bytes = [&](const char* name, auto get) {  // figures kept in bytes
      out += name;
      for (int n = 0; n < pm_.nr_node_ids(); ++n)
        out += " N" + std::to_string(n) + "=" + std::to_string(get(per[static_cast<std::size_t>(n)]));
      out += "\n";
    };
    auto zero = [](const MemcgNodeState&) { return std::uint64_t{0}; };
    row("anon", [](const MemcgNodeState& s) { return s.anon; });
    row("file", [](const MemcgNodeState& s) { return s.file; });
    row_bytes("kernel_stack", [](const MemcgNodeState& s) { return s.kmem[MEMCG_KERNEL_STACK_KB] * 1024; });
    row("pagetables", [](const MemcgNodeState& s) { return s.kmem[MEMCG_PAGETABLE]; });
    row("shmem", [](const MemcgNodeState& s) { return s.shmem; });
    row("file_mapped", [](const MemcgNodeState& s) { return s.file_mapped; });
    row("file_dirty", [](const MemcgNodeState& s) { return s.file_dirty; });
    row("file_writeback", [](const MemcgNodeState& s) { return s.file_writeback; });
    row("swapcached", [](const MemcgNodeState& s) { return s.swapcached; });
    row("anon_thp", [](const MemcgNodeState& s) { return s.anon_thp; });
    row("file_thp", zero);
    row("shmem_thp", zero);
    row("inactive_anon", [](const MemcgNodeState& s) { return s.lru[LRU_INACTIVE_ANON]; });
    row("active_anon", [](const MemcgNodeState& s) { return s.lru[LRU_ACTIVE_ANON]; });
    row("inactive_file", [](const MemcgNodeState& s) { return s.lru[LRU_INACTIVE_FILE]; });
    row("active_file", [](const MemcgNodeState& s) { return s.lru[LRU_ACTIVE_FILE]; });
    row("unevictable", [](const MemcgNodeState& s) { return s.lru[LRU_UNEVICTABLE]; });
    row_bytes("slab_reclaimable", [](const MemcgNodeState& s) { return s.kmem[MEMCG_SLAB_RECLAIMABLE_B]; });
    row_bytes("slab_unreclaimable", [](const MemcgNodeState& s) { return s.kmem[MEMCG_SLAB_UNRECLAIMABLE_B]; });
    return out;
  }
  if (root) return std::nullopt;  // the other files are CFTYPE_NOT_ON_ROOT
  if (file == "memory.current") return std::to_string(static_cast<std::uint64_t>(memcg->memory.usage) * P) + "\n";
  if (file == "memory.swap.current") return std::to_string(static_cast<std::uint64_t>(memcg->swap.usage) * P) + "\n";
  if (file == "memory.max") return limit_str(memcg->memory.max) + "\n";
  if (file == "memory.high") return limit_str(memcg->memory.high) + "\n";
  if (file == "memory.low") return limit_str(memcg->memory.low) + "\n";
  if (file == "memory.min") return limit_str(memcg->memory.min) + "\n";
  if (file == "memory.swap.max") return limit_str(memcg->swap.max) + "\n";
  if (file == "memory.events" || file == "memory.events.local") {
    const auto& e = file == "memory.events" ? memcg->memory_events : memcg->memory_events_local;
    return line("low", e[MEMCG_LOW]) + line("high", e[MEMCG_HIGH]) + line("max", e[MEMCG_MAX]) +
           line("oom", e[MEMCG_OOM]) + line("oom_kill", e[MEMCG_OOM_KILL]) + line("oom_group_kill", 0);
  }
  if (file == "memory.swap.events")
    return line("high", 0) + line("max", memcg->memory_events[MEMCG_SWAP_MAX]) +
           line("fail", memcg->memory_events[MEMCG_SWAP_FAIL]);
  return std::nullopt;
}

long Kernel::cgroup_file_write(const std::string& path, std::string_view file, std::string_view value, CpuId cpu,
                               KernelCost& cost) {
  mem_cgroup* memcg = memcgs_->find(path);
  if (!memcg || memcg->id == kRootMemcgId) return -ENOENT;
  unsigned long pages = 0;
  std::string v(value);
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  std::string why;
  if (!parse_limit(v, pages, &why)) return -EINVAL;  // bytes as memparse takes them, a size, or "max"

  if (file == "memory.min") memcg->memory.min = pages;
  else if (file == "memory.low") memcg->memory.low = pages;
  else if (file == "memory.swap.max") memcg->swap.max = pages;
  else if (file == "memory.high") {
    memcg->memory.high = pages;  // memory_high_write: reclaim down to it once
    if (memcg->memory.usage > static_cast<long>(pages))
      try_to_free_mem_cgroup_pages(memcg, static_cast<unsigned long>(memcg->memory.usage) - pages, GFP_KERNEL, true,
                                   cpu, cost);
  } else if (file == "memory.max") {
    memcg->memory.max = pages;  // memory_max_write: reclaim, then OOM-kill, until usage fits
    int nr_reclaims = MAX_RECLAIM_RETRIES;
    bool drained = false;
    while (memcg->memory.usage > static_cast<long>(pages)) {
      if (!drained) {
        drain_all_stock(memcg);
        drained = true;
        continue;
      }
      if (nr_reclaims > 0) {
        if (!try_to_free_mem_cgroup_pages(memcg, static_cast<unsigned long>(memcg->memory.usage) - pages, GFP_KERNEL,
                                          true, cpu, cost))
          --nr_reclaims;
        continue;
      }
      memcg_memory_event(memcg, MEMCG_OOM);
      if (!mem_cgroup_out_of_memory(memcg, GFP_KERNEL, 0, cost)) break;
    }
    memcg_memory_event(memcg, MEMCG_MAX);
  } else {
    return -EINVAL;
  }
  return 0;
}

}  // namespace numasim::os
