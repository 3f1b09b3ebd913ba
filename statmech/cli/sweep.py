"""The ``statmech figures``, ``statmech sweep`` and ``statmech cache`` commands
(:func:`add_parsers`; each dispatched by ``set_defaults(func=...)``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .._validation import Integer, Options
from ..paths import output_dir
from .errors import check_flags, check_output_dir

__all__ = ["add_parsers", "run_figures", "run_sweep_command", "run_cache"]


_CACHE_HELP = ("cache directory (default: $STATMECH_CACHE if set, else <output root>/cache; "
               "the output root is $STATMECH_OUTPUT if set, else statmech-output)")


def _executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", type=Path, default=None,
                   help=_CACHE_HELP)
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the number of CPUs)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None,
                       help="Dask scheduler address (tcp://host:8786), or 'local' for an "
                            "in-process Dask cluster; runs the points on Dask (an address "
                            "that does not answer within 5 s is an error)")
    where.add_argument("--serial", action="store_true", help="compute in this process")
    p.add_argument("--force", action="store_true", help="recompute cached points")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _check_executor_args(args: argparse.Namespace) -> None:
    from ..sweep.cache import check_cache_root

    if args.workers is not None:
        check_flags(args, {"workers": [Integer(1)]}, f"statmech {args.command}")
    if args.cache is not None:
        check_cache_root(args.cache, "cache", f"statmech {args.command}")


def _executor(args: argparse.Namespace) -> str:
    if args.scheduler is not None:
        return "dask"
    return "serial" if args.serial else "local"


def add_parsers(sub) -> None:
    """Add the three sub-commands to ``statmech``'s parser."""
    f = sub.add_parser(
        "figures", help="render the figure gallery (PNG + PDF) from cached sweeps",
        description="Render figures of the gallery from sweeps, computing only what the cache "
                    "lacks. With no names, every registered figure (--all).")
    f.add_argument("names", nargs="*", help="figure names (see --list)")
    f.add_argument("--all", action="store_true", help="every figure (the default)")
    q = f.add_mutually_exclusive_group()
    q.add_argument("--quick", dest="quality", action="store_const", const="quick",
                   help="students from the reduced chain, small ensembles (default)")
    q.add_argument("--full", dest="quality", action="store_const", const="full",
                   help="paper quality: full-N students, large ensembles, fine grids")
    f.set_defaults(quality="quick")
    f.add_argument("--list", action="store_true", help="list the figures and exit")
    f.add_argument("--redraw", action="store_true",
                   help="draw every figure again, even those whose PNG and PDF are up to date "
                        "(same data, drawing code and matplotlib version)")
    f.add_argument("--output-dir", type=Path, default=output_dir("figures"),
                   help="where the PNG and PDF files go")
    _executor_args(f)
    f.set_defaults(func=run_figures)

    s = sub.add_parser(
        "sweep", help="run a declarative sweep (TOML) and write its table",
        description="Run a sweep file (see statmech.sweep.spec) through the cache and write "
                    "results.csv and results.parquet (one long-format labelled table).")
    s.add_argument("file", type=Path, help="the sweep's TOML file")
    s.add_argument("--output-dir", type=Path, default=None,
                   help="directory for results.csv and results.parquet "
                        "(default: <output root>/sweeps/<sweep name>)")
    _executor_args(s)
    s.set_defaults(func=run_sweep_command)

    c = sub.add_parser("cache", help="list or clean the sweep cache")
    c.add_argument("action", choices=["list", "clean"],
                   help="list the cached points per computation, or remove them")
    c.add_argument("--cache", type=Path, default=None,
                   help=_CACHE_HELP)
    c.add_argument("--computation", default=None,
                   help="only this computation's points (default: every computation)")
    c.add_argument("--stale", action="store_true",
                   help="clean only points written by another toolkit version")
    c.set_defaults(func=run_cache)


def run_figures(args: argparse.Namespace) -> int:
    """``statmech figures``."""
    from ..figures import GalleryError, figures, render

    registry = figures()
    if args.list:
        for name, fig in registry.items():
            print(f"{name:28s} {fig.description}")
        return 0
    check_flags(args, {"names": [Options(tuple(registry))]}, "statmech figures")
    _check_executor_args(args)
    t0 = time.perf_counter()
    try:
        render(args.names or None, quality=args.quality, output=args.output_dir,
               cache=args.cache, executor=_executor(args), workers=args.workers,
               scheduler=args.scheduler, force=args.force,
               progress=False if args.quiet else None, redraw=args.redraw)
    except GalleryError as err:  # the others were written; summarise and exit non-zero
        print(f"gallery ({args.quality}): {len(err.rendered)} figure(s) written to "
              f"{args.output_dir} in {time.perf_counter() - t0:.0f} s", flush=True)
        print(f"statmech figures: error: {err}", file=sys.stderr)
        return 1
    print(f"gallery ({args.quality}) written to {args.output_dir} in "
          f"{time.perf_counter() - t0:.0f} s")
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    """``statmech sweep``."""
    from ..sweep import load_sweep, run_sweep

    _check_executor_args(args)
    sweep = load_sweep(args.file)  # every point validated
    out = args.output_dir or output_dir("sweeps", sweep.name)
    check_output_dir(out, "output_dir", "statmech sweep")
    table = run_sweep(sweep, cache=args.cache, executor=_executor(args), workers=args.workers,
                      scheduler=args.scheduler, force=args.force,
                      progress=False if args.quiet else None)
    out.mkdir(parents=True, exist_ok=True)
    computed = table.attrs.get("computed", 0)
    table.attrs = {}
    table.to_csv(out / "results.csv", index=False)
    table.to_parquet(out / "results.parquet", index=False)
    print(f"{len(sweep.points())} points ({computed} computed), "
          f"{len(table)} rows -> {out}/results.csv, results.parquet")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    """``statmech cache list | clean``."""
    from .._version import package_version
    from ..sweep import Cache

    cache = Cache(args.cache)  # a file given as --cache is refused here
    if args.action == "list":
        e = cache.entries()
        if args.computation:
            e = e[e.computation == args.computation]
        if e.empty:
            print(f"no cached points in {cache.root}")
            return 0
        summary = e.groupby("computation").agg(points=("key", "size"),
                                               rows=("rows", "sum"),
                                               seconds=("seconds", "sum"))
        print(summary.to_string())
        print(f"{len(e)} points in {cache.root}")
        return 0
    n = cache.clean(args.computation, package_version() if args.stale else None)
    print(f"removed {n} cached points from {cache.root}")
    return 0
