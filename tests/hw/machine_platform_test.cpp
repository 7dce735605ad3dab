// The OS platform on the simulated hardware: kernel traffic timed through the
// memory system at the CPU's kernel cursor (remote slower than local), IPI
// shootdowns that invalidate only the range on only the targets, latency that
// grows with distance, block I/O latency.
#include "hw/machine_platform.h"

#include <gtest/gtest.h>

#include "common/config.h"
#include "common/topology.h"
#include "hw/block_device.h"
#include "hw/memory_system.h"
#include "hw/mmu.h"
#include "tests/hw/hw_fakes.h"

namespace numasim::hw {
namespace {

using testing::FakePageTables;
using testing::RecordingMemory;

constexpr Frequency kClock(2'000'000'000);

struct PlatformFixture : ::testing::Test {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<Topology> topo;
  std::unique_ptr<MemorySystem> ms;
  std::unique_ptr<MachinePlatform> platform;
  RecordingMemory walk_mem;
  FakePageTables pt;
  std::vector<std::unique_ptr<Mmu>> mmus;

  void SetUp() override {
    doc = ConfigDocument::from_string(R"(
[machine]
sockets = 2
cores_per_socket = 2
memory_per_node = "1GiB"
[[link]]
nodes = [0, 1]
latency = "27ns"
bandwidth = "34.3GB/s"
)",
                                      "platform.toml");
    topo = std::make_unique<Topology>(Topology::from_config(doc->root()));
    MemorySystemParams mp;
    mp.core_clock = kClock;
    ms = std::make_unique<MemorySystem>(*topo, mp);
    MachinePlatformParams pp;
    platform = std::make_unique<MachinePlatform>(*topo, *ms, kClock, pp);
    std::vector<Mmu*> raw;
    for (int c = 0; c < topo->num_cpus(); ++c) {
      mmus.push_back(std::make_unique<Mmu>(CpuId(c), kClock, MmuParams{}, walk_mem, pt));
      mmus.back()->switch_context({pt.cr3, 5, nullptr});
      raw.push_back(mmus.back().get());
    }
    platform->attach(raw, {});
    for (int i = 0; i < 8; ++i) pt.map(0x10000 + i * 0x1000ull, 0x200000 + i * 0x1000ull);
  }
  bool cached(int cpu, VirtAddr va) {
    walk_mem.log.clear();
    EXPECT_TRUE(mmus[cpu]->translate(va, false, Picoseconds(0)).ok);
    return walk_mem.log.empty();
  }
};

TEST_F(PlatformFixture, KernelWritesAdvanceTheCursorAndRemoteCostsMore) {
  const PhysAddr local = topo->node(NodeId(0)).base + (64ull << 20);
  const PhysAddr remote = topo->node(NodeId(1)).base + (64ull << 20);
  platform->enter_kernel(CpuId(0), Picoseconds(1'000'000));
  const Picoseconds l = platform->kernel_write(CpuId(0), local, Bytes(4096));
  EXPECT_EQ(platform->now(CpuId(0)), Picoseconds(1'000'000) + l);
  const Picoseconds r = platform->kernel_write(CpuId(0), remote, Bytes(4096));
  EXPECT_EQ(platform->now(CpuId(0)), Picoseconds(1'000'000) + l + r);
  EXPECT_GT(r, l);
  // Other CPUs' cursors are independent.
  EXPECT_EQ(platform->now(CpuId(1)), Picoseconds(0));
  // A copy costs at least reading the source.
  const Picoseconds c = platform->kernel_copy(CpuId(0), local + (1 << 20), remote + (1 << 20), Bytes(4096));
  EXPECT_GT(c, Picoseconds(0));
  EXPECT_EQ(platform->stats().kernel_write_bytes, 8192u);
  EXPECT_EQ(platform->stats().kernel_copy_bytes, 4096u);
}

TEST_F(PlatformFixture, ShootdownInvalidatesOnlyTheRangeOnOnlyTheTargets) {
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 8; ++i) cached(c, 0x10000 + i * 0x1000ull);  // warm every TLB
  os::CpuMask targets;
  targets.set(0).set(2);
  platform->enter_kernel(CpuId(0), Picoseconds(0));
  const Picoseconds wait = platform->flush_tlb_range(CpuId(0), targets, 5, 0x12000, 0x14000);
  EXPECT_GT(wait, Picoseconds(0));
  for (int c = 0; c < 4; ++c) {
    for (int i = 0; i < 8; ++i) {
      const bool in_range = i == 2 || i == 3;
      const bool flushed = (c == 0 || c == 2) && in_range;
      EXPECT_EQ(cached(c, 0x10000 + i * 0x1000ull), !flushed) << "cpu " << c << " page " << i;
    }
  }
  EXPECT_EQ(platform->stats().ipis, 1u);  // the initiator flushes itself without an IPI
  EXPECT_EQ(platform->now(CpuId(0)), wait);
}

TEST_F(PlatformFixture, IpiLatencyGrowsWithDistanceAndFullFlushDropsTheAsid) {
  EXPECT_GT(platform->ipi_delivery(CpuId(0), CpuId(2)), platform->ipi_delivery(CpuId(0), CpuId(1)));
  os::CpuMask near, far;
  near.set(1);
  far.set(2);
  const Picoseconds t_near = platform->flush_tlb_mm(CpuId(0), near, 5);
  const Picoseconds t_far = platform->flush_tlb_mm(CpuId(0), far, 5);
  EXPECT_GT(t_far, t_near);
  EXPECT_FALSE(cached(1, 0x10000));
  EXPECT_FALSE(cached(2, 0x17000));
  EXPECT_EQ(platform->stats().full_flushes, 2u);
}

TEST_F(PlatformFixture, ARangeFlushIsPageByPageHowEverLargeTheKernelAsks) {
  // When a range becomes a full flush is the kernel's policy (os/tlbflush.cpp,
  // tlb_single_page_flush_ceiling): hw flushes exactly the range it is given.
  cached(3, 0x10000);  // warm the TLB
  ASSERT_TRUE(cached(3, 0x10000));
  os::CpuMask t;
  t.set(3);
  platform->flush_tlb_range(CpuId(0), t, 5, 0x100000000ull, 0x100000000ull + 64 * 4096);
  EXPECT_TRUE(cached(3, 0x10000)) << "outside the range";
  EXPECT_EQ(platform->stats().full_flushes, 0u);
  EXPECT_EQ(platform->stats().pages_flushed, 64u);
  platform->flush_tlb_mm(CpuId(0), t, 5);
  EXPECT_FALSE(cached(3, 0x10000));
  EXPECT_EQ(platform->stats().full_flushes, 1u);
}

TEST_F(PlatformFixture, BlockIoTakesLatencyPlusTransfer) {
  const Picoseconds t = platform->submit_bio(CpuId(1), os::BioOp::Read, 0, Bytes(4096));
  MachinePlatformParams d;
  EXPECT_EQ(t, d.bio_latency + d.bio_bandwidth.transfer_time(Bytes(4096)));
  EXPECT_EQ(platform->now(CpuId(1)), t);
}

TEST_F(PlatformFixture, AttachedBlockDeviceTimesTheBio) {
  BlockDevice dev(BlockDeviceParams{}, "nvme");
  platform->attach_block_device(&dev);
  platform->enter_kernel(CpuId(2), Picoseconds(5'000'000));
  const Picoseconds t = platform->submit_bio(CpuId(2), os::BioOp::Write, 8, Bytes(4096));
  EXPECT_EQ(dev.stats().writes, 1u);
  EXPECT_EQ(dev.stats().bytes_written, 4096u);
  EXPECT_GE(t, BlockDeviceParams{}.write_latency);
  EXPECT_EQ(platform->now(CpuId(2)), Picoseconds(5'000'000) + t);
}

}  // namespace
}  // namespace numasim::hw
