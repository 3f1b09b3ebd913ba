"""Validation of the pruning theory on trained students, and the seed paper's claims.

:func:`validation_table` trains students with :func:`statmech.simulate` (the seed paper's
configuration by default: N = 500, M = 2, K = 6, v* = 4, η = η_v = 0.5, α = 1600, both layers
trained, v(0) ~ N(0, 1)), and for every method at the matched node ↔ edge levels compares, per
student (paired), the theory (:func:`statmech.prune_theory` on the student's order parameters,
large-N) with Monte Carlo over explicit masks (the analytic ε_g of each pruned network, exact at
any N). :func:`claims_table` judges the seed paper's claims per configuration and level:
*supported* if the mean difference across students exceeds 2 standard errors in the claimed
direction, *contradicted* if it exceeds 2 standard errors the other way, else *inconclusive*.
:func:`replicated_claims` repeats that rule on independent replicates (independently trained
sets of students) and keeps a verdict only where every replicate gives it.

The loss a claim compares can be the Monte Carlo mean over sampled masks (``"mc_mean"``) or
``"exact"`` (:func:`exact_loss`): for node methods the exact expectation over kept sets (the
``theory`` column, which for node methods is exact at any N), for deterministic edge methods
their single mask, and Monte Carlo only where no exact expectation is available (random and DPP
edge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import ProgressBar
from .._validation import InvalidParameterError
from ..simulation.api import simulate
from ..simulation.settings import StudentInit
from ..theory.generalization import generalization_error
from ..theory.order_parameters import OrderParameters
from .api import matched_edges, prune_student, prune_theory
from .base import PRUNING_METHODS, method_names
from .node_method import NodeMethod

#: The registry's gallery methods (the seed paper's six and spectral node), in display order.
DEFAULT_METHODS = method_names(gallery=True)

#: The reference implementation's choices (``docs/seed_paper.md`` §4.3–4.4).
REFERENCE_VARIANTS = {"random_edge": "bernoulli", "magnitude_node": "signed"}

#: Relative size below which a claim's mean advantage counts as round-off (a tie, never a
#: verdict), relative to the mean loss of the claimed better method (or 1, if larger).
TIE_RTOL = 1e-10

#: Edge methods whose mask is a deterministic function of the weights: their Monte Carlo mean is
#: the exact value (one mask, repeated).

CLAIMS = (
    ("DPP node beats random node", "dpp_node", "random_node", "node"),
    ("DPP node beats magnitude node", "dpp_node", "magnitude_node", "node"),
    ("random edge beats DPP node at equal parameters", "random_edge", "dpp_node", "level"),
    ("DPP edge beats random edge", "dpp_edge", "random_edge", "level"),
    ("DPP edge beats DPP node", "dpp_edge", "dpp_node", "level"),
)

#: Which version of the seed paper (arXiv 2006.16617) makes each claim of :data:`CLAIMS`, from
#: the abstracts (``docs/seed_paper.md`` §1): v1 (June 2020) and v3 (June 2021, UAI 2021) both
#: state that DPP node beats the other node methods and that random edge beats DPP node at a
#: fixed parameter count; only v1 proposes DPP edge, as the best method on real data.
CLAIM_PAPERS = {
    "DPP node beats random node": "v1 and v3",
    "DPP node beats magnitude node": "v1 and v3",
    "random edge beats DPP node at equal parameters": "v1 and v3",
    "DPP edge beats random edge": "v1 only (real data; dropped from v3)",
    "DPP edge beats DPP node": "v1 only (real data; dropped from v3)",
}


@dataclass
class ValidationConfig:
    """Parameters of :func:`validation_table` (defaults: the seed paper's teacher–student run)."""

    N: int = 500
    K: int = 6
    M: int = 2
    v_star: float = 4.0
    eta: float = 0.5
    alpha: float = 1600.0
    noise: float = 0.0
    students: int = 8
    n_masks: int = 50
    levels: tuple[int, ...] = (1, 2, 3, 4, 5)
    methods: tuple[str, ...] = DEFAULT_METHODS
    #: method → variant, or a list of variants (each evaluated on the same students)
    variants: dict = field(default_factory=dict)
    simulation_method: str = "full"
    renormalise: bool = False
    seed: int = 0


def renormalised(W: np.ndarray) -> np.ndarray:
    """Rows rescaled to ‖w_k‖ = √N (Q_kk = 1), the reference's pre-pruning step
    (``docs/seed_paper.md`` §4.1)."""
    return W * (np.sqrt(W.shape[1]) / np.linalg.norm(W, axis=1))[:, None]


def _variant_list(entry) -> list:
    """``cfg.variants[method]`` as a list: [None] (the default), [name] or the listed names."""
    if entry is None:
        return [None]
    if isinstance(entry, str):
        return [entry]
    out = list(entry)
    if not out or not all(isinstance(v, str) for v in out) or len(set(out)) != len(out):
        raise InvalidParameterError(
            f"The 'variants' field of ValidationConfig must map a method to a variant name or "
            f"a list of distinct names. Got {entry!r} instead.", func="validation_table",
            param="variants")
    return out


def train_students(cfg: ValidationConfig, progress: bool | None = None):
    """Trained students (simulate), their weights and teachers: list of (op, W, W*)."""
    ens = simulate(cfg.N, cfg.K, cfg.M, eta=cfg.eta, eta_v=cfg.eta, alpha=[0.0, cfg.alpha],
                   ensemble=cfg.students, method=cfg.simulation_method, seed=cfg.seed,
                   v_star=cfg.v_star, train_second_layer=True, noise=cfg.noise,
                   init=StudentInit(v=0.0, v_scale=1.0), progress=progress,
                   on_divergence="mask")
    w = ens.weights()
    out = []
    for e in range(ens.E):
        if ens.status[e] != "ok":
            continue
        W = renormalised(w["W"][e]) if cfg.renormalise else w["W"][e]
        op = OrderParameters.from_weights(W, w["W_star"][e], w["v"][e], w["v_star"][e])
        out.append((op, W, w["W_star"][e]))
    return out


def validation_table(cfg: ValidationConfig, progress: bool | None = None):
    """Long table (pandas): one row per student, method, variant and level (module docstring).

    A method whose entry in ``cfg.variants`` is a list is evaluated once per listed variant, on
    the same students, each variant with masks of its own. The mask seeds come from one stream
    in loop order (student, method, variant, level), so a one-element list draws the same
    masks as the bare name.

    Columns: ``config``, ``noise``, ``student``, ``method``, ``variant``, ``level`` (units kept k),
    ``keep`` (units, or edges per unit = ⌈(k(N+1) − K)/K⌉), ``params_kept``, ``theory`` (large N,
    from the student's order parameters alone), ``theory_finite_n`` (edge methods: from the
    student's coordinates with the finite-N Jensen correction; node methods: = ``theory``, exact
    at any N), ``mc_mean``, ``mc_se`` (over masks), ``eg_unpruned``, ``test_loss_mc``
    (= ε_g + σ²/2).
    """
    import pandas as pd

    students = train_students(cfg, progress)
    rows = []
    rng = np.random.default_rng(cfg.seed + 1)
    variants = {m: _variant_list(cfg.variants.get(m)) for m in cfg.methods}
    total = len(students) * sum(len(v) for v in variants.values()) * len(cfg.levels)
    with ProgressBar(total, "pruning validation", enabled=progress,
                     unit="(student, method, level) cases") as bar:
        for s, (op, W, Ws) in enumerate(students):
            eg0 = float(generalization_error(op))
            for method, variant in ((m, v) for m in cfg.methods for v in variants[m]):
                for k in cfg.levels:
                    node = _is_node(method)
                    keep = k if node else matched_edges(k, cfg.K, cfg.N, round_up=True)
                    res = prune_student(method, W, op.v, keep=keep, variant=variant,
                                        n_masks=cfg.n_masks,
                                        seed=int(rng.integers(2**31)))
                    egs = np.atleast_1d(generalization_error(res.order_parameters(Ws, op.v_star)))
                    th = prune_theory(op, method, keep, variant=variant, N=cfg.N)
                    th_n = th if node else prune_theory(op, method, keep, variant=variant,
                                                        weights=W, teacher_weights=Ws)
                    rows.append({
                        "config": f"K{cfg.K}M{cfg.M}", "noise": cfg.noise, "student": s,
                        "method": method, "variant": res.variant, "level": k, "keep": keep,
                        "params_kept": int(res.n_params[0]), "theory": th.mean_eg,
                        "theory_finite_n": th_n.mean_eg,
                        "mc_mean": float(egs.mean()),
                        "mc_se": float(egs.std(ddof=1) / np.sqrt(egs.size)) if egs.size > 1
                        else 0.0,
                        "eg_unpruned": eg0,
                        "test_loss_mc": float(egs.mean()) + cfg.noise**2 / 2,
                    })
                    bar.update(1)
    return pd.DataFrame(rows)


def summary_table(df):
    """Per configuration, method and level: the large-N theory, the finite-N theory and Monte
    Carlo, averaged over students.

    ``z_mc`` tests Monte Carlo against the finite-N theory, student by student: the sum of the
    per-student differences over its standard error from the masks (Σ mc_se²)^½.
    ``large_n_diff`` ± ``large_n_se`` is the paired difference large-N theory − Monte Carlo
    across students (finite-N bias plus coordinate noise).
    """
    d = df.assign(d_n=df["mc_mean"] - df["theory_finite_n"], d_inf=df["mc_mean"] - df["theory"],
                  se2=df["mc_se"] ** 2)
    g = d.groupby(["config", "noise", "method", "variant", "level"], sort=False)
    out = g.agg(keep=("keep", "first"), students=("student", "nunique"),
                theory=("theory", "mean"), theory_finite_n=("theory_finite_n", "mean"),
                mc=("mc_mean", "mean"), d_n=("d_n", "sum"), se2=("se2", "sum"),
                large_n_diff=("d_inf", "mean"), large_n_sd=("d_inf", "std")).reset_index()
    # deterministic methods (no mask noise): z is undefined; the difference must be round-off
    out["z_mc"] = out["d_n"] / np.sqrt(out["se2"]).where(out["se2"] > 1e-20)
    out["large_n_se"] = out["large_n_sd"] / np.sqrt(out["students"])
    return out.drop(columns=["d_n", "se2", "large_n_sd"])


def exact_loss(df):
    """Per row of a :func:`validation_table`, the best available value of E[ε_g] over masks.

    Node methods: the ``theory`` column, the exact expectation over kept sets
    (:func:`statmech.prune_theory`, exact at any N because node pruning leaves the kept units'
    order parameters unchanged). Deterministic edge methods (``deterministic`` set): the loss
    of their single mask (``mc_mean``, exact).
    Random and DPP edge: the Monte Carlo mean (``mc_mean``; their finite-N theory includes an
    approximate Jensen correction, so it is not used as the value).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of :func:`validation_table` (columns ``method``, ``theory``, ``mc_mean``).

    Returns
    -------
    values : pandas.Series
        The expectation, aligned with ``df``.
    basis : pandas.Series of str
        ``"exact"`` or ``"monte_carlo"`` per row.
    """
    exact = _is_exact(df["method"])
    node = df["method"].map(_is_node).astype(bool)
    values = df["theory"].where(node, df["mc_mean"])
    basis = exact.map({True: "exact", False: "monte_carlo"})
    return values, basis


def _is_exact(methods):
    deterministic = methods.map(lambda m: getattr(PRUNING_METHODS.get(m), "deterministic", False))
    return methods.map(_is_node).astype(bool) | deterministic.astype(bool)


def _is_node(method: str) -> bool:
    """Whether the registered method ``method`` removes units (a :class:`NodeMethod`)."""
    return isinstance(PRUNING_METHODS.get(method), NodeMethod)


def _claim_values(df, column: str):
    if column == "exact":
        return exact_loss(df)[0]
    return df[column]


def claims_table(df, column: str = "mc_mean", by: tuple[str, ...] = ()):
    """The seed paper's claims per configuration, noise and level (module docstring rule).

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of :func:`validation_table` (possibly several sweep points concatenated).
    column : str
        The loss compared: a column of ``df`` (default the Monte Carlo mean ``mc_mean``) or
        ``"exact"`` (:func:`exact_loss`).
    by : tuple of str
        Further columns of ``df`` to split on besides ``config`` and ``noise`` (for example
        ``"replicate"`` or ``"renormalise"``).

    Returns
    -------
    pandas.DataFrame
        One row per group, claim, combination of the two methods' variants present in ``df``
        and level: ``config``, ``noise``, the ``by`` columns, ``claim``, ``variants``
        (``"better=variant vs worse=variant"``), ``level``, ``advantage`` (mean over students
        of loss(worse) − loss(better), positive when the claim holds), ``se`` (its standard
        error over students), ``students`` and ``verdict``. Students are paired within a sweep
        point; when ``df`` holds several replicates that are not split on, each replicate's
        students count separately.
    """
    import pandas as pd

    keys = ["config", "noise", *by]
    d = df.assign(_loss=_claim_values(df, column))
    units = [c for c in ("replicate",) if c in d.columns and c not in keys]
    rows = []
    for group, sub in d.groupby(keys, sort=False):
        group = group if isinstance(group, tuple) else (group,)
        piv = sub.pivot_table(index=[*units, "student", "level"], columns=["method", "variant"],
                              values="_loss")
        present: dict[str, list[str]] = {}
        for method, variant in piv.columns:
            present.setdefault(method, []).append(variant)
        for text, better, worse, _ in CLAIMS:
            if better not in present or worse not in present:
                continue
            for vb in present[better]:
                for vw in present[worse]:
                    diff = (piv[(worse, vw)] - piv[(better, vb)]).dropna()  # > 0: claim holds
                    for level, part in diff.groupby(level="level"):
                        d_ = part.to_numpy()
                        n = d_.size
                        se = d_.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
                        mean = float(d_.mean())
                        # methods that coincide by construction (e.g. DPP and random node at
                        # k = 1 with equal row norms) differ by round-off only: a tie
                        scale = float(np.abs(piv[(better, vb)]).mean())
                        tie = abs(mean) <= TIE_RTOL * max(scale, 1.0)
                        verdict = ("inconclusive" if tie else "supported" if mean > 2 * se else
                                   "contradicted" if mean < -2 * se else "inconclusive")
                        rows.append({**dict(zip(keys, group, strict=True)), "claim": text,
                                     "variants": f"{better}={vb} vs {worse}={vw}",
                                     "level": level, "advantage": mean, "se": se,
                                     "students": n, "verdict": verdict})
    return pd.DataFrame(rows)


def combine_replicates(verdicts) -> str:
    """The verdict of independent replicates: their common verdict if they all agree, else
    ``"inconclusive"``."""
    verdicts = list(verdicts)
    return verdicts[0] if verdicts and all(v == verdicts[0] for v in verdicts) \
        else "inconclusive"


def replicated_claims(df, column: str = "exact", check_column: str = "mc_mean",
                      by: tuple[str, ...] = ()):
    """:func:`claims_table` on each replicate, combined into one robust verdict per claim.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows of :func:`validation_table` with a ``replicate`` column (the sweep parameter of
        the ``prune`` computation: independently trained sets of students).
    column : str
        The loss the verdicts use (default ``"exact"``: :func:`exact_loss`).
    check_column : str
        The loss of the check (default the Monte Carlo mean).
    by : tuple of str
        Further columns to split on (as in :func:`claims_table`).

    Returns
    -------
    pandas.DataFrame
        Per group, claim, variants and level: ``paper`` (the versions of the seed paper that
        make the claim, :data:`CLAIM_PAPERS`), ``advantage`` and ``se`` over all students of
        all replicates, ``advantage_min`` and ``advantage_max`` (the spread of the replicates'
        mean advantages), ``replicates``, ``students``, ``replicate_verdicts`` (each
        replicate's verdict by the 2-standard-error rule, in replicate order), ``verdict``
        (:func:`combine_replicates`: the replicates' common verdict, else inconclusive), and
        the same claim on ``check_column``: ``advantage_check`` and ``verdict_check``.
    """
    if "replicate" not in df.columns:
        raise InvalidParameterError("The 'df' parameter of replicated_claims must have a "
                                    "'replicate' column.", func="replicated_claims", param="df")
    keys = ["config", "noise", *by, "claim", "variants", "level"]
    pooled = claims_table(df, column, by)
    out = pooled.drop(columns=["verdict"])
    for col, suffix in ((column, ""), (check_column, "_check")):
        per = claims_table(df, col, (*by, "replicate")).sort_values(
            "replicate", kind="stable")
        g = per.groupby(keys, sort=False)
        summary = g.agg(advantage_min=("advantage", "min"), advantage_max=("advantage", "max"),
                        replicates=("replicate", "nunique"),
                        replicate_verdicts=("verdict", "/".join),
                        verdict=("verdict", combine_replicates)).reset_index()
        if suffix:
            check = claims_table(df, col, by)[[*keys, "advantage"]]
            summary = summary[[*keys, "verdict"]].merge(check, on=keys, how="left")
            summary = summary.rename(columns={"verdict": "verdict_check",
                                              "advantage": "advantage_check"})
        out = out.merge(summary, on=keys, how="left")
    out.insert(out.columns.get_loc("claim"), "paper", out["claim"].map(CLAIM_PAPERS))
    order = [*keys[:-3], "paper", "claim", "variants", "level", "advantage", "se",
             "advantage_min", "advantage_max", "replicates", "students", "replicate_verdicts",
             "verdict", "advantage_check", "verdict_check"]
    return out[order]


def run_validation(configs: list[ValidationConfig], progress: bool | None = None) -> Any:
    """Concatenated :func:`validation_table` over several configurations."""
    import pandas as pd

    return pd.concat([validation_table(c, progress) for c in configs], ignore_index=True)
