// The machine's shape: sockets, NUMA nodes (with or without CPUs, as a CXL
// expander has none), and the interconnect links between nodes, kept as a
// Boost.Graph (in topology.cpp only). From it: shortest paths by latency, hop
// counts, bottleneck bandwidth per path, and the SLIT-style distance matrix the
// kernel orders its zonelists by (as Linux uses ACPI SLIT). Also the physical
// address map of node memory (like ACPI SRAT): node i owns one contiguous range.
//
// Configuration (read by Topology::from_config):
//   [machine] sockets, cores_per_socket, distances (optional SLIT override; else
//             10 * (reference + 2 * path latency) / reference, a load's round trip)
//   [[node]]  socket, memory, cpus (cores on this node; 0 = CPU-less); io_tile
//             (read by hw/, uncore_mesh.h: a CPU-less node on an I/O stop of its
//             socket's mesh, such as a CXL expander on a root port, is reached
//             through that mesh, not by [[link]]s: it needs socket = <its
//             socket>, no [[link]] and an explicit [machine] distances row)
//   [[link]]  nodes = [a, b], latency, bandwidth
// CPUs are numbered node by node in node order, like Linux on most x86 servers
// with one thread per core. Not modelled: SMT siblings, memory holes.
#pragma once

#include <string>
#include <vector>

#include "common/units.h"

namespace numasim {

class Config;

struct NodeDesc {
  NodeId id;
  int socket = -1;          // -1: attached to no socket (e.g. CXL memory)
  Bytes memory;             // capacity
  PhysAddr base = 0;        // start of its physical range (1 GiB aligned)
  std::vector<CpuId> cpus;  // empty for a CPU-less node
  bool on_io_stop = false;  // [[node]] io_tile: on an I/O stop of its socket's mesh (no [[link]]s)
  bool has_cpus() const { return !cpus.empty(); }
  PhysAddr end() const { return base + memory.value(); }
};

struct LinkDesc {
  int index = 0;
  NodeId a, b;          // bidirectional; each direction has its own bandwidth
  Picoseconds latency;  // one-way, per traversal
  Bandwidth bandwidth;  // per direction
  std::string name;     // "n0-n1"
};

class Topology {
 public:
  static Topology from_config(Config root);

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_cpus() const { return static_cast<int>(cpu_node_.size()); }
  int num_sockets() const { return num_sockets_; }
  const std::vector<NodeDesc>& nodes() const { return nodes_; }
  const NodeDesc& node(NodeId id) const { return nodes_[id.value()]; }
  const std::vector<LinkDesc>& links() const { return links_; }

  NodeId cpu_node(CpuId cpu) const { return cpu_node_[cpu.value()]; }
  int cpu_socket(CpuId cpu) const { return nodes_[cpu_node_[cpu.value()].value()].socket; }
  // Node owning a physical address; NodeId(-1) when it is in no node.
  NodeId phys_node(PhysAddr addr) const;

  // SLIT distance: 10 on the diagonal, larger when farther.
  int distance(NodeId from, NodeId to) const { return distance_[index(from, to)]; }
  Picoseconds path_latency(NodeId from, NodeId to) const { return path_latency_[index(from, to)]; }
  int hops(NodeId from, NodeId to) const { return static_cast<int>(path_links_[index(from, to)].size()); }
  Bandwidth path_bandwidth(NodeId from, NodeId to) const { return path_bandwidth_[index(from, to)]; }
  // Link indices along the shortest path from `from` to `to`, in order.
  const std::vector<int>& path_links(NodeId from, NodeId to) const { return path_links_[index(from, to)]; }

  // Same layout as `numactl --hardware`.
  std::string numactl_hardware() const;
  // {"nodes": [...], "links": [...], "distances": [[...]]}
  std::string to_json() const;

 private:
  std::size_t index(NodeId a, NodeId b) const {
    return static_cast<std::size_t>(a.value()) * nodes_.size() + static_cast<std::size_t>(b.value());
  }
  void compute_paths();

  int num_sockets_ = 0;
  std::vector<NodeDesc> nodes_;
  std::vector<LinkDesc> links_;
  std::vector<NodeId> cpu_node_;
  std::vector<int> distance_;
  std::vector<Picoseconds> path_latency_;
  std::vector<Bandwidth> path_bandwidth_;
  std::vector<std::vector<int>> path_links_;
};

}  // namespace numasim
