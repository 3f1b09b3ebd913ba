"""The figure registry, ``statmech figures | sweep | cache`` and the plugin groups."""

import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from statmech import InvalidParameterError
from statmech.cli.app import main
from statmech.figures import GalleryError, figures, register_figure, render
from statmech.sweep import computations

sys.path.insert(0, str(Path(__file__).parent / "sweep_helpers"))
import slow_plugin  # noqa: E402,F401


def _test_plot(tables, quality):
    from statmech.plotting.style import new_figure

    fig, ax = new_figure()
    t = tables["pts"]
    ax.plot(t.x, t.value, "o")
    return fig


register_figure("test_figure", "a test figure",
                lambda q: {"pts": {"computation": "test_slow", "grid": {"x": [1, 2, 3]}}},
                _test_plot, order=999)


def test_render_writes_png_pdf_with_the_config_hash_and_reuses_the_cache(tmp_path):
    lines = []
    out = render(["test_figure"], output=tmp_path / "fig", cache=tmp_path / "c",
                 executor="serial", log=lines.append)
    png, pdf = out["test_figure"]
    assert png.exists() and pdf.exists() and pdf.read_bytes()[:4] == b"%PDF"
    h1 = Image.open(png).text["statmech:config_hash"]
    assert len(h1) == 16
    again = render(["test_figure"], output=tmp_path / "fig2", cache=tmp_path / "c",
                   executor="serial", log=None)
    assert Image.open(again["test_figure"][0]).text["statmech:config_hash"] == h1
    with pytest.raises(InvalidParameterError, match="'names' parameter of render"):
        render(["nope"], output=tmp_path)
    with pytest.raises(ValueError, match="'quality'"):
        render(["test_figure"], quality="draft", output=tmp_path)


def _broken_plot(tables, quality):
    raise ZeroDivisionError("a drawing bug")


register_figure("test_broken_figure", "a figure whose drawing fails",
                lambda q: {"pts": {"computation": "test_slow", "grid": {"x": [1]}}},
                _broken_plot, order=998)


def test_one_failing_figure_does_not_stop_the_gallery(tmp_path, capsys):
    """The broken figure is reported by name with its error; the one after it still renders;
    the command exits non-zero with a summary."""
    lines = []
    with pytest.raises(GalleryError) as info:
        render(["test_broken_figure", "test_figure"], output=tmp_path / "fig",
               cache=tmp_path / "c", executor="serial", log=lines.append)
    assert info.value.failed == {"test_broken_figure": "ZeroDivisionError: a drawing bug"}
    assert info.value.rendered["test_figure"][0].exists()
    assert any("test_broken_figure FAILED" in line for line in lines)
    assert "test_broken_figure: ZeroDivisionError: a drawing bug" in str(info.value)
    code = main(["figures", "test_broken_figure", "test_figure", "--output-dir",
                 str(tmp_path / "cli"), "--cache", str(tmp_path / "c"), "--serial", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "1 of 2 figure(s) failed" in err and "test_broken_figure" in err
    assert "Traceback" not in err
    assert (tmp_path / "cli" / "test_figure.png").exists()


def test_builtin_figure_renders(tmp_path):
    out = render(["order_parameter_heatmaps"], output=tmp_path, cache=tmp_path / "c",
                 executor="serial", log=None)
    assert out["order_parameter_heatmaps"][0].stat().st_size > 10_000


def test_gallery_registry_and_plugins():
    names = set(figures())
    assert {"ode_vs_simulation", "phase_diagram", "pruned_error", "order_parameter_heatmaps",
            "jensen_gap", "pruning_at_init", "pruning_gaps"} <= names
    pytest.importorskip("torch")
    pytest.importorskip("empirical")
    assert {"theory_vs_experiment", "digits_pruning", "mbp_bound", "spectral_pruning"} <= names
    assert {"empirical.teacher_student", "empirical.real_data", "empirical.mbp_bound",
            "empirical.spectral_compare", "pruning_at_init", "pruning_gap"} <= set(computations())


def test_cli_sweep_cache_and_figures_list(tmp_path, capsys):
    toml = tmp_path / "s.toml"
    toml.write_text(textwrap.dedent("""
        name = "demo"
        computation = "integrate"
        [params]
        K = 2
        alpha_max = 10.0
        n_alpha = 20
        [grid]
        eta = [0.3, 1.0]
    """))
    cache = str(tmp_path / "cache")
    out = tmp_path / "out"
    assert main(["sweep", str(toml), "--cache", cache, "--serial", "--output-dir",
                 str(out), "--quiet"]) == 0
    csv = pd.read_csv(out / "results.csv")
    pq = pd.read_parquet(out / "results.parquet")
    assert len(csv) == len(pq) == 40 and set(csv.eta) == {0.3, 1.0}
    assert "2 computed" in capsys.readouterr().out
    assert main(["sweep", str(toml), "--cache", cache, "--serial", "--output-dir",
                 str(out), "--quiet"]) == 0
    assert "0 computed" in capsys.readouterr().out
    assert main(["cache", "list", "--cache", cache]) == 0
    assert "2 points" in capsys.readouterr().out
    assert main(["cache", "clean", "--cache", cache, "--stale"]) == 0
    assert "removed 0" in capsys.readouterr().out
    assert main(["cache", "clean", "--cache", cache]) == 0
    assert "removed 2" in capsys.readouterr().out
    assert main(["figures", "--list"]) == 0
    assert "phase_diagram" in capsys.readouterr().out
    assert main(["sweep", str(tmp_path / "missing.toml"), "--cache", cache]) == 2


def test_escape_time_is_interpolated_between_outputs():
    """ode_vs_simulation reads escape times between recorded outputs: an
    exponential decay crossing the threshold between two outputs gives the exact crossing,
    not the next grid point; a member that never escapes gives NaN."""
    import numpy as np

    from statmech.figures.builtin import _escape

    alpha = np.linspace(0.0, 10.0, 11)
    eg = np.exp(-alpha)
    assert _escape(alpha, eg, np.exp(-4.3)) == pytest.approx(4.3, abs=1e-12)
    assert _escape(alpha, np.ones(11), 0.5) != _escape(alpha, np.ones(11), 0.5)  # NaN
