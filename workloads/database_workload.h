// A database-like mix (kind = "database"): the three kinds of memory an OLTP
// engine such as InnoDB or PostgreSQL uses, with their system calls.
//  - A buffer pool of anonymous memory (buffer_pool, split among the threads):
//    table pages cached in frames, looked up direct-mapped by page number
//    (page mod frames); a hit reads the frame, a modified page is written in it.
//  - A table file (table: an [[os.file]]) read on a miss by loads through a
//    MAP_SHARED mapping of the table (table_io = "mmap", the default, as issue
//    12 asks: filemap_fault, major faults, Mapped in meminfo), or into a frame
//    with pread64 of page_size (table_io = "pread"); a dirty frame evicted is
//    written back by stores through the mapping (pwrite64 in pread mode).
//  - A redo log (log: created with O_CREAT|O_APPEND) appended with write() of
//    log_record bytes per modified page plus one per transaction, made durable
//    with fsync every commit_every transactions (group commit).
// Page numbers: hot_fraction of the table gets hot_share of the accesses (both
// uniform inside). Keys: table (required), table_io, page_size ("16KiB"),
// buffer_pool ("256MiB"), log ("/db/redo.log"), transactions (per thread,
// 10000), reads_per_txn (4), write_fraction (0.2: share of read pages
// modified), log_record ("512B"), commit_every (1), hot_fraction (0.2),
// hot_share (0.8), compute_cycles (2000 per page access), touch_stride ("256B":
// bytes between accesses of a frame).
// Results: transactions, page_hits, page_misses, pages_written_back,
// log_bytes, fsyncs, run_ns.
// Both modes pick the same pages from the same seed: the same transactions,
// hits and misses (only the kernel work differs).
// Simplified: no locking, B-tree or checkpointer (dirty pages leave the pool
// only on eviction); the table's size is fixed; in mmap mode a miss touches
// the table page through the mapping (at most 64 accesses per page) rather
// than copying it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/generator.h"
#include "workloads/rng.h"

namespace numasim::workloads {

struct WorkloadBuild;

struct DatabaseParams {
  std::string table, log = "/db/redo.log";
  bool table_mmap = true;
  std::uint64_t page_bytes = 16 * 1024;
  std::uint64_t pool_bytes = 256ull << 20;
  std::uint64_t transactions = 10000;
  std::uint32_t reads_per_txn = 4;
  double write_fraction = 0.2;
  std::uint64_t log_record_bytes = 512;
  std::uint32_t commit_every = 1;
  double hot_fraction = 0.2, hot_share = 0.8;
  std::uint32_t compute_cycles = 2000;
  std::uint64_t touch_stride = 256;

  static DatabaseParams from_config(Config cfg);
};

class DatabaseSource final : public Generator {
 public:
  DatabaseSource(ThreadInfo info, const DatabaseParams& p);
  double progress() const override {
    return p_.transactions ? static_cast<double>(txn_) / static_cast<double>(p_.transactions) : 1.0;
  }

 protected:
  void setup(hw::ThreadContext& ctx) override;
  void emit(hw::OpBatch& batch, hw::ThreadContext& ctx) override;
  bool finished() const override { return txn_ >= p_.transactions; }
  void teardown(hw::ThreadContext& ctx) override;

 private:
  std::uint64_t pick_page();
  // A miss: evict the frame's page (written back when dirty), read `page` into it.
  bool load_frame(hw::ThreadContext& ctx, std::uint64_t frame, std::uint64_t page);

  DatabaseParams p_;
  Rng rng_;
  std::uint64_t write_threshold_ = 0, hot_threshold_ = 0;
  int table_fd_ = -1, log_fd_ = -1;
  VirtAddr pool_ = 0, table_map_ = 0, log_buf_ = 0;
  std::uint64_t frames_ = 0, table_pages_ = 0, table_bytes_ = 0, log_buf_bytes_ = 0;
  std::vector<std::uint64_t> tag_;  // per frame: page + 1 (0: empty)
  std::vector<std::uint8_t> dirty_;
  std::uint64_t txn_ = 0;
  std::uint32_t access_ = 0;         // page accesses done in this transaction
  std::uint32_t modified_ = 0;       // pages modified in this transaction
  std::uint64_t touch_pos_ = 0;      // accesses emitted of the current frame
  std::uint64_t cur_frame_ = 0;
  bool cur_write_ = false, in_access_ = false, last_was_miss_ = false;
  std::uint64_t hits_ = 0, misses_ = 0, written_back_ = 0, log_bytes_ = 0, fsyncs_ = 0;
  Picoseconds start_{0};
};

void build_database(WorkloadBuild& b);

}  // namespace numasim::workloads
