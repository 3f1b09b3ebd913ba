"""The base class of the edge-pruning methods, :class:`EdgeMethod`, and its contract.

An edge method zeroes entries of a layer's incoming weights W (H × D) with a mask of the same
shape; the units and their outgoing weights stay. Its theory is the expectation of the pruned
order parameters Q′ = W′W′ᵀ/N and R′ = W′W*ᵀ/N over the masks: in the large-N limit from the
order parameters alone (Gaussian weight coordinates, ``docs/pruning_theory.md`` §2), or from the
actual coordinates with the finite-N Jensen correction (:mod:`statmech.pruning.finite_n`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._validation import InvalidParameterError
from ..theory.generalization import eg_from_order_parameters as eg_of
from ..theory.masked import MaskedOrderParameters, synthetic_coordinates
from ..theory.order_parameters import OrderParameters, joint_covariance
from .backend_ops import backend_edge_result, result_on_backend
from .base import Layer, PruneTheory, PruningMethod, PruningResult, matched_edges, parse_keep
from .edge_reweight import reweight_edges

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..theory.activations import Activation

__all__ = ["EdgeMethod", "edge_fraction"]


class EdgeMethod(PruningMethod, kind="edge"):
    """Base class of the edge methods: a distribution over masks of each unit's incoming edges.

    Contract of a subclass (checked when the class is defined, except what depends on the
    arrays: :class:`TypeError` naming the missing piece; ``tests/statmech/test_method_contract.py``
    checks every registered method against all of it):

    1. Class attributes. Required, non-empty strings: ``name``, ``label``, ``color``,
       ``marker``. Optional: ``variants`` (default ``("default",)``), ``options`` (``{}``),
       ``in_gallery`` (False), ``order`` (100), ``reconstructs`` (False), as described by
       :class:`~statmech.pruning.base.PruningMethod`, and ``needs_input_cov`` (False: whether
       the masks use the layer's input covariance, so that callers measuring statistics on data
       keep it). ``kind`` is ``"edge"``, from this class: do not set it.
    2. ``prune(layer, keep, variant, rng, n_masks, **options) -> PruningResult``, required.
       ``layer`` is a :class:`~statmech.pruning.base.Layer` (H units of D inputs), ``keep`` the
       edges kept per unit (an int in [1, D], already parsed), ``variant`` one of ``variants``,
       ``rng`` a :class:`numpy.random.Generator` (the only source of randomness), ``n_masks``
       >= 1 and ``options`` the declared options (already validated). Return
       ``edge_result(self, variant, layer, mask, keep, info=None)``
       (:func:`statmech.pruning.base.edge_result`) with ``mask`` a bool array (n_masks, H, D).
       When ``fixed_count(variant)`` every mask keeps exactly H·keep weights (``keep`` in each
       row, unless the variant shares them over the layer); otherwise the kept count is random
       with mean ``inclusion_probabilities(...)[0].sum()``.
    3. ``inclusion_probabilities(W, e, variant, **options) -> (P, P2)``, required: the first two
       moments of the mask distribution for weights W (K, N) with e edges per unit, as
       :meth:`prune` draws it. P, float (K, N) in [0, 1]: P[k, i] = P(w_ki is kept), summing to
       e·K when ``fixed_count(variant)``. P2, float (K, K, N), symmetric in (k, l): P2[k, l, i] =
       P(w_ki and w_li are both kept) for k ≠ l, at most min(P[k, i], P[l, i]); its diagonal
       k = l is not used (the caller sets it to P). This is the finite-N theory
       (``prune_theory(weights=...)``).
    4. ``expected_order_parameters(Q, R, c, variant=..., **options) -> (Qp, Rp)``, required: the
       large-N theory. For a student with order parameters Q (K, K) and R (K, M), the expected
       pruned E[Q′], float (K, K), symmetric positive semi-definite, and E[R′], float (K, M),
       under Gaussian weight coordinates of covariance [[Q, R], [Rᵀ, T]] when the fraction
       c ∈ (0, 1] of each unit's N edges is kept (c = 1 gives Q and R back). It must accept the
       keyword ``variant`` and the declared options. T and the second-layer weights are not
       changed by edge pruning.
    5. ``fixed_count(variant) -> bool``, optional, default True: whether every mask keeps a fixed
       number of edges (uniform or DPP-like designs, whose masks are negatively correlated within
       a unit: Hájek's term of the finite-N covariance) rather than independent Bernoulli draws.
    6. ``backend_mask(variant, W, keep, n_masks, backend, seed)``, optional, default None: masks
       drawn by the array namespace of a :class:`~statmech.simulation.backend.Backend` for its
       array ``W`` (H, D), a bool array (n_masks, H, D) on that backend with the distribution of
       item 2, or None to draw them with :meth:`prune` on the host and move them.
    7. ``large_n_inclusion(Z, Q, c, variant, **options) -> P``, optional: float (n, K) in
       [0, 1], the N → ∞ probability that unit k keeps a coordinate whose student values are the
       row Z[i] (n, K), for a student with order parameters Q at keep fraction c; units are
       pruned independently given the coordinate. It fixes the cells where retraining starts
       (:meth:`large_n_cells`; ``large_n_cells`` itself may be overridden with a closed form).
       Default: :meth:`inclusion_probabilities` of the n rows as one layer, round(c·n) kept.

    Provided here, not overridden: :meth:`prune_layer` (what :func:`statmech.prune` runs: keep
    parsing, edge reweighting, backends), :meth:`theory` (what :func:`statmech.prune_theory`
    runs), :meth:`expected_with_weights` and :meth:`retraining_start` (what
    :func:`statmech.retrain_theory` starts from).

    Adding a method: one module defining the subclass and ending with ``MY_METHOD =
    register(MyMethod())`` (:func:`statmech.pruning.base.register`), imported in
    ``statmech/pruning/__init__.py``.
    """

    required_hooks: ClassVar[tuple[str, ...]] = ("prune", "inclusion_probabilities",
                                                 "expected_order_parameters")
    needs_input_cov: ClassVar[bool] = False
    #: Whether the mask is a function of the weights (no randomness): its Monte Carlo mean over
    #: masks is exact (``statmech.pruning.validation``).
    deterministic: ClassVar[bool] = False

    # -- the hooks of the contract ---------------------------------------------------------
    def inclusion_probabilities(self, W: np.ndarray, e: int, variant: str,
                                **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """P (K, N) and P2 (K, K, N): the probabilities that each weight, and each pair of
        weights of two units on the same input, are kept (contract item 3)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def expected_order_parameters(self, Q: np.ndarray, R: np.ndarray, c: float,
                                  variant: str | None = None,
                                  **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """(E[Q′], E[R′]) at large N for keep fraction c (contract item 4)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def fixed_count(self, variant: str) -> bool:
        """Whether every mask keeps a fixed number of edges (contract item 5; default True)."""
        return True

    def backend_mask(self, variant: str, W: Any, keep: int, n_masks: int, backend: Any,
                     seed: Any) -> Any:
        """Masks (n_masks, H, D) drawn on ``backend``, or None: drawn on the host (contract
        item 6; default None)."""
        return None

    def large_n_inclusion(self, Z: np.ndarray, Q: np.ndarray, c: float, variant: str,
                          **options: Any) -> np.ndarray:
        """P (n, K): the N → ∞ probability that unit k keeps a coordinate whose student values
        are the row Z[i] (n, K), for a student with order parameters Q and keep fraction c
        (contract item 7, optional). Default: the exact inclusion probabilities of the n rows
        taken as an n-dimensional layer, keeping round(c·n) per unit (:meth:`inclusion_
        probabilities`), which tend to the limit as n grows."""
        n = Z.shape[0]
        e = min(n, max(1, round(c * n)))
        return np.asarray(self.inclusion_probabilities(Z.T, e, variant, **options)[0]).T

    def large_n_cells(self, op: OrderParameters, c: float, variant: str, n: int, seed: Any,
                      **options: Any) -> MaskedOrderParameters:
        """The cell order parameters of the pruned student at N → ∞ (retraining starts there;
        ``docs/masked_theory.md`` §3): n synthetic Gaussian coordinates of covariance
        [[Q, R], [Rᵀ, T]] and :meth:`large_n_inclusion` (contract item 7, optional)."""
        Z = synthetic_coordinates(op, n, seed)
        P = self.large_n_inclusion(Z[:, :op.K], np.asarray(op.Q), c, variant, **options)
        return MaskedOrderParameters.from_coordinates(Z, P, op.v, op.v_star)

    def retraining_start(self, op: OrderParameters, keep: Any, variant: str, *,
                         N: int | None = None, weights: Any = None,
                         teacher_weights: Any = None, n_coordinates: int = 200_000,
                         seed: Any = 0, func: str = "retrain_theory",
                         **options: Any) -> MaskedOrderParameters:
        """Cell order parameters of the pruned student, where retraining starts: from the
        actual coordinates ``weights`` (K, N) and ``teacher_weights`` (M, N) with the method's
        exact inclusion probabilities, else the large-N cells (:meth:`large_n_cells`)."""
        if weights is None:
            c, _ = edge_fraction(keep, N, func)
            return self.large_n_cells(op, c, variant, n_coordinates, seed, **options)
        W = np.asarray(weights, dtype=float)
        if teacher_weights is None or W.ndim != 2 or W.shape[0] != op.K:
            raise InvalidParameterError(
                f"The 'weights' and 'teacher_weights' parameters of {func} must both be given, "
                f"with shapes (K={op.K}, N) and (M, N).", func=func, param="weights")
        Ws = np.asarray(teacher_weights, dtype=float)
        _, e = edge_fraction(keep, W.shape[1], func)
        P = self.inclusion_probabilities(W, e, variant, **options)[0]
        return MaskedOrderParameters.from_coordinates(np.concatenate([W, Ws]).T, P.T, op.v,
                                                      op.v_star)

    # -- provided ---------------------------------------------------------------------------
    def matched_keep(self, k: int, K: int, N: int) -> int:
        """The keep that matches k of K units in parameters: edges per unit
        (:func:`statmech.matched_edges`, rounded up)."""
        return int(matched_edges(k, K, N, round_up=True))

    def prune_layer(self, layer: Layer, keep: Any, variant: str, *, n_masks: int = 1,
                    seed: Any = None, reweight: str | None = None, backend: Any = None,
                    func: str = "prune", **options: Any) -> PruningResult:
        """:meth:`prune` with ``keep`` as edges per unit (an int in [1, D] or a fraction of D),
        ``reweight="preactivations"`` refitting the kept edges
        (:func:`statmech.pruning.edge_reweight.reweight_edges`) and ``backend`` (a Backend or
        None) holding the result; the arguments are validated by :func:`statmech.prune`."""
        if reweight == "activations":
            raise InvalidParameterError(
                f"The 'reweight' parameter of {func} must be None or 'preactivations' for "
                "edge methods (the kept edges reproduce the unit's pre-activation).")
        if reweight is not None and layer.input_cov is None:
            raise ValueError(f"{func} with an edge method and reweight='preactivations' needs "
                             "'input_cov' (the data's input covariance); for isotropic inputs "
                             "edge reweighting is a no-op (docs/pruning_theory.md §2.7).")
        e = parse_keep(keep, layer.D, "edges kept per unit", func)
        if backend is not None and reweight is None:
            W = backend.asarray(layer.W)
            mask = self.backend_mask(variant, W, e, n_masks, backend, seed)
            if mask is not None:
                return backend_edge_result(self, variant, layer, W, mask, e, n_masks, backend)
            res = self.prune(layer, e, variant, np.random.default_rng(seed), n_masks, **options)
            return result_on_backend(res, backend)
        res = self.prune(layer, e, variant, np.random.default_rng(seed), n_masks, **options)
        if reweight is not None:
            res = dataclasses.replace(res, W=reweight_edges(layer.W, res.mask, layer.input_cov),
                                      info={**res.info, "reweight": reweight})
            if backend is not None:
                res = result_on_backend(res, backend)
        return res

    def expected_with_weights(self, W: np.ndarray, Ws: np.ndarray | None, e: int, variant: str,
                              **options: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Expected pruned (Q′, R′) for the actual student coordinates W (K, N) and teacher
        coordinates Ws (M, N) with e edges per unit, and the inclusion probabilities P (K, N)
        (from :meth:`inclusion_probabilities`; P2's diagonal set to P)."""
        K, N = W.shape
        P, P2 = self.inclusion_probabilities(W, e, variant, **options)
        P2 = np.array(P2, dtype=float)
        idx = np.arange(K)
        P2[idx, idx] = P
        if Ws is None:
            raise ValueError("prune_theory with 'weights' needs 'teacher_weights' too (for R′).")
        Qp = np.einsum("kli,ki,li->kl", P2, W, W) / N
        return Qp, (P * W) @ Ws.T / N, P

    def theory(self, op: OrderParameters, keep: Any, variant: str, *, reweight: str | None,
               student: Activation, teacher: Activation, N: int | None = None,
               weights: Any = None, teacher_weights: Any = None, seed: Any = 0,
               n_samples: int = 4000, func: str = "prune_theory",
               **options: Any) -> PruneTheory:
        """The edge theory of :func:`statmech.prune_theory` (its docstring): ε_g of
        :meth:`expected_order_parameters` at large N, or with ``weights`` and
        ``teacher_weights`` the finite-N expectation of :meth:`expected_with_weights` with its
        Jensen correction and spread. ``seed`` and ``n_samples`` are not used."""
        K = op.K
        Q, R, T, v, vs = (np.asarray(a, dtype=float) for a in (op.Q, op.R, op.T, op.v, op.v_star))
        if reweight is not None:
            raise InvalidParameterError(
                f"The 'reweight' parameter of {func} applies to node methods only.")
        if weights is not None:
            W = np.asarray(weights, dtype=float)
            if W.shape[0] != K:
                raise InvalidParameterError(
                    f"The 'weights' parameter of {func} must have shape (K={K}, N). "
                    f"Got {W.shape}.")
            c, e = edge_fraction(keep, W.shape[1], func)
            Ws = None if teacher_weights is None else np.asarray(teacher_weights, dtype=float)
            Qp, Rp, Pinc = self.expected_with_weights(W, Ws, e, variant, **options)
            eg = float(eg_of(Qp, Rp, T, v, vs, student, teacher))
            from .finite_n import jensen_correction, mask_spread

            fixed = self.fixed_count(variant)
            gap = jensen_correction(W, Ws, Pinc, joint_covariance(Qp, Rp, T),
                                    np.concatenate([-v, vs]), student, teacher, fixed_count=fixed)
            spread = mask_spread(W, Ws, Pinc, Qp, Rp, T, v, vs, student, teacher,
                                 fixed_count=fixed)
            return PruneTheory(self.name, variant, c, Qp, Rp, v.copy(), eg + gap, eg, spread,
                               True, None, {"edges": e, "jensen_correction": gap})
        c, _ = edge_fraction(keep, N, func)
        Qp, Rp = self.expected_order_parameters(Q, R, c, variant=variant, **options)
        eg = float(eg_of(Qp, Rp, T, v, vs, student, teacher))
        return PruneTheory(self.name, variant, c, Qp, Rp, v.copy(), eg, eg, 0.0, True, None,
                           {"fraction": c})


def edge_fraction(keep: Any, N: int | None, func: str) -> tuple[float, int | None]:
    """(keep fraction c, edges per unit e or None): ints need N; fractions are rounded to whole
    edges when N is known."""
    if N is not None:
        e = parse_keep(keep, int(N), "edges kept per unit", func)
        return e / N, e
    if isinstance(keep, int | np.integer) and not isinstance(keep, bool | np.bool_):
        raise InvalidParameterError(
            f"The 'N' parameter of {func} is required when 'keep' is a number "
            "of edges per unit (or pass a fraction in (0, 1]).")
    parse_keep(keep, 1, "edges kept per unit", func)  # validates a fraction in (0, 1]
    return float(keep), None
