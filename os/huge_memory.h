// Transparent huge pages (mm/huge_memory.c, mm/khugepaged.c, include/linux/huge_mm.h):
// the knobs of /sys/kernel/mm/transparent_hugepage ([os.thp] in the
// configuration, Kernel::thp_sysfs_store at run time) and the folio fields a
// THP keeps in its head's page descriptor. The mechanisms are Kernel members
// (os/huge_memory.cpp: fault, split, deferred split; os/khugepaged.cpp).
// A THP here is an order-9 compound anonymous page (PG_head + 511 PG_tail, all
// PG_anon with the head's anon_vma and their own linear index). Its counts:
//   entire_mapcount (head->spare, low 24 bits): PMD mappings of the whole page;
//   page->mapcount of each subpage: PTE mappings of that subpage;
//   head->_refcount: one reference per mapping, PMD or PTE (tails hold none).
// The page is freed (order 9) when its last mapping goes; a page with some
// subpages unmapped and no PMD mapping goes on its node's deferred split queue.
// Simplified: no shmem or file THP (shmem_enabled is accepted and stored, no
// shmem huge pages are made), no mTHP orders, no THP on the LRU lists (reclaim
// reaches them only through deferred_split_scan), no swap-out of THPs, the huge
// zero page is kept once allocated (no shrinker frees it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/units.h"
#include "os/page.h"

namespace numasim {
class Config;
}

namespace numasim::os {

struct vm_area_struct;

inline constexpr unsigned HPAGE_PMD_ORDER = 9;
inline constexpr unsigned long HPAGE_PMD_NR = 1ul << HPAGE_PMD_ORDER;
inline constexpr std::uint64_t HPAGE_PMD_SIZE = 1ull << 21;

// transparent_hugepage/enabled and defrag, shmem_enabled.
enum class ThpEnabled : std::uint8_t { Always, Madvise, Never };
enum class ThpDefrag : std::uint8_t { Always, Defer, DeferMadvise, Madvise, Never };

// prctl options (include/uapi/linux/prctl.h).
inline constexpr int PR_SET_THP_DISABLE = 41;
inline constexpr int PR_GET_THP_DISABLE = 42;

struct ThpParams {
  // Default madvise (Debian's CONFIG_TRANSPARENT_HUGEPAGE_MADVISE): runs that
  // never madvise(MADV_HUGEPAGE) behave as before THP existed.
  ThpEnabled enabled = ThpEnabled::Madvise;
  ThpDefrag defrag = ThpDefrag::Madvise;
  bool use_zero_page = true;
  std::string shmem_enabled = "never";  // accepted, stored; no shmem THP is built
  // khugepaged/*
  bool khugepaged_defrag = true;
  unsigned pages_to_scan = 4096;  // 8 * HPAGE_PMD_NR
  std::uint64_t alloc_sleep_ms = 60000;
  unsigned max_ptes_none = 511;
  unsigned max_ptes_swap = 64;
  unsigned max_ptes_shared = 256;
  std::uint64_t collapse_cycles = 2000;  // CPU work of one collapse (locks, rmap, PMD install)

  // [os.thp] enabled, defrag, use_zero_page, shmem_enabled; [os.thp.khugepaged]
  // defrag, pages_to_scan, alloc_sleep_millisecs, max_ptes_none, max_ptes_swap,
  // max_ptes_shared, collapse_cycles. scan_sleep_millisecs is [os.kthreads]
  // khugepaged_scan_sleep.
  static ThpParams from_config(Config os_table);
};

const char* thp_enabled_name(ThpEnabled e);
const char* thp_defrag_name(ThpDefrag d);
// The sysfs file as Linux prints it: "always [madvise] never".
std::string thp_enabled_show(ThpEnabled e);
std::string thp_defrag_show(ThpDefrag d);
bool thp_enabled_parse(std::string_view s, ThpEnabled* out);
bool thp_defrag_parse(std::string_view s, ThpDefrag* out);

// The folio fields in the head's spare word.
inline constexpr std::uint32_t kEntireMapcountMask = 0x00ffffffu;
inline constexpr std::uint32_t kDeferredSplitBit = 1u << 31;
inline int entire_mapcount(const page* head) { return static_cast<int>(head->spare & kEntireMapcountMask); }
inline void set_entire_mapcount(page* head, int n) {
  head->spare = (head->spare & ~kEntireMapcountMask) | (static_cast<std::uint32_t>(n) & kEntireMapcountMask);
}
// An anonymous transparent huge page's head (hugetlb heads carry PG_hugetlb).
inline bool PageTransHuge(const page* p) {
  return PageHead(p) && !p->test(PG_hugetlb) && PageAnon(p) && p->order == HPAGE_PMD_ORDER;
}
// The tail's head is found through its PFN link (Kernel::thp_head).
// The THP's 512 subpages become anonymous pages of vma at haddr, mapped by one
// PMD (folio_add_new_anon_rmap for a compound page): owner, index, flags, counts.
void prep_anon_thp(page* head, const vm_area_struct& vma, VirtAddr haddr);

}  // namespace numasim::os
