"""Sweeps: specs, the cache (corruption, resumption after SIGKILL), executors (local, Dask)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from statmech.sweep import Cache, Sweep, load_sweep, run_sweep

HELPERS = Path(__file__).parent / "sweep_helpers"
sys.path.insert(0, str(HELPERS))
import slow_plugin  # noqa: E402,F401  (registers "test_slow")

INTEGRATE = {"computation": "integrate", "params": {"K": 2, "alpha_max": 20.0, "n_alpha": 30},
             "grid": {"eta": [0.3, 1.0]}, "zip": {"noise": [0.0, 0.2], "v_star": [1.0, 2.0]}}


def test_spec_points_toml_and_errors(tmp_path):
    sweep = load_sweep(INTEGRATE)
    pts = sweep.points()
    assert len(pts) == 4 and {(p["eta"], p["noise"], p["v_star"]) for p in pts} == {
        (0.3, 0.0, 1.0), (0.3, 0.2, 2.0), (1.0, 0.0, 1.0), (1.0, 0.2, 2.0)}
    toml = tmp_path / "s.toml"
    toml.write_text(textwrap.dedent("""
        computation = "integrate"
        [params]
        K = 2
        alpha_max = 20.0
        n_alpha = 30
        [grid]
        eta = [0.3, 1.0]
        [zip]
        noise = [0.0, 0.2]
        v_star = [1.0, 2.0]
    """))
    assert load_sweep(toml).points() == pts and load_sweep(toml).name == "s"
    bad = [({"computation": "nope"}, "must be one of"),
           ({"computation": "integrate", "params": {"Kay": 2}}, "Unknown parameter"),
           ({"computation": "integrate", "params": {"seed": 2}}, "derives from its configuration"),
           ({"computation": "integrate", "grid": {"eta": 0.3}}, "non-empty list"),
           ({"computation": "integrate", "zip": {"eta": [1.0], "K": [2, 3]}}, "equal lengths"),
           ({"computation": "integrate", "params": {"K": 2}, "grid": {"K": [2]}},
            "more than one"),
           ({"computation": "integrate", "grids": {}}, "Unknown sweep key")]
    for spec, match in bad:
        with pytest.raises(ValueError, match=match):
            Sweep.from_dict(spec)
    (tmp_path / "bad.toml").write_text("computation = ")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_sweep(tmp_path / "bad.toml")


def test_rerun_reuses_points_seeds_derive_from_the_key(tmp_path):
    spec = {"computation": "test_slow", "grid": {"x": [1, 2, 3]}}
    first = run_sweep(spec, cache=tmp_path, executor="serial")
    assert first.attrs["computed"] == 3 and list(first.value) == [2, 4, 6]
    again = run_sweep({"computation": "test_slow", "grid": {"x": [3, 1, 2]}}, cache=tmp_path,
                      executor="serial")
    assert again.attrs["computed"] == 0
    by_x = dict(zip(first.x, first.seed_used, strict=True))
    assert dict(zip(again.x, again.seed_used, strict=True)) == by_x  # the key, not the order
    assert len(set(by_x.values())) == 3
    forced = run_sweep(spec, cache=tmp_path, executor="serial", force=True)
    assert forced.attrs["computed"] == 3
    assert len(Cache(tmp_path).entries()) == 3
    assert Cache(tmp_path).clean(computation="test_slow") == 3
    assert Cache(tmp_path).entries().empty


def test_corrupt_and_partial_entries_are_recomputed(tmp_path):
    spec = {"computation": "test_slow", "grid": {"x": [1, 2, 3]}}
    run_sweep(spec, cache=tmp_path, executor="serial")
    files = sorted((tmp_path / "test_slow").glob("*.parquet"))
    data = files[0].read_bytes()
    files[0].write_bytes(data[: len(data) // 2] + b"garbage")  # corrupted data
    files[1].with_suffix(".json").unlink()  # interrupted before the manifest
    files[2].with_suffix(".json").write_text("{not json")  # torn manifest
    out = run_sweep(spec, cache=tmp_path, executor="serial")
    assert out.attrs["computed"] == 3 and list(out.value) == [2, 4, 6]
    assert run_sweep(spec, cache=tmp_path, executor="serial").attrs["computed"] == 0


def test_sweep_killed_by_sigkill_resumes_with_every_finished_point(tmp_path):
    cache = tmp_path / "cache"
    spec = {"computation": "test_slow", "params": {"delay": 0.4},
            "grid": {"x": list(range(12))}}
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(HELPERS)!r})
        import slow_plugin
        from statmech.sweep import run_sweep
        run_sweep({spec!r}, cache={str(cache)!r}, executor="serial", progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    manifests = cache / "test_slow"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(manifests.glob("*.json"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    before = Cache(cache).entries()
    n_done = len(before)
    assert 3 <= n_done < 12
    created = dict(zip(before.key, before.created, strict=True))
    out = run_sweep(spec, cache=cache, executor="serial")
    assert out.attrs["computed"] == 12 - n_done  # every finished point reused
    assert list(out.value) == [2 * x for x in range(12)]
    after = Cache(cache).entries().set_index("key").created
    assert all(after[k] == t for k, t in created.items())  # and left untouched


def test_local_pool_and_dask_give_the_same_table(tmp_path):
    pytest.importorskip("distributed")
    serial = run_sweep(INTEGRATE, cache=tmp_path / "a", executor="serial")
    local = run_sweep(INTEGRATE, cache=tmp_path / "b", executor="local", workers=2)
    dask = run_sweep(INTEGRATE, cache=tmp_path / "c", executor="dask", scheduler="local")
    assert local.attrs["computed"] == dask.attrs["computed"] == 4
    pd.testing.assert_frame_equal(serial, local)
    pd.testing.assert_frame_equal(serial, dask)
    assert {"alpha", "eg", "eta", "noise", "v_star", "key"} <= set(serial.columns)


def test_run_sweep_errors(tmp_path):
    with pytest.raises(ValueError, match="'executor'"):
        run_sweep(INTEGRATE, cache=tmp_path, executor="ray")
    with pytest.raises(ValueError, match="'workers'"):
        run_sweep(INTEGRATE, cache=tmp_path, workers=0)
    with pytest.raises(ValueError, match="needs executor='dask'"):
        run_sweep(INTEGRATE, cache=tmp_path, scheduler="tcp://x:1")
    with pytest.raises(ValueError, match="does not exist"):
        run_sweep(tmp_path / "missing.toml", cache=tmp_path)
    assert os.environ.get("OMP_NUM_THREADS") != "pinned"
