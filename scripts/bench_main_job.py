"""Benchmark of the README's main job against an earlier commit, timed in the same run.

Times, for this working tree and for a baseline commit (checked out into a temporary
``git worktree``, run with the same Python environment by putting it first on ``sys.path``):

* the quick gallery from a cold cache (``statmech figures`` into an empty cache and output
  directory),
* the same command again with the cache warm (only drawing),
* the default ``empirical compare`` (``--skip-*`` flags are not used).

Runs alternate between baseline and current (baseline cold, current cold, baseline cached,
current cached, ...), so load that changes during the run hits both. Each command runs in its
own process; its wall time includes start-up. Prints the machine (CPUs, model, load average)
and a table of medians over ``--repeat`` runs with the speed-ups.

Run: ``python scripts/bench_main_job.py [--baseline 73cd03c] [--repeat 1] [--skip-compare]``.
It takes about 10 minutes per repeat on 2 cores; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The commit before the newcomer-path work on speed (the baseline of the speed measurements).
DEFAULT_BASELINE = "73cd03c"

_RUNNER = """
import sys
sys.path.insert(0, {src!r})
if {which!r} == "statmech":
    from statmech.cli.app import main
else:
    from empirical.cli import main
code = main({argv!r})
sys.exit(code or 0)
"""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _timed(src: Path, which: str, argv: list[str], env: dict) -> float:
    """Wall seconds of one command run from the package tree ``src``; raises on failure."""
    code = _RUNNER.format(src=str(src), which=which, argv=argv)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{which} {' '.join(argv)} failed in {src} "
                         f"(exit {proc.returncode}):\n{proc.stdout[-3000:]}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=DEFAULT_BASELINE,
                    help="git commit to compare with (default: %(default)s)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command")
    ap.add_argument("--skip-compare", action="store_true",
                    help="time the gallery only (not empirical compare)")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench_main_job_"))
    base_src = scratch / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_src),
                    args.baseline], check=True, stdout=subprocess.DEVNULL)
    env = {k: v for k, v in os.environ.items()
           if k not in ("STATMECH_CACHE", "STATMECH_OUTPUT", "PYTHONPATH")}
    trees = {"baseline": base_src, "current": ROOT}
    times: dict[tuple[str, str], list[float]] = {}
    print(f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()},"
          f" load average before {os.getloadavg()[0]:.2f}", flush=True)
    try:
        for r in range(args.repeat):
            caches = {}
            for task in ("gallery cold", "gallery cached"):
                for name, src in trees.items():
                    out = scratch / f"{name}-{r}"
                    caches.setdefault(name, out / "cache")
                    if task == "gallery cold":
                        shutil.rmtree(out, ignore_errors=True)
                    argv = ["figures", "--quiet", "--output-dir", str(out / "figures"),
                            "--cache", str(caches[name])]
                    dt = _timed(src, "statmech", argv, env)
                    times.setdefault((task, name), []).append(dt)
                    print(f"  {task:16s} {name:8s} {dt:7.1f} s", flush=True)
            if not args.skip_compare:
                for name, src in trees.items():
                    out = scratch / f"{name}-{r}" / "compare"
                    argv = ["compare", "--output-dir", str(out)]
                    dt = _timed(src, "empirical", argv, env)
                    times.setdefault(("empirical compare", name), []).append(dt)
                    print(f"  {'empirical compare':16s} {name:8s} {dt:7.1f} s", flush=True)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_src)],
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nmedian wall seconds over {args.repeat} run(s); baseline = {args.baseline}")
    print(f"{'command':18s} {'baseline':>9s} {'current':>9s} {'speed-up':>9s}")
    for task in ("gallery cold", "gallery cached", "empirical compare"):
        if (task, "current") not in times:
            continue
        b = statistics.median(times[(task, "baseline")])
        c = statistics.median(times[(task, "current")])
        print(f"{task:18s} {b:9.1f} {c:9.1f} {b / c:8.2f}x")
    print(f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
