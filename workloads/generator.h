// The common frame of every synthetic generator: the thread's identity in its
// workload, installing the workload's memory policy when the thread starts
// (as numactl does before exec), mapping anonymous memory, recording a failed
// system call in the workload's results and stopping the thread, and regions
// shared by the threads of one workload (the first thread to start maps it,
// the others use the same address: they share one mm).
// Subclasses implement setup() and emit(); emit() appends whole runs of ops in
// tight loops (no virtual call per op).
//
// Verify mode ("nothing lost", ThreadInfo::verify): the generator remembers a
// write generation per 4 KiB page of the regions it mapped (map_anon, or
// verify_track); every store it emits through touch() writes the page's next
// token, a deterministic function of the process (workload name and seed), the
// virtual page and the generation, and every load checks the last token written
// (0 for a page never written: a fresh or zero page). The core stores and checks
// the tokens in the kernel's PageTokens (hw::Core::verify_access).
// Simplified: pages of shared regions (map_shared_region) are not verified (their
// threads' ops interleave in an order no single thread knows).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  bool verify = false;  // verify mode (see above)
  std::shared_ptr<WorkloadResults> results;  // may be null in unit tests
};

// The token a store of write generation `gen` (>= 1) leaves in virtual page `vpn`
// of process `process` (never 0: 0 is a cleared page).
std::uint64_t page_token(std::uint64_t process, std::uint64_t vpn, std::uint64_t gen);
// A process identity for page_token: from the workload's name and seed.
std::uint64_t verify_process_id(const std::string& workload, std::uint64_t seed);

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

  // An 8-byte store or load at addr: with verify mode on and addr in a tracked
  // region, it writes or checks the page's token.
  void touch(hw::OpBatch& batch, VirtAddr addr, bool write) {
    if (!info_.verify) [[likely]] {
      if (write)
        batch.store(addr, 8);
      else
        batch.load(addr, 8);
      return;
    }
    touch_verified(batch, addr, write);
  }
  bool verify() const { return info_.verify; }
  // Verify mode: remember generations for [base, base+bytes) (a fresh mapping:
  // every page 0); map_anon does it. verify_untrack forgets the regions that
  // overlap [base, base+bytes) (call it at munmap).
  void verify_track(VirtAddr base, std::uint64_t bytes);
  void verify_untrack(VirtAddr base, std::uint64_t bytes);
  // Verify mode: stores and loads emitted with tokens so far.
  std::uint64_t verified_stores() const { return vstores_; }
  std::uint64_t verified_loads() const { return vloads_; }
  // Verify mode: adds verified_stores and verified_loads to the results (at teardown).
  void count_verified() {
    if (!info_.verify) return;
    count("verified_stores", vstores_);
    count("verified_loads", vloads_);
  }

 private:
  void touch_verified(hw::OpBatch& batch, VirtAddr addr, bool write);

  ThreadInfo info_;
  bool failed_ = false;
  struct VerifyRegion {
    VirtAddr base = 0;
    VirtAddr end = 0;
    std::vector<std::uint32_t> gen;  // per page: stores so far
  };
  std::vector<VerifyRegion> vregions_;
  std::size_t vlast_ = 0;  // region of the last touch
  std::uint64_t vprocess_ = 0;
  std::uint64_t vstores_ = 0, vloads_ = 0;
};

}  // namespace numasim::workloads
