// Configuration access (DESIGN.md, Configuration). A ConfigDocument holds a TOML
// tree (with `base = "..."` inheritance and `--set` overrides merged in); code
// reads it through Config views, declaring each parameter where it is read:
//
//   Config c = doc.root().table("cache").table("l1d");
//   auto ways = c.get<int>("ways", 8, "associativity", {1, 64});
//   Bytes size = c.require<Bytes>("size", "capacity");
//
// Supported value types: bool, integers, double (ratios only, never timing),
// std::string, Bytes ("64GiB"), Picoseconds ("90ns"), Frequency ("2.1GHz"),
// Bandwidth ("25.6GB/s"), std::vector<std::int64_t>.
// A bad value records a diagnostic (file:line:column, parameter, what was
// expected) and returns the default so that construction can go on and every
// error is reported together; call doc.finish() after construction: it adds an
// error for every key never read (naming the closest valid key) and throws
// ConfigErrors if there is any. Every value read, defaults included, goes to the
// resolved document that `numasim validate` prints.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"

namespace numasim {

struct SourcePos {
  std::string file;  // path, "<embedded default>" or "--set"
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  SourcePos where;
  std::string message;
  std::string str() const;  // "file:line:column: error: message"
};

class ConfigErrors : public std::runtime_error {
 public:
  explicit ConfigErrors(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Inclusive bounds for a numeric parameter; either side may be open.
template <class T>
struct Range {
  std::optional<T> min;
  std::optional<T> max;
};

class ConfigDocument;
struct ConfigTableState;

class Config {
 public:
  // Optional parameter: absent -> def.
  template <class T>
  T get(std::string_view key, T def, std::string_view description, Range<T> range = {});
  // Required parameter: absent -> diagnostic, returns T{}.
  template <class T>
  T require(std::string_view key, std::string_view description, Range<T> range = {});
  // One of a fixed set of strings (e.g. impl = "lru").
  std::string get_choice(std::string_view key, std::string_view def, const std::vector<std::string>& choices,
                         std::string_view description);

  bool has(std::string_view key) const;
  // Sub-table; absent -> an empty view (so every parameter takes its default).
  Config table(std::string_view key, std::string_view description = {});
  // Array of tables ([[key]]); absent -> empty.
  std::vector<Config> tables(std::string_view key, std::string_view description = {});

  // Declares `key` (a value or a whole subtree) as known but deliberately unused here,
  // e.g. the [[workload]] tables when a timing study runs its own programs.
  void ignore(std::string_view key);

  // Semantic error about `key` of this table (or the table itself when key is empty).
  void error(std::string_view key, std::string message) const;
  // Dotted path of this table, e.g. "cache.l1d" or "workload[1]".
  const std::string& path() const;
  SourcePos position(std::string_view key = {}) const;
  ConfigDocument& document() const { return *doc_; }

 private:
  friend class ConfigDocument;
  Config(ConfigDocument* doc, ConfigTableState* state) : doc_(doc), state_(state) {}
  ConfigDocument* doc_;
  ConfigTableState* state_;
};

class ConfigDocument {
 public:
  // Parses `path` (following `base =` chains, relative to the including file).
  static std::unique_ptr<ConfigDocument> from_file(const std::string& path);
  // Parses text; `name` is used in diagnostics and resolves relative bases from cwd.
  static std::unique_ptr<ConfigDocument> from_string(std::string_view text, const std::string& name);
  ~ConfigDocument();

  // Applies "a.b.c=value": value parsed as a TOML value, or taken as a string if it is not one.
  void apply_override(std::string_view assignment);

  Config root();
  // Throws ConfigErrors when any diagnostic was recorded, including keys never read.
  void finish();
  // Throws ConfigErrors now if any diagnostic was recorded so far (e.g. before building hw).
  void check() const;
  void add_error(SourcePos where, std::string message);
  const std::vector<Diagnostic>& diagnostics() const;

  // The resolved configuration: every parameter read, defaults filled in, as TOML
  // with each parameter's description as a comment.
  std::string resolved_toml() const;

  struct Impl;

 private:
  friend class Config;
  ConfigDocument();
  std::unique_ptr<Impl> impl_;
};

// `text` cut to at most max_chars characters with an ellipsis and the full length
// appended, for echoing user values in error messages.
std::string bounded_for_message(std::string_view text, std::size_t max_chars = 80);

// Strict unit parsing, shared with the CLI. Return std::nullopt and set `why` on error.
std::optional<Bytes> parse_size(std::string_view text, std::string* why);
std::optional<Picoseconds> parse_time(std::string_view text, std::string* why);
std::optional<Frequency> parse_frequency(std::string_view text, std::string* why);
std::optional<Bandwidth> parse_bandwidth(std::string_view text, std::string* why);
std::string format_size(Bytes b);           // "64GiB", "1536KiB", "100B"
std::string format_time(Picoseconds t);     // "90ns", "1.5ns", "7800ns"
std::string format_frequency(Frequency f);  // "2.1GHz"
std::string format_bandwidth(Bandwidth b);  // "25.6GB/s"

}  // namespace numasim
