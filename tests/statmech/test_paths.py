"""One output root and one default cache (statmech.paths)."""

from pathlib import Path

from statmech.paths import default_cache_dir, output_dir, output_root
from statmech.sweep import Cache


def test_defaults_live_under_one_root(monkeypatch, tmp_path):
    monkeypatch.delenv("STATMECH_OUTPUT", raising=False)
    monkeypatch.delenv("STATMECH_CACHE", raising=False)
    assert output_root() == Path("statmech-output")
    assert output_dir("empirical", "compare") == Path("statmech-output/empirical/compare")
    assert default_cache_dir() == Path("statmech-output/cache")
    monkeypatch.chdir(tmp_path)
    assert Path(Cache().root).resolve() == (tmp_path / "statmech-output" / "cache").resolve()


def test_the_environment_moves_the_root_and_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("STATMECH_OUTPUT", str(tmp_path / "out"))
    monkeypatch.delenv("STATMECH_CACHE", raising=False)
    assert output_dir("figures") == tmp_path / "out" / "figures"
    assert default_cache_dir() == tmp_path / "out" / "cache"
    monkeypatch.setenv("STATMECH_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"


def test_every_command_defaults_under_the_root(monkeypatch, tmp_path):
    import argparse

    from empirical.cli import build_parser as empirical_parser
    from statmech.cli.app import build_parser

    monkeypatch.setenv("STATMECH_OUTPUT", str(tmp_path))
    defaults = []
    for parser in (build_parser(), empirical_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    defaults += [a.default for a in sub._actions
                                 if a.dest in ("output_dir", "output") and a.default]
    assert len(defaults) >= 5
    assert all(Path(d).is_relative_to(tmp_path) for d in defaults), defaults
