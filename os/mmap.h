// The VMA set of an address space (mm/mmap.c, mm/vma.c): lookup, insertion,
// splitting (__split_vma), merging of compatible neighbours (vma_merge), the
// top-down free-area search (vm_unmapped_area / arch_get_unmapped_area_topdown)
// and a /proc/PID/maps-like rendering used by tests ("[0x1000-0x3000 rw-p] ...").
// These functions touch only the VMA tree; page tables, RSS and TLBs are the
// kernel's business (os/kernel.h), which calls them.
// Simplified: linear scans of the ordered map instead of the maple tree's
// augmented gap search; no stack guard gap (there is no stack VMA yet).
#pragma once

#include <cstdint>
#include <string>

#include "os/mm_types.h"

namespace numasim::os {

inline constexpr std::uint64_t TASK_SIZE_4LEVEL = (1ull << 47) - kPageSize;  // 0x7ffffffff000
inline constexpr std::uint64_t TASK_SIZE_5LEVEL = (1ull << 56) - kPageSize;
// With 5-level tables, addresses above 47 bits are handed out only to callers
// whose hint lies above this window (x86's DEFAULT_MAP_WINDOW).
inline constexpr std::uint64_t DEFAULT_MAP_WINDOW = (1ull << 47) - kPageSize;
inline constexpr std::uint64_t MMAP_MIN_ADDR = 65536;        // vm.mmap_min_addr
inline constexpr std::uint64_t MMAP_MIN_GAP = 128ull << 20;  // mmap_base(): gap below the stack

constexpr std::uint64_t page_align(std::uint64_t x) { return (x + kPageSize - 1) & ~(kPageSize - 1); }
constexpr bool offset_in_page(std::uint64_t x) { return (x & (kPageSize - 1)) != 0; }

// find_vma: the first VMA with vm_end > addr, or nullptr.
vm_area_struct* find_vma(mm_struct& mm, VirtAddr addr);
const vm_area_struct* find_vma(const mm_struct& mm, VirtAddr addr);
// vma_lookup: the VMA containing addr, or nullptr.
vm_area_struct* vma_lookup(mm_struct& mm, VirtAddr addr);
// find_vma_intersection: the first VMA overlapping [start, end), or nullptr.
vm_area_struct* find_vma_intersection(mm_struct& mm, VirtAddr start, VirtAddr end);
vm_area_struct* vma_prev(mm_struct& mm, const vm_area_struct& vma);
vm_area_struct* vma_next(mm_struct& mm, const vm_area_struct& vma);
// True when every byte of [start, end) lies inside some VMA.
bool range_fully_mapped(mm_struct& mm, VirtAddr start, VirtAddr end);

// vma_link: insert a VMA (must not overlap any); returns the stored one.
vm_area_struct& vma_insert(mm_struct& mm, vm_area_struct vma);
// Remove a VMA from the tree (vma_remove / remove_vma).
void vma_erase(mm_struct& mm, vm_area_struct& vma);

// __split_vma: cut vma at addr (vm_start < addr < vm_end, page aligned). Returns
// the upper part; `vma` stays valid as the lower part. Policy and pgoff carried.
vm_area_struct& split_vma(mm_struct& mm, vm_area_struct& vma, VirtAddr addr);

// Linux's merge conditions for two adjacent VMAs (is_mergeable_vma & co): same
// flags, same backing object with contiguous offsets, equal policies, and
// neither special (VM_DONTEXPAND, hugetlb).
bool vmas_mergeable(const vm_area_struct& a, const vm_area_struct& b);
// vma_merge after a change: merge `vma` with its previous and/or next neighbour
// when mergeable; returns the surviving VMA.
vm_area_struct& vma_merge_neighbours(mm_struct& mm, vm_area_struct& vma);
// mpol_equal for VMA policies (null == default).
bool vma_policy_equal(const vm_area_struct& a, const vm_area_struct& b);

// Split VMAs so that start and end fall on VMA boundaries (the first half of
// vma_modify). Every VMA overlapping [start, end) then lies inside it.
void split_at_boundaries(mm_struct& mm, VirtAddr start, VirtAddr end);
// How many new VMAs split_at_boundaries(start, end) would create (0..2).
int splits_needed(mm_struct& mm, VirtAddr start, VirtAddr end);

// get_unmapped_area for an anonymous mapping of len bytes aligned to `align`
// (a power of two >= PAGE_SIZE): the hint when it is usable, else the highest
// gap below mmap_base (top-down), else bottom-up from TASK_SIZE/3. A hint above
// DEFAULT_MAP_WINDOW opens the whole 5-level address space to the search.
// Returns 0 when there is no room (ENOMEM).
VirtAddr get_unmapped_area(mm_struct& mm, VirtAddr hint, std::uint64_t len, std::uint64_t align);

// "[0x1000-0x3000 rw-p] [0x3000-0x4000 r--s]": flags like /proc/PID/maps.
std::string vma_map_string(const mm_struct& mm);
std::string vma_flags_string(unsigned long vm_flags);

}  // namespace numasim::os
