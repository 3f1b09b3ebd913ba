"""Training with the theory's scalings: online SGD of committee machines.

The loss of a mini-batch of B fresh samples is ½·mean_b (y_b − ŷ_b)² per member (summed over the
E members of a :class:`~empirical.models.CommitteeMachine`, whose gradients are independent).
With fields w·x/√N its gradient gives exactly the update of ``statmech``
(``docs/ode_theory.md`` §1.1) when torch's SGD uses learning rate η for W and η_v/N for v, and
weight decay κ/(Nη) on W and κ/η_v on v (torch adds ``weight_decay·w`` to the gradient, so the
step shrinks w by lr·wd = κ/N).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from statmech._progress import ProgressBar
from statmech._validation import (
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    ListOf,
    Real,
    validate_params,
)

from .models import CommitteeMachine

STUDENT = [InstanceOf(CommitteeMachine)]
TENSOR = [InstanceOf(torch.Tensor, "a torch tensor")]

__all__ = ["sgd_optimizer", "teacher_labels", "online_sgd_step", "train_online"]


@validate_params({"student": STUDENT, "eta": [Real(0.0, closed="neither")],
                  "eta_v": [None, Real(0.0)], "weight_decay": [Real(0.0)]},
                 func_name="sgd_optimizer")
def sgd_optimizer(student: CommitteeMachine, eta: float, eta_v: float | None = None,
                  weight_decay: float = 0.0) -> torch.optim.SGD:
    """torch SGD with the theory's per-layer learning rates (module docstring)."""
    eta_v = eta if eta_v is None else eta_v
    N = student.N
    groups: list[dict[str, Any]] = [
        {"params": [student.W], "lr": eta, "weight_decay": weight_decay / (N * eta)}]
    if student.train_second_layer:
        groups.append({"params": [student.v], "lr": eta_v / N,
                       "weight_decay": weight_decay / eta_v if eta_v > 0 else 0.0})
    return torch.optim.SGD(groups, lr=eta, momentum=0.0)


@validate_params({"teacher": STUDENT, "x": TENSOR, "noise": [Real(0.0)], "z": [None, *TENSOR]},
                 func_name="teacher_labels")
def teacher_labels(teacher: CommitteeMachine, x: torch.Tensor, noise: float = 0.0,
                   z: torch.Tensor | None = None) -> torch.Tensor:
    """y = teacher(x) + σ z (z standard normal (E, B); drawn if not given)."""
    with torch.no_grad():
        y = teacher(x)
        if noise > 0:
            y = y + noise * (torch.randn_like(y) if z is None else z)
    return y


@validate_params({"student": STUDENT, "opt": [InstanceOf(torch.optim.Optimizer)], "x": TENSOR,
                  "y": TENSOR}, func_name="online_sgd_step")
def online_sgd_step(student: CommitteeMachine, opt: torch.optim.Optimizer, x: torch.Tensor,
                    y: torch.Tensor) -> float:
    """One SGD step on inputs x (E, B, N) and labels y (E, B); returns the mean ½·MSE."""
    return float(_sgd_step(student, opt, x, y).mean())


def _sgd_step(student: CommitteeMachine, opt: torch.optim.Optimizer, x: torch.Tensor,
              y: torch.Tensor) -> torch.Tensor:
    """:func:`online_sgd_step` without the argument checks; returns the members' losses."""
    opt.zero_grad(set_to_none=True)
    loss_per_member = 0.5 * ((y - student(x)) ** 2).mean(dim=1)
    loss_per_member.sum().backward()
    opt.step()
    return loss_per_member.detach()


#: Per-step work (E·B·K·N multiply-adds of the forward pass) up to which :func:`train_online`
#: runs torch on one intra-op thread: below it a step's tensors are too small for a second
#: thread to pay for waking it (on a busy 2-core machine, 2 threads made a step of E = 3,
#: B = 1, K = 6, N = 200 ~15× slower).
SINGLE_THREAD_WORK = 2**18


@contextmanager
def _intra_op_threads(n: int | None) -> Iterator[None]:
    """torch's intra-op threads at most ``n`` inside the block (None: unchanged), restored
    after."""
    old = torch.get_num_threads()
    if n is None or n >= old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@validate_params({"student": STUDENT, "teacher": STUDENT, "eta": [Real(0.0, closed="neither")],
                  "steps": [Integer(0)], "eta_v": [None, Real(0.0)], "noise": [Real(0.0)],
                  "weight_decay": [Real(0.0)], "batch_size": [Integer(1)],
                  "seed": [Integer(0), ListOf((Integer(0),), 1)],
                  "progress": [None, Boolean(), InstanceOf(ProgressBar, "a ProgressBar")]},
                 func_name="train_online")
def train_online(student: CommitteeMachine, teacher: CommitteeMachine, *, eta: float,
                 steps: int, eta_v: float | None = None, noise: float = 0.0,
                 weight_decay: float = 0.0, batch_size: int = 1,
                 seed: int | Sequence[int] = 0, progress: bool | ProgressBar | None = None,
                 mask: Any = None) -> None:
    """Online SGD for ``steps`` steps with fresh Gaussian inputs, in place.

    The data come from :class:`empirical.streams.TeacherStudentStream` with ``seed``: the same
    inputs and label noise as :func:`statmech.simulate` (full-N, torch backend) with that seed,
    so from the same initial weights the two trajectories agree to rounding. A list of seeds
    (one per member) trains independent runs as one ensemble: member e gets the data of a
    one-member run with ``seed[e]``.

    Parameters
    ----------
    student, teacher : CommitteeMachine
        The teacher has one member (shared) or as many as the student.
    eta, eta_v, weight_decay
        Learning rates and weight decay (:func:`sgd_optimizer`).
    steps : int
        SGD steps (α·N for a time α).
    noise : float
        Output-noise standard deviation σ of the labels.
    batch_size : int
        Fresh samples per step.
    seed : int or list of int
        Root seed of the data, or one per member.
    progress : bool, ProgressBar or None
        A bar counting SGD steps: shown (True), not shown (False), or where
        :class:`statmech._progress.ProgressBar` shows it by default (None: on a terminal); or
        the caller's own bar, advanced by one unit per step.
    mask : bool array (K, N) or (E, K, N), optional
        Fixed masks (fine-tuning a pruned student, sparse training): the student's weights off
        the mask are zeroed first and after every step, so only the kept weights learn, as in
        ``statmech.simulate(init=StudentInit(mask=...))`` (``docs/masked_theory.md`` §1).

    Notes
    -----
    On the CPU, when a step is small (at most :data:`SINGLE_THREAD_WORK` multiply-adds) torch
    runs the loop on one intra-op thread (restored afterwards): waking a second thread for such
    tiny tensors costs more than it saves, and much more on a busy machine.
    """
    from .streams import TeacherStudentStream

    if teacher.N != student.N:
        raise InvalidParameterError.build("train_online", "teacher",
                                          f"a CommitteeMachine with N = {student.N} (the "
                                          "student's)", f"N = {teacher.N}")
    if isinstance(seed, list | tuple) and len(seed) != student.E:
        raise InvalidParameterError.build("train_online", "seed",
                                          f"an int >= 0 or {student.E} ints >= 0 (one per "
                                          "member)", seed)
    keep = None
    if mask is not None:
        m = np.asarray(mask.detach().cpu() if isinstance(mask, torch.Tensor) else mask)
        if m.dtype != bool or m.shape not in (tuple(student.W.shape[1:]),
                                             tuple(student.W.shape)):
            raise InvalidParameterError.build(
                "train_online", "mask", f"a boolean array of shape {tuple(student.W.shape[1:])}"
                f" or {tuple(student.W.shape)}", f"{m.dtype} array of shape {m.shape}")
        keep = torch.as_tensor(np.broadcast_to(m, student.W.shape).copy(),
                               device=student.W.device).to(student.W.dtype)
        with torch.no_grad():
            student.W.mul_(keep)
    stream = TeacherStudentStream(teacher, ensemble=student.E, batch_size=batch_size,
                                  noise=noise, seed=seed)
    opt = sgd_optimizer(student, eta, eta_v, weight_decay)
    steps = int(steps)
    small = (student.W.device.type == "cpu"
             and student.E * batch_size * student.K * student.N <= SINGLE_THREAD_WORK)
    own = None if isinstance(progress, ProgressBar) else ProgressBar(
        steps, f"online SGD (E={student.E}, N={student.N})", progress, unit="SGD steps")
    bar = own if own is not None else progress
    every = 256  # steps between progress updates
    try:
        with _intra_op_threads(1 if small else None):
            for i in range(steps):
                x, y = stream.next_batch()
                _sgd_step(student, opt, x, y)
                if keep is not None:
                    with torch.no_grad():
                        student.W.mul_(keep)
                if (i + 1) % every == 0:
                    bar.update(every)
        bar.update(steps % every)
    finally:
        if own is not None:
            own.close()
