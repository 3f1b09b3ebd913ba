"""Benchmark of the ODE integrator (issue: theory core, item 8).

Prints, for K = M = 2, 4, 10, 16 (erf SCM, η = 0.5, random Gaussian initial state at N = 1000,
α up to 1000):

* wall time of ``statmech.integrate`` at rtol 1e-8 (DOP853, the default, and LSODA);
* accuracy: max |Δε_g| at 50 log-spaced α in [1, 1000] against DOP853 at rtol 1e-12;
* the same for a fixed-step explicit Euler loop, dt = 0.01, in NumPy with the same right-hand
  side (the method of the published C++/Cython codes), for K = M = 2 and 4 (K = 10 and 16 with
  --euler-all; their Euler runs take minutes);
* a batch of 64 learning rates (η ∈ [0.1, 1]) at K = M = 4 against one trajectory.

Run: ``python scripts/bench_ode.py`` (add ``--euler-all`` for Euler at every K). Wall times are
medians over --repeat runs (default 3) on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np

import statmech as sm
from statmech.theory.activations import ACTIVATIONS
from statmech.theory.rhs import BatchedRHS, _coefficients

ALPHA = np.geomspace(1.0, 1000.0, 50)
ETA = 0.5


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def euler(op0: sm.OrderParameters, dt: float = 0.01) -> np.ndarray:
    """Fixed-step explicit Euler with the integrator's own right-hand side; ε_g on ALPHA."""
    erf = ACTIVATIONS["erf"]
    one = np.ones(1)
    coef = _coefficients(ETA * one, ETA * one, 0 * one, 0 * one, one, False)
    rhs = BatchedRHS(op0.Q[None], op0.R[None], op0.T[None], op0.v[None], op0.v_star[None], coef,
                     False, erf, erf, bound=np.array([np.inf]))
    y = rhs.y0.copy()
    targets = np.rint(ALPHA / dt).astype(int)
    out, j = [], 0
    for n in range(1, targets[-1] + 1):
        y += dt * rhs(0.0, y)
        while j < targets.size and targets[j] == n:
            Q, R, _ = rhs.unpack(y)
            out.append(sm.generalization_error(sm.OrderParameters(Q[0], R[0], op0.T)))
            j += 1
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--euler-all", action="store_true")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 10, 16])
    args = parser.parse_args()

    print(f"{'K=M':>4} {'method':>14} {'time [s]':>10} {'nfev':>6} {'max|Δε_g|':>10}")
    for K in args.sizes:
        op0 = sm.OrderParameters.random(K, K, 1000, seed=1)
        ref = sm.integrate(op0, eta=ETA, alpha=ALPHA, rtol=1e-12, atol=1e-14,
                           on_divergence="mask")
        rows = []
        runs = [("DOP853 1e-8", dict(method="DOP853")), ("LSODA 1e-8", dict(method="LSODA")),
                ("DOP853 1e-6", dict(rtol=1e-6))]
        for name, kw in runs:
            rep = args.repeat if K <= 10 else 1
            run = partial(sm.integrate, op0, eta=ETA, alpha=ALPHA, on_divergence="mask", **kw)
            t, tr = timed(run, rep)
            rows.append((name, t, tr.nfev, np.nanmax(np.abs(tr.eg - ref.eg))))
        if K <= 4 or args.euler_all:
            t, eg = timed(partial(euler, op0), 1)
            rows.append(("Euler 0.01", t, 100_000, np.nanmax(np.abs(eg - ref.eg))))
        for name, t, nfev, err in rows:
            print(f"{K:>4} {name:>14} {t:>10.3f} {nfev:>6} {err:>10.2e}")
        if K <= 4 or args.euler_all:
            te = rows[-1][1]
            print(f"     speed-up over Euler: DOP853 {te / rows[0][1]:.0f}x, "
                  f"LSODA {te / rows[1][1]:.0f}x, DOP853 rtol 1e-6 {te / rows[2][1]:.0f}x")

    # Batch against one trajectory, timed alternately so both see the same machine state; the
    # ratio is the median of the per-round ratios.
    K = 4
    op0 = sm.OrderParameters.random(K, K, 1000, seed=1)
    etas = np.linspace(0.1, 1.0, 64)
    for method in ("DOP853", "LSODA"):
        t1s, t64s = [], []
        for _ in range(args.repeat):
            t1s.append(timed(partial(sm.integrate, op0, eta=ETA, alpha=ALPHA, method=method), 1)[0])
            t64, tr = timed(partial(sm.integrate, op0, eta=etas, alpha=ALPHA, method=method), 1)
            t64s.append(t64)
        ratio = float(np.median(np.array(t64s) / np.array(t1s)))
        print(f"K=M=4 {method}: one trajectory {np.median(t1s):.3f} s, batch of 64 learning "
              f"rates {np.median(t64s):.3f} s: {ratio:.1f}x one ({64 / ratio:.1f}x faster than "
              f"64 separate runs; batch nfev {tr.nfev})")


if __name__ == "__main__":
    main()
