// Automatic NUMA balancing: the scanner, the fault statistics and placement, numa
// groups and MEMORY_TIERING's hot-page threshold and rate limit (see
// os/numa_balancing.h for what is modelled and simplified).
#include "os/numa_balancing.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "common/config.h"
#include "os/fs.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/hugetlb.h"
#include "os/mmap.h"
#include "os/pgtable.h"

namespace numasim::os {

namespace {
constexpr std::uint64_t kPsPerMs = 1'000'000'000ull;
constexpr Picoseconds kTick = Picoseconds(kPsPerMs);  // HZ=1000: task_tick_numa every jiffy
constexpr unsigned MAX_SCAN_WINDOW = 2560;            // MB/s
constexpr int NUMA_PERIOD_SLOTS = 10;
constexpr int NUMA_PERIOD_THRESHOLD = 7;
constexpr unsigned long ACTIVE_NODE_FRACTION = 3;
constexpr unsigned NUMA_MIGRATION_ADJUST_STEPS = 16;
constexpr int NUMA_NO_NODE_ = -1;
}  // namespace

int page_cpupid_last(const page* pg) { return pg->last_cpupid ^ LAST_CPUPID_MASK; }
int page_cpupid_xchg_last(page* pg, int cpupid) {
  const int old = page_cpupid_last(pg);
  pg->last_cpupid = static_cast<std::uint16_t>((cpupid & LAST_CPUPID_MASK) ^ LAST_CPUPID_MASK);
  return old;
}

NumaBalancingParams NumaBalancingParams::from_config(Config os) {
  NumaBalancingParams p;
  Config k = os.table("kernel", "kernel.* sysctls (Linux /proc/sys/kernel) and sched debugfs knobs");
  p.mode = k.get<int>("numa_balancing", p.mode,
                      "automatic NUMA balancing: 0 off, 1 NUMA_BALANCING_NORMAL, 2 NUMA_BALANCING_MEMORY_TIERING, 3 both",
                      {0, 3});
  auto ms = [&](const char* key, unsigned def, const char* what, unsigned lo, unsigned hi) {
    return static_cast<unsigned>(k.get<std::int64_t>(key, def, what, {std::int64_t{lo}, std::int64_t{hi}}));
  };
  p.scan_delay_ms = ms("numa_balancing_scan_delay_ms", p.scan_delay_ms, "first scan after a task starts (ms)", 0,
                       1u << 30);
  p.scan_period_min_ms = ms("numa_balancing_scan_period_min_ms", p.scan_period_min_ms,
                            "shortest time to scan a task's whole address space (ms)", 1, 1u << 30);
  p.scan_period_max_ms = ms("numa_balancing_scan_period_max_ms", p.scan_period_max_ms,
                            "longest time to scan a task's whole address space (ms)", 1, 1u << 30);
  p.scan_size_mb = ms("numa_balancing_scan_size_mb", p.scan_size_mb, "MiB of address space made PROT_NONE per scan",
                      1, 1u << 20);
  p.hot_threshold_ms = ms("numa_balancing_hot_threshold_ms", p.hot_threshold_ms,
                          "MEMORY_TIERING: a slow-tier page faulting sooner than this after its scan is hot (ms)", 1,
                          1u << 30);
  p.promote_rate_limit_MBps = ms("numa_balancing_promote_rate_limit_MBps", p.promote_rate_limit_MBps,
                                 "MEMORY_TIERING: promotion candidates per second per node (MB/s)", 0, 1u << 30);
  if (p.scan_period_max_ms < p.scan_period_min_ms)
    k.error("numa_balancing_scan_period_max_ms",
            "must be at least numa_balancing_scan_period_min_ms (" + std::to_string(p.scan_period_min_ms) + ")");
  return p;
}

NumaBalancing::NumaBalancing(Kernel& k, const NumaBalancingParams& p)
    : k_(k), p_(p), nr_nodes_(k.physmem().nr_node_ids()), promo_(static_cast<std::size_t>(nr_nodes_)),
      migrated_to_(static_cast<std::size_t>(nr_nodes_), 0) {}

int NumaBalancing::set_mode(int mode) {
  if (mode < 0 || mode > 3) return -EINVAL;
  p_.mode = mode;
  return 0;
}

std::uint64_t NumaBalancing::now_ms(CpuId cpu) const { return k_.platform().now(cpu).value() / kPsPerMs; }

bool NumaBalancing::node_is_toptier(int nid) const {
  return toptier_override_ ? toptier_override_(nid) : k_.node_is_toptier(nid);
}

task_numa* NumaBalancing::numa(const task_struct* t) const { return t ? t->numa.get() : nullptr; }

mm_numa& NumaBalancing::mm_of(const mm_struct& mm) { return mm_[mm.mm_id]; }
const mm_numa* NumaBalancing::mm_state(const mm_struct& mm) const {
  auto it = mm_.find(mm.mm_id);
  return it == mm_.end() ? nullptr : &it->second;
}

// init_numa_balancing: the task's fields, mm->numa_next_scan for a new mm, and
// the tick that stands for task_tick_numa.
void NumaBalancing::init_task(task_struct* t) {
  if (!enabled() || !t->mm || (t->flags & PF_KTHREAD)) return;
  auto n = std::make_shared<task_numa>();
  const auto sz = static_cast<std::size_t>(nr_nodes_) * 2;
  n->faults_mem.assign(sz, 0);
  n->faults_cpu.assign(sz, 0);
  n->faults_membuf.assign(sz, 0);
  n->faults_cpubuf.assign(sz, 0);
  n->numa_scan_period = p_.scan_delay_ms;
  const std::uint64_t now = now_ms(t->cpu);
  mm_numa& m = mm_of(*t->mm);
  if (t->mm->mm_users == 1) {
    m.numa_next_scan_ms = now + p_.scan_delay_ms;
    m.numa_scan_seq = 0;
  }
  n->numa_scan_seq = m.numa_scan_seq;
  n->node_stamp_ms = now;
  t->numa = std::move(n);
  k_.kthreads().task_work_add(t, kTick, [this](task_struct* task, KernelCost& cost) { task_tick_numa(task, cost); });
}

// task_numa_free: leave the group (its faults taken out), stop the tick.
void NumaBalancing::free_task(task_struct* t) {
  if (!t->numa) return;
  k_.kthreads().task_work_cancel(t);
  task_numa& n = *t->numa;
  if (n.group) {
    numa_group& g = *n.group;
    for (std::size_t i = 0; i < g.faults_mem.size(); ++i) {
      g.faults_mem[i] -= std::min(g.faults_mem[i], n.faults_mem[i]);
      g.faults_cpu[i] -= std::min(g.faults_cpu[i], n.faults_cpu[i]);
    }
    g.total_faults -= std::min(g.total_faults, n.total_numa_faults);
    --g.nr_tasks;  // the zombie keeps its pointer (reports); the group lives while referenced
  }
}

// task_tick_numa: when numa_scan_period has passed since node_stamp, and the mm's
// next scan is due, run task_numa_work (Linux: task_work on return to user).
void NumaBalancing::task_tick_numa(task_struct* t, KernelCost& cost) {
  if (!t->numa || !t->mm || t->exited || !enabled()) return;
  task_numa& n = *t->numa;
  const std::uint64_t now = now_ms(t->cpu);
  if (now < n.node_stamp_ms + n.numa_scan_period) return;
  // The first period was scan_delay; from here on task_scan_start's period.
  if (n.numa_work_runs == 0) n.numa_scan_period = task_scan_min(t);
  n.node_stamp_ms = now;
  if (now >= mm_of(*t->mm).numa_next_scan_ms) task_numa_work(t, cost);
}

unsigned NumaBalancing::task_nr_scan_windows(const task_struct* t) const {
  const std::uint64_t nr_scan_pages = std::uint64_t{p_.scan_size_mb} << (20 - kPageShift);
  std::uint64_t rss = 0;
  for (int i = 0; i < NR_MM_COUNTERS; ++i)
    if (i != MM_SWAPENTS) rss += static_cast<std::uint64_t>(std::max(0l, t->mm->get_mm_counter(i)));
  if (!rss) rss = nr_scan_pages;
  rss = (rss + nr_scan_pages - 1) / nr_scan_pages * nr_scan_pages;
  return static_cast<unsigned>(rss / nr_scan_pages);
}

// task_scan_min: never more than MAX_SCAN_WINDOW MB/s of PTEs.
unsigned NumaBalancing::task_scan_min(const task_struct* t) const {
  unsigned windows = 1;
  if (p_.scan_size_mb < MAX_SCAN_WINDOW) windows = MAX_SCAN_WINDOW / p_.scan_size_mb;
  const unsigned floor = 1000 / windows;
  const unsigned scan = p_.scan_period_min_ms / task_nr_scan_windows(t);
  return std::max(floor, scan);
}

unsigned NumaBalancing::task_scan_max(const task_struct* t) const {
  const unsigned smin = task_scan_min(t);
  unsigned smax = p_.scan_period_max_ms / task_nr_scan_windows(t);
  smax = std::max(smax, smin);
  if (const task_numa* n = numa(t); n && n->group) {  // scale with the amount of shared memory
    const numa_group& g = *n->group;
    unsigned long priv = 0, shared = 0;
    for (int nid = 0; nid < nr_nodes_; ++nid) {
      shared += g.faults_mem[static_cast<std::size_t>(nid) * 2];
      priv += g.faults_mem[static_cast<std::size_t>(nid) * 2 + 1];
    }
    unsigned long period = smax;
    period *= static_cast<unsigned long>(std::max(1, g.nr_tasks));
    period *= shared + 1;
    period /= priv + shared + 1;
    smax = std::max<unsigned>(smax, static_cast<unsigned>(std::min<unsigned long>(period, 1u << 30)));
  }
  return smax;
}

// task_numa_work: the next scan_size_mb of the mm made PROT_NONE (change_prot_numa),
// at most 8x that much virtual space walked, then the mm's cursor advanced.
void NumaBalancing::task_numa_work(task_struct* t, KernelCost& cost) {
  task_numa& n = *t->numa;
  mm_struct& mm = *t->mm;
  mm_numa& m = mm_of(mm);
  const std::uint64_t now = now_ms(t->cpu);
  if (now < m.numa_next_scan_ms) return;
  if (n.numa_scan_period == 0) n.numa_scan_period = task_scan_min(t);
  m.numa_next_scan_ms = now + n.numa_scan_period;
  n.node_stamp_ms += 2;  // 2 * TICK: another thread of the mm likely wins next time
  ++n.numa_work_runs;
  std::int64_t pages = std::int64_t{p_.scan_size_mb} << (20 - kPageShift);
  std::int64_t virtpages = pages * 8;
  VirtAddr start = m.numa_scan_offset;
  auto it = mm.mm_mt.upper_bound(start);
  if (it != mm.mm_mt.begin()) {
    auto prev = std::prev(it);
    if (prev->second.vm_end > start) it = prev;
  }
  if (it == mm.mm_mt.end()) {  // reset_ptenuma_scan
    ++m.numa_scan_seq;
    m.numa_scan_offset = 0;
    start = 0;
    it = mm.mm_mt.begin();
  }
  bool stopped = false;
  for (; it != mm.mm_mt.end() && !stopped; ++it) {
    vm_area_struct& vma = it->second;
    // vma_migratable / vma_policy_mof / hugetlb / inaccessible VMAs are skipped.
    if (vma.is_hugetlb() || !vma.is_accessible() || k_.effective_policy(t, &vma)) continue;
    // A read-only file mapping (a shared library's text or data): no hint faults.
    if (vma.is_file() && (vma.vm_flags & (VM_READ | VM_WRITE)) == VM_READ) continue;
    // is_cow_mapping: change_pte_range skips its page-cache pages (their page_count is never 1).
    scan_cow_ = !(vma.vm_flags & VM_SHARED) && (vma.vm_flags & VM_MAYWRITE);
    VirtAddr end;
    do {
      start = std::max(start, vma.vm_start);
      end = (start + (static_cast<std::uint64_t>(pages) << kPageShift) + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);
      end = std::min(end, vma.vm_end);
      const unsigned long nr = k_.change_prot_numa(t, vma, start, end, cost);  // prot_numa_page reads scan_cow_
      if (nr) {
        pages -= static_cast<std::int64_t>((end - start) >> kPageShift);
        k_.pm_.count_vm_events(t->cpu, NUMA_PTE_UPDATES, nr);
        k_.flush_tlb_range(t->cpu, mm, start, end, cost);
      }
      virtpages -= static_cast<std::int64_t>((end - start) >> kPageShift);
      start = end;
      if (pages <= 0 || virtpages <= 0) {
        stopped = true;
        break;
      }
    } while (end != vma.vm_end);
  }
  scan_cow_ = false;
  if (stopped) {
    m.numa_scan_offset = start;
  } else {  // reset_ptenuma_scan: the whole mm was covered
    ++m.numa_scan_seq;
    m.numa_scan_offset = 0;
  }
}

// change_pte_range's prot_numa filter (mm/mprotect.c).
bool NumaBalancing::prot_numa_page(page* pg, int nid, bool single_user_private, CpuId cpu) {
  // A page-cache page: not in a copy-on-write mapping (its page_count is not 1), nor
  // dirty (MIGRATE_ASYNC cannot move every file system's dirty pages).
  if (!PageAnon(pg) && !PageSwapBacked(pg) && (scan_cow_ || pg->test(PG_dirty))) return false;
  // A single-threaded private mapping already on the node it runs on: nothing to learn.
  if (single_user_private && nid == k_.cpu_to_node(cpu).value()) return false;
  const bool toptier = node_is_toptier(nid);
  if (!(p_.mode & NUMA_BALANCING_NORMAL) && toptier) return false;  // tiering only: skip the fast tier
  if ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) && !toptier)
    page_cpupid_xchg_last(pg, static_cast<int>(now_ms(cpu) & LAST_CPUPID_MASK));  // xchg_page_access_time
  return true;
}

int NumaBalancing::fault_last_cpupid(const page* pg, int page_nid) const {
  if ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) && !node_is_toptier(page_nid)) return -1 & LAST_CPUPID_MASK;
  return page_cpupid_last(pg);
}

// numa_migrate_prep + mpol_misplaced for the default policy (MPOL_F_MOF | MPOL_F_MORON).
int NumaBalancing::numa_migrate_prep(task_struct* t, page* pg, int page_nid, bool default_policy, int& flags) {
  k_.pm_.count_vm_events(t->cpu, NUMA_HINT_FAULTS);
  const int thisnid = k_.cpu_to_node(t->cpu).value();
  if (page_nid == thisnid) {
    k_.pm_.count_vm_events(t->cpu, NUMA_HINT_FAULTS_LOCAL);
    flags |= TNF_FAULT_LOCAL;
  }
  if (!default_policy) return NUMA_NO_NODE_;  // an explicit policy without MPOL_F_MOF
  if (!should_numa_migrate_memory(t, pg, page_nid, t->cpu)) return NUMA_NO_NODE_;
  return page_nid != thisnid ? thisnid : NUMA_NO_NODE_;
}

bool NumaBalancing::pgdat_free_space_enough(int nid) const {
  const pglist_data& pgdat = k_.pm_.NODE_DATA(NodeId(nid));
  const unsigned long enough = std::max<unsigned long>(1ul << (30 - kPageShift), pgdat.node_present_pages >> 4);
  for (int z = MAX_NR_ZONES - 1; z >= 0; --z) {
    const zone& zn = pgdat.node_zones[static_cast<std::size_t>(z)];
    if (!populated_zone(zn)) continue;
    if (k_.pm_.zone_watermark_ok(zn, 0, zn._watermark[WMARK_PROMO] + enough, ZONE_MOVABLE)) return true;
  }
  return false;
}

unsigned NumaBalancing::numa_hint_fault_latency(page* pg, std::uint64_t now) {
  const int last = page_cpupid_xchg_last(pg, static_cast<int>(now & LAST_CPUPID_MASK));
  return static_cast<unsigned>((static_cast<int>(now & LAST_CPUPID_MASK) - last) & LAST_CPUPID_MASK);
}

// numa_promotion_rate_limit: candidates of this node counted; true when this
// second's candidates already reached the limit.
bool NumaBalancing::numa_promotion_rate_limit(int nid, std::uint64_t rate_limit, int nr, std::uint64_t now) {
  NodePromo& s = promo_[static_cast<std::size_t>(nid)];
  k_.pm_.mod_node_page_state(NodeId(nid), PGPROMOTE_CANDIDATE, nr);
  const auto nr_cand =
      static_cast<std::uint64_t>(node_page_state(k_.pm_.NODE_DATA(NodeId(nid)), PGPROMOTE_CANDIDATE));
  if (now - s.rl_start_ms > 1000) {
    s.rl_start_ms = now;
    s.rl_nr_cand = nr_cand;
  }
  return nr_cand - s.rl_nr_cand >= rate_limit;
}

// numa_promotion_adjust_threshold: every scan_period_max, the hot threshold moves
// one step toward the rate limit (fewer candidates than the limit: hotter pages
// qualify less strictly).
void NumaBalancing::numa_promotion_adjust_threshold(int nid, std::uint64_t rate_limit, unsigned ref_th,
                                                    std::uint64_t now) {
  NodePromo& s = promo_[static_cast<std::size_t>(nid)];
  const unsigned th_period = p_.scan_period_max_ms;
  if (now - s.th_start_ms <= th_period) return;
  s.th_start_ms = now;
  const std::uint64_t ref_cand = rate_limit * th_period / 1000;
  const auto nr_cand =
      static_cast<std::uint64_t>(node_page_state(k_.pm_.NODE_DATA(NodeId(nid)), PGPROMOTE_CANDIDATE));
  const std::uint64_t diff_cand = nr_cand - s.th_nr_cand;
  const unsigned unit_th = ref_th * 2 / NUMA_MIGRATION_ADJUST_STEPS;
  unsigned th = s.threshold_ms ? s.threshold_ms : ref_th;
  if (diff_cand > ref_cand * 11 / 10)
    th = std::max(th - std::min(th, unit_th), unit_th);
  else if (diff_cand < ref_cand * 9 / 10)
    th = std::min(th + unit_th, ref_th * 2);
  s.th_nr_cand = nr_cand;
  s.threshold_ms = th;
}

unsigned long NumaBalancing::group_faults_cpu(const numa_group& g, int nid) const {
  const auto i = static_cast<std::size_t>(nid) * 2;
  return g.faults_cpu[i] + g.faults_cpu[i + 1];
}
unsigned long NumaBalancing::group_faults(const task_struct* t, int nid) const {
  if (!t->numa || !t->numa->group) return 0;
  const auto i = static_cast<std::size_t>(nid) * 2;
  return t->numa->group->faults_mem[i] + t->numa->group->faults_mem[i + 1];
}
unsigned long NumaBalancing::task_faults(const task_struct* t, int nid) const {
  const auto i = static_cast<std::size_t>(nid) * 2;
  return t->numa->faults_mem[i] + t->numa->faults_mem[i + 1];
}

// should_numa_migrate_memory (kernel/sched/fair.c).
bool NumaBalancing::should_numa_migrate_memory(task_struct* t, page* pg, int src_nid, CpuId dst_cpu) {
  const int dst_nid = k_.cpu_to_node(dst_cpu).value();
  // Slow-tier pages move by hotness, not by who shares them.
  if ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) && !node_is_toptier(src_nid)) {
    NodePromo& s = promo_[static_cast<std::size_t>(dst_nid)];
    if (pgdat_free_space_enough(dst_nid)) {
      s.threshold_ms = 0;  // the workload changed: reset the hot threshold
      return true;
    }
    const unsigned def_th = p_.hot_threshold_ms;
    const std::uint64_t rate_limit = std::uint64_t{p_.promote_rate_limit_MBps} << (20 - kPageShift);
    const std::uint64_t now = now_ms(dst_cpu);
    numa_promotion_adjust_threshold(dst_nid, rate_limit, def_th, now);
    const unsigned th = s.threshold_ms ? s.threshold_ms : def_th;
    if (numa_hint_fault_latency(pg, now) >= th) return false;
    return !numa_promotion_rate_limit(dst_nid, rate_limit, PageCompound(pg) ? static_cast<int>(HPAGE_PMD_NR) : 1, now);
  }
  const int this_cpupid = cpu_pid_to_cpupid(dst_cpu.value(), t->pid);
  const int last_cpupid = page_cpupid_xchg_last(pg, this_cpupid);
  if (!(p_.mode & NUMA_BALANCING_MEMORY_TIERING) && !node_is_toptier(src_nid) && !cpupid_valid(last_cpupid))
    return false;
  const task_numa& n = *t->numa;
  const bool match = cpupid_to_pid(last_cpupid) == (t->pid & LAST__PID_MASK);
  // First faults, or private ones early in the task's life, migrate at once.
  if ((n.numa_preferred_nid == NUMA_NO_NODE_ || n.numa_scan_seq <= 4) && (cpupid_pid_unset(last_cpupid) || match))
    return true;
  // Two-stage filter: the previous fault must have come from the same node.
  if (!cpupid_pid_unset(last_cpupid) && k_.cpu_to_node(CpuId(cpupid_to_cpu(last_cpupid))).value() != dst_nid)
    return false;
  if (match) return true;  // private fault
  if (!n.group) return true;
  const numa_group& g = *n.group;
  if (group_faults_cpu(g, dst_nid) > group_faults_cpu(g, src_nid) * ACTIVE_NODE_FRACTION) return true;
  // 3/4 hysteresis on the group's CPU use and the task's memory use.
  return group_faults_cpu(g, dst_nid) * group_faults(t, src_nid) * 3 >
         group_faults_cpu(g, src_nid) * group_faults(t, dst_nid) * 4;
}

// task_numa_group: t shares a page with the task that faulted on it last; join
// the larger group (threads of one process always, other processes on shared mappings).
void NumaBalancing::task_numa_group(task_struct* t, int cpupid, int flags, int& priv) {
  task_numa& n = *t->numa;
  if (!n.group) {
    n.group = std::make_shared<numa_group>();
    numa_group& g = *n.group;
    g.gid = t->pid;
    g.nr_tasks = 1;
    g.faults_mem = n.faults_mem;
    g.faults_cpu = n.faults_cpu;
    g.total_faults = n.total_numa_faults;
  }
  // cpu_rq(cpu)->curr: the live task on that CPU whose pid bits match.
  const int cpu = cpupid_to_cpu(cpupid);
  task_struct* tsk = nullptr;
  for (const auto& [pid, c] : k_.tasks_) {
    if (c.get() != t && !c->exited && c->numa && c->cpu.value() == cpu &&
        (pid & LAST__PID_MASK) == cpupid_to_pid(cpupid)) {
      tsk = c.get();
      break;
    }
  }
  if (!tsk || !tsk->numa->group) return;
  std::shared_ptr<numa_group> grp = tsk->numa->group;
  numa_group& my = *n.group;
  if (grp.get() == &my) return;
  if (my.nr_tasks > grp->nr_tasks) return;
  if (my.nr_tasks == grp->nr_tasks && my.gid > grp->gid) return;  // tie-break (Linux: the address)
  bool join = false;
  if (tsk->mm == t->mm) join = true;
  if (flags & TNF_SHARED) join = true;
  priv = !join;
  if (!join) return;
  for (std::size_t i = 0; i < my.faults_mem.size(); ++i) {
    my.faults_mem[i] -= std::min(my.faults_mem[i], n.faults_mem[i]);
    my.faults_cpu[i] -= std::min(my.faults_cpu[i], n.faults_cpu[i]);
    grp->faults_mem[i] += n.faults_mem[i];
    grp->faults_cpu[i] += n.faults_cpu[i];
  }
  my.total_faults -= std::min(my.total_faults, n.total_numa_faults);
  grp->total_faults += n.total_numa_faults;
  --my.nr_tasks;
  ++grp->nr_tasks;
  n.group = grp;
}

// task_numa_fault (kernel/sched/fair.c).
void NumaBalancing::task_numa_fault(task_struct* t, int last_cpupid, int mem_node, int pages, int flags) {
  if (!t->numa || !t->mm) return;
  task_numa& n = *t->numa;
  const int cpu_node = k_.cpu_to_node(t->cpu).value();
  int local = (flags & TNF_FAULT_LOCAL) ? 1 : 0;
  // No statistics for slow-tier pages in tiering mode.
  if (!node_is_toptier(mem_node) && ((p_.mode & NUMA_BALANCING_MEMORY_TIERING) || !cpupid_valid(last_cpupid)))
    return;
  int priv;
  if (last_cpupid == (-1 & LAST_CPUPID_MASK)) {
    priv = 1;  // first access
  } else {
    priv = cpupid_to_pid(last_cpupid) == (t->pid & LAST__PID_MASK);
    if (!priv && !(flags & TNF_NO_GROUP)) task_numa_group(t, last_cpupid, flags, priv);
  }
  // A shared fault inside the group's active nodes counts as local.
  if (!priv && !local && n.group && n.group->active_nodes > 1) {
    const numa_group& g = *n.group;
    auto active = [&](int nid) { return group_faults_cpu(g, nid) * ACTIVE_NODE_FRACTION > g.max_faults_cpu; };
    if (active(cpu_node) && active(mem_node)) local = 1;
  }
  const std::uint64_t now = now_ms(t->cpu);
  if (now > n.numa_migrate_retry_ms) {
    task_numa_placement(t);
    numa_migrate_preferred(t);
  }
  if (flags & TNF_MIGRATED) n.numa_pages_migrated += static_cast<unsigned long>(pages);
  if (flags & TNF_MIGRATE_FAIL) n.numa_faults_locality[2] += static_cast<unsigned long>(pages);
  n.faults_membuf[static_cast<std::size_t>(mem_node) * 2 + static_cast<std::size_t>(priv)] += pages;
  n.faults_cpubuf[static_cast<std::size_t>(cpu_node) * 2 + static_cast<std::size_t>(priv)] += pages;
  n.numa_faults_locality[local] += static_cast<unsigned long>(pages);
}

// task_numa_placement: once per scan sequence, decay the fault history, take the
// new window in, choose numa_preferred_nid (the group's when in one), adapt the period.
void NumaBalancing::task_numa_placement(task_struct* t) {
  task_numa& n = *t->numa;
  const int seq = mm_of(*t->mm).numa_scan_seq;
  if (n.numa_scan_seq == seq) return;
  n.numa_scan_seq = seq;
  unsigned long fault_types[2] = {0, 0};
  unsigned long max_faults = 0;
  int max_nid = NUMA_NO_NODE_;
  numa_group* g = n.group.get();
  for (int nid = 0; nid < nr_nodes_; ++nid) {
    unsigned long faults = 0, gfaults = 0;
    for (int priv = 0; priv < 2; ++priv) {
      const auto i = static_cast<std::size_t>(nid) * 2 + static_cast<std::size_t>(priv);
      const long diff = static_cast<long>(n.faults_membuf[i]) - static_cast<long>(n.faults_mem[i] / 2);
      fault_types[priv] += n.faults_membuf[i];
      n.faults_membuf[i] = 0;
      const long f_diff = static_cast<long>(n.faults_cpubuf[i]) - static_cast<long>(n.faults_cpu[i] / 2);
      n.faults_cpubuf[i] = 0;
      n.faults_mem[i] = static_cast<unsigned long>(static_cast<long>(n.faults_mem[i]) + diff);
      n.faults_cpu[i] = static_cast<unsigned long>(static_cast<long>(n.faults_cpu[i]) + f_diff);
      faults += n.faults_mem[i];
      n.total_numa_faults = static_cast<unsigned long>(static_cast<long>(n.total_numa_faults) + diff);
      if (g) {
        g->faults_mem[i] = static_cast<unsigned long>(std::max(0l, static_cast<long>(g->faults_mem[i]) + diff));
        g->faults_cpu[i] = static_cast<unsigned long>(std::max(0l, static_cast<long>(g->faults_cpu[i]) + f_diff));
        g->total_faults = static_cast<unsigned long>(std::max(0l, static_cast<long>(g->total_faults) + diff));
        gfaults += g->faults_mem[i];
      }
    }
    const unsigned long f = g ? gfaults : faults;
    if (f > max_faults) {
      max_faults = f;
      max_nid = nid;
    }
  }
  // A CPU-less node cannot be preferred: the nearest node with CPUs instead.
  if (max_nid != NUMA_NO_NODE_ && k_.topology().node(NodeId(max_nid)).cpus.empty()) {
    int best = NUMA_NO_NODE_, best_d = 1 << 30;
    for (int nid = 0; nid < nr_nodes_; ++nid) {
      if (k_.topology().node(NodeId(nid)).cpus.empty()) continue;
      const int d = k_.topology().distance(NodeId(max_nid), NodeId(nid));
      if (d < best_d) best = nid, best_d = d;
    }
    max_nid = best;
  }
  if (g) {  // numa_group_count_active_nodes
    unsigned long mx = 0;
    for (int nid = 0; nid < nr_nodes_; ++nid) mx = std::max(mx, group_faults_cpu(*g, nid));
    int active = 0;
    for (int nid = 0; nid < nr_nodes_; ++nid) active += group_faults_cpu(*g, nid) * ACTIVE_NODE_FRACTION > mx;
    g->max_faults_cpu = mx;
    g->active_nodes = std::max(1, active);
  }
  if (max_faults && max_nid != n.numa_preferred_nid) n.numa_preferred_nid = max_nid;  // sched_setnuma
  update_task_scan_period(t, fault_types[0], fault_types[1]);
}

// update_task_scan_period: mostly local faults (or mostly shared ones) slow the
// scanner down, remote private faults speed it up; failures double the period.
void NumaBalancing::update_task_scan_period(task_struct* t, unsigned long shared, unsigned long priv) {
  task_numa& n = *t->numa;
  const unsigned long remote = n.numa_faults_locality[0];
  const unsigned long local = n.numa_faults_locality[1];
  if (local + shared == 0 || n.numa_faults_locality[2]) {
    n.numa_scan_period = std::min(task_scan_max(t), n.numa_scan_period << 1);
    mm_of(*t->mm).numa_next_scan_ms = now_ms(t->cpu) + n.numa_scan_period;
    n.numa_faults_locality[0] = n.numa_faults_locality[1] = n.numa_faults_locality[2] = 0;
    return;
  }
  const long period_slot = static_cast<long>((n.numa_scan_period + NUMA_PERIOD_SLOTS - 1) / NUMA_PERIOD_SLOTS);
  const int lr_ratio = static_cast<int>(local * NUMA_PERIOD_SLOTS / std::max(1ul, local + remote));
  const int ps_ratio = static_cast<int>(priv * NUMA_PERIOD_SLOTS / std::max(1ul, priv + shared));
  const int sp_ratio = static_cast<int>(shared * NUMA_PERIOD_SLOTS / std::max(1ul, priv + shared));
  long diff;
  if (lr_ratio >= NUMA_PERIOD_THRESHOLD) {
    diff = std::max(1, lr_ratio - NUMA_PERIOD_THRESHOLD) * period_slot;
  } else if (sp_ratio >= NUMA_PERIOD_THRESHOLD) {
    diff = std::max(1, sp_ratio - NUMA_PERIOD_THRESHOLD) * period_slot;
  } else {
    const int ratio = std::max(lr_ratio, ps_ratio);
    diff = -static_cast<long>(NUMA_PERIOD_THRESHOLD - ratio) * period_slot;
  }
  const long p = static_cast<long>(n.numa_scan_period) + diff;
  n.numa_scan_period = static_cast<unsigned>(
      std::clamp(p, static_cast<long>(task_scan_min(t)), static_cast<long>(task_scan_max(t))));
  n.numa_faults_locality[0] = n.numa_faults_locality[1] = n.numa_faults_locality[2] = 0;
}

// numa_migrate_preferred: retry at most every numa_scan_period/16 (and 1 s);
// a task off its preferred node asks the scheduler to move it there.
void NumaBalancing::numa_migrate_preferred(task_struct* t) {
  task_numa& n = *t->numa;
  if (n.numa_preferred_nid == NUMA_NO_NODE_) return;
  const std::uint64_t interval = std::min<std::uint64_t>(1000, std::max(1u, n.numa_scan_period / 16));
  n.numa_migrate_retry_ms = now_ms(t->cpu) + interval;
  if (k_.cpu_to_node(t->cpu).value() == n.numa_preferred_nid) return;
  if (migrate_task_hook_ && migrate_task_hook_(t, NodeId(n.numa_preferred_nid))) ++n.numa_task_migrations;
}

namespace {
// mpol_to_str: "default", "prefer:1", "bind:0-1", "interleave:0,2", "local" ...
std::string mpol_to_str(const mempolicy* pol) {
  if (!pol) return "default";
  static const char* const names[] = {"default", "prefer", "bind", "interleave", "local", "prefer (many)",
                                      "weighted interleave"};
  std::string s = pol->mode >= 0 && pol->mode < MPOL_MAX ? names[pol->mode] : "?";
  if (pol->flags & MPOL_F_STATIC_NODES) s += "=static";
  if (pol->flags & MPOL_F_RELATIVE_NODES) s += "=relative";
  if (pol->mode == MPOL_DEFAULT || pol->mode == MPOL_LOCAL) return s;
  std::string list;
  for (int n = 0; n < MAX_NUMNODES;) {
    if (!node_isset(n, pol->nodes)) {
      ++n;
      continue;
    }
    int e = n;
    while (e + 1 < MAX_NUMNODES && node_isset(e + 1, pol->nodes)) ++e;
    list += (list.empty() ? "" : ",") + std::to_string(n) + (e > n ? "-" + std::to_string(e) : "");
    n = e + 1;
  }
  return s + ":" + list;
}
}  // namespace

std::string NumaBalancing::numa_maps(const task_struct* t) const {
  std::string out;
  if (!t || !t->mm) return out;
  const mm_struct& mm = *t->mm;
  char buf[64];
  for (const auto& entry : mm.mm_mt) {
    // Not a structured binding: a lambda below uses vma, which clang 14 (the fuzz preset) cannot capture.
    const auto start = entry.first;
    const vm_area_struct& vma = entry.second;
    std::snprintf(buf, sizeof buf, "%08llx ", static_cast<unsigned long long>(start));
    out += buf + mpol_to_str(k_.effective_policy(t, &vma));
    if (vma.is_file() && vma.vm_file->f_inode)
      out += " file=" + vma.vm_file->f_inode->path;
    else if (vma.vm_start <= mm.brk && vma.vm_end >= mm.start_brk && !vma.vm_file_id)
      out += " heap";
    else if (vma.vm_flags & VM_GROWSDOWN)
      out += " stack";
    if (vma.is_hugetlb()) out += " huge";
    std::uint64_t pages = 0, anon = 0, dirty = 0, mapmax = 0, swapcache = 0, writeback = 0;
    std::vector<std::uint64_t> on(static_cast<std::size_t>(nr_nodes_), 0);
    k_.pgtables_.for_each_leaf(mm.pgd, vma.vm_start, vma.vm_end, [&](VirtAddr, const PteRef& ref) {
      const pteval_t e = ref.value();
      if (!(pte_present(e) || pte_protnone(e)) || (e & _PAGE_SPECIAL)) return;
      const std::uint64_t n = ref.level == PTE_LEVEL ? 1 : (ref.level == PMD_LEVEL ? HPAGE_PMD_NR : HPAGE_PMD_NR * 512);
      const page* pg = k_.pm_.phys_to_page(pte_phys(e));
      pages += n;
      if (PageAnon(pg) || !vma.vm_file_id) anon += n;
      if ((e & _PAGE_DIRTY) || pg->test(PG_dirty)) dirty += n;
      if (pg->test(PG_swapcache)) swapcache += n;
      if (pg->test(PG_writeback)) writeback += n;
      mapmax = std::max<std::uint64_t>(mapmax, static_cast<std::uint64_t>(std::max(1, pg->mapcount)));
      on[static_cast<std::size_t>(k_.pm_.page_to_nid(pg).value())] += n;
    });
    if (pages) {
      if (anon) out += " anon=" + std::to_string(anon);
      if (dirty) out += " dirty=" + std::to_string(dirty);
      if (pages != anon && pages != dirty) out += " mapped=" + std::to_string(pages);
      if (mapmax > 1) out += " mapmax=" + std::to_string(mapmax);
      if (swapcache) out += " swapcache=" + std::to_string(swapcache);
      if (writeback) out += " writeback=" + std::to_string(writeback);
      for (int nid = 0; nid < nr_nodes_; ++nid)
        if (on[static_cast<std::size_t>(nid)])
          out += " N" + std::to_string(nid) + "=" + std::to_string(on[static_cast<std::size_t>(nid)]);
      out += " kernelpagesize_kB=" + std::to_string(vma.is_hugetlb() ? vma_hpage_size(vma) >> 10 : 4);
    }
    out += "\n";
  }
  return out;
}

void NumaBalancing::exit_snapshot(const task_struct* t) {
  if ((!enabled() && !keep_exit_numa_maps_) || !t->mm || t->mm->mm_users != 1) return;
  std::string maps = numa_maps(t);
  if (maps.find(" N") != std::string::npos) exit_numa_maps_[t->tgid] = std::move(maps);  // pages left mapped
}

std::string NumaBalancing::exit_numa_maps(int tgid) const {
  auto it = exit_numa_maps_.find(tgid);
  return it == exit_numa_maps_.end() ? std::string() : it->second;
}

}  // namespace numasim::os
