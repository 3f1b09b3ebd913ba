"""empirical: real PyTorch networks, trained on real data, pruned and compared with ``statmech``.

So far: offline data loaders (:mod:`empirical.data`), the committee machine with the theory's
scalings and plain MLPs (:mod:`empirical.models`), and online SGD with the theory's learning-rate
scalings (:mod:`empirical.training`). Pruning and the comparison with theory come next.
``empirical`` may import ``statmech``; ``statmech`` never imports it. Importing ``empirical``
needs torch (the ``empirical`` extra).
"""

from .data import Dataset, load_cifar10, load_digits, load_idx, load_mnist1d
from .models import MLP, CommitteeMachine, order_parameters
from .training import online_sgd_step, sgd_optimizer, teacher_labels, train_online

__all__ = [
    "CommitteeMachine",
    "Dataset",
    "MLP",
    "load_cifar10",
    "load_digits",
    "load_idx",
    "load_mnist1d",
    "online_sgd_step",
    "order_parameters",
    "sgd_optimizer",
    "teacher_labels",
    "train_online",
]
