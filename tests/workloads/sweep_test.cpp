// Sweep files: parsing and its errors, grid expansion, a real parallel run of
// a fake numasim (a /bin/sh script) with one failing point, the CSV, and the
// JSON path lookup the figure columns use.
#include "workloads/sweep.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/json_path.h"

using namespace numasim::workloads;

namespace {
const char* kSweep =
    "configs = [\"a.toml\", \"/abs/b.toml\"]\n"
    "jobs = 3\n"
    "[grid]\n"
    "\"workload[0].policy\" = [\"local\", \"bind:1\"]\n"
    "\"workload[0].threads\" = [1, 2, 4]\n"
    "[collect]\n"
    "secs = \"sim.simulated_seconds\"\n"
    "hit = \"nodes.1.numastat.numa_hit\"\n";

std::string sweep_error(const std::string& text) {
  try {
    parse_sweep_text(text, "s.toml", "/d");
  } catch (const SweepError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(JsonLookup, FollowsObjectsAndArrays) {
  std::string j = R"({"sim": {"simulated_seconds": 0.0125, "name": "a \"b\""},
    "nodes": [{"numastat": {"numa_hit": 10}}, {"numastat": {"numa_hit": 42, "x": [1, {"y": null}]}}],
    "ok": true})";
  EXPECT_EQ(json_lookup(j, "sim.simulated_seconds"), "0.0125");
  EXPECT_EQ(json_lookup(j, "sim.name"), "a \"b\"");
  EXPECT_EQ(json_lookup(j, "nodes.1.numastat.numa_hit"), "42");
  EXPECT_EQ(json_lookup(j, "nodes.1.numastat.x.1.y"), "null");
  EXPECT_EQ(json_lookup(j, "ok"), "true");
  EXPECT_EQ(json_lookup(j, "nodes.2.numastat"), std::nullopt);
  EXPECT_EQ(json_lookup(j, "nodes.0"), std::nullopt);  // an object, not a scalar
  EXPECT_EQ(json_lookup(j, "sim.missing"), std::nullopt);
  EXPECT_EQ(json_lookup("{\"a\": [1, 2", "a.1"), "2");
  EXPECT_EQ(json_lookup("{\"a\": [1, 2", "a.2"), std::nullopt);
}

TEST(Sweep, ParsesAndExpandsTheCartesianProduct) {
  SweepSpec s = parse_sweep_text(kSweep, "s.toml", "/d");
  EXPECT_EQ(s.configs, (std::vector<std::string>{"/d/a.toml", "/abs/b.toml"}));
  EXPECT_EQ(s.jobs, 3);
  ASSERT_EQ(s.grid.size(), 2u);
  EXPECT_EQ(s.grid[0].first, "workload[0].policy");  // file order
  EXPECT_EQ(s.grid[0].second, (std::vector<std::string>{"\"local\"", "\"bind:1\""}));
  EXPECT_EQ(s.grid[1].second, (std::vector<std::string>{"1", "2", "4"}));
  auto points = expand_sweep(s);
  ASSERT_EQ(points.size(), 2u * 2 * 3);
  EXPECT_EQ(points[0].config, "/d/a.toml");
  EXPECT_EQ(points[1].sets[1].second, "2");  // last key fastest
  EXPECT_EQ(points[3].sets[0].second, "\"bind:1\"");
  EXPECT_EQ(points[6].config, "/abs/b.toml");
  EXPECT_EQ(points[11].index, 11u);
  EXPECT_EQ(points[4].command({"--sample", "1us"}, "/t/4.json"),
            (std::vector<std::string>{"run", "/d/a.toml", "--set", "workload[0].policy=\"bind:1\"", "--set",
                                      "workload[0].threads=2", "--sample", "1us", "--json", "/t/4.json", "--quiet"}));
  // No grid: one run per configuration.
  EXPECT_EQ(expand_sweep(parse_sweep_text("configs = [\"x.toml\"]\n", "s", "")).size(), 1u);
}

TEST(Sweep, BadFilesNameTheirPosition) {
  EXPECT_EQ(sweep_error("jobs = 2\n"), "s.toml: error: missing required key 'configs'\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\n[grid]\nx = []\n"),
            "s.toml:3:5: error: grid.x: expected a non-empty array of values\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\njbos = 2\n"),
            "s.toml:2:8: error: unknown key 'jbos'; valid keys are: args collect configs grid jobs\n");
  EXPECT_EQ(sweep_error("configs = [\"a\"]\n[collect]\nx = 3\n"),
            "s.toml:3:5: error: collect.x: expected a dotted JSON path string, e.g. \"sim.simulated_seconds\"\n");
  EXPECT_NE(sweep_error("configs = [\n").find("s.toml:"), std::string::npos);
}

TEST(Sweep, RunsPointsInParallelAndReportsAFailureWithoutStoppingTheOthers) {
  auto dir = std::filesystem::temp_directory_path() / ("numasim_wl_sweep_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // A fake numasim: writes JSON computed from its --set values; fails for threads=4.
  std::string fake = (dir / "fake_numasim.sh").string();
  {
    std::ofstream f(fake);
    f << "#!/bin/sh\n"
         "# args: run CONFIG [--set k=v]... --json PATH --quiet\n"
         "[ \"$1\" = run ] || { echo \"expected run, got $1\" >&2; exit 9; }\n"
         "shift; cfg=$1; shift; threads=0; json=''\n"
         "while [ $# -gt 0 ]; do\n"
         "  case \"$1\" in\n"
         "    --set) case \"$2\" in workload*threads=*) threads=${2##*=};; esac; shift 2;;\n"
         "    --json) json=$2; shift 2;;\n"
         "    *) shift;;\n"
         "  esac\n"
         "done\n"
         "if [ \"$threads\" = 4 ]; then echo \"error: too many threads for $cfg\" >&2; exit 3; fi\n"
         "echo \"{\\\"sim\\\": {\\\"simulated_seconds\\\": 0.$threads}, \\\"cfg\\\": \\\"$cfg\\\"}\" > \"$json\"\n";
  }
  ::chmod(fake.c_str(), 0755);
  SweepSpec s = parse_sweep_text(
      "configs = [\"a.toml\"]\n[grid]\npolicy = [\"local\", \"bind:1\"]\n\"workload[0].threads\" = [1, 2, 4]\n"
      "[collect]\nsecs = \"sim.simulated_seconds\"\ncfg = \"cfg\"\nmissing = \"sim.nothing\"\n",
      "s.toml", dir.string());
  std::ostringstream progress;
  SweepOptions o;
  o.binary = fake;
  o.jobs = 2;
  o.work_dir = (dir / "runs").string();
  o.progress = &progress;
  SweepResult r = run_sweep(s, o);
  ASSERT_EQ(r.runs.size(), 6u);
  EXPECT_EQ(r.failed, 2u);
  std::string a = (dir / "a.toml").string();
  std::string log2 = (dir / "runs" / "run_2.log").string(), log5 = (dir / "runs" / "run_5.log").string();
  EXPECT_EQ(r.csv,
            "run,config,policy,workload[0].threads,status,secs,cfg,missing\n"
            "0," +
                a + ",local,1,ok,0.1," + a +
                ",\n"
                "1," +
                a + ",local,2,ok,0.2," + a +
                ",\n"
                "2," +
                a + ",local,4,failed: exit code 3; log " + log2 + ": error: too many threads for " + a +
                ",,,\n"
                "3," +
                a + ",bind:1,1,ok,0.1," + a +
                ",\n"
                "4," +
                a + ",bind:1,2,ok,0.2," + a +
                ",\n"
                "5," +
                a + ",bind:1,4,failed: exit code 3; log " + log5 + ": error: too many threads for " + a + ",,,\n");
  EXPECT_NE(progress.str().find("[6/6]"), std::string::npos) << progress.str();
  EXPECT_NE(progress.str().find("FAILED: run 2 "), std::string::npos) << progress.str();
  EXPECT_THROW(run_sweep(s, SweepOptions{(dir / "nope").string(), 1, o.work_dir, nullptr}), SweepError);
  std::filesystem::remove_all(dir);
}
