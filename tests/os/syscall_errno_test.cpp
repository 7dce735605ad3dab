// Every error of the mmap(2), munmap(2), mprotect(2), madvise(2), mbind(2),
// set_mempolicy(2), get_mempolicy(2) and move_pages(2) man pages that can arise
// without files or privileges, each checked to leave the address space, the
// page tables, the counters, the hugetlb pool and the policies unchanged.
// Not reachable here: EACCES/ENODEV/ETXTBSY of file mappings (there are no
// files: a non-anonymous mapping is EBADF), EAGAIN/EPERM of locking limits and
// capabilities, EOVERFLOW (needs 32-bit offsets), EFAULT for bad user pointers
// other than null (user pointers are host pointers).
#include <gtest/gtest.h>

#include "os/mempolicy.h"
#include "tests/os/kernel_fixture.h"

using namespace numasim;
using namespace numasim::os;
using namespace numasim::os::testing;

namespace {

class SyscallErrnoTest : public KernelTest {
 protected:
  void SetUp() override {
    t = spawn(0);
    ASSERT_EQ(mmap_anon(t, 8 * kPageSize, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_POPULATE, A), long(A));
    ASSERT_EQ(mmap_anon(t, 2 * kPageSize, PROT_READ, MAP_FIXED, B), long(B));  // hole between A and B
    ASSERT_EQ(touch(t, B, false), Kernel::FaultResult::Handled);
    ASSERT_EQ(k().sys_mmap(t, H, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED,
                           -1, 0, cost_),
              long(H));
    ASSERT_EQ(touch(t, H), Kernel::FaultResult::Handled);
    ASSERT_EQ(k().sys_brk(t, t->mm->start_brk + 3 * kPageSize, cost_), long(t->mm->start_brk + 3 * kPageSize));
    unsigned long node0 = 1;
    ASSERT_EQ(k().sys_set_mempolicy(t, MPOL_PREFERRED, &node0, 3, cost_), 0);
    before = snapshot(t);
  }
  // The call must fail with `err` and change nothing.
  void expect_errno(long got, int err, const char* what) {
    EXPECT_EQ(got, -err) << what;
    EXPECT_EQ(snapshot(t), before) << what;
    k().check_consistency();
  }

  static constexpr VirtAddr A = 0x10000000;
  static constexpr VirtAddr B = 0x10010000;
  static constexpr VirtAddr H = 0x40000000;
  task_struct* t = nullptr;
  std::string before;
};

#define ERRNO(call, err) expect_errno((call), (err), #call)

TEST_F(SyscallErrnoTest, Mmap) {
  auto mm = [&](VirtAddr addr, std::uint64_t len, int prot, int flags, int fd = -1, std::uint64_t off = 0) {
    return k().sys_mmap(t, addr, len, prot, flags, fd, off, cost_);
  };
  const int P = MAP_PRIVATE | MAP_ANONYMOUS;
  ERRNO(mm(0, kPageSize, PROT_READ, MAP_PRIVATE, 3), EBADF);  // not anonymous: fd is no open file
  ERRNO(mm(0, kPageSize, PROT_READ, MAP_SHARED, -1), EBADF);
  ERRNO(mm(A, kPageSize, PROT_READ, P | MAP_FIXED_NOREPLACE), EEXIST);
  ERRNO(mm(A + 0x7000, 2 * kPageSize, PROT_READ, P | MAP_FIXED_NOREPLACE), EEXIST);  // partial overlap
  ERRNO(mm(0, 0, PROT_READ, P), EINVAL);                                             // length 0
  ERRNO(mm(0, kPageSize, PROT_READ, P, -1, 100), EINVAL);                            // unaligned offset
  ERRNO(mm(A + 1, kPageSize, PROT_READ, P | MAP_FIXED), EINVAL);                     // unaligned fixed address
  ERRNO(mm(0, kPageSize, PROT_READ, MAP_ANONYMOUS), EINVAL);                         // neither shared nor private
  ERRNO(mm(0, kPageSize, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS), EINVAL);
  ERRNO(mm(0, kPageSize, PROT_READ, 0x0f | MAP_ANONYMOUS), EINVAL);  // unknown type
  ERRNO(mm(0, kPageSize, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN), EINVAL);
  ERRNO(mm(0, 2 << 20, PROT_READ, P | MAP_HUGETLB | MAP_HUGE_1GB), EINVAL);        // no 1 GiB hstate
  ERRNO(mm(0x50100000, 2 << 20, PROT_READ, P | MAP_HUGETLB | MAP_FIXED), EINVAL);  // not huge-aligned
  ERRNO(mm(H + kPageSize, kPageSize, PROT_READ, P | MAP_FIXED), EINVAL);           // would split a huge page
  ERRNO(mm(0, 1ull << 47, PROT_READ, P), ENOMEM);                                  // larger than the address space
  ERRNO(mm(0, ~0ull - 100, PROT_READ, P), ENOMEM);                                 // rounds up past 2^64
  ERRNO(mm(t->mm->task_size - kPageSize, 2 * kPageSize, PROT_READ, P | MAP_FIXED), ENOMEM);
  ERRNO(mm(0, 16 << 20, PROT_READ, P | MAP_HUGETLB), ENOMEM);     // pool: 8 pages, 2 in use/reserved
  ERRNO(mm(0x1000, kPageSize, PROT_READ, P | MAP_FIXED), EPERM);  // below mmap_min_addr
}

TEST_F(SyscallErrnoTest, MmapMapCountLimit) {
  // Four VMAs exist (A, B, H, heap). Linux refuses a new mapping only when
  // map_count > max_map_count, and a split when map_count >= max_map_count.
  params_.max_map_count = 3;
  kernel_.reset();
  kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  SetUp();
  ERRNO(mmap_anon(t, kPageSize, PROT_EXEC), ENOMEM);
  ERRNO(k().sys_munmap(t, A + kPageSize, kPageSize, cost_), ENOMEM);  // a split in the middle
  ERRNO(k().sys_mprotect(t, A + kPageSize, kPageSize, PROT_READ, cost_), ENOMEM);
  ERRNO(mmap_anon(t, kPageSize, PROT_EXEC, MAP_FIXED, A + kPageSize), ENOMEM);
  // Removing a whole VMA needs no new slot.
  EXPECT_EQ(k().sys_munmap(t, B, 2 * kPageSize, cost_), 0);
}

TEST_F(SyscallErrnoTest, Munmap) {
  ERRNO(k().sys_munmap(t, A + 1, kPageSize, cost_), EINVAL);
  ERRNO(k().sys_munmap(t, A, 0, cost_), EINVAL);
  ERRNO(k().sys_munmap(t, t->mm->task_size - kPageSize, 2 * kPageSize, cost_), EINVAL);
  ERRNO(k().sys_munmap(t, ~0ull & ~(kPageSize - 1), kPageSize, cost_), EINVAL);
  ERRNO(k().sys_munmap(t, H + (1 << 20), 2 << 20, cost_), EINVAL);  // inside a huge page
  // Unmapping nothing is not an error.
  EXPECT_EQ(k().sys_munmap(t, 0x30000000, kPageSize, cost_), 0);
  EXPECT_EQ(snapshot(t), before);
}

TEST_F(SyscallErrnoTest, Mprotect) {
  auto mp = [&](VirtAddr a, std::uint64_t len, int prot) { return k().sys_mprotect(t, a, len, prot, cost_); };
  ERRNO(mp(A + 1, kPageSize, PROT_READ), EINVAL);
  ERRNO(mp(A, kPageSize, 0x10), EINVAL);  // unknown bit
  ERRNO(mp(A, kPageSize, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), EINVAL);
  ERRNO(mp(A, kPageSize, PROT_READ | PROT_GROWSDOWN), EINVAL);  // not a VM_GROWSDOWN mapping
  ERRNO(mp(A, kPageSize, PROT_READ | PROT_GROWSUP), EINVAL);    // no VM_GROWSUP on x86
  ERRNO(mp(H, 1 << 20, PROT_READ), EINVAL);                     // splits a huge page
  ERRNO(mp(A, 0x20000, PROT_READ), ENOMEM);                     // runs into the hole
  ERRNO(mp(A - kPageSize, 2 * kPageSize, PROT_READ), ENOMEM);   // starts unmapped
  ERRNO(mp(0x30000000, kPageSize, PROT_READ), ENOMEM);
  ERRNO(mp(A, ~0ull - A, PROT_READ), ENOMEM);  // wraps around
  // EACCES: the VMA may not become writable (as a read-only file mapping).
  vma_lookup(*t->mm, B)->vm_flags &= ~VM_MAYWRITE;
  before = snapshot(t);
  ERRNO(mp(B, kPageSize, PROT_READ | PROT_WRITE), EACCES);
  EXPECT_EQ(mp(A, 0, PROT_NONE), 0);  // len 0 is a no-op
  EXPECT_EQ(snapshot(t), before);
}

TEST_F(SyscallErrnoTest, Madvise) {
  auto ma = [&](VirtAddr a, std::uint64_t len, int adv) { return k().sys_madvise(t, a, len, adv, cost_); };
  ERRNO(ma(A + 1, kPageSize, MADV_DONTNEED), EINVAL);
  ERRNO(ma(A, kPageSize, 12345), EINVAL);
  ERRNO(ma(A, kPageSize, MADV_REMOVE), EINVAL);     // not modelled
  ERRNO(ma(A, ~0ull - 10, MADV_DONTNEED), EINVAL);  // length overflows
  ERRNO(ma(A, 0x20000, MADV_DONTNEED), ENOMEM);     // hole
  ERRNO(ma(A, 0x20000, MADV_RANDOM), ENOMEM);
  ERRNO(ma(H + kPageSize, kPageSize, MADV_DONTNEED), EINVAL);  // hugetlb: start not huge-aligned
  ERRNO(ma(H, 2 << 20, MADV_FREE), EINVAL);                    // MADV_FREE on hugetlb
  long s = k().sys_mmap(t, 0, kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0, cost_);
  long l = mmap_anon(t, kPageSize, PROT_READ | PROT_WRITE, MAP_LOCKED);
  before = snapshot(t);
  ERRNO(ma(s, kPageSize, MADV_FREE), EINVAL);      // MADV_FREE on shared memory
  ERRNO(ma(l, kPageSize, MADV_DONTNEED), EINVAL);  // locked
  EXPECT_EQ(ma(A, 0, MADV_DONTNEED), 0);
  EXPECT_EQ(ma(A, kPageSize, MADV_WILLNEED), 0);
  EXPECT_EQ(snapshot(t), before);
}

TEST_F(SyscallErrnoTest, Mbind) {
  unsigned long n0 = 1, n1 = 2, none = 0, far = 1ul << 7, hi[2] = {0, 1};
  auto mb = [&](VirtAddr a, std::uint64_t len, int mode, const unsigned long* m, unsigned long maxnode,
                unsigned flags = 0) { return k().sys_mbind(t, a, len, mode, m, maxnode, flags, cost_); };
  ERRNO(mb(A, kPageSize, MPOL_MAX, &n0, 3), EINVAL);  // unknown mode
  ERRNO(mb(A, kPageSize, MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &n0, 3), EINVAL);
  ERRNO(mb(A, kPageSize, MPOL_BIND, &n0, 3, 1u << 5), EINVAL);  // unknown flag
  ERRNO(mb(A + 1, kPageSize, MPOL_BIND, &n0, 3), EINVAL);       // unaligned start
  ERRNO(mb(A, kPageSize, MPOL_BIND, &none, 3), EINVAL);         // empty nodemask
  ERRNO(mb(A, kPageSize, MPOL_INTERLEAVE, nullptr, 0), EINVAL);
  ERRNO(mb(A, kPageSize, MPOL_DEFAULT, &n1, 3), EINVAL);  // nodes with MPOL_DEFAULT
  ERRNO(mb(A, kPageSize, MPOL_LOCAL, &n1, 3), EINVAL);
  ERRNO(mb(A, kPageSize, MPOL_BIND, &far, 9), EINVAL);                 // node 7 has no memory
  ERRNO(mb(A, kPageSize, MPOL_BIND, hi, 128), EINVAL);                 // bit 64: beyond MAX_NUMNODES
  ERRNO(mb(A, kPageSize, MPOL_BIND, &n0, kPageSize * 8 + 2), EINVAL);  // maxnode too large
  ERRNO(mb(A, ~0ull - A, MPOL_BIND, &n0, 3), EINVAL);                  // end wraps
  ERRNO(mb(A, 0x20000, MPOL_BIND, &n0, 3), EFAULT);                    // hole in the range
  ERRNO(mb(0x30000000, kPageSize, MPOL_BIND, &n0, 3), EFAULT);
  ERRNO(mb(H, 1 << 20, MPOL_BIND, &n0, 3), EINVAL);                     // splits a huge page
  ERRNO(mb(A, 8 * kPageSize, MPOL_BIND, &n1, 3, MPOL_MF_STRICT), EIO);  // pages sit on node 0
  // The same without STRICT succeeds (and only changes the policy).
  EXPECT_EQ(mb(A, kPageSize, MPOL_BIND, &n1, 3), 0);
  EXPECT_EQ(mb(A, 0, MPOL_BIND, &n1, 3), 0);  // empty range
}

TEST_F(SyscallErrnoTest, SetMempolicy) {
  unsigned long n0 = 1, none = 0, far = 1ul << 9, hi[2] = {0, 4};
  auto sm = [&](int mode, const unsigned long* m, unsigned long maxnode) {
    return k().sys_set_mempolicy(t, mode, m, maxnode, cost_);
  };
  ERRNO(sm(MPOL_MAX, &n0, 3), EINVAL);
  ERRNO(sm(-1, &n0, 3), EINVAL);
  ERRNO(sm(MPOL_BIND, &none, 3), EINVAL);
  ERRNO(sm(MPOL_PREFERRED_MANY, &none, 3), EINVAL);
  ERRNO(sm(MPOL_DEFAULT, &n0, 3), EINVAL);
  ERRNO(sm(MPOL_LOCAL, &n0, 3), EINVAL);
  ERRNO(sm(MPOL_INTERLEAVE | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &n0, 3), EINVAL);
  ERRNO(sm(MPOL_INTERLEAVE, &far, 11), EINVAL);  // only a node without memory
  ERRNO(sm(MPOL_BIND, hi, 128), EINVAL);
  ERRNO(sm(MPOL_BIND, &n0, kPageSize * 8 + 2), EINVAL);
  ERRNO(sm(MPOL_BIND, &n0, 1), EINVAL);  // maxnode 1: no bits, empty
}

TEST_F(SyscallErrnoTest, GetMempolicy) {
  int mode = 77;
  unsigned long mask[2] = {99, 99};
  auto gm = [&](unsigned long* m, unsigned long maxnode, VirtAddr addr, unsigned long flags) {
    return k().sys_get_mempolicy(t, &mode, m, maxnode, addr, flags, cost_);
  };
  ERRNO(gm(mask, 64, 0, 1ul << 5), EINVAL);  // unknown flag
  ERRNO(gm(mask, 1, 0, 0), EINVAL);          // maxnode < nr_node_ids
  ERRNO(gm(mask, 64, 0, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL);
  ERRNO(gm(mask, 64, A, MPOL_F_MEMS_ALLOWED | MPOL_F_ADDR), EINVAL);
  ERRNO(gm(mask, 64, A, 0), EINVAL);                     // addr without MPOL_F_ADDR
  ERRNO(gm(mask, 64, 0, MPOL_F_NODE), EINVAL);           // task policy is not interleave
  ERRNO(gm(mask, 64, 0x30000000, MPOL_F_ADDR), EFAULT);  // no VMA there
  EXPECT_EQ(mode, 77);
  EXPECT_EQ(mask[0], 99u);
}

TEST_F(SyscallErrnoTest, MovePages) {
  VirtAddr pages[2] = {A, A + kPageSize};
  int nodes[2] = {1, 1};
  int status[2] = {55, 55};
  auto mv = [&](int pid, unsigned long count, const VirtAddr* p, const int* n, int* s, int flags) {
    return k().sys_move_pages(t, pid, count, p, n, s, flags, cost_);
  };
  ERRNO(mv(0, 2, pages, nodes, status, 1 << 3), EINVAL);  // unknown flag
  ERRNO(mv(0, 2, pages, nodes, status, MPOL_MF_STRICT), EINVAL);
  ERRNO(mv(9999, 2, pages, nodes, status, 0), ESRCH);
  ERRNO(mv(0, 2, nullptr, nodes, status, 0), EFAULT);
  ERRNO(mv(0, 2, pages, nodes, nullptr, 0), EFAULT);
  int bad[2] = {1, -1};
  ERRNO(mv(0, 2, pages, bad, status, 0), EINVAL);
  int big[2] = {1, 64};
  ERRNO(mv(0, 2, pages, big, status, 0), EINVAL);
  int absent[2] = {1, 5};  // node 5 does not exist
  ERRNO(mv(0, 2, pages, absent, status, 0), ENODEV);
  EXPECT_EQ(status[0], 55);  // nothing was written or moved
}

}  // namespace
