// A fake ThreadContext for generator tests: an address space that hands out
// mappings like a bump allocator, records every system call with its
// arguments and result, drains the core's batch into a flat op log (as the
// core would execute it) whenever a system call, flush() or now() happens, and
// counts accesses that fall outside every mapping.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/op.h"
#include "workloads/linux_abi.h"

namespace numasim::workloads::wltest {

struct FakeMm {
  std::map<VirtAddr, std::uint64_t> maps;  // start -> length
  std::map<VirtAddr, int> map_flags;
  std::map<std::string, std::uint64_t> files;  // path -> size (the fake's files, shared by its threads)
  std::map<int, std::uint64_t> shm_segments;  // SysV: shmid -> size (the fake creates one on any shmget of a new key)
  std::map<int, int> shm_keys;                 // key -> shmid
  VirtAddr next = 0x7f0000000000ull;
  bool contains(VirtAddr a, std::uint64_t len) const {
    auto it = maps.upper_bound(a);
    if (it == maps.begin()) return false;
    --it;
    return a >= it->first && a + len <= it->first + it->second;
  }
};

struct FakeSyscall {
  std::string name;
  std::uint64_t addr = 0, len = 0;
  long arg = 0;  // prot, advice, mode
  unsigned long flags = 0;
  std::vector<int> nodes;
  long ret = 0;
  std::size_t ops_before = 0;  // ops executed before the call
};

class FakeThreadContext : public hw::ThreadContext {
 public:
  explicit FakeThreadContext(std::shared_ptr<FakeMm> mm = std::make_shared<FakeMm>(), int cpu = 0, int node = 0)
      : mm_(std::move(mm)), cpu_(cpu), node_(node) {}

  hw::OpBatch* batch = nullptr;  // the batch the driver passes to fill()
  std::vector<hw::Op> ops;       // every op executed, in order
  std::vector<std::uint64_t> tokens;  // per op: its verify token (0 without kOpVerify)
  std::vector<std::uint64_t> prev_tokens;  // per op: a verified store's expected previous token
  std::vector<FakeSyscall> calls;
  std::uint64_t unmapped_accesses = 0;
  int policy_mode = 0;
  std::vector<int> policy_nodes;
  long fail_mmap_after = -1;  // fail every mmap after this many (ENOMEM)
  std::uint64_t clock_ps = 0;

  FakeMm& mm() { return *mm_; }
  CpuId cpu() const override { return CpuId(cpu_); }
  NodeId node() const override { return NodeId(node_); }
  int pid() const override { return 1; }
  Picoseconds now() override {
    flush();
    return Picoseconds(clock_ps);
  }
  void flush() override {
    if (!batch) return;
    for (std::size_t i = 0; i < batch->size(); ++i) {
      const hw::Op& op = (*batch)[i];
      if ((op.kind == hw::OpKind::Load || op.kind == hw::OpKind::Store) && !mm_->contains(op.addr, op.count))
        ++unmapped_accesses;
      clock_ps += 1000;
      ops.push_back(op);
      tokens.push_back((op.flags & hw::kOpVerify) ? batch->token(i) : 0);
      prev_tokens.push_back((op.flags & hw::kOpVerify) ? batch->prev_token(i) : 0);
    }
    batch->clear();
  }

  long sys_mmap(VirtAddr addr, std::uint64_t len, int prot, int flags, int fd, std::uint64_t offset) override {
    flush();
    long ret;
    std::uint64_t pages = (len + 4095) / 4096 * 4096;
    if (len == 0 || !(flags & (abi::kMapPrivate | abi::kMapShared))) {
      ret = -22;
    } else if (!(flags & abi::kMapAnonymous) &&
               (!fds.count(fd) || (!file_mmap && fds.at(fd).path.rfind("memfd:", 0) != 0))) {  // memfds always map
      ret = -9;
    } else if (fail_mmap_after >= 0 && count("mmap") >= fail_mmap_after) {
      ret = -12;
    } else {
      VirtAddr at = (flags & abi::kMapFixed) ? addr : mm_->next;
      if (!(flags & abi::kMapFixed)) mm_->next += pages + 4096;  // a guard gap
      mm_->maps[at] = pages;
      mm_->map_flags[at] = flags;
      ret = static_cast<long>(at);
    }
    calls.push_back({"mmap", addr, len, prot, static_cast<unsigned long>(flags), {}, ret, ops.size()});
    return ret;
  }
  long sys_munmap(VirtAddr addr, std::uint64_t len) override {
    flush();
    long ret = (addr & 4095) ? -22 : 0;
    if (!ret) mm_->maps.erase(addr);
    calls.push_back({"munmap", addr, len, 0, 0, {}, ret, ops.size()});
    return ret;
  }
  long sys_mprotect(VirtAddr addr, std::uint64_t len, int prot) override {
    flush();
    long ret = (addr & 4095) ? -22 : mm_->contains(addr, len) ? 0 : -12;
    calls.push_back({"mprotect", addr, len, prot, 0, {}, ret, ops.size()});
    return ret;
  }
  long sys_madvise(VirtAddr addr, std::uint64_t len, int advice) override {
    flush();
    long ret = (addr & 4095) ? -22 : mm_->contains(addr, len) ? 0 : -12;
    calls.push_back({"madvise", addr, len, advice, 0, {}, ret, ops.size()});
    return ret;
  }
  long sys_msync(VirtAddr addr, std::uint64_t len, int flags) override {
    flush();
    long ret = (addr & 4095) || (flags & ~7) ? -22 : mm_->contains(addr, len) ? 0 : -12;
    calls.push_back({"msync", addr, len, 0, static_cast<unsigned long>(flags), {}, ret, ops.size()});
    return ret;
  }
  long sys_brk(VirtAddr addr) override { return 0; }
  static std::vector<int> nodes_of(const unsigned long* mask, unsigned long maxnode) {
    std::vector<int> out;
    // As the kernel's get_nodes: more than a page of mask bits is EINVAL before
    // any is read (the script sizes its mask only up to that bound).
    if (!mask || maxnode == 0 || maxnode - 1 > 4096 * 8) return out;
    for (unsigned long n = 0; n + 1 < maxnode; ++n)
      if (mask[n / 64] & (1ul << (n % 64))) out.push_back(static_cast<int>(n));
    return out;
  }
  long sys_mbind(VirtAddr addr, std::uint64_t len, int mode, const unsigned long* nodemask, unsigned long maxnode,
                 unsigned flags) override {
    flush();
    auto nodes = nodes_of(nodemask, maxnode);
    long ret = (addr & 4095) || mode < 0 || mode > 6 ? -22 : (mode == 2 && nodes.empty()) ? -22 : 0;
    calls.push_back({"mbind", addr, len, mode, flags, nodes, ret, ops.size()});
    return ret;
  }
  long sys_set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode) override {
    flush();
    auto nodes = nodes_of(nodemask, maxnode);
    long ret = mode < 0 || mode > 6 || ((mode == 2 || mode == 3) && nodes.empty()) ? -22 : 0;
    if (!ret) policy_mode = mode, policy_nodes = nodes;
    calls.push_back({"set_mempolicy", 0, 0, mode, 0, nodes, ret, ops.size()});
    return ret;
  }
  long sys_get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, VirtAddr addr,
                         unsigned long flags) override {
    flush();
    if (mode) *mode = policy_mode;
    if (nodemask)
      for (int n : policy_nodes) nodemask[n / 64] |= 1ul << (n % 64);
    calls.push_back({"get_mempolicy", addr, 0, policy_mode, flags, policy_nodes, 0, ops.size()});
    return 0;
  }
  long sys_move_pages(unsigned long count, const VirtAddr* pages, const int* nodes, int* status, int flags) override {
    flush();
    for (unsigned long i = 0; i < count; ++i) status[i] = mm_->contains(pages[i], 1) ? (nodes ? nodes[i] : node_) : -14;
    calls.push_back(
        {"move_pages", count ? pages[0] : 0, count, 0, static_cast<unsigned long>(flags), {}, 0, ops.size()});
    return 0;
  }

  // Files: a flat namespace of sizes (no page cache); fds from 3. Each call is
  // recorded with addr = buffer or offset, len = count or length, arg = fd.
  std::map<std::string, std::uint64_t>& files() { return mm_->files; }  // path -> size
  bool file_mmap = false;  // false: mmap of a file fails with EBADF (a kernel without file-backed mmap)
  struct FakeFile {
    std::string path;
    std::uint64_t pos = 0;
    int flags = 0;
  };
  std::map<int, FakeFile> fds;
  long file_call(const char* name, long ret, int fd = -1, std::uint64_t addr = 0, std::uint64_t len = 0,
                 unsigned long flags = 0) {
    calls.push_back({name, addr, len, fd, flags, {}, ret, ops.size()});
    return ret;
  }
  long sys_open(const std::string& path, int flags, unsigned mode) override {
    flush();
    auto it = files().find(path);
    if (it == files().end() && !(flags & 0100)) return file_call("open", -2, -1, 0, 0, static_cast<unsigned>(flags));
    if (it != files().end() && (flags & 0100) && (flags & 0200)) return file_call("open", -17, -1, 0, 0, flags);
    if (it == files().end() || (flags & 01000)) files()[path] = 0;
    int fd = 3;
    while (fds.count(fd)) ++fd;
    fds[fd] = {path, 0, flags};
    return file_call("open", fd, -1, 0, 0, static_cast<unsigned>(flags));
  }
  long sys_creat(const std::string& path, unsigned mode) override { return sys_open(path, 01101, mode); }
  long sys_close(int fd) override {
    flush();
    return file_call("close", fds.erase(fd) ? 0 : -9, fd);
  }
  long fake_rw(const char* name, int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos, bool write) {
    flush();
    auto it = fds.find(fd);
    if (it == fds.end()) return file_call(name, -9, fd, buf, count);
    if (pos < -1) return file_call(name, -22, fd, buf, count);
    if (count && !mm_->contains(buf, count)) return file_call(name, -14, fd, buf, count);
    std::uint64_t& size = files()[it->second.path];
    std::uint64_t p = pos >= 0 ? static_cast<std::uint64_t>(pos) : it->second.pos;
    std::uint64_t n = count;
    if (write) {
      if (p + n > size) size = p + n;
    } else {
      n = p >= size ? 0 : std::min(n, size - p);
    }
    if (pos < 0) it->second.pos = p + n;
    clock_ps += 1000 * (n / 4096 + 1);
    return file_call(name, static_cast<long>(n), fd, buf, count);
  }
  long sys_read(int fd, VirtAddr buf, std::uint64_t count) override { return fake_rw("read", fd, buf, count, -1, false); }
  long sys_write(int fd, VirtAddr buf, std::uint64_t count) override {
    return fake_rw("write", fd, buf, count, -1, true);
  }
  long sys_pread64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) override {
    return fake_rw("pread64", fd, buf, count, pos < 0 ? -2 : pos, false);
  }
  long sys_pwrite64(int fd, VirtAddr buf, std::uint64_t count, std::int64_t pos) override {
    return fake_rw("pwrite64", fd, buf, count, pos < 0 ? -2 : pos, true);
  }
  long sys_lseek(int fd, std::int64_t offset, int whence) override {
    flush();
    auto it = fds.find(fd);
    if (it == fds.end()) return file_call("lseek", -9, fd, static_cast<std::uint64_t>(offset));
    std::int64_t base = whence == 0 ? 0
                        : whence == 1 ? static_cast<std::int64_t>(it->second.pos)
                        : whence == 2 ? static_cast<std::int64_t>(files()[it->second.path])
                                      : -1;
    if (base < 0 || base + offset < 0) return file_call("lseek", -22, fd, static_cast<std::uint64_t>(offset));
    it->second.pos = static_cast<std::uint64_t>(base + offset);
    return file_call("lseek", static_cast<long>(it->second.pos), fd, static_cast<std::uint64_t>(offset));
  }
  long sys_ftruncate(int fd, std::int64_t length) override {
    flush();
    auto it = fds.find(fd);
    if (it == fds.end()) return file_call("ftruncate", -9, fd, 0, static_cast<std::uint64_t>(length));
    if (length < 0) return file_call("ftruncate", -22, fd, 0, static_cast<std::uint64_t>(length));
    files()[it->second.path] = static_cast<std::uint64_t>(length);
    return file_call("ftruncate", 0, fd, 0, static_cast<std::uint64_t>(length));
  }
  long sys_fsync(int fd) override {
    flush();
    return file_call("fsync", fds.count(fd) ? 0 : -9, fd);
  }
  long sys_fdatasync(int fd) override {
    flush();
    return file_call("fdatasync", fds.count(fd) ? 0 : -9, fd);
  }
  long sys_unlink(const std::string& path) override {
    flush();
    return file_call("unlink", files().erase(path) ? 0 : -2);
  }
  // Shared memory: a memfd is a fake file "memfd:<name>"; SysV segments are mapped like anonymous memory.
  long sys_memfd_create(const char* name, unsigned flags) override {
    if (!name) return -14;
    const std::string path = "memfd:" + std::string(name) + ":" + std::to_string(fds.size());
    files()[path] = 0;
    return sys_open(path, 02, flags);
  }
  long sys_shmget(int key, std::uint64_t size, int shmflg) override {
    flush();
    (void)shmflg;
    if (key != 0 && mm_->shm_keys.count(key)) return mm_->shm_keys[key];
    const int id = static_cast<int>(mm_->shm_segments.size());
    mm_->shm_segments[id] = size;
    if (key != 0) mm_->shm_keys[key] = id;
    return id;
  }
  long sys_shmat(int shmid, VirtAddr addr, int shmflg) override {
    auto it = mm_->shm_segments.find(shmid);
    if (it == mm_->shm_segments.end()) return -22;
    (void)shmflg;
    return sys_mmap(addr, it->second, abi::kProtRead | abi::kProtWrite, abi::kMapShared | abi::kMapAnonymous, -1, 0);
  }
  long sys_shmdt(VirtAddr addr) override { return sys_munmap(addr, 4096); }
  long sys_shmctl(int shmid, int cmd, std::uint64_t* segsz, std::uint64_t* nattch) override {
    auto it = mm_->shm_segments.find(shmid);
    if (it == mm_->shm_segments.end()) return -22;
    if (cmd == abi::kIpcStat) {
      if (segsz) *segsz = it->second;
      if (nattch) *nattch = 1;
    }
    return 0;
  }
  long sys_fadvise64(int fd, std::int64_t offset, std::int64_t len, int advice) override {
    flush();
    if (!fds.count(fd)) return file_call("fadvise64", -9, fd, static_cast<std::uint64_t>(offset));
    if (advice < 0 || advice > 5) return file_call("fadvise64", -22, fd, static_cast<std::uint64_t>(offset));
    return file_call("fadvise64", 0, fd, static_cast<std::uint64_t>(offset), static_cast<std::uint64_t>(len),
                     static_cast<unsigned long>(advice));
  }

  long count(const std::string& name) const {
    long n = 0;
    for (const auto& c : calls) n += c.name == name;
    return n;
  }

 private:
  std::shared_ptr<FakeMm> mm_;
  int cpu_, node_;
};

// Runs a source to completion on ctx (start, fill until done, finish).
inline void run_source(hw::OpSource& src, FakeThreadContext& ctx, std::size_t max_fills = 100000000) {
  hw::OpBatch batch;
  ctx.batch = &batch;
  src.start(ctx);
  std::size_t fills = 0;
  while (!src.done() && fills++ < max_fills) {
    src.fill(batch, ctx);
    ctx.flush();
  }
  src.finish(ctx);
  ctx.batch = nullptr;
}

}  // namespace numasim::workloads::wltest
