"""Integration of the order-parameter ODEs of online SGD: :func:`integrate`.

The right-hand side (``docs/ode_theory.md`` §1.2) lives in :mod:`statmech.theory.rhs`.
:func:`integrate`
solves the system for a whole batch of members at once with ``scipy.integrate.solve_ivp``; the
right-hand side is vectorised over the batch. Each member's error is controlled as in a solo
run: for the explicit Runge-Kutta methods (DOP853, RK45, RK23) the step is accepted when the
largest per-member RMS error norm is below one; for the other methods, whose error norm is an
RMS over all components, the tolerances are divided by √(batch size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from .._resources import check_memory
from .._validation import InstanceOf, Options, Real, validate_params
from .generalization import eg_from_covariance
from .masked import MaskedOrderParameters
from .masked_ode import MaskedRHS, _Layout
from .model import SGDModel, resolve_model
from .order_parameters import OrderParameters
from .rhs import BatchedRHS, _coefficients, _parse_model, ode_rhs
from .solver_limits import (
    DIVERGENCE_FACTOR,
    EXPLICIT_METHODS,
    METHODS,
    check_alpha,
    check_cost,
)
from .trajectory import Trajectory

__all__ = ["integrate", "ode_rhs"]


def _per_member_solver(method: str, nb: int, n_state: int) -> type | None:
    """A ``solve_ivp`` solver class whose error norm is the max over members of each member's
    RMS error norm, so every member of a batch is controlled exactly as in a solo run.

    Available for the explicit Runge-Kutta methods (it overrides SciPy's
    ``_estimate_error_norm``); returns None otherwise (then the tolerances are scaled by
    1/√nb instead, which bounds each member's norm by the batch's RMS norm).
    """
    from scipy.integrate import DOP853, RK23, RK45

    base = {"DOP853": DOP853, "RK45": RK45, "RK23": RK23}.get(method)
    if base is None or nb == 1 or not hasattr(base, "_estimate_error_norm"):
        return None

    if method == "DOP853":

        class PerMemberDOP853(DOP853):
            def _estimate_error_norm(self, K, h, scale):  # SciPy's formula, per member
                err5 = ((K.T @ self.E5) / scale).reshape(nb, n_state)
                err3 = ((K.T @ self.E3) / scale).reshape(nb, n_state)
                e5 = np.einsum("ij,ij->i", err5, err5)
                e3 = np.einsum("ij,ij->i", err3, err3)
                denom = e5 + 0.01 * e3
                ok = denom > 0
                norms = np.zeros(nb)
                norms[ok] = np.abs(h) * e5[ok] / np.sqrt(denom[ok] * n_state)
                return float(norms.max())

        return PerMemberDOP853

    class PerMember(base):  # type: ignore[valid-type, misc]
        def _estimate_error_norm(self, K, h, scale):
            err = (self._estimate_error(K, h) / scale).reshape(nb, n_state)
            return float(np.sqrt(np.einsum("ij,ij->i", err, err).max() / n_state))

    PerMember.__name__ = f"PerMember{method}"
    return PerMember


def _jacobian_structure(method: str, nb: int, n_state: int) -> dict[str, Any]:
    """Tell the implicit solvers that members are independent (block-diagonal Jacobian).

    Without it LSODA, BDF and Radau estimate the full (nb·n)² Jacobian by nb·n right-hand-side
    evaluations; with it, by about 2n (measured: a batch of 64 at K = M = 4 with LSODA took
    188 s unbanded and 7 s banded).
    """
    if nb == 1:
        return {}
    if method == "LSODA":
        return {"lband": n_state - 1, "uband": n_state - 1}
    if method in ("BDF", "Radau"):
        from scipy.sparse import block_diag

        return {"jac_sparsity": block_diag([np.ones((n_state, n_state))] * nb, format="csc")}
    return {}


def _outputs(ys, fun: BatchedRHS, alpha_out, flat, bound, p):
    """Order parameters and ε_g at the output times from the flat solutions ``ys`` (n_t, ·);
    members from their first diverged output time on are NaN.

    A member is diverged from the first output time at which its state is not finite or
    beyond ``bound``, at which its ε_g is not finite, or at/after the α at which the
    right-hand side froze it (``fun.t_frozen``: a non-finite or overflowing derivative, or a
    trial state beyond the bound), whichever comes first."""
    nb, K, M, n_t = fun.nb, fun.K, fun.M, alpha_out.size
    Qs, Rs, vs = zip(*(fun.unpack(y) for y in ys), strict=True)
    Q = np.stack(Qs, axis=1)  # (nb, n_t, K, K)
    R = np.stack(Rs, axis=1)
    v = np.stack([np.broadcast_to(x, (nb, K)) for x in vs], axis=1)
    with np.errstate(all="ignore"):
        qmax = np.diagonal(Q, axis1=-2, axis2=-1).max(-1)  # (nb, n_t)
        finite = np.isfinite(Q).all((-1, -2)) & np.isfinite(R).all((-1, -2))
        finite &= np.isfinite(v).all(-1)
        bad = ~finite | (qmax > bound[:, None])
    # frozen by the right-hand side: NaN from the first output time >= t_frozen (> 0: the
    # initial state itself is always valid)
    first_frozen = np.searchsorted(alpha_out, np.maximum(fun.t_frozen, 5e-324), side="left")
    bad |= np.arange(n_t)[None, :] >= first_frozen[:, None]
    diverged = bad.any(axis=1)
    first = np.where(diverged, np.argmax(bad, axis=1), n_t)
    after = np.arange(n_t)[None, :] >= first[:, None]
    Q[after] = np.nan
    R[after] = np.nan
    v[after] = np.nan
    alpha_div = np.where(diverged, alpha_out[np.minimum(first, n_t - 1)], np.nan)
    T_t = np.broadcast_to(flat["T"][:, None], (nb, n_t, M, M))
    vs_t = np.broadcast_to(flat["v_star"][:, None], (nb, n_t, M))
    C = np.concatenate(
        [np.concatenate([Q, R], -1), np.concatenate([np.swapaxes(R, -1, -2), T_t], -1)], -2
    )
    with np.errstate(all="ignore"):
        eg = eg_from_covariance(np.nan_to_num(C), np.concatenate([-np.nan_to_num(v), vs_t], -1),
                                K, p["student"], p["teacher"])
    eg[after] = np.nan
    # last safety net: a member whose ε_g is not finite (e.g. an overflowing second layer) is
    # diverged from then on, never "ok" with non-finite values
    eg_bad = ~np.isfinite(eg) & ~after
    if eg_bad.any():
        late = eg_bad.any(axis=1)
        j = np.argmax(eg_bad, axis=1)
        for m in np.flatnonzero(late):
            Q[m, j[m]:] = R[m, j[m]:] = v[m, j[m]:] = eg[m, j[m]:] = np.nan
            if not diverged[m]:
                alpha_div[m] = alpha_out[j[m]]
        diverged = diverged | late
    return Q, R, v, eg, diverged, alpha_div


def _divergence_message(
    K: int, M: int, eta: np.ndarray, alpha_div: float, activation: tuple[str, str],
    what: str = "The ODE",
) -> str:
    msg = (
        f"{what} diverged at α ≈ {alpha_div:.4g} for eta = {np.ravel(eta)[0]:g} "
        f"(max Q_kk grew beyond {DIVERGENCE_FACTOR:g} times its initial scale): the learning "
        "rate is too large."
    )
    if K == M and activation == ("erf", "erf"):
        from .fixed_points import critical_learning_rate

        try:
            eta_c = critical_learning_rate(K)
            msg += (
                f" For K = M = {K} (erf, T = I, σ = 0, B = 1) the perfect solution is stable only "
                f"for 0 < eta < {eta_c:.4g} (statmech.critical_learning_rate)."
            )
        except Exception:  # pragma: no cover - the hint must never mask the real error
            pass
    return msg + " Reduce 'eta', or pass on_divergence='mask' to keep the other members."


@validate_params({
    "op0": [InstanceOf((OrderParameters, MaskedOrderParameters),
                       "an OrderParameters or a MaskedOrderParameters")],
    "method": [Options(METHODS)],
    "rtol": [Real(0, 1, "right")],
    "atol": [Real(0, None, "neither")],
    "on_divergence": [Options(("raise", "mask"))],
})
def integrate(
    op0: OrderParameters,
    *,
    alpha: float | np.ndarray,
    model: SGDModel | None = None,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-12,
    on_divergence: str = "raise",
    **model_options: Any,
) -> Trajectory:
    """Integrate the order-parameter ODEs of online SGD (``docs/ode_theory.md`` §1.2).

    Parameters
    ----------
    op0 : OrderParameters or MaskedOrderParameters
        State at α = 0 (may be batched). :class:`~statmech.MaskedOrderParameters` integrate a
        student whose masks stay fixed (sparse training, retraining after pruning:
        ``docs/masked_theory.md`` §2); the returned trajectory holds the dense Q, R (sums over
        the cells) and ε_g.
    alpha : float or 1-D array
        Strictly increasing output times α >= 0 (the integration starts at 0). A scalar means
        201 equally spaced outputs on [0, alpha].
    model : SGDModel, optional
        The training settings (η, η_v, σ, κ, B, activations, trained v). Its array-valued
        fields broadcast against ``op0.batch_shape``: a sweep over learning rates (or initial
        states) is one call.
    **model_options
        :class:`~statmech.SGDModel` fields as keywords (``eta=0.5, noise=0.1``), the
        convenience style; with ``model`` given they replace its fields. ``eta`` is required
        when ``model`` is not given.
    method : str
        A ``solve_ivp`` method, one of :data:`METHODS` (default ``"DOP853"``).
    rtol, atol : float
        Per-member relative and absolute tolerances.
    on_divergence : {"raise", "mask"}
        On divergence (non-finite values, or max Q_kk beyond :data:`DIVERGENCE_FACTOR` times
        the initial scale, or a derivative that is not finite or beyond that bound divided by
        float64's epsilon, e.g. η² overflowing) raise ``ValueError`` naming η and the stable
        range, or mark just that member: its ``status`` becomes ``"diverged"`` and its values
        NaN from then on. A diverging run is never reported as ``"ok"``: if the solver fails
        while some members diverge, those are marked and the others integrated again on their
        own.

    Returns
    -------
    Trajectory

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and ``TypeError``) for an invalid parameter, naming it, the allowed
        range and the value; also for a final α above :data:`ALPHA_MAX`, and for an explicit
        method (DOP853, RK45, RK23) expected to need more than :data:`MAX_RHS_CALLS`
        right-hand-side evaluations (about 2·η·α near the fixed point; use ``"LSODA"``).
    ValueError
        On divergence with ``on_divergence="raise"``.
    RuntimeError
        If the solver fails while no member diverges.

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters, integrate
    >>> op0 = OrderParameters.random(2, 2, 1000, seed=0)
    >>> traj = integrate(op0, eta=np.array([0.2, 0.5]), alpha=np.geomspace(1, 100, 5))
    >>> traj.eg.shape
    (2, 5)
    >>> from statmech import SGDModel
    >>> integrate(op0, model=SGDModel(eta=0.5, noise=0.1), alpha=10.0).eg.shape
    (201,)
    """
    func = "integrate"
    model = resolve_model(func, model, model_options)
    mop = op0 if isinstance(op0, MaskedOrderParameters) else None
    masked = mop is not None
    p = _parse_masked(mop, func, model) if mop is not None else _parse_model(op0, func, model)
    alpha_out = check_alpha(alpha, func)
    train_v = model.train_second_layer
    rtol, atol = float(rtol), float(atol)

    shape = p["shape"]
    nb = int(np.prod(shape, dtype=int))
    K, M = op0.K, op0.M
    keys = ("Q", "R", "T", "v", "v_star", "eta", "eta_v", "sigma2", "kappa", "batch") + (
        ("p_cells", "Q_cells", "R_cells", "T_cells") if masked else ())
    flat = {k: np.ascontiguousarray(p[k]).reshape((nb,) + p[k].shape[len(shape):])
            for k in keys}
    D, n_t = K + M, alpha_out.size
    n_state = K * (K + 1) // 2 + K * M + (K if train_v else 0)
    make_rhs = None
    if mop is not None:
        n_state = _Layout(mop.cells, M, train_v).n_state
        make_rhs = _masked_rhs_factory(mop.cells)
    generic = (p["student"].name, p["teacher"].name) != ("erf", "erf")
    # per member: solver output (n_t·n_state), Q, R, v, ε_g and the covariances of _outputs
    # (a few copies), the right-hand side's I4 temporaries (erf: 3 arrays of P·D² with
    # P = K(K+1)/2; other activations: the gathered 4×4 covariances of K²·D² index tuples) and
    # the solver's stages (~16 state vectors)
    per = 8 * (n_t * (2 * n_state + 4 * (K * K + K * M + K + 1) + 3 * D * D) + 16 * n_state)
    per += 8 * (3 * (K * (K + 1) // 2) * D * D if not generic else 3 * 16 * K * K * D * D)
    if mop is not None:  # the cell covariances and X^s (erf), or the gathered 3x3 ones of I3
        S = mop.n_cells
        per += 8 * S * (4 * D * D if not generic else 2 * 9 * K * D * D)
    check_memory(nb * per, func, {"op0": f"batch shape {shape}", "alpha": f"{n_t} outputs"},
                 what=f"{nb} members, K={K}, M={M}",
                 hint="Integrate the batch in parts, or ask for fewer output times.")
    Q, R, v, eg, diverged, alpha_div, nfev = _integrate_flat(
        flat, p, K, M, train_v, alpha_out, method, rtol, atol, on_divergence, make_rhs)

    def out(a: np.ndarray) -> np.ndarray:
        return a.reshape(shape + a.shape[1:])

    params = {
        "eta": p["eta"].copy() if shape else float(p["eta"]),
        "eta_v": (p["eta_v"].copy() if shape else float(p["eta_v"])) if train_v else np.nan,
        "train_second_layer": train_v,
        "noise": np.sqrt(p["sigma2"]) if shape else float(np.sqrt(p["sigma2"])),
        "weight_decay": p["kappa"].copy() if shape else float(p["kappa"]),
        "batch_size": p["batch"].astype(int) if shape else int(p["batch"]),
        "method": method,
        "rtol": rtol,
        "atol": atol,
    }
    if mop is not None:
        params["cells"] = mop.n_cells
    return Trajectory(
        alpha=alpha_out.copy(),
        Q=out(Q),
        R=out(R),
        v=out(v),
        eg=out(eg),
        T=out(flat["T"]).copy(),
        v_star=out(flat["v_star"]).copy(),
        activation=(p["student"].name, p["teacher"].name),
        params=params,
        status=out(np.where(diverged, "diverged", "ok")),
        alpha_diverged=out(alpha_div),
        nfev=nfev,
    )


def _masked_rhs_factory(cells: np.ndarray) -> Any:
    """``make_rhs`` of :func:`_integrate_flat` for masked students with these cells."""

    def make(flat: dict, coef: Any, train_v: bool, student: Any, teacher: Any,
             bound: np.ndarray) -> MaskedRHS:
        return MaskedRHS(cells, flat["p_cells"], flat["Q_cells"], flat["R_cells"],
                         flat["T_cells"], flat["v"], flat["v_star"], coef, train_v, student,
                         teacher, bound)

    return make


def _parse_masked(mop: MaskedOrderParameters, func: str, model: SGDModel) -> dict[str, Any]:
    """:func:`statmech.theory.rhs._parse_model` for cell order parameters: the dense
    aggregates and the model broadcast to one batch shape, plus the cell arrays."""
    p = _parse_model(mop.order_parameters(), func, model)
    shape, S = p["shape"], mop.n_cells

    def bc(a: np.ndarray, tail: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(a, shape + tail).astype(float)

    K, M = mop.K, mop.M
    p.update(p_cells=bc(mop.p, (S,)), Q_cells=bc(mop.Q_cells, (S, K, K)),
             R_cells=bc(mop.R_cells, (S, K, M)), T_cells=bc(mop.T_cells, (S, M, M)))
    return p


def _integrate_flat(flat, p, K, M, train_v, alpha_out, method, rtol, atol, on_divergence,
                    make_rhs=None):
    """Integrate the members of the flat (nb, ...) parameter arrays ``flat``.

    Returns (Q, R, v, eg, diverged, alpha_div, nfev) with leading axis nb. If the solver fails
    (or SciPy raises on non-finite values) while some members were frozen as diverged, those
    are marked diverged (``on_divergence="mask"``; the others are integrated again on their
    own) or reported (``"raise"``); a failure without diverged members is a RuntimeError.
    ``make_rhs(flat, coef, bound)`` builds the right-hand side (default: the dense
    :class:`BatchedRHS`).
    """
    nb = flat["Q"].shape[0]
    acts = (p["student"].name, p["teacher"].name)
    scale0 = np.maximum(
        1.0,
        np.maximum(
            np.diagonal(flat["Q"], axis1=-2, axis2=-1).max(-1),
            np.diagonal(flat["T"], axis1=-2, axis2=-1).max(-1),
        ),
    )
    with np.errstate(over="ignore"):
        bound = DIVERGENCE_FACTOR * scale0  # (nb,)
    coef = _coefficients(flat["eta"], flat["eta_v"], flat["sigma2"], flat["kappa"],
                         flat["batch"], train_v)
    if make_rhs is None:
        fun: Any = BatchedRHS(flat["Q"], flat["R"], flat["T"], flat["v"], flat["v_star"], coef,
                              train_v, p["student"], p["teacher"], bound)
    else:
        fun = make_rhs(flat, coef, train_v, p["student"], p["teacher"], bound)
    unpack = fun.unpack

    events = None
    if on_divergence == "raise":

        def escaped(_t: float, y: np.ndarray) -> float:
            Q = unpack(y)[0]
            with np.errstate(all="ignore"):
                margin = bound - np.diagonal(Q, axis1=-2, axis2=-1).max(-1)
            return float(np.nan_to_num(margin, nan=-1.0).min())

        escaped.terminal = True  # type: ignore[attr-defined]
        escaped.direction = -1  # type: ignore[attr-defined]
        events = [escaped]

    y0 = fun.y0
    n_t = alpha_out.size
    t_end = float(alpha_out[-1])
    if t_end > 0 and method in EXPLICIT_METHODS:
        # members whose derivative already overflows at α = 0 are diverged (frozen, cheap);
        # the others set the expected cost of an explicit method
        with np.errstate(all="ignore"):
            fun(0.0, y0)
        live = ~np.isfinite(fun.t_frozen)
        if live.any():
            rate = flat["eta"][live]
            if train_v:
                rate = np.maximum(rate, flat["eta_v"][live])
            check_cost(method, float(np.max(rate)), t_end, "integrate")
    failure = None
    if t_end > 0:
        solver = _per_member_solver(method, nb, fun.n_state)
        root = 1.0 if solver is not None else np.sqrt(nb)
        sol = None
        try:
            with np.errstate(all="ignore"):
                sol = solve_ivp(
                    fun, (0.0, t_end), y0, method=solver or method, t_eval=alpha_out,
                    rtol=rtol / root, atol=atol / root, events=events,
                    **_jacobian_structure(method, nb, fun.n_state),
                )
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # e.g. an implicit method's LU of a Jacobian with non-finite entries
            if not np.isfinite(fun.t_frozen).any():
                raise RuntimeError(
                    f"The ODE solver ({method}) failed: {type(exc).__name__}: {exc}. "
                    "Try method='LSODA' or looser tolerances.") from exc
            failure = f"{type(exc).__name__}: {exc}"
        if sol is not None and on_divergence == "raise" and sol.status == 1:
            t_div = float(sol.t_events[0][0])
            Qd = unpack(sol.y_events[0][0])[0]
            member = int(np.argmax(np.diagonal(Qd, axis1=-2, axis2=-1).max(-1) / bound))
            raise ValueError(_divergence_message(K, M, flat["eta"][member], t_div, acts))
        ts = np.asarray(sol.t if sol is not None else [], dtype=float).reshape(-1)
        if sol is not None and sol.status < 0:
            failure = sol.message
            if not np.isfinite(fun.t_frozen).any():
                raise RuntimeError(
                    f"The ODE solver ({method}) failed at α = {ts[-1] if ts.size else 0.0:g}: "
                    f"{sol.message}. Try method='LSODA' or looser tolerances."
                )
        ys = np.full((n_t, y0.size), np.nan)
        if sol is not None and ts.size:  # ts is empty when there is no solution
            ys[: ts.size] = np.asarray(sol.y).T
        nfev = int(sol.nfev) if sol is not None else 0
        if alpha_out[0] == 0.0:
            ys[0] = y0
    else:
        ys = y0[None, :]
        nfev = 0
    frozen = np.isfinite(fun.t_frozen)
    if failure is not None and on_divergence == "raise":
        m = int(np.argmin(fun.t_frozen))
        raise ValueError(_divergence_message(K, M, flat["eta"][m], float(fun.t_frozen[m]),
                                             acts))
    Q, R, v, eg, diverged, alpha_div = _outputs(ys, fun, alpha_out, flat, bound, p)
    if failure is not None:
        # the frozen members are diverged (marked by _outputs); the solver stopped early, so
        # the others are integrated again without them
        keep = ~frozen
        if keep.any():
            sub = {k: a[keep] for k, a in flat.items()}
            res = _integrate_flat(sub, p, K, M, train_v, alpha_out, method, rtol, atol,
                                  on_divergence, make_rhs)
            for full, part in zip((Q, R, v, eg, diverged, alpha_div), res[:6], strict=True):
                full[keep] = part
            nfev += res[6]
    if on_divergence == "raise" and diverged.any():  # caught at an output time, not by the event
        m = int(np.argmax(diverged))
        raise ValueError(_divergence_message(K, M, flat["eta"][m], float(alpha_div[m]), acts))
    return Q, R, v, eg, diverged, alpha_div, nfev
