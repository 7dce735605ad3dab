// File streaming (kind = "file_stream"): a reader and/or writer of one file
// through the file system calls (os/fs.h), the way `dd`, `cp` or fio's psync
// engine drive the page cache: sequential or random requests of request_size,
// buffered (read/write for sequential, pread64/pwrite64 for random) or through
// a shared file mapping (mmap(MAP_SHARED, fd): loads or stores every
// touch_stride bytes of each request).
//
// Each thread opens the file itself (its own struct file and readahead state)
// and works on its share of `size` (thread i: [i * size / threads, ...)).
// Keys: path (required; an [[os.file]] or, with create = true, a new file);
// size (bytes covered; default: the file's size at open, found with lseek
// SEEK_END); access = "sequential" | "random"; op = "read" | "write" |
// "readwrite" (write_fraction of the requests write, default 0.5); io =
// "buffered" | "mmap"; request_size ("128KiB"); passes (1); requests (random:
// per pass, default size / request_size); fadvise = "none" | "normal" |
// "sequential" | "random" | "willneed" | "dontneed" (posix_fadvise over the
// share after open); fsync_every (write requests between fsyncs, 0: none);
// fsync_at_end (true: fsync after the last pass when anything was written);
// create (O_CREAT); compute_cycles (work after each request); touch_stride
// ("4KiB": the program reads the buffer after a read and fills it before a
// write, one access per touch_stride bytes; in mmap mode it accesses the
// mapping so).
// Results: bytes_read, bytes_written, requests, fsyncs, pass<N>_ns (each
// pass's simulated time), pass<N>_steady_ns and pass<N>_steady_bytes (the pass
// after its first eighth: the throughput once readahead has ramped up).
// Simplified: the kernel does not access the user buffer (it times the copy on
// the page-cache side); no O_DIRECT.
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct FileStreamParams {
  enum class Access : std::uint8_t { Sequential, Random };
  enum class Io : std::uint8_t { Buffered, Mmap };
  std::string path;
  std::uint64_t size_bytes = 0;  // 0: the file's size at open
  std::uint64_t request_bytes = 128 * 1024;
  Access access = Access::Sequential;
  Io io = Io::Buffered;
  double write_fraction = 0.0;  // op: read 0, write 1, readwrite (default 0.5)
  std::uint32_t passes = 1;
  std::uint64_t requests = 0;  // random: requests per pass (0: size / request_size)
  int fadvise = -1;            // POSIX_FADV_* after open (-1: none)
  std::uint32_t fsync_every = 0;
  bool fsync_at_end = true;
  bool create = false;
  std::uint32_t compute_cycles = 0;
  std::uint64_t touch_stride = 4096;

  static FileStreamParams from_config(Config cfg);
};

class FileStreamSource final : public Generator {
 public:
  FileStreamSource(ThreadInfo info, const FileStreamParams& p);
  double progress() const override;
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return pass_ >= p_.passes; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  void end_pass(hw::ThreadContext& ctx);
  bool touch_range(hw::OpBatch& batch, VirtAddr base, bool write);
  bool do_syscall(hw::ThreadContext& ctx);
  enum class Phase : std::uint8_t { Start, Before, Call, After, Done };
  Phase phase_ = Phase::Start;
  FileStreamParams p_;
  Rng rng_;
  std::uint64_t write_threshold_ = 0;
  int fd_ = -1;
  VirtAddr buf_ = 0, map_ = 0;
  std::uint64_t map_len_ = 0;
  std::uint64_t start_ = 0, share_ = 0;  // this thread's part of the file
  std::uint64_t nreq_ = 0;               // requests per pass
  std::uint32_t pass_ = 0;
  std::uint64_t req_ = 0;         // requests done in this pass
  std::uint64_t touch_pos_ = 0;   // accesses emitted of the current request
  std::uint64_t cur_off_ = 0, cur_len_ = 0;
  bool cur_write_ = false;
  std::uint64_t writes_since_fsync_ = 0;
  std::uint64_t bytes_read_ = 0, bytes_written_ = 0, fsyncs_ = 0, requests_done_ = 0;
  std::uint64_t pass_bytes_ = 0, steady_bytes0_ = 0;
  Picoseconds pass_start_{0}, steady_start_{0};
  bool steady_started_ = false;
};

void build_file_stream(WorkloadBuild& b);

}  // namespace numasim::workloads
