"""Exact expectations over the kept set of node-pruning methods (order-parameter space).

A node method is a distribution over kept sets S (|S| = k) plus a rule for the kept units' new
outgoing weights v′_S (plain restriction, least-squares reweighting, or spectral reconstruction).
ε_g(S, v′) is then exact (``theory_tools.node_eg``). The expectation is computed

* by enumeration of all C(K, k) subsets when there are at most :data:`ENUMERATION_LIMIT` (mean,
  standard deviation and the full distribution, exact);
* otherwise from the first- and second-order inclusion probabilities, which give the mean exactly
  when v′ = v on S (no reweighting); the spread across masks is then estimated from sampled sets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .theory_tools import node_eg, node_mean_from_inclusion

ENUMERATION_LIMIT = 50_000


def all_subsets(K: int, k: int) -> np.ndarray:
    """All k-subsets of range(K), shape (C(K, k), k), lexicographic."""
    return np.array(list(itertools.combinations(range(K), k)), dtype=int).reshape(-1, k)


@dataclass(frozen=True)
class NodeExpectation:
    """Distribution summary of ε_g over kept sets (see module docstring)."""

    mean: float
    std: float
    exact: bool
    pi1: np.ndarray  # P(i ∈ S)
    pi2: np.ndarray  # P(i, j ∈ S)
    mean_v: np.ndarray  # E[v′] (K,)
    sets: np.ndarray | None = None  # enumerated / deterministic sets
    probs: np.ndarray | None = None
    egs: np.ndarray | None = None


def expectation_over_sets(I2: np.ndarray, K: int, vk: np.ndarray, v_star: np.ndarray,
                          sets: np.ndarray, probs: np.ndarray) -> NodeExpectation:
    """Exact expectation over an explicit distribution of kept sets.

    ``vk`` (n_sets, K): each set's new outgoing weights, zero on removed units.
    """
    probs = np.asarray(probs, dtype=float)
    probs = probs / probs.sum()
    egs = node_eg(I2, K, vk, v_star)
    mean = float(probs @ egs)
    std = float(np.sqrt(max(probs @ (egs - mean) ** 2, 0.0)))
    ind = np.zeros((sets.shape[0], K))
    np.put_along_axis(ind, sets, 1.0, axis=1)
    pi1 = probs @ ind
    pi2 = np.einsum("s,si,sj->ij", probs, ind, ind)
    return NodeExpectation(mean, std, True, pi1, pi2, probs @ vk, sets, probs, egs)


def expectation_from_inclusion(I2: np.ndarray, K: int, v: np.ndarray, v_star: np.ndarray,
                               pi1: np.ndarray, pi2: np.ndarray,
                               sampled_sets: np.ndarray) -> NodeExpectation:
    """Exact mean from (π_i, π_ij); the spread from sampled sets (not exact)."""
    mean = node_mean_from_inclusion(I2, K, v, v_star, pi1, pi2)
    vk = np.zeros((sampled_sets.shape[0], K))
    np.put_along_axis(vk, sampled_sets, v[sampled_sets], axis=1)
    egs = node_eg(I2, K, vk, v_star)
    return NodeExpectation(mean, float(egs.std(ddof=1)) if egs.size > 1 else 0.0, False,
                           pi1, pi2, pi1 * v)


def n_subsets(K: int, k: int) -> int:
    """C(K, k)."""
    return math.comb(K, k)
