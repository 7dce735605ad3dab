// Memory devices (memory_device.h): the registry; ddr4 behind the interface
// times exactly like the DRAM controller called directly, in the memory
// system too; the CXL expander's unloaded latency is its port latency both
// ways plus the flits' wire time plus its media, and its bandwidth saturates
// at the link's payload rate; device choice from the configuration and its
// located errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "common/config.h"
#include "common/topology.h"
#include "hw/cxl_memory_device.h"
#include "hw/dram_controller.h"
#include "hw/memory_device.h"
#include "hw/memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

TEST(MemoryDeviceRegistry, ListsTheImplementationsByName) {
  EXPECT_EQ(registered_memory_devices(), "cxl, ddr4, ddr5");
  ASSERT_NE(find_memory_device("ddr4"), nullptr);
  ASSERT_NE(find_memory_device("cxl"), nullptr);
  ASSERT_NE(find_memory_device("ddr5"), nullptr);
  EXPECT_EQ(find_memory_device("hbm"), nullptr);
}

// A random mix of reads and writes, some back to back, some spread out, so
// that row hits, conflicts, refresh and queueing all occur.
struct Request {
  PhysAddr pa;
  bool write;
  Picoseconds t;
};
std::vector<Request> random_requests(PhysAddr base, std::uint64_t span, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Request> out;
  Picoseconds t(0);
  for (int i = 0; i < n; ++i) {
    t += Picoseconds(rng() % 4 == 0 ? rng() % 200'000 : rng() % 3'000);
    const std::uint64_t line = (rng() % 8 == 0) ? (out.empty() ? 0 : (out.back().pa - base) / 64 + 1) : rng() % (span / 64);
    out.push_back({base + line * 64, rng() % 3 == 0, t});
  }
  return out;
}

TEST(Ddr4Device, BehindTheInterfaceTimesLikeTheControllerDirectly) {
  DramParams p;
  const PhysAddr base = 2 * kGiB;
  DramController direct(p, base, "direct");
  DramController behind(p, base, "system.node1.mc");
  MemoryDevice& dev = behind;
  EXPECT_EQ(dev.impl(), "ddr4");
  EXPECT_EQ(dev.name(), "system.node1.mc");
  EXPECT_EQ(dev.unloaded_latency(false), direct.idle_latency(RowOutcome::Closed));
  EXPECT_DOUBLE_EQ(dev.peak_bytes_per_second(false), 6 * p.channel_peak_bytes_per_second());
  for (const Request& r : random_requests(base, kGiB, 20000, 7)) {
    const DramResult a = direct.access(r.pa, r.write, r.t);
    const MemoryAccessResult b = dev.access_line(r.pa, r.write, r.t);
    ASSERT_EQ(a.done, b.done);
    ASSERT_EQ(a.service, b.service);
    ASSERT_EQ(a.queueing, b.queueing);
  }
  EXPECT_EQ(direct.stats().row_conflicts, behind.stats().row_conflicts);
  EXPECT_GT(behind.stats().row_conflicts, 0u);
  EXPECT_GT(behind.stats().refresh_delays, 0u);
}

// Node 0 with CPUs; node 1 CPU-less behind a 5 ns link, its device given by `spec`.
MemoryLayout socket_and_expander() {
  MemoryLayout l;
  l.num_sockets = 1;
  l.nodes.push_back({NodeId(0), 0, 0, Bytes(kGiB), {CpuId(0)}});
  l.nodes.push_back({NodeId(1), -1, kGiB, Bytes(4 * kGiB), {}});
  l.interconnect.num_nodes = 2;
  l.interconnect.links.push_back({NodeId(0), NodeId(1), 5_ns, Bandwidth(256'000'000'000), "n0-n1"});
  l.interconnect.paths = {{}, {0}, {0}, {}};
  return l;
}

MemoryDeviceSpec cxl_spec(const CxlDeviceParams& p) {
  MemoryDeviceSpec s;
  s.name = s.impl = "cxl";
  s.make = [p](const MemoryDeviceSite& site) -> std::unique_ptr<MemoryDevice> {
    return std::make_unique<CxlMemoryDevice>(p, site.base, site.node_name + ".cxl");
  };
  return s;
}

TEST(Ddr4Device, MemorySystemTimesTheDefaultDeviceAsBefore) {
  // The default device of every node is a DramController with [dram], reached
  // without a virtual call; a standalone controller fed the same requests agrees.
  MemorySystemParams p;
  p.l2_prefetch.enabled = false;
  MemorySystem ms(socket_and_expander(), p);
  EXPECT_EQ(ms.device(NodeId(1)).impl(), "ddr4");
  DramController ref(p.dram, kGiB, "ref");
  std::mt19937_64 rng(3);
  Picoseconds t(0);
  for (int i = 0; i < 2000; ++i) {
    const PhysAddr pa = kGiB + (rng() % (4 * kGiB / 64)) * 64;
    AccessBreakdown b;
    const Picoseconds lat = ms.memory_access(NodeId(1), pa, false, t, &b);
    const DramResult d = ref.access(pa, false, t);
    ASSERT_EQ(lat, d.done - t);
    t += Picoseconds(rng() % 100'000);
  }
}

TEST(CxlDevice, UnloadedReadIsPortLatencyBothWaysPlusFlitsPlusMedia) {
  CxlDeviceParams p;
  CxlMemoryDevice dev(p, kGiB, "system.node1.cxl");
  EXPECT_EQ(dev.impl(), "cxl");
  // x16 at 4 GB/s per lane: 64 GB/s raw. A read request: 16 B header in 68/64
  // flits = 17 B = 265.625 ps -> 266 ps; the response: 72 B -> 76.5 B = 1195.3 -> 1196 ps.
  EXPECT_EQ(dev.wire_time(Bytes(16)), Picoseconds(266));
  EXPECT_EQ(dev.wire_time(Bytes(72)), Picoseconds(1196));
  const Picoseconds media = dev.media().idle_latency(RowOutcome::Closed, false);
  // DDR5-4800 media: 40 ns controller + (tRCD 39 + CL 40 + burst 8) x 0.417 ns.
  EXPECT_EQ(media, 40_ns + Picoseconds(87 * 417));
  const Picoseconds expect = Picoseconds(266) + 25_ns + media + 25_ns + Picoseconds(1196);
  EXPECT_EQ(dev.unloaded_latency(false), expect);
  const MemoryAccessResult r = dev.access_line(kGiB + 0x4000, false, 1_us);
  EXPECT_EQ(r.done - 1_us, expect);
  EXPECT_EQ(r.service, expect);
  EXPECT_EQ(r.queueing, Picoseconds(0));
  // A write carries its data downstream and gets a completion header back.
  CxlMemoryDevice fresh(p, kGiB, "system.node1.cxl");
  const MemoryAccessResult w = fresh.access_line(kGiB + 0x4000, true, 2_us);
  EXPECT_EQ(w.done - 2_us, dev.wire_time(Bytes(80)) + 25_ns + dev.media().idle_latency(RowOutcome::Closed, true) +
                               25_ns + dev.wire_time(Bytes(8)));
}

// Reads issued far faster than the device can serve them: the achieved rate.
double saturated_read_gbps(const CxlDeviceParams& p, int lines) {
  CxlMemoryDevice dev(p, 0, "cxl");
  Picoseconds first_done{0}, last_done{0};
  for (int i = 0; i < lines; ++i) {
    const Picoseconds t = Picoseconds(static_cast<std::uint64_t>(i) * 200);  // 320 GB/s offered
    const Picoseconds done = dev.access_line(static_cast<PhysAddr>(i) * 64, false, t).done;
    if (i == lines / 4) first_done = done;  // skip the ramp
    last_done = std::max(last_done, done);
  }
  return static_cast<double>((lines - lines / 4 - 1) * 64) / static_cast<double>((last_done - first_done).value()) *
         1e3;
}

TEST(CxlDevice, ReadBandwidthSaturatesAtTheLinkPayloadRate) {
  CxlDeviceParams p;
  // Media wide enough never to bound the device: the link does.
  p.media.channels = 8;
  const double x16 = saturated_read_gbps(p, 20000);
  const double link_payload = 64.0 * 64.0 / (72.0 * 68.0 / 64.0);  // GB/s: 64 B of each 76.5 B on the wire
  EXPECT_NEAR(x16, link_payload, 0.02 * link_payload);
  EXPECT_NEAR(CxlMemoryDevice(p, 0, "x").peak_bytes_per_second(false) / 1e9, link_payload, 0.01 * link_payload);
  p.lanes = 8;
  const double x8 = saturated_read_gbps(p, 20000);
  EXPECT_NEAR(x8, link_payload / 2, 0.02 * link_payload / 2);
}

TEST(CxlDevice, LatencyRisesWithLoad) {
  CxlDeviceParams p;
  CxlMemoryDevice dev(p, 0, "cxl");
  std::mt19937_64 rng(11);
  auto mean_latency = [&](Picoseconds gap, Picoseconds start) {
    double sum = 0;
    for (int i = 0; i < 4000; ++i) {
      const Picoseconds t = start + gap * static_cast<std::uint64_t>(i);
      sum += static_cast<double>((dev.access_line((rng() % (kGiB / 64)) * 64, false, t).done - t).value());
    }
    return sum / 4000 / 1000;
  };
  const double idle = mean_latency(1_us, Picoseconds(0));
  const double half = mean_latency(Picoseconds(2400), 10'000_us);   // 26.7 GB/s offered
  const double over = mean_latency(Picoseconds(1000), 20'000_us);   // 64 GB/s offered: beyond the link
  EXPECT_LT(idle, half);
  EXPECT_LT(half, over);
  EXPECT_GT(over, 3 * idle);  // the queue grows without bound past saturation
}

TEST(CxlDevice, MemorySystemReachesItThroughTheInterface) {
  MemorySystemParams p;
  p.node_devices = {MemoryDeviceSpec{}, cxl_spec(CxlDeviceParams{})};
  MemorySystem ms(socket_and_expander(), p);
  EXPECT_EQ(ms.device(NodeId(0)).impl(), "ddr4");
  EXPECT_EQ(ms.device(NodeId(1)).impl(), "cxl");
  AccessBreakdown b;
  const Picoseconds lat = ms.access(CpuId(0), kGiB + 0x40000, false, Picoseconds(0), &b);
  EXPECT_EQ(b.level_hit, kServedRemoteDram);
  EXPECT_EQ(b.dram, ms.device(NodeId(1)).unloaded_latency(false));
  EXPECT_EQ(lat, ms.caches().hit_latency(3) + ms.interconnect().idle_time(NodeId(0), NodeId(1), Bytes(0)) +
                     ms.device(NodeId(1)).unloaded_latency(false) +
                     ms.interconnect().idle_time(NodeId(1), NodeId(0), Bytes(64)));
  MapStatsVisitor v;
  ms.dump_stats(v);
  EXPECT_EQ(v.get("system.node1.cxl.reads"), 1.0);
  EXPECT_EQ(v.get("system.node1.cxl.media.reads"), 1.0);
  EXPECT_FALSE(v.has("system.node1.mc.reads"));
  EXPECT_EQ(v.get("system.node0.mc.reads"), 0.0);
}

// Configurations: a socket with 2 cores and a CPU-less expander node.
const char* kMachine = R"([machine]
sockets = 1
cores_per_socket = 2
[[node]]
memory = "1GiB"
[[node]]
cpus = 0
memory = "4GiB"
)";

std::unique_ptr<ConfigDocument> machine_with(const std::string& node1_device, const std::string& extra = {}) {
  return ConfigDocument::from_string(std::string(kMachine) + node1_device + "\n[[link]]\nnodes = [0, 1]\n" +
                                         "latency = \"5ns\"\nbandwidth = \"64GB/s\"\n" + extra,
                                     "machine.toml");
}

std::string config_errors(ConfigDocument& doc) {
  try {
    doc.finish();
  } catch (const ConfigErrors& e) {
    return e.what();
  }
  return {};
}

TEST(MemoryDeviceConfig, NodesPickRegisteredDevicesOrDeviceTables) {
  auto doc = machine_with("device = \"x8-expander\"",
                          "[device.x8-expander]\nimpl = \"cxl\"\nlanes = 8\nport_latency = \"30ns\"\n"
                          "[device.x8-expander.media]\nchannels = 2\n");
  Topology topo = Topology::from_config(doc->root());
  MemorySystemParams p = MemorySystemParams::from_config(doc->root());
  EXPECT_EQ(config_errors(*doc), "");
  ASSERT_EQ(p.node_devices.size(), 2u);
  EXPECT_EQ(p.node_devices[0].make, nullptr);  // default: ddr4 with [dram]
  EXPECT_EQ(p.node_devices[1].name, "x8-expander");
  EXPECT_EQ(p.node_devices[1].impl, "cxl");
  MemorySystem ms(topo, p);
  const auto& dev = dynamic_cast<const CxlMemoryDevice&>(ms.device(NodeId(1)));
  EXPECT_EQ(dev.params().lanes, 8);
  EXPECT_EQ(dev.params().port_latency, 30_ns);
  EXPECT_EQ(dev.params().media.channels, 2);
  EXPECT_EQ(dev.params().media.cl, 40u);  // the rest of the media keeps the DDR5 defaults
  EXPECT_EQ(dev.name(), "system.node1.cxl");

  // A registered name without a table takes the implementation's defaults.
  auto plain = machine_with("device = \"cxl\"");
  MemorySystemParams q = MemorySystemParams::from_config(plain->root());
  Topology::from_config(plain->root());
  EXPECT_EQ(config_errors(*plain), "");
  ASSERT_NE(q.node_devices[1].make, nullptr);
  EXPECT_EQ(q.node_devices[1].make({NodeId(1), kGiB, "system.node1"})->unloaded_latency(false),
            CxlMemoryDevice(CxlDeviceParams{}, kGiB, "c").unloaded_latency(false));

  // ddr4 by name, with its own table: the machine's [dram] with overrides.
  auto ddr = machine_with("device = \"slow-ddr4\"",
                          "[dram]\nchannels = 2\n[device.slow-ddr4]\nimpl = \"ddr4\"\nfrontend_latency = \"60ns\"\n");
  MemorySystemParams r = MemorySystemParams::from_config(ddr->root());
  Topology t3 = Topology::from_config(ddr->root());
  EXPECT_EQ(config_errors(*ddr), "");
  MemorySystem ms3(t3, r);
  EXPECT_EQ(ms3.controller(NodeId(1)).params().channels, 2);
  EXPECT_EQ(ms3.controller(NodeId(1)).params().frontend_latency, 60_ns);
  EXPECT_EQ(ms3.controller(NodeId(0)).params().frontend_latency, 22_ns);
}

TEST(MemoryDeviceConfig, UnknownDeviceNameIsALocatedErrorListingTheRegisteredOnes) {
  auto doc = machine_with("device = \"cxl3\"");
  Topology::from_config(doc->root());
  MemorySystemParams p = MemorySystemParams::from_config(doc->root());
  EXPECT_EQ(p.node_devices[1].make, nullptr);
  EXPECT_EQ(config_errors(*doc),
            "machine.toml:9:10: error: node[1].device: unknown memory device \"cxl3\": registered devices are cxl, "
            "ddr4, ddr5 (or define a [device.cxl3] table with impl = one of them)\n");

  auto bad_impl = machine_with("device = \"big\"", "[device.big]\nimpl = \"hbm\"\n");
  Topology::from_config(bad_impl->root());
  MemorySystemParams::from_config(bad_impl->root());
  EXPECT_EQ(config_errors(*bad_impl),
            "machine.toml:15:8: error: device.big.impl: unknown memory device implementation \"hbm\": registered "
            "devices are cxl, ddr4, ddr5\n");

  auto bad_param = machine_with("device = \"cxl\"", "[device.cxl]\nlanes = 12\nport_latcy = \"9ns\"\n");
  Topology::from_config(bad_param->root());
  MemorySystemParams::from_config(bad_param->root());
  const std::string e = config_errors(*bad_param);
  EXPECT_NE(e.find("machine.toml:15:9: error: device.cxl.lanes: a CXL port has 1, 2, 4, 8 or 16 lanes, got 12"), std::string::npos) << e;
  EXPECT_NE(e.find("machine.toml:16:1: error: unknown key 'port_latcy' in [device.cxl]; did you mean 'port_latency'?"),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace numasim::hw
