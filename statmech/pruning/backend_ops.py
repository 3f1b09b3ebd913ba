"""Pruning on the array backends of the Monte Carlo engine (torch, CuPy; NumPy is the default).

Random-edge and magnitude-edge masks — the ones drawn in bulk (many masks of large layers) — are
generated on the backend's device, written once against the array API: a uniformly random
e-subset per unit is the set of the e smallest of i.i.d. continuous draws (their ranks, by a
double ``argsort``), a Bernoulli(c) mask is z < Φ⁻¹(c) for standard normal z, and magnitude masks
rank −|w| (stable, ties by position, as on NumPy). The random numbers come from the backend's own
generator seeded from ``SeedSequence(seed)``, so masks are reproducible per backend and agree with
NumPy's in distribution (magnitude masks: exactly). The other methods select on the host (node
selections involve H units; conditional Poisson sampling is a sequential O(D·e) recursion) and
their results are moved to the backend (``EdgeMethod.prune_layer``, ``NodeMethod.prune_layer``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtri

from ..simulation.backend import Backend
from .base import Layer, PruningMethod, PruningResult


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def _ranks(x: Any, xp: Any) -> Any:
    """Rank of every entry along the last axis (0 = smallest; stable)."""
    return xp.argsort(xp.argsort(x, axis=-1, stable=True), axis=-1, stable=True)


def random_edge_mask_on_backend(variant: str, W: Any, keep: int, n_masks: int, be: Backend,
                                seed: Any) -> Any:
    """Random-edge boolean masks (n_masks, H, D) drawn on the backend (module docstring)."""
    xp = be.xp
    H, D = W.shape
    gen = be.generators([_seed_sequence(seed)])[0]
    z = be.standard_normal(gen, (n_masks, H, D))
    if variant == "bernoulli":
        return z < float(ndtri(keep / D))
    return _ranks(z, xp) < keep


def magnitude_edge_mask_on_backend(variant: str, W: Any, keep: int, n_masks: int,
                                   be: Backend) -> Any:
    """Magnitude-edge boolean masks (n_masks, H, D) on the backend (module docstring)."""
    xp = be.xp
    H, D = W.shape
    a = -xp.abs(W)
    if variant == "global":
        flat = _ranks(xp.reshape(a, (H * D,)), xp) < keep * H
        mask = xp.reshape(flat, (H, D))
    else:
        mask = _ranks(a, xp) < keep
    return xp.broadcast_to(mask[None, ...], (n_masks, H, D))


def result_on_backend(res: PruningResult, be: Backend) -> PruningResult:
    """A NumPy :class:`PruningResult` with its arrays moved to the backend."""
    def move(x: Any) -> Any:
        if x is None:
            return None
        if x.dtype == bool:
            return be.xp.asarray(be.asarray(x.astype(float)) > 0.5)
        if np.issubdtype(x.dtype, np.integer):
            return be.xp.astype(be.asarray(x.astype(float)), be.xp.int64)
        return be.asarray(x)

    return PruningResult(
        method=res.method, variant=res.variant, kind=res.kind, keep=res.keep,
        mask=move(res.mask), kept=move(res.kept), W=move(res.W), W_out=move(res.W_out),
        bias=move(res.bias), bias_out=move(res.bias_out), n_params=res.n_params,
        info=dict(res.info, backend=be.name), backend=be)


def backend_edge_result(m: PruningMethod, variant: str, layer: Layer, W: Any, mask: Any,
                        keep: int, n_masks: int, be: Backend) -> PruningResult:
    """The :class:`PruningResult` of edge masks drawn on the backend: ``mask`` (n_masks, H, D)
    from the method's ``backend_mask`` for ``W`` (the layer's weights on the backend); the
    other arrays are moved there (``EdgeMethod.prune_layer``)."""
    xp = be.xp
    Wp = xp.where(mask, W[None, ...], 0.0)
    counts = be.to_numpy(xp.sum(xp.astype(xp.reshape(mask, (n_masks, -1)), xp.int64), axis=1))
    n_params = (counts + (0 if layer.bias is None else layer.H) + layer.C * layer.H
                + (0 if layer.bias_out is None else layer.C))

    def rep(x):
        return None if x is None else be.asarray(np.broadcast_to(x, (n_masks,) + x.shape))

    return PruningResult(
        method=m.name, variant=variant, kind=m.kind, keep=keep, mask=mask, kept=None, W=Wp,
        W_out=rep(layer.W_out), bias=rep(layer.bias), bias_out=rep(layer.bias_out),
        n_params=n_params.astype(int), info={"backend": be.name}, backend=be)
