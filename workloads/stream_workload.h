// STREAM (McCalpin): copy c=a, scale b=s*c, add c=a+b, triad a=b+s*c over three
// arrays. Each thread owns a 1/threads slice of every array (OpenMP static
// schedule), maps it in start() and, like STREAM, initialises it (first touch).
// Per element: copy/scale 1 load + 1 store, add/triad 2 loads + 1 store, plus an
// optional compute op. A marker (id = iteration * 4 + kernel) opens each kernel.
// Keys: kernel = "triad" | "copy" | "scale" | "add" | "all"; array_size (bytes
// per array, all threads together); element_size = "8B"; iterations = 10;
// compute_cycles = 0 (per element); init = true.
// Simplified: no vectorisation (one access per element; the core merges them
// into cache lines); no timing of its own (the report gives bandwidth).
#pragma once

#include <cstdint>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

enum class StreamKernel : std::uint8_t { Copy = 0, Scale = 1, Add = 2, Triad = 3, All = 4 };

struct StreamParams {
  StreamKernel kernel = StreamKernel::Triad;
  std::uint64_t array_bytes = 8ull << 20;
  std::uint32_t element_bytes = 8;
  std::uint32_t iterations = 10;
  std::uint32_t compute_cycles = 0;
  bool init = true;

  static StreamParams from_config(Config cfg);
};

class StreamSource final : public Generator {
 public:
  StreamSource(ThreadInfo info, const StreamParams& p);
  double progress() const override;

  VirtAddr array(int i) const { return base_[i]; }  // a, b, c
  std::uint64_t elements() const { return n_; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return step_ >= steps_.size(); }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  struct Step {
    std::uint8_t what;  // 0..3 kernel, 4 init
    std::uint32_t marker;
  };
  StreamParams p_;
  std::uint64_t n_ = 0;  // elements of this thread's slice
  VirtAddr base_[3] = {0, 0, 0};
  std::vector<Step> steps_;
  std::size_t step_ = 0;
  std::uint64_t i_ = 0;
  bool marker_done_ = false;
};

void build_stream(WorkloadBuild& b);

}  // namespace numasim::workloads
