// A page-table walker with callbacks (mm/pagewalk.c walk_page_range,
// walk_page_range_vma, walk_page_range_novma; include/linux/pagewalk.h
// struct mm_walk_ops): one traversal of the radix in address order on which
// zap, change_protection and the consistency checker are built, each supplying
// what to do per entry. The walker reads the host copy of the tables and charges
// nothing: callers charge what they do (entry writes, cycles).
// Levels: the top table's entries go to pgd_entry; level-4 entries (the PGD
// itself with 4 levels, where the P4D is folded, as Linux does) to p4d_entry;
// then pud_entry, pmd_entry (tables and huge leaves alike, as in Linux) and
// pte_entry. A callback returns 0 to go on; anything else stops the walk and is
// returned. pmd_entry may set walk.action = ACTION_CONTINUE to skip the entry's
// PTE table.
// Simplified against Linux: pte_entry is called for non-none PTEs only (Linux
// passes every PTE of a present table, none ones included); hugetlb_entry gets
// the non-none huge entries of a hugetlb VMA, none ones and missing tables go to
// pte_hole (Linux passes none huge entries to hugetlb_entry); no locking, no
// ACTION_AGAIN, no THP split (a huge PMD leaf whose walk wants PTEs and whose
// pmd_entry did not skip it is a kernel bug until THP exists).
#pragma once

#include "common/units.h"
#include "os/pgtable.h"

namespace numasim::os {

struct mm_struct;
struct vm_area_struct;
struct mm_walk;

// What pmd_entry (or any upper callback) asks the walker to do next.
enum page_walk_action { ACTION_SUBTREE = 0, ACTION_CONTINUE = 1 };

// struct mm_walk_ops: null members are not called. [addr, next) is the part of
// the walked range the entry covers.
struct mm_walk_ops {
  int (*pgd_entry)(const PteRef& pgd, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
  int (*p4d_entry)(const PteRef& p4d, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
  int (*pud_entry)(const PteRef& pud, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
  int (*pmd_entry)(const PteRef& pmd, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
  int (*pte_entry)(const PteRef& pte, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
  // [addr, next) has no table below `depth`: -1 no VMA, 0 PGD, 1 P4D, 2 PUD, 3 PMD
  // entry none (for hugetlb VMAs: the huge entry is none or has no table).
  int (*pte_hole)(VirtAddr addr, VirtAddr next, int depth, mm_walk& walk) = nullptr;
  // A non-none huge entry of a hugetlb VMA; hmask masks the huge page's address.
  int (*hugetlb_entry)(const PteRef& pte, std::uint64_t hmask, VirtAddr addr, VirtAddr next, mm_walk& walk) = nullptr;
};

// struct mm_walk: the walk in progress, passed to every callback.
struct mm_walk {
  const mm_walk_ops* ops = nullptr;
  const PageTables* pt = nullptr;
  mm_struct* mm = nullptr;
  vm_area_struct* vma = nullptr;  // the VMA being walked (null for a novma walk)
  page_walk_action action = ACTION_SUBTREE;
  void* priv = nullptr;  // the caller's state
};

// walk_page_range: every VMA part of [start, end); ranges without a VMA go to
// pte_hole with depth -1; a hugetlb VMA is walked only with hugetlb_entry.
int walk_page_range(const PageTables& pt, mm_struct& mm, VirtAddr start, VirtAddr end, const mm_walk_ops& ops,
                    void* priv);
// walk_page_range_vma: [start, end) inside one VMA.
int walk_page_range_vma(const PageTables& pt, vm_area_struct& vma, VirtAddr start, VirtAddr end, const mm_walk_ops& ops,
                        void* priv);
// walk_page_range_novma: the tables under `pgd` whatever the VMAs say (huge
// leaves go to pud_entry/pmd_entry; hugetlb_entry is not used).
int walk_page_range_novma(const PageTables& pt, mm_struct* mm, PhysAddr pgd, VirtAddr start, VirtAddr end,
                          const mm_walk_ops& ops, void* priv);

// Every non-none leaf of the tables under `pgd` in [start, end), in address
// order, whatever the VMAs say (a walk_page_range_novma): 4 KiB PTEs, and huge
// or non-present PMD/PUD entries; fn(addr, ref) for each. For the checker and
// the callers that visit leaves without caring for their level (mbind, fork).
template <class F>
void walk_leaves(const PageTables& pt, mm_struct* mm, PhysAddr pgd, VirtAddr start, VirtAddr end, F& fn) {
  auto upper = [](const PteRef& ref, VirtAddr addr, VirtAddr, mm_walk& w) -> int {
    const pteval_t v = ref.value();
    if (!pte_present(v) || pte_huge(v)) (*static_cast<F*>(w.priv))(addr, ref);
    return 0;
  };
  mm_walk_ops ops;
  ops.pud_entry = upper;
  ops.pmd_entry = upper;
  ops.pte_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr, mm_walk& w) -> int {
    (*static_cast<F*>(w.priv))(addr, ref);
    return 0;
  };
  walk_page_range_novma(pt, mm, pgd, start, end, ops, &fn);
}

}  // namespace numasim::os
