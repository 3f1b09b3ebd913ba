"""Hostile and mistaken inputs to the empirical module.

Regression tests, one per defect (the test docstrings cite them by these labels): defect 6,
non-integer layer widths were accepted; defect 7, malformed data files and checkpoints were
loaded silently or ended in tracebacks; defect 9, the command lines let tracebacks out. Then a
table of bad inputs across the Python API and the ``empirical`` command: every one is refused
before any work, with :class:`statmech.InvalidParameterError` naming the parameter, or with exit
status 2 and one line on stderr naming the option (never a traceback).
"""

import pickle
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import empirical._checks as checks  # noqa: E402
import empirical.fit as fit  # noqa: E402
from empirical.cli import main  # noqa: E402
from empirical.compare import (  # noqa: E402
    node_count_for_edges,
    real_data_table,
    summarise,
    teacher_student_table,
)
from empirical.data import (  # noqa: E402
    Dataset,
    load_cifar10,
    load_digits,
    load_idx,
    load_mnist1d,
    read_idx,
)
from empirical.fit import evaluate, load_checkpoint, save_checkpoint, train_classifier  # noqa: E402
from empirical.models import MLP, CommitteeMachine, order_parameters  # noqa: E402
from empirical.pruning import measure_loss, prune_committee, prune_mlp  # noqa: E402
from empirical.training import sgd_optimizer, train_online  # noqa: E402
from statmech import InvalidParameterError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "reproduce_real_data.py"

# ------------------------------------------------------------------------------ tiny files

_IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i4"): 0x0C,
              np.dtype(">f4"): 0x0D}


def _idx(a: np.ndarray) -> bytes:
    """An IDX file holding ``a`` (uint8, int8, big-endian int32 or float32)."""
    a = np.asarray(a)
    if a.dtype.kind in "if" and a.dtype.itemsize == 4:
        a = a.astype(a.dtype.newbyteorder(">"))
    return (bytes([0, 0, _IDX_CODES[a.dtype], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
            + a.tobytes())


def _mnist(d: Path, *, train_labels=None, train_images=None, n=5) -> Path:
    """Four MNIST files in ``d`` (n train, 3 test images of 28×28); labels/images overridable."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        if train_images is None else train_images,
        "train-labels-idx1-ubyte": rng.integers(0, 10, n, dtype=np.uint8)
        if train_labels is None else train_labels,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3, dtype=np.uint8),
    }
    for name, a in files.items():
        (d / name).write_bytes(_idx(a))
    return d


def _cifar(d: Path, *, labels=None, n=4) -> Path:
    """CIFAR-10 python batches in ``d``; data_batch_1's labels overridable."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        lab = labels if (labels is not None and name == "data_batch_1") else [
            int(x) for x in rng.integers(0, 10, n)]
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": lab}
        with open(d / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    return d


def _checkpoint(path: Path, **override) -> Path:
    """A checkpoint as save_checkpoint writes it, with entries replaced (or deleted: None)."""
    net = MLP([6, 4, 3], seed=0)
    state = {"state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()},
             "architecture": {"sizes": [6, 4, 3], "activation": "relu", "bias": True},
             "config": {}, "history": {}}
    for key, value in override.items():
        if value is None:
            state.pop(key)
        else:
            state[key] = value
    torch.save(state, path)
    return path


def _toy_data(n_features=6, n=12, labels=None) -> Dataset:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, n) if labels is None else np.asarray(labels)
    return Dataset("toy", rng.standard_normal((n, n_features)).astype(np.float32), y,
                   rng.standard_normal((4, n_features)).astype(np.float32),
                   rng.integers(0, 3, 4))


# ------------------------------------------------------------------- regression tests


def test_loaders_refuse_bad_labels_and_non_finite_inputs(tmp_path):
    """Defect 7: labels < 0 or >= the class count, and NaN/inf images, were loaded silently
    (one CIFAR label of 2**33 then made ``empirical train`` allocate 137 GB)."""
    neg = _mnist(tmp_path / "neg", train_labels=np.array([1, 2, -1, 3, 4], np.int8))
    with pytest.raises(InvalidParameterError, match=r"train-labels-idx1-ubyte.*entry 2 is -1"):
        load_idx(neg)
    big = _mnist(tmp_path / "big", train_labels=np.array([1, 2, 3, 4, 10], np.uint8))
    with pytest.raises(InvalidParameterError, match=r"\[0, 10\).*entry 4 is 10"):
        load_idx(big)
    images = np.zeros((5, 28, 28), np.float32)
    images[3, 7, 9] = np.nan
    nan = _mnist(tmp_path / "nan", train_images=images)
    with pytest.raises(InvalidParameterError,
                       match=r"train-images-idx3-ubyte.*entry \(3, 7, 9\) is nan") as err:
        load_idx(nan)
    assert err.value.param == "directory"
    huge = _cifar(tmp_path / "cifar", labels=[0, 1, 2**33, 3])
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError,
                       match=r"data_batch_1 \(labels\).*entry 2 is 8589934592"):
        load_cifar10(huge)
    assert time.perf_counter() - t0 < 5


def test_a_small_checkpoint_declaring_huge_sizes_is_refused_before_building(tmp_path,
                                                                            monkeypatch):
    """Defect 7: a 1.8 KB checkpoint declaring [20000, 20000, 10] made ``empirical prune``
    allocate 1.9 GB before its sizes were checked."""
    path = _checkpoint(tmp_path / "huge.pt",
                       architecture={"sizes": [20000, 20000, 10], "activation": "relu",
                                     "bias": True})
    assert path.stat().st_size < 4000

    def no_build(*args, **kwargs):
        raise AssertionError("the network was built before the checkpoint was checked")

    monkeypatch.setattr(fit, "MLP", no_build)
    with pytest.raises(InvalidParameterError, match=r"huge\.pt.*\[20000, 20000, 10\]") as err:
        load_checkpoint(path)
    assert err.value.param == "path"


def test_declared_sizes_are_bounded_by_the_available_memory(tmp_path, monkeypatch):
    """Defect 7: total parameters are bounded by an estimate against the available memory."""
    net = MLP([64, 200, 10], seed=0)
    path = save_checkpoint(tmp_path / "m.pt", net)
    monkeypatch.setattr(checks, "available_memory", lambda: 100_000)
    with pytest.raises(InvalidParameterError,
                       match=r"\[64, 200, 10\]: 15,010 parameters, an estimated .* GiB"):
        load_checkpoint(path)
    with pytest.raises(InvalidParameterError, match=r"'sizes' parameter of MLP.*GiB"):
        MLP([64, 20000, 10])


MALFORMED = {
    "list payload": lambda p: torch.save([1, 2, 3], p),
    "tensor payload": lambda p: torch.save(torch.zeros(3), p),
    "missing state_dict": lambda p: _checkpoint(p, state_dict=None),
    "missing architecture": lambda p: _checkpoint(p, architecture=None),
    "extra key": lambda p: torch.save({**torch.load(_checkpoint(p), weights_only=True),
                                       "extra": 1}, p),
    "architecture a list": lambda p: _checkpoint(p, architecture=[6, 4, 3]),
    "architecture extra key": lambda p: _checkpoint(p, architecture={
        "sizes": [6, 4, 3], "activation": "relu", "bias": True, "dropout": 0.5}),
    "sizes a string": lambda p: _checkpoint(p, architecture={
        "sizes": "6,4,3", "activation": "relu", "bias": True}),
    "sizes with a float": lambda p: _checkpoint(p, architecture={
        "sizes": [6, 4.0, 3], "activation": "relu", "bias": True}),
    "sizes with a bool": lambda p: _checkpoint(p, architecture={
        "sizes": [6, True, 3], "activation": "relu", "bias": True}),
    "activation unknown": lambda p: _checkpoint(p, architecture={
        "sizes": [6, 4, 3], "activation": "tanh", "bias": True}),
    "bias an int": lambda p: _checkpoint(p, architecture={
        "sizes": [6, 4, 3], "activation": "relu", "bias": 1}),
    "config a list": lambda p: _checkpoint(p, config=[1]),
    "empty state dict": lambda p: _checkpoint(p, state_dict={}),
    "state dict a list": lambda p: _checkpoint(p, state_dict=[torch.zeros(2)]),
    "wrong weight shape": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(4, 5), "0.bias": torch.zeros(4), "2.weight": torch.zeros(3, 4),
        "2.bias": torch.zeros(3)}),
    "integer weights": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(4, 6, dtype=torch.int64), "0.bias": torch.zeros(4),
        "2.weight": torch.zeros(3, 4), "2.bias": torch.zeros(3)}),
    "mixed dtypes": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(4, 6, dtype=torch.float64), "0.bias": torch.zeros(4),
        "2.weight": torch.zeros(3, 4), "2.bias": torch.zeros(3)}),
    "missing bias": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(4, 6), "2.weight": torch.zeros(3, 4), "2.bias": torch.zeros(3)}),
    "extra tensor": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(4, 6), "0.bias": torch.zeros(4), "2.weight": torch.zeros(3, 4),
        "2.bias": torch.zeros(3), "4.weight": torch.zeros(1)}),
    "a number for a tensor": lambda p: _checkpoint(p, state_dict={
        "0.weight": 1.0, "0.bias": torch.zeros(4), "2.weight": torch.zeros(3, 4),
        "2.bias": torch.zeros(3)}),
    "NaN weights": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.full((4, 6), float("nan")), "0.bias": torch.zeros(4),
        "2.weight": torch.zeros(3, 4), "2.bias": torch.zeros(3)}),
    "expanded (stride 0) weight": lambda p: _checkpoint(p, state_dict={
        "0.weight": torch.zeros(1, 1).expand(4, 6), "0.bias": torch.zeros(4),
        "2.weight": torch.zeros(3, 4), "2.bias": torch.zeros(3)}),
    "garbage bytes": lambda p: p.write_bytes(b"\x80\x02garbage"),
    "empty file": lambda p: p.write_bytes(b""),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_every_malformed_checkpoint_raises_invalid_parameter_error_naming_the_file(tmp_path,
                                                                                  case):
    """Defect 7: crafted checkpoints let AttributeError / StopIteration / RuntimeError escape."""
    path = tmp_path / "bad.pt"
    MALFORMED[case](path)
    with pytest.raises(InvalidParameterError, match="bad.pt") as err:
        load_checkpoint(path)
    assert err.value.param == "path"
    assert "\n" not in str(err.value)


def test_the_restricted_unpickler_still_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Evil()}, f)
    with pytest.raises(InvalidParameterError, match="evil.pt"):
        load_checkpoint(path)


def test_data_and_model_feature_counts_must_match(tmp_path, capsys):
    """Defect 7: a digits model applied to data of another width ended in a torch traceback."""
    net = MLP([64, 8, 10], seed=0).double()
    X40 = np.zeros((5, 40))
    with pytest.raises(InvalidParameterError, match=r"64 features.*Got 40 features"):
        prune_mlp(net, "random_node", keep=2, X=X40)
    with pytest.raises(InvalidParameterError, match=r"64 features.*Got 40 features"):
        evaluate(net, X40, np.zeros(5, dtype=np.int64))
    ck = save_checkpoint(tmp_path / "digits.pt", net, {"data": "digits", "seed": 0})
    mnist = _mnist(tmp_path / "mnist")
    assert main(["prune", str(ck), "--data", f"mnist:{mnist}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data" in err and "784 features" in err and "64" in err


def test_layer_sizes_are_never_coerced():
    """Defect 6: MLP([4, 2.5, 2]) built width 2."""
    with pytest.raises(InvalidParameterError, match=r"'sizes' parameter of MLP.*Entry 1 is 2.5"):
        MLP([4, 2.5, 2])
    with pytest.raises(InvalidParameterError) as err:
        load_digits(seed=-1)
    assert err.value.param == "seed" and "load_digits" in str(err.value)


def test_the_cli_and_the_script_end_in_one_line_and_status_2(tmp_path):
    """Defect 9: the script had no error handler; the CLI let tracebacks out."""
    runs = [
        ([sys.executable, "-m", "empirical.cli", "train", "--epochs", "2.5"], "--epochs"),
        ([sys.executable, str(SCRIPT), "--mnist", str(tmp_path / "nowhere")], "--mnist"),
    ]
    for argv, flag in runs:
        proc = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and flag in proc.stderr, proc.stderr


# ------------------------------------------------------------------- the table of bad inputs

NET = MLP([6, 8, 3], activation="sigmoid", seed=0).double()
X6 = np.random.default_rng(3).standard_normal((20, 6))
CM = CommitteeMachine(10, 3, seed=0)
TEACHER = CommitteeMachine(10, 2, seed=1, train_second_layer=False)
DATA = _toy_data()

# (id, call(tmp_path), parameter named, optional regex the message must match)
API_CASES = [
    # models
    ("MLP float width", lambda t: MLP([4, 2.5, 2]), "sizes", None),
    ("MLP bool width", lambda t: MLP([4, True, 2]), "sizes", None),
    ("MLP zero width", lambda t: MLP([4, 0, 2]), "sizes", None),
    ("MLP one layer", lambda t: MLP([4]), "sizes", None),
    ("MLP sizes a string", lambda t: MLP("4,2"), "sizes", None),
    ("MLP activation", lambda t: MLP([4, 2], activation="tanh"), "activation", None),
    ("MLP init misspelt", lambda t: MLP([4, 2], init="xavir"), "init", None),
    ("MLP bias an int", lambda t: MLP([4, 2], bias=1), "bias", None),
    ("MLP seed -1", lambda t: MLP([4, 2], seed=-1), "seed", None),
    ("MLP unknown keyword", lambda t: MLP([4, 2], activaton="relu"), None, "activaton"),
    ("CommitteeMachine N float", lambda t: CommitteeMachine(10.0, 2), "N", None),
    ("CommitteeMachine K 0", lambda t: CommitteeMachine(10, 0), "K", None),
    ("CommitteeMachine dtype str", lambda t: CommitteeMachine(10, 2, dtype="float64"), "dtype",
     None),
    ("CommitteeMachine device", lambda t: CommitteeMachine(10, 2, device="tpu"), "device", None),
    ("CommitteeMachine W shape", lambda t: CommitteeMachine(10, 2, W=np.zeros((3, 10))), "W",
     None),
    ("order_parameters teacher", lambda t: order_parameters(CM, "teacher"), "teacher", None),
    # data
    ("load_digits seed -1", lambda t: load_digits(seed=-1), "seed", None),
    ("load_digits test_fraction 1", lambda t: load_digits(test_fraction=1.0), "test_fraction",
     None),
    ("load_digits standardise str", lambda t: load_digits(standardise="yes"), "standardise",
     None),
    ("load_mnist1d n_train 0", lambda t: load_mnist1d(n_train=0), "n_train", None),
    ("load_mnist1d seed float", lambda t: load_mnist1d(seed=4.2), "seed", None),
    ("load_idx missing directory", lambda t: load_idx(t / "nowhere"), "directory", None),
    ("load_idx negative label", lambda t: load_idx(_mnist(
        t / "m", train_labels=np.array([0, 1, 2, 3, -7], np.int8))), "directory", "is -7"),
    ("load_idx label 2**31-1", lambda t: load_idx(_mnist(
        t / "m", train_labels=np.array([0, 1, 2**31 - 1, 3, 4], ">i4"))), "directory",
     "is 2147483647"),
    ("load_idx inf image", lambda t: load_idx(_mnist(
        t / "m", train_images=np.full((5, 28, 28), np.inf, np.float32))), "directory",
     "is inf"),
    ("load_idx scale 0", lambda t: load_idx(t, scale=0), "scale", None),
    ("load_idx normalise std 0", lambda t: load_idx(t, normalise=(0.1, 0.0)), "normalise",
     None),
    ("load_idx n_classes 0", lambda t: load_idx(t, n_classes=0), "n_classes", None),
    ("load_cifar10 label 2**33", lambda t: load_cifar10(_cifar(t / "c", labels=[0, 1, 2**33, 3])),
     "directory", "8589934592"),
    ("load_cifar10 label -1", lambda t: load_cifar10(_cifar(t / "c", labels=[0, -1, 2, 3])),
     "directory", "is -1"),
    ("load_cifar10 label 2.5", lambda t: load_cifar10(_cifar(t / "c", labels=[0, 2.5, 2, 3])),
     "directory", "is 2.5"),
    ("load_cifar10 batch 6", lambda t: load_cifar10(t, batches=(1, 6)), "batches", None),
    ("load_cifar10 batches a string", lambda t: load_cifar10(t, batches="12"), "batches", None),
    ("read_idx path an int", lambda t: read_idx(3), "path", None),
    # training
    ("train epochs 2.5", lambda t: train_classifier(NET, DATA, epochs=2.5), "epochs", None),
    ("train epochs True", lambda t: train_classifier(NET, DATA, epochs=True), "epochs", None),
    ("train batch_size 0", lambda t: train_classifier(NET, DATA, batch_size=0), "batch_size",
     None),
    ("train lr 0", lambda t: train_classifier(NET, DATA, lr=0.0), "lr", None),
    ("train lr inf", lambda t: train_classifier(NET, DATA, lr=float("inf")), "lr", None),
    ("train momentum -0.1", lambda t: train_classifier(NET, DATA, momentum=-0.1), "momentum",
     None),
    ("train optimizer 'Adam'", lambda t: train_classifier(NET, DATA, optimizer="Adam"),
     "optimizer", None),
    ("train seed -1", lambda t: train_classifier(NET, DATA, seed=-1), "seed", None),
    ("train device", lambda t: train_classifier(NET, DATA, device="gpu"), "device", None),
    ("train stop accuracy 0", lambda t: train_classifier(NET, DATA, stop_at_train_accuracy=0),
     "stop_at_train_accuracy", None),
    ("train data not a Dataset", lambda t: train_classifier(NET, (X6, None)), "data", None),
    ("train feature mismatch", lambda t: train_classifier(NET, _toy_data(n_features=5)), "data",
     r"6 \(the first entry"),
    ("train negative label", lambda t: train_classifier(NET, _toy_data(
        labels=[0, 1, 2, -1] * 3)), "data", "is -1"),
    ("train label >= outputs", lambda t: train_classifier(NET, _toy_data(
        labels=[0, 1, 2, 3] * 3)), "data", "is 3"),
    ("train misspelt keyword", lambda t: train_classifier(NET, DATA, epoch=3), None, "epoch"),
    ("evaluate X width", lambda t: evaluate(NET, np.zeros((3, 5)), np.zeros(3, int)), "X", None),
    ("evaluate y length", lambda t: evaluate(NET, X6, np.zeros(3, int)), "y", None),
    ("save_checkpoint model", lambda t: save_checkpoint(t / "m.pt", CM), "model", None),
    ("load_checkpoint missing", lambda t: load_checkpoint(t / "missing.pt"), "path", None),
    ("load_checkpoint device", lambda t: load_checkpoint(t / "m.pt", device="gpu"), "device",
     None),
    ("sgd_optimizer eta -1", lambda t: sgd_optimizer(CM, -1.0), "eta", None),
    ("train_online steps -1", lambda t: train_online(CM, TEACHER, eta=0.5, steps=-1), "steps",
     None),
    ("train_online batch 0", lambda t: train_online(CM, TEACHER, eta=0.5, steps=1,
                                                    batch_size=0), "batch_size", None),
    # pruning
    ("prune method misspelt", lambda t: prune_mlp(NET, "dpp_nod", keep=2, X=X6), "method", None),
    ("prune keep 2.5", lambda t: prune_mlp(NET, "random_node", keep=2.5, X=X6), "keep", None),
    ("prune keep True", lambda t: prune_mlp(NET, "random_node", keep=True, X=X6), "keep", None),
    ("prune keep 9 of 8 units", lambda t: prune_mlp(NET, "random_node", keep=9, X=X6), "keep",
     None),
    ("prune keep 7 of 6 edges", lambda t: prune_mlp(NET, "random_edge", keep=7, X=X6), "keep",
     None),
    ("prune layer 1", lambda t: prune_mlp(NET, "random_node", keep=2, X=X6, layer=1), "layer",
     None),
    ("prune fold", lambda t: prune_mlp(NET, "random_node", keep=2, X=X6, fold="avg"), "fold",
     None),
    ("prune reweight", lambda t: prune_mlp(NET, "random_node", keep=2, X=X6, reweight="act"),
     "reweight", None),
    ("prune seed -1", lambda t: prune_mlp(NET, "random_node", keep=2, X=X6, seed=-1), "seed",
     None),
    ("prune variant", lambda t: prune_mlp(NET, "random_node", keep=2, X=X6, variant="zz"),
     "variant", None),
    ("prune misspelt option", lambda t: prune_mlp(NET, "dpp_node", keep=2, X=X6, kernal="rbf"),
     "kernal", None),
    ("prune X NaN", lambda t: prune_mlp(NET, "random_node", keep=2, X=np.full((4, 6), np.nan)),
     "X", None),
    ("prune X width", lambda t: prune_mlp(NET, "random_node", keep=2, X=np.zeros((4, 7))), "X",
     "6 features"),
    ("prune_committee member", lambda t: prune_committee(CM, "random_node", keep=1, member=1),
     "member", None),
    ("prune_committee n_masks 0", lambda t: prune_committee(CM, "random_node", keep=1,
                                                            n_masks=0), "n_masks", None),
    ("measure_loss n_samples 0", lambda t: measure_loss(CM, TEACHER, n_samples=0), "n_samples",
     None),
    ("measure_loss teacher N", lambda t: measure_loss(CM, CommitteeMachine(11, 2)), "teacher",
     None),
    # comparisons
    ("real_data fractions 1.5", lambda t: real_data_table(fractions=(1.5,)), "fractions", None),
    ("real_data methods", lambda t: real_data_table(methods=("lottery",)), "methods", None),
    ("real_data seeds -1", lambda t: real_data_table(seeds=(-1,)), "seeds", None),
    ("real_data hidden 2.5", lambda t: real_data_table(hidden=(2.5,)), "hidden", None),
    ("real_data epochs 0", lambda t: real_data_table(epochs=0), "epochs", None),
    ("real_data lr nan", lambda t: real_data_table(lr=float("nan")), "lr", None),
    ("real_data layer 1", lambda t: real_data_table(layer=1), "layer", None),
    ("real_data data name", lambda t: real_data_table("imagenet"), "data", None),
    ("real_data reweight", lambda t: real_data_table(reweight=("yes",)), "reweight", None),
    ("real_data node_levels", lambda t: real_data_table(node_levels="frac"), "node_levels",
     None),
    ("real_data train_options typo", lambda t: real_data_table(
        train_options={"momentun": 0.9}), "momentun", None),
    ("real_data train_options value", lambda t: real_data_table(
        train_options={"momentum": -1.0}), "momentum", None),
    ("teacher_student N 0", lambda t: teacher_student_table(N=0), "N", None),
    ("teacher_student levels > K", lambda t: teacher_student_table(K=6, levels=(7,)), "levels",
     None),
    ("teacher_student methods str", lambda t: teacher_student_table(methods="dpp_node"),
     "methods", None),
    ("teacher_student seeds -1", lambda t: teacher_student_table(seeds=(-1,)), "seeds", None),
    ("summarise not a table", lambda t: summarise("table"), "table", None),
    ("node_count_for_edges H 0", lambda t: node_count_for_edges(1, 0, 4, 2), "H", None),
]


@pytest.mark.parametrize("call, param, pattern", [c[1:] for c in API_CASES],
                         ids=[c[0] for c in API_CASES])
def test_bad_api_inputs_are_refused_naming_the_parameter(tmp_path, call, param, pattern):
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError) as err:
        call(tmp_path)
    assert time.perf_counter() - t0 < 5  # refused before any work
    message = str(err.value)
    if param is not None:
        assert err.value.param == param, message
    if pattern is None:  # the standard message names the parameter
        assert repr(param) in message, message
    else:  # file contents: the message names the file, the value and its index
        assert re.search(pattern, message), message


def _prepare_cli(t: Path) -> dict[str, str]:
    """A file where a directory is expected, MNIST files with a label of 2**31 - 1."""
    (t / "file.txt").write_text("x")
    bad = _mnist(t / "badmnist", train_labels=np.array([0, 1, 2**31 - 1, 3, 4], ">i4"))
    return {"FILE": str(t / "file.txt"), "BADMNIST": str(bad), "T": str(t)}


# (id, argv with placeholders, the option the message must name)
CLI_CASES = [
    ("train epochs float", ["train", "--epochs", "2.5"], "--epochs must be an int >= 1; got 2.5"),
    ("train epochs 0", ["train", "--epochs", "0"], "--epochs"),
    ("train epochs text", ["train", "--epochs", "many"], "--epochs"),
    ("train batch size", ["train", "--batch-size", "-3"], "--batch-size"),
    ("train lr 0", ["train", "--lr", "0"], "--lr"),
    ("train lr nan", ["train", "--lr", "nan"], "--lr"),
    ("train momentum", ["train", "--momentum", "-1"], "--momentum"),
    ("train seed -1", ["train", "--seed", "-1"], "--seed must be an int >= 0; got -1"),
    ("train hidden 0", ["train", "--hidden", "0"], "--hidden"),
    ("train hidden float", ["train", "--hidden", "4", "2.5"], "--hidden"),
    ("train stop accuracy", ["train", "--stop-at-train-accuracy", "1.5"],
     "--stop-at-train-accuracy"),
    ("train device", ["train", "--device", "tpu"], "--device"),
    ("train activation", ["train", "--activation", "tanh"], "--activation"),
    ("train misspelt option", ["train", "--optimzer", "sgd"], "--optimzer"),
    ("train data spec", ["train", "--data", "imagenet"], "--data"),
    ("train data missing dir", ["train", "--data", "mnist:{T}/nowhere"], "--data"),
    ("train data bad label", ["train", "--data", "mnist:{BADMNIST}"], "--data"),
    ("train output under a file", ["train", "--output", "{FILE}/m.pt"], "--output"),
    ("prune missing checkpoint", ["prune", "{T}/missing.pt"], "checkpoint"),
    ("prune malformed checkpoint", ["prune", "{FILE}"], "checkpoint"),
    ("prune keep 0", ["prune", "{T}/missing.pt", "--keep", "0"], "--keep"),
    ("prune keep text", ["prune", "{T}/missing.pt", "--keep", "half"], "--keep"),
    ("prune layer -1", ["prune", "{T}/missing.pt", "--layer", "-1"], "--layer"),
    ("prune seed", ["prune", "{T}/missing.pt", "--seed", "1.5"], "--seed"),
    ("prune method", ["prune", "{T}/missing.pt", "--method", "lottery"], "--method"),
    ("prune fold", ["prune", "{T}/missing.pt", "--fold", "avg"], "--fold"),
    ("prune output under a file", ["prune", "{T}/missing.pt", "--output", "{FILE}/p.pt"],
     "--output"),
    ("compare seeds", ["compare", "--seeds", "0", "-1"], "--seeds"),
    ("compare methods", ["compare", "--methods", "lottery"], "--methods"),
    ("compare finetune", ["compare", "--finetune-epochs", "-1"], "--finetune-epochs"),
    ("compare ts-N", ["compare", "--skip-real-data", "--ts-N", "0"], "--ts-N"),
    ("compare ts-seeds", ["compare", "--skip-real-data", "--ts-seeds", "0"], "--ts-seeds"),
    ("compare output dir a file", ["compare", "--output-dir", "{FILE}"], "--output-dir"),
    ("compare data", ["compare", "--data", "mnist"], "--data"),
]


@pytest.mark.parametrize("argv, flag", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_bad_cli_inputs_exit_2_with_one_line_naming_the_option(tmp_path, capsys, argv, flag):
    subs = _prepare_cli(tmp_path)
    argv = [a.format(**subs) for a in argv]
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 10
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "error:" in err and flag in err, err
    assert "Traceback" not in err
    assert not any(p.suffix in (".pt", ".csv") for p in tmp_path.rglob("*"))  # no work done


SCRIPT_CASES = [
    ("no source", [], "--mnist"),
    ("missing directory", ["--mnist", "{T}/nowhere"], "--mnist"),
    ("cifar dir without batches", ["--cifar10", "{T}"], "--cifar10"),
    ("bad label file", ["--mnist", "{BADMNIST}"], "--mnist"),
    ("seeds -1", ["--mnist", "{T}", "--seeds", "-1"], "--seeds"),
    ("methods", ["--mnist", "{T}", "--methods", "lottery"], "--methods"),
    ("fractions 0", ["--mnist", "{T}", "--fractions", "0"], "--fractions"),
    ("epochs 0", ["--mnist", "{T}", "--epochs", "0"], "--epochs"),
    ("hidden float", ["--mnist", "{T}", "--hidden", "2.5"], "--hidden"),
    ("beta -1", ["--mnist", "{T}", "--beta", "-1"], "--beta"),
    ("output dir a file", ["--mnist", "{T}", "--output-dir", "{FILE}"], "--output-dir"),
    ("unknown option", ["--mnist", "{T}", "--sedes", "1"], "--sedes"),
]


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("reproduce_real_data", "reproduce_real_data_hardening")


@pytest.mark.parametrize("argv, flag", [c[1:] for c in SCRIPT_CASES],
                         ids=[c[0] for c in SCRIPT_CASES])
def test_bad_script_inputs_exit_2_with_one_line_naming_the_option(tmp_path, capsys, script, argv,
                                                                   flag):
    subs = _prepare_cli(tmp_path)
    assert script.main([a.format(**subs) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err and "Traceback" not in err, err
