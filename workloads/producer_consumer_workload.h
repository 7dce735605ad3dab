// Producer/consumer: two threads of one process, normally on different
// sockets, passing chunks through a ring buffer in a MAP_SHARED anonymous
// mapping. The producer writes a chunk (one store per cache line), then its
// "produced" flag line; the consumer polls that flag, reads the chunk and
// writes its "consumed" flag line; the producer polls "consumed" before reusing
// a slot. The modified lines migrate between the sockets' caches (HITM
// traffic) and the buffer's pages live on the node of whoever touches first
// (or wherever the policy says).
// Keys: buffer_size = "1MiB"; chunk_size = "64KiB"; chunks = 256 (passed in
// total); poll_cycles = 100 (work between two polls of a flag).
// The threads key must be 2; without cpus/node the producer runs on the first
// CPU of the first socket and the consumer on the first CPU of another socket.
// Simplified: the hand-over is synchronised on the host (the generator keeps
// the counters) and published after the producer's stores have executed
// (ThreadContext::flush), so the consumer never reads a chunk early; polling
// is modelled as a flag load plus poll_cycles of compute per attempt.
#pragma once

#include <cstdint>
#include <memory>

#include "common/config.h"
#include "workloads/generator.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct ProducerConsumerParams {
  std::uint64_t buffer_bytes = 1ull << 20;
  std::uint64_t chunk_bytes = 64ull << 10;
  std::uint64_t chunks = 256;
  std::uint32_t poll_cycles = 100;

  static ProducerConsumerParams from_config(Config cfg);
};

// Host-side state of one producer/consumer pair.
struct ProducerConsumerShared {
  SharedRegion region;         // two flag lines, then the ring buffer
  std::uint64_t produced = 0;  // chunks published by the producer
  std::uint64_t consumed = 0;  // chunks released by the consumer
  std::uint64_t polls = 0;     // flag loads that found nothing new
};

class ProducerConsumerSource final : public Generator {
 public:
  ProducerConsumerSource(ThreadInfo info, const ProducerConsumerParams& p, std::shared_ptr<ProducerConsumerShared> s);
  double progress() const override {
    return static_cast<double>(seq_) / static_cast<double>(p_.chunks ? p_.chunks : 1);
  }
  bool producer() const { return info().index == 0; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return seq_ >= p_.chunks; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  ProducerConsumerParams p_;
  std::shared_ptr<ProducerConsumerShared> s_;
  VirtAddr base_ = 0;
  std::uint64_t slots_ = 1;
  std::uint64_t seq_ = 0;   // chunk this thread works on
  std::uint64_t line_ = 0;  // lines of it done
};

void build_producer_consumer(WorkloadBuild& b);

}  // namespace numasim::workloads
