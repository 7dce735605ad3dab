// Integer expressions in scripted scenarios: "$buf+4096", "2*PAGE_SIZE",
// "PROT_READ|PROT_WRITE", "8KiB", "0x10000". Operands are numbers (decimal or
// 0x hex, optionally with a size unit: 4KiB, 2MiB), Linux constant names
// (linux_abi.h) and $names bound by earlier steps (`as = "buf"`); operators,
// loosest first: |, then + and -, then *. Compiled once when the configuration
// is read (names resolved to slots), evaluated when the step runs.
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
  std::int64_t eval(const std::vector<std::int64_t>& slots) const;
  const std::string& text() const { return text_; }

 private:
  enum class Op : std::uint8_t { Const, Slot, Add, Sub, Mul, Or };
  struct Tok {
    Op op;
    std::int64_t v;
  };
  std::vector<Tok> rpn_;
  std::string text_;
};

}  // namespace numasim::workloads
