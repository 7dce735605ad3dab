// kmalloc: size classes and their names, type selection by GFP flags,
// ZERO_SIZE_PTR, kzalloc zeroing, ksize, kmalloc_node, kmalloc_large straight
// from the buddy (accounted as unreclaimable slab), kfree of both kinds.
#include "os/kmalloc.h"

#include <gtest/gtest.h>

#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

TEST(Kmalloc, SizeClassesFollowLinuxsSizeIndex) {
  EXPECT_EQ(Kmalloc::kmalloc_index(1), 3u);
  EXPECT_EQ(Kmalloc::kmalloc_index(8), 3u);
  EXPECT_EQ(Kmalloc::kmalloc_index(9), 4u);
  EXPECT_EQ(Kmalloc::kmalloc_index(24), 5u);
  EXPECT_EQ(Kmalloc::kmalloc_index(64), 6u);
  EXPECT_EQ(Kmalloc::kmalloc_index(65), 1u);  // kmalloc-96
  EXPECT_EQ(Kmalloc::kmalloc_index(96), 1u);
  EXPECT_EQ(Kmalloc::kmalloc_index(97), 7u);   // kmalloc-128
  EXPECT_EQ(Kmalloc::kmalloc_index(129), 2u);  // kmalloc-192
  EXPECT_EQ(Kmalloc::kmalloc_index(193), 8u);  // kmalloc-256
  EXPECT_EQ(Kmalloc::kmalloc_index(4097), 13u);
  EXPECT_EQ(Kmalloc::kmalloc_index(8192), 13u);
}

TEST(Kmalloc, CachesExistPerTypeWithLinuxNames) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  const char* names[] = {"kmalloc-8",   "kmalloc-16",  "kmalloc-32",  "kmalloc-64",  "kmalloc-96",
                         "kmalloc-128", "kmalloc-192", "kmalloc-256", "kmalloc-512", "kmalloc-1k",
                         "kmalloc-2k",  "kmalloc-4k",  "kmalloc-8k"};
  for (const char* n : names) {
    kmem_cache* s = m.slub->find_cache(n);
    ASSERT_NE(s, nullptr) << n;
    EXPECT_NE(m.slub->find_cache(std::string("kmalloc-rcl-") + (n + 8)), nullptr);
    EXPECT_NE(m.slub->find_cache(std::string("kmalloc-cg-") + (n + 8)), nullptr);
    EXPECT_NE(m.slub->find_cache(std::string("dma-kmalloc-") + (n + 8)), nullptr);
  }
  EXPECT_EQ(m.slub->caches().size(), 4u * 13u);
  // Linux's creation order: ..., kmalloc-64, kmalloc-96, kmalloc-128, kmalloc-192, kmalloc-256 ...
  EXPECT_EQ(m.slub->caches()[3]->name, "kmalloc-64");
  EXPECT_EQ(m.slub->caches()[4]->name, "kmalloc-96");
  EXPECT_EQ(m.slub->caches()[6]->name, "kmalloc-192");
  EXPECT_EQ(km.kmalloc_slab(100, GFP_KERNEL)->name, "kmalloc-128");
  EXPECT_EQ(km.kmalloc_slab(100, GFP_KERNEL | __GFP_RECLAIMABLE)->name, "kmalloc-rcl-128");
  EXPECT_EQ(km.kmalloc_slab(100, GFP_KERNEL_ACCOUNT)->name, "kmalloc-cg-128");
  EXPECT_EQ(km.kmalloc_slab(100, GFP_KERNEL | __GFP_DMA)->name, "dma-kmalloc-128");
  EXPECT_EQ(km.kmalloc_slab(8193, GFP_KERNEL), nullptr);
}

TEST(Kmalloc, AllocFreeKsizeAndZeroSize) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  KernelCost cost;
  EXPECT_EQ(km.kmalloc(CpuId(0), 0, GFP_KERNEL, cost), ZERO_SIZE_PTR);
  km.kfree(CpuId(0), ZERO_SIZE_PTR, cost);  // ignored
  km.kfree(CpuId(0), 0, cost);              // ignored
  EXPECT_EQ(km.ksize(ZERO_SIZE_PTR), 0u);
  PhysAddr a = km.kmalloc(CpuId(0), 70, GFP_KERNEL, cost);
  ASSERT_NE(a, 0u);
  EXPECT_EQ(km.ksize(a), 96u);
  EXPECT_EQ(m.slub->addr_to_slab(a)->cache->name, "kmalloc-96");
  PhysAddr b = km.kmalloc(CpuId(0), 5000, GFP_KERNEL, cost);
  EXPECT_EQ(km.ksize(b), 8192u);
  km.kfree(CpuId(0), a, cost);
  km.kfree(CpuId(0), b, cost);
  EXPECT_FALSE(m.slub->is_allocated(a));
  m.slub->check_consistency();
}

TEST(Kmalloc, KzallocZeroesTheObjectThroughThePlatform) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  KernelCost cost;
  km.kfree(CpuId(0), km.kmalloc(CpuId(0), 200, GFP_KERNEL, cost), cost);  // warm the CPU slab
  m.platform.record = true;
  m.platform.calls.clear();
  PhysAddr a = km.kzalloc(CpuId(0), 200, GFP_KERNEL, cost);
  EXPECT_EQ(m.platform.count(testing::FakePlatform::Kind::Write), 1u);
  EXPECT_EQ(m.platform.bytes(testing::FakePlatform::Kind::Write), Bytes(256));
  km.kfree(CpuId(0), a, cost);
}

TEST(Kmalloc, NodeRequestsAndLargeAllocationsFromTheBuddy) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  KernelCost cost;
  PhysAddr a = km.kmalloc_node(CpuId(0), 64, GFP_KERNEL, 1, cost);
  EXPECT_EQ(m.pm->page_to_nid(m.pm->phys_to_page(a)), NodeId(1));
  std::int64_t free1 = m.free_pages(1);
  std::int64_t slab1 = m.slab_bytes(1);
  PhysAddr big = km.kmalloc_node(CpuId(0), 100000, GFP_KERNEL, 1, cost);  // order 5
  ASSERT_NE(big, 0u);
  EXPECT_EQ(big % kPageSize, 0u);
  EXPECT_EQ(m.pm->page_to_nid(m.pm->phys_to_page(big)), NodeId(1));
  EXPECT_FALSE(PageSlab(m.pm->phys_to_page(big)));
  EXPECT_EQ(km.ksize(big), 128u * 1024u);
  EXPECT_EQ(m.free_pages(1), free1 - 32);
  EXPECT_EQ(m.slab_bytes(1), slab1 + 32 * 4096);
  EXPECT_EQ(m.slub->large_pages(), 32u);
  m.slub->check_consistency();
  km.kfree(CpuId(2), big, cost);
  EXPECT_EQ(m.free_pages(1), free1);
  EXPECT_EQ(m.slab_bytes(1), slab1);
  EXPECT_EQ(km.kmalloc(CpuId(0), KMALLOC_MAX_SIZE + 1, GFP_KERNEL, cost), 0u);
  km.kfree(CpuId(0), a, cost);
  m.slub->check_consistency();
}

TEST(Kmalloc, FailslabReachesKmallocButNotLargeBlocks) {
  SlubParams sp;
  sp.failslab.probability = 100;
  SlubMachine m(2, 2, 64, sp);
  Kmalloc km(*m.slub);
  KernelCost cost;
  EXPECT_EQ(km.kmalloc(CpuId(0), 64, GFP_KERNEL, cost), 0u);
  PhysAddr big = km.kmalloc(CpuId(0), 16384, GFP_KERNEL, cost);
  EXPECT_NE(big, 0u);
  km.kfree(CpuId(0), big, cost);
}

TEST(KmallocDeathTest, KfreeOfAnUnknownAddressAborts) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  KernelCost cost;
  EXPECT_DEATH(km.kfree(CpuId(0), 5ull << 20, cost), "not an allocated kmalloc object");
}

}  // namespace
}  // namespace numasim::os
