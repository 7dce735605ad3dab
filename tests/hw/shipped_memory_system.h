// The memory system of the shipped configs/skylake-sp-2s.toml, for the tests
// that calibrate against DESIGN.md's reference figures.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "hw/memory_system.h"

namespace numasim::hw::testing {

struct Shipped {
  std::unique_ptr<ConfigDocument> doc;
  Topology topo;
  MemorySystemParams params;
};

inline Shipped load_shipped() {
  Shipped s;
  s.doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  s.topo = Topology::from_config(s.doc->root());
  s.params = MemorySystemParams::from_config(s.doc->root());
  s.doc->check();
  return s;
}

}  // namespace numasim::hw::testing
