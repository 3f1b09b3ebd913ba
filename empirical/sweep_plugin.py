"""``empirical``'s plugins for ``statmech``: sweep computations and gallery figures.

Registered through the entry-point groups ``statmech.computations`` (:func:`register`) and
``statmech.figures`` (:func:`register_figures`), so ``statmech`` never imports ``empirical``.

* ``empirical.teacher_student``: one seed of :func:`empirical.compare.teacher_student_table`;
* ``empirical.real_data``: one seed of :func:`empirical.compare.real_data_table` (digits or
  MNIST-1D);
* ``empirical.mbp_bound``: companion paper A's bound on a digits MLP over compression
  parameters d (:mod:`empirical.bounds`);
* ``empirical.spectral_compare``: companion paper C's node-method comparison without retraining
  (:func:`empirical.spectral.compare_node_methods`);
* figures ``theory_vs_experiment``, ``digits_pruning``, ``mbp_bound`` and ``spectral_pruning``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from statmech.pruning import method_names

#: The registry's gallery methods (a list: sweep configurations hold lists).
METHODS = list(method_names(gallery=True))
_DONE = {"computations": False, "figures": False}


def _seed(seed: int) -> int:
    return int(seed) % (2**31)


def _data_spec(config: dict, func: str) -> None:
    """Cross-check of the real-data computations: the ``data`` spec (before any point runs)."""
    from .cli import check_data_spec

    check_data_spec(config["data"])


def teacher_student(config: dict, seed: int):
    """Torch students trained online, pruned, measured against statmech's theory."""
    from .compare import teacher_student_table

    cfg = {k: v for k, v in config.items() if k != "replicate"}
    cfg["levels"] = tuple(cfg["levels"])
    cfg["methods"] = tuple(cfg["methods"])
    table = teacher_student_table(seeds=(_seed(seed),), **cfg)
    table["z"] = (table.eg_measured - table.theory_finite_n) / table.eg_measured_se
    return table


def real_data(config: dict, seed: int):
    """One seed of the real-data pruning comparison (test error vs parameters kept)."""
    from .compare import real_data_table

    table = real_data_table(config["data"], hidden=tuple(config["hidden"]),
                            activation=config["activation"],
                            methods=tuple(config["methods"]),
                            fractions=tuple(config["fractions"]), seeds=(_seed(seed),),
                            epochs=int(config["epochs"]),
                            finetune_epochs=int(config["finetune_epochs"]), progress=False)
    table["data"] = config["data"]
    table.attrs = {}
    return table


def mbp_bound(config: dict, seed: int):
    """Guha et al.'s MBP bound terms on a digits ReLU MLP (pixels in [0, 1], 70/30)."""
    import pandas as pd

    from statmech.companion import predicted_max_row_nonzeros, row_col_counts

    from . import bounds as B
    from .fit import train_classifier
    from .models import MLP

    s = _seed(seed)
    data = B.digits_unit_interval(seed=s % 1000)
    net = MLP([64, *config["hidden"], 10], activation="relu", seed=s)
    train_classifier(net, data, epochs=int(config["epochs"]), batch_size=200, lr=1e-3,
                     seed=s, device="cpu", progress=False)
    net.eval()
    rows = []
    for d in config["d_values"]:
        gb = B.generalization_bound(net, data.X_train, data.y_train, float(d), seed=s,
                                    X_test=data.X_test, y_test=data.y_test)
        lins = B._linears(B.mbp_prune_mlp(net, float(d), seed=s))
        widest = max(lins, key=lambda lin: lin.in_features)
        j_r, j_c = row_col_counts(widest.weight.detach().numpy())
        rows.append({"d": float(d), "density": gb["density"], "kappa": gb["kappa"],
                     "pruning_error": gb["pruning_error"], "gamma_req": gb["gamma_req"],
                     "sqrt_q_over_m": gb["sqrt_q_over_m"], "bound": gb["bound"],
                     "min_margin": gb["min_margin"],
                     "pruned_test_error": gb["pruned_test_error"], "j_r": j_r, "j_c": j_c,
                     "n_in": widest.in_features,
                     "row_cap": predicted_max_row_nonzeros(widest.in_features, float(d))})
    return pd.DataFrame(rows)


def spectral_compare(config: dict, seed: int):
    """One seed of Suzuki et al.'s comparison: node pruning without retraining."""
    from .spectral import compare_node_methods

    _, raw = compare_node_methods(config["data"], int(config["hidden"]),
                                  tuple(config["widths"]), (_seed(seed),),
                                  epochs=int(config["epochs"]), return_raw=True)
    return raw


def register() -> None:
    """Register the computations (entry point ``statmech.computations``).

    The computations are module-level functions, so the local executor's worker processes
    import them by reference (a nested function could not be sent to them).
    """
    if _DONE["computations"]:
        return
    _DONE["computations"] = True
    from statmech._validation import InstanceOf, Integer, ListOf, Options, Real
    from statmech.sweep import register_computation

    pos_int, pos_real = [Integer(1)], [Real(0.0, closed="neither")]
    methods = [ListOf((Options(tuple(METHODS)),), 1)]
    replicate = [Integer(0)]
    data = [InstanceOf(str, "a data spec such as 'digits'")]

    register_computation("empirical.teacher_student", defaults={
        "N": 200, "K": 6, "M": 2, "v_star": 4.0, "eta": 0.5, "alpha": 50.0, "noise": 0.25,
        "levels": [1, 3, 5], "methods": METHODS, "n_masks": 40, "n_samples": 4000,
        "replicate": 0}, constraints={
        "N": pos_int, "K": pos_int, "M": pos_int, "v_star": [Real()], "eta": pos_real,
        "alpha": pos_real, "noise": [Real(0.0)], "levels": [ListOf((Integer(1),), 1)],
        "methods": methods, "n_masks": pos_int, "n_samples": pos_int,
        "replicate": replicate})(teacher_student)
    register_computation("empirical.real_data", defaults={
        "data": "digits", "hidden": [100], "activation": "sigmoid", "methods": METHODS,
        "fractions": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "epochs": 40,
        "finetune_epochs": 0, "replicate": 0}, constraints={
        "data": data, "hidden": [ListOf((Integer(1),), 1)],
        "activation": [Options(("sigmoid", "relu", "erf", "linear"))], "methods": methods,
        "fractions": [ListOf((Real(0.0, 1.0, closed="right"),), 1)], "epochs": pos_int,
        "finetune_epochs": [Integer(0)], "replicate": replicate},
        cross_check=_data_spec)(real_data)
    register_computation("empirical.mbp_bound", defaults={
        "hidden": [256, 256], "epochs": 100, "d_values": [0.1, 0.3, 1.0, 2.0, 5.0, 10.0],
        "replicate": 0}, constraints={
        "hidden": [ListOf((Integer(1),), 1)], "epochs": pos_int,
        "d_values": [ListOf((Real(0.0),), 1)], "replicate": replicate})(mbp_bound)
    register_computation("empirical.spectral_compare", defaults={
        "data": "digits", "hidden": 256, "widths": [8, 16, 32], "epochs": 30,
        "replicate": 0}, constraints={
        "data": data, "hidden": pos_int, "widths": [ListOf((Integer(1),), 1)],
        "epochs": pos_int, "replicate": replicate}, cross_check=_data_spec)(spectral_compare)


def register_figures() -> None:
    """Register the figures (entry point ``statmech.figures``)."""
    if _DONE["figures"]:
        return
    _DONE["figures"] = True
    register()
    from statmech.figures import register_figure

    def ts_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"ts": {"computation": "empirical.teacher_student",
                       "params": {"N": 100 if q else 500, "alpha": 50.0},
                       "grid": {"replicate": [0, 1] if q else [0, 1, 2, 3, 4]}}}

    def ts_plot(tables: dict, quality: str) -> Any:
        from .cli import draw_teacher_student

        return draw_teacher_student(tables["ts"])

    def digits_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"digits": {"computation": "empirical.real_data",
                           "grid": {"replicate": list(range(3 if q else 10))}}}

    def digits_plot(tables: dict, quality: str) -> Any:
        from .cli import draw_real_data

        t = tables["digits"].copy()
        t["seed"] = t["replicate"]
        t.attrs["config"] = {"data": "digits", "sizes": [64, 100, 10]}
        return draw_real_data(t)

    def mbp_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"mbp": {"computation": "empirical.mbp_bound",
                        "params": {"epochs": 100 if q else 400},
                        "grid": {"replicate": [0] if q else [0, 1, 2]}}}

    def mbp_plot(tables: dict, quality: str) -> Any:
        from matplotlib.ticker import LogLocator

        from statmech.companion import kept_fraction
        from statmech.plotting.style import new_figure, plain_log_ticks

        raw = tables["mbp"]
        t = raw.groupby("d").mean(numeric_only=True).reset_index()
        fig, (ax, ae, ak) = new_figure(3, height=2.7)
        fig.set_size_inches(7.0, 3.3)
        # logit scale: the change the bound allows, the change measured, the training margin
        ax.plot(t.d, t.gamma_req, "o-", color="C3", ms=3,
                label="γ$_{req}$(d): bound on the change of the correct logit")
        ax.plot(t.d, t.pruning_error, "s-", color="C0", ms=3,
                label="measured max change of the correct logit")
        ax.axhline(t.min_margin.iloc[0], color="0.5", ls=":", lw=0.8,
                   label="minimum training margin")
        ax.set_ylabel("logit change / margin")
        ax.set_title("pruning error: bound and measured")
        # error rates: the generalisation bound against the measured test error
        ae.plot(t.d, t.bound, "^--", color="C1", ms=3, label="generalisation bound")
        ae.plot(t.d, t.pruned_test_error, "v-", color="C2", ms=3,
                label="pruned test error (measured)")
        ae.axhline(1.0, color="0.3", lw=0.6, ls="-.", label="error 1: bound vacuous above")
        ae.set_ylabel("test error (fraction)")
        ae.set_title("generalisation: bound and measured")
        dd = np.geomspace(1e-2, 10, 100)
        n = int(t.n_in.iloc[0])
        ak.plot(dd, 3 * n * kept_fraction(dd), color="C3", lw=1, label="3 n κ(d) (row cap)")
        ak.plot(dd, n * kept_fraction(dd), color="0.3", lw=1, ls="--",
                label="n κ(d) (mean row count)")
        ak.plot(t.d, t.j_r, "o", color="C0", ms=3, label="measured max row count j$_r$")
        ak.plot(t.d, t.density * n, "s", color="C2", ms=3, mfc="white",
                label="measured density × n")
        ak.set_ylabel(f"non-zeros per row (n = {n})")
        ak.set_title("sparsity against κ(d)")
        for a in (ax, ae, ak):
            a.set_xscale("log")
            a.set_yscale("log")
            plain_log_ticks(a)
            a.set_xlabel("compression parameter d")
            a.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False,
                     fontsize=5.5)
        ak.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0,)))
        hidden = str(raw.hidden.iloc[0]).strip("[]()").replace(" ", "")
        seeds = raw.replicate.nunique()
        fig.suptitle(f"randomised magnitude-based pruning (MBP) of a digits MLP, hidden "
                     f"({hidden}), {int(t.epochs.iloc[0])} epochs, {seeds} "
                     f"seed{'s' if seeds > 1 else ''}: the bound is valid and vacuous",
                     fontsize=7)
        return fig

    def spectral_sweeps(quality: str) -> dict:
        q = quality == "quick"
        return {"spec": {"computation": "empirical.spectral_compare",
                         "params": {"epochs": 20 if q else 30},
                         "grid": {"data": ["digits", "mnist1d"],
                                  "replicate": [0, 1] if q else [0, 1, 2, 3, 4]}}}

    def spectral_plot(tables: dict, quality: str) -> Any:
        from matplotlib.lines import Line2D
        from matplotlib.ticker import NullLocator, ScalarFormatter

        from statmech.plotting.style import method_style, new_figure, plain_log_ticks

        t = tables["spec"]
        styles = {"spectral_theta0": ("spectral_node", False, "spectral, θ = 0"),
                  "spectral_theta1": ("spectral_node", True, "spectral, θ = 1"),
                  "random_reconstruct": ("random_node", True, "random J + reconstruction"),
                  "random_node": ("random_node", False, "random node"),
                  "magnitude_node": ("magnitude_node", False, "magnitude node"),
                  "dpp_node": ("dpp_node", False, "DPP node")}
        # a small multiplicative shift along x per method, so that no method hides another
        shift = {m: 2 ** (0.04 * (i - (len(styles) - 1) / 2)) for i, m in enumerate(styles)}
        hidden = int(t.hidden.iloc[0])
        fig, axes = new_figure(2, sharey=False, height=2.9)
        for ax, data in zip(axes, ("digits", "mnist1d"), strict=True):
            part = t[t.data == data]
            base = part[part.method == "unpruned"].error.mean()
            for method, (style, dashed, label) in styles.items():
                m = part[part.method == method]
                if m.empty:
                    continue
                g = m.groupby("width").error.agg(["mean", "sem"])
                st = method_style(style, dashed)
                st["label"] = label
                ax.errorbar(g.index * shift[method], g["mean"], yerr=g["sem"].fillna(0),
                            ms=3, lw=0.9, capsize=1.5, **st)
            ax.axhline(base, color="k", ls=":", lw=0.8, label=f"unpruned ({hidden} units)")
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(part.width[part.method != "unpruned"].unique()))
            ax.get_xaxis().set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_yscale("log")
            plain_log_ticks(ax, "y")
            ax.set_xlabel(f"hidden units kept (of {hidden}), no retraining")
            ax.set_title(f"{data}: mean ± SE over {part.seed.nunique()} seeds")
        axes[0].set_ylabel("test error")
        handles, labels = [], []
        for style, dashed, label in styles.values():
            st = method_style(style, dashed)
            handles.append(Line2D([], [], color=st["color"], marker=st["marker"], ls=st["ls"],
                                  mfc=st["mfc"], ms=3, lw=0.9))
            labels.append(label)
        handles.append(Line2D([], [], color="k", ls=":", lw=0.8))
        labels.append(f"unpruned ({hidden} units)")
        fig.legend(handles, labels, loc="outside lower center", ncol=4, frameon=False)
        fig.suptitle(f"spectral pruning of one hidden layer ({hidden} units, "
                     f"{int(t.epochs.iloc[0])} epochs) against node pruning; methods shifted "
                     "slightly along x", fontsize=7)
        return fig

    register_figure("mbp_bound", "randomised magnitude pruning (Guha et al.): the bound against "
                    "the measured pruning error, and sparsity against κ(d), on a digits MLP",
                    mbp_sweeps, mbp_plot, order=75)
    register_figure("spectral_pruning", "spectral pruning (Suzuki et al.) against random, "
                    "magnitude and DPP node pruning without retraining, digits and MNIST-1D",
                    spectral_sweeps, spectral_plot, order=85)
    register_figure("theory_vs_experiment", "measured pruned loss of torch teacher–student "
                    "networks against statmech's theory, every method", ts_sweeps, ts_plot,
                    order=60)
    register_figure("digits_pruning", "test error of a pruned digits MLP against the share of "
                    "parameters kept, every method, with and without reweighting",
                    digits_sweeps, digits_plot, order=70)
