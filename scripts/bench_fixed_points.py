"""Benchmark of the ``fixed_points`` sweep computation on the gallery's ``phase_diagram`` grid.

Runs the 50 points of the quick ``phase_diagram`` figure (K = M = 2..6, η = 10 values
``round(geomspace(0.05, 5.0), 4)``) serially, in this process, with the seeds a sweep gives
them (:func:`statmech.sweep.cache.point_seed`), and prints the total wall time and the slowest
points. No cache is read or written.

``--save PATH`` writes the table (one row per point: K, η, seconds and the computation's
columns) as CSV; ``--compare PATH`` compares the current results with such a saved table and
prints, per column, the largest relative and absolute differences and whether NaNs sit at the
same points (plateau height, escape time and η_c are the columns the figure plots).

Run: ``python scripts/bench_fixed_points.py [--save old.csv] [--compare old.csv]``.

Measured on 2 shared cores, back to back: 60.4 s before the rewrite of
:mod:`statmech.theory.fixed_points` (every trajectory to α = 1e4 with DOP853, the plateau search in
restarted chunks of the full right-hand side) and 13.3 s after; plateau height, escape time,
η_c and ``diverged`` agree to 2e-14 relative, ``eg_final`` to 6.4e-10 absolute.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from statmech.sweep.cache import point_seed
from statmech.sweep.registry import get_computation

COLUMNS = ["plateau_height", "escape_time", "eta_c", "diverged", "eg_final"]


def gallery_points() -> list[dict]:
    """The full configurations of the quick ``phase_diagram`` figure's ``fp`` sweep (its grid
    as of this script; defaults filled in as a sweep does, so the seeds are the sweep's)."""
    comp = get_computation("fixed_points")
    etas = np.round(np.geomspace(0.05, 5.0, 10), 4).tolist()
    return [comp.check_config({"K": K, "eta": eta}) for K in range(2, 7) for eta in etas]


def run(points: list[dict]) -> pd.DataFrame:
    """Compute every point serially with its sweep seed; one row per point, with its time."""
    comp = get_computation("fixed_points")
    rows = []
    for cfg in points:
        seed = point_seed(comp.name, cfg)
        t0 = time.perf_counter()
        table = comp.func(dict(cfg), seed)
        dt = time.perf_counter() - t0
        row = {"K": cfg["K"], "eta": cfg["eta"], "seconds": dt}
        row.update({c: table[c].iloc[0] for c in COLUMNS if c in table})
        rows.append(row)
        print(f"K={cfg['K']} eta={cfg['eta']:<7g} {dt:7.3f} s", flush=True)
    return pd.DataFrame(rows)


def compare(new: pd.DataFrame, old: pd.DataFrame) -> None:
    """Per column: where NaNs sit, the largest relative difference (over |old| > 1e-6: below,
    ε_g values are round-off of a vanishing error) and the largest absolute difference."""
    m = new.merge(old, on=["K", "eta"], suffixes=("", "_old"))
    print(f"\ncomparison with the saved table ({len(m)} common points):")
    for c in COLUMNS:
        if c not in m or c + "_old" not in m:
            continue
        a = m[c].to_numpy(dtype=float)
        b = m[c + "_old"].to_numpy(dtype=float)
        nan_same = bool(np.array_equal(np.isnan(a), np.isnan(b)))
        ok = np.isfinite(a) & np.isfinite(b)
        big = ok & (np.abs(b) > 1e-6)
        rel = np.abs(a[big] - b[big]) / np.abs(b[big])
        absd = np.abs(a[ok] - b[ok])
        where = ""
        if rel.size:
            i = np.flatnonzero(big)[int(np.argmax(rel))]
            where = f" (K={m.K.iloc[i]}, eta={m.eta.iloc[i]:g}: {a[i]:.12g} vs {b[i]:.12g})"
        print(f"  {c:15s} finite at {int(ok.sum()):2d} points, NaN pattern "
              f"{'same' if nan_same else 'DIFFERENT'}; max rel. diff "
              f"{(rel.max() if rel.size else 0.0):.3g} over {int(big.sum())} values > 1e-6"
              f"{where}; max abs. diff {(absd.max() if absd.size else 0.0):.3g}")


def main() -> None:
    """Command-line entry point (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--save", help="write the results table (CSV) here")
    ap.add_argument("--compare", help="compare with a table saved by --save")
    ap.add_argument("--top", type=int, default=8, help="how many slowest points to list")
    args = ap.parse_args()
    points = gallery_points()
    t0 = time.perf_counter()
    res = run(points)
    total = time.perf_counter() - t0
    print(f"\n{len(points)} points, total {total:.2f} s (serial)")
    print("slowest points:")
    for _, r in res.sort_values("seconds", ascending=False).head(args.top).iterrows():
        print(f"  K={r.K} eta={r.eta:<7g} {r.seconds:7.3f} s  plateau={r.plateau_height:.6g} "
              f"escape={r.escape_time:.6g} diverged={r.diverged}")
    if args.save:
        res.to_csv(args.save, index=False, float_format="%.17g")
        print(f"saved {args.save}")
    if args.compare:
        compare(res, pd.read_csv(args.compare))


if __name__ == "__main__":
    main()
