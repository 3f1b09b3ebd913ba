"""Memory estimates before large allocations: refuse with a clear message instead
of allocating past what the machine has; normal runs are not refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError, _resources


@pytest.fixture
def tiny_memory(monkeypatch):
    monkeypatch.setattr(_resources, "available_memory", lambda: 1_000_000)  # ~1 MB
    monkeypatch.setattr(_resources, "device_memory", lambda backend: None)


def test_available_memory_reads_the_machine():
    avail = _resources.available_memory()
    assert avail is None or avail > 0


def test_simulate_full_is_refused_with_parameters_and_estimate(tiny_memory):
    with pytest.raises(InvalidParameterError) as info:
        sm.simulate(20000, 2, eta=0.5, alpha=0.01, ensemble=64)
    msg = str(info.value)
    for part in ("simulate", "N=20000", "K=2", "M=2", "ensemble=64", "MiB", "available"):
        assert part in msg
    assert info.value.param == "N"


def test_simulate_reduced_and_small_runs_are_not_refused():
    ens = sm.simulate(50, 2, eta=0.5, alpha=1.0, ensemble=3, method="reduced")
    assert ens.status.tolist() == ["ok"] * 3
    ens = sm.simulate(50, 2, eta=0.5, alpha=1.0, ensemble=3)
    assert ens.status.tolist() == ["ok"] * 3


def test_ensemble_weights_is_refused(tiny_memory, monkeypatch):
    monkeypatch.setattr(_resources, "available_memory", lambda: None)  # simulate itself runs
    ens = sm.simulate(2000, 2, eta=0.5, alpha=0.01, ensemble=64, method="reduced")
    monkeypatch.setattr(_resources, "available_memory", lambda: 100_000)
    with pytest.raises(InvalidParameterError, match=r"Ensemble.weights.*N=2000.*ensemble=64"):
        ens.weights()


def test_batched_integrate_is_refused(tiny_memory):
    op0 = sm.OrderParameters.random(4, 4, 100, size=500, seed=0)
    with pytest.raises(InvalidParameterError, match=r"integrate would need about .*op0"):
        sm.integrate(op0, eta=0.5, alpha=1.0)


def test_dpp_is_refused(tiny_memory):
    L = np.eye(400)
    calls = (lambda: sm.sample_k_dpp(L, 2), lambda: sm.sample_dpp(L),
             lambda: sm.KDPP(L))
    for call in calls:
        with pytest.raises(InvalidParameterError,
                           match=r"would need about .*L='shape \(400, 400\)'"):
            call()


def test_dpp_size_is_refused(monkeypatch):
    dpp = sm.KDPP(np.eye(50))
    monkeypatch.setattr(_resources, "available_memory", lambda: 10_000_000)
    with pytest.raises(InvalidParameterError, match=r"KDPP.sample_dpp.*size=1000000"):
        dpp.sample_dpp(size=10**6)


def test_gpu_memory_is_what_counts_on_a_gpu(monkeypatch):
    class FakeGPU:
        is_gpu = True
        name = "torch"
        device = "cuda:0"

    monkeypatch.setattr(_resources, "device_memory", lambda backend: 1000)
    with pytest.raises(InvalidParameterError, match="free on the GPU"):
        _resources.check_memory(2000, "f", {"n": 5}, backend=FakeGPU())
    _resources.check_memory(500, "f", {"n": 5}, backend=FakeGPU())


_MEASURE = textwrap.dedent("""
    import resource, sys
    import statmech as sm
    E, N, chunk = 32, 20000, {chunk}
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sm.simulate(N, 2, eta=0.5, alpha=[0.0, 0.005], ensemble=E,
                backend=sm.BackendOptions(chunk_size=chunk))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print((peak - base) / (E * 4 * N * 8))
""")


def test_simulate_memory_follows_the_chunking():
    """Measured (ru_maxrss in a subprocess): the old code held ≈ 5·E·(K+M)·N·8 bytes whatever
    the chunk size; now the final weights (1×) plus the chunk's working set."""
    ratios = {}
    for chunk in (4, 32):
        out = subprocess.run([sys.executable, "-c", _MEASURE.format(chunk=chunk)],
                             capture_output=True, text=True, check=True)
        ratios[chunk] = float(out.stdout.strip().splitlines()[-1])
    assert ratios[4] < 2.0, ratios
    assert ratios[32] < 4.5, ratios
