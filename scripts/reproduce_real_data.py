"""The seed paper's real-data setups (arXiv 2006.16617; ``docs/seed_paper.md`` §3.3) on files
you provide: nothing is downloaded.

* MNIST: 784-500-500-10 sigmoid MLP, Xavier-uniform weights, zero biases, SGD lr 0.001 with
  momentum 0.9, batch 1000, up to 10 epochs stopping at 99 % training accuracy, inputs
  normalised with mean 0.1307 and std 0.3081 (``--mnist DIR`` with the four IDX files, gzipped
  or not).
* CIFAR-10: 3072-1000-1000-1000-10, the same, batch 128, stopping above 50 % training accuracy,
  inputs mapped to [−1, 1] per channel (``--cifar10 DIR`` with the python batches).

Only the first hidden layer is pruned, at 10 %…90 % of its incoming edges per unit
(e = ⌈pD⌉), node methods at the parameter-matched unit counts (or ``--node-levels fraction``:
k = ⌈pH⌉ units, as the May-2020 runs), with and without reweighting, no fine-tuning. DPP node
uses the RBF kernel on the activations with β = 10 per mean squared distance (the reference's
β = 10/60000 on distances summed over the 60 000 training images) and jitter 0.01.

The output directory gets ``real_data.csv``, ``real_data_summary.csv``, ``config.json`` and the
figure; the summary is printed beside the published accuracies of ``docs/seed_paper.md`` §3.4
where they exist. Those are the May-2020 runs (β = 0.3, DPP node not parameter-matched):
compare with care.

    python scripts/reproduce_real_data.py --mnist ~/data/mnist --seeds 0 1 2 3 4

A bad option, a missing or malformed data file or an unwritable output directory ends in one
line on stderr naming the option, and exit status 2 (checked before the data are loaded where
possible).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from empirical._checks import check_device, check_sequence
from empirical.cli import plot_real_data
from empirical.compare import real_data_table, summarise
from empirical.data import load_cifar10, load_idx
from empirical.pruning import METHOD_NAMES
from statmech._validation import Integer, Options, Real, check
from statmech.cli.errors import OneLineArgumentParser, check_output_path, run_script
from statmech.paths import output_dir
from statmech.pruning import PRUNING_METHODS, method_names

#: Published test accuracies (%) of the seed paper's committed May-2020 runs, rows 10 %…90 %
#: (``docs/seed_paper.md`` §3.4; DPP node there keeps k = ⌈pH⌉ units, not matched).
PUBLISHED = {
    "mnist": {
        ("dpp_edge", False): [36.34, 58.03, 80.27, 89.90, 93.68, 94.98, 95.67, 96.02, 96.23],
        ("random_edge", False): [31.71, 42.26, 59.07, 78.69, 89.14, 93.12, 94.80, 95.62, 96.06],
        ("dpp_node", False): [23.74, 36.00, 45.02, 54.89, 73.06, 87.08, 92.81, 95.37, 96.02],
        ("random_edge", True): [92.67, 95.19, 95.79, 96.01, 96.19, 96.25, 96.28, 96.31, 96.32],
        ("dpp_node", True): [92.75, 95.00, 95.38, 95.70, 95.84, 96.02, 96.15, 96.25, 96.26],
        "unpruned": 96.33,
    },
    "cifar10": {
        ("random_edge", False): [19.32, 25.83, 34.13, 39.71, 42.23, 44.74, 45.88, 46.66, 46.97],
        ("dpp_node", False): [15.75, 21.68, 27.78, 34.67, 38.90, 42.06, 44.53, 45.82, 46.78],
        ("dpp_edge", False): [24.52, 33.90, 41.60, 44.26, 46.21, 46.63, 46.71, 46.92, 47.01],
        "unpruned": 47.32,
    },
}

SETUPS = {
    "mnist": {"hidden": (500, 500), "batch_size": 1000, "stop": 0.99, "epochs": 10},
    "cifar10": {"hidden": (1000, 1000, 1000), "batch_size": 128, "stop": 0.5, "epochs": 10},
}
#: The seed paper's six real-data methods: the registry's gallery methods except those that
#: reconstruct the next layer themselves (spectral node, companion C's).
METHODS = tuple(m for m in method_names(gallery=True) if not PRUNING_METHODS[m].reconstructs)


def build_parser() -> argparse.ArgumentParser:
    """The options of this script (errors are one line, exit status 2)."""
    p = OneLineArgumentParser(prog="reproduce_real_data.py", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--mnist", type=Path, help="directory with the MNIST IDX files")
    src.add_argument("--cifar10", type=Path, help="directory with the CIFAR-10 python batches")
    p.add_argument("--seeds", type=_number, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--fractions", type=float, nargs="+",
                   default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    p.add_argument("--node-levels", choices=["matched", "fraction"], default="matched")
    p.add_argument("--hidden", type=_number, nargs="+", default=None,
                   help="override the hidden widths (for quick checks)")
    p.add_argument("--epochs", type=_number, default=None, help="override the epoch limit")
    p.add_argument("--beta", type=float, default=10.0, help="DPP-node RBF β (default 10)")
    p.add_argument("--device", default=None)
    p.add_argument("--output-dir", type=Path, default=output_dir("empirical", "reproduce"))
    return p


def _number(text: str) -> int | float:
    """An int-valued option, read leniently so that the declared constraint words the error."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _preflight(args: argparse.Namespace) -> None:
    """Every option checked before the data are loaded."""
    func = "reproduce_real_data"
    check_sequence(args.seeds, "seeds", func, [Integer(0)])
    check_sequence(args.methods, "methods", func, [Options(METHOD_NAMES)])
    check_sequence(args.fractions, "fractions", func, [Real(0.0, 1.0, "right")])
    if args.hidden is not None:
        check_sequence(args.hidden, "hidden", func, [Integer(1)])
    check(args.epochs, "epochs", func, [None, Integer(1)])
    check(args.beta, "beta", func, [Real(0.0, closed="neither")])
    check_device(args.device, func)
    check_output_path(args.output_dir, "output_dir", func, directory=True)


def main(argv: list[str] | None = None) -> int:
    def run(args: argparse.Namespace) -> int:
        _preflight(args)
        return _run(args)

    return run_script(build_parser(), run, argv,
                      aliases=lambda a: {"directory": "mnist" if a.mnist else "cifar10"})


def _run(args: argparse.Namespace) -> int:
    name = "mnist" if args.mnist else "cifar10"
    data = load_idx(args.mnist) if args.mnist else load_cifar10(args.cifar10)
    setup = SETUPS[name]
    t0 = time.perf_counter()
    table = real_data_table(
        data, hidden=tuple(args.hidden or setup["hidden"]), activation="sigmoid", init="xavier",
        seeds=tuple(args.seeds), methods=tuple(args.methods), fractions=tuple(args.fractions),
        epochs=args.epochs or setup["epochs"], batch_size=setup["batch_size"], optimizer="sgd",
        lr=1e-3, train_options={"momentum": 0.9, "stop_at_train_accuracy": setup["stop"]},
        kernel="rbf", beta=args.beta, jitter=0.01, double=False, node_levels=args.node_levels,
        device=args.device)
    out = args.output_dir / name
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "real_data.csv", index=False)
    summary = summarise(table)
    summary.to_csv(out / "real_data_summary.csv", index=False)
    config = {**table.attrs["config"], "seconds": round(time.perf_counter() - t0, 1)}
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    plot_real_data(table, out)
    pub = PUBLISHED[name]
    base = 100 * (1 - table[table.method == "unpruned"].test_error)
    print(f"unpruned test accuracy: ours {base.mean():.2f} ± {base.std(ddof=1):.2f} %, "
          f"published {pub['unpruned']:.2f} %")
    print(f"{'method':>16} {'rwt':>4} {'p':>4} {'ours (acc %)':>16} {'published':>10}")
    for (method, rw, frac), row in summary.set_index(["method", "reweight", "fraction"]).iterrows():
        if method == "unpruned":
            continue
        acc = 100 * (1 - row.test_error_mean)
        sd = 100 * row.test_error_std if np.isfinite(row.test_error_std) else float("nan")
        ref = pub.get((method, bool(rw)))
        i = int(round(frac * 10)) - 1
        ref_s = f"{ref[i]:.2f}" if ref is not None and 0 <= i < 9 else "-"
        print(f"{method:>16} {'yes' if rw else 'no':>4} {frac:4.1f} {acc:9.2f} ± {sd:4.2f} "
              f"{ref_s:>10}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
