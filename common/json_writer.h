// A small streaming JSON writer for statistics and study results: keys keep the
// order they are written in, doubles print with up to 6 significant decimals
// (deterministic across runs), strings are escaped. No parsing.
//
//   JsonWriter j;  j.begin_object(); j.key("unit").value("ns");
//   j.key("matrix").begin_array(); ... j.end_array(); j.end_object();  j.str()
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace numasim {

class JsonWriter {
 public:
  explicit JsonWriter(bool pretty = true) : pretty_(pretty) {}
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view v);
  JsonWriter& value(const char* v) { return value(std::string_view(v)); }
  JsonWriter& value(const std::string& v) { return value(std::string_view(v)); }
  JsonWriter& value(bool v);
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  JsonWriter& value(long long v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned long long v) { return value(static_cast<std::uint64_t>(v)); }
  JsonWriter& value(double v);
  JsonWriter& null();
  // Inserts an already-serialised JSON value (e.g. a study's to_json()).
  JsonWriter& raw(std::string_view json);
  const std::string& str() const { return out_; }

 private:
  void before_value();
  void newline();
  std::string out_;
  std::vector<bool> first_;  // per open container: no element written yet
  bool after_key_ = false;
  bool pretty_;
};

std::string json_escape(std::string_view s);

}  // namespace numasim
