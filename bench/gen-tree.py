#!/usr/bin/env python3
"""Writes a deterministic tree of about SIZE_MB megabytes: big files, small files, symlinks,
executables and nested directories, like a package output. Usage: gen-tree.py DIR [SIZE_MB]"""
import os
import random
import sys

root = sys.argv[1]
size_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
rng = random.Random(42)
os.makedirs(root)
total = size_mb * 1024 * 1024
written = 0
chunk = rng.randbytes(1 << 20)
i = 0
while written < total:
    d = os.path.join(root, f"d{i % 37}", f"sub{i % 11}")
    os.makedirs(d, exist_ok=True)
    # Four bytes in five go to large files (1-8 MiB), the rest to many small ones (0-64 KiB).
    if rng.random() < 0.05:
        size = rng.randint(1, 8) << 20
    else:
        size = rng.randint(0, 64 << 10)
    size = min(size, total - written)
    path = os.path.join(d, f"file{i}")
    with open(path, "wb") as f:
        left = size
        off = rng.randint(0, 1000)
        while left:
            n = min(left, len(chunk) - off)
            f.write(chunk[off:off + n])
            left -= n
            off = 0
    if i % 13 == 0:
        os.chmod(path, 0o755)
    if i % 29 == 0:
        os.symlink(f"file{i}", os.path.join(d, f"link{i}"))
    written += size
    i += 1
print(f"{root}: {i} files, {written} bytes")
