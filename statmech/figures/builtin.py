"""The built-in gallery (theory and simulation; the torch figures come from ``empirical``).

``--quick`` uses students from the exact reduced chain and small ensembles (the whole gallery
in minutes on 2 cores); ``--full`` uses explicit full-N students, larger ensembles and finer
grids (paper quality).
"""

from __future__ import annotations

import numpy as np

from ..plotting.heatmaps import labelled_colorbar, plot_order_parameters
from ..plotting.pruning import jensen_gap_vanishes, plot_jensen_gap, plot_pruned_error
from ..plotting.style import (
    method_handles,
    method_label,
    method_style,
    new_figure,
    plain_log_ticks,
)
from ..pruning import method_names
from .registry import register_figure

#: The gallery's methods, from the pruning registry (``in_gallery``), in display order.
METHODS = list(method_names(gallery=True))


def _q(quality: str, quick, full):
    return quick if quality == "quick" else full


# ------------------------------------------------------------------------------------------
# ε_g(α): ODE against simulation, escape times


def _ode_sim_sweeps(quality: str) -> dict:
    return {"sim": {"computation": "simulate", "params": {
        "N": 500, "K": 2, "M": 2, "eta": 0.5, "alpha_max": 300.0, "n_alpha": 120,
        "ensemble": _q(quality, 64, 256), "method": _q(quality, "reduced", "full")},
        "grid": {"replicate": [0]}}}


def _escape(alpha: np.ndarray, eg: np.ndarray, threshold: float) -> float:
    """First α > 1 at which ε_g falls below ``threshold``, interpolated linearly in log ε_g
    between the two recorded outputs around the crossing (reading it off the output grid
    gives a comb of a dozen values, biased up by up to one grid step); NaN if it never does."""
    after = np.flatnonzero((eg < threshold) & (alpha > 1.0))
    if not after.size:
        return float("nan")
    i = int(after[0])
    if i == 0 or alpha[i - 1] <= 1.0 or not eg[i - 1] >= threshold or eg[i] <= 0:
        return float(alpha[i])
    y0, y1 = np.log(eg[i - 1]), np.log(eg[i])
    t = (np.log(threshold) - y0) / (y1 - y0)
    return float(alpha[i - 1] + t * (alpha[i] - alpha[i - 1]))


def _ode_sim_plot(tables: dict, quality: str):
    from ..plotting.style import legend_entries
    from ..plotting.trajectories import plot_ensemble
    from ..theory.fixed_points import plateau_height

    t = tables["sim"]
    cfg = t.iloc[0]
    plateau = float(plateau_height(int(cfg.K), eta=float(cfg.eta)))
    fig, (ax, ah) = new_figure(2, height=2.9)
    esc = {}
    for source, color, ls in (("ode", "0.2", "-"), ("simulation", "C3", "--")):
        part = t[t.source == source]
        piv = part.pivot_table(index="alpha", columns="member", values="eg")
        a = piv.index.to_numpy()
        # medians and 10-90 % bands: a member still on the plateau would dominate the mean
        plot_ensemble((a, piv.to_numpy().T), ax, color=color, ls=ls, xlabel="α",
                      label="theory: ODE from each member's start, median and 10–90 %"
                      if source == "ode" else
                      f"simulation ({cfg.method} chain), median and 10–90 %",
                      mean="line" if source == "simulation" else None,
                      mean_label="simulation mean (drawn where SE < 25 % of it)")
        esc[source] = np.array([_escape(a, piv[c].to_numpy(), plateau / 2) for c in piv])
    ax.axhline(plateau, color="0.5", ls=(0, (1, 2)), lw=0.8, label="symmetric plateau")
    handles, labels = legend_entries(ax)
    ax.set_title(f"K = M = {cfg.K}, N = {cfg.N}, η = {cfg.eta:g}, σ = {cfg.noise:g}, "
                 f"{piv.shape[1]} members")
    finite = [v[np.isfinite(v)] for v in esc.values()]
    if all(f.size for f in finite):
        bins = np.linspace(min(f.min() for f in finite), max(f.max() for f in finite), 20)
        ah.hist(esc["simulation"], bins=bins, color="C3", alpha=0.6)
        ah.hist(esc["ode"], bins=bins, histtype="step", color="0.2", lw=1.0)
    ah.set_xlabel("escape time α ($\\epsilon_g$ < plateau / 2)")
    ah.set_ylabel("members")
    stuck = {k: int(np.sum(~np.isfinite(v))) for k, v in esc.items()}
    ah.set_title(f"escape times; not escaped by α = {a.max():g}:\n{stuck['simulation']} "
                 f"simulated, {stuck['ode']} ODE")
    from matplotlib.patches import Patch

    handles += [Patch(facecolor="C3", alpha=0.6), Patch(facecolor="none", edgecolor="0.2")]
    labels += ["escape times: simulation", "escape times: ODE from the same starts"]
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    return fig


register_figure("ode_vs_simulation", "ε_g(α) from the ODEs against simulated ensembles, and "
                "the escape-time distribution", _ode_sim_sweeps, _ode_sim_plot, order=10)


# ------------------------------------------------------------------------------------------
# Phase diagrams over (η, K)


def _phase_sweeps(quality: str) -> dict:
    Ks = _q(quality, [2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7, 8, 10])
    # η up to 2.3, just below the largest η_c (K = 2: 2.307), so that every column has a stable
    # K; a grid up to η = 5 spent its last columns beyond η_c of every K (all blank)
    etas = np.round(np.geomspace(0.05, 2.3, _q(quality, 10, 24)), 4).tolist()
    return {"fp": {"computation": "fixed_points", "grid": {"K": Ks, "eta": etas}}}


def _log_edges(x: np.ndarray) -> np.ndarray:
    """Cell edges of log-spaced centres ``x`` (geometric midpoints)."""
    mid = np.sqrt(x[:-1] * x[1:])
    return np.concatenate([[x[0] ** 2 / mid[0]], mid, [x[-1] ** 2 / mid[-1]]])


def _phase_plot(tables: dict, quality: str):
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    t = tables["fp"]
    Ks = np.sort(t.K.unique())
    etas = np.sort(t.eta.unique())
    eta_c = t.groupby("K").eta_c.first().reindex(Ks).to_numpy()
    beyond = etas[None, :] > eta_c[:, None]  # no stable perfect student: blank
    x_edges = _log_edges(etas)
    y_edges = np.concatenate([Ks - 0.5, [Ks[-1] + 0.5]]) if np.all(np.diff(Ks) == 1) else None
    fig, axes = new_figure(2, sharey=True, height=2.8)
    c = t.iloc[0]
    for ax, col, title, label in (
            (axes[0], "plateau_height", "plateau height $\\epsilon_g^*$", "$\\epsilon_g^*$"),
            (axes[1], "escape_time", f"escape time (ODE, random start at N = {int(c.init_N)})",
             "escape time α")):
        grid = np.array(t.pivot_table(index="K", columns="eta", values=col, dropna=False)
                        .reindex(index=Ks, columns=etas), dtype=float)
        grid[beyond | ~(grid > 0)] = np.nan
        grid = np.ma.masked_invalid(grid)
        norm = LogNorm(vmin=grid.min(), vmax=grid.max())
        if y_edges is not None:
            mesh = ax.pcolormesh(x_edges, y_edges, grid, shading="flat", cmap="viridis",
                                 norm=norm, rasterized=True)
        else:
            mesh = ax.pcolormesh(etas, Ks, grid, shading="nearest", cmap="viridis", norm=norm,
                                 rasterized=True)
        cb = labelled_colorbar(mesh, ax, label, shrink=0.9)
        plain_log_ticks(cb.ax, "y")
        ax.plot(eta_c, Ks, "--", color="C3", lw=1.2, marker="o", ms=2.5)
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_xlabel("learning rate η")
        ax.set_title(title)
        ax.set_xlim(x_edges[0], x_edges[-1])
        ax.set_yticks(Ks)
    axes[0].set_ylabel("K (= M)")
    handles = [Line2D([], [], color="C3", ls="--", lw=1.2, marker="o", ms=2.5),
               Patch(facecolor="white", edgecolor="0.5", lw=0.6)]
    labels = ["critical learning rate η$_c$(K) of the perfect student",
              f"blank: η > η$_c$(K), or no escape by α = {c.alpha_max:g}"]
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    fig.suptitle("symmetric plateau over (η, K), K = M, v = v* = 1, σ = 0", fontsize=7)
    return fig


register_figure("phase_diagram", "plateau height, escape time and the critical learning rate "
                "over (η, K)", _phase_sweeps, _phase_plot, order=20)


# ------------------------------------------------------------------------------------------
# Pruned ε_g against parameters kept: theory lines, simulation points


def _pruned_sweeps(quality: str) -> dict:
    common = {"N": 500, "eta": 0.5, "v_star": 4.0, "methods": METHODS,
              "students": _q(quality, 4, 8), "n_masks": _q(quality, 20, 50),
              "simulation_method": _q(quality, "reduced", "full")}
    return {
        "K6": {"computation": "prune", "params": {**common, "K": 6, "M": 2, "alpha": 1600.0},
               "grid": {"noise": [0.0, 0.25]}},
        "K20": {"computation": "prune", "params": {
            **common, "K": 20, "M": 5, "alpha": _q(quality, 800.0, 1600.0),
            "levels": _q(quality, [2, 4, 6, 10, 14, 18], list(range(1, 20)))},
            "grid": {"noise": [0.0, 0.25]}},
    }


def _pruned_plot(tables: dict, quality: str):

    fig, axes = new_figure(2, 2, height=2.4, sharex="row")
    fig.set_size_inches(6.8, 5.6)
    for row, label in enumerate(("K6", "K20")):
        t = tables[label]
        for col, noise in enumerate((0.0, 0.25)):
            # methods whose curves coincide (random and DPP node) would hide each other: each
            # method is shifted a little along x (by -1.5 to +1.5 percentage points)
            plot_pruned_error(t[np.isclose(t.noise, noise)], axes[row, col], methods=METHODS,
                              spread=0.5, ylabel="pruned $\\epsilon_g$" if col == 0 else None)
    handles, labels = method_handles(METHODS)
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    c = tables["K6"].iloc[0]
    fig.suptitle(f"lines: theory (finite N); markers: simulation ± SE over {int(c.students)} "
                 f"students × {int(c.n_masks)} masks ({c.simulation_method} chain)\n"
                 f"N = {int(c.N)}, η = {c.eta:g}, v* = {c.v_star:g}; methods shifted slightly "
                 "along x so that none hides another", fontsize=7)
    return fig


register_figure("pruned_error", "pruned ε_g against the share of parameters kept, every "
                "method, theory and simulation, the seed paper's configuration and K = 20",
                _pruned_sweeps, _pruned_plot, order=30)


# ------------------------------------------------------------------------------------------
# Order-parameter heat maps before and after pruning


def _heat_sweeps(quality: str) -> dict:
    return {"state": {"computation": "pruned_state", "params": {
        "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 1600.0, "level": 3,
        "methods": METHODS}, "grid": {"noise": [0.0]}}}


def _heat_plot(tables: dict, quality: str):
    from ..pruning import order_units_by_teacher

    t = tables["state"]
    names = ["unpruned", *METHODS]
    fig, axes = new_figure(len(names), 2, height=1.0)
    fig.set_size_inches(6.8, 2.9)

    mats = {key: g.pivot(index="i", columns="j", values="value").to_numpy()
            for key, g in t.groupby(["method", "matrix"])}

    def mat(method, matrix):
        return mats[method, matrix]

    order = order_units_by_teacher(mat("unpruned", "R"))
    vmax = {m: max(abs(mat(method, m)).max() for method in names) for m in ("Q", "R")}
    for c, method in enumerate(names):
        for r, matrix in enumerate(("Q", "R")):
            ax = axes[r, c]
            plot_order_parameters(mat(method, matrix), ax, matrix=matrix, order=order,
                                  vmax=vmax[matrix], colorbar=False, ylabel="",
                                  yticklabels=c == 0, tick_fontsize=5)
            ax.tick_params(length=1.5, pad=1)
            ax.set_xlabel(ax.get_xlabel(), fontsize=5.5, labelpad=1)
        axes[0, c].set_title(method_label(method).replace(" ", "\n"), fontsize=6)
    axes[0, 0].set_ylabel("Q$_{ik}$: student i", fontsize=6)
    axes[1, 0].set_ylabel("R$_{kn}$: student k", fontsize=6)
    for r, label in enumerate(("Q$_{ik}$", "R$_{kn}$")):
        labelled_colorbar(axes[r, -1].images[0], axes[r, :].tolist(), label, fontsize=6,
                          tick_fontsize=5, shrink=0.9, pad=0.01, aspect=12)
    c0 = t.iloc[0]
    fig.suptitle(f"expected order parameters after keeping {int(c0.level)} of {int(c0.K)} "
                 "student units (edge methods: the same number of weights), students ordered "
                 f"by teacher\nK = {int(c0.K)}, M = {int(c0.M)}, v* = {c0.v_star:g}, "
                 f"η = {c0.eta:g}, α = {c0.alpha:g}, σ = {c0.noise:g}", fontsize=7)
    return fig


register_figure("order_parameter_heatmaps", "Q and R of a trained student before and after "
                "pruning (expected over masks), every method", _heat_sweeps, _heat_plot,
                order=40)


# ------------------------------------------------------------------------------------------
# The Jensen gap


def _jensen_sweeps(quality: str) -> dict:
    return {"K6": {"computation": "pruned_error", "params": {"K": 6, "M": 2, "v_star": 4.0},
                   "grid": {"noise": [0.0]}},
            "K20": {"computation": "pruned_error", "params": {
                "K": 20, "M": 5, "v_star": 4.0,
                "levels": _q(quality, [2, 4, 6, 8, 10, 12, 14, 16, 18], None)},
                "grid": {"noise": [0.0]}}}


def _jensen_plot(tables: dict, quality: str):
    from matplotlib.lines import Line2D

    fig, axes = new_figure(2, height=2.5)
    zero = {m: True for m in METHODS}
    for i, (ax, label) in enumerate(zip(axes, ("K6", "K20"), strict=True)):
        t = tables[label]
        plot_jensen_gap(t, ax, methods=METHODS, ylabel=None if i else
                        "Jensen gap / E[$\\epsilon_g$]")
        for method in METHODS:
            zero[method] &= jensen_gap_vanishes(t, method)
    handles, labels = [], []
    for method in METHODS:
        st = method_style(method)
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], ls=st["ls"],
                              ms=3, lw=0.9))
        labels.append(st["label"] + (" (gap ≡ 0)" if zero[method] else ""))
    fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Jensen gap E[$\\epsilon_g$(Q′, R′)] − $\\epsilon_g$(E[Q′], E[R′]) over "
                 "masks, large-N theory", fontsize=7)
    return fig


register_figure("jensen_gap", "the Jensen gap E[ε_g(Q′, R′)] − ε_g(E[Q′], E[R′]) relative to "
                "E[ε_g], every method", _jensen_sweeps, _jensen_plot, order=50)
