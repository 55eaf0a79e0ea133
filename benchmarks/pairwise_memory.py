"""Peak memory of the pairwise IoU matrices beyond their N x N result, at 20,000 x 20,000 boxes by default.

Each of box_iou, generalized_box_iou, distance_box_iou and complete_box_iou runs in a fresh Python process (so one
function's peak cannot hide behind another's) on N random valid boxes against N others, and is measured twice:

* resident memory: the process's peak resident set size (ru_maxrss) after the call, minus its current resident
  size just before it, minus the result's bytes. This is what the operating system had to provide, allocator
  overhead included; it also gives the wall-clock time of the call.
* tracemalloc: the peak of NumPy's traced allocations during a second call, minus the result's bytes. This counts
  exactly the arrays the function allocated (the copies of the inputs, the blocks' temporaries).

The issue's bound is 256 MiB beyond the result (which is 3.2 GB at N = 20,000). The script prints a table and
exits with status 1 if either measure exceeds the bound for any function, 0 otherwise. Timings are informative
only (they depend on the machine); nothing here is a unit test.

Usage:
    python benchmarks/pairwise_memory.py                 # 20,000 x 20,000, all four functions (about 6.5 GB)
    python benchmarks/pairwise_memory.py --size 2000     # a quick run
    python benchmarks/pairwise_memory.py --functions box_iou complete_box_iou
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

FUNCTIONS = ("box_iou", "generalized_box_iou", "distance_box_iou", "complete_box_iou")
MIB = 2**20
ROOT = Path(__file__).resolve().parents[1]


def random_boxes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n valid xyxy boxes: corners uniform in a 1000 x 1000 image, sides uniform in [0, 200)."""
    corner = rng.uniform(0.0, 1000.0, size=(n, 2))
    size = rng.uniform(0.0, 200.0, size=(n, 2))
    return np.concatenate([corner, corner + size], axis=1)


def current_rss_bytes() -> int:
    """The resident set size now (Linux: /proc/self/statm), not the peak."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def measure(name: str, size: int, seed: int) -> dict:
    """Run ``name`` twice on size x size boxes in this process and return its measurements (bytes, seconds)."""
    sys.path.insert(0, str(ROOT))
    from refloss.boxes import pairwise

    function = getattr(pairwise, name)
    rng = np.random.default_rng(seed)
    boxes1, boxes2 = random_boxes(size, rng), random_boxes(size, rng)
    function(boxes1[:2], boxes2[:2])  # warm up: imports and first-call allocations are not the function's cost

    before = current_rss_bytes()
    start = time.perf_counter()
    result = function(boxes1, boxes2)
    seconds = time.perf_counter() - start
    result_bytes = result.nbytes
    rss_beyond = peak_rss_bytes() - before - result_bytes
    finite = float(np.mean(np.isfinite(result)))
    del result

    tracemalloc.start()
    result = function(boxes1, boxes2)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    traced_beyond = traced_peak - result.nbytes
    return {"name": name, "size": size, "seconds": seconds, "result_bytes": result_bytes,
            "rss_beyond": rss_beyond, "traced_beyond": traced_beyond, "finite": finite,
            "block_rows": pairwise.block_rows(size), "workspace_bytes": pairwise.WORKSPACE_BYTES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Each function runs in its own subprocess; peak memory beyond the result is measured as the growth "
               "of the peak resident set size (ru_maxrss) and as tracemalloc's peak, each minus the result's "
               "bytes. Exit status 1 if either exceeds --budget-mib for any function.",
    )
    parser.add_argument("--size", type=int, default=20_000, help="number of boxes in each set (default 20000)")
    parser.add_argument("--functions", nargs="+", choices=FUNCTIONS, default=list(FUNCTIONS), metavar="NAME",
                        help=f"which functions to run (default: all of {', '.join(FUNCTIONS)})")
    parser.add_argument("--budget-mib", type=float, default=256.0,
                        help="allowed peak memory beyond the result, in MiB (default 256, the issue's bound)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random boxes (default 0)")
    parser.add_argument("--worker", choices=FUNCTIONS, help=argparse.SUPPRESS)  # internal: measure one function
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")

    if args.worker:
        print(json.dumps(measure(args.worker, args.size, args.seed)))
        return 0

    result_mib = args.size * args.size * 8 / MIB
    print(f"pairwise IoU matrices, {args.size} x {args.size} boxes: result {result_mib:,.1f} MiB (float64); "
          f"budget {args.budget_mib:g} MiB beyond it", flush=True)
    rows = []
    for name in args.functions:
        print(f"  running {name} ...", end="", flush=True)
        command = [sys.executable, __file__, "--worker", name, "--size", str(args.size), "--seed", str(args.seed)]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            print(" failed")
            print(completed.stderr, file=sys.stderr)
            return 2
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f" {row['seconds']:.1f} s", flush=True)

    header = ("function", "time (s)", "beyond result, RSS (MiB)", "beyond result, tracemalloc (MiB)", "within")
    table = [header]
    exceeded = False
    for row in rows:
        worst = max(row["rss_beyond"], row["traced_beyond"]) / MIB
        within = worst <= args.budget_mib
        exceeded |= not within
        table.append((row["name"], f"{row['seconds']:.1f}", f"{row['rss_beyond'] / MIB:.1f}",
                      f"{row['traced_beyond'] / MIB:.1f}", "yes" if within else "NO"))
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print()
    for i, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))
    if rows:
        print(f"\nblocks of {rows[0]['block_rows']} rows (workspace {rows[0]['workspace_bytes'] / MIB:g} MiB); "
              f"share of finite entries {min(r['finite'] for r in rows):.4f}")
    print("bound exceeded" if exceeded else f"all within {args.budget_mib:g} MiB beyond the result")
    return 1 if exceeded else 0


if __name__ == "__main__":
    sys.exit(main())
