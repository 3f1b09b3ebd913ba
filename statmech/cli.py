"""Command-line interface: ``statmech <command> [options]``.

Commands
--------
``statmech ode``
    Integrate the order-parameter ODEs for one configuration (or a sweep over several learning
    rates) and write a labelled table (CSV), the configuration (JSON) and a figure of ε_g(α)
    (PNG and PDF). Every option has a default, so ``statmech ode`` alone runs the documented
    default: K = M = 2 erf soft committee machine, η = 0.5, random Gaussian initial weights at
    N = 1000 (seed 0), α up to 1000.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .fixed_points import plateau_height
from .ode import METHODS, integrate
from .order_parameters import OrderParameters

__all__ = ["main", "build_parser"]


def _activation(text: str) -> str | tuple[str, str]:
    parts = text.split(":")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError("use NAME or STUDENT:TEACHER, e.g. erf or relu:erf")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``statmech`` command."""
    parser = argparse.ArgumentParser(
        prog="statmech",
        description="Statistical-mechanics theory of teacher-student networks and their pruning.",
    )
    parser.add_argument("--version", action="version", version=f"statmech {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    ode = sub.add_parser(
        "ode",
        help="integrate the online-SGD order-parameter ODEs and plot ε_g(α)",
        description=(
            "Integrate the online-SGD order-parameter ODEs (Saad & Solla 1995; Goldt et al. "
            "2019) from the order parameters of random Gaussian weights, and write "
            "ode.csv (long-format table: one row per learning rate and α), config.json and "
            "eg.png / eg.pdf (ε_g against α) into the output directory."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = ode.add_argument_group("model")
    g.add_argument("--K", type=int, default=2, help="student hidden units")
    g.add_argument("--M", type=int, default=None, help="teacher hidden units (default: K)")
    g.add_argument("--activation", type=_activation, default="erf",
                   help="erf, linear or relu; or STUDENT:TEACHER such as relu:erf")
    g.add_argument("--v-star", type=float, default=1.0,
                   help="teacher second-layer weight (all units)")
    g.add_argument("--v", type=float, default=1.0, help="initial student second-layer weight")
    g.add_argument("--train-second-layer", action="store_true",
                   help="train v too (otherwise the soft committee machine, v fixed)")
    g = ode.add_argument_group("learning")
    g.add_argument("--eta", type=float, nargs="+", default=[0.5],
                   help="learning rate(s); several values are integrated as one batch")
    g.add_argument("--eta-v", type=float, default=None,
                   help="second-layer learning rate (default: eta)")
    g.add_argument("--noise", type=float, default=0.0, help="output-noise std. dev. σ")
    g.add_argument("--weight-decay", type=float, default=0.0, help="weight decay κ")
    g.add_argument("--batch-size", type=int, default=1, help="mini-batch size B")
    g = ode.add_argument_group("initial state (order parameters of Gaussian weights)")
    g.add_argument("--N", type=int, default=1000, help="input dimension of the initial draw")
    g.add_argument("--init-scale", type=float, default=1.0, help="std. dev. of student weights")
    g.add_argument("--teacher-scale", type=float, default=1.0, help="std. dev. of teacher weights")
    g.add_argument("--seed", type=int, default=0, help="random seed of the initial draw")
    g = ode.add_argument_group("integration and output")
    g.add_argument("--alpha-max", type=float, default=1000.0, help="final time α = steps/N")
    g.add_argument("--n-alpha", type=int, default=200, help="number of output times")
    g.add_argument("--linear-alpha", action="store_true",
                   help="equally spaced output times on [0, alpha-max] (default: log-spaced "
                        "from alpha-max/1e4, plus α = 0)")
    g.add_argument("--method", choices=METHODS, default="DOP853", help="solve_ivp method")
    g.add_argument("--rtol", type=float, default=1e-8, help="relative tolerance")
    g.add_argument("--atol", type=float, default=1e-12, help="absolute tolerance")
    g.add_argument("--on-divergence", choices=("raise", "mask"), default="mask",
                   help="stop with an error, or mark diverged learning rates and go on")
    g.add_argument("--output-dir", type=Path, default=Path("statmech-output/ode"),
                   help="directory for ode.csv, config.json, eg.png and eg.pdf")
    g.add_argument("--no-plot", action="store_true", help="write the table only")
    return parser


def _alpha_grid(alpha_max: float, n: int, linear: bool) -> np.ndarray:
    if linear:
        return np.linspace(0.0, alpha_max, n)
    return np.concatenate([[0.0], np.geomspace(alpha_max * 1e-4, alpha_max, n - 1)])


def run_ode(args: argparse.Namespace) -> int:
    """Run ``statmech ode``: integrate, then write table, configuration and figure."""
    M = args.M if args.M is not None else args.K
    if args.n_alpha < 2:
        raise ValueError(f"The '--n-alpha' option must be an int >= 2. Got {args.n_alpha}.")
    if not np.isfinite(args.alpha_max) or args.alpha_max <= 0:
        raise ValueError(f"The '--alpha-max' option must be a float > 0. Got {args.alpha_max}.")
    op0 = OrderParameters.random(
        args.K, M, args.N, init_scale=args.init_scale, teacher_scale=args.teacher_scale,
        v=np.full(args.K, args.v), v_star=np.full(M, args.v_star), seed=args.seed,
    )
    alpha = _alpha_grid(args.alpha_max, args.n_alpha, args.linear_alpha)
    eta = np.array(args.eta, dtype=float)
    traj = integrate(
        op0, eta=eta if eta.size > 1 else float(eta[0]), alpha=alpha, eta_v=args.eta_v,
        train_second_layer=args.train_second_layer, noise=args.noise,
        weight_decay=args.weight_decay, batch_size=args.batch_size,
        activation=args.activation, method=args.method, rtol=args.rtol, atol=args.atol,
        on_divergence=args.on_divergence,
    )
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    traj.to_frame().to_csv(out / "ode.csv", index=False)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k != "func"}
    config.update(M=M, statmech_version=__version__)
    (out / "config.json").write_text(json.dumps(config, indent=2, default=str) + "\n")
    written = [out / "ode.csv", out / "config.json"]
    if not args.no_plot:
        written += _plot(traj, eta, args, M, out)
    for path in written:
        print(f"wrote {path}")
    return 0


def _plot(traj, eta, args, M, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.4, 2.6), constrained_layout=True)
    eg = traj.eg.reshape(-1, traj.alpha.size)
    status = np.ravel(traj.status)
    sel = traj.alpha > 0
    scm = (
        args.K == M >= 2 and not args.train_second_layer and args.v == args.v_star == 1.0
        and args.teacher_scale == 1.0 and args.weight_decay == 0.0
    )
    for i, e in enumerate(np.atleast_1d(eta)):
        label = f"η = {e:g}" + (" (diverged)" if status[i] == "diverged" else "")
        (line,) = ax.loglog(traj.alpha[sel], eg[i, sel], label=label)
        if scm and status[i] == "ok":
            try:
                plat = plateau_height(args.K, eta=float(e), noise=args.noise,
                                      batch_size=args.batch_size, activation=args.activation)
            except ValueError:
                continue
            ax.axhline(plat, color=line.get_color(), lw=0.6, ls=":")
    lo = np.nanmin(np.where(eg[:, sel] > 0, eg[:, sel], np.nan), initial=1.0)
    ax.set_ylim(bottom=max(lo, 1e-10))  # below ~1e-10 the curve shows the integration tolerance
    ax.set_xlabel("α = steps / N")
    ax.set_ylabel("ε_g")
    ax.set_title(f"K = {args.K}, M = {M}, {traj.activation[0]}", fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    paths = [out / "eg.png", out / "eg.pdf"]
    for p in paths:
        fig.savefig(p, dpi=200)
    plt.close(fig)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``statmech`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "ode":
            return run_ode(args)
    except ValueError as err:
        print(f"statmech {args.command}: error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
