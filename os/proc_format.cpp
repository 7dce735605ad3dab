// Linux text formats of the memory statistics (fs/proc/meminfo.c,
// drivers/base/node.c, mm/vmstat.c, mm/hugetlb.c, numactl's numastat), byte
// for byte where the simulator has the figure.
// /proc/vmstat's writeback thresholds follow global_dirty_limits with the
// default vm.dirty_ratio 20 and vm.dirty_background_ratio 10 (no sysctl knobs).
// Simplified: meminfo fields with no
// model behind them (Buffers, swap, Committed_AS, Vmalloc*, Percpu, DirectMap*)
// print 0; SwapTotal/SwapFree come from the caller; CommitLimit follows
// Linux's overcommit_ratio formula (50%) plus the swap total; zoneinfo's
// "vm stats threshold" is 0 (counters are exact here) and node_unreclaimable 0.
#include "os/proc_format.h"

#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "common/json_writer.h"
#include "os/page_alloc.h"

namespace numasim::os {
namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
}

constexpr std::uint64_t kHpagePmdNr = 512;
constexpr std::uint64_t kPagesToKb = kPageSize >> 10;

// vmstat_item_print_in_thp: THP counters are printed in huge pages.
bool print_in_thp(node_stat_item i) {
  return i == NR_ANON_THPS || i == NR_SHMEM_THPS || i == NR_SHMEM_PMDMAPPED || i == NR_FILE_THPS ||
         i == NR_FILE_PMDMAPPED;
}

std::uint64_t pos(std::int64_t v) { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// Node stat in pages (byte counters converted), as node_page_state_pages.
std::uint64_t node_pages(const PhysMem& pm, int nid, node_stat_item i) {
  std::int64_t raw = nid < 0 ? pm.global_node_page_state(i) : pm.node_page_state(NodeId(nid), i);
  return pos(node_stat_for_vmstat(i, raw));
}

std::uint64_t node_managed(const PhysMem& pm, int nid) {
  std::uint64_t t = 0;
  for (const zone& z : pm.NODE_DATA(NodeId(nid)).node_zones) t += z.managed_pages;
  return t;
}

const char* const kMigratetypeNames[] = {"Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"};

}  // namespace

namespace {
// The zone stats, numa events and node stats of one node (nid >= 0) or of the
// whole machine (nid < 0), in enum order.
void append_stat_fields(std::vector<ProcField>& out, const PhysMem& pm, int nid) {
  for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i) {
    auto item = static_cast<zone_stat_item>(i);
    const std::int64_t v = nid < 0 ? pm.global_zone_page_state(item) : pm.node_zone_page_state(NodeId(nid), item);
    out.push_back({zone_stat_name(item), pos(v)});
  }
  for (int i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i) {
    auto item = static_cast<numa_stat_item>(i);
    out.push_back({numa_stat_name(item),
                   nid < 0 ? pm.global_numa_event_state(item) : pm.node_numa_event_state(NodeId(nid), item)});
  }
  for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i) {
    auto item = static_cast<node_stat_item>(i);
    std::uint64_t v = node_pages(pm, nid, item);
    if (print_in_thp(item)) v /= kHpagePmdNr;
    out.push_back({node_stat_name(item), v});
  }
}

// "name value" lines.
std::string format_fields(const std::vector<ProcField>& fields) {
  std::string out;
  for (const ProcField& f : fields) appendf(out, "%.*s %" PRIu64 "\n", (int)f.name.size(), f.name.data(), f.value);
  return out;
}
}  // namespace

// global_dirty_limits (mm/page-writeback.c) with vm.dirty_ratio = 20 and
// vm.dirty_background_ratio = 10: ratios of the dirtyable memory (free pages
// above the reserves plus the file LRUs), scaled per page as Linux does.
DirtyLimits global_dirty_limits(const PhysMem& pm) {
  std::uint64_t x = pos(pm.global_zone_page_state(NR_FREE_PAGES));
  x -= std::min(x, pm.totalreserve_pages());
  x += node_pages(pm, -1, NR_INACTIVE_FILE) + node_pages(pm, -1, NR_ACTIVE_FILE);
  const std::uint64_t available = x + 1;  // global_dirtyable_memory never returns 0
  const std::uint64_t ratio = 20 * kPageSize / 100, bg_ratio = 10 * kPageSize / 100;
  DirtyLimits d;
  d.dirty = ratio * available / kPageSize;
  d.background = bg_ratio * available / kPageSize;
  if (d.background >= d.dirty) d.background = d.dirty / 2;
  return d;
}

// vmstat_show: zone stats, numa events, node stats, writeback thresholds, vm
// events, in enum order.
std::vector<ProcField> vmstat_fields(const PhysMem& pm) {
  std::vector<ProcField> out;
  append_stat_fields(out, pm, -1);
  const DirtyLimits dirty = global_dirty_limits(pm);
  out.push_back({"nr_dirty_threshold", dirty.dirty});
  out.push_back({"nr_dirty_background_threshold", dirty.background});
  const VmEvents ev = pm.all_vm_events();
  for (int i = 0; i < NR_VM_EVENT_ITEMS; ++i) out.push_back({vm_event_name(static_cast<vm_event_item>(i)), ev[i]});
  return out;
}

std::string proc_vmstat(const PhysMem& pm) { return format_fields(vmstat_fields(pm)); }

// meminfo_proc_show (show_val_kb: "%-16s%8lu kB").
std::string proc_meminfo(const PhysMem& pm, const HugetlbInfo& huge, const SwapMeminfo& swap) {
  std::string out;
  auto kb = [&](const char* label, std::uint64_t pages) {
    appendf(out, "%-16s%8" PRIu64 " kB\n", label, pages * kPagesToKb);
  };
  auto raw_kb = [&](const char* label, std::uint64_t v) { appendf(out, "%-16s%8" PRIu64 " kB\n", label, v); };
  const std::uint64_t total = pm.totalram_pages();
  const std::uint64_t free = pos(pm.global_zone_page_state(NR_FREE_PAGES));
  auto g = [&](node_stat_item i) { return node_pages(pm, -1, i); };
  // si_mem_available
  std::uint64_t wmark_low = 0;
  for (int n = 0; n < pm.nr_node_ids(); ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) wmark_low += low_wmark_pages(z);
  std::int64_t available = static_cast<std::int64_t>(free) - static_cast<std::int64_t>(pm.totalreserve_pages());
  std::uint64_t pagecache = g(NR_ACTIVE_FILE) + g(NR_INACTIVE_FILE);
  pagecache -= std::min(pagecache / 2, wmark_low);
  available += static_cast<std::int64_t>(pagecache);
  std::uint64_t reclaimable = g(NR_SLAB_RECLAIMABLE_B) + g(NR_KERNEL_MISC_RECLAIMABLE);
  reclaimable -= std::min(reclaimable / 2, wmark_low);
  available += static_cast<std::int64_t>(reclaimable);
  if (available < 0) available = 0;
  const std::uint64_t file = g(NR_FILE_PAGES), swapcache = g(NR_SWAPCACHE);
  const std::uint64_t cached = file > swapcache ? file - swapcache : 0;
  const std::uint64_t huge_pages_kb = std::max(huge.total * huge.page_size_kb, huge.all_hstates_kb);

  kb("MemTotal:", total);
  kb("MemFree:", free);
  kb("MemAvailable:", static_cast<std::uint64_t>(available));
  kb("Buffers:", 0);
  kb("Cached:", cached);
  kb("SwapCached:", swapcache);
  kb("Active:", g(NR_ACTIVE_ANON) + g(NR_ACTIVE_FILE));
  kb("Inactive:", g(NR_INACTIVE_ANON) + g(NR_INACTIVE_FILE));
  kb("Active(anon):", g(NR_ACTIVE_ANON));
  kb("Inactive(anon):", g(NR_INACTIVE_ANON));
  kb("Active(file):", g(NR_ACTIVE_FILE));
  kb("Inactive(file):", g(NR_INACTIVE_FILE));
  kb("Unevictable:", g(NR_UNEVICTABLE));
  kb("Mlocked:", pos(pm.global_zone_page_state(NR_MLOCK)));
  kb("SwapTotal:", swap.total);
  kb("SwapFree:", swap.free);
  kb("Zswap:", 0);
  kb("Zswapped:", 0);
  kb("Dirty:", g(NR_FILE_DIRTY));
  kb("Writeback:", g(NR_WRITEBACK));
  kb("AnonPages:", g(NR_ANON_MAPPED));
  kb("Mapped:", g(NR_FILE_MAPPED));
  kb("Shmem:", g(NR_SHMEM));
  kb("KReclaimable:", g(NR_SLAB_RECLAIMABLE_B) + g(NR_KERNEL_MISC_RECLAIMABLE));
  kb("Slab:", g(NR_SLAB_RECLAIMABLE_B) + g(NR_SLAB_UNRECLAIMABLE_B));
  kb("SReclaimable:", g(NR_SLAB_RECLAIMABLE_B));
  kb("SUnreclaim:", g(NR_SLAB_UNRECLAIMABLE_B));
  raw_kb("KernelStack:", g(NR_KERNEL_STACK_KB));
  kb("PageTables:", g(NR_PAGETABLE));
  kb("SecPageTables:", g(NR_SECONDARY_PAGETABLE));
  kb("NFS_Unstable:", 0);
  kb("Bounce:", pos(pm.global_zone_page_state(NR_BOUNCE)));
  kb("WritebackTmp:", g(NR_WRITEBACK_TEMP));
  // vm_commit_limit with overcommit_ratio 50: (total - hugetlb) * 50 / 100 + total_swap_pages.
  const std::uint64_t huge_pages = huge_pages_kb / kPagesToKb;
  kb("CommitLimit:", (total > huge_pages ? total - huge_pages : 0) * 50 / 100 + swap.total);
  kb("Committed_AS:", 0);
  raw_kb("VmallocTotal:", 34359738367ull);
  kb("VmallocUsed:", 0);
  kb("VmallocChunk:", 0);
  kb("Percpu:", 0);
  appendf(out, "HardwareCorrupted: %5d kB\n", 0);  // its own format in meminfo_proc_show
  kb("AnonHugePages:", g(NR_ANON_THPS));
  kb("ShmemHugePages:", g(NR_SHMEM_THPS));
  kb("ShmemPmdMapped:", g(NR_SHMEM_PMDMAPPED));
  kb("FileHugePages:", g(NR_FILE_THPS));
  kb("FilePmdMapped:", g(NR_FILE_PMDMAPPED));
  // hugetlb_report_meminfo
  appendf(out, "HugePages_Total:   %5" PRIu64 "\n", huge.total);
  appendf(out, "HugePages_Free:    %5" PRIu64 "\n", huge.free);
  appendf(out, "HugePages_Rsvd:    %5" PRIu64 "\n", huge.rsvd);
  appendf(out, "HugePages_Surp:    %5" PRIu64 "\n", huge.surp);
  appendf(out, "Hugepagesize:   %8" PRIu64 " kB\n", huge.page_size_kb);
  appendf(out, "Hugetlb:        %8" PRIu64 " kB\n", huge_pages_kb);
  raw_kb("DirectMap4k:", 0);
  raw_kb("DirectMap2M:", 0);
  raw_kb("DirectMap1G:", 0);
  return out;
}

// node_read_meminfo + hugetlb_report_node_meminfo.
std::vector<ProcField> node_meminfo_fields(const PhysMem& pm, NodeId nid, const HugetlbInfo& huge) {
  std::vector<ProcField> out;
  const int n = nid.value();
  auto g = [&](node_stat_item i) { return node_pages(pm, n, i) * kPagesToKb; };
  const std::uint64_t total = node_managed(pm, n) * kPagesToKb;
  const std::uint64_t free = pos(pm.node_zone_page_state(nid, NR_FREE_PAGES)) * kPagesToKb;
  std::uint64_t mlock = 0, bounce = 0;
  for (const zone& z : pm.NODE_DATA(nid).node_zones) {
    mlock += pos(z.stats.vm_stat[NR_MLOCK]);
    bounce += pos(z.stats.vm_stat[NR_BOUNCE]);
  }
  out = {
      {"MemTotal", total},
      {"MemFree", free},
      {"MemUsed", total - free},
      {"SwapCached", g(NR_SWAPCACHE)},
      {"Active", g(NR_ACTIVE_ANON) + g(NR_ACTIVE_FILE)},
      {"Inactive", g(NR_INACTIVE_ANON) + g(NR_INACTIVE_FILE)},
      {"Active(anon)", g(NR_ACTIVE_ANON)},
      {"Inactive(anon)", g(NR_INACTIVE_ANON)},
      {"Active(file)", g(NR_ACTIVE_FILE)},
      {"Inactive(file)", g(NR_INACTIVE_FILE)},
      {"Unevictable", g(NR_UNEVICTABLE)},
      {"Mlocked", mlock * kPagesToKb},
      {"Dirty", g(NR_FILE_DIRTY)},
      {"Writeback", g(NR_WRITEBACK)},
      {"FilePages", g(NR_FILE_PAGES)},
      {"Mapped", g(NR_FILE_MAPPED)},
      {"AnonPages", g(NR_ANON_MAPPED)},
      {"Shmem", g(NR_SHMEM)},
      {"KernelStack", pos(pm.node_page_state(nid, NR_KERNEL_STACK_KB))},
      {"PageTables", g(NR_PAGETABLE)},
      {"SecPageTables", g(NR_SECONDARY_PAGETABLE)},
      {"NFS_Unstable", 0},
      {"Bounce", bounce * kPagesToKb},
      {"WritebackTmp", g(NR_WRITEBACK_TEMP)},
      {"KReclaimable", g(NR_SLAB_RECLAIMABLE_B) + g(NR_KERNEL_MISC_RECLAIMABLE)},
      {"Slab", g(NR_SLAB_RECLAIMABLE_B) + g(NR_SLAB_UNRECLAIMABLE_B)},
      {"SReclaimable", g(NR_SLAB_RECLAIMABLE_B)},
      {"SUnreclaim", g(NR_SLAB_UNRECLAIMABLE_B)},
      {"AnonHugePages", g(NR_ANON_THPS)},
      {"ShmemHugePages", g(NR_SHMEM_THPS)},
      {"ShmemPmdMapped", g(NR_SHMEM_PMDMAPPED)},
      {"FileHugePages", g(NR_FILE_THPS)},
      {"FilePmdMapped", g(NR_FILE_PMDMAPPED)},
      {"HugePages_Total", huge.total},
      {"HugePages_Free", huge.free},
      {"HugePages_Surp", huge.surp},
  };
  return out;
}

// node_read_meminfo: "Node N %-16s%8lu kB" lines, then the hugetlb counts.
std::string node_meminfo(const PhysMem& pm, NodeId nid, const HugetlbInfo& huge) {
  std::string out;
  const int n = nid.value();
  for (const ProcField& f : node_meminfo_fields(pm, nid, huge)) {
    if (f.name == "FileHugePages" || f.name == "FilePmdMapped") {
      // Linux 6.1 prints these two with one space less (its format string's own
      // alignment; fixed in a later release).
      appendf(out, "Node %d %.*s: %8" PRIu64 " kB\n", n, (int)f.name.size(), f.name.data(), f.value);
    } else if (f.name == "HugePages_Total") {
      appendf(out, "Node %d HugePages_Total: %5" PRIu64 "\n", n, f.value);
    } else if (f.name.substr(0, 10) == "HugePages_") {
      appendf(out, "Node %d %.*s:  %5" PRIu64 "\n", n, (int)f.name.size(), f.name.data(), f.value);
    } else {
      const std::string label = std::string(f.name) + ":";
      appendf(out, "Node %d %-16s%8" PRIu64 " kB\n", n, label.c_str(), f.value);
    }
  }
  return out;
}

// node_read_vmstat (drivers/base/node.c): zone stats, numa events and node
// stats of the node; no writeback thresholds and no events.
std::string node_vmstat(const PhysMem& pm, NodeId nid) {
  std::vector<ProcField> fields;
  append_stat_fields(fields, pm, nid.value());
  return format_fields(fields);
}

// node_read_numastat.
std::vector<ProcField> node_numastat_fields(const PhysMem& pm, NodeId nid) {
  return {
      {"numa_hit", pm.node_numa_event_state(nid, NUMA_HIT)},
      {"numa_miss", pm.node_numa_event_state(nid, NUMA_MISS)},
      {"numa_foreign", pm.node_numa_event_state(nid, NUMA_FOREIGN)},
      {"interleave_hit", pm.node_numa_event_state(nid, NUMA_INTERLEAVE_HIT)},
      {"local_node", pm.node_numa_event_state(nid, NUMA_LOCAL)},
      {"other_node", pm.node_numa_event_state(nid, NUMA_OTHER)},
  };
}

std::string node_numastat(const PhysMem& pm, NodeId nid) { return format_fields(node_numastat_fields(pm, nid)); }

// frag_show_print: populated zones only.
std::string proc_buddyinfo(const PhysMem& pm) {
  std::string out;
  for (int n = 0; n < pm.nr_node_ids(); ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) {
      if (!z.populated()) continue;
      appendf(out, "Node %d, zone %8s ", n, z.name);
      for (unsigned o = 0; o < MAX_ORDER; ++o) appendf(out, "%6" PRIu64 " ", z.free_area[o].nr_free);
      out += '\n';
    }
  return out;
}

// pagetypeinfo_show: free blocks per type and order, then pageblocks per type.
std::string proc_pagetypeinfo(const PhysMem& pm) {
  std::string out;
  appendf(out, "Page block order: %u\n", pageblock_order);
  appendf(out, "Pages per block:  %lu\n\n", pageblock_nr_pages);
  appendf(out, "%-43s ", "Free pages count per migrate type at order");
  for (unsigned o = 0; o < MAX_ORDER; ++o) appendf(out, "%6u ", o);
  out += '\n';
  for (int n = 0; n < pm.nr_node_ids(); ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) {
      if (!z.populated()) continue;
      for (int mt = 0; mt < 5; ++mt) {
        appendf(out, "Node %4d, zone %8s, type %12s ", n, z.name, kMigratetypeNames[mt]);
        for (unsigned o = 0; o < MAX_ORDER; ++o) {
          std::uint64_t c = mt < MIGRATE_TYPES ? z.free_area[o].nr_free_mt[mt] : 0;
          if (c >= 100000)
            appendf(out, ">%6" PRIu64 " ", std::uint64_t{100000});
          else
            appendf(out, "%6" PRIu64 " ", c);
        }
        out += '\n';
      }
    }
  appendf(out, "\n%-23s", "Number of blocks type ");
  for (const char* name : kMigratetypeNames) appendf(out, "%12s ", name);
  out += '\n';
  for (int n = 0; n < pm.nr_node_ids(); ++n)
    for (const zone& z : pm.NODE_DATA(NodeId(n)).node_zones) {
      if (!z.populated()) continue;
      std::uint64_t count[5] = {};
      for (std::uint64_t pfn = z.zone_start_pfn; pfn < z.zone_end_pfn(); pfn += pageblock_nr_pages)
        count[pm.get_pageblock_migratetype(pm.pfn_to_page(Pfn(pfn)))]++;
      appendf(out, "Node %d, zone %8s ", n, z.name);
      for (std::uint64_t c : count) appendf(out, "%12" PRIu64 " ", c);
      out += '\n';
    }
  return out;
}

// zoneinfo_show_print for every zone of every node.
std::string proc_zoneinfo(const PhysMem& pm) {
  std::string out;
  for (int n = 0; n < pm.nr_node_ids(); ++n) {
    const pglist_data& nd = pm.NODE_DATA(NodeId(n));
    bool first_populated = true;
    for (const zone& z : nd.node_zones) {
      appendf(out, "Node %d, zone %8s", n, z.name);
      if (z.populated() && first_populated) {
        first_populated = false;
        out += "\n  per-node stats";
        for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i) {
          auto item = static_cast<node_stat_item>(i);
          std::uint64_t v = node_pages(pm, n, item);
          if (print_in_thp(item)) v /= kHpagePmdNr;
          appendf(out, "\n      %-12.*s %" PRIu64, (int)node_stat_name(item).size(), node_stat_name(item).data(), v);
        }
      }
      // Linux 6.1's watermark lines: no "promo" line (the promotion watermark is
      // printed from Linux 6.6 on), though the model keeps WMARK_PROMO.
      appendf(out,
              "\n  pages free     %" PRIu64
              "\n        boost    0\n        min      %lu\n        low      %lu"
              "\n        high     %lu\n        spanned  %" PRIu64 "\n        present  %" PRIu64
              "\n        managed  %" PRIu64 "\n        cma      0",
              pos(z.stats.vm_stat[NR_FREE_PAGES]), min_wmark_pages(z), low_wmark_pages(z), high_wmark_pages(z),
              z.spanned_pages, z.present_pages, z.managed_pages);
      appendf(out, "\n        protection: (%ld", z.lowmem_reserve[0]);
      for (int i = 1; i < MAX_NR_ZONES; ++i) appendf(out, ", %ld", z.lowmem_reserve[i]);
      out += ')';
      if (!z.populated()) {
        out += '\n';
        continue;
      }
      for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i) {
        auto item = static_cast<zone_stat_item>(i);
        appendf(out, "\n      %-12.*s %" PRIu64, (int)zone_stat_name(item).size(), zone_stat_name(item).data(),
                pos(z.stats.vm_stat[i]));
      }
      for (int i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i) {
        auto item = static_cast<numa_stat_item>(i);
        appendf(out, "\n      %-12.*s %" PRIu64, (int)numa_stat_name(item).size(), numa_stat_name(item).data(),
                z.stats.vm_numa_event[i]);
      }
      out += "\n  pagesets";
      for (std::size_t c = 0; c < z.per_cpu_pageset.size(); ++c) {
        const per_cpu_pages& pcp = z.per_cpu_pageset[c];
        appendf(out, "\n    cpu: %zu\n              count: %d\n              high:  %d\n              batch: %d", c,
                pcp.count, pcp.high, pcp.batch);
        out += "\n  vm stats threshold: 0";
      }
      appendf(out, "\n  node_unreclaimable:  0\n  start_pfn:           %" PRIu64 "\n", z.zone_start_pfn);
    }
  }
  return out;
}

// numastat(8) without arguments: one column per node.
std::string numastat_table(const PhysMem& pm) {
  std::string out;
  appendf(out, "%-16s", "");
  for (int n = 0; n < pm.nr_node_ids(); ++n) {
    char name[16];
    std::snprintf(name, sizeof name, "node%d", n);
    appendf(out, "%16s", name);
  }
  out += '\n';
  const struct {
    const char* label;
    numa_stat_item item;
  } rows[] = {{"numa_hit", NUMA_HIT},         {"numa_miss", NUMA_MISS},
              {"numa_foreign", NUMA_FOREIGN}, {"interleave_hit", NUMA_INTERLEAVE_HIT},
              {"local_node", NUMA_LOCAL},     {"other_node", NUMA_OTHER}};
  for (const auto& r : rows) {
    appendf(out, "%-16s", r.label);
    for (int n = 0; n < pm.nr_node_ids(); ++n) appendf(out, "%16" PRIu64, pm.node_numa_event_state(NodeId(n), r.item));
    out += '\n';
  }
  return out;
}

std::string physmem_json(const PhysMem& pm, bool pretty) {
  JsonWriter j(pretty);
  j.begin_object();
  j.key("vmstat").begin_object();
  for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i) {
    auto item = static_cast<zone_stat_item>(i);
    j.key(zone_stat_name(item)).value(pm.global_zone_page_state(item));
  }
  for (int i = 0; i < NR_VM_NUMA_EVENT_ITEMS; ++i) {
    auto item = static_cast<numa_stat_item>(i);
    j.key(numa_stat_name(item)).value(pm.global_numa_event_state(item));
  }
  for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i) {
    auto item = static_cast<node_stat_item>(i);
    std::uint64_t v = node_pages(pm, -1, item);
    if (print_in_thp(item)) v /= kHpagePmdNr;
    j.key(node_stat_name(item)).value(v);
  }
  const VmEvents ev = pm.all_vm_events();
  for (int i = 0; i < NR_VM_EVENT_ITEMS; ++i) j.key(vm_event_name(static_cast<vm_event_item>(i))).value(ev[i]);
  j.end_object();
  j.key("nodes").begin_array();
  for (int n = 0; n < pm.nr_node_ids(); ++n) {
    const pglist_data& nd = pm.NODE_DATA(NodeId(n));
    j.begin_object();
    j.key("node").value(n);
    j.key("numastat").begin_object();
    const struct {
      const char* label;
      numa_stat_item item;
    } rows[] = {{"numa_hit", NUMA_HIT},         {"numa_miss", NUMA_MISS},
                {"numa_foreign", NUMA_FOREIGN}, {"interleave_hit", NUMA_INTERLEAVE_HIT},
                {"local_node", NUMA_LOCAL},     {"other_node", NUMA_OTHER}};
    for (const auto& r : rows) j.key(r.label).value(pm.node_numa_event_state(NodeId(n), r.item));
    j.end_object();
    j.key("stats").begin_object();
    for (int i = 0; i < NR_VM_NODE_STAT_ITEMS; ++i) {
      auto item = static_cast<node_stat_item>(i);
      std::uint64_t v = node_pages(pm, n, item);
      if (print_in_thp(item)) v /= kHpagePmdNr;
      j.key(node_stat_name(item)).value(v);
    }
    j.end_object();
    j.key("zones").begin_array();
    for (const zone& z : nd.node_zones) {
      if (!z.populated()) continue;
      j.begin_object();
      j.key("zone").value(z.name);
      j.key("free_pages").value(pos(z.stats.vm_stat[NR_FREE_PAGES]));
      j.key("min").value(static_cast<std::uint64_t>(min_wmark_pages(z)));
      j.key("low").value(static_cast<std::uint64_t>(low_wmark_pages(z)));
      j.key("high").value(static_cast<std::uint64_t>(high_wmark_pages(z)));
      j.key("spanned").value(z.spanned_pages);
      j.key("present").value(z.present_pages);
      j.key("managed").value(z.managed_pages);
      j.key("protection").begin_array();
      for (long r : z.lowmem_reserve) j.value(static_cast<std::int64_t>(r));
      j.end_array();
      j.key("buddyinfo").begin_array();
      for (unsigned o = 0; o < MAX_ORDER; ++o) j.value(z.free_area[o].nr_free);
      j.end_array();
      j.key("stats").begin_object();
      for (int i = 0; i < NR_VM_ZONE_STAT_ITEMS; ++i)
        j.key(zone_stat_name(static_cast<zone_stat_item>(i))).value(pos(z.stats.vm_stat[i]));
      j.end_object();
      j.end_object();
    }
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str();
}

// swap_show (mm/swapfile.c): the file name padded to 40 columns, a tab before
// sizes below 10000000 kB to keep the columns.
std::string proc_swaps(const std::vector<SwapsLine>& areas) {
  std::string out = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
  for (const SwapsLine& a : areas) {
    const int len = static_cast<int>(a.filename.size());
    appendf(out, "%s%*s%s\t%" PRIu64 "\t%s%" PRIu64 "\t%s%d\n", a.filename.c_str(), len < 40 ? 40 - len : 1, " ",
            a.type.c_str(), a.size_kb, a.size_kb < 10000000 ? "\t" : "", a.used_kb, a.used_kb < 10000000 ? "\t" : "",
            a.priority);
  }
  return out;
}

}  // namespace numasim::os
