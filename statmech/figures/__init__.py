"""The figure gallery: a registry of figures drawn from cached sweeps
(:func:`~statmech.figures.registry.render`; ``statmech figures``)."""

from .registry import QUALITIES, Figure, GalleryError, figures, register_figure, render

__all__ = ["QUALITIES", "Figure", "GalleryError", "figures", "register_figure", "render"]
