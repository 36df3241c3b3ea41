#!/usr/bin/env python3
"""Prints a markdown table of a hyperfine JSON export: median, min/max, throughput, and the ratio
of each command's median to the first's. Usage: summarise.py RESULTS.json [BYTES]"""
import json
import platform
import statistics
import sys

results = json.load(open(sys.argv[1]))["results"]
size = int(sys.argv[2]) if len(sys.argv) > 2 else None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"Machine: {cpu}, {platform.machine()}, kernel {platform.release()}\n")
head = "| command | median | min | max |" + (" throughput |" if size else "") + " vs first |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
base = statistics.median(results[0]["times"])
for r in results:
    med = statistics.median(r["times"])
    row = f"| {r['command']} | {med:.3f} s | {min(r['times']):.3f} s | {max(r['times']):.3f} s |"
    if size:
        row += f" {size / med / 1e6:.0f} MB/s |"
    row += f" {med / base:.2f}× |"
    print(row)
