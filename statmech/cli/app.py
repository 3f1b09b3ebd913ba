"""Command-line interface: ``statmech <command> [options]``.

Commands
--------
``statmech ode``
    Integrate the order-parameter ODEs for one configuration (or a sweep over several learning
    rates) and write a labelled table (CSV), the configuration (JSON) and a figure of ε_g(α)
    (PNG and PDF). Every option has a default, so ``statmech ode`` alone runs the documented
    default: K = M = 2 erf soft committee machine, η = 0.5, random Gaussian initial weights at
    N = 1000 (seed 0), α up to 1000.
``statmech simulate``
    Simulate an ensemble of teacher–student pairs trained by online SGD (explicit networks, or
    the exact reduced chain) and write simulate.csv (one row per member and α), ensemble.npz,
    config.json and a figure: the members' median ε_g and its 10–90 % band (the mean ± SE where
    it is well determined) beside the ODE integrated from each member's own initial state.
    Default: K = M = 2 erf soft committee machine, η = 0.5, N = 500, 16 members, α up to 300.
``statmech prune``
    Train students (the seed paper's configuration by default), prune them with every method at
    the matched node/edge levels, compare theory with Monte Carlo and judge the paper's claims.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .._validation import Integer, Options, Real
from .._version import package_version
from ..paths import output_dir
from ..simulation.api import SIMULATION_METHODS, simulate
from ..theory.fixed_points import plateau_height
from ..theory.ode import integrate
from ..theory.order_parameters import OrderParameters
from ..theory.solver_limits import ODE_METHODS
from .errors import (
    OneLineArgumentParser,
    check_flags,
    check_output_dir,
    run_reporting,
    subparser,
)

__all__ = ["main", "build_parser"]


def _real(text: str) -> float:
    """argparse type of the float flags: a finite number (nan and inf are refused here)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _activation(text: str) -> str | tuple[str, str]:
    parts = text.split(":")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError("use NAME or STUDENT:TEACHER, e.g. erf or relu:erf")


def _write_config(args: argparse.Namespace, out: Path, M: int) -> Path:
    """config.json: every option of the run, M resolved, and the toolkit version."""
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
              if k != "func"}
    config.update(M=M, statmech_version=package_version())
    path = out / "config.json"
    path.write_text(json.dumps(config, indent=2, default=str) + "\n")
    return path


def _new_figure():
    """A column-width figure and axes (:func:`statmech.plotting.style.new_figure`)."""
    from ..plotting.style import new_figure

    return new_figure()


def _save_figure(fig, out: Path, stem: str) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf into ``out`` and close the figure."""
    from ..plotting.style import save_figure

    return save_figure(fig, out, stem)


def _add_network_args(g) -> None:
    """--K, --M, --activation and --v-star (shared by ode and simulate)."""
    g.add_argument("--K", type=int, default=2, help="student hidden units")
    g.add_argument("--M", type=int, default=None, help="teacher hidden units (default: K)")
    g.add_argument("--activation", type=_activation, default="erf",
                   help="erf, linear or relu; or STUDENT:TEACHER such as relu:erf")
    g.add_argument("--v-star", type=_real, default=1.0,
                   help="teacher second-layer weight (all units)")


def _add_sgd_args(g) -> None:
    """--eta-v, --noise, --weight-decay and --batch-size (shared by ode and simulate)."""
    g.add_argument("--eta-v", type=_real, default=None,
                   help="second-layer learning rate (default: eta)")
    g.add_argument("--noise", type=_real, default=0.0, help="output-noise std. dev. σ")
    g.add_argument("--weight-decay", type=_real, default=0.0, help="weight decay κ")
    g.add_argument("--batch-size", type=int, default=1, help="mini-batch size B")


_TRAIN_V_HELP = "train v too (otherwise the soft committee machine, v fixed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``statmech`` command."""
    parser = OneLineArgumentParser(
        prog="statmech",
        description="Statistical-mechanics theory of teacher-student networks and their pruning.",
    )
    parser.add_argument("--version", action="version", version=f"statmech {package_version()}")
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
    )
    g = ode.add_argument_group("model")
    _add_network_args(g)
    g.add_argument("--v", type=_real, default=1.0, help="initial student second-layer weight")
    g.add_argument("--train-second-layer", action="store_true", help=_TRAIN_V_HELP)
    g = ode.add_argument_group("learning")
    g.add_argument("--eta", type=_real, nargs="+", default=[0.5],
                   help="learning rate(s); several values are integrated as one batch")
    _add_sgd_args(g)
    g = ode.add_argument_group("initial state (order parameters of Gaussian weights)")
    g.add_argument("--N", type=int, default=1000, help="input dimension of the initial draw")
    g.add_argument("--init-scale", type=_real, default=1.0, help="std. dev. of student weights")
    g.add_argument("--teacher-scale", type=_real, default=1.0, help="std. dev. of teacher weights")
    g.add_argument("--seed", type=int, default=0, help="random seed of the initial draw")
    g = ode.add_argument_group("integration and output")
    g.add_argument("--alpha-max", type=_real, default=1000.0, help="final time α = steps/N")
    g.add_argument("--n-alpha", type=int, default=200, help="number of output times")
    g.add_argument("--linear-alpha", action="store_true",
                   help="equally spaced output times on [0, alpha-max] (default: log-spaced "
                        "from alpha-max/1e4, plus α = 0)")
    g.add_argument("--method", choices=ODE_METHODS, default="DOP853", help="solve_ivp method")
    g.add_argument("--rtol", type=_real, default=1e-8, help="relative tolerance")
    g.add_argument("--atol", type=_real, default=1e-12, help="absolute tolerance")
    g.add_argument("--on-divergence", choices=("raise", "mask"), default="mask",
                   help="stop with an error, or mark diverged learning rates and go on")
    g.add_argument("--output-dir", type=Path, default=output_dir("ode"),
                   help="directory for ode.csv, config.json, eg.png and eg.pdf")
    g.add_argument("--no-plot", action="store_true", help="write the table only")
    _add_simulate_parser(sub)
    _add_prune_parser(sub)
    from .sweep import add_parsers

    add_parsers(sub)
    return parser


def _add_prune_parser(sub) -> None:
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
    g.add_argument("--v-star", type=_real, default=4.0, help="teacher second-layer weight")
    g.add_argument("--eta", type=_real, default=0.5, help="learning rate (both layers)")
    g.add_argument("--alpha", type=_real, default=1600.0, help="training time α = steps/N")
    g.add_argument("--noise", type=_real, nargs="+", default=[0.0, 0.25],
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


def run_prune(args: argparse.Namespace) -> int:
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


def _add_simulate_parser(sub) -> None:
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
    _add_network_args(g)
    g.add_argument("--init-v", type=_real, default=1.0, help="initial student second-layer weight")
    g.add_argument("--init-v-scale", type=_real, default=0.0,
                   help="std. dev. of Gaussian noise added to the initial v")
    g.add_argument("--init-scale", type=_real, default=1.0,
                   help="std. dev. of the initial student weights")
    g.add_argument("--train-second-layer", action="store_true", help=_TRAIN_V_HELP)
    g = sim.add_argument_group("learning")
    g.add_argument("--eta", type=_real, default=0.5, help="learning rate η")
    _add_sgd_args(g)
    g = sim.add_argument_group("simulation and output")
    g.add_argument("--ensemble", type=int, default=16, help="number of members E")
    g.add_argument("--method", choices=SIMULATION_METHODS, default="full",
                   help="explicit networks (full) or the exact reduced chain")
    g.add_argument("--backend", default="numpy", help="numpy, torch or cupy")
    g.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="floating-point precision of the simulation")
    g.add_argument("--seed", type=int, default=0, help="root random seed")
    g.add_argument("--alpha-max", type=_real, default=300.0, help="final time α = steps/N")
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


def _simulation_grid(alpha_max: float, n: int, linear: bool, N: int) -> np.ndarray:
    if n < 2:
        raise ValueError(f"The '--n-alpha' option must be an int >= 2. Got {n}.")
    if not np.isfinite(alpha_max) or alpha_max <= 0:
        raise ValueError(f"The '--alpha-max' option must be a float > 0. Got {alpha_max}.")
    grid = (np.linspace(0.0, alpha_max, n) if linear
            else np.concatenate([[0.0], np.geomspace(alpha_max * 1e-3, alpha_max, n - 1)]))
    return np.unique(np.rint(grid * N)) / N


def run_simulate(args: argparse.Namespace) -> int:
    """Run ``statmech simulate``: simulate, integrate the ODE, write table, ensemble, figure."""
    M = args.M if args.M is not None else args.K
    alpha = _simulation_grid(args.alpha_max, args.n_alpha, args.linear_alpha, args.N)
    ens = simulate(
        args.N, args.K, M, eta=args.eta, alpha=alpha, ensemble=args.ensemble,
        method=args.method, backend=args.backend, dtype=args.dtype, seed=args.seed,
        v_star=args.v_star, init_scale=args.init_scale, init_v=args.init_v,
        init_v_scale=args.init_v_scale, train_second_layer=args.train_second_layer,
        eta_v=args.eta_v, noise=args.noise, weight_decay=args.weight_decay,
        batch_size=args.batch_size, activation=args.activation,
        on_divergence=args.on_divergence, progress=False if args.quiet else None,
    )
    traj = None
    if not args.no_ode:
        traj = integrate(
            ens.order_parameters(0), eta=args.eta, alpha=ens.alpha, eta_v=args.eta_v,
            train_second_layer=args.train_second_layer, noise=args.noise,
            weight_decay=args.weight_decay, batch_size=args.batch_size,
            activation=args.activation, on_divergence="mask",
        )
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    frame = ens.to_frame()
    if traj is not None:
        frame["eg_ode"] = traj.eg.reshape(-1)
    frame.to_csv(out / "simulate.csv", index=False)
    ens.save(out / "ensemble.npz")
    _write_config(args, out, M)
    written = [out / "simulate.csv", out / "ensemble.npz", out / "config.json"]
    if not args.no_plot:
        written += _plot_simulation(ens, traj, args, M, out)
    n_div = int(np.sum(ens.status != "ok"))
    if n_div:
        print(f"{n_div} of {ens.E} members diverged (learning rate too large?)")
    for path in written:
        print(f"wrote {path}")
    return 0


def _plot_simulation(ens, traj, args, M, out: Path) -> list[Path]:
    """ε_g(α) of the simulated members against the ODE from each member's own start.

    Medians with 10–90 % bands (one member still on the plateau would dominate a mean on the
    log axis); the simulated mean ± SE is drawn only where it is well determined (SE below a
    quarter of the mean), so it is not dragged off by a few stuck members.
    """
    from ..plotting.style import COLUMN_WIDTH, member_quantiles

    fig, ax = _new_figure()
    fig.set_size_inches(COLUMN_WIDTH, 3.5)
    sel = ens.alpha > 0
    a = ens.alpha[sel]
    handles, labels = [], []
    if traj is not None:
        ok = ens.status == "ok"
        lo, med, hi = member_quantiles(traj.eg[ok][:, sel])
        band = ax.fill_between(a, lo, hi, color="0.55", alpha=0.35, lw=0, zorder=1)
        (line,) = ax.plot(a, med, color="k", lw=1.2, zorder=2)
        handles.append((band, line))
        labels.append("theory: ODE from each member's start, median and 10–90 %")
    lo, med, hi = member_quantiles(ens.eg[:, sel])
    band = ax.fill_between(a, lo, hi, color="C3", alpha=0.25, lw=0, zorder=3)
    (line,) = ax.plot(a, med, color="C3", lw=1.0, ls="--", zorder=4)
    handles.append((band, line))
    labels.append(f"simulation ({ens.params['method']}): median and 10–90 % of members")
    mean = ens.mean_trajectory()
    good = (mean.eg_se < 0.25 * mean.eg)[sel]
    if good.any():
        handles.append(ax.errorbar(a[good], mean.eg[sel][good], yerr=mean.eg_se[sel][good],
                                   fmt="o", ms=2, mfc="white", mew=0.6, lw=0.6, color="C3",
                                   zorder=5))
        labels.append("simulation mean ± SE (only where SE < 25 % of the mean)")
    scm = (args.K == M >= 2 and not args.train_second_layer and args.init_v == 1.0
           and args.v_star == 1.0 and args.weight_decay == 0.0)
    if scm:
        try:
            plat = plateau_height(args.K, eta=args.eta, noise=args.noise,
                                  batch_size=args.batch_size, activation=args.activation)
        except ValueError:
            plat = None
        if plat is not None:
            handles.append(ax.axhline(plat, color="0.5", ls=":", lw=0.8, zorder=0))
            labels.append("symmetric plateau")
    final = ens.eg[:, -1][np.isfinite(ens.eg[:, -1])]
    note = (f"; at α = {ens.alpha[-1]:g}: median {np.median(final):.1e}, "
            f"max {final.max():.1e}" if final.size else "")
    n_div = int(np.sum(ens.status != "ok"))
    if n_div:
        note += f"; {n_div} diverged"
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("α = steps / N")
    ax.set_ylabel("$\\epsilon_g$")
    ax.set_title(f"K = {args.K}, M = {M}, N = {args.N}, η = {args.eta:g}, σ = {args.noise:g}, "
                 f"{ens.activation[0]}\n{ens.E} members{note}", fontsize=7)
    fig.legend(handles, labels, loc="outside lower center", ncol=1, frameon=False,
               fontsize=5.5)
    return _save_figure(fig, out, "eg")


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
    _write_config(args, out, M)
    written = [out / "ode.csv", out / "config.json"]
    if not args.no_plot:
        written += _plot(traj, eta, args, M, out)
    for path in written:
        print(f"wrote {path}")
    return 0


def _plot(traj, eta, args, M, out: Path) -> list[Path]:
    fig, ax = _new_figure()
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
    ax.set_ylabel("$\\epsilon_g$")
    ax.set_title(f"ODE: K = {args.K}, M = {M}, N = {args.N}, σ = {args.noise:g}, "
                 f"{traj.activation[0]}" + ("\ndotted: symmetric plateau heights" if scm else ""),
                 fontsize=7)
    fig.legend(loc="outside lower center", ncol=min(2, np.atleast_1d(eta).size),
               fontsize=6, frameon=False)
    return _save_figure(fig, out, "eg")


#: Flags checked (statmech._validation) right after parsing, before any work: those the
#: library would check only after work has started (or with another parameter name).
_POSITIVE = [Integer(1)]
FLAG_CONSTRAINTS: dict[str, dict[str, list]] = {
    "ode": {"K": _POSITIVE, "M": [Integer(1), None], "N": _POSITIVE, "n_alpha": [Integer(2)],
            "alpha_max": [Real(0.0, closed="neither")], "seed": [Integer(0)]},
    "simulate": {"N": _POSITIVE, "K": _POSITIVE, "M": [Integer(1), None],
                 "ensemble": _POSITIVE, "n_alpha": [Integer(2)],
                 "alpha_max": [Real(0.0, closed="neither")], "seed": [Integer(0)]},
    "prune": {"N": _POSITIVE, "K": _POSITIVE, "M": _POSITIVE,
              "eta": [Real(0.0, closed="neither")], "alpha": [Real(0.0, closed="neither")],
              "noise": [Real(0.0)], "students": _POSITIVE, "masks": _POSITIVE,
              "seed": [Integer(0)]},
}

#: Library parameter → flag ``dest``, where they differ (per command).
FLAG_ALIASES: dict[str, dict[str, str]] = {
    "prune": {"ensemble": "students", "n_masks": "masks", "simulation_method": "simulation",
              "method": "methods"},
    "sweep": {"source": "file", "root": "cache"},
    "figures": {"root": "cache", "names": "names"},
    "cache": {"root": "cache"},
}


def _check_command(args: argparse.Namespace) -> None:
    """Refuse bad flags of ``args.command`` before any work."""
    func = f"statmech {args.command}"
    check_flags(args, FLAG_CONSTRAINTS.get(args.command, {}), func)
    if args.command == "prune":
        from ..pruning import PRUNING_METHODS

        check_flags(args, {"levels": [Integer(1, args.K)],
                           "methods": [Options(sorted(PRUNING_METHODS))]}, func)
    if getattr(args, "output_dir", None) is not None:
        check_output_dir(args.output_dir, "output_dir", func)


def _dispatch(args: argparse.Namespace) -> int:
    _check_command(args)
    if args.command == "ode":
        return run_ode(args)
    if args.command == "simulate":
        return run_simulate(args)
    if args.command == "prune":
        return run_prune(args)
    from .sweep import dispatch

    done = dispatch(args)
    if done is None:  # pragma: no cover
        raise RuntimeError(f"unknown command {args.command!r}")
    return done


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
