"""Theory against experiment: torch networks, pruned by every method, measured and predicted.

:func:`teacher_student_table` (the issue's comparison (a)): torch students trained by online SGD
with the theory's scalings (:func:`empirical.training.train_online`), their order parameters
measured, every method at the matched node ↔ edge levels applied to the torch weights
(:func:`empirical.pruning.prune_committee`), the pruned ½·MSE measured on fresh samples against
the noiseless teacher (and against noisy labels, beside ε_g + σ²/2), and the prediction of
:func:`statmech.prune_theory` (large N from the order parameters; finite N from the weights for
edge methods).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import statmech

from .models import CommitteeMachine, order_parameters
from .pruning import measure_loss, prune_committee
from .training import train_online

__all__ = ["teacher_student_table"]

METHODS = ("random_edge", "magnitude_edge", "dpp_edge", "random_node", "magnitude_node",
           "dpp_node", "spectral_node")


def teacher_student_table(*, N: int = 200, K: int = 6, M: int = 2, v_star: float = 4.0,
                          eta: float = 0.5, alpha: float = 50.0, noise: float = 0.0,
                          seeds: tuple[int, ...] = (0, 1, 2), levels: tuple[int, ...] = (1, 3, 5),
                          methods: tuple[str, ...] = METHODS, n_masks: int = 10,
                          n_samples: int = 4000) -> Any:
    """Measured pruned loss of trained torch students against theory (module docstring).

    Returns a pandas DataFrame with one row per seed, method and level: ``keep``,
    ``eg_measured`` (± ``eg_measured_se``, the standard error over masks, which includes the
    sampling noise; use a few dozen masks, since a discrete kept-set distribution makes the SE of
    a handful of masks unreliable), ``loss_noisy_measured``, ``theory`` (large N),
    ``theory_finite_n``, ``theory_noisy`` (= finite-N ε_g + σ²/2) and ``eg_unpruned``.
    """
    import pandas as pd

    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        teacher = CommitteeMachine(N, M, W=rng.standard_normal((M, N)), v=np.full(M, v_star),
                                   train_second_layer=False)
        student = CommitteeMachine(N, K, v=rng.standard_normal(K), seed=seed + 1000)
        train_online(student, teacher, eta=eta, steps=int(round(alpha * N)), noise=noise,
                     seed=seed + 2000)
        op = order_parameters(student, teacher)
        W = student.W[0].detach().double().numpy()
        Ws = teacher.W[0].detach().double().numpy()
        eg0 = float(statmech.generalization_error(op))
        for method in methods:
            node = method.endswith("node")
            for k in levels:
                keep = k if node else statmech.matched_edges(k, K, N, round_up=True)
                pruned, _ = prune_committee(student, method, keep=keep, n_masks=n_masks,
                                            seed=seed + 3000)
                eg = measure_loss(pruned, teacher, n_samples=n_samples, seed=seed + 4000)
                noisy = measure_loss(pruned, teacher, n_samples=n_samples, noise=noise,
                                     seed=seed + 5000) if noise > 0 else eg
                th = statmech.prune_theory(op, method, keep, N=N)
                th_n = th if node else statmech.prune_theory(op, method, keep, weights=W,
                                                             teacher_weights=Ws)
                rows.append({
                    "seed": seed, "method": method, "level": k, "keep": keep, "noise": noise,
                    "eg_measured": float(eg.mean()),
                    "eg_measured_se": float(eg.std(ddof=1) / np.sqrt(eg.size)) if eg.size > 1
                    else float("nan"),
                    "loss_noisy_measured": float(noisy.mean()),
                    "theory": th.mean_eg, "theory_finite_n": th_n.mean_eg,
                    "theory_noisy": th_n.mean_eg + noise**2 / 2, "eg_unpruned": eg0,
                })
    return pd.DataFrame(rows)
