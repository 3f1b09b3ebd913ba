"""Random pruning at initialisation can improve generalisation (paper B).

Yang, Liang, Guo, Wu and Wang, arXiv:2301.00335 (JMLR 26(84), 2025), read as in
``docs/companion_papers.md`` §2: a two-layer network with polynomial-ReLU filters, randomly pruned
at initialisation (a fixed mask, keep probability 1 − p), trained by full-batch gradient
descent on the logistic loss over the "signal patch + noise patch" data of Cao, Chen, Belkin
and Gu (NeurIPS 2022).

* Data (§2.3): y = ±1 with probability 1/2 each; x = (y·μ, ξ), two patches in ℝ^d, with
  ξ ~ N(0, σ_p²(I − μμᵀ/‖μ‖²)). By default μ = ‖μ‖·e₁ (a *sparse* signal, which a random
  mask can miss). This sparsity is our reading, used by the independent simulation of §2.5;
  **paper fidelity pending** (the paper's own signal assumption has not been checked).
* Network (§2.3): f(W, x) = F₊₁(x) − F₋₁(x) with
  F_j(x) = (1/m) Σ_r Σ_patches σ(⟨w_{j,r} ⊙ M_{j,r}, patch⟩), σ(z) = max(0, z)^q, masks
  M_{j,r,k} ~ Bernoulli(1 − p) drawn once, w ~ N(0, σ₀²I) with the masked entries zeroed.
* Training (§2.3, procedure steps 1–6): full-batch GD of step η on
  L(W) = (1/n) Σ_i log(1 + exp(−y_i f(W, x_i))), the gradient multiplied by the masks, until
  L < ε or T_max steps.
* Diagnostics (§2.4): the signal-seeing neurons (masks keeping the support of μ; their count
  is Binomial(2m, 1 − p) for the sparse signal), the effective signal-to-noise ratio
  SNR_p = ‖μ‖ / (σ_p √((1 − p) d)), and the race between the signal coefficients ⟨w_{j,r}, jμ⟩
  and the noise coefficients ⟨w_{y_i,r}, ξ_i⟩.

Implementation: masked GD keeps every filter in w_{j,r}(0) + span{M_{j,r} ⊙ μ, M_{j,r} ⊙ ξ_i},
so the training dynamics are run *exactly* on the 2m × (n + 1) coefficients of that
decomposition (Cao et al.'s signal–noise decomposition), with the per-neuron masked Gram
matrices H_r[a, c] = Σ_k M_{r,k} b_{a,k} b_{c,k} of b = (μ, ξ_1, …, ξ_n) computed once: a GD
step costs O(m n²) instead of O(m n d) (``method="coefficients"``; ``"direct"`` updates the
d-dimensional filters themselves, for checks and for n ≥ d).

Only NumPy is needed (no torch).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .._validation import (
    Boolean,
    Integer,
    InvalidParameterError,
    Real,
    check_choice,
    check_positive_int,
    check_real,
)

__all__ = ["PatchData", "PruningRunResult", "make_patch_data", "network_output",
           "loss_and_gradient", "train_pruned_network", "effective_snr", "run_point",
           "summarize_runs", "test_error_curve", "SWEEP_DEFAULTS", "TRAIN_METHODS"]

#: ``method`` values of :func:`train_pruned_network`.
TRAIN_METHODS = ("auto", "coefficients", "direct")

#: Parameters of the ``"pruning_at_init"`` sweep computation: the §2.5 reference settings.
SWEEP_DEFAULTS = {"d": 1000, "n": 40, "m": 20, "mu_norm": 6.0, "sigma_p": 1.0, "sigma0": 0.01,
                  "q": 3.0, "eta": 0.05, "max_steps": 3000, "loss_tol": 1e-3, "n_test": 2000,
                  "p": 0.0, "sparse_signal": True, "replicate": 0}


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return np.random.default_rng(rng)


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread where ``threadpoolctl`` is installed (optional).

    The products here are small (2m × (n + 1) × d at most); a multi-threaded BLAS on a loaded
    machine makes them many times slower, not faster.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


# ----------------------------------------------------------------------------------------------
# Data model (§2.3)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatchData:
    """Signal-patch + noise-patch data (§2.3): example i is x_i = (y_i·μ, ξ_i).

    Attributes
    ----------
    y : ndarray, shape (n,)
        Labels ±1.
    xi : ndarray, shape (n, d)
        Noise patches ξ_i ~ N(0, σ_p²(I − μμᵀ/‖μ‖²)) (orthogonal to μ).
    mu : ndarray, shape (d,)
        The signal vector μ.
    sigma_p : float
        Noise level σ_p.
    """

    y: np.ndarray
    xi: np.ndarray
    mu: np.ndarray
    sigma_p: float

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.y.shape[0])

    @property
    def d(self) -> int:
        """Patch dimension."""
        return int(self.mu.shape[0])

    @property
    def mu_norm(self) -> float:
        """‖μ‖."""
        return float(np.linalg.norm(self.mu))

    @property
    def patches(self) -> np.ndarray:
        """The inputs as an array of shape (n, 2, d): patch 0 is y·μ, patch 1 is ξ."""
        return np.stack([self.y[:, None] * self.mu[None, :], self.xi], axis=1)

    def fresh(self, n: int, rng: np.random.Generator | int | None = None) -> PatchData:
        """``n`` new examples from the same model (same μ and σ_p), e.g. test data."""
        n = check_positive_int(n, "n", "PatchData.fresh")
        return _draw(n, self.mu, self.sigma_p, _rng(rng))


def _draw(n: int, mu: np.ndarray, sigma_p: float, rng: np.random.Generator) -> PatchData:
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    u = mu / np.linalg.norm(mu)
    xi = sigma_p * rng.standard_normal((n, mu.shape[0]))
    xi -= np.outer(xi @ u, u)  # covariance σ_p²(I − uuᵀ); exact zeros on e₁ when u = e₁
    return PatchData(y=y, xi=xi, mu=mu, sigma_p=float(sigma_p))


def make_patch_data(n: int, d: int, mu_norm: float, sigma_p: float,
                    rng: np.random.Generator | int | None = None,
                    sparse_signal: bool = True) -> PatchData:
    """Draw n examples of the signal + noise patch model (§2.3).

    Parameters
    ----------
    n : int >= 1
        Number of examples; labels are i.i.d. ±1 with probability 1/2 each (not balanced).
    d : int >= 2
        Patch dimension.
    mu_norm : float > 0
        ‖μ‖.
    sigma_p : float > 0
        Noise level: ξ ~ N(0, σ_p²(I − μμᵀ/‖μ‖²)).
    rng : Generator, int or None
        Random source (a seed is passed to :func:`numpy.random.default_rng`).
    sparse_signal : bool
        True (default): μ = ‖μ‖·e₁, the signal on one coordinate, so a random mask keeps it
        with probability 1 − p. This is our reading of the paper's setting (the §2.5
        simulation's choice; **paper fidelity pending**). False: μ along a uniformly random
        direction (dense), which every mask sees partly.

    Returns
    -------
    PatchData
    """
    func = "make_patch_data"
    n = check_positive_int(n, "n", func)
    d = check_positive_int(d, "d", func, minimum=2)
    mu_norm = check_real(mu_norm, "mu_norm", func, low=0.0, low_inclusive=False)
    sigma_p = check_real(sigma_p, "sigma_p", func, low=0.0, low_inclusive=False)
    rng = _rng(rng)
    if sparse_signal:
        mu = np.zeros(d)
        mu[0] = mu_norm
    else:
        u = rng.standard_normal(d)
        mu = mu_norm * u / np.linalg.norm(u)
    return _draw(n, mu, sigma_p, rng)


def effective_snr(mu_norm: float, sigma_p: float, d: int, p: float) -> float:
    """SNR_p = ‖μ‖ / (σ_p √((1 − p) d)), the effective signal-to-noise ratio of §2.4.

    A neuron with keep rate 1 − p sees noise of squared norm ≈ (1 − p)σ_p²d and, if it keeps
    the signal's support, all of ‖μ‖². Benign overfitting needs n·SNR_p^q ≳ 1 (§2.4,
    schematic: the paper's constants and log factors are not included).
    """
    func = "effective_snr"
    p = check_real(p, "p", func, low=0.0, high=1.0, high_inclusive=False)
    d = check_positive_int(d, "d", func)
    sigma_p = check_real(sigma_p, "sigma_p", func, low=0.0, low_inclusive=False)
    mu_norm = check_real(mu_norm, "mu_norm", func, low=0.0)
    return float(mu_norm / (sigma_p * np.sqrt((1.0 - p) * d)))


# ----------------------------------------------------------------------------------------------
# Network and loss (§2.3)
# ----------------------------------------------------------------------------------------------


def _ipow(x: np.ndarray, k: int) -> np.ndarray:
    """x**k for an int k >= 0 by repeated multiplication (much faster than ``**`` on floats)."""
    out = np.ones_like(x) if k == 0 else x
    for _ in range(k - 1):
        out = out * x
    return out


def _act(z: np.ndarray, q: float) -> np.ndarray:
    """σ(z) = max(0, z)^q."""
    return _act_dact(z, q)[0]


def _act_dact(z: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """σ(z) = max(0, z)^q and σ'(z) = q·max(0, z)^(q−1) (the indicator 1{z > 0} for q = 1)."""
    mz = np.maximum(z, 0.0)
    if q == 1.0:
        return mz, (z > 0).astype(float)
    if float(q).is_integer() and q <= 16:
        low = _ipow(mz, int(q) - 1)
    else:
        low = mz ** (q - 1.0)
    return low * mz, q * low


def _outputs(P: np.ndarray, y: np.ndarray, q: float, m: int, sign: np.ndarray) -> np.ndarray:
    """f(W, x_i) from the pre-activations P[:, 0] = ⟨V_r, μ⟩, P[:, 1:] = ⟨V_r, ξ_i⟩ (R = 2m)."""
    act = _act(P[:, :1] * y[None, :], q) + _act(P[:, 1:], q)
    return (sign @ act) / m


def _objective(P: np.ndarray, y: np.ndarray, q: float, m: int,
               sign: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean logistic loss, margins y_i f_i and the loss gradient in the data basis.

    Returns ``(loss, margins, g)`` with ∂L/∂V_r = g[r, 0]·μ + Σ_i g[r, i]·ξ_i (V = W ⊙ M,
    before masking), from

        ∂L/∂V_{j,r} = −(j / (n m)) Σ_i ℓ_i [σ'(y_i⟨V, μ⟩)·μ + y_i σ'(⟨V, ξ_i⟩)·ξ_i],

    ℓ_i = 1 / (1 + exp(y_i f_i)) (the patch y_i·μ contributes y_i·y_i = 1).
    """
    n = y.shape[0]
    act_s, dact_s = _act_dact(P[:, :1] * y[None, :], q)
    act_n, dact_n = _act_dact(P[:, 1:], q)
    f = (sign @ (act_s + act_n)) / m
    margins = y * f
    loss = float(np.logaddexp(0.0, -margins).sum()) / n
    c = np.exp(-np.logaddexp(0.0, margins)) / (n * m)  # ℓ_i / (n m), ℓ_i stable
    g = np.empty_like(P)
    g[:, 0] = dact_s @ c
    g[:, 1:] = dact_n * (c * y)
    g *= -sign[:, None]
    return loss, margins, g


def _check_weights(weights: np.ndarray, masks: np.ndarray, d: int,
                   func: str) -> tuple[np.ndarray, np.ndarray]:
    weights = np.asarray(weights, dtype=float)
    masks = np.asarray(masks)
    if weights.ndim != 3 or weights.shape[0] != 2 or weights.shape[2] != d:
        raise InvalidParameterError(
            f"The 'weights' parameter of {func} must have shape (2, m, {d}). "
                         f"Got shape {weights.shape} instead.")
    if masks.shape != weights.shape or not np.all((masks == 0) | (masks == 1)):
        raise InvalidParameterError(f"The 'masks' parameter of {func} must be a 0/1 array of shape "
                         f"{weights.shape}. Got shape {masks.shape} instead.")
    return weights, masks.astype(bool)


def _sign(m: int) -> np.ndarray:
    return np.concatenate([np.ones(m), -np.ones(m)])


def network_output(weights: np.ndarray, masks: np.ndarray, data: PatchData,
                   q: float = 3.0) -> np.ndarray:
    """f(W, x_i) = F₊₁(x_i) − F₋₁(x_i) for every example of ``data`` (§2.3).

    Parameters
    ----------
    weights : ndarray, shape (2, m, d)
        Filters w_{j,r}; index 0 is class +1, index 1 class −1.
    masks : ndarray of 0/1, shape (2, m, d)
        The pruning masks M_{j,r}.
    data : PatchData
    q : float >= 1
        Exponent of σ(z) = max(0, z)^q.

    Returns
    -------
    ndarray, shape (n,)
    """
    func = "network_output"
    q = check_real(q, "q", func, low=1.0)
    W, M = _check_weights(weights, masks, data.d, func)
    m = W.shape[1]
    V = (W * M).reshape(2 * m, -1)
    P = np.column_stack([V @ data.mu, V @ data.xi.T])
    return _outputs(P, data.y, q, m, _sign(m))


def loss_and_gradient(weights: np.ndarray, masks: np.ndarray, data: PatchData,
                      q: float = 3.0) -> tuple[float, np.ndarray]:
    """Mean logistic loss L(W) = (1/n) Σ_i log(1 + exp(−y_i f(W ⊙ M, x_i))) and ∂L/∂W (§2.3).

    The gradient is with respect to the unmasked weights W, hence already masked:
    ∂L/∂W = M ⊙ ∂L/∂V at V = W ⊙ M (analytic; see :func:`_objective`).

    Parameters
    ----------
    weights, masks : ndarray, shape (2, m, d)
        As in :func:`network_output`.
    data : PatchData
    q : float >= 1

    Returns
    -------
    loss : float
    grad : ndarray, shape (2, m, d)
    """
    func = "loss_and_gradient"
    q = check_real(q, "q", func, low=1.0)
    W, M = _check_weights(weights, masks, data.d, func)
    m = W.shape[1]
    B = np.vstack([data.mu, data.xi])
    V = (W * M).reshape(2 * m, -1)
    loss, _, g = _objective(V @ B.T, data.y, q, m, _sign(m))
    return loss, (g @ B).reshape(W.shape) * M


# ----------------------------------------------------------------------------------------------
# Training (§2.3 procedure)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruningRunResult:
    """One masked-GD run (§2.3 procedure, steps 1–5).

    Attributes
    ----------
    p, q : float
        Pruning rate and activation exponent.
    m : int
        Filters per class.
    train_error, test_error : float
        0–1 errors (a zero output counts 1/2, the expected error of a random tie-break); the
        test error is on fresh data from the same model.
    train_loss, test_loss : float
        Mean logistic losses.
    steps : int
        GD steps taken.
    converged : bool
        Whether the training loss fell below ``loss_tol`` within ``max_steps``.
    signal_neurons : int
        Filters whose mask keeps (part of) the support of μ; for the sparse signal, those with
        M_{j,r,1} = 1, Binomial(2m, 1 − p) (§2.4).
    snr_p : float
        SNR_p = ‖μ‖ / (σ_p √((1 − p) d)) (§2.4).
    max_signal_coefficient, max_noise_coefficient : float
        Final max_{j,r} ⟨w_{j,r} ⊙ M_{j,r}, jμ⟩ and max_{i,r} ⟨w_{y_i,r} ⊙ M_{y_i,r}, ξ_i⟩.
    trajectory_steps, trajectory_loss, trajectory_signal, trajectory_noise : ndarray
        The training loss and the two maxima above every ``record_every`` steps (and at the
        last step): the signal-learning vs noise-memorisation race (§2.3 step 5).
    weights : ndarray, shape (2, m, d)
        Final effective filters W ⊙ M (masked entries are 0).
    masks : ndarray of bool, shape (2, m, d)
    method : str
        The training representation used.
    seconds : float
        Wall time of the run (training and test evaluation).
    """

    p: float
    q: float
    m: int
    train_error: float
    train_loss: float
    test_error: float
    test_loss: float
    steps: int
    converged: bool
    signal_neurons: int
    snr_p: float
    max_signal_coefficient: float
    max_noise_coefficient: float
    trajectory_steps: np.ndarray
    trajectory_loss: np.ndarray
    trajectory_signal: np.ndarray
    trajectory_noise: np.ndarray
    weights: np.ndarray
    masks: np.ndarray
    method: str
    seconds: float


def _error(margins: np.ndarray) -> float:
    return float(np.mean((margins < 0) + 0.5 * (margins == 0)))


def train_pruned_network(data: PatchData, m: int = 20, p: float = 0.0, q: float = 3.0,
                         sigma0: float = 0.01, eta: float = 0.05, max_steps: int = 3000,
                         loss_tol: float = 1e-3,
                         rng: np.random.Generator | int | None = None, *,
                         n_test: int = 2000, test_data: PatchData | None = None,
                         masks: np.ndarray | None = None, record_every: int | None = None,
                         method: str = "auto") -> PruningRunResult:
    """Prune a two-layer polynomial-ReLU network at random at initialisation, then train it by
    masked full-batch GD on the mean logistic loss (§2.3 procedure, steps 2–5).

    Parameters
    ----------
    data : PatchData
        Training data (:func:`make_patch_data`).
    m : int >= 1
        Filters per class (2m in all).
    p : float in [0, 1)
        Pruning rate: each mask entry is kept with probability 1 − p, as M = 1{U ≥ p} with
        U uniform, so runs from the same random state at different p share the data, the
        initialisation and *nested* masks (common random numbers).
    q : float >= 1
        σ(z) = max(0, z)^q; q = 3 in §2.5, q = 1 is the plain ReLU.
    sigma0 : float > 0
        Initialisation scale: w ~ N(0, σ₀²I), masked entries then zeroed.
    eta : float > 0
        GD step size.
    max_steps : int >= 1
        Step cap T_max.
    loss_tol : float > 0
        Stop once the training loss is below this ε.
    rng : Generator, int or None
        Random source for the initialisation, the masks and the test data, drawn in that
        order (the masks' uniforms are drawn even when ``masks`` is given).
    n_test : int >= 1
        Size of the fresh test set (ignored if ``test_data`` is given).
    test_data : PatchData, optional
        Test data (must share μ with ``data``).
    masks : array of 0/1, shape (2, m, d), optional
        Fixed masks overriding the random draw (``p`` then only enters SNR_p).
    record_every : int >= 1, optional
        Trajectory subsampling (default: about 100 records over ``max_steps``).
    method : {"auto", "coefficients", "direct"}
        "coefficients": exact GD on the signal–noise decomposition coefficients (module
        docstring), O(m n²) a step; "direct": GD on the d-dimensional filters, O(m n d) a step;
        "auto": "coefficients" when n + 1 <= d.

    Returns
    -------
    PruningRunResult

    Raises
    ------
    FloatingPointError
        If the training loss or the network outputs become non-finite (GD diverged: lower
        ``eta``).
    """
    func = "train_pruned_network"
    if not isinstance(data, PatchData):
        raise InvalidParameterError(f"The 'data' parameter of {func} must be a PatchData "
                         f"(make_patch_data). Got {type(data).__name__} instead.")
    m = check_positive_int(m, "m", func)
    p = check_real(p, "p", func, low=0.0, high=1.0, high_inclusive=False)
    q = check_real(q, "q", func, low=1.0)
    sigma0 = check_real(sigma0, "sigma0", func, low=0.0, low_inclusive=False)
    eta = check_real(eta, "eta", func, low=0.0, low_inclusive=False)
    max_steps = check_positive_int(max_steps, "max_steps", func)
    loss_tol = check_real(loss_tol, "loss_tol", func, low=0.0, low_inclusive=False)
    n_test = check_positive_int(n_test, "n_test", func)
    record_every = (max(1, -(-max_steps // 100)) if record_every is None
                    else check_positive_int(record_every, "record_every", func))
    method = check_choice(method, "method", func, TRAIN_METHODS)
    if test_data is not None and (not isinstance(test_data, PatchData)
                                  or not np.array_equal(test_data.mu, data.mu)):
        raise InvalidParameterError(
            f"The 'test_data' parameter of {func} must be a PatchData with the "
                         f"same signal vector mu as 'data'.")
    with _one_blas_thread():
        return _train(data, m, p, q, sigma0, eta, max_steps, loss_tol, _rng(rng), n_test,
                      test_data, masks, record_every, method)


def _train(data: PatchData, m: int, p: float, q: float, sigma0: float, eta: float,
           max_steps: int, loss_tol: float, rng: np.random.Generator, n_test: int,
           test_data: PatchData | None, masks: np.ndarray | None, record_every: int,
           method: str) -> PruningRunResult:
    """The body of :func:`train_pruned_network` (arguments validated)."""
    func = "train_pruned_network"
    t0 = time.perf_counter()
    n, d = data.n, data.d
    R = 2 * m
    sign = _sign(m)
    W0 = sigma0 * rng.standard_normal((R, d))
    U = rng.random((R, d))
    if masks is None:
        M = U >= p
    else:
        _, M = _check_weights(np.zeros((2, m, d)), masks, d, func)
        M = M.reshape(R, d)
    V0 = W0 * M
    B = np.vstack([data.mu, data.xi])  # (n + 1, d): μ, ξ_1, …, ξ_n
    if method == "auto":
        method = "coefficients" if n + 1 <= d else "direct"
    P0 = V0 @ B.T
    if method == "coefficients":
        H = np.empty((R, n + 1, n + 1))
        for r in range(R):
            Bk = B[:, M[r]]
            H[r] = Bk @ Bk.T
        coef = np.zeros((R, n + 1))
    else:
        V = V0.copy()
    same_class = sign[:, None] == data.y[None, :]
    rec_t, rec_loss, rec_sig, rec_noise = [], [], [], []

    def race(P: np.ndarray) -> tuple[float, float]:
        sig = float(np.max(sign * P[:, 0])) + 0.0  # + 0.0: no -0.0
        noise = float(np.max(P[:, 1:], where=same_class, initial=-np.inf)) + 0.0
        return sig, noise

    t = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            if method == "coefficients":
                P = P0 + np.matmul(coef[:, None, :], H)[:, 0, :]
            else:
                P = V @ B.T
            loss, margins, g = _objective(P, data.y, q, m, sign)
            if not (np.isfinite(loss) and np.all(np.isfinite(margins))):
                raise FloatingPointError(
                    f"{func} diverged at step {t}: the training loss became non-finite "
                    f"(loss={loss}). Lower 'eta' (got {eta}) or 'sigma0' (got {sigma0}).")
            done = loss < loss_tol or t >= max_steps
            if t % record_every == 0 or done:
                s, z = race(P)
                rec_t.append(t)
                rec_loss.append(loss)
                rec_sig.append(s)
                rec_noise.append(z)
            if done:
                break
            if method == "coefficients":
                coef -= eta * g
            else:
                V -= eta * (g @ B) * M
            t += 1
    if method == "coefficients":
        V = V0 + (coef @ B) * M
    test = data.fresh(n_test, rng) if test_data is None else test_data
    P_test = np.column_stack([V @ test.mu, V @ test.xi.T])
    test_loss, test_margins, _ = _objective(P_test, test.y, q, m, sign)
    support = data.mu != 0
    return PruningRunResult(
        p=p, q=q, m=m, train_error=_error(margins), train_loss=loss,
        test_error=_error(test_margins), test_loss=test_loss, steps=t,
        converged=bool(loss < loss_tol),
        signal_neurons=int(np.count_nonzero(np.any(M[:, support], axis=1))),
        snr_p=effective_snr(data.mu_norm, data.sigma_p, d, p),
        max_signal_coefficient=rec_sig[-1], max_noise_coefficient=rec_noise[-1],
        trajectory_steps=np.asarray(rec_t), trajectory_loss=np.asarray(rec_loss),
        trajectory_signal=np.asarray(rec_sig), trajectory_noise=np.asarray(rec_noise),
        weights=V.reshape(2, m, d), masks=M.reshape(2, m, d), method=method,
        seconds=time.perf_counter() - t0)


# ----------------------------------------------------------------------------------------------
# Sweeps (§2.5)
# ----------------------------------------------------------------------------------------------


def run_point(config: dict, seed: int):
    """One run of the §2.5 experiment as a one-row table (the sweep computation's body).

    ``config`` holds the keys of :data:`SWEEP_DEFAULTS` (missing keys take those defaults);
    the run's random state is ``numpy.random.default_rng(seed)``, drawing the training data,
    then the initialisation, the masks and the test data. A diverged run gives a row with
    ``diverged`` True and NaN errors rather than an exception.

    Returns
    -------
    pandas.DataFrame
        Columns p, q, train_error, train_loss, test_error, test_loss, steps, converged,
        diverged, signal_neurons, snr_p, n_snr_q (= n·SNR_p^q, §2.4), max_signal_coefficient,
        max_noise_coefficient, seconds.
    """
    import pandas as pd

    unknown = sorted(set(config) - set(SWEEP_DEFAULTS))
    if unknown:
        raise InvalidParameterError(f"Unknown parameter(s) {unknown} for pruning_at_init; it takes "
                         f"{sorted(SWEEP_DEFAULTS)}.")
    c = {**SWEEP_DEFAULTS, **config}
    rng = np.random.default_rng(seed)
    data = make_patch_data(c["n"], c["d"], c["mu_norm"], c["sigma_p"], rng,
                           sparse_signal=bool(c["sparse_signal"]))
    snr = effective_snr(c["mu_norm"], c["sigma_p"], c["d"], c["p"])
    row = {"p": float(c["p"]), "q": float(c["q"])}
    t0 = time.perf_counter()
    try:
        res = train_pruned_network(data, c["m"], c["p"], c["q"], c["sigma0"], c["eta"],
                                   c["max_steps"], c["loss_tol"], rng, n_test=c["n_test"])
    except FloatingPointError:
        nan = float("nan")
        row.update(train_error=nan, train_loss=nan, test_error=nan, test_loss=nan, steps=-1,
                   converged=False, diverged=True, signal_neurons=-1, snr_p=snr,
                   n_snr_q=c["n"] * snr ** float(c["q"]), max_signal_coefficient=nan,
                   max_noise_coefficient=nan, seconds=time.perf_counter() - t0)
    else:
        row.update(train_error=res.train_error, train_loss=res.train_loss,
                   test_error=res.test_error, test_loss=res.test_loss, steps=res.steps,
                   converged=res.converged, diverged=False, signal_neurons=res.signal_neurons,
                   snr_p=res.snr_p, n_snr_q=c["n"] * res.snr_p ** res.q,
                   max_signal_coefficient=res.max_signal_coefficient,
                   max_noise_coefficient=res.max_noise_coefficient, seconds=res.seconds)
    return pd.DataFrame([row])


#: Declared constraints of the sweep parameters (checked before any point runs).
SWEEP_CONSTRAINTS = {
    "d": [Integer(1)], "n": [Integer(1)], "m": [Integer(1)], "max_steps": [Integer(1)],
    "n_test": [Integer(1)], "p": [Real(0.0, 1.0, closed="left")], "q": [Real(1.0)],
    "eta": [Real(0.0, closed="neither")], "sigma0": [Real(0.0, closed="neither")],
    "sigma_p": [Real(0.0, closed="neither")], "loss_tol": [Real(0.0, closed="neither")],
    "mu_norm": [Real(0.0)], "sparse_signal": [Boolean()], "replicate": [Integer(0)],
}


def pruning_at_init_point(config: dict, seed: int):
    """Paper B (§2.5): masked GD after random pruning at rate p; one row per run."""
    return run_point(config, seed)


def summarize_runs(runs, by: str | list[str] = "p"):
    """Per-p summary of run rows (:func:`run_point` or a ``pruning_at_init`` sweep), §2.5.

    Returns
    -------
    pandas.DataFrame
        One row per value of ``by``: runs, mean / median / standard error of the test error,
        mean train error, mean signal-seeing neurons, SNR_p, n·SNR_p^q, the fraction of runs
        converged (loss < ε) and diverged, mean steps, mean and total seconds.
    """
    keys = [by] if isinstance(by, str) else list(by)
    grouped = runs.groupby(keys, sort=True)
    out = grouped.agg(
        runs=("test_error", "size"),
        mean_test_error=("test_error", "mean"),
        median_test_error=("test_error", "median"),
        sem_test_error=("test_error", "sem"),
        mean_train_error=("train_error", "mean"),
        mean_signal_neurons=("signal_neurons", "mean"),
        snr_p=("snr_p", "first"),
        n_snr_q=("n_snr_q", "first"),
        converged=("converged", "mean"),
        diverged=("diverged", "mean"),
        mean_steps=("steps", "mean"),
        mean_seconds=("seconds", "mean"),
        total_seconds=("seconds", "sum"),
    )
    return out.reset_index()


def test_error_curve(ps: Iterable[float], seeds: int | Iterable[int], *,
                     return_runs: bool = False, **settings):
    """The test error against the pruning rate p (§2.5), computed serially.

    Parameters
    ----------
    ps : iterable of float in [0, 1)
        Pruning rates.
    seeds : int or iterable of int
        Seeds (an int s means range(s)). Each seed is used at every p, so the runs at one seed
        share data, initialisation and nested masks (common random numbers across p).
    return_runs : bool
        Also return the per-run table.
    **settings
        Any key of :data:`SWEEP_DEFAULTS` except p and replicate (default: the §2.5 values).

    Returns
    -------
    pandas.DataFrame
        :func:`summarize_runs` of the runs (and the runs, if ``return_runs``).
    """
    import pandas as pd

    func = "test_error_curve"
    bad = sorted(set(settings) - (set(SWEEP_DEFAULTS) - {"p", "replicate"}))
    if bad:
        raise ValueError(f"Unknown setting(s) {bad} for {func}; it takes "
                         f"{sorted(set(SWEEP_DEFAULTS) - {'p', 'replicate'})}.")
    ps = [check_real(p, "ps", func, low=0.0, high=1.0, high_inclusive=False) for p in ps]
    if not ps:
        raise InvalidParameterError(
            f"The 'ps' parameter of {func} must be a non-empty list of floats in "
                         f"[0, 1).")
    seeds = (range(check_positive_int(seeds, "seeds", func)) if isinstance(seeds, int)
             else [check_positive_int(s, "seeds", func, minimum=0) for s in seeds])
    rows = []
    for seed in seeds:
        for p in ps:
            row = run_point({**settings, "p": p}, seed)
            row["seed"] = seed
            rows.append(row)
    runs = pd.concat(rows, ignore_index=True)
    summary = summarize_runs(runs)
    return (summary, runs) if return_runs else summary


test_error_curve.__test__ = False  # not a pytest test, despite its name
