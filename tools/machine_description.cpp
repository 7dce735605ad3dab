// declare_machine: the topology and, as the components land, every component's
// parameters (each read by the code that owns it).
#include "machine_description.h"

#include "common/config.h"
#include "common/topology.h"

namespace numasim::cli {

void declare_machine(ConfigDocument& doc) {
  Config root = doc.root();
  Topology::from_config(root);
}

}  // namespace numasim::cli
