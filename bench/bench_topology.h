// The machine shape the OS-layer benchmarks share: two sockets of two cores,
// `memory_per_node` on each node, SLIT 10/21 and one 50 ns / 20 GB/s link
// (the kernel times its traffic through a fake platform, so only the shape matters).
#pragma once

#include <string>

#include "common/config.h"
#include "common/topology.h"

namespace numasim {

inline Topology two_node_bench_topology(const std::string& memory_per_node, const std::string& name) {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"" + memory_per_node +
          "\"\n"
          "distances = [[10, 21], [21, 10]]\n"
          "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n",
      name);
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

}  // namespace numasim
