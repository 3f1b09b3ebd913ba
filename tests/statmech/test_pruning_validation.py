"""statmech.pruning.validation: variant lists, exact losses, the claims rule (ties, variants)
and verdicts over replicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from statmech._validation import InvalidParameterError
from statmech.pruning.validation import (
    CLAIM_PAPERS,
    CLAIMS,
    ValidationConfig,
    claims_table,
    combine_replicates,
    exact_loss,
    replicated_claims,
    validation_table,
)


def _table(losses: dict, students: int = 6, replicates=(0,), noise: float = 0.0,
           spread: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """A validation-like table: losses[(method, variant)] = (per-level means per replicate)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in replicates:
        for s in range(students):
            for (method, variant), by_rep in losses.items():
                for level, mean in enumerate(by_rep[r], start=1):
                    value = mean + spread * rng.standard_normal()
                    rows.append({"config": "K6M2", "noise": noise, "student": s,
                                 "method": method, "variant": variant, "level": level,
                                 "theory": value, "mc_mean": value + 0.001 * rng.standard_normal(),
                                 "replicate": r})
    return pd.DataFrame(rows)


def test_claim_papers_cover_every_claim():
    assert {c[0] for c in CLAIMS} == set(CLAIM_PAPERS)


def test_variant_lists_share_students_and_keep_other_draws():
    base = dict(N=40, K=4, M=2, alpha=2.0, students=2, n_masks=3, levels=(1, 2),
                methods=("random_edge", "random_node", "magnitude_node"), seed=5)
    plain = validation_table(ValidationConfig(**base))
    both = validation_table(ValidationConfig(
        **base, variants={"magnitude_node": ["norm", "signed"]}))
    mag = both[both.method == "magnitude_node"]
    assert set(mag.variant) == {"norm", "signed"}
    # same students: the unpruned error per student is shared by every row
    assert both.groupby("student").eg_unpruned.nunique().eq(1).all()
    assert np.array_equal(plain.groupby("student").eg_unpruned.first(),
                          both.groupby("student").eg_unpruned.first())
    # the first student's methods before the listed one draw the masks of the plain run
    cols = ["mc_mean", "theory", "theory_finite_n"]
    for method in ("random_edge", "random_node"):
        a = plain[(plain.method == method) & (plain.student == 0)][cols].to_numpy()
        b = both[(both.method == method) & (both.student == 0)][cols].to_numpy()
        assert np.array_equal(a, b)
    a = plain[plain.method == "magnitude_node"][cols].to_numpy()
    b = mag[mag.variant == "norm"][cols].to_numpy()
    assert np.array_equal(a, b)  # deterministic method: same values for every student


def test_one_element_variant_list_equals_the_bare_name():
    base = dict(N=40, K=4, M=2, alpha=2.0, students=2, n_masks=3, levels=(1, 2),
                methods=("random_edge", "random_node"), seed=6)
    a = validation_table(ValidationConfig(**base, variants={"random_edge": "bernoulli"}))
    b = validation_table(ValidationConfig(**base, variants={"random_edge": ["bernoulli"]}))
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("bad", [[], ["norm", "norm"], [1]])
def test_bad_variant_lists_are_refused(bad):
    cfg = ValidationConfig(N=20, K=3, M=1, alpha=1.0, students=2, n_masks=2, levels=(1,),
                           methods=("magnitude_node",), variants={"magnitude_node": bad})
    with pytest.raises(InvalidParameterError, match="variants"):
        validation_table(cfg)


def test_exact_loss_uses_theory_for_node_methods_only():
    df = pd.DataFrame({"method": ["random_node", "dpp_node", "magnitude_edge", "random_edge",
                                  "dpp_edge"],
                       "theory": [1.0, 2.0, 3.0, 4.0, 5.0],
                       "mc_mean": [1.1, 2.1, 3.1, 4.1, 5.1]})
    values, basis = exact_loss(df)
    assert values.tolist() == [1.0, 2.0, 3.1, 4.1, 5.1]
    assert basis.tolist() == ["exact", "exact", "exact", "monte_carlo", "monte_carlo"]


def test_claims_table_one_row_per_variant_pair_and_column_choice():
    df = _table({("dpp_node", "default"): {0: [1.0, 0.5]},
                 ("magnitude_node", "norm"): {0: [0.8, 0.3]},
                 ("magnitude_node", "signed"): {0: [1.5, 0.9]}})
    df.loc[df.method == "dpp_node", "mc_mean"] += 10.0  # only the Monte Carlo column moves
    exact = claims_table(df, column="exact")
    assert set(exact.variants) == {"dpp_node=default vs magnitude_node=norm",
                                   "dpp_node=default vs magnitude_node=signed"}
    v = exact.set_index(["variants", "level"]).verdict
    assert v[("dpp_node=default vs magnitude_node=norm", 1)] == "contradicted"
    assert v[("dpp_node=default vs magnitude_node=signed", 2)] == "supported"
    mc = claims_table(df)  # default: the Monte Carlo column
    assert (mc.verdict == "contradicted").all()


def test_claims_table_calls_round_off_ties_inconclusive():
    df = _table({("dpp_node", "default"): {0: [2.0]}, ("random_node", "default"): {0: [2.0]}},
                spread=0.0)
    # identical by construction up to round-off, with a positive sign every time
    df.loc[df.method == "random_node", "theory"] += 1e-15
    out = claims_table(df, column="exact")
    assert out.advantage.iloc[0] > 0 and out.se.iloc[0] < out.advantage.iloc[0]
    assert out.verdict.tolist() == ["inconclusive"]


def test_combine_replicates():
    assert combine_replicates(["supported"] * 3) == "supported"
    assert combine_replicates(["contradicted"] * 3) == "contradicted"
    assert combine_replicates(["supported", "supported", "inconclusive"]) == "inconclusive"
    assert combine_replicates(["supported", "contradicted", "supported"]) == "inconclusive"


def test_replicated_claims_disagreeing_replicates_are_inconclusive():
    # DPP node beats random node clearly in replicates 0 and 2, loses clearly in replicate 1
    losses = {("dpp_node", "default"): {0: [1.0, 1.0], 1: [1.0, 1.0], 2: [1.0, 1.0]},
              ("random_node", "default"): {0: [1.5, 1.5], 1: [0.5, 1.5], 2: [1.5, 1.5]}}
    df = _table(losses, replicates=(0, 1, 2))
    out = replicated_claims(df).set_index("level")
    assert out.loc[1, "replicate_verdicts"] == "supported/contradicted/supported"
    assert out.loc[1, "verdict"] == "inconclusive"
    assert out.loc[2, "replicate_verdicts"] == "supported/supported/supported"
    assert out.loc[2, "verdict"] == "supported"
    assert out.loc[1, "advantage_min"] == pytest.approx(-0.5, abs=0.02)
    assert out.loc[1, "advantage_max"] == pytest.approx(0.5, abs=0.02)
    assert (out.replicates == 3).all() and (out.students == 18).all()
    assert (out.paper == "v1 and v3").all()
    # the check column (Monte Carlo) is reported beside the verdict
    assert out.loc[2, "verdict_check"] == "supported"
    assert out.loc[2, "advantage_check"] == pytest.approx(out.loc[2, "advantage"], abs=0.01)


def test_replicated_claims_needs_a_replicate_column():
    df = _table({("dpp_node", "default"): {0: [1.0]}, ("random_node", "default"): {0: [2.0]}})
    with pytest.raises(InvalidParameterError, match="replicate"):
        replicated_claims(df.drop(columns="replicate"))
