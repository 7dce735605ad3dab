// os::Kernel through its one entry interface (os/kernel_entry.h), as hw/ calls
// it: a #PF on a mapped address is Ok and enters the kernel on the task's CPU, one
// outside every VMA is SIGSEGV, a typed system call dispatches to the kernel's
// call, and the exit tears the address space down.
#include "os/kernel_entry.h"

#include <gtest/gtest.h>

#include "tests/os/kernel_fixture.h"

namespace numasim::os {
namespace {

using testing::KernelTest;

TEST_F(KernelTest, TheEntryInterfaceFaultsCallsAndExits) {
  KernelEntry& entry = k();
  task_struct* t = k().create_task("entry", CpuId(2), CpuMask());
  ASSERT_NE(t, nullptr);
  const std::uint64_t entries0 = platform_.kernel_entries;
  KernelCost cost;
  entry.syscall_enter(t, Picoseconds(1000));
  const long addr = entry.sys_mmap(t, 0, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost);
  ASSERT_GT(addr, 0);
  EXPECT_EQ(platform_.kernel_entries, entries0 + 1);
  EXPECT_GT(cost.cycles, Cycles(0));

  KernelCost fault;
  EXPECT_EQ(entry.page_fault(t, static_cast<VirtAddr>(addr) + 8, true, Picoseconds(2000), fault), EntryResult::Ok);
  EXPECT_EQ(platform_.kernel_entries, entries0 + 2);
  EXPECT_EQ(t->min_flt, 1u);
  EXPECT_GT(fault.memory, Picoseconds(0));  // the page was cleared through the platform
  // The walker's view: the leaf is there now.
  EXPECT_TRUE(k().follow_page(*t->mm, static_cast<VirtAddr>(addr)).has_value());

  KernelCost segv;
  EXPECT_EQ(entry.page_fault(t, 0x1000, false, Picoseconds(3000), segv), EntryResult::Sigsegv);
  EXPECT_EQ(t->nr_sigsegv, 1u);
  EXPECT_EQ(entry.page_fault(nullptr, 0x1000, false, Picoseconds(3000), segv), EntryResult::Sigsegv);
  EXPECT_STREQ(entry_result_name(EntryResult::OomKill), "oom-kill");

  KernelCost exit_cost;
  entry.task_exit(t, Picoseconds(4000), exit_cost);
  EXPECT_TRUE(t->exited);
  EXPECT_EQ(t->mm, nullptr);
  k().check_consistency();
}

TEST_F(KernelTest, AFaultOutOfMemoryWithoutAKillIsRetriedLikePagefaultOutOfMemory) {
  KernelEntry& entry = k();
  task_struct* t = k().create_task("retry", CpuId(0), CpuMask());
  ASSERT_NE(t, nullptr);
  KernelCost cost;
  const long addr = k().sys_mmap(t, 0, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0, cost);
  ASSERT_GT(addr, 0);
  ASSERT_EQ(entry.page_fault(t, static_cast<VirtAddr>(addr), true, Picoseconds(0), cost), EntryResult::Ok);
  // Three injected failures: the access faults three more times, then succeeds.
  FailPageAllocParams p;
  p.probability = 100;
  p.times = 3;
  k().physmem().fail_page_alloc().configure(p);
  const std::uint64_t faults0 = k().physmem().sum_vm_event(PGFAULT);
  EXPECT_EQ(entry.page_fault(t, static_cast<VirtAddr>(addr) + kPageSize, true, Picoseconds(0), cost), EntryResult::Ok);
  EXPECT_EQ(k().physmem().sum_vm_event(PGFAULT), faults0 + 4);
  EXPECT_FALSE(t->oom_killed);
  EXPECT_TRUE(k().oom_kills().empty());
  // Failing for ever: bounded, the task ends as OOM-killed instead of hanging the run.
  p.times = -1;
  k().physmem().fail_page_alloc().configure(p);
  const std::uint64_t faults1 = k().physmem().sum_vm_event(PGFAULT);
  EXPECT_EQ(entry.page_fault(t, static_cast<VirtAddr>(addr) + 2 * kPageSize, true, Picoseconds(0), cost),
            EntryResult::OomKill);
  EXPECT_EQ(k().physmem().sum_vm_event(PGFAULT), faults1 + 1 + kPagefaultOomRetries);
  k().check_consistency();
}

}  // namespace
}  // namespace numasim::os
