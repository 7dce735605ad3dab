// Address-space data structures of the simulated kernel, after Linux's
// include/linux/mm_types.h: vm_area_struct (one mapping: range, flags, page
// offset, NUMA policy) and mm_struct (the VMAs of a process, its page-table root,
// PCID, the CPUs it ran on and its RSS counters).
// Private anonymous VMAs carry the reverse map's anon_vma and their chain of
// anon_vma_chain records (os/rmap.h), kept right by split, merge and erase
// through the VmaObjects hooks of the operation.
// Simplified: VMAs are kept in an ordered std::map keyed by vm_start instead of a
// maple tree; a shared anonymous (shmem) or hugetlb mapping is
// identified by an object id instead of a struct file; no mmap_lock. The C++
// records live in host containers; each holds the simulated address of its
// slab object (vm_obj, mm_obj), which is what SLUB and kmemleak account.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/units.h"
#include "os/platform.h"

namespace numasim::os {

struct mempolicy;
struct mm_struct;
struct anon_vma;        // os/rmap.h
struct anon_vma_chain;  // os/rmap.h
class VmaObjects;       // os/kernel_caches.h
struct file;            // os/fs.h: the file a file-backed VMA maps
struct shmem_inode_info;  // os/shmem.h: the shmem object a shared anonymous/memfd/SysV VMA maps

// vm_flags bits, Linux's values (include/linux/mm.h).
inline constexpr unsigned long VM_NONE = 0x00000000;
inline constexpr unsigned long VM_READ = 0x00000001;
inline constexpr unsigned long VM_WRITE = 0x00000002;
inline constexpr unsigned long VM_EXEC = 0x00000004;
inline constexpr unsigned long VM_SHARED = 0x00000008;
inline constexpr unsigned long VM_MAYREAD = 0x00000010;
inline constexpr unsigned long VM_MAYWRITE = 0x00000020;
inline constexpr unsigned long VM_MAYEXEC = 0x00000040;
inline constexpr unsigned long VM_MAYSHARE = 0x00000080;
inline constexpr unsigned long VM_GROWSDOWN = 0x00000100;
inline constexpr unsigned long VM_LOCKED = 0x00002000;
inline constexpr unsigned long VM_SEQ_READ = 0x00008000;
inline constexpr unsigned long VM_RAND_READ = 0x00010000;
inline constexpr unsigned long VM_DONTCOPY = 0x00020000;
inline constexpr unsigned long VM_DONTEXPAND = 0x00040000;
inline constexpr unsigned long VM_ACCOUNT = 0x00100000;
inline constexpr unsigned long VM_NORESERVE = 0x00200000;
inline constexpr unsigned long VM_HUGETLB = 0x00400000;
inline constexpr unsigned long VM_WIPEONFORK = 0x02000000;
inline constexpr unsigned long VM_DONTDUMP = 0x04000000;
inline constexpr unsigned long VM_HUGEPAGE = 0x20000000;
inline constexpr unsigned long VM_NOHUGEPAGE = 0x40000000;
inline constexpr unsigned long VM_MERGEABLE = 0x80000000;
inline constexpr unsigned long VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

struct vm_area_struct {
  VirtAddr vm_start = 0;  // first byte
  VirtAddr vm_end = 0;    // first byte after
  unsigned long vm_flags = 0;
  unsigned long vm_pgoff = 0;  // offset in PAGE_SIZE units: addr>>12 for private anon, offset in the object otherwise
  std::shared_ptr<mempolicy> vm_policy;  // null: the task's policy applies
  std::uint64_t vm_file_id = 0;          // 0: private anonymous; else the shmem/hugetlb object
  std::uint8_t vm_hugetlb_hstate = 0;    // hugetlb VMA: its hstate (os/hugetlb.h hstate_vma): 0 2 MiB, 1 1 GiB
  mm_struct* vm_mm = nullptr;
  PhysAddr vm_obj = 0;  // its vm_area_struct slab object (0: none, outside a Kernel)
  // Reverse map (os/rmap.h): the anon_vma new anonymous pages of this VMA go
  // to (null until the first anonymous fault: anon_vma_prepare), and one chain
  // record per anon_vma whose pages it may map (its own and its ancestors').
  // A copy of a VMA (split, fork) gets its own chain through anon_vma_clone.
  struct anon_vma* anon_vma = nullptr;
  std::vector<struct anon_vma_chain*> anon_vma_chain;
  // File-backed mapping (mmap with an fd): the file (get_file at mmap, shared by
  // the copies split and fork make; the last one releases the inode), with
  // vm_pgoff its offset in pages and vm_file_id kFileVmaIdBase + the mapping id.
  std::shared_ptr<struct file> vm_file;
  // A shmem mapping (MAP_SHARED|MAP_ANONYMOUS, memfd, SysV shmat): its object
  // (a handle shared by the copies split and fork make; vm_pgoff its offset in
  // pages, vm_file_id kShmemVmaIdBase + its id). Null for every other VMA.
  std::shared_ptr<struct shmem_inode_info> vm_shmem;

  bool is_hugetlb() const { return (vm_flags & VM_HUGETLB) != 0; }
  // A hugetlb mapping holds pool reservations for its pages not yet faulted,
  // unless mapped MAP_NORESERVE (then a fault finding no free page is SIGBUS).
  bool hugetlb_reserves() const { return is_hugetlb() && !(vm_flags & VM_NORESERVE); }
  bool is_file() const { return vm_file != nullptr; }  // vma->vm_file
  bool is_accessible() const { return (vm_flags & VM_ACCESS_FLAGS) != 0; }  // vma_is_accessible
  std::uint64_t size() const { return vm_end - vm_start; }
  // linear_page_index: offset in the backing object of the page holding addr
  unsigned long pgoff_of(VirtAddr addr) const { return vm_pgoff + ((addr - vm_start) >> kPageShift); }
};

// vm_file_id of a file-backed VMA: this base + its address_space id (far from
// the shmem/hugetlb object ids do_mmap hands out from 1).
inline constexpr std::uint64_t kFileVmaIdBase = 1ull << 40;

// RSS counter kinds (enum of mm_struct.rss_stat), Linux's order.
enum mm_counter : int { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES, NR_MM_COUNTERS };

struct mm_struct {
  std::map<VirtAddr, vm_area_struct> mm_mt;  // VMAs keyed by vm_start, non-overlapping
  int map_count = 0;
  PhysAddr pgd = 0;  // physical address of the top-level table (CR3)
  NodeId pgd_node{0};
  Asid asid = 0;    // PCID
  CpuMask cpumask;  // mm_cpumask: CPUs that ran this mm (TLB shootdown targets)
  long rss_stat[NR_MM_COUNTERS] = {};
  VirtAddr task_size = 0;  // TASK_SIZE
  VirtAddr mmap_base = 0;  // top of the top-down mmap area
  VirtAddr start_brk = 0, brk = 0;
  int mm_users = 0;                  // tasks sharing it
  std::uint32_t mm_id = 0;           // reverse-map owner handle stored in struct page
  std::uint32_t memcg_id = 0;        // memory cgroup its pages are charged to (get_mem_cgroup_from_mm; 0: root)
  std::uint64_t pgtables_bytes = 0;  // mm_pgtables_bytes
  std::uint64_t total_vm = 0;        // pages mapped
  std::uint64_t hugetlb_usage = 0;   // hugetlb pages mapped (HugetlbPages in status)
  PhysAddr mm_obj = 0;               // its mm_struct slab object (0: none, outside a Kernel)
  bool oom_skip = false;             // MMF_OOM_SKIP: reaped by the OOM killer, not a victim again
  bool thp_disabled = false;         // MMF_DISABLE_THP: prctl(PR_SET_THP_DISABLE), inherited by fork
  bool khugepaged_slot = false;      // MMF_VM_HUGEPAGE: registered with khugepaged (khugepaged_enter)
  // Set by the kernel for the duration of one VMA operation: where new VMA
  // records get their slab object (vma_insert, split_vma) and where erased
  // ones return it (vma_erase). Null outside operations (bare VMA trees in tests).
  VmaObjects* vma_objects = nullptr;

  long get_mm_counter(int member) const { return rss_stat[member]; }
  void add_mm_counter(int member, long value) { rss_stat[member] += value; }
};

}  // namespace numasim::os
