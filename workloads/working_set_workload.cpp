// Working-set generator: populate hot and cold sets, then cold sweeps
// interleaved with random hot accesses.
#include "workloads/working_set_workload.h"

#include <algorithm>

#include "workloads/workload_factory.h"

namespace numasim::workloads {

WorkingSetSource::WorkingSetSource(ThreadInfo info, const WorkingSetParams& p)
    : Generator(std::move(info)),
      p_(p),
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0x5e7u)) {
  const std::uint64_t threads = static_cast<std::uint64_t>(this->info().count);
  hot_pages_ = std::max<std::uint64_t>(1, p_.hot_bytes / kPageSize / threads);
  cold_pages_ = std::max<std::uint64_t>(1, p_.cold_bytes / kPageSize / threads);
  hot_per_cold_ = p_.hot_share / (1.0 - p_.hot_share);
  write_threshold_ = ratio_threshold(p_.write_fraction);
}

double WorkingSetSource::progress() const {
  if (finished()) return 1.0;
  const double steps = 1.0 + p_.passes;
  const double within = pass_ == 0 ? static_cast<double>(pos_) / static_cast<double>(hot_pages_ + cold_pages_)
                                   : static_cast<double>(pos_) / static_cast<double>(cold_pages_);
  return (pass_ + within) / steps;
}

void WorkingSetSource::setup(hw::ThreadContext& ctx) {
  hot_ = map_anon(ctx, hot_pages_ * kPageSize);
  if (!hot_) return;
  cold_ = map_anon(ctx, cold_pages_ * kPageSize);
}

void WorkingSetSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const std::size_t per = p_.compute_cycles ? 2 : 1;
  while (!finished() && batch.room() >= per) {
    if (pass_ == 0) {
      // Populate: write every hot page, then every cold page.
      const std::uint64_t total = hot_pages_ + cold_pages_;
      if (pos_ == total) {
        pass_ = 1;
        pos_ = 0;
        continue;
      }
      const VirtAddr a = pos_ < hot_pages_ ? hot_ + pos_ * kPageSize : cold_ + (pos_ - hot_pages_) * kPageSize;
      touch(batch, a, true);
      ++pos_;
    } else {
      if (pos_ == cold_pages_) {
        ++pass_;
        pos_ = 0;
        continue;
      }
      VirtAddr a;
      if (hot_credit_ >= 1.0) {
        hot_credit_ -= 1.0;
        a = hot_ + rng_.below(hot_pages_) * kPageSize;
        ++hot_accesses_;
      } else {
        hot_credit_ += hot_per_cold_;
        a = cold_ + pos_ * kPageSize;
        ++pos_;
        ++cold_accesses_;
      }
      touch(batch, a, rng_.next() < write_threshold_);
    }
    if (p_.compute_cycles) batch.compute(p_.compute_cycles);
  }
}

void WorkingSetSource::teardown(hw::ThreadContext& ctx) {
  count("hot_accesses", hot_accesses_);
  count("cold_accesses", cold_accesses_);
  count_verified();
  if (hot_) {
    verify_untrack(hot_, hot_pages_ * kPageSize);
    ctx.sys_munmap(hot_, hot_pages_ * kPageSize);
  }
  if (cold_) {
    verify_untrack(cold_, cold_pages_ * kPageSize);
    ctx.sys_munmap(cold_, cold_pages_ * kPageSize);
  }
  hot_ = cold_ = 0;
}

void build_working_set(WorkloadBuild& b) {
  WorkingSetParams p;
  Config& cfg = b.cfg;
  const std::uint64_t node_bytes = b.node_bytes(b.target_node("node whose memory size sets the default sizes"));
  const std::uint64_t page = kPageSize;
  p.hot_bytes = cfg.get<Bytes>("hot_size", Bytes(std::max(page, node_bytes / 2)),
                               "hot set (all threads): fits in memory", {Bytes(page), std::nullopt})
                    .value();
  p.cold_bytes = cfg.get<Bytes>("cold_size", Bytes(std::max(page, node_bytes)),
                                "cold set (all threads): with the hot set, more than memory", {Bytes(page), std::nullopt})
                     .value();
  p.hot_share = cfg.get<double>("hot_share", p.hot_share, "share of a pass's accesses that go to the hot set",
                                {0.0, 0.99});
  p.passes = cfg.get<std::uint32_t>("passes", p.passes, "sweeps of the cold set after populating", {1u, std::nullopt});
  p.write_fraction =
      cfg.get<double>("write_fraction", p.write_fraction, "share of the passes' accesses that are stores", {0.0, 1.0});
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work after each access");
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<WorkingSetSource>(info, p); };
  }
}

}  // namespace numasim::workloads
