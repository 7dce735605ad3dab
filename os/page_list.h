// The intrusive page list (include/linux/list.h over page->lru), PFN-linked:
// page::lru_next / lru_prev hold 32-bit PFNs (kNoPfn32 is null), a PageList
// holds the first and last PFN. One primitive for every list of pages: the
// buddy free lists, the per-cpu lists, and the LRU lists to come. Every
// operation needs mem_map (the descriptor array indexed by PFN) to follow a
// link. Simplified: not circular (a head/tail pair instead of a sentinel
// list_head), so list_del needs the list; no poisoning of deleted links (they
// are reset to kNoPfn32).
#pragma once

#include <cstdint>

#include "os/page.h"

namespace numasim::os {

struct PageList {
  std::uint32_t head = kNoPfn32;
  std::uint32_t tail = kNoPfn32;
  bool empty() const { return head == kNoPfn32; }  // list_empty
};

inline std::uint32_t page_list_pfn(const page* mem_map, const page* pg) {
  return static_cast<std::uint32_t>(pg - mem_map);
}

// list_add: at the head.
inline void list_add(page* mem_map, PageList& l, page* pg) {
  const std::uint32_t pfn = page_list_pfn(mem_map, pg);
  pg->lru_prev = kNoPfn32;
  pg->lru_next = l.head;
  if (l.head != kNoPfn32)
    mem_map[l.head].lru_prev = pfn;
  else
    l.tail = pfn;
  l.head = pfn;
}

// list_add_tail: at the tail.
inline void list_add_tail(page* mem_map, PageList& l, page* pg) {
  const std::uint32_t pfn = page_list_pfn(mem_map, pg);
  pg->lru_next = kNoPfn32;
  pg->lru_prev = l.tail;
  if (l.tail != kNoPfn32)
    mem_map[l.tail].lru_next = pfn;
  else
    l.head = pfn;
  l.tail = pfn;
}

// list_del: unlinks pg from l (pg must be on l).
inline void list_del(page* mem_map, PageList& l, page* pg) {
  if (pg->lru_prev != kNoPfn32)
    mem_map[pg->lru_prev].lru_next = pg->lru_next;
  else
    l.head = pg->lru_next;
  if (pg->lru_next != kNoPfn32)
    mem_map[pg->lru_next].lru_prev = pg->lru_prev;
  else
    l.tail = pg->lru_prev;
  pg->lru_next = pg->lru_prev = kNoPfn32;
}

// list_move / list_move_tail: from one list to the head / tail of another.
inline void list_move(page* mem_map, PageList& from, PageList& to, page* pg) {
  list_del(mem_map, from, pg);
  list_add(mem_map, to, pg);
}
inline void list_move_tail(page* mem_map, PageList& from, PageList& to, page* pg) {
  list_del(mem_map, from, pg);
  list_add_tail(mem_map, to, pg);
}

// list_first_entry_or_null / list_last_entry (null when empty).
inline page* list_first_page(page* mem_map, const PageList& l) {
  return l.head == kNoPfn32 ? nullptr : mem_map + l.head;
}
inline page* list_last_page(page* mem_map, const PageList& l) {
  return l.tail == kNoPfn32 ? nullptr : mem_map + l.tail;
}

// list_for_each_entry: for (page* pg : page_list_range(mem_map, l)). The
// current page must not be deleted while iterating (list_for_each_entry_safe:
// take the next page first).
template <class Page>
class PageListRange {
 public:
  class iterator {
   public:
    iterator(Page* mem_map, std::uint32_t pfn) : mem_map_(mem_map), pfn_(pfn) {}
    Page* operator*() const { return mem_map_ + pfn_; }
    iterator& operator++() {
      pfn_ = mem_map_[pfn_].lru_next;
      return *this;
    }
    bool operator!=(const iterator& o) const { return pfn_ != o.pfn_; }

   private:
    Page* mem_map_;
    std::uint32_t pfn_;
  };
  PageListRange(Page* mem_map, const PageList& l) : mem_map_(mem_map), head_(l.head) {}
  iterator begin() const { return {mem_map_, head_}; }
  iterator end() const { return {mem_map_, kNoPfn32}; }

 private:
  Page* mem_map_;
  std::uint32_t head_;
};
inline PageListRange<page> page_list_range(page* mem_map, const PageList& l) { return {mem_map, l}; }
inline PageListRange<const page> page_list_range(const page* mem_map, const PageList& l) { return {mem_map, l}; }

}  // namespace numasim::os
