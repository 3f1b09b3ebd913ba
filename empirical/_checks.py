"""Checks shared by the empirical module, all raising :class:`statmech.InvalidParameterError`.

These are built on :mod:`statmech._validation` (the project's one validation mechanism): the
constraint objects there, plus checks that depend on the machine or on several entries — a
torch device that exists here, a list whose every entry satisfies a constraint — and an estimate
of the memory a network's parameters would take, compared with the memory available now
(:func:`statmech._resources.available_memory`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from statmech._resources import available_memory
from statmech._validation import InstanceOf, InvalidParameterError, _fmt, check

__all__ = ["DEVICE", "PATH", "available_memory", "check_device", "check_memory",
           "check_sequence", "mlp_parameter_count"]

#: A torch device as given by a caller (resolved and checked by :func:`check_device`).
DEVICE = [None, InstanceOf((str, torch.device), "a device name such as 'cpu' or 'cuda:0', or "
                                               "a torch.device")]
#: A file-system path.
PATH = [InstanceOf((str, os.PathLike), "a path (str or os.PathLike)")]


def check_device(device: Any, func: str, name: str = "device") -> Any:
    """Return ``device`` if torch knows it and it exists on this machine (None passes)."""
    if device is None:
        return None
    allowed = "None, 'cpu', 'cuda', 'cuda:N' or another torch device available here"
    if not isinstance(device, str | torch.device):
        raise InvalidParameterError.build(func, name, allowed, device)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidParameterError.build(func, name, allowed, device) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidParameterError.build(func, name, allowed, device,
                                              "torch sees no CUDA device.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InvalidParameterError.build(
                func, name, allowed, device,
                f"torch sees {torch.cuda.device_count()} CUDA device(s).")
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise InvalidParameterError.build(func, name, allowed, device,
                                              "torch sees no MPS device.")
    elif dev.type != "cpu":
        raise InvalidParameterError.build(func, name, allowed, device)
    return device


def check_sequence(value: Any, name: str, func: str, constraints: Sequence[Any], *,
                   nonempty: bool = True, unique: bool = False) -> tuple:
    """A list or tuple whose every entry satisfies one of ``constraints``; returned as a tuple.

    Strings are not sequences here (``methods="dpp_node"`` is refused, not read letter by
    letter). The error names the parameter and shows the first offending entry and its index.
    """
    entry = " or ".join("None" if c is None else c.describe() for c in constraints)
    allowed = f"a {'non-empty ' if nonempty else ''}list or tuple whose entries are each {entry}"
    if unique:
        allowed += ", without repeats"

    def error(detail: str = "") -> InvalidParameterError:
        if not isinstance(value, list | tuple):
            return InvalidParameterError.build(func, name, allowed, value, detail)
        shown = repr(list(value))  # a list shown as typed, not as an array
        shown = shown if len(shown) <= 80 else shown[:76] + "...]"
        msg = f"The {name!r} parameter of {func} must be {allowed}. Got {shown} instead."
        return InvalidParameterError(msg + (f" {detail}" if detail else ""), func=func,
                                     param=name, allowed=allowed, value=shown)

    if not isinstance(value, list | tuple) or (nonempty and not value):
        raise error()
    for i, v in enumerate(value):
        try:
            check(v, name, func, constraints)
        except InvalidParameterError:
            raise error(f"Entry {i} is {_fmt(v)}.") from None
    if unique and len(set(value)) != len(value):
        raise error("It repeats an entry.")
    return tuple(value)


def mlp_parameter_count(sizes: Sequence[int], bias: bool = True) -> int:
    """Weights (and biases) of an MLP with layer widths ``sizes``."""
    return sum(int(a) * int(b) + (int(b) if bias else 0)
               for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def check_memory(sizes: Sequence[int], bytes_per_parameter: int, name: str, func: str, *,
                 bias: bool = True) -> int:
    """Refuse layer sizes whose parameters would need more memory than is available now.

    ``bytes_per_parameter`` counts every copy the caller will hold (e.g. 4 for a float32 model,
    16 for a float64 state dict loaded beside a float64 model). Returns the estimate in bytes.
    """
    n = mlp_parameter_count(sizes, bias)
    need = n * int(bytes_per_parameter)
    have = available_memory()
    if have is not None and need > have:
        raise InvalidParameterError(
            f"The {name!r} parameter of {func} asks for layer sizes {list(sizes)}: {n:,} "
            f"parameters, an estimated {need / 2**30:.2f} GiB, but only {have / 2**30:.2f} GiB "
            "of memory is available.",
            func=func, param=name,
            allowed=f"layer sizes whose parameters fit in the available memory "
                    f"({have / 2**30:.2f} GiB)",
            value=f"{list(sizes)} (about {need / 2**30:.2f} GiB)")
    return need
