// Lackey text parsing and the binary trace encoding.
#include "workloads/trace_format.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace numasim::workloads {

namespace {
std::string shown(std::string_view line) {
  std::string s(line.substr(0, 60));
  if (line.size() > 60) s += "...";
  return s;
}
}  // namespace

bool LackeyReader::next(TraceRecord& r) {
  while (std::getline(in_, buf_)) {
    ++line_;
    std::string_view l = buf_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty() || l.rfind("==", 0) == 0 || l.rfind("--", 0) == 0) continue;
    auto fail = [&](const std::string& what) {
      throw TraceError(name_ + ":" + std::to_string(line_) + ": error: " + what + ", got \"" + shown(l) + "\"");
    };
    std::size_t p = 0;
    if (l.size() >= 3 && l[0] == 'I' && l[1] == ' ' && l[2] == ' ') {
      r.kind = TraceKind::Instr;
      p = 3;
    } else if (l.size() >= 3 && l[0] == ' ' && l[2] == ' ' && (l[1] == 'L' || l[1] == 'S' || l[1] == 'M')) {
      r.kind = l[1] == 'L' ? TraceKind::Load : l[1] == 'S' ? TraceKind::Store : TraceKind::Modify;
      p = 3;
    } else {
      fail("expected \"I  addr,size\" or \" L|S|M addr,size\"");
    }
    auto comma = l.find(',', p);
    if (comma == std::string_view::npos) fail("expected \"addr,size\" after the access kind");
    const char* a0 = l.data() + p;
    const char* a1 = l.data() + comma;
    auto [pa, ea] = std::from_chars(a0, a1, r.addr, 16);
    if (ea != std::errc() || pa != a1 || a0 == a1) fail("expected a hexadecimal address");
    std::string_view sz = l.substr(comma + 1);
    while (!sz.empty() && sz.back() == ' ') sz.remove_suffix(1);
    auto [ps, es] = std::from_chars(sz.data(), sz.data() + sz.size(), r.size, 10);
    if (es != std::errc() || ps != sz.data() + sz.size() || sz.empty()) fail("expected a decimal size after the comma");
    return true;
  }
  return false;
}

namespace {
void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) { return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1); }
}  // namespace

BinaryTraceWriter::BinaryTraceWriter(std::ostream& out) : out_(out) {
  header_pos_ = out_.tellp();
  std::string h(kTraceMagic, 8);
  put_le(h, kTraceVersion, 4);
  put_le(h, 0, 4);
  put_le(h, 0, 8);
  out_.write(h.data(), static_cast<std::streamsize>(h.size()));
}

void BinaryTraceWriter::write(const TraceRecord& r) {
  buf_.clear();
  std::uint8_t tag = static_cast<std::uint8_t>(r.kind);
  if (r.size < 63) {
    buf_.push_back(static_cast<char>(tag | (r.size << 2)));
  } else {
    buf_.push_back(static_cast<char>(tag | (63u << 2)));
    put_varint(buf_, r.size);
  }
  int stream = r.kind == TraceKind::Instr ? 0 : 1;
  put_varint(buf_, zigzag(static_cast<std::int64_t>(r.addr - prev_[stream])));
  prev_[stream] = r.addr;
  out_.write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  ++count_;
}

void BinaryTraceWriter::finish() {
  auto end = out_.tellp();
  out_.seekp(header_pos_ + std::streamoff(16));
  std::string c;
  put_le(c, count_, 8);
  out_.write(c.data(), 8);
  out_.seekp(end);
  out_.flush();
}

BinaryTraceReader::BinaryTraceReader(std::istream& in, std::string name) : in_(in), name_(std::move(name)) {
  char h[24];
  in_.read(h, 24);
  if (in_.gcount() < 8 || std::memcmp(h, kTraceMagic, 8) != 0) error("not a numasim binary trace (bad magic)");
  if (in_.gcount() < 24) error("truncated header (24 bytes expected)");
  auto le = [&](int at, int bytes) {
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(h[at + i]);
    return v;
  };
  std::uint64_t version = le(8, 4);
  if (version != kTraceVersion)
    error("unsupported trace version " + std::to_string(version) + " (this build reads version " +
          std::to_string(kTraceVersion) + ")");
  declared_ = le(16, 8);
  offset_ = 24;
}

void BinaryTraceReader::error(const std::string& what) const {
  throw TraceError(name_ + ": byte " + std::to_string(offset_) + ": error: " + what);
}

std::uint64_t BinaryTraceReader::varint(const char* what) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    int c = in_.get();
    if (c == EOF) error(std::string("record ") + std::to_string(read_) + ": truncated " + what);
    ++offset_;
    v |= static_cast<std::uint64_t>(c & 0x7F) << shift;
    if (!(c & 0x80)) return v;
  }
  error(std::string("record ") + std::to_string(read_) + ": " + what + " longer than 10 bytes");
}

bool BinaryTraceReader::next(TraceRecord& r) {
  int tag = in_.get();
  if (tag == EOF) {
    if (read_ != declared_)
      error("trace ends after " + std::to_string(read_) + " records, the header declares " + std::to_string(declared_));
    return false;
  }
  if (read_ == declared_) error("more records than the header declares (" + std::to_string(declared_) + ")");
  ++offset_;
  r.kind = static_cast<TraceKind>(tag & 3);
  std::uint32_t size = static_cast<std::uint32_t>(tag) >> 2;
  if (size == 63) {
    std::uint64_t s = varint("size");
    if (s > 0xFFFFFFFFull) error("record " + std::to_string(read_) + ": size too large");
    size = static_cast<std::uint32_t>(s);
  }
  r.size = size;
  int stream = r.kind == TraceKind::Instr ? 0 : 1;
  r.addr = prev_[stream] + static_cast<std::uint64_t>(unzigzag(varint("address delta")));
  prev_[stream] = r.addr;
  ++read_;
  return true;
}

bool is_binary_trace(std::istream& in) {
  char m[8] = {};
  auto pos = in.tellg();
  in.read(m, 8);
  bool bin = in.gcount() == 8 && std::memcmp(m, kTraceMagic, 8) == 0;
  in.clear();
  in.seekg(pos);
  return bin;
}

std::ifstream open_trace_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw TraceError(path + ": error: is a directory, not a trace file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path + ": error: cannot open trace file");
  return in;
}

std::vector<TraceRecord> read_trace_file(const std::string& path) {
  std::ifstream in = open_trace_file(path);
  std::vector<TraceRecord> out;
  TraceRecord r;
  if (is_binary_trace(in)) {
    BinaryTraceReader reader(in, path);
    out.reserve(std::min<std::uint64_t>(reader.declared_records(), 1u << 20));  // the header may lie
    while (reader.next(r)) out.push_back(r);
  } else {
    LackeyReader reader(in, path);
    while (reader.next(r)) out.push_back(r);
  }
  return out;
}

}  // namespace numasim::workloads
