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


def test_seeds_trained_together_give_each_seed_its_own_run_and_report_progress(capsys):
    """The seeds are trained as one ensemble, yet every seed's rows equal a run with that seed
    alone (to rounding): the sweep computation (one seed per point) and ``empirical compare``
    (all seeds) agree. Off a terminal, inside plain_progress_lines, both stages say what they
    count."""
    from statmech._progress import plain_progress_lines

    kw = dict(N=60, alpha=5.0, levels=(1, 2), n_masks=6, n_samples=300, noise=0.25,
              methods=("random_edge", "magnitude_node"))
    with plain_progress_lines(0.0):
        both = teacher_student_table(seeds=(3, 8), **kw)
    err = capsys.readouterr().err
    assert "teacher-student: training 2 torch students at once" in err and "SGD steps" in err
    assert "comparisons (seed × method × level)" in err
    alone = teacher_student_table(seeds=(8,), progress=False, **kw)
    assert capsys.readouterr().err == ""
    part = both[both.seed == 8].reset_index(drop=True)
    cols = ["eg_unpruned", "eg_measured", "eg_measured_se", "loss_noisy_measured", "theory",
            "theory_finite_n"]
    np.testing.assert_allclose(part[cols].to_numpy(), alone[cols].to_numpy(), rtol=1e-9)
    assert list(part.method) == list(alone.method) and list(part.level) == list(alone.level)
