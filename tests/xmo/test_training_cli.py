"""``xmo train``, ``xmo models`` and ``xmo promote`` on the command line; errors are one line on stderr, and
MLflow's own chatter never reaches the output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import get_settings
from features.dataset import build_dataset
from tracking.compactor import compact_all
from xmo.cli import main
from xmo.simulator.cli import run_simulation

MLFLOW_CHATTER = ("INFO mlflow", "Successfully registered model", "Created version", "Creating initial MLflow")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def registered(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Shop", "--domain", "shop.example")
    assert code == 0, err
    return "shop"


@pytest.fixture
def shop(registered: str) -> str:
    settings = get_settings()
    run_simulation(settings, "shop", days=10, visitors_per_day=250, seed=8)
    compact_all(settings)
    build_dataset(settings, "shop")
    return "shop"


def test_train_list_and_promote(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train", shop, "--json", "--no-baselines")
    assert code == 0, err
    first = json.loads(out)
    assert first["aliases"] == ["champion"] and first["metrics"]["roc_auc"] > 0.5 and first["baselines"] == {}
    assert first["registered"] is True and not any(line in err for line in MLFLOW_CHATTER), err

    code, out, err = run(capsys, "train", shop, "--no-baselines")  # the same data and hyperparameters again
    assert code == 0, err
    assert out == "the model is identical to the champion v1: not registered (use --register-anyway to register it)\n"

    code, out, err = run(capsys, "train", shop, "--trials", "2", "--register-anyway")  # its best may be v1's trees
    assert code == 0, err
    assert "(challenger)" in out and "2 trials: 2 complete (2 run now)" in out and "logistic_regression" in out
    study = f"xmo-shop-{first['dataset_id']}"
    lines = err.splitlines()  # stderr is no terminal here: one line per trial, no status lines
    assert lines[0] == f"tuning: new study {study}; running 2 trials", err
    assert [line.split(" complete")[0] for line in lines[1:3]] == ["tuning: trial 1/2", "tuning: trial 2/2"], err
    assert not any(line in err for line in MLFLOW_CHATTER), err

    code, out, _ = run(capsys, "models", shop, "--json")
    versions = json.loads(out)
    assert [v["version"] for v in versions] == ["2", "1"]
    assert versions[0]["aliases"] == ["challenger"] and versions[1]["aliases"] == ["champion"]
    assert "test_roc_auc" in versions[0]["metrics"]

    code, out, err = run(capsys, "train", shop, "--trials", "1", "--no-baselines")
    assert code == 0, err
    assert err.startswith(f"tuning: resumed study {study} with 2 trials: 2 complete; running 1 more trial\n"), err
    assert "3 trials: 3 complete (1 run now)" in out

    code, out, err = run(capsys, "promote", shop, "--version", "2")
    assert code in (0, 3)  # promoted, or refused by the gate: either way the reasons are printed
    assert out.count("  - ") >= 3 and ("promoted to champion" in out or "NOT promoted" in out)
    assert not any(line in out + err for line in MLFLOW_CHATTER), err
    code, out, _ = run(capsys, "promote", shop, "--version", "2", "--force", "--json")
    if code == 0:
        assert json.loads(out)["promoted"] is True
    else:  # the gate had already promoted version 2
        assert code == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "shop", "--trials", "0"], "--trials must be at least 1"),
        (["train", "shop", "--engine", "spark"], "unknown engine 'spark'"),
        (["train", "shop", "--dask-scheduler", "tcp://127.0.0.1:8786"], "--dask-scheduler needs --engine dask"),
        (["train", "shop", "--dataset", "../x"], "invalid dataset id"),
        (["train", "nobody"], "unknown client 'nobody'"),
        (["models", "shop"], "no registered models yet"),
        (["promote", "shop"], "no registered models yet"),
    ],
)
def test_bad_input_is_one_line(
    registered: str, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code, out, err = run(capsys, *arguments)
    assert code != 0 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err
