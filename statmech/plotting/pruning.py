"""Pruned networks: ε_g after pruning against the share kept, and the Jensen gap, one line or
marker set per method in the method's own colour and marker
(:func:`~statmech.plotting.style.method_style`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import Boolean, InvalidParameterError, Real, check
from ._axes import axes_for, check_table, settings_title
from .style import method_style, plain_log_ticks

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = ["plot_pruned_error", "plot_jensen_gap"]

KEPT_LABEL = "parameters kept (%)"


def _methods(table: Any, methods: Sequence[str] | None, func: str) -> list[str]:
    """The methods to draw, in order: ``methods``, or those of the table in registry order
    (then any others in table order)."""
    if methods is None:
        from ..pruning import method_names

        present = list(dict.fromkeys(table["method"]))
        known = [m for m in method_names() if m in present]
        return known + [m for m in present if m not in known]
    if isinstance(methods, str) or not all(isinstance(m, str) for m in methods):
        raise InvalidParameterError.build(func, "methods", "a sequence of method names or None",
                                          methods)
    return list(methods)


def plot_pruned_error(table: pd.DataFrame, ax: Axes | None = None, *,
                      methods: Sequence[str] | None = None, theory: str | None = "theory_finite_n",
                      simulation: str | None = "mc_mean", unpruned: bool = True,
                      spread: float = 0.0, ylabel: str | None = "pruned $\\epsilon_g$",
                      title: str | None = None, markers: bool = False) -> Axes:
    """Draw ε_g after pruning against the share of parameters kept, one colour and marker per
    method: the theory as lines, the simulation as markers ± SE over students.

    Parameters
    ----------
    table : pandas.DataFrame
        One configuration of a pruning-validation table (``statmech prune``'s
        validation.csv, the ``prune`` sweep computation): columns ``method``, ``level``
        (units kept; edge methods keep the matched number of weights), ``K``, the ``theory``
        and ``simulation`` columns and, for ``unpruned``, ``eg_unpruned`` (per ``student``).
        Rows of one method and level are averaged.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default a new column-width figure in the house style.
    methods : sequence of str, optional
        Methods to draw, in this order (default: those of the table, in registry order).
    theory, simulation : str or None
        Columns of the theory (lines) and of the simulation (markers, ± the standard error
        over rows); None leaves one out.
    unpruned : bool
        Draw the unpruned students' mean ε_g as a dotted black line.
    spread : float
        Methods are shifted along x by ``spread`` percentage points from one to the next,
        centred, so that coinciding curves do not hide each other (0: no shift).
    ylabel : str or None
        Label of the y axis (None: none, e.g. for the right panel of a row).
    title : str, optional
        Panel title; default the table's configuration (``"K = 6, M = 2, α = 1600, σ = 0"``).
    markers : bool
        Mark the theory lines' points with the method's marker (for theory-only panels, so that
        methods stay apart where their lines cross).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    func = "plot_pruned_error"
    required = ["method", "level", "K"] + [c for c in (theory, simulation) if c is not None]
    table = check_table(table, func, required + (["eg_unpruned"] if unpruned else []))
    check(spread, "spread", func, [Real()])
    check(markers, "markers", func, [Boolean()])
    methods = _methods(table, methods, func)
    K = int(table["K"].iloc[0])
    shift = {m: spread * (i - (len(methods) - 1) / 2) for i, m in enumerate(methods)}
    with axes_for(ax, func) as ax:
        for z, method in enumerate(methods):
            m = table[table.method == method]
            if m.empty:
                continue
            agg = {}
            if theory is not None:
                agg["th"] = (theory, "mean")
            if simulation is not None:
                agg.update(mc=(simulation, "mean"), se=(simulation, "sem"))
            g = m.groupby("level").agg(**agg)
            x = 100 * g.index.to_numpy() / K + shift[method]
            st = method_style(method)
            if theory is not None:
                mark = {"marker": st["marker"], "mfc": st["mfc"], "ms": 3} if markers else {}
                ax.plot(x, g.th, color=st["color"], lw=1.0, zorder=2 + z / 10, **mark)
            if simulation is not None:
                ax.errorbar(x, g.mc, yerr=g.se.fillna(0), ls="none", marker=st["marker"],
                            color=st["color"], mfc=st["mfc"], ms=3.5, lw=0.6, alpha=0.9,
                            zorder=3 + z / 10)
        if unpruned:
            base = (table.groupby("student").eg_unpruned.first().mean()
                    if "student" in table.columns else table.eg_unpruned.mean())
            ax.axhline(base, color="k", ls=":", lw=0.8, zorder=1)
        ax.set_yscale("log")
        plain_log_ticks(ax, "y")
        ax.set_title(settings_title(table, ("K", "M", "alpha", "noise")) if title is None
                     else title)
        ax.set_xlabel(KEPT_LABEL)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
    return ax


def plot_jensen_gap(table: pd.DataFrame, ax: Axes | None = None, *,
                    methods: Sequence[str] | None = None,
                    ylabel: str | None = "Jensen gap / E[$\\epsilon_g$]",
                    title: str | None = None) -> Axes:
    """Draw the Jensen gap E[ε_g(Q′, R′)] − ε_g(E[Q′], E[R′]) over masks, relative to
    E[ε_g], against the share of parameters kept, one line per method.

    Parameters
    ----------
    table : pandas.DataFrame
        One configuration of a ``pruned_error`` sweep table: columns ``method``, ``level``,
        ``K``, ``jensen_gap`` and ``mean_eg`` (one row per method and level).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default a new column-width figure in the house style.
    methods : sequence of str, optional
        Methods to draw, in this order (default: those of the table, in registry order).
    ylabel : str or None
        Label of the y axis (None: none).
    title : str, optional
        Panel title (7 pt); default the table's configuration.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    func = "plot_jensen_gap"
    table = check_table(table, func, ["method", "level", "K", "jensen_gap", "mean_eg"])
    methods = _methods(table, methods, func)
    K = int(table["K"].iloc[0])
    with axes_for(ax, func) as ax:
        for method in methods:
            m = table[table.method == method].sort_values("level")
            if m.empty:
                continue
            ax.plot(100 * m.level / K, m.jensen_gap / m.mean_eg, ms=3, lw=0.9,
                    **method_style(method))
        ax.axhline(0, color="0.5", lw=0.6, zorder=0)
        ax.set_xlabel(KEPT_LABEL)
        ax.set_title(settings_title(table, ("K", "M", "v_star", "eta", "alpha", "noise"))
                     if title is None else title, fontsize=7)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
    return ax


def jensen_gap_vanishes(table: pd.DataFrame, method: str, rtol: float = 1e-9) -> bool:
    """Whether the relative Jensen gap of ``method`` in ``table`` is below ``rtol`` at every
    level (a legend may say so)."""
    m = table[table.method == method]
    return bool(np.all(np.abs(m.jensen_gap / m.mean_eg) < rtol))
