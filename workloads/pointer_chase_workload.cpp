// Pointer-chase generator: ring construction (a seeded Fisher-Yates shuffle of
// the elements, linked in shuffled order into one cycle) and the dependent-load
// stream.
#include "workloads/pointer_chase_workload.h"

#include <algorithm>
#include <numeric>

#include "workloads/rng.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

PointerChaseParams PointerChaseParams::from_config(Config cfg) {
  PointerChaseParams p;
  p.footprint_bytes =
      cfg.get<Bytes>("footprint", Bytes(p.footprint_bytes), "bytes covered by the ring", {Bytes(64), std::nullopt})
          .value();
  p.random = cfg.get_choice("pattern", "random", {"random", "strided"}, "ring order") == "random";
  p.element_bytes =
      cfg.get<Bytes>("element_size", Bytes(64), "distance between elements (random ring)", {Bytes(8), std::nullopt})
          .value();
  p.stride_bytes = cfg.get<Bytes>("stride", Bytes(64), "distance between consecutive elements (strided ring)",
                                  {Bytes(8), std::nullopt})
                       .value();
  p.laps = cfg.get<std::uint32_t>("laps", p.laps, "times the ring is traversed", {1u, std::nullopt});
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work between loads");
  p.init = cfg.get<bool>("init", true, "write every element before chasing (first touch)");
  if (p.footprint_bytes / (p.random ? p.element_bytes : p.stride_bytes) > 0xFFFFFFFFull)
    cfg.error("footprint", "too many ring elements (at most 2^32 - 1)");
  return p;
}

PointerChaseSource::PointerChaseSource(ThreadInfo info, const PointerChaseParams& p)
    : Generator(std::move(info)), p_(p) {
  spacing_ = p_.random ? p_.element_bytes : p_.stride_bytes;
  n_ = std::max<std::uint64_t>(1, p_.footprint_bytes / spacing_);
  if (p_.random && n_ > 1) {
    // A uniformly random visiting order; linking it end to end gives one cycle.
    std::vector<std::uint32_t> order(n_);
    std::iota(order.begin(), order.end(), 0u);
    Rng rng(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0xC4A5Eu));
    for (std::uint64_t i = n_ - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    // order[] as a cycle: element order[k] is followed by order[(k+1) % n].
    order_ = std::move(order);
  }
}

std::uint64_t PointerChaseSource::next_of(std::uint64_t i) const {
  if (order_.empty()) return (i + 1) % n_;
  for (std::uint64_t k = 0; k < n_; ++k)
    if (order_[k] == i) return order_[(k + 1) % n_];
  return i;
}

double PointerChaseSource::progress() const {
  return (static_cast<double>(lap_) + static_cast<double>(lap_pos_) / static_cast<double>(n_)) / p_.laps;
}

void PointerChaseSource::setup(hw::ThreadContext& ctx) {
  base_ = map_anon(ctx, n_ * spacing_);
  if (!p_.init) init_pos_ = n_;
}

void PointerChaseSource::teardown(hw::ThreadContext& ctx) {
  if (base_) ctx.sys_munmap(base_, n_ * spacing_);
  base_ = 0;
}

void PointerChaseSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const VirtAddr base = base_;
  const std::uint64_t sp = spacing_;
  while (init_pos_ < n_ && !batch.full()) batch.store(base + (init_pos_++) * sp, 8);
  if (init_pos_ < n_) return;
  const std::uint32_t cc = p_.compute_cycles;
  const std::size_t per = cc ? 2 : 1;
  while (lap_ < p_.laps && batch.room() >= per) {
    std::uint64_t n = std::min<std::uint64_t>(batch.room() / per, n_ - lap_pos_);
    const std::uint64_t from = lap_pos_, to = lap_pos_ + n;
    if (order_.empty()) {
      for (std::uint64_t k = from; k < to; ++k) {
        batch.load(base + k * sp, 8, true);
        if (cc) batch.compute(cc);
      }
    } else {
      const std::uint32_t* order = order_.data();
      for (std::uint64_t k = from; k < to; ++k) {
        batch.load(base + order[k] * sp, 8, true);
        if (cc) batch.compute(cc);
      }
    }
    lap_pos_ = to;
    if (lap_pos_ == n_) {
      lap_pos_ = 0;
      ++lap_;
      count("loads", n_);
    }
  }
}

void build_pointer_chase(WorkloadBuild& b) {
  PointerChaseParams p = PointerChaseParams::from_config(b.cfg);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<PointerChaseSource>(info, p); };
  }
}

}  // namespace numasim::workloads
