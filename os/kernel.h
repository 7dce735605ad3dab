// os::Kernel: the facade of the simulated kernel that hw/ and workloads use.
// It owns physical memory (PhysMem), the hugetlb pool, the page-table store,
// tasks and their address spaces, and implements page faults (memory.cpp), the
// memory system calls (syscalls.cpp, mmap.cpp, mprotect.cpp, madvise.cpp,
// mempolicy_syscalls.cpp), TLB shootdowns (tlbflush.cpp), the OOM killer
// (oom_kill.cpp) and a CONFIG_DEBUG_VM-like consistency checker (kernel_check.cpp).
// Its own bookkeeping comes from its slab allocator (Slub + KernelCaches, built
// from [os.slub], [os.failslab], [os.kernel_caches]): a vm_area_struct object per
// VMA record, an mm_struct per address space, a task_struct per task on the
// node of the CPU that created it, a numa_policy object per distinct task or VMA
// policy, a page->ptl object per page-table page. Every operation that creates
// VMA records reserves all their objects before changing anything (ENOMEM and
// no change otherwise). The owner records are kmemleak roots.
// The Topology passed in must outlive the Kernel.
// Transparent huge pages: huge_memory.cpp (faults, splits, deferred split,
// THP migration) and khugepaged.cpp (os/huge_memory.h for the knobs and counts).
// Processes fork (fork.cpp: copy-on-write of private anonymous pages, shared
// mappings shared) and anonymous pages have a reverse map (rmap.cpp, os/rmap.h)
// on which page migration (migrate.cpp) unmaps and remaps every mapping.
// Each fault and system call runs under an explicit KernelContext (the task,
// CPU and cost of the entry; kernel_context.h) set by an entry guard; the page
// allocator's slow path reaches the OOM killer through AllocHooks.
// Simplified: no mmap_lock, no file mappings yet; the
// scheduler is outside (hw/ tells the kernel where tasks run through
// create_task/create_thread/migrate_task). Slab: VMAs split from one another
// share their policy object (Linux duplicates it); page-table locks are taken
// for every page-table level (Linux: PTE and PMD tables); frees of policy
// objects and exit-time frees are not charged to any operation; a VMA
// operation that may split reserves chain records for its longest chain.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/topology.h"
#include "os/huge_memory.h"
#include "os/compaction.h"
#include "os/fs.h"
#include "os/hugetlb.h"
#include "os/kernel_caches.h"
#include "os/kernel_context.h"
#include "os/kernel_clock.h"
#include "os/kernel_cost.h"
#include "os/kernel_entry.h"
#include "os/kmemleak.h"
#include "os/kthread.h"
#include "os/memory_tiers.h"
#include "os/memcontrol.h"
#include "os/mm_types.h"
#include "os/mmzone.h"
#include "os/numa_balancing.h"
#include "os/oom_kill.h"
#include "os/page_alloc.h"
#include "os/pgtable.h"
#include "os/platform.h"
#include "os/proc_format.h"
#include "os/rmap.h"
#include "os/shmem.h"
#include "os/page_token.h"
#include "os/slub.h"
#include "os/swap.h"
#include "os/swapfile.h"
#include "os/task.h"
#include "os/vm_fault.h"
#include "os/vmscan.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct mempolicy;

// Cost table [os.costs]: CPU cycles of kernel code, memory traffic excluded
// (that is timed by the Platform).
struct KernelCosts {
  std::uint64_t fault_entry_cycles = 450;    // exception entry, error-code decode, find_vma
  std::uint64_t fault_exit_cycles = 250;     // return to user (iret)
  std::uint64_t fault_handle_cycles = 300;   // handle_mm_fault bookkeeping (rmap, rss, lru add)
  std::uint64_t syscall_entry_cycles = 100;  // syscall instruction and entry code
  std::uint64_t syscall_exit_cycles = 100;   // sysret
  std::uint64_t pte_update_cycles = 10;      // per entry written, besides its 8-byte store
  std::uint64_t vma_op_cycles = 400;         // per VMA created, split, merged or removed
  std::uint64_t zap_pte_cycles = 20;         // per leaf entry torn down (zap_pte_range)
  std::uint64_t tlb_flush_cycles = 150;      // building a flush request (flush_tlb_mm_range)
  std::uint64_t migrate_page_cycles = 1500;  // per page moved (isolation, rmap walk, remap)
};

struct KernelParams {
  PhysMemParams phys;
  KernelCosts costs;
  int pgtable_levels = 4;                        // 4, or 5 for LA57
  std::vector<std::uint64_t> nr_hugepages_node;  // 2 MiB pool per node (missing = 0)
  std::vector<std::uint64_t> nr_hugepages_1g_node;  // 1 GiB pool per node ([os.hugetlb.1G] nr_hugepages)
  std::uint64_t nr_overcommit_hugepages = 0;        // 2 MiB surplus pages allowed ([os.hugetlb])
  bool hugepagesz_1g = false;                       // the 1 GiB hstate exists ([os.hugetlb.1G] given)
  int max_map_count = 65530;                     // vm.max_map_count
  unsigned tlb_single_page_flush_ceiling = 33;   // above this many pages a range flush is a full flush
  bool zero_page = true;                         // read faults on private anon map the zero page
  SlubParams slub;            // the kernel's slab allocator, with its failslab knobs
  KernelCachesParams caches;  // vm_area_struct, mm_struct, task_struct, numa_policy, page->ptl caches
  KthreadParams kthreads;     // [os.kthreads]: the boot daemons (os/kthread.h)
  SwapParams swap;            // [[os.swap]] areas switched on at boot, page_cluster, swap readahead
  ReclaimParams reclaim;      // [os.vm] swappiness & co., reclaim costs (os/vmscan.h)
  ThpParams thp;              // [os.thp]: transparent huge pages (os/huge_memory.h)
  CompactionParams compaction;  // [os.vm] compaction sysctls, [os.costs] compact_* (os/compaction.h)
  NumaBalancingParams numab;    // [os.kernel] numa_balancing* (os/numa_balancing.h)
  FsParams fs;                  // [[os.file]], [os.fs], [os.vm] dirty_* (os/fs.h)
  MemoryTierParams memtier;     // [os.memory_tiers]: adistance per node, demotion_enabled (os/memory_tiers.h)

  // [os] table: [os.costs] *_cycles, pgtable_levels, max_map_count, hugetlb.nr_hugepages = [per node],
  // hugetlb.nr_overcommit_hugepages, hugetlb.1G.nr_hugepages = [per node],
  // [os.slub] / [os.slub.costs] / [os.failslab] (SlubParams), [os.kernel_caches].
  static KernelParams from_config(Config os_table);
};

// A broken kernel invariant (CONFIG_DEBUG_VM's VM_BUG_ON): "numasim: DEBUG_VM check failed:
// what (a, b)" on stderr, then abort. Defined in kernel_check.cpp; shared by the mm files.
[[noreturn]] void vm_bug(const char* what, std::uint64_t a, std::uint64_t b = 0);

class Kernel : private PgtableFrameSource, private AllocHooks, public KernelEntry {
 public:
  Kernel(const Topology& topo, const KernelParams& params, Platform& platform);
  ~Kernel() override;
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  // ---- tasks ----
  // A new process with a fresh, empty mm (exec), running on `cpu`.
  // Its mm_struct and task_struct come from SLUB (the task_struct on cpu's
  // node), charged to `cost`; nullptr (nothing changed) when an object or the
  // PGD cannot be had (fork's ENOMEM).
  task_struct* create_task(std::string comm, CpuId cpu, CpuMask allowed, KernelCost& cost);
  task_struct* create_task(std::string comm, CpuId cpu, CpuMask allowed);  // cost not kept
  // A thread of leader's process sharing its mm and policy (clone(CLONE_VM|CLONE_THREAD));
  // nullptr when its task_struct (or policy copy) cannot be allocated.
  task_struct* create_thread(task_struct* leader, CpuId cpu, KernelCost& cost);
  task_struct* create_thread(task_struct* leader, CpuId cpu);  // cost not kept
  // The task now runs on `cpu` (context switch / migration): joins mm_cpumask.
  // False (nothing changes) when cpu is not in t->cpus_allowed or does not exist.
  bool migrate_task(task_struct* t, CpuId cpu);
  // do_exit: drops the mm when its last user leaves (exit_mmap frees everything).
  // The task_struct stays valid as a zombie (t->exited, t->mm == nullptr) until
  // release_task, so hw/ may still read t->cpu after the exit.
  void exit_task(task_struct* t);
  // release_task: frees a task's descriptor (exiting it first if needed).
  void release_task(task_struct* t);
  // A live task by pid (zombies are not found).
  task_struct* find_task_by_pid(int pid);
  std::size_t nr_tasks() const { return live_tasks_; }

  // ---- faults (memory.cpp) ----
  using FaultResult = EntryResult;  // Handled / Sigsegv / Sigbus / Oom
  // handle_mm_fault as entered from the x86 #PF handler (do_user_addr_fault):
  // charges entry/exit cycles, the allocation, zeroing and PTE writes to `cost`.
  FaultResult handle_mm_fault(task_struct* t, VirtAddr addr, unsigned fault_flags, KernelCost& cost);
  // What the MMU does on a user access, done in software (tests, MAP_POPULATE,
  // benchmarks): if the leaf does not allow it, fault; then set accessed/dirty.
  FaultResult touch(task_struct* t, VirtAddr addr, bool write, KernelCost& cost);
  // copy_to_user / copy_from_user's view of one user address (os/uaccess.cpp):
  // the physical address `addr` maps to for a kernel access of kind `write`,
  // the page faulted in as the CPU's fault from kernel mode would; 0 when it
  // cannot be (no VMA, no permission, the fault failed): the exception-table
  // fixup, and the copy stops short without a signal.
  PhysAddr uaccess_phys(task_struct* t, VirtAddr addr, bool write, KernelCost& cost, bool* faulted = nullptr);
  // (`faulted`, if given, is set when a fault ran: what the caller looked up before may have been reclaimed.)
  // The user side of one page-cache piece of a copy: [ubuf, ubuf + n) with n at
  // most a page, so at most two user pages, each through uaccess_phys (faulted in
  // first, as fault_in_iov_iter_readable/writeable before the page-cache page is
  // taken). `bytes`: how many bytes from ubuf can be copied (n, fewer before an
  // address that cannot be served, 0 for none).
  struct UserPieces {
    PhysAddr phys[2] = {0, 0};
    std::uint64_t len[2] = {0, 0};
    int nr = 0;
    std::uint64_t bytes = 0;
  };
  UserPieces user_pieces(task_struct* t, VirtAddr ubuf, std::uint64_t n, bool write, KernelCost& cost);
  // copy_from_user of those pieces to kernel (physical) address `kdst` on, as string moves; their time.
  Picoseconds copy_from_user_pieces(CpuId cpu, PhysAddr kdst, const UserPieces& up);
  // access_ok: [buf, buf + count) lies below the task's TASK_SIZE.
  static bool access_ok(const task_struct* t, VirtAddr buf, std::uint64_t count);

  // ---- the kernel context of the entry being served (null task between entries) ----
  const KernelContext& context() const { return ctx_; }

  // ---- the OOM killer (oom_kill.cpp), entered from the page allocator's slow path ----
  // Every kill so far, oldest first (what the kernel log said).
  const std::vector<OomKill>& oom_kills() const { return oom_kills_; }
  // The kill of process `tgid`, or nullptr.
  const OomKill* oom_kill_of(int tgid) const;
  // A write to /proc/<tgid>/oom_score_adj: every thread of the process; -EINVAL
  // outside OOM_SCORE_ADJ_MIN..MAX (-1000..1000), -ESRCH for no such process.
  long set_oom_score_adj(int tgid, int adj);

  // ---- the hardware walker's view ----
  PhysAddr pgd_phys(const mm_struct& mm) const { return mm.pgd; }
  Asid asid(const mm_struct& mm) const { return mm.asid; }
  std::uint64_t read_pte(PhysAddr entry_addr) const { return pgtables_.read_pte(entry_addr); }
  void prefetch_pte(PhysAddr entry_addr) const override { pgtables_.prefetch_pte(entry_addr); }
  void set_pte_bits(PhysAddr entry_addr, std::uint64_t bits) { pgtables_.set_pte_bits(entry_addr, bits); }

  // follow_page-like software walk: the page mapped at addr (the head of a huge
  // page for hugetlb leaves), the physical address and the leaf's level.
  struct FollowResult {
    page* pg = nullptr;
    PhysAddr phys = 0;
    pteval_t leaf = 0;
    int level = 0;
  };
  // foll_flags as mm/gup.c (6.1): with FOLL_NUMA (what __get_user_pages adds, and the
  // hardware walker's view, the default here) a PROT_NONE NUMA-hinting entry is not
  // followed (the caller faults it); without it (follow_page(vma, addr, FOLL_GET |
  // FOLL_DUMP) as move_pages calls it: add_page_for_migration, do_pages_stat) such
  // an entry still names its page.
  static constexpr unsigned FOLL_NUMA = 0x200;
  std::optional<FollowResult> follow_page(const mm_struct& mm, VirtAddr addr, unsigned foll_flags = FOLL_NUMA) const;

  // ---- system calls (Linux signatures; return >= 0 or -errno; nothing changes on error;
  //      an exited task gets -ESRCH and its faults are SIGSEGV) ----
  long sys_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, int prot, int flags, int fd, std::uint64_t off,
                KernelCost& cost);
  long sys_munmap(task_struct* t, VirtAddr addr, std::uint64_t len, KernelCost& cost);
  long sys_mprotect(task_struct* t, VirtAddr addr, std::uint64_t len, int prot, KernelCost& cost);
  // Raw brk: returns the new break, or the unchanged one on failure.
  long sys_brk(task_struct* t, VirtAddr brk, KernelCost& cost);
  long sys_madvise(task_struct* t, VirtAddr addr, std::uint64_t len, int advice, KernelCost& cost);
  // msync(2) (mm/msync.c): MS_ASYNC, MS_SYNC, MS_INVALIDATE; -EINVAL, -ENOMEM, -EBUSY (os/msync.cpp).
  long sys_msync(task_struct* t, VirtAddr addr, std::uint64_t len, int flags, KernelCost& cost);
  long sys_mbind(task_struct* t, VirtAddr addr, std::uint64_t len, int mode, const unsigned long* nmask,
                 unsigned long maxnode, unsigned flags, KernelCost& cost);
  long sys_set_mempolicy(task_struct* t, int mode, const unsigned long* nmask, unsigned long maxnode, KernelCost& cost);
  long sys_get_mempolicy(task_struct* t, int* mode, unsigned long* nmask, unsigned long maxnode, VirtAddr addr,
                         unsigned long flags, KernelCost& cost);
  // pid 0 = t itself. nodes == nullptr: query (status = node, -ENOENT, -EFAULT).
  // Otherwise pages are migrated; returns 0 or the number of pages not moved.
  long sys_move_pages(task_struct* t, int pid, unsigned long count, const VirtAddr* pages, const int* nodes,
                      int* status, int flags, KernelCost& cost);

  // migrate_pages(2) (kernel_migrate_pages + do_migrate_pages): every page of
  // process pid (0: t) on old_nodes moves to the node of the same rank in
  // new_nodes (node_remap). Returns the number of pages not moved, or -ESRCH
  // (no such process), -EINVAL (bad mask, or a new node without memory).
  // EPERM (ptrace access, CAP_SYS_NICE) is not modelled: every caller may.
  long sys_migrate_pages(task_struct* t, int pid, unsigned long maxnode, const unsigned long* old_nodes,
                         const unsigned long* new_nodes, KernelCost& cost);

  // ---- files (os/fs.h; fs_syscalls.cpp, filemap.cpp, readahead.cpp, page_writeback.cpp).
  //      Man-page errnos, nothing changed on error. The user buffer of read/write is
  //      range-checked (EFAULT) but not accessed: data is not modelled. ----
  long sys_open(task_struct* t, const std::string& path, int flags, unsigned mode, KernelCost& cost);
  long sys_creat(task_struct* t, const std::string& path, unsigned mode, KernelCost& cost);
  long sys_close(task_struct* t, int fd, KernelCost& cost);
  long sys_read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, KernelCost& cost);
  long sys_write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, KernelCost& cost);
  long sys_pread64(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long sys_pwrite64(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost);
  long sys_lseek(task_struct* t, int fd, std::int64_t offset, int whence, KernelCost& cost);
  long sys_ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost);
  long sys_fsync(task_struct* t, int fd, KernelCost& cost);
  long sys_fdatasync(task_struct* t, int fd, KernelCost& cost);
  long sys_unlink(task_struct* t, const std::string& path, KernelCost& cost);
  long sys_fadvise64(task_struct* t, int fd, std::int64_t offset, std::int64_t len, int advice, KernelCost& cost);
  FileSystem& fs() { return *fs_; }
  const FileSystem& fs() const { return *fs_; }

  // ---- shared memory (os/shmem.h, shmem.cpp): memfd_create(2), SysV shmget/shmat/
  //      shmdt/shmctl(2) with their man-page errnos, nothing changed on error. A
  //      memfd fd also works with close/read/write/pread64/pwrite64/lseek/ftruncate/
  //      fsync/mmap above. name == nullptr: EFAULT; shmctl's buf: IPC_STAT's output. ----
  long sys_memfd_create(task_struct* t, const char* name, unsigned flags, KernelCost& cost);
  long sys_shmget(task_struct* t, int key, std::uint64_t size, int shmflg, KernelCost& cost);
  long sys_shmat(task_struct* t, int shmid, VirtAddr addr, int shmflg, KernelCost& cost);
  long sys_shmdt(task_struct* t, VirtAddr addr, KernelCost& cost);
  long sys_shmctl(task_struct* t, int shmid, int cmd, shmid_ds* buf, KernelCost& cost);
  Shmem& shmem() { return *shmem_; }
  const Shmem& shmem() const { return *shmem_; }

  // ---- fork (fork.cpp), the reverse map (rmap.cpp), page migration (migrate.cpp) ----
  // fork(2): a new process with a copy of t's address space (copy_process with
  // dup_mmap): private anonymous pages shared copy-on-write, shared mappings
  // shared, the task policy copied. Returns the child's pid or -ENOMEM/-ESRCH;
  // on failure t is unchanged and everything the child got is freed.
  long sys_fork(task_struct* t, KernelCost& cost);
  // clone(2) without CLONE_VM (flags may only hold the exit signal): as fork;
  // -EINVAL for any other flag (threads: create_thread).
  long sys_clone(task_struct* t, unsigned long flags, KernelCost& cost);
  // One mapping of a page found by rmap_walk: the VMA, the user address and its PTE.
  struct RmapMapping {
    vm_area_struct* vma;
    VirtAddr addr;
    PteRef pte;
  };
  // rmap_walk_anon: every PTE mapping the anonymous page pg, through its
  // anon_vma's chains and its index (each leaf read charged to `cost` as an
  // 8-byte kernel_read from cpu). fn returns false to stop. Pages without an
  // anon_vma (shmem, hugetlb, the zero page) are not walked. With `migration`
  // (page_vma_mapped_walk's PVMW_MIGRATION) it finds the migration entries
  // pointing at pg instead of present PTEs.
  void rmap_walk(page* pg, CpuId cpu, KernelCost& cost, const std::function<bool(const RmapMapping&)>& fn,
                 bool migration = false);
  // try_to_unmap: clear every PTE mapping pg (each mm's TLB flushed), dropping
  // mapcount, refcount and the RSS and node counters; true when no mapping is left.
  bool try_to_unmap(page* pg, CpuId cpu, KernelCost& cost);
  // page_referenced (folio_referenced): how many mappings had the accessed bit
  // set; each is read and, when set, cleared (no TLB flush, as x86).
  int page_referenced(page* pg, CpuId cpu, KernelCost& cost);
  // migrate_pages for a list of pages: each moved to node nid with all its
  // mappings (os/migrate.h). Returns, per page, the node it is on or -errno.
  std::vector<int> migrate_pages(const std::vector<page*>& pages, int nid, task_struct* t, KernelCost& cost);
  AnonVmas& anon_vmas() { return *anon_vmas_; }
  const AnonVmas& anon_vmas() const { return *anon_vmas_; }

  // ---- reclaim <-> swap seam (os/swap.h): the swap side in swap_state.cpp, the LRU side in
  //      swap.cpp and workingset.cpp ----
  bool add_to_swap(page* pg, CpuId cpu, KernelCost& cost);
  pageout_t pageout(page* pg, CpuId cpu, KernelCost& cost);
  bool remove_swapcache_mapping(page* pg, std::uint64_t shadow, CpuId cpu, KernelCost& cost);
  bool try_to_free_swap(page* pg);
  std::uint64_t total_swap_pages() const;
  std::uint64_t nr_swap_pages() const;
  void lru_cache_add(page* pg, CpuId cpu);
  void mark_page_accessed(page* pg);
  std::uint64_t workingset_eviction(page* pg);
  void workingset_refault(page* pg, std::uint64_t shadow);

  // ---- swap areas (os/swapfile.h: swapfile.cpp, swap_state.cpp, page_io.cpp) ----
  // swapon(2) of an area: its type (>= 0) or -EINVAL/-EBUSY/-EPERM/-ENOMEM, nothing changed on error.
  long sys_swapon(const SwapAreaParams& area, KernelCost& cost);
  // swapoff(2): every page of the area read back in from `cpu`; 0, -EINVAL (no such area) or
  // -ENOMEM (memory ran out: the area stays on, the pages read so far stay in memory, nothing lost).
  long sys_swapoff(const std::string& name, CpuId cpu, KernelCost& cost);
  Swap& swap() { return *swap_; }
  const Swap& swap() const { return *swap_; }
  std::string proc_swaps() const { return swap_->proc_swaps(); }
  // ---- LRU lists, reclaim and mlock (swap.cpp, vmscan.cpp, workingset.cpp, mlock.cpp) ----
  // lru_cache_add_inactive_or_unevictable: a new page of vma onto the CPU's
  // lru_add batch, mlocked first when the VMA is VM_LOCKED (mlock_new_folio).
  void lru_cache_add_inactive_or_unevictable(page* pg, vm_area_struct& vma, CpuId cpu);
  // lru_add_drain (this CPU's batch onto the lists) / lru_add_drain_all.
  void lru_add_drain(CpuId cpu);
  void lru_add_drain_all();
  // Pages waiting in cpu's lru_add batch.
  unsigned lru_add_batch_size(CpuId cpu) const;
  // mlock(2), munlock(2), mlock2(2) (flags 0 or MLOCK_ONFAULT), mlockall(2)
  // (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT), munlockall(2): 0 or -errno
  // (EINVAL, ENOMEM for unmapped ranges, EAGAIN when a page cannot be had).
  long sys_mlock(task_struct* t, VirtAddr start, std::uint64_t len, KernelCost& cost);
  long sys_mlock2(task_struct* t, VirtAddr start, std::uint64_t len, int flags, KernelCost& cost);
  long sys_munlock(task_struct* t, VirtAddr start, std::uint64_t len, KernelCost& cost);
  long sys_mlockall(task_struct* t, int flags, KernelCost& cost);
  long sys_munlockall(task_struct* t, KernelCost& cost);
  // mm->def_flags (VM_LOCKED | VM_LOCKONFAULT after mlockall(MCL_FUTURE)).
  unsigned long mm_def_flags(const mm_struct& mm) const;
  // node_reclaim (zone_reclaim_mode): reclaim on nid before the allocator spills
  // elsewhere; pages reclaimed.
  unsigned long node_reclaim(NodeId nid, gfp_t gfp, unsigned order, CpuId cpu, KernelCost& cost) override;
  const ReclaimParams& reclaim_params() const { return params_.reclaim; }

  // ---- memcg seam (os/memcontrol.h): charging in memcontrol.cpp, callers in the fault,
  //      swap-in, page-cache and shmem paths ----
  int mem_cgroup_charge(page* pg, mm_struct* mm, gfp_t gfp, KernelCost& cost);
  int mem_cgroup_swapin_charge_folio(page* pg, mm_struct* mm, gfp_t gfp, swp_entry_t entry, KernelCost& cost);
  void mem_cgroup_uncharge(page* pg);
  // ---- memory cgroups v2 (os/memcontrol.h; memcontrol.cpp, memcontrol_files.cpp) ----
  // mkdir of a cgroup with its limits: its id, or -EINVAL (bad path), -ENOENT (no parent), -EEXIST.
  long mem_cgroup_create(const MemCgroupParams& p);
  // echo <tgid> > <path>/cgroup.procs for a process that has charged nothing yet:
  // 0, -ESRCH (no such process), -ENOENT (no such cgroup), -EBUSY (it already has pages).
  long cgroup_attach_task(int tgid, const std::string& path);
  // The cgroup a process's memory is charged to ("/" for the root), or "" for no such process.
  std::string task_cgroup(int tgid) const;
  // A cgroup file: memory.current, memory.min/low/high/max, memory.swap.current,
  // memory.swap.max, memory.stat, memory.events, memory.events.local,
  // memory.swap.events, memory.numa_stat (Linux's formats). nullopt: no such cgroup or file.
  std::optional<std::string> cgroup_file_read(const std::string& path, std::string_view file) const;
  // Writes memory.min/low/high/max and memory.swap.max ("max" or bytes): 0, -ENOENT, -EINVAL
  // (memory.max lowered below usage reclaims first, as memory_max_write, then OOM-kills).
  long cgroup_file_write(const std::string& path, std::string_view file, std::string_view value, CpuId cpu,
                         KernelCost& cost);
  const MemCgroups& memcgs() const { return *memcgs_; }
  // memory.stat's figures of one cgroup (hierarchical), name -> value in Linux's order.
  std::vector<std::pair<std::string, std::uint64_t>> memcg_stat(const mem_cgroup& memcg) const;
  // try_to_free_mem_cgroup_pages: reclaim from memcg's subtree only; pages reclaimed.
  unsigned long try_to_free_mem_cgroup_pages(mem_cgroup* memcg, unsigned long nr_pages, gfp_t gfp, bool may_swap,
                                             CpuId cpu, KernelCost& cost);
  // swap_cgroup: __mem_cgroup_try_charge_swap at folio_alloc_swap (false: over memory.swap.max,
  // nothing charged) and __mem_cgroup_uncharge_swap when the slot is freed.
  bool mem_cgroup_try_charge_swap(page* pg, swp_entry_t entry);
  void mem_cgroup_uncharge_swap(swp_entry_t entry);
  // count_memcg_events for the cgroup of a page / mm (no-op for the root).
  void count_memcg_events(std::uint32_t memcg_id, memcg_event_item item, std::uint64_t n = 1) {
    if (memcg_id) memcgs_->by_id[memcg_id]->events[item] += n;
  }

  // ---- memory tiers seam (os/memory_tiers.h): tiers and demotion targets in memory_tiers.cpp,
  //      promotion in NUMA balancing, demotion in reclaim ----
  bool node_is_toptier(int nid) const;
  int next_demotion_node(int nid) const;
  bool node_demotion_enabled() const;
  // node_get_allowed_targets: every node of the tiers below nid's.
  nodemask_t node_get_allowed_targets(int nid) const;
  // can_demote (migrate.cpp): demotion is enabled and nid has a demotion target.
  bool can_demote(int nid) const;
  const MemoryTiers& memory_tiers() const { return memtiers_; }
  // /sys/kernel/mm/numa/demotion_enabled (store: kstrtobool, 0 or -EINVAL;
  // -ENOENT no such file, -EACCES a read-only nodelist) and
  // /sys/devices/virtual/memory_tiering/memory_tier<N>/nodelist (show; nullopt: no such file).
  int memory_tiers_sysfs_store(std::string_view path, std::string_view value);
  std::optional<std::string> memory_tiers_sysfs_show(std::string_view path) const;

  // ---- automatic NUMA balancing (os/numa_balancing.h; numa_balancing.cpp, numa_migrate.cpp,
  //      change_prot_numa in mprotect.cpp, do_numa_page in memory.cpp) ----
  NumaBalancing& numa_balancing() { return *numab_; }
  const NumaBalancing& numa_balancing() const { return *numab_; }
  // change_prot_numa: present PTEs of [start, end) in vma made PROT_NONE hint
  // entries (the write bit kept as pte_savedwrite); returns how many changed.
  // The caller flushes the TLB.
  unsigned long change_prot_numa(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end, KernelCost& cost);

  // ---- page identity tokens for verification (os/page_token.h) ----
  PageTokens& page_tokens() { return page_tokens_; }
  const PageTokens& page_tokens() const { return page_tokens_; }

  // ---- statistics in Linux's formats, with the hugetlb pool's figures (kernel_proc.cpp) ----
  HugetlbInfo hugetlb_info() const;
  HugetlbInfo hugetlb_node_info(NodeId nid) const;
  std::string proc_meminfo() const;
  std::string node_meminfo(NodeId nid) const;
  // The figures node_meminfo prints (the JSON report reads these, not the text).
  std::vector<ProcField> node_meminfo_fields(NodeId nid) const;
  // The hugetlb sysfs files (kernel_proc.cpp), per hstate <size> 2048 or 1048576:
  // /sys/kernel/mm/hugepages/hugepages-<size>kB/{nr_hugepages, nr_overcommit_hugepages,
  // free_hugepages, resv_hugepages, surplus_hugepages} and
  // /sys/devices/system/node/node<N>/hugepages/hugepages-<size>kB/{nr_hugepages,
  // free_hugepages, surplus_hugepages}. Writing nr_hugepages resizes the pool as
  // set_max_huge_pages does (node-locally for a node file), charged to `cost`
  // from `cpu`. -ENOENT for no such file, -EACCES for writing a read-only one,
  // -EINVAL for nr_overcommit_hugepages of the 1 GiB hstate; nothing changes then.
  long hugetlb_sysfs_write(std::string_view path, std::uint64_t value, CpuId cpu, KernelCost& cost);
  std::optional<std::uint64_t> hugetlb_sysfs_read(std::string_view path) const;

  // ---- the kernel's slab allocator and its leak detector ----
  Slub& slub() { return *slub_; }
  const Slub& slub() const { return *slub_; }
  KernelCaches& kernel_caches() { return *caches_; }
  // kmemleak_scan over the kernel's owner records (tasks, mms, VMA records,
  // policies, page-table locks): objects allocated and reached by none of them.
  Kmemleak& kmemleak() { return *kmemleak_; }
  Kmemleak::ScanResult kmemleak_scan() const { return kmemleak_->scan(); }
  // The numa_policy slab object behind a policy the kernel handed out (0: none).
  PhysAddr mpol_object(const mempolicy* pol) const;

  // ---- accessors ----
  PhysMem& physmem() { return pm_; }
  const PhysMem& physmem() const { return pm_; }
  HugetlbPool& hugetlb() { return *hugetlb_; }
  const HugetlbPool& hugetlb() const { return *hugetlb_; }
  PageTables& pgtables() { return pgtables_; }
  const Topology& topology() const { return topo_; }
  const KernelParams& params() const { return params_; }
  Platform& platform() { return platform_; }
  // The shared zero page (empty_zero_page).
  PhysAddr zero_page_phys() const { return zero_pfn_ << kPageShift; }
  nodemask_t mems_allowed() const { return mems_allowed_; }
  NodeId cpu_to_node(CpuId cpu) const { return topo_.cpu_node(cpu); }

  // ---- the hardware's entry (os/kernel_entry.h, kernel_entry.cpp); read_pte, set_pte_bits
  //      and the sys_* calls above are its other members ----
  EntryResult page_fault(task_struct* t, VirtAddr addr, bool write, Picoseconds now, KernelCost& cost) override;
  void syscall_enter(task_struct* t, Picoseconds now) override;
  void task_exit(task_struct* t, Picoseconds now, KernelCost& cost) override;

  // ---- kernel threads (os/kthread.h): kswapd<N>, kcompactd<N>, khugepaged, the flusher,
  //      per-task periodic work; wakeup_kswapd(nid) is the allocator's entry point ----
  Kthreads& kthreads() { return *kthreads_; }
  const Kthreads& kthreads() const { return *kthreads_; }

  // ---- transparent huge pages (huge_memory.cpp, khugepaged.cpp; os/huge_memory.h) ----
  const ThpParams& thp() const { return params_.thp; }
  // A write to /sys/kernel/mm/transparent_hugepage/<file> (enabled, defrag,
  // use_zero_page, shmem_enabled, khugepaged/<knob>): 0 or -EINVAL (nothing changed).
  int thp_sysfs_store(std::string_view file, std::string_view value);
  // Its read ("always [madvise] never", numbers, the khugepaged counters).
  std::string thp_sysfs_show(std::string_view file) const;
  // prctl(2) for PR_SET_THP_DISABLE / PR_GET_THP_DISABLE; other options -EINVAL.
  long sys_prctl(task_struct* t, int option, unsigned long arg2, KernelCost& cost);
  // The deferred split queue's shrinker (deferred_split_scan): splits up to nr
  // partly unmapped THPs of node nid, freeing their unmapped subpages (what
  // reclaim calls under memory pressure). Returns how many THPs were split.
  unsigned long deferred_split_scan(NodeId nid, unsigned long nr, KernelCost& cost);
  // deferred_split_count: THPs waiting on node nid's queue.
  unsigned long deferred_split_count(NodeId nid) const;
  // split_huge_page: a THP becomes 512 small pages (its PMD mappings split to
  // PTEs first); unmapped subpages are freed. False (nothing changed) when a PMD
  // split could not get its page table.
  bool split_huge_page(page* head, CpuId cpu, KernelCost& cost);
  // split_huge_page_to_list: as split_huge_page, the head isolated on `list` by
  // reclaim (the mapped subpages join it there, each with a reference).
  bool split_huge_page_to_list(page* head, CpuId cpu, KernelCost& cost, PageList* list);
  // One khugepaged pass (khugepaged_do_scan): up to pages_to_scan PTEs of the
  // registered mms scanned, eligible 2 MiB ranges collapsed, on `cpu`. Returns
  // the sleep khugepaged takes after it (scan or alloc sleep).
  KthreadResult khugepaged_scan(CpuId cpu, KernelCost& cost);
  // khugepaged's sysfs counters.
  struct KhugepagedStats {
    std::uint64_t pages_collapsed = 0, full_scans = 0, pages_scanned = 0;
  };
  const KhugepagedStats& khugepaged_stats() const { return khugepaged_stats_; }
  // The huge zero page's physical address (0 until the first read fault made it).
  PhysAddr huge_zero_page_phys() const { return huge_zero_phys_; }
  // ---- compaction (os/compaction.h, compaction.cpp) ----
  Compaction& compaction() { return *compaction_; }
  const Compaction& compaction() const { return *compaction_; }
  // echo 1 > /proc/sys/vm/compact_memory: every node with memory compacted whole from `cpu`.
  void compact_memory(CpuId cpu, KernelCost& cost);
  // echo 1 > /sys/devices/system/node/node<nid>/compact: 0, -ENODEV (no such node
  // with memory) or -EINVAL (no such CPU).
  int compact_node(NodeId nid, CpuId cpu, KernelCost& cost);
  // wakeup_kcompactd(pgdat, order, highest_zoneidx): kswapd calls it after balancing
  // a node for a high-order request (kswapd_try_to_sleep).
  void wakeup_kcompactd(NodeId nid, int order, zone_type highest_zoneidx);

  // CONFIG_DEBUG_VM-like: VMAs sorted and non-overlapping with sane flags, every
  // present leaf inside a VMA with compatible protection, page map/ref counts
  // equal to the number of leaves mapping them, RSS counters, page-table page
  // counts (NR_PAGETABLE, pgtables_bytes), hugetlb reservations, and the
  // physical allocator's own check. Aborts with a message on the first violation.
  void check_consistency() const;

 private:
  friend struct KernelTestAccess;
  friend class NumaBalancing;
  friend class Compaction;
  friend class FileSystem;
  friend class Shmem;
  // compaction.cpp: AllocHooks::try_to_compact_pages (direct compaction from the context's CPU)
  // and the success after it.
  compact_result try_to_compact_pages(gfp_t gfp, unsigned order, const zonelist& zl, const nodemask_t* nodemask,
                                      compact_priority prio, KernelCost& cost) override;
  void compaction_alloc_success(zone& z, unsigned order) override;
  // PgtableFrameSource: page-table frames from the buddy on the CPU's node.
  std::optional<PhysAddr> alloc_pgtable_frame(CpuId cpu, KernelCost& cost) override;
  void free_pgtable_frame(CpuId cpu, PhysAddr frame, KernelCost& cost) override;

  // mmap.cpp
  long do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags, std::uint64_t align,
               KernelCost& cost);
  // do_mmap of a file-backed mapping (file non-null: the VMA holds it, pgoff its offset in pages).
  long do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags, std::uint64_t align,
               std::shared_ptr<file> vm_file, std::uint64_t pgoff, KernelCost& cost);
  // do_mmap with a shmem object for a shared mapping (os/shmem.h; null: shmem_zero_setup).
  long do_mmap(task_struct* t, VirtAddr addr, std::uint64_t len, unsigned long vm_flags, int flags, std::uint64_t align,
               std::shared_ptr<file> file, std::uint64_t pgoff, KernelCost& cost, std::shared_ptr<shmem_inode_info> shm);
  // do_vmi_munmap after validation: zap, free page tables, remove VMAs. Splits first.
  void do_munmap(task_struct* t, VirtAddr start, VirtAddr end, KernelCost& cost);
  // unmap_region: zap leaves of [start, end) inside `vma`, freeing pages and
  // dropping swap and migration entries; returns how many leaves mapping a page
  // (present or PROT_NONE) were cleared.
  std::size_t zap_range(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end, KernelCost& cost);
  std::size_t zap_range(CpuId cpu, vm_area_struct& vma, VirtAddr start, VirtAddr end, KernelCost& cost);
  // free_pgtables for a hole [start, end) that no VMA covers any more.
  std::size_t free_pgtables_between(task_struct* t, VirtAddr start, VirtAddr end, KernelCost& cost);
  void populate_range(task_struct* t, VirtAddr start, VirtAddr end, bool write, KernelCost& cost);
  // mprotect.cpp
  // Apply fn to every VMA overlapping [start, end) after splitting at start and
  // end, then merge the results with their neighbours (vma_modify + vma_merge).
  void modify_range(mm_struct& mm, VirtAddr start, VirtAddr end, const std::function<void(vm_area_struct&)>& fn,
                    KernelCost& cost);
  // change_protection: rewrite the entries of [start, end) to their VMAs' new
  // flags; true when a TLB flush is needed.
  bool change_protection(task_struct* t, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost);
  // memory.cpp
  // handle_mm_fault proper (no exception entry/exit cycles): also used by
  // MAP_POPULATE and get_user_pages-like callers.
  FaultResult fault_core(task_struct* t, VirtAddr addr, unsigned fault_flags, KernelCost& cost);
  // Fault dispatch as mm/memory.c, results as vm_fault_t bits (os/vm_fault.h):
  // handle_mm_fault for a VMA -> hugetlb_fault or __handle_mm_fault (PMD stage,
  // THP seam) -> handle_pte_fault -> do_anonymous_page / do_wp_page /
  // do_swap_page (migration_entry_wait) / do_numa_page.
  FaultResult mm_fault_error(task_struct* t, VirtAddr addr, vm_fault_t r, KernelCost& cost);
  void mm_account_fault(task_struct* t, unsigned flags, vm_fault_t r);
  vm_fault_t handle_mm_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags, KernelCost& cost);
  vm_fault_t __handle_mm_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags, KernelCost& cost);
  vm_fault_t do_huge_pmd_anonymous_page(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t handle_pte_fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t do_swap_page(task_struct* t, vm_fault& vmf, KernelCost& cost);
  void migration_entry_wait(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t do_numa_page(task_struct* t, vm_fault& vmf, KernelCost& cost);
  FaultResult do_anonymous_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte, unsigned flags,
                                KernelCost& cost);
  FaultResult do_wp_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pte, KernelCost& cost);
  vm_fault_t hugetlb_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, unsigned flags, KernelCost& cost);
  // File-backed faults (memory.cpp, mm/memory.c do_fault): do_read_fault (with
  // do_fault_around / filemap_map_pages), do_cow_fault, do_shared_fault, and
  // wp_page_shared for a write to a clean shared file page.
  vm_fault_t do_fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t do_read_fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t do_cow_fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t do_shared_fault(task_struct* t, vm_fault& vmf, KernelCost& cost);
  vm_fault_t wp_page_shared(task_struct* t, vm_fault& vmf, KernelCost& cost);
  // filemap_map_pages over the fault_around_bytes window around vmf: cached,
  // up-to-date, unlocked pages whose PTE is none mapped read-only. Pages mapped.
  unsigned do_fault_around(task_struct* t, vm_fault& vmf, KernelCost& cost);
  // do_set_pte / finish_fault for a page-cache page: page_add_file_rmap, RSS, the PTE.
  void map_file_pte(task_struct* t, vm_area_struct& vma, const PteRef& pte, page* pg, bool writable, KernelCost& cost);
  // rmap.cpp: page_add_file_rmap (one more mapping and reference; NR_FILE_MAPPED on the first).
  void page_add_file_rmap(page* pg, mm_struct& mm);
  // rmap_walk_file: every PTE mapping the page-cache page pg, through the VMAs of
  // its address_space (the i_mmap walk: every mm's VMAs of that file, in mm order).
  void rmap_walk_file(page* pg, CpuId cpu, KernelCost& cost, const std::function<bool(const RmapMapping&)>& fn);
  // page_mkclean: write-protect and clean every PTE mapping pg; true when one was dirty.
  bool page_mkclean(page* pg, CpuId cpu, KernelCost& cost);
  // unmap_mapping_range (even_cows): every PTE of every VMA of ino mapping file
  // pages from first_index on is zapped (truncate, MS_INVALIDATE-free paths).
  void unmap_mapping_range(inode& ino, std::uint64_t first_index, CpuId cpu, KernelCost& cost);
  page* alloc_user_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, KernelCost& cost);
  const mempolicy* effective_policy(const task_struct* t, const vm_area_struct* vma) const;
  pteval_t make_pte(PhysAddr phys, unsigned long vm_flags, bool writable) const;
  FaultResult segv(task_struct* t, VirtAddr addr, int code, KernelCost& cost);
  // Not memory.cpp's: rmap.cpp's put_page on a user page (the mapping's reference
  // dropped, the page freed on the last), beside page_remove_rmap, its caller on every zap.
  void put_user_page(CpuId cpu, page* pg, KernelCost& cost);
  // Move the page mapped at `addr` in vma to node `nid` (migrate.cpp).
  int migrate_one(task_struct* t, vm_area_struct& vma, VirtAddr addr, int nid, KernelCost& cost);
  // ---- reverse map, fork and migration internals (rmap.cpp, fork.cpp, migrate.cpp) ----
  // page_add_new_anon_rmap: a new anonymous page mapped once at addr of vma.
  void page_add_new_anon_rmap(page* pg, vm_area_struct& vma, VirtAddr addr);
  // page_remove_rmap for one leaf of mm going away (zap, wp copy): mapcount,
  // RSS and node counters, then the reference dropped (put_user_page).
  void page_remove_rmap(CpuId cpu, mm_struct& mm, page* pg, bool huge, KernelCost& cost);
  // migrate_pages' work for one page (unmap_and_move): -errno or the new node.
  int unmap_and_move(page* pg, int nid, task_struct* t, KernelCost& cost);
  // Move a shmem or hugetlb page, mapped exactly by `maps`, to node nid (hugetlb:
  // a pool page there), its entries cleared and rewritten (no migration entries).
  int move_mapped_page(page* pg, const std::vector<RmapMapping>& maps, int nid, bool huge, task_struct* t,
                       KernelCost& cost);
  // Page migration through migration entries (migrate.cpp): try_to_migrate
  // replaces every mapping of a locked anonymous page with a migration entry;
  // migrate_in_flight_complete copies it and runs remove_migration_ptes (also
  // what a fault waiting on the entry completes, through migration_waiter_).
  struct MigrationInFlight;
  int migrate_anon_page(page* old_pg, const std::vector<RmapMapping>& maps, int nid, task_struct* t, KernelCost& cost);
  // With `batch`, the mms to flush are added to it instead of flushed (TTU_BATCH_FLUSH).
  void try_to_migrate(page* pg, const std::vector<RmapMapping>& maps, CpuId cpu, KernelCost& cost,
                      std::vector<mm_struct*>* batch = nullptr);
  // move_pages / migrate_pages / mbind: the pages mapped at (vma, addr) moved to
  // nids[i] (status[i]: the node or -errno), small anonymous pages in batches
  // through migrate_pages, the others one by one (migrate_one).
  void migrate_mapped_pages(task_struct* t, const std::vector<std::pair<vm_area_struct*, VirtAddr>>& where,
                            const std::vector<int>& nids, int* status, KernelCost& cost);
  // migrate_anon_page's move into a page the caller has; migrate_page_to: compaction's
  // migration of one anonymous page into its target (0, or -EAGAIN with nothing changed).
  void migrate_anon_page_into(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                              KernelCost& cost);
  int migrate_page_to(page* old_pg, page* new_pg, CpuId cpu, KernelCost& cost);
  void migrate_isolated_anon_page(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                                  KernelCost& cost);
  // Reclaim's demotion (migrate.cpp, mm/vmscan.c demote_folio_list + can_demote):
  // the pages of `demote` (isolated, from node nid) migrated to nid's demotion
  // target (MR_DEMOTION), falling back to the other nodes of the lower tiers;
  // those that could not move stay on the list. Returns how many moved.
  unsigned long demote_folio_list(PageList& demote, int nid, bool kswapd, CpuId cpu, KernelCost& cost);
  void migrate_in_flight_complete(KernelCost& cost);
  void remove_migration_ptes(page* old_pg, page* new_pg, CpuId cpu, KernelCost& cost);
  // remove_migration_pte for one entry found at m (anonymous and page-cache pages).
  void remove_migration_pte(const RmapMapping& m, page* new_pg, CpuId cpu, KernelCost& cost);
  // Page-cache (file) page migration (migrate.cpp; Linux's filemap_migrate_folio path):
  // file_page_migratable collects a page-cache page's mappings (rmap_walk_file) and
  // checks folio_migrate_mapping's expected references (the cache's, `isolation`
  // of the caller, one per mapping); migrate_file_page isolates and moves it to nid
  // (sync = MIGRATE_SYNC: a page under read or writeback is waited for, else -EBUSY);
  // migrate_isolated_file_page moves an isolated page into new_pg.
  bool file_page_migratable(page* pg, int isolation, std::vector<RmapMapping>& maps, CpuId cpu, KernelCost& cost);
  int migrate_file_page(page* pg, int nid, bool sync, CpuId cpu, KernelCost& cost);
  void migrate_isolated_file_page(page* old_pg, page* new_pg, const std::vector<RmapMapping>& maps, CpuId cpu,
                                  KernelCost& cost);
  // migrate_to_node: every page of mm on node source moved to dest; how many were not.
  long migrate_to_node(task_struct* t, mm_struct& mm, int source, int dest, KernelCost& cost);
  MigrationInFlight* migration_in_flight_ = nullptr;
  // Test seam: runs between try_to_migrate and the copy (the page unmapped, entries in place).
  std::function<void(page*)> migration_unmapped_hook_;
  // fork.cpp
  task_struct* copy_process(task_struct* t, KernelCost& cost);
  bool dup_mmap(task_struct* parent, task_struct* child, KernelCost& cost);
  // mprotect's can_change_pte_writable: false for a private page shared copy-on-write.
  bool can_change_pte_writable(const vm_area_struct& vma, pteval_t pte) const;
  // oom_kill.cpp: AllocHooks::out_of_memory for the context's task (none: no kill).
  bool out_of_memory(oom_control& oc, KernelCost& cost) override;
  // vmscan.cpp: AllocHooks::wakeup_kswapd wakes the node's kswapd thread.
  void wakeup_kswapd(zone& z, gfp_t gfp, unsigned order, zone_type highest_zoneidx) override;
  // vmscan.cpp: AllocHooks' direct reclaim and the reclaimable estimate.
  unsigned long try_to_free_pages(const zonelist& zl, unsigned order, gfp_t gfp, const nodemask_t* nodemask,
                                  KernelCost& cost) override;
  unsigned long zone_reclaimable_pages(const zone& z) const override;
  void boost_watermark(zone& z) override;
  // ---- reclaim internals (vmscan.cpp, swap.cpp, mlock.cpp) ----
  friend struct LruTestAccess;
  void install_kswapd();  // kswapd<N>'s threadfn (kernel.cpp's constructor)
  KthreadResult kswapd_pass(Kthread& self, NodeId nid, KernelCost& cost);  // kswapd()'s loop, one round
  bool balance_pgdat(pglist_data& pgdat, int order, zone_type highest_zoneidx, CpuId cpu, KernelCost& cost);
  bool pgdat_balanced(const pglist_data& pgdat, int order, zone_type highest_zoneidx) const;
  void shrink_node(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost);
  void shrink_lruvec(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost);
  unsigned long shrink_list(lru_list lru, unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc, CpuId cpu,
                            KernelCost& cost);
  void shrink_active_list(unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc, lru_list lru, CpuId cpu,
                          KernelCost& cost);
  unsigned long shrink_inactive_list(unsigned long nr_to_scan, pglist_data& pgdat, scan_control& sc, lru_list lru,
                                     CpuId cpu, KernelCost& cost);
  unsigned long isolate_lru_pages(unsigned long nr_to_scan, pglist_data& pgdat, PageList& dst,
                                  unsigned long& nr_scanned, scan_control& sc, lru_list lru, KernelCost& cost);
  // reclaim_throttle (vmscan.cpp): the reclaiming task sleeps (io_wait) for `reason`'s
  // timeout or, for VMSCAN_THROTTLE_WRITEBACK, until enough writes of the node completed.
  void reclaim_throttle(pglist_data& pgdat, vmscan_throttle_state reason, CpuId cpu, KernelCost& cost);
  void consider_reclaim_throttle(pglist_data& pgdat, const scan_control& sc, CpuId cpu, KernelCost& cost);
  bool skip_throttle_noprogress(const pglist_data& pgdat) const;
  static pglist_data* first_pgdat(const zonelist& zl, const scan_control& sc);
  // acct_reclaim_writeback: folio_end_writeback's accounting for the throttled (swap's completions).
  void acct_reclaim_writeback(page* pg);
 public:
  const ReclaimThrottleState& reclaim_throttle_state(NodeId nid) const {
    return reclaim_throttle_[static_cast<std::size_t>(nid.value())];
  }
 private:
  unsigned move_pages_to_lru(PageList& list, CpuId cpu, KernelCost& cost);
  // madvise(MADV_COLD / MADV_PAGEOUT)'s page work over a validated range (madvise.cpp).
  void madvise_cold_or_pageout(task_struct* t, VirtAddr start, VirtAddr end, bool pageout, KernelCost& cost);
  unsigned long shrink_folio_list(PageList& list, pglist_data& pgdat, scan_control& sc, reclaim_stat& stat,
                                  CpuId cpu, KernelCost& cost);
  void get_scan_count(pglist_data& pgdat, const scan_control& sc, unsigned long nr[NR_LRU_LISTS]) const;
  bool inactive_is_low(const pglist_data& pgdat, lru_list inactive_lru, zone_type reclaim_idx) const;
  // can_reclaim_anon_pages / can_age_anon_pages: anonymous pages of node nid can go somewhere:
  // to swap, or (Linux 6.1) demoted to a lower memory tier.
  bool can_reclaim_anon_pages(int nid) const { return nr_swap_pages() > 0 || can_demote(nid); }
  // The page's LRU state when it is freed (put_user_page): off its list or batch.
  void lru_page_release(page* pg);
  // Migration's isolate_lru_page (the lru_add batches drained first when the
  // page is still in one) and the new page's putback with the old one's LRU and
  // mlock state (folio_migrate_flags + putback_lru_page).
  void isolate_lru_page(page* pg);
  void putback_migrated_page(page* old_pg, page* new_pg, CpuId cpu);
  void mlock_page(page* pg);
  void munlock_page(page* pg, CpuId cpu, KernelCost& cost);
  long apply_mlock(task_struct* t, VirtAddr start, std::uint64_t len, unsigned long lock_flags, KernelCost& cost);
  void mlock_range_pages(task_struct* t, vm_area_struct& vma, VirtAddr start, VirtAddr end, bool lock,
                         KernelCost& cost);
  std::vector<LruAddBatch> lru_add_;               // per CPU
  std::map<std::uint32_t, unsigned long> mm_def_flags_;  // mm_id -> def_flags (mlockall MCL_FUTURE)
  long oom_badness(const mm_struct& mm) const;
  // oom_badness with the task's oom_score_adj scaled by totalpages/1000
  // (LONG_MIN: OOM_SCORE_ADJ_MIN, never chosen).
  long oom_badness(const task_struct& t, std::uint64_t totalpages) const;
  void oom_reap(task_struct* reaper, mm_struct& mm, KernelCost& cost);
  // tlbflush.cpp
  // `cpu` initiates the flush (and flushes itself when it is in mm_cpumask).
  void flush_tlb_range(CpuId cpu, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost);
  void flush_tlb_mm(CpuId cpu, mm_struct& mm, KernelCost& cost);
  // exit_mmap
  void exit_mmap(task_struct* t, mm_struct& mm);
  void syscall_cost(KernelCost& cost) const;
  // mpol_new / mpol_dup's allocation: a policy object backed by a numa_policy slab object,
  // freed (__mpol_put) when the last reference goes. nullptr on failure.
  std::shared_ptr<mempolicy> mpol_object_new(const mempolicy& pol, CpuId cpu, KernelCost& cost,
                                      AllocSite site = AllocSite::here());
  // One VMA operation's object reservation: VMA records created while it lives
  // take their vm_area_struct from it, erased ones free theirs (see VmaObjects).
  class VmaOp {
   public:
    VmaOp(Kernel& k, mm_struct& mm, CpuId cpu, KernelCost& cost)
        : mm_(mm), res_(*k.caches_, cpu, cost, k.anon_vmas_.get()), prev_(mm.vma_objects) {
      mm.vma_objects = &res_;
    }
    ~VmaOp() { mm_.vma_objects = prev_; }
    VmaOp(const VmaOp&) = delete;
    VmaOp& operator=(const VmaOp&) = delete;
    // All n objects or none (ENOMEM, nothing changed).
    // Each split may clone the longest anon_vma chain of the mm: reserve its records too.
    bool reserve(int n, AllocSite site = AllocSite::here()) {
      return res_.reserve(n, n > 0 ? n * max_anon_vma_chain(mm_) : 0, site);
    }

   private:
    mm_struct& mm_;
    KernelCaches::VmaReserve res_;
    VmaObjects* prev_;
  };
  void register_kmemleak_roots();
  bool mm_objects_ok() const;  // kernel_check.cpp
  // ---- swap (swap_state.cpp) ----
  friend class Swap;
  // do_swap_page / unuse_pte: pg (holding the caller's reference, which the mapping
  // takes over) mapped at the swap PTE `pte`, the entry's count dropped; writable
  // when `write` and the page is exclusive. Returns whether it was mapped writable.
  bool map_swapped_page(vm_area_struct& vma, VirtAddr va, const PteRef& pte, page* pg, swp_entry_t e, bool write,
                        CpuId cpu, KernelCost& cost);
  void check_lru() const;      // kernel_check.cpp: the LRU lists and their counters
  // ---- memory cgroups internals (memcontrol.cpp) ----
  void uncharge_folio(page* pg, unsigned order) override;  // AllocHooks: the page allocator's free
  int try_charge_memcg(mem_cgroup* memcg, gfp_t gfp, unsigned long nr_pages, KernelCost& cost);
  bool consume_stock(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu);
  void refill_stock(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu);
  void drain_stock(memcg_stock_pcp& stock);
  void drain_all_stock(mem_cgroup* root);
  void memcg_memory_event(mem_cgroup* memcg, os::memcg_memory_event event);
  void mem_cgroup_handle_over_high(task_struct* t, KernelCost& cost);
  bool mem_cgroup_out_of_memory(mem_cgroup* memcg, gfp_t gfp, int order, KernelCost& cost);
  mem_cgroup* get_mem_cgroup_from_mm(const mm_struct* mm) const;
  // mem_cgroup_calculate_protection (effective_protection) of memcg under root.
  void mem_cgroup_calculate_protection(mem_cgroup* root, mem_cgroup* memcg) const;
  // shrink_node_memcgs: each cgroup of the target's subtree on pgdat, memory.min/low honoured.
  void shrink_node_memcgs(pglist_data& pgdat, scan_control& sc, CpuId cpu, KernelCost& cost);
  // The pages of `lru` in the reclaim target's lruvecs on pgdat (the node's for global reclaim).
  std::uint64_t target_lru_pages(const pglist_data& pgdat, const scan_control& sc, lru_list lru) const;
  void check_memcg() const;  // kernel_check.cpp: charges = pages and swap slots per cgroup, stocks
  std::unique_ptr<MemCgroups> memcgs_ = std::make_unique<MemCgroups>();
  // ---- kernel memory charging (memcontrol.cpp: obj_cgroup, Linux 6.1 CONFIG_MEMCG_KMEM) ----
  friend class KmemSlabHooks;
  std::unique_ptr<SlabMemcgHooks> slab_memcg_hooks_;  // installed on slub_ by the constructor
  void install_kmem_accounting();  // the constructor: slab_memcg_hooks_ on slub_
  // get_obj_cgroup_from_current: the context task's cgroup, null for the root, a kernel thread or no task.
  mem_cgroup* get_obj_cgroup_from_current() const;
  int obj_cgroup_charge(mem_cgroup* memcg, gfp_t gfp, std::size_t size, CpuId cpu, KernelCost& cost);
  void obj_cgroup_uncharge(mem_cgroup* memcg, std::size_t size, CpuId cpu);
  int obj_cgroup_charge_pages(mem_cgroup* memcg, gfp_t gfp, unsigned long nr_pages, KernelCost& cost);
  void obj_cgroup_uncharge_pages(mem_cgroup* memcg, unsigned long nr_pages, CpuId cpu);
  bool consume_obj_stock(mem_cgroup* memcg, std::size_t nr_bytes, CpuId cpu);
  void refill_obj_stock(mem_cgroup* memcg, std::size_t nr_bytes, bool allow_uncharge, CpuId cpu);
  void drain_obj_stock(obj_stock_pcp& stock, CpuId cpu);
  void mod_memcg_kmem_state(mem_cgroup* memcg, NodeId nid, memcg_kmem_stat_item item, long delta);
  // __memcg_kmem_charge_page / __memcg_kmem_uncharge_page for a page-table frame (NR_PAGETABLE too):
  // 0 (charged to the current task's cgroup, or nothing to charge) or -ENOMEM.
  int memcg_kmem_charge_pgtable(page* pg, gfp_t gfp, KernelCost& cost);
  void memcg_kmem_uncharge_pgtable(page* pg, CpuId cpu);
  void check_memcg_kmem() const;  // memcontrol.cpp: slab bytes charged = pages charged for objects
  // ---- THP internals (huge_memory.cpp, khugepaged.cpp) ----
  void thp_init();  // installs khugepaged's threadfn (from the constructor)
  page* thp_head(page* pg) { return PageTail(pg) ? pm_.pfn_to_page(Pfn(pg->private_)) : pg; }
  const page* thp_head(const page* pg) const { return PageTail(pg) ? pm_.pfn_to_page(Pfn(pg->private_)) : pg; }
  // hugepage_vma_check for faults and khugepaged: THP allowed in vma (mode, madvise, prctl).
  bool thp_vma_allowed(const vm_area_struct& vma) const;
  // vma_thp_gfp_mask: the gfp of the defrag mode for this VMA.
  gfp_t thp_gfp_mask(const vm_area_struct& vma, bool khugepaged) const;
  // Fault stage for a huge PMD leaf: do_huge_pmd_wp_page / huge_pmd_set_accessed.
  vm_fault_t do_huge_pmd_fault(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pmd, unsigned flags,
                               KernelCost& cost);
  // __split_huge_pmd: the huge leaf `pmd` (of vma, covering haddr) becomes a PTE
  // table of 512 entries with the same rights; false when no table frame.
  bool __split_huge_pmd(CpuId cpu, vm_area_struct& vma, const PteRef& pmd, VirtAddr haddr, KernelCost& cost);
  // split_huge_pmd_address: split the huge PMD mapping addr when addr is not 2 MiB aligned.
  bool split_huge_pmd_address(CpuId cpu, vm_area_struct& vma, VirtAddr addr, KernelCost& cost);
  // vma_adjust_trans_huge for a range about to be unmapped / changed: huge PMDs
  // straddling start or end split (false on OOM: nothing else changed).
  bool thp_split_range_edges(CpuId cpu, mm_struct& mm, VirtAddr start, VirtAddr end, KernelCost& cost);
  // zap_huge_pmd's rmap side: one PMD mapping of the THP `head` in mm gone.
  void page_remove_rmap_pmd(CpuId cpu, mm_struct& mm, page* head, KernelCost& cost);
  // page_remove_rmap for a PTE mapping a subpage of a THP.
  void page_remove_rmap_thp_pte(CpuId cpu, mm_struct& mm, page* sub, KernelCost& cost);
  // Frees a THP whose last reference went (off its deferred queue first).
  void free_transhuge_page(CpuId cpu, page* head, KernelCost& cost);
  void deferred_split_huge_page(page* head);
  // A subpage of a THP is mapped by at most one entry (PageAnonExclusive's stand-in).
  bool thp_subpage_exclusive(const page* sub) const;
  // Migrate a PMD-mapped THP whole (thp_migration_success) or split it first.
  // `sub` is the subpage the caller named (moved after a split).
  int migrate_thp(task_struct* t, page* head, page* sub, int nid, KernelCost& cost);
  // The whole-THP move of migrate_thp (its PMD mappings `maps`, every mapping of
  // it): the new huge page taken with gfp on nid (then, with `allowed`, on any of
  // those nodes); nid or -ENOMEM (thp_migration_fail, nothing changed).
  int migrate_thp_whole(page* head, const std::vector<RmapMapping>& maps, int nid, gfp_t gfp,
                        const nodemask_t* allowed, CpuId cpu, KernelCost& cost);
  // A THP that is only PMD-mapped, all its mappings found: the mappings, else empty.
  std::vector<RmapMapping> thp_pmd_mappings(page* head, CpuId cpu, KernelCost& cost);
  // do_huge_pmd_numa_page: a NUMA hinting fault on a PROT_NONE huge PMD (NUMA balancing).
  vm_fault_t do_huge_pmd_numa_page(task_struct* t, vm_area_struct& vma, VirtAddr addr, const PteRef& pmd,
                                   unsigned flags, KernelCost& cost);
  // khugepaged.cpp
  void khugepaged_enter(const vm_area_struct& vma);
  int collapse_huge_page(mm_struct& mm, vm_area_struct& vma, VirtAddr haddr, int node, CpuId cpu, KernelCost& cost);
  std::vector<std::uint32_t> khugepaged_mms_;  // mm_ids registered (mm_slot list), in order
  std::size_t khugepaged_cursor_mm_ = 0;
  VirtAddr khugepaged_cursor_addr_ = 0;
  KhugepagedStats khugepaged_stats_;
  std::vector<std::deque<std::uint64_t>> deferred_split_queue_;  // per node: head PFNs, FIFO (lazy removal)
  std::vector<unsigned long> deferred_split_len_;                 // per node: THPs queued
  std::vector<PhysAddr> staged_pgtables_;  // page-table frames taken before a split (alloc_pgtable_frame uses them)
  page* huge_zero_page_ = nullptr;
  PhysAddr huge_zero_phys_ = 0;

  const Topology& topo_;
  KernelParams params_;
  // Memory tiers and demotion targets (memory_tiers.cpp), built at boot.
  MemoryTiers memtiers_;
  void memory_tiers_init();
  Platform& platform_;
  // The task's clock inside an entry that submits I/O or waits (os/kernel_clock.h).
  KernelClock kclock_{platform_};
  PhysMem pm_;
  PageTables pgtables_;
  std::unique_ptr<HugetlbPool> hugetlb_;
  std::unique_ptr<Slub> slub_;            // after pm_: destroyed before it
  std::unique_ptr<KernelCaches> caches_;
  std::unique_ptr<AnonVmas> anon_vmas_;  // after caches_: destroyed before them
  std::unique_ptr<Kmemleak> kmemleak_;
  std::map<const mempolicy*, PhysAddr> mpol_objs_;  // policies handed out -> numa_policy objects
  std::map<PhysAddr, PhysAddr> ptlocks_;            // page-table frame -> its page->ptl object
  KernelCost free_cost_;                            // frees outside an operation (policy puts)
  std::map<int, std::unique_ptr<task_struct>> tasks_;  // by pid, zombies included
  std::size_t live_tasks_ = 0;
  std::vector<std::unique_ptr<mm_struct>> mms_;
  int next_pid_ = 1;
  Asid next_asid_ = 1;
  std::uint64_t next_file_id_ = 1;
  std::uint64_t zero_pfn_ = 0;
  page* zero_page_ = nullptr;
  nodemask_t mems_allowed_;                   // nodes with memory (N_MEMORY)
  std::vector<std::vector<int>> node_order_;  // per node: nodes by distance
  // The entry being served (task, CPU, cost, may OOM-kill), set by the entry guards.
  KernelContext ctx_;
  KernelEntryGuard syscall_enter(task_struct* t, KernelCost& cost) { return {ctx_, t, t->cpu, cost, false}; }
  KernelEntryGuard fault_enter(task_struct* t, KernelCost& cost) { return {ctx_, t, t->cpu, cost, true}; }
  std::vector<OomKill> oom_kills_;
  bool node_reclaim_locked_ = false;  // PGDAT_RECLAIM_LOCKED (one node_reclaim at a time)
  std::vector<ReclaimThrottleState> reclaim_throttle_ = std::vector<ReclaimThrottleState>(MAX_NUMNODES);  // per node
  std::uint32_t next_mm_id_ = 1;
  // What a migration_entry_wait waits for: completes the migration of the page
  // at (task, addr). Set by tests until migrate.c runs migrations in kernel threads.
  std::function<void(task_struct*, VirtAddr)> migration_waiter_;
  PageTokens page_tokens_;
  // Kernel threads, created at boot (after topo_, params_ and platform_).
  std::unique_ptr<Kthreads> kthreads_ = std::make_unique<Kthreads>(topo_, params_.kthreads, platform_);
  std::unique_ptr<Swap> swap_;  // swap areas and the swap cache (built in the constructor)
  // Compaction's per-zone state and kcompactd's work (after pm_ and kthreads_).
  std::unique_ptr<Compaction> compaction_;
  // NUMA balancing's state (after kthreads_: its per-task ticks are Kthreads' task work).
  std::unique_ptr<NumaBalancing> numab_ = std::make_unique<NumaBalancing>(*this, params_.numab);
  std::unique_ptr<FileSystem> fs_;  // files and the page cache (after pm_, kthreads_, swap_)
  std::unique_ptr<Shmem> shmem_;    // shmem objects, memfd, SysV segments (os/shmem.h; after fs_ and swap_)
};

}  // namespace numasim::os
