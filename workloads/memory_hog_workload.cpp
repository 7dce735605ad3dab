// Memory-hog generator: chunked allocation and touching beyond a node's size.
#include "workloads/memory_hog_workload.h"

#include <algorithm>

#include "workloads/mmap_churn_workload.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

MemoryHogSource::MemoryHogSource(ThreadInfo info, const MemoryHogParams& p) : Generator(std::move(info)), p_(p) {
  std::uint64_t pages = p_.total_bytes / 4096 / static_cast<std::uint64_t>(this->info().count);
  bytes_ = std::max<std::uint64_t>(1, pages) * 4096;
}

double MemoryHogSource::progress() const {
  std::uint64_t nchunks = (bytes_ + p_.chunk_bytes - 1) / p_.chunk_bytes;
  return (static_cast<double>(pass_) + static_cast<double>(chunk_) / static_cast<double>(nchunks)) / p_.passes;
}

void MemoryHogSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  while (pass_ < p_.passes && !batch.full()) {
    if (chunk_ == chunks_.size()) {
      if (pass_ > 0) {
        // Later passes re-touch the chunks mapped in the first.
        chunk_ = 0;
        ++pass_;
        continue;
      }
      std::uint64_t mapped = 0;
      for (const auto& c : chunks_) mapped += c.second;
      if (mapped >= bytes_) {
        chunk_ = 0;
        ++pass_;
        count("bytes_allocated", mapped);
        continue;
      }
      std::uint64_t len = std::min(p_.chunk_bytes, bytes_ - mapped);
      VirtAddr a = map_anon(ctx, len);
      if (!a) return;
      chunks_.emplace_back(a, len);
      pos_ = 0;
    }
    const auto [addr, len] = chunks_[chunk_];
    std::uint64_t touches = (len + p_.touch_stride - 1) / p_.touch_stride;
    pos_ = emit_touches(batch, addr, pos_, touches, p_.touch_stride, true, p_.compute_cycles);
    if (pos_ < touches) return;
    pos_ = 0;
    ++chunk_;
  }
}

void MemoryHogSource::teardown(hw::ThreadContext& ctx) {
  for (const auto& [a, len] : chunks_) ctx.sys_munmap(a, len);
  chunks_.clear();
}

void build_memory_hog(WorkloadBuild& b) {
  MemoryHogParams p;
  Config& cfg = b.cfg;
  int default_node = 0;
  if (!b.spec.threads.empty())
    default_node = b.topo.num_cpus() > 0 ? b.topo.cpu_node(b.spec.threads[0].cpu).value() : 0;
  if (!b.spec.policy.nodes.empty()) default_node = b.spec.policy.nodes.front();
  int target = cfg.get<int>("target_node", default_node, "node whose memory size sets the hog's size",
                            {0, std::max(0, b.topo.num_nodes() - 1)});
  if (cfg.has("size") && cfg.has("node_fraction"))
    cfg.error("node_fraction", "give either size or node_fraction, not both");
  double fraction = cfg.get<double>("node_fraction", 1.25, "size as a multiple of target_node's memory", {0.0, 1000.0});
  std::uint64_t node_bytes = target < b.topo.num_nodes() ? b.topo.node(NodeId(target)).memory.value() : 0;
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
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<MemoryHogSource>(info, p); };
  }
}

}  // namespace numasim::workloads
