"""Where the toolkit writes: one output root, one default cache.

Every command writes under one root, ``statmech-output/`` in the working directory, or
``$STATMECH_OUTPUT`` when set:

==========================================  ========================================================
``<root>/figures/``                         ``statmech figures`` (the gallery)
``<root>/ode/``, ``simulate/``, ``prune/``  ``statmech ode``, ``simulate``, ``prune``
``<root>/sweeps/<name>/``                   ``statmech sweep``
``<root>/empirical/<command>/``             ``empirical compare``, ``train`` (``model.pt``), ...
``<root>/<script>/``                        ``scripts/validate_pruning.py`` (``validation``), ...
``<root>/cache/``                           the sweep cache (``$STATMECH_CACHE`` overrides it alone)
==========================================  ========================================================

A command's ``--output-dir`` (or ``--cache``) overrides its own place. The environment is read
when a path is asked for, never stored, so threads and tests that set it do not interfere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["OUTPUT_ENV", "CACHE_ENV", "DEFAULT_OUTPUT_ROOT", "output_root", "output_dir",
           "default_cache_dir"]

#: Environment variable overriding the output root.
OUTPUT_ENV = "STATMECH_OUTPUT"
#: Environment variable overriding the sweep cache's directory.
CACHE_ENV = "STATMECH_CACHE"
#: The output root when ``$STATMECH_OUTPUT`` is not set (relative to the working directory).
DEFAULT_OUTPUT_ROOT = Path("statmech-output")


def output_root() -> Path:
    """The output root: ``$STATMECH_OUTPUT`` if set and not empty, else ``statmech-output``."""
    return Path(os.environ.get(OUTPUT_ENV) or DEFAULT_OUTPUT_ROOT)


def output_dir(*parts: str) -> Path:
    """A command's default output directory, ``output_root() / parts``."""
    return output_root().joinpath(*parts)


def default_cache_dir() -> Path:
    """The default sweep cache: ``$STATMECH_CACHE`` if set and not empty, else
    ``output_root() / "cache"``."""
    return Path(os.environ.get(CACHE_ENV) or output_root() / "cache")
