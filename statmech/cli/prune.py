"""``statmech prune``: prune trained students with every method; theory against Monte Carlo.

Train students (the seed paper's configuration by default), prune them with every method at the
matched node/edge levels, compare theory with Monte Carlo and judge the paper's claims.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._validation import Integer, Options, Real
from ..paths import output_dir
from .errors import check_flags
from .options import real

__all__ = ["add_parser", "run", "check", "prune_digest", "CONSTRAINTS", "ALIASES"]

#: Flags checked right after parsing, before any work (statmech.cli.app.FLAG_CONSTRAINTS).
CONSTRAINTS = {"N": [Integer(1)], "K": [Integer(1)], "M": [Integer(1)],
               "eta": [Real(0.0, closed="neither")], "alpha": [Real(0.0, closed="neither")],
               "noise": [Real(0.0)], "students": [Integer(1)], "masks": [Integer(1)],
               "seed": [Integer(0)]}

#: Library parameter → flag ``dest``, where they differ (statmech.cli.app.FLAG_ALIASES).
ALIASES = {"ensemble": "students", "n_masks": "masks", "simulation_method": "simulation",
           "method": "methods"}


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``statmech prune`` to the sub-commands ``sub``."""
    from ..pruning.validation import DEFAULT_METHODS

    pr = sub.add_parser(
        "prune",
        help="prune trained students with every method; theory vs Monte Carlo; paper claims",
        description=(
            "Train teacher-student pairs by online SGD (statmech.simulate), prune every student "
            "with every method at the matched node/edge levels (k units vs ceil((k(N+1)-K)/K) "
            "edges per unit), and compare the theory (statmech.prune_theory) with Monte Carlo "
            "over explicit masks (analytic ε_g of each pruned network). Writes validation.csv "
            "(one row per student, method and level), summary.csv and claims.csv (the seed "
            "paper's claims judged by a 2-standard-error rule) into the output directory and "
            "prints a few lines of verdicts (--print-table: the whole tables)."
        ),
    )
    g = pr.add_argument_group("teacher-student configuration (default: the seed paper's)")
    g.add_argument("--N", type=int, default=500, help="input dimension")
    g.add_argument("--K", type=int, default=6, help="student hidden units")
    g.add_argument("--M", type=int, default=2, help="teacher hidden units")
    g.add_argument("--v-star", type=real, default=4.0, help="teacher second-layer weight")
    g.add_argument("--eta", type=real, default=0.5, help="learning rate (both layers)")
    g.add_argument("--alpha", type=real, default=1600.0, help="training time α = steps/N")
    g.add_argument("--noise", type=real, nargs="+", default=[0.0, 0.25],
                   help="output-noise std. dev(s). σ")
    g = pr.add_argument_group("pruning and statistics")
    g.add_argument("--students", type=int, default=4, help="trained students per noise level")
    g.add_argument("--masks", type=int, default=20, help="masks per student, method and level")
    g.add_argument("--levels", type=int, nargs="+", default=[1, 2, 3, 4, 5],
                   help="units kept k (edge methods: the matched edges per unit)")
    g.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                   help="pruning methods")
    g.add_argument("--simulation", choices=("full", "reduced"), default="reduced",
                   help="train explicit networks, or the exact reduced chain + Haar weights")
    g.add_argument("--renormalise", action="store_true",
                   help="rescale every student row to |w| = sqrt(N) before pruning (the "
                        "reference implementation's post-February step)")
    g.add_argument("--reference-variants", action="store_true",
                   help="the reference implementation's variants (Bernoulli random edge, "
                        "signed-v magnitude node)")
    g.add_argument("--seed", type=int, default=0, help="root random seed")
    g.add_argument("--output-dir", type=Path, default=output_dir("prune"),
                   help="directory for validation.csv, summary.csv and claims.csv")
    g.add_argument("--print-table", action="store_true",
                   help="print the whole summary and claims tables (default: a few lines of "
                        "verdicts and the paths of the tables)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    pr.set_defaults(func=run)
    return pr


def check(args: argparse.Namespace) -> None:
    """The checks that depend on other flags: levels within 1..K, known methods."""
    from ..pruning import PRUNING_METHODS

    check_flags(args, {"levels": [Integer(1, args.K)],
                       "methods": [Options(sorted(PRUNING_METHODS))]}, "statmech prune")


def run(args: argparse.Namespace) -> int:
    """Run ``statmech prune``: validation, summary and claims tables."""
    import pandas as pd

    from ..pruning.validation import (
        REFERENCE_VARIANTS,
        ValidationConfig,
        claims_table,
        run_validation,
        summary_table,
    )

    configs = [ValidationConfig(N=args.N, K=args.K, M=args.M, v_star=args.v_star, eta=args.eta,
                                alpha=args.alpha, noise=s, students=args.students,
                                n_masks=args.masks, levels=tuple(args.levels),
                                methods=tuple(args.methods), simulation_method=args.simulation,
                                renormalise=args.renormalise, seed=args.seed,
                                variants=REFERENCE_VARIANTS if args.reference_variants else {})
               for s in args.noise]
    df = run_validation(configs, progress=False if args.quiet else None)
    summary = summary_table(df)
    claims = claims_table(df)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "validation.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    claims.to_csv(out / "claims.csv", index=False)
    if args.print_table:
        with pd.option_context("display.width", 200, "display.max_rows", None):
            print(summary.round(4).to_string(index=False))
            print()
            print(claims.round(4).to_string(index=False))
    else:
        print(prune_digest(summary, claims))
    for name in ("validation.csv", "summary.csv", "claims.csv"):
        print(f"wrote {out / name}")
    return 0


def prune_digest(summary, claims) -> str:
    """A few lines for the terminal: per claim, how many (noise, level) cases support,
    contradict or leave it open, and the largest |z| of Monte Carlo against finite-N theory."""
    lines = [f"{len(summary)} summary rows, {len(claims)} claim checks (whole tables: "
             "--print-table, or the CSV files below)"]
    if "z_mc" in summary.columns and summary["z_mc"].notna().any():
        z = summary["z_mc"].abs()
        worst = summary.loc[z.idxmax()]
        lines.append(f"Monte Carlo vs finite-N theory: max |z| = {z.max():.2f} "
                     f"({worst['method']}, level {worst['level']}, noise {worst['noise']:g})")
    verdicts = ("supported", "contradicted", "inconclusive")
    if claims.empty or "claim" not in claims.columns:
        return "\n".join(lines)
    for claim, part in claims.groupby("claim", sort=False):
        counts = part["verdict"].value_counts()
        tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in verdicts)
        lines.append(f"  {claim}: {tally}")
    return "\n".join(lines)
