// Dotted-path lookup in JSON text.
#include "workloads/json_path.h"

#include <cctype>
#include <vector>

namespace numasim::workloads {

namespace {
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  char peek() {
    ws();
    return i_ < s_.size() ? s_[i_] : '\0';
  }
  bool string(std::string* out) {
    if (!eat('"')) return false;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size()) {
        char e = s_[i_++];
        if (out) {
          if (e == 'n')
            out->push_back('\n');
          else if (e == '"' || e == '\\' || e == '/')
            out->push_back(e);
          else
            out->append({'\\', e});
        }
        continue;
      }
      if (out) out->push_back(c);
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  // Scalar text; false if not a scalar.
  bool scalar(std::string* out) {
    char c = peek();
    if (c == '"') return string(out);
    std::size_t start = i_;
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' || s_[i_] == '+' || s_[i_] == '.'))
      ++i_;
    if (i_ == start) return false;
    if (out) *out = std::string(s_.substr(start, i_ - start));
    return true;
  }
  bool skip_value(int depth = 0) {
    if (depth > 256) return false;
    char c = peek();
    if (c == '{') {
      ++i_;
      if (eat('}')) return true;
      do {
        if (!string(nullptr) || !eat(':') || !skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      ++i_;
      if (eat(']')) return true;
      do {
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(']');
    }
    return scalar(nullptr);
  }
  // Positions the scanner at the value of `key` in the object that starts here.
  bool member(std::string_view key) {
    if (!eat('{')) return false;
    if (peek() == '}') return false;
    do {
      std::string k;
      if (!string(&k) || !eat(':')) return false;
      if (k == key) return true;
      if (!skip_value()) return false;
    } while (eat(','));
    return false;
  }
  bool element(std::size_t index) {
    if (!eat('[')) return false;
    if (peek() == ']') return false;
    for (std::size_t n = 0;; ++n) {
      if (n == index) return true;
      if (!skip_value() || !eat(',')) return false;
    }
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};
}  // namespace

std::optional<std::string> json_lookup(std::string_view json, std::string_view path) {
  Scanner sc(json);
  std::size_t pos = 0;
  while (pos <= path.size() && !path.empty()) {
    auto dot = path.find('.', pos);
    std::string_view part = path.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    char c = sc.peek();
    if (c == '[') {
      std::size_t idx = 0;
      if (part.empty()) return std::nullopt;
      for (char d : part) {
        if (!std::isdigit(static_cast<unsigned char>(d))) return std::nullopt;
        idx = idx * 10 + static_cast<std::size_t>(d - '0');
      }
      if (!sc.element(idx)) return std::nullopt;
    } else if (c == '{') {
      if (!sc.member(part)) return std::nullopt;
    } else {
      return std::nullopt;
    }
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  char c = sc.peek();
  if (c == '{' || c == '[') return std::nullopt;
  std::string out;
  if (!sc.scalar(&out)) return std::nullopt;
  return out;
}

}  // namespace numasim::workloads
