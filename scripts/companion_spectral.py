"""Paper C (Suzuki et al., spectral pruning, arXiv 1808.08558; ``docs/companion_papers.md`` §3.5):
node pruning without retraining on digits and MNIST-1D.

For every dataset and seed a one-hidden-layer ReLU MLP [d, 256, 10] is trained with Adam (30
epochs by default); its hidden layer is then cut to 8, 16 and 32 units by spectral pruning
(θ = 0 and θ = 1, uniform τ = 10⁻³ Tr Σ̂/m; optionally the leverage-score ridge), random J with
the reconstruction Â_J, and random, magnitude and DPP node pruning (no reconstruction, removed
units' mean activations folded into the next bias), and the test error is recorded. Printed:

* the hidden layer's covariance spectrum (mean over seeds): fraction of the trace held by the
  leading eigenvalues, N̂(λ) for λ = 10⁻³ … 10 × Tr Σ̂/m, the numerical rank, and the fitted decay
  exponent α of μ_j ≈ c j^−α (j = 2 … 64; :func:`statmech.companion.spectral.eigen_decay_rate`);
* the time of the greedy spectral selection + reconstruction at each width (rank-one updates);
* test error mean ± s.d. over seeds per method and width.

    python scripts/companion_spectral.py --seeds 0 1 2 --out results/companion_spectral
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from empirical.data import load_digits, load_mnist1d
from empirical.pruning import layer_statistics
from empirical.spectral import COMPARE_METHODS, compare_node_methods, spectral_prune_mlp
from statmech.companion.spectral import eigen_decay_rate, spectrum, spectrum_summary

LEADING = (1, 2, 4, 8, 16, 32)
REL_LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["digits", "mnist1d"],
                    choices=["digits", "mnist1d"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--widths", nargs="+", type=int, default=[8, 16, 32])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--leverage", action="store_true",
                    help="also run spectral pruning with the leverage-score ridge")
    ap.add_argument("--out", type=Path, default=None, help="directory for CSV/JSON outputs")
    args = ap.parse_args(argv)
    methods = COMPARE_METHODS + (("spectral_leverage",) if args.leverage else ())
    pd.set_option("display.width", 160)
    summaries, raws, spectra = [], [], {}
    for name in args.datasets:
        t0 = time.perf_counter()
        ds = load_digits(seed=0) if name == "digits" else load_mnist1d()
        specs: list[dict] = []
        timings: list[dict] = []

        def record(seed: int, net, data, specs=specs, timings=timings) -> None:
            S = layer_statistics(net, 0, data.X_train)["act_cov"]
            mu = spectrum(S)
            summ = spectrum_summary(mu, LEADING, REL_LAMBDAS)
            fit = eigen_decay_rate(mu, j_min=2, j_max=min(64, int(np.count_nonzero(mu))))
            specs.append({"seed": seed, "rank": summ["rank"],
                          **{f"frac_top{k}": v for k, v in summ["trace_fraction"].items()},
                          **{f"dof_{r:g}": v for r, v in summ["dof"].items()},
                          "alpha": fit.alpha, "r2": fit.r2, "power_law": fit.power_law})
            for k in args.widths:
                t = time.perf_counter()
                spectral_prune_mlp(net, data.X_train, widths=k, theta=1.0)
                timings.append({"seed": seed, "width": k, "seconds": time.perf_counter() - t})

        summary, raw = compare_node_methods(ds, hidden=args.hidden, widths=args.widths,
                                            seeds=args.seeds, methods=methods,
                                            epochs=args.epochs, return_raw=True,
                                            on_trained=record)
        summaries.append(summary)
        raws.append(raw)
        sp = pd.DataFrame(specs)
        spectra[name] = sp
        tm = pd.DataFrame(timings).groupby("width")["seconds"].mean()
        print(f"\n=== {name}: n_train = {len(ds.y_train)}, n_test = {len(ds.y_test)}, "
              f"MLP [{ds.n_features}, {args.hidden}, {ds.n_classes}], {args.epochs} epochs Adam, "
              f"seeds {args.seeds} ({time.perf_counter() - t0:.0f} s)")
        print("\nhidden-layer spectrum (mean over seeds; Tr fraction of the top-k eigenvalues, "
              "N̂(λ) at λ = r·Tr/m):")
        cols = [c for c in sp.columns if c != "seed"]
        print(sp[cols].mean(numeric_only=True).to_frame("mean").T.round(3).to_string(index=False))
        print("\nspectral selection + reconstruction time (θ = 1, mean s): "
              + ", ".join(f"k={k}: {v:.3f}" for k, v in tm.items()))
        table = summary.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in
                                     zip(summary.error_mean, summary.error_std, strict=True)])
        piv = table.pivot(index="method", columns="width", values="cell")
        order = [m for m in ("unpruned", *methods) if m in piv.index]
        print("\ntest error (mean ± s.d. over seeds), no retraining:")
        print(piv.loc[order].fillna("").to_string())
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        pd.concat(summaries).to_csv(args.out / "summary.csv", index=False)
        pd.concat(raws).to_csv(args.out / "raw.csv", index=False)
        pd.concat([s.assign(dataset=k) for k, s in spectra.items()]).to_csv(
            args.out / "spectra.csv", index=False)
        (args.out / "config.json").write_text(json.dumps(vars(args), default=str, indent=2))


if __name__ == "__main__":
    main()
