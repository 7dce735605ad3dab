// What bounds a kernel copy on one core (MemorySystem::copy_range, the string
// move of copy_page / folio_copy) and a kernel read of page-cache pages
// (access_range, copy_page_to_iter's source), on the shipped skylake-sp-2s:
// Little's law over the core's 16-entry L2 super queue. Each copied line holds
// one entry for its source read and one for its destination's ownership
// request (a whole-line fast-string store: an invalidation without data, Intel
// SDM vol. 3 "Out-of-order stores for string operations"), so a copy to the
// other socket runs at most 16 x 64 B / (local read + remote ownership), and
// the 10 fill buffers of the stores alone would allow more. A store to a line
// the core already owns needs nothing beyond L1. The idle latencies are taken
// from the same model, so these tests pin the mechanism, not a figure.
#include <gtest/gtest.h>

#include "common/topology.h"
#include "hw/hw_stats.h"
#include "hw/memory_system.h"
#include "tests/hw/shipped_memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t k2M = 2ull << 20;

double gb_per_s(std::uint64_t bytes, Picoseconds d) {
  return static_cast<double>(bytes) / static_cast<double>(d.value()) * 1000.0;  // bytes per ns
}

double stat(const MemorySystem& m, const std::string& name) {
  MapStatsVisitor v;
  m.dump_stats(v);
  return v.values.at(name);
}

struct Idle {
  Picoseconds local_read, remote_read, remote_own;
};

// One access of each kind on a fresh system: nothing else in flight.
Idle idle_latencies(const testing::Shipped& s, PhysAddr local, PhysAddr remote) {
  Idle i;
  {
    MemorySystem m(s.topo, s.params);
    i.local_read = m.access(CpuId(0), local, false, 1_us);
  }
  {
    MemorySystem m(s.topo, s.params);
    i.remote_read = m.access(CpuId(0), remote, false, 1_us);
  }
  {
    MemorySystem m(s.topo, s.params);
    i.remote_own = m.access_range(CpuId(0), remote, Bytes(kCacheLineBytes), true, 1_us);
  }
  return i;
}

TEST(CopyBound, MigrationCopyToTheOtherSocketIsBoundByTheSuperQueue) {
  testing::Shipped s = testing::load_shipped();
  const PhysAddr local = 13 * kGiB, remote = s.topo.nodes()[1].base + 13 * kGiB;
  const Idle idle = idle_latencies(s, local + 64 * k2M, remote + 64 * k2M);
  const double entries = s.params.super_queue;
  const double sq_bound = entries * kCacheLineBytes / static_cast<double>((idle.local_read + idle.remote_own).value()) * 1000.0;
  const double store_bound =
      static_cast<double>(s.params.line_fill_buffers) * kCacheLineBytes / static_cast<double>(idle.remote_own.value()) * 1000.0;
  // The super queue, not the fill buffers of the stores, is the narrower structure.
  EXPECT_LT(sq_bound, store_bound);

  MemorySystem m(s.topo, s.params);
  const Picoseconds d = m.copy_range(CpuId(0), remote, local, Bytes(k2M), 1_us);
  const double rate = gb_per_s(k2M, d);
  // Within Little's law's bound (sequential lines are DRAM row hits, a little
  // faster than the idle read, hence the margin) and close to it: nothing else binds.
  EXPECT_LE(rate, 1.1 * sq_bound) << rate << " GB/s against " << sq_bound;
  EXPECT_GE(rate, 0.75 * sq_bound) << rate << " GB/s against " << sq_bound;
  // Every source line and every destination line took an entry (a prefetch or a
  // demand read for the source, the ownership request for the destination), and
  // most requests found all 16 busy.
  const double lines = static_cast<double>(k2M / kCacheLineBytes);
  EXPECT_EQ(stat(m, "system.cpu0.l2_super_queue.requests"), 2 * lines);
  EXPECT_GT(stat(m, "system.cpu0.l2_super_queue.full"), lines);
  // The streamer finds the queue full of ownership requests and stays back.
  EXPECT_GT(stat(m, "system.cpu0.l2_prefetcher.throttled"), stat(m, "system.cpu0.l2_prefetcher.issued"));
}

TEST(CopyBound, AStoreToALineTheCoreAlreadyOwnsTakesNoSuperQueueEntry) {
  testing::Shipped s = testing::load_shipped();
  const PhysAddr remote = s.topo.nodes()[1].base + 13 * kGiB;
  MemorySystem m(s.topo, s.params);
  const Picoseconds first = m.access_range(CpuId(0), remote, Bytes(kCacheLineBytes), true, 1_us);
  EXPECT_EQ(stat(m, "system.cpu0.l2_super_queue.requests"), 1);  // the ownership request
  const Picoseconds again = m.access_range(CpuId(0), remote, Bytes(kCacheLineBytes), true, 2_us);
  EXPECT_EQ(stat(m, "system.cpu0.l2_super_queue.requests"), 1);  // nothing beyond L1
  EXPECT_EQ(again, m.caches().hit_latency(1));
  EXPECT_GT(first, 10 * again);  // the first went to the other socket's home
}

TEST(CopyBound, ReadingRemotePageCachePagesIsBoundByTheSuperQueue) {
  testing::Shipped s = testing::load_shipped();
  const PhysAddr local = 13 * kGiB, remote = s.topo.nodes()[1].base + 13 * kGiB;
  const Idle idle = idle_latencies(s, local + 64 * k2M, remote + 64 * k2M);
  const double entries = s.params.super_queue;
  const double bound = entries * kCacheLineBytes / static_cast<double>(idle.remote_read.value()) * 1000.0;
  // copy_page_to_iter's source, page after page as filemap_read issues it.
  MemorySystem m(s.topo, s.params);
  Picoseconds t = 1_us, sum{0};
  for (int i = 0; i < 512; ++i) {
    const Picoseconds d = m.access_range(CpuId(0), remote + static_cast<PhysAddr>(i) * 4096, Bytes(4096), false, t);
    sum += d;
    t += d + 150_ns;  // the kernel's own work between pages
  }
  const double rate = gb_per_s(k2M, sum);
  EXPECT_LE(rate, 1.1 * bound) << rate << " GB/s against " << bound;
  // Each page starts a new stream (the streamer does not cross 4 KiB), so the
  // first lines of a page wait a whole remote read: below the bound, not far.
  EXPECT_GE(rate, 0.6 * bound) << rate << " GB/s against " << bound;
  EXPECT_GT(stat(m, "system.cpu0.l2_prefetcher.issued"), 0.5 * static_cast<double>(k2M / kCacheLineBytes));
}

}  // namespace
}  // namespace numasim::hw
