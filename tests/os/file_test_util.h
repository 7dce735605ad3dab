// Shared set-up for the file and page-cache tests: the two-node kernel fixture
// with a 1 MiB file /cfg/data configured on the block device, helpers to rebuild
// the kernel with other [os] settings, to let all I/O complete (the fake clock
// advanced past every bio), and a snapshot of everything a failed file system
// call must leave unchanged.
#pragma once

#include <gtest/gtest.h>

#include <sstream>

#include "common/config.h"
#include "os/fs.h"
#include "tests/os/kernel_fixture.h"

namespace numasim::os::testing {

class FileTest : public KernelTest {
 protected:
  static constexpr std::uint64_t kFileSize = 1 << 20;
  explicit FileTest(const char* mem = "256MiB") : KernelTest({0, 0}, mem) { rebuild(); }

  void rebuild() {
    params_.fs.files = {{"/cfg/data", kFileSize, 0, "test"}};
    platform_.drop_timers();
    kernel_.reset();
    kernel_ = std::make_unique<Kernel>(topo_, params_, platform_);
  }
  // The kernel again with the [os] table `toml` (its [os.fs] and [os.vm] dirty knobs).
  void rebuild_with(const std::string& toml) {
    auto doc = ConfigDocument::from_string("[os]\n" + toml, "fs_test.toml");
    params_.fs = FsParams::from_config(doc->root().table("os"));
    rebuild();
  }
  // Every bio completes: the clock passes a second and the I/O timers fire; lru_add batches drained.
  void settle() {
    platform_.advance_to(platform_.clock + Picoseconds(1'000'000'000'000ull));
    k().lru_add_drain_all();
  }
  long node_stat(node_stat_item item, int nid = -1) {
    long n = 0;
    for (int i = 0; i < pm().nr_node_ids(); ++i)
      if (nid < 0 || nid == i) n += pm().NODE_DATA(NodeId(i)).stats.vm_stat[item];
    return n;
  }
  std::string fs_snapshot(task_struct* t) {
    std::ostringstream s;
    for (int fd = 0; fd < NR_OPEN_DEFAULT; ++fd)
      if (file* f = k().fs().fget(t->tgid, fd)) s << fd << "@" << f->f_pos << " ";
    for (const char* p : {"/cfg/data", "/w", "/big", "/a", "/f"})
      if (inode* i = k().fs().lookup(p))
        s << p << " " << i->i_size << "/" << i->i_mapping.nrpages << "/" << i->i_mapping.nr_dirty << "/"
          << i->nr_blocks << " ";
    s << "| free blocks " << k().fs().free_blocks() << " | file " << node_stat(NR_FILE_PAGES) << " dirty "
      << node_stat(NR_FILE_DIRTY) << " | free " << free_pages();
    return s.str();
  }
};

}  // namespace numasim::os::testing
