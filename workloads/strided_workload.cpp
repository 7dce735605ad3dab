// Strided generator: passes over a shared footprint at a fixed stride.
#include "workloads/strided_workload.h"

#include <algorithm>
#include <cmath>

#include "workloads/rng.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

StridedParams StridedParams::from_config(Config cfg) {
  StridedParams p;
  p.footprint_bytes = cfg.get<Bytes>("footprint", Bytes(p.footprint_bytes), "bytes walked (shared by the threads)",
                                     {Bytes(64), std::nullopt})
                          .value();
  p.stride_bytes = cfg.get<Bytes>("stride", Bytes(64), "distance between accesses", {Bytes(1), std::nullopt}).value();
  p.access_bytes = static_cast<std::uint32_t>(
      cfg.get<Bytes>("access_size", Bytes(8), "bytes per access", {Bytes(1), Bytes(64)}).value());
  p.passes = cfg.get<std::uint32_t>("passes", 1, "walks over the footprint", {1u, std::nullopt});
  p.write_ratio = cfg.get<double>("write_ratio", 0.0, "fraction of accesses that are stores", {0.0, 1.0});
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work between accesses");
  return p;
}

StridedSource::StridedSource(ThreadInfo info, const StridedParams& p, std::shared_ptr<SharedRegion> region)
    : Generator(std::move(info)),
      p_(p),
      region_(std::move(region)),
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0x57u)) {
  per_pass_ = std::max<std::uint64_t>(1, p_.footprint_bytes / p_.stride_bytes);
  start_ = per_pass_ * static_cast<std::uint64_t>(this->info().index) / static_cast<std::uint64_t>(this->info().count);
  write_threshold_ = ratio_threshold(p_.write_ratio);
}

double StridedSource::progress() const {
  return (static_cast<double>(pass_) + static_cast<double>(pos_) / static_cast<double>(per_pass_)) / p_.passes;
}

void StridedSource::setup(hw::ThreadContext& ctx) { base_ = map_shared_region(ctx, *region_); }

void StridedSource::teardown(hw::ThreadContext& ctx) {
  if (base_) unmap_shared_region(ctx, *region_);
  base_ = 0;
}

void StridedSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const std::uint32_t cc = p_.compute_cycles;
  const std::size_t per = cc ? 2 : 1;
  const VirtAddr base = base_;
  const std::uint64_t stride = p_.stride_bytes, n = per_pass_, thr = write_threshold_;
  const std::uint32_t size = p_.access_bytes;
  while (pass_ < p_.passes && batch.room() >= per) {
    std::uint64_t k = std::min<std::uint64_t>(batch.room() / per, n - pos_);
    std::uint64_t idx = (start_ + pos_) % n;
    for (std::uint64_t j = 0; j < k; ++j) {
      VirtAddr addr = base + idx * stride;
      if (thr && (thr == UINT64_MAX || rng_.next() < thr))
        batch.store(addr, size);
      else
        batch.load(addr, size);
      if (cc) batch.compute(cc);
      idx = idx + 1 == n ? 0 : idx + 1;
    }
    pos_ += k;
    if (pos_ == n) {
      pos_ = 0;
      ++pass_;
      count("accesses", n);
    }
  }
}

void build_strided(WorkloadBuild& b) {
  StridedParams p = StridedParams::from_config(b.cfg);
  auto region = std::make_shared<SharedRegion>();
  region->bytes = (p.footprint_bytes + 4095) / 4096 * 4096;
  region->threads = static_cast<int>(b.spec.threads.size());
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p, region] { return std::make_unique<StridedSource>(info, p, region); };
  }
}

}  // namespace numasim::workloads
