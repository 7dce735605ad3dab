// The sweep's work directory (resumable results) and the local parallel
// runner (posix_spawn + waitpid).
#include "tools/sweep_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace numasim::cli {

using workloads::SweepError;
using workloads::SweepResult;
using workloads::SweepRunOutcome;
using workloads::SweepSpec;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

// FNV-1a of a file's bytes: a configuration edited in place changes its points' keys.
std::string content_hash(const std::string& path) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : slurp(path)) h = (h ^ c) * 1099511628211ull;
  std::ostringstream o;
  o << std::hex << h;
  return o.str();
}

std::string run_key(const std::vector<std::string>& args, const std::string& config) {
  std::string key = "numasim sweep point\n";
  for (const auto& a : args) key += a + "\n";
  return key + "config-fnv1a " + content_hash(config) + "\n";
}

std::string stem(const SweepRunOutcome& o) {
  return o.json_path.substr(0, o.json_path.size() - std::string(".json").size());
}
}  // namespace

std::string partial_json_path(const SweepRunOutcome& o) { return o.json_path + ".part"; }
std::string status_path(const SweepRunOutcome& o) { return stem(o) + ".status"; }

SweepPlan plan_sweep(const SweepSpec& spec, const SweepOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(options.work_dir, ec) && !fs::is_directory(options.work_dir, ec))
    throw SweepError("sweep: error: work directory \"" + options.work_dir + "\" exists and is not a directory");
  fs::create_directories(options.work_dir, ec);
  if (ec) throw SweepError("sweep: error: cannot create work directory \"" + options.work_dir + "\": " + ec.message());
  SweepPlan plan;
  plan.work_dir = fs::absolute(options.work_dir).lexically_normal().string();
  while (plan.work_dir.size() > 1 && plan.work_dir.back() == '/') plan.work_dir.pop_back();
  for (auto& p : workloads::expand_sweep(spec)) {
    SweepRunOutcome o;
    workloads::SweepPoint abs = p;
    abs.config = fs::absolute(p.config).lexically_normal().string();
    o.point = std::move(p);
    std::string s = (fs::path(plan.work_dir) / ("run_" + std::to_string(o.point.index))).string();
    o.json_path = s + ".json";
    o.log_path = s + ".log";
    std::vector<std::string> args = abs.arguments(spec.args);
    std::string key = run_key(args, abs.config);
    std::string key_path = s + ".key";
    if (!options.fresh && fs::is_regular_file(o.json_path, ec) && slurp(key_path) == key) {
      workloads::record_run_exit(spec, o, 0);
      o.reused = true;
    } else {
      for (const auto& f : {o.json_path, partial_json_path(o), status_path(o)}) fs::remove(f, ec);
      std::ofstream k(key_path, std::ios::binary | std::ios::trunc);
      k << key;
      if (!k) throw SweepError("sweep: error: cannot write \"" + key_path + "\" in the work directory");
      plan.pending.push_back(plan.runs.size());
    }
    plan.runs.push_back(std::move(o));
    plan.args.push_back(std::move(args));
  }
  return plan;
}

void finish_run(const SweepSpec& spec, SweepPlan& plan, std::size_t i, int exit_code) {
  SweepRunOutcome& o = plan.runs[i];
  if (exit_code == 0) {
    std::error_code ec;
    std::filesystem::rename(partial_json_path(o), o.json_path, ec);
  }
  workloads::record_run_exit(spec, o, exit_code);
}

void report_run(std::ostream* progress, const SweepPlan& plan, std::size_t i, std::size_t finished) {
  if (!progress) return;
  const SweepRunOutcome& o = plan.runs[i];
  *progress << "[" << finished << "/" << plan.pending.size() << "] " << (o.ok ? "ok" : "FAILED") << ": run "
            << o.point.index << " " << o.point.describe();
  if (!o.ok) *progress << ": " << o.message;
  *progress << "\n";
}

SweepResult sweep_result(const SweepSpec& spec, SweepPlan plan) {
  SweepResult r;
  r.runs = std::move(plan.runs);
  for (const auto& o : r.runs) {
    r.failed += !o.ok;
    r.reused += o.reused;
  }
  r.csv = workloads::sweep_csv(spec, r.runs);
  return r;
}

void report_failures(std::ostream& out, const SweepResult& result) {
  for (const auto& o : result.runs) {
    if (o.ok) continue;
    out << "run " << o.point.index << " failed (" << o.point.describe() << "): " << o.message << "\n";
    std::string tail = workloads::tail_lines(o.log_path, 10);
    if (tail.empty()) continue;
    out << "  stderr (last lines of " << o.log_path << "):\n";
    std::istringstream lines(tail);
    for (std::string l; std::getline(lines, l);) out << "    " << l << "\n";
  }
}

SweepResult run_sweep(const SweepSpec& spec, const SweepOptions& options) {
  if (options.binary.empty() || access(options.binary.c_str(), X_OK) != 0)
    throw SweepError("sweep: error: cannot execute \"" + options.binary + "\"");
  SweepPlan plan = plan_sweep(spec, options);
  const int jobs = std::max(1, options.jobs > 0 ? options.jobs : spec.jobs);
  if (options.progress && plan.pending.size() < plan.runs.size())
    *options.progress << "sweep: " << plan.runs.size() - plan.pending.size() << " of " << plan.runs.size()
                      << " points have results in " << plan.work_dir << "; running the other " << plan.pending.size()
                      << "\n";

  std::vector<std::pair<pid_t, std::size_t>> running;
  std::size_t next = 0, finished = 0;
  auto spawn = [&](std::size_t i) {
    SweepRunOutcome& o = plan.runs[i];
    std::vector<std::string> args = plan.args[i];
    args.insert(args.begin(), options.binary);
    for (const char* a : {"--json", "", "--quiet"}) args.push_back(a);
    args[args.size() - 2] = partial_json_path(o);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, o.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, options.binary.c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      o.exit_code = -1;
      workloads::record_run_failure(spec, o, "cannot start " + options.binary + ": " + std::strerror(rc));
      report_run(options.progress, plan, i, ++finished);
      return;
    }
    running.emplace_back(pid, i);
  };

  while (finished < plan.pending.size()) {
    while (running.size() < static_cast<std::size_t>(jobs) && next < plan.pending.size()) spawn(plan.pending[next++]);
    if (running.empty()) continue;
    bool reaped = false;
    for (std::size_t r = 0; r < running.size(); ++r) {
      int status = 0;
      pid_t got = waitpid(running[r].first, &status, WNOHANG);
      if (got == running[r].first) {
        std::size_t i = running[r].second;
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(r));
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
        finish_run(spec, plan, i, code);
        report_run(options.progress, plan, i, ++finished);
        reaped = true;
        break;
      }
    }
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return sweep_result(spec, std::move(plan));
}

}  // namespace numasim::cli
