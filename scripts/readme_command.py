"""CI helper: the README's commands, as written, and a check of the gallery they render.

``python scripts/readme_command.py main`` prints the README's main command (the first ``bash``
block of "Set-up: two commands"); ``tests`` prints the test command (the second);
``check-gallery DIR`` exits non-zero unless every registered figure's PNG is in DIR (run it in
the environment that rendered them, so that plugin figures count).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def setup_commands() -> list[str]:
    """The ``bash`` blocks of the README's "Set-up: two commands" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.+?)\n```", section, re.S)]


def check_gallery(folder: Path) -> int:
    from statmech.figures import figures

    names = list(figures())
    missing = [n for n in names if not (folder / f"{n}.png").exists()]
    if missing:
        print(f"main job: figures not written: {missing}", file=sys.stderr)
        return 1
    print(f"main job: all {len(names)} registered figures written to {folder}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["main"]:
        print(setup_commands()[0])
        return 0
    if argv[:1] == ["tests"]:
        print(setup_commands()[1])
        return 0
    if argv[:1] == ["check-gallery"] and len(argv) == 2:
        return check_gallery(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
