"""Real data for the empirical module, all offline: nothing is ever downloaded.

* :func:`load_digits` — scikit-learn's bundled 8×8 digits (1797 × 64).
* :func:`load_mnist1d` — MNIST-1D generated locally by the ``mnist1d`` package's generator
  (``make_dataset``; never its download function). The generator reseeds NumPy's and Python's
  global random states; they are saved and restored around the call.
* :func:`load_idx` — MNIST-format IDX files (gzipped or not) from a directory the user names.
* :func:`load_cifar10` — CIFAR-10 "python version" batches from a directory the user names, read by
  a restricted unpickler that accepts only plain arrays, lists, dicts, strings and numbers.

Every loader returns a :class:`Dataset` of float32 inputs and int64 labels (NumPy; ``.to_torch()``
moves them). Missing or malformed files raise ``ValueError`` naming the file and what was
expected.
"""

from __future__ import annotations

import gzip
import io
import pickle
import random
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Dataset", "load_digits", "load_mnist1d", "load_idx", "load_cifar10", "read_idx",
           "RestrictedUnpickler", "RefusedGlobal"]


@dataclass(frozen=True)
class Dataset:
    """A train/test split: inputs (n, d) float32, labels (n,) int64."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Input dimension."""
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        """Number of classes (max label + 1 over both splits)."""
        return int(max(self.y_train.max(initial=-1), self.y_test.max(initial=-1))) + 1

    def to_torch(self, device: Any = "cpu"):
        """(X_train, y_train, X_test, y_test) as torch tensors on ``device``."""
        import torch

        return tuple(torch.as_tensor(a, device=device) for a in
                     (self.X_train, self.y_train, self.X_test, self.y_test))


def _split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"The 'test_fraction' parameter must be a float in (0, 1). "
                         f"Got {test_fraction!r}.")
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = order[:n_test], order[n_test:]
    return X[tr], y[tr], X[te], y[te]


def _standardise(X_train: np.ndarray, X_test: np.ndarray):
    mu = X_train.mean(0)
    sd = X_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X_train - mu) / sd, (X_test - mu) / sd


def load_digits(test_fraction: float = 0.25, seed: int = 0,
                standardise: bool = True) -> Dataset:
    """scikit-learn's bundled digits (8×8 images, 10 classes), split at random.

    Parameters
    ----------
    test_fraction : float
        Share of the 1797 images held out (default 0.25, i.e. 449 test images).
    seed : int
        Seed of the split.
    standardise : bool
        Centre and scale each pixel with the training statistics (constant pixels left at 0).
    """
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    X = d.data.astype(np.float32)
    y = d.target.astype(np.int64)
    X_tr, y_tr, X_te, y_te = _split(X, y, test_fraction, seed)
    if standardise:
        X_tr, X_te = _standardise(X_tr, X_te)
    return Dataset("digits", X_tr.astype(np.float32), y_tr, X_te.astype(np.float32), y_te,
                   {"test_fraction": test_fraction, "seed": seed, "standardise": standardise})


def load_mnist1d(n_train: int = 4000, n_test: int = 1000, seed: int = 42,
                 standardise: bool = False) -> Dataset:
    """MNIST-1D (40-dimensional sequences, 10 classes) from the ``mnist1d`` generator.

    The defaults reproduce the published 4000/1000 split (generator seed 42). Python's and NumPy's
    global random states are restored after the generator has reseeded them.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ValueError("load_mnist1d needs the 'mnist1d' package: "
                         "pip install 'statmech-pruning[empirical]'.") from None
    args = get_dataset_args()
    args.num_samples = n_train + n_test
    args.train_split = n_train / (n_train + n_test)
    args.seed = seed
    np_state = np.random.get_state()  # noqa: NPY002 (the global state is the point)
    py_state = random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002 (the global state is the point)
        random.setstate(py_state)
    X_tr = np.asarray(data["x"], dtype=np.float32)
    X_te = np.asarray(data["x_test"], dtype=np.float32)
    if standardise:
        X_tr, X_te = _standardise(X_tr, X_te)
    return Dataset("mnist1d", X_tr.astype(np.float32), np.asarray(data["y"], dtype=np.int64),
                   X_te.astype(np.float32), np.asarray(data["y_test"], dtype=np.int64),
                   {"seed": seed, "standardise": standardise})


# ------------------------------------------------------------------------------------------
# IDX (MNIST format)

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: not a valid gzip file ({err}).") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTDD (type TT, DD dimensions), big-endian
    uint32 sizes, then the data."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"IDX file not found: {path}")
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (expected the magic bytes 00 00 TT DD with a "
                         "known type TT).")
    ndim = raw[3]
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions).")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    n = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != n:
        raise ValueError(f"{path}: the header announces shape {shape} ({n} bytes) but the file "
                         f"holds {len(body)} bytes of data.")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


_IDX_NAMES = {
    "X_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "X_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def _find(directory: Path, stems: tuple[str, ...]) -> Path:
    for stem in stems:
        for suffix in ("", ".gz"):
            p = directory / (stem + suffix)
            if p.is_file():
                return p
    raise ValueError(f"{directory}: missing MNIST file; expected one of "
                     f"{', '.join(s + '[.gz]' for s in stems)}.")


def load_idx(directory: str | Path, name: str = "mnist", scale: float = 255.0,
             normalise: tuple[float, float] | None = (0.1307, 0.3081)) -> Dataset:
    """MNIST-format files from ``directory``: train/t10k images (idx3) and labels (idx1).

    Images are flattened, divided by ``scale`` and, if ``normalise=(mean, std)`` (default: the
    usual MNIST values, as in the seed paper), standardised.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"The 'directory' parameter of load_idx must be an existing directory. "
                         f"Got {str(directory)!r}.")
    arrays = {}
    for key, stems in _IDX_NAMES.items():
        path = _find(directory, stems)
        a = read_idx(path)
        expect = 3 if key.startswith("X") else 1
        if a.ndim != expect:
            raise ValueError(f"{path}: expected a {expect}-dimensional IDX array, got shape "
                             f"{a.shape}.")
        arrays[key] = a
    for split in ("train", "test"):
        nx, ny = arrays[f"X_{split}"].shape[0], arrays[f"y_{split}"].shape[0]
        if nx != ny:
            raise ValueError(f"{directory}: {split} images ({nx}) and labels ({ny}) differ in "
                             "number.")

    def prep(X: np.ndarray) -> np.ndarray:
        X = X.reshape(X.shape[0], -1).astype(np.float32) / scale
        return (X - normalise[0]) / normalise[1] if normalise else X

    return Dataset(name, prep(arrays["X_train"]), arrays["y_train"].astype(np.int64),
                   prep(arrays["X_test"]), arrays["y_test"].astype(np.int64),
                   {"directory": str(directory), "normalise": normalise})


# ------------------------------------------------------------------------------------------
# CIFAR-10 python batches


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global that :class:`RestrictedUnpickler` does not allow."""


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles only plain data: NumPy arrays (and their dtypes), lists, dicts, strings, bytes
    and numbers. Any other global (a function, a class) is refused, so a pickle carrying code
    cannot run it."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles from Python 3 spell bytes
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise RefusedGlobal(
            f"refused to load {module}.{name}: only plain arrays, lists and dicts are allowed")


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise ValueError(f"CIFAR-10 batch not found: {path} (expected the python-version files "
                         "data_batch_1..5 and test_batch).")
    try:
        obj = RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except RefusedGlobal as err:
        raise ValueError(f"{path}: {err}.") from None
    except Exception as err:  # truncated or garbage file
        raise ValueError(f"{path}: not a readable CIFAR-10 pickle ({type(err).__name__}: "
                         f"{err}).") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a dict with keys b'data' and b'labels'.")
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: expected 'data' as an (n, 3072) uint8 array.")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: expected {data.shape[0]} labels, got shape {labels.shape}.")
    return data, labels.astype(np.int64)


def load_cifar10(directory: str | Path, batches: tuple[int, ...] = (1, 2, 3, 4, 5),
                 normalise: bool = True) -> Dataset:
    """CIFAR-10 python batches from ``directory`` (restricted unpickler, see the module docstring).

    Pixels are scaled to [0, 1] and, with ``normalise``, mapped to [−1, 1] per channel
    ((x − 0.5)/0.5, as in the seed paper).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"The 'directory' parameter of load_cifar10 must be an existing "
                         f"directory. Got {str(directory)!r}.")
    parts = [_load_batch(directory / f"data_batch_{i}") for i in batches]
    X_tr = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y_tr = np.concatenate([p[1] for p in parts])
    X_te, y_te = _load_batch(directory / "test_batch")
    X_te = X_te.astype(np.float32) / 255.0
    if normalise:
        X_tr, X_te = (X_tr - 0.5) / 0.5, (X_te - 0.5) / 0.5
    return Dataset("cifar10", X_tr, y_tr, X_te, y_te,
                   {"directory": str(directory), "batches": list(batches)})
