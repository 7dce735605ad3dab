// Tearing a kernel down while its timers are pending (issue 17, the sanitizer
// findings of tests that replaced their kernel): Kthreads cancels every
// schedule_timeout timer and every task's periodic work when it is destroyed,
// as the file system's and swap's I/O completion timers are cancelled by
// theirs, so a platform that outlives the kernel holds no timer into freed
// memory and can go on running its clock (no FakePlatform::drop_timers needed).
// Under ASan a timer left behind is a heap-use-after-free when it fires; in any
// build it shows as a pending timer after the kernel is gone.
#include <gtest/gtest.h>

#include <memory>

#include "os/kthread.h"
#include "tests/os/file_test_util.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr Picoseconds kMs(1'000'000'000);
constexpr Picoseconds kHour(3'600'000'000'000'000ull);

TEST(KthreadTeardown, DestroyedKthreadsLeaveNoTimerOnTheirPlatform) {
  Topology topo = testing::two_node_topology();
  FakePlatform fake;  // declared first: it outlives the threads
  task_struct t;
  t.pid = t.tgid = 100;
  t.cpu = CpuId(1);
  int runs = 0;
  {
    Kthreads k(topo, KthreadParams{}, fake);
    k.task_work_add(&t, 10 * kMs, [&](task_struct*, KernelCost&) { ++runs; });
    // kcompactd0/1, khugepaged and the flusher sleep on timers; the task's work ticks.
    EXPECT_EQ(fake.pending_timers(), 5u);
    fake.advance_to(10 * kMs);
    EXPECT_EQ(runs, 1);
  }
  EXPECT_EQ(fake.pending_timers(), 0u);
  const std::uint64_t fired = fake.timers_fired;
  fake.advance_to(kHour);  // nothing of the freed threads fires
  EXPECT_EQ(fake.timers_fired, fired);
  EXPECT_EQ(runs, 1);
}

class KernelTeardownTest : public testing::FileTest {};

TEST_F(KernelTeardownTest, AKernelDestroyedWithPendingTimersAndIoLetsThePlatformRunOn) {
  // NUMA balancing on: every task has its periodic tick (Kthreads' task work).
  params_.numab.mode = 1;
  params_.numab.scan_delay_ms = 2;
  kernel_.reset();
  EXPECT_EQ(platform_.pending_timers(), 0u);  // the fixture's kernel took its timers along
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  task_struct* t = spawn(0);
  const VirtAddr buf = user_buf(t);
  // A read starts async readahead: I/O completions wait on the file system's timer.
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  ASSERT_GE(f, 0);
  ASSERT_EQ(k().sys_read(t, f, buf, 4096, cost_), 4096);
  // 4 daemon sleeps + the task's tick + at least one I/O completion.
  EXPECT_GE(platform_.pending_timers(), 6u);
  kernel_.reset();
  EXPECT_EQ(platform_.pending_timers(), 0u);
  const std::uint64_t fired = platform_.timers_fired;
  platform_.advance_to(platform_.clock + kHour);
  EXPECT_EQ(platform_.timers_fired, fired);
  // A new kernel on the same platform runs its daemons' timers as usual.
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  platform_.advance_to(platform_.clock + Picoseconds(11'000'000'000'000ull));  // past khugepaged's 10 s sleep
  EXPECT_GT(platform_.timers_fired, fired);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os
