// shmem objects, their fault/swap paths, memfd and SysV shared memory (see
// os/shmem.h for what is modelled and what is simplified).
#include "os/shmem.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/swapfile.h"
#include "os/syscalls.h"
#include "os/vm_fault.h"

namespace numasim::os {

namespace {
// A broken shmem invariant: the kernel's one reporter (vm_bug, kernel_check.cpp).
[[noreturn]] void shmem_bug(const char* what, std::uint64_t a, std::uint64_t b = 0) { vm_bug(what, a, b); }
// A swap entry held in an object's i_pages: a value entry (bit 0 set), as
// swp_to_radix_entry makes one (shadows never occur in shmem mappings).
std::uint64_t swap_value(swp_entry_t e) { return (static_cast<std::uint64_t>(swp_to_private(e)) << 1) | 1; }
swp_entry_t value_swap(std::uint64_t v) { return private_to_swp(static_cast<std::uint32_t>(v >> 1)); }
std::uint64_t size_pages(std::uint64_t bytes) { return (bytes + kPageSize - 1) >> kPageShift; }
}  // namespace

Shmem::Shmem(Kernel& k) : k_(k) {}

// The kernel is going away: handles still held by VMAs or fds drop nothing.
Shmem::~Shmem() {
  dying_ = true;
  fds_.clear();
  segs_.clear();
}

std::shared_ptr<shmem_inode_info> Shmem::file_setup(const std::string& name, std::uint64_t size) {
  auto info = std::make_unique<shmem_inode_info>();
  info->id = next_id_++;
  info->i_mapping.id = info->id;
  info->i_size = size;
  info->name = name;
  shmem_inode_info* p = info.get();
  objects_[p->id] = std::move(info);
  return get(p);
}

std::shared_ptr<shmem_inode_info> Shmem::get(shmem_inode_info* info) {
  ++info->i_count;
  return std::shared_ptr<shmem_inode_info>(info, [this](shmem_inode_info* p) {
    if (!dying_) put(p);
  });
}

// iput -> shmem_evict_inode: the last reference frees every page and swap slot.
void Shmem::put(shmem_inode_info* info) {
  if (info->i_count == 0) shmem_bug("shmem reference dropped twice", info->id);
  if (--info->i_count) return;
  KernelCost& cost = k_.ctx_.cost ? *k_.ctx_.cost : k_.free_cost_;
  truncate_range(*info, 0, ~0ull, k_.ctx_.cpu, cost);
  objects_.erase(info->id);
}

shmem_inode_info* Shmem::page_mapping(const page* pg) const {
  if (PageAnon(pg) || !PageSwapBacked(pg) || pg->test(PG_swapcache)) return nullptr;
  auto it = objects_.find(pg->owner);
  return it == objects_.end() ? nullptr : it->second.get();
}

page* Shmem::find_page(const shmem_inode_info& info, std::uint64_t index) const {
  const std::uint64_t e = info.i_mapping.i_pages.load(index);
  return (e && !(e & 1)) ? k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e))) : nullptr;
}

bool Shmem::swap_entry_at(const shmem_inode_info& info, std::uint64_t index, swp_entry_t& out) const {
  const std::uint64_t e = info.i_mapping.i_pages.load(index);
  if (!(e & 1)) return false;
  out = value_swap(e);
  return true;
}

// shmem_add_to_page_cache: pg (its reference becomes the mapping's) at index.
void Shmem::add_to_cache(shmem_inode_info& info, std::uint64_t index, page* pg) {
  pg->owner = info.id;
  pg->index = index;
  pg->set(PG_swapbacked);
  pg->set(PG_uptodate);
  info.i_mapping.i_pages.store(index, PageIndex::page_entry(k_.pm_.page_to_pfn(pg).value()));
  ++info.i_mapping.nrpages;
  const NodeId nid = k_.pm_.page_to_nid(pg);
  k_.pm_.mod_node_page_state(nid, NR_SHMEM, 1);
  k_.pm_.mod_node_page_state(nid, NR_FILE_PAGES, 1);
}

// shmem_swapin_folio: the page read back (or found in the swap cache), moved
// from the swap cache into the object, the slot freed (delete_from_swap_cache,
// swap_free), the page dirty (its only copy now).
page* Shmem::swapin(shmem_inode_info& info, std::uint64_t index, swp_entry_t e, task_struct* t, vm_area_struct* vma,
                    VirtAddr addr, KernelCost& cost) {
  Swap& swap = *k_.swap_;
  const CpuId cpu = t ? t->cpu : k_.ctx_.cpu;
  bool allocated = false;
  page* pg = swap.read_swap_cache_async(e, t, vma, addr, false, allocated, cost);  // our reference
  if (!pg) return nullptr;
  if (allocated) swap.swap_readpage(pg, e, true, cpu, cost);
  // folio_wait_writeback: a page still being written to the slot is waited for
  // (the wait charged as I/O) before it leaves the swap cache.
  if (pg->test(PG_writeback)) {
    k_.kclock_.sync(cpu, cost);
    const Picoseconds now = k_.kclock_.now(cpu, cost);
    Picoseconds until = now;
    for (int i = 0; i < 1000000 && pg->test(PG_writeback); ++i) {
      until = until + 1_us;
      swap.writeback_until(now, until, nullptr, cpu, cost);
    }
    if (pg->test(PG_writeback)) shmem_bug("swap write never completes", k_.pm_.page_to_pfn(pg).value());
    k_.kclock_.wait_until(cpu, until, cost);
  }
  // The allocation may have reclaimed; the index still holds the entry (nothing else changes it).
  info.i_mapping.i_pages.store(index, 0);
  --info.swapped;
  add_to_cache(info, index, pg);
  swap.delete_from_swap_cache(pg, 0, cpu, cost);  // the swap cache's reference and SWAP_HAS_CACHE
  swap.swap_free(e);                              // the object's use of the slot
  pg->set(PG_dirty);
  return pg;
}

// shmem_get_folio_gfp (SGP_CACHE / SGP_READ).
page* Shmem::get_page(shmem_inode_info& info, std::uint64_t index, task_struct* t, vm_area_struct* vma, VirtAddr addr,
                      bool alloc, bool& major, int& err, KernelCost& cost) {
  major = false;
  err = 0;
  const std::uint64_t e = info.i_mapping.i_pages.load(index);
  if (e && !(e & 1)) return k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
  const CpuId cpu = t ? t->cpu : k_.ctx_.cpu;
  if (e & 1) {
    page* pg = swapin(info, index, value_swap(e), t, vma, addr, cost);
    if (!pg) err = -ENOMEM;
    major = pg != nullptr;
    if (major) {
      k_.pm_.count_vm_events(cpu, PGMAJFAULT);
      if (t && t->mm) k_.count_memcg_events(t->mm->memcg_id, MEMCG_PGMAJFAULT);
    }
    return pg;
  }
  if (!alloc) return nullptr;
  // shmem_alloc_folio: the policy of the VMA (no shared policy), else the task's.
  mempolicy* pol = const_cast<mempolicy*>(k_.effective_policy(t, vma));
  page* pg = alloc_pages_mpol(k_.pm_, cpu, GFP_HIGHUSER_MOVABLE, 0, pol, index, cost);
  if (!pg) {
    err = -ENOMEM;
    return nullptr;
  }
  if (k_.mem_cgroup_charge(pg, t ? t->mm : nullptr, GFP_HIGHUSER_MOVABLE, cost)) {
    k_.pm_.free_pages(cpu, pg, 0, cost);
    err = -ENOMEM;
    return nullptr;
  }
  const PhysAddr phys = k_.pm_.page_to_phys(pg);
  cost.add_memory(k_.platform_.kernel_write(cpu, phys, Bytes(kPageSize)));  // clear_highpage
  k_.page_tokens_.clear(phys >> kPageShift);
  add_to_cache(info, index, pg);
  if (vma)
    k_.lru_cache_add_inactive_or_unevictable(pg, *vma, cpu);
  else
    k_.lru_cache_add(pg, cpu);
  return pg;
}

unsigned Shmem::fault(task_struct* t, vm_fault& vmf, KernelCost& cost) {
  vm_area_struct& vma = *vmf.vma;
  const std::shared_ptr<shmem_inode_info> hold = vma.vm_shmem;  // the object outlives an OOM kill in the allocation
  shmem_inode_info& info = *hold;
  const std::uint64_t index = vma.pgoff_of(vmf.address);
  if (index >= size_pages(info.i_size)) return VM_FAULT_SIGBUS;
  bool major = false;
  int err = 0;
  page* pg = get_page(info, index, t, &vma, vmf.address, true, major, err, cost);
  if (!pg) return VM_FAULT_OOM;
  // finish_fault -> do_set_pte: page_add_file_rmap, MM_SHMEMPAGES; a shared
  // writable mapping maps it writable at once (no write notification for shmem).
  mm_struct& mm = *t->mm;
  if (pg->mapcount++ == 0) k_.pm_.mod_node_page_state(k_.pm_.page_to_nid(pg), NR_FILE_MAPPED, 1);
  ++pg->_refcount;
  mm.add_mm_counter(MM_SHMEMPAGES, 1);
  const bool write = vmf.flags & FAULT_FLAG_WRITE;
  pteval_t v = k_.make_pte(k_.pm_.page_to_phys(pg), vma.vm_flags, (vma.vm_flags & VM_WRITE) != 0);
  if (!write) v &= ~_PAGE_DIRTY;
  if (write) pg->set(PG_dirty);
  k_.pgtables_.set_entry(t->cpu, vmf.pte, v, cost);
  return major ? VM_FAULT_MAJOR : 0;
}

bool Shmem::writepage(page* pg, CpuId cpu, KernelCost& cost) {
  (void)cost;
  shmem_inode_info* info = page_mapping(pg);
  if (!info || pg->mapcount || PageCompound(pg)) return false;
  Swap& swap = *k_.swap_;
  const std::optional<swp_entry_t> e = swap.get_swap_page(cpu);  // folio_alloc_swap
  if (!e) return false;
  if (!k_.mem_cgroup_try_charge_swap(pg, *e)) {  // over memory.swap.max: the slot goes back
    swap.swap_entry_free(*swap.areas_[swp_type(*e)], swp_offset(*e), SWAP_HAS_CACHE);
    return false;
  }
  swap.swap_duplicate(*e);  // swap_shmem_alloc: the object's use of the slot
  // shmem_delete_from_page_cache: the entry replaces the page at its index.
  info->i_mapping.i_pages.store(pg->index, swap_value(*e));
  --info->i_mapping.nrpages;
  ++info->swapped;
  const NodeId nid = k_.pm_.page_to_nid(pg);
  k_.pm_.mod_node_page_state(nid, NR_SHMEM, -1);
  k_.pm_.mod_node_page_state(nid, NR_FILE_PAGES, -1);
  pg->owner = 0;
  swap.add_to_swap_cache(pg, *e);  // the cache's reference
  --pg->_refcount;                 // the mapping's reference went with the index
  pg->set(PG_dirty);               // swap_writepage writes it (pageout)
  return true;
}

void Shmem::migrate_mapping(page* old_pg, page* new_pg) {
  shmem_inode_info* info = page_mapping(new_pg);  // (the old page's owner is already cleared)
  if (!info || find_page(*info, new_pg->index) != old_pg) return;
  info->i_mapping.i_pages.store(new_pg->index, PageIndex::page_entry(k_.pm_.page_to_pfn(new_pg).value()));
  ++new_pg->_refcount;  // the mapping's reference moves to the new page
}

// unmap_mapping_range for an object: every VMA mapping it loses its entries from
// page `first` on (shmem_setattr shrinking the object).
void Shmem::unmap_range(shmem_inode_info& info, std::uint64_t first, CpuId cpu, KernelCost& cost) {
  const std::uint64_t id = kShmemVmaIdBase + info.id;
  for (const auto& mmp : k_.mms_) {
    for (auto& [start, vma] : mmp->mm_mt) {
      if (vma.vm_file_id != id) continue;
      const std::uint64_t pages = vma.size() >> kPageShift;
      if (vma.vm_pgoff + pages <= first) continue;
      const VirtAddr from = first > vma.vm_pgoff ? vma.vm_start + ((first - vma.vm_pgoff) << kPageShift) : vma.vm_start;
      if (k_.zap_range(cpu, vma, from, vma.vm_end, cost)) k_.flush_tlb_range(cpu, *mmp, from, vma.vm_end, cost);
    }
  }
}

// shmem_undo_range: pages [first, last] leave the object (unmapped by the
// caller), freed when nobody else holds them; swap entries freed.
void Shmem::truncate_range(shmem_inode_info& info, std::uint64_t first, std::uint64_t last, CpuId cpu,
                           KernelCost& cost) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> entries;
  auto& nodes = info.i_mapping.i_pages.nodes();
  for (auto it = nodes.lower_bound(first >> PageIndex::kShift); it != nodes.end(); ++it) {
    const std::uint64_t base = it->first << PageIndex::kShift;
    if (base > last) break;
    for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s) {
      const std::uint64_t idx = base + s;
      if (idx >= first && idx <= last && it->second->slots[s]) entries.push_back({idx, it->second->slots[s]});
    }
  }
  for (auto [idx, e] : entries) {
    info.i_mapping.i_pages.store(idx, 0);
    if (e & 1) {
      --info.swapped;
      k_.swap_->free_swap_and_cache(value_swap(e), cpu, cost);
      continue;
    }
    page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
    if (pg->mapcount) shmem_bug("truncating a mapped shmem page", k_.pm_.page_to_pfn(pg).value(), idx);
    --info.i_mapping.nrpages;
    const NodeId nid = k_.pm_.page_to_nid(pg);
    k_.pm_.mod_node_page_state(nid, NR_SHMEM, -1);
    k_.pm_.mod_node_page_state(nid, NR_FILE_PAGES, -1);
    if (pg->_refcount == 1) {
      k_.lru_page_release(pg);
      pg->flags &= ~((1u << PG_swapbacked) | (1u << PG_dirty) | (1u << PG_uptodate) | (1u << PG_referenced) |
                     (1u << PG_workingset));
      pg->owner = 0;
      k_.mem_cgroup_uncharge(pg);
      k_.pm_.free_pages(cpu, pg, 0, cost);
    } else {  // isolated by reclaim: it finds no mapping and frees it with its own reference
      --pg->_refcount;
      pg->owner = 0;
      pg->clear(PG_swapbacked);
    }
  }
}

std::uint64_t Shmem::nr_pages() const {
  std::uint64_t n = 0;
  for (const auto& [id, info] : objects_) n += info->i_mapping.nrpages;
  return n;
}

std::uint64_t Shmem::nr_swapped() const {
  std::uint64_t n = 0;
  for (const auto& [id, info] : objects_) n += info->swapped;
  return n;
}

std::uint64_t Shmem::swapped_on(unsigned type) const {
  std::uint64_t n = 0;
  for (const auto& [id, info] : objects_)
    for (const auto& [key, node] : info->i_mapping.i_pages.nodes())
      for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s)
        if ((node->slots[s] & 1) && swp_type(value_swap(node->slots[s])) == type) ++n;
  return n;
}

void Shmem::check_consistency(std::map<std::uint64_t, unsigned>& swap_users) const {
  std::vector<long> per_node(static_cast<std::size_t>(k_.pm_.nr_node_ids()), 0);
  for (const auto& [id, info] : objects_) {
    if (info->i_count == 0) shmem_bug("shmem object without references", id);
    std::uint64_t n = 0, sw = 0;
    for (const auto& [key, node] : info->i_mapping.i_pages.nodes()) {
      unsigned cnt = 0;
      for (std::uint64_t s = 0; s < PageIndex::kSlots; ++s) {
        const std::uint64_t e = node->slots[s];
        if (!e) continue;
        ++cnt;
        if (e & 1) {
          ++sw;
          ++swap_users[value_swap(e).val];
          continue;
        }
        const page* pg = k_.pm_.pfn_to_page(Pfn(PageIndex::entry_pfn(e)));
        const std::uint64_t idx = (key << PageIndex::kShift) + s;
        if (pg->owner != id || pg->index != idx) shmem_bug("shmem page with another owner or index", idx, pg->owner);
        if (PageAnon(pg) || !PageSwapBacked(pg) || pg->test(PG_swapcache) || PageBuddy(pg))
          shmem_bug("shmem page flags", idx, pg->flags);
        if (pg->_refcount != pg->mapcount + 1) shmem_bug("shmem page references", idx, pg->_refcount);
        if (idx >= size_pages(info->i_size)) shmem_bug("shmem page beyond the object's size", idx, info->i_size);
        ++per_node[static_cast<std::size_t>(k_.pm_.page_to_nid(pg).value())];
        ++n;
      }
      if (cnt != node->count) shmem_bug("shmem index node count", key, cnt);
    }
    if (n != info->i_mapping.nrpages) shmem_bug("shmem nrpages", n, info->i_mapping.nrpages);
    if (sw != info->swapped) shmem_bug("shmem swapped count", sw, info->swapped);
  }
  for (int nid = 0; nid < k_.pm_.nr_node_ids(); ++nid)
    if (k_.pm_.node_page_state(NodeId(nid), NR_SHMEM) != per_node[static_cast<std::size_t>(nid)])
      shmem_bug("NR_SHMEM of a node differs from the shmem pages", static_cast<std::uint64_t>(nid),
                static_cast<std::uint64_t>(k_.pm_.node_page_state(NodeId(nid), NR_SHMEM)));
  for (const auto& [shmid, seg] : segs_) {
    if (!seg.obj || seg.obj->shm_id != shmid) shmem_bug("SysV segment without its object", static_cast<std::uint64_t>(shmid));
    if (seg.dest && seg.attaches == 0) shmem_bug("removed SysV segment kept without attaches", static_cast<std::uint64_t>(shmid));
  }
}

// ---------------------------------------------------------------------------
// memfd_create and the file operations of a shmem fd
// ---------------------------------------------------------------------------

Shmem::OpenFile* Shmem::fget(int tgid, int fd) {
  auto t = fds_.find(tgid);
  if (t == fds_.end()) return nullptr;
  auto it = t->second.find(fd);
  return it == t->second.end() ? nullptr : &it->second;
}

bool Shmem::owns_fd(int tgid, int fd) const {
  auto t = fds_.find(tgid);
  return t != fds_.end() && t->second.count(fd);
}

shmem_inode_info* Shmem::fd_object(int tgid, int fd) const {
  auto t = fds_.find(tgid);
  if (t == fds_.end()) return nullptr;
  auto it = t->second.find(fd);
  return it == t->second.end() ? nullptr : it->second.obj.get();
}

long Shmem::memfd_create(task_struct* t, const char* name, unsigned flags, KernelCost& cost) {
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  if (flags & ~(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB)) return -EINVAL;
  if (!name) return -EFAULT;  // strncpy_from_user of an unmapped name
  if (std::strlen(name) > MFD_NAME_MAX_LEN) return -EINVAL;
  if (flags & MFD_HUGETLB) return -EINVAL;  // hugetlbfs-backed memfds are not modelled
  // get_unused_fd_flags: the lowest fd neither the file system nor a memfd uses.
  int fd = 0;
  while (fd < NR_OPEN_DEFAULT && (k_.fs_->fget(t->tgid, fd) || owns_fd(t->tgid, fd))) ++fd;
  if (fd >= NR_OPEN_DEFAULT) return -EMFILE;
  OpenFile f;
  f.obj = file_setup(std::string("memfd:") + name, 0);
  f.cloexec = flags & MFD_CLOEXEC;
  fds_[t->tgid][fd] = std::move(f);
  return fd;
}

long Shmem::close(task_struct* t, int fd, KernelCost& cost) {
  auto tt = fds_.find(t->tgid);
  if (tt == fds_.end() || !tt->second.count(fd)) return -EBADF;
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  OpenFile f = std::move(tt->second[fd]);
  tt->second.erase(fd);
  if (tt->second.empty()) fds_.erase(tt);
  return 0;  // f's handle dropped here (the object freed when it was the last)
}

void Shmem::exit_files(int tgid, CpuId cpu, KernelCost& cost) {
  (void)cpu, (void)cost;
  auto tt = fds_.find(tgid);
  if (tt == fds_.end()) return;
  std::map<int, OpenFile> files = std::move(tt->second);
  fds_.erase(tt);
  files.clear();
}

// shmem_file_read_iter: page by page; a hole reads as zeroes (ZERO_PAGE, no
// allocation), a swapped page is read back. Each piece (ending at a page
// boundary of either side) is copied to the user's buffer through its page
// tables (copy_page_to_iter). Simplified: the user's page is faulted in before
// the shmem page is looked up (Linux looks the folio up, holds a reference and
// faults during the copy). A buffer that cannot be written ends the copy: what
// was copied, or -EFAULT with the file position unchanged.
long Shmem::read(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost) {
  OpenFile* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  if (!Kernel::access_ok(t, buf, count)) return -EFAULT;
  if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
  shmem_inode_info& info = *f->obj;
  std::uint64_t p = pos < 0 ? f->f_pos : static_cast<std::uint64_t>(pos);
  if (p >= info.i_size) return 0;
  count = std::min(count, info.i_size - p);
  std::uint64_t done = 0;
  while (done < count) {
    const std::uint64_t idx = (p + done) >> kPageShift, off = (p + done) & (kPageSize - 1);
    const VirtAddr ubuf = buf + done;
    const std::uint64_t n = std::min({kPageSize - off, count - done, kPageSize - (ubuf & (kPageSize - 1))});
    const bool page_start = done == 0 || off == 0;  // the first piece of this shmem page in the call
    if (page_start) cost.add_cycles(k_.fs_->params().filemap_page_cycles);
    // The user's page first (faulted in if it must be), then the shmem page: a
    // fault's reclaim cannot free the page this piece copies from.
    const PhysAddr dst = k_.uaccess_phys(t, ubuf, true, cost);
    if (!dst) return finish_read(f, pos, p, done, -EFAULT);
    bool major = false;
    int err = 0;
    page* pg = get_page(info, idx, t, nullptr, 0, false, major, err, cost);
    if (err) return finish_read(f, pos, p, done, err);
    const PhysAddr src = pg ? k_.pm_.page_to_phys(pg) : k_.zero_page_phys();
    cost.add_memory(k_.platform_.kernel_copy(t->cpu, dst, src + off, Bytes(n)));  // copy_page_to_iter
    if (pg && page_start) k_.mark_page_accessed(pg);
    done += n;
  }
  return finish_read(f, pos, p, done, 0);
}

long Shmem::finish_read(OpenFile* f, std::int64_t pos, std::uint64_t p, std::uint64_t done, int err) {
  if (pos < 0) f->f_pos = p + done;
  return done ? static_cast<long>(done) : err;
}

// shmem_write_begin / shmem_write_end through generic_perform_write.
long Shmem::write(task_struct* t, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, KernelCost& cost) {
  OpenFile* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  if (!Kernel::access_ok(t, buf, count)) return -EFAULT;
  if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
  shmem_inode_info& info = *f->obj;
  const std::uint64_t p = pos < 0 ? f->f_pos : static_cast<std::uint64_t>(pos);
  if (count == 0) return 0;
  if (p >= MAX_FILE_SIZE) return -EFBIG;
  count = std::min(count, MAX_FILE_SIZE - p);
  std::uint64_t done = 0;
  while (done < count) {
    const std::uint64_t idx = (p + done) >> kPageShift, off = (p + done) & (kPageSize - 1);
    // fault_in_iov_iter_readable before write_begin: the user's pages under this
    // page's piece are faulted in (if they must be) before the shmem page is looked
    // up; a buffer that cannot be read ends the write there (-EFAULT when nothing
    // was written, i_size unchanged).
    const Kernel::UserPieces up = k_.user_pieces(t, buf + done, std::min(kPageSize - off, count - done), false, cost);
    if (up.bytes == 0) {
      if (done) break;
      return -EFAULT;
    }
    const std::uint64_t n = up.bytes;
    cost.add_cycles(k_.fs_->params().filemap_page_cycles);
    // The page may lie beyond i_size until this write extends it.
    const std::uint64_t old_size = info.i_size;
    info.i_size = std::max(info.i_size, (idx + 1) << kPageShift);
    bool major = false;
    int err = 0;
    page* pg = get_page(info, idx, t, nullptr, 0, true, major, err, cost);
    info.i_size = old_size;
    if (!pg) {
      if (done) break;
      return err ? err : -ENOMEM;
    }
    cost.add_memory(k_.copy_from_user_pieces(t->cpu, k_.pm_.page_to_phys(pg) + off, up));  // copy_page_from_iter_atomic
    pg->set(PG_dirty);
    k_.mark_page_accessed(pg);
    done += n;
    if (p + done > info.i_size) info.i_size = p + done;
  }
  if (pos < 0) f->f_pos = p + done;
  return static_cast<long>(done);
}

long Shmem::lseek(task_struct* t, int fd, std::int64_t off, int whence, KernelCost& cost) {
  OpenFile* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  std::int64_t base = 0;
  switch (whence) {
    case OS_SEEK_SET: base = 0; break;
    case OS_SEEK_CUR: base = static_cast<std::int64_t>(f->f_pos); break;
    case OS_SEEK_END: base = static_cast<std::int64_t>(f->obj->i_size); break;
    default: return -EINVAL;
  }
  if ((off > 0 && base > INT64_MAX - off)) return -EOVERFLOW;
  const std::int64_t np = base + off;
  if (np < 0) return -EINVAL;
  f->f_pos = static_cast<std::uint64_t>(np);
  return np;
}

// shmem_setattr: a shrink unmaps the cut part and frees its pages and slots.
long Shmem::ftruncate(task_struct* t, int fd, std::int64_t length, KernelCost& cost) {
  OpenFile* f = fget(t->tgid, fd);
  if (!f) return -EBADF;
  if (length < 0) return -EINVAL;
  if (static_cast<std::uint64_t>(length) > MAX_FILE_SIZE) return -EFBIG;
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  shmem_inode_info& info = *f->obj;
  const std::uint64_t nsize = static_cast<std::uint64_t>(length);
  if (nsize < info.i_size) {
    const std::uint64_t first = size_pages(nsize);
    unmap_range(info, first, t->cpu, cost);
    truncate_range(info, first, ~0ull, t->cpu, cost);
  }
  info.i_size = nsize;
  return 0;
}

// ---------------------------------------------------------------------------
// SysV shared memory (ipc/shm.c)
// ---------------------------------------------------------------------------

// VMAs mapping the object (shm_nattch: each attach, fork copy and split counts).
std::uint64_t Shmem::nattch(const shmem_inode_info& info) const {
  const std::uint64_t id = kShmemVmaIdBase + info.id;
  std::uint64_t n = 0;
  for (const auto& mmp : k_.mms_)
    for (const auto& [start, vma] : mmp->mm_mt) n += vma.vm_file_id == id;
  return n;
}

// ksys_shmget -> ipcget: ipcget_public (the key's segment, checked) or newseg.
long Shmem::shmget(task_struct* t, int key, std::uint64_t size, int shmflg, KernelCost& cost) {
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  if (key != IPC_PRIVATE) {
    auto it = keys_.find(key);
    if (it != keys_.end()) {
      if ((shmflg & IPC_CREAT) && (shmflg & IPC_EXCL)) return -EEXIST;
      const Segment& s = segs_.at(it->second);
      if (s.size < size) return -EINVAL;  // shm_more_checks
      return it->second;
    }
    if (!(shmflg & IPC_CREAT)) return -ENOENT;
  }
  // newseg
  if (shmflg & SHM_HUGETLB) return -EINVAL;  // hugetlbfs-backed segments are not modelled
  if (size < SHMMIN || size > SHMMAX) return -EINVAL;
  const std::uint64_t numpages = size_pages(size);
  if (numpages == 0 || (numpages << kPageShift) < size) return -ENOSPC;
  if (shm_tot_ + numpages < shm_tot_ || shm_tot_ + numpages > SHMALL) return -ENOSPC;
  if (segs_.size() >= SHMMNI) return -ENOSPC;
  // ipc_addid: the id is the slot index + seq * SEQ_MULTIPLIER (32768), lowest free slot.
  int slot = 0;
  for (;; ++slot) {
    bool used = false;
    for (const auto& [id, s] : segs_) used |= (id & 0x7fff) == slot;
    if (!used) break;
  }
  const int shmid = static_cast<int>((shm_seq_++ % 65536u) * 32768u) + slot;
  char name[32];
  std::snprintf(name, sizeof name, "SYSV%08x", static_cast<unsigned>(key));
  Segment s;
  s.key = key;
  s.size = size;
  s.mode = static_cast<unsigned>(shmflg) & 0777;
  s.cpid = t->tgid;
  s.obj = file_setup(name, size);
  s.obj->shm_id = shmid;
  segs_[shmid] = std::move(s);
  if (key != IPC_PRIVATE) keys_[key] = shmid;
  shm_tot_ += numpages;
  return shmid;
}

void Shmem::shm_destroy(int shmid) {
  auto it = segs_.find(shmid);
  shm_tot_ -= size_pages(it->second.size);
  auto k = keys_.find(it->second.key);
  if (k != keys_.end() && k->second == shmid) keys_.erase(k);
  std::shared_ptr<shmem_inode_info> obj = std::move(it->second.obj);
  obj->shm_id = -1;
  segs_.erase(it);
}  // obj dropped: the object goes with its last reference

// do_shmat: the segment mapped MAP_SHARED (SHM_RDONLY: read-only; SHM_RND rounds
// the address down to SHMLBA; an address needs SHM_RND or SHMLBA alignment).
long Shmem::shmat(task_struct* t, int shmid, VirtAddr addr, int shmflg, KernelCost& cost) {
  if (shmid < 0) return -EINVAL;
  auto it = segs_.find(shmid);
  if (it == segs_.end()) return -EINVAL;
  if (addr) {
    if (addr & (SHMLBA - 1)) {
      if (!(shmflg & SHM_RND)) return -EINVAL;
      addr &= ~(SHMLBA - 1);
      if (!addr) return -EINVAL;  // rounded to 0 without SHM_REMAP... (Linux: EINVAL unless SHM_REMAP)
    }
  } else if (shmflg & SHM_REMAP) {
    return -EINVAL;
  }
  Segment& seg = it->second;
  int prot = PROT_READ | ((shmflg & SHM_RDONLY) ? 0 : PROT_WRITE) | ((shmflg & SHM_EXEC) ? PROT_EXEC : 0);
  int flags = MAP_SHARED | (addr ? MAP_FIXED : 0);
  if (addr && !(shmflg & SHM_REMAP) && find_vma_intersection(*t->mm, addr, addr + page_align(seg.size)))
    return -EINVAL;  // do_shmat: an existing mapping there without SHM_REMAP
  std::shared_ptr<shmem_inode_info> obj = get(seg.obj.get());
  // This attach's handle: the segment counts it until its last VMA copy goes (shm_close).
  const int id = shmid;
  auto attach = std::shared_ptr<shmem_inode_info>(obj.get(), [this, id, obj](shmem_inode_info*) mutable {
    obj.reset();
    if (dying_) return;
    auto s = segs_.find(id);
    if (s == segs_.end()) return;
    if (--s->second.attaches == 0 && s->second.dest) shm_destroy(id);
  });
  ++seg.attaches;
  unsigned long vm_flags = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_SHARED | VM_MAYSHARE |
                           ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
                           ((prot & PROT_EXEC) ? VM_EXEC : 0);
  if (shmflg & SHM_RDONLY) vm_flags &= ~VM_MAYWRITE;
  const long r = k_.do_mmap(t, addr, page_align(seg.size), vm_flags, flags, kPageSize, nullptr, 0, cost, attach);
  attach.reset();  // on failure the segment's count returns (the lambda above)
  if (r >= 0) seg.lpid = t->tgid;
  return r;
}

// ksys_shmdt: the VMAs of the segment attached at addr (vm_pgoff 0 there) and
// its following parts up to the segment's size are unmapped.
long Shmem::shmdt(task_struct* t, VirtAddr addr, KernelCost& cost) {
  if (addr & (SHMLBA - 1)) return -EINVAL;
  mm_struct& mm = *t->mm;
  vm_area_struct* v = vma_lookup(mm, addr);
  if (!v || v->vm_start != addr || !v->vm_shmem || v->vm_shmem->shm_id < 0 || v->vm_pgoff != 0) return -EINVAL;
  const std::uint64_t id = v->vm_file_id;
  const VirtAddr end = addr + page_align(v->vm_shmem->i_size);
  if (auto s = segs_.find(v->vm_shmem->shm_id); s != segs_.end()) s->second.lpid = t->tgid;
  // Each VMA of the segment in [addr, end) goes (do_munmap per VMA, as Linux's loop).
  std::vector<std::pair<VirtAddr, VirtAddr>> ranges;
  for (auto it = mm.mm_mt.find(addr); it != mm.mm_mt.end() && it->first < end; ++it)
    if (it->second.vm_file_id == id) ranges.push_back({it->second.vm_start, std::min(it->second.vm_end, end)});
  for (auto [s, e] : ranges) {
    Kernel::VmaOp op(k_, mm, t->cpu, cost);  // the split records, reserved first
    if (!op.reserve(splits_needed(mm, s, e), AllocSite::tag("shmdt"))) return -ENOMEM;
    if (!k_.thp_split_range_edges(t->cpu, mm, s, e, cost)) return -ENOMEM;
    k_.do_munmap(t, s, e, cost);
  }
  return 0;
}

long Shmem::shmctl(task_struct* t, int shmid, int cmd, shmid_ds* buf, KernelCost& cost) {
  (void)t;
  cost.add_cycles(k_.fs_->params().file_op_cycles);
  if (cmd != IPC_RMID && cmd != IPC_STAT) return -EINVAL;  // IPC_SET, SHM_LOCK, IPC_INFO: not modelled
  if (shmid < 0) return -EINVAL;
  auto it = segs_.find(shmid);
  if (it == segs_.end()) return -EINVAL;
  Segment& seg = it->second;
  if (cmd == IPC_STAT) {
    if (!buf) return -EFAULT;
    shmid_ds d;
    d.key = seg.dest ? IPC_PRIVATE : seg.key;
    d.mode = seg.mode | (seg.dest ? SHM_DEST : 0);
    d.shm_segsz = seg.size;
    d.shm_nattch = nattch(*seg.obj);
    d.shm_cpid = seg.cpid;
    d.shm_lpid = seg.lpid;
    d.shm_rss_pages = seg.obj->i_mapping.nrpages;
    d.shm_swp_pages = seg.obj->swapped;
    *buf = d;
    return 0;
  }
  // IPC_RMID: the key is freed at once (ipc_set_key_private); the segment goes
  // now without attaches, else with its last detach.
  if (auto k = keys_.find(seg.key); k != keys_.end() && k->second == shmid) keys_.erase(k);
  seg.dest = true;
  if (seg.attaches == 0) shm_destroy(shmid);
  return 0;
}

}  // namespace numasim::os

namespace numasim::os {

// ---------------------------------------------------------------------------
// The system calls (Kernel members)
// ---------------------------------------------------------------------------

#define SHM_SYSCALL_ENTER()    \
  syscall_cost(cost);          \
  if (t->exited) return -ESRCH; \
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost)

long Kernel::sys_memfd_create(task_struct* t, const char* name, unsigned flags, KernelCost& cost) {
  SHM_SYSCALL_ENTER();
  return shmem_->memfd_create(t, name, flags, cost);
}
long Kernel::sys_shmget(task_struct* t, int key, std::uint64_t size, int shmflg, KernelCost& cost) {
  SHM_SYSCALL_ENTER();
  return shmem_->shmget(t, key, size, shmflg, cost);
}
long Kernel::sys_shmat(task_struct* t, int shmid, VirtAddr addr, int shmflg, KernelCost& cost) {
  SHM_SYSCALL_ENTER();
  return shmem_->shmat(t, shmid, addr, shmflg, cost);
}
long Kernel::sys_shmdt(task_struct* t, VirtAddr addr, KernelCost& cost) {
  SHM_SYSCALL_ENTER();
  return shmem_->shmdt(t, addr, cost);
}
long Kernel::sys_shmctl(task_struct* t, int shmid, int cmd, shmid_ds* buf, KernelCost& cost) {
  SHM_SYSCALL_ENTER();
  return shmem_->shmctl(t, shmid, cmd, buf, cost);
}

#undef SHM_SYSCALL_ENTER

}  // namespace numasim::os
