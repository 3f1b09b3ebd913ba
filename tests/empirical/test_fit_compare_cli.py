"""Training on real data, checkpoints, the real-data comparison and the ``empirical`` CLI."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from empirical import MLP, load_digits  # noqa: E402
from empirical.cli import main  # noqa: E402
from empirical.compare import node_count_for_edges, real_data_table, summarise  # noqa: E402
from empirical.fit import (  # noqa: E402
    evaluate,
    load_checkpoint,
    save_checkpoint,
    train_classifier,
)
from empirical.pruning import prune_mlp  # noqa: E402

DIGITS = load_digits()


def _trained(seed=0, epochs=15):
    net = MLP([64, 24, 10], activation="sigmoid", init="xavier", seed=seed).double()
    hist = train_classifier(net, DIGITS, epochs=epochs, seed=seed, progress=False)
    return net, hist


def test_training_learns_is_seeded_and_checkpoints_round_trip(tmp_path):
    net, hist = _trained()
    assert hist["test_error"][-1] < 0.3 and hist["test_error"][-1] < hist["test_error"][0]
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    again, _ = _trained()
    for a, b in zip(net.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other, _ = _trained(seed=1)
    assert not torch.equal(net[0].weight, other[0].weight)
    path = save_checkpoint(tmp_path / "m.pt", net, {"note": "x"}, hist)
    assert json.loads((tmp_path / "m.pt.config.json").read_text())["config"] == {"note": "x"}
    loaded, record = load_checkpoint(path)
    x = torch.as_tensor(DIGITS.X_test).double()
    torch.testing.assert_close(loaded(x), net(x))
    assert record["history"]["test_error"] == hist["test_error"]


def test_checkpoint_of_an_edge_pruned_network_and_bad_files(tmp_path):
    net, _ = _trained(epochs=2)
    pruned, _ = prune_mlp(net, "random_edge", keep=10, X=DIGITS.X_train, seed=0)
    save_checkpoint(tmp_path / "p.pt", pruned)
    loaded, _ = load_checkpoint(tmp_path / "p.pt")
    x = torch.as_tensor(DIGITS.X_test).double()
    torch.testing.assert_close(loaded(x), pruned(x))
    assert int((loaded[0].weight != 0).sum(1).max()) == 10
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="must be an existing checkpoint file"):
        load_checkpoint(tmp_path / "missing.pt")


def test_training_errors_are_clear():
    net = MLP([64, 8, 10])
    for kw, name in [({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"),
                     ({"optimizer": "lbfgs"}, "optimizer"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=f"'{name}' parameter of train_classifier"):
            train_classifier(net, DIGITS, **kw)
    with pytest.raises(ValueError, match="features"):
        train_classifier(MLP([10, 8, 10]), DIGITS)
    with pytest.raises(ValueError, match="diverged"):
        train_classifier(MLP([64, 8, 10], activation="relu", seed=0), DIGITS, optimizer="sgd",
                         lr=1e12, momentum=0.0, epochs=3, progress=False)


def test_real_data_table_levels_counts_and_reweighting():
    table = real_data_table(DIGITS, hidden=(24,), seeds=(0, 1), epochs=8, fractions=(0.1, 0.5),
                            methods=("random_edge", "random_node", "spectral_node"),
                            progress=False)
    D, H, C = 64, 24, 10
    total = D * H + H + H * C + C
    assert set(table.params_total) == {total}
    edge = table[table.method == "random_edge"]
    e = np.ceil(edge.fraction * D).astype(int)
    np.testing.assert_array_equal(edge.keep, e)
    np.testing.assert_array_equal(edge.params_kept, total - H * (D - e))
    node = table[table.method == "random_node"]
    np.testing.assert_array_equal(node.params_kept, total - (H - node.keep) * (D + 1 + C))
    for p in (0.1, 0.5):  # parameter-matched within one unit's parameters
        a = edge[edge.fraction == p].params_kept.iloc[0]
        b = node[node.fraction == p].params_kept.iloc[0]
        assert abs(a - b) <= (D + 1 + C) / 2
    assert not table[(table.method == "spectral_node") & table.reweight].shape[0]
    s = summarise(table)
    assert set(s.test_error_count) == {2}
    rn = s[(s.method == "random_node") & (s.fraction == 0.1)].set_index("reweight")
    assert rn.test_error_mean[True] < rn.test_error_mean[False]
    base = table[table.method == "unpruned"]
    assert len(base) == 2 and (base.params_kept_pct == 100).all()
    assert node_count_for_edges(64, H, D, C) == H
    with pytest.raises(ValueError, match="'fractions'"):
        real_data_table(DIGITS, fractions=(1.5,))
    with pytest.raises(ValueError, match="'data'"):
        real_data_table("imagenet")


def test_cli_train_prune_compare(tmp_path, capsys):
    ck = tmp_path / "model.pt"
    assert main(["train", "--hidden", "16", "--epochs", "3", "--output", str(ck)]) == 0
    assert ck.exists() and (tmp_path / "model.pt.config.json").exists()
    out = tmp_path / "pruned.pt"
    assert main(["prune", str(ck), "--method", "dpp_node", "--keep", "8", "--reweight",
                 "--output", str(out)]) == 0
    assert "dpp_node (keep 8 + rwt)" in capsys.readouterr().out
    net, record = load_checkpoint(out)
    assert net.sizes == [64, 8, 10] and record["config"]["pruned"]["method"] == "dpp_node"
    assert evaluate(net, DIGITS.X_test, DIGITS.y_test)["error"] < 0.9
    cdir = tmp_path / "cmp"
    assert main(["compare", "--seeds", "0", "--methods", "random_edge", "random_node",
                 "--ts-N", "40", "--ts-seeds", "1", "--output-dir", str(cdir), "--quiet",
                 "--finetune-epochs", "1"]) == 0
    for name in ("real_data.csv", "real_data_summary.csv", "teacher_student.csv",
                 "config.json", "real_data.png", "real_data.pdf", "teacher_student.png"):
        assert (cdir / name).exists(), name
    import pandas as pd

    real = pd.read_csv(cdir / "real_data.csv")
    assert real.test_error_finetuned.notna().all()
    cfg = json.loads((cdir / "config.json").read_text())
    assert cfg["teacher_student"]["N"] == 40 and "timings" in cfg
    assert main(["train", "--data", "nope"]) == 2
    assert "--data must be 'digits'" in capsys.readouterr().err
