// Unit parsing and formatting: strict, exact, and round-tripping.
#include <gtest/gtest.h>

#include "common/config.h"

using namespace numasim;

TEST(UnitParse, SizesAreExactBinaryAndDecimal) {
  EXPECT_EQ(parse_size("64GiB", nullptr)->value(), 64ull << 30);
  EXPECT_EQ(parse_size("1.375MiB", nullptr)->value(), 1441792u);
  EXPECT_EQ(parse_size("32KiB", nullptr)->value(), 32768u);
  EXPECT_EQ(parse_size("1GB", nullptr)->value(), 1000000000u);
  EXPECT_EQ(parse_size("100B", nullptr)->value(), 100u);
}

TEST(UnitParse, RejectsMissingOrUnknownUnitsAndFractionsOfTheBaseUnit) {
  std::string why;
  EXPECT_FALSE(parse_size("64", &why));
  EXPECT_NE(why.find("expected a size with a unit"), std::string::npos) << why;
  EXPECT_FALSE(parse_size("64 GiB", &why));
  EXPECT_FALSE(parse_size("64gib", &why));
  EXPECT_FALSE(parse_size("1.5B", &why));
  EXPECT_NE(why.find("not a whole number"), std::string::npos) << why;
  EXPECT_FALSE(parse_size("GiB", &why));
  EXPECT_FALSE(parse_size("1..5GiB", &why));
  EXPECT_FALSE(parse_time("0.0001ps", &why));
  EXPECT_FALSE(parse_frequency("0GHz", &why));
  EXPECT_FALSE(parse_bandwidth("10GB", &why));
}

TEST(UnitParse, TimesFrequenciesBandwidths) {
  EXPECT_EQ(parse_time("90ns", nullptr)->value(), 90000u);
  EXPECT_EQ(parse_time("0.75ns", nullptr)->value(), 750u);
  EXPECT_EQ(parse_time("7.8us", nullptr)->value(), 7800000u);
  EXPECT_EQ(parse_frequency("2.1GHz", nullptr)->hz(), 2100000000u);
  EXPECT_EQ(parse_bandwidth("25.6GB/s", nullptr)->bytes_per_second(), 25600000000u);
  EXPECT_EQ(parse_bandwidth("1GiB/s", nullptr)->bytes_per_second(), 1ull << 30);
}

TEST(UnitFormat, RoundTrips) {
  for (const char* s : {"64GiB", "1536KiB", "100B"}) EXPECT_EQ(format_size(*parse_size(s, nullptr)), s);
  for (const char* s : {"90ns", "750ps", "7.8us", "1.5s"}) EXPECT_EQ(format_time(*parse_time(s, nullptr)), s);
  EXPECT_EQ(format_frequency(Frequency(2100000000)), "2.1GHz");
  EXPECT_EQ(format_bandwidth(Bandwidth(25600000000)), "25.6GB/s");
}

TEST(Frequency, CyclesToTimeAndBack) {
  Frequency f(2000000000);  // 2 GHz: 500 ps per cycle
  EXPECT_EQ(f.to_time(Cycles(3)).value(), 1500u);
  EXPECT_EQ(f.to_cycles(Picoseconds(1500)).value(), 3u);
  EXPECT_EQ(f.to_cycles(Picoseconds(1501)).value(), 4u);  // rounds up: a partial cycle is a stall
  Frequency g(2100000000);
  EXPECT_EQ(g.to_time(Cycles(21)).value(), 10000u);  // 21 cycles at 2.1 GHz = 10 ns exactly
}

TEST(Bandwidth, TransferTime) {
  Bandwidth b(64000000000ull);  // 64 GB/s: a 64-byte line every ns
  EXPECT_EQ(b.transfer_time(Bytes(64)).value(), 1000u);
  EXPECT_EQ(b.transfer_time(Bytes(1)).value(), 16u);  // 15.625 ps rounds up
}
