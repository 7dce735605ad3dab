// Core execution engine and its SystemC thread (see core.h for the model).
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/core.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <systemc>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "common/config.h"
#include "common/trace.h"
#include "hw/hw_stats.h"
#include "hw/memory_system.h"
#include "os/page_token.h"
#include "os/shmem.h"
#include "os/task.h"

namespace numasim::hw {

namespace {

// Picoseconds per SystemC time unit (the resolution; 1 ps by default).
std::uint64_t ps_per_unit() {
  static const std::uint64_t v = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(sc_core::sc_get_time_resolution().to_seconds() * 1e12 + 0.5));
  return v;
}
sc_core::sc_time to_sc(Picoseconds t) { return sc_core::sc_time::from_value(t.value() / ps_per_unit()); }
std::uint64_t from_sc(const sc_core::sc_time& t) { return t.value() * ps_per_unit(); }
std::uint64_t sc_now_ps() { return from_sc(sc_core::sc_time_stamp()); }

#ifndef NUMASIM_CORE_DIRECT_MEMORY
#define NUMASIM_CORE_DIRECT_MEMORY 1
#endif
#if NUMASIM_CORE_DIRECT_MEMORY
// The memory system called directly (no virtual call): a miss is anything slower than an L1 hit.
struct DirectMemory {
  MemorySystem& ms;
  Picoseconds l1;
  Picoseconds access(CpuId cpu, PhysAddr pa, bool w, Picoseconds now, bool& miss) {
    Picoseconds lat = ms.access(cpu, pa, w, now);
    miss = lat > l1;
    return lat;
  }
};
#endif
// Through the MemoryPort interface (tests, other memories).
struct PortMemory {
  MemoryPort& port;
  Picoseconds access(CpuId cpu, PhysAddr pa, bool w, Picoseconds now, bool& miss) {
    std::uint8_t level = kLevelL1;
    Picoseconds lat = port.access(cpu, pa, w, now, &level);
    miss = level > kLevelL1;
    return lat;
  }
};

}  // namespace

struct Core::Sc {
  tlm_utils::tlm_quantumkeeper qk;
  sc_core::sc_event wake;  // an idle core's wake-up (kernel thread, task, end of the run)
};

namespace {
// Quantum 0's time order (core.h, "Time order at quantum 0"). SystemC runs one process at a
// time, so one record serves every core. The lookahead part belongs to the running core while
// `owner` is set and is void once that core lets other processes run.
struct TimeOrder {
  bool lookahead = false;       // take_turn's order at equal stamps, and skipped waits
  bool skips_disabled = false;  // tests: the lookahead's order with every wait real
  const Core* owner = nullptr;
  std::uint64_t reached_ps = 0;  // SystemC time (ps) the owner's skipped waits would have reached
  std::uint64_t horizon_ps = 0;  // first SystemC time (ps) at which another process can act
  // Per CPU id: the SystemC time (ps) it waits for until it takes its turn (~0: none), and
  // when it began that wait (a count of the waits begun).
  struct Due {
    std::uint64_t at_ps;
    std::uint64_t since;
  };
  std::vector<Due> due;
  std::uint64_t waits_begun = 0;
};
TimeOrder time_order;
constexpr std::uint64_t kNotDue = ~0ull;
}  // namespace

void set_quantum0_lookahead(bool on) {
  // A run starts outside every core's process: no core owns the lookahead (an owner left by
  // a run that ended abnormally, or by another machine, is dropped).
  time_order.lookahead = on;
  time_order.owner = nullptr;
}
void disable_quantum0_skipped_waits(bool disabled) { time_order.skips_disabled = disabled; }

void set_global_quantum(Picoseconds q) { tlm_utils::tlm_quantumkeeper::set_global_quantum(to_sc(q)); }
Picoseconds global_quantum() {
  return Picoseconds(from_sc(tlm_utils::tlm_quantumkeeper::get_global_quantum()));
}

CoreParams CoreParams::from_config(Config cpu) {
  CoreParams p;
  p.clock = cpu.get<Frequency>("frequency", p.clock, "core clock",
                               {Frequency(1'000'000), Frequency(100'000'000'000ull)});
  p.line_fill_buffers = cpu.get<unsigned>("line_fill_buffers", p.line_fill_buffers,
                                          "outstanding L1D misses per core", {1u, 256u});
  p.super_queue = cpu.get<unsigned>("super_queue", p.super_queue,
                                    "L2 super-queue entries: requests beyond L2 outstanding per core (demand and prefetch)",
                                    {1u, 256u});
  p.mem_issue_cycles = cpu.get<unsigned>("mem_issue_cycles", p.mem_issue_cycles, "issue cost of a load or store",
                                         {0u, 1000u});
  p.context_switch_cycles = cpu.get<unsigned>("context_switch_cycles", p.context_switch_cycles,
                                              "cycles to switch between tasks of one CPU", {0u, 100'000'000u});
  p.timeslice = cpu.get<Picoseconds>("timeslice", p.timeslice, "round-robin timeslice",
                                     {Picoseconds(1'000'000), Picoseconds(10'000'000'000'000ull)});
  return p;
}

Picoseconds TaskRun::marker_interval(std::uint32_t from_id, std::uint32_t to_id) const {
  const Picoseconds* a = nullptr;
  const Picoseconds* b = nullptr;
  for (const auto& [id, t] : markers) {
    if (!a && id == from_id) a = &t;
    else if (a && !b && id == to_id) b = &t;
  }
  return a && b ? *b - *a : Picoseconds(0);
}

Core::Core(CpuId cpu, NodeId node, const CoreParams& params, Mmu& mmu, MemoryPort& port, os::KernelEntry* os,
           MemorySystem* direct)
    : cpu_(cpu), node_(node), params_(params), mmu_(mmu), port_(port), os_(os), direct_(direct),
      lfb_(params.line_fill_buffers, 0, "line fill buffers"), sc_(std::make_unique<Sc>()) {
  const unsigned __int128 fp_per_cycle = (static_cast<unsigned __int128>(1'000'000'000'000ull) << kFrac);
  cycle_fp_ = static_cast<std::uint64_t>((fp_per_cycle + params.clock.hz() / 2) / params.clock.hz());
  issue_fp_ = cycle_fp_ * params.mem_issue_cycles;
  l1_latency_ = direct ? direct->caches().hit_latency(1) : Picoseconds(0);
  const auto id = static_cast<std::size_t>(cpu.value());
  if (time_order.due.size() <= id) time_order.due.resize(id + 1, {kNotDue, 0});
}

Core::~Core() {
  // The record outlives its cores (one per process): leave no pointer or due time behind.
  if (time_order.owner == this) time_order.owner = nullptr;
  const auto id = static_cast<std::size_t>(cpu_.value());
  if (id < time_order.due.size()) time_order.due[id] = {kNotDue, 0};
}

void Core::add_task(TaskRun* run) {
  run->core = this;
  tasks_.push_back(run);
  kick();
}

void Core::remove_task(TaskRun* run) {
  tasks_.erase(std::remove(tasks_.begin(), tasks_.end(), run), tasks_.end());
  if (run->core == this) run->core = nullptr;
}

void Core::kick() {
  if (!idle_) return;
  // The idle core wakes at the current SystemC time: first reach the time the skipped waits stand for.
  settle_skipped_waits();
  sc_->wake.notify(sc_core::SC_ZERO_TIME);
}

void Core::wake_kthread(TaskRun* run) {
  if (run->queued) return;
  run->queued = true;
  run->core = this;
  kthread_rq_.push_back(run);
  kick();
}

namespace {
std::uint64_t timer_fp(Picoseconds t, unsigned frac) {
  return t.value() >= (~0ull >> frac) ? ~0ull : t.value() << frac;
}
}  // namespace

void Core::timer_armed(Picoseconds next) {
  next_timer_fp_ = std::min(next_timer_fp_, timer_fp(next, kFrac));
  kick();
}

void Core::spawn() {
  sc_core::sc_spawn_options opts;
  static int instance = 0;  // SystemC object names must be unique across machines in one process
  const std::string name = "cpu" + std::to_string(cpu_.value()) + "_" + std::to_string(instance++);
  sc_core::sc_spawn([this]() { run(); }, name.c_str(), &opts);
}

int Core::pid() const { return cur_ ? cur_->pid : 0; }

bool Core::user_task_runnable() const {
  for (const TaskRun* r : tasks_)
    if (!r->finished && (!r->blocked || fp(r->wake_time) <= t_)) return true;
  return false;
}

std::uint64_t Core::next_wake_fp() const {
  std::uint64_t w = ~0ull;
  for (const TaskRun* r : tasks_)
    if (r->blocked && !r->finished) w = std::min(w, fp(r->wake_time));
  return w;
}

inline bool Core::preempt_due() const {
  if (in_fill_) return false;
  if (!kthread_rq_.empty() && sched_ && sched_->user_tasks_left()) return true;
  return next_wake_fp() <= t_;
}

void Core::park_current(Step s) {
  TaskRun& r = *cur_;
  if (!r.saved_batch) r.saved_batch = std::make_unique<OpBatch>();
  *r.saved_batch = batch_;
  r.has_saved = true;
  r.resume_op = stop_op_;
  r.resume_line = stop_line_;
  batch_.clear();
  if (s == Step::Blocked) {
    drain();
    r.blocked = true;
    r.wake_time = ps(block_wake_fp_);
    r.block_start = local_time();
    ++r.iowait_count;
    ++stats_.iowait_sleeps;
    NUMASIM_TRACE(sched, local_time(), cpu_.value(), "sched_blocked_reason comm=%s pid=%d io_wait=1 wake_ps=%llu",
                  r.name.c_str(), r.pid, static_cast<unsigned long long>(r.wake_time.value()));
  } else {
    ++stats_.preemptions;
  }
}

void Core::unblock(TaskRun* run) {
  run->blocked = false;
  if (run->wake_time > run->block_start) run->iowait_sum += run->wake_time - run->block_start;
  NUMASIM_TRACE(sched, local_time(), cpu_.value(), "sched_wakeup comm=%s pid=%d", run->name.c_str(), run->pid);
}

void Core::sleep_in_place(Picoseconds wait) {
  drain();
  ++stats_.iowait_sleeps;
  stats_.idle_ps += wait.value();
  stats_.iowait_ps += wait.value();
  if (cur_) {
    ++cur_->iowait_count;
    cur_->iowait_sum += wait;
  }
  t_ += fp(wait);
}

void Core::settle_pending_sleep() {
  if (!pending_wake_fp_) return;
  const std::uint64_t w = pending_wake_fp_;
  pending_wake_fp_ = 0;
  drain();
  if (w > t_) sleep_in_place(ps(w - t_));
}

void Core::account_idle(std::uint64_t from_fp) {
  if (t_ <= from_fp) return;
  const std::uint64_t d = (t_ - from_fp) >> kFrac;
  stats_.idle_ps += d;
  for (const TaskRun* r : tasks_)
    if (r->blocked && !r->finished) {
      stats_.iowait_ps += d;
      break;
    }
}

void Core::run() {
  running_ = true;
  t_ = fp(Picoseconds(machine_now_ps()));
  quantum_ps_ = global_quantum().value();
  sync_every_access_ = quantum_ps_ == 0;
  sc_->qk.reset();
  set_deadline();
  if (sched_) next_timer_fp_ = timer_fp(sched_->next_timer(cpu_), kFrac);
  std::size_t next = 0;
  for (;;) {
    if (sched_) {
      hand_over_migrating();
      if (t_ >= next_timer_fp_) run_timers();
      if (!kthread_rq_.empty() && sched_->user_tasks_left()) {
        TaskRun* k = kthread_rq_.front();
        kthread_rq_.erase(kthread_rq_.begin());
        k->queued = false;
        run_kthread(k);
        continue;
      }
    }
    // A task whose I/O completed runs first (earliest wake-up first); then round robin over
    // the unfinished tasks of this CPU that are not sleeping.
    TaskRun* pick = nullptr;
    for (TaskRun* r : tasks_)
      if (r->blocked && !r->finished && fp(r->wake_time) <= t_ && (!pick || r->wake_time < pick->wake_time))
        pick = r;
    for (std::size_t i = 0; !pick && i < tasks_.size(); ++i) {
      TaskRun* r = tasks_[(next + i) % tasks_.size()];
      if (!r->finished && !r->blocked) {
        pick = r;
        next = (next + i + 1) % tasks_.size();
      }
    }
    if (!pick) {
      const std::uint64_t wake = next_wake_fp();
      if (sched_ && sched_->user_tasks_left()) {
        idle_wait();
      } else if (wake != ~0ull) {
        // No scheduler (a lone core): nothing else can wake it; idle until the I/O completes.
        drain();
        const std::uint64_t from = t_;
        t_ = std::max(t_, wake);
        account_idle(from);
        if (t_ >= deadline_) sync();
      } else {
        break;
      }
      continue;
    }
    if (pick->blocked) unblock(pick);
    switch_to(pick);
    const std::uint64_t slice_end = t_ + fp(params_.timeslice);
    bool others_waiting = false;
    for (TaskRun* r : tasks_) others_waiting |= (r != pick && !r->finished);
    while (!cur_->finished) {
      if (kill_pending(cur_)) {
        cur_->has_saved = false;
        end_task(cur_);
        break;
      }
      Step step;
      if (cur_->has_saved) {
        // The rest of a batch left for an I/O sleep or a preemption.
        cur_->has_saved = false;
        batch_ = *cur_->saved_batch;
        step = execute(batch_.begin() + cur_->resume_op, batch_.end(), cur_->resume_line);
      } else {
        if (cur_->source->done()) {
          end_task(cur_);
          break;
        }
        batch_.clear();
        in_fill_ = true;
        fill_can_block_ = true;
        cur_->source->fill(batch_, *this);
        fill_can_block_ = false;
        in_fill_ = false;
        if (cur_->killed) {
          pending_wake_fp_ = 0;
          end_task(cur_);
          break;
        }
        if (pending_wake_fp_) {
          // A system call of this fill sleeps on I/O: the batch runs after the wake-up.
          block_wake_fp_ = pending_wake_fp_;
          pending_wake_fp_ = 0;
          stop_op_ = 0;
          stop_line_ = kNoLine;
          step = Step::Blocked;
        } else {
          step = execute(batch_.begin(), batch_.end());
        }
      }
      if (step == Step::Killed) {
        end_task(cur_);
        break;
      }
      if (step != Step::Done) {
        park_current(step);
        break;
      }
      batch_.clear();
      // Quantum 0 synchronises before memory accesses only; also yield once per batch so
      // that a program spinning on compute ops (waiting for another core) lets others run.
      if (sync_every_access_) sync();
      if (others_waiting && t_ >= slice_end) break;
      // A woken kernel thread or a task back from I/O preempts; a migrating task leaves.
      if (!kthread_rq_.empty() || cur_->migrate_to >= 0 || next_wake_fp() <= t_) break;
    }
  }
  drain();
  sync();
  settle_skipped_waits();  // the simulation's end time is this core's
  cur_ = nullptr;
  running_ = false;
}

void Core::hand_over_migrating() {
  for (std::size_t i = 0; i < tasks_.size();) {
    TaskRun* r = tasks_[i];
    if (r->migrate_to >= 0 && !r->finished) {
      if (cur_ == r) drain();
      remove_task(r);
      sched_->hand_over(r);
    } else {
      ++i;
    }
  }
}

void Core::run_timers() {
  NUMASIM_TRACE(sched, local_time(), cpu_.value(), "timer_expire_entry");
  const os::KernelCost cost = sched_->run_timers(cpu_, local_time());
  const std::uint64_t dt = cycle_fp_ * cost.cycles.value() + fp(cost.memory);
  t_ += dt;
  ++stats_.timers;
  stats_.timer_ps += dt >> kFrac;
  if (cost.io_wait.value()) {  // a timer cannot sleep: its CPU waits
    const std::uint64_t from = t_;
    t_ += fp(cost.io_wait);
    account_idle(from);
  }
  next_timer_fp_ = timer_fp(sched_->next_timer(cpu_), kFrac);
}

void Core::run_kthread(TaskRun* run) {
  if (cur_ != run) {
    drain();
    if (cur_ != nullptr) {
      t_ += cycle_fp_ * params_.context_switch_cycles;
      ++stats_.context_switches;
    }
    cur_ = run;  // no switch_mm: a kernel thread borrows no address space here
  }
  if (!run->started) {
    run->started = true;
    run->start_time = local_time();
  }
  os::KernelCost cost;
  const bool again = sched_->run_kthread(cpu_, run, local_time(), cost);
  const std::uint64_t dt = cycle_fp_ * cost.cycles.value() + fp(cost.memory);
  t_ += dt;
  if (cost.io_wait.value()) {  // simplified: a kernel thread's I/O wait holds its CPU (idle)
    const std::uint64_t from = t_;
    t_ += fp(cost.io_wait);
    account_idle(from);
  }
  ++run->kthread_runs;
  run->kernel_time += ps(dt);
  ++stats_.kthread_runs;
  stats_.kthread_ps += dt >> kFrac;
  run->end_time = local_time();
  NUMASIM_TRACE(sched, local_time(), cpu_.value(), "kthread_run comm=%s pid=%d time_ps=%llu %s", run->name.c_str(),
                run->pid, static_cast<unsigned long long>(dt >> kFrac), again ? "runnable" : "sleeps");
  if (again) wake_kthread(run);
  if (t_ >= deadline_) sync();
}

void Core::idle_wait() {
  drain();
  sync();  // others run meanwhile: look again before sleeping
  const std::uint64_t wake = std::min(next_timer_fp_, next_wake_fp());
  if (!kthread_rq_.empty() || user_task_runnable() || !sched_->user_tasks_left() || t_ >= wake) return;
  for (const TaskRun* r : tasks_)
    if (r->migrate_to >= 0) return;
  ++stats_.idle_waits;
  settle_skipped_waits();  // the wake-up and timeout are counted from the time this core reached
  idle_ = true;
  const std::uint64_t now = machine_now_ps();
  const std::uint64_t from = t_;
  if (wake == ~0ull) {
    sc_core::wait(sc_->wake);
  } else {
    const std::uint64_t target = std::max(wake >> kFrac, now);
    // Quantum 0: due at its timer like a core waiting for an access (take_turn below).
    if (sync_every_access_ && time_order.lookahead) become_due(target + epoch_.value());
    sc_core::wait(to_sc(Picoseconds(target - now)), sc_->wake);
  }
  idle_ = false;
  if (sync_every_access_ && time_order.lookahead) {
    take_turn(sc_now_ps());
    become_due(kNotDue);
  }
  t_ = std::max(t_, fp(Picoseconds(machine_now_ps())));
  account_idle(from);
  sc_->qk.reset();
  set_deadline();
}

void Core::switch_to(TaskRun* run) {
  if (cur_ == run) return;
  drain();
  if (cur_ != nullptr) {
    t_ += cycle_fp_ * params_.context_switch_cycles;
    ++stats_.context_switches;
  }
  cur_ = run;
  mmu_.switch_context(run->mmu_context);
  if (!run->started) {
    run->started = true;
    run->start_time = local_time();
    if (kill_pending(run)) return;  // killed before it ran: the run loop ends it
    in_fill_ = true;
    batch_.clear();
    run->source->start(*this);
    flush();
    in_fill_ = false;
  }
}

bool Core::kill_pending(TaskRun* run) {
  if (run->killed) return true;
  if (!run->task || !run->task->oom_killed) return false;
  run->killed = true;
  run->exit = TaskExit::OomKill;
  return true;
}

void Core::end_task(TaskRun* run) {
  if (!run->killed) {
    in_fill_ = true;
    batch_.clear();
    run->source->finish(*this);
    flush();
    in_fill_ = false;
  }
  settle_pending_sleep();
  drain();
  if (os_) {
    os::KernelCost cost;
    os_->task_exit(run->task, local_time(), cost);
    t_ += cycle_fp_ * cost.cycles.value() + fp(cost.memory + cost.io_wait);
  }
  run->finished = true;
  run->end_time = local_time();
  ++(run->killed ? stats_.tasks_killed : stats_.tasks_finished);
  if (sched_) sched_->task_ended(cpu_, run);
}

inline void Core::sync_before_access(std::uint64_t issue_fp) {
  ++stats_.syncs;
  wait_until(issue_fp >> kFrac);
}

inline void Core::wait_until(std::uint64_t target_ps) {
  const TimeOrder& la = time_order;
  const std::uint64_t target = target_ps + epoch_.value();
  if (la.owner == this && target < la.horizon_ps) [[likely]] {
    // Before anything else can act: no wait, as the plain wait would have resumed this core alone.
    if (target > la.reached_ps) {
      time_order.reached_ps = target;
      ++stats_.skipped_waits;
    }
    return;
  }
  reach(target);
}

Core::Step Core::execute(const Op* begin, const Op* end, VirtAddr first_line) {
#if NUMASIM_CORE_DIRECT_MEMORY
  if (direct_) {
    DirectMemory m{*direct_, l1_latency_};
    return execute_with(m, begin, end, first_line);
  }
#endif
  PortMemory m{port_};
  return execute_with(m, begin, end, first_line);
}

namespace {
bool is_access(const Op& op) { return op.kind == OpKind::Load || op.kind == OpKind::Store; }
}  // namespace

template <class Mem>
Core::Step Core::execute_with(Mem& mem, const Op* op, const Op* end, VirtAddr first_line) {
  TaskRun& run = *cur_;
  const Op* const begin = op;
  for (; op != end; ++op) {
    switch (op->kind) {
      case OpKind::Compute:
        t_ += cycle_fp_ * op->count;
        run.compute_cycles += op->count;
        stats_.compute_cycles += op->count;
        break;
      case OpKind::Load:
      case OpKind::Store: {
        const bool write = op->kind == OpKind::Store;
        if (walk_credit_ != 0) [[unlikely]] {
          // Walks are frequent: prefetch the host memory the walks and accesses
          // of the next operations will look up (no effect on results).
          if (--walk_credit_ > kWalkCredit) {
            if (end - op > kWalkPrefetchAhead && is_access(op[kWalkPrefetchAhead])) {
              const VirtAddr page = op[kWalkPrefetchAhead].addr >> kPageShift;
              if (page != walk_prefetched_page_) {
                walk_prefetched_page_ = page;
                mmu_.prefetch_walk(op[kWalkPrefetchAhead].addr);
              }
            }
            if (end - op > kDataPrefetchAhead && is_access(op[kDataPrefetchAhead])) {
              const VirtAddr line = op[kDataPrefetchAhead].addr / kCacheLineBytes;
              if (line != data_prefetched_line_) {
                data_prefetched_line_ = line;
                mmu_.prefetch_data(op[kDataPrefetchAhead].addr);
              }
            }
          }
        }
        const VirtAddr first = op->addr;
        const VirtAddr last = op->addr + (op->count ? op->count - 1 : 0);
        VirtAddr line = first & ~(kCacheLineBytes - 1);
        if (first_line != kNoLine) [[unlikely]] {
          line = first_line;  // resumed inside this op
          first_line = kNoLine;
        }
        bool dependent = !write && op->dependent() && line <= first;
        PhysAddr pa = 0;
        for (;; line += kCacheLineBytes) {
          const Step s = access(mem, line < first ? first : line, write, dependent, pa);
          if (s != Step::Done) [[unlikely]] {
            if (s == Step::Killed) run.killed = true;
            stop_op_ = static_cast<std::size_t>(op - batch_.begin());
            stop_line_ = line;
            run.ops += static_cast<std::uint64_t>(op - begin);
            stats_.ops += static_cast<std::uint64_t>(op - begin);
            return s;
          }
          dependent = false;
          ++run.line_accesses;
          ++stats_.line_accesses;
          if (line >= (last & ~(kCacheLineBytes - 1))) break;
        }
        ++(write ? run.stores : run.loads);
        ++(write ? stats_.stores : stats_.loads);
        if (op->flags & kOpVerify) [[unlikely]] {
          const std::size_t i = static_cast<std::size_t>(op - batch_.begin());
          verify_access(*op, write ? batch_.prev_token(i) : batch_.token(i), batch_.token(i), pa);
        }
        break;
      }
      case OpKind::Marker:
        drain();
        run.markers.emplace_back(op->count, local_time());
        break;
    }
    if (t_ >= deadline_ || sync_every_access_) [[unlikely]] {
      if (!sync_every_access_) sync();
      // Yield to a queued kernel thread or a task back from I/O (not inside a program's fill).
      if (op + 1 != end && preempt_due()) {
        stop_op_ = static_cast<std::size_t>(op + 1 - batch_.begin());
        stop_line_ = kNoLine;
        run.ops += static_cast<std::uint64_t>(op + 1 - begin);
        stats_.ops += static_cast<std::uint64_t>(op + 1 - begin);
        return Step::Preempted;
      }
    }
  }
  run.ops += static_cast<std::uint64_t>(end - begin);
  stats_.ops += static_cast<std::uint64_t>(end - begin);
  return Step::Done;
}

template <class Mem>
Core::Step Core::access(Mem& mem, VirtAddr va, bool write, bool dependent, PhysAddr& pa) {
  t_ += issue_fp_;
  std::uint64_t issue = t_;
  if (dependent && last_load_done_ > issue) {
    ++stats_.dependent_waits;
    stats_.dependent_wait_ps += (last_load_done_ - issue) >> kFrac;
    issue = last_load_done_;
    t_ = issue;
  }
  if (const std::uint64_t lfb_free = lfb_.at(0); lfb_free > issue) [[unlikely]] {
    // Every fill buffer is busy: stall until one frees.
    ++stats_.lfb_stalls;
    stats_.lfb_stall_ps += (lfb_free - issue) >> kFrac;
    issue = lfb_free;
    t_ = issue;
  }
  std::uint32_t tlb_cycles;
  if (mmu_.translate_fast(va, write, pa, tlb_cycles)) [[likely]] {
    issue += cycle_fp_ * tlb_cycles;
  } else {
    ++stats_.slow_translations;
    // Host prefetching (walk_credit_, core.h): a translation that faulted earns
    // no credit; the pages after a faulting access are mostly unmapped too (first
    // touches), so looking them up ahead prefetches nothing and costs the host
    // about as much as the walk's own reads.
    const std::uint64_t faults_before = mmu_.stats().faults;
    Translation tr = mmu_.translate_slow(va, write, ps(issue));
    if (mmu_.stats().faults == faults_before) walk_credit_ = std::min(walk_credit_ + kWalkCredit, kWalkCreditMax);
    if (!tr.ok) {
      cur_->fault_addr = va;
      cur_->exit = tr.fault == os::EntryResult::Ok ? os::EntryResult::Sigsegv : tr.fault;
      t_ = std::max(t_, fp(tr.ready));
      return Step::Killed;
    }
    if (tr.io_wait.value() != 0) [[unlikely]] {
      // The fault slept on I/O: the CPU is free from the end of the fault's work.
      t_ = std::max(t_, fp(tr.ready - tr.io_wait));
      if (!in_fill_) {
        block_wake_fp_ = fp(tr.ready);
        return Step::Blocked;  // the access is retried after the wake-up
      }
      sleep_in_place(ps(std::max(t_, fp(tr.ready)) - t_));
    }
    issue = std::max(issue, fp(tr.ready));
    t_ = std::max(t_, issue);
    pa = tr.pa;
  }
  if (sync_every_access_) [[unlikely]] sync_before_access(issue);
  bool miss = false;
  const std::uint64_t done = issue + fp(mem.access(cpu_, pa, write, ps(issue), miss));
  if (miss) {
    ++stats_.l1_misses;
    lfb_.replace_earliest(done);  // the fill buffer that frees first (free at `issue` by the check above)
  }
  if (!write) last_load_done_ = done;
  if (done > max_done_) max_done_ = done;
  return Step::Done;
}

void Core::verify_access(const Op& op, std::uint64_t expected, std::uint64_t token, PhysAddr pa) {
  if (!tokens_ || !tokens_->enabled()) return;
  const std::uint64_t pfn = pa >> kPageShift;
  const bool store = op.kind == OpKind::Store;
  ++(store ? stats_.verify_stores : stats_.verify_loads);
  const std::uint64_t found = tokens_->get(pfn);
  if (store) tokens_->set(pfn, token);
  if (found == expected) [[likely]]
    return;
  ++stats_.verify_mismatches;
  if (verify_mismatches_.size() < kMaxVerifyMismatches)
    verify_mismatches_.push_back(
        VerifyMismatch{cur_->name, cur_->pid, op.addr, pa, expected, found, local_time(), store});
}

void Core::drain() {
  if (max_done_ > t_) t_ = max_done_;
}

void Core::reach(std::uint64_t target) {
  TimeOrder& la = time_order;
  const std::uint64_t now = sc_now_ps();
  const bool mine = la.owner == this;
  const std::uint64_t reached = mine ? std::max(now, la.reached_ps) : now;
  if (target <= reached) {
    // No wait. At SystemC's own time, a core due now that began waiting earlier still goes
    // first (after skipped waits nothing else is due: the horizon was later).
    if (reached == now && la.lookahead) take_turn(now);
    return;
  }
  if (la.lookahead && !la.skips_disabled) {
    if (!mine || target >= la.horizon_ps) {
      // Ask SystemC when another process can act next: zero when one is runnable now, else
      // its earliest timed notification. Until this core waits, only it can add activity
      // (kick() settles first), so the answer holds for its next accesses too.
      const sc_core::sc_time gap = sc_core::sc_time_to_pending_activity();
      const std::uint64_t units_left = (~0ull - now) / ps_per_unit();
      la.horizon_ps = gap.value() >= units_left ? ~0ull : now + from_sc(gap);
      if (!mine) {
        la.owner = this;
        la.reached_ps = now;
      }
    }
    // Strictly before: at a tie take_turn decides, as without skipped waits.
    if (target < la.horizon_ps) {
      la.reached_ps = target;
      ++stats_.skipped_waits;
      return;
    }
  }
  la.owner = nullptr;  // others run during the wait
  if (!la.lookahead) {
    sc_core::wait(to_sc(Picoseconds(target - now)));
    return;
  }
  become_due(target);
  sc_core::wait(to_sc(Picoseconds(target - now)));
  take_turn(target);
  become_due(kNotDue);
}

void Core::become_due(std::uint64_t at_ps) {
  TimeOrder::Due& d = time_order.due[static_cast<std::size_t>(cpu_.value())];
  d.at_ps = at_ps;
  if (at_ps != kNotDue) d.since = ++time_order.waits_begun;
}

void Core::take_turn(std::uint64_t now) {
  // SystemC runs processes due at one time in an order of its own (its event queue's, which
  // depends on the history of every wait, the skipped ones too); the access order at equal
  // stamps is the order in which the cores began their waits instead: while a core due at
  // this same time that began waiting earlier has not run, let it run first. Such a core was
  // woken now, so it is runnable now. (Waits begin in the same order with or without the
  // skipped ones: those had no other process to let run.) A core not due now (woken by a
  // kick, or at an access stamped no later than now) goes after every core due now.
  const TimeOrder& la = time_order;
  const TimeOrder::Due& mine = la.due[static_cast<std::size_t>(cpu_.value())];
  const std::uint64_t since = mine.at_ps == now ? mine.since : ~0ull;
  for (;;) {
    if (!sc_core::sc_pending_activity_at_current_time()) return;
    bool earlier_due = false;
    for (const TimeOrder::Due& d : la.due) earlier_due |= d.at_ps == now && d.since < since;
    if (!earlier_due) return;
    time_order.owner = nullptr;
    sc_core::wait(sc_core::SC_ZERO_TIME);
  }
}

void Core::settle_skipped_waits() {
  TimeOrder& la = time_order;
  if (!la.owner) return;
  const std::uint64_t now = sc_now_ps();
  const std::uint64_t reached = la.reached_ps;
  la.owner = nullptr;
  // Nothing else can act before `reached` (the horizon was later): the wait resumes this core alone.
  if (reached > now) sc_core::wait(to_sc(Picoseconds(reached - now)));
}

void Core::sync() {
  ++stats_.syncs;
  const std::uint64_t target = t_ >> kFrac;
  const std::uint64_t now = machine_now_ps();
  if (sync_every_access_) {
    wait_until(target);
  } else if (target > now) {
    sc_->qk.set(to_sc(Picoseconds(target - now)));
    sc_->qk.sync();  // wait()s for the local time
  } else {
    sc_->qk.reset();
  }
  set_deadline();
  if (t_ >= next_timer_fp_ && sched_) run_timers();
}

void Core::set_deadline() {
  if (sync_every_access_) {
    deadline_ = ~0ull;  // sync_before_access synchronises every access instead
    return;
  }
  // Next quantum boundary after the local time, counted from the machine's epoch (as
  // tlm_quantumkeeper aligns to multiples of the global quantum) so that runs are
  // identical whatever SystemC time the machine started at.
  const std::uint64_t now = t_ >> kFrac;
  deadline_ = fp(Picoseconds((now / quantum_ps_ + 1) * quantum_ps_));
}

std::uint64_t Core::machine_now_ps() const {
  const std::uint64_t now = sc_now_ps();
  const TimeOrder& la = time_order;
  return (la.owner == this ? std::max(now, la.reached_ps) : now) - epoch_.value();
}

Picoseconds Core::now() {
  flush();
  drain();
  return local_time();
}

void Core::flush() {
  settle_pending_sleep();
  if (!cur_ || batch_.empty()) return;
  if (cur_->killed) {
    batch_.clear();
    return;
  }
  const bool in_fill = in_fill_;
  in_fill_ = true;  // ops run from inside a program's call: they neither block nor yield
  if (execute(batch_.begin(), batch_.end()) == Step::Killed) cur_->killed = true;
  in_fill_ = in_fill;
  batch_.clear();
}

template <class Call>
long Core::syscall(Call&& call) {
  flush();
  if (!cur_ || cur_->killed) return -ESRCH;
  drain();
  ++stats_.syscalls;
  ++cur_->syscalls;
  if (!os_) return -ENOSYS;  // the kernel entry needs the task: hw::Machine always gives one
  os::KernelCost cost;
  os_->syscall_enter(cur_->task, local_time());
  const long r = call(*os_, cur_->task, cost);
  const std::uint64_t dt = cycle_fp_ * cost.cycles.value() + fp(cost.memory);
  t_ += dt;
  stats_.syscall_ps += dt >> kFrac;
  if (cost.io_wait.value()) {
    if (fill_can_block_ && !cur_->killed)
      pending_wake_fp_ = t_ + fp(cost.io_wait);  // blocks when the program's batch is complete
    else
      sleep_in_place(cost.io_wait);
  }
  return r;
}

long Core::sys_mmap(VirtAddr addr, std::uint64_t len, int prot, int flags, int fd, std::uint64_t offset) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) {
    return k.sys_mmap(t, addr, len, prot, flags, fd, offset, c);
  });
}
long Core::sys_munmap(VirtAddr addr, std::uint64_t len) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.sys_munmap(t, addr, len, c); });
}
long Core::sys_mprotect(VirtAddr addr, std::uint64_t len, int prot) {
  return syscall(
      [&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.sys_mprotect(t, addr, len, prot, c); });
}
long Core::sys_madvise(VirtAddr addr, std::uint64_t len, int advice) {
  return syscall(
      [&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.sys_madvise(t, addr, len, advice, c); });
}
long Core::sys_msync(VirtAddr addr, std::uint64_t len, int flags) {
  return syscall(
      [&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.sys_msync(t, addr, len, flags, c); });
}
long Core::sys_brk(VirtAddr addr) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.sys_brk(t, addr, c); });
}
long Core::sys_mbind(VirtAddr addr, std::uint64_t len, int mode, const unsigned long* nodemask, unsigned long maxnode,
                     unsigned flags) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) {
    return k.sys_mbind(t, addr, len, mode, nodemask, maxnode, flags, c);
  });
}
long Core::sys_set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) {
    return k.sys_set_mempolicy(t, mode, nodemask, maxnode, c);
  });
}
long Core::sys_get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, VirtAddr addr,
                             unsigned long flags) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) {
    return k.sys_get_mempolicy(t, mode, nodemask, maxnode, addr, flags, c);
  });
}
long Core::sys_move_pages(unsigned long count, const VirtAddr* pages, const int* nodes, int* status, int flags) {
  return syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) {
    return k.sys_move_pages(t, 0 /*pid: self*/, count, pages, nodes, status, flags, c);
  });
}

// File system calls: forwarded as the others; a read that misses the page cache,
// fsync and a dirty-throttled write return their wait in cost.io_wait (the task sleeps).
#define NUMASIM_CORE_SYSCALL(expr) \
  syscall([&](os::KernelEntry& k, os::task_struct* t, os::KernelCost& c) { return k.expr; })
long Core::sys_open(const std::string& path, int flags, unsigned mode) {
  return NUMASIM_CORE_SYSCALL(sys_open(t, path, flags, mode, c));
}
long Core::sys_creat(const std::string& path, unsigned mode) { return NUMASIM_CORE_SYSCALL(sys_creat(t, path, mode, c)); }
long Core::sys_close(int fd) { return NUMASIM_CORE_SYSCALL(sys_close(t, fd, c)); }
long Core::sys_read(int fd, VirtAddr buf, std::uint64_t count) {
  return NUMASIM_CORE_SYSCALL(sys_read(t, fd, buf, count, c));
}
long Core::sys_write(int fd, VirtAddr buf, std::uint64_t count) {
  return NUMASIM_CORE_SYSCALL(sys_write(t, fd, buf, count, c));
}
long Core::sys_pread64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) {
  return NUMASIM_CORE_SYSCALL(sys_pread64(t, fd, buf, count, pos, c));
}
long Core::sys_pwrite64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) {
  return NUMASIM_CORE_SYSCALL(sys_pwrite64(t, fd, buf, count, pos, c));
}
long Core::sys_lseek(int fd, std::int64_t offset, int whence) {
  return NUMASIM_CORE_SYSCALL(sys_lseek(t, fd, offset, whence, c));
}
long Core::sys_ftruncate(int fd, std::int64_t length) { return NUMASIM_CORE_SYSCALL(sys_ftruncate(t, fd, length, c)); }
long Core::sys_fsync(int fd) { return NUMASIM_CORE_SYSCALL(sys_fsync(t, fd, c)); }
long Core::sys_fdatasync(int fd) { return NUMASIM_CORE_SYSCALL(sys_fdatasync(t, fd, c)); }
long Core::sys_unlink(const std::string& path) { return NUMASIM_CORE_SYSCALL(sys_unlink(t, path, c)); }
long Core::sys_fadvise64(int fd, std::int64_t offset, std::int64_t len, int advice) {
  return NUMASIM_CORE_SYSCALL(sys_fadvise64(t, fd, offset, len, advice, c));
}
long Core::sys_memfd_create(const char* name, unsigned flags) {
  return NUMASIM_CORE_SYSCALL(sys_memfd_create(t, name, flags, c));
}
long Core::sys_shmget(int key, std::uint64_t size, int shmflg) { return NUMASIM_CORE_SYSCALL(sys_shmget(t, key, size, shmflg, c)); }
long Core::sys_shmat(int shmid, VirtAddr addr, int shmflg) { return NUMASIM_CORE_SYSCALL(sys_shmat(t, shmid, addr, shmflg, c)); }
long Core::sys_shmdt(VirtAddr addr) { return NUMASIM_CORE_SYSCALL(sys_shmdt(t, addr, c)); }
long Core::sys_shmctl(int shmid, int cmd, std::uint64_t* segsz, std::uint64_t* nattch) {
  os::shmid_ds ds;
  const long r = NUMASIM_CORE_SYSCALL(sys_shmctl(t, shmid, cmd, segsz || nattch ? &ds : nullptr, c));
  if (r == 0 && cmd == os::IPC_STAT) {
    if (segsz) *segsz = ds.shm_segsz;
    if (nattch) *nattch = ds.shm_nattch;
  }
  return r;
}
#undef NUMASIM_CORE_SYSCALL

void Core::dump_stats(StatsVisitor& v, const std::string& prefix) const {
  const CoreStats& s = stats_;
  v.counter(prefix + ".line_accesses", s.line_accesses, "count", "cache-line accesses issued");
  v.counter(prefix + ".l1_misses", s.l1_misses, "count", "accesses that occupied a fill buffer");
  v.counter(prefix + ".lfb_stalls", s.lfb_stalls, "count", "stalls with every fill buffer busy");
  v.counter(prefix + ".lfb_stall_time", s.lfb_stall_ps, "ps", "time stalled on fill buffers");
  v.counter(prefix + ".dependent_waits", s.dependent_waits, "count", "dependent loads that waited");
  v.counter(prefix + ".dependent_wait_time", s.dependent_wait_ps, "ps", "time waiting for dependent loads");
  v.counter(prefix + ".slow_translations", s.slow_translations, "count", "accesses that missed the L1 TLB");
  v.counter(prefix + ".syscalls", s.syscalls, "count", "system calls");
  v.counter(prefix + ".syscall_time", s.syscall_ps, "ps", "time in system calls");
  v.counter(prefix + ".context_switches", s.context_switches, "count", "switches between tasks");
  v.counter(prefix + ".syncs", s.syncs, "count", "synchronisations with SystemC time");
  v.counter(prefix + ".skipped_waits", s.skipped_waits, "count",
            "quantum 0: waits for SystemC time left out because no other process could act first");
  v.counter(prefix + ".tasks_finished", s.tasks_finished, "count", "tasks that ran to their end");
  v.counter(prefix + ".tasks_killed", s.tasks_killed, "count", "tasks ended by a signal (SIGSEGV, SIGBUS, OOM kill)");
  v.counter(prefix + ".kthread_runs", s.kthread_runs, "count", "passes of kernel threads run on this CPU");
  v.counter(prefix + ".kthread_time", s.kthread_ps, "ps", "CPU time of kernel threads (their work)");
  v.counter(prefix + ".timers", s.timers, "count", "timer checks that fired timers");
  v.counter(prefix + ".timer_time", s.timer_ps, "ps", "time in timer callbacks");
  v.counter(prefix + ".idle_waits", s.idle_waits, "count", "times the CPU idled waiting for work");
  v.counter(prefix + ".idle_time", s.idle_ps, "ps", "time the CPU had nothing to run");
  v.counter(prefix + ".iowait_time", s.iowait_ps, "ps", "idle time while a task of this CPU slept on I/O");
  v.counter(prefix + ".iowait_sleeps", s.iowait_sleeps, "count", "sleeps of this CPU's tasks on I/O");
  v.counter(prefix + ".preemptions", s.preemptions, "count",
            "user tasks preempted inside a batch (kernel thread or I/O wake-up)");
  v.formula(prefix + ".l1_miss_ratio", safe_ratio(double(s.l1_misses), double(s.line_accesses)), "ratio",
            "L1D misses per line access");
}

}  // namespace numasim::hw

// libsystemc refers to sc_main; numasim programs have their own main() and start
// the simulation through hw::Machine, so this weak definition only satisfies the
// linker (a program that defines sc_main overrides it).
__attribute__((weak)) int sc_main(int, char**) {
  std::fprintf(stderr, "numasim: sc_main is not used; run simulations through hw::Machine\n");
  return 1;
}
