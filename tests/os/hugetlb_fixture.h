// Shared set-up for the hugetlb tests (hugetlb_pool_test, hugetlb_1g_test): a
// two-node kernel (SLIT 10/21, the fake Platform) built from the hugetlb
// parameters a test gives, with helpers for tasks and the buddy's free pages.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {

class HugetlbKernelTest : public ::testing::Test {
 protected:
  HugetlbKernelTest(const KernelParams& params, const char* mem_per_node)
      : topo_(two_node_topology(mem_per_node)), params_(params) {
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
  Kernel& k() { return *kernel_; }
  const HugetlbPool& pool() { return kernel_->hugetlb(); }
  task_struct* spawn(int cpu = 0) {
    CpuMask all;
    all.set();
    return kernel_->create_task("hugetlb", CpuId(cpu), all);
  }
  // Free buddy pages (per-cpu lists drained).
  std::uint64_t buddy_free() {
    kernel_->physmem().drain_all_pages(cost_);
    return static_cast<std::uint64_t>(kernel_->physmem().global_zone_page_state(NR_FREE_PAGES));
  }

  Topology topo_;
  KernelParams params_;
  FakePlatform platform_;
  std::unique_ptr<Kernel> kernel_;
  KernelCost cost_;
};

}  // namespace numasim::os::testing
