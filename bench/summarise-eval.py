#!/usr/bin/env python3
"""Prints the evaluator benchmark table: per case, the median wall time and peak RSS of Kiln and
of Nix 2.8, and the ratios. Usage: summarise-eval.py RESULTS.tsv (name, hyperfine json, kiln KB,
nix KB per line)."""
import json
import platform
import statistics
import sys

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Machine: {cpu}, {platform.machine()}, kernel {platform.release()}\n")
rows = []
for line in open(sys.argv[1]):
    name, path, kiln_kb, nix_kb = line.rstrip("\n").split("\t")
    runs = {r["command"]: statistics.median(r["times"]) for r in json.load(open(path))["results"]}
    rows.append((name, runs, int(kiln_kb), int(nix_kb)))
# A third command, current CppNix (bench/run nixpkgs), gets its own columns.
current = any("nix-current" in runs for _, runs, _, _ in rows)
extra = " CppNix 2.26 | speed-up vs 2.26 |" if current else ""
print("| case | Nix 2.8 | Kiln | speed-up |" + extra + " Nix 2.8 peak | Kiln peak | memory |")
print("|---|---|---|---|" + ("---|---|" if current else "") + "---|---|---|")
for name, runs, kk, nk in rows:
    k, n = runs["kiln"], runs["nix"]
    cur = ""
    if current:
        c = runs.get("nix-current")
        cur = f" {c * 1000:.0f} ms | {c / k:.2f}× |" if c else " – | – |"
    print(f"| {name} | {n * 1000:.0f} ms | {k * 1000:.0f} ms | {n / k:.2f}× |{cur} "
          f"{nk / 1024:.0f} MB | {kk / 1024:.0f} MB | {kk / nk:.2f}× |")
