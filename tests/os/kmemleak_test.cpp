// kmemleak-style scan: a deliberately leaked object is found with its
// allocation site, and nothing else; references are transitive through cache
// scan hooks; kmemleak_not_leak and SLAB_NOLEAKTRACE are honoured.
#include "os/kmemleak.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "os/kmalloc.h"
#include "tests/os/slub_test_util.h"

namespace numasim::os {
namespace {

using testing::SlubMachine;

TEST(Kmemleak, FindsTheLeakedObjectAndNothingElse) {
  SlubMachine m;
  Kmalloc km(*m.slub);
  Kmemleak leak(*m.slub);
  KernelCost cost;
  std::vector<PhysAddr> owned;  // an owner record
  for (int i = 0; i < 300; ++i) owned.push_back(km.kmalloc(CpuId(i % 4), 16 + i * 7 % 3000, GFP_KERNEL, cost));
  owned.push_back(km.kmalloc(CpuId(0), 50000, GFP_KERNEL, cost));  // a large block, owned too
  leak.register_root("owned", [&](const Kmemleak::RefFn& ref) {
    for (PhysAddr a : owned) ref(a);
  });
  EXPECT_TRUE(leak.scan().leaks.empty());
  const int leak_line = __LINE__ + 1;
  PhysAddr lost = km.kmalloc(CpuId(1), 100, GFP_KERNEL, cost);
  auto r = leak.scan();
  ASSERT_EQ(r.leaks.size(), 1u);
  EXPECT_EQ(r.leaks[0].addr, lost);
  EXPECT_EQ(r.leaks[0].cache, "kmalloc-128");
  EXPECT_EQ(r.leaks[0].site.line, static_cast<std::uint32_t>(leak_line));
  EXPECT_NE(std::string(r.leaks[0].site.where).find("kmemleak_test.cpp"), std::string::npos);
  EXPECT_EQ(r.scanned_objects, 302u);
  EXPECT_EQ(r.referenced, 301u);
  std::string text = Kmemleak::report(r);
  EXPECT_NE(text.find("unreferenced object 0x"), std::string::npos);
  EXPECT_NE(text.find("(size 128):"), std::string::npos);
  EXPECT_NE(text.find("kmemleak_test.cpp:" + std::to_string(leak_line)), std::string::npos) << text;
  // A tag instead of a source location.
  PhysAddr tagged = km.kmalloc(CpuId(1), 100, GFP_KERNEL, cost, AllocSite::tag("anon_vma_prepare"));
  r = leak.scan();
  ASSERT_EQ(r.leaks.size(), 2u);
  EXPECT_NE(Kmemleak::report(r).find("[<anon_vma_prepare>]"), std::string::npos);
  // Freed leaks disappear; not_leak silences one.
  km.kfree(CpuId(0), lost, cost);
  EXPECT_TRUE(m.slub->kmemleak_not_leak(tagged));
  EXPECT_TRUE(leak.scan().leaks.empty());
  // Dropping the owner record turns everything it held into leaks.
  owned.pop_back();
  EXPECT_EQ(leak.scan().leaks.size(), 1u);
  EXPECT_TRUE(leak.scan().leaks[0].cache.empty());  // the large block
}

TEST(Kmemleak, ReachabilityIsTransitiveThroughScanHooks) {
  SlubMachine m;
  Kmemleak leak(*m.slub);
  auto* node_cache = m.slub->kmem_cache_create("list_node", 32, 0, 0);
  std::map<PhysAddr, PhysAddr> next;  // the simulated "next" field of each node
  node_cache->kmemleak_scan = [&](PhysAddr obj, const Kmemleak::RefFn& ref) {
    auto it = next.find(obj);
    if (it != next.end() && it->second) ref(it->second);
  };
  KernelCost cost;
  PhysAddr head = 0, prev = 0;
  for (int i = 0; i < 50; ++i) {
    PhysAddr n = m.slub->kmem_cache_alloc(node_cache, CpuId(0), GFP_KERNEL, cost);
    next[n] = 0;
    if (prev)
      next[prev] = n;
    else
      head = n;
    prev = n;
  }
  leak.register_root("list head", [&](const Kmemleak::RefFn& ref) { ref(head + 8); });  // interior pointer
  EXPECT_TRUE(leak.scan().leaks.empty());
  // Cut the list after the 10th node: 40 nodes become unreachable.
  PhysAddr p = head;
  for (int i = 0; i < 9; ++i) p = next[p];
  next[p] = 0;
  auto r = leak.scan();
  EXPECT_EQ(r.leaks.size(), 40u);
  EXPECT_EQ(r.referenced, 10u);
}

TEST(Kmemleak, NoLeakTraceCachesAreIgnored) {
  SlubMachine m;
  Kmemleak leak(*m.slub);
  auto* s = m.slub->kmem_cache_create("untracked", 64, 0, SLAB_NOLEAKTRACE);
  KernelCost cost;
  m.slub->kmem_cache_alloc(s, CpuId(0), GFP_KERNEL, cost);
  EXPECT_TRUE(leak.scan().leaks.empty());
  int h = leak.register_root("x", [](const Kmemleak::RefFn& ref) { ref(12345); });
  EXPECT_EQ(leak.scan().dangling_refs, 1u);
  leak.unregister_root(h);
  EXPECT_EQ(leak.nr_roots(), 0u);
}

}  // namespace
}  // namespace numasim::os
