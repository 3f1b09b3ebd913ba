"""The installed distribution's version (``pyproject.toml`` is the one place it is written)."""

from __future__ import annotations

import functools


@functools.cache
def package_version() -> str:
    """``statmech.__version__``: the version of the installed ``statmech-pruning``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("statmech-pruning")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
        return "0+unknown"
