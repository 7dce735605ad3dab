// Converting Valgrind Lackey text traces to the compact binary trace format
// (trace_format.h). The CLI's `numasim trace-convert IN OUT` calls this.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>
#include <string>

namespace numasim::workloads {

struct TraceConvertStats {
  std::uint64_t records = 0;
  std::uint64_t instr = 0, loads = 0, stores = 0, modifies = 0;
  std::uint64_t text_bytes = 0;    // input size
  std::uint64_t binary_bytes = 0;  // output size
};

// Streams: `name` is used in error messages. Throws TraceError on bad input.
TraceConvertStats convert_lackey_to_binary(std::istream& in, const std::string& name, std::ostream& out);
// Files; throws TraceError on bad input or when a file cannot be opened/written.
TraceConvertStats convert_lackey_to_binary(const std::string& in_path, const std::string& out_path);

}  // namespace numasim::workloads
