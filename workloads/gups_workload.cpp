// GUPS generator: shared table, parallel initialisation, uniform random
// read-modify-write updates.
#include "workloads/gups_workload.h"

#include <algorithm>

#include "workloads/workload_factory.h"

namespace numasim::workloads {

GupsParams GupsParams::from_config(Config cfg) {
  GupsParams p;
  p.table_bytes = cfg.get<Bytes>("table_size", Bytes(p.table_bytes), "table size (shared by the threads)",
                                 {Bytes(4096), std::nullopt})
                      .value();
  p.updates = cfg.get<std::uint64_t>("updates", p.updates, "updates per thread");
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", p.compute_cycles, "cycles of work per update");
  p.init = cfg.get<bool>("init", p.init, "write the table before updating it (parallel first touch)");
  return p;
}

GupsSource::GupsSource(ThreadInfo info, const GupsParams& p, std::shared_ptr<SharedRegion> table)
    : Generator(std::move(info)),
      p_(p),
      table_(std::move(table)),
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0x6u)) {
  words_ = p_.table_bytes / 8;
  if (p_.init) {
    std::uint64_t t = static_cast<std::uint64_t>(this->info().count),
                  i = static_cast<std::uint64_t>(this->info().index);
    init_pos_ = words_ * i / t;
    init_end_ = words_ * (i + 1) / t;
  }
}

void GupsSource::setup(hw::ThreadContext& ctx) { base_ = map_shared_region(ctx, *table_); }

void GupsSource::teardown(hw::ThreadContext& ctx) {
  if (base_) unmap_shared_region(ctx, *table_);
  base_ = 0;
}

void GupsSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const VirtAddr base = base_;
  if (init_pos_ < init_end_) {
    // One store per cache line is enough to first-touch and dirty the table.
    std::uint64_t pos = init_pos_;
    while (pos < init_end_ && !batch.full()) {
      batch.store(base + pos * 8, 8);
      pos = (pos / 8 + 1) * 8;  // next line (8 words)
    }
    init_pos_ = std::min(pos, init_end_);
    if (init_pos_ < init_end_) return;
  }
  const std::size_t per = p_.compute_cycles ? 3 : 2;
  std::uint64_t n = std::min<std::uint64_t>(batch.room() / per, p_.updates - done_updates_);
  const std::uint64_t words = words_;
  const std::uint32_t cc = p_.compute_cycles;
  for (std::uint64_t k = 0; k < n; ++k) {
    VirtAddr addr = base + rng_.below(words) * 8;
    batch.load(addr, 8);
    if (cc) batch.compute(cc);
    batch.store(addr, 8);
  }
  done_updates_ += n;
  if (done_updates_ >= p_.updates && n) count("updates", p_.updates);
}

void build_gups(WorkloadBuild& b) {
  GupsParams p = GupsParams::from_config(b.cfg);
  auto table = std::make_shared<SharedRegion>();
  table->bytes = (p.table_bytes + 4095) / 4096 * 4096;
  table->threads = static_cast<int>(b.spec.threads.size());
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p, table] { return std::make_unique<GupsSource>(info, p, table); };
  }
}

}  // namespace numasim::workloads
