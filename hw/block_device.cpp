// NVMe-like block device timing (see block_device.h): queue slots, per-command
// latency, per-direction transfer bandwidth, statistics and configuration.
#include "hw/block_device.h"

#include <algorithm>
#include <stdexcept>

#include "common/config.h"

namespace numasim::hw {

BlockDeviceParams BlockDeviceParams::from_config(Config c) {
  BlockDeviceParams d;
  BlockDeviceParams p;
  p.read_latency = c.get<Picoseconds>("read_latency", d.read_latency, "device latency of a read command");
  p.write_latency = c.get<Picoseconds>("write_latency", d.write_latency, "device latency of a write command");
  p.read_bandwidth = c.get<Bandwidth>("read_bandwidth", d.read_bandwidth, "sequential read bandwidth");
  p.write_bandwidth = c.get<Bandwidth>("write_bandwidth", d.write_bandwidth, "sequential write bandwidth");
  p.queue_depth = c.get<int>("queue_depth", d.queue_depth, "commands the device serves in parallel", {1, 65536});
  p.sector = c.get<Bytes>("sector", d.sector, "logical block size", {Bytes(512), Bytes(65536)});
  p.capacity = c.get<Bytes>("capacity", d.capacity, "device capacity", {Bytes(1 << 20), {}});
  std::string err = p.validate();
  if (!err.empty()) {
    c.error("", err);
    return d;
  }
  return p;
}

std::string BlockDeviceParams::validate() const {
  if (queue_depth < 1) return "queue_depth must be >= 1";
  if (sector.value() == 0 || (sector.value() & (sector.value() - 1)) != 0) return "sector must be a power of two";
  if (capacity.value() % sector.value() != 0) return "capacity must be a whole number of sectors";
  if (read_bandwidth.bytes_per_second() == 0 || write_bandwidth.bytes_per_second() == 0)
    return "bandwidths must be positive";
  return {};
}

BlockDevice::BlockDevice(const BlockDeviceParams& params, std::string name) : p_(params), name_(std::move(name)) {
  std::string err = p_.validate();
  if (!err.empty()) throw std::invalid_argument(name_ + ": " + err);
  slot_free_.assign(static_cast<std::size_t>(p_.queue_depth), Picoseconds(0));
}

BlockResult BlockDevice::submit(BlockOp op, std::uint64_t sector, Bytes len, Picoseconds now) {
  const std::uint64_t ss = p_.sector.value();
  if (len.value() == 0 || len.value() % ss != 0)
    throw std::invalid_argument(name_ + ": I/O length " + std::to_string(len.value()) +
                                " B is not a positive multiple of the " + std::to_string(ss) + " B sector");
  if (sector > p_.capacity.value() / ss || len.value() > p_.capacity.value() - sector * ss)
    throw std::invalid_argument(name_ + ": I/O at sector " + std::to_string(sector) + " of " +
                                std::to_string(len.value()) + " B ends beyond the device capacity");
  // The slot that frees first (lowest index on ties: deterministic).
  auto slot = std::min_element(slot_free_.begin(), slot_free_.end());
  const Picoseconds start = std::max(now, *slot);
  const bool rd = op == BlockOp::Read;
  Picoseconds& pipe = rd ? read_pipe_free_ : write_pipe_free_;
  const Picoseconds xfer = (rd ? p_.read_bandwidth : p_.write_bandwidth).transfer_time(len);
  const Picoseconds ready = start + (rd ? p_.read_latency : p_.write_latency);
  const Picoseconds xfer_start = std::max(ready, pipe);
  const Picoseconds done = xfer_start + xfer;
  pipe = done;
  *slot = done;

  BlockResult r;
  r.done = done;
  r.latency = done - now;
  r.queueing = (start - now) + (xfer_start - ready);
  if (rd) {
    ++stats_.reads;
    stats_.bytes_read += len.value();
  } else {
    ++stats_.writes;
    stats_.bytes_written += len.value();
  }
  stats_.total_latency_ps += r.latency.value();
  stats_.total_queueing_ps += r.queueing.value();
  stats_.busy_ps += xfer.value();
  stats_.first_submit_ps = std::min(stats_.first_submit_ps, now.value());
  stats_.last_done_ps = std::max(stats_.last_done_ps, done.value());
  hist_.record(r.latency);
  return r;
}

void BlockDevice::reset_stats() {
  stats_ = BlockStats{};
  hist_.reset();
}

void BlockDevice::dump(StatsVisitor& v) const {
  const std::string& n = name_;
  const auto& s = stats_;
  v.counter(n + ".reads", s.reads, "count", "read commands completed");
  v.counter(n + ".writes", s.writes, "count", "write commands completed");
  v.counter(n + ".bytes_read", s.bytes_read, "bytes", "bytes read");
  v.counter(n + ".bytes_written", s.bytes_written, "bytes", "bytes written");
  const double cmds = static_cast<double>(s.reads + s.writes);
  v.formula(n + ".avg_latency_us", safe_ratio(static_cast<double>(s.total_latency_ps), cmds) / 1e6, "us",
            "mean submit-to-completion time");
  v.formula(n + ".avg_queueing_us", safe_ratio(static_cast<double>(s.total_queueing_ps), cmds) / 1e6, "us",
            "mean wait for a queue slot or for transfer bandwidth");
  const double span =
      s.last_done_ps > s.first_submit_ps && cmds > 0 ? static_cast<double>(s.last_done_ps - s.first_submit_ps) * 1e-12 : 0;
  v.formula(n + ".iops", safe_ratio(cmds, span), "1/s", "commands / (last completion - first submission)");
  v.formula(n + ".bandwidth_bytes_per_s", safe_ratio(static_cast<double>(s.bytes_read + s.bytes_written), span),
            "bytes/s", "bytes / (last completion - first submission)");
  v.histogram(n + ".latency", hist_, "ps", "command latency (submit to completion)");
}

}  // namespace numasim::hw
