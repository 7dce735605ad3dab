// madvise churn: one anonymous region per thread, mapped once; each cycle
// touches every page (refaulting them) and then gives them back with
// madvise(MADV_DONTNEED) (or MADV_FREE / MADV_PAGEOUT): faults, zeroing, page
// freeing and TLB shootdowns without VMA changes.
// Keys: region_size = "2MiB"; cycles = 100; touch_stride = "4KiB"; write = true;
// compute_cycles = 0; advice = "dontneed" | "free" | "pageout".
#pragma once

#include "workloads/mmap_churn_workload.h"

namespace numasim::workloads {

class MadviseChurnSource final : public Generator {
 public:
  MadviseChurnSource(ThreadInfo info, const ChurnParams& p) : Generator(std::move(info)), p_(p) {}
  double progress() const override { return static_cast<double>(cycle_) / p_.cycles; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return cycle_ >= p_.cycles; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  ChurnParams p_;
  VirtAddr addr_ = 0;
  std::uint64_t pos_ = 0;
  std::uint32_t cycle_ = 0;
};

void build_madvise_churn(WorkloadBuild& b);

}  // namespace numasim::workloads
