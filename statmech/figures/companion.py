"""Gallery figures of the companion papers that need no torch (papers B and D; A and C, which
train torch networks, are registered by ``empirical``)."""

from __future__ import annotations

import numpy as np

from ..plotting.style import figure_legend, method_style, new_figure, plain_log_ticks
from .registry import register_figure

# ------------------------------------------------------------------------------------------
# Paper B: random pruning at initialisation (Yang et al.)

_PS = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.995]


def _pai_sweeps(quality: str) -> dict:
    seeds = list(range(5 if quality == "quick" else 10))
    return {"runs": {"computation": "pruning_at_init",
                     "grid": {"p": _PS, "replicate": seeds}}}


def _pai_plot(tables: dict, quality: str):
    t = tables["runs"]
    g = t.groupby("p").agg(mean=("test_error", "mean"), median=("test_error", "median"),
                           se=("test_error", "sem"), train=("train_error", "mean"),
                           neurons=("signal_neurons", "mean"), snr=("n_snr_q", "first"),
                           n=("test_error", "size"))
    c = t.iloc[0]
    keep = 1.0 - g.index.to_numpy()
    fig, (ax, an) = new_figure(2, height=2.9)
    ax.errorbar(keep, g["mean"], yerr=g["se"], marker="o", color="C0", ms=3, lw=1,
                label="test error, mean ± SE")
    ax.plot(keep, g["median"], "s--", color="C0", ms=3, lw=0.8, mfc="white",
            label="test error, median")
    ax.plot(keep, g["train"], "^:", color="0.4", ms=3, lw=0.8, label="training error")
    ax.axhline(0.5, color="0.6", lw=0.6, ls=(0, (1, 2)), label="chance (0.5)")
    ax.set_xscale("log")
    plain_log_ticks(ax, "x")
    ax.invert_xaxis()
    ax.set_xlabel("fraction of weights kept 1 − p")
    ax.set_ylabel("error")
    ax.set_title(f"test and training error ({int(g.n.iloc[0])} seeds per p)")
    an.plot(keep, g["neurons"], "o-", color="C2", ms=3, lw=1, label="signal-seeing neurons")
    an.set_xscale("log")
    plain_log_ticks(an, "x")
    an.invert_xaxis()
    an.set_xlabel("fraction of weights kept 1 − p")
    an.set_ylabel("signal-seeing neurons (of 2m)", color="C2")
    tw = an.twinx()
    tw.plot(keep, g["snr"], "d--", color="C1", ms=3, lw=0.8, label="n · SNR$_p^q$")
    tw.axhline(1.0, color="C1", lw=0.5, ls=":", label="n · SNR$_p^q$ = 1")
    tw.set_yscale("log")
    tw.set_ylabel("n · SNR$_p^q$ (benign above ~1)", color="C1")
    an.set_title("diagnostics of the same runs")
    figure_legend(fig, ncol=3)
    fig.suptitle(f"random pruning at initialisation: signal + noise patches, d = {int(c.d)}, "
                 f"n = {int(c.n)}, m = {int(c.m)}, q = {c.q:g}, ‖μ‖ = {c.mu_norm:g}, "
                 f"σ$_p$ = {c.sigma_p:g}, η = {c.eta:g}", fontsize=7)
    return fig


register_figure("pruning_at_init", "random pruning at initialisation (Yang et al.): the "
                "U-shaped test error against the pruning fraction, with its diagnostics",
                _pai_sweeps, _pai_plot, order=80)

# ------------------------------------------------------------------------------------------
# Paper D: pruning gaps of random networks (Qian & Klabjan, computable stand-in)

def _look(method: str) -> tuple[str, str]:
    st = method_style(method)
    return st["color"], st["marker"]


_GAP_STYLE = {"magnitude": (_look("magnitude_edge"), "-"),
              "random": (_look("random_edge"), "-"),
              "random_rescaled": (_look("random_edge"), "--")}


def _gap_sweeps(quality: str) -> dict:
    q = quality == "quick"
    return {"gaps": {"computation": "pruning_gap", "params": {"depth": 2},
                     "grid": {"width": [64, 256, 1024], "ratio": [0.1, 0.5],
                              "method": ["magnitude", "random", "random_rescaled"],
                              "replicate": [0] if q else [0, 1, 2, 3, 4]}}}


def _gap_plot(tables: dict, quality: str):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullLocator

    t = tables["gaps"]
    fig, axes = new_figure(2, sharey=True, height=2.9)
    for ax, r in zip(axes, (0.1, 0.5), strict=True):
        part = t[np.isclose(t.ratio, r)]
        for method, ((color, marker), ls) in _GAP_STYLE.items():
            m = part[part.method == method]
            g = m.groupby("width").agg(mx=("max_rel", "mean"), rms=("rms_rel", "mean"),
                                       rec=("pred_recursion", "first"),
                                       sq=("pred_sqrt_depth", "first"))
            w = g.index.to_numpy()
            ax.plot(w, g.rms, marker=marker, color=color, ls="none", ms=4,
                    mfc=color if ls == "-" else "white", zorder=3)
            ax.plot(w, g.mx, marker=marker, color=color, ls="none", ms=2.5, alpha=0.6,
                    zorder=3)
            ax.axhline(g.rec.iloc[0], color=color, ls=ls, lw=0.9, zorder=2)
            ax.axhline(g.sq.iloc[0], color=color, ls=":", lw=0.7, zorder=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_ticks(ax)
        ax.set_xticks(np.sort(part.width.unique()))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("width")
        ax.set_title(f"prune ratio r = {r}, depth 2")
    axes[0].set_ylabel("relative output gap ‖F − F̃‖ / ‖F‖")
    handles, labels = [], []
    for method, ((color, marker), ls) in _GAP_STYLE.items():
        handles.append(Line2D([], [], color=color, marker=marker, ls=ls, lw=0.9, ms=4,
                              mfc=color if ls == "-" else "white"))
        labels.append(f"{method.replace('_', ' ')}: rms gap (marker), recursion (line)")
    handles += [Line2D([], [], color="0.4", marker="o", ls="none", ms=2.5, alpha=0.6),
                Line2D([], [], color="0.4", ls=":", lw=0.7)]
    labels += ["small markers: max gap over inputs",
               "dotted: √L × per-layer closed form (each method's colour)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False,
               fontsize=5.5)
    fig.suptitle("random Gaussian ReLU networks: measured gaps and their predictions",
                 fontsize=7)
    return fig


register_figure("pruning_gaps", "pruning gaps of random networks (Qian & Klabjan stand-in): "
                "measured relative gap against width, beside the closed forms",
                _gap_sweeps, _gap_plot, order=95)
