// Automatic NUMA balancing (kernel/sched/fair.c task_tick_numa / task_numa_work /
// task_numa_fault / task_numa_placement / update_task_scan_period / numa groups,
// mm/mempolicy.c mpol_misplaced + should_numa_migrate_memory, mm/migrate.c
// migrate_misplaced_page, and the MEMORY_TIERING promotion of hot pages with its
// threshold and rate-limit feedback). The mechanisms touching page tables are
// Kernel members (change_prot_numa in mprotect.cpp, do_numa_page in memory.cpp);
// this class keeps the per-mm scan cursor, per-task fault statistics, numa
// groups, the per-node promotion state, and the sysctls:
//
//   [os.kernel] numa_balancing                       0 off, 1 NUMA_BALANCING_NORMAL,
//                                                    2 NUMA_BALANCING_MEMORY_TIERING, 3 both
//               numa_balancing_scan_delay_ms          1000
//               numa_balancing_scan_period_min_ms     1000
//               numa_balancing_scan_period_max_ms     60000
//               numa_balancing_scan_size_mb           256
//               numa_balancing_hot_threshold_ms       1000
//               numa_balancing_promote_rate_limit_MBps 65536
//
// Time: task_tick_numa runs from a per-task timer (Kthreads::task_work_add)
// every scan_period_min on the task's CPU; when the task's numa_scan_period has
// passed since its node_stamp, task_numa_work runs right there (Linux queues it
// as task_work for the return to user; here it runs in the tick's softirq and
// its cost is charged to that CPU). Times kept in milliseconds like jiffies_to_msecs.
// Task migration toward numa_preferred_nid goes through a hook the machine sets
// (its scheduler picks a CPU of the node in cpus_allowed; the task's caches
// stay behind, cold); no task swapping (task_numa_find_cpu's load balance) and
// no per-node load or compute capacity: a task moves when allowed.
// Simplified: THP PMDs are not made PROT_NONE (numa_huge_pte_updates stays 0;
// they never take hint faults); shared-library/file skipping does not arise (no
// file VMAs); last_cpupid is 8 bits of pid and 8 of CPU, stored XOR 0xffff in
// page::last_cpupid so a never-written descriptor reads as "unset"
// (page_cpupid_reset_last), and it is not reset when a page is freed; a
// migration's new page gets the old page's last_cpupid here (folio_migrate_flags).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "os/platform.h"

namespace numasim {
class Config;
}

namespace numasim::os {

class Kernel;
struct task_struct;
struct mm_struct;
struct page;
struct KernelCost;

// sysctl_numa_balancing_mode bits (include/linux/sched/sysctl.h).
inline constexpr int NUMA_BALANCING_DISABLED = 0x0;
inline constexpr int NUMA_BALANCING_NORMAL = 0x1;
inline constexpr int NUMA_BALANCING_MEMORY_TIERING = 0x2;

// Task-NUMA-fault flags (include/linux/sched/numa_balancing.h).
inline constexpr int TNF_MIGRATED = 0x01;
inline constexpr int TNF_NO_GROUP = 0x02;
inline constexpr int TNF_SHARED = 0x04;
inline constexpr int TNF_FAULT_LOCAL = 0x08;
inline constexpr int TNF_MIGRATE_FAIL = 0x10;

// LAST_CPUPID: 8 bits of CPU, 8 of pid (include/linux/mm.h cpu_pid_to_cpupid).
inline constexpr int LAST__PID_SHIFT = 8;
inline constexpr int LAST__PID_MASK = (1 << LAST__PID_SHIFT) - 1;
inline constexpr int LAST__CPU_MASK = 0xff;
inline constexpr int LAST_CPUPID_MASK = 0xffff;
inline constexpr int cpu_pid_to_cpupid(int cpu, int pid) {
  return ((cpu & LAST__CPU_MASK) << LAST__PID_SHIFT) | (pid & LAST__PID_MASK);
}
inline constexpr int cpupid_to_pid(int cpupid) { return cpupid & LAST__PID_MASK; }
inline constexpr int cpupid_to_cpu(int cpupid) { return (cpupid >> LAST__PID_SHIFT) & LAST__CPU_MASK; }
inline constexpr bool cpupid_pid_unset(int cpupid) { return cpupid_to_pid(cpupid) == (-1 & LAST__PID_MASK); }
inline constexpr bool cpupid_valid(int cpupid) { return cpupid_to_cpu(cpupid) != (-1 & LAST__CPU_MASK); }
// page_cpupid_last / page_cpupid_xchg_last over page::last_cpupid (stored XOR the mask).
int page_cpupid_last(const page* pg);
int page_cpupid_xchg_last(page* pg, int cpupid);

struct NumaBalancingParams {
  int mode = NUMA_BALANCING_DISABLED;  // kernel.numa_balancing
  unsigned scan_delay_ms = 1000;
  unsigned scan_period_min_ms = 1000;
  unsigned scan_period_max_ms = 60000;
  unsigned scan_size_mb = 256;
  unsigned hot_threshold_ms = 1000;
  unsigned promote_rate_limit_MBps = 65536;

  // [os.kernel] numa_balancing*, located errors for bad values.
  static NumaBalancingParams from_config(Config os_table);
};

// struct numa_group: tasks sharing memory, their faults per node summed.
struct numa_group {
  int gid = 0;  // pid of the task that made it
  int nr_tasks = 0;
  std::vector<unsigned long> faults_mem;  // [nid*2 + priv]
  std::vector<unsigned long> faults_cpu;  // [nid*2 + priv]
  unsigned long total_faults = 0;
  unsigned long max_faults_cpu = 0;
  int active_nodes = 1;
};

// The NUMA fields of task_struct (numa_scan_seq ... numa_pages_migrated).
struct task_numa {
  int numa_scan_seq = 0;
  unsigned numa_scan_period = 0;  // ms
  std::uint64_t node_stamp_ms = 0;
  std::uint64_t numa_migrate_retry_ms = 0;
  int numa_preferred_nid = -1;  // NUMA_NO_NODE
  // numa_faults: [mem|cpu][membuf|cpubuf] x nid x priv, as Linux's NUMA_MEM/NUMA_CPU/NUMA_MEMBUF/NUMA_CPUBUF.
  std::vector<unsigned long> faults_mem, faults_cpu, faults_membuf, faults_cpubuf;
  unsigned long numa_faults_locality[3] = {0, 0, 0};  // remote, local, failed migrations
  unsigned long total_numa_faults = 0;
  unsigned long numa_pages_migrated = 0;
  unsigned long numa_task_migrations = 0;  // moves toward the preferred node (numa_migrate_preferred)
  std::uint64_t numa_work_runs = 0;        // task_numa_work passes that scanned
  std::shared_ptr<numa_group> group;
};

// mm_struct's numa_next_scan / numa_scan_offset / numa_scan_seq.
struct mm_numa {
  std::uint64_t numa_next_scan_ms = 0;
  VirtAddr numa_scan_offset = 0;
  int numa_scan_seq = 0;
};

class NumaBalancing {
 public:
  NumaBalancing(Kernel& k, const NumaBalancingParams& p);
  const NumaBalancingParams& params() const { return p_; }
  int mode() const { return p_.mode; }
  bool enabled() const { return p_.mode != NUMA_BALANCING_DISABLED; }
  // sysctl write of kernel.numa_balancing: 0..3, -EINVAL otherwise (tasks created later scan).
  int set_mode(int mode);

  // init_numa_balancing (from create_task / create_thread): the task's state and its tick.
  void init_task(task_struct* t);
  // task_numa_free (from exit_task): cancel the tick, leave the numa group.
  void free_task(task_struct* t);
  // task_tick_numa: the periodic check; runs task_numa_work when due.
  void task_tick_numa(task_struct* t, KernelCost& cost);
  // task_numa_work: one scan window of the task's mm made PROT_NONE.
  void task_numa_work(task_struct* t, KernelCost& cost);

  // do_numa_page's decisions. numa_migrate_prep: counts the hint fault and returns
  // the node the page should move to (mpol_misplaced), or -1.
  int numa_migrate_prep(task_struct* t, page* pg, int page_nid, bool default_policy, int& flags);
  // migrate_misplaced_page (numa_migrate.cpp): true when the page moved to nid.
  bool migrate_misplaced_page(task_struct* t, page* pg, int nid, KernelCost& cost);
  // task_numa_fault: per-task and group statistics, placement, scan-period adaptation.
  void task_numa_fault(task_struct* t, int last_cpupid, int mem_node, int pages, int flags);
  // The last cpupid do_numa_page reads (-1 & mask in tiering mode for a slow-tier page).
  int fault_last_cpupid(const page* pg, int page_nid) const;
  // change_prot_numa's per-page filter: false to leave the entry alone; may stamp the access time.
  bool prot_numa_page(page* pg, int nid, bool single_user_private, CpuId cpu);

  task_numa* numa(const task_struct* t) const;
  const mm_numa* mm_state(const mm_struct& mm) const;
  // The machine's scheduler: move t to a CPU of nid in its cpus_allowed; false when it cannot.
  void set_migrate_task_hook(std::function<bool(task_struct*, NodeId)> fn) { migrate_task_hook_ = std::move(fn); }

  // Per-node promotion state (pgdat->nbp_*), for tests and reports.
  struct NodePromo {
    unsigned threshold_ms = 0;  // nbp_threshold (0: the default)
    std::uint64_t th_start_ms = 0, th_nr_cand = 0;
    std::uint64_t rl_start_ms = 0, rl_nr_cand = 0;
  };
  const NodePromo& node_promo(int nid) const { return promo_.at(static_cast<std::size_t>(nid)); }

  // /proc/<pid>/numa_maps (fs/proc/task_mmu.c show_numa_map): per VMA its start,
  // policy, file=<path> / heap / stack, huge, anon/dirty/mapped/mapmax/swapcache/
  // writeback counts, N<node>=pages and kernelpagesize_kB (no active= count).
  std::string numa_maps(const task_struct* t) const;
  // numa_maps of a process as its last thread exited (kept when balancing is on,
  // or when keep_exit_numa_maps was asked for); empty when none.
  void keep_exit_numa_maps(bool keep) { keep_exit_numa_maps_ = keep; }
  void exit_snapshot(const task_struct* t);  // from exit_task, before the mm goes
  std::string exit_numa_maps(int tgid) const;
  // Pages NUMA balancing migrated onto node nid (numa_pages_migrated by target).
  std::uint64_t nr_migrated_to(int nid) const { return migrated_to_.at(static_cast<std::size_t>(nid)); }

  std::uint64_t now_ms(CpuId cpu) const;  // jiffies_to_msecs(jiffies)
  // node_is_toptier as balancing sees it: Kernel::node_is_toptier (memory tiers),
  // unless a test installed its own tiers (set_toptier_override) while tiers are absent.
  bool node_is_toptier(int nid) const;
  void set_toptier_override(std::function<bool(int)> fn) { toptier_override_ = std::move(fn); }

 private:
  bool should_numa_migrate_memory(task_struct* t, page* pg, int src_nid, CpuId dst_cpu);
  bool pgdat_free_space_enough(int nid) const;
  void numa_promotion_adjust_threshold(int nid, std::uint64_t rate_limit, unsigned ref_th, std::uint64_t now);
  bool numa_promotion_rate_limit(int nid, std::uint64_t rate_limit, int nr, std::uint64_t now);
  unsigned numa_hint_fault_latency(page* pg, std::uint64_t now);
  void task_numa_placement(task_struct* t);
  void update_task_scan_period(task_struct* t, unsigned long shared, unsigned long priv);
  void task_numa_group(task_struct* t, int cpupid, int flags, int& priv);
  void numa_migrate_preferred(task_struct* t);
  unsigned task_nr_scan_windows(const task_struct* t) const;
  unsigned task_scan_min(const task_struct* t) const;
  unsigned task_scan_max(const task_struct* t) const;
  unsigned long group_faults_cpu(const numa_group& g, int nid) const;
  unsigned long group_faults(const task_struct* t, int nid) const;
  unsigned long task_faults(const task_struct* t, int nid) const;
  mm_numa& mm_of(const mm_struct& mm);

  Kernel& k_;
  NumaBalancingParams p_;
  int nr_nodes_;
  std::map<std::uint32_t, mm_numa> mm_;  // by mm_id
  std::vector<NodePromo> promo_;
  std::function<bool(task_struct*, NodeId)> migrate_task_hook_;
  std::function<bool(int)> toptier_override_;
  std::vector<std::uint64_t> migrated_to_;
  bool keep_exit_numa_maps_ = false;
  bool scan_cow_ = false;  // task_numa_work is scanning a copy-on-write mapping (prot_numa_page)
  std::map<int, std::string> exit_numa_maps_;  // by tgid
};

}  // namespace numasim::os
