"""The README's quick tour runs as written."""

import re
from pathlib import Path


def test_quick_tour_runs():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    tour = text.split("## Quick tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S).group(1)
    exec(compile(code, "README quick tour", "exec"), {})
