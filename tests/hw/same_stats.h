// Two memory systems' statistics compared name by name (the bulk and line
// paths of kernel transfers, run side by side on identical systems, must leave
// the same figures): a test helper.
#pragma once

#include <gtest/gtest.h>

#include "hw/hw_stats.h"
#include "hw/memory_system.h"

namespace numasim::hw::testing {

inline void expect_same_stats(const MemorySystem& bulk, const MemorySystem& lines) {
  MapStatsVisitor a, b;
  bulk.dump_stats(a);
  lines.dump_stats(b);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (const auto& [name, v] : b.values) EXPECT_EQ(a.values.at(name), v) << name;
}

}  // namespace numasim::hw::testing
