"""The figure registry: each figure names the sweeps it needs and how to draw them.

A :class:`Figure` has ``sweeps(quality) -> {label: sweep spec dict}`` and
``plot(tables, quality) -> matplotlib Figure`` (``tables``: label → the sweep's table).
:func:`render` runs the sweeps through the cache (computing only what is missing) and writes
``<name>.png`` and ``<name>.pdf`` with the configuration hash in their metadata. Built-in
figures are in :mod:`statmech.figures.builtin`; packages add theirs through the entry-point
group ``statmech.figures`` (``empirical`` adds the figures that need torch).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Figure", "GalleryError", "register_figure", "figures", "figure_config_hash",
           "render", "QUALITIES", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "statmech.figures"
QUALITIES = ("quick", "full")

_FIGURES: dict[str, Figure] = {}
_LOADED = False


@dataclass(frozen=True)
class Figure:
    """A registered figure (module docstring)."""

    name: str
    description: str
    sweeps: Callable[[str], dict]
    plot: Callable[[dict, str], Any]
    order: int = 100


def register_figure(name: str, description: str, sweeps: Callable[[str], dict],
                    plot: Callable[[dict, str], Any], order: int = 100) -> None:
    """Register a figure under ``name`` (``order`` sorts the gallery)."""
    _FIGURES[name] = Figure(name, description, sweeps, plot, order)


def figures() -> dict[str, Figure]:
    """All registered figures, built-in and from plugins, in gallery order."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import builtin, companion  # noqa: F401  (register on import)

        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                obj = ep.load()
            except ImportError:  # the plugin's dependencies (torch) are missing
                continue
            if callable(obj):
                obj()
    return dict(sorted(_FIGURES.items(), key=lambda kv: (kv[1].order, kv[0])))


class GalleryError(RuntimeError):
    """Some figures of a :func:`render` call failed; the others were written.

    Attributes: ``failed`` ({name: "ErrorType: message"}) and ``rendered`` ({name: [png, pdf]}).
    """

    def __init__(self, failed: dict[str, str], rendered: dict[str, list[Path]]) -> None:
        lines = [f"{len(failed)} of {len(failed) + len(rendered)} figure(s) failed:"]
        lines += [f"  {name}: {why}" for name, why in failed.items()]
        super().__init__("\n".join(lines))
        self.failed = failed
        self.rendered = rendered


def render(names: list[str] | None = None, *, quality: str = "quick",
           output: str | Path = "figures", cache: str | Path | None = None,
           executor: str = "local", workers: int | None = None,
           scheduler: str | None = None, force: bool = False,
           progress: bool | None = None, log: Callable[[str], None] | None = print
           ) -> dict[str, list[Path]]:
    """Render figures (default: all) as PNG and PDF into ``output``.

    Returns {name: [png, pdf]}. Sweeps run through :func:`statmech.sweep.run_sweep` with the
    given cache and executor; a rerun with a warm cache only redraws. Each figure renders on
    its own: one that fails (its sweep or its drawing) is reported by name through ``log`` and
    the others still render; then :class:`GalleryError` names every failure (``.rendered``
    holds what was written). ``KeyboardInterrupt`` stops at once.
    """
    from .._validation import ListOf, Options, check

    check(quality, "quality", "render", [Options(QUALITIES)])
    registry = figures()
    if names is not None:
        check(names, "names", "render", [ListOf((Options(tuple(registry)),))])
    names = list(registry) if not names else list(names)
    out: dict[str, list[Path]] = {}
    failed: dict[str, str] = {}
    for i, name in enumerate(names, 1):
        if log is not None:
            log(f"[{i}/{len(names)}] {name} ...")
        t0 = time.perf_counter()
        try:
            out[name] = _render_one(registry[name], quality, Path(output), cache, executor,
                                    workers, scheduler, force, progress)
        except Exception as exc:  # noqa: BLE001 - one figure must not stop the gallery
            failed[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            if log is not None:
                log(f"[{i}/{len(names)}] {name} FAILED after {time.perf_counter() - t0:.1f} s: "
                    f"{failed[name]}")
            continue
        if log is not None:
            log(f"[{i}/{len(names)}] {name}: {time.perf_counter() - t0:.1f} s -> "
                f"{out[name][0]}")
    if failed:
        raise GalleryError(failed, out)
    return out


def figure_config_hash(fig_def: Figure, quality: str) -> str:
    """16 hex digits of the sha256 of a figure's sweep points (computation and full
    configuration of every point, ``replicate`` included): what its data are computed from.

    Independent of the package version and source (as the points' seeds are), so a committed
    gallery PNG can be checked against the figure's current definition without rendering it
    (written into each PNG and PDF as ``statmech:config_hash``).
    """
    from ..sweep.cache import canonical
    from ..sweep.spec import load_sweep

    items = []
    for label, spec in sorted(fig_def.sweeps(quality).items()):
        sweep = load_sweep({"name": f"{fig_def.name}:{label}", **spec})
        items.append([label, sweep.computation, sweep.points()])
    return hashlib.sha256(canonical(items).encode()).hexdigest()[:16]


def _render_one(fig_def: Figure, quality: str, output: Path, cache, executor, workers,
                scheduler, force, progress) -> list[Path]:
    """Run one figure's sweeps and write its PNG and PDF (see :func:`render`)."""
    from ..style import save_figure
    from ..sweep import run_sweep

    name = fig_def.name
    tables = {}
    for label, spec in fig_def.sweeps(quality).items():
        tables[label] = run_sweep({"name": f"{name}:{label}", **spec}, cache=cache,
                                  executor=executor, workers=workers, scheduler=scheduler,
                                  force=force, progress=progress)
    config_hash = figure_config_hash(fig_def, quality)
    fig = fig_def.plot(tables, quality)
    meta = {"Title": f"statmech-pruning: {name}", "Description": fig_def.description,
            "statmech:config_hash": config_hash, "statmech:quality": quality}
    return save_figure(fig, output, name, meta)  # closes the figure
