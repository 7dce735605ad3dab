// Compiling script expressions to postfix and evaluating them.
#include "workloads/script_expr.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/config.h"
#include "workloads/linux_abi.h"

namespace numasim::workloads {

namespace {
int precedence(char c) { return c == '|' ? 1 : (c == '+' || c == '-') ? 2 : 3; }
}  // namespace

ScriptExpr ScriptExpr::constant(std::int64_t v) {
  ScriptExpr e;
  e.rpn_.push_back({Op::Const, v});
  e.text_ = std::to_string(v);
  return e;
}

std::optional<ScriptExpr> ScriptExpr::compile(std::string_view text, const std::vector<std::string>& names,
                                              std::string* why) {
  ScriptExpr e;
  e.text_ = std::string(text);
  std::vector<char> ops;
  auto fail = [&](std::string m) -> std::optional<ScriptExpr> {
    if (why) *why = "in \"" + bounded_for_message(text) + "\": " + m;
    return std::nullopt;
  };
  auto reduce = [&](char c) {
    e.rpn_.push_back({c == '|' ? Op::Or : c == '+' ? Op::Add : c == '-' ? Op::Sub : Op::Mul, 0});
  };
  std::size_t i = 0;
  bool want_operand = true;
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ') {
      ++i;
      continue;
    }
    if (want_operand) {
      std::size_t j = i;
      if (c == '$') {
        ++j;
        while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
        std::string name(text.substr(i + 1, j - i - 1));
        if (name.empty()) return fail("expected a name after '$'");
        auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end()) return fail("$" + name + " is not bound by an earlier step (as = \"" + name + "\")");
        e.rpn_.push_back({Op::Slot, it - names.begin()});
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])))) ++j;
        std::string_view tok = text.substr(i, j - i);
        std::int64_t v = 0;
        bool ok = false;
        if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
          auto [p, ec] = std::from_chars(tok.data() + 2, tok.data() + tok.size(), v, 16);
          ok = ec == std::errc() && p == tok.data() + tok.size();
        } else {
          auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
          ok = ec == std::errc() && p == tok.data() + tok.size();
          if (!ok) {
            std::string size_why;
            if (auto b = parse_size(tok, &size_why)) {
              if (b->value() > static_cast<std::uint64_t>(INT64_MAX))
                return fail("\"" + bounded_for_message(tok) + "\" is too large for a 64-bit signed integer");
              v = static_cast<std::int64_t>(b->value());
              ok = true;
            }
          }
        }
        if (!ok) return fail("\"" + bounded_for_message(tok) + "\" is not a number or size (e.g. 4096, 0x1000, 8KiB)");
        e.rpn_.push_back({Op::Const, v});
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
        std::string name(text.substr(i, j - i));
        auto v = abi::constant_from_name(name);
        if (!v)
          return fail("unknown constant " + name + " (expected e.g. PROT_READ, MAP_SHARED, MPOL_BIND, MADV_DONTNEED)");
        e.rpn_.push_back({Op::Const, *v});
      } else {
        return fail(std::string("expected a number, a constant or a $name at '") + c + "'");
      }
      i = j;
      want_operand = false;
    } else {
      if (c != '+' && c != '-' && c != '*' && c != '|')
        return fail(std::string("expected an operator (+ - * |) at '") + c + "'");
      while (!ops.empty() && precedence(ops.back()) >= precedence(c)) {
        reduce(ops.back());
        ops.pop_back();
      }
      ops.push_back(c);
      ++i;
      want_operand = true;
    }
  }
  if (want_operand) return fail(e.rpn_.empty() ? "empty expression" : "expression ends with an operator");
  while (!ops.empty()) {
    reduce(ops.back());
    ops.pop_back();
  }
  const bool constant = std::none_of(e.rpn_.begin(), e.rpn_.end(), [](const Tok& t) { return t.op == Op::Slot; });
  if (constant && !e.try_eval({})) return fail("arithmetic overflows 64-bit signed integers");
  return e;
}

std::optional<std::int64_t> ScriptExpr::try_eval(const std::vector<std::int64_t>& slots) const {
  std::int64_t stack[32];
  int sp = 0;
  for (const Tok& t : rpn_) {
    if (sp >= 31) break;  // operator precedence keeps the depth at 4; never reached
    switch (t.op) {
      case Op::Const:
        stack[sp++] = t.v;
        break;
      case Op::Slot:
        stack[sp++] = slots[static_cast<std::size_t>(t.v)];
        break;
      default: {
        std::int64_t b = stack[--sp], a = stack[--sp], r = 0;
        bool overflow = false;
        switch (t.op) {
          case Op::Add:
            overflow = __builtin_add_overflow(a, b, &r);
            break;
          case Op::Sub:
            overflow = __builtin_sub_overflow(a, b, &r);
            break;
          case Op::Mul:
            overflow = __builtin_mul_overflow(a, b, &r);
            break;
          default:
            r = a | b;
        }
        if (overflow) return std::nullopt;
        stack[sp++] = r;
      }
    }
  }
  return sp ? stack[sp - 1] : 0;
}

}  // namespace numasim::workloads
