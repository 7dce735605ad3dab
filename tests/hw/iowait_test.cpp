// A task sleeping on I/O (os::KernelCost::io_wait) under SystemC with a stub
// memory and stub page tables: a fault that waits for I/O blocks its task, the
// CPU runs another task meanwhile (or idles, counted as iowait), the blocked
// task resumes at the completion time and retries its access; a system call
// that waits blocks after its program's batch; a kernel thread woken while a
// task runs a batch of long compute ops runs within a quantum (preemption
// inside the batch), not at the end of the batch.
#include <gtest/gtest.h>

#include <set>
#include <systemc>

#include "hw/core.h"
#include "tests/hw/hw_fakes.h"
#include "tests/hw/vector_source.h"

namespace numasim::hw {
namespace {

using testing::FakePageTables;
using testing::RecordingMemory;

constexpr Frequency kClock(2'000'000'000);  // 500 ps per cycle
constexpr Picoseconds kQuantum(1'000'000);  // 1 us
constexpr Picoseconds kIo(50'000'000);      // 50 us: the device's answer

using testing::VectorSource;

Op load(VirtAddr a) { return Op{a, 8, OpKind::Load, 0, 0}; }
Op compute(std::uint32_t c) { return Op{0, c, OpKind::Compute, 0, 0}; }
Op marker(std::uint32_t id) { return Op{0, id, OpKind::Marker, 0, 0}; }

// Demand paging where the pages in `swapped` are read from a device: the fault
// maps them and reports kIo of I/O wait; madvise reports kIo too.
struct IoOs : FakePageTables {
  std::set<VirtAddr> swapped;
  std::vector<Picoseconds> fault_entries;
  IoOs() {
    fault_cost = {Cycles(1000), Picoseconds(50'000)};
    on_fault = [this](VirtAddr va, bool) {
      map(va & ~0xfffull, 0x1'0000'0000ull + (va & ~0xfffull), PageSize::k4K, pte::kRw);
      return true;
    };
  }
  os::EntryResult page_fault(os::task_struct* t, VirtAddr va, bool write, Picoseconds now,
                             os::KernelCost& cost) override {
    fault_entries.push_back(now);
    if (swapped.erase(va & ~0xfffull)) cost.add_io_wait(kIo);
    return FakePageTables::page_fault(t, va, write, now, cost);
  }
  long sys_madvise(os::task_struct*, VirtAddr, std::uint64_t, int, os::KernelCost& cost) override {
    cost.add_cycles(2000);
    cost.add_io_wait(kIo);
    return 0;
  }
};

// The machine's side, for kernel threads: one timer that wakes `kthread`.
struct FakeScheduler : CpuScheduler {
  Core* core = nullptr;
  int live = 0;
  Picoseconds timer_at{~0ull};
  TaskRun* kthread = nullptr;
  std::vector<Picoseconds> kthread_ran;
  bool user_tasks_left() const override { return live > 0; }
  void task_ended(CpuId, TaskRun*) override {
    if (--live == 0) core->kick();
  }
  Picoseconds next_timer(CpuId) const override { return timer_at; }
  os::KernelCost run_timers(CpuId, Picoseconds now) override {
    if (now >= timer_at) {
      timer_at = Picoseconds(~0ull);
      core->wake_kthread(kthread);
    }
    return {};
  }
  bool run_kthread(CpuId, TaskRun*, Picoseconds now, os::KernelCost& cost) override {
    kthread_ran.push_back(now);
    cost.add_cycles(1000);
    return false;
  }
  void hand_over(TaskRun*) override {}
};

struct IoWaitFixture : ::testing::Test {
  RecordingMemory mem;
  IoOs os;
  CoreParams params;
  std::unique_ptr<Mmu> mmu;
  std::unique_ptr<Core> core;
  std::vector<std::unique_ptr<TaskRun>> runs;

  void SetUp() override {
    params.clock = kClock;
    set_global_quantum(kQuantum);
  }
  void build() {
    mmu = std::make_unique<Mmu>(CpuId(0), kClock, MmuParams{}, mem, os);
    core = std::make_unique<Core>(CpuId(0), NodeId(0), params, *mmu, mem, &os);
    core->set_epoch(Picoseconds(sc_core::sc_time_stamp().value()));  // 1 ps resolution: time 0 now
  }
  TaskRun* add(OpSource& src, const char* name, Asid asid) {
    runs.push_back(std::make_unique<TaskRun>());
    TaskRun* r = runs.back().get();
    r->name = name;
    r->source = &src;
    r->mmu_context = {os.cr3, asid, nullptr};
    core->add_task(r);
    return r;
  }
  void run() {
    core->spawn();
    sc_core::sc_start();
  }
};

// The faulting task's load is its first op: block at fault entry + fault work, wake kIo later
// plus the walk that follows the fault (part of the sleep: the retried access hits the TLB).
Picoseconds fault_work() { return kClock.to_time(Cycles(1000)) + Picoseconds(50'000); }
// That walk: four entry reads and four accessed-bit writes.
constexpr Picoseconds kWalk(8 * 100'000);

TEST_F(IoWaitFixture, BlockedTaskLetsAnotherTaskRunAndResumesAtCompletion) {
  build();
  os.swapped.insert(0x40000);
  VectorSource a({load(0x40000), marker(1)});
  std::vector<Op> bops;
  for (int i = 0; i < 40; ++i) bops.push_back(compute(1000));  // 20 us of work in 0.5 us ops
  bops.push_back(marker(2));
  VectorSource b(bops, 8);
  TaskRun* ra = add(a, "swapper", 1);
  TaskRun* rb = add(b, "compute", 2);
  run();
  ASSERT_TRUE(ra->finished && rb->finished);
  ASSERT_EQ(os.fault_entries.size(), 1u);
  const Picoseconds wake = os.fault_entries[0] + fault_work() + kIo;
  ASSERT_EQ(ra->markers.size(), 1u);
  ASSERT_EQ(rb->markers.size(), 1u);
  // The compute task ran (and finished) inside the swap wait.
  EXPECT_EQ(rb->start_time.value() > 0, true);
  EXPECT_LT(rb->markers[0].second, wake);
  EXPECT_GE(rb->markers[0].second - rb->start_time, kClock.to_time(Cycles(40'000)));
  // The blocked task resumed at the completion: its retried load hits the TLB, misses L1.
  EXPECT_GE(ra->markers[0].second, wake);
  EXPECT_LE(ra->markers[0].second, wake + kWalk + kClock.to_time(Cycles(3000 + 10)) + mem.latency);
  EXPECT_EQ(ra->iowait_count, 1u);
  EXPECT_GE(ra->iowait_sum, kIo);
  EXPECT_LE(ra->iowait_sum, kIo + kWalk);
  EXPECT_EQ(rb->iowait_count, 0u);
  // The CPU idled for the rest of the wait, all of it iowait.
  const CoreStats& s = core->stats();
  EXPECT_EQ(s.iowait_sleeps, 1u);
  EXPECT_GT(s.idle_ps, 0u);
  EXPECT_EQ(s.iowait_ps, s.idle_ps);
  EXPECT_LT(s.idle_ps, kIo.value() - kClock.to_time(Cycles(40'000)).value());
  EXPECT_GT(s.idle_ps, kIo.value() - kClock.to_time(Cycles(40'000 + 2 * 3000)).value());
  // One fault only: the retried access did not fault again.
  EXPECT_EQ(mmu->stats().faults, 1u);
}

TEST_F(IoWaitFixture, WokenTaskPreemptsALongRunningTaskWithinAQuantum) {
  build();
  os.swapped.insert(0x40000);
  VectorSource a({load(0x40000), marker(1)});
  std::vector<Op> bops;
  for (int i = 0; i < 400; ++i) bops.push_back(compute(1000));  // 200 us in one batch
  bops.push_back(marker(2));
  VectorSource b(bops);
  TaskRun* ra = add(a, "swapper", 1);
  TaskRun* rb = add(b, "compute", 2);
  run();
  ASSERT_TRUE(ra->finished && rb->finished);
  const Picoseconds wake = os.fault_entries.at(0) + fault_work() + kIo;
  // At the first quantum boundary after the wake-up (plus one 0.5 us op and the switch).
  EXPECT_GE(ra->markers.at(0).second, wake);
  EXPECT_LE(ra->markers.at(0).second, wake + kWalk + kQuantum + Picoseconds(500'000) +
                                           kClock.to_time(Cycles(3000)) + mem.latency);
  EXPECT_GT(rb->markers.at(0).second, ra->markers.at(0).second);  // the compute task went on afterwards
  EXPECT_GE(core->stats().preemptions, 1u);
  EXPECT_EQ(core->stats().idle_ps, 0u);  // never idle: the compute task filled the wait
  EXPECT_EQ(ra->compute_cycles + rb->compute_cycles, 400'000u);
}

TEST_F(IoWaitFixture, LoneTaskIdlesAsIowaitAndIsTimedAsBefore) {
  build();
  os.swapped.insert(0x40000);
  VectorSource a({load(0x40000), marker(1)});
  TaskRun* ra = add(a, "swapper", 1);
  run();
  const Picoseconds wake = os.fault_entries.at(0) + fault_work() + kIo;
  EXPECT_GE(ra->markers.at(0).second, wake);
  EXPECT_LE(ra->markers.at(0).second, wake + kWalk + mem.latency + kClock.to_time(Cycles(10)));
  EXPECT_GE(core->stats().iowait_ps, kIo.value());
  EXPECT_LE(core->stats().iowait_ps, (kIo + kWalk).value());
  EXPECT_EQ(core->stats().iowait_ps, core->stats().idle_ps);
  EXPECT_EQ(core->stats().context_switches, 0u);
}

TEST_F(IoWaitFixture, SystemCallWaitBlocksAfterTheBatchOfItsProgram) {
  build();
  VectorSource a({compute(10), marker(1)});
  bool called = false;
  Picoseconds call_end{0};
  a.before_fill = [&](OpBatch&, ThreadContext& ctx) {
    if (called) return;
    called = true;
    ctx.sys_madvise(0x40000, 4096, 3 /*MADV_WILLNEED*/);
    call_end = core->local_time();
  };
  std::vector<Op> bops;
  for (int i = 0; i < 20; ++i) bops.push_back(compute(1000));
  bops.push_back(marker(2));
  VectorSource b(bops, 4);
  TaskRun* ra = add(a, "caller", 1);
  TaskRun* rb = add(b, "compute", 2);
  run();
  ASSERT_TRUE(ra->finished && rb->finished);
  // The ops the program added after the call ran after the wake-up; the other task ran meanwhile.
  EXPECT_GE(ra->markers.at(0).second, call_end + kIo);
  EXPECT_LT(rb->markers.at(0).second, call_end + kIo);
  EXPECT_EQ(ra->iowait_count, 1u);
  EXPECT_EQ(ra->iowait_sum, kIo);
}

TEST_F(IoWaitFixture, SystemCallWaitBeforeAnotherCallSleepsInPlace) {
  build();
  VectorSource a({marker(1)});
  Picoseconds first{0}, second{0};
  a.before_fill = [&](OpBatch&, ThreadContext& ctx) {
    ctx.sys_madvise(0x40000, 4096, 3);
    first = core->local_time();
    second = ctx.now();  // the program looks at the time: the sleep happened
  };
  std::vector<Op> bops(10, compute(1000));
  VectorSource b(bops);
  add(a, "caller", 1);
  add(b, "compute", 2);
  run();
  EXPECT_EQ(second, first + kIo);
  EXPECT_EQ(core->stats().iowait_ps, kIo.value());
}

TEST_F(IoWaitFixture, KernelThreadWokenDuringLongComputeOpsRunsWithinAQuantum) {
  build();
  FakeScheduler sched;
  sched.core = core.get();
  core->set_scheduler(&sched);
  TaskRun k;
  k.name = "kswapd0";
  k.kthread = true;
  sched.kthread = &k;
  sched.timer_at = Picoseconds(10'000'000);  // 10 us
  // One batch of 512 compute ops of 10 us each: 5.12 ms before the batch ends.
  std::vector<Op> ops(512, compute(20'000));
  VectorSource a(ops);
  TaskRun* ra = add(a, "busy", 1);
  sched.live = 1;
  run();
  ASSERT_TRUE(ra->finished);
  ASSERT_EQ(sched.kthread_ran.size(), 1u);
  // Woken at the quantum boundary after 10 us; runs after the op in flight (10 us) at most.
  EXPECT_LE(sched.kthread_ran[0], Picoseconds(10'000'000) + kQuantum + Picoseconds(10'000'000) +
                                      kClock.to_time(Cycles(3000)));
  EXPECT_EQ(core->stats().preemptions, 1u);
  EXPECT_EQ(ra->compute_cycles, 512u * 20'000u);  // nothing lost or repeated
  EXPECT_EQ(ra->ops, 512u);
}

}  // namespace
}  // namespace numasim::hw
