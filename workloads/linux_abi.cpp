// Name tables for the Linux ABI values in linux_abi.h: errno numbers (x86-64,
// include/uapi/asm-generic/errno-base.h and errno.h) and the symbolic constants
// scripted scenarios may write instead of numbers.
#include "workloads/linux_abi.h"

#include <array>
#include <utility>

namespace numasim::workloads::abi {
namespace {
struct ErrnoEntry {
  int number;
  const char* name;
};
constexpr std::array<ErrnoEntry, 40> kErrnos{{
    {1, "EPERM"},   {2, "ENOENT"},   {3, "ESRCH"},      {4, "EINTR"},       {5, "EIO"},      {6, "ENXIO"},
    {7, "E2BIG"},   {8, "ENOEXEC"},  {9, "EBADF"},      {10, "ECHILD"},     {11, "EAGAIN"},  {12, "ENOMEM"},
    {13, "EACCES"}, {14, "EFAULT"},  {15, "ENOTBLK"},   {16, "EBUSY"},      {17, "EEXIST"},  {18, "EXDEV"},
    {19, "ENODEV"}, {20, "ENOTDIR"}, {21, "EISDIR"},    {22, "EINVAL"},     {23, "ENFILE"},  {24, "EMFILE"},
    {25, "ENOTTY"}, {26, "ETXTBSY"}, {27, "EFBIG"},     {28, "ENOSPC"},     {29, "ESPIPE"},  {30, "EROFS"},
    {31, "EMLINK"}, {32, "EPIPE"},   {33, "EDOM"},      {34, "ERANGE"},     {35, "EDEADLK"}, {36, "ENAMETOOLONG"},
    {38, "ENOSYS"}, {61, "ENODATA"}, {75, "EOVERFLOW"}, {95, "EOPNOTSUPP"},
}};

struct ConstEntry {
  const char* name;
  long value;
};
constexpr std::array<ConstEntry, 59 + 3 + 21 + 12> kConstants{{  // (59 + MS_ASYNC, MS_INVALIDATE, MS_SYNC + 21 file constants + 12 shared-memory ones)
    {"PROT_NONE", kProtNone},
    {"PROT_READ", kProtRead},
    {"PROT_WRITE", kProtWrite},
    {"PROT_EXEC", kProtExec},
    {"MAP_SHARED", kMapShared},
    {"MAP_PRIVATE", kMapPrivate},
    {"MAP_FIXED", kMapFixed},
    {"MAP_ANONYMOUS", kMapAnonymous},
    {"MAP_NORESERVE", kMapNoreserve},
    {"MAP_POPULATE", kMapPopulate},
    {"MAP_HUGETLB", kMapHugetlb},
    {"MAP_FIXED_NOREPLACE", kMapFixedNoreplace},
    {"MAP_HUGE_2MB", kMapHuge2mb},
    {"MAP_HUGE_1GB", kMapHuge1gb},
    {"MAP_HUGE_SHIFT", kMapHugeShift},
    {"MAP_HUGE_MASK", kMapHugeMask},
    {"MADV_NORMAL", kMadvNormal},
    {"MADV_RANDOM", kMadvRandom},
    {"MADV_SEQUENTIAL", kMadvSequential},
    {"MADV_WILLNEED", kMadvWillneed},
    {"MADV_DONTNEED", kMadvDontneed},
    {"MADV_FREE", kMadvFree},
    {"MADV_HUGEPAGE", kMadvHugepage},
    {"MADV_NOHUGEPAGE", kMadvNohugepage},
    {"MADV_MERGEABLE", kMadvMergeable},
    {"MADV_UNMERGEABLE", kMadvUnmergeable},
    {"MADV_DONTDUMP", kMadvDontdump},
    {"MADV_DODUMP", kMadvDodump},
    {"MADV_WIPEONFORK", kMadvWipeonfork},
    {"MADV_KEEPONFORK", kMadvKeeponfork},
    {"MADV_COLD", kMadvCold},
    {"MADV_PAGEOUT", kMadvPageout},
    {"MS_ASYNC", 1},  // msync flags (include/uapi/asm-generic/mman-common.h)
    {"MS_INVALIDATE", 2},
    {"MS_SYNC", 4},
    {"MADV_POPULATE_READ", kMadvPopulateRead},
    {"MADV_POPULATE_WRITE", kMadvPopulateWrite},
    {"MLOCK_ONFAULT", kMlockOnfault},
    {"MCL_CURRENT", kMclCurrent},
    {"MCL_FUTURE", kMclFuture},
    {"MCL_ONFAULT", kMclOnfault},
    {"MPOL_DEFAULT", kMpolDefault},
    {"MPOL_PREFERRED", kMpolPreferred},
    {"MPOL_BIND", kMpolBind},
    {"MPOL_INTERLEAVE", kMpolInterleave},
    {"MPOL_LOCAL", kMpolLocal},
    {"MPOL_PREFERRED_MANY", kMpolPreferredMany},
    {"MPOL_WEIGHTED_INTERLEAVE", kMpolWeightedInterleave},
    {"MPOL_F_STATIC_NODES", kMpolFStaticNodes},
    {"MPOL_F_RELATIVE_NODES", kMpolFRelativeNodes},
    {"MPOL_MF_STRICT", kMpolMfStrict},
    {"MPOL_MF_MOVE", kMpolMfMove},
    {"MPOL_MF_MOVE_ALL", kMpolMfMoveAll},
    {"MPOL_F_NODE", static_cast<long>(kMpolFNode)},
    {"MPOL_F_ADDR", static_cast<long>(kMpolFAddr)},
    {"MPOL_F_MEMS_ALLOWED", static_cast<long>(kMpolFMemsAllowed)},
    {"PAGE_SIZE", 4096},
    {"NULL", 0},
    {"true", 1},
    {"false", 0},
    {"MAP_ANON", kMapAnonymous},
    {"MPOL_MF_VALID", kMpolMfStrict | kMpolMfMove | kMpolMfMoveAll},
    {"O_RDONLY", kORdonly},
    {"O_WRONLY", kOWronly},
    {"O_RDWR", kORdwr},
    {"O_CREAT", kOCreat},
    {"O_EXCL", kOExcl},
    {"O_TRUNC", kOTrunc},
    {"O_APPEND", kOAppend},
    {"O_DSYNC", kODsync},
    {"O_DIRECT", kODirect},
    {"O_SYNC", kOSync},
    {"SEEK_SET", kSeekSet},
    {"SEEK_CUR", kSeekCur},
    {"SEEK_END", kSeekEnd},
    {"SEEK_DATA", kSeekData},
    {"SEEK_HOLE", kSeekHole},
    {"POSIX_FADV_NORMAL", kFadvNormal},
    {"POSIX_FADV_RANDOM", kFadvRandom},
    {"POSIX_FADV_SEQUENTIAL", kFadvSequential},
    {"POSIX_FADV_WILLNEED", kFadvWillneed},
    {"POSIX_FADV_DONTNEED", kFadvDontneed},
    {"POSIX_FADV_NOREUSE", kFadvNoreuse},
    {"MFD_CLOEXEC", kMfdCloexec},
    {"MFD_ALLOW_SEALING", kMfdAllowSealing},
    {"MFD_HUGETLB", kMfdHugetlb},
    {"IPC_PRIVATE", kIpcPrivate},
    {"IPC_CREAT", kIpcCreat},
    {"IPC_EXCL", kIpcExcl},
    {"IPC_RMID", kIpcRmid},
    {"IPC_STAT", kIpcStat},
    {"SHM_RDONLY", kShmRdonly},
    {"SHM_RND", kShmRnd},
    {"SHM_REMAP", kShmRemap},
    {"SHM_HUGETLB", kShmHugetlb},
}};
}  // namespace

std::string errno_name(int err) {
  for (const auto& e : kErrnos)
    if (e.number == err) return e.name;
  return "E" + std::to_string(err);
}

std::optional<int> errno_from_name(std::string_view name) {
  for (const auto& e : kErrnos)
    if (name == e.name) return e.number;
  return std::nullopt;
}

std::optional<long> constant_from_name(std::string_view name) {
  for (const auto& c : kConstants)
    if (name == c.name) return c.value;
  return std::nullopt;
}

}  // namespace numasim::workloads::abi
