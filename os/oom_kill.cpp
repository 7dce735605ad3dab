// The OOM killer (mm/oom_kill.c out_of_memory, select_bad_process, oom_badness,
// __oom_kill_process) and the oom_reaper (__oom_reap_task_mm), entered from
// the page allocator's slow path (__alloc_pages_may_oom, through AllocHooks)
// when an allocation made in a fault cannot be satisfied: a user page, a
// page-table page or a slab page, whichever GFP_KERNEL-like request fails. The victim is the process with the highest badness
// (RSS + swap entries + page-table pages) among the eligible ones; under an
// MPOL_BIND allocation (CONSTRAINT_MEMORY_POLICY) a task whose own policy binds
// it to other nodes only is not eligible. Every task sharing the victim's mm is
// marked oom_killed (SIGKILL pending: its faults fail, hw/ ends it). When the
// victim is another process, the oom_reaper's work is done at once: its private
// memory is unmapped (its VMAs and page tables stay until it exits) and the
// allocation is retried. When the allocating task is the victim, the allocation
// fails (VM_FAULT_OOM) and the task dies; its memory is freed by its exit.
// A memory cgroup's OOM (oc.memcg_id, mem_cgroup_out_of_memory) chooses only among
// the cgroup's tasks (CONSTRAINT_MEMCG) and counts oom_kill in its memory.events.
// Simplified: no cpusets, oom_score_adj per process (no oom_adj),
// init and kernel threads are not special, no oom_kill_allocating_task sysctl;
// the reaping is charged to the allocating task (Linux's allocator waits for the
// reaper or the victim's exit); no panic when nothing is killable (the
// allocating task is killed); failslab's injected failures do not invoke it;
// only faults may kill (system calls get ENOMEM, see kernel_context.h).
#include "os/oom_kill.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <vector>

#include "common/trace.h"
#include "os/kernel.h"
#include "os/mempolicy.h"

namespace numasim::os {

namespace {
std::uint64_t pages_kb(long pages) { return pages > 0 ? static_cast<std::uint64_t>(pages) * (kPageSize / 1024) : 0; }

}  // namespace

const char* oom_constraint_name(OomConstraint c) {
  return c == OomConstraint::MemoryPolicy ? "CONSTRAINT_MEMORY_POLICY"
         : c == OomConstraint::Memcg      ? "CONSTRAINT_MEMCG"
                                          : "CONSTRAINT_NONE";
}

std::string oom_kill_message(const OomKill& k) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "Out of memory: Killed process %d (%s) total-vm:%llukB, anon-rss:%llukB, file-rss:%llukB, "
                "shmem-rss:%llukB, UID:0 pgtables:%llukB oom_score_adj:%d",
                k.pid, k.comm.c_str(), static_cast<unsigned long long>(k.total_vm_kb),
                static_cast<unsigned long long>(k.anon_rss_kb), static_cast<unsigned long long>(k.file_rss_kb),
                static_cast<unsigned long long>(k.shmem_rss_kb), static_cast<unsigned long long>(k.pgtables_kb), k.oom_score_adj);
  return buf;
}

std::string oom_kill_summary(const OomKill& k) {
  return std::string("oom-kill:constraint=") + oom_constraint_name(k.constraint) + ",nodemask=" +
         (k.constraint == OomConstraint::MemoryPolicy ? nodemask_pr_list(k.nodemask) : std::string("(null)")) +
         (k.constraint == OomConstraint::Memcg ? ",oom_memcg=" + k.oom_memcg + ",task_memcg=" + k.task_memcg : "") +
         ",task=" + k.comm + ",pid=" + std::to_string(k.pid) + ",uid=0";
}

std::string oom_invoked_message(const OomKill& k) {
  return k.invoker_comm + " invoked oom-killer: order=" + std::to_string(k.order) +
         ", oom_score_adj=" + std::to_string(k.invoker_oom_score_adj);
}

// oom_badness: pages the kill would free (RSS, swap entries, page tables).
long Kernel::oom_badness(const mm_struct& mm) const {
  return mm.get_mm_counter(MM_FILEPAGES) + mm.get_mm_counter(MM_ANONPAGES) + mm.get_mm_counter(MM_SHMEMPAGES) +
         mm.get_mm_counter(MM_SWAPENTS) + static_cast<long>(mm.pgtables_bytes / kPageSize);
}

// oom_badness (mm/oom_kill.c): OOM_SCORE_ADJ_MIN is never chosen; otherwise the
// pages plus oom_score_adj in thousandths of the memory the kill may draw from.
long Kernel::oom_badness(const task_struct& t, std::uint64_t totalpages) const {
  if (t.oom_score_adj == -1000 || !t.mm || t.mm->oom_skip) return LONG_MIN;
  long adj = t.oom_score_adj;
  adj *= static_cast<long>(totalpages / 1000);
  return oom_badness(*t.mm) + adj;
}

long Kernel::set_oom_score_adj(int tgid, int adj) {
  if (adj < -1000 || adj > 1000) return -EINVAL;
  bool found = false;
  for (auto& [pid, task] : tasks_)
    if (task->tgid == tgid && !task->exited) {
      task->oom_score_adj = static_cast<short>(adj);
      found = true;
    }
  return found ? 0 : -ESRCH;
}

// __oom_reap_task_mm: unmap the private memory of a victim's mm (not hugetlb,
// not shared, not mlocked), then flush its TLB entries on every CPU that ran it.
void Kernel::oom_reap(task_struct* reaper, mm_struct& mm, KernelCost& cost) {
  for (auto& [start, vma] : mm.mm_mt) {
    if (vma.is_hugetlb() || (vma.vm_flags & (VM_SHARED | VM_LOCKED))) continue;
    zap_range(reaper, vma, vma.vm_start, vma.vm_end, cost);
  }
  flush_tlb_mm(reaper->cpu, mm, cost);
  mm.oom_skip = true;  // MMF_OOM_SKIP: nothing more to gain from this mm
}

const OomKill* Kernel::oom_kill_of(int tgid) const {
  for (const auto& k : oom_kills_)
    if (k.pid == tgid) return &k;
  return nullptr;
}

// out_of_memory (AllocHooks), called by __alloc_pages_may_oom for the context's
// task: true when memory was freed (the slow path retries), false when there is
// no task that may kill (boot, a system call, a kernel thread), when the task
// itself is dying, or when it is the victim (its allocation fails).
bool Kernel::out_of_memory(oom_control& oc, KernelCost& cost) {
  task_struct* const t = ctx_.task;
  if (!ctx_.may_oom || !t) return false;
  if (t->exited || !t->mm || t->oom_killed) return false;  // fatal signal pending: fail
  // IO-less reclaim (GFP_NOFS/NOIO): Linux returns "progress" and lets the caller
  // loop; the simulator has nobody else to free memory, so it fails instead.
  if (!(oc.gfp_mask & __GFP_FS)) return false;
  mm_struct* const mm_self = t->mm;
  // mem_cgroup_out_of_memory: only tasks of the cgroup's subtree are candidates.
  auto in_oom_memcg = [&](const mm_struct* mm) {
    if (!oc.memcg_id) return true;
    for (const mem_cgroup* m = memcgs_->by_id[mm->memcg_id].get(); m; m = m->parent)
      if (m->id == oc.memcg_id) return true;
    return false;
  };
  // A victim chosen earlier that has not exited yet: the oom_reaper frees its memory now.
  for (auto& [pid, task] : tasks_) {
    if (task->oom_killed && !task->exited && task->mm && !task->mm->oom_skip && task->mm != mm_self &&
        in_oom_memcg(task->mm)) {
      oom_reap(t, *task->mm, cost);
      return true;
    }
  }
  // constrained_alloc: a nodemask that leaves out some memory node (MPOL_BIND) may
  // only be helped by tasks that can use its nodes.
  OomKill k;
  k.invoker_pid = t->pid;
  k.invoker_comm = t->comm;
  k.invoker_oom_score_adj = t->oom_score_adj;
  k.gfp_mask = oc.gfp_mask;
  k.order = oc.order;
  if (oc.memcg_id) {
    k.constraint = OomConstraint::Memcg;
    k.oom_memcg = memcgs_->by_id[oc.memcg_id]->path;
  } else if (oc.nodemask && !nodes_subset(mems_allowed_, *oc.nodemask)) {
    k.constraint = OomConstraint::MemoryPolicy;
    k.nodemask = *oc.nodemask;
  }
  // constrained_alloc's totalpages: the allowed nodes' memory (all RAM) plus swap.
  std::uint64_t totalpages = total_swap_pages();
  if (k.constraint == OomConstraint::Memcg) {  // mem_cgroup_get_max: memory.max plus the swap it may use
    const mem_cgroup& m = *memcgs_->by_id[oc.memcg_id];
    totalpages = std::min<std::uint64_t>(m.memory.max, pm_.totalram_pages()) +
                 std::min<std::uint64_t>(m.swap.max, total_swap_pages());
  } else if (k.constraint == OomConstraint::MemoryPolicy) {
    for (int n = 0; n < pm_.nr_node_ids(); ++n)
      if (node_isset(n, k.nodemask)) totalpages += pm_.NODE_DATA(NodeId(n)).node_present_pages;
  } else {
    totalpages += pm_.totalram_pages();
  }
  // select_bad_process over processes (one entry per mm), pid order; a later equal score wins.
  task_struct* victim = nullptr;
  long chosen = LONG_MIN;
  std::vector<const mm_struct*> seen;
  for (auto& [pid, task] : tasks_) {
    if (task->exited || !task->mm || task->mm->oom_skip) continue;
    if (std::find(seen.begin(), seen.end(), task->mm) != seen.end()) continue;
    if (!in_oom_memcg(task->mm)) continue;
    seen.push_back(task->mm);
    // oom_cpuset_eligible -> mempolicy_in_oom_domain: the task's own MPOL_BIND must meet the mask.
    if (k.constraint == OomConstraint::MemoryPolicy && task->mempolicy && task->mempolicy->mode == MPOL_BIND &&
        !nodes_intersects(task->mempolicy->nodes, k.nodemask))
      continue;
    const long points = oom_badness(*task, totalpages);
    if (points == LONG_MIN || points < chosen) continue;
    chosen = points;
    victim = task.get();
  }
  if (!victim && oc.memcg_id) return false;  // no killable task in the cgroup: the charge fails
  if (!victim) victim = t;  // nothing else is killable (Linux panics); the allocating task dies
  mm_struct& vmm = *victim->mm;
  // __oom_kill_process: log the victim's memory, SIGKILL every task sharing its mm.
  auto leader = tasks_.find(victim->tgid);
  const task_struct* named = leader != tasks_.end() ? leader->second.get() : victim;
  k.pid = victim->tgid;
  k.comm = named->comm;
  k.badness = oom_badness(vmm);
  k.oom_score_adj = named->oom_score_adj;
  k.total_vm_kb = vmm.total_vm * (kPageSize / 1024);
  k.anon_rss_kb = pages_kb(vmm.get_mm_counter(MM_ANONPAGES));
  k.file_rss_kb = pages_kb(vmm.get_mm_counter(MM_FILEPAGES));
  k.shmem_rss_kb = pages_kb(vmm.get_mm_counter(MM_SHMEMPAGES));
  k.pgtables_kb = vmm.pgtables_bytes / 1024;
  NUMASIM_TRACE(alloc, platform_.now(t->cpu), static_cast<int>(t->cpu.value()),
                "oom_kill victim=%d (%s) invoker=%d badness=%ld anon-rss:%llukB", k.pid, k.comm.c_str(),
                k.invoker_pid, k.badness, static_cast<unsigned long long>(k.anon_rss_kb));
  k.task_memcg = memcgs_->by_id[vmm.memcg_id]->path;
  memcg_memory_event(memcgs_->by_id[vmm.memcg_id].get(), MEMCG_OOM_KILL);  // memcg_memory_event_mm
  oom_kills_.push_back(std::move(k));
  pm_.count_vm_events(t->cpu, OOM_KILL);
  for (auto& [pid, task] : tasks_)
    if (!task->exited && task->mm == &vmm) task->oom_killed = true;
  if (&vmm == mm_self) return false;
  oom_reap(t, vmm, cost);
  return true;
}

}  // namespace numasim::os
