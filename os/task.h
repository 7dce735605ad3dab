// A schedulable task (include/linux/sched.h, task_struct): identity, where it
// runs and may run, its address space (shared by threads), its NUMA policy with
// the interleave cursor, and its fault and signal counters.
// Simplified: no credentials, no signal handlers (a SIGSEGV is counted and the
// task goes on; the caller decides what to do; an OOM kill only sets oom_killed), no cpuset hierarchy (mems_allowed
// is every node with memory), threads of a process share mm only; a kernel
// thread is a task_struct with PF_KTHREAD and no mm (os/kthread.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/units.h"
#include "os/platform.h"

namespace numasim::os {

struct mm_struct;
struct mempolicy;
struct task_numa;  // os/numa_balancing.h

// task_struct::flags bit (include/linux/sched.h): a kernel thread (no mm; os/kthread.h).
inline constexpr unsigned PF_KTHREAD = 0x00200000;
// task_struct::__state values used here: runnable or running, and sleeping until woken.
inline constexpr unsigned TASK_RUNNING = 0x0000;
inline constexpr unsigned TASK_INTERRUPTIBLE = 0x0001;

struct task_struct {
  int pid = 0;   // thread id
  int tgid = 0;  // process id (pid of the group leader)
  std::string comm;
  CpuId cpu{0};  // CPU it currently runs on
  CpuMask cpus_allowed;
  mm_struct* mm = nullptr;  // null for a kernel thread (PF_KTHREAD): it borrows no address space
  unsigned flags = 0;        // PF_*
  unsigned __state = TASK_RUNNING;
  // null: MPOL_DEFAULT (local allocation). The interleave cursor (Linux's
  // current->il_prev / il_weight) lives in the policy object (os/mempolicy.h).
  std::shared_ptr<struct mempolicy> mempolicy;
  // Counters (task_struct min_flt/maj_flt, and the SIGSEGVs it got).
  std::uint64_t min_flt = 0;
  std::uint64_t maj_flt = 0;
  std::uint64_t nr_sigsegv = 0;
  VirtAddr last_sigsegv_addr = 0;
  int last_sigsegv_code = 0;  // SEGV_MAPERR (1) or SEGV_ACCERR (2)
  PhysAddr task_obj = 0;  // its task_struct slab object, on the node of the CPU it was created on
  bool exited = false;        // EXIT_ZOMBIE: mm released, descriptor kept until release_task
  // tsk_is_oom_victim: the OOM killer sent SIGKILL. Its faults fail (FaultResult::Oom)
  // and whoever runs it must end it (exit_task).
  bool oom_killed = false;
  // signal->oom_score_adj (-1000..1000, /proc/<pid>/oom_score_adj): shared by the
  // thread group (Kernel::set_oom_score_adj writes every thread), inherited on fork.
  short oom_score_adj = 0;
  // NUMA balancing's per-task state (numa_scan_seq, numa_faults, numa_preferred_nid,
  // numa_group ...; os/numa_balancing.h); null when balancing was off at creation.
  std::shared_ptr<task_numa> numa;
  // current->memcg_nr_pages_over_high: pages charged over memory.high since the
  // last mem_cgroup_handle_over_high.
  unsigned long memcg_nr_pages_over_high = 0;
};

inline constexpr int SEGV_MAPERR = 1;
inline constexpr int SEGV_ACCERR = 2;

}  // namespace numasim::os
