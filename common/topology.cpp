// Topology: reads sockets, nodes and links from the configuration, keeps them as
// a Boost.Graph (vertices = nodes, edges = links weighted by latency) and
// precomputes all-pairs shortest paths with Dijkstra from every node (node counts
// are small). Ties between equal-latency paths go to the one Dijkstra settles
// first, which is deterministic for a given link order.
#include "common/topology.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <unistd.h>

#include <cstdio>
#include <limits>

#include "common/config.h"
#include "common/json_writer.h"
#include "os/page.h"  // sizeof(os::page) only: the host-memory bound below

namespace numasim {
namespace {

struct EdgeProps {
  int link = 0;
  std::uint64_t latency_ps = 0;
};
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, boost::no_property, EdgeProps>;

constexpr std::uint64_t kNodeAlign = 1ull << 30;

// The simulated physical address space ends below 16 TiB: the kernel model links
// free pages by 32-bit frame numbers (os/mmzone.h, kNoPfn32 = 2^32 - 1 is "none").
constexpr std::uint64_t kMaxPhysEnd = ((1ull << 32) - 1) << 12;
// Host memory the kernel model keeps per simulated 4 KiB frame: its struct page
// (os/page.h, a dependency-free header; 48 bytes): a machine whose descriptors
// alone exceed the host's physical memory cannot run, so it is a configuration
// error, not a crash. (Verify mode's page tokens are allocated lazily, per
// frame written, and are not part of this bound.)
constexpr std::uint64_t kHostBytesPerFrame = sizeof(os::page);

std::uint64_t host_physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(size) : 0;
}

}  // namespace

Topology Topology::from_config(Config root) {
  Topology t;
  Config machine = root.table("machine", "sockets, cores and the SLIT distance table");
  t.num_sockets_ = machine.require<int>("sockets", "number of CPU sockets", {1, 64});
  int cores_per_socket = machine.require<int>("cores_per_socket", "physical cores per socket", {1, 256});
  int nodes_per_socket =
      machine.get<int>("nodes_per_socket", 1, "NUMA nodes per socket when no [[node]] is given (AMD NPS)", {1, 16});
  Picoseconds slit_reference = machine.get<Picoseconds>(
      "slit_reference_latency", Picoseconds(90000),
      "local memory latency used to derive SLIT distances when 'distances' is absent", {Picoseconds(1), {}});

  std::vector<Config> node_tables = root.tables("node", "a NUMA node: memory, its socket and its CPUs");
  struct RawNode {
    int socket;
    Bytes memory;
    int cpus;  // -1: share of the socket's cores
    Config cfg;
    bool io = false;  // io_tile: on an I/O stop of its socket's mesh
  };
  std::vector<RawNode> raw;
  if (node_tables.empty()) {
    Bytes per_node = machine.require<Bytes>("memory_per_node", "memory of each node when no [[node]] is given",
                                            {Bytes(16ull << 20), {}});
    for (int s = 0; s < t.num_sockets_; ++s)
      for (int n = 0; n < nodes_per_socket; ++n) raw.push_back({s, per_node, -1, machine});
  } else {
    for (Config& nc : node_tables) {
      RawNode r{0, Bytes(0), -1, nc};
      r.cpus = nc.get<int>("cpus", -1, "cores on this node; 0 for a CPU-less node; -1 = an even share of the socket",
                           {-1, 1024});
      r.socket = nc.get<int>("socket", r.cpus == 0 ? -1 : 0, "socket the node belongs to (-1: none, e.g. CXL memory)",
                             {-1, 63});
      r.memory = nc.require<Bytes>("memory", "memory capacity of the node", {Bytes(16ull << 20), {}});
      if (r.socket >= t.num_sockets_)
        nc.error("socket", "socket " + std::to_string(r.socket) +
                               " does not exist: machine.sockets = " + std::to_string(t.num_sockets_));
      if (r.socket < 0 && r.cpus > 0) nc.error("cpus", "a node without a socket cannot have CPUs");
      // io_tile itself is read and checked against the mesh by hw/ (UncoreParams::node_io_tiles).
      r.io = nc.has("io_tile");
      if (r.io && r.cpus != 0)
        nc.error("io_tile", r.cpus < 0 ? std::string("only a CPU-less node sits on an I/O stop: give cpus = 0")
                                       : "only a CPU-less node (cpus = 0) sits on an I/O stop; this one has cpus = " +
                                             std::to_string(r.cpus));
      else if (r.io && r.socket < 0)
        nc.error("io_tile", "a node on an I/O stop belongs to the socket whose mesh reaches it: give socket = <id>");
      raw.push_back(r);
    }
  }

  // Share each socket's cores among its nodes that did not say how many they have.
  std::vector<int> explicit_cores(t.num_sockets_, 0), sharing(t.num_sockets_, 0);
  for (const auto& r : raw) {
    if (r.socket < 0 || r.socket >= t.num_sockets_) continue;
    if (r.cpus >= 0)
      explicit_cores[r.socket] += r.cpus;
    else
      ++sharing[r.socket];
  }
  std::vector<int> share(t.num_sockets_, 0), extra(t.num_sockets_, 0);
  for (int s = 0; s < t.num_sockets_; ++s) {
    int rest = cores_per_socket - explicit_cores[s];
    if (rest < 0 || (sharing[s] == 0 && rest != 0)) {
      machine.error("cores_per_socket", "socket " + std::to_string(s) + " has " + std::to_string(cores_per_socket) +
                                            " cores but its nodes declare " + std::to_string(explicit_cores[s]));
      continue;
    }
    if (sharing[s] > 0) share[s] = rest / sharing[s], extra[s] = rest % sharing[s];
  }

  PhysAddr base = 0;
  int next_cpu = 0;
  bool address_space_reported = false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    NodeDesc n;
    n.id = NodeId(static_cast<int>(i));
    n.socket = raw[i].socket;
    n.memory = raw[i].memory;
    n.base = base;
    n.on_io_stop = raw[i].io;
    // Bound on memory size: the simulated physical address space (see kMaxPhysEnd).
    if (!address_space_reported && (n.memory.value() > kMaxPhysEnd || base > kMaxPhysEnd - n.memory.value())) {
      raw[i].cfg.error(node_tables.empty() ? "memory_per_node" : "memory",
                       "node " + std::to_string(i) + "'s memory would end at " + format_size(Bytes(base)) + " + " +
                           format_size(n.memory) +
                           ", beyond the simulated physical address space (16TiB less 4KiB: 32-bit page frame "
                           "numbers)");
      address_space_reported = true;
      n.memory = Bytes(0);
    }
    base += (n.memory.value() + kNodeAlign - 1) / kNodeAlign * kNodeAlign;
    int cpus = raw[i].cpus;
    if (cpus < 0 && n.socket >= 0 && n.socket < t.num_sockets_) {
      cpus = share[n.socket] + (extra[n.socket] > 0 ? 1 : 0);
      if (extra[n.socket] > 0) --extra[n.socket];
    }
    for (int c = 0; c < std::max(cpus, 0); ++c) {
      n.cpus.push_back(CpuId(next_cpu++));
      t.cpu_node_.push_back(n.id);
    }
    t.nodes_.push_back(std::move(n));
  }
  // Bound on memory size against the host: the page descriptors must fit in host memory.
  if (!address_space_reported) {
    std::uint64_t frames = 0;
    for (const auto& n : t.nodes_) frames += n.memory.value() >> 12;
    const std::uint64_t host = host_physical_memory();
    if (host > 0 && frames > host / kHostBytesPerFrame)
      raw.front().cfg.error(node_tables.empty() ? "memory_per_node" : "memory",
                            "the machine's " + format_size(Bytes(frames << 12)) + " of memory need " +
                                format_size(Bytes(frames * kHostBytesPerFrame)) +
                                " of host memory for page descriptors (" + std::to_string(kHostBytesPerFrame) +
                                " bytes per 4KiB page), more than this "
                                "host's " +
                                format_size(Bytes(host)));
  }
  // When the shape itself is invalid (already reported), skip the checks that
  // depend on it rather than reporting their consequences as further errors.
  const bool shape_ok = t.num_sockets_ > 0 && cores_per_socket > 0;
  if (shape_ok && t.cpu_node_.empty()) machine.error("", "the machine has no CPUs");

  int nn = t.num_nodes();
  for (Config& lc : root.tables("link", "an interconnect link between two nodes")) {
    auto ends = lc.require<std::vector<std::int64_t>>("nodes", "the two nodes it connects, e.g. [0, 1]");
    LinkDesc l;
    l.index = static_cast<int>(t.links_.size());
    l.latency = lc.require<Picoseconds>("latency", "one-way latency of one traversal", {Picoseconds(1), {}});
    l.bandwidth = lc.require<Bandwidth>("bandwidth", "bandwidth per direction");
    if (ends.size() != 2 || ends[0] < 0 || ends[1] < 0 || ends[0] >= nn || ends[1] >= nn || ends[0] == ends[1]) {
      if (lc.has("nodes") && shape_ok)
        lc.error("nodes", "expected two different node ids in [0, " + std::to_string(nn - 1) + "]");
      continue;
    }
    l.a = NodeId(static_cast<int>(ends[0]));
    l.b = NodeId(static_cast<int>(ends[1]));
    for (const NodeId e : {l.a, l.b})
      if (t.nodes_[static_cast<std::size_t>(e.value())].on_io_stop)
        lc.error("nodes", "node " + std::to_string(e.value()) +
                              " sits on an I/O stop (io_tile): its socket's mesh reaches it, not a [[link]]");
    l.name = "n" + std::to_string(l.a.value()) + "-n" + std::to_string(l.b.value());
    t.links_.push_back(l);
  }

  auto distances = machine.get<std::vector<std::vector<std::int64_t>>>(
      "distances", {}, "SLIT distance matrix (10 = local); derived from path latency when absent");

  t.compute_paths();
  bool io_nodes = false;
  for (const auto& n : t.nodes_) io_nodes = io_nodes || n.on_io_stop;
  if (io_nodes && distances.empty() && shape_ok)
    machine.error("distances",
                  "required with a node on an I/O stop (io_tile): its distances cannot be derived "
                  "from [[link]] latencies");

  // Reachability and the SLIT table.
  t.distance_.assign(static_cast<std::size_t>(nn) * nn, 0);
  for (int a = 0; a < nn; ++a) {
    for (int b = 0; b < nn; ++b) {
      std::size_t ix = t.index(NodeId(a), NodeId(b));
      if (a != b && t.path_links_[ix].empty()) {
        if (t.nodes_[static_cast<std::size_t>(a)].on_io_stop || t.nodes_[static_cast<std::size_t>(b)].on_io_stop)
          continue;  // reached through a socket's mesh; its distances are given
        if (a < b && shape_ok)
          root.error("link", "nodes " + std::to_string(a) + " and " + std::to_string(b) +
                                 " are not connected by any path of [[link]]s");
        continue;
      }
      // A remote load crosses the path twice (request and response).
      std::uint64_t lat = 2 * t.path_latency_[ix].value();
      t.distance_[ix] = a == b ? 10
                               : static_cast<int>((10 * (slit_reference.value() + lat) + slit_reference.value() / 2) /
                                                  slit_reference.value());
    }
  }
  if (!distances.empty()) {
    bool ok = static_cast<int>(distances.size()) == nn;
    for (int a = 0; ok && a < nn; ++a) {
      ok = static_cast<int>(distances[a].size()) == nn;
      for (int b = 0; ok && b < nn; ++b) {
        std::int64_t d = distances[a][b];
        ok = (a == b) ? d == 10 : (d > 10 && d <= 254);
        if (ok) t.distance_[t.index(NodeId(a), NodeId(b))] = static_cast<int>(d);
      }
    }
    if (!ok && shape_ok)
      machine.error("distances", "expected a " + std::to_string(nn) + "x" + std::to_string(nn) +
                                     " matrix with 10 on the diagonal and values in [11, 254] elsewhere");
  }
  return t;
}

void Topology::compute_paths() {
  int nn = num_nodes();
  Graph g(static_cast<std::size_t>(nn));
  for (const auto& l : links_) {
    boost::add_edge(static_cast<std::size_t>(l.a.value()), static_cast<std::size_t>(l.b.value()),
                    EdgeProps{l.index, l.latency.value()}, g);
  }
  path_latency_.assign(static_cast<std::size_t>(nn) * nn, Picoseconds(0));
  path_bandwidth_.assign(static_cast<std::size_t>(nn) * nn, Bandwidth(UINT64_MAX));
  path_links_.assign(static_cast<std::size_t>(nn) * nn, {});
  for (int src = 0; src < nn; ++src) {
    std::vector<std::uint64_t> dist(nn);
    std::vector<std::size_t> pred(nn);
    boost::dijkstra_shortest_paths(
        g, static_cast<std::size_t>(src),
        boost::weight_map(boost::get(&EdgeProps::latency_ps, g))
            .distance_map(boost::make_iterator_property_map(dist.begin(), boost::get(boost::vertex_index, g)))
            .predecessor_map(boost::make_iterator_property_map(pred.begin(), boost::get(boost::vertex_index, g))));
    for (int dst = 0; dst < nn; ++dst) {
      if (dst == src || pred[dst] == static_cast<std::size_t>(dst)) continue;  // self or unreachable
      std::vector<int> path;
      std::uint64_t bottleneck = UINT64_MAX;
      for (std::size_t v = static_cast<std::size_t>(dst); v != static_cast<std::size_t>(src); v = pred[v]) {
        // The cheapest edge between pred[v] and v (parallel links: take the lowest latency, then index).
        int best = -1;
        auto [ei, ee] = boost::out_edges(pred[v], g);
        for (; ei != ee; ++ei) {
          if (boost::target(*ei, g) != v) continue;
          const EdgeProps& p = g[*ei];
          if (best < 0 || p.latency_ps < links_[best].latency.value() ||
              (p.latency_ps == links_[best].latency.value() && p.link < best))
            best = p.link;
        }
        path.push_back(best);
        bottleneck = std::min(bottleneck, links_[best].bandwidth.bytes_per_second());
      }
      std::reverse(path.begin(), path.end());
      std::size_t ix = index(NodeId(src), NodeId(dst));
      path_latency_[ix] = Picoseconds(dist[dst]);
      path_bandwidth_[ix] = Bandwidth(bottleneck);
      path_links_[ix] = std::move(path);
    }
  }
}

NodeId Topology::phys_node(PhysAddr addr) const {
  for (const auto& n : nodes_)
    if (addr >= n.base && addr < n.end()) return n.id;
  return NodeId(-1);
}

std::string Topology::numactl_hardware() const {
  std::string out;
  char buf[64];
  int nn = num_nodes();
  std::snprintf(buf, sizeof buf, "available: %d nodes (0-%d)\n", nn, nn - 1);
  out += buf;
  for (const auto& n : nodes_) {
    out += "node " + std::to_string(n.id.value()) + " cpus:";
    for (CpuId c : n.cpus) out += " " + std::to_string(c.value());
    out += "\n";
    out += "node " + std::to_string(n.id.value()) + " size: " + std::to_string(n.memory.value() >> 20) + " MB\n";
  }
  out += "node distances:\nnode ";
  for (int b = 0; b < nn; ++b) {
    std::snprintf(buf, sizeof buf, "% 3d ", b);
    out += buf;
  }
  out += "\n";
  for (int a = 0; a < nn; ++a) {
    std::snprintf(buf, sizeof buf, "% 3d: ", a);
    out += buf;
    for (int b = 0; b < nn; ++b) {
      std::snprintf(buf, sizeof buf, "% 3d ", distance(NodeId(a), NodeId(b)));
      out += buf;
    }
    out += "\n";
  }
  return out;
}

std::string Topology::to_json() const {
  JsonWriter j;
  j.begin_object();
  j.key("sockets").value(num_sockets_);
  j.key("nodes").begin_array();
  for (const auto& n : nodes_) {
    j.begin_object();
    j.key("id").value(n.id.value());
    j.key("socket").value(n.socket);
    j.key("memory_bytes").value(n.memory.value());
    j.key("phys_base").value(n.base);
    j.key("cpus").begin_array();
    for (CpuId c : n.cpus) j.value(c.value());
    j.end_array();
    j.end_object();
  }
  j.end_array();
  j.key("links").begin_array();
  for (const auto& l : links_) {
    j.begin_object();
    j.key("name").value(l.name);
    j.key("nodes").begin_array().value(l.a.value()).value(l.b.value()).end_array();
    j.key("latency_ns").value(static_cast<double>(l.latency.value()) / 1000.0);
    j.key("bandwidth_gbps").value(static_cast<double>(l.bandwidth.bytes_per_second()) / 1e9);
    j.end_object();
  }
  j.end_array();
  auto matrix = [&](const char* name, auto get) {
    j.key(name).begin_array();
    for (int a = 0; a < num_nodes(); ++a) {
      j.begin_array();
      for (int b = 0; b < num_nodes(); ++b) j.value(get(NodeId(a), NodeId(b)));
      j.end_array();
    }
    j.end_array();
  };
  matrix("distances", [&](NodeId a, NodeId b) { return distance(a, b); });
  matrix("hops", [&](NodeId a, NodeId b) { return hops(a, b); });
  matrix("path_latency_ns",
         [&](NodeId a, NodeId b) { return static_cast<double>(path_latency(a, b).value()) / 1000.0; });
  j.end_object();
  return j.str() + "\n";
}

}  // namespace numasim
