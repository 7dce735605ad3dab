// Reads one scalar out of a JSON document by a dotted path ("sim.host_seconds",
// "nodes.1.numastat.numa_hit", "workloads.0.calls.2.errno"; numbers index
// arrays), for the sweep's figure columns. A small validating recursive-descent
// scanner: no tree is built, values off the path are skipped.
// Simplified: strings are returned with escapes resolved only for \" \\ \/ and
// \n; \u escapes are kept as written.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace numasim::workloads {

// The scalar at `path` as text (a number as written, a string without quotes,
// true/false/null), or nullopt when the path does not exist, leads to an object
// or array, or the document is malformed before the value (text after it is
// not checked).
std::optional<std::string> json_lookup(std::string_view json, std::string_view path);

}  // namespace numasim::workloads
