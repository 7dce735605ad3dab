#!/usr/bin/python3
"""Plots numasim results as PNG files (matplotlib, Agg backend; Debian's
python3-matplotlib).

Inputs, recognised by their content (or forced with --kind):
  latency-matrix / bandwidth-matrix JSON  {"unit": "ns", "matrix": [[...], ...]}
      (optional "cpu_nodes" / "memory_nodes" label the rows / columns)
      -> a heat map, one cell per (CPU node, memory node), values written in.
  tlb-reach JSON  {"page_size": "4K", "points": [{"working_set_bytes", "latency_ns"}]}
      -> latency against working set (log2 axis); several files (4K, 2M) overlay.
  loaded-latency JSON  {"points": [{"bandwidth_gbps", "latency_ns"}]}
      -> latency against bandwidth; several files overlay.
  mess-curves JSON  {"curves": [{"read_percent": 100, "points": [...]}, ...]}
      (numasim mess-curves) -> one latency-bandwidth curve per read ratio,
      coloured from all reads to all stores, the idle latency dashed.
  time-series CSV (numasim run --sample): first column the time, every other
      numeric column one series; --columns picks some (substring match), one
      panel per column, sharing the time axis.
  memory pressure (--kind pressure, the same CSV): three panels over time: free
      memory per node (node<N>.free_kb), swap traffic per node (pswpin and
      pswpout rates) and anonymous refaults per node (workingset_refault_anon
      rate).
  NUMA balancing (--kind numa, the same CSV): convergence over time: the
      local share of DRAM accesses (local_dram_fraction), hint faults and
      page migrations (and promotions, all migrations, demotions) per second,
      and resident pages per memory tier (toptier_resident_pages,
      lowertier_resident_pages) when the CSV has them.

Usage: numasim_plot.py INPUT... [-o OUT.png] [--kind KIND] [--columns a,b] [--title T]
(KIND: auto, latency-matrix, bandwidth-matrix, tlb-reach, loaded-latency, series, pressure, numa,
 mess-curves)
Exit status: 0 on success, 2 on bad input (the message names the file and why).
What it leaves out: styling options, interactive output, SVG/PDF (matplotlib
would do them; PNG is what the tests and the README use).
"""

import argparse
import csv
import json
import math
import os
import sys

KINDS = ("auto", "latency-matrix", "bandwidth-matrix", "tlb-reach", "loaded-latency", "series", "pressure", "numa")
KINDS = KINDS + ("mess-curves",)


class InputError(Exception):
    pass


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}")


def detect(path):
    if path.endswith(".csv"):
        return "series"
    doc = load_json(path)
    if isinstance(doc, dict) and "matrix" in doc:
        return "bandwidth-matrix" if "GB" in str(doc.get("unit", "")) else "latency-matrix"
    if isinstance(doc, dict) and isinstance(doc.get("curves"), list):
        return "mess-curves"
    if isinstance(doc, dict) and isinstance(doc.get("points"), list):
        pts = doc["points"]
        if pts and isinstance(pts[0], dict) and "working_set_bytes" in pts[0]:
            return "tlb-reach"
        if pts and isinstance(pts[0], dict) and "bandwidth_gbps" in pts[0]:
            return "loaded-latency"
    raise InputError(f"{path}: not a latency/bandwidth matrix, tlb-reach or loaded-latency JSON "
                     "(expected a \"matrix\" or \"points\" member)")


def number(value, path, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InputError(f"{path}: {what}: expected a number, got {value!r}")
    return float(value)


def plot_matrix(plt, path, title):
    doc = load_json(path)
    rows = doc.get("matrix")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise InputError(f"{path}: \"matrix\": expected a non-empty array of non-empty arrays")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise InputError(f"{path}: \"matrix\": rows have different lengths")
    m = [[number(v, path, f"matrix[{i}][{j}]") for j, v in enumerate(r)] for i, r in enumerate(rows)]
    unit = str(doc.get("unit", ""))
    cpu_nodes = doc.get("cpu_nodes", list(range(len(m))))
    mem_nodes = doc.get("memory_nodes", list(range(width)))
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * width, 1.0 + 0.9 * len(m)))
    im = ax.imshow(m, cmap="viridis_r" if "GB" not in unit else "viridis")
    ax.set_xticks(range(width), [str(n) for n in mem_nodes])
    ax.set_yticks(range(len(m)), [str(n) for n in cpu_nodes])
    ax.set_xlabel("memory node")
    ax.set_ylabel("CPU node")
    lo, hi = min(min(r) for r in m), max(max(r) for r in m)
    for i, r in enumerate(m):
        for j, v in enumerate(r):
            dark = (v - lo) / (hi - lo) > 0.5 if hi > lo else False
            if "GB" in unit:
                dark = not dark
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="white" if dark else "black", fontsize=9)
    fig.colorbar(im, ax=ax, label=unit)
    ax.set_title(title or ("Idle latency" if "GB" not in unit else "Bandwidth") + (f" ({unit})" if unit else ""))
    return fig


def human_bytes(v):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if v < 1024:
            return f"{v:g}{unit}"
        v /= 1024
    return f"{v:g}PiB"


def plot_curves(plt, paths, kind, title):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for path in paths:
        doc = load_json(path)
        pts = doc.get("points")
        if not isinstance(pts, list) or not pts:
            raise InputError(f"{path}: \"points\": expected a non-empty array")
        xs, ys = [], []
        for i, p in enumerate(pts):
            if not isinstance(p, dict):
                raise InputError(f"{path}: points[{i}]: expected an object")
            xkey = "working_set_bytes" if kind == "tlb-reach" else "bandwidth_gbps"
            if xkey not in p or "latency_ns" not in p:
                raise InputError(f"{path}: points[{i}]: expected \"{xkey}\" and \"latency_ns\"")
            xs.append(number(p[xkey], path, f"points[{i}].{xkey}"))
            ys.append(number(p["latency_ns"], path, f"points[{i}].latency_ns"))
        label = doc.get("page_size") or os.path.splitext(os.path.basename(path))[0]
        ax.plot(xs, ys, marker="o", markersize=3, label=str(label))
    if kind == "tlb-reach":
        from matplotlib.ticker import FuncFormatter
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: human_bytes(v)))
        ax.set_xlabel("working set (bytes)")
        ax.set_title(title or "TLB reach: load latency against working set")
    else:
        ax.set_xlabel("bandwidth (GB/s)")
        ax.set_title(title or "Loaded latency")
    ax.set_ylabel("latency (ns)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def plot_mess_curves(plt, path, title):
    """A Mess-style family (numasim mess-curves): latency against bandwidth, one curve per read ratio."""
    doc = load_json(path)
    curves = doc.get("curves")
    if not isinstance(curves, list) or not curves:
        raise InputError(f"{path}: \"curves\": expected a non-empty array")
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    cmap = plt.get_cmap("viridis")
    idle = []
    for k, c in enumerate(curves):
        if not isinstance(c, dict) or "read_percent" not in c or not isinstance(c.get("points"), list) or not c["points"]:
            raise InputError(f"{path}: curves[{k}]: expected \"read_percent\" and a non-empty \"points\" array")
        rp = number(c["read_percent"], path, f"curves[{k}].read_percent")
        xs, ys = [], []
        for i, p in enumerate(c["points"]):
            if not isinstance(p, dict) or "bandwidth_gbps" not in p or "latency_ns" not in p:
                raise InputError(f"{path}: curves[{k}].points[{i}]: expected \"bandwidth_gbps\" and \"latency_ns\"")
            xs.append(number(p["bandwidth_gbps"], path, f"curves[{k}].points[{i}].bandwidth_gbps"))
            ys.append(number(p["latency_ns"], path, f"curves[{k}].points[{i}].latency_ns"))
            if p.get("delay") is None:
                idle.append(ys[-1])
        colour = cmap(min(1.0, max(0.0, (100.0 - rp) / 50.0)))
        ax.plot(xs, ys, marker="o", markersize=3, color=colour, label=f"{rp:g}% reads")
    if idle:
        ax.axhline(min(idle), color="grey", linestyle="--", linewidth=0.8, label="idle latency")
    ax.set_xlabel("memory bandwidth (GB/s)")
    ax.set_ylabel("load latency (ns)")
    ax.set_title(title or "Bandwidth-latency curves by read ratio: " + os.path.basename(path))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def read_series(path):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    if len(rows) < 2:
        raise InputError(f"{path}: expected a header line and at least one sample")
    header = rows[0]
    data = []
    for n, r in enumerate(rows[1:], start=2):
        if not r:
            continue
        if len(r) != len(header):
            raise InputError(f"{path}:{n}: expected {len(header)} fields, got {len(r)}")
        try:
            data.append([float(v) if v != "" else math.nan for v in r])
        except ValueError:
            raise InputError(f"{path}:{n}: expected numbers, got {r}")
    return header, data


def plot_pressure(plt, path, title):
    """Free memory, swap traffic and refaults per node over time (numasim run --sample)."""
    header, data = read_series(path)
    t = [r[0] / 1000.0 for r in data]  # time_us -> ms

    def columns(suffix):
        return [(h.split(".")[0], i) for i, h in enumerate(header) if h.endswith("." + suffix)]

    free = columns("free_kb")
    swpin, swpout = columns("pswpin_per_s"), columns("pswpout_per_s")
    refault = columns("workingset_refault_anon_per_s")
    for what, cols in (("free_kb", free), ("pswpin_per_s", swpin), ("pswpout_per_s", swpout),
                       ("workingset_refault_anon_per_s", refault)):
        if not cols:
            raise InputError(f"{path}: no node<N>.{what} column: not a numasim run --sample CSV of this version "
                             f"(columns are {', '.join(header[1:])})")
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(8, 7.5))
    for node, i in free:
        axes[0].plot(t, [r[i] / 1024.0 for r in data], linewidth=1.2, label=node)
    axes[0].set_ylabel("free memory (MiB)")
    for node, i in swpout:
        axes[1].plot(t, [r[i] for r in data], linewidth=1.2, label=f"{node} pswpout")
    for node, i in swpin:
        axes[1].plot(t, [r[i] for r in data], linewidth=1.2, linestyle="--", label=f"{node} pswpin")
    axes[1].set_ylabel("swap (pages/s)")
    for node, i in refault:
        axes[2].plot(t, [r[i] for r in data], linewidth=1.2, label=node)
    axes[2].set_ylabel("anon refaults (/s)")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("simulated time (ms)")
    fig.suptitle(title or "Memory pressure: " + os.path.basename(path))
    return fig


def plot_numa(plt, path, title):
    """NUMA balancing convergence over time (numasim run --sample): the share of DRAM
    accesses served by the local node, hint faults and page migrations per second
    (NUMA balancing's, promotions, all migrations, demotions) and, when the CSV has
    them, resident pages on the top tier and on the lower tiers."""
    header, data = read_series(path)
    t = [r[0] / 1000.0 for r in data]  # time_us -> ms
    wanted = ("local_dram_fraction", "numa_hint_faults_per_s", "numa_pages_migrated_per_s")
    idx = {}
    for w in wanted:
        if w not in header:
            raise InputError(f"{path}: no {w} column: not a numasim run --sample CSV of this version "
                             f"(columns are {', '.join(header[1:])})")
        idx[w] = header.index(w)
    promo = header.index("pgpromote_success_per_s") if "pgpromote_success_per_s" in header else None
    # Memory tiers (CSVs with the tier columns): resident pages per tier and
    # migrations / demotions per second on a fourth axis.
    tiers = [c for c in ("toptier_resident_pages", "lowertier_resident_pages") if c in header]
    moves = [c for c in ("pgmigrate_success_per_s", "pgdemote_per_s") if c in header]
    rows = 4 if tiers else 3
    fig, axes = plt.subplots(rows, 1, sharex=True, figsize=(8, 2.5 * rows))
    axes[0].plot(t, [r[idx["local_dram_fraction"]] for r in data], linewidth=1.4)
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("local DRAM share")
    axes[1].plot(t, [r[idx["numa_hint_faults_per_s"]] for r in data], linewidth=1.2)
    axes[1].set_ylabel("hint faults (/s)")
    axes[2].plot(t, [r[idx["numa_pages_migrated_per_s"]] for r in data], linewidth=1.2, label="numa_pages_migrated")
    if promo is not None:
        axes[2].plot(t, [r[promo] for r in data], linewidth=1.2, linestyle="--", label="pgpromote_success")
    for c in moves:
        axes[2].plot(t, [r[header.index(c)] for r in data], linewidth=1.0, linestyle=":", label=c[:-len("_per_s")])
    axes[2].set_ylabel("pages (/s)")
    if tiers:
        for c in tiers:
            axes[3].plot(t, [r[header.index(c)] for r in data], linewidth=1.3, label=c)
        axes[3].set_ylabel("resident pages")
        axes[3].legend(fontsize=7, loc="upper right")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[2].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("simulated time (ms)")
    fig.suptitle(title or "NUMA balancing: " + os.path.basename(path))
    return fig


def plot_series(plt, path, columns, title):
    header, data = read_series(path)
    wanted = [i for i, h in enumerate(header) if i > 0 and (not columns or any(c in h for c in columns))]
    if not wanted:
        raise InputError(f"{path}: no column matches {','.join(columns)}; columns are {', '.join(header[1:])}")
    wanted = wanted[:12]
    t = [r[0] for r in data]
    fig, axes = plt.subplots(len(wanted), 1, sharex=True, figsize=(8, 1.6 + 1.4 * len(wanted)), squeeze=False)
    for ax, i in zip(axes[:, 0], wanted):
        ax.plot(t, [r[i] for r in data], linewidth=1.2)
        ax.set_ylabel(header[i], fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel(header[0])
    fig.suptitle(title or os.path.basename(path))
    return fig


def main(argv):
    ap = argparse.ArgumentParser(description="Plot numasim JSON studies and CSV time series as PNG.")
    ap.add_argument("inputs", nargs="+", help="JSON or CSV files (curves: several files overlay)")
    ap.add_argument("-o", "--output", help="PNG to write (default: first input with .png)")
    ap.add_argument("--kind", choices=KINDS, default="auto")
    ap.add_argument("--columns", default="", help="series: comma-separated substrings of column names")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("numasim_plot: matplotlib is missing (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        return 3
    try:
        kinds = [args.kind if args.kind != "auto" else detect(p) for p in args.inputs]
        kind = kinds[0]
        if any(k != kind for k in kinds):
            raise InputError("inputs of different kinds: " + ", ".join(f"{p} ({k})" for p, k in zip(args.inputs, kinds)))
        if kind in ("latency-matrix", "bandwidth-matrix", "series", "pressure", "numa") and len(args.inputs) > 1:
            raise InputError(f"{kind}: give one input file")
        if kind in ("latency-matrix", "bandwidth-matrix"):
            fig = plot_matrix(plt, args.inputs[0], args.title)
        elif kind == "mess-curves":
            if len(args.inputs) > 1:
                raise InputError("mess-curves: give one input file")
            fig = plot_mess_curves(plt, args.inputs[0], args.title)
        elif kind == "pressure":
            fig = plot_pressure(plt, args.inputs[0], args.title)
        elif kind == "numa":
            fig = plot_numa(plt, args.inputs[0], args.title)
        elif kind == "series":
            cols = [c for c in args.columns.split(",") if c]
            fig = plot_series(plt, args.inputs[0], cols, args.title)
        else:
            fig = plot_curves(plt, args.inputs, kind, args.title)
    except InputError as e:
        print(f"numasim_plot: error: {e}", file=sys.stderr)
        return 2
    out = args.output or os.path.splitext(args.inputs[0])[0] + ".png"
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
