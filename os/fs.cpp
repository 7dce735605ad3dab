// The file system's VFS side (fs/open.c, fs/read_write.c, fs/namei.c, fs/file.c,
// mm/fadvise.c) and its block allocator: inodes in one flat namespace, per-process
// fd tables, extents allocated first-fit from the file system's region of the
// block device, and the bodies of the file system calls (os/fs.h for what is
// simplified). The page cache is filemap.cpp, readahead readahead.cpp, dirty
// pages and writeback page_writeback.cpp.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/config.h"
#include "os/fs.h"
#include "os/kernel.h"
#include "os/mm_inline.h"
#include "os/mmap.h"

namespace numasim::os {

namespace {
constexpr std::uint64_t kSectorsPerBlock = kPageSize / 512;
}  // namespace

FsParams FsParams::from_config(Config os) {
  FsParams p;
  Config fs = os.table("fs", "the file system on the block device and its page cache");
  if (fs.has("start")) p.start_bytes = fs.get<Bytes>("start", Bytes(0), "start of the file system's region on the block device").value();
  p.size_bytes = fs.get<Bytes>("size", Bytes(0), "size of the file system's region (0: up to the device's end)").value();
  p.read_ahead_kb = fs.get<unsigned>("read_ahead_kb", p.read_ahead_kb, "maximum readahead window (read_ahead_kb)",
                                     {0u, 1u << 20});
  p.max_sectors_kb = fs.get<unsigned>("max_sectors_kb", p.max_sectors_kb,
                                      "largest request to the device (bdi->io_pages for readahead)", {4u, 1u << 20});
  p.max_segments = fs.get<unsigned>("max_segments", p.max_segments,
                                    "most physical segments in one request (/sys/block/<dev>/queue/max_segments)",
                                    {1u, 65535u});
  p.fault_around_bytes = fs.get<unsigned>("fault_around_bytes", p.fault_around_bytes,
                                          "fault-around window of file read faults", {4096u, 1u << 21});
  Config vm = os.table("vm", "virtual-memory tunables (Linux sysctl vm.*)");
  p.dirty_ratio = vm.get<unsigned>("dirty_ratio", p.dirty_ratio, "% of dirtyable memory at which writers are throttled",
                                   {0u, 100u});
  p.dirty_background_ratio = vm.get<unsigned>("dirty_background_ratio", p.dirty_background_ratio,
                                              "% of dirtyable memory at which the flusher starts", {0u, 100u});
  p.dirty_bytes = vm.get<Bytes>("dirty_bytes", Bytes(0), "dirty limit in bytes (overrides dirty_ratio when set)").value();
  p.dirty_background_bytes =
      vm.get<Bytes>("dirty_background_bytes", Bytes(0), "background limit in bytes (overrides the ratio)").value();
  p.dirty_expire_centisecs = vm.get<unsigned>("dirty_expire_centisecs", p.dirty_expire_centisecs,
                                              "age in 1/100 s at which the flusher writes dirty data", {0u, 1u << 30});
  p.max_pause_ms = static_cast<std::uint64_t>(
      vm.get<int>("dirty_max_pause_ms", static_cast<int>(p.max_pause_ms), "longest balance_dirty_pages pause (MAX_PAUSE)",
                  {1, 10000}));
  if (p.dirty_bytes && p.dirty_bytes < 2 * kPageSize)
    vm.error("dirty_bytes", "vm.dirty_bytes must be at least two pages (8192)");
  Config c = os.table("costs", "kernel CPU costs in cycles");
  auto cyc = [&](const char* key, std::uint64_t def, const char* what) {
    return static_cast<std::uint64_t>(
        c.get<std::int64_t>(key, static_cast<std::int64_t>(def), what, {std::int64_t{0}, std::int64_t{100000000}}));
  };
  p.filemap_page_cycles = cyc("filemap_page_cycles", p.filemap_page_cycles, "per page through read/write's page-cache loop");
  p.bio_cycles = cyc("bio_cycles", p.bio_cycles, "building and submitting one file bio");
  p.file_op_cycles = cyc("file_op_cycles", p.file_op_cycles, "VFS work of open/close/lseek/unlink");
  for (Config f : os.tables("file", "a file on the block device at boot")) {
    FileSpec s;
    const SourcePos pos = f.position();
    s.origin = pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    s.path = f.require<std::string>("path", "the file's path");
    s.size = f.require<Bytes>("size", "the file's size").value();
    s.node = f.get<int>("node", 0, "the NUMA node of the device holding it", {0, 63});
    if (f.has("path")) {
      if (s.path.empty()) f.error("path", "a file needs a non-empty path");
      if (s.path.size() >= static_cast<std::size_t>(kPathMax)) f.error("path", "path longer than kPathMax (4095)");
      for (const FileSpec& o : p.files)
        if (o.path == s.path) f.error("path", "file '" + s.path + "' is configured twice");
    }
    if (s.size > MAX_FILE_SIZE) f.error("size", "larger than the file system's maximum file size (16 TiB)");
    p.files.push_back(std::move(s));
  }
  return p;
}

void PageIndex::store(std::uint64_t index, std::uint64_t entry) {
  const std::uint64_t key = index >> kShift;
  auto it = nodes_.find(key);
  if (it == nodes_.end()) {
    if (!entry) return;
    it = nodes_.emplace(key, std::make_unique<Node>()).first;
  }
  Node& n = *it->second;
  std::uint64_t& slot = n.slots[index & (kSlots - 1)];
  if (!slot && entry) ++n.count;
  if (slot && !entry) --n.count;
  slot = entry;
  if (!n.count) {
    if (cached_ == &n) cached_key_ = ~0ull, cached_ = nullptr;
    nodes_.erase(it);
  }
}

FileSystem::FileSystem(Kernel& k, const FsParams& params) : k_(k), params_(params) {
  const std::uint64_t cap = k_.platform_.block_capacity().value();
  std::uint64_t start = params_.start_bytes, size = params_.size_bytes;
  const bool unbounded = cap == ~0ull;
  if (start == ~0ull) start = unbounded ? (1ull << 40) : (cap / 2);
  start = (start + kPageSize - 1) & ~(kPageSize - 1);
  if (!size) size = unbounded ? (64ull << 30) : (cap > start ? cap - start : 0);
  if (!unbounded && (start > cap || size > cap - start))
    throw std::invalid_argument("[os.fs] start + size beyond the block device's capacity");
  region_block0_ = start / kPageSize;
  total_blocks_ = free_blocks_ = size / kPageSize;
  if (total_blocks_) free_extents_[region_block0_] = total_blocks_;
  for (const FsParams::FileSpec& f : params_.files) {
    if (f.node >= k_.pm_.nr_node_ids())
      throw std::invalid_argument(f.origin + ": error: [[os.file]] " + f.path + ": no node " + std::to_string(f.node));
    const long r = create_file(f.path, f.size, f.node);
    if (r < 0)
      throw std::invalid_argument(f.origin + ": error: [[os.file]] " + f.path + ": " +
                                  std::strerror(static_cast<int>(-r)) + " (does it fit the file system's region?)");
  }
  // The flusher (wb_workfn): its boot stub's pass, then the writeback work.
  if (Kthread* fl = k_.kthreads_->flusher()) {
    kthread_fn stub = fl->threadfn;
    fl->threadfn = [this, stub](Kthreads& kt, Kthread& self, KernelCost& cost) {
      KthreadResult r = stub(kt, self, cost);
      flusher_pass(self.task.cpu, cost);
      return r;
    };
  }
}

FileSystem::~FileSystem() {
  for (auto& q : ioq_)
    if (q && q->timer->pending) k_.platform_.del_timer(q->timer.get());
}

// ---------------------------------------------------------------------------
// Inodes and blocks
// ---------------------------------------------------------------------------

inode* FileSystem::lookup(const std::string& path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second.get();
}

file* FileSystem::fget(int tgid, int fd) const {
  auto t = fdtables_.find(tgid);
  if (t == fdtables_.end()) return nullptr;
  auto it = t->second.find(fd);
  return it == t->second.end() ? nullptr : it->second.get();
}

inode* FileSystem::inode_of(const page* pg) const {
  auto it = by_mapping_.find(pg->owner);
  return it == by_mapping_.end() ? nullptr : it->second;
}

namespace {
// getname + the path walk's checks: ENOENT for "", ENAMETOOLONG for a path or component too long.
long check_path(const std::string& path) {
  if (path.empty()) return -ENOENT;
  if (path.size() >= static_cast<std::size_t>(kPathMax)) return -ENAMETOOLONG;
  std::size_t comp = 0;
  for (char ch : path) {
    comp = ch == '/' ? 0 : comp + 1;
    if (comp > static_cast<std::size_t>(kNameMax)) return -ENAMETOOLONG;
  }
  if (path.back() == '/') return -EISDIR;  // a directory name: no directories here
  return 0;
}
}  // namespace

long FileSystem::new_inode(const std::string& path, int node, inode*& out) {
  auto ino = std::make_unique<inode>();
  ino->i_ino = next_ino_++;
  ino->path = path;
  ino->node = node;
  ino->i_mapping.id = next_mapping_id_++;
  out = ino.get();
  by_mapping_[ino->i_mapping.id] = out;
  by_path_[path] = std::move(ino);
  return 0;
}

long FileSystem::create_file(const std::string& path, std::uint64_t size, int node) {
  if (const long r = check_path(path)) return r;
  if (lookup(path)) return -EEXIST;
  if (size > MAX_FILE_SIZE) return -EFBIG;
  const std::uint64_t blocks = (size + kPageSize - 1) / kPageSize;
  if (blocks > free_blocks_) return -ENOSPC;
  inode* ino = nullptr;
  new_inode(path, node, ino);
  if (blocks && alloc_blocks(*ino, 0, blocks - 1) < 0) {  // fragmented beyond the extents' reach: not expected
    by_mapping_.erase(ino->i_mapping.id);
    by_path_.erase(path);
    return -ENOSPC;
  }
  ino->i_size = size;
  return 0;
}

std::uint64_t FileSystem::bmap(const inode& ino, std::uint64_t index) const {
  const auto& ex = ino.extents;
  auto it = std::upper_bound(ex.begin(), ex.end(), index,
                             [](std::uint64_t i, const fs_extent& e) { return i < e.lblk; });
  if (it == ex.begin()) return ~0ull;
  --it;
  if (index >= it->lblk + it->len) return ~0ull;
  return (it->pblk + (index - it->lblk)) * kSectorsPerBlock;
}

// ext2_get_blocks-like: every hole of [first, last] gets blocks, first-fit from
// the free extents, extending the previous extent when the blocks follow it.
// All or nothing: -ENOSPC leaves the inode and the free map unchanged.
int FileSystem::alloc_blocks(inode& ino, std::uint64_t first, std::uint64_t last) {
  std::uint64_t need = 0;
  for (std::uint64_t i = first; i <= last; ++i) {
    // Skip whole extents quickly.
    const std::uint64_t s = bmap(ino, i);
    if (s == ~0ull) ++need;
  }
  if (need > free_blocks_) return -ENOSPC;
  for (std::uint64_t i = first; i <= last;) {
    if (bmap(ino, i) != ~0ull) {
      ++i;
      continue;
    }
    std::uint64_t run = 1;
    while (i + run <= last && bmap(ino, i + run) == ~0ull) ++run;
    while (run) {
      auto fit = free_extents_.begin();  // first fit (the lowest free extent)
      const std::uint64_t pblk = fit->first, avail = fit->second;
      const std::uint64_t n = std::min(run, avail);
      free_extents_.erase(fit);
      if (avail > n) free_extents_[pblk + n] = avail - n;
      free_blocks_ -= n;
      ino.nr_blocks += n;
      // Insert or merge into the inode's extents.
      auto& ex = ino.extents;
      auto pos = std::upper_bound(ex.begin(), ex.end(), i, [](std::uint64_t v, const fs_extent& e) { return v < e.lblk; });
      if (pos != ex.begin() && (pos - 1)->lblk + (pos - 1)->len == i && (pos - 1)->pblk + (pos - 1)->len == pblk) {
        (pos - 1)->len += n;
      } else {
        ex.insert(pos, fs_extent{i, pblk, n});
      }
      i += n;
      run -= n;
    }
  }
  return 0;
}

// ext2_free_blocks for a truncation: every block at or after first_lblk back to the free map.
void FileSystem::free_blocks_from(inode& ino, std::uint64_t first_lblk) {
  std::vector<fs_extent> keep;
  for (const fs_extent& e : ino.extents) {
    if (e.lblk + e.len <= first_lblk) {
      keep.push_back(e);
      continue;
    }
    const std::uint64_t cut = e.lblk >= first_lblk ? 0 : first_lblk - e.lblk;
    if (cut) keep.push_back(fs_extent{e.lblk, e.pblk, cut});
    std::uint64_t pblk = e.pblk + cut, len = e.len - cut;
    free_blocks_ += len;
    ino.nr_blocks -= len;
    // Coalesce with the neighbours in the free map.
    auto next = free_extents_.lower_bound(pblk);
    if (next != free_extents_.end() && next->first == pblk + len) {
      len += next->second;
      next = free_extents_.erase(next);
    }
    if (next != free_extents_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == pblk) {
        prev->second += len;
        continue;
      }
    }
    free_extents_[pblk] = len;
  }
  ino.extents = std::move(keep);
}

// iput: the last reference to an unlinked inode frees its pages and blocks.
void FileSystem::iput(inode* ino, CpuId cpu, KernelCost& cost) {
  if (ino->i_nlink || ino->i_count) return;
  truncate_inode_pages_range(*ino, 0, ~0ull, cpu, cost);
  free_blocks_from(*ino, 0);
  by_mapping_.erase(ino->i_mapping.id);
  orphans_.erase(ino->i_ino);
}

// ---------------------------------------------------------------------------
// File descriptors and the system calls' bodies
// ---------------------------------------------------------------------------

int FileSystem::alloc_fd(int tgid) const {
  auto t = fdtables_.find(tgid);
  int fd = 0;
  if (t != fdtables_.end())
    for (const auto& [n, f] : t->second) {
      if (n != fd) break;
      ++fd;
    }
  while (fd < NR_OPEN_DEFAULT && (k_.shmem_->fd_used(tgid, fd) || (t != fdtables_.end() && t->second.count(fd)))) ++fd;  // memfds share the fd space
  return fd < NR_OPEN_DEFAULT ? fd : -EMFILE;
}

// do_sys_openat2 for a regular file: flags checked (build_open_flags), the path
// looked up or created (O_CREAT, O_EXCL), truncated (O_TRUNC with write access),
// the lowest free fd installed.
long FileSystem::open(task_struct* t, const std::string& path, int flags, KernelCost& cost) {
  cost.add_cycles(params_.file_op_cycles);
  if ((flags & O_TMPFILE) == O_TMPFILE || (flags & O_PATH)) return -EINVAL;  // no directories to put one in
  if (const long r = check_path(path)) return r;
  const int acc = flags & O_ACCMODE;
  if (acc == 3) return -EINVAL;  // not a valid access mode for a regular file here
  inode* ino = lookup(path);
  if (ino && (flags & O_CREAT) && (flags & O_EXCL)) return -EEXIST;
  if (!ino && !(flags & O_CREAT)) return -ENOENT;
  if (flags & O_DIRECTORY) return -ENOTDIR;
  const int fd = alloc_fd(t->tgid);
  if (fd < 0) return fd;
  if (!ino) new_inode(path, k_.cpu_to_node(t->cpu).value(), ino);
  auto f = std::make_unique<file>();
  f->f_inode = ino;
  f->f_flags = flags;
  f->readable = acc == O_RDONLY || acc == O_RDWR;
  f->writable = acc == O_WRONLY || acc == O_RDWR;
  f->f_ra.ra_pages = params_.read_ahead_kb / (kPageSize / 1024);
  if ((flags & O_TRUNC) && f->writable && ino->i_size) {
    truncate_inode_pages_range(*ino, 0, ~0ull, t->cpu, cost);
    free_blocks_from(*ino, 0);
    ino->i_size = 0;
  }
  ++ino->i_count;
  fdtables_[t->tgid][fd] = std::move(f);
  return fd;
}

long FileSystem::close(task_struct* t, int fd, KernelCost& cost) {
  cost.add_cycles(params_.file_op_cycles);
  auto tab = fdtables_.find(t->tgid);
  if (fd < 0 || tab == fdtables_.end()) return -EBADF;
  auto it = tab->second.find(fd);
  if (it == tab->second.end()) return -EBADF;
  inode* ino = it->second->f_inode;
  tab->second.erase(it);
  --ino->i_count;
  iput(ino, t->cpu, cost);
  return 0;
}

void FileSystem::exit_files(int tgid, CpuId cpu, KernelCost& cost) {
  auto tab = fdtables_.find(tgid);
  if (tab == fdtables_.end()) return;
  std::vector<inode*> inodes;
  for (auto& [fd, f] : tab->second) inodes.push_back(f->f_inode);
  fdtables_.erase(tab);
  for (inode* ino : inodes) {
    --ino->i_count;
    iput(ino, cpu, cost);
  }
}

// ksys_read / ksys_pread64 (pos >= 0: pread64 at pos, the file position untouched).
long FileSystem::read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost) {
  file* f = fget(t->tgid, fd);
  if (!f || !f->readable) return -EBADF;
  if (pos < -1) return -EINVAL;
  if (!Kernel::access_ok(t, buf, count)) return -EFAULT;
  count = std::min(count, MAX_RW_COUNT);
  const std::uint64_t at = pos >= 0 ? static_cast<std::uint64_t>(pos) : f->f_pos;
  const long r = filemap_read(t, *f, at, buf, count, cost);
  if (r > 0 && pos < 0) f->f_pos += static_cast<std::uint64_t>(r);
  return r;
}

// ksys_write / ksys_pwrite64: generic_write_checks (O_APPEND, EFBIG at s_maxbytes,
// the count cut there), then generic_perform_write.
long FileSystem::write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost) {
  file* f = fget(t->tgid, fd);
  if (!f || !f->writable) return -EBADF;
  if (pos < -1) return -EINVAL;
  if (!Kernel::access_ok(t, buf, count)) return -EFAULT;
  count = std::min(count, MAX_RW_COUNT);
  std::uint64_t at = pos >= 0 ? static_cast<std::uint64_t>(pos) : f->f_pos;
  if (pos < 0 && (f->f_flags & O_APPEND)) at = f->f_inode->i_size;
  if (count == 0) return 0;
  if (at >= MAX_FILE_SIZE) return -EFBIG;
  count = std::min(count, MAX_FILE_SIZE - at);
  const long r = generic_perform_write(t, *f, at, buf, count, cost);
  if (r > 0 && pos < 0) f->f_pos = at + static_cast<std::uint64_t>(r);
  return r;
}

// generic_file_llseek (vfs_setpos: a negative result is EINVAL; OS_SEEK_DATA/OS_SEEK_HOLE as
// the generic version: the whole file is data, ENXIO at or beyond EOF).
long FileSystem::lseek(task_struct* t, int fd, std::int64_t off, int whence, KernelCost& cost) {
  cost.add_cycles(params_.file_op_cycles / 4);
  file* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  const auto size = static_cast<std::int64_t>(f->f_inode->i_size);
  std::int64_t base = 0;
  switch (whence) {
    case OS_SEEK_SET: base = 0; break;
    case OS_SEEK_CUR: base = static_cast<std::int64_t>(f->f_pos); break;
    case OS_SEEK_END: base = size; break;
    case OS_SEEK_DATA:
    case OS_SEEK_HOLE:
      if (off < 0 || off >= size) return -ENXIO;
      base = 0;
      if (whence == OS_SEEK_HOLE) off = size;
      break;
    default: return -EINVAL;
  }
  if ((off > 0 && base > INT64_MAX - off) || base + off < 0) return -EINVAL;
  const std::int64_t n = base + off;
  if (static_cast<std::uint64_t>(n) > MAX_FILE_SIZE) return -EINVAL;
  if (static_cast<std::uint64_t>(n) != f->f_pos) f->f_ra.prev_pos = ~0ull;
  f->f_pos = static_cast<std::uint64_t>(n);
  return n;
}

// do_sys_ftruncate: EINVAL for a negative length (before the fd), EBADF, EINVAL when
// not open for writing, EFBIG beyond s_maxbytes; shrinking drops the pages and
// blocks beyond the new end, growing leaves a hole.
long FileSystem::ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost) {
  cost.add_cycles(params_.file_op_cycles);
  if (length < 0) return -EINVAL;
  file* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  if (!f->writable) return -EINVAL;
  if (static_cast<std::uint64_t>(length) > MAX_FILE_SIZE) return -EFBIG;
  inode& ino = *f->f_inode;
  const auto len = static_cast<std::uint64_t>(length);
  if (len < ino.i_size) {
    const std::uint64_t first = (len + kPageSize - 1) / kPageSize;
    k_.unmap_mapping_range(ino, first, t->cpu, cost);  // truncate_pagecache: mapped pages beyond go first
    truncate_inode_pages_range(ino, first, ~0ull, t->cpu, cost);
    free_blocks_from(ino, first);
  }
  ino.i_size = len;
  return 0;
}

// vfs_fsync_range over the whole file: the dirty pages written (file_write_and_wait_range),
// then every page under writeback waited for (the wait charged to the caller).
long FileSystem::fsync(task_struct* t, int fd, bool datasync, KernelCost& cost) {
  (void)datasync;  // no metadata to tell apart
  file* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  inode& ino = *f->f_inode;
  complete_io(t->cpu, cost);
  writeback_range(ino, 0, ~0ull, ~0ull, t->cpu, cost);
  // filemap_fdatawait_range.
  Picoseconds last{0};
  std::vector<page*> wb;
  for (auto& [key, node] : ino.i_mapping.i_pages.nodes())
    for (std::uint64_t e : node->slots)
      if (e && !(e & 1)) {
        page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
        if (pg->test(PG_writeback)) wb.push_back(pg);
      }
  for (page* pg : wb) wait_on_page_writeback(pg, t->cpu, cost);
  (void)last;
  return 0;
}

// do_unlinkat: the name goes; the inode lives while files are open on it.
long FileSystem::unlink(task_struct* t, const std::string& path, KernelCost& cost) {
  cost.add_cycles(params_.file_op_cycles);
  if (const long r = check_path(path)) return r;
  auto it = by_path_.find(path);
  if (it == by_path_.end()) return -ENOENT;
  std::unique_ptr<inode> ino = std::move(it->second);
  by_path_.erase(it);
  ino->i_nlink = 0;
  inode* p = ino.get();
  orphans_[p->i_ino] = std::move(ino);
  iput(p, t->cpu, cost);
  return 0;
}

// generic_fadvise: RANDOM/SEQUENTIAL set the readahead mode (SEQUENTIAL doubles the
// window), WILLNEED starts readahead of the range, DONTNEED starts writeback of it
// and drops its clean, unmapped, idle pages (invalidate_mapping_pages); NOREUSE
// and NORMAL change nothing else.
long FileSystem::fadvise(task_struct* t, int fd, std::int64_t offset, std::int64_t len, int advice, KernelCost& cost) {
  file* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  if (len < 0 || advice < POSIX_FADV_NORMAL || advice > POSIX_FADV_NOREUSE) return -EINVAL;
  inode& ino = *f->f_inode;
  const std::uint64_t off = offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
  std::uint64_t end = len == 0 ? ~0ull : off + static_cast<std::uint64_t>(len) - 1;  // inclusive byte
  if (end < off) end = ~0ull;
  const unsigned base_ra = params_.read_ahead_kb / (kPageSize / 1024);
  switch (advice) {
    case POSIX_FADV_NORMAL:
      f->f_ra.ra_pages = base_ra;
      f->ra_random = false;
      break;
    case POSIX_FADV_RANDOM: f->ra_random = true; break;
    case POSIX_FADV_SEQUENTIAL:
      f->f_ra.ra_pages = 2 * base_ra;
      f->ra_random = false;
      break;
    case POSIX_FADV_WILLNEED: {
      if (off >= ino.i_size) break;
      const std::uint64_t first = off / kPageSize;
      const std::uint64_t last = std::min(end, ino.i_size - 1) / kPageSize;
      // force_page_cache_readahead in max_pages chunks.
      const std::uint64_t chunk = std::max<std::uint64_t>(1, f->f_ra.ra_pages);
      for (std::uint64_t i = first; i <= last; i += chunk)
        do_page_cache_ra(t, ino, i, std::min(chunk, last - i + 1), 0, t->cpu, cost);
      break;
    }
    case POSIX_FADV_DONTNEED: {
      complete_io(t->cpu, cost);
      const std::uint64_t first_pg = (off + kPageSize - 1) / kPageSize;  // only whole pages
      const std::uint64_t last_b = end;
      if (last_b != ~0ull && (last_b + 1) / kPageSize == 0) break;
      const std::uint64_t last_pg = last_b == ~0ull ? ~0ull : (last_b + 1) / kPageSize - 1;
      writeback_range(ino, off / kPageSize, last_b == ~0ull ? ~0ull : last_b / kPageSize, ~0ull, t->cpu, cost);
      if (first_pg <= last_pg) {
        k_.lru_add_drain(t->cpu);
        invalidate_mapping_pages(ino, first_pg, last_pg, t->cpu, cost);
      }
      break;
    }
    default: break;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// The Kernel's system calls (entry, guard, then the body above)
// ---------------------------------------------------------------------------

#define FS_SYSCALL_ENTER()                                \
  syscall_cost(cost);                                     \
  if (t->exited) return -ESRCH;                           \
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost)

long Kernel::sys_open(task_struct* t, const std::string& path, int flags, unsigned mode, KernelCost& cost) {
  (void)mode;  // no permissions
  FS_SYSCALL_ENTER();
  return fs_->open(t, path, flags, cost);
}
long Kernel::sys_creat(task_struct* t, const std::string& path, unsigned mode, KernelCost& cost) {
  return sys_open(t, path, O_CREAT | O_WRONLY | O_TRUNC, mode, cost);
}
long Kernel::sys_close(task_struct* t, int fd, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->close(t, fd, cost);  // a memfd (os/shmem.h)
  return fs_->close(t, fd, cost);
}
long Kernel::sys_read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->read(t, fd, buf, count, -1, cost);
  return fs_->read(t, fd, buf, count, -1, cost);
}
long Kernel::sys_write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->write(t, fd, buf, count, -1, cost);
  return fs_->write(t, fd, buf, count, -1, cost);
}
long Kernel::sys_pread64(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos,
                         KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (pos < 0) return -EINVAL;  // ksys_pread64/ksys_pwrite64 test pos before looking up the fd
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->read(t, fd, buf, count, pos, cost);
  return fs_->read(t, fd, buf, count, pos, cost);
}
long Kernel::sys_pwrite64(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos,
                          KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (pos < 0) return -EINVAL;  // ksys_pread64/ksys_pwrite64 test pos before looking up the fd
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->write(t, fd, buf, count, pos, cost);
  return fs_->write(t, fd, buf, count, pos, cost);
}
long Kernel::sys_lseek(task_struct* t, int fd, std::int64_t offset, int whence, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->lseek(t, fd, offset, whence, cost);
  return fs_->lseek(t, fd, offset, whence, cost);
}
long Kernel::sys_ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return shmem_->ftruncate(t, fd, length, cost);
  return fs_->ftruncate(t, fd, length, cost);
}
long Kernel::sys_fsync(task_struct* t, int fd, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return 0;  // shmem: nothing to write (noop_fsync)
  return fs_->fsync(t, fd, false, cost);
}
long Kernel::sys_fdatasync(task_struct* t, int fd, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return 0;
  return fs_->fsync(t, fd, true, cost);
}
long Kernel::sys_unlink(task_struct* t, const std::string& path, KernelCost& cost) {
  FS_SYSCALL_ENTER();
  return fs_->unlink(t, path, cost);
}
long Kernel::sys_fadvise64(task_struct* t, int fd, std::int64_t offset, std::int64_t len, int advice,
                           KernelCost& cost) {
  FS_SYSCALL_ENTER();
  if (shmem_->owns_fd(t->tgid, fd)) return advice >= 0 && advice <= POSIX_FADV_NOREUSE ? 0 : -EINVAL;  // shmem: hints only
  return fs_->fadvise(t, fd, offset, len, advice, cost);
}

#undef FS_SYSCALL_ENTER

}  // namespace numasim::os
