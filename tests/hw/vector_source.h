// A test OpSource that emits a fixed list of ops in batches of at most `chunk`
// (shared by the core and I/O-wait tests); before_fill lets a test act between
// batches.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "hw/op.h"

namespace numasim::hw::testing {

class VectorSource : public OpSource {
 public:
  explicit VectorSource(std::vector<Op> ops, std::size_t chunk = OpBatch::kCapacity)
      : ops_(std::move(ops)), chunk_(chunk) {}
  std::size_t fill(OpBatch& b, ThreadContext& ctx) override {
    if (before_fill) before_fill(b, ctx);
    std::size_t n = 0;
    while (pos_ < ops_.size() && !b.full() && n < chunk_) b.push(ops_[pos_++]), ++n;
    return b.size();
  }
  bool done() const override { return pos_ >= ops_.size(); }
  std::function<void(OpBatch&, ThreadContext&)> before_fill;

 private:
  std::vector<Op> ops_;
  std::size_t chunk_;
  std::size_t pos_ = 0;
};

}  // namespace numasim::hw::testing
