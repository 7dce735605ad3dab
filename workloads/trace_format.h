// Memory-reference traces: one record per instruction fetch (I), load (L),
// store (S) or modify (M = load then store) with its address and size.
//
// Text input: Valgrind Lackey's `--trace-mem=yes` output ("I  0401000,3",
// " L 1ffefffd48,8", " S ...", " M ..."; addresses in hex). Lines starting with
// "==" (Valgrind's own messages) and blank lines are skipped; anything else is
// an error naming file:line and what was expected.
//
// Binary format (compact, streamable), all integers little-endian:
//   header: 8 bytes magic "NSIMTRC\0", u32 version (1), u32 reserved (0),
//           u64 record count
//   record: tag byte = kind (bits 0-1: 0 I, 1 L, 2 S, 3 M) | size << 2 for
//           sizes 0..62, or 63 << 2 followed by the size as a LEB128 varint;
//           then the address as a zigzag LEB128 varint delta from the previous
//           address of the same stream (instruction fetches and data accesses
//           are two streams, each starting at 0).
// A Lackey trace of a small program shrinks to 2-3 bytes per record.
#pragma once

#include <cstdint>
#include <fstream>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace numasim::workloads {

enum class TraceKind : std::uint8_t { Instr = 0, Load = 1, Store = 2, Modify = 3 };

struct TraceRecord {
  std::uint64_t addr = 0;
  std::uint32_t size = 0;
  TraceKind kind = TraceKind::Load;
  friend bool operator==(const TraceRecord&, const TraceRecord&) = default;
};

// A malformed trace; what() is "file:line: error: ..." (text) or
// "file: byte N: error: ..." (binary).
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr char kTraceMagic[8] = {'N', 'S', 'I', 'M', 'T', 'R', 'C', '\0'};
inline constexpr std::uint32_t kTraceVersion = 1;

// Streams records out of Lackey text.
class LackeyReader {
 public:
  LackeyReader(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {}
  // Next record; false at end of input. Throws TraceError on a malformed line.
  bool next(TraceRecord& r);
  int line() const { return line_; }

 private:
  std::istream& in_;
  std::string name_;
  std::string buf_;
  int line_ = 0;
};

// Writes the binary format; finish() patches the record count into the header
// (the stream must be seekable) and must be called once at the end.
class BinaryTraceWriter {
 public:
  explicit BinaryTraceWriter(std::ostream& out);
  void write(const TraceRecord& r);
  void finish();
  std::uint64_t records() const { return count_; }

 private:
  std::ostream& out_;
  std::streampos header_pos_;
  std::uint64_t count_ = 0;
  std::uint64_t prev_[2] = {0, 0};
  std::string buf_;
};

// Reads the binary format, checking magic, version, truncation and the count.
class BinaryTraceReader {
 public:
  BinaryTraceReader(std::istream& in, std::string name);  // reads and checks the header
  bool next(TraceRecord& r);
  std::uint64_t declared_records() const { return declared_; }

 private:
  [[noreturn]] void error(const std::string& what) const;
  std::uint64_t varint(const char* what);
  std::istream& in_;
  std::string name_;
  std::uint64_t offset_ = 0;
  std::uint64_t declared_ = 0;
  std::uint64_t read_ = 0;
  std::uint64_t prev_[2] = {0, 0};
};

// True when the stream starts with the binary magic (the stream is rewound).
bool is_binary_trace(std::istream& in);

// Every record of a trace file, text or binary (detected by the magic).
std::vector<TraceRecord> read_trace_file(const std::string& path);

// Opens a trace file for reading; throws TraceError ("PATH: error: ...") when it
// cannot be opened or is a directory (which an ifstream would read as empty).
std::ifstream open_trace_file(const std::string& path);

}  // namespace numasim::workloads
