"""Teacher–student data through statmech's generator: the same inputs as statmech.simulate."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import statmech as sm  # noqa: E402
from empirical import (  # noqa: E402
    CommitteeMachine,
    TeacherStudentStream,
    order_parameters,
    teacher_student_dataset,
    train_online,
)


@pytest.mark.parametrize("noise,batch", [(0.0, 1), (0.3, 2)])
def test_torch_training_on_the_stream_reproduces_simulate(noise, batch):
    """Same seed, same initial weights: the torch student follows simulate's trajectory."""
    N, K, M, E, eta, alpha = 50, 3, 2, 4, 0.7, 3.0
    rng = np.random.default_rng(0)
    Wt, W0 = rng.standard_normal((E, M, N)), rng.standard_normal((E, K, N))
    ens = sm.simulate(N, K, M, eta=eta, alpha=[0.0, alpha], ensemble=E, seed=5,
                      backend=sm.BackendOptions("torch", device="cpu"), teacher=Wt,
                      init=sm.StudentInit(weights=W0, v=0.5), noise=noise,
                      train_second_layer=True, batch_size=batch)
    student = CommitteeMachine(N, K, ensemble=E, W=W0, v=np.full(K, 0.5))
    teacher = CommitteeMachine(N, M, ensemble=E, W=Wt, train_second_layer=False)
    train_online(student, teacher, eta=eta, steps=int(alpha * N), noise=noise, seed=5,
                 batch_size=batch)
    op = order_parameters(student, teacher)
    np.testing.assert_allclose(op.Q, ens.Q[:, -1], atol=1e-12)
    np.testing.assert_allclose(op.R, ens.R[:, -1], atol=1e-12)
    np.testing.assert_allclose(op.v, ens.v[:, -1], atol=1e-12)
    # negative control: another data seed gives a different trajectory
    other = CommitteeMachine(N, K, ensemble=E, W=W0, v=np.full(K, 0.5))
    train_online(other, teacher, eta=eta, steps=int(alpha * N), noise=noise, seed=6,
                 batch_size=batch)
    assert np.abs(order_parameters(other, teacher).Q - ens.Q[:, -1]).max() > 1e-3


def test_stream_shapes_member_independence_and_errors():
    teacher = CommitteeMachine(20, 2, W=np.ones((2, 20)), train_second_layer=False)
    s4 = TeacherStudentStream(teacher, ensemble=4, batch_size=3, noise=0.1, seed=1)
    s2 = TeacherStudentStream(teacher, ensemble=2, batch_size=3, noise=0.1, seed=1)
    x4, y4 = next(s4)
    x2, y2 = next(s2)
    assert x4.shape == (4, 3, 20) and y4.shape == (4, 3)
    np.testing.assert_array_equal(x4[:2].numpy(), x2.numpy())  # member i ignores E
    np.testing.assert_array_equal(y4[:2].numpy(), y2.numpy())
    for kw, name in [({"ensemble": 0}, "ensemble"), ({"batch_size": 0}, "batch_size"),
                     ({"noise": -1.0}, "noise"), ({"seed": -2}, "seed")]:
        with pytest.raises(ValueError, match=f"'{name}' parameter of TeacherStudentStream"):
            TeacherStudentStream(teacher, **kw)
    two = CommitteeMachine(20, 2, ensemble=2, train_second_layer=False)
    with pytest.raises(ValueError, match="1 or ensemble=3"):
        TeacherStudentStream(two, ensemble=3)


def test_teacher_student_dataset():
    rng = np.random.default_rng(3)
    teacher = CommitteeMachine(30, 2, W=rng.standard_normal((2, 30)), v=[1.0, 2.0],
                               train_second_layer=False)
    ds = teacher_student_dataset(teacher, 500, 2000, noise=0.5, seed=2)
    assert ds.X_train.shape == (500, 30) and ds.y_test.shape == (2000,)
    # the test labels are noiseless teacher outputs, the training labels noisy ones
    with torch.no_grad():
        clean = teacher(torch.as_tensor(ds.X_train)[None])[0].numpy()
    resid = ds.y_train - clean
    se = 0.5**2 * np.sqrt(2 / resid.size)  # SE of a variance estimate of N(0, σ²)
    assert abs(resid.var() - 0.25) < 4 * se
    with torch.no_grad():
        np.testing.assert_allclose(teacher(torch.as_tensor(ds.X_test)[None])[0].numpy(),
                                   ds.y_test)
    with pytest.raises(ValueError, match="'n_train' parameter"):
        teacher_student_dataset(teacher, 0)


def test_one_seed_per_member_gives_each_member_its_one_member_stream():
    """seed=[a, b]: member 0 draws what a one-member stream with seed a draws, member 1 what
    one with seed b draws (how teacher_student_table trains its seeds as one ensemble)."""
    rng = np.random.default_rng(0)
    teacher = CommitteeMachine(20, 2, ensemble=2, W=rng.standard_normal((2, 2, 20)),
                               train_second_layer=False)
    both = TeacherStudentStream(teacher, batch_size=3, noise=0.2, seed=[7, 4])
    alone = [TeacherStudentStream(CommitteeMachine(20, 2, W=teacher.W[e].detach(),
                                                   train_second_layer=False),
                                  batch_size=3, noise=0.2, seed=s) for e, s in enumerate((7, 4))]
    for _ in range(both.block_steps + 2):  # across a block boundary
        x, y = both.next_batch()
        for e in range(2):
            xe, ye = alone[e].next_batch()
            np.testing.assert_array_equal(x[e].numpy(), xe[0].numpy())
            np.testing.assert_array_equal(y[e].numpy(), ye[0].numpy())
    for bad in ([1], [1, -1], (1, 2.5), "12"):
        with pytest.raises(ValueError, match="'seed' parameter of TeacherStudentStream"):
            TeacherStudentStream(teacher, seed=bad)


def test_masked_torch_finetuning_reproduces_masked_simulate():
    """A pruned torch student fine-tuned with its masks follows simulate(mask=...) on the same
    stream (and its pruned weights stay zero); without the mask it does not."""
    N, K, M, E, eta, alpha = 60, 3, 2, 3, 0.7, 3.0
    rng = np.random.default_rng(2)
    Wt, W0 = rng.standard_normal((E, M, N)), rng.standard_normal((E, K, N))
    mask = rng.random((E, K, N)) < 0.5
    ens = sm.simulate(N, K, M, eta=eta, alpha=[0.0, alpha], ensemble=E, seed=7,
                      backend=sm.BackendOptions("torch", device="cpu"), teacher=Wt,
                      init=sm.StudentInit(weights=W0, v=0.5, mask=mask), noise=0.2,
                      train_second_layer=True)
    student = CommitteeMachine(N, K, ensemble=E, W=W0, v=np.full(K, 0.5))
    teacher = CommitteeMachine(N, M, ensemble=E, W=Wt, train_second_layer=False)
    train_online(student, teacher, eta=eta, steps=int(alpha * N), noise=0.2, seed=7,
                 mask=mask)
    op = order_parameters(student, teacher)
    np.testing.assert_allclose(op.Q, ens.Q[:, -1], atol=1e-12)
    np.testing.assert_allclose(op.R, ens.R[:, -1], atol=1e-12)
    assert np.all(student.W.detach().numpy()[~mask] == 0)
    dense = CommitteeMachine(N, K, ensemble=E, W=np.where(mask, W0, 0.0), v=np.full(K, 0.5))
    train_online(dense, teacher, eta=eta, steps=int(alpha * N), noise=0.2, seed=7)
    assert np.abs(order_parameters(dense, teacher).Q - ens.Q[:, -1]).max() > 1e-3
    with pytest.raises(sm.InvalidParameterError, match="'mask' parameter of train_online"):
        train_online(student, teacher, eta=eta, steps=1, mask=np.ones((K, N + 1), bool))


def test_masked_torch_finetuning_agrees_with_the_masked_ode():
    """Torch students at N = 2000, pruned by DPP edge to 60 % and fine-tuned with their masks,
    against the masked ODE from each student's own cells (paired, 3 standard errors)."""
    N, K, M, E = 2000, 3, 2, 12
    op = sm.OrderParameters.random(K, M, 400, seed=4, v_star=[1.0, 1.5])
    op = sm.integrate(op, eta=0.6, alpha=[0.0, 30.0], train_second_layer=True).at(-1)
    rng = np.random.default_rng(9)
    from statmech.theory.masked import synthetic_coordinates

    Z = [synthetic_coordinates(op, N, seed=int(s)) for s in rng.integers(2**31, size=E)]
    W = np.stack([z[:, :K].T for z in Z])
    Ws = np.stack([z[:, K:].T for z in Z])
    masks, theory = [], []
    for e in range(E):
        res = sm.prune_student("dpp_edge", W[e], op.v, keep=int(0.6 * N), seed=e)
        masks.append(res.mask[0])
        theory.append(sm.retrain_pruned(res, Ws[e], v_star=op.v_star, alpha=[0.0, 5.0],
                                        eta=0.6, train_second_layer=True).eg[-1])
    student = CommitteeMachine(N, K, ensemble=E, W=W, v=np.broadcast_to(op.v, (E, K)))
    teacher = CommitteeMachine(N, M, ensemble=E, W=Ws, v=np.broadcast_to(op.v_star, (E, M)),
                               train_second_layer=False)
    train_online(student, teacher, eta=0.6, steps=5 * N, seed=list(range(E)),
                 mask=np.stack(masks))
    eg = sm.generalization_error(order_parameters(student, teacher))
    d = np.asarray(eg) - np.array(theory)
    assert abs(d.mean()) < 3 * d.std(ddof=1) / np.sqrt(E), (d.mean(), d.std(ddof=1))
