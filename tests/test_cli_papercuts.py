"""CLI papercuts: help text, import cost, progress labels, short tables,
checkpoint modes."""

from __future__ import annotations

import argparse
import importlib.util
import io
import os
import re
import stat
import subprocess
import sys

import pytest

from statmech import cli as statmech_cli
from statmech.cli.errors import format_default, subparser

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")

_SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)  # noqa: SLF001


def _parsers(parser: argparse.ArgumentParser):
    """The parser and each of its sub-parsers, as (name, parser)."""
    yield parser.prog, parser
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for name, sub in action.choices.items():
                yield f"{parser.prog} {name}", sub


def _empirical_parser():
    from empirical import cli as empirical_cli

    return empirical_cli.build_parser()


PARSERS = [pytest.param(statmech_cli.build_parser, id="statmech"),
           pytest.param(_empirical_parser, id="empirical")]


@pytest.mark.parametrize("build", PARSERS)
def test_every_option_has_help_and_one_truthful_default(build):
    for prog, parser in _parsers(build()):
        formatter = parser._get_formatter()  # noqa: SLF001
        for action in parser._actions:  # noqa: SLF001
            if isinstance(action, _SKIP):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help.strip(), f"{prog} {name}: no help"
            text = formatter._expand_help(action)  # noqa: SLF001 - the help as shown
            assert text.count("(default") <= 1, f"{prog} {name}: {text!r}"
            assert "(default: None)" not in text, f"{prog} {name}: {text!r}"
            shown = re.search(r"\(default: ([^)]*)\)$", text)
            if shown and action.default is not None and "(default" not in action.help:
                assert shown.group(1) == format_default(action.default)


def test_defaults_are_not_doubled_in_the_rendered_help():
    text = subparser(statmech_cli.build_parser(), "ode").format_help()
    flat = " ".join(text.split())
    assert "(default: K)" in flat and "(default: K) (default" not in flat
    assert "--eta-v ETA_V second-layer learning rate (default: eta)" in flat


def _all_help(build) -> str:
    return "\n".join(p.format_help() for _, p in _parsers(build()))


@pytest.mark.parametrize("build", PARSERS)
def test_help_is_plain_text(build):
    text = _all_help(build)
    for markup in ("``", ":func:", ":mod:", ":class:", ":data:"):
        assert markup not in text


def test_import_statmech_loads_neither_matplotlib_nor_torch():
    code = ("import statmech, sys; print('matplotlib' in sys.modules, 'torch' in sys.modules, "
            "'scipy.integrate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_every_public_name_of_statmech_still_imports():
    code = ("import statmech\n"
            "for name in statmech.__all__:\n"
            "    exec(f'from statmech import {name}')\n"
            "from statmech import *\n"
            "assert statmech.__version__ and statmech.sweep.__name__ == 'statmech.sweep'\n"
            "assert set(statmech.__all__) <= set(dir(statmech))\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_statmech_attribute_is_an_attribute_error():
    import statmech

    with pytest.raises(AttributeError, match="no_such_name"):
        statmech.no_such_name  # noqa: B018


@needs_torch
def test_empirical_help_does_not_import_torch():
    code = ("import sys\n"
            "from empirical.cli import main\n"
            "code = main(['--help'])\n"
            "assert code == 0, code\n"
            "print('RESULT', 'torch' in sys.modules, 'matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "RESULT False False" in out
    code = "from empirical.cli import main; main(['compare', '--help'])"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                         capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert "torch" not in imported and "usage: empirical compare" in out.stdout


@needs_torch
def test_empirical_names_still_import_and_help_constants_match():
    import empirical
    from empirical import cli as empirical_cli
    from empirical import compare

    for name in empirical.__all__:
        assert getattr(empirical, name) is not None
    assert empirical_cli.METHODS == compare.METHODS
    for key, value in empirical_cli.TRAIN_DEFAULTS.items():
        assert compare.REAL_DATA_DEFAULTS[key] == value


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_every_progress_bar_of_statmech_prune_says_what_it_counts(tmp_path, monkeypatch):
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    out = tmp_path / "out"
    assert statmech_cli.main(["prune", "--N", "40", "--students", "2", "--masks", "2",
                              "--alpha", "5", "--levels", "1", "2", "--methods", "dpp_node",
                              "random_node", "--output-dir", str(out)]) == 0
    frames = [f for f in term.getvalue().replace("\n", "\r").split("\r") if f.strip()]
    assert frames
    for frame in frames:
        label, _, rest = frame.partition(" [")
        assert label.strip(), frame
        assert re.search(r"\] +[\d.]+% \d+/\d+", " [" + rest), frame


def test_progress_bar_needs_a_label_and_shows_its_unit():
    from statmech import InvalidParameterError
    from statmech._progress import ProgressBar

    with pytest.raises(InvalidParameterError, match="label"):
        ProgressBar(3, "")
    stream = io.StringIO()
    with ProgressBar(4, "train", enabled=True, stream=stream, min_interval=0,
                     unit="epochs") as bar:
        bar.update(2)
    assert "2/4 epochs" in stream.getvalue()


def test_statmech_prune_prints_a_short_digest_unless_asked(tmp_path, capsys):
    args = ["prune", "--N", "40", "--students", "2", "--masks", "2", "--alpha", "5",
            "--quiet", "--output-dir", str(tmp_path)]
    assert statmech_cli.main(args) == 0
    short = capsys.readouterr().out
    assert len(short.splitlines()) <= 12
    assert "supported" in short and str(tmp_path / "summary.csv") in short
    for name in ("validation.csv", "summary.csv", "claims.csv"):
        assert (tmp_path / name).stat().st_size > 0
    assert statmech_cli.main([*args, "--print-table"]) == 0
    full = capsys.readouterr().out
    assert len(full.splitlines()) > 60


@needs_torch
def test_empirical_compare_digest_is_short():
    import pandas as pd

    from empirical import cli as empirical_cli

    rows = [{"method": "unpruned", "reweight": False, "fraction": 1.0,
             "test_error_mean": 0.03, "params_kept_pct_mean": 100.0}]
    for m in empirical_cli.METHODS:
        for rw in (False, True):
            for f in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
                rows.append({"method": m, "reweight": rw, "fraction": f,
                             "test_error_mean": 0.1 * (1 - f), "params_kept_pct_mean": 100 * f})
    summary = pd.DataFrame(rows)
    assert len(summary) > 120
    text = empirical_cli.real_data_digest(summary)
    assert len(text.splitlines()) == 2 + len(empirical_cli.METHODS)
    assert "dpp_node" in text and "0.0300" in text


@needs_torch
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_checkpoints_get_the_umask_mode(tmp_path, mask):
    from empirical import MLP, save_checkpoint

    old = os.umask(mask)
    try:
        path = save_checkpoint(tmp_path / "model.pt", MLP([3, 2, 2], seed=0), {"a": 1})
    finally:
        os.umask(old)
    for p in (path, tmp_path / "model.pt.config.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p
    assert not list(tmp_path.glob("*.tmp"))
