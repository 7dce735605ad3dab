// Page migration (mm/migrate.c migrate_pages / unmap_and_move /
// move_to_new_folio / remove_migration_ptes, mm/rmap.c try_to_migrate) on
// top of the reverse map. An anonymous page moves as Linux 6.1 moves it: the
// new page is taken on the target node (__GFP_THISNODE), the old one locked
// (PG_locked) and every PTE mapping it (found by rmap_walk) replaced by a
// migration entry, writable when the PTE was, readable-exclusive when the page
// was mapped once, else readable; each mm's TLB flushed once; the contents
// copied (Platform::kernel_copy); remove_migration_ptes, walking the reverse
// map again, installs the new page wherever an entry points at the old one,
// with the VMA's protection and the entry's write permission; the old page is
// unlocked and freed. A fault meeting an entry waits (migration_entry_wait).
// A THP moves whole or is split first (migrate_thp, huge_memory.cpp).
// Counters pgmigrate_success (in base pages) and pgmigrate_fail as Linux;
// migrate_page_cycles per page.
// The old page is isolated from its LRU list first; the new one joins the
// lru_add batch with the old one's active/referenced/workingset/mlock state.
// Simplified: no retries,
// and TLB flushes are batched per page (one per mm), not per list of pages.
// PageAnonExclusive does not exist: a read-only page mapped once counts as
// exclusive. The accessed and dirty bits of the PTE are kept in the migration
// PTE's bits 5-6 (unused by x86's swap layout, as bit 7 keeps soft-dirty) and
// restored, as Linux 6.2's migration_entry_supports_ad keeps them in the offset
// (6.1 made the new PTE old and moved dirty to the folio); no soft-dirty or
// uffd-wp bits exist here. shmem and hugetlb pages have no reverse map yet (the
// files issue) and no migration entries (the checker allows them in private
// anonymous memory only): they move only when mapped once, through the mapping
// the caller names (migrate_one), their entry cleared and rewritten with
// nothing running in between, else fail with -EBUSY.
// Page-cache pages of mapped files (MAP_SHARED and the not-yet-copied pages of
// MAP_PRIVATE) move as filemap_migrate_folio moves them (migrate_file_page):
// rmap_walk_file finds every mapping, each becomes a migration entry, the new
// page takes the old one's slot in the file's i_pages with its dirty state, and
// the entries are restored onto it; nothing runs between the unmap and the
// remap, so neither a fault nor the checker ever meets those entries. Pages
// under writeback or read wait (MIGRATE_SYNC) or stay (MIGRATE_ASYNC: hint
// faults; reclaim keeps them before demotion).
#include "os/migrate.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "os/fs.h"
#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/swapops.h"

namespace numasim::os {

// unmap_and_move + move_to_new_folio for a shmem or hugetlb page mapped once.
int Kernel::move_mapped_page(page* old_pg, const std::vector<RmapMapping>& maps, int nid, bool huge, task_struct* t,
                             KernelCost& cost) {
  const NodeId old_nid = pm_.page_to_nid(old_pg);
  const int h = huge ? hugetlb_->page_hstate(old_pg) : HSTATE_2M;
  page* new_pg = huge ? hugetlb_->dequeue(nid, nullptr, false, h)
                      : pm_.alloc_pages(t->cpu, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, 0, NodeId(nid),
                                        nullptr, cost);
  if (huge && new_pg && pm_.page_to_nid(new_pg).value() != nid) {
    hugetlb_->enqueue(new_pg);
    new_pg = nullptr;
  }
  if (!new_pg) {
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -ENOMEM;
  }
  const Bytes size(huge ? hstate_size(h) : kPageSize);
  if (!huge) isolate_lru_page(old_pg);
  const PhysAddr old_phys = pm_.page_to_phys(old_pg);
  const PhysAddr new_phys = pm_.page_to_phys(new_pg);
  cost.add_cycles(params_.costs.migrate_page_cycles);
  // try_to_migrate: clear every mapping and flush it.
  std::vector<pteval_t> old_entries;
  old_entries.reserve(maps.size());
  for (const RmapMapping& m : maps) {
    old_entries.push_back(m.pte.value());
    pgtables_.set_entry(t->cpu, m.pte, 0, cost);
    flush_tlb_range(t->cpu, *m.vma->vm_mm, m.addr, m.addr + size.value(), cost);
  }
  cost.add_memory(platform_.kernel_copy(t->cpu, new_phys, old_phys, size));  // folio_copy
  page_tokens_.copy(new_phys >> kPageShift, old_phys >> kPageShift, huge ? HUGETLB_PAGE_ORDER : 0);
  // folio_migrate_mapping / folio_migrate_flags: the new page takes the old one's place.
  new_pg->mapcount = old_pg->mapcount;
  new_pg->_refcount = old_pg->mapcount;  // one reference per mapping
  new_pg->owner = old_pg->owner;
  new_pg->index = old_pg->index;
  if (!huge) {
    const std::uint32_t keep = (1u << PG_anon) | (1u << PG_swapbacked) | (1u << PG_dirty);
    new_pg->flags |= old_pg->flags & keep;
    for (node_stat_item item : {NR_SHMEM, NR_FILE_PAGES, NR_FILE_MAPPED}) {  // shmem: anon pages take migrate_anon_page
      pm_.mod_node_page_state(old_nid, item, -1);
      pm_.mod_node_page_state(NodeId(nid), item, 1);
    }
  }
  // remove_migration_ptes: every mapping now points at the new page.
  for (std::size_t i = 0; i < maps.size(); ++i)
    pgtables_.set_entry(t->cpu, maps[i].pte, (old_entries[i] & ~PTE_PFN_MASK) | new_phys, cost);
  old_pg->mapcount = 0;
  old_pg->owner = 0;
  if (huge) {
    hugetlb_->enqueue(old_pg);
  } else {
    putback_migrated_page(old_pg, new_pg, t->cpu);
    old_pg->_refcount = 1;  // the migration's own reference: the last one
    put_user_page(t->cpu, old_pg, cost);
  }
  pm_.count_vm_events(t->cpu, PGMIGRATE_SUCCESS, huge ? (hstate_size(h) >> kPageShift) : 1);
  return nid;
}

// The one migration between try_to_migrate and its completion.
struct Kernel::MigrationInFlight {
  page* old_pg;
  page* new_pg;
  CpuId cpu;  // where the migration runs (the task's CPU, or kcompactd's)
  bool done;
};

namespace {
// The bits of a PTE its migration entry keeps (see the header comment).
constexpr pteval_t kMigrationKeptBits = _PAGE_ACCESSED | _PAGE_DIRTY;
}  // namespace

// try_to_migrate (try_to_migrate_one per mapping): the page is locked and holds
// the caller's reference; each PTE becomes a migration entry, the mapping's
// rmap and reference are dropped (page_remove_rmap + folio_put; the RSS stays
// with the entry), then each mm is flushed once (the TTU_BATCH_FLUSH batch).
void Kernel::try_to_migrate(page* pg, const std::vector<RmapMapping>& maps, CpuId cpu, KernelCost& cost,
                            std::vector<mm_struct*>* batch) {
  const std::uint64_t pfn = pm_.page_to_pfn(pg).value();
  const bool exclusive = PageAnon(pg) && pg->mapcount == 1;  // PageAnonExclusive's stand-in
  const bool file = !PageAnon(pg) && !PageSwapBacked(pg);    // a page-cache page
  for (const RmapMapping& m : maps) {
    const pteval_t o = m.pte.value();
    const swp_entry_t e = pte_write(o) ? make_writable_migration_entry(pfn)
                          : exclusive  ? make_readable_exclusive_migration_entry(pfn)
                                       : make_readable_migration_entry(pfn);
    // try_to_migrate_one: the dirty bit of a file page's entry goes to the page (folio_mark_dirty).
    if (file && (o & _PAGE_DIRTY)) fs_->mark_page_dirty(pg, cpu);
    pgtables_.set_entry(cpu, m.pte, swp_entry_to_pte(e) | (o & kMigrationKeptBits), cost);
    --pg->mapcount;
    --pg->_refcount;
    if (pg->mapcount == 0) pm_.mod_node_page_state(pm_.page_to_nid(pg), file ? NR_FILE_MAPPED : NR_ANON_MAPPED, -1);
  }
  if (batch) {
    for (const RmapMapping& m : maps)
      if (std::find(batch->begin(), batch->end(), m.vma->vm_mm) == batch->end()) batch->push_back(m.vma->vm_mm);
    return;
  }
  for (std::size_t i = 0; i < maps.size(); ++i) {
    mm_struct& mm = *maps[i].vma->vm_mm;
    bool seen = false, more = false;
    for (std::size_t j = 0; j < maps.size(); ++j) {
      if (maps[j].vma->vm_mm != &mm || j == i) continue;
      seen |= j < i;
      more = true;
    }
    if (seen) continue;
    if (more)
      flush_tlb_mm(cpu, mm, cost);
    else
      flush_tlb_range(cpu, mm, maps[i].addr, maps[i].addr + kPageSize, cost);
  }
}

// remove_migration_ptes (remove_migration_pte per entry found through the old
// page's reverse map): the new page mapped where an entry still points at the
// old one (an entry munmapped meanwhile is gone), old or young, clean or dirty
// as the entry kept it, writable when the entry was and the VMA is.
void Kernel::remove_migration_ptes(page* old_pg, page* new_pg, CpuId cpu, KernelCost& cost) {
  rmap_walk(old_pg, cpu, cost, [&](const RmapMapping& m) {
    remove_migration_pte(m, new_pg, cpu, cost);
    return true;
  }, /*migration=*/true);
}

// remove_migration_pte: the entry at m becomes the new page's PTE (the rmap
// side: page_add_anon_rmap or page_add_file_rmap, without the RSS the entry kept).
void Kernel::remove_migration_pte(const RmapMapping& m, page* new_pg, CpuId cpu, KernelCost& cost) {
  const vm_area_struct& vma = *m.vma;
  const PteRef& ref = m.pte;
  const pteval_t v = ref.value();
  const swp_entry_t e = pte_to_swp_entry(v);
  pteval_t n = pm_.page_to_phys(new_pg) | (v & kMigrationKeptBits);
  if (vma.is_accessible()) {
    n |= _PAGE_PRESENT | _PAGE_USER;
    if (!(vma.vm_flags & VM_EXEC)) n |= _PAGE_NX;
    if (is_writable_migration_entry(e) && (vma.vm_flags & VM_WRITE)) n |= _PAGE_RW;  // maybe_mkwrite
  } else {
    n |= _PAGE_PROTNONE;
  }
  pgtables_.set_entry(cpu, ref, n, cost);
  const bool file = !PageAnon(new_pg) && !PageSwapBacked(new_pg);
  if (new_pg->mapcount++ == 0)
    pm_.mod_node_page_state(pm_.page_to_nid(new_pg), file ? NR_FILE_MAPPED : NR_ANON_MAPPED, 1);
  ++new_pg->_refcount;
}

// unmap_and_move for an anonymous page through migration entries.
int Kernel::migrate_anon_page(page* old_pg, const std::vector<RmapMapping>& maps, int nid, task_struct* t,
                              KernelCost& cost) {
  page* new_pg = pm_.alloc_pages(t->cpu, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, 0, NodeId(nid),
                                 nullptr, cost);
  if (!new_pg) {
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -ENOMEM;
  }
  migrate_anon_page_into(old_pg, new_pg, maps, t->cpu, cost);
  return nid;
}

// The move itself, into a page the caller has (_refcount 1).
void Kernel::migrate_anon_page_into(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                                    KernelCost& cost) {
  ++old_pg->_refcount;  // the migration's own reference (isolation)
  isolate_lru_page(old_pg);
  migrate_isolated_anon_page(old_pg, new_pg, maps, cpu, cost);
}

// The move of a page already isolated from its LRU (its isolation reference is
// the migration's own), as reclaim's demotion hands it over.
void Kernel::migrate_isolated_anon_page(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                                        KernelCost& cost) {
  cost.add_cycles(params_.costs.migrate_page_cycles);
  old_pg->set(PG_locked);  // folio_lock
  try_to_migrate(old_pg, maps, cpu, cost);
  MigrationInFlight m{old_pg, new_pg, cpu, false};
  migration_in_flight_ = &m;
  if (migration_unmapped_hook_) migration_unmapped_hook_(old_pg);
  if (!m.done) migrate_in_flight_complete(cost);
  migration_in_flight_ = nullptr;
}

// migrate_pages(MR_COMPACTION) for one page with compaction_alloc's target: the
// anonymous page moves into `new_pg` (a free page compaction isolated,
// _refcount 1). -EAGAIN (nothing changed, new_pg still the caller's) when the
// reverse map does not find every mapping.
int Kernel::migrate_page_to(page* old_pg, page* new_pg, CpuId cpu, KernelCost& cost) {
  std::vector<RmapMapping> maps;
  if (!PageAnon(old_pg)) {  // a page-cache page (compaction isolates them too): filemap_migrate_folio
    if (!file_page_migratable(old_pg, 0, maps, cpu, cost)) {
      pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
      return -EAGAIN;
    }
    ++old_pg->_refcount;  // the migration's own reference (isolation), dropped by the move
    migrate_isolated_file_page(old_pg, new_pg, maps, cpu, cost);
    return 0;
  }
  rmap_walk(old_pg, cpu, cost, [&](const RmapMapping& m) {
    maps.push_back(m);
    return true;
  });
  if (maps.empty() || static_cast<int>(maps.size()) != old_pg->mapcount) {
    pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
    return -EAGAIN;
  }
  migrate_anon_page_into(old_pg, new_pg, maps, cpu, cost);
  return 0;
}

// move_to_new_folio (folio_copy, folio_migrate_mapping, folio_migrate_flags),
// remove_migration_ptes, folio_unlock and the old page's release.
void Kernel::migrate_in_flight_complete(KernelCost& cost) {
  MigrationInFlight& m = *migration_in_flight_;
  page* old_pg = m.old_pg;
  page* new_pg = m.new_pg;
  const CpuId cpu = m.cpu;
  cost.add_memory(
      platform_.kernel_copy(cpu, pm_.page_to_phys(new_pg), pm_.page_to_phys(old_pg), Bytes(kPageSize)));
  page_tokens_.copy(pm_.page_to_pfn(new_pg).value(), pm_.page_to_pfn(old_pg).value());  // the copy carries the token
  new_pg->mapcount = 0;
  new_pg->_refcount = 0;
  new_pg->owner = old_pg->owner;
  new_pg->index = old_pg->index;
  new_pg->flags |= old_pg->flags & ((1u << PG_anon) | (1u << PG_swapbacked) | (1u << PG_dirty));
  remove_migration_ptes(old_pg, new_pg, cpu, cost);
  if (new_pg->mapcount == 0) {  // every mapping went away meanwhile: the migration's reference was the last
    new_pg->_refcount = 1;
    put_user_page(cpu, new_pg, cost);
  } else {
    putback_migrated_page(old_pg, new_pg, cpu);
  }
  old_pg->clear(PG_locked);
  old_pg->owner = 0;
  old_pg->_refcount = 1;  // the migration's reference: the last one
  put_user_page(cpu, old_pg, cost);
  pm_.count_vm_events(cpu, PGMIGRATE_SUCCESS, 1);
  m.done = true;
  migration_in_flight_ = nullptr;
}

// The page-cache side of migrate_folio_unmap's checks and folio_migrate_mapping's
// reference count: the page is still in its file's cache, no read or write is in
// flight, the file reverse map finds every mapping, and nobody but the cache, the
// caller's `isolation` references and the mappings holds it.
bool Kernel::file_page_migratable(page* pg, int isolation, std::vector<RmapMapping>& maps, CpuId cpu,
                                  KernelCost& cost) {
  maps.clear();
  if (!fs_ || PageCompound(pg) || !fs_->page_mapping(pg)) return false;
  if (pg->test(PG_locked) || pg->test(PG_writeback)) return false;
  rmap_walk_file(pg, cpu, cost, [&](const RmapMapping& m) {
    maps.push_back(m);
    return true;
  });
  return static_cast<int>(maps.size()) == pg->mapcount && pg->_refcount == 1 + isolation + pg->mapcount;
}

// unmap_and_move for a page-cache page: MIGRATE_SYNC (move_pages, mbind,
// migrate_pages) waits for a read or a writeback in flight (folio_lock,
// folio_wait_writeback); MIGRATE_ASYNC (hint faults) gives up (-EBUSY). The new
// page is taken on nid (__GFP_THISNODE), the old one isolated and moved.
int Kernel::migrate_file_page(page* pg, int nid, bool sync, CpuId cpu, KernelCost& cost) {
  if (sync && fs_ && fs_->page_mapping(pg)) {
    if (pg->test(PG_locked)) fs_->wait_on_page_locked(pg, cpu, cost);
    if (pg->test(PG_writeback)) fs_->wait_on_page_writeback(pg, cpu, cost);
  }
  std::vector<RmapMapping> maps;
  if (!file_page_migratable(pg, 0, maps, cpu, cost)) {
    pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
    return -EBUSY;
  }
  page* np = pm_.alloc_pages(cpu, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, 0, NodeId(nid), nullptr, cost);
  if (!np) {
    pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
    return -ENOMEM;
  }
  ++pg->_refcount;  // the migration's own reference (isolation)
  isolate_lru_page(pg);
  migrate_isolated_file_page(pg, np, maps, cpu, cost);
  return nid;
}

// migrate_folio_unmap + move_to_new_folio with filemap_migrate_folio +
// remove_migration_ptes for an isolated page-cache page mapped exactly by `maps`
// (file_page_migratable held). Every mapping becomes a migration entry
// (try_to_migrate, one flush per mm; a dirty entry dirties the page); the
// contents are copied; folio_migrate_mapping puts the new page in the file's
// i_pages slot with the cache's reference and moves nr_file_pages and, for a dirty
// page, nr_dirty and the zone's write-pending count to the new node;
// folio_migrate_flags moves PG_dirty, PG_uptodate, PG_readahead (the LRU, mlock
// and memcg state through putback_migrated_page); remove_migration_ptes maps the
// new page where the entries are (page_add_file_rmap: nr_mapped moves; the
// MM_FILEPAGES of each mm never changed). Simplified: no fault or munmap can meet
// a file page's migration entries (nothing runs between the unmap and the remap,
// migration_unmapped_hook_ is not called), so they are removed from `maps`, not
// found again through the reverse map.
void Kernel::migrate_isolated_file_page(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                                        KernelCost& cost) {
  inode& ino = *fs_->page_mapping(old_pg);
  cost.add_cycles(params_.costs.migrate_page_cycles);
  old_pg->set(PG_locked);  // folio_lock
  try_to_migrate(old_pg, maps, cpu, cost);
  const PhysAddr old_phys = pm_.page_to_phys(old_pg), new_phys = pm_.page_to_phys(new_pg);
  cost.add_memory(platform_.kernel_copy(cpu, new_phys, old_phys, Bytes(kPageSize)));  // folio_copy
  page_tokens_.copy(new_phys >> kPageShift, old_phys >> kPageShift);
  // folio_migrate_mapping: the slot now holds the new page, with the cache's reference.
  ino.i_mapping.i_pages.store(old_pg->index, PageIndex::page_entry(new_phys >> kPageShift));
  new_pg->owner = old_pg->owner;
  new_pg->index = old_pg->index;
  new_pg->_refcount = 1;
  --old_pg->_refcount;
  const NodeId old_nid = pm_.page_to_nid(old_pg), new_nid = pm_.page_to_nid(new_pg);
  pm_.mod_node_page_state(old_nid, NR_FILE_PAGES, -1);
  pm_.mod_node_page_state(new_nid, NR_FILE_PAGES, 1);
  if (old_pg->test(PG_dirty)) {
    pm_.mod_node_page_state(old_nid, NR_FILE_DIRTY, -1);
    pm_.mod_zone_page_state(*pm_.page_zone(old_pg), NR_ZONE_WRITE_PENDING, -1);
    pm_.mod_node_page_state(new_nid, NR_FILE_DIRTY, 1);
    pm_.mod_zone_page_state(*pm_.page_zone(new_pg), NR_ZONE_WRITE_PENDING, 1);
  }
  // folio_migrate_flags.
  constexpr std::uint32_t moved = (1u << PG_dirty) | (1u << PG_uptodate) | (1u << PG_readahead);
  new_pg->flags |= old_pg->flags & moved;
  old_pg->flags &= ~moved;
  for (const RmapMapping& m : maps) {
    const pteval_t v = m.pte.value();
    if (!is_swap_pte(v) || !is_migration_entry(pte_to_swp_entry(v)) ||
        swp_offset_pfn(pte_to_swp_entry(v)) != (old_phys >> kPageShift)) {
      std::fprintf(stderr, "numasim: a file page's migration entry changed under its migration (0x%llx)\n",
                   static_cast<unsigned long long>(m.addr));
      std::abort();
    }
    remove_migration_pte(m, new_pg, cpu, cost);
  }
  putback_migrated_page(old_pg, new_pg, cpu);
  old_pg->clear(PG_locked);
  old_pg->owner = 0;
  put_user_page(cpu, old_pg, cost);  // the isolation reference: the last one
  pm_.count_vm_events(cpu, PGMIGRATE_SUCCESS, 1);
}

// can_demote (mm/vmscan.c): demotion is on and nid has a lower tier.
bool Kernel::can_demote(int nid) const { return node_demotion_enabled() && next_demotion_node(nid) != NUMA_NO_NODE; }

// demote_folio_list + alloc_demote_page (mm/vmscan.c) over migrate_pages(MR_DEMOTION):
// each page's copy taken on the target node without reclaim or retries
// ((GFP_HIGHUSER_MOVABLE & ~__GFP_RECLAIM) | GFP_NOWAIT | __GFP_THISNODE |
// __GFP_NORETRY-like: a failed fast path fails), else on any node of the lower
// tiers (node_get_allowed_targets). Demotion ignores cpusets and mempolicies.
// A THP mapped only by huge PMDs is demoted whole (alloc_demote_page's
// GFP_TRANSHUGE-order allocation, without reclaim; thp_migration_success) and
// counts HPAGE_PMD_NR pages in pgdemote_* and the return value, as Linux's
// nr_succeeded; one that cannot move whole (PTE-mapped, or no huge page free on
// the lower tier) stays on the list: reclaim's second pass splits and swaps it.
// Page-cache pages, mapped or not, clean or dirty, are demoted too (Linux 6.1
// demotes file folios: migrate_pages in MIGRATE_ASYNC mode, filemap_migrate_folio);
// reclaim has already kept those under writeback or read. Simplified: a
// swap-cache page, a shmem page and an unmapped anonymous page stay on the list
// and take reclaim's ordinary path.
unsigned long Kernel::demote_folio_list(PageList& demote, int nid, bool kswapd, CpuId cpu, KernelCost& cost) {
  const int target = next_demotion_node(nid);
  if (demote.empty() || target == NUMA_NO_NODE) return 0;
  const nodemask_t allowed = node_get_allowed_targets(nid);
  constexpr gfp_t gfp = ((GFP_HIGHUSER_MOVABLE & ~__GFP_RECLAIM) | GFP_NOWAIT | __GFP_NOWARN | __GFP_NOMEMALLOC |
                         __GFP_NORETRY);
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  PageList failed;
  unsigned long nr_succeeded = 0;
  while (!demote.empty()) {
    page* pg = mem_map + demote.tail;
    list_del(mem_map, demote, pg);
    if (PageTransHuge(pg) && PageAnon(pg) && !pg->test(PG_swapcache)) {  // a THP: whole or not at all
      constexpr gfp_t thp_gfp = ((GFP_TRANSHUGE_LIGHT & ~__GFP_RECLAIM) | __GFP_NOWARN | __GFP_NOMEMALLOC |
                                 __GFP_NORETRY | __GFP_THISNODE);
      const std::vector<RmapMapping> maps = thp_pmd_mappings(pg, cpu, cost);
      if (!maps.empty() && migrate_thp_whole(pg, maps, target, thp_gfp, &allowed, cpu, cost) >= 0) {
        nr_succeeded += HPAGE_PMD_NR;
      } else {
        list_add(mem_map, failed, pg);
      }
      continue;
    }
    const bool file = !PageAnon(pg) && !PageSwapBacked(pg);  // a page-cache page, mapped or not
    if ((!PageAnon(pg) && !file) || PageTransHuge(pg) || pg->test(PG_swapcache) || (!file && pg->mapcount == 0)) {
      list_add(mem_map, failed, pg);  // not demoted: reclaim's second pass swaps it
      continue;
    }
    std::vector<RmapMapping> maps;
    if (!file)
      rmap_walk(pg, cpu, cost, [&](const RmapMapping& m) {
        maps.push_back(m);
        return true;
      });
    page* np = nullptr;
    if (file ? file_page_migratable(pg, /*isolation=*/1, maps, cpu, cost) : static_cast<int>(maps.size()) == pg->mapcount) {
      np = pm_.alloc_pages(cpu, gfp | __GFP_THISNODE, 0, NodeId(target), nullptr, cost);
      if (!np && nodes_weight(allowed) > 1) np = pm_.alloc_pages(cpu, gfp, 0, NodeId(target), &allowed, cost);
    }
    if (!np) {
      pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
      list_add(mem_map, failed, pg);
      continue;
    }
    if (file)
      migrate_isolated_file_page(pg, np, maps, cpu, cost);
    else
      migrate_isolated_anon_page(pg, np, maps, cpu, cost);
    ++nr_succeeded;
  }
  demote = failed;
  pm_.count_vm_events(cpu, kswapd ? PGDEMOTE_KSWAPD : PGDEMOTE_DIRECT, nr_succeeded);
  return nr_succeeded;
}

int Kernel::unmap_and_move(page* pg, int nid, task_struct* t, KernelCost& cost) {
  if (pm_.page_to_nid(pg).value() == nid) return nid;
  if (PageCompound(pg) && PageTransHuge(thp_head(pg)))  // a THP: whole or split (huge_memory.cpp)
    return migrate_thp(t, thp_head(pg), pg, nid, cost);
  if (!PageAnon(pg) && !PageSwapBacked(pg))  // a page-cache page (MIGRATE_SYNC)
    return migrate_file_page(pg, nid, /*sync=*/true, t->cpu, cost);
  std::vector<RmapMapping> maps;
  rmap_walk(pg, t->cpu, cost, [&](const RmapMapping& m) {
    maps.push_back(m);
    return true;
  });
  // No reverse map for it; or a swap-cache page (folio_migrate_mapping of the swap cache is not modelled).
  if (maps.empty() || static_cast<int>(maps.size()) != pg->mapcount || pg->test(PG_swapcache)) {
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -EBUSY;
  }
  return migrate_anon_page(pg, maps, nid, t, cost);
}

namespace {
// NR_MAX_BATCHED_MIGRATION (mm/migrate.c, Linux 6.3): pages unmapped before one flush.
constexpr std::size_t NR_MAX_BATCHED_MIGRATION = 512;
}  // namespace

// migrate_pages + migrate_pages_batch (Linux 6.3): small anonymous pages are
// unmapped a batch at a time (each PTE a migration entry, TTU_BATCH_FLUSH), the
// batch's mms flushed once each (try_to_unmap_flush: one shootdown per batch),
// then each page copied and remapped (move_to_new_folio, remove_migration_ptes).
// THPs, swap-cache pages and pages the reverse map cannot fully see go one by
// one (unmap_and_move). Per page: the node it is on afterwards or -errno.
std::vector<int> Kernel::migrate_pages(const std::vector<page*>& pages, int nid, task_struct* t, KernelCost& cost) {
  std::vector<int> result(pages.size(), 0);
  const CpuId cpu = t->cpu;
  std::vector<MigrationInFlight> batch;
  batch.reserve(std::min(pages.size(), NR_MAX_BATCHED_MIGRATION));
  std::vector<mm_struct*> mms;
  std::vector<RmapMapping> maps;
  auto move_batch = [&] {
    for (mm_struct* mm : mms) flush_tlb_mm(cpu, *mm, cost);  // try_to_unmap_flush
    for (MigrationInFlight& m : batch) {
      migration_in_flight_ = &m;
      if (migration_unmapped_hook_) migration_unmapped_hook_(m.old_pg);
      if (!m.done) migrate_in_flight_complete(cost);
      migration_in_flight_ = nullptr;
    }
    batch.clear();
    mms.clear();
  };
  for (std::size_t i = 0; i < pages.size(); ++i) {
    page* pg = pages[i];
    if (pm_.page_to_nid(pg).value() == nid) {
      result[i] = nid;
      continue;
    }
    if (pg->test(PG_locked)) {  // twice in the list: already isolated for this batch
      result[i] = -EBUSY;
      continue;
    }
    maps.clear();
    if (PageAnon(pg) && !PageCompound(pg) && !pg->test(PG_swapcache) && pg->mapcount > 0)
      rmap_walk(pg, cpu, cost, [&](const RmapMapping& m) {
        maps.push_back(m);
        return true;
      });
    if (maps.empty() || static_cast<int>(maps.size()) != pg->mapcount) {
      result[i] = unmap_and_move(pg, nid, t, cost);
      continue;
    }
    page* np = pm_.alloc_pages(cpu, GFP_HIGHUSER_MOVABLE | __GFP_THISNODE | __GFP_NOWARN, 0, NodeId(nid), nullptr,
                               cost);
    if (!np) {
      pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
      result[i] = -ENOMEM;
      continue;
    }
    cost.add_cycles(params_.costs.migrate_page_cycles);
    ++pg->_refcount;  // isolation
    isolate_lru_page(pg);
    pg->set(PG_locked);
    try_to_migrate(pg, maps, cpu, cost, &mms);
    batch.push_back(MigrationInFlight{pg, np, cpu, false});
    result[i] = nid;
    if (batch.size() == NR_MAX_BATCHED_MIGRATION) move_batch();
  }
  move_batch();
  return result;
}

void Kernel::migrate_mapped_pages(task_struct* t, const std::vector<std::pair<vm_area_struct*, VirtAddr>>& where,
                                  const std::vector<int>& nids, int* status, KernelCost& cost) {
  std::vector<page*> run;
  std::vector<std::size_t> run_idx;
  int run_nid = NUMA_NO_NODE;
  auto flush = [&] {
    if (run.empty()) return;
    const std::vector<int> r = migrate_pages(run, run_nid, t, cost);
    for (std::size_t j = 0; j < r.size(); ++j) status[run_idx[j]] = r[j];
    run.clear();
    run_idx.clear();
  };
  std::set<const page*> queued;  // isolated for this run: a second entry of one is -EBUSY (isolation fails)
  for (std::size_t i = 0; i < where.size(); ++i) {
    vm_area_struct& vma = *where[i].first;
    const VirtAddr addr = where[i].second;
    if (nids[i] != run_nid) {  // the pages are looked up after the previous run moved
      flush();
      queued.clear();
    }
    run_nid = nids[i];
    page* pg = nullptr;
    if (!vma.is_hugetlb()) {
      const PteRef ref = pgtables_.walk(vma.vm_mm->pgd, addr & ~(kPageSize - 1), PTE_LEVEL);
      const pteval_t v = ref.value();
      if (ref.level == PTE_LEVEL && (pte_present(v) || pte_protnone(v)) && !(v & _PAGE_SPECIAL)) {
        pg = pm_.phys_to_page(pte_phys(v));
        if (!PageAnon(pg) || PageCompound(pg)) pg = nullptr;
      }
    }
    if (!pg) {  // not a small anonymous page: on its own, in order
      flush();
      queued.clear();
      status[i] = migrate_one(t, vma, addr, nids[i], cost);
      continue;
    }
    if (!queued.insert(pg).second) {
      status[i] = pm_.page_to_nid(pg).value() == nids[i] ? nids[i] : -EBUSY;
      continue;
    }
    run.push_back(pg);
    run_idx.push_back(i);
  }
  flush();
}

// One page named by a mapping (move_pages, mbind): 4 KiB or a hugetlb 2 MiB
// page (a 1 GiB one is -EBUSY). Returns the node it is on afterwards or -errno (move_pages' status).
int Kernel::migrate_one(task_struct* t, vm_area_struct& vma, VirtAddr addr, int nid, KernelCost& cost) {
  mm_struct& mm = *vma.vm_mm;
  const bool huge = vma.is_hugetlb();
  const VirtAddr base = addr & ~((huge ? vma_hpage_size(vma) : kPageSize) - 1);
  PteRef ref = pgtables_.walk(mm.pgd, base, huge ? vma_hpage_level(vma) : PTE_LEVEL);
  const pteval_t v = ref.value();
  if (!pte_present(v) && !pte_protnone(v)) return -ENOENT;
  if (v & _PAGE_SPECIAL) return -EFAULT;  // zero page
  page* pg = pm_.phys_to_page(pte_phys(v));
  if (!huge && ref.level == PMD_LEVEL) pg += (addr >> kPageShift) & (HPAGE_PMD_NR - 1);  // a THP's subpage
  if (pm_.page_to_nid(pg).value() == nid) return nid;
  if (huge && hstate_vma(vma) == HSTATE_1G) {  // gigantic pages are not migrated here (no alloc_contig on the target)
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -EBUSY;
  }
  if (!huge && (PageAnon(pg) || !PageSwapBacked(pg))) return unmap_and_move(pg, nid, t, cost);  // anon or file
  if (pg->mapcount != 1) {
    // A shmem page mapped more than once (move_pages with MPOL_MF_MOVE_ALL, as
    // add_page_for_migration lets through): its object's file walk finds every
    // mapping and try_to_migrate takes them all. A hugetlb page has no reverse map here.
    std::vector<RmapMapping> maps;
    if (!huge)
      rmap_walk_file(pg, t->cpu, cost, [&](const RmapMapping& m) {
        maps.push_back(m);
        return true;
      });
    if (huge || static_cast<int>(maps.size()) != pg->mapcount) {
      pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
      return -EBUSY;
    }
    return move_mapped_page(pg, maps, nid, false, t, cost);
  }
  return move_mapped_page(pg, {RmapMapping{&vma, base, ref}}, nid, huge, t, cost);
}

}  // namespace numasim::os
