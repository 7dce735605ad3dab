// STREAM generator: per-thread array slices, initialisation, and the four
// kernels emitted element by element in tight loops.
#include "workloads/stream_workload.h"

#include <algorithm>

#include "workloads/workload_factory.h"

namespace numasim::workloads {

StreamParams StreamParams::from_config(Config cfg) {
  StreamParams p;
  std::string k = cfg.get_choice("kernel", "triad", {"copy", "scale", "add", "triad", "all"}, "STREAM kernel");
  p.kernel = k == "copy"    ? StreamKernel::Copy
             : k == "scale" ? StreamKernel::Scale
             : k == "add"   ? StreamKernel::Add
             : k == "all"   ? StreamKernel::All
                            : StreamKernel::Triad;
  p.array_bytes = cfg.get<Bytes>("array_size", Bytes(p.array_bytes), "bytes per array (all threads together)",
                                 {Bytes(4096), std::nullopt})
                      .value();
  p.element_bytes = static_cast<std::uint32_t>(
      cfg.get<Bytes>("element_size", Bytes(p.element_bytes), "bytes per element", {Bytes(1), Bytes(64)}).value());
  p.iterations = cfg.get<std::uint32_t>("iterations", p.iterations, "times each kernel runs", {1u, std::nullopt});
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "compute cycles per element (0: none)");
  p.init = cfg.get<bool>("init", true, "initialise (first-touch) the arrays before the kernels");
  return p;
}

StreamSource::StreamSource(ThreadInfo info, const StreamParams& p) : Generator(std::move(info)), p_(p) {
  std::uint64_t total = p_.array_bytes / p_.element_bytes;
  int t = this->info().count, i = this->info().index;
  n_ = total / t + (static_cast<std::uint64_t>(i) < total % t ? 1 : 0);
  if (p_.init) steps_.push_back({4, 0});
  for (std::uint32_t it = 0; it < p_.iterations; ++it) {
    if (p_.kernel == StreamKernel::All) {
      for (std::uint8_t k = 0; k < 4; ++k) steps_.push_back({k, it * 4 + k});
    } else {
      auto k = static_cast<std::uint8_t>(p_.kernel);
      steps_.push_back({k, it * 4 + k});
    }
  }
}

void StreamSource::setup(hw::ThreadContext& ctx) {
  if (n_ == 0) {
    step_ = steps_.size();
    return;
  }
  for (auto& b : base_) {
    b = map_anon(ctx, n_ * p_.element_bytes);
    if (!b) return;
  }
}

void StreamSource::teardown(hw::ThreadContext& ctx) {
  for (auto& b : base_) {
    if (b) ctx.sys_munmap(b, n_ * p_.element_bytes);
    b = 0;
  }
}

double StreamSource::progress() const {
  if (steps_.empty() || n_ == 0) return 1.0;
  return (static_cast<double>(step_) + static_cast<double>(i_) / static_cast<double>(n_)) /
         static_cast<double>(steps_.size());
}

void StreamSource::emit(hw::OpBatch& batch, hw::ThreadContext&) {
  const std::uint32_t es = p_.element_bytes;
  const VirtAddr a = base_[0], b = base_[1], c = base_[2];
  while (step_ < steps_.size()) {
    const Step s = steps_[step_];
    if (!marker_done_ && s.what != 4) {
      if (batch.full()) return;
      batch.marker(s.marker);
      marker_done_ = true;
    }
    const std::size_t per = (s.what == 4 ? 3 : (s.what >= 2 ? 3 : 2)) + (p_.compute_cycles ? 1 : 0);
    std::uint64_t fit = batch.room() / per;
    std::uint64_t end = std::min(n_, i_ + fit);
    if (end == i_) return;  // batch full
    std::uint64_t i = i_;
    const std::uint32_t cc = p_.compute_cycles;
    switch (s.what) {
      case 0:  // copy: c = a
        for (; i < end; ++i) {
          batch.load(a + i * es, es);
          if (cc) batch.compute(cc);
          batch.store(c + i * es, es);
        }
        break;
      case 1:  // scale: b = s * c
        for (; i < end; ++i) {
          batch.load(c + i * es, es);
          if (cc) batch.compute(cc);
          batch.store(b + i * es, es);
        }
        break;
      case 2:  // add: c = a + b
        for (; i < end; ++i) {
          batch.load(a + i * es, es);
          batch.load(b + i * es, es);
          if (cc) batch.compute(cc);
          batch.store(c + i * es, es);
        }
        break;
      case 3:  // triad: a = b + s * c
        for (; i < end; ++i) {
          batch.load(b + i * es, es);
          batch.load(c + i * es, es);
          if (cc) batch.compute(cc);
          batch.store(a + i * es, es);
        }
        break;
      default:  // init: a = 1, b = 2, c = 0
        for (; i < end; ++i) {
          batch.store(a + i * es, es);
          batch.store(b + i * es, es);
          batch.store(c + i * es, es);
          if (cc) batch.compute(cc);
        }
        break;
    }
    i_ = i;
    if (i_ == n_) {
      count(s.what == 4 ? "init_elements" : "kernel_elements", n_);
      i_ = 0;
      ++step_;
      marker_done_ = false;
    }
  }
}

void build_stream(WorkloadBuild& b) {
  StreamParams p = StreamParams::from_config(b.cfg);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<StreamSource>(info, p); };
  }
}

}  // namespace numasim::workloads
