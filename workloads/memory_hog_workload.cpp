// Memory-hog generator: chunked allocation and touching beyond a node's size.
#include "workloads/memory_hog_workload.h"

#include <algorithm>

#include "workloads/workload_factory.h"

namespace numasim::workloads {

MemoryHogSource::MemoryHogSource(ThreadInfo info, const MemoryHogParams& p) : Generator(std::move(info)), p_(p) {
  std::uint64_t pages = p_.total_bytes / 4096 / static_cast<std::uint64_t>(this->info().count);
  bytes_ = std::max<std::uint64_t>(1, pages) * 4096;
  for (std::uint32_t i = 0; i < p_.passes; ++i) phases_.push_back({bytes_, Mode::Write});
  if (p_.hot_fraction > 0) {
    std::uint64_t hot = static_cast<std::uint64_t>(p_.hot_fraction * static_cast<double>(bytes_));
    hot = std::clamp<std::uint64_t>((hot + 4095) / 4096 * 4096, 4096, bytes_);
    for (std::uint32_t i = 0; i < p_.hot_passes; ++i) phases_.push_back({hot, Mode::ReadModifyWrite});
  }
  for (std::uint32_t i = 0; i < p_.reread_passes; ++i) phases_.push_back({bytes_, Mode::Read});
}

double MemoryHogSource::progress() const {
  if (phase_ >= phases_.size()) return 1.0;
  std::uint64_t nchunks = (bytes_ + p_.chunk_bytes - 1) / p_.chunk_bytes;
  return (static_cast<double>(phase_) + static_cast<double>(chunk_) / static_cast<double>(nchunks)) /
         static_cast<double>(phases_.size());
}

void MemoryHogSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  while (phase_ < phases_.size() && !batch.full()) {
    const Phase& ph = phases_[phase_];
    if (chunk_ == chunks_.size() && phase_ == 0 && mapped_ < bytes_) {
      // The allocation pass maps the next chunk when it reaches it.
      std::uint64_t len = std::min(p_.chunk_bytes, bytes_ - mapped_);
      VirtAddr a = map_anon(ctx, len);
      if (!a) return;
      chunks_.emplace_back(a, len);
      mapped_ += len;
      pos_ = 0;
    }
    // Bytes of the chunk this phase touches (the hot part may end inside a chunk).
    const std::uint64_t chunk_start = chunk_ * p_.chunk_bytes;
    if (chunk_ == chunks_.size() || chunk_start >= ph.end) {
      if (phase_ == 0) count("bytes_allocated", mapped_);
      ++phase_;
      chunk_ = 0;
      pos_ = 0;
      continue;
    }
    const auto [addr, len] = chunks_[chunk_];
    const std::uint64_t span = std::min(len, ph.end - chunk_start);
    const std::uint64_t touches = (span + p_.touch_stride - 1) / p_.touch_stride;
    const std::size_t per = (ph.mode == Mode::ReadModifyWrite ? 2 : 1) + (p_.compute_cycles ? 1 : 0);
    while (pos_ < touches && batch.room() >= per) {
      const VirtAddr a = addr + pos_ * p_.touch_stride;
      if (ph.mode != Mode::Write) touch(batch, a, false);
      if (ph.mode != Mode::Read) touch(batch, a, true);
      if (p_.compute_cycles) batch.compute(p_.compute_cycles);
      ++pos_;
    }
    if (pos_ < touches) return;
    pos_ = 0;
    ++chunk_;
  }
}

void MemoryHogSource::teardown(hw::ThreadContext& ctx) {
  count_verified();
  for (const auto& [a, len] : chunks_) {
    verify_untrack(a, len);
    ctx.sys_munmap(a, len);
  }
  chunks_.clear();
}

void build_memory_hog(WorkloadBuild& b) {
  MemoryHogParams p;
  Config& cfg = b.cfg;
  const int target = b.target_node("node whose memory size sets the hog's size");
  if (cfg.has("size") && cfg.has("node_fraction"))
    cfg.error("node_fraction", "give either size or node_fraction, not both");
  double fraction = cfg.get<double>("node_fraction", 1.25, "size as a multiple of target_node's memory", {0.0, 1000.0});
  const std::uint64_t node_bytes = b.node_bytes(target);
  std::uint64_t by_fraction = static_cast<std::uint64_t>(fraction * static_cast<double>(node_bytes));
  p.total_bytes = cfg.get<Bytes>("size", Bytes(by_fraction), "bytes allocated and touched (all threads)",
                                 {Bytes(4096), std::nullopt})
                      .value();
  p.chunk_bytes =
      cfg.get<Bytes>("chunk_size", Bytes(p.chunk_bytes), "bytes per mmap", {Bytes(4096), std::nullopt}).value();
  p.passes = cfg.get<std::uint32_t>("passes", 1, "times every page is touched", {1u, std::nullopt});
  p.touch_stride =
      cfg.get<Bytes>("touch_stride", Bytes(4096), "distance between touches", {Bytes(1), std::nullopt}).value();
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work after each touch");
  p.reread_passes = cfg.get<std::uint32_t>("reread_passes", 0, "read passes over every page after the write passes");
  p.hot_fraction = cfg.get<double>("hot_fraction", 0.0, "share of the hog touched repeatedly (the hot part)", {0.0, 1.0});
  p.hot_passes = cfg.get<std::uint32_t>("hot_passes", p.hot_passes,
                                        "read-modify-write passes over the hot part (with hot_fraction > 0)");
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<MemoryHogSource>(info, p); };
  }
}

}  // namespace numasim::workloads
