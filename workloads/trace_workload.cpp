// Trace replay: range discovery, mapping and translation, record replay.
#include "workloads/trace_workload.h"

#include <algorithm>
#include <filesystem>

#include "workloads/workload_factory.h"

namespace numasim::workloads {

void TraceData::compute_ranges(std::uint64_t region_bytes) {
  const std::uint64_t mask = ~(region_bytes - 1);
  std::vector<std::uint64_t> chunks;
  for (const auto& r : records) {
    if (r.kind == TraceKind::Instr) continue;
    std::uint64_t first = r.addr & mask, last = (r.addr + (r.size ? r.size - 1 : 0)) & mask;
    for (std::uint64_t c = first;; c += region_bytes) {
      chunks.push_back(c);
      if (c == last) break;
    }
  }
  std::sort(chunks.begin(), chunks.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  ranges.clear();
  for (std::uint64_t c : chunks) {
    if (!ranges.empty() && ranges.back().start + ranges.back().bytes == c)
      ranges.back().bytes += region_bytes;
    else
      ranges.push_back({c, region_bytes});
  }
}

TraceSource::TraceSource(ThreadInfo info, const TraceParams& p, std::shared_ptr<const TraceData> data)
    : Generator(std::move(info)), p_(p), data_(std::move(data)) {}

double TraceSource::progress() const {
  if (data_->records.empty()) return 1.0;
  return (static_cast<double>(loop_) + static_cast<double>(pos_) / static_cast<double>(data_->records.size())) /
         p_.loops;
}

void TraceSource::setup(hw::ThreadContext& ctx) {
  for (const auto& r : data_->ranges) {
    VirtAddr a = map_anon(ctx, r.bytes);
    if (!a) return;
    mapped_.push_back(a);
  }
  if (data_->records.empty()) loop_ = p_.loops;
}

void TraceSource::teardown(hw::ThreadContext& ctx) {
  for (std::size_t i = 0; i < mapped_.size(); ++i) ctx.sys_munmap(mapped_[i], data_->ranges[i].bytes);
  mapped_.clear();
}

VirtAddr TraceSource::translate(std::uint64_t a) const {
  const auto& rs = data_->ranges;
  const TraceRange* r = &rs[last_range_];
  if (a < r->start || a - r->start >= r->bytes) {
    auto it =
        std::upper_bound(rs.begin(), rs.end(), a, [](std::uint64_t x, const TraceRange& t) { return x < t.start; });
    last_range_ = static_cast<std::size_t>(it - rs.begin()) - 1;  // the first range starts at or below a
    r = &rs[last_range_];
  }
  return mapped_[last_range_] + (a - r->start);
}

void TraceSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const auto& recs = data_->records;
  const std::size_t n = recs.size();
  while (loop_ < p_.loops) {
    while (pos_ < n) {
      const TraceRecord& r = recs[pos_];
      if (r.kind == TraceKind::Instr) {
        pending_cycles_ += p_.instr_cycles;
        ++pos_;
        continue;
      }
      std::size_t need = (pending_cycles_ ? 1 : 0) + (r.kind == TraceKind::Modify ? 2 : 1);
      if (batch.room() < need) return;
      if (pending_cycles_) {
        batch.compute(static_cast<std::uint32_t>(std::min<std::uint64_t>(pending_cycles_, 0xFFFFFFFFu)));
        pending_cycles_ = 0;
      }
      VirtAddr a = translate(r.addr);
      const std::uint32_t size = r.size ? r.size : 1;  // Lackey never writes 0; a hand-made trace might
      if (r.kind == TraceKind::Store) {
        batch.store(a, size);
      } else {
        batch.load(a, size);
        if (r.kind == TraceKind::Modify) batch.store(a, size);
      }
      ++pos_;
    }
    if (pending_cycles_) {
      if (batch.full()) return;
      batch.compute(static_cast<std::uint32_t>(std::min<std::uint64_t>(pending_cycles_, 0xFFFFFFFFu)));
      pending_cycles_ = 0;
    }
    pos_ = 0;
    ++loop_;
    count("records_replayed", n);
  }
}

void build_trace(WorkloadBuild& b) {
  Config& cfg = b.cfg;
  if (b.spec.threads.size() != 1) cfg.error("threads", "a trace is replayed by exactly one thread");
  std::string file = cfg.require<std::string>("file", "trace file (Lackey text or numasim binary)");
  TraceParams p;
  p.loops = cfg.get<std::uint32_t>("loops", 1, "times the trace is replayed", {1u, std::nullopt});
  p.instr_cycles = cfg.get<std::uint32_t>("instr_cycles", 1, "compute cycles per instruction fetch");
  std::uint64_t region = cfg.get<Bytes>("region_size", Bytes(64 << 10), "granularity of the mapped regions",
                                        {Bytes(4096), Bytes(1ull << 30)})
                             .value();
  if (region & (region - 1)) cfg.error("region_size", "must be a power of two");
  if (file.empty()) return;
  std::filesystem::path path(file);
  if (path.is_relative()) {
    std::filesystem::path from(cfg.position("file").file);
    if (from.has_parent_path() && std::filesystem::exists(from)) path = from.parent_path() / path;
  }
  auto data = std::make_shared<TraceData>();
  try {
    data->records = read_trace_file(path.string());
  } catch (const TraceError& e) {
    cfg.error("file", e.what());
    return;
  }
  if (!(region & (region - 1))) data->compute_ranges(region);
  std::shared_ptr<const TraceData> cdata = data;
  ThreadInfo info = b.thread_info(0);
  if (!b.spec.threads.empty())
    b.spec.threads[0].make_source = [info, p, cdata] { return std::make_unique<TraceSource>(info, p, cdata); };
}

}  // namespace numasim::workloads
