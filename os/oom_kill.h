// The OOM killer's record of one kill (mm/oom_kill.c): which process died, who
// asked for the memory, under which constraint, and the victim's memory at the
// moment of the kill, as the kernel log reports it. The killing itself
// (select_bad_process, oom_badness, the oom_reaper) is Kernel::out_of_memory in
// oom_kill.cpp.
// Simplified: no cpusets (CONSTRAINT_NONE, CONSTRAINT_MEMORY_POLICY or
// CONSTRAINT_MEMCG), oom_score_adj per process, every task runs as
// UID 0.
#pragma once

#include <cstdint>
#include <string>

#include "os/mmzone.h"

namespace numasim::os {

// enum oom_constraint (CONSTRAINT_CPUSET and CONSTRAINT_MEMCG are not modelled).
enum class OomConstraint { None, MemoryPolicy, Memcg };

struct OomKill {
  int pid = 0;          // the victim process (tgid)
  std::string comm;     // its command name
  int invoker_pid = 0;  // the task whose allocation failed (may be the victim)
  std::string invoker_comm;
  OomConstraint constraint = OomConstraint::None;
  nodemask_t nodemask{};  // the allocation's allowed nodes under CONSTRAINT_MEMORY_POLICY
  std::string oom_memcg, task_memcg;  // CONSTRAINT_MEMCG: the cgroup over its limit and the victim's
  unsigned gfp_mask = 0;  // the failed allocation's gfp flags and order (oom_control)
  int order = 0;
  long badness = 0;       // oom_badness points of the victim when chosen
  int oom_score_adj = 0;  // the victim's (the kill line) and the invoker's (the first line)
  int invoker_oom_score_adj = 0;
  // The victim's mm when it was chosen, in kB (mm->total_vm and the rss counters).
  std::uint64_t total_vm_kb = 0, anon_rss_kb = 0, file_rss_kb = 0, shmem_rss_kb = 0, pgtables_kb = 0;
};

// The line __oom_kill_process logs: "Out of memory: Killed process <pid> (<comm>)
// total-vm:<kB>kB, anon-rss:<kB>kB, file-rss:<kB>kB, shmem-rss:<kB>kB, UID:0
// pgtables:<kB>kB oom_score_adj:<adj>".
std::string oom_kill_message(const OomKill& k);
// dump_header's summary line: "oom-kill:constraint=CONSTRAINT_...,nodemask=<list>,task=<comm>,pid=<pid>,uid=0".
std::string oom_kill_summary(const OomKill& k);
const char* oom_constraint_name(OomConstraint c);
// out_of_memory's first line: "<comm> invoked oom-killer: order=0, oom_score_adj=<adj>".
std::string oom_invoked_message(const OomKill& k);

}  // namespace numasim::os
