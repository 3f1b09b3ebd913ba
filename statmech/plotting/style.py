"""One figure style for the whole toolkit: a colour and marker per pruning method, column-width
figures, no LaTeX, PNG + PDF output with metadata.

Every figure that shows a pruning method takes its look from :func:`method_style`, so a method
has the same colour and marker everywhere (reweighted variants: same colour, open marker, dashed
line).

The house font sizes are a context manager, :func:`house_style` (``plt.rc_context``): library
code never changes ``matplotlib.rcParams`` or the backend. Font sizes are read when a text is
created, tick labels when a figure is drawn, so a figure is drawn *and saved* inside
``with house_style():`` (as the gallery and the command lines do)::

    with house_style():
        fig, ax = new_figure()
        ...
        save_figure(fig, out, "eg")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["method_styles", "method_style", "method_label", "new_figure", "save_figure",
           "plain_log_ticks", "figure_legend", "legend_entries", "member_quantiles",
           "house_style", "HOUSE_RC", "COLUMN_WIDTH"]

#: Width of one journal column in inches.
COLUMN_WIDTH = 3.4

#: The rc values of the house style (:func:`house_style`), read-only.
HOUSE_RC = MappingProxyType({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 6.5,
                             "text.usetex": False})

#: Label prefix that pairs a member band with its median line (:func:`legend_entries`).
BAND_PREFIX = "_band:"

#: The look of the unpruned reference wherever methods are compared.
_UNPRUNED = ("#000000", "*", "unpruned")


def _look(method: str) -> tuple[str, str, str]:
    """(colour, marker, label) of a method, read from its registered class (the colour-blind-
    safe Okabe–Ito palette there, with Tol's olive in place of its yellow)."""
    from ..pruning import PRUNING_METHODS

    if method == "unpruned":
        return _UNPRUNED
    m = PRUNING_METHODS.get(method)
    if m is None:
        return "0.4", ".", method.replace("_", " ")
    return m.color, m.marker, m.label or method.replace("_", " ")


def method_styles() -> dict[str, tuple[str, str]]:
    """{method: (colour, marker)} of every registered method and ``"unpruned"``, read from the
    pruning registry."""
    from ..pruning import method_names

    return {m: _look(m)[:2] for m in (*method_names(), "unpruned")}


def method_label(method: str, reweight: bool = False) -> str:
    """The legend label of a method (``" + rwt"`` for reweighted variants)."""
    return _look(method)[2] + (" + rwt" if reweight else "")


def method_style(method: str, reweight: bool = False) -> dict[str, Any]:
    """Matplotlib keyword arguments (color, marker, linestyle, mfc, label) for a method."""
    color, marker, _ = _look(method)
    return {"color": color, "marker": marker, "ls": "--" if reweight else "-",
            "mfc": "white" if reweight else color, "label": method_label(method, reweight)}


def method_handles(methods: Any, unpruned: str | None = "unpruned",
                   ms: float = 4) -> tuple[list[Any], list[str]]:
    """Legend handles and labels for ``methods`` (line + marker in each method's style), and a
    dotted black line labelled ``unpruned`` (None: none) for the unpruned baseline."""
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    labels: list[str] = []
    for method in methods:
        st = method_style(method)
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], mfc=st["mfc"],
                              ms=ms, lw=1.0))
        labels.append(st["label"])
    if unpruned is not None:
        handles.append(Line2D([], [], color="k", ls=":", lw=0.8))
        labels.append(unpruned)
    return handles, labels


@contextmanager
def house_style() -> Iterator[None]:
    """The house style (:data:`HOUSE_RC`: 8 pt text, 6.5 pt legends, no LaTeX) for the block.

    A ``plt.rc_context``: ``matplotlib.rcParams`` are restored on leaving the block, and the
    backend is left alone. Draw and save a figure inside the block (module docstring).

    Examples
    --------
    >>> from statmech.plotting import house_style, new_figure
    >>> with house_style():
    ...     fig, ax = new_figure()
    """
    import matplotlib
    import matplotlib.pyplot as plt

    interactive = None
    with plt.rc_context(dict(HOUSE_RC)):
        try:
            yield
        finally:
            interactive = matplotlib.is_interactive()
    # a backend resolved inside the block (the first figure of a Jupyter session switches on
    # interactive mode) keeps that setting: only the house style is undone
    if interactive is not None and interactive != matplotlib.is_interactive():
        matplotlib.interactive(interactive)


def new_figure(ncols: int = 1, nrows: int = 1, height: float = 2.6, **kwargs: Any):
    """A figure of ``ncols`` × ``nrows`` column-width panels with constrained layout.

    The figure and its axes are created inside :func:`house_style` (titles and axis labels
    take its font sizes); global ``rcParams`` and the backend are not changed. Draw and save
    it inside ``with house_style():`` so that legends and tick labels take the house sizes too.

    Parameters
    ----------
    ncols, nrows : int
        Panels across (each :data:`COLUMN_WIDTH` inches wide) and down.
    height : float
        Height of one row of panels in inches.
    **kwargs
        Passed to ``plt.subplots`` (``sharex``, ``sharey``, ...).

    Returns
    -------
    (matplotlib.figure.Figure, Axes or ndarray of Axes)
    """
    import matplotlib.pyplot as plt

    with house_style():
        return plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH * ncols, height * nrows),
                            constrained_layout=True, **kwargs)


def plain_log_ticks(ax, axis: str = "both") -> None:
    """Log axes labelled with plain numbers at 1, 2, 5 × 10ⁿ and unlabelled minor ticks."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in ("x", "y") if axis == "both" else (axis,):
        a = getattr(ax, f"{name}axis")
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        a.set_minor_formatter(NullFormatter())


def figure_legend(fig, handles=None, labels=None, ncol: int = 2, **kwargs: Any):
    """One legend for the whole figure, outside the panels below them (never over data).

    ``handles``/``labels`` default to those of every axes of ``fig``, each label once.
    """
    if handles is None:
        seen: dict[str, Any] = {}
        for ax in fig.axes:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if not lab.startswith("_"):
                    seen.setdefault(lab, h)
        handles, labels = list(seen.values()), list(seen)
    kwargs.setdefault("frameon", False)
    return fig.legend(handles, labels, loc="outside lower center", ncol=ncol, **kwargs)


def legend_entries(ax) -> tuple[list[Any], list[str]]:
    """Legend handles and labels of ``ax`` in drawing order, a member band and its median line
    as one entry.

    Like ``ax.get_legend_handles_labels()``, but an error-bar set sits where it was drawn (not
    after every line), and a band drawn by :func:`~statmech.plotting.plot_ensemble` is shown
    with its median line, as the tuple ``(band, line)`` (a shaded patch crossed by the line).

    Parameters
    ----------
    ax : matplotlib.axes.Axes

    Returns
    -------
    handles : list of artists (or tuples of artists)
    labels : list of str
    """
    bands = {c.get_label()[len(BAND_PREFIX):]: c for c in ax.collections
             if c.get_label().startswith(BAND_PREFIX)}
    container_of = {id(a): c for c in ax.containers for a in c.get_children()}
    handles: list[Any] = []
    labels: list[str] = []
    seen: set[int] = set()
    for artist in ax.get_children():
        container = container_of.get(id(artist))
        item = artist if container is None else container
        label = item.get_label()
        if id(item) in seen or not isinstance(label, str) or not label or label[0] == "_":
            continue
        seen.add(id(item))
        if container is not None:
            handles.append(container)
        elif _is_legend_artist(artist):
            handles.append((bands[label], artist) if label in bands else artist)
        else:
            continue
        labels.append(label)
    return handles, labels


def _is_legend_artist(artist) -> bool:
    """A line, patch or collection (what ``Axes.legend`` shows by default)."""
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return isinstance(artist, Line2D | Patch | Collection)


def member_quantiles(values, q: tuple[float, ...] = (10.0, 50.0, 90.0), axis: int = 0):
    """Quantiles (percent) of ``values`` over ``axis`` ignoring NaN (diverged members), one
    array per quantile; NaN where no member is finite (no warning)."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(np.nanpercentile(np.asarray(values, dtype=float), q, axis=axis))


def save_figure(fig, out: Path, stem: str, metadata: dict[str, str] | None = None) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf into ``out`` (with text metadata) and close it."""
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata or {})
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    for p in paths:
        md = ({k: str(v) for k, v in meta.items()} if p.suffix == ".png"
              else {"Subject": "; ".join(f"{k}={v}" for k, v in meta.items())} if meta else {})
        if p.suffix == ".pdf" and "statmech:render_key" in meta:  # ASCII, found by a byte search
            md["Keywords"] = f"statmech:render_key={meta['statmech:render_key']}"
        fig.savefig(p, dpi=200, metadata=md)
        # the layout computed for the PNG serves the PDF too (constrained layout would be
        # solved again on every save)
        fig.set_layout_engine("none")
    plt.close(fig)
    return paths
