// A leak detector in the spirit of kmemleak (mm/kmemleak.c): on demand (and
// at the end of a run) every allocated slab object and kmalloc_large block
// that no registered owner record reaches is reported with the site that
// allocated it. Owners (the task list, each mm's VMA tree, ...) register a
// root that enumerates the object addresses they hold; a cache may register a
// kmemleak_scan hook listing the references inside one of its objects, so
// reachability is transitive as kmemleak's scan of object contents is.
// Simplified: the simulator stores no object contents, so references are
// declared by their owners instead of found by scanning memory; no
// min_age grace period, no checksum/"modified since last scan" tracking, no
// backtraces (the allocation site is one file:line or tag). A reference to
// any byte inside an object counts, as kmemleak's does.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "os/slub.h"

namespace numasim::os {

class Kmemleak {
 public:
  using RefFn = std::function<void(PhysAddr)>;
  using RootFn = std::function<void(const RefFn& ref)>;

  explicit Kmemleak(const Slub& slub) : slub_(slub) {}

  // Registers an owner record; returns a handle for unregister_root.
  int register_root(std::string name, RootFn enumerate);
  void unregister_root(int handle);
  std::size_t nr_roots() const { return roots_.size(); }

  struct Leak {
    PhysAddr addr;
    std::string cache;  // "" for kmalloc_large blocks
    std::size_t size;
    NodeId nid;
    AllocSite site;
  };
  struct ScanResult {
    std::vector<Leak> leaks;            // unreferenced objects, by cache then address
    std::uint64_t scanned_objects = 0;  // allocated objects considered
    std::uint64_t referenced = 0;       // reached from the roots
    std::uint64_t dangling_refs = 0;    // references to no allocated object
  };
  // kmemleak_scan.
  ScanResult scan() const;
  // The /sys/kernel/debug/kmemleak text for these leaks.
  static std::string report(const ScanResult& r);

 private:
  const Slub& slub_;
  std::map<int, std::pair<std::string, RootFn>> roots_;
  int next_handle_ = 1;
};

}  // namespace numasim::os
