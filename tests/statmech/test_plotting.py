"""The public ``plot_*`` functions (statmech.plotting): each returns the Axes it drew into, draws
into a given one or a new house-style figure, leaves ``matplotlib.rcParams`` and the backend as
they were, and draws what it should; and no library module switches the backend or changes
``rcParams`` (an AST check, with a negative control)."""

from __future__ import annotations

import ast
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

import statmech as sm
from statmech import InvalidParameterError
from statmech.plotting import (
    house_style,
    legend_entries,
    method_style,
    plot_ensemble,
    plot_jensen_gap,
    plot_order_parameters,
    plot_pruned_error,
    plot_trajectory,
)

ROOT = Path(__file__).resolve().parents[2]
#: three registered methods, in registry order
METHODS = list(sm.method_names())[:3]


@pytest.fixture(autouse=True)
def _pdf_backend():
    """Run every test on a backend that is not Agg, so that a library call switching to Agg
    would show in the backend and in ``rcParams``; then restore the previous one."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend("pdf")
    yield
    plt.close("all")
    plt.switch_backend(before)


def _settings() -> tuple[dict, str]:
    params = matplotlib.rcParams
    return {k: params[k] for k in params}, matplotlib.get_backend()


def _close(ax) -> None:
    import matplotlib.pyplot as plt

    plt.close(ax.get_figure())


# ------------------------------------------------------------------------------------------
# data


@pytest.fixture(scope="module")
def traj():
    op = sm.OrderParameters.random(2, 2, 200, seed=0)
    return sm.integrate(op, eta=np.array([0.3, 1.0]), alpha=np.linspace(0.0, 20.0, 11))


def _members(outlier: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Eight members decaying at slightly different rates; member 0 stuck at 50 (outlier)."""
    alpha = np.concatenate([[0.0], np.geomspace(0.1, 100.0, 12)])
    eg = np.array([0.5 * np.exp(-alpha / (20.0 + i)) for i in range(8)])
    if outlier:
        eg[0] = 50.0
    return alpha, eg


def _pruned_table(K: int = 6) -> pd.DataFrame:
    rows = []
    for i, method in enumerate(METHODS):
        for level in range(1, K):
            for student in range(3):
                th = (K - level) / K + i
                rows.append({"method": method, "level": level, "student": student, "K": K,
                             "M": 2, "alpha": 1600.0, "noise": 0.0, "theory_finite_n": th,
                             "mc_mean": th * (1 + 0.01 * student), "eg_unpruned": 0.02})
    return pd.DataFrame(rows)


def _jensen_table(K: int = 6) -> pd.DataFrame:
    rows = [{"method": m, "level": level, "K": K, "M": 2, "v_star": 4.0, "eta": 0.5,
             "alpha": 1600.0, "noise": 0.0, "jensen_gap": -0.01 * level * i, "mean_eg": 0.5}
            for i, m in enumerate(METHODS) for level in range(1, K)]
    return pd.DataFrame(rows)


def _order_parameters():
    return sm.OrderParameters.random(4, 2, 300, seed=3)


CALLS = {
    "plot_trajectory": lambda ax, t: plot_trajectory(t, ax),
    "plot_ensemble": lambda ax, t: plot_ensemble(_members(), ax, mean="errorbar"),
    "plot_pruned_error": lambda ax, t: plot_pruned_error(_pruned_table(), ax),
    "plot_jensen_gap": lambda ax, t: plot_jensen_gap(_jensen_table(), ax),
    "plot_order_parameters": lambda ax, t: plot_order_parameters(_order_parameters(), ax),
}


# ------------------------------------------------------------------------------------------
# every plot_* function


@pytest.mark.parametrize("name", list(CALLS))
def test_draws_into_a_given_axes_without_a_new_figure(name, traj):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    fig, ax = plt.subplots()
    n_figures = len(plt.get_fignums())
    before = _settings()
    out = CALLS[name](ax, traj)
    assert isinstance(out, Axes) and out is ax
    assert len(plt.get_fignums()) == n_figures
    assert ax.has_data()
    assert _settings() == before
    plt.close(fig)


@pytest.mark.parametrize("name", list(CALLS))
def test_without_axes_draws_a_new_house_style_figure(name, traj):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    n_figures = len(plt.get_fignums())
    before = _settings()
    assert before[0]["font.size"] != 8  # the test would not see the house style otherwise
    ax = CALLS[name](None, traj)
    assert isinstance(ax, Axes) and ax.has_data()
    assert len(plt.get_fignums()) == n_figures + 1
    assert _settings() == before
    assert matplotlib.get_backend() == before[1] == "pdf"
    # drawn outside the style (as a notebook shows it), it keeps the house font sizes
    fig = ax.get_figure()
    fig.canvas.draw()
    assert ax.xaxis.label.get_fontsize() == 8
    tick = next(t for t in ax.xaxis.get_major_ticks() if t.label1.get_text())
    assert tick.label1.get_fontsize() == 8
    _close(ax)


def test_new_figure_leaves_rcparams_and_backend_alone():
    before = _settings()
    fig, ax = sm.plotting.new_figure(2, height=2.0)
    assert _settings() == before and ax.shape == (2,)
    assert ax[0].title.get_fontsize() == 8  # made in the house style
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_house_style_is_a_context_and_restores_rcparams():
    before = _settings()
    with house_style():
        assert matplotlib.rcParams["font.size"] == 8
        assert matplotlib.rcParams["legend.fontsize"] == 6.5
    assert _settings() == before


@pytest.mark.parametrize("name", list(CALLS))
def test_a_non_axes_ax_is_refused_by_name(name, traj):
    with pytest.raises(InvalidParameterError, match="'ax' parameter of " + name):
        CALLS[name]("not an axes", traj)


def test_the_plot_functions_are_on_the_facade():
    for name in CALLS:
        assert getattr(sm, name) is getattr(sm.plotting, name)
        assert name in sm.__all__


# ------------------------------------------------------------------------------------------
# what each draws


def test_trajectory_one_labelled_line_per_member_and_plateaus(traj):
    ax = plot_trajectory(traj, plateaus=[0.01, None])
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines[:1]] == ["η = 0.3"]
    members = [ln for ln in lines if not ln.get_label().startswith("_")]
    assert [ln.get_label() for ln in members] == ["η = 0.3", "η = 1"]
    plateaus = [ln for ln in lines if ln.get_linestyle() == ":"]
    assert len(plateaus) == 1 and plateaus[0].get_color() == members[0].get_color()
    sel = traj.alpha > 0
    assert np.allclose(members[1].get_ydata(), traj.eg[1, sel])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_ylim()[0] >= 1e-10
    _close(ax)


def test_trajectory_band_is_the_median_of_its_members(traj):
    ax = plot_trajectory(traj, members="band")
    assert len(ax.collections) == 1
    (line,) = ax.get_lines()
    assert np.allclose(line.get_ydata(), np.median(traj.eg[:, traj.alpha > 0], axis=0))
    _close(ax)


def test_trajectory_labels_must_match_the_members(traj):
    with pytest.raises(InvalidParameterError, match="'labels'"):
        plot_trajectory(traj, labels=["only one"])


def test_ensemble_median_is_the_median_not_the_mean():
    alpha, eg = _members(outlier=True)
    ax = plot_ensemble((alpha, eg))
    sel = alpha > 0
    (line,) = ax.get_lines()
    median = np.median(eg[:, sel], axis=0)
    assert np.allclose(line.get_ydata(), median)
    assert not np.allclose(line.get_ydata(), eg[:, sel].mean(0))  # the outlier drags the mean
    assert len(ax.collections) == 1  # the 10-90 % band
    lo, hi = np.percentile(eg[:, sel], [10, 90], axis=0)
    band = ax.collections[0].get_paths()[0].vertices
    assert np.isclose(band[:, 1].max(), hi.max()) and np.isclose(band[:, 1].min(), lo.min())
    handles, labels = legend_entries(ax)
    assert len(handles) == 1 and isinstance(handles[0], tuple) and handles[0][1] is line
    _close(ax)


def test_ensemble_mean_only_where_well_determined():
    alpha, eg = _members(outlier=True)
    sel = alpha > 0
    ax = plot_ensemble((alpha, eg), mean="line", mean_label="mean")
    mean_line = [ln for ln in ax.get_lines() if ln.get_label() == "mean"][0]
    y = np.asarray(mean_line.get_ydata())
    se = eg.std(0, ddof=1)[sel] / np.sqrt(8)
    expected = np.where(se < 0.25 * eg.mean(0)[sel], eg.mean(0)[sel], np.nan)
    assert np.allclose(y, expected, equal_nan=True) and np.isnan(y).any()
    _close(ax)
    alpha, eg = _members(outlier=False)
    ax = plot_ensemble((alpha, eg), mean="errorbar")
    (container,) = ax.containers
    assert container.get_label() == "mean ± SE"
    assert np.allclose(container.lines[0].get_ydata(), eg.mean(0)[alpha > 0])
    _close(ax)


def test_ensemble_of_a_simulation_and_bad_options():
    ens = sm.simulate(60, 2, 2, eta=0.5, alpha=np.linspace(0, 3, 7), ensemble=6,
                      method="reduced", seed=1, progress=False)
    ax = plot_ensemble(ens)
    assert np.allclose(ax.get_lines()[0].get_ydata(), np.median(ens.eg[:, 1:], axis=0))
    _close(ax)
    with pytest.raises(InvalidParameterError, match="'band'.*0 <= low < high <= 100"):
        plot_ensemble(ens, band=(90, 10))
    with pytest.raises(InvalidParameterError, match="'mean'"):
        plot_ensemble(ens, mean="median")
    with pytest.raises(InvalidParameterError, match="'ens'"):
        plot_ensemble(np.ones(3))


def test_pruned_error_styles_every_method_from_the_registry():
    table = _pruned_table()
    ax = plot_pruned_error(table, spread=0.5)
    assert len(ax.containers) == len(METHODS)
    for method, container in zip(METHODS, ax.containers, strict=True):
        st = method_style(method)
        data = container.lines[0]
        assert data.get_marker() == st["marker"]
        assert matplotlib.colors.same_color(data.get_color(), st["color"])
    lines = ax.get_lines()
    theory = [ln for ln in lines if ln.get_linestyle() == "-" and ln.get_marker() in
              ("None", "", None)]
    assert len(theory) == len(METHODS)
    # spread: each method shifted, so no two methods share their x
    assert len({tuple(np.round(ln.get_xdata(), 6)) for ln in theory}) == len(METHODS)
    assert np.allclose(theory[0].get_ydata(), (6 - np.arange(1, 6)) / 6)
    assert any(ln.get_linestyle() == ":" for ln in lines)  # unpruned
    assert ax.get_yscale() == "log" and ax.get_title().startswith("K = 6, M = 2, α = 1600")
    _close(ax)


def test_pruned_error_theory_only_panels_can_mark_their_lines():
    table = _pruned_table()
    ax = plot_pruned_error(table, simulation=None, markers=True)
    assert not ax.containers  # no simulation error bars
    marked = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    assert [ln.get_marker() for ln in marked] == [method_style(m)["marker"] for m in METHODS]
    _close(ax)
    with pytest.raises(InvalidParameterError, match="'markers' parameter of plot_pruned_error"):
        plot_pruned_error(table, markers="yes")


def test_method_handles_follow_the_registry_styles():
    from statmech.plotting.style import method_handles

    handles, labels = method_handles(METHODS, unpruned="baseline")
    assert labels == [method_style(m)["label"] for m in METHODS] + ["baseline"]
    assert [h.get_marker() for h in handles[:-1]] == [method_style(m)["marker"] for m in METHODS]
    assert handles[-1].get_linestyle() == ":"
    assert len(method_handles(METHODS, unpruned=None)[0]) == len(METHODS)


def test_pruned_error_refuses_a_table_of_two_configurations():
    table = pd.concat([_pruned_table(), _pruned_table().assign(noise=0.25)])
    with pytest.raises(InvalidParameterError, match="'noise' column must hold one value"):
        plot_pruned_error(table)
    with pytest.raises(InvalidParameterError, match="Missing: mc_mean"):
        plot_pruned_error(_pruned_table().drop(columns="mc_mean"))


def test_jensen_gap_is_relative_to_the_mean_error():
    table = _jensen_table()
    ax = plot_jensen_gap(table, ylabel=None)
    method_lines = [ln for ln in ax.get_lines() if ln.get_label() in
                    {method_style(m)["label"] for m in METHODS}]
    assert len(method_lines) == len(METHODS)
    m = table[table.method == METHODS[2]].sort_values("level")
    assert np.allclose(method_lines[2].get_ydata(), m.jensen_gap / m.mean_eg)
    assert np.allclose(method_lines[2].get_xdata(), 100 * m.level / 6)
    assert ax.get_ylabel() == "" and "v* = 4" in ax.get_title()
    _close(ax)


def test_order_parameter_heat_map_with_labelled_colour_bar():
    op = _order_parameters()
    order = [3, 1, 0, 2]
    ax = plot_order_parameters(op, order=order)
    (image,) = ax.images
    assert np.allclose(image.get_array(), op.Q[np.ix_(order, order)])
    assert image.get_clim() == (-np.abs(op.Q).max(), np.abs(op.Q).max())
    bars = [a for a in ax.get_figure().axes if a is not ax]
    assert len(bars) == 1 and bars[0].get_ylabel() == "Q$_{ik}$"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    _close(ax)
    ax = plot_order_parameters(op, matrix="R", colorbar=False, label="unused")
    assert ax.images[0].get_array().shape == (4, 2) and ax.get_aspect() == "auto"
    assert len(ax.get_figure().axes) == 1 and ax.get_xlabel() == "teacher n"
    _close(ax)


def test_order_parameter_heat_map_bad_input():
    op = _order_parameters()
    with pytest.raises(InvalidParameterError, match="'order'.*permutation of 0..3"):
        plot_order_parameters(op, order=[0, 0, 1, 2])
    with pytest.raises(InvalidParameterError, match="'matrix'"):
        plot_order_parameters(op, matrix="W")
    with pytest.raises(InvalidParameterError, match="'op'"):
        plot_order_parameters(np.ones(3))


# ------------------------------------------------------------------------------------------
# no global style or backend changes in library code

#: modules allowed to choose the backend: the entry points
ENTRY_POINTS = {"statmech/figures/registry.py", "empirical/cli.py"}
_RC_FUNCTIONS = {"rc", "rcdefaults", "rc_file", "rc_file_defaults", "switch_backend"}
_MUTATORS = {"update", "setdefault", "clear", "pop", "popitem", "__setitem__", "__delitem__"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def global_style_changes(source: str) -> list[str]:
    """Lines of ``source`` that switch the Matplotlib backend or change ``rcParams`` (a
    ``plt.rc_context`` block or reading ``rcParams`` is fine)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            parts = name.split(".")
            if (name in ("matplotlib.use", "mpl.use", "use") or parts[-2:] == ["style", "use"]
                    or (parts[-1] in _RC_FUNCTIONS and (len(parts) == 1 or parts[0] in
                                                        ("matplotlib", "mpl", "plt", "pyplot")))
                    or (parts[-1] in _MUTATORS and len(parts) > 1
                        and parts[-2] == "rcParams")):
                found.append(f"{node.lineno}: {name}(...)")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                base = target.value if isinstance(target, ast.Subscript) else target
                if _dotted(base).split(".")[-1] == "rcParams":
                    found.append(f"{node.lineno}: {ast.unparse(target)} changed")
        elif isinstance(node, ast.ImportFrom) and node.module in ("matplotlib",
                                                                  "matplotlib.pyplot"):
            for alias in node.names:
                if alias.name == "use" or alias.name in _RC_FUNCTIONS:
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
    return found


def test_no_library_module_switches_the_backend_or_changes_rcparams():
    bad = []
    for pkg in ("statmech", "empirical"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ENTRY_POINTS or rel.startswith("statmech/cli/"):
                continue
            bad += [f"{rel}:{hit}" for hit in global_style_changes(path.read_text())]
    assert not bad, "global Matplotlib state changed outside the entry points:\n" + "\n".join(bad)


@pytest.mark.parametrize("snippet", [
    "import matplotlib\nmatplotlib.use('Agg')",
    "import matplotlib as mpl\nmpl.use('Agg')",
    "from matplotlib import use\nuse('Agg')",
    "import matplotlib.pyplot as plt\nplt.rcParams.update({'font.size': 8})",
    "import matplotlib as mpl\nmpl.rcParams['font.size'] = 8",
    "from matplotlib import rcParams\nrcParams['font.size'] += 1",
    "import matplotlib.pyplot as plt\nplt.rc('font', size=8)",
    "import matplotlib.pyplot as plt\nplt.style.use('ggplot')",
    "import matplotlib.pyplot as plt\nplt.switch_backend('agg')",
])
def test_the_check_catches_a_global_change(snippet):
    """Negative control: each of these is reported."""
    assert global_style_changes(snippet)


def test_the_check_allows_a_style_context_and_reading_rcparams():
    snippet = ("import matplotlib.pyplot as plt\n"
               "with plt.rc_context({'font.size': 8}):\n"
               "    size = plt.rcParams['font.size']\n"
               "    fig = plt.figure()\n")
    assert global_style_changes(snippet) == []
