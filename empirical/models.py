"""PyTorch networks: the committee machine with the theory's scalings, and plain MLPs.

:class:`CommitteeMachine` is the two-layer network of ``docs/ode_theory.md`` §1.1: fields
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
from statmech._validation import (
    ArrayLike,
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Options,
    validate_params,
)

from ._checks import DEVICE, check_device, check_memory

__all__ = ["CommitteeMachine", "MLP", "order_parameters", "ACTIVATIONS"]

ACTIVATIONS = ("erf", "relu", "linear", "sigmoid")
INITS = ("default", "xavier")


def _g(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "erf":
        return torch.special.erf(x / math.sqrt(2.0))
    if name == "relu":
        return torch.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    return x


#: A seed of torch's generator: None or an int torch accepts.
TORCH_SEED = [None, Integer(0, 2**63 - 1)]
#: Initial weights given to a CommitteeMachine.
WEIGHTS = [None, ArrayLike(), InstanceOf(torch.Tensor, "a torch tensor")]


def check_sizes(sizes: Any, func: str, name: str = "sizes") -> list[int]:
    """Layer widths: a list or tuple of at least two ints >= 1 (bools and floats such as 2.5
    are refused, never rounded)."""
    allowed = "a list of at least two ints >= 1 (input width first, output last)"
    if isinstance(sizes, np.ndarray) and sizes.ndim == 1:
        sizes = sizes.tolist()
    if not isinstance(sizes, list | tuple) or len(sizes) < 2:
        raise InvalidParameterError.build(func, name, allowed, sizes)
    for i, width in enumerate(sizes):
        if not Integer(1).accepts(width):
            raise InvalidParameterError.build(func, name, allowed, sizes,
                                              f"Entry {i} is {width!r}.")
    return [int(w) for w in sizes]


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

    @validate_params({"N": [Integer(1)], "K": [Integer(1)], "ensemble": [Integer(1)],
                      "activation": [Options(ACTIVATIONS)], "W": WEIGHTS, "v": WEIGHTS,
                      "train_second_layer": [Boolean()],
                      "dtype": [Options((torch.float64, torch.float32))], "device": DEVICE,
                      "seed": TORCH_SEED}, func_name="CommitteeMachine")
    def __init__(self, N: int, K: int, *, ensemble: int = 1, activation: str = "erf",
                 W: Any = None, v: Any = None, train_second_layer: bool = True,
                 dtype: torch.dtype = torch.float64, device: Any = "cpu",
                 seed: int | None = 0) -> None:
        super().__init__()
        func = "CommitteeMachine"
        check_device(device, func)
        check_memory([ensemble * N, K, 1], 2 * torch.empty((), dtype=dtype).element_size(),
                     "N", func, bias=False)
        self.N, self.K, self.E = int(N), int(K), int(ensemble)
        self.activation = activation
        gen = torch.Generator(device="cpu")
        if seed is not None:
            gen.manual_seed(int(seed))
        if W is None:
            W = torch.randn((self.E, K, N), generator=gen, dtype=dtype)
        W = torch.as_tensor(np.array(W) if not torch.is_tensor(W) else W, dtype=dtype)
        if tuple(W.shape) == (K, N):
            W = W.expand(self.E, K, N)
        if tuple(W.shape) != (self.E, K, N):
            raise InvalidParameterError.build(
                func, "W", f"an array of shape ({K}, {N}) or ({self.E}, {K}, {N})", W)
        v = torch.ones((self.E, K), dtype=dtype) if v is None else torch.as_tensor(
            np.array(v) if not torch.is_tensor(v) else v, dtype=dtype)
        if tuple(v.shape) == (K,):
            v = v.expand(self.E, K)
        if tuple(v.shape) != (self.E, K):
            raise InvalidParameterError.build(
                func, "v", f"an array of shape ({K},) or ({self.E}, {K})", v)
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

    @validate_params({"activation": [Options(ACTIVATIONS)], "bias": [Boolean()],
                      "init": [Options(INITS)], "seed": TORCH_SEED}, func_name="MLP")
    def __init__(self, sizes: list[int], activation: str = "relu", bias: bool = True,
                 init: str = "default", seed: int | None = None) -> None:
        sizes = check_sizes(sizes, "MLP")
        check_memory(sizes, 4, "sizes", "MLP", bias=bias)  # float32 parameters
        act = activation
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


@validate_params({"student": [InstanceOf(CommitteeMachine)],
                  "teacher": [InstanceOf(CommitteeMachine)]}, func_name="order_parameters")
def order_parameters(student: CommitteeMachine,
                     teacher: CommitteeMachine) -> statmech.OrderParameters:
    """Q = WWᵀ/N, R = WW*ᵀ/N, T = W*W*ᵀ/N, v, v* of a student and teacher (batched over E)."""
    if student.N != teacher.N:
        raise InvalidParameterError.build(
            "order_parameters", "teacher", f"a CommitteeMachine with N = {student.N} (the "
            "student's)", f"N = {teacher.N}")
    if teacher.E not in (1, student.E):
        raise InvalidParameterError.build(
            "order_parameters", "teacher", f"a CommitteeMachine with 1 or {student.E} members",
            f"{teacher.E} members")
    with torch.no_grad():
        W = student.W.detach().cpu().double().numpy()
        Ws = teacher.W.detach().cpu().double().numpy()
        if Ws.shape[0] == 1 and W.shape[0] > 1:
            Ws = np.broadcast_to(Ws, (W.shape[0],) + Ws.shape[1:])
        v = student.v.detach().cpu().double().numpy()
        vs = np.broadcast_to(teacher.v.detach().cpu().double().numpy(), (W.shape[0], Ws.shape[1]))
    op = statmech.OrderParameters.from_weights(W, Ws, v, vs)
    return op[0] if student.E == 1 else op
