// Shared set-up for the address-space tests (OS-B): a small two-node machine
// (two sockets, two CPUs and 256 MiB each, SLIT 10/21) with an optional hugetlb
// pool, a recording fake Platform and an os::Kernel, plus helpers that
// snapshot everything a failed system call must leave unchanged.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

#include "common/config.h"
#include "common/topology.h"
#include "os/kernel.h"
#include "os/mempolicy.h"
#include "os/mmap.h"
#include "os/syscalls.h"
#include "tests/os/fake_platform.h"

namespace numasim::os::testing {

inline Topology two_node_topology(const char* mem_per_node = "256MiB") {
  std::string text = std::string("[machine]\nsockets = 2\ncores_per_socket = 2\nmemory_per_node = \"") + mem_per_node +
                     "\"\ndistances = [[10, 21], [21, 10]]\n"
                     "[[link]]\nnodes = [0, 1]\nlatency = \"50ns\"\nbandwidth = \"20GB/s\"\n";
  auto doc = ConfigDocument::from_string(text, "osb_topology.toml");
  Topology t = Topology::from_config(doc->root());
  doc->finish();
  return t;
}

class KernelTest : public ::testing::Test {
 protected:
  explicit KernelTest(std::vector<std::uint64_t> hugepages = {4, 4}, const char* mem = "256MiB")
      : topo_(two_node_topology(mem)) {
    params_.nr_hugepages_node = std::move(hugepages);
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }

  Kernel& k() { return *kernel_; }
  PhysMem& pm() { return kernel_->physmem(); }
  task_struct* spawn(int cpu = 0) {
    CpuMask all;
    all.set();
    return kernel_->create_task("test", CpuId(cpu), all);
  }
  long mmap_anon(task_struct* t, std::uint64_t len, int prot = PROT_READ | PROT_WRITE, int extra = 0,
                 VirtAddr addr = 0) {
    return kernel_->sys_mmap(t, addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0, cost_);
  }
  // A user buffer for read()/write()/pread64/pwrite64, which copy through the
  // task's page tables (os/uaccess.cpp): `len` bytes of private anonymous
  // memory, as malloc gives a program, touched once (MAP_POPULATE: every page
  // present and writable) unless `populate` is false.
  VirtAddr user_buf(task_struct* t, std::uint64_t len = 1 << 20, bool populate = true) {
    const long a = mmap_anon(t, len, PROT_READ | PROT_WRITE, populate ? MAP_POPULATE : 0);
    EXPECT_GT(a, 0) << "user_buf: mmap failed";
    return a > 0 ? static_cast<VirtAddr>(a) : 0;
  }
  Kernel::FaultResult touch(task_struct* t, VirtAddr a, bool write = true) {
    return kernel_->touch(t, a, write, cost_);
  }
  std::string maps(task_struct* t) const { return vma_map_string(*t->mm); }
  std::uint64_t free_pages() const {
    return static_cast<std::uint64_t>(kernel_->physmem().global_zone_page_state(NR_FREE_PAGES));
  }
  // Frames held by slab caches (SLUB keeps empty slabs up to min_partial, so a
  // failed call that took and gave back an object may leave one cached).
  std::uint64_t slab_pages() const {
    std::uint64_t n = 0;
    for (int nid = 0; nid < kernel_->physmem().nr_node_ids(); ++nid) n += kernel_->slub().slab_pages(NodeId(nid));
    return n;  // slab_pages counts kmalloc_large blocks too
  }
  // Everything a failing system call must not change. "free" counts free
  // frames plus frames cached by slab caches: the pages the call could have
  // taken for user memory or page tables.
  std::string snapshot(task_struct* t) {
    kernel_->physmem().drain_all_pages(scratch_);
    std::ostringstream s;
    s << maps(t) << " | rss " << t->mm->rss_stat[MM_ANONPAGES] << "/" << t->mm->rss_stat[MM_SHMEMPAGES] << " | free "
      << free_pages() + slab_pages() << " | tables " << kernel_->pgtables().nr_tables() << " | brk " << std::hex << t->mm->brk
      << std::dec << " | resv " << kernel_->hugetlb().resv_huge_pages() << " | hfree "
      << kernel_->hugetlb().free_huge_pages() << " | flt " << t->min_flt << " | segv " << t->nr_sigsegv;
    for (const auto& [start, v] : t->mm->mm_mt) {
      s << " | " << std::hex << start << std::dec << " f" << v.vm_flags << " pol"
        << (v.vm_policy ? v.vm_policy->mode : -1);
    }
    s << " | taskpol " << (t->mempolicy ? t->mempolicy->mode : -1);
    // Every present leaf and its bits.
    kernel_->pgtables().for_each_leaf(t->mm->pgd, 0, 1ull << 48, [&](VirtAddr va, const PteRef& r) {
      s << " " << std::hex << va << "=" << r.value() << std::dec;
    });
    return s.str();
  }
  // The node of the page mapped at va, -1 if none: follow_page with foll_flags (0 finds
  // a PROT_NONE NUMA-hinting entry's page as move_pages does; FOLL_NUMA is the hardware view).
  int nid_of(task_struct* t, VirtAddr va, unsigned foll_flags = Kernel::FOLL_NUMA) {
    auto fr = k().follow_page(*t->mm, va, foll_flags);
    return fr ? pm().page_to_nid(fr->pg).value() : -1;
  }
  // The token (os/page_token.h) of the 4 KiB frame mapped at va (a THP's subpage, not its
  // head): written as a store would leave it, read back (~0 when nothing is mapped there).
  void put_token(task_struct* t, VirtAddr va, std::uint64_t tok) {
    auto fr = k().follow_page(*t->mm, va);
    ASSERT_TRUE(fr.has_value());
    k().page_tokens().set(fr->phys >> kPageShift, tok);
  }
  std::uint64_t get_token(task_struct* t, VirtAddr va) {
    auto fr = k().follow_page(*t->mm, va);
    return fr ? k().page_tokens().get(fr->phys >> kPageShift) : ~0ull;
  }

  Topology topo_;
  KernelParams params_;
  FakePlatform platform_;
  std::unique_ptr<Kernel> kernel_;
  KernelCost cost_;
  KernelCost scratch_;
};

}  // namespace numasim::os::testing
