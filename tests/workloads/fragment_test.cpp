// The fragment generator (workloads/fragment_workload.h): every page written
// once, then three of every four pages madvised away after their writes, the
// hold as compute, one unmap at the end; configuration errors located.
#include <gtest/gtest.h>

#include <set>

#include "tests/workloads/fake_thread_context.h"
#include "workloads/fragment_workload.h"

using namespace numasim;
using namespace numasim::workloads;
using wltest::FakeThreadContext;
using wltest::run_source;

namespace {

TEST(Fragment, WritesEveryPageThenFreesThreeOfEveryFour) {
  FragmentParams p;
  p.total_bytes = 4 << 20;  // two 2 MiB chunks
  p.hold_cycles = 2'500'000;
  ThreadInfo info;
  FragmentSource src(info, p);
  FakeThreadContext ctx;
  run_source(src, ctx);
  EXPECT_DOUBLE_EQ(src.progress(), 1.0);
  ASSERT_EQ(ctx.count("mmap"), 1);
  const VirtAddr base = ctx.calls[0].ret;
  std::set<VirtAddr> written;
  std::uint64_t compute = 0;
  for (const auto& op : ctx.ops) {
    if (op.kind == hw::OpKind::Store) written.insert(op.addr & ~4095ull);
    if (op.kind == hw::OpKind::Compute) compute += op.count;
  }
  EXPECT_EQ(written.size(), (4u << 20) / 4096);
  EXPECT_EQ(compute, p.hold_cycles);
  const std::uint64_t stores = (4u << 20) / 4096;
  ASSERT_EQ(ctx.count("madvise"), static_cast<long>(stores / 4));
  std::uint64_t freed = 0;
  for (const auto& c : ctx.calls) {
    if (c.name != "madvise") continue;
    EXPECT_EQ(c.arg, 4);                         // MADV_DONTNEED
    EXPECT_EQ((c.addr - base) % (4 * 4096), 4096u);  // pages 1..3 of each group of four
    EXPECT_EQ(c.len, 3u * 4096);
    EXPECT_GE(c.ops_before, stores);  // after every write
    freed += c.len;
  }
  EXPECT_EQ(freed, 3u * (4u << 20) / 4);
  EXPECT_EQ(ctx.count("munmap"), 1);
  EXPECT_EQ(ctx.unmapped_accesses, 0u);
}

TEST(Fragment, MmapFailureStopsTheThread) {
  FragmentParams p;
  p.total_bytes = 1 << 20;
  ThreadInfo info;
  FragmentSource src(info, p);
  FakeThreadContext ctx;
  ctx.fail_mmap_after = 0;
  run_source(src, ctx);
  EXPECT_TRUE(src.failed());
  EXPECT_EQ(ctx.count("madvise"), 0);
}

}  // namespace
