// The PFN-linked page list (os/page_list.h): order after add/add_tail, del from
// the head, middle and tail, moves between lists, first/last and iteration, on
// a small descriptor array standing for mem_map.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "os/page_list.h"

namespace numasim::os {
namespace {

class PageListTest : public ::testing::Test {
 protected:
  PageListTest() {
    for (page& p : map_) {
      p = page{};
      p.lru_next = p.lru_prev = kNoPfn32;
    }
  }
  page* pg(int pfn) { return map_.data() + pfn; }
  std::vector<int> pfns(const PageList& l) {
    std::vector<int> out;
    for (page* p : page_list_range(map_.data(), l)) out.push_back(static_cast<int>(p - map_.data()));
    // The back links must give the same list reversed.
    std::vector<int> back;
    for (std::uint32_t p = l.tail; p != kNoPfn32; p = map_[p].lru_prev) back.insert(back.begin(), static_cast<int>(p));
    EXPECT_EQ(out, back);
    return out;
  }
  std::array<page, 8> map_{};
};

TEST_F(PageListTest, AddAtHeadAndTail) {
  PageList l;
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(list_first_page(map_.data(), l), nullptr);
  EXPECT_EQ(list_last_page(map_.data(), l), nullptr);
  list_add(map_.data(), l, pg(3));
  list_add(map_.data(), l, pg(1));
  list_add_tail(map_.data(), l, pg(5));
  EXPECT_FALSE(l.empty());
  EXPECT_EQ(pfns(l), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(list_first_page(map_.data(), l), pg(1));
  EXPECT_EQ(list_last_page(map_.data(), l), pg(5));
}

TEST_F(PageListTest, DeleteHeadMiddleTailAndLast) {
  PageList l;
  for (int p : {0, 2, 4, 6}) list_add_tail(map_.data(), l, pg(p));
  list_del(map_.data(), l, pg(4));  // middle
  EXPECT_EQ(pfns(l), (std::vector<int>{0, 2, 6}));
  EXPECT_EQ(pg(4)->lru_next, kNoPfn32);
  EXPECT_EQ(pg(4)->lru_prev, kNoPfn32);
  list_del(map_.data(), l, pg(0));  // head
  EXPECT_EQ(pfns(l), (std::vector<int>{2, 6}));
  list_del(map_.data(), l, pg(6));  // tail
  EXPECT_EQ(pfns(l), (std::vector<int>{2}));
  list_del(map_.data(), l, pg(2));  // last
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.tail, kNoPfn32);
}

TEST_F(PageListTest, MoveBetweenLists) {
  PageList a, b;
  for (int p : {1, 2, 3}) list_add_tail(map_.data(), a, pg(p));
  list_add_tail(map_.data(), b, pg(7));
  list_move(map_.data(), a, b, pg(2));
  EXPECT_EQ(pfns(a), (std::vector<int>{1, 3}));
  EXPECT_EQ(pfns(b), (std::vector<int>{2, 7}));
  list_move_tail(map_.data(), a, b, pg(1));
  EXPECT_EQ(pfns(a), (std::vector<int>{3}));
  EXPECT_EQ(pfns(b), (std::vector<int>{2, 7, 1}));
}

}  // namespace
}  // namespace numasim::os
