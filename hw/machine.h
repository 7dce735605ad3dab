// hw::Machine: the whole simulated machine built from a configuration: the
// topology, the memory system (caches, interconnect, DRAM controllers), the OS
// platform, the simulated kernel (os::Kernel), and per CPU an MMU and a core.
// Workloads are placed as tasks (OpSource programs) on CPUs; run() starts the
// SystemC simulation and returns when every task has finished. Owns every
// statistic of the hardware and dumps them hierarchically.
//
// Configuration read (all optional, Skylake-SP defaults): the topology
// ([machine], [[node]], [[link]]), [cpu] (CoreParams), [tlb] and [mmu]
// (MmuParams), [cache.*], [dram], [interconnect] (MemorySystemParams), [os]
// (os::KernelParams), [platform] (MachinePlatformParams), [block_device]
// (BlockDeviceParams), [sim] quantum, quantum0_lookahead and seed.
// Scheduling: each core runs the tasks placed on it round robin, and the
// kernel's threads (os::Kthreads: kswapd<N>, kcompactd<N>, khugepaged, the
// flusher) as tasks of their own when the kernel wakes them or their timers fire
// (see core.h); while any user task is unfinished every core runs (idle ones wait
// for wake-ups and timers). migrate_task moves a user task to another CPU. A
// task sleeping on I/O (os::KernelCost::io_wait, e.g. a swap-in) lets its CPU
// run other tasks until the completion (core.h, "Sleeping on I/O").
// Simplifications: one clock for every core ([cpu] frequency); the SystemC
// kernel is shared by every Machine of a process (build and run machines one
// after the other, not interleaved).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/topology.h"
#include "common/units.h"
#include "hw/block_device.h"
#include "hw/core.h"
#include "hw/machine_platform.h"
#include "hw/memory_system.h"
#include "hw/mmu.h"
#include "hw/op.h"
#include "hw/system_port.h"
#include "os/kernel.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

class StatsVisitor;

struct MachineParams {
  CoreParams core;
  MmuParams mmu;
  MemorySystemParams memory;
  os::KernelParams kernel;
  MachinePlatformParams platform;
  BlockDeviceParams block_device;  // swap and file I/O
  Picoseconds quantum = Picoseconds(1'000'000);  // 1 us; 0 = synchronise on every access
  bool quantum0_lookahead = false;               // Core: "Time order at quantum 0"
  std::uint64_t seed = 1;                        // for workloads and studies

  static MachineParams from_config(Config root);
};

class Machine {
 public:
  // Builds from the configuration root (call ConfigDocument::finish() afterwards to
  // report unknown keys); throws ConfigErrors on invalid values found while reading.
  explicit Machine(Config root);
  Machine(Topology topo, const MachineParams& params);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Places a new process running `program` on `cpu` (fresh address space). Returns its run
  // record (results after run()). Aborts on an invalid CPU.
  TaskRun* add_task(std::string name, std::unique_ptr<OpSource> program, CpuId cpu);
  // A thread of `leader`'s process (shares its address space) on `cpu`.
  TaskRun* add_thread(TaskRun* leader, std::unique_ptr<OpSource> program, CpuId cpu);

  // Moves a user task to `cpu` (sched_setaffinity has to allow it: cpu in its task's
  // cpus_allowed): a task that is running leaves at its next batch boundary, the
  // kernel's view (Kernel::migrate_task) changes when it leaves. False when not allowed.
  bool migrate_task(TaskRun* run, CpuId cpu);
  // The kernel threads' run records (name, CPU via task->cpu, kthread_runs, kernel_time),
  // in the kernel's creation order.
  const std::vector<std::unique_ptr<TaskRun>>& kthreads() const { return kthread_runs_; }

  // Runs the simulation until every task placed so far has finished; may be called again
  // after adding more tasks. Returns the simulated time this call took.
  Picoseconds run();
  // Current simulated time of this machine (0 when it was built).
  Picoseconds now() const;

  const Topology& topology() const { return topo_; }
  const MachineParams& params() const { return params_; }
  int num_cpus() const { return topo_.num_cpus(); }
  os::Kernel& kernel() { return *kernel_; }
  MemorySystem& memory() { return *memory_; }
  MachinePlatform& platform() { return *platform_; }
  Core& core(CpuId cpu) { return *cores_.at(static_cast<std::size_t>(cpu.value())); }
  Mmu& mmu(CpuId cpu) { return *mmus_.at(static_cast<std::size_t>(cpu.value())); }
  const std::vector<std::unique_ptr<TaskRun>>& tasks() const { return runs_; }
  // First CPU of a node (NodeId has CPUs), or CpuId(-1).
  CpuId first_cpu(NodeId node) const;

  // Hardware statistics: system.cpu<i>.core.*, system.cpu<i>.mmu.*, system.cpu<i>.dtlb.*,
  // the memory system's (system.cpu<i>.l1d.*, system.node<n>.mc.*, ...), system.platform.*.
  void dump_stats(StatsVisitor& v) const;
  // Every statistic as one JSON object {"name": value, ...}, sorted by name.
  std::string stats_json() const;
  void reset_stats();

 private:
  class Scheduler;
  TaskRun* kthread_run(os::task_struct* t);  // its run record (made on first use)

  Topology topo_;
  MachineParams params_;
  std::unique_ptr<MemorySystem> memory_;
  std::unique_ptr<MachinePlatform> platform_;
  std::unique_ptr<BlockDevice> block_device_;
  std::unique_ptr<os::Kernel> kernel_;
  std::unique_ptr<MemorySystemPort> port_;  // the cores' and walkers' MemoryPort
  std::vector<std::unique_ptr<Mmu>> mmus_;
  std::vector<std::unique_ptr<Core>> cores_;
  std::vector<std::unique_ptr<OpSource>> programs_;
  std::vector<std::unique_ptr<TaskRun>> runs_;
  std::vector<std::unique_ptr<TaskRun>> kthread_runs_;
  std::map<const os::task_struct*, TaskRun*> kthread_of_;  // lookup only (never iterated)
  std::unique_ptr<Scheduler> sched_;
  std::size_t live_user_ = 0;  // unfinished user tasks
  Picoseconds epoch_{0};  // SystemC time at construction: the machine's time 0
};

}  // namespace numasim::hw
