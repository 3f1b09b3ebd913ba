"""empirical: real PyTorch networks, trained on real data, pruned and compared with ``statmech``.

Placeholder package: the empirical module is built in a later issue. It may import ``statmech``;
``statmech`` never imports it.
"""

__all__: list[str] = []
