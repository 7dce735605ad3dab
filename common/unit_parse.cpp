// Strict parsing and formatting of quantities with units ("64GiB", "0.75ns",
// "2.1GHz", "25.6GB/s"). Decimal fractions are exact: the value is scaled with
// integer arithmetic and must come out whole in the base unit (bytes, ps, Hz,
// bytes/s); anything else (no unit, unknown unit, spaces, a fraction of a
// picosecond) is an error that says what was expected.
#include <array>
#include <string>

#include "common/config.h"

namespace numasim {
namespace {

using u128 = unsigned __int128;

struct UnitFactor {
  std::string_view suffix;
  std::uint64_t factor;
};

// Longest suffixes first so that "GiB/s" is not taken for "B/s".
constexpr std::array kSizeUnits{UnitFactor{"TiB", 1ull << 40},      UnitFactor{"GiB", 1ull << 30},
                                UnitFactor{"MiB", 1ull << 20},      UnitFactor{"KiB", 1ull << 10},
                                UnitFactor{"TB", 1000000000000ull}, UnitFactor{"GB", 1000000000ull},
                                UnitFactor{"MB", 1000000ull},       UnitFactor{"KB", 1000ull},
                                UnitFactor{"kB", 1000ull},          UnitFactor{"B", 1ull}};
constexpr std::array kTimeUnits{UnitFactor{"ps", 1ull}, UnitFactor{"ns", 1000ull}, UnitFactor{"us", 1000000ull},
                                UnitFactor{"ms", 1000000000ull}, UnitFactor{"s", 1000000000000ull}};
constexpr std::array kFrequencyUnits{UnitFactor{"GHz", 1000000000ull}, UnitFactor{"MHz", 1000000ull},
                                     UnitFactor{"kHz", 1000ull}, UnitFactor{"Hz", 1ull}};
constexpr std::array kBandwidthUnits{
    UnitFactor{"TB/s", 1000000000000ull}, UnitFactor{"GB/s", 1000000000ull}, UnitFactor{"MB/s", 1000000ull},
    UnitFactor{"KB/s", 1000ull},          UnitFactor{"kB/s", 1000ull},       UnitFactor{"GiB/s", 1ull << 30},
    UnitFactor{"MiB/s", 1ull << 20},      UnitFactor{"KiB/s", 1ull << 10},   UnitFactor{"B/s", 1ull}};

template <std::size_t N>
std::string unit_list(const std::array<UnitFactor, N>& units) {
  std::string out;
  for (const auto& u : units) {
    if (!out.empty()) out += ", ";
    out += u.suffix;
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Parses "<digits>[.<digits>]<unit>" into a whole number of base units.
template <std::size_t N>
std::optional<std::uint64_t> parse_quantity(std::string_view text, const std::array<UnitFactor, N>& units,
                                            std::string_view what, std::string_view example, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<std::uint64_t> {
    if (why) {
      *why = std::string("expected ") + std::string(what) + " with a unit (" + unit_list(units) + "), e.g. \"" +
             std::string(example) + "\"";
      if (!reason.empty()) *why += ": " + reason;
    }
    return std::nullopt;
  };
  const UnitFactor* unit = nullptr;
  for (const auto& u : units) {
    if (ends_with(text, u.suffix)) {
      unit = &u;
      break;
    }
  }
  if (!unit) return fail("no valid unit in \"" + bounded_for_message(text) + "\"");
  std::string_view number = text.substr(0, text.size() - unit->suffix.size());
  if (number.empty()) return fail("missing number");
  u128 mantissa = 0;
  u128 scale = 1;
  bool seen_point = false;
  int digits = 0;
  for (char c : number) {
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9')
      return fail("unexpected character '" + std::string(1, c) + "' in \"" + bounded_for_message(text) + "\"");
    if (++digits > 24) return fail("too many digits");
    mantissa = mantissa * 10 + static_cast<unsigned>(c - '0');
    if (seen_point) scale *= 10;
  }
  if (digits == 0 || number.back() == '.') return fail("malformed number \"" + bounded_for_message(number) + "\"");
  u128 total = mantissa * unit->factor;
  if (total % scale != 0) return fail("\"" + bounded_for_message(text) + "\" is not a whole number of the base unit");
  total /= scale;
  if (total > UINT64_MAX) return fail("\"" + bounded_for_message(text) + "\" is too large");
  return static_cast<std::uint64_t>(total);
}

// Formats v (in base units) as a decimal in the largest unit where the value is >= 1.
template <std::size_t N>
std::string format_decimal(std::uint64_t v, const std::array<UnitFactor, N>& units, bool exact_only) {
  for (const auto& u : units) {
    if (v >= u.factor && (!exact_only || v % u.factor == 0)) {
      std::string s = std::to_string(v / u.factor);
      std::uint64_t rest = v % u.factor;
      if (rest != 0) {
        std::string frac;
        std::uint64_t f = u.factor;
        while (rest != 0 && f > 1) {
          f /= 10;
          frac += static_cast<char>('0' + rest / f);
          rest %= f;
        }
        s += "." + frac;
      }
      return s + std::string(u.suffix);
    }
  }
  return "0" + std::string(units.back().suffix);
}

}  // namespace

std::optional<Bytes> parse_size(std::string_view text, std::string* why) {
  auto v = parse_quantity(text, kSizeUnits, "a size", "64GiB", why);
  return v ? std::optional<Bytes>(Bytes(*v)) : std::nullopt;
}

std::optional<Picoseconds> parse_time(std::string_view text, std::string* why) {
  auto v = parse_quantity(text, kTimeUnits, "a time", "90ns", why);
  return v ? std::optional<Picoseconds>(Picoseconds(*v)) : std::nullopt;
}

std::optional<Frequency> parse_frequency(std::string_view text, std::string* why) {
  auto v = parse_quantity(text, kFrequencyUnits, "a frequency", "2.1GHz", why);
  if (v && *v == 0) {
    if (why) *why = "expected a frequency above 0Hz";
    return std::nullopt;
  }
  return v ? std::optional<Frequency>(Frequency(*v)) : std::nullopt;
}

std::optional<Bandwidth> parse_bandwidth(std::string_view text, std::string* why) {
  auto v = parse_quantity(text, kBandwidthUnits, "a bandwidth", "25.6GB/s", why);
  if (v && *v == 0) {
    if (why) *why = "expected a bandwidth above 0B/s";
    return std::nullopt;
  }
  return v ? std::optional<Bandwidth>(Bandwidth(*v)) : std::nullopt;
}

std::string format_size(Bytes b) {
  constexpr std::array units{UnitFactor{"TiB", 1ull << 40}, UnitFactor{"GiB", 1ull << 30},
                             UnitFactor{"MiB", 1ull << 20}, UnitFactor{"KiB", 1ull << 10}, UnitFactor{"B", 1ull}};
  return format_decimal(b.value(), units, true);
}

std::string format_time(Picoseconds t) {
  constexpr std::array units{UnitFactor{"s", 1000000000000ull}, UnitFactor{"ms", 1000000000ull},
                             UnitFactor{"us", 1000000ull}, UnitFactor{"ns", 1000ull}, UnitFactor{"ps", 1ull}};
  return format_decimal(t.value(), units, false);
}

std::string format_frequency(Frequency f) {
  constexpr std::array units{UnitFactor{"GHz", 1000000000ull}, UnitFactor{"MHz", 1000000ull},
                             UnitFactor{"kHz", 1000ull}, UnitFactor{"Hz", 1ull}};
  return format_decimal(f.hz(), units, false);
}

std::string format_bandwidth(Bandwidth b) {
  constexpr std::array units{UnitFactor{"TB/s", 1000000000000ull}, UnitFactor{"GB/s", 1000000000ull},
                             UnitFactor{"MB/s", 1000000ull}, UnitFactor{"KB/s", 1000ull}, UnitFactor{"B/s", 1ull}};
  return format_decimal(b.bytes_per_second(), units, false);
}

}  // namespace numasim
