// Configuration documents: declared parameters, every error reported with its
// position, unknown keys with a suggestion, inheritance through `base`, and
// --set overrides.
#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace numasim;

namespace {
std::vector<std::string> errors_of(ConfigDocument& doc) {
  std::vector<std::string> out;
  try {
    doc.finish();
  } catch (const ConfigErrors& e) {
    for (const auto& d : e.diagnostics()) out.push_back(d.str());
  }
  return out;
}

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("numasim_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

void write_file(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }
}  // namespace

TEST(Config, ReadsDeclaredParametersWithDefaults) {
  auto doc = ConfigDocument::from_string("[cache.l1d]\nsize = \"32KiB\"\nways = 8\n", "t.toml");
  Config l1 = doc->root().table("cache").table("l1d");
  EXPECT_EQ(l1.get<Bytes>("size", Bytes(0), "capacity").value(), 32768u);
  EXPECT_EQ(l1.get<int>("ways", 4, "associativity", {1, 64}), 8);
  EXPECT_EQ(l1.get<int>("latency", 4, "load-to-use cycles"), 4);
  EXPECT_NO_THROW(doc->finish());
  std::string resolved = doc->resolved_toml();
  EXPECT_NE(resolved.find("[cache.l1d]"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("latency = 4  # load-to-use cycles"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("size = \"32KiB\""), std::string::npos) << resolved;
}

TEST(Config, ReportsEveryErrorAtOnceWithPositions) {
  auto doc = ConfigDocument::from_string(
      "[cache]\n"
      "ways = \"eight\"\n"
      "size = 32768\n"
      "latnecy = 4\n"
      "sets = 100\n",
      "bad.toml");
  Config c = doc->root().table("cache");
  c.get<int>("ways", 8, "associativity", {1, 64});
  c.get<Bytes>("size", Bytes(1024), "capacity");
  c.get<int>("latency", 4, "cycles");
  c.get<int>("sets", 64, "number of sets", {1, 64});
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 4u);
  EXPECT_EQ(errs[0], "bad.toml:2:8: error: cache.ways: expected an integer in [1, 64], got the string \"eight\"");
  EXPECT_NE(errs[1].find("bad.toml:3:8: error: cache.size: expected a size with a unit"), std::string::npos) << errs[1];
  EXPECT_EQ(errs[2], "bad.toml:4:1: error: unknown key 'latnecy' in [cache]; did you mean 'latency'?");
  EXPECT_EQ(errs[3], "bad.toml:5:8: error: cache.sets: expected an integer in [1, 64], got the integer 100");
}

TEST(Config, MissingRequiredKeyAndWrongTableType) {
  auto doc = ConfigDocument::from_string("machine = 3\n", "m.toml");
  Config m = doc->root().table("machine");
  EXPECT_EQ(m.require<int>("sockets", "socket count"), 0);
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0], "m.toml:1:11: error: machine: expected a table, got the integer 3");
  EXPECT_NE(errs[1].find("missing required key 'sockets' in [machine] (socket count)"), std::string::npos) << errs[1];
}

TEST(Config, SyntaxErrorHasPosition) {
  auto doc = ConfigDocument::from_string("a = [1, 2\n", "s.toml");
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].rfind("s.toml:", 0), 0u) << errs[0];
  EXPECT_NE(errs[0].find("invalid TOML"), std::string::npos) << errs[0];
}

TEST(Config, InheritsFromBaseAndOverridesPerKey) {
  auto dir = temp_dir();
  write_file(dir / "base.toml", "[cpu]\nclock = \"2GHz\"\nlfb = 10\n[[workload]]\nkind = \"a\"\n");
  write_file(dir / "child.toml", "base = \"base.toml\"\n[cpu]\nlfb = 12\n");
  auto doc = ConfigDocument::from_file((dir / "child.toml").string());
  Config cpu = doc->root().table("cpu");
  EXPECT_EQ(cpu.get<Frequency>("clock", Frequency(1), "clock").hz(), 2000000000u);
  EXPECT_EQ(cpu.get<int>("lfb", 1, "line fill buffers"), 12);
  auto w = doc->root().tables("workload");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].get<std::string>("kind", "", "kind"), "a");
  EXPECT_NO_THROW(doc->finish());
  // An unknown key in the base file is reported at the base file's position.
  write_file(dir / "base2.toml", "[cpu]\nclok = \"2GHz\"\n");
  write_file(dir / "child2.toml", "base = \"base2.toml\"\n");
  auto doc2 = ConfigDocument::from_file((dir / "child2.toml").string());
  doc2->root().table("cpu").get<Frequency>("clock", Frequency(1), "clock");
  auto errs = errors_of(*doc2);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("base2.toml:2:1: error: unknown key 'clok' in [cpu]; did you mean 'clock'?"),
            std::string::npos)
      << errs[0];
  std::filesystem::remove_all(dir);
}

TEST(Config, BaseCycleAndMissingBaseAreErrors) {
  auto dir = temp_dir();
  write_file(dir / "a.toml", "base = \"b.toml\"\n");
  write_file(dir / "b.toml", "base = \"a.toml\"\n");
  auto doc = ConfigDocument::from_file((dir / "a.toml").string());
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("cycle"), std::string::npos) << errs[0];
  write_file(dir / "c.toml", "base = \"nowhere.toml\"\n");
  auto doc2 = ConfigDocument::from_file((dir / "c.toml").string());
  errs = errors_of(*doc2);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("cannot open"), std::string::npos) << errs[0];
  std::filesystem::remove_all(dir);
}

TEST(Config, SetOverridesWinAndUnknownOverridesAreErrors) {
  auto doc = ConfigDocument::from_string("[cpu]\nlfb = 10\n[[workload]]\nthreads = 1\n", "o.toml");
  doc->apply_override("cpu.lfb=16");
  doc->apply_override("cpu.clock=3GHz");  // not TOML: taken as a string
  doc->apply_override("workload[0].threads=4");
  doc->apply_override("cpu.nonsense=1");
  Config cpu = doc->root().table("cpu");
  EXPECT_EQ(cpu.get<int>("lfb", 1, "lfb"), 16);
  EXPECT_EQ(cpu.get<Frequency>("clock", Frequency(1), "clock").hz(), 3000000000u);
  EXPECT_EQ(doc->root().tables("workload")[0].get<int>("threads", 1, "threads"), 4);
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("unknown key 'cpu.nonsense'"), std::string::npos) << errs[0];
}

TEST(Config, ChoiceListsTheValidValues) {
  auto doc = ConfigDocument::from_string("policy = \"lru2\"\n", "c.toml");
  EXPECT_EQ(doc->root().get_choice("policy", "lru", {"lru", "random"}, "replacement"), "lru");
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0], "c.toml:1:10: error: policy: expected one of \"lru\", \"random\", got the string \"lru2\"");
}

// Issue 17: NaN compares false against every bound, so it passed every range check
// (and `coherence.directory_coverage=nan` hung validation). NaN and the infinities
// are located configuration errors.
TEST(Config, NanAndInfinityAreLocatedErrors) {
  auto doc = ConfigDocument::from_string("[w]\nalpha = nan\nbeta = inf\ngamma = -inf\ndelta = 0.5\n", "n.toml");
  Config w = doc->root().table("w");
  EXPECT_EQ(w.get<double>("alpha", 1.0, "skew", {0.0, 10.0}), 1.0);
  EXPECT_EQ(w.get<double>("beta", 1.0, "unbounded ratio"), 1.0);
  EXPECT_EQ(w.get<double>("gamma", 1.0, "unbounded ratio"), 1.0);
  EXPECT_EQ(w.get<double>("delta", 1.0, "ratio", {0.0, 1.0}), 0.5);
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0], "n.toml:2:9: error: w.alpha: expected a finite number in [0.000000, 10.000000], got nan (not a number)");
  EXPECT_EQ(errs[1], "n.toml:3:8: error: w.beta: expected a finite number, got inf (infinity)");
  EXPECT_EQ(errs[2], "n.toml:4:9: error: w.gamma: expected a finite number, got -inf (infinity)");
}

TEST(Config, NanThroughSetIsAnError) {
  auto doc = ConfigDocument::from_string("[coherence]\n", "s.toml");
  doc->apply_override("coherence.directory_coverage=nan");
  doc->root().table("coherence").get<double>("directory_coverage", 2.0, "coverage", {0.0, 16.0});
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("--set coherence.directory_coverage=nan: error: coherence.directory_coverage: expected a "
                         "finite number"),
            std::string::npos)
      << errs[0];
}

// Issue 17: a 10 MB value was echoed whole in the error message.
TEST(Config, ErrorMessagesCutHugeValues) {
  std::string huge(1000 * 1000, 'x');
  auto doc = ConfigDocument::from_string("[c]\nsize = \"" + huge + "\"\nways = \"" + huge + "\"\n", "h.toml");
  Config c = doc->root().table("c");
  c.get<Bytes>("size", Bytes(1), "capacity");
  c.get<int>("ways", 8, "associativity");
  doc->apply_override("c.count=" + huge);
  c.get<int>("count", 1, "count");
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 3u);
  for (const auto& e : errs) {
    EXPECT_LT(e.size(), 600u) << e.substr(0, 600);
    EXPECT_NE(e.find("... (1000000 characters)"), std::string::npos) << e.substr(0, 600);
  }
  EXPECT_EQ(bounded_for_message("short"), "short");
}

// Issue 17: a directory given as the configuration or as `base` was read as empty.
TEST(Config, DirectoryAsConfigurationOrBaseIsAnError) {
  auto dir = temp_dir();
  std::filesystem::create_directories(dir / "sub.toml");
  auto doc = ConfigDocument::from_file((dir / "sub.toml").string());
  auto errs = errors_of(*doc);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("sub.toml: error: is a directory, not a configuration file"), std::string::npos) << errs[0];
  write_file(dir / "d.toml", "base = \"sub.toml\"\n");
  auto doc2 = ConfigDocument::from_file((dir / "d.toml").string());
  errs = errors_of(*doc2);
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].find("d.toml:1:8: error: base: \""), std::string::npos) << errs[0];
  EXPECT_NE(errs[0].find("sub.toml\" is a directory, not a configuration file"), std::string::npos) << errs[0];
  std::filesystem::remove_all(dir);
}
