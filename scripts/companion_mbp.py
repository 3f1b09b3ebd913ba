"""Companion paper A (Guha, Dubey & Huo, arXiv 2305.18789): the MBP generalisation bound on a
digits MLP, as in the independent CPU check of ``docs/companion_papers.md`` §1.8.

scikit-learn's bundled digits scaled to [0, 1] and split 70/30; a (256, 256) ReLU MLP trained with
Adam, learning rate 1e-3, batch 200, 400 epochs (:func:`empirical.fit.train_classifier`; the check
of §1.8 used scikit-learn's MLPClassifier, whose defaults these mirror, with 400 iterations, and a
small L2 penalty left out here). For d ∈ {0.1, 1, 2, 10}: the measured density of the pruned
weights against κ(d), the largest non-zero row / column count (j_r, j_c) of the widest-input
layer (256 × 256) against the cap 3 · n_in · κ(d), the true maximum change of the correct-class
logit over the training set, γ_req(d), √(Q(d)/m), the margin loss at γ_req, the bound and the
pruned network's test error.
Then d chosen so that γ_req(d) equals the minimum training margin, with the three baselines at
that margin, and the authors' predicted row-count curves 3 n κ(d) for n = 784 and 3072. Usage::

    python scripts/companion_mbp.py [--epochs 400] [--seed 0] [--mask-seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

from empirical import bounds as B
from empirical.fit import train_classifier
from empirical.models import MLP
from statmech.companion import kept_fraction, predicted_max_row_nonzeros, row_col_counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0, help="data split, initialisation, shuffles")
    ap.add_argument("--mask-seed", type=int, default=0, help="seed of the MBP masks")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch / BLAS threads (1 is fastest on a few shared cores)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(a.threads)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    t0 = time.perf_counter()
    data = B.digits_unit_interval(a.seed)
    net = MLP([64, 256, 256, 10], activation="relu", seed=a.seed)
    hist = train_classifier(net, data, epochs=a.epochs, batch_size=200, lr=1e-3, seed=a.seed,
                            device="cpu", progress=False)
    X, y = data.X_train, data.y_train
    m = len(y)
    marg = B.margins(net, X, y)
    print(f"digits [0, 1], 70/30 split: m = {m} training, {len(data.y_test)} test points; "
          f"MLP (64, 256, 256, 10) ReLU, Adam, batch 200, {a.epochs} epochs "
          f"({time.perf_counter() - t0:.1f} s)")
    print(f"train error {hist['train_error'][-1]:.4f}, test error {hist['test_error'][-1]:.4f}, "
          f"min training margin {marg.min():.4f}, max input norm "
          f"{np.linalg.norm(X, axis=1).max():.3f}\n")

    rows = []
    for d in (0.1, 1.0, 2.0, 10.0):
        gb = B.generalization_bound(net, X, y, d, seed=a.mask_seed, X_test=data.X_test,
                                    y_test=data.y_test)
        lins = B._linears(B.mbp_prune_mlp(net, d, seed=a.mask_seed))
        widest = max(lins, key=lambda lin: lin.in_features)
        j_r, j_c = row_col_counts(widest.weight.detach().numpy())
        rows.append({"d": d, "density": gb["density"], "kappa(d)": gb["kappa"],
                     "j_r,j_c (256x256)": f"{j_r},{j_c}",
                     "3*256*kappa": predicted_max_row_nonzeros(widest.in_features, d),
                     "true max logit change": gb["pruning_error"],
                     "gamma_req": gb["gamma_req"], "sqrt(Q/m)": gb["sqrt_q_over_m"],
                     "margin loss at gamma_req": gb["margin_loss"], "bound": gb["bound"],
                     "pruned test error": gb["pruned_test_error"]})
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        print("MBP bound per compression parameter d (§1.5; one mask draw per d, seed "
              f"{a.mask_seed}):")
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    ch = B.choose_d(net, X, y, seed=a.mask_seed)
    gb = B.generalization_bound(net, X, y, ch["d"], seed=a.mask_seed, X_test=data.X_test,
                                y_test=data.y_test)
    print(f"\nchoose_d on [1e-3, 10]: d = {ch['d']:.4g} (bracketed: {ch['bracketed']}), "
          f"gamma_req = {ch['gamma_req']:.4g} vs min margin {ch['min_margin']:.4g}")
    wide = B.choose_d(net, X, y, seed=a.mask_seed, lo=1e-8)
    print(f"  (on [1e-8, 10]: d = {wide['d']:.4g}, bracketed: {wide['bracketed']}, "
          f"kept fraction kappa(d) = {kept_fraction(wide['d']):.4f})")
    print(f"  our bound at that d: margin loss {gb['margin_loss']:.4f} + sqrt(Q/m) "
          f"{gb['sqrt_q_over_m']:.4g} = {gb['bound']:.4g}; pruned test error "
          f"{gb['pruned_test_error']:.4f}")
    print(f"  baselines at gamma = min margin {gb['gamma_baselines']:.4g}, sqrt(term/(gamma^2 m))"
          f" (capacity term/gamma^2):")
    for k in ("neyshabur2015", "bartlett2017", "neyshabur2017"):
        print(f"    {k:14s} {gb[k]:.4g}  ({gb[k + '_capacity']:.4g})")

    ds = (1e-9, 0.5, 1.0, 2.0, 5.0, 10.0)
    curve = pd.DataFrame({"d": ds, "kappa(d)": [kept_fraction(d) for d in ds],
                          "3*784*kappa": [predicted_max_row_nonzeros(784, d) for d in ds],
                          "3*3072*kappa": [predicted_max_row_nonzeros(3072, d) for d in ds]})
    print("\npredicted max non-zeros per row 3 n kappa(d) (the authors' numcounts curves):")
    print(curve.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
