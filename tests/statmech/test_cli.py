"""The ``statmech`` command line."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from statmech.cli.app import build_parser, main


def test_ode_default_run_writes_table_and_figure(tmp_path):
    assert main(["ode", "--output-dir", str(tmp_path), "--n-alpha", "40"]) == 0
    df = pd.read_csv(tmp_path / "ode.csv")
    assert len(df) == 40 and df["eta"].eq(0.5).all()
    assert df["eg"].iloc[-1] < 1e-6  # the default K = M = 2 run learns the teacher by α = 1000
    assert (tmp_path / "eg.png").stat().st_size > 0
    assert (tmp_path / "eg.pdf").stat().st_size > 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["K"] == 2 and config["M"] == 2


def test_ode_sweep_over_learning_rates(tmp_path):
    args = ["ode", "--eta", "0.2", "0.8", "--K", "3", "--M", "2", "--alpha-max", "10",
            "--n-alpha", "5", "--no-plot", "--output-dir", str(tmp_path)]
    assert main(args) == 0
    df = pd.read_csv(tmp_path / "ode.csv")
    assert sorted(df["eta"].unique()) == [0.2, 0.8]
    assert not (tmp_path / "eg.png").exists()


def test_ode_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["ode", "--eta", "-1", "--output-dir", str(tmp_path)]) == 2
    assert "--eta must be" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ode", "--method", "Euler"])


def test_help_documents_every_option():
    text = build_parser()._subparsers._group_actions[0].choices["ode"].format_help()
    for option in ("--K", "--M", "--eta", "--eta-v", "--noise", "--weight-decay", "--batch-size",
                   "--activation", "--train-second-layer", "--alpha-max", "--method", "--rtol",
                   "--atol", "--on-divergence", "--output-dir", "--seed", "--N"):
        assert option in text


def test_console_module_runs():
    out = subprocess.run([sys.executable, "-m", "statmech.cli", "--help"], capture_output=True,
                         text=True, check=True)
    assert "ode" in out.stdout


@pytest.mark.parametrize("method", ["full", "reduced"])
def test_simulate_writes_table_ensemble_and_figure(tmp_path, method):
    args = ["simulate", "--N", "60", "--ensemble", "3", "--alpha-max", "2", "--n-alpha", "8",
            "--method", method, "--output-dir", str(tmp_path), "--quiet"]
    assert main(args) == 0
    df = pd.read_csv(tmp_path / "simulate.csv")
    assert set(df["member"]) == {0, 1, 2} and {"alpha", "eg", "eg_ode", "Q_0_0"} <= set(df)
    assert (tmp_path / "eg.png").stat().st_size > 0 and (tmp_path / "eg.pdf").exists()
    from statmech import Ensemble

    ens = Ensemble.load(tmp_path / "ensemble.npz")
    assert ens.E == 3 and ens.params["method"] == method
    # the ODE column starts at each member's own initial ε_g
    first = df[df["alpha"] == 0]
    assert (first["eg"] - first["eg_ode"]).abs().max() < 1e-12


def test_simulate_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main(["simulate", "--N", "3", "--output-dir", str(tmp_path), "--quiet"]) == 2
    assert "--N must be" in capsys.readouterr().err
    assert main(["simulate", "--backend", "jax", "--output-dir", str(tmp_path)]) == 2
    assert "--backend must be" in capsys.readouterr().err


def test_simulate_help_documents_every_option():
    text = build_parser()._subparsers._group_actions[0].choices["simulate"].format_help()
    for option in ("--N", "--K", "--M", "--eta", "--ensemble", "--method", "--backend",
                   "--dtype", "--seed", "--noise", "--batch-size", "--alpha-max",
                   "--output-dir", "--on-divergence"):
        assert option in text


def test_prune_writes_validation_summary_and_claims(tmp_path):
    args = ["prune", "--N", "60", "--students", "2", "--masks", "5", "--alpha", "20",
            "--noise", "0", "--levels", "1", "3", "--methods", "random_edge", "dpp_edge",
            "random_node", "--output-dir", str(tmp_path), "--quiet"]
    assert main(args) == 0
    df = pd.read_csv(tmp_path / "validation.csv")
    assert set(df["method"]) == {"random_edge", "dpp_edge", "random_node"}
    assert len(df) == 2 * 3 * 2
    edges = df[df["method"] == "random_edge"]["keep"].unique()
    assert sorted(edges) == [10, 30]  # ceil((k·61 − 6)/6) for k = 1, 3
    claims = pd.read_csv(tmp_path / "claims.csv")
    assert set(claims["verdict"]) <= {"supported", "contradicted", "inconclusive"}
    assert (tmp_path / "summary.csv").exists()
