// Shared by the workload tests: a two-node machine's configuration text, the
// workloads built from a configuration string with its diagnostics, and a run
// on hw::Machine (the simulated kernel) of a configuration document.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine.h"
#include "workloads/machine_placement.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads::wltest {

inline const char* const kTwoNodeMachine =
    "[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"1GiB\"\n"
    "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n";

struct Built {
  std::unique_ptr<ConfigDocument> doc;
  Topology topo;
  std::vector<WorkloadSpec> specs;
  std::string errors;  // the configuration's diagnostics, empty if none
};

// The workloads of configuration `text` (named `file` in diagnostics).
inline Built build_config(const std::string& text, const std::string& file) {
  Built b;
  b.doc = ConfigDocument::from_string(text, file);
  b.topo = Topology::from_config(b.doc->root());
  b.specs = build_workloads(b.doc->root(), b.topo);
  try {
    b.doc->finish();
  } catch (const ConfigErrors& e) {
    b.errors = e.what();
  }
  return b;
}

struct MachineRun {
  std::unique_ptr<ConfigDocument> doc;
  std::unique_ptr<hw::Machine> machine;
  std::vector<WorkloadSpec> specs;
  std::vector<PlacedWorkload> placed;
};

// Builds the machine and the workloads of `doc` and runs them to the end.
inline void run_machine(MachineRun& r, std::unique_ptr<ConfigDocument> doc) {
  r.doc = std::move(doc);
  r.machine = std::make_unique<hw::Machine>(r.doc->root());
  r.specs = build_workloads(r.doc->root(), r.machine->topology());
  r.doc->finish();
  r.placed = place_workloads(*r.machine, r.specs);
  r.machine->run();
}

}  // namespace numasim::workloads::wltest
