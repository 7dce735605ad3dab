// Kernel threads, their wait queues and timeouts, and the boot daemons (see kthread.h).
#include "os/kthread.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/config.h"
#include "common/trace.h"
#include "common/topology.h"

namespace numasim::os {

KthreadParams KthreadParams::from_config(Config os) {
  KthreadParams p;
  Config c = os.table("kthreads", "kernel threads (kswapd, kcompactd, khugepaged, flusher)");
  const Picoseconds min_sleep(1'000'000);  // 1 us: below that a daemon would spin
  const Picoseconds max_sleep(3'600'000'000'000'000ull);
  p.kcompactd_interval = c.get<Picoseconds>("kcompactd_interval", p.kcompactd_interval,
                                            "kcompactd proactive-compaction check period (HPAGE_FRAG_CHECK_INTERVAL_MSEC)",
                                            {min_sleep, max_sleep});
  p.khugepaged_scan_sleep = c.get<Picoseconds>("khugepaged_scan_sleep", p.khugepaged_scan_sleep,
                                               "khugepaged sleep between scans (scan_sleep_millisecs)",
                                               {min_sleep, max_sleep});
  p.dirty_writeback_interval = c.get<Picoseconds>("dirty_writeback_interval", p.dirty_writeback_interval,
                                                  "flusher periodic writeback (vm.dirty_writeback_centisecs)",
                                                  {min_sleep, max_sleep});
  p.pass_cycles = static_cast<std::uint64_t>(c.get<std::int64_t>(
      "pass_cycles", static_cast<std::int64_t>(p.pass_cycles), "CPU cycles of one daemon pass",
      {std::int64_t{0}, std::int64_t{100'000'000}}));
  p.pgdat_bytes = c.get<Bytes>("pgdat_bytes", p.pgdat_bytes, "pgdat/zone bytes a daemon pass reads",
                               {Bytes(0), Bytes(1 << 20)});
  return p;
}

struct Kthreads::TaskWork {
  Kthreads* owner = nullptr;
  task_struct* task = nullptr;
  Picoseconds period{0};
  task_work_fn fn;
  timer_list timer;
};

namespace {
Kthread* kthread_of_timer(timer_list* timer) { return static_cast<Kthread*>(timer->data); }
}  // namespace

Kthreads::Kthreads(const Topology& topo, const KthreadParams& params, Platform& platform)
    : topo_(topo), params_(params), platform_(platform) {
  const int nodes = topo_.num_nodes();
  kswapd_.assign(static_cast<std::size_t>(nodes), nullptr);
  kcompactd_.assign(static_cast<std::size_t>(nodes), nullptr);
  // kswapd_init / kcompactd_init: one of each per node with memory (N_MEMORY).
  for (int n = 0; n < nodes; ++n) {
    const NodeId nid(n);
    if (topo_.node(nid).memory.value() == 0) continue;
    const CpuMask mask = cpumask_of_node(nid);
    CpuId last(0);
    for (int c = topo_.num_cpus() - 1; c >= 0; --c)
      if (mask.test(static_cast<std::size_t>(c))) {
        last = CpuId(c);
        break;
      }
    kswapd_[static_cast<std::size_t>(n)] = kthread_create(
        "kswapd" + std::to_string(n), nid, mask,
        [nid](Kthreads& k, Kthread& self, KernelCost& cost) { return k.stub_pass(self, nid, Picoseconds(0), cost); });
    kcompactd_[static_cast<std::size_t>(n)] = kthread_create(
        "kcompactd" + std::to_string(n), nid, mask,
        [nid](Kthreads& k, Kthread& self, KernelCost& cost) {
          return k.stub_pass(self, nid, k.params().kcompactd_interval, cost);
        },
        last);
    arm_timeout(*kcompactd_[static_cast<std::size_t>(n)], params_.kcompactd_interval);
  }
  NodeId first_mem(0);
  for (int n = 0; n < nodes; ++n)
    if (topo_.node(NodeId(n)).memory.value() != 0) {
      first_mem = NodeId(n);
      break;
    }
  CpuMask all;
  for (int c = 0; c < topo_.num_cpus() && c < kMaxCpus; ++c) all.set(static_cast<std::size_t>(c));
  khugepaged_ = kthread_create("khugepaged", NodeId(NUMA_NO_NODE), all,
                               [first_mem](Kthreads& k, Kthread& self, KernelCost& cost) {
                                 return k.stub_pass(self, first_mem, k.params().khugepaged_scan_sleep, cost);
                               });
  arm_timeout(*khugepaged_, params_.khugepaged_scan_sleep);
  flusher_ = kthread_create("kworker/u:flush", NodeId(NUMA_NO_NODE), all,
                            [first_mem](Kthreads& k, Kthread& self, KernelCost& cost) {
                              return k.stub_pass(self, first_mem, k.params().dirty_writeback_interval, cost);
                            });
  arm_timeout(*flusher_, params_.dirty_writeback_interval);
}

// kthread_stop of every thread: del_timer_sync of each schedule_timeout timer and
// of every task's periodic work, so that a platform that outlives the kernel (a
// test replacing its kernel, or one that goes on running its clock) fires nothing
// into freed memory. The platform must outlive this object (declared before the
// kernel: hw::Machine and every test fixture do so).
Kthreads::~Kthreads() {
  for (const auto& k : threads_)
    if (k->timer.pending) platform_.del_timer(&k->timer);
  for (const auto& [pid, w] : task_work_)
    if (w->timer.pending) platform_.del_timer(&w->timer);
}

CpuMask Kthreads::cpumask_of_node(NodeId nid) const {
  auto cpus_of = [&](NodeId n) {
    CpuMask m;
    for (CpuId c : topo_.node(n).cpus) m.set(static_cast<std::size_t>(c.value()));
    return m;
  };
  if (topo_.node(nid).has_cpus()) return cpus_of(nid);
  int best = -1;
  for (int n = 0; n < topo_.num_nodes(); ++n) {
    if (!topo_.node(NodeId(n)).has_cpus()) continue;
    if (best < 0 || topo_.distance(nid, NodeId(n)) < topo_.distance(nid, NodeId(best))) best = n;
  }
  if (best < 0) {
    std::fprintf(stderr, "numasim: internal error: a machine without CPUs has no place for kernel threads\n");
    std::abort();
  }
  return cpus_of(NodeId(best));
}

PhysAddr Kthreads::pgdat_phys(NodeId nid) const { return topo_.node(nid).base; }

Kthread* Kthreads::kthread_create(std::string name, NodeId node, const CpuMask& allowed, kthread_fn fn,
                                  CpuId start_cpu) {
  auto k = std::make_unique<Kthread>();
  k->owner = this;
  k->task.pid = k->task.tgid = next_pid_--;
  k->task.comm = std::move(name);
  k->task.flags = PF_KTHREAD;
  k->task.__state = TASK_INTERRUPTIBLE;
  k->task.cpus_allowed = allowed;
  int cpu = -1;
  if (start_cpu.value() >= 0 && allowed.test(static_cast<std::size_t>(start_cpu.value()))) cpu = start_cpu.value();
  for (int c = 0; cpu < 0 && c < kMaxCpus; ++c)
    if (allowed.test(static_cast<std::size_t>(c))) cpu = c;
  if (cpu < 0) {
    std::fprintf(stderr, "numasim: internal error: kthread %s has an empty CPU mask\n", k->task.comm.c_str());
    std::abort();
  }
  k->task.cpu = CpuId(cpu);
  k->node = node;
  k->threadfn = std::move(fn);
  k->wait.tasks.push_back(&k->task);
  k->timer.function = &Kthreads::process_timeout;
  k->timer.data = k.get();
  k->timer.cpu = k->task.cpu;
  threads_.push_back(std::move(k));
  return threads_.back().get();
}

Kthread* Kthreads::of(const task_struct* t) const {
  if (!t || !(t->flags & PF_KTHREAD)) return nullptr;
  for (const auto& k : threads_)
    if (&k->task == t) return k.get();
  return nullptr;
}

Kthread* Kthreads::kswapd(NodeId nid) const {
  const auto i = static_cast<std::size_t>(nid.value());
  return i < kswapd_.size() ? kswapd_[i] : nullptr;
}
Kthread* Kthreads::kcompactd(NodeId nid) const {
  const auto i = static_cast<std::size_t>(nid.value());
  return i < kcompactd_.size() ? kcompactd_[i] : nullptr;
}

// try_to_wake_up: a sleeping thread becomes TASK_RUNNING and is queued on its CPU.
bool Kthreads::wake_up_process(task_struct* t) {
  if (t->__state == TASK_RUNNING) return false;
  Kthread* k = of(t);
  if (k) {
    auto& w = k->wait.tasks;
    w.erase(std::remove(w.begin(), w.end(), t), w.end());  // finish_wait
    platform_.del_timer(&k->timer);                          // schedule_timeout's del_timer_sync
    ++k->nr_wakeups;
  }
  t->__state = TASK_RUNNING;
  NUMASIM_TRACE(sched, platform_.now(t->cpu), t->cpu.value(), "sched_wakeup comm=%s pid=%d", t->comm.c_str(), t->pid);
  platform_.wake_up_process(t);
  return true;
}

// __wake_up_common: every sleeper, in the order they started waiting.
int Kthreads::wake_up(wait_queue_head& wq) {
  const std::vector<task_struct*> sleepers = wq.tasks;
  int n = 0;
  for (task_struct* t : sleepers) n += wake_up_process(t) ? 1 : 0;
  return n;
}

// kthread() -> threadfn loop body; then prepare_to_wait + schedule(_timeout).
bool Kthreads::run(task_struct* t, KernelCost& cost) {
  Kthread* k = of(t);
  if (!k || t->__state != TASK_RUNNING) return false;  // woken and put back to sleep: nothing to do
  ++k->nr_runs;
  KernelCost pass;
  const KthreadResult r = k->threadfn(*this, *k, pass);
  k->cost += pass;
  cost += pass;
  if (!r.sleep) return true;
  t->__state = TASK_INTERRUPTIBLE;
  k->wait.tasks.push_back(t);  // prepare_to_wait
  if (r.timeout.value() != 0) arm_timeout(*k, r.timeout);
  return false;
}

void Kthreads::arm_timeout(Kthread& k, Picoseconds timeout) {
  k.timer.cpu = k.task.cpu;
  platform_.mod_timer(&k.timer, platform_.now(k.task.cpu) + timeout);
}

// process_timeout: wake_up_process(timeout->task).
void Kthreads::process_timeout(timer_list* timer, KernelCost&) {
  Kthread* k = kthread_of_timer(timer);
  k->owner->wake_up_process(&k->task);
}

// Today's pass of every daemon: check the node's watermarks and counters (its
// pgdat lines, read from the thread's CPU), find nothing to do, sleep.
KthreadResult Kthreads::stub_pass(Kthread& self, NodeId nid, Picoseconds timeout, KernelCost& cost) {
  cost.add_cycles(params_.pass_cycles);
  if (params_.pgdat_bytes.value() != 0)
    cost.add_memory(platform_.kernel_read(self.task.cpu, pgdat_phys(nid), params_.pgdat_bytes));
  return KthreadResult{true, timeout};
}

void Kthreads::wakeup_kswapd(NodeId nid) {
  if (Kthread* k = kswapd(nid)) wake_up(k->wait);
}
void Kthreads::wakeup_kcompactd(NodeId nid) {
  if (Kthread* k = kcompactd(nid)) wake_up(k->wait);
}
void Kthreads::wakeup_flusher_threads() { wake_up(flusher_->wait); }
void Kthreads::wakeup_khugepaged() { wake_up(khugepaged_->wait); }

void Kthreads::task_work_timer(timer_list* timer, KernelCost& cost) {
  auto* w = static_cast<TaskWork*>(timer->data);
  if (w->task->exited) return;  // do_exit: the work dies with the task
  w->fn(w->task, cost);
  w->timer.cpu = w->task->cpu;
  w->owner->platform_.mod_timer(&w->timer, timer->expires + w->period);
}

void Kthreads::task_work_add(task_struct* t, Picoseconds period, task_work_fn fn) {
  task_work_cancel(t);
  auto w = std::make_unique<TaskWork>();
  w->owner = this;
  w->task = t;
  w->period = period;
  w->fn = std::move(fn);
  w->timer.function = &Kthreads::task_work_timer;
  w->timer.data = w.get();
  w->timer.cpu = t->cpu;
  platform_.mod_timer(&w->timer, platform_.now(t->cpu) + period);
  task_work_.emplace(t->pid, std::move(w));
}

bool Kthreads::task_work_cancel(task_struct* t) {
  auto it = task_work_.find(t->pid);
  if (it == task_work_.end()) return false;
  platform_.del_timer(&it->second->timer);
  task_work_.erase(it);
  return true;
}

}  // namespace numasim::os
