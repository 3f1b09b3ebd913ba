"""The README's Python examples run as written: every ```python block, in order, in one
namespace (later blocks use names defined by earlier ones), in a scratch working directory.

The README is what a newcomer needs (set-up, a quick tour, the gallery, links); the reference
material lives in the documentation under ``docs/``, whose "Getting started" page includes the
README's set-up and quick tour between two markers.
"""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- getting-started: start -->", "<!-- getting-started: end -->"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 4


def test_every_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the sweep example writes its cache below the working directory
    namespace: dict = {}
    for i, code in enumerate(python_blocks()):
        exec(compile(code, f"README python block {i + 1}", "exec"), namespace)


def test_getting_started_markers_enclose_set_up_and_quick_tour():
    """docs/getting_started.md includes the text between the markers (MyST ``include``)."""
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1
    included = text[text.index(START):text.index(END)]
    assert "## Set-up: two commands" in included and "## Quick tour" in included
    page = README.parent / "docs/getting_started.md"
    assert f":start-after: {START}" in page.read_text(encoding="utf-8")


def test_readme_stays_an_introduction():
    """Reference material goes to docs/ (it was 49 kB before it moved there)."""
    assert len(README.read_bytes()) < 20_000
