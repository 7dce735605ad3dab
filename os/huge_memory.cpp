// Transparent huge pages (mm/huge_memory.c, Linux 6.1): the knobs, the
// anonymous huge-page fault (do_huge_pmd_anonymous_page with the huge zero page
// for read faults), the huge-PMD write fault (do_huge_pmd_wp_page: reuse an
// exclusive THP, else split the PMD and let the PTE path copy, as 6.1 does),
// PMD splits (__split_huge_pmd), the rmap side of PMD mappings, the deferred
// split queue with its shrinker (deferred_split_scan) and split_huge_page, and
// THP migration (whole when only PMD-mapped, else split first). See
// os/huge_memory.h for the counts a THP keeps.
// Costs: a THP fault clears 2 MiB as one kernel_write (a streaming store the
// hardware times as a bulk transfer); a PMD split writes its 512 PTEs through
// set_entry; a THP migration copies 2 MiB with one kernel_copy.
// Simplified: no PMD-level migration entries (a whole-THP migration clears and
// rewrites its PMDs with nothing running in between); the page table a split
// needs is allocated at the split (Linux deposits one at fault time), so a
// split can fail with ENOMEM: the system calls split range edges before they
// change anything and report ENOMEM; a split inside a zap or a protection
// change that cannot get its table is a kernel bug (abort).
#include "os/huge_memory.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "common/trace.h"
#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mm_inline.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/rmap.h"
#include "os/syscalls.h"

namespace numasim::os {

namespace {
[[noreturn]] void thp_bug(const char* what, std::uint64_t a) {
  std::fprintf(stderr, "numasim: THP invariant broken: %s (0x%llx)\n", what, static_cast<unsigned long long>(a));
  std::abort();
}
CpuId first_cpu(const CpuMask& m) {
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m.test(i)) return CpuId(static_cast<int>(i));
  return CpuId(0);
}
constexpr const char* kEnabledNames[] = {"always", "madvise", "never"};
constexpr const char* kDefragNames[] = {"always", "defer", "defer+madvise", "madvise", "never"};
}  // namespace

const char* thp_enabled_name(ThpEnabled e) { return kEnabledNames[static_cast<int>(e)]; }
const char* thp_defrag_name(ThpDefrag d) { return kDefragNames[static_cast<int>(d)]; }

namespace {
// "a [b] c": the sysfs listing with the selected choice in brackets.
std::string show_choices(const char* const* names, int n, int selected) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s.push_back(' ');
    if (i == selected) s.push_back('[');
    s.append(names[i]);
    if (i == selected) s.push_back(']');
  }
  return s;
}
}  // namespace

std::string thp_enabled_show(ThpEnabled e) { return show_choices(kEnabledNames, 3, static_cast<int>(e)); }
std::string thp_defrag_show(ThpDefrag d) { return show_choices(kDefragNames, 5, static_cast<int>(d)); }

bool thp_enabled_parse(std::string_view s, ThpEnabled* out) {
  for (int i = 0; i < 3; ++i)
    if (s == kEnabledNames[i]) {
      *out = static_cast<ThpEnabled>(i);
      return true;
    }
  return false;
}

bool thp_defrag_parse(std::string_view s, ThpDefrag* out) {
  for (int i = 0; i < 5; ++i)
    if (s == kDefragNames[i]) {
      *out = static_cast<ThpDefrag>(i);
      return true;
    }
  return false;
}

ThpParams ThpParams::from_config(Config os) {
  ThpParams p;
  Config c = os.table("thp", "transparent huge pages (/sys/kernel/mm/transparent_hugepage)");
  thp_enabled_parse(c.get_choice("enabled", "madvise", {"always", "madvise", "never"},
                                 "when anonymous memory gets huge pages at fault time"),
                    &p.enabled);
  thp_defrag_parse(c.get_choice("defrag", "madvise", {"always", "defer", "defer+madvise", "madvise", "never"},
                                "whether a THP fault may stall in direct reclaim/compaction"),
                   &p.defrag);
  p.use_zero_page = c.get<bool>("use_zero_page", true, "read faults map the huge zero page");
  p.shmem_enabled = c.get_choice("shmem_enabled", "never", {"always", "within_size", "advise", "never", "deny", "force"},
                                 "shmem THP (accepted; shmem huge pages are not modelled)");
  Config k = c.table("khugepaged", "khugepaged (collapse of small pages into THPs)");
  p.khugepaged_defrag = k.get<bool>("defrag", true, "khugepaged may reclaim/compact for its allocation");
  p.pages_to_scan = static_cast<unsigned>(
      k.get<std::int64_t>("pages_to_scan", 4096, "PTEs scanned per pass", {std::int64_t{1}, std::int64_t{1} << 30}));
  p.alloc_sleep_ms = static_cast<std::uint64_t>(k.get<std::int64_t>(
      "alloc_sleep_millisecs", 60000, "sleep after a failed huge allocation (ms)", {std::int64_t{0}, std::int64_t{1} << 40}));
  p.max_ptes_none = static_cast<unsigned>(
      k.get<std::int64_t>("max_ptes_none", 511, "empty PTEs a collapse may fill", {std::int64_t{0}, std::int64_t{511}}));
  p.max_ptes_swap = static_cast<unsigned>(
      k.get<std::int64_t>("max_ptes_swap", 64, "swap PTEs a collapse may read in", {std::int64_t{0}, std::int64_t{511}}));
  p.max_ptes_shared = static_cast<unsigned>(k.get<std::int64_t>(
      "max_ptes_shared", 256, "shared pages a collapse may copy", {std::int64_t{0}, std::int64_t{511}}));
  p.collapse_cycles = static_cast<std::uint64_t>(k.get<std::int64_t>(
      "collapse_cycles", 2000, "CPU cycles of one collapse besides copies", {std::int64_t{0}, std::int64_t{100000000}}));
  return p;
}

// ---------------------------------------------------------------------------
// Knobs
// ---------------------------------------------------------------------------

int Kernel::thp_sysfs_store(std::string_view file, std::string_view value) {
  ThpParams& p = params_.thp;
  auto number = [&](std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) {
    if (value.empty() || value.size() > 18) return false;
    std::uint64_t v = 0;
    for (char ch : value) {
      if (ch < '0' || ch > '9') return false;
      v = v * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
  };
  std::uint64_t n = 0;
  if (file == "enabled") return thp_enabled_parse(value, &p.enabled) ? 0 : -EINVAL;
  if (file == "defrag") return thp_defrag_parse(value, &p.defrag) ? 0 : -EINVAL;
  if (file == "use_zero_page" || file == "khugepaged/defrag") {
    if (!number(0, 1, &n)) return -EINVAL;
    (file == "use_zero_page" ? p.use_zero_page : p.khugepaged_defrag) = n != 0;
    return 0;
  }
  if (file == "shmem_enabled") {
    for (const char* s : {"always", "within_size", "advise", "never", "deny", "force"})
      if (value == s) {
        p.shmem_enabled = s;
        return 0;
      }
    return -EINVAL;
  }
  if (file == "khugepaged/pages_to_scan") {
    if (!number(1, 1u << 30, &n)) return -EINVAL;
    p.pages_to_scan = static_cast<unsigned>(n);
    return 0;
  }
  if (file == "khugepaged/alloc_sleep_millisecs") {
    if (!number(0, 1ull << 40, &n)) return -EINVAL;
    p.alloc_sleep_ms = n;
    return 0;
  }
  unsigned* knob = file == "khugepaged/max_ptes_none"     ? &p.max_ptes_none
                   : file == "khugepaged/max_ptes_swap"   ? &p.max_ptes_swap
                   : file == "khugepaged/max_ptes_shared" ? &p.max_ptes_shared
                                                          : nullptr;
  if (!knob || !number(0, HPAGE_PMD_NR - 1, &n)) return -EINVAL;
  *knob = static_cast<unsigned>(n);
  return 0;
}

std::string Kernel::thp_sysfs_show(std::string_view file) const {
  const ThpParams& p = params_.thp;
  if (file == "enabled") return thp_enabled_show(p.enabled);
  if (file == "defrag") return thp_defrag_show(p.defrag);
  if (file == "use_zero_page") return p.use_zero_page ? "1" : "0";
  if (file == "shmem_enabled") return p.shmem_enabled;
  if (file == "hpage_pmd_size") return std::to_string(HPAGE_PMD_SIZE);
  if (file == "khugepaged/defrag") return p.khugepaged_defrag ? "1" : "0";
  if (file == "khugepaged/pages_to_scan") return std::to_string(p.pages_to_scan);
  if (file == "khugepaged/alloc_sleep_millisecs") return std::to_string(p.alloc_sleep_ms);
  if (file == "khugepaged/max_ptes_none") return std::to_string(p.max_ptes_none);
  if (file == "khugepaged/max_ptes_swap") return std::to_string(p.max_ptes_swap);
  if (file == "khugepaged/max_ptes_shared") return std::to_string(p.max_ptes_shared);
  if (file == "khugepaged/pages_collapsed") return std::to_string(khugepaged_stats_.pages_collapsed);
  if (file == "khugepaged/full_scans") return std::to_string(khugepaged_stats_.full_scans);
  return {};
}

// prctl(PR_SET_THP_DISABLE / PR_GET_THP_DISABLE) (kernel/sys.c).
long Kernel::sys_prctl(task_struct* t, int option, unsigned long arg2, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  if (option == PR_GET_THP_DISABLE) return t->mm->thp_disabled ? 1 : 0;
  if (option == PR_SET_THP_DISABLE) {
    t->mm->thp_disabled = arg2 != 0;
    return 0;
  }
  return -EINVAL;
}

// hugepage_vma_check (mm/huge_memory.c) for anonymous VMAs.
bool Kernel::thp_vma_allowed(const vm_area_struct& vma) const {
  if (vma.is_hugetlb() || (vma.vm_flags & (VM_SHARED | VM_NOHUGEPAGE)) || vma.vm_file_id) return false;
  if (vma.vm_mm && vma.vm_mm->thp_disabled) return false;
  switch (params_.thp.enabled) {
    case ThpEnabled::Always: return true;
    case ThpEnabled::Madvise: return (vma.vm_flags & VM_HUGEPAGE) != 0;
    case ThpEnabled::Never: return false;
  }
  return false;
}

// vma_thp_gfp_mask (fault) and alloc_hugepage_khugepaged_gfpmask.
gfp_t Kernel::thp_gfp_mask(const vm_area_struct& vma, bool khugepaged) const {
  if (khugepaged) return params_.thp.khugepaged_defrag ? GFP_TRANSHUGE : GFP_TRANSHUGE_LIGHT;
  const bool madvised = vma.vm_flags & VM_HUGEPAGE;
  switch (params_.thp.defrag) {
    case ThpDefrag::Always: return GFP_TRANSHUGE | (madvised ? 0 : __GFP_NORETRY);
    case ThpDefrag::Defer: return GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM;
    case ThpDefrag::DeferMadvise:
      return GFP_TRANSHUGE_LIGHT | (madvised ? __GFP_DIRECT_RECLAIM : __GFP_KSWAPD_RECLAIM);
    case ThpDefrag::Madvise: return GFP_TRANSHUGE_LIGHT | (madvised ? __GFP_DIRECT_RECLAIM : 0);
    case ThpDefrag::Never: return GFP_TRANSHUGE_LIGHT;
  }
  return GFP_TRANSHUGE_LIGHT;
}

void Kernel::thp_init() {
  deferred_split_queue_.assign(static_cast<std::size_t>(pm_.nr_node_ids()), {});
  deferred_split_len_.assign(static_cast<std::size_t>(pm_.nr_node_ids()), 0);
  // khugepaged's threadfn: the boot stub's pass while no mm is registered (so
  // runs without THP time exactly what they did), khugepaged_do_scan otherwise.
  if (Kthread* k = kthreads_->khugepaged())
    k->threadfn = [this, stub = k->threadfn](Kthreads& ks, Kthread& self, KernelCost& cost) {
      return khugepaged_mms_.empty() ? stub(ks, self, cost) : khugepaged_scan(self.task.cpu, cost);
    };
}

// ---------------------------------------------------------------------------
// Fault
// ---------------------------------------------------------------------------

void prep_anon_thp(page* head, const vm_area_struct& vma, VirtAddr haddr) {
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    page* sub = head + i;
    sub->set(PG_anon);
    sub->set(PG_swapbacked);
    sub->owner = vma.anon_vma->id;
    sub->index = vma.pgoff_of(haddr) + i;
    sub->mapcount = 0;
  }
  head->spare = 0;
  set_entire_mapcount(head, 1);
}

// vma_alloc_folio(..., hugepage=true) (Linux 6.1 mm/mempolicy.c): for the
// local/preferred policy, first the preferred node only without retries; a
// remote node only when the gfp allows direct reclaim.
static page* alloc_thp_for(PhysMem& pm, CpuId cpu, gfp_t gfp, mempolicy* pol, std::uint64_t ilx, NodeId local,
                           KernelCost& cost) {
  if (!pol || pol->mode == MPOL_DEFAULT || pol->mode == MPOL_PREFERRED || pol->mode == MPOL_LOCAL) {
    const NodeId nid = pol && pol->mode == MPOL_PREFERRED ? NodeId(first_node(pol->nodes)) : local;
    if (page* pg = pm.alloc_pages(cpu, gfp | __GFP_THISNODE | __GFP_NORETRY, HPAGE_PMD_ORDER, nid, nullptr, cost))
      return pg;
    if (!(gfp & __GFP_DIRECT_RECLAIM)) return nullptr;
  }
  return alloc_pages_mpol(pm, cpu, gfp, HPAGE_PMD_ORDER, pol, ilx, cost);
}

// do_huge_pmd_anonymous_page: a none PMD of a THP-eligible VMA.
vm_fault_t Kernel::do_huge_pmd_anonymous_page(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  const VirtAddr haddr = vmf.real_address & ~(HPAGE_PMD_SIZE - 1);
  khugepaged_enter(vma);
  if (haddr < vma.vm_start || haddr + HPAGE_PMD_SIZE > vma.vm_end) return VM_FAULT_FALLBACK;  // transhuge_vma_suitable
  if (anon_vma_prepare(*anon_vmas_, vma, t->cpu, cost) != 0) return VM_FAULT_OOM;
  mm_struct& mm = *t->mm;
  if (!(vmf.flags & FAULT_FLAG_WRITE) && params_.thp.use_zero_page) {
    if (!huge_zero_page_) {  // get_huge_zero_page: allocated at the first use, kept
      huge_zero_page_ = pm_.alloc_pages(t->cpu, (GFP_TRANSHUGE | __GFP_ZERO) & ~__GFP_MOVABLE, HPAGE_PMD_ORDER,
                                        NodeId(NUMA_NO_NODE), nullptr, cost);
      if (!huge_zero_page_) {
        pm_.count_vm_events(t->cpu, THP_ZERO_PAGE_ALLOC_FAILED);
        pm_.count_vm_events(t->cpu, THP_FAULT_FALLBACK);
        return VM_FAULT_FALLBACK;
      }
      huge_zero_page_->set(PG_reserved);
      huge_zero_phys_ = pm_.page_to_phys(huge_zero_page_);
      pm_.count_vm_events(t->cpu, THP_ZERO_PAGE_ALLOC);
    }
    pgtables_.set_entry(t->cpu, vmf.pmd, make_pte(huge_zero_phys_, vma.vm_flags, false) | _PAGE_PSE | _PAGE_SPECIAL,
                        cost);
    return 0;
  }
  mempolicy* pol = const_cast<mempolicy*>(effective_policy(t, &vma));
  page* head = alloc_thp_for(pm_, t->cpu, thp_gfp_mask(vma, false), pol, vma.pgoff_of(haddr) >> HPAGE_PMD_ORDER,
                             cpu_to_node(t->cpu), cost);
  if (!head) {
    pm_.count_vm_events(t->cpu, THP_FAULT_FALLBACK);
    NUMASIM_TRACE(thp, platform_.now(t->cpu), t->cpu.value(), "thp_fault_fallback pid=%d addr=%#llx", t->pid,
                  static_cast<unsigned long long>(haddr));
    return VM_FAULT_FALLBACK;
  }
  if (mem_cgroup_charge(head, &mm, thp_gfp_mask(vma, false), cost)) {  // over memory.max: small pages instead
    pm_.free_pages(t->cpu, head, HPAGE_PMD_ORDER, cost);
    pm_.count_vm_events(t->cpu, THP_FAULT_FALLBACK);
    pm_.count_vm_events(t->cpu, THP_FAULT_FALLBACK_CHARGE);
    return VM_FAULT_FALLBACK;
  }
  const PhysAddr phys = pm_.page_to_phys(head);
  cost.add_memory(platform_.kernel_write(t->cpu, phys, Bytes(HPAGE_PMD_SIZE)));  // clear_huge_page
  page_tokens_.clear(phys >> kPageShift, HPAGE_PMD_ORDER);
  prep_anon_thp(head, vma, haddr);
  const NodeId nid = pm_.page_to_nid(head);
  pm_.mod_node_page_state(nid, NR_ANON_MAPPED, static_cast<long>(HPAGE_PMD_NR));
  pm_.mod_node_page_state(nid, NR_ANON_THPS, static_cast<long>(HPAGE_PMD_NR));
  mm.add_mm_counter(MM_ANONPAGES, static_cast<long>(HPAGE_PMD_NR));
  pgtables_.set_entry(t->cpu, vmf.pmd, make_pte(phys, vma.vm_flags, (vma.vm_flags & VM_WRITE) != 0) | _PAGE_PSE, cost);
  lru_cache_add(head, t->cpu);  // folio_add_lru_vma: one folio of 512 pages on the inactive anon list
  pm_.count_vm_events(t->cpu, THP_FAULT_ALLOC);
  count_memcg_events(mm.memcg_id, MEMCG_THP_FAULT_ALLOC);
  NUMASIM_TRACE(thp, platform_.now(t->cpu), t->cpu.value(), "thp_fault_alloc pid=%d addr=%#llx node=%d", t->pid,
                static_cast<unsigned long long>(haddr), nid.value());
  return 0;
}

// A fault on a present huge PMD: do_huge_pmd_wp_page for a write to a
// read-only one, else huge_pmd_set_accessed.
vm_fault_t Kernel::do_huge_pmd_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pmd,
                                     unsigned flags, KernelCost& cost) {
  const pteval_t v = pmd.value();
  const VirtAddr haddr = addr & ~(HPAGE_PMD_SIZE - 1);
  if (pte_protnone(v)) return do_huge_pmd_numa_page(t, vma, addr, pmd, flags, cost);  // a NUMA hint
  if (!pte_present(v)) thp_bug("fault on a non-present huge PMD of an accessible VMA", addr);
  const bool write = flags & FAULT_FLAG_WRITE;
  if (!write || pte_write(v)) {
    pgtables_.set_pte_bits(pmd.addr, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0));
    return 0;
  }
  if (!(v & _PAGE_SPECIAL)) {
    page* head = pm_.phys_to_page(pte_phys(v));
    if (entire_mapcount(head) == 1 && head->_refcount == 1) {  // exclusive: reuse in place
      if (vma.anon_vma)
        for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) head[i].owner = vma.anon_vma->id;  // page_move_anon_rmap
      pgtables_.set_entry(t->cpu, pmd, v | _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED, cost);
      return 0;
    }
  }
  // The huge zero page or a THP shared after fork: split and let the PTE path copy.
  if (!__split_huge_pmd(t->cpu, vma, pmd, haddr, cost)) return VM_FAULT_OOM;
  return VM_FAULT_FALLBACK;
}

// ---------------------------------------------------------------------------
// Split
// ---------------------------------------------------------------------------

bool Kernel::__split_huge_pmd(CpuId cpu, vm_area_struct& vma, const PteRef& pmd, VirtAddr haddr, KernelCost& cost) {
  mm_struct& mm = *vma.vm_mm;
  const pteval_t v = pmd.value();
  if (!pte_huge(v) || (haddr & (HPAGE_PMD_SIZE - 1))) thp_bug("split of a PMD that is not a huge leaf", haddr);
  pm_.count_vm_events(cpu, THP_SPLIT_PMD);
  NUMASIM_TRACE(thp, platform_.now(cpu), cpu.value(), "thp_split_pmd mm=%u addr=%#llx%s", mm.mm_id,
                static_cast<unsigned long long>(haddr), (v & _PAGE_SPECIAL) ? " (huge zero page)" : "");
  // The table is the mm's: charge its page-table bytes to a task of that mm.
  task_struct* owner = nullptr;
  if (ctx_.task && ctx_.task->mm == &mm) owner = ctx_.task;
  for (auto it = tasks_.begin(); !owner && it != tasks_.end(); ++it)
    if (!it->second->exited && it->second->mm == &mm) owner = it->second.get();
  KernelEntryGuard guard(ctx_, owner, cpu, cost, false);
  pgtables_.set_entry(cpu, pmd, 0, cost);  // pmdp_invalidate
  const PteRef pte0 = pgtables_.walk_alloc(cpu, mm.pgd, haddr, PTE_LEVEL, cost);
  if (!pte0 || pte0.level != PTE_LEVEL) {
    pgtables_.set_entry(cpu, pmd, v, cost);
    return false;
  }
  const PhysAddr frame = pte0.addr & ~(kPageSize - 1);
  unsigned used = 0;
  pteval_t* e = pgtables_.table_entries(frame, &used);
  const bool zero = v & _PAGE_SPECIAL;
  const PhysAddr phys = pte_phys(v);
  const pteval_t bits = v & ~(PTE_PFN_MASK | _PAGE_PSE);
  for (unsigned i = 0; i < PTRS_PER_TABLE; ++i)
    pgtables_.set_entry(cpu, PteRef{frame + 8ull * i, &e[i], PTE_LEVEL},
                        bits | (zero ? zero_page_phys() : phys + (static_cast<PhysAddr>(i) << kPageShift)), cost);
  if (!zero) {
    page* head = pm_.phys_to_page(phys);
    const int entire = entire_mapcount(head) - 1;
    if (entire < 0) thp_bug("split of a PMD the THP does not count", phys);
    set_entire_mapcount(head, entire);
    for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) ++head[i].mapcount;
    head->_refcount += static_cast<int>(HPAGE_PMD_NR) - 1;
    if (entire == 0) pm_.mod_node_page_state(pm_.page_to_nid(head), NR_ANON_THPS, -static_cast<long>(HPAGE_PMD_NR));
  }
  flush_tlb_range(cpu, mm, haddr, haddr + HPAGE_PMD_SIZE, cost);
  return true;
}

bool Kernel::split_huge_pmd_address(CpuId cpu, vm_area_struct& vma, VirtAddr addr, KernelCost& cost) {
  if (vma.is_hugetlb() || !(addr & (HPAGE_PMD_SIZE - 1))) return true;
  const PteRef r = pgtables_.walk(vma.vm_mm->pgd, addr, PMD_LEVEL);
  if (!r || r.level != PMD_LEVEL || !pte_huge(r.value())) return true;
  return __split_huge_pmd(cpu, vma, r, addr & ~(HPAGE_PMD_SIZE - 1), cost);
}

// All-or-nothing: the page tables the splits need are taken first (ENOMEM and
// no change when one cannot be had), then the splits cannot fail.
bool Kernel::thp_split_range_edges(CpuId cpu, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost) {
  std::vector<std::pair<vm_area_struct*, VirtAddr>> todo;
  for (VirtAddr a : {start, end}) {
    vm_area_struct* v = vma_lookup(mm, a);
    if (!v || v->is_hugetlb() || !(a & (HPAGE_PMD_SIZE - 1))) continue;
    const PteRef r = pgtables_.walk(mm.pgd, a, PMD_LEVEL);
    if (!r || r.level != PMD_LEVEL || !pte_huge(r.value())) continue;
    if (!todo.empty() && (todo[0].second & ~(HPAGE_PMD_SIZE - 1)) == (a & ~(HPAGE_PMD_SIZE - 1))) continue;
    todo.push_back({v, a});
  }
  if (todo.empty()) return true;
  std::vector<PhysAddr> frames;
  for (std::size_t i = 0; i < todo.size(); ++i) {
    auto f = alloc_pgtable_frame(cpu, cost);
    if (!f) {
      for (PhysAddr fr : frames) free_pgtable_frame(cpu, fr, cost);
      return false;
    }
    frames.push_back(*f);
  }
  staged_pgtables_ = frames;
  for (const auto& [v, a] : todo)
    if (!split_huge_pmd_address(cpu, *v, a, cost)) thp_bug("split with a staged page table failed", a);
  for (PhysAddr fr : staged_pgtables_) free_pgtable_frame(cpu, fr, cost);
  staged_pgtables_.clear();
  return true;
}

// ---------------------------------------------------------------------------
// Reverse map of THPs
// ---------------------------------------------------------------------------

void Kernel::page_remove_rmap_pmd(CpuId cpu, mm_struct& mm, page* head, KernelCost& cost) {
  const int entire = entire_mapcount(head) - 1;
  if (entire < 0 || !PageTransHuge(head)) thp_bug("removing a PMD mapping the THP does not count", pm_.page_to_pfn(head).value());
  set_entire_mapcount(head, entire);
  mm.add_mm_counter(MM_ANONPAGES, -static_cast<long>(HPAGE_PMD_NR));
  const NodeId nid = pm_.page_to_nid(head);
  if (entire == 0) {
    pm_.mod_node_page_state(nid, NR_ANON_THPS, -static_cast<long>(HPAGE_PMD_NR));
    long unmapped = 0;
    for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) unmapped += head[i].mapcount == 0;
    pm_.mod_node_page_state(nid, NR_ANON_MAPPED, -unmapped);
    if (unmapped && unmapped < static_cast<long>(HPAGE_PMD_NR)) deferred_split_huge_page(head);
  }
  if (--head->_refcount == 0) free_transhuge_page(cpu, head, cost);
}

void Kernel::page_remove_rmap_thp_pte(CpuId cpu, mm_struct& mm, page* sub, KernelCost& cost) {
  page* head = thp_head(sub);
  if (sub->mapcount <= 0) thp_bug("removing a PTE mapping of an unmapped subpage", pm_.page_to_pfn(sub).value());
  --sub->mapcount;
  mm.add_mm_counter(MM_ANONPAGES, -1);
  const bool now_unmapped = sub->mapcount == 0 && entire_mapcount(head) == 0;
  if (now_unmapped) pm_.mod_node_page_state(pm_.page_to_nid(head), NR_ANON_MAPPED, -1);
  if (--head->_refcount == 0)
    free_transhuge_page(cpu, head, cost);
  else if (now_unmapped)
    deferred_split_huge_page(head);
}

void Kernel::free_transhuge_page(CpuId cpu, page* head, KernelCost& cost) {
  lru_page_release(head);  // __page_cache_release: off its list (all 512 pages)
  if (head->spare & kDeferredSplitBit) --deferred_split_len_[static_cast<std::size_t>(pm_.page_to_nid(head).value())];
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    page* sub = head + i;
    if (sub->mapcount != 0) thp_bug("freeing a THP with a mapped subpage", pm_.page_to_pfn(sub).value());
    sub->clear(PG_anon);
    sub->clear(PG_swapbacked);
    sub->clear(PG_dirty);
    sub->owner = 0;
  }
  head->spare = 0;
  head->_refcount = 1;
  pm_.free_pages(cpu, head, HPAGE_PMD_ORDER, cost);
}

bool Kernel::thp_subpage_exclusive(const page* sub) const {
  return sub->mapcount + entire_mapcount(thp_head(sub)) <= 1;
}

// deferred_split_folio: a THP partly unmapped, to be split under memory pressure.
void Kernel::deferred_split_huge_page(page* head) {
  if (head->spare & kDeferredSplitBit) return;
  head->spare |= kDeferredSplitBit;
  const auto nid = static_cast<std::size_t>(pm_.page_to_nid(head).value());
  deferred_split_queue_[nid].push_back(pm_.page_to_pfn(head).value());
  ++deferred_split_len_[nid];
  pm_.count_vm_events(first_cpu(kthreads_->cpumask_of_node(NodeId(static_cast<int>(nid)))), THP_DEFERRED_SPLIT_PAGE);
}

unsigned long Kernel::deferred_split_count(NodeId nid) const {
  const auto n = static_cast<std::size_t>(nid.value());
  return n < deferred_split_len_.size() ? deferred_split_len_[n] : 0;
}

unsigned long Kernel::deferred_split_scan(NodeId nid, unsigned long nr, KernelCost& cost) {
  const auto n = static_cast<std::size_t>(nid.value());
  if (n >= deferred_split_queue_.size()) return 0;
  auto& q = deferred_split_queue_[n];
  const CpuId cpu = first_cpu(kthreads_->cpumask_of_node(nid));
  unsigned long split = 0;
  std::deque<std::uint64_t> retry;
  while (split < nr && !q.empty()) {
    page* head = pm_.pfn_to_page(Pfn(q.front()));
    q.pop_front();
    if (!(head->spare & kDeferredSplitBit) || !PageTransHuge(head)) continue;  // freed or already split
    head->spare &= ~kDeferredSplitBit;
    --deferred_split_len_[n];
    if (split_huge_page(head, cpu, cost)) {
      ++split;
    } else {
      head->spare |= kDeferredSplitBit;
      ++deferred_split_len_[n];
      retry.push_back(pm_.page_to_pfn(head).value());
    }
  }
  for (std::uint64_t pfn : retry) q.push_back(pfn);
  return split;
}

// split_huge_page_to_list. The head's LRU place passes to the mapped subpages
// (lru_add_page_tail): on the head's list next to it when the head was on one,
// onto `list` with a reference each when the head is isolated there (reclaim),
// else through the lru_add batch. An isolated head keeps its isolation
// reference (it is the caller's, even when no mapping is left).
bool Kernel::split_huge_page(page* head, CpuId cpu, KernelCost& cost) {
  return split_huge_page_to_list(head, cpu, cost, nullptr);
}

bool Kernel::split_huge_page_to_list(page* head, CpuId cpu, KernelCost& cost, PageList* list) {
  if (!PageTransHuge(head)) return false;
  // unmap_folio(TTU_SPLIT_HUGE_PMD): every PMD mapping becomes PTEs first.
  std::vector<RmapMapping> pmds;
  rmap_walk(head, cpu, cost, [&](const RmapMapping& m) {
    if (m.pte.level == PMD_LEVEL) pmds.push_back(m);
    return true;
  });
  // Reclaim's split (a list given) allocates the PTE tables of its PMD splits, and that
  // allocation may enter direct reclaim, which may meet another THP: that nested split fails
  // (the THP is kept) instead of recursing without bound. Linux needs no allocation here (the
  // table deposited at fault time, pgtable_trans_huge_withdraw) and its reclaim does not
  // recurse (PF_MEMALLOC).
  // (The depth is only non-zero during such a split: one counter serves every Kernel.)
  static int reclaim_split_depth_ = 0;
  if (list && !pmds.empty() && reclaim_split_depth_ > 0) {
    pm_.count_vm_events(cpu, THP_SPLIT_PAGE_FAILED);
    return false;
  }
  if (list) ++reclaim_split_depth_;
  for (const RmapMapping& m : pmds)
    if (!__split_huge_pmd(cpu, *m.vma, m.pte, m.addr, cost)) {
      if (list) --reclaim_split_depth_;
      pm_.count_vm_events(cpu, THP_SPLIT_PAGE_FAILED);
      return false;
    }
  if (list) --reclaim_split_depth_;
  if (entire_mapcount(head) != 0) thp_bug("THP still PMD-mapped after its PMDs were split", pm_.page_to_pfn(head).value());
  // The head leaves its list (or batch) as a 512-page folio; its flags pass to the subpages.
  const bool isolated = list != nullptr;
  const bool was_lru = !isolated && head->test(PG_lru);
  if (was_lru) {  // (a THP never waits in an lru_add batch: lru_cache_add drains a large folio at once)
    del_page_from_lru_list(pm_, head);
    head->clear(PG_lru);
  }
  constexpr std::uint32_t kPassed = (1u << PG_active) | (1u << PG_referenced) | (1u << PG_workingset) |
                                    (1u << PG_unevictable) | (1u << PG_dirty);
  const std::uint32_t passed = head->flags & kPassed;
  // __split_huge_page: 512 small pages, each with its own mappings' references.
  if (head->spare & kDeferredSplitBit) --deferred_split_len_[static_cast<std::size_t>(pm_.page_to_nid(head).value())];
  head->spare = 0;
  head->order = 0;
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    page* sub = head + i;
    sub->clear(PG_head);
    sub->clear(PG_tail);
    sub->private_ = 0;
    sub->memcg_id = head->memcg_id;  // split_page_memcg: each subpage carries one page of the charge
    sub->_refcount = sub->mapcount;
    if (i) sub->flags |= passed;
  }
  page* const mem_map = pm_.pfn_to_page(Pfn(0));
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    page* sub = head + i;
    if (isolated && i == 0) {
      ++sub->_refcount;  // the caller's isolation reference stays on the head
      continue;
    }
    if (sub->mapcount) {
      if (isolated) {
        ++sub->_refcount;  // lru_add_page_tail onto the reclaim list, isolated like the head
        list_add(mem_map, *list, sub);
      } else if (was_lru) {
        sub->set(PG_lru);
        add_page_to_lru_list(pm_, sub);
      } else {
        lru_cache_add(sub, cpu);
      }
      continue;
    }
    sub->flags &= ~kPassed;
    sub->clear(PG_anon);
    sub->clear(PG_swapbacked);
    sub->owner = 0;
    sub->_refcount = 1;
    pm_.free_pages(cpu, sub, 0, cost);
  }
  pm_.count_vm_events(cpu, THP_SPLIT_PAGE);
  NUMASIM_TRACE(thp, platform_.now(cpu), cpu.value(), "thp_split_page pfn=%#llx",
                static_cast<unsigned long long>(pm_.page_to_pfn(head).value()));
  return true;
}

// ---------------------------------------------------------------------------
// Migration
// ---------------------------------------------------------------------------

// migrate_pages for a THP (Linux 6.1 with CONFIG_ARCH_ENABLE_THP_MIGRATION):
// moved whole when it is only PMD-mapped (thp_migration_success), else split
// and the named subpage moved (thp_migration_split); a huge allocation that
// fails counts thp_migration_fail.
int Kernel::migrate_thp(task_struct* t, page* head, page* sub, int nid, KernelCost& cost) {
  const CpuId cpu = t->cpu;
  if (pm_.page_to_nid(head).value() == nid) return nid;
  const std::vector<RmapMapping> maps = thp_pmd_mappings(head, cpu, cost);
  if (!maps.empty()) return migrate_thp_whole(head, maps, nid, GFP_TRANSHUGE_LIGHT | __GFP_THISNODE, nullptr, cpu, cost);
  // PTE-mapped (or mapped where the reverse map cannot see): split, then the subpage.
  pm_.count_vm_events(cpu, THP_MIGRATION_SPLIT);
  if (!split_huge_page(head, cpu, cost)) {
    pm_.count_vm_events(cpu, PGMIGRATE_FAIL);
    return -ENOMEM;
  }
  if (sub->mapcount == 0) return -ENOENT;
  return unmap_and_move(sub, nid, t, cost);
}


// The PMD mappings of a THP that no PTE maps (all of them: entire_mapcount
// found by the reverse map), else none.
std::vector<Kernel::RmapMapping> Kernel::thp_pmd_mappings(page* head, CpuId cpu, KernelCost& cost) {
  std::vector<RmapMapping> maps;
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i)
    if (head[i].mapcount != 0) return maps;
  rmap_walk(head, cpu, cost, [&](const RmapMapping& m) {
    if (m.pte.level == PMD_LEVEL) maps.push_back(m);
    return true;
  });
  if (maps.empty() || static_cast<int>(maps.size()) != entire_mapcount(head)) maps.clear();
  return maps;
}

// The whole-THP move (migrate_pages of a PMD-mapped folio with a PMD migration
// entry per mapping, here a cleared PMD while the copy runs, nothing running in
// between): the entries keep their bits (a PROT_NONE hint stays one).
int Kernel::migrate_thp_whole(page* head, const std::vector<RmapMapping>& maps, int nid, gfp_t gfp,
                              const nodemask_t* allowed, CpuId cpu, KernelCost& cost) {
  page* np = pm_.alloc_pages(cpu, gfp, HPAGE_PMD_ORDER, NodeId(nid), nullptr, cost);
  if (!np && allowed) np = pm_.alloc_pages(cpu, gfp & ~__GFP_THISNODE, HPAGE_PMD_ORDER, NodeId(nid), allowed, cost);
  if (!np) {
    pm_.count_vm_events(cpu, THP_MIGRATION_FAIL);
    pm_.count_vm_events(cpu, PGMIGRATE_FAIL, HPAGE_PMD_NR);
    return -ENOMEM;
  }
  const int new_nid = pm_.page_to_nid(np).value();
  cost.add_cycles(params_.costs.migrate_page_cycles);
  const PhysAddr old_phys = pm_.page_to_phys(head), new_phys = pm_.page_to_phys(np);
  std::vector<pteval_t> old_entries;
  for (const RmapMapping& m : maps) {  // set_pmd_migration_entry, here a cleared PMD
    old_entries.push_back(m.pte.value());
    pgtables_.set_entry(cpu, m.pte, 0, cost);
    flush_tlb_range(cpu, *m.vma->vm_mm, m.addr, m.addr + HPAGE_PMD_SIZE, cost);
  }
  cost.add_memory(platform_.kernel_copy(cpu, new_phys, old_phys, Bytes(HPAGE_PMD_SIZE)));  // folio_copy
  page_tokens_.copy(new_phys >> kPageShift, old_phys >> kPageShift, HPAGE_PMD_ORDER);
  for (unsigned long i = 0; i < HPAGE_PMD_NR; ++i) {
    np[i].flags |= head[i].flags & ((1u << PG_anon) | (1u << PG_swapbacked) | (1u << PG_dirty));
    np[i].owner = head[i].owner;
    np[i].index = head[i].index;
    np[i].mapcount = 0;
  }
  np->spare = 0;
  np->last_cpupid = head->last_cpupid;  // folio_migrate_flags: page_cpupid_xchg_last
  set_entire_mapcount(np, entire_mapcount(head));
  np->_refcount = entire_mapcount(head);
  const NodeId old_nid = pm_.page_to_nid(head);
  for (node_stat_item item : {NR_ANON_MAPPED, NR_ANON_THPS}) {
    pm_.mod_node_page_state(old_nid, item, -static_cast<long>(HPAGE_PMD_NR));
    pm_.mod_node_page_state(NodeId(new_nid), item, static_cast<long>(HPAGE_PMD_NR));
  }
  for (std::size_t i = 0; i < maps.size(); ++i)  // remove_migration_pmd
    pgtables_.set_entry(cpu, maps[i].pte, (old_entries[i] & ~PTE_PFN_MASK) | new_phys, cost);
  set_entire_mapcount(head, 0);
  if (head->spare & kDeferredSplitBit) {
    --deferred_split_len_[static_cast<std::size_t>(old_nid.value())];
    head->spare &= ~kDeferredSplitBit;
  }
  np->flags |= head->flags & ((1u << PG_active) | (1u << PG_referenced) | (1u << PG_workingset));
  np->memcg_id = head->memcg_id;  // mem_cgroup_migrate: the charge moves with the contents
  head->memcg_id = kRootMemcgId;
  free_transhuge_page(cpu, head, cost);
  lru_cache_add(np, cpu);
  pm_.count_vm_events(cpu, THP_MIGRATION_SUCCESS);
  pm_.count_vm_events(cpu, PGMIGRATE_SUCCESS, HPAGE_PMD_NR);
  return new_nid;
}

// do_huge_pmd_numa_page (mm/huge_memory.c): the PMD is made present again with
// its saved write bit, numa_migrate_prep decides (the head page's last_cpupid
// or, in MEMORY_TIERING mode, its scan time), migrate_misplaced_page moves the
// THP whole (never split on a hint fault: Linux's nosplit for
// MR_NUMA_MISPLACED; a THP mapped by several processes is not migrated), and
// task_numa_fault records HPAGE_PMD_NR pages.
vm_fault_t Kernel::do_huge_pmd_numa_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pmd,
                                         unsigned flags, KernelCost& cost) {
  (void)flags;
  const pteval_t old = pmd.value();
  const unsigned long f = vma.vm_flags;
  const bool was_writable = (old & _PAGE_RW) && (f & VM_WRITE);  // pmd_savedwrite
  pteval_t n = (old & (PTE_PFN_MASK | _PAGE_DIRTY | _PAGE_SPECIAL | _PAGE_PSE)) | _PAGE_PRESENT | _PAGE_USER |
               _PAGE_ACCESSED;
  if (!(f & VM_EXEC)) n |= _PAGE_NX;
  if (was_writable && !(old & _PAGE_SPECIAL)) n |= _PAGE_RW;
  pgtables_.set_entry(t->cpu, pmd, n, cost);
  if (!numab_->enabled() || !t->numa || (old & _PAGE_SPECIAL)) return 0;
  page* head = pm_.phys_to_page(pte_phys(old));
  int tnf = 0;
  if (!was_writable) tnf |= TNF_NO_GROUP;
  int page_nid = pm_.page_to_nid(head).value();
  const int last_cpupid = numab_->fault_last_cpupid(head, page_nid);
  const int target_nid = numab_->numa_migrate_prep(t, head, page_nid, effective_policy(t, &vma) == nullptr, tnf);
  if (target_nid >= 0) {
    const int cpupid = page_cpupid_last(head);
    if (numab_->migrate_misplaced_page(t, head, target_nid, cost)) {
      page_nid = target_nid;
      tnf |= TNF_MIGRATED;
      if (auto now = follow_page(*t->mm, addr & ~(HPAGE_PMD_SIZE - 1), FOLL_NUMA); now && now->pg)
        page_cpupid_xchg_last(now->pg, cpupid);
    } else {
      tnf |= TNF_MIGRATE_FAIL;
    }
  }
  numab_->task_numa_fault(t, last_cpupid, page_nid, static_cast<int>(HPAGE_PMD_NR), tnf);
  return 0;
}

}  // namespace numasim::os
