"""``statmech simulate``: simulate an ensemble of teacher–student pairs, compare with the ODE.

Simulate an ensemble of teacher–student pairs trained by online SGD (explicit networks, or the
exact reduced chain) and write simulate.csv (one row per member and α), ensemble.npz,
config.json and a figure: the members' median ε_g and its 10–90 % band (the mean ± SE where it
is well determined) beside the ODE integrated from each member's own initial state.
Default: K = M = 2 erf soft committee machine, η = 0.5, N = 500, 16 members, α up to 300.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._validation import Integer, Real
from ..paths import output_dir
from ..plotting.style import house_style, save_figure
from ..plotting.trajectories import ensemble_figure
from ..simulation.api import SIMULATION_METHODS, simulate
from ..simulation.settings import BackendOptions, StudentInit
from ..theory.fixed_points import plateau_height
from ..theory.ode import integrate
from .options import add_model_options, model_options, real
from .output import headless, write_config

__all__ = ["add_parser", "run", "CONSTRAINTS", "ALIASES"]

#: Flags checked right after parsing, before any work (statmech.cli.app.FLAG_CONSTRAINTS).
CONSTRAINTS = {"N": [Integer(1)], "K": [Integer(1)], "M": [Integer(1), None],
               "ensemble": [Integer(1)], "n_alpha": [Integer(2)],
               "alpha_max": [Real(0.0, closed="neither")], "seed": [Integer(0)]}
#: Library parameter → flag ``dest``, where they differ (statmech.cli.app.FLAG_ALIASES): the
#: fields of StudentInit and BackendOptions.
ALIASES = {"scale": "init_scale", "v_scale": "init_v_scale", "init.v": "init_v",
           "name": "backend"}


def _initial_options(g) -> None:
    g.add_argument("--init-v", type=real, default=1.0, help="initial student second-layer weight")
    g.add_argument("--init-v-scale", type=real, default=0.0,
                   help="std. dev. of Gaussian noise added to the initial v")
    g.add_argument("--init-scale", type=real, default=1.0,
                   help="std. dev. of the initial student weights")


def add_parser(sub) -> argparse.ArgumentParser:
    """Add ``statmech simulate`` to the sub-commands ``sub``."""
    sim = sub.add_parser(
        "simulate",
        help="simulate online SGD for an ensemble of teacher-student pairs; compare with the ODE",
        description=(
            "Train an ensemble of teacher-student pairs by online SGD (explicit N-dimensional "
            "networks, or the exact finite-N reduced chain on the order parameters) and write "
            "simulate.csv (long-format table: one row per member and α), ensemble.npz "
            "(statmech.Ensemble.load), config.json and eg.png / eg.pdf: the members' median "
            "ε_g and its 10-90 % band (the mean ± SE where SE < 25 % of it) beside the ODE "
            "integrated from each member's own initial order parameters (median and band)."
        ),
    )
    g = sim.add_argument_group("model")
    g.add_argument("--N", type=int, default=500, help="input dimension")
    add_model_options(sim, model_group=g, initial_options=_initial_options)
    g = sim.add_argument_group("simulation and output")
    g.add_argument("--ensemble", type=int, default=16, help="number of members E")
    g.add_argument("--method", choices=SIMULATION_METHODS, default="full",
                   help="explicit networks (full) or the exact reduced chain")
    g.add_argument("--backend", default="numpy", help="numpy, torch or cupy")
    g.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating-point precision of the simulation")
    g.add_argument("--seed", type=int, default=0, help="root random seed")
    g.add_argument("--alpha-max", type=real, default=300.0, help="final time α = steps/N")
    g.add_argument("--n-alpha", type=int, default=100, help="number of output times")
    g.add_argument("--linear-alpha", action="store_true",
                   help="equally spaced output times (default: log-spaced from alpha-max/1e3, "
                        "plus α = 0), rounded to whole steps")
    g.add_argument("--on-divergence", choices=("raise", "mask"), default="mask",
                   help="stop with an error, or mark diverged members and go on")
    g.add_argument("--output-dir", type=Path, default=output_dir("simulate"),
                   help="directory for the table, ensemble, configuration and figure")
    g.add_argument("--no-ode", action="store_true", help="skip the ODE comparison")
    g.add_argument("--no-plot", action="store_true", help="write the table only")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.set_defaults(func=run)
    return sim


def _simulation_grid(alpha_max: float, n: int, linear: bool, N: int) -> np.ndarray:
    if n < 2:
        raise ValueError(f"The '--n-alpha' option must be an int >= 2. Got {n}.")
    if not np.isfinite(alpha_max) or alpha_max <= 0:
        raise ValueError(f"The '--alpha-max' option must be a float > 0. Got {alpha_max}.")
    grid = (np.linspace(0.0, alpha_max, n) if linear
            else np.concatenate([[0.0], np.geomspace(alpha_max * 1e-3, alpha_max, n - 1)]))
    return np.unique(np.rint(grid * N)) / N


def run(args: argparse.Namespace) -> int:
    """Run ``statmech simulate``: simulate, integrate the ODE, write table, ensemble, figure."""
    M = args.M if args.M is not None else args.K
    alpha = _simulation_grid(args.alpha_max, args.n_alpha, args.linear_alpha, args.N)
    model = model_options(args)
    ens = simulate(
        args.N, args.K, M, alpha=alpha, ensemble=args.ensemble, method=args.method,
        backend=BackendOptions(args.backend, dtype=args.dtype), seed=args.seed,
        v_star=args.v_star,
        init=StudentInit(scale=args.init_scale, v=args.init_v, v_scale=args.init_v_scale),
        on_divergence=args.on_divergence, progress=False if args.quiet else None, **model,
    )
    traj = None
    if not args.no_ode:
        traj = integrate(ens.order_parameters(0), alpha=ens.alpha, on_divergence="mask", **model)
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    frame = ens.to_frame()
    if traj is not None:
        frame["eg_ode"] = traj.eg.reshape(-1)
    frame.to_csv(out / "simulate.csv", index=False)
    ens.save(out / "ensemble.npz")
    write_config(args, out, M)
    written = [out / "simulate.csv", out / "ensemble.npz", out / "config.json"]
    if not args.no_plot:
        written += _plot_simulation(ens, traj, args, M, out)
    n_div = int(np.sum(ens.status != "ok"))
    if n_div:
        print(f"{n_div} of {ens.E} members diverged (learning rate too large?)")
    for path in written:
        print(f"wrote {path}")
    return 0


def _plateau(args: argparse.Namespace, M: int) -> float | None:
    """Height of the symmetric plateau where the run has one (soft committee machine, K = M,
    v = v* = 1 fixed, no weight decay), else None."""
    scm = (args.K == M >= 2 and not args.train_second_layer and args.init_v == 1.0
           and args.v_star == 1.0 and args.weight_decay == 0.0)
    if not scm:
        return None
    try:
        return plateau_height(args.K, eta=args.eta, noise=args.noise,
                              batch_size=args.batch_size, activation=args.activation)
    except ValueError:
        return None


def _plot_simulation(ens, traj, args, M, out: Path) -> list[Path]:
    """eg.png and eg.pdf: ε_g(α) of the simulated members against the ODE from each member's
    own start (:func:`statmech.plotting.trajectories.ensemble_figure`)."""
    headless()
    settings = (f"K = {args.K}, M = {M}, N = {args.N}, η = {args.eta:g}, σ = {args.noise:g}, "
                f"{ens.activation[0]}")
    with house_style():
        fig = ensemble_figure(ens, traj, plateau=_plateau(args, M), settings=settings)
        return save_figure(fig, out, "eg")
