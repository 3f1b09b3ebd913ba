"""Real data for the empirical module, all offline: nothing is ever downloaded.

* :func:`load_digits` — scikit-learn's bundled 8×8 digits (1797 × 64).
* :func:`load_mnist1d` — MNIST-1D generated locally by the ``mnist1d`` package's generator
  (``make_dataset``; never its download function). The generator reseeds NumPy's and Python's
  global random states; they are saved and restored around the call.
* :func:`load_idx` — MNIST-format IDX files (gzipped or not) from a directory the user names.
* :func:`load_cifar10` — CIFAR-10 "python version" batches from a directory the user names, read by
  a restricted unpickler that accepts only plain arrays, lists, dicts, strings and numbers.

Every loader returns a :class:`Dataset` of float32 inputs and int64 labels (NumPy; ``.to_torch()``
moves them). Parameters are declared (:func:`statmech._validation.validate_params`). Missing or
malformed files — and files whose labels are negative, not integers or not below the class
count, or whose inputs are NaN or infinite — raise :class:`statmech.InvalidParameterError` (a
``ValueError``) naming the file, and for bad entries the offending value and its index.
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

from statmech._validation import (
    Boolean,
    InstanceOf,
    Integer,
    InvalidParameterError,
    Real,
    validate_params,
)

from ._checks import PATH, check_sequence

__all__ = ["Dataset", "load_digits", "load_mnist1d", "load_idx", "load_cifar10", "read_idx",
           "RestrictedUnpickler", "RefusedGlobal", "check_labels", "check_finite"]


@dataclass(frozen=True)
class Dataset:
    """A train/test split: inputs (n, d) float32, labels (n,) int64."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    meta: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.X_train.shape[0]}, "
                f"test={self.X_test.shape[0]}, features={self.n_features}, "
                f"classes={self.n_classes})")

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


def _bad_entries(path_or_name: Any, func: str, param: str, what: str, allowed: str,
                 arr: np.ndarray, bad: np.ndarray) -> InvalidParameterError:
    """The error for the first offending entry of ``arr`` (``bad`` marks them)."""
    flat = np.flatnonzero(bad.ravel())
    index = np.unravel_index(int(flat[0]), arr.shape)
    index = int(index[0]) if len(index) == 1 else tuple(int(i) for i in index)
    value = arr[index].item() if hasattr(arr[index], "item") else arr[index]
    return InvalidParameterError(
        f"{path_or_name}: {what} must be {allowed}; entry {index} is {value!r} "
        f"({flat.size} bad entr{'y' if flat.size == 1 else 'ies'} in all).",
        func=func, param=param, allowed=f"{what} {allowed}",
        value=f"{value!r} at index {index} of {path_or_name}")


def check_labels(y: Any, n_classes: int, where: Any, func: str,
                 param: str = "directory") -> np.ndarray:
    """Labels as int64, refusing non-integer, negative or out-of-range (>= ``n_classes``) ones
    with an error naming ``where`` (the file or array), the value and its index."""
    arr = np.asarray(y)
    allowed = f"integers in [0, {n_classes})"
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise InvalidParameterError(
            f"{where}: labels must be a 1-D array of {allowed}; got dtype {arr.dtype} and "
            f"shape {arr.shape}.", func=func, param=param, allowed=f"labels {allowed}",
            value=f"dtype {arr.dtype}, shape {arr.shape} in {where}")
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise _bad_entries(where, func, param, "labels", allowed, arr, bad)
    with np.errstate(invalid="ignore"):
        bad = (arr < 0) | (arr >= n_classes)
    if bad.any():
        raise _bad_entries(where, func, param, "labels", allowed, arr, bad)
    return arr.astype(np.int64)


def check_finite(X: Any, where: Any, func: str, param: str = "directory") -> np.ndarray:
    """Refuse NaN or infinite inputs with an error naming ``where``, the value and its index."""
    arr = np.asarray(X)
    if arr.dtype.kind == "f" or arr.dtype.kind == "c":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise _bad_entries(where, func, param, "inputs", "finite numbers", arr, bad)
    return arr


def _split(X: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    te, tr = order[:n_test], order[n_test:]
    return X[tr], y[tr], X[te], y[te]


def _standardise(X_train: np.ndarray, X_test: np.ndarray):
    mu = X_train.mean(0)
    sd = X_train.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    return (X_train - mu) / sd, (X_test - mu) / sd


@validate_params({"test_fraction": [Real(0.0, 1.0, "neither")], "seed": [Integer(0, 2**32 - 1)],
                  "standardise": [Boolean()]}, func_name="load_digits")
def load_digits(test_fraction: float = 0.25, seed: int = 0,
                standardise: bool = True) -> Dataset:
    """scikit-learn's bundled digits (8×8 images, 10 classes), split at random.

    Parameters
    ----------
    test_fraction : float
        Share of the 1797 images held out (default 0.25, i.e. 449 test images), in (0, 1).
    seed : int
        Seed of the split (>= 0).
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


@validate_params({"n_train": [Integer(1, 10**7)], "n_test": [Integer(1, 10**7)],
                  "seed": [Integer(0, 2**32 - 1)], "standardise": [Boolean()]},
                 func_name="load_mnist1d")
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


def _file_error(path: Any, message: str, func: str, param: str) -> InvalidParameterError:
    return InvalidParameterError(f"{path}: {message}", func=func, param=param,
                                 allowed="a readable data file", value=str(path))


def _read_bytes(path: Path, func: str = "read_idx", param: str = "path") -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise _file_error(path, f"cannot be read ({err.strerror or err}).", func,
                          param) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, gzip.BadGzipFile) as err:
            raise _file_error(path, f"not a valid gzip file ({err}).", func, param) from None
    return raw


@validate_params({"path": PATH}, func_name="read_idx")
def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTDD (type TT, DD dimensions), big-endian
    uint32 sizes, then the data."""
    return _read_idx(Path(path), "read_idx", "path")


def _read_idx(path: Path, _func: str, _param: str) -> np.ndarray:
    if not path.is_file():
        raise _file_error(path, "IDX file not found.", _func, _param)
    raw = _read_bytes(path, _func, _param)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise _file_error(path, "not an IDX file (expected the magic bytes 00 00 TT DD with a "
                          "known type TT).", _func, _param)
    ndim = raw[3]
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise _file_error(path, f"truncated IDX header ({ndim} dimensions).", _func, _param)
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    n = int(np.prod(shape, dtype=object)) * dtype.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != n:
        raise _file_error(path, f"the header announces shape {shape} ({n} bytes) but the file "
                          f"holds {len(body)} bytes of data.", _func, _param)
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
    raise _file_error(directory, f"missing MNIST file; expected one of "
                      f"{', '.join(s + '[.gz]' for s in stems)}.", "load_idx", "directory")


def _directory(directory: Any, func: str) -> Path:
    path = Path(directory)
    if not path.is_dir():
        raise InvalidParameterError.build(func, "directory", "an existing directory",
                                          str(path))
    return path


@validate_params({"directory": PATH, "name": [InstanceOf(str, "a str")],
                  "scale": [Real(0.0, closed="neither")],
                  "normalise": [None, InstanceOf((tuple, list), "a (mean, std) pair")],
                  "n_classes": [Integer(1, 2**31)]}, func_name="load_idx")
def load_idx(directory: str | Path, name: str = "mnist", scale: float = 255.0,
             normalise: tuple[float, float] | None = (0.1307, 0.3081),
             n_classes: int = 10) -> Dataset:
    """MNIST-format files from ``directory``: train/t10k images (idx3) and labels (idx1).

    Images are flattened, divided by ``scale`` and, if ``normalise=(mean, std)`` (default: the
    usual MNIST values, as in the seed paper), standardised. Labels must be integers in
    [0, ``n_classes``) (10 for MNIST and Fashion-MNIST) and images finite.
    """
    func = "load_idx"
    if normalise is not None:
        check_sequence(normalise, "normalise", func, [Real()])
        if len(normalise) != 2 or not normalise[1] > 0:
            raise InvalidParameterError.build(func, "normalise",
                                              "None or a (mean, std) pair with std > 0",
                                              normalise)
    directory = _directory(directory, func)
    arrays = {}
    for key, stems in _IDX_NAMES.items():
        path = _find(directory, stems)
        a = _read_idx(path, func, "directory")
        expect = 3 if key.startswith("X") else 1
        if a.ndim != expect:
            raise _file_error(path, f"expected a {expect}-dimensional IDX array, got shape "
                              f"{a.shape}.", func, "directory")
        if key.startswith("X"):
            check_finite(a, path, func)
        else:
            a = check_labels(a, n_classes, path, func)
        arrays[key] = a
    for split in ("train", "test"):
        nx, ny = arrays[f"X_{split}"].shape[0], arrays[f"y_{split}"].shape[0]
        if nx != ny:
            raise _file_error(directory, f"{split} images ({nx}) and labels ({ny}) differ in "
                              "number.", func, "directory")

    def prep(X: np.ndarray) -> np.ndarray:
        X = X.reshape(X.shape[0], -1).astype(np.float32) / scale
        return (X - normalise[0]) / normalise[1] if normalise else X

    return Dataset(name, prep(arrays["X_train"]), arrays["y_train"],
                   prep(arrays["X_test"]), arrays["y_test"],
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


CIFAR_CLASSES = 10


def _load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    func, param = "load_cifar10", "directory"
    if not path.is_file():
        raise _file_error(path, "CIFAR-10 batch not found (expected the python-version "
                          "files data_batch_1..5 and test_batch).", func, param)
    try:
        obj = RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except RefusedGlobal as err:
        raise _file_error(path, f"{err}.", func, param) from None
    except Exception as err:  # noqa: BLE001 - truncated or garbage file
        raise _file_error(path, f"not a readable CIFAR-10 pickle ({type(err).__name__}: "
                          f"{err}).", func, param) from None
    if not isinstance(obj, dict):
        raise _file_error(path, "expected a dict with keys b'data' and b'labels'.", func, param)
    data = obj.get(b"data", obj.get("data"))
    labels = obj.get(b"labels", obj.get("labels"))
    if (not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3072
            or data.dtype.kind not in "iuf"):
        raise _file_error(path, "expected 'data' as an (n, 3072) uint8 array.", func, param)
    check_finite(data, f"{path} (data)", func)
    if not isinstance(labels, list | tuple | np.ndarray):
        raise _file_error(path, f"expected 'labels' as a list of {data.shape[0]} ints, got "
                          f"{type(labels).__name__}.", func, param)
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError, OverflowError) as err:
        raise _file_error(path, f"unreadable 'labels' ({err}).", func, param) from None
    if labels.dtype == object:  # e.g. ints beyond 64 bits, or mixed types
        raise _file_error(path, "'labels' must be small integers (found values that are not).",
                          func, param)
    if labels.shape != (data.shape[0],):
        raise _file_error(path, f"expected {data.shape[0]} labels, got shape {labels.shape}.",
                          func, param)
    return data, check_labels(labels, CIFAR_CLASSES, f"{path} (labels)", func)


@validate_params({"directory": PATH, "batches": [InstanceOf((tuple, list), "a list of batch "
                                                            "numbers in 1..5")],
                  "normalise": [Boolean()]}, func_name="load_cifar10")
def load_cifar10(directory: str | Path, batches: tuple[int, ...] = (1, 2, 3, 4, 5),
                 normalise: bool = True) -> Dataset:
    """CIFAR-10 python batches from ``directory`` (restricted unpickler, see the module docstring).

    Pixels are scaled to [0, 1] and, with ``normalise``, mapped to [−1, 1] per channel
    ((x − 0.5)/0.5, as in the seed paper). Labels must be integers in [0, 10) and pixels finite.
    """
    batches = check_sequence(batches, "batches", "load_cifar10", [Integer(1, 5)], unique=True)
    directory = _directory(directory, "load_cifar10")
    parts = [_load_batch(directory / f"data_batch_{i}") for i in batches]
    X_tr = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y_tr = np.concatenate([p[1] for p in parts])
    X_te, y_te = _load_batch(directory / "test_batch")
    X_te = X_te.astype(np.float32) / 255.0
    if normalise:
        X_tr, X_te = (X_tr - 0.5) / 0.5, (X_te - 0.5) / 0.5
    return Dataset("cifar10", X_tr, y_tr, X_te, y_te,
                   {"directory": str(directory), "batches": list(batches)})
