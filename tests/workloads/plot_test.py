#!/usr/bin/python3
"""ctest plot_test: runs tools/numasim_plot.py on the checked-in samples and
checks that each produces a PNG (magic bytes, plausible size), and that bad
input fails with exit status 2 and a message naming the file.
Usage: plot_test.py SOURCE_DIR WORK_DIR. Exit 77 (skipped) without matplotlib."""
import os
import subprocess
import sys

src, work = sys.argv[1], sys.argv[2]
try:
    import matplotlib  # noqa: F401
except ImportError:
    print("matplotlib missing: skipped")
    sys.exit(77)
tool = os.path.join(src, "tools", "numasim_plot.py")
data = os.path.join(src, "tests", "workloads", "data")
os.makedirs(work, exist_ok=True)
failures = []


def run(args):
    return subprocess.run([sys.executable, tool] + args, capture_output=True, text=True)


cases = {
    "matrix.png": ["latency_matrix.json"],
    "tlb.png": ["tlb_reach_4k.json", "tlb_reach_2m.json"],
    "loaded.png": ["loaded_latency.json"],
    "series.png": ["series.csv"],
    "series_read.png": ["series.csv", "--columns", "read_gbps"],
    "pressure.png": ["pressure.csv", "--kind", "pressure"],
}
for out, args in cases.items():
    path = os.path.join(work, out)
    if os.path.exists(path):
        os.remove(path)
    files = [os.path.join(data, a) if a.endswith((".json", ".csv")) else a for a in args]
    r = run(files + ["-o", path])
    if r.returncode != 0:
        failures.append(f"{out}: exit {r.returncode}: {r.stderr.strip()}")
        continue
    with open(path, "rb") as f:
        head = f.read(8)
    size = os.path.getsize(path)
    if head != b"\x89PNG\r\n\x1a\n" or size < 5000:
        failures.append(f"{out}: not a plausible PNG ({size} bytes, magic {head!r})")
    else:
        print(f"ok {out} ({size} bytes)")

r = run([os.path.join(data, "bad.json"), "-o", os.path.join(work, "bad.png")])
if r.returncode != 2 or "bad.json" not in r.stderr or "rows have different lengths" not in r.stderr:
    failures.append(f"bad.json: expected exit 2 and a message, got {r.returncode}: {r.stderr.strip()}")
elif os.path.exists(os.path.join(work, "bad.png")):
    failures.append("bad.json: a PNG was written anyway")
else:
    print("ok bad.json rejected: " + r.stderr.strip())

r = run([os.path.join(data, "series.csv"), "--columns", "nothing", "-o", os.path.join(work, "x.png")])
if r.returncode != 2 or "no column matches nothing" not in r.stderr:
    failures.append(f"--columns nothing: expected exit 2, got {r.returncode}: {r.stderr.strip()}")

r = run([os.path.join(data, "series.csv"), "--kind", "pressure", "-o", os.path.join(work, "p.png")])
if r.returncode != 2 or "no node<N>.pswpin_per_s column" not in r.stderr:
    failures.append(f"--kind pressure on an old CSV: expected exit 2, got {r.returncode}: {r.stderr.strip()}")
else:
    print("ok pressure without swap columns rejected: " + r.stderr.strip())

for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
