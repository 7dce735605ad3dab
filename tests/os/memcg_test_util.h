// Shared by the memory cgroup tests: one "key value" line of a cgroup file
// (memory.stat, memory.events ...), failing the test when the file or key is missing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "os/kernel.h"

namespace numasim::os::testing {

inline std::uint64_t memcg_keyed(const Kernel& k, const std::string& path, const char* file, const std::string& key) {
  auto s = k.cgroup_file_read(path, file);
  EXPECT_TRUE(s.has_value()) << path << "/" << file;
  const std::string needle = key + " ";
  for (std::size_t pos = 0; s && pos < s->size();) {
    const std::size_t end = s->find('\n', pos);
    const std::string line = s->substr(pos, end - pos);
    if (line.rfind(needle, 0) == 0) return std::stoull(line.substr(needle.size()));
    pos = end + 1;
  }
  ADD_FAILURE() << "no " << key << " in " << path << "/" << file;
  return 0;
}

}  // namespace numasim::os::testing
