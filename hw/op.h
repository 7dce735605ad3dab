// The operation stream a simulated core executes, and the interface workload
// generators implement to produce it.
//
// A task's program is a stream of Ops (compute N cycles, load/store of `size`
// bytes at a virtual address, markers). Generators (workloads/) implement
// OpSource and hand the core whole batches: one virtual call per batch, the
// core then runs the batch without any virtual call or allocation per op.
//
// System calls are synchronous: inside fill() a generator calls e.g.
// ctx.sys_mmap(...) on its ThreadContext and reads the result before emitting
// the accesses that use it. Program order is kept: before a system call runs,
// the core executes the ops already appended to the current batch (the batch
// is then empty again), and the kernel's cost (cycles + memory traffic) is
// charged to the core.
//
// Simplifications: the simulator does not store user data. A generator whose
// next address depends on a loaded value (a pointer chase) computes the chain
// itself (it knows its permutation) and marks each such load `dependent`, which
// makes the core wait for the previous load before issuing it. No instruction
// fetch, no branch behaviour: compute ops stand for everything that is not a
// data memory access.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/units.h"

namespace numasim::hw {

enum class OpKind : std::uint8_t {
  Compute,  // `count` core cycles of non-memory work
  Load,     // read `count` bytes at `addr` (one access per cache line touched)
  Store,    // write `count` bytes at `addr`
  Marker,   // a point in the program (id in `count`): the core records its local time
};

inline constexpr std::uint8_t kOpDependent = 1u << 0;  // load: address depends on the previous load's value
// Verify mode ("nothing lost"): a load checks that the page it reaches holds
// the op's page identity token (OpBatch::token); a store, which leaves the rest
// of the page as it was, checks that the page holds the previous token
// (OpBatch::prev_token) and writes its own. The access must not cross a 4 KiB page.
inline constexpr std::uint8_t kOpVerify = 1u << 1;

// 16 bytes; a batch of them is a flat array.
struct Op {
  VirtAddr addr = 0;
  std::uint32_t count = 0;  // cycles (Compute), bytes (Load/Store), marker id (Marker)
  OpKind kind = OpKind::Compute;
  std::uint8_t flags = 0;
  std::uint16_t reserved = 0;

  bool dependent() const { return (flags & kOpDependent) != 0; }
};
static_assert(sizeof(Op) == 16);

// A fixed-capacity batch of ops, owned by the core and reused for every fill().
// Generators append with the helpers below and stop when full().
class OpBatch {
 public:
  static constexpr std::size_t kCapacity = 512;

  OpBatch() = default;
  OpBatch(const OpBatch& o) { *this = o; }
  // Copies only the ops in use (a batch is 16 KiB: a task blocked on I/O has
  // its batch saved and restored, which copied all of it).
  OpBatch& operator=(const OpBatch& o) {
    if (this == &o) return *this;
    size_ = o.size_;
    std::copy(o.ops_.begin(), o.ops_.begin() + static_cast<std::ptrdiff_t>(size_), ops_.begin());
    std::copy(o.tokens_.begin(), o.tokens_.begin() + static_cast<std::ptrdiff_t>(size_), tokens_.begin());
    std::copy(o.prev_tokens_.begin(), o.prev_tokens_.begin() + static_cast<std::ptrdiff_t>(size_),
              prev_tokens_.begin());
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == kCapacity; }
  std::size_t room() const { return kCapacity - size_; }
  void clear() { size_ = 0; }
  const Op& operator[](std::size_t i) const { return ops_[i]; }
  const Op* begin() const { return ops_.data(); }
  const Op* end() const { return ops_.data() + size_; }

  void push(const Op& op) {
    assert(size_ < kCapacity && "OpBatch overflow: check full() before appending");
    ops_[size_++] = op;
  }
  void compute(std::uint32_t cycles) { push(Op{0, cycles, OpKind::Compute, 0, 0}); }
  void load(VirtAddr addr, std::uint32_t size_bytes = 8, bool dependent = false) {
    push(Op{addr, size_bytes, OpKind::Load, dependent ? kOpDependent : std::uint8_t{0}, 0});
  }
  void store(VirtAddr addr, std::uint32_t size_bytes = 8) {
    push(Op{addr, size_bytes, OpKind::Store, 0, 0});
  }
  void marker(std::uint32_t id) { push(Op{0, id, OpKind::Marker, 0, 0}); }
  // Verify mode: a store that expects its page to hold `prev` and writes `token`,
  // a load that expects the page to hold `expected` (see kOpVerify).
  void store_verified(VirtAddr addr, std::uint64_t prev, std::uint64_t token, std::uint32_t size_bytes = 8) {
    tokens_[size_] = token;
    prev_tokens_[size_] = prev;
    push(Op{addr, size_bytes, OpKind::Store, kOpVerify, 0});
  }
  void load_verified(VirtAddr addr, std::uint64_t expected, std::uint32_t size_bytes = 8) {
    tokens_[size_] = expected;
    push(Op{addr, size_bytes, OpKind::Load, kOpVerify, 0});
  }
  // The token of op i and, for a store, the token it expects to replace
  // (meaningful only when the op has kOpVerify).
  std::uint64_t token(std::size_t i) const { return tokens_[i]; }
  std::uint64_t prev_token(std::size_t i) const { return prev_tokens_[i]; }

 private:
  std::array<Op, kCapacity> ops_{};
  std::size_t size_ = 0;
  std::array<std::uint64_t, kCapacity> tokens_{};       // verify tokens, parallel to ops_
  std::array<std::uint64_t, kCapacity> prev_tokens_{};  // verified stores: the token they replace
};

// What a generator may ask of the thread it runs on. Implemented by hw::Core;
// tests may implement it with a fake. Every call is synchronous and charges its
// cost to the thread's CPU. System calls take Linux's arguments and return what
// the raw system call returns (a value >= 0, or -errno).
class ThreadContext {
 public:
  virtual ~ThreadContext() = default;

  virtual CpuId cpu() const = 0;
  virtual NodeId node() const = 0;  // node of cpu()
  virtual int pid() const = 0;      // task id in the simulated kernel
  // The thread's local simulated time after every op appended so far has run
  // (flushes the current batch first, like a system call does).
  virtual Picoseconds now() = 0;
  // Runs the ops appended so far (empties the batch). Rarely needed: system calls
  // and now() do it.
  virtual void flush() = 0;

  // Memory management (mm/mmap.c, mm/mprotect.c, mm/madvise.c semantics).
  virtual long sys_mmap(VirtAddr addr, std::uint64_t len, int prot, int flags, int fd,
                        std::uint64_t offset) = 0;
  virtual long sys_munmap(VirtAddr addr, std::uint64_t len) = 0;
  virtual long sys_mprotect(VirtAddr addr, std::uint64_t len, int prot) = 0;
  virtual long sys_madvise(VirtAddr addr, std::uint64_t len, int advice) = 0;
  // msync(2) of a file mapping (mm/msync.c); -ENOSYS (-38) where not provided.
  virtual long sys_msync(VirtAddr, std::uint64_t, int) { return -38; }
  virtual long sys_brk(VirtAddr addr) = 0;
  // NUMA policy (mm/mempolicy.c): nodemasks as arrays of unsigned long, as in Linux.
  virtual long sys_mbind(VirtAddr addr, std::uint64_t len, int mode, const unsigned long* nodemask,
                         unsigned long maxnode, unsigned flags) = 0;
  virtual long sys_set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) = 0;
  virtual long sys_get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode,
                                 VirtAddr addr, unsigned long flags) = 0;
  // move_pages(2) for this task (pid 0).
  virtual long sys_move_pages(unsigned long count, const VirtAddr* pages, const int* nodes,
                              int* status, int flags) = 0;
  // Files (fs/open.c, fs/read_write.c, fs/sync.c, mm/fadvise.c; the model in os/fs.h):
  // Linux's arguments and returns. The buffer of read/write is range-checked by the
  // kernel but not accessed (data is not modelled). A call that waits for I/O (a
  // read missing the page cache, fsync, a dirty-throttled write) sleeps the task
  // (os::KernelCost::io_wait). Defaults: -ENOSYS (38), a context without files.
  virtual long sys_open(const std::string& path, int flags, unsigned mode) { return -38; }
  virtual long sys_creat(const std::string& path, unsigned mode) { return -38; }
  virtual long sys_close(int fd) { return -38; }
  virtual long sys_read(int fd, VirtAddr buf, std::uint64_t count) { return -38; }
  virtual long sys_write(int fd, VirtAddr buf, std::uint64_t count) { return -38; }
  virtual long sys_pread64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) { return -38; }
  virtual long sys_pwrite64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) { return -38; }
  virtual long sys_lseek(int fd, std::int64_t offset, int whence) { return -38; }
  virtual long sys_ftruncate(int fd, std::int64_t length) { return -38; }
  virtual long sys_fsync(int fd) { return -38; }
  virtual long sys_fdatasync(int fd) { return -38; }
  virtual long sys_unlink(const std::string& path) { return -38; }
  virtual long sys_fadvise64(int fd, std::int64_t offset, std::int64_t len, int advice) { return -38; }
  // shared memory (os/shmem.h): memfd_create (name nullptr: EFAULT), SysV shm; shmctl's
  // IPC_STAT reports the segment's size and attach count through the two outputs.
  virtual long sys_memfd_create(const char* name, unsigned flags) { return -38; }
  virtual long sys_shmget(int key, std::uint64_t size, int shmflg) { return -38; }
  virtual long sys_shmat(int shmid, VirtAddr addr, int shmflg) { return -38; }
  virtual long sys_shmdt(VirtAddr addr) { return -38; }
  virtual long sys_shmctl(int shmid, int cmd, std::uint64_t* segsz, std::uint64_t* nattch) { return -38; }
};

// A workload thread's program. The core calls start() once, then fill() until
// done(); fill() appends ops to an empty batch (at most batch.room()), and may
// make system calls through ctx. Returning with an empty batch while !done() is
// allowed (e.g. after only system calls) but a generator must make progress.
class OpSource {
 public:
  virtual ~OpSource() = default;

  virtual std::string name() const { return "ops"; }
  // Set-up on the task's CPU before the first fill (e.g. mmap its buffers).
  virtual void start(ThreadContext& ctx) {}
  // Appends the next ops; returns how many ops the batch holds on return.
  virtual std::size_t fill(OpBatch& batch, ThreadContext& ctx) = 0;
  // True when the program has nothing more to emit.
  virtual bool done() const = 0;
  // Fraction of the program emitted so far, 0..1 (for progress reports).
  virtual double progress() const { return done() ? 1.0 : 0.0; }
  // Tear-down on the task's CPU after the last op ran (e.g. munmap).
  virtual void finish(ThreadContext& ctx) {}
};

}  // namespace numasim::hw
