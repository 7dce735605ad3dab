// Tests of the Linux text formats (os/proc_format.*): each compares lines with
// the exact layout the kernel prints (field widths, labels, order), with values
// the test derives from the allocator's state.
#include "os/proc_format.h"

#include <gtest/gtest.h>

#include <sstream>

#include "os/page_alloc.h"
#include "tests/os/fake_platform.h"

namespace numasim::os {
namespace {

using testing::FakePlatform;

constexpr PhysAddr k4G = 4ull << 30;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

struct TwoNodes {
  FakePlatform plat;
  std::unique_ptr<PhysMem> pm;
  TwoNodes() {
    pm = std::make_unique<PhysMem>(std::vector<NodeLayout>{{NodeId(0), k4G, Bytes(64 << 20), {CpuId(0)}},
                                                           {NodeId(1), k4G + (64 << 20), Bytes(64 << 20), {CpuId(1)}}},
                                   std::vector<std::vector<int>>{{10, 21}, {21, 10}}, PhysMemParams{}, plat);
  }
};

TEST(ProcFormat, MeminfoUsesLinuxFieldWidths) {
  TwoNodes m;
  KernelCost cost;
  for (int i = 0; i < 3; ++i) ASSERT_NE(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 4, NodeId(0), nullptr, cost), nullptr);
  m.pm->mod_node_page_state(NodeId(0), NR_ANON_MAPPED, 5);
  m.pm->mod_node_page_state(NodeId(1), NR_PAGETABLE, 2);
  m.pm->mod_node_page_state(NodeId(0), NR_SLAB_UNRECLAIMABLE_B, 3 * 4096);
  const std::string mi = proc_meminfo(*m.pm);
  // Real Linux: "MemTotal:       16318464 kB" = "%-16s%8lu kB".
  EXPECT_TRUE(has_line(mi, "MemTotal:         131072 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "MemFree:          130880 kB")) << mi;  // 48 pages in use
  EXPECT_TRUE(has_line(mi, "AnonPages:            20 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "PageTables:            8 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "SUnreclaim:           12 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "Slab:                 12 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "HugePages_Total:       0")) << mi;
  EXPECT_TRUE(has_line(mi, "Hugepagesize:       2048 kB")) << mi;
  auto l = lines(mi);
  ASSERT_GE(l.size(), 3u);
  EXPECT_EQ(l[0].substr(0, 9), "MemTotal:");
  EXPECT_EQ(l[1].substr(0, 8), "MemFree:");
  EXPECT_EQ(l[2].substr(0, 13), "MemAvailable:");
  for (const std::string& s : l) EXPECT_TRUE(s.size() >= 21) << s;
}

TEST(ProcFormat, NodeMeminfoHasNodePrefixAndMemUsed) {
  TwoNodes m;
  KernelCost cost;
  ASSERT_NE(m.pm->alloc_pages(CpuId(1), GFP_KERNEL, 5, NodeId(1), nullptr, cost), nullptr);
  const std::string mi = node_meminfo(*m.pm, NodeId(1));
  // Real Linux: "Node 0 MemTotal:       32386280 kB".
  EXPECT_TRUE(has_line(mi, "Node 1 MemTotal:          65536 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "Node 1 MemFree:           65408 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "Node 1 MemUsed:             128 kB")) << mi;
  EXPECT_TRUE(has_line(mi, "Node 1 HugePages_Total:     0")) << mi;
  EXPECT_TRUE(has_line(mi, "Node 1 HugePages_Free:      0")) << mi;
  EXPECT_EQ(lines(mi).front(), "Node 1 MemTotal:          65536 kB");
}

TEST(ProcFormat, NumastatPerNodeAndTable) {
  TwoNodes m;
  KernelCost cost;
  ASSERT_NE(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(0), nullptr, cost), nullptr);
  ASSERT_NE(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(1), nullptr, cost), nullptr);
  EXPECT_EQ(node_numastat(*m.pm, NodeId(1)),
            "numa_hit 1\nnuma_miss 0\nnuma_foreign 0\ninterleave_hit 0\nlocal_node 0\nother_node 1\n");
  const std::string t = numastat_table(*m.pm);
  auto l = lines(t);
  ASSERT_EQ(l.size(), 7u);
  EXPECT_EQ(l[0], "                           node0           node1");
  EXPECT_EQ(l[1], "numa_hit                       1               1");
  EXPECT_EQ(l[5], "local_node                     1               0");
  EXPECT_EQ(l[6], "other_node                     0               1");
}

TEST(ProcFormat, BuddyinfoListsFreeBlocksPerOrder) {
  TwoNodes m;
  KernelCost cost;
  ASSERT_NE(m.pm->alloc_pages(CpuId(0), GFP_HIGHUSER_MOVABLE, 9, NodeId(0), nullptr, cost), nullptr);
  const std::string b = proc_buddyinfo(*m.pm);
  // Real Linux: "Node 0, zone   Normal   2187   1370 ..." = "Node %d, zone %8s " + "%6lu " per order.
  auto l = lines(b);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0],
            "Node 0, zone   Normal      0      0      0      0      0      0      0      0      0      1     15 ");
  EXPECT_EQ(l[1],
            "Node 1, zone   Normal      0      0      0      0      0      0      0      0      0      0     16 ");
}

TEST(ProcFormat, VmstatHasLinuxNamesInOrder) {
  TwoNodes m;
  KernelCost cost;
  page* pg = m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 2, NodeId(0), nullptr, cost);
  ASSERT_NE(pg, nullptr);
  m.pm->free_pages(CpuId(0), pg, 2, cost);
  m.pm->count_vm_events(CpuId(1), PGFAULT, 7);
  const std::string v = proc_vmstat(*m.pm);
  auto l = lines(v);
  ASSERT_FALSE(l.empty());
  EXPECT_EQ(l[0].rfind("nr_free_pages ", 0), 0u);
  EXPECT_TRUE(has_line(v, "pgalloc_normal 4"));  // counted in pages
  EXPECT_TRUE(has_line(v, "pgalloc_dma 0"));
  EXPECT_TRUE(has_line(v, "pgfree 4"));
  EXPECT_TRUE(has_line(v, "pgfault 7"));
  EXPECT_TRUE(has_line(v, "numa_hit 1"));
  EXPECT_TRUE(has_line(v, "numa_local 1"));
  EXPECT_TRUE(has_line(v, "nr_tlb_remote_flush 0"));
  // Order as in Linux: zone stats, numa, node stats, events.
  auto idx = [&](const std::string& prefix) {
    for (std::size_t i = 0; i < l.size(); ++i)
      if (l[i].rfind(prefix + " ", 0) == 0) return static_cast<long>(i);
    return -1l;
  };
  EXPECT_LT(idx("nr_free_cma"), idx("numa_hit"));
  EXPECT_LT(idx("numa_other"), idx("nr_inactive_anon"));
  EXPECT_LT(idx("nr_swapcached"), idx("pgpgin"));
  EXPECT_LT(idx("pgalloc_movable"), idx("allocstall_dma"));
  EXPECT_LT(idx("pgfree"), idx("pgfault"));
}

TEST(ProcFormat, ZoneinfoShowsWatermarksProtectionAndPagesets) {
  TwoNodes m;
  const std::string z = proc_zoneinfo(*m.pm);
  const zone& n0 = m.pm->NODE_DATA(NodeId(0)).node_zones[ZONE_NORMAL];
  EXPECT_NE(z.find("Node 0, zone      DMA\n  pages free     0\n"), std::string::npos) << z;
  EXPECT_NE(z.find("Node 0, zone   Normal\n  per-node stats\n      nr_inactive_anon 0\n"), std::string::npos);
  EXPECT_NE(z.find("\n  pages free     16384\n        boost    0\n        min      " +
                   std::to_string(min_wmark_pages(n0)) + "\n        low      " + std::to_string(low_wmark_pages(n0))),
            std::string::npos);
  EXPECT_NE(z.find("        protection: (0, 0, 0, 0)"), std::string::npos);
  EXPECT_NE(z.find("\n      nr_free_pages 16384\n"), std::string::npos);
  EXPECT_NE(z.find("\n  pagesets\n    cpu: 0\n              count: 0\n              high:  "), std::string::npos);
  EXPECT_NE(z.find("\n  start_pfn:           1048576\n"), std::string::npos);
}

// Issue 17: Linux 6.1 prints no "promo" watermark line (that came with 6.6).
TEST(ProcFormat, ZoneinfoWatermarksAreLinux61s) {
  TwoNodes m;
  const std::string z = proc_zoneinfo(*m.pm);
  const zone& n0 = m.pm->NODE_DATA(NodeId(0)).node_zones[ZONE_NORMAL];
  EXPECT_EQ(z.find("\n        promo "), std::string::npos) << z;
  EXPECT_NE(z.find("\n        high     " + std::to_string(high_wmark_pages(n0)) + "\n        spanned  "),
            std::string::npos)
      << z;
}

TEST(ProcFormat, PagetypeinfoCountsBlocksAndPageblocks) {
  TwoNodes m;
  const std::string t = proc_pagetypeinfo(*m.pm);
  EXPECT_TRUE(has_line(t, "Page block order: 9"));
  EXPECT_TRUE(has_line(t, "Pages per block:  512"));
  EXPECT_TRUE(has_line(t,
                       "Node    0, zone   Normal, type      Movable      0      0      0      0      0      0      0 "
                       "     0      0      0     16 "))
      << t;
  EXPECT_TRUE(has_line(t, "Node 0, zone   Normal            0           32            0            0            0 "))
      << t;
}

TEST(ProcFormat, JsonCarriesTheSameFigures) {
  TwoNodes m;
  KernelCost cost;
  ASSERT_NE(m.pm->alloc_pages(CpuId(0), GFP_KERNEL, 0, NodeId(1), nullptr, cost), nullptr);
  const std::string j = physmem_json(*m.pm, false);
  EXPECT_EQ(j.front(), '{');
  EXPECT_EQ(j.back(), '}');
  EXPECT_NE(j.find("\"numa_hit\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("\"pgalloc_normal\":1"), std::string::npos) << j;
  EXPECT_NE(j.find("{\"node\":1,\"numastat\":{\"numa_hit\":1,\"numa_miss\":0,\"numa_foreign\":0,"
                   "\"interleave_hit\":0,\"local_node\":0,\"other_node\":1}"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find("\"zone\":\"Normal\",\"free_pages\":"), std::string::npos);
  EXPECT_NE(j.find("\"buddyinfo\":[0,0,0,0,0,0,0,0,0,0,16]"), std::string::npos) << j;  // node 0 untouched
}

}  // namespace
}  // namespace numasim::os
