// Kernel::check_consistency, in the spirit of CONFIG_DEBUG_VM (validate_mm,
// the page_table_check feature and the RSS-counter check at exit): every
// invariant tying VMAs, page tables, page descriptors, counters and the hugetlb
// pool together, and the reverse map: every mapped anonymous page's anon_vma
// is on the chain of every VMA that maps it at its index (so rmap_walk finds
// each mapping), map and reference counts equal the leaves mapping a page
// across all processes, anon_vma records and chains agree with the VMAs;
// THPs: PMD leaves only in private anonymous VMAs, the entire mapcount equal to
// the PMD leaves, the head's references to all mappings, NR_ANON_THPS.
// Aborts with a message naming what broke. Cost O(VMAs x chain length + mapped
// pages + page tables) plus PhysMem::check_consistency (O(frames)).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mm_inline.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/rmap.h"
#include "os/swapops.h"

namespace numasim::os {

namespace {
[[noreturn]] void check_fail(const char* what, std::uint64_t a, std::uint64_t b = 0) {
  std::fprintf(stderr, "numasim: DEBUG_VM check failed: %s (0x%llx, 0x%llx)\n", what,
               static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  std::abort();
}
#define VM_CHECK(cond, what, a, b)           \
  do {                                       \
    if (!(cond)) check_fail(what, (a), (b)); \
  } while (0)
}  // namespace

// The one reporter of a broken invariant for the mm files (kernel.h): check_fail's message.
[[noreturn]] void vm_bug(const char* what, std::uint64_t a, std::uint64_t b) { check_fail(what, a, b); }

bool Kernel::mm_objects_ok() const {
  for (const auto& mm : mms_)
    if (!slub_->is_allocated(mm->mm_obj)) return false;
  return true;
}

void Kernel::check_consistency() const {
  const VirtAddr top = 1ull << level_shift(pgtables_.levels() + 1);
  std::map<const page*, int> mappings;  // leaves per page (ordered: deterministic messages)
  std::vector<long> anon_per_node(pm_.nr_node_ids(), 0), shmem_per_node(pm_.nr_node_ids(), 0);
  std::vector<long> file_mapped_per_node(pm_.nr_node_ids(), 0);  // mapped page-cache pages (file mmap)
  std::size_t tables_total = 0;
  std::map<const anon_vma*, int> active_vmas;  // VMAs per anon_vma (num_active_vmas)
  std::size_t chains = 0;
  std::uint64_t resv_expected[HUGE_MAX_HSTATE] = {}, huge_in_use[HUGE_MAX_HSTATE] = {};
  std::map<std::uint64_t, unsigned> swap_ptes;  // swap PTEs per entry (swap_map counts)
  std::map<const page*, int> thp_pmd_maps;  // THP head -> PMD leaves mapping it

  for (const auto& mmp : mms_) {
    const mm_struct& mm = *mmp;
    // --- VMAs (validate_mm) ---
    VM_CHECK(mm.map_count == static_cast<int>(mm.mm_mt.size()), "map_count != number of VMAs", mm.map_count,
             mm.mm_mt.size());
    VirtAddr prev_end = 0;
    const vm_area_struct* prev = nullptr;
    std::uint64_t total_vm = 0;
    for (const auto& [key, v] : mm.mm_mt) {
      VM_CHECK(key == v.vm_start, "VMA key differs from vm_start", key, v.vm_start);
      VM_CHECK(v.vm_start < v.vm_end, "empty or inverted VMA", v.vm_start, v.vm_end);
      VM_CHECK(!offset_in_page(v.vm_start) && !offset_in_page(v.vm_end), "unaligned VMA", v.vm_start, v.vm_end);
      VM_CHECK(v.vm_start >= prev_end, "overlapping VMAs", prev_end, v.vm_start);
      VM_CHECK(v.vm_end <= mm.task_size, "VMA beyond TASK_SIZE", v.vm_end, mm.task_size);
      VM_CHECK(v.vm_mm == &mm, "VMA of another mm", v.vm_start, 0);
      VM_CHECK(v.vm_obj && slub_->is_allocated(v.vm_obj), "VMA without its vm_area_struct object", v.vm_start,
               v.vm_obj);
      if (v.vm_policy)
        VM_CHECK(slub_->is_allocated(mpol_object(v.vm_policy.get())), "VMA policy without its numa_policy object",
                 v.vm_start, 0);
      VM_CHECK(!((v.vm_flags & ~(v.vm_flags >> 4)) & VM_ACCESS_FLAGS), "VMA right without VM_MAY*", v.vm_start,
               v.vm_flags);
      if (v.is_hugetlb())
        VM_CHECK(!(v.vm_start & (vma_hpage_size(v) - 1)) && !(v.vm_end & (vma_hpage_size(v) - 1)),
                 "unaligned hugetlb VMA", v.vm_start, v.vm_end);
      VM_CHECK(v.vm_hugetlb_hstate < HUGE_MAX_HSTATE && (v.is_hugetlb() || v.vm_hugetlb_hstate == 0),
               "VMA hstate", v.vm_start, v.vm_hugetlb_hstate);
      if (!v.vm_file_id) VM_CHECK(v.vm_pgoff == v.vm_start >> kPageShift, "anon VMA pgoff", v.vm_start, v.vm_pgoff);
      if (prev) VM_CHECK(!vmas_mergeable(*prev, v), "adjacent VMAs left unmerged", prev->vm_start, v.vm_start);
      // anon_vma chain: its records link it, its own anon_vma among them.
      bool own = !v.anon_vma;
      for (const anon_vma_chain* avc : v.anon_vma_chain) {
        VM_CHECK(avc->vma == &v, "chain record of another VMA", v.vm_start, avc->obj);
        VM_CHECK(slub_->is_allocated(avc->obj), "chain record without its anon_vma_chain object", v.vm_start, avc->obj);
        const auto& tree = avc->anon_vma->rb_root;
        VM_CHECK(std::find(tree.begin(), tree.end(), avc) != tree.end(), "chain record not on its anon_vma", v.vm_start,
                 avc->anon_vma->id);
        own |= avc->anon_vma == v.anon_vma;
      }
      VM_CHECK(own, "VMA's anon_vma not on its chain", v.vm_start, 0);
      VM_CHECK(!v.anon_vma_chain.empty() == (v.anon_vma != nullptr), "anon_vma chain without anon_vma", v.vm_start,
               v.anon_vma_chain.size());
      if (v.anon_vma) ++active_vmas[v.anon_vma];
      chains += v.anon_vma_chain.size();
      total_vm += v.size() >> kPageShift;
      prev_end = v.vm_end;
      prev = &v;
    }
    VM_CHECK(total_vm == mm.total_vm, "total_vm", total_vm, mm.total_vm);

    // --- page tables: every leaf inside a VMA with compatible protection ---
    long rss[NR_MM_COUNTERS] = {};
    std::uint64_t huge_mapped = 0;
    std::map<VirtAddr, std::uint64_t> huge_present_per_vma;
    // The reverse map finds the mapping of pg (a small page or a THP head) at va:
    // its anon_vma is on the VMA's chain and its index is va (rmap_walk's vma_address).
    auto rmap_finds = [&](const vm_area_struct& v, const page* pg, VirtAddr va) {
      const anon_vma* av = page_anon_vma(*anon_vmas_, pg);
      VM_CHECK(av, "anonymous page without a live anon_vma", va, pg->owner);
      VM_CHECK(vma_address(v, pg->index) == va, "anonymous page index disagrees with its address", va, pg->index);
      bool linked = false;
      for (const anon_vma_chain* avc : v.anon_vma_chain) linked |= avc->anon_vma == av;
      VM_CHECK(linked, "page's anon_vma not reachable from a VMA mapping it", va, pg->owner);
    };
    auto leaf = [&](VirtAddr va, const PteRef& ref) {
      const pteval_t e = ref.value();
      const vm_area_struct* v = find_vma(mm, va);
      VM_CHECK(v && v->vm_start <= va, "page-table leaf outside any VMA", va, e);
      const bool huge = ref.level != PTE_LEVEL;
      if (is_swap_pte(e)) {  // a swap or migration entry, only in 4 KiB PTEs here
        VM_CHECK(!huge, "swap entry in a huge entry", va, e);
        VM_CHECK(!v->is_hugetlb() && !(v->vm_flags & VM_SHARED), "swap entry outside private anonymous memory", va,
                 e);
        const swp_entry_t s = pte_to_swp_entry(e);
        if (!non_swap_entry(s)) {
          ++swap_ptes[s.val];
          ++rss[MM_SWAPENTS];
          return;
        }
        VM_CHECK(is_migration_entry(s), "unknown special swap entry", va, e);
        VM_CHECK(pm_.pfn_valid(Pfn(swp_offset_pfn(s))), "migration entry to no page", va, e);
        const page* pg = pm_.pfn_to_page(Pfn(swp_offset_pfn(s)));
        VM_CHECK(pg->test(PG_locked), "migration entry to an unlocked page", va, e);
        VM_CHECK(!PageBuddy(pg) && !pg->test(PG_pcp), "migration entry to a free page", va, e);
        VM_CHECK(PageAnon(pg), "migration entry to a non-anonymous page", va, pg->flags);
        ++rss[MM_ANONPAGES];  // RSS keeps a page under migration; its mapcount does not
        return;
      }
      VM_CHECK(pte_present(e) || pte_protnone(e), "leaf neither present nor PROT_NONE", va, e);
      VM_CHECK(pte_present(e) == v->is_accessible() || (pte_protnone(e) && numab_->enabled()),  // NUMA hint
               "leaf presence disagrees with VMA access", va, e);
      if (pte_present(e)) {
        VM_CHECK(e & _PAGE_USER, "user leaf without _PAGE_USER", va, e);
        VM_CHECK(!(e & _PAGE_RW) || (v->vm_flags & VM_WRITE), "writable leaf in a read-only VMA", va, e);
        VM_CHECK(((e & _PAGE_NX) != 0) == !(v->vm_flags & VM_EXEC), "NX disagrees with VM_EXEC", va, e);
      }
      if (huge && !v->is_hugetlb()) {  // a THP or the huge zero page (os/huge_memory.h)
        VM_CHECK(ref.level == PMD_LEVEL && (e & _PAGE_PSE), "THP leaf not a PSE PMD", va, e);
        VM_CHECK(!(va & (HPAGE_PMD_SIZE - 1)) && va + HPAGE_PMD_SIZE <= v->vm_end, "THP leaf not inside its VMA", va,
                 v->vm_end);
        VM_CHECK(!(v->vm_flags & VM_SHARED) && !v->vm_file_id, "THP leaf outside private anonymous memory", va, e);
        if (e & _PAGE_SPECIAL) {
          VM_CHECK(huge_zero_phys_ && pte_phys(e) == huge_zero_phys_, "special PMD is not the huge zero page", va, e);
          VM_CHECK(!(e & _PAGE_RW), "writable huge zero page", va, e);
          return;
        }
        const page* head = pm_.pfn_to_page(Pfn(pte_phys(e) >> kPageShift));
        VM_CHECK(PageTransHuge(head), "THP leaf maps no THP head", va, head->flags);
        rmap_finds(*v, head, va);
        ++thp_pmd_maps[head];
        rss[MM_ANONPAGES] += static_cast<long>(HPAGE_PMD_NR);
        return;
      }
      VM_CHECK(huge == v->is_hugetlb(), "leaf size disagrees with VMA type", va, e);
      if (huge) VM_CHECK(ref.level == vma_hpage_level(*v) && (e & _PAGE_PSE), "huge leaf not a PSE PMD/PUD of the VMA's hstate", va, e);
      if (e & _PAGE_SPECIAL) {
        VM_CHECK(pte_phys(e) == zero_page_phys(), "special leaf is not the zero page", va, e);
        VM_CHECK(!(e & _PAGE_RW), "writable zero page", va, e);
        VM_CHECK(!(v->vm_flags & VM_SHARED), "zero page in a shared mapping", va, e);
        return;
      }
      const page* pg = pm_.pfn_to_page(Pfn(pte_phys(e) >> kPageShift));
      VM_CHECK(!PageBuddy(pg) && !pg->test(PG_pcp), "mapped page is free", va, e);
      VM_CHECK(thp_head(pg)->_refcount >= 1, "mapped page without a reference", va, pg->_refcount);
      VM_CHECK(pg->owner != 0, "mapped page without an owner", va, 0);
      ++mappings[pg];
      if (huge) {
        VM_CHECK(pg->test(PG_hugetlb), "huge leaf maps a non-hugetlb page", va, e);
        VM_CHECK(hugetlb_->page_hstate(pg) == hstate_vma(*v), "huge leaf maps a page of another hstate", va, e);
        ++huge_mapped;
        ++huge_present_per_vma[v->vm_start];
      } else if (v->is_file() && !PageAnon(pg)) {  // a page-cache page of the VMA's file, at its offset
        VM_CHECK(!PageSwapBacked(pg) && pg->owner + kFileVmaIdBase == v->vm_file_id, "file page of another mapping",
                 va, pg->owner);
        VM_CHECK(pg->index == v->pgoff_of(va), "file page index disagrees with its address", va, pg->index);
        VM_CHECK(fs_->find_get_page(*v->vm_file->f_inode, pg->index) == pg, "mapped file page not in its page cache",
                 va, pg->index);
        VM_CHECK(!(e & _PAGE_RW) || ((v->vm_flags & VM_SHARED) && pg->test(PG_dirty)),
                 "writable file page that is clean or privately mapped", va, e);
        ++rss[MM_FILEPAGES];
      } else if (v->vm_flags & VM_SHARED) {
        VM_CHECK(!PageAnon(pg) && PageSwapBacked(pg), "shmem page flags", va, pg->flags);
        VM_CHECK(v->vm_shmem && shmem_->find_page(*v->vm_shmem, v->pgoff_of(va)) == pg,
                 "mapped shmem page not in its object at its offset", va, pg->index);
        ++rss[MM_SHMEMPAGES];
      } else {
        VM_CHECK(PageAnon(pg), "private mapping of a non-anonymous page", va, pg->flags);
        ++rss[MM_ANONPAGES];
        rmap_finds(*v, pg, va);
      }
    };
    walk_leaves(pgtables_, mmp.get(), mmp->pgd, 0, top, leaf);
    for (int i = 0; i < NR_MM_COUNTERS; ++i)
      VM_CHECK(rss[i] == mm.rss_stat[i], "RSS counter", static_cast<std::uint64_t>(i), mm.rss_stat[i]);
    VM_CHECK(huge_mapped == mm.hugetlb_usage, "hugetlb_usage", huge_mapped, mm.hugetlb_usage);
    for (const auto& [key, v] : mm.mm_mt)
      if (v.hugetlb_reserves())
        resv_expected[hstate_vma(v)] += v.size() / vma_hpage_size(v) - huge_present_per_vma[key];

    // --- page-table pages ---
    std::size_t tables = 0;
    pgtables_.for_each_table(mm.pgd, [&](PhysAddr frame, int level) {
      ++tables;
      const page* pg = pm_.pfn_to_page(Pfn(frame >> kPageShift));
      VM_CHECK(PageTable(pg), "table frame not PG_pgtable", frame, static_cast<std::uint64_t>(level));
      unsigned used = 0;
      for (unsigned i = 0; i < PTRS_PER_TABLE; ++i) used += pgtables_.read_pte(frame + 8ull * i) != 0;
      VM_CHECK(used == pgtables_.table_used(frame), "table entry count", frame, used);
    });
    VM_CHECK(tables * kPageSize == mm.pgtables_bytes, "pgtables_bytes", tables * kPageSize, mm.pgtables_bytes);
    tables_total += tables;
  }
  // --- pages: map counts equal the number of leaves mapping them ---
  std::map<const page*, int> thp_pte_maps;  // THP head -> PTE leaves mapping its subpages
  for (const auto& [head, n] : thp_pmd_maps) thp_pte_maps[head] += 0;
  for (const auto& [pg, n] : mappings) {
    VM_CHECK(pg->mapcount == n, "mapcount differs from page-table mappings", pm_.page_to_pfn(pg).value(),
             static_cast<std::uint64_t>(n));
    if (PageCompound(pg) && !thp_head(pg)->test(PG_hugetlb)) {  // a THP subpage: references are the head's
      const page* head = thp_head(pg);
      VM_CHECK(PageTransHuge(head), "PTE maps a compound page that is no THP", pm_.page_to_pfn(pg).value(), head->flags);
      thp_pte_maps[head] += n;
      if (entire_mapcount(head) == 0) ++anon_per_node[pm_.page_to_nid(pg).value()];
      continue;
    }
    if (!PageAnon(pg) && !PageSwapBacked(pg) && !pg->test(PG_hugetlb)) {  // page cache: one per mapping + the cache's
      VM_CHECK(pg->_refcount == n + 1, "mapped file page refcount differs from mappings + cache",
               pm_.page_to_pfn(pg).value(), static_cast<std::uint64_t>(pg->_refcount));
      ++file_mapped_per_node[pm_.page_to_nid(pg).value()];
      continue;
    }
    if (!PageAnon(pg) && PageSwapBacked(pg) && !pg->test(PG_hugetlb) && pg != zero_page_) {  // shmem: + its object's
      VM_CHECK(pg->_refcount == n + 1, "mapped shmem page refcount differs from mappings + object",
               pm_.page_to_pfn(pg).value(), static_cast<std::uint64_t>(pg->_refcount));
      ++shmem_per_node[pm_.page_to_nid(pg).value()];  // mapped shmem pages (NR_FILE_MAPPED's share)
      continue;
    }
    // One reference per mapping, and the swap cache's.
    VM_CHECK(pg->_refcount == n + (pg->test(PG_swapcache) ? 1 : 0), "refcount differs from page-table mappings",
             pm_.page_to_pfn(pg).value(), static_cast<std::uint64_t>(pg->_refcount));
    if (pg->test(PG_hugetlb)) ++huge_in_use[hugetlb_->page_hstate(pg)];  // distinct pages: a shared one counts once
    if (pg->test(PG_hugetlb) || pg == zero_page_) continue;
    const int nid = pm_.page_to_nid(pg).value();
    ++(PageAnon(pg) ? anon_per_node : shmem_per_node)[nid];
  }
  // --- THPs: entire mapcount, references, NR_ANON_THPS ---
  std::vector<long> thps_per_node(pm_.nr_node_ids(), 0);
  for (const auto& [head, ptes] : thp_pte_maps) {
    auto it = thp_pmd_maps.find(head);
    const int pmds = it == thp_pmd_maps.end() ? 0 : it->second;
    const std::uint64_t pfn = pm_.page_to_pfn(head).value();
    VM_CHECK(entire_mapcount(head) == pmds, "THP entire mapcount differs from PMD mappings", pfn,
             static_cast<std::uint64_t>(pmds));
    VM_CHECK(head->_refcount == pmds + ptes, "THP refcount differs from its mappings", pfn,
             static_cast<std::uint64_t>(head->_refcount));
    if (pmds) {
      anon_per_node[pm_.page_to_nid(head).value()] += static_cast<long>(HPAGE_PMD_NR);
      thps_per_node[pm_.page_to_nid(head).value()] += static_cast<long>(HPAGE_PMD_NR);
    }
  }
  for (int n = 0; n < pm_.nr_node_ids(); ++n)
    VM_CHECK(pm_.node_page_state(NodeId(n), NR_ANON_THPS) == thps_per_node[n], "NR_ANON_THPS of node",
             static_cast<std::uint64_t>(n), pm_.node_page_state(NodeId(n), NR_ANON_THPS));
  // --- anon_vma records ---
  std::size_t live = 0;
  anon_vmas_->for_each([&](const anon_vma& av) {
    ++live;
    VM_CHECK(slub_->is_allocated(av.obj), "anon_vma without its slab object", av.id, av.obj);
    VM_CHECK(!av.rb_root.empty() || av.refcount > 1, "anon_vma with no chain kept without a descendant", av.id,
             static_cast<std::uint64_t>(av.refcount));
    VM_CHECK(av.refcount >= 1 && av.root && anon_vmas_->lookup(av.root->id) == av.root, "anon_vma root", av.id,
             static_cast<std::uint64_t>(av.refcount));
    auto it = active_vmas.find(&av);
    VM_CHECK(av.num_active_vmas == (it == active_vmas.end() ? 0 : it->second), "num_active_vmas", av.id,
             static_cast<std::uint64_t>(av.num_active_vmas));
    for (const anon_vma_chain* avc : av.rb_root)
      VM_CHECK(std::find(avc->vma->anon_vma_chain.begin(), avc->vma->anon_vma_chain.end(), avc) !=
                   avc->vma->anon_vma_chain.end(),
               "anon_vma's chain record not on its VMA", av.id, avc->obj);
  });
  VM_CHECK(live == anon_vmas_->nr_anon_vmas(), "anon_vma count", live, anon_vmas_->nr_anon_vmas());
  VM_CHECK(chains == anon_vmas_->nr_chains(), "anon_vma_chain records not on any VMA", chains, anon_vmas_->nr_chains());
  // --- global counters ---
  VM_CHECK(tables_total == pgtables_.nr_tables(), "page tables not reachable from any mm", tables_total,
           pgtables_.nr_tables());
  VM_CHECK(static_cast<std::int64_t>(tables_total) == pm_.global_node_page_state(NR_PAGETABLE), "NR_PAGETABLE",
           tables_total, pm_.global_node_page_state(NR_PAGETABLE));
  for (int n = 0; n < pm_.nr_node_ids(); ++n) {
    VM_CHECK(pm_.node_page_state(NodeId(n), NR_ANON_MAPPED) == anon_per_node[n], "NR_ANON_MAPPED of node",
             static_cast<std::uint64_t>(n), pm_.node_page_state(NodeId(n), NR_ANON_MAPPED));
    VM_CHECK(pm_.node_page_state(NodeId(n), NR_FILE_MAPPED) == file_mapped_per_node[n] + shmem_per_node[n],
             "NR_FILE_MAPPED of node", static_cast<std::uint64_t>(n), pm_.node_page_state(NodeId(n), NR_FILE_MAPPED));
  }
  for (int h = 0; h < HUGE_MAX_HSTATE; ++h) {  // per hstate: reservations, pool pages, per-node sums
    const hstate& hs = hugetlb_->hs(h);
    VM_CHECK(hs.resv_huge_pages == resv_expected[h], "hugetlb reservations", hs.resv_huge_pages, resv_expected[h]);
    VM_CHECK(hs.free_huge_pages + huge_in_use[h] == hs.nr_huge_pages, "hugetlb pool pages",
             hs.free_huge_pages + huge_in_use[h], hs.nr_huge_pages);
    VM_CHECK(hs.resv_huge_pages <= hs.free_huge_pages, "hugetlb reservations beyond free pages", hs.resv_huge_pages,
             hs.free_huge_pages);
    // (gigantic pages become surplus only by shrinking the pool below its pages in use)
    VM_CHECK(hs.surplus_huge_pages <= hs.nr_huge_pages, "hugetlb surplus pages", hs.surplus_huge_pages,
             hs.nr_huge_pages);
    std::uint64_t nr = 0, free = 0, surplus = 0;
    for (int n = 0; n < pm_.nr_node_ids(); ++n) {
      VM_CHECK(hs.surplus_huge_pages_node[n] <= hs.nr_huge_pages_node[n], "hugetlb surplus pages of node",
               static_cast<std::uint64_t>(n), hs.surplus_huge_pages_node[n]);
      for (const page* pg : hs.hugepage_freelists[n])
        VM_CHECK(pm_.page_to_nid(pg).value() == n && hugetlb_->page_hstate(pg) == h && pg->mapcount == 0 &&
                     pg->_refcount == 1,
                 "free huge page on the wrong list or in use", pm_.page_to_pfn(pg).value(), static_cast<std::uint64_t>(n));
      nr += hs.nr_huge_pages_node[n];
      free += hs.hugepage_freelists[n].size();
      surplus += hs.surplus_huge_pages_node[n];
    }
    VM_CHECK(nr == hs.nr_huge_pages && free == hs.free_huge_pages && surplus == hs.surplus_huge_pages,
             "hugetlb per-node counts", nr, hs.nr_huge_pages);
  }
  // --- swap: swap_map counts against the swap PTEs, the swap cache (swapfile.cpp) ---
  shmem_->check_consistency(swap_ptes);  // objects, NR_SHMEM; their swap entries are slot users too
  swap_->check(swap_ptes);
  // --- the kernel's own slab objects ---
  VM_CHECK(mm_objects_ok(), "mm_struct object missing", 0, 0);
  for (const auto& [pid, t] : tasks_) {
    VM_CHECK(slub_->is_allocated(t->task_obj), "task_struct object missing", static_cast<std::uint64_t>(pid),
             t->task_obj);
    if (t->mempolicy)
      VM_CHECK(slub_->is_allocated(mpol_object(t->mempolicy.get())), "task policy without its numa_policy object",
               static_cast<std::uint64_t>(pid), 0);
  }
  if (caches_->page_ptl_cachep)
    VM_CHECK(ptlocks_.size() == pgtables_.nr_tables(), "page-table pages without a page->ptl object", ptlocks_.size(),
             pgtables_.nr_tables());
  slub_->check_consistency();
  // --- LRU lists: every mapped user page on exactly one list or in an lru_add batch ---
  check_lru();
  if (fs_) fs_->check_consistency();  // the page cache (os/fs.h)
  check_memcg();
  for (const auto& [pg, n] : mappings) {
    if (PageReserved(pg) || pg->test(PG_hugetlb)) continue;
    // A THP is on the lists as its head (one folio of 512 pages); its tails never are.
    if (PageTail(pg)) VM_CHECK(!pg->test(PG_lru), "THP tail page on an LRU list", pm_.page_to_pfn(pg).value(), pg->flags);
    const page* folio = PageCompound(pg) ? thp_head(pg) : pg;
    bool in_batch = false;
    for (const LruAddBatch& b : lru_add_)
      for (unsigned i = 0; i < b.nr; ++i) in_batch |= b.pages[i] == folio;
    VM_CHECK(folio->test(PG_lru) != in_batch, "mapped page neither on an LRU list nor in an lru_add batch (or both)",
             pm_.page_to_pfn(folio).value(), folio->flags);
  }
  pm_.check_consistency();
}

// The lruvec of every node: each list well linked, its pages PG_lru, of this
// node, with the flags of this list (folio_lru_list), counted in nr_pages and
// in the node and zone gauges; no page on two lists, no PG_lru page off them;
// nr_mlock equals the PG_mlocked pages.
void Kernel::check_lru() const {
  const page* mem_map = pm_.pfn_to_page(Pfn(0));
  std::vector<bool> seen(pm_.max_pfn(), false);
  for (int n = 0; n < pm_.nr_node_ids(); ++n) {
    const pglist_data& pgdat = pm_.NODE_DATA(NodeId(n));
    std::array<std::array<std::int64_t, NR_LRU_LISTS>, MAX_NR_ZONES> per_zone{};
    std::array<std::int64_t, NR_LRU_LISTS> node_count{};
    // Every cgroup's lruvec on the node (the root's is __lruvec); the node and zone
    // gauges count them all.
    for (std::size_t id = 0; id < std::max<std::size_t>(1, pgdat.memcg_lruvec.size()); ++id) {
    const lruvec& lv = id == 0 ? pgdat.__lruvec : *pgdat.memcg_lruvec[id];
    VM_CHECK(lv.memcg_id == id, "lruvec of another cgroup", lv.memcg_id, id);
    std::array<std::array<std::int64_t, NR_LRU_LISTS>, MAX_NR_ZONES> lv_zone{};
    for (int l = 0; l < NR_LRU_LISTS; ++l) {
      const PageList& list = lv.lists[static_cast<std::size_t>(l)];
      std::uint64_t count = 0;
      std::uint32_t prev = kNoPfn32;
      for (std::uint32_t pfn = list.head; pfn != kNoPfn32; pfn = mem_map[pfn].lru_next) {
        VM_CHECK(pfn < pm_.max_pfn(), "LRU link outside memory", pfn, static_cast<std::uint64_t>(l));
        const page* pg = mem_map + pfn;
        VM_CHECK(!seen[pfn], "page on two LRU lists (or a cycle)", pfn, static_cast<std::uint64_t>(l));
        seen[pfn] = true;
        VM_CHECK(pg->lru_prev == prev, "LRU back link broken", pfn, pg->lru_prev);
        VM_CHECK(pg->test(PG_lru), "page on an LRU list without PG_lru", pfn, static_cast<std::uint64_t>(l));
        VM_CHECK(page_lru_list(pg) == l, "page on the wrong LRU list for its flags", pfn, pg->flags);
        VM_CHECK(pm_.page_to_nid(pg).value() == n, "page on another node's lruvec", pfn,
                 static_cast<std::uint64_t>(n));
        VM_CHECK(!PageBuddy(pg) && !pg->test(PG_pcp) && pg->_refcount > 0, "free page on an LRU list", pfn, pg->flags);
        VM_CHECK(!PageTail(pg) && (!PageHead(pg) || PageTransHuge(pg)), "compound page other than a THP head on an LRU list",
                 pfn, pg->flags);
        VM_CHECK(pg->memcg_id == id, "page on another cgroup's lruvec", pfn, pg->memcg_id);
        const long nr = lru_nr_pages(pg);  // a THP head counts its 512 pages
        per_zone[pm_.page_zone(pg)->idx][static_cast<std::size_t>(l)] += nr;
        lv_zone[pm_.page_zone(pg)->idx][static_cast<std::size_t>(l)] += nr;
        count += static_cast<std::uint64_t>(nr);
        prev = pfn;
      }
      VM_CHECK(list.tail == prev, "LRU list tail wrong", list.tail, prev);
      VM_CHECK(count == lv.nr_pages[static_cast<std::size_t>(l)], "LRU list length != lruvec size", count,
               lv.nr_pages[static_cast<std::size_t>(l)]);
      for (const zone& z : pgdat.node_zones)
        VM_CHECK(static_cast<std::int64_t>(lv.lru_zone_size[z.idx][static_cast<std::size_t>(l)]) ==
                     lv_zone[z.idx][static_cast<std::size_t>(l)],
                 "LRU pages of a zone != lruvec lru_zone_size", static_cast<std::uint64_t>(z.idx),
                 static_cast<std::uint64_t>(l));
      node_count[static_cast<std::size_t>(l)] += static_cast<std::int64_t>(count);
    }
    }
    for (int l = 0; l < NR_LRU_LISTS; ++l) {
      const std::int64_t count = node_count[static_cast<std::size_t>(l)];
      VM_CHECK(pgdat.stats.vm_stat[NR_INACTIVE_ANON + l] == count, "LRU list length != NR_*_ANON/FILE gauge",
               static_cast<std::uint64_t>(count), static_cast<std::uint64_t>(pgdat.stats.vm_stat[NR_INACTIVE_ANON + l]));
      for (const zone& z : pgdat.node_zones)
        VM_CHECK(z.stats.vm_stat[NR_ZONE_INACTIVE_ANON + l] == per_zone[z.idx][static_cast<std::size_t>(l)],
                 "LRU pages of a zone != NR_ZONE_* gauge", static_cast<std::uint64_t>(z.idx),
                 static_cast<std::uint64_t>(l));
    }
  }
  std::vector<std::int64_t> mlocked(MAX_NR_ZONES * static_cast<std::size_t>(pm_.nr_node_ids()), 0);
  for (std::uint64_t pfn = 0; pfn < pm_.max_pfn(); ++pfn) {
    const page* pg = mem_map + pfn;
    if (pg->flags == 0) continue;
    VM_CHECK(!pg->test(PG_lru) || seen[pfn], "PG_lru page on no LRU list", pfn, pg->flags);
    if (pg->test(PG_mlocked)) {
      const zone* z = pm_.page_zone(pg);
      ++mlocked[static_cast<std::size_t>(z->node()) * MAX_NR_ZONES + z->idx];
    }
  }
  for (int n = 0; n < pm_.nr_node_ids(); ++n)
    for (const zone& z : pm_.NODE_DATA(NodeId(n)).node_zones)
      VM_CHECK(z.stats.vm_stat[NR_MLOCK] == mlocked[static_cast<std::size_t>(n) * MAX_NR_ZONES + z.idx],
               "NR_MLOCK != PG_mlocked pages of a zone", static_cast<std::uint64_t>(n),
               static_cast<std::uint64_t>(z.idx));
}

// Memory cgroups: each cgroup's memory.current equals the pages charged to it
// and its descendants (a THP head counting its 512 pages) plus the CPU stocks
// pre-charged to them; memory.swap.current equals its swap_cgroup slots; no
// free page or THP tail carries a charge.
void Kernel::check_memcg() const {
  const std::size_t nr = memcgs_->by_id.size();
  std::vector<std::int64_t> pages(nr, 0), swap(nr, 0);
  const page* mem_map = pm_.pfn_to_page(Pfn(0));
  for (std::uint64_t pfn = 0; pfn < pm_.max_pfn(); ++pfn) {
    const page* pg = mem_map + pfn;
    if (!pg->memcg_id) continue;
    VM_CHECK(pg->memcg_id < nr, "page charged to no such cgroup", pfn, pg->memcg_id);
    VM_CHECK(!PageBuddy(pg) && !pg->test(PG_pcp) && pg->_refcount > 0, "free page still charged", pfn, pg->memcg_id);
    VM_CHECK(!PageTail(pg), "THP tail page charged on its own", pfn, pg->memcg_id);
    pages[pg->memcg_id] += PageHead(pg) ? (1l << pg->order) : 1;
  }
  for (const memcg_stock_pcp& s : memcgs_->stock)
    if (s.cached) pages[s.cached] += static_cast<std::int64_t>(s.nr_pages);
  for (std::size_t id = 1; id < nr; ++id) pages[id] += memcgs_->by_id[id]->obj_pages;  // kmem: slab objects' pages
  check_memcg_kmem();
  for (const auto& area : memcgs_->swap_cgroup)
    for (std::uint32_t id : area)
      if (id) ++swap[id];
  for (std::size_t id = nr; id-- > 1;) {  // children after parents: sum bottom-up
    const mem_cgroup& m = *memcgs_->by_id[id];
    VM_CHECK(m.memory.usage == pages[id], "memory.current != pages charged to the cgroup's subtree", id,
             static_cast<std::uint64_t>(m.memory.usage));
    VM_CHECK(m.swap.usage == swap[id], "memory.swap.current != swap slots of the cgroup's subtree", id,
             static_cast<std::uint64_t>(m.swap.usage));
    if (m.parent && m.parent->id) {
      pages[m.parent->id] += pages[id];
      swap[m.parent->id] += swap[id];
    }
  }
}

// The checker's kernel-memory part: per cgroup, the pages charged for slab
// objects equal the full sizes of its charged objects plus the bytes
// pre-charged in object stocks and nr_charged_bytes; MEMCG_KMEM equals those
// pages plus its page tables; no stat negative.
void Kernel::check_memcg_kmem() const {
  const std::size_t nr = memcgs_->by_id.size();
  std::vector<std::uint64_t> bytes(nr, 0);
  const Slub& slub = *slub_;
  slub.for_each_allocated([&](const SlabObjectInfo& o) {
    if (!o.cache) return;
    const std::uint32_t id = slub.object_memcg(o.addr);
    if (!id) return;
    VM_CHECK(id < nr, "slab object charged to no such cgroup", o.addr, id);
    bytes[id] += obj_full_size(o.cache->size);
  });
  for (const obj_stock_pcp& st : memcgs_->obj_stock)
    if (st.cached) bytes[st.cached] += st.nr_bytes;
  for (std::size_t id = 1; id < nr; ++id) {
    const mem_cgroup& m = *memcgs_->by_id[id];
    bytes[id] += m.nr_charged_bytes;
    VM_CHECK(bytes[id] == static_cast<std::uint64_t>(m.obj_pages) * kPageSize,
             "slab bytes charged to a cgroup != pages charged for its objects", id, bytes[id]);
    long pagetables = 0;
    for (const auto& st : m.kmem_node) {
      for (long v : st) VM_CHECK(v >= 0, "negative kernel-memory stat of a cgroup", id, static_cast<std::uint64_t>(-v));
      pagetables += st[MEMCG_PAGETABLE];
    }
    VM_CHECK(m.kmem == m.obj_pages + pagetables, "MEMCG_KMEM != object pages + page tables", id,
             static_cast<std::uint64_t>(m.kmem));
  }
}

}  // namespace numasim::os
