"""The README's Python examples run as written: every ```python block, in order, in one
namespace (later blocks use names defined by earlier ones), in a scratch working directory."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 4


def test_every_python_block_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the sweep example writes its cache below the working directory
    namespace: dict = {}
    for i, code in enumerate(python_blocks()):
        exec(compile(code, f"README python block {i + 1}", "exec"), namespace)
