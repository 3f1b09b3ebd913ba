"""ε_g(α): ODE trajectories and simulated ensembles (median and band, mean ± SE).

:func:`plot_trajectory` and :func:`plot_ensemble` draw into one ``Axes``;
:func:`trajectory_figure` and :func:`ensemble_figure` are the figures of ``statmech ode`` and
``statmech simulate`` built from them (the gallery's ``ode_vs_simulation`` uses
:func:`plot_ensemble` too).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import InvalidParameterError, Real, check
from ._axes import axes_for, check_band, check_choice, mean_se, members_of
from .style import BAND_PREFIX, COLUMN_WIDTH, house_style, legend_entries, member_quantiles

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..simulation.ensemble import Ensemble
    from ..theory.trajectory import Trajectory

__all__ = ["plot_trajectory", "plot_ensemble", "trajectory_figure", "ensemble_figure"]

ALPHA_LABEL = "α = steps / N"
EG_LABEL = "$\\epsilon_g$"

#: Parameters that tell batch members apart in default legend labels (symbol, format).
_MEMBER_PARAMS = (("eta", "η"), ("noise", "σ"), ("weight_decay", "κ"), ("batch_size", "B"))


def _member_labels(traj: Any, n: int) -> list[str | None]:
    """Default labels of a trajectory's members: the parameters that vary across them
    (``"η = 0.3"``), else ``"member i"``; no label for a single trajectory."""
    if n == 1:
        return [None]
    shape = np.shape(traj.eg)[:-1]
    parts: list[list[str]] = [[] for _ in range(n)]
    params = getattr(traj, "params", {}) or {}
    for key, symbol in _MEMBER_PARAMS:
        if key not in params:
            continue
        try:
            values = np.ravel(np.broadcast_to(np.asarray(params[key]), shape))
        except ValueError:
            continue
        if values.size == n and values.dtype.kind in "iuf" and np.unique(values).size > 1:
            for i, v in enumerate(values):
                parts[i].append(f"{symbol} = {v:g}")
    return [", ".join(p) if p else f"member {i}" for i, p in enumerate(parts)]


def _draw_band(ax: Any, alpha: np.ndarray, eg: np.ndarray, band: tuple[float, float], *,
               color: Any, band_color: Any, band_alpha: float, lw: float, ls: Any,
               label: str, zorder: float | None) -> None:
    """Median line and ``band`` percentiles of members ``eg`` at α > 0; the band is labelled
    so that :func:`~statmech.plotting.style.legend_entries` pairs it with the line."""
    sel = alpha > 0
    a = alpha[sel]
    lo, med, hi = member_quantiles(eg[:, sel], q=(band[0], 50.0, band[1]))
    z0 = {} if zorder is None else {"zorder": zorder}
    z1 = {} if zorder is None else {"zorder": zorder + 1}
    ax.fill_between(a, lo, hi, color=color if band_color is None else band_color,
                    alpha=band_alpha, lw=0, label=BAND_PREFIX + label, **z0)
    ax.plot(a, med, color=color, lw=lw, ls=ls, label=label, **z1)


def plot_trajectory(traj: Trajectory, ax: Axes | None = None, *, members: str = "lines",
                    labels: Sequence[str | None] | None = None,
                    plateaus: Sequence[float | None] | None = None,
                    band: tuple[float, float] = (10.0, 90.0), color: Any = None,
                    floor: float | None = 1e-10, **line_kwargs: Any) -> Axes:
    """Draw ε_g(α) of a :class:`~statmech.Trajectory` on log-log axes (α > 0).

    Parameters
    ----------
    traj : Trajectory
        An ODE solution (:func:`statmech.integrate`), single or batched; batch members are
        flattened in C order.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default a new column-width figure in the house style
        (:func:`~statmech.plotting.style.house_style`, global settings untouched).
    members : {"lines", "band"}
        One line per member (labelled, so that ``ax.legend()`` tells them apart), or their
        median and ``band`` percentiles (as :func:`plot_ensemble`).
    labels : sequence of str or None, optional
        Legend label per member (``"lines"``); default: the parameters that differ between
        members (``"η = 0.3"``), none for a single trajectory. A member that diverged gets
        ``" (diverged)"`` appended.
    plateaus : sequence of float or None, optional
        Per member, a plateau height drawn as a dotted line in the member's colour
        (``"lines"``; None: none for that member), e.g. from :func:`statmech.plateau_height`.
    band : (float, float)
        Percentiles of the band (``"band"``).
    color : matplotlib colour, optional
        Colour of every line (default: the colour cycle; black for ``"band"``).
    floor : float or None
        Lower limit of the y axis at least this (below ~1e-10 a curve shows the integration
        tolerance); None: Matplotlib's limits.
    **line_kwargs
        Passed to ``Axes.plot`` for each member line (``"lines"``).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    func = "plot_trajectory"
    check_choice(members, "members", func, ("lines", "band"))
    alpha, eg = members_of(traj, func)
    n = eg.shape[0]
    band = check_band(band, func)
    if floor is not None:
        check(floor, "floor", func, [Real(0.0, closed="neither"), None])
    if labels is None:
        labels = _member_labels(traj, n)
    elif isinstance(labels, str) or len(labels) != n:
        raise InvalidParameterError.build(func, "labels", f"a sequence of {n} labels (one per "
                                          "member) or None", labels)
    if plateaus is not None and (isinstance(plateaus, str) or len(plateaus) != n):
        raise InvalidParameterError.build(func, "plateaus", f"a sequence of {n} floats or None "
                                          "(one per member) or None", plateaus)
    status = np.ravel(np.broadcast_to(np.asarray(getattr(traj, "status", "ok")),
                                      np.shape(traj.eg)[:-1]))
    sel = alpha > 0
    with axes_for(ax, func) as ax:
        ax.set_xscale("log")
        ax.set_yscale("log")
        if members == "band":
            _draw_band(ax, alpha, eg, band, color="k" if color is None else color,
                       band_color=None, band_alpha=0.25, lw=1.0, ls="-",
                       label=f"median and {band[0]:g}–{band[1]:g} % of {n} members",
                       zorder=None)
        else:
            for i in range(n):
                label = labels[i]
                if label is not None and status.size == n and status[i] == "diverged":
                    label += " (diverged)"
                kw = dict(line_kwargs)
                if color is not None:
                    kw.setdefault("color", color)
                (line,) = ax.plot(alpha[sel], eg[i, sel], label=label, **kw)
                if plateaus is not None and plateaus[i] is not None:
                    ax.axhline(plateaus[i], color=line.get_color(), lw=0.6, ls=":")
        if floor is not None:
            lo = np.nanmin(np.where(eg[:, sel] > 0, eg[:, sel], np.nan), initial=1.0)
            ax.set_ylim(bottom=max(lo, floor))
        ax.set_xlabel(ALPHA_LABEL)
        ax.set_ylabel(EG_LABEL)
    return ax


def plot_ensemble(ens: Ensemble | Trajectory | tuple, ax: Axes | None = None, *,
                  band: tuple[float, float] = (10.0, 90.0), mean: str | None = None,
                  color: Any = "C3", band_color: Any = None, band_alpha: float = 0.25,
                  lw: float = 1.0, ls: Any = "--", label: str | None = None,
                  mean_label: str | None = None, max_relative_se: float = 0.25,
                  zorder: float | None = None, xlabel: str = ALPHA_LABEL) -> Axes:
    """Draw the members' median ε_g(α) and its percentile band on log-log axes (α > 0).

    Medians, not means: one member still on the plateau would dominate a mean on the log
    axis. The mean ± SE can be added where it is well determined.

    Parameters
    ----------
    ens : Ensemble, Trajectory or (alpha, eg)
        The members: a simulated :class:`~statmech.Ensemble`, a batched
        :class:`~statmech.Trajectory` (e.g. the ODE from each member's start), or a pair of
        arrays ``alpha`` (n_alpha,) and ``eg`` (members, n_alpha). NaN (diverged) is ignored.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default a new column-width figure in the house style.
    band : (float, float)
        Percentiles of the band (default the 10–90 % band).
    mean : {None, "errorbar", "line"}
        Also draw the mean: as markers with ± SE bars, or as a line; only where the standard
        error is below ``max_relative_se`` times the mean (elsewhere a few stuck members drag
        it off).
    color : matplotlib colour
        Colour of the median line, the band (unless ``band_color``) and the mean.
    band_color : matplotlib colour, optional
        Colour of the band (default ``color``).
    band_alpha : float
        Opacity of the band.
    lw, ls
        Width and style of the median line.
    label : str, optional
        Legend label of the median line (the band is shown with it by
        :func:`~statmech.plotting.style.legend_entries`); default ``"median and 10–90 % of
        E members"``.
    mean_label : str, optional
        Legend label of the mean (default ``"mean ± SE"`` or ``"mean"``).
    max_relative_se : float
        The mean is drawn where SE < ``max_relative_se`` × mean.
    zorder : float, optional
        Drawing order: band at ``zorder``, median line at ``zorder + 1``, mean at
        ``zorder + 2`` (default Matplotlib's order).
    xlabel : str
        Label of the α axis.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    func = "plot_ensemble"
    alpha, eg = members_of(ens, func)
    band = check_band(band, func)
    check_choice(mean, "mean", func, (None, "errorbar", "line"))
    check(band_alpha, "band_alpha", func, [Real(0.0, 1.0)])
    check(max_relative_se, "max_relative_se", func, [Real(0.0, closed="neither")])
    if label is None:
        label = f"median and {band[0]:g}–{band[1]:g} % of {eg.shape[0]} members"
    sel = alpha > 0
    a = alpha[sel]
    with axes_for(ax, func) as ax:
        _draw_band(ax, alpha, eg, band, color=color, band_color=band_color,
                   band_alpha=band_alpha, lw=lw, ls=ls, label=label, zorder=zorder)
        if mean is not None:
            m, se = mean_se(eg)
            good = (se < max_relative_se * m)[sel]
            z = {} if zorder is None else {"zorder": zorder + 2}
            if mean == "errorbar":
                if good.any():
                    ax.errorbar(a[good], m[sel][good], yerr=se[sel][good], fmt="o", ms=2,
                                mfc="white", mew=0.6, lw=0.6, color=color,
                                label="mean ± SE" if mean_label is None else mean_label, **z)
            else:
                ax.plot(a, np.where(good, m[sel], np.nan), color=color, lw=0.8, ls="-.",
                        label="mean" if mean_label is None else mean_label, **z)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(EG_LABEL)
    return ax


def trajectory_figure(traj: Trajectory, *, labels: Sequence[str | None] | None = None,
                      plateaus: Sequence[float | None] | None = None,
                      title: str = "") -> Figure:
    """The figure of ``statmech ode``: :func:`plot_trajectory` (one line per member, dotted
    plateau heights), a 7 pt ``title`` and one legend below the panel.

    Made in the house style; save it inside ``with house_style():``
    (:func:`~statmech.plotting.style.save_figure`).

    Parameters
    ----------
    traj : Trajectory
    labels, plateaus
        As :func:`plot_trajectory`.
    title : str
        Title of the panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .style import new_figure

    with house_style():
        fig, ax = new_figure()
        plot_trajectory(traj, ax, labels=labels, plateaus=plateaus)
        ax.set_title(title, fontsize=7)
        n = int(np.prod(np.shape(traj.eg)[:-1], dtype=int))
        fig.legend(loc="outside lower center", ncol=min(2, n), fontsize=6, frameon=False)
    return fig


def ensemble_figure(ens: Ensemble, theory: Trajectory | None = None, *,
                    plateau: float | None = None, settings: str = "") -> Figure:
    """The figure of ``statmech simulate``: the members' median ε_g and 10–90 % band (red,
    dashed), their mean ± SE where SE < 25 % of the mean, and the ODE from each member's own
    start (black, median and band); one legend below the panel.

    Made in the house style; save it inside ``with house_style():``.

    Parameters
    ----------
    ens : Ensemble
        The simulated members.
    theory : Trajectory, optional
        The ODE integrated from each member's initial order parameters (batch of E, on
        ``ens.alpha``); its members that diverged in the simulation are left out.
    plateau : float, optional
        Height of the symmetric plateau, drawn dotted grey.
    settings : str
        First line of the title (the run's settings); the second says how many members there
        are, their final ε_g and how many diverged.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .style import new_figure

    with house_style():
        fig, ax = new_figure()
        fig.set_size_inches(COLUMN_WIDTH, 3.5)
        if theory is not None:
            ok = ens.status == "ok"
            plot_ensemble((ens.alpha, np.asarray(theory.eg)[ok]), ax, color="k",
                          band_color="0.55", band_alpha=0.35, lw=1.2, ls="-", zorder=1,
                          label="theory: ODE from each member's start, median and 10–90 %")
        plot_ensemble(ens, ax, color="C3", ls="--", zorder=3, mean="errorbar",
                      label=f"simulation ({ens.params['method']}): median and 10–90 % of "
                            "members",
                      mean_label="simulation mean ± SE (only where SE < 25 % of the mean)")
        if plateau is not None:
            ax.axhline(plateau, color="0.5", ls=":", lw=0.8, zorder=0, label="symmetric plateau")
        final = ens.eg[:, -1][np.isfinite(ens.eg[:, -1])]
        note = (f"; at α = {ens.alpha[-1]:g}: median {np.median(final):.1e}, "
                f"max {final.max():.1e}" if final.size else "")
        n_div = int(np.sum(ens.status != "ok"))
        if n_div:
            note += f"; {n_div} diverged"
        ax.set_title(f"{settings}\n{ens.E} members{note}", fontsize=7)
        handles, labels = legend_entries(ax)
        fig.legend(handles, labels, loc="outside lower center", ncol=1, frameon=False,
                   fontsize=5.5)
    return fig
