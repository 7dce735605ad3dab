// Producer/consumer generator over a shared ring buffer.
#include "workloads/producer_consumer_workload.h"

#include <algorithm>

#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

namespace {
constexpr std::uint64_t kFlagsBytes = 128;  // produced flag line, consumed flag line
}

ProducerConsumerParams ProducerConsumerParams::from_config(Config cfg) {
  ProducerConsumerParams p;
  p.buffer_bytes =
      cfg.get<Bytes>("buffer_size", Bytes(p.buffer_bytes), "ring buffer size", {Bytes(64), std::nullopt}).value();
  p.chunk_bytes =
      cfg.get<Bytes>("chunk_size", Bytes(p.chunk_bytes), "bytes per hand-over", {Bytes(64), std::nullopt}).value();
  p.chunks = cfg.get<std::uint64_t>("chunks", p.chunks, "chunks passed in total", {1ull, std::nullopt});
  p.poll_cycles =
      cfg.get<std::uint32_t>("poll_cycles", p.poll_cycles, "cycles between two polls of a flag", {1u, std::nullopt});
  if (p.chunk_bytes > p.buffer_bytes) cfg.error("chunk_size", "larger than buffer_size");
  return p;
}

ProducerConsumerSource::ProducerConsumerSource(ThreadInfo info, const ProducerConsumerParams& p,
                                               std::shared_ptr<ProducerConsumerShared> s)
    : Generator(std::move(info)), p_(p), s_(std::move(s)) {
  p_.chunk_bytes = std::max<std::uint64_t>(64, p_.chunk_bytes / 64 * 64);
  slots_ = std::max<std::uint64_t>(1, p_.buffer_bytes / p_.chunk_bytes);
}

void ProducerConsumerSource::setup(hw::ThreadContext& ctx) { base_ = map_shared_region(ctx, s_->region); }

void ProducerConsumerSource::teardown(hw::ThreadContext& ctx) {
  if (base_) unmap_shared_region(ctx, s_->region);
  base_ = 0;
}

void ProducerConsumerSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  const VirtAddr produced_flag = base_, consumed_flag = base_ + 64, data = base_ + kFlagsBytes;
  const std::uint64_t lines = p_.chunk_bytes / 64;
  while (seq_ < p_.chunks && batch.room() >= 2) {
    if (line_ == 0) {
      // Wait for the slot (producer) or the data (consumer).
      bool ready = producer() ? seq_ - s_->consumed < slots_ : s_->produced > seq_;
      if (!ready) {
        batch.load(producer() ? consumed_flag : produced_flag, 8);
        batch.compute(p_.poll_cycles);
        ++s_->polls;
        return;  // let the other thread run
      }
    }
    const VirtAddr chunk = data + (seq_ % slots_) * p_.chunk_bytes;
    std::uint64_t l = line_;
    if (producer()) {
      for (; l < lines && !batch.full(); ++l) batch.store(chunk + l * 64, 8);
    } else {
      for (; l < lines && !batch.full(); ++l) batch.load(chunk + l * 64, 8);
    }
    line_ = l;
    if (line_ < lines || batch.full()) return;
    // Publish: flag store, run everything so far, then let the other side see it.
    batch.store(producer() ? produced_flag : consumed_flag, 8);
    ctx.flush();
    if (producer())
      s_->produced = seq_ + 1;
    else
      s_->consumed = seq_ + 1;
    line_ = 0;
    ++seq_;
  }
  if (seq_ >= p_.chunks) count(producer() ? "chunks_produced" : "chunks_consumed", p_.chunks);
}

void build_producer_consumer(WorkloadBuild& b) {
  ProducerConsumerParams p = ProducerConsumerParams::from_config(b.cfg);
  if (b.spec.threads.size() != 2) {
    b.cfg.error("threads", "producer_consumer needs exactly 2 threads (producer, consumer), got " +
                               std::to_string(b.spec.threads.size()));
    return;
  }
  if (!b.cpus_given && b.topo.num_cpus() > 0) {
    // Producer on the first CPU of the first socket, consumer on the first CPU of another socket if any.
    CpuId first(0);
    CpuId other = b.topo.num_cpus() > 1 ? CpuId(1) : CpuId(0);
    for (int c = 0; c < b.topo.num_cpus(); ++c) {
      if (b.topo.cpu_socket(CpuId(c)) != b.topo.cpu_socket(first)) {
        other = CpuId(c);
        break;
      }
    }
    b.spec.threads[0].cpu = first;
    b.spec.threads[1].cpu = other;
  }
  auto shared = std::make_shared<ProducerConsumerShared>();
  std::uint64_t chunk = std::max<std::uint64_t>(64, p.chunk_bytes / 64 * 64);
  std::uint64_t bytes = kFlagsBytes + std::max<std::uint64_t>(1, p.buffer_bytes / chunk) * chunk;
  shared->region.bytes = (bytes + 4095) / 4096 * 4096;
  shared->region.flags = abi::kMapShared;
  shared->region.threads = 2;
  for (int t = 0; t < 2; ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p, shared] {
      return std::make_unique<ProducerConsumerSource>(info, p, shared);
    };
  }
}

}  // namespace numasim::workloads
