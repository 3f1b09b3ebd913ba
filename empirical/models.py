"""PyTorch networks: the committee machine with the theory's scalings, and plain MLPs.

:class:`CommitteeMachine` is the two-layer network of ``ode_theory.md`` §1.1: fields
λ_k = w_k·x/√N, output ŷ = Σ_k v_k g(λ_k) with g(x) = erf(x/√2) (or ReLU, linear), no biases. It
holds E independent networks at once (weights (E, K, N) and (E, K)), so one forward/backward pass
trains a whole ensemble. :func:`order_parameters` reads Q, R, T, v, v* off a student and a teacher
into :class:`statmech.OrderParameters`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

import statmech

__all__ = ["CommitteeMachine", "MLP", "order_parameters", "ACTIVATIONS"]

ACTIVATIONS = ("erf", "relu", "linear", "sigmoid")


def _g(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "erf":
        return torch.special.erf(x / math.sqrt(2.0))
    if name == "relu":
        return torch.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    return x


def _check_activation(name: Any, func: str) -> str:
    if name not in ACTIVATIONS:
        raise ValueError(f"The 'activation' parameter of {func} must be one of "
                         f"{', '.join(map(repr, ACTIVATIONS))}. Got {name!r} instead.")
    return name


class CommitteeMachine(nn.Module):
    """E independent soft committee machines ŷ = Σ_k v_k g(w_k·x/√N).

    Parameters
    ----------
    N, K : int
        Input dimension and hidden units.
    ensemble : int
        Number E of independent networks held together.
    activation : {"erf", "relu", "linear"}
    W, v : array-like, optional
        Initial weights, shapes (E, K, N) / (K, N) and (E, K) / (K,). Default: W ~ N(0, 1) and
        v = 1.
    train_second_layer : bool
        Whether v is a trainable parameter (a buffer otherwise).
    dtype, device, seed
        Tensor options and the seed of the default initialisation.
    """

    def __init__(self, N: int, K: int, *, ensemble: int = 1, activation: str = "erf",
                 W: Any = None, v: Any = None, train_second_layer: bool = True,
                 dtype: torch.dtype = torch.float64, device: Any = "cpu",
                 seed: int | None = 0) -> None:
        super().__init__()
        if N < 1 or K < 1 or ensemble < 1:
            raise ValueError(f"CommitteeMachine needs N, K, ensemble >= 1. Got N={N}, K={K}, "
                             f"ensemble={ensemble}.")
        self.N, self.K, self.E = int(N), int(K), int(ensemble)
        self.activation = _check_activation(activation, "CommitteeMachine")
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(int(seed))
        if W is None:
            W = torch.randn((self.E, K, N), generator=gen, dtype=dtype)
        W = torch.as_tensor(np.array(W) if not torch.is_tensor(W) else W, dtype=dtype)
        if tuple(W.shape) == (K, N):
            W = W.expand(self.E, K, N)
        if tuple(W.shape) != (self.E, K, N):
            raise ValueError(f"The 'W' parameter of CommitteeMachine must have shape ({K}, {N}) "
                             f"or ({self.E}, {K}, {N}). Got {tuple(W.shape)}.")
        v = torch.ones((self.E, K), dtype=dtype) if v is None else torch.as_tensor(
            np.array(v) if not torch.is_tensor(v) else v, dtype=dtype)
        if tuple(v.shape) == (K,):
            v = v.expand(self.E, K)
        if tuple(v.shape) != (self.E, K):
            raise ValueError(f"The 'v' parameter of CommitteeMachine must have shape ({K},) or "
                             f"({self.E}, {K}). Got {tuple(v.shape)}.")
        self.W = nn.Parameter(W.clone().to(device))
        if train_second_layer:
            self.v = nn.Parameter(v.clone().to(device))
        else:
            self.register_buffer("v", v.clone().to(device))
        self.train_second_layer = bool(train_second_layer)

    def fields(self, x: torch.Tensor) -> torch.Tensor:
        """λ = W x/√N for inputs (E, B, N) (or (B, N), shared by all members): (E, B, K)."""
        if x.dim() == 2:
            x = x.expand(self.E, *x.shape)
        return torch.matmul(x, self.W.transpose(1, 2)) / math.sqrt(self.N)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ŷ (E, B)."""
        return (_g(self.activation, self.fields(x)) * self.v[:, None, :]).sum(-1)


class MLP(nn.Sequential):
    """A plain multilayer perceptron: Linear layers of ``sizes`` with an activation in between.

    ``MLP([784, 500, 500, 10], activation="sigmoid", init="xavier")`` is the seed paper's MNIST
    network (Xavier-uniform weights with gain 1, zero biases).

    Parameters
    ----------
    sizes : list of int
        Layer widths, input first, output last.
    activation : {"relu", "sigmoid", "erf", "linear"}
    bias : bool
    init : {"default", "xavier"}
        torch's default ``nn.Linear`` initialisation, or Xavier-uniform weights and zero biases.
    seed : int, optional
        Seed of the initialisation (torch's global generator is left as it was); None uses the
        global generator.
    """

    def __init__(self, sizes: list[int], activation: str = "relu", bias: bool = True,
                 init: str = "default", seed: int | None = None) -> None:
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"The 'sizes' parameter of MLP must list at least two layer widths "
                             f">= 1. Got {sizes!r}.")
        act = _check_activation(activation, "MLP")
        if init not in ("default", "xavier"):
            raise ValueError(f"The 'init' parameter of MLP must be 'default' or 'xavier'. "
                             f"Got {init!r}.")
        layers: list[nn.Module] = []
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(int(seed))
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                lin = nn.Linear(int(a), int(b), bias=bias)
                if init == "xavier":
                    nn.init.xavier_uniform_(lin.weight)
                    if bias:
                        nn.init.zeros_(lin.bias)
                layers.append(lin)
                if i < len(sizes) - 2:
                    layers.append(_Activation(act))
        super().__init__(*layers)
        self.sizes = [int(s) for s in sizes]
        self.activation = act
        self.bias = bool(bias)


class _Activation(nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _g(self.name, x)

    def extra_repr(self) -> str:
        return self.name


def order_parameters(student: CommitteeMachine,
                     teacher: CommitteeMachine) -> statmech.OrderParameters:
    """Q = WWᵀ/N, R = WW*ᵀ/N, T = W*W*ᵀ/N, v, v* of a student and teacher (batched over E)."""
    if student.N != teacher.N:
        raise ValueError(f"order_parameters: student N = {student.N} but teacher N = "
                         f"{teacher.N}.")
    with torch.no_grad():
        W = student.W.detach().cpu().double().numpy()
        Ws = teacher.W.detach().cpu().double().numpy()
        if Ws.shape[0] == 1 and W.shape[0] > 1:
            Ws = np.broadcast_to(Ws, (W.shape[0],) + Ws.shape[1:])
        v = student.v.detach().cpu().double().numpy()
        vs = np.broadcast_to(teacher.v.detach().cpu().double().numpy(), (W.shape[0], Ws.shape[1]))
    op = statmech.OrderParameters.from_weights(W, Ws, v, vs)
    return op[0] if student.E == 1 else op
