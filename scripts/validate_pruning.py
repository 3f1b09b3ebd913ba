"""Validate the pruning theory on trained students and judge the seed paper's claims.

Configurations: the seed paper's (N = 500, M = 2, K = 6, v* = 4, η = 0.5, α = 1600, both layers
trained) and K = 20, M = 5, each with σ = 0 and 0.25. For every method at the matched levels
1:83 … 5:417 (K = 6) and 1:25 … 5:125 (K = 20): theory vs Monte Carlo per student, then the
claims table. Usage::

    python scripts/validate_pruning.py [--students 8] [--masks 50] [--simulation full]
                                       [--renormalise] [--reference-variants]
                                       [--output-dir DIR (default statmech-output/validation)]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from statmech.paths import output_dir
from statmech.pruning.validation import (
    REFERENCE_VARIANTS,
    ValidationConfig,
    claims_table,
    run_validation,
    summary_table,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=8)
    ap.add_argument("--masks", type=int, default=50)
    ap.add_argument("--simulation", choices=("full", "reduced"), default="full")
    ap.add_argument("--renormalise", action="store_true",
                    help="rescale student rows to |w| = sqrt(N) before pruning (as the "
                    "reference code; docs/seed_paper.md §4.1)")
    ap.add_argument("--reference-variants", action="store_true",
                    help="the reference implementation's variants: Bernoulli random edge and "
                         "signed-v magnitude node")
    ap.add_argument("--configs", nargs="+", default=["K6M2", "K20M5"])
    ap.add_argument("--output-dir", type=Path, default=output_dir("validation"))
    a = ap.parse_args()
    shapes = {"K6M2": (6, 2), "K20M5": (20, 5)}
    configs = [ValidationConfig(K=shapes[c][0], M=shapes[c][1], noise=s, students=a.students,
                                n_masks=a.masks, simulation_method=a.simulation,
                                renormalise=a.renormalise,
                                variants=REFERENCE_VARIANTS if a.reference_variants else {})
               for c in a.configs for s in (0.0, 0.25)]
    t = time.perf_counter()
    df = run_validation(configs)
    summary = summary_table(df)
    claims = claims_table(df)
    a.output_dir.mkdir(parents=True, exist_ok=True)
    df.to_csv(a.output_dir / "validation.csv", index=False)
    summary.to_csv(a.output_dir / "summary.csv", index=False)
    claims.to_csv(a.output_dir / "claims.csv", index=False)
    with pd.option_context("display.width", 220, "display.max_rows", 1000):
        print(summary.round(4).to_string(index=False))
        print()
        print(claims.round(4).to_string(index=False))
    print(f"\n{len(df)} rows in {time.perf_counter() - t:.0f} s; tables in {a.output_dir}")


if __name__ == "__main__":
    main()
