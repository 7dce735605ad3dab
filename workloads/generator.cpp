// Generator: policy installation, anonymous mappings and failure recording
// shared by the synthetic workloads.
#include "workloads/generator.h"

#include <algorithm>
#include <vector>

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
  if (info_.verify) verify_track(static_cast<VirtAddr>(r), bytes);
  return static_cast<VirtAddr>(r);
}

namespace {
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

std::uint64_t page_token(std::uint64_t process, std::uint64_t vpn, std::uint64_t gen) {
  std::uint64_t t = splitmix64(process ^ splitmix64(vpn ^ splitmix64(gen)));
  return t ? t : 1;
}

std::uint64_t verify_process_id(const std::string& workload, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (unsigned char c : workload) h = (h ^ c) * 0x100000001b3ull;
  return splitmix64(h ^ splitmix64(seed));
}

void Generator::verify_track(VirtAddr base, std::uint64_t bytes) {
  if (!info_.verify || bytes == 0) return;
  if (vprocess_ == 0) vprocess_ = verify_process_id(info_.workload, info_.seed);
  verify_untrack(base, bytes);
  const VirtAddr first = base & ~(kPageSize - 1);
  const VirtAddr end = (base + bytes + kPageSize - 1) & ~(kPageSize - 1);
  vregions_.push_back(VerifyRegion{first, end, std::vector<std::uint32_t>((end - first) >> kPageShift, 0)});
  vlast_ = vregions_.size() - 1;
}

void Generator::verify_untrack(VirtAddr base, std::uint64_t bytes) {
  const VirtAddr end = base + bytes;
  std::erase_if(vregions_, [&](const VerifyRegion& r) { return r.base < end && base < r.end; });
  vlast_ = 0;
}

void Generator::touch_verified(hw::OpBatch& batch, VirtAddr addr, bool write) {
  VerifyRegion* r = nullptr;
  if (vlast_ < vregions_.size() && addr >= vregions_[vlast_].base && addr < vregions_[vlast_].end) {
    r = &vregions_[vlast_];
  } else {
    for (std::size_t i = 0; i < vregions_.size(); ++i)
      if (addr >= vregions_[i].base && addr < vregions_[i].end) {
        r = &vregions_[i];
        vlast_ = i;
        break;
      }
  }
  // Untracked, or an access that would cross into the next page: a plain access.
  if (!r || ((addr & (kPageSize - 1)) + 8 > kPageSize)) {
    if (write)
      batch.store(addr, 8);
    else
      batch.load(addr, 8);
    return;
  }
  const std::uint64_t vpn = addr >> kPageShift;
  std::uint32_t& gen = r->gen[vpn - (r->base >> kPageShift)];
  if (write) {
    const std::uint64_t prev = gen ? page_token(vprocess_, vpn, gen) : 0;
    ++gen;
    ++vstores_;
    batch.store_verified(addr, prev, page_token(vprocess_, vpn, gen));
  } else {
    ++vloads_;
    batch.load_verified(addr, gen ? page_token(vprocess_, vpn, gen) : 0);
  }
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
