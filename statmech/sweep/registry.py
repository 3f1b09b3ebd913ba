"""Registered computations: what a sweep point can compute.

A computation is a function ``f(config: dict, seed: int) -> pandas.DataFrame`` (long format, one
row per output value) registered under a name with :func:`register_computation`. Built-ins live
in :mod:`statmech.sweep.builtin`. Other packages add theirs through the entry-point group
``statmech.computations`` (an entry point names a module that registers on import, or a
callable returning nothing that does so), so ``statmech`` never imports them: ``empirical``
registers ``empirical.teacher_student`` and ``empirical.real_data`` that way.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Computation", "register_computation", "get_computation", "computations",
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "statmech.computations"

_REGISTRY: dict[str, Computation] = {}
_PLUGINS_LOADED = False


@dataclass(frozen=True)
class Computation:
    """A registered computation: ``func(config, seed)`` with ``defaults`` filled in first."""

    name: str
    func: Callable[[dict, int], Any]
    defaults: dict = field(default_factory=dict)
    description: str = ""

    @property
    def source_hash(self) -> str:
        """sha256 of the computation's source: its own module and the computational code it
        can call (every ``.py`` file of ``statmech`` and of the package defining it, except the
        presentation layer: figures, CLI, style, progress bars). Editing any of these
        invalidates cached points; restyling a figure does not."""
        module = inspect.getmodule(self.func)
        try:
            own = inspect.getsource(module) if module is not None else inspect.getsource(
                self.func)
        except (OSError, TypeError):
            own = self.func.__qualname__
        top = (module.__name__.split(".")[0] if module is not None else "statmech")
        parts = [own, _package_hash("statmech")]
        if top != "statmech":
            parts.append(_package_hash(top))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()

    def full_config(self, config: dict) -> dict:
        """The defaults updated by ``config``; unknown keys are errors."""
        if "seed" in config:
            raise ValueError("A sweep point's seed derives from its key; use a 'replicate' "
                             "parameter for independent repetitions.")
        unknown = sorted(set(config) - set(self.defaults))
        if unknown:
            raise ValueError(f"Unknown parameter(s) {unknown} for computation {self.name!r}; "
                             f"it takes {sorted(self.defaults)}.")
        return {**self.defaults, **config}


#: Files and folders of a package left out of :attr:`Computation.source_hash`.
PRESENTATION = ("figures", "cli.py", "style.py", "_progress.py")


@functools.cache
def _package_hash(name: str) -> str:
    import importlib

    try:
        pkg = importlib.import_module(name)
    except ImportError:
        return ""
    root = Path(pkg.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in PRESENTATION:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def register_computation(name: str, defaults: dict | None = None,
                         description: str = "") -> Callable:
    """Decorator: register ``func(config, seed) -> DataFrame`` under ``name``.

    ``defaults`` lists every parameter the computation accepts with its default value (a sweep
    may set only these).
    """

    def deco(func: Callable) -> Callable:
        _REGISTRY[name] = Computation(name, func, dict(defaults or {}),
                                      description or (func.__doc__ or "").split("\n")[0])
        return func

    return deco


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from ..companion import pruning_at_init, pruning_gaps  # noqa: F401  (companion papers)
    from . import builtin  # noqa: F401  (built-ins register on import)

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except ImportError:  # the plugin's own dependencies (e.g. torch) are missing
            continue
        if callable(obj):
            obj()


def computations() -> dict[str, Computation]:
    """All registered computations (built-ins and plugins)."""
    _load_plugins()
    return dict(_REGISTRY)


def get_computation(name: str) -> Computation:
    """The computation registered as ``name`` (clear error otherwise)."""
    _load_plugins()
    if name not in _REGISTRY:
        raise ValueError(f"The 'computation' of a sweep must be one of "
                         f"{', '.join(sorted(_REGISTRY))}. Got {name!r}.")
    return _REGISTRY[name]
