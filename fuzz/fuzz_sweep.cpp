// libFuzzer target: the sweep parser. The input is read as a sweep file
// (configs, jobs, args, [grid], [collect]) and, when it parses, expanded to its
// points and each point's command line built. Malformed input must be a
// SweepError with file:line:column; a grid over kMaxSweepPoints must be refused
// before expansion; any other outcome (crash, sanitizer report, unbounded
// allocation) is a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "workloads/sweep.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto spec = numasim::workloads::parse_sweep_text(text, "fuzz_sweep.toml", "/fuzz");
    const auto points = numasim::workloads::expand_sweep(spec);
    if (points.size() > numasim::workloads::kMaxSweepPoints) __builtin_trap();
    for (const auto& p : points) {
      const auto cmd = p.command(spec.args, "/fuzz/run.json");
      if (cmd.empty()) __builtin_trap();
      (void)p.describe();
    }
  } catch (const numasim::workloads::SweepError&) {
  }
  return 0;
}
