// The uncore's I/O stops (CXLIO, uncore_mesh.h): a CPU-less node on an I/O
// stop of its socket's mesh ([[node]] io_tile, a CXL expander on a root port).
// Its latencies are hop counts and the I/O stack's crossings; in the memory
// system a core's read of it goes core -> slice -> I/O stop -> device -> core,
// holds an entry of its socket's home tracker, and from another socket crosses the UPI
// link to the stop's socket; the key's errors are located.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/cxl_memory_device.h"
#include "hw/memory_system.h"
#include "hw/uncore_mesh.h"

namespace numasim::hw {
namespace {

// 6 x 6 mesh at 1 GHz (1 ns per uncore cycle): one I/O row, IMCs at (3,0) and
// (3,5), UPI agents at (0,1), (0,2), (0,4); the LLC lookup 40 cycles, the
// core's stop 6, the I/O stack 10 (the defaults).
UncoreParams mesh1ghz() {
  UncoreParams p;
  p.impl = "mesh";
  p.clock = Frequency(1'000'000'000);
  return p;
}

constexpr std::uint32_t tile(std::uint32_t row, std::uint32_t col) { return row * 6 + col; }

// A line of node memory from `base` whose LLC slice is core `slice`'s.
PhysAddr line_on_slice(const UncoreMesh& m, PhysAddr base, std::uint32_t slice) {
  for (PhysAddr pa = base;; pa += 64)
    if (m.slice_of(pa) == slice) return pa;
}

TEST(UncoreIoStop, ItsRoutesAreHopsAndTheIoStacksCrossings) {
  const UncoreMesh m(mesh1ghz(), 4);
  ASSERT_EQ(m.core_tile(0), tile(1, 0));  // the first core tile below the I/O row
  const PhysAddr pa = line_on_slice(m, 0, 0);
  // Core 0 at (1,0), its own slice: to the stop at (0,3) 1 + 3 hops.
  EXPECT_EQ(m.to_io(0, pa, tile(0, 3)), Picoseconds((40 + 4 + 10) * 1000));
  EXPECT_EQ(m.from_io(0, tile(0, 3)), Picoseconds((10 + 4 + 6) * 1000));
  // A stop nearer the core: 3 hops fewer each way.
  EXPECT_EQ(m.to_io(0, pa, tile(0, 0)), Picoseconds((40 + 1 + 10) * 1000));
  EXPECT_EQ(m.from_io(0, tile(0, 0)), Picoseconds((10 + 1 + 6) * 1000));
  // Another slice: core -> slice -> stop, two legs.
  const PhysAddr far = line_on_slice(m, 0, 3);
  const std::uint32_t st = m.core_tile(3);
  EXPECT_EQ(m.to_io(0, far, tile(0, 3)),
            Picoseconds((40 + m.hops(tile(1, 0), st) + m.hops(st, tile(0, 3)) + 10) * 1000));
  // From another socket: UPI agent -> home slice (home step) -> stop -> stack,
  // and the data stack -> stop -> nearest UPI agent ((0,2) or (0,4), 1 hop).
  EXPECT_EQ(m.home_to_io(pa, tile(0, 3)),
            Picoseconds((10 + 20 + m.hops(tile(0, 1), tile(1, 0)) + 4 + 10) * 1000));  // agent (0,1) nearest the slice
  EXPECT_EQ(m.io_to_upi(pa, tile(0, 3)), Picoseconds((10 + 1 + 10) * 1000));
}

// One socket of 4 cores (node 0, DDR4) and a CXL expander (node 1) on I/O stop `stop`.
MemoryLayout socket_with_expander() {
  MemoryLayout l;
  l.num_sockets = 1;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), {CpuId(0), CpuId(1), CpuId(2), CpuId(3)}});
  l.nodes.push_back({NodeId(1), 0, 1ull << 30, Bytes(1ull << 30), {}});
  l.interconnect.num_nodes = 2;
  l.interconnect.paths = {{}, {}, {}, {}};  // no [[link]]: the mesh reaches the stop
  return l;
}

MemoryDeviceSpec cxl_spec() {
  MemoryDeviceSpec s;
  s.name = s.impl = "cxl";
  s.make = [](const MemoryDeviceSite& site) -> std::unique_ptr<MemoryDevice> {
    return std::make_unique<CxlMemoryDevice>(CxlDeviceParams{}, site.base, site.node_name + ".cxl");
  };
  return s;
}

MemorySystemParams expander_params(std::uint32_t stop, std::uint32_t home_tracker = 64) {
  MemorySystemParams p;
  p.uncore = mesh1ghz();
  p.uncore.home_tracker = home_tracker;
  p.node_io_tiles = {-1, static_cast<std::int32_t>(stop)};
  p.node_devices = {MemoryDeviceSpec{}, cxl_spec()};
  p.l2_prefetch.enabled = false;
  p.super_queue = 64;
  return p;
}

TEST(UncoreIoStop, AnIdleExpanderReadIsTheMeshTheIoStackAndTheDevice) {
  const UncoreMesh m(mesh1ghz(), 4);
  const PhysAddr pa = line_on_slice(m, 1ull << 30, 0);
  auto read = [&](std::uint32_t stop, AccessBreakdown& b) {
    MemorySystem ms(socket_with_expander(), expander_params(stop));
    const Picoseconds lat = ms.access(CpuId(0), pa, false, Picoseconds(1'000'000), &b);
    EXPECT_EQ(b.dram, ms.device(NodeId(1)).unloaded_latency(false));  // port, flits, controller, a closed row
    MapStatsVisitor v;
    ms.dump_stats(v);
    EXPECT_EQ(v.get("system.node0.home_agent.requests"), 1.0);  // its socket's home tracked it
    EXPECT_EQ(v.get("system.node1.home_agent.requests"), 0.0);  // no home agent of its own
    EXPECT_EQ(v.get("system.node1.cxl.reads"), 1.0);
    return lat;
  };
  AccessBreakdown b;
  const Picoseconds lat = read(tile(0, 3), b);
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  EXPECT_EQ(b.queueing, Picoseconds(0));
  EXPECT_EQ(b.interconnect, Picoseconds(0));  // no link: the mesh and the I/O stack
  EXPECT_EQ(b.cache, m.to_io(0, pa, tile(0, 3)) + m.from_io(0, tile(0, 3)));
  EXPECT_EQ(lat, b.cache + b.dram);
  // The stop 3 hops nearer the core: 6 uncore cycles (6 ns) less, both ways.
  AccessBreakdown near;
  EXPECT_EQ(lat - read(tile(0, 0), near), Picoseconds(6000));
}

// The socket's CHAs are the expander's home (their TORs hold its reads with the
// DRAM's): its reads take entries of the socket's home tracker, which a DRAM
// read may hold.
TEST(UncoreIoStop, ExpanderReadsShareTheSocketsHomeTracker) {
  const UncoreMesh m(mesh1ghz(), 4);
  const PhysAddr cxl_a = line_on_slice(m, 1ull << 30, 0), cxl_b = line_on_slice(m, (1ull << 30) + (1ull << 20), 0);
  const PhysAddr dram = line_on_slice(m, 1ull << 20, 0);
  auto two_reads = [&](std::uint32_t entries, PhysAddr first_line) {
    MemorySystem ms(socket_with_expander(), expander_params(tile(0, 3), entries));
    const Picoseconds t(1'000'000);
    const Picoseconds first = ms.access(CpuId(0), first_line, false, t);
    const Picoseconds second = ms.access(CpuId(1), cxl_b, false, t);
    MapStatsVisitor v;
    ms.dump_stats(v);
    EXPECT_EQ(v.get("system.node0.home_agent.requests"), 2.0);
    EXPECT_EQ(v.get("system.node1.home_agent.requests"), 0.0);
    return std::tuple{first, second, v.get("system.node0.home_agent.tracker_full")};
  };
  // The second read waits until the first's device has answered: the expander
  // about 128 ns after the first reached it, DDR4 about 70 ns (less the few ns
  // by which the second arrives later at its home).
  for (const auto& [first_line, wait_ps] : {std::pair{cxl_a, 100'000ull}, std::pair{dram, 30'000ull}}) {
    const auto [f1, s1, waits1] = two_reads(1, first_line);
    EXPECT_EQ(waits1, 1.0) << first_line;  // the expander's read waited for the only entry
    const auto [f64, s64, waits64] = two_reads(64, first_line);
    EXPECT_EQ(waits64, 0.0) << first_line;
    EXPECT_EQ(f64, f1) << first_line;
    EXPECT_GT(s1.value(), s64.value() + wait_ps) << first_line;
  }
}

TEST(UncoreIoStop, FromAnotherSocketAReadCrossesTheUpiLinkToTheStopsSocket) {
  MemoryLayout l;
  l.num_sockets = 2;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(1ull << 30), {CpuId(0), CpuId(1), CpuId(2), CpuId(3)}});
  l.nodes.push_back({NodeId(1), 1, 1ull << 30, Bytes(1ull << 30), {CpuId(4), CpuId(5), CpuId(6), CpuId(7)}});
  l.nodes.push_back({NodeId(2), 0, 2ull << 30, Bytes(1ull << 30), {}});
  l.interconnect.num_nodes = 3;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), Picoseconds(14'000), Bandwidth(62'400'000'000ull), "upi"});
  l.interconnect.paths = {{}, {0}, {}, {0}, {}, {}, {}, {}, {}};  // node 2: no links
  MemorySystemParams p = expander_params(tile(0, 3));
  p.node_io_tiles = {-1, -1, static_cast<std::int32_t>(tile(0, 3))};
  p.node_devices = {MemoryDeviceSpec{}, MemoryDeviceSpec{}, cxl_spec()};
  MemorySystem ms(l, p);
  const UncoreMesh m(p.uncore, 4);
  const PhysAddr pa = (2ull << 30) + 0x40000;
  AccessBreakdown b;
  const Picoseconds lat = ms.access(CpuId(5), pa, false, Picoseconds(1'000'000), &b);  // core 1 of socket 1
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  EXPECT_EQ(lat, b.cache + b.dram + b.interconnect + b.queueing);
  EXPECT_EQ(b.cache,
            m.to_upi(1, pa) + m.home_to_io(pa, tile(0, 3)) + m.io_to_upi(pa, tile(0, 3)) + m.upi_to_core(1, pa));
  EXPECT_GE(b.interconnect, Picoseconds(28'000));  // the UPI link both ways
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.socket1.upi_agent.remote_requests"), 1.0);
  EXPECT_EQ(v.get("system.node0.home_agent.requests"), 1.0);  // the stop's socket's home
  EXPECT_EQ(v.get("system.node2.home_agent.requests"), 0.0);
  EXPECT_EQ(v.get("system.interconnect.upi.n1_to_n0.messages"), 1.0);
  // A streamed read (traffic that does not start in a core's L2) goes the same
  // way across the sockets: over the link, tracked by the stop's socket's home.
  ms.access_range_nontemporal(CpuId(5), pa + 0x10000, Bytes(kCacheLineBytes), false, Picoseconds(2'000'000));
  MapStatsVisitor w;
  ms.dump_stats(w);
  EXPECT_EQ(w.get("system.interconnect.upi.n1_to_n0.messages"), 2.0);
  EXPECT_EQ(w.get("system.interconnect.upi.n0_to_n1.messages"), 2.0);
  EXPECT_EQ(w.get("system.node0.home_agent.requests"), 2.0);
  EXPECT_EQ(w.get("system.node2.home_agent.requests"), 0.0);
}

// Errors of the whole configuration (topology and memory system), "" when none.
std::string config_errors(const std::string& text) {
  auto doc = ConfigDocument::from_string(text, "io.toml");
  try {
    Topology::from_config(doc->root());
    MemorySystemParams::from_config(doc->root());
    doc->check();
  } catch (const ConfigErrors& e) {
    return e.what();
  }
  return "";
}

const std::string kMachine =
    "[machine]\nsockets = 1\ncores_per_socket = 4\ndistances = [[10, 14], [14, 10]]\n"
    "[[node]]\nsocket = 0\nmemory = \"1GiB\"\n";
const std::string kMesh = "[uncore]\nimpl = \"mesh\"\n";  // 6 x 6, I/O row 0, UPI agents at (0,1), (0,2), (0,4)

TEST(UncoreIoStop, TheKeyIsReadOnlyWhereGivenAndChecked) {
  auto doc = ConfigDocument::from_string(
      kMachine + "[[node]]\ncpus = 0\nsocket = 0\nio_tile = [0, 3]\nmemory = \"1GiB\"\n" + kMesh, "ok.toml");
  const Topology topo = Topology::from_config(doc->root());
  const MemorySystemParams p = MemorySystemParams::from_config(doc->root());
  doc->check();
  EXPECT_FALSE(topo.node(NodeId(0)).on_io_stop);
  EXPECT_TRUE(topo.node(NodeId(1)).on_io_stop);
  EXPECT_EQ(topo.distance(NodeId(0), NodeId(1)), 14);
  EXPECT_EQ(p.node_io_tiles, (std::vector<std::int32_t>{-1, static_cast<std::int32_t>(tile(0, 3))}));
  EXPECT_EQ(p.uncore.io_stack_cycles, 10u);
}

TEST(UncoreIoStop, ImpossibleIoTilesAreLocatedErrors) {
  auto node = [](const std::string& keys) { return "[[node]]\ncpus = 0\nmemory = \"1GiB\"\n" + keys; };
  struct Case {
    std::string text, where, what;
  };
  const std::vector<Case> cases = {
      {kMachine + node("socket = 0\nio_tile = [0, 3]\n"), "io.toml:12", "needs the uncore model"},
      {kMachine + node("socket = 0\nio_tile = [0, 9]\n") + kMesh, "io.toml:12", "outside the 6 x 6 mesh"},
      // Beyond 32 bits: not wrapped onto the mesh.
      {kMachine + node("socket = 0\nio_tile = [4294967296, 3]\n") + kMesh, "io.toml:12", "outside the 6 x 6 mesh"},
      {kMachine + node("socket = 0\nio_tile = [2, 3]\n") + kMesh, "io.toml:12", "is not on an I/O row"},
      {kMachine + node("socket = 0\nio_tile = [0, 1]\n") + kMesh, "io.toml:12", "is a UPI agent's"},
      {kMachine + node("socket = 0\nio_tile = [0]\n") + kMesh, "io.toml:12", "expected [row, column]"},
      {kMachine + node("io_tile = [0, 3]\n") + kMesh, "io.toml:11", "give socket = <id>"},
      {kMachine + node("socket = 0\nio_tile = [0, 3]\n") + kMesh +
           "[[link]]\nnodes = [0, 1]\nlatency = \"5ns\"\nbandwidth = \"10GB/s\"\n",
       "io.toml:16", "not a [[link]]"},
      {"[machine]\nsockets = 1\ncores_per_socket = 4\n[[node]]\nsocket = 0\nmemory = \"1GiB\"\n" +
           node("socket = 0\nio_tile = [0, 3]\n") + kMesh,
       "distances", "required with a node on an I/O stop"},
  };
  for (const Case& c : cases) {
    const std::string all = config_errors(c.text);
    EXPECT_NE(all.find(c.where), std::string::npos) << c.text << "\n---\n" << all;
    EXPECT_NE(all.find(c.what), std::string::npos) << c.text << "\n---\n" << all;
  }
  // A node with CPUs does not sit on an I/O stop.
  const std::string cpus = config_errors(
      "[machine]\nsockets = 1\ncores_per_socket = 4\ndistances = [[10, 14], [14, 10]]\n[[node]]\nsocket = 0\n"
      "memory = \"1GiB\"\ncpus = 2\n[[node]]\nsocket = 0\ncpus = 2\nio_tile = [0, 3]\nmemory = \"1GiB\"\n" +
      kMesh);
  EXPECT_NE(cpus.find("only a CPU-less node"), std::string::npos) << cpus;
  // Nor one that does not say it has none.
  const std::string omitted = config_errors(
      "[machine]\nsockets = 1\ncores_per_socket = 4\ndistances = [[10, 14], [14, 10]]\n[[node]]\nsocket = 0\n"
      "memory = \"1GiB\"\ncpus = 4\n[[node]]\nsocket = 0\nio_tile = [0, 3]\nmemory = \"1GiB\"\n" +
      kMesh);
  EXPECT_NE(omitted.find("give cpus = 0"), std::string::npos) << omitted;
}

}  // namespace
}  // namespace numasim::hw
