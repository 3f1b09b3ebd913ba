"""Running a sweep: cached points are reused, missing ones computed in parallel.

Executors: ``"serial"`` (in this process), ``"local"`` (default: a pool of worker processes,
BLAS/OpenMP threads pinned to 1 per process) and ``"dask"`` (``distributed``: the same sweep,
unchanged, given a scheduler address, or ``"local"`` for an in-process cluster). Every worker
computes its point and writes it to the cache itself, so a sweep killed at any moment keeps
every finished point, and a rerun computes only what is missing.

The local pool (decisions documented here):

* every worker pins BLAS/OpenMP to one thread (environment variables, inherited) and torch to
  one intra-op thread (``torch.set_num_threads(1)`` in the initializer and before each point,
  if torch is imported); while the pool runs, torch in the parent process is limited to one
  thread too, and restored afterwards (the parent only waits; its own thread pool would
  compete with the workers for the cores);
* every worker runs a watchdog thread that ends it (``os._exit``) as soon as its parent
  process is gone (it polls ``os.getppid()`` every :data:`WATCHDOG_INTERVAL` seconds), so a
  sweep killed by ``kill -9`` leaves no worker computing and writing behind it; SIGTERM in the
  parent (when nothing else handles it) raises ``SystemExit(143)`` there, which terminates the
  workers at once; Ctrl-C (KeyboardInterrupt) too. A point that raises cancels the points not
  yet started, lets those running finish (they are cached), and re-raises;
* workers receive the :class:`~statmech.sweep.registry.Computation` itself (its function
  pickled by reference; spawned workers get the parent's ``sys.path``), so any computation the
  parent registered runs there. One defined in ``__main__`` reaches them only when
  ``__main__`` is a script file (the workers re-import it, as ``multiprocessing`` does) and
  the function is defined at its top level; otherwise (``python -c``, a notebook, a nested
  function or lambda) the sweep runs serially in this process with a ``RuntimeWarning``
  saying why. The Dask executor ships such functions by value (cloudpickle).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._progress import ProgressBar
from .._validation import (
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Options,
    validate_params,
)
from .cache import Cache, check_cache_root, point_key, point_seed
from .registry import Computation, get_computation, in_main
from .spec import Sweep, load_sweep

__all__ = ["run_sweep", "compute_point", "EXECUTORS", "THREAD_VARIABLES",
           "DASK_CONNECT_TIMEOUT", "WATCHDOG_INTERVAL"]

EXECUTORS = ("local", "serial", "dask")

#: Environment variables pinning BLAS / OpenMP threads in worker processes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: Seconds to wait for a Dask scheduler before reporting it unreachable.
DASK_CONNECT_TIMEOUT = 5.0

#: Seconds between a local worker's checks that its parent process is alive.
WATCHDOG_INTERVAL = 0.5

_IN_WORKER = False  # set in the local pool's worker processes


def _version() -> str:
    from .. import __version__

    return __version__


def compute_point(computation: str | Computation, config: dict, key: str, cache_root: str,
                  force: bool = False, source_hash: str | None = None) -> tuple[str, float]:
    """Compute one point and store it (runs in a worker); returns (key, seconds).

    ``computation`` is a registered name or the :class:`Computation` itself: the executors
    send the latter, so a worker runs any computation the parent registered (its function is
    pickled by reference: the worker imports its module, with the parent's ``sys.path``),
    not only those its own registry loads (built-ins and entry points). With ``force`` False
    an entry that another worker finished meanwhile is kept. ``source_hash`` (default:
    computed here) is recorded in the manifest.
    """
    comp = computation if isinstance(computation, Computation) else get_computation(
        computation)
    cache = Cache(cache_root)
    if not force and cache.get(comp.name, key) is not None:
        return key, 0.0
    if _IN_WORKER:
        _torch_threads(1)
    t0 = time.perf_counter()
    table = comp.func(dict(config), point_seed(comp.name, config))
    seconds = time.perf_counter() - t0
    cache.put(comp.name, key, table, config, _version(),
              source_hash if source_hash is not None else comp.source_hash, seconds)
    return key, seconds


def _torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads to ``n`` if torch is imported; return the previous count
    (None when torch is not imported or ``n`` is None)."""
    torch = sys.modules.get("torch")
    if torch is None or n is None:
        return None
    try:
        old = torch.get_num_threads()
        if old != n:
            torch.set_num_threads(n)
        return old
    except Exception:  # noqa: BLE001 - a broken or partial torch import must not stop a sweep
        return None


def _pin_threads() -> None:
    for var in THREAD_VARIABLES:
        os.environ[var] = "1"
    _torch_threads(1)


def _watchdog(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:  # re-parented: the sweep's process is gone
            os._exit(1)


def _worker_init(parent: int, interval: float) -> None:
    """Initializer of the local pool's workers (module docstring)."""
    global _IN_WORKER
    _IN_WORKER = True
    _pin_threads()
    if os.getppid() != parent:  # the parent died before this worker started
        os._exit(1)
    threading.Thread(target=_watchdog, args=(parent, interval), name="statmech-watchdog",
                     daemon=True).start()


def _reachable_by_workers(comp: Computation) -> str | None:
    """None if spawned workers can run ``comp``, else the reason they cannot."""
    if in_main(comp.func):
        main = sys.modules.get("__main__")
        if not getattr(main, "__file__", None):
            return (f"computation {comp.name!r} is defined in __main__ without a file "
                    f"(python -c, a notebook), which spawned worker processes cannot import")
        obj: Any = main
        for part in comp.func.__qualname__.split("."):
            obj = getattr(obj, part, None)
        if obj is not comp.func:
            return (f"computation {comp.name!r} ({comp.func.__qualname__}) is not a top-level "
                    f"function of the script, so spawned worker processes cannot import it")
    try:
        pickle.dumps(comp)
    except Exception as exc:  # noqa: BLE001 - a lambda, a nested function, ...
        return f"computation {comp.name!r} cannot be sent to worker processes ({exc})"
    return None


@contextmanager
def _local_pool_environment():
    """Pin BLAS/OpenMP threads (inherited by spawned workers), limit the parent's torch to one
    thread, and turn SIGTERM into SystemExit(143) while the pool runs; restore all after."""
    saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    for v in THREAD_VARIABLES:
        os.environ[v] = "1"
    torch_before = _torch_threads(1)
    installed = False
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGTERM"):
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            def _terminate(signum, frame):  # noqa: ARG001
                raise SystemExit(128 + signal.SIGTERM)

            signal.signal(signal.SIGTERM, _terminate)
            installed = True
    try:
        yield
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _torch_threads(torch_before)
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _stop_pool(pool: ProcessPoolExecutor, terminate: bool) -> None:
    """Cancel the points not started; with ``terminate`` also end the running workers now."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=not terminate, cancel_futures=True)
    if terminate:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)


def _run_local(comp: Computation, todo: list[str], config_of: dict, root: str, force: bool,
               workers: int | None, source_hash: str, bar: ProgressBar) -> None:
    n = min(workers or os.cpu_count() or 1, len(todo))
    with _local_pool_environment():
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(), WATCHDOG_INTERVAL))
        try:
            futures = [pool.submit(compute_point, comp, config_of[k], k, root, force,
                                   source_hash) for k in todo]
            for fut in as_completed(futures):
                fut.result()
                bar.update(1)
        except Exception:
            _stop_pool(pool, terminate=False)
            raise
        except BaseException:  # KeyboardInterrupt, SystemExit (SIGTERM)
            _stop_pool(pool, terminate=True)
            raise
        else:
            pool.shutdown(wait=True)


def _labelled(table: Any, config: dict, key: str, computation: str) -> Any:
    table = table.copy()
    for name, value in config.items():
        if name in table.columns:
            continue
        table[name] = json.dumps(value) if isinstance(value, list | tuple | dict) else value
    table["computation"] = computation
    table["key"] = key
    return table


@validate_params({
    "sweep": [InstanceOf((Sweep, dict, str, os.PathLike),
                         "a Sweep, a dict or a path to a sweep (TOML) file")],
    "cache": [InstanceOf((str, os.PathLike), "a directory path"), None],
    "executor": [Options(EXECUTORS)],
    "workers": [Integer(1), None],
    "scheduler": [InstanceOf(str, "a str (a Dask scheduler address or 'local')"), None],
    "force": [Boolean()],
    "progress": [Boolean(), None],
})
def run_sweep(sweep: Sweep | dict | str | Path, *, cache: str | Path | None = None,
              executor: str = "local", workers: int | None = None,
              scheduler: str | None = None, force: bool = False,
              progress: bool | None = None) -> Any:
    """Run a sweep; returns one long-format labelled table (pandas).

    Every point is validated (:meth:`statmech.sweep.spec.Sweep.points`) before any runs.

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
        cluster; only with ``executor="dask"``. An address that does not answer within
        :data:`DASK_CONNECT_TIMEOUT` seconds is an
        :class:`~statmech._validation.InvalidParameterError`.
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

    if scheduler is not None and executor != "dask":
        raise InvalidParameterError("The 'scheduler' parameter of run_sweep needs "
                                    "executor='dask'.", func="run_sweep", param="scheduler")
    root_path = check_cache_root(cache if cache is not None else Cache().root, "cache",
                                 "run_sweep")
    sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    points = sweep.points()  # every point validated before any runs
    comp = get_computation(sweep.computation)
    store = Cache(root_path)
    source_hash = comp.source_hash
    keys = [point_key(comp.name, c, _version(), source_hash) for c in points]
    missing = [i for i, k in enumerate(keys)
               if force or store.get(comp.name, k) is None]
    todo = list(dict.fromkeys(keys[i] for i in missing))  # identical points once
    config_of = {keys[i]: points[i] for i in missing}
    root = str(store.root)
    if executor == "local" and len(todo) > 1 and workers != 1:
        reason = _reachable_by_workers(comp)
        if reason is not None:
            warnings.warn(f"{reason}; running sweep {sweep.name!r} serially in this process "
                          f"(define the computation in an importable module to run it in "
                          f"parallel).", RuntimeWarning, stacklevel=2)
            executor = "serial"
    with ProgressBar(max(len(todo), 1), f"sweep {sweep.name}", progress) as bar:
        if not todo:
            pass
        elif executor == "serial" or (executor == "local" and (workers == 1 or len(todo) == 1)):
            for k in todo:
                compute_point(comp, config_of[k], k, root, force, source_hash)
                bar.update(1)
        elif executor == "local":
            _run_local(comp, todo, config_of, root, force, workers, source_hash, bar)
        else:
            _run_dask(comp, todo, config_of, root, force, scheduler, source_hash, bar)
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


def _run_dask(comp: Computation, todo: list[str], config_of: dict, root: str, force: bool,
              scheduler: str | None, source_hash: str, bar: ProgressBar) -> None:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError:
        raise InvalidParameterError(
            "executor='dask' needs the 'distributed' package: pip install "
            "'statmech-pruning[dask]'.", func="run_sweep", param="executor") from None
    cluster = None
    if scheduler in (None, "local"):
        cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                               dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InvalidParameterError.build(
                "run_sweep", "scheduler", "a reachable Dask scheduler address", scheduler,
                f"({type(exc).__name__}: no scheduler answered within "
                f"{DASK_CONNECT_TIMEOUT:g} s.)") from None
    try:
        futures = [client.submit(compute_point, comp, config_of[k], k, root, force,
                                 source_hash, pure=False) for k in todo]
        for fut in dask_completed(futures):
            fut.result()
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
