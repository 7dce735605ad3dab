#!/usr/bin/env bash
# tools/bench.sh: runs every benchmark program (bench/, Google Benchmark) and the
# whole-run cases (numasim run), and prints the README's benchmark table
# (markdown) with the figures just measured, so the table stays true.
# Rates are per host CPU second (Google Benchmark's cpu_time; for numasim runs
# the CPU time of the child process), so a loaded host moves them less than
# wall time would; a machine shared with builds still moves them by +-20%.
# The programs with issue 15's target rows (hw_core_bench, hw_fault_bench) run
# three repetitions and the table takes their medians (a single short run, e.g.
# the L1-miss stream's 0.1 s, moved by +-5% between runs on this host); the
# others run once. Simplifications: the table's rows and targets are fixed
# here (issue 15's targets).
#
# Usage: tools/bench.sh [--build] [--only REGEX] [BUILD_DIR]
#   --build       build the benchmark programs and numasim first (cmake --build BUILD_DIR)
#   --only REGEX  run only the benchmark programs / cases whose name matches (quick checks)
#   BUILD_DIR     default $NUMASIM_BUILD_DIR, else build/release (relative paths from the
#                 source tree's top); e.g. NUMASIM_BUILD_DIR=build/release-pgo tools/bench.sh
#                 measures the PGO build of tools/pgo-build.sh
# Output: the markdown table on stdout; progress on stderr; raw JSON in $BENCH_OUT
# (default: a temporary directory, removed at the end unless BENCH_OUT is set).
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${NUMASIM_BUILD_DIR:-build/release}"
do_build=0
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) do_build=1 ;;
    --only) only="${2:?--only needs a regular expression}"; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "tools/bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    *) build="$1" ;;
  esac
  shift
done
case "$build" in /*) ;; *) build="$src/$build" ;; esac

programs=(config_bench os_slub_bench os_page_alloc_bench os_fault_bench os_reclaim_bench os_swap_bench
          os_compaction_bench hw_core_bench hw_memory_bench workloads_bench hw_fault_bench)
if [ "$do_build" = 1 ]; then
  cmake --build "$build" -j2 --target "${programs[@]}" numasim >&2
fi
for p in "${programs[@]}"; do
  if [ ! -x "$build/bench/$p" ]; then
    echo "tools/bench.sh: $build/bench/$p is missing (build it, or pass --build)" >&2
    exit 2
  fi
done
if [ ! -x "$build/tools/numasim" ]; then
  echo "tools/bench.sh: $build/tools/numasim is missing (build it, or pass --build)" >&2
  exit 2
fi

out="${BENCH_OUT:-}"
if [ -z "$out" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

# The benchmark programs find configs/ relative to their source file, so they run
# from their build directory.
for p in "${programs[@]}"; do
  if [ -n "$only" ] && ! [[ "$p" =~ $only ]]; then continue; fi
  echo "tools/bench.sh: $p" >&2
  reps=()
  case "$p" in
    hw_core_bench|hw_fault_bench) reps=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true) ;;
  esac
  (cd "$build/bench" && "./$p" --benchmark_format=json --benchmark_out="$out/$p.json" \
      --benchmark_out_format=json "${reps[@]}" >/dev/null)
done

# GUPS over 4 GiB on skylake-sp-2s: one thread, every update a random line of
# a table that is faulted in as it goes (issue 15's miss-path case).
cat > "$out/gups_4g.toml" <<EOF
base = "$src/configs/skylake-sp-2s.toml"

[[workload]]
kind = "gups"
name = "gups"
threads = 1
node = 0
table_size = "4GiB"
updates = 1000000
compute_cycles = 1
init = false
seed = 42
EOF

# Bring-up of the eight-socket 1 TiB machine (issue 15, item 4): a run whose
# only workload is a 64 KiB STREAM on CPU 0, so its CPU time and peak host
# memory are the machine's construction and teardown.
cat > "$out/bringup_8s_1t.toml" <<EOF
base = "$src/configs/eight-socket-1t.toml"

[[workload]]
kind = "stream"
name = "tiny"
cpus = [0]
kernel = "triad"
array_size = "64KiB"
element_size = "8B"
iterations = 1
EOF

python3 - "$src" "$build" "$out" "$only" <<'PY'
import json, os, re, resource, subprocess, sys

src, build, out, only = sys.argv[1:5]
numasim = os.path.join(build, "tools", "numasim")

def load(prog):
    path = os.path.join(out, prog + ".json")
    if not os.path.exists(path):
        return None
    # A repeated benchmark's median (its aggregate "NAME_median") stands for it.
    found = {}
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                found[b["run_name"]] = b
        else:
            found.setdefault(b["name"], b)
    return found

def cpu_run(name, args):
    """numasim run ARGS --json: (CPU seconds of the child, the JSON)."""
    if only and not re.search(only, name):
        return None
    print("tools/bench.sh: numasim run " + " ".join(args), file=sys.stderr)
    js = os.path.join(out, name + ".json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([numasim, "run", *args, "--quiet", "--json", js], cwd=src, check=True,
                   stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, json.load(open(js))

def rate(v, unit=""):
    if v is None:
        return "n/a"
    for div, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if v >= div:
            return f"{v / div:.3g}{suffix}{unit}"
    return f"{v:.3g} {unit}".rstrip()

def counter(bench, name, key):
    if bench is None or name not in bench:
        return None
    return bench[name].get(key)

def cpu_ms(bench, name):
    if bench is None or name not in bench:
        return None
    b = bench[name]
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["cpu_time"] * scale

B = {p: load(p) for p in ["config_bench", "os_slub_bench", "os_page_alloc_bench", "os_fault_bench",
                          "os_reclaim_bench", "os_swap_bench", "os_compaction_bench",
                          "hw_core_bench", "hw_memory_bench", "workloads_bench", "hw_fault_bench"]}
rows = []
def row(what, command, figure, target=""):
    rows.append(f"| {what} | `{command}` | {figure} | {target} |")

pa = B["os_page_alloc_bench"]
row("order-0 alloc+free pairs through the per-CPU lists", "os_page_alloc_bench",
    rate(counter(pa, "BM_PcpAllocFreePair", "pairs_per_s"), "/s"), ">= 10 M/s")
bpf = counter(pa, "BM_BringUp256GiB/iterations:3", "bytes_per_frame")
row("host bytes per simulated 4 KiB frame", "os_page_alloc_bench --benchmark_filter=BringUp",
    "n/a" if bpf is None else f"{bpf:.1f}", "<= 48")
bu = cpu_ms(pa, "BM_BringUp256GiB/iterations:3")
row("bring-up of a 256 GiB two-node machine", "os_page_alloc_bench",
    "n/a" if bu is None else f"{bu:.2f} ms CPU", "< 1 s")
of = B["os_fault_bench"]
row("anonymous write faults, OS layer alone", "os_fault_bench",
    rate(counter(of, "BM_AnonWriteFault", "faults_per_s"), "/s"), ">= 1 M/s")
row("THP write faults (2 MiB clear as one transfer), OS layer alone", "os_fault_bench --benchmark_filter=Thp",
    rate(counter(of, "BM_ThpWriteFault", "faults_per_s"), "/s"), ">= 20 k/s")
rb = B["os_reclaim_bench"]
row("LRU aging scan (page_referenced through the reverse map), OS layer alone", "os_reclaim_bench",
    rate(counter(rb, "BM_LruAgingScan", "pages_scanned_per_s"), " pages/s"), ">= 5 M/s")
cb_ = B["os_compaction_bench"]
row("compaction of a fragmented 1 GiB node (scanned; migrations included)", "os_compaction_bench",
    rate(counter(cb_, "BM_CompactNodeFragmented/iterations:3/real_time", "pages_scanned_per_s"), " pages/s"),
    ">= 5 M/s")
sw = B["os_swap_bench"]
row("swap-out through the reclaim seam and swap-in by fault: NVMe / zram", "os_swap_bench",
    rate(counter(sw, "BM_SwapOutInNvme", "swap_pages_per_s"), "/s") + " / " +
    rate(counter(sw, "BM_SwapOutInZram", "swap_pages_per_s"), "/s") + " pages")
sl = B["os_slub_bench"]
row("kmalloc+kfree pairs, 64 B, one CPU", "os_slub_bench",
    rate(counter(sl, "BM_KmallocKfree64/charge_traffic:1", "items_per_second"), "/s"), ">= 30 M/s")
objs = [counter(sl, f"BM_Overhead/bytes:{n}/iterations:1", "sim_bytes_per_obj") for n in (64, 100, 700)]
row("SLUB memory per object: 64 B / 100 B / 700 B requests", "os_slub_bench",
    " / ".join("n/a" if o is None else f"{o:.0f}" for o in objs) + " simulated bytes")
hc = B["hw_core_bench"]
row("simulated references per host second, L1- and TLB-hit stream, default quantum", "hw_core_bench",
    rate(counter(hc, "BM_L1TlbHitStream/20000000/iterations:3/manual_time", "refs_per_s"), "/s"), ">= 60 M/s")
row("simulated references per host second, L1-miss stream (the stream alone: its 32 MiB MAP_POPULATE is not timed)",
    "hw_core_bench", rate(counter(hc, "BM_L1MissStream/500000/iterations:1/manual_time", "refs_per_s"), "/s"),
    ">= 5 M/s")
row("simulated references per host second, GUPS update phase over a populated 4 GiB table on skylake-sp-2s "
    "(500 k updates; the table's MAP_POPULATE and the task's exit, which unmaps it, are not timed)", "hw_core_bench --benchmark_filter=Gups",
    rate(counter(hc, "BM_Gups4GiB/500000/iterations:1/manual_time", "refs_per_s"), "/s"), ">= 3 M/s")
hf = B["hw_fault_bench"]
row("page faults per host second on the machine (every access faults; cached / streamed clears)",
    "hw_fault_bench",
    rate(counter(hf, "BM_FaultEveryAccess/100000/iterations:2", "faults_per_s"), "/s") + " / " +
    rate(counter(hf, "BM_FaultEveryAccessStreamedClears/100000/iterations:2", "faults_per_s"), "/s"),
    ">= 1 M/s")
row("THP faults per host second on the machine (every access a 2 MiB fault; streamed 2 MiB clears)",
    "hw_fault_bench --benchmark_filter=Thp",
    rate(counter(hf, "BM_ThpFaultEveryAccess/200/iterations:2", "faults_per_s"), "/s"), ">= 20 k/s")
row("THP faults per host second on one machine with 4 GiB per node (1800 THP faults; the fresh machine's one-time host costs spread)",
    "hw_fault_bench --benchmark_filter=BigNode",
    rate(counter(hf, "BM_ThpFaultEveryAccessBigNode/1800/iterations:2", "faults_per_s"), "/s"), ">= 20 k/s")
mb0 = cpu_ms(hf, "BM_MachineBringUp/0/iterations:3")
mb1 = cpu_ms(hf, "BM_MachineBringUp/1/iterations:3")
row("machine bring-up and tear-down (configuration, caches, snoop filter, DRAM, kernel boot): default / skylake-sp-2s",
    "hw_fault_bench --benchmark_filter=BringUp",
    " / ".join("n/a" if v is None else f"{v:.1f} ms CPU" for v in (mb0, mb1)))
row("page faults per host second on the machine, cached clears with the approximate residue (cache.clear_residue = \"deferred\", opt-in)",
    "hw_fault_bench --benchmark_filter=DeferredResidue",
    rate(counter(hf, "BM_FaultEveryAccessDeferredResidue/100000/iterations:2", "faults_per_s"), "/s"))
row("page faults per host second on the machine, kernel transfers line by line (platform.kernel_transfers = \"lines\")",
    "hw_fault_bench --benchmark_filter=LineClears",
    rate(counter(hf, "BM_FaultEveryAccessLineClears/100000/iterations:2", "faults_per_s"), "/s"))
hm = B["hw_memory_bench"]
names = ["BM_L1Hit", "BM_L2Hit", "BM_LlcHit", "BM_LlcMissLocalDram", "BM_LlcMissRemoteDram"]
row("memory-system accesses per host second: L1 / L2 / LLC hit / local / remote DRAM", "hw_memory_bench",
    " / ".join(rate(counter(hm, n, "items_per_second")) for n in names) + " per s")
row("kernel 4 KiB range (clear_page through the caches): bulk / line path", "hw_memory_bench --benchmark_filter=AccessRange4K",
    rate(counter(hm, "BM_AccessRange4K", "items_per_second"), " lines/s") + " / " +
    rate(counter(hm, "BM_AccessRange4KLines", "items_per_second"), " lines/s"))
row("2 MiB streamed clears (clear_huge_page) per host second", "hw_memory_bench --benchmark_filter=ClearHuge",
    rate(counter(hm, "BM_ClearHuge2MNontemporal", "items_per_second"), "/s"))
wb = B["workloads_bench"]
row("workload generation (ops per host second)", "workloads_bench",
    ", ".join(f"{label} {rate(counter(wb, n, 'ops_per_s'))}" for label, n in
              (("stream", "BM_StreamTriad"), ("GUPS", "BM_Gups"), ("pointer chase", "BM_PointerChaseRandom"),
               ("zipf", "BM_Zipf"), ("trace replay", "BM_TraceReplay"))))
cb = B["config_bench"]
ps = cpu_ms(cb, "BM_ParseSize")
row("configuration size parsing (\"64KiB\" and the like)", "config_bench", "n/a" if ps is None else f"{ps * 1e6:.0f} ns")

def run_row(what, name, args, target=""):
    r = cpu_run(name, args)
    if r is None:
        return
    cpu, js = r
    refs = js["sim"]["references"]
    row(what, "numasim run " + " ".join(args),
        f"{cpu:.2f} s CPU, {rate(refs / cpu if cpu > 0 else None, '/s')} references "
        f"({rate(refs)} references, {js['sim']['simulated_seconds'] * 1e3:.1f} ms simulated)", target)

run_row("whole run: the default configuration", "default", ["configs/default.toml"])
run_row("whole run: STREAM triad", "stream", ["configs/workloads/stream.toml"])
r = cpu_run("swap_hog", ["configs/workloads/memory_hog_swap.toml"])
if r is not None:
    cpu, js = r
    vm = js.get("vmstat", {})
    n = vm.get("pgfault", 0) + vm.get("pswpin", 0)
    row("whole run: 1.5 GiB verified hog bound to node 0 with 2 GiB NVMe swap (faults + swap-ins)",
        "numasim run configs/workloads/memory_hog_swap.toml",
        f"{cpu:.2f} s CPU, {rate(n / cpu if cpu > 0 else None, '/s')} ({rate(n)} faults + swap-ins, "
        f"{js['sim']['simulated_seconds']:.2f} s simulated)", ">= 200 k/s")
run_row("whole run: GUPS over 4 GiB on skylake-sp-2s (faulting in as it goes)", "gups_4g",
        [os.path.join(out, "gups_4g.toml")], ">= 3 M/s")

# Big machines (issue 15, item 4): CPU time and the child's own peak resident
# memory (wait4's ru_maxrss, as /usr/bin/time -v reports it).
def cpu_rss_run(name, args):
    """numasim run ARGS --json: (CPU seconds, peak RSS in bytes, the JSON) of this child alone."""
    if only and not re.search(only, name):
        return None
    print("tools/bench.sh: numasim run " + " ".join(args), file=sys.stderr)
    js = os.path.join(out, name + ".json")
    proc = subprocess.Popen([numasim, "run", *args, "--quiet", "--json", js], cwd=src, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != 0:
        raise subprocess.CalledProcessError(code, proc.args)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, json.load(open(js))

def gib(b):
    return f"{b / 2**30:.2f} GiB"

bu1 = cpu_ms(pa, "BM_BringUp1TiB/iterations:3")
row("bring-up of the eight-socket 1 TiB machine, OS layer alone (deferred struct page init)",
    "os_page_alloc_bench --benchmark_filter=1TiB",
    "n/a" if bu1 is None else f"{bu1:.2f} ms CPU, "
    f"{counter(pa, 'BM_BringUp1TiB/iterations:3', 'rss_mib_after_bringup'):.0f} MiB host", "< 2 s")
a16 = counter(pa, "BM_Alloc16GiBOn1TiB/iterations:1", "rss_mib_after_16gib")
row("host memory of the kernel model once 16 GiB of the 1 TiB machine is allocated (2 GiB per node)",
    "os_page_alloc_bench --benchmark_filter=1TiB", "n/a" if a16 is None else f"{a16:.0f} MiB",
    "48 B per frame used: 192 MiB")
r = cpu_rss_run("bringup_8s_1t", [os.path.join(out, "bringup_8s_1t.toml")])
if r is not None:
    cpu, rss, js = r
    row("bring-up of the eight-socket 1 TiB machine (224 cores), whole machine, with a 64 KiB STREAM",
        "numasim run bringup_8s_1t.toml (tools/bench.sh)", f"{cpu:.2f} s CPU, {gib(rss)} peak RSS",
        "< 2 s, < 4 GiB")

def big_run_row(what, name, args, target=""):
    r = cpu_rss_run(name, args)
    if r is None:
        return
    cpu, rss, js = r
    refs = js["sim"]["references"]
    row(what, "numasim run " + " ".join(a if " " not in a and '"' not in a else "'" + a + "'" for a in args),
        f"{cpu:.1f} s CPU, {gib(rss)} peak RSS, {rate(refs / cpu if cpu > 0 else None, '/s')} references "
        f"({rate(refs)} references, {js['sim']['simulated_seconds'] * 1e3:.1f} ms simulated)", target)

big_run_row("whole run: STREAM triad over 16 GiB on the eight-socket 1 TiB machine (8 threads, 4 M faults)",
            "stream_8s_1t",
            ["configs/workloads/stream-8s-1t.toml", "--set", 'workload[0].array_size="5461MiB"'], "< 4 GiB")
big_run_row("whole run: 128-thread GUPS over 2 GiB on 2 x 64-core EPYC 9554 (768 GiB), 2 M updates",
            "gups_genoa_128t",
            ["configs/workloads/gups-genoa-128t.toml", "--set", 'workload[0].table_size="2GiB"', "--set",
             "workload[0].updates=16384"])

print("| benchmark | command | figure | target |")
print("| --- | --- | --- | --- |")
for r in rows:
    print(r.replace(out + "/gups_4g.toml", "gups_4g.toml (tools/bench.sh)"))
PY
