// /proc/meminfo and per-node meminfo with the hugetlb pool's figures
// (hugetlb_report_meminfo / hugetlb_report_node_meminfo): the text itself is
// os/proc_format's; this file only supplies HugePages_* from the pool.
#include <cerrno>

#include "os/kernel.h"

namespace numasim::os {

HugetlbInfo Kernel::hugetlb_info() const {
  HugetlbInfo h;
  h.total = hugetlb_->nr_huge_pages();
  h.free = hugetlb_->free_huge_pages();
  h.rsvd = hugetlb_->resv_huge_pages();
  h.surp = hugetlb_->surplus_huge_pages();
  h.page_size_kb = HPAGE_SIZE >> 10;
  h.all_hstates_kb = hugetlb_->total_base_pages() * (kPageSize >> 10);  // hugetlb_total_pages
  return h;
}

HugetlbInfo Kernel::hugetlb_node_info(NodeId nid) const {
  HugetlbInfo h;
  h.total = hugetlb_->nr_huge_pages_node(nid.value());
  h.free = hugetlb_->free_huge_pages_node(nid.value());
  h.surp = hugetlb_->surplus_huge_pages_node(nid.value());
  h.page_size_kb = HPAGE_SIZE >> 10;
  return h;
}

std::string Kernel::proc_meminfo() const {
  return os::proc_meminfo(pm_, hugetlb_info(), SwapMeminfo{swap_->total_swap_pages(), swap_->nr_swap_pages()});
}

std::string Kernel::node_meminfo(NodeId nid) const { return os::node_meminfo(pm_, nid, hugetlb_node_info(nid)); }
std::vector<ProcField> Kernel::node_meminfo_fields(NodeId nid) const {
  return os::node_meminfo_fields(pm_, nid, hugetlb_node_info(nid));
}

}  // namespace numasim::os

namespace numasim::os {

namespace {
// A parsed hugetlb sysfs path: hstate, node (-1: the global directory), file name.
struct HugetlbSysfsPath {
  int h = -1;
  int nid = -1;
  std::string_view file;
};

bool eat(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool eat_number(std::string_view& s, std::uint64_t& out) {
  std::size_t i = 0;
  out = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 12) out = out * 10 + static_cast<unsigned>(s[i++] - '0');
  if (i == 0) return false;
  s.remove_prefix(i);
  return true;
}

std::optional<HugetlbSysfsPath> parse_hugetlb_sysfs(std::string_view s, int nr_nodes) {
  HugetlbSysfsPath p;
  std::uint64_t n = 0;
  if (eat(s, "/sys/devices/system/node/node")) {
    if (!eat_number(s, n) || n >= static_cast<std::uint64_t>(nr_nodes) || !eat(s, "/hugepages")) return std::nullopt;
    p.nid = static_cast<int>(n);
  } else if (!eat(s, "/sys/kernel/mm/hugepages")) {
    return std::nullopt;
  }
  std::uint64_t kb = 0;
  if (!eat(s, "/hugepages-") || !eat_number(s, kb) || !eat(s, "kB/")) return std::nullopt;
  if (kb == (HPAGE_SIZE >> 10)) p.h = HSTATE_2M;
  else if (kb == (HPAGE_GIGANTIC_SIZE >> 10)) p.h = HSTATE_1G;
  else return std::nullopt;
  p.file = s;
  static constexpr std::string_view kGlobal[] = {"nr_hugepages", "nr_overcommit_hugepages", "free_hugepages",
                                                 "resv_hugepages", "surplus_hugepages"};
  static constexpr std::string_view kNode[] = {"nr_hugepages", "free_hugepages", "surplus_hugepages"};
  bool known = false;
  if (p.nid < 0) {
    for (auto f : kGlobal) known |= f == s;
  } else {
    for (auto f : kNode) known |= f == s;
  }
  if (!known) return std::nullopt;
  return p;
}
}  // namespace

std::optional<std::uint64_t> Kernel::hugetlb_sysfs_read(std::string_view path) const {
  auto p = parse_hugetlb_sysfs(path, pm_.nr_node_ids());
  if (!p || !hugetlb_->hstate_exists(p->h)) return std::nullopt;
  const HugetlbPool& pool = *hugetlb_;
  if (p->file == "nr_hugepages")  // nr_hugepages_show_common: surplus pages included
    return p->nid < 0 ? pool.nr_huge_pages(p->h) : pool.nr_huge_pages_node(p->nid, p->h);
  if (p->file == "free_hugepages")
    return p->nid < 0 ? pool.free_huge_pages(p->h) : pool.free_huge_pages_node(p->nid, p->h);
  if (p->file == "surplus_hugepages")
    return p->nid < 0 ? pool.surplus_huge_pages(p->h) : pool.surplus_huge_pages_node(p->nid, p->h);
  if (p->file == "resv_hugepages") return pool.resv_huge_pages(p->h);
  return pool.hs(p->h).nr_overcommit_huge_pages;  // nr_overcommit_hugepages
}

long Kernel::hugetlb_sysfs_write(std::string_view path, std::uint64_t value, CpuId cpu, KernelCost& cost) {
  auto p = parse_hugetlb_sysfs(path, pm_.nr_node_ids());
  if (!p || !hugetlb_->hstate_exists(p->h)) return -ENOENT;
  if (p->file == "nr_hugepages") return hugetlb_->set_nr_hugepages(p->h, p->nid, value, cpu, cost);
  if (p->file == "nr_overcommit_hugepages") return hugetlb_->set_nr_overcommit_hugepages(p->h, value);
  return -EACCES;  // the other files are 0444
}

}  // namespace numasim::os
