// Scripted scenarios: reading the steps (with positions for every error) and
// running them in order, recording each outcome.
#include "workloads/script_workload.h"

#include <algorithm>

#include "common/json_writer.h"
#include "workloads/linux_abi.h"
#include "workloads/workload_factory.h"

namespace numasim::workloads {

namespace {
constexpr long kEnosys = 38, kEnoent = 2, kEinval = 22;

std::string json_int_list(const std::vector<long>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

const std::vector<std::string>& call_names() {
  static const std::vector<std::string> names = {"mmap",       "munmap",       "mprotect",      "madvise",
                                                 "touch",      "mbind",        "set_mempolicy", "get_mempolicy",
                                                 "move_pages", "read_counter", "compute",
                                                 "msync",
                                                 "open",       "creat",        "close",         "read",
                                                 "write",      "pread64",      "pwrite64",      "lseek",
                                                 "ftruncate",  "fsync",        "fdatasync",     "unlink",
                                                 "fadvise64",
                                                 "memfd_create", "shmget",     "shmat",         "shmdt",
                                                 "shmctl"};
  return names;
}
}  // namespace

ScriptParams ScriptParams::from_config(Config cfg, int num_nodes) {
  ScriptParams p;
  std::vector<std::string> names;
  auto tables = cfg.tables("step", "one call of the scenario");
  if (tables.empty()) cfg.error("", "a script workload needs at least one [[workload.step]]");
  for (Config t : tables) {
    ScriptStep s;
    std::string call;
    if (!t.has("call"))
      t.require<std::string>("call", "what the step does: mmap, touch, mbind, ...");
    else
      call = t.get_choice("call", "", call_names(), "what the step does");
    if (call.empty()) continue;  // missing or unknown: reported; its arguments cannot be checked
    s.name = call;
    s.call =
        static_cast<ScriptStep::Call>(std::find(call_names().begin(), call_names().end(), call) - call_names().begin());

    // An argument; def == nullptr: required.
    auto expr = [&](const char* key, const char* def, const char* desc) -> ScriptExpr {
      if (!def && !t.has(key)) {
        t.require<std::string>(key, std::string(desc) + ", required by " + call);
        return ScriptExpr::constant(0);
      }
      std::size_t errors_before = t.document().diagnostics().size();
      std::string text = t.get<std::string>(key, def ? def : "", desc);
      if (t.document().diagnostics().size() != errors_before) return ScriptExpr::constant(0);  // not a string
      std::string why;
      auto e = ScriptExpr::compile(text, names, &why);
      if (!e) {
        t.error(key, why);
        return ScriptExpr::constant(0);
      }
      SourcePos at = t.position(key);
      e->set_origin(at.file + (at.line > 0 ? ":" + std::to_string(at.line) + ":" + std::to_string(at.column) : "") +
                    ": " + t.path() + "." + key);
      return *e;
    };
    auto node_list = [&](const char* desc) {
      if (!t.has("nodes")) return;
      std::string text = t.get<std::string>("nodes", "", desc);
      std::string why;
      auto l = parse_id_list(text, &why);
      if (!l) return t.error("nodes", why);
      s.nodes = *l;
      s.has_nodes = true;
    };
    auto policy_args = [&]() {
      if (t.has("policy")) {
        if (t.has("mode")) t.error("mode", "give either policy or mode (+ nodes), not both");
        std::string text = t.get<std::string>("policy", "default", "policy text, e.g. bind:1");
        std::string why;
        auto ps = parse_policy(text, 0, &why);  // nonexistent nodes are the kernel's to reject
        if (!ps) return t.error("policy", why);
        s.mode = ScriptExpr::constant(ps->mode);
        s.nodes = ps->nodes;
        s.has_nodes = !ps->nodes.empty();
      } else {
        s.mode = expr("mode", nullptr, "policy mode, e.g. MPOL_BIND");
        node_list("nodemask nodes, e.g. 0-1");
      }
      if (t.has("maxnode")) s.maxnode = expr("maxnode", "0", "maxnode argument (default: mask bits + 1)");
    };

    // The file descriptor argument of the file calls (required).
    const auto fd_arg = [&] { return expr("fd", nullptr, "file descriptor, e.g. $f"); };
    switch (s.call) {
      case ScriptStep::Call::Mmap:
        s.addr = expr("addr", "0", "address hint");
        s.len = expr("len", nullptr, "length");
        s.prot = expr("prot", "PROT_READ|PROT_WRITE", "protection");
        s.flags = expr("flags", "MAP_PRIVATE|MAP_ANONYMOUS", "mmap flags");
        s.fd = t.has("fd") ? expr("fd", nullptr, "file descriptor of a file or memfd mapping (without MAP_ANONYMOUS)")
                           : ScriptExpr::constant(-1);
        s.offset = expr("offset", "0", "offset in the file");
        break;
      case ScriptStep::Call::Munmap:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", nullptr, "length");
        break;
      case ScriptStep::Call::Mprotect:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", nullptr, "length");
        s.prot = expr("prot", nullptr, "new protection");
        break;
      case ScriptStep::Call::Madvise:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", nullptr, "length");
        s.flags = expr("advice", nullptr, "advice, e.g. MADV_DONTNEED");
        break;
      case ScriptStep::Call::Touch:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", "1", "bytes covered");
        s.stride = expr("stride", "4096", "distance between accesses");
        s.write = t.get<bool>("write", true, "stores (else loads)");
        break;
      case ScriptStep::Call::Mbind:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", nullptr, "length");
        s.flags = expr("flags", "0", "MPOL_MF_* flags");
        policy_args();
        break;
      case ScriptStep::Call::SetMempolicy:
        policy_args();
        break;
      case ScriptStep::Call::GetMempolicy:
        s.addr = expr("addr", "0", "address (with MPOL_F_ADDR)");
        s.flags = expr("flags", "0", "MPOL_F_* flags");
        break;
      case ScriptStep::Call::MovePages:
        s.addr = expr("addr", nullptr, "first page");
        s.count = expr("count", "1", "pages");
        s.stride = expr("stride", "4096", "distance between the pages");
        s.flags = expr("flags", "MPOL_MF_MOVE", "MPOL_MF_MOVE or MPOL_MF_MOVE_ALL");
        node_list("target nodes, one per page or one for all (absent: query)");
        break;
      case ScriptStep::Call::ReadCounter:
        s.counter = t.require<std::string>("counter", "counter name, e.g. vmstat.pgfault");
        break;
      case ScriptStep::Call::Compute:
        s.count = expr("cycles", nullptr, "cycles of work");
        break;
      case ScriptStep::Call::Msync:
        s.addr = expr("addr", nullptr, "start");
        s.len = expr("len", nullptr, "length");
        s.flags = expr("flags", "MS_SYNC", "MS_ASYNC, MS_SYNC, MS_INVALIDATE");
        break;
      case ScriptStep::Call::Open:
      case ScriptStep::Call::Creat:
      case ScriptStep::Call::Unlink:
        s.path = t.require<std::string>("path", "file path, e.g. /data/table, required by " + call);
        if (s.call == ScriptStep::Call::Open) s.flags = expr("flags", "O_RDONLY", "open flags, e.g. O_RDWR|O_CREAT");
        if (s.call != ScriptStep::Call::Unlink) s.mode = expr("mode", "420", "permission bits (not modelled)");
        break;
      case ScriptStep::Call::Close:
      case ScriptStep::Call::Fsync:
      case ScriptStep::Call::Fdatasync:
        s.fd = fd_arg();
        break;
      case ScriptStep::Call::Read:
      case ScriptStep::Call::Write:
      case ScriptStep::Call::Pread64:
      case ScriptStep::Call::Pwrite64:
        s.fd = fd_arg();
        s.addr = expr("buf", nullptr, "user buffer (a mapped address)");
        s.len = expr("len", nullptr, "bytes");
        if (s.call == ScriptStep::Call::Pread64 || s.call == ScriptStep::Call::Pwrite64)
          s.offset = expr("offset", nullptr, "file offset");
        break;
      case ScriptStep::Call::Lseek:
        s.fd = fd_arg();
        s.offset = expr("offset", nullptr, "offset");
        s.flags = expr("whence", "SEEK_SET", "SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA or SEEK_HOLE");
        break;
      case ScriptStep::Call::Ftruncate:
        s.fd = fd_arg();
        s.len = expr("len", nullptr, "new size");
        break;
      case ScriptStep::Call::MemfdCreate:
        s.path = t.require<std::string>("name", "memfd name, e.g. buf");
        s.flags = expr("flags", "0", "MFD_CLOEXEC|MFD_ALLOW_SEALING");
        break;
      case ScriptStep::Call::Shmget:
        s.offset = expr("key", "IPC_PRIVATE", "SysV key, or IPC_PRIVATE");
        s.len = expr("len", nullptr, "segment size");
        s.flags = expr("flags", "0", "IPC_CREAT|IPC_EXCL|mode bits");
        break;
      case ScriptStep::Call::Shmat:
        s.fd = expr("shmid", nullptr, "segment id, e.g. $seg");
        s.addr = expr("addr", "0", "address (0: the kernel chooses)");
        s.flags = expr("flags", "0", "SHM_RDONLY|SHM_RND|SHM_REMAP");
        break;
      case ScriptStep::Call::Shmdt:
        s.addr = expr("addr", nullptr, "attach address");
        break;
      case ScriptStep::Call::Shmctl:
        s.fd = expr("shmid", nullptr, "segment id, e.g. $seg");
        s.flags = expr("cmd", nullptr, "IPC_STAT or IPC_RMID");
        break;
      case ScriptStep::Call::Fadvise64:
        s.fd = fd_arg();
        s.offset = expr("offset", "0", "start");
        s.len = expr("len", "0", "length (0: to the end)");
        s.flags = expr("advice", nullptr, "advice, e.g. POSIX_FADV_DONTNEED");
        break;
    }
    (void)num_nodes;
    if (t.has("as")) {
      std::string as = t.get<std::string>("as", "", "name binding the result ($name)");
      bool ok = !as.empty() && std::all_of(as.begin(), as.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
      if (!ok) {
        t.error("as", "expected a name of letters, digits and _");
      } else {
        auto it = std::find(names.begin(), names.end(), as);
        s.bind_slot = static_cast<int>(it - names.begin());
        if (it == names.end()) names.push_back(as);
      }
    }
    p.steps.push_back(std::move(s));
  }
  p.slots = names.size();
  return p;
}

ScriptSource::ScriptSource(ThreadInfo info, const ScriptParams& p, std::shared_ptr<CounterReader> counter_reader)
    : Generator(std::move(info)), p_(p), counter_reader_(std::move(counter_reader)), slots_(p.slots, 0) {}

void ScriptSource::record(const ScriptStep& s, long ret, std::vector<std::pair<std::string, std::string>> fields) {
  if (s.bind_slot >= 0) slots_[static_cast<std::size_t>(s.bind_slot)] = ret;
  if (info().results) info().results->add_call({s.name, ret, std::move(fields)});
}

void ScriptSource::emit(hw::OpBatch& batch, hw::ThreadContext& ctx) {
  using C = ScriptStep::Call;
  while (step_ < p_.steps.size()) {
    const ScriptStep& s = p_.steps[step_];
    const auto& v = slots_;
    // A step whose arguments overflow 64-bit arithmetic is a script error: the
    // workload fails with the expression's location and runs no further step.
    for (const ScriptExpr* e : {&s.addr, &s.len, &s.prot, &s.flags, &s.mode, &s.stride, &s.count, &s.fd, &s.offset,
                                s.maxnode ? &*s.maxnode : nullptr}) {
      if (e && !e->try_eval(v)) {
        if (info().results)
          info().results->add_error(e->origin() + ": in \"" + bounded_for_message(e->text()) +
                                    "\": arithmetic overflows 64-bit signed integers");
        step_ = p_.steps.size();
        return;
      }
    }
    // The user's node mask: the listed nodes, zero up to maxnode bits (as a user
    // buffer of that size would be), so the kernel's get_nodes never reads past it.
    // Past a page of bits get_nodes fails with EINVAL before reading.
    auto mask_of = [&](std::vector<unsigned long>& mask) {
      PolicySpec ps;
      ps.nodes = s.nodes;
      mask = ps.nodemask();
      unsigned long maxnode =
          s.maxnode ? static_cast<unsigned long>(s.maxnode->eval(v)) : (s.has_nodes ? ps.maxnode() : 0ul);
      constexpr unsigned long kMaxMaskBits = 4096 * 8;
      if (s.has_nodes && maxnode > 1 && maxnode - 1 <= kMaxMaskBits)
        mask.resize(std::max<std::size_t>(mask.size(), (maxnode - 1 + 63) / 64), 0ul);
      return maxnode;
    };
    switch (s.call) {
      case C::Touch: {
        std::uint64_t len = static_cast<std::uint64_t>(s.len.eval(v));
        std::uint64_t stride = std::max<std::int64_t>(1, s.stride.eval(v));
        VirtAddr addr = static_cast<VirtAddr>(s.addr.eval(v));
        std::uint64_t n = (len + stride - 1) / stride;
        while (touch_pos_ < n && !batch.full()) {
          touch(batch, addr + touch_pos_ * stride, s.write);
          ++touch_pos_;
        }
        if (touch_pos_ < n) return;
        touch_pos_ = 0;
        record(s, 0, {{"bytes", std::to_string(len)}});
        break;
      }
      case C::Compute: {
        if (batch.full()) return;
        std::int64_t cycles = s.count.eval(v);
        batch.compute(static_cast<std::uint32_t>(std::clamp<std::int64_t>(cycles, 0, 0xFFFFFFFF)));
        record(s, 0);
        break;
      }
      case C::Mmap: {
        const std::uint64_t len = static_cast<std::uint64_t>(s.len.eval(v));
        const long r = ctx.sys_mmap(static_cast<VirtAddr>(s.addr.eval(v)), len, static_cast<int>(s.prot.eval(v)),
                                    static_cast<int>(s.flags.eval(v)), static_cast<int>(s.fd.eval(v)),
                                    static_cast<std::uint64_t>(s.offset.eval(v)));
        if (r > 0) verify_track(static_cast<VirtAddr>(r), len);  // no-op unless verify = true
        record(s, r);
        break;
      }
      case C::Munmap: {
        const VirtAddr a = static_cast<VirtAddr>(s.addr.eval(v));
        const std::uint64_t len = static_cast<std::uint64_t>(s.len.eval(v));
        verify_untrack(a, len);
        record(s, ctx.sys_munmap(a, len));
        break;
      }
      case C::Mprotect:
        record(s, ctx.sys_mprotect(static_cast<VirtAddr>(s.addr.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)),
                                   static_cast<int>(s.prot.eval(v))));
        break;
      case C::Msync:
        record(s, ctx.sys_msync(static_cast<VirtAddr>(s.addr.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)),
                                static_cast<int>(s.flags.eval(v))));
        break;
      case C::Madvise:
        // Advice that may discard contents (MADV_DONTNEED, MADV_FREE, MADV_REMOVE): no longer verifiable.
        if (const long advice = static_cast<long>(s.flags.eval(v)); advice == abi::kMadvDontneed || advice == abi::kMadvFree || advice == 9 /* MADV_REMOVE */)
          verify_untrack(static_cast<VirtAddr>(s.addr.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)));
        record(s, ctx.sys_madvise(static_cast<VirtAddr>(s.addr.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)),
                                  static_cast<int>(s.flags.eval(v))));
        break;
      case C::Mbind: {
        std::vector<unsigned long> mask;
        unsigned long maxnode = mask_of(mask);
        record(s, ctx.sys_mbind(static_cast<VirtAddr>(s.addr.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)),
                                static_cast<int>(s.mode.eval(v)), s.has_nodes ? mask.data() : nullptr, maxnode,
                                static_cast<unsigned>(s.flags.eval(v))));
        break;
      }
      case C::SetMempolicy: {
        std::vector<unsigned long> mask;
        unsigned long maxnode = mask_of(mask);
        record(s,
               ctx.sys_set_mempolicy(static_cast<int>(s.mode.eval(v)), s.has_nodes ? mask.data() : nullptr, maxnode));
        break;
      }
      case C::GetMempolicy: {
        int mode = 0;
        std::vector<unsigned long> mask(16, 0ul);  // 1024 nodes
        long ret = ctx.sys_get_mempolicy(&mode, mask.data(), 16 * 64 + 1, static_cast<VirtAddr>(s.addr.eval(v)),
                                         static_cast<unsigned long>(s.flags.eval(v)));
        std::vector<std::pair<std::string, std::string>> fields;
        if (ret >= 0) {
          std::vector<long> nodes;
          for (int n = 0; n < 16 * 64; ++n)
            if (mask[static_cast<std::size_t>(n / 64)] & (1ul << (n % 64))) nodes.push_back(n);
          fields = {{"mode", std::to_string(mode)}, {"nodes", json_int_list(nodes)}};
          ret = mode;  // `as` binds the mode (or the node, with MPOL_F_NODE)
          if (info().results) info().results->add_call({s.name, 0, fields});
          if (s.bind_slot >= 0) slots_[static_cast<std::size_t>(s.bind_slot)] = ret;
          break;
        }
        record(s, ret);
        break;
      }
      case C::MovePages: {
        std::int64_t count = s.count.eval(v);
        if (count < 0 || count > (1 << 20)) {
          record(s, -kEinval);
          break;
        }
        std::int64_t stride = s.stride.eval(v);
        VirtAddr addr = static_cast<VirtAddr>(s.addr.eval(v));
        std::vector<VirtAddr> pages(static_cast<std::size_t>(count));
        std::vector<int> nodes(static_cast<std::size_t>(count), 0);
        std::vector<int> status(static_cast<std::size_t>(count), 0);
        for (std::int64_t i = 0; i < count; ++i) {
          pages[static_cast<std::size_t>(i)] = addr + static_cast<VirtAddr>(i) * static_cast<VirtAddr>(stride);
          if (s.has_nodes) nodes[static_cast<std::size_t>(i)] = s.nodes[static_cast<std::size_t>(i) % s.nodes.size()];
        }
        long ret =
            ctx.sys_move_pages(static_cast<unsigned long>(count), pages.data(), s.has_nodes ? nodes.data() : nullptr,
                               status.data(), static_cast<int>(s.flags.eval(v)));
        std::vector<long> st(status.begin(), status.end());
        record(s, ret, {{"status", json_int_list(st)}});
        break;
      }
      case C::ReadCounter: {
        ctx.flush();  // the counter reflects every op before it
        long ret = -kEnosys;
        if (counter_reader_ && *counter_reader_) {
          auto value = (*counter_reader_)(s.counter);
          ret = value ? static_cast<long>(*value) : -kEnoent;
        }
        std::vector<std::pair<std::string, std::string>> fields = {{"counter", json_escape(s.counter)}};
        if (ret >= 0) fields.push_back({"value", std::to_string(ret)});
        record(s, ret, std::move(fields));
        break;
      }
      case C::Open:
        record(s, ctx.sys_open(s.path, static_cast<int>(s.flags.eval(v)), static_cast<unsigned>(s.mode.eval(v))));
        break;
      case C::Creat: record(s, ctx.sys_creat(s.path, static_cast<unsigned>(s.mode.eval(v)))); break;
      case C::Close: record(s, ctx.sys_close(static_cast<int>(s.fd.eval(v)))); break;
      case C::Read:
      case C::Write: {
        const int fd = static_cast<int>(s.fd.eval(v));
        const VirtAddr buf = static_cast<VirtAddr>(s.addr.eval(v));
        const std::uint64_t len = static_cast<std::uint64_t>(s.len.eval(v));
        record(s, s.call == C::Read ? ctx.sys_read(fd, buf, len) : ctx.sys_write(fd, buf, len));
        break;
      }
      case C::Pread64:
      case C::Pwrite64: {
        const int fd = static_cast<int>(s.fd.eval(v));
        const VirtAddr buf = static_cast<VirtAddr>(s.addr.eval(v));
        const std::uint64_t len = static_cast<std::uint64_t>(s.len.eval(v));
        const std::int64_t off = s.offset.eval(v);
        record(s, s.call == C::Pread64 ? ctx.sys_pread64(fd, buf, len, off) : ctx.sys_pwrite64(fd, buf, len, off));
        break;
      }
      case C::Lseek:
        record(s, ctx.sys_lseek(static_cast<int>(s.fd.eval(v)), s.offset.eval(v), static_cast<int>(s.flags.eval(v))));
        break;
      case C::Ftruncate: record(s, ctx.sys_ftruncate(static_cast<int>(s.fd.eval(v)), s.len.eval(v))); break;
      case C::Fsync: record(s, ctx.sys_fsync(static_cast<int>(s.fd.eval(v)))); break;
      case C::Fdatasync: record(s, ctx.sys_fdatasync(static_cast<int>(s.fd.eval(v)))); break;
      case C::Unlink: record(s, ctx.sys_unlink(s.path)); break;
      case C::MemfdCreate:
        record(s, ctx.sys_memfd_create(s.path.c_str(), static_cast<unsigned>(s.flags.eval(v))));
        break;
      case C::Shmget:
        record(s, ctx.sys_shmget(static_cast<int>(s.offset.eval(v)), static_cast<std::uint64_t>(s.len.eval(v)),
                                 static_cast<int>(s.flags.eval(v))));
        break;
      case C::Shmat: {
        const int shmid = static_cast<int>(s.fd.eval(v));
        const long r = ctx.sys_shmat(shmid, static_cast<VirtAddr>(s.addr.eval(v)), static_cast<int>(s.flags.eval(v)));
        std::uint64_t segsz = 0, nattch = 0;
        if (r > 0 && ctx.sys_shmctl(shmid, abi::kIpcStat, &segsz, &nattch) == 0)
          verify_track(static_cast<VirtAddr>(r), segsz);  // no-op unless verify = true
        record(s, r);
        break;
      }
      case C::Shmdt: {
        const VirtAddr a = static_cast<VirtAddr>(s.addr.eval(v));
        const long r = ctx.sys_shmdt(a);
        if (r == 0) verify_untrack(a, 1);
        record(s, r);
        break;
      }
      case C::Shmctl: {
        std::uint64_t segsz = 0, nattch = 0;
        const int cmd = static_cast<int>(s.flags.eval(v));
        const long ret = ctx.sys_shmctl(static_cast<int>(s.fd.eval(v)), cmd, &segsz, &nattch);
        std::vector<std::pair<std::string, std::string>> fields;
        if (ret == 0 && cmd == abi::kIpcStat)
          fields = {{"segsz", std::to_string(segsz)}, {"nattch", std::to_string(nattch)}};
        record(s, ret, std::move(fields));
        break;
      }
      case C::Fadvise64:
        record(s, ctx.sys_fadvise64(static_cast<int>(s.fd.eval(v)), s.offset.eval(v), s.len.eval(v),
                                    static_cast<int>(s.flags.eval(v))));
        break;
    }
    ++step_;
  }
}

void build_script(WorkloadBuild& b) {
  if (b.spec.threads.size() != 1) b.cfg.error("threads", "a script runs on exactly one thread");
  ScriptParams p = ScriptParams::from_config(b.cfg, b.topo.num_nodes());
  auto reader = b.spec.counter_reader;
  for (int t = 0; t < static_cast<int>(b.spec.threads.size()); ++t) {
    ThreadInfo info = b.thread_info(t);
    b.spec.threads[t].make_source = [info, p, reader] { return std::make_unique<ScriptSource>(info, p, reader); };
  }
}

}  // namespace numasim::workloads
