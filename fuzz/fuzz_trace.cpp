// libFuzzer target: the trace readers. The input is read as a Lackey text
// trace and, independently, as a binary trace (with and without the magic
// prepended). Malformed input must be a TraceError with the position; any other
// outcome (crash, sanitizer report, unbounded allocation) is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "workloads/trace_format.h"

namespace {
void read_all_lackey(const std::string& text) {
  std::istringstream in(text);
  numasim::workloads::LackeyReader r(in, "fuzz.lackey");
  numasim::workloads::TraceRecord rec;
  try {
    while (r.next(rec)) {
    }
  } catch (const numasim::workloads::TraceError&) {
  }
}

void read_all_binary(const std::string& bytes) {
  std::istringstream in(bytes);
  numasim::workloads::TraceRecord rec;
  try {
    numasim::workloads::BinaryTraceReader r(in, "fuzz.trace");
    while (r.next(rec)) {
    }
  } catch (const numasim::workloads::TraceError&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  read_all_lackey(input);
  read_all_binary(input);
  std::ostringstream with_header;
  numasim::workloads::BinaryTraceWriter w(with_header);
  w.finish();
  read_all_binary(with_header.str().substr(0, 8) + input);  // past the magic
  return 0;
}
