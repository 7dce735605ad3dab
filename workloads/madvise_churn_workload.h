// madvise churn: one anonymous region per thread, mapped once; each cycle
// touches every page (refaulting them) and then gives them back with
// madvise(MADV_DONTNEED) (or MADV_FREE / MADV_PAGEOUT): faults, zeroing, page
// freeing and TLB shootdowns without VMA changes.
// Keys: region_size = "2MiB"; cycles = 100; touch_stride = "4KiB"; write = true;
// compute_cycles = 0; advice = "dontneed" | "free" | "pageout".
#pragma once

#include "workloads/mmap_churn_workload.h"

namespace numasim::workloads {

class MadviseChurnSource final : public ChurnSource {
 public:
  using ChurnSource::ChurnSource;

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  void teardown(hw::ThreadContext& ctx) override;
};

void build_madvise_churn(WorkloadBuild& b);

}  // namespace numasim::workloads
