// Kernel threads with the fake Platform (manual clock): the boot daemons and
// where they are bound, wake-ups through wait queues, schedule_timeout sleeps
// fired by timers, the order of timers with equal expiry, per-task periodic work.
#include "os/kthread.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "tests/os/fake_platform.h"
#include "tests/os/kernel_fixture.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr Picoseconds kMs(1'000'000'000);

// Two sockets with two CPUs each, plus a CPU-less 1 GiB node nearer to node 1 (distance 14).
Topology tiered_topology() {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 2\ncores_per_socket = 2\ndistances = [[10, 21, 24], [21, 10, 14], [24, 14, 10]]\n"
      "[[node]]\nsocket = 0\nmemory = \"256MiB\"\n[[node]]\nsocket = 1\nmemory = \"256MiB\"\n"
      "[[node]]\ncpus = 0\nmemory = \"1GiB\"\n"
      "[[link]]\nnodes = [0, 1]\nlatency = \"27ns\"\nbandwidth = \"34.3GB/s\"\n"
      "[[link]]\nnodes = [1, 2]\nlatency = \"42ns\"\nbandwidth = \"32GB/s\"\n",
      "tiered.toml");
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

CpuMask mask(std::initializer_list<int> cpus) {
  CpuMask m;
  for (int c : cpus) m.set(static_cast<std::size_t>(c));
  return m;
}

class KthreadTest : public ::testing::Test {
 protected:
  KthreadTest() : topo_(testing::two_node_topology()) { k_ = std::make_unique<Kthreads>(topo_, params_, fake_); }
  // Runs every woken thread once, as the hardware's scheduler would; returns their names.
  std::vector<std::string> run_woken() {
    std::vector<std::string> names;
    std::vector<task_struct*> woken;
    woken.swap(fake_.woken);
    for (task_struct* t : woken) {
      KernelCost c;
      k_->run(t, c);
      names.push_back(t->comm);
    }
    return names;
  }

  Topology topo_;
  KthreadParams params_;
  FakePlatform fake_;
  std::unique_ptr<Kthreads> k_;
};

TEST_F(KthreadTest, BootCreatesTheMmDaemonsAsleepBoundToTheirNode) {
  std::vector<std::string> names;
  for (const auto& t : k_->all()) names.push_back(t->task.comm);
  EXPECT_EQ(names, (std::vector<std::string>{"kswapd0", "kcompactd0", "kswapd1", "kcompactd1", "khugepaged",
                                             "kworker/u:flush"}));
  for (const auto& t : k_->all()) {
    EXPECT_TRUE(t->task.flags & PF_KTHREAD) << t->task.comm;
    EXPECT_EQ(t->task.mm, nullptr) << t->task.comm;
    EXPECT_EQ(t->task.__state, TASK_INTERRUPTIBLE) << t->task.comm;
    EXPECT_TRUE(t->task.cpus_allowed.test(static_cast<std::size_t>(t->task.cpu.value()))) << t->task.comm;
  }
  EXPECT_EQ(k_->kswapd(NodeId(1))->task.cpus_allowed, mask({2, 3}));
  EXPECT_EQ(k_->kswapd(NodeId(1))->task.cpu, CpuId(2));
  EXPECT_EQ(k_->kcompactd(NodeId(1))->task.cpu, CpuId(3));
  EXPECT_EQ(k_->khugepaged()->task.cpus_allowed, mask({0, 1, 2, 3}));
  // User pids are untouched: kernel threads count down from PID_MAX_LIMIT - 1.
  EXPECT_EQ(k_->all().front()->task.pid, PID_MAX_LIMIT - 1);
  // kswapd sleeps until woken; the periodic daemons have their timeout armed.
  EXPECT_FALSE(k_->kswapd(NodeId(0))->timer.pending);
  EXPECT_TRUE(k_->kcompactd(NodeId(0))->timer.pending);
  EXPECT_EQ(k_->kcompactd(NodeId(0))->timer.expires, params_.kcompactd_interval);
  EXPECT_EQ(fake_.pending_timers(), 4u);
  EXPECT_TRUE(fake_.woken.empty());
}

TEST_F(KthreadTest, WakeupKswapdQueuesItOnceAndAPassChargesItsWorkThenSleeps) {
  Kthread* kswapd1 = k_->kswapd(NodeId(1));
  k_->wakeup_kswapd(NodeId(1));
  k_->wakeup_kswapd(NodeId(1));  // already runnable: no second wake-up
  ASSERT_EQ(fake_.woken.size(), 1u);
  EXPECT_EQ(fake_.woken[0], &kswapd1->task);
  EXPECT_EQ(kswapd1->task.__state, TASK_RUNNING);
  EXPECT_TRUE(kswapd1->wait.tasks.empty());

  fake_.calls.clear();
  KernelCost cost;
  EXPECT_FALSE(k_->run(&kswapd1->task, cost));  // sleeps again
  EXPECT_EQ(cost.cycles, Cycles(params_.pass_cycles));
  // It read node 1's pgdat lines from its own CPU.
  ASSERT_EQ(fake_.count(FakePlatform::Kind::Read), 1u);
  EXPECT_EQ(fake_.calls[0].cpu, CpuId(2));
  EXPECT_EQ(fake_.calls[0].addr, topo_.node(NodeId(1)).base);
  EXPECT_EQ(cost.memory, fake_.line_latency * 4);  // 256 bytes
  EXPECT_EQ(kswapd1->task.__state, TASK_INTERRUPTIBLE);
  EXPECT_EQ(kswapd1->wait.tasks, std::vector<task_struct*>{&kswapd1->task});
  EXPECT_EQ(kswapd1->nr_runs, 1u);
  EXPECT_EQ(kswapd1->nr_wakeups, 1u);
  EXPECT_EQ(kswapd1->cost.cycles, cost.cycles);
  // A sleeping thread's pass does nothing (a spurious schedule).
  KernelCost none;
  EXPECT_FALSE(k_->run(&kswapd1->task, none));
  EXPECT_EQ(none.cycles, Cycles(0));
  // Node 0's kswapd was never woken.
  EXPECT_EQ(k_->kswapd(NodeId(0))->nr_wakeups, 0u);
}

TEST_F(KthreadTest, TimeoutsWakeThePeriodicDaemonsAndRearmFromTheirPass) {
  fake_.advance_to(params_.kcompactd_interval - Picoseconds(1));
  EXPECT_TRUE(fake_.woken.empty());
  fake_.advance_to(params_.kcompactd_interval);
  // Equal expiry on two CPUs: CPU order (the fake's rule); both kcompactds wake.
  EXPECT_EQ(run_woken(), (std::vector<std::string>{"kcompactd0", "kcompactd1"}));
  Kthread* kc0 = k_->kcompactd(NodeId(0));
  EXPECT_TRUE(kc0->timer.pending);
  EXPECT_EQ(kc0->timer.expires, params_.kcompactd_interval * 2);  // armed at the end of its pass
  // Nine more kcompactd periods per node; the flusher's first at 5 s.
  std::vector<std::string> names;
  for (int i = 2; i <= 10; ++i) {
    fake_.advance_to(params_.kcompactd_interval * i);
    for (auto& n : run_woken()) names.push_back(n);
  }
  EXPECT_EQ(std::count(names.begin(), names.end(), "kworker/u:flush"), 1);
  EXPECT_EQ(names.size(), 19u);
  EXPECT_EQ(k_->kcompactd(NodeId(1))->nr_runs, 10u);
  EXPECT_EQ(k_->khugepaged()->nr_runs, 0u);
}

TEST_F(KthreadTest, AWakeUpCancelsTheTimeoutAndThePassArmsANewOne) {
  Kthread* kc1 = k_->kcompactd(NodeId(1));
  fake_.clock = 100 * kMs;
  k_->wakeup_kcompactd(NodeId(1));
  EXPECT_FALSE(kc1->timer.pending);  // del_timer in the wake-up
  EXPECT_EQ(run_woken(), std::vector<std::string>{"kcompactd1"});
  ASSERT_TRUE(kc1->timer.pending);
  EXPECT_EQ(kc1->timer.expires, 100 * kMs + params_.kcompactd_interval);
  fake_.advance_to(params_.kcompactd_interval);  // kcompactd0's timer only
  EXPECT_EQ(run_woken(), std::vector<std::string>{"kcompactd0"});
}

TEST_F(KthreadTest, TimersOfOneCpuWithEqualExpiryFireInArmingOrder) {
  std::vector<int> order;
  struct Owner {
    std::vector<int>* order;
    int id;
  };
  Owner a{&order, 1}, b{&order, 2}, c{&order, 3};
  timer_list ta, tb, tc;
  for (auto [t, o] : {std::pair{&ta, &a}, std::pair{&tb, &b}, std::pair{&tc, &c}}) {
    t->function = [](timer_list* self, KernelCost& cost) {
      auto* ow = static_cast<Owner*>(self->data);
      ow->order->push_back(ow->id);
      cost.add_cycles(10);
    };
    t->data = o;
    t->cpu = CpuId(1);
  }
  fake_.mod_timer(&ta, 7 * kMs);
  fake_.mod_timer(&tb, 7 * kMs);
  fake_.mod_timer(&tc, 3 * kMs);
  fake_.mod_timer(&ta, 7 * kMs);  // re-armed: now after tb
  EXPECT_TRUE(fake_.del_timer(&tc));
  EXPECT_FALSE(fake_.del_timer(&tc));
  fake_.mod_timer(&tc, 7 * kMs);
  fake_.advance_to(7 * kMs);
  EXPECT_EQ(order, (std::vector<int>{2, 1, 3}));
  EXPECT_EQ(fake_.timer_cost.cycles, Cycles(30));
  EXPECT_FALSE(ta.pending);
}

TEST_F(KthreadTest, PeriodicTaskWorkRunsOnTheTasksCpuUntilCancelledOrExited) {
  task_struct t;
  t.pid = 42;
  t.cpu = CpuId(1);
  std::vector<std::pair<Picoseconds, CpuId>> runs;
  k_->task_work_add(&t, 10 * kMs, [&](task_struct* task, KernelCost&) { runs.emplace_back(fake_.clock, task->cpu); });
  fake_.advance_to(25 * kMs);
  t.cpu = CpuId(3);  // migrated: the next period runs there
  fake_.advance_to(30 * kMs);
  EXPECT_EQ(runs, (std::vector<std::pair<Picoseconds, CpuId>>{
                      {10 * kMs, CpuId(1)}, {20 * kMs, CpuId(1)}, {30 * kMs, CpuId(3)}}));
  EXPECT_TRUE(k_->task_work_cancel(&t));
  EXPECT_FALSE(k_->task_work_cancel(&t));
  fake_.advance_to(100 * kMs);
  EXPECT_EQ(runs.size(), 3u);
  k_->task_work_add(&t, 10 * kMs, [&](task_struct* task, KernelCost&) { runs.emplace_back(fake_.clock, task->cpu); });
  t.exited = true;
  fake_.advance_to(200 * kMs);
  EXPECT_EQ(runs.size(), 3u);
}

TEST(KthreadPlacement, ACpuLessNodesDaemonsAreBoundToTheNearestNodesCpus) {
  Topology topo = tiered_topology();
  FakePlatform fake;
  Kthreads k(topo, KthreadParams{}, fake);
  Kthread* kswapd2 = k.kswapd(NodeId(2));
  ASSERT_NE(kswapd2, nullptr);
  // Node 2 is at distance 14 from node 1 and 24 from node 0.
  EXPECT_EQ(kswapd2->task.cpus_allowed, mask({2, 3}));
  EXPECT_EQ(k.kcompactd(NodeId(2))->task.cpus_allowed, mask({2, 3}));
  EXPECT_EQ(k.cpumask_of_node(NodeId(0)), mask({0, 1}));
  k.wakeup_kswapd(NodeId(2));
  ASSERT_EQ(fake.woken.size(), 1u);
  KernelCost cost;
  k.run(fake.woken[0], cost);
  // Its pass reads node 2's pgdat from a node-1 CPU.
  ASSERT_EQ(fake.count(FakePlatform::Kind::Read), 1u);
  EXPECT_EQ(fake.calls[0].addr, topo.node(NodeId(2)).base);
  EXPECT_EQ(topo.cpu_node(fake.calls[0].cpu), NodeId(1));
}

TEST(KthreadConfig, OsKthreadsTableIsReadWithUnits) {
  auto doc = ConfigDocument::from_string("[os.kthreads]\nkcompactd_interval = \"20us\"\npass_cycles = 900\n", "k.toml");
  const KthreadParams p = KthreadParams::from_config(doc->root().table("os"));
  doc->finish();
  EXPECT_EQ(p.kcompactd_interval, Picoseconds(20'000'000));
  EXPECT_EQ(p.pass_cycles, 900u);
  EXPECT_EQ(p.khugepaged_scan_sleep, KthreadParams{}.khugepaged_scan_sleep);
  auto bad = ConfigDocument::from_string("[os.kthreads]\nkcompactd_interval = \"0s\"\n", "bad.toml");
  EXPECT_THROW(
      {
        KthreadParams::from_config(bad->root().table("os"));
        bad->finish();
      },
      ConfigErrors);
}

using testing::KernelTest;

TEST_F(KernelTest, TheKernelBootsItsKernelThreads) {
  EXPECT_NE(k().kthreads().kswapd(NodeId(0)), nullptr);
  EXPECT_NE(k().kthreads().kswapd(NodeId(1)), nullptr);
  EXPECT_EQ(k().kthreads().all().size(), 6u);
  // They are not user tasks: the first user task still gets pid 1... and the OOM killer cannot see them.
  task_struct* t = k().create_task("user", CpuId(0), CpuMask());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->pid, 1);
  EXPECT_EQ(k().find_task_by_pid(k().kthreads().kswapd(NodeId(0))->task.pid), nullptr);
}

}  // namespace
}  // namespace numasim::os
