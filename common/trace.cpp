// Per-subsystem event tracing: flag parsing and the line format (see trace.h).
#include "common/trace.h"

#include <cstdarg>

namespace numasim::trace {

namespace detail {
std::uint32_t enabled_mask = 0;
}

namespace {
std::FILE* g_sink = nullptr;  // nullptr: stderr
constexpr const char* kNames[] = {"mm", "alloc", "reclaim", "thp", "numa", "sched", "dram"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<std::size_t>(Flag::kCount));

std::string valid_names() {
  std::string s;
  for (const char* n : kNames) s += std::string(s.empty() ? "" : ", ") + n;
  return s + ", all";
}
}  // namespace

const char* flag_name(Flag f) { return kNames[static_cast<unsigned>(f)]; }

std::string set_flags(std::string_view list) {
  std::uint32_t mask = 0;
  if (list.empty()) return "expected a comma-separated list of subsystems (" + valid_names() + ")";
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    bool found = false;
    if (name == "all") {
      mask = (1u << static_cast<unsigned>(Flag::kCount)) - 1;
      found = true;
    }
    for (unsigned i = 0; i < static_cast<unsigned>(Flag::kCount) && !found; ++i)
      if (name == kNames[i]) {
        mask |= 1u << i;
        found = true;
      }
    if (!found) {
      std::string shown(name.substr(0, 40));
      return "unknown subsystem '" + shown + "' (expected " + valid_names() + ")";
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  detail::enabled_mask = mask;
  return {};
}

void reset() {
  detail::enabled_mask = 0;
  g_sink = nullptr;
}

void set_sink(std::FILE* sink) { g_sink = sink; }

void emit(Flag f, Picoseconds when, int cpu, const char* fmt, ...) {
  std::FILE* out = g_sink ? g_sink : stderr;
  const std::uint64_t ps = when.value();
  char where[16] = "   -";
  if (cpu >= 0) std::snprintf(where, sizeof where, "cpu%d", cpu);
  std::fprintf(out, "[%8llu.%06llu us] %s %s: ", static_cast<unsigned long long>(ps / 1'000'000),
               static_cast<unsigned long long>(ps % 1'000'000), where, kNames[static_cast<unsigned>(f)]);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(out, fmt, ap);
  va_end(ap);
  std::fputc('\n', out);
}

}  // namespace numasim::trace
