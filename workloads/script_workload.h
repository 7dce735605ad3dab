// Scripted scenarios: a workload (kind = "script", one thread) that runs a list
// of system calls and accesses written in TOML and records each call's outcome
// in order, for the run's JSON ("calls": [{"call": "mbind", "ret": -1,
// "errno": "EINVAL"}, ...]; errno by symbolic name, absent on success). Used by
// tests to pin kernel semantics and by users to reproduce a bug report.
//
//   [[workload.step]]
//   call = "mmap"            mmap | munmap | mprotect | madvise | touch | mbind |
//                            set_mempolicy | get_mempolicy | move_pages |
//                            read_counter | compute | open | creat | close |
//                            read | write | pread64 | pwrite64 | lseek |
//                            ftruncate | fsync | fdatasync | unlink | fadvise64 |
//                            memfd_create | shmget | shmat | shmdt | shmctl
//   as = "buf"               binds the result to $buf for later steps
//   len = "8KiB"             arguments by name; values are expressions (script_expr.h)
//
// Arguments (defaults in brackets):
//   mmap: addr [0], len, prot [PROT_READ|PROT_WRITE], flags [MAP_PRIVATE|MAP_ANONYMOUS], fd [-1], offset [0]
//   munmap: addr, len      mprotect: addr, len, prot      madvise: addr, len, advice
//   touch: addr, len [1], stride [4096], write (bool) [true]   (records bytes touched)
//   mbind: addr, len, flags [0], and policy = "bind:1" or mode + nodes ["", a
//          list like "0-1"] + maxnode [bits of the mask + 1]
//   set_mempolicy: policy, or mode + nodes + maxnode
//   get_mempolicy: addr [0], flags [0]   (records "mode" and "nodes")
//   move_pages: addr, count [1], stride [4096], nodes (list, one per page or one
//          for all; absent: query), flags [MPOL_MF_MOVE]   (records "status")
//   read_counter: counter (a name the run's counter reader knows; ENOSYS without one)
//   msync: addr, len, flags [MS_SYNC]
//   compute: cycles
//   files (os/fs.h; the buffer is range-checked, not accessed):
//   open: path, flags [O_RDONLY], mode [0644]     creat: path, mode [0644]
//   close, fsync, fdatasync: fd                   unlink: path
//   read, write: fd, buf, len                     pread64, pwrite64: fd, buf, len, offset
//   lseek: fd, offset, whence [SEEK_SET]          ftruncate: fd, len
//   fadvise64: fd, offset [0], len [0], advice (e.g. POSIX_FADV_DONTNEED)
//   shared memory (os/shmem.h; a memfd's fd takes the file calls and mmap MAP_SHARED):
//   memfd_create: name, flags [0]                 shmget: key [IPC_PRIVATE], len, flags [0]
//   shmat: shmid, addr [0], flags [0]             shmdt: addr
//   shmctl: shmid, cmd (IPC_STAT records "segsz" and "nattch"; IPC_RMID)
// Configuration errors (unknown call, missing argument, bad expression, $name
// not bound earlier) carry the step's file:line:column.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/policy_spec.h"
#include "workloads/script_expr.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct ScriptStep {
  enum class Call : std::uint8_t {
    Mmap,
    Munmap,
    Mprotect,
    Madvise,
    Touch,
    Mbind,
    SetMempolicy,
    GetMempolicy,
    MovePages,
    ReadCounter,
    Compute,
    Msync,
    // files (os/fs.h)
    Open,
    Creat,
    Close,
    Read,
    Write,
    Pread64,
    Pwrite64,
    Lseek,
    Ftruncate,
    Fsync,
    Fdatasync,
    Unlink,
    Fadvise64,
    // shared memory (os/shmem.h)
    MemfdCreate,
    Shmget,
    Shmat,
    Shmdt,
    Shmctl
  } call = Call::Compute;
  std::string name;    // as written
  int bind_slot = -1;  // `as` slot, -1 none
  ScriptExpr addr = ScriptExpr::constant(0), len = ScriptExpr::constant(0), prot = ScriptExpr::constant(0),
             flags = ScriptExpr::constant(0), mode = ScriptExpr::constant(0), stride = ScriptExpr::constant(4096),
             count = ScriptExpr::constant(1);
  std::optional<ScriptExpr> maxnode;
  std::vector<int> nodes;  // nodemask nodes, or move_pages targets
  bool has_nodes = false;
  bool write = true;
  std::string counter;
  std::string path;  // open, creat, unlink
  ScriptExpr fd = ScriptExpr::constant(-1), offset = ScriptExpr::constant(0);  // file calls
};

struct ScriptParams {
  std::vector<ScriptStep> steps;
  std::size_t slots = 0;

  static ScriptParams from_config(Config cfg, int num_nodes);
};

class ScriptSource final : public Generator {
 public:
  // counter_reader may point to an empty function (read_counter then returns -ENOSYS).
  ScriptSource(ThreadInfo info, const ScriptParams& p, std::shared_ptr<CounterReader> counter_reader);
  double progress() const override { return p_.steps.empty() ? 1.0 : static_cast<double>(step_) / p_.steps.size(); }

 protected:
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return step_ >= p_.steps.size(); }

 private:
  void record(const ScriptStep& s, long ret, std::vector<std::pair<std::string, std::string>> fields = {});
  ScriptParams p_;
  std::shared_ptr<CounterReader> counter_reader_;
  std::vector<std::int64_t> slots_;
  std::size_t step_ = 0;
  std::uint64_t touch_pos_ = 0;
};

void build_script(WorkloadBuild& b);

}  // namespace numasim::workloads
