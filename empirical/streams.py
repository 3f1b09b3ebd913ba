"""Teacher–student data through ``statmech``'s own generator (one implementation of the data).

:class:`TeacherStudentStream` draws the inputs x ~ N(0, I_N) and the label noise of E
teacher–student pairs with :func:`statmech.get_backend` ``("torch")`` from exactly the random
streams :func:`statmech.simulate` uses for its full-N engine: member i's inputs come from child 1
and its label noise from child 2 of ``SeedSequence(seed)`` child (i,), drawn in blocks of
:func:`statmech.simulation.sgd_full.full_block_steps` steps. So a torch student trained on a stream
with seed s sees the very inputs a ``simulate(..., seed=s, backend="torch")`` member sees, and the
two trajectories agree to rounding (tested).

:func:`teacher_student_dataset` draws a finite training set of P samples (and a test set) from
the same generator, for mini-batch training on a fixed data set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from statmech._validation import InvalidParameterError
from statmech.simulation.backend import get_backend, member_seeds
from statmech.simulation.sgd_engine import STREAM_INPUTS, STREAM_NOISE, child_seed
from statmech.simulation.sgd_full import full_block_steps

from .data import Dataset
from .models import CommitteeMachine

__all__ = ["TeacherStudentStream", "teacher_student_dataset"]


def _dtype_name(dtype: torch.dtype) -> str:
    names = {torch.float64: "float64", torch.float32: "float32"}
    if dtype not in names:
        raise InvalidParameterError(
            f"The 'dtype' parameter must be torch.float64 or torch.float32. "
                         f"Got {dtype!r}.")
    return names[dtype]


def _is_seed(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer) and value >= 0


def _member_roots(seed: Any, E: int) -> int | list[int]:
    """The root seed (an int), or one root seed per member (a list of E ints), or
    :class:`InvalidParameterError` naming ``seed``."""
    if _is_seed(seed):
        return int(seed)
    if isinstance(seed, list | tuple | np.ndarray) and len(seed) == E \
            and all(_is_seed(s) for s in seed):
        return [int(s) for s in seed]
    raise InvalidParameterError(f"The 'seed' parameter of TeacherStudentStream must be an "
                                f"int >= 0 or a sequence of {E} ints >= 0 (one per member). "
                                f"Got {seed!r}.")


class TeacherStudentStream:
    """Fresh mini-batches (x (E, B, N), y (E, B)) labelled by a teacher committee machine.

    Parameters
    ----------
    teacher : CommitteeMachine
        One member (shared by all E pairs) or E members.
    ensemble : int
        Number of pairs E (default: the teacher's number of members).
    batch_size : int
        Samples per step B >= 1.
    noise : float
        Output-noise standard deviation σ >= 0 added to the labels.
    seed : int or sequence of int
        Root seed; the streams are those of :func:`statmech.simulate` with the same seed.
        A sequence gives one root seed per member (length E): member e then sees the streams
        of member 0 of ``simulate(..., seed=seed[e])``, so a batch of independent runs (e.g.
        the seeds of :func:`empirical.compare.teacher_student_table`) draws exactly what each
        run would draw alone.

    Iterating yields one step's batch at a time (forever); :meth:`next_batch` does the same.
    """

    def __init__(self, teacher: CommitteeMachine, *, ensemble: int | None = None,
                 batch_size: int = 1, noise: float = 0.0,
                 seed: int | Sequence[int] = 0) -> None:
        E = teacher.E if ensemble is None else ensemble
        if isinstance(E, bool) or not isinstance(E, int | np.integer) or E < 1:
            raise InvalidParameterError(
                f"The 'ensemble' parameter of TeacherStudentStream must be an "
                             f"int >= 1. Got {ensemble!r}.")
        if teacher.E not in (1, E):
            raise ValueError(f"The 'teacher' of TeacherStudentStream must have 1 or ensemble="
                             f"{E} members. Got {teacher.E}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) \
                or batch_size < 1:
            raise InvalidParameterError(
                f"The 'batch_size' parameter of TeacherStudentStream must be an "
                             f"int >= 1. Got {batch_size!r}.")
        if not (np.isfinite(noise) and noise >= 0):
            raise InvalidParameterError(
                f"The 'noise' parameter of TeacherStudentStream must be a finite "
                             f"float >= 0. Got {noise!r}.")
        roots = _member_roots(seed, int(E))
        self.teacher = teacher
        self.E, self.B, self.N = int(E), int(batch_size), teacher.N
        self.noise = float(noise)
        self._dtype = _dtype_name(teacher.W.dtype)
        self.be = get_backend("torch", teacher.W.device)
        seeds = (member_seeds(np.random.SeedSequence(roots), self.E) if isinstance(roots, int)
                 else [member_seeds(np.random.SeedSequence(r), 1)[0] for r in roots])
        self._gx = self.be.generators([child_seed(s, STREAM_INPUTS) for s in seeds])
        self._gz = (self.be.generators([child_seed(s, STREAM_NOISE) for s in seeds])
                    if self.noise > 0 else None)
        self.block_steps = full_block_steps(self.N, self.B, self.be.is_gpu)
        self._pos = self.block_steps
        self._X: Any = None
        self._Z: Any = None

    def _draw(self) -> None:
        self._X = self.be.normal_block(self._gx, (self.block_steps, self.B, self.N), self._dtype)
        self._Z = (self.be.normal_block(self._gz, (self.block_steps, self.B), self._dtype)
                   if self._gz is not None else None)
        self._pos = 0

    @torch.no_grad()
    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next step's inputs (E, B, N) and labels y = teacher(x) + σ z (E, B)."""
        if self._pos == self.block_steps:
            self._draw()
        s = self._pos
        self._pos += 1
        x = self._X[:, s]
        y = self.teacher(x)
        if self._Z is not None:
            y = y + self.noise * self._Z[:, s]
        return x, y

    def __iter__(self) -> TeacherStudentStream:
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.next_batch()


def teacher_student_dataset(teacher: CommitteeMachine, n_train: int, n_test: int = 0, *,
                            noise: float = 0.0, seed: int = 0, member: int = 0) -> Dataset:
    """A finite regression data set from one teacher, drawn by :class:`TeacherStudentStream`.

    Training labels carry output noise σ; test labels are the noiseless teacher outputs (so the
    test ½·MSE estimates ε_g). Returns a :class:`~empirical.data.Dataset` with float targets
    (``y_train`` (n_train,), ``y_test`` (n_test,)) and ``meta['task'] = 'regression'``.
    """
    for name, val, low in (("n_train", n_train, 1), ("n_test", n_test, 0)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < low:
            raise InvalidParameterError(
                f"The '{name}' parameter of teacher_student_dataset must be an "
                             f"int >= {low}. Got {val!r}.")
    if not 0 <= member < teacher.E:
        raise InvalidParameterError(f"The 'member' parameter of teacher_student_dataset must be in "
                         f"[0, {teacher.E - 1}]. Got {member!r}.")
    one = CommitteeMachine(teacher.N, teacher.K, activation=teacher.activation,
                           W=teacher.W[member].detach().cpu().double().numpy(),
                           v=teacher.v[member].detach().cpu().double().numpy(),
                           train_second_layer=False, dtype=teacher.W.dtype,
                           device=teacher.W.device)
    P = n_train + n_test
    stream = TeacherStudentStream(one, batch_size=P, noise=noise, seed=seed)
    x, y = stream.next_batch()
    x, y = x[0].cpu().numpy(), y[0].cpu().numpy()
    with torch.no_grad():
        clean = one(torch.as_tensor(x[n_train:], device=teacher.W.device)[None])[0]
    return Dataset(X_train=x[:n_train], y_train=y[:n_train], X_test=x[n_train:],
                   y_test=clean.cpu().numpy(), name=f"teacher-student N={teacher.N}",
                   meta={"task": "regression", "noise": float(noise), "seed": int(seed)})
