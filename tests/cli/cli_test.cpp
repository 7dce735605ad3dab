// The numasim command line as a user meets it: exit codes, --help on every
// command, configuration errors with their exact messages, and the shipped
// configurations validating cleanly.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/cli/run_numasim.h"

namespace {

using numasim_cli_test::Result;
using numasim_cli_test::slurp;

Result numasim(const std::string& args) { return numasim_cli_test::run_numasim(args); }

std::string config(const std::string& name) { return std::string(NUMASIM_SOURCE_DIR) + "/configs/" + name; }

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(Cli, NoArgumentsIsAUsageError) {
  Result r = numasim("");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("usage: numasim COMMAND"), std::string::npos) << r.err;
}

TEST(Cli, GlobalHelpListsCommands) {
  Result r = numasim("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* c : {"validate", "topology"}) EXPECT_NE(r.out.find(c), std::string::npos) << c;
}

TEST(Cli, EveryCommandHasHelp) {
  Result list = numasim("--help");
  std::istringstream in(list.out.substr(list.out.find("commands:")));
  std::string line;
  std::getline(in, line);
  int seen = 0;
  while (std::getline(in, line) && line.rfind("  ", 0) == 0) {
    std::string name = line.substr(2, line.find(' ', 2) - 2);
    Result r = numasim(name + " --help");
    EXPECT_EQ(r.status, 0) << name;
    EXPECT_NE(r.out.find("usage: numasim " + name), std::string::npos) << name << ": " << r.out;
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

TEST(Cli, UnknownCommandAndOptionAreUsageErrors) {
  EXPECT_EQ(numasim("frobnicate").status, 2);
  Result r = numasim("topology --frob");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown option --frob"), std::string::npos) << r.err;
  r = numasim("topology a.toml b.toml");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unexpected argument \"b.toml\""), std::string::npos) << r.err;
}

// Every machine configuration shipped in configs/ (each *.toml at its top level),
// so a new one is checked without being listed here.
TEST(Cli, ShippedConfigurationsValidateAndShowTopology) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(std::string(NUMASIM_SOURCE_DIR) + "/configs"))
    if (e.is_regular_file() && e.path().extension() == ".toml") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  ASSERT_GE(names.size(), 16u);
  for (const std::string& name : names) {
    Result v = numasim("validate " + config(name));
    EXPECT_EQ(v.status, 0) << name << ": " << v.err;
    EXPECT_NE(v.out.find("[machine]"), std::string::npos) << name;
    Result t = numasim("topology " + config(name));
    EXPECT_EQ(t.status, 0) << name << ": " << t.err;
    EXPECT_NE(t.out.find("node distances:"), std::string::npos) << name;
  }
}

TEST(Cli, TopologyOfTheCxlMachineHasACpuLessNode) {
  Result r = numasim("topology " + config("cxl-tiered.toml"));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("node 2 cpus:\nnode 2 size: 4096 MB\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  2:  14  24  10 \n"), std::string::npos) << r.out;
}

TEST(Cli, TopologyJson) {
  std::string json = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_topo.json");
  Result r = numasim("topology " + config("ring-4s.toml") + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.err;
  std::string text = slurp(json);
  EXPECT_NE(text.find("\"hops\""), std::string::npos) << text;
  EXPECT_NE(text.find("[\n      10,\n      16,\n      22,\n      16\n    ]"), std::string::npos) << text;
  std::filesystem::remove(json);
}

TEST(Cli, BrokenConfigurationGetsEveryErrorWithPosition) {
  std::string path = write_temp("broken.toml",
                                "[machine]\n"
                                "sockets = 2\n"
                                "cores_per_socket = \"four\"\n"
                                "memory_per_node = \"1 GiB\"\n"
                                "socket = 3\n"
                                "[[link]]\n"
                                "nodes = [0, 1]\n"
                                "latency = 27\n"
                                "bandwidth = \"34.3GB/s\"\n");
  Result r = numasim("validate " + path);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(
      r.err.find(path +
                 ":3:20: error: machine.cores_per_socket: expected an integer in [1, 256], got the string \"four\""),
      std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":4:19: error: machine.memory_per_node: expected a size with a unit"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":5:1: error: unknown key 'socket' in [machine]; did you mean 'sockets'?"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(path + ":8:11: error: link[0].latency: expected a time with a unit"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("4 configuration errors"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "nothing is printed for a broken configuration";
  std::filesystem::remove(path);
}

TEST(Cli, SetOverridesAndInheritance) {
  std::string child =
      write_temp("child.toml", "base = \"" + config("default.toml") + "\"\n[machine]\ncores_per_socket = 3\n");
  Result r = numasim("topology " + child + " --set machine.memory_per_node=2GiB");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("node 1 cpus: 3 4 5\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("node 1 size: 2048 MB"), std::string::npos) << r.out;
  Result bad = numasim("validate " + child + " --set machine.sockts=4");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("unknown key 'machine.sockts'"), std::string::npos) << bad.err;
  std::filesystem::remove(child);
}

TEST(Cli, MissingConfigurationFile) {
  Result r = numasim("validate /nonexistent/x.toml");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("/nonexistent/x.toml: error: cannot open configuration file"), std::string::npos) << r.err;
}

TEST(Cli, RunWritesJsonAndTimeSeries) {
  auto dir = std::filesystem::temp_directory_path();
  std::string json = dir / (std::to_string(::getpid()) + "_run.json");
  std::string csv = dir / (std::to_string(::getpid()) + "_run.csv");
  Result r = numasim("run --quiet --json " + json + " --sample 10ms --csv " + csv);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "--quiet prints no report";
  std::string j = slurp(json);
  for (const char* key : {"\"version\": 1", "\"sim\"", "\"vmstat\"", "\"nodes\"", "\"meminfo_kb\"", "\"numastat\"",
                          "\"buddyinfo\"", "\"cpus\"", "\"memory_controllers\"", "\"links\"", "\"workloads\"",
                          "\"chase-remote\"", "\"killed\": false", "\"exit\": \"ok\"", "\"kernel_log\": []"})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  EXPECT_EQ(j.find("\"exit\": \"SIGSEGV\""), std::string::npos);
  std::string series = slurp(csv);
  EXPECT_EQ(series.rfind("time_us,node0.read_gbps,", 0), 0u) << series.substr(0, 200);
  EXPECT_GE(std::count(series.begin(), series.end(), '\n'), 9) << "one row per 10 ms of an ~88 ms run";
  std::filesystem::remove(json);
  std::filesystem::remove(csv);
}

TEST(Cli, RunReportsKernelThreadsThatRanPerCpuAndInJson) {
  // kcompactd<N> every 5 ms over the ~55-83 ms default run: each runs on its node's last CPU.
  std::string json = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_kthreads.json");
  Result r = numasim("run --set os.kthreads.kcompactd_interval=5ms --json " + json);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("faults kthread us\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  3              0 "), std::string::npos) << "CPU 3 ran only kcompactd1\n" << r.out;
  EXPECT_NE(r.out.find("Kernel threads that ran\n  name               cpu       runs      time us\n  kcompactd0         1 "),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("kswapd0"), std::string::npos) << "kswapd was never woken\n" << r.out;
  std::string j = slurp(json);
  for (const char* key : {"\"kthreads\": [", "\"name\": \"kswapd0\"", "\"name\": \"kcompactd1\",\n      \"pid\"",
                          "\"name\": \"kworker/u:flush\"", "\"core.kthread_time\": ", "\"core.kthread_runs\": 16"})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  std::filesystem::remove(json);
}

TEST(Cli, RunReportsAnOomKillTheWayLinuxDoes) {
  // The memory hog touches 1.25x its (here 64 MiB) node under MPOL_BIND: the OOM killer kills it.
  std::string json = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_oom.json");
  Result r = numasim("run " + config("workloads/memory_hog.toml") + " --set machine.memory_per_node=64MiB --json " + json);
  EXPECT_EQ(r.status, 1) << "a killed workload fails the run\n" << r.err;
  EXPECT_NE(r.out.find("oom-kill\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("SIGSEGV"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Kernel log\n  hog invoked oom-killer"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("oom-kill:constraint=CONSTRAINT_MEMORY_POLICY,nodemask=0,task=hog,pid=1,uid=0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Out of memory: Killed process 1 (hog) total-vm:65536kB, anon-rss:"), std::string::npos)
      << r.out;
  std::string j = slurp(json);
  for (const char* key : {"\"killed\": true", "\"exit\": \"oom-kill\"", "\"fault_addr\": ", "\"oom_kill\": {",
                          "\"constraint\": \"CONSTRAINT_MEMORY_POLICY\"", "\"total_vm_kb\": 65536",
                          "\"oom_kill\": 1,", "\"kernel_log\": [", "Out of memory: Killed process 1 (hog)"})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  std::filesystem::remove(json);
}

TEST(Cli, RunReportShowsTheNumaEffect) {
  Result r = numasim("run");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"chase-local", "chase-remote", "MemTotal", "numa_hit", "row hit", "n0_to_n1",
                        "references per host second"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(numasim("run --sample 0ns").status, 2);
  EXPECT_EQ(numasim("run --seed x").status, 2);
}

TEST(Cli, TracePrintsOneLinePerEventOfTheChosenSubsystems) {
  // The memory hog under MPOL_BIND faults page by page, goes down the allocator's
  // slow path when its node runs out and is OOM-killed: mm, alloc and dram events.
  Result r = numasim("run " + config("workloads/memory_hog.toml") +
                     " --set machine.memory_per_node=64MiB --quiet --trace mm,alloc");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(" mm: page_fault pid=1 addr=0x"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("write -> handled\n"), std::string::npos);
  EXPECT_NE(r.err.find(" alloc: alloc_slowpath order=0 gfp="), std::string::npos);
  EXPECT_NE(r.err.find(" alloc: oom_kill victim=1 (hog) invoker=1 "), std::string::npos);
  EXPECT_EQ(r.err.find(" dram: "), std::string::npos) << "dram was not asked for";
  // Every line starts with the simulated time and the CPU.
  std::size_t lines = 0, well_formed = 0;
  for (std::size_t pos = 0; pos < r.err.size();) {
    const std::size_t end = r.err.find('\n', pos);
    const std::string line = r.err.substr(pos, end - pos);
    ++lines;
    if (line.size() > 20 && line[0] == '[' && line.find(" us] cpu") != std::string::npos) ++well_formed;
    pos = end == std::string::npos ? r.err.size() : end + 1;
  }
  EXPECT_GT(lines, 1000u);
  EXPECT_EQ(well_formed, lines);

  Result quiet = numasim("run --quiet --trace dram --set workload[0].footprint=8MiB --set workload[1].footprint=8MiB");
  EXPECT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_NE(quiet.err.find("    - dram: node0 read 0x"), std::string::npos) << quiet.err.substr(0, 500);
  EXPECT_NE(quiet.err.find(" for node0 (local): done after "), std::string::npos) << quiet.err.substr(0, 500);
  EXPECT_EQ(quiet.err.find(" mm: "), std::string::npos);

  Result bad = numasim("run --trace mm,swapp");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--trace: unknown subsystem 'swapp'"), std::string::npos) << bad.err;
}

TEST(Cli, AMachineTheHardwareWalkerCannotRunIsAConfigurationError) {
  // The kernel builds 5-level tables, the hw walker walks 4 levels: refused with
  // its position instead of walking the wrong tables.
  std::string five = write_temp("la57.toml", "base = \"" + config("default.toml") + "\"\n[os]\npgtable_levels = 5\n");
  Result r = numasim("run " + five + " --quiet");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("la57.toml:3:18: error: os.pgtable_levels: 5-level paging (LA57) is not supported by the "
                       "hardware page walker yet; expected 4"),
            std::string::npos)
      << r.err;
  std::filesystem::remove(five);
}

TEST(Cli, VerifyModeRunsTheHogWithEveryPageCheckedAndSamplesReclaimColumns) {
  std::string dir = std::filesystem::temp_directory_path();
  std::string csv = dir + "/" + std::to_string(::getpid()) + "_verify.csv";
  std::string json = dir + "/" + std::to_string(::getpid()) + "_verify.json";
  Result r = numasim("run " + config("workloads/memory_hog.toml") +
                     " --set machine.memory_per_node=64MiB --set workload[0].node_fraction=0.5"
                     " --set workload[0].verify=true --set workload[0].reread_passes=2"
                     " --set workload[0].hot_fraction=0.25 --set workload[0].hot_passes=2 --sample 100us --csv " +
                     csv + " --json " + json);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  // 32 MiB = 8192 pages: written once, the hot quarter read and written twice more, all read twice.
  EXPECT_NE(r.out.find("Verify: 12288 stores replaced page tokens, 20480 loads checked them: all good"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("\nReclaim"), std::string::npos) << "no reclaim yet: no table";
  const std::string series = slurp(csv);
  const std::string header = series.substr(0, series.find('\n'));
  for (const char* col : {"node0.pgscan_kswapd_per_s", "node0.pgscan_direct_per_s", "node0.pgsteal_per_s",
                          "node0.allocstall_per_s", "node0.pswpin_per_s", "node0.pswpout_per_s",
                          "node1.pgmajfault_per_s", "node1.workingset_refault_anon_per_s", "node1.kswapd_cpu_share",
                          "node0.free_kb"})
    EXPECT_NE(header.find(col), std::string::npos) << col << " in " << header;
  const std::string j = slurp(json);
  for (const char* key : {"\"verify\"", "\"loads_checked\": 20480", "\"mismatches\": 0", "\"reclaim\"",
                          "\"pgscan_kswapd\": 0", "\"kswapd_time_ps\""})
    EXPECT_NE(j.find(key), std::string::npos) << key;
  std::filesystem::remove(csv);
  std::filesystem::remove(json);
}

// The first number after `"key": ` in a JSON report (-1: absent).
long long json_number(const std::string& j, const std::string& key) {
  const std::size_t at = j.find("\"" + key + "\": ");
  return at == std::string::npos ? -1 : std::stoll(j.substr(at + key.size() + 4));
}

TEST(Cli, SwapLetsTheBoundHogFinishWithEveryPageVerified) {
  // Issue 11's end-to-end run: 1.5 GiB bound to node 0 (1 GiB) with 2 GiB of NVMe
  // swap, written once and read back once, every token checked.
  const std::string json = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_swaphog.json");
  Result r = numasim("run " + config("workloads/memory_hog_swap.toml") + " --quiet --json " + json);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  const std::string j = slurp(json);
  EXPECT_GT(json_number(j, "pswpout"), 0) << "node 0 cannot hold the hog: it must swap";
  EXPECT_GT(json_number(j, "pswpin"), 0);
  EXPECT_GT(json_number(j, "pgscan_kswapd"), 0);
  EXPECT_EQ(json_number(j, "oom_kill"), 0);
  EXPECT_EQ(json_number(j, "loads_checked"), 393216) << "every page of 1.5 GiB read back";
  EXPECT_EQ(json_number(j, "mismatches"), 0);
  // Node 0 (the first node in the report) never went below its min watermark.
  const long long lowest = json_number(j, "min_free_kb"), wmark_min = json_number(j, "wmark_min_kb");
  EXPECT_GT(wmark_min, 0);
  EXPECT_GE(lowest, wmark_min) << "lowest MemFree of node 0 below its min watermark";
  EXPECT_EQ(j.find("Out of memory"), std::string::npos);
  std::filesystem::remove(json);
}

TEST(Cli, WithoutSwapTheSameHogIsOomKilledWithItsOomScoreAdj) {
  const std::string json = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_noswap.json");
  Result r = numasim("run " + config("workloads/memory_hog.toml") +
                     " --set workload[0].node_fraction=1.5 --set workload[0].verify=true"
                     " --set workload[0].reread_passes=1 --set workload[0].oom_score_adj=500 --json " + json);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.out.find("hog invoked oom-killer: order=0, oom_score_adj=500"), std::string::npos) << r.out;
  // total-vm: the 64 MiB chunks mapped when node 0 ran out.
  EXPECT_NE(r.out.find("Out of memory: Killed process 1 (hog) total-vm:1048576kB, anon-rss:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kB oom_score_adj:500\n"), std::string::npos) << r.out;
  const std::string j = slurp(json);
  EXPECT_EQ(json_number(j, "oom_kill"), 1);
  EXPECT_EQ(json_number(j, "pswpout"), 0);
  EXPECT_EQ(json_number(j, "mismatches"), 0);
  std::filesystem::remove(json);
  Result bad = numasim("run " + config("workloads/memory_hog.toml") + " --set workload[0].oom_score_adj=1001");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("oom_score_adj"), std::string::npos) << bad.err;
}

TEST(Cli, VerifyOnAKindWithoutVerifyModeIsALocatedError) {
  std::string path = write_temp("verify_kind.toml",
                                "[[workload]]\nkind = \"gups\"\nverify = true\n");
  Result r = numasim("run " + path);
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("verify_kind.toml:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("workload kind \"gups\" has no verify mode"), std::string::npos) << r.err;
  std::filesystem::remove(path);
}
