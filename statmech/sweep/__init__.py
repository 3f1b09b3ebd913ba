"""Sweeps: declarative parameter sweeps over registered computations, cached point by point,
run locally in parallel or on a Dask cluster (:mod:`~statmech.sweep.spec`,
:mod:`~statmech.sweep.cache`, :mod:`~statmech.sweep.run`, :mod:`~statmech.sweep.registry`)."""

from . import builtin, masked  # noqa: F401  (the built-in computations register on import)
from .cache import DEFAULT_CACHE, Cache, point_key, point_seed
from .registry import (
    Computation,
    ListOf,
    computations,
    get_computation,
    register_computation,
)
from .run import EXECUTORS, compute_point, run_sweep
from .spec import Sweep, load_sweep

__all__ = ["Cache", "Computation", "DEFAULT_CACHE", "EXECUTORS", "ListOf", "Sweep",
           "compute_point",
           "computations", "get_computation", "load_sweep", "point_key", "register_computation",
           "run_sweep", "point_seed"]
