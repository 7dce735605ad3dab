// mmap/munmap churn: each cycle maps an anonymous region, touches every page
// (one access per touch_stride bytes) and unmaps it: page faults, page-table
// growth and teardown, and TLB shootdowns when the process has run on several
// CPUs. Each thread churns its own regions.
// Keys: region_size = "2MiB"; cycles = 100; touch_stride = "4KiB"; write = true;
// compute_cycles = 0 (after each touch).
#pragma once

#include <cstdint>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct ChurnParams {
  std::uint64_t region_bytes = 2ull << 20;
  std::uint32_t cycles = 100;
  std::uint64_t touch_stride = 4096;
  bool write = true;
  std::uint32_t compute_cycles = 0;
  int advice = 4;  // madvise_churn: MADV_DONTNEED

  static ChurnParams from_config(Config cfg, bool with_advice);
};

// Appends accesses to [base + pos*stride) while there is room; returns the new pos.
std::uint64_t emit_touches(hw::OpBatch& batch, VirtAddr base, std::uint64_t pos, std::uint64_t end,
                           std::uint64_t stride, bool write, std::uint32_t compute_cycles);

// What the churn generators share: their parameters, the region being
// touched, the position of the next touch and the cycle count.
class ChurnSource : public Generator {
 public:
  ChurnSource(ThreadInfo info, const ChurnParams& p) : Generator(std::move(info)), p_(p) {}
  double progress() const override { return static_cast<double>(cycle_) / p_.cycles; }

 protected:
  bool finished() const override { return cycle_ >= p_.cycles; }

  ChurnParams p_;
  VirtAddr addr_ = 0;
  std::uint64_t pos_ = 0;
  std::uint32_t cycle_ = 0;
};

class MmapChurnSource final : public ChurnSource {
 public:
  using ChurnSource::ChurnSource;

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  void teardown(hw::ThreadContext& ctx) override;
};

void build_mmap_churn(WorkloadBuild& b);

}  // namespace numasim::workloads
