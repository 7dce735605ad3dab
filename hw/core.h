// A simulated CPU core: one SystemC thread that runs the tasks placed on it,
// executing each task's operation stream (hw/op.h) with cycle-approximate
// timing at the core's clock.
//
// Times are counted from the machine's epoch (the SystemC time it was built at),
// so that a machine behaves the same whenever it is built in a process.
// Timing model (DESIGN.md, Timing): loosely timed with temporal decoupling. The
// core keeps its own local time and runs ahead of SystemC time by at most the
// global quantum (tlm_utils::tlm_quantumkeeper); quantum 0 synchronises before
// every memory access, so that accesses of all cores reach the memory system in
// global time order (the reference mode, "Time order at quantum 0" below). Every
// memory op costs `mem_issue_cycles` to issue; a load or store is translated by
// the MMU (an L1 TLB hit adds its latency to the access; STLB hits, walks and
// faults stall the core), then timed by the memory system at its issue time. Memory-level
// parallelism: an access that misses L1 holds one of `line_fill_buffers` until
// it completes (a miss that also misses L2 holds one of the L2's `super_queue`
// entries as well, shared with the L2 streamer's prefetches: MemorySystem,
// uncore_super_queue.h); when all fill buffers are busy the core stalls until one frees; the core
// never waits for an independent access, but a load marked dependent waits
// for the previous load to complete (pointer chasing serialises). Markers,
// system calls, context switches and the end of a task drain every outstanding
// access.
//
// Hot path (TLB hit + L1 hit): no SystemC call, no virtual call, no allocation;
// one virtual call per batch of ops (OpSource::fill).
//
// Simplifications: no instruction fetch, no pipeline or ports beyond the issue
// cost, no store buffer (a store is an access like a load that nothing waits
// for), no L1 prefetchers (the L2 streamer is the memory system's); when all
// fill buffers are busy even an L1 hit waits;
// page walks are not synchronised in quantum-0 mode; round-robin scheduling of
// the tasks of one CPU at a fixed timeslice. A task
// the OOM killer chose while another task faulted is noticed at its next fault,
// batch boundary or context switch (not between two TLB hits of one batch).
//
// Kernel threads and timers (with a CpuScheduler attached, as hw::Machine does):
// a woken kernel thread waits in this CPU's kernel-thread queue and runs before
// the next user task, preempting the running one at its next batch boundary; each
// pass costs a context switch in and out (no address-space switch: a kernel
// thread has no mm) plus the KernelCost its work returned (cycles at the core
// clock and memory time), which is its CPU time. Timers due on this CPU fire at
// quantum boundaries and scheduling points. A CPU with nothing to run waits (in
// SystemC) for a wake-up, its next timer or the end of the machine's user work,
// so that timers and wake-ups reach idle CPUs; a core ends when no user task is
// left on the machine. A task may move to another CPU (CpuScheduler::hand_over);
// a running one leaves at its next batch boundary.
// Simplification: a wake-up from another CPU that ran ahead of SystemC time may be
// seen by an idle CPU up to one quantum early.
//
// Preemption inside a batch: at each quantum boundary (after every op with quantum
// 0) a running user task yields when a kernel thread is queued on its CPU or a
// task of its CPU finished its I/O sleep; the rest of its batch is kept in its
// TaskRun and runs when it is picked again (a kernel thread thus waits at most a
// quantum plus one op, not a whole batch of long compute ops). Ops are atomic:
// one compute op is never split.
//
// Sleeping on I/O (os::KernelCost::io_wait, e.g. a swap-in): a user task whose
// fault waits for I/O blocks (TASK_UNINTERRUPTIBLE) after the fault's CPU work,
// until the completion time (the walk that follows the fault is part of the
// sleep); its access is retried when it runs again (a TLB hit, unless the page
// went again). Meanwhile the CPU runs its other tasks and
// kernel threads, or idles (idle time, and iowait time while a task of this CPU
// sleeps on I/O: /proc/stat's idle and iowait). A woken task runs before the
// round robin resumes and preempts the running task at its next quantum
// boundary. Counted per task as iowait_count/iowait_sum (schedstat names) and
// per CPU. A system call that waits for I/O blocks the task when its program's
// batch is complete (the ops the program added after the call run after the
// wake-up); if the program reads the time or makes another call first, or the
// call happens in its start or finish, the task sleeps in place (the CPU idles
// until the completion: nothing else can run in the middle of a program's fill).
//
// Time order at quantum 0: an access reaches the memory system once SystemC time
// has reached its issue time, so every process that could act earlier has. With
// the lookahead ([sim] quantum0_lookahead = true; off by default) the wait is
// skipped when SystemC has nothing pending before that time
// (sc_time_to_pending_activity, asked again only once an access passes the
// answer): the wait would have resumed this core alone, so the core goes on and
// keeps the time the wait stands for (what SystemC time reads as for it) until
// it lets others run: it waits for real before notifying an idle core (kick),
// idling or ending, so nothing else sees the difference. A wait is real when
// another process is due at or before the access. At equal stamps the cores go
// in the order they began waiting (take_turn: a core woken at the same time as
// one that began waiting earlier and has not run yet yields a delta cycle; an
// idle core waking for its timer counts as due too): SystemC's own order among
// processes due at one time depends on the history of every wait, so skipping
// waits would change it. Same accesses, order and stamps with or without the
// skipped waits (tests/hw/quantum0_lookahead_test.cpp); against SystemC's order
// (the lookahead off) some accesses at equal stamps go in another order. Not
// ordered that way: page walks, and other SystemC processes due at the same time
// as an access (run_report's progress process samples in SystemC's order).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/completion_ring.h"
#include "hw/memory_port.h"
#include "hw/mmu.h"
#include "hw/op.h"
#include "os/kernel_cost.h"
#include "os/kernel_entry.h"

namespace numasim {
class Config;
}
namespace numasim::os {
class PageTokens;
}

namespace numasim::hw {

class MemorySystem;
class StatsVisitor;

struct CoreParams {
  Frequency clock = Frequency(2'300'000'000);  // Xeon Gold 6140 base clock
  std::uint32_t line_fill_buffers = 10;        // L1D fill buffers (outstanding L1 misses; Skylake: 10)
  std::uint32_t super_queue = 16;              // L2 super-queue entries (requests beyond L2; Skylake: 16)
  std::uint32_t mem_issue_cycles = 1;          // issue cost of a memory op
  std::uint32_t context_switch_cycles = 3000;  // switch between two tasks on one CPU
  Picoseconds timeslice = Picoseconds(4'000'000'000);  // 4 ms round-robin slice

  // [cpu] frequency, line_fill_buffers, super_queue, mem_issue_cycles, context_switch_cycles, timeslice.
  static CoreParams from_config(Config cpu);
};

class Core;
struct TaskRun;

// The machine's side of scheduling that a core calls (hw::Machine implements it).
class CpuScheduler {
 public:
  virtual ~CpuScheduler() = default;
  // Unfinished user tasks anywhere on the machine (idle cores wait while there are some).
  virtual bool user_tasks_left() const = 0;
  // A user task ended on `cpu`.
  virtual void task_ended(CpuId cpu, TaskRun* run) = 0;
  // Expiry of `cpu`'s next timer (Picoseconds(~0) when none).
  virtual Picoseconds next_timer(CpuId cpu) const = 0;
  // Fires `cpu`'s timers due at `now`; returns their cost.
  virtual os::KernelCost run_timers(CpuId cpu, Picoseconds now) = 0;
  // One pass of kernel thread `run`'s work on `cpu` at `now`, charged to `cost`; true when it
  // stays runnable.
  virtual bool run_kthread(CpuId cpu, TaskRun* run, Picoseconds now, os::KernelCost& cost) = 0;
  // `run` (taken off `from`'s queue) moves to the CPU it is migrating to (run->migrate_to).
  virtual void hand_over(TaskRun* run) = 0;
};

// How a task ended: ran to its end, or killed by SIGSEGV, SIGBUS or the OOM killer
// (the kernel entry's result type).
using TaskExit = os::EntryResult;
// "ok", "SIGSEGV", "SIGBUS", "oom-kill".
inline const char* task_exit_name(TaskExit e) { return os::entry_result_name(e); }

// One task's run on a core: its program, address space and results.
struct TaskRun {
  std::string name;
  OpSource* source = nullptr;
  os::task_struct* task = nullptr;  // may be null in tests
  MmuContext mmu_context;
  int pid = 0;
  bool kthread = false;    // a kernel thread (no source, no address space)
  Core* core = nullptr;    // the core whose queue holds it
  int migrate_to = -1;     // CPU it leaves for at its next batch boundary (-1: none)
  bool queued = false;     // kernel thread: in its core's kernel-thread queue

  // Sleeping on I/O until wake_time (since block_start), or preempted inside a batch: the
  // batch's ops from resume_op (its first op from resume_line) wait in saved_batch.
  bool blocked = false;
  Picoseconds wake_time{0};
  Picoseconds block_start{0};
  bool has_saved = false;
  std::size_t resume_op = 0;
  VirtAddr resume_line = ~0ull;  // ~0: the op from its start
  std::unique_ptr<OpBatch> saved_batch;

  // Results.
  bool started = false;
  bool finished = false;
  bool killed = false;  // by a signal: exit says which
  TaskExit exit = TaskExit::Ok;
  VirtAddr fault_addr = 0;  // the faulting address of a SIGSEGV/SIGBUS/OOM fault (0: killed from elsewhere)
  Picoseconds start_time{0};
  Picoseconds end_time{0};
  std::uint64_t ops = 0, loads = 0, stores = 0, line_accesses = 0, compute_cycles = 0, syscalls = 0;
  std::uint64_t kthread_runs = 0;  // kernel thread: passes of its work
  Picoseconds kernel_time{0};      // kernel thread: CPU time of its passes (work, no switches)
  // schedstat's iowait_count and iowait_sum (/proc/<pid>/sched): sleeps on I/O and their time.
  std::uint64_t iowait_count = 0;
  Picoseconds iowait_sum{0};
  std::vector<std::pair<std::uint32_t, Picoseconds>> markers;  // (id, drained local time)
  // Time between the first two markers with these ids (0 if absent).
  Picoseconds marker_interval(std::uint32_t from_id, std::uint32_t to_id) const;
};

struct CoreStats {
  std::uint64_t ops = 0, loads = 0, stores = 0, line_accesses = 0, l1_misses = 0;
  std::uint64_t compute_cycles = 0, lfb_stalls = 0, dependent_waits = 0, slow_translations = 0;
  std::uint64_t syscalls = 0, context_switches = 0, syncs = 0, tasks_finished = 0, tasks_killed = 0;
  std::uint64_t skipped_waits = 0;  // quantum 0: syncs that needed no SystemC wait (lookahead)
  std::uint64_t lfb_stall_ps = 0, dependent_wait_ps = 0, syscall_ps = 0;
  std::uint64_t kthread_runs = 0, kthread_ps = 0, timers = 0, timer_ps = 0, idle_waits = 0;
  // Idle time, the part of it while a task of this CPU slept on I/O (/proc/stat idle, iowait),
  // the tasks' sleeps on I/O, and user tasks preempted inside a batch.
  std::uint64_t idle_ps = 0, iowait_ps = 0, iowait_sleeps = 0, preemptions = 0;
  // Verify mode (ops with kOpVerify): stores (each checks the token it replaces
  // and writes its own), loads checked, checks that failed.
  std::uint64_t verify_stores = 0, verify_loads = 0, verify_mismatches = 0;
};

// A verified load that found another token than the workload last wrote.
struct VerifyMismatch {
  std::string task;  // TaskRun::name
  int pid = 0;
  VirtAddr va = 0;
  PhysAddr pa = 0;
  std::uint64_t expected = 0, found = 0;
  Picoseconds time{0};
  bool store = false;  // found by a store (the rest of the page it replaces), else a load
};

// Sets the global quantum of every core's quantum keeper (0: synchronise on every access).
void set_global_quantum(Picoseconds q);
Picoseconds global_quantum();
// Quantum 0's lookahead ("Time order at quantum 0"; [sim] quantum0_lookahead, off by default):
// take_turn's order at equal stamps and skipped waits. Tests disable the skipped waits alone
// (their reference: the same order with every wait real).
void set_quantum0_lookahead(bool on);
void disable_quantum0_skipped_waits(bool disabled);

class Core final : public ThreadContext {
 public:
  // `direct` (optional): the memory system, called without a virtual call on the hot path;
  // otherwise `port` is used. `os` (the kernel's entry for system calls and exit) may be
  // null (system calls then return -ENOSYS).
  Core(CpuId cpu, NodeId node, const CoreParams& params, Mmu& mmu, MemoryPort& port, os::KernelEntry* os,
       MemorySystem* direct = nullptr);
  ~Core() override;
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Places a task on this CPU (before or while the simulation runs).
  void add_task(TaskRun* run);
  // Takes a (not running) task off this CPU's queue.
  void remove_task(TaskRun* run);
  // The machine's scheduler (kernel threads, timers, migration, the end of the run).
  void set_scheduler(CpuScheduler* s) { sched_ = s; }
  // Kernel thread `run` became runnable on this CPU.
  void wake_kthread(TaskRun* run);
  // A timer of this CPU was armed; `next` is the CPU's first expiry now.
  void timer_armed(Picoseconds next);
  // Wakes an idle core to look at its queues again (a task arrived, the run ended).
  void kick();
  // The task this core runs or last ran (null before the first).
  TaskRun* current() const { return cur_; }
  // Spawns this core's SystemC thread; it runs every task placed on it and ends when none is
  // left. Call before sc_start().
  void spawn();
  // The thread body (spawn() runs it in an SC_THREAD).
  void run();

  // Local time: SystemC time since the epoch plus how far the core ran ahead.
  Picoseconds local_time() const { return Picoseconds(t_ >> kFrac); }
  // SystemC time that is time 0 of this core's machine (set before the first run).
  void set_epoch(Picoseconds epoch) { epoch_ = epoch; }
  const CoreParams& params() const { return params_; }
  Mmu& mmu() { return mmu_; }
  const CoreStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  void dump_stats(StatsVisitor& v, const std::string& prefix) const;
  bool busy() const { return running_; }
  // Verify mode: the kernel's page identity tokens that ops with kOpVerify write and
  // check (null: such ops are plain accesses). The first mismatches are kept.
  void set_page_tokens(os::PageTokens* tokens) { tokens_ = tokens; }
  const std::vector<VerifyMismatch>& verify_mismatches() const { return verify_mismatches_; }
  static constexpr std::size_t kMaxVerifyMismatches = 16;
  // Adds time to the core (e.g. an IPI handler interrupting it).
  void charge(Picoseconds t) { t_ += t.value() << kFrac; }

  // ThreadContext
  CpuId cpu() const override { return cpu_; }
  NodeId node() const override { return node_; }
  int pid() const override;
  Picoseconds now() override;
  void flush() override;
  long sys_mmap(VirtAddr addr, std::uint64_t len, int prot, int flags, int fd, std::uint64_t offset) override;
  long sys_munmap(VirtAddr addr, std::uint64_t len) override;
  long sys_mprotect(VirtAddr addr, std::uint64_t len, int prot) override;
  long sys_madvise(VirtAddr addr, std::uint64_t len, int advice) override;
  long sys_msync(VirtAddr addr, std::uint64_t len, int flags) override;
  long sys_brk(VirtAddr addr) override;
  long sys_mbind(VirtAddr addr, std::uint64_t len, int mode, const unsigned long* nodemask, unsigned long maxnode,
                 unsigned flags) override;
  long sys_set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) override;
  long sys_get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, VirtAddr addr,
                         unsigned long flags) override;
  long sys_move_pages(unsigned long count, const VirtAddr* pages, const int* nodes, int* status, int flags) override;
  long sys_open(const std::string& path, int flags, unsigned mode) override;
  long sys_creat(const std::string& path, unsigned mode) override;
  long sys_close(int fd) override;
  long sys_read(int fd, VirtAddr buf, std::uint64_t count) override;
  long sys_write(int fd, VirtAddr buf, std::uint64_t count) override;
  long sys_pread64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) override;
  long sys_pwrite64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) override;
  long sys_lseek(int fd, std::int64_t offset, int whence) override;
  long sys_ftruncate(int fd, std::int64_t length) override;
  long sys_fsync(int fd) override;
  long sys_fdatasync(int fd) override;
  long sys_unlink(const std::string& path) override;
  long sys_fadvise64(int fd, std::int64_t offset, std::int64_t len, int advice) override;
  long sys_memfd_create(const char* name, unsigned flags) override;
  long sys_shmget(int key, std::uint64_t size, int shmflg) override;
  long sys_shmat(int shmid, VirtAddr addr, int shmflg) override;
  long sys_shmdt(VirtAddr addr) override;
  long sys_shmctl(int shmid, int cmd, std::uint64_t* segsz, std::uint64_t* nattch) override;

 private:
  static constexpr unsigned kFrac = 12;  // local time in 1/4096 ps (exact sums of fractional cycles)
  static std::uint64_t fp(Picoseconds t) { return t.value() << kFrac; }
  static Picoseconds ps(std::uint64_t f) { return Picoseconds(f >> kFrac); }

  // How a run of ops ended: all ran, the task was killed, it sleeps on I/O (from the
  // access at stop_op_/stop_line_), or it yields to a kernel thread or a woken task
  // (from stop_op_).
  enum class Step : std::uint8_t { Done, Killed, Blocked, Preempted };
  static constexpr VirtAddr kNoLine = ~0ull;
  // Runs ops [begin, end) of the current task (the first from `first_line`).
  Step execute(const Op* begin, const Op* end, VirtAddr first_line = kNoLine);
  template <class Mem>
  Step execute_with(Mem& mem, const Op* begin, const Op* end, VirtAddr first_line);
  template <class Mem>
  Step access(Mem& mem, VirtAddr va, bool write, bool dependent, PhysAddr& pa);
  // I/O sleeps and preemption (see the header comment).
  bool preempt_due() const;
  std::uint64_t next_wake_fp() const;  // earliest wake-up of a blocked task here (~0: none)
  void park_current(Step s);           // keeps the rest of the batch; blocks on I/O for Blocked
  void unblock(TaskRun* run);
  void sleep_in_place(Picoseconds wait);  // the task sleeps and nothing else runs
  void settle_pending_sleep();
  void account_idle(std::uint64_t from_fp);
  // Verify mode: check that a kOpVerify op's frame holds `expected` (a load's
  // token, the token a store replaces); a store then writes `token`.
  void verify_access(const Op& op, std::uint64_t expected, std::uint64_t token, PhysAddr pa);
  void drain();
  void sync();               // catch SystemC time up with the local time
  void set_deadline();
  std::uint64_t machine_now_ps() const;
  void sync_before_access(std::uint64_t issue_fp);
  // Quantum 0: returns once SystemC time reaches `target_ps` (machine time), or at once when no
  // other process can act before it (the skipped wait is recorded, see "Time order at quantum 0").
  void wait_until(std::uint64_t target_ps);
  void reach(std::uint64_t target_abs_ps);  // wait_until's other cases (SystemC time, absolute)
  // Makes SystemC time reach what the running core's skipped waits stand for (before it notifies
  // another process, idles or ends).
  static void settle_skipped_waits();
  // Quantum 0's order at equal stamps: waits (delta cycles) while a core that began waiting
  // earlier is due at SystemC time `now_ps` (absolute) and has not run yet.
  void take_turn(std::uint64_t now_ps);
  // Quantum 0: this core waits for SystemC time `at_ps` (absolute; ~0: no longer).
  void become_due(std::uint64_t at_ps);
  // A system call of the current task: `call(kernel, task, cost)` runs it after the entry.
  template <class Call>
  long syscall(Call&& call);
  void switch_to(TaskRun* run);
  void end_task(TaskRun* run);
  // Scheduler loop pieces (kernel threads, timers, idling, migration).
  void run_timers();
  void run_kthread(TaskRun* run);
  void idle_wait();
  bool user_task_runnable() const;
  void hand_over_migrating();
  // The OOM killer chose this task while it ran elsewhere or waited: mark it killed.
  bool kill_pending(TaskRun* run);

  CpuId cpu_;
  NodeId node_;
  CoreParams params_;
  Mmu& mmu_;
  MemoryPort& port_;
  os::KernelEntry* os_;
  MemorySystem* direct_;

  std::uint64_t cycle_fp_;       // one cycle in 1/4096 ps
  std::uint64_t issue_fp_;
  Picoseconds l1_latency_;       // an access slower than this missed L1
  bool sync_every_access_ = false;
  std::uint64_t quantum_ps_ = 1;
  Picoseconds epoch_{0};

  std::uint64_t t_ = 0;              // local time, fixed point
  std::uint64_t deadline_ = 0;       // next quantum boundary, fixed point
  std::uint64_t last_load_done_ = 0;
  std::uint64_t max_done_ = 0;
  CompletionRing<std::uint64_t> lfb_;  // completion time of each fill buffer
  // Host prefetching for cores that walk often (no effect on results): each
  // translation that leaves the L1 TLB adds kWalkCredit (up to kWalkCreditMax),
  // each load or store takes one, and while more than kWalkCredit is left (two
  // such translations within the last kWalkCredit loads and stores: GUPS, not
  // a sequential stream's one per page) each load and store prefetches the
  // walk of the operation kWalkPrefetchAhead ahead (Mmu::prefetch_walk) and the
  // data look-ups of the one kDataPrefetchAhead ahead (Mmu::prefetch_data).
  static constexpr std::ptrdiff_t kWalkPrefetchAhead = 8, kDataPrefetchAhead = 3;
  static constexpr std::uint32_t kWalkCredit = 8, kWalkCreditMax = 64;
  std::uint32_t walk_credit_ = 0;
  // The page and line last prefetched that way: GUPS's load and store of one
  // word would otherwise prefetch the same walk and sets twice.
  VirtAddr walk_prefetched_page_ = ~0ull, data_prefetched_line_ = ~0ull;

  std::vector<TaskRun*> tasks_;
  std::vector<TaskRun*> kthread_rq_;  // runnable kernel threads, in wake-up order
  CpuScheduler* sched_ = nullptr;
  std::uint64_t next_timer_fp_ = ~0ull;  // first timer expiry (fixed point), ~0: none
  bool idle_ = false;                    // waiting in idle_wait
  TaskRun* cur_ = nullptr;
  bool running_ = false;
  OpBatch batch_;
  bool in_fill_ = false;
  bool fill_can_block_ = false;       // in the run loop's fill: a system call's I/O wait blocks after it
  std::uint64_t pending_wake_fp_ = 0;  // such a wait's end (0: none)
  std::uint64_t block_wake_fp_ = 0;    // Step::Blocked: the wake-up
  std::size_t stop_op_ = 0;            // Step::Blocked/Preempted: where the batch goes on
  VirtAddr stop_line_ = kNoLine;
  CoreStats stats_;
  os::PageTokens* tokens_ = nullptr;
  std::vector<VerifyMismatch> verify_mismatches_;

  struct Sc;  // SystemC state (quantum keeper), kept out of this header
  std::unique_ptr<Sc> sc_;
};

}  // namespace numasim::hw
