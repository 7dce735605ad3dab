// Kernel threads (kernel/kthread.c, kthread_create_on_node / kthread_run) and
// the memory-management daemons Linux starts at boot: kswapd<N> and
// kcompactd<N> per node with memory (mm/vmscan.c kswapd_run, mm/compaction.c
// kcompactd_run), khugepaged (mm/khugepaged.c) and the writeback flusher
// (the bdi's wb_workfn, which Linux 6.1 runs on an unbound "kworker/u<N>:<M>+flush-<bdi>"
// worker; here one thread named "kworker/u:flush"). Each has a task_struct with
// PF_KTHREAD and no mm, a wait queue it sleeps on, a timer for schedule_timeout
// sleeps and a work function (threadfn): os/ decides when it sleeps and wakes,
// the Platform runs it (hw/ as a task on a simulated CPU, with its CPU time and
// memory traffic timed through the KernelCost the pass returns).
// Also the per-task periodic work seam (task_tick_numa -> task_work_add), a
// timer per task that runs a callback on the task's CPU.
//
// Placement: a per-node thread is bound to cpumask_of_node(node); a CPU-less
// node's threads to the CPUs of the nearest node with CPUs (by distance, ties to
// the lower id). Linux 6.1 leaves such a kswapd unbound (kswapd_run skips an
// empty mask); binding to the nearest node keeps its traffic near its memory.
// kswapd<N> starts on the first CPU of its mask, kcompactd<N> on the last; the
// unbound threads (khugepaged, the flusher) may run anywhere and start on CPU 0.
// The scheduler keeps a thread on the CPU it last ran on (wake-affine prev CPU).
//
// Simplified: the daemons are created asleep, as if their first pass ran before
// time 0 (their periodic timers armed from time 0), so that a run without
// memory pressure times nothing extra; their descriptors are host objects (no
// task_struct slab object, so boot memory figures are unchanged), and their pids
// count down from PID_MAX_LIMIT - 1 so that user pids are unchanged. Each is
// created with a stub work function (read the node's pgdat/zone lines, sleep);
// the Kernel installs the real ones at boot: kswapd's balance_pgdat
// (vmscan.cpp), kcompactd's (compaction.cpp) and khugepaged's scan
// (khugepaged.cpp). The flusher keeps the stub until page cache exists.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/mmzone.h"
#include "os/platform.h"
#include "os/task.h"

namespace numasim {
class Config;
class Topology;
}  // namespace numasim

namespace numasim::os {

inline constexpr int PID_MAX_LIMIT = 4 * 1024 * 1024;

// [os.kthreads]: sleep intervals of the periodic daemons and the cost of one stub pass.
struct KthreadParams {
  // HPAGE_FRAG_CHECK_INTERVAL_MSEC: kcompactd's proactive-compaction check period.
  Picoseconds kcompactd_interval = Picoseconds(500'000'000'000ull);
  // /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs (10 s).
  Picoseconds khugepaged_scan_sleep = Picoseconds(10'000'000'000'000ull);
  // vm.dirty_writeback_centisecs (5 s): the flusher's periodic writeback.
  Picoseconds dirty_writeback_interval = Picoseconds(5'000'000'000'000ull);
  std::uint64_t pass_cycles = 500;  // CPU cycles of one stub pass (loop, checks, sleep)
  Bytes pgdat_bytes = Bytes(256);   // pgdat/zone lines a stub pass reads (watermarks, counters)

  // [os.kthreads] kcompactd_interval, khugepaged_scan_sleep, dirty_writeback_interval,
  // pass_cycles, pgdat_bytes.
  static KthreadParams from_config(Config os_table);
};

// wait_queue_head_t: the tasks sleeping until an event (pgdat->kswapd_wait, ...).
struct wait_queue_head {
  std::vector<task_struct*> tasks;  // in the order they started waiting
};

class Kthreads;
struct Kthread;

// What one pass of a thread's work decided: sleep (until woken, or until
// `timeout` when it is not zero: schedule_timeout), or stay runnable (cond_resched).
struct KthreadResult {
  bool sleep = true;
  Picoseconds timeout{0};
};
// The threadfn's loop body: runs on task.cpu, charges its work to `cost`.
using kthread_fn = std::function<KthreadResult(Kthreads& k, Kthread& self, KernelCost& cost)>;

// struct kthread + its task_struct.
struct Kthread {
  task_struct task;  // PF_KTHREAD, mm == nullptr
  Kthreads* owner = nullptr;
  NodeId node{NUMA_NO_NODE};
  kthread_fn threadfn;
  wait_queue_head wait;  // the queue it sleeps on
  timer_list timer;      // schedule_timeout's timer (process_timeout)
  // Statistics.
  std::uint64_t nr_wakeups = 0;  // sleeping -> runnable
  std::uint64_t nr_runs = 0;     // passes of threadfn
  KernelCost cost;               // everything its passes charged
};

// The threads' timers live in the Platform's queues; the destructor cancels them
// (del_timer): the Platform must outlive this object (declared before the kernel,
// as in hw::Machine) and may run on afterwards.
class Kthreads {
 public:
  // Creates the boot daemons (asleep, periodic timers armed) for `topo`.
  Kthreads(const Topology& topo, const KthreadParams& params, Platform& platform);
  ~Kthreads();
  Kthreads(const Kthreads&) = delete;
  Kthreads& operator=(const Kthreads&) = delete;

  // kthread_create_on_node + kthread_bind_mask: a sleeping thread named `name` on
  // the first CPU of `allowed` (or `start_cpu` when it is in `allowed`).
  Kthread* kthread_create(std::string name, NodeId node, const CpuMask& allowed, kthread_fn fn,
                          CpuId start_cpu = CpuId(-1));
  // wake_up_process: TASK_INTERRUPTIBLE -> TASK_RUNNING and onto its CPU's run queue
  // (through the platform). False when it was already runnable (nothing happens).
  bool wake_up_process(task_struct* t);
  // __wake_up for an interruptible queue: wakes every sleeper of `wq`; returns how many.
  int wake_up(wait_queue_head& wq);
  // schedule() in a kernel thread: one pass of its threadfn on t->cpu, which the
  // platform runs when it picks the thread. Returns true when it stays runnable;
  // otherwise it is TASK_INTERRUPTIBLE on its wait queue (with its timer armed
  // for a timeout sleep).
  bool run(task_struct* t, KernelCost& cost);

  // ---- the entry points the rest of the kernel calls ----
  // wakeup_kswapd (mm/vmscan.c): an allocation on `nid` went below the low watermark.
  // No-op for a node without memory or whose kswapd is already runnable.
  void wakeup_kswapd(NodeId nid);
  // wakeup_kcompactd (mm/compaction.c).
  void wakeup_kcompactd(NodeId nid);
  // wakeup_flusher_threads (fs/fs-writeback.c).
  void wakeup_flusher_threads();
  // wake_up_interruptible(&khugepaged_wait): a new mm to scan.
  void wakeup_khugepaged();

  // ---- per-task periodic work (task_tick_numa -> task_work_add(task_numa_work)) ----
  using task_work_fn = std::function<void(task_struct* t, KernelCost& cost)>;
  // Runs `fn` every `period` on t->cpu (where t is at the time) until cancelled or t exits.
  // The caller cancels it before t's descriptor is released (release_task).
  void task_work_add(task_struct* t, Picoseconds period, task_work_fn fn);
  // task_work_cancel: true when t had periodic work.
  bool task_work_cancel(task_struct* t);

  // ---- lookup ----
  Kthread* kswapd(NodeId nid) const;     // null for a node without memory
  Kthread* kcompactd(NodeId nid) const;  // null for a node without memory
  Kthread* khugepaged() const { return khugepaged_; }
  Kthread* flusher() const { return flusher_; }
  // Every thread, in creation order.
  const std::vector<std::unique_ptr<Kthread>>& all() const { return threads_; }
  // The thread of a task_struct (container_of), or null when t is not a kernel thread of these.
  Kthread* of(const task_struct* t) const;
  // cpumask_of_node with the fallback described above.
  CpuMask cpumask_of_node(NodeId nid) const;
  const KthreadParams& params() const { return params_; }
  Platform& platform() { return platform_; }
  // Physical address of node nid's pgdat (NODE_DATA is allocated node-locally: its first lines).
  PhysAddr pgdat_phys(NodeId nid) const;

 private:
  struct TaskWork;
  // process_timeout: the timer of a schedule_timeout sleep wakes the thread.
  static void process_timeout(timer_list* timer, KernelCost& cost);
  static void task_work_timer(timer_list* timer, KernelCost& cost);
  // The stub pass a daemon does until the Kernel installs its work: read node `nid`'s pgdat lines.
  KthreadResult stub_pass(Kthread& self, NodeId nid, Picoseconds timeout, KernelCost& cost);
  void arm_timeout(Kthread& k, Picoseconds timeout);

  const Topology& topo_;
  KthreadParams params_;
  Platform& platform_;
  std::vector<std::unique_ptr<Kthread>> threads_;
  std::vector<Kthread*> kswapd_, kcompactd_;  // by node
  Kthread* khugepaged_ = nullptr;
  Kthread* flusher_ = nullptr;
  std::map<int, std::unique_ptr<TaskWork>> task_work_;  // by pid
  int next_pid_ = PID_MAX_LIMIT - 1;
};

}  // namespace numasim::os
