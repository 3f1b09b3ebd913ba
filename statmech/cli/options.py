"""Options the ``statmech`` commands share: argparse value types and the model options.

:func:`add_model_options` is the one place that declares the teacher–student model and the
online-SGD options of ``statmech ode`` and ``statmech simulate`` (network sizes, activations,
second-layer weights, learning rates, noise, weight decay, batch size).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ..theory.model import MODEL_DEFAULTS, MODEL_FIELDS, SGDModel

__all__ = ["real", "activation", "add_model_options", "model_options", "TRAIN_V_HELP"]

TRAIN_V_HELP = "train v too (otherwise the soft committee machine, v fixed)"


def real(text: str) -> float:
    """argparse type of the float flags: a finite number (nan and inf are refused here)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def activation(text: str) -> str | tuple[str, str]:
    """argparse type of ``--activation``: ``NAME`` or ``STUDENT:TEACHER``."""
    parts = text.split(":")
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError("use NAME or STUDENT:TEACHER, e.g. erf or relu:erf")


#: argparse ``type`` of each model field's flag (its default and help come from the field).
_FIELD_TYPES: dict[str, Callable[[str], Any]] = {
    "eta": real, "eta_v": real, "noise": real, "weight_decay": real, "batch_size": int,
    "activation": activation}
#: The CLI's default learning rate (the model itself has none).
DEFAULT_ETA = 0.5


def _add_field(group: Any, name: str, several_eta: bool = False) -> None:
    """Add the flag of :class:`statmech.SGDModel` field ``name`` (``--eta-v`` for ``eta_v``)
    with the field's help text and default."""
    f = SGDModel.__dataclass_fields__[name]
    flag = "--" + name.replace("_", "-")
    help_text = f.metadata["help"]
    if f.type in ("bool", bool):
        group.add_argument(flag, action="store_true", help=help_text)
    elif name == "eta" and several_eta:
        group.add_argument(flag, type=real, nargs="+", default=[DEFAULT_ETA],
                           help="learning rate(s); several values are integrated as one batch")
    else:
        default = DEFAULT_ETA if name == "eta" else MODEL_DEFAULTS[name]
        group.add_argument(flag, type=_FIELD_TYPES[name], default=default, help=help_text)


def add_model_options(parser: argparse.ArgumentParser, *, several_eta: bool = False,
                      model_group: Any = None,
                      initial_options: Callable[[Any], None] | None = None) -> tuple[Any, Any]:
    """Add the model options to ``parser``, in two argument groups, from the fields of
    :class:`statmech.SGDModel` (one flag per field, its help and default from the field).

    Group "model": ``--K``, ``--M``, ``--activation``, ``--v-star``, then the command's own
    initial-state options (``initial_options(group)``), then ``--train-second-layer``.
    Group "learning": the fields whose metadata group is "learning", in field order
    (``--eta``, ``--eta-v``, ``--noise``, ``--weight-decay``, ``--batch-size``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The command's parser.
    several_eta : bool
        ``--eta`` takes one or more learning rates (integrated as one batch) instead of one.
    model_group : argparse argument group, optional
        The "model" group, when the command has already put options in it (default: a new
        group "model").
    initial_options : callable, optional
        Adds the command's options about the initial student (``--v``, ``--init-v``, ...) to
        the model group, before ``--train-second-layer``.

    Returns
    -------
    (model group, learning group)
    """
    g = parser.add_argument_group("model") if model_group is None else model_group
    g.add_argument("--K", type=int, default=2, help="student hidden units")
    g.add_argument("--M", type=int, default=None, help="teacher hidden units (default: K)")
    _add_field(g, "activation")
    g.add_argument("--v-star", type=real, default=1.0,
                   help="teacher second-layer weight (all units)")
    if initial_options is not None:
        initial_options(g)
    _add_field(g, "train_second_layer")
    learning = parser.add_argument_group("learning")
    for f in dataclasses.fields(SGDModel):
        if f.metadata["group"] == "learning":
            _add_field(learning, f.name, several_eta)
    return g, learning


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`statmech.SGDModel` fields of parsed flags, as keywords (``eta`` given several
    times becomes an array)."""
    out = {name: getattr(args, name) for name in MODEL_FIELDS}
    if isinstance(out["eta"], list):
        eta = np.array(out["eta"], dtype=float)
        out["eta"] = eta if eta.size > 1 else float(eta[0])
    return out
