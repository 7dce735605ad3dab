// kmemleak-style reachability scan over SLUB's allocated objects (mm/kmemleak.c).
#include "os/kmemleak.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace numasim::os {

int Kmemleak::register_root(std::string name, RootFn enumerate) {
  int h = next_handle_++;
  roots_.emplace(h, std::make_pair(std::move(name), std::move(enumerate)));
  return h;
}

void Kmemleak::unregister_root(int handle) { roots_.erase(handle); }

// kmemleak_scan: mark objects reachable from the roots (and, through caches'
// kmemleak_scan hooks, from reached objects); the rest are leaks, except
// objects marked kmemleak_not_leak and caches created SLAB_NOLEAKTRACE.
Kmemleak::ScanResult Kmemleak::scan() const {
  std::vector<SlabObjectInfo> objs;
  slub_.for_each_allocated([&](const SlabObjectInfo& o) { objs.push_back(o); });
  std::vector<std::size_t> by_addr(objs.size());
  for (std::size_t i = 0; i < objs.size(); ++i) by_addr[i] = i;
  std::sort(by_addr.begin(), by_addr.end(), [&](std::size_t a, std::size_t b) { return objs[a].addr < objs[b].addr; });
  std::vector<std::uint8_t> reached(objs.size(), 0);
  std::vector<std::size_t> work;
  ScanResult r;
  r.scanned_objects = objs.size();
  RefFn ref = [&](PhysAddr p) {
    // The object whose [addr, addr + size) holds p.
    auto it = std::upper_bound(by_addr.begin(), by_addr.end(), p,
                               [&](PhysAddr v, std::size_t i) { return v < objs[i].addr; });
    if (it == by_addr.begin()) {
      ++r.dangling_refs;
      return;
    }
    std::size_t i = *(it - 1);
    if (p >= objs[i].addr + std::max<std::size_t>(objs[i].size, 1)) {
      ++r.dangling_refs;
      return;
    }
    if (!reached[i]) {
      reached[i] = 1;
      work.push_back(i);
    }
  };
  for (const auto& [h, root] : roots_) root.second(ref);
  while (!work.empty()) {
    std::size_t i = work.back();
    work.pop_back();
    const kmem_cache* c = objs[i].cache;
    if (c && c->kmemleak_scan) c->kmemleak_scan(objs[i].addr, ref);
  }
  for (std::size_t i = 0; i < objs.size(); ++i) {
    if (reached[i]) {
      ++r.referenced;
      continue;
    }
    const SlabObjectInfo& o = objs[i];
    if (o.not_leak) continue;
    if (o.cache && (o.cache->flags & SLAB_NOLEAKTRACE)) continue;
    r.leaks.push_back(Leak{o.addr, o.cache ? o.cache->name : std::string(), o.size, o.nid, o.site});
  }
  return r;
}

std::string Kmemleak::report(const ScanResult& r) {
  std::string out;
  char buf[160];
  for (const Leak& l : r.leaks) {
    std::snprintf(buf, sizeof buf, "unreferenced object 0x%016" PRIx64 " (size %zu):\n",
                  static_cast<std::uint64_t>(l.addr), l.size);
    out += buf;
    std::snprintf(buf, sizeof buf, "  cache \"%s\", node %d\n", l.cache.empty() ? "kmalloc_large" : l.cache.c_str(),
                  l.nid.value());
    out += buf;
    out += "  backtrace:\n    [<" + l.site.str() + ">]\n";
  }
  return out;
}

}  // namespace numasim::os
