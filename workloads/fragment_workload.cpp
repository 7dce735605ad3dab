// Fragmentation generator: fill, free three pages of every four, hold.
#include "workloads/fragment_workload.h"

#include <algorithm>

#include "workloads/mmap_churn_workload.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

namespace {
constexpr int kMadvDontneed = 4;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint32_t kHoldSlice = 1'000'000;  // cycles per compute op while holding
}  // namespace

FragmentSource::FragmentSource(ThreadInfo info, const FragmentParams& p) : Generator(std::move(info)), p_(p) {
  std::uint64_t pages = p_.total_bytes / kPage / static_cast<std::uint64_t>(this->info().count);
  bytes_ = std::max<std::uint64_t>(p_.keep_every, pages) * kPage;
}

double FragmentSource::progress() const {
  const double pages = static_cast<double>(bytes_ / kPage);
  const double groups = static_cast<double>(bytes_ / kPage / p_.keep_every);
  switch (phase_) {
    case Phase::Map: return 0.0;
    case Phase::Touch: return 0.5 * static_cast<double>(pos_) / pages;
    case Phase::Free: return 0.5 + 0.4 * static_cast<double>(pos_) / std::max(1.0, groups);
    case Phase::Hold:
      return 0.9 + 0.1 * static_cast<double>(pos_) / static_cast<double>(std::max<std::uint64_t>(1, p_.hold_cycles));
    case Phase::Done: return 1.0;
  }
  return 1.0;
}

void FragmentSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  const std::uint64_t pages = bytes_ / kPage;
  while (phase_ != Phase::Done && !batch.full()) {
    switch (phase_) {
      case Phase::Map:
        addr_ = map_anon(ctx, bytes_);
        if (!addr_) return;
        pos_ = 0;
        phase_ = Phase::Touch;
        break;
      case Phase::Touch:
        pos_ = emit_touches(batch, addr_, pos_, pages, kPage, true, p_.compute_cycles);
        if (pos_ < pages) return;  // batch full
        count("bytes_allocated", bytes_);
        pos_ = 0;
        phase_ = Phase::Free;
        break;
      case Phase::Free: {
        // One madvise per group: the touches before it run first (program order).
        const std::uint64_t groups = pages / p_.keep_every;
        for (int n = 0; n < 256 && pos_ < groups; ++n, ++pos_) {
          const VirtAddr a = addr_ + (pos_ * p_.keep_every + 1) * kPage;
          const long r = ctx.sys_madvise(a, (p_.keep_every - 1) * kPage, kMadvDontneed);
          if (r < 0) {
            fail("madvise", r);
            return;
          }
        }
        if (pos_ < groups) return;  // the rest in the next batch
        count("bytes_freed", groups * (p_.keep_every - 1) * kPage);
        pos_ = 0;
        phase_ = p_.hold_cycles ? Phase::Hold : Phase::Done;
        break;
      }
      case Phase::Hold:
        while (pos_ < p_.hold_cycles && !batch.full()) {
          const auto c = static_cast<std::uint32_t>(std::min<std::uint64_t>(kHoldSlice, p_.hold_cycles - pos_));
          batch.compute(c);
          pos_ += c;
        }
        if (pos_ >= p_.hold_cycles) phase_ = Phase::Done;
        break;
      case Phase::Done: break;
    }
  }
}

void FragmentSource::teardown(hw::ThreadContext& ctx) {
  if (addr_) ctx.sys_munmap(addr_, bytes_);
  addr_ = 0;
}

void build_fragment(WorkloadBuild& b) {
  FragmentParams p;
  Config& cfg = b.cfg;
  int default_node = 0;
  if (!b.spec.threads.empty())
    default_node = b.topo.num_cpus() > 0 ? b.topo.cpu_node(b.spec.threads[0].cpu).value() : 0;
  if (!b.spec.policy.nodes.empty()) default_node = b.spec.policy.nodes.front();
  int target = cfg.get<int>("target_node", default_node, "node whose memory size sets the size",
                            {0, std::max(0, b.topo.num_nodes() - 1)});
  if (cfg.has("size") && cfg.has("node_fraction"))
    cfg.error("node_fraction", "give either size or node_fraction, not both");
  double fraction = cfg.get<double>("node_fraction", 0.95, "size as a fraction of target_node's memory", {0.0, 1.0});
  std::uint64_t node_bytes = target < b.topo.num_nodes() ? b.topo.node(NodeId(target)).memory.value() : 0;
  std::uint64_t by_fraction = static_cast<std::uint64_t>(fraction * static_cast<double>(node_bytes));
  p.total_bytes = cfg.get<Bytes>("size", Bytes(std::max<std::uint64_t>(by_fraction, 1ull << 20)),
                                 "bytes mapped and written before fragmenting (all threads)",
                                 {Bytes(64 * 1024), std::nullopt})
                      .value();
  p.keep_every = cfg.get<std::uint32_t>("keep_every", 4, "one page kept out of every keep_every", {2u, 512u});
  p.hold_cycles = cfg.get<std::uint64_t>("hold_cycles", 0, "compute cycles after fragmenting (kcompactd's time)");
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work after each first touch");
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<FragmentSource>(info, p); };
  }
}

}  // namespace numasim::workloads
