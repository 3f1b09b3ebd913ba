"""scripts/companion_mbp.py reruns the authors' MNIST / CIFAR-10 experiments (companion paper A,
``docs/companion_papers.md`` §1.7) end to end on tiny generated data files, and the authors'
figure points it plots come from ``results/companion_mbp/authors_points.csv``."""

import gzip
import json
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]
POINTS = ROOT / "results" / "companion_mbp" / "authors_points.csv"


@pytest.fixture(scope="module")
def mod(load_script):
    return load_script("companion_mbp")


@pytest.fixture(autouse=True)
def one_thread():
    """Single-threaded: on a few shared cores torch's and BLAS's threads fight."""
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(old)


# ------------------------------------------------------------------------------------------
# tiny data files in the real formats


def _idx_bytes(a: np.ndarray) -> bytes:
    """An IDX file: magic 00 00 08 (uint8) ndim, big-endian sizes, then the bytes."""
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_mnist(folder: Path, n_train: int = 50, n_test: int = 10) -> np.ndarray:
    """Four MNIST files (train images gzipped, the rest plain); returns the training images."""
    rng = np.random.default_rng(3)
    train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    files = {"train-images-idx3-ubyte": train,
             "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, a in files.items():
        if name.startswith("train-images"):
            (folder / (name + ".gz")).write_bytes(gzip.compress(_idx_bytes(a)))
        else:
            (folder / name).write_bytes(_idx_bytes(a))
    return train


def write_cifar(folder: Path, n: int = 10) -> None:
    """The six CIFAR-10 python batches, n images each; pixel (16, 16) of every image is white."""
    rng = np.random.default_rng(4)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        data[:, :, 16, 16] = 255
        batch = {b"batch_label": name.encode(), b"data": data.reshape(n, 3072),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)


def _capture_figure(mod, monkeypatch) -> dict:
    """Keep the Figure that main() draws and saves."""
    seen: dict = {}
    original = mod.plot_curves

    def keep(*args, **kwargs):
        seen["fig"] = original(*args, **kwargs)
        return seen["fig"]

    monkeypatch.setattr(mod, "plot_curves", keep)
    return seen


def _authors_line(ax, quantity):
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == quantity]
    assert len(lines) == 1
    return lines[0]


# ------------------------------------------------------------------------------------------
# end to end


def test_mnist_rerun_writes_curves_and_plots_authors_points(mod, tmp_path, monkeypatch,
                                                          capsys):
    data = tmp_path / "mnist"
    data.mkdir()
    images = write_mnist(data)
    out = tmp_path / "out"
    seen = _capture_figure(mod, monkeypatch)
    argv = ["--mnist", str(data), "--epochs", "2", "--subset", "30", "--hidden", "16",
            "--n-d", "5", "--output-dir", str(out)]
    assert mod.main(argv) == 0
    text = capsys.readouterr().out
    assert "m = 30 training examples (validation part 10 left out)" in text
    assert "784-16-16-16-16-10" in text

    table = pd.read_csv(out / "mnist" / "mbp_curves.csv")
    assert (out / "mnist" / "mbp_curves.png").stat().st_size > 10_000
    np.testing.assert_allclose(table.d, np.linspace(0, 10, 5))
    # d = 0 keeps every weight: no error, no required margin, every row full
    first = table.iloc[0]
    assert first.gamma_req == 0 and first.true_error == 0 and first.density == 1
    assert first.jr == 784 and first.jc == 16 and first.predicted_jr == 3 * 784
    assert np.all(table.gamma_req[1:] > table.true_error[1:])  # the bound holds here
    assert np.all(np.diff(table.density) < 0)
    np.testing.assert_allclose(table.predicted_jr, 3 * 784 * (1 - np.sqrt(table.d / (table.d + 2))))
    # max||x||: image norm of the first 30 training images of the authors' split, in [-1, 1]
    split = torch.randperm(50, generator=torch.Generator().manual_seed(1))[:40][:30].numpy()
    x = (images[split].reshape(30, -1) / 255.0 - 0.5) / 0.5
    np.testing.assert_allclose(table.max_input_norm, np.linalg.norm(x, axis=1).max(), rtol=1e-5)

    config = json.loads((out / "mnist" / "config.json").read_text())
    assert config["m"] == 30 and config["validation_left_out"] == 10
    assert config["widths"] == [784, 16, 16, 16, 16, 10] and config["momentum"] == 0.0
    assert config["authors_sizes"] is False and config["augmentation"] is False

    # the figure: our curves as lines, the authors' 100 points per panel under them
    fig = seen["fig"]
    authors = pd.read_csv(POINTS).query("dataset == 'mnist'")
    for ax, qty, col in zip(fig.axes, ("bound", "true_error", "measured_jr"),
                            ("gamma_req", "true_error", "jr"), strict=True):
        ref = authors[authors.quantity == qty].sort_values("i")
        pts = _authors_line(ax, qty)
        np.testing.assert_allclose(pts.get_xdata(), ref.d)
        np.testing.assert_allclose(pts.get_ydata(), ref.value)
        ours = [ln for ln in ax.get_lines() if ln.get_label() == "this run"][0]
        np.testing.assert_allclose(ours.get_ydata(), table[col])
        assert ours.get_zorder() > pts.get_zorder()
    assert _authors_line(fig.axes[0], "bound").get_ydata()[-1] == pytest.approx(5285.76)
    assert _authors_line(fig.axes[2], "measured_jr").get_ydata()[0] == 784


def test_cifar_rerun_and_the_channel_norm_option(mod, tmp_path, monkeypatch):
    data = tmp_path / "cifar"
    data.mkdir()
    write_cifar(data)
    seen = _capture_figure(mod, monkeypatch)
    runs = {}
    for flag in (False, True):
        out = tmp_path / f"out{int(flag)}"
        argv = ["--cifar10", str(data), "--epochs", "1", "--hidden", "8", "--n-d", "3",
                "--output-dir", str(out)] + (["--channel-norm-max-x"] if flag else [])
        assert mod.main(argv) == 0
        runs[flag] = pd.read_csv(out / "cifar10" / "mbp_curves.csv")
        assert (out / "cifar10" / "mbp_curves.png").is_file()
        cfg = json.loads((out / "cifar10" / "config.json").read_text())
        assert cfg["m"] == 40 and cfg["augmentation"] is True
        assert cfg["channel_norm_max_x"] is flag and cfg["lr_milestones"][:2] == [40, 80]
    plain, code = runs[False], runs[True]
    assert plain.first_layer_n_in[0] == 3072 and plain.jr[0] == 3072
    # the code's max||x||: the largest per-pixel norm over the RGB channels of the normalised
    # inputs; a white pixel sits inside every crop, and white is the largest per channel
    mean = np.array([125.3, 123.0, 113.9]) / 255
    std = np.array([63.0, 62.1, 66.7]) / 255
    white = math.sqrt(np.sum(((1 - mean) / std) ** 2))
    np.testing.assert_allclose(code.max_input_norm, white, rtol=1e-6)
    assert white == pytest.approx(3.64, abs=0.01)
    # the image norm is more than ten times larger; nothing else changes: same network, masks
    # and augmented passes, so the true error is the same and γ_req scales with max||x||
    assert np.all(plain.max_input_norm > 10 * white)
    np.testing.assert_array_equal(plain.true_error, code.true_error)
    np.testing.assert_allclose(plain.gamma_req / plain.max_input_norm,
                               code.gamma_req / code.max_input_norm, rtol=1e-9)
    fig = seen["fig"]
    ref = pd.read_csv(POINTS).query("dataset == 'cifar10' and quantity == 'bound'")
    np.testing.assert_allclose(_authors_line(fig.axes[0], "bound").get_ydata(),
                               ref.sort_values("i").value)


def test_channel_norm_is_the_image_norm_for_one_channel(mod):
    x = torch.randn(4, 12)
    for flag in (False, True):
        torch.testing.assert_close(mod.input_norms(x, 1, flag), x.norm(dim=1))
    per_pixel = mod.input_norms(x, 3, True)
    assert per_pixel.shape == (4, 4)
    torch.testing.assert_close(per_pixel, x.view(4, 3, 4).norm(dim=1))
    torch.testing.assert_close(mod.input_norms(x, 3, False), x.norm(dim=1))


def test_random_crop_flip_is_a_window_of_the_padded_image(mod):
    side, pad, c = 5, 2, 3
    x = torch.rand(64, c * side * side) + 0.5  # no zeros: padding is recognisable
    out = mod.random_crop_flip(x, c, side, torch.Generator().manual_seed(0), pad=pad)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x.view(-1, c, side, side), (pad,) * 4)
    windows = {(i, j, f) for i in range(2 * pad + 1) for j in range(2 * pad + 1)
               for f in (False, True)}
    found = set()
    for k in range(len(x)):
        img = out[k].view(c, side, side)
        hits = [(i, j, f) for i, j, f in windows
                if torch.equal(img, (lambda w: w.flip(-1) if f else w)(
                    padded[k, :, i:i + side, j:j + side]))]
        assert hits, "every output is a (flipped) window"
        found.update(hits)
    assert any(f for *_, f in found) and any(not f for *_, f in found)
    assert len({(i, j) for i, j, _ in found}) > 5


def test_split_sizes_are_the_authors(mod):
    idx, n_val = mod.training_indices(60000, None)
    assert (len(idx), n_val) == (48000, 12000)
    idx, n_val = mod.training_indices(50000, None)
    assert (len(idx), n_val) == (40000, 10000)
    torch.testing.assert_close(idx, torch.randperm(50000, generator=torch.Generator()
                                                   .manual_seed(1))[:40000])
    with pytest.raises(ValueError, match="'subset' parameter .* \\[1, 40000\\]"):
        mod.training_indices(50000, 40001)


def test_bad_input_is_one_line(mod, tmp_path, capsys):
    assert mod.main(["--mnist", str(tmp_path / "nope"), "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "mnist" in err
    assert mod.main(["--cifar10", str(tmp_path), "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# the authors' points


def test_authors_points_file():
    pts = pd.read_csv(POINTS)
    assert list(pts.columns) == ["dataset", "figure", "i", "d", "quantity", "value"]
    assert len(pts) == 600
    counts = pts.groupby(["dataset", "quantity"]).size()
    assert set(counts) == {100}
    np.testing.assert_allclose(pts.d, 10 * pts.i / 99, atol=1e-6)
    v = pts.set_index(["dataset", "quantity", "i"]).value
    # the row d = 10 and a few more of the recorded values
    assert v["mnist", "bound", 99] == 5285.76 and v["mnist", "true_error", 99] == 40.073
    assert v["cifar10", "bound", 99] == 305.948 and v["cifar10", "true_error", 99] == 16.053
    assert v["mnist", "measured_jr", 99] == 116 and v["cifar10", "measured_jr", 99] == 456
    assert v["mnist", "bound", 10] == 1943.02 and v["cifar10", "measured_jr", 20] == 1247
    # d = 0 keeps everything: full rows, no error; counts are integers and fall with d
    assert v["mnist", "measured_jr", 0] == 784 and v["cifar10", "measured_jr", 0] == 3072
    assert v["mnist", "bound", 0] == 0 and v["cifar10", "true_error", 0] == 0
    jr = pts[pts.quantity == "measured_jr"].value
    assert np.all(jr == np.round(jr))
    # the bound rises about 17-fold less on CIFAR-10 (the per-pixel max||x||)
    assert v["mnist", "bound", 99] / v["cifar10", "bound", 99] == pytest.approx(17.3, abs=0.1)
    # the bound stays above the true error
    for ds in ("mnist", "cifar10"):
        b = pts[(pts.dataset == ds) & (pts.quantity == "bound")].value.to_numpy()
        t = pts[(pts.dataset == ds) & (pts.quantity == "true_error")].value.to_numpy()
        assert np.all(b[1:] > t[1:])
