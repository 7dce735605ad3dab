// Files and the page cache: a small extent-based file system on the block device
// (the inode/file/fd side of fs/ and ext2-like block allocation), the page cache
// of each inode (struct address_space with its i_pages index -> page or shadow,
// mm/filemap.c), ondemand readahead (mm/readahead.c) and dirty-page writeback
// (mm/page-writeback.c, fs/fs-writeback.c: balance_dirty_pages, the flusher).
// The system calls are Kernel members (os/kernel.h, fs_syscalls.cpp); this class
// holds the state and the mechanisms, with access to the Kernel's internals.
//
// Layout: one flat namespace of paths (no directories); a file's blocks (4 KiB)
// are extents allocated first-fit from the file system's region of the block
// device (the upper half of it, or [os.fs] start/size); holes read as zeroes
// without I/O. Blocks are allocated when write() first dirties a page beyond
// the allocated ones (no delayed allocation), so ENOSPC is reported by write.
// Data contents are not modelled (page tokens aside); the user buffer of
// read/write is not accessed (its copy is timed as kernel traffic on the
// page-cache side only).
// I/O: reads are submitted without waiting (submit_bio_nowait) and the page stays
// PG_locked until the device completes it; a reader that needs it waits for the
// completion (the wait is charged to its KernelCost as memory time, as swap-in
// does: no task blocking yet). Writes set PG_writeback until completion, ended by
// a per-CPU timer as swap writes are.
// Simplified: no directories, permissions, links, mtime/atime; fds are per
// process (tgid) and not inherited by fork; one block device (the `node` of a
// configured file is recorded, not used for placement); no large folios in the
// page cache; no shadow-node shrinker.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"
#include "os/platform.h"

namespace numasim {
class Config;
}

namespace numasim::os {

class Kernel;
struct page;
struct task_struct;
struct timer_list;

// open(2) flags (include/uapi/asm-generic/fcntl.h), lseek whence, fadvise advice.
inline constexpr int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3;
inline constexpr int O_CREAT = 0100, O_EXCL = 0200, O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000;
inline constexpr int O_NONBLOCK = 04000, O_DSYNC = 010000, O_DIRECT = 040000, O_LARGEFILE = 0100000;
inline constexpr int O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_NOATIME = 01000000, O_CLOEXEC = 02000000;
inline constexpr int O_SYNC = 04010000, O_PATH = 010000000, O_TMPFILE = 020200000;
// lseek whence (SEEK_*; OS_ prefixed: <cstdio> defines the macros)
inline constexpr int OS_SEEK_SET = 0, OS_SEEK_CUR = 1, OS_SEEK_END = 2, OS_SEEK_DATA = 3, OS_SEEK_HOLE = 4;
inline constexpr int POSIX_FADV_NORMAL = 0, POSIX_FADV_RANDOM = 1, POSIX_FADV_SEQUENTIAL = 2,
                     POSIX_FADV_WILLNEED = 3, POSIX_FADV_DONTNEED = 4, POSIX_FADV_NOREUSE = 5;
inline constexpr int kPathMax = 4096, kNameMax = 255;
inline constexpr int NR_OPEN_DEFAULT = 1024;  // RLIMIT_NOFILE's soft limit
// ext4's s_maxbytes with 4 KiB blocks (16 TiB less a block): EFBIG beyond it.
inline constexpr std::uint64_t MAX_FILE_SIZE = (1ull << 44) - 4096;
inline constexpr std::uint64_t MAX_RW_COUNT = 0x7ffff000;  // INT_MAX & PAGE_MASK

// [os.fs], [[os.file]] and the writeback knobs of [os.vm].
struct FsParams {
  struct FileSpec {
    std::string path;
    std::uint64_t size = 0;
    int node = 0;
    std::string origin;  // file:line:column of its table
  };
  std::vector<FileSpec> files;  // [[os.file]] path, size, node: files present at boot, all on disk
  std::uint64_t start_bytes = ~0ull;  // the region's start on the block device (~0: its upper half)
  std::uint64_t size_bytes = 0;       // the region's size (0: up to the device's end)
  unsigned read_ahead_kb = 128;       // /sys/block/<dev>/queue/read_ahead_kb
  // /sys/block/<dev>/queue/max_sectors_kb: the largest request (bdi->io_pages, Linux 6.1's
  // disk_update_readahead); Linux 6.1's default BLK_DEF_MAX_SECTORS (2560 sectors) when an
  // NVMe drive's MDTS allows it. Readahead for a request larger than the window grows up to
  // it; bios larger are split into requests of this size (bio_split_to_limits).
  unsigned max_sectors_kb = 1280;
  // /sys/block/<dev>/queue/max_segments: the most physically contiguous runs of memory one
  // request may carry (bio_split_to_limits splits a bio with more). Linux 6.1's NVMe PCI
  // driver sets NVME_MAX_SEGS = 127 (drivers/nvme/host/pci.c; its virt_boundary lifts the
  // segment-size limit, so contiguous pages merge into one segment): a readahead window of
  // scattered order-0 pages becomes requests of up to 127 pages that complete one by one.
  unsigned max_segments = 127;
  unsigned fault_around_bytes = 65536;  // /sys/kernel/mm/fault_around_bytes (file mmap not modelled yet)
  unsigned dirty_ratio = 20;              // vm.dirty_ratio
  unsigned dirty_background_ratio = 10;   // vm.dirty_background_ratio
  std::uint64_t dirty_bytes = 0;          // vm.dirty_bytes (overrides the ratio when set)
  std::uint64_t dirty_background_bytes = 0;
  // The flusher's period is [os.kthreads] dirty_writeback_interval (vm.dirty_writeback_centisecs).
  unsigned dirty_expire_centisecs = 3000;    // age at which dirty data is written by the flusher
  std::uint64_t max_pause_ms = 200;          // MAX_PAUSE of balance_dirty_pages
  // Costs, in cycles: a page-cache lookup/copy step and a bio's submission.
  std::uint64_t filemap_page_cycles = 150;  // per page through filemap_read/generic_perform_write
  std::uint64_t bio_cycles = 1500;          // building and submitting one bio
  std::uint64_t file_op_cycles = 300;       // open/close/lseek/unlink's VFS work (path walk, fd table)

  // The [os] table: [[os.file]], [os.fs] start, size, read_ahead_kb, fault_around_bytes,
  // [os.vm] dirty_*, [os.costs] filemap_page_cycles, bio_cycles, file_op_cycles.
  static FsParams from_config(Config os);
};

// struct file_ra_state (include/linux/fs.h).
struct file_ra_state {
  std::uint64_t start = 0;       // where readahead started
  unsigned size = 0;             // # of readahead pages
  unsigned async_size = 0;       // start next readahead when this many pages are left
  unsigned ra_pages = 32;        // maximum readahead window
  std::uint64_t prev_pos = ~0ull;  // cache last read() position
};

// One extent: logical block lblk..lblk+len at device block pblk (4 KiB blocks).
struct fs_extent {
  std::uint64_t lblk = 0, pblk = 0, len = 0;
};

// struct address_space's i_pages: an XArray-like radix of 64-slot nodes keyed
// by index >> 6. An entry is 0 (empty), a page's (PFN + 1) << 1, or a shadow
// value (bit 0 set, xa_is_value). Ordered, so walks are deterministic.
class PageIndex {
 public:
  static std::uint64_t page_entry(std::uint64_t pfn) { return (pfn + 1) << 1; }
  static std::uint64_t entry_pfn(std::uint64_t e) { return (e >> 1) - 1; }
  static constexpr unsigned kShift = 6;
  static constexpr std::uint64_t kSlots = 1ull << kShift;
  struct Node {
    std::uint64_t slots[kSlots] = {};
    unsigned count = 0;
  };
  std::uint64_t load(std::uint64_t index) const {
    const std::uint64_t key = index >> kShift;
    if (key != cached_key_) {
      auto it = nodes_.find(key);
      if (it == nodes_.end()) return 0;
      cached_key_ = key;
      cached_ = it->second.get();
    }
    return cached_->slots[index & (kSlots - 1)];
  }
  void store(std::uint64_t index, std::uint64_t entry);
  std::map<std::uint64_t, std::unique_ptr<Node>>& nodes() { return nodes_; }
  const std::map<std::uint64_t, std::unique_ptr<Node>>& nodes() const { return nodes_; }

 private:
  std::map<std::uint64_t, std::unique_ptr<Node>> nodes_;
  mutable std::uint64_t cached_key_ = ~0ull;
  mutable Node* cached_ = nullptr;
};

struct address_space {
  std::uint32_t id = 0;       // page->owner of its pages
  PageIndex i_pages;
  std::uint64_t nrpages = 0;  // pages in the cache
  std::uint64_t nr_dirty = 0;
  std::uint64_t nr_writeback = 0;
};

struct inode {
  std::uint64_t i_ino = 0;
  std::string path;
  std::uint64_t i_size = 0;
  int node = 0;                     // the NUMA node of its device ([[os.file]] node)
  unsigned i_nlink = 1;             // 0 after unlink: freed at the last close
  unsigned i_count = 0;             // open files
  std::vector<fs_extent> extents;   // sorted by lblk, non-overlapping
  std::uint64_t nr_blocks = 0;      // blocks allocated (i_blocks / 8)
  address_space i_mapping;
  Picoseconds dirtied_when{0};      // when its first dirty page of this round appeared
  bool on_dirty_list = false;       // on the b_dirty list of the flusher
};

struct file {
  inode* f_inode = nullptr;
  std::uint64_t f_pos = 0;
  int f_flags = 0;
  bool readable = false, writable = false;
  file_ra_state f_ra;
  bool ra_random = false;  // FMODE_RANDOM (POSIX_FADV_RANDOM)
};

class FileSystem {
  friend class Kernel;  // the fault path drives readahead and dirtying (file mmap)

 public:
  FileSystem(Kernel& k, const FsParams& params);
  ~FileSystem();
  FileSystem(const FileSystem&) = delete;
  FileSystem& operator=(const FileSystem&) = delete;

  // ---- system calls' bodies (after the Kernel's entry guard; see Kernel::sys_*) ----
  long open(task_struct* t, const std::string& path, int flags, KernelCost& cost);
  long close(task_struct* t, int fd, KernelCost& cost);
  long read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long lseek(task_struct* t, int fd, std::int64_t off, int whence, KernelCost& cost);
  long ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost);
  long fsync(task_struct* t, int fd, bool datasync, KernelCost& cost);
  long unlink(task_struct* t, const std::string& path, KernelCost& cost);
  long fadvise(task_struct* t, int fd, std::int64_t offset, std::int64_t len, int advice, KernelCost& cost);
  // exit_files: every fd of the process closed (its last task exits).
  void exit_files(int tgid, CpuId cpu, KernelCost& cost);

  // ---- lookups for tests, workloads and /proc ----
  inode* lookup(const std::string& path) const;
  file* fget(int tgid, int fd) const;
  // The page at index of the inode's cache, or nullptr (filemap_get_entry without shadows).
  page* find_get_page(const inode& ino, std::uint64_t index) const;
  // The shadow value left at index (0: none).
  std::uint64_t shadow_at(const inode& ino, std::uint64_t index) const;
  std::uint64_t free_blocks() const { return free_blocks_; }
  std::uint64_t total_blocks() const { return total_blocks_; }
  const FsParams& params() const { return params_; }
  // Create a file of `size` bytes with all its blocks allocated and on disk (the
  // [[os.file]] form); -EEXIST, -ENOSPC, -EFBIG, -ENAMETOOLONG, -ENOENT (empty path).
  long create_file(const std::string& path, std::uint64_t size, int node);

  // ---- page-cache mechanisms (filemap.cpp, readahead.cpp, page_writeback.cpp) ----
  // The page cache's part of reclaim (shrink_folio_list's file branch): a clean,
  // unmapped, unlocked page-cache page isolated by reclaim leaves its mapping
  // (__remove_mapping with a workingset shadow). True when it did (only the
  // isolation reference is left).
  bool remove_mapping(page* pg, CpuId cpu, KernelCost& cost);
  // Reclaim's pageout of a dirty page-cache page: writeback started (PG_writeback),
  // or false when it cannot be written now.
  bool pageout(page* pg, CpuId cpu, KernelCost& cost);
  // I/O whose completion time passed is ended (PG_locked reads, PG_writeback writes).
  void complete_io(CpuId cpu, KernelCost& cost);
  // Pages in all page caches, dirty and under writeback.
  std::uint64_t nr_cache_pages() const;
  // The flusher's pass (wb_workfn -> wb_do_writeback): background writeback while
  // dirty pages exceed the background threshold, then kupdate-style writeback of
  // inodes dirtied longer than dirty_expire_centisecs ago.
  void flusher_pass(CpuId cpu, KernelCost& cost);
  // domain_dirty_limits: the (background, dirty) thresholds in pages.
  void dirty_limits(std::uint64_t& background, std::uint64_t& dirty) const;
  // balance_dirty_pages' pauses taken so far (count, total time).
  std::uint64_t nr_dirty_throttled() const { return nr_throttled_; }
  Picoseconds dirty_pause_total() const { return pause_total_; }
  // check_consistency's part: every cache page's owner/index/flags and the counts.
  void check_consistency() const;

  // ---- file-backed mmap (filemap.cpp, msync.cpp) ----
  // get_file for mmap: a VMA's reference to the open file f (a copy of its state
  // sharing the inode, i_count held until the last VMA copy goes: then iput).
  std::shared_ptr<file> mmap_file(const file& f);
  // filemap_fault for page pgoff of vma's file: the cached page (mmap read-around
  // or sync readahead on a miss, async readahead at a marker, the wait for its
  // read); the caller maps it (map_file_pte takes the mapping's reference). Returns 0 or
  // VM_FAULT_MAJOR (I/O was needed; PGMAJFAULT counted) with `out` set, or
  // VM_FAULT_SIGBUS (beyond EOF) / VM_FAULT_OOM.
  unsigned filemap_fault(task_struct* t, file& f, std::uint64_t pgoff, bool seq, bool rand, page*& out,
                         KernelCost& cost);
  // The inode of a page-cache page (page->mapping), or nullptr.
  inode* page_mapping(const page* pg) const { return inode_of(pg); }
  // folio_mark_dirty of a page-cache page (page_mkwrite, the dirty bit of a PTE
  // found at unmap); true when it was clean.
  bool mark_page_dirty(page* pg, CpuId cpu);
  // page_mkwrite of a shared mapping's write (ext4_page_mkwrite's part): a page in a
  // hole gets its block (VM_FAULT_SIGBUS when the file system is full), then the
  // page is dirtied; `dirtied` tells whether it was clean. Returns 0 or VM_FAULT_SIGBUS.
  unsigned page_mkwrite(page* pg, CpuId cpu, bool& dirtied);
  // balance_dirty_pages_ratelimited for pages dirtied through a mapping.
  void balance_dirty_pages_ratelimited(task_struct* t, std::uint64_t pages_dirtied, KernelCost& cost) {
    balance_dirty_pages(t, pages_dirtied, cost);
  }
  // msync's MS_SYNC/MS_ASYNC work for pages [first, last] of ino: dirty pages
  // written (filemap_fdatawrite_range); with wait, their writeback waited for.
  void write_and_wait_range(inode& ino, std::uint64_t first, std::uint64_t last, bool wait, CpuId cpu,
                            KernelCost& cost);

 private:
  struct IoItem {
    Picoseconds done;
    std::uint64_t seq;
    std::uint64_t pfn;
    bool operator>(const IoItem& o) const { return done != o.done ? done > o.done : seq > o.seq; }
  };
  struct IoQueue {
    FileSystem* fs = nullptr;
    std::unique_ptr<timer_list> timer;
    std::priority_queue<IoItem, std::vector<IoItem>, std::greater<IoItem>> q;
  };
  static void io_timer_fire(timer_list* t, KernelCost& cost);

  int alloc_fd(int tgid) const;
  long new_inode(const std::string& path, int node, inode*& out);
  void iput(inode* ino, CpuId cpu, KernelCost& cost);  // a reference gone: free an unlinked, closed inode
  // Block map: device sector of a file page, or ~0 for a hole.
  std::uint64_t bmap(const inode& ino, std::uint64_t index) const;
  // Blocks for [first, last] pages not yet allocated: all or nothing (-ENOSPC).
  int alloc_blocks(inode& ino, std::uint64_t first, std::uint64_t last);
  void free_blocks_from(inode& ino, std::uint64_t first_lblk);
  // filemap.cpp
  page* add_page(inode& ino, std::uint64_t index, task_struct* t, CpuId cpu, KernelCost& cost);
  void delete_from_page_cache(inode& ino, page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost);
  // Wait for a locked page's read (the wait charged to cost) and end it.
  void wait_on_page_locked(page* pg, CpuId cpu, KernelCost& cost);
  void wait_on_page_writeback(page* pg, CpuId cpu, KernelCost& cost);
  long filemap_read(task_struct* t, file& f, std::uint64_t pos, VirtAddr buf, std::uint64_t count, KernelCost& cost);
  long generic_perform_write(task_struct* t, file& f, std::uint64_t pos, VirtAddr buf, std::uint64_t count,
                             KernelCost& cost);
  void truncate_inode_pages_range(inode& ino, std::uint64_t first, std::uint64_t last, CpuId cpu, KernelCost& cost);
  // invalidate_mapping_pages: clean, unmapped, idle pages of [first, last] dropped; how many.
  std::uint64_t invalidate_mapping_pages(inode& ino, std::uint64_t first, std::uint64_t last, CpuId cpu,
                                         KernelCost& cost);
  void set_page_dirty(inode& ino, page* pg, CpuId cpu);
  // readahead.cpp
  void page_cache_sync_readahead(task_struct* t, file& f, std::uint64_t index, std::uint64_t req_count,
                                 KernelCost& cost);
  void page_cache_async_readahead(task_struct* t, file& f, page* pg, std::uint64_t index, std::uint64_t req_count,
                                  KernelCost& cost);
  void ondemand_readahead(task_struct* t, file& f, bool hit_readahead_marker, std::uint64_t index,
                          std::uint64_t req_size, KernelCost& cost);
  // page_cache_ra_unbounded / do_page_cache_ra: pages [index, index+nr) not cached
  // are allocated, added and read (one bio per contiguous run of blocks); the one
  // at nr - lookahead gets PG_readahead. Returns pages started.
  unsigned do_page_cache_ra(task_struct* t, inode& ino, std::uint64_t index, unsigned long nr,
                            unsigned long lookahead, CpuId cpu, KernelCost& cost);
  void submit_read(inode& ino, const std::vector<page*>& pages, CpuId cpu, KernelCost& cost);
  // bdi->io_pages: the largest request in pages ([os.fs] max_sectors_kb).
  unsigned io_pages() const { return params_.max_sectors_kb / static_cast<unsigned>(kPageSize / 1024); }
  // page_writeback.cpp
  // write_cache_pages over [first, last] of ino: dirty pages written (one bio per
  // contiguous run), up to nr_to_write. Returns pages written.
  std::uint64_t writeback_range(inode& ino, std::uint64_t first, std::uint64_t last, std::uint64_t nr_to_write,
                                CpuId cpu, KernelCost& cost);
  void end_page_writeback(page* pg, CpuId cpu);
  void start_io(page* pg, bool write, Picoseconds done, CpuId cpu);
  void balance_dirty_pages(task_struct* t, std::uint64_t pages_dirtied, KernelCost& cost);
  inode* inode_of(const page* pg) const;

  Kernel& k_;
  FsParams params_;
  std::map<std::string, std::unique_ptr<inode>> by_path_;        // linked inodes
  std::map<std::uint64_t, std::unique_ptr<inode>> orphans_;      // unlinked, still open
  std::unordered_map<std::uint32_t, inode*> by_mapping_;         // mapping id -> inode (lookup only)
  std::map<int, std::map<int, std::unique_ptr<file>>> fdtables_;  // tgid -> fd -> open file
  std::map<std::uint64_t, std::uint64_t> free_extents_;           // device block -> length (first-fit)
  std::uint64_t region_block0_ = 0;  // device block (4 KiB) of the region's start
  std::uint64_t total_blocks_ = 0, free_blocks_ = 0;
  std::uint64_t next_ino_ = 12;
  std::uint32_t next_mapping_id_ = 0x40000000u;  // far from mm ids
  // I/O in flight: pfn -> (seq, done); items of the per-CPU queues whose seq no longer
  // matches are stale (the page's I/O was ended early by a waiter).
  struct IoState {
    std::uint64_t seq;
    Picoseconds done;
    bool write;
  };
  std::unordered_map<std::uint64_t, IoState> io_;
  std::vector<std::unique_ptr<IoQueue>> ioq_;  // per CPU
  std::uint64_t io_seq_ = 0;
  std::uint64_t nr_throttled_ = 0;
  Picoseconds pause_total_{0};
  std::uint64_t dirty_exceeded_ = 0;
  // Page tokens (os/page_token.h) of pages that left the cache clean: the file's
  // data on disk, given back to the page a later read brings in (file mmap's
  // "nothing lost" check). Keyed by (mapping id, index); empty unless tokens are on.
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::uint64_t> disk_tokens_;
  void save_disk_token(const inode& ino, const page* pg);
  // Every page (not shadow) cached at an index in [first, last], in index order.
  void for_each_cached_page(inode& ino, std::uint64_t first, std::uint64_t last, const std::function<void(page*)>& fn);
};

}  // namespace numasim::os
