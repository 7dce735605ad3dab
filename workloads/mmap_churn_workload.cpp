// mmap/munmap churn generator.
#include "workloads/mmap_churn_workload.h"

#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

ChurnParams ChurnParams::from_config(Config cfg, bool with_advice) {
  ChurnParams p;
  p.region_bytes =
      cfg.get<Bytes>("region_size", Bytes(p.region_bytes), "bytes mapped per cycle", {Bytes(4096), std::nullopt})
          .value();
  p.cycles = cfg.get<std::uint32_t>("cycles", p.cycles, "churn cycles", {1u, std::nullopt});
  p.touch_stride =
      cfg.get<Bytes>("touch_stride", Bytes(4096), "distance between touches", {Bytes(1), std::nullopt}).value();
  p.write = cfg.get<bool>("write", true, "touch with stores (else loads)");
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work after each touch");
  if (with_advice) {
    std::string a = cfg.get_choice("advice", "dontneed", {"dontneed", "free", "pageout"}, "madvise advice");
    p.advice = a == "free" ? abi::kMadvFree : a == "pageout" ? abi::kMadvPageout : abi::kMadvDontneed;
  }
  return p;
}

std::uint64_t emit_touches(hw::OpBatch& batch, VirtAddr base, std::uint64_t pos, std::uint64_t end,
                           std::uint64_t stride, bool write, std::uint32_t compute_cycles) {
  const std::size_t per = compute_cycles ? 2 : 1;
  while (pos < end && batch.room() >= per) {
    if (write)
      batch.store(base + pos * stride, 8);
    else
      batch.load(base + pos * stride, 8);
    if (compute_cycles) batch.compute(compute_cycles);
    ++pos;
  }
  return pos;
}

void MmapChurnSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  const std::uint64_t touches = (p_.region_bytes + p_.touch_stride - 1) / p_.touch_stride;
  while (cycle_ < p_.cycles && !batch.full()) {
    if (!addr_) {
      addr_ = map_anon(ctx, p_.region_bytes);
      if (!addr_) return;
      pos_ = 0;
    }
    pos_ = emit_touches(batch, addr_, pos_, touches, p_.touch_stride, p_.write, p_.compute_cycles);
    if (pos_ < touches) return;                       // batch full
    long r = ctx.sys_munmap(addr_, p_.region_bytes);  // runs the touches first (program order)
    addr_ = 0;
    if (r < 0) {
      fail("munmap", r);
      return;
    }
    ++cycle_;
    count("cycles", 1);
  }
}

void MmapChurnSource::teardown(hw::ThreadContext& ctx) {
  if (addr_) ctx.sys_munmap(addr_, p_.region_bytes);
  addr_ = 0;
}

void build_mmap_churn(WorkloadBuild& b) {
  ChurnParams p = ChurnParams::from_config(b.cfg, false);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<MmapChurnSource>(info, p); };
  }
}

}  // namespace numasim::workloads
