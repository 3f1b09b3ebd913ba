"""Training with the theory's scalings: online SGD of committee machines.

The loss of a mini-batch of B fresh samples is ½·mean_b (y_b − ŷ_b)² per member (summed over the
E members of a :class:`~empirical.models.CommitteeMachine`, whose gradients are independent).
With fields w·x/√N its gradient gives exactly the update of ``statmech``
(``ode_theory.md`` §1.1) when torch's SGD uses learning rate η for W and η_v/N for v, and weight
decay κ/(Nη) on W and κ/η_v on v (torch adds ``weight_decay·w`` to the gradient, so the step
shrinks w by lr·wd = κ/N).
"""

from __future__ import annotations

from typing import Any

import torch

from statmech._validation import InstanceOf, Integer, InvalidParameterError, Real, validate_params

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
    opt.zero_grad(set_to_none=True)
    loss_per_member = 0.5 * ((y - student(x)) ** 2).mean(dim=1)
    loss_per_member.sum().backward()
    opt.step()
    return float(loss_per_member.detach().mean())


@validate_params({"student": STUDENT, "teacher": STUDENT, "eta": [Real(0.0, closed="neither")],
                  "steps": [Integer(0)], "eta_v": [None, Real(0.0)], "noise": [Real(0.0)],
                  "weight_decay": [Real(0.0)], "batch_size": [Integer(1)],
                  "seed": [Integer(0)]}, func_name="train_online")
def train_online(student: CommitteeMachine, teacher: CommitteeMachine, *, eta: float,
                 steps: int, eta_v: float | None = None, noise: float = 0.0,
                 weight_decay: float = 0.0, batch_size: int = 1, seed: int = 0) -> None:
    """Online SGD for ``steps`` steps with fresh Gaussian inputs, in place.

    The data come from :class:`empirical.streams.TeacherStudentStream` with ``seed``: the same
    inputs and label noise as :func:`statmech.simulate` (full-N, torch backend) with that seed,
    so from the same initial weights the two trajectories agree to rounding.
    """
    from .streams import TeacherStudentStream

    if teacher.N != student.N:
        raise InvalidParameterError.build("train_online", "teacher",
                                          f"a CommitteeMachine with N = {student.N} (the "
                                          "student's)", f"N = {teacher.N}")
    opt = sgd_optimizer(student, eta, eta_v, weight_decay)
    stream = TeacherStudentStream(teacher, ensemble=student.E, batch_size=batch_size,
                                  noise=noise, seed=seed)
    for _ in range(int(steps)):
        x, y = stream.next_batch()
        online_sgd_step(student, opt, x, y)
