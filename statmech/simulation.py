"""Monte Carlo simulation of online SGD in teacher–student ensembles: :func:`simulate`.

Two engines share the model, the scalings and the random-stream layout
(:mod:`statmech.sgd_engine`): ``method="full"`` trains E explicit networks of input dimension N
(:mod:`statmech.sgd_full`); ``method="reduced"`` runs the exact finite-N Markov chain on the
order parameters, at a cost per step independent of N (:mod:`statmech.reduced_chain`).

Initial state of member i (its own stream, so independent of E):

* teacher rows w*_m ~ N(0, I_N), or the given ``teacher`` weights;
* student rows w_k ~ N(0, init_scale² I_N), or the given ``init`` (weights, or
  :class:`OrderParameters`, whose weights are then drawn Haar given their Gram matrices);
* v = ``init_v`` + ``init_v_scale`` · N(0, 1) per unit (default 1: the soft committee machine),
  or ``init.v`` when ``init`` is an OrderParameters; v* = ``v_star``.

For ``method="reduced"`` the same law is drawn directly in order-parameter space (Bartlett
decompositions), so the two engines start from identically distributed states.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._linalg import bartlett_factor
from ._progress import ProgressBar
from ._validation import _fmt, check_choice, check_positive_int, check_real
from .backend import get_backend, member_seeds
from .ensemble import Ensemble
from .generalization import eg_from_order_parameters, resolve_activations
from .ode import DIVERGENCE_FACTOR, _check_alpha, _divergence_message
from .order_parameters import OrderParameters
from .reduced_chain import ReducedEngine
from .sgd_engine import STREAM_INIT, SGDModel, child_seed
from .sgd_full import FullEngine, full_block_steps
from .weights_reconstruction import reconstruct_member, student_given_teacher

__all__ = ["SIMULATION_METHODS", "ReconstructionWarning", "simulate"]

SIMULATION_METHODS = ("full", "reduced")
_CHUNK_BYTES = 512 * 2**20  # memory budget of one batch of full-N members


class ReconstructionWarning(UserWarning):
    """Weights reconstructed from a reduced-chain run are not exact in law."""


def _check_weights(value: Any, name: str, rows: int, N: int, E: int) -> np.ndarray:
    msg = (f"The {name!r} parameter of simulate must be a finite array of shape ({rows}, {N}) "
           f"or ({E}, {rows}, {N}).")
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{msg} Got {_fmt(value)} instead.") from None
    if a.shape not in ((rows, N), (E, rows, N)) or not np.all(np.isfinite(a)):
        raise ValueError(f"{msg} Got an array of shape {a.shape} instead.")
    return np.broadcast_to(a, (E, rows, N))


def _check_per_unit(value: Any, name: str, n: int, E: int) -> np.ndarray:
    msg = (f"The {name!r} parameter of simulate must be a finite float or an array of shape "
           f"({n},) or ({E}, {n}).")
    if isinstance(value, bool | str) or value is None:
        raise ValueError(f"{msg} Got {_fmt(value)} instead.")
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{msg} Got {_fmt(value)} instead.") from None
    if a.shape not in ((), (n,), (E, n)) or not np.all(np.isfinite(a)):
        raise ValueError(f"{msg} Got {_fmt(value)} instead.")
    return np.array(np.broadcast_to(a, (E, n)), dtype=float)


def _steps(alpha: Any, N: int) -> np.ndarray:
    """Whole step counts of the requested output times (α·N rounded)."""
    scalar = np.ndim(alpha) == 0 and not isinstance(alpha, str | bool)
    a = _check_alpha(alpha, "simulate")
    steps = np.rint(a * N).astype(np.int64)
    if scalar:
        return np.unique(steps)
    if np.any(np.diff(steps) <= 0):
        i = int(np.argmax(np.diff(steps) <= 0))
        raise ValueError(
            f"The 'alpha' parameter of simulate has outputs closer than one SGD step (1/N = "
            f"{1 / N:g}): alpha[{i}] = {a[i]:g} and alpha[{i + 1}] = {a[i + 1]:g} round to the "
            "same step.")
    return steps


def _init_full(E, K, M, N, seeds, teacher, init, init_scale, init_v, init_v_scale):
    """Host initial weights (W, W*, v) of every member, from its stream (i, 0)."""
    W = np.empty((E, K, N))
    Ws = np.empty((E, M, N))
    v = np.empty((E, K))
    for e in range(E):
        rng = np.random.default_rng(child_seed(seeds[e], STREAM_INIT))
        if teacher is not None:
            Ws[e] = teacher[e]
        elif not isinstance(init, OrderParameters):
            Ws[e] = rng.standard_normal((M, N))
        if init is None:
            W[e] = init_scale * rng.standard_normal((K, N))
        elif isinstance(init, OrderParameters):
            W[e], Ws[e] = reconstruct_member(init.Q[e], init.R[e], init.T[e], N, rng,
                                             None if teacher is None else teacher[e])
        else:
            W[e] = init[e]
        v[e] = init_v[e] + init_v_scale * rng.standard_normal(K)
    if isinstance(init, OrderParameters):
        v = np.array(init.v, dtype=float)
    return W, Ws, v


def _init_reduced(E, K, M, N, seeds, teacher, init, init_scale, init_v, init_v_scale):
    """Host initial (Q, R, T, v), drawn in order-parameter space (cost independent of N)."""
    Q = np.empty((E, K, K))
    R = np.empty((E, K, M))
    T = np.empty((E, M, M))
    v = np.empty((E, K))
    for e in range(E):
        rng = np.random.default_rng(child_seed(seeds[e], STREAM_INIT))
        if isinstance(init, OrderParameters):
            Q[e], R[e], T[e] = init.Q[e], init.R[e], init.T[e]
        else:
            if teacher is not None:
                T[e] = teacher[e] @ teacher[e].T / N
            else:  # Wishart(N, I_M)/N by Bartlett: Gaussian teacher rows
                L = bartlett_factor(rng, N, M)
                T[e] = L @ L.T / N
            if init is None:
                Q[e], R[e] = student_given_teacher(T[e], K, N, init_scale, rng)
            else:
                Ws = teacher[e] if teacher is not None else None
                if Ws is None:
                    Ws = rng.standard_normal((M, N))
                    T[e] = Ws @ Ws.T / N
                Q[e] = init[e] @ init[e].T / N
                R[e] = init[e] @ Ws.T / N
        v[e] = init_v[e] + init_v_scale * rng.standard_normal(K)
    if isinstance(init, OrderParameters):
        v = np.array(init.v, dtype=float)
    return Q, R, T, v


def _chunks(E: int, size: int) -> list[range]:
    return [range(i, min(i + size, E)) for i in range(0, E, size)]


def simulate(
    N: int,
    K: int,
    M: int | None = None,
    *,
    eta: float,
    alpha: float | np.ndarray,
    ensemble: int = 1,
    method: str = "full",
    backend: str = "numpy",
    dtype: str = "float64",
    seed: int = 0,
    v_star: float | np.ndarray = 1.0,
    teacher: np.ndarray | None = None,
    init: np.ndarray | OrderParameters | None = None,
    init_scale: float = 1.0,
    train_second_layer: bool = False,
    eta_v: float | None = None,
    noise: float = 0.0,
    weight_decay: float = 0.0,
    batch_size: int = 1,
    activation: str | tuple = "erf",
    on_divergence: str = "raise",
    init_v: float | np.ndarray = 1.0,
    init_v_scale: float = 0.0,
    device: Any = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Ensemble:
    """Simulate online SGD for an ensemble of teacher–student pairs (module docstring).

    Parameters
    ----------
    N : int
        Input dimension, >= K + M (``"reduced"`` with B > 1 needs N >= K + M + B).
    K : int
        Student hidden units.
    M : int, optional
        Teacher hidden units (default K).
    eta : float
        First-layer learning rate η > 0 (update (η/√N)·v g'(λ) Δ x per sample).
    alpha : float or 1-D array
        Output times α = steps/N, rounded to whole steps. A scalar means 201 equally spaced
        outputs on [0, alpha] (duplicates after rounding dropped).
    ensemble : int
        Number of members E >= 1, each with its own teacher, initial student and data.
    method : {"full", "reduced"}
        Explicit N-dimensional networks, or the exact reduced chain on (Q, R, v).
    backend : {"numpy", "torch", "cupy"}
        Array backend (:func:`statmech.get_backend`); ``device`` selects a torch/CuPy device.
    dtype : {"float64", "float32"}
    seed : int
        Root seed: member i uses ``SeedSequence(seed)`` child (i,), so its random streams are
        the same whatever ``ensemble`` or ``chunk_size``, and on the CPU backends its trajectory
        is bit-identical. On GPUs (torch CUDA, CuPy) the library kernels are chosen by batch
        shape, so across different E or chunkings trajectories agree to rounding only (measured
        on an H100: <= 3e-7 relative in float32, <= 2.2e-16 in float64); the same call twice
        gives identical arrays.
    v_star : float or array (M,) or (E, M)
        Teacher second-layer weights.
    teacher : array (M, N) or (E, M, N), optional
        Teacher weights (default: rows ~ N(0, I_N), a new teacher per member).
    init : array (K, N) or (E, K, N), or OrderParameters, optional
        Initial student weights, or initial order parameters (single or batched over E; their
        T must match ``teacher`` if both are given; its ``v`` and ``v_star`` replace ``init_v``
        and ``v_star``). Default: rows ~ N(0, init_scale² I_N).
    init_scale : float
        Standard deviation of the default initial student weights (> 0).
    train_second_layer : bool
        Train v with learning rate η_v (update (η_v/N)·g(λ) Δ).
    eta_v : float, optional
        Second-layer learning rate (default ``eta``).
    noise : float
        Output-noise standard deviation σ >= 0 of the labels.
    weight_decay : float
        κ >= 0: each step multiplies the weights (and v) by 1 − κ/N.
    batch_size : int
        Mini-batch B >= 1 of fresh samples per step (gradient averaged).
    activation : str or (str, str)
        ``"erf"``, ``"linear"``, ``"relu"``, or a (student, teacher) pair.
    on_divergence : {"raise", "mask"}
        When a member's max Q_kk exceeds :data:`statmech.DIVERGENCE_FACTOR` × its initial scale
        (or is not finite): raise ``ValueError`` naming η, or freeze that member (status
        ``"diverged"``, NaN from then on).
    init_v, init_v_scale : float or array, float
        Initial v = init_v + init_v_scale · N(0, 1) per unit (ignored when ``init`` is an
        OrderParameters, whose ``v`` is used).
    device : str or int, optional
        torch device string or CuPy GPU index.
    chunk_size : int, optional
        Members advanced together (default: all, or as many as fit 512 MiB for ``"full"``).
    progress : bool, optional
        Show a progress bar (default: only when stderr is a terminal).

    Returns
    -------
    Ensemble

    Raises
    ------
    ValueError
        For invalid parameters (the message names the parameter and the allowed range), and on
        divergence with ``on_divergence="raise"``.

    Examples
    --------
    >>> from statmech import simulate
    >>> ens = simulate(200, 2, eta=0.5, alpha=[0.0, 1.0, 2.0], ensemble=4, seed=1)
    >>> ens.eg.shape
    (4, 3)
    >>> red = simulate(200, 2, eta=0.5, alpha=[0.0, 1.0, 2.0], ensemble=4, method="reduced")
    >>> red.Q.shape
    (4, 3, 2, 2)
    """
    func = "simulate"
    K = check_positive_int(K, "K", func)
    M = K if M is None else check_positive_int(M, "M", func)
    N = check_positive_int(N, "N", func)
    if N < K + M:
        raise ValueError(f"The 'N' parameter of simulate must be an int >= K + M = {K + M} "
                         f"(the input must hold the teacher and student spans). Got {N}.")
    E = check_positive_int(ensemble, "ensemble", func)
    method = check_choice(method, "method", func, SIMULATION_METHODS)
    dtype = check_choice(dtype, "dtype", func, ("float64", "float32"))
    be = get_backend(backend, device)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"The 'seed' parameter of simulate must be an int >= 0. Got {seed!r}.")
    eta = check_real(eta, "eta", func, low=0.0, low_inclusive=False)
    eta_v = eta if eta_v is None else check_real(eta_v, "eta_v", func, low=0.0)
    noise = check_real(noise, "noise", func, low=0.0)
    kappa = check_real(weight_decay, "weight_decay", func, low=0.0, high=N,
                       high_inclusive=False)
    B = check_positive_int(batch_size, "batch_size", func)
    if method == "reduced" and N - K - M < B:
        raise ValueError(
            f"The 'batch_size' parameter of simulate must be <= N - K - M = {N - K - M} for "
            f"method='reduced' (the Wishart draw of the mini-batch Gram needs it). Got {B}.")
    init_scale = check_real(init_scale, "init_scale", func, low=0.0, low_inclusive=False)
    init_v_scale = check_real(init_v_scale, "init_v_scale", func, low=0.0)
    if not isinstance(train_second_layer, bool | np.bool_):
        raise ValueError("The 'train_second_layer' parameter of simulate must be a bool. "
                         f"Got {train_second_layer!r}.")
    on_divergence = check_choice(on_divergence, "on_divergence", func, ("raise", "mask"))
    student, teacher_act = resolve_activations(activation, func)
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"The 'progress' parameter of simulate must be a bool or None. "
                         f"Got {progress!r}.")
    steps = _steps(alpha, N)
    vs = _check_per_unit(v_star, "v_star", M, E)
    v0 = _check_per_unit(init_v, "init_v", K, E)
    Wt = None if teacher is None else _check_weights(teacher, "teacher", M, N, E)
    if isinstance(init, OrderParameters):
        if (init.K, init.M) != (K, M) or init.batch_shape not in ((), (E,)):
            raise ValueError(
                f"The 'init' parameter of simulate, as OrderParameters, must have K={K}, M={M} "
                f"and batch shape () or ({E},). Got K={init.K}, M={init.M}, batch shape "
                f"{init.batch_shape}.")
        init_in: Any = OrderParameters(*(np.broadcast_to(a, (E,) + a.shape[-2:]) for a in
                                         (init.Q, init.R, init.T)),
                                       v=np.broadcast_to(init.v, (E, K)),
                                       v_star=np.broadcast_to(init.v_star, (E, M)))
        if Wt is not None:
            Tw = Wt @ np.swapaxes(Wt, -1, -2) / N
            if not np.allclose(Tw, init_in.T, rtol=1e-8, atol=1e-10):
                raise ValueError("The 'init' parameter of simulate (OrderParameters) has T "
                                 "different from the Gram matrix of 'teacher'.")
        vs = np.array(init_in.v_star, dtype=float)  # init's v* takes precedence (docstring)
    elif init is not None:
        init_in = _check_weights(init, "init", K, N, E)
        if method == "reduced":
            warnings.warn(
                "simulate(method='reduced') with given initial weights: the chain is exact for "
                "the order parameters, but Ensemble.weights() reconstructs weights that are "
                "rotation-invariant given the Gram matrices, which given weights need not be.",
                ReconstructionWarning, stacklevel=2)
    else:
        init_in = None

    model = SGDModel(N=N, K=K, M=M, eta=eta, eta_v=eta_v if train_second_layer else 0.0,
                     noise=noise, weight_decay=kappa, batch_size=B,
                     train_second_layer=bool(train_second_layer), student=student.name,
                     teacher=teacher_act.name, dtype=dtype)
    seeds = member_seeds(np.random.SeedSequence(seed), E)
    if method == "full":
        W0, Ws0, v_init = _init_full(E, K, M, N, seeds, Wt, init_in, init_scale, v0,
                                     init_v_scale)
        item = 4 if dtype == "float32" else 8
        per_member = item * N * (3 * (K + M) + full_block_steps(N, B, be.is_gpu) * B)
        default_chunk = max(1, _CHUNK_BYTES // per_member)
    else:
        Q0, R0, T0, v_init = _init_reduced(E, K, M, N, seeds, Wt, init_in, init_scale, v0,
                                           init_v_scale)
        default_chunk = 65536
    chunk = default_chunk if chunk_size is None else check_positive_int(
        chunk_size, "chunk_size", func)

    n_out = steps.size
    Q = np.full((E, n_out, K, K), np.nan)
    R = np.full((E, n_out, K, M), np.nan)
    v = np.full((E, n_out, K), np.nan)
    T = np.empty((E, M, M))
    status = np.full(E, "ok", dtype="<U8")
    alpha_div = np.full(E, np.nan)
    final = [np.empty((E, K, N)), np.empty((E, M, N)), np.empty((E, K))] if method == "full" \
        else None
    parts = _chunks(E, chunk)
    with ProgressBar(int(steps[-1]) * len(parts), f"simulate ({method}, E={E}, N={N})",
                     enabled=progress) as bar:
        for part in parts:
            sl = slice(part.start, part.stop)
            pseeds = seeds[sl]
            if method == "full":
                eng: Any = FullEngine(be, model, pseeds, W0[sl], Ws0[sl], v_init[sl], vs[sl])
                T[sl] = Ws0[sl] @ np.swapaxes(Ws0[sl], -1, -2) / N
                q0 = np.max(np.einsum("ekn,ekn->ek", W0[sl], W0[sl]), axis=1) / N
            else:
                eng = ReducedEngine(be, model, pseeds, Q0[sl], R0[sl], T0[sl], v_init[sl],
                                    vs[sl])
                T[sl] = T0[sl]
                q0 = np.max(np.diagonal(Q0[sl], axis1=-2, axis2=-1), axis=1)
            bound = DIVERGENCE_FACTOR * np.maximum(
                1.0, np.maximum(q0, np.max(np.diagonal(T[sl], axis1=-2, axis2=-1), axis=1)))
            done = 0
            for j, target in enumerate(steps):
                while done < target:
                    n = int(min(target - done, eng.block_steps))
                    with np.errstate(all="ignore"):
                        eng.advance(n, bar)
                    done += n
                    qmax = eng.max_qkk()
                    bad = ~(qmax <= bound) & ~eng.frozen
                    if bad.any():
                        idx = np.flatnonzero(bad)
                        if on_divergence == "raise":
                            raise ValueError(_divergence_message(
                                K, M, np.asarray([eta]), done / N,
                                (student.name, teacher_act.name),
                                what=f"The simulation (member {part.start + idx[0]})"))
                        status[part.start + idx] = "diverged"
                        alpha_div[part.start + idx] = done / N
                        eng.freeze(bad)
                q, r, _, vv = eng.order_parameters()
                live = ~eng.frozen
                Q[sl, j][live], R[sl, j][live], v[sl, j][live] = q[live], r[live], vv[live]
            if method == "full":
                W, Ws, vv = eng.weights()
                W[eng.frozen] = np.nan
                final[0][sl], final[1][sl], final[2][sl] = W, Ws, vv

    ok = np.isfinite(Q).all(axis=(-1, -2)) & np.isfinite(R).all(axis=(-1, -2))
    Tb = np.broadcast_to(T[:, None], (E, n_out, M, M))
    vsb = np.broadcast_to(vs[:, None], (E, n_out, M))
    eg = np.full((E, n_out), np.nan)
    eg[ok] = eg_from_order_parameters(Q[ok], R[ok], Tb[ok], v[ok], vsb[ok], student, teacher_act)
    params = {
        "N": N, "K": K, "M": M, "eta": eta, "eta_v": eta_v if train_second_layer else None,
        "train_second_layer": bool(train_second_layer), "noise": noise, "weight_decay": kappa,
        "batch_size": B, "method": method, "backend": be.name, "dtype": dtype, "seed": int(seed),
        "ensemble": E, "init_scale": init_scale, "init_v_scale": init_v_scale,
        "init": "default" if init is None else type(init).__name__,
    }
    final_weights = None
    if final is not None:
        final[2][status != "ok"] = np.nan
        final_weights = (final[0], final[1], final[2], vs.copy())
    return Ensemble(alpha=steps / N, Q=Q, R=R, v=v, eg=eg, T=T, v_star=vs,
                    activation=(student.name, teacher_act.name), params=params, status=status,
                    alpha_diverged=alpha_div, final_weights=final_weights,
                    teacher=None if Wt is None else np.array(Wt))
