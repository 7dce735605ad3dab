// Statistics sums and the CONFIG_DEBUG_VM-style consistency checker of the page
// allocator (in the spirit of mm/debug.c, check_new_page, bad_page and the
// free-list invariants that __free_one_page relies on).
// Simplified: the checker walks every frame of every zone, so it is meant for
// test-sized machines.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "os/page_alloc.h"

namespace numasim::os {
namespace {

[[noreturn]] __attribute__((format(printf, 1, 2))) void vm_bug(const char* fmt, ...) {
  std::fprintf(stderr, "numasim: check_consistency: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::abort();
}

}  // namespace

std::uint64_t PhysMem::totalram_pages() const {
  std::uint64_t t = 0;
  for (const auto& n : nodes_)
    for (const zone& z : n->node_zones) t += z.managed_pages;
  return t;
}

std::int64_t PhysMem::global_node_page_state(node_stat_item item) const {
  std::int64_t t = 0;
  for (const auto& n : nodes_) t += n->stats.vm_stat[item];
  return t;
}

std::int64_t PhysMem::node_zone_page_state(NodeId nid, zone_stat_item item) const {
  std::int64_t t = 0;
  for (const zone& z : nodes_[nid.value()]->node_zones) t += z.stats.vm_stat[item];
  return t;
}

std::int64_t PhysMem::global_zone_page_state(zone_stat_item item) const {
  std::int64_t t = 0;
  for (int n = 0; n < nr_node_ids(); ++n) t += node_zone_page_state(NodeId(n), item);
  return t;
}

std::uint64_t PhysMem::node_numa_event_state(NodeId nid, numa_stat_item item) const {
  std::uint64_t t = 0;
  for (const zone& z : nodes_[nid.value()]->node_zones) t += z.stats.vm_numa_event[item];
  return t;
}

std::uint64_t PhysMem::global_numa_event_state(numa_stat_item item) const {
  std::uint64_t t = 0;
  for (int n = 0; n < nr_node_ids(); ++n) t += node_numa_event_state(NodeId(n), item);
  return t;
}

std::uint64_t PhysMem::sum_vm_event(vm_event_item item) const {
  std::uint64_t t = 0;
  for (const VmEvents& e : vm_events_) t += e[item];
  return t;
}

VmEvents PhysMem::all_vm_events() const {
  VmEvents sum{};
  for (const VmEvents& e : vm_events_)
    for (std::size_t i = 0; i < sum.size(); ++i) sum[i] += e[i];
  return sum;
}

void PhysMem::reset_events() {
  for (VmEvents& e : vm_events_) e = {};
  for (auto& n : nodes_)
    for (zone& z : n->node_zones) z.stats.vm_numa_event = {};
}

void PhysMem::check_consistency() const {
  for (const auto& nd : nodes_) {
    for (const zone& z : nd->node_zones) {
      const int nid = nd->node_id;
      if (!z.populated()) {
        for (unsigned o = 0; o < MAX_ORDER; ++o)
          if (z.free_area[o].nr_free) vm_bug("node %d zone %s is empty but has free blocks", nid, z.name);
        continue;
      }
      const std::uint64_t start = z.zone_start_pfn, end = z.zone_end_pfn();
      // 0 = not seen, 1 = in a free buddy block, 2 = on a per-cpu list.
      std::vector<std::uint8_t> seen(end - start, 0);
      std::uint64_t buddy_pages = 0;
      for (unsigned o = 0; o < MAX_ORDER; ++o) {
        const struct free_area& area = z.free_area[o];
        std::uint64_t total = 0;
        for (unsigned mt = 0; mt < MIGRATE_TYPES; ++mt) {
          const PageList& l = area.free_list[mt];
          std::uint64_t n = 0;
          std::uint32_t prev = kNoPfn32;
          for (std::uint32_t p = l.head; p != kNoPfn32; p = mem_map_[p].lru_next) {
            if (p < start || p >= end)
              vm_bug("node %d zone %s order %u list %u links pfn 0x%x outside the zone", nid, z.name, o, mt, p);
            const page& pg = mem_map_[p];
            if (pg.lru_prev != prev) vm_bug("pfn 0x%x: broken back link on a free list", p);
            if (!pg.test(PG_buddy)) vm_bug("pfn 0x%x on free list order %u without PG_buddy", p, o);
            if (pg.flags != (1u << PG_buddy)) vm_bug("pfn 0x%x free with extra flags 0x%x", p, pg.flags);
            if (pg.order != o) vm_bug("pfn 0x%x on order-%u list has order %u", p, o, pg.order);
            if (pg.free_mt != mt) vm_bug("pfn 0x%x on list %u records type %u", p, mt, pg.free_mt);
            if (p & ((1u << o) - 1)) vm_bug("pfn 0x%x misaligned for order %u", p, o);
            if (p + (1ull << o) > end) vm_bug("free block pfn 0x%x order %u crosses the zone end", p, o);
            if (pg._refcount != 0 || pg.mapcount != 0) vm_bug("free pfn 0x%x has references/mappings", p);
            for (std::uint64_t i = 0; i < (1ull << o); ++i) {
              if (seen[p - start + i]) vm_bug("pfn 0x%llx is in two free blocks", (unsigned long long)(p + i));
              seen[p - start + i] = 1;
            }
            if (o < MAX_ORDER - 1) {
              const std::uint64_t b = p ^ (1u << o);
              if (z.zone_spans_pfn(b) && mem_map_[b].test(PG_buddy) && mem_map_[b].order == o)
                vm_bug("free buddies pfn 0x%x and 0x%llx of order %u were not merged", p, (unsigned long long)b, o);
            }
            prev = p;
            ++n;
          }
          if (prev != l.tail) vm_bug("node %d zone %s order %u list %u: tail mismatch", nid, z.name, o, mt);
          if (o == MAX_ORDER - 1 && mt == MIGRATE_MOVABLE && z.has_lazy_blocks()) {
            if (z.lazy_free_pfn < start || z.lazy_free_end > end || (z.lazy_free_pfn & ((1u << o) - 1)))
              vm_bug("node %d zone %s: bad lazy boot range", nid, z.name);
            for (std::uint64_t p = z.lazy_free_pfn; p < z.lazy_free_end; ++p) {
              if (seen[p - start]) vm_bug("pfn 0x%llx is free twice (lazy range)", (unsigned long long)p);
              seen[p - start] = 1;
            }
            n += (z.lazy_free_end - z.lazy_free_pfn) >> o;
          }
          if (n != area.nr_free_mt[mt])
            vm_bug("node %d zone %s order %u list %u: %llu blocks listed, counter says %llu", nid, z.name, o, mt,
                   (unsigned long long)n, (unsigned long long)area.nr_free_mt[mt]);
          total += n;
          buddy_pages += n << o;
        }
        if (total != area.nr_free)
          vm_bug("node %d zone %s order %u: nr_free %llu but %llu blocks listed", nid, z.name, o,
                 (unsigned long long)area.nr_free, (unsigned long long)total);
      }
      if (static_cast<std::int64_t>(buddy_pages) != z.stats.vm_stat[NR_FREE_PAGES])
        vm_bug("node %d zone %s: NR_FREE_PAGES %lld but %llu pages on free lists", nid, z.name,
               (long long)z.stats.vm_stat[NR_FREE_PAGES], (unsigned long long)buddy_pages);

      std::uint64_t pcp_pages = 0;
      for (std::size_t c = 0; c < z.per_cpu_pageset.size(); ++c) {
        const per_cpu_pages& pcp = z.per_cpu_pageset[c];
        std::uint64_t n = 0;
        for (unsigned idx = 0; idx < NR_PCP_LISTS; ++idx) {
          const unsigned o = pindex_to_order(idx);
          std::uint32_t prev = kNoPfn32;
          for (std::uint32_t p = pcp.lists[idx].head; p != kNoPfn32; p = mem_map_[p].lru_next) {
            if (p < start || p >= end) vm_bug("cpu %zu pcp list of node %d zone %s holds pfn 0x%x", c, nid, z.name, p);
            const page& pg = mem_map_[p];
            if (pg.lru_prev != prev) vm_bug("pfn 0x%x: broken back link on a pcp list", p);
            if (pg.flags != (1u << PG_pcp)) vm_bug("pfn 0x%x on a pcp list has flags 0x%x", p, pg.flags);
            if (pg.order != o) vm_bug("pfn 0x%x on an order-%u pcp list has order %u", p, o, pg.order);
            if (pg._refcount != 0 || pg.mapcount != 0) vm_bug("pcp pfn 0x%x has references/mappings", p);
            for (std::uint64_t i = 0; i < (1ull << o); ++i) {
              if (seen[p - start + i]) vm_bug("pfn 0x%llx is free twice", (unsigned long long)(p + i));
              seen[p - start + i] = 2;
            }
            n += 1ull << o;
            prev = p;
          }
          if (prev != pcp.lists[idx].tail) vm_bug("cpu %zu pcp list %u: tail mismatch", c, idx);
        }
        if (static_cast<int>(n) != pcp.count)
          vm_bug("cpu %zu node %d zone %s: pcp count %d but %llu pages listed", c, nid, z.name, pcp.count,
                 (unsigned long long)n);
        pcp_pages += n;
      }
      // Pages not on any free list: no stray free-state flags.
      for (std::uint64_t p = start; p < end; ++p) {
        const page& pg = mem_map_[p];
        if (seen[p - start]) {
          const bool head = pg.test(PG_buddy) || pg.test(PG_pcp);
          if (!head && (pg.flags != 0 || pg._refcount != 0 || pg.mapcount != 0))
            vm_bug("pfn 0x%llx inside a free block has state (flags 0x%x ref %d map %d)", (unsigned long long)p,
                   pg.flags, pg._refcount, pg.mapcount);
        } else if (pg.test(PG_buddy) || pg.test(PG_pcp)) {
          vm_bug("pfn 0x%llx is flagged free but on no list", (unsigned long long)p);
        } else if (pg._refcount < 0 || pg.mapcount < 0) {
          vm_bug("pfn 0x%llx has a negative count (ref %d map %d)", (unsigned long long)p, pg._refcount, pg.mapcount);
        }
      }
      if (buddy_pages + pcp_pages + z.nr_alloced_pages != z.managed_pages)
        vm_bug("node %d zone %s: free %llu + pcp %llu + allocated %llu != managed %llu", nid, z.name,
               (unsigned long long)buddy_pages, (unsigned long long)pcp_pages, (unsigned long long)z.nr_alloced_pages,
               (unsigned long long)z.managed_pages);
    }
  }
}

}  // namespace numasim::os
