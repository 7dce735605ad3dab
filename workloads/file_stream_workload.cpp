// File streaming generator: open, per-request read/write (or mapped accesses),
// fsync, per-pass timing.
#include "workloads/file_stream_workload.h"

#include <algorithm>

#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

FileStreamParams FileStreamParams::from_config(Config cfg) {
  FileStreamParams p;
  p.path = cfg.require<std::string>("path", "the file: an [[os.file]] path, or a new one with create = true");
  if (cfg.has("path") && p.path.empty()) cfg.error("path", "expected a non-empty path");
  p.size_bytes = cfg.get<Bytes>("size", Bytes(0), "bytes of the file covered (0: its size at open)").value();
  p.request_bytes = cfg.get<Bytes>("request_size", Bytes(p.request_bytes), "bytes per read/write request",
                                   {Bytes(1), Bytes(0x7ffff000)})
                        .value();
  p.access = cfg.get_choice("access", "sequential", {"sequential", "random"}, "request order") == "random"
                 ? Access::Random
                 : Access::Sequential;
  p.io = cfg.get_choice("io", "buffered", {"buffered", "mmap"}, "read/write system calls or a shared file mapping") ==
                 "mmap"
             ? Io::Mmap
             : Io::Buffered;
  const std::string op = cfg.get_choice("op", "read", {"read", "write", "readwrite"}, "what the requests do");
  p.write_fraction = op == "read" ? 0.0 : op == "write" ? 1.0 : 0.5;
  if (cfg.has("write_fraction")) {
    if (op != "readwrite") cfg.error("write_fraction", "only with op = \"readwrite\"");
    p.write_fraction = cfg.get<double>("write_fraction", 0.5, "share of the requests that write", {0.0, 1.0});
  }
  p.passes = cfg.get<std::uint32_t>("passes", 1, "passes over the file", {1u, std::nullopt});
  p.requests = cfg.get<std::uint64_t>("requests", 0, "random access: requests per pass (0: size / request_size)");
  if (cfg.has("requests") && p.access != Access::Random) cfg.error("requests", "only with access = \"random\"");
  const std::string adv = cfg.get_choice("fadvise", "none",
                                         {"none", "normal", "random", "sequential", "willneed", "dontneed"},
                                         "posix_fadvise over the thread's share after open");
  static const char* const kAdv[] = {"normal", "random", "sequential", "willneed", "dontneed"};
  for (int i = 0; i < 5; ++i)
    if (adv == kAdv[i]) p.fadvise = i;  // POSIX_FADV_NORMAL .. POSIX_FADV_DONTNEED
  p.fsync_every = cfg.get<std::uint32_t>("fsync_every", 0, "write requests between fsyncs (0: none)");
  p.fsync_at_end = cfg.get<bool>("fsync_at_end", true, "fsync after the last pass when anything was written");
  p.create = cfg.get<bool>("create", p.write_fraction > 0, "open with O_CREAT");
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", 0, "cycles of work after each request");
  p.touch_stride = cfg.get<Bytes>("touch_stride", Bytes(4096),
                                  "bytes between the program's accesses of its buffer (mmap: of the mapping)",
                                  {Bytes(8), std::nullopt})
                       .value();
  return p;
}

FileStreamSource::FileStreamSource(ThreadInfo info, const FileStreamParams& p)
    : Generator(std::move(info)),
      p_(p),
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0xF11E)),
      write_threshold_(ratio_threshold(p.write_fraction)) {}

double FileStreamSource::progress() const {
  if (pass_ >= p_.passes) return 1.0;
  const double in_pass = nreq_ ? static_cast<double>(req_) / static_cast<double>(nreq_) : 0.0;
  return (static_cast<double>(pass_) + in_pass) / static_cast<double>(p_.passes);
}

void FileStreamSource::setup(hw::ThreadContext& ctx) {
  int flags = p_.write_fraction <= 0 ? abi::kORdonly : p_.write_fraction >= 1 && p_.io == FileStreamParams::Io::Buffered
                                                           ? abi::kOWronly
                                                           : abi::kORdwr;
  if (p_.create) flags |= abi::kOCreat;
  const long fd = ctx.sys_open(p_.path, flags, 0644);
  if (fd < 0) return fail("open(\"" + p_.path + "\")", fd);
  fd_ = static_cast<int>(fd);
  std::uint64_t size = p_.size_bytes;
  if (!size) {
    const long end = ctx.sys_lseek(fd_, 0, abi::kSeekEnd);
    if (end < 0) return fail("lseek(SEEK_END) of \"" + p_.path + "\"", end);
    size = static_cast<std::uint64_t>(end);
    if (!size) return fail("\"" + p_.path + "\" is empty and no size was given: size", -22);
  }
  const auto threads = static_cast<std::uint64_t>(info().count), me = static_cast<std::uint64_t>(info().index);
  const std::uint64_t per = size / threads / 4096 * 4096;
  start_ = per * me;
  share_ = me + 1 == threads ? size - start_ : per;
  if (!share_) return fail("a share of \"" + p_.path + "\" (size below 4 KiB per thread)", -22);
  nreq_ = (share_ + p_.request_bytes - 1) / p_.request_bytes;
  if (p_.access == FileStreamParams::Access::Random && p_.requests) nreq_ = p_.requests;
  if (p_.fadvise >= 0) {
    const long r = ctx.sys_fadvise64(fd_, static_cast<std::int64_t>(start_), static_cast<std::int64_t>(share_),
                                     p_.fadvise);
    if (r < 0) return fail("fadvise64", r);
  }
  if (p_.io == FileStreamParams::Io::Mmap) {
    map_len_ = (share_ + 4095) / 4096 * 4096;
    const int prot = abi::kProtRead | (p_.write_fraction > 0 ? abi::kProtWrite : 0);
    const long m = ctx.sys_mmap(0, map_len_, prot, abi::kMapShared, fd_, start_);
    if (m < 0) {
      map_len_ = 0;
      return fail("mmap(MAP_SHARED) of \"" + p_.path + "\" (fd " + std::to_string(fd_) + ", returned " +
                      std::to_string(m) + ")",
                  m);
    }
    map_ = static_cast<VirtAddr>(m);
  } else {
    buf_ = map_anon(ctx, (p_.request_bytes + 4095) / 4096 * 4096);
    if (!buf_) return;
  }
  pass_start_ = ctx.now();
}

void FileStreamSource::end_pass(hw::ThreadContext& ctx) {
  const Picoseconds now = ctx.now();
  const std::string n = "pass" + std::to_string(pass_);
  count(n + "_ns", (now - pass_start_).value() / 1000);
  if (steady_started_) {
    count(n + "_steady_ns", (now - steady_start_).value() / 1000);
    count(n + "_steady_bytes", pass_bytes_ - steady_bytes0_);
  }
  ++pass_;
  req_ = 0;
  pass_bytes_ = 0;
  steady_started_ = false;
  pass_start_ = now;
}

// A request: (buffered write) the buffer filled, the system call, (buffered
// read) the buffer consumed; in mmap mode the accesses through the mapping.
// Accesses touch every touch_stride bytes; a full batch resumes where it stopped.
bool FileStreamSource::touch_range(hw::OpBatch& batch, VirtAddr base, bool write) {
  const std::uint64_t n = (cur_len_ + p_.touch_stride - 1) / p_.touch_stride;
  while (touch_pos_ < n && !batch.full()) {
    touch(batch, base + touch_pos_ * p_.touch_stride, write);
    ++touch_pos_;
  }
  return touch_pos_ == n;
}

bool FileStreamSource::do_syscall(hw::ThreadContext& ctx) {
  const bool seq = p_.access == FileStreamParams::Access::Sequential;
  const auto pos = static_cast<std::int64_t>(start_ + cur_off_);
  long r;
  if (seq) {
    if (req_ == 0) {
      const long s = ctx.sys_lseek(fd_, pos, abi::kSeekSet);
      if (s < 0) return fail("lseek", s), false;
    }
    r = cur_write_ ? ctx.sys_write(fd_, buf_, cur_len_) : ctx.sys_read(fd_, buf_, cur_len_);
  } else {
    r = cur_write_ ? ctx.sys_pwrite64(fd_, buf_, cur_len_, pos) : ctx.sys_pread64(fd_, buf_, cur_len_, pos);
  }
  if (r < 0) {
    fail(std::string(cur_write_ ? (seq ? "write" : "pwrite64") : (seq ? "read" : "pread64")) + " at " +
             std::to_string(pos),
         r);
    return false;
  }
  if (seq && static_cast<std::uint64_t>(r) < cur_len_) {
    // A short read (the file shrank below the share): keep the position where the next request expects it.
    const long s = ctx.sys_lseek(fd_, pos + static_cast<std::int64_t>(cur_len_), abi::kSeekSet);
    if (s < 0) return fail("lseek", s), false;
  }
  (cur_write_ ? bytes_written_ : bytes_read_) += static_cast<std::uint64_t>(r);
  pass_bytes_ += static_cast<std::uint64_t>(r);
  return true;
}

void FileStreamSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  const bool seq = p_.access == FileStreamParams::Access::Sequential;
  const bool mmap = p_.io == FileStreamParams::Io::Mmap;
  while (pass_ < p_.passes && !batch.full()) {
    if (req_ == nreq_) {
      end_pass(ctx);
      continue;
    }
    if (phase_ == Phase::Start) {
      if (!steady_started_ && req_ && req_ * 8 >= nreq_) {  // the pass after its first eighth
        steady_started_ = true;
        steady_start_ = ctx.now();
        steady_bytes0_ = pass_bytes_;
      }
      const std::uint64_t slot = seq ? req_ : rng_.below((share_ + p_.request_bytes - 1) / p_.request_bytes);
      cur_off_ = slot * p_.request_bytes;
      cur_len_ = std::min(p_.request_bytes, share_ - cur_off_);
      cur_write_ = write_threshold_ && rng_.next() < write_threshold_;
      touch_pos_ = 0;
      phase_ = mmap || cur_write_ ? Phase::Before : Phase::Call;
    }
    if (phase_ == Phase::Before) {
      if (!touch_range(batch, mmap ? map_ + cur_off_ : buf_, cur_write_)) return;
      touch_pos_ = 0;
      if (mmap) {
        (cur_write_ ? bytes_written_ : bytes_read_) += cur_len_;
        pass_bytes_ += cur_len_;
        phase_ = Phase::Done;
      } else {
        phase_ = Phase::Call;
      }
    }
    if (phase_ == Phase::Call) {
      if (!do_syscall(ctx)) return;
      phase_ = cur_write_ ? Phase::Done : Phase::After;
      // The batch ends at the call: a call that waited for I/O (a read from the
      // device, a dirty-throttled write) then blocks the task and its CPU runs
      // other tasks and kernel threads (the flusher) meanwhile (hw::Core).
      if (batch.empty()) return;
    }
    if (phase_ == Phase::After) {
      if (!touch_range(batch, buf_, false)) return;
      phase_ = Phase::Done;
    }
    if (p_.compute_cycles) {
      if (batch.full()) return;
      batch.compute(p_.compute_cycles);
    }
    phase_ = Phase::Start;
    ++req_;
    ++requests_done_;
    if (cur_write_ && p_.fsync_every && ++writes_since_fsync_ >= p_.fsync_every) {
      writes_since_fsync_ = 0;
      const long r = ctx.sys_fsync(fd_);
      if (r < 0) return fail("fsync", r);
      ++fsyncs_;
      return;  // as after every call: a wait blocks the task here
    }
  }
}

void FileStreamSource::teardown(hw::ThreadContext& ctx) {
  if (fd_ >= 0 && bytes_written_ && p_.fsync_at_end && !failed()) {
    const long r = ctx.sys_fsync(fd_);
    if (r < 0)
      fail("fsync", r);
    else
      ++fsyncs_;
  }
  if (map_) ctx.sys_munmap(map_, map_len_);
  if (buf_) {
    verify_untrack(buf_, (p_.request_bytes + 4095) / 4096 * 4096);
    ctx.sys_munmap(buf_, (p_.request_bytes + 4095) / 4096 * 4096);
  }
  if (fd_ >= 0) ctx.sys_close(fd_);
  fd_ = -1;
  count("bytes_read", bytes_read_);
  count("bytes_written", bytes_written_);
  count("fsyncs", fsyncs_);
  count("requests", requests_done_);
}

void build_file_stream(WorkloadBuild& b) {
  FileStreamParams p = FileStreamParams::from_config(b.cfg);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<FileStreamSource>(info, p); };
  }
}

}  // namespace numasim::workloads
