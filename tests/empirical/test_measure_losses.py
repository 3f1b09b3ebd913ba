"""empirical.pruning.measure_losses: several students on common inputs, one input set per member.

The design under test: member e of every student sees the same inputs x_e, different members see
independent inputs. So within one student the per-member losses are i.i.d. (when the members
are), and the standard error over members is honest; across students the losses are
correlated, which must not change any student's own standard error.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import statmech as sm  # noqa: E402
from empirical.models import CommitteeMachine, order_parameters  # noqa: E402
from empirical.pruning import measure_loss, measure_losses, prune_committee  # noqa: E402

N, K, M = 50, 4, 2


def _pair(seed=0, activation="erf"):
    rng = np.random.default_rng(seed)
    teacher = CommitteeMachine(N, M, W=rng.standard_normal((M, N)), v=[2.0, 1.5],
                               activation=activation, train_second_layer=False)
    # a student near the teacher (two units per teacher unit, plus noise)
    W = np.repeat(teacher.W[0].detach().numpy(), 2, axis=0) + 0.5 * rng.standard_normal((K, N))
    student = CommitteeMachine(N, K, W=W, v=[1.0, 1.0, 0.7, 0.7], activation=activation)
    return student, teacher


def test_measure_losses_equals_a_direct_computation_on_the_same_draws():
    """The fused computation (one product for every network, activations grouped, a block
    matrix of second-layer weights) gives each network's own forward pass; chunking kept."""
    E, n, chunk, sigma, seed = 3, 20, 7, 0.3, 11
    rng = np.random.default_rng(1)
    a = CommitteeMachine(N, K, ensemble=E, W=rng.standard_normal((E, K, N)),
                         v=rng.standard_normal((E, K)))
    b = CommitteeMachine(N, 2, ensemble=E, W=rng.standard_normal((E, 2, N)), activation="relu",
                         v=rng.standard_normal((E, 2)))
    c = CommitteeMachine(N, 1, ensemble=E, W=rng.standard_normal((E, 1, N)),
                         v=rng.standard_normal((E, 1)))
    teacher = CommitteeMachine(N, M, W=rng.standard_normal((M, N)), v=[1.0, -2.0],
                               train_second_layer=False)
    clean, noisy = measure_losses([a, b, c], teacher, n_samples=n, noise=sigma, seed=seed,
                                  chunk=chunk)
    gen = torch.Generator().manual_seed(seed)
    ref_clean, ref_noisy = np.zeros((3, E)), np.zeros((3, E))
    done = 0
    with torch.no_grad():
        while done < n:
            m = min(chunk, n - done)
            x = torch.randn((E, m, N), generator=gen, dtype=torch.float64)
            z = torch.randn((E, m, 1), generator=gen, dtype=torch.float64)[..., 0]
            y = teacher(x)
            for i, s in enumerate((a, b, c)):
                d = s(x) - y
                ref_clean[i] += 0.5 * (d**2).sum(1).numpy()
                ref_noisy[i] += 0.5 * ((d - sigma * z) ** 2).sum(1).numpy()
            done += m
    np.testing.assert_allclose(clean, ref_clean / n, rtol=1e-12)
    np.testing.assert_allclose(noisy, ref_noisy / n, rtol=1e-12)
    # measure_loss is one student of measure_losses
    np.testing.assert_allclose(measure_loss(b, teacher, n_samples=n, seed=seed, chunk=chunk),
                               clean[1], rtol=1e-12)
    np.testing.assert_allclose(measure_loss(b, teacher, n_samples=n, noise=sigma, seed=seed,
                                            chunk=chunk), noisy[1], rtol=1e-12)


def test_a_students_losses_do_not_depend_on_the_other_students():
    student, teacher = _pair()
    pruned, _ = prune_committee(student, "random_node", keep=2, n_masks=8, seed=1)
    other, _ = prune_committee(student, "random_edge", keep=10, n_masks=8, seed=2)
    alone = measure_losses([pruned], teacher, n_samples=300, noise=0.2, seed=3)
    together = measure_losses([other, pruned, pruned], teacher, n_samples=300, noise=0.2,
                              seed=3)
    for i in (0, 1):
        np.testing.assert_allclose(together[i][1], alone[i][0], rtol=1e-12)
        np.testing.assert_array_equal(together[i][1], together[i][2])  # shared inputs
    # member e's inputs are its own: one student's members are not all equal
    assert np.unique(alone[0][0]).size == alone[0][0].size


def test_measure_losses_refuses_mismatched_students():
    student, teacher = _pair()
    with pytest.raises(ValueError, match="'students' parameter of measure_losses"):
        measure_losses([student, CommitteeMachine(N, K, ensemble=2)], teacher)
    with pytest.raises(ValueError, match="'students' parameter of measure_losses"):
        measure_losses([], teacher)
    with pytest.raises(ValueError, match="'teacher' parameter of measure_losses"):
        measure_losses([student], CommitteeMachine(N + 1, M))
    with pytest.raises(ValueError, match="'chunk' parameter of measure_losses"):
        measure_losses([student], teacher, chunk=0)


def test_the_standard_error_over_masks_is_honest_for_every_row_of_a_shared_call():
    """Two rows (random-node pruning to 2 and to 3 units) measured together, so on the same
    inputs, R times with independent seeds. Honest SE: E[SE²] = E[(mean − exact)²], the exact
    value being the mask-averaged ε_g (exact for node methods: the kept units' order parameters
    are sub-blocks). So d = (mean − exact)² − SE² must average to 0 (within 4 of its own SEs),
    and z = (mean − exact)/SE to 0. Negative control: the same statistic when every mask is
    measured on one shared input set (the design measure_losses avoids) is far from 0 — the
    test can see a dishonest SE. The student's units are similar, so that the input-sampling
    noise is a large part of the variance."""
    rng = np.random.default_rng(4)
    Wt = rng.standard_normal((M, N))
    teacher = CommitteeMachine(N, M, W=Wt, v=[2.0, 1.5], train_second_layer=False)
    W = (Wt[0] + Wt[1]) / np.sqrt(2) + 0.3 * rng.standard_normal((K, N))
    student = CommitteeMachine(N, K, W=W, v=np.full(K, 1.0))
    op = order_parameters(student, teacher)
    levels = (2, 3)
    truth = np.array([sm.prune_theory(op, "random_node", k, N=N).mean_eg for k in levels])
    R, masks, n = 150, 30, 100
    d, z, d_shared = np.empty((R, 2)), np.empty((R, 2)), np.empty(R)
    for r in range(R):
        rows = [prune_committee(student, "random_node", keep=k, n_masks=masks,
                                seed=10_000 + 2 * r + i)[0] for i, k in enumerate(levels)]
        clean, _ = measure_losses(rows, teacher, n_samples=n, seed=20_000 + r)
        se2 = clean.var(axis=1, ddof=1) / masks
        d[r] = (clean.mean(axis=1) - truth) ** 2 - se2
        z[r] = (clean.mean(axis=1) - truth) / np.sqrt(se2)
        # negative control: the first row's masks, each a one-member student, all on one input
        # set (a one-member student's member 0 gets the same inputs whatever the student)
        ones = [CommitteeMachine(N, levels[0], W=rows[0].W[m].detach(), v=rows[0].v[m].detach())
                for m in range(masks)]
        shared = measure_losses(ones, teacher, n_samples=n, seed=20_000 + r)[0][:, 0]
        d_shared[r] = (shared.mean() - truth[0]) ** 2 - shared.var(ddof=1) / masks

    def standardised(a):
        return a.mean() / (a.std(ddof=1) / np.sqrt(a.size))

    for j in range(2):
        assert abs(standardised(d[:, j])) < 4, (j, standardised(d[:, j]))
        assert abs(standardised(z[:, j])) < 4, (j, standardised(z[:, j]))
    assert standardised(d_shared) > 4, standardised(d_shared)
