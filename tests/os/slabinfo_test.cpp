// /proc/slabinfo text in Linux's 2.1 layout and the JSON twin.
#include "os/slabinfo.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "os/kmalloc.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(Slabinfo, HeaderAndLineLayoutAsLinux) {
  SlubMachine m;  // 4 CPUs: min_objects 16
  auto* s = m.slub->kmem_cache_create("vm_area_struct", 200, 0, 0);
  m.slub->kmem_cache_create("newest", 64, 0, 0);
  KernelCost cost;
  std::vector<PhysAddr> objs;
  for (unsigned i = 0; i < s->oo.objects + 3; ++i)
    objs.push_back(m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost));
  auto lines = lines_of(proc_slabinfo(*m.slub));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "slabinfo - version: 2.1");
  EXPECT_EQ(lines[1],
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> "
            "<batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>");
  // Newest cache first, as Linux lists slab_caches.
  EXPECT_EQ(
      lines[2],
      "newest                 0      0     64   64    1 : tunables    0    0    0 : slabdata      0      0      0");
  // 200-byte objects: 16 * 200 = 3200 fits an order-0 slab of 20 objects.
  EXPECT_EQ(s->oo.objects, 20u);
  EXPECT_EQ(
      lines[3],
      "vm_area_struct        40     40    200   20    1 : tunables    0    0    0 : slabdata      2      2      0");
  // Free objects of the CPU slab count as active (SLUB's get_slabinfo); only
  // node-partial free objects are subtracted.
  m.slub->kmem_cache_free(s, CpuId(0), objs.back(), cost);  // CPU slab
  m.slub->kmem_cache_free(s, CpuId(0), objs[0], cost);      // full slab -> CPU partial
  EXPECT_EQ(lines_of(proc_slabinfo(*m.slub))[3].substr(0, 35), "vm_area_struct        40     40    ");
  m.slub->flush_all(s, CpuId(0), cost);  // both slabs to the node partial list
  EXPECT_EQ(lines_of(proc_slabinfo(*m.slub))[3].substr(0, 35), "vm_area_struct        21     40    ");
  EXPECT_EQ(m.slub->cache_info(*s).inuse_objs, 21u);
}

TEST(Slabinfo, KmallocCachesListedWithTheirGeometry) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  std::string text = proc_slabinfo(*m.slub);
  auto lines = lines_of(text);
  EXPECT_EQ(lines.size(), 2u + 52u);
  EXPECT_EQ(lines.back().substr(0, 17), "kmalloc-8        ");  // oldest last
  bool found = false;
  for (const auto& l : lines)
    if (l.rfind("kmalloc-8k ", 0) == 0) {
      found = true;
      // 16 min objects of 8 KiB exceed order 3: 4 objects in 8 pages.
      EXPECT_NE(l.find("   8192    4    8 : tunables"), std::string::npos) << l;
    }
  EXPECT_TRUE(found);
}

TEST(Slabinfo, JsonCarriesTheSameFiguresAndExactCounts) {
  SlubMachine m;
  auto* s = m.slub->kmem_cache_create("obj", 512, 0, 0);
  KernelCost cost;
  PhysAddr a = m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  std::string j = slabinfo_json(*m.slub);
  EXPECT_NE(j.find("\"name\": \"obj\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"inuse_objs\": 1"), std::string::npos);
  EXPECT_NE(j.find("\"num_slabs\": 1"), std::string::npos);
  EXPECT_NE(j.find("\"objsize\": 512"), std::string::npos);
  EXPECT_NE(j.find("\"alloc_slab\": 1"), std::string::npos);
  m.slub->kmem_cache_free(s, CpuId(0), a, cost);
}

}  // namespace
}  // namespace numasim::os
