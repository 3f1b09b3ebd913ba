"""Validation of the pruning theory on trained students, and the seed paper's claims.

:func:`validation_table` trains students with :func:`statmech.simulate` (the seed paper's
configuration by default: N = 500, M = 2, K = 6, v* = 4, η = η_v = 0.5, α = 1600, both layers
trained, v(0) ~ N(0, 1)), and for every method at the matched node ↔ edge levels compares, per
student (paired), the theory (:func:`statmech.prune_theory` on the student's order parameters,
large-N) with Monte Carlo over explicit masks (the analytic ε_g of each pruned network, exact at
any N). :func:`claims_table` judges the seed paper's three claims per configuration and level:
*supported* if the mean difference across students exceeds 2 standard errors in the claimed
direction, *contradicted* if it exceeds 2 standard errors the other way, else *inconclusive*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._progress import ProgressBar
from ..generalization import generalization_error
from ..order_parameters import OrderParameters
from ..simulation import simulate
from .api import matched_edges, prune_student, prune_theory

DEFAULT_METHODS = ("random_edge", "magnitude_edge", "dpp_edge", "random_node", "magnitude_node",
                   "dpp_node", "spectral_node")

#: The reference implementation's choices (``docs/seed_paper.md`` §4.3–4.4).
REFERENCE_VARIANTS = {"random_edge": "bernoulli", "magnitude_node": "signed"}

CLAIMS = (
    ("DPP node beats random node", "dpp_node", "random_node", "node"),
    ("DPP node beats magnitude node", "dpp_node", "magnitude_node", "node"),
    ("random edge beats DPP node at equal parameters", "random_edge", "dpp_node", "level"),
    ("DPP edge beats random edge", "dpp_edge", "random_edge", "level"),
    ("DPP edge beats DPP node", "dpp_edge", "dpp_node", "level"),
)


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
    variants: dict = field(default_factory=dict)
    simulation_method: str = "full"
    renormalise: bool = False
    seed: int = 0


def renormalised(W: np.ndarray) -> np.ndarray:
    """Rows rescaled to ‖w_k‖ = √N (Q_kk = 1), the reference's pre-pruning step
    (``docs/seed_paper.md`` §4.1)."""
    return W * (np.sqrt(W.shape[1]) / np.linalg.norm(W, axis=1))[:, None]


def train_students(cfg: ValidationConfig, progress: bool | None = None):
    """Trained students (simulate), their weights and teachers: list of (op, W, W*)."""
    ens = simulate(cfg.N, cfg.K, cfg.M, eta=cfg.eta, eta_v=cfg.eta, alpha=[0.0, cfg.alpha],
                   ensemble=cfg.students, method=cfg.simulation_method, seed=cfg.seed,
                   v_star=cfg.v_star, train_second_layer=True, noise=cfg.noise, init_v=0.0,
                   init_v_scale=1.0, progress=progress, on_divergence="mask")
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
    total = len(students) * len(cfg.methods) * len(cfg.levels)
    with ProgressBar(total, "pruning validation", enabled=progress,
                     unit="(student, method, level) cases") as bar:
        for s, (op, W, Ws) in enumerate(students):
            eg0 = float(generalization_error(op))
            for method in cfg.methods:
                variant = cfg.variants.get(method)
                for k in cfg.levels:
                    node = method.endswith("node")
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


def claims_table(df, column: str = "mc_mean"):
    """The seed paper's claims per configuration, noise and level (module docstring rule)."""
    import pandas as pd

    rows = []
    for (config, noise), sub in df.groupby(["config", "noise"], sort=False):
        piv = sub.pivot_table(index=["student", "level"], columns="method", values=column)
        for text, better, worse, _ in CLAIMS:
            if better not in piv or worse not in piv:
                continue
            for level, part in piv.groupby(level="level"):
                d = (part[worse] - part[better]).to_numpy()  # > 0 when the claim holds
                n = d.size
                se = d.std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
                mean = float(d.mean())
                verdict = ("supported" if mean > 2 * se else
                           "contradicted" if mean < -2 * se else "inconclusive")
                rows.append({"config": config, "noise": noise, "claim": text, "level": level,
                             "advantage": mean, "se": se, "students": n, "verdict": verdict})
    return pd.DataFrame(rows)


def run_validation(configs: list[ValidationConfig], progress: bool | None = None) -> Any:
    """Concatenated :func:`validation_table` over several configurations."""
    import pandas as pd

    return pd.concat([validation_table(c, progress) for c in configs], ignore_index=True)
