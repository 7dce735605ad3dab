// Issue 17 (hardening), as a user meets it on the command line: every bad number
// or path is a located configuration error or a usage error with exit status 2,
// never a hang, a crash or a silent default.
#include <gtest/gtest.h>

#include "run_numasim.h"

using namespace numasim_cli_test;

TEST(Hardening, NanParameterIsALocatedErrorNotAHang) {
  Result r = run_numasim("validate --set coherence.directory_coverage=nan");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--set coherence.directory_coverage=nan: error: coherence.directory_coverage: expected a "
                       "finite number"),
            std::string::npos)
      << r.err;
  r = run_numasim("validate " + source_path("configs/workloads/zipf.toml") + " --set 'workload[0].alpha=inf'");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("workload[0].alpha: expected a finite number"), std::string::npos) << r.err;
}

TEST(Hardening, SampleIntervalHasALowerBound) {
  Result r = run_numasim("run " + source_path("configs/workloads/gups.toml") + " --sample 1ps --quiet");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--sample: expected a time of at least 1us, got 1ps"), std::string::npos) << r.err;
}

TEST(Hardening, SixteenTiBPerNodeIsALocatedConfigurationError) {
  Result r = run_numasim("validate --set machine.memory_per_node=16TiB");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--set machine.memory_per_node=16TiB: error: machine.memory_per_node: node 0's memory would "
                       "end at 0B + 16TiB, beyond the simulated physical address space"),
            std::string::npos)
      << r.err;
  r = run_numasim("validate " + source_path("configs/cxl-tiered.toml") + " --set 'node[1].memory=16TiB'");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--set node[1].memory=16TiB: error: node[1].memory: node 1's memory would end at 1GiB + 16TiB"),
            std::string::npos)
      << r.err;
}

TEST(Hardening, DirectoryAsConfigurationIsAnError) {
  Result r = run_numasim("validate " + source_path("configs"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("configs: error: is a directory, not a configuration file"), std::string::npos) << r.err;
}

namespace {
std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("numasim_h_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}
}  // namespace

// Issue 17: `trace-convert X X` truncated its input and reported success.
TEST(Hardening, TraceConvertRefusesToOverwriteItsInput) {
  auto dir = scratch_dir("tc");
  const std::string text = slurp(source_path("tests/workloads/data/tiny_main.lackey"));
  ASSERT_GT(text.size(), 100u);
  auto in = dir / "in.lackey";
  std::ofstream(in) << text;
  std::filesystem::create_symlink(in, dir / "sym.lackey");
  std::filesystem::create_hard_link(in, dir / "hard.lackey");
  for (const char* out : {"in.lackey", "sym.lackey", "hard.lackey"}) {
    Result r = run_numasim("trace-convert " + in.string() + " " + (dir / out).string());
    EXPECT_EQ(r.status, 2) << out;
    EXPECT_NE(r.err.find("error: the output is the input file"), std::string::npos) << out << ": " << r.err;
    EXPECT_EQ(slurp(in.string()), text) << out;
  }
  Result ok = run_numasim("trace-convert " + in.string() + " " + (dir / "out.trace").string());
  EXPECT_EQ(ok.status, 0) << ok.err;
  std::filesystem::remove_all(dir);
}

// Issue 17: a directory given as a trace file was read as an empty trace.
TEST(Hardening, DirectoryAsTraceFileIsAnError) {
  auto dir = scratch_dir("td");
  Result r = run_numasim("trace-convert " + dir.string() + " " + (dir / "out.trace").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(dir.string() + ": error: is a directory, not a trace file"), std::string::npos) << r.err;
  r = run_numasim("validate " + source_path("configs/workloads/trace.toml") + " --set 'workload[0].file=" +
                  dir.string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("workload[0].file: " + dir.string() + ": error: is a directory, not a trace file"),
            std::string::npos)
      << r.err;
  std::filesystem::remove_all(dir);
}

// Issue 17: the documented madvise_churn option advice = "pageout" always failed
// (MADV_PAGEOUT was EINVAL); Linux 6.1 accepts it.
TEST(Hardening, MadviseChurnPageoutRuns) {
  Result r = run_numasim("run " + source_path("configs/workloads/madvise_churn.toml") +
                         " --set 'workload[0].advice=pageout' --quiet");
  EXPECT_EQ(r.status, 0) << r.err;
}

// Issue 17: the CPU table and the "served by" line disagreed on L1 misses (the
// memory_hog example showed 93.1% L1 misses and 94.9% of accesses served by L1).
// One definition: the L1D's, over every access reaching it.
TEST(Hardening, ReportsCpuTableAndServedByAgreeOnL1Misses) {
  Result r = run_numasim("run " + source_path("configs/workloads/memory_hog.toml"));
  const auto cpus = r.out.find("\nCPUs\n");
  ASSERT_NE(cpus, std::string::npos) << r.out;
  const auto row = r.out.find("\n  0 ", cpus);  // the hog runs on CPU 0 alone
  ASSERT_NE(row, std::string::npos) << r.out;
  std::istringstream in(r.out.substr(row));
  int cpu = -1;
  double accesses = 0, miss_pct = -1;
  in >> cpu >> accesses >> miss_pct;
  const auto served = r.out.find("Memory accesses served by\n  L1 ");
  ASSERT_NE(served, std::string::npos) << r.out;
  const double l1_pct = std::stod(r.out.substr(served + 31));
  EXPECT_GT(miss_pct, 50.0) << r.out;  // the kernel clearing the hog's pages
  EXPECT_NEAR(l1_pct, 100.0 - miss_pct, 0.11) << r.out;
}
