// Generator: policy installation, anonymous mappings and failure recording
// shared by the synthetic workloads.
#include "workloads/generator.h"

#include "workloads/linux_abi.h"

namespace numasim::workloads {

void Generator::start(hw::ThreadContext& ctx) {
  if (!info_.policy.is_default()) {
    long r = set_task_policy(ctx, info_.policy);
    if (r < 0) {
      fail("set_mempolicy(" + info_.policy.text + ")", r);
      return;
    }
  }
  setup(ctx);
}

std::size_t Generator::fill(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  if (!done()) emit(batch, ctx);
  return batch.size();
}

void Generator::finish(hw::ThreadContext& ctx) { teardown(ctx); }

VirtAddr Generator::map_anon(hw::ThreadContext& ctx, std::uint64_t bytes, int extra_flags) {
  long r = ctx.sys_mmap(0, bytes, abi::kProtRead | abi::kProtWrite, abi::kMapPrivate | abi::kMapAnonymous | extra_flags,
                        -1, 0);
  if (r < 0) {
    fail("mmap(" + std::to_string(bytes) + " bytes)", r);
    return 0;
  }
  return static_cast<VirtAddr>(r);
}

VirtAddr Generator::map_shared_region(hw::ThreadContext& ctx, SharedRegion& region) {
  if (!region.tried) {
    region.tried = true;
    int flags = region.flags ? region.flags : abi::kMapPrivate;
    long r = ctx.sys_mmap(0, region.bytes, abi::kProtRead | abi::kProtWrite, flags | abi::kMapAnonymous, -1, 0);
    if (r < 0)
      region.error = r;
    else
      region.addr = static_cast<VirtAddr>(r);
  }
  if (region.addr == 0) {
    fail("mmap(" + std::to_string(region.bytes) + " bytes, shared by the workload's threads)",
         region.error ? region.error : -12);
    return 0;
  }
  return region.addr;
}

void Generator::unmap_shared_region(hw::ThreadContext& ctx, SharedRegion& region) {
  if (region.addr == 0) return;
  if (++region.finished >= region.threads) {
    ctx.sys_munmap(region.addr, region.bytes);
    region.addr = 0;
  }
}

void Generator::fail(const std::string& what, long ret) {
  failed_ = true;
  if (info_.results) {
    info_.results->add_error("thread " + std::to_string(info_.index) + ": " + what +
                             " failed: " + (ret < 0 ? abi::errno_name(static_cast<int>(-ret)) : std::to_string(ret)));
  }
}

}  // namespace numasim::workloads
