"""Sweeps hardened: computations in __main__, cache reads and cleaning, worker lifetime, torch
threads, a Dask scheduler that does not answer, and every point validated before any runs.

Each test is a regression test of a defect of the code before it (named in its docstring).
"""

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from statmech._validation import Integer, InvalidParameterError
from statmech.sweep import Cache, register_computation, run_sweep
from statmech.sweep import cache as cache_mod
from statmech.sweep import run as run_mod

HELPERS = Path(__file__).parent / "sweep_helpers"
sys.path.insert(0, str(HELPERS))
import slow_plugin  # noqa: E402,F401  (registers "test_slow")

REPO = Path(__file__).resolve().parents[2]


def _python(args, cwd, timeout=240):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HELPERS)])}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


# ------------------------------------------------------------------ 1. computations in __main__

SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    import pandas as pd
    from statmech.sweep import register_computation, run_sweep, get_computation
    from statmech.sweep import registry

    @register_computation("main_square", defaults={"x": 0})
    def square(config, seed):
        return pd.DataFrame({"y": [config["x"] ** 2]})

    if __name__ == "__main__":
        comp = get_computation("main_square")
        before = comp.source_hash
        open("sibling.py", "a").write("# edited\\n")  # a file beside the script
        registry._package_hash.cache_clear()
        after = comp.source_hash
        out = {"stable": before == after}
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            for executor, workers in (("serial", None), ("local", 2)):
                t = run_sweep({"computation": "main_square", "grid": {"x": [1, 2, 3]}},
                              cache=sys.argv[1] + "/" + executor, executor=executor,
                              workers=workers, progress=False)
                out[executor] = t.y.tolist()
        out["warnings"] = [str(x.message) for x in w if x.category is RuntimeWarning]
        print("RESULT" + json.dumps(out))
""")


def _result(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_main_script_computation_hashes_its_own_source_and_runs_on_local_workers(tmp_path):
    """Before: the source hash of a script's computation hashed every .py file below the
    script's folder (editing a sibling file changed it)."""
    (tmp_path / "sibling.py").write_text("x = 1\n")
    (tmp_path / "script.py").write_text(SCRIPT)
    out = _result(_python(["script.py", str(tmp_path / "cache")], cwd=tmp_path))
    assert out["stable"]
    assert out["serial"] == out["local"] == [1, 4, 9]
    assert out["warnings"] == []  # a script's top-level function reaches spawned workers


def test_main_computation_from_python_c_runs_serially_with_a_warning(tmp_path):
    """Before: ``python -c`` failed (``__main__`` has no file to hash); a local pool could not
    reach its function."""
    code = SCRIPT.replace('if __name__ == "__main__":', "if True:")
    out = _result(_python(["-c", code, str(tmp_path / "cache")], cwd=tmp_path))
    assert out["serial"] == out["local"] == [1, 4, 9]
    assert len(out["warnings"]) == 1 and "serially" in out["warnings"][0]


def test_main_source_hash_follows_the_function_without_source(tmp_path):
    """The fallback (no source): the code object's fingerprint, which changes with the body."""
    from statmech.sweep.registry import _source_hash

    ns1, ns2 = {"__name__": "__main__"}, {"__name__": "__main__"}
    exec("def f(config, seed):\n    return config['x'] + 1\n", ns1)  # noqa: S102
    exec("def f(config, seed):\n    return config['x'] + 2\n", ns2)  # noqa: S102
    assert _source_hash(ns1["f"]) != _source_hash(ns2["f"])
    assert _source_hash(ns1["f"]) == _source_hash(ns1["f"])


# ------------------------------------------------------------------ 2. Cache.get


def _entry(root):
    cache = Cache(root)
    cache.put("comp", "k" * 64, pd.DataFrame({"a": [1, 2]}), {"x": 1}, "v", "h", 0.1)
    data, manifest = cache._paths("comp", "k" * 64)
    assert cache.get("comp", "k" * 64).a.tolist() == [1, 2]
    return cache, data, manifest


@pytest.mark.parametrize("where,exc", [
    ("checksum", OSError(errno.EIO, "Input/output error")),
    ("parquet", MemoryError()),
    ("manifest", PermissionError(errno.EACCES, "Permission denied")),
])
def test_cache_get_propagates_unrelated_errors_and_deletes_nothing(tmp_path, monkeypatch,
                                                                   where, exc):
    """Before: any exception while reading (an I/O hiccup, MemoryError) deleted the entry."""
    cache, data, manifest = _entry(tmp_path)

    def boom(*a, **k):
        raise exc

    if where == "checksum":
        monkeypatch.setattr(cache_mod, "_sha256_file", boom)
    elif where == "parquet":
        monkeypatch.setattr(pd, "read_parquet", boom)
    else:
        monkeypatch.setattr(Path, "read_text", boom)
    with pytest.raises(type(exc)):
        cache.get("comp", "k" * 64)
    monkeypatch.undo()
    assert data.exists() and manifest.exists()
    assert cache.get("comp", "k" * 64).a.tolist() == [1, 2]


def test_cache_get_still_deletes_wrong_manifest_or_checksum(tmp_path):
    cache, data, manifest = _entry(tmp_path)
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**meta, "sha256": "0" * 64}))
    assert cache.get("comp", "k" * 64) is None
    assert not data.exists() and not manifest.exists()
    cache, data, manifest = _entry(tmp_path)
    manifest.write_text(json.dumps({**meta, "key": "other"}))
    assert cache.get("comp", "k" * 64) is None and not manifest.exists()


# ------------------------------------------------------------------ 3. cache clean


def test_clean_during_a_write_keeps_the_in_flight_temporary_file(tmp_path):
    """Before: ``cache clean`` deleted every temporary file, so a running sweep's write
    failed (or lost its point)."""
    (tmp_path / "comp").mkdir()
    target = tmp_path / "comp" / "x.parquet"

    def write(tmp):
        Path(tmp).write_bytes(b"data")
        Cache(tmp_path).clean()  # another process cleans meanwhile
        assert Path(tmp).exists()

    cache_mod._atomic_write(target, write)
    assert target.read_bytes() == b"data"


def test_clean_removes_only_abandoned_temporary_files(tmp_path):
    d = tmp_path / "comp"
    d.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = cache_mod._host()
    live_fresh = d / f".a.parquet~{host}~{os.getpid()}~abc.tmp"
    live_old = d / f".b.parquet~{host}~{os.getpid()}~abc.tmp"
    dead_fresh = d / f".c.parquet~{host}~{dead.pid}~abc.tmp"
    other_host = d / f".d.parquet~elsewhere.example~{dead.pid}~abc.tmp"
    legacy_fresh = d / ".e.parquet.abc123.tmp"
    legacy_old = d / ".f.parquet.abc123.tmp"
    orphan_fresh, orphan_old = d / "g.parquet", d / "h.parquet"
    for f in (live_fresh, live_old, dead_fresh, other_host, legacy_fresh, legacy_old,
              orphan_fresh, orphan_old):
        f.write_bytes(b"x")
    two_hours_ago = time.time() - 7200
    for f in (live_old, legacy_old, orphan_old):
        os.utime(f, (two_hours_ago, two_hours_ago))
    Cache(tmp_path).clean()
    kept = {f.name for f in d.iterdir()}
    assert kept == {live_fresh.name, other_host.name, legacy_fresh.name, orphan_fresh.name}
    Cache(tmp_path).clean(temp_max_age=0.0)
    assert list(d.iterdir()) == []


# ------------------------------------------------------------------ 4. workers and their parent


def _children(pid):
    """Pids of the spawned pool workers whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmd:
            out.append(int(stat.parent.name))
    return out


def _running(pid):
    try:
        import psutil

        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    except ImportError:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_local_workers_exit_when_the_sweep_process_dies(tmp_path, sig):
    """Before: killing the sweep's process (kill -9, SIGTERM) left its workers computing and
    writing to the cache."""
    spec = {"computation": "simulate",  # a built-in, minutes per point
            "params": {"N": 1000, "ensemble": 16, "alpha_max": 5000.0, "n_alpha": 10},
            "grid": {"replicate": [0, 1, 2]}}
    script = (f"from statmech.sweep import run_sweep\n"
              f"run_sweep({spec!r}, cache={str(tmp_path)!r}, executor='local', workers=2, "
              f"progress=False)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HELPERS)])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    workers = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) == 2, "the pool's workers did not start"
        time.sleep(3.0)  # let them reach their points
        proc.send_signal(sig)
        proc.wait(timeout=60)
        deadline = time.time() + 20
        while time.time() < deadline and any(_running(w) for w in workers):
            time.sleep(0.2)
        assert not any(_running(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # the workers this test started (through its child), if left
            if _running(w):
                os.kill(w, signal.SIGKILL)


# ------------------------------------------------------------------ 5. torch threads


def test_parent_torch_threads_limited_while_the_local_pool_runs(tmp_path, monkeypatch):
    """Before: torch in the main process kept all its threads while the workers computed."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    seen = []
    real = run_mod.wait

    def spy(futures, *args, **kwargs):
        seen.append((torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")))
        return real(futures, *args, **kwargs)

    monkeypatch.setattr(run_mod, "wait", spy)
    spec = {"computation": "integrate", "params": {"alpha_max": 5.0, "n_alpha": 5},
            "grid": {"K": [2, 3]}}
    try:
        out = run_sweep(spec, cache=tmp_path, executor="local", workers=2, progress=False)
        assert seen and set(seen) == {(1, "1")}  # every time the parent waited on the pool
        assert torch.get_num_threads() == 3  # restored
        assert sorted(out.K.unique()) == [2, 3]
    finally:
        torch.set_num_threads(before)


def test_workers_use_one_torch_thread(tmp_path, monkeypatch):
    """Workers run a computation registered by any module the parent imported (before: only
    built-ins and entry points), with torch at one thread."""
    pytest.importorskip("torch")
    name = f"torch_threads_plugin_{os.getpid()}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(f"""
        import os
        import pandas as pd
        import torch  # imported with the module, in the worker
        from statmech.sweep import register_computation

        @register_computation({name!r}, defaults={{"x": 0}})
        def threads(config, seed):
            return pd.DataFrame({{"threads": [torch.get_num_threads()],
                                  "omp": [os.environ.get("OMP_NUM_THREADS")]}})
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    out = run_sweep({"computation": name, "grid": {"x": [1, 2]}}, cache=tmp_path / "c",
                    executor="local", workers=2, progress=False)
    assert out.threads.tolist() == [1, 1] and out.omp.tolist() == ["1", "1"]


# ------------------------------------------------------------------ 6. validation, Dask


def test_every_point_is_checked_before_the_first_runs(tmp_path):
    """Before: ``x = [1, 2, 2.5]`` computed two points, then ran 2.5 (no error at all)."""
    with pytest.raises(InvalidParameterError, match=r"point 3 of 3 \(x=2\.5\)") as info:
        run_sweep({"computation": "test_slow", "grid": {"x": [1, 2, 2.5]}}, cache=tmp_path,
                  executor="serial")
    assert info.value.param == "x"
    assert Cache(tmp_path).entries().empty  # nothing ran


def test_declared_constraints_and_their_declaration(tmp_path):
    register_computation("test_declared", defaults={"n": 3, "mode": "a"},
                         constraints={"n": [Integer(2, 5)]})(slow_plugin.slow)
    with pytest.raises(InvalidParameterError, match="'n' parameter of sweep computation "
                                                    "'test_declared' must be an int >= 2"):
        run_sweep({"computation": "test_declared", "grid": {"n": [2, 6]}}, cache=tmp_path)
    with pytest.raises(RuntimeError, match="without defaults"):
        register_computation("test_bad_decl", defaults={"n": 3},
                             constraints={"m": [Integer()]})


def test_unreachable_dask_scheduler_is_a_short_clear_error(tmp_path, monkeypatch):
    """Before: a 30 s wait, then an OSError."""
    pytest.importorskip("distributed")
    monkeypatch.setattr(run_mod, "DASK_CONNECT_TIMEOUT", 1.0)
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError, match="reachable Dask scheduler") as info:
        run_sweep({"computation": "test_slow", "grid": {"x": [1, 2]}}, cache=tmp_path,
                  executor="dask", scheduler="tcp://127.0.0.1:1")
    assert info.value.param == "scheduler"
    assert time.perf_counter() - t0 < 20


def test_every_registered_computation_reaches_the_local_workers() -> None:
    """Built-in, companion and plugin computations run in parallel (not the serial fallback,
    which a nested plugin function would trigger)."""
    from statmech.sweep.registry import computations
    from statmech.sweep.run import _reachable_by_workers

    for name, comp in computations().items():
        assert _reachable_by_workers(comp) is None, name


def test_point_seed_depends_on_configuration_only() -> None:
    """Seeds come from the configuration (and replicate), not the version or source hash: a
    code change recomputes a point with the same random numbers."""
    from statmech.sweep import point_key, point_seed

    cfg = {"K": 2, "eta": 0.5, "replicate": 0}
    assert point_seed("fixed_points", cfg) == point_seed("fixed_points", dict(cfg))
    assert point_seed("fixed_points", cfg) != point_seed("fixed_points", {**cfg, "replicate": 1})
    assert point_key("fixed_points", cfg, "1", "a") != point_key("fixed_points", cfg, "1", "b")
    assert 0 <= point_seed("fixed_points", cfg) < 2**60
