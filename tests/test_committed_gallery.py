"""The committed gallery is what the main job renders: every registered
figure's committed PNG records the configuration hash of the figure's current sweep points
(``statmech:config_hash``, independent of the package source), so a change to a figure's data
without a re-render fails here. Seeds derive from the same configuration, so equal hashes mean
equal data."""

from pathlib import Path

import pytest
from PIL import Image

from statmech.figures import figures
from statmech.figures.registry import figure_config_hash

GALLERY = Path(__file__).resolve().parents[1] / "figures"
#: the gallery's figures (tests register their own figures too; those are not committed)
NAMES = [n for n, f in figures().items()
         if f.plot.__module__.split(".")[0] in ("statmech", "empirical")]


@pytest.mark.parametrize("name", NAMES)
def test_committed_png_matches_the_figure_definition(name):
    png = GALLERY / f"{name}.png"
    assert png.exists(), f"{png} is not committed; render it with `statmech figures {name}`"
    meta = Image.open(png).text
    assert meta.get("statmech:quality") == "quick"
    assert meta.get("statmech:config_hash") == figure_config_hash(figures()[name], "quick"), (
        f"figures/{name}.png is stale: re-render with `statmech figures {name} "
        "--output-dir figures`")
