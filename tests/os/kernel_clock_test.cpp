// The task's clock inside an entry that submits I/O or waits (os::KernelClock,
// os/platform.h), one test per kind of call: fsync and fdatasync, msync(MS_SYNC),
// balance_dirty_pages' pause in write(), swap-in in a fault, MADV_PAGEOUT's swap
// writeback. With the fake platform's cursor clock (enter_kernel moves it, a
// cycle takes 1 ns), each bio must leave at the task's own time (the entry plus
// the kernel cycles spent before it, not the entry time) and a wait must end at
// the completion it waited for (the clock there afterwards, the sleep charged
// from the task's time to it). read()'s own case is in readahead_test.cpp.
#include <gtest/gtest.h>

#include "tests/os/file_test_util.h"
#include "tests/os/swap_test_util.h"

namespace numasim::os::testing {
namespace {

constexpr Picoseconds kCycle{1000};  // 1 GHz

// The bios of one entry entered at `entry` and charging `c`: every one after the
// entry's first cycles and no later than all of them, in submission order.
void expect_bios_at_task_time(const FakePlatform& p, std::size_t first, Picoseconds entry, const KernelCost& c) {
  ASSERT_GT(p.bio_times.size(), first);
  for (std::size_t i = first; i < p.bio_times.size(); ++i) {
    EXPECT_GT(p.bio_times[i], entry) << "bio " << i << " left at the entry time: the cycles before it are missing";
    EXPECT_LE(p.bio_times[i], entry + Picoseconds(c.cycles.value() * kCycle.value()) + c.io_wait) << i;
    if (i > first) {
      EXPECT_GE(p.bio_times[i], p.bio_times[i - 1]) << i;
    }
  }
}

class KernelClockFileTest : public FileTest {
 protected:
  KernelClockFileTest() {
    platform_.cursor_clock = true;
    platform_.cycle_time = kCycle;
  }
  // The file /w with `pages` dirty pages, all earlier I/O completed; returns its fd.
  int dirty_file(task_struct* t, int pages) {
    const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
    EXPECT_GE(f, 0);
    EXPECT_EQ(k().sys_write(t, f, user_buf(t), static_cast<std::uint64_t>(pages) * kPageSize, cost_),
              static_cast<long>(pages * kPageSize));
    settle();
    return f;
  }
  // A new entry of t one millisecond after the clock; returns its time.
  Picoseconds enter(task_struct* t) {
    const Picoseconds at = platform_.clock + Picoseconds(1'000'000'000);
    k().syscall_enter(t, at);
    platform_.bio_times.clear();
    return at;
  }
};

TEST_F(KernelClockFileTest, FsyncWritesAtTheTasksTimeAndWaitsUntilTheLastCompletion) {
  for (bool datasync : {false, true}) {
    rebuild();
    task_struct* t = spawn();
    const int f = dirty_file(t, 8);
    const Picoseconds entry = enter(t);
    KernelCost c;
    ASSERT_EQ(datasync ? k().sys_fdatasync(t, f, c) : k().sys_fsync(t, f, c), 0);
    expect_bios_at_task_time(platform_, 0, entry, c);
    const Picoseconds last_done = platform_.bio_times.back() + platform_.bio_latency;
    EXPECT_EQ(platform_.clock, last_done) << "the wait ends at the completion of the last write";
    EXPECT_GT(c.io_wait.value(), 0u);
    // The task's end (hw::Core: entry + cycles + memory + io_wait) is at or after the completion.
    EXPECT_GE(entry + Picoseconds(c.cycles.value() * kCycle.value()) + c.memory + c.io_wait, last_done);
    EXPECT_EQ(node_stat(NR_FILE_DIRTY), 0);
    k().check_consistency();
  }
}

TEST_F(KernelClockFileTest, MsyncSyncWritesAtTheTasksTimeAndWaits) {
  task_struct* t = spawn();
  const int f = dirty_file(t, 4);
  const int g = static_cast<int>(k().sys_open(t, "/w", O_RDWR, 0, cost_));
  ASSERT_GE(g, 0);
  ASSERT_EQ(k().sys_close(t, f, cost_), 0);
  const long a = k().sys_mmap(t, 0, 4 * kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, g, 0, cost_);
  ASSERT_GT(a, 0);
  const Picoseconds entry = enter(t);
  KernelCost c;
  ASSERT_EQ(k().sys_msync(t, static_cast<VirtAddr>(a), 4 * kPageSize, MS_SYNC, c), 0);
  expect_bios_at_task_time(platform_, 0, entry, c);
  EXPECT_EQ(platform_.clock, platform_.bio_times.back() + platform_.bio_latency);
  EXPECT_GT(c.io_wait.value(), 0u);
  EXPECT_EQ(node_stat(NR_FILE_DIRTY), 0);
}

TEST_F(KernelClockFileTest, ADirtyThrottlePauseStartsAfterTheWritesCyclesAndMovesTheClock) {
  rebuild_with("[os.vm]\ndirty_bytes = \"1MiB\"\ndirty_background_bytes = \"512KiB\"\n");
  platform_.cursor_clock = true;
  platform_.cycle_time = kCycle;
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_creat(t, "/w", 0644, cost_));
  ASSERT_EQ(k().sys_write(t, f, buf, 512 * 1024, cost_), 512 * 1024);  // at the background line
  const Picoseconds entry = enter(t);
  KernelCost c;
  ASSERT_EQ(k().sys_write(t, f, buf, 512 * 1024, c), 512 * 1024);  // past freerun: paused
  ASSERT_GT(k().fs().nr_dirty_throttled(), 0u);
  ASSERT_GT(c.io_wait.value(), 0u);
  // The pause began after the cycles of the pages written before it (not at the entry)
  // and the clock is where it ended.
  EXPECT_GT(platform_.clock, entry + c.io_wait);
  EXPECT_LE(platform_.clock, entry + Picoseconds(c.cycles.value() * kCycle.value()) + c.io_wait);
  EXPECT_EQ(platform_.clock, entry + Picoseconds(c.cycles_in_clock.value() * kCycle.value()) + c.io_wait);
}

class KernelClockSwapTest : public SwapTest {
 protected:
  KernelClockSwapTest() {
    platform_.cursor_clock = true;
    platform_.cycle_time = kCycle;
  }
};

TEST_F(KernelClockSwapTest, ASwapInFaultReadsAtTheTasksTimeAndResumesAtTheCompletion) {
  ASSERT_EQ(swapon_nvme("swap0", 16ull << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 1, 500);
  ASSERT_GT(a, 0);
  swap_out(t, static_cast<VirtAddr>(a));
  const Picoseconds entry = platform_.clock + Picoseconds(1'000'000'000);
  platform_.bio_times.clear();
  KernelCost c;
  ASSERT_EQ(k().page_fault(t, static_cast<VirtAddr>(a), false, entry, c), EntryResult::Ok);
  ASSERT_EQ(platform_.bio_times.size(), 1u);
  expect_bios_at_task_time(platform_, 0, entry, c);
  EXPECT_EQ(c.io_wait, platform_.bio_latency);
  EXPECT_EQ(platform_.clock, platform_.bio_times[0] + platform_.bio_latency) << "resumed at the completion";
  EXPECT_EQ(token_at(t, static_cast<VirtAddr>(a)), 500u);
}

TEST_F(KernelClockSwapTest, PageoutWritesEachPageAtTheTasksTime) {
  ASSERT_EQ(swapon_nvme("swap0", 16ull << 20), 0);
  task_struct* t = spawn(0);
  const long a = map_touched(t, 4, 700);
  ASSERT_GT(a, 0);
  const Picoseconds entry = platform_.clock + Picoseconds(1'000'000'000);
  k().syscall_enter(t, entry);
  platform_.bio_times.clear();
  KernelCost c;
  ASSERT_EQ(k().sys_madvise(t, static_cast<VirtAddr>(a), 4 * kPageSize, MADV_PAGEOUT, c), 0);
  ASSERT_EQ(platform_.bio_times.size(), 4u);
  expect_bios_at_task_time(platform_, 0, entry, c);
  for (std::size_t i = 1; i < 4; ++i)
    EXPECT_GT(platform_.bio_times[i], platform_.bio_times[i - 1]) << "the cycles of page " << i << " come first";
  EXPECT_EQ(c.io_wait.value(), 0u) << "writeback does not wait";
  complete_io();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(page_at(t, static_cast<VirtAddr>(a) + i * kPageSize), nullptr) << "paged out: " << i;
    ASSERT_EQ(touch(t, static_cast<VirtAddr>(a) + i * kPageSize, false), Kernel::FaultResult::Handled);
    EXPECT_EQ(token_at(t, static_cast<VirtAddr>(a) + i * kPageSize), 700u + i) << i;
  }
}

}  // namespace
}  // namespace numasim::os::testing
