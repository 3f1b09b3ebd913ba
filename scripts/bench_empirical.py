"""Wall time of the default ``empirical compare``: its teacher–student half and its digits half.

Parts (``--parts``, default the first two):

* ``teacher-student``: :func:`empirical.compare.teacher_student_table` with the command's
  defaults (``empirical.cli.TS_DEFAULTS``: N = 200, K = 6, M = 2, v* = 4, η = 0.5, α = 50,
  σ = 0.25, 3 seeds, levels 1/3/5 units with matched edges, 40 masks × 4000 samples per
  (method, level), every method);
* ``digits``: loading digits and :func:`empirical.compare.real_data_table` with the command's
  defaults (5 seeds, every method, with and without reweighting);
* ``compare``: the whole command ``empirical compare`` (interpreter start, imports, both halves,
  CSVs and figures) into a temporary directory.

Every run is a fresh Python process (so each part pays its own first-call costs, as the command
does; the imports are outside the timed call for the two halves, inside for ``compare``), and
the median over ``--repeat`` runs (default 3) is reported with every run's time. Threads are
left as they are. ``--baseline DIR`` times another source tree as well (e.g. a ``git worktree``
of an older commit), interleaved run by run with this one so that both see the same machine
load; the 1-minute load average before and after is printed, since other processes on a shared
machine change the times.

Run: ``python scripts/bench_empirical.py [--repeat R] [--parts P ...] [--baseline DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("teacher-student", "digits", "compare")

#: One timed half in a fresh process: argv = (source tree, part).
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from empirical import cli
from empirical import compare
args = cli.build_parser().parse_args(["compare"])
t0 = time.perf_counter()
if sys.argv[2] == "teacher-student":
    ts = dict(cli.TS_DEFAULTS, N=args.ts_N, seeds=tuple(range(args.ts_seeds)))
    compare.teacher_student_table(methods=tuple(args.methods), **ts)
else:
    data = cli.load_data(args.data)
    compare.real_data_table(data, seeds=tuple(args.seeds), methods=tuple(args.methods),
                            finetune_epochs=args.finetune_epochs, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "file": compare.__file__}))
"""

#: The whole command in a fresh process: argv = (source tree, output directory).
WHOLE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from empirical.cli import main
sys.exit(main(["compare", "--output-dir", sys.argv[2], "--quiet"]))
"""


def _check(done: subprocess.CompletedProcess, tree: Path, part: str) -> None:
    if done.returncode != 0:
        raise RuntimeError(f"{part} with {tree} failed (exit {done.returncode}):\n"
                           f"{done.stderr[-3000:]}")


def run_once(tree: Path, part: str) -> float:
    """Seconds of one run of ``part`` with the code in ``tree`` (a fresh process)."""
    if part == "compare":
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", WHOLE, str(tree), out],
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            _check(done, tree, part)
            return seconds
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), part], capture_output=True,
                          text=True)
    _check(done, tree, part)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["file"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{tree}: imported {result['file']} instead")
    return float(result["seconds"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per part and tree (median)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS[:2]),
                   help="what to time")
    p.add_argument("--baseline", type=Path, default=None,
                   help="another source tree to time as well (interleaved)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        if not (args.baseline / "empirical" / "compare.py").is_file():
            p.error(f"--baseline {args.baseline}: not a source tree with empirical/compare.py")
        trees = {"baseline": args.baseline, **trees}
    load0 = os.getloadavg()[0]
    times: dict[tuple[str, str], list[float]] = {}
    for r in range(args.repeat):
        for part in args.parts:
            for name, tree in trees.items():
                t = run_once(tree, part)
                times.setdefault((part, name), []).append(t)
                print(f"  run {r + 1}: {part:15s} {name:9s} {t:7.1f} s", flush=True)
    load1 = os.getloadavg()[0]
    print(f"\nmedian of {args.repeat} run(s); 1-min load average {load0:.2f} before, "
          f"{load1:.2f} after, {os.cpu_count()} CPUs")
    for part in args.parts:
        for name in trees:
            ts = times[(part, name)]
            print(f"{part:15s} {name:9s} {np.median(ts):7.1f} s   "
                  f"(runs: {', '.join(f'{t:.1f}' for t in ts)})")
        if len(trees) == 2:
            base, ours = (np.median(times[(part, n)]) for n in trees)
            print(f"{part:15s} speed-up  {base / ours:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
