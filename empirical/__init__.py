"""empirical: real PyTorch networks, trained on real data, pruned and compared with statmech.

Offline data loaders (empirical.data); teacher-student data through statmech's own generator
(empirical.streams); the committee machine with the theory's scalings and plain MLPs
(empirical.models); online SGD with the theory's learning-rate scalings (empirical.training)
and mini-batch SGD/Adam on real data with checkpoints (empirical.fit); pruning of torch
networks with statmech's methods (empirical.pruning); the comparisons with theory
(empirical.compare); and the ``empirical train | prune | compare`` command (empirical.cli).
``empirical`` may import ``statmech``; ``statmech`` never imports it. Using ``empirical`` needs
torch (the ``empirical`` extra); its public names are imported on first use, so that
``import empirical`` (and ``empirical --help``) does not load torch.
"""

from typing import TYPE_CHECKING

from statmech._lazy import lazy_getattr as _lazy_getattr

#: Public name -> the submodule that defines it (imported on first use, module __getattr__).
_LAZY: dict[str, str] = {
    **dict.fromkeys(("real_data_table", "summarise", "teacher_student_table"), "compare"),
    **dict.fromkeys(("Dataset", "load_cifar10", "load_digits", "load_idx", "load_mnist1d"),
                    "data"),
    **dict.fromkeys(("evaluate", "load_checkpoint", "save_checkpoint", "train_classifier"),
                    "fit"),
    **dict.fromkeys(("MLP", "CommitteeMachine", "order_parameters"), "models"),
    **dict.fromkeys(("count_parameters", "layer_statistics", "measure_loss", "measure_losses",
                     "prune_committee", "prune_mlp"), "pruning"),
    **dict.fromkeys(("TeacherStudentStream", "teacher_student_dataset"), "streams"),
    **dict.fromkeys(("online_sgd_step", "sgd_optimizer", "teacher_labels", "train_online"),
                    "training"),
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .compare import real_data_table, summarise, teacher_student_table
    from .data import Dataset, load_cifar10, load_digits, load_idx, load_mnist1d
    from .fit import evaluate, load_checkpoint, save_checkpoint, train_classifier
    from .models import MLP, CommitteeMachine, order_parameters
    from .pruning import (
        count_parameters,
        layer_statistics,
        measure_loss,
        measure_losses,
        prune_committee,
        prune_mlp,
    )
    from .streams import TeacherStudentStream, teacher_student_dataset
    from .training import online_sgd_step, sgd_optimizer, teacher_labels, train_online


__getattr__ = _lazy_getattr(__name__, _LAZY, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CommitteeMachine",
    "Dataset",
    "MLP",
    "count_parameters",
    "evaluate",
    "load_checkpoint",
    "real_data_table",
    "save_checkpoint",
    "summarise",
    "train_classifier",
    "load_cifar10",
    "load_digits",
    "load_idx",
    "layer_statistics",
    "load_mnist1d",
    "measure_loss",
    "measure_losses",
    "online_sgd_step",
    "order_parameters",
    "prune_committee",
    "prune_mlp",
    "sgd_optimizer",
    "TeacherStudentStream",
    "teacher_labels",
    "teacher_student_dataset",
    "teacher_student_table",
    "train_online",
]
