// Lackey text -> binary trace conversion.
#include "workloads/trace_convert.h"

#include <fstream>

#include "workloads/trace_format.h"

namespace numasim::workloads {

TraceConvertStats convert_lackey_to_binary(std::istream& in, const std::string& name, std::ostream& out) {
  TraceConvertStats st;
  auto in_start = in.tellg();
  auto out_start = out.tellp();
  LackeyReader reader(in, name);
  BinaryTraceWriter writer(out);
  TraceRecord r;
  while (reader.next(r)) {
    writer.write(r);
    ++st.records;
    switch (r.kind) {
      case TraceKind::Instr:
        ++st.instr;
        break;
      case TraceKind::Load:
        ++st.loads;
        break;
      case TraceKind::Store:
        ++st.stores;
        break;
      case TraceKind::Modify:
        ++st.modifies;
        break;
    }
  }
  writer.finish();
  in.clear();
  auto in_end = in.tellg();
  if (in_start >= 0 && in_end >= 0) st.text_bytes = static_cast<std::uint64_t>(in_end - in_start);
  st.binary_bytes = static_cast<std::uint64_t>(out.tellp() - out_start);
  return st;
}

TraceConvertStats convert_lackey_to_binary(const std::string& in_path, const std::string& out_path) {
  std::ifstream in(in_path, std::ios::binary);
  if (!in) throw TraceError(in_path + ": error: cannot open trace file");
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) throw TraceError(out_path + ": error: cannot create output file");
  TraceConvertStats st = convert_lackey_to_binary(in, in_path, out);
  out.close();
  if (!out) throw TraceError(out_path + ": error: write failed");
  return st;
}

}  // namespace numasim::workloads
