// `numasim validate CONFIG`: builds the whole machine description (every
// component reads its parameters), reports every error at once, and prints the
// resolved configuration with all defaults filled in.
#include <iostream>

#include "cli.h"
#include "common/config.h"
#include "machine_description.h"

namespace numasim::cli {
namespace {

int run_validate(Args& args) {
  auto doc = load_config(args);
  doc->check();  // syntax errors and broken `base` chains first
  declare_machine(*doc);
  doc->finish();
  std::cout << doc->resolved_toml();
  return kExitOk;
}

RegisterCommand reg{Command{"validate", "[CONFIG] [--set KEY=VALUE]...",
                            "check a configuration and print the resolved machine as TOML",
                            "Every parameter of every component is read and checked; all errors are reported\n"
                            "together as file:line:column, and unknown keys name the closest valid key.",
                            1, config_options(), run_validate}};

}  // namespace
}  // namespace numasim::cli
