// Sweeps as a user runs them: the local runner (parallel processes of a fake
// numasim, a failure that does not stop the others, resuming), the Slurm job
// array (the generated script line by line, batching, time limits), the
// `numasim sweep --slurm` command against fake sbatch/squeue/scontrol that run
// the array's tasks here (CSV identical to the local sweep, dry run, resume, a
// failed and a lost task), and the usage errors. The real Slurm cluster test
// is slurm_sweep_test.sh.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/sweep_runner.h"
#include "tools/sweep_slurm.h"

using namespace numasim::cli;
using numasim::workloads::parse_sweep_text;
using numasim::workloads::SweepError;
using numasim::workloads::SweepResult;
using numasim::workloads::SweepSpec;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& path, const std::string& text, bool executable = false) {
  std::ofstream(path) << text;
  if (executable) ::chmod(path.c_str(), 0755);
}

// A fresh temporary directory, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("numasim_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

struct Result {
  int status = -1;
  std::string out, err;
};

// numasim ARGS run through /bin/sh in `dir`, with `env` assignments before it.
Result run_numasim(const fs::path& dir, const std::string& args, const std::string& env = "") {
  std::string cmd = "cd '" + dir.string() + "' && " + env + " " + NUMASIM_BINARY_DIR + "/tools/numasim " + args +
                    " >cmd.out 2>cmd.err";
  int raw = std::system(cmd.c_str());
  Result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(dir / "cmd.out");
  r.err = slurp(dir / "cmd.err");
  return r;
}

// A fake numasim: writes JSON computed from its --set values; fails for threads=4.
const char* kFakeNumasim =
    "#!/bin/sh\n"
    "[ \"$1\" = run ] || { echo \"expected run, got $1\" >&2; exit 9; }\n"
    "shift; cfg=$1; shift; threads=0; json=''\n"
    "while [ $# -gt 0 ]; do\n"
    "  case \"$1\" in\n"
    "    --set) case \"$2\" in workload*threads=*) threads=${2##*=};; esac; shift 2;;\n"
    "    --json) json=$2; shift 2;;\n"
    "    *) shift;;\n"
    "  esac\n"
    "done\n"
    "echo \"$threads\" >>\"$(dirname \"$json\")/calls\"\n"
    "if [ \"$threads\" = 4 ]; then echo \"error: too many threads for $cfg\" >&2; exit 3; fi\n"
    "echo \"{\\\"sim\\\": {\\\"simulated_seconds\\\": 0.$threads}, \\\"cfg\\\": \\\"$cfg\\\"}\" > \"$json\"\n";

// Fake Slurm commands: sbatch runs every array task of the script here, one
// after the other (skipping the task named in $FAKE_SLURM_LOSE), and prints job
// id 42; squeue lists nothing; scontrol says the lost task timed out.
const char* kFakeSbatch =
    "#!/bin/sh\n"
    "echo \"$@\" >>\"$FAKE_SLURM_LOG\"\n"
    "script=$2\n"
    "last=$(sed -n 's/^#SBATCH --array=0-\\([0-9]*\\).*/\\1/p' \"$script\")\n"
    "out=$(sed -n 's/^#SBATCH --output=//p' \"$script\")\n"
    "t=0\n"
    "while [ $t -le $last ]; do\n"
    "  if [ \"$t\" != \"${FAKE_SLURM_LOSE:-}\" ]; then\n"
    "    f=$(echo \"$out\" | sed \"s/%A/42/; s/%a/$t/\")\n"
    "    SLURM_ARRAY_TASK_ID=$t bash \"$script\" >\"$f\" 2>&1\n"
    "  fi\n"
    "  t=$((t + 1))\n"
    "done\n"
    "echo 42\n";
const char* kFakeSqueue = "#!/bin/sh\n[ -n \"${FAKE_SLURM_RUNNING:-}\" ] && echo RUNNING\nexit 0\n";
const char* kFakeScontrol =
    "#!/bin/sh\n"
    "echo \"JobId=43 ArrayJobId=42 ArrayTaskId=${FAKE_SLURM_LOSE:-0} JobState=TIMEOUT Reason=TimeLimit\"\n";

SweepSpec fake_spec(const fs::path& dir) {
  return parse_sweep_text(
      "configs = [\"a.toml\"]\n[grid]\npolicy = [\"local\", \"bind:1\"]\n\"workload[0].threads\" = [1, 2, 4]\n"
      "[collect]\nsecs = \"sim.simulated_seconds\"\ncfg = \"cfg\"\nmissing = \"sim.nothing\"\n",
      "s.toml", dir.string());
}

}  // namespace

TEST(SweepRunner, RunsPointsInParallelAndReportsAFailureWithoutStoppingTheOthers) {
  TempDir dir("sweep_runner");
  std::string fake = (dir.path / "fake_numasim.sh").string();
  write_file(fake, kFakeNumasim, true);
  write_file(dir.path / "a.toml", "# a\n");
  SweepSpec s = fake_spec(dir.path);
  std::ostringstream progress;
  SweepOptions o;
  o.binary = fake;
  o.jobs = 2;
  o.work_dir = (dir.path / "runs").string();
  o.progress = &progress;
  SweepResult r = run_sweep(s, o);
  ASSERT_EQ(r.runs.size(), 6u);
  EXPECT_EQ(r.failed, 2u);
  std::string a = (dir.path / "a.toml").string();
  std::string log2 = (dir.path / "runs" / "run_2.log").string(), log5 = (dir.path / "runs" / "run_5.log").string();
  const std::string expected =
      "run,config,policy,workload[0].threads,status,secs,cfg,missing\n"
      "0," + a + ",local,1,ok,0.1," + a + ",\n"
      "1," + a + ",local,2,ok,0.2," + a + ",\n"
      "2," + a + ",local,4,failed: exit code 3; log " + log2 + ": error: too many threads for " + a + ",,,\n"
      "3," + a + ",bind:1,1,ok,0.1," + a + ",\n"
      "4," + a + ",bind:1,2,ok,0.2," + a + ",\n"
      "5," + a + ",bind:1,4,failed: exit code 3; log " + log5 + ": error: too many threads for " + a + ",,,\n";
  EXPECT_EQ(r.csv, expected);
  EXPECT_NE(progress.str().find("[6/6]"), std::string::npos) << progress.str();
  EXPECT_NE(progress.str().find("FAILED: run 2 "), std::string::npos) << progress.str();
  // A successful run's JSON is complete (no partial file left behind).
  EXPECT_TRUE(fs::exists(dir.path / "runs" / "run_0.json"));
  EXPECT_FALSE(fs::exists(dir.path / "runs" / "run_0.json.part"));
  std::ostringstream failures;
  report_failures(failures, r);
  EXPECT_NE(failures.str().find("run 5 failed ("), std::string::npos) << failures.str();
  EXPECT_NE(failures.str().find("  stderr (last lines of " + log5 + "):\n    error: too many threads"),
            std::string::npos)
      << failures.str();

  // Resume: only the two failed points run again, the CSV is the same.
  fs::remove(dir.path / "runs" / "calls");
  std::ostringstream again_progress;
  o.progress = &again_progress;
  SweepResult again = run_sweep(s, o);
  EXPECT_EQ(again.csv, expected);
  EXPECT_EQ(again.reused, 4u);
  EXPECT_EQ(slurp(dir.path / "runs" / "calls"), "4\n4\n");
  EXPECT_NE(again_progress.str().find("4 of 6 points have results in"), std::string::npos) << again_progress.str();
  // An edited configuration file invalidates its points' results; so does --fresh.
  fs::remove(dir.path / "runs" / "calls");
  write_file(dir.path / "a.toml", "# a, edited\n");
  EXPECT_EQ(run_sweep(s, o).reused, 0u);
  EXPECT_EQ(slurp(dir.path / "runs" / "calls").size(), 12u);
  o.fresh = true;
  EXPECT_EQ(run_sweep(s, o).reused, 0u);

  EXPECT_THROW(run_sweep(s, SweepOptions{(dir.path / "nope").string(), 1, o.work_dir, nullptr}), SweepError);
  // A work directory that is a file is an error, not an empty sweep.
  write_file(dir.path / "file", "x");
  EXPECT_THROW(run_sweep(s, SweepOptions{fake, 1, (dir.path / "file").string(), nullptr}), SweepError);
}

TEST(SweepSlurm, TheJobArrayScript) {
  TempDir dir("sweep_script");
  write_file(dir.path / "a.toml", "");
  SweepSpec s = parse_sweep_text(
      "configs = [\"a.toml\"]\nargs = [\"--sample\", \"10us\"]\n[grid]\n\"workload[0].policy\" = [\"local\", "
      "\"bind:1\"]\n\"workload[0].name\" = [\"it's\"]\n",
      "s.toml", dir.path.string());
  SweepOptions o;
  o.work_dir = (dir.path / "w").string();
  SweepPlan plan = plan_sweep(s, o);
  ASSERT_EQ(plan.pending, (std::vector<std::size_t>{0, 1}));
  SlurmOptions so;
  so.partition = "debug";
  so.time = "0:30:00";
  so.array_limit = 4;
  so.sweep_file = "study.toml";
  const std::string w = plan.work_dir, a = (dir.path / "a.toml").string();
  EXPECT_EQ(slurm_script(plan, slurm_tasks(plan.pending), "/opt/numasim", "/home/u", so),
            "#!/bin/bash\n"
            "# numasim sweep study.toml: 2 points as a Slurm job array of 2 tasks, written by `numasim sweep "
            "--slurm`.\n"
            "# Each point writes run_N.log (stdout and stderr), run_N.json (only when the run\n"
            "# succeeds) and run_N.status (its exit status) into the work directory.\n"
            "#SBATCH --job-name=numasim-sweep\n"
            "#SBATCH --array=0-1%4\n"
            "#SBATCH --partition=debug\n"
            "#SBATCH --time=0:30:00\n"
            "#SBATCH --ntasks=1\n"
            "#SBATCH --cpus-per-task=1\n"
            "#SBATCH --chdir=/home/u\n"
            "#SBATCH --output=" + w + "/slurm-%A_%a.out\n"
            "NUMASIM=/opt/numasim\n"
            "WORK=" + w + "\n"
            "failed=0\n"
            "point() {  # point N ARG...: one numasim run of point N\n"
            "  n=$1; shift\n"
            "  \"$NUMASIM\" \"$@\" --json \"$WORK/run_$n.json.part\" --quiet >\"$WORK/run_$n.log\" 2>&1\n"
            "  status=$?\n"
            "  if [ \"$status\" -eq 0 ]; then mv -f \"$WORK/run_$n.json.part\" \"$WORK/run_$n.json\" || status=1; fi\n"
            "  echo \"$status\" >\"$WORK/run_$n.status.part\" && mv -f \"$WORK/run_$n.status.part\" "
            "\"$WORK/run_$n.status\"\n"
            "  [ \"$status\" -eq 0 ] || failed=1\n"
            "}\n"
            "case \"${SLURM_ARRAY_TASK_ID:?run this script with sbatch}\" in\n"
            "  0)\n"
            "    point 0 run " + a + " --set 'workload[0].policy=\"local\"' --set 'workload[0].name=\"it'\\''s\"' "
            "--sample 10us\n"
            "    ;;\n"
            "  1)\n"
            "    point 1 run " + a + " --set 'workload[0].policy=\"bind:1\"' --set 'workload[0].name=\"it'\\''s\"' "
            "--sample 10us\n"
            "    ;;\n"
            "  *) echo \"numasim sweep: no array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\n"
            "esac\n"
            "exit \"$failed\"\n");
  // Without options: no %K, no partition, no time.
  std::string plain = slurm_script(plan, slurm_tasks(plan.pending), "/opt/numasim", "/home/u", SlurmOptions{});
  EXPECT_NE(plain.find("#SBATCH --array=0-1\n#SBATCH --ntasks=1\n"), std::string::npos) << plain;
}

TEST(SweepSlurm, MorePointsThanArrayTasksShareTasksInOrder) {
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < 2500; ++i) pending.push_back(i * 2);
  auto tasks = slurm_tasks(pending);
  ASSERT_EQ(tasks.size(), kMaxArrayTasks);
  std::vector<std::size_t> flat;
  for (const auto& t : tasks) {
    EXPECT_TRUE(t.size() == 2 || t.size() == 3) << t.size();
    flat.insert(flat.end(), t.begin(), t.end());
  }
  EXPECT_EQ(flat, pending);
  EXPECT_EQ(slurm_tasks({3, 5}), (std::vector<std::vector<std::size_t>>{{3}, {5}}));
  EXPECT_TRUE(slurm_tasks({}).empty());
}

TEST(SweepSlurm, TimeLimitsAndPartitions) {
  for (const char* ok : {"30", "30:00", "1:30:00", "2-12", "2-12:30", "2-12:30:15", "0:05", "1440"})
    EXPECT_EQ(slurm_time_error(ok), "") << ok;
  for (const char* bad : {"", "1h", "1:2", "1:30:0", "1:60", "1:2:3:4", "-5", "2-", "a-1", "0", "0:00:00", "1 0", "30\n#SBATCH --x"})
    EXPECT_NE(slurm_time_error(bad), "") << bad;
  EXPECT_EQ(slurm_partition_error("gpu-a100,debug"), "");
  EXPECT_NE(slurm_partition_error("debug\n#SBATCH --x"), "");
  EXPECT_NE(slurm_partition_error(""), "");
}

namespace {
// A tiny GUPS grid (each run takes ~50 ms) for the end-to-end sweeps.
void write_tiny_sweep(const fs::path& dir, const std::string& extra_policy = "") {
  write_file(dir / "sweep.toml", "configs = [\"" + std::string(NUMASIM_SOURCE_DIR) +
                                     "/configs/workloads/gups.toml\"]\n"
                                     "args = [\"--set\", \"workload[0].table_size=\\\"1MiB\\\"\"]\n"
                                     "[grid]\n\"workload[0].policy\" = [\"local\", \"interleave:0-1\"" +
                                     extra_policy +
                                     "]\n\"workload[0].updates\" = [1000, 2000]\n"
                                     "[collect]\nsim_seconds = \"sim.simulated_seconds\"\nhit = \"vmstat.numa_hit\"\n"
                                     "interleave = \"vmstat.numa_interleave\"\n");
}

// PATH with the fake Slurm commands first.
std::string fake_slurm_env(const fs::path& dir) {
  fs::create_directories(dir / "bin");
  write_file(dir / "bin" / "sbatch", kFakeSbatch, true);
  write_file(dir / "bin" / "squeue", kFakeSqueue, true);
  write_file(dir / "bin" / "scontrol", kFakeScontrol, true);
  return "PATH='" + (dir / "bin").string() + "':$PATH FAKE_SLURM_LOG='" + (dir / "sbatch.log").string() + "'";
}
}  // namespace

TEST(SweepCli, SlurmAndLocalSweepsWriteTheSameCsvAndARerunSubmitsNothing) {
  TempDir dir("sweep_cli_slurm");
  write_tiny_sweep(dir.path);
  std::string env = fake_slurm_env(dir.path);
  Result local = run_numasim(dir.path, "sweep sweep.toml -j 2 --work-dir local --out local.csv");
  ASSERT_EQ(local.status, 0) << local.err;
  std::string local_csv = slurp(dir.path / "local.csv");
  EXPECT_EQ(std::count(local_csv.begin(), local_csv.end(), '\n'), 5) << local_csv;

  // Dry run: the script, no submission, no CSV.
  Result dry = run_numasim(dir.path, "sweep sweep.toml --slurm-dry-run --array-limit 2 --work-dir slurm --out slurm.csv", env);
  ASSERT_EQ(dry.status, 0) << dry.err;
  EXPECT_FALSE(fs::exists(dir.path / "sbatch.log"));
  EXPECT_FALSE(fs::exists(dir.path / "slurm.csv"));
  std::string script = slurp(dir.path / "slurm" / "sweep.sbatch");
  EXPECT_NE(script.find("\n#SBATCH --array=0-3%2\n"), std::string::npos) << script;
  EXPECT_NE(dry.err.find("not submitted (--slurm-dry-run)"), std::string::npos) << dry.err;

  Result slurm = run_numasim(dir.path, "sweep sweep.toml --slurm --array-limit 2 --work-dir slurm --out slurm.csv", env);
  ASSERT_EQ(slurm.status, 0) << slurm.err;
  EXPECT_EQ(slurp(dir.path / "sbatch.log"), "--parsable " + (dir.path / "slurm" / "sweep.sbatch").string() + "\n");
  EXPECT_NE(slurm.err.find("submitted job array 42 (4 points in 4 tasks"), std::string::npos) << slurm.err;
  EXPECT_EQ(slurp(dir.path / "slurm.csv"), local_csv);

  // Every result exists: nothing submitted, the same CSV.
  fs::remove(dir.path / "sbatch.log");
  Result again = run_numasim(dir.path, "sweep sweep.toml --slurm --work-dir slurm --out again.csv", env);
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_FALSE(fs::exists(dir.path / "sbatch.log"));
  EXPECT_NE(again.err.find("4 of 4 points have results"), std::string::npos) << again.err;
  EXPECT_EQ(slurp(dir.path / "again.csv"), local_csv);
  // A local rerun in the Slurm work directory reuses the same results.
  Result local_again = run_numasim(dir.path, "sweep sweep.toml --work-dir slurm --out local_again.csv");
  ASSERT_EQ(local_again.status, 0) << local_again.err;
  EXPECT_EQ(slurp(dir.path / "local_again.csv"), local_csv);
}

TEST(SweepCli, FailedAndLostSlurmTasksAreReportedWithoutHidingTheOthers) {
  TempDir dir("sweep_cli_slurm_fail");
  write_tiny_sweep(dir.path, ", \"nonsense\"");  // points 4, 5 fail: an unknown policy
  // Task 1 (point 1) is lost: Slurm says it timed out.
  std::string env = fake_slurm_env(dir.path) + " FAKE_SLURM_LOSE=1";
  Result r = run_numasim(dir.path, "sweep sweep.toml --slurm --work-dir w --out out.csv", env);
  EXPECT_EQ(r.status, 1) << r.err;
  std::string csv = slurp(dir.path / "out.csv");
  std::istringstream lines(csv);
  std::vector<std::string> rows;
  for (std::string l; std::getline(lines, l);) rows.push_back(l);
  ASSERT_EQ(rows.size(), 7u) << csv;
  const std::string w = (dir.path / "w").string();
  EXPECT_NE(rows[1].find(",local,1000,ok,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find(",local,2000,failed: no result from Slurm array task 42_1 (TIMEOUT); output " + w +
                         "/slurm-42_1.out,,,"),
            std::string::npos)
      << rows[2];
  EXPECT_NE(rows[3].find(",interleave:0-1,1000,ok,"), std::string::npos) << rows[3];
  EXPECT_NE(rows[4].find(",interleave:0-1,2000,ok,"), std::string::npos) << rows[4];
  EXPECT_NE(rows[5].find(",nonsense,1000,failed: exit code 2; log " + w + "/run_4.log: 1 configuration error,,,"),
            std::string::npos)
      << rows[5];
  // The final report carries the failed run's stderr.
  EXPECT_NE(r.err.find("run 4 failed ("), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown policy mode \"nonsense\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 of 6 runs failed"), std::string::npos) << r.err;
  // While the earlier job array is still queued, a rerun refuses to submit another.
  Result busy = run_numasim(dir.path, "sweep sweep.toml --slurm --work-dir w", env + " FAKE_SLURM_RUNNING=1");
  EXPECT_EQ(busy.status, 1) << busy.err;
  EXPECT_NE(busy.err.find("job array 42 of an earlier sweep in " + w + " is still queued or running"),
            std::string::npos)
      << busy.err;
  // A rerun submits only the three points without results.
  Result again = run_numasim(dir.path, "sweep sweep.toml --slurm-dry-run --work-dir w", env);
  EXPECT_EQ(again.status, 0) << again.err;
  std::string script = slurp(dir.path / "w" / "sweep.sbatch");
  EXPECT_NE(script.find("#SBATCH --array=0-2\n"), std::string::npos) << script;
  EXPECT_NE(script.find("  0)\n    point 1 run "), std::string::npos) << script;
  EXPECT_NE(script.find("  2)\n    point 5 run "), std::string::npos) << script;
}

TEST(SweepCli, UsageErrorsExit2WithAClearMessage) {
  TempDir dir("sweep_cli_errors");
  write_tiny_sweep(dir.path);
  auto expect_usage = [&](const std::string& args, const std::string& message, const std::string& env = "") {
    Result r = run_numasim(dir.path, args, env);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(dir.path / "sweep-runs")) << args;
  };
  expect_usage("sweep sweep.toml --slurm --time 1h", "--time \"1h\": expected minutes, minutes:seconds");
  expect_usage("sweep sweep.toml --slurm-dry-run --array-limit 0", "--array-limit: expected at least 1");
  expect_usage("sweep sweep.toml --slurm --partition 'a b'", "--partition \"a b\": partition names are");
  expect_usage("sweep sweep.toml --time 30", "--time applies to --slurm (or --slurm-dry-run) only");
  expect_usage("sweep sweep.toml --slurm -j 4", "with --slurm use --array-limit K");
  expect_usage("sweep sweep.toml -j 0", "-j: expected parallel runs in [1, 256], got 0");
  // Slurm's client commands missing (a PATH without them).
  TempDir empty("sweep_cli_nopath");
  expect_usage("sweep sweep.toml --slurm", "--slurm needs the Slurm command `sbatch`, which is not in PATH",
               "PATH='" + empty.path.string() + "'");
  // --work-dir naming a file.
  write_file(dir.path / "afile", "x");
  expect_usage("sweep sweep.toml --work-dir afile", "--work-dir \"afile\" is a file, not a directory");
  // A grid of 10^9 points and a bad [collect] path are located errors.
  std::string big = "configs = [\"x.toml\"]\n[grid]\n";
  for (char k = 'a'; k < 'a' + 9; ++k) big += std::string(1, k) + " = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  write_file(dir.path / "big.toml", big);
  expect_usage("sweep big.toml", "big.toml:2:1: error: the sweep expands to 1000000000 points");
  write_file(dir.path / "badpath.toml", "configs = [\"x.toml\"]\n[collect]\nhit = \"nodes[0].numa_hit\"\n");
  expect_usage("sweep badpath.toml", "badpath.toml:3:7: error: collect.hit: bad JSON path");
  fs::create_directories(dir.path / "adir.toml");
  expect_usage("sweep adir.toml", "adir.toml: error: is a directory, not a sweep file");
}
