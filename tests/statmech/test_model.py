"""The one model object: statmech.SGDModel, and the calls that take it."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import statmech as sm
from statmech import InvalidParameterError, SGDModel
from statmech.theory.model import MODEL_DEFAULTS, MODEL_FIELDS

OP = sm.OrderParameters.random(2, 2, 500, seed=3)
TAKE_A_MODEL = [sm.integrate, sm.ode_rhs, sm.simulate, sm.symmetric_plateau, sm.plateau_height]


def test_the_model_settings_are_declared_once():
    """Functions taking a model declare none of its fields themselves."""
    for func in TAKE_A_MODEL:
        params = inspect.signature(func).parameters
        assert "model" in params, func.__name__
        assert not set(params) & set(MODEL_FIELDS), func.__name__
        assert any(p.kind is p.VAR_KEYWORD for p in params.values()), func.__name__


def test_simulate_takes_at_most_15_parameters():
    assert len(inspect.signature(sm.simulate).parameters) <= 15


def test_keywords_and_model_give_identical_results():
    kw = dict(eta=0.7, noise=0.2, train_second_layer=True, eta_v=0.3, weight_decay=0.05,
              batch_size=2, activation=("erf", "relu"))
    m = SGDModel(**kw)
    a = sm.integrate(OP, alpha=[0.0, 1.0, 5.0], **kw)
    b = sm.integrate(OP, alpha=[0.0, 1.0, 5.0], model=m)
    np.testing.assert_array_equal(a.eg, b.eg)
    np.testing.assert_array_equal(a.Q, b.Q)
    for x, y in zip(sm.ode_rhs(OP, **kw), sm.ode_rhs(OP, model=m), strict=True):
        np.testing.assert_array_equal(x, y)
    e1 = sm.simulate(60, 2, alpha=[0.0, 1.0], ensemble=2, method="reduced", seed=1, **kw)
    e2 = sm.simulate(60, 2, alpha=[0.0, 1.0], ensemble=2, method="reduced", seed=1, model=m)
    np.testing.assert_array_equal(e1.Q, e2.Q)
    assert sm.plateau_height(2, eta=0.4, noise=0.1) == sm.plateau_height(
        2, model=SGDModel(eta=0.4, noise=0.1))


def test_keywords_override_the_models_fields():
    m = SGDModel(eta=0.5)
    a = sm.integrate(OP, alpha=[0.0, 3.0], model=m, noise=0.3)
    b = sm.integrate(OP, alpha=[0.0, 3.0], eta=0.5, noise=0.3)
    np.testing.assert_array_equal(a.eg, b.eg)
    c = sm.integrate(OP, alpha=[0.0, 3.0], model=m)
    assert not np.array_equal(a.eg, c.eg)  # negative control: the override did something


def test_array_fields_broadcast_as_eta_does():
    m = SGDModel(eta=np.array([0.2, 0.5]), noise=np.array([[0.0], [0.1]]))
    assert m.batch_shape == (2, 2)
    traj = sm.integrate(OP, alpha=[0.0, 2.0], model=m)
    assert traj.eg.shape == (2, 2, 2)
    ref = sm.integrate(OP, alpha=[0.0, 2.0], eta=0.5, noise=0.1)
    np.testing.assert_allclose(traj.eg[1, 1], ref.eg, rtol=1e-6)


def test_frozen_validated_and_comparable():
    m = SGDModel(eta=0.5, activation=("erf", "erf"), batch_size=np.int64(3))
    assert m.activation == "erf" and m.activations == ("erf", "erf")
    assert type(m.batch_size) is int and m.learning_rate_v == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.eta = 1.0  # type: ignore[misc]
    assert m == SGDModel(eta=0.5, batch_size=3) and hash(m) == hash(SGDModel(eta=0.5,
                                                                             batch_size=3))
    assert m != m.replace(eta=0.6)
    arr = SGDModel(eta=[0.1, 0.2]).eta
    assert isinstance(arr, np.ndarray) and not arr.flags.writeable
    assert repr(SGDModel(eta=0.5, noise=0.1)) == "SGDModel(eta=0.5, noise=0.1)"
    assert SGDModel(eta=0.5).to_dict() == {"eta": 0.5, **MODEL_DEFAULTS}


@pytest.mark.parametrize("kwargs, param", [
    (dict(eta=0.0), "eta"), (dict(eta=True), "eta"), (dict(eta="fast"), "eta"),
    (dict(eta=0.5, noise=-1.0), "noise"), (dict(eta=0.5, eta_v=-0.1), "eta_v"),
    (dict(eta=0.5, batch_size=2.0), "batch_size"), (dict(eta=0.5, batch_size=True), "batch_size"),
    (dict(eta=0.5, activation="tanh"), "activation"),
    (dict(eta=0.5, train_second_layer=1), "train_second_layer"),
    (dict(eta=[0.1, 0.2], noise=[0.1, 0.2, 0.3]), "eta"),
])
def test_bad_fields_are_refused_naming_them(kwargs, param):
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter of SGDModel|{param}"):
        SGDModel(**kwargs)


def test_bad_calls_name_the_function():
    with pytest.raises(InvalidParameterError, match="integrate needs the learning rate"):
        sm.integrate(OP, alpha=1.0)
    with pytest.raises(InvalidParameterError, match="unexpected keyword argument 'etta'"):
        sm.integrate(OP, alpha=1.0, etta=0.5)
    with pytest.raises(InvalidParameterError, match="'model' parameter of integrate"):
        sm.integrate(OP, alpha=1.0, model={"eta": 0.5})
    with pytest.raises(InvalidParameterError, match="'eta' parameter of simulate must be a "
                       "scalar"):
        sm.simulate(40, 2, alpha=1.0, model=SGDModel(eta=[0.5, 0.6]))
    with pytest.raises(InvalidParameterError, match="'weight_decay' parameter of "
                       "symmetric_plateau"):
        sm.symmetric_plateau(2, model=SGDModel(eta=0.5, weight_decay=0.1))
    with pytest.raises(InvalidParameterError, match="'model' parameter of critical_learning_rate"):
        sm.critical_learning_rate(2, model=SGDModel(eta=0.5, noise=0.1))
    assert sm.critical_learning_rate(2, model=SGDModel(eta=9.0)) == sm.critical_learning_rate(2)


def test_sweep_defaults_come_from_the_model():
    from statmech.sweep import computations

    comps = computations()
    for name in ("integrate", "simulate", "pruned_error", "prune", "pruned_state"):
        defaults = comps[name].defaults
        for field in set(defaults) & set(MODEL_DEFAULTS):
            assert defaults[field] == MODEL_DEFAULTS[field], (name, field)


@pytest.mark.parametrize("command", ["ode", "simulate"])
def test_cli_model_options_come_from_the_model_fields(command):
    from statmech.cli import build_parser
    from statmech.cli.errors import subparser

    actions = {a.dest: a for a in subparser(build_parser(), command)._actions}
    for f in dataclasses.fields(SGDModel):
        assert f.name in actions, (command, f.name)
        assert actions[f.name].help == f.metadata["help"] or f.name == "eta"
        if f.name in MODEL_DEFAULTS:
            assert actions[f.name].default == MODEL_DEFAULTS[f.name], f.name
