"""The gallery's and the CLI's drawings, from small synthetic tables (no sweeps): legends never
over data, nothing outside the figure, mathtext ε_g, the settings in the titles, and the
figure-specific fixes (medians for ensembles, blank cells beyond η_c, log colour scales)."""

import re

import numpy as np
import pandas as pd
import pytest

from statmech.figures import builtin, companion, figures

METHODS = builtin.METHODS


@pytest.fixture(autouse=True)
def _house_style():
    """Draw as the gallery and the command line do: inside the house style (font sizes are read
    when a text is made, tick labels when the figure is drawn)."""
    from statmech.plotting.style import house_style

    with house_style():
        yield


def _texts(fig):
    """Every drawn text: titles, axis labels, legends and the tick labels inside the view."""
    texts = list(fig.texts) + [t for leg in fig.legends for t in leg.get_texts()]
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    for a in fig.axes:
        texts += [a.title, a._left_title, a._right_title, a.xaxis.label, a.yaxis.label]
        if a.get_legend():
            texts += a.get_legend().get_texts()
        for axis in (a.xaxis, a.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if lo <= tick.get_loc() <= hi:
                    texts += [tick.label1, tick.label2]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def check_figure(fig):
    """Text hygiene and layout: no placeholder text, ε_g in mathtext, legends outside every
    panel, every text inside the figure, every panel with axis labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    whole = fig.bbox
    for t in _texts(fig):
        s = t.get_text()
        for bad in ("eps_g", "§", "pending", "issue"):
            assert bad not in s, s
        assert "_" not in re.sub(r"\$[^$]*\$", "", s), f"literal underscore in {s!r}"
        box = t.get_window_extent(renderer)
        assert (box.x0 >= whole.x0 - 1 and box.x1 <= whole.x1 + 1 and box.y0 >= whole.y0 - 1
                and box.y1 <= whole.y1 + 1), f"{s!r} is clipped"
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    legends = list(fig.legends) + [a.get_legend() for a in panels if a.get_legend()]
    for leg in legends:
        lb = leg.get_window_extent(renderer)
        for a in panels:
            assert not lb.overlaps(a.get_window_extent(renderer)), "legend over a panel"
    for a in panels:
        assert a.get_xlabel() or any(b.get_shared_x_axes().joined(a, b) and b.get_xlabel()
                                     for b in panels), "panel without an x label"
    return fig


def _close(fig):
    import matplotlib.pyplot as plt

    plt.close(fig)


# ------------------------------------------------------------------------------------------


def test_member_quantiles_ignore_nan_without_warning():
    from statmech.plotting.style import member_quantiles

    x = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan], [1000.0, np.nan]])
    with np.errstate(all="raise"):
        lo, med, hi = member_quantiles(x)
    assert med[0] == 2.5 and np.isnan(med[1]) and lo[0] < med[0] < hi[0]


def test_simulate_plot_shows_the_median_not_a_mean_dragged_by_a_stuck_member(tmp_path,
                                                                              monkeypatch):
    import argparse

    import statmech.cli.simulate as cli
    from statmech.simulation.api import simulate
    from statmech.theory.ode import integrate

    ens = simulate(60, 2, 2, eta=0.5, alpha=np.linspace(0, 3, 7), ensemble=8,
                   method="reduced", seed=1, progress=False)
    traj = integrate(ens.order_parameters(0), eta=0.5, alpha=ens.alpha, on_divergence="mask")
    ens.eg[0, 1:] = 50.0  # one member far above the others, as one stuck on the plateau
    args = argparse.Namespace(K=2, N=60, eta=0.5, noise=0.0, init_v=1.0, v_star=1.0,
                              train_second_layer=False, weight_decay=0.0, batch_size=1,
                              activation="erf")
    captured = {}
    monkeypatch.setattr(cli, "save_figure", lambda fig, out, stem: captured.setdefault(
        "fig", fig) and [])
    cli._plot_simulation(ens, traj, args, 2, tmp_path)
    fig = check_figure(captured["fig"])
    ax = fig.axes[0]
    sim = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"][0]
    assert np.allclose(sim.get_ydata(), np.median(ens.eg[:, 1:], axis=0))
    assert ax.get_ylabel() == "$\\epsilon_g$"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lab.startswith("theory") for lab in labels)
    assert any("median" in lab for lab in labels)
    _close(fig)


def _phase_table(Ks, etas):
    from statmech.theory.fixed_points import critical_learning_rate

    rows = []
    for K in Ks:
        for eta in etas:
            rows.append({"K": K, "eta": eta, "plateau_height": 0.01 * K * (1 + eta),
                         "escape_time": 100.0 / eta, "eta_c": critical_learning_rate(K),
                         "init_N": 1000, "alpha_max": 1e4})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("Ks", [[2, 3, 4], [2, 3, 5, 8]])
def test_phase_diagram_blank_beyond_eta_c_and_log_colours(Ks):
    from matplotlib.colors import LogNorm

    etas = [0.05, 0.2, 1.0, 2.0]
    fig = check_figure(builtin._phase_plot({"fp": _phase_table(Ks, etas)}, "quick"))
    t = _phase_table(Ks, etas)
    for ax in fig.axes[:2]:
        mesh = ax.collections[0]
        assert isinstance(mesh.norm, LogNorm)
        grid = np.ma.getmaskarray(mesh.get_array()).reshape(len(Ks), len(etas))
        beyond = (t.eta > t.eta_c).to_numpy().reshape(len(Ks), len(etas))
        assert (grid == beyond).all()
    assert all(cb.get_ylabel() for cb in fig.axes[2:])
    _close(fig)


def test_phase_grid_has_no_column_beyond_every_eta_c():
    from statmech.theory.fixed_points import critical_learning_rate

    for quality in ("quick", "full"):
        grid = builtin._phase_sweeps(quality)["fp"]["grid"]
        assert max(grid["eta"]) <= max(critical_learning_rate(K) for K in grid["K"])


def _prune_table(K):
    rows = []
    for noise in (0.0, 0.25):
        for i, method in enumerate(METHODS):
            for level in range(1, K):
                for student in range(2):
                    rows.append({"noise": noise, "method": method, "level": level,
                                 "student": student, "theory_finite_n": (K - level) / K + i,
                                 "mc_mean": (K - level) / K + i + 0.01 * student,
                                 "eg_unpruned": 0.02, "K": K, "M": 2, "alpha": 1600.0,
                                 "N": 500, "eta": 0.5, "v_star": 4.0, "students": 2,
                                 "n_masks": 20, "simulation_method": "reduced"})
    return pd.DataFrame(rows)


def test_pruned_error_legend_below_with_line_and_marker():
    fig = check_figure(builtin._pruned_plot({"K6": _prune_table(6), "K20": _prune_table(8)},
                                            "quick"))
    assert len(fig.legends) == 1 and not any(a.get_legend() for a in fig.axes)
    handles = fig.legends[0].legend_handles
    for h in handles[:len(METHODS)]:
        assert h.get_marker() not in (None, "None", "") and h.get_linestyle() != "None"
    # random and DPP node are drawn at different x, so neither hides the other
    ax = fig.axes[0]
    xs = {tuple(np.round(ln.get_xdata(), 6)) for ln in ax.get_lines()[:-1]}
    assert len(xs) == len(METHODS)
    _close(fig)


def test_heatmaps_have_colour_bars_and_index_labels():
    rng = np.random.default_rng(0)
    rows = []
    for method in ["unpruned", *METHODS]:
        for matrix, shape in (("Q", (6, 6)), ("R", (6, 2))):
            vals = rng.standard_normal(shape)
            for i in range(shape[0]):
                for j in range(shape[1]):
                    rows.append({"method": method, "matrix": matrix, "i": i, "j": j,
                                 "value": vals[i, j], "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5,
                                 "alpha": 1600.0, "noise": 0.0, "level": 3})
    fig = check_figure(builtin._heat_plot({"state": pd.DataFrame(rows)}, "quick"))
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert len(bars) == 2 and all(b.get_ylabel() for b in bars)
    panels = [a for a in fig.axes if a.get_label() != "<colorbar>"]
    assert "teacher" in panels[-1].get_xlabel() and "student" in panels[0].get_ylabel()
    _close(fig)


def test_jensen_and_ode_vs_simulation_layout():
    rows = []
    for K, M in ((6, 2), (20, 5)):
        for method in METHODS:
            for level in range(1, 4):
                gap = 0.0 if "edge" in method else -0.1 * level
                rows.append({"method": method, "level": level, "jensen_gap": gap,
                             "mean_eg": 1.0, "K": K, "M": M, "v_star": 4.0, "eta": 0.5,
                             "alpha": 1600.0, "noise": 0.0})
    t = pd.DataFrame(rows)
    fig = check_figure(builtin._jensen_plot({"K6": t[t.K == 6], "K20": t[t.K == 20]}, "q"))
    assert "(gap ≡ 0)" in fig.legends[0].get_texts()[0].get_text()
    _close(fig)
    alpha = np.concatenate([[0.0], np.geomspace(0.01, 300, 40)])
    rows = []
    for source in ("ode", "simulation"):
        for member in range(10):
            eg = 0.5 * np.exp(-alpha / (100 + 10 * member))
            if source == "simulation" and member == 0:
                eg = np.full_like(alpha, 0.015)  # stuck on the plateau
            rows.append(pd.DataFrame({"source": source, "member": member, "alpha": alpha,
                                      "eg": eg}))
    t = pd.concat(rows).assign(K=2, M=2, eta=0.5, N=500, method="reduced", noise=0.0)
    fig = check_figure(builtin._ode_sim_plot({"sim": t}, "quick"))
    _close(fig)


def test_companion_figures_layout():
    rows = []
    for p in companion._PS:
        for seed in range(2):
            rows.append({"p": p, "test_error": 0.1 + p / 3 + 0.01 * seed, "train_error": 0.0,
                         "signal_neurons": 40 * (1 - p), "n_snr_q": 0.3 / (1 - p + 1e-3),
                         "d": 1000, "n": 40, "m": 20, "q": 3.0, "mu_norm": 6.0, "sigma_p": 1.0,
                         "eta": 0.05})
    fig = check_figure(companion._pai_plot({"runs": pd.DataFrame(rows)}, "quick"))
    _close(fig)
    rows = []
    for width in (64, 256):
        for r in (0.1, 0.5):
            for i, method in enumerate(("magnitude", "random", "random_rescaled")):
                rows.append({"width": width, "ratio": r, "method": method,
                             "max_rel": 0.1 * (i + 1), "rms_rel": 0.08 * (i + 1),
                             "pred_recursion": 0.08 * (i + 1), "pred_sqrt_depth": 0.09 * (i + 1)})
    fig = check_figure(companion._gap_plot({"gaps": pd.DataFrame(rows)}, "quick"))
    labels = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "recursion" in labels and "dotted" in labels
    _close(fig)


def test_empirical_figures_layout():
    pytest.importorskip("torch")
    pytest.importorskip("empirical")
    from empirical.cli import draw_teacher_student

    rows = []
    for i, method in enumerate(METHODS):
        for level in (1, 3):
            th = 0.2 * (i + 1) * level
            rows.append({"method": method, "level": level, "theory_finite_n": th,
                         "eg_measured": th * 1.01, "eg_measured_se": 0.01 * th, "seed": 0,
                         "K": 6, "M": 2, "N": 100, "v_star": 4.0, "eta": 0.5, "alpha": 50.0,
                         "noise": 0.25})
    fig = check_figure(draw_teacher_student(pd.DataFrame(rows)))
    assert "σ = 0.25" in fig.get_suptitle()
    _close(fig)
    d = np.array([0.1, 1.0, 10.0])
    mbp = pd.DataFrame({"d": d, "gamma_req": 100 * d, "pruning_error": 2 * d,
                        "min_margin": 1.5, "bound": 40 / d, "pruned_test_error": 0.02 * d,
                        "n_in": 256, "j_r": 200 / d, "density": 0.8 / d, "epochs": 100,
                        "hidden": "[256, 256]", "replicate": 0})
    fig = check_figure(figures()["mbp_bound"].plot({"mbp": mbp}, "quick"))
    assert all(a.get_ylabel() for a in fig.axes)
    _close(fig)
