// os::Kernel construction, tasks and address-space lifetime (kernel/fork.c
// mm_alloc / copy_process, kernel/exit.c, mm/mmap.c exit_mmap), the page-table
// frame source and follow_page. See kernel.h.
#include "os/kernel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "os/gfp.h"
#include "os/mempolicy.h"
#include "os/mmap.h"

namespace numasim::os {

namespace {
constexpr VirtAddr kStartBrk = 0x0000555555560000ull;  // after a PIE binary at the usual base, no ASLR
}

Kernel::Kernel(const Topology& topo, const KernelParams& params, Platform& platform)
    : topo_(topo),
      params_(params),
      platform_(platform),
      pm_(topo, params.phys, platform),
      pgtables_(platform, *this, PgtableParams{params.pgtable_levels, params.costs.pte_update_cycles}) {
  pm_.set_alloc_hooks(this);  // the slow path's kswapd/compaction/reclaim/OOM partner
  pm_.set_node_reclaim_enabled(params_.reclaim.zone_reclaim_mode & 7);  // node_reclaim_enabled()
  pm_.set_page_tokens(&page_tokens_);  // __GFP_ZERO clears page identity tokens
  mems_allowed_ = pm_.node_states_memory();
  node_order_.resize(pm_.nr_node_ids());
  for (int n = 0; n < pm_.nr_node_ids(); ++n) node_order_[n] = pm_.node_order(NodeId(n));
  hugetlb_ = std::make_unique<HugetlbPool>(
      pm_, HugetlbParams{{params_.nr_hugepages_node, params_.nr_hugepages_1g_node},
                         params_.nr_overcommit_hugepages,
                         params_.hugepagesz_1g},
      node_order_, CpuId(0));
  // empty_zero_page: one reserved kernel page on the boot node.
  KernelCost boot;
  zero_page_ = pm_.alloc_pages(CpuId(0), GFP_KERNEL | __GFP_ZERO, 0, NodeId(0), nullptr, boot);
  if (!zero_page_) {
    std::fprintf(stderr, "numasim: no memory for the zero page\n");
    std::abort();
  }
  zero_page_->set(PG_reserved);
  zero_pfn_ = pm_.page_to_pfn(zero_page_).value();
  // kmem_cache_init + proc_caches_init & co.
  slub_ = std::make_unique<Slub>(pm_, params_.slub);
  caches_ = std::make_unique<KernelCaches>(*slub_, params_.caches);
  install_kmem_accounting();  // memcontrol.cpp: SLAB_ACCOUNT objects charged to memory cgroups
  anon_vmas_ = std::make_unique<AnonVmas>(*caches_);
  kmemleak_ = std::make_unique<Kmemleak>(*slub_);
  register_kmemleak_roots();
  lru_add_.resize(static_cast<std::size_t>(pm_.nr_cpu_ids()));  // the per-CPU lru_add batches
  install_kswapd();                                             // kswapd<N> runs balance_pgdat (vmscan.cpp)
  thp_init();  // huge_memory.cpp: deferred split queues, khugepaged's threadfn
  compaction_ = std::make_unique<Compaction>(*this, params_.compaction);
  compaction_->install_kcompactd();
  memory_tiers_init();  // memory_tiers.cpp: tiers and demotion targets
  // swapon of the configured areas (as an init script would).
  swap_ = std::make_unique<Swap>(*this, params_.swap);
  for (const SwapAreaParams& a : params_.swap.areas) {
    const long r = swap_->swapon(a, boot);
    if (r < 0)
      throw std::invalid_argument((a.origin.empty() ? "" : a.origin + ": error: ") + "[[os.swap]] swapon " + a.name +
                                  " failed: " + std::strerror(static_cast<int>(-r)) +
                                  (a.device == SwapDevice::Zram ? " (is node " + std::to_string(a.node) +
                                                                      " a node with memory?)"
                                                                : " (does it fit the block device?)"));
  }
  // The file system with its [[os.file]] files, the page cache and the flusher's work (os/fs.h).
  fs_ = std::make_unique<FileSystem>(*this, params_.fs);
  shmem_ = std::make_unique<Shmem>(*this);
}

long Kernel::sys_swapon(const SwapAreaParams& area, KernelCost& cost) {
  syscall_cost(cost);
  return swap_->swapon(area, cost);
}

long Kernel::sys_swapoff(const std::string& name, CpuId cpu, KernelCost& cost) {
  syscall_cost(cost);
  return swap_->swapoff(name, cpu, cost);
}

Kernel::~Kernel() {
  for (auto& [pid, t] : tasks_)
    if (!t->exited) exit_task(t.get());
  KernelCost c0;
  for (auto& [pid, t] : tasks_) caches_->free_task_struct(t->cpu, t->task_obj, c0);
  tasks_.clear();
  mms_.clear();
  kmemleak_.reset();
  anon_vmas_.reset();
  caches_.reset();
  slub_.reset();
  hugetlb_.reset();
  KernelCost c;
  if (huge_zero_page_) {  // put_huge_zero_page
    huge_zero_page_->clear(PG_reserved);
    pm_.free_pages(CpuId(0), huge_zero_page_, HPAGE_PMD_ORDER, c);
  }
  zero_page_->clear(PG_reserved);
  pm_.free_pages(CpuId(0), zero_page_, 0, c);
}

// pagetable_alloc(GFP_PGTABLE_USER): the context task's policy applies (as
// alloc_pages does outside interrupts), so by default the frame comes from the
// node of the CPU the task faults on. The allocator's slow path may OOM-kill
// when the context allows it (a fault).
std::optional<PhysAddr> Kernel::alloc_pgtable_frame(CpuId cpu, KernelCost& cost) {
  if (!staged_pgtables_.empty()) {  // taken (and accounted) beforehand by thp_split_range_edges
    const PhysAddr frame = staged_pgtables_.back();
    staged_pgtables_.pop_back();
    return frame;
  }
  task_struct* const cur = ctx_.task;
  mempolicy* pol = cur ? cur->mempolicy.get() : nullptr;
  page* pg = pol ? alloc_pages_mpol(pm_, cpu, GFP_PGTABLE_USER, 0, pol, NO_INTERLEAVE_INDEX, cost)
                 : pm_.alloc_pages(cpu, GFP_PGTABLE_USER, 0, cpu_to_node(cpu), nullptr, cost);
  if (!pg) return std::nullopt;
  // __memcg_kmem_charge_page (GFP_PGTABLE_USER is __GFP_ACCOUNT): the cgroup may be at memory.max.
  if (memcg_kmem_charge_pgtable(pg, GFP_PGTABLE_USER, cost)) {
    pm_.free_pages(cpu, pg, 0, cost);
    return std::nullopt;
  }
  // pagetable_pte_ctor / pmd_ptlock_init: a split page-table lock object.
  const PhysAddr ptl = caches_->ptlock_alloc(cpu, cost, AllocSite::tag("ptlock_alloc"));
  if (!ptl) {
    memcg_kmem_uncharge_pgtable(pg, cpu);
    pm_.free_pages(cpu, pg, 0, cost);
    return std::nullopt;
  }
  pg->set(PG_pgtable);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_PAGETABLE, 1);
  if (cur) cur->mm->pgtables_bytes += kPageSize;
  const PhysAddr frame = pm_.page_to_phys(pg);
  if (ptl > 1) ptlocks_.emplace(frame, ptl);
  return frame;
}

void Kernel::free_pgtable_frame(CpuId cpu, PhysAddr frame, KernelCost& cost) {
  if (auto it = ptlocks_.find(frame); it != ptlocks_.end()) {
    caches_->ptlock_free(cpu, it->second, cost);  // pagetable_dtor's ptlock_free
    ptlocks_.erase(it);
  }
  page* pg = pm_.phys_to_page(frame);
  memcg_kmem_uncharge_pgtable(pg, cpu);  // __memcg_kmem_uncharge_page from free_pages_prepare
  pg->clear(PG_pgtable);
  pm_.mod_node_page_state(pm_.page_to_nid(pg), NR_PAGETABLE, -1);
  if (ctx_.task) ctx_.task->mm->pgtables_bytes -= kPageSize;
  pm_.free_pages(cpu, pg, 0, cost);
}

task_struct* Kernel::create_task(std::string comm, CpuId cpu, CpuMask allowed) {
  KernelCost cost;
  return create_task(std::move(comm), cpu, allowed, cost);
}

task_struct* Kernel::create_thread(task_struct* leader, CpuId cpu) {
  KernelCost cost;
  return create_thread(leader, cpu, cost);
}

// copy_process + mm_alloc (exec's fresh mm): task_struct on the CPU's node
// (alloc_task_struct_node), mm_struct, then the PGD; on any failure what was
// taken is given back and nothing changed.
task_struct* Kernel::create_task(std::string comm, CpuId cpu, CpuMask allowed, KernelCost& cost) {
  const PhysAddr tobj = caches_->alloc_task_struct_node(cpu, cpu_to_node(cpu).value(), cost, AllocSite::tag("dup_task_struct"));
  if (!tobj) return nullptr;
  const PhysAddr mobj = caches_->mm_alloc(cpu, cost, AllocSite::tag("mm_alloc"));
  if (!mobj) {
    caches_->free_task_struct(cpu, tobj, cost);
    return nullptr;
  }
  auto mm = std::make_unique<mm_struct>();
  mm->mm_obj = mobj;
  mm->task_size = params_.pgtable_levels == 5 ? TASK_SIZE_5LEVEL : TASK_SIZE_4LEVEL;
  // mmap_base(): TASK_SIZE minus the minimum gap left for the stack, no randomisation.
  mm->mmap_base = page_align(std::min<VirtAddr>(mm->task_size, DEFAULT_MAP_WINDOW) - MMAP_MIN_GAP);
  mm->start_brk = mm->brk = kStartBrk;
  mm->mm_users = 1;
  mm->cpumask.set(static_cast<std::size_t>(cpu.value()));

  auto t = std::make_unique<task_struct>();
  t->task_obj = tobj;
  t->comm = std::move(comm);
  t->cpu = cpu;
  t->cpus_allowed = allowed.any() ? allowed : CpuMask().set();
  t->mm = mm.get();

  std::optional<PhysAddr> pgd;
  {
    KernelEntryGuard ctx_guard(ctx_, t.get(), cpu, cost, false);
    pgd = pgtables_.pgd_alloc(cpu, cost);
  }
  if (!pgd) {  // fork fails with ENOMEM
    caches_->mm_free(cpu, mobj, cost);
    caches_->free_task_struct(cpu, tobj, cost);
    return nullptr;
  }
  t->pid = t->tgid = next_pid_++;
  mm->asid = next_asid_;
  next_asid_ = static_cast<Asid>(next_asid_ % 4095 + 1);  // PCIDs 1..4095
  mm->mm_id = next_mm_id_++;
  mm->pgd = *pgd;
  mm->pgd_node = topo_.phys_node(*pgd);
  mms_.push_back(std::move(mm));
  task_struct* raw = t.get();
  tasks_.emplace(raw->pid, std::move(t));
  ++live_tasks_;
  numab_->init_task(raw);  // init_numa_balancing
  return raw;
}

task_struct* Kernel::create_thread(task_struct* leader, CpuId cpu, KernelCost& cost) {
  if (leader->exited) return nullptr;
  const PhysAddr tobj = caches_->alloc_task_struct_node(cpu, cpu_to_node(cpu).value(), cost, AllocSite::tag("dup_task_struct"));
  if (!tobj) return nullptr;
  std::shared_ptr<mempolicy> pol;
  if (leader->mempolicy) {
    pol = mpol_object_new(*leader->mempolicy, cpu, cost, AllocSite::tag("mpol_dup"));  // copy_process: mpol_dup
    if (!pol) {
      caches_->free_task_struct(cpu, tobj, cost);
      return nullptr;
    }
  }
  auto t = std::make_unique<task_struct>();
  t->task_obj = tobj;
  t->pid = next_pid_++;
  t->tgid = leader->tgid;
  t->comm = leader->comm;
  t->cpu = cpu;
  t->cpus_allowed = leader->cpus_allowed;
  t->mm = leader->mm;
  t->mempolicy = std::move(pol);
  t->oom_score_adj = leader->oom_score_adj;  // CLONE_THREAD shares signal_struct
  ++t->mm->mm_users;
  t->mm->cpumask.set(static_cast<std::size_t>(cpu.value()));
  task_struct* raw = t.get();
  tasks_.emplace(raw->pid, std::move(t));
  ++live_tasks_;
  numab_->init_task(raw);  // init_numa_balancing
  return raw;
}

bool Kernel::migrate_task(task_struct* t, CpuId cpu) {
  if (t->exited) return false;
  if (cpu.value() < 0 || cpu.value() >= topo_.num_cpus() ||
      !t->cpus_allowed.test(static_cast<std::size_t>(cpu.value())))
    return false;
  t->cpu = cpu;
  t->mm->cpumask.set(static_cast<std::size_t>(cpu.value()));  // switch_mm_irqs_off: cpumask_set_cpu
  return true;
}

task_struct* Kernel::find_task_by_pid(int pid) {
  auto it = tasks_.find(pid);
  return it == tasks_.end() || it->second->exited ? nullptr : it->second.get();
}

// exit_mmap: unmap every VMA, free every page table and the PGD.
void Kernel::exit_mmap(task_struct* t, mm_struct& mm) {
  KernelCost cost;  // exit work is not charged to a running task here
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  VmaOp op(*this, mm, t->cpu, cost);  // erased records free their objects
  while (!mm.mm_mt.empty()) {
    vm_area_struct& vma = mm.mm_mt.begin()->second;
    std::size_t present = zap_range(t, vma, vma.vm_start, vma.vm_end, cost);
    if (vma.hugetlb_reserves()) hugetlb_->unreserve(vma.size() / vma_hpage_size(vma) - present, hstate_vma(vma));
    mm.total_vm -= vma.size() >> kPageShift;
    vma_erase(mm, vma);
  }
  const VirtAddr top = 1ull << level_shift(pgtables_.levels() + 1);
  pgtables_.free_pgd_range(t->cpu, mm.pgd, 0, top, 0, top, cost);
  pgtables_.pgd_free(t->cpu, mm.pgd, cost);
  mm.pgd = 0;
}

void Kernel::exit_task(task_struct* t) {
  if (t->exited) return;
  numab_->exit_snapshot(t);  // /proc/<pid>/numa_maps as the process ends
  mm_struct* mm = t->mm;
  if (--mm->mm_users == 0) {
    exit_mmap(t, *mm);
    KernelCost cost;
    if (fs_) fs_->exit_files(t->tgid, t->cpu, cost);  // exit_files: the process's fds closed
    if (shmem_) shmem_->exit_files(t->tgid, t->cpu, cost);  // and its memfds
    caches_->mm_free(t->cpu, mm->mm_obj, cost);  // mmdrop -> __mmdrop -> free_mm
    for (auto it = mms_.begin(); it != mms_.end(); ++it)
      if (it->get() == mm) {
        mms_.erase(it);
        break;
      }
  }
  numab_->free_task(t);  // task_numa_free
  t->mm = nullptr;
  t->mempolicy.reset();
  t->exited = true;  // a zombie until release_task: callers may still hold the pointer
  --live_tasks_;
}

void Kernel::release_task(task_struct* t) {
  if (!t->exited) exit_task(t);
  KernelCost cost;
  caches_->free_task_struct(t->cpu, t->task_obj, cost);  // put_task_struct -> free_task
  tasks_.erase(t->pid);
}

// follow_page (mm/gup.c, 6.1): follow_page_pte skips a protnone entry only under
// FOLL_NUMA, which __get_user_pages adds and follow_page's callers in mm/migrate.c do not.
std::optional<Kernel::FollowResult> Kernel::follow_page(const mm_struct& mm, VirtAddr addr, unsigned foll_flags) const {
  if (addr >= mm.task_size) return std::nullopt;
  FollowResult r;
  if (auto tr = pgtables_.translate(mm.pgd, addr)) {
    r.phys = tr->phys;
    r.leaf = tr->leaf;
    r.level = tr->level;
  } else {
    if (foll_flags & FOLL_NUMA) return std::nullopt;
    const PteRef ref = pgtables_.walk(mm.pgd, addr, PTE_LEVEL);
    const pteval_t v = ref.value();
    if (!pte_protnone(v) || (ref.level != PTE_LEVEL && !pte_huge(v))) return std::nullopt;
    const std::uint64_t mask = level_size(ref.level) - 1;
    r.phys = (pte_phys(v) & ~mask) | (addr & mask);
    r.leaf = v;
    r.level = ref.level;
  }
  r.pg = const_cast<PhysMem&>(pm_).phys_to_page(pte_phys(r.leaf));
  return r;
}

std::shared_ptr<mempolicy> Kernel::mpol_object_new(const mempolicy& pol, CpuId cpu, KernelCost& cost, AllocSite site) {
  const PhysAddr obj = caches_->mpol_alloc(cpu, cost, site);
  if (!obj) return nullptr;
  std::shared_ptr<mempolicy> p(new mempolicy(pol), [this, cpu, obj](mempolicy* m) {
    mpol_objs_.erase(m);
    delete m;
    caches_->mpol_free(cpu, obj, free_cost_);  // __mpol_put: kmem_cache_free(policy_cache)
  });
  mpol_objs_.emplace(p.get(), obj);
  return p;
}

PhysAddr Kernel::mpol_object(const mempolicy* pol) const {
  auto it = mpol_objs_.find(pol);
  return it == mpol_objs_.end() ? 0 : it->second;
}

// The owner records kmemleak scans from: every task (and its policy), every
// mm (its VMA records, their policies, anon_vma chains and anon_vmas), every
// page-table page's lock.
void Kernel::register_kmemleak_roots() {
  kmemleak_->register_root("tasks", [this](const Kmemleak::RefFn& ref) {
    for (const auto& [pid, t] : tasks_) {
      ref(t->task_obj);
      if (t->mempolicy) ref(mpol_object(t->mempolicy.get()));
    }
  });
  kmemleak_->register_root("mm_structs", [this](const Kmemleak::RefFn& ref) {
    for (const auto& mm : mms_) {
      ref(mm->mm_obj);
      for (const auto& [start, v] : mm->mm_mt) {
        ref(v.vm_obj);
        if (v.vm_policy) ref(mpol_object(v.vm_policy.get()));
        for (const anon_vma_chain* avc : v.anon_vma_chain) {  // chains and the anon_vmas they link
          ref(avc->obj);
          ref(avc->anon_vma->obj);
          ref(avc->anon_vma->root->obj);
        }
      }
    }
  });
  kmemleak_->register_root("page_tables", [this](const Kmemleak::RefFn& ref) {
    for (const auto& [frame, ptl] : ptlocks_) ref(ptl);
  });
}

void Kernel::syscall_cost(KernelCost& cost) const {
  cost.add_cycles(params_.costs.syscall_entry_cycles + params_.costs.syscall_exit_cycles);
}

}  // namespace numasim::os
