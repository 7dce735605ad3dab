// A small two-socket machine for the system tests: Skylake-SP per-core
// parameters (the defaults of every component), 2 cores and 1 GiB per node,
// SLIT 10/21 and a 27 ns UPI link as in configs/skylake-sp-2s.toml.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"

namespace numasim::testing {

inline const char* kSmallMachineToml = R"(
[machine]
sockets = 2
cores_per_socket = 2
memory_per_node = "1GiB"
distances = [[10, 21], [21, 10]]

[[link]]
nodes = [0, 1]
latency = "27ns"
bandwidth = "34.3GB/s"
)";

inline std::unique_ptr<ConfigDocument> small_machine(const std::string& extra = {}) {
  auto doc = ConfigDocument::from_string(std::string(kSmallMachineToml) + extra, "small-machine.toml");
  return doc;
}

}  // namespace numasim::testing
