"""``statmech ode``: integrate the order-parameter ODEs, write a table, config and figure.

Integrate the order-parameter ODEs for one configuration (or a sweep over several learning
rates) and write a labelled table (CSV), the configuration (JSON) and a figure of ε_g(α) (PNG
and PDF). Every option has a default, so ``statmech ode`` alone runs the documented default:
K = M = 2 erf soft committee machine, η = 0.5, random Gaussian initial weights at N = 1000
(seed 0), α up to 1000.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._validation import Integer, Real
from ..paths import output_dir
from ..plotting.style import house_style, save_figure
from ..plotting.trajectories import trajectory_figure
from ..theory.fixed_points import plateau_height
from ..theory.ode import integrate
from ..theory.order_parameters import OrderParameters
from ..theory.solver_limits import ODE_METHODS
from .options import add_model_options, model_options, real
from .output import headless, write_config

__all__ = ["add_parser", "run", "CONSTRAINTS"]

#: Flags checked right after parsing, before any work (statmech.cli.app.FLAG_CONSTRAINTS).
CONSTRAINTS = {"K": [Integer(1)], "M": [Integer(1), None], "N": [Integer(1)],
               "n_alpha": [Integer(2)], "alpha_max": [Real(0.0, closed="neither")],
               "seed": [Integer(0)]}


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``statmech ode`` to the sub-commands ``sub``."""
    ode = sub.add_parser(
        "ode",
        help="integrate the online-SGD order-parameter ODEs and plot ε_g(α)",
        description=(
            "Integrate the online-SGD order-parameter ODEs (Saad & Solla 1995; Goldt et al. "
            "2019) from the order parameters of random Gaussian weights, and write "
            "ode.csv (long-format table: one row per learning rate and α), config.json and "
            "eg.png / eg.pdf (ε_g against α) into the output directory."
        ),
    )
    add_model_options(ode, several_eta=True, initial_options=lambda g: g.add_argument(
        "--v", type=real, default=1.0, help="initial student second-layer weight"))
    g = ode.add_argument_group("initial state (order parameters of Gaussian weights)")
    g.add_argument("--N", type=int, default=1000, help="input dimension of the initial draw")
    g.add_argument("--init-scale", type=real, default=1.0, help="std. dev. of student weights")
    g.add_argument("--teacher-scale", type=real, default=1.0, help="std. dev. of teacher weights")
    g.add_argument("--seed", type=int, default=0, help="random seed of the initial draw")
    g = ode.add_argument_group("integration and output")
    g.add_argument("--alpha-max", type=real, default=1000.0, help="final time α = steps/N")
    g.add_argument("--n-alpha", type=int, default=200, help="number of output times")
    g.add_argument("--linear-alpha", action="store_true",
                   help="equally spaced output times on [0, alpha-max] (default: log-spaced "
                        "from alpha-max/1e4, plus α = 0)")
    g.add_argument("--method", choices=ODE_METHODS, default="DOP853", help="solve_ivp method")
    g.add_argument("--rtol", type=real, default=1e-8, help="relative tolerance")
    g.add_argument("--atol", type=real, default=1e-12, help="absolute tolerance")
    g.add_argument("--on-divergence", choices=("raise", "mask"), default="mask",
                   help="stop with an error, or mark diverged learning rates and go on")
    g.add_argument("--output-dir", type=Path, default=output_dir("ode"),
                   help="directory for ode.csv, config.json, eg.png and eg.pdf")
    g.add_argument("--no-plot", action="store_true", help="write the table only")
    ode.set_defaults(func=run)
    return ode


def _alpha_grid(alpha_max: float, n: int, linear: bool) -> np.ndarray:
    if linear:
        return np.linspace(0.0, alpha_max, n)
    return np.concatenate([[0.0], np.geomspace(alpha_max * 1e-4, alpha_max, n - 1)])


def run(args: argparse.Namespace) -> int:
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
    model = model_options(args)
    eta = np.atleast_1d(model["eta"])
    traj = integrate(op0, alpha=alpha, method=args.method, rtol=args.rtol, atol=args.atol,
                     on_divergence=args.on_divergence, **model)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    traj.to_frame().to_csv(out / "ode.csv", index=False)
    write_config(args, out, M)
    written = [out / "ode.csv", out / "config.json"]
    if not args.no_plot:
        written += _plot(traj, eta, args, M, out)
    for path in written:
        print(f"wrote {path}")
    return 0


def _symmetric(args: argparse.Namespace, M: int) -> bool:
    """Whether the run has the symmetric plateau of the soft committee machine (K = M >= 2,
    v = v* = 1 fixed, unit teacher scale, no weight decay)."""
    return (args.K == M >= 2 and not args.train_second_layer and args.v == args.v_star == 1.0
            and args.teacher_scale == 1.0 and args.weight_decay == 0.0)


def _plateaus(traj, eta: np.ndarray, args: argparse.Namespace, M: int) -> list[float | None]:
    """Symmetric plateau height per learning rate (None where there is none, or where the
    learning rate diverged)."""
    status = np.ravel(traj.status)
    scm = _symmetric(args, M)
    heights: list[float | None] = []
    for i, e in enumerate(np.atleast_1d(eta)):
        height = None
        if scm and status[i] == "ok":
            try:
                height = plateau_height(args.K, eta=float(e), noise=args.noise,
                                        batch_size=args.batch_size, activation=args.activation)
            except ValueError:
                height = None
        heights.append(height)
    return heights


def _plot(traj, eta, args, M, out: Path) -> list[Path]:
    """eg.png and eg.pdf: one line per learning rate, dotted plateau heights."""
    headless()
    scm = _symmetric(args, M)
    title = (f"ODE: K = {args.K}, M = {M}, N = {args.N}, σ = {args.noise:g}, "
             f"{traj.activation[0]}" + ("\ndotted: symmetric plateau heights" if scm else ""))
    with house_style():
        fig = trajectory_figure(traj, labels=[f"η = {e:g}" for e in np.atleast_1d(eta)],
                                plateaus=_plateaus(traj, eta, args, M), title=title)
        return save_figure(fig, out, "eg")
