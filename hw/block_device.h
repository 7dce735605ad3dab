// A block device (swap or file storage) with an NVMe SSD's timing: a fixed
// access latency per command (read and write differ: NAND read versus the
// drive's write cache), a transfer bandwidth per direction, and a queue depth
// of commands the device works on in parallel. Commands beyond the queue
// depth wait for a free slot; transfers share the bandwidth through a
// next-free timestamp, so large sequential I/O is bandwidth-bound and small
// random I/O latency- and queue-depth-bound.
// Defaults: a data-centre NVMe drive of the PCIe 3.0 generation (Intel P4510
// class datasheet: 4 KiB random read ~80 us, write ~20 us, sequential
// 3.2 GB/s read, 2.0 GB/s write); queue depth 32.
// Simplifications: no flash translation layer, garbage collection, write
// amplification or thermal throttling; commands are served in call order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/hw_stats.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

enum class BlockOp : std::uint8_t { Read, Write };

struct BlockDeviceParams {
  Picoseconds read_latency = Picoseconds(80'000'000);   // 80 us
  Picoseconds write_latency = Picoseconds(20'000'000);  // 20 us
  Bandwidth read_bandwidth = Bandwidth(3'200'000'000);
  Bandwidth write_bandwidth = Bandwidth(2'000'000'000);
  int queue_depth = 32;
  Bytes sector = Bytes(512);
  Bytes capacity = Bytes(64ull << 30);

  static BlockDeviceParams from_config(Config c);  // the [block_device] table
  std::string validate() const;                    // empty if consistent
};

struct BlockResult {
  Picoseconds done;      // completion time
  Picoseconds latency;   // done - submit time
  Picoseconds queueing;  // waiting for a queue slot or for the transfer bandwidth
};

struct BlockStats {
  std::uint64_t reads = 0, writes = 0, bytes_read = 0, bytes_written = 0;
  std::uint64_t total_latency_ps = 0, total_queueing_ps = 0, busy_ps = 0;
  std::uint64_t first_submit_ps = ~0ull, last_done_ps = 0;
};

class BlockDevice {
 public:
  // Throws std::invalid_argument if params.validate() fails.
  BlockDevice(const BlockDeviceParams& params, std::string name);

  // A command for [sector * sector_size, + len) submitted at `now`. Throws
  // std::invalid_argument for an empty or unaligned length or a range beyond capacity.
  BlockResult submit(BlockOp op, std::uint64_t sector, Bytes len, Picoseconds now);

  const BlockDeviceParams& params() const { return p_; }
  const BlockStats& stats() const { return stats_; }
  const Histogram& latency_histogram() const { return hist_; }
  void reset_stats();
  // <name>.reads, .bytes_read, .avg_latency_us, .iops, .bandwidth_bytes_per_s, .latency (histogram) ...
  void dump(StatsVisitor& v) const;

 private:
  BlockDeviceParams p_;
  std::string name_;
  std::vector<Picoseconds> slot_free_;  // per queue slot
  Picoseconds read_pipe_free_{0}, write_pipe_free_{0};
  BlockStats stats_;
  Histogram hist_{Picoseconds(10'000'000)};  // 10 us buckets up to 640 us
};

}  // namespace numasim::hw
