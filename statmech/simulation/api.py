"""Monte Carlo simulation of online SGD in teacher–student ensembles: :func:`simulate`.

Two engines share the model, the scalings and the random-stream layout
(:mod:`statmech.simulation.sgd_engine`): ``method="full"`` trains E explicit networks of
input dimension N (:mod:`statmech.simulation.sgd_full`); ``method="reduced"`` runs the exact
finite-N Markov chain on the order parameters, at a cost per step independent of N
(:mod:`statmech.simulation.reduced_chain`).

Initial state of member i (its own stream, so independent of E):

* teacher rows w*_m ~ N(0, I_N), or the given ``teacher`` weights;
* student rows w_k ~ N(0, scale² I_N) (:class:`~statmech.StudentInit`), or the given weights,
  or :class:`OrderParameters`, whose weights are then drawn Haar given their Gram matrices;
* v = ``StudentInit.v`` + ``StudentInit.v_scale`` · N(0, 1) per unit (default 1: the soft
  committee machine), or ``init.v`` when ``init`` is an OrderParameters; v* = ``v_star``.

For ``method="reduced"`` the same law is drawn directly in order-parameter space (Bartlett
decompositions), so the two engines start from identically distributed states.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._linalg import bartlett_factor
from .._progress import ProgressBar
from .._resources import check_memory, device_memory, format_bytes
from .._validation import (
    Boolean,
    Integer,
    InvalidParameterError,
    Options,
    _fmt,
    check,
    check_real,
    validate_params,
)
from ..theory.generalization import eg_from_order_parameters, resolve_activations
from ..theory.model import SGDModel, resolve_model
from ..theory.ode import _divergence_message
from ..theory.order_parameters import OrderParameters
from ..theory.solver_limits import DIVERGENCE_FACTOR, check_alpha
from .backend import _TEST_BACKENDS, BACKENDS, Backend, get_backend, member_seeds
from .ensemble import Ensemble
from .reduced_chain import REDUCED_BLOCK_STEPS, ReducedEngine, reduced_working_bytes
from .settings import BackendOptions, StudentInit
from .sgd_engine import STREAM_INIT, EngineSettings, child_seed
from .sgd_full import FullEngine, full_block_steps
from .weights_reconstruction import reconstruct_member, student_given_teacher

__all__ = ["MAX_SGD_STEPS", "SIMULATION_METHODS", "ReconstructionWarning", "simulate"]

SIMULATION_METHODS = ("full", "reduced")
#: Working-memory budget of one chunk of members (the returned arrays come on top; see
#: :func:`_memory_estimate`).
_CHUNK_BYTES = 512 * 2**20
#: Most SGD steps (α·N at the last output time) :func:`simulate` accepts: 10¹² steps take days
#: even for the reduced chain (~1 µs per step and member at best), and α·N beyond 2⁶³ would
#: overflow the int64 step counter (it used to return α = −9.2e16 with an untrained student).
MAX_SGD_STEPS = 10**12


class ReconstructionWarning(UserWarning):
    """Weights reconstructed from a reduced-chain run are not exact in law."""


def _check_weights(value: Any, name: str, rows: int, N: int, E: int) -> np.ndarray:
    msg = (f"The {name!r} parameter of simulate must be a finite array of shape ({rows}, {N}) "
           f"or ({E}, {rows}, {N}).")
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{msg} Got {_fmt(value)} instead.", func="simulate",
                                    param=name) from None
    if a.shape not in ((rows, N), (E, rows, N)) or not np.all(np.isfinite(a)):
        raise InvalidParameterError(f"{msg} Got an array of shape {a.shape} instead.",
                                    func="simulate", param=name)
    return np.broadcast_to(a, (E, rows, N))


def _check_per_unit(value: Any, name: str, n: int, E: int) -> np.ndarray:
    msg = (f"The {name!r} parameter of simulate must be a finite float or an array of shape "
           f"({n},) or ({E}, {n}).")
    if isinstance(value, bool | str) or value is None:
        raise InvalidParameterError(f"{msg} Got {_fmt(value)} instead.", func="simulate",
                                    param=name)
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{msg} Got {_fmt(value)} instead.", func="simulate",
                                    param=name) from None
    if a.shape not in ((), (n,), (E, n)) or not np.all(np.isfinite(a)):
        raise InvalidParameterError(f"{msg} Got {_fmt(value)} instead.", func="simulate",
                                    param=name)
    return np.array(np.broadcast_to(a, (E, n)), dtype=float)


def _zero_steps(alpha: Any, a: np.ndarray, steps: np.ndarray, N: int) -> None:
    """Refuse a positive final time that rounds to 0 SGD steps."""
    if a[-1] > 0 and steps[-1] == 0:
        raise InvalidParameterError(
            f"The 'alpha' parameter of simulate must reach at least one SGD step: alpha >= "
            f"1/(2N) = {0.5 / N:g} for N = {N} (outputs are rounded to whole steps). Got "
            f"{_fmt(alpha)} instead.", func="simulate", param="alpha",
            allowed=f"a final alpha >= {0.5 / N:g}", value=_fmt(alpha))


def _steps(alpha: Any, N: int) -> np.ndarray:
    """Whole step counts of the requested output times (α·N rounded).

    Refused: a last output above :data:`MAX_SGD_STEPS` steps, a positive final time that rounds
    to 0 steps (below 1/(2N): the call would silently return only α = 0), and outputs closer
    than one step.
    """
    scalar = np.ndim(alpha) == 0 and not isinstance(alpha, str | bool)
    a = check_alpha(alpha, "simulate")
    last = float(a[-1]) * N
    if last > MAX_SGD_STEPS:
        raise InvalidParameterError(
            f"The 'alpha' parameter of simulate asks for alpha·N = {float(a[-1]):g}·{N} = "
            f"{last:.3g} SGD steps, more than MAX_SGD_STEPS = {MAX_SGD_STEPS:.0e} (at >= 1 µs "
            "per step and member that is beyond days). Use a smaller alpha or N, or integrate "
            "the ODEs (statmech.integrate) for the N → ∞ limit.",
            func="simulate", param="alpha", allowed=f"alpha·N <= {MAX_SGD_STEPS:.0e}",
            value=_fmt(alpha))
    steps = np.rint(a * N).astype(np.int64)
    if scalar:
        _zero_steps(alpha, a, steps, N)
        return np.unique(steps)
    if np.any(np.diff(steps) <= 0):
        i = int(np.argmax(np.diff(steps) <= 0))
        raise InvalidParameterError(
            f"The 'alpha' parameter of simulate has outputs closer than one SGD step (1/N = "
            f"{1 / N:g}): alpha[{i}] = {a[i]:g} and alpha[{i + 1}] = {a[i + 1]:g} round to the "
            "same step.", func="simulate", param="alpha",
            allowed="outputs at least one step (1/N) apart", value=_fmt(alpha))
    _zero_steps(alpha, a, steps, N)
    return steps


def _memory_estimate(method: str, E: int, K: int, M: int, N: int, B: int, n_out: int,
                     item: int, block_steps: int) -> tuple[int, int]:
    """(bytes returned to the caller, working bytes per member of a chunk) of :func:`simulate`.

    Returned: Q, R, v, ε_g at every output (float64) and, for ``"full"``, the final weights
    E·((K+M)·N + K)·8 bytes. Working set per member of a chunk, ``"full"``: the host initial
    weights (float64), the backend weights A, the per-step outer-product temporary (K·N), the
    random block (block_steps·B·N numbers) and the float64 copy of A read back at the end;
    ``"reduced"``: the random block of :data:`REDUCED_BLOCK_STEPS` steps and the state
    (:func:`statmech.simulation.reduced_chain.reduced_working_bytes`: about 4(K+M+D)+3M numbers per
    step
    for B = 1, D <= 16; about 4B(K+M)+6B² for B > 1). Measured with ru_maxrss (E = 64, N = 20000,
    K = M = 2, float64): 196 MiB before the per-chunk initialisation (≈ 5·E·(K+M)·N·8 bytes,
    as all initial weights, the final weights and two copies of each chunk were alive at once),
    now ≈ (1 + 2·chunk/E)·E·(K+M)·N·8 plus the random block.
    """
    out = 8 * E * n_out * (K * K + K * M + K + 1) + 8 * E * M * M
    if method == "full":
        out += 8 * E * ((K + M) * N + K)
        per = 8 * (K + M) * N + item * N * ((K + M) + K + block_steps * B) + 8 * (K + M) * N
    else:
        per = reduced_working_bytes(K, M, N, B, block_steps)
    return out, per
def _init_full(part, K, M, N, seeds, teacher, init, init_scale, init_v, init_v_scale):
    """Host initial weights (W, W*, v) of the members in ``part`` (a range), each from its own
    stream (i, 0), so a chunk's initial weights do not depend on the chunking."""
    E = len(part)
    W = np.empty((E, K, N))
    Ws = np.empty((E, M, N))
    v = np.empty((E, K))
    for i, e in enumerate(part):
        rng = np.random.default_rng(child_seed(seeds[e], STREAM_INIT))
        if teacher is not None:
            Ws[i] = teacher[e]
        elif not isinstance(init, OrderParameters):
            Ws[i] = rng.standard_normal((M, N))
        if init is None:
            W[i] = init_scale * rng.standard_normal((K, N))
        elif isinstance(init, OrderParameters):
            W[i], Ws[i] = reconstruct_member(init.Q[e], init.R[e], init.T[e], N, rng,
                                             None if teacher is None else teacher[e])
        else:
            W[i] = init[e]
        v[i] = init_v[e] + init_v_scale * rng.standard_normal(K)
    if isinstance(init, OrderParameters):
        v = np.array(init.v[part.start:part.stop], dtype=float)
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


@validate_params({
    "N": [Integer(1)],
    "K": [Integer(1)],
    "M": [None, Integer(1)],
    "ensemble": [Integer(1)],
    "method": [Options(SIMULATION_METHODS)],
    "seed": [Integer(0)],
    "on_divergence": [Options(("raise", "mask"))],
    "progress": [None, Boolean()],
})
def simulate(
    N: int,
    K: int,
    M: int | None = None,
    *,
    alpha: float | np.ndarray,
    model: SGDModel | None = None,
    ensemble: int = 1,
    method: str = "full",
    seed: int = 0,
    v_star: float | np.ndarray = 1.0,
    teacher: np.ndarray | None = None,
    init: np.ndarray | OrderParameters | StudentInit | None = None,
    backend: str | BackendOptions | Backend = "numpy",
    on_divergence: str = "raise",
    progress: bool | None = None,
    **model_options: Any,
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
    alpha : float or 1-D array
        Output times α = steps/N, rounded to whole steps. A scalar means 201 equally spaced
        outputs on [0, alpha] (duplicates after rounding dropped).
    model : SGDModel, optional
        The training settings (η, η_v, σ, κ, B, activations, trained v; scalars). η: update
        (η/√N)·v g'(λ) Δ x per sample; η_v: update (η_v/N)·g(λ) Δ; κ < N: each step multiplies
        the weights (and v) by 1 − κ/N.
    ensemble : int
        Number of members E >= 1, each with its own teacher, initial student and data.
    method : {"full", "reduced"}
        Explicit N-dimensional networks, or the exact reduced chain on (Q, R, v).
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
    init : array (K, N) or (E, K, N), OrderParameters or StudentInit, optional
        Initial student weights; or initial order parameters (single or batched over E; their
        T must match ``teacher`` if both are given; their ``v`` and ``v_star`` replace the
        initial v and ``v_star``); or a :class:`~statmech.StudentInit` (weights or the scale of
        Gaussian ones, the initial v, and optional fixed masks for sparse training). Default
        ``StudentInit()``: rows ~ N(0, I_N), v = 1, no mask.
    backend : str, BackendOptions or Backend
        ``"numpy"`` (default), ``"torch"`` or ``"cupy"``; or a
        :class:`~statmech.BackendOptions` with the device, the precision (``dtype``) and the
        number of members advanced together (``chunk_size``); or a
        :func:`statmech.get_backend` result (library and device).
    on_divergence : {"raise", "mask"}
        When a member's max Q_kk exceeds :data:`statmech.DIVERGENCE_FACTOR` × its initial scale
        (or is not finite): raise ``ValueError`` naming η, or freeze that member (status
        ``"diverged"``, NaN from then on).
    progress : bool, optional
        Show a progress bar (default: only when stderr is a terminal).
    **model_options
        :class:`~statmech.SGDModel` fields as keywords (``eta=0.5, noise=0.1``), the
        convenience style; with ``model`` given they replace its fields. ``eta`` is required
        when ``model`` is not given.

    Memory: the returned arrays (Q, R, v, ε_g at every output and, for ``"full"``, the final
    weights: E·((K+M)·N + K)·8 bytes) plus, per chunk, a working set of about
    (16·(K+M) + itemsize·(2K + M + block·B))·N bytes per member for ``"full"`` (initial and
    final host weights, backend weights, the per-step temporary and the random block of
    2¹⁶/(B·N) steps). Measured with ru_maxrss (E = 64, N = 20000, K = M = 2): 196 MiB when all
    initial weights were drawn up front (5·E·(K+M)·N·8), 73 MiB now. The call
    is refused (``InvalidParameterError`` naming N, K, M, ensemble, chunk_size and the
    estimate) when the estimate exceeds the available memory (host ``MemAvailable``, or the
    GPU's free memory for torch CUDA / CuPy). α·N is limited to :data:`MAX_SGD_STEPS`.

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
    M = K if M is None else M
    if N < K + M:
        raise InvalidParameterError.build(
            func, "N", f"an int >= K + M = {K + M} (the input must hold the teacher and "
            "student spans)", N)
    E = ensemble
    mdl = resolve_model(func, model, model_options, scalar=True)
    init, start = _student_init(init, func)
    opts = _backend_options(backend, func)
    be = get_backend(opts.name, opts.device)
    dtype, chunk_size = opts.dtype, opts.chunk_size
    eta, noise = float(mdl.eta), float(mdl.noise)
    init_scale, init_v_scale = start.scale, start.v_scale
    train_second_layer = mdl.train_second_layer
    eta_v = float(mdl.learning_rate_v)
    kappa = check_real(mdl.weight_decay, "weight_decay", func, low=0.0, high=N,
                       high_inclusive=False)
    B = int(mdl.batch_size)
    mask = None if start.mask is None else _check_mask(start.mask, K, N, E, method, func)
    if method == "reduced" and N - K - M < B:
        raise InvalidParameterError.build(
            func, "batch_size", f"<= N - K - M = {N - K - M} for method='reduced' (the Wishart "
            "draw of the mini-batch Gram needs it)", B)
    student, teacher_act = resolve_activations(mdl.activation, func)
    steps = _steps(alpha, N)
    vs = _check_per_unit(v_star, "v_star", M, E)
    v0 = _check_per_unit(start.v, "init.v", K, E)
    Wt = None if teacher is None else _check_weights(teacher, "teacher", M, N, E)
    if isinstance(init, OrderParameters):
        if (init.K, init.M) != (K, M) or init.batch_shape not in ((), (E,)):
            raise InvalidParameterError(
                f"The 'init' parameter of simulate, as OrderParameters, must have K={K}, M={M} "
                f"and batch shape () or ({E},). Got K={init.K}, M={init.M}, batch shape "
                f"{init.batch_shape}.", func=func, param="init")
        init_in: Any = OrderParameters(*(np.broadcast_to(a, (E,) + a.shape[-2:]) for a in
                                         (init.Q, init.R, init.T)),
                                       v=np.broadcast_to(init.v, (E, K)),
                                       v_star=np.broadcast_to(init.v_star, (E, M)))
        if Wt is not None:
            Tw = Wt @ np.swapaxes(Wt, -1, -2) / N
            if not np.allclose(Tw, init_in.T, rtol=1e-8, atol=1e-10):
                raise InvalidParameterError(
                    "The 'init' parameter of simulate (OrderParameters) has T different from "
                    "the Gram matrix of 'teacher'.", func=func, param="init")
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

    settings = EngineSettings(N=N, K=K, M=M, eta=eta,
                              eta_v=eta_v if train_second_layer else 0.0, noise=noise,
                              weight_decay=kappa, batch_size=B,
                              train_second_layer=bool(train_second_layer),
                              student=student.name, teacher=teacher_act.name, dtype=dtype)
    seeds = member_seeds(np.random.SeedSequence(seed), E)
    n_out = steps.size
    item = 4 if dtype == "float32" else 8
    block = full_block_steps(N, B, be.is_gpu) if method == "full" else REDUCED_BLOCK_STEPS
    out_bytes, per_member = _memory_estimate(method, E, K, M, N, B, n_out, item, block)
    dev_free = device_memory(be)
    if chunk_size is None:
        budget = _CHUNK_BYTES if dev_free is None else min(_CHUNK_BYTES, dev_free // 2)
        chunk = int(min(E, max(1, budget // per_member)))
    else:
        chunk = int(min(chunk_size, E))
    sizes = {"N": N, "K": K, "M": M, "ensemble": E, "chunk_size": chunk}
    hint = ("Use a smaller ensemble (or several calls with different seeds), a smaller "
            "chunk_size, or method='reduced' (memory independent of N)."
            if method == "full" else "Use a smaller ensemble or fewer output times.")
    check_memory(out_bytes + chunk * per_member, func, sizes,
                 what=f"the results ({format_bytes(out_bytes)}) and one chunk of {chunk} "
                      f"members ({format_bytes(chunk * per_member)})", hint=hint)
    if dev_free is not None:
        check_memory(chunk * per_member, func, sizes, backend=be,
                     what=f"one chunk of {chunk} members on the GPU", hint=hint)
    if method == "reduced":
        Q0, R0, T0, v_init = _init_reduced(E, K, M, N, seeds, Wt, init_in, init_scale, v0,
                                           init_v_scale)
        _check_initial_state(func, init, Q0, R0, T0, v_init)

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
                     enabled=progress, unit="SGD steps") as bar:
        for part in parts:
            sl = slice(part.start, part.stop)
            pseeds = seeds[sl]
            if method == "full":
                # initial weights per chunk (each member from its own stream): only one
                # chunk's initial weights are ever alive
                W0, Ws0, v_c = _init_full(part, K, M, N, seeds, Wt, init_in, init_scale, v0,
                                          init_v_scale)
                if mask is not None:
                    W0 = np.where(mask[sl], W0, 0.0)
                T[sl] = Ws0 @ np.swapaxes(Ws0, -1, -2) / N
                q0 = np.max(np.einsum("ekn,ekn->ek", W0, W0), axis=1) / N
                _check_initial_state(func, init, q0, T[sl], v_c)
                eng: Any = FullEngine(be, settings, pseeds, W0, Ws0, v_c, vs[sl],
                                      None if mask is None else mask[sl])
                del W0, Ws0
            else:
                eng = ReducedEngine(be, settings, pseeds, Q0[sl], R0[sl], T0[sl], v_init[sl],
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
                    with np.errstate(all="ignore"):
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
                eng.weights_into(final[0][sl], final[1][sl], final[2][sl])
                final[0][sl][eng.frozen] = np.nan
            del eng

    ok = np.isfinite(Q).all(axis=(-1, -2)) & np.isfinite(R).all(axis=(-1, -2))
    Tb = np.broadcast_to(T[:, None], (E, n_out, M, M))
    vsb = np.broadcast_to(vs[:, None], (E, n_out, M))
    eg = np.full((E, n_out), np.nan)
    with np.errstate(all="ignore"):
        eg[ok] = eg_from_order_parameters(Q[ok], R[ok], Tb[ok], v[ok], vsb[ok], student,
                                          teacher_act)
    # safety net: a member with a non-finite value at an output time it reached is diverged
    # (never "ok" with NaN/inf), from that output on
    nonfinite = ~(np.isfinite(eg) & np.isfinite(v).all(-1))
    for e in np.flatnonzero(nonfinite.any(axis=1) & (status == "ok")):
        j = int(np.argmax(nonfinite[e]))
        if on_divergence == "raise":
            raise ValueError(_divergence_message(
                K, M, np.asarray([eta]), float(steps[j] / N), (student.name, teacher_act.name),
                what=f"The simulation (member {e})"))
        status[e] = "diverged"
        alpha_div[e] = steps[j] / N
        Q[e, j:] = R[e, j:] = v[e, j:] = eg[e, j:] = np.nan
        if final is not None:
            final[0][e] = np.nan
    params = {
        "N": N, "K": K, "M": M, "eta": eta, "eta_v": eta_v if train_second_layer else None,
        "train_second_layer": bool(train_second_layer), "noise": noise, "weight_decay": kappa,
        "batch_size": B, "method": method, "backend": be.name, "dtype": dtype, "seed": int(seed),
        "ensemble": E, "init_scale": init_scale, "init_v_scale": init_v_scale,
        "init": "default" if init is None else type(init).__name__,
        "masked": mask is not None,
    }
    final_weights = None
    if final is not None:
        final[2][status != "ok"] = np.nan
        final_weights = (final[0], final[1], final[2], vs.copy())
    return Ensemble(alpha=steps / N, Q=Q, R=R, v=v, eg=eg, T=T, v_star=vs,
                    activation=(student.name, teacher_act.name), params=params, status=status,
                    alpha_diverged=alpha_div, final_weights=final_weights,
                    teacher=None if Wt is None else np.array(Wt))


def _student_init(init: Any, func: str) -> tuple[Any, StudentInit]:
    """(weights, OrderParameters or None; the StudentInit with the scale and initial v)."""
    if isinstance(init, StudentInit):
        return init.weights, init
    if isinstance(init, str | bool):
        raise InvalidParameterError.build(
            func, "init", "an array of weights, an OrderParameters or a StudentInit", init)
    return init, StudentInit()


def _backend_options(backend: Any, func: str) -> BackendOptions:
    """``backend`` as :class:`BackendOptions` (a name, BackendOptions or a Backend)."""
    if isinstance(backend, BackendOptions):
        return backend
    if isinstance(backend, Backend):
        return BackendOptions(backend.name, backend.device)
    check(backend, "backend", func, [Options(BACKENDS + _TEST_BACKENDS)])
    return BackendOptions(backend)


def _check_mask(mask: np.ndarray, K: int, N: int, E: int, method: str, func: str) -> np.ndarray:
    """The members' fixed masks as an (E, K, N) boolean array (full-N engine only)."""
    if method != "full":
        raise InvalidParameterError.build(
            func, "method", "'full' with a mask (the reduced chain has no coordinates to mask; "
            "the masked ODE is statmech.integrate on MaskedOrderParameters)", method)
    if mask.shape not in ((K, N), (E, K, N)):
        raise InvalidParameterError.build(
            func, "init", f"a StudentInit whose mask has shape ({K}, {N}) or ({E}, {K}, {N})",
            f"a mask of shape {mask.shape}")
    return np.broadcast_to(mask, (E, K, N))


def _check_initial_state(func: str, init: Any, q0: Any, *arrays: Any) -> None:
    """Refuse initial states that already overflow (e.g. StudentInit(scale=1e200): Q = inf), which
    would otherwise be reported as "ok" with non-finite order parameters."""
    finite = all(np.all(np.isfinite(a)) for a in (q0, *arrays))
    if finite:
        return
    if init is None:
        raise InvalidParameterError(
            "The 'init' parameter of simulate (StudentInit.scale) gives initial order "
            "parameters that are not finite in float64 (overflow). Use a smaller scale, "
            "teacher or initial v.", func=func, param="init")
    raise InvalidParameterError(
        "The 'init' parameter of simulate gives initial order parameters that are not finite "
        "in float64 (overflow).", func=func, param="init")
