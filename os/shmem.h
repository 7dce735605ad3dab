// shmem (mm/shmem.c, Linux 6.1), memfd_create (mm/memfd.c) and SysV shared
// memory (ipc/shm.c): swap-backed objects whose pages live in an address_space
// of their own (the page cache's struct address_space and PageIndex of
// os/fs.h), shared by every VMA that maps the object whatever process it is in.
// A shmem object (shmem_inode_info) backs
//   - MAP_SHARED|MAP_ANONYMOUS mappings (shmem_zero_setup: one object per mmap,
//     copied with the VMA by fork and split, so parent and child share pages
//     faulted before or after the fork),
//   - memfd_create fds (read/write/lseek/ftruncate/fsync/close, mmap MAP_SHARED),
//   - SysV segments (shmget/shmat/shmdt/shmctl IPC_RMID, IPC_STAT).
// Its pages: PG_swapbacked, not PG_anon (on the anon LRU lists:
// folio_is_file_lru is false), owner = the object's mapping id, index = the
// offset in pages, one reference held by the mapping and one per PTE mapping it
// (page_add_file_rmap's counting: MM_SHMEMPAGES, NR_FILE_MAPPED). Counted in
// NR_SHMEM and NR_FILE_PAGES (meminfo Shmem and Cached), memcg `shmem`.
// Reclaim (shrink_folio_list) unmaps a shmem page through the file rmap walk
// (the VMAs of its object) and calls shmem_writepage: the page moves to the
// swap cache with a slot, the object keeps the swap entry at the index (a value
// entry, counted as one user of the slot: swap_shmem_alloc), swap_writepage
// writes it, and a later scan frees it from the swap cache. A fault, read or
// write at that index swaps it in (shmem_swapin_folio: read_swap_cache_async,
// the page moved back from the swap cache to the object, the slot freed).
// Simplified: no huge pages (shmem_enabled is honoured as "never"), no shared
// mempolicy (pages follow the faulting task's policy), no seals enforced
// (MFD_ALLOW_SEALING accepted), no MFD_HUGETLB (EINVAL), no MAP_PRIVATE mapping
// of a memfd (ENODEV), no swap readahead for shmem, a page faulted read-only is
// still written out by reclaim (every shmem page counts as dirty), swapoff does
// not bring shmem pages back (an area holding shmem slots is EBUSY), fds are
// per process and not inherited by fork (as the file system's), no IPC namespaces
// or permissions (mode bits are stored, not enforced).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "os/fs.h"
#include "os/kernel_cost.h"
#include "os/swapops.h"

namespace numasim::os {

class Kernel;
struct page;
struct task_struct;
struct vm_area_struct;
struct vm_fault;

// memfd_create flags (include/uapi/linux/memfd.h).
inline constexpr unsigned MFD_CLOEXEC = 0x0001u, MFD_ALLOW_SEALING = 0x0002u, MFD_HUGETLB = 0x0004u;
inline constexpr unsigned MFD_NAME_MAX_LEN = 249;  // NAME_MAX - strlen("memfd:")
// SysV IPC (include/uapi/linux/ipc.h, shm.h).
inline constexpr int IPC_PRIVATE = 0;
inline constexpr int IPC_CREAT = 01000, IPC_EXCL = 02000;
inline constexpr int IPC_RMID = 0, IPC_SET = 1, IPC_STAT = 2, IPC_INFO = 3;
inline constexpr int SHM_HUGETLB = 04000, SHM_NORESERVE = 010000;
inline constexpr int SHM_RDONLY = 010000, SHM_RND = 020000, SHM_REMAP = 040000, SHM_EXEC = 0100000;
inline constexpr int SHM_DEST = 01000;  // shm_perm.mode: marked for destruction
inline constexpr std::uint64_t SHMLBA = 4096;
// Linux's defaults (include/uapi/linux/shm.h): SHMMIN 1, SHMMNI 4096,
// SHMMAX = SHMALL = ULONG_MAX - 2^24 (bytes, pages).
inline constexpr std::uint64_t SHMMIN = 1, SHMMNI = 4096;
inline constexpr std::uint64_t SHMMAX = ~0ull - (1ull << 24), SHMALL = ~0ull - (1ull << 24);

// vm_file_id of a VMA mapping a shmem object: this base + the object's mapping id.
inline constexpr std::uint64_t kShmemVmaIdBase = 1ull << 41;

// struct shmid64_ds's fields IPC_STAT reports.
struct shmid_ds {
  int key = 0;
  unsigned mode = 0;  // permission bits | SHM_DEST
  std::uint64_t shm_segsz = 0;
  std::uint64_t shm_nattch = 0;
  int shm_cpid = 0, shm_lpid = 0;
  std::uint64_t shm_rss_pages = 0, shm_swp_pages = 0;  // SHM_INFO's per-segment figures
};

// struct shmem_inode_info + its inode: one shmem object.
struct shmem_inode_info {
  std::uint32_t id = 0;      // i_mapping.id: page->owner of its pages
  address_space i_mapping;   // pages, and swap entries as value entries
  std::uint64_t i_size = 0;  // bytes
  std::uint64_t swapped = 0;  // entries now in swap (info->swapped)
  std::string name;           // "dev/zero", "memfd:<name>", "SYSV<key>"
  unsigned i_count = 0;       // handles: VMA groups, fds, a SysV segment
  int shm_id = -1;            // the SysV segment it backs, or -1
};

class Shmem {
 public:
  explicit Shmem(Kernel& k);
  ~Shmem();
  Shmem(const Shmem&) = delete;
  Shmem& operator=(const Shmem&) = delete;

  // shmem_file_setup: a new object of `size` bytes; the handle holds one reference
  // (copies share it; the last copy's release drops it, the object dies with its last).
  std::shared_ptr<shmem_inode_info> file_setup(const std::string& name, std::uint64_t size);
  // One more reference to info, as a new handle (get_file).
  std::shared_ptr<shmem_inode_info> get(shmem_inode_info* info);

  // shmem_fault: the page at vmf's offset of the VMA's object, found, swapped in
  // or allocated, then mapped (writable when the VMA is). VM_FAULT_SIGBUS beyond
  // EOF, VM_FAULT_OOM, VM_FAULT_MAJOR when it was read from swap.
  unsigned fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  // shmem_writepage for an isolated, unmapped shmem page: to the swap cache, the
  // swap entry left in its object. False (nothing changed) without a slot.
  bool writepage(page* pg, CpuId cpu, KernelCost& cost);
  // folio_migrate_mapping's part: new_pg takes old_pg's slot in its object (its reference).
  void migrate_mapping(page* old_pg, page* new_pg);
  // The object of a shmem page (page->mapping), or nullptr.
  shmem_inode_info* page_mapping(const page* pg) const;
  // The page cached at index (nullptr: none or swapped).
  page* find_page(const shmem_inode_info& info, std::uint64_t index) const;
  // The swap entry held at index (nullopt: none).
  bool swap_entry_at(const shmem_inode_info& info, std::uint64_t index, swp_entry_t& out) const;

  // ---- memfd (mm/memfd.c) and its file operations ----
  // memfd_create: an fd or -EFAULT (null name), -EINVAL (flags, name too long,
  // MFD_HUGETLB), -EMFILE.
  long memfd_create(task_struct* t, const char* name, unsigned flags, KernelCost& cost);
  bool owns_fd(int tgid, int fd) const;
  shmem_inode_info* fd_object(int tgid, int fd) const;
  long close(task_struct* t, int fd, KernelCost& cost);
  // read/pread64 and write/pwrite64 of a memfd: the user's buffer `buf` through the
  // task's page tables (Kernel::uaccess_phys, os/uaccess.cpp), -EFAULT or a short
  // count where it is not mapped with the access the copy needs.
  long read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long lseek(task_struct* t, int fd, std::int64_t off, int whence, KernelCost& cost);
  long ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost);
  void exit_files(int tgid, CpuId cpu, KernelCost& cost);
  // Is fd taken by a memfd (for the file system's fd allocation).
  bool fd_used(int tgid, int fd) const { return owns_fd(tgid, fd); }

  // ---- SysV shared memory (ipc/shm.c) ----
  long shmget(task_struct* t, int key, std::uint64_t size, int shmflg, KernelCost& cost);
  long shmat(task_struct* t, int shmid, VirtAddr addr, int shmflg, KernelCost& cost);
  long shmdt(task_struct* t, VirtAddr addr, KernelCost& cost);
  long shmctl(task_struct* t, int shmid, int cmd, shmid_ds* buf, KernelCost& cost);
  std::size_t nr_segments() const { return segs_.size(); }

  // ---- statistics and checks ----
  std::size_t nr_objects() const { return objects_.size(); }
  std::uint64_t nr_pages() const;    // in all objects
  std::uint64_t nr_swapped() const;  // entries in swap
  // Entries an area of swap type `type` holds for shmem objects.
  std::uint64_t swapped_on(unsigned type) const;
  // check_consistency's part: every object's pages (owner, index, flags, one
  // reference + one per mapping), NR_SHMEM per node; its swap entries added to
  // `swap_users` (entry -> users) for the swap map check.
  void check_consistency(std::map<std::uint64_t, unsigned>& swap_users) const;

 private:
  struct Segment {
    int key = 0;
    std::uint64_t size = 0;
    unsigned mode = 0;
    bool dest = false;  // IPC_RMID done
    int cpid = 0, lpid = 0;
    std::shared_ptr<shmem_inode_info> obj;  // the segment's own reference
    unsigned attaches = 0;                   // shmat handles alive (VMA groups)
  };
  struct OpenFile {
    std::shared_ptr<shmem_inode_info> obj;
    std::uint64_t f_pos = 0;
    bool cloexec = false;
  };
  void put(shmem_inode_info* info);
  // shmem_get_folio: the page at index, swapped in or (alloc) allocated; nullptr with
  // *err: -ENOMEM, or 0 for a hole when !alloc. `major` set when swap was read.
  page* get_page(shmem_inode_info& info, std::uint64_t index, task_struct* t, vm_area_struct* vma, VirtAddr addr,
                 bool alloc, bool& major, int& err, KernelCost& cost);
  page* swapin(shmem_inode_info& info, std::uint64_t index, swp_entry_t e, task_struct* t, vm_area_struct* vma,
               VirtAddr addr, KernelCost& cost);
  void add_to_cache(shmem_inode_info& info, std::uint64_t index, page* pg);
  // shmem_undo_range over pages [first, last]: mapped entries zapped first, pages freed, swap freed.
  void truncate_range(shmem_inode_info& info, std::uint64_t first, std::uint64_t last, CpuId cpu, KernelCost& cost);
  void unmap_range(shmem_inode_info& info, std::uint64_t first, CpuId cpu, KernelCost& cost);
  OpenFile* fget(int tgid, int fd);
  // read()'s end: the file position advanced by what was copied (read, not pread64),
  // and the count, or `err` when nothing was copied.
  static long finish_read(OpenFile* f, std::int64_t pos, std::uint64_t p, std::uint64_t done, int err);
  void shm_destroy(int shmid);
  std::uint64_t nattch(const shmem_inode_info& info) const;

  Kernel& k_;
  std::map<std::uint32_t, std::unique_ptr<shmem_inode_info>> objects_;  // by mapping id
  std::uint32_t next_id_ = 0x70000000u;  // far from mm, anon_vma and file mapping ids
  std::map<int, std::map<int, OpenFile>> fds_;  // tgid -> fd -> memfd
  std::map<int, Segment> segs_;                 // shmid -> segment
  std::map<int, int> keys_;                     // key -> shmid (IPC_PRIVATE and removed ones absent)
  unsigned shm_seq_ = 0;
  std::uint64_t shm_tot_ = 0;  // pages of all segments (ns->shm_tot)
  bool dying_ = false;         // the kernel is being destroyed: releases free nothing
};

}  // namespace numasim::os
