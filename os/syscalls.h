// User-visible constants of the memory system calls, with Linux's x86-64 uapi
// values (asm-generic/mman-common.h, mman.h, linux/mempolicy.h), so that traces
// and workloads can pass the numbers a real program would. The calls themselves
// are members of os::Kernel (kernel.h), implemented in syscalls.cpp with each man
// page's argument checks done before anything is changed.
#pragma once

namespace numasim::os {

// mmap prot
inline constexpr int PROT_NONE = 0x0;
inline constexpr int PROT_READ = 0x1;
inline constexpr int PROT_WRITE = 0x2;
inline constexpr int PROT_EXEC = 0x4;
inline constexpr int PROT_SEM = 0x8;
inline constexpr int PROT_GROWSDOWN = 0x01000000;
inline constexpr int PROT_GROWSUP = 0x02000000;

// mmap flags
inline constexpr int MAP_SHARED = 0x01;
inline constexpr int MAP_PRIVATE = 0x02;
inline constexpr int MAP_SHARED_VALIDATE = 0x03;
inline constexpr int MAP_TYPE = 0x0f;
inline constexpr int MAP_FIXED = 0x10;
inline constexpr int MAP_ANONYMOUS = 0x20;
inline constexpr int MAP_32BIT = 0x40;
inline constexpr int MAP_GROWSDOWN = 0x0100;
inline constexpr int MAP_DENYWRITE = 0x0800;
inline constexpr int MAP_EXECUTABLE = 0x1000;
inline constexpr int MAP_LOCKED = 0x2000;
inline constexpr int MAP_NORESERVE = 0x4000;
inline constexpr int MAP_POPULATE = 0x8000;
inline constexpr int MAP_NONBLOCK = 0x10000;
inline constexpr int MAP_STACK = 0x20000;
inline constexpr int MAP_HUGETLB = 0x40000;
inline constexpr int MAP_SYNC = 0x80000;
inline constexpr int MAP_FIXED_NOREPLACE = 0x100000;
inline constexpr int MAP_UNINITIALIZED = 0x4000000;
inline constexpr int MAP_HUGE_SHIFT = 26;
inline constexpr int MAP_HUGE_MASK = 0x3f;
inline constexpr int MAP_HUGE_2MB = 21 << MAP_HUGE_SHIFT;
inline constexpr int MAP_HUGE_1GB = 30 << MAP_HUGE_SHIFT;
inline constexpr long MAP_FAILED_ERRNO_LIMIT = 4095;  // IS_ERR_VALUE: -4095..-1 are errors

// madvise advice
inline constexpr int MADV_NORMAL = 0;
inline constexpr int MADV_RANDOM = 1;
inline constexpr int MADV_SEQUENTIAL = 2;
inline constexpr int MADV_WILLNEED = 3;
inline constexpr int MADV_DONTNEED = 4;
inline constexpr int MADV_FREE = 8;
inline constexpr int MADV_REMOVE = 9;
inline constexpr int MADV_DONTFORK = 10;
inline constexpr int MADV_DOFORK = 11;
inline constexpr int MADV_HUGEPAGE = 14;
inline constexpr int MADV_NOHUGEPAGE = 15;
inline constexpr int MADV_MERGEABLE = 12;
inline constexpr int MADV_UNMERGEABLE = 13;
inline constexpr int MADV_DONTDUMP = 16;
inline constexpr int MADV_DODUMP = 17;
inline constexpr int MADV_WIPEONFORK = 18;
inline constexpr int MADV_KEEPONFORK = 19;
inline constexpr int MADV_COLD = 20;
inline constexpr int MADV_PAGEOUT = 21;
inline constexpr int MADV_POPULATE_READ = 22;
inline constexpr int MADV_POPULATE_WRITE = 23;

// msync flags (include/uapi/asm-generic/mman-common.h)
inline constexpr int MS_ASYNC = 1;
inline constexpr int MS_INVALIDATE = 2;
inline constexpr int MS_SYNC = 4;

// mbind flags
inline constexpr unsigned MPOL_MF_STRICT = 1u << 0;
inline constexpr unsigned MPOL_MF_MOVE = 1u << 1;
inline constexpr unsigned MPOL_MF_MOVE_ALL = 1u << 2;
// get_mempolicy flags
inline constexpr unsigned long MPOL_F_NODE = 1ul << 0;
inline constexpr unsigned long MPOL_F_ADDR = 1ul << 1;
inline constexpr unsigned long MPOL_F_MEMS_ALLOWED = 1ul << 2;

// Page-fault flags passed by the MMU (FAULT_FLAG_* in include/linux/mm_types.h).
inline constexpr unsigned FAULT_FLAG_WRITE = 1u << 0;
inline constexpr unsigned FAULT_FLAG_USER = 1u << 6;
inline constexpr unsigned FAULT_FLAG_INSTRUCTION = 1u << 8;

}  // namespace numasim::os
