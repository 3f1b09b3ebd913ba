"""empirical: real PyTorch networks, trained on real data, pruned and compared with ``statmech``.

Offline data loaders (:mod:`empirical.data`); teacher–student data through statmech's own
generator (:mod:`empirical.streams`); the committee machine with the theory's scalings and plain
MLPs (:mod:`empirical.models`); online SGD with the theory's learning-rate scalings
(:mod:`empirical.training`) and mini-batch SGD/Adam on real data with checkpoints
(:mod:`empirical.fit`); pruning of torch networks with statmech's methods
(:mod:`empirical.pruning`); the comparisons with theory (:mod:`empirical.compare`); and the
``empirical train | prune | compare`` command (:mod:`empirical.cli`).
``empirical`` may import ``statmech``; ``statmech`` never imports it. Importing ``empirical``
needs torch (the ``empirical`` extra).
"""

from .compare import real_data_table, summarise, teacher_student_table
from .data import Dataset, load_cifar10, load_digits, load_idx, load_mnist1d
from .fit import evaluate, load_checkpoint, save_checkpoint, train_classifier
from .models import MLP, CommitteeMachine, order_parameters
from .pruning import count_parameters, layer_statistics, measure_loss, prune_committee, prune_mlp
from .streams import TeacherStudentStream, teacher_student_dataset
from .training import online_sgd_step, sgd_optimizer, teacher_labels, train_online

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
