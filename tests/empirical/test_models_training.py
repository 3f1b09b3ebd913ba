"""empirical.models / training against statmech: the exact one-step update, then distribution."""

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")

import statmech as sm  # noqa: E402
from empirical.models import MLP, CommitteeMachine, order_parameters  # noqa: E402
from empirical.training import (  # noqa: E402
    online_sgd_step,
    sgd_optimizer,
    teacher_labels,
    train_online,
)
from statmech.simulation.backend import get_backend, member_seeds  # noqa: E402
from statmech.simulation.sgd_engine import EngineSettings  # noqa: E402
from statmech.simulation.sgd_full import FullEngine  # noqa: E402


@pytest.mark.parametrize("activation", ["erf", "relu", "linear"])
def test_one_step_matches_statmech_exactly(activation):
    E, N, K, M, B = 3, 40, 3, 2, 4
    eta, eta_v, sigma, kappa = 0.7, 0.3, 0.2, 0.5
    rng = np.random.default_rng(0)
    W, Ws = rng.standard_normal((E, K, N)), rng.standard_normal((E, M, N))
    v, vs = rng.standard_normal((E, K)), rng.standard_normal((E, M))
    x, z = rng.standard_normal((E, B, N)), rng.standard_normal((E, B))
    student = CommitteeMachine(N, K, ensemble=E, activation=activation, W=W, v=v)
    teacher = CommitteeMachine(N, M, ensemble=E, activation=activation, W=Ws, v=vs,
                               train_second_layer=False)
    opt = sgd_optimizer(student, eta, eta_v, weight_decay=kappa)
    xt, zt = torch.as_tensor(x), torch.as_tensor(z)
    online_sgd_step(student, opt, xt, teacher_labels(teacher, xt, sigma, zt))
    model = EngineSettings(N=N, K=K, M=M, eta=eta, eta_v=eta_v, noise=sigma, weight_decay=kappa,
                     batch_size=B, train_second_layer=True, student=activation,
                     teacher=activation, dtype="float64")
    eng = FullEngine(get_backend("numpy"), model, member_seeds(0, E), W, Ws, v, vs)
    eng.step_with(x, z)
    W_ref, _, v_ref = eng.weights()
    np.testing.assert_allclose(student.W.detach().numpy(), W_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(student.v.detach().numpy(), v_ref, rtol=1e-12, atol=1e-14)


def test_torch_students_agree_with_simulate_in_distribution():
    E, N, K, alpha, eta = 300, 30, 2, 3.0, 0.8
    rng = np.random.default_rng(1)
    student = CommitteeMachine(N, K, ensemble=E, seed=1)
    teacher = CommitteeMachine(N, K, ensemble=E, W=rng.standard_normal((E, K, N)),
                               train_second_layer=False)
    train_online(student, teacher, eta=eta, steps=int(alpha * N), seed=2, noise=0.1)
    ours = order_parameters(student, teacher)
    ref = sm.simulate(N, K, eta=eta, alpha=[alpha], ensemble=E, seed=3, noise=0.1,
                      train_second_layer=True)
    ens = ref.order_parameters(-1)
    p = [stats.ks_2samp(sm.generalization_error(ours), ref.eg[:, -1]).pvalue,
         stats.ks_2samp(np.trace(ours.Q, axis1=1, axis2=2), np.trace(ens.Q, axis1=1, axis2=2)
                        ).pvalue,
         stats.ks_2samp(np.trace(ours.R, axis1=1, axis2=2), np.trace(ens.R, axis1=1, axis2=2)
                        ).pvalue]
    assert min(p) > 0.0027 / len(p), p


def test_order_parameters_and_shapes():
    rng = np.random.default_rng(2)
    W, Ws = rng.standard_normal((3, 50)), rng.standard_normal((2, 50))
    s = CommitteeMachine(50, 3, W=W, v=[1.0, -1.0, 0.5])
    t = CommitteeMachine(50, 2, W=Ws, v=[2.0, 2.0], train_second_layer=False)
    op = order_parameters(s, t)
    ref = sm.OrderParameters.from_weights(W, Ws, [1.0, -1.0, 0.5], [2.0, 2.0])
    np.testing.assert_allclose(op.Q, ref.Q)
    np.testing.assert_allclose(op.R, ref.R)
    x = torch.as_tensor(rng.standard_normal((7, 50)))
    assert s(x).shape == (1, 7)
    with pytest.raises(ValueError, match="'W' parameter of CommitteeMachine"):
        CommitteeMachine(50, 3, W=np.zeros((2, 50)))
    with pytest.raises(ValueError, match="'activation'"):
        CommitteeMachine(50, 3, activation="tanh")
    with pytest.raises(ValueError, match="'eta' parameter of sgd_optimizer"):
        sgd_optimizer(s, -1.0)


def test_mlp():
    net = MLP([64, 32, 10], activation="sigmoid")
    assert net(torch.zeros(5, 64)).shape == (5, 10)
    assert sum(p.numel() for p in net.parameters()) == 64 * 32 + 32 + 32 * 10 + 10
    with pytest.raises(ValueError, match="'sizes'"):
        MLP([64])


def test_an_ensemble_with_one_seed_per_member_trains_each_member_as_alone():
    """train_online(seed=[...]) on an E-member student: member e ends where a one-member run
    with seed[e] ends (to rounding); torch's thread count is restored; the bar counts steps."""
    import io

    from statmech._progress import ProgressBar

    N, K, M, steps, seeds = 40, 3, 2, 300, [5, 9, 2]
    rng = np.random.default_rng(3)
    W, Ws, v = (rng.standard_normal((3, K, N)), rng.standard_normal((3, M, N)),
                rng.standard_normal((3, K)))
    student = CommitteeMachine(N, K, ensemble=3, W=W, v=v)
    teacher = CommitteeMachine(N, M, ensemble=3, W=Ws, train_second_layer=False)
    threads = torch.get_num_threads()
    out = io.StringIO()
    with ProgressBar(steps, "test", enabled=True, stream=out, min_interval=0.0) as bar:
        train_online(student, teacher, eta=0.6, steps=steps, noise=0.2, seed=seeds,
                     progress=bar)
        assert bar.done == steps
    assert torch.get_num_threads() == threads
    for e, s in enumerate(seeds):
        one = CommitteeMachine(N, K, W=W[e], v=v[e])
        train_online(one, CommitteeMachine(N, M, W=Ws[e], train_second_layer=False), eta=0.6,
                     steps=steps, noise=0.2, seed=s, progress=False)
        np.testing.assert_allclose(student.W[e].detach().numpy(), one.W[0].detach().numpy(),
                                   rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(student.v[e].detach().numpy(), one.v[0].detach().numpy(),
                                   rtol=1e-12, atol=1e-13)
    with pytest.raises(ValueError, match="'seed' parameter of train_online"):
        train_online(student, teacher, eta=0.6, steps=1, seed=[-1, 2, 3])
    with pytest.raises(ValueError, match="'seed' parameter of train_online"):
        train_online(student, teacher, eta=0.6, steps=1, seed=[1, 2])  # one per member
