// Lackey text -> binary trace conversion.
#include "workloads/trace_convert.h"

#include <sys/stat.h>

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
  std::ifstream in = open_trace_file(in_path);
  // Opening the output truncates it: refuse when it is the input under any name
  // (the same path, a symbolic link or a hard link: same device and inode).
  struct stat in_st {}, out_st {};
  if (::stat(in_path.c_str(), &in_st) == 0 && ::stat(out_path.c_str(), &out_st) == 0 &&
      in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
    throw TraceError(out_path + ": error: the output is the input file " + in_path + " (it would be truncated)");
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) throw TraceError(out_path + ": error: cannot create output file");
  TraceConvertStats st = convert_lackey_to_binary(in, in_path, out);
  out.close();
  if (!out) throw TraceError(out_path + ": error: write failed");
  return st;
}

}  // namespace numasim::workloads
