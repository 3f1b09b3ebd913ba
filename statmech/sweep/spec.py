"""Declarative sweeps: a TOML file or the same as a Python dict.

.. code-block:: toml

    name = "plateaus"
    computation = "fixed_points"

    [params]          # fixed for every point
    M = 2

    [grid]            # the Cartesian product of these lists
    K = [2, 3, 4]
    eta = [0.1, 0.3, 1.0]

    [zip]             # lists of equal length, varied together (times the grid)
    noise = [0.0, 0.25]
    v_star = [1.0, 4.0]

Each point's configuration is the computation's defaults updated by ``params`` and one
combination of ``grid`` × ``zip``.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validation import InstanceOf, InvalidParameterError, check, check_keys
from .registry import ListOf, get_computation

__all__ = ["Sweep", "load_sweep", "SPEC_KEYS"]

#: The keys of a sweep (file or dict).
SPEC_KEYS = ("computation", "params", "grid", "zip", "name")

_TABLE = InstanceOf(dict, "a table (dict) of parameter values")
_LIST = ListOf((InstanceOf(object, "values"),), 1)


def _show(config: dict, names: list[str]) -> str:
    from .cache import canonical

    return ", ".join(f"{k}={canonical(config[k])}" for k in names) or "no varied parameter"


@dataclass(frozen=True)
class Sweep:
    """A sweep over a registered computation (module docstring)."""

    computation: str
    params: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    zip: dict = field(default_factory=dict)
    name: str = "sweep"

    @property
    def label(self) -> str:
        """How error messages name the sweep (``sweep 'plateaus'``)."""
        return f"sweep {self.name!r}"

    @classmethod
    def from_dict(cls, spec: dict) -> Sweep:
        """Build (and validate, every point) a sweep from a dict with the TOML file's keys."""
        check(spec, "sweep", "load_sweep", [_TABLE])
        name = spec.get("name", "sweep")
        check(name, "name", "sweep", [InstanceOf(str, "a str")])
        check_keys(spec, SPEC_KEYS, "sweep key(s)", f"sweep {name!r}")
        if "computation" not in spec:
            raise InvalidParameterError(
                f"A sweep needs a 'computation' key naming a registered computation "
                f"(sweep {name!r}).", func=f"sweep {name!r}", param="computation")
        for part in ("params", "grid", "zip"):
            check(spec.get(part, {}), part, f"sweep {name!r}", [_TABLE])
        sweep = cls(computation=spec["computation"], params=dict(spec.get("params", {})),
                    grid=dict(spec.get("grid", {})), zip=dict(spec.get("zip", {})), name=name)
        sweep.points()  # validates every point
        return sweep

    def points(self) -> list[dict]:
        """Every point's full configuration, in a fixed order.

        The spec is checked first (tables, non-empty lists, equal ``zip`` lengths, no
        parameter twice), then every point against the computation's declared constraints
        (:meth:`statmech.sweep.registry.Computation.check_config`), all before any point runs.
        Errors are :class:`~statmech._validation.InvalidParameterError` naming the sweep
        parameter and, for a value, the point.
        """
        check(self.name, "name", "sweep", [InstanceOf(str, "a str")])
        comp = get_computation(self.computation)
        for part, values in (("params", self.params), ("grid", self.grid), ("zip", self.zip)):
            check(values, part, self.label, [_TABLE])
        for part, values in (("grid", self.grid), ("zip", self.zip)):
            for key, vals in values.items():
                check(vals, key, f"{self.label} [{part}]", [_LIST])
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise InvalidParameterError(
                f"Sweep 'zip' lists must have equal lengths. Got "
                f"{ {k: len(v) for k, v in self.zip.items()} } ({self.label}).",
                func=self.label, param=next(iter(self.zip)))
        overlap = (set(self.params) & set(self.grid)) | (set(self.params) & set(self.zip)) | (
            set(self.grid) & set(self.zip))
        if overlap:
            raise InvalidParameterError(
                f"Sweep parameter(s) {sorted(overlap)} appear in more than one of params, grid "
                f"and zip ({self.label}).", func=self.label, param=sorted(overlap)[0])
        comp.full_config({**self.params, **self.grid, **self.zip})  # unknown names, once
        zipped = list(zip(*self.zip.values(), strict=True)) if self.zip else [()]
        combos = [{**self.params, **dict(zip(self.grid, combo, strict=True)),
                   **dict(zip(self.zip, z, strict=True))}
                  for combo in itertools.product(*self.grid.values()) for z in zipped]
        out = []
        varied = self.varied()
        for i, cfg in enumerate(combos):
            try:
                out.append(comp.check_config(cfg))
            except InvalidParameterError as err:
                raise InvalidParameterError(
                    f"{self.label}, point {i + 1} of {len(combos)} ({_show(cfg, varied)}): "
                    f"{err}", func=err.func, param=err.param, allowed=err.allowed,
                    value=err.value) from None
        return out

    def varied(self) -> list[str]:
        """The parameters that vary across points."""
        return list(self.grid) + list(self.zip)


def load_sweep(source: str | Path | dict) -> Sweep:
    """A :class:`Sweep` from a TOML file path or a dict (validated: :meth:`Sweep.points`)."""
    if isinstance(source, dict):
        return Sweep.from_dict(source)
    check(source, "source", "load_sweep",
          [InstanceOf((str, os.PathLike), "a path to a sweep (TOML) file or a dict")])
    path = Path(source)
    if not path.is_file():
        raise InvalidParameterError.build(
            "load_sweep", "source", "an existing sweep (TOML) file", str(path),
            "It is a directory." if path.is_dir() else "It does not exist.")
    try:
        spec: Any = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameterError(f"Sweep file {str(path)!r} is not valid TOML: {exc}",
                                    func="load_sweep", param="source") from None
    except UnicodeDecodeError:
        raise InvalidParameterError(f"Sweep file {str(path)!r} is not text (TOML).",
                                    func="load_sweep", param="source") from None
    spec.setdefault("name", path.stem)
    return Sweep.from_dict(spec)
