"""What the commands write besides their tables: config.json, and figures without a window."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .._version import package_version

__all__ = ["write_config", "headless"]


def write_config(args: argparse.Namespace, out: Path, M: int) -> Path:
    """config.json: every option of the run, M resolved, and the toolkit version."""
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k != "func"}
    config.update(M=M, statmech_version=package_version())
    path = out / "config.json"
    path.write_text(json.dumps(config, indent=2, default=str) + "\n")
    return path


def headless() -> None:
    """Draw without a display: the Agg backend (the command line is an entry point; library
    code never switches the backend)."""
    import matplotlib

    matplotlib.use("Agg")
