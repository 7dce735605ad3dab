// The NUMA system calls (mm/mempolicy.c kernel_mbind / do_mbind,
// kernel_set_mempolicy, kernel_get_mempolicy, kernel_migrate_pages with
// do_migrate_pages; mm/migrate.c kernel_move_pages)
// (migration itself is in os/migrate.cpp). Policy objects and node choice come from
// os/mempolicy.h; here are the user-argument rules of the man pages (get_nodes
// bitmap copying, EFAULT for holes in mbind ranges, EIO for MPOL_MF_STRICT...).
// Simplified: every check runs before anything changes, so mbind with
// MPOL_MF_STRICT and misplaced pages that cannot be moved fails with EIO without
// installing the policy (Linux installs it, then returns EIO); tasks are
// privileged (MPOL_MF_MOVE_ALL allowed, any pid may be moved); user pointers are
// host pointers, so EFAULT for them means a null pointer where data is needed.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "os/gfp.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/pagewalk.h"
#include "os/syscalls.h"

namespace numasim::os {

namespace {
constexpr unsigned long kBitsPerLong = 64;

// get_nodes: copy maxnode-1 bits from the user; bits the kernel cannot
// represent (>= MAX_NUMNODES) must be clear.
int get_nodes(nodemask_t* nodes, const unsigned long* nmask, unsigned long maxnode) {
  --maxnode;
  nodes_clear(*nodes);
  if (maxnode == 0 || !nmask) return 0;
  if (maxnode > kPageSize * 8) return -EINVAL;
  for (unsigned long bit = MAX_NUMNODES; bit < maxnode; ++bit)
    if ((nmask[bit / kBitsPerLong] >> (bit % kBitsPerLong)) & 1ul) return -EINVAL;
  const unsigned long n = maxnode < static_cast<unsigned long>(MAX_NUMNODES) ? maxnode : MAX_NUMNODES;
  for (unsigned long bit = 0; bit < n; ++bit)
    if ((nmask[bit / kBitsPerLong] >> (bit % kBitsPerLong)) & 1ul) node_set(static_cast<int>(bit), *nodes);
  return 0;
}

// copy_nodes_to_user: the mask in ceil((maxnode-1)/64) words, zero beyond.
void copy_nodes_to_user(unsigned long* nmask, unsigned long maxnode, const nodemask_t& nodes) {
  const unsigned long bits = maxnode - 1;
  const unsigned long words = (bits + kBitsPerLong - 1) / kBitsPerLong;
  for (unsigned long w = 0; w < words; ++w) nmask[w] = w == 0 ? nodes.bits : 0;
  if (words && bits % kBitsPerLong) nmask[words - 1] &= (1ul << (bits % kBitsPerLong)) - 1;
}
}  // namespace

long Kernel::sys_set_mempolicy(task_struct* t, int mode, const unsigned long* nmask, unsigned long maxnode,
                               KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  int lmode = mode;
  unsigned short mode_flags = 0;
  if (int err = sanitize_mpol_flags(&lmode, &mode_flags)) return err;
  nodemask_t nodes;
  if (int err = get_nodes(&nodes, nmask, maxnode)) return err;
  mempolicy pol;
  if (int err = mpol_new(lmode, mode_flags, nodes, pol, pm_)) return err;
  if (pol.mode == MPOL_DEFAULT) {
    t->mempolicy.reset();
    return 0;
  }
  std::shared_ptr<mempolicy> newpol = mpol_object_new(pol, t->cpu, cost, AllocSite::tag("do_set_mempolicy"));
  if (!newpol) return -ENOMEM;  // the old policy stays
  t->mempolicy = std::move(newpol);
  return 0;
}

long Kernel::sys_mbind(task_struct* t, VirtAddr start, std::uint64_t len, int mode, const unsigned long* nmask,
                       unsigned long maxnode, unsigned flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  mm_struct& mm = *t->mm;
  int lmode = mode;
  unsigned short mode_flags = 0;
  if (int err = sanitize_mpol_flags(&lmode, &mode_flags)) return err;
  nodemask_t nodes;
  if (int err = get_nodes(&nodes, nmask, maxnode)) return err;
  if (flags & ~(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) return -EINVAL;
  if (offset_in_page(start)) return -EINVAL;
  if (lmode == MPOL_DEFAULT) flags &= ~MPOL_MF_STRICT;
  len = page_align(len);
  const VirtAddr end = start + len;
  if (end < start) return -EINVAL;
  if (end == start) return 0;
  mempolicy pol;
  if (int err = mpol_new(lmode, mode_flags, nodes, pol, pm_)) return err;
  // queue_pages_range: the range must be mapped without holes.
  if (!range_fully_mapped(mm, start, end)) return -EFAULT;

  // Pages already present that do not follow the new policy's nodes.
  struct Misplaced {
    VirtAddr va;
    bool movable;
  };
  std::vector<Misplaced> misplaced;
  if (flags & (MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) {
    auto queue_pages = [&](VirtAddr va, const PteRef& ref) {  // queue_pages_pte_range on the page walker
      pteval_t v = ref.value();
      if (!pte_present(v) && !pte_protnone(v)) return;  // a swap entry: no page in memory to queue
      if (v & _PAGE_SPECIAL) return;
      const page* pg = pm_.phys_to_page(pte_phys(v));
      if (node_isset(pm_.page_to_nid(pg).value(), nodes)) return;
      misplaced.push_back({va, pg->mapcount <= 1 || (flags & MPOL_MF_MOVE_ALL)});
    };
    walk_leaves(pgtables_, &mm, mm.pgd, start, end, queue_pages);
  }
  const bool move = flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL);
  if ((flags & MPOL_MF_STRICT) && !misplaced.empty()) {
    if (!move) return -EIO;
    for (const auto& m : misplaced)
      if (!m.movable) return -EIO;
  }
  if (mm.map_count + splits_needed(mm, start, end) > params_.max_map_count) return -ENOMEM;
  for (auto it = mm.mm_mt.find(find_vma(mm, start)->vm_start); it != mm.mm_mt.end() && it->first < end; ++it) {
    const vm_area_struct& v = it->second;
    if (v.is_hugetlb() && ((v.vm_start < start && (start & (vma_hpage_size(v) - 1))) ||
                           (v.vm_end > end && (end & (vma_hpage_size(v) - 1)))))
      return -EINVAL;
  }

  // Every object the change needs, before anything changes: the policy and
  // the VMA records of the splits (ENOMEM otherwise).
  VmaOp op(*this, mm, t->cpu, cost);
  if (!op.reserve(splits_needed(mm, start, end), AllocSite::tag("mbind_range"))) return -ENOMEM;
  std::shared_ptr<mempolicy> newpol;
  if (pol.mode != MPOL_DEFAULT) {
    newpol = mpol_object_new(pol, t->cpu, cost, AllocSite::tag("do_mbind"));
    if (!newpol) return -ENOMEM;
  }
  // vma_adjust_trans_huge: THP PMDs straddling the edges split (ENOMEM, nothing changed, otherwise).
  if (!thp_split_range_edges(t->cpu, mm, start, end, cost)) return -ENOMEM;
  // mbind_range: install the policy (shared by the VMAs of the range).
  modify_range(
      mm, start, end, [&](vm_area_struct& v) { v.vm_policy = newpol; }, cost);

  long failed = 0;
  if (move) {
    for (const auto& m : misplaced) {
      if (!m.movable) continue;
      vm_area_struct* vma = vma_lookup(mm, m.va);
      int nid = cpu_to_node(t->cpu).value();
      std::uint64_t ilx = vma->pgoff_of(m.va) >> (vma->is_hugetlb() ? hstate_order(hstate_vma(*vma)) : 0);
      const nodemask_t* mask = policy_nodemask(GFP_HIGHUSER_MOVABLE, newpol.get(), ilx, &nid, pm_);
      if (mask && !node_isset(nid, *mask)) nid = first_node(*mask);
      if (migrate_one(t, *vma, m.va, nid, cost) < 0) ++failed;
    }
  }
  if (failed && (flags & MPOL_MF_STRICT)) return -EIO;
  return 0;
}

long Kernel::sys_get_mempolicy(task_struct* t, int* mode, unsigned long* nmask, unsigned long maxnode, VirtAddr addr,
                               unsigned long flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  const KernelEntryGuard ctx_guard = syscall_enter(t, cost);
  if (flags & ~(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED)) return -EINVAL;
  if (nmask && maxnode < static_cast<unsigned long>(pm_.nr_node_ids())) return -EINVAL;
  if (flags & MPOL_F_MEMS_ALLOWED) {
    if (flags & (MPOL_F_NODE | MPOL_F_ADDR)) return -EINVAL;
    if (mode) *mode = 0;
    if (nmask) copy_nodes_to_user(nmask, maxnode, mems_allowed_);
    return 0;
  }
  const mempolicy* pol = nullptr;
  vm_area_struct* vma = nullptr;
  if (flags & MPOL_F_ADDR) {
    vma = vma_lookup(*t->mm, addr);
    if (!vma) return -EFAULT;
    pol = vma->vm_policy.get();  // no VMA policy: reported as MPOL_DEFAULT
  } else {
    if (addr) return -EINVAL;
    pol = t->mempolicy.get();
  }
  int result;
  if (flags & MPOL_F_NODE) {
    if (flags & MPOL_F_ADDR) {
      // lookup_node: get_user_pages of one page (faults it in for reading).
      auto fr = follow_page(*t->mm, addr, FOLL_NUMA);
      if (!fr) {
        if (fault_core(t, addr, 0, cost) != FaultResult::Handled) return -EFAULT;
        fr = follow_page(*t->mm, addr, FOLL_NUMA);
        if (!fr) return -EFAULT;
      }
      result = topo_.phys_node(fr->phys).value();
    } else if (pol && pol == t->mempolicy.get() &&
               (pol->mode == MPOL_INTERLEAVE || pol->mode == MPOL_WEIGHTED_INTERLEAVE)) {
      if (pol->mode == MPOL_WEIGHTED_INTERLEAVE && pol->il_weight)
        result = pol->il_prev;
      else
        result = next_node_in(pol->il_prev, pol->nodes);
    } else {
      return -EINVAL;
    }
  } else {
    result = pol ? pol->mode | (pol->flags & MPOL_MODE_FLAGS) : MPOL_DEFAULT;
  }
  if (mode) *mode = result;
  if (nmask) {
    nodemask_t out{};
    if (pol) out = mpol_get_nodemask(*pol);
    copy_nodes_to_user(nmask, maxnode, out);
  }
  return 0;
}

long Kernel::sys_move_pages(task_struct* t, int pid, unsigned long count, const VirtAddr* pages, const int* nodes,
                            int* status, int flags, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  if (flags & ~static_cast<int>(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL)) return -EINVAL;
  task_struct* target = pid == 0 ? t : find_task_by_pid(pid);
  if (!target) return -ESRCH;
  if (count && (!pages || !status)) return -EFAULT;
  const KernelEntryGuard ctx_guard = syscall_enter(target, cost);  // page tables charged to target's mm
  mm_struct& mm = *target->mm;
  if (!nodes) {  // do_pages_stat
    for (unsigned long i = 0; i < count; ++i) {
      vm_area_struct* vma = vma_lookup(mm, pages[i]);
      if (!vma) {
        status[i] = -EFAULT;
        continue;
      }
      auto fr = follow_page(mm, pages[i], 0);  // FOLL_GET | FOLL_DUMP: no FOLL_NUMA
      if (!fr)
        status[i] = -ENOENT;
      else if (fr->leaf & _PAGE_SPECIAL)
        status[i] = -EFAULT;
      else
        status[i] = pm_.page_to_nid(fr->pg).value();
    }
    return 0;
  }
  // do_pages_move: every target node is checked first.
  const nodemask_t allowed = mems_allowed_;
  for (unsigned long i = 0; i < count; ++i) {
    if (nodes[i] < 0 || nodes[i] >= MAX_NUMNODES) return -EINVAL;
    if (nodes[i] >= pm_.nr_node_ids() || !node_isset(nodes[i], pm_.node_states_memory())) return -ENODEV;
    if (!node_isset(nodes[i], allowed)) return -EACCES;
  }
  long not_moved = 0;
  std::vector<std::pair<vm_area_struct*, VirtAddr>> where;
  std::vector<int> where_nid;
  std::vector<unsigned long> where_idx;
  for (unsigned long i = 0; i < count; ++i) {
    vm_area_struct* vma = vma_lookup(mm, pages[i]);
    if (!vma) {
      status[i] = -EFAULT;
      continue;
    }
    auto fr = follow_page(mm, pages[i], 0);  // FOLL_GET | FOLL_DUMP: no FOLL_NUMA
    if (!fr) {
      status[i] = -ENOENT;
      continue;
    }
    if (fr->leaf & _PAGE_SPECIAL) {
      status[i] = -EFAULT;
      continue;
    }
    if (fr->pg->mapcount > 1 && !(flags & MPOL_MF_MOVE_ALL)) {
      status[i] = -EACCES;
      continue;
    }
    where.push_back({vma, pages[i]});
    where_nid.push_back(nodes[i]);
    where_idx.push_back(i);
  }
  // do_move_pages_to_node: the pages in batches (one TLB flush per batch).
  std::vector<int> r(where.size(), 0);
  migrate_mapped_pages(target, where, where_nid, r.data(), cost);
  for (std::size_t j = 0; j < r.size(); ++j) {
    status[where_idx[j]] = r[j];
    if (r[j] == -ENOMEM) ++not_moved;
  }
  return not_moved;
}

namespace {
// node_remap (bitmap_bitremap): the node of `to` at the position `from_nid`
// holds in `from`, modulo to's weight; unchanged when not in from or to is empty.
int node_remap(int from_nid, const nodemask_t& from, const nodemask_t& to) {
  const int w = nodes_weight(to);
  if (!node_isset(from_nid, from) || w == 0) return from_nid;
  int ord = 0;
  for (int n = 0; n < from_nid; ++n) ord += node_isset(n, from);
  ord %= w;
  for (int n = 0; n < MAX_NUMNODES; ++n)
    if (node_isset(n, to) && ord-- == 0) return n;
  return from_nid;
}
}  // namespace

// migrate_to_node: every page of mm on node `source` (queue_pages_range over the
// whole address space, MPOL_MF_MOVE_ALL) moved to `dest`; the number not moved.
long Kernel::migrate_to_node(task_struct* t, mm_struct& mm, int source, int dest, KernelCost& cost) {
  std::vector<std::pair<vm_area_struct*, VirtAddr>> queued;
  for (auto& [start, vma] : mm.mm_mt) {
    vm_area_struct* v = &vma;
    auto queue = [&](VirtAddr va, const PteRef& ref) {
      const pteval_t e = ref.value();
      if (!(pte_present(e) || pte_protnone(e)) || (e & _PAGE_SPECIAL)) return;
      if (pm_.page_to_nid(pm_.phys_to_page(pte_phys(e))).value() == source) queued.push_back({v, va});
    };
    walk_leaves(pgtables_, &mm, mm.pgd, v->vm_start, v->vm_end, queue);
  }
  std::vector<int> r(queued.size(), 0);
  migrate_mapped_pages(t, queued, std::vector<int>(queued.size(), dest), r.data(), cost);
  return std::count_if(r.begin(), r.end(), [](int s) { return s < 0; });
}

long Kernel::sys_migrate_pages(task_struct* t, int pid, unsigned long maxnode, const unsigned long* old_nodes,
                               const unsigned long* new_nodes, KernelCost& cost) {
  syscall_cost(cost);
  if (t->exited) return -ESRCH;
  nodemask_t from, to;
  if (int err = get_nodes(&from, old_nodes, maxnode)) return err;
  if (int err = get_nodes(&to, new_nodes, maxnode)) return err;
  task_struct* target = pid == 0 ? t : find_task_by_pid(pid);
  if (!target || target->exited) return -ESRCH;
  // EPERM (ptrace access, CAP_SYS_NICE for nodes outside the target's cpuset) is not modelled.
  if ((to.bits & ~pm_.node_states_memory().bits) != 0) return -EINVAL;
  const KernelEntryGuard ctx_guard = syscall_enter(target, cost);  // page tables charged to target's mm
  mm_struct& mm = *target->mm;
  // do_migrate_pages: pick pairs so that no page is moved twice.
  long busy = 0;
  nodemask_t tmp = from;
  while (nodes_weight(tmp) != 0) {
    int source = -1, dest = -1;
    for (int s = 0; s < MAX_NUMNODES; ++s) {
      if (!node_isset(s, tmp)) continue;
      if (nodes_weight(from) != nodes_weight(to) && node_isset(s, to)) continue;
      const int d = node_remap(s, from, to);
      if (s == d) continue;
      source = s;
      dest = d;
      if (!node_isset(dest, tmp)) break;
    }
    if (source < 0) break;
    node_clear(source, tmp);
    busy += migrate_to_node(t, mm, source, dest, cost);  // the caller's CPU does the work
  }
  return busy;
}

}  // namespace numasim::os
