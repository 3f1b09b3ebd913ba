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
import marshal
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .._validation import (
    Boolean,
    Integer,
    InvalidParameterError,
    ListOf,
    Real,
    check,
    check_keys,
)

__all__ = ["Computation", "register_computation", "get_computation", "computations",
           "ENTRY_POINT_GROUP", "ListOf"]

ENTRY_POINT_GROUP = "statmech.computations"

_REGISTRY: dict[str, Computation] = {}
_PLUGINS_LOADED = False


def _inferred(value: object) -> list | None:
    """Constraints of an undeclared parameter, from its default's type (bool → a bool, int → an
    int, float → a finite real); None (no check) for any other default."""
    if isinstance(value, bool):
        return [Boolean()]
    if isinstance(value, int):
        return [Integer()]
    if isinstance(value, float):
        return [Real()]
    return None


def _code_fingerprint(code: types.CodeType) -> bytes:
    """A stable digest input for a code object (bytecode, constants, names, nested code):
    used when a function's source is not available (``python -c``, some notebooks)."""
    h = hashlib.sha256(code.co_qualname.encode() if hasattr(code, "co_qualname")
                       else code.co_name.encode())
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            h.update(_code_fingerprint(const))
        else:
            try:
                h.update(marshal.dumps(const))
            except ValueError:
                h.update(repr(const).encode())
    return h.digest()


def _function_source(func: Callable) -> str:
    """The function's own source, or (no source available) a fingerprint of its code object,
    or, lacking both, its qualified name."""
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        code = getattr(func, "__code__", None)
        if isinstance(code, types.CodeType):
            return "code:" + _code_fingerprint(code).hex()
        return getattr(func, "__qualname__", repr(func))


def in_main(func: Callable) -> bool:
    """Whether ``func`` is defined in the ``__main__`` module (a script, a notebook,
    ``python -c``) rather than in an importable module."""
    return getattr(func, "__module__", None) in ("__main__", "__mp_main__")


@dataclass(frozen=True)
class Computation:
    """A registered computation: ``func(config, seed)`` with ``defaults`` filled in first.

    ``constraints`` maps each parameter to its constraint list (:mod:`statmech._validation`);
    ``cross_check`` is an optional cross-parameter check ``cross_check(config, func_name)``
    raising
    :class:`~statmech._validation.InvalidParameterError`.
    """

    name: str
    func: Callable[[dict, int], Any]
    defaults: dict = field(default_factory=dict)
    description: str = ""
    constraints: dict = field(default_factory=dict)
    cross_check: Callable[[dict, str], None] | None = None

    @property
    def label(self) -> str:
        """How messages name the computation (``sweep computation 'integrate'``)."""
        return f"sweep computation {self.name!r}"

    @property
    def source_hash(self) -> str:
        """sha256 of the computation's source: its own module and the computational code it
        can call (every ``.py`` file of ``statmech`` and of the package defining it, except the
        presentation layer: figures, CLI, style, progress bars). Editing any of these
        invalidates cached points; restyling a figure does not.

        A computation defined in ``__main__`` (a script, a notebook, ``python -c``) hashes
        its own function's source (or, without source, its code object) and ``statmech``,
        never the files around the script. A computation in a plain module (not a package)
        hashes that module's file only.
        """
        return _source_hash(self.func)

    def full_config(self, config: dict) -> dict:
        """The defaults updated by ``config``; unknown keys are errors (not value checks:
        :meth:`check_config`)."""
        if "seed" in config:
            raise InvalidParameterError(
                "A sweep point's seed derives from its configuration; use a 'replicate' "
                "parameter for independent repetitions.", func=self.label, param="seed")
        check_keys(config, sorted(self.defaults), "parameter(s)", self.label)
        return {**self.defaults, **config}

    def check_config(self, config: dict) -> dict:
        """:meth:`full_config`, then every parameter checked against its constraints
        (declared, or inferred from the default's type) and the cross-parameter check.
        Raises :class:`~statmech._validation.InvalidParameterError` naming the parameter."""
        full = self.full_config(config)
        for name, value in full.items():
            cons = self.constraints.get(name)
            if cons is None:
                cons = _inferred(self.defaults[name])
            if cons is not None:
                check(value, name, self.label, cons)
        if self.cross_check is not None:
            self.cross_check(full, self.label)
        return full


#: Files and folders of a package left out of :attr:`Computation.source_hash`.
PRESENTATION = ("figures", "cli.py", "cli_sweep.py", "cli_errors.py", "style.py",
                "_progress.py")


@functools.cache
def _package_hash(name: str) -> str:
    """sha256 of the ``.py`` files of package ``name`` (but :data:`PRESENTATION`); of the
    module's own file if ``name`` is a plain module; "" if it cannot be imported or has no
    file (``__main__`` is never hashed this way: :func:`_source_hash`)."""
    import importlib

    if name in ("__main__", "__mp_main__"):
        return ""
    try:
        pkg = importlib.import_module(name)
    except ImportError:
        return ""
    file = getattr(pkg, "__file__", None)
    if not file:
        return ""
    h = hashlib.sha256()
    if not hasattr(pkg, "__path__"):  # a plain module: its file, not its folder's
        h.update(Path(file).read_bytes())
        return h.hexdigest()
    root = Path(file).parent
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in PRESENTATION:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _source_hash(func: Callable) -> str:
    module = inspect.getmodule(func)
    if in_main(func) or module is None:
        own = _function_source(func)
        top = "statmech"
    else:
        try:
            own = inspect.getsource(module)
        except (OSError, TypeError):
            own = _function_source(func)
        top = module.__name__.split(".")[0]
    parts = [own, _package_hash("statmech")]
    if top != "statmech":
        parts.append(_package_hash(top))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def register_computation(name: str, defaults: dict | None = None, description: str = "",
                         constraints: Mapping[str, Sequence] | None = None,
                         cross_check: Callable[[dict, str], None] | None = None
                         ) -> Callable:
    """Decorator: register ``func(config, seed) -> DataFrame`` under ``name``.

    ``defaults`` lists every parameter the computation accepts with its default value (a sweep
    may set only these). ``constraints`` maps parameters to constraint lists
    (:mod:`statmech._validation`, :class:`ListOf` included); every point of a sweep is checked
    against them before the first point runs. A parameter without declared constraints is
    held to the type of its default: a bool default takes bools, an int default ints (not
    2.9, not ``true``), a float default finite reals; other defaults are not checked.
    ``cross_check(config, func_name)`` is an optional cross-parameter check (e.g. levels <=
    K) raising :class:`~statmech._validation.InvalidParameterError`.
    """
    constraints = dict(constraints or {})
    unknown = set(constraints) - set(defaults or {})
    if unknown:  # a programming error in the declaration
        raise RuntimeError(f"register_computation({name!r}): constraints for parameters "
                           f"without defaults: {sorted(unknown)}")

    def deco(func: Callable) -> Callable:
        _REGISTRY[name] = Computation(name, func, dict(defaults or {}),
                                      description or (func.__doc__ or "").split("\n")[0],
                                      {k: list(v) for k, v in constraints.items()}, cross_check)
        return func

    return deco


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    # The built-ins (statmech.sweep.builtin) are registered by this package's __init__, which
    # imports them after this module: the registry itself imports nothing above it.
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
    if not isinstance(name, str) or name not in _REGISTRY:
        raise InvalidParameterError.build("sweep", "computation",
                                          "one of " + ", ".join(map(repr, sorted(_REGISTRY))),
                                          name)
    return _REGISTRY[name]
