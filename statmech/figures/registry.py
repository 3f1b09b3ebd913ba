"""The figure registry: each figure names the sweeps it needs and how to draw them.

A :class:`Figure` has ``sweeps(quality) -> {label: sweep spec dict}`` and
``plot(tables, quality) -> matplotlib Figure`` (``tables``: label → the sweep's table).
:func:`render` runs the sweeps through the cache (computing only what is missing) and writes
``<name>.png`` and ``<name>.pdf`` with the configuration hash in their metadata. Built-in
figures are in :mod:`statmech.figures.builtin`; packages add theirs through the entry-point
group ``statmech.figures`` (``empirical`` adds the figures that need torch).
"""

from __future__ import annotations

import functools
import hashlib
import sys
import time
import warnings
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
        # The built-in figures (statmech.figures.builtin, .companion) are registered by this
        # package's __init__, which imports them after this module.
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
           progress: bool | None = None, log: Callable[[str], None] | None = print,
           redraw: bool = False) -> dict[str, list[Path]]:
    """Render figures (default: all) as PNG and PDF into ``output``.

    Returns {name: [png, pdf]}. Every figure's sweep points are first looked up in the cache;
    with the default local executor all the missing points of all the figures then run in
    **one** pool of worker processes (a point shared by two figures runs once), in gallery
    order, and each figure is drawn as soon as its last point is stored, while the pool goes
    on with the others. The ``"serial"`` and ``"dask"`` executors run figure by figure through
    :func:`statmech.sweep.run_sweep`.

    A figure whose PNG and PDF in ``output`` already carry its current *render key* (the
    sha256 of its configuration hash, the cache keys of its points, which include the package
    version and the computations' source, the source of the drawing code and the matplotlib
    version) is up to date and is not drawn again, as ``make`` would do; ``redraw=True`` (or
    ``force``) draws every figure.

    Each figure renders on its own: one that fails (a sweep point or its drawing) is reported
    by name through ``log`` and the others still render; then :class:`GalleryError` names
    every failure (``.rendered`` holds what was written). ``KeyboardInterrupt`` stops at once
    (the points already computed stay cached).
    """
    import matplotlib

    from .._progress import ProgressBar
    from .._validation import ListOf, Options, check
    from ..sweep.cache import Cache
    from ..sweep.run import (
        _reachable_by_workers,
        collect_table,
        plan_sweep,
        run_serial,
        run_tasks,
    )

    check(quality, "quality", "render", [Options(QUALITIES)])
    matplotlib.use("Agg")  # an entry point: files only, no window
    registry = figures()
    if names is not None:
        check(names, "names", "render", [ListOf((Options(tuple(registry)),))])
    names = list(registry) if not names else list(dict.fromkeys(names))
    out: dict[str, list[Path]] = {}
    failed: dict[str, str] = {}
    t_start = time.perf_counter()
    say: Callable[[str], None] = log if log is not None else (lambda msg: None)

    def fail(name: str, exc: BaseException, where: str) -> None:
        failed[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        say(f"[{names.index(name) + 1}/{len(names)}] {name} FAILED ({where}, "
            f"{time.perf_counter() - t_start:.1f} s): {failed[name]}")

    pooled = executor == "local" and workers != 1
    redraw = redraw or force
    if not pooled:
        for i, name in enumerate(names, 1):
            say(f"[{i}/{len(names)}] {name} ...")
            t0 = time.perf_counter()
            try:
                out[name] = _render_one(registry[name], quality, Path(output), cache, executor,
                                        workers, scheduler, force, progress, redraw)
            except Exception as exc:  # noqa: BLE001 - one figure must not stop the gallery
                fail(name, exc, "sweep or drawing")
                continue
            say(f"[{i}/{len(names)}] {name}: {time.perf_counter() - t0:.1f} s -> "
                f"{out[name][0]}")
        if failed:
            raise GalleryError(failed, out)
        return out

    root = str(Cache(cache).root)
    plans: dict[str, dict] = {}
    for name in names:
        try:
            plans[name] = {label: plan_sweep({"name": f"{name}:{label}", **spec}, root, force)
                           for label, spec in registry[name].sweeps(quality).items()}
        except Exception as exc:  # noqa: BLE001 - a bad sweep spec fails its figure only
            fail(name, exc, "sweep definition")
    tasks: dict[str, Any] = {}
    waiting: dict[str, set[str]] = {}
    for name, figure_plans in plans.items():
        waiting[name] = set()
        for plan in figure_plans.values():
            for task in plan.tasks:
                tasks.setdefault(task.key, task)
                waiting[name].add(task.key)
    n_points = len({k for fp in plans.values() for p in fp.values() for k in p.keys})
    say(f"gallery ({quality}): {len(names)} figure(s), {n_points} distinct sweep points: "
        f"{len(tasks)} to compute, {n_points - len(tasks)} cached")

    def draw(name: str) -> None:
        key = render_key(registry[name], quality,
                         [k for plan in plans[name].values() for k in plan.keys])
        try:
            paths = _written(registry[name], Path(output), key) if not redraw else None
            if paths is not None:
                out[name] = paths
                say(f"[{names.index(name) + 1}/{len(names)}] {name}: up to date -> {paths[0]}")
                return
            tables = {label: collect_table(plan, root) for label, plan in plans[name].items()}
            out[name] = _draw(registry[name], quality, Path(output), tables, key)
        except Exception as exc:  # noqa: BLE001 - one figure must not stop the gallery
            fail(name, exc, "drawing")
            return
        say(f"[{names.index(name) + 1}/{len(names)}] {name}: drawn at "
            f"{time.perf_counter() - t_start:.1f} s -> {out[name][0]}")

    for name in [n for n in plans if not waiting[n]]:
        draw(name)
    todo = list(tasks.values())
    if todo:
        local = [t for t in todo if _reachable_by_workers(t.comp) is not None]
        if local:  # computations spawned workers cannot import: here, as run_sweep does
            warnings.warn(f"{_reachable_by_workers(local[0].comp)}; computing its points in "
                          f"this process.", RuntimeWarning, stacklevel=2)
        with ProgressBar(len(todo), "gallery", progress, unit="sweep points") as bar:
            def done(task: Any) -> None:
                for name, keys in waiting.items():
                    if task.key in keys:
                        keys.discard(task.key)
                        if not keys and name not in failed:
                            bar.write(lambda name=name: draw(name))

            def error(task: Any, exc: BaseException) -> None:
                for name, keys in waiting.items():
                    if task.key in keys and name not in failed:
                        bar.write(lambda name=name: fail(name, exc, f"sweep {task.sweep}"))

            if local:
                for task in local:
                    try:
                        run_serial([task], root, force=force, on_done=done)
                    except Exception as exc:  # noqa: BLE001 - fails its figures only
                        error(task, exc)
                    bar.update(1)
            run_tasks([t for t in todo if t not in local], root, force=force, workers=workers,
                      bar=bar, on_done=done, on_error=error, offset=len(local))
    if failed:
        raise GalleryError(failed, out)
    return {name: out[name] for name in names if name in out}


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
                scheduler, force, progress, redraw=False) -> list[Path]:
    """Run one figure's sweeps and write its PNG and PDF (see :func:`render`)."""
    from ..sweep import run_sweep

    tables = {}
    for label, spec in fig_def.sweeps(quality).items():
        tables[label] = run_sweep({"name": f"{fig_def.name}:{label}", **spec}, cache=cache,
                                  executor=executor, workers=workers, scheduler=scheduler,
                                  force=force, progress=progress)
    # the tables carry their points' cache keys: no second pass over the cache
    key = render_key(fig_def, quality, [k for t in tables.values() if "key" in t.columns
                                        for k in t["key"].unique()])
    if not redraw and (paths := _written(fig_def, output, key)) is not None:
        return paths
    return _draw(fig_def, quality, output, tables, key)


@functools.cache
def _tree_hash(root: str) -> str:
    """sha256 of every ``.py`` file under ``root`` (names and contents)."""
    h = hashlib.sha256()
    base = Path(root)
    for path in sorted(base.rglob("*.py")):
        h.update(str(path.relative_to(base)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _drawing_source(fig_def: Figure) -> str:
    """What a figure's drawing depends on: statmech's whole source, the whole source of the
    package defining the plot function (or the function's own source, for ``__main__``)."""
    import inspect

    import matplotlib

    parts = [_tree_hash(str(Path(__file__).resolve().parents[1])), matplotlib.__version__]
    module = inspect.getmodule(fig_def.plot)
    top = module.__name__.split(".")[0] if module is not None else "__main__"
    if top in ("__main__", "__mp_main__"):
        try:
            parts.append(inspect.getsource(fig_def.plot))
        except (OSError, TypeError):
            parts.append(repr(fig_def.plot))
    elif top != "statmech":
        pkg = sys.modules[top]
        pkg_file = getattr(pkg, "__file__", None)
        if pkg_file and hasattr(pkg, "__path__"):
            parts.append(_tree_hash(str(Path(pkg_file).resolve().parent)))
        elif pkg_file:
            parts.append(hashlib.sha256(Path(pkg_file).read_bytes()).hexdigest())
    return "|".join(parts)


def render_key(fig_def: Figure, quality: str, point_keys) -> str:
    """16 hex digits identifying a drawing: the figure's configuration hash, the cache keys of
    its points (data, package version and computation source), its drawing code and the
    matplotlib version (:func:`render`)."""
    keys = sorted(set(point_keys))
    text = "|".join([figure_config_hash(fig_def, quality), quality, *keys,
                     _drawing_source(fig_def)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _written(fig_def: Figure, output: Path, key: str) -> list[Path] | None:
    """The figure's [png, pdf] if both exist in ``output`` and carry render key ``key`` (an
    ASCII text chunk ``statmech:render_key`` in the PNG, ``Keywords`` in the PDF: both are
    found by a byte search)."""
    png, pdf = Path(output) / f"{fig_def.name}.png", Path(output) / f"{fig_def.name}.pdf"
    try:
        if (b"statmech:render_key\x00" + key.encode() not in png.read_bytes()
                or f"statmech:render_key={key}".encode() not in pdf.read_bytes()):
            return None
    except OSError:  # absent or unreadable: draw it
        return None
    return [png, pdf]


def _draw(fig_def: Figure, quality: str, output: Path, tables: dict,
          key: str | None = None) -> list[Path]:
    """Draw a figure from its sweeps' tables and write its PNG and PDF, with the figure's
    configuration hash (and render key) in their metadata; drawn and saved in the house style
    (:func:`statmech.plotting.style.house_style`)."""
    from ..plotting.style import house_style, save_figure

    config_hash = figure_config_hash(fig_def, quality)
    meta = {"Title": f"statmech-pruning: {fig_def.name}", "Description": fig_def.description,
            "statmech:config_hash": config_hash, "statmech:quality": quality}
    if key is not None:
        meta["statmech:render_key"] = key
    with house_style():
        fig = fig_def.plot(tables, quality)
        return save_figure(fig, output, fig_def.name, meta)  # closes the figure
