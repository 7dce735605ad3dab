// VMA tree operations: see mmap.h.
#include "os/mmap.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <vector>

#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/pagewalk.h"
#include "os/rmap.h"
#include "os/shmem.h"
#include "os/swapops.h"
#include "os/syscalls.h"

namespace numasim::os {

namespace {
[[noreturn]] void vma_bug(const char* what, VirtAddr a) {
  std::fprintf(stderr, "numasim: VMA invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}
}  // namespace

vm_area_struct* find_vma(mm_struct& mm, VirtAddr addr) {
  return const_cast<vm_area_struct*>(find_vma(static_cast<const mm_struct&>(mm), addr));
}

const vm_area_struct* find_vma(const mm_struct& mm, VirtAddr addr) {
  auto it = mm.mm_mt.upper_bound(addr);  // first with vm_start > addr
  if (it != mm.mm_mt.begin()) {
    auto p = std::prev(it);
    if (p->second.vm_end > addr) return &p->second;
  }
  return it == mm.mm_mt.end() ? nullptr : &it->second;
}

vm_area_struct* vma_lookup(mm_struct& mm, VirtAddr addr) {
  vm_area_struct* v = find_vma(mm, addr);
  return v && v->vm_start <= addr ? v : nullptr;
}

vm_area_struct* find_vma_intersection(mm_struct& mm, VirtAddr start, VirtAddr end) {
  vm_area_struct* v = find_vma(mm, start);
  return v && v->vm_start < end ? v : nullptr;
}

vm_area_struct* vma_prev(mm_struct& mm, const vm_area_struct& vma) {
  auto it = mm.mm_mt.find(vma.vm_start);
  return it == mm.mm_mt.begin() ? nullptr : &std::prev(it)->second;
}

vm_area_struct* vma_next(mm_struct& mm, const vm_area_struct& vma) {
  auto it = mm.mm_mt.find(vma.vm_start);
  ++it;
  return it == mm.mm_mt.end() ? nullptr : &it->second;
}

bool range_fully_mapped(mm_struct& mm, VirtAddr start, VirtAddr end) {
  VirtAddr cur = start;
  while (cur < end) {
    vm_area_struct* v = vma_lookup(mm, cur);
    if (!v) return false;
    cur = v->vm_end;
  }
  return true;
}

vm_area_struct& vma_insert(mm_struct& mm, vm_area_struct vma) {
  if (vma.vm_start >= vma.vm_end || offset_in_page(vma.vm_start) || offset_in_page(vma.vm_end))
    vma_bug("inserting a malformed VMA", vma.vm_start);
  if (find_vma_intersection(mm, vma.vm_start, vma.vm_end)) vma_bug("inserting an overlapping VMA", vma.vm_start);
  vma.vm_mm = &mm;
  if (mm.vma_objects && !vma.vm_obj) vma.vm_obj = mm.vma_objects->take();  // vm_area_alloc (reserved)
  auto [it, ok] = mm.mm_mt.emplace(vma.vm_start, std::move(vma));
  ++mm.map_count;
  return it->second;
}

void vma_erase(mm_struct& mm, vm_area_struct& vma) {
  const PhysAddr obj = vma.vm_obj;
  if (obj && !mm.vma_objects) vma_bug("erasing a slab-backed VMA outside a VMA operation", vma.vm_start);
  if (mm.vma_objects) mm.vma_objects->vma_unlink(vma);  // unlink_anon_vmas
  if (mm.mm_mt.erase(vma.vm_start) != 1) vma_bug("erasing a VMA not in the tree", vma.vm_start);
  if (obj) mm.vma_objects->release(obj);  // vm_area_free
  --mm.map_count;
}

vm_area_struct& split_vma(mm_struct& mm, vm_area_struct& vma, VirtAddr addr) {
  if (addr <= vma.vm_start || addr >= vma.vm_end || offset_in_page(addr)) vma_bug("bad split address", addr);
  vm_area_struct upper = vma;  // vm_area_dup: flags, policy (shared reference), object
  upper.vm_start = addr;
  upper.vm_pgoff = vma.vm_pgoff + ((addr - vma.vm_start) >> kPageShift);
  upper.vm_obj = mm.vma_objects ? mm.vma_objects->take() : 0;  // vm_area_dup's vm_area_alloc (reserved)
  vma.vm_end = addr;
  auto [it, ok] = mm.mm_mt.emplace(addr, std::move(upper));
  if (!ok) vma_bug("split produced a duplicate start", addr);
  if (mm.vma_objects) mm.vma_objects->vma_split(vma, it->second);  // anon_vma_clone (reserved)
  ++mm.map_count;
  return it->second;
}

bool vma_policy_equal(const vm_area_struct& a, const vm_area_struct& b) {
  const mempolicy* pa = a.vm_policy.get();
  const mempolicy* pb = b.vm_policy.get();
  if (pa == pb) return true;
  if (!pa || !pb) return false;
  return pa->mode == pb->mode && pa->flags == pb->flags && pa->nodes == pb->nodes && pa->home_node == pb->home_node;
}

bool vmas_mergeable(const vm_area_struct& a, const vm_area_struct& b) {
  if (a.vm_end != b.vm_start) return false;
  if (a.vm_flags != b.vm_flags) return false;
  if ((a.vm_flags & (VM_DONTEXPAND | VM_HUGETLB)) != 0) return false;
  if (a.vm_file_id != b.vm_file_id) return false;
  if (a.vm_pgoff + (a.size() >> kPageShift) != b.vm_pgoff) return false;
  if (!anon_vmas_mergeable(a, b)) return false;
  return vma_policy_equal(a, b);
}

vm_area_struct& vma_merge_neighbours(mm_struct& mm, vm_area_struct& vma) {
  vm_area_struct* cur = &vma;
  vm_area_struct* next = vma_next(mm, *cur);
  if (next && vmas_mergeable(*cur, *next)) {
    cur->vm_end = next->vm_end;
    if (mm.vma_objects) mm.vma_objects->vma_merged(*cur, *next);
    vma_erase(mm, *next);
  }
  vm_area_struct* prev = vma_prev(mm, *cur);
  if (prev && vmas_mergeable(*prev, *cur)) {
    prev->vm_end = cur->vm_end;
    if (mm.vma_objects) mm.vma_objects->vma_merged(*prev, *cur);
    vma_erase(mm, *cur);
    cur = prev;
  }
  return *cur;
}

int splits_needed(mm_struct& mm, VirtAddr start, VirtAddr end) {
  int n = 0;
  vm_area_struct* v = vma_lookup(mm, start);
  if (v && v->vm_start < start) ++n;
  vm_area_struct* w = vma_lookup(mm, end);
  if (w && w->vm_start < end && end > 0) ++n;
  return n;
}

void split_at_boundaries(mm_struct& mm, VirtAddr start, VirtAddr end) {
  vm_area_struct* v = vma_lookup(mm, start);
  if (v && v->vm_start < start) split_vma(mm, *v, start);
  vm_area_struct* w = vma_lookup(mm, end);
  if (w && w->vm_start < end) split_vma(mm, *w, end);
}

namespace {
// Free if [addr, addr+len) is inside [MMAP_MIN_ADDR, task_size) and hits no VMA.
bool area_free(mm_struct& mm, VirtAddr addr, std::uint64_t len) {
  if (addr < MMAP_MIN_ADDR || addr > mm.task_size || len > mm.task_size - addr) return false;
  return find_vma_intersection(mm, addr, addr + len) == nullptr;
}
}  // namespace

VirtAddr get_unmapped_area(mm_struct& mm, VirtAddr hint, std::uint64_t len, std::uint64_t align) {
  if (len == 0 || len > mm.task_size - MMAP_MIN_ADDR) return 0;
  const std::uint64_t amask = align - 1;
  if (hint) {
    VirtAddr a = page_align(hint);
    if ((a & amask) == 0 && area_free(mm, a, len)) return a;
  }
  // vm_unmapped_area, top-down: highest gap below mmap_base that fits.
  const VirtAddr low = MMAP_MIN_ADDR;
  VirtAddr high = mm.mmap_base;
  VirtAddr limit = mm.task_size < DEFAULT_MAP_WINDOW ? mm.task_size : DEFAULT_MAP_WINDOW;
  if (hint > DEFAULT_MAP_WINDOW && mm.task_size > DEFAULT_MAP_WINDOW) {
    high += mm.task_size - DEFAULT_MAP_WINDOW;
    limit = mm.task_size;
  }
  auto try_gap = [&](VirtAddr gap_start, VirtAddr gap_end) -> VirtAddr {
    if (gap_end > high) gap_end = high;
    if (gap_start < low) gap_start = low;
    if (gap_end <= gap_start || gap_end - gap_start < len) return 0;
    VirtAddr a = (gap_end - len) & ~amask;
    return a >= gap_start ? a : 0;
  };
  {
    VirtAddr gap_end = high;
    for (auto it = mm.mm_mt.rbegin(); it != mm.mm_mt.rend(); ++it) {
      const vm_area_struct& v = it->second;
      if (v.vm_start >= high) continue;
      if (VirtAddr a = try_gap(v.vm_end, gap_end)) return a;
      gap_end = v.vm_start;
      if (gap_end <= low) break;
    }
    if (VirtAddr a = try_gap(low, gap_end)) return a;
  }
  // Fallback (arch_get_unmapped_area): bottom-up from TASK_UNMAPPED_BASE.
  VirtAddr cur = page_align(limit / 3);
  for (;;) {
    cur = (cur + amask) & ~amask;
    if (cur > limit || len > limit - cur) return 0;
    vm_area_struct* v = find_vma_intersection(mm, cur, cur + len);
    if (!v) return cur;
    cur = v->vm_end;
  }
}

std::string vma_flags_string(unsigned long f) {
  std::string s;
  s += (f & VM_READ) ? 'r' : '-';
  s += (f & VM_WRITE) ? 'w' : '-';
  s += (f & VM_EXEC) ? 'x' : '-';
  s += (f & VM_MAYSHARE) ? 's' : 'p';
  return s;
}

std::string vma_map_string(const mm_struct& mm) {
  std::string out;
  char buf[96];
  for (const auto& [start, v] : mm.mm_mt) {
    std::snprintf(buf, sizeof buf, "%s[0x%llx-0x%llx %s]", out.empty() ? "" : " ",
                  static_cast<unsigned long long>(v.vm_start), static_cast<unsigned long long>(v.vm_end),
                  vma_flags_string(v.vm_flags).c_str());
    out += buf;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Kernel-side mapping operations (mm/mmap.c do_mmap / mmap_region, mm/vma.c
// do_vmi_munmap, unmap_region, free_pgtables; do_brk_flags). Arguments were
// validated by the system-call layer (syscalls.cpp).
// ---------------------------------------------------------------------------

// zap_pte_range / zap_huge_pmd / __unmap_hugepage_range over [start, end) of
// one VMA, on the page walker: pte_entry for small leaves, pmd_entry for THP
// PMDs (a THP counts HPAGE_PMD_NR leaves), hugetlb_entry for 2 MiB (PMD) and
// 1 GiB (PUD) hugetlb ones.
std::size_t Kernel::zap_range(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end, KernelCost& cost) {
  return zap_range(t->cpu, vma, start, end, cost);
}

std::size_t Kernel::zap_range(CpuId cpu, vm_area_struct& vma, VirtAddr start, VirtAddr end, KernelCost& cost) {
  struct Zap {
    Kernel& k;
    mm_struct& mm;
    CpuId cpu;
    KernelCost& cost;
    std::size_t zapped;
  } z{*this, *vma.vm_mm, cpu, cost, 0};
  mm_walk_ops ops;
  ops.pte_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr, mm_walk& w) -> int {
    Zap& z = *static_cast<Zap*>(w.priv);
    Kernel& k = z.k;
    const pteval_t v = ref.value();
    z.cost.add_cycles(k.params_.costs.zap_pte_cycles);
    k.pgtables_.set_entry(z.cpu, ref, 0, z.cost);  // ptep_get_and_clear_full
    if (is_swap_pte(v)) {
      const swp_entry_t entry = pte_to_swp_entry(v);
      if (!non_swap_entry(entry)) {
        z.mm.add_mm_counter(MM_SWAPENTS, -1);
        k.swap_->free_swap_and_cache(entry, z.cpu, z.cost);  // os/swapfile.cpp
      } else if (is_migration_entry(entry)) {
        // The page belongs to the migration in flight; only the RSS it still counted goes.
        const page* pg = k.pm_.pfn_to_page(Pfn(swp_offset_pfn(entry)));
        z.mm.add_mm_counter(PageAnon(pg) ? MM_ANONPAGES : MM_SHMEMPAGES, -1);
      } else {
        vma_bug("zapping an unknown special swap entry", addr);
      }
      return 0;
    }
    ++z.zapped;
    if (v & _PAGE_SPECIAL) return 0;  // zero page
    if (v & _PAGE_DIRTY) {  // zap_pte_range: a file page's dirty bit goes to the page (folio_mark_dirty)
      page* pg = k.pm_.phys_to_page(pte_phys(v));
      if (!PageAnon(pg) && !PageSwapBacked(pg)) k.fs_->mark_page_dirty(pg, z.cpu);
    }
    k.page_remove_rmap(z.cpu, z.mm, k.pm_.phys_to_page(pte_phys(v)), false, z.cost);
    return 0;
  };
  // zap_huge_pmd for a THP or huge-zero PMD the range covers whole; a partial
  // range splits it (__split_huge_pmd) and the PTEs are zapped below.
  ops.pmd_entry = [](const PteRef& ref, VirtAddr addr, VirtAddr next, mm_walk& w) -> int {
    const pteval_t v = ref.value();
    if (!pte_huge(v)) return 0;
    Zap& z = *static_cast<Zap*>(w.priv);
    Kernel& k = z.k;
    const VirtAddr haddr = addr & ~(HPAGE_PMD_SIZE - 1);
    if (addr != haddr || next != haddr + HPAGE_PMD_SIZE) {
      if (!k.__split_huge_pmd(z.cpu, *w.vma, ref, haddr, z.cost)) vma_bug("no page table to split a huge PMD", addr);
      return 0;
    }
    z.cost.add_cycles(k.params_.costs.zap_pte_cycles);
    k.pgtables_.set_entry(z.cpu, ref, 0, z.cost);  // pmdp_huge_get_and_clear_full
    w.action = ACTION_CONTINUE;
    z.zapped += HPAGE_PMD_NR;
    if (!(v & _PAGE_SPECIAL)) k.page_remove_rmap_pmd(z.cpu, z.mm, k.pm_.phys_to_page(pte_phys(v)), z.cost);
    return 0;
  };
  ops.hugetlb_entry = [](const PteRef& ref, std::uint64_t, VirtAddr addr, VirtAddr, mm_walk& w) -> int {
    Zap& z = *static_cast<Zap*>(w.priv);
    Kernel& k = z.k;
    const pteval_t v = ref.value();
    if (is_swap_pte(v)) vma_bug("swap or migration entry in a hugetlb PMD", addr);
    z.cost.add_cycles(k.params_.costs.zap_pte_cycles);
    k.pgtables_.set_entry(z.cpu, ref, 0, z.cost);  // huge_ptep_get_and_clear
    ++z.zapped;
    // The hugetlb page goes back to the pool with its last mapping.
    k.page_remove_rmap(z.cpu, z.mm, k.pm_.phys_to_page(pte_phys(v)), true, z.cost);
    return 0;
  };
  walk_page_range_vma(pgtables_, vma, start, end, ops, &z);
  return z.zapped;
}

std::size_t Kernel::free_pgtables_between(task_struct* t, VirtAddr start, VirtAddr end, KernelCost& cost) {
  mm_struct& mm = *t->mm;
  const VirtAddr top = 1ull << level_shift(pgtables_.levels() + 1);
  VirtAddr floor = 0, ceiling = top;
  auto it = mm.mm_mt.lower_bound(end);
  if (it != mm.mm_mt.end()) ceiling = it->second.vm_start;
  if (it != mm.mm_mt.begin()) {
    auto p = std::prev(it);
    if (p->second.vm_end <= start)
      floor = p->second.vm_end;
    else
      return 0;  // [start, end) is not a hole
  }
  return pgtables_.free_pgd_range(t->cpu, mm.pgd, start, end, floor, ceiling, cost);
}

void Kernel::do_munmap(task_struct* t, VirtAddr start, VirtAddr end, KernelCost& cost) {
  mm_struct& mm = *t->mm;
  if (!find_vma_intersection(mm, start, end)) return;
  int splits = splits_needed(mm, start, end);
  split_at_boundaries(mm, start, end);
  cost.add_cycles(params_.costs.vma_op_cycles * static_cast<std::uint64_t>(splits));
  std::size_t zapped = 0;
  while (vm_area_struct* vma = find_vma_intersection(mm, start, end)) {
    std::size_t present = zap_range(t, *vma, vma->vm_start, vma->vm_end, cost);
    zapped += present;
    if (vma->hugetlb_reserves()) hugetlb_->unreserve(vma->size() / vma_hpage_size(*vma) - present, hstate_vma(*vma));
    mm.total_vm -= vma->size() >> kPageShift;
    cost.add_cycles(params_.costs.vma_op_cycles);
    vma_erase(mm, *vma);
  }
  std::size_t freed = free_pgtables_between(t, start, end, cost);
  if (zapped || freed) flush_tlb_range(t->cpu, mm, start, end, cost);
}

// mm_populate / populate_vma_page_range: fault in every page, as GUP does.
void Kernel::populate_range(task_struct* t, VirtAddr start, VirtAddr end, bool write, KernelCost& cost) {
  mm_struct& mm = *t->mm;
  VirtAddr a = start;
  while (a < end) {
    vm_area_struct* vma = vma_lookup(mm, a);
    if (!vma) break;
    const std::uint64_t step = vma->is_hugetlb() ? vma_hpage_size(*vma) : kPageSize;
    if (!vma->is_accessible()) {
      a = vma->vm_end;
      continue;
    }
    const bool w = write && (vma->vm_flags & VM_WRITE);
    auto tr = pgtables_.translate(mm.pgd, a);
    if (!tr || (w && !pte_write(tr->leaf))) {
      if (fault_core(t, a, w ? FAULT_FLAG_WRITE : 0, cost) != FaultResult::Handled) break;
    }
    a = (a & ~(step - 1)) + step;
  }
}

long Kernel::do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags,
                     std::uint64_t align, KernelCost& cost) {
  return do_mmap(t, addr, len, vm_flags, flags, align, nullptr, 0, cost);
}

long Kernel::do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags,
                     std::uint64_t align, std::shared_ptr<file> vm_file, std::uint64_t pgoff, KernelCost& cost) {
  return do_mmap(t, addr, len, vm_flags, flags, align, std::move(vm_file), pgoff, cost, nullptr);
}

// do_mmap with the shmem object a shared mapping maps (memfd, SysV shmat: the
// handle, pgoff its offset in pages); none for a MAP_SHARED|MAP_ANONYMOUS
// mapping: shmem_zero_setup makes a new object of len bytes.
long Kernel::do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags,
                     std::uint64_t align, std::shared_ptr<file> vm_file, std::uint64_t pgoff, KernelCost& cost,
                     std::shared_ptr<shmem_inode_info> shm) {
  mm_struct& mm = *t->mm;
  const bool fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  if (mm.map_count > params_.max_map_count) return -ENOMEM;
  if (!fixed) {
    addr = get_unmapped_area(mm, addr, len, align);
    if (!addr) return -ENOMEM;
  } else {
    if (addr < MMAP_MIN_ADDR) return -EPERM;  // security_mmap_addr
    if (addr > mm.task_size || len > mm.task_size - addr) return -ENOMEM;
    if (flags & MAP_FIXED_NOREPLACE) {
      if (find_vma_intersection(mm, addr, addr + len)) return -EEXIST;
    } else if (mm.map_count + splits_needed(mm, addr, addr + len) > params_.max_map_count) {
      return -ENOMEM;
    }
    // Unmapping a hugetlb VMA in its middle must be huge-aligned (hugetlb_split).
    for (VirtAddr edge : {addr, addr + len}) {
      vm_area_struct* v = vma_lookup(mm, edge);
      if (v && v->is_hugetlb() && v->vm_start < edge && (edge & (vma_hpage_size(*v) - 1))) return -EINVAL;
    }
  }
  // vm_area_alloc for the new VMA plus the records of the splits a MAP_FIXED
  // unmap makes, all taken before anything changes (ENOMEM otherwise).
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(1 + ((flags & MAP_FIXED) ? splits_needed(mm, addr, addr + len) : 0), AllocSite::tag("mmap_region")))
    return -ENOMEM;
  // THP PMDs straddling a MAP_FIXED range split (ENOMEM, nothing changed, otherwise).
  if ((flags & MAP_FIXED) && !thp_split_range_edges(t->cpu, mm, addr, addr + len, cost)) return -ENOMEM;
  const bool huge = vm_flags & VM_HUGETLB;
  // hugetlb_file_setup's hstate (MAP_HUGE_SHIFT bits, checked by sys_mmap) and hugetlb_reserve_pages.
  const int hstate = huge ? hstate_sizelog((flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK) : HSTATE_2M;
  if (huge && (hstate < 0 || (len & (hstate_size(hstate) - 1)))) return -EINVAL;
  if (huge && !(vm_flags & VM_NORESERVE) && !hugetlb_->reserve(len / hstate_size(hstate), hstate)) return -ENOMEM;
  // Nothing can fail from here on.
  if (flags & MAP_FIXED) do_munmap(t, addr, addr + len, cost);

  vm_area_struct v;
  v.vm_start = addr;
  v.vm_end = addr + len;
  v.vm_flags = vm_flags;
  const bool object = (vm_flags & VM_SHARED) || huge;
  v.vm_pgoff = object ? 0 : addr >> kPageShift;
  v.vm_file_id = object && !vm_file ? next_file_id_++ : 0;
  if (vm_file) {  // a file mapping: its file, its offset, the address_space as its object
    v.vm_pgoff = pgoff;
    v.vm_file_id = kFileVmaIdBase + vm_file->f_inode->i_mapping.id;
    v.vm_file = std::move(vm_file);
  }
  if (huge) v.vm_hugetlb_hstate = static_cast<std::uint8_t>(hstate);
  if ((vm_flags & VM_SHARED) && !huge && !v.vm_file) {  // shmem: the object, its id, the offset
    v.vm_pgoff = shm ? pgoff : 0;
    if (!shm) shm = shmem_->file_setup("dev/zero", len);  // shmem_zero_setup
    v.vm_file_id = kShmemVmaIdBase + shm->id;
    v.vm_shmem = std::move(shm);
  }
  vm_area_struct& inserted = vma_insert(mm, std::move(v));
  vma_merge_neighbours(mm, inserted);
  mm.total_vm += len >> kPageShift;
  cost.add_cycles(params_.costs.vma_op_cycles);

  if (((flags & MAP_POPULATE) && !(flags & MAP_NONBLOCK)) || (flags & MAP_LOCKED))
    populate_range(t, addr, addr + len, (vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE, cost);
  return static_cast<long>(addr);
}

// SYSCALL_DEFINE1(brk): returns the new break, or the old one when it cannot move.
long Kernel::sys_brk(task_struct* t, VirtAddr brk, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  if (brk < mm.start_brk || brk > mm.task_size) return static_cast<long>(mm.brk);
  const VirtAddr newbrk = page_align(brk);
  const VirtAddr oldbrk = page_align(mm.brk);
  if (oldbrk == newbrk) {
    mm.brk = brk;
    return static_cast<long>(mm.brk);
  }
  if (brk <= mm.brk) {  // shrink: always allowed
    if (mm.map_count + splits_needed(mm, newbrk, oldbrk) > params_.max_map_count) return static_cast<long>(mm.brk);
    VmaOp op(*this, mm, t->cpu, cost);
    if (!op.reserve(splits_needed(mm, newbrk, oldbrk), AllocSite::tag("brk_munmap"))) return static_cast<long>(mm.brk);
    if (!thp_split_range_edges(t->cpu, mm, newbrk, oldbrk, cost)) return static_cast<long>(mm.brk);
    do_munmap(t, newbrk, oldbrk, cost);
    mm.brk = brk;
    return static_cast<long>(mm.brk);
  }
  // Grow: the new area plus a guard page must not touch the next mapping.
  if (newbrk + kPageSize > mm.task_size || find_vma_intersection(mm, oldbrk, newbrk + kPageSize))
    return static_cast<long>(mm.brk);
  if (mm.map_count > params_.max_map_count) return static_cast<long>(mm.brk);
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(1, AllocSite::tag("do_brk_flags"))) return static_cast<long>(mm.brk);
  // do_brk_flags: extend or create the heap VMA.
  vm_area_struct v;
  v.vm_start = oldbrk;
  v.vm_end = newbrk;
  v.vm_flags = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_ACCOUNT;
  v.vm_pgoff = oldbrk >> kPageShift;
  vm_area_struct& inserted = vma_insert(mm, std::move(v));
  vma_merge_neighbours(mm, inserted);
  mm.total_vm += (newbrk - oldbrk) >> kPageShift;
  cost.add_cycles(params_.costs.vma_op_cycles);
  mm.brk = brk;
  return static_cast<long>(mm.brk);
}

}  // namespace numasim::os
