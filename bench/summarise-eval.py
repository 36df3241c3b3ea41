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
print("| case | Nix 2.8 | Kiln | speed-up | Nix 2.8 peak | Kiln peak | memory |")
print("|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    name, path, kiln_kb, nix_kb = line.rstrip("\n").split("\t")
    runs = {r["command"]: statistics.median(r["times"]) for r in json.load(open(path))["results"]}
    k, n = runs["kiln"], runs["nix"]
    kk, nk = int(kiln_kb), int(nix_kb)
    print(f"| {name} | {n * 1000:.0f} ms | {k * 1000:.0f} ms | {n / k:.2f}× | "
          f"{nk / 1024:.0f} MB | {kk / 1024:.0f} MB | {kk / nk:.2f}× |")
