// Writing the /proc and per-node sysfs files of a run (see proc_dump.h). The
// text of each file comes from os/proc_format.h and os/slabinfo.h.
#include "proc_dump.h"

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "hw/machine.h"
#include "os/kernel.h"
#include "os/proc_format.h"
#include "os/slabinfo.h"

namespace numasim::cli {

std::string write_proc_files(hw::Machine& machine, const std::string& dir) {
  os::Kernel& k = machine.kernel();
  const os::PhysMem& pm = k.physmem();
  std::vector<std::pair<std::filesystem::path, std::string>> files = {
      {"meminfo", k.proc_meminfo()},
      {"vmstat", os::proc_vmstat(pm)},
      {"zoneinfo", os::proc_zoneinfo(pm)},
      {"buddyinfo", os::proc_buddyinfo(pm)},
      {"pagetypeinfo", os::proc_pagetypeinfo(pm)},
      {"slabinfo", os::proc_slabinfo(k.slub())},
      {"swaps", k.proc_swaps()},
      // debugfs (/sys/kernel/debug/extfrag/): fragmentation per zone and order.
      {std::filesystem::path("extfrag") / "unusable_index", os::debugfs_unusable_index(pm)},
      {std::filesystem::path("extfrag") / "extfrag_index", os::debugfs_extfrag_index(pm)},
  };
  for (int n = 0; n < pm.nr_node_ids(); ++n) {
    const std::filesystem::path node = "node" + std::to_string(n);
    files.push_back({node / "meminfo", k.node_meminfo(NodeId(n))});
    files.push_back({node / "numastat", os::node_numastat(pm, NodeId(n))});
    files.push_back({node / "vmstat", os::node_vmstat(pm, NodeId(n))});
  }
  // /proc/<pid>/numa_maps of every live process (its leader's address space).
  for (const auto& r : machine.tasks())
    if (r->task && r->task->mm && !r->finished && r->task->pid == r->task->tgid)
      files.push_back({std::filesystem::path(std::to_string(r->task->pid)) / "numa_maps",
                       k.numa_balancing().numa_maps(r->task)});
  for (const auto& [rel, text] : files) {
    const std::filesystem::path path = std::filesystem::path(dir) / rel;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return path.parent_path().string() + ": cannot create directory: " + ec.message();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) return path.string() + ": cannot write";
  }
  return "";
}

}  // namespace numasim::cli
