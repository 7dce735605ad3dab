// Block device: idle latency per direction, transfer-bound large I/O, queue
// depth limiting small random I/O, bad requests, statistics, configuration.
#include <gtest/gtest.h>

#include <stdexcept>

#include "common/config.h"
#include "hw/block_device.h"

namespace numasim::hw {
namespace {

TEST(BlockDevice, IdleCommandCostsLatencyPlusTransfer) {
  BlockDeviceParams p;
  BlockDevice dev(p, "system.swap0");
  BlockResult r = dev.submit(BlockOp::Read, 0, Bytes(4096), 1_us);
  EXPECT_EQ(r.latency, p.read_latency + p.read_bandwidth.transfer_time(Bytes(4096)));
  EXPECT_EQ(r.done, 1_us + r.latency);
  EXPECT_EQ(r.queueing, Picoseconds(0));
  BlockResult w = dev.submit(BlockOp::Write, 8, Bytes(4096), 1000_us);
  EXPECT_EQ(w.latency, p.write_latency + p.write_bandwidth.transfer_time(Bytes(4096)));
}

TEST(BlockDevice, LargeSequentialIoIsBandwidthBound) {
  BlockDeviceParams p;
  BlockDevice dev(p, "dev");
  // 256 x 1 MiB reads submitted at once: throughput equals the read bandwidth.
  Picoseconds last(0);
  for (std::uint64_t i = 0; i < 256; ++i) last = dev.submit(BlockOp::Read, i * 2048, Bytes(1 << 20), Picoseconds(0)).done;
  const double bw = 256.0 * (1 << 20) / (static_cast<double>(last.value()) * 1e-12);
  EXPECT_NEAR(bw, 3.2e9, 3.2e9 * 0.02);
}

TEST(BlockDevice, QueueDepthLimitsSmallRandomIo) {
  BlockDeviceParams p;
  p.queue_depth = 4;
  BlockDevice dev(p, "dev");
  std::vector<BlockResult> r;
  for (int i = 0; i < 8; ++i) r.push_back(dev.submit(BlockOp::Read, static_cast<std::uint64_t>(i) * 1000, Bytes(4096), Picoseconds(0)));
  // The first four run in parallel (transfers serialise), the fifth waits for a slot.
  EXPECT_EQ(r[0].queueing, Picoseconds(0));
  EXPECT_LT(r[3].latency, p.read_latency * 2);
  EXPECT_GE(r[4].latency, r[0].done + p.read_latency);
  EXPECT_GT(r[4].queueing, p.read_latency - 1_us);
  // IOPS at saturation ~ queue depth / latency.
  MapStatsVisitor v;
  dev.dump(v);
  EXPECT_EQ(v.get("dev.reads"), 8.0);
  EXPECT_EQ(v.get("dev.bytes_read"), 8.0 * 4096);
  EXPECT_EQ(v.get("dev.latency.count"), 8.0);
  EXPECT_GT(v.get("dev.avg_queueing_us"), 0.0);
}

TEST(BlockDevice, BadRequestsAreReported) {
  BlockDeviceParams p;
  p.capacity = Bytes(1 << 20);
  BlockDevice dev(p, "dev");
  EXPECT_THROW(dev.submit(BlockOp::Read, 0, Bytes(0), Picoseconds(0)), std::invalid_argument);
  EXPECT_THROW(dev.submit(BlockOp::Read, 0, Bytes(100), Picoseconds(0)), std::invalid_argument);
  EXPECT_THROW(dev.submit(BlockOp::Write, 2047, Bytes(1024), Picoseconds(0)), std::invalid_argument);
  EXPECT_NO_THROW(dev.submit(BlockOp::Write, 2046, Bytes(1024), Picoseconds(0)));
  try {
    dev.submit(BlockOp::Read, 0, Bytes(100), Picoseconds(0));
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not a positive multiple"), std::string::npos);
  }
  BlockDeviceParams bad;
  bad.queue_depth = 0;
  EXPECT_THROW(BlockDevice(bad, "bad"), std::invalid_argument);
}

TEST(BlockDevice, FromConfig) {
  auto doc = ConfigDocument::from_string(
      "[block_device]\nread_latency = \"100us\"\nread_bandwidth = \"7GB/s\"\nqueue_depth = 64\n", "ssd.toml");
  BlockDeviceParams p = BlockDeviceParams::from_config(doc->root().table("block_device"));
  EXPECT_NO_THROW(doc->finish());
  EXPECT_EQ(p.read_latency, 100_us);
  EXPECT_EQ(p.read_bandwidth, Bandwidth(7'000'000'000));
  EXPECT_EQ(p.queue_depth, 64);
  EXPECT_EQ(p.write_latency, 20_us);
  auto bad = ConfigDocument::from_string("[block_device]\nqueue_depth = 0\nsector = \"1000B\"\n", "bad.toml");
  BlockDeviceParams::from_config(bad->root().table("block_device"));
  EXPECT_THROW(bad->finish(), ConfigErrors);
}

}  // namespace
}  // namespace numasim::hw
