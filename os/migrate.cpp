// Page migration (mm/migrate.c migrate_pages / unmap_and_move /
// move_to_new_folio / remove_migration_ptes, mm/rmap.c try_to_migrate) on
// top of the reverse map: the new page is taken on the target node
// (__GFP_THISNODE, or the node's hugetlb pool), every mapping of the old page
// is cleared and its mm's TLB flushed, the contents copied
// (Platform::kernel_copy), every mapping pointed at the new page with its old
// bits, and the old page freed. Counters pgmigrate_success (in base pages) and
// pgmigrate_fail as Linux; migrate_page_cycles per page.
// Simplified: no LRU isolation yet (pages are not on LRU lists); no migration
// entries (the entries are cleared, and rewritten once the copy is done, with
// nothing running in between); no retries or batching of flushes. Anonymous
// pages move with all their mappings, found by rmap_walk; shmem and hugetlb
// pages have no reverse map yet (the files issue), so they move only when
// mapped once, through the mapping the caller names (migrate_one), else fail
// with -EBUSY.
#include "os/migrate.h"

#include <cerrno>

#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"

namespace numasim::os {

// unmap_and_move + move_to_new_folio for a page whose mappings are known.
int Kernel::move_mapped_page(page* old_pg, const std::vector<RmapMapping>& maps, int nid, bool huge, task_struct* t,
                             KernelCost& cost) {
  const NodeId old_nid = pm_.page_to_nid(old_pg);
  page* new_pg = huge ? hugetlb_->dequeue(nid, nullptr, false)
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
  const Bytes size(huge ? HPAGE_SIZE : kPageSize);
  const PhysAddr old_phys = pm_.page_to_phys(old_pg);
  const PhysAddr new_phys = pm_.page_to_phys(new_pg);
  cost.add_cycles(params_.costs.migrate_page_cycles);
  // try_to_migrate: clear every mapping and flush it.
  std::vector<pteval_t> old_entries;
  old_entries.reserve(maps.size());
  for (const RmapMapping& m : maps) {
    old_entries.push_back(m.pte.value());
    pgtables_.set_entry(t->cpu, m.pte, 0, cost);
    flush_tlb_range(t, *m.vma->vm_mm, m.addr, m.addr + size.value(), cost);
  }
  cost.add_memory(platform_.kernel_copy(t->cpu, new_phys, old_phys, size));  // folio_copy
  // folio_migrate_mapping / folio_migrate_flags: the new page takes the old one's place.
  new_pg->mapcount = old_pg->mapcount;
  new_pg->_refcount = old_pg->mapcount;  // one reference per mapping
  new_pg->owner = old_pg->owner;
  new_pg->index = old_pg->index;
  if (!huge) {
    const std::uint32_t keep = (1u << PG_anon) | (1u << PG_swapbacked) | (1u << PG_dirty);
    new_pg->flags |= old_pg->flags & keep;
    if (PageAnon(old_pg)) {
      pm_.mod_node_page_state(old_nid, NR_ANON_MAPPED, -1);
      pm_.mod_node_page_state(NodeId(nid), NR_ANON_MAPPED, 1);
    } else {
      for (node_stat_item item : {NR_SHMEM, NR_FILE_PAGES, NR_FILE_MAPPED}) {
        pm_.mod_node_page_state(old_nid, item, -1);
        pm_.mod_node_page_state(NodeId(nid), item, 1);
      }
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
    old_pg->_refcount = 1;  // the migration's own reference: the last one
    put_user_page(t->cpu, old_pg, cost);
  }
  pm_.count_vm_events(t->cpu, PGMIGRATE_SUCCESS, huge ? (HPAGE_SIZE >> kPageShift) : 1);
  return nid;
}

int Kernel::unmap_and_move(page* pg, int nid, task_struct* t, KernelCost& cost) {
  if (pm_.page_to_nid(pg).value() == nid) return nid;
  std::vector<RmapMapping> maps;
  rmap_walk(pg, t->cpu, cost, [&](const RmapMapping& m) {
    maps.push_back(m);
    return true;
  });
  if (maps.empty() || static_cast<int>(maps.size()) != pg->mapcount) {  // no reverse map for it
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -EBUSY;
  }
  return move_mapped_page(pg, maps, nid, false, t, cost);
}

std::vector<int> Kernel::migrate_pages(const std::vector<page*>& pages, int nid, task_struct* t, KernelCost& cost) {
  std::vector<int> result;
  result.reserve(pages.size());
  for (page* pg : pages) result.push_back(unmap_and_move(pg, nid, t, cost));
  return result;
}

// One page named by a mapping (move_pages, mbind): 4 KiB or a hugetlb 2 MiB
// page. Returns the node it is on afterwards or -errno (move_pages' status).
int Kernel::migrate_one(task_struct* t, vm_area_struct& vma, VirtAddr addr, int nid, KernelCost& cost) {
  mm_struct& mm = *vma.vm_mm;
  const bool huge = vma.is_hugetlb();
  const VirtAddr base = addr & ~((huge ? HPAGE_SIZE : kPageSize) - 1);
  PteRef ref = pgtables_.walk(mm.pgd, base, huge ? PMD_LEVEL : PTE_LEVEL);
  const pteval_t v = ref.value();
  if (!pte_present(v) && !pte_protnone(v)) return -ENOENT;
  if (v & _PAGE_SPECIAL) return -EFAULT;  // zero page
  page* pg = pm_.phys_to_page(pte_phys(v));
  if (pm_.page_to_nid(pg).value() == nid) return nid;
  if (!huge && PageAnon(pg)) return unmap_and_move(pg, nid, t, cost);
  if (pg->mapcount != 1) {  // shared shmem/hugetlb page: no reverse map to find the other mappings
    pm_.count_vm_events(t->cpu, PGMIGRATE_FAIL);
    return -EBUSY;
  }
  return move_mapped_page(pg, {RmapMapping{&vma, base, ref}}, nid, huge, t, cost);
}

}  // namespace numasim::os
