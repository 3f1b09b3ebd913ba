"""empirical: real PyTorch networks, trained on real data, pruned and compared with ``statmech``.

This release has the data loaders (:mod:`empirical.data`, all offline); models, training, pruning
and the comparison with theory come next. ``empirical`` may import ``statmech``; ``statmech``
never imports it.
"""

from .data import Dataset, load_cifar10, load_digits, load_idx, load_mnist1d

__all__ = ["Dataset", "load_cifar10", "load_digits", "load_idx", "load_mnist1d"]
