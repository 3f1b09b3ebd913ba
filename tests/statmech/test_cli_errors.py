"""Bad input is refused before any work: one line on stderr naming the flag, exit code 2, no
traceback (``statmech`` commands); sweep files and dicts raise InvalidParameterError naming the
sweep parameter (and the point)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from statmech._validation import InvalidParameterError
from statmech.cli.app import main
from statmech.sweep import run_sweep

REPO = Path(__file__).resolve().parents[2]
TINY = {"computation": "integrate", "params": {"alpha_max": 5.0, "n_alpha": 5},
        "grid": {"K": [2]}}

# (argv, text the one-line message must contain); {tmp}: a fresh folder, {file}: a regular
# file, {toml}: a valid sweep file.
CLI_CASES = [
    (["ode", "--K", "0"], "--K must be an int >= 1; got 0"),
    (["ode", "--K", "x"], "argument --K: invalid int value"),
    (["ode", "--M", "0"], "--M must be"),
    (["ode", "--N", "0"], "--N must be"),
    (["ode", "--eta", "-1"], "--eta must be"),
    (["ode", "--eta", "0.5", "nan"], "argument --eta: not a finite number"),
    (["ode", "--noise", "-0.5"], "--noise must be"),
    (["ode", "--weight-decay", "-1"], "--weight-decay must be"),
    (["ode", "--batch-size", "0"], "--batch-size must be"),
    (["ode", "--init-scale", "-1"], "--init-scale must be"),
    (["ode", "--teacher-scale", "0"], "--teacher-scale must be"),
    (["ode", "--alpha-max", "-5"], "--alpha-max must be"),
    (["ode", "--alpha-max", "inf"], "argument --alpha-max"),
    (["ode", "--n-alpha", "1"], "--n-alpha must be an int >= 2; got 1"),
    (["ode", "--rtol", "-1"], "--rtol must be"),
    (["ode", "--atol", "0"], "--atol must be"),
    (["ode", "--activation", "foo"], "--activation must be one of"),
    (["ode", "--activation", "a:b:c"], "argument --activation"),
    (["ode", "--on-divergence", "foo"], "argument --on-divergence: invalid choice: 'foo'"),
    (["ode", "--method", "Euler"], "argument --method"),
    (["ode", "--seed", "-1"], "--seed must be an int >= 0; got -1"),
    (["ode", "--eta-v", "-1"], "--eta-v must be"),
    (["ode", "--v-star", "nan"], "argument --v-star"),
    (["ode", "--output-dir", "{file}/sub"], "--output-dir must be a writable directory"),
    (["ode", "--bogus"], "unrecognized arguments: --bogus"),
    (["simulate", "--N", "0"], "--N must be"),
    (["simulate", "--K", "0"], "--K must be"),
    (["simulate", "--ensemble", "0"], "--ensemble must be"),
    (["simulate", "--backend", "jax"], "--backend must be one of"),
    (["simulate", "--dtype", "float16"], "argument --dtype"),
    (["simulate", "--eta", "-1"], "--eta must be"),
    (["simulate", "--n-alpha", "1"], "--n-alpha must be"),
    (["simulate", "--alpha-max", "0"], "--alpha-max must be"),
    (["simulate", "--batch-size", "0"], "--batch-size must be"),
    (["simulate", "--init-v-scale", "-1"], "--init-v-scale must be"),
    (["simulate", "--seed", "-1"], "--seed must be"),
    (["simulate", "--method", "foo"], "argument --method"),
    (["simulate", "--output-dir", "{file}/sub"], "--output-dir must be"),
    (["prune", "--students", "0"], "--students must be"),
    (["prune", "--masks", "0"], "--masks must be"),
    (["prune", "--levels", "0"], "--levels must be"),
    (["prune", "--levels", "1", "7"], "--levels must be an int >= 1 and <= 6; got 7"),
    (["prune", "--methods", "random_node", "foo"], "--methods must be one of"),
    (["prune", "--K", "1"], "--levels must be"),
    (["prune", "--alpha", "-1"], "--alpha must be"),
    (["prune", "--eta", "0"], "--eta must be"),
    (["prune", "--noise", "0", "-1"], "--noise must be"),
    (["prune", "--N", "0"], "--N must be"),
    (["prune", "--simulation", "foo"], "argument --simulation"),
    (["prune", "--seed", "-1"], "--seed must be"),
    (["prune", "--output-dir", "{file}/sub"], "--output-dir must be"),
    (["sweep", "{tmp}/missing.toml"], "file must be an existing sweep (TOML) file"),
    (["sweep", "{tmp}"], "file must be an existing sweep (TOML) file"),
    (["sweep", "{file}"], "not valid TOML"),
    (["sweep", "{toml}", "--workers", "0"], "--workers must be an int >= 1; got 0"),
    (["sweep", "{toml}", "--workers", "two"], "argument --workers"),
    (["sweep", "{toml}", "--serial", "--scheduler", "local"], "not allowed with"),
    (["sweep", "{toml}", "--cache", "{file}"], "--cache must be a directory path"),
    (["sweep", "{toml}", "--output-dir", "{file}/sub"], "--output-dir must be"),
    (["sweep"], "the following arguments are required: file"),
    (["figures", "nope"], "names must be one of"),
    (["figures", "--workers", "0"], "--workers must be"),
    (["figures", "--quick", "--full"], "not allowed with"),
    (["figures", "--cache", "{file}"], "--cache must be a directory path"),
    (["figures", "--output-dir", "{file}/sub"], "--output-dir must be"),
    (["cache", "foo"], "argument action: invalid choice"),
    (["cache", "list", "--cache", "{file}"], "--cache must be a directory path"),
    (["cache", "clean", "--cache", "{file}"], "--cache must be a directory path"),
    (["nope"], "invalid choice: 'nope'"),
]


@pytest.fixture
def places(tmp_path):
    afile = tmp_path / "afile.txt"
    afile.write_text("computation = \n")  # also an invalid sweep file
    toml = tmp_path / "tiny.toml"
    toml.write_text(_toml(TINY))
    return {"tmp": str(tmp_path / "fresh"), "file": str(afile), "toml": str(toml)}


def _fill(argv, places):
    return [a.format(**places) for a in argv]


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr()


def _with_output(argv, tmp_path):
    if argv[0] in ("ode", "simulate", "prune", "figures", "sweep") and "--output-dir" not in argv:
        argv = [*argv, "--output-dir", str(tmp_path / "out")]
    if argv[0] in ("sweep", "figures") and "--cache" not in argv:
        argv = [*argv, "--cache", str(tmp_path / "cache")]
    return argv


@pytest.mark.parametrize("argv,expected", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_input_is_one_line_exit_2_naming_the_flag(argv, expected, places, tmp_path,
                                                          capsys):
    argv = _fill(argv, places)
    if argv != ["sweep"] and argv[0] != "nope":
        argv = _with_output(argv, tmp_path)
    code, out = _run(argv, capsys)
    lines = out.err.strip().splitlines()
    assert code == 2, out.err
    assert len(lines) == 1, out.err
    assert lines[0].startswith("statmech") and ": error: " in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in out.err and "_" not in expected.split()[0]  # flags, not params
    assert not (tmp_path / "out").exists()  # refused before any work
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("argv,expected", [
    (["ode", "--on-divergence", "foo", "--output-dir", "{tmp}"], "argument --on-divergence"),
    (["ode", "--K", "0", "--output-dir", "{tmp}"], "--K must be an int >= 1; got 0"),
    (["sweep", "{tmp}/missing.toml"], "file must be an existing sweep"),
])
def test_cli_bad_input_in_a_subprocess(argv, expected, places):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "statmech.cli", *_fill(argv, places)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr


# ------------------------------------------------------------------ sweep files and dicts


def _spec(**over):
    spec = {"computation": "integrate", "params": {"alpha_max": 5.0, "n_alpha": 5}}
    spec.update(over)
    return spec


# (id, spec, the parameter the error names, text of the message)
SPEC_CASES = [
    ("K-2.9", _spec(grid={"K": [2, 2.9]}), "K", r"point 2 of 2 \(K=2.9\)"),
    ("K-true", _spec(grid={"K": [True]}), "K", "'K' parameter .* must be an int >= 1"),
    ("n_alpha-1", _spec(params={"n_alpha": 1}), "n_alpha", "must be an int >= 2"),
    ("eta-negative", _spec(grid={"eta": [0.3, -1.0]}), "eta", "point 2 of 2"),
    ("eta-string", _spec(grid={"eta": ["fast"]}), "eta", "'eta' parameter"),
    ("activation", _spec(grid={"activation": ["tanh"]}), "activation", "one of 'erf'"),
    ("noise-negative", _spec(zip={"noise": [0.0, -0.1], "v_star": [1.0, 2.0]}), "noise",
     "point 2 of 2"),
    ("tsl-int", _spec(params={"train_second_layer": 1}), "train_second_layer", "a bool"),
    ("replicate-negative", _spec(grid={"replicate": [0, -1]}), "replicate", ">= 0"),
    ("unknown-param", _spec(params={"Kay": 2}), "Kay", "Unknown parameter"),
    ("seed", _spec(params={"seed": 2}), "seed", "derives from its configuration"),
    ("grid-not-list", _spec(grid={"eta": 0.3}), "eta", "non-empty list"),
    ("grid-empty", _spec(grid={"eta": []}), "eta", "non-empty list"),
    ("zip-lengths", _spec(zip={"eta": [0.3], "K": [2, 3]}), "eta", "equal lengths"),
    ("twice", _spec(grid={"alpha_max": [5.0]}), "alpha_max", "more than one"),
    ("params-not-table", {"computation": "integrate", "params": 3}, "params", "a table"),
    ("unknown-key", {"computation": "integrate", "grids": {}}, "grids", "Unknown sweep key"),
    ("no-computation", {"grid": {"K": [2]}}, "computation", "needs a 'computation'"),
    ("computation-unknown", {"computation": "nope"}, "computation", "must be one of"),
    ("name-not-str", {"computation": "integrate", "name": 3}, "name", "must be a str"),
    ("methods-foo", {"computation": "pruned_error", "params": {"methods": ["foo"]}},
     "methods", "'methods' parameter"),
    ("methods-empty", {"computation": "pruned_error", "params": {"methods": []}}, "methods",
     "non-empty list"),
    ("levels-above-K", {"computation": "prune", "params": {"K": 4, "levels": [1, 5]}},
     "levels", "at most K = 4"),
    ("simulation_method", {"computation": "prune", "params": {"simulation_method": "foo"}},
     "simulation_method", "one of 'full', 'reduced'"),
    ("renormalise-int", {"computation": "prune", "params": {"renormalise": 1}},
     "renormalise", "a bool"),
    ("simulate-method", {"computation": "simulate", "grid": {"method": ["exact"]}}, "method",
     "one of 'full', 'reduced'"),
    ("students-0", {"computation": "prune", "params": {"students": 0}}, "students", ">= 1"),
    ("level-above-K", {"computation": "pruned_state", "params": {"K": 3, "level": 4}},
     "level", "at most K = 3"),
    ("fixed_points-K-float", {"computation": "fixed_points", "grid": {"K": [2.0]}}, "K",
     "must be an int"),
    ("companion-inferred-int", {"computation": "pruning_at_init", "params": {"d": 60.5}}, "d",
     "must be an int"),
]


def _toml_value(value):
    return json.dumps(value)  # JSON strings, numbers, booleans and arrays are TOML too


def _toml(spec):
    lines = [f"{k} = {_toml_value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for k, v in spec.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec,param,match", [c[1:] for c in SPEC_CASES],
                         ids=[c[0] for c in SPEC_CASES])
def test_sweep_dict_refused_naming_the_parameter(spec, param, match, tmp_path):
    with pytest.raises(InvalidParameterError, match=match) as info:
        run_sweep(spec, cache=tmp_path / "cache", executor="serial")
    assert info.value.param == param
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json"))


@pytest.mark.parametrize("spec,param,match", [c[1:] for c in SPEC_CASES],
                         ids=[c[0] for c in SPEC_CASES])
def test_sweep_file_refused_in_one_line(spec, param, match, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(_toml(spec))
    code, out = _run(["sweep", str(path), "--serial", "--cache", str(tmp_path / "cache"),
                      "--output-dir", str(tmp_path / "out")], capsys)
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, out.err
    assert lines[0].startswith("statmech sweep: error: ")
    assert param in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


RUN_SWEEP_CASES = [
    ({"executor": "ray"}, "executor", "one of 'local', 'serial', 'dask'"),
    ({"workers": 0}, "workers", "an int >= 1"),
    ({"workers": True}, "workers", "an int >= 1"),
    ({"workers": 2.0}, "workers", "an int >= 1"),
    ({"force": "yes"}, "force", "a bool"),
    ({"progress": 1}, "progress", "a bool"),
    ({"scheduler": "tcp://x:1"}, "scheduler", "needs executor='dask'"),
    ({"scheduler": 8786, "executor": "dask"}, "scheduler", "a str"),
    ({"cache": 3}, "cache", "a directory path"),
]


@pytest.mark.parametrize("kwargs,param,match", RUN_SWEEP_CASES,
                         ids=[c[1] + "-" + repr(c[0]) for c in RUN_SWEEP_CASES])
def test_run_sweep_arguments_refused(kwargs, param, match, tmp_path):
    kwargs = {"cache": tmp_path / "cache", **kwargs}
    with pytest.raises(InvalidParameterError, match=match) as info:
        run_sweep(TINY, **kwargs)
    assert info.value.param == param


def test_run_sweep_refuses_a_file_as_cache_and_a_bad_sweep_argument(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(InvalidParameterError, match="a directory path") as info:
        run_sweep(TINY, cache=afile)
    assert info.value.param == "cache"
    with pytest.raises(InvalidParameterError, match="'sweep' parameter") as info:
        run_sweep(3, cache=tmp_path)
    with pytest.raises(InvalidParameterError, match="existing sweep") as info:
        run_sweep(tmp_path, cache=tmp_path)
    assert info.value.param == "source"


def test_run_script_parses_reports_and_turns_os_errors_into_one_line(capsys):
    from statmech.cli.errors import OneLineArgumentParser, run_script

    parser = OneLineArgumentParser(prog="demo")
    parser.add_argument("--n", type=int, default=1)

    def broken(args):
        raise OSError(f"disk full\nwhile writing {args.n}")

    assert run_script(parser, lambda args: args.n - 1, ["--n", "1"]) == 0
    assert run_script(parser, broken, ["--n", "3"]) == 2
    err = capsys.readouterr().err
    assert err == "demo: error: disk full while writing 3\n"
    assert run_script(parser, lambda args: 0, ["--bogus"]) == 2
