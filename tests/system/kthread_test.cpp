// Kernel threads on the simulated machine: daemons woken by their timers run on
// a CPU of their node (idle CPUs wake for them, busy ones are preempted at a
// batch boundary), their CPU time shows in the CPU statistics and delays the
// user task they preempt; kswapd woken by the kernel runs on its node; a
// CPU-less node's daemons run on the nearest node's CPUs (configs/cxl-tiered.toml);
// a user task migrates to another CPU and finishes there; the same
// configuration twice gives the same kernel-thread statistics.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/hw_stats.h"
#include "hw/machine.h"
#include "tests/system/small_machine.h"

namespace numasim::hw {
namespace {

// Computes for `batches` batches of 100k cycles (one op per batch), touching one line each time.
class Spin final : public OpSource {
 public:
  explicit Spin(int batches) : left_(batches) {}
  void start(ThreadContext& ctx) override {
    const long a = ctx.sys_mmap(0, 4096, 3 /*PROT_READ|PROT_WRITE*/, 0x22 /*MAP_PRIVATE|MAP_ANONYMOUS*/, -1, 0);
    ASSERT_GT(a, 0);
    base_ = static_cast<VirtAddr>(a);
  }
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    b.store(base_);
    b.compute(100'000);
    --left_;
    cpus_.push_back(ctx.cpu().value());
    return b.size();
  }
  bool done() const override { return left_ <= 0; }
  std::vector<int> cpus_;  // the CPU of each batch

 private:
  int left_;
  VirtAddr base_ = 0;
};

struct KthreadFigures {
  std::string name;
  int cpu;
  std::uint64_t runs;
  std::uint64_t time_ps;
  bool operator==(const KthreadFigures&) const = default;
};

std::vector<KthreadFigures> figures(const Machine& m) {
  std::vector<KthreadFigures> out;
  for (const auto& k : m.kthreads())
    out.push_back({k->name, k->task->cpu.value(), k->kthread_runs, k->kernel_time.value()});
  return out;
}

std::unique_ptr<Machine> build(ConfigDocument& doc) {
  auto m = std::make_unique<Machine>(doc.root());
  doc.finish();
  return m;
}

const TaskRun* kthread(const Machine& m, const std::string& name) {
  for (const auto& k : m.kthreads())
    if (k->name == name) return k.get();
  return nullptr;
}

// kcompactd every 100 us, khugepaged every 300 us; two ~1 ms user tasks on CPUs 0 and 2.
const char* kFastDaemons = "\n[os.kthreads]\nkcompactd_interval = \"100us\"\nkhugepaged_scan_sleep = \"300us\"\n";

struct SmallRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<Machine> m;
  TaskRun* t0 = nullptr;
  TaskRun* t2 = nullptr;
};

SmallRun run_small(const std::string& extra) {
  SmallRun r;
  r.doc = testing::small_machine(extra);
  r.m = build(*r.doc);
  r.t0 = r.m->add_task("spin0", std::make_unique<Spin>(24), CpuId(0));
  r.t2 = r.m->add_task("spin2", std::make_unique<Spin>(24), CpuId(2));
  r.m->run();
  return r;
}

TEST(KthreadSystem, TimerWokenDaemonsRunOnTheirNodesCpusAndTheirTimeIsCounted) {
  SmallRun r = run_small(kFastDaemons);
  Machine& m = *r.m;
  const Picoseconds end = std::max(r.t0->end_time, r.t2->end_time);
  ASSERT_GT(end, Picoseconds(1'000'000'000));  // about 1 ms
  // kcompactd<N> runs on its node's last CPU (idle here): one pass per 100 us of run.
  for (int n = 0; n < 2; ++n) {
    const TaskRun* kc = kthread(m, "kcompactd" + std::to_string(n));
    ASSERT_NE(kc, nullptr);
    EXPECT_EQ(m.topology().cpu_node(kc->task->cpu), NodeId(n));
    EXPECT_EQ(kc->task->cpu, CpuId(2 * n + 1));
    EXPECT_GE(kc->kthread_runs, end.value() / 100'000'000 - 1) << kc->name;
    EXPECT_LE(kc->kthread_runs, end.value() / 100'000'000) << kc->name;
    EXPECT_GT(kc->kernel_time, Picoseconds(0));
  }
  // khugepaged (CPU 0) preempted spin0 at least three times.
  const TaskRun* kh = kthread(m, "khugepaged");
  ASSERT_NE(kh, nullptr);
  EXPECT_EQ(kh->task->cpu, CpuId(0));
  EXPECT_GE(kh->kthread_runs, 3u);
  // kswapd and the flusher were never woken.
  EXPECT_EQ(kthread(m, "kswapd0")->kthread_runs, 0u);
  EXPECT_EQ(kthread(m, "kworker/u:flush")->kthread_runs, 0u);

  // The CPU statistics: each CPU's kernel-thread time is the sum of its threads' times.
  MapStatsVisitor v;
  m.dump_stats(v);
  for (int c = 0; c < m.num_cpus(); ++c) {
    std::uint64_t sum = 0, runs = 0;
    for (const auto& k : m.kthreads())
      if (k->task->cpu == CpuId(c)) sum += k->kernel_time.value(), runs += k->kthread_runs;
    const std::string p = "system.cpu" + std::to_string(c) + ".core.";
    EXPECT_EQ(v.values.at(p + "kthread_time"), double(sum)) << c;
    EXPECT_EQ(v.values.at(p + "kthread_runs"), double(runs)) << c;
  }
  EXPECT_GT(v.values.at("system.cpu1.core.kthread_time"), 0.0);
  // A kthread pass is timed: 500 cycles at 2.3 GHz plus its pgdat reads.
  const TaskRun* kc0 = kthread(m, "kcompactd0");
  EXPECT_GT(kc0->kernel_time.value() / kc0->kthread_runs, 217'000u);
  EXPECT_GT(v.values.at("system.platform.timers_fired"), 0.0);
}

TEST(KthreadSystem, PreemptingDaemonsDelayTheUserTaskByTheirTimeAndTheSwitches) {
  SmallRun quiet = run_small("");  // default intervals: nothing fires within 1 ms
  SmallRun busy = run_small(kFastDaemons);
  for (const auto& k : quiet.m->kthreads()) EXPECT_EQ(k->kthread_runs, 0u) << k->name;
  const TaskRun* kh = kthread(*busy.m, "khugepaged");
  const Picoseconds delay = busy.t0->end_time - quiet.t0->end_time;
  // spin0 lost at least khugepaged's time (plus two context switches per pass).
  const Picoseconds two_switches(2ull * 3000 * 1'000'000 / 2300);
  EXPECT_GE(delay, kh->kernel_time + two_switches * static_cast<std::int64_t>(kh->kthread_runs) -
                       Picoseconds(1'000'000));
  // spin2 on CPU 2 is not preempted by anything (kcompactd1 runs on CPU 3).
  EXPECT_EQ(busy.t2->end_time, quiet.t2->end_time);
}

TEST(KthreadSystem, SameConfigurationTwiceGivesTheSameKthreadStatistics) {
  SmallRun a = run_small(kFastDaemons);
  SmallRun b = run_small(kFastDaemons);
  EXPECT_EQ(figures(*a.m), figures(*b.m));
  EXPECT_EQ(a.m->stats_json(), b.m->stats_json());
}

TEST(KthreadSystem, KswapdWokenByTheKernelRunsOnItsNode) {
  auto doc = testing::small_machine();
  auto m = build(*doc);
  TaskRun* t = m->add_task("spin", std::make_unique<Spin>(4), CpuId(3));
  m->kernel().kthreads().wakeup_kswapd(NodeId(1));
  m->run();
  const TaskRun* k = kthread(*m, "kswapd1");
  EXPECT_EQ(k->kthread_runs, 1u);
  EXPECT_EQ(m->topology().cpu_node(k->task->cpu), NodeId(1));
  EXPECT_EQ(k->task->__state, os::TASK_INTERRUPTIBLE);
  EXPECT_TRUE(t->finished);
}

TEST(KthreadSystem, ACpuLessNodesKswapdRunsOnTheNearestNodesCpus) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/cxl-tiered.toml");
  auto m = build(*doc);
  const os::Kthread* kswapd2 = m->kernel().kthreads().kswapd(NodeId(2));
  ASSERT_NE(kswapd2, nullptr);
  // Node 2 (no CPUs) is at distance 14 from node 0 and 24 from node 1.
  for (int c = 0; c < m->num_cpus(); ++c)
    EXPECT_EQ(kswapd2->task.cpus_allowed.test(static_cast<std::size_t>(c)),
              m->topology().cpu_node(CpuId(c)) == NodeId(0))
        << c;
  m->add_task("spin", std::make_unique<Spin>(4), CpuId(3));
  m->kernel().kthreads().wakeup_kswapd(NodeId(2));
  m->run();
  const TaskRun* k = kthread(*m, "kswapd2");
  EXPECT_EQ(k->kthread_runs, 1u);
  EXPECT_EQ(m->topology().cpu_node(k->task->cpu), NodeId(0));
  EXPECT_GT(k->kernel_time, Picoseconds(0));
}

TEST(KthreadSystem, ATaskMigratesToAnotherCpuAndFinishesThere) {
  auto doc = testing::small_machine();
  auto m = build(*doc);
  auto prog = std::make_unique<Spin>(20);
  Spin* spin = prog.get();
  TaskRun* t = m->add_task("spin", std::move(prog), CpuId(0));
  EXPECT_FALSE(m->migrate_task(t, CpuId(2)));  // not in its cpus_allowed
  t->task->cpus_allowed.set(2);
  EXPECT_TRUE(m->migrate_task(t, CpuId(2)));  // before the run: moves at once
  EXPECT_EQ(t->task->cpu, CpuId(2));
  EXPECT_TRUE(t->task->mm->cpumask.test(2));
  m->run();
  EXPECT_TRUE(t->finished);
  ASSERT_FALSE(spin->cpus_.empty());
  for (int c : spin->cpus_) EXPECT_EQ(c, 2);
  MapStatsVisitor v;
  m->dump_stats(v);
  EXPECT_EQ(v.values.at("system.cpu0.core.tasks_finished"), 0.0);
  EXPECT_EQ(v.values.at("system.cpu2.core.tasks_finished"), 1.0);
}

// A program that asks the machine to move it to CPU 3 after its 5th batch, while it runs.
class Mover final : public OpSource {
 public:
  Mover(Machine& m, int batches) : m_(m), left_(batches) {}
  TaskRun* self = nullptr;
  std::vector<int> cpus_;
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    cpus_.push_back(ctx.cpu().value());
    if (cpus_.size() == 5) {
      EXPECT_TRUE(m_.migrate_task(self, CpuId(3)));
    }
    b.compute(100'000);
    --left_;
    return b.size();
  }
  bool done() const override { return left_ <= 0; }

 private:
  Machine& m_;
  int left_;
};

TEST(KthreadSystem, ARunningTaskLeavesAtItsNextBatchBoundary) {
  auto doc = testing::small_machine();
  auto m = build(*doc);
  auto prog = std::make_unique<Mover>(*m, 10);
  Mover* mover = prog.get();
  TaskRun* t = m->add_task("mover", std::move(prog), CpuId(0));
  mover->self = t;
  t->task->cpus_allowed.set(3);
  m->run();
  ASSERT_TRUE(t->finished);
  EXPECT_EQ(mover->cpus_, (std::vector<int>{0, 0, 0, 0, 0, 3, 3, 3, 3, 3}));
  EXPECT_EQ(t->task->cpu, CpuId(3));
  // Time goes on from where it left: it ends after 10 batches of 100k cycles.
  EXPECT_GE(t->end_time, Picoseconds(10ull * 100'000 * 1'000'000 / 2300));
}

}  // namespace
}  // namespace numasim::hw
