// The memory-device registry (see memory_device.h): the implementations by
// name, and the choice of each node's device from its [[node]] table.
#include "hw/memory_device.h"

#include <algorithm>

#include "common/config.h"
#include "hw/cxl_memory_device.h"
#include "hw/ddr5_device.h"
#include "hw/dram_controller.h"

namespace numasim::hw {

namespace {

MemoryDeviceSpec ddr4_from_config(Config table, const DramParams& dram) {
  const DramParams p = DramParams::from_config(table, dram);
  MemoryDeviceSpec s;
  s.impl = "ddr4";
  s.make = [p](const MemoryDeviceSite& site) -> std::unique_ptr<MemoryDevice> {
    return std::make_unique<DramController>(p, site.base, site.node_name + ".mc");
  };
  return s;
}

}  // namespace

// One line per implementation, sorted by name. A new device (ddr5, hbm) adds
// its file and a line here.
const std::vector<MemoryDeviceImpl>& memory_device_registry() {
  static const std::vector<MemoryDeviceImpl> registry = {
      {"cxl", "CXL Type-3 memory expander: port and link, device controller and DRAM", &cxl_device_from_config},
      {"ddr4", "the node's DDR4 channels behind the socket's memory controller", &ddr4_from_config},
      {"ddr5", "DDR5 channels of two 32-bit subchannels, 8x4 banks, same-bank refresh (hw/ddr5_device.h)",
       &ddr5_device_from_config},
  };
  return registry;
}

const MemoryDeviceImpl* find_memory_device(std::string_view name) {
  for (const MemoryDeviceImpl& d : memory_device_registry())
    if (d.name == name) return &d;
  return nullptr;
}

std::string registered_memory_devices() {
  std::string out;
  for (const MemoryDeviceImpl& d : memory_device_registry()) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

namespace {
MemoryDeviceSpec device_of_node(Config root, Config node, const DramParams& dram,
                                std::vector<MemoryDeviceSpec>& known) {
  const std::string name = node.get<std::string>(
      "device", "ddr4",
      "memory device of the node: a [device.<name>] table or a registered implementation (" +
          registered_memory_devices() + "); ddr4 without a [device.ddr4] table: the machine's [dram]");
  for (const MemoryDeviceSpec& k : known)
    if (k.name == name) return k;  // a device table read once, whatever number of nodes use it
  const bool has_table = root.has("device") && root.table("device").has(name);
  if (name == "ddr4" && !has_table) return {};
  Config devices = root.table("device", "memory devices named by [[node]] tables, one table each");
  if (!has_table && !find_memory_device(name)) {
    node.error("device", "unknown memory device \"" + name + "\": registered devices are " +
                             registered_memory_devices() + " (or define a [device." + name +
                             "] table with impl = one of them)");
    return {};
  }
  Config table = devices.table(name, "a memory device: its implementation and parameters");
  const std::string impl = table.get<std::string>(
      "impl", name, "registered implementation of the device (" + registered_memory_devices() + ")");
  const MemoryDeviceImpl* d = find_memory_device(impl);
  if (!d) {
    table.error("impl", "unknown memory device implementation \"" + impl + "\": registered devices are " +
                            registered_memory_devices());
    return {};
  }
  MemoryDeviceSpec s = d->from_config(table, dram);
  s.name = name;
  known.push_back(s);
  return s;
}
}  // namespace

std::vector<MemoryDeviceSpec> memory_devices_from_config(Config root, const DramParams& dram) {
  std::vector<MemoryDeviceSpec> out, known;
  for (Config& node : root.tables("node", "a NUMA node: memory, its socket and its CPUs"))
    out.push_back(device_of_node(root, node, dram, known));
  return out;
}

}  // namespace numasim::hw
