"""scripts/reproduce_acharyya2020.py on a tiny configuration: the variant and provenance of
every comparison row, exact node expectations, replicate-based verdicts, and bit-for-bit
reruns from empty caches."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from statmech import OrderParameters, prune_theory
from statmech.pruning.validation import ValidationConfig, train_students
from statmech.theory.generalization import generalization_error

TINY = ["--N", "30", "--alpha", "3", "--students", "3", "--masks", "4", "--replicates", "3",
        "--workers", "1"]
FILES = ("comparison.csv", "claims.csv", "pruned_losses.csv")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, load_script):
    """Two runs of the tiny configuration, each with its own empty cache."""
    mod = load_script("reproduce_acharyya2020")
    outs = []
    for i in range(2):
        root = tmp_path_factory.mktemp(f"run{i}")
        assert mod.main([*TINY, "--cache", str(root / "cache"),
                         "--output-dir", str(root / "out")]) == 0
        outs.append(root / "out")
    return mod, outs


def test_two_runs_from_empty_caches_are_identical(runs):
    _, (a, b) = runs
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_comparison_variant_and_provenance(runs):
    mod, (out, _) = runs
    comp = pd.read_csv(out / "comparison.csv")
    assert {"variant", "provenance", "weights", "primary", "ours_mc", "basis",
            "replicate_min", "replicate_max", "replicate_verdicts"} <= set(comp.columns)
    prim = comp[comp.primary]
    # one primary row per published value, with the reference code's variant
    n_published = sum(len(v) for pub in mod.PUBLISHED.values() for k, v in pub.items()
                      if k != "unpruned_raw_mse")
    assert len(prim) == n_published
    expected_variant = {"random_edge": "bernoulli", "magnitude_node": "signed",
                        "magnitude_edge": "per_unit", "dpp_edge": "default",
                        "dpp_node": "default", "random_node": "default"}
    assert (prim.variant == prim.method.map(expected_variant)).all()
    assert (prim.weights == "as trained").all()
    # our default variants appear as extra rows, for the two methods where they differ
    extra = comp[~comp.primary & (comp.weights == "as trained")]
    assert set(zip(extra.method, extra.variant, strict=True)) == {
        ("random_edge", "exact"), ("magnitude_node", "norm")}
    # provenance: the authors' logs for three K = 6 series, figures (±0.02) elsewhere
    k6 = prim[prim.config == "K6M2"].groupby("method").provenance.first()
    for method in ("dpp_node", "dpp_edge", "random_edge"):
        assert k6[method].startswith("log")
    for method in ("random_node", "magnitude_node", "magnitude_edge"):
        assert k6[method].startswith("digitised") and "±0.02" in k6[method]
    k20 = prim[prim.config == "K20M5"]
    assert len(k20) == 20 and k20.provenance.str.contains("inferred").all()
    assert np.allclose(prim.reading_error, np.where(prim.provenance.str.startswith("log"),
                                                    0.0, 0.02))
    # renormalised rows: exactly the figure-read K = 6 series, with the reference variant
    ren = comp[comp.weights == "renormalised"]
    assert set(ren.method) == {"random_node", "magnitude_node", "magnitude_edge"}
    assert (ren.config == "K6M2").all() and not ren.primary.any()
    assert (ren.variant == ren.method.map(expected_variant)).all()
    # basis: exact for node methods and magnitude edge, Monte Carlo for random / DPP edge
    exact = comp.method.str.endswith("node") | (comp.method == "magnitude_edge")
    assert (comp.basis == np.where(exact, "exact", "monte_carlo")).all()
    assert np.allclose(comp.ours[exact], comp.theory[exact], rtol=1e-12)
    # the verdict is the replicates' common verdict, else inconclusive
    for verdicts, verdict in zip(comp.replicate_verdicts, comp.verdict, strict=True):
        parts = verdicts.split("/")
        assert len(parts) == 3
        assert verdict == (parts[0] if len(set(parts)) == 1 else "inconclusive")


def test_claims_attribution_variants_and_replicates(runs):
    _, (out, _) = runs
    claims = pd.read_csv(out / "claims.csv")
    assert set(claims.replicates) == {3}
    for verdicts, verdict in zip(claims.replicate_verdicts, claims.verdict, strict=True):
        parts = verdicts.split("/")
        assert verdict == (parts[0] if len(set(parts)) == 1 else "inconclusive")
    assert (claims.advantage_min <= claims.advantage_max).all()
    paper = claims.groupby("claim").paper.first()
    assert paper["DPP node beats random node"] == "v1 and v3"
    assert paper["random edge beats DPP node at equal parameters"] == "v1 and v3"
    assert paper["DPP edge beats random edge"].startswith("v1 only")
    # the magnitude-node claim is judged with both variants
    mag = claims[claims.claim == "DPP node beats magnitude node"]
    assert set(mag.variants) == {"dpp_node=default vs magnitude_node=norm",
                                 "dpp_node=default vs magnitude_node=signed"}
    # renormalised students: node claims only (no edge methods in that sweep)
    ren = claims[claims.weights == "renormalised"]
    assert set(ren.claim) == {"DPP node beats random node", "DPP node beats magnitude node"}


def test_node_values_are_exact_expectations(runs):
    """The node rows' value is prune_theory's exact expectation, and for random node it equals
    the average over every kept set of the explicitly pruned network's ε_g."""
    mod, (out, _) = runs
    df = pd.read_csv(out / "pruned_losses.csv")
    row = df[(df.config == "K6M2") & (df.noise == 0.0) & (df.replicate == 1)
             & ~df.renormalise].iloc[0]
    seed = mod.point_seed("prune", _point_config(mod, "K6M2", 0.0, 1))
    cfg = ValidationConfig(N=int(row.N), K=6, M=2, alpha=float(row.alpha), noise=0.0,
                           students=int(row.students), simulation_method="full",
                           seed=seed % (2**63))
    students = train_students(cfg)
    sub = df[(df.config == "K6M2") & (df.noise == 0.0) & (df.replicate == 1) & ~df.renormalise]
    for s, (op, W, Ws) in enumerate(students):
        assert np.isclose(sub[(sub.student == s)].eg_unpruned.iloc[0],
                          generalization_error(op), rtol=1e-12)
        for method, variant in (("random_node", "default"), ("dpp_node", "default"),
                                ("magnitude_node", "signed"), ("magnitude_node", "norm")):
            for k in (1, 3, 5):
                r = sub[(sub.student == s) & (sub.method == method) & (sub.variant == variant)
                        & (sub.level == k)]
                th = prune_theory(op, method, k, variant=variant).mean_eg
                assert np.isclose(r.theory.iloc[0], th, rtol=1e-12, atol=0)
                if method == "random_node":
                    egs = [generalization_error(OrderParameters.from_weights(
                        W[list(S)], Ws, op.v[list(S)], op.v_star))
                        for S in itertools.combinations(range(6), k)]
                    assert np.isclose(th, np.mean(egs), rtol=1e-10, atol=0)


def _point_config(mod, config, noise, replicate):
    args = mod.parse_args(TINY)
    spec = next(s for s in mod.sweep_specs(args) if s["name"] == f"acharyya2020-{config}")
    return next(c for c in mod.load_sweep(spec).points()
                if c["noise"] == noise and c["replicate"] == replicate)


def test_fewer_than_three_replicates_is_refused(load_script):
    mod = load_script("reproduce_acharyya2020")
    with pytest.raises(SystemExit):
        mod.parse_args(["--replicates", "2"])
