"""Training with the theory's scalings: online SGD of committee machines.

The loss of a mini-batch of B fresh samples is ½·mean_b (y_b − ŷ_b)² per member (summed over the
E members of a :class:`~empirical.models.CommitteeMachine`, whose gradients are independent).
With fields w·x/√N its gradient gives exactly the update of ``statmech``
(``ode_theory.md`` §1.1) when torch's SGD uses learning rate η for W and η_v/N for v, and weight
decay κ/(Nη) on W and κ/η_v on v (torch adds ``weight_decay·w`` to the gradient, so the step
shrinks w by lr·wd = κ/N).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .models import CommitteeMachine

__all__ = ["sgd_optimizer", "teacher_labels", "online_sgd_step", "train_online"]


def sgd_optimizer(student: CommitteeMachine, eta: float, eta_v: float | None = None,
                  weight_decay: float = 0.0) -> torch.optim.SGD:
    """torch SGD with the theory's per-layer learning rates (module docstring)."""
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"The 'eta' parameter of sgd_optimizer must be a finite float > 0. "
                         f"Got {eta!r}.")
    eta_v = eta if eta_v is None else eta_v
    N = student.N
    groups: list[dict[str, Any]] = [
        {"params": [student.W], "lr": eta, "weight_decay": weight_decay / (N * eta)}]
    if student.train_second_layer:
        groups.append({"params": [student.v], "lr": eta_v / N,
                       "weight_decay": weight_decay / eta_v if eta_v > 0 else 0.0})
    return torch.optim.SGD(groups, lr=eta, momentum=0.0)


def teacher_labels(teacher: CommitteeMachine, x: torch.Tensor, noise: float = 0.0,
                   z: torch.Tensor | None = None) -> torch.Tensor:
    """y = teacher(x) + σ z (z standard normal (E, B); drawn if not given)."""
    with torch.no_grad():
        y = teacher(x)
        if noise > 0:
            y = y + noise * (torch.randn_like(y) if z is None else z)
    return y


def online_sgd_step(student: CommitteeMachine, opt: torch.optim.Optimizer, x: torch.Tensor,
                    y: torch.Tensor) -> float:
    """One SGD step on inputs x (E, B, N) and labels y (E, B); returns the mean ½·MSE."""
    opt.zero_grad(set_to_none=True)
    loss_per_member = 0.5 * ((y - student(x)) ** 2).mean(dim=1)
    loss_per_member.sum().backward()
    opt.step()
    return float(loss_per_member.detach().mean())


def train_online(student: CommitteeMachine, teacher: CommitteeMachine, *, eta: float,
                 steps: int, eta_v: float | None = None, noise: float = 0.0,
                 weight_decay: float = 0.0, batch_size: int = 1, seed: int = 0) -> None:
    """Online SGD for ``steps`` steps with fresh Gaussian inputs, in place.

    The data come from :class:`empirical.streams.TeacherStudentStream` with ``seed``: the same
    inputs and label noise as :func:`statmech.simulate` (full-N, torch backend) with that seed,
    so from the same initial weights the two trajectories agree to rounding.
    """
    from .streams import TeacherStudentStream

    opt = sgd_optimizer(student, eta, eta_v, weight_decay)
    stream = TeacherStudentStream(teacher, ensemble=student.E, batch_size=batch_size,
                                  noise=noise, seed=seed)
    for _ in range(int(steps)):
        x, y = stream.next_batch()
        online_sgd_step(student, opt, x, y)
