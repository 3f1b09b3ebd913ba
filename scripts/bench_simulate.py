"""Benchmark of the Monte Carlo engines. Prints network-steps per second.

(a) drawing the inputs alone, with the engine's generator and block layout;
(b) the full-N engine (``simulate(method="full")``'s stepping) for E = 1, 16, 128;
(c) a plain per-sample NumPy loop over one network (one fresh x per step);
(d) the reduced chain at the same sizes.

At N = 500 and N = 10⁴, K = M = 2, erf, B = 1, float64, NumPy backend (``--backend torch`` and
``--dtype float32`` to compare). Each number is the best of ``--repeat`` timed runs of at least
``--seconds`` seconds.

``--reduced-paths`` instead prints µs per SGD step (all E members together) of the reduced chain on
its two paths (:mod:`statmech.simulation.reduced_chain`): the carried factor F (B = 1) and the eigh
path (F re-derived from S by a batched ``eigh`` every step), at K = 6, M = 2 and K = 20, M = 5, E =
4, N = 500, B = 1, both layers trained. Each figure is the median over ``--rounds`` rounds in which
the two paths alternate, each timed run lasting at least ``--seconds`` seconds (block draws and
compressions included). Usage: ``python scripts/bench_simulate.py [--quick]`` or ``python
scripts/bench_simulate.py --reduced-paths``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.special import erf

from statmech.simulation.backend import get_backend, member_seeds
from statmech.simulation.reduced_chain import ReducedEngine
from statmech.simulation.sgd_engine import STREAM_INPUTS, EngineSettings, child_seed
from statmech.simulation.sgd_full import FullEngine, full_block_steps

K = M = 2


def _model(N, dtype, K=K, M=M, train=False):
    return EngineSettings(N=N, K=K, M=M, eta=0.5, eta_v=0.5 if train else 0.0, noise=0.0,
                    weight_decay=0.0, batch_size=1, train_second_layer=train, student="erf",
                    teacher="erf", dtype=dtype)


def _synchronizer(be):
    """A function that waits for queued GPU work (a no-op on the CPU)."""
    if be.name == "torch" and be.device.type == "cuda":
        import torch

        return torch.cuda.synchronize
    if be.name == "cupy":
        import cupy

        return cupy.cuda.Device(be.device).synchronize
    return lambda: None


def _rate(run, min_seconds, repeat, sync=lambda: None):
    """Best steps/s of ``run(n)`` (which takes n steps), n grown until it lasts min_seconds."""
    n = 1
    run(1)  # warm-up (first block draw, kernel compilation)
    sync()
    while True:
        t = time.perf_counter()
        run(n)
        sync()
        dt = time.perf_counter() - t
        if dt >= min_seconds:
            break
        n = int(n * min(max(2.0, 1.2 * min_seconds / max(dt, 1e-6)), 100))
    best = n / dt
    for _ in range(repeat - 1):
        t = time.perf_counter()
        run(n)
        sync()
        best = max(best, n / (time.perf_counter() - t))
    return best


def bench_draw(be, N, E, dtype, sec, rep, sync=lambda: None):
    gens = be.generators([child_seed(s, STREAM_INPUTS) for s in member_seeds(0, E)])
    bk = full_block_steps(N, 1, be.is_gpu)

    def run(n):
        for _ in range(-(-n // bk)):
            be.normal_block(gens, (bk, 1, N), dtype)
    return _rate(run, sec, rep, sync) * E


def bench_full(be, N, E, dtype, sec, rep, sync=lambda: None):
    rng = np.random.default_rng(0)
    eng = FullEngine(be, _model(N, dtype), member_seeds(0, E), rng.standard_normal((E, K, N)),
                     rng.standard_normal((E, M, N)), np.ones((E, K)), np.ones((E, M)))
    return _rate(eng.advance, sec, rep, sync) * E


def bench_reduced(be, N, E, dtype, sec, rep, sync=lambda: None):
    from statmech.theory.order_parameters import OrderParameters

    op = OrderParameters.random(K, M, N, size=E, seed=0)
    eng = ReducedEngine(be, _model(N, dtype), member_seeds(0, E), op.Q, op.R, op.T,
                        np.ones((E, K)), np.ones((E, M)))
    return _rate(eng.advance, sec, rep, sync) * E


def bench_plain_loop(N, sec, rep):
    """One network, one fresh x per step, written the obvious way."""
    rng = np.random.default_rng(0)
    W = rng.standard_normal((K, N))
    Ws = rng.standard_normal((M, N))
    v = np.ones(K)
    vs = np.ones(M)
    sq = np.sqrt(N)

    def run(n):
        nonlocal W
        for _ in range(n):
            x = rng.standard_normal(N)
            lam = W @ x / sq
            rho = Ws @ x / sq
            delta = vs @ erf(rho / np.sqrt(2)) - v @ erf(lam / np.sqrt(2))
            W += (0.5 / sq) * np.outer(v * np.sqrt(2 / np.pi) * np.exp(-lam**2 / 2) * delta, x)
    return _rate(run, sec, rep)


class _EighChain(ReducedEngine):
    """The reduced chain forced onto its eigh path for B = 1 (the chain before the factor)."""

    factor_path = False


def _reduced_engine(cls, be, K_, M_, N, E, dtype):
    from statmech.theory.order_parameters import OrderParameters

    op = OrderParameters.random(K_, M_, N, size=E, seed=0)
    return cls(be, _model(N, dtype, K_, M_, train=True), member_seeds(0, E), op.Q, op.R, op.T,
               np.ones((E, K_)), np.ones((E, M_)))


def _us_per_step(eng, min_seconds, sync):
    """µs per SGD step of one timed run of at least ``min_seconds`` (whole blocks)."""
    n = eng.block_steps
    while True:
        t = time.perf_counter()
        eng.advance(n)
        sync()
        dt = time.perf_counter() - t
        if dt >= min_seconds:
            return 1e6 * dt / n
        n *= 2


def bench_reduced_paths(be, dtype, sec, rounds, sync=lambda: None, E=4, N=500):
    """Median µs per step of the factor and the eigh path, alternating, ``rounds`` rounds."""
    print(f"reduced chain, backend={be.name} dtype={dtype} E={E} N={N} B=1 erf, both layers "
          f"trained; µs per SGD step (median of {rounds} interleaved rounds)")
    print(f"{'K':>3} {'M':>3} {'D':>3} {'factor':>9} {'eigh':>9} {'eigh/factor':>12}")
    for K_, M_ in ((6, 2), (20, 5)):
        engines = {name: _reduced_engine(cls, be, K_, M_, N, E, dtype)
                   for name, cls in (("factor", ReducedEngine), ("eigh", _EighChain))}
        for eng in engines.values():  # warm-up: first block draw, caches
            eng.advance(eng.block_steps)
            sync()
        times: dict = {name: [] for name in engines}
        for _ in range(rounds):
            for name, eng in engines.items():
                times[name].append(_us_per_step(eng, sec, sync))
        fac, eig = (float(np.median(times[k])) for k in ("factor", "eigh"))
        print(f"{K_:>3} {M_:>3} {engines['factor'].chunk:>3} {fac:>9.1f} {eig:>9.1f} "
              f"{eig / fac:>12.2f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="numpy")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--device", default=None, help="torch device (default cpu) or CuPy GPU index")
    ap.add_argument("--ensembles", default="1,16,128", help="comma-separated E values")
    ap.add_argument("--no-loop", action="store_true", help="skip the plain NumPy loop (c)")
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5,
                    help="interleaved rounds of --reduced-paths (>= 3)")
    ap.add_argument("--reduced-paths", action="store_true",
                    help="µs per step of the reduced chain's factor and eigh paths only")
    ap.add_argument("--quick", action="store_true", help="shorter timings (noisier)")
    a = ap.parse_args()
    sec, rep = (0.3, 1) if a.quick else (a.seconds, a.repeat)
    device = a.device if a.device is not None else ("cpu" if a.backend == "torch" else None)
    be = get_backend(a.backend, device)
    sync = _synchronizer(be)
    if a.reduced_paths:
        bench_reduced_paths(be, a.dtype, sec, max(3, a.rounds), sync)
        return
    print(f"backend={a.backend} dtype={a.dtype} K=M={K} erf B=1; network-steps per second")
    print(f"{'N':>6} {'E':>4} {'(a) draw':>11} {'(b) full':>11} {'b/a':>6} {'(c) loop':>11} "
          f"{'(d) reduced':>12} {'d/b':>7}")
    for N in (500, 10_000):
        loop = float("nan") if a.no_loop else bench_plain_loop(N, sec, rep)
        for E in (int(e) for e in a.ensembles.split(",")):
            draw = bench_draw(be, N, E, a.dtype, sec, rep, sync)
            full = bench_full(be, N, E, a.dtype, sec, rep, sync)
            red = bench_reduced(be, N, E, a.dtype, sec, rep, sync)
            print(f"{N:>6} {E:>4} {draw:>11.4g} {full:>11.4g} {draw / full:>6.2f} "
                  f"{loop if E == 1 else float('nan'):>11.4g} {red:>12.4g} {red / full:>7.1f}",
                  flush=True)
    print()
    bench_reduced_paths(be, a.dtype, sec, max(3, a.rounds) if not a.quick else 3, sync)


if __name__ == "__main__":
    main()
