"""Pruning: every method's explicit operator on a layer and its theory in order-parameter space.

Methods (``PRUNING_METHODS``; one module each): ``random_edge``, ``magnitude_edge``, ``dpp_edge``,
``random_node``, ``magnitude_node``, ``dpp_node``, ``spectral_node``, ``mbp_edge`` (companion
paper A, randomised magnitude pruning). Adding a method is one module defining a subclass of
:class:`EdgeMethod` or :class:`NodeMethod` (their docstrings give the contract, checked when the
class is defined) and ending with ``register(...)``, plus one import line below.
"""

from . import (  # noqa: F401  (registration)
    dpp,  # noqa: F401  (the k-DPP sampler, statmech.dpp)
    dpp_edge,
    dpp_node,
    magnitude_edge,
    magnitude_node,
    mbp_edge,
    random_edge,
    random_node,
    spectral_node,
)
from .api import (
    PruneTheory,
    match_parameters,
    matched_edges,
    order_units_by_teacher,
    prune,
    prune_student,
    prune_theory,
    pruned_error,
    student_layer,
)
from .base import PRUNING_METHODS, Layer, PruningMethod, PruningResult, method_names, register
from .edge_method import EdgeMethod
from .node_method import NodeMethod
from .retraining import (
    RetrainTheory,
    retrain,
    retrain_pruned,
    retrain_theory,
    retraining_init,
    sparse_init,
)

__all__ = [
    "EdgeMethod",
    "Layer",
    "NodeMethod",
    "PRUNING_METHODS",
    "PruneTheory",
    "PruningMethod",
    "PruningResult",
    "RetrainTheory",
    "match_parameters",
    "matched_edges",
    "method_names",
    "order_units_by_teacher",
    "prune",
    "prune_student",
    "prune_theory",
    "pruned_error",
    "register",
    "retrain",
    "retrain_pruned",
    "retrain_theory",
    "retraining_init",
    "sparse_init",
    "student_layer",
]
