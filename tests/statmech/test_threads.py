"""Thread safety of the Gaussian integrals and of :func:`statmech.integrate`.

Two threads evaluating the integrals concurrently must get the serial result bit for bit. The
ReLU-student I4 used one module-global quadrature workspace: two threads overwrote each other's
buffers (wrong values, and contention).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import statmech as sm
from statmech.theory import gaussian_integrals as ig
from statmech.theory.activations import get_activation
from statmech.theory.ode_integrals import contracted_integrals

ACTS = ("erf", "linear", "relu")


def _covariances(n: int, size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((size, n, n + 1))
    return X @ np.swapaxes(X, -1, -2) / (n + 1)


def _jobs(seed: int) -> list:
    """(name, callable) pairs covering every kind of integral."""
    S2, S3, S4 = (_covariances(n, 64, seed + n) for n in (2, 3, 4))
    big4 = _covariances(4, 700, seed + 7)  # more than one quadrature sub-block
    jobs = []
    for a in ACTS:
        jobs.append((f"J2 {a}", lambda a=a: ig.J2(S2, a)))
        for b in ACTS:
            jobs.append((f"I2 {a} {b}", lambda a=a, b=b: ig.I2(S2, a, b)))
            jobs.append((f"I3 {a} {b}", lambda a=a, b=b: ig.I3(S3, a, b)))
            for c in ACTS:
                jobs.append((f"I4 {a} {b} {c}", lambda a=a, b=b, c=c: ig.I4(S4, a, b, c)))
    for c, d in (("relu", "relu"), ("erf", "erf")):
        jobs.append((f"I4 relu {c} {d} big", lambda c=c, d=d: ig.I4(big4, "relu", c, d)))
    jobs.append(("orthant4", lambda: ig.orthant_probability(big4)))
    rng = np.random.default_rng(seed)
    for s, t in (("erf", "erf"), ("relu", "erf"), ("erf", "relu"), ("linear", "relu")):
        K, M = 3, 2
        C = _covariances(K + M, 8, seed + 11)
        u = rng.standard_normal((8, K + M))
        sa, ta = get_activation(s), get_activation(t)
        jobs.append((f"contracted {s} {t}",
                     lambda C=C, u=u, K=K, sa=sa, ta=ta: tuple(
                         contracted_integrals(C, u, K, sa, ta))))
    return jobs


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))
    return np.array_equal(a, b, equal_nan=True)


def test_integrals_in_two_threads_equal_the_serial_result_bit_for_bit():
    jobs = _jobs(0)
    serial = {name: f() for name, f in jobs}
    barrier = threading.Barrier(2)
    mismatches: list[str] = []

    def worker(order: int) -> None:
        seq = jobs if order == 0 else jobs[::-1]
        barrier.wait()
        for _ in range(4):
            for name, f in seq:
                if not _same(f(), serial[name]):
                    mismatches.append(name)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mismatches, sorted(set(mismatches))


def test_relu_i4_quadrature_many_repetitions_in_a_pool():
    """The case that failed: the Plackett quadrature of I4(relu; relu, relu), 2 threads."""
    S = _covariances(4, 2000, 3)
    ref = {g: ig.I4(S, "relu", g, g) for g in ("relu", "erf")}
    tasks = [("relu", "erf")[i % 2] for i in range(24)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda g: (g, ig.I4(S, "relu", g, g)), tasks))
    bad = [g for g, r in results if not np.array_equal(r, ref[g])]
    assert not bad, f"{len(bad)} of {len(results)} threaded results differ from the serial ones"


@pytest.mark.parametrize("activation", [("relu", "erf"), "erf"])
def test_integrate_in_two_threads_equals_serial(activation):
    op0 = sm.OrderParameters.random(2, 2, 500, seed=4)
    kw = dict(eta=0.5, alpha=np.linspace(0.0, 2.0, 5), activation=activation, rtol=1e-6,
              atol=1e-9)
    ref = sm.integrate(op0, **kw)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outs = list(pool.map(lambda _: sm.integrate(op0, **kw), range(4)))
    for tr in outs:
        assert np.array_equal(tr.Q, ref.Q)
        assert np.array_equal(tr.R, ref.R)
        assert np.array_equal(tr.eg, ref.eg)


def test_module_level_lookup_arrays_are_read_only():
    """Shared module-level arrays cannot be modified in place by accident (by any thread)."""
    from statmech.theory import ode_integrals as itg

    for arr in (ig._S_NODES, ig._S_WEIGHTS, *ig._BASIS, *itg._pairs(3), *itg._upper(4)):
        assert not arr.flags.writeable
