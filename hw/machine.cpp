// hw::Machine: construction from the configuration, task placement, the run
// loop and the statistics dump (see machine.h).
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include "hw/machine.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <systemc>

#include "common/config.h"
#include "common/trace.h"
#include "hw/hw_stats.h"
#include "os/syscalls.h"

namespace numasim::hw {

namespace {
Picoseconds sc_now() {
  return Picoseconds(sc_core::sc_time_stamp().value() *
                     static_cast<std::uint64_t>(sc_core::sc_get_time_resolution().to_seconds() * 1e12 + 0.5));
}
}  // namespace

MachineParams MachineParams::from_config(Config root) {
  MachineParams p;
  p.core = CoreParams::from_config(root.table("cpu", "cores"));
  p.mmu = MmuParams::from_config(root);
  p.memory = MemorySystemParams::from_config(root);
  p.memory.core_clock = p.core.clock;
  p.memory.super_queue = p.core.super_queue;
  p.memory.line_fill_buffers = p.core.line_fill_buffers;
  Config os_table = root.table("os", "simulated kernel");
  p.kernel = os::KernelParams::from_config(os_table);
  // The kernel can build LA57 tables, but hw's walker (hw/mmu.cpp) walks four
  // levels: a machine that cannot run is a configuration error, not a wrong walk.
  if (p.kernel.pgtable_levels != 4)
    os_table.error("pgtable_levels", "5-level paging (LA57) is not supported by the hardware page walker yet; "
                                     "expected 4");
  p.platform = MachinePlatformParams::from_config(root.table("platform", "IPIs and kernel traffic"));
  p.block_device = BlockDeviceParams::from_config(root.table("block_device", "swap and file device"));
  // NVMe swap areas are partitions of the block device, laid out one after another.
  std::uint64_t swap_bytes = 0;
  for (const os::SwapAreaParams& a : p.kernel.swap.areas)
    if (a.device == os::SwapDevice::Nvme) swap_bytes += a.size_bytes / 4096 * 4096;
  if (swap_bytes > p.block_device.capacity.value())
    os_table.error("swap", "the NVMe swap areas need " + std::to_string(swap_bytes >> 20) +
                               " MiB, more than [block_device] capacity (" +
                               std::to_string(p.block_device.capacity.value() >> 20) + " MiB)");
  Config sim = root.table("sim", "simulation control");
  p.quantum = sim.get<Picoseconds>("quantum", p.quantum,
                                   "how far a core may run ahead of SystemC time (0: sync every access)",
                                   {Picoseconds(0), Picoseconds(1'000'000'000'000ull)});
  p.quantum0_lookahead =
      sim.get<bool>("quantum0_lookahead", p.quantum0_lookahead,
                    "quantum 0: skip a core's wait when no other process is due before its access (faster), and "
                    "order accesses at equal stamps by when the cores began waiting (else SystemC's order)");
  p.seed = sim.get<std::uint64_t>("seed", p.seed, "seed of every workload and study RNG");
  return p;
}

// The cores' view of the machine's scheduling state (core.h, CpuScheduler).
class Machine::Scheduler final : public CpuScheduler {
 public:
  explicit Scheduler(Machine& m) : m_(m) {}
  bool user_tasks_left() const override { return m_.live_user_ > 0; }
  void task_ended(CpuId, TaskRun* run) override {
    if (run->kthread || m_.live_user_ == 0) return;
    if (--m_.live_user_ == 0)
      for (auto& c : m_.cores_) c->kick();
  }
  Picoseconds next_timer(CpuId cpu) const override { return m_.platform_->next_timer(cpu); }
  os::KernelCost run_timers(CpuId cpu, Picoseconds now) override { return m_.platform_->run_timers(cpu, now); }
  bool run_kthread(CpuId cpu, TaskRun* run, Picoseconds now, os::KernelCost& cost) override {
    m_.platform_->enter_kernel(cpu, now);
    return m_.kernel_->kthreads().run(run->task, cost);
  }
  void hand_over(TaskRun* run) override {
    const CpuId to(run->migrate_to);
    run->migrate_to = -1;
    if (!m_.kernel_->migrate_task(run->task, to)) {
      std::fprintf(stderr, "numasim: internal error: migration of %s to CPU %d refused\n", run->name.c_str(),
                   to.value());
      std::abort();
    }
    NUMASIM_TRACE(sched, m_.core(to).local_time(), to.value(), "sched_migrate_task comm=%s pid=%d dest_cpu=%d",
                  run->name.c_str(), run->pid, to.value());
    m_.core(to).add_task(run);
  }

 private:
  Machine& m_;
};

Machine::Machine(Config root) : Machine(Topology::from_config(root), MachineParams::from_config(root)) {
  root.document().check();
}

Machine::Machine(Topology topo, const MachineParams& params) : topo_(std::move(topo)), params_(params) {
  epoch_ = sc_now();
  params_.memory.core_clock = params_.core.clock;
  params_.memory.super_queue = params_.core.super_queue;
  params_.memory.line_fill_buffers = params_.core.line_fill_buffers;
  memory_ = std::make_unique<MemorySystem>(topo_, params_.memory);
  platform_ = std::make_unique<MachinePlatform>(topo_, *memory_, params_.core.clock, params_.platform);
  block_device_ = std::make_unique<BlockDevice>(params_.block_device, "system.block_device");
  platform_->attach_block_device(block_device_.get());
  kernel_ = std::make_unique<os::Kernel>(topo_, params_.kernel, *platform_);
  port_ = std::make_unique<MemorySystemPort>(*memory_);
  std::vector<Mmu*> mmus;
  std::vector<Core*> cores;
  for (int c = 0; c < topo_.num_cpus(); ++c) {
    const CpuId cpu(c);
    mmus_.push_back(std::make_unique<Mmu>(cpu, params_.core.clock, params_.mmu, *port_, *kernel_,
                                          MmuDirect{memory_.get(), &kernel_->pgtables()}));
    cores_.push_back(std::make_unique<Core>(cpu, topo_.cpu_node(cpu), params_.core, *mmus_.back(), *port_, kernel_.get(),
                                            memory_.get()));
    cores_.back()->set_epoch(epoch_);
    mmus.push_back(mmus_.back().get());
    cores.push_back(cores_.back().get());
  }
  platform_->attach(std::move(mmus), std::move(cores));
  sched_ = std::make_unique<Scheduler>(*this);
  for (auto& c : cores_) c->set_scheduler(sched_.get());
  platform_->set_wake_handler([this](os::task_struct* t) {
    core(t->cpu).wake_kthread(kthread_run(t));
  });
  for (const auto& k : kernel_->kthreads().all()) kthread_run(&k->task);
  // NUMA balancing's task_numa_migrate: move the task to the allowed CPU of its
  // preferred node running the fewest unfinished user tasks (lowest id on ties).
  kernel_->numa_balancing().set_migrate_task_hook([this](os::task_struct* t, NodeId nid) {
    TaskRun* run = nullptr;
    for (const auto& r : runs_)
      if (r->task == t) run = r.get();
    if (!run || run->finished) return false;
    CpuId best(-1);
    std::size_t best_load = ~std::size_t{0};
    for (CpuId c : topo_.node(nid).cpus) {
      if (!t->cpus_allowed.test(static_cast<std::size_t>(c.value()))) continue;
      std::size_t load = 0;
      for (const auto& r : runs_) load += !r->finished && r.get() != run && r->task && r->task->cpu == c;
      if (load < best_load) best = c, best_load = load;
    }
    return best.value() >= 0 && migrate_task(run, best);
  });
}

TaskRun* Machine::kthread_run(os::task_struct* t) {
  auto it = kthread_of_.find(t);
  if (it != kthread_of_.end()) return it->second;
  auto run = std::make_unique<TaskRun>();
  run->name = t->comm;
  run->task = t;
  run->pid = t->pid;
  run->kthread = true;
  kthread_runs_.push_back(std::move(run));
  kthread_of_.emplace(t, kthread_runs_.back().get());
  return kthread_runs_.back().get();
}

bool Machine::migrate_task(TaskRun* run, CpuId cpu) {
  if (!run || run->kthread || run->finished || !run->task || !run->core || cpu.value() < 0 ||
      cpu.value() >= topo_.num_cpus() || !run->task->cpus_allowed.test(static_cast<std::size_t>(cpu.value())))
    return false;
  if (run->core == cores_[static_cast<std::size_t>(cpu.value())].get()) {
    run->migrate_to = -1;
    return true;
  }
  run->migrate_to = cpu.value();
  // Running now (its core is inside its batch): it leaves at its next batch boundary.
  if (run->core->busy() && run->core->current() == run) {
    run->core->kick();
    return true;
  }
  run->core->remove_task(run);
  sched_->hand_over(run);
  return true;
}

Machine::~Machine() = default;

CpuId Machine::first_cpu(NodeId node) const {
  const auto& n = topo_.node(node);
  return n.cpus.empty() ? CpuId(-1) : n.cpus.front();
}

TaskRun* Machine::add_task(std::string name, std::unique_ptr<OpSource> program, CpuId cpu) {
  if (cpu.value() < 0 || cpu.value() >= topo_.num_cpus()) {
    std::fprintf(stderr, "numasim: add_task(%s): no CPU %d (machine has %d)\n", name.c_str(), cpu.value(),
                 topo_.num_cpus());
    std::abort();
  }
  os::CpuMask allowed;
  allowed.set(static_cast<std::size_t>(cpu.value()));
  os::task_struct* t = kernel_->create_task(name, cpu, allowed);
  if (!t) {
    std::fprintf(stderr, "numasim: add_task(%s): the kernel could not create the task (out of memory)\n",
                 name.c_str());
    std::abort();
  }
  auto run = std::make_unique<TaskRun>();
  run->name = std::move(name);
  run->source = program.get();
  run->task = t;
  run->pid = t->pid;
  run->mmu_context = {kernel_->pgd_phys(*t->mm), kernel_->asid(*t->mm), t};
  programs_.push_back(std::move(program));
  cores_[static_cast<std::size_t>(cpu.value())]->add_task(run.get());
  runs_.push_back(std::move(run));
  ++live_user_;
  return runs_.back().get();
}

TaskRun* Machine::add_thread(TaskRun* leader, std::unique_ptr<OpSource> program, CpuId cpu) {
  if (!leader || !leader->task || leader->finished || cpu.value() < 0 || cpu.value() >= topo_.num_cpus()) {
    std::fprintf(stderr, "numasim: add_thread: invalid leader or CPU %d\n", cpu.value());
    std::abort();
  }
  os::task_struct* t = kernel_->create_thread(leader->task, cpu);
  auto run = std::make_unique<TaskRun>();
  run->name = leader->name + "/" + std::to_string(t->pid);
  run->source = program.get();
  run->task = t;
  run->pid = t->pid;
  run->mmu_context = leader->mmu_context;
  run->mmu_context.task = t;
  programs_.push_back(std::move(program));
  cores_[static_cast<std::size_t>(cpu.value())]->add_task(run.get());
  runs_.push_back(std::move(run));
  ++live_user_;
  return runs_.back().get();
}

Picoseconds Machine::now() const { return sc_now() - epoch_; }

Picoseconds Machine::run() {
  set_global_quantum(params_.quantum);
  set_quantum0_lookahead(params_.quantum0_lookahead);
  const Picoseconds start = now();
  // While user work is left every CPU runs: idle ones take wake-ups and timers.
  bool any = false;
  if (live_user_ > 0)
    for (auto& c : cores_)
      if (!c->busy()) {
        c->spawn();
        any = true;
      }
  if (any) sc_core::sc_start();
  for (const auto& r : runs_) {
    if (!r->finished) {
      std::fprintf(stderr, "numasim: internal error: task %s did not finish\n", r->name.c_str());
      std::abort();
    }
  }
  return now() - start;
}

void Machine::dump_stats(StatsVisitor& v) const {
  memory_->dump_stats(v);
  for (std::size_t c = 0; c < cores_.size(); ++c) {
    const std::string cpu = "system.cpu" + std::to_string(c);
    cores_[c]->dump_stats(v, cpu + ".core");
    const Mmu& m = *mmus_[c];
    const MmuStats& s = m.stats();
    v.counter(cpu + ".mmu.walks", s.walks, "count", "page walks");
    v.counter(cpu + ".mmu.walk_reads", s.walk_reads, "count", "page-table entries read by walks");
    v.counter(cpu + ".mmu.walk_ad_writes", s.walk_ad_writes, "count", "accessed/dirty updates by walks");
    v.counter(cpu + ".mmu.walk_time", s.walk_ps, "ps", "time spent walking");
    v.counter(cpu + ".mmu.faults", s.faults, "count", "page faults raised");
    v.counter(cpu + ".mmu.fault_time", s.fault_ps, "ps", "time charged for page faults");
    v.counter(cpu + ".mmu.sigsegv", s.sigsegv, "count", "faults that ended in SIGSEGV");
    v.counter(cpu + ".mmu.sigbus", s.sigbus, "count", "faults that ended in SIGBUS");
    v.counter(cpu + ".mmu.general_protection", s.general_protection, "count", "non-canonical addresses (#GP, SIGSEGV)");
    v.counter(cpu + ".mmu.oom_kills", s.oom_kills, "count", "faults that ended in an OOM kill of the faulting task");
    v.formula(cpu + ".mmu.walk_latency", safe_ratio(double(s.walk_ps), double(s.walks)), "ps", "mean walk time");
    const auto& pwc = const_cast<Mmu&>(m).pwc().stats();
    v.counter(cpu + ".mmu.pwc.pml4e_hits", pwc.hits[0], "count", "walks starting at the PDPT");
    v.counter(cpu + ".mmu.pwc.pdpte_hits", pwc.hits[1], "count", "walks starting at the PD");
    v.counter(cpu + ".mmu.pwc.pde_hits", pwc.hits[2], "count", "walks starting at the PT");
    v.counter(cpu + ".mmu.pwc.misses", pwc.misses, "count", "walks starting at CR3");
    for (int level = 0; level < 2; ++level) {
      const TlbLevelStats& t = m.tlb().stats(level);
      const std::string base = cpu + (level == 0 ? ".dtlb.l1" : ".dtlb.stlb");
      for (int s = 0; s < kNumPageSizes; ++s) {
        const std::string sz = page_size_name(PageSize(s));
        v.counter(base + ".hits_" + sz, t.hits[s], "count", "hits on pages of this size");
        v.counter(base + ".misses_" + sz, t.misses[s], "count", "misses resolved to pages of this size");
      }
      v.formula(base + ".miss_ratio",
                safe_ratio(double(t.total_misses()), double(t.total_hits() + t.total_misses())), "ratio",
                "misses per lookup");
    }
  }
  const MachinePlatformStats& p = platform_->stats();
  v.counter("system.platform.kernel_read_bytes", p.kernel_read_bytes, "bytes", "kernel loads");
  v.counter("system.platform.kernel_write_bytes", p.kernel_write_bytes, "bytes", "kernel stores (PTEs, clearing)");
  v.counter("system.platform.kernel_copy_bytes", p.kernel_copy_bytes, "bytes", "kernel copies");
  v.counter("system.platform.streaming_write_bytes", p.streaming_write_bytes, "bytes",
            "kernel stores that bypassed the caches");
  v.counter("system.platform.kernel_memory_time", p.kernel_memory_ps, "ps", "time of kernel memory traffic");
  v.counter("system.platform.shootdowns", p.shootdowns, "count", "TLB shootdowns");
  v.counter("system.platform.ipis", p.ipis, "count", "IPIs sent");
  v.counter("system.platform.ipi_wait_time", p.ipi_wait_ps, "ps", "initiators' wait for acknowledgements");
  v.counter("system.platform.pages_flushed", p.pages_flushed, "count", "pages invalidated one by one");
  v.counter("system.platform.full_flushes", p.full_flushes, "count", "whole-ASID flushes");
  v.counter("system.platform.bios", p.bios, "count", "block I/O requests");
  v.counter("system.platform.wakeups", p.wakeups, "count", "kernel threads made runnable");
  v.counter("system.platform.timers_armed", p.timers_armed, "count", "timers armed (mod_timer)");
  v.counter("system.platform.timers_fired", p.timers_fired, "count", "timer callbacks run");
  block_device_->dump(v);
}

std::string Machine::stats_json() const {
  MapStatsVisitor v;
  dump_stats(v);
  std::string out = "{";
  bool first = true;
  char buf[64];
  for (const auto& [name, value] : v.values) {
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out += (first ? "\n  \"" : ",\n  \"") + name + "\": " + buf;
    first = false;
  }
  out += "\n}\n";
  return out;
}

void Machine::reset_stats() {
  memory_->reset_stats(now());
  for (auto& c : cores_) c->reset_stats();
  for (auto& m : mmus_) m->reset_stats();
  platform_->reset_stats();
  block_device_->reset_stats();
}

}  // namespace numasim::hw
