// Trace flags: parsing of --trace lists (all or nothing on error) and the line
// format of an event.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/trace.h"

namespace numasim::trace {
namespace {

class TraceTest : public ::testing::Test {
 protected:
  void TearDown() override { reset(); }
};

TEST_F(TraceTest, FlagsAreOffByDefault) {
  reset();
  for (unsigned i = 0; i < static_cast<unsigned>(Flag::kCount); ++i) EXPECT_FALSE(enabled(static_cast<Flag>(i)));
}

TEST_F(TraceTest, ListEnablesExactlyTheNamedSubsystems) {
  EXPECT_EQ(set_flags("mm,dram"), "");
  EXPECT_TRUE(enabled(Flag::mm));
  EXPECT_TRUE(enabled(Flag::dram));
  EXPECT_FALSE(enabled(Flag::reclaim));
  EXPECT_FALSE(enabled(Flag::sched));
  EXPECT_EQ(set_flags("all"), "");
  for (unsigned i = 0; i < static_cast<unsigned>(Flag::kCount); ++i) EXPECT_TRUE(enabled(static_cast<Flag>(i)));
}

TEST_F(TraceTest, UnknownNameIsAnErrorAndChangesNothing) {
  ASSERT_EQ(set_flags("numa"), "");
  const std::string why = set_flags("mm,reclaimm");
  EXPECT_EQ(why, "unknown subsystem 'reclaimm' (expected mm, alloc, reclaim, thp, numa, sched, dram, all)");
  EXPECT_TRUE(enabled(Flag::numa));
  EXPECT_FALSE(enabled(Flag::mm));
  EXPECT_NE(set_flags(""), "");
  EXPECT_NE(set_flags("mm,"), "");  // an empty name
}

TEST_F(TraceTest, EventLineHasTimeCpuSubsystemAndText) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  set_sink(f);
  ASSERT_EQ(set_flags("mm"), "");
  NUMASIM_TRACE(mm, Picoseconds(1'234'567), 3, "fault addr=%#llx", 0x1000ull);
  NUMASIM_TRACE(dram, Picoseconds(5), -1, "not printed");  // flag off
  NUMASIM_TRACE(mm, Picoseconds(2'000'000'000'123), -1, "device event");
  std::rewind(f);
  char buf[256];
  std::string all;
  while (std::fgets(buf, sizeof buf, f)) all += buf;
  std::fclose(f);
  EXPECT_EQ(all,
            "[       1.234567 us] cpu3 mm: fault addr=0x1000\n"
            "[ 2000000.000123 us]    - mm: device event\n");
}

}  // namespace
}  // namespace numasim::trace
