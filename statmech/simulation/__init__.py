"""Monte Carlo: ensembles of explicit networks trained by online SGD, and the exact reduced chain.

Modules: ``backend`` (NumPy / torch / CuPy namespaces and per-member random streams),
``sgd_engine`` (the step shared by both engines), ``sgd_full`` (explicit N-dimensional
networks), ``reduced_chain`` (the exact finite-N chain on the order parameters),
``weights_reconstruction`` (weights with prescribed order parameters), ``ensemble``
(:class:`Ensemble`), ``settings`` (:class:`StudentInit`, :class:`BackendOptions`) and
``api`` (:func:`simulate`). Builds on :mod:`statmech.theory` only.
Public names are imported from their module on first use.
"""

from .._lazy import lazy_getattr as _lazy_getattr

_LAZY: dict[str, str] = {
    **dict.fromkeys(("BACKENDS", "Backend", "get_backend", "member_seeds"), "backend"),
    **dict.fromkeys(("Ensemble", "EnsembleMean"), "ensemble"),
    **dict.fromkeys(("SIMULATION_METHODS", "ReconstructionWarning", "simulate"), "api"),
    "weights_from_order_parameters": "weights_reconstruction",
    **dict.fromkeys(("BackendOptions", "StudentInit"), "settings"),
}

__getattr__ = _lazy_getattr(__name__, _LAZY, globals())
__all__ = sorted(_LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
