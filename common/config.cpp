// Configuration documents: layered TOML (a file, the files it inherits through
// `base`, and `--set` overrides on top), read through declared parameters.
// Layers are looked up, not merged, so every value keeps the file:line:column it
// came from. Each Config view records the keys declared on it and the resolved
// value of each parameter; ConfigDocument::finish() reports every key present in
// any layer that no code declared, with the closest declared key as a hint.
#include "common/config.h"
#include "common/json_writer.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace numasim {

std::string bounded_for_message(std::string_view text, std::size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  return std::string(text.substr(0, max_chars)) + "... (" + std::to_string(text.size()) + " characters)";
}

std::string Diagnostic::str() const {
  std::ostringstream out;
  out << where.file;
  if (where.line > 0) out << ':' << where.line << ':' << where.column;
  out << ": error: " << message;
  return out.str();
}

namespace {
std::string join_diagnostics(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += d.str() + "\n";
  return out;
}

SourcePos pos_of(const toml::source_region& r) {
  SourcePos p;
  p.file = r.path ? *r.path : std::string("<unknown>");
  p.line = static_cast<int>(r.begin.line);
  p.column = static_cast<int>(r.begin.column);
  return p;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// TOML basic strings take the same escapes as JSON strings.
std::string quote(std::string_view s) { return json_escape(s); }

// A value echoed in an error message, quoted and cut to a bounded length so that
// a huge value (a 10 MB string) does not flood the terminal.
std::string quote_bounded(std::string_view s) { return quote(bounded_for_message(s)); }

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "the string " + quote_bounded(*n.value<std::string>());
    case toml::node_type::integer:
      return "the integer " + std::to_string(*n.value<std::int64_t>());
    case toml::node_type::floating_point: {
      double d = *n.value<double>();
      if (std::isnan(d)) return "nan (not a number)";
      if (std::isinf(d)) return d > 0 ? "inf (infinity)" : "-inf (infinity)";
      return "a floating-point number";
    }
    case toml::node_type::boolean:
      return *n.value<bool>() ? "true" : "false";
    default:
      return "a date or time";
  }
}

bool is_bare_key(std::string_view k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}
std::string key_text(std::string_view k) { return is_bare_key(k) ? std::string(k) : quote(k); }
}  // namespace

ConfigErrors::ConfigErrors(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

// ---------------------------------------------------------------------------

struct ConfigTableState {
  std::string path;                        // "" for the root, "cache.l1d", "workload[0]"
  std::vector<const toml::table*> layers;  // highest priority first
  SourcePos pos;
  std::set<std::string, std::less<>> declared;
  struct Entry {
    std::string key;
    std::string value;
    std::string description;
  };
  std::vector<Entry> entries;
  std::vector<std::pair<std::string, ConfigTableState*>> children;
  std::vector<std::pair<std::string, std::vector<ConfigTableState*>>> arrays;
  std::string description;
};

struct Override {
  std::shared_ptr<toml::table> holder;  // keeps the parsed value alive
  const toml::node* value = nullptr;
  SourcePos pos;
  bool used = false;
};

struct ConfigDocument::Impl {
  std::vector<toml::table> files;  // parsed files, highest priority first
  std::deque<ConfigTableState> states;
  ConfigTableState* root = nullptr;
  std::map<std::string, Override, std::less<>> overrides;  // by dotted path
  std::vector<Diagnostic> diagnostics;

  ConfigTableState* new_state(std::string path) {
    states.emplace_back();
    states.back().path = std::move(path);
    return &states.back();
  }
};

namespace {
std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}
}  // namespace

ConfigDocument::ConfigDocument() : impl_(std::make_unique<Impl>()) {}
ConfigDocument::~ConfigDocument() = default;

namespace {
// Reads a whole configuration file; a directory or an unreadable path is an error
// (an ifstream opens a directory on Linux and reads it as empty).
std::optional<std::string> read_config_file(const std::filesystem::path& path, std::string* why) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *why = "is a directory, not a configuration file";
    return std::nullopt;
  }
  std::ifstream in(path);
  if (!in) {
    *why = "cannot open configuration file";
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    *why = "cannot read configuration file";
    return std::nullopt;
  }
  return buf.str();
}

// Parses one file and the chain of files it inherits from, appending to `files`.
void load_chain(ConfigDocument::Impl& impl, std::string_view text, const std::string& name,
                const std::filesystem::path& dir, std::set<std::string>& seen) {
  try {
    impl.files.push_back(toml::parse(text, name));
  } catch (const toml::parse_error& err) {
    impl.diagnostics.push_back(
        Diagnostic{pos_of(err.source()), std::string("invalid TOML: ") + std::string(err.description())});
    return;
  }
  const toml::table& tbl = impl.files.back();
  const toml::node* base = tbl.get("base");
  if (!base) return;
  auto base_name = base->value<std::string>();
  if (!base_name) {
    impl.diagnostics.push_back({pos_of(base->source()), "base: expected a file name string, got " + type_name(*base)});
    return;
  }
  std::filesystem::path base_path = dir / *base_name;
  std::string canonical = std::filesystem::weakly_canonical(base_path).string();
  if (seen.count(canonical)) {
    impl.diagnostics.push_back({pos_of(base->source()), "base: \"" + *base_name + "\" is inherited twice (a cycle)"});
    return;
  }
  seen.insert(canonical);
  std::string why;
  auto base_text = read_config_file(base_path, &why);
  if (!base_text) {
    std::string msg = why.rfind("cannot open", 0) == 0 ? "base: cannot open \"" + base_path.string() + "\""
                                                        : "base: \"" + base_path.string() + "\" " + why;
    impl.diagnostics.push_back({pos_of(base->source()), msg});
    return;
  }
  load_chain(impl, *base_text, base_path.string(), base_path.parent_path(), seen);
}
}  // namespace

std::unique_ptr<ConfigDocument> ConfigDocument::from_string(std::string_view text, const std::string& name) {
  std::unique_ptr<ConfigDocument> doc(new ConfigDocument());
  std::set<std::string> seen;
  load_chain(*doc->impl_, text, name, std::filesystem::current_path(), seen);
  auto& impl = *doc->impl_;
  impl.root = impl.new_state("");
  for (const auto& f : impl.files) impl.root->layers.push_back(&f);
  impl.root->pos = SourcePos{name, 0, 0};
  impl.root->declared.insert("base");
  return doc;
}

std::unique_ptr<ConfigDocument> ConfigDocument::from_file(const std::string& path) {
  std::string why;
  auto text = read_config_file(path, &why);
  if (!text) {
    std::unique_ptr<ConfigDocument> doc = from_string("", path);
    doc->impl_->diagnostics.push_back({SourcePos{path, 0, 0}, why});
    return doc;
  }
  std::unique_ptr<ConfigDocument> doc(new ConfigDocument());
  std::set<std::string> seen{std::filesystem::weakly_canonical(path).string()};
  load_chain(*doc->impl_, *text, path, std::filesystem::path(path).parent_path(), seen);
  auto& impl = *doc->impl_;
  impl.root = impl.new_state("");
  for (const auto& f : impl.files) impl.root->layers.push_back(&f);
  impl.root->pos = SourcePos{path, 0, 0};
  impl.root->declared.insert("base");
  return doc;
}

void ConfigDocument::apply_override(std::string_view assignment) {
  auto eq = assignment.find('=');
  SourcePos where{"--set " + bounded_for_message(assignment), 0, 0};
  if (eq == std::string_view::npos || eq == 0) {
    add_error(where, "expected key.path=value");
    return;
  }
  std::string key(assignment.substr(0, eq));
  std::string value(assignment.substr(eq + 1));
  // The key path: dot-separated names, each optionally indexed ("workload[1].threads").
  bool key_ok = std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '[' || c == ']';
  });
  if (!key_ok || key.front() == '.' || key.back() == '.' || key.find("..") != std::string::npos) {
    add_error(where, "invalid key path \"" + key + "\": expected names separated by dots, e.g. cache.l1d.ways");
    return;
  }
  auto holder = std::make_shared<toml::table>();
  try {
    *holder = toml::parse("v = " + value, "--set " + key);
  } catch (const toml::parse_error&) {
    try {
      *holder = toml::parse("v = " + quote(value), "--set " + key);
    } catch (const toml::parse_error&) {
      add_error(where, "cannot parse value " + quote_bounded(value));
      return;
    }
  }
  Override ov;
  ov.holder = holder;
  ov.value = holder->get("v");
  ov.pos = where;
  impl_->overrides[key] = std::move(ov);
}

Config ConfigDocument::root() { return Config(this, impl_->root); }

void ConfigDocument::add_error(SourcePos where, std::string message) {
  impl_->diagnostics.push_back({std::move(where), std::move(message)});
}

const std::vector<Diagnostic>& ConfigDocument::diagnostics() const { return impl_->diagnostics; }

void ConfigDocument::check() const {
  if (!impl_->diagnostics.empty()) throw ConfigErrors(impl_->diagnostics);
}

namespace {
void check_unknown(ConfigDocument& doc, const ConfigTableState& state) {
  std::set<std::string> reported;
  for (const toml::table* layer : state.layers) {
    for (auto&& [key, node] : *layer) {
      std::string k(key.str());
      if (state.declared.count(k) || reported.count(k)) continue;
      reported.insert(k);
      std::string where = state.path.empty() ? "at the top level" : "in [" + state.path + "]";
      std::string msg = "unknown key '" + k + "' " + where;
      std::string best;
      std::size_t best_d = SIZE_MAX;
      for (const auto& d : state.declared) {
        std::size_t dist = edit_distance(k, d);
        if (dist < best_d) best_d = dist, best = d;
      }
      if (!best.empty() && best_d <= std::max<std::size_t>(2, k.size() / 3)) {
        msg += "; did you mean '" + best + "'?";
      } else if (!state.declared.empty()) {
        msg += "; valid keys are:";
        for (const auto& d : state.declared) msg += " " + d;
      }
      doc.add_error(pos_of(key.source()), msg);
    }
  }
}
}  // namespace

void ConfigDocument::finish() {
  for (const auto& st : impl_->states) check_unknown(*this, st);
  for (const auto& [path, ov] : impl_->overrides) {
    if (!ov.used) add_error(ov.pos, "unknown key '" + path + "': no parameter of this configuration has that path");
  }
  std::stable_sort(impl_->diagnostics.begin(), impl_->diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    // Within a file by position; diagnostics without a position (whole-file or missing keys) last.
    if (a.where.file != b.where.file) return false;
    int la = a.where.line > 0 ? a.where.line : INT32_MAX, lb = b.where.line > 0 ? b.where.line : INT32_MAX;
    return std::tie(la, a.where.column) < std::tie(lb, b.where.column);
  });
  check();
}

namespace {
void emit_table(std::ostream& out, const ConfigTableState& st, const std::string& header, bool array_element) {
  if (!header.empty()) {
    out << "\n" << (array_element ? "[[" : "[") << header << (array_element ? "]]" : "]");
    if (!st.description.empty()) out << "  # " << st.description;
    out << "\n";
  }
  for (const auto& e : st.entries) {
    out << key_text(e.key) << " = " << e.value;
    if (!e.description.empty()) out << "  # " << e.description;
    out << "\n";
  }
  for (const auto& [key, child] : st.children) {
    emit_table(out, *child, header.empty() ? key_text(key) : header + "." + key_text(key), false);
  }
  for (const auto& [key, elems] : st.arrays) {
    for (const auto* e : elems)
      emit_table(out, *e, header.empty() ? key_text(key) : header + "." + key_text(key), true);
  }
}
}  // namespace

std::string ConfigDocument::resolved_toml() const {
  std::ostringstream out;
  out << "# Resolved configuration: every parameter with the value in force (defaults filled in).\n";
  emit_table(out, *impl_->root, "", false);
  return out.str();
}

// ---------------------------------------------------------------------------
// Config views

namespace {
struct Found {
  const toml::node* node = nullptr;
  SourcePos pos;
};

Found lookup(ConfigDocument::Impl& impl, ConfigTableState& st, std::string_view key) {
  st.declared.insert(std::string(key));
  auto ov = impl.overrides.find(child_path(st.path, key));
  if (ov != impl.overrides.end()) {
    ov->second.used = true;
    return {ov->second.value, ov->second.pos};
  }
  for (const toml::table* layer : st.layers) {
    if (const toml::node* n = layer->get(key)) return {n, pos_of(n->source())};
  }
  return {};
}

template <class T>
std::string range_text(const Range<T>& r) {
  if (r.min && r.max) return " in [" + std::to_string(*r.min) + ", " + std::to_string(*r.max) + "]";
  if (r.min) return " >= " + std::to_string(*r.min);
  if (r.max) return " <= " + std::to_string(*r.max);
  return "";
}

template <class Q, class ToString>
std::string quantity_range_text(const Range<Q>& r, ToString fmt) {
  if (r.min && r.max) return " in [" + fmt(*r.min) + ", " + fmt(*r.max) + "]";
  if (r.min) return " >= " + fmt(*r.min);
  if (r.max) return " <= " + fmt(*r.max);
  return "";
}

// Converts a node to T; on failure sets `expected` (what would have been valid).
template <class T>
std::optional<T> convert(const toml::node& n, const Range<T>& range, std::string& expected);

template <class T>
requires std::is_integral_v<T> &&
    (!std::is_same_v<T, bool>)std::optional<T> convert_integer(const toml::node& n, const Range<T>& range,
                                                               std::string& expected) {
  expected = "an integer" + range_text(range);
  auto v = n.value_exact<std::int64_t>();
  if (!v) return std::nullopt;
  if (*v < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
      (std::is_unsigned_v<T>
           ? static_cast<std::uint64_t>(*v) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())
           : *v > static_cast<std::int64_t>(std::numeric_limits<T>::max())))
    return std::nullopt;
  T t = static_cast<T>(*v);
  if ((range.min && t < *range.min) || (range.max && t > *range.max)) return std::nullopt;
  return t;
}

template <class Q, class Parse, class Fmt>
std::optional<Q> convert_quantity(const toml::node& n, const Range<Q>& range, std::string& expected, Parse parse,
                                  Fmt fmt, const char* what) {
  expected = std::string(what) + quantity_range_text(range, fmt);
  auto s = n.value_exact<std::string>();
  if (!s) {
    std::string why;
    parse("", &why);
    expected = why + quantity_range_text(range, fmt);
    return std::nullopt;
  }
  std::string why;
  auto q = parse(*s, &why);
  if (!q) {
    expected = why;
    return std::nullopt;
  }
  if ((range.min && *q < *range.min) || (range.max && *range.max < *q)) return std::nullopt;
  return q;
}

std::string to_toml(bool v) { return v ? "true" : "false"; }
template <class T>
requires std::is_integral_v<T> std::string to_toml(T v) { return std::to_string(v); }
std::string to_toml(double v) {
  std::ostringstream o;
  o << v;
  std::string s = o.str();
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}
std::string to_toml(const std::string& v) { return quote(v); }
std::string to_toml(Bytes v) { return quote(format_size(v)); }
std::string to_toml(Picoseconds v) { return quote(format_time(v)); }
std::string to_toml(Frequency v) { return quote(format_frequency(v)); }
std::string to_toml(Bandwidth v) { return quote(format_bandwidth(v)); }
std::string to_toml(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
std::string to_toml(const std::vector<std::vector<std::int64_t>>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + to_toml(v[i]);
  return s + "]";
}

template <class T>
std::optional<T> convert(const toml::node& n, const Range<T>& range, std::string& expected) {
  if constexpr (std::is_same_v<T, bool>) {
    expected = "true or false";
    return n.value_exact<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    return convert_integer<T>(n, range, expected);
  } else if constexpr (std::is_same_v<T, double>) {
    // One rule for numbers: finite and in range (NaN compares false against any
    // bound, so it would otherwise pass every range check).
    expected = "a finite number" + range_text(range);
    auto v = n.value<double>();
    if (!v || !std::isfinite(*v) || (range.min && *v < *range.min) || (range.max && *v > *range.max))
      return std::nullopt;
    return v;
  } else if constexpr (std::is_same_v<T, std::string>) {
    expected = "a string";
    return n.value_exact<std::string>();
  } else if constexpr (std::is_same_v<T, Bytes>) {
    return convert_quantity<Bytes>(n, range, expected, parse_size, format_size, "a size");
  } else if constexpr (std::is_same_v<T, Picoseconds>) {
    return convert_quantity<Picoseconds>(n, range, expected, parse_time, format_time, "a time");
  } else if constexpr (std::is_same_v<T, Frequency>) {
    expected = "a frequency";
    auto s = n.value_exact<std::string>();
    std::string why;
    auto f = parse_frequency(s ? *s : std::string(), &why);
    if (!f) expected = why;
    return f;
  } else if constexpr (std::is_same_v<T, Bandwidth>) {
    expected = "a bandwidth";
    auto s = n.value_exact<std::string>();
    std::string why;
    auto b = parse_bandwidth(s ? *s : std::string(), &why);
    if (!b) expected = why;
    return b;
  } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
    expected = "an array of integers";
    const toml::array* a = n.as_array();
    if (!a) return std::nullopt;
    std::vector<std::int64_t> out;
    for (const auto& e : *a) {
      auto v = e.value_exact<std::int64_t>();
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  } else if constexpr (std::is_same_v<T, std::vector<std::vector<std::int64_t>>>) {
    expected = "an array of arrays of integers";
    const toml::array* a = n.as_array();
    if (!a) return std::nullopt;
    std::vector<std::vector<std::int64_t>> out;
    for (const auto& row : *a) {
      const toml::array* r = row.as_array();
      if (!r) return std::nullopt;
      out.emplace_back();
      for (const auto& e : *r) {
        auto v = e.value_exact<std::int64_t>();
        if (!v) return std::nullopt;
        out.back().push_back(*v);
      }
    }
    return out;
  } else {
    static_assert(sizeof(T) == 0, "unsupported configuration value type");
  }
}

std::string got_text(const toml::node& n) { return type_name(n); }
}  // namespace

template <class T>
T Config::get(std::string_view key, T def, std::string_view description, Range<T> range) {
  auto& impl = *doc_->impl_;
  Found f = lookup(impl, *state_, key);
  T value = def;
  if (f.node) {
    std::string expected;
    auto v = convert<T>(*f.node, range, expected);
    if (v) {
      value = *v;
    } else {
      doc_->add_error(f.pos, child_path(state_->path, key) + ": expected " +
                                 (expected.rfind("expected ", 0) == 0 ? expected.substr(9) : expected) + ", got " +
                                 got_text(*f.node));
    }
  }
  state_->entries.push_back({std::string(key), to_toml(value), std::string(description)});
  return value;
}

template <class T>
T Config::require(std::string_view key, std::string_view description, Range<T> range) {
  if (!has(key)) {
    auto& impl = *doc_->impl_;
    lookup(impl, *state_, key);
    std::string where = state_->path.empty() ? "at the top level" : "in [" + state_->path + "]";
    doc_->add_error(state_->pos,
                    "missing required key '" + std::string(key) + "' " + where + " (" + std::string(description) + ")");
    return T{};
  }
  return get<T>(key, T{}, description, range);
}

std::string Config::get_choice(std::string_view key, std::string_view def, const std::vector<std::string>& choices,
                               std::string_view description) {
  auto& impl = *doc_->impl_;
  Found f = lookup(impl, *state_, key);
  std::string value(def);
  if (f.node) {
    auto s = f.node->value_exact<std::string>();
    if (s && std::find(choices.begin(), choices.end(), *s) != choices.end()) {
      value = *s;
    } else {
      std::string list;
      for (const auto& c : choices) list += (list.empty() ? "" : ", ") + quote(c);
      doc_->add_error(f.pos,
                      child_path(state_->path, key) + ": expected one of " + list + ", got " + got_text(*f.node));
    }
  }
  std::string desc(description);
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  state_->entries.push_back({std::string(key), quote(value), desc.empty() ? list : desc + " (" + list + ")"});
  return value;
}

bool Config::has(std::string_view key) const {
  auto& impl = *doc_->impl_;
  if (impl.overrides.count(child_path(state_->path, key))) return true;
  for (const toml::table* layer : state_->layers)
    if (layer->get(key)) return true;
  return false;
}

Config Config::table(std::string_view key, std::string_view description) {
  auto& impl = *doc_->impl_;
  for (auto& [k, child] : state_->children)
    if (k == key) return Config(doc_, child);
  state_->declared.insert(std::string(key));
  ConfigTableState* child = impl.new_state(child_path(state_->path, key));
  child->description = std::string(description);
  child->pos = state_->pos;
  bool first = true;
  for (const toml::table* layer : state_->layers) {
    const toml::node* n = layer->get(key);
    if (!n) continue;
    if (const toml::table* t = n->as_table()) {
      child->layers.push_back(t);
      if (first) child->pos = pos_of(n->source()), first = false;
    } else {
      doc_->add_error(pos_of(n->source()), child->path + ": expected a table, got " + got_text(*n));
    }
  }
  state_->children.emplace_back(std::string(key), child);
  return Config(doc_, child);
}

std::vector<Config> Config::tables(std::string_view key, std::string_view description) {
  auto& impl = *doc_->impl_;
  state_->declared.insert(std::string(key));
  std::vector<Config> out;
  for (auto& [k, elems] : state_->arrays) {
    if (k == key) {
      for (auto* e : elems) out.push_back(Config(doc_, e));
      return out;
    }
  }
  std::vector<ConfigTableState*> elems;
  // Arrays of tables are replaced whole by a higher layer, not merged.
  for (const toml::table* layer : state_->layers) {
    const toml::node* n = layer->get(key);
    if (!n) continue;
    const toml::array* arr = n->as_array();
    if (!arr || !arr->is_array_of_tables()) {
      doc_->add_error(pos_of(n->source()), child_path(state_->path, key) + ": expected an array of tables ([[" +
                                               child_path(state_->path, key) + "]]), got " + got_text(*n));
      break;
    }
    for (std::size_t i = 0; i < arr->size(); ++i) {
      ConfigTableState* e = impl.new_state(child_path(state_->path, key) + "[" + std::to_string(i) + "]");
      e->layers.push_back(arr->get(i)->as_table());
      e->pos = pos_of(arr->get(i)->source());
      e->description = std::string(description);
      elems.push_back(e);
    }
    break;
  }
  state_->arrays.emplace_back(std::string(key), elems);
  for (auto* e : elems) out.push_back(Config(doc_, e));
  return out;
}

void Config::ignore(std::string_view key) { state_->declared.insert(std::string(key)); }

void Config::error(std::string_view key, std::string message) const {
  SourcePos p = position(key);
  std::string prefix = key.empty() ? state_->path : child_path(state_->path, key);
  doc_->add_error(p, prefix.empty() ? message : prefix + ": " + message);
}

const std::string& Config::path() const { return state_->path; }

SourcePos Config::position(std::string_view key) const {
  if (!key.empty()) {
    auto& impl = *doc_->impl_;
    auto ov = impl.overrides.find(child_path(state_->path, key));
    if (ov != impl.overrides.end()) return ov->second.pos;
    for (const toml::table* layer : state_->layers)
      if (const toml::node* n = layer->get(key)) return pos_of(n->source());
  }
  return state_->pos;
}

#define NUMASIM_CONFIG_TYPE(T)                                                \
  template T Config::get<T>(std::string_view, T, std::string_view, Range<T>); \
  template T Config::require<T>(std::string_view, std::string_view, Range<T>);
NUMASIM_CONFIG_TYPE(bool)
NUMASIM_CONFIG_TYPE(int)
NUMASIM_CONFIG_TYPE(unsigned)
NUMASIM_CONFIG_TYPE(long)
NUMASIM_CONFIG_TYPE(unsigned long)
NUMASIM_CONFIG_TYPE(long long)
NUMASIM_CONFIG_TYPE(unsigned long long)
NUMASIM_CONFIG_TYPE(double)
NUMASIM_CONFIG_TYPE(std::string)
NUMASIM_CONFIG_TYPE(Bytes)
NUMASIM_CONFIG_TYPE(Picoseconds)
NUMASIM_CONFIG_TYPE(Frequency)
NUMASIM_CONFIG_TYPE(Bandwidth)
NUMASIM_CONFIG_TYPE(std::vector<std::int64_t>)
NUMASIM_CONFIG_TYPE(std::vector<std::vector<std::int64_t>>)
#undef NUMASIM_CONFIG_TYPE

}  // namespace numasim
