// Integer expressions in scripted scenarios: "$buf+4096", "2*PAGE_SIZE",
// "PROT_READ|PROT_WRITE", "8KiB", "0x10000". Operands are numbers (decimal or
// 0x hex, optionally with a size unit: 4KiB, 2MiB), Linux constant names
// (linux_abi.h) and $names bound by earlier steps (`as = "buf"`); operators,
// loosest first: |, then + and -, then *. Compiled once when the configuration
// is read (names resolved to slots), evaluated when the step runs.
// Arithmetic is on signed 64-bit integers and checked: an overflow is a script
// error (at configuration time when the expression is constant, located by
// origin() when it involves a $name and happens as the step runs).
// Simplified: no parentheses, no unary minus.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace numasim::workloads {

class ScriptExpr {
 public:
  // names: $names bound so far (slot = position). Returns nullopt and sets why on error.
  static std::optional<ScriptExpr> compile(std::string_view text, const std::vector<std::string>& names,
                                           std::string* why);
  static ScriptExpr constant(std::int64_t v);
  // The value, or nullopt when an operation overflows 64-bit signed integers.
  std::optional<std::int64_t> try_eval(const std::vector<std::int64_t>& slots) const;
  // The value; call only after try_eval succeeded for these slots (0 on overflow).
  std::int64_t eval(const std::vector<std::int64_t>& slots) const { return try_eval(slots).value_or(0); }
  const std::string& text() const { return text_; }
  // Where the expression was written, e.g. "s.toml:18:8: workload[0].step[2].addr".
  const std::string& origin() const { return origin_; }
  void set_origin(std::string origin) { origin_ = std::move(origin); }

 private:
  enum class Op : std::uint8_t { Const, Slot, Add, Sub, Mul, Or };
  struct Tok {
    Op op;
    std::int64_t v;
  };
  std::vector<Tok> rpn_;
  std::string text_;
  std::string origin_;
};

}  // namespace numasim::workloads
