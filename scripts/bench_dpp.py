"""Benchmark of the exact k-DPP sampler (statmech.pruning.dpp) against DPPy 0.3.3 in a Python loop.

Kernels are random PSD matrices L = X Xᵀ/n, X an n×n standard Gaussian (eigenvalues O(1),
well-conditioned enough for DPPy). Cases:

(a) 1000 kernels, n = 50, k = 10: one draw per kernel, everything included (validation,
    eigendecomposition, ESP tables, both phases). Ours: one batched ``sample_k_dpp`` call;
    DPPy: a loop creating one ``FiniteDPP`` per kernel and calling ``sample_exact_k_dpp`` once.
(b) 100 kernels, n = 200, k = 50: the same.
(c) one kernel, n = 2000, k = 200, eigendecomposition and ESP table cached: the time of 10 draws
    after the first call. Ours: ``KDPP(L)`` then 10 calls of ``.sample(k)`` (and, separately,
    one ``.sample(k, size=10)`` call); DPPy: the same ``FiniteDPP`` object, 10 further calls.
    The first (uncached) call is reported too.

BLAS threads are left as they are. Times are medians over ``--repeat`` runs (default 5); the
kernels are regenerated identically for every run. ``--quick`` shrinks every case (10× fewer
kernels, n = 500 for (c)). The DPPy columns are skipped if ``dppy`` is not installed.

``--cps N`` adds one line: the exact conditional-Poisson inclusion probabilities of the DPP-edge
theory (``statmech.pruning.dpp_edge.cps_inclusion``) for K = 6 units of N Gaussian weights,
e = 0.8 N edges kept, with its peak traced memory (O(K·N); 6.8 MiB and ~25 s at N = 2·10⁴ on
the 2-core development machine, ``docs/dpp_edge_theory.md`` §5).

Run: ``python scripts/bench_dpp.py [--quick] [--repeat R] [--cps N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

from statmech.pruning.dpp import KDPP, sample_k_dpp

HAS_DPPY = importlib.util.find_spec("dppy") is not None


def kernels(B: int, n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((B, n, n))
    return X @ np.swapaxes(X, 1, 2) / n


def dppy_loop(L: np.ndarray, k: int, seed: int) -> None:
    from dppy.finite_dpps import FiniteDPP

    rs = np.random.RandomState(seed)
    for b in range(L.shape[0]):
        FiniteDPP("likelihood", L=L[b]).sample_exact_k_dpp(size=k, random_state=rs)


def batch_case(B: int, n: int, k: int, repeat: int) -> dict:
    L = kernels(B, n, seed=n)
    sample_k_dpp(L[:2], k, seed=0)  # warm-up (imports, first-call overheads)
    eigh, ours, theirs = [], [], []
    for r in range(repeat):  # interleaved, so that both see the same machine load
        t0 = time.perf_counter()
        np.linalg.eigh(L)
        eigh.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sample_k_dpp(L, k, seed=r)
        ours.append(time.perf_counter() - t0)
        if HAS_DPPY:
            t0 = time.perf_counter()
            dppy_loop(L, k, r)
            theirs.append(time.perf_counter() - t0)
    return {"case": f"{B} kernels, n={n}, k={k}", "ours": float(np.median(ours)),
            "dppy": float(np.median(theirs)) if theirs else float("nan"),
            "eigh": float(np.median(eigh))}


def cached_case(n: int, k: int, draws: int, repeat: int) -> list[dict]:
    L = kernels(1, n, seed=n)[0]
    t = {key: [] for key in ("first", "loop", "batched", "d_first", "d_loop", "eigh")}
    for r in range(repeat):  # interleaved, so that both see the same machine load
        t0 = time.perf_counter()
        np.linalg.eigh(L)
        t["eigh"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dpp = KDPP(L)
        dpp.sample(k, seed=r)
        t["first"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(draws):
            dpp.sample(k, seed=1000 * r + i)
        t["loop"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dpp.sample(k, size=draws, seed=r)
        t["batched"].append(time.perf_counter() - t0)
        if HAS_DPPY:
            from dppy.finite_dpps import FiniteDPP

            rs = np.random.RandomState(r)
            t0 = time.perf_counter()
            theirs = FiniteDPP("likelihood", L=L)
            theirs.sample_exact_k_dpp(size=k, random_state=rs)
            t["d_first"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(draws):
                theirs.sample_exact_k_dpp(size=k, random_state=rs)
            t["d_loop"].append(time.perf_counter() - t0)
    med = {key: float(np.median(v)) if v else float("nan") for key, v in t.items()}
    return [
        {"case": f"1 kernel, n={n}, k={k}: first call", "ours": med["first"],
         "dppy": med["d_first"], "eigh": med["eigh"]},
        {"case": f"  then {draws} draws, {draws} calls (cached)", "ours": med["loop"],
         "dppy": med["d_loop"], "eigh": float("nan")},
        {"case": f"  then {draws} draws, 1 call size={draws} (cached)", "ours": med["batched"],
         "dppy": med["d_loop"], "eigh": float("nan")},
    ]


def cps_case(N: int, K: int = 6) -> tuple[float, float]:
    """(seconds, peak traced MiB) of cps_inclusion for K units of N Gaussian weights, e = 0.8N."""
    import tracemalloc

    from statmech.pruning.dpp_edge import cps_inclusion

    W = np.random.default_rng(0).standard_normal((K, N))
    tracemalloc.start()
    t = time.perf_counter()
    cps_inclusion(W * W, int(0.8 * N))
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return dt, peak


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--cps", type=int, default=0, metavar="N",
                        help="also time cps_inclusion at K = 6, this N, e = 0.8 N")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    rows = [
        batch_case(1000 // scale, 50, 10, args.repeat),
        batch_case(100 // scale, 200, 50, args.repeat),
        *cached_case(500 if args.quick else 2000, 50 if args.quick else 200, 10, args.repeat),
    ]
    print(f"dppy installed: {HAS_DPPY}; times in seconds, median of {args.repeat}")
    head = f"{'case':<46} {'ours':>9} {'DPPy':>9} {'speed-up':>9} {'eigh only':>10}"
    print(head)
    print("-" * len(head))
    for r in rows:
        speed = r["dppy"] / r["ours"]
        print(f"{r['case']:<46} {r['ours']:9.3f} {r['dppy']:9.3f} {speed:8.1f}x "
              f"{r['eigh']:10.3f}")
    if args.cps:
        dt, peak = cps_case(args.cps)
        print(f"cps_inclusion K=6, N={args.cps}, e=0.8N: {dt:.2f} s, peak {peak:.1f} MiB")


if __name__ == "__main__":
    main()
