// madvise(DONTNEED) churn generator.
#include "workloads/madvise_churn_workload.h"

#include "workloads/workload_factory.h"

namespace numasim::workloads {

void MadviseChurnSource::setup(hw::ThreadContext& ctx) { addr_ = map_anon(ctx, p_.region_bytes); }

void MadviseChurnSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  const std::uint64_t touches = (p_.region_bytes + p_.touch_stride - 1) / p_.touch_stride;
  while (cycle_ < p_.cycles && !batch.full()) {
    pos_ = emit_touches(batch, addr_, pos_, touches, p_.touch_stride, p_.write, p_.compute_cycles);
    if (pos_ < touches) return;
    long r = ctx.sys_madvise(addr_, p_.region_bytes, p_.advice);
    if (r < 0) {
      fail("madvise", r);
      return;
    }
    pos_ = 0;
    ++cycle_;
    count("cycles", 1);
  }
}

void MadviseChurnSource::teardown(hw::ThreadContext& ctx) {
  if (addr_) ctx.sys_munmap(addr_, p_.region_bytes);
  addr_ = 0;
}

void build_madvise_churn(WorkloadBuild& b) {
  ChurnParams p = ChurnParams::from_config(b.cfg, true);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<MadviseChurnSource>(info, p); };
  }
}

}  // namespace numasim::workloads
