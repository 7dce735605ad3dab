// Reads every parameter of the machine a configuration describes and builds it
// only when they are all valid: what `validate` checks and prints, and what
// `run` and the studies build from.
#pragma once

#include <memory>

namespace numasim {
class Config;
class ConfigDocument;
namespace hw {
class Machine;
}
}  // namespace numasim

namespace numasim::cli {
// Reads the topology and every component's parameters; throws ConfigErrors (all
// of them) before anything is built when one is invalid.
void check_machine_parameters(Config root);
// check_machine_parameters, then builds the machine.
std::unique_ptr<hw::Machine> build_machine(Config root);
// Declares (reads) every parameter of the configuration, workloads included.
void declare_machine(ConfigDocument& doc);
}  // namespace numasim::cli
