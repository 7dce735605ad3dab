// The common frame of every synthetic generator: the thread's identity in its
// workload, installing the workload's memory policy when the thread starts
// (as numactl does before exec), mapping anonymous memory, recording a failed
// system call in the workload's results and stopping the thread, and regions
// shared by the threads of one workload (the first thread to start maps it,
// the others use the same address: they share one mm).
// Subclasses implement setup() and emit(); emit() appends whole runs of ops in
// tight loops (no virtual call per op).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hw/op.h"
#include "workloads/policy_spec.h"
#include "workloads/workload_spec.h"

namespace numasim::workloads {

struct ThreadInfo {
  std::string workload = "workload";
  int index = 0;  // thread index within the workload
  int count = 1;  // threads in the workload
  std::uint64_t seed = 1;
  PolicySpec policy;
  std::shared_ptr<WorkloadResults> results;  // may be null in unit tests
};

// An anonymous mapping shared by the threads of a workload.
struct SharedRegion {
  std::uint64_t bytes = 0;
  int flags = 0;      // MAP_* (anonymous is added)
  VirtAddr addr = 0;  // 0 until mapped
  long error = 0;     // -errno of a failed mmap
  bool tried = false;
  int threads = 1;   // threads that use it
  int finished = 0;  // threads done with it; the last one unmaps
};

class Generator : public hw::OpSource {
 public:
  explicit Generator(ThreadInfo info) : info_(std::move(info)) {}

  std::string name() const override { return info_.workload + "/" + std::to_string(info_.index); }
  void start(hw::ThreadContext& ctx) final;
  std::size_t fill(hw::OpBatch& batch, hw::ThreadContext& ctx) final;
  bool done() const final { return failed_ || finished(); }
  void finish(hw::ThreadContext& ctx) final;

  bool failed() const { return failed_; }
  const ThreadInfo& info() const { return info_; }

 protected:
  virtual void setup(hw::ThreadContext& ctx) {}
  virtual void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) = 0;
  virtual bool finished() const = 0;
  virtual void teardown(hw::ThreadContext& ctx) {}

  // mmap(NULL, bytes, READ|WRITE, PRIVATE|ANONYMOUS|extra_flags); 0 (and the thread failed) on error.
  VirtAddr map_anon(hw::ThreadContext& ctx, std::uint64_t bytes, int extra_flags = 0);
  // Maps `region` if no thread has yet; returns its address or 0 (failed).
  VirtAddr map_shared_region(hw::ThreadContext& ctx, SharedRegion& region);
  void unmap_shared_region(hw::ThreadContext& ctx, SharedRegion& region);
  // Records "what: errno" in the results and stops the thread.
  void fail(const std::string& what, long ret);
  void count(const std::string& counter, std::uint64_t n) {
    if (info_.results) info_.results->add_counter(counter, n);
  }

 private:
  ThreadInfo info_;
  bool failed_ = false;
};

}  // namespace numasim::workloads
