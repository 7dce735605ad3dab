// Database-like generator: buffer-pool lookups, table reads on a miss,
// write-back on eviction, redo-log appends with group-commit fsync.
#include "workloads/database_workload.h"

#include <algorithm>

#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

DatabaseParams DatabaseParams::from_config(Config cfg) {
  DatabaseParams p;
  p.table = cfg.require<std::string>("table", "the table file: an [[os.file]] path");
  if (cfg.has("table") && p.table.empty()) cfg.error("table", "expected a non-empty path");
  p.table_mmap = cfg.get_choice("table_io", "mmap", {"pread", "mmap"},
                                "how table pages are read: loads through a MAP_SHARED mapping, or pread64") == "mmap";
  p.page_bytes = cfg.get<Bytes>("page_size", Bytes(p.page_bytes), "bytes per table page",
                                {Bytes(512), Bytes(1ull << 30)})
                     .value();
  p.pool_bytes = cfg.get<Bytes>("buffer_pool", Bytes(p.pool_bytes), "anonymous buffer pool (all threads)",
                                {Bytes(4096), std::nullopt})
                     .value();
  p.log = cfg.get<std::string>("log", p.log, "redo log path (created)");
  if (p.log.empty()) cfg.error("log", "expected a non-empty path");
  if (p.log == p.table && !p.table.empty()) cfg.error("log", "the log must not be the table");
  p.transactions = cfg.get<std::uint64_t>("transactions", p.transactions, "transactions per thread");
  p.reads_per_txn = cfg.get<std::uint32_t>("reads_per_txn", p.reads_per_txn, "table pages accessed per transaction",
                                           {1u, 1u << 20});
  p.write_fraction = cfg.get<double>("write_fraction", p.write_fraction, "share of the pages read that are modified",
                                     {0.0, 1.0});
  p.log_record_bytes = cfg.get<Bytes>("log_record", Bytes(p.log_record_bytes),
                                      "log bytes per modified page and per commit", {Bytes(1), Bytes(1ull << 20)})
                           .value();
  p.commit_every = cfg.get<std::uint32_t>("commit_every", p.commit_every, "transactions per log fsync (0: never)");
  p.hot_fraction = cfg.get<double>("hot_fraction", p.hot_fraction, "share of the table that is hot", {0.0, 1.0});
  p.hot_share = cfg.get<double>("hot_share", p.hot_share, "share of the accesses that go to the hot part", {0.0, 1.0});
  p.compute_cycles = cfg.get<std::uint32_t>("compute_cycles", p.compute_cycles, "cycles of work per page access");
  p.touch_stride = cfg.get<Bytes>("touch_stride", Bytes(p.touch_stride), "bytes between accesses of a frame",
                                  {Bytes(8), std::nullopt})
                       .value();
  return p;
}

DatabaseSource::DatabaseSource(ThreadInfo info, const DatabaseParams& p)
    : Generator(std::move(info)),
      p_(p),
      rng_(derive_seed(this->info().seed, static_cast<std::uint64_t>(this->info().index), 0xDB)),
      write_threshold_(ratio_threshold(p.write_fraction)),
      hot_threshold_(ratio_threshold(p.hot_share)) {}

void DatabaseSource::setup(hw::ThreadContext& ctx) {
  const long tfd = ctx.sys_open(p_.table, p_.table_mmap || p_.write_fraction > 0 ? abi::kORdwr : abi::kORdonly, 0);
  if (tfd < 0) return fail("open(\"" + p_.table + "\")", tfd);
  table_fd_ = static_cast<int>(tfd);
  const long end = ctx.sys_lseek(table_fd_, 0, abi::kSeekEnd);
  if (end < 0) return fail("lseek(SEEK_END) of \"" + p_.table + "\"", end);
  table_bytes_ = static_cast<std::uint64_t>(end);
  table_pages_ = table_bytes_ / p_.page_bytes;
  if (!table_pages_) return fail("\"" + p_.table + "\" is smaller than one page: its size", -22);
  const long lfd = ctx.sys_open(p_.log, abi::kOWronly | abi::kOCreat | abi::kOAppend, 0644);
  if (lfd < 0) return fail("open(\"" + p_.log + "\", O_CREAT|O_APPEND)", lfd);
  log_fd_ = static_cast<int>(lfd);
  const std::uint64_t share = p_.pool_bytes / static_cast<std::uint64_t>(info().count);
  frames_ = std::max<std::uint64_t>(1, share / p_.page_bytes);
  pool_ = map_anon(ctx, frames_ * p_.page_bytes);
  if (!pool_) return;
  log_buf_bytes_ = (p_.log_record_bytes * (p_.reads_per_txn + 1) + 4095) / 4096 * 4096;
  log_buf_ = map_anon(ctx, log_buf_bytes_);
  if (!log_buf_) return;
  if (p_.table_mmap) {
    const long m = ctx.sys_mmap(0, (table_bytes_ + 4095) / 4096 * 4096, abi::kProtRead | abi::kProtWrite,
                                abi::kMapShared, table_fd_, 0);
    if (m < 0)
      return fail("mmap(MAP_SHARED) of \"" + p_.table + "\" (fd " + std::to_string(table_fd_) + ", returned " +
                      std::to_string(m) + ")",
                  m);
    table_map_ = static_cast<VirtAddr>(m);
  }
  tag_.assign(frames_, 0);
  dirty_.assign(frames_, 0);
  start_ = ctx.now();
}

std::uint64_t DatabaseSource::pick_page() {
  const std::uint64_t hot = std::clamp<std::uint64_t>(
      static_cast<std::uint64_t>(p_.hot_fraction * static_cast<double>(table_pages_)), 0, table_pages_);
  if (hot && hot < table_pages_) {
    if (rng_.next() < hot_threshold_) return rng_.below(hot);
    return hot + rng_.below(table_pages_ - hot);
  }
  return rng_.below(table_pages_);
}

bool DatabaseSource::load_frame(hw::ThreadContext& ctx, std::uint64_t frame, std::uint64_t page) {
  const VirtAddr fa = pool_ + frame * p_.page_bytes;
  if (tag_[frame] && dirty_[frame]) {  // write the evicted page back
    const std::uint64_t old = tag_[frame] - 1;
    if (!table_map_) {
      const long r = ctx.sys_pwrite64(table_fd_, fa, p_.page_bytes, static_cast<std::int64_t>(old * p_.page_bytes));
      if (r < 0) {
        fail("pwrite64 of table page " + std::to_string(old), r);
        return false;
      }
    }
    ++written_back_;
  }
  if (!table_map_) {
    const long r = ctx.sys_pread64(table_fd_, fa, p_.page_bytes, static_cast<std::int64_t>(page * p_.page_bytes));
    if (r < 0) {
      fail("pread64 of table page " + std::to_string(page), r);
      return false;
    }
  }
  tag_[frame] = page + 1;
  dirty_[frame] = 0;
  return true;
}

void DatabaseSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  while (txn_ < p_.transactions && !batch.full()) {
    if (access_ < p_.reads_per_txn) {
      if (!in_access_) {
        // mmap mode: a miss's accesses through the mapping (at most 64 per page) fit in one batch.
        const std::uint64_t map_stride = std::max<std::uint64_t>(4096, p_.page_bytes / 64);
        const std::uint64_t map_n = (p_.page_bytes + map_stride - 1) / map_stride;
        if (table_map_ && batch.room() < 2 * map_n) return;
        const std::uint64_t page = pick_page();
        cur_frame_ = page % frames_;
        cur_write_ = write_threshold_ && rng_.next() < write_threshold_;
        last_was_miss_ = tag_[cur_frame_] != page + 1;
        if (!last_was_miss_) {
          ++hits_;
        } else {
          ++misses_;
          const bool was_dirty = tag_[cur_frame_] && dirty_[cur_frame_];
          const std::uint64_t old = tag_[cur_frame_] - 1;
          if (!load_frame(ctx, cur_frame_, page)) return;
          if (table_map_) {  // mmap: the eviction's stores and the miss's loads go through the mapping
            for (std::uint64_t i = 0; i < map_n; ++i) {
              if (was_dirty) touch(batch, table_map_ + old * p_.page_bytes + i * map_stride, true);
              touch(batch, table_map_ + page * p_.page_bytes + i * map_stride, false);
            }
          }
        }
        if (cur_write_) {
          dirty_[cur_frame_] = 1;
          ++modified_;
        }
        in_access_ = true;
        touch_pos_ = 0;
        // After a read from the table the batch ends, so that the read's I/O wait
        // blocks the task (hw::Core runs other tasks meanwhile).
        if (!table_map_ && batch.empty() && tag_[cur_frame_] == page + 1 && last_was_miss_) return;
      }
      const VirtAddr fa = pool_ + cur_frame_ * p_.page_bytes;
      const std::uint64_t n = (p_.page_bytes + p_.touch_stride - 1) / p_.touch_stride;
      while (touch_pos_ < n && !batch.full()) {
        // A modified page: its first quarter is written, the rest read.
        touch(batch, fa + touch_pos_ * p_.touch_stride, cur_write_ && touch_pos_ * 4 < n);
        ++touch_pos_;
      }
      if (touch_pos_ < n) return;
      if (p_.compute_cycles) {
        if (batch.full()) return;
        batch.compute(p_.compute_cycles);
      }
      in_access_ = false;
      ++access_;
      continue;
    }
    // Commit: the log records of the modified pages and of the commit itself.
    const std::uint64_t bytes = p_.log_record_bytes * (modified_ + 1);
    const long r = ctx.sys_write(log_fd_, log_buf_, bytes);
    if (r < 0) return fail("write of the log", r);
    log_bytes_ += static_cast<std::uint64_t>(r);
    ++txn_;
    access_ = 0;
    modified_ = 0;
    if (p_.commit_every && txn_ % p_.commit_every == 0) {
      const long f = ctx.sys_fdatasync(log_fd_);
      if (f < 0) return fail("fdatasync of the log", f);
      ++fsyncs_;
    }
    return;  // the commit's waits block the task at the end of the batch
  }
}

void DatabaseSource::teardown(hw::ThreadContext& ctx) {
  if (txn_) count("run_ns", (ctx.now() - start_).value() / 1000);
  if (table_map_) ctx.sys_munmap(table_map_, (table_bytes_ + 4095) / 4096 * 4096);
  if (pool_) ctx.sys_munmap(pool_, frames_ * p_.page_bytes);
  if (log_buf_) ctx.sys_munmap(log_buf_, log_buf_bytes_);
  if (log_fd_ >= 0) ctx.sys_close(log_fd_);
  if (table_fd_ >= 0) ctx.sys_close(table_fd_);
  count("transactions", txn_);
  count("page_hits", hits_);
  count("page_misses", misses_);
  count("pages_written_back", written_back_);
  count("log_bytes", log_bytes_);
  count("fsyncs", fsyncs_);
}

void build_database(WorkloadBuild& b) {
  DatabaseParams p = DatabaseParams::from_config(b.cfg);
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p] { return std::make_unique<DatabaseSource>(info, p); };
  }
}

}  // namespace numasim::workloads
