// Scripted scenarios: steps run in order against the fake kernel, each call's
// result recorded as JSON (errno by name), $names, and configuration errors.
#include <gtest/gtest.h>

#include "common/config.h"
#include "common/topology.h"
#include "tests/workloads/built_workloads.h"
#include "tests/workloads/fake_thread_context.h"
#include "workloads/script_expr.h"
#include "workloads/workload_factory.h"

using namespace numasim;
using namespace numasim::workloads;

namespace {
using wltest::Built;
Built build(const std::string& steps) {
  return wltest::build_config(std::string(wltest::kTwoNodeMachine) + "[[workload]]\nkind = \"script\"\n" + steps,
                              "s.toml");
}
}  // namespace

TEST(ScriptExpr, OperatorsConstantsSizesAndNames) {
  std::string why;
  std::vector<std::string> names = {"buf", "n"};
  std::vector<std::int64_t> slots = {0x10000, 3};
  auto e = [&](const char* t) {
    auto x = ScriptExpr::compile(t, names, &why);
    EXPECT_TRUE(x) << why;
    return x ? x->eval(slots) : -999;
  };
  EXPECT_EQ(e("$buf+4096"), 0x11000);
  EXPECT_EQ(e("$buf + $n*PAGE_SIZE - 8"), 0x10000 + 3 * 4096 - 8);
  EXPECT_EQ(e("PROT_READ|PROT_WRITE"), 3);
  EXPECT_EQ(e("MAP_PRIVATE|MAP_ANONYMOUS"), 0x22);
  EXPECT_EQ(e("8KiB"), 8192);
  EXPECT_EQ(e("0x1000|1"), 0x1001);
  EXPECT_EQ(e("2*2+1|8"), 13);
  EXPECT_EQ(e("0x7fffffffffffffff+0"), INT64_MAX);
  EXPECT_FALSE(ScriptExpr::compile("$nope", names, &why));
  EXPECT_EQ(why, "in \"$nope\": $nope is not bound by an earlier step (as = \"nope\")");
  EXPECT_FALSE(ScriptExpr::compile("PROT_RAED", names, &why));
  EXPECT_FALSE(ScriptExpr::compile("4096+", names, &why));
  EXPECT_EQ(why, "in \"4096+\": expression ends with an operator");
  EXPECT_FALSE(ScriptExpr::compile("12XB", names, &why));
}

TEST(Script, CallsRunInOrderAndTheirResultsAreRecorded) {
  Built b = build(
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"touch\"\naddr = \"$buf\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"mbind\"\naddr = \"$buf+4096\"\nlen = \"4096\"\nmode = \"MPOL_BIND\"\n"
      "[[workload.step]]\ncall = \"mbind\"\naddr = \"$buf+4096\"\nlen = \"4096\"\npolicy = \"bind:1\"\n"
      "flags = \"MPOL_MF_MOVE|MPOL_MF_STRICT\"\n"
      "[[workload.step]]\ncall = \"set_mempolicy\"\npolicy = \"interleave:0-1\"\n"
      "[[workload.step]]\ncall = \"get_mempolicy\"\nas = \"mode\"\n"
      "[[workload.step]]\ncall = \"move_pages\"\naddr = \"$buf\"\ncount = \"2\"\nnodes = \"1\"\n"
      "[[workload.step]]\ncall = \"read_counter\"\ncounter = \"vmstat.pgfault\"\n"
      "[[workload.step]]\ncall = \"munmap\"\naddr = \"$buf+1\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"munmap\"\naddr = \"$buf\"\nlen = \"8KiB\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  // The touches ran before the mbind (program order): two pages, stores.
  ASSERT_EQ(ctx.calls.size(), 8u);  // read_counter is not a system call
  EXPECT_EQ(ctx.calls[1].name, "mbind");
  EXPECT_EQ(ctx.calls[1].ops_before, 2u);
  EXPECT_EQ(ctx.calls[2].flags, 3u);
  long buf = ctx.calls[0].ret;
  std::string j = b.specs[0].results->to_json(false);
  EXPECT_EQ(j,
            "{\"name\":\"script0\",\"kind\":\"script\",\"counters\":{},\"errors\":[],\"calls\":["
            "{\"call\":\"mmap\",\"ret\":" +
                std::to_string(buf) +
                "},"
                "{\"call\":\"touch\",\"ret\":0,\"bytes\":8192},"
                "{\"call\":\"mbind\",\"ret\":-1,\"errno\":\"EINVAL\"},"
                "{\"call\":\"mbind\",\"ret\":0},"
                "{\"call\":\"set_mempolicy\",\"ret\":0},"
                "{\"call\":\"get_mempolicy\",\"ret\":0,\"mode\":3,\"nodes\":[0, 1]},"
                "{\"call\":\"move_pages\",\"ret\":0,\"status\":[1, 1]},"
                "{\"call\":\"read_counter\",\"ret\":-1,\"errno\":\"ENOSYS\",\"counter\":\"vmstat.pgfault\"},"
                "{\"call\":\"munmap\",\"ret\":-1,\"errno\":\"EINVAL\"},"
                "{\"call\":\"munmap\",\"ret\":0}]}");
}

TEST(Script, ReadCounterUsesTheRunsReader) {
  Built b = build(
      "[[workload.step]]\ncall = \"read_counter\"\ncounter = \"node1.numa_hit\"\nas = \"hits\"\n"
      "[[workload.step]]\ncall = \"read_counter\"\ncounter = \"nonsense\"\n"
      "[[workload.step]]\ncall = \"compute\"\ncycles = \"$hits*2\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  *b.specs[0].counter_reader = [](const std::string& name) -> std::optional<std::int64_t> {
    if (name == "node1.numa_hit") return 21;
    return std::nullopt;
  };
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  const auto& calls = b.specs[0].results->calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].ret, 21);
  EXPECT_EQ(calls[1].ret, -2);  // ENOENT
  ASSERT_EQ(ctx.ops.size(), 1u);
  EXPECT_EQ(ctx.ops[0].count, 42u);
}

TEST(Script, BadStepsAreConfigurationErrorsWithPositions) {
  Built b = build(
      "[[workload.step]]\ncall = \"mmapp\"\n"                   // lines 11-12 (1-10: machine, workload)
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\n"      // 13-15
      "[[workload.step]]\ncall = \"touch\"\naddr = \"$bfu\"\n"  // 16-18
      "[[workload.step]]\ncall = \"mprotect\"\naddr = \"$buf\"\nlen = 4096\nprot = \"PROT_READ\"\n"   // 19-23
      "[[workload.step]]\naddr = \"0\"\n"                                                             // 24-25
      "[[workload.step]]\ncall = \"munmap\"\naddr = \"$buf\"\nlen = \"1\"\nprot = \"PROT_READ\"\n");  // 26-30
  EXPECT_NE(b.errors.find("s.toml:12:8: error: workload[0].step[0].call: expected one of \"mmap\", \"munmap\""),
            std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find(
                "s.toml:13:1: error: missing required key 'len' in [workload[0].step[1]] (length, required by mmap)"),
            std::string::npos)
      << b.errors;
  EXPECT_NE(
      b.errors.find("s.toml:18:8: error: workload[0].step[2].addr: in \"$bfu\": $bfu is not bound by an earlier step"),
      std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find("s.toml:22:7: error: workload[0].step[3].len: expected a string, got the integer 4096"),
            std::string::npos)
      << b.errors;
  EXPECT_NE(b.errors.find("missing required key 'call' in [workload[0].step[4]]"), std::string::npos) << b.errors;
  EXPECT_EQ(b.errors.find("empty expression"), std::string::npos) << b.errors;  // one error per bad value
  EXPECT_EQ(b.errors.find("step[0]] (cycles"), std::string::npos) << b.errors;  // nothing more about an unknown call
  EXPECT_NE(b.errors.find("s.toml:30:1: error: unknown key 'prot' in [workload[0].step[5]]"), std::string::npos)
      << b.errors;
}

// Issue 17: script arithmetic overflowed 64-bit integers silently. A constant
// expression that overflows is a configuration error; one that overflows with a
// $name's value is a script error located at the expression, and the script stops.
TEST(ScriptExpr, OverflowIsAnError) {
  std::string why;
  std::vector<std::string> names = {"big"};
  EXPECT_FALSE(ScriptExpr::compile("0x7fffffffffffffff+1", names, &why));
  EXPECT_EQ(why, "in \"0x7fffffffffffffff+1\": arithmetic overflows 64-bit signed integers");
  EXPECT_FALSE(ScriptExpr::compile("0xffffffffffff*0xffffffffffff", names, &why));
  EXPECT_FALSE(ScriptExpr::compile("0-0x7fffffffffffffff-2", names, &why));
  EXPECT_FALSE(ScriptExpr::compile("9000000TiB", names, &why));
  EXPECT_EQ(why, "in \"9000000TiB\": \"9000000TiB\" is too large for a 64-bit signed integer");
  auto e = ScriptExpr::compile("$big*2", names, &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->try_eval({INT64_MAX / 2}), INT64_MAX - 1);
  EXPECT_FALSE(e->try_eval({INT64_MAX / 2 + 1}));
}

TEST(Script, OverflowAtRunTimeIsALocatedScriptError) {
  Built b = build(
      "[[workload.step]]\ncall = \"mmap\"\nas = \"buf\"\nlen = \"8KiB\"\n"                  // 11-14
      "[[workload.step]]\ncall = \"touch\"\naddr = \"$buf*0x7fffffffffff\"\nlen = \"8\"\n"  // 15-18
      "[[workload.step]]\ncall = \"munmap\"\naddr = \"$buf\"\nlen = \"8KiB\"\n"
      "[[workload.step]]\ncall = \"mmap\"\nlen = \"0x7fffffffffffffff+1\"\n");  // 23-25
  EXPECT_NE(b.errors.find("s.toml:25:7: error: workload[0].step[3].len: in \"0x7fffffffffffffff+1\": arithmetic "
                          "overflows 64-bit signed integers"),
            std::string::npos)
      << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  ASSERT_EQ(ctx.calls.size(), 1u);  // the mmap; nothing after the overflowing step
  ASSERT_EQ(b.specs[0].results->errors().size(), 1u);
  EXPECT_EQ(b.specs[0].results->errors()[0],
            "s.toml:17:8: workload[0].step[1].addr: in \"$buf*0x7fffffffffff\": arithmetic overflows 64-bit signed "
            "integers");
}

// Issue 17: maxnode larger than the node list made the kernel's get_nodes read
// past the mask buffer. The script's mask covers maxnode bits, zero past the list
// (as a user's buffer of that size would), so the extra bits read are zero.
TEST(Script, MaxnodeBeyondTheNodeListReadsZeroBits) {
  Built b = build(
      "[[workload.step]]\ncall = \"set_mempolicy\"\nmode = \"MPOL_BIND\"\nnodes = \"1\"\nmaxnode = \"32769\"\n"
      "[[workload.step]]\ncall = \"set_mempolicy\"\nmode = \"MPOL_BIND\"\nnodes = \"0\"\nmaxnode = \"2\"\n");
  ASSERT_TRUE(b.errors.empty()) << b.errors;
  auto src = b.specs[0].threads[0].make_source();
  wltest::FakeThreadContext ctx;
  wltest::run_source(*src, ctx);
  ASSERT_EQ(ctx.calls.size(), 2u);
  EXPECT_EQ(ctx.calls[0].nodes, std::vector<int>{1});
  EXPECT_EQ(ctx.calls[0].ret, 0);
  EXPECT_EQ(ctx.calls[1].nodes, std::vector<int>{0});
}
