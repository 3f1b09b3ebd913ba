"""The built-in gallery (theory and simulation; the torch figures come from ``empirical``).

``--quick`` uses students from the exact reduced chain and small ensembles (the whole gallery
in minutes on 2 cores); ``--full`` uses explicit full-N students, larger ensembles and finer
grids (paper quality).
"""

from __future__ import annotations

import numpy as np

from ..style import method_label, method_style, new_figure, plain_log_ticks
from .registry import register_figure

METHODS = ["random_edge", "magnitude_edge", "dpp_edge", "random_node", "magnitude_node",
           "dpp_node", "spectral_node"]


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
    from ..fixed_points import plateau_height

    t = tables["sim"]
    cfg = t.iloc[0]
    plateau = float(plateau_height(int(cfg.K), eta=float(cfg.eta)))
    fig, (ax, ah) = new_figure(2)
    esc = {}
    for source, color in (("ode", "0.3"), ("simulation", "C3")):
        part = t[t.source == source]
        piv = part.pivot_table(index="alpha", columns="member", values="eg")
        a = piv.index.to_numpy()
        sel = a > 0
        mean = piv.mean(axis=1).to_numpy()
        se = piv.std(axis=1, ddof=1).to_numpy() / np.sqrt(piv.shape[1])
        label = ("ODE from each member's start (mean)" if source == "ode"
                 else f"simulation ({cfg.method}, N = {cfg.N}), mean ± SE")
        ax.plot(a[sel], mean[sel], color=color, lw=1.0, label=label)
        ax.fill_between(a[sel], (mean - se)[sel], (mean + se)[sel], color=color, alpha=0.25,
                        lw=0)
        esc[source] = np.array([_escape(a, piv[c].to_numpy(), plateau / 2) for c in piv])
    ax.axhline(plateau, color="0.5", ls=":", lw=0.8, label="symmetric plateau")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α")
    ax.set_ylabel("$\\epsilon_g$")
    ax.legend(frameon=False)
    ax.set_title(f"K = M = {cfg.K}, η = {cfg.eta}, {piv.shape[1]} members")
    finite = [v[np.isfinite(v)] for v in esc.values()]
    if all(f.size for f in finite):
        bins = np.linspace(min(f.min() for f in finite), max(f.max() for f in finite), 20)
        ah.hist(esc["simulation"], bins=bins, color="C3", alpha=0.6, label="simulation")
        ah.hist(esc["ode"], bins=bins, histtype="step", color="0.2", lw=1.0,
                label="ODE from the same starts")
    ah.set_xlabel("escape time α ($\\epsilon_g$ < plateau / 2)")
    ah.set_ylabel("members")
    ah.legend(frameon=False)
    stuck = {k: int(np.sum(~np.isfinite(v))) for k, v in esc.items()}
    ah.set_title(f"escape times; not escaped by α = {a.max():g}: "
                 f"{stuck['simulation']} simulated, {stuck['ode']} ODE", fontsize="small")
    return fig


register_figure("ode_vs_simulation", "ε_g(α) from the ODEs against simulated ensembles, and "
                "the escape-time distribution", _ode_sim_sweeps, _ode_sim_plot, order=10)


# ------------------------------------------------------------------------------------------
# Phase diagrams over (η, K)


def _phase_sweeps(quality: str) -> dict:
    Ks = _q(quality, [2, 3, 4, 5, 6], [2, 3, 4, 5, 6, 7, 8, 10])
    etas = np.round(np.geomspace(0.05, 5.0, _q(quality, 10, 24)), 4).tolist()
    return {"fp": {"computation": "fixed_points", "grid": {"K": Ks, "eta": etas}}}


def _phase_plot(tables: dict, quality: str):
    t = tables["fp"]
    Ks = np.sort(t.K.unique())
    etas = np.sort(t.eta.unique())
    fig, axes = new_figure(2, sharey=True)
    for ax, col, title, log in ((axes[0], "plateau_height", "plateau height $\\epsilon_g^*$",
                                 False),
                                (axes[1], "escape_time", "escape time (log$_{10}$ α)", True)):
        grid = t.pivot_table(index="K", columns="eta", values=col).reindex(
            index=Ks, columns=etas).to_numpy()
        grid = np.log10(grid) if log else grid
        mesh = ax.pcolormesh(etas, Ks, grid, shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, shrink=0.9)
        eta_c = t.groupby("K").eta_c.first().reindex(Ks)
        ax.plot(eta_c.to_numpy(), Ks, "w--", lw=1.2, label="η$_c$(K)")
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        ax.set_xlabel("η")
        ax.set_title(title)
        ax.set_xlim(etas[0], etas[-1])
    axes[0].set_ylabel("K (= M)")
    axes[0].legend(frameon=False, labelcolor="w", loc="upper left")
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
    fig, axes = new_figure(2, 2, height=2.5, sharex=True)
    for row, label in enumerate(("K6", "K20")):
        t = tables[label]
        for col, noise in enumerate((0.0, 0.25)):
            ax = axes[row, col]
            part = t[np.isclose(t.noise, noise)]
            K = int(part.K.iloc[0])
            for method in METHODS:
                m = part[part.method == method]
                if m.empty:
                    continue
                g = m.groupby("level").agg(th=("theory_finite_n", "mean"),
                                           mc=("mc_mean", "mean"),
                                           se=("mc_mean", "sem"))
                x = 100 * g.index.to_numpy() / K
                st = method_style(method)
                ax.plot(x, g.th, color=st["color"], lw=1.0, label=st["label"])
                ax.errorbar(x, g.mc, yerr=g.se.fillna(0), ls="none", marker=st["marker"],
                            color=st["color"], ms=3, lw=0.6)
            base = part.groupby("student").eg_unpruned.first().mean()
            ax.axhline(base, color="k", ls=":", lw=0.8)
            ax.set_yscale("log")
            plain_log_ticks(ax, "y")
            ax.set_title(f"K = {K}, M = {int(part.M.iloc[0])}, σ = {noise}, "
                         f"α = {part.alpha.iloc[0]:g}")
            if row == 1:
                ax.set_xlabel("parameters kept (%)")
            if col == 0:
                ax.set_ylabel("pruned $\\epsilon_g$")
    axes[0, 0].legend(frameon=False, ncol=2, fontsize=5.5)
    fig.suptitle("lines: theory (finite N); points: simulation ± SE over students; "
                 "dotted: unpruned", fontsize=7)
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
    fig.set_size_inches(6.8, 2.4)

    def mat(method, matrix):
        p = t[(t.method == method) & (t.matrix == matrix)]
        return p.pivot_table(index="i", columns="j", values="value").to_numpy()

    order = order_units_by_teacher(mat("unpruned", "R"))
    vq = max(abs(mat(m, "Q")).max() for m in names)
    vr = max(abs(mat(m, "R")).max() for m in names)
    for c, method in enumerate(names):
        Q = mat(method, "Q")[np.ix_(order, order)]
        R = mat(method, "R")[order]
        axes[0, c].imshow(Q, cmap="RdBu_r", vmin=-vq, vmax=vq)
        im = axes[1, c].imshow(R, cmap="RdBu_r", vmin=-vr, vmax=vr, aspect="auto")
        axes[0, c].set_title(method_label(method).replace(" ", "\n"), fontsize=6)
        for r in (0, 1):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    axes[0, 0].set_ylabel("Q", fontsize=7)
    axes[1, 0].set_ylabel("R", fontsize=7)
    fig.colorbar(im, ax=axes[1, -1], shrink=0.8)
    fig.suptitle("expected order parameters after keeping 3 of 6 units (edges matched); "
                 "units grouped by teacher", fontsize=7)
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
    fig, axes = new_figure(2)
    for ax, label in zip(axes, ("K6", "K20"), strict=True):
        t = tables[label]
        K = int(t.K.iloc[0])
        for method in METHODS:
            m = t[t.method == method].sort_values("level")
            if m.empty:
                continue
            st = method_style(method)
            ax.plot(100 * m.level / K, m.jensen_gap / m.mean_eg, ms=3, lw=0.9, **st)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_xlabel("parameters kept (%)")
        ax.set_title(f"K = {K}, M = {int(t.M.iloc[0])} (large-N theory)")
    axes[0].set_ylabel("Jensen gap / E[$\\epsilon_g$]")
    axes[0].legend(frameon=False, fontsize=5.5)
    return fig


register_figure("jensen_gap", "the Jensen gap E[ε_g(Q′, R′)] − ε_g(E[Q′], E[R′]) relative to "
                "E[ε_g], every method", _jensen_sweeps, _jensen_plot, order=50)
