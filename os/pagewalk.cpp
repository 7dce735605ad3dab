// The page-table walker with callbacks: see pagewalk.h.
#include "os/pagewalk.h"

#include <cstdio>
#include <cstdlib>

#include "os/hugetlb.h"
#include "os/mm_types.h"
#include "os/mmap.h"

namespace numasim::os {

namespace {
[[noreturn]] void walk_bug(const char* what, VirtAddr a) {
  std::fprintf(stderr, "numasim: page walk invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}

// pte_hole depth of a none entry at `level` (PGD 0, P4D 1, PUD 2, PMD 3; with
// 4 levels the top table is the PGD and the folded P4D is never none).
int hole_depth(int level, int levels) { return level == levels ? 0 : 5 - level; }

// The upper-level callback for an entry at `level` of a `levels`-deep radix.
int upper_entry(const PteRef& e, VirtAddr addr, VirtAddr next, int level, int levels, mm_walk& w) {
  const mm_walk_ops& ops = *w.ops;
  int err = 0;
  if (level == levels && ops.pgd_entry && (err = ops.pgd_entry(e, addr, next, w))) return err;
  if (level == 4 && ops.p4d_entry && (err = ops.p4d_entry(e, addr, next, w))) return err;
  if (level == PUD_LEVEL && ops.pud_entry && (err = ops.pud_entry(e, addr, next, w))) return err;
  if (level == PMD_LEVEL && ops.pmd_entry && (err = ops.pmd_entry(e, addr, next, w))) return err;
  return 0;
}

// Whether any callback lives below `level` (walk_pgd_range's "if (ops->p4d_entry || ...)").
bool wants_below(const mm_walk_ops& ops, int level) {
  if (ops.pte_entry) return true;
  if (level > PMD_LEVEL && ops.pmd_entry) return true;
  if (level > PUD_LEVEL && ops.pud_entry) return true;
  if (level > 4 && ops.p4d_entry) return true;
  return false;
}

// walk_pgd_range / walk_p4d_range / walk_pud_range / walk_pmd_range / walk_pte_range
// for the table at `frame` (level `level`, covering from `base`), clipped to [start, end).
int walk_table(mm_walk& w, PhysAddr frame, int level, VirtAddr base, VirtAddr start, VirtAddr end) {
  const mm_walk_ops& ops = *w.ops;
  unsigned used = 0;
  pteval_t* e = w.pt->table_entries(frame, &used);
  if (!e) walk_bug("walk through a frame that holds no table", frame);
  const unsigned shift = level_shift(level);
  const std::uint64_t step = 1ull << shift;
  const unsigned first = static_cast<unsigned>((start - base) >> shift);
  const unsigned last = static_cast<unsigned>((end - 1 - base) >> shift);  // inclusive, < 512
  if (used == 0) {  // an empty table: one hole per entry only if someone listens
    if (level > PTE_LEVEL && ops.pte_hole)
      for (unsigned i = first; i <= last; ++i) {
        const VirtAddr a = base + i * step;
        if (int err = ops.pte_hole(a < start ? start : a, a + step > end ? end : a + step,
                                   hole_depth(level, w.pt->levels()), w))
          return err;
      }
    return 0;
  }
  const int levels = w.pt->levels();
  for (unsigned i = first; i <= last; ++i) {
    const pteval_t v = e[i];
    const VirtAddr a = base + i * step;
    const VirtAddr addr = a < start ? start : a;
    const VirtAddr next = a + step > end ? end : a + step;
    if (v == 0) {
      if (level > PTE_LEVEL && ops.pte_hole)
        if (int err = ops.pte_hole(addr, next, hole_depth(level, w.pt->levels()), w)) return err;
      continue;
    }
    const PteRef ref{frame + 8ull * i, &e[i], level};
    if (level == PTE_LEVEL) {
      if (ops.pte_entry)
        if (int err = ops.pte_entry(ref, addr, next, w)) return err;
      continue;
    }
    w.action = ACTION_SUBTREE;
    if (int err = upper_entry(ref, addr, next, level, levels, w)) return err;
    if (w.action == ACTION_CONTINUE || !wants_below(ops, level)) continue;
    // Read again: pmd_entry may have split a huge PMD into a table (split_huge_pmd) or zapped it.
    const pteval_t now = e[i];
    if (now == 0) continue;
    if (!pte_present(now) || (level <= PUD_LEVEL && pte_huge(now))) {
      // A leaf above the PTE level. Without a VMA the callbacks above saw it;
      // inside one, pmd_entry must have split or skipped it.
      if (w.vma && ops.pte_entry) walk_bug("huge or non-present leaf in a walk that wants PTEs", addr);
      continue;
    }
    if (int err = walk_table(w, pte_phys(now), level - 1, a, addr, next)) return err;
  }
  return 0;
}

int walk_pgd_range(mm_walk& w, PhysAddr pgd, VirtAddr start, VirtAddr end) {
  const VirtAddr top = 1ull << level_shift(w.pt->levels() + 1);
  if (end > top) end = top;
  if (start >= end) return 0;
  return walk_table(w, pgd, w.pt->levels(), 0, start, end);
}

// walk_hugetlb_range: one call per huge page of the VMA part [start, end).
int walk_hugetlb_range(mm_walk& w, VirtAddr start, VirtAddr end) {
  const std::uint64_t sz = vma_hpage_size(*w.vma);
  const int level = vma_hpage_level(*w.vma);
  const std::uint64_t hmask = ~(sz - 1);
  for (VirtAddr addr = start; addr < end;) {
    const VirtAddr next = (addr & hmask) + sz < end ? (addr & hmask) + sz : end;
    const PteRef r = w.pt->walk(w.mm->pgd, addr & hmask, level);  // huge_pte_offset
    int err = 0;
    if (r.level == level && r.value() != 0)
      err = w.ops->hugetlb_entry(r, hmask, addr, next, w);
    else if (w.ops->pte_hole)
      err = w.ops->pte_hole(addr, next, -1, w);
    if (err) return err;
    addr = next;
  }
  return 0;
}

// __walk_page_range for one VMA part.
int walk_vma_part(mm_walk& w, VirtAddr start, VirtAddr end) {
  if (w.vma->is_hugetlb()) return w.ops->hugetlb_entry ? walk_hugetlb_range(w, start, end) : 0;
  return walk_pgd_range(w, w.mm->pgd, start, end);
}
}  // namespace

int walk_page_range(const PageTables& pt, mm_struct& mm, VirtAddr start, VirtAddr end, const mm_walk_ops& ops,
                    void* priv) {
  if (start >= end) return 0;
  mm_walk w{&ops, &pt, &mm, nullptr, ACTION_SUBTREE, priv};
  vm_area_struct* vma = find_vma(mm, start);
  for (VirtAddr next; start < end; start = next) {
    int err = 0;
    if (!vma || start < vma->vm_start) {  // after the last VMA, or in a gap before vma
      w.vma = nullptr;
      next = vma && vma->vm_start < end ? vma->vm_start : end;
      if (ops.pte_hole) err = ops.pte_hole(start, next, -1, w);
    } else {
      w.vma = vma;
      next = vma->vm_end < end ? vma->vm_end : end;
      vma = vma_next(mm, *vma);
      err = walk_vma_part(w, start, next);
    }
    if (err) return err;
  }
  return 0;
}

int walk_page_range_vma(const PageTables& pt, vm_area_struct& vma, VirtAddr start, VirtAddr end, const mm_walk_ops& ops,
                        void* priv) {
  if (start < vma.vm_start || end > vma.vm_end) walk_bug("walk_page_range_vma outside its VMA", start);
  if (start >= end) return 0;
  mm_walk w{&ops, &pt, vma.vm_mm, &vma, ACTION_SUBTREE, priv};
  return walk_vma_part(w, start, end);
}

int walk_page_range_novma(const PageTables& pt, mm_struct* mm, PhysAddr pgd, VirtAddr start, VirtAddr end,
                          const mm_walk_ops& ops, void* priv) {
  mm_walk w{&ops, &pt, mm, nullptr, ACTION_SUBTREE, priv};
  return walk_pgd_range(w, pgd, start, end);
}

}  // namespace numasim::os
