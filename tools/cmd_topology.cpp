// `numasim topology CONFIG`: nodes, CPUs, memory, links and the SLIT table in
// the layout of `numactl --hardware`, plus each link and each path's hops.
#include <cstdio>
#include <iostream>

#include "cli.h"
#include "common/config.h"
#include "common/topology.h"

namespace numasim::cli {
namespace {

int run_topology(Args& args) {
  auto doc = load_config(args);
  doc->check();
  Topology topo = Topology::from_config(doc->root());
  doc->check();  // only the topology's keys are read here: unknown keys are `validate`'s business
  std::cout << topo.numactl_hardware();
  std::cout << "\nlinks:\n";
  for (const auto& l : topo.links()) {
    std::printf("  %-8s node %d <-> node %d  latency %s  bandwidth %s per direction\n", l.name.c_str(), l.a.value(),
                l.b.value(), format_time(l.latency).c_str(), format_bandwidth(l.bandwidth).c_str());
  }
  std::cout << "\npaths (hops / latency):\n";
  for (int a = 0; a < topo.num_nodes(); ++a) {
    std::printf("  %3d:", a);
    for (int b = 0; b < topo.num_nodes(); ++b)
      std::printf("  %d/%-8s", topo.hops(NodeId(a), NodeId(b)),
                  format_time(topo.path_latency(NodeId(a), NodeId(b))).c_str());
    std::printf("\n");
  }
  if (auto json = args.value("--json"))
    if (!write_output(*json, topo.to_json())) return kExitSimulation;
  return kExitOk;
}

RegisterCommand reg{Command{"topology", "[CONFIG] [--set KEY=VALUE]... [--json FILE]",
                            "print nodes, CPUs, memory, links and node distances (numactl --hardware layout)",
                            "Reads only the machine's shape ([machine], [[node]], [[link]]); the SLIT distances are\n"
                            "the configured ones or, when absent, derived from path latency.",
                            1,
                            [] {
                              auto o = config_options();
                              o.push_back({"--json", "FILE", "also write the topology as JSON", false});
                              return o;
                            }(),
                            run_topology}};

}  // namespace
}  // namespace numasim::cli
