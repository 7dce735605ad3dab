// /proc/meminfo and per-node meminfo with the hugetlb pool's figures
// (hugetlb_report_meminfo / hugetlb_report_node_meminfo): the text itself is
// os/proc_format's; this file only supplies HugePages_* from the pool.
#include "os/kernel.h"

namespace numasim::os {

HugetlbInfo Kernel::hugetlb_info() const {
  HugetlbInfo h;
  h.total = hugetlb_->nr_huge_pages();
  h.free = hugetlb_->free_huge_pages();
  h.rsvd = hugetlb_->resv_huge_pages();
  h.page_size_kb = HPAGE_SIZE >> 10;
  return h;
}

HugetlbInfo Kernel::hugetlb_node_info(NodeId nid) const {
  HugetlbInfo h;
  h.total = hugetlb_->nr_huge_pages_node(nid.value());
  h.free = hugetlb_->free_huge_pages_node(nid.value());
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
