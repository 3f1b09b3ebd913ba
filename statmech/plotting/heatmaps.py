"""Heat maps of order parameters (Q, R, T) with index tick labels and a labelled colour bar."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validation import ArrayLike, InvalidParameterError, Real, check
from ._axes import axes_for, check_choice

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.colorbar import Colorbar

    from ..theory.order_parameters import OrderParameters

__all__ = ["plot_order_parameters", "labelled_colorbar"]

#: matrix -> (x label, y label, colour-bar label); students are i, k, teachers n, m.
_LABELS = {"Q": ("student k", "student i", "Q$_{ik}$"),
           "R": ("teacher n", "student k", "R$_{kn}$"),
           "T": ("teacher m", "teacher n", "T$_{nm}$")}


def labelled_colorbar(mappable: Any, ax: Axes | Sequence[Axes], label: str, *,
                      fontsize: float | None = None, tick_fontsize: float | None = None,
                      **kwargs: Any) -> Colorbar:
    """A colour bar of ``mappable`` beside ``ax`` (one axes, or a list sharing the bar), with
    ``label`` on it.

    Parameters
    ----------
    mappable : matplotlib.cm.ScalarMappable
        What the bar shows (an image or mesh).
    ax : Axes or list of Axes
        Where the bar takes its space from.
    label : str
        Label of the bar.
    fontsize, tick_fontsize : float, optional
        Size of the label and of the tick labels (default: the current style's).
    **kwargs
        Passed to ``Figure.colorbar`` (``shrink``, ``pad``, ``aspect``, ...).

    Returns
    -------
    matplotlib.colorbar.Colorbar
    """
    first = ax[0] if isinstance(ax, list | tuple) else ax
    cb = first.get_figure().colorbar(mappable, ax=ax, **kwargs)
    if fontsize is None:
        cb.set_label(label)
    else:
        cb.set_label(label, fontsize=fontsize)
    if tick_fontsize is not None:
        cb.ax.tick_params(labelsize=tick_fontsize)
    return cb


def plot_order_parameters(op: OrderParameters | Any, ax: Axes | None = None, *,
                          matrix: str = "Q", order: Sequence[int] | None = None,
                          vmax: float | None = None, cmap: Any = "RdBu_r",
                          aspect: str | float | None = None, colorbar: bool = True,
                          label: str | None = None, xlabel: str | None = None,
                          ylabel: str | None = None, yticklabels: bool = True,
                          tick_fontsize: float | None = None) -> Axes:
    """Draw one order-parameter matrix as a heat map, symmetric colour scale around 0.

    Parameters
    ----------
    op : OrderParameters or array_like
        A single (unbatched) :class:`~statmech.OrderParameters`, whose ``matrix`` is drawn,
        or the 2-D matrix itself.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; default a new column-width figure in the house style.
    matrix : {"Q", "R", "T"}
        Which matrix of ``op`` (for an array: what it is, for the default labels and
        ``order``).
    order : sequence of int, optional
        Order of the student units (rows of Q and R, columns of Q), e.g.
        :func:`statmech.order_units_by_teacher`.
    vmax : float, optional
        Colour scale from ``-vmax`` to ``vmax`` (default: the largest |entry|).
    cmap : matplotlib colormap
        Diverging colour map.
    aspect : {"equal", "auto"} or float, optional
        Cell aspect (default: square cells for a square matrix, else filling the axes).
    colorbar : bool
        Add a colour bar labelled ``label`` beside ``ax``.
    label : str, optional
        Colour-bar label (default ``"Q$_{ik}$"``, ``"R$_{kn}$"`` or ``"T$_{nm}$"``).
    xlabel, ylabel : str, optional
        Axis labels (default: the unit each index runs over, e.g. ``"student k"``).
    yticklabels : bool
        Number the rows (False: ticks without labels, for panels right of the first).
    tick_fontsize : float, optional
        Size of the tick labels (default: the current style's).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn into.
    """
    func = "plot_order_parameters"
    check_choice(matrix, "matrix", func, tuple(_LABELS))
    values = getattr(op, matrix) if hasattr(op, "Q") and hasattr(op, "R") else op
    check(values, "op", func, [ArrayLike(ndim=2)])
    values = np.asarray(values, dtype=float)
    if order is not None:
        if matrix == "T":
            raise InvalidParameterError.build(func, "order", "None for the teacher matrix T "
                                              "(it orders student units)", order)
        idx = np.asarray(order)
        if (idx.ndim != 1 or idx.dtype.kind not in "iu"
                or sorted(idx.tolist()) != list(range(values.shape[0]))):
            raise InvalidParameterError.build(
                func, "order", f"a permutation of 0..{values.shape[0] - 1} or None", order)
        values = values[np.ix_(idx, idx)] if matrix == "Q" else values[idx]
    if vmax is None:
        vmax = float(np.abs(values).max())
    check(vmax, "vmax", func, [Real(0.0, closed="neither")])
    rows, cols = values.shape
    x_label, y_label, cb_label = _LABELS[matrix]
    with axes_for(ax, func) as ax:
        image = ax.imshow(values, cmap=cmap, vmin=-vmax, vmax=vmax,
                          aspect=aspect if aspect is not None
                          else "equal" if rows == cols else "auto")
        ax.set_xticks(range(cols), [str(j + 1) for j in range(cols)])
        ax.set_yticks(range(rows), [str(i + 1) for i in range(rows)] if yticklabels else [])
        if tick_fontsize is not None:
            ax.tick_params(labelsize=tick_fontsize)
        ax.set_xlabel(x_label if xlabel is None else xlabel)
        ax.set_ylabel(y_label if ylabel is None else ylabel)
        if colorbar:
            labelled_colorbar(image, ax, cb_label if label is None else label,
                              tick_fontsize=tick_fontsize)
    return ax
