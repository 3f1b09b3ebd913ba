"""The gallery's single pool: every figure's missing points in one pool, figures drawn as
their points finish, a failing point fails only its figures, progress moves inside points."""

import io
import sys
from pathlib import Path

import pytest

from statmech._progress import ProgressBar, plain_progress_lines, point_reporter
from statmech.figures import GalleryError, register_figure, render
from statmech.sweep import run_sweep

sys.path.insert(0, str(Path(__file__).parent / "sweep_helpers"))
import slow_plugin  # noqa: E402,F401


def _plot(tables, quality):
    from statmech.plotting.style import new_figure

    fig, ax = new_figure()
    for t in tables.values():
        ax.plot(t.x, t.value, "o")
    return fig


register_figure("test_pool_a", "pool test A",
                lambda q: {"pts": {"computation": "test_stepped", "grid": {"x": [1, 2]}},
                           "shared": {"computation": "test_stepped", "grid": {"x": [7]}}},
                _plot, order=990)
register_figure("test_pool_b", "pool test B (shares x=7 with A)",
                lambda q: {"pts": {"computation": "test_stepped", "grid": {"x": [3, 7]}}},
                _plot, order=991)
register_figure("test_pool_bad", "pool test: one point fails",
                lambda q: {"pts": {"computation": "test_stepped",
                                   "params": {"fail": True}, "grid": {"x": [9]}}},
                _plot, order=992)


def test_one_pool_for_the_whole_gallery_and_shared_points_once(tmp_path):
    lines = []
    out = render(["test_pool_a", "test_pool_b"], output=tmp_path / "f", cache=tmp_path / "c",
                 executor="local", workers=2, log=lines.append, progress=False)
    assert set(out) == {"test_pool_a", "test_pool_b"}
    assert all(p.exists() for paths in out.values() for p in paths)
    # 4 distinct points (x = 1, 2, 3, 7): x = 7 is in both figures and computed once
    assert "4 distinct sweep points: 4 to compute, 0 cached" in lines[0]
    again = []
    render(["test_pool_a", "test_pool_b"], output=tmp_path / "f2", cache=tmp_path / "c",
           executor="local", workers=2, log=again.append, progress=False)
    assert "4 distinct sweep points: 0 to compute, 4 cached" in again[0]


def test_a_failing_point_fails_its_figure_only(tmp_path):
    lines = []
    with pytest.raises(GalleryError) as info:
        render(["test_pool_bad", "test_pool_b"], output=tmp_path / "f", cache=tmp_path / "c",
               executor="local", workers=2, log=lines.append, progress=False)
    assert set(info.value.failed) == {"test_pool_bad"}
    assert "ArithmeticError: point x=9 fails on purpose" in info.value.failed["test_pool_bad"]
    assert info.value.rendered["test_pool_b"][0].exists()
    assert any("test_pool_bad FAILED" in line for line in lines)


def test_the_sweep_bar_moves_during_a_long_point(tmp_path):
    """Before: a sweep's bar counted finished points only, so a 2-point sweep sat at 0 %."""
    seen = []
    real = ProgressBar.set_done

    def spy(self, done, postfix=None):
        if self.label.startswith("sweep"):
            seen.append(done)
        return real(self, done, postfix)

    ProgressBar.set_done = spy
    try:
        run_sweep({"name": "stepped", "computation": "test_stepped",
                   "params": {"steps": 8, "delay": 0.2}, "grid": {"x": [1, 2]}},
                  cache=tmp_path, executor="local", workers=2, progress=False)
        run_sweep({"name": "stepped_serial", "computation": "test_stepped",
                   "params": {"steps": 8, "delay": 0.05}, "grid": {"x": [1, 2]}},
                  cache=tmp_path, executor="serial", progress=False)
    finally:
        ProgressBar.set_done = real
    fractional = [d for d in seen if 0 < d < 2 and d != 1]
    assert fractional, seen  # progress arrived from inside the points


def test_plain_lines_when_not_a_terminal_and_silence_otherwise():
    quiet = io.StringIO()
    with ProgressBar(4, "work", stream=quiet) as bar:
        bar.update(4)
    assert quiet.getvalue() == ""
    logged = io.StringIO()
    with plain_progress_lines(0.0), ProgressBar(4, "work", stream=logged, unit="steps") as bar:
        bar.update(1)
        bar.update(3)
    text = logged.getvalue()
    assert "\r" not in text and "work: 25% (1/4 steps)" in text
    assert text.endswith("\n")


def test_point_reporter_hears_every_bar_and_bars_stay_silent():
    heard = []
    stream = io.StringIO()
    with point_reporter(lambda label, frac: heard.append((label, frac))):
        with ProgressBar(2, "inner", stream=stream, min_interval=0) as bar:
            bar.update(1)
            bar.update(1)
    assert heard[0] == ("inner", 0.5) and heard[-1] == ("inner", 1.0)
    assert stream.getvalue() == ""


def test_up_to_date_figures_are_not_drawn_again(tmp_path):
    """A rerun skips a figure whose PNG and PDF carry its current render key; a changed output
    file, ``redraw`` or a different drawing is drawn again."""
    kw = dict(output=tmp_path / "f", cache=tmp_path / "c", executor="local", workers=2,
              progress=False)
    render(["test_pool_b"], log=None, **kw)
    png = tmp_path / "f" / "test_pool_b.png"
    first = png.stat().st_mtime_ns
    lines = []
    render(["test_pool_b"], log=lines.append, **kw)
    assert any("test_pool_b: up to date" in line for line in lines)
    assert png.stat().st_mtime_ns == first
    lines = []
    render(["test_pool_b"], log=lines.append, redraw=True, **kw)
    assert any("test_pool_b: drawn" in line for line in lines)
    (tmp_path / "f" / "test_pool_b.pdf").write_bytes(b"%PDF-1.4 not ours")
    lines = []
    render(["test_pool_b"], log=lines.append, **kw)
    assert any("test_pool_b: drawn" in line for line in lines)
