// What the configuration's [[workload]] tables turn into: one WorkloadSpec per
// simulated process, with a factory per thread that creates the thread's
// OpSource, the CPU each thread starts on, the process's CPU affinity and NUMA
// policy, and a results object the threads fill in as they run (errors,
// counters, a scripted scenario's call log) for the run's JSON output.
// The hardware side (hw::Machine, wired by the CLI) creates one task per
// thread, all threads of a spec sharing one address space (mm).
// Simplified: a thread stays on the CPU it starts on (no migration by the
// workload itself); the affinity list is carried for the scheduler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/units.h"
#include "hw/op.h"
#include "os/memcontrol.h"
#include "workloads/policy_spec.h"

namespace numasim::workloads {

// Filled in by the running threads of one workload; read after the run.
class WorkloadResults {
 public:
  WorkloadResults(std::string name, std::string kind) : name_(std::move(name)), kind_(std::move(kind)) {}

  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }

  // A run-time failure (a system call that had to succeed did not); the thread stops.
  void add_error(std::string message) { errors_.push_back(std::move(message)); }
  const std::vector<std::string>& errors() const { return errors_; }

  // A scripted call's outcome: ret >= 0 success, else -errno.
  struct Call {
    std::string call;
    long ret = 0;
    // Extra members after ret/errno: name -> an already serialised JSON value
    // (e.g. {"mode", "2"} for get_mempolicy, {"status", "[0, 1]"} for move_pages).
    std::vector<std::pair<std::string, std::string>> fields;
  };
  void add_call(Call c) { calls_.push_back(std::move(c)); }
  const std::vector<Call>& calls() const { return calls_; }

  // Named figures a generator reports (e.g. "laps", "updates"); kept in insertion order.
  void add_counter(const std::string& name, std::uint64_t value);
  const std::vector<std::pair<std::string, std::uint64_t>>& counters() const { return counters_; }

  // {"name": ..., "kind": ..., "counters": {...}, "errors": [...], "calls": [...]}
  // "calls" only for workloads that recorded calls; errno by symbolic name, absent on success.
  std::string to_json(bool pretty = true) const;

 private:
  std::string name_;
  std::string kind_;
  std::vector<std::string> errors_;
  std::vector<Call> calls_;
  std::vector<std::pair<std::string, std::uint64_t>> counters_;
};

// Reads a named counter of the simulated system (e.g. "vmstat.pgfault",
// "node1.numa_hit") for scripted read_counter steps; nullopt: unknown name.
using CounterReader = std::function<std::optional<std::int64_t>(const std::string& name)>;

using SourceFactory = std::function<std::unique_ptr<hw::OpSource>()>;

struct ThreadSpec {
  SourceFactory make_source;  // called once, when the task is created
  CpuId cpu{0};               // CPU the thread runs on
};

struct WorkloadSpec {
  std::string name;
  std::string kind;
  std::vector<ThreadSpec> threads;
  std::vector<CpuId> cpus;  // the process's affinity (every CPU a thread may use)
  PolicySpec policy;        // installed by each thread with set_mempolicy in start()
  std::uint64_t seed = 1;
  // verify = true: stores write page identity tokens, loads check them (generator.h).
  bool verify = false;
  int oom_score_adj = 0;  // /proc/<pid>/oom_score_adj of the process (-1000..1000)
  // The memory cgroup the process runs in ("/": the root) and the configuration's
  // [[cgroup]] hierarchy (shared by every spec of the run), created before the first process.
  std::string cgroup = "/";
  std::shared_ptr<const std::vector<os::MemCgroupParams>> cgroups;
  std::shared_ptr<WorkloadResults> results;
  // Set *counter_reader once the machine exists (before the run); empty: read_counter gives ENOSYS.
  std::shared_ptr<CounterReader> counter_reader = std::make_shared<CounterReader>();
};

}  // namespace numasim::workloads
