// The numbers the layers must agree on, checked in one place: the Linux uapi
// constants the workload generators pass (workloads/linux_abi.h) against the
// kernel model's own (os/syscalls.h, os/mempolicy.h), the errno numbers the
// scripted scenarios name against the ones the kernel returns (<cerrno>), and
// the page-table entry bits the hardware walker reads (hw/mmu.h) against the
// ones the kernel writes (os/pgtable.h). Each layer keeps its own definitions
// (hw/ and workloads/ must not need os/ internals); this test is what keeps
// them the same numbers.
#include <gtest/gtest.h>

#include <cerrno>

#include "hw/core.h"
#include "hw/mmu.h"
#include "os/mempolicy.h"
#include "os/pgtable.h"
#include "os/shmem.h"
#include "os/syscalls.h"
#include "workloads/linux_abi.h"

namespace numasim {
namespace {

namespace abi = workloads::abi;

struct NamedValue {
  const char* name;
  long os_value;
  long workloads_value;
};

TEST(AbiConsistency, MmapMadviseAndMempolicyConstantsAgree) {
  const NamedValue values[] = {
      {"PROT_NONE", os::PROT_NONE, abi::kProtNone},
      {"PROT_READ", os::PROT_READ, abi::kProtRead},
      {"PROT_WRITE", os::PROT_WRITE, abi::kProtWrite},
      {"PROT_EXEC", os::PROT_EXEC, abi::kProtExec},
      {"MAP_SHARED", os::MAP_SHARED, abi::kMapShared},
      {"MAP_PRIVATE", os::MAP_PRIVATE, abi::kMapPrivate},
      {"MAP_FIXED", os::MAP_FIXED, abi::kMapFixed},
      {"MAP_ANONYMOUS", os::MAP_ANONYMOUS, abi::kMapAnonymous},
      {"MAP_NORESERVE", os::MAP_NORESERVE, abi::kMapNoreserve},
      {"MAP_POPULATE", os::MAP_POPULATE, abi::kMapPopulate},
      {"MAP_HUGETLB", os::MAP_HUGETLB, abi::kMapHugetlb},
      {"MAP_FIXED_NOREPLACE", os::MAP_FIXED_NOREPLACE, abi::kMapFixedNoreplace},
      {"MAP_HUGE_SHIFT", os::MAP_HUGE_SHIFT, abi::kMapHugeShift},
      {"MAP_HUGE_MASK", os::MAP_HUGE_MASK, abi::kMapHugeMask},
      {"MAP_HUGE_2MB", os::MAP_HUGE_2MB, abi::kMapHuge2mb},
      {"MAP_HUGE_1GB", os::MAP_HUGE_1GB, abi::kMapHuge1gb},
      {"MADV_NORMAL", os::MADV_NORMAL, abi::kMadvNormal},
      {"MADV_RANDOM", os::MADV_RANDOM, abi::kMadvRandom},
      {"MADV_SEQUENTIAL", os::MADV_SEQUENTIAL, abi::kMadvSequential},
      {"MADV_WILLNEED", os::MADV_WILLNEED, abi::kMadvWillneed},
      {"MADV_DONTNEED", os::MADV_DONTNEED, abi::kMadvDontneed},
      {"MADV_FREE", os::MADV_FREE, abi::kMadvFree},
      {"MADV_HUGEPAGE", os::MADV_HUGEPAGE, abi::kMadvHugepage},
      {"MADV_NOHUGEPAGE", os::MADV_NOHUGEPAGE, abi::kMadvNohugepage},
      {"MADV_MERGEABLE", os::MADV_MERGEABLE, abi::kMadvMergeable},
      {"MADV_UNMERGEABLE", os::MADV_UNMERGEABLE, abi::kMadvUnmergeable},
      {"MADV_DONTDUMP", os::MADV_DONTDUMP, abi::kMadvDontdump},
      {"MADV_DODUMP", os::MADV_DODUMP, abi::kMadvDodump},
      {"MFD_CLOEXEC", os::MFD_CLOEXEC, abi::kMfdCloexec},
      {"MFD_ALLOW_SEALING", os::MFD_ALLOW_SEALING, abi::kMfdAllowSealing},
      {"MFD_HUGETLB", os::MFD_HUGETLB, abi::kMfdHugetlb},
      {"IPC_PRIVATE", os::IPC_PRIVATE, abi::kIpcPrivate},
      {"IPC_CREAT", os::IPC_CREAT, abi::kIpcCreat},
      {"IPC_EXCL", os::IPC_EXCL, abi::kIpcExcl},
      {"IPC_RMID", os::IPC_RMID, abi::kIpcRmid},
      {"IPC_STAT", os::IPC_STAT, abi::kIpcStat},
      {"SHM_RDONLY", os::SHM_RDONLY, abi::kShmRdonly},
      {"SHM_RND", os::SHM_RND, abi::kShmRnd},
      {"SHM_REMAP", os::SHM_REMAP, abi::kShmRemap},
      {"SHM_HUGETLB", os::SHM_HUGETLB, abi::kShmHugetlb},
      {"MADV_WIPEONFORK", os::MADV_WIPEONFORK, abi::kMadvWipeonfork},
      {"MADV_KEEPONFORK", os::MADV_KEEPONFORK, abi::kMadvKeeponfork},
      {"MADV_COLD", os::MADV_COLD, abi::kMadvCold},
      {"MADV_PAGEOUT", os::MADV_PAGEOUT, abi::kMadvPageout},
      {"MADV_POPULATE_READ", os::MADV_POPULATE_READ, abi::kMadvPopulateRead},
      {"MADV_POPULATE_WRITE", os::MADV_POPULATE_WRITE, abi::kMadvPopulateWrite},
      {"MPOL_DEFAULT", os::MPOL_DEFAULT, abi::kMpolDefault},
      {"MPOL_PREFERRED", os::MPOL_PREFERRED, abi::kMpolPreferred},
      {"MPOL_BIND", os::MPOL_BIND, abi::kMpolBind},
      {"MPOL_INTERLEAVE", os::MPOL_INTERLEAVE, abi::kMpolInterleave},
      {"MPOL_LOCAL", os::MPOL_LOCAL, abi::kMpolLocal},
      {"MPOL_PREFERRED_MANY", os::MPOL_PREFERRED_MANY, abi::kMpolPreferredMany},
      {"MPOL_WEIGHTED_INTERLEAVE", os::MPOL_WEIGHTED_INTERLEAVE, abi::kMpolWeightedInterleave},
      {"MPOL_F_STATIC_NODES", os::MPOL_F_STATIC_NODES, abi::kMpolFStaticNodes},
      {"MPOL_F_RELATIVE_NODES", os::MPOL_F_RELATIVE_NODES, abi::kMpolFRelativeNodes},
      {"MPOL_MF_STRICT", os::MPOL_MF_STRICT, abi::kMpolMfStrict},
      {"MPOL_MF_MOVE", os::MPOL_MF_MOVE, abi::kMpolMfMove},
      {"MPOL_MF_MOVE_ALL", os::MPOL_MF_MOVE_ALL, abi::kMpolMfMoveAll},
      {"MPOL_F_NODE", static_cast<long>(os::MPOL_F_NODE), static_cast<long>(abi::kMpolFNode)},
      {"MPOL_F_ADDR", static_cast<long>(os::MPOL_F_ADDR), static_cast<long>(abi::kMpolFAddr)},
      {"MPOL_F_MEMS_ALLOWED", static_cast<long>(os::MPOL_F_MEMS_ALLOWED), static_cast<long>(abi::kMpolFMemsAllowed)},
  };
  for (const NamedValue& v : values) {
    EXPECT_EQ(v.os_value, v.workloads_value) << v.name << ": os/ and workloads/ disagree";
    // Scripts name the constant; the script parser must give the kernel's number.
    EXPECT_EQ(abi::constant_from_name(v.name), std::optional<long>(v.os_value)) << v.name << " in scripts";
  }
  // move_pages(2) takes MPOL_MF_MOVE / MPOL_MF_MOVE_ALL as an int.
  EXPECT_EQ(abi::kMpolMfMoveFlag, static_cast<int>(os::MPOL_MF_MOVE));
  EXPECT_EQ(abi::kMpolMfMoveAllFlag, static_cast<int>(os::MPOL_MF_MOVE_ALL));
}

TEST(AbiConsistency, ErrnoNamesAreTheNumbersTheKernelReturns) {
  // The kernel model returns -E... from <cerrno> (the host is Linux x86-64);
  // the results JSON and the scripts' `expect` name them.
  const std::pair<const char*, int> errnos[] = {
      {"EPERM", EPERM}, {"ENOENT", ENOENT}, {"ESRCH", ESRCH},   {"EIO", EIO},         {"EBADF", EBADF},
      {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"EFAULT", EFAULT}, {"EBUSY", EBUSY},
      {"EEXIST", EEXIST}, {"ENODEV", ENODEV}, {"EINVAL", EINVAL}, {"EFBIG", EFBIG},   {"ENOSPC", ENOSPC},
      {"ENOSYS", ENOSYS}, {"EOVERFLOW", EOVERFLOW}, {"EOPNOTSUPP", EOPNOTSUPP},
  };
  for (const auto& [name, value] : errnos) {
    EXPECT_EQ(abi::errno_name(value), name);
    EXPECT_EQ(abi::errno_from_name(name), std::optional<int>(value)) << name;
  }
}

TEST(AbiConsistency, PageTableBitsTheWalkerReadsAreTheOnesTheKernelWrites) {
  EXPECT_EQ(hw::pte::kPresent, os::_PAGE_PRESENT);
  EXPECT_EQ(hw::pte::kRw, os::_PAGE_RW);
  EXPECT_EQ(hw::pte::kUser, os::_PAGE_USER);
  EXPECT_EQ(hw::pte::kAccessed, os::_PAGE_ACCESSED);
  EXPECT_EQ(hw::pte::kDirty, os::_PAGE_DIRTY);
  EXPECT_EQ(hw::pte::kPse, os::_PAGE_PSE);
  EXPECT_EQ(hw::pte::kNx, os::_PAGE_NX);
  EXPECT_EQ(hw::pte::kAddrMask, os::PTE_PFN_MASK);
  // A PROT_NONE entry must look non-present to the walker (it faults, and the
  // kernel tells it from an empty entry by _PAGE_PROTNONE).
  EXPECT_EQ(os::_PAGE_PROTNONE & hw::pte::kPresent, 0u);
}

TEST(AbiConsistency, SystemCallNumbersAreX86_64) {
  // arch/x86/entry/syscalls/syscall_64.tbl
  EXPECT_EQ(os::NR_mmap, 9);
  EXPECT_EQ(os::NR_mprotect, 10);
  EXPECT_EQ(os::NR_munmap, 11);
  EXPECT_EQ(os::NR_brk, 12);
  EXPECT_EQ(os::NR_madvise, 28);
  EXPECT_EQ(os::NR_mbind, 237);
  EXPECT_EQ(os::NR_set_mempolicy, 238);
  EXPECT_EQ(os::NR_get_mempolicy, 239);
  EXPECT_EQ(os::NR_move_pages, 279);
}

}  // namespace
}  // namespace numasim
