"""Generalisation error of a teacher-student pair from its order parameters.

``docs/ode_theory.md`` §1.4: with u = (−v, v*) the signed output weights over all K + M fields,

    ε_g = ½ E[(ŷ − y₀)²] = ½ Σ_{c,d} u_c u_d I2(c, d)
        = ½ Σ_ik v_i v_k I2(i,k) + ½ Σ_nm v*_n v*_m I2(n,m) − Σ_in v_i v*_n I2(i,n),

the noiseless error on the ½·MSE scale (y₀ the noiseless teacher output). Against labels with
output noise σ the expected test loss is ε_g + σ²/2.
"""

from __future__ import annotations

import numpy as np

from .._validation import InvalidParameterError, check_real
from .activations import Activation, get_activation
from .ode_integrals import pairwise_I2
from .order_parameters import OrderParameters, joint_covariance

__all__ = ["generalization_error", "test_loss", "resolve_activations", "eg_from_covariance",
           "eg_from_order_parameters"]


def resolve_activations(
    activation: str | Activation | tuple, func: str
) -> tuple[Activation, Activation]:
    """Parse ``activation``: one name for both networks, or a (student, teacher) pair."""
    if isinstance(activation, tuple | list):
        if len(activation) != 2:
            raise InvalidParameterError(
                f"The 'activation' parameter of {func} must be a name or a (student, teacher) "
                f"pair of names. Got {activation!r}."
            )
        return (
            get_activation(activation[0], "activation", func),
            get_activation(activation[1], "activation", func),
        )
    act = get_activation(activation, "activation", func)
    return act, act


def eg_from_covariance(
    C: np.ndarray, u: np.ndarray, K: int, student: Activation, teacher: Activation
) -> np.ndarray:
    """ε_g = ½ Σ_cd u_c u_d I2(c, d) from a covariance (..., D, D) and signed weights (..., D).

    The unvalidated core of :func:`generalization_error` (§1.4), for callers that hold the
    covariance already (the ODE output); round-off below zero is clipped.
    """
    I2 = pairwise_I2(C, K, student, teacher)
    return np.maximum(0.5 * np.einsum("...c,...cd,...d->...", u, I2, u), 0.0)


def eg_from_order_parameters(Q: np.ndarray, R: np.ndarray, T: np.ndarray, v: np.ndarray,
                             v_star: np.ndarray, student: Activation,
                             teacher: Activation) -> np.ndarray:
    """ε_g of batched arrays (Q, R, T, v, v*) without validation (T and v* broadcast against the
    batch of R and v); the core of :func:`generalization_error` for callers with raw arrays."""
    u = np.concatenate([-v, np.broadcast_to(v_star, v.shape[:-1] + v_star.shape[-1:])], axis=-1)
    return eg_from_covariance(joint_covariance(Q, R, T), u, Q.shape[-1], student, teacher)


def generalization_error(
    op: OrderParameters, activation: str | Activation | tuple = "erf"
) -> np.ndarray | float:
    """Noiseless generalisation error ε_g = ½ E[(ŷ − y₀)²] (``docs/ode_theory.md`` §1.4).

    Parameters
    ----------
    op : OrderParameters
        State of the pair, possibly batched.
    activation : str or (str, str)
        ``"erf"``, ``"linear"`` or ``"relu"``, or a (student, teacher) pair.

    Returns
    -------
    float or ndarray of shape ``op.batch_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from statmech import OrderParameters
    >>> op = OrderParameters(Q=np.eye(2), R=np.eye(2), T=np.eye(2))
    >>> float(generalization_error(op))
    0.0
    """
    if not isinstance(op, OrderParameters):
        raise InvalidParameterError(
            "The 'op' parameter of generalization_error must be an OrderParameters. "
            f"Got {type(op).__name__}."
        )
    student, teacher = resolve_activations(activation, "generalization_error")
    eg = eg_from_covariance(op.covariance, op.signed_weights, op.K, student, teacher)
    return float(eg) if eg.ndim == 0 else eg


def test_loss(
    op: OrderParameters, noise: float | np.ndarray, activation: str | Activation | tuple = "erf"
) -> np.ndarray | float:
    """Expected test loss against noisy labels: ε_g + σ²/2, with σ = ``noise`` (a std. dev.)."""
    sigma = check_real(noise, "noise", "test_loss", low=0.0, allow_array=True)
    return generalization_error(op, activation) + 0.5 * np.square(sigma)


# not a pytest test; mypy does not model attributes set on functions
test_loss.__test__ = False  # type: ignore[attr-defined]
