"""Benchmark of the masked ODE (``statmech.integrate`` on ``MaskedOrderParameters``).

The case of the retraining issue: a student of K = 6 units (M = 2, v* = 4, trained v, η = 0.5)
trained by the ODE to α = 1600, pruned by random edge to half its inputs (all 2^6 = 64 cells
present, the large-N closed form), retrained to α′ = 100 (30 log-spaced outputs), with DOP853
(the default) and LSODA; and, for scale, K = 8 (256 cells) and K = 10 (1024 cells, the
``MAX_CELLS`` limit). Each figure is the median wall time of ``--rounds`` runs (default 3) in
this process; the right-hand-side evaluations (``nfev``) are printed beside it.

Run: ``python scripts/bench_masked_ode.py [--rounds 3]``. The goal: K = 6 to α′ = 100 in at
most 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import statmech as sm


def trained(K: int, M: int = 2) -> sm.OrderParameters:
    """A student trained by the ODE (v* = 4, trained v) to α = 1600."""
    rng = np.random.default_rng(0)
    op0 = sm.OrderParameters.random(K, M, 500, seed=0, v=rng.standard_normal(K),
                                    v_star=np.full(M, 4.0))
    return sm.integrate(op0, eta=0.5, alpha=[0.0, 1600.0], train_second_layer=True).at(-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per case (median)")
    args = parser.parse_args()
    alpha = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 29)])
    print(f"{'case':28s} {'cells':>5s} {'method':>7s} {'seconds':>8s} {'nfev':>6s}")
    for K, methods in ((6, ("DOP853", "LSODA")), (8, ("DOP853",)), (10, ("DOP853",))):
        mop = sm.MaskedOrderParameters.random_edge(trained(K), 0.5)
        for method in methods:
            times, nfev = [], 0
            for _ in range(args.rounds):
                t = time.perf_counter()
                traj = sm.integrate(mop, alpha=alpha, eta=0.5, train_second_layer=True,
                                    method=method)
                times.append(time.perf_counter() - t)
                nfev = traj.nfev
            print(f"{f'K = {K}, random edge c = 0.5':28s} {mop.n_cells:5d} {method:>7s} "
                  f"{np.median(times):8.2f} {nfev:6d}")


if __name__ == "__main__":
    main()
