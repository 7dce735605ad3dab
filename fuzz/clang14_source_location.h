// Forced include of the fuzz preset only: clang 14 lacks the builtin that
// libstdc++ 12's <source_location> needs (__builtin_source_location, clang 15),
// so the header defines nothing there. This stands in for std::source_location
// with the builtins clang 14 has; it is not used by the gcc builds.
#pragma once
#if defined(__clang__) && defined(__has_builtin)
#if !__has_builtin(__builtin_source_location)
#include <cstdint>
#include <source_location>
namespace std {
struct source_location {
  static constexpr source_location current(const char* file = __builtin_FILE(), const char* function = __builtin_FUNCTION(),
                                           std::uint_least32_t line = __builtin_LINE()) noexcept {
    source_location s;
    s.file_ = file;
    s.function_ = function;
    s.line_ = line;
    return s;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return 0; }
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
};
}  // namespace std
#endif
#endif
