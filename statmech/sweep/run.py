"""Running a sweep: cached points are reused, missing ones computed in parallel.

Executors: ``"serial"`` (in this process), ``"local"`` (default: a pool of worker processes,
BLAS/OpenMP threads pinned to 1 per process) and ``"dask"`` (``distributed``: the same sweep,
unchanged, given a scheduler address, or ``"local"`` for an in-process cluster). Every worker
computes its point and writes it to the cache itself, so a sweep killed at any moment keeps
every finished point, and a rerun computes only what is missing.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .._progress import ProgressBar
from .cache import Cache, point_key, seed_from_key
from .registry import get_computation
from .spec import Sweep, load_sweep

__all__ = ["run_sweep", "compute_point", "EXECUTORS", "THREAD_VARIABLES"]

EXECUTORS = ("local", "serial", "dask")

#: Environment variables pinning BLAS / OpenMP threads in worker processes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _version() -> str:
    from .. import __version__

    return __version__


def compute_point(computation: str, config: dict, key: str, cache_root: str,
                  force: bool = False) -> tuple[str, float]:
    """Compute one point and store it (runs in a worker); returns (key, seconds).

    With ``force`` False an entry that another worker finished meanwhile is kept.
    """
    comp = get_computation(computation)
    cache = Cache(cache_root)
    if not force and cache.get(computation, key) is not None:
        return key, 0.0
    t0 = time.perf_counter()
    table = comp.func(dict(config), seed_from_key(key))
    seconds = time.perf_counter() - t0
    cache.put(computation, key, table, config, _version(), comp.source_hash, seconds)
    return key, seconds


def _pin_threads() -> None:
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    try:  # torch, if a computation already imported it, has its own pool
        import sys

        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)
    except Exception:  # pragma: no cover
        pass


def _labelled(table: Any, config: dict, key: str, computation: str) -> Any:
    table = table.copy()
    for name, value in config.items():
        if name in table.columns:
            continue
        table[name] = json.dumps(value) if isinstance(value, list | tuple | dict) else value
    table["computation"] = computation
    table["key"] = key
    return table


def run_sweep(sweep: Sweep | dict | str | Path, *, cache: str | Path | None = None,
              executor: str = "local", workers: int | None = None,
              scheduler: str | None = None, force: bool = False,
              progress: bool | None = None) -> Any:
    """Run a sweep; returns one long-format labelled table (pandas).

    Parameters
    ----------
    sweep : Sweep, dict or path to a TOML file
    cache : path, optional
        Cache directory (default :data:`statmech.sweep.cache.DEFAULT_CACHE`).
    executor : {"local", "serial", "dask"}
    workers : int, optional
        Processes for ``"local"`` (default: the CPU count, at most the number of missing
        points).
    scheduler : str, optional
        Dask scheduler address (``"tcp://host:8786"``), or ``"local"`` for an in-process
        cluster; only with ``executor="dask"``.
    force : bool
        Recompute every point even if cached.
    progress : bool, optional
        Progress bar over points (default: when stderr is a terminal).

    Returns
    -------
    pandas.DataFrame
        The points' tables concatenated, each row labelled with the point's configuration,
        ``computation`` and ``key``. ``attrs["sweep"]`` holds the sweep, ``attrs["computed"]``
        the number of points computed in this call.
    """
    import pandas as pd

    sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    if executor not in EXECUTORS:
        raise ValueError(f"The 'executor' parameter of run_sweep must be one of "
                         f"{', '.join(map(repr, EXECUTORS))}. Got {executor!r}.")
    if scheduler is not None and executor != "dask":
        raise ValueError("The 'scheduler' parameter of run_sweep needs executor='dask'.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"The 'workers' parameter of run_sweep must be an int >= 1. "
                         f"Got {workers!r}.")
    comp = get_computation(sweep.computation)
    store = Cache(cache)
    points = sweep.points()
    keys = [point_key(comp.name, c, _version(), comp.source_hash) for c in points]
    missing = [i for i, k in enumerate(keys)
               if force or store.get(comp.name, k) is None]
    todo = list(dict.fromkeys(keys[i] for i in missing))  # identical points once
    config_of = {keys[i]: points[i] for i in missing}
    root = str(store.root)
    with ProgressBar(max(len(todo), 1), f"sweep {sweep.name}", progress) as bar:
        if not todo:
            pass
        elif executor == "serial" or (executor == "local" and (workers == 1 or len(todo) == 1)):
            for k in todo:
                compute_point(comp.name, config_of[k], k, root, force)
                bar.update(1)
        elif executor == "local":
            n = min(workers or os.cpu_count() or 1, len(todo))
            saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
            for v in THREAD_VARIABLES:  # inherited by the spawned workers
                os.environ[v] = "1"
            try:
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(n, mp_context=ctx, initializer=_pin_threads) as pool:
                    futures = [pool.submit(compute_point, comp.name, config_of[k], k, root,
                                           force) for k in todo]
                    for fut in as_completed(futures):
                        fut.result()
                        bar.update(1)
            finally:
                for v, old in saved.items():
                    if old is None:
                        os.environ.pop(v, None)
                    else:
                        os.environ[v] = old
        else:
            _run_dask(comp.name, todo, config_of, root, force, scheduler, bar)
    tables = []
    for config, k in zip(points, keys, strict=True):
        t = store.get(comp.name, k)
        if t is None:  # pragma: no cover - only if the cache was deleted meanwhile
            raise RuntimeError(f"Sweep point {k[:12]} vanished from the cache {root}.")
        tables.append(_labelled(t, config, k, comp.name))
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    out.attrs["sweep"] = {"name": sweep.name, "computation": sweep.computation,
                          "params": sweep.params, "grid": sweep.grid, "zip": sweep.zip}
    out.attrs["computed"] = len(todo)
    return out


def _run_dask(name: str, todo: list[str], config_of: dict, root: str, force: bool,
              scheduler: str | None, bar: ProgressBar) -> None:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise ValueError("executor='dask' needs the 'distributed' package: "
                         "pip install 'statmech-pruning[dask]'.") from None
    cluster = None
    if scheduler in (None, "local"):
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(compute_point, name, config_of[k], k, root, force, pure=False)
                   for k in todo]
        for fut in dask_completed(futures):
            fut.result()
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
