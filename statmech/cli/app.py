"""Command-line interface: ``statmech <command> [options]``, one module per command.

Commands
--------
``statmech ode`` (:mod:`statmech.cli.ode`)
    Integrate the order-parameter ODEs for one configuration (or several learning rates) and
    write a table, the configuration and a figure of ε_g(α).
``statmech simulate`` (:mod:`statmech.cli.simulate`)
    Simulate an ensemble of teacher–student pairs trained by online SGD and compare it with
    the ODE from each member's own start.
``statmech prune`` (:mod:`statmech.cli.prune`)
    Prune trained students with every method, compare theory with Monte Carlo and judge the
    seed paper's claims.
``statmech figures``, ``statmech sweep``, ``statmech cache`` (:mod:`statmech.cli.sweep`)
    The figure gallery, declarative sweeps and their cache.

Each command module has ``add_parser(subparsers)`` and ``run(args) -> int``; the parser
dispatches by ``set_defaults(func=run)``. Figures are drawn by :mod:`statmech.plotting`.
"""

from __future__ import annotations

import argparse
import sys

from .._version import package_version
from . import ode, prune, simulate
from . import sweep as sweep_commands
from .errors import OneLineArgumentParser, check_flags, check_output_dir, run_reporting, subparser

__all__ = ["main", "build_parser", "FLAG_CONSTRAINTS", "FLAG_ALIASES"]

#: Flags checked (statmech._validation) right after parsing, before any work: those the
#: library would check only after work has started (or with another parameter name).
FLAG_CONSTRAINTS: dict[str, dict[str, list]] = {
    "ode": ode.CONSTRAINTS, "simulate": simulate.CONSTRAINTS, "prune": prune.CONSTRAINTS}

#: Library parameter → flag ``dest``, where they differ (per command).
FLAG_ALIASES: dict[str, dict[str, str]] = {
    "prune": prune.ALIASES,
    "simulate": simulate.ALIASES,
    "sweep": {"source": "file", "root": "cache"},
    "figures": {"root": "cache", "names": "names"},
    "cache": {"root": "cache"},
}

#: Checks of a command's flags that depend on other flags (after FLAG_CONSTRAINTS).
_CHECKS = {"prune": prune.check}

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``statmech`` command."""
    parser = OneLineArgumentParser(
        prog="statmech",
        description="Statistical-mechanics theory of teacher-student networks and their pruning.",
    )
    parser.add_argument("--version", action="version", version=f"statmech {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (ode, simulate, prune):
        command.add_parser(sub)
    sweep_commands.add_parsers(sub)
    return parser


def _check_command(args: argparse.Namespace) -> None:
    """Refuse bad flags of ``args.command`` before any work."""
    func = f"statmech {args.command}"
    check_flags(args, FLAG_CONSTRAINTS.get(args.command, {}), func)
    if args.command in _CHECKS:
        _CHECKS[args.command](args)
    if getattr(args, "output_dir", None) is not None:
        check_output_dir(args.output_dir, "output_dir", func)


def _dispatch(args: argparse.Namespace) -> int:
    _check_command(args)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``statmech`` console script.

    Bad input (a value outside what a flag accepts, a missing or unwritable path, an
    unreachable ``--scheduler``) is one line on stderr naming the flag, exit code 2, and no
    traceback (:mod:`statmech.cli.errors`); argparse's own errors exit 2 as well (SystemExit).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    sub = subparser(parser, args.command)
    code = run_reporting(lambda: _dispatch(args), sub, prog=sub.prog,
                         aliases=FLAG_ALIASES.get(args.command))
    return 0 if code is None else code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
