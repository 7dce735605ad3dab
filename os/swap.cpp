// The LRU side of the reclaim <-> swap seam (os/swap.h) and Linux's mm/swap.c:
// folio_add_lru through the per-CPU lru_add folio batches (15 pages; the batch
// moves onto the node's lists when it fills, and on lru_add_drain before
// reclaim and migration scan the lists), lru_add_fn (an mlocked page goes to
// the unevictable list, unevictable_pgs_culled), folio_mark_accessed
// (referenced, then activation with pgactivate), lru_note_cost, and the release
// of a page's LRU state when its last reference goes (__page_cache_release:
// off its list, PG_mlocked cleared with unevictable_pgs_cleared).
// Simplified: the batches hold no page reference (a page freed while still in a
// batch is taken out of it, which no workload's figures can tell apart from
// Linux's deferred free); folio_activate moves the page at once instead of
// through the per-CPU activate batch; no lru_rotate/lru_deactivate batches.
#include "os/kernel.h"
#include "os/mm_inline.h"

namespace numasim::os {

namespace {
// folio_batch_move_lru with lru_add_fn for every page of the batch.
void lru_add_fn(PhysMem& pm, page* pg, CpuId cpu) {
  const bool was_unevictable = pg->test(PG_unevictable);
  if (page_evictable(pg)) {
    pg->clear(PG_unevictable);
    if (was_unevictable) pm.count_vm_events(cpu, UNEVICTABLE_PGRESCUED);
  } else {
    pg->clear(PG_active);
    pg->set(PG_unevictable);
    if (!was_unevictable) pm.count_vm_events(cpu, UNEVICTABLE_PGCULLED);
  }
  pg->set(PG_lru);
  add_page_to_lru_list(pm, pg);
}
}  // namespace

void Kernel::lru_cache_add(page* pg, CpuId cpu) {
  if (lru_add_.empty()) lru_add_.resize(static_cast<std::size_t>(pm_.nr_cpu_ids()));
  LruAddBatch& b = lru_add_[static_cast<std::size_t>(cpu.value())];
  b.pages[b.nr++] = pg;
  // folio_batch_add returned no space left, or a large folio (a THP) goes on at once.
  if (b.nr == FOLIO_BATCH_SIZE || PageHead(pg)) lru_add_drain(cpu);
}

void Kernel::lru_cache_add_inactive_or_unevictable(page* pg, vm_area_struct& vma, CpuId cpu) {
  if (vma.vm_flags & VM_LOCKED) {  // mlock_new_folio
    pg->set(PG_mlocked);
    pm_.mod_zone_page_state(*pm_.page_zone(pg), NR_MLOCK, 1);
    pm_.count_vm_events(cpu, UNEVICTABLE_PGMLOCKED);
  }
  lru_cache_add(pg, cpu);
}

void Kernel::lru_add_drain(CpuId cpu) {
  if (lru_add_.empty()) return;
  LruAddBatch& b = lru_add_[static_cast<std::size_t>(cpu.value())];
  for (unsigned i = 0; i < b.nr; ++i) lru_add_fn(pm_, b.pages[i], cpu);
  b.nr = 0;
}

void Kernel::lru_add_drain_all() {
  for (std::size_t c = 0; c < lru_add_.size(); ++c) lru_add_drain(CpuId(static_cast<int>(c)));
}

unsigned Kernel::lru_add_batch_size(CpuId cpu) const {
  return lru_add_.empty() ? 0 : lru_add_[static_cast<std::size_t>(cpu.value())].nr;
}

// folio_mark_accessed: inactive,unreferenced -> inactive,referenced ->
// active,unreferenced (pgactivate; the non-resident clock ages: workingset_activation).
void Kernel::mark_page_accessed(page* pg) {
  if (!pg->test(PG_referenced)) {
    pg->set(PG_referenced);
    return;
  }
  if (pg->test(PG_unevictable) || pg->test(PG_active)) return;
  if (pg->test(PG_lru)) {  // folio_activate
    del_page_from_lru_list(pm_, pg);
    pg->set(PG_active);
    add_page_to_lru_list(pm_, pg);
    pm_.count_vm_events(ctx_.cpu, PGACTIVATE);
  } else {
    // __lru_cache_activate_folio: still in this CPU's lru_add batch, it goes in active.
    if (!lru_add_.empty()) {
      const LruAddBatch& b = lru_add_[static_cast<std::size_t>(ctx_.cpu.value())];
      for (unsigned i = 0; i < b.nr; ++i)
        if (b.pages[i] == pg) pg->set(PG_active);
    }
  }
  pg->clear(PG_referenced);
  page_lruvec(pm_, pg).nonresident_age += 1;  // workingset_activation -> workingset_age_nonresident
}

namespace {
// A page freed before its CPU's lru_add batch reached the LRU leaves the batch.
// Out of line: the common release (a page on its list) then saves no registers.
template <class Batches>
[[gnu::noinline]] void lru_add_batch_remove(Batches& batches, const page* pg) {
  for (auto& b : batches)
    for (unsigned i = 0; i < b.nr; ++i)
      if (b.pages[i] == pg) {
        for (unsigned j = i + 1; j < b.nr; ++j) b.pages[j - 1] = b.pages[j];
        --b.nr;
        break;
      }
}
}  // namespace

// __page_cache_release / __folio_put's LRU part for a page about to be freed.
void Kernel::lru_page_release(page* pg) {
  if (pg->test(PG_lru)) {
    del_page_from_lru_list(pm_, pg);
    pg->clear(PG_lru);
  } else {
    lru_add_batch_remove(lru_add_, pg);
  }
  if (pg->test(PG_mlocked)) {
    pg->clear(PG_mlocked);
    pm_.mod_zone_page_state(*pm_.page_zone(pg), NR_MLOCK, -1);
    pm_.count_vm_events(ctx_.cpu, UNEVICTABLE_PGCLEARED);
  }
  pg->flags &= ~((1u << PG_active) | (1u << PG_unevictable) | (1u << PG_referenced) | (1u << PG_workingset));
}

void Kernel::isolate_lru_page(page* pg) {
  if (!pg->test(PG_lru)) lru_add_drain_all();
  if (!pg->test(PG_lru)) return;
  del_page_from_lru_list(pm_, pg);
  pg->clear(PG_lru);
}

void Kernel::putback_migrated_page(page* old_pg, page* new_pg, CpuId cpu) {
  constexpr std::uint32_t keep = (1u << PG_active) | (1u << PG_referenced) | (1u << PG_workingset);
  new_pg->flags |= old_pg->flags & keep;
  if (old_pg->test(PG_mlocked)) {  // the mlock moves with the contents
    old_pg->clear(PG_mlocked);
    pm_.mod_zone_page_state(*pm_.page_zone(old_pg), NR_MLOCK, -1);
    new_pg->set(PG_mlocked);
    pm_.mod_zone_page_state(*pm_.page_zone(new_pg), NR_MLOCK, 1);
  }
  old_pg->flags &= ~(keep | (1u << PG_unevictable));
  new_pg->memcg_id = old_pg->memcg_id;  // mem_cgroup_migrate: the charge moves with the contents
  old_pg->memcg_id = kRootMemcgId;
  shmem_->migrate_mapping(old_pg, new_pg);  // a shmem page: its object's slot and reference move too
  lru_cache_add(new_pg, cpu);
}

}  // namespace numasim::os
