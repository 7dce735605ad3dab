// Machine construction behind a full parameter check, so that an invalid
// configuration is reported as errors and never reaches a constructor.
#include "machine_description.h"

#include "common/config.h"
#include "common/topology.h"
#include "hw/machine.h"
#include "workloads/workload_factory.h"

namespace numasim::cli {

namespace {
// On any error so far, reads the workloads too (declaring their keys) and
// reports everything at once, unknown keys included.
void fail_with_every_error(Config root, const Topology& topo) {
  if (root.document().diagnostics().empty()) return;
  workloads::build_workloads(root, topo);
  root.document().finish();
}
}  // namespace

void check_machine_parameters(Config root) {
  Topology topo = Topology::from_config(root);
  hw::MachineParams::from_config(root);
  fail_with_every_error(root, topo);
}

std::unique_ptr<hw::Machine> build_machine(Config root) {
  Topology topo = Topology::from_config(root);
  hw::MachineParams params = hw::MachineParams::from_config(root);
  fail_with_every_error(root, topo);
  return std::make_unique<hw::Machine>(std::move(topo), params);
}

void declare_machine(ConfigDocument& doc) {
  Config root = doc.root();
  auto machine = build_machine(root);
  workloads::build_workloads(root, machine->topology());
}

}  // namespace numasim::cli
