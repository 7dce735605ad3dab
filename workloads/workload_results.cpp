// WorkloadResults: counters, errors and scripted call logs of one workload,
// serialised with the project's JSON writer (stable key order).
#include "common/json_writer.h"
#include "workloads/linux_abi.h"
#include "workloads/workload_spec.h"

namespace numasim::workloads {

void WorkloadResults::add_counter(const std::string& name, std::uint64_t value) {
  for (auto& [k, v] : counters_) {
    if (k == name) {
      v += value;
      return;
    }
  }
  counters_.emplace_back(name, value);
}

std::string WorkloadResults::to_json(bool pretty) const {
  JsonWriter j(pretty);
  j.begin_object();
  j.key("name").value(name_);
  j.key("kind").value(kind_);
  j.key("counters").begin_object();
  for (const auto& [k, v] : counters_) j.key(k).value(v);
  j.end_object();
  j.key("errors").begin_array();
  for (const auto& e : errors_) j.value(e);
  j.end_array();
  if (!calls_.empty() || kind_ == "script") {
    j.key("calls").begin_array();
    for (const auto& c : calls_) {
      j.begin_object();
      j.key("call").value(c.call);
      j.key("ret").value(static_cast<std::int64_t>(c.ret < 0 ? -1 : c.ret));
      if (c.ret < 0) j.key("errno").value(abi::errno_name(static_cast<int>(-c.ret)));
      for (const auto& [k, v] : c.fields) j.key(k).raw(v);
      j.end_object();
    }
    j.end_array();
  }
  j.end_object();
  return j.str();
}

}  // namespace numasim::workloads
