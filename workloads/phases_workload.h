// A workload as a sequence of phases, each with its own memory policy:
//   [[workload.phase]]
//   action = "allocate" | "touch" | "compute" | "free"
//   region = "main"          named region the phase works on
//   size = "256MiB"          allocate: bytes to mmap
//   policy = "bind:1"        optional; installed at the start of the phase
//   apply = "set_mempolicy"  or "mbind" (allocate only: bind the new region)
//   passes = 1, write = true, touch_stride = "4KiB"   touch
//   cycles = 1000000         compute
// A marker with the phase's index opens each phase, so the core's per-marker
// times give each phase's duration. Every thread runs the same phases on its
// own regions.
// Simplified: policy text is numactl-like (policy_spec.h); a phase's policy
// stays in force for later phases until another phase sets one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/policy_spec.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct Phase {
  enum class Action : std::uint8_t { Allocate, Touch, Compute, Free } action = Action::Compute;
  int region = 0;           // index into the workload's region names
  std::uint64_t bytes = 0;  // allocate
  std::optional<PolicySpec> policy;
  bool via_mbind = false;
  std::uint32_t passes = 1;
  bool write = true;
  std::uint64_t touch_stride = 4096;
  std::uint64_t cycles = 0;  // compute
};

struct PhasesParams {
  std::vector<Phase> phases;
  std::vector<std::string> regions;

  // Reads [[workload.phase]]; num_nodes validates policies.
  static PhasesParams from_config(Config cfg, int num_nodes);
};

class PhasesSource final : public Generator {
 public:
  PhasesSource(ThreadInfo info, const PhasesParams& p)
      : Generator(std::move(info)), p_(p), addr_(p.regions.size(), 0) {}
  double progress() const override { return p_.phases.empty() ? 1.0 : static_cast<double>(phase_) / p_.phases.size(); }

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return phase_ >= p_.phases.size(); }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  PhasesParams p_;
  std::vector<VirtAddr> addr_;  // per region, 0 when not mapped
  std::vector<std::uint64_t> len_ = std::vector<std::uint64_t>(addr_.size(), 0);
  std::size_t phase_ = 0;
  bool entered_ = false;   // marker and policy of the current phase done
  std::uint64_t pos_ = 0;  // touches or cycles done in the phase
};

void build_phases(WorkloadBuild& b);

}  // namespace numasim::workloads
