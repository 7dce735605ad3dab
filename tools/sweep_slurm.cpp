// The Slurm job-array runner: script, sbatch, squeue polling, collection.
#include "tools/sweep_slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

namespace numasim::cli {

using workloads::SweepError;
using workloads::SweepResult;
using workloads::SweepRunOutcome;
using workloads::SweepSpec;

namespace {
std::string shell_quote(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./:=,+@%") ==
                        std::string_view::npos)
    return std::string(s);
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

struct CommandOutput {
  int status = -1;  // exit status, 128 + signal, or -1 (not started)
  std::string out, err;
};

// Runs argv[0] (found in PATH) with stdout and stderr captured.
CommandOutput run_command(const std::vector<std::string>& args) {
  CommandOutput r;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0) return r;
  if (pipe(err_pipe) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) posix_spawn_file_actions_addclose(&fa, fd);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    r.err = std::string("cannot start ") + args[0] + ": " + std::strerror(rc);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[k].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[k]->append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return r;
}

// Whether squeue's state column (one task per line) lists a task that is not
// over yet: with a job id, squeue may also list finished tasks.
bool any_active(const std::string& states) {
  static const char* const kOver[] = {"COMPLETED", "FAILED",   "CANCELLED", "TIMEOUT",       "NODE_FAIL",
                                      "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"};
  std::istringstream in(states);
  for (std::string st; in >> st;) {
    bool over = false;
    for (const char* o : kOver) over |= st.rfind(o, 0) == 0;  // "CANCELLED by 0"
    if (!over) return true;
  }
  return false;
}

std::string command_failure(const std::string& what, const CommandOutput& r) {
  std::string e = r.err.empty() ? r.out : r.err;
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return "sweep: error: " + what + " failed (exit " + std::to_string(r.status) + ")" + (e.empty() ? "" : ": " + e);
}

// "ArrayTaskId=3 JobState=TIMEOUT Reason=..." lines of `scontrol -o show job` -> task -> state.
std::map<std::size_t, std::string> task_states(const std::string& job_id) {
  std::map<std::size_t, std::string> states;
  CommandOutput r = run_command({"scontrol", "-o", "show", "job", job_id});
  if (r.status != 0) return states;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::string task, state;
    std::istringstream fields(line);
    for (std::string f; fields >> f;) {
      if (f.rfind("ArrayTaskId=", 0) == 0) task = f.substr(12);
      if (f.rfind("JobState=", 0) == 0) state = f.substr(9);
    }
    if (all_digits(task) && !state.empty()) states[std::stoul(task)] = state;
  }
  return states;
}
}  // namespace

std::string slurm_time_error(std::string_view t) {
  const std::string forms =
      "expected minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes or "
      "days-hours:minutes:seconds (e.g. 30, 1:30:00, 2-12)";
  if (t.empty()) return "empty time limit; " + forms;
  std::string_view rest = t;
  bool days = false;
  if (auto dash = rest.find('-'); dash != std::string_view::npos) {
    if (!all_digits(rest.substr(0, dash))) return forms;
    days = true;
    rest = rest.substr(dash + 1);
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t colon = rest.find(':', start);
    parts.push_back(rest.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) return forms;
  bool nonzero = false;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (!all_digits(parts[k])) return forms;
    // minutes and seconds after the leading field are two digits below 60
    if (k > 0 && (parts[k].size() != 2 || std::stoi(std::string(parts[k])) > 59)) return forms;
    nonzero |= std::stoi(std::string(parts[k])) != 0;
  }
  if (days) {
    std::string_view d = t.substr(0, t.find('-'));
    nonzero |= std::stoi(std::string(d)) != 0;
  }
  if (!nonzero) return "a zero time limit; " + forms;
  return "";
}

std::string slurm_partition_error(std::string_view p) {
  if (p.empty()) return "empty partition name";
  for (char c : p)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.' && c != ',')
      return "partition names are letters, digits, '_', '-' and '.' (several separated by ',')";
  return "";
}

std::vector<std::vector<std::size_t>> slurm_tasks(const std::vector<std::size_t>& pending) {
  std::vector<std::vector<std::size_t>> tasks;
  const std::size_t n = pending.size(), t = std::min(n, kMaxArrayTasks);
  for (std::size_t k = 0; k < t; ++k)
    tasks.emplace_back(pending.begin() + static_cast<std::ptrdiff_t>(k * n / t),
                       pending.begin() + static_cast<std::ptrdiff_t>((k + 1) * n / t));
  return tasks;
}

std::string slurm_script_path(const SweepPlan& plan) { return plan.work_dir + "/sweep.sbatch"; }

std::string slurm_script(const SweepPlan& plan, const std::vector<std::vector<std::size_t>>& tasks,
                         const std::string& binary, const std::string& cwd, const SlurmOptions& slurm) {
  std::size_t points = 0;
  for (const auto& t : tasks) points += t.size();
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# numasim sweep" << (slurm.sweep_file.empty() ? "" : " " + slurm.sweep_file) << ": " << points
    << (points == 1 ? " point" : " points") << " as a Slurm job array of " << tasks.size()
    << (tasks.size() == 1 ? " task" : " tasks") << ", written by `numasim sweep --slurm`.\n"
    << "# Each point writes run_N.log (stdout and stderr), run_N.json (only when the run\n"
    << "# succeeds) and run_N.status (its exit status) into the work directory.\n"
    << "#SBATCH --job-name=numasim-sweep\n"
    << "#SBATCH --array=0-" << tasks.size() - 1;
  if (slurm.array_limit) s << "%" << slurm.array_limit;
  s << "\n";
  if (!slurm.partition.empty()) s << "#SBATCH --partition=" << slurm.partition << "\n";
  if (!slurm.time.empty()) s << "#SBATCH --time=" << slurm.time << "\n";
  s << "#SBATCH --ntasks=1\n"
    << "#SBATCH --cpus-per-task=1\n"
    << "#SBATCH --chdir=" << cwd << "\n"
    << "#SBATCH --output=" << plan.work_dir << "/slurm-%A_%a.out\n"
    << "NUMASIM=" << shell_quote(binary) << "\n"
    << "WORK=" << shell_quote(plan.work_dir) << "\n"
    << "failed=0\n"
    << "point() {  # point N ARG...: one numasim run of point N\n"
    << "  n=$1; shift\n"
    << "  \"$NUMASIM\" \"$@\" --json \"$WORK/run_$n.json.part\" --quiet >\"$WORK/run_$n.log\" 2>&1\n"
    << "  status=$?\n"
    << "  if [ \"$status\" -eq 0 ]; then mv -f \"$WORK/run_$n.json.part\" \"$WORK/run_$n.json\" || status=1; fi\n"
    << "  echo \"$status\" >\"$WORK/run_$n.status.part\" && mv -f \"$WORK/run_$n.status.part\" "
       "\"$WORK/run_$n.status\"\n"
    << "  [ \"$status\" -eq 0 ] || failed=1\n"
    << "}\n"
    << "case \"${SLURM_ARRAY_TASK_ID:?run this script with sbatch}\" in\n";
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    s << "  " << t << ")\n";
    for (std::size_t i : tasks[t]) {
      s << "    point " << plan.runs[i].point.index;
      for (const auto& a : plan.args[i]) s << " " << shell_quote(a);
      s << "\n";
    }
    s << "    ;;\n";
  }
  s << "  *) echo \"numasim sweep: no array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\n"
    << "esac\n"
    << "exit \"$failed\"\n";
  return s.str();
}

// A job array an earlier invocation submitted into this work directory that is
// still queued or running: its tasks would write the files a new submission
// writes. Empty when there is none.
std::string active_earlier_job(const std::string& work_dir) {
  std::ifstream in(work_dir + "/slurm.job");
  std::string job;
  if (!(in >> job) || !all_digits(job)) return "";
  CommandOutput q = run_command({"squeue", "-h", "--jobs=" + job, "-o", "%T"});
  return q.status == 0 && any_active(q.out) ? job : "";
}

SweepResult run_sweep_slurm(const SweepSpec& spec, const SweepOptions& options, const SlurmOptions& slurm) {
  const std::string cwd = std::filesystem::current_path().string();
  std::error_code ec;
  const std::string work = std::filesystem::absolute(options.work_dir, ec).string();
  for (const std::string* path : {&cwd, &work})
    if (path->find_first_of(" \t\n\"'") != std::string::npos)
      throw SweepError("sweep: error: \"" + *path +
                       "\": a path with spaces or quotes cannot appear in #SBATCH lines; run from (and use a "
                       "--work-dir in) a directory without them");
  if (!slurm.dry_run && std::filesystem::is_directory(work, ec))
    if (std::string job = active_earlier_job(work); !job.empty())
      throw SweepError("sweep: error: job array " + job + " of an earlier sweep in " + work +
                       " is still queued or running; wait for it (squeue -j " + job + ") or cancel it (scancel " +
                       job + ") before rerunning");
  SweepPlan plan = plan_sweep(spec, options);
  std::ostream* progress = options.progress;
  const std::size_t reused = plan.runs.size() - plan.pending.size();
  if (progress && reused)
    *progress << "sweep: " << reused << " of " << plan.runs.size() << " points have results in " << plan.work_dir
              << "; submitting the other " << plan.pending.size() << "\n";
  if (plan.pending.empty()) {
    if (slurm.dry_run && progress) *progress << "sweep: nothing to run; no script written\n";
    return slurm.dry_run ? SweepResult{} : sweep_result(spec, std::move(plan));
  }
  auto tasks = slurm_tasks(plan.pending);
  const std::string script_path = slurm_script_path(plan);
  {
    std::ofstream f(script_path, std::ios::binary | std::ios::trunc);
    f << slurm_script(plan, tasks, options.binary, cwd, slurm);
    if (!f) throw SweepError("sweep: error: cannot write the job script \"" + script_path + "\"");
  }
  if (slurm.dry_run) {
    if (progress)
      *progress << "sweep: wrote " << script_path << " (" << plan.pending.size() << " points in " << tasks.size()
                << " array tasks); not submitted (--slurm-dry-run): sbatch " << script_path << "\n";
    return SweepResult{};
  }

  CommandOutput sub = run_command({"sbatch", "--parsable", script_path});
  std::string job = sub.out.substr(0, sub.out.find_first_of(";\n"));
  if (sub.status != 0 || !all_digits(job)) throw SweepError(command_failure("sbatch " + script_path, sub));
  std::ofstream(plan.work_dir + "/slurm.job") << job << "\n";
  if (progress)
    *progress << "sweep: submitted job array " << job << " (" << plan.pending.size() << " points in " << tasks.size()
              << " tasks; script " << script_path << ")\n";

  std::vector<char> done(plan.runs.size(), 0);
  std::size_t finished = 0;
  auto collect = [&] {
    for (std::size_t i : plan.pending) {
      if (done[i]) continue;
      std::ifstream st(status_path(plan.runs[i]));
      int code = 0;
      if (!(st >> code)) continue;
      done[i] = 1;
      workloads::record_run_exit(spec, plan.runs[i], code);
      report_run(progress, plan, i, ++finished);
    }
  };
  int transient = 0;
  for (;;) {
    collect();
    if (finished == plan.pending.size()) break;
    CommandOutput q = run_command({"squeue", "-h", "--jobs=" + job, "-o", "%T"});
    if (q.status == 0 && !any_active(q.out)) break;  // no task left
    if (q.status != 0) {
      // A job that left the controller's memory is reported as an invalid id: it is over.
      if (q.err.find("Invalid job id") != std::string::npos) break;
      if (++transient > 30) throw SweepError(command_failure("squeue --jobs=" + job, q));
    } else {
      transient = 0;
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(slurm.poll_seconds));
  }
  collect();
  if (finished < plan.pending.size()) {
    // Tasks that ended without writing a status: say what Slurm knows.
    auto states = task_states(job);
    for (std::size_t t = 0; t < tasks.size(); ++t)
      for (std::size_t i : tasks[t]) {
        if (done[i]) continue;
        std::string task = job + "_" + std::to_string(t);
        std::string out = plan.work_dir + "/slurm-" + task + ".out";
        std::string why = "no result from Slurm array task " + task;
        if (auto it = states.find(t); it != states.end()) why += " (" + it->second + ")";
        why += "; output " + out;
        std::string l = workloads::tail_lines(out, 1);
        if (!l.empty()) why += ": " + l;
        workloads::record_run_failure(spec, plan.runs[i], why);
        report_run(progress, plan, i, ++finished);
      }
  }
  return sweep_result(spec, std::move(plan));
}

}  // namespace numasim::cli
