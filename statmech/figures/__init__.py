"""The figure gallery: a registry of figures drawn from cached sweeps
(:func:`~statmech.figures.registry.render`; ``statmech figures``).

The built-in figures (:mod:`~statmech.figures.builtin`, :mod:`~statmech.figures.companion`,
:mod:`~statmech.figures.masked`) register on import, here; plugins register through the
``statmech.figures`` entry points.
"""

from . import builtin, companion, masked  # noqa: F401  (built-in figures register on import)
from .registry import QUALITIES, Figure, GalleryError, figures, register_figure, render

__all__ = ["QUALITIES", "Figure", "GalleryError", "figures", "register_figure", "render"]
