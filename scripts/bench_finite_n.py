"""Benchmark of the finite-N correction of the edge-pruning theory (``statmech.pruning.finite_n``).

Times :func:`~statmech.pruning.finite_n.mask_spread` and
:func:`~statmech.pruning.finite_n.jensen_correction` against the original scalar implementation
(kept as the reference in ``tests/statmech/test_finite_n.py``) at K = 6, M = 2 and K = 20, M = 5
(N = 500, DPP-edge inclusion probabilities, 40 % of the edges kept), median of ``--repeat`` runs,
and prints the relative difference of the results. Then one ``prune_theory(..., weights=...)``
call per edge method at K = 20, M = 5 (new; and old with ``--old-theory``, which patches the
reference into the module), and the peak traced memory of the new code at K = 20, M = 5,
N = 5000.

Run: ``python scripts/bench_finite_n.py [--repeat 3] [--old-theory]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np

import statmech as sm
from statmech.pruning import finite_n as F
from statmech.pruning.api import prune_theory
from statmech.theory.order_parameters import joint_covariance

ROOT = Path(__file__).resolve().parents[1]


def load_reference():
    """The scalar reference implementation (``tests/statmech/test_finite_n.py``)."""
    path = ROOT / "tests" / "statmech" / "test_finite_n.py"
    spec = importlib.util.spec_from_file_location("_finite_n_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def median_time(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_functions(ref, K: int, M: int, N: int, repeat: int) -> None:
    cs = ref.make_case(K, M, N, "dpp_edge", "default", seed=1, keep=0.4)
    args = (cs["W"], cs["Ws"], cs["P"])
    Cmean = joint_covariance(cs["Q"], cs["R"], cs["T"])
    u = np.concatenate([-cs["v"], cs["vs"]])
    rest = (cs["Q"], cs["R"], cs["T"], cs["v"], cs["vs"], cs["st"], cs["te"])
    rows = [
        ("mask_spread", lambda: ref.ref_mask_spread(*args, *rest),
         lambda: F.mask_spread(*args, *rest)),
        ("jensen_correction",
         lambda: ref.ref_jensen_correction(*args, Cmean, u, cs["st"], cs["te"]),
         lambda: F.jensen_correction(*args, Cmean, u, cs["st"], cs["te"])),
    ]
    for name, old, new in rows:
        t_old, v_old = median_time(old, repeat)
        t_new, v_new = median_time(new, repeat)
        rel = abs(v_new - v_old) / abs(v_old) if v_old else abs(v_new)
        print(f"K={K:2d} M={M} N={N}  {name:18s} old {t_old * 1e3:9.1f} ms   "
              f"new {t_new * 1e3:7.2f} ms   x{t_old / t_new:7.1f}   rel. diff {rel:.1e}")


def bench_theory(ref, K: int, M: int, N: int, repeat: int, old: bool) -> None:
    rng = np.random.default_rng(2)
    W = rng.standard_normal((K, N))
    Ws = rng.standard_normal((M, N))
    op = sm.OrderParameters.from_weights(W, Ws, rng.uniform(0.5, 1.5, K), np.ones(M))
    cases = [("random_edge", "exact"), ("random_edge", "bernoulli"), ("dpp_edge", "default"),
             ("mbp_edge", "bernoulli"), ("magnitude_edge", "per_unit")]
    for method, variant in cases:
        def call(method=method, variant=variant):
            return prune_theory(op, method, int(0.4 * N), variant=variant, weights=W,
                                teacher_weights=Ws)
        t_new, _ = median_time(call, repeat)
        line = f"prune_theory K={K} M={M} N={N} {method:15s} {variant:9s} new {t_new:7.3f} s"
        if old:
            saved = F.jensen_correction, F.mask_spread
            F.jensen_correction, F.mask_spread = ref.ref_jensen_correction, ref.ref_mask_spread
            try:
                t_old, _ = median_time(call, repeat)
            finally:
                F.jensen_correction, F.mask_spread = saved
            line += f"   old {t_old:7.3f} s"
        print(line)


def peak_memory(ref, K: int, M: int, N: int) -> None:
    cs = ref.make_case(K, M, N, "random_edge", "exact", seed=3, keep=0.4)
    args = (cs["W"], cs["Ws"], cs["P"])
    Cmean = joint_covariance(cs["Q"], cs["R"], cs["T"])
    u = np.concatenate([-cs["v"], cs["vs"]])
    rest = (cs["Q"], cs["R"], cs["T"], cs["v"], cs["vs"], cs["st"], cs["te"])
    for name, fn in (("mask_spread", lambda: F.mask_spread(*args, *rest)),
                     ("jensen_correction",
                      lambda: F.jensen_correction(*args, Cmean, u, cs["st"], cs["te"]))):
        tracemalloc.start()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        inputs = sum(x.nbytes for x in args) / 2**20
        print(f"K={K} M={M} N={N}  {name:18s} new {dt * 1e3:7.1f} ms, "
              f"peak traced memory {peak / 2**20:6.1f} MiB (inputs {inputs:.1f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old-theory", action="store_true",
                    help="also time prune_theory with the scalar reference patched in")
    a = ap.parse_args()
    ref = load_reference()
    for K, M in ((6, 2), (20, 5)):
        bench_functions(ref, K, M, 500, a.repeat)
    bench_theory(ref, 20, 5, 500, a.repeat, a.old_theory)
    peak_memory(ref, 20, 5, 5000)


if __name__ == "__main__":
    main()
