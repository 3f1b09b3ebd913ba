"""scripts/reproduce_real_data.py runs end to end on tiny generated MNIST files."""


import numpy as np
import pytest

pytest.importorskip("torch")
from test_data import _write_mnist  # noqa: E402


def test_reproduce_real_data_on_tiny_mnist_files(tmp_path, capsys, load_script):
    mod = load_script("reproduce_real_data")
    data = tmp_path / "mnist"
    data.mkdir()
    _write_mnist(data, n_train=60, n_test=20, gz=True)
    out = tmp_path / "out"
    assert mod.main(["--mnist", str(data), "--hidden", "12", "8", "--epochs", "2", "--seeds", "0",
                     "--methods", "random_edge", "dpp_node", "--fractions", "0.5",
                     "--node-levels", "fraction", "--output-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "published 96.33 %" in text and "89.14" in text  # random edge at 50 %, no rwt
    import pandas as pd

    table = pd.read_csv(out / "mnist" / "real_data.csv")
    node = table[table.method == "dpp_node"]
    assert set(node.keep) == {6}  # ⌈0.5 · 12⌉ units (fraction levels)
    assert np.all(table[table.method == "random_edge"].keep == 392)
    assert (out / "mnist" / "real_data.png").exists()
