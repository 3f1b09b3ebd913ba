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
import queue
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._progress import ProgressBar, point_reporter
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

__all__ = ["run_sweep", "compute_point", "plan_sweep", "SweepPlan", "PointTask", "run_tasks",
           "EXECUTORS", "THREAD_VARIABLES", "DASK_CONNECT_TIMEOUT", "WATCHDOG_INTERVAL"]

EXECUTORS = ("local", "serial", "dask")

#: Environment variables pinning BLAS / OpenMP threads in worker processes.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: Seconds to wait for a Dask scheduler before reporting it unreachable.
DASK_CONNECT_TIMEOUT = 5.0

#: Seconds between a local worker's checks that its parent process is alive.
WATCHDOG_INTERVAL = 0.5

_IN_WORKER = False  # set in the local pool's worker processes
_POINT_QUEUE: Any = None  # a worker's queue to the main process for in-point progress


def _version() -> str:
    from .._version import package_version

    return package_version()


def compute_point(computation: str | Computation, config: dict, key: str, cache_root: str,
                  force: bool = False, source_hash: str | None = None,
                  report: Callable[[str, float], None] | None = None) -> tuple[str, float]:
    """Compute one point and store it (runs in a worker); returns (key, seconds).

    ``computation`` is a registered name or the :class:`Computation` itself: the executors
    send the latter, so a worker runs any computation the parent registered (its function is
    pickled by reference: the worker imports its module, with the parent's ``sys.path``),
    not only those its own registry loads (built-ins and entry points). With ``force`` False
    an entry that another worker finished meanwhile is kept. ``source_hash`` (default:
    computed here) is recorded in the manifest. ``report(label, fraction)`` hears the
    progress of the bars inside the point (in a local pool's worker: sent to the main
    process).
    """
    comp = computation if isinstance(computation, Computation) else get_computation(
        computation)
    cache = Cache(cache_root)
    if not force and cache.get(comp.name, key) is not None:
        return key, 0.0
    if _IN_WORKER:
        _torch_threads(1)
    if report is None and _POINT_QUEUE is not None:
        q = _POINT_QUEUE

        def report(label: str, fraction: float) -> None:
            q.put((key, label, fraction))

        report("", 0.0)  # started
    t0 = time.perf_counter()
    with point_reporter(report) if report is not None else nullcontext():
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


def _worker_init(parent: int, interval: float, progress_queue: Any = None) -> None:
    """Initializer of the local pool's workers (module docstring)."""
    global _IN_WORKER, _POINT_QUEUE
    _IN_WORKER = True
    _POINT_QUEUE = progress_queue
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


@dataclass(frozen=True)
class PointTask:
    """One point to compute: the computation, its configuration, its cache key, and the name
    of the sweep it belongs to (for messages)."""

    comp: Computation
    config: dict
    key: str
    sweep: str


@dataclass
class SweepPlan:
    """A sweep resolved against a cache: its points, their keys, and the tasks still to run."""

    sweep: Sweep
    comp: Computation
    points: list
    keys: list
    tasks: list = field(default_factory=list)


def plan_sweep(sweep: Sweep | dict | str | Path, root: str, force: bool = False) -> SweepPlan:
    """Validate every point of ``sweep`` and find those the cache at ``root`` lacks (identical
    points once)."""
    sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    points = sweep.points()  # every point validated before any runs
    comp = get_computation(sweep.computation)
    store = Cache(root)
    source_hash = comp.source_hash
    keys = [point_key(comp.name, c, _version(), source_hash) for c in points]
    tasks: dict[str, PointTask] = {}
    for config, k in zip(points, keys, strict=True):
        if k not in tasks and (force or store.get(comp.name, k) is None):
            tasks[k] = PointTask(comp, config, k, sweep.name)
    return SweepPlan(sweep, comp, points, keys, list(tasks.values()))


def _describe_running(running: dict) -> str:
    """``pruned_error:K20 2× (simulate 40 %)``-style summary of the points running."""
    by_sweep: dict[str, list] = {}
    for sweep, label, frac in running.values():
        by_sweep.setdefault(sweep, []).append((label, frac))
    parts = []
    for sweep, items in by_sweep.items():
        label, frac = max(items, key=lambda lf: lf[1])
        count = f" {len(items)}×" if len(items) > 1 else ""
        parts.append(f"{sweep}{count}" + (f" ({label} {100 * frac:.0f} %)" if label else ""))
    return "running: " + ", ".join(parts) if parts else ""


def run_tasks(tasks: list[PointTask], root: str, *, force: bool = False,
              workers: int | None = None, bar: ProgressBar | None = None,
              on_done: Callable[[PointTask], None] | None = None,
              on_error: Callable[[PointTask, BaseException], None] | None = None,
              offset: int = 0) -> None:
    """Compute ``tasks`` in one local pool of spawned worker processes (module docstring),
    longest queue first in the order given.

    ``bar`` moves by one per finished point and by the reported fraction of running points;
    ``on_done(task)`` runs in this process as each point is stored; a failing point calls
    ``on_error(task, exc)`` and the others go on, or, without ``on_error``, cancels the points
    not yet started, lets the running ones finish (they are cached) and re-raises.
    ``offset`` points are counted as done on ``bar`` already.
    """
    if not tasks:
        return
    n = min(workers or os.cpu_count() or 1, len(tasks))
    with _local_pool_environment():
        ctx = multiprocessing.get_context("spawn")
        progress_q = ctx.Queue()
        pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init,
                                   initargs=(os.getpid(), WATCHDOG_INTERVAL, progress_q))
        try:
            task_of: dict[Future, PointTask] = {
                pool.submit(compute_point, t.comp, t.config, t.key, root, force,
                            t.comp.source_hash): t for t in tasks}
            pending = set(task_of)
            running: dict[str, tuple[str, str, float]] = {}
            sweep_of = {t.key: t.sweep for t in tasks}
            over: set[str] = set()  # finished points: late progress messages are ignored
            done = offset
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while True:
                    try:
                        key, label, frac = progress_q.get_nowait()
                    except queue.Empty:
                        break
                    if key in sweep_of and key not in over:
                        old = running.get(key, ("", "", 0.0))[2]
                        running[key] = (sweep_of[key], label, max(old, frac))
                for fut in finished:
                    task = task_of[fut]
                    over.add(task.key)
                    running.pop(task.key, None)
                    if fut.cancelled():
                        continue
                    exc = fut.exception()
                    if exc is not None:
                        if on_error is None:
                            raise exc
                        on_error(task, exc)
                        continue
                    done += 1
                    if on_done is not None:
                        on_done(task)
                if bar is not None:
                    bar.set_done(done + sum(r[2] for r in running.values()),
                                 _describe_running(running))
        except Exception:
            _stop_pool(pool, terminate=False)
            raise
        except BaseException:  # KeyboardInterrupt, SystemExit (SIGTERM)
            _stop_pool(pool, terminate=True)
            raise
        else:
            pool.shutdown(wait=True)
        finally:
            progress_q.close()
            progress_q.join_thread()


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

    if scheduler is not None and executor != "dask":
        raise InvalidParameterError("The 'scheduler' parameter of run_sweep needs "
                                    "executor='dask'.", func="run_sweep", param="scheduler")
    root_path = check_cache_root(cache if cache is not None else Cache().root, "cache",
                                 "run_sweep")
    root = str(Cache(root_path).root)
    plan = plan_sweep(sweep, root, force)
    sweep, comp, tasks = plan.sweep, plan.comp, plan.tasks
    if executor == "local" and len(tasks) > 1 and workers != 1:
        reason = _reachable_by_workers(comp)
        if reason is not None:
            warnings.warn(f"{reason}; running sweep {sweep.name!r} serially in this process "
                          f"(define the computation in an importable module to run it in "
                          f"parallel).", RuntimeWarning, stacklevel=2)
            executor = "serial"
    with ProgressBar(max(len(tasks), 1), f"sweep {sweep.name}", progress,
                     unit="points") as bar:
        if not tasks:
            pass
        elif executor == "serial" or (executor == "local" and (workers == 1 or len(tasks) == 1)):
            run_serial(tasks, root, force=force, bar=bar)
        elif executor == "local":
            run_tasks(tasks, root, force=force, workers=workers, bar=bar)
        else:
            _run_dask(comp, [t.key for t in tasks], {t.key: t.config for t in tasks}, root,
                      force, scheduler, comp.source_hash, bar)
    return collect_table(plan, root, computed=len(tasks))


def run_serial(tasks: list[PointTask], root: str, *, force: bool = False,
               bar: ProgressBar | None = None,
               on_done: Callable[[PointTask], None] | None = None) -> None:
    """Compute ``tasks`` one after the other in this process; ``bar`` moves during each
    point as its own bars do (they do not draw)."""
    for i, task in enumerate(tasks):
        def report(label: str, frac: float, i: int = i, task: PointTask = task) -> None:
            if bar is not None:
                bar.set_done(i + frac, f"running: {task.sweep} ({label} {100 * frac:.0f} %)")

        compute_point(task.comp, task.config, task.key, root, force, task.comp.source_hash,
                      report=report if bar is not None else None)
        if bar is not None:
            bar.set_done(i + 1, "")
        if on_done is not None:
            on_done(task)


def collect_table(plan: SweepPlan, root: str, computed: int = 0) -> Any:
    """The sweep's labelled long table, read from the cache (every point must be there)."""
    import pandas as pd

    store = Cache(root)
    comp, sweep = plan.comp, plan.sweep
    tables = []
    for config, k in zip(plan.points, plan.keys, strict=True):
        t = store.get(comp.name, k)
        if t is None:  # pragma: no cover - only if the cache was deleted meanwhile
            raise RuntimeError(f"Sweep point {k[:12]} vanished from the cache {root}.")
        tables.append(_labelled(t, config, k, comp.name))
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    out.attrs["sweep"] = {"name": sweep.name, "computation": sweep.computation,
                          "params": sweep.params, "grid": sweep.grid, "zip": sweep.zip}
    out.attrs["computed"] = computed
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
