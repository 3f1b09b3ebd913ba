"""Memory estimates and checks before large allocations (one place, reused by every module).

Functions that allocate in proportion to their parameters (:func:`statmech.simulate`,
:meth:`statmech.Ensemble.weights`, batched :func:`statmech.integrate`, the DPP sampler) first
estimate what they need and call :func:`check_memory`, which raises
:class:`~statmech._validation.InvalidParameterError` naming the parameters, the estimate and what
is available when the estimate exceeds it, instead of letting the allocation fail half-way (or
the machine swap).

Available memory is read from ``/proc/meminfo`` (``MemAvailable``: what can be allocated without
swapping), else ``os.sysconf`` (free physical pages); for torch CUDA and CuPy arrays, from the
device (``torch.cuda.mem_get_info`` / ``cupy.cuda.Device.mem_info``). When nothing can be read
the check passes (no refusal on a guess). Tests monkeypatch :func:`available_memory` and
:func:`device_memory`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ._validation import InvalidParameterError

__all__ = ["available_memory", "check_memory", "device_memory", "format_bytes"]


def available_memory() -> int | None:
    """Bytes of host memory available to a new allocation, or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def device_memory(backend: Any) -> int | None:
    """Free bytes on the GPU of a :class:`statmech.simulation.backend.Backend` (None for CPU
    backends or if unknown; then host memory is what counts)."""
    if backend is None or not getattr(backend, "is_gpu", False):
        return None
    try:
        if backend.name == "torch":
            import torch

            return int(torch.cuda.mem_get_info(backend.device)[0])
        import cupy

        return int(cupy.cuda.Device(backend.device).mem_info[0])
    except Exception:  # noqa: BLE001 - an unreadable device is "unknown", never an error here
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024.0 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024.0
    return f"{n:.3g} PiB"  # pragma: no cover


def check_memory(
    estimate: float,
    func: str,
    params: Mapping[str, Any],
    *,
    what: str = "",
    backend: Any = None,
    hint: str = "",
) -> None:
    """Refuse (InvalidParameterError) when ``estimate`` bytes exceed the available memory.

    Parameters
    ----------
    estimate : float
        Bytes the call would allocate (at its peak).
    func : str
        The public function, for the message.
    params : mapping
        The parameters that set the size (name -> value), all named in the message; the first
        one is the error's ``param``.
    what : str
        What the memory is for (e.g. "the final weights and one chunk of members").
    backend : Backend, optional
        A GPU backend: the device's free memory is what counts.
    hint : str
        How to stay within the limit.
    """
    dev = device_memory(backend)
    avail = dev if dev is not None else available_memory()
    if avail is None or estimate <= avail:
        return
    where = "free on the GPU" if dev is not None else "available (MemAvailable)"
    names = ", ".join(f"{k}={v!r}" for k, v in params.items())
    first = next(iter(params), None)
    msg = (f"{func} would need about {format_bytes(estimate)} of memory"
           f"{' for ' + what if what else ''} with {names}, more than the "
           f"{format_bytes(avail)} {where}.")
    if hint:
        msg += f" {hint}"
    raise InvalidParameterError(
        msg, func=func, param=first, allowed=f"at most {format_bytes(avail)} of memory",
        value=None if first is None else repr(params[first]),
    )
