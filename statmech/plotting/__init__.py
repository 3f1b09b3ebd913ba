"""Plotting: the house style and ``plot_*`` functions that draw into a Matplotlib ``Axes``.

Every ``plot_*(data, ax=None, ...)`` draws into ``ax`` (with the caller's style), or into a new
column-width figure in the house style when ``ax`` is None, and returns the axes; none changes
``matplotlib.rcParams`` or the backend. The house style is a context manager,
:func:`~statmech.plotting.style.house_style`; draw and save a figure inside it::

    import numpy as np
    import statmech as sm

    ens = sm.simulate(500, 2, eta=0.5, alpha=np.geomspace(0.1, 300, 60), ensemble=16)
    ax = sm.plot_ensemble(ens, mean="errorbar")
    with sm.plotting.house_style():
        sm.plotting.save_figure(ax.figure, "out", "eg")

The gallery (:mod:`statmech.figures`) and the command line compose their figures from these.
Matplotlib is imported by the functions that draw, not by importing this package.
"""

from .heatmaps import labelled_colorbar, plot_order_parameters
from .pruning import plot_jensen_gap, plot_pruned_error
from .style import (
    COLUMN_WIDTH,
    HOUSE_RC,
    figure_legend,
    house_style,
    legend_entries,
    member_quantiles,
    method_label,
    method_style,
    method_styles,
    new_figure,
    plain_log_ticks,
    save_figure,
)
from .trajectories import ensemble_figure, plot_ensemble, plot_trajectory, trajectory_figure

__all__ = ["COLUMN_WIDTH", "HOUSE_RC", "ensemble_figure", "figure_legend", "house_style",
           "labelled_colorbar", "legend_entries", "member_quantiles", "method_label",
           "method_style", "method_styles", "new_figure", "plain_log_ticks", "plot_ensemble",
           "plot_jensen_gap", "plot_order_parameters", "plot_pruned_error", "plot_trajectory",
           "save_figure", "trajectory_figure"]
