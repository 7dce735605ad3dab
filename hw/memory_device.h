// A node's memory device: what the memory system asks of the memory behind a
// node's home agent (DESIGN.md, Models to follow: Ramulator 2's interface plus
// registered implementations chosen by name; SST's swappable sub-mechanisms).
// A device times one 64-byte line read, or one full-line write (the memory
// system writes nothing smaller below the LLC: write-backs, streaming stores),
// arriving at an absolute time, keeps its own next-free timestamps, and dumps
// its statistics under its hierarchical name.
//
// Registered implementations (memory_device.cpp, one line each):
//   ddr4  DramController (dram_controller.h): the node's DDR channels; its
//         parameters are the machine's [dram] table, overridable per device table.
//   cxl   CxlMemoryDevice (cxl_memory_device.h): a CXL Type-3 expander with its
//         own port/link latency, link bandwidth and device-side DRAM.
// A new standard (ddr5, hbm) is a new implementation and one registry line.
//
// Configuration: `[[node]] device = "<name>"` names a device table
// `[device.<name>]` (with `impl = "<registered name>"`, default <name>) or a
// registered implementation with its defaults; absent: ddr4 with [dram].
// Named presets live in configs/devices/ (one table per file, used as `base`).
// Simplifications: a device serves whole lines only; it has no view of the
// host's caches or coherence (the home agent stays on the host).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"
#include "hw/hw_stats.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

struct DramParams;

// Timing of one line at a device.
struct MemoryAccessResult {
  Picoseconds done;      // last data beat back at the device's host-side port
  Picoseconds service;   // unloaded time of this request (what an idle device would take)
  Picoseconds queueing;  // done - arrival - service
};

class MemoryDevice {
 public:
  virtual ~MemoryDevice() = default;

  // One 64 B line read, or one full-line write, arriving at `arrival`.
  virtual MemoryAccessResult access_line(PhysAddr pa, bool is_write, Picoseconds arrival) = 0;
  // Unloaded latency of a line at an idle device (first access: bank closed).
  virtual Picoseconds unloaded_latency(bool is_write) const = 0;
  // Highest sustainable data rate of 64 B reads (or writes), bytes per second.
  virtual double peak_bytes_per_second(bool is_write) const = 0;

  // Registered implementation name ("ddr4", "cxl").
  virtual std::string_view impl() const = 0;
  // Hierarchical statistics name: system.node<n>.mc (ddr4), system.node<n>.cxl.
  virtual const std::string& name() const = 0;
  virtual void dump(StatsVisitor& v) const = 0;
  virtual void reset_stats() = 0;
};

// Where a device is built: its node, the first physical address of the node
// (devices decode addresses relative to it) and the statistics prefix of the node.
struct MemoryDeviceSite {
  NodeId node{0};
  PhysAddr base = 0;
  std::string node_name;  // "system.node<n>"
};

// A device chosen and configured, not yet built: the name the configuration
// used and a maker holding the parameters it read.
struct MemoryDeviceSpec {
  std::string name;  // as configured: "cxl-type3", "ddr4"
  std::string impl;  // registered implementation: "cxl"
  std::function<std::unique_ptr<MemoryDevice>(const MemoryDeviceSite&)> make;
};

// One registered implementation: reads its parameters from a device table
// (errors recorded, located, in the document) and returns the spec.
// `dram` is the machine's [dram] parameters (the defaults of DRAM-based devices).
struct MemoryDeviceImpl {
  std::string_view name;
  std::string_view description;
  MemoryDeviceSpec (*from_config)(Config table, const DramParams& dram);
};

// The registry: every implementation, by name (sorted).
const std::vector<MemoryDeviceImpl>& memory_device_registry();
const MemoryDeviceImpl* find_memory_device(std::string_view name);
// "cxl, ddr4"
std::string registered_memory_devices();

// The device of each [[node]] table, by node index: reads its `device` key and,
// when it names a device table, that table under root's [device] (once per
// name). An unknown name is a located error (listing the registered
// implementations) and gives the default. An empty spec (make == nullptr)
// stands for the default device; no [[node]] tables: an empty vector.
std::vector<MemoryDeviceSpec> memory_devices_from_config(Config root, const DramParams& dram);

}  // namespace numasim::hw
