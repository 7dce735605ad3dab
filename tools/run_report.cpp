// RunReport: placement, the run loop with its progress line, the human report
// (short, aligned, 80 columns) and the JSON statistics document. OS figures are
// taken from the kernel's own /proc text renderings (so the JSON uses Linux's
// names and units); hardware figures from the machine's statistics dump.
#include "run_report.h"

#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <map>
#include <sstream>
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>

#include "common/json_writer.h"
#include "hw/hw_stats.h"
#include "hw/machine.h"
#include "os/fs.h"
#include "os/kmemleak.h"
#include "os/proc_format.h"
#include "os/slabinfo.h"
#include "workloads/machine_placement.h"
#include "workloads/workload_factory.h"

namespace numasim::cli {
namespace {

// Every hardware statistic with its exact type: counters as integers, formulas as doubles.
struct Stat {
  bool is_counter = true;
  std::uint64_t count = 0;
  double value = 0;
  double as_double() const { return is_counter ? static_cast<double>(count) : value; }
};

class CollectingVisitor : public hw::StatsVisitor {
 public:
  std::map<std::string, Stat, std::less<>> stats;  // ordered: deterministic output
  void counter(std::string_view name, std::uint64_t value, std::string_view, std::string_view) override {
    stats[std::string(name)] = Stat{true, value, 0};
  }
  void formula(std::string_view name, double value, std::string_view, std::string_view) override {
    stats[std::string(name)] = Stat{false, 0, value};
  }
  void histogram(std::string_view name, const hw::Histogram& h, std::string_view, std::string_view) override {
    stats[std::string(name) + ".count"] = Stat{true, h.count(), 0};
    stats[std::string(name) + ".mean_ps"] = Stat{false, 0, h.mean_ps()};
    stats[std::string(name) + ".max_ps"] = Stat{true, h.max_ps(), 0};
  }
  double get(const std::string& name) const {
    auto it = stats.find(name);
    return it == stats.end() ? 0.0 : it->second.as_double();
  }
  // Writes every statistic under `prefix` as members named by the rest of the name.
  void write_group(JsonWriter& j, const std::string& prefix) const {
    for (auto it = stats.lower_bound(prefix); it != stats.end() && it->first.rfind(prefix, 0) == 0; ++it) {
      j.key(it->first.substr(prefix.size()));
      if (it->second.is_counter)
        j.value(it->second.count);
      else
        j.value(it->second.value);
    }
  }
};

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

double ns(double ps) { return ps / 1000.0; }

}  // namespace

// Statistics prefix of node n's memory device: "system.node<n>.mc." (ddr4),
// "system.node<n>.cxl." (a CXL expander).
namespace {
std::string device_prefix(hw::Machine& m, int n) { return m.memory().device(NodeId(n)).name() + "."; }
}  // namespace

void RunReport::place_workloads() {
  runs_.clear();
  for (const auto& placed : workloads::place_workloads(machine_, specs_)) runs_.push_back(placed.threads);
}

void RunReport::take_sample(Picoseconds interval) {
  CollectingVisitor v;
  machine_.dump_stats(v);
  const Topology& topo = machine_.topology();
  const os::PhysMem& pm = machine_.kernel().physmem();
  std::vector<std::string> names;  // header, built on the first sample
  std::vector<double> cumulative;  // counters whose rate is reported
  std::vector<std::pair<std::string, double>> gauges;
  auto rate = [&](const std::string& name, double value) {
    names.push_back(name);
    cumulative.push_back(value);
  };
  for (int n = 0; n < topo.num_nodes(); ++n) {
    std::string mc = device_prefix(machine_, n);
    rate("node" + std::to_string(n) + ".read_gbps", v.get(mc + "bytes_read"));
    rate("node" + std::to_string(n) + ".write_gbps", v.get(mc + "bytes_written"));
  }
  for (const auto& l : topo.links()) {
    for (int d = 0; d < 2; ++d) {
      NodeId a = d == 0 ? l.a : l.b, b = d == 0 ? l.b : l.a;
      std::string dir = "n" + std::to_string(a.value()) + "_to_n" + std::to_string(b.value());
      rate("link." + l.name + "." + dir + "_gbps", v.get("system.interconnect." + l.name + "." + dir + ".bytes"));
    }
  }
  rate("pgfault_per_s", static_cast<double>(pm.sum_vm_event(os::PGFAULT)));
  double stlb = 0;
  for (int c = 0; c < topo.num_cpus(); ++c) {
    std::string p = "system.cpu" + std::to_string(c) + ".dtlb.stlb.misses_";
    stlb += v.get(p + "4K") + v.get(p + "2M") + v.get(p + "1G");
  }
  rate("stlb_misses_per_s", stlb);
  // Reclaim and swap per node (events on the node's CPUs, as the report's reclaim table).
  for (int n = 0; n < topo.num_nodes(); ++n) {
    const ReclaimFigures f = reclaim_figures(n);
    const std::string p = "node" + std::to_string(n) + ".";
    rate(p + "pgscan_kswapd_per_s", static_cast<double>(f.pgscan_kswapd));
    rate(p + "pgscan_direct_per_s", static_cast<double>(f.pgscan_direct));
    rate(p + "pgsteal_per_s", static_cast<double>(f.pgsteal_kswapd + f.pgsteal_direct));
    rate(p + "allocstall_per_s", static_cast<double>(f.allocstall));
    rate(p + "pswpin_per_s", static_cast<double>(f.pswpin));
    rate(p + "pswpout_per_s", static_cast<double>(f.pswpout));
    rate(p + "pgmajfault_per_s", static_cast<double>(f.pgmajfault));
    rate(p + "workingset_refault_anon_per_s", static_cast<double>(f.workingset_refault_anon));
    rate(p + "kswapd_cpu_share", static_cast<double>(f.kswapd_time.value()) / 1e12);  // CPU seconds per second
  }
  for (int n = 0; n < topo.num_nodes(); ++n)
    gauges.emplace_back("node" + std::to_string(n) + ".free_kb",
                        4.0 * static_cast<double>(pm.node_zone_page_state(NodeId(n), os::NR_FREE_PAGES)));
  // THP and compaction (the vmstat events, system-wide), AnonHugePages per node
  // (meminfo's figure, kB) and khugepaged's pages_collapsed (its sysfs counter, a total).
  rate("thp_fault_alloc_per_s", static_cast<double>(pm.sum_vm_event(os::THP_FAULT_ALLOC)));
  rate("thp_fault_fallback_per_s", static_cast<double>(pm.sum_vm_event(os::THP_FAULT_FALLBACK)));
  rate("compact_stall_per_s", static_cast<double>(pm.sum_vm_event(os::COMPACTSTALL)));
  rate("compact_success_per_s", static_cast<double>(pm.sum_vm_event(os::COMPACTSUCCESS)));
  for (int n = 0; n < topo.num_nodes(); ++n)
    gauges.emplace_back("node" + std::to_string(n) + ".anon_huge_kb",
                        4.0 * static_cast<double>(pm.node_page_state(NodeId(n), os::NR_ANON_THPS)));
  gauges.emplace_back("khugepaged_pages_collapsed",
                      static_cast<double>(machine_.kernel().khugepaged_stats().pages_collapsed));
  // NUMA balancing: the share of DRAM accesses served by the accessing CPU's own
  // node in this interval, hint faults and page migrations per second (appended
  // as gauges so that the earlier columns keep their places).
  {
    const double local = v.get("system.mem.local_dram"), remote = v.get("system.mem.remote_dram");
    const double dl = local - numab_last_[0], dr = remote - numab_last_[1];
    const double hint = static_cast<double>(pm.sum_vm_event(os::NUMA_HINT_FAULTS));
    const double migrated = static_cast<double>(pm.sum_vm_event(os::NUMA_PAGE_MIGRATE));
    const double promoted = static_cast<double>(pm.global_node_page_state(os::PGPROMOTE_SUCCESS));
    const double secs = static_cast<double>(interval.value()) / 1e12;
    gauges.emplace_back("local_dram_fraction", dl + dr > 0 ? dl / (dl + dr) : 0.0);
    gauges.emplace_back("numa_hint_faults_per_s", (hint - numab_last_[2]) / secs);
    gauges.emplace_back("numa_pages_migrated_per_s", (migrated - numab_last_[3]) / secs);
    gauges.emplace_back("pgpromote_success_per_s", (promoted - numab_last_[4]) / secs);
    numab_last_ = {local, remote, hint, migrated, promoted};
  }
  // Memory tiers: resident pages (anonymous + page cache) on top-tier nodes and on
  // lower-tier ones (node_is_toptier), page migrations (pgmigrate_success, every
  // reason) and demotions per second (appended, as the NUMA columns).
  {
    double top = 0, lower = 0;
    for (int n = 0; n < topo.num_nodes(); ++n) {
      const double r = static_cast<double>(pm.node_page_state(NodeId(n), os::NR_ANON_MAPPED) +
                                           pm.node_page_state(NodeId(n), os::NR_FILE_PAGES));
      (machine_.kernel().node_is_toptier(n) ? top : lower) += r;
    }
    const double migrated = static_cast<double>(pm.sum_vm_event(os::PGMIGRATE_SUCCESS));
    const double demoted =
        static_cast<double>(pm.sum_vm_event(os::PGDEMOTE_KSWAPD) + pm.sum_vm_event(os::PGDEMOTE_DIRECT));
    const double secs = static_cast<double>(interval.value()) / 1e12;
    gauges.emplace_back("toptier_resident_pages", top);
    gauges.emplace_back("lowertier_resident_pages", lower);
    gauges.emplace_back("pgmigrate_success_per_s", (migrated - tier_last_[0]) / secs);
    gauges.emplace_back("pgdemote_per_s", (demoted - tier_last_[1]) / secs);
    tier_last_ = {migrated, demoted};
  }
  // Files and the page cache (appended as gauges, like the NUMA balancing columns):
  // Dirty and Writeback (meminfo, kB), nr_dirtied / nr_written pages per second,
  // pgpgin / pgpgout (kB per second, vmstat's unit) and workingset_refault_file per second.
  {
    const double secs = static_cast<double>(interval.value()) / 1e12;
    const std::array<double, 5> now = {static_cast<double>(pm.global_node_page_state(os::NR_DIRTIED)),
                                       static_cast<double>(pm.global_node_page_state(os::NR_WRITTEN)),
                                       static_cast<double>(pm.sum_vm_event(os::PGPGIN)),
                                       static_cast<double>(pm.sum_vm_event(os::PGPGOUT)),
                                       static_cast<double>(pm.global_node_page_state(os::WORKINGSET_REFAULT_FILE))};
    gauges.emplace_back("dirty_kb", 4.0 * static_cast<double>(pm.global_node_page_state(os::NR_FILE_DIRTY)));
    gauges.emplace_back("writeback_kb", 4.0 * static_cast<double>(pm.global_node_page_state(os::NR_WRITEBACK)));
    gauges.emplace_back("nr_dirtied_per_s", (now[0] - file_last_[0]) / secs);
    gauges.emplace_back("nr_written_per_s", (now[1] - file_last_[1]) / secs);
    gauges.emplace_back("pgpgin_kb_per_s", (now[2] - file_last_[2]) / secs);
    gauges.emplace_back("pgpgout_kb_per_s", (now[3] - file_last_[3]) / secs);
    gauges.emplace_back("workingset_refault_file_per_s", (now[4] - file_last_[4]) / secs);
    gauges.emplace_back("mapped_kb", 4.0 * static_cast<double>(pm.global_node_page_state(os::NR_FILE_MAPPED)));  // meminfo Mapped
    file_last_ = now;
  }
  numa_maps_.resize(runs_.size());
  for (std::size_t w = 0; w < runs_.size() && machine_.kernel().numa_balancing().enabled(); ++w)
    if (!runs_[w].empty() && runs_[w].front()->task && runs_[w].front()->task->mm && !runs_[w].front()->finished)
      numa_maps_[w] = machine_.kernel().numa_balancing().numa_maps(runs_[w].front()->task);
  if (samples_.empty()) {
    samples_ = "time_us";
    for (const auto& n : names) samples_ += "," + n;
    for (const auto& g : gauges) samples_ += "," + g.first;
    samples_ += "\n";
    last_sample_.assign(cumulative.size(), 0.0);
  }
  const double seconds = static_cast<double>(interval.value()) / 1e12;
  samples_ += fmt("%.3f", static_cast<double>(machine_.now().value()) / 1e6);
  for (std::size_t i = 0; i < cumulative.size(); ++i) {
    double delta = (cumulative[i] - last_sample_[i]) / seconds;
    bool bytes = names[i].find("gbps") != std::string::npos;
    samples_ += fmt(",%.6g", bytes ? delta / 1e9 : delta);
  }
  for (const auto& g : gauges) samples_ += g.first == "local_dram_fraction" ? fmt(",%.4f", g.second) : fmt(",%.0f", g.second);
  samples_ += "\n";
  last_sample_ = cumulative;
}

void RunReport::run(bool progress, Picoseconds sample_interval) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // The progress process is spawned whether or not it prints, so that the
  // SystemC schedule (and so every statistic) is the same on a terminal and off.
  auto all_done = [this] {
    for (const auto& r : machine_.tasks())
      if (!r->finished) return false;
    return true;
  };
  sc_core::sc_spawn(
      [this, progress, start, all_done, sample_interval] {
        auto last_print = start;
        bool printed = false;
        const bool sampling = sample_interval.value() > 0;
        const sc_core::sc_time period =
            sampling ? sc_core::sc_time(static_cast<double>(sample_interval.value()), sc_core::SC_PS)
                     : sc_core::sc_time(10, sc_core::SC_US);
        while (!all_done()) {
          sc_core::wait(period);
          if (sampling) take_sample(sample_interval);
          if (sampling && on_sample) on_sample();
          auto now = clock::now();
          if (!progress || now - start < std::chrono::seconds(2) || now - last_print < std::chrono::milliseconds(500))
            continue;
          last_print = now;
          double done = 0;
          std::uint64_t refs = 0;
          for (const auto& r : machine_.tasks()) {
            done += r->finished ? 1.0 : (r->source ? r->source->progress() : 0.0);
            refs += r->line_accesses;
          }
          done /= static_cast<double>(std::max<std::size_t>(1, machine_.tasks().size()));
          double host = std::chrono::duration<double>(now - start).count();
          std::fprintf(stderr, "\r  simulated %.3f ms  %5.1f%% done  %.2f M refs/host s   ",
                       static_cast<double>(machine_.now().value()) / 1e9, 100 * done,
                       static_cast<double>(refs) / host / 1e6);
          printed = true;
        }
        if (printed) std::fprintf(stderr, "\n");
      },
      "progress");
  sim_ps_ = machine_.run().value();
  host_seconds_ = std::chrono::duration<double>(clock::now() - start).count();
}

RunReport::ReclaimFigures RunReport::reclaim_figures(int node) const {
  const os::PhysMem& pm = machine_.kernel().physmem();
  const Topology& topo = machine_.topology();
  ReclaimFigures f;
  auto add_cpu = [&](CpuId c) {
    f.pgscan_kswapd += pm.cpu_vm_event(c, os::PGSCAN_KSWAPD);
    f.pgscan_direct += pm.cpu_vm_event(c, os::PGSCAN_DIRECT);
    f.pgsteal_kswapd += pm.cpu_vm_event(c, os::PGSTEAL_KSWAPD);
    f.pgsteal_direct += pm.cpu_vm_event(c, os::PGSTEAL_DIRECT);
    for (os::vm_event_item z : {os::ALLOCSTALL_DMA, os::ALLOCSTALL_DMA32, os::ALLOCSTALL_NORMAL, os::ALLOCSTALL_MOVABLE})
      f.allocstall += pm.cpu_vm_event(c, z);
    f.pswpin += pm.cpu_vm_event(c, os::PSWPIN);
    f.pswpout += pm.cpu_vm_event(c, os::PSWPOUT);
    f.pgmajfault += pm.cpu_vm_event(c, os::PGMAJFAULT);
  };
  if (node < 0) {
    add_cpu(CpuId(-1));
    return f;
  }
  for (int c = 0; c < topo.num_cpus(); ++c)
    if (topo.cpu_node(CpuId(c)).value() == node) add_cpu(CpuId(c));
  f.workingset_refault_anon =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, pm.node_page_state(NodeId(node), os::WORKINGSET_REFAULT_ANON)));
  const std::string kswapd = "kswapd" + std::to_string(node);
  for (const auto& k : machine_.kthreads())
    if (k->name == kswapd) f.kswapd_time = f.kswapd_time + k->kernel_time;
  return f;
}

RunReport::VerifySummary RunReport::verify_summary() const {
  VerifySummary s;
  for (const auto& spec : specs_) s.enabled |= spec.verify;
  if (!s.enabled) return s;
  const Topology& topo = machine_.topology();
  for (int c = 0; c < topo.num_cpus(); ++c) {
    const hw::Core& core = machine_.core(CpuId(c));
    s.stores += core.stats().verify_stores;
    s.loads += core.stats().verify_loads;
    s.mismatches += core.stats().verify_mismatches;
    for (const hw::VerifyMismatch& m : core.verify_mismatches())
      s.messages.push_back(fmt("%s[%d] at %s: page at virtual address 0x%" PRIx64 " (phys 0x%" PRIx64
                               ") holds token 0x%016" PRIx64 ", expected 0x%016" PRIx64 " (what it last wrote; %s)",
                               m.task.c_str(), m.pid, format_time(m.time).c_str(), m.va, m.pa, m.found, m.expected,
                               m.store ? "seen by a store" : "seen by a load"));
  }
  return s;
}

bool RunReport::all_workloads_ok() const {
  // A kernel object nobody owns at the end of a run is a simulator bug.
  if (!machine_.kernel().kmemleak_scan().leaks.empty()) return false;
  // A page that came back with another page's contents (verify mode).
  if (verify_summary().mismatches > 0) return false;
  for (std::size_t w = 0; w < specs_.size(); ++w) {
    if (!specs_[w].results->errors().empty()) return false;
    for (const auto* r : runs_[w])
      if (r->killed) return false;
  }
  return true;
}

std::vector<std::string> RunReport::kernel_log() const {
  std::vector<std::string> log;
  // The OOM killer's messages, oldest first (dump_header and __oom_kill_process).
  for (const os::OomKill& k : machine_.kernel().oom_kills()) {
    log.push_back(os::oom_invoked_message(k));
    log.push_back(os::oom_kill_summary(k));
    log.push_back(os::oom_kill_message(k));
  }
  // Fatal signals from faults (show_signal_msg's "segfault at"; no ip/sp/error code here).
  for (const auto& runs : runs_) {
    for (const hw::TaskRun* r : runs) {
      if (r->exit == hw::TaskExit::Sigsegv)
        log.push_back(fmt("%s[%d]: segfault at %" PRIx64, r->name.c_str(), r->pid, r->fault_addr));
      else if (r->exit == hw::TaskExit::Sigbus)
        log.push_back(fmt("%s[%d]: bus error (SIGBUS) at %" PRIx64, r->name.c_str(), r->pid, r->fault_addr));
    }
  }
  return log;
}

std::uint64_t RunReport::references() const {
  std::uint64_t refs = 0;
  for (const auto& r : machine_.tasks()) refs += r->line_accesses;
  return refs;
}

std::string RunReport::text() const {
  CollectingVisitor v;
  machine_.dump_stats(v);
  const Topology& topo = machine_.topology();
  const os::PhysMem& pm = machine_.kernel().physmem();
  std::string out;

  out += fmt("numasim: %d socket%s, %d node%s, %d CPUs; quantum %s; seed %" PRIu64 "\n", topo.num_sockets(),
             topo.num_sockets() == 1 ? "" : "s", topo.num_nodes(), topo.num_nodes() == 1 ? "" : "s", topo.num_cpus(),
             format_time(machine_.params().quantum).c_str(), machine_.params().seed);

  out += "\nWorkloads (time per access = task time / cache-line accesses)\n";
  out +=
      fmt("  %-18s %-5s %-20s %11s %10s %9s %6s\n", "name", "cpu", "policy", "accesses", "time", "ns/access", "faults");
  for (std::size_t w = 0; w < specs_.size(); ++w) {
    for (const hw::TaskRun* r : runs_[w]) {
      double t_ps = static_cast<double>((r->end_time - r->start_time).value());
      std::uint64_t faults = r->task ? r->task->min_flt + r->task->maj_flt : 0;
      std::string status = r->killed ? std::string("  ") + hw::task_exit_name(r->exit) : "";
      out += fmt("  %-18.18s %-5d %-20.20s %11" PRIu64 " %8.3fms %9.1f %6" PRIu64 "%s\n", r->name.c_str(),
                 r->task ? r->task->cpu.value() : -1, specs_[w].policy.text.c_str(), r->line_accesses, t_ps / 1e9,
                 r->line_accesses ? ns(t_ps) / static_cast<double>(r->line_accesses) : 0.0, faults, status.c_str());
    }
    for (const auto& e : specs_[w].results->errors()) out += "    error: " + e + "\n";
  }
  const std::vector<std::string> log = kernel_log();
  if (!log.empty()) {
    out += "\nKernel log\n";
    for (const auto& line : log) out += "  " + line + "\n";
  }
  if (const VerifySummary vs = verify_summary(); vs.enabled) {
    out += fmt("\nVerify: %" PRIu64 " stores replaced page tokens, %" PRIu64 " loads checked them: %s\n", vs.stores,
               vs.loads, vs.mismatches ? fmt("%" PRIu64 " MISMATCHES (pages lost)", vs.mismatches).c_str() : "all good");
    for (const auto& m : vs.messages) {
      const std::size_t cut = m.find(" holds token");
      out += "  verify failed: " + m.substr(0, cut) + "\n   " + m.substr(cut) + "\n";
    }
  }

  out += "\nCPUs\n";
  out += fmt("  %-4s %11s %8s %9s %9s %9s %7s %10s\n", "cpu", "accesses", "L1 miss", "TLB MPKA", "walk ns",
             "stall ns", "faults", "kthread us");
  for (int c = 0; c < topo.num_cpus(); ++c) {
    std::string p = "system.cpu" + std::to_string(c);
    double acc = v.get(p + ".core.line_accesses");
    const double kthread_ps = v.get(p + ".core.kthread_time");
    if (acc == 0 && kthread_ps == 0) continue;
    double stlb_miss =
        v.get(p + ".dtlb.stlb.misses_4K") + v.get(p + ".dtlb.stlb.misses_2M") + v.get(p + ".dtlb.stlb.misses_1G");
    double stall = v.get(p + ".core.dependent_wait_time") + v.get(p + ".core.lfb_stall_time");
    const double per = std::max(1.0, acc);
    out += fmt("  %-4d %11.0f %7.1f%% %9.2f %9.1f %9.1f %7.0f %10.1f\n", c, acc, 100 * v.get(p + ".l1d.miss_ratio"),
               1000 * stlb_miss / per, ns(v.get(p + ".mmu.walk_latency")), ns(stall) / per, v.get(p + ".mmu.faults"),
               kthread_ps / 1e6);
  }
  out += "  (TLB MPKA: second-level TLB misses per 1000 accesses; stall: memory stall per access;\n"
         "   kthread: CPU time of kernel threads)\n";
  bool any_kthread = false;
  for (const auto& k : machine_.kthreads()) any_kthread |= k->kthread_runs > 0;
  if (any_kthread) {
    out += "\nKernel threads that ran\n";
    out += fmt("  %-18s %-5s %8s %12s\n", "name", "cpu", "runs", "time us");
    for (const auto& k : machine_.kthreads())
      if (k->kthread_runs > 0)
        out += fmt("  %-18.18s %-5d %8" PRIu64 " %12.1f\n", k->name.c_str(), k->task->cpu.value(), k->kthread_runs,
                   static_cast<double>(k->kernel_time.value()) / 1e6);
  }

  // One definition of an L1 miss, the L1D's own (the CPU table's "L1 miss"): an
  // access reaching the L1D that it did not serve, counting every access that
  // reaches it: user loads and stores, page-table reads, kernel accesses and the
  // kernel's full-line writes (clearing and copying pages), which need no data
  // and are served by no level when they miss. The shares below are of the same
  // accesses, so L1 here is 100% less the CPUs' combined L1 miss ratio.
  double l1_accesses = 0, l1_misses = 0;
  for (int c = 0; c < topo.num_cpus(); ++c) {
    const std::string p = "system.cpu" + std::to_string(c) + ".l1d.";
    l1_misses += v.get(p + "read_misses") + v.get(p + "write_misses");
    l1_accesses += v.get(p + "read_hits") + v.get(p + "write_hits") + v.get(p + "read_misses") + v.get(p + "write_misses");
  }
  double l2 = v.get("system.mem.l2_hits"), llc = v.get("system.mem.llc_hits");
  double ld = v.get("system.mem.local_dram"), rd = v.get("system.mem.remote_dram");
  const double hitm = v.get("system.mem.hitm");
  const double l1 = l1_accesses - l1_misses;
  const double unfetched = std::max(0.0, l1_misses - (l2 + llc + ld + rd + hitm));  // full-line writes that missed
  double all = std::max(1.0, l1 + l2 + llc + ld + rd + hitm + unfetched);
  out += "\nMemory accesses served by\n";
  out += fmt("  L1 %.1f%%  L2 %.1f%%  LLC %.1f%%  local DRAM %.1f%% (%.1f ns)  remote DRAM %.1f%% (%.1f ns)\n",
             100 * l1 / all, 100 * l2 / all, 100 * llc / all, 100 * ld / all,
             v.get("system.mem.avg_local_dram_latency_ns"), 100 * rd / all,
             v.get("system.mem.avg_remote_dram_latency_ns"));
  if (unfetched > 0)
    out += fmt("  full-line writes that missed L1 (page clearing and copying, no data fetched) %.1f%%\n",
               100 * unfetched / all);
  if (hitm > 0)
    out += fmt("  another core's cache (HITM) %.1f%% (%.1f ns); %.0f copies invalidated for writes\n", 100 * hitm / all,
               v.get("system.mem.avg_hitm_latency_ns"), v.get("system.coherence.invalidations"));

  out += "\nNodes\n";
  // NUMA balancing and tiering columns (pages moved onto the node by NUMA
  // balancing, promoted onto it, demoted by its CPUs), when balancing is on or anything moved.
  const os::NumaBalancing& nb = machine_.kernel().numa_balancing();
  auto demoted = [&](int n) {
    std::uint64_t d = 0;
    for (CpuId c : topo.node(NodeId(n)).cpus)
      d += pm.cpu_vm_event(c, os::PGDEMOTE_KSWAPD) + pm.cpu_vm_event(c, os::PGDEMOTE_DIRECT) +
           pm.cpu_vm_event(c, os::PGDEMOTE_KHUGEPAGED);
    return d;
  };
  bool moves = nb.enabled();
  for (int n = 0; n < topo.num_nodes(); ++n)
    moves |= nb.nr_migrated_to(n) || pm.node_page_state(NodeId(n), os::PGPROMOTE_SUCCESS) || demoted(n);
  out += fmt("  %-4s %10s %10s %10s %10s %10s %10s %8s", "node", "MemTotal", "MemFree", "numa_hit", "numa_miss",
             "other_node", "DRAM GB/s", "row hit");
  out += moves ? fmt(" %9s %9s %9s\n", "migrated", "promoted", "demoted") : std::string("\n");
  for (int n = 0; n < topo.num_nodes(); ++n) {
    std::map<std::string, std::int64_t> mi;
    for (const os::ProcField& f : machine_.kernel().node_meminfo_fields(NodeId(n)))
      mi.emplace(std::string(f.name), static_cast<std::int64_t>(f.value));
    std::string mc = device_prefix(machine_, n);
    out += fmt("  %-4d %8" PRId64 "MB %8" PRId64 "MB %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10.2f %7.1f%%\n", n,
               mi["MemTotal"] / 1024, mi["MemFree"] / 1024, pm.node_numa_event_state(NodeId(n), os::NUMA_HIT),
               pm.node_numa_event_state(NodeId(n), os::NUMA_MISS), pm.node_numa_event_state(NodeId(n), os::NUMA_OTHER),
               v.get(mc + "bandwidth_bytes_per_s") / 1e9, 100 * v.get(mc + "row_hit_ratio"));
    if (moves) {
      out.pop_back();  // the row's newline
      out += fmt(" %9" PRIu64 " %9" PRId64 " %9" PRIu64 "\n", nb.nr_migrated_to(n),
                 static_cast<std::int64_t>(pm.node_page_state(NodeId(n), os::PGPROMOTE_SUCCESS)), demoted(n));
    }
  }
  if (nb.enabled()) {
    out += fmt("  NUMA balancing (kernel.numa_balancing=%d): numa_pte_updates %" PRIu64 ", numa_hint_faults %" PRIu64
               " (%" PRIu64 " local), numa_pages_migrated %" PRIu64 ", pgpromote_candidate %" PRId64 "\n",
               nb.mode(), pm.sum_vm_event(os::NUMA_PTE_UPDATES), pm.sum_vm_event(os::NUMA_HINT_FAULTS),
               pm.sum_vm_event(os::NUMA_HINT_FAULTS_LOCAL), pm.sum_vm_event(os::NUMA_PAGE_MIGRATE),
               static_cast<std::int64_t>(pm.global_node_page_state(os::PGPROMOTE_CANDIDATE)));
    for (std::size_t w = 0; w < specs_.size(); ++w) {
      if (runs_[w].empty() || !runs_[w].front()->task) continue;
      const bool sampled = w < numa_maps_.size() && !numa_maps_[w].empty();
      const std::string maps = sampled ? numa_maps_[w] : nb.exit_numa_maps(runs_[w].front()->task->tgid);
      if (maps.empty()) continue;
      out += "\n/proc/" + std::to_string(runs_[w].front()->task->tgid) + "/numa_maps of " + specs_[w].name +
             (sampled ? " (at the last sample)\n" : " (as it exited)\n");
      std::size_t at = 0;
      while (at < maps.size()) {
        const std::size_t nl = maps.find('\n', at);
        out += "  " + maps.substr(at, nl - at) + "\n";
        at = nl == std::string::npos ? maps.size() : nl + 1;
      }
    }
  }
  // Reclaim and swap, only when anything reclaimed, swapped or faulted in from swap.
  {
    std::vector<std::pair<std::string, ReclaimFigures>> rows;
    bool any = false;
    for (int n = 0; n < topo.num_nodes(); ++n) {
      rows.emplace_back(std::to_string(n), reclaim_figures(n));
      any |= rows.back().second.any();
    }
    ReclaimFigures cpuless = reclaim_figures(-1);
    if (cpuless.any()) rows.emplace_back("-", cpuless);
    any |= cpuless.any();
    if (any) {
      out += "\nReclaim (events on each node's CPUs; kswapd us: CPU time of kswapd<N>)\n";
      out += fmt("  %-4s %9s %9s %9s %9s %7s %8s %8s %7s\n", "node", "scan kswd", "scan drct", "stolen", "kswapd us",
                 "stalls", "pswpin", "pswpout", "majflt");
      for (const auto& [name, f] : rows)
        out += fmt("  %-4s %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9.1f %7" PRIu64 " %8" PRIu64 " %8" PRIu64
                   " %7" PRIu64 "\n",
                   name.c_str(), f.pgscan_kswapd, f.pgscan_direct, f.pgsteal_kswapd + f.pgsteal_direct,
                   static_cast<double>(f.kswapd_time.value()) / 1e6, f.allocstall, f.pswpin, f.pswpout, f.pgmajfault);
      out += "  (pgscan_kswapd, pgscan_direct, pgsteal_*, allocstall_*, pswp*, pgmajfault)\n";
    }
  }
  // Files and the page cache, only when a file was read or written.
  {
    const auto ev = [&](os::vm_event_item i) { return pm.sum_vm_event(i); };
    const auto ns = [&](os::node_stat_item i) { return pm.global_node_page_state(i); };
    if (ev(os::PGPGIN) || ev(os::PGPGOUT) || ns(os::NR_DIRTIED)) {
      const os::FileSystem& fs = machine_.kernel().fs();
      out += fmt("\nFiles: pgpgin %" PRIu64 " kB, pgpgout %" PRIu64 " kB, nr_dirtied %" PRId64 ", nr_written %" PRId64
                 ", workingset_refault_file %" PRId64 ", workingset_activate_file %" PRId64
                 ", Cached %" PRId64 " kB, dirty throttled %" PRIu64 " times (%.1f ms)\n",
                 ev(os::PGPGIN), ev(os::PGPGOUT), ns(os::NR_DIRTIED), ns(os::NR_WRITTEN),
                 ns(os::WORKINGSET_REFAULT_FILE), ns(os::WORKINGSET_ACTIVATE_FILE), 4 * ns(os::NR_FILE_PAGES),
                 fs.nr_dirty_throttled(), static_cast<double>(fs.dirty_pause_total().value()) / 1e9);
    }
  }
  // MemFree above is after every task exited; the lowest value says what the run took.
  out += "  lowest MemFree during the run:";
  for (int n = 0; n < topo.num_nodes(); ++n)
    out += fmt(" node%d %" PRId64 "MB", n,
               pm.node_min_free_pages(NodeId(n)) * static_cast<std::int64_t>(kPageSize) / (1 << 20));
  out += "\n";

  if (!topo.links().empty()) {
    out += "\nLinks (per direction)\n";
    out += fmt("  %-10s %-10s %12s %12s %8s\n", "link", "direction", "bytes", "messages", "busy");
    for (const auto& l : topo.links()) {
      for (int d = 0; d < 2; ++d) {
        NodeId a = d == 0 ? l.a : l.b, b = d == 0 ? l.b : l.a;
        std::string dir = "n" + std::to_string(a.value()) + "_to_n" + std::to_string(b.value());
        std::string p = "system.interconnect." + l.name + "." + dir + ".";
        out += fmt("  %-10s %-10s %12.0f %12.0f %7.2f%%\n", d == 0 ? l.name.c_str() : "", dir.c_str(),
                   v.get(p + "bytes"), v.get(p + "messages"), 100 * v.get(p + "utilisation"));
      }
    }
  }

  os::Kmemleak::ScanResult leaks = machine_.kernel().kmemleak_scan();
  out += fmt("\nkmemleak: %" PRIu64 " kernel objects allocated, %zu unreferenced\n", leaks.scanned_objects,
             leaks.leaks.size());
  if (!leaks.leaks.empty()) out += os::Kmemleak::report(leaks);

  std::uint64_t refs = references();
  out += fmt("\nSimulated %.3f ms in %.2f s of host time: %" PRIu64 " references, %.2f M references per host second\n",
             static_cast<double>(sim_ps_) / 1e9, host_seconds_, refs,
             host_seconds_ > 0 ? static_cast<double>(refs) / host_seconds_ / 1e6 : 0.0);
  return out;
}

std::string RunReport::json() const {
  CollectingVisitor v;
  machine_.dump_stats(v);
  const Topology& topo = machine_.topology();
  const os::PhysMem& pm = machine_.kernel().physmem();
  JsonWriter j;
  j.begin_object();
  j.key("version").value(1);
  j.key("sim").begin_object();
  j.key("seed").value(machine_.params().seed);
  j.key("quantum_ps").value(machine_.params().quantum.value());
  j.key("simulated_seconds").value(static_cast<double>(sim_ps_) / 1e12);
  j.key("simulated_ps").value(sim_ps_);
  j.key("references").value(references());
  j.key("host_seconds").value(host_seconds_);
  j.key("references_per_host_second")
      .value(host_seconds_ > 0 ? static_cast<double>(references()) / host_seconds_ : 0.0);
  j.end_object();

  j.key("vmstat").begin_object();
  for (const os::ProcField& f : os::vmstat_fields(pm)) j.key(f.name).value(static_cast<std::int64_t>(f.value));
  j.end_object();

  j.key("nodes").begin_array();
  std::string buddy = os::proc_buddyinfo(pm);
  for (int n = 0; n < topo.num_nodes(); ++n) {
    j.begin_object();
    j.key("node").value(n);
    j.key("meminfo_kb").begin_object();
    for (const os::ProcField& f : machine_.kernel().node_meminfo_fields(NodeId(n)))
      j.key(f.name).value(static_cast<std::int64_t>(f.value));
    j.end_object();
    j.key("min_free_kb").value(pm.node_min_free_pages(NodeId(n)) * static_cast<std::int64_t>(kPageSize / 1024));
    {
      // The node's min watermark (sum over its zones): min_free_kb below it means an
      // allocation dipped into the reserves (direct reclaim, __GFP_HIGH, OOM victims).
      std::int64_t wmark_min = 0;
      for (const os::zone& z : pm.NODE_DATA(NodeId(n)).node_zones) wmark_min += static_cast<std::int64_t>(os::min_wmark_pages(z));
      j.key("wmark_min_kb").value(wmark_min * static_cast<std::int64_t>(kPageSize / 1024));
    }
    {
      // Reclaim events counted on the node's CPUs and its kswapd's CPU time.
      const ReclaimFigures f = reclaim_figures(n);
      j.key("reclaim").begin_object();
      j.key("pgscan_kswapd").value(f.pgscan_kswapd);
      j.key("pgscan_direct").value(f.pgscan_direct);
      j.key("pgsteal_kswapd").value(f.pgsteal_kswapd);
      j.key("pgsteal_direct").value(f.pgsteal_direct);
      j.key("allocstall").value(f.allocstall);
      j.key("pswpin").value(f.pswpin);
      j.key("pswpout").value(f.pswpout);
      j.key("pgmajfault").value(f.pgmajfault);
      j.key("workingset_refault_anon").value(f.workingset_refault_anon);
      j.key("kswapd_time_ps").value(f.kswapd_time.value());
      j.end_object();
    }
    j.key("numastat").begin_object();
    for (const os::ProcField& f : os::node_numastat_fields(pm, NodeId(n)))
      j.key(f.name).value(static_cast<std::int64_t>(f.value));
    j.end_object();
    // /proc/buddyinfo: "Node 0, zone   Normal   <free blocks per order>"
    j.key("buddyinfo").begin_object();
    std::istringstream in(buddy);
    std::string line, prefix = "Node " + std::to_string(n) + ",";
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) != 0) continue;
      std::istringstream ls(line.substr(prefix.size()));
      std::string word, zone;
      ls >> word >> zone;
      j.key(zone).begin_array();
      for (std::int64_t count; ls >> count;) j.value(count);
      j.end_array();
    }
    j.end_object();
    j.end_object();
  }
  j.end_array();

  j.key("cpus").begin_array();
  for (int c = 0; c < topo.num_cpus(); ++c) {
    j.begin_object();
    j.key("cpu").value(c);
    j.key("node").value(topo.cpu_node(CpuId(c)).value());
    v.write_group(j, "system.cpu" + std::to_string(c) + ".");
    j.end_object();
  }
  j.end_array();

  // Kernel threads (kswapd<N>, kcompactd<N>, khugepaged, the flusher): where they run and their CPU time.
  j.key("kthreads").begin_array();
  for (const auto& k : machine_.kthreads()) {
    j.begin_object();
    j.key("name").value(k->name);
    j.key("pid").value(k->pid);
    j.key("cpu").value(k->task->cpu.value());
    j.key("node").value(topo.cpu_node(k->task->cpu).value());
    j.key("runs").value(k->kthread_runs);
    j.key("time_ps").value(k->kernel_time.value());
    j.end_object();
  }
  j.end_array();

  j.key("memory_controllers").begin_array();
  for (int n = 0; n < topo.num_nodes(); ++n) {
    j.begin_object();
    j.key("node").value(n);
    j.key("device").value(std::string(machine_.memory().device(NodeId(n)).impl()));
    v.write_group(j, device_prefix(machine_, n));
    j.end_object();
  }
  j.end_array();

  j.key("links").begin_array();
  for (const auto& l : topo.links()) {
    j.begin_object();
    j.key("name").value(l.name);
    j.key("nodes").begin_array().value(l.a.value()).value(l.b.value()).end_array();
    v.write_group(j, "system.interconnect." + l.name + ".");
    j.end_object();
  }
  j.end_array();

  j.key("memory").begin_object();
  v.write_group(j, "system.mem.");
  j.end_object();
  j.key("coherence").begin_object();
  v.write_group(j, "system.coherence.");
  j.end_object();

  os::Kmemleak::ScanResult leaks = machine_.kernel().kmemleak_scan();
  j.key("kmemleak").begin_object();
  j.key("scanned_objects").value(leaks.scanned_objects);
  j.key("unreferenced").begin_array();
  for (const auto& l : leaks.leaks) {
    j.begin_object();
    j.key("addr").value(l.addr);
    j.key("cache").value(l.cache);
    j.key("size").value(static_cast<std::uint64_t>(l.size));
    j.key("node").value(l.nid.value());
    j.end_object();
  }
  j.end_array();
  j.end_object();
  j.key("slabinfo").raw(os::slabinfo_json(machine_.kernel().slub()));

  // Memory cgroups v2 (only when [[cgroup]] tables made some): each cgroup's
  // memory.current/max, memory.swap.current, memory.events and memory.stat.
  if (machine_.kernel().memcgs().enabled()) {
    const os::Kernel& kern = machine_.kernel();
    j.key("cgroups").begin_array();
    for (const auto& m : kern.memcgs().by_id) {
      if (m->id == os::kRootMemcgId) continue;
      j.begin_object();
      j.key("path").value(m->path);
      j.key("memory_current").value(static_cast<std::int64_t>(m->memory.usage) * static_cast<std::int64_t>(kPageSize));
      j.key("memory_peak").value(static_cast<std::uint64_t>(m->memory.watermark) * kPageSize);
      auto lim = [&](unsigned long pages) {
        return pages >= os::PAGE_COUNTER_MAX ? std::int64_t{-1} : static_cast<std::int64_t>(pages * kPageSize);
      };
      j.key("memory_max").value(lim(m->memory.max));  // -1: "max"
      j.key("memory_high").value(lim(m->memory.high));
      j.key("memory_low").value(lim(m->memory.low));
      j.key("memory_min").value(lim(m->memory.min));
      j.key("memory_swap_current").value(static_cast<std::int64_t>(m->swap.usage) * static_cast<std::int64_t>(kPageSize));
      j.key("memory_swap_max").value(lim(m->swap.max));
      j.key("high_throttle_ps").value(m->high_delay_ps);
      j.key("memory_events").begin_object();
      j.key("low").value(m->memory_events[os::MEMCG_LOW]);
      j.key("high").value(m->memory_events[os::MEMCG_HIGH]);
      j.key("max").value(m->memory_events[os::MEMCG_MAX]);
      j.key("oom").value(m->memory_events[os::MEMCG_OOM]);
      j.key("oom_kill").value(m->memory_events[os::MEMCG_OOM_KILL]);
      j.end_object();
      j.key("memory_stat").begin_object();
      for (const auto& [name, value] : kern.memcg_stat(*m)) j.key(name).value(value);
      j.end_object();
      j.end_object();
    }
    j.end_array();
  }

  j.key("kernel_log").begin_array();
  for (const auto& line : kernel_log()) j.value(line);
  j.end_array();

  if (const VerifySummary vs = verify_summary(); vs.enabled) {
    j.key("verify").begin_object();
    j.key("stores").value(vs.stores);
    j.key("loads_checked").value(vs.loads);
    j.key("mismatches").value(vs.mismatches);
    j.key("failures").begin_array();
    for (const auto& m : vs.messages) j.value(m);
    j.end_array();
    j.end_object();
  }

  j.key("workloads").begin_array();
  for (std::size_t w = 0; w < specs_.size(); ++w) {
    j.begin_object();
    j.key("name").value(specs_[w].name);
    j.key("kind").value(specs_[w].kind);
    j.key("policy").value(specs_[w].policy.text);
    j.key("tasks").begin_array();
    for (const hw::TaskRun* r : runs_[w]) {
      j.begin_object();
      j.key("name").value(r->name);
      j.key("cpu").value(r->task ? r->task->cpu.value() : -1);
      j.key("killed").value(r->killed);
      j.key("exit").value(hw::task_exit_name(r->exit));
      if (r->killed && r->fault_addr) j.key("fault_addr").value(r->fault_addr);
      if (const os::OomKill* k =
              r->exit == hw::TaskExit::OomKill && r->task ? machine_.kernel().oom_kill_of(r->task->tgid) : nullptr) {
        j.key("oom_kill").begin_object();
        j.key("pid").value(k->pid);
        j.key("invoker_pid").value(k->invoker_pid);
        j.key("constraint").value(os::oom_constraint_name(k->constraint));
        j.key("total_vm_kb").value(k->total_vm_kb);
        j.key("anon_rss_kb").value(k->anon_rss_kb);
        j.key("file_rss_kb").value(k->file_rss_kb);
        j.key("shmem_rss_kb").value(k->shmem_rss_kb);
        j.key("pgtables_kb").value(k->pgtables_kb);
        j.end_object();
      }
      j.key("time_ps").value((r->end_time - r->start_time).value());
      j.key("ops").value(r->ops);
      j.key("loads").value(r->loads);
      j.key("stores").value(r->stores);
      j.key("line_accesses").value(r->line_accesses);
      j.key("syscalls").value(r->syscalls);
      j.key("min_flt").value(r->task ? r->task->min_flt : 0);
      j.end_object();
    }
    j.end_array();
    if (!runs_[w].empty() && runs_[w].front()->task) {
      const bool sampled = w < numa_maps_.size() && !numa_maps_[w].empty();
      const std::string maps =
          sampled ? numa_maps_[w] : machine_.kernel().numa_balancing().exit_numa_maps(runs_[w].front()->task->tgid);
      if (!maps.empty()) j.key("numa_maps").value(maps);
    }
    j.key("results").raw(specs_[w].results->to_json(false));
    j.end_object();
  }
  j.end_array();
  j.end_object();
  return j.str() + "\n";
}

}  // namespace numasim::cli
