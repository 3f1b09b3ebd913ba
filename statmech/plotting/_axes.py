"""What every ``plot_*`` function shares: the axes to draw into and the checks of its inputs."""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._validation import InvalidParameterError, Options, check
from .style import house_style, new_figure

#: Configuration columns of a sweep table and how a title shows them (integers without a dot).
SETTINGS = {"K": ("K", "d"), "M": ("M", "d"), "N": ("N", "d"), "v_star": ("v*", "g"),
            "eta": ("η", "g"), "alpha": ("α", "g"), "noise": ("σ", "g")}


@contextmanager
def axes_for(ax: Any, func: str, **figure_kwargs: Any) -> Iterator[Any]:
    """The axes a ``plot_*`` function draws into.

    A given ``ax`` is used as it is (drawn with the caller's style). With ``ax=None`` a new
    column-width figure is made and drawn inside :func:`~statmech.plotting.style.house_style`;
    it is then laid out once (``draw_without_rendering``) so that its tick labels take the
    house sizes too and it looks the same when shown or saved after the block. Global
    ``rcParams`` and the backend are never changed.
    """
    from matplotlib.axes import Axes

    if ax is not None:
        if not isinstance(ax, Axes):
            raise InvalidParameterError.build(func, "ax", "a matplotlib Axes or None", ax)
        yield ax
        return
    with house_style():
        fig, new = new_figure(**figure_kwargs)
        try:
            yield new
            fig.draw_without_rendering()
        except BaseException:
            import matplotlib.pyplot as plt

            plt.close(fig)
            raise


def _is_real(value: object) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def check_band(band: object, func: str) -> tuple[float, float]:
    """A pair of percentiles ``0 <= low < high <= 100``."""
    if (isinstance(band, tuple | list) and len(band) == 2 and all(map(_is_real, band))
            and 0 <= band[0] < band[1] <= 100):
        return float(band[0]), float(band[1])
    raise InvalidParameterError.build(
        func, "band", "a pair (low, high) of percentiles with 0 <= low < high <= 100", band)


def check_choice(value: object, name: str, func: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (None allowed where listed)."""
    options = [c for c in choices if c is not None]
    return check(value, name, func, [Options(options)] + ([None] if None in choices else []))


def check_table(table: object, func: str, required: Sequence[str]) -> Any:
    """A pandas DataFrame holding ``required`` columns and one configuration (each column of
    :data:`SETTINGS` it has holds a single value)."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise InvalidParameterError.build(func, "table", "a pandas DataFrame", table)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InvalidParameterError(
            f"The 'table' parameter of {func} must have the columns {', '.join(required)}. "
            f"Missing: {', '.join(missing)}.", func=func, param="table",
            allowed=f"a DataFrame with the columns {', '.join(required)}",
            value=f"a DataFrame without {', '.join(missing)}")
    if table.empty:
        raise InvalidParameterError.build(func, "table", "a non-empty DataFrame",
                                          "an empty DataFrame")
    for col in SETTINGS:
        if col in table.columns and table[col].nunique(dropna=False) > 1:
            values = sorted(table[col].unique().tolist())
            raise InvalidParameterError(
                f"The 'table' parameter of {func} must hold one configuration: its {col!r} "
                f"column must hold one value. Got {values}; select one first "
                f"(table[table.{col} == value]).", func=func, param="table",
                allowed=f"one value of {col!r}", value=repr(values))
    return table


def settings_title(table: Any, columns: Sequence[str]) -> str:
    """``"K = 6, M = 2, α = 1600, σ = 0"``: the configuration ``columns`` of a one-configuration
    table, those it has."""
    row = table.iloc[0]
    parts = []
    for col in columns:
        if col in table.columns:
            name, fmt = SETTINGS[col]
            value = int(row[col]) if fmt == "d" else row[col]
            parts.append(f"{name} = {value:{fmt}}")
    return ", ".join(parts)


def members_of(ens: Any, func: str) -> tuple[np.ndarray, np.ndarray]:
    """(alpha (n_alpha,), eg (members, n_alpha)) of an Ensemble, a Trajectory (batch members
    flattened) or a pair ``(alpha, eg)``."""
    allowed = ("a statmech Ensemble or Trajectory, or a pair (alpha, eg) of arrays with eg of "
               "shape (members, n_alpha)")
    if isinstance(ens, tuple | list) and len(ens) == 2:
        alpha, eg = ens
    elif hasattr(ens, "alpha") and hasattr(ens, "eg"):
        alpha, eg = ens.alpha, ens.eg
    else:
        raise InvalidParameterError.build(func, "ens", allowed, ens)
    try:
        alpha = np.asarray(alpha, dtype=float)
        eg = np.asarray(eg, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError.build(func, "ens", allowed, ens) from None
    if alpha.ndim != 1 or alpha.size == 0 or eg.ndim < 1 or eg.shape[-1] != alpha.size:
        raise InvalidParameterError.build(
            func, "ens", allowed, f"alpha of shape {alpha.shape} and eg of shape {eg.shape}")
    return alpha, eg.reshape(-1, alpha.size)


def mean_se(eg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over members (axis 0) ignoring NaN, and its standard error (sample standard
    deviation over √n, NaN where fewer than two members are finite), as
    :meth:`statmech.Ensemble.mean_trajectory` computes them."""
    n = np.isfinite(eg).sum(0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(eg, axis=0)
        sd = np.nanstd(eg, axis=0, ddof=1)
    return mean, np.where(n >= 2, sd / np.sqrt(np.maximum(n, 1)), np.nan)
