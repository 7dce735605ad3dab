// The slice of Linux's user ABI the workload generators speak: mmap protection
// and flag bits, madvise advice, mempolicy modes and flags, errno numbers, with
// Linux's numeric values (x86-64). Names carry a k prefix so that they never
// clash with the macros of <sys/mman.h> or <numaif.h> if a host header is seen.
// Simplified: only the values the generators and scripted scenarios use; the
// kernel model (os/) keeps its own definitions and must agree with these.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace numasim::workloads::abi {

// include/uapi/asm-generic/mman-common.h, mman.h (x86-64)
inline constexpr int kProtNone = 0x0;
inline constexpr int kProtRead = 0x1;
inline constexpr int kProtWrite = 0x2;
inline constexpr int kProtExec = 0x4;

inline constexpr int kMapShared = 0x01;
inline constexpr int kMapPrivate = 0x02;
inline constexpr int kMapFixed = 0x10;
inline constexpr int kMapAnonymous = 0x20;
inline constexpr int kMapNoreserve = 0x4000;
inline constexpr int kMapPopulate = 0x8000;
inline constexpr int kMapHugetlb = 0x40000;
inline constexpr int kMapFixedNoreplace = 0x100000;
// MAP_HUGETLB page size: log2 of the size in bits 26..31 (0: the default hstate).
inline constexpr int kMapHugeShift = 26;
inline constexpr int kMapHugeMask = 0x3f;
inline constexpr int kMapHuge2mb = 21 << kMapHugeShift;
inline constexpr int kMapHuge1gb = 30 << kMapHugeShift;

inline constexpr int kMadvNormal = 0;
inline constexpr int kMadvRandom = 1;
inline constexpr int kMadvSequential = 2;
inline constexpr int kMadvWillneed = 3;
inline constexpr int kMadvDontneed = 4;
// mlock2(2) / mlockall(2) flags.
inline constexpr int kMlockOnfault = 0x01;
inline constexpr int kMclCurrent = 1;
inline constexpr int kMclFuture = 2;
inline constexpr int kMclOnfault = 4;
inline constexpr int kMadvFree = 8;
inline constexpr int kMadvHugepage = 14;
inline constexpr int kMadvNohugepage = 15;
inline constexpr int kMadvMergeable = 12;
inline constexpr int kMadvUnmergeable = 13;
inline constexpr int kMadvDontdump = 16;
inline constexpr int kMadvDodump = 17;
inline constexpr int kMadvWipeonfork = 18;
inline constexpr int kMadvKeeponfork = 19;
inline constexpr int kMadvCold = 20;
inline constexpr int kMadvPageout = 21;
inline constexpr int kMadvPopulateRead = 22;
inline constexpr int kMadvPopulateWrite = 23;

// include/uapi/linux/mempolicy.h
inline constexpr int kMpolDefault = 0;
inline constexpr int kMpolPreferred = 1;
inline constexpr int kMpolBind = 2;
inline constexpr int kMpolInterleave = 3;
inline constexpr int kMpolLocal = 4;
inline constexpr int kMpolPreferredMany = 5;
inline constexpr int kMpolWeightedInterleave = 6;  // Linux 6.9 (not in 6.1)

inline constexpr int kMpolFStaticNodes = 1 << 15;
inline constexpr int kMpolFRelativeNodes = 1 << 14;

inline constexpr unsigned kMpolMfStrict = 1u << 0;
inline constexpr unsigned kMpolMfMove = 1u << 1;
inline constexpr unsigned kMpolMfMoveAll = 1u << 2;

inline constexpr unsigned long kMpolFNode = 1ul << 0;
inline constexpr unsigned long kMpolFAddr = 1ul << 1;
inline constexpr unsigned long kMpolFMemsAllowed = 1ul << 2;

inline constexpr int kMpolMfMoveFlag = 1 << 1;  // move_pages(2) flags: MPOL_MF_MOVE
inline constexpr int kMpolMfMoveAllFlag = 1 << 2;

// include/uapi/asm-generic/fcntl.h (x86-64), lseek whence, fadvise advice (fs/ system calls).
inline constexpr int kORdonly = 0, kOWronly = 01, kORdwr = 02, kOCreat = 0100, kOExcl = 0200, kOTrunc = 01000,
                     kOAppend = 02000, kODsync = 010000, kODirect = 040000, kOSync = 04010000;
inline constexpr int kSeekSet = 0, kSeekCur = 1, kSeekEnd = 2, kSeekData = 3, kSeekHole = 4;
inline constexpr int kFadvNormal = 0, kFadvRandom = 1, kFadvSequential = 2, kFadvWillneed = 3, kFadvDontneed = 4,
                     kFadvNoreuse = 5;
// include/uapi/linux/memfd.h, ipc.h, shm.h (shared memory: os/shmem.h).
inline constexpr int kMfdCloexec = 1, kMfdAllowSealing = 2, kMfdHugetlb = 4;
inline constexpr int kIpcPrivate = 0, kIpcCreat = 01000, kIpcExcl = 02000, kIpcRmid = 0, kIpcStat = 2;
inline constexpr int kShmRdonly = 010000, kShmRnd = 020000, kShmRemap = 040000, kShmHugetlb = 04000;

// Symbolic errno name ("EINVAL") for a positive errno number; "E<n>" if unknown.
std::string errno_name(int err);
// Inverse of errno_name for the names it knows.
std::optional<int> errno_from_name(std::string_view name);

// Named constants accepted in scripts: "PROT_READ", "MAP_SHARED", "MADV_DONTNEED",
// "MPOL_BIND", "MPOL_MF_MOVE", "MPOL_F_ADDR", ... -> value.
std::optional<long> constant_from_name(std::string_view name);

}  // namespace numasim::workloads::abi
