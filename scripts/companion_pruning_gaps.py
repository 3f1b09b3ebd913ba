"""Monte Carlo grid of docs/companion_papers.md §4.4 (paper D, Qian & Klabjan 2021; the
computable stand-in, paper fidelity pending).

Random bias-free ReLU FCNs ``[32, width × (depth − 1), width]`` (input dimension 32, the output
width equal to the hidden width), Gaussian weights, 500 random unit inputs. Grid: widths 64, 256,
1024; depths 2 and 4; r = 0.1, 0.5; methods magnitude (per layer), random, random-rescaled;
standard and mean-field scaling; one target per (width, depth, scaling), pruned by every
(r, method). Printed per cell:

* ``max`` = max_x ‖ΔF‖ / max_x ‖F‖ (the §4.4 statistic) and ``rms`` = √(Σ‖ΔF‖² / Σ‖F‖²) (the
  mean-square statistic), for each width;
* the closed-form predictions ``√L·g`` (§4.4 "Across depth") and ``rec`` (the large-width
  recursion of :func:`statmech.companion.pruning_gaps.predicted_gap`, derived here);
* ``bound/max``: the telescoping bound over the measured max_x ‖ΔF‖ (range over widths).

Then the strong-lottery-ticket matching estimate k = ⌈log(N_w/δ)/(2 ε g_min)⌉ for a few ε
(§4.4, an unverified reading of D).

Run: ``python scripts/companion_pruning_gaps.py [--quick] [--replicates R] [--seed S]``
(``--quick``: widths 64, 256 and 200 inputs). BLAS is pinned to one thread (small products on a
shared machine).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from statmech.companion import pruning_gaps as pg  # noqa: E402


def print_grid(table) -> None:
    widths = sorted(table["width"].unique())
    head = f"{'scaling':<10} {'L':>1} {'r':>4} {'method':<15} {'√L·g':>6} {'rec':>6}"
    for w in widths:
        head += f" | {'w=' + str(w):<6}{'max':>6}{'rms':>7}"
    head += " |   bound/max"
    print(head)
    print("-" * len(head))
    keys = ["scaling", "depth", "ratio", "method"]
    order = {m: i for i, m in enumerate(pg.METHODS)}
    groups = sorted(table.groupby(keys), key=lambda kv: (kv[0][0] != "standard", kv[0][1],
                                                         kv[0][2], order[kv[0][3]]))
    for (scaling, depth, ratio, method), g in groups:
        line = (f"{scaling:<10} {depth:>1} {ratio:>4.1f} {method:<15} "
                f"{g['pred_sqrt_depth'].iloc[0]:>6.3f} {g['pred_recursion'].iloc[0]:>6.3f}")
        for w in widths:
            gw = g[g["width"] == w]
            line += f" | {'':<6}{gw['max_rel'].mean():>6.3f}{gw['rms_rel'].mean():>7.3f}"
        b = g["bound_over_max_abs"]
        line += f" | {b.min():5.1f}–{b.max():5.1f}"
        print(line)


def print_matching(table, seed: int) -> None:
    """k per target weight for ε = e·s (s the hidden layer's weight std), candidates uniform on
    [−a, a], a = the target's largest |w| (g_min = 1/(2a)), δ = 0.05; and ε_bound, the per-weight
    tolerance that makes the first-order telescoping bound ≤ 0.1·max‖F‖ (|ΔW_ij| ≤ ε gives
    ‖ΔW_l‖₂ ≤ ε√(n_l n_{l−1}))."""
    print("\nStrong-lottery-ticket matching estimate (§4.4; unverified reading of D), δ = 0.05")
    es = (0.1, 0.01, 0.001)
    print(f"{'width':>5} {'L':>1} {'N_w':>9} " + " ".join(f"{'k(ε=' + str(e) + 's)':>13}"
                                                        for e in es)
          + f" {'ε_bound/s':>10} {'k(ε_bound)':>11}")
    rng = np.random.default_rng(seed)
    for (width, depth), _ in table.groupby(["width", "depth"]):
        net = pg.random_fcn([32] + [int(width)] * int(depth), rng=rng)
        s = 1.0 / math.sqrt(width)
        hidden = net.weights[-1]
        a = float(np.abs(hidden).max())
        g_min = 1.0 / (2 * a)
        ks = [pg.matching_width(net.n_weights, e * s, g_min, 0.05) for e in es]
        x = pg.random_unit_inputs(net, 500, rng)
        tol = 0.1 * float(np.linalg.norm(pg.forward(net, x), axis=1).max())
        norms = [pg.operator_norm(w) for w in net.weights]
        coef = sum(math.sqrt(w.size) * math.prod(norms[:i] + norms[i + 1:])
                   for i, w in enumerate(net.weights))
        eps_b = tol / coef
        kb = pg.matching_width(net.n_weights, eps_b, g_min, 0.05)
        print(f"{width:>5} {depth:>1} {net.n_weights:>9} " + " ".join(f"{k:>13,}" for k in ks)
              + f" {eps_b / s:>10.2e} {kb:>11,}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--replicates", type=int, default=1)
    ap.add_argument("--seed", type=int, default=20210520)
    args = ap.parse_args()
    widths = (64, 256) if args.quick else (64, 256, 1024)
    n_inputs = 200 if args.quick else 500
    t0 = time.perf_counter()
    table = pg.gap_grid(widths, (2, 4), (0.1, 0.5), pg.METHODS, ("standard", "mean_field"),
                        n_inputs, np.random.default_rng(args.seed), replicates=args.replicates)
    t_grid = time.perf_counter() - t0
    print(f"§4.4 Monte Carlo grid: {len(table)} rows, inputs {n_inputs}, replicates "
          f"{args.replicates} (means over replicates), Gaussian weights, ReLU, input dim 32\n")
    print_grid(table)
    w = table[table["width"] == max(widths)]
    print(f"\nmeasured max/√L·g at width {max(widths)}: "
          f"{(w['max_rel'] / w['pred_sqrt_depth']).min():.2f}–"
          f"{(w['max_rel'] / w['pred_sqrt_depth']).max():.2f}; rms/rec: "
          f"{(w['rms_rel'] / w['pred_recursion']).min():.3f}–"
          f"{(w['rms_rel'] / w['pred_recursion']).max():.3f}")
    print_matching(table, args.seed + 1)
    print(f"\ngrid {t_grid:.1f} s, total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
