// GUPS / HPCC RandomAccess: random read-modify-write updates of 8-byte words of
// one table shared by the workload's threads. The first thread to start maps
// the table; with init = true each thread first writes its 1/threads slice
// (parallel first touch, as HPCC initialises the table). Each update is a load,
// `compute_cycles` of work (the xor), and a store to the same word; addresses
// are uniform over the table, drawn from a per-thread seeded xoshiro256**.
// Keys: table_size = "64MiB"; updates = 1000000 (per thread); compute_cycles = 1;
// init = true.
// Simplified: HPCC's LFSR sequence and its look-ahead buffer are not modelled:
// only the address distribution (uniform) matters to the memory system.
#pragma once

#include <cstdint>
#include <memory>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct GupsParams {
  std::uint64_t table_bytes = 64ull << 20;
  std::uint64_t updates = 1000000;
  std::uint32_t compute_cycles = 1;
  bool init = true;

  static GupsParams from_config(Config cfg);
};

class GupsSource final : public Generator {
 public:
  GupsSource(ThreadInfo info, const GupsParams& p, std::shared_ptr<SharedRegion> table);
  double progress() const override {
    return static_cast<double>(done_updates_) / static_cast<double>(p_.updates ? p_.updates : 1);
  }
  VirtAddr table() const { return table_->addr; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return done_updates_ >= p_.updates && init_pos_ >= init_end_; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  GupsParams p_;
  std::shared_ptr<SharedRegion> table_;
  VirtAddr base_ = 0;
  std::uint64_t words_ = 0;
  std::uint64_t init_pos_ = 0, init_end_ = 0;  // word range this thread initialises
  std::uint64_t done_updates_ = 0;
  Rng rng_;
};

void build_gups(WorkloadBuild& b);

}  // namespace numasim::workloads
