"""empirical.data: loaders on tiny generated files, malformed ones rejected clearly."""

import gzip
import os
import pickle
import random
import struct

import numpy as np
import pytest

pytest.importorskip("sklearn")
from empirical.data import load_cifar10, load_digits, load_idx, load_mnist1d, read_idx  # noqa: E402


def _idx(a: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _write_mnist(d, n_train=5, n_test=3, gz=False):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, a in files.items():
        raw = _idx(a)
        if gz:
            (d / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (d / name).write_bytes(raw)
    return files


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    files = _write_mnist(tmp_path, gz=gz)
    ds = load_idx(tmp_path, normalise=None)
    assert ds.X_train.shape == (5, 784) and ds.X_test.shape == (3, 784)
    np.testing.assert_allclose(ds.X_train * 255, files["train-images-idx3-ubyte"].reshape(5, -1))
    np.testing.assert_array_equal(ds.y_test, files["t10k-labels-idx1-ubyte"])
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64


def test_idx_malformed_files_are_named(tmp_path):
    with pytest.raises(ValueError, match="existing directory"):
        load_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match="missing MNIST file; expected one of train-images"):
        load_idx(tmp_path)
    _write_mnist(tmp_path)
    bad = tmp_path / "train-labels-idx1-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 9) + b"\x01\x02")
    with pytest.raises(ValueError, match="announces shape .* holds 2 bytes"):
        load_idx(tmp_path)
    bad.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    bad.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(ValueError, match="not a valid gzip file"):
        read_idx(bad)
    bad.write_bytes(_idx(np.zeros(4, dtype=np.uint8)))  # 4 labels for 5 images
    with pytest.raises(ValueError, match=r"train images \(5\) and labels \(4\) differ"):
        load_idx(tmp_path)


def _write_cifar(d, n=4):
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 b"labels": [int(x) for x in rng.integers(0, 10, n)]}
        with open(d / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)


def test_cifar_round_trip(tmp_path):
    _write_cifar(tmp_path)
    ds = load_cifar10(tmp_path)
    assert ds.X_train.shape == (20, 3072) and ds.X_test.shape == (4, 3072)
    assert ds.X_train.min() >= -1.0 and ds.X_train.max() <= 1.0


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_pickle_carrying_code_is_refused(tmp_path):
    _write_cifar(tmp_path)
    with open(tmp_path / "data_batch_3", "wb") as f:
        pickle.dump({b"data": _Evil(), b"labels": []}, f, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_3: refused to load (posix|os|nt)\.system"):
        load_cifar10(tmp_path)


def test_cifar_malformed_batches(tmp_path):
    with pytest.raises(ValueError, match="existing directory"):
        load_cifar10(tmp_path / "missing")
    with pytest.raises(ValueError, match="data_batch_1: .*expected the python-version files"):
        load_cifar10(tmp_path)
    _write_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"\x80\x02 truncated")
    with pytest.raises(ValueError, match="test_batch: not a readable CIFAR-10 pickle"):
        load_cifar10(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"\(n, 3072\) uint8 array"):
        load_cifar10(tmp_path)
    with open(tmp_path / "test_batch", "wb") as f:
        pickle.dump([1, 2, 3], f, protocol=2)
    with pytest.raises(ValueError, match="expected a dict"):
        load_cifar10(tmp_path)


def test_digits_split_and_standardisation():
    ds = load_digits(seed=3)
    assert ds.X_train.shape == (1348, 64) and ds.X_test.shape == (449, 64)
    assert ds.n_classes == 10
    np.testing.assert_allclose(ds.X_train.mean(0), 0, atol=1e-5)
    again = load_digits(seed=3)
    np.testing.assert_array_equal(again.X_test, ds.X_test)
    with pytest.raises(ValueError, match="'test_fraction'"):
        load_digits(test_fraction=1.5)


def test_mnist1d_is_generated_and_global_rng_is_restored():
    pytest.importorskip("mnist1d")
    np.random.seed(7)  # noqa: NPY002 (the global state is the point)
    random.seed(7)
    expect_np, expect_py = np.random.rand(), random.random()  # noqa: NPY002 (the global state is the point)
    np.random.seed(7)  # noqa: NPY002 (the global state is the point)
    random.seed(7)
    ds = load_mnist1d(n_train=200, n_test=50)
    assert np.random.rand() == expect_np and random.random() == expect_py  # noqa: NPY002 (the global state is the point)
    assert ds.X_train.shape == (200, 40) and ds.X_test.shape == (50, 40)
    assert not os.path.exists("mnist1d_data.pkl")  # the download path was never taken
