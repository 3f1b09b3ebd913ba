"""Overflowing and diverging runs are flagged or refused, never reported "ok"."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError

OP0 = sm.OrderParameters.random(2, 2, 1000, seed=0)


# ----------------------------------------------------------------------------- integrate
@pytest.mark.parametrize("eta", [1e200, 1e155, 1e100, 1e120])
@pytest.mark.parametrize("method", ["DOP853", "LSODA", "Radau"])
def test_integrate_huge_eta_is_flagged_in_mask_mode(eta, method):
    # old code: 1e155/1e200 returned "ok" with a frozen ε_g; 1e52/1e100 crashed with
    # AttributeError ('list' object has no attribute 'size'); LSODA hung
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        tr = sm.integrate(OP0, eta=eta, alpha=10.0, method=method, on_divergence="mask")
    assert tr.status == "diverged"
    assert np.isfinite(tr.alpha_diverged) and tr.alpha_diverged <= 10.0
    assert np.isnan(tr.eg[-1])
    assert tr.eg[0] == pytest.approx(sm.integrate(OP0, eta=0.5, alpha=1.0).eg[0])


@pytest.mark.parametrize("eta", [1e200, 1e100])
@pytest.mark.parametrize("method", ["DOP853", "LSODA"])
def test_integrate_huge_eta_raises_divergence(eta, method):
    with pytest.raises(ValueError, match="diverged"):
        sm.integrate(OP0, eta=eta, alpha=10.0, method=method)


def test_integrate_mixed_batch_keeps_the_good_members():
    tr = sm.integrate(OP0, eta=np.array([0.5, 1e200, 1e60]), alpha=10.0, on_divergence="mask")
    assert list(tr.status) == ["ok", "diverged", "diverged"]
    solo = sm.integrate(OP0, eta=0.5, alpha=10.0)
    np.testing.assert_allclose(tr.eg[0], solo.eg, rtol=1e-6, atol=1e-9)


def test_integrate_overflowing_second_layer_is_flagged():
    tr = sm.integrate(OP0, eta=0.5, eta_v=1e200, train_second_layer=True, alpha=5.0,
                      on_divergence="mask", method="LSODA")
    assert tr.status == "diverged"


@pytest.mark.parametrize("alpha", [1e308, 1e20, [0.0, 1.0, 1e300]])
def test_integrate_refuses_unresolvable_alpha(alpha):
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of integrate"):
        sm.integrate(OP0, eta=0.5, alpha=alpha, method="LSODA")


def test_integrate_refuses_explicit_method_that_would_hang():
    # old code: α = 1e9 with DOP853 ran for hours (stability-limited explicit steps)
    with pytest.raises(InvalidParameterError, match=r"'alpha'.*evaluations.*LSODA"):
        sm.integrate(OP0, eta=0.5, alpha=1e9)
    assert sm.integrate(OP0, eta=0.5, alpha=1e9, method="LSODA").status == "ok"


# ------------------------------------------------------------------------------ simulate
def _backends():
    out = ["numpy"]
    try:
        import torch  # noqa: F401

        out.append("torch")
    except ImportError:
        pass
    return out


@pytest.mark.parametrize("alpha", [1e300, 1e15])
def test_simulate_refuses_too_many_steps(alpha):
    # old code: α = 1e300 overflowed int64 and returned α = -9.2e16, untrained, "ok"
    with pytest.raises(InvalidParameterError, match="'alpha' parameter of simulate"):
        sm.simulate(20, 2, eta=0.5, alpha=alpha)


@pytest.mark.parametrize("alpha", [1e-12, [1e-12]])
def test_simulate_refuses_alpha_below_one_step(alpha):
    # old code: silently returned only α = 0
    with pytest.raises(InvalidParameterError, match="'alpha'.*at least one SGD step"):
        sm.simulate(20, 2, eta=0.5, alpha=alpha)


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("method", ["full", "reduced"])
@pytest.mark.parametrize("kwargs", [
    dict(eta=1e300),
    dict(noise=1e300),
    dict(train_second_layer=True, eta_v=1e300),
    dict(eta=1e200, dtype="float32"),
])
def test_simulate_overflow_is_flagged(backend, method, kwargs):
    base = dict(eta=0.5, alpha=[0.0, 1.0, 2.0], ensemble=2, method=method, backend=backend,
                on_divergence="mask", seed=0)
    base.update(kwargs)
    if "dtype" in base:
        base["backend"] = sm.BackendOptions(backend, dtype=base.pop("dtype"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ens = sm.simulate(20, 2, **base)
    assert list(ens.status) == ["diverged", "diverged"]
    assert np.all(np.isfinite(ens.alpha_diverged))
    assert np.all(np.isnan(ens.eg[:, -1]))
    base["on_divergence"] = "raise"
    with pytest.raises(ValueError, match="diverged"):
        sm.simulate(20, 2, **base)


def test_simulate_overflowing_initial_state_is_refused():
    with pytest.raises(InvalidParameterError, match=r"'init' parameter .*StudentInit.scale"):
        sm.simulate(20, 2, eta=0.5, alpha=1.0, init=sm.StudentInit(scale=1e200))
