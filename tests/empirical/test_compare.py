"""empirical.compare: trained torch students, pruned, measured against theory."""

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("torch")
from empirical.compare import teacher_student_table  # noqa: E402


def test_teacher_student_table_agrees_with_theory():
    df = teacher_student_table(N=100, alpha=20.0, seeds=(0, 1), levels=(2,), n_masks=40,
                               n_samples=2000, noise=0.25,
                               methods=("random_edge", "dpp_edge", "random_node", "dpp_node"))
    assert len(df) == 2 * 4
    # a deterministic spread check: every row's measured value is within the family-wise band
    # of its own (masks × samples) standard error around the finite-N theory
    z = (df["eg_measured"] - df["theory_finite_n"]) / df["eg_measured_se"]
    assert np.all(np.abs(z) < stats.norm.isf(0.0027 / len(df) / 2)), z.to_numpy()
    # noisy labels: measured loss ≈ ε_g + σ²/2
    gap = df["loss_noisy_measured"] - df["eg_measured"]
    assert np.all(np.abs(gap - 0.25**2 / 2) < 0.05)
