// Readahead's requests and timing (os/readahead.cpp, os/filemap.cpp): a readahead
// window is split into requests by max_sectors_kb and by max_segments (runs of
// physically contiguous pages, Linux 6.1's bio_split_to_limits), and inside a
// read() the task's clock includes its kernel cycles: a window submitted after
// the copy of earlier pages leaves at the task's own time, and a wait is charged
// from there (os::KernelClock), so the copy overlaps the device instead of adding to it.
#include <gtest/gtest.h>

#include <vector>

#include "os/mempolicy.h"
#include "tests/os/file_test_util.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class ReadaheadTest : public FileTest {
 protected:
  // The sizes (in pages) of the read requests the device got, in order.
  std::vector<std::uint64_t> read_requests() const {
    std::vector<std::uint64_t> r;
    for (const auto& c : platform_.calls)
      if (c.kind == FakePlatform::Kind::Bio && c.src == static_cast<PhysAddr>(BioOp::Read))
        r.push_back(c.len.value() / kPageSize);
    return r;
  }
};

TEST_F(ReadaheadTest, AWindowOfScatteredPagesIsSplitAtMaxSegments) {
  rebuild_with("[os.fs]\nread_ahead_kb = 1024\n");  // one 256-page window for the whole 1 MiB file
  {
    task_struct* t = spawn();  // local policy: the pages of the window are physically contiguous
    const VirtAddr buf = user_buf(t);
    const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
    platform_.calls.clear();
    ASSERT_EQ(k().sys_read(t, f, buf, kFileSize, cost_), static_cast<long>(kFileSize));
    EXPECT_EQ(read_requests(), (std::vector<std::uint64_t>{256}));  // one segment, under max_sectors_kb 1280
  }
  rebuild_with("[os.fs]\nread_ahead_kb = 1024\n");
  task_struct* t = spawn();
  VirtAddr buf = user_buf(t);
  unsigned long both = 3;  // interleaved over nodes 0 and 1: no two neighbours contiguous
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_INTERLEAVE, &both, 3, cost_), 0);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  platform_.calls.clear();
  ASSERT_EQ(k().sys_read(t, f, buf, kFileSize, cost_), static_cast<long>(kFileSize));
  EXPECT_EQ(read_requests(), (std::vector<std::uint64_t>{127, 127, 2}));  // NVME_MAX_SEGS 127 per request
  k().check_consistency();
  // A smaller max_segments splits sooner; it is a located configuration key.
  rebuild_with("[os.fs]\nread_ahead_kb = 1024\nmax_segments = 100\n");
  t = spawn();
  buf = user_buf(t);
  ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_INTERLEAVE, &both, 3, cost_), 0);
  const int g = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  platform_.calls.clear();
  ASSERT_EQ(k().sys_read(t, g, buf, kFileSize, cost_), static_cast<long>(kFileSize));
  EXPECT_EQ(read_requests(), (std::vector<std::uint64_t>{100, 100, 56}));
}

TEST_F(ReadaheadTest, InsideReadTheTasksCyclesMoveItsClock) {
  platform_.cursor_clock = true;
  platform_.cycle_time = Picoseconds(1000);  // 1 GHz
  task_struct* t = spawn();
  const VirtAddr buf = user_buf(t);
  const int f = static_cast<int>(k().sys_open(t, "/cfg/data", O_RDONLY, 0, cost_));
  // First call: pages 0..19; the initial window is 32 pages with its marker on page 20.
  KernelCost c1;
  ASSERT_EQ(k().sys_read(t, f, buf, 20 * kPageSize, c1), static_cast<long>(20 * kPageSize));
  ASSERT_EQ(platform_.bio_times.size(), 1u);
  // The window left after the cycles spent before it (page lookup, page allocation, bio).
  EXPECT_GE(platform_.bio_times[0].value(), (150u + 1500u) * 1000u);
  // The second call starts where the task is: after the first's cycles, memory and wait.
  const Picoseconds entry =
      Picoseconds(c1.cycles.value() * 1000) + c1.memory + c1.io_wait;
  ASSERT_GE(entry, platform_.clock);
  k().syscall_enter(t, entry);
  KernelCost c2;
  // Pages 20..51: page 20 is the marker (the next 32-page window [32, 64) is
  // submitted at once), 20..31 come with the first window, 32.. with the second,
  // whose marker (page 32) submits [64, 96) before the wait for it.
  ASSERT_EQ(k().sys_read(t, f, buf, 32 * kPageSize, c2), static_cast<long>(32 * kPageSize));
  ASSERT_EQ(platform_.bio_times.size(), 3u);
  EXPECT_GT(platform_.bio_times[2], platform_.bio_times[1]) << "the third left after 12 pages were copied";
  const Picoseconds second_done = platform_.bio_times[1] + platform_.bio_latency;
  EXPECT_GT(platform_.bio_times[1], entry);
  // The call ends when the second window is in and its 20 pages are copied: the
  // 12 pages copied meanwhile (12 x 150 cycles at least) are not added on top.
  const Picoseconds elapsed = Picoseconds(c2.cycles.value() * 1000) + c2.memory + c2.io_wait;
  EXPECT_GE(entry + elapsed, second_done);
  EXPECT_LE(entry + elapsed, second_done + Picoseconds(20 * (150 + 200) * 1000) + c2.memory);
  EXPECT_LT(elapsed, platform_.bio_latency + Picoseconds(c2.cycles.value() * 1000) - Picoseconds(12 * 150 * 1000));
}

}  // namespace
