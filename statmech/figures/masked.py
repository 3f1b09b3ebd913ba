"""Gallery figures of masked students: retraining after pruning, and sparse vs dense training.

Both are theory (the masked ODE, ``docs/masked_theory.md``), validated against Monte Carlo in
``tests/statmech/test_masked.py`` and ``tests/statmech/test_retraining.py``.
"""

from __future__ import annotations

import numpy as np

from ..plotting.pruning import plot_pruned_error
from ..plotting.style import method_handles, method_style, new_figure, plain_log_ticks
from ..pruning import method_names
from .registry import register_figure

METHODS = list(method_names(gallery=True))
#: Retraining times of the retraining figure (α′ = 0 is right after pruning).
ALPHA_RETRAIN = [1.0, 10.0, 100.0]


def _q(quality: str, quick, full):
    return quick if quality == "quick" else full


# ------------------------------------------------------------------------------------------
# (a) Does the ranking of the methods survive retraining?


def _retrain_sweeps(quality: str) -> dict:
    return {"K6": {"computation": "retrained_error", "params": {
        "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0, "N": 500,
        "methods": METHODS, "alpha_retrain": ALPHA_RETRAIN,
        "n_coordinates": _q(quality, 100_000, 400_000)}, "grid": {"noise": [0.0, 0.25]}}}


def _retrain_plot(tables: dict, quality: str):
    t = tables["K6"]
    times = [0.0] + ALPHA_RETRAIN
    fig, axes = new_figure(len(times), 2, height=2.2, sharey="row")
    fig.set_size_inches(7.2, 4.8)
    for row, noise in enumerate((0.0, 0.25)):
        for col, a in enumerate(times):
            sub = t[np.isclose(t.noise, noise) & np.isclose(t.alpha_retrain, a)]
            title = ("right after pruning" if a == 0 else f"retrained α′ = {a:g}") + \
                f", σ = {noise:g}"
            plot_pruned_error(sub, axes[row, col], methods=METHODS, theory="eg",
                              simulation=None, spread=0.0, title=title, markers=True,
                              ylabel="$\\epsilon_g$" if col == 0 else None)
    handles, labels = method_handles(METHODS, unpruned="unpruned, trained on for α′")
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("pruning, then retraining with the masks held (theory: the masked ODE)\n"
                 "K = 6, M = 2, v* = 4, η = 0.5, trained for α = 1600, N = 500 (matched "
                 "parameter counts)", fontsize=7)
    return fig


register_figure("retraining", "pruned ε_g right after pruning and after retraining for "
                "α′ = 1, 10, 100, every method, the seed paper's configuration",
                _retrain_sweeps, _retrain_plot, order=55)


# ------------------------------------------------------------------------------------------
# (b) Sparse from initialisation against dense with the same number of weights

STRUCTURES = ("dense", "random_edge", "magnitude_edge")
_LABEL = {"dense": "dense, fewer units", "random_edge": "random mask at init",
          "magnitude_edge": "magnitude mask at init"}


def _structure_style(structure: str) -> dict:
    if structure == "dense":
        return {"color": "k", "marker": "*", "mfc": "k"}
    st = method_style(structure)
    return {"color": st["color"], "marker": st["marker"], "mfc": st["mfc"]}


def _sparse_sweeps(quality: str) -> dict:
    return {"grid": {"computation": "sparse_training", "params": {
        "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha_max": 1600.0,
        "n_coordinates": _q(quality, 100_000, 400_000)},
        "grid": {"structure": list(STRUCTURES), "units": [1, 2, 3, 4, 5, 6],
                 "noise": [0.0, 0.25], "replicate": list(range(_q(quality, 2, 6)))}}}


def _sparse_plot(tables: dict, quality: str):
    from matplotlib.lines import Line2D

    t = tables["grid"]
    fig, axes = new_figure(2, height=2.6)
    fig.set_size_inches(6.8, 3.0)
    ax = axes[0]
    sel = t[(t.units == 2) & np.isclose(t.noise, 0.0)]
    for structure in STRUCTURES:
        g = sel[sel.structure == structure].groupby("alpha").eg.mean()
        st = _structure_style(structure)
        ax.plot(g.index[1:], g.to_numpy()[1:], color=st["color"], lw=1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
    ax.set_xticks([0.1, 1, 10, 100, 1000], ["0.1", "1", "10", "100", "1000"])
    ax.set_xlabel("$\\alpha$")
    ax.set_ylabel("$\\epsilon_g$")
    ax.set_title("a third of the weights (2 units, or 6 at 1/3), σ = 0")
    ax = axes[1]
    final = t[t.alpha == t.alpha.max()]
    for structure in STRUCTURES:
        st = _structure_style(structure)
        for noise, ls in ((0.0, "-"), (0.25, "--")):
            g = final[(final.structure == structure) & np.isclose(final.noise, noise)]
            g = g.groupby("units").eg.agg(["mean", "sem"])
            ax.errorbar(100 * g.index.to_numpy() / 6, g["mean"], yerr=g["sem"].fillna(0),
                        color=st["color"], marker=st["marker"],
                        mfc=st["mfc"] if ls == "-" else "white", ms=3.5, lw=0.9, ls=ls)
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
    ax.set_xlabel("first-layer weights kept (%)")
    ax.set_title("final $\\epsilon_g$ at α = 1600 (solid σ = 0, dashed σ = 0.25)")
    handles = [Line2D([], [], color=_structure_style(s)["color"],
                      marker=_structure_style(s)["marker"], mfc=_structure_style(s)["mfc"],
                      ms=4, lw=1.0) for s in STRUCTURES]
    fig.legend(handles, [_LABEL[s] for s in STRUCTURES], loc="outside lower center", ncol=3,
               frameon=False)
    n_rep = int(t.replicate.nunique())
    fig.suptitle("a sparse student trained from initialisation (K = 6 units, masks fixed) "
                 "against a dense one with the same number of weights (fewer units)\n"
                 f"M = 2, v* = 4, η = 0.5, trained v; theory (the masked ODE); mean ± SE over "
                 f"{n_rep} initialisations", fontsize=7)
    return fig


register_figure("sparse_training", "a student masked at initialisation (random or magnitude) "
                "against a dense student with the same number of weights: ε_g(α) and the "
                "final error against the share kept, with and without noise",
                _sparse_sweeps, _sparse_plot, order=57)
