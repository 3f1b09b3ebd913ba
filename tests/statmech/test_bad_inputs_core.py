"""Table of bad inputs to the core API: each raises InvalidParameterError naming the
parameter, quickly (refused before any work), never a library traceback or a silent coercion."""

from __future__ import annotations

import time

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError
from statmech.theory import gaussian_integrals as ig

OP = sm.OrderParameters.random(2, 2, 100, seed=0)
OPB = sm.OrderParameters.random(2, 2, 100, size=2, seed=0)
L4 = np.diag([1.0, 2.0, 3.0, 4.0])
S2, S3, S4 = np.eye(2), np.eye(3), np.eye(4)


def _ens():
    return sm.simulate(20, 2, eta=0.5, alpha=[0.0, 1.0], ensemble=2, method="reduced")


def integ(**kw):
    base = dict(eta=0.5, alpha=1.0)
    base.update(kw)
    return lambda: sm.integrate(base.pop("op0", OP), **base)


def rhs(**kw):
    base = dict(eta=0.5)
    base.update(kw)
    return lambda: sm.ode_rhs(base.pop("op", OP), **base)


def sim(N=20, K=2, **kw):
    base = dict(eta=0.5, alpha=1.0)
    base.update(kw)
    return lambda: sm.simulate(N, K, **base)


CASES = [
    # integrate
    ("integrate op0 array", integ(op0=np.eye(2)), "op0"),
    ("integrate eta negative", integ(eta=-0.1), "eta"),
    ("integrate eta bool", integ(eta=True), "eta"),
    ("integrate eta string", integ(eta="0.5"), "eta"),
    ("integrate eta inf", integ(eta=np.inf), "eta"),
    ("integrate eta_v negative", integ(eta_v=-1.0), "eta_v"),
    ("integrate alpha string", integ(alpha="10"), "alpha"),
    ("integrate alpha 2-D", integ(alpha=np.ones((2, 2))), "alpha"),
    ("integrate alpha too large", integ(alpha=1e300), "alpha"),
    ("integrate batch_size 2.7", integ(batch_size=2.7), "batch_size"),
    ("integrate batch_size 2.0", integ(batch_size=2.0), "batch_size"),
    ("integrate batch_size True", integ(batch_size=True), "batch_size"),
    ("integrate batch_size array 0", integ(op0=OPB, batch_size=np.array([1, 0])), "batch_size"),
    ("integrate train_second_layer 1", integ(train_second_layer=1), "train_second_layer"),
    ("integrate noise nan", integ(noise=np.nan), "noise"),
    ("integrate weight_decay list bad", integ(weight_decay=[0.1, -1.0]), "weight_decay"),
    ("integrate method", integ(method="euler"), "method"),
    ("integrate rtol 2", integ(rtol=2.0), "rtol"),
    ("integrate atol 0", integ(atol=0.0), "atol"),
    ("integrate on_divergence", integ(on_divergence="warn"), "on_divergence"),
    ("integrate activation", integ(activation="tanh"), "activation"),
    ("integrate broadcast", integ(op0=OPB, eta=np.ones(3)), "broadcast"),
    ("integrate unknown kw", lambda: sm.integrate(OP, eta=0.5, alpha=1.0, etaa=1), "etaa"),
    # ode_rhs
    ("ode_rhs op", rhs(op="op"), "op"),
    ("ode_rhs eta 0", rhs(eta=0.0), "eta"),
    ("ode_rhs batch_size 0", rhs(batch_size=0), "batch_size"),
    ("ode_rhs noise -1", rhs(noise=-1.0), "noise"),
    ("ode_rhs activation pair", rhs(activation=("erf", "tanh")), "activation"),
    # simulate
    ("simulate N float", sim(N=20.0), "N"),
    ("simulate N 2.7", sim(N=2.7), "N"),
    ("simulate N True", sim(N=True), "N"),
    ("simulate N < K + M", sim(N=3), "N"),
    ("simulate K 0", sim(K=0), "K"),
    ("simulate M float", sim(M=2.0), "M"),
    ("simulate ensemble 0", sim(ensemble=0), "ensemble"),
    ("simulate ensemble 1.5", sim(ensemble=1.5), "ensemble"),
    ("simulate seed -1", sim(seed=-1), "seed"),
    ("simulate seed float", sim(seed=1.0), "seed"),
    ("simulate seed True", sim(seed=True), "seed"),
    ("simulate batch_size True", sim(batch_size=True), "batch_size"),
    ("simulate batch_size 2.7", sim(batch_size=2.7), "batch_size"),
    ("BackendOptions chunk_size 0", lambda: sm.BackendOptions(chunk_size=0), "chunk_size"),
    ("BackendOptions chunk_size 2.5", lambda: sm.BackendOptions(chunk_size=2.5), "chunk_size"),
    ("simulate unknown keyword", sim(chunk_size=2), "chunk_size"),
    ("simulate eta 0", sim(eta=0.0), "eta"),
    ("simulate eta_v -1", sim(eta_v=-1.0), "eta_v"),
    ("simulate weight_decay >= N", sim(weight_decay=20.0), "weight_decay"),
    ("StudentInit scale 0", lambda: sm.StudentInit(scale=0.0), "scale"),
    ("StudentInit v_scale -1", lambda: sm.StudentInit(v_scale=-1.0), "v_scale"),
    ("simulate init.v", sim(init=sm.StudentInit(v=[1.0, 2.0, 3.0])), "init.v"),
    ("simulate train_second_layer 0", sim(train_second_layer=0), "train_second_layer"),
    ("simulate progress 1", sim(progress=1), "progress"),
    ("simulate backend", sim(backend="jax"), "backend"),
    ("BackendOptions dtype", lambda: sm.BackendOptions(dtype="float16"), "dtype"),
    ("BackendOptions chunk_size 2.0", lambda: sm.BackendOptions(chunk_size=2.0), "chunk_size"),
    ("SGDModel batch_size True", lambda: sm.SGDModel(eta=0.5, batch_size=True), "batch_size"),
    ("simulate model", sim(model="fast"), "model"),
    ("integrate unknown keyword", integ(etta=0.5), "etta"),
    ("simulate method", sim(method="exact"), "method"),
    ("simulate alpha 1e300", sim(alpha=1e300), "alpha"),
    ("simulate alpha tiny", sim(alpha=1e-12), "alpha"),
    ("simulate v_star shape", sim(v_star=[1.0, 2.0, 3.0]), "v_star"),
    ("simulate init.v string", sim(init=sm.StudentInit(v="1")), "init.v"),
    ("simulate teacher shape", sim(teacher=np.ones((3, 5))), "teacher"),
    ("simulate init string", sim(init="random"), "init"),
    ("simulate init op wrong K", sim(init=sm.OrderParameters.random(3, 2, 100, seed=0)), "init"),
    ("simulate reduced batch_size", sim(N=8, method="reduced", batch_size=5), "batch_size"),
    # Ensemble
    ("Ensemble.order_parameters i float", lambda: _ens().order_parameters(1.0), "i"),
    ("Ensemble.order_parameters i range", lambda: _ens().order_parameters(5), "i"),
    ("Ensemble.order_parameters i bool", lambda: _ens().order_parameters(True), "i"),
    ("Ensemble.weights seed -1", lambda: _ens().weights(seed=-1), "seed"),
    ("Ensemble.weights seed float", lambda: _ens().weights(seed=1.5), "seed"),
    # DPP
    ("sample_k_dpp k float", lambda: sm.sample_k_dpp(L4, 2.0), "k"),
    ("sample_k_dpp k > n", lambda: sm.sample_k_dpp(L4, 5), "k"),
    ("sample_k_dpp k rank", lambda: sm.sample_k_dpp(np.diag([1.0, 0, 0, 0]), 2), "k"),
    ("sample_k_dpp size 0", lambda: sm.sample_k_dpp(L4, 2, size=0), "size"),
    ("sample_k_dpp seed -1", lambda: sm.sample_k_dpp(L4, 2, seed=-1), "seed"),
    ("sample_k_dpp L nonsym", lambda: sm.sample_k_dpp(np.triu(np.ones((3, 3))), 1), "L"),
    ("sample_k_dpp L ragged", lambda: sm.sample_k_dpp([[1.0, 0.0], [1.0]], 1), "L"),
    ("sample_k_dpp L not PSD", lambda: sm.sample_k_dpp(np.diag([1.0, -1.0]), 1), "L"),
    ("sample_k_dpp backend", lambda: sm.sample_k_dpp(L4, 2, backend=3), "backend"),
    ("sample_dpp size True", lambda: sm.sample_dpp(L4, size=True), "size"),
    ("sample_dpp L string", lambda: sm.sample_dpp("L"), "L"),
    ("sample_dpp seed float", lambda: sm.sample_dpp(L4, seed=0.5), "seed"),
    ("KDPP L 1-D", lambda: sm.KDPP(np.ones(4)), "L"),
    ("KDPP.sample k None", lambda: sm.KDPP(L4).sample(None), "k"),
    ("KDPP.sample_dpp size -1", lambda: sm.KDPP(L4).sample_dpp(size=-1), "size"),
    ("KDPP.log_normaliser k", lambda: sm.KDPP(L4).log_normaliser(-1), "k"),
    # integrals
    ("I2 activation", lambda: ig.I2(S2, "tanh", "erf"), "g_a"),
    ("I2 S shape", lambda: ig.I2(S3, "erf", "erf"), "S"),
    ("I2 S string", lambda: ig.I2("S", "erf", "erf"), "S"),
    ("J2 activation", lambda: ig.J2(S2, 1), "g"),
    ("I3 g_c", lambda: ig.I3(S3, "erf", "sigmoid"), "g_c"),
    ("I3 S shape", lambda: ig.I3(S2, "erf", "erf"), "S"),
    ("I4 g_d", lambda: ig.I4(S4, "relu", "erf", None), "g_d"),
    ("I4 S shape", lambda: ig.I4(S3, "relu", "erf", "erf"), "S"),
    ("orthant_probability S 5x5", lambda: ig.orthant_probability(np.eye(5)), "S"),
    ("orthant_probability S object", lambda: ig.orthant_probability(object()), "S"),
]


def test_table_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name, call, param", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_naming_the_parameter(name, call, param):
    start = time.perf_counter()
    with pytest.raises(InvalidParameterError) as info:
        call()
    assert f"'{param}'" in str(info.value) or param in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert time.perf_counter() - start < 2.0, "refused only after doing work"
