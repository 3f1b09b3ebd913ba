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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import get_computation

__all__ = ["Sweep", "load_sweep"]


@dataclass(frozen=True)
class Sweep:
    """A sweep over a registered computation (module docstring)."""

    computation: str
    params: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    zip: dict = field(default_factory=dict)
    name: str = "sweep"

    @classmethod
    def from_dict(cls, spec: dict) -> Sweep:
        """Build (and validate) a sweep from a dict with the TOML file's keys."""
        if not isinstance(spec, dict) or "computation" not in spec:
            raise ValueError("A sweep needs a 'computation' key naming a registered "
                             "computation.")
        extra = sorted(set(spec) - {"computation", "params", "grid", "zip", "name"})
        if extra:
            raise ValueError(f"Unknown sweep key(s) {extra}; allowed: computation, params, "
                             f"grid, zip, name.")
        sweep = cls(computation=spec["computation"], params=dict(spec.get("params", {})),
                    grid=dict(spec.get("grid", {})), zip=dict(spec.get("zip", {})),
                    name=str(spec.get("name", "sweep")))
        sweep.points()  # validates
        return sweep

    def points(self) -> list[dict]:
        """Every point's full configuration, in a fixed order."""
        comp = get_computation(self.computation)
        for part, values in (("grid", self.grid), ("zip", self.zip)):
            for key, vals in values.items():
                if not isinstance(vals, list) or not vals:
                    raise ValueError(f"Sweep {part} entry {key!r} must be a non-empty list. "
                                     f"Got {vals!r}.")
        lengths = {len(v) for v in self.zip.values()}
        if len(lengths) > 1:
            raise ValueError(f"Sweep 'zip' lists must have equal lengths. Got "
                             f"{ {k: len(v) for k, v in self.zip.items()} }.")
        overlap = (set(self.params) & set(self.grid)) | (set(self.params) & set(self.zip)) | (
            set(self.grid) & set(self.zip))
        if overlap:
            raise ValueError(f"Sweep parameter(s) {sorted(overlap)} appear in more than one of "
                             f"params, grid and zip.")
        zipped = list(zip(*self.zip.values(), strict=True)) if self.zip else [()]
        out = []
        for combo in itertools.product(*self.grid.values()):
            for z in zipped:
                cfg = {**self.params, **dict(zip(self.grid, combo, strict=True)),
                       **dict(zip(self.zip, z, strict=True))}
                out.append(comp.full_config(cfg))
        return out

    def varied(self) -> list[str]:
        """The parameters that vary across points."""
        return list(self.grid) + list(self.zip)


def load_sweep(source: str | Path | dict) -> Sweep:
    """A :class:`Sweep` from a TOML file path or a dict."""
    if isinstance(source, dict):
        return Sweep.from_dict(source)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"Sweep file {str(path)!r} does not exist.")
    try:
        spec: Any = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"Sweep file {str(path)!r} is not valid TOML: {exc}") from None
    spec.setdefault("name", path.stem)
    return Sweep.from_dict(spec)
