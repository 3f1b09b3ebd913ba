"""Paper B (Yang et al., arXiv 2301.00335): test error against the pruning rate p of a two-layer
polynomial-ReLU network pruned at random at initialisation and trained by masked GD on the
signal + noise patch data (``docs/companion_papers.md`` §2.5).

Settings (§2.5): d = 1000, n = 40, m = 20 filters per class, ‖μ‖ = 6 on coordinate 1, σ_p = 1,
σ₀ = 0.01, q = 3, η = 0.05, stop at training loss < 1e-3 or 3000 steps, 2000 test points,
10 seeds, p ∈ {0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995}. The runs go through the sweep cache
(computation ``pruning_at_init``), so a rerun only prints.

``--q 1`` is the plain-ReLU check of §2.5: unless given, it uses η = 0.5, ‖μ‖ ∈ {1.5, 3} and
4 seeds.

    python scripts/companion_pruning_at_init.py [--seeds 10] [--q 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from statmech.companion.pruning_at_init import SWEEP_DEFAULTS, summarize_runs
from statmech.sweep import run_sweep

PS = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995]
RELU_CHECK = {"eta": 0.5, "mu_norm": [1.5, 3.0], "seeds": 4}


def u_shape_verdict(summary: pd.DataFrame) -> str:
    """Whether the mean test error is U-shaped in p: the interior minimum lies more than two
    (combined) standard errors below both end points."""
    s = summary.sort_values("p").reset_index(drop=True)
    if len(s) < 3:
        return "too few p values"
    inner = s.iloc[1:-1]
    k = int(inner.mean_test_error.idxmin())
    lo, first, last = s.iloc[k], s.iloc[0], s.iloc[-1]

    def below(end: pd.Series) -> bool:
        se = np.hypot(lo.sem_test_error, end.sem_test_error)
        return bool(end.mean_test_error - lo.mean_test_error > 2 * se)

    verdict = "U-shaped" if below(first) and below(last) else "not U-shaped"
    return (f"{verdict}: mean test error {first.mean_test_error:.3f} at p={first.p:g}, "
            f"minimum {lo.mean_test_error:.3f} ± {lo.sem_test_error:.3f} at p={lo.p:g}, "
            f"{last.mean_test_error:.3f} at p={last.p:g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--q", type=float, default=3.0, help="activation exponent (1: plain ReLU)")
    ap.add_argument("--eta", type=float, default=None)
    ap.add_argument("--mu-norm", type=float, nargs="+", default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--ps", type=float, nargs="+", default=PS)
    ap.add_argument("--d", type=int, default=SWEEP_DEFAULTS["d"])
    ap.add_argument("--n", type=int, default=SWEEP_DEFAULTS["n"])
    ap.add_argument("--m", type=int, default=SWEEP_DEFAULTS["m"])
    ap.add_argument("--max-steps", type=int, default=SWEEP_DEFAULTS["max_steps"])
    ap.add_argument("--executor", choices=("local", "serial"), default="local")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--force", action="store_true", help="recompute cached points")
    ap.add_argument("--output", type=Path, default=None, help="write the per-run table (CSV)")
    a = ap.parse_args(argv)
    relu = a.q == 1.0
    eta = a.eta if a.eta is not None else (RELU_CHECK["eta"] if relu else SWEEP_DEFAULTS["eta"])
    mu_norms = a.mu_norm or (RELU_CHECK["mu_norm"] if relu else [SWEEP_DEFAULTS["mu_norm"]])
    seeds = a.seeds or (RELU_CHECK["seeds"] if relu else 10)
    spec = {"computation": "pruning_at_init", "name": f"pruning-at-init-q{a.q:g}",
            "params": {"q": a.q, "eta": eta, "d": a.d, "n": a.n, "m": a.m,
                       "max_steps": a.max_steps},
            "grid": {"mu_norm": mu_norms, "p": a.ps, "replicate": list(range(seeds))}}
    t0 = time.perf_counter()
    runs = run_sweep(spec, cache=a.cache, executor=a.executor, workers=a.workers,
                     force=a.force)
    wall = time.perf_counter() - t0
    computed = runs.attrs.get("computed", 0)
    runs.attrs = {}
    if a.output is not None:
        a.output.parent.mkdir(parents=True, exist_ok=True)
        runs.to_csv(a.output, index=False)
    print(f"Paper B, random pruning at initialisation: d={a.d}, n={a.n}, m={a.m}, q={a.q:g}, "
          f"eta={eta:g}, sigma_p=1, sigma0=0.01, loss_tol=1e-3, max_steps={a.max_steps}, "
          f"2000 test points, {seeds} seeds per p")
    cols = ["p", "runs", "mean_test_error", "median_test_error", "sem_test_error",
            "mean_train_error", "mean_signal_neurons", "snr_p", "n_snr_q", "converged",
            "mean_steps", "mean_seconds"]
    for mu_norm, part in runs.groupby("mu_norm"):
        summary = summarize_runs(part)
        print(f"\n||mu|| = {mu_norm:g}")
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        if summary.diverged.any():
            print("diverged runs (fraction) at p:",
                  summary.loc[summary.diverged > 0, ["p", "diverged"]].to_dict("records"))
        print(u_shape_verdict(summary))
    print(f"\n{len(runs)} runs ({computed} computed now, the rest from the cache); "
          f"compute time {runs.seconds.sum():.1f} s in all, {runs.seconds.mean():.2f} s per "
          f"run; wall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
