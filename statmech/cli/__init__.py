"""The ``statmech`` command line: one module per command, dispatched by ``set_defaults(func=...)``.

``main`` builds the parser (:func:`build_parser`) and runs the chosen command's ``run``
function inside :func:`statmech.cli.errors.run_reporting` (one-line errors, plain progress
lines when stderr is not a terminal). Plotting lives in :mod:`statmech.plotting`.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
